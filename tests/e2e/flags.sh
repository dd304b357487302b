#!/usr/bin/env bash
# The trainer's numeric flags never wrap: each is taken at the bounds of its
# range (those of the .nn language's train block) and refused, with the
# range, just outside them; `nncc train` hands them to the trainer as they
# are.  A tiny model built with --main, on a CSV data set of 8 samples.
# Usage: flags.sh NNCC SOURCE_DIR WORKDIR NNRT_TRAIN_LIB [LIBS...]   (env CC)
#   NNRT_TRAIN_LIB libnnrt_train.a; LIBS libnnrt.a and what both need
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
driver_args "$@"
rm -rf "$work" && mkdir -p "$work/data"

cat > "$work/tiny.nn" <<'EOF'
model tiny
input x : f32[4]
label y : class[2]
logits = linear(x, 2)
output logits
loss softmax_cross_entropy(logits, y)
train {
  optimizer sgd(lr=0.1)
  batch 4
  epochs 1
}
EOF
for i in 0 1 2 3 4 5 6 7; do echo "$((i % 2)),0.$i,0.5,0.$((7 - i)),1"; done > "$work/data/train.csv"
cp "$work/data/train.csv" "$work/data/test.csv"
tiny=$work/tiny
if ! "$nncc" --main "$work/tiny.nn" -o "$work/tiny.c" ||
   ! "$cc" -std=c99 -O2 -I"$src/runtime/include" "$work/tiny.c" "$nnrt" "${libs[@]}" -o "$tiny"; then
  echo "FAILED: building the tiny trainer"
  exit 1
fi

# accepted FLAG VALUE: parsed (the run then fails on the missing data, exit 1).
accepted() {
  local msg rc
  msg=$("$tiny" train --data "$work/nowhere" "$1" "$2" 2>&1); rc=$?
  if [ $rc = 1 ] && [ "$msg" = "tiny: $work/nowhere: No such file or directory; for Fashion-MNIST, install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) and pass --data /usr/share/datasets/fashion-mnist" ]
  then ok "$1 $2 accepted"
  else bad "$1 $2: exit $rc: $msg"; fi
}
# refused FLAG VALUE RANGE: exit 2 and the range (before looking for data).
refused() {
  local msg rc what="an integer"
  case $1 in --lr|--validation) what="a number" ;; esac
  msg=$("$tiny" train --data "$work/nowhere" "$1" "$2" 2>&1); rc=$?
  if [ $rc = 2 ] && [ "$msg" = "tiny: $1 needs $what in $3, got '$2'" ]; then ok "$1 $2 refused: $msg"
  else bad "$1 $2: exit $rc: $msg"; fi
}

accepted --epochs 1;          accepted --epochs 1000000
refused --epochs 0 "[1, 1000000]";   refused --epochs 1000001 "[1, 1000000]"
refused --epochs 99999999999999 "[1, 1000000]"
refused --epochs 99999999999999999999 "[1, 1000000]"   # beyond long
accepted --batch 1;           accepted --batch 1048576
refused --batch 0 "[1, 1048576]";    refused --batch 1048577 "[1, 1048576]"
refused --batch 4294967297 "[1, 1048576]"
accepted --seed 0;            accepted --seed 2147483647
refused --seed -1 "[0, 2147483647]"; refused --seed 2147483648 "[0, 2147483647]"
accepted --patience 0;        accepted --patience 1000000
refused --patience -1 "[0, 1000000]"; refused --patience 1000001 "[0, 1000000]"
accepted --limit 1;           accepted --limit 2147483647
refused --limit 0 "[1, 2147483647]"; refused --limit 2147483648 "[1, 2147483647]"
accepted --lr 0;              accepted --lr 1e30
refused --lr -1e-30 "[0, 1e+30]";    refused --lr 1.0000001e30 "[0, 1e+30]"
refused --lr nan "[0, 1e+30]";       refused --lr inf "[0, 1e+30]"
accepted --validation 0;      accepted --validation 0.999
refused --validation -0.001 "[0, 1)"; refused --validation 1 "[0, 1)"
refused --validation 0.5x "[0, 1)"

# In range, a real run takes the values as given (the header says so) ...
head=$("$tiny" train --data "$work/data" --epochs 2 --batch 1048576 --seed 2147483647 \
       --limit 2147483647 --validation 0.25 --patience 1000000 --lr 1e30 2>&1 | head -1)
if [ "$head" = "training tiny on $work/data: 6 samples, 2 held out, batch 1048576, 2 epochs" ]
then ok "in range, as given: $head"
else bad "a run at the bounds: $head"; fi

# ... and so does `nncc train`; out of range, it refuses the flag itself, with
# the trainer's words, before building anything.
export XDG_CACHE_HOME=$work/cache
head=$("$nncc" train "$work/tiny.nn" --data "$work/data" --epochs 3 --batch 3 --seed 7 \
       --limit 7 --validation 0.3 --patience 2 --lr 0.5 2>/dev/null | head -1)
if [ "$head" = "training tiny on $work/data: 5 samples, 2 held out, batch 3, 3 epochs" ]
then ok "nncc train passes the flags: $head"
else bad "nncc train: $head"; fi
msg=$(XDG_CACHE_HOME=$work/cache2 "$nncc" train "$work/tiny.nn" --data "$work/data" \
      --batch 4294967297 2>&1 | tail -1)
rc=${PIPESTATUS[0]}
if [ "$rc" = 2 ] &&
   [ "$msg" = "nncc train: --batch needs an integer in [1, 1048576], got '4294967297'" ] &&
   [ ! -e "$work/cache2" ]
then ok "nncc train refuses a bad flag before building: $msg"
else bad "nncc train --batch 4294967297: exit $rc: $msg"; fi

echo "flags: $pass passed, $fail failed"
[ $fail = 0 ]
