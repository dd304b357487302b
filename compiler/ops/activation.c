/* ops/activation.c - relu, leaky_relu, sigmoid, tanh, softmax, log_softmax. */
#include "../nncc.h"

static const ArgSpec no_args[] = {{0}};

/* NaN stays NaN, as in PyTorch (so a NaN input makes the loss NaN). */
static const char *map_relu(KernelBuilder *e, const IrNode *n, const char *const *in,
                            const char *i) {
  (void)e, (void)n, (void)i;
  return arena_printf("%s < 0 ? 0 : %s", in[0], in[0]);
}

/* Gradients of the elementwise activations, from their output y where it
 * tells the slope (relu, sigmoid, tanh) and else from their input. */
static void grad_relu(AD *ad, IrNode *n, Value *dy) {
  grad_elementwise(ad, n, dy, OP_RELU_GRAD, true);
}
/* y > 0 ? dy : 0, for float by the bits of y and dy: GCC at -O2 keeps a
 * branch for the ?: when dy is computed in the loop (a product that may
 * trap, which it will not hoist out of the branch), and the loop does not
 * vectorize.  The same values, NaN and -0 included. */
static const char where_positive[] =
    "/* y > 0 ? a : 0, without a branch: a's bits where y's, read as an int,\n"
    " * are those of a positive float (0 < bits <= +inf), else +0. */\n"
    "static float nncc_where_positive(float y, float a) {\n"
    "  int32_t yb;\n"
    "  uint32_t ab;\n"
    "  memcpy(&yb, &y, sizeof yb);\n"
    "  memcpy(&ab, &a, sizeof ab);\n"
    "  ab &= 0u - (uint32_t)((yb > 0) & (yb <= 0x7f800000));\n"
    "  memcpy(&a, &ab, sizeof a);\n"
    "  return a;\n"
    "}\n\n";

static const char *map_relu_grad(KernelBuilder *e, const IrNode *n, const char *const *in,
                                 const char *i) {
  (void)n, (void)i;
  if (e->T[0] == 'f')
    return arena_printf("%s(%s, %s)", k_helper(e, "nncc_where_positive", where_positive), in[1], in[0]);
  return arena_printf("%s > 0 ? %s : 0", in[1], in[0]);  /* double: the gradient checks */
}

const OpInfo op_relu_grad = {
    .name = "relu_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_ELEMENTWISE,
    .args = no_args,
    .map = map_relu_grad,
    .summary = "(dy, y) -> dy where y > 0",
};


const OpInfo op_relu = {
    .name = "relu",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = no_args,
    .shape = elementwise_shape,
    .map = map_relu,
    .grad = grad_relu,
    .summary = "max(x, 0)",
};

static const ArgSpec leaky_relu_args[] = {{"slope", ARG_NUM, .def = 0.01}, {0}};

static const char *map_leaky_relu(KernelBuilder *e, const IrNode *n, const char *const *in,
                                  const char *i) {
  (void)i;
  return arena_printf("%s > 0 ? %s : %s * %s", in[0], in[0], lit(e, attr_num(n, "slope")), in[0]);
}

static void grad_leaky_relu(AD *ad, IrNode *n, Value *dy) {
  grad_elementwise(ad, n, dy, OP_LEAKY_RELU_GRAD, false);
}
static const char *map_leaky_relu_grad(KernelBuilder *e, const IrNode *n,
                                       const char *const *in, const char *i) {
  (void)i;
  return arena_printf("%s > 0 ? %s : %s * %s", in[1], in[0], lit(e, attr_num(n->fwd, "slope")),
                      in[0]);
}

const OpInfo op_leaky_relu_grad = {
    .name = "leaky_relu_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_ELEMENTWISE,
    .args = no_args,
    .map = map_leaky_relu_grad,
    .summary = "(dy, x) -> dy, or slope * dy where x <= 0",
};

const OpInfo op_leaky_relu = {
    .name = "leaky_relu",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = leaky_relu_args,
    .shape = elementwise_shape,
    .map = map_leaky_relu,
    .grad = grad_leaky_relu,
    .summary = "x if x > 0 else slope * x",
};

/* Stable both ways: exp of a negative number only. */
static const char *map_sigmoid(KernelBuilder *e, const IrNode *n, const char *const *in,
                               const char *i) {
  (void)n, (void)i;
  const char *ex = mathfn(e, "exp"), *v = in[0];
  return arena_printf("%s >= 0 ? 1 / (1 + %s(-%s)) : %s(%s) / (1 + %s(%s))", v, ex, v, ex, v, ex,
                      v);
}

static void grad_sigmoid(AD *ad, IrNode *n, Value *dy) {
  grad_elementwise(ad, n, dy, OP_SIGMOID_GRAD, true);
}
static const char *map_sigmoid_grad(KernelBuilder *e, const IrNode *n, const char *const *in,
                                    const char *i) {
  (void)e, (void)n, (void)i;
  return arena_printf("%s * %s * (1 - %s)", in[0], in[1], in[1]);
}

const OpInfo op_sigmoid_grad = {
    .name = "sigmoid_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_ELEMENTWISE,
    .args = no_args,
    .map = map_sigmoid_grad,
    .summary = "(dy, y) -> dy y (1 - y)",
};

const OpInfo op_sigmoid = {
    .name = "sigmoid",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = no_args,
    .shape = elementwise_shape,
    .map = map_sigmoid,
    .grad = grad_sigmoid,
    .summary = "1 / (1 + exp(-x))",
};

static const char *map_tanh(KernelBuilder *e, const IrNode *n, const char *const *in,
                            const char *i) {
  (void)n, (void)i;
  return arena_printf("%s(%s)", mathfn(e, "tanh"), in[0]);
}

static void grad_tanh(AD *ad, IrNode *n, Value *dy) {
  grad_elementwise(ad, n, dy, OP_TANH_GRAD, true);
}
static const char *map_tanh_grad(KernelBuilder *e, const IrNode *n, const char *const *in,
                                 const char *i) {
  (void)e, (void)n, (void)i;
  return arena_printf("%s * (1 - %s * %s)", in[0], in[1], in[1]);
}

const OpInfo op_tanh_grad = {
    .name = "tanh_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_ELEMENTWISE,
    .args = no_args,
    .map = map_tanh_grad,
    .summary = "(dy, y) -> dy (1 - y^2)",
};

const OpInfo op_tanh = {
    .name = "tanh",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = no_args,
    .shape = elementwise_shape,
    .map = map_tanh,
    .grad = grad_tanh,
    .summary = "tanh(x)",
};

/* axis counts per-sample dimensions: 0 is the first after the batch (PyTorch's
 * dim=1), so the default normalises over features or over channels. */
static const ArgSpec softmax_args[] = {
    {"axis", ARG_INT, .def = 0, .min = -MAX_RANK, .max = MAX_RANK - 1, .has_range = true},
    {0},
};

static bool shape_softmax(IrNode *n) {
  const Type *t = &n->in[0]->ty;
  int64_t axis = attr_int(n, "axis");
  if (axis < -t->rank || axis >= t->rank) {
    error_at(attr_get(n, "axis")->loc, "%s: axis %lld is out of range for %s (rank %d)",
             op_table[n->op]->name, (long long)axis, type_str(t), t->rank);
    return false;
  }
  return elementwise_shape(n);
}

/* Along one axis: the values are [outer, n, inner] per sample; subtract the
 * maximum before exp, so no input overflows. */
static void emit_softmax(KernelBuilder *e, const IrNode *n) {
  const Type *t = &n->in[0]->ty;
  int axis = (int)attr_int(n, "axis");
  if (axis < 0)
    axis += t->rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++)
    outer *= t->dims[i];
  for (int i = axis + 1; i < t->rank; i++)
    inner *= t->dims[i];
  bool log = n->op == OP_LOG_SOFTMAX;
  k_begin(e, n, NULL);
  k_in(e, "x", 0);
  k_out(e, "y");
  k_line(e, "const int outer = %lld, n = %lld, inner = %lld;", (long long)outer,
         (long long)t->dims[axis], (long long)inner);
  k_line(e, "for (size_t o = 0; o < (size_t)batch * outer; o++) {");
  k_line(e, "for (int i = 0; i < inner; i++) {");
  k_line(e, "const %s *xs = x + o * n * inner + i;", e->T);
  k_line(e, "%s *ys = y + o * n * inner + i;", e->T);
  k_line(e, "%s max = xs[0];", e->T);
  k_line(e, "for (int k = 1; k < n; k++) {");
  k_line(e, "if (xs[k * inner] > max) {");
  k_line(e, "max = xs[k * inner];");
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "double sum = 0;");
  k_line(e, "for (int k = 0; k < n; k++) {");
  k_line(e, "sum += %s(xs[k * inner] - max);", mathfn(e, "exp"));
  k_line(e, "}");
  if (log) {
    k_line(e, "%s lse = max + (%s)log(sum);", e->T, e->T);
    k_line(e, "for (int k = 0; k < n; k++) {");
    k_line(e, "ys[k * inner] = xs[k * inner] - lse;");
  } else {
    k_line(e, "%s inv = (%s)(1.0 / sum);", e->T, e->T);
    k_line(e, "for (int k = 0; k < n; k++) {");
    k_line(e, "ys[k * inner] = %s(xs[k * inner] - max) * inv;", mathfn(e, "exp"));
  }
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

/* From the output y along the axis: softmax dx = y (dy - sum(dy y));
 * log_softmax dx = dy - exp(y) sum(dy). */
static void grad_softmax(AD *ad, IrNode *n, Value *dy) {
  grad_elementwise(ad, n, dy, n->op == OP_SOFTMAX ? OP_SOFTMAX_GRAD : OP_LOG_SOFTMAX_GRAD, true);
}

static void emit_softmax_grad(KernelBuilder *e, const IrNode *n) {
  const IrNode *f = n->fwd;
  const Type *t = &f->out->ty;
  int axis = (int)attr_int(f, "axis");
  if (axis < 0)
    axis += t->rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++)
    outer *= t->dims[i];
  for (int i = axis + 1; i < t->rank; i++)
    inner *= t->dims[i];
  bool log = f->op == OP_LOG_SOFTMAX;
  k_begin(e, n, "backward");
  k_in(e, "dy", 0);
  k_in(e, "y", 1);
  k_out(e, "dx");
  k_line(e, "const int outer = %lld, n = %lld, inner = %lld;", (long long)outer,
         (long long)t->dims[axis], (long long)inner);
  k_line(e, "for (size_t o = 0; o < (size_t)batch * outer; o++) {");
  k_line(e, "for (int i = 0; i < inner; i++) {");
  k_line(e, "size_t base = o * n * inner + i;");
  k_line(e, "double dot = 0;");
  k_line(e, "for (int k = 0; k < n; k++) {");
  k_line(e, log ? "dot += dy[base + (size_t)k * inner];"
                : "dot += dy[base + (size_t)k * inner] * y[base + (size_t)k * inner];");
  k_line(e, "}");
  k_line(e, "for (int k = 0; k < n; k++) {");
  k_line(e, "size_t j = base + (size_t)k * inner;");
  if (log)
    k_line(e, "dx[j] = (%s)(dy[j] - %s(y[j]) * dot);", e->T, mathfn(e, "exp"));
  else
    k_line(e, "dx[j] = (%s)(y[j] * (dy[j] - dot));", e->T);
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

const OpInfo op_softmax_grad = {
    .name = "softmax_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_PER_SAMPLE,
    .args = no_args,
    .emit = emit_softmax_grad,
    .summary = "(dy, y) -> y (dy - sum(dy y)) along the axis",
};

const OpInfo op_log_softmax_grad = {
    .name = "log_softmax_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_PER_SAMPLE,
    .args = no_args,
    .emit = emit_softmax_grad,
    .summary = "(dy, y) -> dy - exp(y) sum(dy) along the axis",
};

const OpInfo op_softmax = {
    .name = "softmax",
    .ninputs = 1,
    .flags = OPF_PER_SAMPLE,
    .args = softmax_args,
    .shape = shape_softmax,
    .emit = emit_softmax,
    .grad = grad_softmax,
    .summary = "exp(x) / sum(exp(x)) along axis (default 0: features or channels)",
};

const OpInfo op_log_softmax = {
    .name = "log_softmax",
    .ninputs = 1,
    .flags = OPF_PER_SAMPLE,
    .args = softmax_args,
    .shape = shape_softmax,
    .emit = emit_softmax,
    .grad = grad_softmax,
    .summary = "x - log(sum(exp(x))) along axis",
};
