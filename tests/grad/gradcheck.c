/* gradcheck.c - central finite differences against the generated backward
 * pass, in double precision.  Built with -DMODEL_API=NAME_model against C
 * generated with `nncc --dtype f64` (dropout set to 0 by run.sh, so the loss
 * is a deterministic function of the parameters).
 *
 * For every parameter (or an even sample of about 400 of them, and the last,
 * in large tensors): (L(p + h) - L(p - h)) / 2h against the gradient from
 * loss_and_grad.  Prints the worst relative error per tensor and fails
 * above 1e-6.
 *
 * Usage: gradcheck PARAMS_LIST   (the output of nncc --emit=params) */
#include "nnrt.h"
#include "../unit/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

enum { BATCH = 5, MAX_TENSORS = 256 };

typedef struct Tensor {
  char name[128];
  long offset, size;
} Tensor;

static int read_params(const char *path, Tensor *t) {
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  int n = 0;
  char line[512], shape[256];
  while (n < MAX_TENSORS && fgets(line, sizeof line, f)) {
    if (sscanf(line, "%127s %ld %255s", t[n].name, &t[n].offset, shape) != 3)
      continue;
    t[n].size = 1;
    for (char *p = strtok(shape, "x"); p; p = strtok(NULL, "x"))
      t[n].size *= atol(p);
    n++;
  }
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  const nnrt_model *api = MODEL_API();
  Tensor tensors[MAX_TENSORS];
  int ntensors = argc > 1 ? read_params(argv[1], tensors) : -1;
  if (ntensors < 0 || api->elem_size != 8 || !api->loss_and_grad) {
    fprintf(stderr, "usage: %s PARAMS_LIST (an f64 model with a loss)\n", argv[0]);
    return 2;
  }
  void *m = api->create(BATCH, 11);
  nnrt_rng r;
  nnrt_rng_seed(&r, 5);
  size_t nx = (size_t)api->input_size * BATCH, ny = (size_t)api->label_size * BATCH;
  double *x = malloc(sizeof(double) * nx);
  void *y = malloc((api->label_is_float ? sizeof(double) : sizeof(int32_t)) * (ny ? ny : 1));
  for (size_t i = 0; i < nx; i++)
    x[i] = nnrt_rng_uniform(&r);
  for (size_t i = 0; i < ny; i++) {
    if (api->label_is_float)
      ((double *)y)[i] = nnrt_rng_uniform(&r);
    else
      ((int32_t *)y)[i] = (int32_t)nnrt_rng_below(&r, (uint64_t)api->num_classes);
  }
  double *p = api->params(m), *g = api->grads(m);
  size_t np = (size_t)api->num_params;
  double loss = api->loss_and_grad(m, BATCH, x, y);
  CHECK(isfinite(loss), "loss %g", loss);
  double *analytic = malloc(sizeof(double) * np);
  memcpy(analytic, g, sizeof(double) * np);

  /* Central differences with h = 1e-6 in double precision: truncation
   * error ~h^2, rounding ~1e-14 |L| / h, both below the tolerance.
   * Errors are relative to the tensor's gradient scale (the largest
   * |gradient| in it), so a gradient that is tiny next to its neighbours is
   * not judged by rounding noise.  A coordinate where the loss has a kink
   * within h (a relu or max switching sides: the one-sided slopes differ)
   * is not differentiable there and is skipped, and counted. */
  const double h = 1e-6;
  double worst_all = 0;
  int skipped_all = 0;
  for (int t = 0; t < ntensors; t++) {
    long step = tensors[t].size > 400 ? tensors[t].size / 400 : 1;
    double worst = 0, scale = 0;
    int skipped = 0, checked = 0;
    for (long k = 0; k < tensors[t].size; k++)
      scale = fmax(scale, fabs(analytic[tensors[t].offset + k]));
    for (long k = 0; k < tensors[t].size; k += step) {
      if (k + step >= tensors[t].size)
        k = tensors[t].size - 1;  /* always the last one too */
      size_t i = (size_t)(tensors[t].offset + k);
      double keep = p[i];
      p[i] = keep + h;
      double up = api->loss_and_grad(m, BATCH, x, y);
      p[i] = keep - h;
      double down = api->loss_and_grad(m, BATCH, x, y);
      p[i] = keep;
      double numeric = (up - down) / (2 * h);
      double right = (up - loss) / h, left = (loss - down) / h;
      if (fabs(right - left) > 1e-4 * (scale > 1e-9 ? scale : 1e-3)) {
        skipped++;
        continue;
      }
      checked++;
      /* A tensor whose gradient is 0 by construction (a bias before a
       * batchnorm) is checked in absolute terms. */
      double err = fabs(numeric - analytic[i]) / (scale > 1e-9 ? scale : 1e-3);
      if (err > worst)
        worst = err;
    }
    printf("  %-28s max rel err %.2e  (gradient scale %.2e, %d checked, %d at kinks)\n",
           tensors[t].name, worst, scale, checked, skipped);
    CHECK(worst < 1e-6, "%s: gradient differs from finite differences: %.3g", tensors[t].name,
          worst);
    CHECK(skipped <= checked / 10 + 1, "%s: too many kinks (%d) to trust the check",
          tensors[t].name, skipped);
    if (worst > worst_all)
      worst_all = worst;
    skipped_all += skipped;
  }
  (void)skipped_all;
  printf("  worst %.2e over %d tensors\n", worst_all, ntensors);
  api->destroy(m);
  free(x), free(y), free(analytic);
  return check_summary(api->name);
}
