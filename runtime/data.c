/* data.c - loading data sets: IDX and CSV files, plain or gzip (zlib reads
 * both). */
#include "nnrt_train.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
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
                       zerr == Z_ERRNO || zerr == Z_OK ? strerror(errno) : msg);
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
  /* The data is read into a buffer that doubles as it fills, so a header
   * claiming more than the file holds costs memory in proportion to the
   * file, not to the claim. */
  for (size_t have = 0, cap = 0; s == NNRT_OK && have < total; have = cap) {
    size_t want = cap ? 2 * cap : 65536; /* total <= 2^40: no overflow */
    cap = want < total ? want : total;
    unsigned char *grown = realloc(*data, cap);
    if (!grown)
      s = nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
    else
      s = read_exact(f, (*data = grown) + have, cap - have, path, "data");
  }
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
  d->type = NNRT_SAMPLES_U8;
  d->x.u8 = pixels; /* kept as stored: converted a batch at a time */
  for (int b = 0; b < 256; b++)
    d->byte_value[b] = (float)b / 255.0f; /* the conversion the loader once applied */
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
  if (d->type == NNRT_SAMPLES_U8)
    free(d->x.u8);
  else
    free(d->x.f32);
  free(d->y);
  free(d->targets);
  memset(d, 0, sizeof *d);
}

/* Bytes through the table rather than dividing each: exact by
 * construction, and at -O2 (where GCC does not vectorise the conversion)
 * about twice as fast as a division per byte (docs/performance.md). */
void nnrt_dataset_get(const nnrt_dataset *d, size_t first, size_t n, float *dst) {
  size_t len = n * d->sample_size, at = first * d->sample_size;
  if (d->type == NNRT_SAMPLES_U8) {
    const uint8_t *src = d->x.u8 + at;
    for (size_t i = 0; i < len; i++)
      dst[i] = d->byte_value[src[i]];
  } else if (len > 0) {
    memcpy(dst, d->x.f32 + at, len * sizeof *dst);
  }
}


/* ------------------------------------------------------------------ CSV */

/* Reads one line of any length into *buf (grown as needed), without its
 * "\n" or "\r\n"; *eof is set instead at the end of the file.  A last line
 * without a newline is a line. */
static nnrt_status csv_getline(gzFile f, char **buf, size_t *cap, size_t *len, int *eof,
                               const char *path) {
  *len = 0;
  *eof = 0;
  for (;;) {
    if (*cap - *len < 2) {
      size_t ncap = *cap ? 2 * *cap : 4096;
      char *nb = realloc(*buf, ncap);
      if (!nb)
        return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory for a line", path);
      *buf = nb;
      *cap = ncap;
    }
    size_t room = *cap - *len;
    if (room > (1u << 30))
      room = 1u << 30;
    if (!gzgets(f, *buf + *len, (int)room)) {
      int zerr;
      const char *msg = gzerror(f, &zerr);
      if (zerr == Z_ERRNO)
        return nnrt_fail(NNRT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
      if (zerr != Z_OK) /* Z_BUF_ERROR: a gzip stream cut short */
        return nnrt_fail(NNRT_ERR_CORRUPT, "%s: truncated or corrupted: %s", path, msg);
      if (*len == 0)
        *eof = 1;
      break;
    }
    *len += strlen(*buf + *len);
    if (*len > 0 && (*buf)[*len - 1] == '\n')
      break;
  }
  while (*len > 0 && ((*buf)[*len - 1] == '\n' || (*buf)[*len - 1] == '\r'))
    (*buf)[--*len] = '\0';
  return NNRT_OK;
}

/* Parses the field at s (up to the next comma or the end) as a finite
 * number, blanks around it allowed.  Returns the end of the field (its
 * comma or the final '\0'), or NULL if it is not a number. */
static char *csv_number(char *s, double *v) {
  char *end;
  while (*s == ' ' || *s == '\t')
    s++;
  errno = 0;
  *v = strtod(s, &end);
  if (end == s || !isfinite(*v) || errno == ERANGE)
    return NULL;
  while (*end == ' ' || *end == '\t')
    end++;
  return *end == ',' || *end == '\0' ? end : NULL;
}

/* The field at s, for a message (cut if long). */
static const char *csv_field(const char *s, char out[48]) {
  int n = (int)strcspn(s, ",");
  snprintf(out, 48, "%.*s%s", n > 32 ? 32 : n, s, n > 32 ? "..." : "");
  return out;
}

/* A header: no field is a number, or the fields are the column numbers
 * 0, 1, 2, ... (or 1, 2, 3, ...), as pandas writes for unnamed columns. */
static int csv_is_header(char *p) {
  double v;
  int numbers = 0, index0 = 1, index1 = 1;
  for (size_t i = 0; p; i++) {
    char *end = csv_number(p, &v);
    numbers += end != NULL;
    index0 = index0 && end && v == (double)i;
    index1 = index1 && end && v == (double)(i + 1);
    p = strchr(p, ',');
    p = p ? p + 1 : NULL;
  }
  return numbers == 0 || index0 || index1;
}

/* Room for rows more samples' values and labels: *cap rows, doubled. */
static nnrt_status csv_grow(nnrt_dataset *d, size_t *cap, size_t features, size_t tsize,
                            int class_ids, const char *path, size_t lineno) {
  if (d->count < *cap)
    return NNRT_OK;
  size_t ncap = *cap ? 2 * *cap : 256, row = features > tsize ? features : tsize;
  if (ncap > SIZE_MAX / sizeof(float) / row)
    return nnrt_fail(NNRT_ERR_NOMEM, "%s:%zu: out of memory", path, lineno);
  float *nx = realloc(d->x.f32, ncap * features * sizeof *nx);
  if (nx)
    d->x.f32 = nx;
  int32_t *ny = nx && class_ids ? realloc(d->y, ncap * sizeof *ny) : NULL;
  if (ny)
    d->y = ny;
  float *nt = nx && tsize ? realloc(d->targets, ncap * tsize * sizeof *nt) : NULL;
  if (nt)
    d->targets = nt;
  if (!nx || (class_ids && !ny) || (tsize && !nt))
    return nnrt_fail(NNRT_ERR_NOMEM, "%s:%zu: out of memory", path, lineno);
  *cap = ncap;
  return NNRT_OK;
}

/* The label in column col (from 0) of sample d->count: a class id, or a
 * real value (targets). */
static nnrt_status csv_label(nnrt_dataset *d, double v, size_t col, int max_classes,
                             const char *p, const char *path, size_t lineno) {
  char field[48];
  if (max_classes == NNRT_REAL_LABELS) {
    if (fabs(v) > FLT_MAX)
      return nnrt_fail(NNRT_ERR_FORMAT, "%s:%zu: column %zu: label \"%s\" is too large for a "
                       "32-bit float", path, lineno, col + 1, csv_field(p, field));
    d->targets[d->count * d->target_size + col] = (float)v;
    return NNRT_OK;
  }
  if (v != floor(v) || v < 0 || v >= INT32_MAX)
    return nnrt_fail(NNRT_ERR_FORMAT, "%s:%zu: label \"%s\" is not a class id (an integer "
                     "from 0)", path, lineno, csv_field(p, field));
  if (max_classes > 0 && v >= max_classes)
    return nnrt_fail(NNRT_ERR_FORMAT, "%s:%zu: label %.0f is out of range: the model has %d "
                     "classes", path, lineno, v, max_classes);
  d->y[d->count] = (int32_t)v;
  if ((int)v + 1 > d->num_classes)
    d->num_classes = (int)v + 1;
  return NNRT_OK;
}

nnrt_status nnrt_dataset_load_csv(nnrt_dataset *d, const char *path, size_t features,
                                  int label_columns, int max_classes) {
  memset(d, 0, sizeof *d);
  int real = max_classes == NNRT_REAL_LABELS;
  if (!path || features == 0 || features > INT32_MAX || label_columns < 0 ||
      label_columns > (real ? 65536 : 1) || max_classes < NNRT_REAL_LABELS)
    return nnrt_fail(NNRT_ERR_ARG, "%s: CSV: bad arguments (%zu features, %d label columns%s)",
                     path ? path : "(null)", features, label_columns,
                     real ? " of real values" : "");
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f)
    return nnrt_fail(NNRT_ERR_IO, "%s: cannot open: %s", path,
                     errno ? strerror(errno) : "out of memory");
  const size_t cols = features + (size_t)label_columns, lc = (size_t)label_columns;
  char *line = NULL, field[48];
  size_t line_cap = 0, len, lineno = 0, lines_seen = 0, cap_rows = 0;
  int eof = 0;
  nnrt_status s = NNRT_OK;
  d->target_size = real ? lc : 0;

  while (s == NNRT_OK) {
    s = csv_getline(f, &line, &line_cap, &len, &eof, path);
    if (s != NNRT_OK || eof)
      break;
    lineno++;
    char *p = line;
    if (lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
      p += 3; /* a UTF-8 byte order mark, as spreadsheets write */
    if (p[strspn(p, " \t")] == '\0')
      continue; /* blank lines are skipped, wherever they are */
    size_t n = 1;
    for (const char *q = p; *q; q++)
      n += *q == ',';
    if (n != cols) {
      char labels[64] = "";
      if (lc)
        snprintf(labels, sizeof labels, lc == 1 ? "a label and " : "%zu labels and ", lc);
      s = nnrt_fail(NNRT_ERR_FORMAT, "%s:%zu: %zu columns, expected %zu (%s%zu features)",
                    path, lineno, n, cols, labels, features);
      break;
    }
    if (lines_seen++ == 0 && csv_is_header(p))
      continue;
    if ((s = csv_grow(d, &cap_rows, features, d->target_size, lc && !real, path, lineno)) !=
        NNRT_OK)
      break;
    float *x = d->x.f32 + d->count * features;
    for (size_t col = 0; col < cols && s == NNRT_OK; col++) {
      double v;
      char *end = csv_number(p, &v);
      if (!end)
        s = nnrt_fail(NNRT_ERR_FORMAT, "%s:%zu: column %zu: \"%s\" is not a number", path,
                      lineno, col + 1, csv_field(p, field));
      else if (col < lc)
        s = csv_label(d, v, col, max_classes, p, path, lineno);
      else if (fabs(v) > FLT_MAX)
        s = nnrt_fail(NNRT_ERR_FORMAT, "%s:%zu: column %zu: \"%s\" is too large for a 32-bit "
                      "float", path, lineno, col + 1, csv_field(p, field));
      else
        x[col - lc] = (float)v;
      if (end)
        p = end + (*end == ',');
    }
    if (s == NNRT_OK)
      d->count++;
  }
  if (s == NNRT_OK && d->count == 0)
    s = nnrt_fail(NNRT_ERR_FORMAT, "%s:%zu: no data: the file has no samples", path, lineno);
  free(line);
  gzclose(f);
  if (s != NNRT_OK) {
    nnrt_dataset_free(d);
    return s;
  }
  d->channels = 1;
  d->height = 1;
  d->width = (int)features;
  d->sample_size = features;
  return NNRT_OK;
}

/* ------------------------------------------------------------- scaling */

double nnrt_dataset_auto_scale(const nnrt_dataset *d) {
  if (d->type == NNRT_SAMPLES_U8)
    return 255;
  int above_one = 0;
  for (size_t i = 0; i < d->count * d->sample_size; i++) {
    float v = d->x.f32[i];
    if (!(v >= 0 && v <= 255 && v == floorf(v)))
      return 1;
    above_one = above_one || v > 1;
  }
  return above_one ? 255 : 1;
}

/* Float division, as the IDX table's (float)b / 255.0f: the same pixels
 * from a CSV as from an IDX file, bit for bit. */
void nnrt_dataset_scale(nnrt_dataset *d, double scale) {
  float s = (float)scale;
  if (d->type == NNRT_SAMPLES_U8) {
    for (int b = 0; b < 256; b++)
      d->byte_value[b] = (float)b / s;
  } else if (s != 1) {
    for (size_t i = 0; i < d->count * d->sample_size; i++)
      d->x.f32[i] /= s;
  }
}
