"""Security headers on every HTTP response: API, web UI, API docs, errors and Socket.IO polling."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The built web UI and the API docs load only our own files: no inline script or style, no
# other host. 'self' in connect-src also covers ws:// and wss:// on our own host (CSP 3).
# img-src data: is for the favicon placeholder and the docs' inline SVG icons.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP 2
    "X-Content-Type-Options": "nosniff",
    # Keeps the Referer for our own requests (OriginGuard falls back to it), sends none away.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Only on HTTPS requests (behind a proxy, the scheme comes from X-Forwarded-Proto when the
# proxy is in TEAMTALK_TRUSTED_PROXIES), so a plain-HTTP server never asks for HTTPS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"
RawHeaders = list[tuple[bytes, bytes]]


def _raw(headers: dict[str, str]) -> RawHeaders:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


PLAIN = _raw(SECURITY_HEADERS)
SECURE = _raw({**SECURITY_HEADERS, "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY})
NAMES = frozenset(name for name, _ in SECURE)


class SecurityHeaders:
    """Sets the headers above on every HTTP response, replacing any the app set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = SECURE if scope.get("scheme") == "https" else PLAIN

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Header names may come in any case (Engine.IO sends b"Content-Type").
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in NAMES]
                message["headers"] = kept + ours
            await send(message)

        await self.app(scope, receive, send_with_headers)
