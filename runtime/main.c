/* main.c - nnrt_main: the command line of a generated trainer.
 *
 *   NAME train --data DIR [options]     train, then evaluate on the test data
 *   NAME test --load CKPT --data DIR    evaluate a checkpoint
 *   NAME predict --load CKPT --images FILE
 *
 * It is the one place in libnnrt that writes to stderr, because it is the
 * program's main: it returns the exit status (0 ok, 1 failure, 2 usage). */
#include "cli.h"
#include "internal.h"
#include "dist.h"
#include "nnrt_train.h"

#include <stdlib.h>
#include <string.h>

/* predict's samples: a CSV of inputs (no label column), a PGM/PPM image,
 * or an IDX file of images; of the model's sample size. */
static nnrt_status load_images(const nnrt_model *api, const char *path, nnrt_dataset *d) {
  size_t n = strlen(path);
  FILE *f = fopen(path, "rb");
  int c0 = f ? getc(f) : EOF, c1 = f ? getc(f) : EOF;
  if (f)
    fclose(f);
  nnrt_status s;
  if ((n > 4 && !strcmp(path + n - 4, ".csv")) || (n > 7 && !strcmp(path + n - 7, ".csv.gz")))
    s = nnrt_dataset_load_csv(d, path, (size_t)api->input_size, 0, 0);
  else if (c0 == 'P' && (c1 == '5' || c1 == '6'))
    s = nnrt_dataset_load_pnm(d, path);
  else
    s = nnrt_dataset_load_idx(d, path, NULL, 0);
  if (s == NNRT_OK && (long)d->sample_size != api->input_size) {
    s = nnrt_fail(NNRT_ERR_MISMATCH, "%s: samples of %zu values (%dx%dx%d), but model %s takes "
                  "%ld (images are not resized)", path, d->sample_size, d->channels, d->height,
                  d->width, api->name, api->input_size);
    nnrt_dataset_free(d);
  }
  if (s == NNRT_OK)
    s = nnrt_dataset_fit_model(api, d, path);
  return s;
}

/* The samples scaled by --scale, else by auto on the file itself (it has no
 * training file), which stderr is told. */
static void scale_images(const char *prog, const char *path, double scale, nnrt_dataset *d) {
  char text[160];
  double used = scale > 0 ? scale : nnrt_dataset_auto_scale(d);
  nnrt_scale_text(text, sizeof text, used, scale > 0, d);
  nnrt_dataset_scale(d, used);
  fprintf(stderr, "%s: %s: %s\n", prog, path, text);
}

/* One sample's prediction: output values, or class probabilities. */
typedef struct Prediction {
  const nnrt_model *api;
  int classes;             /* > 0: z holds probabilities of that many classes */
  long top;
  int *order;              /* the top classes of a sample                  */
  nnrt_file csv;           /* --out, or fd < 0                              */
  int failed;
} Prediction;

/* A CSV field: quoted if it holds a comma, a quote or a line end. */
static void csv_field(char *buf, size_t cap, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    snprintf(buf, cap, "%s", s);
    return;
  }
  size_t k = 0;
  buf[k++] = '"';
  for (; *s && k + 3 < cap; s++) {
    if (*s == '"')
      buf[k++] = '"';
    buf[k++] = *s;
  }
  buf[k++] = '"';
  buf[k] = '\0';
}

static const char *class_name(const nnrt_model *api, int c, char *buf, size_t cap) {
  if (api->class_names)
    return api->class_names[c];
  snprintf(buf, cap, "%d", c);
  return buf;
}

static void csv_write(Prediction *p, const char *text) {
  if (p->csv.fd >= 0 && !p->failed && nnrt_file_write(&p->csv, text, strlen(text)) != 0)
    p->failed = 1;
}

static void csv_header(Prediction *p) {
  char field[512], name[32];
  if (!p->classes) {
    csv_write(p, "sample");
    for (long c = 0; c < p->api->output_size; c++) {
      snprintf(field, sizeof field, ",y%ld", c);
      csv_write(p, field);
    }
  } else {
    csv_write(p, "sample,class,probability");
    for (int c = 0; c < p->classes; c++) {
      csv_write(p, ",");
      csv_field(field, sizeof field, class_name(p->api, c, name, sizeof name));
      csv_write(p, field);
    }
  }
  csv_write(p, "\n");
}

/* Prints sample i (its top classes with their probabilities, or its
 * values) and writes its CSV line. */
static void report(Prediction *p, size_t i, const double *z) {
  char field[512], name[32];
  if (!p->classes) {
    printf("%zu", i);
    snprintf(field, sizeof field, "%zu", i);
    csv_write(p, field);
    for (long c = 0; c < p->api->output_size; c++) {
      printf(" %.6g", z[c]);
      snprintf(field, sizeof field, ",%.6g", z[c]);
      csv_write(p, field);
    }
    printf("\n");
    csv_write(p, "\n");
    return;
  }
  int *order = p->order, shown = p->top < p->classes ? (int)p->top : p->classes;
  for (int k = 0; k < shown; k++) {  /* the top classes, ties to the lower index */
    int best = -1;
    for (int c = 0; c < p->classes; c++) {
      int taken = 0;
      for (int j = 0; j < k; j++)
        taken |= order[j] == c;
      if (!taken && (best < 0 || z[c] > z[best]))
        best = c;
    }
    order[k] = best;
  }
  printf("%zu:", i);
  for (int k = 0; k < shown; k++)
    printf("%s %s %.1f%%", k ? "," : "", class_name(p->api, order[k], name, sizeof name),
           100 * z[order[k]]);
  printf("\n");
  csv_field(field, sizeof field, class_name(p->api, order[0], name, sizeof name));
  char line[600];
  snprintf(line, sizeof line, "%zu,%s,%.6f", i, field, z[order[0]]);
  csv_write(p, line);
  for (int c = 0; c < p->classes; c++) {
    snprintf(line, sizeof line, ",%.6f", z[c]);
    csv_write(p, line);
  }
  csv_write(p, "\n");
}

/* y (out values) into acc, averaged over views: probabilities for a
 * classifier whose output is logits. */
static void accumulate(const Prediction *p, const float *y, double *acc, int views) {
  long out = p->api->output_size;
  if (p->classes && p->api->output_kind == NNRT_OUTPUT_LOGITS) {
    nnrt_softmax_accumulate(y, out, views, acc);
    return;
  }
  for (long c = 0; c < out; c++)
    acc[c] += (double)y[c] / views;
}

static int predict(const nnrt_model *api, const char *prog, const nnrt_cli *cli) {
  enum { B = 256 };
  Prediction p = {api, 0, cli->top, NULL, {0}, 0};
  p.csv.fd = -1;
  if (api->output_kind != NNRT_OUTPUT_VALUES && api->num_outputs == 1)
    p.classes = (int)api->output_size;
  p.order = malloc(sizeof(int) * (size_t)(p.classes ? p.classes : 1));
  nnrt_dataset d;
  nnrt_status s = load_images(api, cli->images, &d);
  if (s != NNRT_OK) {
    fprintf(stderr, "%s: %s\n", prog, nnrt_errmsg());
    return 1;
  }
  if (cli->o.tta && api->config && api->config->has_tta &&
      nnrt_check_tta(api, &d, cli->images) != NNRT_OK) {
    fprintf(stderr, "%s: %s\n", prog, nnrt_errmsg());
    nnrt_dataset_free(&d);
    return 1;
  }
  scale_images(prog, cli->images, cli->o.scale, &d);
  void *m = api->create(B, 0);
  const nnrt_tta *views = cli->o.tta && api->config && api->config->has_tta ? &api->config->tta
                                                                             : NULL;
  int nviews = views ? nnrt_tta_views(views) : 1;
  long out = api->output_size;
  float *x = malloc(sizeof(float) * d.sample_size * B);
  float *y = malloc(sizeof(float) * (size_t)out * B);
  double *sum = malloc(sizeof(double) * (size_t)out * B);
  float *scratch = malloc(sizeof(float) * d.sample_size);
  float *one = malloc(sizeof(float) * d.sample_size);
  int rc = 1;
  if (!m || !x || !y || !sum || !scratch || !one || !p.order)
    fprintf(stderr, "%s: out of memory for batches of %d\n", prog, B);
  else if (api->load(m, cli->o.load) != 0)
    fprintf(stderr, "%s: %s\n", prog, nnrt_errmsg());
  else if (cli->out_csv && nnrt_file_replace(&p.csv, cli->out_csv) != 0)
    fprintf(stderr, "%s: %s\n", prog, p.csv.message);
  else
    rc = 0;
  if (rc == 0 && views && d.height < 2)
    fprintf(stderr, "%s: %s: test-time augmentation needs images, but the samples have no image "
            "shape (leave out --tta)\n", prog, cli->images), rc = 1;
  if (rc == 0)
    csv_header(&p);
  for (size_t start = 0; rc == 0 && start < d.count; start += B) {
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
      for (int i = 0; i < b; i++)
        accumulate(&p, y + (size_t)i * (size_t)out, sum + (size_t)i * (size_t)out, nviews);
    }
    for (int i = 0; i < b; i++)
      report(&p, start + (size_t)i, sum + (size_t)i * (size_t)out);
  }
  if (p.csv.fd >= 0) {
    if (rc == 0 && (p.failed || nnrt_file_close(&p.csv, 0) != 0)) {
      fprintf(stderr, "%s: %s\n", prog, p.csv.message);
      rc = 1;
    }
    nnrt_file_abort(&p.csv);
  }
  free(x), free(y), free(sum), free(scratch), free(one), free(p.order);
  if (m)
    api->destroy(m);
  nnrt_dataset_free(&d);
  return rc;
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
    fprintf(stderr, "%s: unknown command '%s' (expected train, test or predict)%s%s%s\n", prog,
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
    return predict(api, prog, &c);
  nnrt_train_report r;
  nnrt_status s = cmd == NNRT_CMD_TEST ? nnrt_evaluate(api, o, &r) : nnrt_train(api, o, &r);
  if (s != NNRT_OK) {
    fflush(stdout);
    /* under mpirun: the (lowest) failing rank's message, and rank 0's
     * "stopped" if that is another */
    if (!nnrt_dist_rank())
      fprintf(stderr, "%s: %s\n", prog, nnrt_errmsg());
    else if (!nnrt_dist_follower_failure())
      fprintf(stderr, "%s: rank %d of %d: %s\n", prog, nnrt_dist_rank(), nnrt_dist_size(),
              nnrt_errmsg());
  }
  nnrt_dist_finish(s);
  return s != NNRT_OK;
}
