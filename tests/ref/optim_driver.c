/* optim_driver.c - runs NAME_train_step for a number of steps and dumps
 * what run_optim.py needs to replay them with torch.optim.  Built by
 * run_optim.py against the generated C of a model without dropout (its
 * masks are random) and libnnrt:
 *
 *   ./optim_driver OUTDIR STEPS BATCH LR_STEP NEW_LR [SEED]
 *
 * It creates the model (max_batch BATCH, seed SEED), saves OUTDIR/init.ckpt,
 * then takes STEPS training steps on random batches (inputs uniform in
 * [0, 1), as pixels; random class labels, or float labels in [0, 1)).
 * Before step LR_STEP (counted from 0) it calls set_learning_rate(NEW_LR),
 * as a schedule would.  It writes:
 *
 *   init.ckpt, final.ckpt   the state before the first step and after the
 *                           last: parameters, running statistics, optimizer
 *                           state, step count
 *   batches_x, batches_y    every step's inputs and labels, one after another
 *                           (little-endian, the model's element type; int32
 *                           class labels)
 *   losses                  what each train_step returned (f64 each)
 */
#include "nnrt.h"
#include "../unit/model_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_API
#error "compile with -DMODEL_API=<name>_model"
#endif
const nnrt_model *MODEL_API(void);

static const nnrt_model *api;
static const char *outdir;

static void die(const char *what) {
  fprintf(stderr, "optim_driver: %s%s%s\n", what, *nnrt_errmsg() ? ": " : "", nnrt_errmsg());
  exit(1);
}

static const char *path_of(const char *name) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", outdir, name);
  return buf;
}

static FILE *open_out(const char *name) {
  FILE *f = fopen(path_of(name), "wb");
  if (!f)
    die(path_of(name));
  return f;
}

/* Raw little-endian values (the hosts we run on are little-endian; the
 * reader checks sizes). */
static void put_raw(FILE *f, const void *data, size_t bytes) {
  if (fwrite(data, 1, bytes, f) != bytes)
    die("write failed");
}

int main(int argc, char **argv) {
  if (argc < 6 || argc > 7) {
    fprintf(stderr, "usage: %s OUTDIR STEPS BATCH LR_STEP NEW_LR [SEED]\n", argv[0]);
    return 2;
  }
  outdir = argv[1];
  int steps = atoi(argv[2]), batch = atoi(argv[3]), lr_step = atoi(argv[4]);
  double new_lr = strtod(argv[5], NULL);
  uint64_t seed = argc > 6 ? strtoull(argv[6], NULL, 10) : 1;
  api = MODEL_API();
  if (!api->train_step || steps < 1 || batch < 1)
    die("the model has no train_step, or bad arguments");
  void *m = api->create(batch, seed);
  if (!m)
    die("create failed");
  if (api->save(m, path_of("init.ckpt")) != 0)
    die("save init.ckpt");

  nnrt_rng rng;
  nnrt_rng_seed(&rng, seed + 2000);
  size_t es = (size_t)api->elem_size;
  size_t nx = (size_t)batch * (size_t)api->input_size;
  size_t ny = (size_t)batch * (size_t)api->label_size;
  size_t ly = api->label_is_float ? es : sizeof(int32_t);
  unsigned char *x = calloc(nx ? nx : 1, es), *y = calloc(ny ? ny : 1, ly);
  if (!x || !y)
    die("out of memory");
  FILE *fx = open_out("batches_x"), *fy = open_out("batches_y"), *fl = open_out("losses");
  for (int k = 0; k < steps; k++) {
    random_batch(api, &rng, x, nx, y, ny);
    if (k == lr_step)
      api->set_learning_rate(m, new_lr);
    double loss = api->train_step(m, batch, x, y);
    put_raw(fx, x, nx * es);
    put_raw(fy, y, ny * ly);
    put_raw(fl, &loss, sizeof loss);
  }
  if (fclose(fx) || fclose(fy) || fclose(fl))
    die("write failed");
  if (api->save(m, path_of("final.ckpt")) != 0)
    die("save final.ckpt");
  api->destroy(m);
  free(x);
  free(y);
  return 0;
}
