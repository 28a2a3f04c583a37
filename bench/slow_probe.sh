#!/usr/bin/env bash
# The slow-connection probe: webhook latency from 127.0.0.1 while another address
# (127.0.0.2) holds 10,000 connections open, each trickling a request head one header line
# per second. Alternates runs without and with them, at the default per-client cap (the
# excess is refused) and with the cap off (all 10,000 held).
#
#   bench/slow_probe.sh [USERS] [RUNS] [SECONDS]     defaults: 1000000 users, 3 runs, 10 s
#
# Run bench/run.sh once first: it builds build-bench/ and the population.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-1000000}
runs=${2:-3}
seconds=${3:-10}
connections=100
port=18000
token=bench-token-0123456789abcdef0123
data=bench-data
source bench/lib.sh
[ -f "$data/config.json" ] || { echo "run bench/run.sh first" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

probe() {  # LABEL CAP HOLD(0/1)
  local label=$1 cap=$2 with_hold=$3
  jq --argjson cap "$cap" '.limits.max_connections_per_client = $cap | .limits.header_timeout_ms = 600000' \
    "$data/config.json" > "$data/probe-config.json"
  : > "$data/probe-$label.txt"
  for run in $(seq 1 "$runs"); do
    cp "$data/population-$users.db" "$data/run.db"; rm -f "$data/run.db-wal" "$data/run.db-shm"
    build-bench/sms-router --config "$data/probe-config.json" serve 2> "$data/serve.log" &
    server_pid=$!
    wait_for_port $port
    hold_pid=""
    if [ "$with_hold" = 1 ]; then
      build-bench/bench/bench_tool hold $port 10000 127.0.0.2 $((seconds + 15)) 2> "$data/hold.log" &
      hold_pid=$!
      sleep 5
    fi
    result=$(wrk_run $port 0); echo "$result" >> "$data/probe-$label.txt"
    threads=$(awk '/^Threads:/ { print $2 }' "/proc/$server_pid/status")
    echo "$label run $run: $result  threads $threads  $(tail -1 "$data/hold.log" 2>/dev/null)"
    [ -n "$hold_pid" ] && { kill "$hold_pid" 2>/dev/null || true; wait "$hold_pid" 2>/dev/null || true; }
    : > "$data/hold.log"
    stop_server
  done
}

probe quiet 256 0
probe held-default-cap 256 1
probe held-no-cap 0 1
for label in quiet held-default-cap held-no-cap; do
  f="$data/probe-$label.txt"
  printf "%-18s req/s %7s   p50 %6s ms   p99 %6s ms   (median of %d)\n" "$label" \
    "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)" "$(cut -d' ' -f4 "$f" | median)" "$(wc -l < "$f")"
done
