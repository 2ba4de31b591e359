"""Socket.IO connections: authenticated from the session cookie, origin-checked, reachable
from any teamtalk process."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import socketio

from teamtalk.models import Role
from teamtalk.realtime import live_sockets
from teamtalk.services import presence
from teamtalk.services.auth import COOKIE_NAME
from tests.clients import Probe, connected, refused, sign_in
from tests.conftest import LiveServer


async def test_connect_without_a_session_is_refused(live: LiveServer) -> None:
    for token in (None, "forged-token"):
        probe = Probe()
        with pytest.raises(socketio.exceptions.ConnectionError) as refused:
            await probe.client.connect(
                live.url,
                headers={"Cookie": f"{COOKIE_NAME}={token}"} if token else {},
                transports=["websocket"],
                wait_timeout=5,
            )
        assert "failed to connect" in str(refused.value)
        assert probe.refusal["data"]["error"]["code"] == "not_authenticated"
        await probe.client.disconnect()


async def test_connect_from_a_foreign_origin_is_refused(live: LiveServer) -> None:
    token = await sign_in(live.harness, await live.harness.user())
    probe = Probe()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await probe.client.connect(
            live.url,
            headers={"Cookie": f"{COOKIE_NAME}={token}", "Origin": "https://evil.example"},
            transports=["websocket"],
            wait_timeout=5,
        )
    await probe.client.disconnect()
    # The same session from the app's own origin gets in.
    async with connected(live, token, Origin=live.url) as probe:
        assert probe.client.connected


async def test_an_emit_from_another_process_reaches_the_users_sockets(live: LiveServer) -> None:
    harness = live.harness
    user = await harness.user(Role.AGENT)
    other = await harness.user(Role.AGENT)
    async with (
        connected(live, await sign_in(harness, user)) as probe,
        connected(live, await sign_in(harness, other)) as bystander,
    ):
        script = (
            "import asyncio, sys\n"
            "from redis.asyncio import Redis\n"
            "from teamtalk.realtime import Realtime\n"
            "from teamtalk.routing.keys import Keys\n"
            "async def main(url, prefix, user_id):\n"
            "    redis = Redis.from_url(url)\n"
            "    rt = Realtime.write_only(url, redis, Keys(prefix))\n"
            "    await rt.emit_to_user(int(user_id), 'hello', {'from': 'elsewhere'})\n"
            "    await rt.close()\n"
            "    await redis.aclose()\n"
            "asyncio.run(main(*sys.argv[1:]))\n"
        )
        settings = harness.settings
        await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-c",
                script,
                settings.redis_url or "",
                settings.redis_prefix,
                str(user.id),
            ],
            check=True,
            timeout=30,
        )
        assert await probe.next() == ("hello", {"from": "elsewhere"})
        await asyncio.sleep(0.2)
        assert bystander.events.empty()


async def test_deactivation_disconnects_the_users_sockets(live: LiveServer) -> None:
    harness = live.harness
    admin = await harness.user(Role.ADMIN)
    agent = await harness.user()
    async with (
        connected(live, await sign_in(harness, agent)) as probe,
        harness.signed_in(admin) as client,
    ):
        assert (await client.post(f"/api/users/{agent.id}/deactivate")).status_code == 200
        await asyncio.wait_for(probe.disconnected.wait(), 5)


async def test_logout_disconnects_only_that_sessions_sockets(live: LiveServer) -> None:
    harness = live.harness
    agent = await harness.user()
    laptop_token = await sign_in(harness, agent)
    async with harness.signed_in(agent) as phone, connected(live, laptop_token) as laptop:
        async with connected(live, phone.cookies[COOKIE_NAME]) as phone_socket:
            assert (await phone.post("/api/auth/logout")).status_code == 204
            await asyncio.wait_for(phone_socket.disconnected.wait(), 5)
        await asyncio.sleep(0.2)
        assert laptop.client.connected and not laptop.disconnected.is_set()


async def test_a_connect_that_fails_inside_is_refused_not_left_hanging(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = live.harness
    user = await harness.user(Role.TEAMLEADER)
    token = await sign_in(harness, user)

    async def busy(*_: object) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(presence, "connected", busy)  # after the socket was registered
    assert (await refused(live, token))["code"] == "unavailable"
    res = harness.resources
    assert await live_sockets(res.redis, res.keys, user.id) == {}


async def test_a_burst_of_redis_commands_waits_for_connections(live: LiveServer) -> None:
    """More commands at once than the pool has connections: they queue, none fails."""
    res = live.harness.resources
    key = res.keys.prefix + "burst"
    done = await asyncio.gather(*(res.redis.incr(key) for _ in range(600)))
    assert sorted(done) == list(range(1, 601))
    await res.redis.delete(key)
