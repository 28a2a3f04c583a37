#!/usr/bin/env bash
# Installs what is missing, builds the binary (only it: the tests are built by
# scripts/test.sh), and starts `sms-router serve` on a development setup:
# a local SQLite file in ./dev, the builtin echo agent, a generated auth token and three
# demo users. Stop it with Ctrl-C; run it again to keep the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh sms-router

mkdir -p dev
config=dev/config.json
if [ ! -f "$config" ]; then
  token=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
  cat > "$config" <<JSON
{
  "listen": {"host": "127.0.0.1", "port": 8000},
  "public_url": "http://localhost:8000",
  "database": {"path": "dev/sms-router.db"},
  "twilio": {"auth_token": "$token", "numbers": ["+15005550006"]},
  "agent": {"url": "builtin:echo"}
}
JSON
  chmod 600 "$config"
  cat > dev/demo-users.csv <<CSV
id,phone_number,email,full_name,extra_phone_numbers
1,+1 514 555 0101,ada@example.com,Ada Lovelace,+1 514 555 0111
2,(514) 555-0102,grace@example.com,Grace Hopper,
3,+44 20 7946 0958,alan@example.com,Alan Turing,
CSV
  build/sms-router --config "$config" users import dev/demo-users.csv
fi

cat <<TEXT

sms-router is starting on http://127.0.0.1:8000 (config: $config).
In another terminal, send a message as a demo user:

  build/sms-router --config $config simulate --from +15145550101 "Hello there"

and as a stranger (gets the "not registered" reply):

  build/sms-router --config $config simulate --from +15145559999 "Who is this?"

TEXT
exec build/sms-router --config "$config" serve
