#!/usr/bin/env python3
"""compare.py A B [TOL] - compares two dump.c files record by record:
|a - b| <= TOL * max(1, max|b|) per record (TOL 1e-5).  Prints failures,
the worst error, and "N passed, N failed"; exits 1 on any failure."""
import math
import struct
import sys


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    pos, out = 0, []
    while pos < len(data):
        name = data[pos:pos + 64].split(b"\0", 1)[0].decode()
        (n,) = struct.unpack_from("<q", data, pos + 64)
        vals = struct.unpack_from("<%dd" % n, data, pos + 72)
        out.append((name, vals))
        pos += 72 + 8 * n
    return out


def main():
    a, b = records(sys.argv[1]), records(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
    passed = failed = 0
    worst, worst_name = 0.0, ""
    if [r[0] for r in a] != [r[0] for r in b] or any(len(x[1]) != len(y[1]) for x, y in zip(a, b)):
        print("  the dumps differ in their records")
        failed += 1
    for (name, va), (_, vb) in zip(a, b):
        if len(va) != len(vb):
            continue
        scale = max([1.0] + [abs(v) for v in vb])
        err = 0.0
        for x, y in zip(va, vb):
            e = abs(x - y) / scale if math.isfinite(x) and math.isfinite(y) else (
                0.0 if x == y or (math.isnan(x) and math.isnan(y)) else math.inf)
            err = max(err, e)
        if err > worst or not worst_name:
            worst, worst_name = err, name
        if err <= tol:
            passed += 1
        else:
            failed += 1
            print("  FAIL %s: relative error %.3g" % (name, err))
    print("  worst %.3g (%s); %d passed, %d failed" % (worst, worst_name, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
