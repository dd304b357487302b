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

static const char magic[8] = {'N', 'N', 'R', 'T', 'C', 'K', 'P', 'T'};

/* CRC-32's table (polynomial 0xedb88320, reflected), constant so that
 * threads may checksum at the same time. */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t nnrt_crc32(uint32_t crc, const void *data, size_t n) {
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
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

/* Writes data and adds it to the CRC. */
static int write_all(nnrt_file *f, const void *data, size_t n, uint32_t *crc) {
  *crc = nnrt_crc32(*crc, data, n);
  return nnrt_file_write(f, data, n);
}

/* The header of a checkpoint, into head; its size. */
static size_t ckpt_header(unsigned char *head, uint64_t fingerprint, uint32_t elem_size,
                          uint64_t step, const nnrt_ckpt_section *sections, int nsections) {
  memset(head, 0, header_size(nsections));
  memcpy(head, magic, 8);
  put32(head + 8, NNRT_CKPT_VERSION);
  put32(head + 12, elem_size);
  put64(head + 16, fingerprint);
  put64(head + 24, step);
  put32(head + 32, (uint32_t)nsections);
  for (int i = 0; i < nsections; i++)
    put64(head + HEADER_FIXED + 8 * i, sections[i].bytes);
  return header_size(nsections);
}

nnrt_status nnrt_ckpt_save(const char *path, uint64_t fingerprint, uint32_t elem_size,
                           uint64_t step, const nnrt_ckpt_section *sections, int nsections) {
  if (!path || nsections < 0 || nsections > NNRT_CKPT_MAX_SECTIONS)
    return nnrt_fail(NNRT_ERR_ARG, "checkpoint: bad arguments");
  unsigned char head[HEADER_FIXED + 8 * NNRT_CKPT_MAX_SECTIONS];
  size_t nhead = ckpt_header(head, fingerprint, elem_size, step, sections, nsections);
  nnrt_file out;
  uint32_t crc = 0;
  int rc = nnrt_file_replace(&out, path);
  if (rc == 0)
    rc = write_all(&out, head, nhead, &crc);
  for (int i = 0; rc == 0 && i < nsections; i++)
    rc = write_all(&out, sections[i].data, (size_t)sections[i].bytes, &crc);
  if (rc == 0) {
    unsigned char tail[4];
    put32(tail, crc);
    rc = write_all(&out, tail, 4, &crc);
  }
  if (rc == 0)
    rc = nnrt_file_close(&out, 1);
  return rc == 0 ? NNRT_OK : nnrt_file_failed(&out);
}

void *nnrt_ckpt_encode(uint64_t fingerprint, uint32_t elem_size, uint64_t step,
                       const nnrt_ckpt_section *sections, int nsections, size_t *len) {
  if (nsections < 0 || nsections > NNRT_CKPT_MAX_SECTIONS) {
    nnrt_fail(NNRT_ERR_ARG, "checkpoint: bad arguments");
    return NULL;
  }
  size_t n = header_size(nsections) + 4;
  for (int i = 0; i < nsections; i++)
    n += (size_t)sections[i].bytes;
  unsigned char *p = malloc(n), *at = p;
  if (!p) {
    nnrt_fail(NNRT_ERR_NOMEM, "checkpoint: out of memory (%zu bytes)", n);
    return NULL;
  }
  at += ckpt_header(p, fingerprint, elem_size, step, sections, nsections);
  for (int i = 0; i < nsections; i++) {
    if (sections[i].bytes)
      memcpy(at, sections[i].data, (size_t)sections[i].bytes);
    at += sections[i].bytes;
  }
  put32(at, nnrt_crc32(0, p, (size_t)(at - p)));
  *len = n;
  return p;
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
      if (sections[i].bytes && sections[i].data)  /* (no data: checked, not kept) */
        memcpy(sections[i].data, p, (size_t)sections[i].bytes);
      p += sections[i].bytes;
    }
    if (step)
      *step = get64(buf + 24);
  }
  free(buf);
  return s;
}
