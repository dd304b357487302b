#!/usr/bin/env bash
# A long fuzzing run.  Usage: scripts/fuzz.sh [seconds] [target] [libFuzzer options...]
#   seconds  per target (default 600)
#   target   front, ckpt, data or all (default all, one after the other)
# Each target runs in fork mode, so a finding does not end the run: findings
# (crash-*, timeout-*, oom-*, leak-*), the corpus and the log (fuzz.log) are
# written to fuzz-out/TARGET/, or $FUZZ_OUT/TARGET/.  docs/fuzzing.md says
# how to triage them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600} target=${2:-all}
shift $(($# > 2 ? 2 : $#))
out=${FUZZ_OUT:-fuzz-out}
case $target in
  all) targets=(front ckpt data) ;;
  front | ckpt | data) targets=("$target") ;;
  *) echo "fuzz.sh: unknown target '$target' (front, ckpt, data or all)" >&2; exit 2 ;;
esac
scripts/setup.sh build
cmake --build build --target fuzzers
for t in "${targets[@]}"; do
  echo "fuzz.sh: $t for $secs s, output in $out/$t"
  mkdir -p "$out/$t"
  tests/fuzz/run.sh "$t" "build/fuzz_$t" "$secs" "$out/$t" \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 "$@" || true
done
