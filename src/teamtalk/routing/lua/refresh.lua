-- refresh: recompute free slots and the index for leaders, from what is stored (after a
-- rebuild wrote their capacity and baskets; a presence change since then stays as it is).
-- KEYS: the routing keys, see _lib.lua.
-- ARGV     leader ids
-- Returns how many have a free slot and are online.

local ready = 0
for i = 1, #ARGV do
  if refresh(ARGV[i]) > 0 and redis.call('HGET', K_STATUS, ARGV[i]) == 'online' then
    ready = ready + 1
  end
end
if ready > 0 then
  wake()
end
return ready
