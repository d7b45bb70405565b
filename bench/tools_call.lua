-- wrk script for bench/run: every request is the same JSON-RPC `tools/call` POST that the
-- driver first checked with curl. The driver passes the body, the headers (one
-- "Name: value" per line) and the bearer token in the environment.
local body = os.getenv("BENCH_BODY")
local headers = os.getenv("BENCH_HEADERS")
local token = os.getenv("BENCH_TOKEN")
assert(body and headers, "run this script through bench/run")

wrk.method = "POST"
wrk.body = body
for name, value in headers:gmatch("([^:\n]+):%s*([^\n]*)") do
  wrk.headers[name] = value
end
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
