/* tokenize.c - .nn text -> a linked list of tokens.
 *
 * A .nn file is UTF-8 text.  Outside comments and strings only ASCII is
 * meaningful.  Newlines end statements, except inside ( ) or [ ], so long
 * calls and lists may be broken over lines; a line that starts with |>
 * continues the previous one (the parser skips the newline before it).
 */
#include "nncc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Lexer {
  const SrcFile *file;
  const char *p;        /* current position                                 */
  int line;
  const char *line_start;
  int depth;            /* ( and [ nesting: newlines inside are ignored     */
  int bad_line;         /* a bad character began this line: mark the next
                           token on it bad (see Token.bad)                  */
  int err_line;         /* the last line with an unexpected character: the
                           first one on a line is reported, not the others  */
  Token head, *cur;
} Lexer;

static SrcLoc loc_here(Lexer *lx, const char *start, int len) {
  SrcLoc loc;
  loc.file = lx->file;
  loc.off = (int)(start - lx->file->text);
  loc.line = lx->line;
  loc.col = (int)(start - lx->line_start) + 1;
  loc.len = len > 0 ? len : 1;
  return loc;
}

static Token *push(Lexer *lx, TokenKind kind, const char *start, int len) {
  Token *t = arena_alloc(sizeof(Token));
  t->kind = kind;
  t->loc = loc_here(lx, start, len);
  t->text = arena_strndup(start, (size_t)len);
  if (lx->bad_line == lx->line && kind != TK_NEWLINE && kind != TK_EOF) {
    t->bad = true;
    lx->bad_line = 0;
  }
  lx->cur = lx->cur->next = t;
  return t;
}

/* Length of the UTF-8 sequence at p, or 0 if it is not valid UTF-8. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  int n;
  unsigned min;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (end - p < n)
    return 0;
  unsigned cp = c & (0x7f >> n);
  for (int i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

/* The file must be text: no NUL bytes, valid UTF-8.  Report the first
 * offending byte only, since a binary file would otherwise flood. */
static bool check_text(Lexer *lx) {
  const unsigned char *p = (const unsigned char *)lx->file->text;
  const unsigned char *end = p + lx->file->len;
  const char *line_start = lx->file->text;
  int line = 1;
  while (p < end) {
    if (*p == '\n') {
      line++;
      line_start = (const char *)p + 1;
      p++;
      continue;
    }
    int n = *p == 0 ? 0 : utf8_len(p, end);
    if (n == 0 || (*p < 0x20 && *p != '\t' && *p != '\r' && *p != '\f' && *p != '\v')) {
      Lexer at = *lx;
      at.line = line;
      at.line_start = line_start;
      SrcLoc loc = loc_here(&at, (const char *)p, 1);
      if (*p == 0)
        error_at(loc, "this file is not text: it contains a NUL byte");
      else if (n == 0)
        error_at(loc, "this file is not text: byte 0x%02x is not valid UTF-8", *p);
      else
        error_at(loc, "this file is not text: control character 0x%02x", *p);
      return false;
    }
    p += n;
  }
  return true;
}

static bool is_ident_start(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }

/* number = digits ("." digits?)? exponent? | "." digits exponent?
 * exponent = ("e" | "E") ("+" | "-")? digits */
static void read_number(Lexer *lx) {
  const char *start = lx->p, *q = lx->p;
  bool is_int = true, ok = true;
  while (is_digit(*q))
    q++;
  if (*q == '.') {
    is_int = false;
    q++;
    while (is_digit(*q))
      q++;
  }
  if (*q == 'e' || *q == 'E') {
    is_int = false;
    q++;
    if (*q == '+' || *q == '-')
      q++;
    if (!is_digit(*q))
      ok = false;
    while (is_digit(*q))
      q++;
  }
  /* "1.2.3", "3x", "1e": swallow the rest of the word and reject it. */
  if (*q == '.' || is_ident_char(*q)) {
    ok = false;
    while (*q == '.' || is_ident_char(*q) ||
           ((*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E')))
      q++;
  }
  Token *t = push(lx, TK_NUMBER, start, (int)(q - start));
  lx->p = q;
  if (!ok) {
    error_at(t->loc, "invalid number '%s'", t->text);
    t->bad = true;
    t->num = 0;
    t->is_int = true;
    return;
  }
  t->is_int = is_int;
  errno = 0;
  if (is_int) {
    unsigned long long v = strtoull(t->text, NULL, 10);
    if (errno == ERANGE || v > (unsigned long long)INT64_MAX) {
      t->int_overflow = true;
      t->num = HUGE_VAL;
    } else {
      t->num = (double)v;
    }
  } else {
    t->num = strtod(t->text, NULL);
    if (errno == ERANGE && isinf(t->num)) {
      error_at(t->loc, "number '%s' is too large", t->text);
      t->bad = true;
    }
  }
}

static void read_string(Lexer *lx) {
  const char *start = lx->p, *q = lx->p + 1;
  while (*q && *q != '"' && *q != '\n')
    q++;
  if (*q != '"') {
    Token *t = push(lx, TK_STRING, start, (int)(q - start));
    error_at(t->loc, "unterminated string: expected '\"' before the end of the line");
    t->bad = true;
    t->text = "";
    lx->p = q;
    return;
  }
  Token *t = push(lx, TK_STRING, start, (int)(q + 1 - start));
  t->text = arena_strndup(start + 1, (size_t)(q - start - 1));
  lx->p = q + 1;
}

/* Does the line at p look like a new statement: unindented, a name, then
 * '=' or another name or '{'?  A call or list left open by mistake then ends
 * at the next statement instead of swallowing the rest of the file. */
static bool starts_statement(const char *p) {
  if (!is_ident_start(*p))
    return false;
  while (is_ident_char(*p))
    p++;
  bool space = *p == ' ' || *p == '\t';
  while (*p == ' ' || *p == '\t')
    p++;
  if (!((*p == '=' && p[1] != '=') || *p == '{' || (space && is_ident_start(*p))))
    return false;
  /* `kernel=3)` closes a bracket the line did not open: a continuation. */
  int depth = 0;
  for (; *p && *p != '\n' && *p != '#'; p++) {
    if (*p == '(' || *p == '[')
      depth++;
    else if ((*p == ')' || *p == ']') && --depth < 0)
      return false;
  }
  return true;
}

Token *tokenize(const SrcFile *file) {
  Lexer lx = {0};
  lx.file = file;
  lx.p = file->text;
  lx.line = 1;
  lx.line_start = file->text;
  lx.cur = &lx.head;
  if (!check_text(&lx))
    return NULL;

  const char *end = file->text + file->len;
  while (lx.p < end) {
    char c = *lx.p;
    if (c == '\n') {
      bool reset = lx.depth > 0 && starts_statement(lx.p + 1);
      if (reset)
        lx.depth = 0;
      if (lx.depth == 0 && lx.cur->kind != TK_NEWLINE && lx.cur != &lx.head) {
        Token *last = lx.cur, *t = push(&lx, TK_NEWLINE, lx.p, 1);
        if (reset) {  /* the statement left open ends right after its last token,
                         not on a comment or blank line skipped since */
          t->loc = last->loc;
          t->loc.off += last->loc.len;
          t->loc.col += last->loc.len;
          t->loc.len = 1;
        }
      }
      lx.p++;
      lx.line++;
      lx.line_start = lx.p;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      lx.p++;
      continue;
    }
    if (c == '#') {
      while (lx.p < end && *lx.p != '\n')
        lx.p++;
      continue;
    }
    if (is_digit(c) || (c == '.' && is_digit(lx.p[1]))) {
      read_number(&lx);
      continue;
    }
    if (is_ident_start(c)) {
      const char *q = lx.p;
      while (is_ident_char(*q))
        q++;
      Token *t = push(&lx, TK_IDENT, lx.p, (int)(q - lx.p));
      if (q - lx.p > 255) {
        error_at(t->loc, "name is too long (%d characters; the limit is 255)",
                 (int)(q - lx.p));
        t->bad = true;
      }
      lx.p = q;
      continue;
    }
    if (c == '"') {
      read_string(&lx);
      continue;
    }
    if (c == '|' && lx.p[1] == '>') {
      push(&lx, TK_PUNCT, lx.p, 2);
      lx.p += 2;
      continue;
    }
    if (strchr("=:,()[]{}-;", c)) {
      if (c == '(' || c == '[')
        lx.depth++;
      if ((c == ')' || c == ']') && lx.depth > 0)
        lx.depth--;
      /* A brace ends any bracket nesting: `train {` lines stay lines even
       * after an unbalanced '(' on an earlier line. */
      if (c == '{' || c == '}')
        lx.depth = 0;
      push(&lx, TK_PUNCT, lx.p, 1);
      lx.p++;
      continue;
    }
    int n = utf8_len((const unsigned char *)lx.p, (const unsigned char *)end);
    SrcLoc loc = loc_here(&lx, lx.p, n);
    const unsigned char *u = (const unsigned char *)lx.p;
    if (lx.err_line == lx.line)
      ;  /* reported on this line already */
    else if (c == '|')
      error_at(loc, "unexpected '|'; the pipe operator is '|>'");
    else if (c == '+')
      error_at(loc, "unexpected '+'; tensors are added with add(a, b)");
    else if (c == '*')
      error_at(loc, "unexpected '*'; .nn has no arithmetic (a loss is scaled with "
                    "`loss ..., weight=0.5`)");
    else if (c == '/' && lx.p[1] == '/')
      error_at(loc, "comments start with '#', not '//'");
    else if (c == '%' && lx.cur != &lx.head && lx.cur->kind == TK_NUMBER &&
             lx.cur->loc.off + lx.cur->loc.len == loc.off)  /* Keras users' 10% */
      error_at((SrcLoc){loc.file, lx.cur->loc.off, lx.cur->loc.line, lx.cur->loc.col,
                        lx.cur->loc.len + 1},
               "a fraction is written as a number: '%s%%' is %g", lx.cur->text,
               lx.cur->num / 100);
    else if (n == 3 && u[0] == 0xe2 && u[1] == 0x80 && u[2] >= 0x98 && u[2] <= 0x9f)
      error_at(loc, "unexpected character '%.*s'; strings take straight double quotes, as in "
                    "name=\"fc1\"", n, lx.p);
    else if (n > 1)
      error_at(loc, "unexpected character '%.*s'; names and operators are ASCII", n, lx.p);
    else
      error_at(loc, "unexpected character '%c'", c);
    lx.err_line = lx.line;
    /* Its statement is dropped quietly: mark the token before it on this
     * line, or else the next one. */
    if (lx.cur != &lx.head && lx.cur->kind != TK_NEWLINE && lx.cur->loc.line == lx.line)
      lx.cur->bad = true;
    else
      lx.bad_line = lx.line;
    lx.p += n;
    if (c == '/' && *lx.p == '/')  /* read the rest as the comment it is */
      while (lx.p < end && *lx.p != '\n')
        lx.p++;
  }
  /* "got end of file" points at the end of the last line, not at the empty
   * line after its newline. */
  if (lx.p > file->text && lx.p[-1] == '\n') {
    lx.p--;
    lx.line--;
    lx.line_start = lx.p;
    while (lx.line_start > file->text && lx.line_start[-1] != '\n')
      lx.line_start--;
  }
  if (lx.cur->kind != TK_NEWLINE && lx.cur != &lx.head)
    push(&lx, TK_NEWLINE, lx.p, 0);
  push(&lx, TK_EOF, lx.p, 0);
  return lx.head.next;
}
