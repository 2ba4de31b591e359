"""A transfer's reason and a wrap-up note in the UI: both sides see them in the chat, the
history shows the note, and the basket previews what was asked, not a system line."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, expect

from teamtalk.models import Role
from teamtalk.worker import Worker
from tests.browser.conftest import SIZES, Browsing, heading, screenshot, size_name
from tests.browser.test_chat_flow import chat, message, nav, solve
from tests.browser.test_routing_flow import CONVERSATION, basket, send_request, set_status, topic
from tests.conftest import Harness

REQUEST = "Customer was charged twice for order 881"
REASON = "customer needs billing"
TRANSFERRED = f"Ann Leader transferred this conversation to Ben Leader. Reason: {REASON}"
NOTE = "Refund issued for the second charge"


async def leader(browsing: Browsing, harness: Harness, name: str, size: tuple[int, int]) -> Page:
    page = await browsing.sign_in(
        await harness.user(Role.TEAMLEADER, display_name=name), viewport=size
    )
    await heading(page, "Workspace")
    await set_status(page, "Online")
    return page


def system_line(page: Page, text: str) -> Locator:
    return chat(page).get_by_test_id("system-message").filter(has_text=text)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_a_transfer_reason_and_a_wrap_up_note_are_shown_to_both_sides(
    harness: Harness, browsing: Browsing, worker: Worker, size: tuple[int, int]
) -> None:
    await topic(harness, "Billing")
    ann = await leader(browsing, harness, "Ann Leader", size)
    agent_user = await harness.user(Role.AGENT, display_name="Alice Agent")
    agent = await browsing.sign_in(agent_user, viewport=size)
    await heading(agent, "Inbox")
    await send_request(agent, REQUEST)
    held = basket(ann).get_by_role("link", name=CONVERSATION)
    await expect(held).to_have_count(1)
    # The preview is the agent's question, not "Assigned to Ann Leader."
    await expect(held).to_contain_text(REQUEST)
    await expect(held).not_to_contain_text("Assigned to")
    await held.click()
    await expect(message(ann, REQUEST)).to_be_visible()
    ben = await leader(browsing, harness, "Ben Leader", size)

    await ann.get_by_role("button", name="Transfer…").click()
    dialog = ann.get_by_role("dialog", name=re.compile("Transfer conversation"))
    await dialog.get_by_role("radio", name=re.compile("Ben Leader")).check()
    await dialog.get_by_label("Reason (optional)").fill(REASON)
    await dialog.get_by_role("button", name="Transfer", exact=True).click()
    await expect(dialog).to_be_hidden()

    # Ben's basket: the question as preview, one unread (the system lines are not counted).
    given = basket(ben).get_by_role("link", name=CONVERSATION)
    await expect(given).to_have_count(1)
    await expect(given).to_contain_text(REQUEST)
    await expect(given.get_by_test_id("unread")).to_have_text("1 unread")
    await screenshot(ben, f"transfer-reason-basket-{size_name(size)}")
    await given.click()
    await expect(system_line(ben, TRANSFERRED)).to_be_visible()
    await screenshot(ben, f"transfer-reason-receiving-leader-{size_name(size)}")
    await expect(system_line(agent, TRANSFERRED)).to_be_visible()

    submit = ben.get_by_role("form", name="Submit as")
    await submit.get_by_label("Wrap-up note (optional)").fill(f"  {NOTE}  ")
    await solve(ben)
    wrapped = f"Ben Leader marked this conversation as solved. Wrap-up note: {NOTE}"
    await expect(system_line(agent, wrapped)).to_be_visible()
    await screenshot(agent, f"wrap-up-note-agent-{size_name(size)}")

    await nav(ben, "History")
    await heading(ben, "History")
    row = ben.get_by_role("table", name="Conversations").get_by_role("row").filter(has_text=REQUEST)
    await expect(row).to_contain_text(f"Wrap-up note: {NOTE}")
    await screenshot(ben, f"wrap-up-note-history-{size_name(size)}")
    await row.get_by_role("link").click()
    await expect(system_line(ben, wrapped)).to_be_visible()
    await expect(system_line(ben, TRANSFERRED)).to_be_visible()
