"""Writing after the reopen window: the UI says the conversation is closed and carries the
unsent text over to a new request."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import expect

from teamtalk.services import lifecycle
from teamtalk.worker import Worker
from tests.browser.conftest import Browsing, at
from tests.browser.test_chat_flow import chat, routed, solve
from tests.browser.test_routing_flow import CONVERSATION, topic
from tests.conftest import Backend, Harness, harness_with


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    """No reopen window: a solved conversation is closed to the agent's next message."""
    async with harness_with(backend, reopen_minutes=0) as h:
        yield h


@pytest.fixture
def no_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker runs without its sweep that closes expired conversations: the agent's own
    message is what meets the ended window (otherwise the sweep may close it first)."""

    async def nothing(*_: object, **__: object) -> int:
        return 0

    monkeypatch.setattr(lifecycle, "close_expired", nothing)


async def test_writing_in_a_closed_conversation_offers_a_new_request(
    harness: Harness, browsing: Browsing, no_sweep: None, worker: Worker
) -> None:
    await topic(harness, "Billing")
    leader, agent, _ = await routed(browsing, harness, "Card declined at checkout")
    await solve(leader)
    panel = agent.get_by_role("article", name=CONVERSATION)
    await expect(panel).to_contain_text("Solved")

    box = agent.get_by_role("form", name="Send a message").get_by_label("Message")
    await box.fill("It happened again today")
    await box.press("Enter")
    failed = chat(agent).get_by_test_id("outgoing-message")
    await expect(failed).to_contain_text("It happened again today")
    await expect(failed.get_by_role("alert")).to_contain_text("closed")
    # Retrying cannot help; a new request can.
    await expect(failed.get_by_role("button", name="Retry")).to_have_count(0)
    await failed.get_by_role("button", name="New request").click()

    await expect(agent).to_have_url(at("/inbox"))
    form = agent.get_by_role("form", name="New request")
    await expect(form.get_by_label("What do you need help with?")).to_have_value(
        "It happened again today"
    )
    await form.get_by_role("button", name="Send request").click()
    await expect(agent).to_have_url(re.compile(r"/inbox/\d+$"))
    await expect(chat(agent)).to_contain_text("It happened again today")
