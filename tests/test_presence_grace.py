"""A leader's disconnect grace period ends on time: the worker waits until the earliest one
ends (a disconnect wakes it to say so), not for its next housekeeping round."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from teamtalk.models import Presence, Role, User
from teamtalk.worker import Worker
from tests.clients import connected, go, sign_in
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
