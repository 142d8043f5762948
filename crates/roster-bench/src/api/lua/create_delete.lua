-- Creates an email channel, then deletes it: each 201 queues a DELETE of the
-- priority it answered, which this thread sends next, so channels never pile
-- up. Every address is new (thread id and a counter), as a duplicate is a 409.
local path = os.getenv("BENCH_CHANNELS")
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
  ["Content-Type"] = "application/json",
}
local queue, created = {}, 0
statuses = {}

function request()
  local priority = table.remove(queue)
  if priority then
    return wrk.format("DELETE", path .. "?priority=" .. priority, headers)
  end
  created = created + 1
  local body = string.format('{"type":"email","value":"bench-%d-%d@example.com"}', id, created)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  local priority = status == 201 and body:match('"priority":%s*(%d+)')
  if status == 201 and not priority then
    status = "201 without a priority"
  end
  statuses[status] = (statuses[status] or 0) + 1
  if priority then
    table.insert(queue, priority)
  end
end
