/*
 * nnrt_train.h - libnnrt_train, the trainer that `nncc --main` code and
 * `nncc train|test|predict` link against, beside the core (nnrt.h, which it
 * includes): IDX (plain or gzipped, through zlib) and CSV data sets, image
 * augmentations and test-time augmentation, the training driver, the SVG
 * plot of the curves, and nnrt_main, the main() of a generated trainer.
 *
 * Like the core it never exits, and prints only to a stream its caller
 * passes (nnrt_train's progress to options.out) and, in nnrt_main (main.c,
 * which owns the process's standard streams), to stdout and stderr.  Link
 * it before the core: -lnnrt_train -lnnrt (pkg-config nnrt_train).
 */
#ifndef NNRT_TRAIN_H
#define NNRT_TRAIN_H

#include <stdio.h>

#include "nnrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------------- data.c */

/* A data set in memory: count samples of sample_size values each, with
 * int32 class labels if it has labels.  Images are channels x height x
 * width; other data is 1 x 1 x sample_size.  The values are kept as the
 * file stores them, in one of two forms (type): bytes, as IDX images are,
 * where byte b stands for the float byte_value[b] (for IDX images
 * (float)b / 255.0f: pixels in [0, 1]), or floats, as CSV values are.
 * nnrt_dataset_get() gives samples as floats either way. */
typedef enum nnrt_sample_type {
  NNRT_SAMPLES_F32,      /* x.f32: count x sample_size floats, as they are */
  NNRT_SAMPLES_U8        /* x.u8: count x sample_size bytes                */
} nnrt_sample_type;

typedef struct nnrt_dataset {
  size_t count;
  int channels, height, width;
  size_t sample_size;
  nnrt_sample_type type;
  union {
    uint8_t *u8;
    float *f32;
  } x;                   /* the samples, one after another (NULL if empty) */
  float byte_value[256]; /* NNRT_SAMPLES_U8: the float each byte stands for */
  int32_t *y;            /* count labels, or NULL                           */
  int num_classes;       /* 1 + the largest label, or 0 without labels      */
} nnrt_dataset;

/* Samples [first, first + n) of d as floats into dst (n x sample_size):
 * bytes looked up in byte_value (the same floats as converting the whole
 * file at load time gave), floats copied. */
void nnrt_dataset_get(const nnrt_dataset *d, size_t first, size_t n, float *dst);

/* Reads IDX files (as MNIST and Fashion-MNIST ship them), plain or gzipped:
 * unsigned-byte images [n, h, w] (or [n, c, h, w]), kept as bytes
 * (NNRT_SAMPLES_U8, byte b standing for (float)b / 255.0f: a quarter of the
 * memory of floats), and labels [n].  Labels may be NULL.  Checks magic
 * numbers, sizes, truncation, that the counts agree and, if
 * max_classes > 0, that every label is below it.  On failure
 * d is left empty and nnrt_errmsg() names the file and the problem. */
nnrt_status nnrt_dataset_load_idx(nnrt_dataset *d, const char *images, const char *labels,
                                  int max_classes);
void nnrt_dataset_free(nnrt_dataset *d);

/* CSV, plain or gzipped: one sample per line, `label,v1,...,vn`
 * (label_columns = 1; 0 for unlabelled data), n = features values.  The
 * first line is a header, and skipped, if none of its fields is a number or
 * they are the column numbers 0, 1, 2, ... (or 1, 2, 3, ...), as pandas
 * writes.  Blank lines, CRLF line ends, a UTF-8 BOM and a last line without
 * a newline are accepted; lines may be of any length.  The values are
 * floats (NNRT_SAMPLES_F32); 8-bit pixels (every value an integer in
 * [0, 255], some above 1) are scaled to [0, 1], other values kept as they
 * are.  Checks the number of columns on every line, that values are finite
 * numbers, that labels are integers >= 0 and, if
 * max_classes > 0, below it; errors name the file and line ("data.csv:17:
 * 3 columns, expected 785 ...").  A CSV has no image shape: the samples are
 * 1 x 1 x features.  On failure d is left empty. */
nnrt_status nnrt_dataset_load_csv(nnrt_dataset *d, const char *path, size_t features,
                                  int label_columns, int max_classes);

/* ----------------------------------------------------------- augment.c */

/* Image augmentations (nnrt_augment, in nnrt.h), applied to one image
 * [channels, height, width] with values in [0, 1]; pixels from outside the
 * image are 0 (the background).  They follow torchvision's RandomRotation,
 * RandomCrop(padding=), RandomResizedCrop and RandomHorizontalFlip on tensors,
 * with bilinear interpolation and randomness from nnrt_rng alone. */
/* Applies augs[0..n) in order: src -> dst (both c*h*w floats; dst may be
 * src, in place, else they may not overlap).  scratch holds c*h*w floats.
 * The same rng state gives the same images. */
void nnrt_augment_image(const nnrt_augment *augs, int n, nnrt_rng *r, const float *src,
                        float *dst, float *scratch, int c, int h, int w);

/* The fixed transforms the augmentations and test-time augmentation use;
 * src and dst (c*h*w floats each) may not overlap.
 *
 * Rotation about the image centre, counter-clockwise on screen for a
 * positive angle, bilinear, zeros where the source lies outside: as
 * torchvision's rotate(img, degrees, BILINEAR) on a tensor (fill=None).
 * 0 degrees is the identity, multiples of 90 move pixels exactly. */
void nnrt_rotate(const float *src, float *dst, int c, int h, int w, double degrees);
/* The crop [top, top + ch) x [left, left + cw) (which may reach outside the
 * image: zeros), resized bilinearly to h x w with PyTorch's align_corners =
 * False rule (as torchvision's resized_crop).  The full crop (0, 0, h, w)
 * is the identity, exactly; whole-pixel shifts are exact. */
void nnrt_crop_resize(const float *src, float *dst, int c, int h, int w, double top,
                      double left, double ch, double cw);
void nnrt_hflip(const float *src, float *dst, int c, int h, int w);

/* Test-time augmentation (nnrt_tta, in nnrt.h): the number of views,
 * nangles (or 1) x nsizes (or 1) x (five_crops ? 5 : 1). */
int nnrt_tta_views(const nnrt_tta *t);
/* View k in [0, nnrt_tta_views(t)) of src into dst; scratch holds c*h*w
 * floats.  k = (angle * nsizes + size) * ncrops + crop, crops in the order
 * centre, top-left, top-right, bottom-left, bottom-right.  Angle 0 at the
 * full size is src, exactly (so with angles [0] and no sizes, view 0 is the
 * image itself); k out of range also gives src. */
void nnrt_tta_view(const nnrt_tta *t, int k, const float *src, float *dst, float *scratch,
                   int c, int h, int w);

/* -------------------------------------------------------------- plot.c */

/* The curves of a run: per epoch, loss and accuracy (a fraction in [0, 1])
 * of the training steps, the validation split and the test data.  Each
 * array has `epochs` values, value i for epoch i + 1; NAN marks a missing
 * value (a gap in the line), and a NULL array a missing series. */
typedef struct nnrt_curves {
  int epochs;
  const double *loss[3];      /* train, validation, test                    */
  const double *accuracy[3];  /* the same                                   */
  int best_epoch;             /* marked on both panels (1..epochs); 0: none */
} nnrt_curves;

/* An SVG file with two panels over the epochs, loss and accuracy (drawn in
 * %), a line per series given, a legend, and the best epoch marked by a
 * dashed line labelled "best epoch N".  Written as checkpoints are: through
 * a temporary file renamed over path. */
nnrt_status nnrt_plot_curves_ex(const char *path, const char *title, const nnrt_curves *c);
/* The same with train and validation series only, and no best epoch. */
nnrt_status nnrt_plot_curves(const char *path, const char *title, int epochs,
                             const double *train_loss, const double *val_loss,
                             const double *train_acc, const double *val_acc);

/* ------------------------------------------------------------- train.c */

/* What the trainer's command line can override; 0 / NULL / negative: the
 * model's train block. */
typedef struct nnrt_train_options {
  const char *data;        /* a directory with MNIST-style IDX files
                              (train-images-idx3-ubyte[.gz], ..., t10k-...)
                              or train.csv and test.csv                     */
  int epochs, batch;
  double lr;               /* < 0: the model's                              */
  double validation;       /* < 0: the model's                              */
  long long seed;          /* < 0: the model's                              */
  int no_augment;
  int tta;                 /* evaluate with test-time augmentation          */
  int patience;            /* < 0: the model's; 0: off                      */
  const char *save;        /* checkpoint, each epoch; with early stopping the
                              best so far in SAVE.best, and at the end the
                              best in SAVE (SAVE.best removed)              */
  const char *load;        /* resume from this checkpoint (and LOAD.best)   */
  const char *log;         /* per-epoch metrics, CSV                        */
  const char *plot;        /* the curves, SVG                               */
  long limit;              /* use at most this many training samples (0: all) */
  FILE *out;               /* progress and results, or NULL                 */
  int quiet;               /* out gets only the result: the test accuracy,
                              or that there was no test data               */
} nnrt_train_options;

typedef struct nnrt_train_report {
  int epochs_run, best_epoch;
  double final_train_loss, best_val_loss, best_val_accuracy;
  double test_loss, test_accuracy;   /* NAN without test data               */
  double seconds;
} nnrt_train_report;

/* Trains a model on a data set as its train block says (options override),
 * then evaluates it on the test data (without test data it says so on out,
 * and the report's test metrics are NAN).  With early stopping it ends
 * with the best epoch's weights, says which, and evaluates those.  Epoch
 * k's order and augmentations depend only on the seed and k (the model's
 * dropout on the seed and the step), so a run resumed from its checkpoint
 * (load) ends as the run it continues would have, byte for byte.  Before the first epoch it checks
 * that the checkpoints (save, SAVE.best) and the plot can be written and
 * opens the log, so a bad path fails at once; any of them failing later
 * fails the run.  An epoch that ends in refused steps (train_step's loss
 * or update not finite) or with a parameter that is not finite stops the
 * run with NNRT_ERR_NUMERIC, before it is saved. */
nnrt_status nnrt_train(const nnrt_model *api, const nnrt_train_options *opt,
                       nnrt_train_report *report);
/* Loads a checkpoint and evaluates on the data set's test split. */
nnrt_status nnrt_evaluate(const nnrt_model *api, const nnrt_train_options *opt,
                          nnrt_train_report *report);

/* -------------------------------------------------------------- main.c */

/* The command line of a generated trainer (`nncc --main`):
 *   NAME train --data DIR [options]   NAME test --load CKPT --data DIR
 *   NAME predict --load CKPT --images FILE
 * Returns the exit status; errors go to stderr. */
int nnrt_main(const nnrt_model *api, int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
