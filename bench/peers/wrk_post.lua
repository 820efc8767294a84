-- wrk_post.lua: the wrk peer of hookline's benchmark harness (bench/run).
--
--   [WRK_DELAY_MS=D] wrk -t1 -cN -dDs -s bench/peers/wrk_post.lua URL -- BODY_FILE SIG_HEADER SIG_VALUE
--
-- Posts the same 512 B JSON body with the same precomputed signature header
-- on every request: wrk renders and signs nothing, so it is the ceiling of a
-- tuned HTTP/1.1 load generator, not a webhook sender. WRK_DELAY_MS makes
-- each connection wait that long between requests (wrk's only pacing; wrk
-- stays closed-loop, so its latency is not corrected for coordinated
-- omission). It is an environment variable because wrk decides whether a
-- script paces when it loads it, before init() sees the arguments, and a
-- delay() function, even returning 0, costs a timer per request.
-- At the end it prints one line "WRKJSON {...}" with wrk's own counts and
-- latency percentiles (microseconds, the whole run including warm-up).

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers[args[2]] = args[3]
  wrk.headers["X-Webhook-Event"] = "bench.delivery"
end

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
if delay_ms ~= nil and delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"contender":"wrk","sent":%d,"duration_s":%.3f,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"count":%d,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d,"max":%d,' ..
    '"measured_from":"sent"}}\n',
    summary.requests, summary.duration / 1e6, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    summary.requests, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
