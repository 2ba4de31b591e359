"""The presence log: every leader status change is a row with its cause, written in the
change's transaction (the source of online time and occupancy in the reports)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import select

from teamtalk.models import Presence, PresenceCause, PresenceChange, Role, User
from teamtalk.services import presence
from teamtalk.services.users import deactivate_user
from tests.clients import connected, go, sign_in
from tests.conftest import Backend, Harness, LiveServer, harness_with, serving


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    async with harness_with(backend, presence_grace_seconds=0.2) as h:
        yield h


async def log_of(harness: Harness, user_id: int) -> list[tuple[str, str, str, int | None]]:
    async with harness.resources.sessions() as db:
        rows = await db.scalars(
            select(PresenceChange)
            .where(PresenceChange.user_id == user_id)
            .order_by(PresenceChange.id)
        )
        return [(r.previous, r.status, r.cause, r.actor_id) for r in rows]


async def test_chosen_changes_are_logged_once_each(harness: Harness) -> None:
    lead = await harness.user(Role.TEAMLEADER)
    token = await sign_in(harness, lead)
    async with serving(harness) as live, connected(live, token) as socket:
        for status in ("online", "online", "away", "offline"):  # the second is no change
            assert (await go(socket, status))["status"] == status
    assert await log_of(harness, lead.id) == [
        ("offline", "online", "chosen", None),
        ("online", "away", "chosen", None),
        ("away", "offline", "chosen", None),
    ]


async def test_the_system_says_why(harness: Harness) -> None:
    res = harness.resources
    closed_tab, server_died, deactivated = [await harness.user(Role.TEAMLEADER) for _ in range(3)]
    for lead in (closed_tab, server_died):
        async with res.sessions() as db:
            await presence.set_status(db, res, None, lead.id, Presence.ONLINE)
    await presence.disconnected(res, harness.fastapi.state.realtime, closed_tab.id, Role.TEAMLEADER)
    await res.redis.hset(res.keys.user_sockets(server_died.id), "ghost", "1:dead-server")
    await presence.sweep_absent(res)
    await asyncio.sleep(0.3)
    assert sorted(await presence.expire_grace(res, None)) == [closed_tab.id, server_died.id]
    admin = await harness.user(Role.ADMIN)
    async with res.sessions() as db:
        await presence.set_status(db, res, None, deactivated.id, Presence.ONLINE)
    async with res.sessions() as db:
        await deactivate_user(db, res, None, await db.get_one(User, deactivated.id))
    async with res.sessions() as db:
        await presence.set_status(
            db,
            res,
            None,
            closed_tab.id,
            Presence.AWAY,
            cause=PresenceCause.ADMIN,
            actor_id=admin.id,
        )
    assert (await log_of(harness, closed_tab.id))[1:] == [
        ("online", "offline", "grace_ended", None),
        ("offline", "away", "admin", admin.id),
    ]
    assert (await log_of(harness, server_died.id))[1:] == [
        ("online", "offline", "server_lost", None)
    ]
    assert (await log_of(harness, deactivated.id))[1:] == [
        ("online", "offline", "deactivated", None)
    ]


async def test_a_refused_change_logs_nothing(live: LiveServer) -> None:
    harness = live.harness
    agent = await harness.user(Role.AGENT)
    async with connected(live, await sign_in(harness, agent)) as socket:
        assert (await go(socket, "online"))["error"]["code"] == "not_a_teamleader"
    assert await log_of(harness, agent.id) == []


async def test_a_reconnecting_leader_hears_why_only_when_the_system_set_them_offline(
    harness: Harness,
) -> None:
    res = harness.resources
    chose, left = [await harness.user(Role.TEAMLEADER) for _ in range(2)]
    tokens = [await sign_in(harness, lead) for lead in (chose, left)]
    async with serving(harness) as live:
        async with connected(live, tokens[0]) as socket:
            await go(socket, "online")
            await go(socket, "offline")
        async with connected(live, tokens[1]) as socket:
            await go(socket, "online")
        await asyncio.sleep(0.3)
        assert await presence.expire_grace(res, None) == [left.id]
        async with connected(live, tokens[0]) as socket:
            assert await socket.expect("ack_status") == {"status": "offline"}
        async with connected(live, tokens[1]) as socket:
            told = await socket.expect("ack_status")
    assert told["status"] == "offline"
    assert told["offline_reason"] == "grace_ended"
    assert told["grace_seconds"] == 0.2
    async with res.sessions() as db:
        logged = await db.scalar(
            select(PresenceChange.created_at).where(
                PresenceChange.user_id == left.id, PresenceChange.status == "offline"
            )
        )
    assert logged is not None
    assert datetime.fromisoformat(told["offline_since"]) == logged
