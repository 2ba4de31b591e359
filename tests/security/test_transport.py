"""The transport of `teamtalk serve`: header and body deadlines, forwarded headers only from
trusted proxies, and the Host check against DNS rebinding. Served by uvicorn with the very
config `teamtalk serve` builds (serving.server_config)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from websockets.asyncio.client import connect

from teamtalk import serving
from teamtalk.models import Session
from teamtalk.services.auth import COOKIE_NAME
from tests.conftest import PASSWORD, Backend, Harness, harness_with

TIMEOUT = 1.0  # both deadlines in these tests
QUICK = {"header_timeout_seconds": TIMEOUT, "body_timeout_seconds": TIMEOUT}


@asynccontextmanager
async def served(backend: Backend, **overrides: Any) -> AsyncIterator[tuple[Harness, int]]:
    async with harness_with(backend, **overrides) as harness:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        config = serving.server_config(harness.asgi, harness.settings, lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            yield harness, sock.getsockname()[1]
        finally:
            server.should_exit = True
            await task
            sock.close()


@asynccontextmanager
async def opened(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    # Closed even when a test fails: uvicorn's shutdown waits for a request in progress.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def until_closed(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(4096):
                received += chunk
    return received


async def trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> float:
    """Send a byte at a time; returns when the last one went out before the server hung up."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    with contextlib.suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            last = loop.time()
            await asyncio.sleep(every)
    return last


async def test_connections_without_complete_headers_are_closed(backend: Backend) -> None:
    async with served(backend, **QUICK) as (_, port):
        loop = asyncio.get_running_loop()

        async def silent() -> float:
            started = loop.time()
            async with opened(port) as (reader, _):
                assert await until_closed(reader) == b""
            return loop.time() - started

        async def trickled() -> tuple[float, float]:
            started = loop.time()
            headers = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: a\r\n" * 50
            async with opened(port) as (reader, writer):
                sending = asyncio.create_task(trickle(writer, headers, 0.05))
                assert await until_closed(reader) == b""
                elapsed = loop.time() - started
            return elapsed, await sending - started

        async def second_request() -> float:
            async with opened(port) as (reader, writer):
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
                await reader.readexactly(len(b'{"status":"ok"}'))
                started = loop.time()
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.")  # and nothing more
                assert await until_closed(reader) == b""
            return loop.time() - started

        async def websocket() -> str:
            # Upgraded: idle past both deadlines, then still answering.
            url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
            async with connect(url) as ws:
                assert str(await ws.recv()).startswith("0")  # Engine.IO open
                await asyncio.sleep(3 * TIMEOUT)
                await ws.send("40")  # Socket.IO connect: answered, accepted or not
                return str(await asyncio.wait_for(ws.recv(), 5))

        quiet, (slow, last_byte), second, ws_reply = await asyncio.gather(
            silent(), trickled(), second_request(), websocket()
        )
    assert TIMEOUT * 0.9 <= quiet < TIMEOUT + 1.5
    assert TIMEOUT * 0.9 <= slow < TIMEOUT + 1.5
    # Bytes kept coming through the second half of the deadline, and did not extend it (a
    # count of bytes would also measure how often a loaded machine let the sender run).
    assert TIMEOUT / 2 < last_byte <= slow
    assert TIMEOUT * 0.9 <= second < TIMEOUT + 1.5
    assert ws_reply.startswith("4")


def http_answer(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize("shape", ["stalled", "chunked", "trickled", "socket.io"])
async def test_a_body_that_does_not_arrive_in_time_is_answered_408(
    backend: Backend, shape: str
) -> None:
    async with served(backend, **QUICK) as (_, port):
        path, kind = "/api/auth/login", "application/json"
        if shape == "socket.io":
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                handshake = await client.get(
                    "/socket.io/", params={"EIO": 4, "transport": "polling"}
                )
            sid = json.loads(handshake.text[1:])["sid"]
            path, kind = f"/socket.io/?EIO=4&transport=polling&sid={sid}", "text/plain"
        framing = "Transfer-Encoding: chunked" if shape == "chunked" else "Content-Length: 200"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: {kind}\r\n{framing}\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        async with opened(port) as (reader, writer):
            started = loop.time()
            writer.write(head)
            sending = None
            if shape == "chunked":
                writer.write(b'9\r\n{"email":\r\n')
            elif shape == "trickled":
                # A byte every 50 ms, never 1 s apart, would take 10 s.
                sending = asyncio.create_task(trickle(writer, b"x" * 200, 0.05))
            else:
                writer.write(b'{"email":')
            raw = await until_closed(reader)
            elapsed = loop.time() - started
            if sending is not None:
                sending.cancel()
    status, headers, body = http_answer(raw)
    assert status == 408
    assert body["error"]["code"] == "request_timeout"
    assert headers["connection"] == "close"
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 1.5


async def through(backend: Backend, trusted: list[str], limit: int) -> dict[str, Any]:
    """What a client on this machine gets, sending X-Forwarded-For and -Proto."""
    overrides = {"trusted_proxies": trusted, "login_max_failures_per_address": limit}
    async with (
        served(backend, **overrides) as (harness, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        user = await harness.user()
        signed_in = await client.post(
            "/api/auth/login",
            json={"email": user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        )
        assert signed_in.status_code == 200
        async with harness.resources.sessions() as db:
            ip = await db.scalar(select(Session.ip).where(Session.user_id == user.id))
        # A guesser rotating X-Forwarded-For on every try.
        client.cookies.clear()
        statuses = []
        for i in range(limit + 2):
            response = await client.post(
                "/api/auth/login",
                json={"email": f"nobody{i}@example.com", "password": "x" * 9},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            statuses.append(response.status_code)
    cookie = next(c for c in signed_in.headers.get_list("set-cookie") if COOKIE_NAME in c)
    return {"ip": ip, "secure": "secure" in cookie.lower(), "statuses": statuses}


async def test_forwarded_headers_count_only_from_trusted_proxies(backend: Backend) -> None:
    limit = 3
    # No proxy configured: the connection's own address, however the header rotates.
    untrusted = await through(backend, [], limit)
    assert untrusted["ip"] == "127.0.0.1" and not untrusted["secure"]
    assert untrusted["statuses"][:limit] == [401] * limit
    assert untrusted["statuses"][-1] == 429
    # From a configured proxy: each try from the client the proxy names.
    for trusted in (["127.0.0.1"], ["127.0.0.0/8"]):
        proxied = await through(backend, trusted, limit)
        assert proxied == {"ip": "203.0.113.9", "secure": True, "statuses": [401] * (limit + 2)}


def test_trusted_proxies_must_be_addresses() -> None:
    from pydantic import ValidationError

    from teamtalk.settings import Settings

    settings = Settings.model_validate({"trusted_proxies": "10.0.0.1, 10.1.0.0/16,::1"})
    assert settings.trusted_proxies == ["10.0.0.1/32", "10.1.0.0/16", "::1/128"]
    with pytest.raises(ValidationError):
        Settings.model_validate({"trusted_proxies": "proxy.internal"})


REFUSED = ["rebind.example", "rebind.example:8000", "localhost.rebind.example", "a@127.0.0.1"]
SERVED = [
    "localhost",
    "localhost:5173",
    "127.0.0.1:8000",
    "[::1]:8000",
    "10.1.2.3:8000",  # an address: the browser connected to it, no name to rebind
    "chat.example.com",  # TEAMTALK_ALLOWED_HOSTS
    "support.example.com:8443",  # the host of an allowed origin
    "testserver",
]


async def test_requests_for_another_host_are_refused(backend: Backend) -> None:
    overrides = {
        "allowed_hosts": ["testserver", "chat.example.com"],
        "allowed_origins": ["https://support.example.com"],
    }
    async with harness_with(backend, **overrides) as harness, harness.client() as client:
        user = await harness.user()
        for host in REFUSED:
            origin = f"http://{host}"  # the rebinding page's own origin, Host to match
            headers = {"Host": host, "Origin": origin}
            login = await client.post(
                "/api/auth/login",
                json={"email": user.email, "password": PASSWORD},
                headers=headers,
            )
            page = await client.get("/", headers=headers)
            handshake = await client.get(
                "/socket.io/", params={"EIO": 4, "transport": "polling"}, headers=headers
            )
            for response in (login, page, handshake):
                assert response.status_code == 400, (host, response.url, response.text)
                assert response.json()["error"]["code"] == "host_not_allowed"
        for host in SERVED:
            response = await client.get("/healthz", headers={"Host": host})
            assert response.status_code == 200, host


@pytest.mark.parametrize("denial_extension", [True, False])
async def test_a_websocket_for_another_host_is_refused(
    harness: Harness, denial_extension: bool
) -> None:
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/socket.io/",
        "raw_path": b"/socket.io/",
        "query_string": b"EIO=4&transport=websocket",
        "headers": [(b"host", b"rebind.example"), (b"origin", b"http://rebind.example")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}} if denial_extension else {},
    }
    sent: list[dict[str, Any]] = []
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    incoming.put_nowait({"type": "websocket.connect"})

    async def receive() -> dict[str, Any]:
        return await incoming.get()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(harness.asgi(scope, receive, send), 5)
    if denial_extension:
        assert sent[0]["type"] == "websocket.http.response.start"
        assert sent[0]["status"] == 400
        body = b"".join(m.get("body", b"") for m in sent[1:])
        assert json.loads(body)["error"]["code"] == "host_not_allowed"
    else:
        assert sent == [{"type": "websocket.close", "code": 1008}]
