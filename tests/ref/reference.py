"""reference.py - a PyTorch reference interpreter for nncc models.

It reads what nncc prints about a model (`--emit=ir`, `--emit=params`), the
checkpoint the generated code wrote (runtime/ckpt.c's format), and evaluates
the graph with torch.nn.functional, with PyTorch's semantics for every op of
the v1 table (DESIGN.md section 1).  run_ref.py compares
the generated C against it.

    import reference as ref
    model = ref.Model.from_nncc(nncc, "model.nn")
    state = model.load_checkpoint("model.ckpt")          # params + buffers
    outs, values = model.forward(state, [x], training=False)
    loss = model.loss(values, [labels])                  # autograd-ready

Parameters are leaf tensors (requires_grad on request), so gradients of the
loss come from autograd: `model.flat_grads(state)` lays them out as the
generated NAME_grads buffer (`--emit=params` order, PyTorch layouts).
"""

import re
import struct
import subprocess
import sys
import zlib

import torch
import torch.nn.functional as F


class NotComparable(Exception):
    """The result depends on randomness the reference cannot reproduce."""


# ---------------------------------------------------------------- the IR

class Type:
    """f32[d0, d1, ...] per sample, class[n] (one int32 per sample), or a loss."""

    def __init__(self, kind, dims=(), nclasses=0):
        self.kind, self.dims, self.nclasses = kind, tuple(dims), nclasses

    def numel(self):
        if self.kind == "class":
            return 1
        n = 1
        for d in self.dims:
            n *= d
        return n

    def __repr__(self):
        if self.kind == "class":
            return "class[%d]" % self.nclasses
        if self.kind == "loss":
            return "f32 (loss)"
        return "f32[%s]" % ", ".join(map(str, self.dims))


class Node:
    def __init__(self, vid, op):
        self.id, self.op = vid, op
        self.inputs = []       # value ids
        self.attrs = {}        # name -> bool | float | str | list | (word, {sub attrs})
        self.layer = None      # @name
        self.io_name = None    # input/label "name"
        self.type = None
        self.name = None       # the bound .nn name (the // comment)
        self.params = []       # [(kind "param"|"buffer", full name, dims)]

    def attr(self, key):
        return self.attrs[key]

    def pair(self, key):
        """An INT2 attribute (`3` or `[3, 5]`) as two ints."""
        v = self.attrs[key]
        if isinstance(v, list):
            return (int(v[0]), int(v[1]))
        return (int(v), int(v))

    def __repr__(self):
        return "%%%d = %s(%s) %s : %s" % (self.id, self.op,
                                         ", ".join("%%%d" % i for i in self.inputs),
                                         self.attrs, self.type)


class Graph:
    def __init__(self):
        self.name = None
        self.nodes = []        # source (= topological) order
        self.by_id = {}
        self.inputs = []       # input nodes, in order
        self.labels = []       # label nodes, in order
        self.outputs = []      # value ids
        self.losses = []       # [(value id, weight)]


def _split_top(text, sep=","):
    """Splits at sep outside of () and []."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def _parse_value(text):
    text = text.strip()
    if text == "true":
        return True
    if text == "false":
        return False
    if text.startswith("["):
        return [_parse_value(t) for t in _split_top(text[1:-1])]
    if text.startswith('"'):
        return text[1:-1]
    m = re.fullmatch(r"(\w+)\((.*)\)", text)
    if m:  # a call such as normal(std=0.01)
        return (m.group(1), _parse_attrs(m.group(2)))
    try:
        return float(text)
    except ValueError:
        return text  # a word: same, he_normal, none


def _parse_attrs(text):
    attrs = {}
    for item in _split_top(text):
        key, _, val = item.partition("=")
        attrs[key.strip()] = _parse_value(val)
    return attrs


def _parse_type(text):
    text = text.strip()
    if text == "f32 (loss)":
        return Type("loss")
    m = re.fullmatch(r"class\[(\d+)\]", text)
    if m:
        return Type("class", nclasses=int(m.group(1)))
    m = re.fullmatch(r"f32\[([0-9, ]*)\]", text)
    if m:
        return Type("f32", [int(d) for d in m.group(1).split(",") if d.strip()])
    raise ValueError("cannot parse the type %r" % text)


_NODE = re.compile(r"%(\d+) = (\w+)")


def parse_ir(text):
    """The graph printed by `nncc --emit=ir` (compiler/ir.c print_ir)."""
    g = Graph()
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        if line.startswith("    "):  # a param/buffer line of the node above
            kind, name, _, ty = line.split(None, 3)
            g.nodes[-1].params.append((kind, name, _parse_type(ty).dims))
            continue
        if line.startswith("model "):
            g.name = line.split()[1]
            continue
        m = re.fullmatch(r"output %(\d+) : .*", line)
        if m:
            g.outputs.append(int(m.group(1)))
            continue
        m = re.fullmatch(r"loss %(\d+) weight=(\S+)", line)
        if m:
            g.losses.append((int(m.group(1)), float(m.group(2))))
            continue
        m = _NODE.match(line)
        if not m:
            continue  # params/train/test summary lines
        node = Node(int(m.group(1)), m.group(2))
        rest = line[m.end():]
        if "  // " in rest:  # the bound name (and maybe a location)
            rest, _, comment = rest.partition("  // ")
            node.name = comment.split(",")[0].strip()
        if rest.startswith(' "'):
            end = rest.index('"', 2)
            node.io_name = rest[2:end]
            rest = rest[end + 1:]
        else:
            end = rest.index(")")
            node.inputs = [int(t.strip()[1:]) for t in rest[1:end].split(",") if t.strip()]
            rest = rest[end + 1:]
        if rest.startswith(" {"):
            depth = 0
            for i, ch in enumerate(rest):
                depth += ch == "{"
                depth -= ch == "}"
                if ch == "}" and depth == 0:
                    break
            node.attrs = _parse_attrs(rest[2:i])
            rest = rest[i + 1:]
        m2 = re.match(r" @(\S+)", rest)
        if m2:
            node.layer = m2.group(1)
            rest = rest[m2.end():]
        if not rest.startswith(" : "):
            raise ValueError("cannot parse IR line: %r" % line)
        node.type = _parse_type(rest[3:])
        g.nodes.append(node)
        g.by_id[node.id] = node
        if node.op == "input":
            g.inputs.append(node)
        elif node.op == "label":
            g.labels.append(node)
    return g


def parse_params(text):
    """`nncc --emit=params`: [(name, offset, dims)] in buffer order."""
    out = []
    for line in text.splitlines():
        if line.strip():
            name, off, dims = line.split()
            out.append((name, int(off), tuple(int(d) for d in dims.split("x"))))
    return out


# -------------------------------------------------------------- checkpoints

CKPT_MAGIC = b"NNRTCKPT"
CKPT_VERSION = 1


def read_checkpoint(path):
    """runtime/ckpt.c's format: a dict with version, elem_size, fingerprint,
    step and sections (a list of bytes).  Checks the magic, sizes and CRC."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 44 or data[:8] != CKPT_MAGIC:
        raise ValueError("%s: not an nncc checkpoint" % path)
    version, elem_size, fingerprint, step, nsections, _ = struct.unpack_from("<IIQQII", data, 8)
    if version != CKPT_VERSION:
        raise ValueError("%s: checkpoint version %d, expected %d" % (path, version, CKPT_VERSION))
    sizes = struct.unpack_from("<%dQ" % nsections, data, 40)
    pos = 40 + 8 * nsections
    if pos + sum(sizes) + 4 != len(data):
        raise ValueError("%s: size %d does not match its header" % (path, len(data)))
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise ValueError("%s: CRC mismatch" % path)
    sections = []
    for n in sizes:
        sections.append(data[pos:pos + n])
        pos += n
    return {"version": version, "elem_size": elem_size, "fingerprint": fingerprint,
            "step": step, "sections": sections}


def _floats(raw, elem_size):
    dtype = torch.float64 if elem_size == 8 else torch.float32
    if not raw:
        return torch.zeros(0, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=dtype).clone()


class State:
    """Parameters (leaf tensors) and buffers by name, in the reference dtype."""

    def __init__(self, params, buffers, step=0):
        self.params, self.buffers, self.step = params, buffers, step

    def clone(self):
        return State({k: v.detach().clone().requires_grad_(v.requires_grad)
                      for k, v in self.params.items()},
                     {k: v.clone() for k, v in self.buffers.items()}, self.step)


# ------------------------------------------------------------------ the ops
#
# Each op: fn(node, xs, ctx) -> tensor, where xs are the input tensors with
# the batch first and ctx holds the state and the training flag.

class _Ctx:
    def __init__(self, state, training):
        self.state, self.training = state, training

    def param(self, node, role):
        key = "%s.%s" % (node.layer, role)
        if key in self.state.params:
            return self.state.params[key]
        return self.state.buffers.get(key)


def _channel_shape(x, n):
    """Broadcasts one value per channel (the first per-sample dimension)."""
    return [1, n] + [1] * (x.dim() - 2)


def op_normalize(node, xs, ctx):
    x = xs[0]
    mean, std = node.attr("mean"), node.attr("std")
    mean = torch.tensor(mean if isinstance(mean, list) else [mean], dtype=x.dtype)
    std = torch.tensor(std if isinstance(std, list) else [std], dtype=x.dtype)
    return (x - mean.reshape(_channel_shape(x, mean.numel()))) / \
        std.reshape(_channel_shape(x, std.numel()))


def op_linear(node, xs, ctx):
    return F.linear(xs[0], ctx.param(node, "weight"), ctx.param(node, "bias"))


def conv_pads(node):
    """[top, left, bottom, right], as compiler/ops/conv.c conv_pads: pad=same
    pads dilation * (kernel - 1) in all, the odd one at the bottom/right."""
    pad = node.attr("pad")
    if pad == "same":
        kh, kw = node.pair("kernel")
        dh, dw = node.pair("dilation")
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return [th // 2, tw // 2, th - th // 2, tw - tw // 2]
    ph, pw = node.pair("pad")
    return [ph, pw, ph, pw]


def op_conv2d(node, xs, ctx):
    x = xs[0]
    top, left, bottom, right = conv_pads(node)
    if top == bottom and left == right:
        padding = (top, left)
    else:  # asymmetric: pad explicitly (zeros), as F.conv2d only pads evenly
        x = F.pad(x, (left, right, top, bottom))
        padding = 0
    return F.conv2d(x, ctx.param(node, "weight"), ctx.param(node, "bias"),
                    stride=node.pair("stride"), padding=padding,
                    dilation=node.pair("dilation"), groups=int(node.attr("groups")))


def op_maxpool(node, xs, ctx):
    return F.max_pool2d(xs[0], node.pair("size"), stride=node.pair("stride"),
                        padding=node.pair("pad"))


def op_avgpool(node, xs, ctx):
    return F.avg_pool2d(xs[0], node.pair("size"), stride=node.pair("stride"),
                        padding=node.pair("pad"), count_include_pad=True)


def op_global_avgpool(node, xs, ctx):
    return xs[0].mean(dim=(2, 3))


def op_batchnorm(node, xs, ctx):
    # In training F.batch_norm normalises with the batch mean and biased
    # variance and moves the running statistics in place (the variance by
    # its unbiased estimate): the state's buffers are updated, as the C's.
    return F.batch_norm(xs[0], ctx.param(node, "running_mean"), ctx.param(node, "running_var"),
                        ctx.param(node, "weight"), ctx.param(node, "bias"),
                        training=ctx.training, momentum=float(node.attr("momentum")),
                        eps=float(node.attr("eps")))


def op_dropout(node, xs, ctx):
    if ctx.training and float(node.attr("p")) > 0:
        raise NotComparable("dropout in training mode draws random masks")
    return xs[0]


def op_softmax(node, xs, ctx, log=False):
    x = xs[0]
    axis = int(node.attr("axis"))
    if axis < 0:
        axis += x.dim() - 1  # counted over the per-sample dimensions
    return (F.log_softmax if log else F.softmax)(x, dim=axis + 1)


def op_concat(node, xs, ctx):
    axis = int(node.attr("axis"))
    if axis < 0:
        axis += xs[0].dim() - 1
    return torch.cat(xs, dim=axis + 1)


# Losses: the mean over the batch (and elements), PyTorch's default reduction.
def op_softmax_cross_entropy(node, xs, ctx):
    return F.cross_entropy(xs[0], xs[1].long().reshape(-1))


def op_binary_cross_entropy(node, xs, ctx):
    return F.binary_cross_entropy(xs[0], xs[1])


def op_sigmoid_cross_entropy(node, xs, ctx):
    return F.binary_cross_entropy_with_logits(xs[0], xs[1])


def op_mse(node, xs, ctx):
    return F.mse_loss(xs[0], xs[1])


OPS = {
    "normalize": op_normalize,
    "linear": op_linear,
    "conv2d": op_conv2d,
    "maxpool": op_maxpool,
    "avgpool": op_avgpool,
    "global_avgpool": op_global_avgpool,
    "batchnorm": op_batchnorm,
    "dropout": op_dropout,
    "relu": lambda n, xs, c: F.relu(xs[0]),
    "leaky_relu": lambda n, xs, c: F.leaky_relu(xs[0], negative_slope=float(n.attr("slope"))),
    "sigmoid": lambda n, xs, c: torch.sigmoid(xs[0]),
    "tanh": lambda n, xs, c: torch.tanh(xs[0]),
    "softmax": op_softmax,
    "log_softmax": lambda n, xs, c: op_softmax(n, xs, c, log=True),
    "flatten": lambda n, xs, c: xs[0].reshape(xs[0].shape[0], -1),
    "add": lambda n, xs, c: xs[0] + xs[1],
    "concat": op_concat,
    "softmax_cross_entropy": op_softmax_cross_entropy,
    "binary_cross_entropy": op_binary_cross_entropy,
    "sigmoid_cross_entropy": op_sigmoid_cross_entropy,
    "mse": op_mse,
}
LOSSES = {"softmax_cross_entropy", "binary_cross_entropy", "sigmoid_cross_entropy", "mse"}
RANDOM_IN_TRAINING = {"dropout"}


# ----------------------------------------------------------------- the model

class Model:
    def __init__(self, ir_text, params_text, dtype=torch.float64):
        self.graph = parse_ir(ir_text)
        self.dtype = dtype
        self.param_layout = parse_params(params_text)
        # The buffers (batchnorm running statistics) in IR order, packed.
        self.buffer_layout, off = [], 0
        for node in self.graph.nodes:
            for kind, name, dims in node.params:
                if kind == "buffer":
                    self.buffer_layout.append((name, off, dims))
                    off += _numel(dims)
        self._check_layout()

    @classmethod
    def from_nncc(cls, nncc, model_path, dtype=torch.float64):
        def run(*args):
            return subprocess.run([nncc] + list(args) + [model_path], check=True,
                                  stdout=subprocess.PIPE, universal_newlines=True).stdout
        return cls(run("--emit=ir"), run("--emit=params"), dtype)

    def _check_layout(self):
        """--emit=params agrees with the IR's param lines: same tensors, same
        order, packed without gaps."""
        ir_params = [(name, dims) for n in self.graph.nodes
                     for kind, name, dims in n.params if kind == "param"]
        listed = [(name, dims) for name, _, dims in self.param_layout]
        if ir_params != listed:
            raise ValueError("--emit=params %s disagrees with the IR %s" % (listed, ir_params))
        off = 0
        for name, o, dims in self.param_layout:
            if o != off:
                raise ValueError("%s at offset %d, expected %d" % (name, o, off))
            off += _numel(dims)

    @property
    def num_params(self):
        return sum(_numel(d) for _, _, d in self.param_layout)

    @property
    def num_buffers(self):
        return sum(_numel(d) for _, _, d in self.buffer_layout)

    def has_random_training(self):
        return any(n.op in RANDOM_IN_TRAINING and float(n.attrs.get("p", 0)) > 0
                   for n in self.graph.nodes)

    # -- state

    def state_from_flat(self, params, buffers, requires_grad=False, step=0):
        """Splits flat parameter and buffer vectors (the generated code's
        NAME_params and buffers) into named tensors in PyTorch's shapes."""
        if params.numel() != self.num_params or buffers.numel() != self.num_buffers:
            raise ValueError("expected %d params and %d buffer values, got %d and %d"
                             % (self.num_params, self.num_buffers, params.numel(),
                                buffers.numel()))
        p = {name: params[off:off + _numel(d)].reshape(d).to(self.dtype).clone()
             .requires_grad_(requires_grad) for name, off, d in self.param_layout}
        b = {name: buffers[off:off + _numel(d)].reshape(d).to(self.dtype).clone()
             for name, off, d in self.buffer_layout}
        return State(p, b, step)

    def load_checkpoint(self, path, requires_grad=False):
        ck = read_checkpoint(path)
        # Sections: parameters, buffers, then (models with a loss) the
        # optimizer state, which the forward comparisons do not need.
        if len(ck["sections"]) < 2:
            raise ValueError("%s: %d sections, expected params and buffers first"
                             % (path, len(ck["sections"])))
        es = ck["elem_size"]
        return self.state_from_flat(_floats(ck["sections"][0], es), _floats(ck["sections"][1], es),
                                    requires_grad, ck["step"])

    def flat(self, tensors, layout):
        return torch.cat([tensors[name].detach().reshape(-1) for name, _, _ in layout]) \
            if layout else torch.zeros(0, dtype=self.dtype)

    def flat_params(self, state):
        return self.flat(state.params, self.param_layout)

    def flat_buffers(self, state):
        return self.flat(state.buffers, self.buffer_layout)

    def flat_grads(self, state):
        """The gradients after loss.backward(), laid out as NAME_grads."""
        return self.flat({k: (v.grad if v.grad is not None else torch.zeros_like(v))
                          for k, v in state.params.items()}, self.param_layout)

    # -- evaluation

    def split_inputs(self, flat, batch):
        """The driver's x (each input for the whole batch, one after another)
        as one [batch, *dims] tensor per input."""
        return _split(flat, batch, [n.type.dims for n in self.graph.inputs], self.dtype)

    def split_labels(self, flat, batch):
        return _split(flat, batch, [n.type.dims if n.type.kind == "f32" else ()
                                    for n in self.graph.labels], None)

    def forward(self, state, inputs, training=False, labels=None):
        """Evaluates the graph in order: returns (outputs, values by id).
        Batchnorm in training updates state.buffers, as the generated code.
        Losses are evaluated only when labels are given."""
        ctx = _Ctx(state, training)
        vals = {}
        for i, node in enumerate(self.graph.inputs):
            vals[node.id] = inputs[i].to(self.dtype)
        for i, node in enumerate(self.graph.labels):
            if labels is not None:
                vals[node.id] = labels[i] if node.type.kind == "class" else labels[i].to(self.dtype)
        wanted = list(self.graph.outputs)
        if labels is not None:
            wanted += [vid for vid, _ in self.graph.losses]
        need = self.needed(wanted)
        for node in self.graph.nodes:
            if node.op in ("input", "label") or node.id not in need:
                continue  # such as backward and optimizer nodes of the training graph
            if node.op not in OPS:
                raise NotImplementedError("reference: no rule for op '%s'" % node.op)
            y = OPS[node.op](node, [vals[i] for i in node.inputs], ctx)
            if node.type.kind == "f32" and tuple(y.shape[1:]) != node.type.dims:
                raise ValueError("%%%d %s: PyTorch gives per-sample shape %s, nncc says %s"
                                 % (node.id, node.op, list(y.shape[1:]), node.type))
            vals[node.id] = y
        return [vals[i] for i in self.graph.outputs], vals

    def needed(self, ids):
        """The ids of the values these depend on (themselves included)."""
        need, todo = set(), list(ids)
        while todo:
            vid = todo.pop()
            if vid not in need:
                need.add(vid)
                todo.extend(self.graph.by_id[vid].inputs)
        return need

    def loss(self, values):
        """The objective: the weighted sum of the loss lines (after a forward
        with labels)."""
        total = None
        for vid, weight in self.graph.losses:
            term = weight * values[vid]
            total = term if total is None else total + term
        return total


def _numel(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def _split(flat, batch, shapes, dtype):
    out, pos = [], 0
    for dims in shapes:
        n = batch * _numel(dims)
        t = flat[pos:pos + n].reshape((batch,) + tuple(dims))
        out.append(t.to(dtype) if dtype is not None else t)
        pos += n
    if pos != flat.numel():
        raise ValueError("expected %d values, got %d" % (pos, flat.numel()))
    return out


if __name__ == "__main__":
    # Debugging aid: reference.py NNCC MODEL.nn prints the parsed graph.
    m = Model.from_nncc(sys.argv[1], sys.argv[2])
    for n in m.graph.nodes:
        print(n, "@" + n.layer if n.layer else "", n.params or "")
    print("outputs", m.graph.outputs, "losses", m.graph.losses)
    print("params", m.param_layout)
    print("buffers", m.buffer_layout)
