/* ckpt.c - checkpoint files, CRC-32 and fingerprints.
 *
 * Layout (all integers little-endian, whatever the machine):
 *
 *   0   "NNRTCKPT"            magic, 8 bytes
 *   8   u32 version           NNRT_CKPT_VERSION
 *   12  u32 elem_size         4 (f32) or 8 (f64)
 *   16  u64 fingerprint       hash of the model's structure
 *   24  u64 step              optimizer steps taken
 *   32  u32 nsections, u32 0
 *   40  u64 bytes[nsections]
 *   ..  the sections' data, in order
 *   ..  u32 crc32 of everything above
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char magic[8] = {'N', 'N', 'R', 'T', 'C', 'K', 'P', 'T'};

uint32_t nnrt_crc32(uint32_t crc, const void *data, size_t n) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint64_t nnrt_fnv1a64_parts(const char *const *parts) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *parts; parts++)
    for (const char *s = *parts; *s; s++)
      h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

uint64_t nnrt_fnv1a64(const char *s) {
  const char *const parts[2] = {s, NULL};
  return nnrt_fnv1a64_parts(parts);
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

#define HEADER_FIXED 40

static size_t header_size(int nsections) { return HEADER_FIXED + 8 * (size_t)nsections; }

static nnrt_status write_all(FILE *f, const void *data, size_t n, uint32_t *crc,
                             const char *path) {
  if (n && fwrite(data, 1, n, f) != n)
    return nnrt_fail(NNRT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
  *crc = nnrt_crc32(*crc, data, n);
  return NNRT_OK;
}

nnrt_status nnrt_ckpt_save(const char *path, uint64_t fingerprint, uint32_t elem_size,
                           uint64_t step, const nnrt_ckpt_section *sections, int nsections) {
  if (!path || nsections < 0 || nsections > NNRT_CKPT_MAX_SECTIONS)
    return nnrt_fail(NNRT_ERR_ARG, "checkpoint: bad arguments");
  nnrt_replace out;
  nnrt_status s = nnrt_replace_open(&out, path, 0644);
  if (s != NNRT_OK)
    return s;
  FILE *f = out.f;
  unsigned char head[HEADER_FIXED + 8 * NNRT_CKPT_MAX_SECTIONS];
  memset(head, 0, sizeof head);
  memcpy(head, magic, 8);
  put32(head + 8, NNRT_CKPT_VERSION);
  put32(head + 12, elem_size);
  put64(head + 16, fingerprint);
  put64(head + 24, step);
  put32(head + 32, (uint32_t)nsections);
  for (int i = 0; i < nsections; i++)
    put64(head + HEADER_FIXED + 8 * i, sections[i].bytes);
  uint32_t crc = 0;
  s = write_all(f, head, header_size(nsections), &crc, path);
  /* A test hook: NNRT_TEST_SLOW_SAVE=SECONDS pauses half way through the
   * data, so a test can kill the process mid-write (tests/e2e/trainer.sh). */
  const char *slow = getenv("NNRT_TEST_SLOW_SAVE");
  for (int i = 0; s == NNRT_OK && i < nsections; i++) {
    s = write_all(f, sections[i].data, (size_t)sections[i].bytes, &crc, path);
    if (slow && i == 0) {
      fflush(f);
      sleep((unsigned)atoi(slow));
    }
  }
  if (s == NNRT_OK) {
    unsigned char tail[4];
    put32(tail, crc);
    s = write_all(f, tail, 4, &crc, path);
  }
  return nnrt_replace_close(&out, s, 1);
}

nnrt_status nnrt_ckpt_load(const char *path, uint64_t fingerprint, uint32_t elem_size,
                           uint64_t *step, const nnrt_ckpt_section *sections, int nsections) {
  if (!path || nsections < 0 || nsections > NNRT_CKPT_MAX_SECTIONS)
    return nnrt_fail(NNRT_ERR_ARG, "checkpoint: bad arguments");
  FILE *f = fopen(path, "rb");
  if (!f)
    return nnrt_fail(NNRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t expect = header_size(nsections) + 4;
  for (int i = 0; i < nsections; i++)
    expect += (size_t)sections[i].bytes;
  /* Read one byte more than expected, to tell "too long" from "just right". */
  unsigned char *buf = malloc(expect + 1);
  if (!buf) {
    fclose(f);
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory", path);
  }
  size_t got = fread(buf, 1, expect + 1, f);
  int read_error = ferror(f);
  fclose(f);
  nnrt_status s = NNRT_OK;
  if (read_error)
    s = nnrt_fail(NNRT_ERR_IO, "%s: cannot read", path);
  else if (got < HEADER_FIXED || memcmp(buf, magic, 8) != 0)
    s = nnrt_fail(NNRT_ERR_FORMAT, "%s: not an nncc checkpoint (no NNRTCKPT header)", path);
  else if (get32(buf + 8) != NNRT_CKPT_VERSION)
    s = nnrt_fail(NNRT_ERR_FORMAT, "%s: checkpoint format version %u, but this runtime reads "
                  "version %d", path, (unsigned)get32(buf + 8), NNRT_CKPT_VERSION);
  else if (get64(buf + 16) != fingerprint)
    s = nnrt_fail(NNRT_ERR_MISMATCH, "%s: the checkpoint belongs to another model (structure "
                  "fingerprint %016llx, this model's is %016llx)", path,
                  (unsigned long long)get64(buf + 16), (unsigned long long)fingerprint);
  else if (get32(buf + 12) != elem_size)
    s = nnrt_fail(NNRT_ERR_MISMATCH, "%s: the checkpoint holds %u-byte numbers, this model "
                  "uses %u-byte numbers", path, (unsigned)get32(buf + 12), (unsigned)elem_size);
  else if (get32(buf + 32) != (uint32_t)nsections)
    s = nnrt_fail(NNRT_ERR_MISMATCH, "%s: the checkpoint has %u sections, expected %d", path,
                  (unsigned)get32(buf + 32), nsections);
  for (int i = 0; s == NNRT_OK && i < nsections; i++)
    if (got < header_size(nsections) ||
        get64(buf + HEADER_FIXED + 8 * i) != sections[i].bytes)
      s = nnrt_fail(got < header_size(nsections) ? NNRT_ERR_CORRUPT : NNRT_ERR_MISMATCH,
                    "%s: %s", path, got < header_size(nsections)
                                      ? "truncated header"
                                      : "section sizes differ from this model's");
  if (s == NNRT_OK && got < expect)
    s = nnrt_fail(NNRT_ERR_CORRUPT, "%s: truncated: %zu of %zu bytes", path, got, expect);
  else if (s == NNRT_OK && got > expect)
    s = nnrt_fail(NNRT_ERR_CORRUPT, "%s: unexpected data after the end of the checkpoint",
                  path);
  else if (s == NNRT_OK && nnrt_crc32(0, buf, expect - 4) != get32(buf + expect - 4))
    s = nnrt_fail(NNRT_ERR_CORRUPT, "%s: CRC mismatch: the file is corrupted", path);
  if (s == NNRT_OK) {
    const unsigned char *p = buf + header_size(nsections);
    for (int i = 0; i < nsections; i++) {
      if (sections[i].bytes)
        memcpy(sections[i].data, p, (size_t)sections[i].bytes);
      p += sections[i].bytes;
    }
    if (step)
      *step = get64(buf + 24);
  }
  free(buf);
  return s;
}
