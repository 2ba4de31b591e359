"""What a support floor notices first: the box to write in is always in view, a draft
survives switching and reloading, and nothing hands held work back without asking."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from teamtalk.models import Role
from teamtalk.worker import Worker
from tests.browser.conftest import SIZES as FLOOR
from tests.browser.conftest import Browsing, at, screenshot, size_name
from tests.browser.test_routing_flow import basket, send_request, set_status, status_radio
from tests.conftest import Harness

CONVERSATION = re.compile(r"Conversation #\d+")
SIZES = {"laptop": (1280, 800), "small-laptop": (1024, 768), "tablet": (768, 1024)}


async def in_view(page: Page, width: int, height: int) -> None:
    """The message box lies inside the window, and the page itself does not scroll."""
    box = await page.get_by_role("textbox", name="Message").bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    scroll_height = await page.evaluate("document.scrollingElement.scrollHeight")
    assert scroll_height <= height


async def held_conversation(
    harness: Harness, browsing: Browsing, size: tuple[int, int] | None = None
) -> tuple[Page, Page]:
    """A leader online with the agent's request open on both screens."""
    leader = await browsing.sign_in(await harness.user(Role.TEAMLEADER), viewport=size)
    await expect(status_radio(leader, "Offline")).to_be_enabled()
    await set_status(leader, "Online")
    agent = await browsing.sign_in(await harness.user(Role.AGENT), viewport=size)
    await send_request(agent, "Customer was charged twice")
    item = basket(leader).get_by_role("link", name=CONVERSATION)
    await item.click()
    await expect(leader).to_have_url(re.compile(r"/workspace/\d+$"))
    return leader, agent


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_the_message_box_is_always_in_view(
    harness: Harness, browsing: Browsing, worker: Worker, size: tuple[int, int]
) -> None:
    leader, agent = await held_conversation(harness, browsing, size)
    for who, page in (("leader", leader), ("agent", agent)):
        for n in range(12):  # a conversation longer than the window
            await page.get_by_role("textbox", name="Message").fill(f"{who} line {n}")
            await page.keyboard.press("Enter")
        await expect(page.get_by_role("log", name="Messages")).to_contain_text(f"{who} line 11")
    for who, page in (("leader", leader), ("agent", agent)):
        await screenshot(page, f"floor-{who}-{size[0]}x{size[1]}")
        await in_view(page, *size)


@pytest.mark.parametrize("size", FLOOR.values(), ids=FLOOR.keys())
async def test_a_draft_survives_switching_and_reloading(
    harness: Harness, browsing: Browsing, worker: Worker, size: tuple[int, int]
) -> None:
    leader, _ = await held_conversation(harness, browsing, size)
    box = leader.get_by_role("textbox", name="Message")
    await box.fill("Let me check the refund for")
    await leader.get_by_role("link", name="Workspace").click()
    await expect(leader).to_have_url(at("/workspace"))
    await basket(leader).get_by_role("link", name=CONVERSATION).click()
    await expect(box).to_have_value("Let me check the refund for")
    await leader.reload()
    await expect(box).to_have_value("Let me check the refund for")
    await box.press("Enter")  # sent: the draft goes
    await leader.reload()
    await expect(box).to_have_value("")


@pytest.mark.parametrize("size", FLOOR.values(), ids=FLOOR.keys())
async def test_going_offline_or_signing_out_with_held_work_asks_first(
    harness: Harness, browsing: Browsing, worker: Worker, size: tuple[int, int]
) -> None:
    leader, _ = await held_conversation(harness, browsing, size)
    await status_radio(leader, "Offline").click()  # asks first: it stays unchecked
    dialog = leader.get_by_role("alertdialog", name="Go offline?")
    await expect(dialog).to_contain_text("Your conversation goes back to the queue")
    await screenshot(leader, f"floor-confirm-offline-{size_name(size)}")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(status_radio(leader, "Online")).to_be_checked()
    await expect(basket(leader).get_by_role("link", name=CONVERSATION)).to_have_count(1)

    await leader.get_by_role("button", name="Sign out").click()
    dialog = leader.get_by_role("alertdialog", name="Sign out?")
    await expect(dialog).to_be_visible()
    await leader.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(leader.get_by_role("button", name="Sign out")).to_be_visible()

    await status_radio(leader, "Offline").click()  # asks first: it stays unchecked
    await (
        leader.get_by_role("alertdialog", name="Go offline?")
        .get_by_role("button", name="Go offline")
        .click()
    )
    await expect(status_radio(leader, "Offline")).to_be_checked()
    await expect(basket(leader).get_by_role("link", name=CONVERSATION)).to_have_count(0)
