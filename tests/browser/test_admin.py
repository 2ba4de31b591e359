"""An admin manages users and topics; a deactivated user's open page is signed out."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from teamtalk.models import Role
from tests.browser.conftest import SIZES, Browsing, SocketWatch, at, fill_login, heading
from tests.conftest import Harness


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_admin_creates_then_deactivates_a_leader(
    harness: Harness, browsing: Browsing, size: tuple[int, int]
) -> None:
    admin = await browsing.sign_in(
        await harness.user(Role.ADMIN, display_name="Ann Admin"), viewport=size
    )
    await admin.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    await expect(admin).to_have_url(at("/admin/users"))
    await heading(admin, "Users")

    form = admin.get_by_role("form", name="New user")
    await form.get_by_label("Name").fill("Lena Leader")
    await form.get_by_label("Email").fill("lena@example.com")
    await form.get_by_label("Role").select_option(label="Team leader")
    await form.get_by_label("Password").fill("lena's long password")
    await form.get_by_label("Capacity").fill("3")
    await form.get_by_role("button", name="Create user").click()
    deactivate = admin.get_by_role("button", name="Deactivate Lena Leader")
    await expect(deactivate).to_be_visible()
    await expect(form.get_by_label("Name")).to_have_value("")

    leader = await browsing.page()
    await leader.goto("/login")
    sockets = SocketWatch(leader)
    await fill_login(leader, "lena@example.com", "lena's long password")
    await expect(leader).to_have_url(at("/workspace"))
    await heading(leader, "Workspace")
    await expect(leader.get_by_role("banner")).to_contain_text("Lena Leader")
    await sockets.until(lambda: sockets.accepted == 1)

    row = admin.get_by_role("row").filter(
        has=admin.get_by_role("rowheader", name="Lena Leader", exact=True)
    )
    # Asked first; cancelling changes nothing.
    await deactivate.click()
    asked = admin.get_by_role("alertdialog", name="Deactivate Lena Leader?")
    await expect(asked).to_contain_text("Conversations they hold go back to the queue")
    await asked.get_by_role("button", name="Cancel").click()
    await expect(asked).to_be_hidden()
    await expect(row).to_contain_text("Active")
    await deactivate.click()
    await asked.get_by_role("button", name="Deactivate").click()
    await expect(row).to_contain_text("Inactive")
    await expect(deactivate).to_have_count(0)

    # The server ends the session and the socket; the page re-checks the session.
    await sockets.until(lambda: sockets.closed >= 1)
    await expect(leader).to_have_url(at("/login"))
    await expect(leader.get_by_role("button", name="Sign in")).to_be_visible()

    # Reactivated, she signs in again.
    await admin.get_by_role("button", name="Reactivate Lena Leader").click()
    await expect(row).not_to_contain_text("Inactive")
    await expect(deactivate).to_be_visible()
    await fill_login(leader, "lena@example.com", "lena's long password")
    await expect(leader).to_have_url(at("/workspace"))


async def test_admin_creates_renames_and_archives_a_topic(
    harness: Harness, browsing: Browsing
) -> None:
    admin = await browsing.sign_in(await harness.user(Role.ADMIN))
    await admin.goto("/admin/topics")
    await heading(admin, "Topics")

    form = admin.get_by_role("form", name="New topic")
    await form.get_by_label("Name").fill("Billing")
    await form.get_by_role("button", name="Add topic").click()
    await expect(admin.get_by_role("button", name="Rename Billing")).to_be_visible()
    await expect(form.get_by_label("Name")).to_have_value("")

    await admin.get_by_role("button", name="Rename Billing").click()
    await admin.get_by_label("New name for Billing").fill("Refunds")
    renaming = admin.get_by_role("form", name="Rename Billing")
    await renaming.get_by_role("button", name="Save").click()
    archive = admin.get_by_role("button", name="Archive Refunds")
    await expect(archive).to_be_visible()
    await expect(admin.get_by_role("rowheader", name="Billing", exact=True)).to_have_count(0)

    row = admin.get_by_role("row").filter(
        has=admin.get_by_role("rowheader", name="Refunds", exact=True)
    )
    await expect(row.get_by_role("cell", name="Active", exact=True)).to_be_visible()
    await archive.click()
    await expect(row.get_by_role("cell", name="Archived", exact=True)).to_be_visible()
    await expect(archive).to_have_count(0)

    await admin.reload()
    await expect(row.get_by_role("cell", name="Archived", exact=True)).to_be_visible()
    await expect(admin.get_by_role("button", name="Rename Refunds")).to_be_visible()

    # Restored, it is offered again; another case of its name is the same topic.
    await admin.get_by_role("button", name="Restore Refunds").click()
    await expect(row.get_by_role("cell", name="Active", exact=True)).to_be_visible()
    await form.get_by_label("Name").fill("refunds")
    await form.get_by_role("button", name="Add topic").click()
    await expect(admin.get_by_text("There is already a topic named Refunds.")).to_be_visible()
