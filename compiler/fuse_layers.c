/* fuse_layers.c - training: linear/conv2d + batchnorm as one kernel group
 * forward (the GEMM, then the batch statistics, and the normalisation in one
 * pass, which fuse-elementwise extends with the activation after it), and
 * their backward as one group (batchnorm's backward, whose loads
 * fuse-elementwise extends with the activation's backward, then the layer's
 * GEMMs).  The layer's output is kept: batchnorm's backward reads it. */
#include "nncc.h"

bool fuse_layers(Graph *g) {
  Schedules s = schedules_of(g);
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.data[i];
    if (!runs_in_mode(g, &s, n, MODE_TRAIN))
      continue;
    bool fuses = op_table[n->op]->flags & OPF_FUSES_AFTER_LAYER;
    IrNode *layer = fuses ? layer_before_norm(&s, n, MODE_TRAIN) : NULL;
    if (layer) {
      /* forward: the layer, then its batchnorm */
      Group *grp = group_new(g, MODE_TRAIN, "fuse-layers", layer);
      group_append(g, &s, grp, n, ROLE_OWN);
    } else if (n->backward && n->fwd && (op_table[n->fwd->op]->flags & OPF_FUSES_AFTER_LAYER) &&
               n->out->ty.kind != T_NONE) {
      /* backward: batchnorm's, then the layer's, which reads only its dx */
      IrNode *r[2];
      if (readers(&s, MODE_TRAIN, n->out, r, 2) != 1 || r[0]->in[0] != n->out ||
          !r[0]->fwd || !(op_table[r[0]->fwd->op]->flags & OPF_LAYER_HEAD) ||
          n->group[MODE_TRAIN] || r[0]->group[MODE_TRAIN])
        continue;
      Group *grp = group_new(g, MODE_TRAIN, "fuse-layers", n);
      group_append(g, &s, grp, r[0], ROLE_OWN);
    }
  }
  groups_tidy(g);
  return true;
}
