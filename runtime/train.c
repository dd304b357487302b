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
#include "dist.h"
#include "nnrt_train.h"
#include "npz.h"

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
  double scale;            /* what the inputs were divided by              */
  int scale_given;         /* by --scale, else decided from the training file */
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

nnrt_status nnrt_dataset_fit_model(const nnrt_model *api, nnrt_dataset *d, const char *path) {
  if ((long)d->sample_size != api->input_size)
    return nnrt_fail(NNRT_ERR_MISMATCH, "%s: samples of %zu values (%dx%dx%d), but model %s "
                     "takes %ld values per sample", path, d->sample_size, d->channels,
                     d->height, d->width, api->name, api->input_size);
  const int *shape = api->input_shape;
  if (shape[0] <= 0)
    return NNRT_OK;
  if (d->type == NNRT_SAMPLES_F32) {  /* CSV rows: the model's image */
    d->channels = shape[0], d->height = shape[1], d->width = shape[2];
    return NNRT_OK;
  }
  if (d->channels != shape[0] || d->height != shape[1] || d->width != shape[2])
    return nnrt_fail(NNRT_ERR_MISMATCH, "%s: %dx%dx%d images, but model %s takes f32[%d, %d, "
                     "%d]", path, d->channels, d->height, d->width, api->name, shape[0],
                     shape[1], shape[2]);
  return NNRT_OK;
}

void nnrt_scale_text(char *text, size_t cap, double scale, int given, const nnrt_dataset *from) {
  char by[40];
  snprintf(by, sizeof by, scale == 1 ? "kept as they are" : "divided by %g", scale);
  snprintf(text, cap, "inputs %s (%s)", by,
           given ? "--scale"
           : from->type == NNRT_SAMPLES_U8 ? "IDX bytes"
           : scale == 255 ? "auto: 8-bit pixels, every value an integer in [0, 255]"
                          : "auto: not 8-bit pixels; --scale 255 divides them");
}

/* The training file (or IDX files) decide the scaling once, unless
 * --scale did; every split gets it (decision 260). */
static void scale_data(Data *d, double want) {
  d->scale_given = want > 0;
  d->scale = want > 0 ? want : nnrt_dataset_auto_scale(&d->train);
  nnrt_dataset_scale(&d->train, d->scale);
  nnrt_dataset_scale(&d->test, d->scale);
}

/* One CSV split: the model's label columns, then its inputs. */
static nnrt_status load_csv_split(const nnrt_model *api, nnrt_dataset *d, const char *path) {
  int real = api->label_is_float;
  nnrt_status s = nnrt_dataset_load_csv(d, path, (size_t)api->input_size,
                                        real ? (int)api->label_size : 1,
                                        real ? NNRT_REAL_LABELS : (int)api->num_classes);
  return s != NNRT_OK ? s : nnrt_dataset_fit_model(api, d, path);
}

static nnrt_status load_idx_split(const nnrt_model *api, nnrt_dataset *d, const char *images,
                                  const char *labels) {
  if (api->label_is_float)
    return nnrt_fail(NNRT_ERR_MISMATCH, "%s: IDX labels are class ids, but model %s takes "
                     "real-valued labels: put them in train.csv and test.csv (the %ld label "
                     "columns first)", labels, api->name, api->label_size);
  nnrt_status s = nnrt_dataset_load_idx(d, images, labels, (int)api->num_classes);
  return s != NNRT_OK ? s : nnrt_dataset_fit_model(api, d, images);
}

/* The splits of dir.  The training split is loaded if need_train, or if
 * it must decide the scaling (CSV without --scale). */
static nnrt_status load_data(const nnrt_model *api, const char *dir, int need_train,
                             double scale, Data *d) {
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
  char images[1024], labels[1024];
  nnrt_status s;
  if (find_file(dir, "train-images-idx3-ubyte", images, sizeof images)) {
    if (!find_file(dir, "train-labels-idx1-ubyte", labels, sizeof labels))
      return nnrt_fail(NNRT_ERR_IO, "%s: train-images-idx3-ubyte without "
                       "train-labels-idx1-ubyte", dir);
    snprintf(d->train_name, sizeof d->train_name, "%s", images);
    if (need_train && (s = load_idx_split(api, &d->train, images, labels)) != NNRT_OK)
      return s;
    if (find_file(dir, "t10k-images-idx3-ubyte", images, sizeof images) &&
        find_file(dir, "t10k-labels-idx1-ubyte", labels, sizeof labels)) {
      if ((s = load_idx_split(api, &d->test, images, labels)) != NNRT_OK)
        return s;
      d->has_test = 1;
    }
    d->train.type = NNRT_SAMPLES_U8;  /* (so the auto scale of IDX is known unloaded) */
    scale_data(d, scale);
    return NNRT_OK;
  }
  char csv[1024];
  snprintf(csv, sizeof csv, "%s/train.csv", dir);
  if (is_file(csv)) {
    snprintf(d->train_name, sizeof d->train_name, "%s", csv);
    if ((need_train || scale <= 0) && (s = load_csv_split(api, &d->train, csv)) != NNRT_OK)
      return s;
    snprintf(csv, sizeof csv, "%s/test.csv", dir);
    if (is_file(csv)) {
      if ((s = load_csv_split(api, &d->test, csv)) != NNRT_OK)
        return s;
      d->has_test = 1;
    }
    scale_data(d, scale);
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

/* Test-time augmentation needs images: refused for samples without an
 * image shape (CSV rows of a model whose input is not f32[C, H, W]). */
nnrt_status nnrt_check_tta(const nnrt_model *api, const nnrt_dataset *d, const char *path) {
  if (d->height >= 2 && d->width >= 2)
    return NNRT_OK;
  return nnrt_fail(NNRT_ERR_ARG, "%s: test-time augmentation needs images, but the samples "
                   "have no image shape (model %s takes %ld values, not f32[C, H, W]); "
                   "leave out --tta", path, api->name, api->input_size);
}

/* ----------------------------------------------------------- evaluation */

typedef struct Metrics {
  double loss, accuracy;   /* mean cross-entropy of the logits, % correct  */
  double mse, mae;         /* real-valued labels: errors of output 0; the
                              loss is the mse                              */
  nnrt_status status;      /* NNRT_ERR_NOMEM if there was no memory for it */
} Metrics;

#define NO_METRICS ((Metrics){NAN, NAN, NAN, NAN, NNRT_OK})

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

/* Sums over the samples evaluated. */
typedef struct Score {
  double loss, se, ae;     /* cross-entropy; squared and absolute errors   */
  size_t correct;
} Score;

/* Whether output 0 is what real-valued labels are compared with. */
static int compares_output(const nnrt_model *api, const nnrt_dataset *d) {
  return d->targets && api->output_size == (long)d->target_size;
}

void nnrt_softmax_accumulate(const float *z, long k, int views, double *acc) {
  double max = z[0], sum = 0;
  for (long c = 1; c < k; c++)
    max = z[c] > max ? z[c] : max;
  for (long c = 0; c < k; c++)
    sum += exp(z[c] - max);
  for (long c = 0; c < k; c++)
    acc[c] += exp(z[c] - max) / sum / views;
}

/* One view's outputs y of b samples into avg (1/views of each): softmax
 * probabilities for class ids, the outputs for real-valued labels. */
static void add_view(const nnrt_model *api, const float *y, int b, int views, double *avg,
                     int real) {
  long out = api->output_size, k = api->num_classes;
  for (int i = 0; i < b; i++) {
    const float *z = y + (size_t)i * (size_t)out;
    double *p = avg + (size_t)i * (size_t)out;
    if (real) {
      for (long c = 0; c < out; c++)
        p[c] += (double)z[c] / views;
      continue;
    }
    nnrt_softmax_accumulate(z, k, views, p);
  }
}

/* Sample s's score: from the averaged views avg (TTA, real-valued labels)
 * or the logits z. */
static void score(const nnrt_model *api, const nnrt_dataset *d, size_t s, const float *z,
                  const double *avg, Score *sc) {
  if (d->targets) {
    const float *t = d->targets + s * d->target_size;
    for (size_t c = 0; c < d->target_size; c++) {
      double e = avg[c] - (double)t[c];
      sc->se += e * e;
      sc->ae += fabs(e);
    }
    return;
  }
  long k = api->num_classes;
  int best = 0;
  if (avg) {
    for (long c = 1; c < k; c++)
      if (avg[c] > avg[best])
        best = (int)c;
    sc->loss += -log(avg[d->y[s]] > 1e-300 ? avg[d->y[s]] : 1e-300);
  } else {
    sc->loss += cross_entropy(z, k, d->y[s], &best);
  }
  sc->correct += best == d->y[s];
}

/* Inference over samples idx[0..n) (all if idx is NULL), in batches of
 * max_batch; with tta, softmax probabilities (or, for real-valued labels,
 * the outputs) averaged over the views.  In a data-parallel run each rank
 * scores a part of them and the sums are added up (collective: every rank
 * calls it with the same samples, and learns of any rank's failure). */
static Metrics evaluate(const nnrt_model *api, void *m, int max_batch, const nnrt_dataset *d,
                        const size_t *idx, size_t n, const nnrt_tta *tta) {
  Metrics r = NO_METRICS;
  int real = d->targets != NULL;
  if (n == 0 || (real && !compares_output(api, d)))
    return r;
  size_t in = d->sample_size, out = (size_t)api->output_size;
  int views = tta ? nnrt_tta_views(tta) : 1;
  size_t ranks = (size_t)nnrt_dist_size(), rank = (size_t)nnrt_dist_rank();
  size_t first = n * rank / ranks, last = n * (rank + 1) / ranks;  /* this rank's part */
  float *x = malloc(sizeof(float) * in * (size_t)max_batch);
  float *y = malloc(sizeof(float) * out * (size_t)max_batch);
  double *avg = malloc(sizeof(double) * out * (size_t)max_batch);
  float *scratch = malloc(sizeof(float) * in), *one = malloc(sizeof(float) * in);
  Score sc = {0, 0, 0, 0};
  if (!x || !y || !avg || !scratch || !one) {
    r.status = nnrt_fail(NNRT_ERR_NOMEM, "model %s: out of memory to evaluate in batches of %d",
                         api->name, max_batch);
    last = first;
  }
  for (size_t start = first; start < last; start += (size_t)max_batch) {
    int b = last - start < (size_t)max_batch ? (int)(last - start) : max_batch;
    memset(avg, 0, sizeof(double) * out * (size_t)b);
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
      if (tta || real)
        add_view(api, y, b, views, avg, real);
    }
    for (int i = 0; i < b; i++)
      score(api, d, idx ? idx[start + (size_t)i] : start + (size_t)i, y + (size_t)i * out,
            tta || real ? avg + (size_t)i * out : NULL, &sc);
  }
  free(x), free(y), free(avg), free(scratch), free(one);
  double sums[4] = {sc.loss, sc.se, sc.ae, (double)sc.correct};
  if ((r.status = nnrt_dist_agree(r.status)) != NNRT_OK)
    return r;
  nnrt_dist_sum_f64(sums, 4);
  if (real) {
    r.loss = r.mse = sums[1] / (double)n / (double)d->target_size;
    r.mae = sums[2] / (double)n / (double)d->target_size;
  } else {
    r.loss = sums[0] / (double)n;
    r.accuracy = 100.0 * sums[3] / (double)n;
  }
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

/* "1:05" or "1:02:05": a time left, for the progress bar. */
static void fmt_duration(char *buf, size_t cap, double seconds) {
  long t = seconds > 0 && seconds < 1e8 ? (long)(seconds + 0.5) : 0;
  if (t >= 3600)
    snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

/* The line a terminal sees during an epoch: the bar, the step count, the
 * running loss and metric (the accuracy in %, or for real-valued labels the
 * MAE), the speed and the time the epoch has left. */
static void progress(FILE *out, int epoch, int epochs, uint64_t step, uint64_t steps,
                     double loss, double metric, int real, double rate, double eta) {
  char bar[31], left[32];
  int fill = (int)((double)step / (double)steps * 30);
  for (int i = 0; i < 30; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[30] = '\0';
  fmt_duration(left, sizeof left, eta);
  fprintf(out, "\repoch %d/%d [%s] %llu/%llu  loss %.4f", epoch, epochs, bar,
          (unsigned long long)step, (unsigned long long)steps, loss);
  if (!isnan(metric))
    fprintf(out, real ? "  mae %.4f" : "  accuracy %.2f%%", metric);
  fprintf(out, "  %.0f samples/s  ETA %s ", rate, left);
  fflush(out);
}

static void fmt_metric(char *buf, size_t cap, const char *name, double v, int pct) {
  if (isnan(v))
    buf[0] = '\0';
  else
    snprintf(buf, cap, pct ? "  %s %.2f%%" : "  %s %.4f", name, v);
}

/* ------------------------------------------------------------- training */

/* The metrics CSV's columns. */
#define LOG_HEAD_CLASSES "epoch,lr,loss,accuracy,val_loss,val_accuracy,test_loss," \
                         "test_accuracy,seconds,samples_per_second\n"
#define LOG_HEAD_REAL "epoch,lr,loss,mse,mae,val_loss,val_mse,val_mae," \
                      "test_loss,test_mse,test_mae,seconds,samples_per_second\n"

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
  /* (no train_step: labels of two types) */
  if (!api->train_step || (!api->label_is_float && api->label_size != 1))
    return nnrt_fail(NNRT_ERR_ARG, "model %s takes %s, but the trainer's data sets carry "
                     "either one class id or real values per sample (a program of your own can "
                     "train it through %s_train_step_ex)", api->name,
                     api->train_step ? "several class labels"
                                     : "labels of two types (class ids and real values)",
                     api->name);
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

/* The curves: per epoch, loss and accuracy (a fraction; for real-valued
 * labels the MAE) of the training steps, the validation split and the test
 * data; NAN where unknown (epochs before a resumed run's first). */
typedef struct History {
  int n;
  double *loss[3], *acc[3];  /* train, validation, test; acc: the MAE for real labels */
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
  size_t drop_last;        /* 1: the last sample of each epoch's order is left
                              out (a batch of 1 a batchnorm cannot train on) */
  int stopping;            /* early stopping: patience > 0 and a validation split */
  double best;             /* the watched metric's best (lower is better), or NAN */
  int since_best;          /* epochs since the best                         */
  void *m;
  float *x, *scratch;      /* a batch of inputs; one augmentation's scratch  */
  int32_t *y;              /* a batch of class ids, or                     */
  float *t;                /* of real-valued labels (real)                 */
  int real;
  History h;
  nnrt_file log;
  char best_path[1100];    /* early stopping: the best epoch's checkpoint, or "" */
  /* Data-parallel (docs/distributed.md): this process is rank `rank` of
   * `ranks`; rank 0 (lead) alone writes files and prints.  Each step, the
   * gradient hook weights this rank's gradients by its share of the batch
   * (weight) and sums them over the ranks. */
  int rank, ranks, lead;
  float weight;
  FILE *results;           /* opt->out on rank 0, else NULL                */
  double step_seconds;     /* the training steps' time, and their number    */
  uint64_t steps_run;
} Run;

/* What one epoch's training steps did. */
typedef struct Epoch {
  double loss, accuracy;   /* over the accepted steps; accuracy NAN if unknown */
  double mse, mae;         /* real-valued labels (else NAN)                */
  double lr, seconds;
  size_t seen;             /* samples of the accepted steps                */
} Epoch;

/* --load-partial: each parameter (nnrt_model.param_table) whose name and
 * shape an array of the .npz has takes its values; the others keep their
 * initial values and are named, as are the arrays no parameter took
 * (decision 314).  Running statistics are not parameters: they start
 * afresh. */
static nnrt_status load_partial(Run *r, const char *path) {
  const nnrt_model *api = r->api;
  if (!api->param_table)
    return nnrt_fail(NNRT_ERR_ARG, "model %s: no parameter table (rebuild it with this nncc)",
                     api->name);
  nnrt_npz z;
  char local[1100];
  int absent;
  nnrt_status s = nnrt_dist_fetch(path, local, sizeof local, &absent);
  if (s == NNRT_OK) {
    s = nnrt_npz_read(local, &z);
    if (strcmp(local, path))
      remove(local);
  }
  if (s != NNRT_OK)
    return s;
  char *used = calloc((size_t)z.n + 1, 1);
  if (!used) {
    nnrt_npz_free(&z);
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory", path);
  }
  int loaded = 0, total = 0;
  for (const char *const *t = api->param_table; *t; t++, total++) {
    char name[256], shape[256], got[256] = "";
    long offset;
    if (sscanf(*t, "%255s %ld %255s", name, &offset, shape) != 3)
      continue;
    const nnrt_npy *a = nnrt_npz_find(&z, name);
    for (int d = 0; a && d < a->rank; d++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "x" : "",
               (long long)a->dims[d]);
    if (a)
      used[a - z.arrays] = 1;  /* reported here if it is not taken */
    if (a && !strcmp(got, shape) && a->descr[0] == 'f') {
      for (int64_t i = 0; i < a->numel; i++)
        if (api->elem_size == 4)
          ((float *)api->params(r->m))[offset + i] = (float)a->data[i];
        else
          ((double *)api->params(r->m))[offset + i] = a->data[i];
      loaded++;
    } else if (r->out) {
      fprintf(r->out, "--load-partial: %s %s left initialised: %s%s%s\n", name, shape,
              a ? "the .npz has it as " : "not in ", a ? (*got ? got : "a scalar") : path,
              a && a->descr[0] != 'f' ? " integers" : "");
    }
  }
  for (int i = 0; r->out && i < z.n; i++)
    if (!used[i] && !strstr(z.arrays[i].name, "num_batches_tracked") &&
        !strstr(z.arrays[i].name, "running_"))
      fprintf(r->out, "--load-partial: %s in %s matches no parameter: ignored\n",
              z.arrays[i].name, path);
  if (r->out)
    fprintf(r->out, "--load-partial: %d of %d parameter tensors loaded from %s\n", loaded, total,
            path);
  free(used);
  nnrt_npz_free(&z);
  return NNRT_OK;
}

/* The model loads the checkpoint at rank 0's path (each rank a copy of
 * rank 0's file: collective). */
static nnrt_status load_checkpoint(const nnrt_model *api, void *m, const char *path) {
  char local[1100];
  int absent;
  nnrt_status s = nnrt_dist_fetch(path, local, sizeof local, &absent);
  if (s == NNRT_OK && api->load(m, local) != 0)
    s = NNRT_ERR_IO;  /* the model's load left the message */
  if (strcmp(local, path))
    remove(local);
  return nnrt_dist_agree(s);
}

/* The data, the validation split (a seeded shuffle, the last part held
 * out) and the model, created (each rank in its own process; start_model
 * makes them one). */
static nnrt_status start_data(Run *r) {
  const nnrt_train_options *opt = r->opt;
  nnrt_status s = load_data(r->api, opt->data, 1, opt->scale, &r->data);
  if (s != NNRT_OK)
    return s;
  Data *d = &r->data;
  if (opt->tta && r->cfg->has_tta && (s = nnrt_check_tta(r->api, &d->train, d->train_name)) != NNRT_OK)
    return s;
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
  /* Rank k > 0 gets a seed of its own, so that its dropout masks are not
   * rank 0's (the stream is the model's seed and step); its initial
   * parameters are then replaced by rank 0's (start_model). */
  uint64_t seed = r->rank ? r->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)r->rank) : r->seed;
  if (!(r->m = r->api->create(r->batch, seed)))
    return nnrt_fail(NNRT_ERR_NOMEM, "model %s: cannot allocate for batch %d", r->api->name,
                     r->batch);
  return NNRT_OK;
}

/* Collective: every rank's model as rank 0's, its initial values (a sum
 * with the others' zeros), or the checkpoint it resumes from. */
static nnrt_status start_model(Run *r) {
  const nnrt_model *api = r->api;
  const nnrt_train_options *opt = r->opt;
  if (opt->load && opt->load_partial)
    return nnrt_fail(NNRT_ERR_ARG, "--load resumes a run and --load-partial starts one: give one");
  if (opt->load)
    return load_checkpoint(api, r->m, opt->load);
  if (r->ranks > 1) {
    float *p = api->params(r->m), *b = api->buffers ? api->buffers(r->m) : NULL;
    if (r->rank) {
      memset(p, 0, sizeof(float) * (size_t)api->num_params);
      if (b)
        memset(b, 0, sizeof(float) * (size_t)api->num_buffers);
    }
    nnrt_dist_sum_f32(p, api->num_params);
    if (b)
      nnrt_dist_sum_f32(b, api->num_buffers);
  }
  nnrt_status s = opt->load_partial ? load_partial(r, opt->load_partial) : NNRT_OK;
  return nnrt_dist_agree(s);
}

/* The batch a step takes and how the ranks share it, and every file the
 * run writes, checked before it starts rather than after an epoch: the
 * checkpoints and the curves can be replaced, the log opened. */
static nnrt_status start_files(Run *r) {
  const nnrt_train_options *opt = r->opt;
  const Data *d = &r->data;
  /* A batchnorm with one value per channel cannot train on a batch of 1
   * (the model refuses one, as PyTorch does): batch 1 is refused here, and
   * a last batch of 1 left out of each epoch (decision 312); over several
   * ranks, each takes at least that many samples of every batch. */
  int least = r->api->min_train_batch > 1 ? r->api->min_train_batch : 1;
  if (r->batch < least || (least > 1 && r->ntrain == 1))
    return nnrt_fail(NNRT_ERR_ARG, "model %s cannot train on batches of 1: a batchnorm has one "
                     "value per channel; use --batch 2 or more%s", r->api->name,
                     r->ntrain == 1 ? ", and more than one training sample" : "");
  if (r->batch < least * r->ranks)
    return nnrt_fail(NNRT_ERR_ARG, "batch %d cannot be shared by %d ranks%s: use --batch %d or "
                     "more", r->batch, r->ranks, least > 1 ? ", two samples each (batchnorm)" : "",
                     least * r->ranks);
  size_t tail = r->ntrain % (size_t)r->batch;
  r->drop_last = tail && tail < (size_t)(least * r->ranks) ? tail : 0;
  r->steps_per_epoch = (r->ntrain - r->drop_last + (size_t)r->batch - 1) / (size_t)r->batch;
  r->total_steps = r->steps_per_epoch * (uint64_t)r->epochs;

  if (r->stopping && opt->save)  /* (on rank 0: the others' opt has no files) */
    snprintf(r->best_path, sizeof r->best_path, "%s.best", opt->save);
  else if (r->stopping && r->lead)
    snprintf(r->best_path, sizeof r->best_path, "%s/nnrt-%s-%ld.best.ckpt",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", r->api->name, (long)getpid());
  nnrt_file probe;
  const char *replaced[3] = {opt->save, r->best_path[0] ? r->best_path : NULL, opt->plot};
  for (int i = 0; i < 3; i++)
    if (replaced[i] && nnrt_file_probe(&probe, replaced[i]) != 0)
      return nnrt_file_failed(&probe);
  int resumed = r->api->step(r->m) >= r->steps_per_epoch;
  nnrt_status s;
  if (opt->log && nnrt_file_append(&r->log, opt->log, !resumed) != 0)
    return nnrt_file_failed(&r->log);
  if (opt->log && !resumed &&
      (s = log_line(&r->log, r->real ? LOG_HEAD_REAL : LOG_HEAD_CLASSES)) != NNRT_OK)
    return s;

  size_t in = d->train.sample_size;
  r->x = malloc(sizeof(float) * in * (size_t)r->batch);
  r->scratch = malloc(sizeof(float) * in);
  r->y = malloc(sizeof(int32_t) * (size_t)r->batch);
  r->t = r->real ? malloc(sizeof(float) * d->train.target_size * (size_t)r->batch) : NULL;
  int missing = !r->x || !r->scratch || !r->y || (r->real && !r->t);
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

/* Everything a run needs before its first epoch, each part's failures
 * known to every rank before the next. */
static nnrt_status start_run(Run *r) {
  nnrt_status s;
  if ((s = nnrt_dist_agree(start_data(r))) != NNRT_OK || (s = start_model(r)) != NNRT_OK)
    return s;
  return nnrt_dist_agree(start_files(r));
}

static void end_run(Run *r, nnrt_status *s) {
  free(r->x), free(r->scratch), free(r->y), free(r->t);
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
 * read as one is skipped: the curves then have a gap).  A split's columns
 * are loss and accuracy, or for real-valued labels loss, mse and mae. */
static void past_epochs(Run *r, int done) {
  FILE *f = r->opt->log ? fopen(r->opt->log, "r") : NULL;
  if (!f)
    return;
  const int w = r->real ? 3 : 2, cols = 2 + 3 * w;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    double v[11];
    char *p = line, *end;
    int n = 0;
    for (; n < cols; n++, p = end + 1) {
      v[n] = strtod(p, &end);
      if (end == p || *end != ',')
        break;
    }
    int epoch = n == cols && v[0] >= 1 && v[0] <= done ? (int)v[0] : 0;
    for (int k = 0; epoch && k < 3; k++) {  /* the splits' columns from column 2 */
      r->h.loss[k][epoch - 1] = v[2 + w * k];
      r->h.acc[k][epoch - 1] = r->real ? v[2 + w * k + 2] : v[3 + w * k] / 100;
    }
  }
  fclose(f);
}

/* The b samples from `start` of epoch's order into r->x (converted to
 * floats here, a batch at a time) and r->y, augmented: the sample at place
 * p of epoch e with the random stream (seed, e * ntrain + p), so that it is
 * augmented alike whichever rank takes it (decision 330). */
static void fill_batch(Run *r, int epoch, size_t start, int b) {
  const nnrt_dataset *d = &r->data.train;
  size_t in = d->sample_size;
  for (int i = 0; i < b; i++) {
    size_t k = r->epoch_order[start + (size_t)i];
    float *dst = r->x + (size_t)i * in;
    nnrt_dataset_get(d, k, 1, dst);
    nnrt_rng ar;
    if (r->naug) {  /* in place */
      nnrt_rng_seed_stream(&ar, r->seed ^ 0xa0a0a0a0a06e4e47ULL,
                           (uint64_t)epoch * r->ntrain + start + (size_t)i);
      nnrt_augment_image(r->cfg->augment, r->naug, &ar, dst, dst, r->scratch, d->channels,
                         d->height, d->width);
    }
    if (r->real)
      memcpy(r->t + (size_t)i * d->target_size, d->targets + k * d->target_size,
             sizeof(float) * d->target_size);
    else
      r->y[i] = d->y[k];
  }
}

/* What the last step's training output scored on its b samples, into sc
 * (correct, or for real-valued labels the errors); 0 if the model does not
 * tell. */
static int train_score(const Run *r, int b, Score *sc) {
  const nnrt_model *api = r->api;
  const float *z = api->train_output ? api->train_output(r->m) : NULL;
  long out = api->output_size;
  size_t tsize = r->data.train.target_size;
  if (!z || (r->real ? out != (long)tsize : out != api->num_classes))
    return 0;
  for (int i = 0; i < b; i++) {
    const float *zi = z + (size_t)i * (size_t)out;
    if (r->real) {
      for (size_t c = 0; c < tsize; c++) {
        double e = (double)zi[c] - r->t[(size_t)i * tsize + c];
        sc->se += e * e;
        sc->ae += fabs(e);
      }
      continue;
    }
    int best = 0;
    for (long c = 1; c < api->num_classes; c++)
      if (zi[c] > zi[best])
        best = (int)c;
    sc->correct += best == r->y[i];
  }
  return 1;
}

/* The gradient hook of a data-parallel run (nnrt_gradient_hook): this
 * rank's gradients weighted by its share of the batch, summed over the
 * ranks, so every rank updates with the gradient of the whole batch.  A
 * rank whose loss is not finite makes the sum's first value NaN, so every
 * rank refuses the step. */
static double average_gradients(void *ctx, void *grads, long n, double loss) {
  const Run *r = ctx;
  float *g = grads, w = r->weight;
  for (long i = 0; i < n; i++)
    g[i] *= w;
  if (n && !isfinite(loss))
    g[0] = NAN;
  nnrt_dist_sum_f32(g, n);
  return n && !isfinite(g[0]) ? NAN : loss;
}

/* The ranks' sums of an epoch's training steps, added up. */
static void sum_epoch(Epoch *e, double *loss_sum, size_t *counted, Score *sc) {
  double v[6] = {*loss_sum, (double)e->seen, (double)*counted, (double)sc->correct, sc->se,
                 sc->ae};
  nnrt_dist_sum_f64(v, 6);
  *loss_sum = v[0], e->seen = (size_t)v[1], *counted = (size_t)v[2];
  sc->correct = (size_t)v[3], sc->se = v[4], sc->ae = v[5];
}

/* After an epoch over several ranks: the running statistics, which each
 * rank kept of its own samples, averaged (as the checkpoint has them), and
 * a check that the parameters are still the same on every rank. */
static nnrt_status join_ranks(Run *r, int epoch) {
  const nnrt_model *api = r->api;
  if (r->ranks == 1)
    return NNRT_OK;
  if (api->buffers && api->num_buffers) {
    float *b = api->buffers(r->m);
    nnrt_dist_sum_f32(b, api->num_buffers);
    for (long i = 0; i < api->num_buffers; i++)
      b[i] /= (float)r->ranks;
  }
  const unsigned char *p = api->params(r->m);
  uint64_t h = 0xcbf29ce484222325ULL;  /* FNV-1a of the parameters' bytes */
  for (size_t i = 0; i < sizeof(float) * (size_t)api->num_params; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  if (!nnrt_dist_same(h))
    return nnrt_fail(NNRT_ERR_NUMERIC, "epoch %d: the ranks' parameters differ (the MPI "
                     "library's allreduce did not give every rank the same sums)", epoch + 1);
  return NNRT_OK;
}

/* The training steps of one epoch, in an order and with augmentations
 * drawn from the seed and the epoch alone: a shuffle of the training
 * samples in their first order (not of the last epoch's), so a resumed run
 * trains as the run it continues would have.  Over several ranks, each
 * takes its part of every batch (as even as can be, in rank order). */
static nnrt_status train_epoch(Run *r, int epoch, Epoch *e) {
  const nnrt_model *api = r->api;
  double t0 = now(), loss_sum = 0;
  nnrt_rng er;  /* (the model's dropout streams are (seed, step): kept apart) */
  nnrt_rng_seed_stream(&er, r->seed ^ 0xda7a0de5ULL, (uint64_t)epoch);
  memcpy(r->epoch_order, r->order, sizeof(size_t) * r->ntrain);
  shuffle(r->epoch_order, r->ntrain, &er);
  Score sc = {0, 0, 0, 0};
  size_t counted = 0, tsize = r->real ? r->data.train.target_size : 1;
  int refused = 0;  /* steps in a row whose loss or update was not finite */
  memset(e, 0, sizeof *e);
  e->lr = r->lr0;
  for (size_t start = 0; start < r->ntrain - r->drop_last; start += (size_t)r->batch) {
    int all = r->ntrain - start < (size_t)r->batch ? (int)(r->ntrain - start) : r->batch;
    size_t from = start + (size_t)all * (size_t)r->rank / (size_t)r->ranks;
    int b = (int)(start + (size_t)all * (size_t)(r->rank + 1) / (size_t)r->ranks - from);
    r->weight = (float)b / (float)all;
    fill_batch(r, epoch, from, b);
    e->lr = learning_rate(r->cfg, r->lr0, api->step(r->m), r->steps_per_epoch, r->total_steps);
    if (api->set_learning_rate(r->m, e->lr) != 0) {
      char why[512];
      snprintf(why, sizeof why, "%s", nnrt_errmsg());
      return nnrt_fail(NNRT_ERR_ARG, "epoch %d: the schedule's rate: %s", epoch + 1, why);
    }
    double loss = api->train_step(r->m, b, r->x, r->real ? (const void *)r->t : r->y);
    if (!isfinite(loss)) {  /* the step changed nothing (on every rank) */
      if (++refused >= 20)
        return check_diverged(api, r->m, epoch, refused, r->lr0);
      continue;
    }
    refused = 0;
    loss_sum += loss * b;
    e->seen += (size_t)b;
    counted += train_score(r, b, &sc) ? (size_t)b : 0;
    double metric = !counted ? NAN : r->real ? sc.ae / (double)(counted * tsize)
                                             : 100.0 * (double)sc.correct / (double)counted;
    uint64_t step = start / (size_t)r->batch + 1;
    if (r->out && r->tty && (step % 16 == 1 || step == r->steps_per_epoch)) {
      double spent = now() - t0;  /* (over several ranks: rank 0's samples) */
      progress(r->out, epoch + 1, r->epochs, step, r->steps_per_epoch, loss_sum / (double)e->seen,
               metric, r->real, (double)e->seen * r->ranks / spent,
               spent / (double)step * (double)(r->steps_per_epoch - step));
    }
  }
  e->seconds = now() - t0;
  r->step_seconds += e->seconds;
  r->steps_run += r->steps_per_epoch;
  sum_epoch(e, &loss_sum, &counted, &sc);
  e->loss = e->seen ? loss_sum / (double)e->seen : NAN;
  e->accuracy = counted && !r->real ? 100.0 * (double)sc.correct / (double)counted : NAN;
  e->mse = counted && r->real ? sc.se / (double)(counted * tsize) : NAN;
  e->mae = counted && r->real ? sc.ae / (double)(counted * tsize) : NAN;
  nnrt_status s = join_ranks(r, epoch);
  return s != NNRT_OK ? s : check_diverged(api, r->m, epoch, refused, r->lr0);
}

/* The epoch's line on screen, its metrics named as the log's columns and
 * early_stopping's metric: accuracies, or for real-valued labels the errors. */
static void epoch_line(const Run *r, int epoch, const Epoch *e, const Metrics *val,
                       const Metrics *test) {
  char m[6][64];
  if (r->real) {
    fmt_metric(m[0], sizeof m[0], "mse", e->mse, 0);
    fmt_metric(m[1], sizeof m[1], "mae", e->mae, 0);
    fmt_metric(m[2], sizeof m[2], "val_mse", val->mse, 0);
    fmt_metric(m[3], sizeof m[3], "val_mae", val->mae, 0);
    fmt_metric(m[4], sizeof m[4], "test_mse", test->mse, 0);
    fmt_metric(m[5], sizeof m[5], "test_mae", test->mae, 0);
  } else {
    fmt_metric(m[0], sizeof m[0], "accuracy", e->accuracy, 1);
    fmt_metric(m[1], sizeof m[1], "val_loss", val->loss, 0);
    fmt_metric(m[2], sizeof m[2], "val_accuracy", val->accuracy, 1);
    fmt_metric(m[3], sizeof m[3], "test_accuracy", test->accuracy, 1);
    m[4][0] = m[5][0] = '\0';
  }
  fprintf(r->out, "%sepoch %d/%d  loss %.4f%s%s%s%s%s%s  lr %.4g  %.1fs  %.0f samples/s\n",
          r->tty ? "\r\033[K" : "", epoch + 1, r->epochs, e->loss, m[0], m[1], m[2], m[3],
          m[4], m[5], e->lr, e->seconds, (double)e->seen / e->seconds);
  fflush(r->out);
}

static nnrt_status epoch_log(Run *r, int epoch, const Epoch *e, const Metrics *val,
                             const Metrics *t) {
  double secs = e->seconds, rate = (double)e->seen / e->seconds;
  if (r->real)
    return log_line(&r->log, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f\n",
                    epoch + 1, e->lr, e->loss, e->mse, e->mae, val->loss, val->mse, val->mae,
                    t->loss, t->mse, t->mae, secs, rate);
  return log_line(&r->log, "%d,%.6g,%.6f,%.4f,%.6f,%.4f,%.6f,%.4f,%.3f,%.1f\n", epoch + 1,
                  e->lr, e->loss, e->accuracy, val->loss, val->accuracy, t->loss, t->accuracy,
                  secs, rate);
}

/* The curves so far, with the best epoch marked (if there is a validation
 * split); the test curve when there is no validation split to show. */
static nnrt_status plot(const Run *r, int best_epoch) {
  if (!r->opt->plot)
    return NNRT_OK;
  const History *h = &r->h;
  nnrt_curves c = {h->n, {h->loss[0], r->nval ? h->loss[1] : NULL, r->nval ? NULL : h->loss[2]},
                   {h->acc[0], r->nval ? h->acc[1] : NULL, r->nval ? NULL : h->acc[2]},
                   best_epoch, r->real ? "MAE" : NULL};
  return nnrt_plot_curves_ex(r->opt->plot, r->api->name, &c);
}

/* The watched metric of validation metrics v: lower is better (real-valued
 * labels have no accuracy: their loss, the MSE). */
static double watched(const Run *r, const Metrics *v) {
  return r->cfg->monitor_accuracy && !r->real ? -v->accuracy : v->loss;
}

/* The watched metric's name. */
static const char *watched_name(const Run *r) {
  return r->cfg->monitor_accuracy && !r->real ? "val_accuracy" : "val_loss";
}

/* The best epoch's validation metrics, for messages: "val_loss 0.3012
 * val_accuracy 89.10%", for real-valued labels "val_loss 0.0191  val_mae
 * 0.1090"; sep between them. */
static const char *best_text(char *buf, size_t cap, const Run *r, const char *sep) {
  const nnrt_train_report *rep = r->rep;
  if (r->real)
    snprintf(buf, cap, "val_loss %.4f%sval_mae %.4f", rep->best_val_loss, sep, rep->best_val_mae);
  else
    snprintf(buf, cap, "val_loss %.4f%sval_accuracy %.2f%%", rep->best_val_loss, sep,
             rep->best_val_accuracy);
  return buf;
}

/* v is the best epoch's (epoch, 1-based). */
static void set_best(Run *r, int epoch, const Metrics *v) {
  r->best = watched(r, v);
  r->rep->best_epoch = epoch;
  r->rep->best_val_loss = v->loss;
  r->rep->best_val_accuracy = v->accuracy;
  r->rep->best_val_mse = v->mse;
  r->rep->best_val_mae = v->mae;
}

/* Keeps track of the best epoch (by the watched metric); with early
 * stopping its checkpoint is the best one; then the curves. */
static nnrt_status watch_best(Run *r, int epoch, const Metrics *val) {
  nnrt_train_report *rep = r->rep;
  if (r->nval && (isnan(r->best) || watched(r, val) < r->best)) {
    set_best(r, epoch + 1, val);
    r->since_best = 0;
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
  char from[1100], local[1100];
  snprintf(from, sizeof from, "%s.best", r->opt->load);
  void *m = r->m;
  int absent;
  nnrt_status s = nnrt_dist_fetch(from, local, sizeof local, &absent);
  if (s != NNRT_OK)
    return s;
  if (!absent) {
    if (!(m = api->create(r->batch, r->seed)))
      s = nnrt_fail(NNRT_ERR_NOMEM, "model %s: cannot allocate for batch %d", api->name,
                    r->batch);
    else if (api->load(m, local) != 0)
      s = NNRT_ERR_IO;
    else if (api->step(m) > api->step(r->m))
      s = nnrt_fail(NNRT_ERR_MISMATCH, "%s: a later step (%llu) than %s (%llu): not the best "
                    "epoch of the run it resumes; remove it", from,
                    (unsigned long long)api->step(m), r->opt->load,
                    (unsigned long long)api->step(r->m));
    if (strcmp(local, from))
      remove(local);
    if ((s = nnrt_dist_agree(s)) != NNRT_OK) {
      if (m)
        api->destroy(m);
      return s;
    }
  }
  Metrics v = evaluate(api, m, r->batch, &r->data.train, r->order + r->ntrain, r->nval, NULL);
  s = v.status;
  int epoch = (int)(api->step(m) / r->steps_per_epoch);
  if (s == NNRT_OK && r->best_path[0] && strcmp(from, r->best_path) &&
      api->save(m, r->best_path) != 0)
    s = NNRT_ERR_IO;
  if (m != r->m)
    api->destroy(m);
  s = nnrt_dist_agree(s);
  if (s != NNRT_OK)
    return s;
  set_best(r, epoch, &v);
  r->since_best = done - epoch;
  char text[128];
  if (r->out)
    fprintf(r->out, "early stopping: the best so far is epoch %d (%s), from %s\n", epoch,
            best_text(text, sizeof text, r, ", "), absent ? r->opt->load : from);
  return NNRT_OK;
}

/* At the end of a run with early stopping: the best epoch's weights back,
 * said, and in the --save checkpoint (SAVE.best, then the same, removed). */
static nnrt_status restore_best(Run *r, int last_epoch) {
  const nnrt_train_report *rep = r->rep;
  if (!r->stopping || !rep->best_epoch)
    return NNRT_OK;
  nnrt_status s;
  if (rep->best_epoch != last_epoch && (s = load_checkpoint(r->api, r->m, r->best_path)) != NNRT_OK)
    return s;
  char text[128];
  if (r->out)
    fprintf(r->out, "%s epoch %d of %d: %s%s%s\n",
            rep->best_epoch != last_epoch ? "restored the best weights," : "kept the best weights,",
            rep->best_epoch, last_epoch, best_text(text, sizeof text, r, "  "),
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
                             : NO_METRICS;
  nnrt_status s;
  if ((s = val->status) != NNRT_OK || (s = test.status) != NNRT_OK)
    return s;
  History *h = &r->h;
  const Metrics m[3] = {{e->loss, e->accuracy, e->mse, e->mae, NNRT_OK}, *val, test};
  for (int k = 0; k < 3; k++) {
    h->loss[k][epoch] = m[k].loss;
    h->acc[k][epoch] = r->real ? m[k].mae : m[k].accuracy / 100;  /* the plot takes fractions */
  }
  h->n = epoch + 1;
  if (r->out)
    epoch_line(r, epoch, e, val, &test);
  const nnrt_train_options *opt = r->opt;
  if (opt->log && (s = epoch_log(r, epoch, e, val, &test)) != NNRT_OK)
    return s;
  if (opt->save && api->save(r->m, opt->save) != 0)
    return NNRT_ERR_IO;
  return watch_best(r, epoch, val);
}

/* The test result: "test accuracy 84.12% (loss 0.4412, 10000 samples)",
 * for real-valued labels "test mse 0.0123 mae 0.0871 (1000 samples)"; with
 * TTA, "with TTA" and the number of views. */
static void result_line(FILE *out, const Metrics *t, int real, int views, size_t n) {
  const char *what = views ? " with TTA" : "";
  char tail[64];
  if (views)
    snprintf(tail, sizeof tail, "%d views", views);
  else
    snprintf(tail, sizeof tail, "%zu samples", n);
  if (real)
    fprintf(out, "test mse%s %.6g  mae %.6g (%s)\n", what, t->mse, t->mae, tail);
  else
    fprintf(out, "test accuracy%s %.2f%% (loss %.4f, %s)\n", what, t->accuracy, t->loss, tail);
}

static void report_test(nnrt_train_report *rep, const Metrics *t) {
  rep->test_loss = t->loss;
  rep->test_accuracy = t->accuracy;
  rep->test_mse = t->mse;
  rep->test_mae = t->mae;
}

/* The test data after training, with test-time augmentation if asked. */
static nnrt_status final_test(Run *r, nnrt_train_report *rep) {
  const nnrt_train_options *opt = r->opt;
  const Data *d = &r->data;
  if (!d->has_test) {
    if (r->results)
      fprintf(r->results, "no test data in %s: " NO_TEST_FILES "; trained without a test "
              "evaluation\n", opt->data);
    return NNRT_OK;
  }
  Metrics test = evaluate(r->api, r->m, r->batch, &d->test, NULL, d->test.count, NULL);
  if (test.status != NNRT_OK)
    return test.status;
  report_test(rep, &test);
  if (r->out)
    result_line(r->out, &test, r->real, 0, d->test.count);
  if (opt->tta && r->cfg->has_tta) {
    const nnrt_tta *tta = &r->cfg->tta;
    Metrics t = evaluate(r->api, r->m, r->batch, &d->test, NULL, d->test.count, tta);
    if (t.status != NNRT_OK)
      return t.status;
    if (r->out)
      result_line(r->out, &t, r->real, nnrt_tta_views(tta), d->test.count);
    report_test(rep, &t);
  } else if (opt->tta && r->out) {
    fprintf(r->out, "(no test block with tta in %s: evaluated without TTA)\n", r->api->source);
  }
  if (opt->quiet && r->results && r->real)
    fprintf(r->results, "test mse %.6g  mae %.6g\n", rep->test_mse, rep->test_mae);
  else if (opt->quiet && r->results)
    fprintf(r->results, "test accuracy %.2f%%\n", rep->test_accuracy);
  return NNRT_OK;
}

/* Before the first epoch: what the run is, and how its inputs are scaled. */
static void run_header(const Run *r, int first_epoch) {
  char scale[160];
  nnrt_scale_text(scale, sizeof scale, r->data.scale, r->data.scale_given, &r->data.train);
  fprintf(r->out, "training %s on %s: %zu samples, %zu held out, batch %d, %d epochs%s\n"
          "%s\n", r->api->name, r->opt->data, r->ntrain, r->nval, r->batch, r->epochs,
          first_epoch ? " (resumed)" : "", scale);
  fflush(r->out);
}

nnrt_status nnrt_train(const nnrt_model *api, const nnrt_train_options *opt,
                       nnrt_train_report *rep) {
  memset(rep, 0, sizeof *rep);
  rep->test_loss = rep->test_accuracy = rep->test_mse = rep->test_mae = NAN;
  rep->best_val_loss = rep->best_val_accuracy = rep->best_val_mse = rep->best_val_mae = NAN;
  nnrt_status s = check_model(api);
  if (s != NNRT_OK || (s = nnrt_dist_start()) != NNRT_OK)
    return s;
  const nnrt_train_config *cfg = api->config;
  Run r;
  memset(&r, 0, sizeof r);
  r.rank = nnrt_dist_rank(), r.ranks = nnrt_dist_size(), r.lead = r.rank == 0;
  nnrt_train_options follower = *opt;  /* ranks > 0 write nothing, print nothing */
  follower.save = follower.log = follower.plot = NULL;
  follower.out = NULL;
  if (!r.lead)
    opt = &follower;
  r.results = opt->out;
  r.api = api, r.cfg = cfg, r.opt = opt, r.rep = rep;
  r.best = NAN;
  r.log.fd = -1;
  r.batch = opt->batch > 0 ? opt->batch : cfg->batch;
  r.epochs = opt->epochs > 0 ? opt->epochs : cfg->epochs;
  r.lr0 = opt->lr >= 0 ? opt->lr : cfg->lr;
  r.seed = opt->seed >= 0 ? (uint64_t)opt->seed : cfg->seed;
  r.patience = opt->patience >= 0 ? opt->patience : cfg->patience;
  r.naug = opt->no_augment ? 0 : cfg->naugment;
  r.real = api->label_is_float;
  r.out = opt->quiet ? NULL : opt->out;  /* progress; results go to opt->out */
  /* (under mpirun a rank's stdout is a terminal of mpirun's, whatever
   * mpirun's own is: no progress bar there) */
  r.tty = r.out && isatty(fileno(r.out)) && !nnrt_dist_launched();
  if ((s = start_run(&r)) != NNRT_OK) {
    end_run(&r, &s);
    return s;
  }
  if (r.ranks > 1)
    api->set_gradient_hook(r.m, average_gradients, &r);
  int first_epoch = (int)(api->step(r.m) / r.steps_per_epoch);
  if (r.out)
    run_header(&r, first_epoch);
  if (r.out && r.drop_last == 1 && r.ranks == 1)
    fprintf(r.out, "(each epoch leaves out its last sample: a batch of 1, which batchnorm cannot "
                   "train on)\n");
  else if (r.out && r.drop_last)
    fprintf(r.out, "(each epoch leaves out its last %zu sample%s: too few for %d ranks to share%s)"
                   "\n", r.drop_last, r.drop_last == 1 ? "" : "s", r.ranks,
            api->min_train_batch > 1 ? ", two each (batchnorm)" : "");

  double start_time = now();
  if (first_epoch && r.stopping && (s = nnrt_dist_agree(resume_best(&r, first_epoch))) != NNRT_OK)
    goto stop;
  if (first_epoch)
    past_epochs(&r, first_epoch < r.epochs ? first_epoch : r.epochs);
  int last = first_epoch;
  for (int epoch = first_epoch; epoch < r.epochs; epoch++) {
    Epoch e;
    Metrics val;
    if ((s = nnrt_dist_agree(train_epoch(&r, epoch, &e))) != NNRT_OK ||
        (s = nnrt_dist_agree(record_epoch(&r, epoch, &e, &val))) != NNRT_OK)
      goto stop;
    rep->epochs_run = last = epoch + 1;
    rep->final_train_loss = e.loss;
    if (r.stopping && r.since_best >= r.patience) {
      if (r.out)
        fprintf(r.out, "early stopping: no better %s for %d epochs after epoch %d\n",
                watched_name(&r), r.patience,
                rep->best_epoch);
      break;
    }
  }
  if ((s = nnrt_dist_agree(restore_best(&r, last))) != NNRT_OK)
    goto stop;
  if ((s = nnrt_dist_agree(final_test(&r, rep))) == NNRT_OK)
    rep->seconds = now() - start_time;
  if (s == NNRT_OK && r.out && r.ranks > 1 && r.steps_run)
    fprintf(r.out, "data-parallel over %d ranks: the gradients' allreduce took %.3f ms a step, "
                   "%.1f%% of a %.3f ms step\n", r.ranks,
            1e3 * nnrt_dist_reduce_seconds() / (double)r.steps_run,
            100 * nnrt_dist_reduce_seconds() / r.step_seconds,
            1e3 * r.step_seconds / (double)r.steps_run);
stop:
  end_run(&r, &s);
  return s;
}

/* The test split of opt->data, for nnrt_evaluate: loaded, checked, and
 * the scaling said unless quiet. */
static nnrt_status test_data(const nnrt_model *api, const nnrt_train_options *opt, Data *d,
                             const nnrt_tta *tta) {
  nnrt_status s = load_data(api, opt->data, 0, opt->scale, d);
  if (s != NNRT_OK)
    return s;
  if (!d->has_test)
    return nnrt_fail(NNRT_ERR_IO, "no test data in %s: " NO_TEST_FILES, opt->data);
  if (tta && (s = nnrt_check_tta(api, &d->test, opt->data)) != NNRT_OK)
    return s;
  if (opt->out && !opt->quiet) {
    char scale[160];
    nnrt_scale_text(scale, sizeof scale, d->scale, d->scale_given, &d->train);
    fprintf(opt->out, "%s\n", scale);
  }
  return NNRT_OK;
}

nnrt_status nnrt_evaluate(const nnrt_model *api, const nnrt_train_options *opt,
                          nnrt_train_report *rep) {
  memset(rep, 0, sizeof *rep);
  rep->test_loss = rep->test_accuracy = rep->test_mse = rep->test_mae = NAN;
  rep->best_val_loss = rep->best_val_accuracy = rep->best_val_mse = rep->best_val_mae = NAN;
  if (api->elem_size != 4)
    return nnrt_fail(NNRT_ERR_ARG, "model %s uses %d-byte numbers; the trainer runs f32 models",
                     api->name, api->elem_size);
  nnrt_status s = nnrt_dist_start();
  if (s != NNRT_OK)
    return s;
  nnrt_train_options follower = *opt;  /* under mpirun, rank 0 alone prints */
  follower.out = NULL;
  if (nnrt_dist_rank())
    opt = &follower;
  const nnrt_train_config *cfg = api->config;
  const nnrt_tta *tta = opt->tta && cfg && cfg->has_tta ? &cfg->tta : NULL;
  Data data;
  int batch = opt->batch > 0 ? opt->batch : 256;
  void *m = NULL;
  s = test_data(api, opt, &data, tta);
  if (s == NNRT_OK && !(m = api->create(batch, 0)))
    s = nnrt_fail(NNRT_ERR_NOMEM, "model %s: cannot allocate", api->name);
  if ((s = nnrt_dist_agree(s)) == NNRT_OK && opt->load)
    s = load_checkpoint(api, m, opt->load);
  Metrics r = {.status = s};
  if (s == NNRT_OK)
    r = evaluate(api, m, batch, &data.test, NULL, data.test.count, tta);
  if (r.status == NNRT_OK) {
    report_test(rep, &r);
    if (opt->out)
      result_line(opt->out, &r, api->label_is_float, tta ? nnrt_tta_views(tta) : 0,
                  data.test.count);
  }
  if (m)
    api->destroy(m);
  free_data(&data);
  return r.status;
}
