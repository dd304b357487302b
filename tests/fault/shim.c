/* shim.c - fault injection for libnnrt's tests, as SQLite's harness does it.
 *
 * Linked with -Wl,--wrap=F for every F below (CMakeLists.txt's
 * NNRT_FAULT_WRAP), so the calls that libnnrt and generated code make to F
 * come here: each counts the call and, when it is the one chosen by
 * fault_arm (or later, in persistent mode), fails the way F fails, without
 * doing it.  Nothing of this is in the shipped library.
 *
 * For tests that kill a process in the middle of a save, the environment
 * variable NNRT_FAULT_PAUSE_AT_WRITE=N makes the N-th write() sleep for a
 * minute first. */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

static int armed_kinds, persistent;
static long fail_at, calls, failed;
static const char *last = "";

void fault_arm(int kinds, long n, int persist) {
  armed_kinds = kinds;
  fail_at = n;
  persistent = persist;
  calls = failed = 0;
  last = "";
}
void fault_disarm(void) { armed_kinds = 0; }
long fault_calls(void) { return calls; }
long fault_failed(void) { return failed; }
const char *fault_last(void) { return last; }

/* Counts a call of this kind; whether it is to fail (errno is set then). */
static int fault(int kind, const char *name, int err) {
  if (!(armed_kinds & kind))
    return 0;
  calls++;
  if (fail_at <= 0 || calls < fail_at || (calls > fail_at && !persistent))
    return 0;
  if (calls == fail_at)
    last = name;
  failed++;
  errno = err;
  return 1;
}

/* A failing stdio call sets the stream's error flag, as a real one does. */
static void set_error(FILE *f) {
#ifdef __GLIBC__
  f->_flags |= _IO_ERR_SEEN;
#else
  (void)f;
#endif
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_open(const char *path, int flags, ...);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __real_close(int fd);
int __real_rename(const char *from, const char *to);
int __real_fchmod(int fd, mode_t mode);
int __real_stat(const char *path, struct stat *st);
int __real_lstat(const char *path, struct stat *st);
int __real_fstat(int fd, struct stat *st);
ssize_t __real_readlink(const char *path, char *buf, size_t n);
FILE *__real_fopen(const char *path, const char *mode);
size_t __real_fread(void *buf, size_t size, size_t n, FILE *f);
int __real_fclose(FILE *f);
FILE *__real_open_memstream(char **buf, size_t *n);
gzFile __real_gzopen(const char *path, const char *mode);
int __real_gzread(gzFile f, void *buf, unsigned n);

void *__wrap_malloc(size_t n) {
  return fault(FAULT_ALLOC, "malloc", ENOMEM) ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
  return fault(FAULT_ALLOC, "calloc", ENOMEM) ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
  return fault(FAULT_ALLOC, "realloc", ENOMEM) ? NULL : __real_realloc(p, n);
}
FILE *__wrap_open_memstream(char **buf, size_t *n) {
  return fault(FAULT_ALLOC, "open_memstream", ENOMEM) ? NULL : __real_open_memstream(buf, n);
}

int __wrap_open(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & O_CREAT) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  return fault(FAULT_IO, "open", EACCES) ? -1 : __real_open(path, flags, mode);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n) {
  static long writes, pause_at = -1;
  if (pause_at < 0) {
    const char *env = getenv("NNRT_FAULT_PAUSE_AT_WRITE");
    pause_at = env ? atol(env) : 0;
  }
  if (++writes == pause_at)
    sleep(60);
  return fault(FAULT_IO, "write", ENOSPC) ? -1 : __real_write(fd, buf, n);
}

int __wrap_fsync(int fd) { return fault(FAULT_IO, "fsync", EIO) ? -1 : __real_fsync(fd); }
/* close fails after closing, as Linux's does. */
int __wrap_close(int fd) {
  int r = __real_close(fd);
  return fault(FAULT_IO, "close", EIO) ? -1 : r;
}
int __wrap_rename(const char *from, const char *to) {
  return fault(FAULT_IO, "rename", EIO) ? -1 : __real_rename(from, to);
}
int __wrap_fchmod(int fd, mode_t mode) {
  return fault(FAULT_IO, "fchmod", EPERM) ? -1 : __real_fchmod(fd, mode);
}
int __wrap_stat(const char *path, struct stat *st) {
  return fault(FAULT_IO, "stat", EIO) ? -1 : __real_stat(path, st);
}
int __wrap_lstat(const char *path, struct stat *st) {
  return fault(FAULT_IO, "lstat", EIO) ? -1 : __real_lstat(path, st);
}
int __wrap_fstat(int fd, struct stat *st) {
  return fault(FAULT_IO, "fstat", EIO) ? -1 : __real_fstat(fd, st);
}
ssize_t __wrap_readlink(const char *path, char *buf, size_t n) {
  return fault(FAULT_IO, "readlink", EIO) ? -1 : __real_readlink(path, buf, n);
}
FILE *__wrap_fopen(const char *path, const char *mode) {
  return fault(FAULT_IO, "fopen", EIO) ? NULL : __real_fopen(path, mode);
}
size_t __wrap_fread(void *buf, size_t size, size_t n, FILE *f) {
  if (!fault(FAULT_IO, "fread", EIO))
    return __real_fread(buf, size, n, f);
  set_error(f);
  return 0;
}
/* fclose fails after closing (and freeing the stream), as a real one does. */
int __wrap_fclose(FILE *f) {
  int r = __real_fclose(f);
  return fault(FAULT_IO, "fclose", EIO) ? EOF : r;
}
gzFile __wrap_gzopen(const char *path, const char *mode) {
  return fault(FAULT_IO, "gzopen", EIO) ? NULL : __real_gzopen(path, mode);
}
int __wrap_gzread(gzFile f, void *buf, unsigned n) {
  return fault(FAULT_IO, "gzread", EIO) ? -1 : __real_gzread(f, buf, n);
}
