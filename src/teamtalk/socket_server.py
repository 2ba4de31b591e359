"""The Socket.IO server: which client packets reach a handler, and how many at a time.

python-socketio dispatches a client event by its name, reserved names included: a client
that emits an event called "disconnect" would run the disconnect handler while its socket
stays open. Here only the product's own events pass, with one payload each, and anything
else is answered with an error ack. One socket's events run a few at a time: a flood waits
in a short line and past it is refused, instead of starting a task for every packet; a
client that keeps sending after being refused is cut off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

import socketio
from socketio import packet

from teamtalk.errors import Invalid, NotFound, TooManyRequests

RESERVED = frozenset({"connect", "connect_error", "disconnect", "*"})
RUNNING_PER_SOCKET = 4
WAITING_PER_SOCKET = 32
# A client refused this often for going too fast (a full line, a spent budget) is flooding,
# not busy: each refusal still costs the server a packet read and an answer, so its socket
# is closed.
FLOOD_REFUSALS = 100
FLOOD_WINDOW = 5.0  # seconds

log = logging.getLogger(__name__)

_tasks: set[asyncio.Task[None]] = set()  # held until done: the loop keeps only weak refs


class Line:
    """One socket's events: a few run at once, a few more wait their turn."""

    def __init__(self) -> None:
        self.running = asyncio.Semaphore(RUNNING_PER_SOCKET)
        self.pending = 0
        self.closing = False
        self._refused = 0
        self._window = time.monotonic()

    def flooding(self) -> bool:
        """Counts one refusal; True once they pass FLOOD_REFUSALS within FLOOD_WINDOW."""
        now = time.monotonic()
        if now - self._window > FLOOD_WINDOW:
            self._refused, self._window = 0, now
        self._refused += 1
        return self._refused > FLOOD_REFUSALS


class Server(socketio.AsyncServer):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines: dict[str, Line] = {}

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
        if line.closing:
            return
        if line.pending >= RUNNING_PER_SOCKET + WAITING_PER_SOCKET:
            if self.refused(sid, namespace):
                return
            busy = TooManyRequests(
                "Too many events at once; wait for the answers.", code="rate_limited", retry_after=1
            )
            await self._answer(eio_sid, namespace, id, busy.payload())
            return
        line.pending += 1
        self._spawn(self._run(line, sid, eio_sid, data, namespace, id))

    async def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        if event == "disconnect":  # every way a socket ends comes through here
            self.lines.pop(args[0], None)
        return await super()._trigger_event(event, namespace, *args)

    def refused(self, sid: str, namespace: str = "/") -> bool:
        """Counts a refusal for going too fast (a full line, a spent budget); past
        FLOOD_REFUSALS within FLOOD_WINDOW the socket is cut off, and True returned."""
        line = self.lines.get(sid)
        if line is None or line.closing:
            return line is not None  # already being cut off
        if not line.flooding():
            return False
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is None:  # already gone
            return False
        line.closing = True
        log.warning("socket cut off: it kept sending after being refused", extra={"sid": sid})
        self._spawn(self._cut_off(sid, eio_sid, namespace))
        return True

    async def _cut_off(self, sid: str, eio_sid: str, namespace: str) -> None:
        """Disconnect, and close the connection itself: the frames it has already sent are
        dropped unread instead of being decoded one by one."""
        await self.disconnect(sid, namespace=namespace)
        await self.eio.disconnect(eio_sid)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
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
