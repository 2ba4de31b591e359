-- settle: close an in-flight assignment once the database has answered.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  conversation id
-- ARGV[2]  leader id the assignment was made to (a stale settle for another is ignored)
-- ARGV[3]  outcome: "committed" (the database has it), "requeue" (the database step failed:
--          back to the head of the queue), "drop" (no longer queued in the database)
-- ARGV[4]  failed attempts after which a requeued conversation is parked instead
-- Returns 0 when there was no matching in-flight record (already settled), else 1, or 2
-- when the conversation was parked.

local conv, leader, outcome = ARGV[1], ARGV[2], ARGV[3]
if inflight_leader(conv) ~= leader then
  return 0
end
redis.call('HDEL', K_INFLIGHT, conv)
if outcome == 'committed' then
  redis.call('HDEL', K_ATTEMPTS, conv)
  return 1
end
-- Undo exactly what assign did: only a slot this conversation held comes back, and only
-- to a leader who is still present (an offline leader is not brought back).
if redis.call('SREM', basket(leader), conv) == 1 then
  refresh(leader)
end
wake()
if outcome == 'drop' then
  redis.call('HDEL', K_ATTEMPTS, conv)
  return 1
end
if redis.call('HINCRBY', K_ATTEMPTS, conv, 1) >= tonumber(ARGV[4]) then
  redis.call('SADD', K_PARKED, conv)
  return 2
end
redis.call('LPUSH', K_QUEUE, conv)
return 1
