/* verify.c - IR invariants, checked between passes.  A failure is a bug in
 * nncc, never the user's: it is an internal error. */
#include "nncc.h"

/* The fusion passes' results: groups hold their members, never mix forward
 * and backward nodes; a value that is never stored is made and read in one
 * group; a value stored over another has its size and is stored itself; a
 * view (OPF_VIEW) is in no group, is its stored input's memory. */
static void verify_groups(const Graph *g) {
  Schedules s = schedules_of(g);
  for (int mode = 0; mode < NMODES; mode++) {
    for (int i = 0; i < g->groups[mode].len; i++) {
      const Group *grp = g->groups[mode].data[i];
      if (grp->n < 2 || grp->n > GROUP_MAX)
        internal_error("a kernel group of %d members", grp->n);
      for (int k = 0; k < grp->n; k++) {
        const IrNode *m = grp->nodes[k];
        if (m->group[mode] != grp)
          internal_error("%%%d is not in its own group", m->out->id);
        if (m->backward != grp->nodes[0]->backward)
          internal_error("group of %%%d mixes forward and backward nodes", m->out->id);
      }
    }
    for (int i = 0; i < g->nodes.len; i++) {
      const IrNode *n = g->nodes.data[i];
      if (!runs_in_mode(g, &s, n, mode) || (mode == MODE_INFER && n->backward))
        continue;
      if (value_virtual(n->out, mode) && !n->group[mode])
        internal_error("%%%d is not stored but has no kernel group", n->out->id);
      for (int k = 0; k < n->nin; k++) {
        const Value *v = n->in[k];
        if (value_virtual(v, mode) && v->def->group[mode] != n->group[mode])
          internal_error("%%%d reads %%%d, not stored, from another kernel", n->out->id, v->id);
      }
      if ((op_table[n->op]->flags & OPF_VIEW) &&
          (n->group[mode] || n->out->over[mode] || value_virtual(n->in[0], mode)))
        internal_error("%%%d, a view of %%%d, is not its stored memory", n->out->id,
                       n->in[0]->id);
      const Value *src = n->out->over[mode];
      if (src && (value_virtual(src, mode) || value_virtual(n->out, mode) ||
                  type_numel(&src->ty) != type_numel(&n->out->ty)))
        internal_error("%%%d cannot be stored over %%%d", n->out->id, src->id);
    }
  }
}

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
  verify_groups(g);
  return true;
}
