/* emit_embed.c - --embed-weights: a trained checkpoint inside the C.
 *
 * nncc reads the checkpoint as it compiles, with the runtime's own loader
 * (runtime/ckpt.c, linked into nncc: the checks of NAME_load, magic,
 * format version, the model's fingerprint, element size, section sizes,
 * CRC), refuses a value that is not finite, and folds each batchnorm the
 * fold-batchnorm pass grouped with the linear or conv2d before it into that
 * layer: with s = gamma / sqrt(running_var + eps) per output channel, the
 * layer's weight rows are multiplied by s and the batchnorm's bias becomes
 * the whole shift beta + (b - running_mean) s, in double, rounded once.
 * The kernels then add that shift alone after the GEMM (ops/dense.c).
 *
 * What this file writes: the header (sizes, NAME_ARENA_BYTES, NAME_infer
 * and NAME_infer_in), each parameter the kernels read as a static const
 * array, and the portable GEMM copied from runtime/gemm_portable.h (the
 * build embeds its text: one source for libnnrt and the files nncc
 * writes).  emit_c.c writes the rest of the .c: the kernels (the kernel
 * builder in embedded mode) and the functions around them.
 */
#include "nncc.h"
#include "nnrt.h"

#include <math.h>
#include <string.h>

/* runtime/gemm_portable.h as text (compiler/embed_text.cmake). */
extern const char nncc_gemm_portable_text[];

struct Weights {
  const char *path;         /* the checkpoint, as given                     */
  uint64_t step;            /* its optimizer steps                          */
  double *params, *buffers; /* its values, with the batchnorms folded       */
  StrMap notes;             /* by parameter name: what folding made of it   */
};

/* Where p's values are in w. */
static double *values_of(const Weights *w, const Param *p) {
  return (p->trainable ? w->params : w->buffers) + p->offset;
}

/* The checkpoint's sections as doubles; false after an error naming the
 * file and the first value that is not finite. */
static bool read_values(Weights *w, const Graph *g) {
  size_t elem = g->f64 ? 8 : 4;
  int64_t counts[2] = {g->num_params, g->num_buffers};
  void *raw[2];
  nnrt_ckpt_section s[3];
  for (int i = 0; i < 2; i++) {
    raw[i] = arena_alloc((size_t)counts[i] * elem + 1);
    s[i] = (nnrt_ckpt_section){raw[i], (uint64_t)counts[i] * elem};
  }
  s[2] = (nnrt_ckpt_section){NULL, (uint64_t)optimizer_values(g) * elem};  /* checked, not kept */
  if (nnrt_ckpt_load(w->path, nnrt_fnv1a64(checkpoint_structure(g)), (uint32_t)elem, &w->step, s, 3) !=
      NNRT_OK) {
    error_plain("--embed-weights: %s", nnrt_errmsg());
    return false;
  }
  double *out[2];
  for (int i = 0; i < 2; i++) {
    out[i] = arena_alloc(sizeof(double) * (size_t)(counts[i] + 1));
    for (int64_t k = 0; k < counts[i]; k++)
      out[i][k] = g->f64 ? ((const double *)raw[i])[k] : (double)((const float *)raw[i])[k];
  }
  w->params = out[0];
  w->buffers = out[1];
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->len; i++) {
      const Param *p = lists[l]->data[i];
      const double *v = values_of(w, p);
      for (int64_t k = 0; k < p->numel; k++)
        if (!isfinite(v[k])) {
          error_plain("--embed-weights: %s: %s[%lld] is %s; a trained model has finite weights",
                      w->path, p->name, (long long)k, isnan(v[k]) ? "NaN" : "infinite");
          return false;
        }
    }
  return true;
}

/* Folds batchnorm bn into the layer before it (linear or conv2d: a weight
 * row, or filter, per output channel); false after an error. */
static bool fold_one(Weights *w, const IrNode *layer, const IrNode *bn) {
  const Param *weight = layer->params[0], *bias = layer->nparams > 1 ? layer->params[1] : NULL;
  const Param *const *bp = (const Param *const *)bn->params;  /* gamma, beta, mean, var */
  int64_t C = bp[0]->numel;
  if (weight->dims[0] != C)
    internal_error("folding %s into %s: %lld channels, %lld rows", bn->layer_name,
                   layer->layer_name, (long long)C, (long long)weight->dims[0]);
  double eps = attr_num(bn, "eps"), *wv = values_of(w, weight), *beta = values_of(w, bp[1]);
  const double *gamma = values_of(w, bp[0]), *mean = values_of(w, bp[2]);
  const double *var = values_of(w, bp[3]), *b = bias ? values_of(w, bias) : NULL;
  int64_t row = weight->numel / C;
  for (int64_t c = 0; c < C; c++) {
    if (!(var[c] + eps > 0)) {
      error_plain("--embed-weights: %s: %s[%lld] is %s, so the batchnorm divides by the square "
                  "root of a number that is not positive", w->path, bp[3]->name, (long long)c,
                  fmt_double(var[c]));
      return false;
    }
    double s = gamma[c] / sqrt(var[c] + eps);
    for (int64_t k = 0; k < row; k++)
      wv[c * row + k] *= s;
    beta[c] += ((b ? b[c] : 0) - mean[c]) * s;
  }
  *strmap_slot(&w->notes, weight->name) =
      arena_printf("times %s's scale, gamma / sqrt(running_var + eps)", bn->layer_name);
  *strmap_slot(&w->notes, bp[1]->name) =
      arena_printf("the whole shift: beta + (%s - running_mean) * scale",
                   bias ? bias->name : "0");
  return true;
}

Weights *weights_load(const Graph *g, const char *path) {
  Weights *w = arena_alloc(sizeof(Weights));
  w->path = path;
  if (!read_values(w, g))
    return NULL;
  const PtrVec *groups = &g->groups[MODE_INFER];
  for (int i = 0; i < groups->len; i++) {
    const Group *grp = groups->data[i];
    if (grp->fold_bn && !fold_one(w, grp->nodes[0], grp->nodes[1]))
      return NULL;
  }
  return w;
}

/* ---------------------------------------------------------------- files */

int64_t infer_arena_values(const Graph *g) {
  const Plan *p = &g->plan[MODE_INFER].plan;
  const bool *highest = plan_highest(p);
  int64_t values = p->per_sample;  /* (one sample: max_batch 1) */
  for (int i = 0; i < p->bufs.len; i++) {
    const PlanBuffer *b = p->bufs.data[i];
    if (highest[i] && b->base + b->offset + b->size > values)
      values = b->base + b->offset + b->size;
  }
  return values;
}

void emit_embedded_header(FILE *f, const Graph *g, const EmitOptions *opt) {
  const char *N = g->name, *T = g->f64 ? "double" : "float", *guard = header_guard(g);
  const char *ckpt = strrchr(opt->weights->path, '/');
  ckpt = ckpt ? ckpt + 1 : opt->weights->path;
  emit_command_line(f, opt, N, g->file->name);
  StrBuf sb = {0};
  sb_comment(&sb, " * ",
             arena_printf("The model with its trained weights inside (--embed-weights: the "
                          "checkpoint %s, step %llu), for one sample at a time: no allocation, "
                          "no file, no library.  x holds %s_INPUT_SIZE values (several inputs one "
                          "after another), out %s_OUTPUT_SIZE (likewise). */",
                          comment_text(ckpt, (int)strlen(ckpt)),
                          (unsigned long long)opt->weights->step, N, N),
             " * ");
  fprintf(f, "%s#ifndef %s\n#define %s\n\n", sb.data, guard, guard);
  fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  emit_header_sizes(f, g);
  fprintf(f, "#define %s_NUM_INPUTS   %d\n#define %s_NUM_OUTPUTS  %d\n", N, g->inputs.len, N,
          g->outputs.len);
  fprintf(f, "#define %s_ARENA_BYTES  %lld  /* one sample's activations: nncc --emit=plan */\n\n",
          N, (long long)(infer_arena_values(g) * (g->f64 ? 8 : 4)));
  fprintf(f,
          "/* One sample, x -> out, in an arena of this file's own (static, %s_ARENA_BYTES):\n"
          " * one call at a time (not from two threads at once). */\n"
          "void %s_infer(const %s *x, %s *out);\n\n"
          "/* The same in the caller's arena: %s_ARENA_BYTES bytes, aligned for a %s (an\n"
          " * array of %s, or any malloc'd block, is), not used by another call meanwhile.\n"
          " * Threads with an arena each may call it at once: the weights are constants. */\n"
          "void %s_infer_in(void *arena, const %s *x, %s *out);\n\n",
          N, N, T, T, N, T, T, N, T, T);
  fprintf(f, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* A value as a literal that reads back as the same float (or double), its
 * sign kept on a zero. */
static const char *value_literal(const KernelBuilder *kb, double v) {
  if (v == 0 && signbit(v))
    return kb->g->f64 ? "-0.0" : "-0.0f";
  return lit(kb, v);
}

void emit_weight_arrays(FILE *f, const KernelBuilder *kb, const Weights *w) {
  const Graph *g = kb->g;
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  fprintf(f, "/* The weights: each parameter the kernels read, as %s_params() holds it\n"
             " * in the full build (PyTorch's layout), but where a batchnorm folded into\n"
             " * its layer (the comment says so). */\n", g->name);
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->len; i++) {
      const Param *p = lists[l]->data[i];
      if (!kb_param_used(kb, p))
        continue;
      StrBuf dims = {0}, text = {0};
      for (int d = 0; d < p->rank; d++)
        sb_printf(&dims, "%s%lld", d ? ", " : "", (long long)p->dims[d]);
      const char *note = strmap_get(&w->notes, p->name);
      sb_printf(&text, "\n");
      sb_comment(&text, "/* ",
                 arena_printf("%s [%s]%s%s */", comment_text(p->name, (int)strlen(p->name)),
                              dims.data, note ? ": " : "", note ? note : ""),
                 " * ");
      sb_printf(&text, "static const %s %s[%lld] = {\n", kb->T, p->cname, (long long)p->numel);
      const double *v = values_of(w, p);
      size_t line = 0;  /* the length of the line being written; lines start with 4 spaces */
      for (int64_t k = 0; k < p->numel; k++) {
        const char *item = arena_printf("%s%s", value_literal(kb, v[k]), k + 1 < p->numel ? "," : "");
        size_t n = strlen(item);
        if (line && line + 1 + n > C_LINE_MAX) {
          sb_printf(&text, "\n");
          line = 0;
        }
        sb_printf(&text, "%s%s", line ? " " : "    ", item);
        line += line ? 1 + n : 4 + n;
      }
      sb_printf(&text, "\n");
      sb_printf(&text, "};\n");
      fputs(text.data, f);
    }
}

/* text with each word (an identifier) in from[] replaced by to[]. */
static const char *replace_words(const char *text, const char *const *from,
                                 const char *const *to, int n) {
  StrBuf sb = {0};
  for (const char *p = text; *p;) {
    size_t len = 0;
    while (p[len] == '_' || (p[len] >= 'a' && p[len] <= 'z') || (p[len] >= 'A' && p[len] <= 'Z') ||
           (len && p[len] >= '0' && p[len] <= '9'))
      len++;
    if (!len) {
      sb_printf(&sb, "%c", *p++);
      continue;
    }
    const char *word = arena_strndup(p, len);
    for (int i = 0; i < n; i++)
      if (!strcmp(word, from[i]))
        word = to[i];
    sb_printf(&sb, "%s", word);
    p += len;
  }
  return sb.data ? sb.data : "";
}

void emit_portable_gemm(FILE *f, const KernelBuilder *kb) {
  const char *text = strstr(nncc_gemm_portable_text, "*/\n");  /* after the file's own comment */
  if (!text)
    internal_error("runtime/gemm_portable.h has no head comment");
  static const char *const from[2] = {"GEMM_T", "GEMM_NAME"};
  const char *to[2] = {kb->T, gemm_fn(kb)};
  fprintf(f, "/* The GEMM, from nncc's runtime/gemm_portable.h (libnnrt runs the same loops\n"
             " * when built with NNRT_PORTABLE_GEMM): this file needs no BLAS. */\n%s\n",
          replace_words(text + 3, from, to, 2));
}
