-- wrk script: replays pre-signed Twilio webhooks (one "signature<TAB>body" per line).
-- Each thread takes its own share of the lines, so no MessageSid is sent twice until a
-- thread runs out and starts over. CONNECTION_CLOSE=1 adds "Connection: close".
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  index = 1
  close = os.getenv("CONNECTION_CLOSE") == "1"
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  local n = 0
  for line in io.lines(os.getenv("WEBHOOKS") or "webhooks.txt") do
    if n % nthreads == id then
      local tab = line:find("\t", 1, true)
      requests[#requests + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
    end
    n = n + 1
  end
end

function request()
  local r = requests[index]
  index = index % #requests + 1
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r[1],
  }
  if close then headers["Connection"] = "close" end
  return wrk.format("POST", "/sms-router/webhook/sms", headers, r[2])
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx answers: %d, socket errors: %d\n", summary.errors.status,
                         summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
