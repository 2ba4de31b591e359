-- enqueue: put conversations in the queue and wake a worker.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  "tail" (new requests, FIFO) or "head" (returned ones, ahead of new work)
-- ARGV[2..] conversation ids, in queue order (the first given is served first)
-- Returns the queue length.

if ARGV[1] == 'tail' then
  for i = 2, #ARGV do
    redis.call('RPUSH', K_QUEUE, ARGV[i])
  end
else
  for i = #ARGV, 2, -1 do
    redis.call('LPUSH', K_QUEUE, ARGV[i])
  end
end
wake()
return redis.call('LLEN', K_QUEUE)
