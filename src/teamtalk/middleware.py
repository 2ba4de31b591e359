"""ASGI middleware: Host check, body deadline, cross-site request refusal, body size limits
and request timing."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from teamtalk import metrics
from teamtalk.errors import PayloadTooLarge, TeamTalkError, error_payload
from teamtalk.services.auth import COOKIE_NAME

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 256 * 1024
BODY_TIMEOUT_SECONDS = 15.0
LOOPBACK_NAMES = frozenset({"localhost"})
# A name or an IP literal, then an optional port: nothing else belongs in a Host header.
HOST_HEADER = re.compile(r"(?P<name>[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")


def own_origin(scheme: str, host: str | None) -> str | None:
    if not host:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return f"{scheme}://{host}".lower()


def origin_allowed(origin: str, own: str | None, allowed: list[str]) -> bool:
    origin = origin.rstrip("/").lower()
    return origin == own or origin in {o.lower() for o in allowed}


def request_origin(headers: Headers) -> str | None:
    """The Origin header, else the origin part of the Referer."""
    if origin := headers.get("origin"):
        return origin
    if referer := headers.get("referer"):
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


class OriginGuard:
    """Refuses state-changing requests sent from another site.

    SameSite=Lax already keeps the cookie off most cross-site requests; this catches
    the rest (old browsers, sibling subdomains) and login CSRF.
    """

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            origin = request_origin(headers)
            has_cookie = COOKIE_NAME in headers.get("cookie", "")
            own = own_origin(scope["scheme"], headers.get("host"))
            if (origin is None and has_cookie) or (
                origin is not None and not origin_allowed(origin, own, self.allowed)
            ):
                response = JSONResponse(
                    error_payload("origin_not_allowed", "Cross-site request refused."), 403
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for request bodies over the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await _error_response(PayloadTooLarge(), scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No declared length (chunked): read it here, so the answer can still be a 413.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _error_response(PayloadTooLarge(), scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _error_response(exc: TeamTalkError, scope: Scope, receive: Receive, send: Send) -> None:
    response: Any = JSONResponse(exc.payload(), exc.status, headers=exc.headers)
    await response(scope, receive, send)


def host_name(host: str) -> str | None:
    """The name part of a Host header (lower case, IPv6 without brackets), None if malformed."""
    match = HOST_HEADER.fullmatch(host.strip().lower())
    if match is None:
        return None
    return match["name"].strip("[]")


def allowed_hosts(origins: Iterable[str], hosts: Iterable[str]) -> frozenset[str]:
    """Names besides loopback and IP addresses: the configured ones, and those of the
    origins allowed to call us."""
    names = {h.lower() for h in hosts}
    names.update(n for o in origins if (n := urlsplit(o).hostname))
    return frozenset(names)


def host_allowed(host: str | None, allowed: frozenset[str]) -> bool:
    if host is None:
        return True  # not a browser (they always send one), and no own origin to fake
    name = host_name(host)
    if name is None:
        return False
    if name in LOOPBACK_NAMES or name in allowed:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostGuard:
    """Refuses requests and WebSockets for a Host that is not ours.

    The own origin the Origin checks accept (here and in sockets.py) comes from the Host
    header. A page on a name the attacker controls, re-pointed by DNS to this server (DNS
    rebinding), would send its own name as both, so it would pass as same-site. Only names
    are at risk: an IP address in the Host means the browser connected to that address.
    """

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host")
            if not host_allowed(host, self.allowed):
                message = f"This server does not answer for host {host!r}."
                response = JSONResponse(error_payload("host_not_allowed", message[:200]), 400)
                if scope["type"] == "websocket":
                    await _deny_websocket(response, scope, receive, send)
                else:
                    await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _deny_websocket(
    response: JSONResponse, scope: Scope, receive: Receive, send: Send
) -> None:
    if "websocket.http.response" in scope.get("extensions", {}):
        await response(scope, receive, send)  # Starlette sends it as a denial response
    else:
        await send({"type": "websocket.close", "code": 1008})


class BodyTimeout:
    """408 for a request body that does not arrive in time, stalled or trickled.

    The deadline covers the whole body from the app's first read of it; once the body is in,
    later reads (waiting for the client to go away) are not limited. Outside Socket.IO, so
    its polling POSTs are held to it too. The app's read fails rather than seeing the end of
    the body: Engine.IO would otherwise take the part that came for a whole payload.
    """

    def __init__(self, app: ASGIApp, seconds: float = BODY_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        body_done = False
        timed_out = False
        started = False

        async def send_unless_timed_out(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # we answered 408 already; the app's own answer to the cut-off is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def receive_in_time() -> Message:
            nonlocal deadline, body_done, timed_out
            if body_done:
                return await receive()
            if timed_out:
                raise BodyTimedOut
            if deadline is None:
                deadline = loop.time() + self.seconds
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                if not started:
                    await _error_response(RequestTimeout(), scope, receive, send)
                timed_out = True
                raise BodyTimedOut from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        with contextlib.suppress(BodyTimedOut):  # answered 408 above
            await self.app(scope, receive_in_time, send_unless_timed_out)


class BodyTimedOut(Exception):
    """Raised to the app reading a body that missed its deadline (after the 408)."""


class RequestTimeout(TeamTalkError):
    # Connection: close, as the rest of the body may still come and is not a request.
    status, code, message = 408, "request_timeout", "The request body did not arrive in time."

    def __init__(self) -> None:
        super().__init__(headers={"Connection": "close"})


class RequestTimer:
    """Times each HTTP request for /metrics, labelled by the route template the app matched
    (never the raw path: ids would make a series each)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope, getattr(self.app, "routes", ()))
            metrics.http_observed(scope["method"], route, status, elapsed)


def route_template(scope: Scope, routes: Iterable[Any] = ()) -> str:
    """The matched route's path template. FastAPI (0.16x) runs an included router's routes
    in place, without prefixed copies: the full template is in its route context (what its
    own telemetry reports as http.route); Starlette's router leaves its match in `route`.
    FastAPI's own router records neither for its plain routes (openapi.json, mounts): those
    few are matched again here, off the API's hot path."""
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and path:
        return path
    for route in routes:
        plain = getattr(route, "original_router", None) is None and hasattr(route, "path_format")
        if plain and route.matches(dict(scope))[0] == Match.FULL:
            return str(route.path_format)
    return "unmatched"
