-- wrk script for bench/run.sh. The mode comes from the environment:
--   BENCH_MODE=get      GET the URL's path; adds "Authorization: Bearer $TOKEN" when TOKEN is set
--   BENCH_MODE=checkin  POST /checkins with a unique ticket id per request (event $EVENT)
--   BENCH_MODE=listed   POST /checkins of the listed tickets L-<thread>-<n>, n = 1, 2, ... (event $EVENT;
--                       bench-tool --seed-journal-listed makes them)
--   BENCH_MODE=login    POST /auth/login as $LOGIN_USER / $LOGIN_PASSWORD
-- done() prints one machine-readable line:
--   RESULT <requests/s> <p50 ms> <p99 ms> <requests> <non-2xx/3xx> <socket errors>

local mode = os.getenv("BENCH_MODE") or "get"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}
local counter = 0
local prefix = ""

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- tid is set by setup() before init() runs in the thread
  prefix = (os.getenv("RUN_TAG") or "run") .. "-" .. tostring(tid) .. "-"
  if mode ~= "get" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
  if mode == "login" then
    wrk.path = "/auth/login"
    wrk.body = string.format('{"username":"%s","password":"%s"}',
      os.getenv("LOGIN_USER"), os.getenv("LOGIN_PASSWORD"))
  end
end

function request()
  if mode == "checkin" then
    counter = counter + 1
    local body = string.format('{"event_id":"%s","ticket_id":"%s%d"}',
      os.getenv("EVENT") or "bench", prefix, counter)
    return wrk.format("POST", "/checkins", nil, body)
  end
  if mode == "listed" then
    counter = counter + 1
    local body = string.format('{"event_id":"%s","ticket_id":"L-%d-%07d"}',
      os.getenv("EVENT") or "listed", tid, counter)
    return wrk.format("POST", "/checkins", nil, body)
  end
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d %d\n",
    summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
