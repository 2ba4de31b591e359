-- assign: give queued conversations, head first, to the online leaders with the most free
-- slots (ties: the oldest last assignment), and record each as in flight.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  the most assignments to make in this call
-- ARGV[2]  now, in ms (the in-flight record's start)
-- Returns a flat array {conversation id, leader id, ...}, empty when nothing can be assigned.

local made = {}
for _ = 1, tonumber(ARGV[1]) do
  local best = redis.call('ZRANGE', K_AVAIL, 0, 0)[1]
  if not best then
    break
  end
  local conv = redis.call('LPOP', K_QUEUE)
  if not conv then
    break
  end
  redis.call('SADD', basket(best), conv)
  redis.call('HSET', K_LAST, best, redis.call('INCR', K_SEQ))
  refresh(best)
  redis.call('HSET', K_INFLIGHT, conv, best)
  redis.call('ZADD', K_SINCE, ARGV[2], conv)
  made[#made + 1] = conv
  made[#made + 1] = best
end
return made
