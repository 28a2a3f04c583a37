-- wrk script: replays pre-signed Twilio webhooks (one "signature<TAB>body" per line).
-- Each thread takes its own share of the lines, so no MessageSid is sent twice until a
-- thread runs out and starts over. CONNECTION_CLOSE=1 adds "Connection: close".
--
-- Two things keep wrk's own work out of the measurement:
-- - Requests are formatted once, in init(): formatting them in request() costs wrk a table
--   and a string build per request, on the same two cores the server uses.
-- - wrk runs init() for each thread just before starting that thread, and starts its clock
--   after the last one, so the first thread would send requests while the others still
--   read the file: those requests would count, that time would not. With WRK_READY set to
--   a file name, the last thread creates that file at the end of its init() and every
--   thread waits for it before its first request. (For the first thread, wrk's main thread
--   also calls request() once before starting it, to check what it returns; that call must
--   not wait.)
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  requests = {}
  index = 1
  ready_file = os.getenv("WRK_READY")
  local close = os.getenv("CONNECTION_CLOSE") == "1"
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  local n = 0
  for line in io.lines(os.getenv("WEBHOOKS") or "webhooks.txt") do
    if n % nthreads == id then
      local tab = line:find("\t", 1, true)
      local headers = {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = line:sub(1, tab - 1),
      }
      if close then headers["Connection"] = "close" end
      requests[#requests + 1] = wrk.format("POST", "/sms-router/webhook/sms", headers, line:sub(tab + 1))
    end
    n = n + 1
  end
  if ready_file and id == nthreads - 1 then io.open(ready_file, "w"):close() end
end

local function wait_for_all_threads()
  local give_up = os.time() + 60
  while true do
    local f = io.open(ready_file, "r")
    if f then f:close() return end
    if os.time() > give_up then
      io.stderr:write("webhook.lua: " .. ready_file .. " did not appear; is WRK_THREADS the -t of wrk?\n")
      return
    end
  end
end

local calls = 0
function request()
  calls = calls + 1
  if ready_file and not (id == 0 and calls == 1) then
    wait_for_all_threads()
    ready_file = nil
  end
  local r = requests[index]
  index = index % #requests + 1
  return r
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx answers: %d, socket errors: %d\n", summary.errors.status,
                         summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
