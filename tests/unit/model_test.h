/* model_test.h - for the C test drivers that run a generated model through
 * its nnrt_model: the `nncc --emit=params` list, and random batches. */
#ifndef MODEL_TEST_H
#define MODEL_TEST_H

#include "nnrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_TENSORS = 256 };

typedef struct Tensor {
  char name[128];
  long offset, size;
} Tensor;

/* The tensors listed in path, at most MAX_TENSORS; -1 if it cannot be read. */
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

/* nx input values uniform in [0, 1) and ny labels (class ids below
 * num_classes, or uniform values), in the model's element type. */
static void random_batch(const nnrt_model *api, nnrt_rng *r, void *x, size_t nx, void *y,
                         size_t ny) {
  int es = api->elem_size;
  for (size_t i = 0; i < nx; i++) {
    double v = nnrt_rng_uniform(r);
    if (es == 8)
      ((double *)x)[i] = v;
    else
      ((float *)x)[i] = (float)v;
  }
  for (size_t i = 0; i < ny; i++) {
    if (!api->label_is_float)
      ((int32_t *)y)[i] = (int32_t)nnrt_rng_below(r, (uint64_t)api->num_classes);
    else if (es == 8)
      ((double *)y)[i] = nnrt_rng_uniform(r);
    else
      ((float *)y)[i] = (float)nnrt_rng_uniform(r);
  }
}

#endif
