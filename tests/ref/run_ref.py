#!/usr/bin/python3
"""run_ref.py - compare an nncc-generated model against the PyTorch reference.

    /usr/bin/python3 tests/ref/run_ref.py MODEL.nn --build build-h4

compiles MODEL.nn with nncc, builds tests/ref/driver.c against the generated
C and libnnrt, runs it in a temporary directory, evaluates the same graph
with reference.py from the checkpoint the driver wrote, and compares every
output (see README.md).  One line per comparison; exit status 1 if any fails.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import reference as ref  # noqa: E402

# max |c - ref| <= TOLERANCE * max(1, max |ref|), per compared tensor: float32
# code against a float64 reference; --dtype f64 code is held to 1e-10.
TOLERANCE = {4: 1e-4, 8: 1e-10}
BATCHES = (1, 7, 128)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the .nn file")
    ap.add_argument("--build", default=os.environ.get("NNCC_BUILD_DIR"),
                    help="a build directory holding nncc and libnnrt.a (env NNCC_BUILD_DIR)")
    ap.add_argument("--nncc", default=os.environ.get("NNCC"), help="the nncc binary (env NNCC)")
    ap.add_argument("--nnrt", default=os.environ.get("NNRT_LIB"),
                    help="libnnrt.a (env NNRT_LIB)")
    ap.add_argument("--include", default=os.path.join(ROOT, "runtime", "include"),
                    help="the directory of nnrt.h")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"), help="the C compiler (env CC)")
    ap.add_argument("--cflags", default=os.environ.get("CFLAGS", ""),
                    help="extra flags to build the driver with (env CFLAGS)")
    ap.add_argument("--libs", default=os.environ.get("NNRT_LIBS", "-lopenblas -lm"),
                    help="libraries libnnrt needs (env NNRT_LIBS; default: -lopenblas -lm)")
    ap.add_argument("--nncc-flags", default="",
                    help="extra nncc flags, e.g. '-O0' or '--dtype f64'")
    ap.add_argument("--seed", type=int, default=1, help="the model's and the inputs' seed")
    ap.add_argument("--workdir", help="work here (kept) instead of a temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.build:
        args.nncc = args.nncc or os.path.join(args.build, "nncc")
        args.nnrt = args.nnrt or os.path.join(args.build, "libnnrt.a")
    if not args.nncc or not args.nnrt:
        ap.error("give --build DIR, or --nncc and --nnrt")
    return args


def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        raise SystemExit("FAIL: %s exited with %d" % (" ".join(map(shlex.quote, cmd)),
                                                      r.returncode))
    return r.stdout


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            key, _, val = line.strip().partition(" ")
            meta[key] = val if key == "name" else int(val)
    return meta


def read_raw(path, dtype):
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return torch.zeros(0, dtype=dtype)
    return torch.frombuffer(bytearray(data), dtype=dtype).clone()


class Checker:
    def __init__(self, tolerance):
        self.tolerance = tolerance
        self.failures = 0
        self.count = 0

    def compare(self, what, got, want, scale=None):
        """max |got - want| <= tolerance * scale, scale max(1, max |want|)
        unless given."""
        got = got.detach().to(torch.float64).reshape(-1)
        want = want.detach().to(torch.float64).reshape(-1)
        self.count += 1
        if got.shape != want.shape:
            self.failures += 1
            print("FAIL %-44s %d values, the reference has %d" % (what, got.numel(), want.numel()))
            return
        if scale is None:
            scale = max(1.0, want.abs().max().item()) if want.numel() else 1.0
        err = (got - want).abs().max().item() if want.numel() else 0.0
        bad = not (err <= self.tolerance * scale)  # a NaN anywhere fails
        self.failures += bad
        print("%s %-44s max|c-ref| %.3e  scale %.3g  tol %.3e" %
              ("FAIL" if bad else "ok  ", what, err, scale, self.tolerance * scale))
        if bad and got.numel():
            i = (got - want).abs().nan_to_num(float("inf")).argmax().item()
            print("     worst at flat index %d: c %.9g, ref %.9g" % (i, got[i], want[i]))

    def skip(self, what, why):
        print("skip %-44s %s" % (what, why))


def output_names(model):
    names = []
    for vid in model.graph.outputs:
        node = model.graph.by_id[vid]
        names.append(node.name or "%%%d" % vid)
    return names


def compare_outputs(check, model, label, got_flat, outs):
    pos = 0
    for name, out in zip(output_names(model), outs):
        n = out.numel()
        check.compare("%s %s" % (label, name), got_flat[pos:pos + n], out)
        pos += n
    if pos != got_flat.numel():
        check.failures += 1
        print("FAIL %s: the C wrote %d values, the reference %d" % (label, got_flat.numel(), pos))


def main():
    args = parse_args()
    model_path = os.path.abspath(args.model)
    nncc = os.path.abspath(args.nncc)
    work = args.workdir or tempfile.mkdtemp(prefix="nncc-ref-")
    os.makedirs(work, exist_ok=True)
    try:
        ok = check_model(args, model_path, nncc, work)
    finally:
        if not args.workdir and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        elif not args.workdir:
            print("kept", work)
    return 0 if ok else 1


def check_model(args, model_path, nncc, work):
    flags = shlex.split(args.nncc_flags)
    model = ref.Model.from_nncc(nncc, model_path)
    name = model.graph.name
    c_file = os.path.join(work, name + ".c")
    run([nncc] + flags + [model_path, "-o", c_file])
    exe = os.path.join(work, "driver")
    cc_out = run([args.cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-I", args.include, "-I", work,
                  "-DMODEL_API=%s_model" % name] + shlex.split(args.cflags) +
                 [c_file, os.path.join(HERE, "driver.c"), os.path.abspath(args.nnrt), "-o", exe] +
                 shlex.split(args.libs))
    if cc_out.strip():
        print("warning: the build printed diagnostics:\n" + cc_out.rstrip())
    run([exe, work, str(args.seed)])

    meta = read_meta(os.path.join(work, "meta.txt"))
    dt = torch.float64 if meta["elem_size"] == 8 else torch.float32
    check = Checker(TOLERANCE[meta["elem_size"]])
    sizes = {"input_size": sum(n.type.numel() for n in model.graph.inputs),
             "output_size": sum(model.graph.by_id[v].type.numel() for v in model.graph.outputs),
             "num_params": model.num_params}
    for key, want in sizes.items():
        if meta[key] != want:
            check.failures += 1
            print("FAIL %s: the generated model says %d, the IR %d" % (key, meta[key], want))

    f = lambda n: os.path.join(work, n)  # noqa: E731
    state0 = model.load_checkpoint(f("model.ckpt"))
    print("model %s: %d params, %d buffer values, max_batch %d, seed %d"
          % (name, model.num_params, model.num_buffers, meta["max_batch"], meta["seed"]))

    # Inference: running statistics, dropout off.
    for b in BATCHES:
        x = model.split_inputs(read_raw(f("in_b%d" % b), dt), b)
        with torch.no_grad():
            outs, _ = model.forward(state0.clone(), x, training=False)
        compare_outputs(check, model, "eval  b=%-3d" % b, read_raw(f("out_b%d" % b), dt), outs)

    # Training mode: batch statistics, and the running statistics they move.
    after = model.load_checkpoint(f("after_train.ckpt"))
    label = "train b=7  "
    if model.has_random_training():
        check.skip(label, "dropout draws random masks")
    else:
        state = state0.clone()
        x = model.split_inputs(read_raw(f("train_in_b7"), dt), 7)
        with torch.no_grad():
            outs, _ = model.forward(state, x, training=True)
        compare_outputs(check, model, label, read_raw(f("train_out_b7"), dt), outs)
        for bname, _, _ in model.buffer_layout:
            check.compare("train b=7   %s" % bname, after.buffers[bname], state.buffers[bname])
    if not torch.equal(model.flat_params(after), model.flat_params(state0)):
        check.failures += 1
        print("FAIL a training-mode forward changed the parameters")

    # Loss and gradients, once the generated code has loss_and_grad.
    if os.path.exists(f("grad_grads_b7")):
        compare_grads(check, model, meta, dt, f)
    else:
        check.skip("loss+grads", "the generated model has no loss_and_grad yet")

    print("%s: %d comparisons, %d failed" % (name, check.count, check.failures))
    return check.failures == 0


def compare_grads(check, model, meta, dt, f):
    if model.has_random_training():
        check.skip("loss+grads b=7", "dropout draws random masks")
        return
    kinds = {n.type.kind for n in model.graph.labels}
    if len(kinds) > 1:
        check.skip("loss+grads b=7", "labels of mixed kinds")
        return
    state = model.load_checkpoint(f("model.ckpt"), requires_grad=True)
    x = model.split_inputs(read_raw(f("grad_in_b7"), dt), 7)
    y = model.split_labels(read_raw(f("grad_labels_b7"), dt if meta["label_is_float"]
                                    else torch.int32), 7)
    _, values = model.forward(state, x, training=True, labels=y)
    loss = model.loss(values)
    if loss.requires_grad:  # else the model has no parameters
        loss.backward()
    check.compare("loss  b=7", read_raw(f("grad_loss_b7"), torch.float64), loss)
    # Gradients are often far below 1, so each is held to its own scale: the
    # largest of its values, but at least 1% of the model's largest gradient
    # (tensors whose true gradient is 0, such as a bias before batchnorm).
    grads = read_raw(f("grad_grads_b7"), dt)
    want = model.flat_grads(state)
    floor = 1e-2 * want.abs().max().item() if want.numel() else 0.0
    for pname, off, dims in model.param_layout:
        w = want[off:off + ref._numel(dims)]
        check.compare("grad  b=7   %s" % pname, grads[off:off + w.numel()], w,
                      scale=max(w.abs().max().item(), floor, 1e-30))


if __name__ == "__main__":
    sys.exit(main())
