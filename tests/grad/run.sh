#!/usr/bin/env bash
# Gradient checks: every model in models/ and every op model in tests/ref/ops
# (those with a loss), compiled with --dtype f64, checked by finite
# differences (gradcheck.c), linked against the libnnrt the build made.
#
# Usage: run.sh NNCC SOURCE_DIR WORKDIR NNRT_LIB [LIBS...]
#   NNRT_LIB  libnnrt.a; LIBS what it needs (default: -lopenblas -lm -lpthread)
#   env CC (default cc); env JOBS processes at once (default: the CPUs)
#
# The models in models/ get dropout(0): finite differences need a loss that
# is a deterministic function of the parameters.  The op models keep their
# dropout and run with --fixed-rng (a fresh model per evaluation, so the
# same masks), which covers dropout's backward with p > 0 too.  The large
# models are checked in JOBS shards (a share of their tensors each), so the
# CPUs stay busy to the end.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# One BLAS thread per process: the processes run in parallel instead.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
rm -rf "$work" && mkdir -p "$work"
start=$SECONDS

# Runs "$@" in the background once fewer than $jobs jobs run.
spawn() {
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
  "$@" &
}

# The models, large ones first (the biggest work starts first).
models=() keys=() flags=()
for model in "$src"/models/*.nn "$src"/tests/ref/ops/*.nn; do
  grep -q '^loss ' "$model" || continue
  models+=("$model")
  case $model in
    "$src"/models/*) keys+=("model-$(basename "$model" .nn)") flags+=("") ;;
    *) keys+=("ops-$(basename "$model" .nn)") flags+=(--fixed-rng) ;;
  esac
done

build() {
  local model=$1 key=$2 flag=$3 out=$work/$2 stem name
  stem=$(basename "$model" .nn)
  mkdir -p "$out"
  if [ "$flag" = --fixed-rng ]; then
    cp "$model" "$out/$stem.nn"
  else  # dropout(0.5) / dropout(p=0.5) -> dropout(0)
    sed -E 's/dropout\([^)]*\)/dropout(0)/g' "$model" > "$out/$stem.nn"
  fi
  local rc=1
  if { "$nncc" --dtype f64 "$out/$stem.nn" -o "$out/$stem.c" &&
       "$nncc" --emit=params "$out/$stem.nn" > "$out/params.txt" &&
       link_driver "$src/tests/grad/gradcheck.c" "$out/$stem.c" "$out/$stem.h" "$out/gradcheck"
     } > "$out/build.log" 2>&1; then
    rc=0
  fi
  echo $rc > "$out/build.rc"
}

# shard S of N of one model: log in $out/shardS.log, status in $out/shardS.rc
check() {
  local key=$1 flag=$2 s=$3 n=$4 out=$work/$1
  local rc=1
  [ "$(cat "$out/build.rc")" = 0 ] || return 0
  if "$out/gradcheck" "$out/params.txt" $flag --shard "$s/$n" > "$out/shard$s.log" 2>&1; then
    rc=0
  fi
  echo $rc > "$out/shard$s.rc"
}

for i in "${!models[@]}"; do
  spawn build "${models[$i]}" "${keys[$i]}" "${flags[$i]}"
done
wait
shards=()
for i in "${!models[@]}"; do
  n=1
  [ -n "${flags[$i]}" ] || n=$jobs  # models/: large, sharded
  shards+=("$n")
  for ((s = 0; s < n; s++)); do
    spawn check "${keys[$i]}" "${flags[$i]}" "$s" "$n"
  done
done
wait

status=0 failed=()
for i in "${!models[@]}"; do
  key=${keys[$i]} out=$work/${keys[$i]}
  echo "$key:${flags[$i]:+ (${flags[$i]})}"
  ok=1
  if [ "$(cat "$out/build.rc")" != 0 ]; then
    cat "$out/build.log"
    ok=0
  else
    for ((s = 0; s < shards[i]; s++)); do
      cat "$out/shard$s.log"
      [ "$(cat "$out/shard$s.rc" 2>/dev/null)" = 0 ] || ok=0
    done
  fi
  if [ $ok = 0 ]; then
    status=1
    failed+=("$key")
  fi
done
echo "grad-check: ${#models[@]} models in $((SECONDS - start)) s${failed[*]:+; FAILED: ${failed[*]}}"
exit $status
