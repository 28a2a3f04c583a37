#!/usr/bin/env bash
# Compares two sms-router binaries on the webhook benchmark, in alternating runs so that
# the machine's drift hits both alike. Needs the data bench/run.sh creates (run it once).
#
#   bench/compare.sh BINARY_A BINARY_B [PAIRS] [USERS] [SECONDS]   defaults: 3 pairs, 1000000, 10
#
# Each run starts the binary on a fresh copy of the population (bench-data/config.json,
# builtin:echo, synchronous=FULL) and drives it with wrk at 100 keep-alive connections
# (CONNECTION_CLOSE=1 in the environment for Connection: close). Prints req/s and p99 per run.
set -euo pipefail
cd "$(dirname "$0")/.."

a=${1:?usage: bench/compare.sh BINARY_A BINARY_B [PAIRS] [USERS] [SECONDS]}
b=${2:?usage: bench/compare.sh BINARY_A BINARY_B [PAIRS] [USERS] [SECONDS]}
pairs=${3:-3}
users=${4:-1000000}
seconds=${5:-10}
data=bench-data
port=$(python3 -c 'import json; print(json.load(open("bench-data/config.json"))["listen"]["port"])')
for f in "$data/config.json" "$data/population-$users.db" "$data/webhooks-$users.txt"; do
  [ -e "$f" ] || { echo "missing $f: run bench/run.sh $users first" >&2; exit 2; }
done

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
trap stop_server EXIT

one_run() {
  local binary=$1
  cp "$data/population-$users.db" "$data/run.db"
  rm -f "$data/run.db-wal" "$data/run.db-shm"
  "$binary" --config "$data/config.json" serve 2> "$data/serve.log" &
  server_pid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  CONNECTION_CLOSE=${CONNECTION_CLOSE:-0} WRK_THREADS=2 WEBHOOKS="$data/webhooks-$users.txt" \
    wrk -t2 -c100 -d"${seconds}s" --latency -s bench/webhook.lua "http://127.0.0.1:$port" > "$data/wrk.out"
  stop_server
  printf "%-40s req/s %8s   p99 %9s   %s\n" "$binary" "$(awk '/Requests\/sec/ {print $2}' "$data/wrk.out")" \
    "$(awk '$1 == "99%" {print $2}' "$data/wrk.out")" "$(grep -E 'non-2xx' "$data/wrk.out" || true)"
}

for _ in $(seq 1 "$pairs"); do
  one_run "$a"
  one_run "$b"
done
