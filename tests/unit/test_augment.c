/* test_augment.c - unit tests of libnnrt's augmentations, test-time
 * augmentation views, the CSV loader, IDX images kept as bytes and the SVG
 * plot.
 *
 *   test_augment              runs the tests
 *   test_augment --plot FILE  only writes a sample plot (NAN gaps, a lone
 *                             point, a missing series) for check_svg.py */
#define _POSIX_C_SOURCE 200809L
#include "nnrt_train.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[64];

static const char *tmp_path(const char *name) {
  static char buf[4][256];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, 256, "%s/%s", dir, name);
  return p;
}

static float *image(nnrt_rng *r, int c, int h, int w) {
  float *x = malloc(sizeof(float) * (size_t)c * h * w);
  for (int i = 0; i < c * h * w; i++)
    x[i] = (float)nnrt_rng_uniform(r);
  return x;
}

static int same(const float *a, const float *b, size_t n) {
  return memcmp(a, b, n * sizeof *a) == 0;
}

static double max_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

/* ------------------------------------------------------------ transforms */

static void test_rotate(void) {
  nnrt_rng r;
  nnrt_rng_seed(&r, 7);
  const int shapes[][3] = {{1, 6, 6}, {3, 7, 5}, {2, 9, 9}};
  for (int s = 0; s < 3; s++) {
    int c = shapes[s][0], h = shapes[s][1], w = shapes[s][2];
    size_t n = (size_t)c * h * w;
    float *x = image(&r, c, h, w), *y = malloc(n * sizeof *y), *z = malloc(n * sizeof *z);
    nnrt_rotate(x, y, c, h, w, 0);
    CHECK(same(x, y, n), "rotation by 0 is the identity (%dx%dx%d)", c, h, w);
    nnrt_rotate(x, y, c, h, w, 360);
    CHECK(same(x, y, n), "rotation by 360 is the identity (%dx%dx%d)", c, h, w);
    if (h == w) {
      /* 90 degrees counter-clockwise: out[y][x] = in[x][n-1-y], so the
       * right edge becomes the top edge. */
      nnrt_rotate(x, y, c, h, w, 90);
      int ok = 1;
      for (int k = 0; k < c; k++)
        for (int i = 0; i < h; i++)
          for (int j = 0; j < w; j++)
            ok &= y[(size_t)k * h * w + i * w + j] == x[(size_t)k * h * w + j * w + (w - 1 - i)];
      CHECK(ok, "rotation by 90 is a transpose and a flip, exactly (%dx%d)", h, w);
      nnrt_rotate(x, z, c, h, w, -270);
      CHECK(same(y, z, n), "-270 degrees is 90 degrees");
    }
    /* 180 degrees maps the pixel grid onto itself for any h, w. */
    nnrt_rotate(x, y, c, h, w, 180);
    nnrt_rotate(y, z, c, h, w, 180);
    CHECK(same(x, z, n), "180 twice is the identity (%dx%dx%d)", c, h, w);
    free(x), free(y), free(z);
  }

  /* A smooth image rotated by 30 and back: the interior comes back up to
   * the blur of two bilinear resamplings; the corners are lost (zeros). */
  int h = 32, w = 32;
  float x[32 * 32], y[32 * 32], z[32 * 32];
  for (int i = 0; i < h; i++)
    for (int j = 0; j < w; j++)
      x[i * w + j] = (float)(0.5 + 0.25 * sin(i / 5.0) * cos(j / 7.0));
  nnrt_rotate(x, y, 1, h, w, 30);
  nnrt_rotate(y, z, 1, h, w, -30);
  double worst = 0;
  for (int i = 8; i < 24; i++)
    for (int j = 8; j < 24; j++)
      worst = fmax(worst, fabs((double)z[i * w + j] - x[i * w + j]));
  CHECK(worst < 0.01, "30 then -30 is the identity in the interior: max error %g", worst);
  CHECK(z[0] == 0 && z[w - 1] == 0, "corners rotated out come back as zeros");

  /* A single bright pixel right of the centre moves up under +90 (counter-
   * clockwise on screen), and a 45-degree rotation keeps the total mass of
   * a pixel well inside the image (bilinear weights sum to one). */
  float one[7 * 7] = {0}, out[7 * 7];
  one[3 * 7 + 5] = 1;
  nnrt_rotate(one, out, 1, 7, 7, 90);
  CHECK(out[1 * 7 + 3] == 1, "+90 moves the right of the centre to above it");
  nnrt_rotate(one, out, 1, 7, 7, 45);
  double sum = 0;
  for (int i = 0; i < 49; i++)
    sum += out[i];
  CHECK(sum > 0.9 && sum < 1.6, "45 degrees spreads one pixel over its neighbours: %g", sum);
}

static void test_crop_resize_flip(void) {
  nnrt_rng r;
  nnrt_rng_seed(&r, 8);
  int c = 2, h = 5, w = 8;
  size_t n = (size_t)c * h * w;
  float *x = image(&r, c, h, w), *y = malloc(n * sizeof *y), *z = malloc(n * sizeof *z);
  nnrt_crop_resize(x, y, c, h, w, 0, 0, h, w);
  CHECK(same(x, y, n), "crop_resize of the full image is the identity");

  /* A shift by whole pixels copies pixels exactly and brings in zeros. */
  nnrt_crop_resize(x, y, c, h, w, -1, 2, h, w);
  int ok = 1;
  for (int k = 0; k < c; k++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++) {
        int si = i - 1, sj = j + 2;
        float want = si >= 0 && si < h && sj < w ? x[(size_t)k * h * w + si * w + sj] : 0;
        ok &= y[(size_t)k * h * w + i * w + j] == want;
      }
  CHECK(ok, "an integer shift is exact, with zeros from outside");

  /* Upscaling a 2x2 crop to 4x4 (align_corners=False): source positions
   * -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1). */
  float sq[16], up[16];
  for (int i = 0; i < 16; i++)
    sq[i] = (float)i;
  nnrt_crop_resize(sq, up, 1, 4, 4, 1, 1, 2, 2); /* the crop is [[5, 6], [9, 10]] */
  const float want_row0[4] = {5, 5.25f, 5.75f, 6};
  ok = 1;
  for (int j = 0; j < 4; j++)
    ok &= fabsf(up[j] - want_row0[j]) < 1e-6f;
  CHECK(ok, "2x bilinear upscaling: row 0 is %g %g %g %g", up[0], up[1], up[2], up[3]);
  CHECK(fabsf(up[5] - (5 + 0.25f * 1 + 0.25f * 4)) < 1e-6f && up[15] == 10,
        "2x bilinear upscaling: inside %g, corner %g", up[5], up[15]);

  nnrt_hflip(x, y, c, h, w);
  CHECK(y[0] == x[w - 1] && y[(size_t)h * w + w - 1] == x[(size_t)h * w], "hflip mirrors rows");
  nnrt_hflip(y, z, c, h, w);
  CHECK(same(x, z, n), "hflip twice is the identity");
  free(x), free(y), free(z);
}

/* --------------------------------------------------------- augmentations */

static void test_augment(void) {
  nnrt_rng r;
  nnrt_rng_seed(&r, 9);
  int c = 3, h = 12, w = 12;
  size_t n = (size_t)c * h * w;
  float *x = image(&r, c, h, w), *y = malloc(n * sizeof *y), *z = malloc(n * sizeof *z),
        *scratch = malloc(n * sizeof *scratch);

  nnrt_augment_image(NULL, 0, &r, x, y, scratch, c, h, w);
  CHECK(same(x, y, n), "no augmentation copies the image");
  nnrt_augment crop0 = {NNRT_AUG_CROP, 0, 0};
  nnrt_augment_image(&crop0, 1, &r, x, y, scratch, c, h, w);
  CHECK(same(x, y, n), "random_crop with pad 0 is the identity");
  nnrt_augment rot0 = {NNRT_AUG_ROTATION, 0, 0};
  nnrt_augment_image(&rot0, 1, &r, x, y, scratch, c, h, w);
  CHECK(same(x, y, n), "random_rotation(0) is the identity");

  /* random_crop(pad=3): the whole image shifted by at most 3 pixels each
   * way, with zeros coming in; over many draws every shift appears. */
  nnrt_augment crop3 = {NNRT_AUG_CROP, 3, 0};
  int seen[7][7] = {{0}}, all_shifts = 1;
  for (int t = 0; t < 400; t++) {
    nnrt_augment_image(&crop3, 1, &r, x, y, scratch, c, h, w);
    int found = 0;
    for (int dy = -3; dy <= 3 && !found; dy++)
      for (int dx = -3; dx <= 3 && !found; dx++) {
        int ok = 1;
        for (int k = 0; k < c && ok; k++)
          for (int i = 0; i < h && ok; i++)
            for (int j = 0; j < w && ok; j++) {
              int si = i + dy, sj = j + dx;
              float want = si >= 0 && si < h && sj >= 0 && sj < w
                               ? x[(size_t)k * h * w + si * w + sj] : 0;
              ok = y[(size_t)k * h * w + i * w + j] == want;
            }
        if (ok)
          found = 1, seen[dy + 3][dx + 3]++;
      }
    CHECK(found, "random_crop(pad=3) is a shift by at most 3 pixels (draw %d)", t);
  }
  for (int i = 0; i < 7; i++)
    for (int j = 0; j < 7; j++)
      all_shifts &= seen[i][j] > 0;
  CHECK(all_shifts, "random_crop(pad=3) reaches all 49 offsets");

  /* random_resized_crop: crops lie inside the image, so a constant image
   * stays constant (no zeros leak in) and the size is kept. */
  float *ones = malloc(n * sizeof *ones);
  for (size_t i = 0; i < n; i++)
    ones[i] = 1;
  nnrt_augment rrc = {NNRT_AUG_RESIZED_CROP, 0.08, 1.0};
  double worst = 0;
  int changed = 0;
  for (int t = 0; t < 300; t++) {
    nnrt_augment_image(&rrc, 1, &r, ones, y, scratch, c, h, w);
    worst = fmax(worst, max_diff(ones, y, n));
    nnrt_augment_image(&rrc, 1, &r, x, z, scratch, c, h, w);
    changed += !same(x, z, n);
  }
  CHECK(worst < 1e-6, "random_resized_crop stays inside the image: max change %g", worst);
  CHECK(changed > 250, "random_resized_crop changes the image: %d of 300", changed);
  /* A scale range no crop can meet falls back to the centre crop, which for
   * a square image is all of it. */
  nnrt_augment huge = {NNRT_AUG_RESIZED_CROP, 4.0, 5.0};
  nnrt_augment_image(&huge, 1, &r, x, y, scratch, c, h, w);
  CHECK(same(x, y, n), "random_resized_crop falls back to the whole (square) image");

  /* hflip: about half the time. */
  nnrt_augment flip = {NNRT_AUG_HFLIP, 0, 0};
  int flips = 0;
  nnrt_hflip(x, z, c, h, w);
  for (int t = 0; t < 1000; t++) {
    nnrt_augment_image(&flip, 1, &r, x, y, scratch, c, h, w);
    flips += same(y, z, n);
    CHECK(same(y, z, n) || same(y, x, n), "hflip gives the image or its mirror");
  }
  CHECK(flips > 430 && flips < 570, "hflip with probability 1/2: %d of 1000", flips);

  /* The whole pipeline: the same seed, the same images; another seed, not. */
  const nnrt_augment pipe[4] = {{NNRT_AUG_ROTATION, 15, 0},
                                {NNRT_AUG_CROP, 2, 0},
                                {NNRT_AUG_RESIZED_CROP, 0.5, 1.0},
                                {NNRT_AUG_HFLIP, 0, 0}};
  nnrt_rng a, b;
  nnrt_rng_seed(&a, 1234);
  nnrt_rng_seed(&b, 1234);
  int equal = 1;
  for (int t = 0; t < 20; t++) {
    nnrt_augment_image(pipe, 4, &a, x, y, scratch, c, h, w);
    nnrt_augment_image(pipe, 4, &b, x, z, scratch, c, h, w);
    equal &= same(y, z, n);
  }
  CHECK(equal, "the same seed gives the same augmented images");
  nnrt_rng_seed(&a, 1234);
  nnrt_rng_seed(&b, 1235);
  int differ = 0;
  for (int t = 0; t < 20; t++) {
    nnrt_augment_image(pipe, 4, &a, x, y, scratch, c, h, w);
    nnrt_augment_image(pipe, 4, &b, x, z, scratch, c, h, w);
    differ += !same(y, z, n);
  }
  CHECK(differ >= 19, "another seed gives other images: %d of 20 differ", differ);
  int finite = 1;
  for (size_t i = 0; i < n; i++)
    finite &= y[i] >= 0 && y[i] <= 1;
  CHECK(finite, "augmented pixels stay in [0, 1]");
  free(x), free(y), free(z), free(scratch), free(ones);
}

static void test_tta(void) {
  nnrt_rng r;
  nnrt_rng_seed(&r, 10);
  int c = 2, h = 10, w = 10;
  size_t n = (size_t)c * h * w;
  float *x = image(&r, c, h, w), *y = malloc(n * sizeof *y), *z = malloc(n * sizeof *z),
        *scratch = malloc(n * sizeof *scratch);

  nnrt_tta none;
  memset(&none, 0, sizeof none);
  CHECK(nnrt_tta_views(&none) == 1, "no TTA: one view, got %d", nnrt_tta_views(&none));
  nnrt_tta_view(&none, 0, x, y, scratch, c, h, w);
  CHECK(same(x, y, n), "the only view without TTA is the image");

  nnrt_tta t;
  memset(&t, 0, sizeof t);
  t.nangles = 3;
  t.angles[0] = 0, t.angles[1] = -15, t.angles[2] = 15;
  t.five_crops = 1;
  t.nsizes = 2;
  t.sizes[0] = 10, t.sizes[1] = 8;
  CHECK(nnrt_tta_views(&t) == 30, "3 angles x 2 sizes x 5 crops = 30 views, got %d",
        nnrt_tta_views(&t));
  /* Views 0..4 are angle 0 at the full size: all the identity. */
  for (int k = 0; k < 5; k++) {
    nnrt_tta_view(&t, k, x, y, scratch, c, h, w);
    CHECK(same(x, y, n), "view %d (angle 0, full size) is the identity", k);
  }
  /* View 5 + i is angle 0, size 8, crop i: centre (1, 1), then the corners. */
  const int pos[5][2] = {{1, 1}, {0, 0}, {0, 2}, {2, 0}, {2, 2}};
  for (int i = 0; i < 5; i++) {
    nnrt_tta_view(&t, 5 + i, x, y, scratch, c, h, w);
    nnrt_crop_resize(x, z, c, h, w, pos[i][0], pos[i][1], 8, 8);
    CHECK(same(y, z, n), "view %d is the 8x8 crop at (%d, %d) resized", 5 + i, pos[i][0],
          pos[i][1]);
  }
  /* View 10 is angle -15, full size, centre: the rotation. */
  nnrt_tta_view(&t, 10, x, y, scratch, c, h, w);
  nnrt_rotate(x, z, c, h, w, -15);
  CHECK(same(y, z, n), "view 10 is the rotation by -15 degrees");
  /* The last view: angle 15, size 8, bottom-right, rotated then cropped. */
  nnrt_tta_view(&t, 29, x, y, scratch, c, h, w);
  float *rot = malloc(n * sizeof *rot);
  nnrt_rotate(x, rot, c, h, w, 15);
  nnrt_crop_resize(rot, z, c, h, w, 2, 2, 8, 8);
  CHECK(same(y, z, n), "view 29 is rotate(15) then the bottom-right 8x8 crop");

  nnrt_tta t0;
  memset(&t0, 0, sizeof t0);
  t0.nangles = 1; /* angles = [0] */
  t0.five_crops = 1;
  CHECK(nnrt_tta_views(&t0) == 5, "angles=[0], crops=five: 5 views");
  nnrt_tta_view(&t0, 0, x, y, scratch, c, h, w);
  CHECK(same(x, y, n), "view 0 with angles=[0] is the identity");
  free(x), free(y), free(z), free(scratch), free(rot);
}

/* ------------------------------------------------------------------- CSV */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* Loads text as a CSV; returns the status, the message checked by caller. */
static nnrt_status load_text(nnrt_dataset *d, const char *name, const char *text,
                             size_t features, int label_columns, int max_classes) {
  const char *path = tmp_path(name);
  write_file(path, text);
  nnrt_status s = nnrt_dataset_load_csv(d, path, features, label_columns, max_classes);
  unlink(path);
  return s;
}

/* The call fails with status want and a message naming the file and line. */
static void refused(const char *name, const char *text, size_t features, int max_classes,
                    nnrt_status want, const char *where, const char *what) {
  nnrt_dataset d;
  nnrt_status s = load_text(&d, name, text, features, 1, max_classes);
  char place[128];
  snprintf(place, sizeof place, "%s%s", name, where);
  CHECK(s == want && strstr(nnrt_errmsg(), place) && strstr(nnrt_errmsg(), what) &&
            d.x.f32 == NULL && d.count == 0,
        "%s refused (%s): status %d, message \"%s\"", name, what, (int)s, nnrt_errmsg());
}

static void test_csv(void) {
  nnrt_dataset d;
  const float *x;  /* d.x.f32: CSV values are floats */
  /* A header, CRLF line ends, 8-bit pixels, blank lines at the end. */
  nnrt_status s = load_text(&d, "good.csv",
                            "label,p1,p2,p3,p4\r\n"
                            "3,0,255,51,102\r\n"
                            "0, 1 ,2,3,4\r\n"
                            "1,255,255,255,255\r\n"
                            "\r\n\n",
                            4, 1, 10);
  x = d.x.f32;
  CHECK(s == NNRT_OK, "good CSV: %s", nnrt_errmsg());
  if (s == NNRT_OK) {
    CHECK(d.count == 3 && d.sample_size == 4 && d.channels == 1 && d.height == 1 &&
              d.width == 4,
          "good CSV shape: %zu x %zu (%dx%dx%d)", d.count, d.sample_size, d.channels,
          d.height, d.width);
    CHECK(d.y && d.y[0] == 3 && d.y[1] == 0 && d.y[2] == 1 && d.num_classes == 4,
          "good CSV labels");
    CHECK(x[0] == 0 && x[1] == 255 && x[2] == 51 && x[8] == 255,
          "values are kept as the file writes them: %g %g %g", x[0], x[1], x[2]);
    CHECK(nnrt_dataset_auto_scale(&d) == 255, "0..255 integers: auto scale 255, got %g",
          nnrt_dataset_auto_scale(&d));
    nnrt_dataset_scale(&d, nnrt_dataset_auto_scale(&d));
    CHECK(x[0] == 0 && x[1] == 1 && fabsf(x[2] - 0.2f) < 1e-7f &&
              fabsf(x[3] - 0.4f) < 1e-7f && fabsf(x[5] - 2 / 255.0f) < 1e-7f &&
              x[8] == 1,
          "0..255 pixels are scaled to [0, 1]: %g %g %g %g", x[0], x[1], x[2], x[3]);
    nnrt_dataset_free(&d);
  }

  /* No header, values already in [0, 1], no newline after the last line. */
  s = load_text(&d, "unit.csv", "1,0.5,0.25\n0,1,0", 2, 1, 0);
  x = d.x.f32;
  CHECK(s == NNRT_OK && d.count == 2 && x[0] == 0.5f && x[1] == 0.25f && x[2] == 1 &&
            d.y[1] == 0 && d.num_classes == 2 && nnrt_dataset_auto_scale(&d) == 1,
        "[0, 1] values are kept, a last line without newline is read: %s", nnrt_errmsg());
  nnrt_dataset_free(&d);
  /* Fractional features above 1 are not pixels: kept as they are. */
  s = load_text(&d, "iris.csv", "0,5.1,3.5\n2,6.2,2.9\n", 2, 1, 3);
  x = d.x.f32;
  CHECK(s == NNRT_OK && x[0] == 5.1f && x[3] == 2.9f && nnrt_dataset_auto_scale(&d) == 1,
        "fractional features are not scaled: %s", nnrt_errmsg());
  nnrt_dataset_free(&d);
  /* One value that is not an integer: not 8-bit pixels, the whole file. */
  s = load_text(&d, "one_frac.csv", "0,5,200\n1,7,3.5\n", 2, 1, 3);
  CHECK(s == NNRT_OK && nnrt_dataset_auto_scale(&d) == 1,
        "one fractional value: auto scale 1: %s", nnrt_errmsg());
  nnrt_dataset_scale(&d, 255);  /* --scale 255: every value */
  CHECK(s == NNRT_OK && d.x.f32[1] == 200 / 255.0f && d.x.f32[3] == 3.5f / 255.0f,
        "scale 255 divides every value in float: %g %g", d.x.f32[1], d.x.f32[3]);
  nnrt_dataset_free(&d);
  /* Real-valued labels: as many columns as asked, then the features. */
  s = load_text(&d, "real.csv", "t1,t2,a\n0.5,-2.25,7\n1e-3,3,8\n", 1, 2, NNRT_REAL_LABELS);
  CHECK(s == NNRT_OK && d.count == 2 && d.y == NULL && d.num_classes == 0 && d.targets &&
            d.target_size == 2 && d.targets[0] == 0.5f && d.targets[1] == -2.25f &&
            d.targets[2] == 1e-3f && d.targets[3] == 3 && d.x.f32[0] == 7 && d.x.f32[1] == 8,
        "real-valued labels: %s", nnrt_errmsg());
  nnrt_dataset_free(&d);
  s = load_text(&d, "real_cols.csv", "0.5,7\n", 1, 2, NNRT_REAL_LABELS);
  CHECK(s == NNRT_ERR_FORMAT && strstr(nnrt_errmsg(), "expected 3 (2 labels and 1 features)"),
        "real labels: too few columns: %s", nnrt_errmsg());
  s = load_text(&d, "two_ids.csv", "0,1,7\n", 1, 2, 10);
  CHECK(s == NNRT_ERR_ARG && d.count == 0, "two class-id columns: refused: %s", nnrt_errmsg());
  /* Unlabelled data; pandas' header of column numbers is a header. */
  s = load_text(&d, "nolabel.csv", "0,1,2\n1e-3,-2,3.5\n", 3, 0, 0);
  x = d.x.f32;
  CHECK(s == NNRT_OK && d.count == 1 && d.y == NULL && d.num_classes == 0 &&
            x[1] == -2.0f,
        "unlabelled CSV with a numbered header: %s", nnrt_errmsg());
  nnrt_dataset_free(&d);

  /* A line far longer than any buffer: 3000 features. */
  size_t nf = 3000;
  char *big = malloc(2 * 5 * (nf + 1) + 16), *p = big;
  for (int row = 0; row < 2; row++) {
    p += sprintf(p, "%d", row);
    for (size_t i = 0; i < nf; i++)
      p += sprintf(p, ",%zu", (i * 7 + (size_t)row) % 256);
    *p++ = '\n';
  }
  *p = '\0';
  s = load_text(&d, "long.csv", big, nf, 1, 2);
  nnrt_dataset_scale(&d, nnrt_dataset_auto_scale(&d));
  x = d.x.f32;
  CHECK(s == NNRT_OK && d.count == 2 && fabsf(x[nf - 1] - (float)((nf - 1) * 7 % 256) / 255) <
                                            1e-7f && d.y[1] == 1,
        "long lines: %s", nnrt_errmsg());
  nnrt_dataset_free(&d);
  free(big);

  /* gzip, as the IDX loader reads it. */
  const char *gz = tmp_path("data.csv.gz");
  gzFile g = gzopen(gz, "wb");
  if (g) {
    gzputs(g, "label,a,b\n1,0.25,0.5\n");
    gzclose(g);
  }
  s = nnrt_dataset_load_csv(&d, gz, 2, 1, 2);
  x = d.x.f32;
  CHECK(s == NNRT_OK && d.count == 1 && x[1] == 0.5f, "gzipped CSV: %s", nnrt_errmsg());
  nnrt_dataset_free(&d);
  unlink(gz);

  refused("cols.csv", "1,2,3\n0,1,2\n1,2\n", 2, 0, NNRT_ERR_FORMAT, ":3:", "2 columns");
  refused("cols2.csv", "label,a,b\n0,1,2,3\n", 2, 0, NNRT_ERR_FORMAT, ":2:", "expected 3");
  refused("nan.csv", "0,1,2\n1,abc,2\n", 2, 0, NNRT_ERR_FORMAT, ":2:", "\"abc\" is not a number");
  refused("nan2.csv", "0,1,2\n1,2,3x\n", 2, 0, NNRT_ERR_FORMAT, ":2:", "not a number");
  refused("inf.csv", "0,1,2\n1,inf,3\n", 2, 0, NNRT_ERR_FORMAT, ":2:", "not a number");
  refused("f32.csv", "0,1,2\n1,2,1e39\n", 2, 0, NNRT_ERR_FORMAT, ":2:",
          "column 3: \"1e39\" is too large for a 32-bit float");
  refused("empty_field.csv", "0,1,2\n1,,3\n", 2, 0, NNRT_ERR_FORMAT, ":2:", "column 2");
  refused("range.csv", "0,1,2\n\n9,1,2\n", 2, 5, NNRT_ERR_FORMAT, ":3:", "out of range");
  refused("neg.csv", "-1,1,2\n", 2, 5, NNRT_ERR_FORMAT, ":1:", "not a class id");
  refused("frac.csv", "0,1,2\n1.5,1,2\n", 2, 5, NNRT_ERR_FORMAT, ":2:", "not a class id");
  refused("empty.csv", "", 2, 0, NNRT_ERR_FORMAT, "", "no data");
  refused("header.csv", "label,a,b\n\n", 2, 0, NNRT_ERR_FORMAT, "", "no data");
  s = nnrt_dataset_load_csv(&d, tmp_path("missing.csv"), 2, 1, 0);
  CHECK(s == NNRT_ERR_IO && strstr(nnrt_errmsg(), "missing.csv"), "missing file: %s",
        nnrt_errmsg());
  s = nnrt_dataset_load_csv(&d, tmp_path("x.csv"), 0, 1, 0);
  CHECK(s == NNRT_ERR_ARG, "0 features is an argument error: %s", nnrt_errmsg());
}

/* ------------------------------------------------------------- IDX bytes */

/* An IDX file of n images h x w whose pixel j of image k is (k * h * w + j)
 * mod 256, and its labels (k mod 10). */
static void write_idx(const char *images, const char *labels, int n, int h, int w) {
  FILE *f = fopen(images, "wb"), *g = fopen(labels, "wb");
  if (!f || !g) {
    if (f)
      fclose(f);
    if (g)
      fclose(g);
    return;
  }
  unsigned char head[16] = {0, 0, 8, 3};
  unsigned dims[3] = {(unsigned)n, (unsigned)h, (unsigned)w};
  for (int i = 0; i < 3; i++)
    for (int b = 0; b < 4; b++)
      head[4 + 4 * i + b] = (unsigned char)(dims[i] >> (24 - 8 * b));
  fwrite(head, 1, 16, f);
  for (int j = 0; j < n * h * w; j++)
    fputc(j % 256, f);
  unsigned char lhead[8] = {0, 0, 8, 1, head[4], head[5], head[6], head[7]};
  fwrite(lhead, 1, 8, g);
  for (int k = 0; k < n; k++)
    fputc(k % 10, g);
  fclose(f);
  fclose(g);
}

/* IDX images stay bytes, and nnrt_dataset_get gives exactly the floats the
 * loader used to store, (float)b / 255.0f for every byte value, a batch at
 * a time or one sample at a time; augmenting a sample in place gives the
 * images augmenting those floats gives; 8-bit pixels from a CSV (floats)
 * are the same numbers. */
static void test_idx_bytes(void) {
  enum { N = 5, H = 8, W = 8, S = H * W };  /* 320 pixels: every byte value */
  const char *images = tmp_path("bytes-idx3-ubyte"), *labels = tmp_path("bytes-idx1-ubyte");
  write_idx(images, labels, N, H, W);
  nnrt_dataset d;
  nnrt_status s = nnrt_dataset_load_idx(&d, images, labels, 10);
  unlink(images);
  unlink(labels);
  CHECK(s == NNRT_OK, "IDX bytes: %s", nnrt_errmsg());
  if (s != NNRT_OK)
    return;
  CHECK(d.type == NNRT_SAMPLES_U8 && d.count == N && d.sample_size == S,
        "IDX images are kept as bytes: type %d", (int)d.type);
  float old[N * S], got[N * S], one[S];
  for (int j = 0; j < N * S; j++)
    old[j] = (float)(unsigned char)(j % 256) / 255.0f;  /* the old loader's conversion */
  nnrt_dataset_get(&d, 0, N, got);
  CHECK(same(old, got, N * S), "a batch of bytes converts to the old floats, bit for bit");
  int each = 1;
  for (int k = 0; k < N; k++) {
    nnrt_dataset_get(&d, (size_t)k, 1, one);
    each &= same(old + k * S, one, S);
  }
  CHECK(each, "one sample at a time, too");

  nnrt_augment augs[3] = {
      {NNRT_AUG_ROTATION, 10, 0}, {NNRT_AUG_CROP, 2, 0}, {NNRT_AUG_HFLIP, 0, 0}};
  nnrt_rng r1, r2;
  nnrt_rng_seed(&r1, 5);
  nnrt_rng_seed(&r2, 5);
  float want[S], scratch[S];
  int augmented = 1;
  for (int k = 0; k < N; k++) {
    nnrt_augment_image(augs, 3, &r1, old + k * S, want, scratch, 1, H, W);
    nnrt_dataset_get(&d, (size_t)k, 1, one);
    nnrt_augment_image(augs, 3, &r2, one, one, scratch, 1, H, W);
    augmented &= same(want, one, S);
  }
  CHECK(augmented, "augmenting converted bytes in place gives the old augmented images");
  nnrt_dataset_free(&d);

  /* The same pixels as a CSV: floats, and the same numbers. */
  char text[8 * S + 16], *p = text;
  p += sprintf(p, "%d", 0);
  for (int j = 0; j < S; j++)
    p += sprintf(p, ",%d", (3 * S + j) % 256);
  sprintf(p, "\n");
  s = load_text(&d, "bytes.csv", text, S, 1, 10);
  nnrt_dataset_scale(&d, nnrt_dataset_auto_scale(&d));
  CHECK(s == NNRT_OK && d.type == NNRT_SAMPLES_F32 && same(d.x.f32, old + 3 * S, S),
        "8-bit pixels from a CSV stay floats, the same numbers: %s", nnrt_errmsg());
  if (s == NNRT_OK) {
    nnrt_dataset_get(&d, 0, 1, one);
    CHECK(same(one, old + 3 * S, S), "nnrt_dataset_get copies floats");
    nnrt_dataset_free(&d);
  }
}

/* ------------------------------------------------------------------ plot */

static const double tl[12] = {2.3, 1.1, 0.8, NAN, 0.55, 0.5, 0.45, 0.42, 0.4, NAN, 0.37, 0.36};
static const double vl[12] = {1.9, 1.0, 0.9, 0.7, 0.65, 0.6, 0.58, 0.57, 0.56, 0.56, 0.55, NAN};
static const double ta[12] = {0.4, 0.7, 0.8, 0.84, 0.86, 0.87, 0.88, 0.885, 0.89, 0.9, 0.9, 0.91};

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = calloc(1, 1 << 20);
  if (buf && fread(buf, 1, (1 << 20) - 1, f) == 0)
    buf[0] = '\0';
  fclose(f);
  return buf;
}

static void test_plot(void) {
  const char *path = tmp_path("curves.svg");
  nnrt_status s = nnrt_plot_curves(path, "fashion_mlp <test> & \"curves\"", 12, tl, vl, ta, NULL);
  CHECK(s == NNRT_OK, "plot: %s", nnrt_errmsg());
  char *svg = slurp(path);
  CHECK(svg && strstr(svg, "<svg") && strstr(svg, "<polyline") && strstr(svg, "</svg>"),
        "the plot is an SVG with polylines");
  CHECK(svg && strstr(svg, "&lt;test&gt; &amp; &quot;curves&quot;"), "the title is escaped");
  free(svg);
  /* Rewriting replaces the file; no temporary files are left behind. */
  CHECK(nnrt_plot_curves(path, NULL, 1, tl, NULL, NULL, NULL) == NNRT_OK, "plot of 1 epoch");
  CHECK(nnrt_plot_curves(path, "empty", 0, NULL, NULL, NULL, NULL) == NNRT_OK, "empty plot");
  unlink(path);
  CHECK(rmdir(dir) == 0, "no temporary files are left in the directory");
  CHECK(mkdir(dir, 0700) == 0, "recreate the directory");

  s = nnrt_plot_curves(tmp_path("no/such/dir/curves.svg"), "x", 12, tl, vl, ta, NULL);
  CHECK(s == NNRT_ERR_IO && strstr(nnrt_errmsg(), "no/such/dir/curves.svg"),
        "an unwritable path is refused: %s", nnrt_errmsg());
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--plot") == 0) {
    nnrt_status s = nnrt_plot_curves(argv[2], "sample <run> & co", 12, tl, vl, ta, NULL);
    if (s != NNRT_OK)
      fprintf(stderr, "test_augment: %s\n", nnrt_errmsg());
    return s != NNRT_OK;
  }
  snprintf(dir, sizeof dir, "/tmp/nnrt-augment-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_rotate();
  test_crop_resize_flip();
  test_augment();
  test_tta();
  test_csv();
  test_idx_bytes();
  test_plot();
  rmdir(dir);
  return check_summary("test_augment");
}
