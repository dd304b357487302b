/* cli.c - the trainer's options, in one table that the parser, the
 * messages and --help all read (cli.h).  nncc compiles this file too, to
 * check a `nncc train|test|predict` command line before it compiles the
 * model and to print the same --help.
 *
 * To add an option: one row in `options` (and, if it is new, a field in
 * nnrt_cli or nnrt_train_options).  C99, no allocation. */
#include "cli.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum Kind {
  STRING,  /* const char *              */
  INT,     /* int, in [min, max]        */
  LONG,    /* long, in [min, max]       */
  LLONG,   /* long long, in [min, max]  */
  NUMBER,  /* double, in [min, max] or [min, max) if max_open */
  SWITCH,  /* int set to 1, no value    */
  SCALE    /* double: auto 0, none 1, or a number in (0, max] */
} Kind;

typedef struct Option {
  const char *name;        /* "--epochs"                                     */
  const char *arg;         /* the value's name in --help, or NULL (SWITCH)   */
  Kind kind;
  unsigned cmds;           /* the commands that take it (NNRT_CMD_*)         */
  double min, max;
  int max_open;
  size_t offset;           /* of the field in nnrt_cli                       */
  const char *help;
} Option;

#define T NNRT_CMD_TRAIN
#define E NNRT_CMD_TEST
#define P NNRT_CMD_PREDICT
#define AT(field) offsetof(nnrt_cli, field)
/* The integer ranges are those of the .nn language's train block
 * (compiler/train.c), so a flag never wraps or truncates. */
static const Option options[] = {
    {"--data", "DIR", STRING, T | E, 0, 0, 0, AT(o.data), "the data set (see below)"},
    {"--load", "CKPT", STRING, T | E | P, 0, 0, 0, AT(o.load),
     "the checkpoint to evaluate or use; train: resume from it (exactly, with the same "
     "--seed and --epochs)"},
    {"--load-partial", "NPZ", STRING, T, 0, 0, 0, AT(o.load_partial),
     "start from the tensors of an .npz (nncc weights export) that match a parameter by name and "
     "shape"},
    {"--images", "FILE", STRING, P, 0, 0, 0, AT(images),
     "the samples: IDX, CSV (no label column) or a PGM/PPM image"},
    {"--out", "FILE.csv", STRING, P, 0, 0, 0, AT(out_csv),
     "also write every sample's prediction as CSV"},
    {"--top", "K", LONG, P, 1, 1000000, 0, AT(top), "classes printed per sample (default 5)"},
    {"--epochs", "N", INT, T, 1, 1000000, 0, AT(o.epochs), "epochs to train"},
    {"--batch", "N", INT, T | E, 1, 1 << 20, 0, AT(o.batch), "samples per step"},
    {"--lr", "X", NUMBER, T, 0, 1e30, 0, AT(o.lr), "the learning rate (the schedule starts at it)"},
    {"--seed", "N", LLONG, T, 0, 2147483647, 0, AT(o.seed),
     "initial weights, validation split, order, augmentation"},
    {"--validation", "F", NUMBER, T, 0, 1, 1, AT(o.validation),
     "fraction of the training data held out"},
    {"--patience", "N", INT, T, 0, 1000000, 0, AT(o.patience), "early stopping (0: off)"},
    {"--no-augment", NULL, SWITCH, T, 0, 0, 0, AT(o.no_augment), "train without the augmentations"},
    {"--tta", NULL, SWITCH, T | E | P, 0, 0, 0, AT(o.tta),
     "with the test block's test-time augmentation"},
    {"--save", "PATH", STRING, T, 0, 0, 0, AT(o.save),
     "checkpoint after each epoch; with early stopping, the best epoch's at the end "
     "(PATH.best holds it during the run)"},
    {"--log", "FILE.csv", STRING, T, 0, 0, 0, AT(o.log), "per-epoch metrics"},
    {"--plot", "FILE.svg", STRING, T, 0, 0, 0, AT(o.plot), "loss and accuracy curves"},
    {"--limit", "N", LONG, T, 1, 2147483647, 0, AT(o.limit),
     "use only the first N training samples"},
    {"--scale", "auto|none|X", SCALE, T | E | P, 0, 1e30, 0, AT(o.scale),
     "inputs are the data's values / X (auto: 255 for IDX and 8-bit CSV pixels, else 1; "
     "decided once from the training file, for every split)"},
    {"--quiet", NULL, SWITCH, T | E, 0, 0, 0, AT(o.quiet), "print only the result"},
};
#undef AT
#define NOPTIONS (int)(sizeof options / sizeof options[0])

static const char *const command_names[] = {"train", "test", "predict"};

nnrt_command nnrt_cli_command(const char *word) {
  for (int k = 0; k < 3; k++)
    if (!strcmp(word, command_names[k]))
      return (nnrt_command)(1 << k);
  return (nnrt_command)0;
}

static const char *command_name(unsigned cmd) {
  return command_names[cmd == T ? 0 : cmd == E ? 1 : 2];
}

/* "train", "train and test", "train, test and predict" for a mask. */
static const char *command_list(unsigned cmds, char *buf, size_t cap) {
  int n = 0, total = (cmds & T ? 1 : 0) + (cmds & E ? 1 : 0) + (cmds & P ? 1 : 0);
  buf[0] = '\0';
  for (int k = 0; k < 3; k++)
    if (cmds & (1u << k)) {
      size_t len = strlen(buf);
      snprintf(buf + len, cap - len, "%s%s", n == 0 ? "" : n == total - 1 ? " and " : ", ",
               command_names[k]);
      n++;
    }
  return buf;
}

static const char *usage_line(unsigned cmd) {
  return cmd == T ? "train --data DIR [options]"
         : cmd == E ? "test --load CKPT --data DIR [options]"
                    : "predict --load CKPT --images FILE [options]";
}

void nnrt_cli_usage(FILE *f, const char *usage, unsigned cmds) {
  int nncc = !strcmp(usage, "nncc");
  for (int k = 0, first = 1; k < 3; k++)
    if (cmds & (1u << k)) {
      const char *line = usage_line(1u << k);
      size_t verb = strcspn(line, " ");
      fprintf(f, "%s %s %.*s%s%s\n", first ? "usage:" : "      ", usage, (int)verb, line,
              nncc ? " MODEL.nn" : "", line + verb);
      first = 0;
    }
  fprintf(f, "\noptions (the defaults are the model's train block):\n");
  for (int i = 0; i < NOPTIONS; i++) {
    const Option *o = &options[i];
    if (!(o->cmds & cmds))
      continue;
    char name[48], which[64] = "";
    snprintf(name, sizeof name, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    if ((cmds & (cmds - 1)) && (o->cmds & cmds) != cmds) {
      char list[48];
      snprintf(which, sizeof which, " (%s)", command_list(o->cmds & cmds, list, sizeof list));
    }
    fprintf(f, "  %-20s %s%s\n", name, o->help, which);
  }
  fprintf(f, "\nEvery option is --flag value or --flag=value.\n");
  if (cmds & (T | E))
    fprintf(f, "DIR holds MNIST-style IDX files (train-images-idx3-ubyte[.gz],\n"
               "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-...)\n"
               "or train.csv and test.csv (label first).  Fashion-MNIST comes with Debian's\n"
               "dataset-fashion-mnist, in /usr/share/datasets/fashion-mnist.\n");
}

/* ------------------------------------------------------------- parsing */

static int set_value(nnrt_cli *c, const Option *o, const char *v, const char *prog) {
  char *field = (char *)c + o->offset, *end;
  if (o->kind == STRING) {
    *(const char **)field = v;
    return 0;
  }
  errno = 0;
  if (o->kind == SCALE && (!strcmp(v, "auto") || !strcmp(v, "none"))) {
    *(double *)field = v[0] == 'a' ? 0 : 1;
    return 0;
  }
  if (o->kind == SCALE) {
    double x = strtod(v, &end);
    if (*end || end == v || errno || !(x > 0 && x <= o->max)) {
      fprintf(stderr, "%s: %s needs auto, none or a number in (0, %g], got '%s'\n", prog, o->name,
              o->max, v);
      return 2;
    }
    *(double *)field = x;
    return 0;
  }
  if (o->kind == NUMBER) {
    double x = strtod(v, &end);
    if (*end || end == v || errno ||
        !(x >= o->min && (o->max_open ? x < o->max : x <= o->max))) {
      fprintf(stderr, "%s: %s needs a number in [%g, %g%s, got '%s'\n", prog, o->name, o->min,
              o->max, o->max_open ? ")" : "]", v);
      return 2;
    }
    *(double *)field = x;
    return 0;
  }
  long long x = strtoll(v, &end, 10);
  if (*end || end == v || errno || x < (long long)o->min || x > (long long)o->max) {
    fprintf(stderr, "%s: %s needs an integer in [%.0f, %.0f], got '%s'\n", prog, o->name,
            o->min, o->max, v);
    return 2;
  }
  if (o->kind == INT)
    *(int *)field = (int)x;
  else if (o->kind == LONG)
    *(long *)field = (long)x;
  else
    *(long long *)field = x;
  return 0;
}

static const Option *find_option(const char *name, size_t len) {
  for (int i = 0; i < NOPTIONS; i++)
    if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
      return &options[i];
  return NULL;
}

/* An unknown option: the nearest name, one of this command's first. */
static int unknown_option(const char *arg, size_t len, unsigned cmd, const char *prog,
                          const char *usage) {
  const char *names[NOPTIONS + 2];
  char key[64];
  snprintf(key, sizeof key, "%.*s", (int)(len < 63 ? len : 63), arg);
  int n = 0;
  for (int i = 0; i < NOPTIONS; i++)
    if (options[i].cmds & cmd)
      names[n++] = options[i].name;
  names[n++] = "--help";
  const char *near = nnrt_closest_word(key, names, n);
  fprintf(stderr, "%s: unknown option '%s'%s%s%s (see %s %s --help)\n", prog, key,
          near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "", usage,
          command_name(cmd));
  return 2;
}

/* What each command needs. */
static int check_required(const nnrt_cli *c, const char *prog) {
  if (c->cmd == E && !c->o.load) {
    fprintf(stderr, "%s: test needs --load CKPT (and --data DIR)\n", prog);
    return 2;
  }
  if (c->cmd == P && (!c->o.load || !c->images)) {
    fprintf(stderr, "%s: predict needs --load CKPT and --images FILE\n", prog);
    return 2;
  }
  return -1;
}

int nnrt_cli_parse(nnrt_cli *c, nnrt_command cmd, int n, char **args, const char *prog,
                   const char *usage) {
  memset(c, 0, sizeof *c);
  c->cmd = cmd;
  c->o.lr = c->o.validation = -1;
  c->o.seed = c->o.patience = -1;
  c->top = 5;
  for (int i = 0; i < n; i++) {
    const char *a = args[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      nnrt_cli_usage(stdout, usage, cmd);
      return 0;
    }
    if (a[0] != '-' || a[1] == '\0') {
      fprintf(stderr, "%s: unexpected argument '%s': options start with -- (see %s %s "
              "--help)\n", prog, a, usage, command_name(cmd));
      return 2;
    }
    size_t len = strcspn(a, "=");
    const Option *o = find_option(a, len);
    if (!o)
      return unknown_option(a, len, cmd, prog, usage);
    if (!(o->cmds & cmd)) {
      char list[48];
      fprintf(stderr, "%s: %s is an option of %s, not of %s\n", prog, o->name,
              command_list(o->cmds, list, sizeof list), command_name(cmd));
      return 2;
    }
    const char *v = a[len] == '=' ? a + len + 1 : NULL;
    if (o->kind == SWITCH) {
      if (v) {
        fprintf(stderr, "%s: %s takes no value, got '%s'\n", prog, o->name, a);
        return 2;
      }
      *(int *)((char *)c + o->offset) = 1;
      continue;
    }
    if (!v) {
      /* the next word, unless there is none or it is an option itself */
      const char *next = i + 1 < n ? args[i + 1] : NULL;
      if (!next || (!strncmp(next, "--", 2) && find_option(next, strcspn(next, "=")))) {
        fprintf(stderr, "%s: %s needs a value (%s %s)\n", prog, o->name, o->name, o->arg);
        return 2;
      }
      v = next;
      i++;
    }
    if (set_value(c, o, v, prog))
      return 2;
  }
  return check_required(c, prog);
}

/* ---------------------------------------------------------- suggestions */

static int lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int edit_distance(const char *a, const char *b) {
  /* Levenshtein plus adjacent transpositions ("inptu" -> "input" is one
   * edit), the optimal-string-alignment distance; case is free, so
   * PyTorch's ReLU and BatchNorm2d find relu and batchnorm. */
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return 1 << 20;
  int prev2[65], prev[65], row[65];
  for (size_t j = 0; j <= lb; j++)
    prev[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int cost = lower_ascii(a[i - 1]) == lower_ascii(b[j - 1]) ? 0 : 1;
      int best = prev[j - 1] + cost;
      if (prev[j] + 1 < best)
        best = prev[j] + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      if (i > 1 && j > 1 && lower_ascii(a[i - 1]) == lower_ascii(b[j - 2]) &&
          lower_ascii(a[i - 2]) == lower_ascii(b[j - 1]) && prev2[j - 2] + 1 < best)
        best = prev2[j - 2] + 1;
      row[j] = best;
    }
    memcpy(prev2, prev, sizeof prev);
    memcpy(prev, row, sizeof row);
  }
  return prev[lb];
}

const char *nnrt_closest_word(const char *word, const char *const *cands, int n) {
  const char *best = NULL;
  int best_d = 1 << 20;
  if (!word[0])
    return NULL;  /* nothing was typed: no typo to correct */
  for (int i = 0; i < n; i++) {
    if (!cands[i])
      continue;
    int d = edit_distance(word, cands[i]);
    if (d < best_d) {
      best_d = d;
      best = cands[i];
    }
  }
  /* Close enough to be a typo: a third of the word, at least one edit. */
  int limit = (int)strlen(word) / 3;
  if (limit < 1)
    limit = 1;
  if (limit > 3)
    limit = 3;
  return best_d <= limit ? best : NULL;
}

/* ---------------------------------------------------------- PGM and PPM */

/* The next number of a PNM header: white space and # comments skipped. */
static long pnm_number(FILE *f) {
  int ch = getc(f);
  for (;;) {
    while (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
      ch = getc(f);
    if (ch != '#')
      break;
    while (ch != '\n' && ch != EOF)
      ch = getc(f);
  }
  long v = 0;
  int digits = 0;
  for (; ch >= '0' && ch <= '9' && v < 100000000; ch = getc(f), digits++)
    v = v * 10 + (ch - '0');
  /* one white space character ends the number (and, after maxval, the header) */
  if (!digits || !(ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'))
    return -1;
  return v;
}

int nnrt_pnm_header(FILE *f, int *channels, int *width, int *height, int *maxval,
                    const char **why) {
  int p = getc(f), kind = getc(f);
  if (p != 'P' || (kind != '5' && kind != '6')) {
    *why = "not a binary PGM or PPM image (P5 or P6)";
    return -1;
  }
  long w = pnm_number(f), h = pnm_number(f), max = pnm_number(f);
  if (w < 1 || h < 1 || max < 1 || w > 65535 || h > 65535) {
    *why = "a PGM/PPM header without a width, a height and a maximum value";
    return -1;
  }
  if (max > 255) {
    *why = "a 16-bit PGM/PPM image (maximum value above 255); only 8-bit images are read";
    return -1;
  }
  *channels = kind == '5' ? 1 : 3;
  *width = (int)w, *height = (int)h, *maxval = (int)max;
  return 0;
}
