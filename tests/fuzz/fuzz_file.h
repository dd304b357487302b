/* fuzz_file.h - what the file-loader fuzz targets share: the loaders take
 * paths, so each input is written to a file in a private temporary
 * directory (made once per process, removed at exit), and a failed promise
 * aborts with the line that checked it, which libFuzzer reports as a crash.
 */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                  \
    }                                                                           \
  } while (0)

static char fuzz_dir[4096];
static char fuzz_paths[2][4096 + 16];

static inline void fuzz_cleanup(void) {
  for (int i = 0; i < 2; i++)
    if (fuzz_paths[i][0])
      unlink(fuzz_paths[i]);
  rmdir(fuzz_dir);
}

/* Writes n bytes to path, whole or abort. */
static inline void fuzz_write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  FUZZ_CHECK(f);
  FUZZ_CHECK(fwrite(data, 1, n, f) == n);
  FUZZ_CHECK(fclose(f) == 0);
}

/* The whole of path (malloc), its size in *n. */
static inline unsigned char *fuzz_read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  FUZZ_CHECK(f);
  size_t cap = 4096;
  unsigned char *buf = malloc(cap);
  FUZZ_CHECK(buf);
  *n = 0;
  size_t got;
  while ((got = fread(buf + *n, 1, cap - *n, f)) > 0)
    if ((*n += got) == cap) {
      buf = realloc(buf, cap *= 2);
      FUZZ_CHECK(buf);
    }
  fclose(f);
  return buf;
}

/* Writes the input to file `which` (0 or 1) of the private directory and
 * returns its path. */
static inline const char *fuzz_file_n(int which, const void *data, size_t n) {
  if (!fuzz_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/nnrt-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(fuzz_dir));
    atexit(fuzz_cleanup);
  }
  if (!fuzz_paths[which][0])
    snprintf(fuzz_paths[which], sizeof fuzz_paths[which], "%s/input%d", fuzz_dir, which);
  /* A new file each time: rewriting one in place makes ext4 flush it on
   * close (auto_da_alloc), which is a hundred times slower. */
  unlink(fuzz_paths[which]);
  fuzz_write_file(fuzz_paths[which], data, n);
  return fuzz_paths[which];
}

static inline const char *fuzz_file(const void *data, size_t n) { return fuzz_file_n(0, data, n); }

#endif
