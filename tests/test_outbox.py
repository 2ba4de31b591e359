"""No committed change goes untold: events are written to the outbox in the change's
transaction, and what their own delivery missed the drain delivers; a server whose event
subscription was down tells its sockets to resync."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.exceptions
from sqlalchemy import func, select

from teamtalk.models import OutboxEntry, Role
from teamtalk.services import outbox
from teamtalk.worker import Worker
from tests.clients import connected, go, request, sign_in
from tests.conftest import Harness, LiveServer


async def entries(harness: Harness) -> int:
    async with harness.resources.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(OutboxEntry)) or 0)


def fail_publishing(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every publish fails as if Redis had gone, until the returned list is emptied."""
    realtime = live.harness.fastapi.state.realtime
    emit_many = realtime.emit_many
    failing = [1]

    async def broken(items: Any, **kwargs: Any) -> None:
        if failing:
            raise redis.exceptions.ConnectionError("Connection closed by server.")
        await emit_many(items, **kwargs)

    monkeypatch.setattr(realtime, "emit_many", broken)
    return failing


async def test_events_whose_delivery_failed_are_delivered_by_the_drain(
    live: LiveServer, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = live.harness
    leader = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, leader)) as leader_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        await leader_socket.expect("sync_basket")
        await go(leader_socket, "online")
        conversation_id = (await request(harness, agent))["conversation"]["id"]
        await leader_socket.expect("assign_conversation")

        failing = fail_publishing(live, monkeypatch)
        async with harness.signed_in(agent) as client:
            sent = await client.post(
                f"/api/conversations/{conversation_id}/messages",
                json={"client_id": "lost-1", "body": "Are you there?"},
            )
        assert sent.status_code == 201, sent.text  # committed: never answered with an error
        await asyncio.sleep(0.3)
        heard = [d["message"]["client_id"] for e, d in leader_socket.drain() if e == "new_message"]
        assert "lost-1" not in heard
        assert await entries(harness) >= 1

        failing.clear()  # Redis is back
        assert await outbox.drain(harness.resources, harness.fastapi.state.realtime, settle=0)
        message = await leader_socket.expect("new_message", conversation_id=conversation_id)
        assert message["message"]["body"] == "Are you there?"
        await agent_socket.eventually(
            "new_message", lambda data: data["message"]["client_id"] == "lost-1"
        )
        assert await entries(harness) == 0


@pytest.mark.usefixtures("worker")
async def test_events_delivered_at_once_are_not_sent_again(live: LiveServer) -> None:
    harness = live.harness
    agent = await harness.user(Role.AGENT)
    async with connected(live, await sign_in(harness, agent)) as agent_socket:
        await request(harness, agent)
        await agent_socket.expect("update_conversation")
        assert await entries(harness) == 1
        sent = await outbox.drain(harness.resources, harness.fastapi.state.realtime, settle=0)
        assert sent == 0
        assert await entries(harness) == 0
        await asyncio.sleep(0.3)
        # Nothing of the outbox again (where the request stands is told outside it).
        assert [e for e, _ in agent_socket.drain() if e != "queue_moved"] == []


@pytest.mark.usefixtures("worker")
async def test_entries_whose_marks_redis_lost_are_sent_again(live: LiveServer) -> None:
    """At least once: Redis lost its data (the delivery marks with it) before the drain, so
    what was delivered already is sent again rather than risk losing what was not."""
    harness = live.harness
    res = harness.resources
    agent = await harness.user(Role.AGENT)
    async with connected(live, await sign_in(harness, agent)) as agent_socket:
        await request(harness, agent)
        first = await agent_socket.expect("update_conversation")
        await res.redis.delete(res.keys.outbox_delivered)
        assert await outbox.drain(res, harness.fastapi.state.realtime, settle=0) == 1
        again = await agent_socket.expect("update_conversation")
        assert again == first
        assert await entries(harness) == 0


async def test_a_server_whose_subscription_dropped_tells_its_sockets_to_resync(
    live: LiveServer,
) -> None:
    harness = live.harness
    agent = await harness.user(Role.AGENT)
    manager = harness.fastapi.state.sio.manager
    res = harness.resources
    async with connected(live, await sign_in(harness, agent)) as agent_socket:
        # The listener's connection goes away, as when Redis restarts (having lost the
        # socket registry with its data).
        await res.redis.delete(res.keys.user_sockets(agent.id))
        await manager.pubsub.connection.disconnect()
        await agent_socket.expect("resync", reason="missed_events")
        assert await res.redis.hlen(res.keys.user_sockets(agent.id)) == 1
        # And it listens again: an event from another process reaches this socket.
        await request(harness, agent)
        await agent_socket.expect("update_conversation")


@pytest.mark.usefixtures("worker")
async def test_a_leader_can_check_their_basket_against_the_database(live: LiveServer) -> None:
    harness = live.harness
    leader = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, leader)) as leader_socket,
        connected(live, await sign_in(harness, agent)) as agent_socket,
    ):
        await go(leader_socket, "online")
        assert await leader_socket.call("basket_ids") == {"conversation_ids": []}
        conversation_id = (await request(harness, agent))["conversation"]["id"]
        await leader_socket.expect("assign_conversation")
        assert await leader_socket.call("basket_ids") == {"conversation_ids": [conversation_id]}
        refused = await agent_socket.call("basket_ids")
        assert refused["error"]["code"] == "not_a_teamleader"
