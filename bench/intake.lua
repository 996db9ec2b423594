-- wrk script for bench/intake.py.
--
-- Arguments after "--": a body template and a run tag. With a template, every request is a
-- POST of a new JSON body: string.format(template, aware_at, tag, thread, number), where
-- aware_at is ten minutes before now (UTC, ISO 8601) and tag, thread and number make each
-- body distinct at a constant size. Without one, wrk sends its plain GET.
-- Any answer other than 2xx counts as failed. done() prints the lines bench/intake.py
-- reads: counts, and wrk's latency distribution (the one --latency prints) as quantiles.

local threads = {}
local count = 0

function setup(thread)
  count = count + 1
  thread:set("id", count)
  threads[#threads + 1] = thread
end

local template, tag
local number = 0
failed = 0 -- a global, so that done() can read it from each thread
local second, aware = -1, ""

function init(args)
  template, tag = args[1], args[2] or "r00"
  if template == nil or template == "" then
    request = nil -- a static GET: wrk builds it once
  else
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  local now = os.time()
  if now ~= second then
    second = now
    aware = os.date("!%Y-%m-%dT%H:%M:%S+00:00", now - 600)
  end
  number = number + 1
  return wrk.format(nil, nil, nil, string.format(template, aware, tag, id, number))
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("failed") or 0)
  end
  local errors = summary.errors
  io.write(string.format("bench.requests %d\n", summary.requests))
  io.write(string.format("bench.duration_us %d\n", summary.duration))
  io.write(string.format("bench.non2xx %d\n", bad))
  io.write(string.format("bench.socket_errors %d\n",
    errors.connect + errors.read + errors.write + errors.timeout))
  local parts = {}
  if summary.requests > 0 then
    for tenth = 1, 999 do
      parts[#parts + 1] = string.format("%.1f=%d", tenth / 10, latency:percentile(tenth / 10))
    end
    for hundredth = 9991, 9999 do
      parts[#parts + 1] = string.format("%.2f=%d", hundredth / 100,
        latency:percentile(hundredth / 100))
    end
    parts[#parts + 1] = string.format("100=%d", latency.max)
  end
  io.write("bench.quantiles_us ", table.concat(parts, " "), "\n")
end
