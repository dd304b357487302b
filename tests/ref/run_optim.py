#!/usr/bin/python3
"""run_optim.py - compare NAME_train_step with torch.optim over many steps.

    /usr/bin/python3 tests/ref/run_optim.py models/fashion_mlp.nn \\
        --optimizer "adam(lr=1e-3)" --build build

writes a copy of the model with dropout p set to 0 (its masks are random)
and the given optimizer in its train block, compiles it with nncc, and runs
optim_driver.c: STEPS train_steps on random batches from the same initial
state, with set_learning_rate changing the rate before step LR_STEP.  Then
replays the same steps in PyTorch (reference.py's graph, float64, training
mode: batchnorm with batch statistics) with torch.optim.SGD or Adam and the
same hyperparameters, the same batches and the same rate change, and
compares:

  loss step k        what train_step returned at each step
  param <name>       every parameter after the last step
  buffer <name>      the running statistics after the last step
  state <name> ...   the optimizer state (momentum buffer; Adam's moments)
  step count         the checkpoint's step counter

Parameters, buffers and optimizer state are held to 1e-3 of their scale
(see README.md); a failure means the generated code or the reference is
wrong, never that the tolerance is too tight.

One exception, by construction: a bias that feeds only batchnorm (as in
fashion_mlp, `linear(512) |> batchnorm`) has a gradient of exactly 0 (the
batch mean removes it), so in float32 code its gradient is rounding noise
(~1e-10) where the float64 replay's is ~1e-19.  SGD turns noise into
noise-sized steps: such a bias is held to 1e-3 of 1% of the model's largest
parameter.  Adam divides the gradient by its own running magnitude, so noise
moves such a bias by up to ~lr per step in a random direction, in PyTorch's
float32 as in ours: it is held to the most Adam can move any parameter in
these steps (sum over steps of lr * sqrt(sum_i w_i^2 / u_i), w and u the
bias-corrected weights of the two moments; about 1.2 lr per step for the
default betas).  The replay checks that their gradients are ~0 indeed.
"""

import argparse
import os
import re
import shlex
import shutil
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import reference as ref  # noqa: E402
from run_ref import Checker, read_raw, run  # noqa: E402

# After STEPS steps: float32 code against a float64 replay.
TOLERANCE = {4: 1e-3, 8: 1e-9}
# The losses along the way, as run_ref.py's outputs.
LOSS_TOLERANCE = {4: 1e-4, 8: 1e-10}

# The train block's optimizer arguments and their defaults (compiler/train.c).
OPTIMIZERS = {
    "sgd": {"lr": None, "momentum": 0.0, "weight_decay": 0.0, "nesterov": False},
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the .nn file (with a loss)")
    ap.add_argument("--optimizer", required=True,
                    help="the train block's optimizer, such as 'sgd(lr=0.05, momentum=0.9)'")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr-step", type=int, default=10,
                    help="set_learning_rate before this step (from 0)")
    ap.add_argument("--lr-scale", type=float, default=0.3,
                    help="the new rate: the optimizer's lr times this")
    ap.add_argument("--build", default=os.environ.get("NNCC_BUILD_DIR"),
                    help="a build directory holding nncc and libnnrt.a (env NNCC_BUILD_DIR)")
    ap.add_argument("--nncc", default=os.environ.get("NNCC"), help="the nncc binary (env NNCC)")
    ap.add_argument("--nnrt", default=os.environ.get("NNRT_LIB"), help="libnnrt.a (env NNRT_LIB)")
    ap.add_argument("--include", default=os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                      "runtime", "include"))
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--cflags", default=os.environ.get("CFLAGS", ""))
    ap.add_argument("--libs", default=os.environ.get("NNRT_LIBS", "-lopenblas -lm"))
    ap.add_argument("--nncc-flags", default="", help="extra nncc flags, e.g. '--dtype f64'")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", help="work here (kept) instead of a temporary directory")
    args = ap.parse_args()
    if args.build:
        args.nncc = args.nncc or os.path.join(args.build, "nncc")
        args.nnrt = args.nnrt or os.path.join(args.build, "libnnrt.a")
    if not args.nncc or not args.nnrt:
        ap.error("give --build DIR, or --nncc and --nnrt")
    return args


def parse_optimizer(text):
    """'adam(lr=1e-3, beta1=0.8)' -> ('adam', {all arguments, defaults filled})."""
    m = re.fullmatch(r"\s*(\w+)\s*(?:\((.*)\))?\s*", text)
    if not m or m.group(1) not in OPTIMIZERS:
        raise SystemExit("bad --optimizer %r (sgd(...) or adam(...))" % text)
    word, hyper = m.group(1), dict(OPTIMIZERS[m.group(1)])
    for item in filter(None, (s.strip() for s in (m.group(2) or "").split(","))):
        key, _, val = item.partition("=")
        key, val = key.strip(), val.strip()
        if key not in hyper:
            raise SystemExit("%s has no argument %r" % (word, key))
        hyper[key] = val == "true" if key == "nesterov" else float(val)
    if hyper["lr"] is None:
        raise SystemExit("sgd needs lr")
    return word, hyper


def variant_source(text, optimizer):
    """The model with dropout(0) everywhere and this optimizer."""
    text = re.sub(r"dropout\([^)]*\)", "dropout(0)", text)
    if re.search(r"^\s*optimizer\b.*$", text, flags=re.M):
        return re.sub(r"^(\s*)optimizer\b.*$", lambda m: m.group(1) + "optimizer " + optimizer,
                      text, count=1, flags=re.M)
    return text + "\ntrain {\n  optimizer %s\n}\n" % optimizer


def as_elem(v, elem_size):
    """v as the generated code holds it (float literals in f32 code)."""
    return struct.unpack("f", struct.pack("f", v))[0] if elem_size == 4 else v


def main():
    args = parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="nncc-optim-")
    os.makedirs(work, exist_ok=True)
    try:
        ok = check(args, work)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def check(args, work):
    word, hyper = parse_optimizer(args.optimizer)
    with open(args.model) as f:
        src = variant_source(f.read(), args.optimizer)
    model_path = os.path.join(work, os.path.basename(args.model))
    with open(model_path, "w") as f:
        f.write(src)
    nncc = os.path.abspath(args.nncc)
    model = ref.Model.from_nncc(nncc, model_path)
    name = model.graph.name
    c_file = os.path.join(work, name + ".c")
    run([nncc] + shlex.split(args.nncc_flags) + [model_path, "-o", c_file])
    exe = os.path.join(work, "optim_driver")
    run([args.cc, "-std=c99", "-O2", "-Wall", "-I", args.include, "-I", work,
         "-DMODEL_API=%s_model" % name] + shlex.split(args.cflags) +
        [c_file, os.path.join(HERE, "optim_driver.c"), os.path.abspath(args.nnrt), "-o", exe] +
        shlex.split(args.libs))

    es = 8 if "f64" in args.nncc_flags else 4
    lr0 = as_elem(hyper["lr"], es)
    new_lr = as_elem(hyper["lr"] * args.lr_scale, 4)  # set_learning_rate takes a float
    run([exe, work, str(args.steps), str(args.batch), str(args.lr_step), repr(new_lr),
         str(args.seed)])
    f = lambda n: os.path.join(work, n)  # noqa: E731
    init_ck = ref.read_checkpoint(f("init.ckpt"))
    final_ck = ref.read_checkpoint(f("final.ckpt"))
    es = init_ck["elem_size"]
    dt = torch.float64 if es == 8 else torch.float32
    check = Checker(TOLERANCE[es])
    loss_check = Checker(LOSS_TOLERANCE[es])

    # The replay: parameters as leaves, the optimizer over them in buffer order.
    state = model.load_checkpoint(f("init.ckpt"), requires_grad=True)
    params = [state.params[pname] for pname, _, _ in model.param_layout]
    h = {k: as_elem(v, es) if isinstance(v, float) else v for k, v in hyper.items()}
    if word == "sgd":
        opt = torch.optim.SGD(params, lr=lr0, momentum=h["momentum"],
                              weight_decay=h["weight_decay"], nesterov=h["nesterov"])
    else:
        opt = torch.optim.Adam(params, lr=lr0, betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                               weight_decay=h["weight_decay"])
    print("model %s, %s: %d params, %d buffer values; %d steps of batch %d, lr %g -> %g "
          "before step %d" % (name, args.optimizer, model.num_params, model.num_buffers,
                              args.steps, args.batch, lr0, new_lr, args.lr_step))

    xs = read_raw(f("batches_x"), dt)
    labels_float = bool(model.graph.labels) and model.graph.labels[0].type.kind == "f32"
    ys = read_raw(f("batches_y"), dt if labels_float else torch.int32)
    c_losses = read_raw(f("losses"), torch.float64)
    nx, ny = xs.numel() // args.steps, ys.numel() // args.steps
    dead = dead_biases(model)
    dead_grad = {pname: 0.0 for pname in dead}  # the largest |gradient| seen
    largest_grad = 0.0
    adam_reach = 0.0  # the most Adam can move a parameter, so far
    lr = lr0
    for k in range(args.steps):
        if k == args.lr_step:
            lr = new_lr
            for group in opt.param_groups:
                group["lr"] = new_lr
        x = model.split_inputs(xs[k * nx:(k + 1) * nx], args.batch)
        y = model.split_labels(ys[k * ny:(k + 1) * ny], args.batch)
        opt.zero_grad()
        _, values = model.forward(state, x, training=True, labels=y)
        loss = model.loss(values)
        loss.backward()
        for pname in dead:
            dead_grad[pname] = max(dead_grad[pname], state.params[pname].grad.abs().max().item())
        largest_grad = max([largest_grad] + [p.grad.abs().max().item() for p in params])
        if word == "adam":
            adam_reach += lr * adam_step_bound(h["beta1"], h["beta2"], k + 1)
        opt.step()
        loss_check.compare("loss  step %-2d" % k, c_losses[k:k + 1], loss.detach().reshape(1))

    # After the last step.
    if final_ck["step"] != args.steps or init_ck["step"] != 0:
        check.failures += 1
        print("FAIL step count: the checkpoints say %d -> %d, expected 0 -> %d"
              % (init_ck["step"], final_ck["step"], args.steps))
    else:
        print("ok   step count %d" % final_ck["step"])
    got = model.load_checkpoint(f("final.ckpt"))
    largest_param = max(p.detach().abs().max().item() for p in params)
    zero_grad = {}  # dead biases whose gradient was ~0 indeed: how far Adam may take them
    for pname, _, _ in model.param_layout:
        want = state.params[pname]
        if pname in dead and dead_grad[pname] <= 1e-12 * largest_grad:
            init = model.load_checkpoint(f("init.ckpt")).params[pname]
            zero_grad[pname] = init.abs().max().item() + adam_reach
            # See the top: a gradient that is 0 in exact arithmetic.
            if word == "adam":
                scale, why = adam_reach / check.tolerance, "Adam's reach"
            else:
                scale, why = 1e-2 * largest_param, "1% of the largest parameter"
            print("note param  %s feeds batchnorm only: its gradient is 0 (at most %.1e in the "
                  "replay); held to %s" % (pname, dead_grad[pname], why))
            check.compare("param  %s (0 gradient)" % pname, got.params[pname], want, scale=scale)
            continue
        if pname in dead:
            print("note param  %s feeds batchnorm, but its gradient reached %.3g"
                  % (pname, dead_grad[pname]))
        check.compare("param  %s" % pname, got.params[pname], want, scale=tensor_scale(want))
    for bname, _, _ in model.buffer_layout:
        check.compare("buffer %s" % bname, got.buffers[bname], state.buffers[bname],
                      scale=tensor_scale(state.buffers[bname]))
    compare_optimizer_state(check, model, word, h, opt, params, zero_grad,
                            ref._floats(final_ck["sections"][2], es)
                            if len(final_ck["sections"]) > 2 else torch.zeros(0))

    failures = check.failures + loss_check.failures
    print("%s %s: %d comparisons, %d failed" % (name, args.optimizer,
                                                 check.count + loss_check.count, failures))
    return failures == 0


def dead_biases(model):
    """The biases of linear and conv2d layers whose output feeds nothing
    but batchnorm (in the forward graph): their gradient is 0 exactly."""
    consumers = {}
    for node in model.graph.nodes:
        if node.op in ref.OPS:  # forward ops; backward nodes are not in OPS
            for vid in node.inputs:
                consumers.setdefault(vid, []).append(node)
    dead = set()
    for node in model.graph.nodes:
        users = consumers.get(node.id, [])
        if node.op in ("linear", "conv2d") and users and \
                all(u.op == "batchnorm" for u in users) and node.id not in model.graph.outputs:
            for kind, pname, _ in node.params:
                if kind == "param" and pname.endswith(".bias"):
                    dead.add(pname)
    return dead


def adam_step_bound(beta1, beta2, t):
    """The most |m_hat| / sqrt(v_hat) can be at step t for any gradients:
    m_hat = sum w_i g_i and v_hat = sum u_i g_i^2 (bias-corrected weights
    summing to 1), so by Cauchy-Schwarz |m_hat| <= sqrt(sum w_i^2 / u_i)
    sqrt(v_hat)."""
    total = 0.0
    for i in range(1, t + 1):
        w = (1 - beta1) * beta1 ** (t - i) / (1 - beta1 ** t)
        u = (1 - beta2) * beta2 ** (t - i) / (1 - beta2 ** t)
        total += w * w / u
    return total ** 0.5


def tensor_scale(t):
    return max(t.detach().abs().max().item(), 1e-30) if t.numel() else 1.0


def compare_optimizer_state(check, model, word, h, opt, params, zero_grad, flat):
    """The checkpoint's optimizer section against torch.optim's state.
    zero_grad: the parameters whose gradient is 0 by construction, with the
    most |p| they can reach."""
    n = model.num_params
    if word == "sgd":
        names = ["momentum_buffer"] if opt.param_groups[0]["momentum"] != 0 else []
    else:
        names = ["exp_avg", "exp_avg_sq"]
    if flat.numel() != n * len(names):
        check.failures += 1
        print("FAIL optimizer state: %d values, expected %d" % (flat.numel(), n * len(names)))
        return
    for i, sname in enumerate(names):
        want = torch.cat([opt.state[p][sname].detach().reshape(-1) for p in params])
        got = flat[i * n:(i + 1) * n]
        # Each tensor to its own scale, at least 1% of the largest in the
        # model (as gradients in run_ref.py: state that is 0 in exact
        # arithmetic, such as a bias before batchnorm's, is rounding noise).
        floor = 1e-2 * want.abs().max().item()
        for pname, off, dims in model.param_layout:
            w = want[off:off + ref._numel(dims)]
            scale = max(w.abs().max().item(), floor, 1e-30)
            if word == "adam" and pname in zero_grad:
                # Its "gradient" is weight_decay * p (and noise), p as far
                # as Adam took it (see the top): the moments are bounded by
                # g and g^2 for the largest such g.
                g = h["weight_decay"] * zero_grad[pname]
                bound = g if sname == "exp_avg" else g * g
                scale = max(scale, (bound + w.abs().max().item()) / check.tolerance)
                check.compare("state  %s %s (0 gradient)" % (pname, sname),
                              got[off:off + w.numel()], w, scale=scale)
                continue
            check.compare("state  %s %s" % (pname, sname), got[off:off + w.numel()], w,
                          scale=scale)


if __name__ == "__main__":
    sys.exit(main())
