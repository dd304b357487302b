/* plot.c - training curves as a self-contained SVG file.
 *
 * Two panels side by side, loss and accuracy (in %), each with its axes,
 * ticks at "nice" values (1, 2 or 5 times a power of ten), grid lines, a
 * legend, and one polyline per series.  A missing value (NAN or infinite)
 * breaks the line; a point with no finite neighbour is drawn as a dot.  The
 * numbers in the file are written without printf's %f, so the file stays
 * valid whatever locale the calling program set.  Made in memory, then
 * written as checkpoints are (replace.h). */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "nnrt_train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The page, and the plot area of each panel (pixels). */
enum { PAGE_W = 960, PAGE_H = 372, TOP = 60, BOTTOM = 320, PANEL_W = 380 };
static const int panel_left[2] = {80, 560};
enum { SERIES = 3 };
static const char *const color[SERIES] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
static const char *const series_name[SERIES] = {"train", "validation", "test"};

/* v with dec decimals, by integer arithmetic (locale-independent). */
static const char *fixed(char buf[40], double v, int dec) {
  long long scale = 1;
  for (int i = 0; i < dec; i++)
    scale *= 10;
  if (!(fabs(v) < 1e15 / scale))
    v = 0; /* never happens for coordinates; keeps the cast defined */
  long long q = llround(v * (double)scale);
  const char *sign = q < 0 ? "-" : "";
  if (q < 0)
    q = -q;
  if (dec > 0)
    snprintf(buf, 40, "%s%lld.%0*lld", sign, q / scale, dec, q % scale);
  else
    snprintf(buf, 40, "%s%lld", sign, q);
  return buf;
}

/* A minimal printf for the SVG: %s a string as it is, %x a string escaped
 * for XML, %d an int, %v a double with one decimal. */
static void out(FILE *f, const char *fmt, ...) {
  va_list ap;
  char buf[40];
  va_start(ap, fmt);
  for (const char *p = fmt; *p; p++) {
    if (*p != '%' || !p[1]) {
      fputc(*p, f);
      continue;
    }
    switch (*++p) {
    case 's': fputs(va_arg(ap, const char *), f); break;
    case 'd': fprintf(f, "%d", va_arg(ap, int)); break;
    case 'v': fputs(fixed(buf, va_arg(ap, double), 1), f); break;
    case 'x':
      for (const char *s = va_arg(ap, const char *); *s; s++)
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
          /* control characters are not allowed in XML 1.0 */
          fputc((unsigned char)*s < 0x20 && *s != '\t' ? ' ' : *s, f);
        }
      break;
    default: fputc(*p, f);
    }
  }
  va_end(ap);
}

/* An axis: [lo, hi] with ticks every step, labelled with dec decimals. */
typedef struct axis {
  double lo, hi, step;
  int dec;
} axis;

/* Ticks at a multiple of 1, 2 or 5 times a power of ten, about five of
 * them, the range widened to whole steps (and a flat range opened up), then
 * kept within [min_lo, max_hi]. */
static axis nice_axis(double lo, double hi, int integer, double min_lo, double max_hi) {
  axis a;
  if (!(lo <= hi))
    lo = 0, hi = 1; /* no data */
  if (hi - lo <= 1e-9 * fabs(hi)) {
    double pad = hi != 0 ? 0.1 * fabs(hi) : 0.5;
    lo -= pad;
    hi += pad;
  }
  double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), m = raw / mag;
  a.step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * mag;
  if (integer && a.step < 1)
    a.step = 1;
  a.lo = floor(lo / a.step + 1e-9) * a.step;
  a.hi = ceil(hi / a.step - 1e-9) * a.step;
  if (a.lo < min_lo)
    a.lo = min_lo;
  if (a.hi > max_hi)
    a.hi = max_hi;
  a.dec = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
  return a;
}

static double map(const axis *a, double v, double from, double to) {
  return from + (v - a->lo) / (a->hi - a->lo) * (to - from);
}

static int finite_at(const double *v, int i, int n) { return v && i >= 0 && i < n && isfinite(v[i]); }

/* The best epoch's mark: a dashed line across the plot area, labelled at
 * the end away from the legend (top with legend_low, else bottom). */
static void best_mark(FILE *f, const axis *xa, int left, int best, int legend_low) {
  double x = map(xa, best, left, left + PANEL_W);
  out(f, "<g class=\"best-epoch\">\n<line x1=\"%v\" y1=\"%d\" x2=\"%v\" y2=\"%d\" "
         "stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"5,4\"/>\n", x, TOP, x, BOTTOM);
  /* the label inside the plot, on the side with room */
  int right_side = x < left + PANEL_W / 2.0;
  out(f, "<text x=\"%v\" y=\"%d\" text-anchor=\"%s\" font-size=\"12\" fill=\"#333\">"
         "best epoch %d</text>\n</g>\n", right_side ? x + 4 : x - 4,
      legend_low ? TOP + 14 : BOTTOM - 8, right_side ? "start" : "end", best);
}

/* One panel: frame, grid, ticks, labels, the series, a legend and the best
 * epoch's mark (best > 0).
 * scale turns values into what the axis shows (100 for accuracy in %).  The
 * legend goes top right, or bottom right with legend_low (rising curves end
 * at the top right). */
static void panel(FILE *f, int left, const char *name, const char *ylabel, int epochs,
                  const double *const series[SERIES], double scale, double min_lo,
                  double max_hi, int legend_low, int best) {
  const int right = left + PANEL_W;
  char buf[40];
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  for (int s = 0; s < SERIES; s++)
    for (int i = 0; i < epochs; i++)
      if (finite_at(series[s], i, epochs)) {
        lo = fmin(lo, series[s][i] * scale);
        hi = fmax(hi, series[s][i] * scale);
      }
  if (lo > hi && max_hi < HUGE_VAL) /* no data: the whole usual range */
    lo = min_lo, hi = max_hi;
  if (lo < min_lo || hi > max_hi) /* values outside the usual range: show them all */
    min_lo = -HUGE_VAL, max_hi = HUGE_VAL;
  axis ya = nice_axis(lo, hi, 0, min_lo, max_hi);
  axis xa = epochs >= 2 ? nice_axis(1, epochs, 1, -HUGE_VAL, HUGE_VAL)
                        : nice_axis(0.5, 1.5, 1, -HUGE_VAL, HUGE_VAL);
  xa.lo = epochs >= 2 ? 1 : 0.5; /* the curves span the whole width */
  xa.hi = epochs >= 2 ? epochs : 1.5;

  out(f, "<g>\n<text x=\"%v\" y=\"%d\" text-anchor=\"middle\" font-size=\"15\" "
         "font-weight=\"bold\">%x</text>\n", (left + right) / 2.0, TOP - 12, name);
  out(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n",
      left, TOP, PANEL_W, BOTTOM - TOP);
  for (long k = (long)ceil(ya.lo / ya.step - 1e-9); k * ya.step <= ya.hi + 1e-9 * ya.step; k++) {
    double y = map(&ya, k * ya.step, BOTTOM, TOP);
    out(f, "<line x1=\"%d\" y1=\"%v\" x2=\"%d\" y2=\"%v\" stroke=\"#ddd\"/>\n", left, y,
        right, y);
    out(f, "<line x1=\"%d\" y1=\"%v\" x2=\"%d\" y2=\"%v\" stroke=\"#444\"/>\n", left - 5, y,
        left, y);
    out(f, "<text x=\"%d\" y=\"%v\" text-anchor=\"end\" font-size=\"12\">%s</text>\n",
        left - 8, y + 4, fixed(buf, k * ya.step, ya.dec));
  }
  for (long k = (long)ceil(xa.lo / xa.step - 1e-9); k * xa.step <= xa.hi + 1e-9; k++) {
    double x = map(&xa, k * xa.step, left, right);
    out(f, "<line x1=\"%v\" y1=\"%d\" x2=\"%v\" y2=\"%d\" stroke=\"#444\"/>\n", x, BOTTOM, x,
        BOTTOM + 5);
    out(f, "<text x=\"%v\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n", x,
        BOTTOM + 19, fixed(buf, k * xa.step, 0));
  }
  out(f, "<text x=\"%v\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">epoch</text>\n",
      (left + right) / 2.0, BOTTOM + 40);
  out(f, "<text transform=\"translate(%d %d) rotate(-90)\" text-anchor=\"middle\" "
         "font-size=\"13\">%x</text>\n", left - 55, (TOP + BOTTOM) / 2, ylabel);

  if (best >= 1 && best <= epochs)
    best_mark(f, &xa, left, best, legend_low);
  int present[SERIES] = {0, 0, 0};
  for (int s = 0; s < SERIES; s++) {
    /* Each run of finite values is one polyline... */
    for (int i = 0; i < epochs; i++) {
      if (!finite_at(series[s], i, epochs))
        continue;
      present[s] = 1;
      double x = map(&xa, i + 1, left, right), y = map(&ya, series[s][i] * scale, BOTTOM, TOP);
      int prev = finite_at(series[s], i - 1, epochs), next = finite_at(series[s], i + 1, epochs);
      if (!prev && next)
        out(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color[s]);
      if (prev || next)
        out(f, "%s%v,%v", prev ? " " : "", x, y);
      if (prev && !next)
        out(f, "\"/>\n");
    }
    /* ...and a lone value a dot; short runs get a marker on every point. */
    for (int i = 0; i < epochs; i++) {
      if (!finite_at(series[s], i, epochs))
        continue;
      int lone = !finite_at(series[s], i - 1, epochs) && !finite_at(series[s], i + 1, epochs);
      if (lone || epochs <= 30)
        out(f, "<circle cx=\"%v\" cy=\"%v\" r=\"%s\" fill=\"%s\"/>\n",
            map(&xa, i + 1, left, right), map(&ya, series[s][i] * scale, BOTTOM, TOP),
            lone ? "3" : "2.5", color[s]);
    }
  }
  /* The legend: one row per series drawn, on a white box. */
  int rows = present[0] + present[1] + present[2];
  if (rows > 0) {
    int box_top = legend_low ? BOTTOM - 10 - 18 * rows : TOP + 8;
    out(f, "<rect x=\"%d\" y=\"%d\" width=\"112\" height=\"%d\" fill=\"white\" "
           "fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n", right - 120, box_top, 18 * rows + 4);
    for (int s = 0, row = 0; s < SERIES; s++) {
      if (!present[s])
        continue;
      int ly = box_top + 11 + 18 * row++;
      out(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
             "stroke-width=\"2\"/>\n", right - 112, ly, right - 88, ly, color[s]);
      out(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n", right - 82, ly + 4,
          series_name[s]);
    }
  }
  out(f, "</g>\n");
}

nnrt_status nnrt_plot_curves(const char *path, const char *title, int epochs,
                             const double *train_loss, const double *val_loss,
                             const double *train_acc, const double *val_acc) {
  const nnrt_curves c = {epochs, {train_loss, val_loss, NULL}, {train_acc, val_acc, NULL}, 0,
                         NULL};
  return nnrt_plot_curves_ex(path, title, &c);
}

nnrt_status nnrt_plot_curves_ex(const char *path, const char *title, const nnrt_curves *c) {
  int epochs = c ? c->epochs : -1;
  if (!path || epochs < 0)
    return nnrt_fail(NNRT_ERR_ARG, "plot: bad arguments (%d epochs)", epochs);
  /* Made in memory, then written whole. */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory", path);
  const char *t = title ? title : "training";
  out(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
         "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
         "<title>%x</title>\n"
         "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
         "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"17\">%x</text>\n",
      PAGE_W, PAGE_H, PAGE_W, PAGE_H, t, PAGE_W / 2, t);
  panel(f, panel_left[0], "Loss", "loss", epochs, c->loss, 1, 0, HUGE_VAL, 0, c->best_epoch);
  if (c->metric)  /* an error: from 0 up, falling like the loss */
    panel(f, panel_left[1], c->metric, c->metric, epochs, c->accuracy, 1, 0, HUGE_VAL, 0,
          c->best_epoch);
  else
    panel(f, panel_left[1], "Accuracy", "accuracy (%)", epochs, c->accuracy, 100, 0, 100, 1,
          c->best_epoch);
  out(f, "</svg>\n");
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    free(text);
    return nnrt_fail(NNRT_ERR_NOMEM, "%s: out of memory", path);
  }
  nnrt_file file;
  int rc = nnrt_file_replace(&file, path);
  if (rc == 0)
    rc = nnrt_file_write(&file, text, len);
  if (rc == 0)
    rc = nnrt_file_close(&file, 0);
  free(text);
  return rc == 0 ? NNRT_OK : nnrt_file_failed(&file);
}
