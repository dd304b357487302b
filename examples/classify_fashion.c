/* classify_fashion.c - an app that links the C nncc generates for
 * models/fashion_mlp.nn: it loads a checkpoint, reads Fashion-MNIST images
 * from IDX files, and prints the predicted class of each.
 *
 *   nncc models/fashion_mlp.nn -o fashion_mlp.c
 *   cc -O2 classify_fashion.c fashion_mlp.c -lnnrt_train -lnnrt -lopenblas -lz -lm
 *   ./classify_fashion model.ckpt t10k-images-idx3-ubyte.gz [t10k-labels-idx1-ubyte.gz]
 *
 * With labels it also prints the accuracy.  A checkpoint of "-" uses freshly
 * initialised weights (seed 0), to try the pipeline before training. */
#include "fashion_mlp.h"
#include "nnrt_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                            "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                            "Bag",         "Ankle boot"};

enum { BATCH = 256 };

int main(int argc, char **argv) {
  if (argc < 3 || argc > 5) {
    fprintf(stderr, "usage: %s CHECKPOINT|- IMAGES.idx[.gz] [LABELS.idx[.gz]] [--quiet]\n",
            argv[0]);
    return 2;
  }
  const char *ckpt = argv[1], *images = argv[2];
  const char *labels = argc > 3 && strcmp(argv[3], "--quiet") ? argv[3] : NULL;
  int quiet = !strcmp(argv[argc - 1], "--quiet");

  nnrt_dataset data;
  if (nnrt_dataset_load_idx(&data, images, labels, 10) != NNRT_OK) {
    fprintf(stderr, "classify_fashion: %s\n", nnrt_errmsg());
    return 1;
  }
  if (data.sample_size != fashion_mlp_INPUT_SIZE) {
    fprintf(stderr, "classify_fashion: %s: images of %dx%d, but the model takes %d values\n",
            images, data.height, data.width, fashion_mlp_INPUT_SIZE);
    nnrt_dataset_free(&data);
    return 1;
  }
  fashion_mlp *m = fashion_mlp_create(BATCH, 0);
  if (!m) {
    fprintf(stderr, "classify_fashion: out of memory\n");
    return 1;
  }
  if (strcmp(ckpt, "-") && fashion_mlp_load(m, ckpt) != 0) {
    fprintf(stderr, "classify_fashion: %s\n", nnrt_errmsg());
    fashion_mlp_destroy(m);
    nnrt_dataset_free(&data);
    return 1;
  }

  static float pixels[BATCH * fashion_mlp_INPUT_SIZE];
  static float logits[BATCH * fashion_mlp_OUTPUT_SIZE];
  size_t correct = 0;
  for (size_t start = 0; start < data.count; start += BATCH) {
    int n = data.count - start < BATCH ? (int)(data.count - start) : BATCH;
    nnrt_dataset_get(&data, start, (size_t)n, pixels); /* the bytes as floats in [0, 1] */
    fashion_mlp_forward(m, n, pixels, logits, 0);
    for (int i = 0; i < n; i++) {
      const float *z = logits + (size_t)i * fashion_mlp_OUTPUT_SIZE;
      int best = 0;
      for (int k = 1; k < fashion_mlp_OUTPUT_SIZE; k++)
        if (z[k] > z[best])
          best = k;
      if (!quiet)
        printf("%zu %d %s\n", start + (size_t)i, best, class_names[best]);
      if (data.y && data.y[start + (size_t)i] == best)
        correct++;
    }
  }
  if (data.y)
    printf("accuracy %.2f%% (%zu of %zu)\n", 100.0 * (double)correct / (double)data.count,
           correct, data.count);
  fashion_mlp_destroy(m);
  nnrt_dataset_free(&data);
  return 0;
}
