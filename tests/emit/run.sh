#!/usr/bin/env bash
# For every model in models/, every op model of the PyTorch comparisons
# (tests/ref/ops: each op, fused with its neighbours) and the models of
# tests/emit/models (corner cases of the interface): generate its C,
# compile it with gcc and clang under -std=c99 -Wall -Wextra -pedantic
# -Werror, and run model_check (the whole public API) built with
# AddressSanitizer and UndefinedBehaviorSanitizer; a checkpoint's
# fingerprint must be the one in fingerprints.txt.  Then the drivers that
# check one corner each (output_input.c, mixed_labels.c), under the
# sanitizers too.
# Usage: run.sh NNCC SOURCE_DIR WORKDIR
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
nncc=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
strict="-std=c99 -Wall -Wextra -pedantic -Werror -Wtrigraphs"
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
first_ckpt=""
status=0
# libnnrt under the sanitizers, once
mkdir -p "$work/nnrt"
for f in "$src"/runtime/*.c; do
  clang $san -std=c99 -I"$src/runtime/include" -c "$f" -o "$work/nnrt/$(basename "$f" .c).o"
done
for model in "$src"/models/*.nn "$src"/tests/ref/ops/*.nn "$src"/tests/emit/models/*.nn; do
  stem=$(basename "$model" .nn)
  out="$work/$stem"
  mkdir -p "$out"
  "$nncc" "$model" -o "$out/$stem.c"
  name=$(model_name "$out/$stem.h")
  for cc in gcc clang; do
    $cc $strict -I"$src/runtime/include" -c "$out/$stem.c" -o "$out/$stem.$cc.o"
  done
  clang $san -std=c99 -I"$src/runtime/include" -DMODEL_API="${name}_model" \
    "$src/tests/emit/model_check.c" "$out/$stem.c" "$work"/nnrt/*.o -lopenblas -lz -lm \
    -o "$out/check"
  if ! "$out/check" "$out" $first_ckpt; then
    status=1
  fi
  want=$(sed -n "s/^$name \([0-9a-f]*\)$/\1/p" "$src/tests/emit/fingerprints.txt")
  got=$(od -An -tx1 -j16 -N8 "$out/$name.ckpt" | awk '{for (i = NF; i > 0; i--) printf "%s", $i}')
  if [ -n "$want" ] && [ "$got" != "$want" ]; then
    echo "FAIL $name: checkpoint fingerprint $got, was $want (tests/emit/fingerprints.txt)"
    status=1
  fi
  [ -n "$first_ckpt" ] || first_ckpt="$out/$name.ckpt"
done

# driver NAME DTYPE MODEL...: tests/emit/NAME.c (REAL: float or double)
# linked with models of tests/emit/models generated with --dtype DTYPE,
# under the sanitizers, run.
driver() {
  local name=$1 dtype=$2 dir=$work/$1-$2 objs=()
  shift 2
  mkdir -p "$dir"
  for m in "$@"; do
    "$nncc" --dtype "$dtype" "$src/tests/emit/models/$m.nn" -o "$dir/$m.c" 2>"$dir/$m.log"
    objs+=("$dir/$m.c")
  done
  clang $san -std=c99 -DREAL="$([ "$dtype" = f64 ] && echo double || echo float)" \
    -I"$src/runtime/include" -I"$dir" "$src/tests/emit/$name.c" "${objs[@]}" \
    "$work"/nnrt/*.o -lopenblas -lz -lm -o "$dir/$name"
  "$dir/$name" || status=1
}
driver output_input f32 ident outin
driver mixed_labels f32 mixed cls reg
driver mixed_labels f64 mixed cls reg

# The trainer refuses a model whose labels its data sets cannot give (two
# labels, a class id and real values), before it reads any data.
mkdir -p "$work/trainer-mixed"
"$nncc" --main "$src/tests/emit/models/mixed.nn" -o "$work/trainer-mixed/mixed.c"
clang $san -std=c99 -I"$src/runtime/include" "$work/trainer-mixed/mixed.c" "$work"/nnrt/*.o \
  -lopenblas -lz -lm -o "$work/trainer-mixed/mixed"
rc=0
"$work/trainer-mixed/mixed" train --data "$work" 2>"$work/trainer-mixed/err" || rc=$?
want="model mixed takes labels of two types (class ids and real values), but the trainer's data sets carry either one class id or real values per sample (a program of your own can train it through mixed_train_step_ex)"
if [ $rc != 1 ] || ! grep -qF "$want" "$work/trainer-mixed/err"; then
  echo "FAIL the trainer on mixed labels: exit $rc, $(cat "$work/trainer-mixed/err")"
  status=1
fi
exit $status
