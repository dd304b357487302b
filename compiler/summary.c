/* summary.c - --emit=summary: the model for its author, as Keras's
 * model.summary() shows one (decision 243).
 *
 *   Model: fashion_cnn (fashion_cnn.nn)
 *   Layer (op)               Output shape          Params  Line
 *   =======================================================
 *   image (input)            [N, 1, 28, 28]             0     4
 *   conv2d0 (conv2d)         [N, 32, 28, 28]          320     8
 *   ...
 *   Total params: 422,538 (1.61 MiB)
 *
 * then the interface, the memory (parameters, gradients, optimizer state,
 * the arenas) and the recipe.  A "Connected to" column is added when the
 * graph is not a chain (add, concat, a value read twice).
 */
#include "nncc.h"

#include <string.h>

enum { COL_NAME, COL_SHAPE, COL_PARAMS, COL_LINE, COL_INPUTS, NCOLS };

typedef struct Row {
  const char *cell[NCOLS];
} Row;

/* Floats of the node's parameters: trainable ones, and all (with the
 * running statistics, as Keras counts them). */
static int64_t node_params(const IrNode *n, bool trainable_only) {
  int64_t sum = 0;
  for (int i = 0; i < n->nparams; i++)
    if (n->params[i]->trainable || !trainable_only)
      sum += n->params[i]->numel;
  return sum;
}

/* Does the table show n: an input or a forward op of the model (labels and
 * losses are listed below the table)? */
static bool shown(const IrNode *n) {
  return !n->backward && n->op != OP_LABEL && !(op_table[n->op]->flags & OPF_LOSS);
}

/* The rows; *chain is set when each row reads the row before it only. */
static PtrVec table_rows(const Graph *g, const char **names, bool *chain) {
  PtrVec rows = {0};
  const Value *prev = NULL;
  *chain = true;
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    if (!shown(n))
      continue;
    Row *r = arena_alloc(sizeof(Row));
    r->cell[COL_NAME] = arena_printf("%s (%s)", names[n->out->id], op_table[n->op]->name);
    r->cell[COL_SHAPE] = type_batch_str(&n->out->ty);
    r->cell[COL_PARAMS] = fmt_count(node_params(n, false));
    r->cell[COL_LINE] = arena_printf("%d", n->loc.line);
    StrBuf in = {0};
    for (int k = 0; k < n->nin; k++)
      sb_printf(&in, "%s%s", k ? ", " : "", names[n->in[k]->id]);
    r->cell[COL_INPUTS] = in.data ? in.data : "";
    if (n->nin > 1 || (n->nin == 1 && n->in[0] != prev) || (n->nin == 0 && prev))
      *chain = false;
    prev = n->out;
    vec_push(&rows, r);
  }
  return rows;
}

/* A row of cells: names left-aligned, numbers right-aligned, the last
 * cell unpadded (no trailing spaces). */
static void print_row(FILE *out, const char *const *cell, const int *w, int ncols) {
  StrBuf sb = {0};
  for (int c = 0; c < ncols; c++) {
    const char *sep = c ? "  " : "";
    if (c == COL_PARAMS || c == COL_LINE)
      sb_printf(&sb, "%s%*s", sep, w[c], cell[c]);
    else if (c == ncols - 1)
      sb_printf(&sb, "%s%s", sep, cell[c]);
    else
      sb_printf(&sb, "%s%-*s", sep, w[c], cell[c]);
  }
  while (sb.len && sb.data[sb.len - 1] == ' ')
    sb.data[--sb.len] = '\0';
  fprintf(out, "%s\n", sb.data);
}

static void print_table(FILE *out, const Graph *g, const char **names) {
  bool chain;
  PtrVec rows = table_rows(g, names, &chain);
  static const char *const heads[NCOLS] = {"Layer (op)", "Output shape", "Params", "Line",
                                           "Connected to"};
  int ncols = chain ? COL_INPUTS : NCOLS, w[NCOLS] = {0}, total = 0;
  for (int c = 0; c < ncols; c++) {
    w[c] = (int)strlen(heads[c]);
    for (int i = 0; i < rows.len; i++) {
      int len = (int)strlen(((Row *)rows.data[i])->cell[c]);
      w[c] = len > w[c] ? len : w[c];
    }
    total += w[c] + (c ? 2 : 0);
  }
  char *rule = arena_alloc((size_t)total + 1);
  memset(rule, '=', (size_t)total);
  print_row(out, heads, w, ncols);
  fprintf(out, "%s\n", rule);
  for (int i = 0; i < rows.len; i++)
    print_row(out, ((Row *)rows.data[i])->cell, w, ncols);
  fprintf(out, "%s\n", rule);
}

/* The values of a list of IrNode* (inputs, labels) or Value* (outputs). */
static const char *io_list(const PtrVec *v, bool nodes, const char **names) {
  StrBuf sb = {0};
  for (int i = 0; i < v->len; i++) {
    const Value *x = nodes ? ((IrNode *)v->data[i])->out : v->data[i];
    const char *name = names[x->id];
    if (x->name && strcmp(x->name, name))  /* an output by its .nn name too */
      name = arena_printf("%s (%s)", x->name, name);
    sb_printf(&sb, "%s%s %s", i ? ", " : "", name, type_batch_str(&x->ty));
  }
  return sb.data ? sb.data : "none";
}

static void print_totals(FILE *out, const Graph *g, const char **names) {
  int elem = g->f64 ? 8 : 4;
  int64_t all = g->num_params + g->num_buffers;
  fprintf(out, "Total params: %s (%s)\n", fmt_count(all), fmt_bytes(all * elem));
  fprintf(out, "Trainable params: %s (%s)\n", fmt_count(g->num_params),
          fmt_bytes(g->num_params * elem));
  fprintf(out, "Non-trainable params: %s (%s)%s\n", fmt_count(g->num_buffers),
          fmt_bytes(g->num_buffers * elem),
          g->num_buffers ? ": batchnorm running statistics" : "");
  fprintf(out, "\nInputs:  %s\n", io_list(&g->inputs, true, names));
  if (g->labels.len)
    fprintf(out, "Labels:  %s\n", io_list(&g->labels, true, names));
  fprintf(out, "Outputs: %s\n", io_list(&g->outputs, false, names));
  for (int i = 0; i < g->nlosses; i++) {
    const IrNode *n = g->losses[i].value->def;
    StrBuf in = {0};
    for (int k = 0; k < n->nin; k++)
      sb_printf(&in, "%s%s", k ? ", " : "", names[n->in[k]->id]);
    fprintf(out, "Loss:    %s(%s), weight %s (line %d)\n", op_table[n->op]->name, in.data,
            fmt_double(g->losses[i].weight), g->losses[i].loc.line);
  }
}

/* The memory a model object takes: its parameters, and the arena of each
 * mode at batch 1 and at the recipe's batch. */
static void print_memory(FILE *out, const Graph *g) {
  int elem = g->f64 ? 8 : 4;
  int64_t batch = g->train.batch, infer1[3], infer[3], train[3];
  plan_totals(g, PLAN_INFER, 1, infer1);
  plan_totals(g, PLAN_INFER, batch, infer);
  fprintf(out, "\nMemory (%d-byte values; nncc --emit=plan shows each buffer):\n", elem);
  fprintf(out, "  parameters        %s + running statistics %s\n",
          fmt_bytes(g->num_params * elem), fmt_bytes(g->num_buffers * elem));
  fprintf(out, "  inference arena   %s at batch 1, %s at batch %lld\n", fmt_bytes(infer1[0]),
          fmt_bytes(infer[0]), (long long)batch);
  if (!g->nlosses)
    return;
  plan_totals(g, PLAN_TRAIN, batch, train);
  const TrainConfig *t = &g->train;
  fprintf(out, "  training arena    %s at batch %lld\n", fmt_bytes(train[0]), (long long)batch);
  fprintf(out, "  gradients         %s\n", fmt_bytes(g->num_params * elem));
  fprintf(out, "  optimizer state   %s (%d value%s per parameter)\n",
          fmt_bytes(g->num_params * t->state_per_param * elem), t->state_per_param,
          t->state_per_param == 1 ? "" : "s");
}

/* The filled-in recipe: how the trainer will train the model (with the
 * defaults when there is no block). */
static void print_recipe(FILE *out, const Graph *g) {
  const TrainConfig *t = &g->train;
  fprintf(out, "\nTraining%s:\n", t->present ? "" : " (no train block: the defaults)");
  StrBuf sb = {0};
  print_optimizer(&sb, t);
  fprintf(out, "  optimizer   %s\n", sb.data);
  sb = (StrBuf){0};
  print_lr_schedule(&sb, t);
  fprintf(out, "  schedule    %s\n", sb.data);
  fprintf(out, "  batch       %lld\n  epochs      %lld\n", (long long)t->batch,
          (long long)t->epochs);
  fprintf(out, "  validation  %s\n  seed        %lld\n", fmt_double(t->validation),
          (long long)t->seed);
  if (t->early_stopping) {
    sb = (StrBuf){0};
    print_early_stopping(&sb, t);
    fprintf(out, "  early stop  %s\n", sb.data);
  }
  if (t->naugment) {
    sb = (StrBuf){0};
    for (int i = 0; i < t->naugment; i++) {
      sb_printf(&sb, "%s", i ? ", " : "");
      print_augment(&sb, &t->augment[i]);
    }
    fprintf(out, "  augment     %s\n", sb.data);
  }
  if (g->test.tta) {
    sb = (StrBuf){0};
    print_tta(&sb, &g->test);
    fprintf(out, "Test:\n  %s\n", sb.data);
  }
}

void print_summary(FILE *out, const Graph *g) {
  const char **names = value_names(g);
  fprintf(out, "Model: %s (%s)\n", g->name, base_name(g->file->name));
  print_table(out, g, names);
  print_totals(out, g, names);
  print_memory(out, g);
  if (g->nlosses)
    print_recipe(out, g);
}
