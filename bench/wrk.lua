-- wrk script for bench/run.py: cycles through the requests listed in $KRAG_BENCH_REQUESTS
-- (one per line: METHOD <tab> PATH <tab> JSON body or nothing), sends the token in
-- $KRAG_BENCH_TOKEN, and prints its figures as one JSON line for run.py to read.

local requests_ = {}
local index = 0

init = function(args)
  local token = os.getenv("KRAG_BENCH_TOKEN")
  local file = assert(io.open(os.getenv("KRAG_BENCH_REQUESTS"), "r"))
  for line in file:lines() do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    local headers = { ["Authorization"] = "Token " .. token, ["Accept"] = "application/json" }
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/json"
    end
    table.insert(requests_, wrk.format(method, path, headers, body))
  end
  file:close()
  -- Threads start at different places in the list, so they do not move in step.
  index = math.random(#requests_) - 1
end

request = function()
  index = index % #requests_ + 1
  return requests_[index]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout
  ))
end
