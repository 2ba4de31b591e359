"""Light Socket.IO clients for the messaging bench, many per process.

    .venv/bin/python bench/swarm.py      (started by bench/messaging.py, never by hand)

A `socketio.AsyncClient` costs far more than what it measures when there are thousands of
them, so each socket here speaks the wire protocol itself over an aiohttp websocket: open
`/socket.io/?EIO=4&transport=websocket` (session cookie in the header, as a browser sends
it), read Engine.IO's open packet `0{...}`, send the Socket.IO connect `40`, wait for `40`
(or the refusal `44`), answer every ping `2` with a pong `3`. Events are `42["name",data]`,
with an ack id `42<id>[...]`; acks come back as `43<id>[data]`.

The process takes commands from the bench on stdin, one JSON object a line
(`{"id": n, "op": ..., ...}`), runs each as a task and answers on stdout with the same id.
Timestamps are `time.monotonic()`, CLOCK_MONOTONIC on Linux: one clock for every process on
the machine, so a send in one swarm and its arrival in another can be compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp

uvloop: Any
try:
    import uvloop
except ImportError:  # optional; comes with uvicorn[standard]
    uvloop = None

NEW_MESSAGE = '42["new_message",'
CONNECT_TIMEOUT = 60.0
ACK_TIMEOUT = 120.0  # for the last acks after a send run: a saturated server drains slowly


class Socket:
    """One Socket.IO client connection on the namespace "/"."""

    __slots__ = ("acks", "group", "next_id", "swarm", "tag", "task", "ws")

    def __init__(self, swarm: Swarm, tag: str, group: str, ws: aiohttp.ClientWebSocketResponse):
        self.swarm = swarm
        self.tag = tag
        self.group = group  # what it counts towards: e.g. "leader", "agent", "idle"
        self.ws = ws
        self.next_id = 0
        self.acks: dict[int, Callable[[Any], None]] = {}
        self.task: asyncio.Task[None] | None = None

    async def emit(self, event: str, data: Any, on_ack: Callable[[Any], None]) -> None:
        ack_id = self.next_id
        self.next_id += 1
        self.acks[ack_id] = on_ack
        await self.ws.send_str(f"42{ack_id}" + json.dumps([event, data], separators=(",", ":")))

    async def call(self, event: str, data: Any, wait: float = 60.0) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(value: Any) -> None:
            if not future.done():
                future.set_result(value)

        await self.emit(event, data, done)
        return await asyncio.wait_for(future, wait)

    async def read(self) -> None:
        swarm = self.swarm
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data: str = msg.data
                if data == "2":  # Engine.IO ping: answer at once or the server drops us
                    await self.ws.send_str("3")
                elif data.startswith("42"):
                    swarm.on_event(self, data)
                elif data.startswith("43"):
                    bracket = data.index("[")
                    callback = self.acks.pop(int(data[2:bracket]), None)
                    if callback is not None:
                        args = json.loads(data[bracket:])
                        callback(args[0] if args else None)
                elif data.startswith("41"):
                    break
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            pass


class Swarm:
    def __init__(self) -> None:
        self.http: aiohttp.ClientSession | None = None
        self.sockets: dict[str, Socket] = {}
        self.counts: dict[str, int] = {}  # new_message received, by group
        self.events: dict[str, int] = {}  # any other event, by name
        self.recording = False
        self.arrivals: dict[str, list[Any]] = {}  # client_id -> [time, group, tag]
        self.duplicates = 0
        self.acked = 0  # send_message acks in a closed-loop flood
        self.sending: asyncio.Task[dict[str, Any]] | None = None
        self.stop_sending = asyncio.Event()

    # ── receiving ────────────────────────────────────────────────────────────────────────

    def on_event(self, sock: Socket, data: str) -> None:
        now = time.monotonic()
        if data.startswith(NEW_MESSAGE):
            self.counts[sock.group] = self.counts.get(sock.group, 0) + 1
            if self.recording:
                payload = json.loads(data[2:])[1]
                client_id = payload["message"]["client_id"]
                key = f"{client_id}|{sock.group}"
                if key in self.arrivals:
                    self.duplicates += 1
                else:
                    self.arrivals[key] = [now, sock.tag]
        else:
            name = data[4 : data.find('"', 4)]
            self.events[name] = self.events.get(name, 0) + 1

    # ── commands ─────────────────────────────────────────────────────────────────────────

    async def connect(
        self, url: str, sockets: list[dict[str, Any]], concurrency: int, deflate: bool
    ) -> dict[str, Any]:
        """Open every socket (tag, group, cookie, query), `concurrency` at a time."""
        if self.http is None:
            self.http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        gate = asyncio.Semaphore(concurrency)
        errors: list[str] = []
        started = time.monotonic()

        async def one(spec: dict[str, Any]) -> None:
            async with gate:
                try:
                    async with asyncio.timeout(2 * CONNECT_TIMEOUT):
                        await self._open(url, spec, deflate)
                except Exception as exc:
                    errors.append(f"{spec['tag']}: {exc!r}"[:300])

        await asyncio.gather(*(one(s) for s in sockets))
        return {
            "connected": len(sockets) - len(errors),
            "errors": len(errors),
            "first_errors": errors[:3],
            "seconds": time.monotonic() - started,
        }

    async def _open(self, url: str, spec: dict[str, Any], deflate: bool) -> None:
        assert self.http is not None
        headers = {"Cookie": spec["cookie"]} if spec.get("cookie") else {}
        query = spec.get("query") or ""
        ws = await self.http.ws_connect(
            f"{url}/socket.io/?EIO=4&transport=websocket{query}",
            headers=headers,
            # A browser always offers permessage-deflate; the server accepts it.
            compress=15 if deflate else 0,
            autoping=True,
            timeout=aiohttp.ClientWSTimeout(ws_receive=CONNECT_TIMEOUT, ws_close=5.0),
        )
        sock = Socket(self, spec["tag"], spec["group"], ws)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):  # pings alone must not keep it waiting
                await self._handshake(sock, ws)
        except BaseException:
            await ws.close()
            raise
        self.sockets[sock.tag] = sock
        sock.task = asyncio.create_task(sock.read())

    async def _handshake(self, sock: Socket, ws: aiohttp.ClientWebSocketResponse) -> None:
        opened = await ws.receive()
        if opened.type != aiohttp.WSMsgType.TEXT or not opened.data.startswith("0"):
            raise RuntimeError(f"no Engine.IO open packet: {opened.data!r}")
        await ws.send_str("40")
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"closed while connecting: {msg.type!r} {msg.data!r}")
            if msg.data.startswith("40"):
                return
            if msg.data.startswith("44"):
                raise RuntimeError(f"refused: {msg.data[:200]}")
            if msg.data == "2":
                await ws.send_str("3")
            elif msg.data.startswith("42"):
                self.on_event(sock, msg.data)

    async def call(
        self, tags: list[str], event: str, data: Any, concurrency: int
    ) -> dict[str, Any]:
        """Emit one event with an ack on each socket; count the answers by their JSON."""
        answers: dict[str, int] = {}
        gate = asyncio.Semaphore(concurrency)

        async def one(tag: str) -> None:
            async with gate:
                try:
                    answer = await self.sockets[tag].call(event, data)
                    key = json.dumps(answer, sort_keys=True)[:200]
                except Exception as exc:
                    key = f"exception: {exc!r}"[:200]
                answers[key] = answers.get(key, 0) + 1

        await asyncio.gather(*(one(t) for t in tags))
        return {"answers": answers}

    async def send(
        self,
        senders: list[dict[str, Any]],
        rate: float,
        seconds: float,
        max_backlog: int,
        run: str,
    ) -> dict[str, Any]:
        """Open loop: message i is due at start + i / rate whatever the answers, from sender
        i mod len(senders). Stops early once more than `max_backlog` acks are outstanding
        (the server fell behind). Returns every send: client_id, due, sent, acked, error."""
        total = round(rate * seconds)
        sends: list[list[Any]] = []
        outstanding = 0
        all_acked = asyncio.Event()
        all_acked.set()
        stopped_at: int | None = None

        def acked(record: list[Any]) -> Callable[[Any], None]:
            def done(answer: Any) -> None:
                nonlocal outstanding
                record[3] = time.monotonic()
                if not isinstance(answer, dict) or "message" not in answer:
                    record[4] = json.dumps(answer)[:200]
                outstanding -= 1
                if outstanding == 0:
                    all_acked.set()

            return done

        start = time.monotonic() + 0.05
        i = 0
        while i < total:
            now = time.monotonic()
            due = start + i / rate
            if due > now:
                await asyncio.sleep(due - now)
                continue
            if outstanding > max_backlog:
                stopped_at = i
                break
            while i < total and start + i / rate <= time.monotonic():
                sender = senders[i % len(senders)]
                client_id = f"{run}-{i}"
                payload = dict(sender["payload"], client_id=client_id, body=f"bench {client_id}")
                record = [client_id, start + i / rate, time.monotonic(), None, None]
                sends.append(record)
                outstanding += 1
                all_acked.clear()
                try:
                    await self.sockets[sender["tag"]].emit("send_message", payload, acked(record))
                except Exception as exc:
                    record[4] = f"send failed: {exc!r}"[:200]
                    outstanding -= 1
                i += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_acked.wait(), ACK_TIMEOUT)
        return {"sends": sends, "stopped_at": stopped_at, "outstanding": outstanding}

    async def flood_start(self, senders: list[dict[str, Any]], window: int, run: str) -> None:
        """Closed loop: every sender keeps `window` messages waiting for their ack."""
        self.stop_sending.clear()
        self.sending = asyncio.create_task(self._flood(senders, window, run))

    async def _flood(self, senders: list[dict[str, Any]], window: int, run: str) -> dict[str, Any]:
        acked = 0
        errors: list[str] = []
        sent = 0

        async def lane(sender: dict[str, Any], lane_id: int) -> None:
            nonlocal acked, sent
            sock = self.sockets[sender["tag"]]
            n = 0
            while not self.stop_sending.is_set():
                client_id = f"{run}-{sender['tag']}-{lane_id}-{n}"
                n += 1
                payload = dict(sender["payload"], client_id=client_id, body=f"bench {client_id}")
                sent += 1
                try:
                    answer = await sock.call("send_message", payload, wait=ACK_TIMEOUT)
                except Exception as exc:
                    errors.append(f"{exc!r}"[:200])
                    await asyncio.sleep(0.1)
                    continue
                if isinstance(answer, dict) and "message" in answer:
                    acked += 1
                    self.acked += 1
                else:
                    errors.append(json.dumps(answer)[:200])
                    await asyncio.sleep(0.1)

        await asyncio.gather(*(lane(s, k) for s in senders for k in range(window)))
        return {"sent": sent, "acked": acked, "errors": len(errors), "first_errors": errors[:3]}

    async def flood_stop(self) -> dict[str, Any]:
        self.stop_sending.set()
        assert self.sending is not None
        return await self.sending

    def counters(self) -> dict[str, Any]:
        return {
            "time": time.monotonic(),
            "counts": dict(self.counts),
            "acked": self.acked,
            "events": dict(self.events),
            "open": sum(1 for sock in self.sockets.values() if not sock.ws.closed),
        }

    def record(self, on: bool) -> dict[str, Any]:
        """Start recording arrivals (clears the last ones), or stop and hand them over."""
        if on:
            self.arrivals = {}
            self.duplicates = 0
        self.recording = on
        return {"arrivals": self.arrivals, "duplicates": self.duplicates}

    async def close(self) -> dict[str, Any]:
        sockets = list(self.sockets.values())
        for i in range(0, len(sockets), 500):
            await asyncio.gather(
                *(s.ws.close() for s in sockets[i : i + 500]), return_exceptions=True
            )
        self.sockets.clear()
        if self.http is not None:
            await self.http.close()
            self.http = None
        return {}

    async def handle(self, command: dict[str, Any]) -> Any:
        op = command.pop("op")
        command.pop("id")
        if op == "connect":
            return await self.connect(**command)
        if op == "call":
            return await self.call(**command)
        if op == "send":
            return await self.send(**command)
        if op == "flood_start":
            await self.flood_start(**command)
            return {}
        if op == "flood_stop":
            return await self.flood_stop()
        if op == "counters":
            return self.counters()
        if op == "record":
            return self.record(**command)
        if op == "close":
            return await self.close()
        raise ValueError(f"unknown op {op!r}")


async def serve() -> None:
    swarm = Swarm()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    tasks: set[asyncio.Task[None]] = set()

    def answer(reply: dict[str, Any]) -> None:
        out.write(json.dumps(reply, separators=(",", ":")) + "\n")
        out.flush()

    async def run(command: dict[str, Any]) -> None:
        request_id = command["id"]
        try:
            result = await swarm.handle(command)
            answer({"id": request_id, "ok": True, "result": result})
        except Exception as exc:
            answer({"id": request_id, "ok": False, "error": repr(exc)[:2000]})

    def spawn(coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    while line := await reader.readline():
        command = json.loads(line)
        if command["op"] == "exit":
            break
        spawn(run(command))
    await swarm.close()


def main() -> None:
    if uvloop is not None:
        uvloop.run(serve())
    else:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
