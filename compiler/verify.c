/* verify.c - IR invariants, checked between passes.  A failure is a bug in
 * nncc, never the user's: it is an internal error. */
#include "nncc.h"

bool verify_ir(Graph *g) {
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    const OpInfo *info = op_table[n->op];
    if (n->out->def != n)
      internal_error("%%%d is not defined by its node", n->out->id);
    if (n->out->ty.kind == T_UNKNOWN || n->out->ty.kind == T_ERROR)
      internal_error("%%%d (%s) has no type after checking", n->out->id, info->name);
    if (info->ninputs >= 0 ? n->nin != info->ninputs : n->nin < 2)
      internal_error("%%%d (%s) has %d inputs", n->out->id, info->name, n->nin);
    for (int k = 0; k < n->nin; k++) {
      const Value *v = n->in[k];
      if (!v->def || v->id >= n->out->id)
        internal_error("%%%d uses %%%d before it is defined", n->out->id, v->id);
    }
    if (((info->flags & OPF_LAYER) != 0) != (n->layer_name != NULL))
      internal_error("%%%d (%s): layer name does not match the op's flags", n->out->id,
                     info->name);
  }
  int64_t off = 0;
  for (int i = 0; i < g->params.len; i++) {
    const Param *p = g->params.data[i];
    if (p->offset != off)
      internal_error("param %s at offset %lld, expected %lld", p->name, (long long)p->offset,
                     (long long)off);
    off += p->numel;
  }
  if (off != g->num_params)
    internal_error("params add up to %lld floats, not %lld", (long long)off,
                   (long long)g->num_params);
  return true;
}
