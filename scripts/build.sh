#!/usr/bin/env bash
# Configures and builds sms-router into ./build (binary: build/sms-router). With arguments,
# builds only those targets (scripts/demo.sh builds just `sms-router`); without, everything:
# the binary, the test suites and the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build build -j"$(nproc)" "${targets[@]}"
