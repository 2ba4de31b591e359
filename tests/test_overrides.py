"""Supervisor overrides end to end: each works, is heard by whoever must hear it, is in the
audit trail with the admin as actor, and when it cannot hold is refused and changes
nothing in the database or in Redis. (Agents and leaders get 403: tests/test_admin_api.py
lists every admin route.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from teamtalk.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Message,
    Presence,
    PresenceChange,
    Role,
    User,
)
from teamtalk.routing.engine import Assignment, Snapshot
from teamtalk.services import overrides, presence, reconcile
from teamtalk.services.access import Actor
from teamtalk.worker import Worker
from tests.clients import connected, go, request, sign_in
from tests.conftest import NO_POLLING, Backend, Harness, LiveServer, _delete_prefix, harness_with


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    # No worker runs unless a test starts one: requests wait in the queue for the overrides.
    async with harness_with(backend, **NO_POLLING) as h:
        yield h


async def online(harness: Harness, *leaders: User, status: Presence = Presence.ONLINE) -> None:
    res = harness.resources
    for leader in leaders:
        async with res.sessions() as db:
            await presence.set_status(db, res, None, leader.id, status)


async def queued(harness: Harness, agent: User, n: int = 1) -> list[int]:
    return [(await request(harness, agent))["conversation"]["id"] for _ in range(n)]


async def assigned_by_worker(harness: Harness, leader: User, agent: User) -> int:
    """A request the worker gives to `leader` (the only one online with room)."""
    (cid,) = await queued(harness, agent)
    assert await Worker(harness.resources, None).step() == 1
    assert await db_status(harness, cid) == ("assigned", leader.id)
    return cid


async def db_status(harness: Harness, cid: int) -> tuple[str, int | None]:
    async with harness.resources.sessions() as db:
        c = await db.get_one(Conversation, cid)
        return c.status, c.assignee_id


async def stores(harness: Harness) -> tuple[Any, ...]:
    """Everything an override could change, in both stores."""
    res = harness.resources
    async with res.sessions() as db:
        conversations = list(
            await db.execute(
                select(
                    Conversation.id,
                    Conversation.status,
                    Conversation.assignee_id,
                    Conversation.queued_at,
                    Conversation.assigned_at,
                    Conversation.updated_at,
                    Conversation.last_seq,
                ).order_by(Conversation.id)
            )
        )
        counts = [
            await db.scalar(select(func.count()).select_from(table))
            for table in (ConversationEvent, Message, ConversationParticipant, PresenceChange)
        ]
        users = list(await db.execute(select(User.id, User.presence).order_by(User.id)))
    hashes = [
        await res.redis.hgetall(key)
        for key in (res.keys.preferred, res.keys.attempts, res.keys.front, res.keys.inflight)
    ]
    return conversations, counts, users, await res.router.snapshot(), hashes


async def events_of(harness: Harness, cid: int) -> list[tuple[str, int | None, int | None]]:
    """(type, actor, to leader) of a conversation's events, in order."""
    async with harness.resources.sessions() as db:
        rows = await db.execute(
            select(
                ConversationEvent.type, ConversationEvent.actor_id, ConversationEvent.to_leader_id
            )
            .where(ConversationEvent.conversation_id == cid)
            .order_by(ConversationEvent.id)
        )
        return [(t, a, to) for t, a, to in rows]


async def last_system_message(harness: Harness, cid: int) -> str:
    async with harness.resources.sessions() as db:
        body: str | None = await db.scalar(
            select(Message.body)
            .where(Message.conversation_id == cid, Message.kind == "system")
            .order_by(Message.seq.desc())
            .limit(1)
        )
    assert body is not None
    return body


async def refused(
    harness: Harness, admin: User, path: str, body: object, status: int, code: str
) -> None:
    """The override is refused with this status and code, and nothing changes."""
    before = await stores(harness)
    async with harness.signed_in(admin) as client:
        response = await client.post(f"/api/overrides/{path}", json=body)
    assert response.status_code == status, (path, body, response.text)
    assert response.json()["error"]["code"] == code, (path, body, response.text)
    assert await stores(harness) == before, (path, body)


# Move to the front.


async def test_move_to_the_front_holds_across_a_redis_loss(harness: Harness) -> None:
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    lead = await harness.user(Role.TEAMLEADER, capacity=1)
    agent = await harness.user(Role.AGENT)
    await online(harness, lead)
    back = await assigned_by_worker(harness, lead, agent)
    async with harness.signed_in(lead) as client:  # returned: ahead of new work
        response = await client.post(
            f"/api/conversations/{back}/transfer", json={"leader_id": None}
        )
        assert response.status_code == 200, response.text
    first, second, third = await queued(harness, agent, 3)
    assert (await res.router.snapshot()).queue == [back, first, second, third]

    async with harness.signed_in(admin) as client:
        response = await client.post(f"/api/overrides/conversations/{third}/front")
        assert response.status_code == 200, response.text
        assert response.json()["queue_position"] == 1
        assert response.json()["conversation"]["status"] == "queued"
        assert (await res.router.snapshot()).queue == [third, back, first, second]
        response = await client.post(f"/api/overrides/conversations/{second}/front")
        assert response.json()["queue_position"] == 1
        # Sent again (its answer lost): already there, nothing more happens.
        before = await stores(harness)
        again = await client.post(f"/api/overrides/conversations/{second}/front")
        assert again.status_code == 200, again.text
        assert again.json()["queue_position"] == 1
        assert await stores(harness) == before
    order = [second, third, back, first]
    assert (await res.router.snapshot()).queue == order
    assert await events_of(harness, second) == [
        ("created", agent.id, None),
        ("moved_to_front", admin.id, None),
    ]
    text = "A supervisor moved this request to the front of the queue."
    assert await last_system_message(harness, second) == text

    await _delete_prefix(harness.backend.redis_url, harness.backend.prefix)  # Redis lost it
    assert await reconcile.ensure(res)
    rebuilt = await res.router.snapshot()
    assert rebuilt.queue == order and set(rebuilt.front) == {second, third}
    assert not await reconcile.drift(res)

    # Served in that order; a move is used up once its assignment is committed.
    await online(harness, lead)
    worker = Worker(res, None)
    assert await worker.step() == 1
    assert await db_status(harness, second) == ("assigned", lead.id)
    assert set((await res.router.snapshot()).front) == {third}


async def test_moves_that_cannot_hold_are_refused(harness: Harness) -> None:
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    await online(harness, lead)
    held = await assigned_by_worker(harness, lead, agent)
    (flying,) = await queued(harness, agent)
    (taken,) = await res.router.assign(1)  # a worker between its script and its commit
    assert taken.conversation_id == flying
    await refused(
        harness, admin, f"conversations/{held}/front", None, 409, "conversation_not_queued"
    )
    await refused(
        harness, admin, f"conversations/{flying}/front", None, 409, "conversation_not_queued"
    )
    await refused(harness, admin, "conversations/999999/front", None, 404, "conversation_not_found")


# Assign to a named leader.


async def test_assign_to_a_named_leader(live: LiveServer) -> None:
    harness = live.harness
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    lena = await harness.user(Role.TEAMLEADER, display_name="Lena", capacity=2)
    agent = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, lena)) as lena_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        first, second = await queued(harness, agent, 2)
        await go(lena_socket, "online")  # no worker runs: both wait
        async with harness.signed_in(admin) as client:
            body = {"leader_id": lena.id}
            response = await client.post(f"/api/overrides/conversations/{second}/assign", json=body)
            assert response.status_code == 200, response.text
            assert response.json()["queue_position"] is None
            assert response.json()["conversation"]["assignee_name"] == "Lena"
            got = await lena_socket.expect("assign_conversation")
            assert got["conversation"]["id"] == second
            await agent_socket.until(
                "update_conversation",
                lambda d: (
                    d["conversation"]["id"] == second and d["conversation"]["status"] == "assigned"
                ),
            )
            note = await agent_socket.until(
                "new_message", lambda d: d["message"]["kind"] == "system"
            )
            text = "A supervisor assigned this conversation to Lena."
            assert (note["conversation_id"], note["message"]["body"]) == (second, text)
            # Sent again (its answer lost): answered as it stands, nothing done twice.
            again = await client.post(f"/api/overrides/conversations/{second}/assign", json=body)
            assert again.status_code == 200, again.text
            assert again.json()["conversation"] == response.json()["conversation"]
    snap = await res.router.snapshot()
    assert snap.queue == [first] and snap.inflight == {}
    assert snap.leaders[lena.id].basket == {second} and snap.leaders[lena.id].free == 1
    assert await events_of(harness, second) == [
        ("created", agent.id, None),
        ("assigned", admin.id, lena.id),
    ]
    assert not await reconcile.drift(res)


async def test_assignments_that_cannot_hold_are_refused(harness: Harness) -> None:
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    full = await harness.user(Role.TEAMLEADER, capacity=1)
    away = await harness.user(Role.TEAMLEADER)
    offline = await harness.user(Role.TEAMLEADER)
    roomy = await harness.user(Role.TEAMLEADER, capacity=2)
    agent = await harness.user(Role.AGENT)
    await online(harness, full)
    held = await assigned_by_worker(harness, full, agent)
    await online(harness, away, status=Presence.AWAY)
    waiting, flying = await queued(harness, agent, 2)
    await online(harness, roomy)
    (taken,) = await res.router.assign(1)  # a worker between its script and its commit
    assert taken.conversation_id == waiting
    cases: list[tuple[int, int, int, str]] = [
        (flying, full.id, 409, "leader_full"),
        (flying, away.id, 409, "leader_unavailable"),
        (flying, offline.id, 409, "leader_unavailable"),
        (held, roomy.id, 409, "conversation_not_queued"),
        (waiting, roomy.id, 409, "conversation_not_queued"),  # in flight
        (flying, agent.id, 404, "leader_not_found"),
        (flying, 999999, 404, "leader_not_found"),
        (999999, roomy.id, 404, "conversation_not_found"),
    ]
    for cid, leader_id, status, code in cases:
        path = f"conversations/{cid}/assign"
        await refused(harness, admin, path, {"leader_id": leader_id}, status, code)
    for bad in ({}, {"leader_id": "one"}, {"leader_id": 0}, {"leader_id": roomy.id, "x": 1}):
        await refused(harness, admin, f"conversations/{flying}/assign", bad, 422, "invalid")

    # Redis and the database each a slot off: either one full is enough to refuse.
    await res.router.release(full.id, held)  # Redis says `full` has room; the database not
    path = f"conversations/{flying}/assign"
    await refused(harness, admin, path, {"leader_id": full.id}, 409, "leader_full")
    await res.router.leader_offline(full.id, [])
    await res.router.leader_set(full.id, "online", 1, [held])
    (extra,) = await queued(harness, agent)
    (taken,) = await res.router.assign(1)  # in `roomy`'s basket, not yet in the database
    assert taken == Assignment(flying, roomy.id)
    path = f"conversations/{extra}/assign"
    await refused(harness, admin, path, {"leader_id": roomy.id}, 409, "leader_full")


# Take from a leader.


async def test_take_to_another_leader_then_back_to_the_queue(live: LiveServer) -> None:
    harness = live.harness
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    gina = await harness.user(Role.TEAMLEADER, display_name="Gina")
    theo = await harness.user(Role.TEAMLEADER, display_name="Theo", capacity=1)
    agent = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, gina)) as gina_socket,
        connected(live, await sign_in(harness, theo)) as theo_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        await go(gina_socket, "online")
        cid = await assigned_by_worker(harness, gina, agent)
        await go(theo_socket, "online")
        async with harness.signed_in(admin) as client:
            body = {"leader_id": theo.id, "reason": "Gina is stuck"}
            response = await client.post(f"/api/overrides/conversations/{cid}/take", json=body)
            assert response.status_code == 200, response.text
            assert response.json()["conversation"]["assignee_id"] == theo.id
            assert (await theo_socket.expect("assign_conversation"))["conversation"]["id"] == cid
            await gina_socket.expect("remove_from_basket", conversation_id=cid)
            note = await agent_socket.until(
                "new_message", lambda d: "supervisor" in d["message"]["body"]
            )
            text = "A supervisor transferred this conversation from Gina to Theo."
            assert note["message"]["body"] == text
            again = await client.post(f"/api/overrides/conversations/{cid}/take", json=body)
            assert again.status_code == 200, again.text
            assert again.json()["conversation"]["assignee_id"] == theo.id

            response = await client.post(
                f"/api/overrides/conversations/{cid}/take", json={"leader_id": None}
            )
            assert response.status_code == 200, response.text
            assert response.json()["conversation"]["status"] == "queued"
            assert response.json()["queue_position"] == 1
            await theo_socket.expect("remove_from_basket", conversation_id=cid)
            await agent_socket.until(
                "update_conversation", lambda d: d["conversation"]["status"] == "queued"
            )
    snap = await res.router.snapshot()
    assert snap.queue == [cid] and snap.leaders[theo.id].basket == set()
    assert snap.leaders[gina.id].basket == set()
    assert await res.redis.hget(res.keys.preferred, str(cid)) == f"-{theo.id}"
    assert (await events_of(harness, cid))[-2:] == [
        ("transferred", admin.id, theo.id),
        ("transferred", admin.id, None),
    ]
    text = "A supervisor took this conversation from Theo; back in the queue."
    assert await last_system_message(harness, cid) == text
    assert not await reconcile.drift(res)


async def test_takes_that_cannot_hold_are_refused(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    gina = await harness.user(Role.TEAMLEADER)
    theo = await harness.user(Role.TEAMLEADER, capacity=1)
    away = await harness.user(Role.TEAMLEADER)
    offline = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    await online(harness, theo)
    theos = await assigned_by_worker(harness, theo, agent)
    await online(harness, gina)
    ginas = await assigned_by_worker(harness, gina, agent)
    await online(harness, away, status=Presence.AWAY)
    (waiting,) = await queued(harness, agent)
    cases: list[tuple[int, int | None, int, str]] = [
        (ginas, theo.id, 409, "leader_full"),
        (ginas, away.id, 409, "leader_unavailable"),
        (ginas, offline.id, 409, "leader_unavailable"),
        (ginas, gina.id, 409, "leader_unavailable"),  # already hers
        (ginas, agent.id, 404, "leader_not_found"),
        (waiting, theo.id, 409, "conversation_not_assigned"),
        (waiting, None, 409, "conversation_not_assigned"),
        (999999, None, 404, "conversation_not_found"),
    ]
    for cid, leader_id, status, code in cases:
        await refused(
            harness, admin, f"conversations/{cid}/take", {"leader_id": leader_id}, status, code
        )
    for bad in ({}, {"leader_id": None, "reason": "x" * 501}, {"leader_id": True}):
        await refused(harness, admin, f"conversations/{theos}/take", bad, 422, "invalid")


# Stuck leaders.


async def test_a_stuck_leader_set_away_then_offline(live: LiveServer) -> None:
    harness = live.harness
    res = harness.resources
    admin = await harness.user(Role.ADMIN)
    stuck = await harness.user(Role.TEAMLEADER, display_name="Sam")
    agent = await harness.user(Role.AGENT)
    async with connected(live, await sign_in(harness, stuck)) as sam:
        await go(sam, "online")
        held = [await assigned_by_worker(harness, stuck, agent) for _ in range(2)]
        async with harness.signed_in(admin) as client:
            path = f"/api/overrides/leaders/{stuck.id}/status"
            response = await client.post(path, json={"status": "away"})
            assert response.status_code == 200, response.text
            assert response.json() == {"id": stuck.id, "display_name": "Sam", "status": "away"}
            await sam.expect("ack_status", status="away")
            assert (await res.router.snapshot()).leaders[stuck.id].status == "away"
            response = await client.post(path, json={"status": "offline"})
            assert response.json()["status"] == "offline"
            for cid in held:
                await sam.expect("remove_from_basket", conversation_id=cid)
            await sam.expect("ack_status", status="offline")
            again = await client.post(path, json={"status": "offline"})  # sent again
            assert again.status_code == 200, again.text
    snap = await res.router.snapshot()
    assert snap.queue == held and stuck.id not in snap.leaders
    async with res.sessions() as db:
        log = list(
            await db.execute(
                select(PresenceChange.status, PresenceChange.cause, PresenceChange.actor_id)
                .where(PresenceChange.user_id == stuck.id)
                .order_by(PresenceChange.id)
            )
        )
    assert [tuple(row) for row in log] == [
        ("online", "chosen", None),
        ("away", "admin", admin.id),
        ("offline", "admin", admin.id),
    ]
    for cid in held:
        assert (await events_of(harness, cid))[-1] == ("returned", None, None)
        text = "A supervisor set Sam offline; back in the queue."
        assert await last_system_message(harness, cid) == text
    assert not await reconcile.drift(res)


async def test_status_overrides_that_cannot_hold_are_refused(harness: Harness) -> None:
    admin = await harness.user(Role.ADMIN)
    offline = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    path = f"leaders/{offline.id}/status"
    await refused(harness, admin, path, {"status": "away"}, 409, "leader_unavailable")
    await refused(
        harness, admin, f"leaders/{agent.id}/status", {"status": "offline"}, 404, "leader_not_found"
    )
    await refused(
        harness, admin, "leaders/999999/status", {"status": "offline"}, 404, "leader_not_found"
    )
    for bad in ({"status": "online"}, {"status": "busy"}, {}, {"status": "away", "x": 1}):
        await refused(harness, admin, path, bad, 422, "invalid")


# A commit that fails undoes the Redis step.


def failing_commits(db: Any) -> None:
    def boom(_: Any) -> None:
        raise RuntimeError("the commit failed")

    event.listen(db.sync_session, "before_commit", boom)


async def test_a_failed_commit_undoes_the_routing_step(harness: Harness) -> None:
    res = harness.resources
    admin = Actor.of(await harness.user(Role.ADMIN))
    lead = await harness.user(Role.TEAMLEADER, capacity=3)
    other = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    await online(harness, lead)
    held = await assigned_by_worker(harness, lead, agent)
    await online(harness, other)
    waiting = await queued(harness, agent, 3)

    async def attempt(step: Any) -> None:
        before = await stores(harness)
        async with res.sessions() as db:
            failing_commits(db)
            with pytest.raises(RuntimeError):
                await step(db)
        assert await stores(harness) == before

    for cid in (waiting[2], waiting[0]):
        await attempt(lambda db, cid=cid: overrides.move_to_front(db, res, None, admin, cid))
        await attempt(
            lambda db, cid=cid: overrides.assign(db, res, None, admin, cid, leader_id=lead.id)
        )
    await attempt(lambda db: overrides.take(db, res, None, admin, held, to_leader_id=other.id))
    snapshot: Snapshot = await res.router.snapshot()
    assert snapshot.queue == waiting and snapshot.front == {}
