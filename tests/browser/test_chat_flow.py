"""Conversations end to end in the UI: chat both ways, transfer, withdraw, history search."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Dialog, Locator, Page, expect

from teamtalk.models import Role, User
from teamtalk.worker import Worker
from tests.browser.conftest import Browsing, at, heading
from tests.browser.test_routing_flow import (
    CONVERSATION,
    basket,
    request_row,
    send_request,
    set_status,
    topic,
    workspace,
)
from tests.conftest import PASSWORD, Harness


def chat(page: Page) -> Locator:
    return page.get_by_role("log", name="Messages")


def message(page: Page, text: str) -> Locator:
    return chat(page).get_by_test_id("message").filter(has_text=text)


async def nav(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


async def write(page: Page, text: str) -> None:
    """Types into the message box and sends with Enter, as a user would."""
    box = page.get_by_role("form", name="Send a message").get_by_label("Message")
    await box.fill(text)
    await box.press("Enter")
    await expect(box).to_have_value("")


async def routed(browsing: Browsing, harness: Harness, text: str) -> tuple[Page, Page, User]:
    """An online leader and an agent whose request `text` the leader has opened."""
    leader = await workspace(browsing, harness)
    await set_status(leader, "Online")
    alice = await harness.user(Role.AGENT, display_name="Alice Agent")
    agent = await browsing.sign_in(alice)
    await heading(agent, "Inbox")
    await send_request(agent, text)
    item = basket(leader).get_by_role("link", name=CONVERSATION)
    await expect(item).to_have_count(1)
    await item.click()
    await expect(message(leader, text)).to_be_visible()
    return leader, agent, alice


async def test_agent_and_leader_chat_both_ways(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    leader, agent, _ = await routed(browsing, harness, "Customer cannot log in")
    # The assignment shows in the agent's chat as a system message.
    await expect(chat(agent).get_by_test_id("system-message").first).to_be_visible()

    await write(leader, "Hello, looking into it now")
    await expect(message(agent, "Hello, looking into it now")).to_be_visible()
    await expect(message(leader, "Hello, looking into it now")).to_contain_text("You")

    # Typing shows on the other side; Shift+Enter makes a new line instead of sending.
    box = agent.get_by_role("form", name="Send a message").get_by_label("Message")
    await box.press_sequentially("Their account is")
    await expect(leader.get_by_text("Alice Agent is typing…")).to_be_visible()
    await box.press("Shift+Enter")
    await box.press_sequentially("locked, see https://crm.example.com/t/7.")
    await expect(box).to_have_value("Their account is\nlocked, see https://crm.example.com/t/7.")
    await box.press("Enter")
    reply = message(leader, "locked, see")
    await expect(reply).to_be_visible()
    await expect(leader.get_by_text("Alice Agent is typing…")).to_have_count(0)
    link = reply.get_by_role("link", name="https://crm.example.com/t/7")
    await expect(link).to_have_attribute("href", "https://crm.example.com/t/7")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    assert "\n" in await reply.locator(".message-text").inner_text()

    # Markup in a message is shown as text, never run.
    await write(agent, "<b>bold</b> <img src=x onerror=alert(1)>")
    shown = message(leader, "<b>bold</b>")
    await expect(shown).to_be_visible()
    await expect(shown.locator("b, img")).to_have_count(0)

    # Unread: read while open; away from it, the leader's basket counts the agent's messages.
    item = basket(leader).get_by_role("link", name=CONVERSATION)
    await expect(item.get_by_test_id("unread")).to_have_count(0)
    await nav(leader, "Workspace")
    await expect(leader).to_have_url(at("/workspace"))
    await write(agent, "Any news?")
    await expect(item.get_by_test_id("unread")).to_have_text("1 unread")
    await expect(item).to_contain_text("Any news?")
    await item.click()
    await expect(message(leader, "Any news?")).to_be_visible()
    await expect(item.get_by_test_id("unread")).to_have_count(0)

    # Each message is shown once on each side, however it arrived.
    await expect(message(agent, "Hello, looking into it now")).to_have_count(1)
    await expect(message(leader, "Any news?")).to_have_count(1)


async def test_leader_transfers_and_then_reads_only(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    await topic(harness, "Refunds")
    first, agent, _ = await routed(browsing, harness, "Refund for order 881")
    second_user = await harness.user(Role.TEAMLEADER, display_name="Bob Leader")
    second = await browsing.sign_in(second_user)
    await heading(second, "Workspace")
    await set_status(second, "Online")

    await write(first, "Passing you to Bob, he handles refunds")
    await first.get_by_role("button", name="Transfer…").click()
    dialog = first.get_by_role("dialog", name=re.compile("Transfer conversation"))
    await dialog.get_by_role("radio", name=re.compile("Bob Leader")).check()
    await dialog.get_by_label("Reason (optional)").fill("refunds")
    await dialog.get_by_role("button", name="Transfer", exact=True).click()
    await expect(dialog).to_be_hidden()
    await expect(
        first.get_by_role("status").filter(has_text="transferred to Bob Leader")
    ).to_be_visible()
    await expect(first).to_have_url(at("/workspace"))
    await expect(basket(first).get_by_role("link", name=CONVERSATION)).to_have_count(0)

    # Bob has it live, with everything said before.
    item = basket(second).get_by_role("link", name=CONVERSATION)
    await expect(item).to_have_count(1)
    await item.click()
    await expect(message(second, "Passing you to Bob")).to_be_visible()
    await write(second, "Hi, Bob here")
    await expect(message(agent, "Hi, Bob here")).to_be_visible()
    await expect(agent.get_by_role("article", name=CONVERSATION)).to_contain_text("Bob Leader")

    # The first leader may still read it by its address, but no longer write.
    conversation_url = re.sub(r"^.*/workspace/", "/conversations/", second.url)
    await first.goto(conversation_url)
    await expect(message(first, "Hi, Bob here")).to_be_visible()
    await expect(first.get_by_role("form", name="Send a message")).to_have_count(0)
    await expect(first.get_by_text("only its agent and its team leader write")).to_be_visible()

    # Bob solves it; the agent writes again and it goes back to the queue.
    submit = second.get_by_role("form", name="Submit as")
    await submit.get_by_label("Status").select_option(label="Pending")
    await submit.get_by_label("Topic").select_option(label="Refunds")
    await submit.get_by_role("button", name="Submit").click()
    await expect(
        second.get_by_role("status").filter(has_text="submitted as pending")
    ).to_be_visible()
    await expect(agent.get_by_role("article", name=CONVERSATION)).to_contain_text("Pending")
    await expect(agent.get_by_text("Writing a message sends it back to the queue")).to_be_visible()
    await write(agent, "One more question")
    await expect(basket(second).get_by_role("link", name=CONVERSATION)).to_have_count(1)
    await expect(request_row(agent)).to_contain_text("With a team leader")


async def test_agent_withdraws_a_waiting_request(harness: Harness, browsing: Browsing) -> None:
    agent = await browsing.sign_in(await harness.user(Role.AGENT))
    await send_request(agent, "Nobody is online yet")
    panel = agent.get_by_role("article", name=CONVERSATION)
    await expect(panel).to_contain_text("Position 1 in the queue")
    await write(agent, "Adding details while I wait")
    await expect(message(agent, "Adding details while I wait")).to_be_visible()

    async def confirm(dialog: Dialog) -> None:
        await dialog.accept()

    agent.once("dialog", confirm)
    await panel.get_by_role("button", name="Withdraw request").click()
    await expect(panel).to_contain_text("Withdrawn")
    await expect(agent.get_by_role("form", name="Send a message")).to_have_count(0)
    await expect(request_row(agent)).to_contain_text("Withdrawn")
    await panel.get_by_role("button", name="New request").click()
    await expect(agent).to_have_url(at("/inbox"))
    await expect(agent.get_by_role("form", name="New request")).to_be_visible()


async def hit_setup(browsing: Browsing, agent: User) -> int:
    """A conversation whose first message holds a rare word, under 60 later ones (made over
    the live server's HTTP API, as a browser would)."""
    url = browsing.live.url
    async with httpx.AsyncClient(base_url=url, headers={"Origin": url}) as client:
        login = {"email": agent.email, "password": PASSWORD}
        assert (await client.post("/api/auth/login", json=login)).status_code == 200
        response = await client.post(
            "/api/conversations", json={"message": "The flux capacitor warranty expired"}
        )
        assert response.status_code == 201, response.text
        conversation_id: int = response.json()["conversation"]["id"]
        for n in range(60):
            response = await client.post(
                f"/api/conversations/{conversation_id}/messages",
                json={"client_id": f"filler-{n}", "body": f"Filler message {n}"},
            )
            assert response.status_code == 201, response.text
    return conversation_id


async def test_history_search_opens_the_conversation_at_the_hit(
    harness: Harness, browsing: Browsing
) -> None:
    agent = await harness.user(Role.AGENT, display_name="Carol Agent")
    conversation_id = await hit_setup(browsing, agent)
    admin = await browsing.sign_in(await harness.user(Role.ADMIN))
    await nav(admin, "History")
    await heading(admin, "History")
    table = admin.get_by_role("table", name="Conversations")
    await expect(table.get_by_role("link", name=f"#{conversation_id}")).to_be_visible()
    await expect(table).to_contain_text("Carol Agent")
    filters = admin.get_by_role("form", name="Filters")
    await filters.get_by_label("Agent").select_option(label="Carol Agent")
    await expect(admin).to_have_url(re.compile(r"agent=\d+"))
    await expect(table.get_by_role("link", name=f"#{conversation_id}")).to_be_visible()
    # The box follows the URL, which React Router updates in a transition: clicked, it is
    # checked once the page has rendered the new filter (`check()` looks at once).
    solved = filters.get_by_role("checkbox", name="Solved")
    await solved.click()
    await expect(solved).to_be_checked()
    await expect(admin.get_by_text("No conversations match these filters.")).to_be_visible()
    await filters.get_by_role("button", name="Clear filters").click()
    await expect(table.get_by_role("link", name=f"#{conversation_id}")).to_be_visible()

    search = admin.get_by_role("search", name="Search messages")
    await search.get_by_role("searchbox").fill("capacitor")
    await search.get_by_role("searchbox").press("Enter")
    hits = admin.get_by_role("list", name="Search results").get_by_role("link")
    await expect(hits).to_have_count(1)
    await expect(hits).to_contain_text(f"Conversation #{conversation_id}")
    await expect(hits.locator("mark")).to_have_text(re.compile("capacitor", re.I))

    await hits.click()
    await expect(admin).to_have_url(re.compile(rf"/conversations/{conversation_id}\?seq=1$"))
    hit = chat(admin).locator('[aria-current="true"]')
    await expect(hit).to_contain_text("flux capacitor")
    await expect(hit).to_be_in_viewport()
    # The page around the hit: the newest messages are a click away.
    await expect(message(admin, "Filler message 59")).to_have_count(0)
    await admin.get_by_role("button", name="Load newer messages").click()
    await expect(message(admin, "Filler message 59")).to_be_visible()


async def test_agent_searches_own_requests_and_pages_back(
    harness: Harness, browsing: Browsing
) -> None:
    agent_user = await harness.user(Role.AGENT)
    conversation_id = await hit_setup(browsing, agent_user)
    agent = await browsing.sign_in(agent_user)
    await heading(agent, "Inbox")
    row = request_row(agent)
    await expect(row).to_contain_text("Filler message 59")
    await row.get_by_role("link").click()
    await expect(message(agent, "Filler message 59")).to_be_visible()
    # Only the latest page is loaded; older ones come on demand. The button's click is sent
    # without scrolling it into view first: scrolled to the top, the list loads them by
    # itself, and would race a click that moved it there.
    await expect(message(agent, "The flux capacitor")).to_have_count(0)
    await agent.get_by_role("button", name="Load older messages").dispatch_event("click")
    await expect(message(agent, "The flux capacitor")).to_be_visible()
    await expect(message(agent, "Filler message 10")).to_have_count(1)

    search = agent.get_by_role("search", name="Search your requests")
    await search.get_by_role("searchbox").fill("warranty")
    await search.get_by_role("searchbox").press("Enter")
    hits = agent.get_by_role("list", name="Search results").get_by_role("link")
    await expect(hits).to_have_count(1)
    await hits.click()
    await expect(agent).to_have_url(re.compile(rf"/inbox/{conversation_id}\?.*seq=1"))
    await expect(chat(agent).locator('[aria-current="true"]')).to_contain_text("warranty")


async def test_a_reconnected_chat_catches_up_without_duplicates(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    leader, agent, alice = await routed(browsing, harness, "Printer on fire")
    await write(leader, "Before the outage")
    await expect(message(agent, "Before the outage")).to_be_visible()

    # The server drops the agent's socket; the leader writes while it is gone.
    await harness.fastapi.state.realtime.disconnect_user(alice.id)
    await expect(agent.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible()
    await write(leader, "Sent while you were away")

    # Back online, the agent gets what was missed, once, then live messages again.
    await expect(agent.get_by_role("status").filter(has_text="Reconnecting")).to_have_count(0)
    await expect(message(agent, "Sent while you were away")).to_have_count(1)
    await write(leader, "And after")
    await expect(message(agent, "And after")).to_be_visible()
    await expect(message(agent, "Before the outage")).to_have_count(1)
    await expect(message(agent, "Sent while you were away")).to_have_count(1)


async def solve(leader: Page, outcome: str = "Solved", topic_name: str = "Billing") -> None:
    submit = leader.get_by_role("form", name="Submit as")
    await submit.get_by_label("Status").select_option(label=outcome)
    await submit.get_by_label("Topic").select_option(label=topic_name)
    await submit.get_by_role("button", name="Submit").click()
    await expect(
        leader.get_by_role("status").filter(has_text=f"submitted as {outcome.lower()}")
    ).to_be_visible()


async def test_agent_reopens_a_solved_request(
    harness: Harness, browsing: Browsing, worker: Worker
) -> None:
    await topic(harness, "Billing")
    leader, agent, _ = await routed(browsing, harness, "Invoice shows the wrong VAT")
    await solve(leader)
    panel = agent.get_by_role("article", name=CONVERSATION)
    await expect(panel).to_contain_text("Solved")
    await expect(agent.get_by_text("Writing a message reopens it")).to_be_visible()

    await panel.get_by_role("button", name="Reopen").click()
    # Back to the leader who solved it, who is online with room.
    await expect(basket(leader).get_by_role("link", name=CONVERSATION)).to_have_count(1)
    await expect(panel).to_contain_text("With a team leader")
    await expect(panel.get_by_role("button", name="Reopen")).to_have_count(0)
