/* opt_driver.c - one optimizer step of a generated model, for
 * tests/onnx/optimizers.py (built with -DMODEL_API=NAME_model):
 *   opt_driver init OUT.ckpt          < params    (num_params floats)
 *   opt_driver step IN.ckpt OUT.ckpt LR < x t     (input_size + label_size floats)
 * init writes a checkpoint of the given parameters; step loads one, takes a
 * train_step on a batch of one sample at learning rate LR and saves it. */
#include "nnrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

static int read_floats(float *v, long n) {
  return fread(v, sizeof(float), (size_t)n, stdin) == (size_t)n;
}

int main(int argc, char **argv) {
  const nnrt_model *api = MODEL_API();
  void *m = api->create(1, 0);
  if (!m || argc < 3)
    return 2;
  int rc = 1;
  if (!strcmp(argv[1], "init") && argc == 3) {
    if (read_floats(api->params(m), api->num_params) && api->save(m, argv[2]) == 0)
      rc = 0;
  } else if (!strcmp(argv[1], "step") && argc == 5) {
    float *xt = malloc(sizeof(float) * (size_t)(api->input_size + api->label_size));
    if (xt && api->load(m, argv[2]) == 0 && read_floats(xt, api->input_size + api->label_size) &&
        api->set_learning_rate(m, atof(argv[4])) == 0) {
      double loss = api->train_step(m, 1, xt, xt + api->input_size);
      if (loss == loss && api->save(m, argv[3]) == 0)
        rc = 0;
    }
    free(xt);
  }
  if (rc)
    fprintf(stderr, "opt_driver: %s\n", nnrt_errmsg());
  api->destroy(m);
  return rc;
}
