/* parse.c - recursive descent from tokens to the AST (see nncc.h).
 *
 * The parser knows the shape of the language, not its meaning: which ops
 * exist and what their arguments are is lower.c's and the op table's business.
 * A pipe `a |> op(args)` is desugared here into the call `op(a, args)`.
 *
 * Errors: a syntax error reports itself and abandons the statement (longjmp
 * back to the statement loop), which skips to the next line.  So every
 * statement gets a chance, and one file reports all its independent errors.
 *
 * Nesting: the parser recurses once per '(' or '[' (a call's parentheses,
 * a list, a parenthesized expression), so their depth in one statement is
 * bounded by MAX_NESTING, as clang bounds bracket depth.  A pipe nests
 * nothing in the source: `a |> f |> g` is read by a loop, and every walk of
 * the AST after it (lower.c, print_ast_expr) follows a chain of first
 * arguments with a loop too, so a pipe may be any length.
 */
#include "nncc.h"

#include <setjmp.h>
#include <string.h>

typedef struct Parser {
  const SrcFile *file;
  Token *tok;
  jmp_buf *recover;     /* where a syntax error goes                         */
  Token *stmt_start;    /* first token of the statement (or block line)      */
  int depth;            /* '(' and '[' open around the current token         */
} Parser;

static const char *const stmt_words[] = {"model", "input", "label", "output",
                                         "loss",  "train", "test",  "classes"};
#define NSTMT_WORDS (int)(sizeof stmt_words / sizeof stmt_words[0])

static _Noreturn void fail(Parser *p, SrcLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Did the lexer report an error in this statement, up to and including
 * `upto`?  Then that error explains it: the parser adds none of its own and
 * drops the statement, so a bad number or character does not cascade. */
static bool lexer_failed(const Parser *p, const Token *upto) {
  for (const Token *t = p->stmt_start; t; t = t->next) {
    if (t->bad)
      return true;
    if (t == upto || t->kind == TK_EOF)
      break;
  }
  return false;
}

static void fail(Parser *p, SrcLoc loc, const char *fmt, ...) {
  StrBuf sb = {0};
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&sb, fmt, ap);
  va_end(ap);
  if (!lexer_failed(p, p->tok))
    error_at(loc, "%s", sb.data);
  longjmp(*p->recover, 1);
}

static bool is_punct(const Token *t, const char *s) {
  return t->kind == TK_PUNCT && strcmp(t->text, s) == 0;
}
static bool is_word(const Token *t, const char *s) {
  return t->kind == TK_IDENT && strcmp(t->text, s) == 0;
}

static const char *describe(const Token *t) {
  switch (t->kind) {
  case TK_NEWLINE: return "end of line";
  case TK_EOF: return "end of file";
  case TK_STRING: return arena_printf("string \"%s\"", t->text);
  default: return arena_printf("'%s'", t->text);
  }
}

static void expect(Parser *p, const char *s, const char *context) {
  if (!is_punct(p->tok, s))
    fail(p, p->tok->loc, "expected '%s' %s, got %s", s, context, describe(p->tok));
  p->tok = p->tok->next;
}

static Token *expect_ident(Parser *p, const char *what) {
  if (p->tok->kind != TK_IDENT)
    fail(p, p->tok->loc, "expected %s, got %s", what, describe(p->tok));
  Token *t = p->tok;
  p->tok = t->next;
  return t;
}

static AstNode *new_node(NodeKind kind, Token *tok) {
  AstNode *n = arena_alloc(sizeof(AstNode));
  n->kind = kind;
  n->tok = tok;
  n->loc = tok->loc;
  return n;
}

static AstNode *expr(Parser *p);

/* Enters the bracket `open` (the caller has not consumed it yet) or
 * reports that brackets nest deeper than MAX_NESTING; close_bracket leaves
 * it. */
static void open_bracket(Parser *p, const Token *open) {
  if (++p->depth <= MAX_NESTING)
    return;
  if (!lexer_failed(p, open)) {
    error_at(open->loc, "bracket nesting level exceeded maximum of %d", MAX_NESTING);
    note_at(open->loc, "write a chain of calls as a pipe (`x |> relu |> relu`), or name "
                       "intermediate values");
  }
  longjmp(*p->recover, 1);
}
static void close_bracket(Parser *p) { p->depth--; }

/* args = (arg ("," arg)*)? ","?      arg = IDENT "=" expr | expr
 * Stops before `close`, which matches `open`. */
static void args(Parser *p, const Token *open, const char *close, Arg **out, int *nout) {
  PtrVec v = {0};
  while (!is_punct(p->tok, close)) {
    Arg *a = arena_alloc(sizeof(Arg));
    if (p->tok->kind == TK_IDENT && is_punct(p->tok->next, "=")) {
      a->key = p->tok->text;
      a->key_loc = p->tok->loc;
      p->tok = p->tok->next->next;
    }
    if (is_punct(p->tok, close) || is_punct(p->tok, ","))
      fail(p, p->tok->loc, "expected a value%s, got %s",
           a->key ? arena_printf(" for '%s'", a->key) : "", describe(p->tok));
    a->value = expr(p);
    vec_push(&v, a);
    if (!is_punct(p->tok, ","))
      break;
    p->tok = p->tok->next;
  }
  if (!is_punct(p->tok, close)) {
    /* Left open to the end of the line: show the bracket it should match. */
    if (!lexer_failed(p, p->tok) && (p->tok->kind == TK_NEWLINE || p->tok->kind == TK_EOF ||
                                     p->tok->loc.line != open->loc.line)) {
      error_at(p->tok->loc, "expected ',' or '%s', got %s", close, describe(p->tok));
      note_at(open->loc, "to match this '%s'", open->text);
      longjmp(*p->recover, 1);
    }
    fail(p, p->tok->loc, "expected ',' or '%s', got %s", close, describe(p->tok));
  }
  *nout = v.len;
  *out = arena_alloc(sizeof(Arg) * (size_t)(v.len ? v.len : 1));
  for (int i = 0; i < v.len; i++)
    (*out)[i] = *(Arg *)v.data[i];
}

/* primary = NUMBER | "-" NUMBER | STRING | list | IDENT ("(" args ")")?
 *         | "(" expr ")"
 * list = "[" args "]" (positional items only) */
static AstNode *primary(Parser *p) {
  Token *t = p->tok;
  if (is_punct(t, "-")) {
    Token *num = t->next;
    if (num->kind != TK_NUMBER)
      fail(p, t->loc, "'-' must be followed by a number");
    p->tok = num->next;
    AstNode *n = new_node(ND_NUM, num);
    n->loc = t->loc;
    n->loc.len = num->loc.off + num->loc.len - t->loc.off;
    n->num = -num->num;
    n->is_int = num->is_int;
    if (num->int_overflow)
      fail(p, n->loc, "integer '-%s' is too large", num->text);
    return n;
  }
  if (t->kind == TK_NUMBER) {
    p->tok = t->next;
    if (t->int_overflow)
      fail(p, t->loc, "integer '%s' is too large", t->text);
    AstNode *n = new_node(ND_NUM, t);
    n->num = t->num;
    n->is_int = t->is_int;
    return n;
  }
  if (t->kind == TK_STRING) {
    p->tok = t->next;
    AstNode *n = new_node(ND_STRING, t);
    n->name = t->text;
    return n;
  }
  if (is_punct(t, "[")) {
    open_bracket(p, t);
    p->tok = t->next;
    AstNode *n = new_node(ND_LIST, t);
    args(p, t, "]", &n->args, &n->nargs);
    for (int i = 0; i < n->nargs; i++)
      if (n->args[i].key)
        fail(p, n->args[i].key_loc, "a list holds values, not 'key=value' pairs");
    n->loc.len = p->tok->loc.off + 1 - t->loc.off;
    p->tok = p->tok->next;
    close_bracket(p);
    return n;
  }
  if (is_punct(t, "(")) {
    open_bracket(p, t);
    p->tok = t->next;
    AstNode *n = expr(p);
    if (is_punct(p->tok, ",") && n->kind == ND_NUM)  /* Python's kernel_size=(3, 3) */
      fail(p, t->loc, "a list is written in square brackets, as in [3, 3]");
    if (!is_punct(p->tok, ")") && !lexer_failed(p, p->tok)) {
      error_at(p->tok->loc, "expected ')' to close the parenthesis, got %s", describe(p->tok));
      note_at(t->loc, "to match this '('");
      longjmp(*p->recover, 1);
    }
    expect(p, ")", "to close the parenthesis");
    close_bracket(p);
    return n;
  }
  if (t->kind == TK_IDENT) {
    p->tok = t->next;
    if (is_punct(p->tok, "(")) {
      AstNode *n = new_node(ND_CALL, t);
      n->name = t->text;
      open_bracket(p, p->tok);
      p->tok = p->tok->next;
      args(p, t->next, ")", &n->args, &n->nargs);
      p->tok = p->tok->next;
      close_bracket(p);
      return n;
    }
    AstNode *n = new_node(ND_IDENT, t);
    n->name = t->text;
    return n;
  }
  fail(p, t->loc, "expected a value, got %s", describe(t));
}

/* expr = primary (NEWLINE? "|>" IDENT ("(" args ")")?)*
 * `a |> op(b, k=v)` becomes `op(a, b, k=v)`; `a |> op` becomes `op(a)`. */
static AstNode *expr(Parser *p) {
  AstNode *lhs = primary(p);
  for (;;) {
    Token *t = p->tok;
    if (t->kind == TK_NEWLINE && is_punct(t->next, "|>"))
      t = t->next;
    if (!is_punct(t, "|>"))
      return lhs;
    Token *op = t->next;
    if (op->kind == TK_NEWLINE && op->next->kind == TK_IDENT && op->next->loc.col > 1) {
      /* `x |>` then an indented `relu`: say where the pipe goes, read on. */
      if (!lexer_failed(p, op))
        error_at(t->loc, "'|>' cannot end a line; start the continued line with it, as in "
                         "`  |> %s`", op->next->text);
      op = op->next;
    }
    if (op->kind != TK_IDENT)
      fail(p, op->loc, "expected an op name after '|>', got %s", describe(op));
    p->tok = op->next;
    AstNode *call = new_node(ND_CALL, op);
    call->name = op->text;
    call->piped = true;
    Arg *rest = NULL;
    int nrest = 0;
    if (is_punct(p->tok, "(")) {
      open_bracket(p, p->tok);
      p->tok = p->tok->next;
      args(p, op->next, ")", &rest, &nrest);
      p->tok = p->tok->next;
      close_bracket(p);
    } else {
      call->bare = true;
    }
    call->nargs = nrest + 1;
    call->args = arena_alloc(sizeof(Arg) * (size_t)call->nargs);
    call->args[0].value = lhs;
    for (int i = 0; i < nrest; i++)
      call->args[i + 1] = rest[i];
    lhs = call;
  }
}

static void end_of_statement(Parser *p, const char *what) {
  if (lexer_failed(p, p->tok))
    longjmp(*p->recover, 1);  /* parsed, but on a bad token: drop it quietly */
  if (p->tok->kind == TK_NEWLINE || p->tok->kind == TK_EOF || is_punct(p->tok, ";")) {
    if (p->tok->kind != TK_EOF)
      p->tok = p->tok->next;
    return;
  }
  if (is_punct(p->tok, "}"))
    return;
  fail(p, p->tok->loc, "unexpected %s after %s; expected the end of the line",
       describe(p->tok), what);
}

/* type = IDENT "[" dim ("," dim)* "]"     e.g. f32[1, 28, 28], class[10] */
static void type(Parser *p, Stmt *s) {
  Token *word = expect_ident(p, "a type such as f32[784] or class[10]");
  s->type_word = word->text;
  s->type_loc = word->loc;
  Token *open = p->tok;
  expect(p, "[", arena_printf("after '%s' (a type is written like f32[784] or class[10])",
                              word->text));
  if (is_punct(p->tok, "]"))
    fail(p, p->tok->loc, "a type needs at least one dimension, as in %s[10]", word->text);
  for (;;) {
    AstNode *d = primary(p);
    if (d->kind != ND_NUM)
      fail(p, d->loc, "a dimension must be a positive integer, got %s", describe(d->tok));
    if (s->rank == MAX_RANK)
      fail(p, d->loc, "too many dimensions: at most %d per sample", MAX_RANK);
    if (!d->is_int)
      fail(p, d->loc, "a dimension must be a positive integer, got %s", d->tok->text);
    if (d->num < 1)
      fail(p, d->loc, "a dimension must be a positive integer, got %s",
           fmt_double(d->num));
    if (d->num > (double)MAX_ELEMS)
      fail(p, d->loc, "dimension %s is too large (the limit is %lld)", d->tok->text,
           MAX_ELEMS);
    s->dims[s->rank] = (int64_t)d->num;
    s->dim_locs[s->rank] = d->loc;
    s->rank++;
    if (!is_punct(p->tok, ","))
      break;
    p->tok = p->tok->next;
  }
  if (!is_punct(p->tok, "]"))
    fail(p, p->tok->loc, "expected ',' or ']' to close the type opened here at %d:%d, got %s",
         open->loc.line, open->loc.col, describe(p->tok));
  p->tok = p->tok->next;
}

static void skip_line(Parser *p) {
  while (p->tok->kind != TK_NEWLINE && p->tok->kind != TK_EOF && !is_punct(p->tok, "}"))
    p->tok = p->tok->next;
  if (p->tok->kind == TK_NEWLINE)
    p->tok = p->tok->next;
}

/* blockline = IDENT ("(" args ")")? (arg (","? arg)*)?  up to the line's end */
static BlockLine *block_line(Parser *p) {
  Token *word = expect_ident(p, "a setting name");
  BlockLine *l = arena_alloc(sizeof(BlockLine));
  l->loc = word->loc;
  l->word = word->text;
  PtrVec v = {0};
  if (is_punct(p->tok, "=") && !lexer_failed(p, p->tok)) {
    /* `batch = 128`: say so, then read the line as if the '=' were not there. */
    const Token *value = p->tok->next;
    error_at(p->tok->loc, "a setting's value follows its name without '=': write `%s %s`",
             word->text,
             value->kind == TK_NUMBER || value->kind == TK_IDENT ? value->text : "...");
    p->tok = p->tok->next;
  }
  if (is_punct(p->tok, "(")) {
    open_bracket(p, p->tok);
    p->tok = p->tok->next;
    Arg *a;
    int n;
    args(p, word->next, ")", &a, &n);
    p->tok = p->tok->next;
    close_bracket(p);
    for (int i = 0; i < n; i++)
      vec_push(&v, &a[i]);
  }
  while (p->tok->kind != TK_NEWLINE && p->tok->kind != TK_EOF && !is_punct(p->tok, "}") &&
         !is_punct(p->tok, ";")) {
    Arg *a = arena_alloc(sizeof(Arg));
    if (p->tok->kind == TK_IDENT && is_punct(p->tok->next, "=")) {
      a->key = p->tok->text;
      a->key_loc = p->tok->loc;
      p->tok = p->tok->next->next;
    }
    a->value = expr(p);
    vec_push(&v, a);
    if (is_punct(p->tok, ","))
      p->tok = p->tok->next;
  }
  l->nargs = v.len;
  l->args = arena_alloc(sizeof(Arg) * (size_t)(v.len ? v.len : 1));
  for (int i = 0; i < v.len; i++)
    l->args[i] = *(Arg *)v.data[i];
  return l;
}

/* block = ("train" | "test") "{" (blockline? NEWLINE)* "}"
 * Returns false when the block is left open (reported): it then ends before
 * the end of the file or the next statement, which is parsed as usual. */
static bool block(Parser *p, Stmt *s) {
  Token *open = p->tok;
  if (open->kind == TK_NEWLINE && is_punct(open->next, "{")) {
    error_at(open->next->loc, "put '{' on the same line as '%s'", s->name);
    p->tok = open = open->next;
  }
  expect(p, "{", arena_printf("after '%s'", s->name));
  BlockLine head = {0}, *cur = &head;
  jmp_buf *outer = p->recover;
  jmp_buf here;
  for (;;) {
    while (p->tok->kind == TK_NEWLINE || is_punct(p->tok, ";"))
      p->tok = p->tok->next;
    if (is_punct(p->tok, "}")) {
      p->tok = p->tok->next;
      break;
    }
    /* No setting is named like a statement, and a statement starting at
     * column 1 with `name =` is not a setting either: the '}' is missing. */
    Token *t = p->tok;
    bool stmt_next = t->kind == TK_IDENT && t->loc.col == 1 && is_punct(t->next, "=");
    for (int i = 0; i < 7; i++)
      stmt_next |= is_word(t, stmt_words[i]);
    if (t->kind == TK_EOF || stmt_next) {
      error_at(open->loc, "unterminated '%s' block: expected '}' before %s", s->name,
               t->kind == TK_EOF ? "the end of the file"
                                 : arena_printf("'%s' on line %d", t->text, t->loc.line));
      s->lines = head.next;
      p->stmt_start = p->tok;
      return false;
    }
    p->recover = &here;
    p->stmt_start = p->tok;
    p->depth = 0;
    if (setjmp(here) == 0) {
      BlockLine *l = block_line(p);
      if (lexer_failed(p, p->tok))
        longjmp(here, 1);  /* the lexer's error explains this line */
      cur = cur->next = l;
    } else {
      skip_line(p);
    }
    p->recover = outer;
  }
  s->lines = head.next;
  p->stmt_start = p->tok;
  return true;
}

static Stmt *new_stmt(StmtKind kind, Token *tok) {
  Stmt *s = arena_alloc(sizeof(Stmt));
  s->kind = kind;
  s->loc = tok->loc;
  return s;
}

/* stmt = "model" IDENT | ("input" | "label") IDENT ":" type
 *      | IDENT "=" expr | "output" IDENT ("," IDENT)*
 *      | "loss" expr (","? "weight" "=" NUMBER)? | ("train" | "test") block
 *      | "classes" "[" STRING ("," STRING)* "]" */
static Stmt *stmt(Parser *p) {
  Token *t = p->tok;
  if (t->kind == TK_IDENT && is_punct(t->next, "=")) {
    Stmt *s = new_stmt(ST_BIND, t);
    s->name = t->text;
    s->name_loc = t->loc;
    p->tok = t->next->next;
    if (p->tok->kind == TK_NEWLINE || p->tok->kind == TK_EOF)
      fail(p, p->tok->loc, "expected an expression after '%s ='", t->text);
    s->expr = expr(p);
    end_of_statement(p, "the expression");
    return s;
  }
  if (is_word(t, "model")) {
    Stmt *s = new_stmt(ST_MODEL, t);
    p->tok = t->next;
    Token *name = expect_ident(p, "the model's name after 'model'");
    s->name = name->text;
    s->name_loc = name->loc;
    if (is_punct(p->tok, "-") && p->tok->next->kind == TK_IDENT &&
        p->tok->loc.off == name->loc.off + name->loc.len) {
      SrcLoc all = name->loc;
      all.len = p->tok->next->loc.off + p->tok->next->loc.len - all.off;
      fail(p, all, "a model's name is letters, digits and '_' (it names C functions): "
                         "write %s_%s", name->text, p->tok->next->text);
    }
    end_of_statement(p, "the model's name");
    return s;
  }
  if (is_word(t, "input") || is_word(t, "label")) {
    Stmt *s = new_stmt(is_word(t, "input") ? ST_INPUT : ST_LABEL, t);
    p->tok = t->next;
    Token *name = expect_ident(p, arena_printf("a name after '%s'", t->text));
    s->name = name->text;
    s->name_loc = name->loc;
    expect(p, ":", arena_printf("after the %s's name (as in `%s %s : f32[784]`)", t->text,
                                t->text, name->text));
    type(p, s);
    end_of_statement(p, "the type");
    return s;
  }
  if (is_word(t, "output")) {
    Stmt *s = new_stmt(ST_OUTPUT, t);
    p->tok = t->next;
    PtrVec v = {0};
    do {
      if (v.len)
        p->tok = p->tok->next;
      Token *name = expect_ident(p, "the name of a value after 'output'");
      vec_push(&v, new_node(ND_IDENT, name));
      ((AstNode *)v.data[v.len - 1])->name = name->text;
    } while (is_punct(p->tok, ","));
    s->outputs = (AstNode **)v.data;
    s->noutputs = v.len;
    end_of_statement(p, "the output's name");
    return s;
  }
  if (is_word(t, "loss")) {
    Stmt *s = new_stmt(ST_LOSS, t);
    p->tok = t->next;
    if (p->tok->kind == TK_NEWLINE || p->tok->kind == TK_EOF)
      fail(p, p->tok->loc, "expected a loss after 'loss', as in "
                           "`loss softmax_cross_entropy(logits, target)`");
    s->expr = expr(p);
    s->weight = 1.0;
    Token *w = is_punct(p->tok, ",") ? p->tok->next : p->tok;
    if (is_word(w, "weight")) {
      s->weight_loc = w->loc;
      p->tok = w->next;
      expect(p, "=", "after 'weight'");
      AstNode *v = primary(p);
      if (v->kind != ND_NUM)
        fail(p, v->loc, "a loss weight must be a number");
      s->weight = v->num;
      s->has_weight = true;
      s->weight_loc = v->loc;
    }
    end_of_statement(p, "the loss");
    return s;
  }
  if (is_word(t, "classes") && !is_punct(t->next, "=")) {
    Stmt *s = new_stmt(ST_CLASSES, t);
    p->tok = t->next;
    if (!is_punct(p->tok, "["))
      fail(p, p->tok->loc, "expected a list of class names after 'classes', as in "
                           "`classes [\"cat\", \"dog\"]`");
    s->expr = primary(p);
    end_of_statement(p, "the list of class names");
    return s;
  }
  if (is_word(t, "train") || is_word(t, "test")) {
    Stmt *s = new_stmt(ST_BLOCK, t);
    s->name = t->text;
    p->tok = t->next;
    if (block(p, s))
      end_of_statement(p, "the block");
    return s;
  }
  if (t->kind == TK_IDENT) {
    static const char *const settings[] = {"optimizer", "schedule", "batch", "epochs",
                                           "validation", "early_stopping", "augment", "seed"};
    for (int i = 0; i < 8; i++)
      if (is_word(t, settings[i]))
        fail(p, t->loc, "'%s' is a training setting: it goes inside a `train { ... }` block",
             t->text);
    if (is_word(t, "tta"))
      fail(p, t->loc, "'tta' is a test setting: it goes inside a `test { ... }` block");
    const char *near = closest_word(t->text, stmt_words, NSTMT_WORDS);
    if (near)
      fail(p, t->loc, "unknown statement '%s'; did you mean '%s'?", t->text, near);
    if (is_punct(t->next, "|>") || is_punct(t->next, "("))
      fail(p, t->loc, "an expression must be bound to a name: `y = %s ...`", t->text);
    fail(p, t->loc, "unknown statement '%s'; expected `name = expr`, model, input, "
                    "label, output, loss, classes, train or test", t->text);
  }
  if (is_punct(t, "}"))
    fail(p, t->loc, "unexpected '}' outside a train or test block");
  fail(p, t->loc, "expected a statement, got %s", describe(t));
}

Program *parse(const SrcFile *file, Token *tok) {
  Parser p = {.file = file, .tok = tok};
  Program *prog = arena_alloc(sizeof(Program));
  prog->file = file;
  Stmt head = {0}, *cur = &head;
  jmp_buf recover;
  p.recover = &recover;
  while (p.tok->kind != TK_EOF) {
    if (p.tok->kind == TK_NEWLINE || is_punct(p.tok, ";")) {
      p.tok = p.tok->next;
      continue;
    }
    Token *start = p.tok;
    p.stmt_start = start;
    p.depth = 0;
    if (setjmp(recover) == 0) {
      cur = cur->next = stmt(&p);
    } else {
      /* Keep the name the broken statement meant to define, as a poisoned
       * binding (no expression or type), so its uses stay quiet. */
      Token *name = NULL;
      if (start->kind == TK_IDENT && is_punct(start->next, "="))
        name = start;
      else if ((is_word(start, "input") || is_word(start, "label")) &&
               start->next->kind == TK_IDENT)
        name = start->next;
      else if (start->kind == TK_IDENT && start->next->kind == TK_IDENT &&
               is_punct(start->next->next, ":"))
        name = start->next;  /* a misspelt declaration: `inptu x : f32[4]` */
      if (is_word(start, "model") ||  /* a model line, though broken: no "missing model" */
          (start->kind == TK_IDENT && closest_word(start->text, stmt_words, NSTMT_WORDS) == stmt_words[0]))
        cur = cur->next = new_stmt(ST_MODEL, start);
      if (name) {
        Stmt *s = new_stmt(name == start ? ST_BIND : is_word(start, "input") ? ST_INPUT
                                                                              : ST_LABEL,
                           start);
        s->name = name->text;
        s->name_loc = name->loc;
        cur = cur->next = s;
      }
      /* Skip the rest of the line (a stray '}' included).  A '{' on it
       * opens a block, say of a misspelt `trian {`: skip to its '}' so
       * that its settings are not read as statements. */
      bool brace = false;
      while (p.tok->kind != TK_EOF && (brace || p.tok->kind != TK_NEWLINE)) {
        brace |= is_punct(p.tok, "{");
        bool close = brace && is_punct(p.tok, "}");
        p.tok = p.tok->next;
        if (close)
          break;
      }
      if (p.tok->kind == TK_NEWLINE)
        p.tok = p.tok->next;
    }
  }
  prog->stmts = head.next;
  return prog;
}

/* ------------------------------------------------------------ printing */

static void print_args(StrBuf *sb, const Arg *a, int n) {
  for (int i = 0; i < n; i++) {
    if (i)
      sb_printf(sb, ", ");
    if (a[i].key)
      sb_printf(sb, "%s=", a[i].key);
    print_ast_expr(sb, a[i].value);
  }
}

/* A chain of calls, each the first argument of the next (a desugared pipe),
 * is printed by a loop: the callees outermost first, the innermost value,
 * then each call's other arguments on the way back out. */
void print_ast_expr(StrBuf *sb, const AstNode *n) {
  PtrVec chain = {0};   /* the calls, outermost first                       */
  while (n->kind == ND_CALL && n->nargs > 0 && !n->args[0].key) {
    sb_printf(sb, "%s(", n->name);
    vec_push(&chain, (void *)n);
    n = n->args[0].value;
  }
  switch (n->kind) {
  case ND_NUM: sb_printf(sb, "%s", fmt_double(n->num)); break;
  case ND_IDENT: sb_printf(sb, "%s", n->name); break;
  case ND_STRING: sb_printf(sb, "\"%s\"", n->name); break;
  case ND_LIST:
    sb_printf(sb, "[");
    print_args(sb, n->args, n->nargs);
    sb_printf(sb, "]");
    break;
  case ND_CALL:
    sb_printf(sb, "%s(", n->name);
    print_args(sb, n->args, n->nargs);
    sb_printf(sb, ")");
    break;
  }
  for (int i = chain.len - 1; i >= 0; i--) {
    const AstNode *c = chain.data[i];
    if (c->nargs > 1)
      sb_printf(sb, ", ");
    print_args(sb, c->args + 1, c->nargs - 1);
    sb_printf(sb, ")");
  }
}

/* The AST printed back as canonical .nn (pipes desugared, one statement per
 * line, each with its line:col), which reads back to the same AST. */
void print_ast(FILE *out, const Program *prog) {
  for (const Stmt *s = prog->stmts; s; s = s->next) {
    StrBuf sb = {0};
    switch (s->kind) {
    case ST_MODEL: sb_printf(&sb, "model %s", s->name); break;
    case ST_INPUT:
    case ST_LABEL:
      sb_printf(&sb, "%s %s : %s[", s->kind == ST_INPUT ? "input" : "label", s->name,
                s->type_word);
      for (int i = 0; i < s->rank; i++)
        sb_printf(&sb, "%s%lld", i ? ", " : "", (long long)s->dims[i]);
      sb_printf(&sb, "]");
      break;
    case ST_BIND:
      sb_printf(&sb, "%s = ", s->name);
      print_ast_expr(&sb, s->expr);
      break;
    case ST_OUTPUT:
      sb_printf(&sb, "output ");
      for (int i = 0; i < s->noutputs; i++)
        sb_printf(&sb, "%s%s", i ? ", " : "", s->outputs[i]->name);
      break;
    case ST_LOSS:
      sb_printf(&sb, "loss ");
      print_ast_expr(&sb, s->expr);
      if (s->has_weight)
        sb_printf(&sb, ", weight=%s", fmt_double(s->weight));
      break;
    case ST_CLASSES:
      sb_printf(&sb, "classes ");
      print_ast_expr(&sb, s->expr);
      break;
    case ST_BLOCK:
      fprintf(out, "%-60s # %d:%d\n", arena_printf("%s {", s->name), s->loc.line, s->loc.col);
      for (const BlockLine *l = s->lines; l; l = l->next) {
        StrBuf line = {0};
        sb_printf(&line, "  %s", l->word);
        for (int i = 0; i < l->nargs; i++) {
          sb_printf(&line, i ? ", " : " ");
          if (l->args[i].key)
            sb_printf(&line, "%s=", l->args[i].key);
          print_ast_expr(&line, l->args[i].value);
        }
        fprintf(out, "%-60s # %d:%d\n", line.data, l->loc.line, l->loc.col);
      }
      fprintf(out, "}\n");
      continue;
    }
    fprintf(out, "%-60s # %d:%d\n", sb.data, s->loc.line, s->loc.col);
  }
}
