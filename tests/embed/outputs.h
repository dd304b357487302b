/* outputs.h - how train.c and predict.c print a model's outputs, so that
 * tests/embed/run.sh can compare builds line by line: per sample, the index
 * of the largest output, then the outputs ("%.9g": every float exactly). */
#ifndef EMBED_OUTPUTS_H
#define EMBED_OUTPUTS_H

#include <stddef.h>
#include <stdio.h>

static void print_outputs(const float *out, int count, size_t size) {
  for (int s = 0; s < count; s++) {
    const float *o = out + (size_t)s * size;
    size_t best = 0;
    for (size_t k = 1; k < size; k++)
      best = o[k] > o[best] ? k : best;
    printf("%zu", best);
    for (size_t k = 0; k < size; k++)
      printf(" %.9g", o[k]);
    printf("\n");
  }
}

#endif
