/* util.c - the arena, growable arrays and strings, number formatting, and
 * the edit distance behind "did you mean" suggestions. */
#include "nncc.h"

#include "../runtime/cli.h"

#include <stdlib.h>
#include <string.h>

/* The arena is a list of chunks.  A compile allocates freely and never frees;
 * arena_reset() returns everything at once (the fuzzer calls it per input). */
typedef struct Chunk {
  struct Chunk *next;
  size_t used, size;
  _Alignas(16) unsigned char data[];
} Chunk;

static Chunk *chunks;

void *arena_alloc(size_t size) {
  size = (size + 15) & ~(size_t)15;
  if (!chunks || chunks->used + size > chunks->size) {
    size_t cap = size > (1u << 16) ? size : (1u << 16);
    Chunk *c = malloc(sizeof(Chunk) + cap);
    if (!c) {
      fprintf(stderr, "nncc: out of memory\n");
      exit(2);
    }
    c->next = chunks;
    c->used = 0;
    c->size = cap;
    chunks = c;
  }
  void *p = chunks->data + chunks->used;
  chunks->used += size;
  memset(p, 0, size);
  return p;
}

void arena_reset(void) {
  while (chunks) {
    Chunk *next = chunks->next;
    free(chunks);
    chunks = next;
  }
}

char *arena_strndup(const char *s, size_t n) {
  char *p = arena_alloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *arena_strdup(const char *s) { return arena_strndup(s, strlen(s)); }

char *arena_printf(const char *fmt, ...) {
  StrBuf sb = {0};
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&sb, fmt, ap);
  va_end(ap);
  return sb.data ? sb.data : arena_strdup("");
}

const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash && slash[1] ? slash + 1 : path;
}

const char *recorded_command(const char *head, int argc, char *const *argv) {
  StrBuf sb = {0};
  sb_printf(&sb, "%s", head);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *eq = a[0] == '-' ? strchr(a, '=') : NULL;
    if (eq)
      sb_printf(&sb, " %.*s%s", (int)(eq + 1 - a), a, base_name(eq + 1));
    else
      sb_printf(&sb, " %s", base_name(a));
  }
  return sb.data;
}

const char *fmt_count(int64_t v) {
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
  StrBuf sb = {0};
  sb_printf(&sb, "%s", v < 0 ? "-" : "");
  for (int i = 0; i < n; i++)
    sb_printf(&sb, "%s%c", i && (n - i) % 3 == 0 ? "," : "", digits[i]);
  return sb.data;
}

const char *fmt_bytes(int64_t bytes) {
  double b = (double)bytes;
  if (bytes < 1024)
    return arena_printf("%lld B", (long long)bytes);
  if (bytes < (1 << 20))
    return arena_printf("%.1f KiB", b / 1024);
  if (bytes < (1 << 30))
    return arena_printf("%.2f MiB", b / (1 << 20));
  return arena_printf("%.2f GiB", b / (1 << 30));
}

void vec_push(PtrVec *v, void *item) {
  if (v->len == v->cap) {
    int cap = v->cap ? v->cap * 2 : 8;
    void **data = arena_alloc(sizeof(void *) * (size_t)cap);
    if (v->len)
      memcpy(data, v->data, sizeof(void *) * (size_t)v->len);
    v->data = data;
    v->cap = cap;
  }
  v->data[v->len++] = item;
}

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;  /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* The slot of key, or the empty slot where it would go. */
static int strmap_find(const StrMap *m, const char *key) {
  int i = (int)(hash_str(key) & (uint32_t)(m->cap - 1));
  while (m->keys[i] && strcmp(m->keys[i], key))
    i = (i + 1) & (m->cap - 1);
  return i;
}

void *strmap_get(const StrMap *m, const char *key) {
  if (!m->cap)
    return NULL;
  return m->vals[strmap_find(m, key)];
}

void **strmap_slot(StrMap *m, const char *key) {
  if (2 * (m->len + 1) > m->cap) {  /* at most half full */
    StrMap bigger = {0};
    bigger.cap = m->cap ? 2 * m->cap : 16;
    bigger.keys = arena_alloc(sizeof(char *) * (size_t)bigger.cap);
    bigger.vals = arena_alloc(sizeof(void *) * (size_t)bigger.cap);
    for (int i = 0; i < m->cap; i++)
      if (m->keys[i]) {
        int j = strmap_find(&bigger, m->keys[i]);
        bigger.keys[j] = m->keys[i];
        bigger.vals[j] = m->vals[i];
      }
    bigger.len = m->len;
    *m = bigger;
  }
  int i = strmap_find(m, key);
  if (!m->keys[i]) {
    m->keys[i] = key;
    m->len++;
  }
  return &m->vals[i];
}

void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    internal_error("bad format string '%s'", fmt);
  if (sb->len + (size_t)n + 1 > sb->cap) {
    size_t cap = sb->cap ? sb->cap * 2 : 64;
    while (cap < sb->len + (size_t)n + 1)
      cap *= 2;
    char *data = arena_alloc(cap);
    if (sb->len)
      memcpy(data, sb->data, sb->len);
    sb->data = data;
    sb->cap = cap;
  }
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  sb->len += (size_t)n;
}

void sb_printf(StrBuf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(sb, fmt, ap);
  va_end(ap);
}

void sb_wrapped(StrBuf *sb, const char *head, const char *const *items, int n, const char *sep,
                const char *tail, int cont) {
  size_t col = 0;
  while (col < sb->len && sb->data[sb->len - 1 - col] != '\n')
    col++;
  sb_printf(sb, "%s", head);
  col += strlen(head);
  size_t widest = 0;  /* (where aligned lines would not fit, a deep indent is not kept) */
  for (int i = 0; i < n; i++)
    widest = strlen(items[i]) + 1 > widest ? strlen(items[i]) + 1 : widest;
  if (cont + widest + strlen(tail) > C_LINE_MAX)
    cont = 4;
  for (int i = 0; i < n; i++) {
    const char *end = i + 1 < n ? sep : tail;
    size_t len = strlen(items[i]) + strlen(end);
    if (i && col + 1 + len > C_LINE_MAX) {
      sb_printf(sb, "\n%*s", cont, "");
      col = (size_t)cont;
    } else if (i) {
      sb_printf(sb, " ");
      col++;
    }
    sb_printf(sb, "%s%s", items[i], end);
    col += len;
  }
  if (!n)
    sb_printf(sb, "%s", tail);
}

void sb_comment(StrBuf *sb, const char *lead, const char *text, const char *cont) {
  size_t col = strlen(lead);
  sb_printf(sb, "%s", lead);
  while (*text) {
    size_t gap = strspn(text, " "), word = strcspn(text + gap, " ");
    if (gap && col > strlen(cont) && col + gap + word > C_LINE_MAX) {
      sb_printf(sb, "\n%s", cont);  /* (the spaces at the break go) */
      col = strlen(cont);
      gap = 0;
      text += strspn(text, " ");
    }
    sb_printf(sb, "%.*s", (int)(gap + word), text);
    col += gap + word;
    text += gap + word;
  }
  sb_printf(sb, "\n");
}

/* The shortest text that reads back as v: as a double, or (as_float) as
 * the float v holds (integers without a point, as C literals want them). */
static const char *shortest_text(double v, bool as_float) {
  char buf[64];
  if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return arena_strdup(buf);
  }
  /* The fewest digits that read back: more digits never read back worse,
   * so a binary search (the embedded weights print half a million). */
  int lo = 1, hi = as_float ? 9 : 17;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    snprintf(buf, sizeof buf, "%.*g", mid, v);
    if (as_float ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
      hi = mid;
    else
      lo = mid + 1;
  }
  snprintf(buf, sizeof buf, "%.*g", lo, v);
  return arena_strdup(buf);
}

const char *fmt_double(double v) { return shortest_text(v, false); }

const char *fmt_float(float v) { return shortest_text((double)v, true); }

/* The trainer's command line (runtime/cli.c, compiled into nncc too) and
 * the compiler suggest names by one rule. */
const char *closest_word(const char *word, const char *const *cands, int n) {
  return nnrt_closest_word(word, cands, n);
}

const char *flag_value(int argc, char **argv, int *i, const char *flag) {
  size_t n = strlen(flag);
  if (!strncmp(argv[*i], flag, n) && argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (!strcmp(argv[*i], flag)) {
    if (*i + 1 >= argc) {
      error_plain("%s needs a value", flag);
      return NULL;
    }
    return argv[++*i];
  }
  return NULL;
}
