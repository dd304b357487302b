#!/usr/bin/env bash
# A long fuzzing run of the front end.  Usage: scripts/fuzz.sh [seconds]
# Crashes are written to fuzz-out/ with the input that caused them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
scripts/setup.sh build
cmake --build build --target fuzzers
mkdir -p fuzz-out/corpus
tests/fuzz/run.sh build/fuzz_front "$secs" fuzz-out
