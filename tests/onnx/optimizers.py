"""ONNX's optimizer tests against nncc's training step (issue 17).

usage: optimizers.py NNCC CC WORKDIR NNRT_LIB [LIBS...]   (ONNX_DATA: the
backend tests' data, default /usr/include/onnx/backend/test/data)

The backend suite's training ops (domain ai.onnx.preview.training) update
tensors X from gradients G and optimizer state.  For each test whose
semantics nncc's optimizers have, a model whose one parameter vector is X
is built so that its loss has the gradient G:

    input x : f32[n]      (zeros, so linear's weight gets no gradient)
    y = linear(x, n)      (its bias holds X)
    loss mse(y, t)        (d loss / d bias = 2 (X - t) / n = G for t = X - n G / 2)

its checkpoint gets the test's optimizer state (velocity; Adam's moments)
and step count, the generated train_step takes one step at rate R, and the
new bias and state are compared with the expected outputs.  Tests of a
semantics nncc lacks are reported as unsupported, with the reason; they are
not approximated.  Exit status 1 if a supported test fails."""
import glob
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import onnx
from onnx import numpy_helper

RTOL, ATOL = 1e-5, 1e-6  # tighter than the backend suite's 1e-3, 1e-7


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t).astype(np.float64)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def unsupported_reason(op, a, step):
    """Why nncc cannot run this test as ONNX defines it, or None."""
    if op == "Adagrad":
        return "nncc has no Adagrad (its optimizers are sgd and adam)"
    if op == "Adam":
        if step == 0:
            return ("at T = 0 ONNX's Adam makes no bias correction; nncc's Adam (PyTorch's) "
                    "corrects from its first step")
        if a.get("norm_coefficient_post", 0.0):
            return "norm_coefficient_post (decoupled weight decay): nncc's adam decays in the gradient"
        return None
    if op == "Momentum":
        if step > 0 and a.get("beta", 1.0) != 1.0:
            return ("beta != 1 after the first update (a dampened gradient): nncc's sgd momentum, "
                    "PyTorch's without dampening, has beta 1")
        return None
    return f"{op} is not an optimizer nncc has"


def ckpt_sections(path):
    """(header fields, [section bytes]) of an nncc checkpoint (runtime/ckpt.c)."""
    data = open(path, "rb").read()
    magic, version, elem, fingerprint, step, nsec = struct.unpack_from("<8sIIQQI", data, 0)
    assert magic == b"NNRTCKPT" and zlib.crc32(data[:-4]) == struct.unpack_from("<I", data, len(data) - 4)[0]
    sizes = struct.unpack_from(f"<{nsec}Q", data, 40)
    at, sections = 40 + 8 * nsec, []
    for n in sizes:
        sections.append(bytearray(data[at:at + n]))
        at += n
    return (magic, version, elem, fingerprint, step), sections


def ckpt_write(path, head, step, sections):
    magic, version, elem, fingerprint, _ = head
    out = struct.pack("<8sIIQQII", magic, version, elem, fingerprint, step, len(sections), 0)
    out += struct.pack(f"<{len(sections)}Q", *[len(s) for s in sections])
    out += b"".join(bytes(s) for s in sections)
    with open(path, "wb") as f:
        f.write(out + struct.pack("<I", zlib.crc32(out)))


class Runner:
    def __init__(self, nncc, cc, work, libs):
        self.nncc, self.cc, self.work, self.libs = nncc, cc, work, libs
        self.src = os.path.dirname(os.path.abspath(__file__))

    def build(self, name, n, optimizer):
        d = os.path.join(self.work, name)
        os.makedirs(d, exist_ok=True)
        nn = os.path.join(d, "opt.nn")
        with open(nn, "w") as f:
            f.write(f"model opt\ninput x : f32[{n}]\nlabel t : f32[{n}]\n"
                    f"y = x |> linear({n}, name=p)\noutput y\nloss mse(y, t)\n"
                    f"train {{\n  optimizer {optimizer}\n  batch 1\n}}\n")
        subprocess.run([self.nncc, nn, "-o", os.path.join(d, "opt.c")], check=True)
        exe = os.path.join(d, "drv")
        subprocess.run([self.cc, "-std=c99", "-O1", "-I" + os.path.join(self.src, "../../runtime/include"),
                        "-DMODEL_API=opt_model", os.path.join(self.src, "opt_driver.c"),
                        os.path.join(d, "opt.c")] + self.libs + ["-o", exe], check=True)
        return d, exe

    def step(self, d, exe, n, X, G, state, step, lr):
        """The new bias and optimizer state per moment ([m1] or [m1, m2])."""
        P = n * n + n
        init, stepped = os.path.join(d, "init.ckpt"), os.path.join(d, "out.ckpt")
        params = np.concatenate([np.zeros(n * n), X]).astype("<f4")
        subprocess.run([exe, "init", init], input=params.tobytes(), check=True)
        head, sec = ckpt_sections(init)
        opt = np.zeros(P * len(state), "<f4")
        for k, s in enumerate(state):  # each moment: the weight's (zeros), then the bias's
            opt[k * P + n * n:(k + 1) * P] = s
        assert len(sec[2]) == opt.nbytes, f"optimizer state of {len(sec[2])} bytes, expected {opt.nbytes}"
        sec[2] = bytearray(opt.tobytes())
        ckpt_write(init, head, step, sec)
        xt = np.concatenate([np.zeros(n), X - n * G / 2]).astype("<f4")
        subprocess.run([exe, "step", init, stepped, repr(float(lr))], input=xt.tobytes(), check=True)
        _, sec = ckpt_sections(stepped)
        p = np.frombuffer(bytes(sec[0]), "<f4").astype(np.float64)
        o = np.frombuffer(bytes(sec[2]), "<f4").astype(np.float64)
        return p[n * n:], [o[k * P + n * n:(k + 1) * P] for k in range(len(state))]


def main():
    nncc, cc, work, *libs = sys.argv[1:]
    data = os.environ.get("ONNX_DATA", "/usr/include/onnx/backend/test/data")
    runner = Runner(nncc, cc, work, libs)
    results = []
    for model_path in sorted(glob.glob(os.path.join(data, "node", "*", "model.onnx"))):
        model = onnx.load(model_path)
        node = model.graph.node[0] if len(model.graph.node) == 1 else None
        if not node or node.domain != "ai.onnx.preview.training":
            continue
        test, op, a = os.path.basename(os.path.dirname(model_path)), node.op_type, attrs(node)
        ins = [read_pb(p) for p in sorted(glob.glob(os.path.join(os.path.dirname(model_path),
                                                                  "test_data_set_0", "input_*.pb")))]
        outs = [read_pb(p) for p in sorted(glob.glob(os.path.join(os.path.dirname(model_path),
                                                                   "test_data_set_0", "output_*.pb")))]
        R, T = float(ins[0]), int(ins[1])
        why = unsupported_reason(op, a, T)
        if why:
            results.append((test, op, "unsupported", why))
            continue
        moments = 2 if op == "Adam" else 1
        k = (len(ins) - 2) // (2 + moments)  # tensors updated: X..., G..., then the state
        X, G = ins[2:2 + k], ins[2 + k:2 + 2 * k]
        S = [ins[2 + (2 + j) * k:2 + (3 + j) * k] for j in range(moments)]
        wd = a.get("norm_coefficient", 0.0)
        if op == "Adam":
            optimizer = (f"adam(lr={R!r}, beta1={a.get('alpha', 0.9)!r}, beta2={a.get('beta', 0.999)!r}, "
                         f"eps={a.get('epsilon', 1e-6)!r}, weight_decay={wd!r})")
            step = T - 1  # ONNX's T-th update corrects by powers T; nncc's step s+1 by s+1
        else:
            nesterov = a.get("mode", b"standard") == b"nesterov"
            optimizer = (f"sgd(lr={R!r}, momentum={a['alpha']!r}, weight_decay={wd!r}, "
                         f"nesterov={'true' if nesterov else 'false'})")
            step = T
        worst, ok = 0.0, True
        for i in range(k):
            n = X[i].size
            d, exe = runner.build(f"{test}-{i}", n, optimizer)
            got_x, got_s = runner.step(d, exe, n, X[i].ravel(), G[i].ravel(),
                                       [s[i].ravel() for s in S], step, R)
            want = [outs[i]] + [outs[(1 + j) * k + i] for j in range(moments)]
            for g, w in zip([got_x] + got_s, want):
                w = w.ravel()
                worst = max(worst, float(np.max(np.abs(g - w) / (np.abs(w) + 1e-12))))
                ok &= bool(np.allclose(g, w, rtol=RTOL, atol=ATOL))
        results.append((test, op, "pass" if ok else "FAIL",
                        f"{optimizer}; largest relative difference {worst:.2g}"))
    for r in results:
        print("%-28s %-9s %-12s %s" % r)
    npass = sum(r[2] == "pass" for r in results)
    nfail = sum(r[2] == "FAIL" for r in results)
    print(f"optimizers: {npass} passed, {nfail} failed, {len(results) - npass - nfail} unsupported")
    sys.exit(1 if nfail or not npass else 0)


main()
