"""The weights in an --embed-weights file written at -O0 are the
checkpoint's, bit for bit: at -O0 nothing folds and every tensor is read,
so the file's arrays, in order, are the checkpoint's parameters and then its
buffers.  Each literal is read as the C compiler reads it (the C library's
strtof or strtod), so a digit too few anywhere fails.

    check_values.py MODEL.c CKPT
"""
import ctypes
import re
import struct
import sys

libc = ctypes.CDLL(None)
libc.strtof.restype = ctypes.c_float
libc.strtof.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
libc.strtod.restype = ctypes.c_double
libc.strtod.argtypes = [ctypes.c_char_p, ctypes.c_void_p]


def main():
    c_text = open(sys.argv[1]).read()
    ckpt = open(sys.argv[2], "rb").read()
    elem, = struct.unpack_from("<I", ckpt, 12)
    nsections, = struct.unpack_from("<I", ckpt, 32)
    sizes = struct.unpack_from("<%dQ" % nsections, ckpt, 40)
    start = 40 + 8 * nsections
    want = ckpt[start:start + sizes[0] + sizes[1]]
    arrays = re.findall(r"static const (float|double) [PB]_\w+\[(\d+)\] = \{\n(.*?)\n\};", c_text, re.S)
    got, count = [], 0
    for ctype, n, body in arrays:
        items = [s.strip() for s in body.replace("\n", " ").split(",")]
        if len(items) != int(n):
            sys.exit("check_values.py: an array of %s values holds %d" % (n, len(items)))
        for s in items:
            if ctype == "float":
                got.append(struct.pack("<f", libc.strtof(s.rstrip("f").encode(), None)))
            else:
                got.append(struct.pack("<d", libc.strtod(s.encode(), None)))
        count += len(items)
    got = b"".join(got)
    if got != want:
        differ = sum(got[i:i + elem] != want[i:i + elem] for i in range(0, min(len(got), len(want)), elem))
        sys.exit("FAILED: %d values in %d arrays; %d differ from the checkpoint's %d"
                 % (count, len(arrays), differ, len(want) // elem))
    print("ok: the %d values of %d arrays are the checkpoint's, bit for bit" % (count, len(arrays)))


if __name__ == "__main__":
    main()
