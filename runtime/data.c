/* data.c - loading data sets: IDX files, plain or gzip (zlib reads both). */
#include "nnrt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Reads exactly n bytes; 0 on success, else sets the message. */
static nnrt_status read_exact(gzFile f, void *buf, size_t n, const char *path, const char *what) {
  unsigned char *p = buf;
  while (n > 0) {
    unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
    int got = gzread(f, p, chunk);
    if (got < 0) {
      int zerr;
      const char *msg = gzerror(f, &zerr);
      return nnrt_fail(NNRT_ERR_CORRUPT, "%s: cannot read %s: %s", path, what,
                       zerr == Z_ERRNO ? strerror(errno) : msg);
    }
    if (got == 0)
      return nnrt_fail(NNRT_ERR_CORRUPT, "%s: truncated: the file ends inside the %s", path,
                       what);
    p += got;
    n -= (size_t)got;
  }
  return NNRT_OK;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An IDX file of unsigned bytes: header (0, 0, type 0x08, ndims, dims),
 * then the data.  Returns the data (malloc) and its dims. */
static nnrt_status read_idx(const char *path, int want_min_dims, int want_max_dims,
                            uint32_t dims[4], int *ndims, unsigned char **data) {
  *data = NULL;
  gzFile f = gzopen(path, "rb");
  if (!f)
    return nnrt_fail(NNRT_ERR_IO, "%s: cannot open: %s", path,
                     errno ? strerror(errno) : "out of memory");
  unsigned char head[4];
  nnrt_status s = read_exact(f, head, 4, path, "header");
  if (s == NNRT_OK && (head[0] != 0 || head[1] != 0))
    s = nnrt_fail(NNRT_ERR_FORMAT, "%s: not an IDX file (bad magic %02x%02x%02x%02x)", path,
                  head[0], head[1], head[2], head[3]);
  else if (s == NNRT_OK && head[2] != 0x08)
    s = nnrt_fail(NNRT_ERR_FORMAT, "%s: IDX element type 0x%02x, but only unsigned bytes "
                  "(0x08) are supported", path, head[2]);
  else if (s == NNRT_OK && (head[3] < want_min_dims || head[3] > want_max_dims))
    s = nnrt_fail(NNRT_ERR_FORMAT, "%s: %d dimensions, expected %d%s%s", path, head[3],
                  want_min_dims, want_max_dims > want_min_dims ? " to " : "",
                  want_max_dims > want_min_dims ? (want_max_dims == 4 ? "4" : "3") : "");
  size_t total = 1;
  if (s == NNRT_OK) {
    *ndims = head[3];
    unsigned char raw[16];
    s = read_exact(f, raw, 4 * (size_t)*ndims, path, "header");
    for (int i = 0; s == NNRT_OK && i < *ndims; i++) {
      dims[i] = be32(raw + 4 * i);
      if (dims[i] == 0 || (i > 0 && dims[i] > 65536))
        s = nnrt_fail(NNRT_ERR_FORMAT, "%s: implausible dimension %u", path, dims[i]);
      else if (total > ((size_t)1 << 40) / dims[i])
        s = nnrt_fail(NNRT_ERR_FORMAT, "%s: too large", path);
      else
        total *= dims[i];
    }
  }
  if (s == NNRT_OK && !(*data = malloc(total)))
    s = nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory for %zu bytes", path, total);
  if (s == NNRT_OK)
    s = read_exact(f, *data, total, path, "data");
  if (s == NNRT_OK) {
    unsigned char extra;
    if (gzread(f, &extra, 1) > 0)
      s = nnrt_fail(NNRT_ERR_CORRUPT, "%s: unexpected data after the last item", path);
  }
  gzclose(f);
  if (s != NNRT_OK) {
    free(*data);
    *data = NULL;
  }
  return s;
}

nnrt_status nnrt_dataset_load_idx(nnrt_dataset *d, const char *images, const char *labels,
                                  int max_classes) {
  memset(d, 0, sizeof *d);
  uint32_t dims[4];
  int ndims;
  unsigned char *pixels;
  nnrt_status s = read_idx(images, 3, 4, dims, &ndims, &pixels);
  if (s != NNRT_OK)
    return s;
  d->count = dims[0];
  d->channels = ndims == 4 ? (int)dims[1] : 1;
  d->height = (int)dims[ndims - 2];
  d->width = (int)dims[ndims - 1];
  d->sample_size = (size_t)d->channels * (size_t)d->height * (size_t)d->width;
  d->x = malloc(sizeof(float) * d->count * d->sample_size);
  if (!d->x) {
    free(pixels);
    memset(d, 0, sizeof *d);
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory", images);
  }
  for (size_t i = 0; i < d->count * d->sample_size; i++)
    d->x[i] = (float)pixels[i] / 255.0f;
  free(pixels);
  if (!labels)
    return NNRT_OK;

  unsigned char *raw;
  s = read_idx(labels, 1, 1, dims, &ndims, &raw);
  if (s == NNRT_OK && dims[0] != d->count)
    s = nnrt_fail(NNRT_ERR_MISMATCH, "%s: %u labels, but %s has %zu images", labels, dims[0],
                  images, d->count);
  if (s == NNRT_OK && !(d->y = malloc(sizeof(int32_t) * d->count)))
    s = nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory", labels);
  for (size_t i = 0; s == NNRT_OK && i < d->count; i++) {
    if (max_classes > 0 && raw[i] >= max_classes)
      s = nnrt_fail(NNRT_ERR_FORMAT, "%s: label %d of item %zu is out of range: the model has "
                    "%d classes", labels, raw[i], i, max_classes);
    d->y[i] = raw[i];
    if (raw[i] + 1 > d->num_classes)
      d->num_classes = raw[i] + 1;
  }
  free(raw);
  if (s != NNRT_OK)
    nnrt_dataset_free(d);
  return s;
}

void nnrt_dataset_free(nnrt_dataset *d) {
  free(d->x);
  free(d->y);
  memset(d, 0, sizeof *d);
}
