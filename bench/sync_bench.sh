#!/usr/bin/env bash
# Central sync at scale: a throw-away PostgreSQL cluster with USERS users (a quarter with a
# second number, all stored as typed: national format), then
#   - a cold pull into an empty local database (`sms-router sync --once`), RUNS times;
#   - a steady-state round with nothing changed, RUNS times;
#   - the central cost of a round: EXPLAIN ANALYZE of the per-bucket digest query.
#   bench/sync_bench.sh [USERS] [RUNS]      defaults: 1000000 3
# Needs root (PostgreSQL runs as the postgres user). Prints medians.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-1000000}
runs=${2:-3}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
port=55499
work=$(mktemp -d /tmp/sms-router-sync-bench-XXXXXX)
chown postgres "$work"

scripts/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSMSR_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target sms-router >/dev/null

cleanup() {
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

runuser -u postgres -- "$pg_bin/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
psql="psql -h 127.0.0.1 -p $port -U postgres -v ON_ERROR_STOP=1 -q"
$psql -c "CREATE DATABASE central"
echo "== populating $users central users"
$psql -d central <<SQL
CREATE TABLE users (id serial PRIMARY KEY, email varchar NOT NULL UNIQUE, full_name varchar NULL,
  phone_number varchar(20) NULL UNIQUE, is_active boolean NULL, created_at timestamp NULL, updated_at timestamp NULL);
CREATE TABLE user_phone_mappings (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users(id),
  phone_number varchar(20) NOT NULL, is_primary boolean, is_verified boolean, verification_method varchar(50),
  created_at timestamp, updated_at timestamp);
CREATE TABLE sms_usage_logs (id serial PRIMARY KEY, user_id int NULL REFERENCES users(id),
  phone_number varchar(20) NOT NULL, message_direction varchar(10) NOT NULL, message_length int NOT NULL,
  message_content text, success boolean DEFAULT true, processing_time_ms int, error_message text,
  sms_metadata json, created_at timestamp, twilio_message_sid varchar(50), final_status varchar(20) DEFAULT 'unknown');
CREATE TABLE sms_router_configs (id serial PRIMARY KEY, config_key varchar(100) NOT NULL UNIQUE,
  config_value text NOT NULL, description text, is_active boolean DEFAULT true, created_at timestamp, updated_at timestamp);
-- National format, as people type them: (514) 2xx-xxxx
INSERT INTO users (email, full_name, phone_number, is_active)
  SELECT 'user' || g || '@example.com', 'User ' || g,
         '(514) ' || substr((2000000 + g)::text, 1, 3) || '-' || substr((2000000 + g)::text, 4), g % 50 <> 0
  FROM generate_series(1, $users) g;
INSERT INTO user_phone_mappings (user_id, phone_number)
  SELECT g, '438' || (2000000 + g)::text FROM generate_series(1, $users, 4) g;
ANALYZE;
SQL

cat > "$work/config.json" <<JSON
{"database": {"path": "$work/router.db"},
 "sync": {"postgres_url": "postgresql://postgres@127.0.0.1:$port/central", "edge_id": "bench", "interval_s": 30}}
JSON

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms_of() { sed -E 's/.*sync ok in ([0-9]+) ms.*/\1/'; }

: > "$work/cold"; : > "$work/steady"
for run in $(seq 1 "$runs"); do
  rm -f "$work/router.db" "$work/router.db-wal" "$work/router.db-shm"
  out=$(build-bench/sms-router --config "$work/config.json" sync --once)
  echo "cold   run $run: $out"
  echo "$out" | ms_of >> "$work/cold"
done
for run in $(seq 1 "$runs"); do
  out=$(build-bench/sms-router --config "$work/config.json" sync --once)
  echo "steady run $run: $out"
  echo "$out" | ms_of >> "$work/steady"
done

echo
echo "== central cost of a steady-state round (the digest query)"
$psql -d central -c "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF)
WITH u AS (SELECT id / 1024 AS bucket, count(*) || '.' || sum(hashtextextended(concat_ws('|', id, email,
  coalesce(full_name, ''), coalesce(phone_number, ''), coalesce(is_active::text, 'null')), 0)) AS d
  FROM users GROUP BY 1),
 m AS (SELECT user_id / 1024 AS bucket, count(*) || '.' || sum(hashtextextended(concat_ws('|', user_id,
  phone_number), 0)) AS d FROM user_phone_mappings GROUP BY 1)
SELECT coalesce(u.bucket, m.bucket), coalesce(u.d, '') || ':' || coalesce(m.d, '')
FROM u FULL OUTER JOIN m ON u.bucket = m.bucket ORDER BY 1" | grep -E "Execution Time|Buffers: shared" | sort -u
echo
echo "== $(nproc) cores, $users central users, median of $runs"
echo "cold pull into an empty local database: $(median < "$work/cold") ms"
echo "steady-state round, nothing changed:    $(median < "$work/steady") ms"
