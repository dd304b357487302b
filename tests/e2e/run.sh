#!/usr/bin/env bash
# Training-step checks on generated code (f32), linked against the libnnrt
# the build made:
#   overfit.c   train_step fits one fixed batch of fashion_mlp (loss < 0.01)
#   nan_step.c  a step whose loss is not finite (NaN/Inf input, a label out
#               of range, a NaN target) or whose update would overflow
#               changes nothing; a NaN, infinite or negative learning rate
#               is refused and the rate stays: every model
#   batch_of_one.c  a batchnorm with one value per channel refuses to train
#               on a batch of 1 (NaN, a message, nothing changed), one with
#               more values trains on it
# Usage: run.sh NNCC SOURCE_DIR WORKDIR NNRT_LIB [LIBS...]
#   LIBS what libnnrt needs (default: -lopenblas -lm -lpthread); env CC (default cc)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
rm -rf "$work" && mkdir -p "$work"
status=0

# build PROGRAM MODEL: $work/<model>/<program>
build() {
  local prog=$1 model=$2 stem out name
  stem=$(basename "$model" .nn)
  out="$work/$stem"
  mkdir -p "$out"
  [ -f "$out/$stem.c" ] || "$nncc" "$model" -o "$out/$stem.c" || return 1
  [ -f "$out/$stem.o" ] ||
    "$cc" -std=c99 -O2 -I"$src/runtime/include" -c "$out/$stem.c" -o "$out/$stem.o" || return 1
  link_driver "$src/tests/e2e/$prog.c" "$out/$stem.o" "$out/$stem.h" "$out/$prog" -Wall -Wextra
}

# run PROGRAM MODEL ARGS...
run() {
  local prog=$1 model=$2 stem
  shift 2
  stem=$(basename "$model" .nn)
  echo "== $prog $stem"
  if ! build "$prog" "$model"; then
    echo "FAILED: building $prog for $stem"
    status=1
    return
  fi
  if ! "$work/$stem/$prog" "$work/$stem" "$@"; then
    echo "FAILED: $prog $stem"
    status=1
  fi
}

run overfit "$src/models/fashion_mlp.nn" 300
for model in "$src"/models/*.nn; do
  grep -q '^loss ' "$model" || continue
  run nan_step "$model"
done
run batch_of_one "$src/models/fashion_mlp.nn" 2
run batch_of_one "$src/tests/e2e/bn_1x1.nn" 2
run batch_of_one "$src/tests/e2e/bn_spatial.nn" 1
exit $status
