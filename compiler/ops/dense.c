/* ops/dense.c - linear, batchnorm, dropout, normalize. */
#include "../nncc.h"

#define NAME_ARG {.name = "name", .kind = ARG_NAME}

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
  add_param(g, n, "weight", true, 2, w);
  if (attr_num(n, "bias"))
    add_param(g, n, "bias", true, 1, w);
}

const OpInfo op_linear = {
    .name = "linear",
    .ninputs = 1,
    .flags = OPF_LAYER,
    .args = linear_args,
    .shape = shape_linear,
    .params = params_linear,
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
  return elementwise_shape(n);
}

/* PyTorch's BatchNorm1d/2d: weight (gamma) and bias (beta) are trained;
 * running_mean and running_var are buffers, saved but not trained. */
static void params_batchnorm(Graph *g, IrNode *n) {
  int64_t c = n->in[0]->ty.dims[0];
  add_param(g, n, "weight", true, 1, &c);
  add_param(g, n, "bias", true, 1, &c);
  add_param(g, n, "running_mean", false, 1, &c);
  add_param(g, n, "running_var", false, 1, &c);
}

const OpInfo op_batchnorm = {
    .name = "batchnorm",
    .ninputs = 1,
    .flags = OPF_LAYER,
    .args = batchnorm_args,
    .shape = shape_batchnorm,
    .params = params_batchnorm,
    .summary = "batch normalisation over features (rank 1) or channels (rank 3)",
};

/* ------------------------------------------------------------ dropout */

static const ArgSpec dropout_args[] = {
    {"p", ARG_NUM, .def = 0.5, .min = 0, .max = 1, .has_range = true, .max_open = true},
    {0},
};

const OpInfo op_dropout = {
    .name = "dropout",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = dropout_args,
    .shape = elementwise_shape,
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

const OpInfo op_normalize = {
    .name = "normalize",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = normalize_args,
    .shape = shape_normalize,
    .summary = "(x - mean) / std with constant mean and std, per channel or overall",
};
