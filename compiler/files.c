/* files.c - the files a command line names: the model read whole, and
 * the check that no output replaces an input or another output (nncc,
 * nncc train, nncc weights). */
#define _POSIX_C_SOURCE 200809L
#include "nncc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *read_all(FILE *f, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf)
      return NULL;
    if (n + 1 >= cap) {
      if (cap > ((size_t)64 << 20)) {
        free(buf);
        errno = EFBIG;
        return NULL;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

bool load_file(const char *path, SrcFile *file) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    error_plain("cannot open '%s': %s", path, strerror(errno));
    return false;
  }
  size_t len = 0;
  char *text = read_all(f, &len);
  int err = errno;
  if (f != stdin)
    fclose(f);
  if (!text) {
    error_plain("cannot read '%s': %s", path,
                err == EFBIG ? "larger than 64 MiB" : strerror(err ? err : EIO));
    return false;
  }
  file->name = strcmp(path, "-") ? path : "<stdin>";
  file->text = text;
  file->len = len;
  return true;
}

/* Whether a and b name one file: the same device and inode if both exist,
 * else the same name in the same directory. */
bool same_file(const char *a, const char *b) {
  struct stat sa, sb;
  bool ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea || eb)
    return ea && eb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  const char *na = base_name(a), *nb = base_name(b);
  if (strcmp(na, nb))
    return false;
  const char *da = na > a ? arena_strndup(a, (size_t)(na - a)) : ".";
  const char *db = nb > b ? arena_strndup(b, (size_t)(nb - b)) : ".";
  return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

/* Outputs never replace the input, nor each other (as GCC refuses): a
 * message and false if one would.  NULL and "-" (stdout) are skipped. */
bool outputs_distinct(const char *input, const char *const *outputs, int n) {
  struct stat in;
  bool have_in = strcmp(input, "-") ? stat(input, &in) == 0
                                    : fstat(STDIN_FILENO, &in) == 0 && S_ISREG(in.st_mode);
  for (int i = 0; i < n; i++) {
    struct stat st;
    if (!outputs[i] || !strcmp(outputs[i], "-"))
      continue;
    if (have_in && stat(outputs[i], &st) == 0 && st.st_dev == in.st_dev &&
        st.st_ino == in.st_ino) {
      error_plain("input file '%s' is the same as output file '%s'; nothing written",
                  strcmp(input, "-") ? input : "<stdin>", outputs[i]);
      return false;
    }
    for (int k = 0; k < i; k++)
      if (outputs[k] && strcmp(outputs[k], "-") && same_file(outputs[k], outputs[i])) {
        error_plain("output files '%s' and '%s' are the same file; nothing written",
                    outputs[k], outputs[i]);
        return false;
      }
  }
  return true;
}

