/* ir.c - the graph IR: construction, types, the printers behind
 * --emit=ir, --print-after and --emit=params, and the names the printers
 * for model authors give values (value_names: summary.c, emit_dot.c,
 * plan_svg.c).
 *
 * A Graph is a list of IrNodes in source order, which is also a topological
 * order: a value is defined before it is used.  Each node defines one Value.
 * The printed form numbers values in that order and shows every type:
 *
 *   %3 = linear(%2) {out=512, bias=true, init=he_normal} @linear0 : f32[512]  // h
 */
#include "nncc.h"

#include <stdlib.h>
#include <string.h>

Graph *graph_new(const SrcFile *file) {
  Graph *g = arena_alloc(sizeof(Graph));
  g->file = file;
  return g;
}

IrNode *graph_add_node(Graph *g, int op, SrcLoc loc, Value **in, int nin) {
  IrNode *n = arena_alloc(sizeof(IrNode));
  n->op = op;
  n->loc = loc;
  if (nin > MAX_IN)
    internal_error("%d inputs to %s", nin, op_table[op]->name);
  for (int i = 0; i < nin; i++)
    n->in[i] = in[i];
  n->nin = nin;
  int nargs = spec_count(op_table[op]->args);
  n->attrs = arena_alloc(sizeof(Attr) * (size_t)(nargs ? nargs : 1));
  n->out = arena_alloc(sizeof(Value));
  n->out->id = g->next_value_id++;
  n->out->def = n;
  vec_push(&g->nodes, n);
  return n;
}

int64_t type_numel(const Type *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++)
    n *= t->dims[i];
  return n;
}

Type type_f32(int rank, const int64_t *dims) {
  Type t = {0};
  t.kind = T_F32;
  t.rank = rank;
  for (int i = 0; i < rank; i++)
    t.dims[i] = dims[i];
  return t;
}

const char *type_str(const Type *t) {
  switch (t->kind) {
  case T_UNKNOWN: return "?";
  case T_ERROR: return "<error>";
  case T_SCALAR: return "f32 (loss)";
  case T_F32:
    if (t->fixed)
      return arena_printf("f32[%lld] (per batch)", (long long)t->dims[0]);
    break;
  case T_NONE: return "none";
  case T_CLASS: return arena_printf("class[%lld]", (long long)t->nclasses);
  }
  StrBuf sb = {0};
  sb_printf(&sb, "f32[");
  for (int i = 0; i < t->rank; i++)
    sb_printf(&sb, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
  sb_printf(&sb, "]");
  return sb.data;
}

const char *type_batch_str(const Type *t) {
  switch (t->kind) {
  case T_SCALAR: return "scalar";
  case T_CLASS: return arena_printf("[N] class < %lld", (long long)t->nclasses);
  case T_F32: break;
  default: return type_str(t);
  }
  StrBuf sb = {0};
  sb_printf(&sb, "[%s", t->fixed ? "" : "N");
  for (int i = 0; i < t->rank; i++)
    sb_printf(&sb, "%s%lld", i || !t->fixed ? ", " : "", (long long)t->dims[i]);
  sb_printf(&sb, "]");
  return sb.data;
}

const char **value_names(const Graph *g) {
  const char **names = arena_alloc(sizeof(char *) * (size_t)(g->next_value_id + 1));
  StrMap taken = {0};
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    const char *name = n->io_name ? n->io_name : n->layer_name;
    if (name && n->out->id >= 0) {
      names[n->out->id] = name;
      *strmap_slot(&taken, name) = (void *)name;
    }
  }
  int count[OP_COUNT] = {0};
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    int id = n->out->id;
    if (id < 0 || names[id])
      continue;
    const char *op = op_table[n->op]->name, *name;
    if (n->backward) {
      const char *of = n->fwd && n->fwd != n ? names[n->fwd->out->id] : NULL;
      name = of ? arena_printf("grad of %s", of) : op;
    } else {
      do
        name = arena_printf("%s%d", op, count[n->op]++);
      while (strmap_get(&taken, name));
    }
    names[id] = name;
  }
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    if (n->aux && n->aux->id >= 0 && n->out->id >= 0)
      names[n->aux->id] = arena_printf("saved by %s", names[n->out->id]);
  }
  return names;
}

const char *ir_node_str(const IrNode *n) {
  const OpInfo *info = op_table[n->op];
  StrBuf sb = {0};
  sb_printf(&sb, "%%%d = %s", n->out->id, info->name);
  if (n->io_name) {
    sb_printf(&sb, " \"%s\"", n->io_name);
  } else {
    sb_printf(&sb, "(");
    for (int i = 0; i < n->nin; i++)
      sb_printf(&sb, "%s%%%d", i ? ", " : "", n->in[i]->id);
    sb_printf(&sb, ")");
  }
  int nargs = spec_count(info->args);
  bool any = false;
  for (int i = 0; i < nargs; i++) {
    if (info->args[i].kind == ARG_NAME)
      continue;  /* shown as @layer */
    sb_printf(&sb, "%s%s=", any ? ", " : " {", info->args[i].name);
    print_attr(&sb, &info->args[i], &n->attrs[i]);
    any = true;
  }
  if (any)
    sb_printf(&sb, "}");
  if (n->layer_name)
    sb_printf(&sb, " @%s", n->layer_name);
  sb_printf(&sb, " : %s", type_str(&n->out->ty));
  return sb.data;
}

static void print_node(FILE *out, const IrNode *n, PtrVec *places, bool training) {
  bool with_locs = places != NULL;
  StrBuf sb = {0};
  sb_printf(&sb, "%s", ir_node_str(n));
  if (n->backward && n->fwd != n) {
    /* tie each backward node to its forward op and .nn line */
    sb_printf(&sb, "  // grad of %%%d, %s:%d", n->fwd->out->id, n->loc.file->name, n->loc.line);
    if (with_locs)
      vec_push(places, (void *)&n->loc);
    fprintf(out, "%s\n", sb.data);
    return;
  }
  bool named = n->out->name && !n->io_name;
  if (named || with_locs) {
    sb_printf(&sb, "  //");
    if (named)
      sb_printf(&sb, " %s", n->out->name);
    if (with_locs) {
      sb_printf(&sb, "%s%s:%d:%d", named ? ", " : " ", n->loc.file->name, n->loc.line,
                n->loc.col);
      vec_push(places, (void *)&n->loc);
    }
  }
  fprintf(out, "%s\n", sb.data);
  for (int i = 0; i < n->nparams; i++) {
    const Param *p = n->params[i];
    Type t = type_f32(p->rank, p->dims);
    fprintf(out, "    %s %s : %s\n", p->trainable ? "param " : "buffer", p->name,
            type_str(&t));
  }
  if (training && n->aux && n->aux->id >= 0)
    fprintf(out, "    saves %%%d : %s\n", n->aux->id, type_str(&n->aux->ty));
}

/* --print-locs: "  // file:line:col" after a line, and the place kept for
 * the source section. */
static const char *loc_trailer(PtrVec *places, const SrcLoc *loc) {
  if (!places)
    return "";
  vec_push(places, (void *)loc);
  return arena_printf("  // %s:%d:%d", loc->file->name, loc->line, loc->col);
}

static int by_place(const void *a, const void *b) {
  const SrcLoc *x = *(const SrcLoc *const *)a, *y = *(const SrcLoc *const *)b;
  int f = strcmp(x->file->name, y->file->name);
  return f ? f : (x->line > y->line) - (x->line < y->line);
}

/* The source section: each line a printed place is on, per file, so that
 * IR read back (-x ir) quotes them in the C as the .nn would. */
static void print_sources(FILE *out, PtrVec *places) {
  qsort(places->data, (size_t)places->len, sizeof(void *), by_place);
  const SrcFile *file = NULL;
  int line = 0;
  for (int i = 0; i < places->len; i++) {
    const SrcLoc *l = places->data[i];
    if (l->file != file && (!file || strcmp(l->file->name, file->name))) {
      file = l->file;
      line = 0;
      fprintf(out, "source \"%s\"\n", file->name);
    }
    if (l->line == line)
      continue;
    line = l->line;
    int len;
    const char *text = src_line_text(*l, &len);
    fprintf(out, "%5d | %.*s\n", line, len, text);
  }
}

static void print_train(FILE *out, const Graph *g, PtrVec *places) {
  if (g->nclass_names) {
    StrBuf sb = {0};
    print_class_names(&sb, g);
    fprintf(out, "%s%s\n", sb.data, loc_trailer(places, &g->classes_loc));
  }
  if (g->train.present) {
    StrBuf sb = {0};
    print_train_block(&sb, &g->train);
    fprintf(out, "%s%s\n", sb.data, loc_trailer(places, &g->train.loc));
  }
  if (g->test.present) {
    StrBuf sb = {0};
    print_test_block(&sb, &g->test);
    fprintf(out, "%s%s\n", sb.data, loc_trailer(places, &g->test.loc));
  }
}

void print_ir(FILE *out, const Graph *g, bool with_locs, bool training) {
  PtrVec places = {0}, *pl = with_locs ? &places : NULL;
  fprintf(out, "model %s\n", g->name ? g->name : "?");
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    if (n->backward && !training)
      continue;
    print_node(out, n, pl, training);
  }
  for (int i = 0; i < g->outputs.len; i++) {
    const Value *v = g->outputs.data[i];
    fprintf(out, "output %%%d : %s%s\n", v->id, type_str(&v->ty),
            loc_trailer(pl, g->output_locs.data[i]));
  }
  for (int i = 0; i < g->nlosses; i++)
    fprintf(out, "loss %%%d weight=%s%s\n", g->losses[i].value->id,
            fmt_double(g->losses[i].weight), loc_trailer(pl, &g->losses[i].loc));
  if (g->params.len || g->buffers.len)
    fprintf(out, "params %lld floats, buffers %lld floats\n", (long long)g->num_params,
            (long long)g->num_buffers);
  print_train(out, g, pl);
  if (with_locs)
    print_sources(out, &places);
}

void print_params(FILE *out, const Graph *g) {
  for (int i = 0; i < g->params.len; i++) {
    const Param *p = g->params.data[i];
    fprintf(out, "%s %lld ", p->name, (long long)p->offset);
    for (int d = 0; d < p->rank; d++)
      fprintf(out, "%s%lld", d ? "x" : "", (long long)p->dims[d]);
    fprintf(out, "\n");
  }
}

/* --emit=fused: each mode's kernels in schedule order, with the members of
 * every kernel group, how each is written and whether it is stored. */
static void print_member(StrBuf *out, const Group *grp, int i, int mode) {
  static const char *const roles[] = {"own", "epilogue", "prologue", "loop"};
  const IrNode *n = grp ? grp->nodes[i] : NULL;
  StrBuf how = {0};
  sb_printf(&how, "%s", grp ? roles[grp->roles[i]] : "");
  if (grp && grp->fold_bn && i == 1)
    sb_printf(&how, ", folded into %%%d", grp->nodes[0]->out->id);
  if (value_virtual(n->out, mode))
    sb_printf(&how, ", not stored");
  else if (n->out->over[mode])
    sb_printf(&how, ", stored over %%%d", n->out->over[mode]->id);
  sb_printf(out, "    %-64s  # %s\n", ir_node_str(n), how.data);
}

void print_fused(FILE *out, const Graph *g) {
  Schedules s = schedules_of(g);
  fprintf(out, "model %s: kernels at -O%d\n", g->name, g->opt_level);
  static const char *const names[] = {"inference", "training"};
  for (int mode = 0; mode < NMODES; mode++) {
    if (mode == MODE_TRAIN && !g->nlosses)
      break;
    StrBuf body = {0};
    int kernels = 0, fused = 0;
    for (int i = 0; i < g->nodes.len; i++) {
      const IrNode *n = g->nodes.data[i];
      if (!runs_in_mode(g, &s, n, mode) || (mode == MODE_INFER && n->backward))
        continue;
      const Group *grp = n->group[mode];
      if (grp && grp->nodes[grp->n - 1] != n)
        continue;  /* a group runs where its last member stands */
      if (op_table[n->op]->flags & OPF_VIEW) {
        sb_printf(&body, "  no kernel: a view of %%%d\n    %s\n", n->in[0]->id, ir_node_str(n));
        continue;
      }
      kernels++;
      if (!grp) {
        sb_printf(&body, "  kernel %s\n    %s\n", op_table[n->op]->name, ir_node_str(n));
        if (n->out->over[mode])
          sb_printf(&body, "    # stored over %%%d\n", n->out->over[mode]->id);
        continue;
      }
      fused++;
      sb_printf(&body, "  kernel %s  [%s]\n", group_name(grp), grp->pass);
      for (int k = 0; k < grp->n; k++)
        print_member(&body, grp, k, mode);
    }
    fprintf(out, "%s: %d kernels, %d fused\n%s", names[mode], kernels, fused,
            body.data ? body.data : "");
  }
}
