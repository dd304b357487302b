#!/usr/bin/env bash
# Makes the README's pictures of fashion_cnn in docs/figures/ (or OUTDIR):
#   fashion_cnn-graph.dot  nncc --emit=dot: the inference graph for Graphviz
#   fashion_cnn-graph.svg  that graph rendered by Graphviz's dot -Tsvg
#   fashion_cnn-plan.svg   nncc --emit=plan-svg: the memory plan
# tests/emit/figures.sh runs it and compares with the committed files.
# Usage: scripts/figures.sh [NNCC [OUTDIR]]   (from anywhere; default build/nncc)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
nncc=$(realpath "${1:-$root/build/nncc}")
out=$(realpath -m "${2:-$root/docs/figures}")
mkdir -p "$out"
cd "$root"
"$nncc" --emit=dot models/fashion_cnn.nn -o "$out/fashion_cnn-graph.dot"
dot -Tsvg "$out/fashion_cnn-graph.dot" -o "$out/fashion_cnn-graph.svg"
"$nncc" --emit=plan-svg models/fashion_cnn.nn -o "$out/fashion_cnn-plan.svg"
