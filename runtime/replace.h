/* replace.h - writing files by one set of rules, shared by libnnrt
 * (checkpoints, curves, the trainer's log) and nncc (the C, the header,
 * --emit output), which compiles replace.c too.
 *
 * A file is written whole by replacement: the data goes to a temporary
 * file beside the target (TARGET.tmp.XXXXXX), renamed over the target only
 * when complete, so readers see the old file or the new one, never a
 * half-written one.  On any failure the temporary file is removed and the
 * target is as it was.  For every file written, replaced or appended to:
 *
 *  - a symbolic link is followed to its end: the file it names is written,
 *    the link stays a link;
 *  - a target that exists and is not a regular file (a directory, a fifo,
 *    a device, a socket) is refused before anything is written;
 *  - a new file gets mode 0666 & ~umask, as files made by open(2) do; a
 *    replaced file keeps its permissions.
 *
 * Each call returns 0, or -1 with f->message set ("PATH: what failed:
 * strerror", "PATH (-> TARGET): ..." if a link led elsewhere).  A failure
 * ends the file: its descriptor is closed, a temporary file removed.
 * C99 and POSIX only. */
#ifndef NNRT_REPLACE_H
#define NNRT_REPLACE_H

#include <stddef.h>

typedef struct nnrt_file {
  const char *path;   /* as the caller named it                           */
  char *target;       /* the file written: path, or where its links end   */
  char *tmp;          /* the temporary file of a replacement, or NULL     */
  int fd;             /* open, or -1                                      */
  int err;            /* after a failure: errno, or 0                     */
  char message[640];  /* after a failure: what failed, worded             */
} nnrt_file;

/* Begins replacing path: creates the temporary file. */
int nnrt_file_replace(nnrt_file *f, const char *path);
/* Opens path to write in place: appended to, or emptied first (truncate). */
int nnrt_file_append(nnrt_file *f, const char *path, int truncate);
/* Writes all of data. */
int nnrt_file_write(nnrt_file *f, const void *data, size_t n);
/* Closes the file (after fsync if sync); a replacement is renamed over its
 * target.  Call it only after the writes succeeded. */
int nnrt_file_close(nnrt_file *f, int sync);
/* Gives up: closes the file; a replacement's temporary file is removed and
 * the target left as it was.  Harmless after a failure or a close. */
void nnrt_file_abort(nnrt_file *f);
/* Whether path could be replaced now: begins a replacement and gives it
 * up, so a bad path is found before the work whose result it would hold. */
int nnrt_file_probe(nnrt_file *f, const char *path);

#endif
