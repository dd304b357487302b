/* replace.c - writing files by one set of rules (see replace.h). */
#define _POSIX_C_SOURCE 200809L
#include "replace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char out_of_memory[] = "out of memory";

/* Records the failure, words it and ends the file. */
static int fail(nnrt_file *f, int err, const char *what) {
  int linked = f->target && strcmp(f->target, f->path) != 0;
  int why = err && what != out_of_memory;
  f->err = err;
  snprintf(f->message, sizeof f->message, "%s%s%s%s: %s%s%s", f->path, linked ? " (-> " : "",
           linked ? f->target : "", linked ? ")" : "", what, why ? ": " : "",
           why ? strerror(err) : "");
  nnrt_file_abort(f);
  return -1;
}

static const char *not_regular(mode_t m) {
  return S_ISDIR(m)    ? "is a directory, not a regular file; nothing written"
         : S_ISFIFO(m) ? "is a fifo, not a regular file; nothing written"
         : S_ISCHR(m)  ? "is a character device, not a regular file; nothing written"
         : S_ISBLK(m)  ? "is a block device, not a regular file; nothing written"
         : S_ISSOCK(m) ? "is a socket, not a regular file; nothing written"
                       : "is not a regular file; nothing written";
}

/* Starts f on path: f->target is where path's symbolic links end, *st and
 * *exists what is there, which must be a regular file or nothing. */
static int start(nnrt_file *f, const char *path, struct stat *st, int *exists) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->path = path;
  size_t n = strlen(path);
  if (n == 0)
    return fail(f, ENOENT, "cannot create it");
  if (!(f->target = malloc(n + 1)))
    return fail(f, ENOMEM, out_of_memory);
  memcpy(f->target, path, n + 1);
  for (int hops = 0;; hops++) {
    if (lstat(f->target, st) != 0) {
      if (errno != ENOENT)
        return fail(f, errno, "cannot look it up");
      *exists = 0;
      return 0;
    }
    if (!S_ISLNK(st->st_mode))
      break;
    if (hops == 40)
      return fail(f, ELOOP, "cannot follow its symbolic links");
    char link[4097];  /* longer ones the system would not follow either */
    ssize_t len = readlink(f->target, link, sizeof link);
    if (len < 0 || len == (ssize_t)sizeof link)
      return fail(f, len < 0 ? errno : ENAMETOOLONG, "cannot read its symbolic link");
    /* A relative link is relative to the directory holding it. */
    const char *slash = strrchr(f->target, '/');
    size_t dir = link[0] != '/' && slash ? (size_t)(slash - f->target) + 1 : 0;
    char *next = malloc(dir + (size_t)len + 1);
    if (!next)
      return fail(f, ENOMEM, out_of_memory);
    memcpy(next, f->target, dir);
    memcpy(next + dir, link, (size_t)len);
    next[dir + (size_t)len] = '\0';
    free(f->target);
    f->target = next;
  }
  *exists = 1;
  return S_ISREG(st->st_mode) ? 0 : fail(f, 0, not_regular(st->st_mode));
}

int nnrt_file_replace(nnrt_file *f, const char *path) {
  struct stat st;
  int exists;
  if (start(f, path, &st, &exists) != 0)
    return -1;
  size_t n = strlen(f->target);
  if (!(f->tmp = malloc(n + 12)))
    return fail(f, ENOMEM, out_of_memory);
  memcpy(f->tmp, f->target, n);
  memcpy(f->tmp + n, ".tmp.", 5);
  /* mkstemp would make the file 0600 whatever the umask: a random name,
   * created exclusively with 0666 for the umask to apply. */
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint64_t x = (uint64_t)now.tv_nsec ^ (uint64_t)now.tv_sec << 30 ^ (uint64_t)getpid() << 40 ^
               (uint64_t)(uintptr_t)f;
  for (int tries = 0; tries < 100; tries++) {
    x += 0x9e3779b97f4a7c15ULL;  /* splitmix64 */
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (int i = 0; i < 6; i++, z /= 62)
      f->tmp[n + 5 + i] = digits[z % 62];
    f->tmp[n + 11] = '\0';
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (f->fd >= 0 || errno != EEXIST)
      break;
  }
  if (f->fd < 0) {
    int err = errno;
    free(f->tmp);  /* nothing was created */
    f->tmp = NULL;
    return fail(f, err, "cannot create a temporary file beside it");
  }
  if (exists && fchmod(f->fd, st.st_mode & 0777) != 0)
    return fail(f, errno, "cannot give the new file the old one's permissions");
  return 0;
}

int nnrt_file_append(nnrt_file *f, const char *path, int truncate) {
  struct stat st;
  int exists;
  if (start(f, path, &st, &exists) != 0)
    return -1;
  /* O_NONBLOCK: should a fifo appear after the check, fail, not hang. */
  f->fd = open(f->target, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | (truncate ? O_TRUNC : 0),
               0666);
  if (f->fd < 0)
    return fail(f, errno, "cannot open it to write");
  if (fstat(f->fd, &st) != 0)
    return fail(f, errno, "cannot look it up");
  return S_ISREG(st.st_mode) ? 0 : fail(f, 0, not_regular(st.st_mode));
}

int nnrt_file_write(nnrt_file *f, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(f->fd, p, n < ((size_t)1 << 30) ? n : (size_t)1 << 30);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return fail(f, w < 0 ? errno : EIO, "cannot write");
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int nnrt_file_close(nnrt_file *f, int sync) {
  if (sync && fsync(f->fd) != 0)
    return fail(f, errno, "cannot write");
  int fd = f->fd;
  f->fd = -1;
  if (close(fd) != 0 && errno != EINTR)  /* after EINTR Linux has closed it */
    return fail(f, errno, "cannot write");
  if (f->tmp && rename(f->tmp, f->target) != 0)
    return fail(f, errno, "cannot replace it");
  free(f->tmp);
  f->tmp = NULL;
  nnrt_file_abort(f);
  return 0;
}

void nnrt_file_abort(nnrt_file *f) {
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
  if (f->tmp)
    unlink(f->tmp);
  free(f->tmp);
  f->tmp = NULL;
  free(f->target);
  f->target = NULL;
}

int nnrt_file_probe(nnrt_file *f, const char *path) {
  if (nnrt_file_replace(f, path) != 0)
    return -1;
  nnrt_file_abort(f);
  return 0;
}
