#!/usr/bin/env bash
# Every .nn file in the repository that nncc accepts (the lit tests' small
# models exercise each op, argument and fusion on its own) gives C that gcc
# and clang compile under -std=c99 -Wall -Wextra -pedantic -Werror
# -Wtrigraphs, at -O0 and at -O2.  Among them tests/emit/models: deep.nn (50
# conv+batchnorm blocks: no string literal over C99's 4095 characters) and
# odd-comments.nn (non-ASCII bytes, trigraphs, comment delimiters and
# backslashes in the source lines the kernels' comments quote).  The names
# inside the generated code must not clash with any model's (a model called
# `m`, `mem` or `batch` compiles too).
# Usage: sweep.sh NNCC SOURCE_DIR WORKDIR
set -euo pipefail
nncc=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
strict=(-std=c99 -Wall -Wextra -pedantic -Werror -Wtrigraphs -I"$src/runtime/include" -fsyntax-only)
jobs=$(nproc)

# check FILE LEVEL INDEX: nothing on success, the first error lines if not.
check() {
  local f=$1 level=$2 out=$work/$3
  mkdir -p "$out"
  "$nncc" "-$level" "$f" -o "$out/model.c" 2>/dev/null || return 0  # rejected: lit's business
  for cc in gcc clang; do
    if ! "$cc" "${strict[@]}" "$out/model.c" 2>"$out/$cc.err"; then
      echo "FAIL $cc -$level $f"
      head -5 "$out/$cc.err"
    fi
  done
}

mapfile -t files < <(find "$src/models" "$src/tests" "$src/docs" -name '*.nn' | sort)
i=0 pids=() logs=()
for f in "${files[@]}"; do
  for level in O0 O2; do
    check "$f" "$level" "$i" > "$work/$i.log" &
    pids+=($!) logs+=("$work/$i.log")
    i=$((i + 1))
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}"
      pids=("${pids[@]:1}")
    fi
  done
done
wait
failed=$(cat "${logs[@]}")
echo "sweep: ${#files[@]} files at -O0 and -O2, gcc and clang"
if [ -n "$failed" ]; then
  echo "$failed"
  exit 1
fi
echo "sweep: all generated C compiles without a warning"
