"""Write small IDX files (MNIST's format) for tests: images [n, h, w] of
unsigned bytes and labels [n], gzipped when the name ends in .gz.  With
--broken KIND, write a defective file instead (bad-magic, truncated,
label-range, wrong-size).

usage: make_idx.py DIR N [--broken KIND]"""
import gzip
import random
import struct
import sys


def write(path, data):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    broken = sys.argv[4] if len(sys.argv) > 4 else None
    rng = random.Random(7)
    h = w = 14 if broken == "wrong-size" else 28
    pixels = bytes(rng.randrange(256) for _ in range(n * h * w))
    labels = bytes(rng.randrange(10) for _ in range(n))
    magic = 0x00000803 if broken != "bad-magic" else 0x08030000
    images = struct.pack(">IIII", magic, n, h, w) + pixels
    if broken == "truncated":
        images = images[: len(images) - 100]
    if broken == "label-range":
        labels = labels[:-1] + bytes([12])
    write(f"{out}/images-idx3-ubyte.gz", images)
    write(f"{out}/labels-idx1-ubyte", struct.pack(">II", 0x00000801, n) + labels)


main()
