/* cli.h - the command line of a generated trainer (NAME train|test|predict,
 * nnrt_main) and of `nncc train|test|predict`, which compiles cli.c too:
 * one table of options (cli.c) drives the parsing, the messages and the
 * --help of both, so they cannot drift apart.  Not part of the API.
 *
 * Options are `--flag value` or `--flag=value`; a mistyped one gets the
 * nearest name ("did you mean '--epochs'?"), one given to a command it
 * does not apply to says which commands take it. */
#ifndef NNRT_CLI_H
#define NNRT_CLI_H

#include <stdio.h>

#include "nnrt_train.h"

typedef enum nnrt_command {
  NNRT_CMD_TRAIN = 1,
  NNRT_CMD_TEST = 2,
  NNRT_CMD_PREDICT = 4,
  NNRT_CMD_ALL = 7
} nnrt_command;

typedef struct nnrt_cli {
  nnrt_command cmd;
  nnrt_train_options o;    /* train and test (and --load, --tta, --batch) */
  const char *images;      /* predict: the samples (IDX, CSV, PGM/PPM)    */
  const char *out_csv;     /* predict: the predictions as CSV, or NULL    */
  long top;                /* predict: classes printed per sample         */
} nnrt_cli;

/* The command a word names ("train", "test", "predict"), or 0. */
nnrt_command nnrt_cli_command(const char *word);

/* Parses the options args[0..n) of command cmd into c (defaults first:
 * everything from the model).  Messages go to stderr, prefixed "PROG: ";
 * usage is how the usage lines start ("NAME" or "nncc", "nncc" adding the
 * model argument).  Returns -1 to go on, 0 after --help (printed to
 * stdout), 2 after a usage error (reported). */
int nnrt_cli_parse(nnrt_cli *c, nnrt_command cmd, int n, char **args, const char *prog,
                   const char *usage);

/* The usage lines and the options of the commands in cmds (NNRT_CMD_*). */
void nnrt_cli_usage(FILE *f, const char *usage, unsigned cmds);

/* The candidate nearest to word (optimal-string-alignment distance, case
 * free), or NULL if none is within a third of the word's length (at least
 * one edit, at most three): close enough to be a typo. */
const char *nnrt_closest_word(const char *word, const char *const *cands, int n);

/* Reads the header of a binary PGM or PPM image (P5, P6) from f, leaving f
 * at the first pixel: channels (1 for P5, 3 for P6), width, height and
 * maxval (1..255: 8-bit images only).  0, or -1 with *why set to what is
 * wrong (static text). */
int nnrt_pnm_header(FILE *f, int *channels, int *width, int *height, int *maxval,
                    const char **why);

#endif
