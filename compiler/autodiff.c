/* autodiff.c - the autodiff pass: appends the backward pass and the
 * optimizer update to the graph, as ordinary IR.
 *
 * Reverse mode over the forward nodes in reverse order.  Each op's grad hook
 * (beside its shape rule in ops/) builds the IR of its own backward pass
 * with ad_node and hands each input's gradient to ad_accum; when a value
 * feeds several ops, its gradients are summed by add nodes.  Gradients are
 * only built for values that depend on a parameter (ad_needs), so nothing
 * is spent on the gradient of the input image.  Parameter gradients are
 * written by the backward kernels into the grads buffer, each exactly once.
 *
 * A loss's gradient is its weight: the sum of the weights of the `loss`
 * lines that name it.  The update (ops/optim.c) comes last.
 */
#include "nncc.h"

#include <string.h>

struct AD {
  Graph *g;
  int nforward;         /* value ids below this are forward values         */
  bool *needs;          /* per forward value: depends on a parameter       */
  Value **grad;         /* per forward value: its gradient so far          */
  double *loss_weight;  /* per forward value: the weights of its loss lines */
};

bool ad_needs(const AD *ad, const Value *v) { return v->id < ad->nforward && ad->needs[v->id]; }

IrNode *ad_node(AD *ad, int op, const IrNode *fwd, Value **in, int nin, Type ty) {
  IrNode *n = graph_add_node(ad->g, op, fwd->loc, in, nin);
  n->fwd = fwd;
  n->backward = true;
  n->out->ty = ty;
  return n;
}

void ad_accum(AD *ad, const Value *v, Value *g) {
  if (!ad_needs(ad, v))
    internal_error("gradient for %%%d, which needs none", v->id);
  Value **slot = &ad->grad[v->id];
  if (!*slot) {
    *slot = g;
    return;
  }
  Value *in[2] = {*slot, g};
  IrNode *sum = ad_node(ad, OP_ADD, v->def, in, 2, v->ty);
  *slot = sum->out;
}

double ad_loss_weight(const AD *ad, const IrNode *loss) {
  return loss->out->id < ad->nforward ? ad->loss_weight[loss->out->id] : 0;
}

void set_attr(IrNode *n, const char *name, double v) {
  int i = spec_index(op_table[n->op]->args, name);
  if (i < 0)
    internal_error("op %s has no attribute '%s'", op_table[n->op]->name, name);
  n->attrs[i].n = 1;
  n->attrs[i].v[0] = v;
  n->attrs[i].given = true;
}

void set_aux(IrNode *n, int64_t numel, bool fixed) {
  Value *v = arena_alloc(sizeof(Value));
  v->id = -1;  /* numbered by autodiff, when the training step needs it */
  v->def = n;
  v->ty.kind = T_F32;
  v->ty.rank = 1;
  v->ty.dims[0] = numel;
  v->ty.fixed = fixed;
  n->aux = v;
}

bool autodiff(Graph *g) {
  if (!g->nlosses) {
    /* An inference-only model: no backward pass, but forward(training=1)
     * still writes the saved values (batchnorm statistics, dropout masks). */
    for (int i = 0; i < g->nodes.len; i++) {
      IrNode *n = g->nodes.data[i];
      if (n->aux)
        n->aux->id = g->next_value_id++;
    }
    return true;
  }
  AD ad = {0};
  ad.g = g;
  ad.nforward = g->next_value_id;
  ad.needs = arena_alloc(sizeof(bool) * (size_t)ad.nforward);
  ad.grad = arena_alloc(sizeof(Value *) * (size_t)ad.nforward);
  ad.loss_weight = arena_alloc(sizeof(double) * (size_t)ad.nforward);
  for (int i = 0; i < g->nlosses; i++)  /* summed in line order */
    ad.loss_weight[g->losses[i].value->id] += g->losses[i].weight;
  int nodes = g->nodes.len;
  for (int i = 0; i < nodes; i++) {
    IrNode *n = g->nodes.data[i];
    bool needs = false;
    for (int k = 0; k < n->nparams; k++)
      needs |= n->params[k]->trainable;
    for (int k = 0; k < n->nin; k++)
      needs |= ad.needs[n->in[k]->id];
    ad.needs[n->out->id] = needs;
    if (n->aux)
      n->aux->id = g->next_value_id++;  /* saved values get their numbers */
  }
  for (int i = nodes - 1; i >= 0; i--) {
    IrNode *n = g->nodes.data[i];
    const OpInfo *info = op_table[n->op];
    bool is_loss = (info->flags & OPF_LOSS) && ad_loss_weight(&ad, n) != 0;
    Value *dy = ad.grad[n->out->id];
    if (!is_loss && !dy)
      continue;
    if (!ad.needs[n->out->id])
      continue;  /* a loss that no parameter affects */
    if (!info->grad)
      internal_error("op %s has no backward rule", info->name);
    info->grad(&ad, n, dy);
  }
  /* Without a train block the update's line is the first loss's. */
  IrNode *update = graph_add_node(g, OP_OPTIMIZER_UPDATE,
                                  g->train.present ? g->train.loc : g->losses[0].loc, NULL, 0);
  update->fwd = update;
  update->backward = true;
  update->out->ty.kind = T_NONE;
  return true;
}
