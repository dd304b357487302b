/* replace.c - writing a file by replacing it whole (see internal.h). */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

nnrt_status nnrt_replace_open(nnrt_replace *r, const char *path, int mode) {
  memset(r, 0, sizeof *r);
  r->path = path;
  size_t plen = strlen(path);
  if (!(r->tmp = malloc(plen + 16)))
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory", path);
  memcpy(r->tmp, path, plen);
  memcpy(r->tmp + plen, ".tmp.XXXXXX", 12);
  int fd = mkstemp(r->tmp);
  if (fd < 0) {
    nnrt_status s = nnrt_fail(NNRT_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                              path, strerror(errno));
    free(r->tmp);
    r->tmp = NULL;
    return s;
  }
  fchmod(fd, (mode_t)mode);  /* mkstemp makes it 0600 */
  if (!(r->f = fdopen(fd, "wb"))) {
    nnrt_status s = nnrt_fail(NNRT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    close(fd);
    unlink(r->tmp);
    free(r->tmp);
    r->tmp = NULL;
    return s;
  }
  return NNRT_OK;
}

nnrt_status nnrt_replace_close(nnrt_replace *r, nnrt_status s, int sync) {
  if (s == NNRT_OK && (ferror(r->f) || fflush(r->f) != 0 || (sync && fsync(fileno(r->f)) != 0)))
    s = nnrt_fail(NNRT_ERR_IO, "%s: cannot write: %s", r->path, strerror(errno));
  if (fclose(r->f) != 0 && s == NNRT_OK)
    s = nnrt_fail(NNRT_ERR_IO, "%s: cannot write: %s", r->path, strerror(errno));
  if (s == NNRT_OK && rename(r->tmp, r->path) != 0)
    s = nnrt_fail(NNRT_ERR_IO, "%s: cannot replace it: %s", r->path, strerror(errno));
  if (s != NNRT_OK)
    unlink(r->tmp);
  free(r->tmp);
  r->tmp = NULL;
  r->f = NULL;
  return s;
}
