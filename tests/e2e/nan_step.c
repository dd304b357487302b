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
 * Usage: nan_step WORKDIR   (prints "N passed, N failed") */
#include "nnrt.h"
#include "../unit/check.h"

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
  free(x), free(bad_x), free(y), free(bad_y), free(params);
  return check_summary(api->name);
}
