-- release: a conversation leaves a leader's basket (solved, pending, transferred), freeing
-- the slot at once.
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  leader id
-- ARGV[2]  conversation id
-- Returns the leader's free slots afterwards (-1 when they are offline).

local leader, conv = ARGV[1], ARGV[2]
redis.call('SREM', basket(leader), conv)
local free = refresh(leader)
if free > 0 then
  wake()
end
return free
