#!/usr/bin/env bash
# A killed compile leaves no temporary file: nncc makes the C and the header
# in memory and holds SIGINT, SIGTERM and SIGHUP off only while it writes
# them.  A model of 3000 layers keeps nncc busy for a while; each signal is
# sent when a temporary file shows (as one would for the whole of code
# generation if the files were opened first) or after a delay, whichever
# comes first; the last case waits for a temporary file or the end.
# Whenever the kill lands, no m.c.tmp.* or m.h.tmp.* may remain, and m.c
# and m.h are either absent or whole.
# Usage: kill_compile.sh NNCC WORKDIR
set -uo pipefail
set -m  # background jobs of their own, so that SIGINT reaches them
nncc=$1 work=$2
rm -rf "$work" && mkdir -p "$work/ref"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAILED: $*"; }

python3 - "$work/m.nn" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("model m\ninput x : f32[8]\nh0 = x |> linear(8)\n")
    for i in range(1, 3000):
        f.write(f"h{i} = h{i-1} |> linear(8) |> relu\n")
    f.write("output h2999\n")
PY
# Relative names, so that every compile's C records the same command line.
(cd "$work/ref" && "$nncc" ../m.nn -o m.c) || { echo "FAILED: the reference compile"; exit 1; }

for case in TERM:0.05 INT:0.4 HUP:1.0 TERM:60; do
  sig=${case%%:*} delay=${case#*:}
  dir="$work/$sig-$delay"
  mkdir -p "$dir"
  (cd "$dir" && exec "$nncc" ../m.nn -o m.c 2> stderr) &
  pid=$!
  ms=$(awk "BEGIN { print int($delay * 1000) }")
  start=$(date +%s%N) seen=
  while kill -0 $pid 2> /dev/null; do
    if compgen -G "$dir/m.[ch].tmp.*" > /dev/null; then seen=" (a temporary file showed)"; break; fi
    [ $(( ($(date +%s%N) - start) / 1000000 )) -ge "$ms" ] && break
    sleep 0.01
  done
  kill -$sig $pid 2> /dev/null
  wait $pid
  rc=$?
  left=$(cd "$dir" && ls -A | grep -v '^stderr$' | tr '\n' ' ')
  whole=1
  for f in m.c m.h; do
    [ -e "$dir/$f" ] && ! cmp -s "$dir/$f" "$work/ref/$f" && whole=0
  done
  if compgen -G "$dir/m.[ch].tmp.*" > /dev/null; then
    bad "SIG$sig after ${delay}s$seen, exit $rc: left $left"
  elif [ $whole = 0 ]; then
    bad "SIG$sig after ${delay}s$seen, exit $rc: a partial output: $left"
  else
    ok "SIG$sig after ${delay}s$seen, exit $rc: ${left:-nothing} left"
  fi
done
echo "kill-compile: $pass passed, $fail failed"
[ $fail = 0 ]
