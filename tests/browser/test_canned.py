"""Canned responses: an admin writes one, a leader inserts it with `/` and sends it."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from teamtalk.models import Role
from teamtalk.worker import Worker
from tests.browser.conftest import SIZES, Browsing, at, heading, screenshot
from tests.browser.test_chat_flow import message, nav, routed
from tests.browser.test_routing_flow import topic
from tests.conftest import Harness

GREETING = "Hello! I am looking at your case now and will be back within five minutes."


@pytest.mark.parametrize("size", SIZES)
async def test_a_canned_response_is_inserted_with_slash(
    harness: Harness, browsing: Browsing, worker: Worker, size: str
) -> None:
    width, height = SIZES[size]
    admin = await browsing.sign_in(await harness.user(Role.ADMIN), viewport=(width, height))
    await nav(admin, "Canned responses")
    await expect(admin).to_have_url(at("/admin/canned"))
    await heading(admin, "Canned responses")
    form = admin.get_by_role("form", name="New canned response")
    await form.get_by_label("Title").fill("Greeting")
    await form.get_by_label("Text").fill(GREETING)
    await form.get_by_role("button", name="Add canned response").click()
    await expect(admin.get_by_role("rowheader", name="Greeting", exact=True)).to_be_visible()
    await expect(form.get_by_label("Title")).to_have_value("")
    await screenshot(admin, f"canned-admin-{size}")

    leader, agent, _ = await routed(browsing, harness, "Customer asks about an invoice")
    await leader.set_viewport_size({"width": width, "height": height})
    box = leader.get_by_role("form", name="Send a message").get_by_label("Message")
    await box.press_sequentially("/gre")
    picker = leader.get_by_role("listbox", name="Canned responses")
    option = picker.get_by_role("option", name="Greeting")
    await expect(option).to_be_visible()
    await expect(option).to_have_attribute("aria-selected", "true")
    option_id = await option.get_attribute("id")
    await expect(box).to_have_attribute("aria-activedescendant", option_id or "")
    await screenshot(leader, f"canned-picker-{size}")

    # Escape closes it and leaves the text; typing on opens it again.
    await box.press("Escape")
    await expect(picker).to_be_hidden()
    await expect(box).to_have_value("/gre")
    await box.press_sequentially("e")
    await expect(option).to_be_visible()

    await box.press("Enter")
    await expect(picker).to_be_hidden()
    await expect(box).to_have_value(GREETING)
    await screenshot(leader, f"canned-inserted-{size}")
    await box.press("Enter")
    await expect(box).to_have_value("")
    await expect(message(agent, GREETING)).to_be_visible()


async def test_agents_get_no_picker(harness: Harness, browsing: Browsing, worker: Worker) -> None:
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        made = await client.post("/api/canned", json={"title": "Greeting", "body": GREETING})
        assert made.status_code == 201
    _, agent, _ = await routed(browsing, harness, "Customer asks about an invoice")
    box = agent.get_by_role("form", name="Send a message").get_by_label("Message")
    await box.press_sequentially("/gre")
    await expect(agent.get_by_role("listbox")).to_have_count(0)
    await box.press("Enter")
    await expect(message(agent, "/gre")).to_be_visible()


async def test_admin_edits_and_deletes_a_canned_response(
    harness: Harness, browsing: Browsing
) -> None:
    await topic(harness, "Billing")
    admin = await browsing.sign_in(await harness.user(Role.ADMIN))
    await admin.goto("/admin/canned")
    await heading(admin, "Canned responses")
    form = admin.get_by_role("form", name="New canned response")
    await form.get_by_label("Title").fill("Invoice copy")
    await form.get_by_label("Topic").select_option(label="Billing")
    await form.get_by_label("Text").fill("A copy of the invoice is attached.")
    await form.get_by_role("button", name="Add canned response").click()
    row = admin.get_by_role("row").filter(
        has=admin.get_by_role("rowheader", name="Invoice copy", exact=True)
    )
    await expect(row).to_contain_text("Billing")

    # A second one with the same title, but for case, is refused and the form keeps it.
    await form.get_by_label("Title").fill("INVOICE COPY")
    await form.get_by_label("Text").fill("Another text.")
    await form.get_by_role("button", name="Add canned response").click()
    await expect(form.get_by_role("alert")).to_contain_text(
        "There is already a canned response titled Invoice copy."
    )
    await expect(form.get_by_label("Title")).to_have_value("INVOICE COPY")
    await form.get_by_label("Title").fill("")
    await form.get_by_label("Text").fill("")

    await admin.get_by_role("button", name="Edit Invoice copy").click()
    editing = admin.get_by_role("form", name="Edit Invoice copy")
    await expect(editing.get_by_label("Text")).to_have_value("A copy of the invoice is attached.")
    await editing.get_by_label("Title").fill("Invoice")
    await editing.get_by_label("Topic").select_option(label="Any topic")
    await editing.get_by_role("button", name="Save").click()
    row = admin.get_by_role("row").filter(
        has=admin.get_by_role("rowheader", name="Invoice", exact=True)
    )
    await expect(row).to_contain_text("Any topic")
    await expect(admin.get_by_role("form", name="New canned response")).to_be_visible()

    # Asked first; cancelling keeps it.
    await admin.get_by_role("button", name="Delete Invoice").click()
    asked = admin.get_by_role("alertdialog", name="Delete Invoice?")
    await asked.get_by_role("button", name="Cancel").click()
    await expect(asked).to_be_hidden()
    await expect(row).to_be_visible()
    await admin.get_by_role("button", name="Delete Invoice").click()
    await asked.get_by_role("button", name="Delete").click()
    await expect(row).to_have_count(0)
    await expect(admin.get_by_text("No canned responses yet.")).to_be_visible()
