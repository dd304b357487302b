/* npz.h - NumPy's .npz files (a zip archive of .npy arrays), read and
 * written by one piece of code shared by libnnrt_train (--load-partial)
 * and nncc (nncc weights export|import), which compiles npz.c too.
 *
 * Reading takes what NumPy writes: np.savez (stored entries, zip64 extra
 * fields) and np.savez_compressed (deflated entries); .npy format 1.0, 2.0
 * or 3.0, little-endian f4, f8, i4 or i8 arrays in C order.  Every entry's
 * CRC-32 is checked.  Writing makes stored entries (.npy format 1.0, '<f4'
 * or '<i8') through replace.h, so a reader never sees a half-written file.
 * Every failure returns a status with nnrt_errmsg() set ("PATH: ..."). */
#ifndef NNRT_NPZ_H
#define NNRT_NPZ_H

#include "nnrt.h"

#include <stdint.h>

#define NNRT_NPY_MAX_RANK 8

typedef struct nnrt_npy {
  char *name;          /* the entry's name without ".npy": "fc1.weight"   */
  char descr[4];       /* "f4", "f8", "i4" or "i8"                        */
  int rank;
  int64_t dims[NNRT_NPY_MAX_RANK];
  int64_t numel;
  double *data;        /* numel values (exact for every type read)        */
} nnrt_npy;

typedef struct nnrt_npz {
  int n;
  nnrt_npy *arrays;
} nnrt_npz;

/* Reads every array of path; on failure *z is empty. */
nnrt_status nnrt_npz_read(const char *path, nnrt_npz *z);
/* The array of that name, or NULL. */
const nnrt_npy *nnrt_npz_find(const nnrt_npz *z, const char *name);
void nnrt_npz_free(nnrt_npz *z);

/* An array to write: float values (descr "<f4") or one int64 (rank 0,
 * "<i8"). */
typedef struct nnrt_npy_out {
  const char *name;
  int rank;
  const int64_t *dims;
  const float *f32;    /* numel floats, or NULL for the int64 below       */
  int64_t i64;
} nnrt_npy_out;

/* Writes the arrays to path, replacing it whole. */
nnrt_status nnrt_npz_write(const char *path, const nnrt_npy_out *arrays, int n);

#endif
