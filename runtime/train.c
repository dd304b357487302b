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
  float *scratch = malloc(sizeof(float) * in);
  double loss = 0;
  size_t correct = 0;
  if (!x || !y || !prob || !scratch) {
    free(x), free(y), free(prob), free(scratch);
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
        const float *src = d->x + s * in;
        if (tta)
          nnrt_tta_view(tta, v, src, x + (size_t)i * in, scratch, d->channels, d->height,
                        d->width);
        else
          memcpy(x + (size_t)i * in, src, sizeof(float) * in);
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
  free(x), free(y), free(prob), free(scratch);
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
    fprintf(out, "  acc %.2f%%", acc);
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

typedef struct History {
  int n;
  double *train_loss, *val_loss, *train_acc, *val_acc;
} History;

nnrt_status nnrt_train(const nnrt_model *api, const nnrt_train_options *opt,
                       nnrt_train_report *rep) {
  nnrt_status s = check_model(api);
  if (s != NNRT_OK)
    return s;
  const nnrt_train_config *cfg = api->config;
  int batch = opt->batch > 0 ? opt->batch : cfg->batch;
  int epochs = opt->epochs > 0 ? opt->epochs : cfg->epochs;
  double lr0 = opt->lr >= 0 ? opt->lr : cfg->lr;
  double validation = opt->validation >= 0 ? opt->validation : cfg->validation;
  uint64_t seed = opt->seed >= 0 ? (uint64_t)opt->seed : cfg->seed;
  int patience = opt->patience >= 0 ? opt->patience : cfg->patience;
  int naug = opt->no_augment ? 0 : cfg->naugment;
  FILE *out = opt->quiet ? NULL : opt->out;  /* progress; results go to opt->out */
  int tty = out && isatty(fileno(out));
  memset(rep, 0, sizeof *rep);
  rep->test_loss = rep->test_accuracy = NAN;
  rep->best_val_loss = rep->best_val_accuracy = NAN;

  Data data;
  if ((s = load_data(api, opt->data, 1, &data)) != NNRT_OK) {
    free_data(&data);  /* the training data, if the test data failed */
    return s;
  }
  if (opt->limit > 0 && (size_t)opt->limit < data.train.count)
    data.train.count = (size_t)opt->limit;
  if (naug && (data.train.height < 2 || data.train.width < 2)) {
    free_data(&data);
    return nnrt_fail(NNRT_ERR_ARG, "%s: augmentation needs images, but the samples have no "
                     "image shape (use --no-augment)", data.train_name);
  }

  /* The validation split: a seeded shuffle, the last part held out. */
  nnrt_rng rng;
  nnrt_rng_seed(&rng, seed ^ 0x5eedULL);
  size_t total = data.train.count;
  size_t *order = malloc(sizeof(size_t) * (total ? total : 1));
  if (!order) {
    free_data(&data);
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory for %zu samples", data.train_name,
                     total);
  }
  for (size_t i = 0; i < total; i++)
    order[i] = i;
  size_t nval = validation > 0 ? (size_t)(validation * (double)total) : 0;
  if (nval)
    shuffle(order, total, &rng);
  size_t ntrain = total - nval;
  size_t *val_idx = order + ntrain;
  if (ntrain == 0) {
    free(order);
    free_data(&data);
    return nnrt_fail(NNRT_ERR_ARG, "%s: no training samples left after holding out %.0f%% "
                     "for validation", data.train_name, 100 * validation);
  }

  void *m = api->create(batch, seed);
  if (!m) {
    free(order);
    free_data(&data);
    return nnrt_fail(NNRT_ERR_NOMEM, "model %s: cannot allocate for batch %d", api->name, batch);
  }
  if (opt->load && api->load(m, opt->load) != 0) {
    api->destroy(m);
    free(order);
    free_data(&data);
    return NNRT_ERR_IO;  /* the model's load left the message */
  }
  uint64_t steps_per_epoch = (ntrain + (size_t)batch - 1) / (size_t)batch;
  uint64_t total_steps = steps_per_epoch * (uint64_t)epochs;
  int first_epoch = (int)(api->step(m) / steps_per_epoch);

  char best_path[1100] = "";
  if (opt->save)
    snprintf(best_path, sizeof best_path, "%s.best", opt->save);
  else if (patience > 0 && nval)
    snprintf(best_path, sizeof best_path, "%s/nnrt-%s-%ld.best.ckpt",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", api->name, (long)getpid());
  /* Every file the run writes is checked before it starts, not after an
   * epoch: the checkpoints and the curves can be replaced, the log opened. */
  nnrt_file log = {.fd = -1}, probe;
  const char *replaced[3] = {opt->save, nval && best_path[0] ? best_path : NULL, opt->plot};
  for (int i = 0; i < 3; i++)
    if (replaced[i] && nnrt_file_probe(&probe, replaced[i]) != 0) {
      s = nnrt_file_failed(&probe);
      goto done;
    }
  if (opt->log && nnrt_file_append(&log, opt->log, !first_epoch) != 0) {
    s = nnrt_file_failed(&log);
    goto done;
  }
  if (opt->log && !first_epoch &&
      (s = log_line(&log, "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,"
                          "test_accuracy,seconds,samples_per_second\n")) != NNRT_OK)
    goto done;
  if (out)
    fprintf(out, "training %s on %s: %zu samples, %zu held out, batch %d, %d epochs%s\n",
            api->name, opt->data, ntrain, nval, batch, epochs, first_epoch ? " (resumed)" : "");

  size_t in = data.train.sample_size;
  float *x = malloc(sizeof(float) * in * (size_t)batch);
  float *scratch = malloc(sizeof(float) * in);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
  History h = {0};
  h.train_loss = calloc((size_t)epochs, sizeof(double));
  h.val_loss = calloc((size_t)epochs, sizeof(double));
  h.train_acc = calloc((size_t)epochs, sizeof(double));
  h.val_acc = calloc((size_t)epochs, sizeof(double));
  double best = NAN;
  int since_best = 0, nonfinite = 0;
  double start_time = now();
  if (!x || !scratch || !y || !h.train_loss || !h.val_loss || !h.train_acc || !h.val_acc) {
    s = nnrt_fail(NNRT_ERR_NOMEM, "model %s: out of memory for batch %d", api->name, batch);
    goto stop;
  }

  for (int epoch = first_epoch; epoch < epochs; epoch++) {
    double t0 = now();
    nnrt_rng er;  /* this epoch's order and augmentation: seed and epoch */
    nnrt_rng_seed(&er, seed * 0x9e3779b97f4a7c15ULL + (uint64_t)epoch + 1);
    shuffle(order, ntrain, &er);
    double loss_sum = 0, lr = lr0;
    size_t seen = 0, correct = 0, counted = 0;
    for (size_t start = 0; start < ntrain; start += (size_t)batch) {
      int b = ntrain - start < (size_t)batch ? (int)(ntrain - start) : batch;
      for (int i = 0; i < b; i++) {
        size_t sidx = order[start + (size_t)i];
        const float *src = data.train.x + sidx * in;
        float *dst = x + (size_t)i * in;
        if (naug)
          nnrt_augment_image(cfg->augment, naug, &er, src, dst, scratch, data.train.channels,
                             data.train.height, data.train.width);
        else
          memcpy(dst, src, sizeof(float) * in);
        y[i] = data.train.y[sidx];
      }
      lr = learning_rate(cfg, lr0, api->step(m), steps_per_epoch, total_steps);
      if (api->set_learning_rate(m, lr) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", nnrt_errmsg());
        s = nnrt_fail(NNRT_ERR_ARG, "epoch %d: the schedule's rate: %s", epoch + 1, why);
        goto stop;
      }
      double loss = api->train_step(m, b, x, y);
      if (!isfinite(loss)) {  /* the step changed nothing */
        if (++nonfinite >= 20) {
          s = check_diverged(api, m, epoch, nonfinite, lr0);
          goto stop;
        }
        continue;
      }
      nonfinite = 0;
      loss_sum += loss * b;
      seen += (size_t)b;
      const float *z = api->train_output ? api->train_output(m) : NULL;
      if (z && api->output_size == api->num_classes) {
        for (int i = 0; i < b; i++) {
          int best_c = 0;
          for (long c = 1; c < api->num_classes; c++)
            if (z[(size_t)i * (size_t)api->output_size + (size_t)c] >
                z[(size_t)i * (size_t)api->output_size + (size_t)best_c])
              best_c = (int)c;
          correct += best_c == y[i];
        }
        counted += (size_t)b;
      }
      if (tty && (start / (size_t)batch) % 16 == 0)
        progress(out, tty, epoch + 1, epochs, (double)(start + (size_t)b) / (double)ntrain,
                 loss_sum / (double)(seen ? seen : 1),
                 counted ? 100.0 * (double)correct / (double)counted : NAN,
                 (double)seen / (now() - t0));
    }
    if ((s = check_diverged(api, m, epoch, nonfinite, lr0)) != NNRT_OK)
      goto stop;
    double train_loss = seen ? loss_sum / (double)seen : NAN;
    double train_acc = counted ? 100.0 * (double)correct / (double)counted : NAN;
    double secs = now() - t0;
    Metrics val = evaluate(api, m, batch, &data.train, val_idx, nval, NULL);
    Metrics test = data.has_test ? evaluate(api, m, batch, &data.test, NULL, data.test.count,
                                            NULL)
                                 : (Metrics){NAN, NAN, NNRT_OK};
    if ((s = val.status) != NNRT_OK || (s = test.status) != NNRT_OK)
      goto stop;
    h.train_loss[epoch] = train_loss;
    h.train_acc[epoch] = train_acc / 100;  /* the plot takes fractions */
    h.val_loss[epoch] = val.loss;
    h.val_acc[epoch] = val.accuracy / 100;
    h.n = epoch + 1;
    rep->epochs_run = epoch + 1;
    rep->final_train_loss = train_loss;
    if (out) {
      char a[64], b[64], c[64], d[64];
      fmt_metric(a, sizeof a, "acc", train_acc, 1);
      fmt_metric(b, sizeof b, "val_loss", val.loss, 0);
      fmt_metric(c, sizeof c, "val_acc", val.accuracy, 1);
      fmt_metric(d, sizeof d, "test_acc", test.accuracy, 1);
      fprintf(out, "%sepoch %d/%d  loss %.4f%s%s%s%s  lr %.4g  %.1fs  %.0f samples/s\n",
              tty ? "\r\033[K" : "", epoch + 1, epochs, train_loss, a, b, c, d, lr, secs,
              (double)seen / secs);
      fflush(out);
    }
    if (opt->log &&
        (s = log_line(&log, "%d,%.6g,%.6f,%.4f,%.6f,%.4f,%.6f,%.4f,%.3f,%.1f\n", epoch + 1, lr,
                      train_loss, train_acc, val.loss, val.accuracy, test.loss, test.accuracy,
                      secs, (double)seen / secs)) != NNRT_OK)
      goto stop;
    if (opt->save && api->save(m, opt->save) != 0) {
      s = NNRT_ERR_IO;
      goto stop;
    }
    if (opt->plot && (s = nnrt_plot_curves(opt->plot, api->name, h.n, h.train_loss, h.val_loss,
                                           h.train_acc, h.val_acc)) != NNRT_OK)
      goto stop;
    /* the best epoch, by the metric early stopping watches */
    if (nval) {
      double metric = cfg->monitor_accuracy ? -val.accuracy : val.loss;
      if (isnan(best) || metric < best) {
        best = metric;
        since_best = 0;
        rep->best_epoch = epoch + 1;
        rep->best_val_loss = val.loss;
        rep->best_val_accuracy = val.accuracy;
        if (best_path[0] && api->save(m, best_path) != 0) {
          s = NNRT_ERR_IO;
          goto stop;
        }
      } else if (patience > 0 && ++since_best >= patience) {
        if (out)
          fprintf(out, "early stopping: no better %s for %d epochs; restoring epoch %d\n",
                  cfg->monitor_accuracy ? "validation accuracy" : "validation loss", patience,
                  rep->best_epoch);
        break;
      }
    }
  }
  /* Early stopping keeps the best weights. */
  if (patience > 0 && nval && best_path[0] && rep->best_epoch && api->load(m, best_path) != 0) {
    s = NNRT_ERR_IO;
    goto stop;
  }
  if (data.has_test) {
    nnrt_tta tta = cfg->tta;
    int use_tta = opt->tta && cfg->has_tta;
    Metrics test = evaluate(api, m, batch, &data.test, NULL, data.test.count, NULL);
    if ((s = test.status) != NNRT_OK)
      goto stop;
    rep->test_loss = test.loss;
    rep->test_accuracy = test.accuracy;
    if (out)
      fprintf(out, "test accuracy %.2f%% (loss %.4f, %zu samples)\n", test.accuracy, test.loss,
              data.test.count);
    if (use_tta) {
      Metrics t = evaluate(api, m, batch, &data.test, NULL, data.test.count, &tta);
      if ((s = t.status) != NNRT_OK)
        goto stop;
      if (out)
        fprintf(out, "test accuracy with TTA %.2f%% (loss %.4f, %d views)\n", t.accuracy,
                t.loss, nnrt_tta_views(&tta));
      rep->test_loss = t.loss;
      rep->test_accuracy = t.accuracy;
    } else if (opt->tta && out) {
      fprintf(out, "(no test block with tta in %s: evaluated without TTA)\n", api->source);
    }
    if (opt->quiet && opt->out)
      fprintf(opt->out, "test accuracy %.2f%%\n", rep->test_accuracy);
  } else if (opt->out) {
    fprintf(opt->out, "no test data in %s: " NO_TEST_FILES "; trained without a test "
            "evaluation\n", opt->data);
  }
  rep->seconds = now() - start_time;
stop:
  free(x), free(scratch), free(y);
  free(h.train_loss), free(h.val_loss), free(h.train_acc), free(h.val_acc);
  if (!opt->save && best_path[0])
    remove(best_path);
done:
  if (log.fd >= 0 && nnrt_file_close(&log, 0) != 0 && s == NNRT_OK)
    s = nnrt_file_failed(&log);
  api->destroy(m);
  free(order);
  free_data(&data);
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
