"""export.py - nncc export against ONNX's checker and a PyTorch evaluator.

    export.py --nncc NNCC --nnrt libnnrt.a --include runtime/include --cc CC
              --libs "-lopenblas -lm -lpthread" [--cflags F] [--workdir DIR] [--roundtrip]
              MODEL.nn...

Each model is compiled and built with tests/weights/forward.c, which writes
a checkpoint after 3 training steps on random data (weights and batchnorm
running statistics moved from their initial values) and a batch of 7
random inputs, and the outputs of the generated forward (training=0) on
them.  `nncc export` writes the ONNX file, which must pass
onnx.checker.check_model(full_check=True) and strict shape inference (the
shapes it infers the shapes nncc wrote), say opset 13, IR 7, producer nncc,
name its inputs and outputs as the .nn does with a batch dimension N, hold
every tensor of the checkpoint bit for bit (as `nncc weights export` gives
them) under its --emit=params name, name each layer's node by its layer,
and compute, run node by node by the evaluator below (torch.nn.functional,
float64), what the generated C computes.  Then the refusals: another
model's checkpoint and a truncated one (the model's own message: the one the
generated NAME_load gives), -o naming the model or the checkpoint, no
--load; each exits 1 and leaves an existing output as it was.

--roundtrip instead imports each exported file back (`nncc import`) and
requires the imported model's forward on the same checkpoint values to be
identical to the original's.  Until nncc import exists (its stub says "not
written yet") it exits 77: ctest reports the test as skipped.
"""

import argparse
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper
import onnx.shape_inference
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FORWARD_C = os.path.join(ROOT, "tests", "weights", "forward.c")
BATCH = 7
SKIP = 77

failures = []


def check(cond, what):
    print(("ok: " if cond else "FAILED: ") + what)
    if not cond:
        failures.append(what)


def run(cmd, expect=0):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != expect:
        sys.exit("%s: exit %d, expected %d\n%s" % (" ".join(cmd), r.returncode, expect, r.stdout))
    return r.stdout


# ------------------------------------------------------------ the evaluator

def attrs_of(node, allowed):
    """The node's attributes as Python values; an attribute the evaluator
    does not know is an error, never ignored."""
    out = {}
    for a in node.attribute:
        if a.name not in allowed:
            raise ValueError("%s %s: attribute %s is not understood" % (node.op_type, node.name, a.name))
        out[a.name] = onnx.helper.get_attribute_value(a)
    return out


def pad2d(x, pads, value):
    """ONNX pads [top, left, bottom, right] on an NCHW tensor."""
    t, l, b, r = pads
    return F.pad(x, (l, r, t, b), value=value)


def eval_node(node, inp):
    op = node.op_type
    x = inp[0] if inp else None
    if op in ("Sub", "Div", "Add"):
        attrs_of(node, ())
        return {"Sub": torch.sub, "Div": torch.div, "Add": torch.add}[op](inp[0], inp[1])
    if op == "Gemm":
        a = attrs_of(node, ("alpha", "beta", "transA", "transB"))
        A = x.t() if a.get("transA", 0) else x
        B = inp[1].t() if a.get("transB", 0) else inp[1]
        y = a.get("alpha", 1.0) * (A @ B)
        return y + a.get("beta", 1.0) * inp[2] if len(inp) > 2 else y
    if op == "Conv":
        a = attrs_of(node, ("kernel_shape", "strides", "pads", "dilations", "group"))
        w = inp[1]
        assert list(a["kernel_shape"]) == list(w.shape[2:])
        return F.conv2d(pad2d(x, a.get("pads", [0] * 4), 0.0), w, inp[2] if len(inp) > 2 else None,
                        stride=a.get("strides", [1, 1]), dilation=a.get("dilations", [1, 1]),
                        groups=a.get("group", 1))
    if op == "BatchNormalization":
        a = attrs_of(node, ("epsilon", "momentum"))
        return F.batch_norm(x, inp[3], inp[4], inp[1], inp[2], training=False, eps=a.get("epsilon", 1e-5))
    if op in ("MaxPool", "AveragePool"):
        a = attrs_of(node, ("kernel_shape", "strides", "pads", "count_include_pad"))
        k, s = a["kernel_shape"], a.get("strides", [1, 1])
        if op == "MaxPool":
            return F.max_pool2d(pad2d(x, a.get("pads", [0] * 4), -math.inf), k, s)
        if not a.get("count_include_pad", 0) and any(a.get("pads", [0])):
            raise ValueError("AveragePool without count_include_pad: not nncc's")
        return F.avg_pool2d(pad2d(x, a.get("pads", [0] * 4), 0.0), k, s)
    if op == "GlobalAveragePool":
        attrs_of(node, ())
        return x.mean(dim=(2, 3), keepdim=True)
    if op == "Flatten":
        axis = attrs_of(node, ("axis",)).get("axis", 1)
        return x.reshape(int(np.prod(x.shape[:axis])), -1)
    if op in ("Relu", "Sigmoid", "Tanh", "Identity"):
        attrs_of(node, ())
        return {"Relu": F.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Identity": lambda v: v}[op](x)
    if op == "LeakyRelu":
        return F.leaky_relu(x, attrs_of(node, ("alpha",)).get("alpha", 0.01))
    if op in ("Softmax", "LogSoftmax"):
        axis = attrs_of(node, ("axis",)).get("axis", -1)
        return (F.softmax if op == "Softmax" else F.log_softmax)(x, dim=axis)
    if op == "Concat":
        return torch.cat(inp, dim=attrs_of(node, ("axis",))["axis"])
    raise ValueError("no evaluator for ONNX op %s (node %s)" % (op, node.name))


def evaluate(model, feeds):
    """Runs the graph's nodes in order (ONNX files are topologically sorted)
    in float64: what the graph computes, to the precision of doubles."""
    env = {k: torch.from_numpy(v.astype(np.float64)) for k, v in feeds.items()}
    for t in model.graph.initializer:
        env[t.name] = torch.from_numpy(onnx.numpy_helper.to_array(t).astype(np.float64))
    for node in model.graph.node:
        env[node.output[0]] = eval_node(node, [env[i] for i in node.input])
    return [env[o.name].numpy() for o in model.graph.output]


# ------------------------------------------------------------ the checks

def dims_of(vi):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value
            for d in vi.type.tensor_type.shape.dim]


def nn_shape(line):
    """f32[3, 12, 12] -> [3, 12, 12]"""
    return [int(d) for d in line[line.index("[") + 1:line.index("]")].split(",")]


def build(args, work, path):
    """The model's C and driver; (its name, the driver)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    c = os.path.join(work, stem + ".c")
    run([args.nncc, path, "-o", c])
    with open(os.path.join(work, stem + ".h")) as f:
        name = next(l.split()[1][:-len("_INPUT_SIZE")] for l in f if l.startswith("#define") and "_INPUT_SIZE" in l)
    drv = os.path.join(work, stem + ".fwd")
    run([args.cc, "-std=c99", "-O1"] + shlex.split(args.cflags) + ["-I" + args.include, "-DMODEL_API=%s_model" % name, FORWARD_C, c,
         args.nnrt] + shlex.split(args.libs) + ["-o", drv])
    return name, drv


def interface(path):
    """The .nn's inputs and outputs: ([(name, per-sample shape)], [names])."""
    ins, outs = [], []
    with open(path) as f:
        for line in f:
            words = line.split("#")[0].split()
            if words[:1] == ["input"]:
                ins.append((words[1], nn_shape(line)))
            elif words[:1] == ["output"]:
                outs += [w.strip(",") for w in words[1:] if w.strip(",")]
    return ins, outs


def exported(args, work, path):
    """The model built, its checkpoint, inputs and outputs made (stem.ckpt,
    .in, .out), and exported (stem.onnx): (stem, path helper)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    build(args, work, path)
    p = lambda f: os.path.join(work, stem + "." + f)
    run([p("fwd"), "make", p("ckpt"), p("in")])
    run([p("fwd"), "run", p("ckpt"), p("in"), p("out")])
    run([args.nncc, "export", path, "--load", p("ckpt"), "-o", p("onnx")])
    return stem, p


def export_checks(args, work, path):
    stem, p = exported(args, work, path)

    m = onnx.load(p("onnx"))
    try:
        onnx.checker.check_model(m, full_check=True)
        check(True, "%s: check_model(full_check=True)" % stem)
    except onnx.checker.ValidationError as e:
        check(False, "%s: check_model: %s" % (stem, e))
    inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    check([o.type.tensor_type.shape == v.type.tensor_type.shape
           for o, v in zip(m.graph.output, inferred.graph.output)] == [True] * len(m.graph.output),
          "%s: strict shape inference gives the outputs' shapes" % stem)
    check((m.ir_version, [(o.domain, o.version) for o in m.opset_import], m.producer_name, m.producer_version)
          == (7, [("", 13)], "nncc", run([args.nncc, "--version"]).split()[1]),
          "%s: IR 7, opset 13, producer nncc and its version" % stem)

    ins, outs = interface(path)
    check([(i.name, dims_of(i)) for i in m.graph.input] == [(n, ["N"] + s) for n, s in ins],
          "%s: inputs %s, shapes [N, ...]" % (stem, [n for n, _ in ins]))
    check([o.name for o in m.graph.output] == outs and all(dims_of(o)[0] == "N" for o in m.graph.output),
          "%s: outputs %s, batch N" % (stem, outs))

    # Every checkpoint tensor, bit for bit, under its name.
    run([args.nncc, "weights", "export", path, p("ckpt"), p("npz")])
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    with np.load(p("npz")) as z:
        tensors = {k: z[k] for k in z.files if not k.endswith(".num_batches_tracked")}
    params = [l.split()[0] for l in run([args.nncc, "--emit=params", path]).splitlines()
              if len(l.split()) == 3 and l.split()[1].isdigit()]  # (not a warning)
    check(set(params) <= set(tensors), "%s: --emit=params names the .npz's tensors" % stem)
    same = [k for k in tensors if k in inits and inits[k].dtype == np.float32 and
            inits[k].shape == tensors[k].shape and np.array_equal(inits[k].view(np.uint32), tensors[k].view(np.uint32))]
    check(sorted(same) == sorted(tensors), "%s: %d initializers are the checkpoint's tensors bit for bit (%s)"
          % (stem, len(tensors), sorted(set(tensors) - set(same)) or "all"))

    # Layer nodes are named by their layer; node names are unique.
    names = [n.name for n in m.graph.node]
    check(len(set(names)) == len(names) and all(names), "%s: node names unique" % stem)
    layered = [(n.name, n.input[1].rsplit(".", 1)[0]) for n in m.graph.node
               if n.op_type in ("Gemm", "Conv", "BatchNormalization")]
    check(all(a == b for a, b in layered), "%s: layers' nodes named by their layers" % stem)

    # Attributes that do not change the numbers: ONNX's batchnorm momentum
    # weighs the running value (1 - nncc's), epsilon is nncc's eps.
    if stem == "export_ops":
        bn = {n.name: {a.name: a.f for a in n.attribute} for n in m.graph.node
              if n.op_type == "BatchNormalization"}
        check(sorted(bn) == ["batchnorm0", "f"] and abs(bn["batchnorm0"]["momentum"] - 0.8) < 1e-7
              and abs(bn["f"]["momentum"] - 0.9) < 1e-7 and abs(bn["f"]["epsilon"] - 1e-3) < 1e-10
              and abs(bn["batchnorm0"]["epsilon"] - 1e-5) < 1e-12,
              "export_ops: BatchNormalization momentum 1 - nncc's, epsilon nncc's: %s" % bn)
        ops = sorted({n.op_type for n in m.graph.node})
        check(ops == sorted(["Sub", "Div", "Conv", "BatchNormalization", "LeakyRelu", "Tanh", "MaxPool",
                             "Concat", "AveragePool", "Sigmoid", "Softmax", "GlobalAveragePool", "Flatten",
                             "Gemm", "Relu", "Add", "LogSoftmax"]),
              "export_ops: every mapping (no Dropout): %s" % ops)

    # What the graph computes is what the generated C computes.
    # (several inputs, or outputs, one after another: all of the first for
    # the batch, then the next: docs/generated-c.md)
    x = np.fromfile(p("in"), dtype=np.float32)
    feeds, off = {}, 0
    for n, s in ins:
        k = BATCH * int(np.prod(s))
        feeds[n] = x[off:off + k].reshape([BATCH] + s)
        off += k
    got = np.concatenate([o.reshape(-1) for o in evaluate(m, feeds)])
    want = np.fromfile(p("out"), dtype=np.float32)
    err = float(np.max(np.abs(got - want)))
    scale = max(1.0, float(np.max(np.abs(got))))
    check(got.shape == want.shape and err <= 2e-5 * scale,
          "%s: ONNX graph (float64) vs the generated C: max abs difference %.3g (scale %.3g)" % (stem, err, scale))
    return p


def refused(cmd, must_say, outputs):
    """cmd exits 1 saying must_say, and each output (path, bytes or None)
    is as it was."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kept = all((open(f, "rb").read() == b) if b is not None else not os.path.exists(f) for f, b in outputs)
    left = [f for f in os.listdir(os.path.dirname(outputs[0][0])) if ".tmp." in f]
    check(r.returncode == 1 and must_say in r.stdout and kept and not left,
          "refused (%s): %s" % (must_say, r.stdout.strip().splitlines()[0] if r.stdout.strip() else "no message"))


def refusal_checks(args, work, a, b):
    """a, b: two exported models' path helpers (b another model)."""
    model_a = a("nn")
    # The model's own message for a wrong checkpoint: what its NAME_load says.
    drv = a("fwd")
    out = a("refused.onnx")
    with open(a("onnx"), "rb") as f:
        existing = f.read()
    for ckpt, what in ((b("ckpt"), "another model's checkpoint"), (a("trunc"), "a truncated checkpoint")):
        if ckpt == a("trunc"):
            with open(a("ckpt"), "rb") as f:
                data = f.read()
            with open(ckpt, "wb") as f:
                f.write(data[:len(data) // 2])
        r = subprocess.run([drv, "run", ckpt, a("in"), a("never.out")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        message = r.stdout.strip().split(": ", 2)[-1]  # after "forward: PATH: "
        check(r.returncode == 1 and message, "NAME_load refuses %s: %s" % (what, message))
        refused([args.nncc, "export", model_a, "--load", ckpt, "-o", out], message, [(out, None)])
        shutil.copy(a("onnx"), out)
        refused([args.nncc, "export", model_a, "--load", ckpt, "-o", out], message, [(out, existing)])
        os.remove(out)
    with open(model_a, "rb") as f:
        model_bytes = f.read()
    with open(a("ckpt"), "rb") as f:
        ckpt_bytes = f.read()
    refused([args.nncc, "export", model_a, "--load", a("ckpt"), "-o", model_a], "is the same as output file",
            [(model_a, model_bytes)])
    refused([args.nncc, "export", model_a, "--load", a("ckpt"), "-o", a("ckpt")], "is the same as output file",
            [(a("ckpt"), ckpt_bytes)])
    os.symlink(os.path.basename(a("ckpt")), a("link"))
    refused([args.nncc, "export", model_a, "--load", a("ckpt"), "-o", a("link")], "is the same as output file",
            [(a("ckpt"), ckpt_bytes)])
    refused([args.nncc, "export", model_a, "-o", out], "--load CKPT is required", [(out, None)])
    refused([args.nncc, "export", model_a, "--load", a("ckpt")], "-o OUT.onnx is required", [(out, None)])
    refused([args.nncc, "export", model_a, "--lod", a("ckpt"), "-o", out], "did you mean '--load'?",
            [(out, None)])
    os.mkdir(a("dir"))
    refused([args.nncc, "export", model_a, "--load", a("ckpt"), "-o", a("dir")], a("dir"), [(out, None)])
    # -o - writes the same bytes to standard output.
    r = subprocess.run([args.nncc, "export", model_a, "--load", a("ckpt"), "-o", "-"], stdout=subprocess.PIPE)
    with open(a("onnx"), "rb") as f:
        check(r.returncode == 0 and r.stdout == f.read(), "-o - writes the file to standard output")


def roundtrip(args, work, path):
    """Exports, imports back, and compares the forward passes: 'skip' while
    nncc import is the stub."""
    stem, p = exported(args, work, path)
    back = os.path.join(work, stem + "_back.nn")
    r = subprocess.run([args.nncc, "import", p("onnx"), "-o", back], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 and "not written yet" in r.stdout:
        print("skip: %s: nncc import is not written yet" % stem)
        return "skip"
    check(r.returncode == 0, "%s: nncc import: %s" % (stem, r.stdout.strip()))
    if r.returncode:
        return "fail"
    _, drv_back = build(args, work, back)
    out_back = os.path.join(work, stem + "_back.out")
    run([drv_back, "run", os.path.splitext(back)[0] + ".ckpt", p("in"), out_back])
    a = np.fromfile(p("out"), dtype=np.float32)
    b = np.fromfile(out_back, dtype=np.float32)
    check(a.shape == b.shape and np.array_equal(a, b),
          "%s: export then import: forward identical (max abs difference %s)"
          % (stem, float(np.max(np.abs(a - b))) if a.shape == b.shape else "shapes differ"))
    return "done"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--nnrt", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--libs", default="-lopenblas -lm -lpthread")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--workdir")
    ap.add_argument("--roundtrip", action="store_true")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="nncc-onnx-export-")
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(1)
    # An output that is a dropout's and one that is an input: Identity nodes.
    os.makedirs(os.path.join(work, "src"), exist_ok=True)
    extra = os.path.join(work, "src", "identities.nn")
    with open(extra, "w") as f:
        f.write("model identities\ninput x : f32[6]\nlabel y : class[3]\n"
                "h = x |> linear(3) |> relu\nd = h |> dropout(0.5)\n"
                "output d, x\nloss softmax_cross_entropy(d, y)\n")
    models = [os.path.abspath(m) for m in args.models]
    if args.roundtrip:
        results = [roundtrip(args, work, m) for m in models]
        if failures:
            print("%d FAILED" % len(failures))
            return 1
        if "skip" in results:
            print("roundtrip skipped for %d of %d models: nncc import not written yet"
                  % (results.count("skip"), len(results)))
            return SKIP
        return 0
    helpers = []
    for m in models + [extra]:
        stem = os.path.splitext(os.path.basename(m))[0]
        shutil.copy(m, os.path.join(work, stem + ".nn"))
        helpers.append(export_checks(args, work, os.path.join(work, stem + ".nn")))
    refusal_checks(args, work, helpers[0], helpers[1])
    print("%d checks failed" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
