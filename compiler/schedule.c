/* schedule.c - which nodes each entry point runs, and who reads a value.
 *
 * The generated code has three entry points: inference (forward with
 * training=0), forward with training=1, and the training step.  Each runs
 * the nodes its results need, in graph order; the last two share one memory
 * plan and one set of fusion decisions (MODE_TRAIN), the first has its own
 * (MODE_INFER).  The fusion passes and the planner both ask these questions,
 * so they are answered here once.
 */
#include "nncc.h"

/* The nodes a set of values needs, by walking inputs backwards. */
static bool *needed_for(const Graph *g, Value *const *roots, int nroots) {
  bool *need = arena_alloc(sizeof(bool) * (size_t)(g->next_value_id + 1));
  for (int i = 0; i < nroots; i++)
    need[roots[i]->id] = true;
  for (int i = g->nodes.len - 1; i >= 0; i--) {
    const IrNode *n = g->nodes.data[i];
    if (!need[n->out->id])
      continue;
    for (int k = 0; k < n->nin; k++)
      need[n->in[k]->id] = true;
  }
  return need;
}

Schedules schedules_of(const Graph *g) {
  Schedules s = {0};
  s.infer = needed_for(g, (Value *const *)g->outputs.data, g->outputs.len);
  Value **loss_values = arena_alloc(sizeof(Value *) * (size_t)(g->nlosses + 1));
  for (int i = 0; i < g->nlosses; i++)
    loss_values[i] = g->losses[i].value;
  s.train = needed_for(g, loss_values, g->nlosses);
  return s;
}

bool runs_in(const IrNode *n, const bool *forward, bool backward) {
  if (n->op == OP_INPUT || n->op == OP_LABEL)
    return false;
  return n->backward ? backward && n->op != OP_OPTIMIZER_UPDATE : forward[n->out->id];
}

bool runs_in_mode(const Graph *g, const Schedules *s, const IrNode *n, int mode) {
  if (mode == MODE_INFER)
    return runs_in(n, s->infer, false);
  return runs_in(n, s->infer, false) || (g->nlosses && runs_in(n, s->train, true));
}

bool runs_everywhere(const Graph *g, const Schedules *s, const IrNode *n, int mode) {
  if (mode == MODE_INFER || n->backward)
    return runs_in_mode(g, s, n, mode);
  return runs_in(n, s->infer, false) && (!g->nlosses || s->train[n->out->id]);
}

int readers(const Graph *g, const Schedules *s, int mode, const Value *v, IrNode **out,
            int max) {
  int count = 0;
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.data[i];
    if (!runs_in_mode(g, s, n, mode))
      continue;
    for (int k = 0; k < n->nin; k++)
      if (n->in[k] == v) {
        if (count < max)
          out[count] = n;
        count++;
        break;
      }
  }
  return count;
}

bool is_result(const Graph *g, int mode, const Value *v) {
  for (int i = 0; i < g->outputs.len; i++)
    if (g->outputs.data[i] == v)
      return true;
  if (mode == MODE_TRAIN)
    for (int i = 0; i < g->nlosses; i++)
      if (g->losses[i].value == v)
        return true;
  return false;
}
