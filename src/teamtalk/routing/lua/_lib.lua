-- Shared prelude, prepended to every routing script by engine.py.
--
-- Every script receives the same KEYS, in this order (routing/keys.py names them):
--   KEYS[1]  conversations:queue        LIST   new requests, FIFO: head = next
--   KEYS[13] conversations:returned     ZSET   conversations back from a leader or a failed
--                                               assignment, by id (= creation order); served
--                                               before KEYS[1], so the queue is KEYS[13]
--                                               then KEYS[1]
--   KEYS[2]  users:online_teamleaders   HASH   leader id -> free slots (online or away)
--   KEYS[3]  routing:available          ZSET   online leaders with a free slot; lowest
--                                               score = most free, then oldest assignment
--   KEYS[4]  routing:status             HASH   leader id -> "online" | "away"
--   KEYS[5]  routing:capacity           HASH   leader id -> basket capacity
--   KEYS[6]  routing:last_assigned      HASH   leader id -> seq of their last assignment,
--                                               for leaders not in KEYS[3] (whose score has it)
--   KEYS[7]  routing:assign_seq         STRING assignment counter
--   KEYS[8]  routing:inflight           HASH   conversation id -> "leader id:ms:worker",
--                                               assigned here but not yet settled with the
--                                               database; "worker" names the worker life
--                                               that claimed it (absent: none did)
--   KEYS[9]  routing:wake               LIST   the workers block on it
--   KEYS[10] tl:                        prefix of the basket SETs: KEYS[10]..id..":basket"
--   KEYS[11] routing:attempts           HASH   conversation id -> failed attempts
--   KEYS[12] routing:parked             ZSET   conversations set aside after failures -> ms
--   KEYS[14] routing:preferred          HASH   conversation id -> "+leader" (offer to them
--                                               first) or "-leader" (to anyone else first);
--                                               used once, when it next leaves the queue
--   KEYS[15] routing:front              HASH   conversation id -> number of the supervisor's
--                                               move to the front (its event id); in KEYS[13]
--                                               with score -number, so the latest move is
--                                               served first, ahead of every return; kept
--                                               through failed attempts, dropped once its
--                                               assignment is settled, it is withdrawn, or it
--                                               comes back from a leader
-- A leader is present (online or away) exactly when KEYS[5] has them. A leader in KEYS[3]
-- is online with free slots, and their score says how many (see `score`).

local K_QUEUE, K_FREE, K_AVAIL, K_STATUS, K_CAP, K_LAST = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local K_SEQ, K_INFLIGHT, K_WAKE, K_BASKET = KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_ATTEMPTS, K_PARKED, K_RETURNED, K_PREFERRED = KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local K_FRONT = KEYS[15]

-- Free slots weigh more than any assignment sequence number (2^40): the lowest score is
-- the most free slots, then the oldest last assignment.
local SLOT = 1099511627776

local function score(free, last)
  return last - free * SLOT
end

-- The seq of a leader's last assignment.
local function last_of(leader)
  local s = redis.call('ZSCORE', K_AVAIL, leader)
  if s then
    s = tonumber(s)
    return s + math.ceil(-s / SLOT) * SLOT
  end
  return tonumber(redis.call('HGET', K_LAST, leader) or '0')
end

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
  local last = last_of(leader)
  if free > 0 and redis.call('HGET', K_STATUS, leader) == 'online' then
    redis.call('ZADD', K_AVAIL, score(free, last), leader)
  else
    redis.call('HSET', K_LAST, leader, last)
    redis.call('ZREM', K_AVAIL, leader)
  end
  return free
end

-- A conversation takes one of an online leader's free slots; `leader_score` is their
-- current score in KEYS[3], `seq` this assignment's number (their newest last assignment).
local function take_slot(leader, leader_score, conv, seq)
  local free = math.ceil(-tonumber(leader_score) / SLOT) - 1
  redis.call('SADD', basket(leader), conv)
  redis.call('HSET', K_FREE, leader, free)
  if free > 0 then
    redis.call('ZADD', K_AVAIL, score(free, seq), leader)
  else
    redis.call('HSET', K_LAST, leader, seq)
    redis.call('ZREM', K_AVAIL, leader)
  end
end

-- The next conversation to serve: returned ones first, oldest first; then new ones.
local function pop_next()
  local returned = redis.call('ZPOPMIN', K_RETURNED)
  if #returned > 0 then
    return returned[1]
  end
  return redis.call('LPOP', K_QUEUE)
end

-- Back to the head of the queue, in creation order among the others returned (or ahead of
-- them all, where a supervisor moved it).
local function return_to_queue(conv)
  local moved = redis.call('HGET', K_FRONT, conv)
  redis.call('ZADD', K_RETURNED, moved and -tonumber(moved) or conv, conv)
end

-- Out of the queue, wherever it waits: "returned" (KEYS[13]), "new" (KEYS[1]), or nil.
local function take_from_queue(conv)
  if redis.call('ZREM', K_RETURNED, conv) == 1 then
    return 'returned'
  end
  if redis.call('LREM', K_QUEUE, 0, conv) > 0 then
    return 'new'
  end
  return nil
end

-- Back where take_from_queue found it. New work goes back in creation order: a scan of
-- the list, but only when a database step failed.
local function put_back(conv, place)
  if place ~= 'new' then
    return_to_queue(conv)
    return
  end
  local n = tonumber(conv)
  for _, other in ipairs(redis.call('LRANGE', K_QUEUE, 0, -1)) do
    if tonumber(other) > n then
      redis.call('LINSERT', K_QUEUE, 'BEFORE', other, conv)
      return
    end
  end
  redis.call('RPUSH', K_QUEUE, conv)
end

-- Tell a waiting worker there may be work; the list never holds more than one token.
local function wake()
  redis.call('LPUSH', K_WAKE, '1')
  redis.call('LTRIM', K_WAKE, 0, 0)
end

-- The leader and the worker life ('' for none) an in-flight record names, or nil.
local function inflight_owner(conv)
  local record = redis.call('HGET', K_INFLIGHT, conv)
  if not record then
    return nil
  end
  local leader, rest = string.match(record, '^([^:]+):[^:]*(.*)$')
  return leader, string.sub(rest, 2)
end
