"""Socket.IO test clients that record what they receive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
        self.client.on("connect_error", self._refused)

    def _refused(self, data: Any) -> None:
        self.refusal = data

    async def _any(self, event: str, data: Any) -> None:
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

    async def call(self, event: str, data: Any) -> Any:
        return await self.client.call(event, data, timeout=5)


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


async def sign_in(harness: Harness, user: User) -> str:
    async with harness.signed_in(user) as client:
        return client.cookies[COOKIE_NAME]
