-- post.lua: wrk script for bench/serve: POST the file named by $BODY_FILE as JSON on every
-- request, and at the end print one line "RESULT {json}" that run.sh and run_batching.sh parse:
-- requests, req_per_s, latency percentiles in microseconds, and every error counter.
--   BODY_FILE=bench/serve/out/body.json wrk -t2 -c64 -d10s -s bench/serve/post.lua URL
local path = os.getenv("BODY_FILE")
if not path then error("post.lua: set BODY_FILE to the JSON body to send") end
local fh = assert(io.open(path, "rb"))
local body = fh:read("*a")
fh:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(("RESULT {\"requests\":%d,\"duration_s\":%.3f,\"req_per_s\":%.1f," ..
            "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%.1f," ..
            "\"err_connect\":%d,\"err_read\":%d,\"err_write\":%d,\"err_status\":%d,\"err_timeout\":%d}\n"):format(
    summary.requests, s, summary.requests / s,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
