/* classify.c - the example app's other two builds (docs/apps.md): blobs.nn
 * as inference-only C with a trained checkpoint loaded at run time
 * (nncc_add_model INFERENCE_ONLY), and with the checkpoint's weights
 * compiled in (EMBED_WEIGHTS; built with -DEMBEDDED: no malloc, no file, no
 * runtime library).  Both classify the three blob centres, which must come
 * out as classes 0, 1 and 2.
 *
 *   app_infer TRAINED.ckpt      app_embedded */
#include "blobs.h"

#include <stdio.h>

/* The three blob centres, one sample each. */
static const float centres[3][blobs_INPUT_SIZE] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};

static int argmax(const float *row) {
  int best = 0;
  for (int j = 1; j < blobs_OUTPUT_SIZE; j++)
    if (row[j] > row[best])
      best = j;
  return best;
}

int main(int argc, char **argv) {
  float out[blobs_OUTPUT_SIZE];
  int right = 0;
#ifdef EMBEDDED
  (void)argv;
  if (argc != 1) {
    fprintf(stderr, "usage: app_embedded\n");
    return 2;
  }
  for (int i = 0; i < 3; i++) {
    blobs_infer(centres[i], out);
    right += argmax(out) == i;
  }
  printf("embedded (%d bytes of arena): ", blobs_ARENA_BYTES);
#else
  if (argc != 2) {
    fprintf(stderr, "usage: app_infer TRAINED.ckpt\n");
    return 2;
  }
  blobs *m = blobs_create(1, 1);
  if (!m || blobs_load(m, argv[1]) != 0) {
    fprintf(stderr, "app_infer: %s\n", m ? nnrt_errmsg() : "out of memory");
    return 1;
  }
  for (int i = 0; i < 3; i++) {
    blobs_forward(m, 1, centres[i], out);
    right += argmax(out) == i;
  }
  blobs_destroy(m);
  printf("inference-only: ");
#endif
  printf("%d of 3 centres in their class\n", right);
  return right != 3;
}
