/* test_runtime.c - unit tests of libnnrt: GEMM against the naive reference
 * for every transpose, the RNG's fixed stream, initializer statistics, and
 * checkpoints (round trip; truncated, corrupted, foreign and missing files
 * refused with a message, leaving the destination untouched). */
#define _POSIX_C_SOURCE 200809L
#include "nnrt.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fill(nnrt_rng *r, float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(2 * nnrt_rng_uniform(r) - 1);
}

static void test_gemm(void) {
  nnrt_rng r;
  nnrt_rng_seed(&r, 1);
  /* (one row: a GEMV, split by columns; many rows: split by rows) */
  const int sizes[][3] = {{1, 1, 1},    {3, 5, 7},    {17, 9, 33},    {64, 64, 64}, {128, 10, 256},
                          {7, 512, 784}, {1, 512, 784}, {1, 10, 256}, {2, 300, 200}, {128, 512, 784}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (int bi = 0; bi < 3; bi++) {
          int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
          float beta = bi == 0 ? 0.0f : bi == 1 ? 1.0f : 0.5f, alpha = bi == 2 ? 2.0f : 1.0f;
          int lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
          float *a = malloc(sizeof(float) * (size_t)m * k);
          float *b = malloc(sizeof(float) * (size_t)k * n);
          float *c = malloc(sizeof(float) * (size_t)m * n);
          float *ref = malloc(sizeof(float) * (size_t)m * n);
          fill(&r, a, (size_t)m * k);
          fill(&r, b, (size_t)k * n);
          fill(&r, c, (size_t)m * n);
          if (beta == 0)  /* beta = 0 must ignore whatever C held, NaN included */
            for (int i = 0; i < m * n; i++)
              c[i] = NAN;
          memcpy(ref, c, sizeof(float) * (size_t)m * n);
          nnrt_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
          nnrt_sgemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
          double worst = 0;
          for (int i = 0; i < m * n; i++) {
            double e = fabs((double)c[i] - ref[i]) / (1.0 + fabs(ref[i]));
            if (!(e <= worst))
              worst = e;
          }
          /* float accumulation error grows with k: allow 2e-7 per term */
          CHECK(worst < 2e-7 * k + 1e-6, "%s gemm %dx%dx%d ta=%d tb=%d beta=%g: rel err %g",
                nnrt_gemm_backend(), m, n, k, ta, tb, beta, worst);
          free(a), free(b), free(c), free(ref);
        }
}

/* nnrt_parallel: every part runs exactly once, whatever the number of
 * parts against the number of threads. */
static int part_runs[40];

static void count_part(void *ctx, int part, int nparts) {
  (void)ctx;
  if (part >= 0 && part < nparts && nparts <= 40)
    __atomic_fetch_add(&part_runs[part], 1, __ATOMIC_RELAXED);
}

/* A part that starts a task of its own (a GEMM inside a split kernel)
 * runs it whole on its thread: no deadlock, every inner part once. */
static int nested_runs[4][5];

static void inner_part(void *ctx, int part, int nparts) {
  int outer = *(const int *)ctx;
  if (part < nparts && nparts == 5)
    __atomic_fetch_add(&nested_runs[outer][part], 1, __ATOMIC_RELAXED);
}

static void outer_part(void *ctx, int part, int nparts) {
  (void)ctx;
  if (part < 4 && nparts == 4)
    nnrt_parallel(inner_part, &part, 5);
}

static void test_parallel(void) {
  memset(nested_runs, 0, sizeof nested_runs);
  nnrt_parallel(outer_part, NULL, 4);
  for (int o = 0; o < 4; o++)
    for (int i = 0; i < 5; i++)
      CHECK(nested_runs[o][i] == 1, "nested: outer part %d, inner part %d ran %d times", o, i,
            nested_runs[o][i]);
  CHECK(nnrt_num_threads() >= 1, "threads: %d", nnrt_num_threads());
  for (int rep = 0; rep < 2000; rep++)
    for (int nparts = 0; nparts <= 40; nparts += 1 + rep % 7) {
      memset(part_runs, 0, sizeof part_runs);
      nnrt_parallel(count_part, NULL, nparts);
      for (int i = 0; i < 40; i++)
        CHECK(part_runs[i] == (i < nparts), "%d parts: part %d ran %d times", nparts, i,
              part_runs[i]);
    }
}

static void test_rng(void) {
  nnrt_rng r, r2;
  nnrt_rng_seed(&r, 42);
  nnrt_rng_seed(&r2, 42);
  /* The stream for seed 42 is fixed forever: initial weights depend on it.
   * These are its first values, computed by an independent implementation
   * of splitmix64 + xoshiro256** (Python, arbitrary-precision integers). */
  const uint64_t expect[3] = {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL,
                              0xae17533239e499a1ULL};
  uint64_t got[3];
  for (int i = 0; i < 3; i++)
    got[i] = nnrt_rng_next(&r);
  for (int i = 0; i < 3; i++)
    CHECK(got[i] == expect[i], "seed 42 value %d: got 0x%016llx", i,
          (unsigned long long)got[i]);
  for (int i = 0; i < 3; i++)
    nnrt_rng_next(&r2);
  CHECK(nnrt_rng_next(&r) == nnrt_rng_next(&r2), "same seed, same stream");
  int hist[10] = {0};
  for (int i = 0; i < 100000; i++) {
    double u = nnrt_rng_uniform(&r);
    CHECK(u >= 0 && u < 1, "uniform out of [0, 1): %g", u);
    uint64_t b = nnrt_rng_below(&r, 10);
    hist[b < 10 ? b : 0]++;
  }
  for (int i = 0; i < 10; i++)
    CHECK(abs(hist[i] - 10000) < 500, "below(10): bucket %d has %d of 100000", i, hist[i]);
}

/* A mask drawn in one call is the one drawn value by value (the kernels
 * drew it so before), and leaves the stream where they left it. */
static void test_rng_mask(void) {
  enum { N = 1001 };
  static float mask[N];
  static double mask64[N];
  nnrt_rng r, r2, r3;
  nnrt_rng_seed(&r, 5);
  r2 = r3 = r;
  nnrt_rng_mask_f32(&r, mask, N, 0.3, 1 / 0.7f);
  nnrt_rng_mask_f64(&r3, mask64, N, 0.3, 1 / 0.7);
  int bad = 0, kept = 0;
  for (int i = 0; i < N; i++) {
    float want = nnrt_rng_uniform(&r2) >= 0.3 ? 1 / 0.7f : 0.0f;
    bad += mask[i] != want || mask64[i] != (want ? 1 / 0.7 : 0);
    kept += want != 0;
  }
  CHECK(!bad, "nnrt_rng_mask: %d of %d values differ from one-by-one draws", bad, N);
  CHECK(kept > 600 && kept < 800, "nnrt_rng_mask: kept %d of %d at p = 0.3", kept, N);
  uint64_t next = nnrt_rng_next(&r2);
  CHECK(nnrt_rng_next(&r) == next && nnrt_rng_next(&r3) == next,
        "nnrt_rng_mask leaves the stream after its draws");
}

static void stats(const float *w, size_t n, double *mean, double *std) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) {
    s += w[i];
    s2 += (double)w[i] * w[i];
  }
  *mean = s / n;
  *std = sqrt(s2 / n - *mean * *mean);
}

static void test_init(void) {
  const size_t n = 1 << 18;
  float *w = malloc(sizeof(float) * n);
  nnrt_rng r;
  nnrt_rng_seed(&r, 7);
  double fan_in = 784, fan_out = 512, mean, std;
  struct {
    nnrt_init_kind kind;
    double arg, expect_std;
    const char *name;
  } cases[] = {
      {NNRT_INIT_NORMAL, 0.01, 0.01, "normal(0.01)"},
      {NNRT_INIT_UNIFORM, 0.05, 0.05 / sqrt(3.0), "uniform(0.05)"},
      {NNRT_INIT_XAVIER_NORMAL, 0, sqrt(2.0 / (784 + 512)), "xavier_normal"},
      {NNRT_INIT_XAVIER_UNIFORM, 0, sqrt(2.0 / (784 + 512)), "xavier_uniform"},
      {NNRT_INIT_HE_NORMAL, 0, sqrt(2.0 / 784), "he_normal"},
      {NNRT_INIT_HE_UNIFORM, 0, sqrt(2.0 / 784), "he_uniform"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nnrt_init_f32(&r, w, n, cases[i].kind, cases[i].arg, fan_in, fan_out);
    stats(w, n, &mean, &std);
    CHECK(fabs(mean) < 0.01 * cases[i].expect_std * 10, "%s: mean %g", cases[i].name, mean);
    CHECK(fabs(std / cases[i].expect_std - 1) < 0.01, "%s: std %g, expected %g",
          cases[i].name, std, cases[i].expect_std);
  }
  nnrt_init_f32(&r, w, n, NNRT_INIT_ONES, 0, 1, 1);
  CHECK(w[0] == 1 && w[n - 1] == 1, "ones");
  nnrt_init_f32(&r, w, n, NNRT_INIT_ZEROS, 0, 1, 1);
  CHECK(w[0] == 0 && w[n - 1] == 0, "zeros");
  free(w);
}

static char dir[256];

static const char *tmp_path(const char *name) {
  static char buf[512];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}

static size_t read_bytes(const char *path, unsigned char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

static void test_ckpt(void) {
  float params[100], state[10], back[100], back_state[10];
  for (int i = 0; i < 100; i++)
    params[i] = (float)i / 3;
  for (int i = 0; i < 10; i++)
    state[i] = (float)-i;
  nnrt_ckpt_section secs[2] = {{params, sizeof params}, {state, sizeof state}};
  char path[512];
  snprintf(path, sizeof path, "%s", tmp_path("model.ckpt"));
  CHECK(nnrt_ckpt_save(path, 0x1234, 4, 77, secs, 2) == NNRT_OK, "save: %s", nnrt_errmsg());

  nnrt_ckpt_section in[2] = {{back, sizeof back}, {back_state, sizeof back_state}};
  uint64_t step = 0;
  CHECK(nnrt_ckpt_load(path, 0x1234, 4, &step, in, 2) == NNRT_OK, "load: %s", nnrt_errmsg());
  CHECK(memcmp(back, params, sizeof params) == 0 && memcmp(back_state, state, sizeof state) == 0,
        "round trip is bit-exact");
  CHECK(step == 77, "step %llu", (unsigned long long)step);

  unsigned char file[2048];
  size_t n = read_bytes(path, file, sizeof file);
  const char *bad = tmp_path("bad.ckpt");
  struct {
    const char *what;
    size_t len;
    int flip;          /* byte to corrupt, or -1 */
    nnrt_status want;
    const char *msg;
  } cases[] = {
      {"truncated", n - 7, -1, NNRT_ERR_CORRUPT, "truncated"},
      {"header only", 20, -1, NNRT_ERR_FORMAT, "not an nncc checkpoint"},
      {"a flipped data byte", n, 100, NNRT_ERR_CORRUPT, "CRC mismatch"},
      {"a flipped magic byte", n, 0, NNRT_ERR_FORMAT, "not an nncc checkpoint"},
      {"empty", 0, -1, NNRT_ERR_FORMAT, "not an nncc checkpoint"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned char copy[2048];
    memcpy(copy, file, n);
    if (cases[i].flip >= 0)
      copy[cases[i].flip] ^= 0x40;
    write_bytes(bad, copy, cases[i].len);
    memset(back, 0x7f, sizeof back);
    unsigned char before[sizeof back];
    memcpy(before, back, sizeof back);
    nnrt_status s = nnrt_ckpt_load(bad, 0x1234, 4, &step, in, 2);
    CHECK(s == cases[i].want, "%s: status %s", cases[i].what, nnrt_status_str(s));
    CHECK(strstr(nnrt_errmsg(), cases[i].msg) && strstr(nnrt_errmsg(), "bad.ckpt"),
          "%s: message '%s'", cases[i].what, nnrt_errmsg());
    CHECK(memcmp(before, back, sizeof back) == 0, "%s: destination untouched", cases[i].what);
  }
  CHECK(nnrt_ckpt_load(path, 0x9999, 4, &step, in, 2) == NNRT_ERR_MISMATCH &&
            strstr(nnrt_errmsg(), "another model"),
        "foreign fingerprint: %s", nnrt_errmsg());
  CHECK(nnrt_ckpt_load(path, 0x1234, 8, &step, in, 2) == NNRT_ERR_MISMATCH,
        "f64 model, f32 file: %s", nnrt_errmsg());
  CHECK(nnrt_ckpt_load(tmp_path("missing.ckpt"), 0x1234, 4, &step, in, 2) == NNRT_ERR_IO &&
            strstr(nnrt_errmsg(), "missing.ckpt"),
        "missing file: %s", nnrt_errmsg());
  /* Saving over an existing checkpoint replaces it whole. */
  params[0] = 42;
  CHECK(nnrt_ckpt_save(path, 0x1234, 4, 78, secs, 2) == NNRT_OK, "resave");
  CHECK(nnrt_ckpt_load(path, 0x1234, 4, &step, in, 2) == NNRT_OK && back[0] == 42 && step == 78,
        "resave round trip");
  CHECK(nnrt_ckpt_save(tmp_path("no/such/dir/x.ckpt"), 1, 4, 0, secs, 2) == NNRT_ERR_IO,
        "save into a missing directory fails cleanly: %s", nnrt_errmsg());
  unlink(path);
  unlink(bad);
  CHECK(nnrt_crc32(0, "123456789", 9) == 0xcbf43926u, "CRC-32 check value");
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/nnrt-unit-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_gemm();
  test_parallel();
  test_rng();
  test_rng_mask();
  test_init();
  test_ckpt();
  rmdir(dir);
  return check_summary("test_runtime");
}
