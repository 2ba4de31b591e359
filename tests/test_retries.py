"""Requests sent again after their answer was lost, and Redis failing after a commit: a
retry answers the state it finds, and a committed change is never answered with an error.

A request that committed and lost its answer (the server died after the commit) is
simulated by sending it twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select, update

from teamtalk.models import Conversation, ConversationEvent, Presence, Role, User, utcnow
from teamtalk.services import presence
from teamtalk.services.topics import create_topic
from teamtalk.worker import Worker
from tests.conftest import Harness

Clients = dict[int, httpx.AsyncClient]


@asynccontextmanager
async def clients(harness: Harness, *users: User) -> AsyncIterator[Clients]:
    """A signed-in client for each user, by id."""
    async with AsyncExitStack() as stack:
        yield {u.id: await stack.enter_async_context(harness.signed_in(u)) for u in users}


async def online(harness: Harness, *leaders: User) -> None:
    res = harness.resources
    for leader in leaders:
        async with res.sessions() as db:
            await presence.set_status(db, res, None, leader.id, Presence.ONLINE)


async def assign(harness: Harness) -> int:
    return await Worker(harness.resources, None).burst()


async def new_topic(harness: Harness) -> int:
    async with harness.resources.sessions() as db:
        return (await create_topic(db, name=f"Billing {uuid.uuid4().hex[:8]}")).id


async def events(harness: Harness, cid: int) -> list[str]:
    async with harness.resources.sessions() as db:
        query = (
            select(ConversationEvent.type)
            .where(ConversationEvent.conversation_id == cid)
            .order_by(ConversationEvent.id)
        )
        return list(await db.scalars(query))


async def stored(harness: Harness, cid: int) -> Conversation:
    async with harness.resources.sessions() as db:
        conversation: Conversation = await db.get_one(Conversation, cid)
        return conversation


async def created(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/conversations", json={"message": "Need help", **body})
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def ok(client: httpx.AsyncClient, path: str, body: Any = None) -> dict[str, Any]:
    response = await client.post(f"/api/conversations/{path}", json=body)
    assert response.status_code == 200, response.text
    conversation: dict[str, Any] = response.json()["conversation"]
    return conversation


async def refused(client: httpx.AsyncClient, path: str, body: Any = None) -> tuple[int, str]:
    response = await client.post(f"/api/conversations/{path}", json=body)
    return response.status_code, response.json()["error"]["code"]


def redis_down(monkeypatch: pytest.MonkeyPatch, harness: Harness, *methods: str) -> None:
    """These router calls fail as they would with Redis away at that moment."""

    async def away(*args: object, **kwargs: object) -> Any:
        raise RedisConnectionError("Connection refused")

    for name in methods:
        monkeypatch.setattr(harness.resources.router, name, away)


async def test_a_retried_create_opens_one_request(harness: Harness) -> None:
    agent, other = await harness.user(Role.AGENT), await harness.user(Role.AGENT)
    lead = await harness.user(Role.TEAMLEADER, capacity=10)
    async with clients(harness, agent, other) as c:
        first = await created(c[agent.id], client_id="f3b1c2d4-0000-4000-8000-000000000001")
        again = await created(
            c[agent.id], client_id="f3b1c2d4-0000-4000-8000-000000000001", message="edited"
        )
        assert again == first
        assert first["queue_position"] == 1
        cid = first["conversation"]["id"]
        # Another request, and another agent's with the same client id, are new ones.
        second = await created(c[agent.id], client_id="another")
        theirs = await created(c[other.id], client_id="f3b1c2d4-0000-4000-8000-000000000001")
        assert len({cid, second["conversation"]["id"], theirs["conversation"]["id"]}) == 3
        # Without a client id, as before: each call opens one.
        plain = [(await created(c[agent.id]))["conversation"]["id"] for _ in range(2)]
        assert len(set(plain)) == 2
        # Later, the retry answers the request as it stands now.
        await online(harness, lead)
        assert await assign(harness) == 5
        late = await created(c[agent.id], client_id="f3b1c2d4-0000-4000-8000-000000000001")
        assert late["conversation"]["id"] == cid
        assert late["conversation"]["status"] == "assigned"
        assert late["conversation"]["assignee_id"] == lead.id
        assert late["queue_position"] is None
    assert await events(harness, cid) == ["created", "assigned"]
    async with harness.resources.sessions() as db:
        count = select(func.count()).where(Conversation.agent_id == agent.id)
        assert await db.scalar(count) == 4


async def test_a_client_id_is_short_and_plain(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    async with clients(harness, agent) as c:
        for bad in ("", "x" * 65, "has space", "slash/no", "é", 12):
            response = await c[agent.id].post(
                "/api/conversations", json={"message": "hi", "client_id": bad}
            )
            assert response.status_code == 422, bad
            assert response.json()["error"]["code"] == "invalid"
        assert (await created(c[agent.id], client_id="A-z_0.9:" + "x" * 56))["conversation"]


async def test_concurrent_duplicate_creates_open_one_request(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    async with clients(harness, agent) as c:
        answers = await asyncio.gather(
            *(created(c[agent.id], client_id="double-click") for _ in range(6))
        )
    ids = {a["conversation"]["id"] for a in answers}
    assert len(ids) == 1
    (cid,) = ids
    assert await events(harness, cid) == ["created"]
    async with harness.resources.sessions() as db:
        count = select(func.count()).where(Conversation.agent_id == agent.id)
        assert await db.scalar(count) == 1
    assert await harness.resources.router.queue_position(cid) == 1


async def test_submit_as_retried_answers_the_submitted_conversation(harness: Harness) -> None:
    lead, other = await harness.user(Role.TEAMLEADER), await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    topic, other_topic = await new_topic(harness), await new_topic(harness)
    await online(harness, lead)
    async with clients(harness, lead, other, agent) as c:
        cid = (await created(c[agent.id]))["conversation"]["id"]
        await assign(harness)
        solved = {"status": "solved", "topic_id": topic}
        first = await ok(c[lead.id], f"{cid}/submit", solved)
        again = await ok(c[lead.id], f"{cid}/submit", solved)
        assert again["status"] == "solved" and again["topic_id"] == topic
        assert again == first
        # Not the same request: another outcome, another topic, another leader.
        for who, body in (
            (lead, {"status": "pending", "topic_id": topic}),
            (lead, {"status": "solved", "topic_id": other_topic}),
            (other, solved),
        ):
            assert await refused(c[who.id], f"{cid}/submit", body) == (403, "not_assignee")
        # The agent reopened it since: the old submit is refused, not done again.
        await ok(c[agent.id], f"{cid}/reopen")
        assert await refused(c[lead.id], f"{cid}/submit", solved) == (403, "not_assignee")
    assert await events(harness, cid) == ["created", "assigned", "solved", "reopened"]


async def test_transfer_retried_answers_where_it_went(harness: Harness) -> None:
    giver, taker = await harness.user(Role.TEAMLEADER), await harness.user(Role.TEAMLEADER)
    third = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    await online(harness, giver)
    async with clients(harness, giver, taker, agent) as c:
        cid = (await created(c[agent.id]))["conversation"]["id"]
        await assign(harness)
        await online(harness, taker, third)
        to_taker = {"leader_id": taker.id}
        first = await ok(c[giver.id], f"{cid}/transfer", to_taker)
        again = await ok(c[giver.id], f"{cid}/transfer", to_taker)
        assert again == first and again["assignee_id"] == taker.id
        # To someone else, or back to the queue, is another request.
        assert await refused(c[giver.id], f"{cid}/transfer", {"leader_id": third.id}) == (
            403,
            "not_assignee",
        )
        assert await refused(c[giver.id], f"{cid}/transfer", {"leader_id": None}) == (
            403,
            "not_assignee",
        )

        back = {"leader_id": None}
        queued = await ok(c[taker.id], f"{cid}/transfer", back)
        assert queued["status"] == "queued"
        assert (await ok(c[taker.id], f"{cid}/transfer", back)) == queued
        # The worker's assignment is no one's request: the retry still answers, as it is now.
        await assign(harness)
        now = await ok(c[taker.id], f"{cid}/transfer", back)
        assert now["status"] == "assigned" and now["assignee_id"] != taker.id
        assert await refused(c[taker.id], f"{cid}/transfer", to_taker) == (403, "not_assignee")
    types = await events(harness, cid)
    assert types == ["created", "assigned", "transferred", "transferred", "assigned"]
    snapshot = await harness.resources.router.snapshot()
    assert cid not in snapshot.leaders[taker.id].basket


async def test_withdraw_retried_answers_cancelled(harness: Harness) -> None:
    agent = await harness.user(Role.AGENT)
    lead = await harness.user(Role.TEAMLEADER)
    async with clients(harness, agent) as c:
        cid = (await created(c[agent.id]))["conversation"]["id"]
        first = await ok(c[agent.id], f"{cid}/withdraw")
        again = await ok(c[agent.id], f"{cid}/withdraw")
        assert again == first and again["status"] == "cancelled"
        # A request a leader took is not one to withdraw.
        taken = (await created(c[agent.id]))["conversation"]["id"]
        await online(harness, lead)
        await assign(harness)
        assert await refused(c[agent.id], f"{taken}/withdraw") == (409, "not_queued")
    assert await events(harness, cid) == ["created", "withdrawn"]
    assert await harness.resources.router.queue_position(cid) is None


async def test_reopen_retried_answers_it_back_in_the_queue_or_taken(harness: Harness) -> None:
    lead, agent = await harness.user(Role.TEAMLEADER), await harness.user(Role.AGENT)
    topic = await new_topic(harness)
    await online(harness, lead)
    async with clients(harness, lead, agent) as c:
        cid = (await created(c[agent.id]))["conversation"]["id"]
        await assign(harness)
        await ok(c[lead.id], f"{cid}/submit", {"status": "solved", "topic_id": topic})
        first = await ok(c[agent.id], f"{cid}/reopen")
        assert first["status"] == "queued"
        assert await ok(c[agent.id], f"{cid}/reopen") == first
        await assign(harness)
        taken = await ok(c[agent.id], f"{cid}/reopen")
        assert taken["status"] == "assigned" and taken["assignee_id"] == lead.id

        # Pending, then the agent wrote: back in the queue by their reply, not a reopen.
        await ok(c[lead.id], f"{cid}/submit", {"status": "pending", "topic_id": topic})
        reply = {"client_id": "r-1", "body": "The customer called back"}
        assert (await c[agent.id].post(f"/api/conversations/{cid}/messages", json=reply)).is_success
        assert await refused(c[agent.id], f"{cid}/reopen") == (409, "not_reopenable")
    types = await events(harness, cid)
    assert types == ["created", "assigned", "solved", "reopened", "assigned", "pending", "requeued"]


async def test_reopen_past_the_window_is_refused_alike_when_sent_again(harness: Harness) -> None:
    lead, agent = await harness.user(Role.TEAMLEADER), await harness.user(Role.AGENT)
    topic = await new_topic(harness)
    await online(harness, lead)
    async with clients(harness, lead, agent) as c:
        cid = (await created(c[agent.id]))["conversation"]["id"]
        await assign(harness)
        await ok(c[lead.id], f"{cid}/submit", {"status": "solved", "topic_id": topic})
        async with harness.resources.sessions() as db:
            await db.execute(
                update(Conversation)
                .where(Conversation.id == cid)
                .values(resolved_at=utcnow() - timedelta(minutes=31))
            )
            await db.commit()
        for _ in range(2):
            assert await refused(c[agent.id], f"{cid}/reopen") == (409, "conversation_closed")
    assert (await events(harness, cid))[-2:] == ["solved", "closed"]


async def test_a_redis_outage_after_the_commit_is_not_an_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead, agent = await harness.user(Role.TEAMLEADER), await harness.user(Role.AGENT)
    topic = await new_topic(harness)
    res = harness.resources
    async with clients(harness, lead, agent) as c:
        with monkeypatch.context() as m:
            redis_down(m, harness, "enqueue")
            answer = await created(c[agent.id], client_id="during-outage")
            assert answer["queue_position"] is None
            assert answer["conversation"]["status"] == "queued"
        cid = answer["conversation"]["id"]
        assert (await stored(harness, cid)).status == "queued"
        assert await res.router.queue_position(cid) is None
        # Drift repair queues it (a disagreement seen in two checks in a row).
        worker = Worker(res, None)
        await worker.repair_drift()
        await worker.repair_drift()
        assert await res.router.queue_position(cid) == 1
        retried = await created(c[agent.id], client_id="during-outage")
        assert retried["conversation"]["id"] == cid and retried["queue_position"] == 1

        await online(harness, lead)
        await assign(harness)
        with monkeypatch.context() as m:
            redis_down(m, harness, "release", "enqueue")
            queued = await ok(c[lead.id], f"{cid}/transfer", {"leader_id": None})
            assert queued["status"] == "queued"
        assert (await stored(harness, cid)).status == "queued"
        await worker.repair_drift()
        await worker.repair_drift()
        await assign(harness)
        assert (await stored(harness, cid)).assignee_id == lead.id

        with monkeypatch.context() as m:
            redis_down(m, harness, "release")
            body = {"status": "pending", "topic_id": topic}
            assert (await ok(c[lead.id], f"{cid}/submit", body))["status"] == "pending"
        assert (await stored(harness, cid)).status == "pending"

        with monkeypatch.context() as m:
            redis_down(m, harness, "enqueue")
            reply = {"client_id": "r-1", "body": "Still there?"}
            response = await c[agent.id].post(f"/api/conversations/{cid}/messages", json=reply)
            assert response.status_code == 201, response.text
        assert (await stored(harness, cid)).status == "queued"

        await worker.repair_drift()
        await worker.repair_drift()
        await assign(harness)
        await ok(c[lead.id], f"{cid}/submit", {"status": "solved", "topic_id": topic})
        with monkeypatch.context() as m:
            redis_down(m, harness, "enqueue")
            assert (await ok(c[agent.id], f"{cid}/reopen"))["status"] == "queued"
        assert (await stored(harness, cid)).status == "queued"

        with monkeypatch.context() as m:
            redis_down(m, harness, "withdraw")
            assert (await ok(c[agent.id], f"{cid}/withdraw"))["status"] == "cancelled"
        assert (await stored(harness, cid)).status == "cancelled"
    assert (await events(harness, cid)).count("withdrawn") == 1
