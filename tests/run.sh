#!/bin/sh
# Builds with warnings as errors and runs every test: unit tests, the
# fuzz corpora, integration tests through the real binaries, then each
# fuzzer for a bounded time (SP_FUZZ_SECONDS per target, default 20; 0
# skips them).  Run tests/deps.sh first on a new machine.
set -eu
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DSP_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

if [ "${SP_FUZZ_SECONDS:-20}" -gt 0 ]; then
  sh tests/fuzz/run.sh "${SP_FUZZ_SECONDS:-20}"
fi
