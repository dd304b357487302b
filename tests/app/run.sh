#!/usr/bin/env bash
# An app developer's path end to end (docs/apps.md): nncc installed into a
# temporary prefix, the out-of-tree example examples/app built against it
# the three ways -- find_package(nncc) + nncc_add_model, pkg-config from a
# plain Makefile, a plain cc command -- and run; its trainer trained on a
# tiny data set and the app classifying with the result; nncc_add_model's C
# made again when the .nn file or nncc changes, and only then; the shared
# libraries through NNCC_USE_SHARED_LIBS; and the prefix moved elsewhere,
# with `nncc train`, pkg-config and the CMake package (the shared build)
# still working there.
# Every command docs/apps.md shows is run here as the page spells it (the
# test checks the page still has it).
# Usage: run.sh BUILD_DIR SOURCE_DIR WORKDIR LIBDIR   (LIBDIR: lib, as
#        CMAKE_INSTALL_LIBDIR says)
set -uo pipefail
build=$(realpath "$1") src=$(realpath "$2") work=$(realpath -m "$3") libdir_rel=$4
rm -rf "$work" && mkdir -p "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAILED: $*"; }
shown=()
# run 'COMMAND': runs it as docs/apps.md shows it (eval: its $VARIABLES
# expanded here); its output in $work/out.
run() {
  shown+=("$1")
  echo "+ $1"
  if eval "$1" >"$work/out" 2>&1; then return 0; fi
  cat "$work/out"
  return 1
}
# runs WHAT 'COMMAND'...: each in turn as run does; WHAT passes if all do.
runs() {
  local what=$1 c
  shift
  for c in "$@"; do run "$c" || { bad "$what"; return 1; }; done
  ok "$what"
}
finish() {
  local missing=0
  for c in "${shown[@]}"; do
    grep -qF -- "$c" "$src/docs/apps.md" || { bad "docs/apps.md does not show: $c"; missing=1; }
  done
  [ $missing = 1 ] || ok "docs/apps.md shows every command run here"
  echo "app: $pass passed, $fail failed"
  [ $fail = 0 ]
  exit
}

PREFIX=$work/prefix
LIBDIR=$PREFIX/$libdir_rel
APP=$work/app
DATA=$work/data
cp -r "$src/examples/app" "$APP"
rm -rf "$APP/build" "$APP/cc"
mkdir -p "$DATA"
# Three blobs of four features, 32 samples each, the same every run.
awk 'BEGIN { for (i = 0; i < 96; i++) { c = i % 3; s = c
             for (j = 0; j < 4; j++) s = s "," ((c == j) + ((i * 7 + j * 13) % 11 - 5) / 25)
             print s } }' >"$DATA/train.csv"
cp "$DATA/train.csv" "$DATA/test.csv"

BUILD=$build
run 'cmake --install "$BUILD" --prefix "$PREFIX"' || { bad "install"; finish; }
for f in bin/nncc include/nnrt.h include/nnrt_train.h "$libdir_rel"/libnnrt.a "$libdir_rel"/libnnrt.so \
         "$libdir_rel"/libnnrt_train.a "$libdir_rel"/libnnrt_train.so "$libdir_rel"/cmake/nncc/nnccConfig.cmake \
         "$libdir_rel"/cmake/nncc/nnccConfigVersion.cmake "$libdir_rel"/pkgconfig/nnrt.pc \
         "$libdir_rel"/pkgconfig/nnrt_train.pc; do
  [ -e "$PREFIX/$f" ] || bad "not installed: $f"
done
if grep -rlF -e "$build" -e "$src" "$PREFIX/include" "$LIBDIR"/cmake "$LIBDIR"/pkgconfig; then
  bad "installed files name the build or source tree"
else ok "installed: nncc, both libraries static and shared, headers, CMake package, pkg-config"; fi

# 1. CMake: find_package(nncc) and nncc_add_model.
runs "CMake: app built and run" 'cmake -S "$APP" -B "$APP/build" -DCMAKE_PREFIX_PATH="$PREFIX"' \
  'cmake --build "$APP/build"' '"$APP/build/app" "$APP/build"'
if run '"$APP/build/blobs_trainer" train --data "$DATA" --save "$DATA/blobs.ckpt"' &&
   grep -q '^test accuracy 100.00%' "$work/out" &&
   run '"$APP/build/app" "$APP/build" "$DATA/blobs.ckpt"'; then
  ok "CMake: the trainer (MAIN) trained blobs, the app classifies with its checkpoint"
else bad "CMake: trainer"; fi
# The untrained checkpoint does not pass for a trained one.
if "$APP/build/app" "$APP/build" "$APP/build/blobs.ckpt" >"$work/out" 2>&1; then
  bad "the app's trained-model check passes an untrained model"
else ok "the app's trained-model check fails an untrained model"; fi
if readelf -d "$APP/build/app" | grep -q 'libnnrt' || readelf -d "$APP/build/blobs_trainer" | grep -q 'libnnrt'
then bad "CMake: nncc::nnrt is not the static library by default"
else ok "CMake: the static libraries by default"; fi
# nncc_add_model makes the C again when the .nn file or nncc changes, and only then.
rebuilt() { cmake --build "$APP/build" 2>&1 | grep -c 'nncc .*blobs\.nn'; }
n0=$(rebuilt); sleep 1; touch "$APP/blobs.nn"; n1=$(rebuilt); sleep 1; touch "$PREFIX/bin/nncc"; n2=$(rebuilt)
if [ "$n0" = 0 ] && [ "$n1" = 3 ] && [ "$n2" = 3 ]
then ok "nncc_add_model: the C made again when blobs.nn or nncc changes (all three targets), not otherwise"
else bad "nncc_add_model rebuilds: unchanged $n0, .nn touched $n1, nncc touched $n2 (expected 0 3 3)"; fi
# INFERENCE_ONLY: the trainer's checkpoint loaded at run time; EMBED_WEIGHTS:
# its weights compiled in, no runtime library linked.
runs "CMake: INFERENCE_ONLY and EMBED_WEIGHTS built and run" \
  '"$APP/build/app_infer" "$DATA/blobs.ckpt"' \
  'cmake -S "$APP" -B "$APP/build" -DBLOBS_CKPT="$DATA/blobs.ckpt"' \
  'cmake --build "$APP/build"' '"$APP/build/app_embedded"'
if grep -q "inference_only\|loss_and_grad" "$APP/build/nncc-gen/app_infer/blobs.h" ||
   ! grep -q "blobs_infer(const float \*x, float \*out)" "$APP/build/nncc-gen/app_embedded/blobs.h" ||
   readelf -d "$APP/build/app_embedded" | grep -q 'libnnrt\|libopenblas\|libz'
then bad "INFERENCE_ONLY / EMBED_WEIGHTS: the headers or the libraries linked"
else ok "INFERENCE_ONLY has no training API; EMBED_WEIGHTS has blobs_infer and links no runtime"; fi
sleep 1; touch "$DATA/blobs.ckpt"; n3=$(rebuilt)
if [ "$n3" = 1 ]; then ok "nncc_add_model: EMBED_WEIGHTS made again when the checkpoint changes (only it)"
else bad "nncc_add_model: checkpoint touched, $n3 targets made again (expected 1)"; fi
# 2. pkg-config, from a plain Makefile.
runs "pkg-config: app (shared), app_static, blobs_trainer built and run" \
  'PATH="$PREFIX/bin:$PATH" PKG_CONFIG_PATH="$LIBDIR/pkgconfig" make -C "$APP"' \
  '"$APP/app" "$APP" "$DATA/blobs.ckpt"' '"$APP/app_static" "$APP"' \
  '"$APP/blobs_trainer" train --data "$DATA" --epochs 2'
if readelf -d "$APP/app" | grep -q 'NEEDED.*libnnrt\.so' && ! readelf -d "$APP/app_static" | grep -q libnnrt
then ok "pkg-config: app links libnnrt.so (rpath), app_static libnnrt.a"
else bad "pkg-config: the libraries linked"; fi
libs=$(PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config --static --libs nnrt_train)
if [[ "$libs" == *-lnnrt_train*-lnnrt*-lz* ]] && [[ "$libs" == *-lm* ]] &&
   [[ "$libs" == *-lpthread* ]] && [[ "$libs" != *-lz*-lnnrt* ]]
then ok "pkg-config --static --libs nnrt_train: $libs"
else bad "pkg-config --static --libs nnrt_train: $libs"; fi

# nncc_add_model runs nncc on the model's path from the source directory:
# its C is the Makefile's but for the heading's -o path (line 2).
if cmp -s <(sed 2d "$APP/gen/blobs.c") <(sed 2d "$APP/build/nncc-gen/app/blobs.c")
then ok "nncc_add_model's C is the same as nncc blobs.nn's, no absolute path in it"
else bad "nncc_add_model's C differs from the Makefile's: $(diff <(sed 2d "$APP/gen/blobs.c") \
  <(sed 2d "$APP/build/nncc-gen/app/blobs.c") | head -3)"; fi

# 3. Plain cc, against the archive.
mkdir -p "$APP/cc"
runs "plain cc: built against libnnrt.a and run" '"$PREFIX/bin/nncc" "$APP/blobs.nn" -o "$APP/cc/blobs.c"' \
  'cc -std=c99 -O2 -I"$PREFIX/include" -I"$APP/cc" "$APP/app.c" "$APP/cc/blobs.c" "$LIBDIR/libnnrt.a" -lopenblas -lm -lpthread -o "$APP/cc/app"' \
  '"$APP/cc/app" "$APP/cc" "$DATA/blobs.ckpt"'

# nncc train with the installed runtime, then with the prefix moved (the
# trainers cached here, not in the user's ~/.cache).
export XDG_CACHE_HOME=$work/cache
if run '"$PREFIX/bin/nncc" train "$APP/blobs.nn" --data "$DATA" --epochs 2' &&
   grep -qF "the runtime in $LIBDIR)" "$work/out"
then ok "nncc train: built against the installed runtime"
else bad "nncc train, installed: $(head -1 "$work/out")"; fi
mv "$PREFIX" "$work/moved"
PREFIX=$work/moved
LIBDIR=$PREFIX/$libdir_rel
if "$PREFIX/bin/nncc" train "$APP/blobs.nn" --data "$DATA" --epochs 2 >"$work/out" 2>&1 &&
   grep -qF "the runtime in $LIBDIR)" "$work/out"
then ok "nncc train, prefix moved: the runtime found beside nncc"
else bad "nncc train, prefix moved: $(cat "$work/out")"; fi
if [ "$(PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config --variable=includedir nnrt)" -ef "$PREFIX/include" ]
then ok "prefix moved: pkg-config points into it"
else bad "prefix moved: pkg-config's includedir"; fi
# The shared libraries, through the CMake package of the moved prefix.
if run 'cmake -S "$APP" -B "$APP/build-shared" -DCMAKE_PREFIX_PATH="$PREFIX" -DNNCC_USE_SHARED_LIBS=ON' &&
   run 'cmake --build "$APP/build-shared"' && run '"$APP/build-shared/app" "$APP/build-shared"' &&
   run '"$APP/build-shared/blobs_trainer" train --data "$DATA" --epochs 1' &&
   readelf -d "$APP/build-shared/app" | grep -q 'NEEDED.*libnnrt\.so' &&
   readelf -d "$APP/build-shared/blobs_trainer" | grep -q 'NEEDED.*libnnrt_train\.so'; then
  ok "CMake, prefix moved: NNCC_USE_SHARED_LIBS links libnnrt.so and libnnrt_train.so"
else bad "CMake: NNCC_USE_SHARED_LIBS"; fi

finish
