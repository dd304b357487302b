/* plan.c - the memory planner: places every buffer of the generated code
 * (values, saved values, kernel scratch) in one arena so that buffers whose
 * lifetimes never meet share bytes.
 *
 * Time is the sequence of kernel calls of the entry points, one after the
 * other (infer, train_forward, train); a buffer's lifetime is a set of
 * spans, one per entry point that touches it, from the step that writes it
 * to the last step that reads it (outputs and losses are read at the end of
 * their entry point).  A value has one place for all entry points, because
 * a kernel's call, with its offsets, is shared between them.
 *
 * Placement is greedy by size (largest first, then earliest): each buffer
 * goes at the lowest offset that does not overlap a placed buffer whose
 * lifetime meets its own.  Buffers that scale with the batch and those that
 * do not (losses, batchnorm statistics, im2col scratch) are planned in two
 * regions.  With naive placement (-O0) every buffer has its own bytes.
 */
#include "nncc.h"

#include <stdlib.h>
#include <string.h>

void plan_add_span(PlanBuffer *b, int lo, int hi) {
  for (int i = 0; i < b->nspans; i++)
    if (lo <= b->hi[i] + 1 && b->lo[i] <= hi + 1) {  /* touching: merge */
      b->lo[i] = lo < b->lo[i] ? lo : b->lo[i];
      b->hi[i] = hi > b->hi[i] ? hi : b->hi[i];
      return;
    }
  if (b->nspans == PLAN_MAX_SPANS) {  /* merge into the last: safe, wider */
    b->hi[b->nspans - 1] = hi > b->hi[b->nspans - 1] ? hi : b->hi[b->nspans - 1];
    b->lo[b->nspans - 1] = lo < b->lo[b->nspans - 1] ? lo : b->lo[b->nspans - 1];
    return;
  }
  b->lo[b->nspans] = lo;
  b->hi[b->nspans] = hi;
  b->nspans++;
}

static bool meet(const PlanBuffer *a, const PlanBuffer *b) {
  for (int i = 0; i < a->nspans; i++)
    for (int j = 0; j < b->nspans; j++)
      if (a->lo[i] <= b->hi[j] && b->lo[j] <= a->hi[i])
        return true;
  return false;
}

static int by_size(const void *pa, const void *pb) {
  const PlanBuffer *a = *(PlanBuffer *const *)pa, *b = *(PlanBuffer *const *)pb;
  if (a->size != b->size)
    return a->size > b->size ? -1 : 1;
  return a->lo[0] < b->lo[0] ? -1 : a->lo[0] > b->lo[0];
}

static int by_offset(const void *pa, const void *pb) {
  const PlanBuffer *a = *(PlanBuffer *const *)pa, *b = *(PlanBuffer *const *)pb;
  return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Places the buffers of one region; returns its size in values. */
static int64_t place_region(PlanBuffer **bufs, int n, bool naive) {
  int64_t extent = 0;
  if (naive) {
    for (int i = 0; i < n; i++) {
      bufs[i]->offset = extent;
      extent += bufs[i]->size;
    }
    return extent;
  }
  qsort(bufs, (size_t)n, sizeof *bufs, by_size);
  PlanBuffer **near = malloc(sizeof(PlanBuffer *) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) {
    int nn = 0;
    for (int j = 0; j < i; j++)
      if (meet(bufs[i], bufs[j]))
        near[nn++] = bufs[j];
    qsort(near, (size_t)nn, sizeof *near, by_offset);
    int64_t at = 0;
    for (int j = 0; j < nn; j++) {
      if (near[j]->offset >= at + bufs[i]->size)
        break;  /* it fits in the gap before near[j] */
      if (near[j]->offset + near[j]->size > at)
        at = near[j]->offset + near[j]->size;
    }
    bufs[i]->offset = at;
    if (at + bufs[i]->size > extent)
      extent = at + bufs[i]->size;
  }
  free(near);
  return extent;
}

void plan_place(Plan *p, bool naive) {
  PtrVec regions[2] = {{0}, {0}};
  for (int i = 0; i < p->bufs.len; i++) {
    PlanBuffer *b = p->bufs.data[i];
    vec_push(&regions[b->fixed], b);
  }
  p->per_sample = place_region((PlanBuffer **)regions[0].data, regions[0].len, naive);
  p->fixed = place_region((PlanBuffer **)regions[1].data, regions[1].len, naive);
}

/* Bytes at batch `batch` of the buffers an entry point uses: the extent the
 * plan gives them, their plain sum, and the peak of live bytes. */
static void totals(const Plan *p, int mask, int64_t batch, int elem, int64_t out[3]) {
  int64_t extent[2] = {0, 0}, sum = 0, peak = 0;
  int t_lo = 1 << 30, t_hi = -1;
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    if (!(b->entries & mask))
      continue;
    int64_t scale = b->fixed ? 1 : batch;
    if (b->offset + b->size > extent[b->fixed])
      extent[b->fixed] = b->offset + b->size;
    sum += b->size * scale;
    for (int s = 0; s < b->nspans; s++) {
      t_lo = b->lo[s] < t_lo ? b->lo[s] : t_lo;
      t_hi = b->hi[s] > t_hi ? b->hi[s] : t_hi;
    }
  }
  for (int t = t_lo; t <= t_hi; t++) {
    int64_t live = 0;
    for (int i = 0; i < p->bufs.len; i++) {
      const PlanBuffer *b = p->bufs.data[i];
      if (!(b->entries & mask))
        continue;
      for (int s = 0; s < b->nspans; s++)
        if (b->lo[s] <= t && t <= b->hi[s]) {
          live += b->size * (b->fixed ? 1 : batch);
          break;
        }
    }
    peak = live > peak ? live : peak;
  }
  out[0] = (extent[0] * batch + extent[1]) * elem;
  out[1] = sum * elem;
  out[2] = peak * elem;
}

static void print_buffers(FILE *out, const Plan *p) {
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    StrBuf spans = {0};
    for (int s = 0; s < b->nspans; s++)
      sb_printf(&spans, "%s[%d,%d]", s ? " " : "", b->lo[s], b->hi[s]);
    fprintf(out, "%-28s %-10s size %-8lld offset %-8lld live %s\n", b->what,
            b->fixed ? "fixed" : "per-sample", (long long)b->size, (long long)b->offset,
            spans.data);
  }
}

void print_plan(FILE *out, const Plan *infer, const Plan *train, int64_t batch, int elem) {
  fprintf(out, "plan: values per sample x batch %lld, %d-byte elements\n", (long long)batch,
          elem);
  fprintf(out, "inference (forward, training=0):\n");
  print_buffers(out, infer);
  fprintf(out, "training (forward, training=1; loss_and_grad):\n");
  print_buffers(out, train);
  int64_t t[3];
  totals(infer, PLAN_INFER, batch, elem, t);
  fprintf(out, "total inference: arena=%lld naive=%lld lower_bound=%lld\n", (long long)t[0],
          (long long)t[1], (long long)t[2]);
  totals(train, PLAN_TRAIN, batch, elem, t);
  if (t[1])
    fprintf(out, "total training: arena=%lld naive=%lld lower_bound=%lld\n", (long long)t[0],
            (long long)t[1], (long long)t[2]);
}
