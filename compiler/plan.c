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
 *
 * A view (OPF_VIEW: flatten) is not a buffer: it is its input's memory
 * under a second name (value_storage), so that buffer is live wherever
 * either is read, and a view of a model input has no place at all.
 *
 * The plan pass makes a plan per mode from the schedule (schedule.c): the
 * buffers, each value's, and each kernel's scratch (its op's scratch rule),
 * with their lifetimes, then places them.  It stores the plans on the graph,
 * for --emit=plan and for the emitter, which only prints them.
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

/* A run of placed buffers, consecutive in offset order, and what lets the
 * search below pass it without looking at each: their highest end, the
 * largest gap between them, the hull of their lifetimes, and the steps
 * at which every one of them is live (each one's longest span, intersected:
 * empty if lo > hi). */
typedef struct Run {
  PlanBuffer **m;
  int n;
  int64_t end, gap;
  int hull_lo, hull_hi, all_lo, all_hi;
} Run;

enum { RUN_MAX = 64 };  /* a run splits in two beyond this */

static void run_summarize(Run *r) {
  r->end = r->gap = 0;
  r->hull_lo = 1 << 30, r->hull_hi = -1;
  r->all_lo = 0, r->all_hi = 1 << 30;
  for (int k = 0; k < r->n; k++) {
    const PlanBuffer *b = r->m[k];
    if (k && b->offset - r->end > r->gap)
      r->gap = b->offset - r->end;
    if (b->offset + b->size > r->end)
      r->end = b->offset + b->size;
    int longest = 0;
    for (int s = 0; s < b->nspans; s++) {
      r->hull_lo = b->lo[s] < r->hull_lo ? b->lo[s] : r->hull_lo;
      r->hull_hi = b->hi[s] > r->hull_hi ? b->hi[s] : r->hull_hi;
      if (b->hi[s] - b->lo[s] > b->hi[longest] - b->lo[longest])
        longest = s;
    }
    r->all_lo = b->lo[longest] > r->all_lo ? b->lo[longest] : r->all_lo;
    r->all_hi = b->hi[longest] < r->all_hi ? b->hi[longest] : r->all_hi;
  }
}

/* Is b live at some step of [lo, hi]? */
static bool live_in(const PlanBuffer *b, int lo, int hi) {
  for (int s = 0; s < b->nspans; s++)
    if (b->lo[s] <= hi && lo <= b->hi[s])
      return true;
  return false;
}

/* Places the buffers of one region; returns its size in values.
 *
 * Each buffer goes at the lowest offset where it overlaps no placed buffer
 * whose lifetime meets its own: walking the placed buffers up from offset
 * 0, past each that meets it, to the first gap that fits.  They are kept
 * sorted by offset in runs, and the walk passes a whole run at once when
 * none of it meets the buffer, or when all of it does (all live at a step
 * where the buffer is) and no gap in it fits: so a long chain, whose
 * training buffers all meet, is placed in about linear time. */
static int64_t place_region(PlanBuffer **bufs, int n, bool naive) {
  int64_t extent = 0;
  if (naive) {
    for (int i = 0; i < n; i++) {
      bufs[i]->offset = extent;
      extent += bufs[i]->size;
    }
    return extent;
  }
  if (n > 1)
    qsort(bufs, (size_t)n, sizeof *bufs, by_size);
  Run *runs = malloc(sizeof(Run) * (size_t)(n / (RUN_MAX / 2) + 2));
  PlanBuffer **slots = malloc(sizeof(PlanBuffer *) * (size_t)(n / (RUN_MAX / 2) + 2) *
                              (RUN_MAX + 1));
  int nruns = 0;
  for (int i = 0; i < n; i++) {
    PlanBuffer *b = bufs[i];
    int64_t at = 0;
    for (int r = 0; r < nruns && runs[r].m[0]->offset < at + b->size; r++) {
      const Run *run = &runs[r];
      if (!live_in(b, run->hull_lo, run->hull_hi))
        continue;  /* meets none of it */
      if (run->all_lo <= run->all_hi && live_in(b, run->all_lo, run->all_hi) &&
          run->gap < b->size) {
        at = run->end > at ? run->end : at;  /* meets all, fits in no gap */
        continue;
      }
      for (int j = 0; j < run->n && run->m[j]->offset < at + b->size; j++)
        if (meet(b, run->m[j]) && run->m[j]->offset + run->m[j]->size > at)
          at = run->m[j]->offset + run->m[j]->size;
    }
    b->offset = at;
    if (at + b->size > extent)
      extent = at + b->size;
    /* insert it after the buffers at or below its offset */
    int r = 0;
    while (r + 1 < nruns && runs[r + 1].m[0]->offset <= at)
      r++;
    if (!nruns) {
      runs[0] = (Run){.m = slots, .n = 0};
      nruns = 1;
    }
    Run *run = &runs[r];
    int k = run->n;
    while (k > 0 && run->m[k - 1]->offset > at)
      k--;
    memmove(run->m + k + 1, run->m + k, sizeof *run->m * (size_t)(run->n - k));
    run->m[k] = b;
    run->n++;
    if (run->n > RUN_MAX) {  /* split: the upper half takes fresh slots */
      memmove(runs + r + 2, runs + r + 1, sizeof *runs * (size_t)(nruns - r - 1));
      Run *upper = &runs[r + 1];
      upper->m = slots + (size_t)nruns * (RUN_MAX + 1);
      upper->n = run->n - RUN_MAX / 2;
      memcpy(upper->m, run->m + RUN_MAX / 2, sizeof *run->m * (size_t)upper->n);
      run->n = RUN_MAX / 2;
      nruns++;
      run_summarize(upper);
    }
    run_summarize(run);
  }
  free(runs);
  free(slots);
  return extent;
}

const char *plan_ref(const PlanBuffer *b) {
  if (!b->fixed)
    return arena_printf("A + %lld * (size_t)batch", (long long)b->offset);
  return arena_printf("A + %lld * mb + %lld", (long long)b->base, (long long)b->offset);
}

static void fixed_bases(PtrVec *fx, const PtrVec *ps);

void plan_place(Plan *p, bool naive) {
  PtrVec regions[2] = {{0}, {0}};
  for (int i = 0; i < p->bufs.len; i++) {
    PlanBuffer *b = p->bufs.data[i];
    vec_push(&regions[b->fixed], b);
  }
  p->per_sample = place_region((PlanBuffer **)regions[0].data, regions[0].len, naive);
  p->fixed = place_region((PlanBuffer **)regions[1].data, regions[1].len, naive);
  /* Bases: fixed buffers that meet share one (their offsets keep them
   * apart); each sits above the per-sample buffers that meet its group. */
  PtrVec *fx = &regions[1];
  if (naive) {
    for (int i = 0; i < fx->len; i++)
      ((PlanBuffer *)fx->data[i])->base = p->per_sample;
  } else {
    fixed_bases(fx, &regions[0]);
  }
}

/* A lifetime span of buffer `who`. */
typedef struct Span {
  int lo, hi, who;
} Span;

static int by_lo(const void *pa, const void *pb) {
  const Span *a = pa, *b = pb;
  return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int find_root(int *parent, int i) {
  while (parent[i] != i)
    i = parent[i] = parent[parent[i]];
  return i;
}

static Span *spans_of(const PtrVec *bufs, int *n) {
  int count = 0;
  for (int i = 0; i < bufs->len; i++)
    count += ((PlanBuffer *)bufs->data[i])->nspans;
  Span *s = malloc(sizeof(Span) * (size_t)(count ? count : 1));
  *n = 0;
  for (int i = 0; i < bufs->len; i++) {
    const PlanBuffer *b = bufs->data[i];
    for (int k = 0; k < b->nspans; k++)
      s[(*n)++] = (Span){b->lo[k], b->hi[k], i};
  }
  qsort(s, (size_t)*n, sizeof *s, by_lo);
  return s;
}

/* The groups of fixed buffers that meet, directly or through others, and
 * each group's base: the highest end of the per-sample buffers that meet one
 * of its members.  The fixed spans, swept in order of their start, merge
 * into disjoint segments (a span that starts before the segment's end meets
 * the span that reaches that end), each of one group; a per-sample buffer
 * meets the group when a span of it meets a segment.  So: for each segment,
 * by its end, the per-sample spans that start by then go into a
 * Fenwick tree by their end step, which gives the highest buffer end among
 * those that end at or after the segment's start. */
static void fixed_bases(PtrVec *fx, const PtrVec *ps) {
  int nf, np;
  Span *fs = spans_of(fx, &nf), *pspan = spans_of(ps, &np);
  int *parent = malloc(sizeof(int) * (size_t)(fx->len ? fx->len : 1));
  for (int i = 0; i < fx->len; i++)
    parent[i] = i;
  Span *seg = malloc(sizeof(Span) * (size_t)(nf ? nf : 1));  /* who: a member */
  int nseg = 0, steps = 0;
  for (int i = 0; i < nf; i++) {
    if (nseg && fs[i].lo <= seg[nseg - 1].hi) {
      Span *cur = &seg[nseg - 1];
      parent[find_root(parent, fs[i].who)] = find_root(parent, cur->who);
      if (fs[i].hi > cur->hi)
        cur->hi = fs[i].hi;
    } else {
      seg[nseg++] = fs[i];
    }
  }
  for (int i = 0; i < nseg; i++)
    steps = seg[i].hi > steps ? seg[i].hi : steps;
  for (int i = 0; i < np; i++)
    steps = pspan[i].hi > steps ? pspan[i].hi : steps;
  /* tree[k]: the highest end among spans ending in a block of steps; queried
   * for steps >= lo by indexing from the last step down */
  int64_t *tree = calloc((size_t)steps + 2, sizeof(int64_t));
  int64_t *base = calloc((size_t)(fx->len ? fx->len : 1), sizeof(int64_t));
  const Span *by_end = seg;  /* disjoint and in order of start: so of end too */
  int next = 0;
  for (int i = 0; i < nseg; i++) {
    for (; next < np && pspan[next].lo <= by_end[i].hi; next++) {
      const PlanBuffer *b = ps->data[pspan[next].who];
      for (int k = steps + 1 - pspan[next].hi; k <= steps + 1; k += k & -k)
        tree[k] = b->offset + b->size > tree[k] ? b->offset + b->size : tree[k];
    }
    int64_t top = 0;
    for (int k = steps + 1 - by_end[i].lo; k > 0; k -= k & -k)
      top = tree[k] > top ? tree[k] : top;
    int root = find_root(parent, by_end[i].who);
    base[root] = top > base[root] ? top : base[root];
  }
  for (int i = 0; i < fx->len; i++)
    ((PlanBuffer *)fx->data[i])->base = base[find_root(parent, i)];
  free(fs);
  free(pspan);
  free(parent);
  free(seg);
  free(tree);
  free(base);
}

/* A fixed buffer's base and end, and its index in the plan. */
typedef struct Top {
  int64_t base, end;
  int index;
} Top;

static int by_base_then_end(const void *pa, const void *pb) {
  const Top *a = pa, *b = pb;
  if (a->base != b->base)
    return a->base < b->base ? -1 : 1;
  if (a->end != b->end)
    return a->end > b->end ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

const bool *plan_highest(const Plan *p) {
  bool *highest = arena_alloc(sizeof(bool) * (size_t)(p->bufs.len + 1));
  Top *tops = malloc(sizeof(Top) * (size_t)(p->bufs.len + 1));
  int n = 0;
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    if (b->fixed)
      tops[n++] = (Top){b->base, b->offset + b->size, i};
  }
  qsort(tops, (size_t)n, sizeof *tops, by_base_then_end);
  for (int k = 0; k < n; k++)
    highest[tops[k].index] = k == 0 || tops[k].base != tops[k - 1].base;
  free(tops);
  return highest;
}

/* ------------------------------------------------------- the plan pass */

/* One mode's plan being made: per entry point, what each kernel writes and
 * reads and its scratch, a step per kernel (a group's, per section). */
typedef struct Walk {
  const Graph *g;
  PlanState *ps;
  int mode;
  int *first, *last;        /* per value id, in the entry point walked      */
  int t;                    /* the step                                     */
} Walk;

/* Does v take a buffer in the mode? */
static bool placeable(const Value *v, int mode) {
  return v && v->id >= 0 && v->ty.kind != T_NONE && v->def->op != OP_INPUT &&
         v->def->op != OP_LABEL && !value_virtual(v, mode);
}

static void touch(Walk *w, const Value *v) {
  if (v && v->id >= 0)
    v = value_storage(v);  /* a view: its input's buffer, live while either is */
  if (!placeable(v, w->mode))
    return;
  if (w->first[v->id] < 0)
    w->first[v->id] = w->t;
  w->last[v->id] = w->t;
}

/* The scratch buffers of n's kernel, made the first time it is walked, from
 * its op's scratch rule. */
static PlanBuffer **scratch_of(Walk *w, const IrNode *n) {
  PlanBuffer ***slots = &w->ps->scratch[n->out->id];
  if (*slots || !op_table[n->op]->scratch)
    return *slots;
  Scratch sizes[MAX_SCRATCH];
  int count = op_table[n->op]->scratch(w->g, n, sizes);
  if (count < 0 || count > MAX_SCRATCH)
    internal_error("%d scratch buffers for one kernel (%s)", count, op_table[n->op]->name);
  *slots = arena_alloc(sizeof(PlanBuffer *) * (MAX_SCRATCH + 1));
  for (int k = 0; k < count; k++) {
    PlanBuffer *b = arena_alloc(sizeof(PlanBuffer));
    b->what = arena_printf("scratch %d of %%%d", k, n->out->id);
    b->kind = BUF_SCRATCH;
    vec_push(&b->values, n->out);
    b->cname = k ? arena_printf("scratch%d_%d", n->out->id, k)
                 : arena_printf("scratch%d", n->out->id);
    b->fixed = sizes[k].fixed;
    b->size = sizes[k].size;
    (*slots)[k] = b;
    vec_push(&w->ps->plan.bufs, b);
  }
  return *slots;
}

/* What one node of the current step reads and writes, and its scratch. */
static void walk_node(Walk *w, const IrNode *n, int mask) {
  touch(w, n->out);
  for (int k = 0; k < n->nin; k++)
    touch(w, n->in[k]);
  if (w->mode == MODE_TRAIN && n->aux && (op_table[n->op]->flags & OPF_TRAIN_DIFFERS))
    touch(w, n->aux);  /* the training kernel saves it */
  if (n->backward && n->fwd && n->fwd != n && n->fwd->aux)
    touch(w, n->fwd->aux);
  PlanBuffer **slots = scratch_of(w, n);
  for (int k = 0; slots && slots[k]; k++) {
    plan_add_span(slots[k], w->t, w->t);
    slots[k]->entries |= mask;
  }
}

/* One entry point: a step per kernel (a kernel group a step per section,
 * as each is a function of its own), then one where its results are read. */
static void walk_entry(Walk *w, const Entry *en) {
  const Graph *g = w->g;
  for (int i = 0; i < g->next_value_id; i++)
    w->first[i] = w->last[i] = -1;
  for (int i = 0; i < en->kernels.len; i++) {
    const IrNode *n = en->kernels.data[i];
    const Group *grp = n->group[en->mode];
    if (!grp) {
      w->t++;
      walk_node(w, n, en->mask);
      continue;
    }
    int sec[GROUP_MAX];
    group_sections(grp, sec);
    for (int k = 0; k < grp->n; k++) {
      if (k == 0 || sec[k] != sec[k - 1])
        w->t++;
      walk_node(w, grp->nodes[k], en->mask);
    }
  }
  w->t++;  /* the entry point's results are read after its last kernel */
  for (int i = 0; i < en->results.len; i++)
    touch(w, en->results.data[i]);
  for (int id = 0; id < g->next_value_id; id++)
    if (w->first[id] >= 0) {
      PlanBuffer *b = w->ps->value_buf[id];
      plan_add_span(b, w->first[id], w->last[id]);
      b->entries |= en->mask;
    }
  w->t++;
}

/* Does v share another value's buffer in the mode: stored over its
 * source (in place), or a view of its input? */
static const Value *shares(const Value *v, int mode) {
  return op_table[v->def->op]->flags & OPF_VIEW ? v->def->in[0] : v->over[mode];
}

/* A buffer per value that takes one, in graph order (saved values after
 * their node); a value stored in place takes its source's, a view its
 * input's (none if that is a model input: value_ref names it in[k]). */
static void value_buffers(const Graph *g, PlanState *ps, int mode) {
  StrBuf **names = arena_alloc(sizeof(StrBuf *) * (size_t)g->next_value_id);  /* per buffer */
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    const Value *vals[2] = {n->out, n->aux};
    for (int k = 0; k < 2; k++) {
      const Value *v = vals[k];
      if (!placeable(v, mode) || (!k && !placeable(value_storage(v), mode)))
        continue;
      const Value *src = k ? NULL : shares(v, mode);
      if (src) {  /* its source's buffer */
        PlanBuffer *b = ps->value_buf[src->id];
        if (!b)
          internal_error("%%%d shares the buffer of %%%d, which has none", v->id, src->id);
        StrBuf *name = names[v->id] = names[src->id];
        sb_printf(name, " = %%%d", v->id);  /* (grown in place: a chain is long) */
        b->what = name->data;
        vec_push(&b->values, (void *)v);
        ps->value_buf[v->id] = b;
        continue;
      }
      PlanBuffer *b = arena_alloc(sizeof(PlanBuffer));
      names[v->id] = arena_alloc(sizeof(StrBuf));
      sb_printf(names[v->id], "%%%d%s", v->id,
                k ? arena_printf(" (saved by %%%d)", n->out->id) : "");
      b->what = names[v->id]->data;
      b->kind = k ? BUF_SAVED : v->def->backward ? BUF_GRADIENT : BUF_ACTIVATION;
      vec_push(&b->values, (void *)v);
      b->cname = k ? arena_printf("saved%d", n->out->id) : arena_printf("t%d", v->id);
      b->fixed = v->ty.kind == T_SCALAR || v->ty.fixed;
      b->size = v->ty.kind == T_SCALAR ? 1 : type_numel(&v->ty);
      ps->value_buf[v->id] = b;
    }
  }
}

/* Plans the buffers of one mode's entry points (inference; or
 * forward(training=1) and the training step) and gives each value its
 * place in that plan.  The arena fits the larger plan. */
static void plan_mode(Graph *g, int mode) {
  PlanState *ps = &g->plan[mode];
  size_t nv = (size_t)g->next_value_id;
  ps->offset = arena_alloc(sizeof(int64_t) * nv);
  ps->value_buf = arena_alloc(sizeof(PlanBuffer *) * nv);
  ps->scratch = arena_alloc(sizeof(PlanBuffer **) * nv);
  for (size_t i = 0; i < nv; i++)
    ps->offset[i] = -1;
  value_buffers(g, ps, mode);
  Walk w = {g, ps, mode, arena_alloc(sizeof(int) * nv), arena_alloc(sizeof(int) * nv), 0};
  for (int i = 0; i < g->nentries; i++)
    if (g->entries[i].mode == mode && g->entries[i].mask)
      walk_entry(&w, &g->entries[i]);
  /* buffers no entry point touches take no space (one per buffer: values
   * stored in place and views share theirs) */
  PtrVec used = {0};
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    const Value *vals[2] = {n->out, n->aux};
    for (int k = 0; k < 2; k++) {
      const Value *v = vals[k];
      PlanBuffer *b = v && v->id >= 0 ? ps->value_buf[v->id] : NULL;
      if (b && b->nspans && !(k == 0 && shares(v, mode)))
        vec_push(&used, b);
    }
  }
  for (int i = 0; i < ps->plan.bufs.len; i++)
    vec_push(&used, ps->plan.bufs.data[i]);  /* the scratch */
  ps->plan.bufs = used;
  plan_place(&ps->plan, g->opt_level == 0);
  for (size_t id = 0; id < nv; id++)
    if (ps->value_buf[id] && ps->value_buf[id]->nspans)
      ps->offset[id] = ps->value_buf[id]->offset;
}

bool plan_memory(Graph *g) {
  if (!g->entries)
    internal_error("the plan pass needs the schedule");
  g->plan = arena_alloc(sizeof(PlanState) * NMODES);
  for (int mode = 0; mode < NMODES; mode++)
    plan_mode(g, mode);
  return true;
}

PlanBuffer *const *plan_scratch(const Graph *g, int mode, const IrNode *n) {
  return g->plan[mode].scratch[n->out->id];
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
  /* the peak: a sweep over the steps, each buffer added where its live
   * steps start and taken off after they end (its spans, sorted and merged:
   * they may overlap, see plan_add_span) */
  int64_t *delta = calloc((size_t)(t_hi >= t_lo ? t_hi - t_lo + 2 : 1), sizeof(int64_t));
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    if (!(b->entries & mask))
      continue;
    int lo[PLAN_MAX_SPANS], hi[PLAN_MAX_SPANS], n = 0;
    for (int s = 0; s < b->nspans; s++) {
      int k = n++;
      for (; k > 0 && lo[k - 1] > b->lo[s]; k--)
        lo[k] = lo[k - 1], hi[k] = hi[k - 1];
      lo[k] = b->lo[s], hi[k] = b->hi[s];
    }
    int64_t bytes = b->size * (b->fixed ? 1 : batch);
    for (int s = 0; s < n;) {
      int start = lo[s], end = hi[s];
      for (s++; s < n && lo[s] <= end + 1; s++)
        end = hi[s] > end ? hi[s] : end;
      delta[start - t_lo] += bytes;
      delta[end + 1 - t_lo] -= bytes;
    }
  }
  int64_t live = 0;
  for (int t = t_lo; t <= t_hi; t++) {
    live += delta[t - t_lo];
    peak = live > peak ? live : peak;
  }
  free(delta);
  int64_t top = extent[0] * batch;
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    if ((b->entries & mask) && b->fixed && b->base * batch + b->offset + b->size > top)
      top = b->base * batch + b->offset + b->size;
  }
  (void)extent[1];
  out[0] = top * elem;
  out[1] = sum * elem;
  out[2] = peak * elem;
}

void plan_totals(const Graph *g, int mask, int64_t batch, int64_t out[3]) {
  totals(&g->plan[mask == PLAN_INFER ? MODE_INFER : MODE_TRAIN].plan, mask, batch, g->f64 ? 8 : 4,
         out);
}

/* Appends `total <mode>: arena=.. naive=.. lower_bound=..` for one entry
 * point mask; false (nothing appended) for a training plan with no buffers. */
static bool totals_line(StrBuf *sb, const char *mode, const Plan *p, int mask, int64_t batch,
                        int elem) {
  int64_t t[3];
  totals(p, mask, batch, elem, t);
  if (!t[1] && mask != PLAN_INFER)
    return false;
  sb_printf(sb, "total %s: arena=%lld naive=%lld lower_bound=%lld", mode, (long long)t[0],
            (long long)t[1], (long long)t[2]);
  return true;
}

static void print_buffers(FILE *out, const Plan *p) {
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    StrBuf spans = {0};
    for (int s = 0; s < b->nspans; s++)
      sb_printf(&spans, "%s[%d,%d]", s ? " " : "", b->lo[s], b->hi[s]);
    fprintf(out, "%-28s %-10s size %-8lld offset %-8lld live %s%s\n", b->what,
            b->fixed ? "fixed" : "per-sample", (long long)b->size, (long long)b->offset,
            spans.data,
            b->fixed ? arena_printf("  above %lld per sample", (long long)b->base) : "");
  }
}

void print_plan(FILE *out, const Graph *g) {
  const Plan *infer = &g->plan[MODE_INFER].plan, *train = &g->plan[MODE_TRAIN].plan;
  int64_t batch = g->train.batch;
  int elem = g->f64 ? 8 : 4;
  fprintf(out, "plan: values per sample x batch %lld, %d-byte elements\n", (long long)batch,
          elem);
  fprintf(out, "inference (forward, training=0):\n");
  print_buffers(out, infer);
  fprintf(out, "training (forward, training=1; loss_and_grad):\n");
  print_buffers(out, train);
  StrBuf line = {0};
  if (totals_line(&line, "inference", infer, PLAN_INFER, batch, elem))
    fprintf(out, "%s\n", line.data);
  line = (StrBuf){0};
  if (totals_line(&line, "training", train, PLAN_TRAIN, batch, elem))
    fprintf(out, "%s\n", line.data);
}
