/* rewrite_bce.c - binary_cross_entropy(sigmoid(z), t) becomes
 * sigmoid_cross_entropy(z, t): the same loss in the stable logits form,
 * which never takes the log of a sigmoid that rounded to 0 or 1.  The
 * sigmoid stays if anything else (an output) uses it. */
#include "nncc.h"

bool rewrite_bce(Graph *g) {
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.data[i];
    if (n->op != OP_BINARY_CROSS_ENTROPY || n->in[0]->def->op != OP_SIGMOID)
      continue;
    n->op = OP_SIGMOID_CROSS_ENTROPY;
    n->in[0] = n->in[0]->def->in[0];
  }
  return true;
}
