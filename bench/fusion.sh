#!/usr/bin/env bash
# Benchmark (not part of ctest): nncc -O0 against nncc -O2 for every model in
# models/ (issue 7: what the -O2 passes, fusion among them, buy).  Each model
# is generated at both levels and built with the generic driver bench.c,
# which times (a) a train_step at the model's train-block batch (128 when the
# model has no train block; skipped when it has no loss) and (b) forward
# (training=0) at batch 1, on random data.  Every timing is the median of
# RUNS runs; the whole set is repeated ROUNDS times, interleaved (both levels
# of a model back to back, their order alternating between rounds), and the
# table gives the median of the round medians, the O0/O2 ratio and the range
# of the per-round ratios, then the geometric mean of the ratios per mode.
# See bench/README.md.
#
# Usage: bench/fusion.sh [BUILD_DIR]   (default: build; needs nncc and libnnrt.a)
#   env MODELS (default: every models/*.nn; names in models/ or paths to .nn
#   files, e.g. "lenet5 fashion_cnn" or "models/lenet5.nn"),
#   CC (default cc), CFLAGS (default -O3 -march=native), THREADS (OpenBLAS
#   threads, default 1), ROUNDS (default 5), RUNS (default 3),
#   SECONDS_PER_RUN (default 0.2)
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
ncores=$(nproc)  # before the export below: nproc honours OMP_NUM_THREADS
threads=${THREADS:-1}
rounds=${ROUNDS:-5} runs=${RUNS:-3} secs=${SECONDS_PER_RUN:-0.2}
libs=(-lopenblas -lm -lpthread)
# one thread by default: the -O2 passes change the code around the GEMMs,
# and OpenBLAS's threads would add their own noise on top of it
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
work=$build/bench-fusion
rm -rf "$work" && mkdir -p "$work"
start=$SECONDS load0=$(cut -d' ' -f1 /proc/loadavg)
IB=1 default_tb=128

# MODELS entries: a name in models/, or a path to a .nn file
declare -A path tb
models=()
if [ -n "${MODELS:-}" ]; then read -r -a entries <<< "$MODELS"; else entries=("$src"/models/*.nn); fi
for e in "${entries[@]}"; do
  case $e in */* | *.nn) f=$(cd "$(dirname "$e")" && pwd)/$(basename "$e") ;; *) f=$src/models/$e.nn ;; esac
  [ -e "$f" ] || { echo "fusion.sh: $e: $f not found" >&2; exit 2; }
  m=$(basename "$f" .nn)
  [ -z "${path[$m]:-}" ] || { echo "fusion.sh: $m given twice" >&2; exit 2; }
  path[$m]=$f models+=("$m")
done
[ ${#models[@]} -gt 0 ] || { echo "fusion.sh: no models" >&2; exit 2; }

# the train-block batch from the summary's recipe ("  batch       64"); none: 128
for m in "${models[@]}"; do
  b=$("$nncc" --emit=summary "${path[$m]}" | awk '$1 == "batch" && NF == 2 { b = $2 } END { print b }')
  tb[$m]=${b:-$default_tb}
done

# builds, two at a time (the timing below is sequential)
build_one() {  # model level
  local d=$work/$1/$2 name
  mkdir -p "$d"
  "$nncc" "-$2" "${path[$1]}" -o "$d/$1.c"
  name=$(sed -n 's/^#define \([A-Za-z0-9_]*\)_INPUT_SIZE.*/\1/p' "$d/$1.h")
  "$cc" -std=c99 "${cflags[@]}" -I"$src/runtime/include" -DMODEL_API="${name}_model" \
    "$src/bench/bench.c" "$d/$1.c" "$nnrt" "${libs[@]}" -o "$d/bench"
}
jobs_=()
for m in "${models[@]}"; do
  for lvl in O0 O2; do jobs_+=("$m $lvl"); done
done
for ((i = 0; i < ${#jobs_[@]}; i += 2)); do
  pids=()
  for j in "${jobs_[@]:i:2}"; do
    read -r m lvl <<< "$j"
    echo "build: $m -$lvl ..." >&2
    ( build_one "$m" "$lvl" ) > "$work/build-$m-$lvl.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p" || { echo "fusion.sh: a build failed:" >&2; cat "$work"/build-*.log >&2; exit 1; }
  done
done

res=$work/results.txt
: > "$res"
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order=(O0 O2); else order=(O2 O0); fi
  for m in "${models[@]}"; do
    for lvl in "${order[@]}"; do
      echo "round $r/$rounds: $m -$lvl ..." >&2
      "$work/$m/$lvl/bench" "${tb[$m]}" $IB "$runs" "$secs" | sed "s/^/$r $m $lvl /" >> "$res"
    done
  done
done

rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] && ! git -C "$src" diff --quiet HEAD -- compiler runtime 2>/dev/null; then
  rev="$rev+uncommitted changes in compiler/ or runtime/"
fi
echo
echo "raw results, one line per round (round model level mode batch median_s_per_step samples_per_s iters_per_run):"
cat "$res"
echo
echo "machine: $ncores cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), OpenBLAS threads=$threads," \
  "load average $load0 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end; nncc $rev; $cc ${cflags[*]}"
echo "ms per step (4 significant digits), median over $rounds rounds of each round's median of $runs runs; O0/O2 > 1: -O2 faster;" \
  "range: lowest and highest per-round O0/O2"
awk -v ib=$IB -v rounds="$rounds" '
  function med(k, a,   i, j, x) {
    for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  # $1 round, $2 model, $3 level, $4 mode, $5 batch, $6 seconds per step
  { t[$2, $4, $3, $1] = $6 * 1e3; batch[$2, $4] = $5
    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2; w = length($2) > w ? length($2) : w } }
  END {
    if (w < 5) w = 5
    fmt = "| %-" w "s | %-12s | %9s | %9s | %6s | %-11s |\n"
    printf fmt, "model", "mode", "-O0 ms", "-O2 ms", "O0/O2", "range"
    printf fmt, "---", "---", "---:", "---:", "---:", "---"
    split("train infer", modes, " ")
    for (i = 1; i <= n; i++) {
      m = order[i]
      for (mi = 1; mi <= 2; mi++) {
        mode = modes[mi]
        if (!((m, mode) in batch)) {
          printf fmt, m, mode == "train" ? "train (none)" : "infer", "-", "-", "-", "no loss"
          continue
        }
        label = (mode == "train" ? "train b" : "infer b") batch[m, mode]
        k = 0; lo = ""; hi = ""
        for (r = 1; r <= rounds; r++) {
          if (!((m, mode, "O0", r) in t) || !((m, mode, "O2", r) in t)) continue
          k++; a0[k] = t[m, mode, "O0", r]; a2[k] = t[m, mode, "O2", r]; q = a0[k] / a2[k]
          if (lo == "" || q < lo) lo = q
          if (hi == "" || q > hi) hi = q
        }
        o0 = med(k, a0); o2 = med(k, a2); ratio = o0 / o2
        gl[mode] += log(ratio); gn[mode]++
        printf fmt, m, label, sprintf("%.4g", o0), sprintf("%.4g", o2), sprintf("%.2f", ratio),
          sprintf("%.2f-%.2f", lo, hi)
      }
    }
    print ""
    for (mi = 1; mi <= 2; mi++) {
      mode = modes[mi]
      if (gn[mode]) printf "geomean O0/O2 %s: %.2f over %d models\n", mode == "train" ? "train (train-block batch)" : "infer b" ib, exp(gl[mode] / gn[mode]), gn[mode]
    }
  }' "$res"
echo
echo "fusion bench: $((SECONDS - start)) s"
