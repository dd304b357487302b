/* gemm.c - nnrt_sgemm / nnrt_dgemm: OpenBLAS, or a portable loop nest when
 * libnnrt is built with NNRT_PORTABLE_GEMM (no BLAS on the target).
 * nnrt_sgemm_ref is the naive reference every fast path is tested against. */
#include "nnrt.h"

#ifndef NNRT_PORTABLE_GEMM
#include <cblas.h>
#endif

#define AT(x, ld, r, c, trans) ((trans) ? (x)[(size_t)(c) * (ld) + (r)] : (x)[(size_t)(r) * (ld) + (c)])

void nnrt_sgemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0;
      for (int p = 0; p < k; p++)
        acc += (double)AT(a, lda, i, p, trans_a) * AT(b, ldb, p, j, trans_b);
      float *cij = &c[(size_t)i * ldc + j];
      *cij = (float)(alpha * acc + (beta == 0 ? 0.0 : (double)beta * *cij));
    }
}

#ifdef NNRT_PORTABLE_GEMM
/* The portable loop nest, one source with the GEMM nncc copies into
 * --embed-weights output (gemm_portable.h), once per element type. */
#define GEMM_T float
#define GEMM_NAME portable_sgemm
#include "gemm_portable.h"
#undef GEMM_T
#undef GEMM_NAME
#define GEMM_T double
#define GEMM_NAME portable_dgemm
#include "gemm_portable.h"
#undef GEMM_T
#undef GEMM_NAME

void nnrt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  portable_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void nnrt_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
                int lda, const double *b, int ldb, double beta, double *c, int ldc) {
  portable_dgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *nnrt_gemm_backend(void) { return "portable"; }

#else

/* One call's operands, split into parts by rows of C (m) or, when C has
 * fewer rows than parts, by its columns (n): each part is a GEMM of its
 * own (a GEMV for one row) in OpenBLAS on one thread, run by libnnrt's
 * pool.  OpenBLAS's own threads stay off, so that one pool owns the cores
 * (pool.c). */
typedef struct {
  int trans_a, trans_b, m, n, k, lda, ldb, ldc, by_rows;
  float alpha, beta;
  const float *a, *b;
  float *c;
} SgemmCall;

static void sgemm_part(void *ctx, int part, int nparts) {
  const SgemmCall *g = ctx;
  int len = g->by_rows ? g->m : g->n;
  int lo = (int)((long long)len * part / nparts), hi = (int)((long long)len * (part + 1) / nparts);
  int m = g->by_rows ? hi - lo : g->m, n = g->by_rows ? g->n : hi - lo;
  const float *a = g->a, *b = g->b;
  float *c = g->c;
  if (g->by_rows) {
    a += g->trans_a ? (size_t)lo : (size_t)lo * g->lda;
    c += (size_t)lo * g->ldc;
  } else {
    b += g->trans_b ? (size_t)lo * g->ldb : (size_t)lo;
    c += lo;
  }
  if (m == 1) {  /* a row of A times op(B): a GEMV, several times faster than sgemm's M=1 */
    int inc_a = g->trans_a ? g->lda : 1;
    if (g->trans_b)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, n, g->k, g->alpha, b, g->ldb, a, inc_a, g->beta, c, 1);
    else
      cblas_sgemv(CblasRowMajor, CblasTrans, g->k, n, g->alpha, b, g->ldb, a, inc_a, g->beta, c, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
              g->trans_b ? CblasTrans : CblasNoTrans, m, n, g->k, g->alpha, a, g->lda, b, g->ldb,
              g->beta, c, g->ldc);
}

/* Parts for a GEMM of m x n x k: one per thread once there is enough work
 * for each (below ~64k multiply-adds a part, the hand-off costs more than
 * it saves), and no more parts than rows or columns to split. */
static int gemm_parts(int m, int n, int k) {
  enum { MIN_PART = 1 << 16 };
  double work = (double)m * n * k;
  int parts = nnrt_num_threads();
  while (parts > 1 && work / parts < MIN_PART)
    parts--;
  int len = m >= parts ? m : n;
  return parts < len ? parts : len > 0 ? len : 1;
}

/* OpenBLAS on the calling thread only, from the first GEMM on: its own
 * threads would spin (sched_yield) against libnnrt's. */
static void blas_one_thread(void) {
  static int done;
  if (!done) {
    openblas_set_num_threads(1);
    done = 1;
  }
}

void nnrt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (m == 0 || n == 0)
    return;
  blas_one_thread();
  int parts = gemm_parts(m, n, k);
  SgemmCall call = {trans_a, trans_b, m, n, k, lda, ldb, ldc, m >= parts && m > 1, alpha, beta,
                    a, b, c};
  nnrt_parallel(sgemm_part, &call, parts);
}

void nnrt_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
                int lda, const double *b, int ldb, double beta, double *c, int ldc) {
  if (m == 0 || n == 0)
    return;
  blas_one_thread();  /* (f64 code is for checking: one thread is enough) */
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *nnrt_gemm_backend(void) { return "openblas"; }

#endif
