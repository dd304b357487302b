#!/bin/sh
# No function in compiler/ or runtime/ is longer than a reader can hold:
# 150 lines from its first line to its closing brace (ctags' line and end).
# usage: function_length.sh SRCDIR
set -eu
cd "$1"
max=150
exempt=""  # "FILE:FUNCTION ...", none today
ctags --c-kinds=f --fields=+ne -o - compiler/*.c compiler/*/*.c runtime/*.c |
  awk -F'\t' -v max=$max -v exempt="$exempt" '
    BEGIN { n = split(exempt, ex, " "); for (i = 1; i <= n; i++) skip[ex[i]] = 1 }
    {
      end = 0
      for (i = 4; i <= NF; i++) {
        if ($i ~ /^line:/) line = substr($i, 6)
        if ($i ~ /^end:/) { end = substr($i, 5); ends++ }
      }
      len = end - line + 1
      if (len > max && !(($2 ":" $1) in skip)) {
        printf "function_length: %s:%d: %s is %d lines (at most %d)\n", $2, line, $1, len, max
        bad = 1
      }
      count++
    }
    END {
      if (!ends) { print "function_length: ctags gives no end: lines (Universal Ctags does)"; exit 1 }
      if (!bad) printf "function_length: %d functions, none over %d lines\n", count, max
      exit bad
    }'
