"""Socket.IO handlers: authenticate the connection, put it in its rooms, nothing more here.

Identity comes from the session cookie checked at connect and re-checked for every event
(services/live_sessions.py), never from a payload.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any, NoReturn

import socketio
from pydantic import BaseModel, ConfigDict, ValidationError

from teamtalk.errors import (
    Forbidden,
    NotAuthenticated,
    TeamTalkError,
    TooManyRequests,
    Unavailable,
    dependency_error,
    error_payload,
    field_errors,
    log_outage,
)
from teamtalk.middleware import origin_allowed, own_origin
from teamtalk.models import Presence, Role
from teamtalk.realtime import (
    ADMINS_ROOM,
    HISTORY_ROOM,
    Realtime,
    RedisManager,
    conversation_room,
    live_sockets,
    user_room,
)
from teamtalk.resources import Resources
from teamtalk.schemas import (
    ConversationRef,
    FollowIn,
    SocketMessageIn,
    SocketReadIn,
    SyncIn,
    SyncOut,
)
from teamtalk.services import auth, messages, presence
from teamtalk.services.access import Actor, followed_conversation
from teamtalk.services.live_sessions import LiveSessions
from teamtalk.services.presenters import conversation_out
from teamtalk.socket_server import Server

log = logging.getLogger(__name__)

MAX_FRAME = 2 * 1024 * 1024
TYPING_EVERY = 2.0  # seconds: typing is relayed at most this often per socket and conversation


def create_server(resources: Resources) -> Server:
    settings = resources.settings
    allowed = settings.allowed_origins

    def check_origin(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:  # not a browser; the session cookie still decides
            return True
        own = own_origin(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST"))
        return origin_allowed(origin, own, allowed)

    manager = RedisManager(settings.redis_url, channel=resources.keys.socketio_channel)
    return Server(
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


Handler = Callable[[Actor, str, Any], Awaitable[dict[str, Any]]]


def register(sio: Server, resources: Resources, realtime: Realtime, live: LiveSessions) -> None:
    keys = resources.keys

    async def connect(sid: str, environ: dict[str, Any], _auth: Any = None) -> None:
        try:
            await admit(sid, environ)
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except Exception as exc:
            # Refused, not left hanging: the client retries with its usual backoff.
            await forget(sid)  # no disconnect event follows a refused connect
            known = dependency_error(exc)
            if known is None:
                log.exception("socket connect failed", extra={"sid": sid})
                known = Unavailable("The server is busy; try again.")
            else:
                log_outage(log, known, exc)  # every client retries: no traceback each
            raise socketio.exceptions.ConnectionRefusedError(
                known.message, known.payload()
            ) from exc

    async def admit(sid: str, environ: dict[str, Any]) -> None:
        found = await auth.authenticate(resources, session_token(environ))
        if found is None:
            refuse(NotAuthenticated())
        user = found.user
        await realtime.track(user.id, sid, found.session_id)
        if len(await live_sockets(resources.redis, keys, user.id)) > (
            resources.settings.max_sockets_per_user
        ):
            await forget(sid)
            refuse(
                TooManyRequests(
                    "Too many open connections for this account; close a tab.",
                    code="too_many_connections",
                    retry_after=5,
                )
            )
        await sio.save_session(
            sid, {"user_id": user.id, "session_id": found.session_id, "role": user.role}
        )
        live.opened(sid, found.session_id, user, found.last_seen_at)
        await sio.enter_room(sid, user_room(user.id))
        if user.role == Role.ADMIN:  # the dashboard hears routing changes (monitor_changed)
            await sio.enter_room(sid, ADMINS_ROOM)
        await presence.connected(resources, realtime, user, sid)

    def refuse(error: TeamTalkError) -> NoReturn:
        # The client's connect_error gets {"message", "data": {"error": {...}}}.
        raise socketio.exceptions.ConnectionRefusedError(error.message, error.payload())

    async def forget(sid: str) -> None:
        live.closed(sid)
        tracked = realtime.local.get(sid)
        if tracked is not None:
            with contextlib.suppress(Exception):
                await realtime.untrack(tracked[0], sid)

    async def disconnect(sid: str, _reason: Any = None) -> None:
        live.closed(sid)
        for key in [k for k in typed_at if k[0] == sid]:
            del typed_at[key]
        try:
            state = await sio.get_session(sid)
        except KeyError:
            return
        if "user_id" in state:
            await realtime.untrack(state["user_id"], sid)
            await presence.disconnected(resources, realtime, state["user_id"], state["role"])

    async def actor(sid: str) -> Actor:
        """Who sends this event, from the session as it is now: a session that has ended,
        or a user whose role has changed, sends nothing more (the sweep ends the socket)."""
        try:
            state = await sio.get_session(sid)
        except KeyError:  # disconnected while the event waited its turn
            raise NotAuthenticated() from None
        if "session_id" not in state:
            raise NotAuthenticated()
        current = await live.check(state["session_id"])
        if current is None or current.role != state["role"]:
            raise NotAuthenticated("Your sign-in has ended; sign in again.", code="session_ended")
        return Actor(current.user_id, current.role, current.name)

    def on(name: str, handler: Handler, *, costly: bool = False) -> None:
        """Every client event answers with an ack: the result, or {"error": {...}} in the
        same shape as HTTP errors. Identity comes from the session, never from a payload;
        each event spends from the user's budget (a costly read from a second one too)."""

        async def run(sid: str, data: Any = None) -> dict[str, Any]:
            try:
                who = await actor(sid)
                await resources.event_budget.spend(who.id)
                if costly:
                    await resources.read_budget.spend(who.id)
                return await handler(who, sid, data)
            except TeamTalkError as exc:
                if exc.code == "rate_limited":
                    sio.refused(sid)  # a client that does not slow down is cut off
                return exc.payload()
            except ValidationError as exc:
                return error_payload(
                    "invalid", "The event is not valid.", field_errors(exc.errors())
                )
            except Exception as exc:
                known = dependency_error(exc)
                if known is not None:
                    log_outage(log, known, exc)
                    return known.payload()
                log.exception("socket handler failed", extra={"sid": sid, "event": name})
                return error_payload("internal_error", "Something went wrong.")

        sio.on(name, run)

    async def join_conversation(who: Actor, sid: str, data: Any) -> dict[str, Any]:
        wanted = ConversationRef.model_validate(data).conversation_id
        async with resources.sessions() as db:
            conversation = await followed_conversation(db, who, wanted)
            out = await conversation_out(db, conversation)
        await sio.enter_room(sid, conversation_room(wanted))
        return {"conversation": out.model_dump(mode="json")}

    async def leave_conversation(who: Actor, sid: str, data: Any) -> dict[str, Any]:
        wanted = ConversationRef.model_validate(data).conversation_id
        await sio.leave_room(sid, conversation_room(wanted))
        return {"conversation_id": wanted}

    async def send_message(who: Actor, sid: str, data: Any) -> dict[str, Any]:
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

    async def mark_read(who: Actor, sid: str, data: Any) -> dict[str, Any]:
        body = SocketReadIn.model_validate(data)
        async with resources.sessions() as db:
            last = await messages.mark_read(db, realtime, who, body.conversation_id, body.seq)
        return {"last_read_seq": last}

    typed_at: dict[tuple[str, int], float] = {}

    async def typing(who: Actor, sid: str, data: Any) -> dict[str, Any]:
        wanted = ConversationRef.model_validate(data).conversation_id
        now = time.monotonic()
        if now - typed_at.get((sid, wanted), -TYPING_EVERY) >= TYPING_EVERY:
            typed_at[(sid, wanted)] = now
            async with resources.sessions() as db:
                await messages.typing(db, realtime, who, wanted, sid)
        return {"conversation_id": wanted}

    async def sync(who: Actor, sid: str, data: Any) -> dict[str, Any]:
        since = SyncIn.model_validate(data).since
        async with resources.reads() as db:
            found, missed, truncated = await messages.catch_up(
                db, who, [(p.conversation_id, p.seq) for p in since]
            )
        answer = SyncOut(conversations=found, messages=missed, truncated=truncated)
        return answer.model_dump(mode="json")

    async def follow_history(who: Actor, sid: str, data: Any) -> dict[str, Any]:
        """While a History page is open it hears the team's routing changes: only the
        screens that show them pay for that fan-out, not every leader's socket."""
        wanted = FollowIn.model_validate(data).on
        if who.role == Role.AGENT:
            raise Forbidden("Only team leaders and admins follow the team's history.")
        if wanted:
            await sio.enter_room(sid, HISTORY_ROOM)
        else:
            await sio.leave_room(sid, HISTORY_ROOM)
        return {"on": wanted}

    async def set_status(who: Actor, sid: str, data: Any) -> dict[str, Any]:
        if who.role != Role.TEAMLEADER:
            raise Forbidden("Only team leaders have a status.", code="not_a_teamleader")
        wanted = StatusIn.model_validate(data).status
        await presence.check_rate(resources, who.id)
        async with resources.sessions() as db:
            status = await presence.set_status(db, resources, realtime, who.id, wanted)
        return {"status": status.value}

    async def basket_ids(who: Actor, sid: str, data: Any) -> dict[str, Any]:
        if who.role != Role.TEAMLEADER:
            raise Forbidden("Only team leaders have a basket.", code="not_a_teamleader")
        async with resources.reads() as db:
            held = await presence.basket_of(db, who.id)
        return {"conversation_ids": [c.id for c in held]}

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    on("set_status", set_status)
    on("follow_history", follow_history)
    on("join_conversation", join_conversation)
    on("leave_conversation", leave_conversation)
    on("send_message", send_message)
    on("mark_read", mark_read)
    on("typing", typing)
    on("sync", sync, costly=True)
    on("basket_ids", basket_ids)
