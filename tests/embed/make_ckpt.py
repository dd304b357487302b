"""Writes a checkpoint for a generated model, as its NAME_save would, from
the model's structure string in its C (the `structure` parts), for tests
that need one without building and running the model (tests/lit, the
embedded sweep of tests/embed/run.sh).

    make_ckpt.py MODEL.c OUT.ckpt [--step N] [--set TENSOR=VALUE ...]

Values, exact in binary: the k-th value of a tensor is 0.25 * (k % 7 - 3)
(a layer's weight or a batchnorm's gamma), 0.5 * (k % 3) - 0.5 (a bias),
0.25 * (k % 3) (running_mean) or 4 (running_var); the optimizer state is
0.5.  --set gives every value of one tensor VALUE instead (nan, inf and
negative numbers too).  The layout is runtime/ckpt.c's: magic, version,
element size, FNV-1a fingerprint of the structure, step, section sizes,
the sections, CRC-32.
"""
import argparse
import re
import struct
import zlib


def structure_of(c_text):
    m = re.search(r"static const char \*const structure\[\] = \{\n(.*?)    NULL\};", c_text, re.S)
    if not m:
        raise SystemExit("make_ckpt.py: no structure[] in the C file")
    return "".join(re.findall(r'^    "(.*)",$', m.group(1), re.M))


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def value(name, k):
    role = name.rsplit(".", 1)[-1]
    if role == "running_var":
        return 4.0
    if role == "running_mean":
        return 0.25 * (k % 3)
    if role == "bias":
        return 0.5 * (k % 3) - 0.5
    return 0.25 * (k % 7 - 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_c")
    ap.add_argument("out")
    ap.add_argument("--step", type=int, default=7)
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args()
    text = structure_of(open(args.model_c).read())
    parts = text.split(";")
    dtype = parts[0].split()[1]
    fmt, elem = ("<d", 8) if dtype == "f64" else ("<f", 4)
    overrides = dict(s.split("=", 1) for s in args.set)
    state = 0
    sections = [b"", b""]
    for part in parts[1:]:
        words = part.split()
        if words[0] == "optimizer":
            state = int(words[2][1:])
            continue
        buffer = words[0] == "buffer"
        name, dims = words[1:] if buffer else words
        numel = 1
        for d in dims.split("x"):
            numel *= int(d)
        vals = [float(overrides[name]) if name in overrides else value(name, k) for k in range(numel)]
        sections[buffer] += b"".join(struct.pack(fmt, v) for v in vals)
    sections.append(struct.pack(fmt, 0.5) * (state * len(sections[0]) // elem))
    head = b"NNRTCKPT" + struct.pack("<IIQQII", 1, elem, fnv1a64(text), args.step, 3, 0)
    head += b"".join(struct.pack("<Q", len(s)) for s in sections)
    body = head + b"".join(sections)
    with open(args.out, "wb") as f:
        f.write(body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF))


if __name__ == "__main__":
    main()
