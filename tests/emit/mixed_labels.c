/* mixed_labels.c - a model with a class label and a real one
 * (tests/emit/models/mixed.nn: softmax_cross_entropy on `c : class[10]`
 * plus 0.5 x mse on `t : f32[4]`) trains through its _ex functions, one
 * typed array per label, built with -DREAL=float or double (the models
 * generated with --dtype f32 or f64) under ASan/UBSan by run.sh:
 *
 *   - its loss and gradients are those of cls.nn (the class loss alone)
 *     plus 0.5 x those of reg.nn (the mse alone), the same layers with the
 *     same parameters;
 *   - cls and reg give the same through their flat loss_and_grad as
 *     through loss_and_grad_ex;
 *   - train_step_ex returns that loss and takes one SGD step (lr 0.1);
 *   - the trainer's view has no flat loss_and_grad / train_step for it.
 *
 * Usage: mixed_labels  (prints "N passed, N failed") */
#include "cls.h"
#include "mixed.h"
#include "reg.h"
#include "../unit/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 5, IN = 6, CLASSES = 10, REAL_SIZE = 4 };

/* The worst difference of a and b relative to the largest |b|. */
static double worst(const REAL *a, const REAL *b, size_t n) {
  double scale = 1e-30, d = 0;
  for (size_t i = 0; i < n; i++)
    scale = fmax(scale, fabs((double)b[i]));
  for (size_t i = 0; i < n; i++)
    d = fmax(d, fabs((double)a[i] - (double)b[i]));
  return d / scale;
}

int main(void) {
  const double tol = sizeof(REAL) == 8 ? 1e-12 : 1e-5;
  nnrt_rng r;
  nnrt_rng_seed(&r, 3);
  REAL x[BATCH * IN], t[BATCH * REAL_SIZE];
  int32_t c[BATCH];
  for (int i = 0; i < BATCH * IN; i++)
    x[i] = (REAL)(nnrt_rng_uniform(&r) * 2 - 1);
  for (int i = 0; i < BATCH * REAL_SIZE; i++)
    t[i] = (REAL)nnrt_rng_uniform(&r);
  for (int i = 0; i < BATCH; i++)
    c[i] = (int32_t)nnrt_rng_below(&r, CLASSES);

  mixed *m = mixed_create(BATCH, 1);
  cls *a = cls_create(BATCH, 2);
  reg *b = reg_create(BATCH, 3);
  const size_t np = mixed_NUM_PARAMS;
  CHECK(np == cls_NUM_PARAMS && np == reg_NUM_PARAMS, "one parameter layout");
  CHECK(mixed_LABEL_SIZE == 1 + REAL_SIZE, "label size %d", mixed_LABEL_SIZE);
  memcpy(cls_params(a), mixed_params(m), sizeof(REAL) * np);
  memcpy(reg_params(b), mixed_params(m), sizeof(REAL) * np);

  const REAL *inputs[1] = {x};
  const void *labels[2] = {c, t};
  REAL loss = mixed_loss_and_grad_ex(m, BATCH, inputs, labels);
  const void *cl[1] = {c}, *tl[1] = {t};
  REAL la = cls_loss_and_grad_ex(a, BATCH, inputs, cl);
  REAL lb = reg_loss_and_grad_ex(b, BATCH, inputs, tl);
  CHECK(isfinite(loss) && la > 0 && lb > 0, "losses %g %g %g", (double)loss, (double)la,
        (double)lb);
  REAL sum = (REAL)(la + (REAL)0.5 * lb);
  CHECK(worst(&loss, &sum, 1) < tol, "loss %.17g, the two losses give %.17g", (double)loss,
        (double)sum);
  REAL *g = malloc(sizeof(REAL) * np), *want = malloc(sizeof(REAL) * np);
  memcpy(g, mixed_grads(m), sizeof(REAL) * np);
  for (size_t i = 0; i < np; i++)
    want[i] = cls_grads(a)[i] + (REAL)0.5 * reg_grads(b)[i];
  CHECK(worst(g, want, np) < tol, "gradients: %g from the two models'", worst(g, want, np));

  /* the flat functions of one-type models split x and y as _ex takes them */
  REAL g2[mixed_NUM_PARAMS];
  memcpy(g2, cls_grads(a), sizeof g2);
  REAL la2 = cls_loss_and_grad(a, BATCH, x, c);
  CHECK(la2 == la && !memcmp(g2, cls_grads(a), sizeof g2), "cls: flat = _ex");
  memcpy(g2, reg_grads(b), sizeof g2);
  REAL lb2 = reg_loss_and_grad(b, BATCH, x, t);
  CHECK(lb2 == lb && !memcmp(g2, reg_grads(b), sizeof g2), "reg: flat = _ex");
  CHECK(isnan((double)mixed_loss_and_grad_ex(m, 0, inputs, labels)) &&
            isnan((double)mixed_loss_and_grad_ex(m, BATCH + 1, inputs, labels)),
        "batch outside 1..max_batch: NaN");

  /* one SGD step (lr 0.1, no momentum): p - 0.1 g */
  REAL *p = malloc(sizeof(REAL) * np);
  memcpy(p, mixed_params(m), sizeof(REAL) * np);
  REAL step_loss = mixed_train_step_ex(m, BATCH, inputs, labels);
  CHECK(step_loss == loss, "train_step_ex: loss %.17g, loss_and_grad_ex's %.17g",
        (double)step_loss, (double)loss);
  for (size_t i = 0; i < np; i++)
    want[i] = p[i] - (REAL)0.1 * g[i];
  CHECK(worst(mixed_params(m), want, np) < tol, "train_step_ex: p - lr g: %g",
        worst(mixed_params(m), want, np));
  const nnrt_model *api = mixed_model();
  CHECK(api->step(m) == 1, "one step");
  CHECK(!api->loss_and_grad && !api->train_step && cls_model()->train_step,
        "the trainer's view: no flat training functions for mixed labels");

  mixed_destroy(m);
  cls_destroy(a);
  reg_destroy(b);
  free(g), free(want), free(p);
  return check_summary(sizeof(REAL) == 8 ? "mixed_labels f64" : "mixed_labels f32");
}
