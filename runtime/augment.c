/* augment.c - image augmentations and test-time augmentation views.
 *
 * Images are [c, h, w] floats.  Every resampling is bilinear over the image
 * extended by zeros, in pixel-centre coordinates: pixel (y, x) covers
 * [y, y + 1) x [x, x + 1) and its value sits at its centre.  The transforms
 * follow torchvision's tensor implementations (rotate, resized_crop with
 * bilinear interpolation, RandomCrop, RandomResizedCrop, RandomHorizontalFlip);
 * randomness comes from nnrt_rng alone, so a seed fixes every image.
 */
#include "nnrt_train.h"

#include <math.h>
#include <string.h>

/* The value at the continuous pixel position (y, x) of one channel: the
 * bilinear blend of the four nearest pixels, those outside counting 0 (as
 * grid_sample with padding_mode="zeros").  At integer positions the weights
 * are exactly 1 and 0, so the pixel comes back unchanged. */
static float sample(const float *p, int h, int w, double y, double x) {
  double fy = floor(y), fx = floor(x);
  /* Far outside: all four neighbours are zero (also keeps the casts safe). */
  if (!(fy >= -1 && fy < h && fx >= -1 && fx < w))
    return 0.0f;
  int y0 = (int)fy, x0 = (int)fx;
  double wy = y - fy, wx = x - fx;
  double v = 0;
  for (int dy = 0; dy < 2; dy++) {
    int yy = y0 + dy;
    double ky = dy ? wy : 1 - wy;
    if (yy < 0 || yy >= h || ky == 0)
      continue;
    for (int dx = 0; dx < 2; dx++) {
      int xx = x0 + dx;
      double kx = dx ? wx : 1 - wx;
      if (xx < 0 || xx >= w || kx == 0)
        continue;
      v += ky * kx * (double)p[(size_t)yy * w + xx];
    }
  }
  return (float)v;
}

/* cos and sin of an angle in degrees, exact at multiples of 90 degrees (so
 * rotations by them move pixels exactly, with no 6e-17 leaking in). */
static void cos_sin_deg(double degrees, double *c, double *s) {
  double d = fmod(degrees, 360.0);
  if (d < 0)
    d += 360.0;
  if (d == 0) *c = 1, *s = 0;
  else if (d == 90) *c = 0, *s = 1;
  else if (d == 180) *c = -1, *s = 0;
  else if (d == 270) *c = 0, *s = -1;
  else {
    double r = d * (3.14159265358979323846 / 180.0);
    *c = cos(r);
    *s = sin(r);
  }
}

/* Rotation about the image centre by `degrees`, counter-clockwise as seen
 * on screen (y pointing down), as torchvision's rotate(img, degrees,
 * InterpolationMode.BILINEAR) on a tensor with fill=None.  Each output pixel
 * centre, taken relative to the image centre, is rotated back into the
 * source and sampled there:
 *   xs =  cos(t) * xo - sin(t) * yo
 *   ys =  sin(t) * xo + cos(t) * yo
 * (torchvision's inverse affine matrix for angle -t).  Pixels that come from
 * outside the source are 0.  (torchvision's RandomRotation passes fill=0,
 * which also multiplies the one-pixel band along the border by the
 * interpolated coverage a second time; we keep plain zero padding.) */
void nnrt_rotate(const float *src, float *dst, int c, int h, int w, double degrees) {
  double cs, sn;
  cos_sin_deg(degrees, &cs, &sn);
  double cy = 0.5 * h, cx = 0.5 * w; /* the centre, in pixel-edge units */
  for (int y = 0; y < h; y++) {
    double yo = y + 0.5 - cy;
    for (int x = 0; x < w; x++) {
      double xo = x + 0.5 - cx;
      /* back to pixel-index coordinates (centre of pixel i is at i) */
      double xs = cs * xo - sn * yo + cx - 0.5;
      double ys = sn * xo + cs * yo + cy - 0.5;
      for (int k = 0; k < c; k++) {
        const float *p = src + (size_t)k * h * w;
        dst[(size_t)k * h * w + (size_t)y * w + x] = sample(p, h, w, ys, xs);
      }
    }
  }
}

/* Source position of output index o when n output pixels cover a span of
 * len source pixels starting at start: PyTorch's align_corners=False rule,
 * (o + 0.5) * len / n - 0.5, clamped to [0, len - 1] within the span (the
 * clamp is interpolate's edge behaviour: the crop's border pixels repeat
 * rather than blending in what lies beyond the crop). */
static double src_pos(int o, int n, double start, double len) {
  double s = (o + 0.5) * (len / n) - 0.5;
  double hi = len - 1 > 0 ? len - 1 : 0;
  if (s < 0)
    s = 0;
  if (s > hi)
    s = hi;
  return start + s;
}

/* The crop [top, top + ch) x [left, left + cw), resized to h x w as
 * torchvision's resized_crop(..., BILINEAR) (F.interpolate, align_corners
 * False; no antialiasing, which only matters when shrinking, and crops of an
 * image resized back to its own size never shrink).  Parts of the crop
 * outside the image are 0, as if the image had been padded with zeros.  The
 * full crop (0, 0, h, w) is the identity, exactly. */
void nnrt_crop_resize(const float *src, float *dst, int c, int h, int w, double top,
                      double left, double ch, double cw) {
  for (int y = 0; y < h; y++) {
    double ys = src_pos(y, h, top, ch);
    for (int x = 0; x < w; x++) {
      double xs = src_pos(x, w, left, cw);
      for (int k = 0; k < c; k++)
        dst[(size_t)k * h * w + (size_t)y * w + x] =
            sample(src + (size_t)k * h * w, h, w, ys, xs);
    }
  }
}

void nnrt_hflip(const float *src, float *dst, int c, int h, int w) {
  for (size_t row = 0; row < (size_t)c * h; row++)
    for (int x = 0; x < w; x++)
      dst[row * w + x] = src[row * w + (w - 1 - x)];
}

/* Python's round(): to nearest, ties to even (rint in the default mode). */
static int round_even(double v) { return (int)rint(v); }

/* torchvision's RandomResizedCrop.get_params with ratio [3/4, 4/3]: up to 10
 * tries of an area fraction uniform in [lo, hi] and a log-uniform aspect
 * ratio w/h; the first crop that fits is placed uniformly at random.  If none
 * fits, the centre crop of the whole image clamped to the ratio range. */
static void resized_crop_params(nnrt_rng *r, int h, int w, double lo, double hi, int *top,
                                int *left, int *ch, int *cw) {
  const double rmin = 3.0 / 4.0, rmax = 4.0 / 3.0;
  double area = (double)h * w;
  for (int attempt = 0; attempt < 10; attempt++) {
    double target = area * (lo + (hi - lo) * nnrt_rng_uniform(r));
    double ratio = exp(log(rmin) + (log(rmax) - log(rmin)) * nnrt_rng_uniform(r));
    int tw = round_even(sqrt(target * ratio));
    int th = round_even(sqrt(target / ratio));
    if (tw > 0 && tw <= w && th > 0 && th <= h) {
      *top = (int)nnrt_rng_below(r, (uint64_t)(h - th + 1));
      *left = (int)nnrt_rng_below(r, (uint64_t)(w - tw + 1));
      *ch = th;
      *cw = tw;
      return;
    }
  }
  double in_ratio = (double)w / h;
  *ch = h;
  *cw = w;
  if (in_ratio < rmin)
    *ch = round_even(w / rmin);
  else if (in_ratio > rmax)
    *cw = round_even(h * rmax);
  *top = (h - *ch) / 2;
  *left = (w - *cw) / 2;
}

/* One augmentation src -> dst.  Random numbers drawn, in order:
 *   rotation:      1 uniform (the angle)
 *   crop:          2 below() (row offset, then column offset)
 *   resized crop:  2 uniforms per try, then 2 below() when one fits
 *   hflip:         1 uniform (flip when < 0.5) */
static void augment_one(const nnrt_augment *a, nnrt_rng *r, const float *src, float *dst,
                        int c, int h, int w) {
  size_t n = (size_t)c * h * w;
  switch (a->kind) {
  case NNRT_AUG_ROTATION: {
    double deg = fabs(a->a);
    double angle = -deg + 2 * deg * nnrt_rng_uniform(r);
    nnrt_rotate(src, dst, c, h, w, angle);
    return;
  }
  case NNRT_AUG_CROP: {
    /* Pad by p zeros on every side, then cut an h x w window at a uniform
     * offset in [0, 2p] (torchvision's RandomCrop(size, padding=p)). */
    int p = a->a > 0 ? (int)a->a : 0;
    int dy = (int)nnrt_rng_below(r, (uint64_t)(2 * p + 1));
    int dx = (int)nnrt_rng_below(r, (uint64_t)(2 * p + 1));
    nnrt_crop_resize(src, dst, c, h, w, dy - p, dx - p, h, w);
    return;
  }
  case NNRT_AUG_RESIZED_CROP: {
    int top, left, ch, cw;
    resized_crop_params(r, h, w, a->a, a->b, &top, &left, &ch, &cw);
    nnrt_crop_resize(src, dst, c, h, w, top, left, ch, cw);
    return;
  }
  case NNRT_AUG_HFLIP:
    if (nnrt_rng_uniform(r) < 0.5)
      nnrt_hflip(src, dst, c, h, w);
    else
      memcpy(dst, src, n * sizeof *dst);
    return;
  }
  memcpy(dst, src, n * sizeof *dst); /* an unknown kind changes nothing */
}

void nnrt_augment_image(const nnrt_augment *augs, int n, nnrt_rng *r, const float *src,
                        float *dst, float *scratch, int c, int h, int w) {
  size_t size = (size_t)c * h * w * sizeof *dst;
  if (dst != src)
    memcpy(dst, src, size);
  for (int i = 0; i < n; i++) {
    augment_one(&augs[i], r, dst, scratch, c, h, w);
    memcpy(dst, scratch, size);
  }
}

/* ------------------------------------------------------- test-time views */

static int tta_nangles(const nnrt_tta *t) {
  return t->nangles < 1 ? 1 : t->nangles > 16 ? 16 : t->nangles;
}
static int tta_nsizes(const nnrt_tta *t) {
  return t->nsizes < 1 ? 1 : t->nsizes > 8 ? 8 : t->nsizes;
}

int nnrt_tta_views(const nnrt_tta *t) {
  return tta_nangles(t) * tta_nsizes(t) * (t->five_crops ? 5 : 1);
}

/* View k = (angle_index * nsizes + size_index) * ncrops + crop_index, with
 * crops in the order centre, top-left, top-right, bottom-left, bottom-right.
 * The image is rotated first (whole), then the crop, min(s, h) x min(s, w)
 * for size s, is cut and resized back to h x w.  The centre crop sits at
 * round((h - ch) / 2), as torchvision's center_crop.  Angle 0 with the full
 * size is src itself, exactly; k outside [0, views) gives src unchanged. */
void nnrt_tta_view(const nnrt_tta *t, int k, const float *src, float *dst, float *scratch,
                   int c, int h, int w) {
  size_t bytes = (size_t)c * h * w * sizeof *dst;
  int ncrops = t->five_crops ? 5 : 1, nsizes = tta_nsizes(t);
  if (k < 0 || k >= nnrt_tta_views(t)) {
    memcpy(dst, src, bytes);
    return;
  }
  int crop = k % ncrops, size = (k / ncrops) % nsizes, angle = k / ncrops / nsizes;
  double degrees = t->nangles < 1 ? 0 : t->angles[angle];
  int s = t->nsizes < 1 ? (h > w ? h : w) : t->sizes[size];
  int ch = s > 0 && s < h ? s : h, cw = s > 0 && s < w ? s : w;

  const float *img = src;
  if (degrees != 0) {
    nnrt_rotate(src, scratch, c, h, w, degrees);
    img = scratch;
  }
  if (ch == h && cw == w) {
    memcpy(dst, img, bytes); /* every crop position is the whole image */
    return;
  }
  int top, left;
  switch (crop) {
  case 1: top = 0, left = 0; break;
  case 2: top = 0, left = w - cw; break;
  case 3: top = h - ch, left = 0; break;
  case 4: top = h - ch, left = w - cw; break;
  default: top = round_even((h - ch) / 2.0), left = round_even((w - cw) / 2.0); break;
  }
  nnrt_crop_resize(img, dst, c, h, w, top, left, ch, cw);
}
