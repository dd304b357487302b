#!/usr/bin/env bash
# Fault injection over libnnrt (driver.c): makes the tiny IDX data set the
# training run reads (tests/emit/make_idx.py), then runs the driver.
# Usage: run.sh FAULT_INJECT WORKDIR
set -euo pipefail
driver=$1 work=$2 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work/data" "$work/made"
for set in train:64 t10k:32; do
  python3 "$here/../emit/make_idx.py" "$work/made" "${set#*:}"
  mv "$work/made/images-idx3-ubyte.gz" "$work/data/${set%:*}-images-idx3-ubyte.gz"
  mv "$work/made/labels-idx1-ubyte" "$work/data/${set%:*}-labels-idx1-ubyte"
done
exec "$driver" "$work"
