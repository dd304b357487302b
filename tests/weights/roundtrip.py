"""roundtrip.py - nncc -> .npz -> PyTorch -> .npz -> nncc, outputs unchanged.

    roundtrip.py --nncc NNCC --nnrt libnnrt.a --include runtime/include \
                 --cc CC --libs "-lopenblas -lm -lpthread" [--cflags F] [--workdir DIR]

models/fashion_cnn.nn is compiled and built with forward.c, which writes a
checkpoint after 3 training steps (parameters and running statistics moved)
and a batch of inputs.  `nncc weights export` turns the checkpoint into an
.npz; an equivalent torch.nn model loads it in two lines (strict: every
name and shape must match), runs forward (eval mode: running statistics),
which must be close to nncc's; its state_dict is saved back, unchanged,
with np.savez and with np.savez_compressed; `nncc weights import` makes a
checkpoint of each, whose forward must equal the first one bit for bit.
Then the refusals: a missing tensor, a wrong shape, a corrupted archive,
another model's checkpoint, an output naming an input; each exits 1, says
which tensor or file, and leaves an existing output as it was.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(ROOT, "models", "fashion_cnn.nn")
BATCH = 7


class FashionCnn(nn.Module):
    """models/fashion_cnn.nn in torch.nn, with nncc's layer names."""

    def __init__(self):
        super().__init__()
        self.conv2d0 = nn.Conv2d(1, 32, 3, padding=1)
        self.batchnorm0 = nn.BatchNorm2d(32)
        self.conv2d1 = nn.Conv2d(32, 64, 3, padding=1)
        self.batchnorm1 = nn.BatchNorm2d(64)
        self.linear0 = nn.Linear(3136, 128)
        self.batchnorm2 = nn.BatchNorm1d(128)
        self.logits = nn.Linear(128, 10)

    def forward(self, image):
        f = torch.nn.functional
        x = (image - 0.2860) / 0.3530
        x = f.max_pool2d(f.relu(self.batchnorm0(self.conv2d0(x))), 2)
        x = f.max_pool2d(f.relu(self.batchnorm1(self.conv2d1(x))), 2)
        x = f.dropout(f.relu(self.batchnorm2(self.linear0(x.flatten(1)))), 0.5, self.training)
        return self.logits(x)


def run(cmd, expect=0):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != expect:
        sys.exit("FAIL: %s exited %d (expected %d):\n%s" % (shlex.join(cmd), r.returncode,
                                                            expect, r.stdout))
    return r.stdout


def refused(cmd, must_say, untouched=None):
    """cmd exits 1 with a message containing must_say; untouched is unchanged."""
    before = open(untouched, "rb").read() if untouched and os.path.exists(untouched) else None
    out = run(cmd, expect=1)
    if must_say not in out:
        sys.exit("FAIL: %s: the message does not say %r:\n%s" % (shlex.join(cmd), must_say, out))
    if untouched and (open(untouched, "rb").read() if os.path.exists(untouched) else None) != before:
        sys.exit("FAIL: %s changed %s" % (shlex.join(cmd), untouched))
    print("ok: refused (%s): %s" % (must_say, out.strip().splitlines()[0]))


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--nncc", "--nnrt", "--include", "--cc", "--libs", "--workdir"):
        ap.add_argument(flag)
    ap.add_argument("--cflags", default="")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="nncc-weights-")
    os.makedirs(work, exist_ok=True)
    try:
        check(args, work)
        check_partial(args.nncc, work)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print("PASS")


def check(args, work):
    p = lambda name: os.path.join(work, name)
    nncc = args.nncc
    run([nncc, MODEL, "-o", p("fashion_cnn.c")])
    run([args.cc, "-std=c99", "-O2", "-I", args.include, "-DMODEL_API=fashion_cnn_model"]
        + shlex.split(args.cflags) + [p("fashion_cnn.c"), os.path.join(HERE, "forward.c"), args.nnrt, "-o", p("forward")]
        + shlex.split(args.libs))
    run([p("forward"), "make", p("a.ckpt"), p("in.f32")])
    run([p("forward"), "run", p("a.ckpt"), p("in.f32"), p("a.out")])
    run([nncc, "weights", "export", MODEL, p("a.ckpt"), p("a.npz")])
    with zipfile.ZipFile(p("a.npz")) as z:  # a well-formed zip, every CRC right
        assert z.testzip() is None

    # PyTorch's side: two lines to load, forward, save back unchanged.
    model = FashionCnn()
    sd = {k: torch.from_numpy(v) for k, v in np.load(p("a.npz")).items()}
    model.load_state_dict(sd)
    model.eval()
    x = torch.from_numpy(np.fromfile(p("in.f32"), dtype="<f4").reshape(BATCH, 1, 28, 28))
    with torch.no_grad():
        y = model(x).numpy()
    ours = np.fromfile(p("a.out"), dtype="<f4").reshape(BATCH, 10)
    err = float(np.abs(y - ours).max())
    print("nncc vs PyTorch forward: max abs difference %.3g" % err)
    if not np.allclose(y, ours, rtol=1e-4, atol=1e-4):
        sys.exit("FAIL: PyTorch's forward on the exported weights differs from nncc's")
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    np.savez(p("b.npz"), **state)
    np.savez_compressed(p("c.npz"), **state)

    for back in ("b", "c"):
        run([nncc, "weights", "import", MODEL, p(back + ".npz"), p(back + ".ckpt")])
        run([p("forward"), "run", p(back + ".ckpt"), p("in.f32"), p(back + ".out")])
        if open(p(back + ".out"), "rb").read() != open(p("a.out"), "rb").read():
            sys.exit("FAIL: the forward after %s.npz -> nncc differs from the original" % back)
        print("ok: %s.npz (%s) -> nncc: forward bit-exact" %
              (back, "np.savez" if back == "b" else "np.savez_compressed"))
    run([nncc, "weights", "export", MODEL, p("b.ckpt"), p("b2.npz")])
    again = np.load(p("b2.npz"))
    for k, v in state.items():
        if not k.endswith("num_batches_tracked") and again[k].tobytes() != v.tobytes():
            sys.exit("FAIL: %s changed in the round trip" % k)

    # Refusals, each naming what is wrong; the output left as it was.
    missing = dict(state)
    del missing["batchnorm1.running_var"]
    np.savez(p("missing.npz"), **missing)
    refused([nncc, "weights", "import", MODEL, p("missing.npz"), p("b.ckpt")],
            "no array 'batchnorm1.running_var'", p("b.ckpt"))
    wrong = dict(state)
    wrong["linear0.weight"] = wrong["linear0.weight"].T.copy()
    np.savez(p("wrong.npz"), **wrong)
    refused([nncc, "weights", "import", MODEL, p("wrong.npz"), p("b.ckpt")],
            "'linear0.weight' has shape (3136, 128), the model's has shape (128, 3136)",
            p("b.ckpt"))
    extra = dict(state)
    extra["fc9.weight"] = np.zeros(3, dtype=np.float32)
    np.savez(p("extra.npz"), **extra)
    refused([nncc, "weights", "import", MODEL, p("extra.npz"), p("b.ckpt")],
            "array 'fc9.weight' is not a tensor of model fashion_cnn", p("b.ckpt"))
    data = bytearray(open(p("b.npz"), "rb").read())
    data[len(data) // 2] ^= 0x40
    open(p("bad.npz"), "wb").write(bytes(data))
    refused([nncc, "weights", "import", MODEL, p("bad.npz"), p("b.ckpt")], "corrupted",
            p("b.ckpt"))
    refused([nncc, "weights", "import", MODEL, p("in.f32"), p("b.ckpt")], "not an .npz file",
            p("b.ckpt"))
    mlp = os.path.join(ROOT, "models", "fashion_mlp.nn")
    refused([nncc, "weights", "export", mlp, p("a.ckpt"), p("b2.npz")],
            "belongs to another model", p("b2.npz"))
    refused([nncc, "weights", "export", MODEL, p("a.ckpt"), p("a.ckpt")],
            "is the same as output file", p("a.ckpt"))
    refused([nncc, "weights", "import", MODEL, p("b.npz"), p("b.npz")],
            "is the same as output file", p("b.npz"))


def check_partial(nncc, work):
    """--load-partial: fashion_mlp fine-tuned from an .npz whose head has
    another shape, one tensor missing and one extra.  At --lr 0 the
    parameters after an epoch are those loaded (bit for bit), the head as
    initialised; the trainer names each tensor it left and ignored."""
    data = os.environ.get("NNCC_DATA", "/usr/share/datasets/fashion-mnist")
    if not os.path.exists(os.path.join(data, "train-images-idx3-ubyte.gz")):
        print("skipped --load-partial: no Fashion-MNIST in %s" % data)
        return
    p = lambda name: os.path.join(work, name)
    mlp = os.path.join(ROOT, "models", "fashion_mlp.nn")
    rng = np.random.default_rng(1)
    src = {}
    for line in run([nncc, "--emit=params", mlp]).splitlines():
        name, _, dims = line.split()
        shape = tuple(int(d) for d in dims.split("x"))
        src[name] = (rng.standard_normal(shape) * 0.01).astype(np.float32)
    src["logits.weight"] = np.ones((5, 256), dtype=np.float32)  # another model's head
    del src["logits.bias"]
    src["head2.weight"] = np.ones(3, dtype=np.float32)
    np.savez(p("partial.npz"), **src)
    env = dict(os.environ, NNCC_WORKDIR=p("trainer"))
    cmd = [nncc, "train", mlp, "--data", data, "--load-partial", p("partial.npz"), "--epochs", "1",
           "--limit", "64", "--batch", "32", "--lr", "0", "--validation", "0", "--no-augment",
           "--save", p("partial.ckpt")]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if r.returncode != 0:
        sys.exit("FAIL: %s exited %d:\n%s" % (shlex.join(cmd), r.returncode, r.stdout))
    for want in ("--load-partial: logits.weight 10x256 left initialised: the .npz has it as 5x256",
                 "--load-partial: logits.bias 10 left initialised: not in " + p("partial.npz"),
                 "--load-partial: head2.weight in %s matches no parameter: ignored" % p("partial.npz"),
                 "--load-partial: 8 of 10 parameter tensors loaded from " + p("partial.npz")):
        if want not in r.stdout or "logits.weight in" in r.stdout:
            sys.exit("FAIL: --load-partial did not say %r:\n%s" % (want, r.stdout))
    run([nncc, "weights", "export", mlp, p("partial.ckpt"), p("after.npz")])
    after = np.load(p("after.npz"))
    for name, v in src.items():
        if name.startswith("logits") or name == "head2.weight":
            continue
        if after[name].tobytes() != v.tobytes():
            sys.exit("FAIL: --load-partial: %s is not the .npz's" % name)
    if not np.any(after["logits.weight"]):
        sys.exit("FAIL: --load-partial: logits.weight is not initialised")
    print("ok: --load-partial: 8 tensors loaded bit for bit, the head initialised, each named")
    cmd[cmd.index("--save")] = "--load"
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if r.returncode != 1 or "give one" not in r.stdout:
        sys.exit("FAIL: --load with --load-partial: exit %d:\n%s" % (r.returncode, r.stdout))
    print("ok: --load with --load-partial refused")


if __name__ == "__main__":
    main()
