/* params_list.h - reads `nncc --emit=params` output (`name offset d0xd1...`
 * per tensor) for the C test drivers. */
#ifndef PARAMS_LIST_H
#define PARAMS_LIST_H

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

#endif
