/* dump.c - runs one generated model through the nnrt_model interface and
 * writes every result as a record to a file, so two builds of the same
 * model (nncc -O0 and -O2) can be compared (compare.py).  Built with
 * -DMODEL_API=NAME_model against f32 or f64 generated C.
 *
 * Records, in order: forward training=0 at batch 1 and 7, forward
 * training=1 at batch 7, then (models with a loss) loss_and_grad at batch
 * 7: the loss and the gradient of every parameter tensor, then 3
 * train_steps: the loss and every parameter tensor after each, and the
 * inference output after them.  Each record: a name (64 bytes, NUL-padded),
 * an int64 count, count doubles.
 *
 * Usage: dump PARAMS_LIST OUT_FILE   (PARAMS_LIST: nncc --emit=params) */
#include "nnrt.h"
#include "../unit/model_test.h"

#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

enum { MAX_BATCH = 16, BATCH = 7, SEED = 3, STEPS = 3 };


static const nnrt_model *api;
static FILE *out;

/* n elements of the model's type at p, as doubles. */
static void record(const char *name, const void *p, long n) {
  char label[64] = {0};
  strncpy(label, name, sizeof label - 1);
  int64_t count = n;
  fwrite(label, 1, sizeof label, out);
  fwrite(&count, sizeof count, 1, out);
  for (long i = 0; i < n; i++) {
    double v = api->elem_size == 8 ? ((const double *)p)[i] : (double)((const float *)p)[i];
    fwrite(&v, sizeof v, 1, out);
  }
}

static void record_scalar(const char *name, double v) {
  if (api->elem_size == 8) {
    record(name, &v, 1);
  } else {
    float f = (float)v;
    record(name, &f, 1);
  }
}

static void record_tensors(const char *what, const void *buf, const Tensor *t, int nt) {
  char name[256];
  for (int i = 0; i < nt; i++) {
    snprintf(name, sizeof name, "%s %s", what, t[i].name);
    record(name, (const char *)buf + (size_t)t[i].offset * (size_t)api->elem_size, t[i].size);
  }
}

int main(int argc, char **argv) {
  api = MODEL_API();
  Tensor tensors[MAX_TENSORS];
  int nt = argc == 3 ? read_params(argv[1], tensors) : -1;
  if (nt < 0) {
    fprintf(stderr, "usage: %s PARAMS_LIST OUT_FILE\n", argv[0]);
    return 2;
  }
  out = fopen(argv[2], "wb");
  void *m = api->create(MAX_BATCH, SEED);
  if (!out || !m) {
    fprintf(stderr, "cannot open %s or create the model\n", argv[2]);
    return 1;
  }
  size_t es = (size_t)api->elem_size;
  nnrt_rng r;
  nnrt_rng_seed(&r, 5);
  size_t nx = (size_t)api->input_size * BATCH, ny = (size_t)api->label_size * BATCH;
  void *x = malloc(es * nx), *y = malloc((api->label_is_float ? es : 4) * (ny ? ny : 1));
  void *o = malloc(es * (size_t)api->output_size * BATCH);
  random_batch(api, &r, x, nx, y, ny);

  api->forward(m, 1, x, o, 0);
  record("forward infer batch 1", o, api->output_size);
  api->forward(m, BATCH, x, o, 0);
  record("forward infer batch 7", o, api->output_size * BATCH);
  api->forward(m, BATCH, x, o, 1);
  record("forward train batch 7", o, api->output_size * BATCH);
  if (api->loss_and_grad) {
    record_scalar("loss_and_grad loss", api->loss_and_grad(m, BATCH, x, y));
    record_tensors("grad", api->grads(m), tensors, nt);
    /* train_output is output 0 alone: its size is known with one output */
    if (api->train_output && api->train_output(m) && api->num_outputs == 1)
      record("train_output", api->train_output(m), api->output_size * BATCH);
    for (int s = 0; s < STEPS; s++) {
      char name[64];
      snprintf(name, sizeof name, "train_step %d loss", s + 1);
      record_scalar(name, api->train_step(m, BATCH, x, y));
      snprintf(name, sizeof name, "step %d param", s + 1);
      record_tensors(name, api->params(m), tensors, nt);
    }
    api->forward(m, BATCH, x, o, 0);
    record("forward infer after steps", o, api->output_size * BATCH);
  }
  api->destroy(m);
  free(x), free(y), free(o);
  return fclose(out) == 0 ? 0 : 1;
}
