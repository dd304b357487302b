/* ops/tensor.c - flatten, add, concat. */
#include "../nncc.h"

static const ArgSpec no_args[] = {{0}};

static bool shape_flatten(IrNode *n) {
  int64_t numel = type_numel(&n->in[0]->ty);
  return set_out(n, 1, &numel);
}

const OpInfo op_flatten = {
    .name = "flatten",
    .ninputs = 1,
    .args = no_args,
    .shape = shape_flatten,
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

const OpInfo op_add = {
    .name = "add",
    .ninputs = 2,
    .flags = OPF_ELEMENTWISE,
    .args = no_args,
    .shape = shape_add,
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

const OpInfo op_concat = {
    .name = "concat",
    .ninputs = -1,
    .args = concat_args,
    .shape = shape_concat,
    .summary = "join two or more tensors along a per-sample axis",
};
