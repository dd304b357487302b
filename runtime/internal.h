/* internal.h - helpers shared by libnnrt's sources; not part of the API. */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H

#include "nnrt.h"

/* A file written beside `path` under a temporary name and renamed over it
 * only when complete, so readers see the old file or the new one, never a
 * half-written one. */
typedef struct nnrt_replace {
  FILE *f;
  char *tmp;
  const char *path;
} nnrt_replace;

/* Opens the temporary file (mode: its permissions, e.g. 0644). */
nnrt_status nnrt_replace_open(nnrt_replace *r, const char *path, int mode);
/* Closes it and, if status is NNRT_OK and all was written, renames it over
 * path (after fsync if sync); otherwise removes it.  Returns the outcome. */
nnrt_status nnrt_replace_close(nnrt_replace *r, nnrt_status status, int sync);

#endif
