-- wrk script for bench/serve.sh: POSTs the JSON body in file $BODY to path $INFER_PATH and
-- prints one machine-readable line at the end:
--   RESULT requests=N duration_us=D rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. connect=..
--          read=.. write=.. timeout=.. non2xx=.. [s2xx=.. s503=.. s504=.. sother=..]
-- With COUNT_STATUS=1 every response's status is counted per wrk thread (s2xx, s503, s504,
-- sother); without it wrk does not hand responses to Lua at all (cheaper for the client).
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.path = os.getenv("INFER_PATH")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

if os.getenv("COUNT_STATUS") == "1" then
  s2xx, s503, s504, sother = 0, 0, 0, 0
  function response(status, headers, body)
    if status >= 200 and status < 300 then s2xx = s2xx + 1
    elseif status == 503 then s503 = s503 + 1
    elseif status == 504 then s504 = s504 + 1
    else sother = sother + 1 end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local line = string.format(
    "RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d timeout=%d non2xx=%d",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status)
  if os.getenv("COUNT_STATUS") == "1" then
    local c = {s2xx = 0, s503 = 0, s504 = 0, sother = 0}
    for _, t in ipairs(threads) do
      for k, _ in pairs(c) do c[k] = c[k] + (t:get(k) or 0) end
    end
    line = line .. string.format(" s2xx=%d s503=%d s504=%d sother=%d",
                                 c.s2xx, c.s503, c.s504, c.sother)
  end
  io.write(line .. "\n")
end
