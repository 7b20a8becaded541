-- girder governance: check-and-reserve every party of one request, all or nothing
-- (gov_redis.c; docs/governance.md "Redis mode"). Time is Redis' own clock (TIME), so
-- every girder instance sees the same windows.
--
-- KEYS[1]           the reservation record  <tag>:res:<rid>
-- KEYS[2+4i .. 5+4i] party i (0-based): RPM hash, TPM hash, concurrency zset, budget counter
-- ARGV[1] rid   ARGV[2] tokens   ARGV[3] cost (USD)   ARGV[4] lease (ms)   ARGV[5] parties
-- ARGV[6+5i ..] party i: rpm, tpm, concurrent, budget USD, budget TTL (s, 0: none)
--               (0 = no such limit)
--
-- Returns {1, now_ms, rpm_used_0, tpm_used_0, rpm_used_1, ...} when admitted (the used
-- sums before this request), {1, now_ms} again for a rid already reserved (a retry never
-- counts twice), or {0, reason, party, wait_ms, limit, used, spent} when refused
-- (reason: 1 rpm, 2 tpm, 3 concurrent, 4 budget, 5 too large; spent as a string).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sec = math.floor(now / 1000)
local rid = ARGV[1]
local tokens = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local n = tonumber(ARGV[5])

if redis.call('EXISTS', KEYS[1]) == 1 then
  return {1, now}
end

-- the live one-second buckets of a window (those overlapping (now - 60 s, now]),
-- dropping older ones; returns the sum and the live buckets sorted oldest first
local function window(key)
  local h = redis.call('HGETALL', key)
  local sum, old, live = 0, {}, {}
  for i = 1, #h, 2 do
    local s = tonumber(h[i])
    if s <= sec - 61 then
      old[#old + 1] = h[i]
    else
      local c = tonumber(h[i + 1])
      sum = sum + c
      live[#live + 1] = {s, c}
    end
  end
  if #old > 0 then
    redis.call('HDEL', key, unpack(old))
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  return sum, live
end

-- milliseconds until used + need <= limit as the oldest buckets leave the window
local function wait(live, used, limit, need)
  for _, b in ipairs(live) do
    used = used - b[2]
    if used + need <= limit then
      return (b[1] + 61) * 1000 - now
    end
  end
  return 0
end

local used = {}
for i = 0, n - 1 do
  local k, a = 2 + 4 * i, 6 + 5 * i
  local rpm, tpm, conc = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local budget = tonumber(ARGV[a + 3])
  if conc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 2], '-inf', now)
    local c = redis.call('ZCARD', KEYS[k + 2])
    if c >= conc then
      return {0, 3, i, 1000, conc, c, '0'}
    end
  end
  local ru, tu = 0, 0
  if rpm > 0 then
    local live
    ru, live = window(KEYS[k])
    if ru + 1 > rpm then
      return {0, 1, i, wait(live, ru, rpm, 1), rpm, ru, '0'}
    end
  end
  if tpm > 0 then
    local live
    tu, live = window(KEYS[k + 1])
    if tokens > tpm then
      return {0, 5, i, 0, tpm, tokens, '0'}
    end
    if tu + tokens > tpm then
      return {0, 2, i, wait(live, tu, tpm, tokens), tpm, tu, '0'}
    end
  end
  if budget > 0 then
    local spent = tonumber(redis.call('GET', KEYS[k + 3]) or '0')
    if spent >= budget then
      return {0, 4, i, 0, 0, 0, tostring(spent)}
    end
  end
  used[#used + 1] = ru
  used[#used + 1] = tu
end

for i = 0, n - 1 do
  local k, a = 2 + 4 * i, 6 + 5 * i
  local rpm, tpm, conc = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local budget, ttl = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  if conc > 0 then
    redis.call('ZADD', KEYS[k + 2], now + lease, rid)
    redis.call('PEXPIRE', KEYS[k + 2], lease + 1000)
  end
  if rpm > 0 then
    redis.call('HINCRBY', KEYS[k], sec, 1)
    redis.call('PEXPIRE', KEYS[k], 62000)
  end
  if tpm > 0 and tokens > 0 then
    redis.call('HINCRBY', KEYS[k + 1], sec, tokens)
    redis.call('PEXPIRE', KEYS[k + 1], 62000)
  end
  if budget > 0 then
    redis.call('INCRBYFLOAT', KEYS[k + 3], ARGV[3])
    if ttl > 0 then
      redis.call('EXPIRE', KEYS[k + 3], ttl)
    end
  end
end
-- the record: which second the tokens went to, kept as long as the lease
redis.call('SET', KEYS[1], sec, 'PX', lease)
local out = {1, now}
for _, u in ipairs(used) do
  out[#out + 1] = u
end
return out
