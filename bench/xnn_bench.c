/* xnn_bench.c - fashion_mlp and fashion_cnn (models/fashion_*.nn) at batch-1
 * inference in XNNPACK (Debian's libxnnpack-dev), through its operator API,
 * as an inference engine would run them: batchnorm folded into the weights
 * and bias of the layer before it, ReLU as the operator's output clamp,
 * dropout gone; fashion_mlp's normalize folded into its first layer too
 * (exact: no padding), fashion_cnn's done by a loop here (its padded conv
 * makes folding inexact).  Random weights: the time does not depend on them.
 * Layouts are XNNPACK's (NHWC, fully connected [out, in]).
 *
 * Times one forward at batch 1 with the procedure of timing.h and prints
 *   infer 1 MEDIAN_SECONDS_PER_STEP SAMPLES_PER_SECOND N
 *
 * Usage: xnn_bench MODEL THREADS [RUNS [SECONDS]]
 *   MODEL: fashion_mlp or fashion_cnn; THREADS: 1 runs on the caller's
 *   thread (no pool), more in a pthreadpool of that many. */
#define _POSIX_C_SOURCE 199309L
#include "timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#define MAX_OPS 8

static xnn_operator_t ops[MAX_OPS];
static int nops;
static pthreadpool_t pool;
static float *input, *normalized;
static int normalize_input; /* fashion_cnn: (x - mean) / std before conv1 */

static void check(enum xnn_status st, const char *what) {
  if (st != xnn_status_success) {
    fprintf(stderr, "xnn_bench: %s failed (status %d)\n", what, (int)st);
    exit(1);
  }
}

/* n floats, uniform in [-scale, scale), from a fixed LCG. */
static float *random_floats(size_t n, float scale) {
  static unsigned long long state = 42;
  float *p = malloc(sizeof *p * (n ? n : 1));
  if (!p) {
    fprintf(stderr, "xnn_bench: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    p[i] = scale * ((float)(state >> 40) / 16777216.0f * 2.0f - 1.0f);
  }
  return p;
}

/* A fully connected layer in -> out (weights [out, in]; bias: batchnorm
 * folded), ReLU as its clamp if relu; setup on x -> y. */
static void fully_connected(size_t in, size_t out, int relu, const float *x, float *y) {
  float *w = random_floats(in * out, 1.0f / sqrtf((float)in)), *b = random_floats(out, 0.1f);
  xnn_operator_t op;
  check(xnn_create_fully_connected_nc_f32(in, out, in, out, w, b, relu ? 0.0f : -INFINITY,
                                          INFINITY, 0, &op),
        "xnn_create_fully_connected_nc_f32");
  check(xnn_setup_fully_connected_nc_f32(op, 1, x, y, pool), "xnn_setup_fully_connected_nc_f32");
  ops[nops++] = op;
  free(w); /* XNNPACK packs the weights at creation */
  free(b);
}

/* A 3x3 pad-1 convolution cin -> cout at h x w, NHWC, batchnorm folded,
 * ReLU as its clamp. */
static void conv3x3(size_t cin, size_t cout, size_t h, size_t w, const float *x, float *y) {
  float *k = random_floats(9 * cin * cout, 1.0f / sqrtf(9.0f * (float)cin));
  float *b = random_floats(cout, 0.1f);
  xnn_operator_t op;
  check(xnn_create_convolution2d_nhwc_f32(1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, cin, cout, cin, cout, k,
                                          b, 0.0f, INFINITY, 0, &op),
        "xnn_create_convolution2d_nhwc_f32");
  check(xnn_setup_convolution2d_nhwc_f32(op, 1, h, w, x, y, pool),
        "xnn_setup_convolution2d_nhwc_f32");
  ops[nops++] = op;
  free(k);
  free(b);
}

/* A 2x2 stride-2 max pooling of c channels at h x w, NHWC. */
static void maxpool2(size_t c, size_t h, size_t w, const float *x, float *y) {
  xnn_operator_t op;
  check(xnn_create_max_pooling2d_nhwc_f32(0, 0, 0, 0, 2, 2, 2, 2, 1, 1, c, c, c, -INFINITY,
                                          INFINITY, 0, &op),
        "xnn_create_max_pooling2d_nhwc_f32");
  check(xnn_setup_max_pooling2d_nhwc_f32(op, 1, h, w, x, y, pool),
        "xnn_setup_max_pooling2d_nhwc_f32");
  ops[nops++] = op;
}

static float *buffer(size_t n) { return random_floats(n, 0.0f); }

/* 784 -> 512 -> 256 -> 10, the first two with ReLU. */
static void build_mlp(void) {
  float *h1 = buffer(512), *h2 = buffer(256), *logits = buffer(10);
  fully_connected(784, 512, 1, input, h1);
  fully_connected(512, 256, 1, h1, h2);
  fully_connected(256, 10, 0, h2, logits);
}

/* conv 1->32 at 28x28, pool, conv 32->64 at 14x14, pool, 3136 -> 128 -> 10. */
static void build_cnn(void) {
  float *c1 = buffer(784 * 32), *p1 = buffer(196 * 32), *c2 = buffer(196 * 64);
  float *p2 = buffer(49 * 64), *h = buffer(128), *logits = buffer(10);
  normalized = buffer(784);
  normalize_input = 1;
  conv3x3(1, 32, 28, 28, normalized, c1);
  maxpool2(32, 28, 28, c1, p1);
  conv3x3(32, 64, 14, 14, p1, c2);
  maxpool2(64, 14, 14, c2, p2);
  fully_connected(3136, 128, 1, p2, h);
  fully_connected(128, 10, 0, h, logits);
}

static void forward(void) {
  if (normalize_input)
    for (int i = 0; i < 784; i++)
      normalized[i] = (input[i] - 0.2860f) * (1.0f / 0.3530f);
  for (int i = 0; i < nops; i++)
    check(xnn_run_operator(ops[i], pool), "xnn_run_operator");
}

int main(int argc, char **argv) {
  int threads = argc > 2 ? atoi(argv[2]) : 0;
  int runs = argc > 3 ? atoi(argv[3]) : 7;
  double seconds = argc > 4 ? atof(argv[4]) : 0.3;
  int mlp = argc > 1 && !strcmp(argv[1], "fashion_mlp");
  if ((!mlp && (argc < 2 || strcmp(argv[1], "fashion_cnn"))) || threads < 1 || runs < 1 ||
      !(seconds > 0)) {
    fprintf(stderr, "usage: xnn_bench fashion_mlp|fashion_cnn THREADS [RUNS [SECONDS]]\n");
    return 2;
  }
  check(xnn_initialize(NULL), "xnn_initialize");
  pool = threads > 1 ? pthreadpool_create((size_t)threads) : NULL;
  input = random_floats(784, 0.5f);
  for (int i = 0; i < 784; i++)
    input[i] += 0.5f;
  if (mlp)
    build_mlp();
  else
    build_cnn();
  long n;
  double t = time_it(forward, runs, seconds, &n);
  printf("infer 1 %.9g %.6g %ld\n", t, 1 / t, n);
  for (int i = 0; i < nops; i++)
    xnn_delete_operator(ops[i]);
  if (pool)
    pthreadpool_destroy(pool);
  xnn_deinitialize();
  return 0;
}
