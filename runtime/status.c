/* status.c - status codes as text, and the per-thread last-error message. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const char *nnrt_status_str(nnrt_status s) {
  switch (s) {
  case NNRT_OK: return "ok";
  case NNRT_ERR_NOMEM: return "out of memory";
  case NNRT_ERR_IO: return "input/output error";
  case NNRT_ERR_FORMAT: return "not in the expected format";
  case NNRT_ERR_CORRUPT: return "truncated or corrupted";
  case NNRT_ERR_MISMATCH: return "made for another model";
  case NNRT_ERR_ARG: return "argument out of range";
  case NNRT_ERR_NUMERIC: return "not a finite number";
  }
  return "unknown status";
}

#define STR2(x) #x
#define STR(x) STR2(x)

const char *nnrt_version(void) {
  return STR(NNRT_VERSION_MAJOR) "." STR(NNRT_VERSION_MINOR) "." STR(NNRT_VERSION_PATCH);
}

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#define NNRT_THREAD_LOCAL _Thread_local
#elif defined(__GNUC__)
#define NNRT_THREAD_LOCAL __thread
#else
#define NNRT_THREAD_LOCAL
#endif

static NNRT_THREAD_LOCAL char last_error[512];

const char *nnrt_errmsg(void) { return last_error; }

nnrt_status nnrt_fail(nnrt_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return s;
}

nnrt_status nnrt_file_failed(const nnrt_file *f) {
  return nnrt_fail(f->err == ENOMEM ? NNRT_ERR_NOMEM : NNRT_ERR_IO, "%s", f->message);
}
