#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz
# and runs each for SECONDS (default 60), starting from its seed corpus.
# A crash fails the run and leaves the input in build-fuzz/; copy it into
# tests/fuzz/corpus/NAME/ with a fix, as a regression case.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}

CC=clang cmake -S . -B build-fuzz -DSP_FUZZ=ON -DSP_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)" \
  --target $(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')

status=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  target=${name#fuzz_}
  log=build-fuzz/$name.log
  mkdir -p "build-fuzz/corpus-$target"
  if (cd build-fuzz && "./tests/fuzz/$name" -max_total_time="$secs" \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        "corpus-$target" "../tests/fuzz/corpus/$target") >"$log" 2>&1; then
    echo "fuzz $target: ${secs}s, $(grep -m1 'stat::number_of_executed_units' \
      "$log" | awk '{print $2}') runs, no crash"
  else
    tail -n 40 "$log"
    echo "fuzz $target: FAILED (see $log)"
    status=1
  fi
done
exit $status
