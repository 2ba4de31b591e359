-- move_to_front: a supervisor puts a waiting conversation ahead of everything in the queue,
-- returned ones included; of two moved there, the later move is served first. It stays
-- there (a failed assignment attempt brings it back there) until its assignment is settled.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  conversation id
-- ARGV[2]  the move's number: its event id in the database, so a rebuild orders them alike
-- ARGV[3]  "" to move it; else undo this move (its database step failed), given where it
--          was as the move answered; done only while this move still holds
-- Returns, for a move: where it was ("new", "returned", or the number of an earlier move),
-- "first" when a move already has it ahead of everything (nothing changes), or "" when it
-- is not waiting in the queue (being assigned, set aside after failures, or gone).
-- For an undo: 1 when undone, 0 when this move no longer holds.

local conv, number = ARGV[1], ARGV[2]
if ARGV[3] ~= '' then
  if redis.call('HGET', K_FRONT, conv) ~= number then
    return 0
  end
  local place = ARGV[3]
  if place == 'new' or place == 'returned' then
    redis.call('HDEL', K_FRONT, conv)
  else
    redis.call('HSET', K_FRONT, conv, place)
  end
  -- Taken meanwhile by a worker: only the memory of the move goes.
  if redis.call('ZREM', K_RETURNED, conv) == 1 then
    put_back(conv, place)
  end
  return 1
end

local earlier = redis.call('HGET', K_FRONT, conv)
local head = redis.call('ZRANGE', K_RETURNED, 0, 0)
if earlier and head[1] == conv then
  return 'first'
end
if redis.call('HEXISTS', K_INFLIGHT, conv) == 1 or redis.call('ZSCORE', K_PARKED, conv) then
  return ''
end
local place = take_from_queue(conv)
if not place then
  return ''
end
redis.call('HSET', K_FRONT, conv, number)
redis.call('ZADD', K_RETURNED, -tonumber(number), conv)
return earlier or place
