"""Signing in and out, landing on the right home, and the live connection behind it."""

from __future__ import annotations

from playwright.async_api import Page, expect

from teamtalk.models import Role
from tests.browser.conftest import Browsing, SocketWatch, at, fill_login, heading
from tests.conftest import PASSWORD, Harness


async def test_sign_in_reload_and_sign_out(harness: Harness, browsing: Browsing) -> None:
    agent = await harness.user(Role.AGENT, email="ada@example.com", display_name="Ada Agent")
    page = await browsing.page()

    await page.goto("/inbox")
    await expect(page).to_have_url(at("/login"))
    await fill_login(page, agent.email, "not the password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    await expect(page).to_have_url(at("/login"))

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(at("/inbox"))
    await heading(page, "Inbox")
    header = page.get_by_role("banner")
    await expect(header).to_contain_text("Ada Agent")
    await expect(header.get_by_text("Agent", exact=True)).to_be_visible()

    await page.reload()
    await heading(page, "Inbox")
    await expect(header).to_contain_text("Ada Agent")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(at("/login"))
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await page.goto("/inbox")
    await expect(page).to_have_url(at("/login"))


async def test_each_role_lands_on_its_home(harness: Harness, browsing: Browsing) -> None:
    homes = {Role.AGENT: "Inbox", Role.TEAMLEADER: "Workspace", Role.ADMIN: "Dashboard"}
    pages: dict[Role, Page] = {}
    for role, name in homes.items():
        page = await browsing.sign_in(await harness.user(role))
        await expect(page).to_have_url(at(f"/{name.lower()}"))
        await heading(page, name)
        pages[role] = page

    agent = pages[Role.AGENT]
    await agent.goto("/admin/users")
    await expect(agent).to_have_url(at("/inbox"))
    await heading(agent, "Inbox")
    await expect(agent.get_by_role("heading", name="Users")).to_have_count(0)

    await agent.goto("/no/such/page")
    await heading(agent, "Not found")


async def test_socket_connects_after_sign_in(harness: Harness, browsing: Browsing) -> None:
    leader = await harness.user(Role.TEAMLEADER)
    page = await browsing.page()
    sockets = SocketWatch(page)
    await page.goto("/login")
    await fill_login(page, leader.email, PASSWORD)
    await heading(page, "Workspace")
    await sockets.until(lambda: sockets.accepted == 1)
    reconnecting = page.get_by_role("status").filter(has_text="Reconnecting")
    await expect(reconnecting).to_have_count(0)

    # Dropped by the server while the session is still valid: the banner shows until the
    # client has checked the session and connected again.
    await harness.fastapi.state.realtime.disconnect_user(leader.id)
    await expect(reconnecting).to_be_visible()
    await sockets.until(lambda: sockets.accepted == 2)
    await expect(reconnecting).to_have_count(0)
    await expect(page).to_have_url(at("/workspace"))
