#!/usr/bin/env python3
"""check_svg.py TEST_AUGMENT OUT_DIR - has test_augment write a sample plot
(nnrt_plot_curves with NAN gaps and a missing series) and checks that it is
well-formed XML and a sane SVG: the svg root with a size and a viewBox, two
panels, polylines whose points are numbers inside the view box, text labels.
Prints "N passed, N failed" like the C unit tests."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAILED: " + what, file=sys.stderr)


def main():
    exe, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "curves.svg")
    subprocess.run([exe, "--plot", path], check=True)
    root = ET.parse(path).getroot()  # raises on malformed XML
    check(root.tag == NS + "svg", "the root is <svg> in the SVG namespace: " + root.tag)
    vb = [float(v) for v in root.get("viewBox", "").split()]
    check(len(vb) == 4 and vb[2] > 0 and vb[3] > 0, "a viewBox: %r" % vb)
    check(float(root.get("width", 0)) > 0 and float(root.get("height", 0)) > 0, "a size")
    title = root.find(NS + "title")
    check(title is not None and title.text == "sample <run> & co", "the title survives escaping")
    check(len(root.findall(NS + "g")) == 2, "two panels")

    lines = root.iter(NS + "polyline")
    npoly = 0
    for pl in lines:
        npoly += 1
        pts = [tuple(float(c) for c in p.split(",")) for p in pl.get("points").split()]
        check(len(pts) >= 2, "a polyline has at least two points")
        check(all(vb[0] <= x <= vb[0] + vb[2] and vb[1] <= y <= vb[1] + vb[3] for x, y in pts),
              "polyline points inside the view box")
        xs = [x for x, _ in pts]
        check(xs == sorted(xs), "points go left to right")
    # train loss has two NAN gaps (3 runs), validation loss one trailing NAN
    # (1 run), train accuracy none (1 run), validation accuracy is missing.
    check(npoly == 5, "five polylines (NAN gaps split the lines), got %d" % npoly)
    texts = [t.text or "" for t in root.iter(NS + "text")]
    for word in ("Loss", "Accuracy", "epoch", "accuracy (%)", "train", "validation"):
        check(word in texts, "a label %r" % word)
    check(texts.count("validation") == 1, "the missing series has no legend entry")
    for t in root.iter(NS + "text"):
        for attr in ("x", "y"):
            if t.get(attr) is not None:
                float(t.get(attr))  # numbers, whatever the locale
    print("check_svg: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
