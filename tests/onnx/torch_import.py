"""torch_import.py NNCC SRC BUILD WORKDIR - issue 17's "train what you imported":
fashion_cnn's architecture in PyTorch (random weights and running statistics),
torch.onnx.export, nncc import, the generated C's logits against PyTorch's in
eval mode, then nncc train on Fashion-MNIST from the imported checkpoint."""
import ctypes, os, re, subprocess, sys
import numpy as np
import torch, torch.nn as nn

nncc, src, build, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
os.chdir(work)
torch.manual_seed(0)

class Norm(nn.Module):
    def forward(self, x):
        return (x - 0.2860) / 0.3530

m = nn.Sequential(Norm(), nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Flatten(), nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.5),
                  nn.Linear(128, 10))
for mod in m.modules():
    if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
        mod.running_mean.uniform_(-0.5, 0.5)
        mod.running_var.uniform_(0.5, 2)
        mod.weight.data.uniform_(0.5, 1.5)
        mod.bias.data.uniform_(-0.2, 0.2)
m.eval()
x = torch.rand(7, 1, 28, 28)
torch.onnx.export(m, x[:2], "cnn.onnx", input_names=["image"], output_names=["logits"],
                  dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}})
subprocess.run([nncc, "import", "cnn.onnx", "-o", "cnn.nn"], check=True)
text = open("cnn.nn").read()
assert "label target : class[10]" in text and "loss softmax_cross_entropy(logits, target)" in text, text

# The generated C, as a shared library, reached through its header's API.
subprocess.run([nncc, "cnn.nn", "-o", "cnn.c"], check=True)
subprocess.run([os.environ.get("CC", "cc"), "-O1", "-shared", "-fPIC", "-I" + src + "/runtime/include", "cnn.c",
                build + "/libnnrt.a", "-lopenblas", "-lm", "-lpthread", "-o", "cnn.so"], check=True)
lib = ctypes.CDLL(os.path.abspath("cnn.so"))
lib.cnn_create.restype = ctypes.c_void_p
lib.cnn_create.argtypes = [ctypes.c_int, ctypes.c_uint64]
lib.cnn_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.cnn_forward.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
h = lib.cnn_create(16, 1)
assert lib.cnn_load(h, b"cnn.ckpt") == 0, "cnn_load refused the imported checkpoint"
xi = np.ascontiguousarray(x.numpy(), dtype=np.float32)
out = np.zeros((7, 10), dtype=np.float32)
lib.cnn_forward(h, 7, xi.ctypes.data, out.ctypes.data, 0)
with torch.no_grad():
    ref = m(x).numpy()
err = np.abs(out - ref).max()
print("max |nncc - torch| logits:", err)
assert np.allclose(out, ref, rtol=1e-4, atol=1e-4), (out, ref)

# Train what was imported.
r = subprocess.run([nncc, "train", "cnn.nn", "--data", "/usr/share/datasets/fashion-mnist", "--load", "cnn.ckpt",
                    "--epochs", "1", "--limit", "2000", "--save", "trained.ckpt"],
                   capture_output=True, text=True)
print(r.stdout[-2000:], r.stderr[-2000:])
assert r.returncode == 0
acc = [float(a) for a in re.findall(r"acc(?:uracy)?[ =:]+([0-9.]+)", r.stdout + r.stderr)]
assert acc and acc[-1] > (0.2 if acc[-1] <= 1 else 20), acc

# ... and export what was trained: ONNX's checker accepts it, and imported
# back it computes what the trained model computes, bit for bit.
import onnx
subprocess.run([nncc, "export", "cnn.nn", "--load", "trained.ckpt", "-o", "trained.onnx"], check=True)
onnx.checker.check_model(onnx.load("trained.onnx"), full_check=True)
subprocess.run([nncc, "import", "trained.onnx", "-o", "back.nn", "--name", "cnn"], check=True)
outs = []
for nn_file, ckpt, so in (("cnn.nn", b"trained.ckpt", "trained.so"), ("back.nn", b"back.ckpt", "back.so")):
    c = so.replace(".so", ".c")
    subprocess.run([nncc, nn_file, "-o", c], check=True)
    subprocess.run([os.environ.get("CC", "cc"), "-O1", "-shared", "-fPIC", "-I" + src + "/runtime/include", c,
                    build + "/libnnrt.a", "-lopenblas", "-lm", "-lpthread", "-o", so], check=True)
    l = ctypes.CDLL(os.path.abspath(so))
    l.cnn_create.restype = ctypes.c_void_p
    l.cnn_create.argtypes = [ctypes.c_int, ctypes.c_uint64]
    l.cnn_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    l.cnn_forward.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    hh = l.cnn_create(16, 1)
    assert l.cnn_load(hh, ckpt) == 0, ckpt
    o = np.zeros((7, 10), dtype=np.float32)
    l.cnn_forward(hh, 7, xi.ctypes.data, o.ctypes.data, 0)
    outs.append(o)
assert np.array_equal(outs[0], outs[1]), np.abs(outs[0] - outs[1]).max()
print("trained, exported, imported back: logits identical")

# Refusals: nothing written on any of them.
from onnx import helper, TensorProto
data = open("cnn.onnx", "rb").read()
open("trunc.onnx", "wb").write(data[:len(data) // 2])
def refused(model, expect):
    r = subprocess.run([nncc, "import", model, "-o", "bad.nn"], capture_output=True, text=True)
    assert r.returncode == 1 and expect in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists("bad.nn") and not os.path.exists("bad.ckpt")
refused("trunc.onnx", "trunc.onnx: not an ONNX model (not a valid ModelProto: corrupt or truncated)")
g = helper.make_graph([helper.make_node("Elu", ["x"], ["y"], name="Elu_3")], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "elu.onnx")
refused("elu.onnx", "elu.onnx: node 'Elu_3' (Elu, opset 13): op Elu is not supported")
# Hostile names: quotes, newlines, .nn code in node, value and input names.
evil = 'x"\nmodel pwn\n) |> relu #'
g = helper.make_graph([helper.make_node("Relu", [evil], [evil + "y\n"], name=evil)], "g",
                      [helper.make_tensor_value_info(evil, TensorProto.FLOAT, ["N", 4])],
                      [helper.make_tensor_value_info(evil + "y\n", TensorProto.FLOAT, ["N", 4])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "evil.onnx")
subprocess.run([nncc, "import", "evil.onnx", "-o", "evil.nn"], check=True)
lines = open("evil.nn").read().splitlines()
assert [l for l in lines if l.startswith("model")] == ["model evil"], lines
subprocess.run([nncc, "evil.nn"], check=True)
print("ok")
