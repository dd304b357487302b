/* fuzz_ckpt.c - libFuzzer target for the checkpoint loader, called as a
 * generated model calls it: fuzzck_load() of the model in ckpt_model.nn
 * (three sections: parameters, running statistics, optimizer state), over
 * a file holding the input.
 *
 * Each input is loaded twice: as it is, and with its last four bytes set to
 * the CRC-32 of the rest, so that mutated headers and sections also reach
 * the checks and copies behind the checksum.  A load must either succeed or
 * fail with a message naming the file; a refused file must leave the model
 * as it was (its parameters and its eval-mode output, which reads the
 * running statistics, byte for byte).  A crash, a sanitizer report or a
 * broken promise is a bug.
 *
 * NNRT_FUZZ_SEEDS=DIR fuzz_ckpt writes the seed corpus to DIR and exits:
 * checkpoints saved by the runtime (untrained and after a few steps), and
 * truncated, extended and bit-flipped copies of them.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzzck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fuzzck *model;
static const float probe[2 * fuzzck_INPUT_SIZE] = {0.5f, -1, 2, 0.25f, 3, -0.5f,
                                                   1, 1, -2, 0, 0.75f, 4};

/* What a refused load must leave alone. */
typedef struct {
  float params[fuzzck_NUM_PARAMS];
  float out[2 * fuzzck_OUTPUT_SIZE];
} state;

static void snapshot(state *s) {
  memcpy(s->params, fuzzck_params(model), sizeof s->params);
  fuzzck_forward(model, 2, probe, s->out, 0);
}

static void write_seeds(const char *dir) {
  char path[4096];
  fuzzck *m = fuzzck_create(4, 1);
  snprintf(path, sizeof path, "%s/untrained.ckpt", dir);
  FUZZ_CHECK(m && fuzzck_save(m, path) == 0);
  const float x[4 * fuzzck_INPUT_SIZE] = {1, 2, 3, 4, 5, 6, -1, 0, 1, 0, -1, 2,
                                          0, 0, 1, 1, 0, 0, 3, 2, 1, 0, -1, -2};
  const fuzzck_label_t y[4] = {0, 1, 2, 1};
  for (int i = 0; i < 3; i++)
    fuzzck_train_step(m, 4, x, y);
  snprintf(path, sizeof path, "%s/trained.ckpt", dir);
  FUZZ_CHECK(fuzzck_save(m, path) == 0);
  fuzzck_destroy(m);

  size_t n;
  unsigned char *good = fuzz_read_file(path, &n);
  /* Truncations: empty, inside the magic, the fixed header, the section
   * sizes, the data and the CRC. */
  const size_t cuts[] = {0, 1, 7, 8, 39, 40, 47, 64, n / 2, n - 5, n - 4, n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    snprintf(path, sizeof path, "%s/cut-%zu.ckpt", dir, cuts[i]);
    fuzz_write_file(path, good, cuts[i]);
  }
  /* One more byte. */
  unsigned char *longer = malloc(n + 1);
  FUZZ_CHECK(longer);
  memcpy(longer, good, n);
  longer[n] = 0;
  snprintf(path, sizeof path, "%s/extra-byte.ckpt", dir);
  fuzz_write_file(path, longer, n + 1);
  /* Bit flips in every header field, a section size, the data and the CRC. */
  const size_t flips[] = {0, 8, 12, 16, 24, 32, 40, 48, 56, 100, n / 2, n - 1};
  for (size_t i = 0; i < sizeof flips / sizeof *flips; i++) {
    memcpy(longer, good, n);
    longer[flips[i]] ^= 0x01;
    snprintf(path, sizeof path, "%s/flip-%zu.ckpt", dir, flips[i]);
    fuzz_write_file(path, longer, n);
  }
  free(longer);
  free(good);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *seeds = getenv("NNRT_FUZZ_SEEDS");
  if (seeds) {
    write_seeds(seeds);
    exit(0);
  }
  model = fuzzck_create(2, 7);
  FUZZ_CHECK(model);
  return 0;
}

static void load(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  state before, after;
  snapshot(&before);
  if (fuzzck_load(model, path) != 0) {
    FUZZ_CHECK(strstr(nnrt_errmsg(), path) == nnrt_errmsg());
    snapshot(&after);
    FUZZ_CHECK(memcmp(&before, &after, sizeof before) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  load(data, size);
  if (size >= 4) {
    uint8_t *fixed = malloc(size);
    FUZZ_CHECK(fixed);
    memcpy(fixed, data, size);
    uint32_t crc = nnrt_crc32(0, fixed, size - 4);
    for (int i = 0; i < 4; i++)
      fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    load(fixed, size);
    free(fixed);
  }
  return 0;
}
