#!/usr/bin/env bash
# The trainer's command line (issue 15, items 5 and 6), on a tiny image
# model with a classes line and CSV data of 60 samples:
#  - --flag=value as well as --flag value; did-you-mean for a mistyped flag;
#    `NAME CMD --help` and `nncc CMD --help` list exactly the options of
#    runtime/cli.c's table that CMD takes;
#  - messages start with the program's name (`nncc train:` through nncc);
#  - nncc train checks the flags and the data (shape, labels) before it
#    builds anything; its trainers are cached ($XDG_CACHE_HOME/nncc), reused
#    by a second run (not rebuilt), safe for concurrent runs, and nothing is
#    left in $TMPDIR;
#  - the progress bar has a step count and an ETA on a terminal, and the
#    header line is out before the first epoch ends;
#  - nncc test and nncc predict on the trained model: top classes with
#    probabilities and names, --top, --out CSV, a PGM image (and refusals).
# Usage: cli.sh NNCC SOURCE_DIR WORKDIR NNRT_TRAIN_LIB [LIBS...]   (env CC;
#        env SLOW_TRAINER: a --main trainer of fashion_mlp, for the flush check)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
rm -rf "$work" && mkdir -p "$work/data" "$work/tmp"
export XDG_CACHE_HOME=$work/cache TMPDIR=$work/tmp
cd "$work" || exit 1

cat > img.nn <<'EOF'
model img
input x : f32[1, 4, 4]
label y : class[3]
classes ["dark", "mid, grey", "light"]
logits = x |> flatten |> linear(3)
output logits
loss softmax_cross_entropy(logits, y)
train {
  optimizer sgd(lr=0.5)
  batch 8
  epochs 10
}
EOF
python3 - <<'EOF'
import random
random.seed(1)
for name, n in (("train", 60), ("test", 30)):
    with open(f"data/{name}.csv", "w") as f:
        for i in range(n):
            c = i % 3
            base = [20, 128, 235][c]
            px = [max(0, min(255, base + random.randint(-20, 20))) for _ in range(16)]
            f.write(",".join(map(str, [c] + px)) + "\n")
with open("light.pgm", "wb") as f:
    f.write(b"P5\n# a light image\n4 4\n255\n" + bytes([230] * 16))
with open("wide.pgm", "wb") as f:
    f.write(b"P5\n5 4\n255\n" + bytes([230] * 20))
with open("colour.ppm", "wb") as f:
    f.write(b"P6\n4 4\n255\n" + bytes([230] * 48))
with open("deep.pgm", "wb") as f:
    f.write(b"P5\n4 4\n65535\n" + bytes([230] * 32))
with open("short.pgm", "wb") as f:
    f.write(b"P5\n4 4\n255\n" + bytes([230] * 10))
with open("three.csv", "w") as f:
    for v in (20, 128, 235):
        f.write(",".join([str(v)] * 16) + "\n")
EOF
"$nncc" --main img.nn -o img.c && "$cc" -std=c99 -O2 -I"$src/runtime/include" img.c "$nnrt" \
  "${libs[@]}" -o img || { echo "FAILED: building the trainer"; exit 1; }

# --- flag forms ---------------------------------------------------------
a=$(./img train --data data --epochs 2 --batch 4 --seed 3 2>&1 | sed 's/ *[0-9.]*s .*//')
b=$(./img train --data=data --epochs=2 --batch=4 --seed=3 2>&1 | sed 's/ *[0-9.]*s .*//')
if [ -n "$a" ] && [ "$a" = "$b" ] && echo "$a" | grep -q "batch 4, 2 epochs"
then ok "--flag=value is --flag value"
else bad "flag forms differ: [$a] [$b]"; fi
expect() {  # expect WHAT STATUS MESSAGE COMMAND...
  local what=$1 want_rc=$2 want=$3 msg rc
  shift 3
  msg=$("$@" 2>&1); rc=$?
  if [ "$rc" = "$want_rc" ] && [ "$msg" = "$want" ]; then ok "$what: $msg"
  else bad "$what: exit $rc (want $want_rc): [$msg], want [$want]"; fi
}
expect "did you mean" 2 "img: unknown option '--epoch'; did you mean '--epochs'? (see img train --help)" \
  ./img train --data data --epoch 2
expect "did you mean, =" 2 "img: unknown option '--bacth'; did you mean '--batch'? (see img test --help)" \
  ./img test --load x --bacth=2
expect "no suggestion" 2 "img: unknown option '--colour' (see img predict --help)" \
  ./img predict --colour
expect "another command's option" 2 "img: --epochs is an option of train, not of predict" \
  ./img predict --load x --images y --epochs 3
expect "a switch takes no value" 2 "img: --tta takes no value, got '--tta=1'" ./img train --tta=1
expect "a value missing" 2 "img: --save needs a value (--save PATH)" ./img train --save --epochs 2
expect "unknown command" 2 "img: unknown command 'trian' (expected train, test or predict); did you mean 'train'?" \
  ./img trian
expect "nncc train: did you mean" 2 \
  "nncc train: unknown option '--epoch'; did you mean '--epochs'? (see nncc train --help)" \
  "$nncc" train img.nn --data data --epoch 2
[ ! -e cache ] && ok "nothing built for a bad flag" || bad "a bad flag built a trainer"

# --- --help is the table --------------------------------------------------
# The table's rows: each option's name and the commands (T, E, P) that take it.
rows=$(python3 - "$src/runtime/cli.c" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
for m in re.finditer(r'\{"(--[a-z-]+)", (?:"[^"]*"|NULL), [A-Z]+, ([TEP |]+),', text):
    print(m.group(1), m.group(2).replace("|", "").replace(" ", ""))
EOF
)
nrows=$(echo "$rows" | wc -l)
[ "$nrows" -ge 18 ] || bad "read only $nrows rows of runtime/cli.c's table"
help_ok=1
for cmd in train:T test:E predict:P; do
  c=${cmd%:*} letter=${cmd#*:}
  ./img "$c" --help > "help.$c" && "$nncc" "$c" --help > "nncc-help.$c" || help_ok=0
  for out in "help.$c" "nncc-help.$c"; do
    listed=$(sed -n 's/^  \(--[a-z-]*\).*/\1/p' "$out" | sort)
    want=$(echo "$rows" | awk -v l="$letter" 'index($2, l) { print $1 }' | sort)
    if [ "$listed" != "$want" ]; then
      help_ok=0
      echo "  $out lists: $(echo $listed)"
      echo "  the table:  $(echo $want)"
    fi
  done
  # the same text, but for the usage line
  cmp -s <(tail -n +2 "help.$c") <(tail -n +2 "nncc-help.$c") || { help_ok=0; echo "  $c: img and nncc differ"; }
  grep -q "^usage: nncc $c MODEL.nn " "nncc-help.$c" || { help_ok=0; echo "  nncc $c --help: usage"; }
done
grep -q "^  --epochs N  *epochs to train$" help.train || { help_ok=0; echo "  --epochs's line"; }
[ $help_ok = 1 ] && ok "--help of img and nncc, train, test, predict: the table's $nrows options" ||
  bad "--help does not match the table"
"$nncc" train --help | grep -q -- "--save PATH" && ok "nncc train --help: exit 0" || bad "nncc train --help"

# --- nncc train checks before building ------------------------------------
mkdir -p wide && cut -d, -f1-10 data/train.csv > wide/train.csv
mkdir -p idx && python3 "$src/tests/emit/make_idx.py" idx 20 >/dev/null &&
  mv idx/images-idx3-ubyte.gz idx/train-images-idx3-ubyte.gz &&
  mv idx/labels-idx1-ubyte idx/train-labels-idx1-ubyte
sed -e 's/class\[3\]/f32[3]/' -e '/^classes/d' -e 's/softmax_cross_entropy/mse/' img.nn > real.nn
early() {  # early WHAT MESSAGE ARGS...: refused, nothing built
  local what=$1 want=$2 msg rc
  shift 2
  msg=$(XDG_CACHE_HOME=$work/early "$nncc" "$@" 2>&1); rc=$?
  if [ "$rc" != 0 ] && [ "$msg" = "$want" ] && [ ! -e "$work/early" ]; then ok "before building, $what: $msg"
  else bad "$what: exit $rc: [$msg], want [$want]"; fi
}
early "no --data" "nncc train: error: no data: pass --data DIR (Fashion-MNIST comes with Debian's dataset-fashion-mnist package, in /usr/share/datasets/fashion-mnist)" \
  train img.nn
early "a missing directory" "nncc train: error: nowhere: no such directory" train img.nn --data nowhere
early "CSV columns" "nncc train: error: wide/train.csv:1: 10 columns, but model img takes 1 label and 16 input values (17 columns)" \
  train img.nn --data wide
early "IDX shape" "nncc train: error: idx/train-images-idx3-ubyte.gz: samples of 784 values, but model img takes 16 per sample" \
  train img.nn --data idx
early "IDX labels for real-valued labels" "nncc train: error: model img takes real-valued labels (3 per sample), but the IDX files in idx carry class ids: give it train.csv and test.csv, the label columns first" \
  train real.nn --data idx
early "test without test data" "nncc test: error: wide: no test data here: expected t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], or test.csv" \
  test img.nn --load m.ckpt --data wide
early "test without --load" "nncc test: test needs --load CKPT (and --data DIR)" test img.nn --data data
early "an image of another size" "nncc predict: error: wide.pgm: a 5x4 grey image (f32[1, 4, 5]), but model img takes f32[1, 4, 4] (images are not resized)" \
  predict img.nn --load m.ckpt --images wide.pgm
early "a colour image" "nncc predict: error: colour.ppm: a 4x4 colour image (f32[3, 4, 4]), but model img takes f32[1, 4, 4] (images are not resized)" \
  predict img.nn --load m.ckpt --images colour.ppm

# --- the cache -------------------------------------------------------------
if "$nncc" train img.nn --data data --save m.ckpt --quiet > out1 2> err1 &&
   grep -q "^nncc train: img.nn: building the trainer" err1 && [ "$(cat out1)" = "test accuracy 100.00%" ]
then ok "nncc train: built and trained: $(cat out1)"
else bad "nncc train: $(cat out1 err1)"; fi
exe=$(ls "$work"/cache/nncc/img-*/img 2>/dev/null)
before=$(stat -c %Y.%y "$exe" 2>/dev/null)
sleep 1
if "$nncc" train img.nn --data data --epochs 1 --quiet > out2 2> err2 &&
   [ "$(cat err2)" = "nncc train: img.nn: the trainer is cached: $exe" ] &&
   [ "$(stat -c %Y.%y "$exe")" = "$before" ] && [ "$(ls cache/nncc | wc -l)" = 1 ]
then ok "a second run reuses the trainer: $(cat err2)"
else bad "second run: $(cat err2); $(ls -la cache/nncc)"; fi
if "$nncc" test img.nn --load m.ckpt --data data > out3 2> err3 &&
   grep -q "the trainer is cached: $exe" err3 &&
   grep -Eq "^test accuracy 100.00% \(loss [0-9.]+, 30 samples\)$" out3
then ok "nncc test, the same trainer: $(cat out3)"
else bad "nncc test: $(cat out3 err3)"; fi
rm -rf cache2
XDG_CACHE_HOME=$work/cache2 "$nncc" train img.nn --data data --epochs 1 --quiet > c1 2>&1 & p1=$!
XDG_CACHE_HOME=$work/cache2 "$nncc" train img.nn --data data --epochs 1 --quiet > c2 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
if [ $r1 = 0 ] && [ $r2 = 0 ] && [ "$(ls -A cache2/nncc)" = "$(basename "$(dirname "$exe")")" ]
then ok "two runs at once: both trained, one trainer in the cache"
else bad "concurrent runs: $r1 $r2 $(cat c1 c2) $(ls -A cache2/nncc)"; fi
[ -z "$(ls -A tmp)" ] && ok "nothing left in \$TMPDIR" || bad "left in \$TMPDIR: $(ls -A tmp)"

# --- messages start with the program's name --------------------------------
expect "a run-time error through nncc" 1 \
  "nncc train: img.nn: the trainer is cached: $exe
nncc train: nowhere/m.ckpt: cannot create a temporary file beside it: No such file or directory" \
  "$nncc" train img.nn --data data --save nowhere/m.ckpt
expect "a run-time error of the trainer" 1 \
  "img: nowhere/m.ckpt: cannot create a temporary file beside it: No such file or directory" \
  ./img train --data data --save nowhere/m.ckpt

# --- predict ---------------------------------------------------------------
if "$nncc" predict img.nn --load m.ckpt --images light.pgm > p1 2>/dev/null &&
   grep -Eq '^0: light [0-9.]+%, (mid, grey|dark) [0-9.]+%, (mid, grey|dark) [0-9.]+%$' p1
then ok "nncc predict on a PGM image: $(cat p1)"
else bad "predict light.pgm: $(cat p1)"; fi
if "$nncc" predict img.nn --load m.ckpt --images three.csv --top 2 --out p.csv > p2 2>/dev/null &&
   [ "$(wc -l < p2)" = 3 ] && grep -Eq '^0: dark [0-9.]+%, [a-z ,]+ [0-9.]+%$' p2 &&
   grep -Eq '^1: mid, grey ' p2 && grep -Eq '^2: light ' p2 &&
   python3 - p.csv <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == ["sample", "class", "probability", "dark", "mid, grey", "light"], rows[0]
assert [r[1] for r in rows[1:]] == ["dark", "mid, grey", "light"], rows
for r in rows[1:]:
    p = [float(v) for v in r[3:]]
    assert abs(sum(p) - 1) < 1e-5 and float(r[2]) == max(p), r
EOF
then ok "--top 2 and --out CSV: $(tr '\n' ' ' < p2)"
else bad "predict three.csv: $(cat p2); $(cat p.csv)"; fi
expect "a 16-bit image" 1 "img: deep.pgm: a 16-bit PGM/PPM image (maximum value above 255); only 8-bit images are read" \
  ./img predict --load m.ckpt --images deep.pgm
expect "a truncated image" 1 "img: short.pgm: truncated: 10 of the 16 pixel bytes of a 4x4 image" \
  ./img predict --load m.ckpt --images short.pgm
expect "an image of another size" 1 "img: wide.pgm: samples of 20 values (1x4x5), but model img takes 16 (images are not resized)" \
  ./img predict --load m.ckpt --images wide.pgm
[ ! -e bad.csv ] || rm bad.csv
./img predict --load m.ckpt --images wide.pgm --out bad.csv 2>/dev/null
[ ! -e bad.csv ] && ok "no --out file after a refusal" || bad "bad.csv written"
# Without a classes line, the classes are numbers.
sed '/^classes/d' img.nn > plain.nn
"$nncc" --main plain.nn -o plain.c && "$cc" -std=c99 -O2 -I"$src/runtime/include" plain.c "$nnrt" \
  "${libs[@]}" -o plain && ./plain predict --load m.ckpt --images light.pgm --top 1 > p3 2>&1
grep -Eq '^0: 2 [0-9.]+%$' p3 && ok "no classes line: $(cat p3)" || bad "no classes line: $(cat p3)"

# --- progress on a terminal, the header at once ------------------------------
script -qec "./img train --data data --epochs 1" /dev/null > tty.out 2>&1
if grep -aEq $'\repoch 1/1 \\[#+\\] 8/8  loss [0-9.]+  accuracy [0-9.]+%  [0-9]+ samples/s  ETA 0:00 ' tty.out
then ok "the progress bar: a step count and an ETA"
else bad "progress bar: $(tr '\r' '|' < tty.out)"; fi
./img train --data data --epochs 1 > notty.out 2>&1
! grep -q ETA notty.out && ok "no progress bar without a terminal" || bad "bar on a file"
if [ -n "${SLOW_TRAINER:-}" ] && [ -d /usr/share/datasets/fashion-mnist ]; then
  "$SLOW_TRAINER" train --data /usr/share/datasets/fashion-mnist --epochs 1 --no-augment \
    > slow.out 2>&1 & pid=$!
  for _ in $(seq 600); do [ -s slow.out ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  lines=$(cat slow.out)
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  if echo "$lines" | grep -q "^training fashion_mlp on" && ! echo "$lines" | grep -q "^epoch"
  then ok "the header is out before the first epoch ends"
  else bad "header not flushed at once: $lines"; fi
fi

echo "cli: $pass passed, $fail failed"
[ $fail = 0 ]
