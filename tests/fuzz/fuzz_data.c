/* fuzz_data.c - libFuzzer target for the data loaders: IDX images (with or
 * without a labels file) and CSV (label columns 0 and 1), plain or gzip
 * (zlib reads both, so gzip inputs are seeds, not a mode).
 *
 * An input is  MODE FEATURES BODY:
 *   MODE bits 0-1   0 IDX images, 1 IDX images + labels, 2 CSV unlabelled,
 *                   3 CSV with a label column;
 *   MODE bit 2      max_classes 10 (else 0: no bound);
 *   FEATURES        CSV values per sample (0 must be refused);
 *   BODY            the file; for mode 1 the images, SEPARATOR, the labels.
 *
 * A load must either succeed with a data set that keeps the header's
 * promises (sizes that agree, pixels in [0, 1], finite values, labels
 * below num_classes and max_classes) or fail with an empty data set and a
 * message naming a file.  A crash, a sanitizer report or a broken promise
 * is a bug.
 */
#define _POSIX_C_SOURCE 200809L
#include "nnrt_train.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"

#define SEPARATOR "\nNNRT-LABELS\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_loaded(const nnrt_dataset *d, int images, int labelled, int max_classes) {
  FUZZ_CHECK(d->type == (images ? NNRT_SAMPLES_U8 : NNRT_SAMPLES_F32));
  FUZZ_CHECK(d->count > 0 && (images ? (void *)d->x.u8 : (void *)d->x.f32) && d->sample_size > 0);
  FUZZ_CHECK(d->sample_size == (size_t)d->channels * (size_t)d->height * (size_t)d->width);
  float *x = malloc(sizeof *x * d->sample_size);
  FUZZ_CHECK(x != NULL);
  for (size_t k = 0; k < d->count; k++) {
    nnrt_dataset_get(d, k, 1, x);
    for (size_t i = 0; i < d->sample_size; i++)
      FUZZ_CHECK(isfinite(x[i]) && (!images || (x[i] >= 0 && x[i] <= 1)));
  }
  free(x);
  FUZZ_CHECK(labelled == (d->y != NULL));
  if (!labelled) {
    FUZZ_CHECK(d->num_classes == 0);
    return;
  }
  int top = -1;
  for (size_t i = 0; i < d->count; i++) {
    FUZZ_CHECK(d->y[i] >= 0 && d->y[i] < d->num_classes);
    FUZZ_CHECK(max_classes <= 0 || d->y[i] < max_classes);
    if (d->y[i] > top)
      top = d->y[i];
  }
  FUZZ_CHECK(d->num_classes == top + 1);
}

static void check_refused(const nnrt_dataset *d, const char *a, const char *b) {
  static const nnrt_dataset empty;
  FUZZ_CHECK(memcmp(d, &empty, sizeof *d) == 0);
  const char *msg = nnrt_errmsg();
  FUZZ_CHECK(strstr(msg, a) == msg || (b && strstr(msg, b) == msg));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  int mode = data[0] & 3, max_classes = data[0] & 4 ? 10 : 0;
  size_t features = data[1];
  const uint8_t *body = data + 2;
  size_t n = size - 2;
  nnrt_dataset d;
  nnrt_status s;
  if (mode <= 1) {
    const char *images, *labels = NULL;
    if (mode == 1) {
      const uint8_t *sep = NULL;
      for (size_t i = 0; !sep && i + sizeof SEPARATOR - 1 <= n; i++)
        if (memcmp(body + i, SEPARATOR, sizeof SEPARATOR - 1) == 0)
          sep = body + i;
      size_t head = sep ? (size_t)(sep - body) : n;
      images = fuzz_file_n(0, body, head);
      size_t skip = sep ? head + sizeof SEPARATOR - 1 : n;
      labels = fuzz_file_n(1, body + skip, n - skip);
    } else {
      images = fuzz_file_n(0, body, n);
    }
    s = nnrt_dataset_load_idx(&d, images, labels, max_classes);
    if (s == NNRT_OK)
      check_loaded(&d, 1, labels != NULL, max_classes);
    else
      check_refused(&d, images, labels);
  } else {
    const char *path = fuzz_file_n(0, body, n);
    s = nnrt_dataset_load_csv(&d, path, features, mode - 2, max_classes);
    if (s == NNRT_OK) {
      check_loaded(&d, 0, mode == 3, max_classes);
      FUZZ_CHECK(d.sample_size == features);
    } else {
      check_refused(&d, path, NULL);
    }
  }
  nnrt_dataset_free(&d);
  return 0;
}
