#!/usr/bin/env bash
# The webhook benchmark: signed, durable webhooks through the real binary, driven by wrk,
# next to cpp-httplib's own ceiling (bench/baseline_server) on the same machine.
#
#   bench/run.sh [USERS] [RUNS] [SECONDS]     defaults: 1000000 users, 3 runs, 10 s
#
# Prints req/s and p50/p90/p99 for each run and their medians. Data goes to bench-data/.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-1000000}
runs=${2:-3}
seconds=${3:-10}
connections=100
port=18000
baseline_port=18099
token=bench-token-0123456789abcdef0123
data=bench-data
mkdir -p "$data"

scripts/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSMSR_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null

if [ ! -f "$data/population-$users.db" ]; then
  echo "== populating $users users (once)"
  build-bench/bench/bench_tool populate "$data/population-$users.db.tmp" "$users"
  mv "$data/population-$users.db.tmp" "$data/population-$users.db"
fi
if [ ! -f "$data/webhooks-$users.txt" ]; then
  # Enough distinct MessageSids that no run repeats one (dedup answers are cheaper).
  build-bench/bench/bench_tool requests "$data/population-$users.db" 400000 "$data/webhooks-$users.txt" \
    "$token" "http://localhost:8000/sms-router/webhook/sms"
fi

cat > "$data/config.json" <<JSON
{
  "listen": {"host": "127.0.0.1", "port": $port},
  "public_url": "http://localhost:8000",
  "database": {"path": "$data/run.db"},
  "twilio": {"auth_token": "$token", "numbers": ["+15005550006"]},
  "agent": {"url": "builtin:echo"},
  "log": {"level": "${LOG_LEVEL:-warn}"}
}
JSON

source bench/lib.sh

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

report() {
  local label=$1 file=$2
  printf "%-34s req/s %7s   p50 %6s ms   p90 %6s ms   p99 %6s ms   (median of %d)\n" "$label" \
    "$(cut -d' ' -f1 "$file" | median)" "$(cut -d' ' -f2 "$file" | median)" \
    "$(cut -d' ' -f3 "$file" | median)" "$(cut -d' ' -f4 "$file" | median)" "$(wc -l < "$file")"
}

for mode in keepalive close; do
  close=0; [ "$mode" = close ] && close=1
  : > "$data/router-$mode.txt"; : > "$data/baseline-$mode.txt"
  for run in $(seq 1 "$runs"); do
    start_router build-bench/sms-router
    wait_for_port $port
    result=$(wrk_run $port $close); echo "$result" >> "$data/router-$mode.txt"
    echo "sms-router $mode run $run: $result"
    stop_server

    build-bench/bench/baseline_server $baseline_port 2>/dev/null &
    server_pid=$!
    wait_for_port $baseline_port
    result=$(wrk_run $baseline_port $close); echo "$result" >> "$data/baseline-$mode.txt"
    echo "baseline   $mode run $run: $result"
    stop_server
  done
done

echo
echo "== $(nproc) cores, $users users, $connections connections, ${seconds}s per run, wrk on the same machine"
report "sms-router, keep-alive" "$data/router-keepalive.txt"
report "cpp-httplib baseline, keep-alive" "$data/baseline-keepalive.txt"
report "sms-router, Connection: close" "$data/router-close.txt"
report "cpp-httplib baseline, Connection: close" "$data/baseline-close.txt"

echo
echo "== micro-benchmarks"
BENCH_DB="$data/population-$users.db" build-bench/bench/micro_bench --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true 2>/dev/null | grep -E "median|Benchmark"
