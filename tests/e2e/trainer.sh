#!/usr/bin/env bash
# The trainer end to end on real data (Fashion-MNIST from Debian's
# dataset-fashion-mnist): a short run on a subset reaches accuracy far above
# chance; metrics, curves and checkpoints are written; a run resumes from its
# checkpoint; a run peaks under 100 MB of memory; a run killed while
# saving leaves the previous checkpoint loadable; bad data files and a
# missing data set get clear errors; the files a run writes follow
# replace.h's rules and are checked before the first epoch.  On small
# generated data: a data set without test data trains and says so; a
# diverging run stops and saves nothing.
# Usage: trainer.sh TRAINER(fashion_mlp built with --main) WORKDIR
#                   [TRAINER_FAULTS(the same, linked with tests/fault/shim.c)]
set -uo pipefail
trainer=$1 work=$2 faulty=${3:-} here=$(cd "$(dirname "$0")" && pwd)
data=${NNCC_DATA:-/usr/share/datasets/fashion-mnist}
rm -rf "$work" && mkdir -p "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAILED: $*"; }

# A missing data set says how to get it.
if msg=$("$trainer" train --data "$work/nowhere" 2>&1); then bad "missing data accepted"
elif echo "$msg" | grep -q "dataset-fashion-mnist"; then ok "missing data: $msg"
else bad "missing data: $msg"; fi

# Bad data files: each refused with the file and the problem.
for kind in bad-magic truncated label-range wrong-size; do
  mkdir -p "$work/$kind"
  python3 "$here/../emit/make_idx.py" "$work/$kind" 50 --broken "$kind"
  mv "$work/$kind/images-idx3-ubyte.gz" "$work/$kind/train-images-idx3-ubyte.gz"
  mv "$work/$kind/labels-idx1-ubyte" "$work/$kind/train-labels-idx1-ubyte"
  if msg=$("$trainer" train --data "$work/$kind" --epochs 1 2>&1); then bad "$kind accepted"
  elif echo "$msg" | grep -q "$work/$kind/train-"; then ok "$kind: ${msg##*: }"
  else bad "$kind: $msg"; fi
done

# The files a run writes, on a tiny data set (one batch, one epoch).
tiny="$work/tiny"
mkdir -p "$tiny/made" "$tiny/data"
for set in train:64 t10k:32; do
  python3 "$here/../emit/make_idx.py" "$tiny/made" "${set#*:}"
  mv "$tiny/made/images-idx3-ubyte.gz" "$tiny/data/${set%:*}-images-idx3-ubyte.gz"
  mv "$tiny/made/labels-idx1-ubyte" "$tiny/data/${set%:*}-labels-idx1-ubyte"
done
run_tiny() { timeout 60 "$trainer" train --data "$tiny/data" --epochs 1 --no-augment "$@"; }
mode() { stat -c %a "$1"; }

# A path that cannot be written fails the run at once, before any epoch,
# with a message naming it; so does one that is not a regular file (a fifo,
# a directory), which is left as it was.
mkfifo "$tiny/fifo"
mkdir "$tiny/dir"
for flag in --save --log --plot; do
  for target in "$tiny/nowhere/x" "$tiny/fifo" "$tiny/dir"; do
    if out=$(run_tiny $flag "$target" 2>&1); then bad "$flag $target accepted"
    elif echo "$out" | grep -q "^epoch "; then bad "$flag $target: failed only after an epoch: $out"
    elif ! echo "$out" | grep -q ": $target: "; then bad "$flag $target: $out"
    else ok "$flag $target: ${out#*: }"; fi
  done
done
[ -p "$tiny/fifo" ] && [ -d "$tiny/dir" ] && [ -z "$(ls -A "$tiny/dir")" ] &&
  ok "the fifo and the directory are as they were" || bad "the fifo or the directory changed"

# A symlink is followed: its target gets the file, the link stays a link.
mkdir "$tiny/real"
ln -s real/m.ckpt "$tiny/m.ckpt"
ln -s real/m.svg "$tiny/m.svg"
run_tiny --save "$tiny/m.ckpt" --plot "$tiny/m.svg" --quiet > /dev/null 2>&1
if [ -L "$tiny/m.ckpt" ] && [ -L "$tiny/m.svg" ] && [ -f "$tiny/real/m.ckpt" ] &&
   grep -q "<polyline\|<circle" "$tiny/real/m.svg" &&
   "$trainer" test --load "$tiny/m.ckpt" --data "$tiny/data" > /dev/null 2>&1; then
  ok "--save and --plot through symlinks: the links kept, their targets written"
else bad "symlinks: $(ls -l "$tiny" "$tiny/real")"; fi

# New files get 0666 & ~umask; a replaced checkpoint keeps its mode.
rm -f "$tiny"/u.*
(umask 077 && run_tiny --save "$tiny/u.ckpt" --plot "$tiny/u.svg" --log "$tiny/u.csv" \
  --quiet) > /dev/null 2>&1
modes="$(mode "$tiny/u.ckpt") $(mode "$tiny/u.svg") $(mode "$tiny/u.csv")"
[ "$modes" = "600 600 600" ] && ok "umask 077: new files $modes" || bad "umask 077: $modes"
(umask 002 && run_tiny --save "$tiny/u2.ckpt" --quiet) > /dev/null 2>&1
modes=$(mode "$tiny/u2.ckpt")
[ "$modes" = 664 ] && ok "umask 002: a new checkpoint 664" || bad "umask 002: $modes"
chmod 640 "$tiny/u.ckpt"
run_tiny --save "$tiny/u.ckpt" --quiet > /dev/null 2>&1
modes=$(mode "$tiny/u.ckpt")
[ "$modes" = 640 ] && ok "a replaced checkpoint keeps mode 640" || bad "replaced: $modes"
if ls "$tiny" "$tiny/real" | grep -q '\.tmp\.'; then bad "temporary files left: $(ls "$tiny")"
else ok "no temporary files left"; fi

# small_data DIR N: N random 28x28 training images and labels (no test data).
small_data() {
  mkdir -p "$1"
  python3 "$here/../emit/make_idx.py" "$1" "$2"
  mv "$1/images-idx3-ubyte.gz" "$1/train-images-idx3-ubyte.gz"
  mv "$1/labels-idx1-ubyte" "$1/train-labels-idx1-ubyte"
}

# No test data (IDX, or a train.csv alone): said, never "nan%", exit 0.
small_data "$work/no-test" 40
mkdir -p "$work/no-test-csv"
python3 -c 'import random, sys
rng = random.Random(3)
with open(sys.argv[1], "w") as f:
    for i in range(40):
        f.write(",".join([str(i % 10)] + [str(rng.randrange(256)) for _ in range(784)]) + "\n")
' "$work/no-test-csv/train.csv"
for dir in no-test no-test-csv; do
  for quiet in "" --quiet; do
    out=$("$trainer" train --data "$work/$dir" --epochs 1 --no-augment $quiet 2>&1); rc=$?
    want="no test data in $work/$dir: no t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], nor test.csv; trained without a test evaluation"
    if [ $rc = 0 ] && [ "$(echo "$out" | tail -1)" = "$want" ] && ! echo "$out" | grep -q "nan%" &&
       { [ -z "$quiet" ] || [ "$out" = "$want" ]; }; then ok "$dir $quiet: $want"
    else bad "$dir $quiet: exit $rc: $out"; fi
  done
done

# A run that diverges (--lr 1e30, 4 batches: fewer than the 20 refused
# steps in a row that stop a run mid-epoch) never saves over a checkpoint:
# it stops, naming the epoch and --lr, and the checkpoint stays byte for
# byte; resumed from it, likewise; fresh, it writes none.
small_data "$work/diverge" 100
small=(--data "$work/diverge" --limit 64 --batch 16 --no-augment)
"$trainer" train "${small[@]}" --epochs 1 --save "$work/good.ckpt" > /dev/null 2>&1
cp "$work/good.ckpt" "$work/good.copy"
for run in "1 --save $work/good.ckpt" "2 --load $work/good.ckpt --save $work/good.ckpt" \
           "1 --save $work/fresh.ckpt"; do
  read -r epoch args <<< "$run"
  msg=$("$trainer" train "${small[@]}" --epochs 3 --lr 1e30 $args 2>&1 > /dev/null); rc=$?
  want="$(basename "$trainer"): model fashion_mlp diverged in epoch $epoch: its last [0-9]+ training steps were refused \(a loss or an update that was not finite\), so the epoch was not saved; try a lower learning rate \(--lr, here 1e\+30\)"
  if [ $rc = 1 ] && echo "$msg" | grep -Eqx "$want" && cmp -s "$work/good.ckpt" "$work/good.copy" &&
     [ ! -e "$work/fresh.ckpt" ]; then ok "diverged ($args): $msg"
  else bad "diverging run ($args): exit $rc: $msg"; fi
done

# fashion_mlp's batchnorms have one value per channel, so they cannot train
# on a batch of 1 (as in PyTorch): --batch 1 is refused, and 33 samples in
# batches of 16 leave out each epoch's last one, and say so.
msg=$("$trainer" train "${small[@]}" --limit 33 --validation 0 --epochs 2 2>&1); rc=$?
if [ $rc = 0 ] && echo "$msg" | grep -q "^(each epoch leaves out its last sample: a batch of 1" &&
   ! echo "$msg" | grep -qi "nan\|diverged"; then ok "last batch of 1 left out"
else bad "33 samples in batches of 16: exit $rc: $msg"; fi
msg=$("$trainer" train "${small[@]}" --batch 1 --epochs 1 2>&1); rc=$?
if [ $rc = 1 ] && echo "$msg" | grep -q "model fashion_mlp cannot train on batches of 1: a batchnorm has one value per channel; use --batch 2 or more"; then ok "batch 1 refused: $msg"
else bad "--batch 1: exit $rc: $msg"; fi

if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "skipped the training runs: no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist)"
  echo "trainer: $pass passed, $fail failed"
  [ $fail = 0 ]; exit
fi

# peak_rss FILE CMD...: runs CMD, then writes its peak RSS (KB, from
# getrusage) to FILE; returns CMD's status.
peak_rss() {
  python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$@"
}

# A short run on 6000 samples: far above chance (10%).  It loads all of
# Fashion-MNIST (--limit only trains on less), and peaks well under 100 MB:
# the images are kept as bytes (45 MB; 180 MB as floats, which alone
# exceeded the bound), the rest is the model and the process (about 20 MB).
out=$(peak_rss "$work/rss" "$trainer" train --data "$data" --limit 6000 --epochs 2 \
      --no-augment --save "$work/m.ckpt" --log "$work/m.csv" --plot "$work/m.svg" 2>&1)
echo "$out"
kb=$(cat "$work/rss")
if [ "$kb" -lt $((100 * 1024)) ]; then ok "peak RSS $((kb / 1024)) MB on all of Fashion-MNIST"
else bad "peak RSS $((kb / 1024)) MB, at least 100 MB, on all of Fashion-MNIST"; fi
acc=$(echo "$out" | sed -n 's/^test accuracy \([0-9.]*\)%.*/\1/p' | tail -1)
if [ -n "$acc" ] && awk "BEGIN { exit !($acc >= 75) }"; then ok "2 epochs on 6000 samples: $acc%"
else bad "accuracy '$acc' after 2 epochs"; fi
[ "$(wc -l < "$work/m.csv")" = 3 ] && ok "metrics CSV" || bad "metrics CSV: $(cat "$work/m.csv")"
grep -q "<polyline" "$work/m.svg" && ok "SVG curves" || bad "SVG curves"
[ -f "$work/m.ckpt" ] && ok "checkpoint" || bad "no checkpoint"

# Resume: the step count and optimizer state continue; epochs 3 of 3 only.
out=$("$trainer" train --data "$data" --limit 6000 --epochs 3 --no-augment \
      --load "$work/m.ckpt" --save "$work/m.ckpt" 2>&1)
if echo "$out" | grep -q "(resumed)" && echo "$out" | grep -q "^epoch 3/3" &&
   ! echo "$out" | grep -q "^epoch 1/3"; then ok "resumed at epoch 3"
else bad "resume: $out"; fi

# Evaluate the checkpoint; then kill a run in the middle of saving it (the
# trainer linked with the fault shim pauses before its second write, after
# the checkpoint's header): the checkpoint still loads and still gives the
# same accuracy.
if [ -z "$faulty" ]; then
  echo "trainer: $pass passed, $fail failed (no TRAINER_FAULTS: the kill mid-save skipped)"
  [ $fail = 0 ]; exit
fi
before=$("$trainer" test --load "$work/m.ckpt" --data "$data" 2>&1)
cp "$work/m.ckpt" "$work/m.copy"
NNRT_FAULT_PAUSE_AT_WRITE=2 "$faulty" train --data "$data" --limit 1000 --epochs 1 \
  --no-augment --save "$work/m.ckpt" > "$work/killed.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  ls "$work"/m.ckpt.tmp.* > /dev/null 2>&1 && break
  sleep 0.1
done
if ls "$work"/m.ckpt.tmp.* > /dev/null 2>&1; then
  kill -9 $pid; wait $pid 2>/dev/null
  ok "killed while writing $(ls "$work"/m.ckpt.tmp.*)"
else
  bad "never saw the save in progress"; kill -9 $pid 2>/dev/null
fi
after=$("$trainer" test --load "$work/m.ckpt" --data "$data" 2>&1)
if cmp -s "$work/m.ckpt" "$work/m.copy" && [ "$before" = "$after" ]; then
  ok "the old checkpoint survived: $after"
else bad "checkpoint after the kill: $after (before: $before)"; fi

echo "trainer: $pass passed, $fail failed"
[ $fail = 0 ]
