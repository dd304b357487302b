/* train.c - the training driver: data, epochs, shuffling, augmentation, the
 * learning-rate schedule, validation, early stopping, checkpoints, metrics
 * (CSV), curves (SVG), and evaluation with optional test-time augmentation.
 *
 * It drives any generated model through its nnrt_model.  It writes progress
 * only to opt->out (NULL: silent) and never exits.  Randomness (initial
 * weights, the validation split, each epoch's order, augmentation) all
 * derives from one seed, so a run is reproducible.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "nnrt_train.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------- the data */

typedef struct Data {
  nnrt_dataset train, test;
  int has_test;
  char train_name[1024];   /* for messages */
} Data;

/* A name that cannot be looked up (other than for not existing) counts as
 * a file, so that opening it reports the problem instead of the data being
 * taken as absent. */
static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? S_ISREG(st.st_mode) : errno != ENOENT;
}

/* dir/base or dir/base.gz, whichever exists. */
static int find_file(const char *dir, const char *base, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", dir, base);
  if (is_file(out))
    return 1;
  snprintf(out, cap, "%s/%s.gz", dir, base);
  return is_file(out);
}

static nnrt_status check_shape(const nnrt_model *api, const nnrt_dataset *d, const char *path) {
  if ((long)d->sample_size != api->input_size)
    return nnrt_fail(NNRT_ERR_MISMATCH, "%s: samples of %zu values (%dx%dx%d), but model %s "
                     "takes %ld values per sample", path, d->sample_size, d->channels,
                     d->height, d->width, api->name, api->input_size);
  return NNRT_OK;
}

static nnrt_status load_data(const nnrt_model *api, const char *dir, int need_train, Data *d) {
  memset(d, 0, sizeof *d);
  struct stat st;
  if (!dir)
    return nnrt_fail(NNRT_ERR_ARG, "no data: pass --data DIR (Fashion-MNIST comes with Debian's "
                     "dataset-fashion-mnist package, in /usr/share/datasets/fashion-mnist)");
  int exists = stat(dir, &st) == 0;
  if (!exists || !S_ISDIR(st.st_mode))
    return nnrt_fail(NNRT_ERR_IO, "%s: %s; for Fashion-MNIST, install Debian's "
                     "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) and pass "
                     "--data /usr/share/datasets/fashion-mnist", dir,
                     exists ? "not a directory" : strerror(errno));
  if (api->label_is_float || api->num_classes <= 0)
    return nnrt_fail(NNRT_ERR_MISMATCH, "model %s takes %s labels, but the trainer's data sets "
                     "carry class ids", api->name, api->label_is_float ? "real-valued" : "no");
  int classes = (int)api->num_classes;
  char images[1024], labels[1024];
  nnrt_status s;
  if (find_file(dir, "train-images-idx3-ubyte", images, sizeof images)) {
    if (!find_file(dir, "train-labels-idx1-ubyte", labels, sizeof labels))
      return nnrt_fail(NNRT_ERR_IO, "%s: train-images-idx3-ubyte without "
                       "train-labels-idx1-ubyte", dir);
    snprintf(d->train_name, sizeof d->train_name, "%s", images);
    if (need_train) {
      if ((s = nnrt_dataset_load_idx(&d->train, images, labels, classes)) != NNRT_OK)
        return s;
      if ((s = check_shape(api, &d->train, images)) != NNRT_OK)
        return s;
    }
    if (find_file(dir, "t10k-images-idx3-ubyte", images, sizeof images) &&
        find_file(dir, "t10k-labels-idx1-ubyte", labels, sizeof labels)) {
      if ((s = nnrt_dataset_load_idx(&d->test, images, labels, classes)) != NNRT_OK)
        return s;
      if ((s = check_shape(api, &d->test, images)) != NNRT_OK)
        return s;
      d->has_test = 1;
    }
    return NNRT_OK;
  }
  char csv[1024];
  snprintf(csv, sizeof csv, "%s/train.csv", dir);
  if (is_file(csv)) {
    snprintf(d->train_name, sizeof d->train_name, "%s", csv);
    if (need_train &&
        (s = nnrt_dataset_load_csv(&d->train, csv, (size_t)api->input_size, 1, classes)) !=
            NNRT_OK)
      return s;
    snprintf(csv, sizeof csv, "%s/test.csv", dir);
    if (is_file(csv)) {
      if ((s = nnrt_dataset_load_csv(&d->test, csv, (size_t)api->input_size, 1, classes)) !=
          NNRT_OK)
        return s;
      d->has_test = 1;
    }
    return NNRT_OK;
  }
  return nnrt_fail(NNRT_ERR_IO, "%s: no data set here: expected train-images-idx3-ubyte[.gz] "
                   "and train-labels-idx1-ubyte[.gz] (and t10k-...), or train.csv", dir);
}

/* What a data directory lacks when it has no test data. */
#define NO_TEST_FILES "no t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], nor test.csv"

static void free_data(Data *d) {
  nnrt_dataset_free(&d->train);
  nnrt_dataset_free(&d->test);
}

/* ----------------------------------------------------------- evaluation */

typedef struct Metrics {
  double loss, accuracy;   /* mean cross-entropy of the logits, % correct  */
  nnrt_status status;      /* NNRT_ERR_NOMEM if there was no memory for it */
} Metrics;

/* Softmax cross-entropy of logits z[0..k) against label y; sets *best. */
static double cross_entropy(const float *z, long k, int32_t y, int *best) {
  double max = z[0];
  int arg = 0;
  for (long c = 1; c < k; c++)
    if (z[c] > max)
      max = z[c], arg = (int)c;
  double sum = 0;
  for (long c = 0; c < k; c++)
    sum += exp(z[c] - max);
  *best = arg;
  return max + log(sum) - z[y];
}

/* Inference over samples idx[0..n) (all if idx is NULL), in batches of
 * max_batch; with tta, softmax probabilities averaged over the views. */
static Metrics evaluate(const nnrt_model *api, void *m, int max_batch, const nnrt_dataset *d,
                        const size_t *idx, size_t n, const nnrt_tta *tta) {
  Metrics r = {NAN, NAN, NNRT_OK};
  if (n == 0)
    return r;
  size_t in = d->sample_size;
  long out = api->output_size, k = api->num_classes;
  int views = tta ? nnrt_tta_views(tta) : 1;
  float *x = malloc(sizeof(float) * in * (size_t)max_batch);
  float *y = malloc(sizeof(float) * (size_t)out * (size_t)max_batch);
  double *prob = malloc(sizeof(double) * (size_t)k * (size_t)max_batch);
  float *scratch = malloc(sizeof(float) * in), *one = malloc(sizeof(float) * in);
  double loss = 0;
  size_t correct = 0;
  if (!x || !y || !prob || !scratch || !one) {
    free(x), free(y), free(prob), free(scratch), free(one);
    r.status = nnrt_fail(NNRT_ERR_NOMEM, "model %s: out of memory to evaluate in batches of %d",
                         api->name, max_batch);
    return r;
  }
  for (size_t start = 0; start < n; start += (size_t)max_batch) {
    int b = n - start < (size_t)max_batch ? (int)(n - start) : max_batch;
    if (tta)
      memset(prob, 0, sizeof(double) * (size_t)k * (size_t)b);
    for (int v = 0; v < views; v++) {
      for (int i = 0; i < b; i++) {
        size_t s = idx ? idx[start + (size_t)i] : start + (size_t)i;
        float *xi = x + (size_t)i * in;
        if (tta) {
          nnrt_dataset_get(d, s, 1, one);
          nnrt_tta_view(tta, v, one, xi, scratch, d->channels, d->height, d->width);
        } else {
          nnrt_dataset_get(d, s, 1, xi);
        }
      }
      api->forward(m, b, x, y, 0);
      if (!tta)
        break;
      for (int i = 0; i < b; i++) {  /* accumulate softmax probabilities */
        const float *z = y + (size_t)i * (size_t)out;
        double max = z[0], sum = 0;
        for (long c = 1; c < k; c++)
          max = z[c] > max ? z[c] : max;
        for (long c = 0; c < k; c++)
          sum += exp(z[c] - max);
        for (long c = 0; c < k; c++)
          prob[(size_t)i * (size_t)k + (size_t)c] += exp(z[c] - max) / sum / views;
      }
    }
    for (int i = 0; i < b; i++) {
      size_t s = idx ? idx[start + (size_t)i] : start + (size_t)i;
      int best = 0;
      if (tta) {
        const double *p = prob + (size_t)i * (size_t)k;
        for (long c = 1; c < k; c++)
          if (p[c] > p[best])
            best = (int)c;
        loss += -log(p[d->y[s]] > 1e-300 ? p[d->y[s]] : 1e-300);
      } else {
        loss += cross_entropy(y + (size_t)i * (size_t)out, k, d->y[s], &best);
      }
      correct += best == d->y[s];
    }
  }
  free(x), free(y), free(prob), free(scratch), free(one);
  r.loss = loss / (double)n;
  r.accuracy = 100.0 * (double)correct / (double)n;
  return r;
}

/* ------------------------------------------------------------ schedules */

static double learning_rate(const nnrt_train_config *c, double lr0, uint64_t step,
                            uint64_t steps_per_epoch, uint64_t total_steps) {
  switch (c->schedule) {
  case NNRT_SCHEDULE_COSINE:
    return lr0 * (1 + cos(3.14159265358979323846 * (double)step / (double)total_steps)) / 2;
  case NNRT_SCHEDULE_STEP:
    return lr0 * pow(c->step_gamma, floor((double)(step / steps_per_epoch) / c->step_every));
  case NNRT_SCHEDULE_CONSTANT:
    break;
  }
  return lr0;
}

/* ----------------------------------------------------------- reporting */

static void progress(FILE *out, int tty, int epoch, int epochs, double frac, double loss,
                     double acc, double rate) {
  if (!out || !tty)
    return;
  char bar[31];
  int fill = (int)(frac * 30);
  for (int i = 0; i < 30; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[30] = '\0';
  fprintf(out, "\repoch %d/%d [%s] %3.0f%%  loss %.4f", epoch, epochs, bar, 100 * frac, loss);
  if (!isnan(acc))
    fprintf(out, "  accuracy %.2f%%", acc);
  fprintf(out, "  %.0f samples/s ", rate);
  fflush(out);
}

static void fmt_metric(char *buf, size_t cap, const char *name, double v, int pct) {
  if (isnan(v))
    buf[0] = '\0';
  else
    snprintf(buf, cap, pct ? "  %s %.2f%%" : "  %s %.4f", name, v);
}

/* ------------------------------------------------------------- training */

/* One line of the metrics CSV. */
static nnrt_status log_line(nnrt_file *log, const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  return nnrt_file_write(log, line, len) == 0 ? NNRT_OK : nnrt_file_failed(log);
}

static void shuffle(size_t *idx, size_t n, nnrt_rng *r) {
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)nnrt_rng_below(r, i);
    size_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}

static nnrt_status check_model(const nnrt_model *api) {
  if (api->elem_size != 4)
    return nnrt_fail(NNRT_ERR_ARG, "model %s uses %d-byte numbers; the trainer runs f32 models",
                     api->name, api->elem_size);
  if (!api->config)
    return nnrt_fail(NNRT_ERR_ARG, "model %s has no loss, so it cannot be trained: add a "
                     "`loss` line to %s", api->name, api->source);
  if (!api->train_step || api->label_size != 1)  /* (no train_step: labels of two types) */
    return nnrt_fail(NNRT_ERR_ARG, "model %s takes %ld label values per sample, but the "
                     "trainer's data sets carry one class id (a program of your own can train it "
                     "through %s_train_step_ex)",
                     api->name, api->label_size, api->name);
  return NNRT_OK;
}

/* Whether the model an epoch ends with may be saved: not if the epoch ended
 * in refused steps (train_step returned a loss that was not finite, or its
 * update would have been, and changed nothing: the model cannot train on),
 * nor if a parameter is NaN or infinite.  Then the run stops, and says which
 * epoch and what to try. */
static nnrt_status check_diverged(const nnrt_model *api, void *m, int epoch, int refused,
                                  double lr0) {
  const char *what = NULL;
  char steps[128];
  if (refused) {
    snprintf(steps, sizeof steps, "its last %d training step%s %s refused (a loss or an "
             "update that was not finite)", refused, refused == 1 ? "" : "s",
             refused == 1 ? "was" : "were");
    what = steps;
  } else {
    const float *p = api->params(m);
    for (long i = 0; i < api->num_params && !what; i++)
      if (!isfinite(p[i]))
        what = "a parameter is not finite";
  }
  if (!what)
    return NNRT_OK;
  return nnrt_fail(NNRT_ERR_NUMERIC, "model %s diverged in epoch %d: %s, so the epoch was not "
                   "saved; try a lower learning rate (--lr, here %g)", api->name, epoch + 1,
                   what, lr0);
}

/* The curves: per epoch, loss and accuracy (a fraction) of the training
 * steps, the validation split and the test data; NAN where unknown (epochs
 * before a resumed run's first). */
typedef struct History {
  int n;
  double *loss[3], *acc[3];  /* train, validation, test */
} History;

/* One run of nnrt_train: what it was asked, what it holds, where it is. */
typedef struct Run {
  const nnrt_model *api;
  const nnrt_train_config *cfg;
  const nnrt_train_options *opt;
  int batch, epochs, naug, patience;
  double lr0;
  uint64_t seed, steps_per_epoch, total_steps;
  FILE *out;               /* progress, or NULL (--quiet)                  */
  int tty;
  Data data;
  nnrt_train_report *rep;  /* the best epoch so far, and the rest      */
  size_t *order;           /* training samples [0, ntrain), then the held-out */
  size_t *epoch_order;     /* an epoch's order of the training samples      */
  size_t ntrain, nval;
  int stopping;            /* early stopping: patience > 0 and a validation split */
  double best;             /* the watched metric's best (lower is better), or NAN */
  int since_best;          /* epochs since the best                         */
  void *m;
  float *x, *scratch;      /* a batch of inputs; one augmentation's scratch  */
  int32_t *y;
  History h;
  nnrt_file log;
  char best_path[1100];    /* early stopping: the best epoch's checkpoint, or "" */
} Run;

/* What one epoch's training steps did. */
typedef struct Epoch {
  double loss, accuracy;   /* over the accepted steps; accuracy NAN if unknown */
  double lr, seconds;
  size_t seen;             /* samples of the accepted steps                */
} Epoch;

/* The data, the validation split (a seeded shuffle, the last part held
 * out), the model (created, or loaded to resume), and every file the run
 * writes, checked before it starts rather than after an epoch: the
 * checkpoints and the curves can be replaced, the log opened. */
static nnrt_status start_run(Run *r) {
  const nnrt_train_options *opt = r->opt;
  nnrt_status s = load_data(r->api, opt->data, 1, &r->data);
  if (s != NNRT_OK)
    return s;
  Data *d = &r->data;
  if (opt->limit > 0 && (size_t)opt->limit < d->train.count)
    d->train.count = (size_t)opt->limit;
  if (r->naug && (d->train.height < 2 || d->train.width < 2))
    return nnrt_fail(NNRT_ERR_ARG, "%s: augmentation needs images, but the samples have no "
                     "image shape (use --no-augment)", d->train_name);
  size_t total = d->train.count;
  if (!(r->order = malloc(sizeof(size_t) * (total ? total : 1))))
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory for %zu samples", d->train_name, total);
  for (size_t i = 0; i < total; i++)
    r->order[i] = i;
  double validation = opt->validation >= 0 ? opt->validation : r->cfg->validation;
  r->nval = validation > 0 ? (size_t)(validation * (double)total) : 0;
  if (r->nval) {
    nnrt_rng rng;
    nnrt_rng_seed(&rng, r->seed ^ 0x5eedULL);
    shuffle(r->order, total, &rng);
  }
  r->ntrain = total - r->nval;
  if (r->ntrain == 0)
    return nnrt_fail(NNRT_ERR_ARG, "%s: no training samples left after holding out %.0f%% "
                     "for validation", d->train_name, 100 * validation);
  if (!(r->epoch_order = malloc(sizeof(size_t) * r->ntrain)))
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory for %zu samples", d->train_name, total);
  r->stopping = r->patience > 0 && r->nval;

  if (!(r->m = r->api->create(r->batch, r->seed)))
    return nnrt_fail(NNRT_ERR_NOMEM, "model %s: cannot allocate for batch %d", r->api->name,
                     r->batch);
  if (opt->load && r->api->load(r->m, opt->load) != 0)
    return NNRT_ERR_IO;  /* the model's load left the message */
  r->steps_per_epoch = (r->ntrain + (size_t)r->batch - 1) / (size_t)r->batch;
  r->total_steps = r->steps_per_epoch * (uint64_t)r->epochs;

  if (r->stopping && opt->save)
    snprintf(r->best_path, sizeof r->best_path, "%s.best", opt->save);
  else if (r->stopping)
    snprintf(r->best_path, sizeof r->best_path, "%s/nnrt-%s-%ld.best.ckpt",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", r->api->name, (long)getpid());
  nnrt_file probe;
  const char *replaced[3] = {opt->save, r->best_path[0] ? r->best_path : NULL, opt->plot};
  for (int i = 0; i < 3; i++)
    if (replaced[i] && nnrt_file_probe(&probe, replaced[i]) != 0)
      return nnrt_file_failed(&probe);
  int resumed = r->api->step(r->m) >= r->steps_per_epoch;
  if (opt->log && nnrt_file_append(&r->log, opt->log, !resumed) != 0)
    return nnrt_file_failed(&r->log);
  if (opt->log && !resumed &&
      (s = log_line(&r->log, "epoch,lr,loss,accuracy,val_loss,val_accuracy,"
                             "test_loss,test_accuracy,seconds,samples_per_second\n")) != NNRT_OK)
    return s;

  size_t in = d->train.sample_size;
  r->x = malloc(sizeof(float) * in * (size_t)r->batch);
  r->scratch = malloc(sizeof(float) * in);
  r->y = malloc(sizeof(int32_t) * (size_t)r->batch);
  int missing = !r->x || !r->scratch || !r->y;
  for (int k = 0; k < 3; k++) {
    r->h.loss[k] = malloc(sizeof(double) * (size_t)r->epochs);
    r->h.acc[k] = malloc(sizeof(double) * (size_t)r->epochs);
    missing |= !r->h.loss[k] || !r->h.acc[k];
    for (int i = 0; !missing && i < r->epochs; i++)
      r->h.loss[k][i] = r->h.acc[k][i] = NAN;
  }
  if (missing)
    return nnrt_fail(NNRT_ERR_NOMEM, "model %s: out of memory for batch %d", r->api->name,
                     r->batch);
  return NNRT_OK;
}

static void end_run(Run *r, nnrt_status *s) {
  free(r->x), free(r->scratch), free(r->y);
  for (int k = 0; k < 3; k++)
    free(r->h.loss[k]), free(r->h.acc[k]);
  if (!r->opt->save && r->best_path[0])
    remove(r->best_path);
  if (r->log.fd >= 0 && nnrt_file_close(&r->log, 0) != 0 && *s == NNRT_OK)
    *s = nnrt_file_failed(&r->log);
  if (r->m)
    r->api->destroy(r->m);
  free(r->order), free(r->epoch_order);
  free_data(&r->data);
}

/* A resumed run's curves start with the epochs before it, as the log it
 * appends to has them (its rows for epochs 1..done; a row that does not
 * read as one is skipped: the curves then have a gap). */
static void past_epochs(Run *r, int done) {
  FILE *f = r->opt->log ? fopen(r->opt->log, "r") : NULL;
  if (!f)
    return;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    double v[8];
    char *p = line, *end;
    int n = 0;
    for (; n < 8; n++, p = end + 1) {
      v[n] = strtod(p, &end);
      if (end == p || *end != ',')
        break;
    }
    int epoch = n == 8 && v[0] >= 1 && v[0] <= done ? (int)v[0] : 0;
    for (int k = 0; epoch && k < 3; k++) {  /* (loss, accuracy) from column 2 */
      r->h.loss[k][epoch - 1] = v[2 + 2 * k];
      r->h.acc[k][epoch - 1] = v[3 + 2 * k] / 100;
    }
  }
  fclose(f);
}

/* The b samples from `start` of the epoch's order into r->x (converted to
 * floats here, a batch at a time) and r->y, augmented. */
static void fill_batch(Run *r, nnrt_rng *er, size_t start, int b) {
  const nnrt_dataset *d = &r->data.train;
  size_t in = d->sample_size;
  for (int i = 0; i < b; i++) {
    size_t k = r->epoch_order[start + (size_t)i];
    float *dst = r->x + (size_t)i * in;
    nnrt_dataset_get(d, k, 1, dst);
    if (r->naug)  /* in place */
      nnrt_augment_image(r->cfg->augment, r->naug, er, dst, dst, r->scratch, d->channels,
                         d->height, d->width);
    r->y[i] = d->y[k];
  }
}

/* How many of the b samples of the last step its training output classed
 * right, or -1 if the model does not tell. */
static long count_correct(const Run *r, int b) {
  const nnrt_model *api = r->api;
  const float *z = api->train_output ? api->train_output(r->m) : NULL;
  if (!z || api->output_size != api->num_classes)
    return -1;
  long correct = 0;
  for (int i = 0; i < b; i++) {
    const float *zi = z + (size_t)i * (size_t)api->output_size;
    int best = 0;
    for (long c = 1; c < api->num_classes; c++)
      if (zi[c] > zi[best])
        best = (int)c;
    correct += best == r->y[i];
  }
  return correct;
}

/* The training steps of one epoch, in an order and with augmentations
 * drawn from the seed and the epoch alone: a shuffle of the training
 * samples in their first order (not of the last epoch's), so a resumed run
 * trains as the run it continues would have. */
static nnrt_status train_epoch(Run *r, int epoch, Epoch *e) {
  const nnrt_model *api = r->api;
  double t0 = now(), loss_sum = 0;
  nnrt_rng er;  /* (the model's dropout streams are (seed, step): kept apart) */
  nnrt_rng_seed_stream(&er, r->seed ^ 0xda7a0de5ULL, (uint64_t)epoch);
  memcpy(r->epoch_order, r->order, sizeof(size_t) * r->ntrain);
  shuffle(r->epoch_order, r->ntrain, &er);
  size_t correct = 0, counted = 0;
  int refused = 0;  /* steps in a row whose loss or update was not finite */
  memset(e, 0, sizeof *e);
  e->lr = r->lr0;
  for (size_t start = 0; start < r->ntrain; start += (size_t)r->batch) {
    int b = r->ntrain - start < (size_t)r->batch ? (int)(r->ntrain - start) : r->batch;
    fill_batch(r, &er, start, b);
    e->lr = learning_rate(r->cfg, r->lr0, api->step(r->m), r->steps_per_epoch, r->total_steps);
    if (api->set_learning_rate(r->m, e->lr) != 0) {
      char why[512];
      snprintf(why, sizeof why, "%s", nnrt_errmsg());
      return nnrt_fail(NNRT_ERR_ARG, "epoch %d: the schedule's rate: %s", epoch + 1, why);
    }
    double loss = api->train_step(r->m, b, r->x, r->y);
    if (!isfinite(loss)) {  /* the step changed nothing */
      if (++refused >= 20)
        return check_diverged(api, r->m, epoch, refused, r->lr0);
      continue;
    }
    refused = 0;
    loss_sum += loss * b;
    e->seen += (size_t)b;
    long right = count_correct(r, b);
    if (right >= 0) {
      correct += (size_t)right;
      counted += (size_t)b;
    }
    if (r->tty && (start / (size_t)r->batch) % 16 == 0)
      progress(r->out, r->tty, epoch + 1, r->epochs,
               (double)(start + (size_t)b) / (double)r->ntrain, loss_sum / (double)e->seen,
               counted ? 100.0 * (double)correct / (double)counted : NAN,
               (double)e->seen / (now() - t0));
  }
  e->loss = e->seen ? loss_sum / (double)e->seen : NAN;
  e->accuracy = counted ? 100.0 * (double)correct / (double)counted : NAN;
  e->seconds = now() - t0;
  return check_diverged(api, r->m, epoch, refused, r->lr0);
}

/* The curves so far, with the best epoch marked (if there is a validation
 * split); the test curve when there is no validation split to show. */
static nnrt_status plot(const Run *r, int best_epoch) {
  if (!r->opt->plot)
    return NNRT_OK;
  const History *h = &r->h;
  nnrt_curves c = {h->n, {h->loss[0], r->nval ? h->loss[1] : NULL, r->nval ? NULL : h->loss[2]},
                   {h->acc[0], r->nval ? h->acc[1] : NULL, r->nval ? NULL : h->acc[2]},
                   best_epoch};
  return nnrt_plot_curves_ex(r->opt->plot, r->api->name, &c);
}

/* The watched metric of validation metrics v: lower is better. */
static double watched(const Run *r, const Metrics *v) {
  return r->cfg->monitor_accuracy ? -v->accuracy : v->loss;
}

/* Keeps track of the best epoch (by the watched metric); with early
 * stopping its checkpoint is the best one; then the curves. */
static nnrt_status watch_best(Run *r, int epoch, const Metrics *val) {
  nnrt_train_report *rep = r->rep;
  if (r->nval && (isnan(r->best) || watched(r, val) < r->best)) {
    r->best = watched(r, val);
    r->since_best = 0;
    rep->best_epoch = epoch + 1;
    rep->best_val_loss = val->loss;
    rep->best_val_accuracy = val->accuracy;
    if (r->best_path[0] && r->api->save(r->m, r->best_path) != 0)
      return NNRT_ERR_IO;
  } else if (r->nval) {
    r->since_best++;
  }
  return plot(r, rep->best_epoch);
}

/* A run resumed with early stopping takes up where the one it continues
 * was: the best so far is CKPT.best beside the loaded checkpoint if there
 * is one (the run was interrupted), else the loaded checkpoint itself (a
 * run that ended holds its best); its metric is measured again on the
 * validation split, which gives the number that run had. */
static nnrt_status resume_best(Run *r, int done) {
  const nnrt_model *api = r->api;
  char from[1100];
  snprintf(from, sizeof from, "%s.best", r->opt->load);
  void *m = r->m;
  if (is_file(from)) {
    if (!(m = api->create(r->batch, r->seed)))
      return nnrt_fail(NNRT_ERR_NOMEM, "model %s: cannot allocate for batch %d", api->name,
                       r->batch);
    if (api->load(m, from) != 0) {
      api->destroy(m);
      return NNRT_ERR_IO;
    }
    if (api->step(m) > api->step(r->m)) {
      api->destroy(m);
      return nnrt_fail(NNRT_ERR_MISMATCH, "%s: a later step (%llu) than %s (%llu): not the best "
                       "epoch of the run it resumes; remove it", from,
                       (unsigned long long)api->step(m), r->opt->load,
                       (unsigned long long)api->step(r->m));
    }
  }
  Metrics v = evaluate(api, m, r->batch, &r->data.train, r->order + r->ntrain, r->nval, NULL);
  nnrt_status s = v.status;
  int epoch = (int)(api->step(m) / r->steps_per_epoch);
  if (s == NNRT_OK && r->best_path[0] && strcmp(from, r->best_path) &&
      api->save(m, r->best_path) != 0)
    s = NNRT_ERR_IO;
  if (m != r->m)
    api->destroy(m);
  if (s != NNRT_OK)
    return s;
  r->best = watched(r, &v);
  r->since_best = done - epoch;
  r->rep->best_epoch = epoch;
  r->rep->best_val_loss = v.loss;
  r->rep->best_val_accuracy = v.accuracy;
  if (r->out)
    fprintf(r->out, "early stopping: the best so far is epoch %d (val_loss %.4f, val_accuracy "
            "%.2f%%), from %s\n", epoch, v.loss, v.accuracy, m == r->m ? r->opt->load : from);
  return NNRT_OK;
}

/* At the end of a run with early stopping: the best epoch's weights back,
 * said, and in the --save checkpoint (SAVE.best, then the same, removed). */
static nnrt_status restore_best(Run *r, int last_epoch) {
  const nnrt_train_report *rep = r->rep;
  if (!r->stopping || !rep->best_epoch)
    return NNRT_OK;
  if (rep->best_epoch != last_epoch && r->api->load(r->m, r->best_path) != 0)
    return NNRT_ERR_IO;
  if (r->out)
    fprintf(r->out, "%s epoch %d of %d: val_loss %.4f  val_accuracy %.2f%%%s%s\n",
            rep->best_epoch != last_epoch ? "restored the best weights," : "kept the best weights,",
            rep->best_epoch, last_epoch, rep->best_val_loss, rep->best_val_accuracy,
            r->opt->save ? "; saved to " : "", r->opt->save ? r->opt->save : "");
  if (r->opt->save) {
    if (rep->best_epoch != last_epoch && r->api->save(r->m, r->opt->save) != 0)
      return NNRT_ERR_IO;
    remove(r->best_path);
  }
  return NNRT_OK;
}

/* After an epoch: validation and test metrics, the line on screen and in
 * the log, the checkpoint and the curves. */
static nnrt_status record_epoch(Run *r, int epoch, const Epoch *e, Metrics *val) {
  const nnrt_model *api = r->api;
  const Data *d = &r->data;
  *val = evaluate(api, r->m, r->batch, &d->train, r->order + r->ntrain, r->nval, NULL);
  Metrics test = d->has_test ? evaluate(api, r->m, r->batch, &d->test, NULL, d->test.count, NULL)
                             : (Metrics){NAN, NAN, NNRT_OK};
  nnrt_status s;
  if ((s = val->status) != NNRT_OK || (s = test.status) != NNRT_OK)
    return s;
  History *h = &r->h;
  const Metrics m[3] = {{e->loss, e->accuracy, NNRT_OK}, *val, test};
  for (int k = 0; k < 3; k++) {
    h->loss[k][epoch] = m[k].loss;
    h->acc[k][epoch] = m[k].accuracy / 100;  /* the plot takes fractions */
  }
  h->n = epoch + 1;
  if (r->out) {  /* the names of the log's columns and of early_stopping's metric */
    char a[64], b[64], c[64], t[64];
    fmt_metric(a, sizeof a, "accuracy", e->accuracy, 1);
    fmt_metric(b, sizeof b, "val_loss", val->loss, 0);
    fmt_metric(c, sizeof c, "val_accuracy", val->accuracy, 1);
    fmt_metric(t, sizeof t, "test_accuracy", test.accuracy, 1);
    fprintf(r->out, "%sepoch %d/%d  loss %.4f%s%s%s%s  lr %.4g  %.1fs  %.0f samples/s\n",
            r->tty ? "\r\033[K" : "", epoch + 1, r->epochs, e->loss, a, b, c, t, e->lr,
            e->seconds, (double)e->seen / e->seconds);
    fflush(r->out);
  }
  const nnrt_train_options *opt = r->opt;
  if (opt->log &&
      (s = log_line(&r->log, "%d,%.6g,%.6f,%.4f,%.6f,%.4f,%.6f,%.4f,%.3f,%.1f\n", epoch + 1,
                    e->lr, e->loss, e->accuracy, val->loss, val->accuracy, test.loss,
                    test.accuracy, e->seconds, (double)e->seen / e->seconds)) != NNRT_OK)
    return s;
  if (opt->save && api->save(r->m, opt->save) != 0)
    return NNRT_ERR_IO;
  return watch_best(r, epoch, val);
}

/* The test data after training, with test-time augmentation if asked. */
static nnrt_status final_test(Run *r, nnrt_train_report *rep) {
  const nnrt_train_options *opt = r->opt;
  const Data *d = &r->data;
  if (!d->has_test) {
    if (opt->out)
      fprintf(opt->out, "no test data in %s: " NO_TEST_FILES "; trained without a test "
              "evaluation\n", opt->data);
    return NNRT_OK;
  }
  Metrics test = evaluate(r->api, r->m, r->batch, &d->test, NULL, d->test.count, NULL);
  if (test.status != NNRT_OK)
    return test.status;
  rep->test_loss = test.loss;
  rep->test_accuracy = test.accuracy;
  if (r->out)
    fprintf(r->out, "test accuracy %.2f%% (loss %.4f, %zu samples)\n", test.accuracy, test.loss,
            d->test.count);
  if (opt->tta && r->cfg->has_tta) {
    const nnrt_tta *tta = &r->cfg->tta;
    Metrics t = evaluate(r->api, r->m, r->batch, &d->test, NULL, d->test.count, tta);
    if (t.status != NNRT_OK)
      return t.status;
    if (r->out)
      fprintf(r->out, "test accuracy with TTA %.2f%% (loss %.4f, %d views)\n", t.accuracy,
              t.loss, nnrt_tta_views(tta));
    rep->test_loss = t.loss;
    rep->test_accuracy = t.accuracy;
  } else if (opt->tta && r->out) {
    fprintf(r->out, "(no test block with tta in %s: evaluated without TTA)\n", r->api->source);
  }
  if (opt->quiet && opt->out)
    fprintf(opt->out, "test accuracy %.2f%%\n", rep->test_accuracy);
  return NNRT_OK;
}

nnrt_status nnrt_train(const nnrt_model *api, const nnrt_train_options *opt,
                       nnrt_train_report *rep) {
  memset(rep, 0, sizeof *rep);
  rep->test_loss = rep->test_accuracy = NAN;
  rep->best_val_loss = rep->best_val_accuracy = NAN;
  nnrt_status s = check_model(api);
  if (s != NNRT_OK)
    return s;
  const nnrt_train_config *cfg = api->config;
  Run r;
  memset(&r, 0, sizeof r);
  r.api = api, r.cfg = cfg, r.opt = opt, r.rep = rep;
  r.best = NAN;
  r.log.fd = -1;
  r.batch = opt->batch > 0 ? opt->batch : cfg->batch;
  r.epochs = opt->epochs > 0 ? opt->epochs : cfg->epochs;
  r.lr0 = opt->lr >= 0 ? opt->lr : cfg->lr;
  r.seed = opt->seed >= 0 ? (uint64_t)opt->seed : cfg->seed;
  r.patience = opt->patience >= 0 ? opt->patience : cfg->patience;
  r.naug = opt->no_augment ? 0 : cfg->naugment;
  r.out = opt->quiet ? NULL : opt->out;  /* progress; results go to opt->out */
  r.tty = r.out && isatty(fileno(r.out));
  if ((s = start_run(&r)) != NNRT_OK) {
    end_run(&r, &s);
    return s;
  }
  int first_epoch = (int)(api->step(r.m) / r.steps_per_epoch);
  if (r.out)
    fprintf(r.out, "training %s on %s: %zu samples, %zu held out, batch %d, %d epochs%s\n",
            api->name, opt->data, r.ntrain, r.nval, r.batch, r.epochs,
            first_epoch ? " (resumed)" : "");

  double start_time = now();
  if (first_epoch && r.stopping && (s = resume_best(&r, first_epoch)) != NNRT_OK)
    goto stop;
  if (first_epoch)
    past_epochs(&r, first_epoch < r.epochs ? first_epoch : r.epochs);
  int last = first_epoch;
  for (int epoch = first_epoch; epoch < r.epochs; epoch++) {
    Epoch e;
    Metrics val;
    if ((s = train_epoch(&r, epoch, &e)) != NNRT_OK ||
        (s = record_epoch(&r, epoch, &e, &val)) != NNRT_OK)
      goto stop;
    rep->epochs_run = last = epoch + 1;
    rep->final_train_loss = e.loss;
    if (r.stopping && r.since_best >= r.patience) {
      if (r.out)
        fprintf(r.out, "early stopping: no better %s for %d epochs after epoch %d\n",
                cfg->monitor_accuracy ? "val_accuracy" : "val_loss", r.patience,
                rep->best_epoch);
      break;
    }
  }
  if ((s = restore_best(&r, last)) != NNRT_OK)
    goto stop;
  if ((s = final_test(&r, rep)) == NNRT_OK)
    rep->seconds = now() - start_time;
stop:
  end_run(&r, &s);
  return s;
}

nnrt_status nnrt_evaluate(const nnrt_model *api, const nnrt_train_options *opt,
                          nnrt_train_report *rep) {
  memset(rep, 0, sizeof *rep);
  rep->test_loss = rep->test_accuracy = NAN;
  if (api->elem_size != 4)
    return nnrt_fail(NNRT_ERR_ARG, "model %s uses %d-byte numbers; the trainer runs f32 models",
                     api->name, api->elem_size);
  Data data;
  nnrt_status s = load_data(api, opt->data, 0, &data);
  if (s != NNRT_OK) {
    free_data(&data);
    return s;
  }
  if (!data.has_test) {
    free_data(&data);
    return nnrt_fail(NNRT_ERR_IO, "no test data in %s: " NO_TEST_FILES, opt->data);
  }
  int batch = opt->batch > 0 ? opt->batch : 256;
  void *m = api->create(batch, 0);
  if (!m) {
    free_data(&data);
    return nnrt_fail(NNRT_ERR_NOMEM, "model %s: cannot allocate", api->name);
  }
  if (opt->load && api->load(m, opt->load) != 0) {
    api->destroy(m);
    free_data(&data);
    return NNRT_ERR_IO;
  }
  const nnrt_train_config *cfg = api->config;
  int use_tta = opt->tta && cfg && cfg->has_tta;
  Metrics r = evaluate(api, m, batch, &data.test, NULL, data.test.count,
                       use_tta ? &cfg->tta : NULL);
  if (r.status != NNRT_OK) {
    api->destroy(m);
    free_data(&data);
    return r.status;
  }
  rep->test_loss = r.loss;
  rep->test_accuracy = r.accuracy;
  if (opt->out)
    fprintf(opt->out, "test accuracy%s %.2f%% (loss %.4f, %zu samples)\n",
            use_tta ? " with TTA" : "", r.accuracy, r.loss, data.test.count);
  api->destroy(m);
  free_data(&data);
  return NNRT_OK;
}
