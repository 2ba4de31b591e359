"""Routing through the UI: an agent's request reaches a leader's basket live, and back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Locator, Page, expect

from teamtalk.models import Role
from teamtalk.services.topics import create_topic
from teamtalk.worker import Worker
from tests.browser.conftest import Browsing, at, heading
from tests.conftest import Backend, Harness, harness_with

CONVERSATION = re.compile(r"Conversation #\d+")


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    """Three status changes a minute, so that the fourth shows the refusal."""
    async with harness_with(backend, status_changes_per_minute=3) as h:
        yield h


async def topic(harness: Harness, name: str) -> None:
    async with harness.resources.sessions() as db:
        await create_topic(db, name)


async def workspace(browsing: Browsing, harness: Harness) -> Page:
    page = await browsing.sign_in(await harness.user(Role.TEAMLEADER, capacity=4))
    await expect(page).to_have_url(at("/workspace"))
    await heading(page, "Workspace")
    # The server tells a new tab its status; until then the choices are disabled.
    await expect(status_radio(page, "Offline")).to_be_checked()
    await expect(status_radio(page, "Offline")).to_be_enabled()
    return page


def status_radio(page: Page, name: str) -> Locator:
    return page.get_by_role("group", name="Status").get_by_role("radio", name=name, exact=True)


async def set_status(page: Page, name: str) -> None:
    await status_radio(page, name).check()
    # Enabled again once the server has acknowledged it.
    await expect(status_radio(page, name)).to_be_enabled()
    await expect(status_radio(page, name)).to_be_checked()


async def send_request(page: Page, message: str, topic: str | None = None, link: str = "") -> None:
    form = page.get_by_role("form", name="New request")
    await form.get_by_label("What do you need help with?").fill(message)
    if topic:
        await form.get_by_label("Topic").select_option(label=topic)
    await form.get_by_label("Ticket link").fill(link)
    await form.get_by_role("button", name="Send request").click()
    # The new request opens as a conversation, its first message in the chat.
    await expect(page).to_have_url(re.compile(r"/inbox/\d+$"))
    await expect(page.get_by_role("log", name="Messages")).to_contain_text(message)


def basket(page: Page) -> Locator:
    return page.get_by_role("region", name="Your conversations")


def request_row(page: Page) -> Locator:
    return page.get_by_role("list", name="Your requests").get_by_role("listitem")


async def test_a_request_is_routed_live_then_solved(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    await topic(harness, "Billing")
    await topic(harness, "Refunds")
    leader = await workspace(browsing, harness)
    await set_status(leader, "Online")
    await expect(basket(leader)).to_contain_text("0 of 4")

    agent = await browsing.sign_in(await harness.user(Role.AGENT))
    await heading(agent, "Inbox")
    ticket = "https://crm.example.com/tickets/42"
    await send_request(agent, "Customer was charged twice", topic="Billing", link=ticket)

    # No reload: the assignment arrives over the socket.
    item = basket(leader).get_by_role("link", name=CONVERSATION)
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("New")
    await expect(item).to_contain_text("Billing")
    await expect(basket(leader)).to_contain_text("1 of 4")
    await expect(request_row(agent)).to_have_count(1)
    await expect(request_row(agent)).to_contain_text("With a team leader")
    await expect(request_row(agent)).to_contain_text("Billing")

    await item.click()
    await expect(leader).to_have_url(re.compile(r"/workspace/\d+$"))
    panel = leader.get_by_role("article", name=CONVERSATION)
    await expect(panel).to_contain_text("With a team leader")
    link = panel.get_by_role("link", name=ticket)
    await expect(link).to_have_attribute("href", ticket)
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(item).not_to_contain_text("New")

    submit = leader.get_by_role("form", name="Submit as")
    await submit.get_by_label("Status").select_option(label="Solved")
    await submit.get_by_label("Topic").select_option(label="Refunds")
    await submit.get_by_role("button", name="Submit").click()
    await expect(
        leader.get_by_role("status").filter(has_text="submitted as solved")
    ).to_be_visible()
    await expect(item).to_have_count(0)
    await expect(basket(leader)).to_contain_text("0 of 4")
    await expect(leader).to_have_url(at("/workspace"))

    await expect(request_row(agent)).to_contain_text("Solved")
    await expect(request_row(agent)).to_contain_text("Refunds")


async def test_a_request_waits_while_the_leader_is_away(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    leader = await workspace(browsing, harness)
    await set_status(leader, "Away")

    agent = await browsing.sign_in(await harness.user(Role.AGENT))
    await send_request(agent, "Where is the refund form?")
    await expect(request_row(agent)).to_contain_text("Waiting")
    await expect(request_row(agent)).to_contain_text("Position 1 in the queue")
    await expect(basket(leader)).to_contain_text("0 of 4")

    await set_status(leader, "Online")
    await expect(basket(leader).get_by_role("link", name=CONVERSATION)).to_have_count(1)
    await expect(basket(leader)).to_contain_text("1 of 4")
    await expect(request_row(agent)).to_contain_text("With a team leader")
    await expect(request_row(agent)).not_to_contain_text("in the queue")


async def test_a_leaders_tabs_share_one_status(harness: Harness, browsing: Browsing) -> None:
    first = await workspace(browsing, harness)
    second = await first.context.new_page()
    await second.goto("/workspace")
    await expect(status_radio(second, "Offline")).to_be_checked()

    await set_status(first, "Online")
    await expect(status_radio(second, "Online")).to_be_checked()
    await set_status(second, "Away")
    await expect(status_radio(first, "Away")).to_be_checked()
    await set_status(first, "Offline")
    await expect(status_radio(second, "Offline")).to_be_checked()

    # The fourth change within a minute is refused; both tabs keep the status they had.
    await status_radio(second, "Online").click()
    await expect(second.get_by_role("alert")).to_contain_text("Too many status changes")
    await expect(status_radio(second, "Offline")).to_be_checked()
    await expect(status_radio(second, "Online")).to_be_enabled()
    await expect(status_radio(first, "Offline")).to_be_checked()
