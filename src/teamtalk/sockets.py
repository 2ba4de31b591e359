"""Socket.IO handlers: authenticate the connection, put it in its rooms, nothing more here.

Identity comes from the session cookie checked at connect, never from a payload.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
from pydantic import BaseModel, ConfigDict, ValidationError

from teamtalk.errors import (
    Forbidden,
    NotAuthenticated,
    NotFound,
    TeamTalkError,
    error_payload,
    field_errors,
)
from teamtalk.guards import origin_allowed, own_origin
from teamtalk.models import Presence, Role
from teamtalk.realtime import Realtime, user_room
from teamtalk.resources import Resources
from teamtalk.services import auth, presence

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


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Presence


Handler = Callable[[str, Any], Awaitable[dict[str, Any]]]


def guarded(handler: Handler) -> Handler:
    """Every client event answers with an ack: the result, or {"error": {...}} in the same
    shape as HTTP errors. Nothing in a payload is trusted for identity."""

    async def run(sid: str, data: Any = None) -> dict[str, Any]:
        try:
            return await handler(sid, data)
        except TeamTalkError as exc:
            return exc.payload()
        except ValidationError as exc:
            return error_payload("invalid", "The event is not valid.", field_errors(exc.errors()))
        except Exception:
            log.exception("socket handler failed", extra={"sid": sid})
            return error_payload("internal_error", "Something went wrong.")

    return run


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
        await presence.connected(resources, realtime, user, sid)

    async def disconnect(sid: str, _reason: Any = None) -> None:
        try:
            state = await sio.get_session(sid)
        except KeyError:
            return
        if "user_id" in state:
            await realtime.untrack(state["user_id"], sid)
            await presence.disconnected(resources, realtime, state["user_id"], state["role"])

    async def identity(sid: str) -> tuple[int, str]:
        state = await sio.get_session(sid)
        return int(state["user_id"]), str(state["role"])

    @guarded
    async def set_status(sid: str, data: Any) -> dict[str, Any]:
        user_id, role = await identity(sid)
        if role != Role.TEAMLEADER:
            raise Forbidden("Only team leaders have a status.", code="not_a_teamleader")
        wanted = StatusIn.model_validate(data).status
        await presence.check_rate(resources, user_id)
        async with resources.sessions() as db:
            status = await presence.set_status(db, resources, realtime, user_id, wanted)
        return {"status": status.value}

    async def unknown(event: str, sid: str, data: Any = None) -> dict[str, Any]:
        return NotFound(f"No such event: {event[:50]}.", code="unknown_event").payload()

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    sio.on("set_status", set_status)
    sio.on("*", unknown)
