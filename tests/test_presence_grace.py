"""A leader's disconnect grace period ends on time: the worker waits until the earliest one
ends (a disconnect wakes it to say so), not for its next housekeeping round."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import pytest
from sqlalchemy import select

from teamtalk.models import Conversation, Presence, PresenceChange, Role, User
from teamtalk.worker import Worker
from tests.clients import connected, go, request, sign_in
from tests.conftest import NO_POLLING, Backend, Harness, LiveServer, harness_with, serving

GRACE = 2.0
LATE = 0.5  # how late it may end


@pytest.fixture
async def live_with_grace(backend: Backend) -> AsyncIterator[LiveServer]:
    """A served app with a 2 s grace and a worker that polls only once a minute."""
    async with (
        harness_with(backend, presence_grace_seconds=GRACE, **NO_POLLING) as harness,
        serving(harness) as live,
    ):
        worker = Worker(harness.resources, harness.fastapi.state.realtime)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            yield live
        finally:
            stop.set()
            await task


async def presence_of(harness: Harness, user_id: int) -> str:
    async with harness.resources.sessions() as db:
        return str((await db.get_one(User, user_id)).presence)


async def test_a_leader_goes_offline_when_the_grace_ends(live_with_grace: LiveServer) -> None:
    harness = live_with_grace.harness
    lead = await harness.user(Role.TEAMLEADER)
    async with connected(live_with_grace, await sign_in(harness, lead)) as leader_socket:
        await go(leader_socket, "online")
        await asyncio.sleep(0.2)  # the worker is idle, in its minute-long wait
        gone = time.monotonic()  # just before the disconnect reaches the server
    while await presence_of(harness, lead.id) != Presence.OFFLINE:
        assert time.monotonic() - gone < GRACE + 3, "still online long after the grace"
        await asyncio.sleep(0.02)
    late = time.monotonic() - gone - GRACE
    print(f"offline {late:.3f} s after the grace period ended")
    assert 0 <= late <= LATE


async def test_coming_back_within_the_grace_keeps_the_leader_online(
    live_with_grace: LiveServer,
) -> None:
    harness = live_with_grace.harness
    lead = await harness.user(Role.TEAMLEADER)
    token = await sign_in(harness, lead)
    async with connected(live_with_grace, token) as leader_socket:
        await go(leader_socket, "online")
    await asyncio.sleep(GRACE / 2)
    async with connected(live_with_grace, token) as again:
        assert (await again.expect("ack_status"))["status"] == "online"
        # Past the end of the first grace period, which the worker wakes up for.
        await asyncio.sleep(GRACE / 2 + LATE + 0.5)
        assert await presence_of(harness, lead.id) == Presence.ONLINE
    res = harness.resources
    for _ in range(100):  # gone again: a new grace period starts
        if await res.redis.zscore(res.keys.disconnected, str(lead.id)) is not None:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("no grace period started after the second disconnect")


@asynccontextmanager
async def leader_holding_one(backend: Backend) -> AsyncIterator[tuple[Harness, User, str, int]]:
    """A 2 s grace, no worker running: a leader online with one conversation, whose server
    then stopped (their socket closed as the server shut down)."""
    async with harness_with(backend, presence_grace_seconds=GRACE, **NO_POLLING) as harness:
        lead = await harness.user(Role.TEAMLEADER)
        agent = await harness.user(Role.AGENT)
        token = await sign_in(harness, lead)
        realtime = harness.fastapi.state.realtime
        async with serving(harness) as live, connected(live, token) as leader_socket:
            await go(leader_socket, "online")
            held = (await request(harness, agent))["conversation"]["id"]
            assert await Worker(harness.resources, realtime).burst() == 1
            await leader_socket.expect("assign_conversation")
            realtime.stopping = True
        realtime.stopping = False  # as a new server process starts
        yield harness, lead, token, held


async def test_back_inside_the_grace_after_a_restart_keeps_status_and_basket(
    backend: Backend,
) -> None:
    async with leader_holding_one(backend) as (harness, lead, token, held):
        res = harness.resources
        assert await res.redis.sismember(res.keys.server_lost, str(lead.id))
        async with serving(harness) as live, connected(live, token) as again:
            synced = await again.expect("sync_basket")
            assert [c["id"] for c in synced["conversations"]] == [held]
            assert await again.expect("ack_status") == {"status": "online"}
        assert await presence_of(harness, lead.id) == Presence.ONLINE
        assert not await res.redis.sismember(res.keys.server_lost, str(lead.id))


async def test_back_after_the_grace_ended_unseen_is_offline_with_the_cause(
    backend: Backend,
) -> None:
    async with leader_holding_one(backend) as (harness, lead, token, held):
        res = harness.resources
        started = await res.redis.zscore(res.keys.disconnected, str(lead.id))
        await asyncio.sleep(GRACE + 0.2)  # no server ran to end the grace period
        async with serving(harness) as live, connected(live, token) as again:
            assert (await again.expect("sync_basket"))["conversations"] == []
            ack = await again.expect("ack_status")
        assert ack["status"] == "offline"
        assert ack["offline_reason"] == "server_lost"
        assert ack["grace_seconds"] == GRACE
        since = datetime.fromisoformat(ack["offline_since"]).timestamp()
        assert since == pytest.approx(started / 1000 + GRACE, abs=0.01)
        assert await presence_of(harness, lead.id) == Presence.OFFLINE
        async with res.sessions() as db:
            conversation = await db.get_one(Conversation, held)
            assert (conversation.status, conversation.assignee_id) == ("queued", None)
            latest = await db.scalar(
                select(PresenceChange)
                .where(PresenceChange.user_id == lead.id)
                .order_by(PresenceChange.id.desc())
            )
        assert latest is not None
        assert (latest.previous, latest.status, latest.cause) == (
            "online",
            "offline",
            "server_lost",
        )
        assert (await res.router.snapshot()).queue == [held]
