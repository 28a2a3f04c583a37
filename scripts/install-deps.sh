#!/usr/bin/env bash
# Installs the Debian 12 packages sms-router needs to build and test, and any packages named
# as arguments. Idempotent.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcpp-httplib-dev libsqlitecpp-dev libsqlite3-dev libphonenumber-dev libssl-dev
  nlohmann-json3-dev libcli11-dev libsystemd-dev libpqxx-dev libpq-dev libgoogle-perftools-dev
  libboost-dev catch2 libbenchmark-dev wrk postgresql sqlite3
  python3-prometheus-client  # a metrics test reads /sms-router/metrics with Prometheus's parser
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
