"""The Socket.IO delivery domain shared by every teamtalk process.

Web processes run an AsyncServer on a Redis manager; other processes (the worker, the
CLI) emit through a write-only manager on the same channel, so any process reaches any
browser (python-socketio, "Emitting from external processes").
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import socketio
from redis.asyncio import Redis

from teamtalk.routing.keys import Keys


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def conversation_room(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


class Realtime:
    """Emits events and ends sockets, from a server process or a write-only one."""

    def __init__(self, manager: Any, redis: Redis, keys: Keys) -> None:
        self.manager = manager
        self.redis = redis
        self.keys = keys

    @classmethod
    def write_only(cls, redis_url: str, redis: Redis, keys: Keys) -> Realtime:
        manager = socketio.AsyncRedisManager(
            redis_url, channel=keys.socketio_channel, write_only=True
        )
        return cls(manager, redis, keys)

    async def close(self) -> None:
        await close_manager(self.manager)

    async def emit(self, event: str, data: dict[str, Any], room: str) -> None:
        await self.manager.emit(event, data, namespace="/", room=room)

    async def emit_to_user(self, user_id: int, event: str, data: dict[str, Any]) -> None:
        await self.emit(event, data, user_room(user_id))

    async def track(self, user_id: int, sid: str, session_id: int) -> None:
        await self.redis.hset(self.keys.user_sockets(user_id), sid, str(session_id))

    async def untrack(self, user_id: int, sid: str) -> None:
        await self.redis.hdel(self.keys.user_sockets(user_id), sid)

    async def disconnect_user(self, user_id: int, session_id: int | None = None) -> None:
        """End a user's sockets in every process (all of them, or one session's)."""
        sockets = await self.redis.hgetall(self.keys.user_sockets(user_id))
        for sid, owner in sockets.items():
            if session_id is None or str(owner) == str(session_id):
                await self._disconnect(str(sid))

    async def _disconnect(self, sid: str) -> None:
        if self.manager.server is not None:
            await self.manager.server.disconnect(sid)
        else:  # write-only: ask the process that holds the socket
            await self.manager._publish(
                {"method": "disconnect", "sid": sid, "namespace": "/", "host_id": None}
            )


async def close_manager(manager: Any) -> None:
    """Stop a Redis manager's listener and close its connections (python-socketio leaves
    both open at shutdown)."""
    listener = getattr(manager, "thread", None)
    if isinstance(listener, asyncio.Task) and not listener.done():
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    if manager.pubsub is not None:
        await manager.pubsub.aclose()
    if manager.redis is not None:
        await manager.redis.aclose()
    manager.connected = False
