/* rng.c - xoshiro256** (Blackman and Vigna), seeded through splitmix64.
 * Integer arithmetic only until the float conversions, so a seed gives the
 * same stream on every machine. */
#include "nnrt.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void nnrt_rng_seed(nnrt_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&seed);
}

void nnrt_rng_seed_stream(nnrt_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed, y = splitmix64(&x) ^ stream;
  nnrt_rng_seed(r, splitmix64(&y));
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* static, so the loops below inline it (an exported function in a shared
 * library may be interposed, and GCC calls it). */
static uint64_t next(nnrt_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t nnrt_rng_next(nnrt_rng *r) { return next(r); }

static double uniform(nnrt_rng *r) { return (double)(next(r) >> 11) * 0x1.0p-53; }

double nnrt_rng_uniform(nnrt_rng *r) { return uniform(r); }

/* The state is copied into a local so the loop keeps it in registers (a
 * call per value from the kernel cost it more than its arithmetic). */
void nnrt_rng_mask_f32(nnrt_rng *r, float *mask, size_t n, double p, float keep) {
  nnrt_rng s = *r;
  for (size_t i = 0; i < n; i++)
    mask[i] = uniform(&s) >= p ? keep : 0;
  *r = s;
}

void nnrt_rng_mask_f64(nnrt_rng *r, double *mask, size_t n, double p, double keep) {
  nnrt_rng s = *r;
  for (size_t i = 0; i < n; i++)
    mask[i] = uniform(&s) >= p ? keep : 0;
  *r = s;
}

double nnrt_rng_normal(nnrt_rng *r) {
  const double two_pi = 6.283185307179586476925286766559;
  double u1 = 1.0 - nnrt_rng_uniform(r); /* (0, 1]: log is finite */
  double u2 = nnrt_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

uint64_t nnrt_rng_below(nnrt_rng *r, uint64_t n) {
  if (n <= 1)
    return 0;
  /* Reject the top partial range so every value is equally likely. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = nnrt_rng_next(r);
  while (x >= limit);
  return x % n;
}
