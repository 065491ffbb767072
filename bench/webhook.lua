-- wrk script: POST pre-signed webhook bodies, each thread cycling through its own pool.
--
--   wrk -t2 -c64 -d10s -s bench/webhook.lua http://127.0.0.1:PORT -- /tmp/pool.%d.txt
--
-- wrk's Lua has no HMAC, so bench/payloads.py writes "signature<TAB>body" lines
-- ahead of time; "%d" in the pool path is replaced by the thread number (1..t),
-- giving every thread distinct message ids. Requests are formatted once, in init.
-- A thread that reaches the end of its pool starts again and counts it in
-- `wrapped`: those are duplicate message ids, which the webhook handles more
-- cheaply, and the benchmark reports them. done() prints one JSON line.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  threads[counter] = thread
end

local requests = {}
local count = 0
local next_index = 0
wrapped = 0

function init(args)
  local path = string.format(args[1], id)
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    headers["X-Hub-Signature-256"] = line:sub(1, tab - 1)
    count = count + 1
    requests[count] = wrk.format("POST", "/webhook", headers, line:sub(tab + 1))
  end
  if count == 0 then
    error("empty pool " .. path)
  end
end

function request()
  next_index = next_index + 1
  if next_index > count then
    next_index = 1
    wrapped = wrapped + 1
  end
  return requests[next_index]
end

function done(summary, latency, requests)
  local total_wrapped = 0
  for _, thread in ipairs(threads) do
    total_wrapped = total_wrapped + thread:get("wrapped")
  end
  local errors = summary.errors
  local failed = errors.connect + errors.read + errors.write + errors.timeout + errors.status
  io.write(string.format(
    '{"generator":"wrk","requests":%d,"ok":%d,"errors":%d,"duration_s":%.6f,' ..
    '"p50_ms":%.3f,"p99_ms":%.3f,"wrapped":%d}\n',
    summary.requests, summary.requests - errors.status, failed, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, total_wrapped))
end
