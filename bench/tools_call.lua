-- wrk script for bench/run: every request is the same JSON-RPC `tools/call` POST that the
-- driver first checked with curl. The driver passes the body, the headers (one
-- "Name: value" per line) and the bearer token in the environment; with --tokens, a file of
-- tokens (one per line) and how many of them are hot: each request then carries one picked
-- at random, 90% of the time among the hot ones.
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

local tokens_file = os.getenv("BENCH_TOKENS_FILE")
if tokens_file and tokens_file ~= "" then
  local tokens = {}
  for line in io.lines(tokens_file) do
    tokens[#tokens + 1] = line
  end
  local hot = tonumber(os.getenv("BENCH_HOT_TOKENS")) or #tokens
  math.randomseed(os.time())
  function request()
    local pick
    if hot < #tokens and math.random() < 0.9 then
      pick = math.random(hot)
    else
      pick = math.random(#tokens)
    end
    wrk.headers["Authorization"] = "Bearer " .. tokens[pick]
    return wrk.format()
  end
end
