/* main.c - nnrt_main: the command line of a generated trainer.
 *
 *   NAME train --data DIR [options]     train, then evaluate on the test data
 *   NAME test --load CKPT --data DIR    evaluate a checkpoint
 *   NAME predict --load CKPT --images FILE
 *
 * It is the one place in libnnrt that writes to stderr, because it is the
 * program's main: it returns the exit status (0 ok, 1 failure, 2 usage). */
#include "nnrt_train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f, const char *prog) {
  fprintf(f,
          "usage: %s train --data DIR [options]\n"
          "       %s test --load CKPT --data DIR [--tta] [--batch N]\n"
          "       %s predict --load CKPT --images FILE [--tta]\n"
          "\n"
          "DIR holds MNIST-style IDX files (train-images-idx3-ubyte[.gz],\n"
          "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-...)\n"
          "or train.csv and test.csv (label first).  Fashion-MNIST comes with Debian's\n"
          "dataset-fashion-mnist, in /usr/share/datasets/fashion-mnist.\n"
          "\n"
          "train options (defaults: the model's train block):\n"
          "  --epochs N  --batch N  --lr X  --seed N\n"
          "  --validation F     fraction of the training data held out\n"
          "  --patience N       early stopping (0: off)\n"
          "  --no-augment       train without the augmentations\n"
          "  --tta              also evaluate with test-time augmentation\n"
          "  --save PATH        checkpoint after each epoch; with early stopping, the best\n"
          "                     epoch's at the end (PATH.best holds it during the run)\n"
          "  --load PATH        resume from a checkpoint (exactly, with the same --seed\n"
          "                     and --epochs)\n"
          "  --log FILE.csv     per-epoch metrics\n"
          "  --plot FILE.svg    loss and accuracy curves\n"
          "  --limit N          use only the first N training samples\n"
          "  --quiet            print only the result\n",
          prog, prog, prog);
}

/* The value of a numeric flag in [min, max] (max itself excluded if
 * max_open), or min with *bad set and a message.  The ranges are those of
 * the .nn language's train block (compiler/train.c), so a flag never wraps
 * or truncates.  A missing value is left to the caller to report. */
static long integer_flag(const char *prog, const char *flag, const char *v, long min, long max,
                         int *bad) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : min;
  if (v && (*end || end == v || errno || x < min || x > max)) {
    fprintf(stderr, "%s: %s needs an integer in [%ld, %ld], got '%s'\n", prog, flag, min, max,
            v);
    *bad = 1;
    return min;
  }
  return x;
}

static double number_flag(const char *prog, const char *flag, const char *v, double min,
                          double max, int max_open, int *bad) {
  char *end;
  errno = 0;
  double x = v ? strtod(v, &end) : min;
  if (v && (*end || end == v || errno || !(x >= min && (max_open ? x < max : x <= max)))) {
    fprintf(stderr, "%s: %s needs a number in [%g, %g%s, got '%s'\n", prog, flag, min, max,
            max_open ? ")" : "]", v);
    *bad = 1;
    return min;
  }
  return x;
}

static int predict(const nnrt_model *api, const char *prog, const char *ckpt,
                   const char *images, int tta) {
  nnrt_dataset d;
  size_t n = strlen(images);
  nnrt_status s = n > 4 && !strcmp(images + n - 4, ".csv")
                      ? nnrt_dataset_load_csv(&d, images, (size_t)api->input_size, 0, 0)
                      : nnrt_dataset_load_idx(&d, images, NULL, 0);
  if (s != NNRT_OK) {
    fprintf(stderr, "%s: %s\n", prog, nnrt_errmsg());
    return 1;
  }
  if ((long)d.sample_size != api->input_size) {
    fprintf(stderr, "%s: %s: samples of %zu values, but the model takes %ld\n", prog, images,
            d.sample_size, api->input_size);
    nnrt_dataset_free(&d);
    return 1;
  }
  enum { B = 256 };
  void *m = api->create(B, 0);
  if (!m || api->load(m, ckpt) != 0) {
    fprintf(stderr, "%s: %s\n", prog, m ? nnrt_errmsg() : "out of memory");
    if (m)
      api->destroy(m);
    nnrt_dataset_free(&d);
    return 1;
  }
  const nnrt_tta *views = tta && api->config && api->config->has_tta ? &api->config->tta : NULL;
  int nviews = views ? nnrt_tta_views(views) : 1;
  long out = api->output_size;
  float *x = malloc(sizeof(float) * d.sample_size * B);
  float *y = malloc(sizeof(float) * (size_t)out * B);
  double *sum = malloc(sizeof(double) * (size_t)out * B);
  float *scratch = malloc(sizeof(float) * d.sample_size);
  float *one = malloc(sizeof(float) * d.sample_size);
  if (!x || !y || !sum || !scratch || !one) {
    fprintf(stderr, "%s: out of memory for batches of %d\n", prog, B);
    free(x), free(y), free(sum), free(scratch), free(one);
    api->destroy(m);
    nnrt_dataset_free(&d);
    return 1;
  }
  for (size_t start = 0; start < d.count; start += B) {
    int b = d.count - start < B ? (int)(d.count - start) : B;
    memset(sum, 0, sizeof(double) * (size_t)out * (size_t)b);
    for (int v = 0; v < nviews; v++) {
      if (!views)
        nnrt_dataset_get(&d, start, (size_t)b, x);
      else
        for (int i = 0; i < b; i++) {
          nnrt_dataset_get(&d, start + (size_t)i, 1, one);
          nnrt_tta_view(views, v, one, x + (size_t)i * d.sample_size, scratch, d.channels,
                        d.height, d.width);
        }
      api->forward(m, b, x, y, 0);
      for (size_t i = 0; i < (size_t)b * (size_t)out; i++)
        sum[i] += y[i];
    }
    for (int i = 0; i < b; i++) {
      const double *z = sum + (size_t)i * (size_t)out;
      if (api->num_classes > 0 && out == api->num_classes) {
        int best = 0;
        for (long c = 1; c < out; c++)
          if (z[c] > z[best])
            best = (int)c;
        printf("%zu %d\n", start + (size_t)i, best);
      } else {
        printf("%zu", start + (size_t)i);
        for (long c = 0; c < out; c++)
          printf(" %.6g", z[c] / nviews);
        printf("\n");
      }
    }
  }
  free(x), free(y), free(sum), free(scratch), free(one);
  api->destroy(m);
  nnrt_dataset_free(&d);
  return 0;
}

int nnrt_main(const nnrt_model *api, int argc, char **argv) {
  const char *prog = argc > 0 ? argv[0] : api->name;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout, prog);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "train") && strcmp(cmd, "test") && strcmp(cmd, "predict")) {
    fprintf(stderr, "%s: unknown command '%s': expected train, test or predict\n", prog, cmd);
    return 2;
  }
  nnrt_train_options o;
  memset(&o, 0, sizeof o);
  o.lr = o.validation = -1;
  o.seed = o.patience = -1;
  o.out = stdout;
  const char *images = NULL;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1, bad = 0;
    if (!strcmp(a, "--data"))
      o.data = v;
    else if (!strcmp(a, "--images"))
      images = v;
    else if (!strcmp(a, "--save"))
      o.save = v;
    else if (!strcmp(a, "--load"))
      o.load = v;
    else if (!strcmp(a, "--log"))
      o.log = v;
    else if (!strcmp(a, "--plot"))
      o.plot = v;
    else if (!strcmp(a, "--epochs"))
      o.epochs = (int)integer_flag(prog, a, v, 1, 1000000, &bad);
    else if (!strcmp(a, "--batch"))
      o.batch = (int)integer_flag(prog, a, v, 1, 1 << 20, &bad);
    else if (!strcmp(a, "--seed"))
      o.seed = integer_flag(prog, a, v, 0, 2147483647, &bad);
    else if (!strcmp(a, "--patience"))  /* 0: off */
      o.patience = (int)integer_flag(prog, a, v, 0, 1000000, &bad);
    else if (!strcmp(a, "--limit"))
      o.limit = integer_flag(prog, a, v, 1, 2147483647, &bad);
    else if (!strcmp(a, "--lr"))
      o.lr = number_flag(prog, a, v, 0, 1e30, 0, &bad);
    else if (!strcmp(a, "--validation"))
      o.validation = number_flag(prog, a, v, 0, 1, 1, &bad);
    else if (!strcmp(a, "--no-augment"))
      o.no_augment = 1, takes = 0;
    else if (!strcmp(a, "--tta"))
      o.tta = 1, takes = 0;
    else if (!strcmp(a, "--quiet"))
      o.quiet = 1, takes = 0;
    else {
      fprintf(stderr, "%s: unknown option '%s' (see %s --help)\n", prog, a, prog);
      return 2;
    }
    if (takes && !v) {
      fprintf(stderr, "%s: %s needs a value\n", prog, a);
      return 2;
    }
    if (bad)
      return 2;  /* reported */
    i += takes;
  }
  if (!strcmp(cmd, "predict")) {
    if (!o.load || !images) {
      fprintf(stderr, "%s: predict needs --load CKPT and --images FILE\n", prog);
      return 2;
    }
    return predict(api, prog, o.load, images, o.tta);
  }
  nnrt_train_report r;
  nnrt_status s;
  if (!strcmp(cmd, "test")) {
    if (!o.load) {
      fprintf(stderr, "%s: test needs --load CKPT\n", prog);
      return 2;
    }
    s = nnrt_evaluate(api, &o, &r);
  } else {
    s = nnrt_train(api, &o, &r);
  }
  if (s != NNRT_OK) {
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", prog, nnrt_errmsg());
    return 1;
  }
  return 0;
}
