-- assign: give queued conversations, head first, to the online leaders with the most free
-- slots (ties: the oldest last assignment), and record each as in flight. A conversation
-- with a preference (KEYS[14]) goes to its preferred leader if they are online with a free
-- slot, or away from the leader it should avoid if anyone else is.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  the most assignments to make in this call
-- ARGV[2]  now, in ms (the in-flight record's start)
-- ARGV[3]  the worker life claiming them (its liveness key's name), or "" for none
-- Returns a flat array {conversation id, leader id, ...}, empty when nothing can be assigned.
--
-- The hot path: the index's score holds the leader's free slots and last assignment, so
-- each assignment is six O(1) or O(log N) calls, whatever the number of leaders.

local function record_of(leader)
  if ARGV[3] == '' then
    return leader .. ':' .. ARGV[2]
  end
  return leader .. ':' .. ARGV[2] .. ':' .. ARGV[3]
end

local made = {}
local seq = tonumber(redis.call('GET', K_SEQ) or '0')
for _ = 1, tonumber(ARGV[1]) do
  local top = redis.call('ZRANGE', K_AVAIL, 0, 0, 'WITHSCORES')
  if #top == 0 then
    break
  end
  local conv = pop_next()
  if not conv then
    break
  end
  local leader, leader_score = top[1], top[2]
  local preference = redis.call('HGET', K_PREFERRED, conv)
  if preference then
    redis.call('HDEL', K_PREFERRED, conv)
    local who = string.sub(preference, 2)
    if string.sub(preference, 1, 1) == '+' then
      local s = redis.call('ZSCORE', K_AVAIL, who)
      if s then
        leader, leader_score = who, s
      end
    elseif who == leader then
      local two = redis.call('ZRANGE', K_AVAIL, 0, 1, 'WITHSCORES')
      if #two == 4 then
        leader, leader_score = two[3], two[4]
      end
    end
  end
  seq = seq + 1
  take_slot(leader, leader_score, conv, seq)
  redis.call('HSET', K_INFLIGHT, conv, record_of(leader))
  made[#made + 1] = conv
  made[#made + 1] = leader
end
if #made > 0 then
  redis.call('SET', K_SEQ, seq)
end
return made
