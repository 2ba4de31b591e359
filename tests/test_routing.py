"""Routing end to end: HTTP and Socket.IO clients against a live server and a real worker."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from teamtalk.models import Conversation, ConversationEvent, Presence, Role, User
from teamtalk.routing.engine import Assignment, Outcome, Router
from teamtalk.services import presence, reconcile
from teamtalk.services.assignment import commit_assignments
from teamtalk.worker import Worker
from tests.clients import connected, go, request, sign_in
from tests.conftest import NO_POLLING, Backend, Harness, LiveServer, _delete_prefix, harness_with


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    settings = {"presence_grace_seconds": 0.3, "status_changes_per_minute": 8}
    async with harness_with(backend, **NO_POLLING, **settings) as h:
        yield h


async def db_status(harness: Harness, conversation_id: int) -> tuple[str, int | None]:
    async with harness.resources.sessions() as db:
        c = await db.get_one(Conversation, conversation_id)
        return c.status, c.assignee_id


async def test_a_request_reaches_the_leader_and_both_sides_hear(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, lead)) as leader_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        assert await leader_socket.expect("sync_basket") == {"conversations": []}
        assert await go(leader_socket, "online") == {"status": "online"}
        assert await leader_socket.expect("ack_status", status="online") == {"status": "online"}
        created = await request(harness, agent)
        assert created["queue_position"] == 1
        assert created["conversation"]["status"] == "queued"
        conversation_id = created["conversation"]["id"]

        assigned = await leader_socket.expect("assign_conversation", seconds=3)
        assert assigned["conversation"]["id"] == conversation_id
        assert assigned["conversation"]["assignee_id"] == lead.id
        while (update := await agent_socket.expect("update_conversation"))["conversation"][
            "status"
        ] != "assigned":
            pass
        assert update["conversation"]["id"] == conversation_id
    assert await db_status(harness, conversation_id) == ("assigned", lead.id)


async def test_submit_as_frees_the_slot_at_once(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER, capacity=1)
    agent = await harness.user(Role.AGENT)
    topic = await _topic(harness)
    async with connected(live, await sign_in(harness, lead)) as leader_socket:
        await go(leader_socket, "online")
        first = (await request(harness, agent, "first"))["conversation"]["id"]
        second = await request(harness, agent, "second")
        assert second["queue_position"] in (1, 2)
        assert (await leader_socket.expect("assign_conversation"))["conversation"]["id"] == first
        await asyncio.sleep(0.3)
        assert await db_status(harness, second["conversation"]["id"]) == ("queued", None)

        async with harness.signed_in(lead) as client:
            done = await client.post(
                f"/api/conversations/{first}/submit", json={"status": "solved", "topic_id": topic}
            )
        assert done.status_code == 200 and done.json()["conversation"]["status"] == "solved"
        assert (await leader_socket.expect("remove_from_basket")) == {"conversation_id": first}
        # The poll interval is a minute: this arrives because the freed slot woke the worker.
        nxt = await leader_socket.expect("assign_conversation", seconds=3)
        assert nxt["conversation"]["id"] == second["conversation"]["id"]


async def test_offline_returns_the_basket_to_the_head_in_order(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER, capacity=3)
    agent = await harness.user(Role.AGENT)
    async with connected(live, await sign_in(harness, lead)) as leader_socket:
        await go(leader_socket, "online")
        held = [(await request(harness, agent, f"m{i}"))["conversation"]["id"] for i in range(3)]
        for _ in held:
            await leader_socket.expect("assign_conversation")
        waiting = [(await request(harness, agent, f"w{i}"))["conversation"]["id"] for i in range(2)]
        assert await go(leader_socket, "offline") == {"status": "offline"}
        removed = {
            (await leader_socket.expect("remove_from_basket"))["conversation_id"] for _ in held
        }
        assert removed == set(held)
    snap = await harness.resources.router.snapshot()
    assert snap.queue == held + waiting
    assert lead.id not in snap.leaders
    for conversation_id in held:
        assert await db_status(harness, conversation_id) == ("queued", None)
    async with harness.resources.sessions() as db:
        returned = await db.scalar(select(func.count()).where(ConversationEvent.type == "returned"))
    assert returned == 3


async def test_away_keeps_the_basket_and_gets_nothing_new(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER, capacity=2)
    agent = await harness.user(Role.AGENT)
    async with connected(live, await sign_in(harness, lead)) as leader_socket:
        await go(leader_socket, "online")
        first = (await request(harness, agent))["conversation"]["id"]
        await leader_socket.expect("assign_conversation")
        await go(leader_socket, "away")
        second = (await request(harness, agent))["conversation"]["id"]
        await asyncio.sleep(0.3)
        assert await db_status(harness, first) == ("assigned", lead.id)
        assert await db_status(harness, second) == ("queued", None)
        await go(leader_socket, "online")
        got = await leader_socket.expect("assign_conversation", seconds=3)
        assert got["conversation"]["id"] == second


async def test_status_is_the_users_not_the_tabs(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER)
    token = await sign_in(harness, lead)
    async with connected(live, token) as tab1, connected(live, token) as tab2:
        assert await tab2.expect("ack_status") == {"status": "offline"}  # on connect
        await go(tab1, "away")
        assert await tab2.expect("ack_status", status="away")
        assert await tab1.expect("ack_status", status="away")
    async with connected(live, token) as tab3:
        assert await tab3.expect("ack_status") == {"status": "away"}


async def test_refusals_change_nothing(live: LiveServer, worker: Worker) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER)
    other = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    topic = await _topic(harness)
    async with connected(live, await sign_in(harness, agent)) as agent_socket:
        refused = await go(agent_socket, "online")
        assert refused["error"]["code"] == "not_a_teamleader"
    async with connected(live, await sign_in(harness, lead)) as leader_socket:
        for bad in (
            {"status": "busy"},
            "online",
            None,
            {"status": "online", "user_id": other.id},
            42,
        ):
            answer = await leader_socket.call("set_status", bad)
            assert answer["error"]["code"] == "invalid", bad
        unknown = await leader_socket.call("make_me_admin", {})
        assert unknown["error"]["code"] == "unknown_event"
        assert leader_socket.client.connected
        async with harness.resources.sessions() as db:
            assert (await db.get_one(User, lead.id)).presence == Presence.OFFLINE
        await go(leader_socket, "online")
        mine = (await request(harness, agent))["conversation"]["id"]
        await leader_socket.expect("assign_conversation")
        # Still connected below: a leader whose last tab closed goes offline after 0.3 s.
        body = {"status": "solved", "topic_id": topic}
        async with harness.signed_in(other) as client:
            response = await client.post(f"/api/conversations/{mine}/submit", json=body)
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "not_assignee"
            missing = await client.post("/api/conversations/99999/submit", json=body)
            assert missing.status_code == 404
        async with harness.signed_in(agent) as client:
            assert (
                await client.post(f"/api/conversations/{mine}/submit", json=body)
            ).status_code == 403
        async with harness.signed_in(lead) as client:
            bad = await client.post(
                f"/api/conversations/{mine}/submit", json={"status": "closed", "topic_id": topic}
            )
            assert bad.status_code == 422
        assert await db_status(harness, mine) == ("assigned", lead.id)


async def test_status_changes_are_rate_limited(live: LiveServer) -> None:
    harness = live.harness
    lead = await harness.user(Role.TEAMLEADER)
    async with connected(live, await sign_in(harness, lead)) as leader_socket:
        answers = [await go(leader_socket, s) for s in ["online", "away"] * 5]
    assert all("status" in a for a in answers[:8])
    assert answers[8]["error"]["code"] == "too_many_requests"


async def test_a_disconnect_within_the_grace_period_changes_nothing(
    live: LiveServer, worker: Worker
) -> None:
    harness = live.harness
    res = harness.resources
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    token = await sign_in(harness, lead)
    async with connected(live, token) as leader_socket:
        await go(leader_socket, "online")
        held = (await request(harness, agent))["conversation"]["id"]
        await leader_socket.expect("assign_conversation")
    # Reload: the tab comes back before the grace period ends.
    async with connected(live, token) as again:
        synced = await again.expect("sync_basket")
        assert [c["id"] for c in synced["conversations"]] == [held]
        await asyncio.sleep(0.4)
        assert await presence.expire_grace(res, None) == []
    assert await db_status(harness, held) == ("assigned", lead.id)
    # Gone for longer than the grace period: offline, and the basket goes back (by this
    # call or the worker's housekeeping, whichever comes first; the server may see the
    # disconnect late on a busy machine).
    await asyncio.sleep(0.4)
    for _ in range(50):
        await presence.expire_grace(res, None)
        if await db_status(harness, held) == ("queued", None):
            break
        await asyncio.sleep(0.1)
    assert await db_status(harness, held) == ("queued", None)
    async with res.sessions() as db:
        assert (await db.get_one(User, lead.id)).presence == Presence.OFFLINE
    assert (await res.router.snapshot()).queue == [held]


async def _topic(harness: Harness) -> int:
    from teamtalk.services.topics import create_topic

    async with harness.resources.sessions() as db:
        return (await create_topic(db, "Billing")).id


async def test_a_leader_whose_server_died_goes_offline_after_the_grace(harness: Harness) -> None:
    res = harness.resources
    lead = await harness.user(Role.TEAMLEADER)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    # A socket registered by a server process that no longer exists (its key expired).
    await res.redis.hset(res.keys.user_sockets(lead.id), "ghost-sid", "1:dead-server")
    await presence.sweep_absent(res)
    assert await res.redis.hlen(res.keys.user_sockets(lead.id)) == 0
    assert await presence.expire_grace(res, None) == []  # the grace period runs first
    await asyncio.sleep(0.4)
    assert await presence.expire_grace(res, None) == [lead.id]
    async with res.sessions() as db:
        assert (await db.get_one(User, lead.id)).presence == Presence.OFFLINE


async def test_reading_conversations(harness: Harness) -> None:
    res = harness.resources
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    stranger = await harness.user(Role.AGENT)
    first = (await request(harness, agent, "one"))["conversation"]["id"]
    second = (await request(harness, agent, "two"))["conversation"]["id"]
    async with harness.signed_in(agent) as client:
        mine = (await client.get("/api/conversations")).json()["conversations"]
        assert [c["id"] for c in mine] == [second, first]
        detail = (await client.get(f"/api/conversations/{second}")).json()
        assert detail["queue_position"] == 2
        page = (await client.get("/api/conversations", params={"limit": 1})).json()
        assert [c["id"] for c in page["conversations"]] == [second]
        rest = await client.get("/api/conversations", params={"cursor": page["next_cursor"]})
        assert [c["id"] for c in rest.json()["conversations"]] == [first]
        assert rest.json()["next_cursor"] is None
    async with harness.signed_in(stranger) as client:
        assert (await client.get("/api/conversations")).json()["conversations"] == []
        assert (await client.get(f"/api/conversations/{first}")).status_code == 404
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    await Worker(res, None).burst()
    async with harness.signed_in(lead) as client:
        basket = (await client.get("/api/conversations/basket")).json()["conversations"]
        assert [c["id"] for c in basket] == [first, second]
        queued = await client.get("/api/conversations", params={"status": "queued"})
        assert queued.json()["conversations"] == []
    async with harness.signed_in(agent) as client:
        assert (await client.get("/api/conversations/basket")).status_code == 403


async def test_supervisors_see_the_queue_and_the_load(harness: Harness) -> None:
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    lead = await harness.user(Role.TEAMLEADER, capacity=1, display_name="Lena")
    agent = await harness.user(Role.AGENT)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    ids = [(await request(harness, agent))["conversation"]["id"] for _ in range(3)]
    worker = Worker(res, None)
    await worker.burst()
    await worker.heartbeat()
    async with harness.signed_in(admin) as client:
        overview = (await client.get("/api/monitoring/routing")).json()
    assert overview["queue"] == {"length": 2, "conversation_ids": ids[1:]}
    assert overview["leaders"] == [
        {
            "id": lead.id,
            "display_name": "Lena",
            "status": "online",
            "capacity": 1,
            "free": 0,
            "basket": ids[:1],
        }
    ]
    assert overview["in_flight"] == 0 and overview["parked"] == []
    assert overview["workers"]["alive"] is True
    assert overview["workers"]["stats"][0]["processed"] == 1


async def test_drift_is_mended_only_when_it_lasts(harness: Harness) -> None:
    res = harness.resources
    lead = await harness.user(Role.TEAMLEADER, capacity=2)
    agent = await harness.user(Role.AGENT)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    stranded, queued = [(await request(harness, agent))["conversation"]["id"] for _ in range(2)]
    await res.router.withdraw(stranded)  # as if the server died between commit and queue
    worker = Worker(res, None)
    await worker.repair_drift()  # seen once: could be a change in flight, left alone
    assert (await res.router.snapshot()).queue == [queued]
    await worker.repair_drift()  # seen again: mended, at the head in creation order
    assert (await res.router.snapshot()).queue == [stranded, queued]
    assert await worker.burst() == 2
    assert not await reconcile.drift(res)


async def test_a_slot_redis_gives_but_the_database_has_not_is_not_taken(harness: Harness) -> None:
    """Redis may be a slot off (a worker paused past its claim committed after it was
    settled): the database's count under the leader's row lock keeps the basket in bounds."""
    res = harness.resources
    lead = await harness.user(Role.TEAMLEADER, capacity=1)
    agent = await harness.user(Role.AGENT)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    held, waiting = [(await request(harness, agent))["conversation"]["id"] for _ in range(2)]
    assert await Worker(res, None).burst() == 1
    async with res.sessions() as db:
        staged, outcomes = await commit_assignments(
            db, [Assignment(waiting, lead.id)], deadline=lambda: math.inf
        )
    assert staged.outs == [] and outcomes == {Assignment(waiting, lead.id): Outcome.RETRY}
    assert await db_status(harness, held) == ("assigned", lead.id)
    assert await db_status(harness, waiting) == ("queued", None)


async def test_a_transfer_to_a_leader_the_database_counts_full_is_refused(
    harness: Harness,
) -> None:
    res = harness.resources
    giver = await harness.user(Role.TEAMLEADER)
    taker = await harness.user(Role.TEAMLEADER, capacity=1)
    agent = await harness.user(Role.AGENT)
    held = []
    for lead in (taker, giver):
        async with res.sessions() as db:
            await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
        held.append((await request(harness, agent))["conversation"]["id"])
        assert await Worker(res, None).step() == 1
    takers, givers = held
    await res.router.release(taker.id, takers)  # Redis a slot off: it says the taker has room
    async with harness.signed_in(giver) as client:
        reply = await client.post(
            f"/api/conversations/{givers}/transfer", json={"leader_id": taker.id}
        )
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "leader_unavailable"
    assert await db_status(harness, givers) == ("assigned", giver.id)
    assert await db_status(harness, takers) == ("assigned", taker.id)
    assert (await res.router.snapshot()).leaders[giver.id].basket == {givers}


async def test_a_status_change_stands_when_redis_fails_after_its_commit(harness: Harness) -> None:
    res = harness.resources
    lead = await harness.user(Role.TEAMLEADER)
    unreachable = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.5)
    cut_off = dataclasses.replace(res, router=Router(unreachable, res.keys))
    worker = Worker(res, None)
    try:
        for status in (Presence.ONLINE, Presence.OFFLINE):
            async with res.sessions() as db:
                assert await presence.set_status(db, cut_off, None, lead.id, status) == status
            async with res.sessions() as db:
                assert (await db.get_one(User, lead.id)).presence == status
            # Routing missed it; drift repair mends it from the database.
            await worker.repair_drift()
            await worker.repair_drift()
            routed = (await res.router.snapshot()).leaders.get(lead.id)
            assert (routed.status if routed else Presence.OFFLINE) == status
    finally:
        await unreachable.aclose()


async def test_requeue_facts_survive_a_redis_loss(harness: Harness) -> None:
    """Failed attempts and preferences are database facts too: after Redis lost its data,
    the rebuild serves a conversation that failed first, counts its attempts, parks what
    Redis had parked, and offers a conversation put back by its leader to someone else."""
    res = harness.resources
    lead = await harness.user(Role.TEAMLEADER)
    gone = await harness.user(Role.TEAMLEADER)  # offline in the database
    agent = await harness.user(Role.AGENT)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    put_back = (await request(harness, agent))["conversation"]["id"]
    assert await Worker(res, None).step() == 1
    async with harness.signed_in(lead) as client:
        to_queue = {"leader_id": None}
        back = await client.post(f"/api/conversations/{put_back}/transfer", json=to_queue)
        assert back.status_code == 200, back.text
    new, failed_once, failed_out = [
        (await request(harness, agent))["conversation"]["id"] for _ in range(3)
    ]
    attempts = [Assignment(failed_once, gone.id)] + [Assignment(failed_out, gone.id)] * 5
    for attempt in attempts:  # the leader is offline in the database: a failed attempt
        async with res.sessions() as db:
            _, outcomes = await commit_assignments(db, [attempt], deadline=lambda: math.inf)
        assert outcomes == {attempt: Outcome.REQUEUE}

    await _delete_prefix(harness.backend.redis_url, harness.backend.prefix)  # Redis lost it
    assert await reconcile.ensure(res)
    state = await res.router.snapshot()
    assert state.queue == [put_back, failed_once, new]
    assert state.parked == {failed_out}
    assert await res.redis.hgetall(res.keys.attempts) == {str(failed_once): "1"}
    assert await res.redis.hgetall(res.keys.preferred) == {str(put_back): f"-{lead.id}"}
