#!/usr/bin/env bash
# Gradient checks: every model in models/ and every op model in tests/ref/ops
# (those with a loss), compiled with --dtype f64 (dropout set to 0), checked
# by finite differences (gradcheck.c).  Usage: run.sh NNCC SOURCE_DIR WORKDIR
set -euo pipefail
nncc=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
status=0
for model in "$src"/models/*.nn "$src"/tests/ref/ops/*.nn; do
  grep -q '^loss ' "$model" || continue
  stem=$(basename "$model" .nn)
  out="$work/$stem"
  mkdir -p "$out"
  # dropout(0.5) / dropout(p=0.5) -> dropout(0): finite differences need a
  # loss that is a deterministic function of the parameters
  sed -E 's/dropout\([^)]*\)/dropout(0)/g' "$model" > "$out/$stem.nn"
  "$nncc" --dtype f64 "$out/$stem.nn" -o "$out/$stem.c"
  "$nncc" --emit=params "$out/$stem.nn" > "$out/params.txt"
  name=$(sed -n 's/^#define \([A-Za-z0-9_]*\)_INPUT_SIZE.*/\1/p' "$out/$stem.h")
  cc -std=c99 -O1 -g -I"$src/runtime/include" -DMODEL_API="${name}_model" \
    "$src/tests/grad/gradcheck.c" "$out/$stem.c" "$src"/runtime/*.c -lopenblas -lz -lm \
    -o "$out/gradcheck"
  echo "$stem:"
  if ! "$out/gradcheck" "$out/params.txt"; then
    status=1
  fi
done
exit $status
