"""A socket obeys its session for as long as it is open (issue 8, findings 1 and 2).

Each test replays an attack that once worked: a client-sent "disconnect" that took the
socket out of the registry, so logout and deactivation no longer reached it; a role or an
expiry that was read once, at connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import socketio
from sqlalchemy import func, select, update

from teamtalk.models import Message, Role, Session, User, utcnow
from teamtalk.realtime import live_sockets
from teamtalk.services.auth import COOKIE_NAME
from tests.clients import Probe, connected, refused, request, sign_in
from tests.conftest import Backend, Harness, LiveServer, harness_with, serving, sweeping

SWEPT = 5.0  # seconds: the sweep runs every second; generous for a loaded CI machine


@pytest.fixture
async def swept(live: LiveServer) -> AsyncIterator[LiveServer]:
    async with sweeping(live.harness):
        yield live


async def message_count(harness: Harness, conversation_id: int) -> int:
    async with harness.resources.sessions() as db:
        query = select(func.count()).where(Message.conversation_id == conversation_id)
        return int(await db.scalar(query) or 0)


async def registered(harness: Harness, user: User) -> set[str]:
    res = harness.resources
    return set(await live_sockets(res.redis, res.keys, user.id))


async def refused_or_gone(probe: Probe, conversation_id: int) -> None:
    """A send from this socket stores nothing: it is refused, or the socket is closed."""
    if probe.client.connected:
        try:
            ack = await probe.say(conversation_id, "after the session ended")
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return
        assert "error" in ack, ack


@pytest.mark.parametrize("reserved", ["disconnect", "connect", "connect_error"])
async def test_reserved_event_names_from_a_client_run_no_handler(
    swept: LiveServer, reserved: str
) -> None:
    harness = swept.harness
    agent = await harness.user()
    async with harness.signed_in(agent) as client:
        token = client.cookies[COOKIE_NAME]
        async with connected(swept, token) as probe:
            sid = probe.client.get_sid()
            payload = {"HTTP_COOKIE": f"{COOKIE_NAME}={token}"}
            ack = await probe.call(reserved, payload)
            assert ack["error"]["code"] == "unknown_event"
            # Still registered, so a logout still reaches it.
            assert sid in await registered(harness, agent)
            assert (await client.post("/api/auth/logout")).status_code == 204
            await asyncio.wait_for(probe.disconnected.wait(), SWEPT)


async def test_logout_after_a_fake_disconnect_stops_the_socket(swept: LiveServer) -> None:
    harness = swept.harness
    agent = await harness.user()
    created = await request(harness, agent)
    conversation_id = created["conversation"]["id"]
    async with (
        harness.signed_in(agent) as client,
        connected(swept, client.cookies[COOKIE_NAME]) as probe,
    ):
        await probe.call("disconnect", {})
        before = await message_count(harness, conversation_id)
        assert (await client.post("/api/auth/logout")).status_code == 204
        await asyncio.wait_for(probe.disconnected.wait(), SWEPT)
        await refused_or_gone(probe, conversation_id)
    assert await message_count(harness, conversation_id) == before


async def test_a_deactivated_admin_cannot_join_or_write(swept: LiveServer) -> None:
    harness = swept.harness
    boss = await harness.user(Role.ADMIN)
    rogue = await harness.user(Role.ADMIN)
    agent = await harness.user()
    conversation_id = (await request(harness, agent))["conversation"]["id"]
    async with connected(swept, await sign_in(harness, rogue)) as probe:
        await probe.call("disconnect", {})
        async with harness.signed_in(boss) as client:
            response = await client.post(f"/api/users/{rogue.id}/deactivate")
            assert response.status_code == 200
        await asyncio.wait_for(probe.disconnected.wait(), SWEPT)
        before = await message_count(harness, conversation_id)
        if probe.client.connected:
            ack = await probe.call("join_conversation", {"conversation_id": conversation_id})
            assert "error" in ack
        await refused_or_gone(probe, conversation_id)
    assert await message_count(harness, conversation_id) == before


async def test_a_demoted_admin_loses_what_the_role_gave(swept: LiveServer) -> None:
    harness = swept.harness
    boss = await harness.user(Role.ADMIN)
    demoted = await harness.user(Role.ADMIN)
    agent = await harness.user()
    conversation_id = (await request(harness, agent))["conversation"]["id"]
    token = await sign_in(harness, demoted)
    async with connected(swept, token) as probe:
        ack = await probe.call("join_conversation", {"conversation_id": conversation_id})
        assert "conversation" in ack  # an admin may
        async with harness.signed_in(boss) as client:
            body = {"role": "agent"}
            assert (await client.patch(f"/api/users/{demoted.id}", json=body)).status_code == 200
        await asyncio.wait_for(probe.disconnected.wait(), SWEPT)
    # The same sign-in reconnects as what it now is: an agent, a stranger to this request.
    async with connected(swept, token) as again:
        ack = await again.call("join_conversation", {"conversation_id": conversation_id})
        assert ack["error"]["code"] == "conversation_not_found"
        before = await message_count(harness, conversation_id)
        ack = await again.say(conversation_id, "still an admin?")
        assert "error" in ack
    assert await message_count(harness, conversation_id) == before


async def test_a_role_changed_behind_the_servers_back_is_seen_within_seconds(
    swept: LiveServer,
) -> None:
    """No disconnect message at all (another process, a lost publish): the sweep sees it."""
    harness = swept.harness
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user()
    conversation_id = (await request(harness, agent))["conversation"]["id"]
    async with connected(swept, await sign_in(harness, admin)) as probe:
        async with harness.resources.sessions() as db:
            await db.execute(update(User).where(User.id == admin.id).values(role="agent"))
            await db.commit()
        await asyncio.wait_for(probe.disconnected.wait(), SWEPT)
        await refused_or_gone(probe, conversation_id)


async def test_an_expired_session_closes_its_socket(swept: LiveServer) -> None:
    harness = swept.harness
    agent = await harness.user()
    conversation_id = (await request(harness, agent))["conversation"]["id"]
    async with (
        harness.signed_in(agent) as client,
        connected(swept, client.cookies[COOKIE_NAME]) as probe,
    ):
        assert "message" in await probe.say(conversation_id, "still here")
        idle = timedelta(minutes=harness.settings.session_idle_minutes + 1)
        async with harness.resources.sessions() as db:
            stale = utcnow() - idle
            await db.execute(
                update(Session).where(Session.user_id == agent.id).values(last_seen_at=stale)
            )
            await db.commit()
        await asyncio.wait_for(probe.disconnected.wait(), SWEPT)
        before = await message_count(harness, conversation_id)
        await refused_or_gone(probe, conversation_id)
        assert (await client.get("/api/me")).status_code == 401
    assert await message_count(harness, conversation_id) == before


async def test_socket_events_keep_the_session_in_use(swept: LiveServer) -> None:
    """The socket and the HTTP API agree: a chat over the socket is use of the sign-in."""
    harness = swept.harness
    agent = await harness.user()
    conversation_id = (await request(harness, agent))["conversation"]["id"]
    async with (
        harness.signed_in(agent) as client,
        connected(swept, client.cookies[COOKIE_NAME]) as probe,
    ):
        earlier = utcnow() - timedelta(minutes=5)
        async with harness.resources.sessions() as db:
            await db.execute(
                update(Session).where(Session.user_id == agent.id).values(last_seen_at=earlier)
            )
            await db.commit()
        assert "message" in await probe.say(conversation_id, "typing away")

        async def touched() -> None:
            while True:
                async with harness.resources.sessions() as db:
                    seen = await db.scalar(
                        select(func.max(Session.last_seen_at)).where(Session.user_id == agent.id)
                    )
                if seen is not None and seen > earlier + timedelta(minutes=4):
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(touched(), SWEPT)
        assert probe.client.connected


async def test_malformed_events_are_answered(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    harness = live.harness
    agent = await harness.user()
    caplog.set_level(logging.WARNING)
    async with connected(live, await sign_in(harness, agent)) as probe:
        two = await probe.client.call("sync", ({"since": []}, {"extra": 1}), timeout=5)
        assert two["error"]["code"] == "invalid_event"
        nameless = await probe.client.call(123, {}, timeout=5)
        assert nameless["error"]["code"] == "invalid_event"
        unknown = await probe.client.call("drop_tables", {}, timeout=5)
        assert unknown["error"]["code"] == "unknown_event"
        empty = await probe.client.call("sync", timeout=5)
        assert empty["error"]["code"] == "invalid"
        # The socket still works.
        assert (await probe.call("sync", {"since": []}))["messages"] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_sockets_per_user_are_capped(backend: Backend) -> None:
    async with harness_with(backend, max_sockets_per_user=3) as harness, serving(harness) as live:
        agent = await harness.user()
        token = await sign_in(harness, agent)
        stack = contextlib.AsyncExitStack()
        opened = [await stack.enter_async_context(connected(live, token)) for _ in range(3)]
        assert (await refused(live, token))["code"] == "too_many_connections"
        assert len(await registered(harness, agent)) == 3
        # Closing one makes room again.
        await opened.pop().client.disconnect()
        async with connected(live, token) as again:
            assert again.client.connected
        await stack.aclose()


async def test_a_stranger_cannot_use_someone_elses_sid(swept: LiveServer) -> None:
    """Identity is the socket's own session: nothing in a payload names the sender."""
    harness = swept.harness
    agent = await harness.user()
    stranger = await harness.user()
    conversation_id = (await request(harness, agent))["conversation"]["id"]
    async with connected(swept, await sign_in(harness, stranger)) as probe:
        ack = await probe.call(
            "send_message",
            {
                "conversation_id": conversation_id,
                "client_id": uuid.uuid4().hex,
                "body": "hi",
                "sender_id": agent.id,
            },
        )
        assert ack["error"]["code"] == "invalid"
        ack = await probe.say(conversation_id, "let me in")
        assert ack["error"]["code"] == "conversation_not_found"
