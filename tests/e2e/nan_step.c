/* nan_step.c - a training step whose loss is not finite changes nothing.
 * Built with -DMODEL_API=NAME_model against f32 code of a model with a loss.
 *
 * After a few ordinary steps (so the optimizer state, the step count and
 * the running statistics are not at their initial values), each bad batch
 * goes to train_step:
 *
 *   - an input holding a NaN (in one value of one sample);
 *   - class labels: a label equal to the number of classes, and a negative
 *     one (the loss turns a label outside [0, classes) into NaN);
 *     float labels: a NaN target;
 *
 * and for each: train_step returns a non-finite loss, and the model is
 * exactly as before: parameters (NAME_params, memcmp), and a checkpoint
 * saved after it is byte for byte the one saved before (parameters, running
 * statistics, optimizer state, step count).  Then an ordinary step still
 * trains: a finite loss, and the parameters move.
 *
 * Then, on two models that take the same steps (a twin):
 *
 *   - set_learning_rate refuses a NaN, an infinite, a negative rate and one
 *     beyond float's range (NNRT_ERR_ARG, nnrt_errmsg() says why), and the
 *     rate stays: the next step is bit for bit the twin's, which was never
 *     asked;
 *   - with the largest float rate and an optimizer state of 1e38, a step
 *     whose loss is finite (the twin's loss_and_grad on the same state says
 *     so) has an update that would overflow: train_step returns +infinity
 *     and the checkpoint is byte for byte the one before.
 *
 * Usage: nan_step WORKDIR   (prints "N passed, N failed") */
#include "nnrt.h"
#include "../unit/check.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

enum { BATCH = 16 };

static const nnrt_model *api;

/* The whole file, or NULL. */
static unsigned char *slurp(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  unsigned char *data = NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (*size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
    data = malloc((size_t)*size);
    if (data && fread(data, 1, (size_t)*size, f) != (size_t)*size) {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  return data;
}

static int same_files(const char *a, const char *b) {
  long na = -1, nb = -2;
  unsigned char *da = slurp(a, &na), *db = slurp(b, &nb);
  int same = da && db && na == nb && !memcmp(da, db, (size_t)na);
  free(da);
  free(db);
  return same;
}

static void random_batch(nnrt_rng *r, float *x, void *y) {
  for (size_t i = 0; i < (size_t)BATCH * (size_t)api->input_size; i++)
    x[i] = (float)nnrt_rng_uniform(r);
  for (size_t i = 0; i < (size_t)BATCH * (size_t)api->label_size; i++) {
    if (api->label_is_float)
      ((float *)y)[i] = (float)nnrt_rng_uniform(r);
    else
      ((int32_t *)y)[i] = (int32_t)nnrt_rng_below(r, (uint64_t)api->num_classes);
  }
}

static int all_finite(const float *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}

static uint32_t get_le(const unsigned char *p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* Sets every optimizer state value in the checkpoint at path (f32, its
 * last section: docs/generated-c.md) to v, with a new CRC.  The number of
 * values set, or -1. */
static long spoil_state(const char *path, float v) {
  long size = 0;
  unsigned char *d = slurp(path, &size);
  long n = -1;
  if (d && size > 48) {
    uint32_t nsections = get_le(d + 32, 4);
    uint32_t bytes = get_le(d + 40 + 8 * (nsections - 1), 4);  /* small: the low half */
    unsigned char *state = d + size - 4 - bytes;
    n = (long)(bytes / sizeof v);
    for (long i = 0; i < n; i++)
      memcpy(state + (size_t)i * sizeof v, &v, sizeof v);
    uint32_t crc = nnrt_crc32(0, d, (size_t)size - 4);
    for (int i = 0; i < 4; i++)
      d[size - 4 + i] = (unsigned char)(crc >> (8 * i));
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, (size_t)size, f) != (size_t)size)
      n = -1;
    if (f && fclose(f) != 0)
      n = -1;
  }
  free(d);
  return n;
}

/* Two models that took the same two steps on the batch x, y. */
static void twins(const float *x, const void *y, void **m, void **twin) {
  *m = api->create(BATCH, 5);
  *twin = api->create(BATCH, 5);
  for (int k = 0; k < 2; k++) {
    api->train_step(*m, BATCH, x, y);
    api->train_step(*twin, BATCH, x, y);
  }
}

/* Refused learning rates keep the rate.  x and y: an ordinary batch. */
static void refused_rates(const float *x, const void *y) {
  size_t np = (size_t)api->num_params;
  void *m, *twin;
  twins(x, y, &m, &twin);
  const double bad_rates[] = {NAN, INFINITY, -INFINITY, -1, -1e-30, 1e300};
  for (size_t k = 0; k < sizeof bad_rates / sizeof bad_rates[0]; k++) {
    int rc = api->set_learning_rate(m, bad_rates[k]);
    CHECK(rc == NNRT_ERR_ARG, "set_learning_rate(%g) returns NNRT_ERR_ARG, not %d",
          bad_rates[k], rc);
    CHECK(strstr(nnrt_errmsg(), "learning rate"), "set_learning_rate(%g): message '%s'",
          bad_rates[k], nnrt_errmsg());
  }
  double loss = api->train_step(m, BATCH, x, y), twin_loss = api->train_step(twin, BATCH, x, y);
  CHECK(isfinite(loss) && loss == twin_loss, "the step after the refused rates: loss %g, the "
        "twin's %g", loss, twin_loss);
  CHECK(all_finite(api->params(m), np) &&
            !memcmp(api->params(m), api->params(twin), sizeof(float) * np),
        "after the refused rates, the step is the twin's: the rate stayed");
  printf("%s: learning rates NaN, inf, -inf, -1, -1e-30, 1e300 refused; the rate stayed\n",
         api->name);
  api->destroy(m);
  api->destroy(twin);
}

/* An update that would overflow changes nothing. */
static void overflowing_update(const char *before, const char *after, const float *x,
                               const void *y) {
  void *m, *twin;
  twins(x, y, &m, &twin);
  /* The update overflows: the largest float rate and an optimizer state of
   * 1e38 (written into the checkpoint; the forward pass does not read it, so
   * the loss stays finite). */
  CHECK(api->save(m, before) == 0, "save: %s", nnrt_errmsg());
  long nstate = spoil_state(before, 1e38f);
  CHECK(nstate > 0, "the checkpoint has optimizer state to spoil");
  CHECK(api->load(m, before) == 0 && api->load(twin, before) == 0, "load: %s", nnrt_errmsg());
  CHECK(api->set_learning_rate(m, FLT_MAX) == 0, "set_learning_rate(FLT_MAX): %s",
        nnrt_errmsg());
  double twin_loss = api->loss_and_grad(twin, BATCH, x, y);  /* the loss m's step sees */
  double loss = api->train_step(m, BATCH, x, y);
  CHECK(isfinite(twin_loss), "the loss of the step whose update overflows: %g", twin_loss);
  CHECK(loss == INFINITY, "an update that would overflow: train_step returns %g, not +inf",
        loss);
  CHECK(api->save(m, after) == 0, "save: %s", nnrt_errmsg());
  CHECK(same_files(before, after), "an update that would overflow changed the model");
  printf("%s: lr FLT_MAX, optimizer state 1e38: loss %g, the update would overflow: "
         "train_step returns %g, model unchanged\n", api->name, twin_loss, loss);
  api->destroy(m);
  api->destroy(twin);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
    return 2;
  }
  api = MODEL_API();
  if (api->elem_size != 4 || !api->train_step) {
    fprintf(stderr, "nan_step: needs an f32 model with a loss\n");
    return 2;
  }
  char before[1024], after[1024];
  snprintf(before, sizeof before, "%s/%s-before.ckpt", argv[1], api->name);
  snprintf(after, sizeof after, "%s/%s-after.ckpt", argv[1], api->name);
  size_t nx = (size_t)BATCH * (size_t)api->input_size;
  size_t ny = (size_t)BATCH * (size_t)api->label_size;
  size_t np = (size_t)api->num_params;
  float *x = malloc(sizeof(float) * nx), *bad_x = malloc(sizeof(float) * nx);
  void *y = malloc(4 * ny), *bad_y = malloc(4 * ny);
  float *params = malloc(sizeof(float) * (np ? np : 1));

  void *m = api->create(BATCH, 3);
  nnrt_rng r;
  nnrt_rng_seed(&r, 17);
  for (int k = 0; k < 3; k++) {  /* optimizer state, step count, running stats move */
    random_batch(&r, x, y);
    double loss = api->train_step(m, BATCH, x, y);
    CHECK(isfinite(loss), "ordinary step %d: loss %g", k, loss);
  }
  random_batch(&r, x, y);

  enum { INPUT, CLASS_LABEL, FLOAT_LABEL };
  struct {
    const char *what;
    int spoil;        /* what the case spoils */
    int32_t label;    /* the bad class label */
  } cases[] = {
      {"a NaN input", INPUT, 0},
      {"a label equal to the number of classes", CLASS_LABEL, (int32_t)api->num_classes},
      {"a negative label", CLASS_LABEL, -1},
      {"a NaN target", FLOAT_LABEL, 0},
  };
  int ncases = 0;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    if (cases[c].spoil == (api->label_is_float ? CLASS_LABEL : FLOAT_LABEL))
      continue;  /* only what the model's labels can hold */
    ncases++;
    memcpy(bad_x, x, sizeof(float) * nx);
    memcpy(bad_y, y, 4 * ny);
    size_t sample = BATCH / 2;  /* one value of one sample */
    if (cases[c].spoil == INPUT)
      bad_x[sample * (size_t)api->input_size + (size_t)api->input_size / 3] = NAN;
    else if (cases[c].spoil == CLASS_LABEL)
      ((int32_t *)bad_y)[sample * (size_t)api->label_size] = cases[c].label;
    else
      ((float *)bad_y)[sample * (size_t)api->label_size] = NAN;

    CHECK(api->save(m, before) == 0, "save: %s", nnrt_errmsg());
    memcpy(params, api->params(m), sizeof(float) * np);
    double loss = api->train_step(m, BATCH, bad_x, bad_y);
    CHECK(!isfinite(loss), "%s: train_step returns a non-finite loss, not %g", cases[c].what,
          loss);
    CHECK(!memcmp(params, api->params(m), sizeof(float) * np),
          "%s: the parameters are as before", cases[c].what);
    CHECK(api->save(m, after) == 0, "save: %s", nnrt_errmsg());
    CHECK(same_files(before, after),
          "%s: the checkpoint after the step is not byte for byte the one before "
          "(parameters, running statistics, optimizer state, step count)", cases[c].what);
    printf("%s: %s: loss %g, model unchanged\n", api->name, cases[c].what, loss);
  }
  CHECK(ncases == (api->label_is_float ? 2 : 3), "%d bad batches tried", ncases);

  /* And it still trains. */
  memcpy(params, api->params(m), sizeof(float) * np);
  double loss = api->train_step(m, BATCH, x, y);
  CHECK(isfinite(loss), "an ordinary step after the bad ones: loss %g", loss);
  CHECK(memcmp(params, api->params(m), sizeof(float) * np) != 0,
        "an ordinary step after the bad ones moves the parameters");
  api->save(m, after);
  CHECK(!same_files(before, after), "an ordinary step changes the checkpoint");

  api->destroy(m);
  refused_rates(x, y);
  overflowing_update(before, after, x, y);
  free(x), free(bad_x), free(y), free(bad_y), free(params);
  return check_summary(api->name);
}
