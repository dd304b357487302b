#!/usr/bin/env bash
# The embedded (--embed-weights) and inference-only builds against the full
# build, with trained weights.  For MODEL (fashion_mlp and fashion_cnn have
# batchnorm after linear and after conv2d): a short training run on Fashion-MNIST
# (train.c; its batchnorm running statistics far from 0 and 1), its
# checkpoint, and the full build's predictions on the first 300 test
# images from a model that loads it.  Then:
#   - the embedded C compiles warning-free under gcc and clang (-std=c99
#     -Wall -Wextra -pedantic -Werror), its lines under 120 columns;
#   - at -O0 (nothing folded) its arrays hold the checkpoint's values bit
#     for bit (check_values.py: no digit lost), for fashion_mlp;
#   - its object (gcc -O2) references no allocator, no stdio, no BLAS and
#     nothing of libnnrt (nm), and its static size is reported (size);
#   - linked with -lm alone, it predicts the same classes on all 300 images
#     and every output within 1e-4 * (1 + |full|) of the full build's
#     (predict.c, which also runs NAME_infer_in in an arena of exactly
#     NAME_ARENA_BYTES between guard zones);
#   - the --inference-only build loads the full build's checkpoint and
#     gives its outputs bit for bit, references none of the training
#     symbols, and compiles warning-free too; built against the runtime's
#     inference files alone with the portable GEMM and no threads (no
#     OpenBLAS, zlib or pthreads: -lm), the same predictions too.
# With "sweep" for MODEL: every other model of models/ and tests/emit/models
# embedded with a checkpoint make_ckpt.py writes: warning-free under gcc and
# clang, no allocator, stdio, BLAS or libnnrt symbol.
# Usage: run.sh MODEL|sweep NNCC SOURCE_DIR WORKDIR NNRT_TRAIN_LIB NNRT_LIB [LIBS...]
#   (the drivers train with libnnrt_train: both libraries)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
what=$1
shift
driver_args "$@"
data=${NNCC_DATA:-/usr/share/datasets/fashion-mnist}
rm -rf "$work" && mkdir -p "$work"
strict="-std=c99 -Wall -Wextra -pedantic -Werror"
# what an embedded object must not reference: the allocator, stdio and
# file I/O, BLAS, libnnrt (in nm's "U name" lines, or defined)
forbidden='^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|f?open|f?printf|puts|fputs|putchar|fputc|fwrite|fread|fclose|fflush|read|write|close|exit|abort|cblas_.*|.*gemm_?|.*gemv_?|openblas.*|nnrt_.*)$'
# the runtime's files inference code needs (docs/embedded.md)
core="ckpt gemm init pool replace rng status"

if [ "$what" != sweep ] && [ ! -e "$data/train-images-idx3-ubyte.gz" ]; then  # (Debian's dataset-fashion-mnist)
  data=$work/data
  mkdir -p "$data"
  for set in train:2000 t10k:300; do
    python3 "$src/tests/emit/make_idx.py" "$data" "${set#*:}"
    mv "$data/images-idx3-ubyte.gz" "$data/${set%:*}-images-idx3-ubyte.gz"
    gzip -c "$data/labels-idx1-ubyte" > "$data/${set%:*}-labels-idx1-ubyte.gz"
  done
  echo "note: no Fashion-MNIST in ${NNCC_DATA:-/usr/share/datasets/fashion-mnist}; random images"
fi

# nm_clean OBJECT WHAT: the object references none of the forbidden names.
nm_clean() {
  local refs
  refs=$(nm "$1" | awk '$(NF-1) ~ /^[UTDBRC]$/ { print $NF }' | grep -E "$forbidden" || true)
  if [ -n "$refs" ]; then bad "$2 references $(echo $refs | tr ' ' ',')"
  else ok "$2: no allocator, stdio, BLAS or libnnrt symbol (undefined: $(nm -u "$1" | awk '{ printf "%s ", $NF } END { if (!NR) printf "none" }'))"; fi
}

# compare REF OTHER WHAT [--values]: the same argmax (the first column) on
# every line, each output within 1e-4 * (1 + |reference|); prints the
# largest such difference.  --values: all columns are outputs.
compare() {
  awk -v what="$3" -v first=$([ "${4:-}" = --values ] && echo 1 || echo 2) '
    NR == FNR { n = NF; for (i = 1; i <= NF; i++) ref[FNR, i] = $i; lines = FNR; next }
    { if (first == 2 && $1 != ref[FNR, 1]) moved++
      if (NF != n) moved++
      for (i = first; i <= NF; i++) { if (($i ~ /nan|inf/) != (ref[FNR, i] ~ /nan|inf/)) moved++
        d = $i - ref[FNR, i]; d = d < 0 ? -d : d
        r = ref[FNR, i]; r = r < 0 ? -r : r; if (d / (1 + r) > worst) worst = d / (1 + r) } }
    END { if (FNR != lines || moved || worst > 1e-4) { printf "FAILED: %s: %d of %d predictions differ, largest difference %g * (1 + |full|)\n", what, moved, lines, worst; exit 1 }
          printf "ok: %s: the same %d predictions, outputs within %.2g * (1 + |full|) (limit 1e-4)\n", what, lines, worst }' "$1" "$2"
}

for stem in $([ "$what" = sweep ] || echo "$what"); do
  dir=$work/$stem
  mkdir -p "$dir/full" "$dir/embedded" "$dir/inference"
  "$nncc" "$src/models/$stem.nn" -o "$dir/full/$stem.c"
  link_driver "$src/tests/embed/train.c" "$dir/full/$stem.c" "$dir/full/$stem.h" "$dir/train"
  "$dir/train" "$data" 20 "$dir/$stem.ckpt" "$dir/inputs.f32" 300 > "$dir/full.txt"

  # embedded
  "$nncc" --embed-weights "$dir/$stem.ckpt" "$src/models/$stem.nn" -o "$dir/embedded/$stem.c"
  gcc $strict -O2 -c "$dir/embedded/$stem.c" -o "$dir/embedded/$stem.o"
  clang $strict -fsyntax-only "$dir/embedded/$stem.c"
  ok "$stem embedded: warning-free under gcc and clang"
  long=$(awk 'length > 119 { n++ } END { print n + 0 }' "$dir/embedded/$stem.c" "$dir/embedded/$stem.h")
  [ "$long" = 0 ] && ok "$stem embedded: no line over 119 columns" || bad "$stem embedded: $long lines over 119 columns"
  nm_clean "$dir/embedded/$stem.o" "$stem embedded (gcc -O2)"
  echo "size of $stem's embedded object (gcc -O2; text holds the weights, bss the arena):"
  size "$dir/embedded/$stem.o" | sed 's/^/  /'
  grep "^#define.*_ARENA_BYTES" "$dir/embedded/$stem.h" | sed 's/^/  /'
  gcc -std=c99 -O2 -I"$dir/embedded" -DEMBEDDED -DMODEL="$stem" -DHEADER="\"$stem.h\"" \
    "$src/tests/embed/predict.c" "$dir/embedded/$stem.o" -lm -o "$dir/predict-embedded"
  if "$dir/predict-embedded" "$dir/inputs.f32" 300 > "$dir/embedded.txt"; then
    compare "$dir/full.txt" "$dir/embedded.txt" "$stem embedded vs full" && pass=$((pass + 1)) || fail=$((fail + 1))
  else
    bad "$stem embedded: predict failed"
  fi

  # no digit lost: at -O0 (nothing folded) the arrays are the checkpoint
  if [ "$stem" = fashion_mlp ]; then
    "$nncc" -O0 --embed-weights "$dir/$stem.ckpt" "$src/models/$stem.nn" -o "$dir/embedded/O0.c"
    msg=$(python3 "$src/tests/embed/check_values.py" "$dir/embedded/O0.c" "$dir/$stem.ckpt" 2>&1) &&
      ok "$stem embedded at -O0: ${msg#ok: }" || bad "$stem embedded at -O0: $msg"
  fi

  # inference-only
  "$nncc" --inference-only "$src/models/$stem.nn" -o "$dir/inference/$stem.c"
  for c in gcc clang; do
    $c $strict -O2 -I"$src/runtime/include" -c "$dir/inference/$stem.c" -o "$dir/inference/$stem.$c.o"
  done
  trains=$(nm "$dir/inference/$stem.gcc.o" | grep -E ' (U|T) (nnrt_ckpt_save|nnrt_rng_uniform|.*_(train_step|loss_and_grad|grads|save|model|set_learning_rate))$' || true)
  [ -z "$trains" ] && ok "$stem inference-only: warning-free, no training symbol" \
    || bad "$stem inference-only references $(echo $trains | tr '\n' ' ')"
  "$cc" -std=c99 -O2 -I"$src/runtime/include" -I"$dir/inference" -DMODEL="$stem" -DHEADER="\"$stem.h\"" \
    "$src/tests/embed/predict.c" "$dir/inference/$stem.gcc.o" "$nnrt" "${libs[@]}" -o "$dir/predict-inference"
  if "$dir/predict-inference" "$dir/inputs.f32" 300 "$dir/$stem.ckpt" > "$dir/inference.txt" &&
     cmp -s "$dir/full.txt" "$dir/inference.txt"; then
    ok "$stem inference-only: loads the full build's checkpoint, the same 300 outputs bit for bit"
  else
    bad "$stem inference-only: outputs differ from the full build's (or it failed)"
  fi
  # ... and for a target without OpenBLAS, zlib or threads (docs/embedded.md):
  # the runtime's inference files with the portable GEMM, -lm alone
  objs=()
  for f in $core; do
    gcc $strict -O2 -DNNRT_PORTABLE_GEMM -DNNRT_NO_THREADS -I"$src/runtime/include" \
      -c "$src/runtime/$f.c" -o "$dir/inference/nnrt_$f.o"
    objs+=("$dir/inference/nnrt_$f.o")
  done
  gcc -std=c99 -O2 -I"$src/runtime/include" -I"$dir/inference" -DMODEL="$stem" -DHEADER="\"$stem.h\"" \
    "$src/tests/embed/predict.c" "$dir/inference/$stem.gcc.o" "${objs[@]}" -lm -o "$dir/predict-portable"
  if "$dir/predict-portable" "$dir/inputs.f32" 300 "$dir/$stem.ckpt" > "$dir/portable.txt"; then
    compare "$dir/full.txt" "$dir/portable.txt" "$stem inference-only on the portable runtime ($core) vs full" &&
      pass=$((pass + 1)) || fail=$((fail + 1))
  else
    bad "$stem inference-only on the portable runtime: predict failed"
  fi
done

# Every other model embedded, with make_ckpt.py's weights: it compiles
# warning-free and references nothing it must not.
for model in $([ "$what" = sweep ] && echo "$src"/models/*.nn "$src"/tests/emit/models/*.nn); do
  stem=$(basename "$model" .nn)
  case $stem in fashion_mlp | fashion_cnn) continue ;; esac  # (with trained weights above)
  dir=$work/sweep/$stem
  mkdir -p "$dir/inference"
  "$nncc" "$model" -o "$dir/full.c" 2>/dev/null
  python3 "$src/tests/embed/make_ckpt.py" "$dir/full.c" "$dir/w.ckpt"
  if ! "$nncc" --embed-weights "$dir/w.ckpt" "$model" -o "$dir/$stem.c" 2>"$dir/log" ||
     ! gcc $strict -c "$dir/$stem.c" -o "$dir/$stem.o" 2>>"$dir/log" ||
     ! clang $strict -fsyntax-only "$dir/$stem.c" 2>>"$dir/log"; then
    bad "$stem embedded: $(cat "$dir/log")"
    continue
  fi
  refs=$(nm "$dir/$stem.o" | awk '$(NF-1) ~ /^[UTDBRC]$/ { print $NF }' | grep -E "$forbidden" || true)
  [ -z "$refs" ] && ok "$stem embedded: warning-free, nothing it must not reference" ||
    bad "$stem embedded references $refs"
  # its outputs on 5 random samples: the inference-only build's, loading
  # the same checkpoint, one sample at a time
  name=$(model_name "$dir/$stem.h")
  "$nncc" --inference-only "$model" -o "$dir/inference/$stem.c" 2>/dev/null
  python3 -c "import random, struct, sys; r = random.Random(3); n = int(sys.argv[2]) * 5
open(sys.argv[1], 'wb').write(struct.pack('<%df' % n, *[r.random() for _ in range(n)]))" \
    "$dir/inputs.f32" "$(sed -n "s/^#define ${name}_INPUT_SIZE *\([0-9]*\).*/\1/p" "$dir/$stem.h")"
  gcc -std=c99 -O2 -I"$dir" -DEMBEDDED -DMODEL="$name" -DHEADER="\"$stem.h\"" \
    "$src/tests/embed/predict.c" "$dir/$stem.o" -lm -o "$dir/predict-embedded"
  "$cc" -std=c99 -O2 -I"$src/runtime/include" -I"$dir/inference" -DBY_SAMPLE -DMODEL="$name" \
    -DHEADER="\"$stem.h\"" "$src/tests/embed/predict.c" "$dir/inference/$stem.c" "$nnrt" "${libs[@]}" \
    -o "$dir/predict-inference"
  "$dir/predict-embedded" "$dir/inputs.f32" 5 | cut -d' ' -f2- > "$dir/embedded.txt"
  "$dir/predict-inference" "$dir/inputs.f32" 5 "$dir/w.ckpt" | cut -d' ' -f2- > "$dir/inference.txt"
  compare "$dir/inference.txt" "$dir/embedded.txt" "$stem embedded vs inference-only, 5 random samples" \
    --values && pass=$((pass + 1)) || fail=$((fail + 1))
done

echo "embed: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
