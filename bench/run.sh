#!/usr/bin/env bash
# The webhook benchmark: signed, durable webhooks through the real binary, driven by wrk,
# next to three references answering a fixed TwiML on the same machine, alternated with it
# run by run: nginx (what the box can do), the router's own Beast edge alone
# (bench/edge_baseline) and cpp-httplib (bench/baseline_server, the earlier edge).
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
edge_port=18098
nginx_port=18097
token=bench-token-0123456789abcdef0123
data=bench-data
mkdir -p "$data"

scripts/install-deps.sh nginx-light jq
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


report() {
  local label=$1 file=$2
  printf "%-34s req/s %7s   p50 %6s ms   p90 %6s ms   p99 %6s ms   (median of %d)\n" "$label" \
    "$(cut -d' ' -f1 "$file" | median)" "$(cut -d' ' -f2 "$file" | median)" \
    "$(cut -d' ' -f3 "$file" | median)" "$(cut -d' ' -f4 "$file" | median)" "$(wc -l < "$file")"
}

# nginx with one worker per core, answering the same TwiML as the baselines.
mkdir -p "$data/nginx"
cat > "$data/nginx/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
error_log $PWD/$data/nginx/error.log warn;
pid $PWD/$data/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { default_type text/xml; return 200 '<?xml version="1.0" encoding="UTF-8"?><Response/>'; }
  }
}
NGINX

# Threads and peak resident memory (VmHWM) of the server just measured.
process_figures() {
  awk '/^Threads:/ { t = $2 } /^VmHWM:/ { m = $2 } END { printf "%d %.0f", t, m / 1024 }' "/proc/$server_pid/status"
}

run_reference() {  # NAME PORT MODE CLOSE COMMAND...
  local name=$1 ref_port=$2 mode=$3 close=$4; shift 4
  "$@" 2>/dev/null &
  server_pid=$!
  wait_for_port "$ref_port"
  result=$(wrk_run "$ref_port" "$close"); echo "$result" >> "$data/$name-$mode.txt"
  echo "$name $mode run $run: $result"
  stop_server
}

for mode in keepalive close; do
  close=0; [ "$mode" = close ] && close=1
  for name in router nginx edge httplib; do : > "$data/$name-$mode.txt"; done
  : > "$data/router-$mode-process.txt"
  for run in $(seq 1 "$runs"); do
    start_router build-bench/sms-router
    wait_for_port $port
    result=$(wrk_run $port $close); echo "$result" >> "$data/router-$mode.txt"
    figures=$(process_figures); echo "$figures" >> "$data/router-$mode-process.txt"
    echo "sms-router $mode run $run: $result (threads, peak RSS MB: $figures)"
    stop_server

    run_reference nginx $nginx_port $mode $close nginx -p "$PWD/$data/nginx" -c "$PWD/$data/nginx/nginx.conf"
    run_reference edge $edge_port $mode $close build-bench/bench/edge_baseline $edge_port
    run_reference httplib $baseline_port $mode $close build-bench/bench/baseline_server $baseline_port
  done
done

ratio() {  # FILE_A FILE_B: median req/s of A over B's
  awk -v a="$(cut -d' ' -f1 "$1" | median)" -v b="$(cut -d' ' -f1 "$2" | median)" 'BEGIN { printf "%.2f", a / b }'
}

echo
echo "== $(nproc) cores, $users users, $connections connections, ${seconds}s per run, wrk on the same machine"
for mode in keepalive close; do
  label=$([ "$mode" = close ] && echo "Connection: close" || echo "keep-alive")
  report "sms-router, $label" "$data/router-$mode.txt"
  report "nginx (fixed TwiML), $label" "$data/nginx-$mode.txt"
  report "Beast edge alone, $label" "$data/edge-$mode.txt"
  report "cpp-httplib alone, $label" "$data/httplib-$mode.txt"
  echo "   sms-router / nginx: $(ratio "$data/router-$mode.txt" "$data/nginx-$mode.txt")" \
       "  edge / nginx: $(ratio "$data/edge-$mode.txt" "$data/nginx-$mode.txt")" \
       "  sms-router threads, peak RSS MB (median): $(cut -d' ' -f1 "$data/router-$mode-process.txt" | median)," \
       "$(cut -d' ' -f2 "$data/router-$mode-process.txt" | median)"
done
echo
echo "== micro-benchmarks"
BENCH_DB="$data/population-$users.db" build-bench/bench/micro_bench --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true 2>/dev/null | grep -E "median|Benchmark"
