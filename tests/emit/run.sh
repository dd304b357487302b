#!/usr/bin/env bash
# For every model in models/, every op model of the PyTorch comparisons
# (tests/ref/ops: each op, fused with its neighbours) and the models of
# tests/emit/models (corner cases of the interface): generate its C,
# compile it with gcc and clang under -std=c99 -Wall -Wextra -pedantic
# -Werror, and run model_check (the whole public API) built with
# AddressSanitizer and UndefinedBehaviorSanitizer; a checkpoint's
# fingerprint must be the one in fingerprints.txt.  Then the drivers that
# check one corner each (output_input.c), under the sanitizers too.
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

# driver NAME MODEL...: tests/emit/NAME.c linked with the models' C (made
# above), under the sanitizers, run.
driver() {
  local name=$1
  shift
  local objs=() incs=()
  for m in "$@"; do
    objs+=("$work/$m/$m.c") incs+=(-I"$work/$m")
  done
  clang $san -std=c99 -I"$src/runtime/include" "${incs[@]}" "$src/tests/emit/$name.c" \
    "${objs[@]}" "$work"/nnrt/*.o -lopenblas -lz -lm -o "$work/$name"
  "$work/$name" || status=1
}
driver output_input ident outin
exit $status
