/* gemm_portable.h - the portable GEMM, in one place for its two users:
 * libnnrt's gemm.c includes it when built with NNRT_PORTABLE_GEMM (once per
 * element type), and nncc copies it into --embed-weights output, which
 * needs no library (the build turns this file into a string nncc holds,
 * CMakeLists.txt).  Whoever includes it defines GEMM_T, the element type,
 * and GEMM_NAME, the function's name; nncc writes the function that follows
 * this comment with the two words replaced (float and nncc_sgemm).  It
 * must stay C99, warning-free under -Wall -Wextra -pedantic and in lines
 * under 120 columns, as generated code is. */
/* C = alpha * op(A) op(B) + beta * C, row-major; op(X) is X or X^T, op(A)
 * m x k, op(B) k x n.  The loop orders make the innermost loop walk memory
 * contiguously: B untransposed -> i, p, j (rows of B and C); B transposed
 * -> i, j, p (dot products of rows: one row of A, as a layer's GEMV at
 * batch 1, is a matrix-vector product). */
static void GEMM_NAME(int trans_a, int trans_b, int m, int n, int k, GEMM_T alpha,
                      const GEMM_T *a, int lda, const GEMM_T *b, int ldb, GEMM_T beta,
                      GEMM_T *c, int ldc) {
  const size_t astep = trans_a ? (size_t)lda : 1;  /* from one element of a row of op(A) to the next */
  for (int i = 0; i < m; i++) {
    const GEMM_T *arow = a + (trans_a ? (size_t)i : (size_t)i * lda);
    GEMM_T *crow = c + (size_t)i * ldc;
    if (beta == 0) {
      for (int j = 0; j < n; j++)
        crow[j] = 0;
    } else if (beta != 1) {
      for (int j = 0; j < n; j++)
        crow[j] *= beta;
    }
    if (!trans_b) {
      for (int p = 0; p < k; p++) {
        GEMM_T aip = alpha * arow[p * astep];
        const GEMM_T *brow = b + (size_t)p * ldb;
        for (int j = 0; j < n; j++)
          crow[j] += aip * brow[j];
      }
    } else {
      for (int j = 0; j < n; j++) {
        const GEMM_T *bcol = b + (size_t)j * ldb;
        GEMM_T acc = 0;
        for (int p = 0; p < k; p++)
          acc += arow[p * astep] * bcol[p];
        crow[j] += alpha * acc;
      }
    }
  }
}
