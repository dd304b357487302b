/* dist.h - the processes of a data-parallel run (libnnrt_train, inside).
 *
 * Run under mpirun, a trainer is one of N processes (ranks) that train one
 * model together (docs/distributed.md): each computes the gradients of its
 * part of every batch, nnrt_dist_sum averages them (one MPI_Allreduce),
 * and each applies the same update.  Built with NNRT_MPI (CMake option),
 * this is Open MPI; built without, or not started by mpirun, there is one
 * rank and every function here is cheap and local.  No other file of the
 * runtime names MPI.
 *
 * Collective functions (marked so) must be called by every rank, in the
 * same order; the trainer keeps them on paths every rank takes, and makes
 * every failure known to all (nnrt_dist_agree) before a branch, so that a
 * rank that fails stops the others instead of leaving them waiting. */
#ifndef NNRT_DIST_H
#define NNRT_DIST_H

#include "nnrt.h"

#include <stddef.h>
#include <stdint.h>

/* Joins the job if the process was started by mpirun (Open MPI's, or any
 * launcher that sets PMI or PMIx variables); else, or if called before,
 * does nothing.  Fails if the launcher started several processes but this
 * library was built without MPI. */
nnrt_status nnrt_dist_start(void);
int nnrt_dist_rank(void);  /* 0 .. size-1; 0 alone */
/* Whether a launcher (mpirun) started this process. */
int nnrt_dist_launched(void);
int nnrt_dist_size(void);  /* 1 alone */

/* Collective: s if this rank failed, else NNRT_OK if every rank is OK,
 * else a failure saying which rank failed (the lowest failing rank's
 * message is the one to print). */
nnrt_status nnrt_dist_agree(nnrt_status s);
/* Whether the last failure nnrt_dist_agree returned is another rank's to
 * tell: a lower rank failed too (alike, as a diverging run fails on every
 * rank), or only another rank failed (then rank 0 says "stopped"). */
int nnrt_dist_follower_failure(void);

/* Collective: v[0..n) becomes the sum over ranks (in place), the same on
 * every rank; nnrt_dist_sum_f32 is timed (nnrt_dist_reduce_seconds). */
void nnrt_dist_sum_f32(float *v, long n);
void nnrt_dist_sum_f64(double *v, long n);
double nnrt_dist_reduce_seconds(void);
/* Collective: whether every rank has the same h. */
int nnrt_dist_same(uint64_t h);

/* Collective: rank 0's file at path, for every rank to read on its own
 * host: on rank 0 path itself, on the others a copy in $TMPDIR (local, of
 * at most cap bytes; remove it after use).  *absent is set if rank 0 has
 * no such file (then nothing is copied, and the status is NNRT_OK). */
nnrt_status nnrt_dist_fetch(const char *path, char *local, size_t cap, int *absent);

/* Ends the job's MPI at exit: MPI_Finalize, or if this rank failed
 * without the others knowing (status not agreed), MPI_Abort, so that no
 * rank is left waiting. */
void nnrt_dist_finish(nnrt_status s);

#endif
