#!/usr/bin/env bash
# Run the front-end fuzzer for a bounded time over a corpus seeded from
# models/ and the lit tests.  Usage: run.sh FUZZER SECONDS WORKDIR
set -euo pipefail
fuzzer=$1 secs=$2 work=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work/corpus" "$work/seeds"
find "$src/models" "$src/tests/lit" -name '*.nn' -exec cp {} "$work/seeds/" \;
cd "$work"
"$fuzzer" -dict="$src/tests/fuzz/nn.dict" -max_total_time="$secs" -max_len=4096 \
  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 corpus seeds 2>&1 | tail -20
