/* ir_read.c - `nncc -x ir`: the text print_ir writes (--emit=ir,
 * --emit=ir-train, --print-after) back into a Graph, so a dump can become
 * a test input and the pipeline can go on from where it was printed.
 *
 * The text is line by line: each line is one node, a parameter of the node
 * above, an output, a loss, the totals, the train or test block, or a line
 * of the source section; a line that starts with '#' is a comment.  The reader knows the syntax; what the values mean
 * it leaves to the machinery that gives them meaning for .nn input:
 * attributes are bound by bind_args against the op's spec, the train and
 * test lines become the block lines check-train reads, and the types,
 * saved values and parameters printed are checked against what
 * infer-shapes and assign-params make of the nodes (a mismatch is an error
 * at the line that disagrees).
 *
 * A node's place is its `// file:line:col` trailer (--print-locs), resolved
 * in the source section that --print-locs prints last; a node without one
 * is placed at its op in the IR text, so later errors point there.  The
 * first error stops the reader (a longjmp back to read_ir), as a later
 * line would only repeat it.
 */
#include "nncc.h"

#include <limits.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VALUE_ID 10000000

typedef struct Reader {
  const SrcFile *file;      /* the IR text                                  */
  const char *p;            /* current position                             */
  const char *line_start;
  int line;
  jmp_buf fail;
  Graph *g;
  Value **values;           /* by printed id                                */
  int nvalues;
  StrMap sources;           /* file name -> SrcFile* of the source section  */
  const SrcFile *first_source;  /* the model's .nn file, if the text has it */
  IrNode *last;             /* the node param/saves lines belong to         */
  PtrVec printed_types;     /* per node in g->nodes: Type* as printed       */
  PtrVec param_lines;       /* per node: PtrVec* of ParamLine*              */
  BlockLine *train, *test;
  int64_t totals[2];        /* the params line: params, buffers (-1: none)  */
  SrcLoc totals_loc;
  bool saw_saves;
} Reader;

/* A line under a node: a parameter or buffer, or the value it saves. */
typedef struct ParamLine {
  SrcLoc loc;
  int saves;                /* saves %id: id; else -1                       */
  bool trainable;
  const char *name;
  Type ty;
} ParamLine;

static _Noreturn void fail_at(Reader *r, SrcLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static SrcLoc loc_at(const Reader *r, const char *at, int len) {
  SrcLoc loc = {r->file, (int)(at - r->file->text), r->line, (int)(at - r->line_start) + 1,
                len > 0 ? len : 1};
  return loc;
}

static void fail_at(Reader *r, SrcLoc loc, const char *fmt, ...) {
  StrBuf sb = {0};
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&sb, fmt, ap);
  va_end(ap);
  error_at(loc, "%s", sb.data);
  longjmp(r->fail, 1);
}

/* "expected X, got Y" at the current position. */
static _Noreturn void expected(Reader *r, const char *what) {
  const char *q = r->p;
  while (*q && *q != '\n' && *q != ' ' && q - r->p < 20)
    q++;
  fail_at(r, loc_at(r, r->p, (int)(q - r->p)), "expected %s, got %s", what,
          q > r->p ? arena_printf("'%.*s'", (int)(q - r->p), r->p) : "the end of the line");
}

/* ------------------------------------------------------------ words */

static bool at_end(const Reader *r) { return *r->p == '\n' || *r->p == '\0'; }

static bool accept(Reader *r, const char *s) {
  size_t n = strlen(s);
  if (strncmp(r->p, s, n))
    return false;
  r->p += n;
  return true;
}

static void expect(Reader *r, const char *s) {
  if (!accept(r, s))
    expected(r, arena_printf("'%s'", s));
}

static void skip_spaces(Reader *r) {
  while (*r->p == ' ' || *r->p == '\t')
    r->p++;
}

static bool is_word_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_';
}

/* word = [A-Za-z0-9_]+ */
static const char *word(Reader *r, const char *what) {
  const char *s = r->p;
  while (is_word_char(*r->p))
    r->p++;
  if (r->p == s)
    expected(r, what);
  return arena_strndup(s, (size_t)(r->p - s));
}

/* name = word ("." word)*   (dotted layer and parameter names) */
static const char *dotted(Reader *r, const char *what) {
  const char *s = r->p;
  word(r, what);
  while (*r->p == '.' && is_word_char(r->p[1])) {
    r->p++;
    word(r, what);
  }
  return arena_strndup(s, (size_t)(r->p - s));
}

/* integer = [0-9]+ */
static int64_t integer(Reader *r, const char *what) {
  const char *s = r->p;
  int64_t v = 0;
  while (*r->p >= '0' && *r->p <= '9') {
    if (v > (INT64_MAX - 9) / 10)
      fail_at(r, loc_at(r, s, (int)(r->p - s) + 1), "%s is too large", what);
    v = v * 10 + (*r->p++ - '0');
  }
  if (r->p == s)
    expected(r, what);
  return v;
}

/* string = '"' [^"\n]* '"' */
static const char *string(Reader *r) {
  expect(r, "\"");
  const char *s = r->p;
  while (*r->p != '"' && !at_end(r))
    r->p++;
  const char *text = arena_strndup(s, (size_t)(r->p - s));
  expect(r, "\"");
  return text;
}

/* value = "%" integer   (a value defined on an earlier line) */
static Value *value_use(Reader *r) {
  const char *s = r->p;
  expect(r, "%");
  int64_t id = integer(r, "a value number");
  if (id >= r->nvalues || !r->values[id])
    fail_at(r, loc_at(r, s, (int)(r->p - s)), "%%%lld is not defined before this line",
            (long long)id);
  return r->values[id];
}

/* --------------------------------------------------- attribute values */

static AstNode *ast_node(Reader *r, NodeKind kind, const char *start) {
  AstNode *n = arena_alloc(sizeof(AstNode));
  n->kind = kind;
  n->loc = loc_at(r, start, (int)(r->p - start));
  n->tok = arena_alloc(sizeof(Token));
  n->tok->loc = n->loc;
  n->tok->text = arena_strndup(start, (size_t)(r->p - start));
  return n;
}

static void args(Reader *r, const char *close, Arg **out, int *nout, bool keyed);

/* attrvalue = "-"? number | string | "[" (attrvalue ("," attrvalue)*)? "]"
 *           | word ("(" args ")")?
 * into the AST a .nn argument would be, for bind_args. */
static AstNode *attr_value(Reader *r) {
  const char *s = r->p;
  if (*r->p == '"') {
    const char *text = string(r);
    AstNode *n = ast_node(r, ND_STRING, s);
    n->name = text;
    return n;
  }
  if (*r->p == '-' || *r->p == '.' || (*r->p >= '0' && *r->p <= '9')) {
    char *end;
    double v = strtod(r->p, &end);
    if (end == r->p || is_word_char(*end))
      expected(r, "a number");
    bool is_int = strcspn(r->p, ".eEin") >= (size_t)(end - r->p);
    r->p = end;
    AstNode *n = ast_node(r, ND_NUM, s);
    n->num = v;
    n->is_int = is_int;
    return n;
  }
  bool list = accept(r, "[");
  const char *name = list ? NULL : word(r, "a value");
  if (!list && !accept(r, "(")) {
    AstNode *n = ast_node(r, ND_IDENT, s);
    n->name = name;
    return n;
  }
  Arg *a;
  int na;
  args(r, list ? "]" : ")", &a, &na, !list);
  AstNode *n = ast_node(r, list ? ND_LIST : ND_CALL, s);
  n->name = name;
  n->args = a;
  n->nargs = na;
  return n;
}

/* args = (arg ("," " "? arg)*)? close;  arg = (word "=")? attrvalue
 * (keyed: every argument has its key) */
static void args(Reader *r, const char *close, Arg **out, int *nout, bool keyed) {
  PtrVec v = {0};
  while (!accept(r, close)) {
    if (v.len) {
      expect(r, ",");
      skip_spaces(r);
    }
    Arg *a = arena_alloc(sizeof(Arg));
    if (keyed) {
      const char *k = r->p;
      a->key = word(r, "an argument name");
      a->key_loc = loc_at(r, k, (int)(r->p - k));
      expect(r, "=");
    }
    a->value = attr_value(r);
    vec_push(&v, a);
  }
  *out = arena_alloc(sizeof(Arg) * (size_t)(v.len + 1));
  for (int i = 0; i < v.len; i++)
    (*out)[i] = *(Arg *)v.data[i];
  *nout = v.len;
}

/* ------------------------------------------------------------ types */

/* type = "?" | "none" | "f32 (loss)" | "class[" integer "]"
 *      | "f32[" (integer (", " integer)*)? "]" (" (per batch)")? */
static Type type(Reader *r) {
  Type t = {0};
  const char *s = r->p;
  if (accept(r, "?"))
    return t;
  if (accept(r, "none")) {
    t.kind = T_NONE;
    return t;
  }
  if (accept(r, "f32 (loss)")) {
    t.kind = T_SCALAR;
    return t;
  }
  if (accept(r, "class[")) {
    t.kind = T_CLASS;
    t.nclasses = integer(r, "a class count");
    expect(r, "]");
    return t;
  }
  if (!accept(r, "f32["))
    expected(r, "a type (f32[...], class[N], f32 (loss), none or ?)");
  t.kind = T_F32;
  while (!accept(r, "]")) {
    if (t.rank)
      expect(r, ", ");
    if (t.rank == MAX_RANK)
      fail_at(r, loc_at(r, s, (int)(r->p - s)), "a type has at most %d dimensions", MAX_RANK);
    t.dims[t.rank++] = integer(r, "a dimension");
  }
  t.fixed = accept(r, " (per batch)");
  return t;
}

static bool same_type(const Type *a, const Type *b) { return !strcmp(type_str(a), type_str(b)); }

/* ------------------------------------------------------------ places */

/* A place in the source section: file:line:col (col 0 when not given). */
static SrcLoc source_loc(Reader *r, const char *file, int line, int col, SrcLoc at) {
  SrcFile *f = strmap_get(&r->sources, file);
  if (!f && col)
    fail_at(r, at, "no source section for '%s' (--print-locs prints it last)", file);
  if (!f) {  /* a backward node's line, printed without --print-locs */
    f = arena_alloc(sizeof(SrcFile));
    f->name = file;
    f->text = "";
    *strmap_slot(&r->sources, f->name) = f;
  }
  int l = 1, off = 0;
  while (l < line && off < (int)f->len)
    if (f->text[off++] == '\n')
      l++;
  int len = 0;
  while (off + len < (int)f->len && f->text[off + len] != '\n')
    len++;
  if (l < line || col > len + 1) {
    if (col)
      fail_at(r, at, "%s:%d:%d is not in the source section", file, line, col);
    off = (int)f->len;  /* (a line it does not hold reads as empty) */
  }
  SrcLoc loc = {f, off + (col ? col - 1 : 0), line, col ? col : 1, 1};
  return loc;
}

/* loc = file ":" integer ":" integer   (the file name may hold ':') */
static SrcLoc trailer_loc(Reader *r, const char *s, const char *end, bool with_col) {
  SrcLoc at = loc_at(r, s, (int)(end - s));
  const char *c1 = end, *c2 = NULL;
  while (c1 > s && c1[-1] != ':')
    c1--;
  if (with_col) {
    c2 = c1 - 1;
    while (c2 > s && c2[-1] != ':')
      c2--;
  }
  const char *num = with_col ? c2 : c1;
  if (num <= s + 1 || strspn(num, "0123456789:") < (size_t)(end - num))
    fail_at(r, at, "expected a place file:line%s", with_col ? ":col" : "");
  const char *file = arena_strndup(s, (size_t)(num - 1 - s));
  long long line = strtoll(num, NULL, 10), col = with_col ? strtoll(c1, NULL, 10) : 0;
  if (line < 1 || line > INT_MAX || (with_col && (col < 1 || col > INT_MAX)))
    fail_at(r, at, "expected a place file:line%s", with_col ? ":col" : "");
  return source_loc(r, file, (int)line, (int)col, at);
}

/* trailer = "  // " (name (", " loc)? | loc)   the value's .nn name, its place
 * Sets *name and *loc (unchanged if not given). */
static void trailer(Reader *r, const char **name, SrcLoc *loc) {
  if (!accept(r, "  // "))
    return;
  const char *s = r->p, *end = s;
  while (!at_end(r))
    r->p++;
  end = r->p;
  const char *q = s;
  while (q < end && is_word_char(*q))
    q++;
  if (q > s && (q == end || !strncmp(q, ", ", 2))) {
    *name = arena_strndup(s, (size_t)(q - s));
    s = q == end ? end : q + 2;
  }
  if (s < end)
    *loc = trailer_loc(r, s, end, true);
}

/* ------------------------------------------------------------- lines */

static void expect_end(Reader *r) {
  if (!at_end(r))
    expected(r, "the end of the line");
}

/* node = value "=" op (string | "(" (value ("," value)*)? ")") attrs?
 *        ("@" name)? " : " type (grad | trailer)?
 * attrs = " {" args "}";  grad = "  // grad of " value ", " file ":" integer */
static void node_line(Reader *r) {
  Graph *g = r->g;
  const char *s = r->p;
  expect(r, "%");
  int64_t id = integer(r, "a value number");
  if (id >= MAX_VALUE_ID)
    fail_at(r, loc_at(r, s, (int)(r->p - s)), "value numbers stop at %d", MAX_VALUE_ID - 1);
  if (id < r->nvalues && r->values[id])
    fail_at(r, loc_at(r, s, (int)(r->p - s)), "%%%lld is defined twice", (long long)id);
  expect(r, " = ");
  const char *op_at = r->p;
  const char *opname = word(r, "an op");
  SrcLoc op_loc = loc_at(r, op_at, (int)(r->p - op_at));
  int op = -1;
  for (int k = 0; k < OP_COUNT; k++)
    if (!strcmp(op_table[k]->name, opname))
      op = k;
  if (op < 0) {
    const char *names[OP_COUNT];
    for (int k = 0; k < OP_COUNT; k++)
      names[k] = op_table[k]->name;
    const char *near = closest_word(opname, names, OP_COUNT);
    fail_at(r, op_loc, "unknown op '%s'%s", opname,
            near ? arena_printf("; did you mean '%s'?", near) : "");
  }
  const OpInfo *info = op_table[op];
  Value *in[MAX_IN];
  int nin = 0;
  const char *io_name = NULL;
  if (op == OP_INPUT || op == OP_LABEL) {
    expect(r, " ");
    io_name = string(r);
  } else {
    expect(r, "(");
    while (!accept(r, ")")) {
      if (nin)
        expect(r, ", ");
      if (nin == MAX_IN)
        fail_at(r, loc_at(r, r->p, 1), "a node has at most %d inputs", MAX_IN);
      in[nin++] = value_use(r);
    }
    bool ok = info->ninputs >= 0 ? nin == info->ninputs : nin >= 2;
    if (!ok)
      fail_at(r, op_loc, "%s takes %s, got %d", info->name,
              info->ninputs >= 0 ? arena_printf("%d inputs", info->ninputs) : "two or more inputs",
              nin);
  }
  Arg *a = NULL;
  int na = 0;
  if (accept(r, " {"))
    args(r, "}", &a, &na, true);
  Attr *attrs = arena_alloc(sizeof(Attr) * (size_t)(spec_count(info->args) + 1));
  if (!bind_args(info->name, op_loc, a, na, info->args, attrs))
    longjmp(r->fail, 1);
  IrNode *n = graph_add_node(g, op, op_loc, in, nin);
  n->attrs = attrs;
  n->out->id = (int)id;
  if (id >= g->next_value_id)
    g->next_value_id = (int)id + 1;
  if (accept(r, " @"))
    n->layer_name = dotted(r, "a layer name");
  if (((info->flags & OPF_LAYER) != 0) != (n->layer_name != NULL))
    fail_at(r, op_loc, (info->flags & OPF_LAYER) ? "%s is a layer: name it with @NAME"
                                                 : "%s has no parameters: it takes no @NAME",
            info->name);
  expect(r, " : ");
  Type *printed = arena_alloc(sizeof(Type));
  *printed = type(r);
  n->out->ty = *printed;
  if (accept(r, "  // grad of ")) {
    const IrNode *fwd = value_use(r)->def;
    expect(r, ", ");
    const char *ls = r->p;
    while (!at_end(r))
      r->p++;
    n->loc = trailer_loc(r, ls, r->p, false);
    if (n->loc.file == fwd->loc.file && n->loc.line == fwd->loc.line)
      n->loc = fwd->loc;  /* its op's place, column and all */
    n->fwd = fwd;
    n->backward = true;
  } else {
    trailer(r, &n->out->name, &n->loc);
    n->backward = op == OP_OPTIMIZER_UPDATE;
    if (n->backward)
      n->fwd = n;
  }
  expect_end(r);
  if (io_name) {
    n->io_name = n->out->name = io_name;
    n->out->is_label = op == OP_LABEL;
    vec_push(op == OP_INPUT ? &g->inputs : &g->labels, n);
  }
  if (id >= r->nvalues) {
    int cap = r->nvalues ? r->nvalues : 16;
    while (cap <= id)
      cap *= 2;
    Value **v = arena_alloc(sizeof(Value *) * (size_t)cap);
    if (r->nvalues)
      memcpy(v, r->values, sizeof(Value *) * (size_t)r->nvalues);
    r->values = v;
    r->nvalues = cap;
  }
  r->values[id] = n->out;
  vec_push(&r->printed_types, printed);
  vec_push(&r->param_lines, arena_alloc(sizeof(PtrVec)));
  r->last = n;
}

/* member = "    " ("param  " | "buffer " ) name " : " type | "    saves " value " : " type */
static void member_line(Reader *r) {
  const char *s = r->p;
  if (!r->last)
    fail_at(r, loc_at(r, s, 4), "a parameter line needs a node above it");
  r->p += 4;
  if (accept(r, "saves ")) {
    const char *v = r->p;
    expect(r, "%");
    int64_t id = integer(r, "a value number");
    if (id >= MAX_VALUE_ID || (id < r->nvalues && r->values[id]))
      fail_at(r, loc_at(r, v, (int)(r->p - v)), "%%%lld is defined twice", (long long)id);
    expect(r, " : ");
    ParamLine *pl = arena_alloc(sizeof(ParamLine));
    pl->loc = loc_at(r, v, (int)(r->p - v));
    pl->ty = type(r);
    pl->saves = (int)id;
    expect_end(r);
    vec_push(r->param_lines.data[r->param_lines.len - 1], pl);
    r->saw_saves = true;
    if (id >= r->g->next_value_id)
      r->g->next_value_id = (int)id + 1;
    return;
  }
  ParamLine *pl = arena_alloc(sizeof(ParamLine));
  pl->saves = -1;
  if (accept(r, "param  "))
    pl->trainable = true;
  else if (!accept(r, "buffer "))
    expected(r, "'param', 'buffer' or 'saves'");
  const char *ns = r->p;
  pl->name = dotted(r, "a parameter name");
  pl->loc = loc_at(r, ns, (int)(r->p - ns));
  expect(r, " : ");
  pl->ty = type(r);
  expect_end(r);
  vec_push(r->param_lines.data[r->param_lines.len - 1], pl);
}

/* block = ("train" | "test") " {" (" " item)* " }" trailer?
 * item = word ("(" args ")")? ("=" attrvalue)?
 * Train items are block lines (`batch=128` is the line `batch 128`); in the
 * test block, `tta` starts a line and `key=value` items are its arguments
 * (an empty list is an argument left out). */
static void block_line(Reader *r, bool is_train) {
  BlockLine head = {0}, *cur = &head;
  expect(r, " {");
  PtrVec v = {0};
  while (!accept(r, " }")) {
    expect(r, " ");
    const char *ws = r->p;
    const char *w = word(r, "a setting");
    SrcLoc wloc = loc_at(r, ws, (int)(r->p - ws));
    Arg *a = NULL;
    int na = 0;
    if (accept(r, "("))
      args(r, ")", &a, &na, true);
    AstNode *val = accept(r, "=") ? attr_value(r) : NULL;
    if (!is_train && val && cur != &head) {  /* an argument of the tta line */
      if (val->kind == ND_LIST && val->nargs == 0)
        continue;
      Arg *arg = arena_alloc(sizeof(Arg));
      arg->key = w;
      arg->key_loc = wloc;
      arg->value = val;
      vec_push(&v, arg);
      Arg *all = arena_alloc(sizeof(Arg) * (size_t)v.len);
      for (int i = 0; i < v.len; i++)
        all[i] = *(Arg *)v.data[i];
      cur->args = all;
      cur->nargs = v.len;
      continue;
    }
    BlockLine *l = arena_alloc(sizeof(BlockLine));
    l->loc = wloc;
    l->word = w;
    l->args = a;
    l->nargs = na;
    if (val) {
      l->args = arena_alloc(sizeof(Arg));
      l->args[0].value = val;
      l->nargs = 1;
    }
    cur = cur->next = l;
    v = (PtrVec){0};
  }
  Stmt *st = arena_alloc(sizeof(Stmt));
  st->kind = ST_BLOCK;
  st->name = is_train ? "train" : "test";
  st->loc = loc_at(r, r->line_start, 1);
  const char *unused = NULL;
  trailer(r, &unused, &st->loc);
  expect_end(r);
  st->lines = head.next;
  if (is_train)
    r->g->train_stmt = st;
  else
    r->g->test_stmt = st;
}

/* output = "output " value " : " type trailer?
 * loss = "loss " value " weight=" number trailer?
 * params = "params " integer " floats, buffers " integer " floats" */
static void other_line(Reader *r) {
  Graph *g = r->g;
  const char *s = r->p;
  if (accept(r, "output ")) {
    Value *v = value_use(r);
    expect(r, " : ");
    Type t = type(r);
    if (!same_type(&t, &v->ty))
      fail_at(r, loc_at(r, s, (int)(r->p - s)), "output %%%d is %s, not %s", v->id,
              type_str(&v->ty), type_str(&t));
    SrcLoc *loc = arena_alloc(sizeof(SrcLoc));
    *loc = loc_at(r, s, 6);
    const char *unused = NULL;
    trailer(r, &unused, loc);
    vec_push(&g->outputs, v);
    vec_push(&g->output_locs, loc);
  } else if (accept(r, "loss ")) {
    Value *v = value_use(r);
    expect(r, " weight=");
    AstNode *w = attr_value(r);
    if (w->kind != ND_NUM || !(w->num > 0))
      fail_at(r, w->loc, "a loss weight is a positive number");
    Loss *ls = arena_alloc(sizeof(Loss) * (size_t)(g->nlosses + 1));
    if (g->nlosses)
      memcpy(ls, g->losses, sizeof(Loss) * (size_t)g->nlosses);
    ls[g->nlosses] = (Loss){v, w->num, loc_at(r, s, 4)};
    const char *unused = NULL;
    trailer(r, &unused, &ls[g->nlosses].loc);
    g->losses = ls;
    g->nlosses++;
  } else if (accept(r, "params ")) {
    r->totals_loc = loc_at(r, s, 6);
    r->totals[0] = integer(r, "a count");
    expect(r, " floats, buffers ");
    r->totals[1] = integer(r, "a count");
    expect(r, " floats");
  } else if (accept(r, "classes ")) {
    SrcLoc loc = loc_at(r, s, 7);
    AstNode *list = attr_value(r);
    const char *unused = NULL;
    trailer(r, &unused, &loc);
    if (!set_class_names(g, list, loc))
      longjmp(r->fail, 1);
  } else if (accept(r, "train")) {
    block_line(r, true);
  } else if (accept(r, "test")) {
    block_line(r, false);
  } else {
    expected(r, "a node, 'output', 'loss', 'params', 'classes', 'train', 'test' or 'source'");
  }
  expect_end(r);
}

static void next_line(Reader *r) {
  while (!at_end(r))
    r->p++;
  if (*r->p == '\n')
    r->p++;
  r->line++;
  r->line_start = r->p;
}

/* source = 'source "' file '"' NL ("  " integer " | " text NL)*
 * Read first, so that the nodes' places resolve in it. */
static void source_sections(Reader *r) {
  const char *p = r->p, *line_start = r->line_start;
  int lineno = r->line;
  StrBuf text = {0};
  SrcFile *f = NULL;
  int want = 1;
  for (; *r->p; next_line(r)) {
    if (accept(r, "source ")) {
      f = arena_alloc(sizeof(SrcFile));
      f->name = string(r);
      f->text = "";
      expect_end(r);
      if (!r->first_source)
        r->first_source = f;
      *strmap_slot(&r->sources, f->name) = f;
      text = (StrBuf){0};
      sb_printf(&text, "%s", "");
      want = 1;
      continue;
    }
    if (!f || *r->p == '#' || at_end(r))
      continue;
    skip_spaces(r);
    int64_t line = integer(r, "a source line number");
    if (line < want || line > (1 << 26))  /* (a .nn file is at most 64 MiB) */
      fail_at(r, loc_at(r, r->line_start, 1), "source lines go in order, up to line %d",
              1 << 26);
    expect(r, " |");
    accept(r, " ");
    const char *s = r->p;
    while (!at_end(r))
      r->p++;
    for (; want < line; want++)
      sb_printf(&text, "\n");
    sb_printf(&text, "%.*s\n", (int)(r->p - s), s);
    want = (int)line + 1;
    f->text = text.data;
    f->len = text.len;
  }
  r->p = p;
  r->line = lineno;
  r->line_start = line_start;
}

/* ------------------------------------------------------------ checks */

/* What infer-shapes and assign-params make of the nodes must be what the
 * text says: the types, the saved values and the parameters. */
static void check_derived(Reader *r, bool after_autodiff) {
  Graph *g = r->g;
  for (int i = 0; i < g->nodes.len; i++) {
    IrNode *n = g->nodes.data[i];
    const Type *printed = r->printed_types.data[i];
    if (!n->backward && !same_type(printed, &n->out->ty))
      fail_at(r, n->loc, "%%%d: %s gives %s, but the IR says %s", n->out->id,
              op_table[n->op]->name, type_str(&n->out->ty), type_str(printed));
    n->out->ty = *printed;
    const PtrVec *lines = r->param_lines.data[i];
    int k = 0;
    for (int j = 0; j < lines->len; j++) {
      const ParamLine *pl = lines->data[j];
      if (pl->saves >= 0) {
        if (!n->aux || !same_type(&pl->ty, &n->aux->ty))
          fail_at(r, pl->loc, "%s saves %s, not %s", op_table[n->op]->name,
                  n->aux ? type_str(&n->aux->ty) : "nothing", type_str(&pl->ty));
        n->aux->id = pl->saves;
        continue;
      }
      const Param *p = k < n->nparams ? n->params[k] : NULL;
      Type t = p ? type_f32(p->rank, p->dims) : (Type){0};
      if (!p || strcmp(p->name, pl->name) || p->trainable != pl->trainable ||
          !same_type(&t, &pl->ty))
        fail_at(r, pl->loc, "%s has %s here, not %s %s : %s", n->layer_name,
                p ? arena_printf("%s %s : %s", p->trainable ? "param" : "buffer", p->name,
                                 type_str(&t))
                  : "no more parameters",
                pl->trainable ? "param" : "buffer", pl->name, type_str(&pl->ty));
      k++;
    }
    if (after_autodiff && n->aux && n->aux->id < 0)
      fail_at(r, n->loc, "%%%d (%s) saves %s for its backward pass: a `saves` line is missing",
              n->out->id, op_table[n->op]->name, type_str(&n->aux->ty));
    if (k < n->nparams)
      fail_at(r, n->loc, "%s also has %s %s", n->layer_name,
              n->params[k]->trainable ? "param" : "buffer", n->params[k]->name);
  }
  if (r->totals[0] >= 0 && (r->totals[0] != g->num_params || r->totals[1] != g->num_buffers))
    fail_at(r, r->totals_loc,
            "the params line says %lld and %lld floats, the layers have %lld and %lld (the "
            "parameters of a layer dce dropped are not printed)",
            (long long)r->totals[0], (long long)r->totals[1], (long long)g->num_params,
            (long long)g->num_buffers);
}

/* Which pass the text was printed after, as the index of the next one:
 * autodiff if it has backward nodes or saved values, check-train if the
 * layers have their parameters (or there are none), infer-shapes if the
 * values have types, else lower. */
static int start_of(const Reader *r) {
  const Graph *g = r->g;
  bool typed = false, layers = false, params = r->totals[0] >= 0, backward = r->saw_saves;
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    typed |= n->op != OP_INPUT && n->op != OP_LABEL && n->out->ty.kind != T_UNKNOWN;
    layers |= (op_table[n->op]->flags & OPF_LAYER) != 0;
    params |= ((PtrVec *)r->param_lines.data[i])->len > 0;
    backward |= n->backward;
  }
  typed |= !layers && g->nodes.len == g->inputs.len + g->labels.len;
  const char *after = backward ? "autodiff" : typed && (params || !layers) ? "check-train"
                      : typed ? "infer-shapes" : "lower";
  return (int)(pass_lookup(after) - passes) + 1;
}

/* ir = "model " word NL (node member* | output | loss | params | train | test)*
 *      source* */
Graph *read_ir(const SrcFile *file, int *start) {
  Reader *r = arena_alloc(sizeof(Reader));
  r->file = file;
  r->p = file->text;
  r->line_start = file->text;
  r->line = 1;
  r->totals[0] = r->totals[1] = -1;
  if (setjmp(r->fail))
    return NULL;
  source_sections(r);
  Graph *g = r->g = graph_new(file);
  if (r->first_source)
    g->file = r->first_source;
  while (*r->p == '#' || *r->p == '\n')
    next_line(r);
  expect(r, "model ");
  const char *ns = r->p;
  g->name = word(r, "the model's name");
  g->name_loc = loc_at(r, ns, (int)(r->p - ns));
  expect_end(r);
  const char *why = c_name_reserved(g->name);
  if (why)
    fail_at(r, g->name_loc, "'%s' cannot name a model: %s", g->name, why);
  for (next_line(r); *r->p && !accept(r, "source "); next_line(r)) {
    if (at_end(r) || *r->p == '#')
      continue;  /* a blank line, a comment (a test's RUN lines) */
    if (*r->p == '%')
      node_line(r);
    else if (!strncmp(r->p, "    ", 4))
      member_line(r);
    else
      other_line(r);
  }
  if (!g->inputs.len)
    fail_at(r, g->name_loc, "the model has no input");
  if (!g->outputs.len)
    fail_at(r, g->name_loc, "the model has no output");
  *start = start_of(r);
  const char *after = passes[*start - 1].name;
  if (strcmp(after, "lower") && !infer_shapes(g))
    return NULL;
  if (!strcmp(after, "check-train") || !strcmp(after, "autodiff")) {
    if (!assign_params(g) || !check_train(g))
      return NULL;
  }
  check_derived(r, !strcmp(after, "autodiff"));
  return g;
}
