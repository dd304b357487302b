/* ops/activation.c - relu, leaky_relu, sigmoid, tanh, softmax, log_softmax. */
#include "../nncc.h"

static const ArgSpec no_args[] = {{0}};

const OpInfo op_relu = {
    .name = "relu",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = no_args,
    .shape = elementwise_shape,
    .summary = "max(x, 0)",
};

static const ArgSpec leaky_relu_args[] = {{"slope", ARG_NUM, .def = 0.01}, {0}};

const OpInfo op_leaky_relu = {
    .name = "leaky_relu",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = leaky_relu_args,
    .shape = elementwise_shape,
    .summary = "x if x > 0 else slope * x",
};

const OpInfo op_sigmoid = {
    .name = "sigmoid",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = no_args,
    .shape = elementwise_shape,
    .summary = "1 / (1 + exp(-x))",
};

const OpInfo op_tanh = {
    .name = "tanh",
    .ninputs = 1,
    .flags = OPF_ELEMENTWISE,
    .args = no_args,
    .shape = elementwise_shape,
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

const OpInfo op_softmax = {
    .name = "softmax",
    .ninputs = 1,
    .args = softmax_args,
    .shape = shape_softmax,
    .summary = "exp(x) / sum(exp(x)) along axis (default 0: features or channels)",
};

const OpInfo op_log_softmax = {
    .name = "log_softmax",
    .ninputs = 1,
    .args = softmax_args,
    .shape = shape_softmax,
    .summary = "x - log(sum(exp(x))) along axis",
};
