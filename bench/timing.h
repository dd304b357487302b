/* timing.h - the timing procedure shared by the benchmark drivers (bench.c,
 * xnn_bench.c): a warm-up, a calibration that picks N, the iterations per
 * run (a run then takes about SECONDS), then RUNS runs of N iterations; the
 * median seconds per call.  Header-only (static functions): each driver is
 * one translation unit. */
#ifndef BENCH_TIMING_H
#define BENCH_TIMING_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double u = *(const double *)a, v = *(const double *)b;
  return (u > v) - (u < v);
}

/* The median seconds per call of fn over runs runs; *iters gets N. */
static double time_it(void (*fn)(void), int runs, double seconds, long *iters) {
  /* warm-up: at least 3 calls and 0.2 s (or one run's length, if shorter);
   * then N from a separate calibration of at least 2 calls and 0.1 s */
  double warm = seconds < 0.2 ? seconds : 0.2, t0 = now(), t;
  long n = 0;
  do {
    fn();
    n++;
    t = now() - t0;
  } while (n < 3 || t < warm);
  t0 = now();
  n = 0;
  do {
    fn();
    n++;
    t = now() - t0;
  } while (n < 2 || t < 0.1);
  long N = (long)(seconds / (t / (double)n) + 0.5);
  if (N < 1)
    N = 1;
  double *per = malloc(sizeof *per * (size_t)runs);
  if (!per) {
    fprintf(stderr, "time_it: out of memory\n");
    exit(1);
  }
  for (int r = 0; r < runs; r++) {
    t0 = now();
    for (long i = 0; i < N; i++)
      fn();
    per[r] = (now() - t0) / (double)N;
  }
  qsort(per, (size_t)runs, sizeof *per, cmp_double);
  double med = runs % 2 ? per[runs / 2] : 0.5 * (per[runs / 2 - 1] + per[runs / 2]);
  free(per);
  *iters = N;
  return med;
}

#endif
