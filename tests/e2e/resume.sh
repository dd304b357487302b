#!/usr/bin/env bash
# Exact resume and early stopping a user can trust (tests/e2e/resume.nn: a
# small model with batchnorm, dropout, momentum, a step schedule,
# augmentation, a validation split and early stopping), on small generated
# IDX data:
# - runs are repeatable: the same command gives the same checkpoint;
# - 1 epoch, then resumed (--load) to 4, gives the checkpoint of 4 epochs
#   straight, byte for byte (its plot has all 4 epochs); so does a run interrupted after epoch 5 (its
#   checkpoint and CKPT.best as an interrupted run leaves them) resumed;
# - early stopping stops, names the restored epoch and its metric, and
#   leaves in --save the best epoch's weights: byte for byte the checkpoint
#   of a run of that many epochs; CKPT.best is gone; `test` on it reports
#   the run's final test accuracy;
# - one metric name everywhere: val_accuracy on screen and in the log;
# - the SVG marks the best epoch; without a validation split it draws the
#   test curve instead, and marks nothing.
# Usage: resume.sh NNCC SOURCE_DIR WORKDIR NNRT_TRAIN_LIB [LIBS...]   (env CC)
#   NNRT_TRAIN_LIB libnnrt_train.a; LIBS libnnrt.a and what both need
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
rm -rf "$work" && mkdir -p "$work/made" "$work/data"
cd "$work" || exit 1

"$nncc" "$src/tests/e2e/resume.nn" --main -o resume.c &&
  "$cc" -std=c99 -O2 -I"$src/runtime/include" resume.c "$nnrt" "${libs[@]}" -o resume || { echo "FAILED: cannot build the trainer"; exit 1; }
for set in train:400 t10k:100; do
  python3 "$src/tests/emit/make_idx.py" made "${set#*:}"
  mv made/images-idx3-ubyte.gz "data/${set%:*}-images-idx3-ubyte.gz"
  mv made/labels-idx1-ubyte "data/${set%:*}-labels-idx1-ubyte"
done
train() { timeout 60 ./resume train --data data "$@"; }

# Repeatable, and resumed exactly.
train --epochs 4 --save straight.ckpt --quiet > /dev/null &&
  train --epochs 4 --save again.ckpt --quiet > /dev/null &&
  train --epochs 1 --save resumed.ckpt --log resumed.csv --quiet > /dev/null &&
  out=$(train --epochs 4 --load resumed.ckpt --save resumed.ckpt --log resumed.csv \
        --plot resumed.svg 2>&1) || bad "a run failed: $out"
cmp -s straight.ckpt again.ckpt && ok "the same run twice: the same checkpoint" ||
  bad "the same run twice gave two checkpoints"
if cmp -s straight.ckpt resumed.ckpt && echo "$out" | grep -q "(resumed)" &&
   ! echo "$out" | grep -q "^epoch 1/4"; then ok "1 epoch + resume to 4 == 4 epochs, byte for byte"
else bad "1 epoch + resume to 4 differs from 4 epochs: $(cmp straight.ckpt resumed.ckpt); $out"; fi

# The resumed run's curves start at epoch 1 (the log's rows before it).
python3 - resumed.svg <<'EOF' && ok "the resumed run's plot has all 4 epochs" || bad "the resumed plot"
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
lines = list(ET.parse(sys.argv[1]).getroot().iter(ns + "polyline"))
sys.exit(0 if len(lines) == 4 and all(len(p.get("points").split()) == 4 for p in lines) else 1)
EOF

# Early stopping: on 20 epochs it stops; the epoch it restores is named
# with its metric, and the checkpoint is that epoch's.
out=$(train --epochs 20 --save es.ckpt --log es.csv --plot es.svg 2>&1) || bad "early stopping run: $out"
echo "$out"
best=$(echo "$out" | sed -n 's/^restored the best weights, epoch \([0-9]*\) of \([0-9]*\): val_loss [0-9.]*  val_accuracy [0-9.]*%; saved to es.ckpt$/\1/p')
last=$(echo "$out" | sed -n 's/^restored the best weights, epoch [0-9]* of \([0-9]*\):.*/\1/p')
if [ -n "$best" ] && [ "$last" -lt 20 ] && [ "$best" -lt "$last" ] &&
   echo "$out" | grep -q "^early stopping: no better val_loss for 2 epochs after epoch $best$"; then
  ok "stopped after epoch $last, restored epoch $best, said so"
else bad "early stopping: best '$best' last '$last': $out"; fi
train --epochs "${best:-1}" --patience 0 --save best.ckpt --quiet > /dev/null
cmp -s es.ckpt best.ckpt && ok "--save holds epoch $best's weights (a $best-epoch run's, byte for byte)" ||
  bad "--save is not epoch $best's checkpoint"
[ ! -e es.ckpt.best ] && ok "es.ckpt.best removed at the end" || bad "es.ckpt.best left"
final=$(echo "$out" | sed -n 's/^test accuracy \([0-9.]*%\).*/\1/p')
tested=$(./resume test --load es.ckpt --data data 2>&1 | sed -n 's/^test accuracy \([0-9.]*%\).*/\1/p')
at_best=$(echo "$out" | sed -n "s/^epoch ${best:-0}\/[0-9]* .* test_accuracy \([0-9.]*%\).*/\1/p")
[ -n "$final" ] && [ "$final" = "$tested" ] && [ "$final" = "$at_best" ] &&
  ok "test on the checkpoint: $tested, as the run said, as epoch $best had" ||
  bad "the run said '$final', test on its checkpoint '$tested', epoch $best had '$at_best'"

# Interrupted after epoch 5: the checkpoint holds epoch 5, CKPT.best the
# best of epochs 1..5 (runs without early stopping make both); resumed, the
# run ends as the one of 20 epochs straight did.
best5=$(sed -n '2,6p' es.csv | sort -t, -k5,5g | head -1 | cut -d, -f1)
train --epochs 5 --patience 0 --save cut.ckpt --quiet > /dev/null &&
  train --epochs "$best5" --patience 0 --save cut.ckpt.best --quiet > /dev/null &&
  out2=$(train --epochs 20 --load cut.ckpt --save cut.ckpt 2>&1) || bad "interrupted run: $out2"
if cmp -s cut.ckpt es.ckpt &&
   echo "$out2" | grep -q "^early stopping: the best so far is epoch $best5 (val_loss [0-9.]*, val_accuracy [0-9.]*%), from cut.ckpt.best$" &&
   [ "$(echo "$out2" | grep "^restored")" = "$(echo "$out" | grep "^restored" | sed 's/es.ckpt/cut.ckpt/')" ]; then
  ok "interrupted after epoch 5 (best $best5), resumed: the same end, byte for byte"
else bad "interrupted and resumed: $(cmp cut.ckpt es.ckpt); $out2"; fi

# One name per metric: the screen's are the log's columns.
head -1 es.csv | grep -qx "epoch,lr,loss,accuracy,val_loss,val_accuracy,test_loss,test_accuracy,seconds,samples_per_second" &&
  echo "$out" | grep -q "^epoch 1/20  loss [0-9.]*  accuracy [0-9.]*%  val_loss [0-9.]*  val_accuracy [0-9.]*%  test_accuracy" &&
  ! echo "$out" | grep -q "val_acc " && ok "val_accuracy on screen and in the log" ||
  bad "metric names: $(head -1 es.csv); $(echo "$out" | sed -n 2p)"

# The plot: the best epoch marked on both panels; without validation the
# test curve and no mark.
python3 - es.svg "$best" <<'EOF' && ok "the SVG marks epoch $best" || bad "the SVG's mark"
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
marks = [g for g in root.iter(ns + "g") if g.get("class") == "best-epoch"]
texts = ["".join(g.itertext()).strip() for g in marks]
sys.exit(0 if len(marks) == 2 and texts == ["best epoch " + sys.argv[2]] * 2 else 1)
EOF
train --epochs 2 --validation 0 --plot noval.svg --quiet > /dev/null
python3 - noval.svg <<'EOF' && ok "no validation: the test curve, no mark" || bad "the SVG without validation"
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
texts = [t.text for t in root.iter(ns + "text")]
lines = [p.get("stroke") for p in root.iter(ns + "polyline")]
marks = [g for g in root.iter(ns + "g") if g.get("class") == "best-epoch"]
sys.exit(0 if texts.count("test") == 2 and "validation" not in texts and
         lines.count("#2ca02c") == 2 and not marks else 1)
EOF

echo "resume: $pass passed, $fail failed"
[ $fail = 0 ]
