/* train.c - the check-train pass: the `train { }` and `test { }` blocks.
 *
 * Each line is `word[(args)] [args...]`; every word's arguments are bound
 * with the same machinery as op arguments (args.c), so misspellings, kinds
 * and ranges get the same messages.  Defaults when the block or a word is
 * missing are written in docs/language.md.
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

static void set_default_train(TrainConfig *t) {
  /* adam() with its defaults, constant schedule, batch 64, 10 epochs. */
  Attr scratch[2];
  SrcLoc nowhere = {0};
  ArgSpec opt = {"optimizer", ARG_CALL, .def_word = "adam", .calls = optimizers};
  ArgSpec sch = {"schedule", ARG_CALL, .def_word = "constant", .calls = schedules};
  ArgSpec pair[3] = {opt, sch, {0}};
  bind_args("train", nowhere, NULL, 0, pair, scratch);
  t->optimizer = scratch[0];
  t->schedule = scratch[1];
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
        t->optimizer = a[0];
        if (!strcmp(a[0].word, "sgd") && a[0].sub[3].v[0] && a[0].sub[1].v[0] == 0)
          error_at(a[0].loc, "sgd: nesterov=true needs momentum > 0 (as in PyTorch)");
      }
      break;
    case 1:
      if (bind_args("schedule", l->loc, l->args, l->nargs, schedule_spec, a))
        t->schedule = a[0];
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
      if (bind_args("early_stopping", l->loc, l->args, l->nargs, early_stopping_spec,
                    t->early_stopping))
        t->has_early_stopping = true;
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
          if (!strcmp(a[0].word, "random_resized_crop")) {
            Attr *scale = &a[0].sub[0];
            if (!scale->given) {
              scale->n = 2;
              scale->v[0] = 0.08;
              scale->v[1] = 1.0;
            } else if (scale->n != 2 || scale->v[0] > scale->v[1]) {
              error_at(scale->loc, "random_resized_crop: scale is [min, max] with "
                                   "0 < min <= max <= 1");
              continue;
            }
          }
          t->augment[t->naugment++] = a[0];
        }
      }
      break;
    case 7:
      if (bind_args("seed", l->loc, l->args, l->nargs, seed_spec, a))
        t->seed = (int64_t)a[0].v[0];
      break;
    }
  }
  if (t->has_early_stopping && t->validation == 0)
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
    if (!bind_args("tta", l->loc, l->args, l->nargs, tta_spec, t->tta))
      continue;
    t->has_tta = true;
    if (!t->tta[0].given) {
      t->tta[0].n = 1;
      t->tta[0].v[0] = 0;
    }
  }
}

bool check_train(Graph *g) {
  int before = diag_error_count();
  check_train_block(g);
  check_test_block(g);
  /* As "no output" (lower.c): only in an otherwise clean model, since a
   * `loss` line whose expression failed is missing from g->losses. */
  if (g->train_stmt && g->nlosses == 0 && diag_error_count() == 0)
    error_at(g->train_stmt->loc, "a train block needs a loss to minimise: add a `loss` line, "
                                 "such as `loss softmax_cross_entropy(logits, target)`");
  return diag_error_count() == before;
}
