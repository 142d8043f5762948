-- Appended to every script. Numbers each thread, and at the end prints one
-- line of JSON for roster-bench: wrk's totals and latency percentiles, and the
-- answers by status of scripts that count them (a global `statuses` table).
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local statuses = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      statuses[status] = (statuses[status] or 0) + n
    end
  end
  local counted = {}
  for status, n in pairs(statuses) do
    table.insert(counted, string.format('"%s":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'ROSTER_BENCH_RESULT {"requests":%d,"duration_us":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(counted, ",")))
end
