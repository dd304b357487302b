/* diag.c - diagnostics in clang's format:
 *
 *   model.nn:7:12: error: linear expects a rank-1 input, got f32[32, 14, 14]
 *       7 | x = x |> linear(128)
 *         |          ^~~~~~
 *
 * User errors are counted (the caller exits with 1 when any were reported),
 * and printed in file order by diag_flush(), at most MAX_ERRORS of them.  internal_error() is for bugs
 * in nncc itself and exits with 2.
 */
#include "nncc.h"

/* What messages without a place start with: "nncc", or "nncc train". */
static const char *program = "nncc";

#include <stdlib.h>
#include <string.h>

static FILE *diag_out;
static int nerrors;

/* Diagnostics are collected and printed sorted by position (diag_flush), so
 * the errors of different passes read top to bottom like the file.  A note
 * stays with the error or warning before it.  The source line and caret
 * are drawn for the diagnostics shown, from one copy of each line that has
 * any (the caller may free the text before the flush): so 20,000 errors on
 * one long line cost the line once, not 20,000 times. */
typedef struct DiagLine {
  const char *kind;     /* error | warning | note                            */
  const char *msg;
  const char *file;     /* NULL: a message without a place                  */
  int line, col;
  const char *src;      /* the source line (a shared copy), its length      */
  int src_len;
  int caret, caret_len; /* bytes into src, bytes to underline               */
} DiagLine;

typedef struct DiagGroup {
  int off;              /* position of the error or warning in the file     */
  int seq;              /* order of arrival, to keep the sort stable        */
  bool is_error;
  PtrVec lines;         /* DiagLine*: the error or warning, then its notes  */
} DiagGroup;

static PtrVec groups;   /* DiagGroup* (in the arena: flush before arena_reset)  */
static int first_offs[MAX_ERRORS];  /* the lowest places of errors, sorted  */
static int nfirst;
static StrMap line_copies;  /* "file:offset" of a line -> its copy           */

void diag_set_program(const char *name) { program = name; }

void diag_init(FILE *out) {
  diag_out = out;
  nerrors = 0;
  groups = (PtrVec){0};
  line_copies = (StrMap){0};
  nfirst = 0;
}

int diag_error_count(void) { return nerrors; }

bool diag_shown(SrcLoc loc) {
  return nfirst < MAX_ERRORS || !loc.file || loc.off < first_offs[MAX_ERRORS - 1];
}

/* Counts an error and keeps the MAX_ERRORS lowest places of those not yet
 * printed, in order (an error without a place sorts first). */
static void count_error(SrcLoc loc) {
  nerrors++;
  int off = loc.file ? loc.off : -1;
  if (nfirst == MAX_ERRORS && off >= first_offs[MAX_ERRORS - 1])
    return;  /* not among the lowest */
  int i = nfirst < MAX_ERRORS ? nfirst++ : MAX_ERRORS - 1;
  for (; i > 0 && first_offs[i - 1] > off; i--)
    first_offs[i] = first_offs[i - 1];
  first_offs[i] = off;
}

static int compare_groups(const void *a, const void *b) {
  const DiagGroup *x = *(DiagGroup *const *)a, *y = *(DiagGroup *const *)b;
  if (x->off != y->off)
    return x->off < y->off ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void print_source_line(StrBuf *sb, const DiagLine *l);

void diag_flush(void) {
  FILE *out = diag_out ? diag_out : stderr;
  if (groups.len)
    qsort(groups.data, (size_t)groups.len, sizeof(void *), compare_groups);
  int shown = 0;
  for (int i = 0; i < groups.len; i++) {
    DiagGroup *g = groups.data[i];
    if (g->is_error && ++shown > MAX_ERRORS) {
      fprintf(out, "%s: fatal: too many errors emitted (%d), stopping now\n", program, MAX_ERRORS);
      break;
    }
    for (int k = 0; k < g->lines.len; k++) {
      const DiagLine *l = g->lines.data[k];
      StrBuf text = {0};
      if (l->file)
        sb_printf(&text, "%s:%d:%d: %s: ", l->file, l->line, l->col, l->kind);
      else
        sb_printf(&text, "%s: %s: ", program, l->kind);
      sb_printf(&text, "%s\n", l->msg);
      if (l->file)
        print_source_line(&text, l);
      fputs(text.data, out);
    }
  }
  fflush(out);
  groups = (PtrVec){0};
  line_copies = (StrMap){0};
  nfirst = 0;
}

/* The offset of the first byte of loc's line. */
static int line_start(SrcLoc loc) {
  const char *text = loc.file->text;
  int start = loc.off;
  if (start > (int)loc.file->len)
    start = (int)loc.file->len;
  int back = loc.col - 1;  /* col counts bytes: no need to walk back */
  if (back >= 0 && back <= start && (back == start || text[start - back - 1] == '\n'))
    return start - back;
  while (start > 0 && text[start - 1] != '\n')
    start--;
  return start;
}

const char *src_line_text(SrcLoc loc, int *len) {
  const char *text = loc.file->text;
  int start = line_start(loc);
  int end = start;
  while (end < (int)loc.file->len && text[end] != '\n' && text[end] != '\r')
    end++;
  *len = end - start;
  return text + start;
}

/* Bytes in the character at p (one screen column), or 0 for a byte that is
 * not text (a control character or broken UTF-8), shown as '?'. */
static int char_bytes(const unsigned char *p, const unsigned char *end) {
  int n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
        : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
  if ((p[0] < 0x20 && p[0] != '\t') || p[0] == 0x7f || n == 0 || end - p < n)
    return 0;
  for (int i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

static void print_source_line(StrBuf *sb, const DiagLine *l) {
  const unsigned char *s = (const unsigned char *)l->src, *end = s + l->src_len;
  sb_printf(sb, "%5d | ", l->line);
  for (const unsigned char *q = s; q < end;) {
    int n = char_bytes(q, end);
    sb_printf(sb, "%.*s", n ? n : 1, n ? (const char *)q : "?");
    q += n ? n : 1;
  }
  sb_printf(sb, "\n      | ");
  /* One column per character; keep tabs so the caret lines up under the
   * token. */
  int col0 = l->caret;
  const unsigned char *q = s;
  while (q < s + col0 && q < end) {
    sb_printf(sb, "%c", *q == '\t' ? '\t' : ' ');
    int n = char_bytes(q, end);
    q += n ? n : 1;
  }
  sb_printf(sb, "^");
  const unsigned char *stop = s + col0 + l->caret_len < end ? s + col0 + l->caret_len : end;
  if (q < stop) {
    int n = char_bytes(q, end);
    q += n ? n : 1;
  }
  for (; q < stop; q++)
    if ((*q & 0xc0) != 0x80)
      sb_printf(sb, "~");
  sb_printf(sb, "\n");
}

static void vreport(const char *kind, SrcLoc loc, const char *fmt, va_list ap) {
  DiagGroup *g;
  if (strcmp(kind, "note") || !groups.len) {
    g = arena_alloc(sizeof(DiagGroup));
    g->off = loc.file ? loc.off : -1;
    g->seq = groups.len;
    g->is_error = !strcmp(kind, "error");
    vec_push(&groups, g);
  } else {
    g = groups.data[groups.len - 1];
  }
  DiagLine *l = arena_alloc(sizeof(DiagLine));
  StrBuf msg = {0};
  sb_vprintf(&msg, fmt, ap);
  l->kind = kind;
  l->msg = msg.data ? msg.data : "";
  if (loc.file) {
    l->file = loc.file->name;
    l->line = loc.line;
    l->col = loc.col;
    int start = line_start(loc);
    char *key = arena_printf("%p:%d", (const void *)loc.file, start);
    StrBuf **copy = (StrBuf **)strmap_slot(&line_copies, key);
    if (!*copy) {
      int len;
      const char *line = src_line_text(loc, &len);
      *copy = arena_alloc(sizeof(StrBuf));
      (*copy)->data = arena_strndup(line, (size_t)len);
      (*copy)->len = (size_t)len;
    }
    l->src = (*copy)->data;
    l->src_len = (int)(*copy)->len;
    l->caret = loc.off - start;
    l->caret_len = loc.len;
  }
  vec_push(&g->lines, l);
}

void error_at(SrcLoc loc, const char *fmt, ...) {
  count_error(loc);
  va_list ap;
  va_start(ap, fmt);
  vreport("error", loc, fmt, ap);
  va_end(ap);
}

void warn_at(SrcLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("warning", loc, fmt, ap);
  va_end(ap);
}

void note_at(SrcLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("note", loc, fmt, ap);
  va_end(ap);
}

void error_plain(const char *fmt, ...) {
  SrcLoc none = {0};
  count_error(none);
  va_list ap;
  va_start(ap, fmt);
  vreport("error", none, fmt, ap);
  va_end(ap);
}

void internal_error_at(const char *file, int line, const char *fmt, ...) {
  diag_flush();
  fflush(stdout);
  fprintf(stderr, "nncc: internal error at %s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nThis is a bug in nncc; --print-after=all shows the IR up to it.\n");
  exit(2);
}
