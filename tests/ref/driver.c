/* driver.c - runs any nncc-generated model and dumps what the PyTorch
 * reference (reference.py) needs to check it.  Built by run_ref.py:
 *
 *   cc -std=c99 -DMODEL_API=fashion_mlp_model -Iruntime/include \
 *      out/fashion_mlp.c tests/ref/driver.c libnnrt.a -lopenblas -lm
 *   ./driver OUTDIR [SEED]
 *
 * The model is reached only through its nnrt_model (NAME_model()), so this
 * one file serves every model.  It writes into OUTDIR:
 *
 *   meta.txt              the model's sizes, as the nnrt_model reports them
 *   model.ckpt            the state the comparisons start from (NAME_save):
 *                         parameters, and batchnorm running statistics made
 *                         non-trivial by a few training-mode passes
 *   in_bN, out_bN         forward with training=0 at batch N = 1, 7, 128
 *   train_in_b7,          forward with training=1 at batch 7 (batch statistics;
 *   train_out_b7          the reference skips it when the model has dropout)
 *   after_train.ckpt      the state after that pass (updated running stats)
 *
 * and, when the model has loss_and_grad (it has a loss):
 *
 *   grad_in_b7, grad_labels_b7, grad_loss_b7 (one f64), grad_grads_b7
 *
 * Tensors are raw little-endian arrays of the model's element type (float32,
 * or float64 for --dtype f64 models), batch first; labels are int32 class
 * ids or values of the element type.  Several inputs (outputs) follow one
 * another, each for the whole batch, as NAME_forward takes them.
 *
 * Exit status: 0 on success, 1 on any failure (with a message). */
#include "nnrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_API
#error "compile with -DMODEL_API=<name>_model"
#endif
const nnrt_model *MODEL_API(void);

#define MAX_BATCH 128

static const nnrt_model *api;
static const char *outdir;

static void die(const char *what) {
  fprintf(stderr, "driver: %s%s%s\n", what, *nnrt_errmsg() ? ": " : "", nnrt_errmsg());
  exit(1);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p)
    die("out of memory");
  return p;
}

static const char *path_of(const char *name) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", outdir, name);
  return buf;
}

/* n values of elem_size bytes, written little-endian whatever the host. */
static void write_raw(const char *name, const void *data, size_t n, size_t elem_size) {
  FILE *f = fopen(path_of(name), "wb");
  if (!f)
    die(path_of(name));
  const unsigned char *p = data;
  unsigned one = 1;
  int little = *(unsigned char *)&one == 1;
  for (size_t i = 0; i < n; i++)
    for (size_t b = 0; b < elem_size; b++)
      fputc(p[i * elem_size + (little ? b : elem_size - 1 - b)], f);
  if (fclose(f) != 0)
    die(path_of(name));
}

/* Stores v as element i of an array of the model's element type. */
static void put(void *a, size_t i, double v) {
  if (api->elem_size == 8)
    ((double *)a)[i] = v;
  else
    ((float *)a)[i] = (float)v;
}

/* batch samples of random inputs, uniform in [-1, 1): negative values reach
 * relu, leaky_relu and the padding of maxpool. */
static void *random_inputs(nnrt_rng *rng, int batch) {
  size_t n = (size_t)batch * (size_t)api->input_size;
  void *x = xcalloc(n, (size_t)api->elem_size);
  for (size_t i = 0; i < n; i++)
    put(x, i, 2 * nnrt_rng_uniform(rng) - 1);
  return x;
}

static void *random_labels(nnrt_rng *rng, int batch) {
  size_t n = (size_t)batch * (size_t)api->label_size;
  if (!api->label_is_float) {
    int32_t *y = xcalloc(n, sizeof(int32_t));
    for (size_t i = 0; i < n; i++)
      y[i] = (int32_t)nnrt_rng_below(rng, (uint64_t)(api->num_classes > 0 ? api->num_classes : 1));
    return y;
  }
  void *y = xcalloc(n, (size_t)api->elem_size);
  for (size_t i = 0; i < n; i++)
    put(y, i, nnrt_rng_uniform(rng));  /* in [0, 1): valid for every loss */
  return y;
}

/* One forward pass at this batch; writes PREFIXin_bN and PREFIXout_bN. */
static void forward_and_dump(void *m, nnrt_rng *rng, int batch, int training,
                             const char *prefix) {
  char name[64];
  void *x = random_inputs(rng, batch);
  void *y = xcalloc((size_t)batch * (size_t)api->output_size, (size_t)api->elem_size);
  api->forward(m, batch, x, y, training);
  snprintf(name, sizeof name, "%sin_b%d", prefix, batch);
  write_raw(name, x, (size_t)batch * (size_t)api->input_size, (size_t)api->elem_size);
  snprintf(name, sizeof name, "%sout_b%d", prefix, batch);
  write_raw(name, y, (size_t)batch * (size_t)api->output_size, (size_t)api->elem_size);
  free(x);
  free(y);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s OUTDIR [SEED]\n", argv[0]);
    return 2;
  }
  outdir = argv[1];
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
  api = MODEL_API();

  FILE *meta = fopen(path_of("meta.txt"), "w");
  if (!meta)
    die(path_of("meta.txt"));
  fprintf(meta, "name %s\nelem_size %d\nnum_inputs %d\nnum_outputs %d\ninput_size %ld\n"
                "output_size %ld\nlabel_size %ld\nlabel_is_float %d\nnum_classes %ld\n"
                "num_params %ld\nmax_batch %d\nseed %llu\n",
          api->name, api->elem_size, api->num_inputs, api->num_outputs, api->input_size,
          api->output_size, api->label_size, api->label_is_float, api->num_classes,
          api->num_params, MAX_BATCH, (unsigned long long)seed);
  if (fclose(meta) != 0)
    die(path_of("meta.txt"));

  void *m = api->create(MAX_BATCH, seed);
  if (!m)
    die("create failed");
  nnrt_rng rng;
  nnrt_rng_seed(&rng, seed + 1000);

  /* Training-mode passes move the batchnorm running statistics away from
   * their initial 0 and 1, so inference really uses them. */
  for (int i = 0; i < 3; i++) {
    void *x = random_inputs(&rng, 32);
    void *y = xcalloc((size_t)32 * (size_t)api->output_size, (size_t)api->elem_size);
    api->forward(m, 32, x, y, 1);
    free(x);
    free(y);
  }
  if (api->save(m, path_of("model.ckpt")) != 0)
    die("save model.ckpt");

  static const int batches[] = {1, 7, MAX_BATCH};
  for (int i = 0; i < 3; i++)
    forward_and_dump(m, &rng, batches[i], 0, "");

  /* Training mode: batch statistics, and the running statistics move. */
  forward_and_dump(m, &rng, 7, 1, "train_");
  if (api->save(m, path_of("after_train.ckpt")) != 0)
    die("save after_train.ckpt");

  /* Loss and gradients, for models that have them (from the model.ckpt
   * state, as the reference). */
  if (api->loss_and_grad && api->load && api->grads) {
    if (api->load(m, path_of("model.ckpt")) != 0)
      die("load model.ckpt");
    int batch = 7;
    void *x = random_inputs(&rng, batch);
    void *y = random_labels(&rng, batch);
    double loss = api->loss_and_grad(m, batch, x, y);
    write_raw("grad_in_b7", x, (size_t)batch * (size_t)api->input_size, (size_t)api->elem_size);
    write_raw("grad_labels_b7", y, (size_t)batch * (size_t)api->label_size,
              api->label_is_float ? (size_t)api->elem_size : sizeof(int32_t));
    write_raw("grad_loss_b7", &loss, 1, sizeof loss);
    write_raw("grad_grads_b7", api->grads(m), (size_t)api->num_params, (size_t)api->elem_size);
    free(x);
    free(y);
  }
  api->destroy(m);
  return 0;
}
