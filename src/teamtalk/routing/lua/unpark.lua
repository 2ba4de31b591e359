-- unpark: give conversations set aside after repeated failures another chance (the
-- database may have been down for a while); they go back to the head of the queue.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  parked before this time, in ms
-- Returns how many came back.

local due = redis.call('ZRANGEBYSCORE', K_PARKED, '-inf', ARGV[1])
for _, conv in ipairs(due) do
  redis.call('ZREM', K_PARKED, conv)
  redis.call('HDEL', K_ATTEMPTS, conv)
  return_to_queue(conv)
end
if #due > 0 then
  wake()
end
return #due
