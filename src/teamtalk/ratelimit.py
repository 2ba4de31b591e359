"""Rate limits shared by every process, kept in Redis.

GCRA (the generic cell rate algorithm): one key per user holds the time at which their
allowance is next full; `limit` events may come at once, then one every `60 / limit` s.
No window edges, so no double burst where two fixed windows meet.
"""

from __future__ import annotations

import math
import time

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

# KEYS[1] the user's key; ARGV: now (ms), ms per event, window (ms).
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
    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.step_ms = 60_000 / per_minute
        self._script: AsyncScript = redis.register_script(GCRA)

    async def wait_seconds(self, key: str) -> int:
        """0 when the event may go ahead (it is counted), else whole seconds to wait."""
        now = time.time() * 1000
        waited = int(await self._script(keys=[key], args=[now, self.step_ms, 60_000]))
        return math.ceil(waited / 1000) if waited else 0
