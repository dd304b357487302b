/* schedule.c - which nodes each entry point runs, and who reads a value;
 * the schedule pass, which lists each entry point's kernels in call order.
 *
 * The generated code has three entry points: inference (forward with
 * training=0), forward with training=1, and the training step (its forward
 * and backward pass, then the optimizer update).  Each runs the nodes its
 * results need, in graph order; the last two share one memory plan and one
 * set of fusion decisions (MODE_TRAIN), the first has its own (MODE_INFER).
 * The fusion passes and the schedule pass both ask these questions, so they
 * are answered here once; the planner and the emitter read the schedule.
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

/* ------------------------------------------------------- the schedule pass */

/* The kernels of an entry point: the nodes that run in it, in graph order,
 * a kernel group once, where its last member stands; a view has none. */
static void add_kernels(const Graph *g, Entry *en, const bool *forward, bool backward) {
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.data[i];
    const Group *grp = n->group[en->mode];
    if (runs_in(n, forward, backward) && !(op_table[n->op]->flags & OPF_VIEW) &&
        (!grp || grp->nodes[grp->n - 1] == n))
      vec_push(&en->kernels, n);
  }
}

static Entry *add_entry(Graph *g, int which, const char *name, const char *what, int mode,
                        int mask) {
  Entry *en = &g->entries[which];
  *en = (Entry){.name = name, .what = what, .mode = mode, .mask = mask};
  g->nentries = which + 1;
  return en;
}

/* The entry points: inference and forward(training=1) run what the outputs
 * need; a model with a loss also has the training step (what the losses
 * need, then the backward nodes) and the optimizer update. */
bool schedule_entries(Graph *g) {
  Schedules s = schedules_of(g);
  g->entries = arena_alloc(sizeof(Entry) * NENTRIES);
  static const char *const forward[2] = {"forward, training=0", "forward, training=1"};
  for (int which = ENTRY_INFER; which <= ENTRY_TRAIN_FORWARD; which++) {
    Entry *en = add_entry(g, which, which ? "train_forward" : "infer", forward[which],
                          which ? MODE_TRAIN : MODE_INFER,
                          which ? PLAN_TRAIN_FORWARD : PLAN_INFER);
    add_kernels(g, en, s.infer, false);
    for (int i = 0; i < g->outputs.len; i++)
      vec_push(&en->results, g->outputs.data[i]);
  }
  if (!g->nlosses)
    return true;
  Entry *en = add_entry(g, ENTRY_TRAIN, "train", "loss_and_grad", MODE_TRAIN, PLAN_TRAIN);
  add_kernels(g, en, s.train, true);
  for (int i = 0; i < g->nlosses; i++)
    vec_push(&en->results, g->losses[i].value);
  Value *out0 = g->outputs.len ? g->outputs.data[0] : NULL;
  if (out0 && s.train[out0->id])
    vec_push(&en->results, out0);  /* the trainer reads it after the step */
  en = add_entry(g, ENTRY_UPDATE, "update", "train_step, after loss_and_grad", MODE_TRAIN, 0);
  for (int i = 0; i < g->nodes.len; i++)
    if (((IrNode *)g->nodes.data[i])->op == OP_OPTIMIZER_UPDATE)
      vec_push(&en->kernels, g->nodes.data[i]);
  return true;
}

bool entry_returns(const Entry *en, const Value *v) {
  for (int i = 0; i < en->results.len; i++)
    if (en->results.data[i] == v)
      return true;
  return false;
}

void print_schedule(FILE *out, const Graph *g) {
  fprintf(out, "model %s: entry points at -O%d\n", g->name, g->opt_level);
  for (int i = 0; i < g->nentries; i++) {
    const Entry *en = &g->entries[i];
    fprintf(out, "run_%s (%s): %d kernel%s, %s\n", en->name, en->what, en->kernels.len,
            en->kernels.len == 1 ? "" : "s",
            !en->mask ? "no arena" : en->mode == MODE_TRAIN ? "training plan" : "inference plan");
    for (int k = 0; k < en->kernels.len; k++) {
      const IrNode *n = en->kernels.data[k];
      const Group *grp = n->group[en->mode];
      if (!grp) {
        fprintf(out, "  %s\n", ir_node_str(n));
        continue;
      }
      fprintf(out, "  group %s [%s]:", group_name(grp), grp->pass);
      for (int m = 0; m < grp->n; m++)
        fprintf(out, " %%%d", grp->nodes[m]->out->id);
      fprintf(out, "\n");
    }
    if (en->results.len) {
      fprintf(out, "  returns");
      for (int k = 0; k < en->results.len; k++)
        fprintf(out, " %%%d", ((Value *)en->results.data[k])->id);
      fprintf(out, "\n");
    }
  }
}
