/* plan_svg.c - --emit=plan-svg: the memory plan (plan.c) drawn for a model
 * author as a standalone SVG (decision 244).
 *
 * A panel per mode (inference; training: forward with training=1, the loss
 * and the backward pass).  Each buffer is a box per span of its lifetime:
 * x is when it is live (kernel steps, in the order the entry points run
 * their kernels), y where it lives in the arena (its offset).  The lower
 * band holds the buffers that scale with the batch (offsets per sample),
 * the upper one those that do not (losses, batchnorm statistics, im2col
 * scratch).  Boxes are coloured by what they hold, labelled with the names
 * --emit=summary gives the values when the label fits, and carry a tooltip
 * (<title>) with the names, the IR values, the size and the steps.  A
 * legend says all this; sizes are in B, KiB and MiB.
 */
#include "nncc.h"

#include <string.h>

enum { SVG_W = 960, SVG_LEFT = 90, SVG_RIGHT = 20, SVG_PS_H = 240, SVG_FIX_H = 50, SVG_GAP = 14,
       SVG_HEAD = 150, SVG_PANEL_H = 24 + SVG_FIX_H + SVG_GAP + SVG_PS_H + 62 };

static const struct {
  const char *name, *color, *what;
} kinds[] = {
    [BUF_ACTIVATION] = {"activation", "#4e79a7", "a value of the forward pass"},
    [BUF_SAVED] = {"saved for backward", "#f28e2b",
                   "kept from the forward pass for the backward (batchnorm statistics, masks)"},
    [BUF_GRADIENT] = {"gradient", "#e15759", "a value of the backward pass"},
    [BUF_SCRATCH] = {"scratch", "#59a14f", "a kernel's workspace (im2col), live for one step"},
};

typedef struct Svg {
  FILE *out;
  const char **names;       /* value_names                                  */
  int elem;                 /* bytes per value                              */
  int64_t batch;            /* the recipe's                                 */
} Svg;

static void svg_text(FILE *out, const char *s) {
  for (; *s; s++)
    switch (*s) {
    case '&': fputs("&amp;", out); break;
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '"': fputs("&quot;", out); break;
    default: fputc(*s, out);
    }
}

/* The names of what b holds: "conv2d0 = batchnorm0 = relu0" for a buffer
 * shared in place; "scratch of conv2d0"; "saved by batchnorm0".  With
 * short, only the first and how many more. */
static const char *buf_label(const Svg *s, const PlanBuffer *b, bool short_form) {
  if (!b->values.len)
    return b->what;
  const Value *first = b->values.data[0];
  if (b->kind == BUF_SCRATCH)
    return arena_printf("scratch of %s", s->names[first->id]);
  if (short_form && b->values.len > 1)
    return arena_printf("%s +%d", s->names[first->id], b->values.len - 1);
  StrBuf sb = {0};
  for (int i = 0; i < b->values.len; i++)
    sb_printf(&sb, "%s%s", i ? " = " : "", s->names[((Value *)b->values.data[i])->id]);
  return sb.data;
}

/* One box per span of b, each with its label where it fits (font-size 10:
 * about 6 pixels a character), else the short form, else none. */
static void svg_buffer(const Svg *s, const PlanBuffer *b, double x0, double step, double top,
                       double h) {
  for (int k = 0; k < b->nspans; k++) {
    double x = x0 + b->lo[k] * step, w = (b->hi[k] - b->lo[k] + 1) * step;
    fprintf(s->out,
            "<rect class=\"buf\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
            "fill-opacity=\"0.8\" stroke=\"#222\" stroke-width=\"0.5\"><title>",
            x, top, w, h, kinds[b->kind].color);
    svg_text(s->out, buf_label(s, b, false));
    svg_text(s->out, arena_printf(" (%s, %s): %s at offset %s%s; IR %s; steps %d-%d",
                                  kinds[b->kind].name, b->fixed ? "fixed size" : "per sample",
                                  fmt_bytes(b->size * s->elem), fmt_bytes(b->offset * s->elem),
                                  b->fixed ? "" : " (times the batch)", b->what, b->lo[k],
                                  b->hi[k]));
    fprintf(s->out, "</title></rect>\n");
    for (int form = 0; form < 2 && h >= 12; form++) {
      const char *label = buf_label(s, b, form);
      if (w < 6.0 * (double)strlen(label) + 6)
        continue;
      fprintf(s->out,
              "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
              "fill=\"#fff\" pointer-events=\"none\">",
              x + w / 2, top + h / 2 + 3.5);
      svg_text(s->out, label);
      fprintf(s->out, "</text>\n");
      break;
    }
  }
}

/* The panel's frame: the two bands, their offsets in bytes, the axes. */
static void svg_frame(const Svg *s, const Plan *p, int fix_top, int ps_top, int t_lo, int t_hi,
                      double pw, double step) {
  FILE *out = s->out;
  int ps_bot = ps_top + SVG_PS_H;
  fprintf(out,
          "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#f4f4f4\" stroke=\"#999\"/>\n"
          "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#f4f4f4\" stroke=\"#999\"/>\n",
          SVG_LEFT, fix_top, pw, SVG_FIX_H, SVG_LEFT, ps_top, pw, SVG_PS_H);
  fprintf(out,
          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"10\">fixed size</text>\n"
          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"10\">%s</text>\n"
          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"10\">%s</text>\n"
          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"10\">0</text>\n",
          SVG_LEFT - 4, fix_top + SVG_FIX_H / 2 + 4, SVG_LEFT - 4, fix_top + 10,
          fmt_bytes(p->fixed * s->elem), SVG_LEFT - 4, ps_top + 10,
          fmt_bytes(p->per_sample * s->elem), SVG_LEFT - 4, ps_bot);
  fprintf(out,
          "<text transform=\"translate(%d,%d) rotate(-90)\" text-anchor=\"middle\" "
          "font-size=\"11\">arena offset, per sample</text>\n",
          SVG_LEFT - 62, ps_top + SVG_PS_H / 2);
  int every = (t_hi - t_lo + 1 + 29) / 30;
  for (int t = t_lo; t <= t_hi; t += every) {
    double x = SVG_LEFT + (t - t_lo + 0.5) * step;
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#999\"/>"
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%d</text>\n",
            x, ps_bot, x, ps_bot + 4, x, ps_bot + 15, t);
  }
  fprintf(out,
          "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">time: kernel steps, "
          "in the order the kernels run (each section of a fused kernel a step)</text>\n",
          SVG_LEFT + pw / 2, ps_bot + 30);
}

/* One panel at vertical position y0. */
static void svg_panel(const Svg *s, const Graph *g, int y0, const char *title, int mode,
                      int mask) {
  const Plan *p = &g->plan[mode].plan;
  int t_lo = 1 << 30, t_hi = -1;
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    for (int k = 0; k < b->nspans; k++) {
      t_lo = b->lo[k] < t_lo ? b->lo[k] : t_lo;
      t_hi = b->hi[k] > t_hi ? b->hi[k] : t_hi;
    }
  }
  if (t_hi < t_lo)
    t_lo = 0, t_hi = 0;
  int64_t ps = p->per_sample > 0 ? p->per_sample : 1, fx = p->fixed > 0 ? p->fixed : 1;
  double pw = SVG_W - SVG_LEFT - SVG_RIGHT, step = pw / (t_hi - t_lo + 1);
  int fix_top = y0 + 24, ps_top = fix_top + SVG_FIX_H + SVG_GAP, ps_bot = ps_top + SVG_PS_H;
  fprintf(s->out, "<g class=\"panel\">\n<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", SVG_LEFT,
          y0 + 14);
  svg_text(s->out, title);
  fprintf(s->out, "</text>\n");
  svg_frame(s, p, fix_top, ps_top, t_lo, t_hi, pw, step);
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    double top, h;
    if (b->fixed) {
      top = fix_top + SVG_FIX_H - (double)(b->offset + b->size) * SVG_FIX_H / (double)fx;
      h = (double)b->size * SVG_FIX_H / (double)fx;
    } else {
      top = ps_bot - (double)(b->offset + b->size) * SVG_PS_H / (double)ps;
      h = (double)b->size * SVG_PS_H / (double)ps;
    }
    svg_buffer(s, b, SVG_LEFT - t_lo * step, step, top, h);
  }
  int64_t t[3];
  plan_totals(g, mask, s->batch, t);
  fprintf(s->out, "<text class=\"totals\" x=\"%d\" y=\"%d\" font-size=\"11\">", SVG_LEFT,
          ps_bot + 48);
  svg_text(s->out, arena_printf("arena %s at batch %lld; without reuse %s; lower bound (the most "
                                "bytes live at once) %s",
                                fmt_bytes(t[0]), (long long)s->batch, fmt_bytes(t[1]),
                                fmt_bytes(t[2])));
  fprintf(s->out, "</text>\n</g>\n");
}

/* The title, what the axes are, and the colours. */
static void svg_head(const Svg *s, const Graph *g, int h) {
  FILE *out = s->out;
  fprintf(out,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
          "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">",
          SVG_W, h, SVG_W, h, SVG_LEFT);
  svg_text(out, arena_printf("%s: memory plan at batch %lld, %d-byte values", g->name,
                             (long long)s->batch, s->elem));
  fprintf(out, "</text>\n");
  static const char *const lines[] = {
      "Each box is a buffer of the arena: x is when it is live, y where it lives (its offset).",
      "Boxes that do not meet in time share bytes. Lower band: buffers that grow with the batch",
      "(offsets per sample); upper band: fixed-size buffers. Hover a box for its values and size."};
  for (int i = 0; i < 3; i++)
    fprintf(out, "<text class=\"caption\" x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n",
            SVG_LEFT, 38 + 14 * i, lines[i]);
  for (int k = 0; k < 4; k++) {
    int x = SVG_LEFT, y = 90 + 15 * k;
    fprintf(out,
            "<g class=\"legend\"><rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
            "<text x=\"%d\" y=\"%d\" font-size=\"11\"><tspan font-weight=\"bold\">%s</tspan>: ",
            x, y - 9, kinds[k].color, x + 14, y, kinds[k].name);
    svg_text(out, kinds[k].what);
    fprintf(out, "</text></g>\n");
  }
}

void print_plan_svg(FILE *out, const Graph *g) {
  Svg s = {out, value_names(g), g->f64 ? 8 : 4, g->train.batch};
  bool trains = g->nlosses > 0;
  int h = SVG_HEAD + (trains ? 2 : 1) * SVG_PANEL_H + 10;
  svg_head(&s, g, h);
  svg_panel(&s, g, SVG_HEAD, "inference: forward(training=0)", MODE_INFER, PLAN_INFER);
  if (trains)
    svg_panel(&s, g, SVG_HEAD + SVG_PANEL_H,
              "training: forward(training=1), then loss_and_grad (loss and backward)", MODE_TRAIN,
              PLAN_TRAIN);
  fprintf(out, "</svg>\n");
}
