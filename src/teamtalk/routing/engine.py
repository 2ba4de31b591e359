"""Calls the routing scripts. Every change to routing state in Redis goes through here.

Each script is one atomic operation (routing/lua/*.lua); they run by SHA and redis-py
reloads one the server has forgotten (NOSCRIPT).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import WatchError

from teamtalk.routing.keys import Keys

LUA_DIR = Path(__file__).parent / "lua"
SCRIPTS = (
    "assign",
    "settle",
    "enqueue",
    "leader_set",
    "leader_offline",
    "release",
    "unpark",
    "transfer",
    "move_to_front",
    "assign_to",
    "refresh",
)
MAX_ATTEMPTS = 5


class Outcome(StrEnum):
    COMMITTED = "committed"  # the database has the assignment
    REQUEUE = "requeue"  # the database step failed for it: back to the head, an attempt
    RETRY = "retry"  # the database was unreachable: back to the head, no attempt, no wake
    DROP = "drop"  # the conversation is no longer queued in the database


@dataclass(frozen=True)
class Assignment:
    conversation_id: int
    leader_id: int
    worker: str = ""  # the worker life that claimed it (see `keep_alive`); "" for none


@dataclass
class LeaderState:
    status: str
    capacity: int
    free: int
    basket: set[int] = field(default_factory=set)


@dataclass
class Snapshot:
    """Routing state as Redis holds it, for checks, monitoring and tests."""

    queue: list[int]  # in serving order: the returned ones, then the new ones
    leaders: dict[int, LeaderState]
    inflight: dict[int, int]
    available: list[int]
    parked: set[int]
    returned: set[int] = field(default_factory=set)  # the part of `queue` that came back
    # From the database only (a rebuild restores them): failed assignment attempts since a
    # conversation was queued, as (how many, ms of the last one), and whom to offer it to
    # first ("+leader") or last ("-leader").
    failures: dict[int, tuple[int, int]] = field(default_factory=dict)
    preferred: dict[int, str] = field(default_factory=dict)
    # Moved ahead of everything by a supervisor -> the move's number (its event id); the
    # latest move is served first. In Redis, kept while the move holds (in flight too).
    front: dict[int, int] = field(default_factory=dict)


def now_ms() -> int:
    return int(time.time() * 1000)


class Router:
    def __init__(self, redis: Redis, keys: Keys, *, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.redis = redis
        self.keys = keys
        self.max_attempts = max_attempts
        lib = (LUA_DIR / "_lib.lua").read_text()
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(lib + "\n" + (LUA_DIR / f"{name}.lua").read_text())
            for name in SCRIPTS
        }
        self._keys = [
            keys.queue,
            keys.online_teamleaders,
            keys.available,
            keys.leader_status,
            keys.leader_capacity,
            keys.last_assigned,
            keys.assign_seq,
            keys.inflight,
            keys.wake,
            keys.basket_prefix,
            keys.attempts,
            keys.parked,
            keys.returned,
            keys.preferred,
            keys.front,
        ]

    async def _run(self, name: str, *args: Any) -> Any:
        return await self._scripts[name](keys=self._keys, args=list(args))

    async def assign(self, limit: int, *, worker: str = "") -> list[Assignment]:
        """Claimed by `worker`, a life whose key `keep_alive` keeps: when it expires, other
        workers settle these records."""
        flat = await self._run("assign", limit, now_ms(), worker)
        return [Assignment(int(flat[i]), int(flat[i + 1]), worker) for i in range(0, len(flat), 2)]

    async def settle(self, assignment: Assignment, outcome: Outcome) -> int:
        """1 when settled, 2 when parked after too many failures, 0 when nothing matched."""
        (result,) = await self.settle_many({assignment: outcome})
        return result

    async def settle_many(self, outcomes: dict[Assignment, Outcome]) -> list[int]:
        """One call for a whole batch; results in the dict's order."""
        args: list[Any] = [self.max_attempts, now_ms()]
        for a, outcome in outcomes.items():
            args += [a.conversation_id, a.leader_id, a.worker, outcome.value]
        return [int(r) for r in await self._run("settle", *args)]

    async def enqueue(
        self,
        conversation_ids: Sequence[int],
        *,
        head: bool = False,
        prefer: int | None = None,
        avoid: int | None = None,
    ) -> int:
        """Queue length afterwards; the last one added (at the tail) is at that position.
        `prefer`: offer them to this leader first; `avoid`: to anyone else first."""
        preference = f"+{prefer}" if prefer is not None else f"-{avoid}" if avoid else ""
        where = "head" if head else "tail"
        return int(await self._run("enqueue", where, preference, *conversation_ids))

    async def transfer(
        self, giver: int, taker: int, conversation_id: int, *, force: bool = False
    ) -> bool:
        """Move a conversation between baskets; False when the taker has no free slot."""
        moved = await self._run("transfer", giver, taker, conversation_id, "force" if force else "")
        return bool(moved)

    async def move_to_front(self, conversation_id: int, number: int) -> str:
        """Ahead of everything in the queue; where it was ("new", "returned", an earlier
        move's number), "first" when a move already has it there, "" when not waiting."""
        return str(await self._run("move_to_front", conversation_id, number, ""))

    async def undo_move_to_front(self, conversation_id: int, number: int, place: str) -> bool:
        return bool(await self._run("move_to_front", conversation_id, number, place))

    async def assign_to(self, leader_id: int, conversation_id: int) -> str:
        """A supervisor's assignment: where the conversation was ("new" or "returned"), or
        the code of why not. Settle it as `Assignment(conversation_id, leader_id)`."""
        return str(await self._run("assign_to", leader_id, conversation_id, now_ms(), ""))

    async def undo_assign_to(self, leader_id: int, conversation_id: int, place: str) -> bool:
        undone = await self._run("assign_to", leader_id, conversation_id, now_ms(), place)
        return bool(undone)

    async def leader_set(
        self, leader_id: int, status: str, capacity: int, basket: Iterable[int] = ()
    ) -> int:
        return int(await self._run("leader_set", leader_id, status, capacity, *basket))

    async def leader_offline(self, leader_id: int, returned: Sequence[int]) -> int:
        return int(await self._run("leader_offline", leader_id, *returned))

    async def release(self, leader_id: int, conversation_id: int) -> int:
        return int(await self._run("release", leader_id, conversation_id))

    async def withdraw(self, conversation_id: int) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self.keys.queue, 0, str(conversation_id))
            pipe.zrem(self.keys.returned, str(conversation_id))
            pipe.hdel(self.keys.preferred, str(conversation_id))
            pipe.hdel(self.keys.front, str(conversation_id))
            removed = await pipe.execute()
        return any(removed[:2])

    async def unpark(self, older_than_ms: int) -> int:
        """Parked conversations get another chance after a while."""
        return int(await self._run("unpark", now_ms() - older_than_ms))

    async def wake(self) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.keys.wake, "1")
            pipe.ltrim(self.keys.wake, 0, 0)
            await pipe.execute()

    async def wait_for_work(self, seconds: float) -> bool:
        """Block until something may be assignable, or the seconds pass."""
        return await self.redis.blpop([self.keys.wake], timeout=max(seconds, 0.01)) is not None

    async def available_leaders(self) -> list[tuple[int, int]]:
        """(leader id, free slots) of online leaders with room, most free first."""
        ids: list[Any] = await self.redis.zrange(self.keys.available, 0, -1)
        if not ids:
            return []
        free: list[Any] = await self.redis.hmget(self.keys.online_teamleaders, ids)
        return [(int(i), int(f or 0)) for i, f in zip(ids, free, strict=True)]

    async def queue_position(self, conversation_id: int) -> int | None:
        """1-based position in the queue, or None when not queued."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrank(self.keys.returned, str(conversation_id))
            pipe.zcard(self.keys.returned)
            pipe.lpos(self.keys.queue, str(conversation_id))
            rank, returned, index = await pipe.execute()
        if rank is not None:
            return int(rank) + 1
        return None if index is None else int(returned) + int(index) + 1

    async def keep_alive(self, worker: str, ttl_ms: int, *, renew: bool) -> bool:
        """Set a worker life's key for `ttl_ms`; with `renew`, only if it still exists.
        False when renewing a key that has expired: that life is over."""
        key = self.keys.worker_alive(worker)
        return bool(await self.redis.set(key, "1", px=ttl_ms, xx=renew))

    async def end_life(self, worker: str) -> None:
        await self.redis.delete(self.keys.worker_alive(worker))

    async def inflight_records(self) -> list[tuple[Assignment, int]]:
        """Every in-flight record, with the ms it was made."""
        records: dict[Any, Any] = await self.redis.hgetall(self.keys.inflight)
        found = []
        for conversation_id, record in records.items():
            leader_id, since, worker = [*record.split(":", 2), ""][:3]
            found.append((Assignment(int(conversation_id), int(leader_id), worker), int(since)))
        return found

    async def stale_inflight(self, older_than_ms: int) -> list[Assignment]:
        cutoff = now_ms() - older_than_ms
        return [a for a, since in await self.inflight_records() if since <= cutoff]

    async def orphaned_inflight(self) -> list[Assignment]:
        """Records claimed by a worker life whose key has expired (the worker died, or was
        paused past it)."""
        claimed = [a for a, _ in await self.inflight_records() if a.worker]
        lives = sorted({a.worker for a in claimed})
        if not lives:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for life in lives:
                pipe.exists(self.keys.worker_alive(life))
            alive = {life for life, n in zip(lives, await pipe.execute(), strict=True) if n}
        return [a for a in claimed if a.worker not in alive]

    async def snapshot(self) -> Snapshot:
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrange(k.returned, 0, -1)
            pipe.lrange(k.queue, 0, -1)
            pipe.hgetall(k.leader_status)
            pipe.hgetall(k.leader_capacity)
            pipe.hgetall(k.online_teamleaders)
            pipe.hgetall(k.inflight)
            pipe.zrange(k.available, 0, -1)
            pipe.zrange(k.parked, 0, -1)
            pipe.hgetall(k.front)
            (
                returned,
                queue,
                status,
                capacity,
                free,
                inflight,
                available,
                parked,
                front,
            ) = await pipe.execute()
        leaders = {
            int(lid): LeaderState(st, int(capacity.get(lid, 0)), int(free.get(lid, 0)))
            for lid, st in status.items()
        }
        if leaders:
            async with self.redis.pipeline(transaction=False) as pipe:
                for lid in leaders:
                    pipe.smembers(k.basket(lid))
                for lid, members in zip(leaders, await pipe.execute(), strict=True):
                    leaders[lid].basket = {int(m) for m in members}
        return Snapshot(
            queue=[int(c) for c in [*returned, *queue]],
            returned={int(c) for c in returned},
            leaders=leaders,
            inflight={int(c): int(r.partition(":")[0]) for c, r in inflight.items()},
            available=[int(x) for x in available],
            parked={int(c) for c in parked},
            front={int(c): int(n) for c, n in front.items()},
        )

    async def rebuild(self, load: Callable[[], Awaitable[Snapshot]]) -> Snapshot:
        """Replace routing state with what the database says, as `load` reads it; returns
        the state it wrote.

        Work in flight is kept: a worker may be between the script and its commit, so its
        conversation stays out of the queue, in its leader's basket, with its record, and
        the worker settles it as usual. The keys are watched before the database is read,
        so a change racing with the rebuild (an assignment committed and settled after the
        read, a presence change) makes it start over with a fresh read.
        """
        k = self.keys
        while True:
            old_baskets = [
                key
                async for key in self.redis.scan_iter(match=f"{k.basket_prefix}*:basket", count=500)
            ]
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(
                        k.queue,
                        k.returned,
                        k.inflight,
                        k.parked,
                        k.front,
                        k.leader_status,
                        k.leader_capacity,
                    )
                    state = await load()
                    records: dict[Any, Any] = await pipe.hgetall(k.inflight)
                    inflight = {int(c): int(r.partition(":")[0]) for c, r in records.items()}
                    parked_ids: list[Any] = await pipe.zrange(k.parked, 0, -1)
                    parked = {int(c) for c in parked_ids}
                    # Returned ones the database cannot tell from new work (an assignment
                    # that failed before its commit) stay returned; moves to the front are
                    # the database's to say (scores below 0).
                    returned_ids: list[Any] = await pipe.zrangebyscore(k.returned, 0, "+inf")
                    returned = state.returned | {int(c) for c in returned_ids}
                    pipe.multi()  # type: ignore[no-untyped-call]
                    self._replace(
                        pipe, replace(state, returned=returned), inflight, parked, old_baskets
                    )
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        # Free slots and the index follow from capacity and baskets; the script keeps that
        # logic in one place.
        if state.leaders:
            await self._run("refresh", *state.leaders)
        await self.wake()
        return state

    def _replace(
        self,
        pipe: Any,
        state: Snapshot,
        inflight: dict[int, int],
        parked: set[int],
        old_baskets: list[str],
    ) -> None:
        k = self.keys
        pipe.delete(
            k.queue,
            k.returned,
            k.online_teamleaders,
            k.available,
            k.leader_status,
            k.leader_capacity,
            k.front,
            *old_baskets,
        )
        waiting = [c for c in state.queue if c not in inflight and c not in parked]
        # Attempts restart once a parked conversation comes back: a count that is a whole
        # multiple of the limit was parked at its last failure (unpark frees it in time).
        set_aside = set()
        for c in waiting:
            count, last = state.failures.get(c, (0, 0))
            if count and count % self.max_attempts == 0:
                pipe.zadd(k.parked, {str(c): last})
                set_aside.add(c)
            elif count:
                pipe.hset(k.attempts, str(c), count % self.max_attempts)
            if c in state.preferred:
                pipe.hset(k.preferred, str(c), state.preferred[c])
        waiting = [c for c in waiting if c not in set_aside]
        # A move holds in flight and parked too: a failed attempt brings it back in front.
        front = {c: n for c, n in state.front.items() if c in state.queue}
        if front:
            pipe.hset(k.front, mapping={str(c): n for c, n in front.items()})
        new = [c for c in waiting if c not in state.returned and c not in front]
        if new:
            pipe.rpush(k.queue, *new)
        returned = {
            str(c): -front[c] if c in front else c
            for c in waiting
            if c in front or c in state.returned
        }
        if returned:
            pipe.zadd(k.returned, returned)
        # In-flight work counts only while the database still has it waiting.
        queued = set(state.queue)
        for lid, leader in state.leaders.items():
            pipe.hset(k.leader_status, str(lid), leader.status)
            pipe.hset(k.leader_capacity, str(lid), leader.capacity)
            basket = leader.basket | {
                c for c, owner in inflight.items() if owner == lid and c in queued
            }
            if basket:
                pipe.sadd(k.basket(lid), *basket)
        pipe.set(k.built, now_ms())
