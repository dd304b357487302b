/* internal.h - helpers shared by libnnrt's sources; not part of the API. */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H

#include "nnrt.h"
#include "replace.h"

/* A failed nnrt_file as a status (NNRT_ERR_NOMEM or NNRT_ERR_IO) with its
 * message. */
nnrt_status nnrt_file_failed(const nnrt_file *f);

#endif
