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

/* Each node that reads v, once, in graph order: counted, then filled. */
static void index_readers(const Graph *g, Schedules *s, int mode) {
  int nv = g->next_value_id;
  int *start = arena_alloc(sizeof(int) * (size_t)(nv + 2));
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < g->nodes.len; i++) {
      IrNode *n = g->nodes.data[i];
      if (!runs_in_mode(g, s, n, mode))
        continue;
      for (int k = 0; k < n->nin; k++) {
        bool again = false;  /* add(x, x) reads x once */
        for (int j = 0; j < k; j++)
          again |= n->in[j] == n->in[k];
        if (again)
          continue;
        if (pass == 0)
          start[n->in[k]->id + 2]++;
        else
          s->reader[mode][start[n->in[k]->id + 1]++] = n;
      }
    }
    if (pass == 0) {
      for (int id = 0; id < nv; id++)
        start[id + 2] += start[id + 1];
      s->reader[mode] = arena_alloc(sizeof(IrNode *) * (size_t)(start[nv + 1] + 1));
    }
  }
  s->reader_start[mode] = start;  /* readers of id: [start[id], start[id + 1]) */
}

Schedules schedules_of(const Graph *g) {
  Schedules s = {0};
  s.infer = needed_for(g, (Value *const *)g->outputs.data, g->outputs.len);
  Value **loss_values = arena_alloc(sizeof(Value *) * (size_t)(g->nlosses + 1));
  for (int i = 0; i < g->nlosses; i++)
    loss_values[i] = g->losses[i].value;
  s.train = needed_for(g, loss_values, g->nlosses);
  for (int mode = 0; mode < NMODES; mode++) {
    index_readers(g, &s, mode);
    s.result[mode] = arena_alloc(sizeof(bool) * (size_t)(g->next_value_id + 1));
    for (int i = 0; i < g->outputs.len; i++)
      s.result[mode][((Value *)g->outputs.data[i])->id] = true;
    for (int i = 0; i < g->nlosses && mode == MODE_TRAIN; i++)
      s.result[mode][g->losses[i].value->id] = true;
  }
  return s;
}

int readers(const Schedules *s, int mode, const Value *v, IrNode **out, int max) {
  int lo = s->reader_start[mode][v->id], count = s->reader_start[mode][v->id + 1] - lo;
  for (int i = 0; i < count && i < max; i++)
    out[i] = s->reader[mode][lo + i];
  return count;
}

bool is_result(const Schedules *s, int mode, const Value *v) { return s->result[mode][v->id]; }
