"""Rate limits shared by every process, kept in Redis.

GCRA (the generic cell rate algorithm): one key per user holds the time at which their
allowance is next full; `burst` events may come at once, then one every `60 / per_minute`
s. No window edges, so no double burst where two fixed windows meet.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from teamtalk.errors import TooManyRequests

# KEYS[1] the user's key; ARGV: now (ms), ms per event, tolerance (ms: the burst's length).
# Returns 0 when allowed (and counts it), else the ms to wait.
GCRA = """
local now, step, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if due < now then due = now end
local after = due + step
if after - now > window then
  return math.ceil(after - now - window)
end
redis.call('SET', KEYS[1], after, 'PX', math.max(1, math.ceil(after - now)))
return 0
"""


class RateLimit:
    def __init__(self, redis: Redis, per_minute: int, burst: int | None = None) -> None:
        self.step_ms = 60_000 / per_minute
        self.window_ms = self.step_ms * (burst if burst is not None else per_minute)
        self._script: AsyncScript = redis.register_script(GCRA)

    async def wait_seconds(self, key: str) -> int:
        """0 when the event may go ahead (it is counted), else whole seconds to wait."""
        now = time.time() * 1000
        waited = int(await self._script(keys=[key], args=[now, self.step_ms, self.window_ms]))
        return math.ceil(waited / 1000) if waited else 0


class Budget:
    """A per-user allowance (a RateLimit) whose refusals are remembered in this process
    until they lapse, so a flood of refused events costs no Redis round trip each."""

    def __init__(self, limit: RateLimit, what: str, key: Callable[[int], str]) -> None:
        self.limit = limit
        self.what = what
        self.key = key  # a user's Redis key
        self._blocked: dict[int, float] = {}  # user -> monotonic time the refusal lapses

    async def spend(self, user_id: int) -> None:
        """Counts one event of the user's, or raises `rate_limited` with the seconds to wait."""
        now = time.monotonic()
        until = self._blocked.get(user_id)
        if until is not None:
            if now < until:
                raise refusal(self.what, math.ceil(until - now))
            del self._blocked[user_id]
        wait = await self.limit.wait_seconds(self.key(user_id))
        if wait:
            self._blocked[user_id] = now + wait
            raise refusal(self.what, wait)


def refusal(what: str, wait: int) -> TooManyRequests:
    return TooManyRequests(
        f"Too many {what}; wait a moment.", code="rate_limited", retry_after=max(wait, 1)
    )


class LocalBudget:
    """The same allowance kept in this process's memory: for the budget every socket event
    spends from, where a Redis round trip per event would cost more than most events do.
    A user's sockets are capped, so across processes it is at most a few times as much."""

    PRUNE_AT = 10_000  # users kept before the lapsed ones are dropped

    def __init__(self, per_minute: int, what: str, burst: int | None = None) -> None:
        self.step = 60 / per_minute
        self.window = self.step * (burst if burst is not None else per_minute)
        self.what = what
        self._due: dict[int, float] = {}  # user -> monotonic time the allowance is next full

    async def spend(self, user_id: int) -> None:
        now = time.monotonic()
        after = max(self._due.get(user_id, now), now) + self.step
        if after - now > self.window:
            raise refusal(self.what, math.ceil(after - now - self.window))
        if len(self._due) >= self.PRUNE_AT:
            self._due = {k: due for k, due in self._due.items() if due > now}
        self._due[user_id] = after
