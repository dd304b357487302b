#!/usr/bin/env bash
# The same model gives the same bytes wherever it is built and however its
# paths are spelt (issue 14, item 5; decision 240): every model in models/,
# compiled from four working directories with the .nn named by a relative
# path, an absolute one, one through ../ and one through a symlink, and the
# output named likewise, gives byte-identical C and header (plain and
# --main, and --emit=dot written with -o) and byte-identical --emit=summary,
# dot, dot-train, plan, plan-svg, fused and params; and no output holds the
# source, build or work directory.
# Usage: reproducible.sh NNCC SOURCE_DIR WORKDIR
set -euo pipefail
nncc=$(realpath "$1") src=$(realpath "$2") work=$(realpath -m "$3")
build=$(dirname "$nncc")
rm -rf "$work" && mkdir -p "$work"/{a,b,c/sub,d,out}
ln -s "$src/models" "$work/link"
status=0
fail() { echo "FAIL: $*" >&2; status=1; }

# spell N MODEL: the working directory, the .nn path and the output directory
# of spelling N (each run in its own output directory, named as it is)
spell() {
  local stem=$2
  case $1 in
    1) echo "$src|models/$stem.nn|$work/a" ;;                           # relative in, absolute out
    2) echo "$work/b|$src/models/$stem.nn|." ;;                         # absolute in, relative out
    3) echo "$work/c/sub|../../link/./$stem.nn|../../out/./x/.." ;;  # ../ and a symlink
    4) echo "$work/d|$work/link/$stem.nn|$work/d" ;;                    # through the symlink
  esac
}

n=0
for model in "$src"/models/*.nn; do
  stem=$(basename "$model" .nn)
  mkdir -p "$work/out/x"
  for s in 1 2 3 4; do
    IFS='|' read -r dir nn out <<<"$(spell $s "$stem")"
    res="$work/result$s/$stem"
    mkdir -p "$res"
    (
      cd "$dir"
      "$nncc" "$nn" -o "$out/$stem.c"
      cp "$out/$stem.c" "$out/$stem.h" "$res/"
      "$nncc" --main "$nn" -o "$out/$stem.c"
      cp "$out/$stem.c" "$res/main.c"
      cp "$out/$stem.h" "$res/main.h"
      for emit in summary dot dot-train plan plan-svg fused params; do
        "$nncc" --emit=$emit "$nn" >"$res/$emit"
      done
      "$nncc" --emit=dot "$nn" -o "$out/$stem.dot"
      cp "$out/$stem.dot" "$res/dot-file"
    )
    n=$((n + 1))
  done
  for f in "$work/result1/$stem"/*; do
    name=$(basename "$f")
    for s in 2 3 4; do
      if ! cmp -s "$f" "$work/result$s/$stem/$name"; then
        fail "$stem: $name differs between spellings 1 and $s:"
        diff "$f" "$work/result$s/$stem/$name" | head -6 >&2
      fi
    done
  done
done

# No directory of this machine in any output: not the source, the build
# or the work directory (the #include of the header is by name).
for d in "$src" "$build" "$work"; do
  if grep -rlF -- "$d" "$work"/result*; then
    fail "an output holds the directory $d"
  fi
done
[ $status = 0 ] && echo "reproducible: $n builds of every model give the same bytes, with no directory in them"
exit $status
