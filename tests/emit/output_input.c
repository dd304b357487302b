/* output_input.c - outputs that are inputs come back unchanged
 * (docs/language.md, output), built with tests/emit/models/ident.nn and
 * outin.nn under ASan/UBSan by run.sh:
 *
 *   - ident (`output x`): forward and forward_ex return x bit for bit, in
 *     inference and training mode, at batch 1, 7 and above max_batch;
 *   - outin (`output x, y, z`, x and z inputs): the same for x and z, and
 *     y is the model's; the trainer's train_output is NULL, as the training
 *     step computes nothing for an input (nnrt.h), and a training step runs.
 *
 * Usage: output_input  (prints "N passed, N failed") */
#include "ident.h"
#include "outin.h"
#include "../unit/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_BATCH = 16, BIG = 40 };

static void fill(nnrt_rng *r, float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)nnrt_rng_uniform(r) - 0.5f;
}

static int finite(const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return 0;
  return 1;
}

int main(void) {
  nnrt_rng r;
  nnrt_rng_seed(&r, 7);
  const int batches[] = {1, 7, MAX_BATCH, BIG};
  enum { NX = 4, NY = 3, NZ = 2 };
  static float x[BIG * NX], z[BIG * NZ], xz[BIG * (NX + NZ)], out[BIG * (NX + NY + NZ)];
  static float ox[BIG * NX], oy[BIG * NY], oz[BIG * NZ];
  fill(&r, x, sizeof x / sizeof x[0]);
  fill(&r, z, sizeof z / sizeof z[0]);

  ident *a = ident_create(MAX_BATCH, 1);
  outin *b = outin_create(MAX_BATCH, 1);
  CHECK(a && b, "create");
  for (int t = 0; t < 2; t++)
    for (int k = 0; k < 4; k++) {
      int n = batches[k];
      /* ident: x back, through forward and forward_ex */
      memset(out, 0xff, sizeof out);
      ident_forward(a, n, x, out, t);
      CHECK(!memcmp(out, x, sizeof(float) * 3 * (size_t)n),
            "ident_forward training=%d batch %d: x unchanged", t, n);
      const float *in1[1] = {x};
      float *out1[1] = {ox};
      memset(ox, 0xff, sizeof ox);
      ident_forward_ex(a, n, in1, out1, t);
      CHECK(!memcmp(ox, x, sizeof(float) * 3 * (size_t)n),
            "ident_forward_ex training=%d batch %d: x unchanged", t, n);

      /* outin: x and z back, y computed; x holds all of x, then all of z */
      memcpy(xz, x, sizeof(float) * NX * (size_t)n);
      memcpy(xz + NX * n, z, sizeof(float) * NZ * (size_t)n);
      memset(out, 0xff, sizeof out);
      outin_forward(b, n, xz, out, t);
      CHECK(!memcmp(out, x, sizeof(float) * NX * (size_t)n),
            "outin_forward training=%d batch %d: x unchanged", t, n);
      CHECK(finite(out + NX * n, (size_t)(NY * n)), "outin_forward training=%d batch %d: y", t,
            n);
      CHECK(!memcmp(out + (NX + NY) * n, z, sizeof(float) * NZ * (size_t)n),
            "outin_forward training=%d batch %d: z unchanged", t, n);
      const float *in2[2] = {x, z};
      float *out2[3] = {ox, oy, oz};
      memset(ox, 0xff, sizeof ox);
      memset(oz, 0xff, sizeof oz);
      outin_forward_ex(b, n, in2, out2, t);
      CHECK(!memcmp(ox, x, sizeof(float) * NX * (size_t)n) &&
                !memcmp(oz, z, sizeof(float) * NZ * (size_t)n),
            "outin_forward_ex training=%d batch %d: x and z unchanged", t, n);
      CHECK(!memcmp(oy, out + NX * n, sizeof(float) * NY * (size_t)n),
            "outin_forward_ex training=%d batch %d: y as forward's", t, n);
    }

  /* training: the step runs; output 0 (x) is no output of the step */
  static float target[MAX_BATCH * NY];
  fill(&r, target, sizeof target / sizeof target[0]);
  memcpy(xz, x, sizeof(float) * NX * MAX_BATCH);
  memcpy(xz + NX * MAX_BATCH, z, sizeof(float) * NZ * MAX_BATCH);
  float loss = outin_train_step(b, MAX_BATCH, xz, target);
  CHECK(isfinite(loss) && loss > 0, "outin_train_step: loss %g", loss);
  CHECK(outin_model()->train_output == NULL, "train_output: NULL for an input as output 0");
  ident_destroy(a);
  outin_destroy(b);
  return check_summary("output_input");
}
