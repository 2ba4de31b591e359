-- leader_offline: take a leader out of routing and put their conversations back at the
-- head of the queue (in creation order among everything returned).
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  leader id
-- ARGV[2..] the conversations the database just returned to the queue. Their
--          in-flight records are cleared, so a worker that settles one late changes nothing.
--          In-flight work the database never committed is not listed: its worker finds the
--          leader offline in the database and requeues it itself.
-- Returns the number of conversations put back.

local leader = ARGV[1]
redis.call('HDEL', K_FREE, leader)
redis.call('HDEL', K_STATUS, leader)
redis.call('HDEL', K_CAP, leader)
redis.call('ZREM', K_AVAIL, leader)
redis.call('DEL', basket(leader))
for i = 2, #ARGV do
  redis.call('HDEL', K_INFLIGHT, ARGV[i])
  redis.call('HDEL', K_FRONT, ARGV[i])
  return_to_queue(ARGV[i])
end
if #ARGV > 1 then
  wake()
end
return #ARGV - 1
