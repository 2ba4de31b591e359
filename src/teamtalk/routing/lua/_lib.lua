-- Shared prelude, prepended to every routing script by engine.py.
--
-- Every script receives the same KEYS, in this order (routing/keys.py names them):
--   KEYS[1]  conversations:queue        LIST   queued conversation ids, head = next
--   KEYS[2]  users:online_teamleaders   HASH   leader id -> free slots (online or away)
--   KEYS[3]  routing:available          ZSET   online leaders with a free slot; lowest
--                                               score = most free, then oldest assignment
--   KEYS[4]  routing:status             HASH   leader id -> "online" | "away"
--   KEYS[5]  routing:capacity           HASH   leader id -> basket capacity
--   KEYS[6]  routing:last_assigned      HASH   leader id -> seq of their last assignment
--   KEYS[7]  routing:assign_seq         STRING assignment counter
--   KEYS[8]  routing:inflight           HASH   conversation id -> leader id, not yet settled
--   KEYS[9]  routing:inflight_since     ZSET   conversation id -> ms it went in flight
--   KEYS[10] routing:wake               LIST   the workers block on it
--   KEYS[11] tl:                        prefix of the basket SETs: KEYS[11]..id..":basket"
--   KEYS[12] routing:attempts           HASH   conversation id -> failed attempts
--   KEYS[13] routing:parked             SET    conversations set aside after failures
-- A leader is present (online or away) exactly when KEYS[5] has them.

local K_QUEUE, K_FREE, K_AVAIL, K_STATUS, K_CAP, K_LAST = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local K_SEQ, K_INFLIGHT, K_SINCE, K_WAKE, K_BASKET = KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local K_ATTEMPTS, K_PARKED = KEYS[12], KEYS[13]

-- Free slots weigh more than any assignment sequence number (2^40).
local SLOT = 1099511627776

local function basket(leader)
  return K_BASKET .. leader .. ':basket'
end

-- Recompute a leader's free slots from capacity and basket, and keep the index in step.
-- Returns the free slots (never below 0), or -1 when the leader is offline.
local function refresh(leader)
  local cap = redis.call('HGET', K_CAP, leader)
  if not cap then
    return -1
  end
  local free = tonumber(cap) - redis.call('SCARD', basket(leader))
  if free < 0 then
    free = 0
  end
  redis.call('HSET', K_FREE, leader, free)
  if free > 0 and redis.call('HGET', K_STATUS, leader) == 'online' then
    local last = tonumber(redis.call('HGET', K_LAST, leader) or '0')
    redis.call('ZADD', K_AVAIL, last - free * SLOT, leader)
  else
    redis.call('ZREM', K_AVAIL, leader)
  end
  return free
end

-- Tell a waiting worker there may be work; the list never holds more than one token.
local function wake()
  redis.call('LPUSH', K_WAKE, '1')
  redis.call('LTRIM', K_WAKE, 0, 0)
end

local function unflight(conv)
  redis.call('HDEL', K_INFLIGHT, conv)
  redis.call('ZREM', K_SINCE, conv)
end
