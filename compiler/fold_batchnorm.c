/* fold_batchnorm.c - inference: a batchnorm right after a linear or conv2d
 * layer folds into it.  With s = gamma / sqrt(running_var + eps) per output
 * channel, the pair is y = (x W^T) s + (beta + (b - running_mean) s): the
 * layer's weights scaled by s and a new bias.  The kernel applies s and the
 * new bias in the pass after the GEMM that would add the bias anyway (and
 * fuse-elementwise puts the activation there too), rather than storing
 * scaled weights: NAME_params() hands out the parameters to write, and a
 * stored copy could go stale (docs/decisions.md).  The layer's output must
 * feed only the batchnorm. */
#include "nncc.h"

bool fold_batchnorm(Graph *g) {
  Schedules s = schedules_of(g);
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *bn = g->nodes.data[i], *layer;
    if (!(op_table[bn->op]->flags & OPF_FOLDS_INTO_LAYER) || !runs_in_mode(g, &s, bn, MODE_INFER) ||
        !(layer = layer_before_norm(&s, bn, MODE_INFER)))
      continue;
    Group *grp = group_new(g, MODE_INFER, "fold-batchnorm", layer);
    grp->fold_bn = group_append(g, &s, grp, bn, ROLE_OWN);
  }
  groups_tidy(g);
  return true;
}
