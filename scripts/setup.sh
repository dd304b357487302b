#!/usr/bin/env bash
# Install what nncc needs from Debian (only what is missing), then build it.
# Usage: scripts/setup.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

packages=(cmake make gcc clang libclang-rt-14-dev llvm-14-tools python3 python3-torch python3-numpy zlib1g-dev
          libopenblas-dev dataset-fashion-mnist universal-ctags pkgconf binutils graphviz
          libopenmpi-dev openmpi-bin protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3-onnx
          libonnx-testdata)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# NNRT_MPI: the trainer runs under mpirun (docs/distributed.md)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNRT_MPI=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
