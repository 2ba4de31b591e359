-- settle: close in-flight assignments once the database has answered.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  failed attempts after which a requeued conversation is parked instead
-- ARGV[2]  now, in ms (when a parked conversation was set aside)
-- ARGV[3..] quadruples: conversation id; the leader it was assigned to and the worker life
--          that claimed it ("" for none): a record of another leader or another life is not
--          this one (already settled, maybe claimed again since) and is left alone;
--          outcome: "committed" (the database has it), "requeue" (the database step failed
--          for this conversation: back to the queue's head, in creation order among the
--          other returned ones, counting an attempt), "retry" (the database could not be
--          reached: back to the head, no attempt counted, no wake: the worker backs off),
--          "drop" (no longer queued in the database)
-- Returns one number per quadruple: 0 when there was no matching in-flight record (already
-- settled), else 1, or 2 when the conversation was parked.

local max_attempts = tonumber(ARGV[1])
local results = {}
for i = 3, #ARGV, 4 do
  local conv, leader, life, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local result = 0
  local held_by, held_for = inflight_owner(conv)
  if held_by == leader and held_for == life then
    redis.call('HDEL', K_INFLIGHT, conv)
    result = 1
    if outcome ~= 'committed' then
      -- Undo exactly what assign did: only a slot this conversation held comes back, and
      -- only to a leader who is still present (an offline leader is not brought back).
      if redis.call('SREM', basket(leader), conv) == 1 then
        refresh(leader)
      end
      if outcome ~= 'retry' then
        wake()
      end
    end
    if outcome == 'requeue' then
      if redis.call('HINCRBY', K_ATTEMPTS, conv, 1) >= max_attempts then
        redis.call('ZADD', K_PARKED, ARGV[2], conv)
        result = 2
      else
        return_to_queue(conv)
      end
    elseif outcome == 'retry' then
      return_to_queue(conv)
    else
      redis.call('HDEL', K_ATTEMPTS, conv)
      redis.call('HDEL', K_FRONT, conv)
      redis.call('HDEL', K_PREFERRED, conv)  -- a supervisor's assign_to leaves it till now
    end
  end
  results[#results + 1] = result
end
return results
