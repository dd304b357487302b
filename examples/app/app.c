/* app.c - an app that links the C nncc generates for blobs.nn, the example
 * of docs/apps.md, built three ways there: with find_package(nncc) and
 * nncc_add_model (CMakeLists.txt), with pkg-config (Makefile), and with a
 * plain cc command.
 *
 *   app DIR [TRAINED.ckpt]
 *
 * It checks what an app relies on: the same seed gives the same outputs,
 * all finite, and another seed other ones; a checkpoint saved to DIR and
 * loaded into another model gives the first one's outputs exactly; a file
 * that is not there is refused with a message, the model unchanged.  With
 * a checkpoint of blobs trained by the trainer (blobs_trainer train), it
 * also classifies the three blob centres, which must come out as classes
 * 0, 1 and 2.  Exit status 0 if all holds. */
#include "blobs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 3 };

/* The three blob centres, one sample each. */
static const float centres[BATCH * blobs_INPUT_SIZE] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};

static int failures;

static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAILED", what);
  failures += !ok;
}

/* Inference on the centres into out; whether every output is finite. */
static int infer(blobs *m, float *out) {
  blobs_forward(m, BATCH, centres, out, 0);
  for (int i = 0; i < BATCH * blobs_OUTPUT_SIZE; i++)
    if (!isfinite(out[i]))
      return 0;
  return 1;
}

static int argmax(const float *row) {
  int best = 0;
  for (int j = 1; j < blobs_OUTPUT_SIZE; j++)
    if (row[j] > row[best])
      best = j;
  return best;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s DIR [TRAINED.ckpt]\n", argv[0]);
    return 2;
  }
  blobs *a = blobs_create(BATCH, 42), *b = blobs_create(BATCH, 42), *c = blobs_create(BATCH, 7);
  if (!a || !b || !c) {
    fprintf(stderr, "app: out of memory\n");
    return 1;
  }
  float out_a[BATCH * blobs_OUTPUT_SIZE], out_b[BATCH * blobs_OUTPUT_SIZE];
  float out_c[BATCH * blobs_OUTPUT_SIZE];
  check(infer(a, out_a) && infer(b, out_b) && infer(c, out_c), "outputs finite");
  check(!memcmp(out_a, out_b, sizeof out_a), "seed 42 twice: the same outputs");
  check(memcmp(out_a, out_c, sizeof out_a) != 0, "seed 7: other outputs");

  char path[4096];
  snprintf(path, sizeof path, "%s/blobs.ckpt", argv[1]);
  int rc = blobs_save(a, path);
  if (rc != 0)
    fprintf(stderr, "app: %s\n", nnrt_errmsg());
  check(rc == 0, "saved a checkpoint");
  rc = blobs_load(c, path);
  if (rc != 0)
    fprintf(stderr, "app: %s\n", nnrt_errmsg());
  check(rc == 0 && infer(c, out_c) && !memcmp(out_a, out_c, sizeof out_a),
        "loaded into the seed-7 model: seed 42's outputs, bit for bit");

  snprintf(path, sizeof path, "%s/missing.ckpt", argv[1]);
  rc = blobs_load(b, path);
  printf("refused: %s (%s)\n", nnrt_errmsg(), nnrt_status_str((nnrt_status)rc));
  check(rc == NNRT_ERR_IO && strstr(nnrt_errmsg(), "missing.ckpt") && infer(b, out_b) &&
            !memcmp(out_a, out_b, sizeof out_a),
        "a missing checkpoint refused with its name, the model unchanged");

  if (argc == 3) {
    rc = blobs_load(a, argv[2]);
    if (rc != 0)
      fprintf(stderr, "app: %s\n", nnrt_errmsg());
    int right = rc == 0 && infer(a, out_a);
    for (int i = 0; right && i < BATCH; i++)
      right = argmax(out_a + i * blobs_OUTPUT_SIZE) == i;
    check(right, "the trained model puts each centre in its class");
  }
  blobs_destroy(a);
  blobs_destroy(b);
  blobs_destroy(c);
  printf("app: %s\n", failures ? "FAILED" : "all passed");
  return failures != 0;
}
