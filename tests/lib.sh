# tests/lib.sh - shared by the test scripts that build C drivers against
# generated models (tests/grad, tests/opt, tests/e2e, tests/emit).
# Source it: . "$(dirname "$0")/../lib.sh"

# driver_args NNCC SOURCE_DIR WORKDIR NNRT_LIB [LIBS...]: sets nncc, src,
# work, nnrt, libs (default: OpenBLAS, libm, pthreads) and cc (CC, else cc).
driver_args() {
  if [ $# -lt 4 ]; then
    echo "usage: $0 NNCC SOURCE_DIR WORKDIR NNRT_LIB [LIBS...]" >&2
    exit 2
  fi
  nncc=$1 src=$2 work=$3 nnrt=$4
  shift 4
  libs=("$@")
  [ ${#libs[@]} -gt 0 ] || libs=(-lopenblas -lm -lpthread)
  cc=${CC:-cc}
}

# model_name HEADER: the model's name, as the generated header spells it.
model_name() {
  sed -n 's/^#define \([A-Za-z0-9_]*\)_INPUT_SIZE.*/\1/p' "$1"
}

# link_driver DRIVER.c MODEL.c|MODEL.o HEADER OUTPUT [CFLAGS...]: a generic
# driver (built with -DMODEL_API=NAME_model) linked with the model and libnnrt.
link_driver() {
  local driver=$1 model=$2 header=$3 output=$4
  shift 4
  "$cc" -std=c99 -O2 -g "$@" -I"$src/runtime/include" \
    -DMODEL_API="$(model_name "$header")_model" "$driver" "$model" "$nnrt" "${libs[@]}" \
    -o "$output"
}

# The checks' count: ok MESSAGE and bad MESSAGE print a line each and count
# it in pass and fail (a script ends with `[ $fail = 0 ]`).
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAILED: $*"; }
