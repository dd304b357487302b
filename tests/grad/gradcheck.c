/* gradcheck.c - central finite differences against the generated backward
 * pass, in double precision.  Built with -DMODEL_API=NAME_model against C
 * generated with `nncc --dtype f64`.
 *
 * For every parameter (or, in tensors larger than 101, 100 spread evenly
 * from the first, and the last): (L(p + h) - L(p - h)) / 2h against the
 * gradient from loss_and_grad.  Prints the worst relative error per tensor
 * and fails above 1e-6.
 *
 * The loss must be a deterministic function of the parameters.  Either the
 * model has no dropout (run.sh sets p to 0 in the large models), or
 * --fixed-rng: every evaluation runs on a fresh model created with the same
 * seed and given the parameters, so dropout draws the same masks each time
 * (the first loss_and_grad after create) and the check covers dropout's
 * backward with p > 0 too.
 *
 * --shard S/N checks only the tensors t with t % N == S, so a large model's
 * check can run as N processes.
 *
 * Usage: gradcheck PARAMS_LIST [--fixed-rng] [--shard S/N]
 *   (PARAMS_LIST: the output of nncc --emit=params) */
#include "nnrt.h"
#include "../unit/model_test.h"
#include "../unit/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

enum { BATCH = 5, SAMPLES = 100, SEED = 11 };


static const nnrt_model *api;
static int fixed_rng;

/* The loss at the parameters p (the model m's own, or copied into a fresh
 * model with --fixed-rng); with grads, its gradient too. */
static double eval_loss(void *m, const double *p, const void *x, const void *y, double *grads) {
  void *fresh = NULL;
  if (fixed_rng) {
    fresh = api->create(BATCH, SEED);
    if (!fresh) {
      fprintf(stderr, "create failed\n");
      exit(1);
    }
    memcpy(api->params(fresh), p, sizeof(double) * (size_t)api->num_params);
    m = fresh;
  }
  double loss = api->loss_and_grad(m, BATCH, x, y);
  if (grads)
    memcpy(grads, api->grads(m), sizeof(double) * (size_t)api->num_params);
  if (fresh)
    api->destroy(fresh);
  return loss;
}

int main(int argc, char **argv) {
  api = MODEL_API();
  Tensor tensors[MAX_TENSORS];
  int ntensors = argc > 1 ? read_params(argv[1], tensors) : -1;
  int shard = 0, nshards = 1, bad = 0;
  for (int a = 2; a < argc; a++) {
    if (!strcmp(argv[a], "--fixed-rng"))
      fixed_rng = 1;
    else if (!strcmp(argv[a], "--shard") && a + 1 < argc)
      bad |= sscanf(argv[++a], "%d/%d", &shard, &nshards) != 2 || nshards < 1 || shard < 0 ||
             shard >= nshards;
    else
      bad = 1;
  }
  if (ntensors < 0 || bad || api->elem_size != 8 || !api->loss_and_grad) {
    fprintf(stderr, "usage: %s PARAMS_LIST [--fixed-rng] [--shard S/N] (an f64 model with a "
                    "loss)\n", argv[0]);
    return 2;
  }
  void *m = api->create(BATCH, SEED);
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
  double *p = api->params(m);
  size_t np = (size_t)api->num_params;
  double *analytic = malloc(sizeof(double) * (np ? np : 1));
  double loss = eval_loss(m, p, x, y, analytic);
  CHECK(isfinite(loss), "loss %g", loss);

  /* Central differences with h = 1e-6 in double precision: truncation
   * error ~h^2, rounding ~1e-14 |L| / h, both below the tolerance.
   * Errors are relative to the tensor's gradient scale (the largest
   * |gradient| in it), so a gradient that is tiny next to its neighbours is
   * not judged by rounding noise.  A coordinate where the loss has a kink
   * within h (a relu or max switching sides: the one-sided slopes differ)
   * is not differentiable there and is skipped, and counted. */
  const double h = 1e-6;
  double worst_all = 0;
  int skipped_all = 0, nchecked = 0;
  for (int t = shard; t < ntensors; t += nshards) {
    long size = tensors[t].size;
    long samples = size > SAMPLES + 1 ? SAMPLES + 1 : size;
    double worst = 0, scale = 0;
    int skipped = 0, checked = 0;
    nchecked++;
    for (long k = 0; k < size; k++)
      scale = fmax(scale, fabs(analytic[tensors[t].offset + k]));
    for (long j = 0; j < samples; j++) {
      /* all of a small tensor; else j * size / SAMPLES, and the last one */
      long k = samples == size ? j : j == SAMPLES ? size - 1 : (long)((double)j * size / SAMPLES);
      size_t i = (size_t)(tensors[t].offset + k);
      double keep = p[i];
      p[i] = keep + h;
      double up = eval_loss(m, p, x, y, NULL);
      p[i] = keep - h;
      double down = eval_loss(m, p, x, y, NULL);
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
  if (nshards > 1)
    printf("  worst %.2e over %d of %d tensors (shard %d/%d)\n", worst_all, nchecked, ntensors,
           shard, nshards);
  else
    printf("  worst %.2e over %d tensors\n", worst_all, ntensors);
  api->destroy(m);
  free(x), free(y), free(analytic);
  return check_summary(api->name);
}
