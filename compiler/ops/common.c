/* ops/common.c - the op table built from ops.def, lookup, and the helpers
 * that op hooks share. */
#include "../nncc.h"

#include <string.h>

#define OP(ENUM, name) extern const OpInfo op_##name;
#include "../ops.def"
#undef OP

const OpInfo *const op_table[OP_COUNT] = {
#define OP(ENUM, name) [OP_##ENUM] = &op_##name,
#include "../ops.def"
#undef OP
};

int op_lookup(const char *name) {
  for (int i = 0; i < OP_COUNT; i++)
    if (!(op_table[i]->flags & OPF_INTERNAL) && strcmp(op_table[i]->name, name) == 0)
      return i;
  return -1;
}

const char *op_suggest(const char *name) {
  /* Names other frameworks use for the same op. */
  static const char *const aliases[][2] = {
      {"dense", "linear"},          {"fc", "linear"},
      {"conv", "conv2d"},           {"cross_entropy", "softmax_cross_entropy"},
      {"crossentropyloss", "softmax_cross_entropy"},
      {"mseloss", "mse"},           {"bceloss", "binary_cross_entropy"},
      {"bcewithlogitsloss", "sigmoid_cross_entropy"},
      {"cat", "concat"},            {"concatenate", "concat"},
  };
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
    const char *a = aliases[i][0], *s = name;
    while (*a && (*s == *a || *s - 'A' + 'a' == *a))
      a++, s++;
    if (!*a && !*s)
      return aliases[i][1];
  }
  const char *cands[OP_COUNT];
  for (int i = 0; i < OP_COUNT; i++)
    cands[i] = (op_table[i]->flags & OPF_INTERNAL) ? NULL : op_table[i]->name;
  return closest_word(name, cands, OP_COUNT);
}

const Attr *attr_get(const IrNode *n, const char *name) {
  int i = spec_index(op_table[n->op]->args, name);
  if (i < 0)
    internal_error("op %s has no argument '%s'", op_table[n->op]->name, name);
  return &n->attrs[i];
}

int64_t attr_int(const IrNode *n, const char *name) { return (int64_t)attr_get(n, name)->v[0]; }

double attr_num(const IrNode *n, const char *name) { return attr_get(n, name)->v[0]; }

Param *add_param(Graph *g, IrNode *n, const char *role, bool trainable, int rank,
                 const int64_t *dims, const char *init, double init_arg) {
  if (n->nparams == MAX_PARAMS_PER_OP)
    internal_error("too many parameters on %s", n->layer_name);
  Param *p = arena_alloc(sizeof(Param));
  p->name = arena_printf("%s.%s", n->layer_name, role);
  p->role = role;
  p->rank = rank;
  p->numel = 1;
  for (int i = 0; i < rank; i++) {
    p->dims[i] = dims[i];
    p->numel *= dims[i];
  }
  p->trainable = trainable;
  p->layer = n;
  p->init = init;
  p->init_arg = init_arg;
  if (trainable) {
    p->offset = g->num_params;
    g->num_params += p->numel;
    vec_push(&g->params, p);
  } else {
    p->offset = g->num_buffers;
    g->num_buffers += p->numel;
    vec_push(&g->buffers, p);
  }
  n->params[n->nparams++] = p;
  return p;
}

Param *add_weight(Graph *g, IrNode *n, int rank, const int64_t *dims) {
  const Attr *init = attr_get(n, "init");
  double arg = init->sub && spec_count(init->call->args) ? init->sub[0].v[0] : 0;
  return add_param(g, n, "weight", true, rank, dims, init->word, arg);
}

bool expect_rank(IrNode *n, int i, int rank, const char *hint) {
  const Type *t = &n->in[i]->ty;
  if (t->rank == rank)
    return true;
  const char *what = rank == 1 ? "a rank-1 input f32[features]"
                     : rank == 3 ? "a rank-3 input f32[channels, height, width]"
                                 : arena_printf("a rank-%d input", rank);
  error_at(n->loc, "%s expects %s, got %s%s", op_table[n->op]->name, what, type_str(t),
           hint ? hint : "");
  return false;
}

bool set_out(IrNode *n, int rank, const int64_t *dims) {
  Type t = type_f32(rank, dims);
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 1)
      internal_error("op %s produced dimension %lld", op_table[n->op]->name,
                     (long long)dims[i]);
    if (numel > MAX_ELEMS / dims[i]) {
      error_at(n->loc, "%s: the result is too large (more than %lld elements per sample)",
               op_table[n->op]->name, MAX_ELEMS);
      return false;
    }
    numel *= dims[i];
  }
  n->out->ty = t;
  return true;
}

bool elementwise_shape(IrNode *n) {
  const Type *t = &n->in[0]->ty;
  return set_out(n, t->rank, t->dims);
}

void grad_elementwise(AD *ad, IrNode *n, Value *dy, int grad_op, bool uses_output) {
  Value *in[2] = {dy, uses_output ? n->out : n->in[0]};
  IrNode *g = ad_node(ad, grad_op, n, in, 2, n->in[0]->ty);
  ad_accum(ad, n->in[0], g->out);
}

void grad_layer(AD *ad, IrNode *n, Value *dy, int grad_op) {
  bool dx = ad_needs(ad, n->in[0]);
  Value *in[2] = {dy, n->in[0]};
  Type none = {.kind = T_NONE};
  IrNode *g = ad_node(ad, grad_op, n, in, 2, dx ? n->in[0]->ty : none);
  if (dx)
    ad_accum(ad, n->in[0], g->out);
}
