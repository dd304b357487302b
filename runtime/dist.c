/* dist.c - the processes of a data-parallel run: Open MPI when built with
 * NNRT_MPI, else one process (dist.h says what each function does). */
#define _POSIX_C_SOURCE 200809L
#include "dist.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef NNRT_MPI
#include <mpi.h>
#endif

static int rank, size = 1, follower;
static double reduce_seconds;

/* How many processes the launcher that started this one says it started
 * (Open MPI's variable, then PMIx's and PMI's as other launchers set
 * them), or 0 if none did. */
static long launched(void) {
  const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v)
      return strtol(v, NULL, 10) > 0 ? strtol(v, NULL, 10) : 1;
  }
  return getenv("PMIX_RANK") ? 1 : 0;  /* PMIx without a size: a job, of some size */
}

/* One process's fetch: the file itself, *absent if it does not exist. */
static nnrt_status fetch_alone(const char *path, char *local, size_t cap, int *absent) {
  FILE *f = fopen(path, "rb");
  *absent = !f && errno == ENOENT;
  if (f)
    fclose(f);
  snprintf(local, cap, "%s", path);
  return NNRT_OK;
}

int nnrt_dist_launched(void) { return launched() > 0; }
int nnrt_dist_rank(void) { return rank; }
int nnrt_dist_size(void) { return size; }
int nnrt_dist_follower_failure(void) { return follower; }
double nnrt_dist_reduce_seconds(void) { return reduce_seconds; }

#ifndef NNRT_MPI

nnrt_status nnrt_dist_start(void) {
  long n = launched();
  if (n > 1)
    return nnrt_fail(NNRT_ERR_ARG, "started as one of %ld processes (mpirun), but this "
                     "libnnrt_train was built without MPI, so each would train alone: build nncc "
                     "with cmake -DNNRT_MPI=ON (docs/distributed.md)", n);
  return NNRT_OK;
}

nnrt_status nnrt_dist_agree(nnrt_status s) { return s; }
void nnrt_dist_sum_f32(float *v, long n) { (void)v, (void)n; }
void nnrt_dist_sum_f64(double *v, long n) { (void)v, (void)n; }
int nnrt_dist_same(uint64_t h) { return (void)h, 1; }

nnrt_status nnrt_dist_fetch(const char *path, char *local, size_t cap, int *absent) {
  return fetch_alone(path, local, cap, absent);
}

void nnrt_dist_finish(nnrt_status s) { (void)s; }

#else

static int started, agreed;  /* MPI_Init done; the last failure known to every rank */

static void finalize_at_exit(void) {
  int done = 0;
  MPI_Finalized(&done);
  if (!done)
    MPI_Finalize();
}

nnrt_status nnrt_dist_start(void) {
  if (started || !launched())
    return NNRT_OK;  /* not started by a launcher: one process, without MPI */
  int already = 0, level;
  MPI_Initialized(&already);
  if (!already && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &level) != MPI_SUCCESS)
    return nnrt_fail(NNRT_ERR_ARG, "mpirun started this process, but MPI_Init failed");
  if (!already)
    atexit(finalize_at_exit);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  started = 1;
  return NNRT_OK;
}

nnrt_status nnrt_dist_agree(nnrt_status s) {
  if (size == 1)
    return s;
  int mine[2] = {s != NNRT_OK ? rank : size, (int)s}, first[2];
  MPI_Allreduce(mine, first, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD);
  agreed = first[0] < size;
  follower = first[0] < size && first[0] != rank;  /* the lowest failing rank speaks */
  if (first[0] == size || s != NNRT_OK)
    return s;
  return nnrt_fail((nnrt_status)first[1], "stopped: rank %d of %d failed (its message says why)",
                   first[0], size);
}

void nnrt_dist_sum_f32(float *v, long n) {
  if (size == 1)
    return;
  double t0 = MPI_Wtime();
  for (long done = 0; done < n; done += INT_MAX)
    MPI_Allreduce(MPI_IN_PLACE, v + done, n - done < INT_MAX ? (int)(n - done) : INT_MAX,
                  MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  reduce_seconds += MPI_Wtime() - t0;
}

void nnrt_dist_sum_f64(double *v, long n) {
  if (size > 1)
    MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

int nnrt_dist_same(uint64_t h) {
  if (size == 1)
    return 1;
  uint64_t v[2] = {h, ~h}, most[2];  /* the largest h and, as ~(largest ~h), the smallest */
  MPI_Allreduce(v, most, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return most[0] == ~most[1];
}

/* Rank 0's bytes of path (the size first: -1 unreadable, -2 absent) to
 * every rank. */
nnrt_status nnrt_dist_fetch(const char *path, char *local, size_t cap, int *absent) {
  if (size == 1)
    return fetch_alone(path, local, cap, absent);
  snprintf(local, cap, "%s", path);
  *absent = 0;
  long long n = 0;
  char *bytes = NULL;
  nnrt_status s = NNRT_OK;
  if (rank == 0) {
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOENT)
      n = -2;
    else if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
             !(bytes = malloc((size_t)n + 1)) || fread(bytes, 1, (size_t)n, f) != (size_t)n)
      n = -1, s = nnrt_fail(NNRT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (f)
      fclose(f);
  }
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  *absent = n == -2;
  if (n < 0) {
    free(bytes);
    if (n == -1 && rank)
      s = nnrt_fail(NNRT_ERR_IO, "%s: rank 0 cannot read it", path);
    return s;
  }
  if (rank && !(bytes = malloc((size_t)n + 1)))
    s = nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory for a copy of %lld bytes", path, n);
  if ((s = nnrt_dist_agree(s)) != NNRT_OK) {
    free(bytes);
    return s;
  }
  for (long long done = 0; done < n; done += INT_MAX)
    MPI_Bcast(bytes + done, n - done < INT_MAX ? (int)(n - done) : INT_MAX, MPI_BYTE, 0,
              MPI_COMM_WORLD);
  if (rank) {
    const char *tmp = getenv("TMPDIR");
    snprintf(local, cap, "%s/nnrt-rank%d-XXXXXX", tmp && *tmp ? tmp : "/tmp", rank);
    int fd = mkstemp(local);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int ok = f && fwrite(bytes, 1, (size_t)n, f) == (size_t)n;
    if (f ? fclose(f) != 0 : (fd >= 0 && close(fd) != 0))
      ok = 0;
    if (!ok) {
      s = nnrt_fail(NNRT_ERR_IO, "%s: cannot write rank %d's copy of %s: %s", local, rank, path,
                    strerror(errno));
      if (fd >= 0)
        remove(local);
    }
  }
  free(bytes);
  return nnrt_dist_agree(s);
}

void nnrt_dist_finish(nnrt_status s) {
  if (!started)
    return;
  if (s != NNRT_OK && !agreed && size > 1)
    MPI_Abort(MPI_COMM_WORLD, 1);  /* the others may be waiting for this rank */
  finalize_at_exit();
}

#endif
