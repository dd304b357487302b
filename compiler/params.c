/* params.c - the assign-params pass: each layer's trainable tensors, in
 * source order and PyTorch's per-layer order, packed into one flat buffer
 * (offsets in floats), and its buffers (BN running statistics) into another.
 * --emit=params prints the result. */
#include "nncc.h"

bool assign_params(Graph *g) {
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.data[i];
    const OpInfo *info = op_table[n->op];
    if (!(info->flags & OPF_LAYER))
      continue;
    if (!info->params)
      internal_error("layer op %s has no params hook", info->name);
    info->params(g, n);
    if (g->num_params > MAX_PARAMS) {
      error_at(n->loc, "the model has too many parameters (more than %lld floats)",
               MAX_PARAMS);
      return false;
    }
  }
  return true;
}

int64_t optimizer_values(const Graph *g) {
  return g->nlosses ? g->train.state_per_param * g->num_params : 0;
}

const char *checkpoint_structure(const Graph *g) {
  StrBuf sb = {0};
  sb_printf(&sb, "nncc-1 %s", g->f64 ? "f64" : "f32");
  if (g->nlosses)
    sb_printf(&sb, ";optimizer %s x%d", optimizer_word(&g->train), g->train.state_per_param);
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->len; i++) {
      const Param *p = lists[l]->data[i];
      sb_printf(&sb, ";%s%s ", l ? "buffer " : "", p->name);
      for (int d = 0; d < p->rank; d++)
        sb_printf(&sb, "%s%lld", d ? "x" : "", (long long)p->dims[d]);
    }
  return sb.data;
}
