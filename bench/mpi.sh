#!/usr/bin/env bash
# Benchmark (not part of ctest): data-parallel training of
# models/fashion_cnn.nn on this machine (issue 16), the trainer from
# `nncc --main` built with cc -O2, ROUNDS rounds of one epoch over LIMIT
# training samples each, interleaved:
#   - 1 process, 1 thread (NNRT_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1);
#   - 2 ranks under mpirun, 1 thread each;
#   - 1 process, 2 threads (the alternative on one machine).
# Prints the medians of the training throughput (the epoch line's samples/s,
# training steps only) and of the allreduce's time per step and its share
# of the step (the trainer's last line), to stdout and OUT; and what one
# allreduce of the gradients costs alone (bench/allreduce.c).
# Usage: bench/mpi.sh [BUILD_DIR]   (built with -DNNRT_MPI=ON)
#   env ROUNDS (3), LIMIT (12800), DATA (/usr/share/datasets/fashion-mnist),
#   MODEL (models/fashion_cnn.nn), OUT (bench/results/DATE-HOST-mpi.md),
#   FIGURE (docs/figures/mpi-scaling.svg, drawn from OUT by bench/mpi_figure.py)
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
. "$src/tests/mpi/mpirun.sh"
# (the tests copy without ptrace, for containers; a benchmark takes what
# Open MPI chooses, as a user's mpirun does)
unset OMPI_MCA_btl_vader_single_copy_mechanism
rounds=${ROUNDS:-3} limit=${LIMIT:-12800}
data=${DATA:-/usr/share/datasets/fashion-mnist}
model=${MODEL:-$src/models/fashion_cnn.nn}
out=${OUT:-$src/bench/results/$(date -u +%Y-%m-%d)-$(hostname -s)-mpi.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=$(basename "$model" .nn)
"$nncc" "$model" --main -o "$work/$name.c"
"$cc" -O2 -std=c99 -I"$src/runtime/include" "$work/$name.c" "$nnrt_train" "$nnrt" \
  "${train_libs[@]}" -lopenblas -lm -lpthread -o "$work/$name"
mpicc -O2 "$src/bench/allreduce.c" -o "$work/allreduce"
params=$(sed -n "s/^#define ${name}_NUM_PARAMS *\([0-9]*\).*/\1/p" "$work/$name.h")

# run LABEL RANKS THREADS: one epoch; appends "samples/s ms-allreduce share%"
run() {
  local label=$1 ranks=$2 threads=$3 cmd=()
  [ "$ranks" -gt 1 ] && cmd=(mpirun -np "$ranks" -x NNRT_NUM_THREADS -x OPENBLAS_NUM_THREADS)
  NNRT_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "${cmd[@]}" "$work/$name" train \
    --data "$data" --limit "$limit" --epochs 1 --validation 0 --no-augment > "$work/out" 2>&1 ||
    { cat "$work/out" >&2; exit 1; }
  local rate reduce share
  rate=$(sed -n 's/^epoch 1\/1 .*  \([0-9]*\) samples\/s$/\1/p' "$work/out")
  reduce=$(sed -n 's/.*allreduce took \([0-9.]*\) ms a step, \([0-9.]*\)% of a \([0-9.]*\) ms step/\1 \2 \3/p' "$work/out")
  echo "$rate ${reduce:-- - -}" >> "$work/$label"
}
for _ in $(seq "$rounds"); do
  run one-1 1 1
  run ranks-2 2 1
  run one-2 1 2
done
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
col() { awk -v c="$2" '{print $c}' "$work/$1" | median; }
base=$(col one-1 1)
{
  echo "# Data-parallel training, $name, $(date -u +%Y-%m-%d) on $(hostname -s) ($(nproc) cores)"
  echo
  echo "One epoch of $limit samples, batch as the model's train block, no augmentation, cc -O2;"
  echo "medians of $rounds rounds (bench/mpi.sh)."
  echo
  echo "| run | samples/s | vs 1 process, 1 thread | allreduce ms/step | share of the step | step ms |"
  echo "|---|---|---|---|---|---|"
  for l in one-1:"1 process, 1 thread" ranks-2:"2 ranks (mpirun), 1 thread each" one-2:"1 process, 2 threads"; do
    r=$(col "${l%%:*}" 1)
    printf '| %s | %s | %.2fx | %s | %s | %s |\n' "${l#*:}" "$r" "$(awk -v a="$r" -v b="$base" 'BEGIN {print a / b}')" \
      "$(col "${l%%:*}" 2)" "$(col "${l%%:*}" 3)" "$(col "${l%%:*}" 4)"
  done
  echo
  echo "The allreduce alone (bench/allreduce.c), 2 ranks, the $params floats of the"
  echo "gradients ($((params * 4)) bytes): $(mpirun -np 2 "$work/allreduce" "$params" | sed 's/.*: //')"
  echo "per call; in a step the rest of the allreduce's time is waiting for the other rank."
} | tee "$out"
python3 "$src/bench/mpi_figure.py" "$out" "${FIGURE:-$src/docs/figures/mpi-scaling.svg}"
