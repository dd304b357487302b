#!/usr/bin/env bash
# The example app end to end on small IDX files: every image classified,
# labels scored, and each kind of bad data file refused with a message that
# names the file.  Usage: example.sh CLASSIFY_BINARY WORKDIR
set -euo pipefail
app=$1 work=$2 here=$(dirname "$0")
rm -rf "$work" && mkdir -p "$work/good"
python3 "$here/make_idx.py" "$work/good" 25
out=$("$app" - "$work/good/images-idx3-ubyte.gz" "$work/good/labels-idx1-ubyte")
[ "$(echo "$out" | grep -c '^[0-9]* [0-9] ')" = 25 ] || { echo "expected 25 predictions"; echo "$out"; exit 1; }
echo "$out" | grep -q '^accuracy [0-9.]*% ([0-9]* of 25)$' || { echo "no accuracy line"; exit 1; }
for kind in bad-magic truncated label-range wrong-size; do
  mkdir -p "$work/$kind"
  python3 "$here/make_idx.py" "$work/$kind" 25 --broken "$kind"
  if msg=$("$app" - "$work/$kind/images-idx3-ubyte.gz" "$work/$kind/labels-idx1-ubyte" 2>&1); then
    echo "$kind: accepted"; exit 1
  fi
  echo "$kind: $msg"
  echo "$msg" | grep -q "$work/$kind/" || { echo "$kind: message does not name the file"; exit 1; }
done
echo "example: 6 passed, 0 failed"
