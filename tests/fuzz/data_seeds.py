"""Write the seed corpus of fuzz_data (inputs MODE FEATURES BODY, as
fuzz_data.c describes): IDX files from tests/emit/make_idx.py, good and
broken, plain and gzipped, with and without labels, and small CSVs of the
shapes the loader accepts (header, pandas index header, BOM, CRLF, blank
lines, no final newline, 8-bit pixels) and some it refuses.

usage: data_seeds.py DIR"""
import gzip
import os
import struct
import subprocess
import sys
import tempfile

SEPARATOR = b"\nNNRT-LABELS\n"
MAKE_IDX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emit", "make_idx.py")


def idx_files(tmp, broken=None):
    """(images, labels) bytes, images plain, as make_idx.py writes them."""
    args = [sys.executable, MAKE_IDX, tmp, "3"] + (["--broken", broken] if broken else [])
    subprocess.run(args, check=True)
    with gzip.open(os.path.join(tmp, "images-idx3-ubyte.gz"), "rb") as f:
        images = f.read()
    with open(os.path.join(tmp, "labels-idx1-ubyte"), "rb") as f:
        labels = f.read()
    return images, labels


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for broken in [None, "bad-magic", "truncated", "label-range", "wrong-size"]:
            images, labels = idx_files(tmp, broken)
            name = broken or "good"
            seeds[f"idx-{name}-images"] = bytes([0, 0]) + images
            seeds[f"idx-{name}-images-gz"] = bytes([0, 0]) + gzip.compress(images, mtime=0)
            seeds[f"idx-{name}"] = bytes([5, 0]) + images + SEPARATOR + labels
            seeds[f"idx-{name}-gz"] = (bytes([1, 0]) + gzip.compress(images, mtime=0) + SEPARATOR
                                       + gzip.compress(labels, mtime=0))
    # A small four-dimensional file [2, 3, 2, 2] and its labels.
    four = struct.pack(">IIIII", 0x00000804, 2, 3, 2, 2) + bytes(range(0, 240, 10))
    seeds["idx-4d"] = bytes([5, 0]) + four + SEPARATOR + struct.pack(">II", 0x00000801, 2) + b"\x01\x09"
    csvs = {
        "plain": (3, b"0,1,2,3\n1,4,5,6\n2,0.5,0.25,1\n"),
        "header": (3, b"label,a,b,c\n1,0.1,0.2,0.3\n0,0,0,1\n"),
        "pandas": (3, b"0,1,2,3\n7,255,0,128\n3,12,34,56\n"),
        "bom-crlf": (3, b"\xef\xbb\xbflabel,a,b,c\r\n\r\n2,1,2,3\r\n1,4,5,6"),
        "blank": (3, b"\n  \n1, 2 ,3,4\n\n0,1e-3,-2,5e2\n"),
        "bad-label": (3, b"1.5,1,2,3\n"),
        "bad-columns": (3, b"1,2,3\n"),
        "bad-number": (3, b"1,2,x,3\n1,2,inf,3\n"),
        "empty": (3, b"a,b,c,d\n"),
    }
    for name, (features, text) in csvs.items():
        seeds[f"csv-{name}"] = bytes([7, features]) + text
        seeds[f"csv-{name}-gz"] = bytes([3, features]) + gzip.compress(text, mtime=0)
        rows = b"\n".join(line.partition(b",")[2] for line in text.split(b"\n"))
        seeds[f"csv-{name}-unlabelled"] = bytes([2, features]) + rows
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


main()
