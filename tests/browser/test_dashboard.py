"""The supervisor's live dashboard: the queue follows routing within a second, overrides
move work into the named leader's basket, and setting a leader offline asks first."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect

from teamtalk.models import Role, User
from teamtalk.worker import Worker
from tests.browser.conftest import SIZES, Browsing, at, heading, screenshot
from tests.browser.test_routing_flow import basket, set_status, status_radio
from tests.clients import request
from tests.conftest import Harness

LIVE_MS = 1_000  # how late the dashboard may be after a routing change
# `wait_for` watches the page itself; `expect` polls it, up to 1 s apart, too coarse here.


async def dashboard(browsing: Browsing, admin: User, size: tuple[int, int] | None = None) -> Page:
    page = await browsing.sign_in(admin, viewport=size)
    await expect(page).to_have_url(at("/dashboard"))
    await heading(page, "Dashboard")
    await expect(page.get_by_role("table", name="Team leaders")).to_be_visible()
    return page


async def online(browsing: Browsing, leader: User) -> Page:
    page = await browsing.sign_in(leader)
    await expect(status_radio(page, "Offline")).to_be_enabled()
    await set_status(page, "Online")
    return page


def queued(page: Page, conversation_id: int) -> Locator:
    return page.get_by_test_id(f"queued {conversation_id}")


def leader_row(page: Page, name: str) -> Locator:
    return page.get_by_test_id(f"leader {name}")


async def fits(page: Page, width: int) -> None:
    """Nothing sticks out of the window sideways: wide tables scroll in their own box."""
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= width


async def test_the_queue_follows_routing_live(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT, display_name="Ada Agent")
    lena = await harness.user(Role.TEAMLEADER, display_name="Lena", capacity=4)
    page = await dashboard(browsing, admin)
    await expect(page.get_by_text("Nobody is waiting.")).to_be_visible()

    cid = (await request(harness, agent))["conversation"]["id"]
    row = queued(page, cid)
    await row.wait_for(timeout=LIVE_MS)
    await expect(row).to_contain_text("Ada Agent")
    await expect(row).to_contain_text("Waiting")
    warning = page.get_by_role("alert", name="Warnings")
    await expect(warning).to_contain_text("no team leader online")
    # The wait ticks on the page's own clock, with no refetch.
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/api/monitoring" in r.url else None)
    waited = row.locator(".dash-wait")
    first = await waited.text_content()
    await expect(waited).not_to_have_text(first or "", timeout=2_500)
    assert fetched == []

    leader = await online(browsing, lena)
    await row.wait_for(state="hidden", timeout=LIVE_MS)
    await expect(warning).to_be_hidden()
    await expect(basket(leader)).to_contain_text("1 of 4")
    await expect(leader_row(page, "Lena")).to_contain_text("1 of 4")
    await expect(leader_row(page, "Lena")).to_contain_text("Online")


async def test_the_users_page_shows_each_leader_s_load_now(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT)
    lena = await harness.user(Role.TEAMLEADER, display_name="Lena", capacity=3)
    leader = await online(browsing, lena)
    await request(harness, agent)
    await expect(basket(leader)).to_contain_text("1 of 3")
    page = await dashboard(browsing, admin)
    await page.get_by_role("link", name="Users").click()
    await heading(page, "Users")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Lena"))
    await expect(row).to_contain_text("Online · 1 of 3")
    await set_status(leader, "Away")
    await expect(row).to_contain_text("Away · 1 of 3")
    admin_row = page.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=admin.display_name)
    )
    await expect(admin_row.get_by_role("cell", name="Not applicable")).to_have_count(2)


async def test_assign_to_a_named_leader_fills_their_basket(
    harness: Harness, browsing: Browsing
) -> None:
    # No worker runs: the request waits until the supervisor assigns it.
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT, display_name="Ada Agent")
    await harness.user(Role.TEAMLEADER, display_name="Kim")  # offline: not offered
    lena = await harness.user(Role.TEAMLEADER, display_name="Lena", capacity=3)
    leader = await online(browsing, lena)
    page = await dashboard(browsing, admin)
    cid = (await request(harness, agent))["conversation"]["id"]
    row = queued(page, cid)
    await expect(row).to_be_visible()

    choice = row.get_by_label(f"Assign #{cid} of Ada Agent to")
    await expect(choice.locator("option")).to_have_text(["Assign to…", "Lena (3 free)"])
    await choice.select_option(label="Lena (3 free)")
    await row.get_by_role("button", name="Assign", exact=True).click()
    await expect(row).to_be_hidden()
    await expect(basket(leader)).to_contain_text("1 of 3")
    await expect(basket(leader)).to_contain_text("Ada Agent")
    held = page.get_by_role("list", name="Held by Lena")
    await expect(held).to_contain_text(f"#{cid} of Ada Agent")
    await screenshot(page, "dashboard-assigned")


async def test_take_back_moves_a_conversation_to_another_leader(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT, display_name="Ada Agent")
    lena = await harness.user(Role.TEAMLEADER, display_name="Lena", capacity=1)
    max_ = await harness.user(Role.TEAMLEADER, display_name="Max", capacity=2)
    lena_page = await online(browsing, lena)
    cid = (await request(harness, agent))["conversation"]["id"]
    await expect(basket(lena_page)).to_contain_text("1 of 1")
    max_page = await online(browsing, max_)
    page = await dashboard(browsing, admin)

    take = page.get_by_role("form", name=f"Take back #{cid} of Ada Agent from Lena")
    await take.get_by_label(f"Take #{cid} of Ada Agent to").select_option(label="To Max (2 free)")
    await take.get_by_role("button", name="Take back").click()
    await expect(basket(max_page)).to_contain_text("1 of 2")
    await expect(basket(max_page)).to_contain_text("Ada Agent")
    await expect(basket(lena_page)).to_contain_text("0 of 1")
    await expect(page.get_by_role("list", name="Held by Max")).to_contain_text(f"#{cid}")
    await expect(page.get_by_role("list", name="Held by Lena")).to_be_hidden()


async def test_setting_a_leader_offline_asks_first(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT, display_name="Ada Agent")
    lena = await harness.user(Role.TEAMLEADER, display_name="Lena", capacity=2)
    leader = await online(browsing, lena)
    cid = (await request(harness, agent))["conversation"]["id"]
    await expect(basket(leader)).to_contain_text("1 of 2")
    page = await dashboard(browsing, admin)
    row = leader_row(page, "Lena")
    await expect(row).to_contain_text("1 of 2")

    await row.get_by_role("button", name="Set Lena offline").click()
    dialog = page.get_by_role("alertdialog", name="Set Lena offline?")
    await expect(dialog).to_contain_text("The 1 conversation they hold go back")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(row).to_contain_text("Online")
    await expect(status_radio(leader, "Online")).to_be_checked()

    await row.get_by_role("button", name="Set Lena offline").click()
    await dialog.get_by_role("button", name="Set offline").click()
    await expect(row).to_contain_text("Offline")
    await expect(status_radio(leader, "Offline")).to_be_checked()
    await expect(basket(leader)).not_to_contain_text("Ada Agent")
    # Back at the head of the queue, with no leader online to take it.
    await expect(queued(page, cid)).to_be_visible()
    await expect(page.get_by_role("alert", name="Warnings")).to_contain_text(
        "no team leader online"
    )


async def test_the_dashboard_fits_a_laptop_and_a_tablet(
    harness: Harness, browsing: Browsing
) -> None:
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user(Role.AGENT, display_name="Ada Agent")
    await harness.user(Role.TEAMLEADER, display_name="Lena")
    for _ in range(3):
        await request(harness, agent)
    for name, size in SIZES.items():
        page = await dashboard(browsing, admin, size)
        await expect(page.get_by_role("table", name="Queue").get_by_role("row")).to_have_count(4)
        await expect(page.get_by_role("figure", name="Throughput, last hour")).to_be_visible()
        await expect(page.get_by_role("figure", name="Wait time, last hour")).to_be_visible()
        await screenshot(page, f"dashboard-{name}")
        await fits(page, size[0])
        await page.get_by_role("figure", name="Wait time, last hour").scroll_into_view_if_needed()
        await screenshot(page, f"dashboard-{name}-charts")
