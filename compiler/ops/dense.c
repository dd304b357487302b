/* ops/dense.c - linear, batchnorm, dropout, normalize. */
#include "../nncc.h"

#define NAME_ARG {.name = "name", .kind = ARG_NAME}

static const ArgSpec no_args[] = {{0}};

/* ------------------------------------------------------------- linear */

static const ArgSpec linear_args[] = {
    {"out", ARG_INT, .required = true, .min = 1, .max = 1e30, .has_range = true},
    {"bias", ARG_BOOL, .def = 1},
    {"init", ARG_INIT, .def_word = "he_uniform", .calls = init_calls},
    NAME_ARG,
    {0},
};

static bool shape_linear(IrNode *n) {
  if (!expect_rank(n, 0, 1, n->in[0]->ty.rank > 1 ? "; insert `flatten` before it" : NULL))
    return false;
  int64_t out = attr_int(n, "out");
  if (n->in[0]->ty.dims[0] > MAX_PARAMS / out) {
    error_at(n->loc, "linear: the weight f32[%lld, %lld] is too large", (long long)out,
             (long long)n->in[0]->ty.dims[0]);
    return false;
  }
  return set_out(n, 1, &out);
}

/* PyTorch's nn.Linear: weight [out, in], then bias [out]. */
static void params_linear(Graph *g, IrNode *n) {
  int64_t w[2] = {attr_int(n, "out"), n->in[0]->ty.dims[0]};
  add_weight(g, n, 2, w);
  if (attr_num(n, "bias"))
    add_param(g, n, "bias", true, 1, w, "zeros", 0);
}

/* Y[batch, out] = X[batch, in] W^T + b: one GEMM, the bias preloaded. */
static void emit_linear(KernelBuilder *e, const IrNode *n) {
  int64_t in = n->in[0]->ty.dims[0], out = attr_int(n, "out");
  bool bias = n->nparams > 1 && !k_bias_folded(e, n);
  k_begin(e, n, bias || n->nparams == 1 ? NULL : "the bias is added with the folded batchnorm");
  k_in(e, "x", 0);
  k_out(e, "y");
  k_param(e, "w", n->params[0], false);
  if (bias)
    k_param(e, "b", n->params[1], false);
  k_line(e, "const int in = %lld, out = %lld;", (long long)in, (long long)out);
  if (bias) {
    k_line(e, "for (int s = 0; s < batch; s++)");
    k_line(e, "  memcpy(y + (size_t)s * out, b, out * sizeof(%s));", e->T);
  }
  k_line(e, "%s(0, 1, batch, out, in, %s, x, in, w, in, %s, y, out);", gemm_fn(e), lit(e, 1),
         lit(e, bias ? 1 : 0));
  k_end(e);
}

/* dW = dy^T x, db = the sum of dy over the batch, dx = dy W. */
static void grad_linear(AD *ad, IrNode *n, Value *dy) { grad_layer(ad, n, dy, OP_LINEAR_GRAD); }

static void emit_linear_grad(KernelBuilder *e, const IrNode *n) {
  const IrNode *f = n->fwd;
  int64_t in = f->in[0]->ty.dims[0], out = attr_int(f, "out");
  bool bias = f->nparams > 1, dx = n->out->ty.kind != T_NONE;
  k_begin(e, n, "backward");
  k_in(e, "dy", 0);
  k_in(e, "x", 1);
  if (dx) {
    k_out(e, "dx");
    k_param(e, "w", f->params[0], false);  /* (dx = dy W; dW needs no W) */
  }
  k_grad(e, "dw", f->params[0]);
  if (bias)
    k_grad(e, "db", f->params[1]);
  k_line(e, "const int in = %lld, out = %lld;", (long long)in, (long long)out);
  k_line(e, "%s(1, 0, out, in, batch, %s, dy, out, x, in, %s, dw, in);", gemm_fn(e), lit(e, 1),
         lit(e, 0));
  if (bias) {
    k_line(e, "for (int o = 0; o < out; o++) {");
    k_line(e, "double sum = 0;");
    k_line(e, "for (int s = 0; s < batch; s++) {");
    k_line(e, "sum += dy[(size_t)s * out + o];");
    k_line(e, "}");
    k_line(e, "db[o] = (%s)sum;", e->T);
    k_line(e, "}");
  }
  if (dx)
    k_line(e, "%s(0, 0, batch, in, out, %s, dy, out, w, in, %s, dx, in);", gemm_fn(e),
           lit(e, 1), lit(e, 0));
  k_end(e);
}

const OpInfo op_linear_grad = {
    .name = "linear_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL,
    .args = no_args,
    .emit = emit_linear_grad,
    .summary = "(dy, x) -> dx; writes dW and db",
};

const OpInfo op_linear = {
    .name = "linear",
    .ninputs = 1,
    .flags = OPF_LAYER | OPF_LAYER_HEAD,
    .args = linear_args,
    .shape = shape_linear,
    .params = params_linear,
    .emit = emit_linear,
    .grad = grad_linear,
    .summary = "y = x W^T + b, W: [out, in]",
};

/* ---------------------------------------------------------- batchnorm */

static const ArgSpec batchnorm_args[] = {
    {"momentum", ARG_NUM, .def = 0.1, .min = 0, .max = 1, .has_range = true},
    {"eps", ARG_NUM, .def = 1e-5, .min = 1e-30, .max = 1e30, .has_range = true},
    NAME_ARG,
    {0},
};

static bool shape_batchnorm(IrNode *n) {
  const Type *t = &n->in[0]->ty;
  if (t->rank != 1 && t->rank != 3) {
    error_at(n->loc, "batchnorm expects f32[features] or f32[channels, height, width], got %s",
             type_str(t));
    return false;
  }
  set_aux(n, 2 * t->dims[0], true);  /* training saves mean and 1/std per channel */
  return elementwise_shape(n);
}

/* PyTorch's BatchNorm1d/2d: weight (gamma) and bias (beta) are trained;
 * running_mean and running_var are buffers, saved but not trained. */
static void params_batchnorm(Graph *g, IrNode *n) {
  int64_t c = n->in[0]->ty.dims[0];
  add_param(g, n, "weight", true, 1, &c, "ones", 0);
  add_param(g, n, "bias", true, 1, &c, "zeros", 0);
  add_param(g, n, "running_mean", false, 1, &c, "zeros", 0);
  add_param(g, n, "running_var", false, 1, &c, "ones", 0);
}

/* C channels of inner values each, per sample; features (one value per
 * channel) have no inner, their loops no loop over it. */
static void emit_channel_dims(KernelBuilder *e, int64_t c, int64_t inner) {
  if (inner == 1)
    k_line(e, "const int C = %lld;", (long long)c);
  else
    k_line(e, "const int C = %lld, inner = %lld;", (long long)c, (long long)inner);
}

/* The number of values each channel's statistics are over. */
static void emit_count(KernelBuilder *e, int64_t inner) {
  k_line(e, "const double count = (double)batch%s;", inner == 1 ? "" : " * inner");
}

/* Opens a loop over blocks of channels c0 .. c0 + CB - 1, CB dividing C.
 * With one value per channel and sample (features), a block reads whole
 * cache lines per sample and its loop over channels vectorizes; with whole
 * images per channel, one channel at a time. */
static void emit_channel_blocks(KernelBuilder *e, int64_t c, int64_t inner) {
  int cb = 1;
  while (inner == 1 && cb < 16 && c % (cb * 2) == 0)
    cb *= 2;
  k_line(e, "enum { CB = %d };  /* channels per block */", cb);
  emit_channel_dims(e, c, inner);
  k_line(e, "for (int c0 = 0; c0 < C; c0 += CB) {");
}

/* Opens the loop over one channel's values of sample s: k is the flat index
 * (no loop for features, so that the loop around it vectorizes: k is a
 * local of the loop around it, and end_values_of_channel closes nothing). */
static void emit_values_of_channel(KernelBuilder *e, int64_t inner) {
  if (inner == 1) {
    k_line(e, "const size_t k = (size_t)s * C + c;");
  } else {
    k_line(e, "for (int i = 0; i < inner; i++) {");
    k_line(e, "const size_t k = ((size_t)s * C + c) * inner + i;");
  }
}

static void end_values_of_channel(KernelBuilder *e, int64_t inner) {
  if (inner != 1)
    k_line(e, "}");
}

/* Positions per chunk of an image channel's sums: the largest divisor of
 * inner up to 1024 (two chunks of doubles stay in L1). */
static int64_t sum_chunk(int64_t inner) {
  int64_t p = inner < 1024 ? inner : 1024;
  while (inner % p)
    p--;
  return p;
}

/* The accumulator name[] of the value at k, in the loops sums_open opens. */
static const char *sum_acc(int64_t inner, const char *name) {
  return inner == 1 ? arena_printf("%s[j]", name) : arena_printf("part_%s[i]", name);
}

/* Opens the loops that add each value of channel c (in block c0) into the
 * accumulators names[0..n) (double, one per channel of the block, declared
 * by the caller): k the flat index, pre a line after c is known (or NULL).
 * Features: each channel sums over samples in order, the loop over the
 * block's channels vectorizes.  Images: a chunk of positions at a time,
 * each position summed over the batch into part_<name>[i], then the chunk
 * into the channel's sum (sums_close): the loop over positions has a trip
 * count known here and no reduction in it, so GCC vectorizes it at -O2
 * (a single sum would need reassociation), in double as before. */
static void sums_open(KernelBuilder *e, int64_t inner, const char *const *names, int n,
                      const char *pre) {
  if (inner == 1) {
    k_line(e, "for (int s = 0; s < batch; s++) {");
    k_line(e, "for (int j = 0; j < CB; j++) {");
    k_line(e, "const int c = c0 + j;");
    if (pre)
      k_line(e, "%s", pre);
    emit_values_of_channel(e, inner);
    return;
  }
  k_line(e, "for (int j = 0; j < CB; j++) {");
  k_line(e, "const int c = c0 + j;");
  if (pre)
    k_line(e, "%s", pre);
  k_line(e, "for (int i0 = 0; i0 < inner; i0 += P) {");
  StrBuf b = {0};
  for (int a = 0; a < n; a++)
    sb_printf(&b, "%spart_%s[P] = {0}", a ? ", " : "double ", names[a]);
  k_line(e, "%s;", b.data);
  k_line(e, "for (int s = 0; s < batch; s++) {");
  k_line(e, "for (int i = 0; i < P; i++) {");
  k_line(e, "const size_t k = ((size_t)s * C + c) * inner + i0 + i;");
}

static void sums_close(KernelBuilder *e, int64_t inner, const char *const *names, int n) {
  if (inner == 1) {
    k_line(e, "}");
    k_line(e, "}");
    return;
  }
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "for (int i = 0; i < P; i++) {");
  for (int a = 0; a < n; a++)
    k_line(e, "%s[j] += part_%s[i];", names[a], names[a]);
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
}

/* The chunk size, for the image form of sums_open. */
static void emit_sum_chunk(KernelBuilder *e, int64_t inner) {
  if (inner > 1)
    k_line(e, "enum { P = %lld };  /* positions per chunk of the sums */",
           (long long)sum_chunk(inner));
}

/* Inference folded into its layer when nncc wrote the file (embedded
 * weights, emit_embed.c): the layer's weights carry the scale and this
 * batchnorm's bias the whole shift, beta + (b - running_mean) * scale, so
 * the pass after the GEMM adds the shift alone (the maps after it in the
 * same store). */
static void emit_batchnorm_shift(KernelBuilder *e, const IrNode *n, const IrNode *layer) {
  const Type *t = &n->in[0]->ty;
  int64_t c = t->dims[0], inner = type_numel(t) / c;
  k_begin(e, n, arena_printf("inference: folded into %%%d when nncc wrote this file, so only the "
                             "shift is left", layer->out->id));
  k_in(e, "x", 0);
  const char *y = k_out(e, "y");
  k_param(e, "shift", n->params[1], false);
  emit_channel_dims(e, c, inner);
  k_line(e, "for (int c = 0; c < C; c++) {");
  k_line(e, "for (int s = 0; s < batch; s++) {");
  emit_values_of_channel(e, inner);
  k_store(e, y, "k", "x[k] + shift[c]");
  end_values_of_channel(e, inner);
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

/* Inference: the running statistics (and, folded into a layer, that
 * layer's bias).  Training: the batch's mean and biased variance (saved for
 * the backward pass), and the running statistics move by momentum, the
 * variance by its unbiased estimate (as PyTorch).  Either way the output is
 * x * scale + shift per channel, stored through k_store so that the maps
 * after it can run in the same pass. */
static void emit_batchnorm(KernelBuilder *e, const IrNode *n) {
  const Type *t = &n->in[0]->ty;
  int64_t c = t->dims[0], inner = type_numel(t) / c;
  double momentum = attr_num(n, "momentum"), eps = attr_num(n, "eps");
  const IrNode *layer = e->training ? NULL : k_folded_layer(e, n);
  bool bias = layer && layer->nparams > 1;
  if (layer && k_weights_const(e)) {
    emit_batchnorm_shift(e, n, layer);
    return;
  }
  k_begin(e, n, e->training ? "training: batch statistics"
                : layer ? arena_printf("inference: running statistics, folded into %%%d",
                                       layer->out->id)
                        : "inference: running statistics");
  k_in(e, "x", 0);
  const char *y = k_out(e, "y");
  k_param(e, "gamma", n->params[0], false);
  k_param(e, "beta", n->params[1], false);
  k_param(e, "running_mean", n->params[2], e->training);
  k_param(e, "running_var", n->params[3], e->training);
  if (bias)
    k_param(e, "b", layer->params[1], false);
  if (e->training)
    k_aux(e, "saved", n, true);  /* mean, then 1/sqrt(var + eps), per channel */
  if (e->training) {
    static const char *const sum[] = {"sum"}, *const sq[] = {"sq"};
    emit_sum_chunk(e, inner);
    emit_channel_blocks(e, c, inner);
    k_line(e, "double sum[CB] = {0}, sq[CB] = {0}, mean[CB];");
    sums_open(e, inner, sum, 1, NULL);
    k_line(e, "%s += x[k];", sum_acc(inner, "sum"));
    sums_close(e, inner, sum, 1);
    emit_count(e, inner);
    k_line(e, "for (int j = 0; j < CB; j++)");
    k_line(e, "  mean[j] = sum[j] / count;");
    sums_open(e, inner, sq, 1, NULL);
    k_line(e, "double d = x[k] - mean[j];");
    k_line(e, "%s += d * d;", sum_acc(inner, "sq"));
    sums_close(e, inner, sq, 1);
    k_line(e, "for (int j = 0; j < CB; j++) {");
    k_line(e, "const int c = c0 + j;");
    k_line(e, "double var = sq[j] / count;");
    k_line(e, "saved[c] = (%s)mean[j];", e->T);
    k_line(e, "saved[C + c] = (%s)(1.0 / sqrt(var + %s));", e->T, dlit(eps));
    k_line(e, "running_mean[c] = (%s)(%s * running_mean[c] + %s * mean[j]);", e->T,
           dlit(1 - momentum), dlit(momentum));
    k_line(e, "running_var[c] = (%s)(%s * running_var[c] + %s * (count > 1 ? var * count / "
              "(count - 1) : var));", e->T, dlit(1 - momentum), dlit(momentum));
    k_line(e, "}");
    k_line(e, "}");
    /* in sample order, so that a dropout in the epilogue draws its mask in
     * the order it does alone */
    k_line(e, "for (int s = 0; s < batch; s++) {");
    k_line(e, "for (int c = 0; c < C; c++) {");
    k_line(e, "%s scale = gamma[c] * saved[C + c], shift = beta[c] - saved[c] * scale;", e->T);
  } else {
    emit_channel_dims(e, c, inner);
    k_line(e, "for (int c = 0; c < C; c++) {");
    k_line(e, "%s scale = gamma[c] / %s(running_var[c] + %s);", e->T, mathfn(e, "sqrt"),
           lit(e, eps));
    if (bias)
      k_line(e, "%s shift = beta[c] + (b[c] - running_mean[c]) * scale;", e->T);
    else
      k_line(e, "%s shift = beta[c] - running_mean[c] * scale;", e->T);
    k_line(e, "for (int s = 0; s < batch; s++) {");
  }
  emit_values_of_channel(e, inner);
  k_store(e, y, "k", "x[k] * scale + shift");
  end_values_of_channel(e, inner);
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

/* With xhat = (x - mean) / std over the batch: dgamma = sum(dy xhat),
 * dbeta = sum(dy), dx = gamma / std / N (N dy - dbeta - xhat dgamma). */
static void grad_batchnorm(AD *ad, IrNode *n, Value *dy) { grad_layer(ad, n, dy, OP_BATCHNORM_GRAD); }

static void emit_batchnorm_grad(KernelBuilder *e, const IrNode *n) {
  const IrNode *f = n->fwd;
  const Type *t = &f->in[0]->ty;
  int64_t c = t->dims[0], inner = type_numel(t) / c;
  bool dx = n->out->ty.kind != T_NONE;
  k_begin(e, n, "backward, with the batch statistics saved by the training kernel");
  k_in(e, "dy", 0);
  k_in(e, "x", 1);
  if (dx) {
    k_out(e, "dx");
    k_param(e, "gamma", f->params[0], false);  /* (dgamma and dbeta need no gamma) */
  }
  k_aux(e, "saved", f, false);
  k_grad(e, "dgamma", f->params[0]);
  k_grad(e, "dbeta", f->params[1]);
  if (dx)
    k_load_into(e, "dx");  /* (the loops below read dy[k] before writing dx[k]) */
  static const char *const sums[] = {"sum_dy", "sum_dy_xhat"};
  emit_sum_chunk(e, inner);
  emit_channel_blocks(e, c, inner);
  k_line(e, "double sum_dy[CB] = {0}, sum_dy_xhat[CB] = {0};");
  sums_open(e, inner, sums, 2, "const double mean = saved[c], inv = saved[C + c];");
  k_line(e, "double g = %s;", k_load(e, "dy", "k"));
  k_line(e, "%s += g;", sum_acc(inner, "sum_dy"));
  k_line(e, "%s += g * (x[k] - mean) * inv;", sum_acc(inner, "sum_dy_xhat"));
  sums_close(e, inner, sums, 2);
  k_line(e, "for (int j = 0; j < CB; j++) {");
  k_line(e, "dgamma[c0 + j] = (%s)sum_dy_xhat[j];", e->T);
  k_line(e, "dbeta[c0 + j] = (%s)sum_dy[j];", e->T);
  k_line(e, "}");
  if (dx) {
    emit_count(e, inner);
    k_line(e, "for (int s = 0; s < batch; s++) {");
    k_line(e, "for (int j = 0; j < CB; j++) {");
    k_line(e, "const int c = c0 + j;");
    k_line(e, "const double mean = saved[c], inv = saved[C + c], scale = gamma[c] * inv / count;");
    emit_values_of_channel(e, inner);
    k_line(e, "double xhat = (x[k] - mean) * inv;");
    k_line(e, "dx[k] = (%s)(scale * (count * %s - sum_dy[j] - xhat * sum_dy_xhat[j]));", e->T,
           k_load(e, "dy", "k"));
    end_values_of_channel(e, inner);
    k_line(e, "}");
    k_line(e, "}");
  }
  k_line(e, "}");
  k_end(e);
}

const OpInfo op_batchnorm_grad = {
    .name = "batchnorm_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_LOADS,
    .args = no_args,
    .emit = emit_batchnorm_grad,
    .summary = "(dy, x) -> dx; writes dgamma and dbeta",
};

const OpInfo op_batchnorm = {
    .name = "batchnorm",
    .ninputs = 1,
    .flags = OPF_LAYER | OPF_TRAIN_DIFFERS | OPF_STORES | OPF_INPLACE |
             OPF_FOLDS_INTO_LAYER | OPF_FUSES_AFTER_LAYER,
    .args = batchnorm_args,
    .shape = shape_batchnorm,
    .params = params_batchnorm,
    .emit = emit_batchnorm,
    .grad = grad_batchnorm,
    .summary = "batch normalisation over features (rank 1) or channels (rank 3)",
};

/* ------------------------------------------------------------ dropout */

static const ArgSpec dropout_args[] = {
    {"p", ARG_NUM, .def = 0.5, .min = 0, .max = 1, .has_range = true, .max_open = true},
    {0},
};

/* Inference: the identity.  Training: keep each value with probability 1 - p
 * and scale it by 1 / (1 - p); the mask is saved for the backward pass.
 * The whole mask is drawn in index order before the kernel's loops (one
 * call; the loop then only reads it and vectorizes), alone or fused. */
static const char *map_dropout(KernelBuilder *e, const IrNode *n, const char *const *in,
                               const char *i) {
  double p = attr_num(n, "p");
  if (!e->training || p == 0)
    return in[0];
  const char *mask = k_aux(e, "mask", n, true), *rng = k_rng(e);
  k_first(e, "nnrt_rng_mask_%s(%s, %s, (size_t)batch * %lld, %s, %s);",
          e->T[0] == 'd' ? "f64" : "f32", rng, mask, (long long)type_numel(&n->out->ty),
          dlit(p), lit(e, 1.0 / (1.0 - p)));
  return arena_printf("%s * %s[%s]", in[0], mask, i);
}

static bool shape_dropout(IrNode *n) {
  set_aux(n, type_numel(&n->in[0]->ty), false);  /* training saves the mask */
  return elementwise_shape(n);
}

/* dx = dy * mask, the mask (0 or 1/(1-p)) the training kernel drew. */
static void grad_dropout(AD *ad, IrNode *n, Value *dy) {
  IrNode *g = ad_node(ad, OP_DROPOUT_GRAD, n, &dy, 1, n->in[0]->ty);
  ad_accum(ad, n->in[0], g->out);
}

static const char *map_dropout_grad(KernelBuilder *e, const IrNode *n, const char *const *in,
                                    const char *i) {
  if (attr_num(n->fwd, "p") == 0)
    return in[0];
  return arena_printf("%s * %s[%s]", in[0], k_aux(e, "mask", n->fwd, false), i);
}

const OpInfo op_dropout_grad = {
    .name = "dropout_grad",
    .ninputs = 1,
    .flags = OPF_INTERNAL | OPF_ELEMENTWISE,
    .args = no_args,
    .map = map_dropout_grad,
    .summary = "dy -> dx = dy * mask",
};

const OpInfo op_dropout = {
    .name = "dropout",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE | OPF_TRAIN_DIFFERS,
    .args = dropout_args,
    .shape = shape_dropout,
    .map = map_dropout,
    .grad = grad_dropout,
    .summary = "training: zero with probability p, scale the rest by 1/(1-p); eval: identity",
};

/* ---------------------------------------------------------- normalize */

static const ArgSpec normalize_args[] = {
    {"mean", ARG_NUMS, .required = true},
    {"std", ARG_NUMS, .required = true, .min = 1e-30, .max = 1e30, .has_range = true},
    {0},
};

/* mean and std are one number, or one per channel (the first per-sample
 * dimension: channels of an image, features of a vector). */
static bool shape_normalize(IrNode *n) {
  const Type *t = &n->in[0]->ty;
  const char *names[2] = {"mean", "std"};
  for (int i = 0; i < 2; i++) {
    const Attr *a = attr_get(n, names[i]);
    if (a->n != 1 && a->n != t->dims[0]) {
      error_at(a->loc, "normalize: '%s' has %d values, but the input %s has %lld %s; give "
               "one value, or one per %s", names[i], a->n, type_str(t),
               (long long)t->dims[0], t->rank == 3 ? "channels" : "features",
               t->rank == 3 ? "channel" : "feature");
      return false;
    }
  }
  return elementwise_shape(n);
}

/* mean[c] or std[c] of a normalize node at flat index i: a constant, or a
 * lookup in a table of one value per channel. */
static const char *per_channel(KernelBuilder *e, const IrNode *fwd, const char *what,
                               const char *i) {
  const Attr *a = attr_get(fwd, what);
  if (a->n == 1)
    return lit(e, a->v[0]);
  const Type *t = &fwd->in[0]->ty;
  int64_t c = t->dims[0], inner = type_numel(t) / c;
  StrBuf vals = {0};
  for (int64_t k = 0; k < c; k++)
    sb_printf(&vals, "%s%s", k ? ", " : "", lit(e, a->v[k]));
  const char *name = arena_printf("%s%d", what, fwd->out->id);
  k_line(e, "static const %s %s[%lld] = {%s};", e->T, name, (long long)c, vals.data);
  return arena_printf("%s[%s / %lld %% %lld]", name, i, (long long)inner, (long long)c);
}

/* (x - mean) / std, with one mean and std or one per channel. */
static const char *map_normalize(KernelBuilder *e, const IrNode *n, const char *const *in,
                                 const char *i) {
  const char *mean = per_channel(e, n, "mean", i);
  return arena_printf("(%s - %s) / %s", in[0], mean, per_channel(e, n, "std", i));
}

/* dx = dy / std, per channel or overall. */
static void grad_normalize(AD *ad, IrNode *n, Value *dy) {
  IrNode *g = ad_node(ad, OP_NORMALIZE_GRAD, n, &dy, 1, n->in[0]->ty);
  ad_accum(ad, n->in[0], g->out);
}

static const char *map_normalize_grad(KernelBuilder *e, const IrNode *n, const char *const *in,
                                      const char *i) {
  return arena_printf("%s / %s", in[0], per_channel(e, n->fwd, "std", i));
}

const OpInfo op_normalize_grad = {
    .name = "normalize_grad",
    .ninputs = 1,
    .flags = OPF_INTERNAL | OPF_ELEMENTWISE,
    .args = no_args,
    .map = map_normalize_grad,
    .summary = "dy -> dx = dy / std",
};

const OpInfo op_normalize = {
    .name = "normalize",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = normalize_args,
    .shape = shape_normalize,
    .map = map_normalize,
    .grad = grad_normalize,
    .summary = "(x - mean) / std with constant mean and std, per channel or overall",
};
