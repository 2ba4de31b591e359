-- leader_set: a leader goes online or away, or their capacity changes.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  leader id
-- ARGV[2]  "online" or "away"
-- ARGV[3]  capacity
-- ARGV[4..] the conversations the database says they hold; used only when they were
--          offline, together with any in-flight work still on its way to them (a present
--          leader's basket is kept as it is: it already counts in-flight work)
-- Returns the leader's free slots.

local leader = ARGV[1]
if not redis.call('HGET', K_CAP, leader) then
  redis.call('DEL', basket(leader))
  for i = 4, #ARGV do
    redis.call('SADD', basket(leader), ARGV[i])
  end
  -- Few records are ever in flight (a batch per worker), so this scan stays short.
  local inflight = redis.call('HGETALL', K_INFLIGHT)
  for i = 1, #inflight, 2 do
    if string.match(inflight[i + 1], '^([^:]+)') == leader then
      redis.call('SADD', basket(leader), inflight[i])
    end
  end
end
redis.call('HSET', K_STATUS, leader, ARGV[2])
redis.call('HSET', K_CAP, leader, ARGV[3])
local free = refresh(leader)
if free > 0 and ARGV[2] == 'online' then
  wake()
end
return free
