/* batch_of_one.c - a batchnorm with one value per channel (on f32[features])
 * cannot train on a batch of 1, as PyTorch says ("Expected more than 1
 * value per channel when training"): its variance is 0 and the gradient
 * through it vanishes.  Built with -DMODEL_API=NAME_model against f32 code
 * of a model with a loss.  EXPECT is 2 for a model with such a batchnorm,
 * 1 for one without, and nnrt_model.min_train_batch must say it.  With 2:
 *
 *   - loss_and_grad and train_step at batch 1 return NaN, nnrt_errmsg()
 *     names the batchnorm, and the checkpoint (parameters, running
 *     statistics, optimizer state, step) is byte for byte as before;
 *   - forward with training=1 at batch 1 writes NaN outputs, says why and
 *     changes nothing; with training=0 it infers (finite outputs);
 *   - forward with training=1 at max_batch + 1 runs a chunk of max_batch
 *     (finite) and refuses the last chunk of 1 (NaN);
 *   - batch 2 trains: a finite loss.
 *
 * With 1, batch 1 trains (a finite loss).
 *
 * Usage: batch_of_one WORKDIR EXPECT   (prints "N passed, N failed") */
#include "nnrt.h"
#include "../unit/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

#define MAXB 4

static unsigned char *slurp(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  if (f && fseek(f, 0, SEEK_END) == 0 && (*len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (buf = malloc((size_t)*len)) && fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
    free(buf);
    buf = NULL;
  }
  if (f)
    fclose(f);
  return buf;
}

/* Whether the model's checkpoint now is the one saved at before. */
static int unchanged(const nnrt_model *api, void *m, const char *before, const char *now) {
  long a = 0, b = 0;
  if (api->save(m, now) != 0)
    return 0;
  unsigned char *x = slurp(before, &a), *y = slurp(now, &b);
  int same = x && y && a == b && !memcmp(x, y, (size_t)a);
  free(x);
  free(y);
  return same;
}

static int all_nan(const float *v, long n) {
  for (long i = 0; i < n; i++)
    if (!isnan(v[i]))
      return 0;
  return n > 0;
}

static int all_finite(const float *v, long n) {
  for (long i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}

int main(int argc, char **argv) {
  const nnrt_model *api = MODEL_API();
  if (argc != 3 || api->elem_size != 4 || !api->train_step || api->label_is_float) {
    fprintf(stderr, "usage: batch_of_one WORKDIR 1|2 (f32 code, class labels)\n");
    return 2;
  }
  int expect = atoi(argv[2]);
  char before[4096], now[4096];
  snprintf(before, sizeof before, "%s/before.ckpt", argv[1]);
  snprintf(now, sizeof now, "%s/now.ckpt", argv[1]);
  void *m = api->create(MAXB, 3);
  long in = api->input_size, out = api->output_size;
  float *x = calloc((size_t)((MAXB + 1) * in), sizeof(float));
  float *z = calloc((size_t)((MAXB + 1) * out), sizeof(float));
  int32_t y[MAXB + 1] = {0};
  nnrt_rng rng;
  nnrt_rng_seed(&rng, 5);
  for (long i = 0; i < (MAXB + 1) * in; i++)
    x[i] = (float)nnrt_rng_uniform(&rng);
  for (int i = 0; i <= MAXB; i++)
    y[i] = (int32_t)nnrt_rng_below(&rng, (uint64_t)api->num_classes);
  CHECK(m && x && z, "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(api->min_train_batch == expect, "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(isfinite(api->train_step(m, MAXB, x, y)), "(nnrt_errmsg: %s)", nnrt_errmsg());  /* state off its initial values */
  CHECK(api->save(m, before) == 0, "(nnrt_errmsg: %s)", nnrt_errmsg());
  if (expect == 1) {
    CHECK(isfinite(api->loss_and_grad(m, 1, x, y)), "(nnrt_errmsg: %s)", nnrt_errmsg());
    return check_summary("batch_of_one");
  }
  CHECK(isnan(api->loss_and_grad(m, 1, x, y)), "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(strstr(nnrt_errmsg(), "cannot train on a batch of 1") != NULL, "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(strstr(nnrt_errmsg(), "batchnorm '") != NULL, "(nnrt_errmsg: %s)", nnrt_errmsg());
  printf("  %s\n", nnrt_errmsg());
  CHECK(unchanged(api, m, before, now), "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(isnan(api->train_step(m, 1, x, y)), "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(unchanged(api, m, before, now), "(nnrt_errmsg: %s)", nnrt_errmsg());
  nnrt_fail(NNRT_OK, "%s", "");
  api->forward(m, 1, x, z, 1);
  CHECK(all_nan(z, out), "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(strstr(nnrt_errmsg(), "cannot train on a batch of 1") != NULL, "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(unchanged(api, m, before, now), "(nnrt_errmsg: %s)", nnrt_errmsg());
  api->forward(m, 1, x, z, 0);
  CHECK(all_finite(z, out), "(nnrt_errmsg: %s)", nnrt_errmsg());
  api->forward(m, MAXB + 1, x, z, 1);  /* chunks of MAXB and 1 */
  CHECK(all_finite(z, MAXB * out), "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(all_nan(z + MAXB * out, out), "(nnrt_errmsg: %s)", nnrt_errmsg());
  CHECK(isfinite(api->train_step(m, 2, x, y)), "(nnrt_errmsg: %s)", nnrt_errmsg());
  api->destroy(m);
  free(x);
  free(z);
  return check_summary("batch_of_one");
}
