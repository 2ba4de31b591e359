"""How `teamtalk serve` runs uvicorn: header deadline, trusted proxies, WebSocket options."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Awaitable, Iterator
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.supervisors import ChangeReload

from teamtalk.settings import Settings

log = logging.getLogger(__name__)
HEADER_TIMEOUT_SECONDS = 10.0
# What one turn of the event loop parses of a WebSocket's input: a few milliseconds of work.
WEBSOCKET_SLICE_BYTES = 8 * 1024


class ServeConfig(uvicorn.Config):
    """uvicorn's config plus the header deadline, which uvicorn does not have. A config
    rather than a class attribute, so it reaches the `--reload` child (sent by pickle)."""

    def __init__(self, app: Any, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


class HeaderDeadline:
    """Closes the connection unless the request headers are complete in time."""

    def __init__(self, transport: asyncio.Transport, seconds: float) -> None:
        self.transport = transport
        self.seconds = seconds
        self.timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        # Armed once per request, never pushed back: a trickle of bytes does not extend it.
        if self.timer is None and not self.transport.is_closing():
            self.timer = asyncio.get_running_loop().call_later(self.seconds, self._expire)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        self.timer = None
        if not self.transport.is_closing():
            peer = self.transport.get_extra_info("peername")
            log.info("closed a connection from %s: no complete request headers in time", peer)
            self.transport.close()


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for the request line and headers.

    uvicorn's only timer is the keep-alive one, started after a response: a connection that
    sends nothing, or trickles its headers, would otherwise stay open for ever. The deadline
    starts at connect and at the first byte of each later request; it ends once the headers
    are in, so bodies (see middleware.BodyTimeout) and upgraded WebSockets are not cut by it.
    """

    deadline: HeaderDeadline

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        seconds = getattr(self.config, "header_timeout", HEADER_TIMEOUT_SECONDS)
        self.deadline = HeaderDeadline(transport, seconds)
        self.deadline.arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.deadline.arm()

    def on_headers_complete(self) -> None:
        self.deadline.disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline.disarm()
        super().connection_lost(exc)


class PacedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, parsing what one read brought in a slice per turn of the
    event loop.

    One read takes up to 256 KiB off the socket, and uvicorn parses all of it at once: from
    a client that sent thousands of small frames, that held the loop, and every other
    connection of the process, for 150-600 ms. Sliced, the other connections go on between
    slices; what is already queued is dropped unparsed once the connection is closing.
    """

    backlog: bytearray | None = None  # made on the first read larger than a slice

    def data_received(self, data: bytes) -> None:
        backlog = self.backlog
        if not backlog and len(data) <= WEBSOCKET_SLICE_BYTES:
            super().data_received(data)
            return
        if backlog is None:
            backlog = self.backlog = bytearray()
        waiting = bool(backlog)
        backlog += data
        if not waiting:
            self.next_slice()

    def next_slice(self) -> None:
        backlog = self.backlog
        assert backlog is not None
        if self.transport.is_closing():
            backlog.clear()
            return
        piece = bytes(backlog[:WEBSOCKET_SLICE_BYTES])
        del backlog[:WEBSOCKET_SLICE_BYTES]
        super().data_received(piece)
        if backlog:
            self.loop.call_soon(self.next_slice)


def server_config(app: Any, settings: Settings, **overrides: Any) -> ServeConfig:
    """The uvicorn config of `teamtalk serve` (tests run the same one)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "http": HeaderTimeoutProtocol,
        "ws": PacedWebSocketProtocol,
        # X-Forwarded-For/-Proto only from the proxies named; uvicorn would otherwise
        # believe any loopback client, and the login throttle keys on the address.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        # Chat events are small JSON: compressing each one saves little and costs
        # about 42 KiB of memory per connection (bench/messaging.py).
        "ws_per_message_deflate": False,
        "header_timeout": settings.header_timeout_seconds,
    }
    options.update(overrides)
    return ServeConfig(app, **options)


def run(config: ServeConfig) -> None:
    """What uvicorn.run does, for a config of ours (uvicorn.run builds its own)."""
    server = AppServer(config)
    # uvicorn raises a caught Ctrl-C again once it has shut down; that is a clean stop.
    with contextlib.suppress(KeyboardInterrupt):
        if config.should_reload:
            ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    if not server.started and not config.should_reload:
        sys.exit(STARTUP_FAILURE)


class AppServer(uvicorn.Server):
    """uvicorn telling the app it stops before it closes the connections: the leaders whose
    sockets close then lost their server (presence cause server_lost); they did not leave."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        api = getattr(self.config.app, "api", None)
        if api is not None:
            api.state.realtime.stopping = True
        await super().shutdown(sockets)


class QuietServer(uvicorn.Server):
    """uvicorn inside a process that owns its signals (the worker): it leaves them alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def alongside(
    main: Awaitable[None], app: Any, settings: Settings, port: int, stop: asyncio.Event
) -> None:
    """Run `main` with `app` served on `port` beside it, until `main` ends (`stop`)."""
    config = server_config(app, settings, port=port, lifespan="off", access_log=False)
    server = QuietServer(config)
    serve = asyncio.create_task(server.serve())
    try:
        await main
    finally:
        stop.set()
        server.should_exit = True
        await serve
