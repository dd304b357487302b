#!/usr/bin/env bash
# The main job: set up, build, and train models/fashion_mlp.nn on
# Fashion-MNIST (Debian's dataset-fashion-mnist) with the recipe in its train
# block, then print the test accuracy.  Checkpoint, metrics (CSV) and curves
# (SVG) land in out/.  Extra arguments go to the trainer (e.g. --epochs 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
data=${NNCC_DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p out
build/nncc train models/fashion_mlp.nn --data "$data" --save out/fashion_mlp.ckpt \
  --log out/fashion_mlp.csv --plot out/fashion_mlp.svg "$@"
