/* emit_dot.c - --emit=dot and --emit=dot-train: the graph for Graphviz
 * (decision 242).
 *
 *   nncc --emit=dot model.nn | dot -Tsvg -o model.svg
 *
 * One node per op that runs in the mode (inference, or the training step:
 * forward with training=1, the losses and the backward pass), named as
 * --emit=summary names it, with the arguments written in the .nn, its
 * parameter count and, as a tooltip, its .nn line; an edge per value read,
 * labelled with its shape ([N, C, H, W], N the batch), dashed when the value
 * is never stored (it stays in registers inside its kernel).  Each fused
 * kernel group is a cluster (subgraph cluster_<k>); a residual add or a
 * concat is a node with two or more edges in.  Everything from the .nn
 * (names, lines) is escaped for DOT's quoted strings: nothing in a model
 * can end a string or inject an escape.
 */
#include "nncc.h"

#include <string.h>

/* s inside a DOT "quoted string", to be shown as it is: " escaped, &
 * as &amp; (Graphviz reads entities), control characters as spaces, and \
 * doubled (Graphviz reads \n, \l, \N... in labels): once for a label, twice
 * for a tooltip, which Graphviz unescapes once more (2.43, Debian's). */
static const char *dot_text(const char *s, bool tooltip) {
  char *out = arena_alloc(strlen(s) * 5 + 1), *o = out;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\\') {
      memcpy(o, "\\\\\\\\", tooltip ? 4 : 2);
      o += tooltip ? 4 : 2;
    } else if (c == '"') {
      memcpy(o, "\\\"", 2);
      o += 2;
    } else if (c == '&') {
      memcpy(o, "&amp;", 5);
      o += 5;
    } else {
      *o++ = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
  }
  *o = '\0';
  return out;
}

static const char *dot_escape(const char *s) { return dot_text(s, false); }

/* The arguments the .nn wrote: "filters=32, kernel=3, pad=1". */
static const char *given_args(const IrNode *n) {
  const OpInfo *info = op_table[n->op];
  StrBuf sb = {0};
  sb_printf(&sb, "%s", "");
  int nargs = spec_count(info->args);
  for (int i = 0; i < nargs && n->attrs && !n->backward; i++) {
    if (info->args[i].kind == ARG_NAME || !n->attrs[i].given)
      continue;
    sb_printf(&sb, "%s%s=", sb.len ? ", " : "", info->args[i].name);
    print_attr(&sb, &info->args[i], &n->attrs[i]);
  }
  return sb.data;
}

/* A node's label lines (DOT-escaped, joined by \n): its name, its op and
 * arguments, its parameters, and how its kernel group writes it. */
static const char *node_label(const IrNode *n, const char *name, int mode) {
  StrBuf sb = {0};
  const char *args = given_args(n), *op = op_table[n->op]->name;
  sb_printf(&sb, "%s\\n%s", dot_escape(name), op);
  if (*args)
    sb_printf(&sb, "(%s)", dot_escape(args));
  int64_t trainable = 0, stats = 0;
  for (int i = 0; i < n->nparams; i++)
    *(n->params[i]->trainable ? &trainable : &stats) += n->params[i]->numel;
  if (n->nparams)
    sb_printf(&sb, "\\n%s params%s", fmt_count(trainable),
              stats ? arena_printf(" + %s stats", fmt_count(stats)) : "");
  const Group *grp = n->group[mode];
  if (grp && grp->fold_bn && grp->nodes[1] == n)
    sb_printf(&sb, "\\n(folded into the weights)");
  if (op_table[n->op]->flags & OPF_VIEW)
    sb_printf(&sb, "\\n(a view: no kernel)");
  return sb.data;
}

/* Is n drawn: an input, or a node that runs in the mode (in training, the
 * labels and the backward pass too; the optimizer update, which reads no
 * value, is named in the graph's label)? */
static bool drawn(const Graph *g, const Schedules *s, const IrNode *n, int mode) {
  if (n->op == OP_INPUT)
    return true;
  if (n->op == OP_LABEL)
    return mode == MODE_TRAIN && g->nlosses;
  return runs_in_mode(g, s, n, mode) && (mode == MODE_TRAIN || !n->backward);
}

/* The .nn line of loc for a tooltip: at most QUOTE bytes each side of loc,
 * whole UTF-8 characters, "..." where cut.  Reads only those bytes, so a
 * node costs the same on a line of any length. */
static const char *line_around(SrcLoc loc) {
  enum { QUOTE = 72 };
  const SrcFile *f = loc.file;
  const char *text_end = f->text + f->len;
  const char *op = f->text + loc.off, *line = op - (loc.col - 1);
  if (line < f->text || op > text_end || (line > f->text && line[-1] != '\n')) {
    int len;  /* (not a token's place: from the line's start) */
    line = op = src_line_text(loc, &len);
  }
  const char *from = op - QUOTE > line ? op - QUOTE : line, *end = from;
  while (from > line && (*from & 0xC0) == 0x80)
    from--;
  while (end < text_end && *end != '\n' && *end != '\r' && end - from < 2 * QUOTE)
    end++;
  bool cut = end < text_end && *end != '\n' && *end != '\r';
  while (cut && end > from && (*end & 0xC0) == 0x80)
    end--;
  return arena_printf("%s%.*s%s", from > line ? "..." : "", (int)(end - from), from,
                      cut ? "..." : "");
}

static void print_node(FILE *out, const IrNode *n, const char **names, int mode,
                       const char *indent) {
  const char *where = arena_printf("%s:%d: %s", base_name(n->loc.file->name), n->loc.line,
                                   line_around(n->loc));
  const char *style = "";
  if (n->op == OP_INPUT || n->op == OP_LABEL)
    style = ", shape=oval, fillcolor=\"#f2f2f2\"";
  else if (op_table[n->op]->flags & OPF_LOSS)
    style = ", shape=octagon, fillcolor=\"#fde3c8\"";
  else if (n->backward)
    style = ", fillcolor=\"#f9e0e0\"";
  else if (n->nparams)
    style = ", fillcolor=\"#d6e4f5\"";
  if (op_table[n->op]->flags & OPF_VIEW)
    style = ", style=\"rounded,dashed\"";
  fprintf(out, "%sv%d [label=\"%s\", tooltip=\"%s\"%s];\n", indent, n->out->id,
          node_label(n, names[n->out->id], mode), dot_text(where, true), style);
}

static void print_edges(FILE *out, const Graph *g, const Schedules *s, int mode) {
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    if (!drawn(g, s, n, mode))
      continue;
    for (int k = 0; k < n->nin; k++) {
      const Value *v = n->in[k];
      if (!v || v->id < 0 || !drawn(g, s, v->def, mode))
        continue;
      fprintf(out, "  v%d -> v%d [label=\"%s\"%s];\n", v->def->out->id, n->out->id,
              dot_escape(type_batch_str(&v->ty)),
              value_virtual(v, mode) ? ", style=dashed" : "");
    }
  }
  if (mode == MODE_TRAIN && g->nlosses)
    return;  /* the losses end the graph */
  for (int i = 0; i < g->outputs.len; i++) {
    const Value *v = g->outputs.data[i];
    fprintf(out, "  out%d [label=\"output %s\", shape=oval, fillcolor=\"#e3f1dc\"];\n", i,
            v->name ? dot_escape(v->name) : arena_printf("%d", i));
    fprintf(out, "  v%d -> out%d [label=\"%s\"];\n", v->def->out->id, i,
            dot_escape(type_batch_str(&v->ty)));
  }
}

static void print_dot_mode(FILE *out, const Graph *g, int mode) {
  Schedules s = schedules_of(g);
  const char **names = value_names(g);
  bool training = mode == MODE_TRAIN && g->nlosses;
  fprintf(out, "digraph \"%s\" {\n", dot_escape(g->name));
  fprintf(out,
          "  graph [label=\"%s (%s): the %s at -O%d\\nboxes: fused kernels;"
          " edges: per-sample shapes, N the batch; dashed: never stored%s\", labelloc=t,"
          " fontname=\"Helvetica\", fontsize=12, nodesep=0.25, ranksep=0.3];\n",
          dot_escape(g->name), dot_escape(base_name(g->file->name)),
          training ? "training step" : "inference graph", g->opt_level,
          training ? "\\nthen the optimizer update, one loop over all parameters" : "");
  fprintf(out, "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\","
               " fontname=\"Helvetica\", fontsize=10];\n"
               "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n");
  bool *in_group = arena_alloc(sizeof(bool) * (size_t)(g->next_value_id + 1));
  const PtrVec *groups = &g->groups[mode];
  for (int i = 0; i < groups->len; i++) {
    const Group *grp = groups->data[i];
    if (!drawn(g, &s, grp->nodes[0], mode))
      continue;
    fprintf(out, "  subgraph cluster_%d {\n    label=\"kernel: %s\"; tooltip=\"formed by %s\";"
                 " labeljust=l; style=\"rounded,dashed\"; color=\"#7f7f7f\"; fontname=\"Helvetica\";"
                 " fontsize=9;\n",
            i, dot_escape(group_name(grp)), dot_escape(grp->pass));
    for (int k = 0; k < grp->n; k++) {
      print_node(out, grp->nodes[k], names, mode, "    ");
      in_group[grp->nodes[k]->out->id] = true;
    }
    fprintf(out, "  }\n");
  }
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    if (drawn(g, &s, n, mode) && !in_group[n->out->id])
      print_node(out, n, names, mode, "  ");
  }
  print_edges(out, g, &s, mode);
  fprintf(out, "}\n");
}

void print_dot(FILE *out, const Graph *g, bool training) {
  print_dot_mode(out, g, training ? MODE_TRAIN : MODE_INFER);
}
