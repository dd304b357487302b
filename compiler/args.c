/* args.c - binding call arguments to an argument spec.
 *
 * Ops, initializers, optimizers, schedules and augmentations all take
 * arguments the same way: positional in spec order, then key=value.  This
 * file checks them once for all of them: unknown or repeated keys, missing
 * required arguments, kinds (integer, number, word, list, ...) and ranges,
 * with a suggestion when a key or word looks misspelt.
 */
#include "nncc.h"

#include <math.h>
#include <string.h>

static const ArgSpec normal_args[] = {{"std", ARG_NUM, .def = 0.01, .min = 0, .max = 1e30, .has_range = true},
                                      {0}};
static const ArgSpec uniform_args[] = {{"a", ARG_NUM, .def = 0.05, .min = 0, .max = 1e30, .has_range = true},
                                       {0}};
static const ArgSpec no_args[] = {{0}};

/* Initializers (DESIGN.md section 1).  he_* and xavier_* use fan_in / fan_out
 * as PyTorch's kaiming_* (a=0, mode=fan_in, relu gain) and xavier_*. */
const CallSpec init_calls[] = {
    {"normal", normal_args},      {"uniform", uniform_args}, {"xavier_normal", no_args},
    {"xavier_uniform", no_args},  {"he_normal", no_args},    {"he_uniform", no_args},
    {"zeros", no_args},           {"ones", no_args},         {0},
};

int spec_count(const ArgSpec *spec) {
  int n = 0;
  while (spec && spec[n].name)
    n++;
  return n;
}

int spec_index(const ArgSpec *spec, const char *name) {
  for (int i = 0; spec && spec[i].name; i++)
    if (strcmp(spec[i].name, name) == 0)
      return i;
  return -1;
}

static const char *kind_text(ArgKind k) {
  switch (k) {
  case ARG_INT: return "an integer";
  case ARG_NUM: return "a number";
  case ARG_BOOL: return "true or false";
  case ARG_WORD: return "a word";
  case ARG_INT2: return "an integer or a list of two integers";
  case ARG_PAD: return "an integer, a list of two integers, same or valid";
  case ARG_NUMS: return "a number or a list of numbers";
  case ARG_INTS: return "an integer or a list of integers";
  case ARG_INIT: return "an initializer";
  case ARG_NAME: return "a name in quotes";
  case ARG_CALL: return "a word";
  }
  return "a value";
}

static const char *node_text(const AstNode *n) {
  StrBuf sb = {0};
  print_ast_expr(&sb, n);
  return sb.data;
}

static const char *range_text(const ArgSpec *s) {
  if (s->max >= 1e30)
    return arena_printf("at least %s", fmt_double(s->min));
  return arena_printf("in [%s, %s%s", fmt_double(s->min), fmt_double(s->max),
                      s->max_open ? ")" : "]");
}

static bool check_range(const char *what, const ArgSpec *s, double v, SrcLoc loc) {
  if (!s->has_range)
    return true;
  if (v < s->min || v > s->max || (s->max_open && v >= s->max) || isnan(v)) {
    error_at(loc, "%s: '%s' must be %s, got %s", what, s->name, range_text(s),
             fmt_double(v));
    return false;
  }
  return true;
}

/* A number (integer if want_int) from a NUM node, range-checked. */
static bool one_number(const char *what, const ArgSpec *s, const AstNode *n, bool want_int,
                       double *out) {
  if (n->kind != ND_NUM) {
    error_at(n->loc, "%s: '%s' must be %s, got '%s'", what, s->name,
             want_int ? "an integer" : "a number", node_text(n));
    return false;
  }
  if (want_int && !n->is_int) {
    error_at(n->loc, "%s: '%s' must be an integer, got %s", what, s->name, n->tok->text);
    return false;
  }
  if (want_int && fabs(n->num) > (double)MAX_ELEMS) {
    error_at(n->loc, "%s: '%s' is too large: %s", what, s->name, fmt_double(n->num));
    return false;
  }
  if (!check_range(what, s, n->num, n->loc))
    return false;
  *out = n->num;
  return true;
}

/* A number or a list of numbers into a->v, with a count check. */
static bool number_list(const char *what, const ArgSpec *s, const AstNode *n, bool want_int,
                        int min_n, int max_n, Attr *a) {
  if (n->kind != ND_LIST) {
    a->n = 1;
    return one_number(what, s, n, want_int, &a->v[0]);
  }
  if (n->nargs < min_n || n->nargs > max_n) {
    if (min_n == max_n)
      error_at(n->loc, "%s: '%s' takes a list of %d values, got %d", what, s->name, min_n,
               n->nargs);
    else
      error_at(n->loc, "%s: '%s' takes a list of %d to %d values, got %d", what, s->name,
               min_n, max_n, n->nargs);
    return false;
  }
  a->n = n->nargs;
  for (int i = 0; i < n->nargs; i++)
    if (!one_number(what, s, n->args[i].value, want_int, &a->v[i]))
      return false;
  return true;
}

static const CallSpec *find_call(const CallSpec *calls, const char *name) {
  for (int i = 0; calls[i].name; i++)
    if (strcmp(calls[i].name, name) == 0)
      return &calls[i];
  return NULL;
}

static const char *call_names(const CallSpec *calls, const char **cands, int *n) {
  StrBuf sb = {0};
  *n = 0;
  for (int i = 0; calls[i].name; i++) {
    sb_printf(&sb, "%s%s", i ? ", " : "", calls[i].name);
    cands[(*n)++] = calls[i].name;
  }
  return sb.data;
}

static void unknown_word(const char *what, const ArgSpec *s, const char *word, SrcLoc loc,
                         const char *const *cands, int ncands, const char *list) {
  const char *near = closest_word(word, cands, ncands);
  static const char *const init_aliases[][2] = {
      {"kaiming_normal", "he_normal"},     {"kaiming_uniform", "he_uniform"},
      {"glorot_normal", "xavier_normal"},  {"glorot_uniform", "xavier_uniform"},
  };
  for (int i = 0; s->kind == ARG_INIT && i < 4; i++)
    if (!strcmp(word, init_aliases[i][0]))
      near = init_aliases[i][1];
  /* Keras's metric names (val_acc before Keras 2.3) */
  static const char *const word_habits[][3] = {
      {"val_acc", "val_accuracy", " (Keras's name before 2.3)"},
      {"accuracy", "val_accuracy", " (early stopping watches the validation split)"},
      {"loss", "val_loss", " (early stopping watches the validation split)"},
  };
  const char *habit = "";
  for (size_t i = 0; i < sizeof word_habits / sizeof word_habits[0]; i++)
    for (int k = 0; !strcmp(word, word_habits[i][0]) && k < ncands; k++)
      if (!strcmp(cands[k], word_habits[i][1])) {
        near = word_habits[i][1];
        habit = word_habits[i][2];
      }
  /* "unknown optimizer 'rmsprop'", "early_stopping: unknown metric 'x'" */
  const char *prefix = strcmp(what, s->name) ? arena_printf("%s: ", what) : "";
  const char *noun = s->kind == ARG_INIT ? "initializer" : s->name;
  if (near)
    error_at(loc, "%sunknown %s '%s'%s; did you mean '%s'?", prefix, noun, word, habit, near);
  else
    error_at(loc, "%sunknown %s '%s'; expected one of: %s", prefix, noun, word, list);
}

/* The names PyTorch and Keras users type for an argument key: if key is
 * one and its nncc name is among cands, *near becomes that name and the
 * result says whose name key is. */
static const char *key_habit(const char *key, const char *const *cands, int n,
                             const char **near) {
  static const char *const habits[][3] = {
      {"step_size", "every", "PyTorch's StepLR name"},
      {"monitor", "metric", "Keras's EarlyStopping name"},
      {"padding", "pad", "PyTorch's name"},
      {"kernel_size", "kernel", "PyTorch's name"},
      {"out_features", "out", "PyTorch's Linear name"},
      {"out_channels", "filters", "PyTorch's Conv2d name"},
      {"units", "out", "Keras's Dense name"},
      {"learning_rate", "lr", "Keras's name"},
      {"rate", "p", "Keras's Dropout name"},
      {"negative_slope", "slope", "PyTorch's LeakyReLU name"},
  };
  for (size_t i = 0; i < sizeof habits / sizeof habits[0]; i++)
    for (int k = 0; !strcmp(key, habits[i][0]) && k < n; k++)
      if (!strcmp(cands[k], habits[i][1])) {
        *near = habits[i][1];
        return habits[i][2];
      }
  return NULL;
}

/* INIT / CALL: a word (with default arguments) or a call. */
static bool bind_call(const char *what, const ArgSpec *s, const AstNode *n, Attr *a) {
  const char *cands[32];
  int ncands;
  const char *list = call_names(s->calls, cands, &ncands);
  if (n->kind != ND_IDENT && n->kind != ND_CALL) {
    error_at(n->loc, "%s: '%s' must be one of: %s; got '%s'", what, s->name, list,
             node_text(n));
    return false;
  }
  const CallSpec *c = find_call(s->calls, n->name);
  if (!c) {
    unknown_word(what, s, n->name, n->loc, cands, ncands, list);
    return false;
  }
  a->word = c->name;
  a->call = c;
  int nsub = spec_count(c->args);
  a->sub = arena_alloc(sizeof(Attr) * (size_t)(nsub ? nsub : 1));
  if (n->kind == ND_IDENT)
    return bind_args(c->name, n->loc, NULL, 0, c->args, a->sub);
  return bind_args(c->name, n->loc, n->args, n->nargs, c->args, a->sub);
}

static bool valid_layer_name(const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len > 64)
    return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.';
    if (!ok || (c == '.' && (i + 1 == len || s[i + 1] == '.')))
      return false;
  }
  return true;
}

/* Is w one of a, b but for letter case? */
static bool same_but_case(const char *w, const char *a, const char *b) {
  for (int k = 0; k < 2; k++) {
    const char *x = w, *y = k ? b : a;
    while (*x && (*x == *y || *x - 'A' + 'a' == *y))
      x++, y++;
    if (!*x && !*y)
      return true;
  }
  return false;
}

static bool bind_one(const char *what, const ArgSpec *s, const AstNode *n, Attr *a) {
  a->given = true;
  a->loc = n->loc;
  if (n->kind == ND_STRING && (s->kind == ARG_BOOL || s->kind == ARG_WORD || s->kind == ARG_PAD ||
                               s->kind == ARG_INIT || s->kind == ARG_CALL)) {
    /* pad="same": words are written bare; only layer names are quoted. */
    error_at(n->loc, "%s: '%s' takes a word without quotes, as in %s=%s", what, s->name,
             s->name, n->name[0] ? n->name : "...");
    return false;
  }
  switch (s->kind) {
  case ARG_INT:
  case ARG_NUM:
    a->n = 1;
    return one_number(what, s, n, s->kind == ARG_INT, &a->v[0]);
  case ARG_BOOL:
    if (n->kind == ND_IDENT && (!strcmp(n->name, "true") || !strcmp(n->name, "false"))) {
      a->n = 1;
      a->v[0] = !strcmp(n->name, "true");
      a->word = n->name;
      return true;
    }
    if (n->kind == ND_IDENT && same_but_case(n->name, "true", "false")) {  /* Python's False */
      error_at(n->loc, "%s: '%s' must be true or false, got '%s' (write it in lower case)",
               what, s->name, n->name);
      return false;
    }
    error_at(n->loc, "%s: '%s' must be true or false, got '%s'", what, s->name, node_text(n));
    return false;
  case ARG_WORD: {
    int nw = 0;
    StrBuf list = {0};
    while (s->words[nw]) {
      sb_printf(&list, "%s%s", nw ? ", " : "", s->words[nw]);
      nw++;
    }
    if (n->kind != ND_IDENT) {
      error_at(n->loc, "%s: '%s' must be one of: %s; got '%s'", what, s->name, list.data,
               node_text(n));
      return false;
    }
    for (int i = 0; i < nw; i++)
      if (!strcmp(s->words[i], n->name)) {
        a->word = s->words[i];
        return true;
      }
    unknown_word(what, s, n->name, n->loc, s->words, nw, list.data);
    return false;
  }
  case ARG_INT2:
    if (!number_list(what, s, n, true, 2, 2, a))
      return false;
    if (a->n == 1)
      a->v[1] = a->v[0], a->n = 2;
    return true;
  case ARG_PAD:
    if (n->kind == ND_IDENT && (!strcmp(n->name, "same") || !strcmp(n->name, "valid"))) {
      a->word = !strcmp(n->name, "same") ? "same" : "valid";
      a->n = 2;
      a->v[0] = a->v[1] = 0;
      return true;
    }
    if (n->kind == ND_IDENT) {
      const char *w[] = {"same", "valid"};
      const char *near = closest_word(n->name, w, 2);
      error_at(n->loc, "%s: '%s' must be an integer, [h, w], same or valid; got '%s'%s", what,
               s->name, n->name, near ? arena_printf(" (did you mean '%s'?)", near) : "");
      return false;
    }
    if (!number_list(what, s, n, true, 2, 2, a))
      return false;
    if (a->n == 1)
      a->v[1] = a->v[0], a->n = 2;
    return true;
  case ARG_NUMS:
    return number_list(what, s, n, false, 1, MAX_LIST, a);
  case ARG_INTS:
    return number_list(what, s, n, true, 1, MAX_LIST, a);
  case ARG_INIT:
  case ARG_CALL:
    return bind_call(what, s, n, a);
  case ARG_NAME:
    if (n->kind != ND_STRING && n->kind != ND_IDENT) {
      error_at(n->loc, "%s: '%s' must be a name in quotes, as in name=\"fc1\"", what, s->name);
      return false;
    }
    if (!valid_layer_name(n->name)) {
      error_at(n->loc, "%s: invalid layer name \"%s\": use letters, digits, '_' and '.', "
                       "starting with a letter or '_', at most 64 characters", what, n->name);
      return false;
    }
    a->word = n->name;
    return true;
  }
  internal_error("unhandled argument kind %d", s->kind);
}

static void set_default(const ArgSpec *s, Attr *a) {
  a->given = false;
  switch (s->kind) {
  case ARG_INT2:
  case ARG_PAD:
    a->n = 2;
    a->v[0] = a->v[1] = s->def;
    a->word = s->def_word;
    break;
  case ARG_INTS:
    a->n = 0;
    break;
  case ARG_INIT:
  case ARG_CALL:
    if (s->def_word) {
      const CallSpec *c = find_call(s->calls, s->def_word);
      if (!c)
        internal_error("default '%s' of '%s' is not a known call", s->def_word, s->name);
      a->word = c->name;
      a->call = c;
      int nsub = spec_count(c->args);
      a->sub = arena_alloc(sizeof(Attr) * (size_t)(nsub ? nsub : 1));
      for (int i = 0; i < nsub; i++)
        set_default(&c->args[i], &a->sub[i]);
    }
    break;
  default:
    a->n = 1;
    a->v[0] = s->def;
    a->word = s->def_word;
    break;
  }
}

bool bind_args(const char *what, SrcLoc callee_loc, const Arg *args, int nargs,
               const ArgSpec *spec, Attr *out) {
  int nspec = spec_count(spec);
  bool ok = true;
  for (int i = 0; i < nspec; i++)
    set_default(&spec[i], &out[i]);

  bool seen_key = false;
  int pos = 0;
  for (int i = 0; i < nargs; i++) {
    const Arg *a = &args[i];
    int idx;
    if (!a->key) {
      if (seen_key) {
        error_at(a->value->loc, "%s: positional argument after a keyword argument", what);
        return false;
      }
      if (pos >= nspec) {
        if (nspec == 0)
          error_at(a->value->loc, "%s takes no arguments here", what);
        else
          error_at(a->value->loc, "%s: too many arguments (it takes at most %d: %s%s)", what,
                   nspec, spec[0].name, nspec > 1 ? ", ..." : "");
        return false;
      }
      idx = pos++;
    } else {
      seen_key = true;
      idx = spec_index(spec, a->key);
      if (idx < 0) {
        const char *cands[32];
        StrBuf list = {0};
        for (int j = 0; j < nspec && j < 32; j++) {
          cands[j] = spec[j].name;
          sb_printf(&list, "%s%s", j ? ", " : "", spec[j].name);
        }
        const char *near = closest_word(a->key, cands, nspec < 32 ? nspec : 32);
        const char *habit = key_habit(a->key, cands, nspec < 32 ? nspec : 32, &near);
        /* PyTorch's longer names: kernel_size, padding, out_features, eps. */
        for (int j = 0; !near && j < nspec && j < 32; j++) {
          size_t lj = strlen(cands[j]), lk = strlen(a->key);
          if (lj >= 2 && lk >= 2 &&
              !strncmp(a->key, cands[j], lj < lk ? lj : lk))
            near = cands[j];
        }
        if (near)
          error_at(a->key_loc, "%s has no argument '%s'%s; did you mean '%s'?", what, a->key,
                   habit ? arena_printf(" (%s)", habit) : "", near);
        else if (nspec)
          error_at(a->key_loc, "%s has no argument '%s'; its arguments are: %s", what, a->key,
                   list.data);
        else
          error_at(a->key_loc, "%s has no argument '%s'; it takes none", what, a->key);
        ok = false;
        continue;
      }
      if (out[idx].given) {
        error_at(a->key_loc, "%s: argument '%s' is given twice", what, a->key);
        ok = false;
        continue;
      }
    }
    if (!bind_one(what, &spec[idx], a->value, &out[idx]))
      ok = false;
  }
  for (int i = 0; ok && i < nspec; i++)
    if (spec[i].required && !out[i].given) {
      error_at(callee_loc, "%s: missing argument '%s' (%s)", what, spec[i].name,
               kind_text(spec[i].kind));
      ok = false;
    }
  return ok;
}

static void print_numbers(StrBuf *sb, const Attr *a, bool force_list) {
  if (a->n == 1 && !force_list) {
    sb_printf(sb, "%s", fmt_double(a->v[0]));
    return;
  }
  sb_printf(sb, "[");
  for (int i = 0; i < a->n; i++)
    sb_printf(sb, "%s%s", i ? ", " : "", fmt_double(a->v[i]));
  sb_printf(sb, "]");
}

void print_attr(StrBuf *sb, const ArgSpec *s, const Attr *a) {
  switch (s->kind) {
  case ARG_INT:
  case ARG_NUM:
  case ARG_NUMS:
    print_numbers(sb, a, false);
    break;
  case ARG_INTS:
    print_numbers(sb, a, true);
    break;
  case ARG_BOOL: sb_printf(sb, "%s", a->v[0] ? "true" : "false"); break;
  case ARG_WORD: sb_printf(sb, "%s", a->word ? a->word : "none"); break;
  case ARG_INT2:
  case ARG_PAD:
    if (a->word && !strcmp(a->word, "same")) {
      sb_printf(sb, "same");
    } else if (a->n == 2 && a->v[0] == a->v[1]) {
      sb_printf(sb, "%s", fmt_double(a->v[0]));
    } else {
      print_numbers(sb, a, true);
    }
    break;
  case ARG_INIT:
  case ARG_CALL: {
    if (!a->word) {
      sb_printf(sb, "none");
      break;
    }
    sb_printf(sb, "%s", a->word);
    int nsub = spec_count(a->call->args);
    if (nsub) {
      sb_printf(sb, "(");
      for (int i = 0; i < nsub; i++) {
        sb_printf(sb, "%s%s=", i ? ", " : "", a->call->args[i].name);
        print_attr(sb, &a->call->args[i], &a->sub[i]);
      }
      sb_printf(sb, ")");
    }
    break;
  }
  case ARG_NAME: sb_printf(sb, "\"%s\"", a->word ? a->word : ""); break;
  }
}
