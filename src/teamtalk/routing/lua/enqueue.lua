-- enqueue: put conversations in the queue and wake a worker.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  "tail" (new requests, FIFO) or "head" (returned ones, ahead of new work, in
--          creation order among themselves)
-- ARGV[2]  a preference for all of them (see KEYS[14]: "+leader" or "-leader"), or ""
-- ARGV[3..] conversation ids; at the tail, the first given is served first
-- Returns the queue length (returned and new).

for i = 3, #ARGV do
  if ARGV[2] ~= '' then
    redis.call('HSET', K_PREFERRED, ARGV[i], ARGV[2])
  end
  if ARGV[1] == 'tail' then
    redis.call('RPUSH', K_QUEUE, ARGV[i])
  else
    redis.call('HDEL', K_FRONT, ARGV[i])  -- back from a leader: any earlier move is over
    return_to_queue(ARGV[i])
  end
end
wake()
return redis.call('ZCARD', K_RETURNED) + redis.call('LLEN', K_QUEUE)
