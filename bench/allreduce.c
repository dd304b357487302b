/* bench/allreduce.c - what one MPI_Allreduce (sum, in place) of a model's
 * gradient buffer costs on its own, without a training step around it:
 * the median of RUNS timings of REPS calls, printed by rank 0 as
 * "allreduce N floats: X ms".  Built and run by bench/mpi.sh:
 *   mpirun -np RANKS ./allreduce N */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { RUNS = 7, REPS = 50 };

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  long n = argc > 1 ? atol(argv[1]) : 0;
  float *v = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
  if (n <= 0 || n > 1L << 30 || !v) {
    if (!rank)
      fprintf(stderr, "usage: allreduce FLOATS (1 .. 2^30)\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  double t[RUNS];
  for (int r = -1; r < RUNS; r++) {  /* run -1 warms up */
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < REPS; i++)
      MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    if (r >= 0)
      t[r] = (MPI_Wtime() - t0) / REPS;
  }
  qsort(t, RUNS, sizeof t[0], by_value);
  if (!rank)
    printf("allreduce %ld floats: %.3f ms\n", n, 1e3 * t[RUNS / 2]);
  free(v);
  MPI_Finalize();
  return 0;
}
