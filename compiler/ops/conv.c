/* ops/conv.c - conv2d and pooling over f32[channels, height, width].
 *
 * Output sizes follow PyTorch: out = floor((in + pad_lo + pad_hi
 * - dilation * (kernel - 1) - 1) / stride) + 1.  pad=same (stride 1 only, as
 * PyTorch) pads dilation * (kernel - 1) in all, the odd one at the bottom/right.
 */
#include "../nncc.h"

#include <string.h>

static const char *const axis_names[2] = {"height", "width"};
static const ArgSpec no_args[] = {{0}};

/* Window arithmetic shared by conv2d and the pools, for one axis.  Reports a
 * window larger than the padded input.  Returns the output size or 0. */
static int64_t window_out(IrNode *n, int axis, int64_t in, int64_t k, int64_t stride,
                          int64_t pad_lo, int64_t pad_hi, int64_t dilation) {
  int64_t span = dilation * (k - 1) + 1;
  int64_t padded = in + pad_lo + pad_hi;
  if (span > padded) {
    error_at(n->loc, "%s: the %s window (%lld%s) is larger than the padded input %s (%lld)",
             op_table[n->op]->name, axis_names[axis], (long long)k,
             dilation > 1 ? arena_printf(", dilation %lld", (long long)dilation) : "",
             axis_names[axis], (long long)padded);
    return 0;
  }
  return (padded - span) / stride + 1;
}

/* Padding [top, left, bottom, right] of a conv2d, with pad=same resolved. */
void conv_pads(const IrNode *n, int64_t pads[4]) {
  const Attr *pad = attr_get(n, "pad");
  if (pad->word && !strcmp(pad->word, "same")) {
    const Attr *k = attr_get(n, "kernel"), *d = attr_get(n, "dilation");
    for (int i = 0; i < 2; i++) {
      int64_t total = (int64_t)(d->v[i] * (k->v[i] - 1));
      pads[i] = total / 2;
      pads[i + 2] = total - total / 2;
    }
    return;
  }
  pads[0] = pads[2] = (int64_t)pad->v[0];
  pads[1] = pads[3] = (int64_t)pad->v[1];
}

/* ------------------------------------------------------------- conv2d */

/* A 1x1, stride-1, unpadded conv2d needs no im2col: its input is the
 * column matrix. */
static bool conv_direct(const IrNode *n) {
  const Attr *k = attr_get(n, "kernel"), *s = attr_get(n, "stride");
  int64_t pads[4];
  conv_pads(n, pads);
  return k->v[0] == 1 && k->v[1] == 1 && s->v[0] == 1 && s->v[1] == 1 && pads[0] == 0 &&
         pads[1] == 0 && pads[2] == 0 && pads[3] == 0;
}

/* K, the rows of a conv2d's im2col: C/G * kh * kw. */
static int64_t conv_k(const IrNode *n) {
  const Attr *k = attr_get(n, "kernel");
  return n->in[0]->ty.dims[0] / attr_int(n, "groups") * (int64_t)k->v[0] * (int64_t)k->v[1];
}

/* A conv2d's GEMMs run over chunks of S samples (docs/performance.md,
 * "Convolutions over the batch"): the chunk's im2col is K x S*Ho*Wo and the
 * GEMMs' F x S*Ho*Wo side (the forward's result, the backward's dy) is
 * gathered from or scattered to NCHW.  S fills CONV_CHUNK_VALUES with both
 * (1 MB of f32, one core's L2 here), at least 1 and at most CONV_CHUNK_MAX
 * (longer GEMMs gain nothing more there; the scratch would only grow), and
 * at most the samples a call runs (g->max_batch: embedded code runs one).
 * A direct conv runs a sample at a time: its columns are its input and its
 * GEMMs' other side its output, both in place. */
enum { CONV_CHUNK_VALUES = 1 << 18, CONV_CHUNK_MAX = 32 };

static int64_t conv_chunk(const Graph *g, const IrNode *n) {
  if (conv_direct(n))
    return 1;
  int64_t per = (conv_k(n) + n->out->ty.dims[0]) * n->out->ty.dims[1] * n->out->ty.dims[2];
  int64_t s = CONV_CHUNK_VALUES / per, most = g->max_batch ? g->max_batch : CONV_CHUNK_MAX;
  most = most < CONV_CHUNK_MAX ? most : CONV_CHUNK_MAX;
  return s < 1 ? 1 : s > most ? most : s;
}

/* The scratch of conv2d n's kernels, forward and backward alike (fixed:
 * one chunk): the chunk's columns (none for a direct conv; the backward's
 * dx GEMM writes its columns over them) and, with S > 1, its F x S*Ho*Wo
 * side. */
static int conv_scratch(const Graph *g, const IrNode *n, Scratch *out) {
  int64_t s = conv_chunk(g, n), hw = n->out->ty.dims[1] * n->out->ty.dims[2];
  int count = 0;
  if (!conv_direct(n))
    out[count++] = (Scratch){conv_k(n) * s * hw, true};
  if (s > 1)
    out[count++] = (Scratch){n->out->ty.dims[0] * s * hw, true};
  return count;
}

/* The constants a conv2d kernel (forward or backward) names its loops by,
 * then (emit_chunks_open) the loop over its chunks of S samples: ns samples
 * from s0, N = ns * Ho * Wo columns. */
static void emit_conv_open(KernelBuilder *e, const IrNode *n) {
  const Type *t = &n->in[0]->ty, *o = &n->out->ty;
  const Attr *k = attr_get(n, "kernel"), *s = attr_get(n, "stride"), *d = attr_get(n, "dilation");
  int64_t pads[4], groups = attr_int(n, "groups");
  conv_pads(n, pads);
  k_line(e, "const int C = %lld, H = %lld, W = %lld, F = %lld, Ho = %lld, Wo = %lld;",
         (long long)t->dims[0], (long long)t->dims[1], (long long)t->dims[2],
         (long long)o->dims[0], (long long)o->dims[1], (long long)o->dims[2]);
  k_line(e, "const int G = %lld, Cg = %lld, Fg = %lld, K = %lld;", (long long)groups,
         (long long)(t->dims[0] / groups), (long long)(o->dims[0] / groups), (long long)conv_k(n));
  if (!conv_direct(n))
    k_line(e, "const int KH = %lld, KW = %lld, SH = %lld, SW = %lld, PT = %lld, PL = %lld, "
              "DH = %lld, DW = %lld;",
           (long long)k->v[0], (long long)k->v[1], (long long)s->v[0], (long long)s->v[1],
           (long long)pads[0], (long long)pads[1], (long long)d->v[0], (long long)d->v[1]);
}

static void emit_chunks_open(KernelBuilder *e, const IrNode *n) {
  int64_t chunk = conv_chunk(e->g, n);
  if (chunk == 1) {
    k_line(e, "for (int s0 = 0; s0 < batch; s0++) {");
    k_line(e, conv_direct(n) ? "const int N = Ho * Wo;" : "const int ns = 1, N = Ho * Wo;");
    return;
  }
  k_line(e, "const int S = %lld;  /* samples per chunk: the scratch holds one */", (long long)chunk);
  k_line(e, "for (int s0 = 0; s0 < batch; s0 += S) {");
  k_line(e, "const int ns = batch - s0 < S ? batch - s0 : S, N = ns * Ho * Wo;");
}

/* The loops over the chunk's im2col rows, row (c*KH + ki)*KW + kj of col
 * (K x N), over its samples' parts and in them over the output rows oh: r,
 * the part for output row oh of sample s; xc, the plane of channel g*Cg + c
 * of sample s in x (xs, or dxs), and ih, the input row the tap reads.  The
 * outputs ow in [lo, hi) have tap kj inside the input's row; the others
 * read padding. */
static void emit_rows_open(KernelBuilder *e, const char *x, bool writes_x) {
  k_line(e, "for (int c = 0; c < Cg; c++) {");
  k_line(e, "for (int ki = 0; ki < KH; ki++) {");
  k_line(e, "for (int kj = 0; kj < KW; kj++) {");
  k_line(e, "int lo = 0, hi = Wo;  /* the outputs ow in [lo, hi) read inside the input's row */");
  k_line(e, "while (lo < hi && lo * SW - PL + kj * DW < 0) {");
  k_line(e, "lo++;");
  k_line(e, "}");
  k_line(e, "while (hi > lo && (hi - 1) * SW - PL + kj * DW >= W) {");
  k_line(e, "hi--;");
  k_line(e, "}");
  k_line(e, "for (int s = 0; s < ns; s++) {");
  k_line(e, "%s%s *xc = %s + ((size_t)s * C + g * Cg + c) * H * W;", writes_x ? "" : "const ", e->T, x);
  k_line(e, "for (int oh = 0; oh < Ho; oh++) {");
  k_line(e, "%s%s *r = col + (size_t)((c * KH + ki) * KW + kj) * N + ((size_t)s * Ho + oh) * Wo;",
         writes_x ? "const " : "", e->T);
  k_line(e, "const int ih = oh * SH - PT + ki * DH, at = ih * W - PL + kj * DW;");
}

static void emit_rows_close(KernelBuilder *e) {
  for (int i = 0; i < 5; i++)
    k_line(e, "}");
}

static bool conv_unit_stride(const IrNode *n) { return attr_get(n, "stride")->v[1] == 1; }

/* im2col of the chunk at xs, group g: col[(c*KH + ki)*KW + kj][s*Ho*Wo +
 * oh*Wo + ow] is sample s's input under tap (ki, kj) for output (oh, ow)
 * (at + ow*SW in its plane); 0 in the padding. */
static void emit_im2col(KernelBuilder *e, const IrNode *n) {
  emit_rows_open(e, "xs", false);
  k_line(e, "if (ih < 0 || ih >= H) {");
  k_line(e, "memset(r, 0, (size_t)Wo * sizeof(%s));", e->T);
  k_line(e, "continue;");
  k_line(e, "}");
  k_line(e, "for (int ow = 0; ow < lo; ow++) {");
  k_line(e, "r[ow] = 0;");
  k_line(e, "}");
  if (conv_unit_stride(n)) {
    k_line(e, "if (lo < hi) {");
    k_line(e, "memcpy(r + lo, xc + at + lo, (size_t)(hi - lo) * sizeof(%s));", e->T);
    k_line(e, "}");
  } else {
    k_line(e, "for (int ow = lo; ow < hi; ow++) {");
    k_line(e, "r[ow] = xc[at + ow * SW];");
    k_line(e, "}");
  }
  k_line(e, "for (int ow = hi; ow < Wo; ow++) {");
  k_line(e, "r[ow] = 0;");
  k_line(e, "}");
  emit_rows_close(e);
}

/* col2im, im2col's transpose, into the chunk's dx at dxs (zeroed), group g:
 * each column entry is added to the input it was read from.  With stride 1
 * the adds go by four, which GCC vectorises at -O2. */
static void emit_col2im(KernelBuilder *e, const IrNode *n) {
  emit_rows_open(e, "dxs", true);
  k_line(e, "if (ih < 0 || ih >= H) {");
  k_line(e, "continue;");
  k_line(e, "}");
  if (conv_unit_stride(n)) {
    k_line(e, "int ow = lo;");
    k_line(e, "for (; ow + 3 < hi; ow += 4) {");
    k_line(e, "xc[at + ow] += r[ow];");
    for (int i = 1; i < 4; i++)
      k_line(e, "xc[at + ow + %d] += r[ow + %d];", i, i);
    k_line(e, "}");
    k_line(e, "for (; ow < hi; ow++) {");
    k_line(e, "xc[at + ow] += r[ow];");
    k_line(e, "}");
  } else {
    k_line(e, "for (int ow = lo; ow < hi; ow++) {");
    k_line(e, "xc[at + ow * SW] += r[ow];");
    k_line(e, "}");
  }
  emit_rows_close(e);
}

static const ArgSpec conv2d_args[] = {
    {"filters", ARG_INT, .required = true, .min = 1, .max = 1e30, .has_range = true},
    {"kernel", ARG_INT2, .required = true, .min = 1, .max = 1e30, .has_range = true},
    {"stride", ARG_INT2, .def = 1, .min = 1, .max = 1e30, .has_range = true},
    {"pad", ARG_PAD, .def = 0, .min = 0, .max = 1e30, .has_range = true},
    {"dilation", ARG_INT2, .def = 1, .min = 1, .max = 1e30, .has_range = true},
    {"groups", ARG_INT, .def = 1, .min = 1, .max = 1e30, .has_range = true},
    {"bias", ARG_BOOL, .def = 1},
    {"init", ARG_INIT, .def_word = "he_uniform", .calls = init_calls},
    {.name = "name", .kind = ARG_NAME},
    {0},
};

static bool shape_conv2d(IrNode *n) {
  if (!expect_rank(n, 0, 3, n->in[0]->ty.rank == 1 ? "; declare the input as "
                                                     "f32[channels, height, width]" : NULL))
    return false;
  const Type *t = &n->in[0]->ty;
  int64_t c = t->dims[0], f = attr_int(n, "filters"), groups = attr_int(n, "groups");
  const Attr *k = attr_get(n, "kernel"), *s = attr_get(n, "stride"), *d = attr_get(n, "dilation");
  const Attr *pad = attr_get(n, "pad");
  if (c % groups != 0 || f % groups != 0) {
    error_at(attr_get(n, "groups")->given ? attr_get(n, "groups")->loc : n->loc,
             "conv2d: groups=%lld must divide both the input channels (%lld) and the "
             "filters (%lld)", (long long)groups, (long long)c, (long long)f);
    return false;
  }
  if (pad->word && !strcmp(pad->word, "same") && (s->v[0] != 1 || s->v[1] != 1)) {
    error_at(pad->loc, "conv2d: pad=same needs stride=1 (as in PyTorch); give the padding "
                       "as a number");
    return false;
  }
  int64_t pads[4];
  conv_pads(n, pads);
  int64_t out[3] = {f, 0, 0};
  for (int i = 0; i < 2; i++) {
    out[i + 1] = window_out(n, i, t->dims[i + 1], (int64_t)k->v[i], (int64_t)s->v[i], pads[i],
                            pads[i + 2], (int64_t)d->v[i]);
    if (!out[i + 1])
      return false;
  }
  /* Each factor is below 2^31 and the window fits the padded input, but
   * their product may not fit: divide instead of multiplying. */
  if ((double)f * (double)(c / groups) * k->v[0] * k->v[1] > (double)MAX_PARAMS) {
    error_at(n->loc, "conv2d: the weight is too large");
    return false;
  }
  return set_out(n, 3, out);
}

/* PyTorch's nn.Conv2d: weight [filters, channels / groups, kh, kw], bias [filters]. */
static void params_conv2d(Graph *g, IrNode *n) {
  const Attr *k = attr_get(n, "kernel");
  int64_t w[4] = {attr_int(n, "filters"), n->in[0]->ty.dims[0] / attr_int(n, "groups"),
                  (int64_t)k->v[0], (int64_t)k->v[1]};
  add_weight(g, n, 4, w);
  if (attr_num(n, "bias"))
    add_param(g, n, "bias", true, 1, w, "zeros", 0);
}

/* Per chunk of samples and group: im2col of the chunk (a direct conv reads
 * its input as it is), then one GEMM W_g[F/G, K] x col[K, N], K = C/G*kh*kw,
 * into the chunk's F x N result; that to NCHW with the bias. */
static int scratch_conv2d(const Graph *g, const IrNode *n, Scratch *out) {
  return conv_scratch(g, n, out);
}

/* The forward's F x N result to NCHW (ys), with the bias: from yc for a
 * chunk of samples, in place for one. */
static void emit_conv_scatter(KernelBuilder *e, bool chunked, bool bias) {
  if (chunked) {
    k_line(e, "/* to NCHW%s */", bias ? ", with the bias (one sample's result is in place)" : "");
    k_line(e, "if (ns > 1) {");
    k_line(e, "for (int s = 0; s < ns; s++) {");
    k_line(e, "for (int f = 0; f < F; f++) {");
    k_line(e, "const %s *src = yc + (size_t)f * N + (size_t)s * Ho * Wo;", e->T);
    k_line(e, "%s *dst = ys + ((size_t)s * F + f) * Ho * Wo;", e->T);
    if (bias) {
      k_line(e, "for (int i = 0; i < Ho * Wo; i++) {");
      k_line(e, "dst[i] = src[i] + b[f];");
      k_line(e, "}");
    } else {
      k_line(e, "memcpy(dst, src, (size_t)Ho * Wo * sizeof(%s));", e->T);
    }
    k_line(e, "}");
    k_line(e, "}");
    if (!bias) {
      k_line(e, "}");
      return;
    }
    k_line(e, "} else {");
  }
  k_line(e, "for (int f = 0; f < F; f++) {");
  k_line(e, "for (int i = 0; i < Ho * Wo; i++) {");
  k_line(e, "ys[(size_t)f * Ho * Wo + i] += b[f];");
  k_line(e, "}");
  k_line(e, "}");
  if (chunked)
    k_line(e, "}");
}

static void emit_conv2d(KernelBuilder *e, const IrNode *n) {
  bool direct = conv_direct(n), chunked = conv_chunk(e->g, n) > 1;
  bool bias = n->nparams > 1 && !k_bias_folded(e, n);
  const char *what = direct ? "1x1 convolution: one GEMM per sample and group"
                     : chunked ? "im2col + GEMM over chunks of samples" : "im2col + GEMM per sample";
  k_begin(e, n, arena_printf("%s%s", what, n->nparams > 1 && !bias ? "; the bias is added with the "
                                                                     "folded batchnorm" : ""));
  k_in(e, "x", 0);
  k_out(e, "y");
  k_param(e, "w", n->params[0], false);
  if (bias)
    k_param(e, "b", n->params[1], false);
  if (!direct)
    k_scratch(e, "col");
  if (chunked)
    k_scratch(e, "yc");
  emit_conv_open(e, n);
  emit_chunks_open(e, n);
  k_line(e, "const %s *xs = x + (size_t)s0 * C * H * W;", e->T);
  k_line(e, "%s *ys = y + (size_t)s0 * F * Ho * Wo;", e->T);
  if (chunked)
    k_line(e, "%s *out = ns > 1 ? yc : ys;  /* the GEMMs' F x N result: one sample's is NCHW */", e->T);
  k_line(e, "for (int g = 0; g < G; g++) {");
  if (direct)
    k_line(e, "const %s *col = xs + (size_t)g * Cg * H * W;", e->T);
  else
    emit_im2col(e, n);
  k_line(e, "%s(0, 0, Fg, N, K, %s, w + (size_t)g * Fg * K, K, col, N, %s, %s + (size_t)g * Fg * N, N);",
         gemm_fn(e), lit(e, 1), lit(e, 0), chunked ? "out" : "ys");
  k_line(e, "}");
  if (chunked || bias)
    emit_conv_scatter(e, chunked, bias);
  k_line(e, "}");
  k_end(e);
}

/* Per chunk and group, with col = im2col(x) and dy gathered into the GEMMs'
 * F x N layout: dW += dy col^T (one GEMM per chunk, over all its samples),
 * db += the sums of dy, and dx = col2im(W^T dy), the transpose of im2col
 * adding up the overlaps. */
static void grad_conv2d(AD *ad, IrNode *n, Value *dy) { grad_layer(ad, n, dy, OP_CONV2D_GRAD); }

static int scratch_conv2d_grad(const Graph *g, const IrNode *n, Scratch *out) {
  return conv_scratch(g, n->fwd, out);
}

/* The chunk's dy (dys, NCHW) as F x N in dyc, and its sums into db: four
 * partial sums, which GCC vectorises at -O2 (one would be a chain of
 * dependent adds). */
static void emit_dy_gather(KernelBuilder *e, const IrNode *n, bool chunked, bool bias) {
  int64_t hw = n->out->ty.dims[1] * n->out->ty.dims[2];
  k_line(e, chunked ? "/* dy as F x N%s */" : "/* db%s */", chunked && bias ? ", and db" : "");
  k_line(e, "for (int f = 0; f < F; f++) {");
  if (bias)
    k_line(e, "double a0 = 0, a1 = 0, a2 = 0, a3 = 0;");
  if (chunked) {
    k_line(e, "for (int s = 0; s < ns; s++) {");
    k_line(e, "const %s *src = dys + ((size_t)s * F + f) * Ho * Wo;", e->T);
    k_line(e, "memcpy(dyc + (size_t)f * N + (size_t)s * Ho * Wo, src, (size_t)Ho * Wo * sizeof(%s));",
           e->T);
  } else {
    k_line(e, "const %s *src = dys + (size_t)f * Ho * Wo;", e->T);
  }
  if (bias) {
    k_line(e, "for (int i = 0; i + 3 < Ho * Wo; i += 4) {");
    k_line(e, "a0 += src[i];");
    for (int i = 1; i < 4; i++)
      k_line(e, "a%d += src[i + %d];", i, i);
    k_line(e, "}");
    if (hw % 4) {
      k_line(e, "for (int i = Ho * Wo / 4 * 4; i < Ho * Wo; i++) {");
      k_line(e, "a0 += src[i];");
      k_line(e, "}");
    }
  }
  if (chunked)
    k_line(e, "}");
  if (bias)
    k_line(e, "db[f] += (%s)((a0 + a1) + (a2 + a3));", e->T);
  k_line(e, "}");
}

static void emit_conv2d_grad(KernelBuilder *e, const IrNode *n) {
  const IrNode *f = n->fwd;
  bool direct = conv_direct(f), chunked = conv_chunk(e->g, f) > 1;
  bool bias = f->nparams > 1, dx = n->out->ty.kind != T_NONE;
  k_begin(e, n, chunked ? "backward over chunks of samples: GEMMs against im2col, col2im for dx"
                        : "backward: GEMMs against im2col, col2im for dx");
  k_in(e, "dy", 0);
  k_in(e, "x", 1);
  if (dx) {
    k_out(e, "dx");
    k_param(e, "w", f->params[0], false);  /* (dx = col2im(W^T dy); dW needs no W) */
  }
  k_grad(e, "dw", f->params[0]);
  if (bias)
    k_grad(e, "db", f->params[1]);
  if (!direct)
    k_scratch(e, "col");
  if (chunked)
    k_scratch(e, "dyc");
  emit_conv_open(e, f);
  if (bias)
    k_line(e, "memset(db, 0, (size_t)F * sizeof(%s));", e->T);
  emit_chunks_open(e, f);
  k_line(e, "const %s *xs = x + (size_t)s0 * C * H * W;", e->T);
  k_line(e, "const %s *dys = dy + (size_t)s0 * F * Ho * Wo;", e->T);
  if (dx)
    k_line(e, "%s *dxs = dx + (size_t)s0 * C * H * W;", e->T);
  if (chunked || bias)
    emit_dy_gather(e, f, chunked, bias);
  if (dx && !direct)
    k_line(e, "memset(dxs, 0, (size_t)ns * C * H * W * sizeof(%s));", e->T);
  const char *dyg = chunked ? "dyc" : "dys";
  k_line(e, "for (int g = 0; g < G; g++) {");
  if (direct)
    k_line(e, "const %s *col = xs + (size_t)g * Cg * H * W;", e->T);
  else
    emit_im2col(e, f);
  k_line(e, "/* dW: the first chunk's GEMM writes it, the others add to it */");
  k_line(e, "%s(0, 1, Fg, K, N, %s, %s + (size_t)g * Fg * N, N, col, N, s0 ? %s : %s,", gemm_fn(e),
         lit(e, 1), dyg, lit(e, 1), lit(e, 0));
  k_line(e, "           dw + (size_t)g * Fg * K, K);");
  if (dx && direct) {
    k_line(e, "%s(1, 0, K, N, Fg, %s, w + (size_t)g * Fg * K, K, %s + (size_t)g * Fg * N, N, %s,",
           gemm_fn(e), lit(e, 1), dyg, lit(e, 0));
    k_line(e, "           dxs + (size_t)g * Cg * H * W, N);");
  } else if (dx) {
    k_line(e, "/* dx: W^T dy over the columns (col is free again), then col2im */");
    k_line(e, "%s(1, 0, K, N, Fg, %s, w + (size_t)g * Fg * K, K, %s + (size_t)g * Fg * N, N, %s, col, N);",
           gemm_fn(e), lit(e, 1), dyg, lit(e, 0));
    emit_col2im(e, f);
  }
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

const OpInfo op_conv2d_grad = {
    .name = "conv2d_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL,
    .args = no_args,
    .emit = emit_conv2d_grad,
    .scratch = scratch_conv2d_grad,
    .summary = "(dy, x) -> dx; writes dW and db",
};

const OpInfo op_conv2d = {
    .name = "conv2d",
    .ninputs = 1,
    .flags = OPF_LAYER | OPF_LAYER_HEAD,
    .args = conv2d_args,
    .shape = shape_conv2d,
    .params = params_conv2d,
    .emit = emit_conv2d,
    .grad = grad_conv2d,
    .scratch = scratch_conv2d,
    .summary = "2-D cross-correlation, NCHW, weight [filters, channels/groups, kh, kw]",
};

/* -------------------------------------------------------------- pools */

static const ArgSpec pool_args[] = {
    {"size", ARG_INT2, .required = true, .min = 1, .max = 1e30, .has_range = true},
    {"stride", ARG_INT2, .def = 0, .min = 1, .max = 1e30, .has_range = true},
    {"pad", ARG_INT2, .def = 0, .min = 0, .max = 1e30, .has_range = true},
    {0},
};

/* The pooling stride, which defaults to the window size (PyTorch). */
void pool_stride(const IrNode *n, int64_t stride[2]) {
  const Attr *s = attr_get(n, "stride");
  if (!s->given)
    s = attr_get(n, "size");
  stride[0] = (int64_t)s->v[0];
  stride[1] = (int64_t)s->v[1];
}

static bool shape_pool(IrNode *n) {
  if (!expect_rank(n, 0, 3, NULL))
    return false;
  const Type *t = &n->in[0]->ty;
  const Attr *k = attr_get(n, "size"), *p = attr_get(n, "pad");
  int64_t stride[2];
  pool_stride(n, stride);
  /* Record the resolved default so the IR shows stride=size, not the 0 sentinel. */
  n->attrs[spec_index(pool_args, "stride")].v[0] = (double)stride[0];
  n->attrs[spec_index(pool_args, "stride")].v[1] = (double)stride[1];
  int64_t out[3] = {t->dims[0], 0, 0};
  for (int i = 0; i < 2; i++) {
    if (p->v[i] * 2 > k->v[i]) {
      error_at(p->loc, "%s: pad=%s is more than half the window size %s (PyTorch's limit)",
               op_table[n->op]->name, fmt_double(p->v[i]), fmt_double(k->v[i]));
      return false;
    }
    out[i + 1] = window_out(n, i, t->dims[i + 1], (int64_t)k->v[i], stride[i],
                            (int64_t)p->v[i], (int64_t)p->v[i], 1);
    if (!out[i + 1])
      return false;
  }
  return set_out(n, 3, out);
}

/* Does a maxpool's windows tile its input without overlap or padding (the
 * common size 2, stride 2)?  Then its kernels need no bounds tests. */
static bool pool_tiles(const IrNode *n) {
  const Attr *k = attr_get(n, "size"), *p = attr_get(n, "pad");
  int64_t stride[2];
  pool_stride(n, stride);
  return n->op == OP_MAXPOOL && stride[0] == (int64_t)k->v[0] && stride[1] == (int64_t)k->v[1] &&
         p->v[0] == 0 && p->v[1] == 0;
}

static void emit_tiled_dims(KernelBuilder *e, const IrNode *f) {
  const Type *t = &f->in[0]->ty, *o = &f->out->ty;
  const Attr *k = attr_get(f, "size");
  k_line(e, "const int C = %lld, H = %lld, W = %lld, Ho = %lld, Wo = %lld, KH = %lld, KW = %lld;",
         (long long)t->dims[0], (long long)t->dims[1], (long long)t->dims[2], (long long)o->dims[1],
         (long long)o->dims[2], (long long)k->v[0], (long long)k->v[1]);
}

/* Opens the loops over the windows of a tiling maxpool: xw its window in xc. */
static void open_windows(KernelBuilder *e) {
  k_line(e, "for (int oh = 0; oh < Ho; oh++) {");
  k_line(e, "for (int ow = 0; ow < Wo; ow++) {");
  k_line(e, "const %s *xw = xc + oh * KH * W + ow * KW;", e->T);
}

/* The tiling maxpool: the maximum through a select GCC makes a maxss, the
 * NaN test apart (a branch that is always predicted), so that no branch
 * depends on which value is largest. */
static void emit_maxpool_tiled(KernelBuilder *e, const IrNode *n) {
  k_begin(e, n, "windows tile the input: no bounds tests");
  k_in(e, "x", 0);
  k_out(e, "y");
  emit_tiled_dims(e, n);
  k_line(e, "for (size_t sc = 0; sc < (size_t)batch * C; sc++) {");
  k_line(e, "const %s *xc = x + sc * H * W;", e->T);
  k_line(e, "%s *yc = y + sc * Ho * Wo;", e->T);
  open_windows(e);
  k_line(e, "%s acc = -INFINITY;", e->T);
  k_line(e, "for (int ki = 0; ki < KH; ki++) {");
  k_line(e, "for (int kj = 0; kj < KW; kj++) {");
  k_line(e, "%s v = xw[ki * W + kj];", e->T);
  k_line(e, "acc = v > acc ? v : acc;");
  k_line(e, "acc = isnan(v) ? v : acc;  /* a NaN wins, as in PyTorch */");
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "yc[oh * Wo + ow] = acc;");
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

/* The tiling maxpool's backward: each window's first maximum (as the
 * general form) found by selects, the window zeroed as it is read, then dy
 * stored at the maximum: no pass of memset first (unless the windows leave
 * rows or columns out) and no branch on which value is largest. */
static void emit_maxpool_grad_tiled(KernelBuilder *e, const IrNode *n) {
  const IrNode *f = n->fwd;
  const Type *t = &f->in[0]->ty, *o = &f->out->ty;
  const Attr *k = attr_get(f, "size");
  bool left_out = t->dims[1] != o->dims[1] * (int64_t)k->v[0] ||
                  t->dims[2] != o->dims[2] * (int64_t)k->v[1];
  k_begin(e, n, left_out ? "backward; windows tile the input, but for rows or columns left out"
                         : "backward; windows tile the input: no bounds tests, no memset pass");
  k_in(e, "dy", 0);
  k_in(e, "x", 1);
  k_out(e, "dx");
  emit_tiled_dims(e, f);
  if (left_out)
    k_line(e, "memset(dx, 0, (size_t)batch * C * H * W * sizeof(%s));  /* the rows or columns "
              "left out */", e->T);
  k_line(e, "for (size_t sc = 0; sc < (size_t)batch * C; sc++) {");
  k_line(e, "const %s *xc = x + sc * H * W;", e->T);
  k_line(e, "const %s *dyc = dy + sc * Ho * Wo;", e->T);
  k_line(e, "%s *dxc = dx + sc * H * W;", e->T);
  open_windows(e);
  k_line(e, "%s *dxw = dxc + oh * KH * W + ow * KW;", e->T);
  k_line(e, "%s best = xw[0];", e->T);
  k_line(e, "int at = 0;");
  k_line(e, "for (int ki = 0; ki < KH; ki++) {");
  k_line(e, "for (int kj = 0; kj < KW; kj++) {");
  k_line(e, "%s v = xw[ki * W + kj];", e->T);
  k_line(e, "at = v > best ? ki * W + kj : at;");
  k_line(e, "best = v > best ? v : best;");
  k_line(e, "dxw[ki * W + kj] = 0;");
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "dxw[at] = dyc[oh * Wo + ow];");
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

/* maxpool: padding never wins (it is -inf).  avgpool: padding counts as
 * zeros in the mean, as PyTorch's count_include_pad=True. */
static void emit_pool(KernelBuilder *e, const IrNode *n) {
  if (pool_tiles(n)) {
    emit_maxpool_tiled(e, n);
    return;
  }
  const Type *t = &n->in[0]->ty, *o = &n->out->ty;
  const Attr *k = attr_get(n, "size"), *p = attr_get(n, "pad");
  int64_t stride[2];
  pool_stride(n, stride);
  bool max = n->op == OP_MAXPOOL;
  k_begin(e, n, NULL);
  k_in(e, "x", 0);
  k_out(e, "y");
  k_line(e, "const int C = %lld, H = %lld, W = %lld, Ho = %lld, Wo = %lld;",
         (long long)t->dims[0], (long long)t->dims[1], (long long)t->dims[2],
         (long long)o->dims[1], (long long)o->dims[2]);
  k_line(e, "const int KH = %lld, KW = %lld, SH = %lld, SW = %lld, PH = %lld, PW = %lld;",
         (long long)k->v[0], (long long)k->v[1], (long long)stride[0], (long long)stride[1],
         (long long)p->v[0], (long long)p->v[1]);
  k_line(e, "for (size_t sc = 0; sc < (size_t)batch * C; sc++) {");
  k_line(e, "const %s *xc = x + sc * H * W;", e->T);
  k_line(e, "%s *yc = y + sc * Ho * Wo;", e->T);
  k_line(e, "for (int oh = 0; oh < Ho; oh++) {");
  k_line(e, "for (int ow = 0; ow < Wo; ow++) {");
  k_line(e, max ? "%s acc = -INFINITY;" : "%s acc = 0;", e->T);
  k_line(e, "for (int ki = 0; ki < KH; ki++) {");
  k_line(e, "int ih = oh * SH - PH + ki;");
  k_line(e, "for (int kj = 0; kj < KW; kj++) {");
  k_line(e, "int iw = ow * SW - PW + kj;");
  k_line(e, "if (ih >= 0 && ih < H && iw >= 0 && iw < W) {");
  if (max)  /* a NaN wins, as in PyTorch (so a NaN input makes the loss NaN) */
    k_line(e, "acc = xc[ih * W + iw] > acc || isnan(xc[ih * W + iw]) ? xc[ih * W + iw] : acc;");
  else
    k_line(e, "acc += xc[ih * W + iw];");
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
  if (max)
    k_line(e, "yc[oh * Wo + ow] = acc;");
  else
    k_line(e, "yc[oh * Wo + ow] = acc / (KH * KW);");
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

/* maxpool: each window's gradient goes to its first maximum (as PyTorch),
 * found again from x.  avgpool: spread evenly over the window, padding
 * included in the count. */
static void grad_pool(AD *ad, IrNode *n, Value *dy) {
  Value *in[2] = {dy, n->in[0]};
  IrNode *g = ad_node(ad, n->op == OP_MAXPOOL ? OP_MAXPOOL_GRAD : OP_AVGPOOL_GRAD, n, in, 2,
                      n->in[0]->ty);
  ad_accum(ad, n->in[0], g->out);
}

static void emit_pool_grad(KernelBuilder *e, const IrNode *n) {
  if (pool_tiles(n->fwd)) {
    emit_maxpool_grad_tiled(e, n);
    return;
  }
  const IrNode *f = n->fwd;
  const Type *t = &f->in[0]->ty, *o = &f->out->ty;
  const Attr *k = attr_get(f, "size"), *p = attr_get(f, "pad");
  int64_t stride[2];
  pool_stride(f, stride);
  bool max = f->op == OP_MAXPOOL;
  k_begin(e, n, "backward");
  k_in(e, "dy", 0);
  if (max)
    k_in(e, "x", 1);  /* (where each maximum is: an average spreads over the window) */
  k_out(e, "dx");
  k_line(e, "const int C = %lld, H = %lld, W = %lld, Ho = %lld, Wo = %lld;",
         (long long)t->dims[0], (long long)t->dims[1], (long long)t->dims[2],
         (long long)o->dims[1], (long long)o->dims[2]);
  k_line(e, "const int KH = %lld, KW = %lld, SH = %lld, SW = %lld, PH = %lld, PW = %lld;",
         (long long)k->v[0], (long long)k->v[1], (long long)stride[0], (long long)stride[1],
         (long long)p->v[0], (long long)p->v[1]);
  k_line(e, "memset(dx, 0, (size_t)batch * C * H * W * sizeof(%s));", e->T);
  k_line(e, "for (size_t sc = 0; sc < (size_t)batch * C; sc++) {");
  if (max)
    k_line(e, "const %s *xc = x + sc * H * W;", e->T);
  k_line(e, "const %s *dyc = dy + sc * Ho * Wo;", e->T);
  k_line(e, "%s *dxc = dx + sc * H * W;", e->T);
  k_line(e, "for (int oh = 0; oh < Ho; oh++) {");
  k_line(e, "for (int ow = 0; ow < Wo; ow++) {");
  if (max)
    k_line(e, "int best = -1;");
  k_line(e, "for (int ki = 0; ki < KH; ki++) {");
  k_line(e, "int ih = oh * SH - PH + ki;");
  k_line(e, "for (int kj = 0; kj < KW; kj++) {");
  k_line(e, "int iw = ow * SW - PW + kj;");
  k_line(e, "if (ih >= 0 && ih < H && iw >= 0 && iw < W) {");
  if (max) {
    k_line(e, "if (best < 0 || xc[ih * W + iw] > xc[best]) {");
    k_line(e, "best = ih * W + iw;");
    k_line(e, "}");
  } else {
    k_line(e, "dxc[ih * W + iw] += dyc[oh * Wo + ow] / (KH * KW);");
  }
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
  if (max) {
    k_line(e, "if (best >= 0) {");
    k_line(e, "dxc[best] += dyc[oh * Wo + ow];");
    k_line(e, "}");
  }
  k_line(e, "}");
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

const OpInfo op_maxpool_grad = {
    .name = "maxpool_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_PER_SAMPLE,
    .args = no_args,
    .emit = emit_pool_grad,
    .summary = "(dy, x) -> dx at each window's maximum",
};

const OpInfo op_avgpool_grad = {
    .name = "avgpool_grad",
    .ninputs = 2,
    .flags = OPF_INTERNAL | OPF_PER_SAMPLE,
    .args = no_args,
    .emit = emit_pool_grad,
    .summary = "(dy, x) -> dx spread over each window",
};

const OpInfo op_maxpool = {
    .name = "maxpool",
    .ninputs = 1,
    .flags = OPF_PER_SAMPLE,
    .args = pool_args,
    .shape = shape_pool,
    .emit = emit_pool,
    .grad = grad_pool,
    .summary = "max over size x size windows; padding never wins",
};

const OpInfo op_avgpool = {
    .name = "avgpool",
    .ninputs = 1,
    .flags = OPF_PER_SAMPLE,
    .args = pool_args,
    .shape = shape_pool,
    .emit = emit_pool,
    .grad = grad_pool,
    .summary = "mean over size x size windows, padding counted (PyTorch's default)",
};


static bool shape_global_avgpool(IrNode *n) {
  if (!expect_rank(n, 0, 3, NULL))
    return false;
  return set_out(n, 1, n->in[0]->ty.dims);
}

static void emit_global_avgpool(KernelBuilder *e, const IrNode *n) {
  const Type *t = &n->in[0]->ty;
  k_begin(e, n, NULL);
  k_in(e, "x", 0);
  k_out(e, "y");
  k_line(e, "const int HW = %lld;", (long long)(t->dims[1] * t->dims[2]));
  k_line(e, "for (size_t sc = 0; sc < (size_t)batch * %lld; sc++) {", (long long)t->dims[0]);
  k_line(e, "double sum = 0;");
  k_line(e, "for (int i = 0; i < HW; i++) {");
  k_line(e, "sum += x[sc * HW + i];");
  k_line(e, "}");
  k_line(e, "y[sc] = (%s)(sum / HW);", e->T);
  k_line(e, "}");
  k_end(e);
}

static void grad_global_avgpool(AD *ad, IrNode *n, Value *dy) {
  IrNode *g = ad_node(ad, OP_GLOBAL_AVGPOOL_GRAD, n, &dy, 1, n->in[0]->ty);
  ad_accum(ad, n->in[0], g->out);
}

static void emit_global_avgpool_grad(KernelBuilder *e, const IrNode *n) {
  const Type *t = &n->out->ty;
  k_begin(e, n, "backward: dy / (H W) everywhere");
  k_in(e, "dy", 0);
  k_out(e, "dx");
  k_line(e, "const int HW = %lld;", (long long)(t->dims[1] * t->dims[2]));
  k_line(e, "for (size_t sc = 0; sc < (size_t)batch * %lld; sc++) {", (long long)t->dims[0]);
  k_line(e, "for (int i = 0; i < HW; i++) {");
  k_line(e, "dx[sc * HW + i] = dy[sc] / HW;");
  k_line(e, "}");
  k_line(e, "}");
  k_end(e);
}

const OpInfo op_global_avgpool_grad = {
    .name = "global_avgpool_grad",
    .ninputs = 1,
    .flags = OPF_INTERNAL | OPF_PER_SAMPLE,
    .args = no_args,
    .emit = emit_global_avgpool_grad,
    .summary = "dy -> dx = dy / (H W)",
};

const OpInfo op_global_avgpool = {
    .name = "global_avgpool",
    .ninputs = 1,
    .flags = OPF_PER_SAMPLE,
    .args = no_args,
    .shape = shape_global_avgpool,
    .emit = emit_global_avgpool,
    .grad = grad_global_avgpool,
    .summary = "mean over height and width: f32[C, H, W] -> f32[C]",
};
