#!/usr/bin/env bash
# The generated C of every model in the repository reads as code an embedded
# engineer would ship as it is (issue 12, item 7), at -O2 and -O0, f32 and
# f64, with and without --main:
#   - no line of 120 characters or more;
#   - no `(void)x;` to quiet an unused name;
#   - no identity copy (`float v6 = v5;`) and no block that only opens
#     another (`{` followed by `{`);
#   - arena and parameter offsets named at the call site: no `+ 0 *` and no
#     `* (size_t)batch` in a kernel call, no `m->params + 1234` without
#     its name;
#   - no kernel that only copies (`flatten` is a view of its input).
# Each rule prints the first offending lines of the first model that breaks it.
# Usage: shippable.sh NNCC SOURCE_DIR WORKDIR
set -euo pipefail
nncc=$(realpath "$1") src=$2 work=$(realpath -m "$3")
rm -rf "$work" && mkdir -p "$work"
cd "$src"  # models by relative paths: the comments quote them
status=0

# rule NAME FILE PATTERN [SHOWN-AS] (an extended regex no line may match)
rule() {
  local name=$1 file=$2 pattern=$3 shown=${4:-$2}
  if grep -nE -- "$pattern" "$file" >"$work/hits"; then
    echo "FAIL $name: $shown" >&2
    head -5 "$work/hits" >&2
    status=1
  fi
}

n=0
for model in models/*.nn tests/ref/ops/*.nn tests/emit/models/*.nn; do
  stem=$(basename "$model" .nn)
  for variant in "-O2" "-O0" "--dtype=f64" "--main"; do
    out="$work/$stem${variant//[^A-Za-z0-9]/_}.c"
    "$nncc" $variant "$model" -o "$out"
    n=$((n + 1))
    rule "line of 120 characters or more" "$out" '^.{120,}$'
    rule "line of 120 characters or more" "${out%.c}.h" '^.{120,}$'
    # (one is not boilerplate: a model whose outputs are its inputs does the
    # same in both modes, and forward_ex says so)
    grep -v '^    (void)training;  /\* the same in both modes: the outputs are inputs \*/$' "$out" \
      >"$work/void.c" || true
    rule "(void) cast" "$work/void.c" '\(void\) *[A-Za-z_]' "$out"
    rule "identity copy" "$out" '^ *(float|double) v[0-9]+ = v[0-9]+;$'
    rule "offset times zero" "$out" '\+ 0 \*'
    rule "unnamed arena offset at a call" "$out" '^ *k[0-9]+_.*\* \(size_t\)batch'
    rule "unnamed parameter offset" "$out" 'm->(params|grads|buffers|opt) \+ [0-9]+[,)]'
    rule "copy kernel" "$out" '^NNCC_KERNEL void k[0-9]+_flatten(_grad)?(_train|_infer)?\('
    # a block that only opens another: "{" alone on a line after a line ending in "{"
    if awk '/^ *\{$/ && prev ~ /\{$/ {print FILENAME ":" FNR ": " $0; found = 1} {prev = $0}
            END {exit found ? 0 : 1}' "$out" >"$work/hits"; then
      echo "FAIL nested empty block: $out" >&2
      head -5 "$work/hits" >&2
      status=1
    fi
  done
done
echo "shippable: $n generated files checked"
exit $status
