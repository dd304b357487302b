#!/usr/bin/env bash
# A data-parallel run that fails loses nothing and leaves no rank waiting
# (issue 16), with tests/mpi/mlp.nn on 2 ranks:
# - a rank that cannot load its data stops both: its message, named by
#   rank, and rank 0's "stopped", exit status 1, the old checkpoint intact;
# - a run that diverges says so once and exits 1, its checkpoint the last
#   good one;
# - a rank killed (kill -9) mid-run ends the job within seconds, with
#   mpirun's message and a non-zero status; the last checkpoint loads, and
#   the job resumed from it with 2 ranks ends byte for byte as a run that
#   was never interrupted.
# Usage: fault.sh NNCC SOURCE_DIR WORKDIR NNRT_TRAIN_LIB [LIBS...]   (env CC, PYTHON)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
python=${PYTHON:-python3}
rm -rf "$work" && mkdir -p "$work/small" "$work/big"
cd "$work" || exit 1
. "$src/tests/mpi/mpirun.sh"

"$nncc" "$src/tests/mpi/mlp.nn" --main -o mlp.c &&
  "$cc" -std=c99 -O2 -I"$src/runtime/include" mlp.c "$nnrt" "${libs[@]}" -o mlp ||
  { echo "FAILED: cannot build the trainer"; exit 1; }
"$python" - <<'PY'
import random
r = random.Random(5)
for d, sets in (("small", (("train", 120), ("test", 30))), ("big", (("train", 40000), ("test", 100)))):
    for name, n in sets:
        with open(f"{d}/{name}.csv", "w") as f:
            for _ in range(n):
                v = [r.uniform(-1, 1) for _ in range(8)]
                f.write(",".join([str((v[0] > 0) + (v[1] > 0.3))] + [f"{x:.3f}" for x in v]) + "\n")
PY

# A rank without its data.
timeout 60 ./mlp train --data small --save old.ckpt --quiet > /dev/null || bad "the plain run failed"
cp old.ckpt old.copy
start=$(date +%s)
run_ranks 2 60 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec ./mlp train --data missing --save old.ckpt; else exec ./mlp train --data small --save old.ckpt; fi' > nodata.out 2> nodata.err
rc=$? took=$(($(date +%s) - start))
[ $rc != 0 ] && [ $rc != 124 ] && [ $took -lt 30 ] && ok "a rank without data stops the job (status $rc, ${took}s)" ||
  bad "a rank without data: status $rc after ${took}s"
grep -q "mlp: rank 1 of 2: .*missing" nodata.err && grep -q "mlp: stopped: rank 1 of 2 failed" nodata.err &&
  [ "$(grep -c '^mlp: ' nodata.err)" = 2 ] && ok "its message, by rank, and rank 0's: $(grep '^mlp: ' nodata.err | tr '\n' ' ')" ||
  bad "messages: $(cat nodata.err | head -5 | tr '\n' ' ')"
cmp -s old.ckpt old.copy && ok "the old checkpoint is intact" || bad "the old checkpoint changed"

# Divergence: one message, status 1, the last good checkpoint kept.
run_ranks 2 60 ./mlp train --data small --load old.ckpt --save old.ckpt --epochs 6 --lr 1e30 > diverge.out 2> diverge.err
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && [ "$(grep -c 'diverged' diverge.err)" = 1 ] &&
  ok "a diverging run stops all ranks, said once: $(grep diverged diverge.err)" ||
  bad "diverging: status $rc; $(head -5 diverge.err | tr '\n' ' ')"
cmp -s old.ckpt old.copy && ok "diverging: the last good checkpoint is kept" || bad "diverging: the checkpoint changed"

# kill -9 of rank 1 mid-run, then the job resumed.
run_ranks 2 120 ./mlp train --data big --epochs 8 --save straight.ckpt --quiet > /dev/null 2>&1 ||
  bad "the uninterrupted run failed"
run_ranks 2 120 ./mlp train --data big --epochs 8 --save cut.ckpt --log cut.csv > cut.out 2> cut.err &
job=$!
for _ in $(seq 600); do  # until epoch 2's checkpoint is written
  [ -f cut.csv ] && [ "$(wc -l < cut.csv)" -ge 3 ] && break
  sleep 0.1
done
victim=""
for p in $(pgrep -f '^./mlp train --data big --epochs 8 --save cut.ckpt'); do
  tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
done
if [ -z "$victim" ]; then
  bad "no rank 1 to kill (the run ended first?)"
  wait $job
else
  kill -9 "$victim"
  start=$(date +%s)
  wait $job
  rc=$? took=$(($(date +%s) - start))
  [ $rc != 0 ] && [ $rc != 124 ] && [ $took -le 10 ] &&
    ok "rank 1 killed: the job ended in ${took}s, status $rc: $(grep -m1 -i 'signal\|killed' cut.err)" ||
    bad "rank 1 killed: status $rc after ${took}s"
  epochs=$(($(wc -l < cut.csv) - 1))
  timeout 60 ./mlp test --load cut.ckpt --data big > cut-test.out 2>&1 &&
    ok "the last checkpoint (epoch $epochs) loads: $(tail -1 cut-test.out)" ||
    bad "the last checkpoint does not load: $(tail -2 cut-test.out)"
  run_ranks 2 120 ./mlp train --data big --epochs 8 --load cut.ckpt --save cut.ckpt --quiet > resume.out 2>&1 ||
    bad "resuming failed: $(tail -3 resume.out)"
  cmp -s straight.ckpt cut.ckpt && ok "resumed on 2 ranks from epoch $epochs: the uninterrupted run's checkpoint, byte for byte" ||
    bad "the resumed run differs from the uninterrupted one"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
