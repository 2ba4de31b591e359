"""Socket.IO handlers: authenticate the connection, put it in its rooms, nothing more here.

Identity comes from the session cookie checked at connect, never from a payload.
"""

from __future__ import annotations

import contextlib
import logging
import time
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
from teamtalk.realtime import Realtime, RedisManager, conversation_room, user_room
from teamtalk.resources import Resources
from teamtalk.schemas import ConversationRef, SocketMessageIn, SocketReadIn, SyncIn, SyncOut
from teamtalk.services import auth, messages, presence
from teamtalk.services.conversations import Actor, followed_conversation
from teamtalk.services.views import conversation_out

log = logging.getLogger(__name__)

MAX_FRAME = 2 * 1024 * 1024
TYPING_EVERY = 2.0  # seconds: typing is relayed at most this often per socket and conversation


def create_server(resources: Resources) -> socketio.AsyncServer:
    settings = resources.settings
    allowed = settings.allowed_origins

    def check_origin(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:  # not a browser; the session cookie still decides
            return True
        own = own_origin(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST"))
        return origin_allowed(origin, own, allowed)

    manager = RedisManager(settings.redis_url, channel=resources.keys.socketio_channel)
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=check_origin,
        cors_credentials=True,
        # Larger than any valid event, so an oversized field (a 1 MB message, say) is read
        # and answered with an error ack; only frames beyond this close the connection.
        max_http_buffer_size=MAX_FRAME,
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
        try:
            await admit(sid, environ)
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except Exception as exc:
            # Refused, not left hanging: the client retries with its usual backoff.
            log.exception("socket connect failed", extra={"sid": sid})
            tracked = realtime.local.get(sid)
            if tracked is not None:  # no disconnect event follows a refused connect
                with contextlib.suppress(Exception):
                    await realtime.untrack(tracked[0], sid)
            refusal = error_payload("unavailable", "The server is busy; try again.")
            raise socketio.exceptions.ConnectionRefusedError("unavailable", refusal) from exc

    async def admit(sid: str, environ: dict[str, Any]) -> None:
        async with resources.sessions() as db:
            found = await auth.authenticate(db, resources.settings, session_token(environ))
        if found is None:
            refusal = NotAuthenticated()
            # The client's connect_error gets {"message", "data": {"error": {...}}}.
            raise socketio.exceptions.ConnectionRefusedError(refusal.message, refusal.payload())
        user, session = found
        await sio.save_session(
            sid,
            {
                "user_id": user.id,
                "session_id": session.id,
                "role": user.role,
                "name": user.display_name,
            },
        )
        await sio.enter_room(sid, user_room(user.id))
        await realtime.track(user.id, sid, session.id)
        await presence.connected(resources, realtime, user, sid)

    async def disconnect(sid: str, _reason: Any = None) -> None:
        try:
            state = await sio.get_session(sid)
        except KeyError:
            return
        for key in [k for k in typed_at if k[0] == sid]:
            del typed_at[key]
        if "user_id" in state:
            await realtime.untrack(state["user_id"], sid)
            await presence.disconnected(resources, realtime, state["user_id"], state["role"])

    async def identity(sid: str) -> tuple[int, str]:
        state = await sio.get_session(sid)
        return int(state["user_id"]), str(state["role"])

    async def actor(sid: str) -> Actor:
        state = await sio.get_session(sid)
        return Actor(int(state["user_id"]), str(state["role"]), str(state["name"]))

    @guarded
    async def join_conversation(sid: str, data: Any) -> dict[str, Any]:
        who = await actor(sid)
        wanted = ConversationRef.model_validate(data).conversation_id
        async with resources.sessions() as db:
            conversation = await followed_conversation(db, who, wanted)
            out = await conversation_out(db, conversation)
        await sio.enter_room(sid, conversation_room(wanted))
        return {"conversation": out.model_dump(mode="json")}

    @guarded
    async def leave_conversation(sid: str, data: Any) -> dict[str, Any]:
        wanted = ConversationRef.model_validate(data).conversation_id
        await sio.leave_room(sid, conversation_room(wanted))
        return {"conversation_id": wanted}

    @guarded
    async def send_message(sid: str, data: Any) -> dict[str, Any]:
        who = await actor(sid)
        body = SocketMessageIn.model_validate(data)
        async with resources.sessions() as db:
            message = await messages.send(
                db,
                resources,
                realtime,
                who,
                body.conversation_id,
                client_id=body.client_id,
                body=body.body,
            )
        return {"message": message.model_dump(mode="json")}

    @guarded
    async def mark_read(sid: str, data: Any) -> dict[str, Any]:
        who = await actor(sid)
        body = SocketReadIn.model_validate(data)
        async with resources.sessions() as db:
            last = await messages.mark_read(db, realtime, who, body.conversation_id, body.seq)
        return {"last_read_seq": last}

    typed_at: dict[tuple[str, int], float] = {}

    @guarded
    async def typing(sid: str, data: Any) -> dict[str, Any]:
        who = await actor(sid)
        wanted = ConversationRef.model_validate(data).conversation_id
        now = time.monotonic()
        if now - typed_at.get((sid, wanted), -TYPING_EVERY) >= TYPING_EVERY:
            typed_at[(sid, wanted)] = now
            async with resources.sessions() as db:
                await messages.typing(db, realtime, who, wanted, sid)
        return {"conversation_id": wanted}

    @guarded
    async def sync(sid: str, data: Any) -> dict[str, Any]:
        who = await actor(sid)
        since = SyncIn.model_validate(data).since
        async with resources.sessions() as db:
            found, missed, truncated = await messages.catch_up(
                db, who, [(p.conversation_id, p.seq) for p in since]
            )
        answer = SyncOut(conversations=found, messages=missed, truncated=truncated)
        return answer.model_dump(mode="json")

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
    sio.on("join_conversation", join_conversation)
    sio.on("leave_conversation", leave_conversation)
    sio.on("send_message", send_message)
    sio.on("mark_read", mark_read)
    sio.on("typing", typing)
    sio.on("sync", sync)
    sio.on("*", unknown)
