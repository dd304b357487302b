/* overfit.c - train_step can fit one fixed batch: 32 random inputs with
 * random class labels, the same batch every step, the model as written
 * (its optimizer, its dropout).  A correct forward, backward and update
 * drive the loss to about zero; a wrong gradient or update does not.
 * Built with -DMODEL_API=NAME_model against f32 code of a classifier.
 *
 *   - the loss after STEPS steps is below 0.01, and fell on the way;
 *   - every loss along the way is finite;
 *   - inference (running statistics, no dropout) then classifies the batch
 *     as labelled;
 *   - the checkpoint's step count is STEPS.
 *
 * Usage: overfit WORKDIR [STEPS]   (prints "N passed, N failed") */
#include "nnrt.h"
#include "../unit/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

enum { BATCH = 32 };

/* The step count in a checkpoint's header (runtime/ckpt.c: magic, version,
 * element size, fingerprint, then the step, little-endian). */
static long long ckpt_step(const char *path) {
  unsigned char h[32];
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  size_t n = fread(h, 1, sizeof h, f);
  fclose(f);
  if (n != sizeof h)
    return -1;
  unsigned long long step = 0;
  for (int i = 7; i >= 0; i--)
    step = step << 8 | h[24 + i];
  return (long long)step;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s WORKDIR [STEPS]\n", argv[0]);
    return 2;
  }
  const nnrt_model *api = MODEL_API();
  int steps = argc > 2 ? atoi(argv[2]) : 300;
  if (api->elem_size != 4 || api->label_is_float || !api->train_step || api->num_inputs != 1 ||
      api->num_outputs != 1 || api->output_size != api->num_classes) {
    fprintf(stderr, "overfit: needs an f32 classifier (one input, class labels, logits out)\n");
    return 2;
  }
  void *m = api->create(BATCH, 7);
  CHECK(m != NULL, "create");
  if (!m)
    return check_summary(api->name);
  nnrt_rng r;
  nnrt_rng_seed(&r, 99);
  size_t nx = (size_t)BATCH * (size_t)api->input_size;
  float *x = malloc(sizeof(float) * nx);
  float *out = malloc(sizeof(float) * (size_t)BATCH * (size_t)api->output_size);
  int32_t y[BATCH];
  for (size_t i = 0; i < nx; i++)
    x[i] = (float)nnrt_rng_uniform(&r);  /* pixels in [0, 1) */
  for (int i = 0; i < BATCH; i++)
    y[i] = (int32_t)nnrt_rng_below(&r, (uint64_t)api->num_classes);

  double first = 0, loss = 0;
  int finite = 1, below_at = -1;
  for (int k = 0; k < steps; k++) {
    loss = api->train_step(m, BATCH, x, y);
    if (k == 0)
      first = loss;
    finite &= isfinite(loss) != 0;
    if (below_at < 0 && loss < 0.01)
      below_at = k;
  }
  printf("%s: loss %.4f at the first step, %.6f after %d (below 0.01 from step %d)\n",
         api->name, first, loss, steps, below_at);
  CHECK(finite, "every loss is finite");
  CHECK(first > 1.0, "the first loss (%.4f) is that of a guess", first);
  CHECK(loss < 0.01, "the loss after %d steps on one batch is %.6f, not below 0.01", steps, loss);

  /* Inference on the same batch: running statistics and no dropout. */
  api->forward(m, BATCH, x, out, 0);
  int right = 0;
  for (int s = 0; s < BATCH; s++) {
    const float *z = out + (size_t)s * (size_t)api->output_size;
    int best = 0;
    for (int c = 1; c < api->num_classes; c++)
      best = z[c] > z[best] ? c : best;
    right += best == y[s];
  }
  printf("%s: inference classifies %d of %d as labelled\n", api->name, right, BATCH);
  CHECK(right == BATCH, "inference gets %d of %d of the memorised batch", right, BATCH);

  char path[1024];
  snprintf(path, sizeof path, "%s/%s-overfit.ckpt", argv[1], api->name);
  CHECK(api->save(m, path) == 0, "save: %s", nnrt_errmsg());
  CHECK(ckpt_step(path) == steps, "the checkpoint counts %lld steps, not %d", ckpt_step(path),
        steps);
  void *back = api->create(BATCH, 1);
  CHECK(api->load(back, path) == 0, "load: %s", nnrt_errmsg());
  CHECK(!memcmp(api->params(back), api->params(m), sizeof(float) * (size_t)api->num_params),
        "the checkpoint holds the parameters");
  api->destroy(back);
  api->destroy(m);
  free(x);
  free(out);
  return check_summary(api->name);
}
