/* shape.c - the infer-shapes pass: each node's type from its inputs, by the
 * op's shape rule in the op table.
 *
 * Rules that hold for every op are checked here once: labels may only be a
 * loss's target, a loss value may only feed a `loss` line, and a node whose
 * input failed is quietly marked failed too (no cascades).
 */
#include "nncc.h"

static const char *value_desc(const Value *v) {
  if (v->name)
    return arena_printf("'%s'", v->name);
  return arena_printf("%%%d", v->id);
}

static bool check_inputs(IrNode *n) {
  const OpInfo *info = op_table[n->op];
  for (int i = 0; i < n->nin; i++) {
    const Value *v = n->in[i];
    bool target = (info->flags & OPF_LOSS) && i == n->nin - 1;
    if (v->ty.kind == T_SCALAR) {
      error_at(n->loc, "%s: input %s is a loss; a loss value can only be used in a `loss` "
               "line", info->name, value_desc(v));
      return false;
    }
    if ((v->is_label || v->ty.kind == T_CLASS) && !target) {
      if (info->flags & OPF_LOSS)
        error_at(n->loc, "%s: label %s must be the loss's target, its last argument",
                 info->name, value_desc(v));
      else
        error_at(n->loc, "label %s can only be the target of a loss, not an input of %s",
                 value_desc(v), info->name);
      return false;
    }
  }
  return true;
}

bool infer_shapes(Graph *g) {
  int before = diag_error_count();
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.data[i];
    if (n->backward)
      continue;  /* typed by autodiff (in IR read back with -x ir) */
    bool upstream_failed = false;
    for (int k = 0; k < n->nin; k++)
      upstream_failed |= n->in[k]->ty.kind == T_ERROR || n->in[k]->ty.kind == T_UNKNOWN;
    if (upstream_failed || !check_inputs(n) || !op_table[n->op]->shape(n))
      n->out->ty.kind = T_ERROR;
  }
  for (int i = 0; i < g->outputs.len; i++) {
    const Value *v = g->outputs.data[i];
    const SrcLoc *loc = g->output_locs.data[i];
    if (v->ty.kind == T_SCALAR)
      error_at(*loc, "output %s is a loss; name it in a `loss` line instead", value_desc(v));
    else if (v->is_label)
      error_at(*loc, "output %s is a label; outputs are values the model computes",
               value_desc(v));
    else if (v->def->op == OP_INPUT)
      warn_at(*loc, "output %s is an input, returned unchanged", value_desc(v));
  }
  for (int i = 0; i < g->nlosses; i++) {
    const Value *v = g->losses[i].value;
    if (v->ty.kind == T_F32 || v->ty.kind == T_CLASS)
      error_at(g->losses[i].loc, "`loss` needs a loss such as softmax_cross_entropy(logits, "
               "target), got %s", type_str(&v->ty));
  }
  return diag_error_count() == before;
}
