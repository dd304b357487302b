/* npz.c - NumPy's .npz files (see npz.h).
 *
 * A zip archive is read from its end: the end-of-central-directory record,
 * then the central directory (sizes and offsets, from a zip64 extra field
 * where the 32-bit fields say 0xffffffff, as np.savez writes them), then
 * each entry's local header and data.  Entries are written stored, with a
 * fixed time stamp (1980-01-01), so the same arrays give the same bytes. */
#define _POSIX_C_SOURCE 200809L
#include "npz.h"

#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* ------------------------------------------------------------- reading */

/* The whole file, or NULL after a failure (*s says which). */
static unsigned char *slurp(const char *path, size_t *len, nnrt_status *s) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    *s = nnrt_fail(NNRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    unsigned char *nb = realloc(buf, cap * 2);
    if (!nb)
      free(buf);
    buf = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    *s = nnrt_fail(buf ? NNRT_ERR_IO : NNRT_ERR_NOMEM, "%s: %s", path,
                   buf ? "cannot read" : "out of memory");
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* Reads "(2, 3, )" into dims; false if it is not a shape. */
static int parse_shape(const char *s, nnrt_npy *a) {
  if (*s++ != '(')
    return 0;
  a->rank = 0;
  a->numel = 1;
  for (;;) {
    while (*s == ' ' || *s == ',')
      s++;
    if (*s == ')')
      return 1;
    char *end;
    long long d = strtoll(s, &end, 10);
    if (end == s || d < 0 || a->rank == NNRT_NPY_MAX_RANK || (d && a->numel > INT64_MAX / 4 / d))
      return 0;
    a->dims[a->rank++] = d;
    a->numel *= d;
    s = end;
  }
}

/* The value after 'key': in a .npy header dictionary, or NULL. */
static const char *dict_value(const char *dict, const char *key) {
  char quoted[32];
  snprintf(quoted, sizeof quoted, "'%s':", key);
  const char *p = strstr(dict, quoted);
  if (!p)
    return NULL;
  p += strlen(quoted);
  while (*p == ' ')
    p++;
  return p;
}

/* Decodes one .npy file into a; a message (without the path) if it fails. */
static const char *parse_npy(const unsigned char *p, size_t n, nnrt_npy *a) {
  if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
    return "not a .npy array (no \\x93NUMPY magic)";
  if (p[6] < 1 || p[6] > 3)
    return "a .npy format version this reader does not know";
  size_t start = p[6] == 1 ? 10 : 12;
  size_t hl = start == 10 ? rd16(p + 8) : n < 12 ? n : rd32(p + 8);
  if (n < start || hl > n - start || hl > 65536)
    return "truncated .npy header";
  char *dict = malloc(hl + 1);
  if (!dict)
    return "out of memory";
  memcpy(dict, p + start, hl);
  dict[hl] = '\0';
  const char *descr = dict_value(dict, "descr"), *fortran = dict_value(dict, "fortran_order");
  const char *shape = dict_value(dict, "shape");
  const char *why = NULL;
  static const char *const known[] = {"f4", "f8", "i4", "i8"};
  int k = 4;
  if (descr && descr[0] == '\'' && strchr("<|=", descr[1]))
    for (k = 0; k < 4 && strncmp(descr + 2, known[k], 2); k++)
      ;
  if (!descr || !fortran || !shape)
    why = "the .npy header lacks descr, fortran_order or shape";
  else if (k == 4 || descr[4] != '\'')
    why = "an element type other than little-endian float32, float64, int32 or int64";
  else if (!parse_shape(shape, a))
    why = "a .npy shape this reader does not take";
  else if (strncmp(fortran, "False", 5) && a->rank > 1)
    why = "a Fortran-order array (save it with np.ascontiguousarray)";
  free(dict);
  if (why)
    return why;
  memcpy(a->descr, known[k], 3);
  size_t esize = (size_t)(known[k][1] - '0');
  if ((uint64_t)a->numel * esize != n - start - hl)
    return "the .npy data size differs from its shape";
  a->data = malloc(sizeof(double) * (size_t)(a->numel ? a->numel : 1));
  if (!a->data)
    return "out of memory";
  const unsigned char *d = p + start + hl;
  for (int64_t i = 0; i < a->numel; i++, d += esize) {
    uint64_t bits = esize == 4 ? rd32(d) : rd64(d);
    if (known[k][0] == 'i') {
      a->data[i] = esize == 4 ? (double)(int32_t)bits : (double)(int64_t)bits;
    } else if (esize == 4) {
      uint32_t b32 = (uint32_t)bits;
      float v;
      memcpy(&v, &b32, 4);
      a->data[i] = v;
    } else {
      memcpy(&a->data[i], &bits, 8);
    }
  }
  return NULL;
}

/* An entry's data, uncompressed: the stored bytes themselves, or a buffer
 * inflated into *owned.  NULL and a message if it cannot be had. */
static const unsigned char *entry_data(const unsigned char *p, uint64_t csize, uint64_t usize,
                                       uint32_t method, unsigned char **owned,
                                       const char **why) {
  *owned = NULL;
  if (method == 0) {
    if (csize != usize)
      *why = "a stored entry whose sizes differ";
    return *why ? NULL : p;
  }
  if (method != 8) {
    *why = "compressed by a method other than deflate";
    return NULL;
  }
  if (!(*owned = malloc(usize ? usize : 1))) {
    *why = "out of memory";
    return NULL;
  }
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, -15) != Z_OK) {
    *why = "cannot start zlib";
    return NULL;
  }
  zs.next_in = (unsigned char *)p;
  zs.avail_in = (uInt)csize;
  zs.next_out = *owned;
  zs.avail_out = (uInt)usize;
  int rc = inflate(&zs, Z_FINISH);
  if (rc != Z_STREAM_END || zs.total_out != usize)
    *why = "its deflated data is corrupted";
  inflateEnd(&zs);
  return *why ? NULL : *owned;
}

/* From a central directory entry's zip64 extra field: the values whose
 * 32-bit fields are 0xffffffff, in the order the format gives. */
static void zip64_extra(const unsigned char *x, size_t xlen, uint64_t *usize, uint64_t *csize,
                        uint64_t *offset) {
  while (xlen >= 4) {
    uint32_t id = rd16(x), len = rd16(x + 2);
    if (len > xlen - 4)
      return;
    if (id == 1) {
      uint64_t *want[3] = {usize, csize, offset};
      const unsigned char *v = x + 4;
      for (int i = 0; i < 3; i++)
        if (*want[i] == 0xffffffffu && v + 8 <= x + 4 + len) {
          *want[i] = rd64(v);
          v += 8;
        }
      return;
    }
    x += 4 + len;
    xlen -= 4 + len;
  }
}

/* Reads central directory entry i at *at into z->arrays[i]; a message if
 * it fails (*at moves past the entry). */
static const char *read_entry(const unsigned char *buf, size_t len, size_t *at, nnrt_npy *a) {
  const unsigned char *c = buf + *at;
  if (*at + 46 > len || rd32(c) != 0x02014b50)
    return "a corrupted central directory";
  uint32_t method = rd16(c + 10), crc = rd32(c + 16);
  uint64_t csize = rd32(c + 20), usize = rd32(c + 24), offset = rd32(c + 42);
  size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
  if (*at + 46 + nlen + xlen + clen > len)
    return "a corrupted central directory";
  zip64_extra(c + 46 + nlen, xlen, &usize, &csize, &offset);
  *at += 46 + nlen + xlen + clen;
  if (!(a->name = malloc(nlen + 1)))
    return "out of memory";
  memcpy(a->name, c + 46, nlen);
  a->name[nlen] = '\0';
  if (nlen > 4 && !strcmp(a->name + nlen - 4, ".npy"))
    a->name[nlen - 4] = '\0';
  if (offset > len || len - offset < 30 || rd32(buf + offset) != 0x04034b50)
    return "a corrupted local header";
  const unsigned char *l = buf + offset;
  size_t head = 30 + rd16(l + 26) + (size_t)rd16(l + 28);
  if (head > len - offset || csize > len - offset - head)
    return "truncated data";
  unsigned char *owned;
  const char *why = NULL;
  const unsigned char *d = entry_data(l + head, csize, usize, method, &owned, &why);
  if (d && (uint32_t)crc32(0L, d, (uInt)usize) != crc)
    why = "CRC mismatch: the file is corrupted";
  if (d && !why)
    why = parse_npy(d, (size_t)usize, a);
  free(owned);
  return why;
}

nnrt_status nnrt_npz_read(const char *path, nnrt_npz *z) {
  memset(z, 0, sizeof *z);
  size_t len = 0;
  nnrt_status s = NNRT_OK;
  unsigned char *buf = slurp(path, &len, &s);
  if (!buf)
    return s;
  size_t e = len >= 22 ? len - 22 : 0;
  while (len >= 22 && e > 0 && len - e < 22 + 65535 && rd32(buf + e) != 0x06054b50)
    e--;
  if (len < 22 || rd32(buf + e) != 0x06054b50) {
    free(buf);
    return nnrt_fail(NNRT_ERR_FORMAT, "%s: not an .npz file (no zip end record)", path);
  }
  int n = (int)rd16(buf + e + 10);
  size_t at = rd32(buf + e + 16);
  z->arrays = calloc((size_t)(n ? n : 1), sizeof *z->arrays);
  if (!z->arrays)
    s = nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory", path);
  for (int i = 0; s == NNRT_OK && i < n; i++) {
    z->n = i + 1;
    const char *why = read_entry(buf, len, &at, &z->arrays[i]);
    if (why)
      s = nnrt_fail(!strcmp(why, "out of memory") ? NNRT_ERR_NOMEM : NNRT_ERR_FORMAT,
                    "%s: %s%s%s", path, z->arrays[i].name ? z->arrays[i].name : "",
                    z->arrays[i].name ? ": " : "", why);
    for (int k = 0; s == NNRT_OK && k < i; k++)
      if (!strcmp(z->arrays[k].name, z->arrays[i].name))
        s = nnrt_fail(NNRT_ERR_FORMAT, "%s: two arrays named '%s'", path, z->arrays[i].name);
  }
  free(buf);
  if (s != NNRT_OK)
    nnrt_npz_free(z);
  return s;
}

const nnrt_npy *nnrt_npz_find(const nnrt_npz *z, const char *name) {
  for (int i = 0; i < z->n; i++)
    if (!strcmp(z->arrays[i].name, name))
      return &z->arrays[i];
  return NULL;
}

void nnrt_npz_free(nnrt_npz *z) {
  for (int i = 0; i < z->n; i++) {
    free(z->arrays[i].name);
    free(z->arrays[i].data);
  }
  free(z->arrays);
  memset(z, 0, sizeof *z);
}

/* ------------------------------------------------------------- writing */

static void wr16(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}
static void wr32(unsigned char *p, uint32_t v) {
  wr16(p, v & 0xffff);
  wr16(p + 2, v >> 16);
}

/* The .npy file of one array (format 1.0: the header padded with spaces
 * to a multiple of 64 bytes, ending in '\n'), in malloc'd memory. */
static unsigned char *make_npy(const nnrt_npy_out *a, size_t *len) {
  char dict[400];
  int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   a->f32 ? "<f4" : "<i8");
  int64_t numel = 1;
  for (int d = 0; d < a->rank; d++) {
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld,%s", (long long)a->dims[d],
                  d + 1 < a->rank ? " " : "");
    numel *= a->dims[d];
  }
  if (a->rank > 1)
    k--;  /* (2, 3), but (5,) */
  k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
  size_t hl = ((size_t)k + 10 + 1 + 63) / 64 * 64 - 10;
  size_t data = a->f32 ? 4 * (size_t)numel : 8;
  unsigned char *p = malloc(10 + hl + data);
  if (!p)
    return NULL;
  memcpy(p, "\x93NUMPY\x01\x00", 8);
  wr16(p + 8, (uint32_t)hl);
  memset(p + 10, ' ', hl);
  memcpy(p + 10, dict, (size_t)k);
  p[10 + hl - 1] = '\n';
  unsigned char *d = p + 10 + hl;
  if (a->f32) {
    for (int64_t i = 0; i < numel; i++, d += 4) {
      uint32_t bits;
      memcpy(&bits, &a->f32[i], 4);
      wr32(d, bits);
    }
  } else {
    wr32(d, (uint32_t)(uint64_t)a->i64);
    wr32(d + 4, (uint32_t)((uint64_t)a->i64 >> 32));
  }
  *len = 10 + hl + data;
  return p;
}

/* A local header (central = 0) or a central directory entry. */
static size_t zip_header(unsigned char *h, int central, const char *name, uint32_t crc,
                         size_t size, size_t offset) {
  size_t nlen = strlen(name) + 4, o = central ? 2 : 0;
  memset(h, 0, 46);
  wr32(h, central ? 0x02014b50 : 0x04034b50);
  if (central)
    wr16(h + 4, 20);             /* made by: zip 2.0                    */
  wr16(h + 4 + o, 20);           /* needed to extract                   */
  wr16(h + 10 + o, 0);           /* time 00:00:00                       */
  wr16(h + 12 + o, 0x21);        /* date 1980-01-01                     */
  wr32(h + 14 + o, crc);
  wr32(h + 18 + o, (uint32_t)size);
  wr32(h + 22 + o, (uint32_t)size);
  wr16(h + 26 + o, (uint32_t)nlen);
  if (central)
    wr32(h + 42, (uint32_t)offset);
  size_t n = central ? 46 : 30;
  memcpy(h + n, name, nlen - 4);
  memcpy(h + n + nlen - 4, ".npy", 4);
  return n + nlen;
}

nnrt_status nnrt_npz_write(const char *path, const nnrt_npy_out *arrays, int n) {
  size_t cd_cap = 1024, cd_len = 0, offset = 0;
  unsigned char *cd = malloc(cd_cap);
  nnrt_file out;
  int rc = cd && n >= 0 && n < 65535 ? nnrt_file_replace(&out, path) : -2;
  for (int i = 0; rc == 0 && i < n; i++) {
    size_t len = 0, nlen = strlen(arrays[i].name);
    unsigned char *npy = make_npy(&arrays[i], &len);
    unsigned char *grown = cd;
    if (cd_len + 50 + nlen > cd_cap && (grown = realloc(cd, cd_cap * 2 + nlen + 50)))
      cd_cap = cd_cap * 2 + nlen + 50;
    if (!npy || !grown || nlen > 1000 || offset + len > 0xfffffff0u) {
      free(npy);
      if (grown)
        cd = grown;
      nnrt_file_abort(&out);
      rc = -2;
      break;
    }
    cd = grown;
    uint32_t crc = nnrt_crc32(0, npy, len);
    unsigned char head[30 + 1100];
    size_t hn = zip_header(head, 0, arrays[i].name, crc, len, 0);
    cd_len += zip_header(cd + cd_len, 1, arrays[i].name, crc, len, offset);
    rc = nnrt_file_write(&out, head, hn);
    if (rc == 0)
      rc = nnrt_file_write(&out, npy, len);
    offset += hn + len;
    free(npy);
  }
  unsigned char end[22] = {0};
  wr32(end, 0x06054b50);
  wr16(end + 8, (uint32_t)n);
  wr16(end + 10, (uint32_t)n);
  wr32(end + 12, (uint32_t)cd_len);
  wr32(end + 16, (uint32_t)offset);
  if (rc == 0)
    rc = nnrt_file_write(&out, cd, cd_len);
  if (rc == 0)
    rc = nnrt_file_write(&out, end, sizeof end);
  if (rc == 0)
    rc = nnrt_file_close(&out, 1);
  free(cd);
  if (rc == -2)
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory, or more arrays or bytes than a zip "
                     "without zip64 holds; nothing written", path);
  return rc == 0 ? NNRT_OK : nnrt_file_failed(&out);
}
