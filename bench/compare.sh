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

connections=100
source bench/lib.sh

# Prints the binary, req/s and p99 of one run.
one_run() {
  start_router "$1"
  wait_for_port "$port"
  local result
  result=$(wrk_run "$port" "${CONNECTION_CLOSE:-0}")
  stop_server
  printf "%-40s req/s %8s   p99 %7s ms\n" "$1" "$(cut -d' ' -f1 <<< "$result")" "$(cut -d' ' -f4 <<< "$result")"
}

for _ in $(seq 1 "$pairs"); do
  one_run "$a"
  one_run "$b"
done
