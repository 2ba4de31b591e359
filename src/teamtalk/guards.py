"""ASGI guards in front of the API: cross-site request refusal and body size limits."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from teamtalk.errors import PayloadTooLarge, TeamTalkError, error_payload
from teamtalk.services.auth import COOKIE_NAME

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 256 * 1024


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
