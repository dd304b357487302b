# bench/lib.sh - shared by the benchmark scripts.  Source it after
# `set -euo pipefail`, with the script's arguments:
#   . "$(dirname "$0")/lib.sh" "$@"
# Sets src (the repository), build (BUILD_DIR, default build), nncc, nnrt
# and nnrt_train (the compiler, libnnrt.a and libnnrt_train.a there,
# checked to exist), cc (CC, else cc) and cflags (CFLAGS, else -O3
# -march=native).
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
nncc=$build/nncc nnrt=$build/libnnrt.a nnrt_train=$build/libnnrt_train.a
for f in "$nncc" "$nnrt" "$nnrt_train"; do
  [ -e "$f" ] || { echo "$(basename "$0"): $f not found; build first" >&2; exit 2; }
done
cc=${CC:-cc}
read -r -a cflags <<< "${CFLAGS:--O3 -march=native}"
# What libnnrt_train needs beyond libnnrt: zlib, and MPI when it was built
# with NNRT_MPI (its data-parallel trainer).
train_libs=(-lz)
if nm "$nnrt_train" 2>/dev/null | grep -q ' U MPI_Init'; then
  read -r -a mpi_flags <<< "$(pkg-config --libs ompi-c)"
  train_libs+=("${mpi_flags[@]}")
fi
