#!/usr/bin/env bash
# CSV data sets give no silent wrong results (issue 15, item 2).
# 1. The scaling is decided once, from the training file (or by --scale),
#    applied to every split and printed: a train.csv of 8-bit integers and a
#    test.csv of the same rows with one value made fractional give the same
#    test loss as the all-integer test.csv (old: the test file was not
#    divided by 255, loss in the hundreds); `NAME test` and `predict` take
#    the same scale; --scale none / 255 / auto and a bad value.
# 2. CSV rows of a model whose input is an image (f32[1, 8, 8]) take its
#    shape: trained with augmentation and evaluated with test-time
#    augmentation, the same images as CSV and as IDX give the same run,
#    every metric and the checkpoint byte for byte.  IDX images of another
#    shape are refused.
# 3. TTA on CSV rows without an image shape (an MLP's f32[64]) is refused
#    with a clear error: train, test and predict.
# Usage: csv.sh NNCC SOURCE_DIR WORKDIR NNRT_TRAIN_LIB [LIBS...]   (env CC)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
rm -rf "$work" && mkdir -p "$work"

# build NAME: NAME.nn in $work -> the trainer $work/NAME (--main)
build() {
  "$nncc" --main "$work/$1.nn" -o "$work/$1.c" &&
    "$cc" -std=c99 -O2 -I"$src/runtime/include" "$work/$1.c" "$nnrt" "${libs[@]}" -o "$work/$1"
}

# ------------------------------------------------------------ 1. scaling
cat > "$work/pix.nn" <<'NN'
model pix
input x : f32[8]
label y : class[2]
logits = x |> linear(16) |> relu |> linear(2)
output logits
loss softmax_cross_entropy(logits, y)
train {
  optimizer sgd(lr=0.1, momentum=0.9)
  batch 16
  epochs 5
}
NN
mkdir -p "$work/int" "$work/frac"
python3 - "$work" <<'PY'
import random, sys
rng = random.Random(2)
rows = []
for i in range(200):
    x = [rng.randrange(256) for _ in range(8)]
    rows.append([int(sum(x[:4]) > sum(x[4:]))] + x)
def write(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
write(sys.argv[1] + "/int/train.csv", rows)
write(sys.argv[1] + "/int/test.csv", rows[:100])
write(sys.argv[1] + "/frac/train.csv", rows)
rows[0][3] += 0.5  # one value of test.csv that is not an integer
write(sys.argv[1] + "/frac/test.csv", rows[:100])
PY
cut -d, -f2- "$work/frac/test.csv" > "$work/frac-inputs.csv"
if ! build pix; then echo "FAILED: building pix"; exit 1; fi
pix=$work/pix
auto="inputs divided by 255 (auto: 8-bit pixels, every value an integer in [0, 255])"
loss_of() { sed -n 's/^test accuracy [0-9.]*% (loss \([0-9.]*\), 100 samples)$/\1/p'; }
for set in int frac; do
  out=$("$pix" train --data "$work/$set" --save "$work/$set.ckpt" 2>&1)
  eval "${set}_out=\$out"
  eval "${set}_loss=$(echo "$out" | loss_of)"
done
echo "test loss: all integers $int_loss, one fractional value $frac_loss"
if [ "$(echo "$frac_out" | sed -n 2p)" = "$auto" ] &&
   python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(not (a < 0.5 and abs(a - b) < 0.01))' \
           "${int_loss:-nan}" "${frac_loss:-nan}"
then ok "a test.csv with one fractional value is scaled as train.csv: loss $frac_loss (all integers: $int_loss); said: $auto"
else bad "scaling per split: $int_out // $frac_out"; fi
# NAME test decides from train.csv too, and says so.
out=$("$pix" test --load "$work/frac.ckpt" --data "$work/frac" 2>&1)
if [ "$(echo "$out" | head -1)" = "$auto" ] && [ "$(echo "$out" | tail -1 | loss_of)" = "$frac_loss" ]
then ok "pix test: the training file's scale, the same loss: $(echo "$out" | tail -1)"
else bad "pix test: $out (want loss $frac_loss)"; fi
# --scale none: kept as they are (the test loss is then that of raw pixels).
out=$("$pix" train --data "$work/frac" --scale none --epochs 1 2>&1)
if [ "$(echo "$out" | sed -n 2p)" = "inputs kept as they are (--scale)" ]
then ok "--scale none: $(echo "$out" | sed -n 2p)"
else bad "--scale none: $out"; fi
out=$("$pix" train --data "$work/frac" --scale 255 --epochs 1 2>&1)
if [ "$(echo "$out" | sed -n 2p)" = "inputs divided by 255 (--scale)" ]
then ok "--scale 255: $(echo "$out" | sed -n 2p)"
else bad "--scale 255: $out"; fi
for v in 0 -1 abc; do
  msg=$("$pix" train --data "$work/frac" --scale "$v" 2>&1); rc=$?
  if [ $rc = 2 ] && [ "$msg" = "pix: --scale needs auto, none or a number in (0, 1e+30], got '$v'" ]
  then ok "--scale $v refused: $msg"
  else bad "--scale $v: exit $rc: $msg"; fi
done
# predict: the file alone has no training file: auto on it (here: not
# pixels, so said), or --scale as in training, which gives the classes of
# the trained scale.
"$pix" predict --load "$work/frac.ckpt" --images "$work/frac-inputs.csv" --scale 255 \
  > "$work/pred255" 2> "$work/pred255.err"
"$pix" predict --load "$work/frac.ckpt" --images "$work/frac-inputs.csv" \
  > "$work/predauto" 2> "$work/predauto.err"
right=$(paste -d' ' <(cut -d, -f1 "$work/frac/test.csv") "$work/pred255" | awk '$1 == $3' | wc -l)
if grep -qx "pix: $work/frac-inputs.csv: inputs divided by 255 (--scale)" "$work/pred255.err" &&
   grep -qx "pix: $work/frac-inputs.csv: inputs kept as they are (auto: not 8-bit pixels; --scale 255 divides them)" "$work/predauto.err" &&
   [ "$right" -ge 90 ]
then ok "predict says its scale; with --scale 255, $right/100 right"
else bad "predict: $right right; $(cat "$work/pred255.err" "$work/predauto.err")"; fi

# ------------------------------------------- 2. CSV images, as IDX images
cat > "$work/blob.nn" <<'NN'
model blob
input image : f32[1, 8, 8]
label y : class[2]
x = image |> conv2d(4, kernel=3, pad=1) |> relu |> maxpool(2)
logits = x |> flatten |> linear(2)
output logits
loss softmax_cross_entropy(logits, y)
train {
  optimizer sgd(lr=0.05, momentum=0.9)
  batch 16
  epochs 3
  validation 0.2
  seed 5
  augment random_crop(pad=1), hflip, random_rotation(10)
}
test {
  tta angles=[-10, 0, 10], crops=five, sizes=[7]
}
NN
mkdir -p "$work/idx" "$work/csvimg" "$work/wrong"
python3 - "$work" <<'PY'
import random, struct, sys
rng = random.Random(4)
def images(n):
    out = []
    for i in range(n):
        label = i % 2
        img = [rng.randrange(40) for _ in range(64)]
        r, c = rng.randrange(4) + 4 * label, rng.randrange(7)
        for dr in (0, 1):
            for dc in (0, 1):
                img[(r + dr) % 8 * 8 + (c + dc) % 8] = 200 + rng.randrange(56)
        out.append((label, img))
    return out
for name, n in (("train", 240), ("t10k", 80)):
    data = images(n)
    with open("%s/idx/%s-images-idx3-ubyte" % (sys.argv[1], name), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 8, 8) + bytes(v for _, img in data for v in img))
    with open("%s/idx/%s-labels-idx1-ubyte" % (sys.argv[1], name), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(l for l, _ in data))
    with open("%s/csvimg/%s.csv" % (sys.argv[1], "train" if name == "train" else "test"), "w") as f:
        for l, img in data:
            f.write(",".join(map(str, [l] + img)) + "\n")
    if name == "train":  # the same bytes as 4 x 16 images
        with open("%s/wrong/train-images-idx3-ubyte" % sys.argv[1], "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, 4, 16) + bytes(v for _, img in data for v in img))
        with open("%s/wrong/train-labels-idx1-ubyte" % sys.argv[1], "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + bytes(l for l, _ in data))
PY
if ! build blob; then echo "FAILED: building blob"; exit 1; fi
blob=$work/blob
# the run's text without its timings (seconds, samples/s)
untimed() { sed -E 's/  [0-9.]+s  [0-9]+ samples\/s$//; s/ on [^:]*:/ on DATA:/'; }
for set in idx csvimg; do
  "$blob" train --data "$work/$set" --tta --save "$work/$set.ckpt" --log "$work/$set.log" \
    > "$work/$set.out" 2>&1 || bad "blob on $set: $(cat "$work/$set.out")"
  untimed < "$work/$set.out" | grep -v "^inputs" > "$work/$set.txt"
  cut -d, -f1-8 "$work/$set.log" > "$work/$set.metrics"
done
cat "$work/csvimg.out"
if grep -q "^test accuracy with TTA [0-9.]*% (loss [0-9.]*, 15 views)$" "$work/csvimg.out" &&
   cmp -s "$work/idx.txt" "$work/csvimg.txt" && cmp -s "$work/idx.metrics" "$work/csvimg.metrics" &&
   cmp -s "$work/idx.ckpt" "$work/csvimg.ckpt"
then ok "augmentation and TTA on CSV images: the IDX run exactly (every line, the log, the checkpoint)"
else bad "CSV images differ from IDX: $(diff "$work/idx.txt" "$work/csvimg.txt")"; fi
tta_csv=$("$blob" test --load "$work/csvimg.ckpt" --data "$work/csvimg" --tta 2>&1 | tail -1)
tta_idx=$("$blob" test --load "$work/idx.ckpt" --data "$work/idx" --tta 2>&1 | tail -1)
if [ "$tta_csv" = "$tta_idx" ] && echo "$tta_csv" | grep -q "with TTA"
then ok "blob test --tta: CSV as IDX: $tta_csv"
else bad "blob test --tta: CSV '$tta_csv', IDX '$tta_idx'"; fi
msg=$("$blob" train --data "$work/wrong" --epochs 1 2>&1); rc=$?
if [ $rc = 1 ] && [ "$msg" = "blob: $work/wrong/train-images-idx3-ubyte: 1x4x16 images, but model blob takes f32[1, 8, 8]" ]
then ok "IDX images of another shape: $msg"
else bad "wrong shape: exit $rc: $msg"; fi

# --------------------------------- 3. TTA refused without an image shape
sed -e 's/^model blob/model flat/' -e 's/f32\[1, 8, 8\]/f32[64]/' \
    -e 's/conv2d(4, kernel=3, pad=1) |> relu |> maxpool(2)/linear(16) |> relu/' \
    -e '/augment/d' "$work/blob.nn" > "$work/flat.nn"
if ! build flat; then echo "FAILED: building flat"; exit 1; fi
flat=$work/flat
why="test-time augmentation needs images, but the samples have no image shape (model flat takes 64 values, not f32[C, H, W]); leave out --tta"
msg=$("$flat" train --data "$work/csvimg" --tta --epochs 1 2>&1); rc=$?
if [ $rc = 1 ] && [ "$msg" = "flat: $work/csvimg/train.csv: $why" ]
then ok "flat train --tta on CSV refused before training: $msg"
else bad "flat train --tta: exit $rc: $msg"; fi
"$flat" train --data "$work/csvimg" --epochs 1 --save "$work/flat.ckpt" > /dev/null 2>&1
msg=$("$flat" test --load "$work/flat.ckpt" --data "$work/csvimg" --tta 2>&1); rc=$?
if [ $rc = 1 ] && [ "$msg" = "flat: $work/csvimg: $why" ]
then ok "flat test --tta refused: $msg"
else bad "flat test --tta: exit $rc: $msg"; fi
cut -d, -f2- "$work/csvimg/test.csv" > "$work/flat-inputs.csv"
msg=$("$flat" predict --load "$work/flat.ckpt" --images "$work/flat-inputs.csv" --tta 2>&1); rc=$?
if [ $rc = 1 ] && [ "$msg" = "flat: $work/flat-inputs.csv: $why" ]
then ok "flat predict --tta refused: $msg"
else bad "flat predict --tta: exit $rc: $msg"; fi
# IDX images keep their shape: an MLP on them still gets TTA.
if "$flat" test --load "$work/flat.ckpt" --data "$work/idx" --tta 2>&1 | grep -q "with TTA"
then ok "flat on IDX images: TTA as before"
else bad "flat test --tta on IDX"; fi

echo "csv: $pass passed, $fail failed"
[ $fail = 0 ]
