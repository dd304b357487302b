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
 * int32 class labels (y) or real-valued labels (targets, target_size a
 * sample) if it has labels.  Images are channels x height x
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
  int32_t *y;            /* count class ids, or NULL                        */
  int num_classes;       /* 1 + the largest class id, or 0 without them     */
  float *targets;        /* count x target_size real-valued labels, or NULL */
  size_t target_size;
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

/* max_classes for CSV labels that are real values, not class ids. */
#define NNRT_REAL_LABELS (-1)

/* CSV, plain or gzipped: one sample per line, the label columns first, then
 * the features values: `label,v1,...,vn` for a class id (label_columns 1;
 * 0 for unlabelled data), `t1,...,tk,v1,...,vn` for k = label_columns real
 * values (max_classes NNRT_REAL_LABELS: they go to targets).  The first
 * line is a header, and skipped, if none of its fields is a number or they
 * are the column numbers 0, 1, 2, ... (or 1, 2, 3, ...), as pandas writes.
 * Blank lines, CRLF line ends, a UTF-8 BOM and a last line without a
 * newline are accepted; lines may be of any length.  The values are floats
 * (NNRT_SAMPLES_F32), kept as the file writes them: scaling is the
 * caller's (nnrt_dataset_auto_scale, nnrt_dataset_scale).  Checks the
 * number of columns on every line, that values are finite numbers (within
 * float's range), that class ids are integers >= 0 and, if max_classes > 0,
 * below it; errors name the file and line ("data.csv:17: 3 columns,
 * expected 785 ...").  A CSV has no image shape: the samples are 1 x 1 x
 * features (the trainer gives them the model's).  On failure d is left
 * empty. */
nnrt_status nnrt_dataset_load_csv(nnrt_dataset *d, const char *path, size_t features,
                                  int label_columns, int max_classes);

/* What the values of a data set are divided by to become inputs when the
 * user does not say (decision 260): 255 for IDX bytes; for CSV values 255
 * if every value is an integer in [0, 255] and some are above 1 (8-bit
 * pixels), else 1 (kept as they are).  The trainer decides it once, from
 * the training file, and applies it to every split. */
double nnrt_dataset_auto_scale(const nnrt_dataset *d);
/* Makes every value v of d, as the file stores it, v / scale (scale > 0),
 * in float arithmetic (so CSV pixels give the same floats as IDX bytes).
 * Call it once, on a freshly loaded data set: IDX bytes are loaded as
 * b / 255, CSV values as they are. */
void nnrt_dataset_scale(nnrt_dataset *d, double scale);

/* A binary 8-bit PGM (P5, one channel) or PPM (P6, three) image as a data
 * set of one unlabelled sample [channels, height, width] (PPM's RGB
 * triples made planes), byte b standing for b / maxval: pixels in [0, 1],
 * as IDX images are.  Refuses other formats, 16-bit images and truncated
 * files, naming the file.  Images are not resized. */
nnrt_status nnrt_dataset_load_pnm(nnrt_dataset *d, const char *path);

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
 * of the training steps, the validation split and the test data, or with
 * metric another metric than the accuracy in its place.  Each array has
 * `epochs` values, value i for epoch i + 1; NAN marks a missing value (a
 * gap in the line), and a NULL array a missing series. */
typedef struct nnrt_curves {
  int epochs;
  const double *loss[3];      /* train, validation, test                    */
  const double *accuracy[3];  /* the same (metric's values with metric)     */
  int best_epoch;             /* marked on both panels (1..epochs); 0: none */
  const char *metric;         /* the second panel's metric ("MAE"), its values
                                 drawn as they are, from 0 up; NULL: the
                                 accuracy, drawn in %                       */
} nnrt_curves;

/* An SVG file with two panels over the epochs, loss and accuracy (drawn in
 * %) or c->metric, a line per series given, a legend, and the best epoch
 * marked by a dashed line labelled "best epoch N".  Written as checkpoints
 * are: through a temporary file renamed over path. */
nnrt_status nnrt_plot_curves_ex(const char *path, const char *title, const nnrt_curves *c);
/* The same with train and validation series only, the accuracy, and no
 * best epoch. */
nnrt_status nnrt_plot_curves(const char *path, const char *title, int epochs,
                             const double *train_loss, const double *val_loss,
                             const double *train_acc, const double *val_acc);

/* ------------------------------------------------------------- train.c */

/* Checks that a loaded data set fits a model: the values per sample, and
 * for a model whose input is an image (nnrt_model.input_shape) the image
 * shape: CSV rows (1 x 1 x n) take the model's, IDX images must have it.
 * Errors name path. */
nnrt_status nnrt_dataset_fit_model(const nnrt_model *api, nnrt_dataset *d, const char *path);
/* Refuses test-time augmentation (NNRT_ERR_ARG, naming path) for samples
 * without an image shape. */
nnrt_status nnrt_check_tta(const nnrt_model *api, const nnrt_dataset *d, const char *path);
/* What the trainer prints about the scaling: "inputs divided by 255 (auto:
 * 8-bit pixels, ...)", "inputs kept as they are (--scale)"; given: by the
 * user, else decided by nnrt_dataset_auto_scale of from. */
void nnrt_scale_text(char *text, size_t cap, double scale, int given, const nnrt_dataset *from);

/* What the trainer's command line can override; 0 / NULL / negative: the
 * model's train block. */
typedef struct nnrt_train_options {
  const char *data;        /* a directory with MNIST-style IDX files
                              (train-images-idx3-ubyte[.gz], ..., t10k-...)
                              or train.csv and test.csv (the model's label
                              columns first: a class id, or real values)   */
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
  const char *load_partial;  /* fine-tune: the .npz tensors (nncc weights
                                export) matching a parameter by name and
                                shape are loaded, the rest reported         */
  const char *log;         /* per-epoch metrics, CSV                        */
  const char *plot;        /* the curves, SVG                               */
  long limit;              /* use at most this many training samples (0: all) */
  double scale;            /* inputs are the data's values divided by it;
                              0: nnrt_dataset_auto_scale of the training
                              file.  The same for every split (and said)    */
  FILE *out;               /* progress and results, or NULL                 */
  int quiet;               /* out gets only the result: the test accuracy,
                              or that there was no test data               */
} nnrt_train_options;

typedef struct nnrt_train_report {
  int epochs_run, best_epoch;
  double final_train_loss, best_val_loss, best_val_accuracy;
  double test_loss, test_accuracy;   /* NAN without test data               */
  /* Models with real-valued labels: the mean squared and absolute errors of
   * output 0 against the labels (the accuracies are then NAN); NAN for
   * class labels. */
  double best_val_mse, best_val_mae, test_mse, test_mae;
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
