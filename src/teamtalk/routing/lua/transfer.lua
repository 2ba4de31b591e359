-- transfer: move a conversation from one leader's basket to another's, if the other is
-- online with a free slot (checked and taken in the same step, so no basket overfills).
-- KEYS: the routing keys, see _lib.lua.
-- ARGV[1]  the leader giving it
-- ARGV[2]  the leader receiving it
-- ARGV[3]  conversation id
-- ARGV[4]  "force" to move it whatever the receiver's state (undoing a transfer whose
--          database step failed), else ""
-- Returns 1 when moved, 0 when the receiver is not online with a free slot.

local giver, taker, conv = ARGV[1], ARGV[2], ARGV[3]
if ARGV[4] ~= 'force' and not redis.call('ZSCORE', K_AVAIL, taker) then
  return 0
end
if redis.call('SREM', basket(giver), conv) == 1 then
  refresh(giver)
end
redis.call('SADD', basket(taker), conv)
refresh(taker)
return 1
