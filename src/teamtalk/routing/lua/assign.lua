-- assign: give queued conversations, head first, to the online leaders with the most free
-- slots (ties: the oldest last assignment), and record each as in flight.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  the most assignments to make in this call
-- ARGV[2]  now, in ms (the in-flight record's start)
-- Returns a flat array {conversation id, leader id, ...}, empty when nothing can be assigned.
--
-- The hot path: the index's score holds the leader's free slots and last assignment, so
-- each assignment is six O(1) or O(log N) calls, whatever the number of leaders.

local made = {}
local seq = tonumber(redis.call('GET', K_SEQ) or '0')
for _ = 1, tonumber(ARGV[1]) do
  local top = redis.call('ZRANGE', K_AVAIL, 0, 0, 'WITHSCORES')
  if #top == 0 then
    break
  end
  local conv = pop_next()
  if not conv then
    break
  end
  local leader = top[1]
  local free = math.ceil(-tonumber(top[2]) / SLOT) - 1
  seq = seq + 1
  redis.call('SADD', basket(leader), conv)
  redis.call('HSET', K_FREE, leader, free)
  if free > 0 then
    redis.call('ZADD', K_AVAIL, score(free, seq), leader)
  else
    redis.call('HSET', K_LAST, leader, seq)
    redis.call('ZREM', K_AVAIL, leader)
  end
  redis.call('HSET', K_INFLIGHT, conv, leader .. ':' .. ARGV[2])
  made[#made + 1] = conv
  made[#made + 1] = leader
end
if #made > 0 then
  redis.call('SET', K_SEQ, seq)
end
return made
