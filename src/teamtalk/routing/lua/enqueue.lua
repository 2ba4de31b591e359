-- enqueue: put conversations in the queue and wake a worker.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  "tail" (new requests, FIFO) or "head" (returned ones, ahead of new work, in
--          creation order among themselves)
-- ARGV[2..] conversation ids; at the tail, the first given is served first
-- Returns the queue length (returned and new).

if ARGV[1] == 'tail' then
  for i = 2, #ARGV do
    redis.call('RPUSH', K_QUEUE, ARGV[i])
  end
else
  for i = 2, #ARGV do
    return_to_queue(ARGV[i])
  end
end
wake()
return redis.call('ZCARD', K_RETURNED) + redis.call('LLEN', K_QUEUE)
