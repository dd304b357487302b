/* train.c - the reference for the embedded and inference-only builds
 * (tests/embed/run.sh): a short training run of a generated model on
 * Fashion-MNIST, so its weights and batchnorm running statistics are far
 * from their initial values; its checkpoint; and the full build's
 * predictions, by a model created afresh that loads the checkpoint, on the
 * first COUNT test images.  Built with -DMODEL_API=NAME_model.
 *
 * Usage: train DATA_DIR STEPS CKPT INPUTS_OUT COUNT > predictions
 * Writes the test images' values to INPUTS_OUT (raw floats), and prints a
 * line per image: the index of the largest output, then the outputs. */
#include "nnrt_train.h"
#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>

const nnrt_model *MODEL_API(void);

enum { BATCH = 64 };

static nnrt_status load(nnrt_dataset *d, const char *dir, const char *set) {
  char images[4096], labels[4096];
  snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, set);
  snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, set);
  return nnrt_dataset_load_idx(d, images, labels, 10);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s DATA_DIR STEPS CKPT INPUTS_OUT COUNT\n", argv[0]);
    return 2;
  }
  const nnrt_model *api = MODEL_API();
  int steps = atoi(argv[2]), count = atoi(argv[5]);
  nnrt_dataset train, test;
  if (load(&train, argv[1], "train") != NNRT_OK || load(&test, argv[1], "t10k") != NNRT_OK ||
      train.sample_size != (size_t)api->input_size || test.count < (size_t)count) {
    fprintf(stderr, "train: %s\n", nnrt_errmsg());
    return 1;
  }
  size_t in = (size_t)api->input_size, out = (size_t)api->output_size;
  float *x = malloc(sizeof(float) * in * (size_t)(count > BATCH ? count : BATCH));
  float *y = malloc(sizeof(float) * out * (size_t)count);
  void *m = api->create(BATCH, 1);
  for (int i = 0; i < steps; i++) {
    size_t first = (size_t)i * BATCH % (train.count - BATCH);
    nnrt_dataset_get(&train, first, BATCH, x);
    double loss = api->train_step(m, BATCH, x, train.y + first);
    if (i == 0 || i == steps - 1)
      fprintf(stderr, "train: step %d, loss %.4f\n", i + 1, loss);
  }
  if (api->save(m, argv[3]) != 0) {
    fprintf(stderr, "train: %s\n", nnrt_errmsg());
    return 1;
  }
  api->destroy(m);
  /* the full build as an app uses it: a model that loads the checkpoint */
  m = api->create(BATCH, 2);
  if (api->load(m, argv[3]) != 0) {
    fprintf(stderr, "train: %s\n", nnrt_errmsg());
    return 1;
  }
  nnrt_dataset_get(&test, 0, (size_t)count, x);
  FILE *f = fopen(argv[4], "wb");
  if (!f || fwrite(x, sizeof(float) * in, (size_t)count, f) != (size_t)count || fclose(f)) {
    fprintf(stderr, "train: cannot write %s\n", argv[4]);
    return 1;
  }
  api->forward(m, count, x, y, 0);
  print_outputs(y, count, out);
  api->destroy(m);
  free(x);
  free(y);
  nnrt_dataset_free(&train);
  nnrt_dataset_free(&test);
  return 0;
}
