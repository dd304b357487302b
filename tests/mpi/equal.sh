#!/usr/bin/env bash
# Data-parallel training gives one process's results (issue 16):
# - N = 1, 2 and 3 ranks under `mpirun --oversubscribe`, sharing each batch
#   of B (the last one too), end with the parameters of one process trained
#   with batch B, within float rounding: tests/mpi/mlp.nn (Adam, weight
#   decay, a schedule, a validation split whose metrics are summed over the
#   ranks) and tests/mpi/conv.nn (augmentation, momentum); one rank under
#   mpirun is the plain process byte for byte;
# - batchnorm's running statistics are averaged over the ranks: after one
#   step whose two halves two ranks took, the running means are the single
#   process's (0.1 of the batch mean), where rank 0's alone would not be;
# - rank 0 alone prints, writes the checkpoint, the log and the plot.
# Usage: equal.sh NNCC SOURCE_DIR WORKDIR NNRT_TRAIN_LIB [LIBS...]   (env CC, PYTHON)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
python=${PYTHON:-python3}
rm -rf "$work" && mkdir -p "$work/csv" "$work/idx" "$work/made"
cd "$work" || exit 1
. "$src/tests/mpi/mpirun.sh"

for m in mlp conv bn; do
  "$nncc" "$src/tests/mpi/$m.nn" --main -o $m.c &&
    "$cc" -std=c99 -O2 -I"$src/runtime/include" $m.c "$nnrt" "${libs[@]}" -o $m ||
    { echo "FAILED: cannot build the $m trainer"; exit 1; }
done
"$python" - <<'PY'
import random
r = random.Random(3)
for name, n in (("train", 103), ("test", 31)):
    with open(f"csv/{name}.csv", "w") as f:
        for _ in range(n):
            v = [r.uniform(-1, 1) for _ in range(8)]
            f.write(",".join([str((v[0] > 0) + (v[1] > 0.3))] + [f"{x:.4f}" for x in v]) + "\n")
PY
for set in train:53 t10k:20; do
  "$python" "$src/tests/emit/make_idx.py" made "${set#*:}"
  mv made/images-idx3-ubyte.gz "idx/${set%:*}-images-idx3-ubyte.gz"
  mv made/labels-idx1-ubyte "idx/${set%:*}-labels-idx1-ubyte"
done

# compare MODEL A.ckpt B.ckpt TOL [NAME...]: the checkpoints' arrays agree
compare() {
  local m=$1 a=$2 b=$3
  shift 3
  "$nncc" weights export "$src/tests/mpi/$m.nn" "$a" "$a.npz" &&
    "$nncc" weights export "$src/tests/mpi/$m.nn" "$b" "$b.npz" &&
    "$python" "$src/tests/mpi/compare.py" "$a.npz" "$b.npz" "$@"
}

# mlp: 103 samples, 20% held out: 83 to train, batches of 12 and a last of 11.
for m in mlp:csv conv:idx; do
  data=${m#*:} m=${m%:*}
  timeout 60 ./$m train --data $data --save $m-alone.ckpt > $m-alone.out 2>&1 ||
    { bad "$m: the plain run failed: $(tail -3 $m-alone.out)"; continue; }
  for n in 1 2 3; do
    if ! run_ranks $n 60 ./$m train --data $data --save $m-$n.ckpt --log $m-$n.csv \
         --plot $m-$n.svg > $m-$n.out 2>&1; then
      bad "$m: $n ranks failed: $(tail -3 $m-$n.out)"
      continue
    fi
    if [ $n = 1 ]; then
      cmp -s $m-alone.ckpt $m-1.ckpt && ok "$m: one rank under mpirun is the plain run, byte for byte" ||
        bad "$m: one rank under mpirun differs from the plain run"
    elif out=$(compare $m $m-alone.ckpt $m-$n.ckpt 2e-6); then
      ok "$m: $n ranks sharing each batch give one process's parameters: $out"
    else
      bad "$m: $n ranks differ from one process: $out"
    fi
    # one line per epoch and one result, from rank 0 alone
    epochs=$(grep -c '^epoch ' $m-$n.out) results=$(grep -c '^test accuracy' $m-$n.out)
    want=$(grep -c '^epoch ' $m-alone.out)
    [ "$epochs" = "$want" ] && [ "$results" = 1 ] && [ -s $m-$n.csv ] && [ -s $m-$n.svg ] &&
      ok "$m, $n ranks: one report ($epochs epoch lines, one result), a log and a plot" ||
      bad "$m, $n ranks: $epochs epoch lines (want $want), $results results; log/plot: $(ls $m-$n.* | tr '\n' ' ')"
    # the metrics of the epochs, summed over the ranks, are the single process's
    a=$(grep '^epoch ' $m-alone.out | sed 's/  lr .*//') b=$(grep '^epoch ' $m-$n.out | sed 's/  lr .*//')
    [ "$a" = "$b" ] && ok "$m, $n ranks: the epochs' loss and accuracies are one process's" ||
      bad "$m, $n ranks: epoch lines differ: $(diff <(echo "$a") <(echo "$b") | head -4 | tr '\n' ' ')"
  done
done

# bn: one step of 40 samples, 20 per rank.
timeout 60 ./bn train --data csv --limit 40 --validation 0 --save bn-alone.ckpt --quiet > /dev/null &&
  run_ranks 2 60 ./bn train --data csv --limit 40 --validation 0 --save bn-2.ckpt --quiet > bn-2.out 2>&1 ||
  bad "bn: a run failed: $(tail -3 bn-2.out 2>/dev/null)"
if out=$(compare bn bn-alone.ckpt bn-2.ckpt 1e-6 batchnorm0.running_mean); then
  ok "bn: the running means averaged over 2 ranks are one process's: $out"
else
  bad "bn: running means not averaged over the ranks: $out"
fi
out=$(compare bn bn-alone.ckpt bn-2.ckpt 1e-6 linear0.weight) &&
  bad "bn: 2 ranks gave one process's weights, but each rank's batchnorm has only its own samples" ||
  ok "bn: the weights differ from one process's (each rank's batch statistics are its own): $out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
