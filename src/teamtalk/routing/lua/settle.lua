-- settle: close in-flight assignments once the database has answered.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  failed attempts after which a requeued conversation is parked instead
-- ARGV[2]  now, in ms (when a parked conversation was set aside)
-- ARGV[3..] triples: conversation id, the leader it was assigned to (a stale settle for
--          another leader is ignored), outcome: "committed" (the database has it),
--          "requeue" (the database step failed: back to the queue's head, in creation
--          order among the other returned ones), "drop" (no
--          longer queued in the database)
-- Returns one number per triple: 0 when there was no matching in-flight record (already
-- settled), else 1, or 2 when the conversation was parked.

local max_attempts = tonumber(ARGV[1])
local results = {}
for i = 3, #ARGV, 3 do
  local conv, leader, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local result = 0
  if inflight_leader(conv) == leader then
    redis.call('HDEL', K_INFLIGHT, conv)
    result = 1
    if outcome ~= 'committed' then
      -- Undo exactly what assign did: only a slot this conversation held comes back, and
      -- only to a leader who is still present (an offline leader is not brought back).
      if redis.call('SREM', basket(leader), conv) == 1 then
        refresh(leader)
      end
      wake()
    end
    if outcome == 'requeue' then
      if redis.call('HINCRBY', K_ATTEMPTS, conv, 1) >= max_attempts then
        redis.call('ZADD', K_PARKED, ARGV[2], conv)
        result = 2
      else
        return_to_queue(conv)
      end
    else
      redis.call('HDEL', K_ATTEMPTS, conv)
    end
  end
  results[#results + 1] = result
end
return results
