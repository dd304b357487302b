#!/usr/bin/env bash
# Optimisation levels: every model in models/ (and the op and fusion test
# models) generated at -O0 and at -O2
# gives the same outputs (inference at batch 1 and 7, training forward at
# batch 7), loss and gradients (loss_and_grad) and 3 train_steps, within a
# relative error of 1e-5 per tensor (dump.c writes the results,
# compare.py compares them).  A difference is a bug in an optimisation
# (the fusion passes, in-place buffers, the planner's reuse).
#
# Usage: run.sh NNCC SOURCE_DIR WORKDIR NNRT_LIB [LIBS...]
#   NNRT_LIB  libnnrt.a; LIBS what it needs (default: -lopenblas -lm -lpthread)
#   env CC (default cc)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
rm -rf "$work" && mkdir -p "$work"
start=$SECONDS

# build_run MODEL LEVEL: generates, builds and runs dump at -LEVEL into
# $work/STEM/LEVEL; the results in dump.bin, the log in log.
build_run() {
  local model=$1 level=$2 stem name out
  stem=$(basename "$model" .nn)
  out=$work/$stem/$level
  mkdir -p "$out"
  {
    "$nncc" "-$level" "$model" -o "$out/$stem.c" &&
      "$nncc" --emit=params "$model" > "$out/params.txt" &&
      link_driver "$src/tests/opt/dump.c" "$out/$stem.c" "$out/$stem.h" "$out/dump" &&
      "$out/dump" "$out/params.txt" "$out/dump.bin"
  } > "$out/log" 2>&1
}

# the models, the op models of the PyTorch comparisons (every op, each
# fused with its neighbours) and the fusion lit tests' models
models=("$src"/models/*.nn "$src"/tests/ref/ops/*.nn "$src"/tests/lit/fusion/*.nn)
pids=()
for model in "${models[@]}"; do
  for level in O0 O2; do
    build_run "$model" "$level" &
    pids+=($!)
  done
done
rcs=()
for pid in "${pids[@]}"; do
  rc=0
  wait "$pid" || rc=$?
  rcs+=("$rc")
done

status=0 failed=() i=0
for model in "${models[@]}"; do
  stem=$(basename "$model" .nn)
  echo "$stem:"
  ok=1
  for level in O0 O2; do
    if [ "${rcs[$i]}" != 0 ]; then
      echo "  -$level: build or run failed:"
      sed 's/^/    /' "$work/$stem/$level/log"
      ok=0
    fi
    i=$((i + 1))
  done
  if [ $ok = 1 ] &&
     ! python3 "$src/tests/opt/compare.py" "$work/$stem/O0/dump.bin" "$work/$stem/O2/dump.bin"; then
    ok=0
  fi
  if [ $ok = 0 ]; then
    status=1
    failed+=("$stem")
  fi
done
echo "opt-levels: ${#models[@]} models, -O0 against -O2, in $((SECONDS - start)) s${failed[*]:+; FAILED: ${failed[*]}}"
exit $status
