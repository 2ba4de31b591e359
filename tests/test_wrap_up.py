"""A leader's wrap-up note on submit as, and what lists show: the last message people
wrote, unread counts without system lines, the wrap-up note."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from teamtalk.models import Conversation, ConversationEvent, Message, Role, Status, User
from teamtalk.worker import Worker
from tests.clients import connected, go, request, sign_in
from tests.conftest import Harness, LiveServer
from tests.test_conversations import stored_bodies, topic_id

REQUEST = "Need help with case #4711: the customer was charged twice"


async def listed(harness: Harness, user: User, path: str, cid: int) -> dict[str, Any]:
    async with harness.signed_in(user) as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    (item,) = [c for c in response.json()["conversations"] if c["id"] == cid]
    return dict(item)


async def events_of(harness: Harness, cid: int) -> list[tuple[str, str | None]]:
    async with harness.resources.sessions() as db:
        rows = await db.execute(
            select(ConversationEvent.type, ConversationEvent.reason)
            .where(ConversationEvent.conversation_id == cid)
            .order_by(ConversationEvent.id)
        )
        return [(kind, reason) for kind, reason in rows]


async def test_previews_and_unread_leave_system_lines_out_and_the_note_is_kept(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER, display_name="Lena Leader")
    agent = await harness.user(Role.AGENT, display_name="Aldo Agent")
    topic = await topic_id(harness)
    async with connected(live, await sign_in(harness, lead)) as leader:
        await go(leader, "online")
        cid = (await request(harness, agent, REQUEST))["conversation"]["id"]
        given = await leader.expect("assign_conversation")
        assert given["conversation"]["agent_name"] == "Aldo Agent"
        assert (given["request"], given["reason"]) == (REQUEST, None)

    # The system line "Assigned to Lena Leader." is the newest message, yet not the preview.
    assert (await stored_bodies(harness, cid))[-1][1:] == ("system", "Assigned to Lena Leader.")
    item = await listed(harness, lead, "/api/conversations/basket", cid)
    assert (item["last_message"]["body"], item["unread"]) == (REQUEST, 1)
    mine = await listed(harness, agent, "/api/conversations", cid)
    assert (mine["last_message"]["body"], mine["unread"]) == (REQUEST, 0)

    async with harness.signed_in(lead) as client:
        body = {"status": "solved", "topic_id": topic, "note": " Refund\x07 sent.\r\nClosed. "}
        response = await client.post(f"/api/conversations/{cid}/submit", json=body)
    assert response.status_code == 200, response.text
    assert (await events_of(harness, cid))[-1] == ("solved", "Refund sent.\nClosed.")
    line = "Lena Leader marked this conversation as solved. Wrap-up note: Refund sent.\nClosed."
    assert (await stored_bodies(harness, cid))[-1][1:] == ("system", line)
    item = await listed(harness, lead, "/api/conversations?status=solved", cid)
    assert item["wrap_up_note"] == "Refund sent.\nClosed."
    assert item["last_message"]["body"] == REQUEST
    mine = await listed(harness, agent, "/api/conversations", cid)
    assert (mine["wrap_up_note"], mine["unread"]) == ("Refund sent.\nClosed.", 0)


async def test_a_bad_note_changes_nothing_and_a_blank_one_is_none(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER, display_name="Lena Leader")
    agent = await harness.user(Role.AGENT)
    topic = await topic_id(harness)
    async with connected(live, await sign_in(harness, lead)) as leader:
        await go(leader, "online")
        cid = (await request(harness, agent))["conversation"]["id"]
        await leader.expect("assign_conversation")
    before = (await events_of(harness, cid), await stored_bodies(harness, cid))

    async with harness.signed_in(lead) as client:
        url = f"/api/conversations/{cid}/submit"
        for bad in ("x" * 501, 7, "nul\x00"):
            body = {"status": "solved", "topic_id": topic, "note": bad}
            response = await client.post(url, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "invalid"
            assert response.json()["error"]["details"][0]["field"] == "note"
        assert (await events_of(harness, cid), await stored_bodies(harness, cid)) == before
        async with harness.resources.sessions() as db:
            conversation = await db.get_one(Conversation, cid)
            assert conversation.status == Status.ASSIGNED

        body = {"status": "pending", "topic_id": topic, "note": " \t\r\n "}
        response = await client.post(url, json=body)
        assert response.status_code == 200, response.text
    assert (await events_of(harness, cid))[-1] == ("pending", None)
    line = "Lena Leader marked this conversation as pending."
    assert (await stored_bodies(harness, cid))[-1][1:] == ("system", line)
    item = await listed(harness, agent, "/api/conversations", cid)
    assert item["wrap_up_note"] is None
    async with harness.resources.sessions() as db:
        count = select(func.count()).where(Message.conversation_id == cid)
        assert await db.scalar(count) == len(before[1]) + 1
