/* dce.c - dead code elimination: forward nodes that neither an output nor
 * a loss needs are dropped before autodiff, so no kernel, buffer or
 * gradient is ever made for them.  (Their parameters stay in the flat
 * buffer: its layout is the model's, as written.) */
#include "nncc.h"

bool dead_code(Graph *g) {
  Schedules s = schedules_of(g);
  int kept = 0;
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.data[i];
    bool live = n->op == OP_INPUT || n->op == OP_LABEL || n->backward || s.infer[n->out->id] ||
                s.train[n->out->id];
    if (live)
      g->nodes.data[kept++] = n;
  }
  g->nodes.len = kept;
  return true;
}
