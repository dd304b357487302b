/* main.c - nnrt_main: the command line of a generated trainer.
 *
 *   NAME train --data DIR [options]     train, then evaluate on the test data
 *   NAME test --load CKPT --data DIR    evaluate a checkpoint
 *   NAME predict --load CKPT --images FILE
 *
 * It is the one place in libnnrt that writes to stderr, because it is the
 * program's main: it returns the exit status (0 ok, 1 failure, 2 usage). */
#include "cli.h"
#include "nnrt_train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* The program's name for messages: argv[0] without its directory (a
 * trainer run by `nncc train` is given "nncc train"). */
static const char *program_name(const nnrt_model *api, int argc, char **argv) {
  if (argc < 1 || !argv[0] || !argv[0][0])
    return api->name;
  const char *slash = strrchr(argv[0], '/');
  return slash && slash[1] ? slash + 1 : argv[0];
}

int nnrt_main(const nnrt_model *api, int argc, char **argv) {
  const char *prog = program_name(api, argc, argv);
  /* usage lines name the program as run ("nncc train" shows nncc's form) */
  const char *usage = strncmp(prog, "nncc ", 5) ? prog : "nncc";
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    nnrt_cli_usage(argc < 2 ? stderr : stdout, usage, NNRT_CMD_ALL);
    return argc < 2 ? 2 : 0;
  }
  nnrt_command cmd = nnrt_cli_command(argv[1]);
  if (!cmd) {
    const char *const names[] = {"train", "test", "predict"};
    const char *near = nnrt_closest_word(argv[1], names, 3);
    fprintf(stderr, "%s: unknown command '%s'%s%s%s: expected train, test or predict\n", prog,
            argv[1], near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    return 2;
  }
  nnrt_cli c;
  int status = nnrt_cli_parse(&c, cmd, argc - 2, argv + 2, prog, usage);
  if (status >= 0)
    return status;
  nnrt_train_options *o = &c.o;
  o->out = stdout;
  if (cmd == NNRT_CMD_PREDICT)
    return predict(api, prog, o->load, c.images, o->tta);
  nnrt_train_report r;
  nnrt_status s = cmd == NNRT_CMD_TEST ? nnrt_evaluate(api, o, &r) : nnrt_train(api, o, &r);
  if (s != NNRT_OK) {
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", prog, nnrt_errmsg());
    return 1;
  }
  return 0;
}
