#!/usr/bin/env bash
# The runtime is two libraries (docs/apps.md): libnnrt, the inference core,
# with nothing of the trainer in it and no zlib; libnnrt_train, the trainer
# over it.  Checks their symbols and shared-library dependencies, that C
# generated without --main includes only nnrt.h and builds against nnrt.h
# alone and libnnrt.a without zlib, and that --main C includes nnrt_train.h
# and links with both.
# Usage: runtime_split.sh NNCC SOURCE_DIR LIB_DIR WORKDIR [LIBS...]
#   LIB_DIR holds libnnrt.a, libnnrt.so, libnnrt_train.a, libnnrt_train.so;
#   LIBS what the core needs (OpenBLAS, libm, pthreads; the sanitizers' runtime)
set -uo pipefail
nncc=$1 src=$2 lib=$3 work=$4
shift 4
libs=("$@")
rm -rf "$work" && mkdir -p "$work/core-include"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAILED: $*"; }

trainer_syms='nnrt_main|nnrt_train|nnrt_evaluate|nnrt_dataset_[a-z_]*|nnrt_augment_image|nnrt_tta_view|nnrt_plot_curves|nnrt_rotate'
core_syms='nnrt_sgemm nnrt_ckpt_save nnrt_ckpt_load nnrt_errmsg nnrt_status_str nnrt_rng_seed nnrt_init_f32 nnrt_parallel_batch nnrt_fnv1a64_parts'
for a in "$lib/libnnrt.a" "$lib/libnnrt.so"; do
  [ -f "$a" ] || { bad "no $a"; continue; }
  opt=(); [[ $a == *.so ]] && opt=(-D)
  defined=$(nm "${opt[@]}" --defined-only "$a" 2>/dev/null | awk '{print $3}')
  undefined=$(nm "${opt[@]}" -u "$a" 2>/dev/null | awk '{print $NF}')
  if grep -qxE "$trainer_syms" <<<"$defined"; then
    bad "$(basename "$a") defines trainer functions: $(grep -xE "$trainer_syms" <<<"$defined" | tr '\n' ' ')"
  else ok "$(basename "$a"): no trainer function"; fi
  if grep -qE '^(gz|inflate|deflate|crc32$)' <<<"$undefined"; then
    bad "$(basename "$a") needs zlib: $(grep -E '^(gz|inflate)' <<<"$undefined" | tr '\n' ' ')"
  else ok "$(basename "$a"): no zlib symbol"; fi
  for s in $core_syms; do
    grep -qx "$s" <<<"$defined" || bad "$(basename "$a") lacks $s"
  done
done
defined=$(nm --defined-only "$lib/libnnrt_train.a" 2>/dev/null | awk '{print $3}')
for s in nnrt_main nnrt_train nnrt_evaluate nnrt_dataset_load_idx nnrt_augment_image nnrt_plot_curves; do
  grep -qx "$s" <<<"$defined" || bad "libnnrt_train.a lacks $s"
done
if grep -qx 'nnrt_sgemm' <<<"$defined"
then bad "libnnrt_train.a carries the core too"
else ok "libnnrt_train.a: the trainer, not the core"; fi
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' '; }
core_needs=$(needed "$lib/libnnrt.so") train_needs=$(needed "$lib/libnnrt_train.so")
if [[ $core_needs != *libz* ]] && [[ $train_needs == *libnnrt.so* ]] && [[ $train_needs == *libz* ]]
then ok "libnnrt.so needs $core_needs; libnnrt_train.so needs $train_needs"
else bad "shared dependencies: libnnrt.so: $core_needs; libnnrt_train.so: $train_needs"; fi

# Generated C: inference code with nnrt.h alone, libnnrt.a alone, no -lz.
cp "$src/runtime/include/nnrt.h" "$work/core-include/"
cat >"$work/tiny.nn" <<'NN'
model tiny
input x : f32[4]
label y : class[2]
logits = x |> linear(8) |> relu |> linear(2)
output logits
loss softmax_cross_entropy(logits, y)
NN
cat >"$work/use.c" <<'C'
#include "tiny.h"
#include <stdio.h>
int main(void) {
  static const float x[4] = {1, 2, 3, 4};
  float out[2];
  tiny *m = tiny_create(1, 1);
  if (!m) return 1;
  tiny_forward(m, 1, x, out, 0);
  printf("%g %g\n", out[0], out[1]);
  tiny_destroy(m);
  return 0;
}
C
cc=${CC:-cc}
if "$nncc" "$work/tiny.nn" -o "$work/tiny.c" && ! grep -q "nnrt_train\.h" "$work/tiny.c" "$work/tiny.h" &&
   "$cc" -std=c99 -Wall -Wextra -pedantic -Werror -I"$work/core-include" -I"$work" "$work/use.c" \
     "$work/tiny.c" "$lib/libnnrt.a" "${libs[@]}" -lm -lpthread -o "$work/use" && "$work/use" >/dev/null
then ok "inference C: nnrt.h alone, libnnrt.a alone, no zlib"
else bad "inference C against the core alone"; fi
# ... and from the core's sources alone (env NNRT_CORE_SOURCES, as
# CMakeLists.txt lists them) with the portable GEMM: no BLAS at all.
read -r -a core_sources <<<"${NNRT_CORE_SOURCES:-}"
if [ ${#core_sources[@]} -gt 0 ] &&
   "$cc" -std=c99 -O2 -Wall -Wextra -pedantic -Werror -DNNRT_PORTABLE_GEMM -I"$work/core-include" \
     -I"$work" "$work/use.c" "$work/tiny.c" "${core_sources[@]}" -lm -lpthread -o "$work/use-portable" &&
   paste <("$work/use-portable" | tr ' ' '\n') <("$work/use" | tr ' ' '\n') |
     awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-5) bad = 1 } END { exit bad }'
then ok "inference C with the core's ${#core_sources[@]} sources, the portable GEMM, no BLAS: the same outputs"
else bad "inference C with the core's sources and the portable GEMM"; fi
mkdir -p "$work/main"
if "$nncc" --main "$work/tiny.nn" -o "$work/main/tiny.c" &&
   grep -q '^#include "nnrt_train.h"$' "$work/main/tiny.c" &&
   ! grep -q "nnrt_train\.h" "$work/main/tiny.h" &&
   "$cc" -std=c99 -Wall -Wextra -pedantic -Werror -I"$src/runtime/include" "$work/main/tiny.c" \
     "$lib/libnnrt_train.a" "$lib/libnnrt.a" "${libs[@]}" -lz -lm -lpthread -o "$work/main/tiny" &&
   "$work/main/tiny" --help >/dev/null 2>&1
then ok "--main C: includes nnrt_train.h, links libnnrt_train.a and libnnrt.a"
else bad "--main C"; fi
echo "runtime-split: $pass passed, $fail failed"
[ $fail = 0 ]
