-- One request, sent again and again: method, JSON body and bearer token come
-- from the environment. wrk builds it once, and, with no response() here,
-- does not hand answers to Lua: the fastest way it has to load a route.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local token = os.getenv("BENCH_TOKEN")
if token then
  wrk.headers["Authorization"] = "Bearer " .. token
end
