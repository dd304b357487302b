#!/usr/bin/env bash
# The main job: set up, build, and compile every model in models/, printing a
# summary of each.  (Training Fashion-MNIST arrives with the trainer.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
status=0
for m in models/*.nn; do
  if ! build/nncc --emit=summary "$m"; then
    status=1
  fi
  echo
done
exit $status
