#!/bin/sh
# clang-format over every C file, new ones that git does not track yet
# included: --check fails on a difference, otherwise the files are
# rewritten in place.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run -Werror $files
  echo "formatting: ok"
else
  clang-format -i $files
fi
