/* predict.c - the embedded build (-DEMBEDDED) or the --inference-only build
 * of model MODEL (-DMODEL=NAME -DHEADER='"NAME.h"') on the test images
 * train.c wrote, printed as train.c prints the full build's predictions
 * (tests/embed/run.sh compares them).
 *
 * Embedded: each image through NAME_infer, and every seventh also through
 * NAME_infer_in in an arena of exactly NAME_ARENA_BYTES between two guard
 * zones filled with NaNs: the same outputs bit for bit, and the guards
 * untouched (so the arena is large enough and nothing of an earlier call
 * leaks into the next).  The program links with the model's object and
 * -lm only.  Inference-only: a model created with libnnrt that loads the
 * full build's checkpoint, forward on all the images (with -DBY_SAMPLE, one
 * at a time: the layout of x NAME_infer takes, for models of several
 * inputs).
 *
 * Usage: predict INPUTS COUNT [CKPT]  (CKPT: for the inference-only build) */
#include HEADER
#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define API(x) CAT(MODEL, x)

enum { IN = API(_INPUT_SIZE), OUT = API(_OUTPUT_SIZE) };

int main(int argc, char **argv) {
  int count = argc > 2 ? atoi(argv[2]) : 0;
  float *x = malloc(sizeof(float) * IN * (size_t)count), *y = malloc(sizeof(float) * OUT * (size_t)count);
  FILE *f = argc > 2 ? fopen(argv[1], "rb") : NULL;
  if (!f || fread(x, sizeof(float) * IN, (size_t)count, f) != (size_t)count) {
    fprintf(stderr, "usage: %s INPUTS COUNT [CKPT] (INPUTS as train.c writes them)\n", argv[0]);
    return 2;
  }
  fclose(f);
#ifdef EMBEDDED
  enum { GUARD = 256, BYTES = API(_ARENA_BYTES) };
  unsigned char *zone = malloc(BYTES + 2 * GUARD);
  float again[OUT];
  for (int s = 0; s < count; s++) {
    API(_infer)(x + (size_t)s * IN, y + (size_t)s * OUT);
    if (s % 7)
      continue;
    memset(zone, 0xff, BYTES + 2 * GUARD);  /* NaNs: a value read before it is written shows */
    API(_infer_in)(zone + GUARD, x + (size_t)s * IN, again);
    if (memcmp(again, y + (size_t)s * OUT, sizeof again)) {
      fprintf(stderr, "predict: image %d: infer_in gives other outputs than infer\n", s);
      return 1;
    }
    for (int i = 0; i < GUARD; i++)
      if (zone[i] != 0xff || zone[GUARD + BYTES + i] != 0xff) {
        fprintf(stderr, "predict: image %d: infer_in wrote outside its %d-byte arena\n", s, BYTES);
        return 1;
      }
  }
  free(zone);
#else
  API() *m = API(_create)(64, 0);
  if (!m || argc < 4 || API(_load)(m, argv[3]) != 0) {
    fprintf(stderr, "predict: %s\n", m ? nnrt_errmsg() : "out of memory");
    return 1;
  }
#ifdef BY_SAMPLE  /* (one sample at a time: x as NAME_infer takes it, for several inputs too) */
  for (int s = 0; s < count; s++)
    API(_forward)(m, 1, x + (size_t)s * IN, y + (size_t)s * OUT);
#else
  API(_forward)(m, count, x, y);
#endif
  API(_destroy)(m);
#endif
  print_outputs(y, count, OUT);
  free(x);
  free(y);
  return 0;
}
