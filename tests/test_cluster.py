"""Several processes on one Redis and one database: two `teamtalk serve --no-worker` web
servers and a `teamtalk worker`, as in production behind a load balancer."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx

from teamtalk.models import Role
from teamtalk.services.auth import COOKIE_NAME
from tests.clients import Probe, go
from tests.conftest import PASSWORD, Backend, Harness
from tests.test_serve import free_port


def environment(backend: Backend) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMTALK_")}
    env.update(
        DATABASE_URL=backend.database_url,
        REDIS_URL=backend.redis_url,
        TEAMTALK_REDIS_PREFIX=backend.prefix,
        TEAMTALK_SECRET_KEY="test-secret",
        TEAMTALK_DATA_DIR=str(backend.data_dir),
        TEAMTALK_LOG_FORMAT="text",
        TEAMTALK_LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def processes(backend: Backend, ports: list[int]) -> Iterator[None]:
    env = environment(backend)
    command = [sys.executable, "-m", "teamtalk"]
    procs = [
        subprocess.Popen(
            [*command, "serve", "--no-worker", "--no-demo", "--port", str(port)],
            cwd=backend.data_dir,
            env=env,
        )
        for port in ports
    ]
    procs.append(subprocess.Popen([*command, "worker"], cwd=backend.data_dir, env=env))
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def ready(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"{url}/readyz")).json().get("status") == "ok":
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


async def login(url: str, email: str) -> str:
    async with httpx.AsyncClient(headers={"Origin": url}) as client:
        response = await client.post(
            f"{url}/api/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return response.cookies[COOKIE_NAME]


@asynccontextmanager
async def socket_on(url: str, token: str) -> AsyncIterator[Probe]:
    probe = Probe()
    await probe.client.connect(
        url,
        headers={"Cookie": f"{COOKIE_NAME}={token}"},
        transports=["websocket"],
        wait_timeout=10,
    )
    try:
        yield probe
    finally:
        await probe.client.disconnect()


async def test_two_servers_deliver_to_each_others_clients(harness: Harness) -> None:
    lead = await harness.user(Role.TEAMLEADER)
    agent = await harness.user(Role.AGENT)
    first, second = free_port(), free_port()
    one, two = f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}"
    with processes(harness.backend, [first, second]):
        await ready(one)
        await ready(two)
        leader_token = await login(one, lead.email)
        agent_token = await login(two, agent.email)
        async with socket_on(one, leader_token) as leader, socket_on(two, agent_token) as asker:
            await go(leader, "online")
            async with httpx.AsyncClient(
                headers={"Origin": two}, cookies={COOKIE_NAME: agent_token}
            ) as client:
                response = await client.post(f"{two}/api/conversations", json={"message": "hi"})
                assert response.status_code == 201, response.text
            cid = response.json()["conversation"]["id"]
            # The worker process assigned it; server one delivered it.
            assigned = await leader.expect("assign_conversation", seconds=15)
            assert assigned["conversation"]["id"] == cid

            sent = await asker.say(cid, "from server two")
            got = await leader.until(
                "new_message", lambda d: d["message"]["id"] == sent["message"]["id"]
            )
            assert got["message"]["body"] == "from server two"
            reply = await leader.say(cid, "from server one")
            got = await asker.until(
                "new_message", lambda d: d["message"]["id"] == reply["message"]["id"]
            )
            assert got["message"]["body"] == "from server one"
            # A socket on server two that joined the room hears server one's messages too.
            async with socket_on(two, leader_token) as second_tab:
                joined = await second_tab.call("join_conversation", {"conversation_id": cid})
                assert joined["conversation"]["id"] == cid
                typing = await asker.call("typing", {"conversation_id": cid})
                assert typing == {"conversation_id": cid}
                await second_tab.expect("typing", conversation_id=cid, seconds=10)
