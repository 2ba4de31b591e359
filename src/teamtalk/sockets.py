"""Socket.IO handlers: authenticate the connection, put it in its rooms, nothing more here.

Identity comes from the session cookie checked at connect, never from a payload.
"""

from __future__ import annotations

import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio

from teamtalk.errors import NotAuthenticated
from teamtalk.guards import origin_allowed, own_origin
from teamtalk.realtime import Realtime, user_room
from teamtalk.resources import Resources
from teamtalk.services import auth

log = logging.getLogger(__name__)


def create_server(resources: Resources) -> socketio.AsyncServer:
    settings = resources.settings
    allowed = settings.allowed_origins

    def check_origin(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:  # not a browser; the session cookie still decides
            return True
        own = own_origin(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST"))
        return origin_allowed(origin, own, allowed)

    manager = socketio.AsyncRedisManager(
        settings.redis_url, channel=resources.keys.socketio_channel
    )
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=check_origin,
        cors_credentials=True,
        max_http_buffer_size=64 * 1024,
        logger=False,
        engineio_logger=False,
    )


def session_token(environ: dict[str, Any]) -> str | None:
    try:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return None
    morsel = cookie.get(auth.COOKIE_NAME)
    return morsel.value if morsel else None


def register(sio: socketio.AsyncServer, resources: Resources, realtime: Realtime) -> None:
    async def connect(sid: str, environ: dict[str, Any], _auth: Any = None) -> None:
        async with resources.sessions() as db:
            found = await auth.authenticate(db, resources.settings, session_token(environ))
        if found is None:
            refusal = NotAuthenticated()
            # The client's connect_error gets {"message", "data": {"error": {...}}}.
            raise socketio.exceptions.ConnectionRefusedError(refusal.message, refusal.payload())
        user, session = found
        await sio.save_session(
            sid, {"user_id": user.id, "session_id": session.id, "role": user.role}
        )
        await sio.enter_room(sid, user_room(user.id))
        await realtime.track(user.id, sid, session.id)

    async def disconnect(sid: str, _reason: Any = None) -> None:
        try:
            state = await sio.get_session(sid)
        except KeyError:
            return
        if "user_id" in state:
            await realtime.untrack(state["user_id"], sid)

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
