/* ops/loss.c - the losses.  Each takes (prediction, target) and gives one
 * f32 for the batch, the mean as PyTorch's default reduction. */
#include "../nncc.h"

static const ArgSpec no_args[] = {{0}};

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

const OpInfo op_softmax_cross_entropy = {
    .name = "softmax_cross_entropy",
    .ninputs = 2,
    .flags = OPF_LOSS,
    .args = no_args,
    .shape = shape_softmax_cross_entropy,
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

const OpInfo op_binary_cross_entropy = {
    .name = "binary_cross_entropy",
    .ninputs = 2,
    .flags = OPF_LOSS,
    .args = no_args,
    .shape = shape_elementwise_loss,
    .summary = "-(t log p + (1 - t) log(1 - p)), mean over all elements",
};

const OpInfo op_sigmoid_cross_entropy = {
    .name = "sigmoid_cross_entropy",
    .ninputs = 2,
    .flags = OPF_LOSS,
    .args = no_args,
    .shape = shape_elementwise_loss,
    .summary = "binary cross-entropy on logits (stable form), mean over all elements",
};

const OpInfo op_mse = {
    .name = "mse",
    .ninputs = 2,
    .flags = OPF_LOSS,
    .args = no_args,
    .shape = shape_elementwise_loss,
    .summary = "mean of (y - t)^2 over all elements",
};
