#!/usr/bin/env bash
# A regression model trains with `nncc train` from CSV (issue 15, item 1):
# an MLP with two real-valued labels (`label t : f32[2]`, mse) on a
# synthetic data set, y1 = sum of sin(2 x_i) and y2 = x0 x1 + cos(x2 + x3),
# plus noise, written by the script (train.csv with a header, test.csv
# without).  The trainer reports MSE and MAE, not accuracy: on every epoch's
# line, in the log's columns, in the plot's second panel and in the final
# line.  Its checkpoint, loaded by a small C driver through the generated
# API (regress_load, regress_forward), predicts the test set with a test
# MSE far below the labels' variance and equal to what the trainer printed;
# `regress predict` prints the same values, `regress test` the same errors.
# Usage: regression.sh NNCC SOURCE_DIR WORKDIR NNRT_LIB [LIBS...]   (env CC)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
rm -rf "$work" && mkdir -p "$work/data"

python3 - "$work/data" <<'PY'
import math, random, sys
rng = random.Random(15)
def sample():
    x = [rng.uniform(-1, 1) for _ in range(6)]
    y1 = sum(math.sin(2 * v) for v in x) + rng.gauss(0, 0.1)
    y2 = x[0] * x[1] + math.cos(x[2] + x[3]) + rng.gauss(0, 0.1)
    return [y1, y2] + x
for name, n, header in (("train", 3000, True), ("test", 500, False)):
    with open("%s/%s.csv" % (sys.argv[1], name), "w") as f:
        if header:
            f.write("y1,y2,x0,x1,x2,x3,x4,x5\n")
        for _ in range(n):
            f.write(",".join("%.6f" % v for v in sample()) + "\n")
PY
cut -d, -f3- "$work/data/test.csv" > "$work/inputs.csv"
# The labels' variance (the MSE of predicting their mean), per value.
var=$(python3 -c 'import sys
rows = [list(map(float, l.split(",")[:2])) for l in open(sys.argv[1])]
v = 0
for c in range(2):
    m = sum(r[c] for r in rows) / len(rows)
    v += sum((r[c] - m) ** 2 for r in rows) / len(rows)
print("%.6f" % (v / 2))' "$work/data/test.csv")

cat > "$work/regress.nn" <<'NN'
model regress
input x : f32[6]
label t : f32[2]
h = x |> linear(64) |> tanh
h = h |> linear(64) |> tanh
y = linear(h, 2)
output y
loss mse(y, t)
train {
  optimizer adam(lr=0.003)
  schedule cosine
  batch 32
  epochs 40
  validation 0.1
  seed 1
}
NN

export XDG_CACHE_HOME=$work/cache  # nncc train keeps its trainer there
out=$("$nncc" train "$work/regress.nn" --data "$work/data" --save "$work/regress.ckpt" \
      --log "$work/log.csv" --plot "$work/curves.svg" 2>"$work/stderr"); rc=$?
trainer=$(find "$XDG_CACHE_HOME/nncc" -type f -name regress -perm -u+x | head -1)
echo "$out" | sed -n '1,3p;$p'
last=$(echo "$out" | tail -1)
if [ $rc = 0 ] &&
   echo "$out" | sed -n 2p | grep -qx "inputs kept as they are (auto: not 8-bit pixels; --scale 255 divides them)" &&
   echo "$out" | head -1 | grep -q "regress on $work/data: 2700 samples, 300 held out"
then ok "nncc train runs a regression model: $(echo "$out" | head -1)"
else bad "nncc train: exit $rc: $out $(cat "$work/stderr")"; fi
epochs=$(echo "$out" | grep -c "^epoch .* loss .* mse .* mae .* val_mse .* val_mae .* test_mse .* test_mae ")
if [ "$epochs" = 40 ] && ! echo "$out" | grep -q "acc"
then ok "every epoch's line has mse and mae (40 lines), none an accuracy"
else bad "epoch lines ($epochs): $out"; fi
if [ "$(head -1 "$work/log.csv")" = "epoch,lr,loss,mse,mae,val_loss,val_mse,val_mae,test_loss,test_mse,test_mae,seconds,samples_per_second" ] &&
   [ "$(wc -l < "$work/log.csv")" = 41 ] && ! grep -qi nan "$work/log.csv"
then ok "the log has the errors' columns, a line per epoch, no nan"
else bad "log: $(head -3 "$work/log.csv")"; fi
if grep -q ">MAE</text>" "$work/curves.svg" && ! grep -q "accuracy" "$work/curves.svg" &&
   [ "$(grep -c "<polyline" "$work/curves.svg")" = 4 ]
then ok "the plot's second panel is the MAE, train and validation curves in both"
else bad "plot: $(grep -o '<text[^>]*>[^<]*</text>' "$work/curves.svg" | head)"; fi

# The final line: test mse X  mae Y (500 samples).
read -r t_mse t_mae <<< "$(echo "$last" | sed -n 's/^test mse \([0-9.e-]*\)  mae \([0-9.e-]*\) (500 samples)$/\1 \2/p')"
if [ -n "${t_mse:-}" ]; then ok "final line: $last"; else bad "final line: $last"; fi

# The checkpoint through the generated API, in a C driver of its own.
cat > "$work/driver.c" <<'C'
#include <math.h>
#include <stdio.h>
#include "regress.h"
/* usage: driver CKPT TEST.csv: prints the test MSE and MAE, then sample 0's outputs */
int main(int argc, char **argv) {
  regress *m = regress_create(64, 0);
  if (argc != 3 || !m || regress_load(m, argv[1]) != 0) {
    fprintf(stderr, "driver: cannot load %s\n", argc > 1 ? argv[1] : "");
    return 1;
  }
  FILE *f = fopen(argv[2], "r");
  float t[2], x[regress_INPUT_SIZE], y[regress_OUTPUT_SIZE], first[2] = {0, 0};
  double se = 0, ae = 0;
  long n = 0;
  while (f && fscanf(f, "%f,%f,%f,%f,%f,%f,%f,%f", &t[0], &t[1], &x[0], &x[1], &x[2], &x[3],
                     &x[4], &x[5]) == 8) {
    regress_forward(m, 1, x, y, 0);
    for (int c = 0; c < 2; c++) {
      se += (y[c] - t[c]) * (y[c] - t[c]);
      ae += fabs(y[c] - t[c]);
      if (n == 0)
        first[c] = y[c];
    }
    n++;
  }
  printf("%ld %.8g %.8g %.6g %.6g\n", n, se / n / 2, ae / n / 2, first[0], first[1]);
  regress_destroy(m);
  return 0;
}
C
if ! "$nncc" "$work/regress.nn" -o "$work/regress.c" ||
   ! "$cc" -std=c99 -O2 -I"$src/runtime/include" -I"$work" "$work/driver.c" "$work/regress.c" \
        "$nnrt" "${libs[@]}" -o "$work/driver"; then
  bad "building the driver"
else
  read -r n d_mse d_mae y0 y1 <<< "$("$work/driver" "$work/regress.ckpt" "$work/data/test.csv")"
  echo "label variance $var; trainer: test mse $t_mse mae $t_mae; driver: mse $d_mse mae $d_mae"
  # 40 epochs of this recipe reach a test MSE of about 0.01-0.02 (the noise
  # alone is 0.01); the labels' variance is about 1.9.
  if python3 -c 'import sys
n, d, t, dm, tm, v = int(sys.argv[1]), *map(float, sys.argv[2:])
sys.exit(not (n == 500 and d < 0.05 and d < 0.05 * v and abs(d - t) <= 2e-5 * t + 1e-7 and
              abs(dm - tm) <= 2e-5 * tm + 1e-7))' "$n" "$d_mse" "${t_mse:-nan}" "$d_mae" \
              "${t_mae:-nan}" "$var"
  then ok "the checkpoint through regress_load/regress_forward: test MSE $d_mse (< 0.05, variance $var), as the trainer printed"
  else bad "driver: $n samples, mse $d_mse mae $d_mae; trainer $t_mse $t_mae; variance $var"; fi
  # predict prints the values: sample 0's, as the driver computed them (to
  # float rounding: predict's batches are not the driver's, and printed to
  # 6 digits a last digit may differ).
  pred=$("$trainer" predict --load "$work/regress.ckpt" --images "$work/inputs.csv" \
         2>"$work/predict.err")
  if [ "$(echo "$pred" | wc -l)" = 500 ] &&
     python3 -c 'import sys
got = sys.argv[1].split()
want = [float(v) for v in sys.argv[2:]]
sys.exit(not (len(got) == 3 and got[0] == "0" and
              all(abs(float(g) - w) <= 2e-6 * abs(w) + 1e-6 for g, w in zip(got[1:], want))))' \
       "$(echo "$pred" | head -1)" "$y0" "$y1" &&
     grep -q "inputs kept as they are (auto: not 8-bit pixels" "$work/predict.err"
  then ok "predict prints the values: $(echo "$pred" | head -1)"
  else bad "predict: $(echo "$pred" | head -2) (driver: $y0 $y1) $(cat "$work/predict.err")"; fi
fi

# NAME test reports the same errors; --quiet prints only them.
out=$("$trainer" test --load "$work/regress.ckpt" --data "$work/data" 2>&1)
if [ "$(echo "$out" | tail -1)" = "$last" ]; then ok "regress test: $last"
else bad "regress test: $out (want $last)"; fi
out=$("$trainer" train --data "$work/data" --epochs 1 --quiet 2>&1)
if echo "$out" | grep -Eqx "test mse [0-9.e-]+  mae [0-9.e-]+"; then ok "--quiet: $out"
else bad "--quiet: $out"; fi

echo "regression: $pass passed, $fail failed"
[ $fail = 0 ]
