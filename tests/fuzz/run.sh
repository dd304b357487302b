#!/usr/bin/env bash
# Run one libFuzzer target for a bounded time over fresh seeds, the corpus
# kept in WORKDIR, and the regression inputs of tests/fuzz/regress/TARGET
# (every past finding, replayed first).  The whole log is WORKDIR/fuzz.log;
# its last lines are printed; findings are written to WORKDIR.  OPTIONS go
# to libFuzzer after the defaults (a later option wins).
# Usage: run.sh TARGET FUZZER SECONDS WORKDIR [OPTIONS...]
#   TARGET  front (fuzz_front), ckpt (fuzz_ckpt) or data (fuzz_data)
set -euo pipefail
target=$1 fuzzer=$(realpath "$2") secs=$3 work=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
rm -rf "$work/seeds"
mkdir -p "$work/corpus" "$work/seeds"
case $target in
  front)
    find "$src/models" "$src/tests/lit" -name '*.nn' -exec cp {} "$work/seeds/" \;
    python3 "$here/front_seeds.py" "$work/seeds"
    # Inputs up to 256 KiB: deep nesting and long chains are in reach.
    opts=(-dict="$here/nn.dict" -max_len=262144) ;;
  ckpt)
    NNRT_FUZZ_SEEDS="$work/seeds" "$fuzzer"
    opts=(-max_len=4096) ;;
  data)
    python3 "$here/data_seeds.py" "$work/seeds"
    opts=(-max_len=65536) ;;
  *)
    echo "run.sh: unknown target '$target' (front, ckpt or data)" >&2
    exit 2 ;;
esac
dirs=(corpus seeds)
[ -d "$here/regress/$target" ] && dirs+=("$here/regress/$target")
cd "$work"
status=0
"$fuzzer" "${opts[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$@" "${dirs[@]}" >fuzz.log 2>&1 || status=$?
tail -20 fuzz.log
exit $status
