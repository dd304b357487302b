/* driver.c - fault injection over libnnrt, as SQLite tests itself: a save,
 * a load and a short training run (one epoch of tests/fault/tiny.nn on a
 * tiny IDX data set, with --save, --log and --plot), each run once without
 * faults to count its calls, then once for every n with the n-th
 * allocation failing, and once with the n-th I/O call failing (shim.c);
 * both once with that call alone failing and once with every call from it
 * on failing (a full disk stays full).
 *
 * Every run must end either with an error that has a message, leaving the
 * files as they were (the previous checkpoint byte-identical, no temporary
 * file) or as a fault-free run leaves them; or, when the call's failure
 * does not matter (a read stream's fclose, a stat the loader can do
 * without), exactly as the fault-free run does.  Built with ASan and
 * UBSan, so a crash, an overflow or a leak also fails the test.
 *
 * Usage: fault_inject WORKDIR (with WORKDIR/data: train-* and t10k-* IDX). */
#define _POSIX_C_SOURCE 200809L
#include "tiny.h"
#include "nnrt_train.h"
#include "shim.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char ckpt[4096], best[4096], plot[4096], log_csv[4096], state[4096], data[4096];
static const char *dir;
static int failures;

typedef struct Bytes {
  char *p;       /* NULL: no such file */
  size_t n;
} Bytes;

static Bytes slurp(const char *path) {
  Bytes b = {NULL, 0};
  FILE *f = fopen(path, "rb");
  if (!f)
    return b;
  size_t cap = 1 << 16;
  b.p = malloc(cap);
  for (size_t got; b.p && (got = fread(b.p + b.n, 1, cap - b.n, f)) > 0;)
    if ((b.n += got) == cap)
      b.p = realloc(b.p, cap *= 2);
  fclose(f);
  if (!b.p) {
    fprintf(stderr, "fault_inject: out of memory\n");
    exit(2);
  }
  return b;
}

static void put(const char *path, Bytes b) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) != 0) {
    fprintf(stderr, "fault_inject: cannot write %s\n", path);
    exit(2);
  }
}

static int equal(Bytes a, Bytes b) {
  return (!a.p && !b.p) || (a.p && b.p && a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
}

/* Whether the file holds b (or one of b and c). */
static int holds(const char *path, Bytes b, Bytes c) {
  Bytes now = slurp(path);
  int r = equal(now, b) || equal(now, c);
  free(now.p);
  return r;
}

/* The metrics CSV without its last two columns (seconds, samples/s). */
static Bytes untimed(Bytes b) {
  Bytes r = {malloc(b.n + 1), 0};
  for (size_t i = 0; r.p && b.p && i < b.n;) {
    size_t end = i, cut;
    while (end < b.n && b.p[end] != '\n')
      end++;
    int commas = 0;
    for (cut = end; cut > i && commas < 2; cut--)
      commas += b.p[cut - 1] == ',';
    memcpy(r.p + r.n, b.p + i, cut - i);
    r.n += cut - i;
    r.p[r.n++] = '\n';
    i = end + 1;
  }
  free(b.p);
  return r;
}

/* Removes temporary files (TARGET.tmp.XXXXXX) left in the directory, and
 * says whether there were any. */
static int temporaries(void) {
  DIR *d = opendir(dir);
  int found = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (strstr(e->d_name, ".tmp.")) {
      char path[8192];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      remove(path);
      found = 1;
    }
  if (d)
    closedir(d);
  return found;
}

/* ------------------------------------------------------------ scenarios */

static Bytes prev, saved_a, fresh_b, exp_ckpt, exp_best, exp_plot, exp_log;
static tiny *model_a, *model_b;

/* A save over an older checkpoint. */
static void save_setup(void) { put(ckpt, prev); }
static int save_run(void) { return tiny_save(model_a, ckpt); }
static const char *save_check(int ok) {
  if (!holds(ckpt, ok ? saved_a : prev, ok ? saved_a : prev))
    return ok ? "the save succeeded, but the file is not the checkpoint"
              : "the previous checkpoint changed";
  return NULL;
}

/* A load into a fresh model. */
static void load_setup(void) {
  put(ckpt, saved_a);
  if (model_b)
    tiny_destroy(model_b);
  model_b = tiny_create(16, 3);
}
static int load_run(void) { return tiny_load(model_b, ckpt); }
static const char *load_check(int ok) {
  if (!holds(ckpt, saved_a, saved_a))
    return "the checkpoint changed";
  if (tiny_save(model_b, state) != 0)
    return "cannot save the model's state to compare it";
  if (!holds(state, ok ? saved_a : fresh_b, ok ? saved_a : fresh_b))
    return ok ? "the load succeeded, but the model is not the checkpoint's"
              : "a failed load changed the model";
  return NULL;
}

/* One epoch of training with --save, --log and --plot over older files. */
static void train_setup(void) {
  static char old_plot[] = "<svg>an older plot</svg>\n", old_log[] = "an older log\n";
  put(ckpt, prev);
  put(best, prev);
  put(plot, (Bytes){old_plot, sizeof old_plot - 1});
  put(log_csv, (Bytes){old_log, sizeof old_log - 1});
}
static int train_run(void) {
  nnrt_train_options o;
  memset(&o, 0, sizeof o);
  o.data = data;
  o.lr = o.validation = -1;
  o.seed = o.patience = -1;
  o.save = ckpt;
  o.log = log_csv;
  o.plot = plot;
  nnrt_train_report r;
  return (int)nnrt_train(tiny_model(), &o, &r);
}
static const char *train_check(int ok) {
  static char old_plot[] = "<svg>an older plot</svg>\n";
  if (!holds(ckpt, exp_ckpt, ok ? exp_ckpt : prev))
    return "the checkpoint is neither the previous one nor the new one";
  if (!holds(best, exp_best, ok ? exp_best : prev))
    return "the best checkpoint is neither the previous one nor the new one";
  if (!holds(plot, exp_plot, ok ? exp_plot : (Bytes){old_plot, sizeof old_plot - 1}))
    return "the plot is neither the previous one nor the new one";
  if (ok) {
    Bytes log = untimed(slurp(log_csv));
    int same = equal(log, exp_log);
    free(log.p);
    if (!same)
      return "the run succeeded, but the log differs";
  }
  return NULL;
}

typedef struct Scenario {
  const char *name;
  void (*setup)(void);
  int (*run)(void);
  const char *(*check)(int ok);
} Scenario;

/* Runs s with the n-th call of the kinds failing (and every later one with
 * persist); 1 if that call happened. */
static int run_with_fault(const Scenario *s, int kinds, long n, int persist) {
  s->setup();
  nnrt_fail(NNRT_OK, "%s", "");
  fault_arm(kinds, n, persist);
  int rc = s->run();
  long fired = fault_failed();
  const char *call = fault_last();
  fault_disarm();
  const char *why = s->check(rc == 0);
  if (temporaries())
    why = "a temporary file was left behind";
  if (!why && rc != 0 && !nnrt_errmsg()[0])
    why = "an error without a message";
  const char *mode = persist ? "from" : "at";
  if (why) {
    failures++;
    printf("FAILED: %s, %s %s call %ld (%s): %s (status %d: %s)\n", s->name,
           kinds == FAULT_ALLOC ? "allocation" : "I/O", mode, n, call, why, rc, nnrt_errmsg());
  } else if (n > 0 && fired) {
    printf("ok: %s, %s %s call %ld (%s): %s\n", s->name,
           kinds == FAULT_ALLOC ? "allocation" : "I/O", mode, n, call,
           rc ? nnrt_errmsg() : "harmless, same result");
  }
  return n == 0 || fired > 0;
}

static void explore(const Scenario *s) {
  static const int kinds[2] = {FAULT_ALLOC, FAULT_IO};
  for (int k = 0; k < 2; k++) {
    s->setup();
    fault_arm(kinds[k], 0, 0);
    int rc = s->run();
    long total = fault_calls();
    fault_disarm();
    if (rc != 0 || s->check(1)) {
      failures++;
      printf("FAILED: %s without faults: status %d: %s\n", s->name, rc, nnrt_errmsg());
      return;
    }
    printf("%s: %ld %s calls\n", s->name, total, k ? "I/O" : "allocation");
    for (int persist = 0; persist < 2; persist++)
      for (long n = 1; n <= total; n++)
        if (!run_with_fault(s, kinds[k], n, persist)) {
          failures++;
          printf("FAILED: %s: call %ld of %ld never came (the run is not repeatable)\n",
                 s->name, n, total);
        }
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fault_inject WORKDIR\n");
    return 2;
  }
  dir = argv[1];
  snprintf(ckpt, sizeof ckpt, "%s/m.ckpt", dir);
  snprintf(best, sizeof best, "%s/m.ckpt.best", dir);
  snprintf(plot, sizeof plot, "%s/m.svg", dir);
  snprintf(log_csv, sizeof log_csv, "%s/m.csv", dir);
  snprintf(state, sizeof state, "%s/state.ckpt", dir);
  snprintf(data, sizeof data, "%s/data", dir);

  /* The expected files, from runs without faults. */
  tiny *old = tiny_create(16, 1);
  model_a = tiny_create(16, 2);
  model_b = tiny_create(16, 3);
  if (!old || !model_a || !model_b || tiny_save(old, ckpt) || tiny_save(model_b, state)) {
    fprintf(stderr, "fault_inject: %s\n", nnrt_errmsg());
    return 2;
  }
  prev = slurp(ckpt);
  fresh_b = slurp(state);
  tiny_destroy(old);
  tiny_save(model_a, ckpt);
  saved_a = slurp(ckpt);
  train_setup();
  if (train_run() != 0) {
    fprintf(stderr, "fault_inject: training without faults: %s\n", nnrt_errmsg());
    return 2;
  }
  exp_ckpt = slurp(ckpt);
  exp_best = slurp(best);
  exp_plot = slurp(plot);
  exp_log = untimed(slurp(log_csv));
  if (!exp_ckpt.p || !exp_best.p || !exp_plot.p || exp_log.n == 0 || equal(exp_ckpt, prev)) {
    fprintf(stderr, "fault_inject: training without faults wrote no files\n");
    return 2;
  }

  static const Scenario scenarios[] = {
      {"save", save_setup, save_run, save_check},
      {"load", load_setup, load_run, load_check},
      {"train", train_setup, train_run, train_check},
  };
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
    explore(&scenarios[i]);

  tiny_destroy(model_a);
  tiny_destroy(model_b);
  Bytes all[] = {prev, saved_a, fresh_b, exp_ckpt, exp_best, exp_plot, exp_log};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    free(all[i].p);
  printf("fault injection: %s\n", failures ? "FAILED" : "every fault ended cleanly");
  return failures ? 1 : 0;
}
