/* status.c - status codes as text. */
#include "nnrt.h"

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
