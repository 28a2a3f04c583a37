# Shared by bench/run.sh and bench/compare.sh (sourced, not run). The caller sets data,
# users, seconds and connections, and runs from the top of the checkout.

# The median of the numbers on standard input, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
trap stop_server EXIT

wait_for_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# Starts BINARY's `serve` on a fresh copy of the population (bench-data/config.json).
start_router() {
  cp "$data/population-$users.db" "$data/run.db"
  rm -f "$data/run.db-wal" "$data/run.db-shm"
  "$1" --config "$data/config.json" serve 2> "$data/serve.log" &
  server_pid=$!
}

# One wrk run against PORT (CLOSE=1 for Connection: close); prints "req/s p50 p90 p99"
# (latencies in ms).
wrk_run() {
  local target_port=$1 close=$2
  rm -f "$data/wrk-ready"
  CONNECTION_CLOSE=$close WRK_THREADS=2 WEBHOOKS="$data/webhooks-$users.txt" WRK_READY="$data/wrk-ready" \
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/webhook.lua "http://127.0.0.1:$target_port" \
    > "$data/wrk.out"
  grep -E "non-2xx" "$data/wrk.out" >&2 || true
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +90%/ { p90 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.2f %.2f %.2f\n", rps, p50, p90, p99 }' "$data/wrk.out"
}
