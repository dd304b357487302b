#!/usr/bin/env bash
# Benchmark (not part of ctest): the figures of issue 13 in one command, for
# models/fashion_mlp.nn and models/fashion_cnn.nn: a train_step at batch 128
# and inference (forward, training=0) at batch 1 of
#   - nncc's code (nncc -O2) built with gcc and clang, each at the user's
#     flags (-O2 -std=c99) and at -O3 -march=native;
#   - PyTorch 1.13 (torch_bench.py) at its best: eager, jit.freeze and
#     optimize_for_inference, with 1 torch + 2 OpenBLAS threads and 2 + 1
#     (TORCH_SETTINGS), OMP_WAIT_POLICY=PASSIVE;
#   - XNNPACK (xnn_bench.c), batch-1 inference, 1 and 2 threads;
#   - the bounds (gemm_bound.c): the GEMM sum of the training step, the
#     sgemv sum at batch 1, the CNN's FLOPs over the measured sgemm rate;
#   - peak RSS of a short training run of each model (the trainer, nncc
#     --main, built with gcc -O2, under /usr/bin/time -v).
# Medians of RUNS runs, and of ROUNDS such rounds (every implementation once
# per round, interleaved, so load from elsewhere falls on all alike); the
# table, ratios and targets go to stdout and bench/results/DATE-HOST.md.
# See bench/README.md.
#
# Usage: bench/run.sh [BUILD_DIR]   (default: build; needs nncc and libnnrt.a)
#   env THREADS (default nproc: OpenBLAS's threads for nncc and the bounds),
#   ROUNDS (3), RUNS (5), SECONDS_PER_RUN (0.2), PYTHON (/usr/bin/python3,
#   which has torch), TORCH_SETTINGS ("1+2 2+1": torch+OpenBLAS threads),
#   DATA (/usr/share/datasets/fashion-mnist), RSS (1; 0 skips the training
#   runs), OUT (default bench/results/DATE-HOST.md)
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
py=${PYTHON:-/usr/bin/python3}
ncores=$(nproc)  # before the exports below: nproc honours OMP_NUM_THREADS
threads=${THREADS:-$ncores}
rounds=${ROUNDS:-3} runs=${RUNS:-5} secs=${SECONDS_PER_RUN:-0.2}
torch_settings=${TORCH_SETTINGS:-1+2 2+1}
data=${DATA:-/usr/share/datasets/fashion-mnist}
out=${OUT:-$src/bench/results/$(date -u +%Y-%m-%d)-$(hostname -s).md}
start=$SECONDS

# Debian packages the harness needs, installed if missing
need=(gcc clang time libopenblas-dev libxnnpack-dev libpthreadpool-dev python3-torch
      dataset-fashion-mnist)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: installing ${missing[*]}" >&2
  as_root=(); [ "$(id -u)" = 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get install -y "${missing[@]}" >&2
fi

# nncc: libnnrt's pool (OpenBLAS inside it on one thread); the bounds:
# OpenBLAS with its own threads
export NNRT_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
work=$build/bench
rm -rf "$work" && mkdir -p "$work"
models=(fashion_mlp fashion_cnn)
builds=(gcc-O2 gcc-O3n clang-O2 clang-O3n)
TB=128 IB=1
warn=(-Wall -Wextra -pedantic)
libs=(-lopenblas -lm -lpthread)
flags_of() { case $1 in *-O2) echo "-O2" ;; *-O3n) echo "-O3 -march=native" ;; esac; }

# builds: the C once per model, then every compiler and flag set, two at a
# time (the timing below is sequential); each build's output in its .log
pids=()
failed() { echo "run.sh: a build failed:" >&2; cat "$work"/*.log "$work"/*/*.log >&2; exit 1; }
bg() {  # bg LOG COMMAND...: run in the background, at most two at once
  local log=$1; shift
  nice "$@" > "$log" 2>&1 &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || failed; pids=("${pids[@]:1}"); fi
}
inc=-I$src/runtime/include
for m in "${models[@]}"; do
  d=$work/$m && mkdir -p "$d"
  "$nncc" -O2 "$src/models/$m.nn" -o "$d/$m.c"
  "$nncc" -O2 --main "$src/models/$m.nn" -o "$d/train.c"
  name=$(sed -n 's/^#define \([A-Za-z0-9_]*\)_INPUT_SIZE.*/\1/p' "$d/$m.h")
  for b in "${builds[@]}"; do
    read -r -a fl <<< "$(flags_of "$b")"
    bg "$d/build-$b.log" "${b%%-*}" -std=c99 "${fl[@]}" "${warn[@]}" "$inc" -DMODEL_API="${name}_model" \
      "$src/bench/bench.c" "$d/$m.c" "$nnrt" "${libs[@]}" -o "$d/bench-$b"
  done
  bg "$d/build-train.log" gcc -std=c99 -O2 "${warn[@]}" "$inc" "$d/train.c" "$nnrt_train" "$nnrt" \
    "${libs[@]}" "${train_libs[@]}" -o "$d/train-gcc-O2"
done
bg "$work/build-gemm_bound.log" gcc -std=c99 -O2 "${warn[@]}" "$inc" "$src/bench/gemm_bound.c" "$nnrt" \
  "${libs[@]}" -o "$work/gemm_bound"
bg "$work/build-xnn_bench.log" gcc -std=c99 -O2 "${warn[@]}" "$src/bench/xnn_bench.c" -lXNNPACK \
  -lpthreadpool -lm -o "$work/xnn_bench"
for p in "${pids[@]}"; do wait "$p" || failed; done
nwarn=$(cat "$work"/*.log "$work"/*/*.log | grep -c 'warning:' || true)
[ "$nwarn" = 0 ] || { echo "run.sh: $nwarn build warnings:" >&2; cat "$work"/*.log "$work"/*/*.log >&2; }

# GEMM shapes as TA,TB,M,N,K, weights in PyTorch's [out, in] layout; v,M,N
# a GEMV.  fashion_mlp, train at batch B: forward Y = X W^T, dW = dY^T X,
# dX = dY W (no dX for the first layer).  Inference: cblas_sgemv over its 3
# layers.
mlp_train=(0,1,$TB,512,784 0,1,$TB,256,512 0,1,$TB,10,256
           1,0,512,784,$TB 1,0,256,512,$TB 1,0,10,256,$TB
           0,0,$TB,512,256 0,0,$TB,256,10)
mlp_infer=(v,512,784 v,256,512 v,10,256)
# fashion_cnn, train: the FLOPs of its convs and linears (forward, dW, and
# dX except for the first conv) divided by the rate of one large GEMM, conv2
# over the whole batch as im2col (64 x 128*196 x 288).  Inference at batch
# 1: the im2col GEMMs of the convs and the linears' GEMVs, timed.
cnn_train_flops=$((TB * (2*2*32*784*9 + 3*(2*64*196*288 + 2*3136*128 + 2*128*10))))
cnn_rate_shape=(0,0,64,$((TB*196)),288)
cnn_infer=(0,0,32,784,9 0,0,64,196,288 v,128,3136 v,10,128)

res=$work/results.txt
g() { "$work/gemm_bound" "$runs" 0.1 "$@"; }
tag() { sed "s/^/$1 $2 /" >> "$res"; }
: > "$res"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$rounds"); do
  for m in "${models[@]}"; do
    for b in "${builds[@]}"; do
      echo "round $r: $m nncc $b ..." >&2
      "$work/$m/bench-$b" $TB $IB "$runs" "$secs" | tag "$m" "nncc:$b"
    done
    for s in $torch_settings; do
      echo "round $r: $m PyTorch $s ..." >&2
      OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=${s%+*} OPENBLAS_NUM_THREADS=${s#*+} \
        "$py" "$src/bench/torch_bench.py" "$m" "${s%+*}" $TB $IB "$runs" "$secs" | tag "$m" "torch:$s"
    done
    for x in 1 2; do
      echo "round $r: $m XNNPACK $x thread(s) ..." >&2
      "$work/xnn_bench" "$m" "$x" "$runs" "$secs" | tag "$m" "xnn:$x"
    done
  done
  echo "round $r: the bounds ..." >&2
  read -r _ t _ <<< "$(g "${mlp_train[@]}")";  echo "fashion_mlp bound train $TB $t" >> "$res"
  read -r _ t _ <<< "$(g "${mlp_infer[@]}")";  echo "fashion_mlp bound infer $IB $t" >> "$res"
  read -r _ _ rate <<< "$(g "${cnn_rate_shape[@]}")"
  awk -v f="$cnn_train_flops" -v r="$rate" -v b=$TB \
      'BEGIN { printf "fashion_cnn bound train %d %.9g\n", b, f / (r * 1e9) }' >> "$res"
  read -r _ t _ <<< "$(g "${cnn_infer[@]}")";  echo "fashion_cnn bound infer $IB $t" >> "$res"
  echo "sgemm rate $rate" >> "$res"
done

# peak RSS: one epoch over the first 2560 samples (the whole data set is
# loaded all the same) and the test set's evaluation
if [ "${RSS:-1}" != 0 ]; then
  for m in "${models[@]}"; do
    echo "$m: peak RSS of a short training run ..." >&2
    /usr/bin/time -v "$work/$m/train-gcc-O2" train --data "$data" --epochs 1 --limit 2560 --quiet \
      > "$work/$m/train.out" 2> "$work/$m/train.time"
    kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$m/train.time")
    echo "$m rss:gcc-O2 peak 0 $kb" >> "$res"
  done
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# machine, versions, threads
pkg() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$src" diff --quiet HEAD -- compiler runtime 2>/dev/null || rev="$rev (compiler/ or runtime/ modified)"
meta=$work/meta.txt
{
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $ncores cores" \
    "($(lscpu | sed -n 's/^Core(s) per socket: *//p') per socket," \
    "$(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core)"
  echo "threads: $threads"
  echo "threads, in full: nncc with NNRT_NUM_THREADS=$threads, the bounds with OPENBLAS_NUM_THREADS=$threads; PyTorch with" \
    "torch+OpenBLAS threads $torch_settings and OMP_WAIT_POLICY=PASSIVE; XNNPACK 1 (no pool) and 2" \
    "(pthreadpool)"
  echo "versions: $(gcc --version | head -1); $(clang --version | head -1); OpenBLAS" \
    "$(pkg libopenblas0-pthread); torch $("$py" -c 'import torch; print(torch.__version__)')" \
    "(python3-torch $(pkg python3-torch)); XNNPACK $(pkg libxnnpack0); nncc $rev"
  echo "builds: nncc -O2's C with bench.c and libnnrt.a (built by CMake, $(sed -n \
    's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")) -lopenblas; warnings: $nwarn"
  echo "rounds: $rounds, runs per round: $runs of ~${secs} s; sgemm 64x$((TB * 196))x288 per round:" \
    "$(awk '$1 == "sgemm" { printf "%s%.1f", s, $3; s = " / " }' "$res") GFLOP/s"
  echo "load average (1, 5, 15 min): $load_start at the start, $load_end at the end"
  echo "peak RSS: one epoch on 2560 samples (--limit; the data set loaded whole), gcc -O2 trainer"
} > "$meta"

echo
echo "raw results, one line per round (model impl mode batch median_s_per_step samples_per_s iters_per_run):"
cat "$res"
echo
mkdir -p "$(dirname "$out")"
"$py" "$src/bench/report.py" "$res" "$meta" "$out"
echo
echo "written to $out; bench: $((SECONDS - start)) s"
