/* init.c - parameter initializers, with PyTorch's nn.init formulas. */
#include "nnrt.h"

#include <math.h>

/* The scale of each kind: a std for normals, a bound for uniforms. */
static double init_scale(nnrt_init_kind kind, double arg, double fan_in, double fan_out) {
  switch (kind) {
  case NNRT_INIT_NORMAL:
  case NNRT_INIT_UNIFORM: return arg;
  case NNRT_INIT_XAVIER_NORMAL: return sqrt(2.0 / (fan_in + fan_out));
  case NNRT_INIT_XAVIER_UNIFORM: return sqrt(6.0 / (fan_in + fan_out));
  case NNRT_INIT_HE_NORMAL: return sqrt(2.0 / fan_in);
  case NNRT_INIT_HE_UNIFORM: return sqrt(6.0 / fan_in);
  default: return 0;
  }
}

static double init_one(nnrt_rng *r, nnrt_init_kind kind, double scale) {
  switch (kind) {
  case NNRT_INIT_ZEROS: return 0.0;
  case NNRT_INIT_ONES: return 1.0;
  case NNRT_INIT_NORMAL:
  case NNRT_INIT_XAVIER_NORMAL:
  case NNRT_INIT_HE_NORMAL: return scale * nnrt_rng_normal(r);
  default: return scale * (2.0 * nnrt_rng_uniform(r) - 1.0);
  }
}

void nnrt_init_f32(nnrt_rng *r, float *w, size_t n, nnrt_init_kind kind, double arg,
                   double fan_in, double fan_out) {
  double scale = init_scale(kind, arg, fan_in, fan_out);
  for (size_t i = 0; i < n; i++)
    w[i] = (float)init_one(r, kind, scale);
}

void nnrt_init_f64(nnrt_rng *r, double *w, size_t n, nnrt_init_kind kind, double arg,
                   double fan_in, double fan_out) {
  double scale = init_scale(kind, arg, fan_in, fan_out);
  for (size_t i = 0; i < n; i++)
    w[i] = init_one(r, kind, scale);
}
