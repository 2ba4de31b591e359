-- seed assign: the BASELINE of the routing bench, a model of the seed's assignment as
-- /work/shared/seed/ARCHITECTURE.md describes it. Not part of Team Talk.
-- Take the newest request (the seed pushed with LPUSH, so LPOP serves last in, first out),
-- read every online leader with HGETALL, give it to the one with the most free slots (the
-- first one found wins a tie), take the slot with HINCRBY -1 and SADD it to their basket.
-- The seed called its script once per assignment; the loop over ARGV[1] only gives it the
-- same batching as ours, the algorithm is unchanged (a batch of 1 is the seed as it ran).
-- KEYS[1]  conversations:queue        LIST  LPUSH to add, LPOP to take (LIFO)
-- KEYS[2]  users:online_teamleaders   HASH  leader id -> free slots
-- KEYS[3]  tl:                        prefix of the basket SETs: KEYS[3]..id..":basket"
-- ARGV[1]  the most assignments to make in this call
-- Returns a flat array {conversation id, leader id, ...}, empty when nothing can be assigned.
--
-- Each assignment reads the whole leaders hash: O(N) in the number of online leaders.

local made = {}
for _ = 1, tonumber(ARGV[1]) do
  local conv = redis.call('LPOP', KEYS[1])
  if not conv then
    break
  end
  local leaders = redis.call('HGETALL', KEYS[2])
  local best, most = nil, 0
  for i = 1, #leaders, 2 do
    local free = tonumber(leaders[i + 1])
    if free > most then  -- strictly greater: the first one found wins a tie
      best, most = leaders[i], free
    end
  end
  if not best then
    redis.call('LPUSH', KEYS[1], conv)
    break
  end
  redis.call('HINCRBY', KEYS[2], best, -1)
  redis.call('SADD', KEYS[3] .. best .. ':basket', conv)
  made[#made + 1] = conv
  made[#made + 1] = best
end
return made
