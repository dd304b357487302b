/* train.c - the check-train pass: the `train { }` and `test { }` blocks.
 *
 * Each line is `word[(args)] [args...]`; every word's arguments are bound
 * with the same machinery as op arguments (args.c), so misspellings, kinds
 * and ranges get the same messages.  Defaults when the block or a word is
 * missing are written in docs/language.md.  The bound arguments fill the
 * typed recipe (TrainConfig, TestConfig) here, by name; everything after
 * this pass reads its fields.
 */
#include "nncc.h"

#include <string.h>

static const ArgSpec sgd_args[] = {
    {"lr", ARG_NUM, .required = true, .min = 0, .max = 1e30, .has_range = true},
    {"momentum", ARG_NUM, .def = 0, .min = 0, .max = 1, .has_range = true, .max_open = true},
    {"weight_decay", ARG_NUM, .def = 0, .min = 0, .max = 1e30, .has_range = true},
    {"nesterov", ARG_BOOL, .def = 0},
    {0},
};
static const ArgSpec adam_args[] = {
    {"lr", ARG_NUM, .def = 1e-3, .min = 0, .max = 1e30, .has_range = true},
    {"beta1", ARG_NUM, .def = 0.9, .min = 0, .max = 1, .has_range = true, .max_open = true},
    {"beta2", ARG_NUM, .def = 0.999, .min = 0, .max = 1, .has_range = true, .max_open = true},
    {"eps", ARG_NUM, .def = 1e-8, .min = 1e-30, .max = 1e30, .has_range = true},
    {"weight_decay", ARG_NUM, .def = 0, .min = 0, .max = 1e30, .has_range = true},
    {0},
};
static const ArgSpec no_args[] = {{0}};
/* The word tables are in the order of their enums (OptimizerKind, ...). */
static const CallSpec optimizers[] = {{"sgd", sgd_args}, {"adam", adam_args}, {0}};

static const ArgSpec step_args[] = {
    {"every", ARG_INT, .required = true, .min = 1, .max = 1e30, .has_range = true},
    {"gamma", ARG_NUM, .def = 0.1, .min = 0, .max = 1e30, .has_range = true},
    {0},
};
static const CallSpec schedules[] = {
    {"constant", no_args}, {"step", step_args}, {"cosine", no_args}, {0}};

static const ArgSpec rotation_args[] = {
    {"deg", ARG_NUM, .required = true, .min = 0, .max = 180, .has_range = true}, {0}};
static const ArgSpec crop_args[] = {
    {"pad", ARG_INT, .required = true, .min = 0, .max = 1e30, .has_range = true}, {0}};
static const ArgSpec resized_crop_args[] = {
    {"scale", ARG_NUMS, .min = 1e-6, .max = 1, .has_range = true}, {0}};
static const CallSpec augmentations[] = {
    {"random_rotation", rotation_args},
    {"random_crop", crop_args},
    {"random_resized_crop", resized_crop_args},
    {"hflip", no_args},
    {0},
};

static const char *const metrics[] = {"val_loss", "val_accuracy", NULL};
static const char *const crop_modes[] = {"center", "five", NULL};

/* The words of a train block, each with the arguments it takes. */
static const ArgSpec optimizer_spec[] = {
    {"optimizer", ARG_CALL, .required = true, .calls = optimizers}, {0}};
static const ArgSpec schedule_spec[] = {
    {"schedule", ARG_CALL, .required = true, .calls = schedules}, {0}};
static const ArgSpec batch_spec[] = {
    {"batch", ARG_INT, .required = true, .min = 1, .max = 1 << 20, .has_range = true}, {0}};
static const ArgSpec epochs_spec[] = {
    {"epochs", ARG_INT, .required = true, .min = 1, .max = 1e6, .has_range = true}, {0}};
static const ArgSpec validation_spec[] = {
    {"validation", ARG_NUM, .required = true, .min = 0, .max = 1, .has_range = true,
     .max_open = true},
    {0}};
static const ArgSpec early_stopping_spec[] = {
    {"patience", ARG_INT, .def = 5, .min = 1, .max = 1e6, .has_range = true},
    {"metric", ARG_WORD, .def_word = "val_loss", .words = metrics},
    {0}};
static const ArgSpec augment_spec[] = {
    {"augment", ARG_CALL, .required = true, .calls = augmentations}, {0}};
static const ArgSpec seed_spec[] = {
    {"seed", ARG_INT, .required = true, .min = 0, .max = 2147483647, .has_range = true}, {0}};

static const char *const train_words[] = {"optimizer", "schedule", "batch", "epochs",
                                          "validation", "early_stopping", "augment", "seed"};
static const ArgSpec tta_spec[] = {
    {"angles", ARG_NUMS, .min = -180, .max = 180, .has_range = true},
    {"crops", ARG_WORD, .def_word = "center", .words = crop_modes},
    {"sizes", ARG_INTS, .min = 1, .max = 1 << 16, .has_range = true},
    {0}};
static const char *const test_words[] = {"tta"};

static void unknown_word(const BlockLine *l, const char *block, const char *const *words,
                         int n) {
  const char *near = closest_word(l->word, words, n);
  StrBuf list = {0};
  for (int i = 0; i < n; i++)
    sb_printf(&list, "%s%s", i ? ", " : "", words[i]);
  if (near)
    error_at(l->loc, "unknown %s setting '%s'; did you mean '%s'?", block, l->word, near);
  else
    error_at(l->loc, "unknown %s setting '%s'; expected one of: %s", block, l->word,
             list.data);
}

static bool once(const BlockLine *l, const BlockLine **seen) {
  if (*seen) {
    error_at(l->loc, "'%s' is set twice in this block", l->word);
    note_at((*seen)->loc, "first set here");
    return false;
  }
  *seen = l;
  return true;
}

/* A call's bound argument, by its name in the call's spec, and its value. */
static const Attr *sub(const Attr *call, const char *name) {
  int i = spec_index(call->call->args, name);
  if (i < 0)
    internal_error("%s has no argument '%s'", call->word, name);
  return &call->sub[i];
}

static double arg(const Attr *call, const char *name) { return sub(call, name)->v[0]; }

static void set_optimizer(TrainConfig *t, const Attr *a) {
  t->optimizer = (OptimizerKind)(a->call - optimizers);
  bool adam = t->optimizer == OPTIM_ADAM;
  t->lr = arg(a, "lr");
  t->weight_decay = arg(a, "weight_decay");
  t->momentum = adam ? 0 : arg(a, "momentum");
  t->nesterov = adam ? false : arg(a, "nesterov") != 0;
  t->beta1 = adam ? arg(a, "beta1") : 0;
  t->beta2 = adam ? arg(a, "beta2") : 0;
  t->eps = adam ? arg(a, "eps") : 0;
  /* Adam: the first and second moments; sgd: the momentum buffer, if any. */
  t->state_per_param = adam ? 2 : t->momentum != 0 ? 1 : 0;
}

static void set_schedule(TrainConfig *t, const Attr *a) {
  t->schedule = (ScheduleKind)(a->call - schedules);
  bool step = t->schedule == SCHEDULE_STEP;
  t->step_every = step ? (int)arg(a, "every") : 0;
  t->step_gamma = step ? arg(a, "gamma") : 0;
}

static Augment augment_of(const Attr *a) {
  Augment aug = {.kind = (AugmentKind)(a->call - augmentations)};
  switch (aug.kind) {
  case AUG_ROTATION: aug.deg = arg(a, "deg"); break;
  case AUG_CROP: aug.pad = (int)arg(a, "pad"); break;
  case AUG_RESIZED_CROP: {
    const Attr *scale = sub(a, "scale");  /* [min, max], checked; by default [0.08, 1] */
    aug.scale_min = scale->given ? scale->v[0] : 0.08;
    aug.scale_max = scale->given ? scale->v[1] : 1.0;
    break;
  }
  case AUG_HFLIP: break;
  }
  return aug;
}

static void set_default_train(TrainConfig *t) {
  /* adam() with its defaults, constant schedule, batch 64, 10 epochs. */
  Attr scratch[2];
  SrcLoc nowhere = {0};
  ArgSpec opt = {"optimizer", ARG_CALL, .def_word = "adam", .calls = optimizers};
  ArgSpec sch = {"schedule", ARG_CALL, .def_word = "constant", .calls = schedules};
  ArgSpec pair[3] = {opt, sch, {0}};
  bind_args("train", nowhere, NULL, 0, pair, scratch);
  set_optimizer(t, &scratch[0]);
  set_schedule(t, &scratch[1]);
  t->batch = 64;
  t->epochs = 10;
  t->seed = 0;
  t->validation = 0;
}

static void check_train_block(Graph *g) {
  TrainConfig *t = &g->train;
  *t = (TrainConfig){0};  /* (the pass may run again on IR read back) */
  set_default_train(t);
  if (!g->train_stmt)
    return;
  t->present = true;
  t->loc = g->train_stmt->loc;
  const BlockLine *seen[8] = {0};
  for (const BlockLine *l = g->train_stmt->lines; l; l = l->next) {
    int w = -1;
    for (int i = 0; i < 8; i++)
      if (!strcmp(l->word, train_words[i]))
        w = i;
    if (w < 0) {
      unknown_word(l, "train", train_words, 8);
      continue;
    }
    if (w != 6 && !once(l, &seen[w]))
      continue;
    Attr a[2];
    switch (w) {
    case 0:
      if (bind_args("optimizer", l->loc, l->args, l->nargs, optimizer_spec, a)) {
        set_optimizer(t, &a[0]);
        if (t->nesterov && t->momentum == 0)
          error_at(a[0].loc, "sgd: nesterov=true needs momentum > 0 (as in PyTorch)");
      }
      break;
    case 1:
      if (bind_args("schedule", l->loc, l->args, l->nargs, schedule_spec, a))
        set_schedule(t, &a[0]);
      break;
    case 2:
      if (bind_args("batch", l->loc, l->args, l->nargs, batch_spec, a))
        t->batch = (int64_t)a[0].v[0];
      break;
    case 3:
      if (bind_args("epochs", l->loc, l->args, l->nargs, epochs_spec, a))
        t->epochs = (int64_t)a[0].v[0];
      break;
    case 4:
      if (bind_args("validation", l->loc, l->args, l->nargs, validation_spec, a))
        t->validation = a[0].v[0];
      break;
    case 5:
      if (bind_args("early_stopping", l->loc, l->args, l->nargs, early_stopping_spec, a)) {
        t->early_stopping = true;
        t->patience = (int)a[0].v[0];
        t->monitor_accuracy = !strcmp(a[1].word, "val_accuracy");
      }
      break;
    case 6:
      if (l->nargs == 0)
        error_at(l->loc, "augment: name at least one augmentation, such as hflip");
      for (int i = 0; i < l->nargs; i++) {
        if (t->naugment == 8) {
          error_at(l->args[i].value->loc, "augment: at most 8 augmentations");
          break;
        }
        if (bind_args("augment", l->loc, &l->args[i], 1, augment_spec, a)) {
          const Attr *scale = a[0].call == &augmentations[AUG_RESIZED_CROP]
                                  ? sub(&a[0], "scale") : NULL;
          if (scale && scale->given && (scale->n != 2 || scale->v[0] > scale->v[1])) {
            error_at(scale->loc, "random_resized_crop: scale is [min, max] with "
                                 "0 < min <= max <= 1");
            continue;
          }
          t->augment[t->naugment++] = augment_of(&a[0]);
        }
      }
      break;
    case 7:
      if (bind_args("seed", l->loc, l->args, l->nargs, seed_spec, a))
        t->seed = (int64_t)a[0].v[0];
      break;
    }
  }
  if (t->early_stopping && t->validation == 0)
    warn_at(seen[5]->loc, "early_stopping watches validation data, but there is none: "
                          "add `validation 0.1` (or pass --validation to the trainer)");
}

static void check_test_block(Graph *g) {
  TestConfig *t = &g->test;
  *t = (TestConfig){0};
  if (!g->test_stmt)
    return;
  t->present = true;
  t->loc = g->test_stmt->loc;
  const BlockLine *seen = NULL;
  for (const BlockLine *l = g->test_stmt->lines; l; l = l->next) {
    if (strcmp(l->word, "tta")) {
      unknown_word(l, "test", test_words, 1);
      continue;
    }
    if (!once(l, &seen))
      continue;
    Attr a[3];  /* angles, crops, sizes */
    if (!bind_args("tta", l->loc, l->args, l->nargs, tta_spec, a))
      continue;
    /* as many as the runtime's nnrt_tta holds */
    if (a[0].n > 16)
      error_at(a[0].loc, "tta: at most 16 angles, got %d", a[0].n);
    if (a[2].n > 8)
      error_at(a[2].loc, "tta: at most 8 sizes, got %d", a[2].n);
    if (a[0].n > 16 || a[2].n > 8)
      continue;
    t->tta = true;
    t->nangles = a[0].given ? a[0].n : 1;  /* default: the one angle 0 */
    for (int i = 0; i < t->nangles; i++)
      t->angles[i] = a[0].given ? a[0].v[i] : 0;
    t->five_crops = !strcmp(a[1].word, "five");
    t->nsizes = a[2].n;
    for (int i = 0; i < a[2].n; i++)
      t->sizes[i] = (int)a[2].v[i];
  }
}

/* PyTorch users' double softmax: a loss that applies softmax (sigmoid)
 * itself, fed the probabilities instead of the logits.  It trains, but on
 * a flattened loss whose gradients vanish: a warning, with the place the
 * probabilities were made. */
static void lint_losses(const Graph *g) {
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    int twice = n->op == OP_SOFTMAX_CROSS_ENTROPY ? OP_SOFTMAX
                : n->op == OP_SIGMOID_CROSS_ENTROPY ? OP_SIGMOID : -1;
    const IrNode *d = twice >= 0 && n->nin > 0 && n->in[0] ? n->in[0]->def : NULL;
    if (!d || d->op != twice)
      continue;
    const char *f = op_table[twice]->name, *loss = op_table[n->op]->name;
    warn_at(n->loc, "%s applies %s itself, but its input is already a %s: a double %s, "
                    "which trains slowly or not at all; give it the logits (the input of the %s)",
            loss, f, f, f, f);
    note_at(d->loc, "the %s is here", f);
  }
}

bool check_train(Graph *g) {
  int before = diag_error_count();
  lint_losses(g);
  check_train_block(g);
  check_test_block(g);
  check_class_names(g);
  /* As "no output" (lower.c): only in an otherwise clean model, since a
   * `loss` line whose expression failed is missing from g->losses. */
  if (g->train_stmt && g->nlosses == 0 && diag_error_count() == 0)
    error_at(g->train_stmt->loc, "a train block needs a loss to minimise: add a `loss` line, "
                                 "such as `loss softmax_cross_entropy(logits, target)`");
  return diag_error_count() == before;
}

/* ----------------------------------------------- the recipe, as text */

/* The blocks' words and keys, as written in a .nn file: --emit=ir prints
 * the filled-in recipe this way, and --emit=summary its parts. */
const char *optimizer_word(const TrainConfig *t) { return optimizers[t->optimizer].name; }

void print_optimizer(StrBuf *sb, const TrainConfig *t) {
  if (t->optimizer == OPTIM_ADAM)
    sb_printf(sb, "adam(lr=%s, beta1=%s, beta2=%s, eps=%s, weight_decay=%s)", fmt_double(t->lr),
              fmt_double(t->beta1), fmt_double(t->beta2), fmt_double(t->eps),
              fmt_double(t->weight_decay));
  else
    sb_printf(sb, "sgd(lr=%s, momentum=%s, weight_decay=%s, nesterov=%s)", fmt_double(t->lr),
              fmt_double(t->momentum), fmt_double(t->weight_decay),
              t->nesterov ? "true" : "false");
}

void print_lr_schedule(StrBuf *sb, const TrainConfig *t) {
  sb_printf(sb, "%s", schedules[t->schedule].name);
  if (t->schedule == SCHEDULE_STEP)
    sb_printf(sb, "(every=%d, gamma=%s)", t->step_every, fmt_double(t->step_gamma));
}

void print_early_stopping(StrBuf *sb, const TrainConfig *t) {
  sb_printf(sb, "early_stopping(patience=%d, metric=%s)", t->patience,
            metrics[t->monitor_accuracy]);
}

void print_augment(StrBuf *sb, const Augment *a) {
  sb_printf(sb, "%s", augmentations[a->kind].name);
  switch (a->kind) {
  case AUG_ROTATION: sb_printf(sb, "(deg=%s)", fmt_double(a->deg)); break;
  case AUG_CROP: sb_printf(sb, "(pad=%d)", a->pad); break;
  case AUG_RESIZED_CROP:
    sb_printf(sb, "(scale=[%s, %s])", fmt_double(a->scale_min), fmt_double(a->scale_max));
    break;
  case AUG_HFLIP: break;
  }
}

void print_tta(StrBuf *sb, const TestConfig *t) {
  sb_printf(sb, "tta angles=%s", t->nangles == 1 ? "" : "[");
  for (int i = 0; i < t->nangles; i++)
    sb_printf(sb, "%s%s", i ? ", " : "", fmt_double(t->angles[i]));
  sb_printf(sb, "%s crops=%s sizes=[", t->nangles == 1 ? "" : "]", crop_modes[t->five_crops]);
  for (int i = 0; i < t->nsizes; i++)
    sb_printf(sb, "%s%d", i ? ", " : "", t->sizes[i]);
  sb_printf(sb, "]");
}

void print_train_block(StrBuf *sb, const TrainConfig *t) {
  sb_printf(sb, "train { optimizer=");
  print_optimizer(sb, t);
  sb_printf(sb, " schedule=");
  print_lr_schedule(sb, t);
  sb_printf(sb, " batch=%lld epochs=%lld seed=%lld validation=%s", (long long)t->batch,
            (long long)t->epochs, (long long)t->seed, fmt_double(t->validation));
  if (t->early_stopping) {
    sb_printf(sb, " ");
    print_early_stopping(sb, t);
  }
  for (int i = 0; i < t->naugment; i++) {
    sb_printf(sb, " augment=");
    print_augment(sb, &t->augment[i]);
  }
  sb_printf(sb, " }");
}

void print_test_block(StrBuf *sb, const TestConfig *t) {
  sb_printf(sb, "test {");
  if (t->tta) {
    sb_printf(sb, " ");
    print_tta(sb, t);
  }
  sb_printf(sb, " }");
}
