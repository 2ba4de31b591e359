"""The Socket.IO server: which client packets reach a handler, and how many at a time.

python-socketio dispatches a client event by its name, reserved names included: a client
that emits an event called "disconnect" would run the disconnect handler while its socket
stays open. Here only the product's own events pass, with one payload each, and anything
else is answered with an error ack. One socket's events run a few at a time: a flood waits
in a short line and past it is refused, instead of starting a task for every packet.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from socketio import packet

from teamtalk.errors import Invalid, NotFound, TooManyRequests

RESERVED = frozenset({"connect", "connect_error", "disconnect", "*"})
RUNNING_PER_SOCKET = 4
WAITING_PER_SOCKET = 32

_tasks: set[asyncio.Task[None]] = set()  # held until done: the loop keeps only weak refs


class Line:
    """One socket's events: a few run at once, a few more wait their turn."""

    def __init__(self) -> None:
        self.running = asyncio.Semaphore(RUNNING_PER_SOCKET)
        self.pending = 0


class Server(socketio.AsyncServer):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines: dict[str, Line] = {}  # the disconnect handler drops a socket's line

    def client_events(self, namespace: str) -> set[str]:
        return set(self.handlers.get(namespace, {})) - RESERVED

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        # A socket's frames that have already arrived are read without ever waiting, so a
        # flood would hold the event loop until its last packet; each one lets others run.
        await asyncio.sleep(0)
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return
        refusal = self._screen(namespace, data)
        if refusal is not None:
            await self._answer(eio_sid, namespace, id, refusal)
            return
        line = self.lines.setdefault(sid, Line())
        if line.pending >= RUNNING_PER_SOCKET + WAITING_PER_SOCKET:
            busy = TooManyRequests(
                "Too many events at once; wait for the answers.", code="rate_limited", retry_after=1
            )
            await self._answer(eio_sid, namespace, id, busy.payload())
            return
        line.pending += 1
        task = asyncio.ensure_future(self._run(line, sid, eio_sid, data, namespace, id))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    async def _run(
        self, line: Line, sid: str, eio_sid: str, data: list[Any], namespace: str, id: Any
    ) -> None:
        try:
            async with line.running:
                await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)
        finally:
            line.pending -= 1

    def _screen(self, namespace: str, data: Any) -> dict[str, Any] | None:
        """An error payload for a packet that must not reach a handler, else None."""
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            return Invalid("An event needs a name.", code="invalid_event").payload()
        name = data[0]
        if name not in self.client_events(namespace):
            return NotFound(f"No such event: {name[:50]}.", code="unknown_event").payload()
        if len(data) > 2:
            return Invalid("An event carries one payload.", code="invalid_event").payload()
        return None

    async def _answer(self, eio_sid: str, namespace: str, id: Any, payload: Any) -> None:
        if id is not None:
            ack = self.packet_class(packet.ACK, namespace=namespace, id=id, data=[payload])
            await self._send_packet(eio_sid, ack)
