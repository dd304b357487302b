#!/bin/sh
# The back end's dependencies run one way: emit_c.c -> kernel.c <- ops/*.c
# (emit_embed.c, --embed-weights' part of the file writer, as emit_c.c).
# The ops and the kernel builder never call the file writer, and the file
# writer plans nothing: it prints the plan and the schedule the passes left
# on the graph.  Checked on the compiler's objects (nm), so a call added
# anywhere, through any header, is caught.
# usage: layering.sh libnncc_front.a
set -eu
lib=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# "object symbol" lines: what each object defines, and what it uses
nm -A "$lib" | awk '$(NF-1) ~ /^[TDBR]$/ { split($1, p, ":"); print p[2], $NF }' > "$tmp/defined"
nm -A "$lib" | awk '$(NF-1) == "U" { split($1, p, ":"); print p[2], $NF }' > "$tmp/used"
ops="activation.c.o common.c.o conv.c.o dense.c.o io.c.o loss.c.o optim.c.o tensor.c.o"
fail=0

# calls: OBJECTS must not use any of SYMBOLS (a file of names); WHY says why
forbid() {
  objs=$1 syms=$2 why=$3
  for o in $objs; do
    awk -v o="$o" '$1 == o { print $2 }' "$tmp/used" | sort -u > "$tmp/u"
    bad=$(sort -u "$syms" | comm -12 "$tmp/u" -)
    if [ -n "$bad" ]; then
      echo "layering: $o uses $(echo $bad | tr ' ' ','): $why"
      fail=1
    fi
  done
}

awk '$1 == "emit_c.c.o" || $1 == "emit_embed.c.o" { print $2 }' "$tmp/defined" > "$tmp/emit_c"
[ -s "$tmp/emit_c" ] || { echo "layering: no emit_c.c.o in $lib"; exit 1; }
forbid "kernel.c.o $ops" "$tmp/emit_c" "only emit_c.c calls the file writer"
forbid "plan.c.o schedule.c.o" "$tmp/emit_c" "the passes do not call the emitter"

printf '%s\n' plan_memory plan_place plan_add_span schedule_entries schedules_of \
  runs_in > "$tmp/planning"
forbid "kernel.c.o $ops" "$tmp/planning" "kernels are written from the finished plan"
echo op_table >> "$tmp/planning"
forbid "emit_c.c.o emit_embed.c.o" "$tmp/planning" \
  "the file writer prints a finished plan and schedule (the kernel builder calls the ops)"

[ $fail -eq 0 ] && echo "layering: emit_c.c -> kernel.c <- ops, and no planning in the emitter"
exit $fail
