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
