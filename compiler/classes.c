/* classes.c - the `classes ["T-shirt", "Trouser", ...]` line: names for the
 * classes of a model's output, which `predict` prints beside the
 * probabilities and the generated header carries (NAME_CLASS_NAMES).
 * Read from .nn (lower.c) and from IR (ir_read.c) by set_class_names; the
 * count is checked with the train block (check_train), once shapes are
 * known. */
#include "nncc.h"

#include <string.h>

bool set_class_names(Graph *g, const AstNode *list, SrcLoc loc) {
  if (g->nclass_names) {
    error_at(loc, "a second classes line; list all the names in one");
    note_at(g->classes_loc, "the first is here");
    return false;
  }
  if (!list || list->kind != ND_LIST || list->nargs == 0) {
    error_at(list ? list->loc : loc, "classes takes a list of names in double quotes, as in "
             "`classes [\"cat\", \"dog\"]`");
    return false;
  }
  const char **names = arena_alloc(sizeof(char *) * (size_t)list->nargs);
  for (int i = 0; i < list->nargs; i++) {
    const Arg *a = &list->args[i];
    const AstNode *v = a->value;
    if (a->key || v->kind != ND_STRING) {
      error_at(a->key ? a->key_loc : v->loc, "a class name is a string in double quotes, "
               "as in \"%s\"", v->kind == ND_IDENT || v->kind == ND_NUM
                                   ? (v->kind == ND_IDENT ? v->name : v->tok->text) : "cat");
      return false;
    }
    bool control = false;
    for (const char *c = v->name; *c; c++)
      control |= (unsigned char)*c < 0x20 || *c == 0x7f;
    if (!v->name[0] || control) {
      error_at(v->loc, "a class name is printable text, not %s", control ? "control characters"
                                                                          : "empty");
      return false;
    }
    for (int k = 0; k < i; k++)
      if (!strcmp(names[k], v->name)) {
        error_at(v->loc, "class name \"%s\" is given twice", v->name);
        note_at(list->args[k].value->loc, "first here, as class %d", k);
        return false;
      }
    names[i] = v->name;
  }
  g->class_names = names;
  g->nclass_names = list->nargs;
  g->classes_loc = loc;
  return true;
}

/* As many names as the label has classes, or, without a class label, as
 * output 0 has values. */
void check_class_names(const Graph *g) {
  if (!g->nclass_names)
    return;
  const IrNode *label = g->labels.len ? g->labels.data[0] : NULL;
  if (label && label->out->ty.kind == T_CLASS) {
    if (label->out->ty.nclasses != g->nclass_names) {
      error_at(g->classes_loc, "classes lists %d name%s, but label %s has %lld classes "
               "(class[%lld])", g->nclass_names, g->nclass_names == 1 ? "" : "s",
               label->io_name, (long long)label->out->ty.nclasses,
               (long long)label->out->ty.nclasses);
      note_at(label->loc, "the label is declared here");
    }
    return;
  }
  const Value *out = g->outputs.len ? g->outputs.data[0] : NULL;
  if (out && out->ty.kind == T_F32 && type_numel(&out->ty) != g->nclass_names)
    error_at(g->classes_loc, "classes lists %d name%s, but the output has %lld values (%s)",
             g->nclass_names, g->nclass_names == 1 ? "" : "s",
             (long long)type_numel(&out->ty), type_str(&out->ty));
}

void print_class_names(StrBuf *sb, const Graph *g) {
  sb_printf(sb, "classes [");
  for (int i = 0; i < g->nclass_names; i++)
    sb_printf(sb, "%s\"%s\"", i ? ", " : "", g->class_names[i]);
  sb_printf(sb, "]");
}

int output_class_kind(const Graph *g) {
  const Value *out = g->outputs.data[0];
  int64_t n = type_numel(&out->ty);
  int64_t k = g->nclass_names;
  for (int i = 0; i < g->labels.len && !k; i++) {
    const IrNode *l = g->labels.data[i];
    if (l->out->ty.kind == T_CLASS)
      k = l->out->ty.nclasses;
  }
  if (out->ty.kind != T_F32 || k == 0 || n != k)
    return 0;  /* NNRT_OUTPUT_VALUES */
  const IrNode *def = value_storage(out)->def;
  if (def && def->op == OP_SOFTMAX)
    return 2;  /* NNRT_OUTPUT_PROBABILITIES */
  for (int i = 0; i < g->nlosses; i++) {
    const IrNode *loss = g->losses[i].value->def;
    if (loss && loss->op == OP_SOFTMAX_CROSS_ENTROPY && loss->in[0] == out)
      return 1;  /* NNRT_OUTPUT_LOGITS */
  }
  /* log_softmax (softmax recovers the probabilities), or a classes line */
  return (def && def->op == OP_LOG_SOFTMAX) || g->nclass_names ? 1 : 0;
}
