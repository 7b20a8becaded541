-- girder governance: settle one reservation made by gov_acquire.lua — swap the token and
-- cost estimates for the real usage and free the concurrency slot. Idempotent: the
-- reservation record is deleted by the first settle, a repeat finds none and does nothing.
--
-- KEYS[1]            the reservation record
-- KEYS[2+3i .. 4+3i] party i: TPM hash, concurrency zset, budget counter
-- ARGV[1] rid   ARGV[2] token delta (actual - estimate)   ARGV[3] cost delta (USD)
-- ARGV[4] parties   ARGV[5+2i], ARGV[6+2i] party i: has a TPM limit, has a budget (0/1)
--
-- Returns 1 when settled now, 0 when there was nothing (left) to settle.
local sec = redis.call('GET', KEYS[1])
if not sec then
  return 0
end
redis.call('DEL', KEYS[1])
local t = redis.call('TIME')
local now_sec = tonumber(t[1])
local rid = ARGV[1]
local dtok = tonumber(ARGV[2])
local dcost = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  local k, a = 2 + 3 * i, 5 + 2 * i
  redis.call('ZREM', KEYS[k + 1], rid)
  -- a bucket that left the window is not touched (its tokens no longer count anyway)
  if ARGV[a] == '1' and dtok ~= 0 and tonumber(sec) >= now_sec - 60 then
    local v = redis.call('HINCRBY', KEYS[k], sec, dtok)
    if v < 0 then
      redis.call('HSET', KEYS[k], sec, 0)
    end
    redis.call('PEXPIRE', KEYS[k], 62000)
  end
  if ARGV[a + 1] == '1' and dcost ~= 0 and redis.call('EXISTS', KEYS[k + 2]) == 1 then
    local v = tonumber(redis.call('INCRBYFLOAT', KEYS[k + 2], ARGV[3]))
    if v < 0 then
      redis.call('SET', KEYS[k + 2], 0, 'KEEPTTL')
    end
  end
end
return 1
