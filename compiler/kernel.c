/* kernel.c - writing kernels: the k_* helpers the ops' emit hooks call, the
 * elementwise loops built from the ops' map hooks, and kernel groups.
 *
 * A kernel is one C function.  Its parameters are the buffers it touches,
 * one per buffer: two names for one buffer (a value stored over its
 * source, in place; a view and its input) are one parameter, so `restrict`
 * stays true, and the second name is a plain local alias of it.  A kernel
 * group (group.c) is one function per section: a member's own kernel with
 * the maps that run inside its stores (epilogue) or loads (prologue), or a
 * loop of maps; the values that are never stored are locals (v<id>).
 *
 * emit_c.c asks for an entry point's kernels (kb_write_entry); the buffers
 * they touch are where the plan pass put them (g->plan).  Nothing here
 * calls emit_c.c: the kernels and their calls go back as text.
 */
#include "nncc.h"

#include <stdarg.h>
#include <string.h>

/* What kernel.c keeps between and inside kernels. */
struct KernelState {
  StrBuf kernels;           /* the static kernel functions written          */
  StrMap kernel_sigs;       /* the same by name: name -> PtrVec* of the
                               signatures written under that name           */
  StrBuf body;              /* the calls of the entry point being written   */
  PtrVec used;              /* PlanBuffer*: the arena buffers they name     */
  StrMap used_names;        /* the same by name                             */
  /* the kernel being written (k_begin .. k_end) */
  StrBuf ksig, kbody;       /* its name; its body                           */
  StrBuf kfirst;            /* the lines its body starts with (k_first)     */
  StrBuf khead;             /* the comment heading it                       */
  const IrNode *knode;
  int indent;
  int scratch_i;            /* its next scratch buffer                      */
  const Group *group;       /* the kernel group being written, or NULL      */
  int gm;                   /* the member being written                     */
  PtrVec kparams;           /* KParam*: its parameters so far               */
  PtrVec aliases;           /* Alias*: second names of buffers              */
  bool in_map;              /* in a map hook: names are the parameters'     */
  PtrVec same_local;        /* Local*: values that are another's local      */
  const char *load_from;    /* k_load_into's buffer, or NULL                */
  bool split_ok;            /* its batch may be split across threads so far */
  StrMap params_used;       /* the parameters and buffers kernels read, by name */
  StrMap helpers;           /* the helper functions written (k_helper)      */
};

typedef struct KParam {
  const char *name;     /* in the signature                                 */
  const char *type;     /* the element type (pointers) or the whole type    */
  bool ptr, restrict_, writable;
  const char *expr;     /* what the call passes                             */
  int64_t per_sample;   /* values a sample of it holds; 0: all samples share
                           it (parameters, a fixed buffer)                  */
} KParam;

/* A value that is the local of another (an identity map's): no copy. */
typedef struct Local {
  int id;
  const char *name;
} Local;

/* A second name for a buffer that has a parameter: declared (without
 * restrict: the buffer has two names) before the kernel's first line. */
typedef struct Alias {
  const char *name;
  const KParam *param;
  bool writable, done;
} Alias;

static int mode_of(const KernelBuilder *e) { return e->training ? MODE_TRAIN : MODE_INFER; }

bool k_stored(const KernelBuilder *e, const Value *v) {
  return !e->k->group || !value_virtual(v, e->k->group->mode);
}

bool k_bias_folded(const KernelBuilder *e, const IrNode *layer) {
  return e->k->group && e->k->group->fold_bn && e->k->group->nodes[0] == layer;
}

const IrNode *k_folded_layer(const KernelBuilder *e, const IrNode *bn) {
  const Group *grp = e->k->group;
  return grp && grp->fold_bn && grp->nodes[1] == bn ? grp->nodes[0] : NULL;
}

/* ------------------------------------------------------- C text */

const char *lit(const KernelBuilder *e, double v) {
  bool f64 = e->g->f64;
  const char *s = f64 ? fmt_double(v) : fmt_float((float)v);
  bool has_point = strpbrk(s, ".eEn") != NULL;  /* n: nan/inf never reach here */
  return arena_printf("%s%s%s", s, has_point ? "" : ".0", f64 ? "" : "f");
}

const char *dlit(double v) {
  const char *s = fmt_double(v);
  return strpbrk(s, ".eEn") ? s : arena_printf("%s.0", s);
}

const char *mathfn(const KernelBuilder *e, const char *name) {
  return e->g->f64 ? name : arena_printf("%sf", name);
}

/* libnnrt's GEMM, or in embedded code its own copy (gemm_portable.h). */
const char *gemm_fn(const KernelBuilder *e) {
  if (e->embedded)
    return "nncc_gemm";  /* (of the file's one element type) */
  return e->g->f64 ? "nnrt_dgemm" : "nnrt_sgemm";
}

bool k_weights_const(const KernelBuilder *e) { return e->embedded; }

/* Text from the .nn file made safe inside a C comment: printable ASCII,
 * other bytes '?' (a tab ' '), and then no comment delimiter, no line
 * splice and no trigraph: a space parts "* /", "/ *", "\\ " and "? ?" (the
 * rule looks at what is written, so a '?' from a replaced byte counts). */
const char *comment_text(const char *s, int len) {
  StrBuf sb = {0};
  for (int i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char out = c >= 0x20 && c < 0x7f ? (char)c : c == '\t' ? ' ' : '?';
    if (out == '?' && sb.len && sb.data[sb.len - 1] == '?')
      sb_printf(&sb, " ");  /* no trigraphs */
    sb_printf(&sb, "%c", out);
    if ((c == '*' && i + 1 < len && s[i + 1] == '/') ||
        (c == '/' && i + 1 < len && s[i + 1] == '*') || c == '\\')
      sb_printf(&sb, " ");  /* no comment delimiters, no line splices */
  }
  return sb.data ? sb.data : "";
}

/* The name the entry point's calls give an arena buffer (kb_entry_buffers
 * declares it). */
static const char *buffer_name(const KernelBuilder *e, PlanBuffer *b) {
  void **slot = strmap_slot(&e->k->used_names, b->cname);
  if (!*slot) {
    *slot = b;
    vec_push(&e->k->used, b);
  }
  return b->cname;
}

const char *value_ref(const KernelBuilder *e, const Value *v) {
  v = value_storage(v);  /* a view: its input's memory */
  const IrNode *d = v->def;
  if (d->op == OP_INPUT || d->op == OP_LABEL) {
    const PtrVec *list = d->op == OP_INPUT ? &e->g->inputs : &e->g->labels;
    for (int i = 0; i < list->len; i++)
      if (list->data[i] == d)
        return d->op == OP_INPUT ? arena_printf("in[%d]", i)
                                 : arena_printf("(const %s *)lab[%d]",
                                                v->ty.kind == T_CLASS ? "int32_t" : e->T, i);
  }
  const PlanState *ps = &e->g->plan[mode_of(e)];
  if (v->id < 0 || ps->offset[v->id] < 0)
    internal_error("%%%d has no place in the arena", v->id);
  return buffer_name(e, ps->value_buf[v->id]);
}

/* ------------------------------------------------------- the kernel */

/* The .nn line of n; of a long line (a pipe of many ops), the part around
 * n's op, so that the comments of its kernels stay under C_LINE_MAX
 * characters (beside a long file name, the line goes on a line of its own).
 * The line is read from its start (col counts bytes) to at most the quote's
 * length past the op, so a kernel costs the same on a line of any length. */
static void head_line(StrBuf *k, const IrNode *n, bool first) {
  enum { QUOTE_MIN = 40, ELLIPSES = 8 };
  const char *file = base_name(n->loc.file->name);
  const char *where = arena_printf("%s%s:%d:", first ? "/* " : " * ",
                                   comment_text(file, (int)strlen(file)), n->loc.line);
  const char *lead = " ";
  int quote = C_LINE_MAX - (int)strlen(where) - 1 - ELLIPSES;
  if (quote < QUOTE_MIN) {
    lead = "\n *   ";
    quote = C_LINE_MAX - 5 - ELLIPSES;
  }
  const SrcFile *f = n->loc.file;
  const char *op = f->text + n->loc.off, *line = op - (n->loc.col - 1), *end = op;
  if (line < f->text || op > f->text + f->len || (line > f->text && line[-1] != '\n')) {
    int len;  /* (not a token's place: read the whole line) */
    line = src_line_text(n->loc, &len);
    op = end = line;
  }
  while (end < f->text + f->len && *end != '\n' && *end != '\r' && end - op < quote)
    end++;
  bool ends = end == f->text + f->len || *end == '\n' || *end == '\r';
  while (line < op && (*line == ' ' || *line == '\t'))
    line++;
  const char *at = line, *stop = end;
  if (!ends || end - line > quote) {
    at = op - quote / 3 > line ? op - quote / 3 : line;
    if (ends && end - at < quote)
      at = end - quote > line ? end - quote : line;
    stop = at + quote < end ? at + quote : end;
    const char *after = at;  /* cut between words where there is a space to cut at */
    while (at > line && after < stop && *after != ' ')
      after++;
    at = at > line && after < stop ? after + 1 : at;
    at += at > line && stop - at > 3 && !strncmp(at, "|> ", 3) ? 3 : 0;  /* (from an op) */
    const char *before = stop;
    while (stop < end && before > at && before[-1] != ' ')
      before--;
    stop = stop < end && before > at ? before - 1 : stop;
  }
  sb_printf(k, "%s%s%s%s%s%s\n", first ? "\n" : "", where, lead, at > line ? "... " : "",
            comment_text(at, (int)(stop - at)), stop < end || !ends ? " ..." : "");
}

static void kernel_open(KernelBuilder *e, const char *name, const IrNode *knode) {
  e->k->knode = knode;
  e->k->scratch_i = 0;
  e->k->kparams = (PtrVec){0};
  e->k->aliases = (PtrVec){0};
  e->k->same_local = (PtrVec){0};
  e->k->load_from = NULL;
  e->k->kbody = (StrBuf){0};
  e->k->kfirst = (StrBuf){0};
  e->k->khead = (StrBuf){0};
  e->k->ksig = (StrBuf){0};
  e->k->indent = 1;
  e->k->split_ok = true;
  sb_printf(&e->k->ksig, "%s", name);
  k_arg(e, "int", "batch", "batch");  /* every kernel's first, unless k_no_batch */
}

static void flush_aliases(KernelBuilder *e);

/* ------------------------------------------------------- the batch split */

/* If the kernel being closed may run on parts of the batch (its ops are
 * per sample, it draws no random numbers, takes no scratch, and every
 * buffer it writes holds a part per sample): the largest number of values a
 * sample of one of its buffers holds (what a part's share is judged by).
 * Else 0. */
static int64_t split_work(const KernelBuilder *e) {
  const PtrVec *ps = &e->k->kparams;
  if (!e->k->split_ok || !ps->len || strcmp(((KParam *)ps->data[0])->name, "batch"))
    return 0;
  int64_t most = 0;
  for (int i = 1; i < ps->len; i++) {
    const KParam *p = ps->data[i];
    if (p->ptr && p->writable && !p->per_sample)
      return 0;
    most = p->per_sample > most ? p->per_sample : most;
  }
  return most;
}

/* The kernel's arguments as a struct, and a function that runs the kernel
 * on part of the batch: the samples [s0, s1) of every per-sample buffer. */
static void write_part(KernelBuilder *e) {
  const char *k = e->k->ksig.data;
  StrBuf *out = &e->k->kernels;
  sb_printf(out, "\n");
  sb_comment(out, "/* ",
             arena_printf("%s on part of the batch, for libnnrt's threads (nnrt_parallel_batch). */", k),
             " * ");
  sb_printf(out, "struct %s_args {\n", k);
  const PtrVec *ps = &e->k->kparams;
  for (int i = 0; i < ps->len; i++) {
    const KParam *p = ps->data[i];
    if (p->ptr)
      sb_printf(out, "  %s%s *%s;\n", p->writable ? "" : "const ", p->type, p->name);
    else
      sb_printf(out, "  %s %s;\n", p->type, p->name);
  }
  sb_printf(out, "};\n\nstatic void %s_part(void *ctx, int part, int nparts) {\n", k);
  sb_printf(out, "  const struct %s_args *a = ctx;\n", k);
  sb_printf(out, "  const int s0 = (int)((long long)a->batch * part / nparts);\n");
  sb_printf(out, "  const int s1 = (int)((long long)a->batch * (part + 1) / nparts);\n");
  const char **args = arena_alloc(sizeof(char *) * (size_t)ps->len);
  args[0] = "s1 - s0";
  for (int i = 1; i < ps->len; i++) {
    const KParam *p = ps->data[i];
    args[i] = p->per_sample ? arena_printf("a->%s + (size_t)s0 * %lld", p->name,
                                           (long long)p->per_sample)
                            : arena_printf("a->%s", p->name);
  }
  const char *head = arena_printf("  %s(", k);
  sb_wrapped(out, head, args, ps->len, ",", ");", (int)strlen(head));
  sb_printf(out, "\n}\n");
}

/* The call of a kernel that splits: its arguments in a compound literal. */
static void parallel_call(StrBuf *call, const KernelBuilder *e, const char *const *args,
                          int64_t per_sample) {
  const char *k = e->k->ksig.data;
  int np = e->k->kparams.len;
  const char **items = arena_alloc(sizeof(char *) * (size_t)(np + 3));
  items[0] = arena_printf("%s_part", k);
  for (int i = 0; i < np; i++)
    items[i + 1] = arena_printf("%s%s%s", i ? "" : arena_printf("&(struct %s_args){", k), args[i],
                                i + 1 < np ? "" : "}");
  items[np + 1] = "batch";
  items[np + 2] = arena_printf("%lld", (long long)per_sample);
  sb_wrapped(call, "  nnrt_parallel_batch(", items, np + 3, ",", ");", 6);
}

static void kernel_close(KernelBuilder *e) {
  flush_aliases(e);
  if (e->k->indent != 1)
    internal_error("unbalanced braces in a kernel (%s)", e->k->ksig.data);
  PlanBuffer *const *slots = plan_scratch(e->g, mode_of(e), e->k->knode);
  if (slots && slots[e->k->scratch_i])
    internal_error("%s took %d of the scratch buffers planned for it", e->k->ksig.data,
                   e->k->scratch_i);
  const char *body = arena_printf("%s%s", e->k->kfirst.data ? e->k->kfirst.data : "",
                                  e->k->kbody.data ? e->k->kbody.data : "");
  int np = e->k->kparams.len;
  const char **decls = arena_alloc(sizeof(char *) * (size_t)(np + 1));
  const char **args = arena_alloc(sizeof(char *) * (size_t)(np + 1));
  for (int i = 0; i < np; i++) {
    const KParam *p = e->k->kparams.data[i];
    decls[i] = p->ptr ? arena_printf("%s%s *%s%s", p->writable ? "" : "const ", p->type,
                                     p->restrict_ ? "restrict " : "", p->name)
                      : arena_printf("%s %s", p->type, p->name);
    args[i] = p->expr;
  }
  StrBuf sig = {0}, call = {0};
  const char *head = arena_printf("NNCC_KERNEL void %s(", e->k->ksig.data);
  sb_wrapped(&sig, head, decls, np, ",", ") {", (int)strlen(head));
  int64_t per_sample = e->embedded ? 0 : split_work(e);  /* (embedded: one thread, no libnnrt) */
  if (per_sample) {
    parallel_call(&call, e, args, per_sample);
  } else {
    head = arena_printf("  %s(", e->k->ksig.data);
    sb_wrapped(&call, head, args, np, ",", ");", (int)strlen(head));
  }
  /* A kernel called from several entry points is written once (its calls
   * differ: each entry point has its own plan).  Two different kernels of
   * one name (a map stored in place in one mode only) get the mode too. */
  bool written = false, clash = false;
  PtrVec *same_name = strmap_get(&e->k->kernel_sigs, e->k->ksig.data);
  for (int i = 0; same_name && i < same_name->len && !written; i++) {
    written = !strcmp(same_name->data[i], sig.data);
    clash |= !written;
  }
  if (clash) {
    const char *name = e->k->ksig.data;
    e->k->ksig = (StrBuf){0};
    sb_printf(&e->k->ksig, "%s_%s", name, e->training ? "train" : "infer");
    kernel_close(e);
    return;
  }
  if (!written) {
    void **slot = strmap_slot(&e->k->kernel_sigs, e->k->ksig.data);
    if (!*slot)
      *slot = arena_alloc(sizeof(PtrVec));
    vec_push(*slot, sig.data);
    sb_printf(&e->k->kernels, "%s%s\n%s}\n", e->k->khead.data, sig.data, body);
    if (per_sample)
      write_part(e);
  }
  sb_printf(&e->k->body, "%s\n", call.data);
  e->k->knode = NULL;
}

void k_line(KernelBuilder *e, const char *fmt, ...) {
  flush_aliases(e);
  StrBuf line = {0};
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&line, fmt, ap);
  va_end(ap);
  const char *first = line.data + strspn(line.data, " ");
  if (*first == '}')
    e->k->indent--;
  sb_printf(&e->k->kbody, "%*s%s\n", 2 * e->k->indent, "", line.data);
  if (line.len && line.data[line.len - 1] == '{')
    e->k->indent++;
}

const char *k_helper(KernelBuilder *e, const char *name, const char *definition) {
  void **slot = strmap_slot(&e->k->helpers, name);
  if (!*slot) {
    *slot = (void *)definition;
    sb_printf(&e->k->kernels, "%s", definition);
  }
  return name;
}

void k_first(KernelBuilder *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_printf(&e->k->kfirst, "  ");
  sb_vprintf(&e->k->kfirst, fmt, ap);
  sb_printf(&e->k->kfirst, "\n");
  va_end(ap);
}

/* ------------------------------------------------------- parameters */


/* The aliases asked for so far, declared before the kernel's first line. */
static void flush_aliases(KernelBuilder *e) {
  for (int i = 0; i < e->k->aliases.len; i++) {
    Alias *a = e->k->aliases.data[i];
    if (a->done)
      continue;
    a->done = true;
    sb_printf(&e->k->kbody, "%*s%s%s *%s = %s;\n", 2 * e->k->indent, "",
              a->writable ? "" : "const ", a->param->type, a->name, a->param->name);
  }
}

static bool param_named(const KernelBuilder *e, const char *name) {
  for (int i = 0; i < e->k->kparams.len; i++)
    if (!strcmp(((KParam *)e->k->kparams.data[i])->name, name))
      return true;
  return false;
}

/* The parameter for the buffer at expr (shared by every name for it). */
static KParam *param_for(KernelBuilder *e, const char *type, const char *name, bool writable,
                         const char *expr, bool restrict_) {
  for (int i = 0; i < e->k->kparams.len; i++) {
    KParam *p = e->k->kparams.data[i];
    if (p->ptr && !strcmp(p->expr, expr)) {
      p->writable |= writable;
      return p;
    }
  }
  KParam *p = arena_alloc(sizeof(KParam));
  p->type = type;
  p->ptr = true;
  p->restrict_ = restrict_;
  p->writable = writable;
  p->expr = expr;
  p->name = name;
  for (int k = 2; param_named(e, p->name); k++)
    p->name = arena_printf("%s_%d", name, k);
  vec_push(&e->k->kparams, p);
  return p;
}

const char *k_ptr(KernelBuilder *e, const char *ctype, const char *name, bool writable,
                  const char *expr) {
  KParam *p = param_for(e, ctype, name, writable, expr, strcmp(ctype, "nnrt_rng") != 0);
  if (!strcmp(p->name, name) || e->k->in_map)
    return p->name;  /* (a map hook uses the parameter's name, mid-loop) */
  Alias *a = arena_alloc(sizeof(Alias));
  a->name = name;
  a->param = p;
  a->writable = writable;
  vec_push(&e->k->aliases, a);
  return name;
}

void k_arg(KernelBuilder *e, const char *type, const char *name, const char *expr) {
  KParam *p = arena_alloc(sizeof(KParam));
  p->type = type;
  p->name = name;
  p->expr = expr;
  vec_push(&e->k->kparams, p);
}

void k_no_batch(KernelBuilder *e) {
  e->k->split_ok = false;
  PtrVec *v = &e->k->kparams;
  if (!v->len || strcmp(((KParam *)v->data[0])->name, "batch") || ((KParam *)v->data[0])->ptr)
    internal_error("k_no_batch after the kernel's first parameter (%s)", e->k->ksig.data);
  memmove(v->data, v->data + 1, (size_t)--v->len * sizeof(void *));
}

static const char *elem_type(const KernelBuilder *e, const Value *v) {
  return v->ty.kind == T_CLASS ? "int32_t" : e->T;
}

/* The parameter that passes expr holds v: per sample, or shared by all. */
static void holds_value(KernelBuilder *e, const char *expr, const Value *v) {
  for (int i = 0; i < e->k->kparams.len; i++) {
    KParam *p = e->k->kparams.data[i];
    if (p->ptr && !strcmp(p->expr, expr))
      p->per_sample = v->ty.kind == T_SCALAR || v->ty.fixed ? 0 : type_numel(&v->ty);
  }
}

/* k_ptr for a value's buffer. */
static const char *value_ptr(KernelBuilder *e, const char *type, const char *name, bool writable,
                             const Value *v) {
  const char *expr = value_ref(e, v), *got = k_ptr(e, type, name, writable, expr);
  holds_value(e, expr, v);
  return got;
}

const char *k_in(KernelBuilder *e, const char *name, int input) {
  const Value *v = e->k->knode->in[input];
  if (!k_stored(e, v))
    return name;  /* computed in a prologue: read it with k_load */
  return value_ptr(e, elem_type(e, v), name, false, v);
}

const char *k_out(KernelBuilder *e, const char *name) {
  const Value *v = e->k->knode->out;
  if (!k_stored(e, v))
    return name;  /* only k_store sees it, on its way to the epilogue */
  return value_ptr(e, e->T, name, true, v);
}

const char *k_grad(KernelBuilder *e, const char *name, const Param *p) {
  return k_ptr(e, e->T, name, true, arena_printf("m->grads + %s", p->cname));
}

const char *k_aux(KernelBuilder *e, const char *name, const IrNode *n, bool writable) {
  if (!n->aux)
    internal_error("%%%d has no saved value", n->out->id);
  return value_ptr(e, e->T, name, writable, n->aux);
}

const char *k_param(KernelBuilder *e, const char *name, const Param *p, bool writable) {
  *strmap_slot(&e->k->params_used, p->name) = (void *)p;
  if (e->embedded)  /* a static const array of its own, named as its offset is elsewhere */
    return k_ptr(e, e->T, name, false, p->cname);
  return k_ptr(e, e->T, name, writable,
               arena_printf("m->%s + %s", p->trainable ? "params" : "buffers", p->cname));
}

const char *k_scratch(KernelBuilder *e, const char *name) {
  PlanBuffer *const *slots = plan_scratch(e->g, mode_of(e), e->k->knode);
  PlanBuffer *b = slots ? slots[e->k->scratch_i] : NULL;
  if (!b)
    internal_error("scratch %d of %%%d was not planned (its op's scratch rule)", e->k->scratch_i,
                   e->k->knode->out->id);
  e->k->scratch_i++;
  e->k->split_ok = false;  /* (one scratch for all samples) */
  return k_ptr(e, e->T, name, true, buffer_name(e, b));
}

const char *k_rng(KernelBuilder *e) {
  e->k->split_ok = false;  /* one stream, drawn in order */
  return k_ptr(e, "nnrt_rng", "rng", true, "&m->rng");
}

/* ------------------------------------------------------- maps */

/* A value read by a map from memory, at idx. */
static const char *map_read(KernelBuilder *e, const Value *v, const char *name, const char *idx) {
  KParam *p = param_for(e, elem_type(e, v), name, false, value_ref(e, v), true);
  holds_value(e, p->expr, v);
  return arena_printf("%s[%s]", p->name, idx);
}

/* Is v computed in this iteration: by the host or the maps before it? */
static bool in_scope(const Value *v, const IrNode *host, IrNode *const *maps, int upto) {
  if (host && v->def == host)
    return true;
  for (int i = 0; i < upto; i++)
    if (maps[i]->out == v)
      return true;
  return false;
}

/* The local of value v in the kernel being written: v<id>, or the local
 * of the value it is the identity of. */
static const char *local_of(const KernelBuilder *e, const Value *v) {
  for (int i = 0; i < e->k->same_local.len; i++) {
    const Local *l = e->k->same_local.data[i];
    if (l->id == v->id)
      return l->name;
  }
  return arena_printf("v%d", v->id);
}

/* The statements of maps[0..n) at index idx: each value a local v<id>,
 * stored if it must be; a map whose value is one of its inputs' locals (an
 * identity: dropout at inference) names that local, with no copy.  host:
 * the kernel whose value (v<host id>) they start from, or NULL.  alone: a
 * single map's kernel (names x, y). */
static void map_stmts(KernelBuilder *e, IrNode *const *maps, int n, const IrNode *host,
                      const char *idx, bool alone) {
  for (int j = 0; j < n; j++) {
    const IrNode *m = maps[j];
    const char *in[MAX_IN];
    bool local[MAX_IN];
    for (int k = 0; k < m->nin; k++) {
      const Value *v = m->in[k];
      local[k] = in_scope(v, host, maps, j);
      in[k] = local[k] ? local_of(e, v)
                       : map_read(e, v, alone ? (k ? arena_printf("x%d", k) : "x")
                                              : arena_printf("t%d", v->id), idx);
    }
    e->k->knode = m;
    e->k->in_map = true;
    const char *expr = op_table[m->op]->map(e, m, in, idx);
    e->k->in_map = false;
    const char *name = NULL;
    for (int k = 0; k < m->nin && !name; k++)
      if (local[k] && !strcmp(expr, in[k]))
        name = in[k];
    if (name) {
      Local *l = arena_alloc(sizeof(Local));
      *l = (Local){m->out->id, name};
      vec_push(&e->k->same_local, l);
    } else {
      name = local_of(e, m->out);
      k_line(e, "%s %s = %s;", e->T, name, expr);
    }
    if (k_stored(e, m->out)) {
      KParam *p = param_for(e, e->T, alone ? "y" : arena_printf("t%d", m->out->id), true,
                            value_ref(e, m->out), true);
      holds_value(e, p->expr, m->out);
      k_line(e, "%s[%s] = %s;", p->name, idx, name);
    }
  }
}

/* One loop over the batch for maps[0..n). */
static void map_loop(KernelBuilder *e, IrNode *const *maps, int n, bool alone) {
  k_line(e, "for (size_t i = 0; i < (size_t)batch * %lld; i++) {",
         (long long)type_numel(&maps[n - 1]->out->ty));
  map_stmts(e, maps, n, NULL, "i", alone);
  k_line(e, "}");
}

void k_store(KernelBuilder *e, const char *out, const char *idx, const char *expr) {
  const Group *grp = e->k->group;
  int lo = grp ? e->k->gm + 1 : 0, hi = lo;
  while (grp && hi < grp->n && grp->roles[hi] == ROLE_EPILOGUE)
    hi++;
  if (hi == lo) {
    k_line(e, "%s[%s] = %s;", out, idx, expr);
    return;
  }
  const IrNode *host = e->k->knode;
  k_line(e, "%s v%d = %s;", e->T, host->out->id, expr);
  if (k_stored(e, host->out))
    k_line(e, "%s[%s] = v%d;", out, idx, host->out->id);
  map_stmts(e, (IrNode *const *)grp->nodes + lo, hi - lo, host, idx, false);
  e->k->knode = host;
}

/* The first member of the prologue before the member being written, or -1. */
static int prologue_start(const KernelBuilder *e) {
  const Group *grp = e->k->group;
  if (!grp || e->k->gm == 0 || grp->roles[e->k->gm - 1] != ROLE_PROLOGUE)
    return -1;
  int lo = e->k->gm - 1;
  while (lo > 0 && grp->roles[lo - 1] == ROLE_PROLOGUE)
    lo--;
  return lo;
}

void k_load_into(KernelBuilder *e, const char *out) {
  int lo = prologue_start(e);
  e->k->load_from = NULL;
  if (lo < 0)
    return;
  const Group *grp = e->k->group;
  const IrNode *self = e->k->knode;
  IrNode *const *maps = (IrNode *const *)grp->nodes + lo;
  int n = e->k->gm - lo;
  k_line(e, "/* the backward of the maps before it, into %s */", out);
  k_line(e, "for (size_t i = 0; i < (size_t)batch * %lld; i++) {",
         (long long)type_numel(&maps[n - 1]->out->ty));
  map_stmts(e, maps, n, NULL, "i", false);
  k_line(e, "%s[i] = %s;", out, local_of(e, maps[n - 1]->out));
  k_line(e, "}");
  e->k->knode = self;
  e->k->load_from = out;
}

const char *k_load(KernelBuilder *e, const char *in, const char *idx) {
  const Group *grp = e->k->group;
  if (e->k->load_from)
    return arena_printf("%s[%s]", e->k->load_from, idx);
  if (prologue_start(e) < 0)
    return arena_printf("%s[%s]", in, idx);
  /* the prologue's statements go before the line that reads the value
   * (the caller's k_line): one k_load per C block */
  int lo = e->k->gm - 1;
  while (lo > 0 && grp->roles[lo - 1] == ROLE_PROLOGUE)
    lo--;
  const IrNode *self = e->k->knode;
  map_stmts(e, (IrNode *const *)grp->nodes + lo, e->k->gm - lo, NULL, idx, false);
  e->k->knode = self;
  return local_of(e, grp->nodes[e->k->gm - 1]->out);
}

/* ------------------------------------------------------- kernels */

/* The section of the group member being written: [*lo, *hi). */
static void section_of(const KernelBuilder *e, int *lo, int *hi) {
  int sec[GROUP_MAX];
  group_sections(e->k->group, sec);
  *lo = *hi = e->k->gm;
  while (*lo > 0 && sec[*lo - 1] == sec[e->k->gm])
    (*lo)--;
  while (*hi < e->k->group->n && sec[*hi] == sec[e->k->gm])
    (*hi)++;
}

/* Opens the function of node n (alone), or of the section of the group
 * member being written: one function per section, so that every buffer
 * is a restrict parameter of the function that loops over it. */
static void open_for(KernelBuilder *e, const IrNode *n, const char *what) {
  static const char *const roles[] = {"", "  [epilogue]", "  [prologue]", "  [loop]"};
  const Group *grp = e->k->group;
  if (!grp) {
    const char *suffix = (op_table[n->op]->flags & OPF_TRAIN_DIFFERS)
                             ? (e->training ? "_train" : "_infer") : "";
    kernel_open(e, arena_printf("k%d_%s%s", n->out->id, op_table[n->op]->name, suffix), n);
    e->k->split_ok = (op_table[n->op]->flags & (OPF_PER_SAMPLE | OPF_ELEMENTWISE)) != 0;
    head_line(&e->k->khead, n, true);
    const char *ir = ir_node_str(n);
    ir = comment_text(ir, (int)strlen(ir));
    sb_comment(&e->k->khead, " * ", what ? ir : arena_printf("%s */", ir), " *     ");
    if (what)
      sb_comment(&e->k->khead, " * ", arena_printf("%s */", what), " * ");
    return;
  }
  int lo, hi;
  section_of(e, &lo, &hi);
  StrBuf name = {0};
  for (int i = lo; i < hi; i++)
    sb_printf(&name, "_%s", op_table[grp->nodes[i]->op]->name);
  kernel_open(e, arena_printf("k%d%s_%s", grp->nodes[hi - 1]->out->id, name.data ? name.data : "",
                              e->training ? "train" : "infer"), n);
  for (int i = lo; i < hi; i++)
    e->k->split_ok &= (op_table[grp->nodes[i]->op]->flags & (OPF_PER_SAMPLE | OPF_ELEMENTWISE)) != 0;
  for (int i = lo; i < hi; i++)
    if (i == lo || grp->nodes[i]->loc.line != grp->nodes[i - 1]->loc.line)
      head_line(&e->k->khead, grp->nodes[i], i == lo);
  sb_comment(&e->k->khead, " * ",
             arena_printf("kernel group %s (%s)%s:", group_name(grp), grp->pass,
                          lo || hi < grp->n ? arena_printf(", its part %d-%d", lo + 1, hi) : ""),
             " *   ");
  for (int i = lo; i < hi; i++) {
    const char *ir = ir_node_str(grp->nodes[i]);
    sb_comment(&e->k->khead, " *   ",
               arena_printf("%s%s", comment_text(ir, (int)strlen(ir)), roles[grp->roles[i]]),
               " *       ");
  }
  if (what)
    sb_comment(&e->k->khead, " * ", arena_printf("%s */", what), " * ");
  else
    sb_printf(&e->k->khead, " */\n");
}

void k_begin(KernelBuilder *e, const IrNode *n, const char *what) { open_for(e, n, what); }

void k_end(KernelBuilder *e) { kernel_close(e); }

/* A map alone: its loop. */
static void emit_map_kernel(KernelBuilder *e, IrNode *n) {
  open_for(e, n, NULL);
  map_loop(e, &n, 1, !e->k->group);
  e->k->knode = n;
  kernel_close(e);
}

static void emit_group(KernelBuilder *e, const Group *grp) {
  e->k->group = grp;
  for (int i = 0; i < grp->n; i++) {
    IrNode *m = grp->nodes[i];
    e->k->gm = i;
    if (grp->roles[i] == ROLE_OWN) {
      op_table[m->op]->emit(e, m);
    } else if (grp->roles[i] == ROLE_LOOP) {
      int j = i;
      while (j < grp->n && grp->roles[j] == ROLE_LOOP)
        j++;
      open_for(e, grp->nodes[j - 1], j - i > 1 ? "maps in one loop" : NULL);
      map_loop(e, (IrNode *const *)grp->nodes + i, j - i, false);
      kernel_close(e);
      i = j - 1;
    }
  }
  e->k->group = NULL;
}

/* n's kernel, or, for the last member of a kernel group, the group's. */
static void emit_node(KernelBuilder *e, IrNode *n) {
  const Group *grp = n->group[mode_of(e)];
  if (grp) {
    if (grp->nodes[grp->n - 1] == n)
      emit_group(e, grp);
    return;  /* a group runs where its last member stands */
  }
  if (op_table[n->op]->map)
    emit_map_kernel(e, n);
  else if (op_table[n->op]->emit)
    op_table[n->op]->emit(e, n);
  else
    internal_error("op %s has no C kernel", op_table[n->op]->name);
}

/* Names for the parameters' and buffers' offsets: P_<layer>_<role> and
 * B_<layer>_<role> (an identifier's characters only; a name taken by the
 * model's name or an earlier parameter gets a number). */
static void name_params(const Graph *g) {
  StrMap taken = {0};
  *strmap_slot(&taken, g->name) = (void *)g;
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->len; i++) {
      Param *p = lists[l]->data[i];
      char *name = arena_printf("%s_%s", l ? "B" : "P", p->name);
      for (char *c = name; *c; c++)
        if (!(*c == '_' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z')))
          *c = '_';
      const char *unique = name;
      for (int k = 2; strmap_get(&taken, unique); k++)
        unique = arena_printf("%s_%d", name, k);
      *strmap_slot(&taken, unique) = p;
      p->cname = unique;
    }
}

void kb_init(KernelBuilder *e, const Graph *g) {
  *e = (KernelBuilder){.g = g, .T = g->f64 ? "double" : "float"};
  e->k = arena_alloc(sizeof(struct KernelState));
  name_params(g);
}

const char *kb_write_entry(KernelBuilder *e, const Entry *en) {
  e->training = en->mode == MODE_TRAIN;
  e->k->body = (StrBuf){0};
  e->k->used = (PtrVec){0};
  e->k->used_names = (StrMap){0};
  for (int i = 0; i < en->kernels.len; i++)
    emit_node(e, en->kernels.data[i]);
  return e->k->body.data ? e->k->body.data : "";
}

const PtrVec *kb_entry_buffers(const KernelBuilder *e) { return &e->k->used; }

bool kb_param_used(const KernelBuilder *e, const Param *p) {
  return strmap_get(&e->k->params_used, p->name) != NULL;
}

const char *kb_kernels(const KernelBuilder *e) {
  return e->k->kernels.data ? e->k->kernels.data : "";
}
