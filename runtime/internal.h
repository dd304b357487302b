/* internal.h - helpers shared by libnnrt's sources; not part of the API. */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H

#include "nnrt.h"
#include "replace.h"

/* A failed nnrt_file as a status (NNRT_ERR_NOMEM or NNRT_ERR_IO) with its
 * message. */
nnrt_status nnrt_file_failed(const nnrt_file *f);

/* acc[0..k) += softmax(z[0..k)) / views: test-time augmentation averages
 * probabilities over views (train.c, and predict in main.c). */
void nnrt_softmax_accumulate(const float *z, long k, int views, double *acc);

#endif
