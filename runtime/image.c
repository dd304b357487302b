/* image.c - PGM and PPM images (binary, 8-bit) as a data set of one
 * sample, for `predict --images photo.pgm`.  The header is read by cli.c's
 * nnrt_pnm_header, which nncc shares to check an image before it builds a
 * trainer. */
#include "cli.h"
#include "nnrt_train.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

nnrt_status nnrt_dataset_load_pnm(nnrt_dataset *d, const char *path) {
  memset(d, 0, sizeof *d);
  FILE *f = fopen(path, "rb");
  if (!f)
    return nnrt_fail(NNRT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  int c, w, h, max;
  const char *why;
  if (nnrt_pnm_header(f, &c, &w, &h, &max, &why) != 0) {
    fclose(f);
    return nnrt_fail(NNRT_ERR_FORMAT, "%s: %s", path, why);
  }
  size_t n = (size_t)c * (size_t)w * (size_t)h;
  uint8_t *pix = malloc(n), *chw = malloc(n);
  size_t got = pix && chw ? fread(pix, 1, n, f) : 0;
  fclose(f);
  if (!pix || !chw) {
    free(pix), free(chw);
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory for a %dx%d image", path, w, h);
  }
  if (got != n) {
    free(pix), free(chw);
    return nnrt_fail(NNRT_ERR_CORRUPT, "%s: truncated: %zu of the %zu pixel bytes of a %dx%d "
                     "image", path, got, n, w, h);
  }
  for (size_t i = 0; i < n; i++)
    if (pix[i] > max) {
      free(pix), free(chw);
      return nnrt_fail(NNRT_ERR_FORMAT, "%s: a pixel of %d, above the maximum value %d", path,
                       pix[i], max);
    }
  /* P6 stores pixels RGBRGB... (height x width x 3); models take [C, H, W] */
  for (int k = 0; k < c; k++)
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
      chw[(size_t)k * (size_t)w * (size_t)h + i] = pix[i * (size_t)c + (size_t)k];
  free(pix);
  d->count = 1;
  d->channels = c, d->height = h, d->width = w;
  d->sample_size = n;
  d->type = NNRT_SAMPLES_U8;
  d->x.u8 = chw;
  for (int b = 0; b < 256; b++)
    d->byte_value[b] = (float)b / (float)max;
  return NNRT_OK;
}
