"""conformance.py NNCC SRC BUILD WORKDIR [TABLE.md] - ONNX's backend tests
(libonnx-testdata: node/, pytorch-converted/, pytorch-operator/) of the ops
nncc imports: each imported (nncc import --no-loss), compiled (-O1), run on
every test_data_set_* and compared with the expected outputs at the backend
suite's tolerances (rtol 1e-3, atol 1e-7).  Graph inputs a node reads as a
weight (Conv W and B, Gemm/MatMul B and C, BatchNormalization's scale, bias,
mean and var, Reshape's shape, Dropout's ratio) are rewritten into
initializers with data set 0's values: in nncc weights are parameters.  The
data input's dim 0 is the batch.  Prints pass / fail / unsupported per test
and per op; writes the table (docs/onnx-conformance.md) if asked.  Exit 1 if
any test fails (unsupported is not a failure: the table says why)."""
import collections, ctypes, glob, os, subprocess, sys
import numpy as np
import onnx
from onnx import numpy_helper

nncc, src, build, work = sys.argv[1:5]
table = sys.argv[5] if len(sys.argv) > 5 else None
DATA = "/usr/include/onnx/backend/test/data"
OPS = {"Gemm", "MatMul", "Conv", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool",
       "Flatten", "Reshape", "Identity", "Dropout", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax",
       "LogSoftmax", "Add", "Sub", "Div", "Concat", "Constant"}
WEIGHT = {"Conv": (1, 2), "Gemm": (1, 2), "MatMul": (1,), "BatchNormalization": (1, 2, 3, 4),
          "Reshape": (1,), "Dropout": (1, 2)}
os.makedirs(work, exist_ok=True)
cc = os.environ.get("CC", "cc")

def run(test_dir, out):
    m = onnx.load(os.path.join(test_dir, "model.onnx"))
    sets = sorted(glob.glob(os.path.join(test_dir, "test_data_set_*")))
    if not sets:
        return "unsupported", "no test data"
    def tensors(d, kind):
        return [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(d, kind + "_*.pb")),
                key=lambda f: int(f.rsplit("_", 1)[1][:-3]))]
    inits = {i.name for i in m.graph.initializer}
    real = [i for i in m.graph.input if i.name not in inits]
    weights = {n.input[k] for n in m.graph.node for k in WEIGHT.get(n.op_type, ()) if k < len(n.input)}
    try:
        ins0 = tensors(sets[0], "input")
    except ValueError:  # optional and sequence test data
        return "unsupported", "the test data is not a tensor (optional or sequence types)"
    keep = []
    for pos, i in enumerate(real):
        if i.name in weights and pos < len(ins0):
            m.graph.initializer.append(numpy_helper.from_array(ins0[pos], i.name))
        else:
            keep.append(pos)
    for pos in sorted(set(range(len(real))) - set(keep), reverse=True):
        m.graph.input.remove(real[pos])
    onnx.save(m, out + ".onnx")
    if any(i.type.WhichOneof("value") != "tensor_type" for i in m.graph.input):
        return "unsupported", "an input is not a tensor"
    r = subprocess.run([nncc, "import", out + ".onnx", "-o", out + ".nn", "--name", "t", "--no-loss"],
                       capture_output=True, text=True)
    if r.returncode:
        why = r.stderr.strip().splitlines()[-1]
        return "unsupported", why.replace("error: ", "", 1).replace(out + ".onnx", "model.onnx")
    subprocess.run([nncc, out + ".nn", "-o", out + ".c"], check=True)
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-I" + src + "/runtime/include", out + ".c",
                    build + "/libnnrt.a", "-lopenblas", "-lm", "-lpthread", "-o", out + ".so"], check=True)
    lib = ctypes.CDLL(os.path.abspath(out + ".so"))
    lib.t_create.restype = ctypes.c_void_p
    lib.t_create.argtypes = [ctypes.c_int, ctypes.c_uint64]
    lib.t_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.t_forward.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    for d in sets:
        ins = [tensors(d, "input")[p] for p in keep]
        outs = tensors(d, "output")
        batch = ins[0].shape[0]
        h = lib.t_create(batch, 1)
        if lib.t_load(h, (out + ".ckpt").encode()):
            return "fail", "t_load refused the checkpoint"
        x = np.concatenate([np.ascontiguousarray(a, dtype=np.float32).ravel() for a in ins])
        y = np.zeros(sum(o.size for o in outs), dtype=np.float32)
        lib.t_forward(h, batch, x.ctypes.data, y.ctypes.data, 0)
        lib.t_destroy.argtypes = [ctypes.c_void_p]
        lib.t_destroy(h)
        want = np.concatenate([o.astype(np.float32).ravel() for o in outs])
        if not np.allclose(y, want, rtol=1e-3, atol=1e-7):
            return "fail", "%s: max difference %g" % (os.path.basename(d), np.abs(y - want).max())
    return "pass", ""

results = collections.defaultdict(list)
for suite in ("node", "pytorch-converted", "pytorch-operator"):
    for t in sorted(os.listdir(os.path.join(DATA, suite))):
        d = os.path.join(DATA, suite, t)
        ops = sorted({n.op_type for n in onnx.load(os.path.join(d, "model.onnx")).graph.node})
        if not set(ops) <= OPS:
            continue
        status, why = run(d, os.path.join(work, suite + "_" + t))
        print("%-12s %s/%s%s" % (status, suite, t, "  (" + why + ")" if why else ""), flush=True)
        results["+".join(o for o in ops if o != "Constant") or "Constant"].append((suite + "/" + t, status, why))

lines = ["# ONNX conformance", "",
         "ONNX's backend tests (libonnx-testdata) of the ops nncc imports, run by tests/onnx/conformance.py",
         "(ctest `onnx-conformance`; docs/onnx.md \"Conformance\"). Regenerate with",
         "`/usr/bin/python3 tests/onnx/conformance.py build/nncc . build /tmp/conf docs/onnx-conformance.md`.", "",
         "| op | tests | passed | failed | unsupported |", "|---|---|---|---|---|"]
tot = collections.Counter()
for op in sorted(results):
    c = collections.Counter(s for _, s, _ in results[op])
    tot.update(c)
    tot["tests"] += len(results[op])
    lines.append("| %s | %d | %d | %d | %d |" % (op, len(results[op]), c["pass"], c["fail"], c["unsupported"]))
lines.append("| **all** | %d | %d | %d | %d |" % (tot["tests"], tot["pass"], tot["fail"], tot["unsupported"]))
lines += ["", "## Not passed, with the reason (the importer's own message)", ""]
for op in sorted(results):
    for t, s, why in results[op]:
        if s != "pass":
            lines.append("- `%s` (%s): %s %s" % (t, op, s, why.replace("|", "\\|")))
print("\n".join(lines[6:]))
if table:
    open(table, "w").write("\n".join(lines) + "\n")
sys.exit(1 if tot["fail"] else 0)
