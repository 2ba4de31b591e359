"""The Socket.IO delivery domain shared by every teamtalk process.

Web processes run an AsyncServer on a Redis manager; other processes (the worker, the
CLI) emit through a write-only manager on the same channel, so any process reaches any
browser (python-socketio, "Emitting from external processes").
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import socketio
from redis.asyncio import Redis

from teamtalk import metrics
from teamtalk.redis_pool import redis_pool
from teamtalk.routing.keys import Keys

log = logging.getLogger(__name__)

SERVER_TTL = 30  # seconds; servers refresh it every third of that
LISTENER_CANCELS = 50
# A listener that lost Redis retries quickly (python-socketio's own backoff grows to 60 s,
# a minute in which this process's users hear nothing).
LISTEN_RETRY_FIRST, LISTEN_RETRY_MAX = 0.1, 2.0
# Sent to sockets that may have missed events (this process's subscription was down, or
# routing state was rebuilt): their clients refetch what they show.
RESYNC_EVENT = "resync"
# Every admin's sockets: the supervisors' dashboard hears routing changes here.
ADMINS_ROOM = "admins"
# Every team leader's sockets: their history hears the same routing changes.
HISTORY_ROOM = "history"  # sockets with the History page open (follow_history)

# (event, payload, room or rooms): a socket in several of the rooms gets it once.
Emission = tuple[str, dict[str, Any], str | list[str]]
_Outgoing = tuple[str, dict[str, Any], str | list[str] | None]  # None: every socket


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def conversation_room(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def room_kind(room: object) -> str | None:
    """user, conversation, admins or history; None for the rooms python-socketio keeps
    itself (one per socket, and the namespace's)."""
    if room in (ADMINS_ROOM, HISTORY_ROOM):
        return str(room)
    if isinstance(room, str):
        kind, sep, rest = room.partition(":")
        if sep and rest.isdigit() and kind in ("user", "conversation"):
            return kind
    return None


class RedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager, keeping one Redis client for its lifetime, on a
    pool that waits for a free connection under a burst instead of failing.

    Its listener and its first emit each call `_redis_connect`, which makes a new client
    and drops the old one with its connection still open; only the subscription needs
    renewing, and the old one is closed.

    Pub/sub keeps nothing for a subscriber that is away: when the listener subscribes again
    after losing Redis, this process's sockets are told to resync.
    """

    redis: Any
    pubsub: Any
    _closing: set[asyncio.Task[None]]
    # Called when the subscription is back: Redis may have lost the socket registry too.
    resubscribed: Callable[[], Awaitable[None]] | None = None

    def _redis_connect(self) -> None:
        if self.redis is None:
            # No silent retry: a lost subscription must reach the listener (a resync).
            self.redis = Redis.from_pool(redis_pool(self.redis_url, retry_once=False))
            self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            self.connected = True
            self._closing = set()
            return
        old = self.pubsub
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True
        if old is not None:
            task = asyncio.ensure_future(old.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        retry, lost = LISTEN_RETRY_FIRST, False
        while True:
            try:
                self._redis_connect()
                await self.pubsub.subscribe(self.channel)
                if lost:
                    log.warning("socket event subscription is back; clients resync")
                    await self.emit(
                        RESYNC_EVENT, {"reason": "missed_events"}, namespace="/", ignore_queue=True
                    )
                    lost, retry = False, LISTEN_RETRY_FIRST
                    if self.resubscribed is not None:
                        await self.resubscribed()
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:
                    log.warning("socket event subscription lost (%s); retrying", exc)
                lost = True
                await asyncio.sleep(retry)
                retry = min(retry * 2, LISTEN_RETRY_MAX)


class Realtime:
    """Emits events and ends sockets, from a server process or a write-only one."""

    def __init__(self, manager: Any, redis: Redis, keys: Keys) -> None:
        self.manager = manager
        self.redis = redis
        self.keys = keys
        self.host_id = uuid.uuid4().hex[:12]
        self.local: dict[str, tuple[int, int]] = {}  # this process's sockets: sid -> user, session
        self.stopping = False  # set as the server shuts down, before its sockets close
        if isinstance(manager, RedisManager):
            manager.resubscribed = self.heartbeat

    @classmethod
    def write_only(cls, redis_url: str, redis: Redis, keys: Keys) -> Realtime:
        manager = RedisManager(redis_url, channel=keys.socketio_channel, write_only=True)
        return cls(manager, redis, keys)

    async def close(self) -> None:
        await close_manager(self.manager)

    async def emit(
        self,
        event: str,
        data: dict[str, Any],
        room: str | list[str] | None,
        skip_sid: str | None = None,
    ) -> None:
        """To every socket in the room (or in any of the rooms, once each; None: all). A
        failure to publish is logged and dropped, as python-socketio's own emit does."""
        try:
            await self._publish([(event, data, room)], skip_sid=skip_sid)
        except Exception as exc:
            log.warning("event %s not published to other processes: %s", event, exc)

    async def emit_many(self, items: Sequence[Emission], *, outbox_id: int | None = None) -> None:
        """Several (event, data, room) in one Redis round trip; raises when it could not be
        published. With `outbox_id`, the outbox entry is marked delivered in the same round
        trip."""
        await self._publish(items, outbox_id=outbox_id)

    async def _publish(
        self,
        items: Sequence[_Outgoing],
        *,
        skip_sid: str | None = None,
        outbox_id: int | None = None,
    ) -> None:
        """Builds the messages python-socketio's own emit publishes (its "emit" method on the
        channel), delivering to this process's sockets first as its emit does. Each event is
        counted, in this process and in Redis (same round trip), for monitoring."""
        manager = self.manager
        messages = [
            {
                "method": "emit",
                "event": event,
                "data": [data],
                "binary": False,
                "namespace": "/",
                "room": room,
                "skip_sid": skip_sid,
                "callback": None,
                "host_id": manager.host_id,
            }
            for event, data, room in items
        ]
        counts = Counter(event for event, _, _ in items)
        metrics.events_emitted(counts)
        if manager.server is not None:
            for message in messages:
                await manager._handle_emit(message)
        if not manager.connected:
            manager._redis_connect()
        async with manager.redis.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(manager.channel, manager.json.dumps(message))
            for event, n in counts.items():
                pipe.hincrby(self.keys.events_emitted, event, n)
            if outbox_id is not None:
                pipe.zadd(self.keys.outbox_delivered, {str(outbox_id): int(time.time() * 1000)})
            await pipe.execute()

    async def broadcast(self, event: str, data: dict[str, Any]) -> None:
        """To every socket of every process."""
        await self.emit(event, data, None)

    async def emit_to_user(self, user_id: int, event: str, data: dict[str, Any]) -> None:
        await self.emit(event, data, user_room(user_id))

    async def track(self, user_id: int, sid: str, session_id: int) -> None:
        self.local[sid] = (user_id, session_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(self.keys.user_sockets(user_id), sid, f"{session_id}:{self.host_id}")
            pipe.set(self.keys.server(self.host_id), "1", ex=SERVER_TTL)
            pipe.hincrby(self.keys.server_sockets, self.host_id, 1)
            await pipe.execute()

    async def untrack(self, user_id: int, sid: str) -> None:
        known = self.local.pop(sid, None) is not None
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hdel(self.keys.user_sockets(user_id), sid)
            if known:
                pipe.hincrby(self.keys.server_sockets, self.host_id, -1)
            await pipe.execute()

    async def heartbeat(self) -> None:
        """Say this process is alive and (re)register its sockets: the registry survives a
        Redis that lost its data, and entries of a process that died expire with it. The
        socket count is set again (a count that drifted is mended) and the rooms told."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.server(self.host_id), "1", ex=SERVER_TTL)
            for sid, (user_id, session_id) in self.local.items():
                pipe.hset(self.keys.user_sockets(user_id), sid, f"{session_id}:{self.host_id}")
            if self.manager.server is not None:
                pipe.hset(self.keys.server_sockets, self.host_id, len(self.local))
                pipe.hset(self.keys.server_rooms, self.host_id, json.dumps(self.rooms()))
            await pipe.execute()

    def rooms(self) -> dict[str, dict[str, int]]:
        """This process's rooms by kind (user, conversation, admins): how many, and how
        many sockets are in them."""
        found: dict[str, dict[str, int]] = {}
        for room, members in self.manager.rooms.get("/", {}).items():
            kind = room_kind(room)
            if kind is not None:
                entry = found.setdefault(kind, {"rooms": 0, "members": 0})
                entry["rooms"] += 1
                entry["members"] += len(members)
        return found

    async def disconnect_user(self, user_id: int, session_id: int | None = None) -> None:
        """End a user's sockets in every process (all of them, or one session's)."""
        sockets = await live_sockets(self.redis, self.keys, user_id)
        for sid, owner in sockets.items():
            if session_id is None or owner == session_id:
                await self._disconnect(sid)

    async def _disconnect(self, sid: str) -> None:
        if self.manager.server is not None:
            await self.manager.server.disconnect(sid)
        else:  # write-only: ask the process that holds the socket
            await self.manager._publish(
                {"method": "disconnect", "sid": sid, "namespace": "/", "host_id": None}
            )


async def live_sockets(redis: Redis, keys: Keys, user_id: int) -> dict[str, int]:
    """A user's sockets in live server processes (socket id -> session id). Entries left by
    a process that died are removed on the way."""
    entries: dict[Any, Any] = await redis.hgetall(keys.user_sockets(user_id))
    parsed = {sid: value.partition(":") for sid, value in entries.items()}
    hosts = sorted({host for _, _, host in parsed.values()})
    alive = dict(zip(hosts, [await redis.exists(keys.server(h)) for h in hosts], strict=True))
    dead = [sid for sid, (_, _, host) in parsed.items() if not alive[host]]
    if dead:
        await redis.hdel(keys.user_sockets(user_id), *dead)
    return {sid: int(session) for sid, (session, _, host) in parsed.items() if alive[host]}


async def close_manager(manager: Any) -> None:
    """Stop a Redis manager's listener and close its connections (python-socketio leaves
    both open at shutdown)."""
    listener = getattr(manager, "thread", None)
    if isinstance(listener, asyncio.Task):
        # A listener still connecting swallows one cancellation and retries: ask again.
        for _ in range(LISTENER_CANCELS):
            if listener.done():
                break
            listener.cancel()
            await asyncio.wait({listener}, timeout=0.1)
        if listener.done() and not listener.cancelled():
            listener.exception()  # retrieved, so not reported as never retrieved
    closing = getattr(manager, "_closing", None)
    if closing:  # old subscriptions still closing: their connections go back first
        await asyncio.wait(set(closing))
    if manager.pubsub is not None:
        await manager.pubsub.aclose()
    if manager.redis is not None:
        await manager.redis.aclose()
    manager.connected = False
