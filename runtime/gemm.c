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
/* Loop orders chosen so the innermost loop walks memory contiguously:
 * B untransposed -> i, p, j (rows of B and C); B transposed -> i, j, p (dot
 * products of rows).  Written once as a macro body for float and double. */
#define PORTABLE_GEMM(T)                                                                  \
  for (int i = 0; i < m; i++) {                                                           \
    T *crow = c + (size_t)i * ldc;                                                        \
    if (beta == 0)                                                                        \
      for (int j = 0; j < n; j++)                                                         \
        crow[j] = 0;                                                                      \
    else if (beta != 1)                                                                   \
      for (int j = 0; j < n; j++)                                                         \
        crow[j] *= beta;                                                                  \
    if (!trans_b) {                                                                       \
      for (int p = 0; p < k; p++) {                                                       \
        T aip = alpha * AT(a, lda, i, p, trans_a);                                        \
        const T *brow = b + (size_t)p * ldb;                                              \
        for (int j = 0; j < n; j++)                                                       \
          crow[j] += aip * brow[j];                                                       \
      }                                                                                   \
    } else {                                                                              \
      for (int j = 0; j < n; j++) {                                                       \
        const T *bcol = b + (size_t)j * ldb;                                              \
        T acc = 0;                                                                        \
        for (int p = 0; p < k; p++)                                                       \
          acc += AT(a, lda, i, p, trans_a) * bcol[p];                                     \
        crow[j] += alpha * acc;                                                           \
      }                                                                                   \
    }                                                                                     \
  }

void nnrt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  PORTABLE_GEMM(float)
}

void nnrt_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
                int lda, const double *b, int ldb, double beta, double *c, int ldc) {
  PORTABLE_GEMM(double)
}

const char *nnrt_gemm_backend(void) { return "portable"; }

#else

void nnrt_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (m == 0 || n == 0)
    return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void nnrt_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
                int lda, const double *b, int ldb, double beta, double *c, int ldc) {
  if (m == 0 || n == 0)
    return;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *nnrt_gemm_backend(void) { return "openblas"; }

#endif
