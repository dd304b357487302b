#!/usr/bin/env bash
# Every model's graph renders with Graphviz (issue 14, item 6): for each
# model in models/ and tests/emit/models/, --emit=dot (and --emit=dot-train
# if it has a loss) goes through `dot -Tsvg` without an error or a warning,
# and the DOT shows what a model author looks for:
#   - one cluster per fused kernel of the mode (--emit=fused's count), each
#     present in the SVG;
#   - a shape label on every edge ([N, ...] per sample, or a class label);
#   - every layer of --emit=params as a node with its parameter count;
#   - every add and concat node with two or more edges in (the residual and
#     concat branches).
# Usage: dot.sh NNCC SOURCE_DIR WORKDIR
set -euo pipefail
nncc=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
command -v dot >/dev/null || { echo "dot (Debian's graphviz) is not installed"; exit 1; }
status=0 n=0
fail() { echo "FAIL: $*" >&2; status=1; }

# check MODEL STEM MODE(dot|dot-train) SECTION(inference|training)
check() {
  local model=$1 stem=$2 emit=$3 section=$4 g="$work/$2.$3"
  "$nncc" --emit="$emit" "$model" -o "$g.dot" 2>/dev/null
  if ! dot -Tsvg "$g.dot" -o "$g.svg" 2>"$g.err" || [ -s "$g.err" ]; then
    fail "$stem --emit=$emit: dot -Tsvg failed or warned:"; head -3 "$g.err" >&2
  fi
  n=$((n + 1))
  local fused clusters rendered
  fused=$("$nncc" --emit=fused "$model" 2>/dev/null | sed -n "s/^$section: [0-9]* kernels, \([0-9]*\) fused$/\1/p")
  clusters=$(grep -c '^  subgraph cluster_[0-9]* {$' "$g.dot" || true)
  rendered=$(grep -c '<title>cluster_[0-9]*</title>' "$g.svg" || true)
  [ "$fused" = "$clusters" ] || fail "$stem --emit=$emit: $clusters clusters for $fused fused kernels"
  [ "$clusters" = "$rendered" ] || fail "$stem --emit=$emit: $rendered of $clusters clusters rendered"
  if grep -- ' -> ' "$g.dot" | grep -vqE ' \[label="(\[[^"]*\]|\[N\] class < [0-9]+)"(, style=dashed)?\];$'; then
    fail "$stem --emit=$emit: an edge without a shape label:"
    grep -- ' -> ' "$g.dot" | grep -vE ' \[label="(\[[^"]*\]|\[N\] class < [0-9]+)"' | head -3 >&2
  fi
  for layer in $("$nncc" --emit=params "$model" 2>/dev/null | sed 's/\.[a-z_]* .*//' | sort -u); do
    grep -qF "[label=\"$layer\\n" "$g.dot" || { fail "$stem --emit=$emit: no node for layer $layer"; continue; }
    grep -F "[label=\"$layer\\n" "$g.dot" | grep -qE '\\n[0-9,]+ params' ||
      fail "$stem --emit=$emit: layer $layer without its parameter count"
  done
  for v in $(sed -n 's/^ *\(v[0-9]*\) \[label="[^"]*\\n\(add\|concat\)[\\"(].*/\1/p' "$g.dot"); do
    local in
    in=$(grep -c -- " -> $v \[" "$g.dot" || true)
    [ "$in" -ge 2 ] || fail "$stem --emit=$emit: $v (add/concat) has $in edges in"
  done
}

for model in "$src"/models/*.nn "$src"/tests/emit/models/*.nn; do
  stem=$(basename "$model" .nn)
  check "$model" "$stem" dot inference
  if "$nncc" --emit=ir "$model" 2>/dev/null | grep -q '^loss '; then
    check "$model" "$stem" dot-train training
  fi
done
[ $status = 0 ] && echo "dot: $n graphs rendered, with their clusters, shapes, parameter counts and branches"
exit $status
