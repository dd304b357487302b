/* gemm_bound.c - times OpenBLAS's cblas_sgemm, with its own threads
 * (OPENBLAS_NUM_THREADS), not libnnrt's split of it, on a list of GEMM shapes, the
 * same way bench.c times a step (warm-up, RUNS runs of N calls, median),
 * and prints the sum of the medians and the FLOP rate it implies:
 *   gemm SUM_SECONDS GFLOPS
 * A shape is TA,TB,M,N,K (TA, TB: 0 or 1 for op(A) = A or A^T), or v,M,N
 * for a GEMV: cblas_sgemv of a row-major M x N matrix (a linear layer's
 * weights, [out, in]) by a vector (one sample).
 *
 * Usage: gemm_bound RUNS SECONDS SHAPE... */
#define _POSIX_C_SOURCE 199309L
#include "nnrt.h"

#include <cblas.h>

#include "timing.h"

#include <stdio.h>
#include <stdlib.h>

static float *filled(size_t n) {
  float *p = malloc(sizeof *p * (n ? n : 1));
  if (!p) {
    fprintf(stderr, "gemm_bound: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++)
    p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
  return p;
}

/* The shape being timed, for one(): C = op(A) op(B), or for a GEMV c = A b
 * (A m x k, row-major). */
static struct {
  int gemv, ta, tb, m, n, k, lda, ldb;
  const float *a, *b;
  float *c;
} g;

static void one(void) {
  if (g.gemv)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, g.m, g.k, 1.0f, g.a, g.k, g.b, 1, 0.0f, g.c, 1);
  else
    cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans,
                g.m, g.n, g.k, 1.0f, g.a, g.lda, g.b, g.ldb, 0.0f, g.c, g.n);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: gemm_bound RUNS SECONDS TA,TB,M,N,K...\n");
    return 2;
  }
  int runs = atoi(argv[1]);
  double seconds = atof(argv[2]), total = 0, flops = 0;
  for (int s = 3; s < argc; s++) {
    int ta = 0, tb = 0, m, n, k = 1, gemv = argv[s][0] == 'v';
    if (gemv ? sscanf(argv[s], "v,%d,%d", &m, &n) != 2 || m < 1 || n < 1
             : sscanf(argv[s], "%d,%d,%d,%d,%d", &ta, &tb, &m, &n, &k) != 5 || m < 1 || n < 1 || k < 1) {
      fprintf(stderr, "gemm_bound: bad shape %s\n", argv[s]);
      return 2;
    }
    if (gemv) /* y[m] = A[m x n] x[n]: as a GEMM, M=m, N=1, K=n */
      k = n, n = 1;
    float *a = filled((size_t)m * k), *b = filled((size_t)k * n), *c = filled((size_t)m * n);
    g.gemv = gemv, g.ta = ta, g.tb = tb, g.m = m, g.n = n, g.k = k;
    g.lda = ta ? m : k, g.ldb = tb ? k : n, g.a = a, g.b = b, g.c = c;
    long iters;
    total += time_it(one, runs, seconds, &iters);
    flops += 2.0 * m * n * k;
    free(a);
    free(b);
    free(c);
  }
  printf("gemm %.9g %.6g\n", total, flops / total * 1e-9);
  return 0;
}
