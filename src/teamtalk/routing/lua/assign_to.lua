-- assign_to: a supervisor gives a waiting conversation to a named leader, checked and taken
-- in one step as `assign` does: the leader online with a free slot, the conversation
-- waiting in the queue (not in flight, not set aside). It is recorded as in flight, claimed
-- by no worker life, until the database answers (`settle` then, or the undo below); a
-- preference it had (KEYS[14]) is used up when `settle` finds it committed.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  leader id
-- ARGV[2]  conversation id
-- ARGV[3]  now, in ms (the in-flight record's start)
-- ARGV[4]  "" to assign; else undo this assignment (its database step failed), given where
--          the conversation was as the assignment answered ("new" or "returned")
-- Returns, for an assignment: where it was ("new" or "returned"), or why not:
-- "leader_unavailable" (not online), "leader_full" (no free slot), "conversation_not_queued".
-- For an undo: 1 when undone, 0 when its record was settled meanwhile.

local leader, conv = ARGV[1], ARGV[2]
if ARGV[4] ~= '' then
  local held_by, held_for = inflight_owner(conv)
  if held_by ~= leader or held_for ~= '' then
    return 0
  end
  redis.call('HDEL', K_INFLIGHT, conv)
  if redis.call('SREM', basket(leader), conv) == 1 then
    refresh(leader)
  end
  put_back(conv, ARGV[4])
  wake()
  return 1
end

if redis.call('HGET', K_STATUS, leader) ~= 'online' then
  return 'leader_unavailable'
end
local leader_score = redis.call('ZSCORE', K_AVAIL, leader)
if not leader_score then
  return 'leader_full'
end
if redis.call('HEXISTS', K_INFLIGHT, conv) == 1 or redis.call('ZSCORE', K_PARKED, conv) then
  return 'conversation_not_queued'
end
local place = take_from_queue(conv)
if not place then
  return 'conversation_not_queued'
end
take_slot(leader, leader_score, conv, redis.call('INCR', K_SEQ))
redis.call('HSET', K_INFLIGHT, conv, leader .. ':' .. ARGV[3])
return place
