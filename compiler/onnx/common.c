/* common.c - reading an ONNX file (onnx.h). */
#include "onnx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Larger files (weights past 2 GB are stored outside the file, in ONNX's
 * external data, which nncc does not read) are refused before reading. */
enum { MAX_ONNX_BYTES = 1 << 30 };

Onnx__ModelProto *onnx_read_model(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    error_plain("%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0)
    n = ftell(f);
  if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
    error_plain("%s: cannot read: %s", path, strerror(errno));
    fclose(f);
    return NULL;
  }
  if (n == 0 || n > MAX_ONNX_BYTES) {
    error_plain("%s: %s", path, n ? "larger than 1 GB: not an ONNX model nncc reads"
                                   : "empty: not an ONNX model");
    fclose(f);
    return NULL;
  }
  uint8_t *bytes = malloc((size_t)n);
  size_t got = bytes ? fread(bytes, 1, (size_t)n, f) : 0;
  fclose(f);
  if (got != (size_t)n) {
    free(bytes);
    error_plain("%s: cannot read: %s", path, bytes ? "short read" : "out of memory");
    return NULL;
  }
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, (size_t)n, bytes);
  free(bytes);
  if (!m) {
    error_plain("%s: not an ONNX model (not a valid ModelProto: corrupt or truncated)", path);
    return NULL;
  }
  if (!m->graph) {
    error_plain("%s: an ONNX model without a graph", path);
    onnx__model_proto__free_unpacked(m, NULL);
    return NULL;
  }
  return m;
}

long long onnx_opset(const Onnx__ModelProto *m, const char *domain) {
  int default_domain = !*domain || !strcmp(domain, "ai.onnx");
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *d = m->opset_import[i]->domain ? m->opset_import[i]->domain : "";
    if (default_domain ? !*d || !strcmp(d, "ai.onnx") : !strcmp(d, domain))
      return m->opset_import[i]->has_version ? (long long)m->opset_import[i]->version : 0;
  }
  return 0;
}
