#!/usr/bin/env bash
# The printed IR reads back (nncc -x ir): for every model in models/ and
# tests/emit/models/, --emit=ir and --emit=ir-train (with and without
# --print-locs) read back to the same text; the --print-locs form reads
# back to C byte-identical to the C from the .nn (but line 2, the command
# line) at -O0 and -O2, f32 and f64, with and without --main; and the C
# from either form compiles under -std=c99 -Wall -Wextra -pedantic -Werror.
# Usage: roundtrip.sh NNCC SOURCE_DIR WORKDIR
set -euo pipefail
nncc=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work/nn" "$work/ir"
strict="-std=c99 -Wall -Wextra -pedantic -Werror"
cc=${CC:-cc}
status=0
fail() { echo "FAIL: $*"; status=1; }
for model in "$src"/models/*.nn "$src"/tests/emit/models/*.nn; do
  stem=$(basename "$model" .nn)
  for emit in ir ir-train; do
    for locs in "" --print-locs; do
      "$nncc" --emit=$emit $locs "$model" > "$work/$stem.txt" 2>/dev/null
      if ! "$nncc" -x ir - --emit=$emit $locs --verify-each < "$work/$stem.txt" > "$work/$stem.back"; then
        fail "$stem --emit=$emit $locs does not read back"
      elif ! cmp -s "$work/$stem.txt" "$work/$stem.back"; then
        fail "$stem --emit=$emit $locs reads back to other text:"
        diff "$work/$stem.txt" "$work/$stem.back" | head -5
      fi
    done
    "$nncc" --emit=$emit "$model" 2>/dev/null | "$nncc" -x ir - -o "$work/ir/$stem.c" 2>/dev/null
    $cc $strict -I"$src/runtime/include" -c "$work/ir/$stem.c" -o "$work/ir/$stem.o" ||
      fail "$stem: the C from --emit=$emit does not compile"
    "$nncc" --emit=$emit --print-locs "$model" > "$work/$stem.ir" 2>/dev/null
    for flags in -O0 -O2 "-O0 --dtype f64" "-O2 --dtype f64" "-O2 --main"; do
      # shellcheck disable=SC2086
      "$nncc" $flags "$model" -o "$work/nn/$stem.c" 2>/dev/null
      # shellcheck disable=SC2086
      "$nncc" -x ir "$work/$stem.ir" --verify-each $flags -o "$work/ir/$stem.c"
      for f in c h; do
        # (but for the command line: line 2 up to the first " *")
        if ! cmp -s <(sed '2,/^ \*$/d' "$work/nn/$stem.$f") <(sed '2,/^ \*$/d' "$work/ir/$stem.$f"); then
          fail "$stem --emit=$emit --print-locs, $flags: the .$f differs from the .nn's:"
          diff <(sed '2,/^ \*$/d' "$work/nn/$stem.$f") <(sed '2,/^ \*$/d' "$work/ir/$stem.$f") | head -5
        fi
      done
    done
    $cc $strict -I"$src/runtime/include" -c "$work/ir/$stem.c" -o "$work/ir/$stem.o" ||
      fail "$stem: the C from --emit=$emit --print-locs does not compile"
  done
done
[ $status = 0 ] && echo "every model's IR reads back"
exit $status
