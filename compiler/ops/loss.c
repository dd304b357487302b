/* ops/loss.c - the losses.  Each takes (prediction, target) and gives one
 * f32 for the batch, the mean as PyTorch's default reduction. */
#include "../nncc.h"

static const ArgSpec no_args[] = {{0}};

/* Backward nodes of a loss: (prediction, target) -> the gradient of one of
 * them (wrt 0 or 1), scaled by the loss's weight. */
static const ArgSpec loss_grad_args[] = {
    {.name = "weight", .kind = ARG_NUM}, {.name = "wrt", .kind = ARG_INT}, {0}};

static void grad_loss(AD *ad, IrNode *n, Value *dy) {
  (void)dy;  /* a loss's gradient is its weight */
  for (int i = 0; i < 2; i++) {
    if (!ad_needs(ad, n->in[i]))
      continue;
    Value *in[2] = {n->in[0], n->in[1]};
    IrNode *g = ad_node(ad, n->op + 1, n, in, 2, n->in[i]->ty);  /* the _grad row */
    set_attr(g, "weight", ad_loss_weight(ad, n));
    set_attr(g, "wrt", i);
    ad_accum(ad, n->in[i], g->out);
  }
}

/* The common head of a loss kernel: x, the target t, the loss value. */
static void loss_kernel_begin(KernelBuilder *e, const IrNode *n, const char *what) {
  k_begin(e, n, what);
  k_in(e, "x", 0);
  k_in(e, "t", 1);
  k_out(e, "loss");
}

static void loss_grad_begin(KernelBuilder *e, const IrNode *n) {
  k_begin(e, n, attr_int(n, "wrt") ? "backward, for the target" : "backward");
  k_in(e, "x", 0);
  k_in(e, "t", 1);
  k_out(e, "dx");
}

/* Elementwise losses: mean over all values of f(x, t); the gradient of the
 * chosen input is weight / N times df. */
static void emit_elementwise_loss(KernelBuilder *e, const IrNode *n, const char *term) {
  loss_kernel_begin(e, n, "mean over all values");
  k_line(e, "const size_t count = (size_t)batch * %lld;", (long long)type_numel(&n->in[0]->ty));
  k_line(e, "double sum = 0;");
  k_line(e, "for (size_t i = 0; i < count; i++) {");
  k_line(e, "double v = x[i], y = t[i];");
  k_line(e, "sum += %s;", term);
  k_line(e, "}");
  k_line(e, "loss[0] = (%s)(sum / (double)count);", e->T);
  k_end(e);
}

static void emit_elementwise_loss_grad(KernelBuilder *e, const IrNode *n, const char *d_pred,
                                       const char *d_target) {
  loss_grad_begin(e, n);
  k_line(e, "const size_t count = (size_t)batch * %lld;", (long long)type_numel(&n->in[0]->ty));
  k_line(e, "const double scale = %s / (double)count;", dlit(attr_num(n, "weight")));
  k_line(e, "for (size_t i = 0; i < count; i++) {");
  k_line(e, "double v = x[i], y = t[i];");
  k_line(e, "dx[i] = (%s)(scale * (%s));", e->T, attr_int(n, "wrt") ? d_target : d_pred);
  k_line(e, "}");
  k_end(e);
}

static bool set_loss(IrNode *n) {
  n->out->ty.kind = T_SCALAR;
  n->out->ty.rank = 0;
  return true;
}

static const char *target_text(const IrNode *n) {
  const Value *t = n->in[1];
  if (t->is_label && t->name)
    return arena_printf("label '%s' is %s", t->name, type_str(&t->ty));
  return arena_printf("the target is %s", type_str(&t->ty));
}

static bool shape_softmax_cross_entropy(IrNode *n) {
  const Type *x = &n->in[0]->ty, *y = &n->in[1]->ty;
  if (!expect_rank(n, 0, 1, NULL))
    return false;
  if (y->kind != T_CLASS) {
    error_at(n->loc, "softmax_cross_entropy needs a class label as its target (such as "
             "`label target : class[%lld]`), but %s", (long long)x->dims[0], target_text(n));
    return false;
  }
  if (y->nclasses != x->dims[0]) {
    error_at(n->loc, "softmax_cross_entropy: the logits %s have %lld classes, but %s",
             type_str(x), (long long)x->dims[0], target_text(n));
    return false;
  }
  return set_loss(n);
}

/* mean over the batch of logsumexp(x) - x[label]; a label outside
 * [0, classes) makes the loss NaN, so train_step changes nothing. */
static void emit_softmax_cross_entropy(KernelBuilder *e, const IrNode *n) {
  loss_kernel_begin(e, n, "log-sum-exp form, mean over the batch");
  k_line(e, "const int C = %lld;", (long long)n->in[0]->ty.dims[0]);
  k_line(e, "double sum = 0;");
  k_line(e, "for (int s = 0; s < batch; s++) {");
  k_line(e, "const %s *z = x + (size_t)s * C;", e->T);
  k_line(e, "if (t[s] < 0 || t[s] >= C) {");
  k_line(e, "sum = NAN;");
  k_line(e, "break;");
  k_line(e, "}");
  k_line(e, "double max = z[0], acc = 0;");
  k_line(e, "for (int c = 1; c < C; c++) {");
  k_line(e, "max = z[c] > max ? z[c] : max;");
  k_line(e, "}");
  k_line(e, "for (int c = 0; c < C; c++) {");
  k_line(e, "acc += exp(z[c] - max);");
  k_line(e, "}");
  k_line(e, "sum += max + log(acc) - z[t[s]];");
  k_line(e, "}");
  k_line(e, "loss[0] = (%s)(sum / batch);", e->T);
  k_end(e);
}

/* d/dx = weight / batch (softmax(x) - onehot(label)). */
static void emit_softmax_cross_entropy_grad(KernelBuilder *e, const IrNode *n) {
  loss_grad_begin(e, n);
  k_line(e, "const int C = %lld;", (long long)n->in[0]->ty.dims[0]);
  k_line(e, "const double scale = %s / (double)batch;", dlit(attr_num(n, "weight")));
  k_line(e, "for (int s = 0; s < batch; s++) {");
  k_line(e, "const %s *z = x + (size_t)s * C;", e->T);
  k_line(e, "%s *d = dx + (size_t)s * C;", e->T);
  k_line(e, "double max = z[0], acc = 0;");
  k_line(e, "for (int c = 1; c < C; c++) {");
  k_line(e, "max = z[c] > max ? z[c] : max;");
  k_line(e, "}");
  k_line(e, "for (int c = 0; c < C; c++) {");
  k_line(e, "acc += exp(z[c] - max);");
  k_line(e, "}");
  k_line(e, "for (int c = 0; c < C; c++) {");
  k_line(e, "d[c] = (%s)(scale * (exp(z[c] - max) / acc - (c == t[s])));", e->T);
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

const OpInfo op_softmax_cross_entropy_grad = {
    .name = "softmax_cross_entropy_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL,
    .args = loss_grad_args,
    .emit = emit_softmax_cross_entropy_grad,
    .summary = "(logits, label) -> weight / batch (softmax - onehot)",
};

const OpInfo op_softmax_cross_entropy = {
    .name = "softmax_cross_entropy",
    .ninputs = 2,
    .flags = OPF_LOSS,
    .args = no_args,
    .shape = shape_softmax_cross_entropy,
    .emit = emit_softmax_cross_entropy,
    .grad = grad_loss,
    .summary = "-log softmax(logits)[label], mean over the batch (log-sum-exp form)",
};

/* The elementwise losses need a f32 target of the prediction's shape. */
static bool shape_elementwise_loss(IrNode *n) {
  const Type *x = &n->in[0]->ty, *y = &n->in[1]->ty;
  bool same = y->kind == T_F32 && x->rank == y->rank;
  for (int i = 0; same && i < x->rank; i++)
    same = x->dims[i] == y->dims[i];
  if (!same) {
    error_at(n->loc, "%s needs a f32 target of the same shape as its input %s, but %s%s",
             op_table[n->op]->name, type_str(x), target_text(n),
             y->kind == T_CLASS ? arena_printf("; declare the label as %s", type_str(x)) : "");
    return false;
  }
  return set_loss(n);
}

/* PyTorch's BCELoss: each log is clamped at -100, the gradient's
 * denominator p (1 - p) at 1e-12. */
static void emit_binary_cross_entropy(KernelBuilder *e, const IrNode *n) {
  /* Clamped so that NaN stays NaN (PyTorch's clamp; fmax would drop it). */
  emit_elementwise_loss(e, n, "-(y * (log(v) < -100.0 ? -100.0 : log(v)) + "
                              "(1 - y) * (log(1 - v) < -100.0 ? -100.0 : log(1 - v)))");
}

static void emit_binary_cross_entropy_grad(KernelBuilder *e, const IrNode *n) {
  emit_elementwise_loss_grad(e, n, "(v - y) / fmax(v * (1 - v), 1e-12)",
                             "fmax(log(1 - v), -100.0) - fmax(log(v), -100.0)");
}

const OpInfo op_binary_cross_entropy_grad = {
    .name = "binary_cross_entropy_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL,
    .args = loss_grad_args,
    .emit = emit_binary_cross_entropy_grad,
    .summary = "(p, t) -> weight / N (p - t) / (p (1 - p))",
};

const OpInfo op_binary_cross_entropy = {
    .name = "binary_cross_entropy",
    .ninputs = 2,
    .flags = OPF_LOSS,
    .args = no_args,
    .shape = shape_elementwise_loss,
    .emit = emit_binary_cross_entropy,
    .grad = grad_loss,
    .summary = "-(t log p + (1 - t) log(1 - p)), mean over all elements",
};

/* max(z, 0) - z t + log(1 + exp(-|z|)): never the log of a rounded 0. */
static void emit_sigmoid_cross_entropy(KernelBuilder *e, const IrNode *n) {
  emit_elementwise_loss(e, n, "fmax(v, 0.0) - v * y + log1p(exp(-fabs(v)))");
}

static void emit_sigmoid_cross_entropy_grad(KernelBuilder *e, const IrNode *n) {
  emit_elementwise_loss_grad(e, n, "(v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v))) - y",
                             "-v");
}

const OpInfo op_sigmoid_cross_entropy_grad = {
    .name = "sigmoid_cross_entropy_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL,
    .args = loss_grad_args,
    .emit = emit_sigmoid_cross_entropy_grad,
    .summary = "(z, t) -> weight / N (sigmoid(z) - t)",
};

const OpInfo op_sigmoid_cross_entropy = {
    .name = "sigmoid_cross_entropy",
    .ninputs = 2,
    .flags = OPF_LOSS,
    .args = no_args,
    .shape = shape_elementwise_loss,
    .emit = emit_sigmoid_cross_entropy,
    .grad = grad_loss,
    .summary = "binary cross-entropy on logits (stable form), mean over all elements",
};

static void emit_mse(KernelBuilder *e, const IrNode *n) {
  emit_elementwise_loss(e, n, "(v - y) * (v - y)");
}

static void emit_mse_grad(KernelBuilder *e, const IrNode *n) {
  emit_elementwise_loss_grad(e, n, "2 * (v - y)", "2 * (y - v)");
}

const OpInfo op_mse_grad = {
    .name = "mse_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL,
    .args = loss_grad_args,
    .emit = emit_mse_grad,
    .summary = "(y, t) -> weight / N 2 (y - t)",
};

const OpInfo op_mse = {
    .name = "mse",
    .ninputs = 2,
    .flags = OPF_LOSS,
    .args = no_args,
    .shape = shape_elementwise_loss,
    .emit = emit_mse,
    .grad = grad_loss,
    .summary = "mean of (y - t)^2 over all elements",
};
