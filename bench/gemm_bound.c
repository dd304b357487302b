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

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double u = *(const double *)a, v = *(const double *)b;
  return (u > v) - (u < v);
}

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

/* One call: C = op(A) op(B), or for a GEMV c = A b (A m x k, row-major). */
static void one(int gemv, int ta, int tb, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, float *c) {
  if (gemv)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, m, k, 1.0f, a, k, b, 1, 0.0f, c, 1);
  else
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: gemm_bound RUNS SECONDS TA,TB,M,N,K...\n");
    return 2;
  }
  int runs = atoi(argv[1]);
  double seconds = atof(argv[2]), total = 0, flops = 0;
  double *per = malloc(sizeof *per * (size_t)(runs > 0 ? runs : 1));
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
    int lda = ta ? m : k, ldb = tb ? k : n;
    double t0 = now(), t;
    long calls = 0;
    do {
      one(gemv, ta, tb, m, n, k, a, lda, b, ldb, c);
      calls++;
      t = now() - t0;
    } while (calls < 3 || t < 0.05);
    long N = (long)(seconds / (t / (double)calls));
    if (N < 1)
      N = 1;
    for (int r = 0; r < runs; r++) {
      t0 = now();
      for (long i = 0; i < N; i++)
        one(gemv, ta, tb, m, n, k, a, lda, b, ldb, c);
      per[r] = (now() - t0) / (double)N;
    }
    qsort(per, (size_t)runs, sizeof *per, cmp);
    total += per[runs / 2];
    flops += 2.0 * m * n * k;
    free(a);
    free(b);
    free(c);
  }
  printf("gemm %.9g %.6g\n", total, flops / total * 1e-9);
  free(per);
  return 0;
}
