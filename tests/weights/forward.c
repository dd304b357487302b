/* forward.c - the C side of tests/weights/roundtrip.py, for any model
 * (reached through NAME_model(), built with -DMODEL_API=NAME_model):
 *
 *   ./forward make CKPT IN      a checkpoint after 3 training steps on
 *                               random data (running statistics moved),
 *                               and a batch of 7 random inputs (class
 *                               labels or real ones in [0, 1))
 *   ./forward run CKPT IN OUT   NAME_load, then forward (training=0) on IN:
 *                               OUT, raw float32
 *
 * Exit status 0, or 1 with a message (NAME_load's for a refused file). */
#include "nnrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const nnrt_model *MODEL_API(void);

#define BATCH 7

static void die(const char *what) {
  fprintf(stderr, "forward: %s: %s\n", what, nnrt_errmsg());
  exit(1);
}

static void io(const char *path, void *data, size_t bytes, int write) {
  FILE *f = fopen(path, write ? "wb" : "rb");
  if (!f || (write ? fwrite(data, 1, bytes, f) : fread(data, 1, bytes, f)) != bytes ||
      fclose(f) != 0)
    die(path);
}

int main(int argc, char **argv) {
  const nnrt_model *api = MODEL_API();
  if (argc < 4 || api->elem_size != 4 || (!strcmp(argv[1], "make") && !api->train_step))
    return fprintf(stderr, "usage: forward make CKPT IN | run CKPT IN OUT\n"), 1;
  void *m = api->create(BATCH, 42);
  float *x = calloc((size_t)(BATCH * api->input_size), sizeof(float));
  float *out = calloc((size_t)(BATCH * api->output_size), sizeof(float));
  size_t ny = (size_t)(BATCH * api->label_size);
  int32_t *y = calloc(ny, sizeof(int32_t));  /* (as many bytes as floats) */
  if (!m || !x || !out || !y)
    die("create");
  nnrt_rng rng;
  nnrt_rng_seed(&rng, 7);
  if (!strcmp(argv[1], "make")) {
    for (int step = 0; step < 3; step++) {
      for (long i = 0; i < BATCH * api->input_size; i++)
        x[i] = (float)nnrt_rng_uniform(&rng);
      for (size_t i = 0; i < ny; i++) {
        float t = api->label_is_float ? (float)nnrt_rng_uniform(&rng) : 0;
        if (api->label_is_float)
          memcpy(&y[i], &t, sizeof t);
        else
          y[i] = (int32_t)nnrt_rng_below(&rng, (uint64_t)api->num_classes);
      }
      api->train_step(m, BATCH, x, y);
    }
    if (api->save(m, argv[2]) != 0)
      die(argv[2]);
    io(argv[3], x, sizeof(float) * (size_t)(BATCH * api->input_size), 1);
  } else if (argc == 5) {
    if (api->load(m, argv[2]) != 0)
      die(argv[2]);
    io(argv[3], x, sizeof(float) * (size_t)(BATCH * api->input_size), 0);
    api->forward(m, BATCH, x, out, 0);
    io(argv[4], out, sizeof(float) * (size_t)(BATCH * api->output_size), 1);
  }
  api->destroy(m);
  free(x);
  free(out);
  free(y);
  return 0;
}
