/* model_check.c - runs one generated model through its whole public API,
 * built with -DMODEL_API=NAME_model (and usually under ASan/UBSan):
 *
 *   - create, forward in inference and training mode at batch 1, 7 and
 *     max_batch, and above max_batch (chunked);
 *   - save, then load into a model created from another seed: parameters
 *     and outputs are bit-exact;
 *   - truncated, corrupted and foreign checkpoints are refused with a
 *     message naming the file, and the model keeps its parameters.
 *
 * Usage: model_check WORKDIR [OTHER_MODEL.ckpt]  (prints "N passed, N failed") */
#define _POSIX_C_SOURCE 200809L
#include "nnrt.h"
#include "../unit/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

static void random_inputs(nnrt_rng *r, float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)nnrt_rng_uniform(r);  /* pixels in [0, 1] */
}

static int all_finite(const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return 0;
  return 1;
}

static void copy_file(const char *from, const char *to, long keep, long flip) {
  FILE *f = fopen(from, "rb");
  FILE *g = fopen(to, "wb");
  long i = 0;
  int c;
  while ((c = fgetc(f)) != EOF && (keep < 0 || i < keep)) {
    fputc(i == flip ? c ^ 0x10 : c, g);
    i++;
  }
  fclose(f);
  fclose(g);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s WORKDIR [FOREIGN.ckpt]\n", argv[0]);
    return 2;
  }
  const nnrt_model *api = MODEL_API();
  const char *dir = argv[1];
  char path[1024], bad[1024];
  snprintf(path, sizeof path, "%s/%s.ckpt", dir, api->name);
  snprintf(bad, sizeof bad, "%s/%s-bad.ckpt", dir, api->name);
  CHECK(api->elem_size == 4, "f32 model");
  const int max_batch = 16;
  CHECK(api->create(0, 1) == NULL, "create(0) refuses");
  void *m = api->create(max_batch, 1);
  CHECK(m != NULL, "create");
  size_t in = (size_t)api->input_size, out = (size_t)api->output_size;
  size_t big = 40;  /* above max_batch: chunked */
  float *x = malloc(sizeof(float) * in * big);
  float *y = malloc(sizeof(float) * out * big);
  float *y2 = malloc(sizeof(float) * out * big);
  nnrt_rng r;
  nnrt_rng_seed(&r, 99);
  random_inputs(&r, x, in * big);

  const int batches[] = {1, 7, max_batch, (int)big};
  for (int t = 0; t < 2; t++)
    for (int b = 0; b < 4; b++) {
      memset(y, 0xff, sizeof(float) * out * big);
      api->forward(m, batches[b], x, y, t);
      if (t && batches[b] < api->min_train_batch)  /* refused: NaN (tests/e2e/batch_of_one.c) */
        CHECK(isnan(y[0]) && isnan(y[out - 1]), "forward training=1 batch 1: refused");
      else
        CHECK(all_finite(y, out * (size_t)batches[b]), "forward training=%d batch %d: finite",
              t, batches[b]);
    }
  /* Inference is per sample: a sample's output does not depend on its batch
   * (up to rounding: BLAS may block a GEMM differently for another batch).
   * (With one input and one output, sample 20 sits at 20 x its size.) */
  if (api->num_inputs == 1 && api->num_outputs == 1) {
    api->forward(m, (int)big, x, y, 0);
    api->forward(m, 1, x + in * 20, y2, 0);
    double worst = 0;
    for (size_t i = 0; i < out; i++) {
      double d = fabs((double)y[out * 20 + i] - y2[i]) / (1 + fabs((double)y2[i]));
      worst = d > worst ? d : worst;
    }
    CHECK(worst < 1e-5, "batch-independent inference: %g", worst);
  }

  /* save -> load round trip */
  api->forward(m, 7, x, y, 0);
  CHECK(api->save(m, path) == 0, "save: %s", nnrt_errmsg());
  void *m2 = api->create(max_batch, 2);
  float *p1 = api->params(m), *p2 = api->params(m2);
  size_t np = (size_t)api->num_params;
  CHECK(np == 0 || memcmp(p1, p2, np * sizeof(float)) != 0, "another seed, other params");
  CHECK(api->load(m2, path) == 0, "load: %s", nnrt_errmsg());
  CHECK(memcmp(p1, p2, np * sizeof(float)) == 0, "params bit-exact after load");
  api->forward(m2, 7, x, y2, 0);
  CHECK(memcmp(y, y2, sizeof(float) * out * 7) == 0, "outputs bit-exact after load");

  /* refused files leave the model as it was */
  void *m3 = api->create(max_batch, 3);
  float *p3 = api->params(m3);
  float *before = malloc(sizeof(float) * (np ? np : 1));
  memcpy(before, p3, np * sizeof(float));
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  struct {
    const char *what;
    long keep, flip;
  } cases[] = {{"truncated", size / 2, -1}, {"corrupted", -1, size / 2}, {"empty", 0, -1}};
  for (int i = 0; i < 3; i++) {
    copy_file(path, bad, cases[i].keep, cases[i].flip);
    int rc = api->load(m3, bad);
    CHECK(rc != 0, "%s checkpoint refused", cases[i].what);
    CHECK(strstr(nnrt_errmsg(), bad) != NULL, "%s: message names the file: %s", cases[i].what,
          nnrt_errmsg());
    CHECK(memcmp(before, p3, np * sizeof(float)) == 0, "%s: parameters untouched",
          cases[i].what);
  }
  if (argc > 2) {
    int rc = api->load(m3, argv[2]);
    CHECK(rc == NNRT_ERR_MISMATCH, "another model's checkpoint refused: %s", nnrt_errmsg());
    CHECK(memcmp(before, p3, np * sizeof(float)) == 0, "foreign: parameters untouched");
  }
  remove(bad);
  api->destroy(m);
  api->destroy(m2);
  api->destroy(m3);
  free(x), free(y), free(y2), free(before);
  return check_summary(api->name);
}
