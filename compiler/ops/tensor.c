/* ops/tensor.c - flatten, add, concat. */
#include "../nncc.h"

static const ArgSpec no_args[] = {{0}};

static bool shape_flatten(IrNode *n) {
  int64_t numel = type_numel(&n->in[0]->ty);
  return set_out(n, 1, &numel);
}

/* The same values in the same order: both are views (OPF_VIEW), the input's
 * memory under the output's name, with no kernel. */

/* The gradient has the input's shape and the same values: a view too. */
static void grad_flatten(AD *ad, IrNode *n, Value *dy) {
  IrNode *g = ad_node(ad, OP_FLATTEN_GRAD, n, &dy, 1, n->in[0]->ty);
  ad_accum(ad, n->in[0], g->out);
}

const OpInfo op_flatten_grad = {
    .name = "flatten_grad",
    .ninputs = 1,
    .flags = OPF_INTERNAL | OPF_VIEW,
    .args = no_args,
    .summary = "dy -> dx, the same values in the input's shape",
};

const OpInfo op_flatten = {
    .name = "flatten",
    .ninputs = 1,
    .flags = OPF_VIEW,
    .args = no_args,
    .shape = shape_flatten,
    .grad = grad_flatten,
    .summary = "f32[C, H, W] -> f32[C * H * W] (row-major, as PyTorch)",
};

static bool same_shape(const Type *a, const Type *b) {
  if (a->rank != b->rank)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return false;
  return true;
}

static bool shape_add(IrNode *n) {
  if (!same_shape(&n->in[0]->ty, &n->in[1]->ty)) {
    error_at(n->loc, "add expects inputs of the same shape, got %s and %s",
             type_str(&n->in[0]->ty), type_str(&n->in[1]->ty));
    return false;
  }
  return elementwise_shape(n);
}

static const char *map_add(KernelBuilder *e, const IrNode *n, const char *const *in,
                           const char *i) {
  (void)e, (void)n, (void)i;
  return arena_printf("%s + %s", in[0], in[1]);
}

/* Both inputs receive dy itself: no kernel at all. */
static void grad_add(AD *ad, IrNode *n, Value *dy) {
  for (int i = 0; i < 2; i++)
    if (ad_needs(ad, n->in[i]))
      ad_accum(ad, n->in[i], dy);
}

const OpInfo op_add = {
    .name = "add",
    .ninputs = 2,
    .flags = OPF_ELEMENTWISE,
    .args = no_args,
    .shape = shape_add,
    .map = map_add,
    .grad = grad_add,
    .summary = "a + b, same shapes",
};

static const ArgSpec concat_args[] = {
    {"axis", ARG_INT, .def = 0, .min = -MAX_RANK, .max = MAX_RANK - 1, .has_range = true},
    {0},
};

/* concat(a, b, ..., axis=0): axis counts per-sample dimensions, so axis=0
 * joins features or channels (PyTorch's dim=1). */
static bool shape_concat(IrNode *n) {
  const Type *t0 = &n->in[0]->ty;
  int64_t axis = attr_int(n, "axis");
  if (axis < -t0->rank || axis >= t0->rank) {
    error_at(attr_get(n, "axis")->loc, "concat: axis %lld is out of range for %s (rank %d)",
             (long long)axis, type_str(t0), t0->rank);
    return false;
  }
  if (axis < 0)
    axis += t0->rank;
  int64_t dims[MAX_RANK];
  for (int i = 0; i < t0->rank; i++)
    dims[i] = t0->dims[i];
  for (int k = 1; k < n->nin; k++) {
    const Type *t = &n->in[k]->ty;
    bool ok = t->rank == t0->rank;
    for (int i = 0; ok && i < t0->rank; i++)
      if (i != axis && t->dims[i] != t0->dims[i])
        ok = false;
    if (!ok) {
      error_at(n->loc, "concat along axis %lld needs inputs that agree on every other "
               "dimension, got %s and %s", (long long)axis, type_str(t0), type_str(t));
      return false;
    }
    dims[axis] += t->dims[axis];
    if (dims[axis] > MAX_ELEMS) {
      error_at(n->loc, "concat: the result is too large");
      return false;
    }
  }
  return set_out(n, t0->rank, dims);
}

/* Per sample the output is [outer, sum of the inputs' axis sizes, inner];
 * each input fills its slice of every row. */
static void emit_concat(KernelBuilder *e, const IrNode *n) {
  const Type *t = &n->out->ty;
  int axis = (int)attr_int(n, "axis");
  if (axis < 0)
    axis += t->rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++)
    outer *= t->dims[i];
  for (int i = axis + 1; i < t->rank; i++)
    inner *= t->dims[i];
  k_begin(e, n, NULL);
  for (int i = 0; i < n->nin; i++)
    k_in(e, arena_printf("x%d", i), i);
  k_out(e, "y");
  k_line(e, "const size_t row = %lld;  /* output values per outer index */",
         (long long)(t->dims[axis] * inner));
  k_line(e, "for (size_t o = 0; o < (size_t)batch * %lld; o++) {", (long long)outer);
  int64_t at = 0;
  for (int i = 0; i < n->nin; i++) {
    int64_t len = n->in[i]->ty.dims[axis] * inner;
    k_line(e, "memcpy(y + o * row + %lld, x%d + o * %lld, %lld * sizeof(%s));", (long long)at, i,
           (long long)len, (long long)len, e->T);
    at += len;
  }
  k_line(e, "}");
  k_end(e);
}

/* Each input's gradient is its slice of dy: one concat_grad node per input
 * that needs one, with part = the input's index. */
static const ArgSpec concat_grad_args[] = {{.name = "part", .kind = ARG_INT}, {0}};

static void grad_concat(AD *ad, IrNode *n, Value *dy) {
  for (int i = 0; i < n->nin; i++) {
    if (!ad_needs(ad, n->in[i]))
      continue;
    IrNode *g = ad_node(ad, OP_CONCAT_GRAD, n, &dy, 1, n->in[i]->ty);
    set_attr(g, "part", i);
    ad_accum(ad, n->in[i], g->out);
  }
}

static void emit_concat_grad(KernelBuilder *e, const IrNode *n) {
  const IrNode *f = n->fwd;
  const Type *t = &f->out->ty;
  int axis = (int)attr_int(f, "axis"), part = (int)attr_int(n, "part");
  if (axis < 0)
    axis += t->rank;
  int64_t outer = 1, inner = 1, at = 0;
  for (int i = 0; i < axis; i++)
    outer *= t->dims[i];
  for (int i = axis + 1; i < t->rank; i++)
    inner *= t->dims[i];
  for (int i = 0; i < part; i++)
    at += f->in[i]->ty.dims[axis] * inner;
  int64_t len = f->in[part]->ty.dims[axis] * inner;
  k_begin(e, n, arena_printf("backward: the slice of input %d", part));
  k_in(e, "dy", 0);
  k_out(e, "dx");
  k_line(e, "for (size_t o = 0; o < (size_t)batch * %lld; o++) {", (long long)outer);
  k_line(e, "memcpy(dx + o * %lld, dy + o * %lld + %lld, %lld * sizeof(%s));", (long long)len,
         (long long)(t->dims[axis] * inner), (long long)at, (long long)len, e->T);
  k_line(e, "}");
  k_end(e);
}

const OpInfo op_concat_grad = {
    .name = "concat_grad",
    .ninputs = 1,
    .flags = OPF_INTERNAL,
    .args = concat_grad_args,
    .emit = emit_concat_grad,
    .summary = "dy -> the slice of one input",
};

const OpInfo op_concat = {
    .name = "concat",
    .ninputs = -1,
    .args = concat_args,
    .shape = shape_concat,
    .emit = emit_concat,
    .grad = grad_concat,
    .summary = "join two or more tensors along a per-sample axis",
};
