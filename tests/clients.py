"""Socket.IO test clients that record what they receive."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import socketio

from teamtalk.models import User
from teamtalk.services.auth import COOKIE_NAME
from tests.conftest import Harness, LiveServer


class Probe:
    """A socket client that records what it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.disconnected = asyncio.Event()
        self.client.on("*", self._any)
        self.client.on("disconnect", lambda *_: self.disconnected.set())
        self.refusal: Any = None
        self.log: list[tuple[str, Any]] = []  # everything received, read or not
        self.client.on("connect_error", self._refused)

    def _refused(self, data: Any) -> None:
        self.refusal = data

    async def _any(self, event: str, data: Any) -> None:
        self.log.append((event, data))
        await self.events.put((event, data))

    async def next(self) -> tuple[str, Any]:
        async with asyncio.timeout(5):
            return await self.events.get()

    async def expect(self, event: str, seconds: float = 5, **where: Any) -> Any:
        """The data of the next `event` whose top-level fields match `where`, skipping others."""
        async with asyncio.timeout(seconds):
            while True:
                name, data = await self.events.get()
                if name == event and all(data.get(k) == v for k, v in where.items()):
                    return data

    async def until(self, event: str, check: Callable[[Any], bool], seconds: float = 5) -> Any:
        """The data of the next `event` for which `check` holds, skipping others."""
        async with asyncio.timeout(seconds):
            while True:
                name, data = await self.events.get()
                if name == event and check(data):
                    return data

    async def eventually(self, event: str, check: Callable[[Any], bool], seconds: float = 5) -> Any:
        """Like `until`, but also finds an event already received and skipped."""
        for name, data in self.log:
            if name == event and check(data):
                return data
        return await self.until(event, check, seconds)

    def drain(self) -> list[tuple[str, Any]]:
        """Everything received and not yet read."""
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.client.call(event, data, timeout=5)

    async def say(self, conversation_id: int, body: str, client_id: str | None = None) -> Any:
        """send_message; returns the ack."""
        payload = {
            "conversation_id": conversation_id,
            "client_id": client_id or uuid.uuid4().hex,
            "body": body,
        }
        return await self.call("send_message", payload)


@asynccontextmanager
async def connected(live: LiveServer, token: str | None, **headers: str) -> AsyncIterator[Probe]:
    probe = Probe()
    if token:
        headers["Cookie"] = f"{COOKIE_NAME}={token}"
    await probe.client.connect(live.url, headers=headers, transports=["websocket"], wait_timeout=5)
    try:
        yield probe
    finally:
        await probe.client.disconnect()


async def refused(live: LiveServer, token: str | None, **headers: str) -> Any:
    """Connects with this cookie, expecting a refusal; its error payload."""
    probe = Probe()
    if token:
        headers["Cookie"] = f"{COOKIE_NAME}={token}"
    try:
        await probe.client.connect(
            live.url, headers=headers, transports=["websocket"], wait_timeout=5
        )
    except socketio.exceptions.ConnectionError:
        return probe.refusal["data"]["error"]
    finally:
        await probe.client.disconnect()
    raise AssertionError("the connection was accepted")


async def go(probe: Probe, status: str) -> Any:
    return await probe.call("set_status", {"status": status})


async def request(harness: Harness, agent: User, message: str = "Need help") -> dict[str, Any]:
    """An agent's new request over HTTP; the response body."""
    async with harness.signed_in(agent) as client:
        response = await client.post("/api/conversations", json={"message": message})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def sign_in(harness: Harness, user: User) -> str:
    async with harness.signed_in(user) as client:
        return client.cookies[COOKIE_NAME]
