/* emit_c.c - the C emitter: a planned graph -> NAME.c and NAME.h.
 *
 * The header is the whole contract of DESIGN.md section 2.  The .c file has
 * one static function per kernel (written by the op's emit hook through the
 * kernel builder, kernel.c), each headed by the .nn line and the IR node it
 * came from, then the entry points that call them (the schedule pass's),
 * then the public functions.  Everything here prints decisions made before:
 * the schedule, the memory plan (g->plan), the optimizer state's size.
 *
 * Memory: one allocation per model holds the parameters, their gradients,
 * the buffers (batchnorm running statistics) and the activation arena.  A
 * value's place in the arena is a per-sample offset scaled by the batch
 * (A + off * batch), so any batch up to max_batch fits the same plan.
 *
 * Nothing from the .nn file reaches the C except through this file and
 * kernel.c (comment_text): names
 * in code are the model's name (checked against c_names.def) and generated
 * ones (k3_linear); source text only appears inside comments, with comment
 * terminators, trigraphs and non-ASCII bytes defused, and the file's name
 * in a string literal, escaped.
 */
#define _POSIX_C_SOURCE 200809L
#include "nncc.h"
#include "../runtime/replace.h"

#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The file writer's state: the model, and the kernel builder it asks for
 * each entry point's kernels (lit and value_ref read it too). */
typedef struct Emitter {
  const Graph *g;
  bool f64;                 /* --dtype f64                                  */
  const char *T;            /* "float" or "double"                          */
  bool train_code;          /* training functions (not --inference-only)    */
  KernelBuilder kb;
  /* per entry point: its run_ function's parameters that it uses (m, batch,
   * in, lab), or none at all if it has no kernel (then it is not written) */
  bool run_uses[NENTRIES][4], run_empty[NENTRIES];
} Emitter;

/* ------------------------------------------------------- small helpers */

/* Why a model cannot take the name s, or NULL if it can: the rules, then
 * the list of c_names.def (a name there, or the start of one of the
 * generated C's own names: model + _create is model_create). */
const char *c_name_reserved(const char *s) {
  static const char *const words[] = {
#include "c_names.def"
      NULL};
  size_t n = strlen(s);
  if (s[0] == '_')
    return "names starting with '_' belong to the C implementation";
  if (n >= 2 && !strcmp(s + n - 2, "_t"))
    return "names ending in '_t' belong to POSIX";
  if (!strncmp(s, "nnrt", 4) || !strncmp(s, "NNRT", 4) || !strncmp(s, "nncc", 4) ||
      !strncmp(s, "NNCC", 4))
    return "names starting with nnrt or nncc belong to nncc and its runtime";
  if (n > 48)
    return "it is longer than 48 characters";
  size_t digits = strspn(s + 1, "0123456789");
  if (s[0] == 'k' && digits && (!s[1 + digits] || s[1 + digits] == '_'))
    return "the generated C names its kernels k<N>_<op>";
  const char *group = NULL;
  bool own = false;
  for (int i = 0; words[i]; i++) {
    if (words[i][0] == '@') {
      group = words[i] + 1;
      own = i == 0;
      continue;
    }
    if (!strcmp(s, words[i]))
      return arena_printf("it is %s", group);
    if (own && !strncmp(s, words[i], n) && words[i][n] == '_')
      return arena_printf("the generated C's own '%s' starts with it", words[i]);
  }
  return NULL;
}

/* Text as the inside of a C string literal, byte for byte: printable ASCII
 * but '"', '\\' and '?' (no trigraphs) as it is, those escaped, other bytes
 * in octal. */
static const char *c_string_text(const char *s) {
  StrBuf sb = {0};
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\' || c == '?')
      sb_printf(&sb, "\\%c", c);
    else if (c >= 0x20 && c < 0x7f)
      sb_printf(&sb, "%c", c);
    else
      sb_printf(&sb, "\\%03o", c);
  }
  return sb.data ? sb.data : "";
}

/* ---------------------------------------------------------------- files */

/* The .nn's classes line as a header macro, an initializer an app (and the
 * model's nnrt_model) can use without linking anything. */
static void emit_class_names(FILE *f, const Graph *g) {
  if (!g->nclass_names)
    return;
  const char *N = g->name;
  fprintf(f, "/* The classes line of %s: the names of the classes, in class order, as an\n"
             " * initializer: static const char *const names[] = %s_CLASS_NAMES; */\n"
             "#define %s_NUM_CLASS_NAMES %d\n#define %s_CLASS_NAMES { \\\n   ",
          c_string_text(base_name(g->file->name)), N, N, g->nclass_names, N);
  int col = 3;
  for (int i = 0; i < g->nclass_names; i++) {
    const char *s = arena_printf(" \"%s\"%s", c_string_text(g->class_names[i]),
                                 i + 1 < g->nclass_names ? "," : "");
    if (col > 3 && col + (int)strlen(s) > 100) {
      fprintf(f, " \\\n   ");
      col = 3;
    }
    fprintf(f, "%s", s);
    col += (int)strlen(s);
  }
  fprintf(f, " }\n\n");
}

static int64_t io_size(const PtrVec *nodes) {
  int64_t n = 0;
  for (int i = 0; i < nodes->len; i++) {
    const IrNode *d = nodes->data[i];
    n += d->out->ty.kind == T_CLASS ? 1 : type_numel(&d->out->ty);
  }
  return n;
}

static int64_t outputs_size(const Graph *g) {
  int64_t n = 0;
  for (int i = 0; i < g->outputs.len; i++)
    n += type_numel(&((Value *)g->outputs.data[i])->ty);
  return n;
}

static bool float_labels(const Graph *g) {
  return g->labels.len && ((IrNode *)g->labels.data[0])->out->ty.kind != T_CLASS;
}

/* Class labels and real ones in one model: no NAME_label_t, so no flat y. */
static bool mixed_labels(const Graph *g) {
  for (int i = 1; i < g->labels.len; i++)
    if ((((IrNode *)g->labels.data[i])->out->ty.kind == T_CLASS) == float_labels(g))
      return true;
  return false;
}

/* NAME_loss_and_grad or NAME_train_step (fn) on flat arrays: x holds the
 * inputs one after another, y the labels (all of one type), each split into
 * its pointer for the _ex function. */
static void emit_flat(FILE *f, const Emitter *e, const char *fn) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T;
  fprintf(f, "%s %s_%s(struct %s *m, int batch,\n    const %s *x, const %s_label_t *y) {\n", T, N,
          fn, N, T, N);
  fprintf(f, "  if (batch < 1 || batch > m->max_batch)\n    return (%s)NAN;\n", T);
  fprintf(f, "  const %s *in[%d];\n  const void *lab[%d];\n", T, g->inputs.len,
          g->labels.len ? g->labels.len : 1);
  int64_t at = 0;
  for (int i = 0; i < g->inputs.len; i++) {
    if (at)
      fprintf(f, "  in[%d] = x + (size_t)%lld * (size_t)batch;\n", i, (long long)at);
    else
      fprintf(f, "  in[%d] = x;\n", i);
    at += type_numel(&((IrNode *)g->inputs.data[i])->out->ty);
  }
  at = 0;
  for (int i = 0; i < g->labels.len; i++) {
    const Type *t = &((IrNode *)g->labels.data[i])->out->ty;
    fprintf(f, "  lab[%d] = y + (size_t)%lld * (size_t)batch;\n", i, (long long)at);
    at += t->kind == T_CLASS ? 1 : type_numel(t);
  }
  if (!g->labels.len)
    fprintf(f, "  lab[0] = y;\n");
  fprintf(f, "  return %s_%s_ex(m, batch, in, lab);\n}\n\n", N, fn);
}

/* The structure string as C: a literal per part (each ';' starts one),
 * none over C99's minimum limit of 4095 characters; hashed in order
 * (nnrt_fnv1a64_parts) they give the fingerprint of the whole string. */
static void emit_structure(FILE *f, const char *s) {
  enum { PART_MAX = 4000 };
  fprintf(f, "/* The model's structure, hashed into its checkpoints' fingerprint: the\n"
             " * parts in order, as one string. */\n"
             "static const char *const structure[] = {\n");
  while (*s) {
    size_t n = strcspn(s + 1, ";") + 1;
    n = n < PART_MAX ? n : PART_MAX;
    fprintf(f, "    \"%.*s\",\n", (int)n, s);
    s += n;
  }
  fprintf(f, "    NULL};\n");
}

static const char *init_enum(const char *word) {
  static const char *const map[][2] = {
      {"zeros", "NNRT_INIT_ZEROS"},           {"ones", "NNRT_INIT_ONES"},
      {"normal", "NNRT_INIT_NORMAL"},         {"uniform", "NNRT_INIT_UNIFORM"},
      {"xavier_normal", "NNRT_INIT_XAVIER_NORMAL"},
      {"xavier_uniform", "NNRT_INIT_XAVIER_UNIFORM"},
      {"he_normal", "NNRT_INIT_HE_NORMAL"},   {"he_uniform", "NNRT_INIT_HE_UNIFORM"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(map[i][0], word))
      return map[i][1];
  internal_error("unknown initializer '%s'", word);
}

/* The header's training functions: the _ex ones, an array per input and
 * per label, and for labels of one type the flat ones over x and y. */
static const char *training_decls(const Emitter *e) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T;
  StrBuf sb = {0};
  sb_printf(&sb,
            "/* Forward in training mode, the loss, and the backward pass:\n"
            " * fills the gradients and returns the loss (the weighted sum of\n"
            " * the model's losses, each a mean over the batch).  Changes no\n"
            " * parameter.  batch must be 1..max_batch, else NaN.  inputs: one\n"
            " * pointer per input; labels: one per label, in the order declared,\n"
            " * each of its own type: const int32_t * (class ids, [batch]) for a\n"
            " * class label, const %s * ([batch, size]) for a real one. */\n"
            "%s %s_loss_and_grad_ex(%s *m, int batch, const %s *const *inputs,\n"
            "    const void *const *labels);\n\n"
            "/* loss_and_grad_ex, then the optimizer update.  A loss that is NaN or\n"
            " * infinite is returned and nothing changes: parameters, running\n"
            " * statistics, optimizer state and step count stay as they were.\n"
            " * Likewise if the update would make a parameter or optimizer state\n"
            " * value NaN or infinite: then the result is +infinity. */\n"
            "%s %s_train_step_ex(%s *m, int batch, const %s *const *inputs,\n"
            "    const void *const *labels);\n\n"
            "/* A function train_step calls between the backward pass and the\n"
            " * update, with the gradients (%s_NUM_PARAMS values, writable) and\n"
            " * the loss; the step goes on with the gradients as the hook leaves\n"
            " * them and is judged by the loss it returns (not finite: refused, as\n"
            " * above).  Data-parallel trainers average the gradients there (as\n"
            " * libnnrt_train does under mpirun).  NULL (the default): none. */\n"
            "void %s_set_gradient_hook(%s *m, nnrt_gradient_hook hook, void *ctx);\n\n",
            T, T, N, N, T, T, N, N, T, N, N, N);
  if (mixed_labels(g))
    sb_printf(&sb, "/* (The labels are of two types, class ids and real values: there is\n"
                   " * no %s_label_t, so no loss_and_grad or train_step on one flat y,\n"
                   " * only the _ex functions.) */\n\n", N);
  else
    sb_printf(&sb,
              "/* The same on flat arrays: x as forward's, y the labels one after\n"
              " * another as x the inputs ([batch] class ids per class label). */\n"
              "%s %s_loss_and_grad(%s *m, int batch, const %s *x,\n    const %s_label_t *y);\n"
              "%s %s_train_step(%s *m, int batch, const %s *x,\n    const %s_label_t *y);\n\n",
              T, N, N, T, N, T, N, N, T, N);
  return sb.data;
}

/* The first lines of the comment that heads the files: what wrote them,
 * from what (the file's base name), and the command (from line 2 up to
 * " *"; a long one on several lines). */
void emit_command_line(FILE *f, const EmitOptions *opt, const char *what, const char *from) {
  StrBuf sb = {0};
  from = base_name(from);
  sb_comment(&sb, "/* ",
             arena_printf("%s - generated by nncc %s from %s; do not edit.", what, NNCC_VERSION,
                          comment_text(from, (int)strlen(from))),
             " * ");
  sb_comment(&sb, " * ", comment_text(opt->command_line, (int)strlen(opt->command_line)),
             " *   ");
  fprintf(f, "%s *\n", sb.data);
}

/* The header's include guard: NNCC_<NAME>_H. */
const char *header_guard(const Graph *g) {
  StrBuf guard = {0};
  sb_printf(&guard, "NNCC_");
  for (const char *p = g->name; *p; p++)
    sb_printf(&guard, "%c", *p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  sb_printf(&guard, "_H");
  return guard.data;
}

/* The sizes every header starts with (inputs, outputs, parameters). */
void emit_header_sizes(FILE *f, const Graph *g) {
  const char *N = g->name;
  fprintf(f, "#define %s_INPUT_SIZE   %lld  /* values per sample, all inputs  */\n", N,
          (long long)io_size(&g->inputs));
  fprintf(f, "#define %s_OUTPUT_SIZE  %lld  /* values per sample, all outputs */\n", N,
          (long long)outputs_size(g));
}

/* The header's comment, guard, includes, sizes and types. */
static void emit_header_head(FILE *f, const Emitter *e, const EmitOptions *opt) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T, *guard = header_guard(g);
  const char *label_t = float_labels(g) ? T : "int32_t";
  emit_command_line(f, opt, arena_printf("%s", N), g->file->name);
  fprintf(f, "%s  Arrays are row-major with the batch\n"
             " * first: x is [batch, %s_INPUT_SIZE], out is [batch, %s_OUTPUT_SIZE].\n"
             " * A model with several inputs takes them one after another in x (all\n"
             " * of input 0 for the batch, then input 1, ...), and likewise for outputs;\n"
             " * %s_forward_ex takes one pointer per input and per output instead. */\n",
          e->train_code ? " * The model's whole interface."
                        : " * The model's interface for inference (--inference-only: no training\n"
                          " * code).", N, N, N);
  fprintf(f, "#ifndef %s\n#define %s\n\n#include <stdint.h>\n\n#include \"nnrt.h\"\n\n", guard,
          guard);
  fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  emit_header_sizes(f, g);
  if (e->train_code)
    fprintf(f, "#define %s_LABEL_SIZE   %lld  /* label values per sample        */\n", N,
            (long long)io_size(&g->labels));
  fprintf(f, "#define %s_NUM_PARAMS   %lld  /* trainable values               */\n", N,
          (long long)g->num_params);
  fprintf(f, "#define %s_NUM_INPUTS   %d\n#define %s_NUM_OUTPUTS  %d\n\n", N, g->inputs.len, N,
          g->outputs.len);
  emit_class_names(f, g);
  if (e->train_code && !mixed_labels(g))
    fprintf(f, "typedef %s %s_label_t;  /* %s */\n", label_t, N,
            float_labels(g) ? "real-valued labels" : "class ids");
  fprintf(f, "typedef struct %s %s;  /* opaque */\n\n", N, N);
}

/* An --inference-only header's functions: create, params, forward, load. */
static void emit_inference_decls(FILE *f, const Emitter *e) {
  const char *N = e->g->name, *T = e->T;
  fprintf(f,
          "/* Allocates the model for batches of up to max_batch samples (one\n"
          " * allocation: parameters, running statistics, the inference arena) and\n"
          " * initialises its parameters from seed as the full build does; load a\n"
          " * checkpoint or write %s_params() before inferring.  NULL if\n"
          " * max_batch < 1 or memory is short. */\n"
          "%s *%s_create(int max_batch, uint64_t seed);\n"
          "void %s_destroy(%s *m);\n\n"
          "/* The flat parameter buffer, in `nncc --emit=params` order (PyTorch's\n"
          " * layouts). */\n"
          "%s *%s_params(%s *m);\n\n"
          "/* Inference: running batchnorm statistics, no dropout.  Any batch >= 1\n"
          " * works: batches above max_batch run in chunks of max_batch. */\n"
          "void %s_forward(%s *m, int batch, const %s *x, %s *out);\n"
          "void %s_forward_ex(%s *m, int batch, const %s *const *inputs,\n"
          "    %s *const *outputs);\n\n"
          "/* Loads the parameters and running statistics of a checkpoint of this\n"
          " * model (one the full build saved: its optimizer state is checked and\n"
          " * skipped).  0 on success, else an nnrt_status; a refused file leaves\n"
          " * the model as it was, and nnrt_errmsg() says why. */\n"
          "int %s_load(%s *m, const char *path);\n\n",
          N, N, N, N, N, T, N, N, N, N, T, T, N, N, T, T, N, N);
}

static void emit_header(FILE *f, const Emitter *e, const EmitOptions *opt) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T;
  emit_header_head(f, e, opt);
  if (!e->train_code) {
    emit_inference_decls(f, e);
    fprintf(f, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
    return;
  }
  fprintf(f,
          "/* Allocates the model for batches of up to max_batch samples (one\n"
          " * allocation) and initialises its parameters from seed.  NULL if\n"
          " * max_batch < 1 or memory is short. */\n"
          "%s *%s_create(int max_batch, uint64_t seed);\n"
          "void %s_destroy(%s *m);\n\n"
          "/* The flat parameter buffer, in `nncc --emit=params` order (PyTorch's\n"
          " * layouts), and the gradients in the same layout. */\n"
          "%s *%s_params(%s *m);\n%s *%s_grads(%s *m);\n\n"
          "/* Inference with training=0 (running batchnorm statistics, no dropout);\n"
          " * training=1 uses batch statistics and dropout and updates the running\n"
          " * statistics.  Any batch >= 1 works: batches above max_batch run in\n"
          " * chunks of max_batch. */\n"
          "void %s_forward(%s *m, int batch, const %s *x, %s *out, int training);\n"
          "void %s_forward_ex(%s *m, int batch, const %s *const *inputs,\n"
          "    %s *const *outputs, int training);\n\n",
          N, N, N, N, T, N, N, T, N, N, N, N, T, T, N, N, T, T);
  fprintf(f,
          "%s"
          "/* Checkpoints: parameters, running statistics, optimizer state and\n"
          " * step count, with a CRC.  0 on success, else an nnrt_status; a refused\n"
          " * file leaves the model as it was, and nnrt_errmsg() says why. */\n"
          "int %s_save(const %s *m, const char *path);\n"
          "int %s_load(%s *m, const char *path);\n\n"
          "/* The optimizer's learning rate from now on (schedules drive this): 0,\n"
          " * or NNRT_ERR_ARG for a rate that is NaN, infinite or negative, which\n"
          " * leaves the rate as it was (nnrt_errmsg() says why). */\n"
          "int %s_set_learning_rate(%s *m, float lr);\n\n"
          "/* Sizes and the functions above, for libnnrt's trainer. */\n"
          "const nnrt_model *%s_model(void);\n\n",
          !g->nlosses ? "/* (The model has no loss, so no training functions.) */\n\n"
                      : training_decls(e),
          N, N, N, N, N, N, N);
  fprintf(f, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

static void emit_train_config(FILE *f, const Emitter *e);

/* The arena buffers an entry point's calls name (kb_entry_buffers), where
 * the plan put them: a per-sample buffer at A + offset * batch, a fixed one
 * at A + base * max_batch + offset (embedded: max_batch is 1, and the arena
 * the caller's). */
static void emit_arena_names(StrBuf *fns, const Emitter *e) {
  const PtrVec *bufs = kb_entry_buffers(&e->kb);
  bool fixed = false, one = e->kb.embedded;
  for (int i = 0; i < bufs->len; i++)
    fixed |= ((const PlanBuffer *)bufs->data[i])->fixed;
  if (bufs->len)
    sb_printf(fns, "  %s *const A = %s;  /* nncc --emit=plan */\n", e->T, one ? "arena" : "m->arena");
  if (fixed && !one)
    sb_printf(fns, "  const size_t mb = (size_t)m->max_batch;\n");
  for (int i = 0; i < bufs->len; i++) {
    const PlanBuffer *b = bufs->data[i];
    StrBuf line = {0};  /* (a zero base or offset is not written) */
    sb_printf(&line, "  %s *const %s = A", e->T, b->cname);
    int64_t offset = b->offset + (one && b->fixed ? b->base : 0);
    if (b->fixed && b->base && !one)
      sb_printf(&line, " + %lld * mb", (long long)b->base);
    if (offset)
      sb_printf(&line, " + %lld%s", (long long)offset, b->fixed ? "" : " * (size_t)batch");
    sb_printf(&line, ";");
    /* what it holds, unless it is the one value its name says (what "%k") */
    const char *what = comment_text(b->what, (int)strlen(b->what));
    if (strchr(what, ' ') && line.len + strlen(what) + 8 <= C_LINE_MAX)
      sb_printf(&line, "  /* %s */", what);
    sb_printf(fns, "%s\n", line.data);
  }
}

/* The first batchnorm that sees one value per channel in each sample (on
 * f32[features], or f32[C, 1, 1]): it cannot train on a batch of 1, whose
 * variance is 0 and whose gradient vanishes, so the training entry points
 * refuse that batch, as PyTorch does.  NULL if there is none. */
static const IrNode *single_value_batchnorm(const Graph *g) {
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    if (n->op == OP_BATCHNORM && type_numel(&n->in[0]->ty) == n->in[0]->ty.dims[0])
      return n;
  }
  return NULL;
}

/* refuse_batch_of_one(): its message, and NaN. */
static void emit_batch_of_one(FILE *f, const Graph *g) {
  const IrNode *bn = single_value_batchnorm(g);
  if (!bn || !g->nlosses)
    return;
  fprintf(f, "\n/* Training on a batch of 1: refused, as %s has one value per channel. */\n"
             "static double refuse_batch_of_one(void) {\n"
             "  nnrt_fail(NNRT_ERR_ARG, \"%%s\",\n"
             "            \"model %s: batchnorm '%s' (%s:%d) \"\n"
             "            \"cannot train on a batch of 1: it has one value per channel (%s); \"\n"
             "            \"use a batch of 2 or more, as PyTorch does\");\n"
             "  return NAN;\n}\n",
          bn->layer_name, g->name, bn->layer_name, c_string_text(base_name(g->file->name)),
          bn->loc.line, type_str(&bn->in[0]->ty));
}

/* The parameters as --emit=params prints them, for nnrt_model.param_table. */
static void emit_param_table(FILE *f, const Graph *g) {
  fprintf(f, "/* The parameters, as nncc --emit=params lists them (name, offset, shape). */\n"
             "static const char *const param_table[] = {\n");
  for (int i = 0; i < g->params.len; i++) {
    const Param *p = g->params.data[i];
    fprintf(f, "    \"%s %lld ", c_string_text(p->name), (long long)p->offset);
    for (int d = 0; d < p->rank; d++)
      fprintf(f, "%s%lld", d ? "x" : "", (long long)p->dims[d]);
    fprintf(f, "\",\n");
  }
  fprintf(f, "    NULL};\n\n");
}

/* The offsets of the parameters (in params, grads and each optimizer
 * state) and of the buffers, by name (kb_init named them): an enum where
 * they fit an int, as C wants, macros beyond. */
static void emit_param_names(FILE *f, const Emitter *e) {
  const Graph *g = e->g;
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  const char *what[2] = {
      e->train_code ? "Where each parameter starts in params, in grads and in each optimizer state\n"
                      " * (nncc --emit=params)."
                    : "Where each parameter starts in params (nncc --emit=params).",
      "Where each running statistic starts in buffers."};
  for (int l = 0; l < 2; l++) {
    if (!lists[l]->len)
      continue;
    const Param *last = lists[l]->data[lists[l]->len - 1];
    bool as_enum = last->offset <= 0x7fffffff;
    fprintf(f, "/* %s */\n%s", what[l], as_enum ? "enum {\n" : "");
    for (int i = 0; i < lists[l]->len; i++) {
      const Param *p = lists[l]->data[i];
      StrBuf dims = {0};
      for (int d = 0; d < p->rank; d++)
        sb_printf(&dims, "%s%lld", d ? "x" : "", (long long)p->dims[d]);
      if (as_enum)
        fprintf(f, "  %s = %lld,  /* %s */\n", p->cname, (long long)p->offset, dims.data);
      else
        fprintf(f, "#define %s ((size_t)%lld)  /* %s */\n", p->cname, (long long)p->offset,
                dims.data);
    }
    fprintf(f, "%s\n", as_enum ? "};\n" : "");
  }
}

/* Does C text s use the name w (not as part of a longer name)? */
static bool uses_word(const char *s, const char *w) {
  size_t len = strlen(w);
  for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
    bool start = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
    bool end = !(isalnum((unsigned char)p[len]) || p[len] == '_');
    if (start && end)
      return true;
  }
  return false;
}

/* The call of entry point which's run_ function, given what the caller
 * calls its arguments (m, batch, in, lab); NULL if it has none. */
static const char *run_call(const Emitter *e, int which, const char *const *args) {
  if (e->run_empty[which])
    return NULL;
  const char *used[4];
  int n = 0;
  for (int i = 0; i < 4; i++)
    if (e->run_uses[which][i])
      used[n++] = args[i];
  StrBuf call = {0};
  sb_wrapped(&call, arena_printf("run_%s(", e->g->entries[which].name), used, n, ",", ")", 8);
  return call.data;
}

/* The function of one entry point: its kernels' calls (kb_write_entry), in
 * schedule order; the update's returns whether it was made. */
static void emit_entry(StrBuf *fns, Emitter *e, int which) {
  const Graph *g = e->g;
  const Entry *en = &g->entries[which];
  const char *calls = kb_write_entry(&e->kb, en);
  if (which == ENTRY_UPDATE) {
    sb_printf(fns, "\n/* The optimizer update: 1 if made, 0 if it would have made a parameter or\n"
                   " * optimizer state value NaN or infinite (then nothing changed). */\n");
    /* (with no parameters the update reads nothing of m) */
    e->run_uses[which][0] = uses_word(calls, "m");
    sb_printf(fns, "static int run_update(%s) {\n  int ok = 0;\n%s  return ok;\n}\n",
              e->run_uses[which][0] ? arena_printf("struct %s *m", g->name) : "void", calls);
    return;
  }
  StrBuf body = {0};
  emit_arena_names(&body, e);
  sb_printf(&body, "%s", calls);
  e->run_empty[which] = !*calls;
  if (e->run_empty[which])
    return;
  bool one = e->kb.embedded;  /* (one sample, in the arena the caller passes) */
  const char *words[4] = {one ? "arena" : "m", one ? "" : "batch", "in", "lab"};
  const char *decls[4] = {one ? arena_printf("%s *arena", e->T) : arena_printf("struct %s *m", g->name),
                          "int batch", arena_printf("const %s *const *in", e->T),
                          "const void *const *lab"}, *used[4];
  int n = 0;
  for (int i = 0; i < (which == ENTRY_TRAIN ? 4 : 3); i++)
    if ((e->run_uses[which][i] = *words[i] && uses_word(body.data, words[i])))
      used[n++] = decls[i];
  if (one && uses_word(body.data, "batch")) {
    StrBuf with = {0};
    sb_printf(&with, "  const int batch = 1;  /* %s_infer's one sample */\n%s", g->name, body.data);
    body = with;
  }
  sb_printf(fns, "\n/* The %s pass: every kernel in schedule order. */\n", en->name);
  sb_wrapped(fns, arena_printf("static void run_%s(", en->name), used, n, ",", ") {", 4);
  sb_printf(fns, "\n%s}\n", body.data);
}

/* NNCC_KERNEL, which every kernel's definition starts with. */
static void emit_kernel_macro(FILE *f) {
  fprintf(f, "/* Kernels stay functions of their own: inlined into the long schedule\n"
             " * functions below, GCC loses their restrict parameters (and a profile\n"
             " * loses their names). */\n"
             "#if defined(__GNUC__)\n#define NNCC_KERNEL static __attribute__((noinline))\n"
             "#else\n#define NNCC_KERNEL static\n#endif\n\n");
}

/* The comment that heads the .c file, its includes, NNCC_KERNEL. */
static void emit_prelude(FILE *f, const Emitter *e, const EmitOptions *opt) {
  const Graph *g = e->g;
  const char *N = g->name;
  emit_command_line(f, opt, arena_printf("%s.c", N), g->file->name);
  fprintf(f, " * Each kernel is headed by the .nn line and the IR node it came from\n"
             " * (nncc --emit=ir).  Activations live in one arena (nncc --emit=plan):\n"
             " * each run_ function names the buffers it passes, t<k> for value %%k,\n"
             " * at A + offset * batch, so one plan serves every batch size (a buffer\n"
             " * that does not scale with the batch at A + base * max_batch + offset).\n"
             " * P_ and B_ name where each parameter and running statistic starts. */\n");
  /* --main code is a trainer: nnrt_main is libnnrt_train's (nnrt_train.h). */
  fprintf(f, "#include \"%s\"\n%s\n#include <math.h>\n#include <stddef.h>\n#include <stdlib.h>\n"
             "#include <string.h>\n\n",
          opt->h_include, opt->with_main ? "#include \"nnrt_train.h\"\n" : "");
  emit_kernel_macro(f);
}

/* The model's struct: what one allocation holds (without training code:
 * the parameters, the running statistics and the inference arena). */
static void emit_struct(FILE *f, const Emitter *e) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T;
  fprintf(f, "struct %s {\n  int max_batch;\n", N);
  if (e->train_code) {
    fprintf(f, "  uint64_t step;       /* optimizer steps taken */\n");
    fprintf(f, "  int last_batch;     /* of the last loss_and_grad */\n");
    fprintf(f, "  %s lr;\n", T);
  }
  fprintf(f, "  %s *params;   /* %lld values: nncc --emit=params */\n", T,
          (long long)g->num_params);
  if (e->train_code)
    fprintf(f, "  %s *grads;    /* same layout as params */\n", T);
  fprintf(f, "  %s *buffers;  /* %lld values: batchnorm running statistics */\n", T,
          (long long)g->num_buffers);
  if (e->train_code && g->num_buffers)
    fprintf(f, "  %s *saved_buffers;  /* buffers before a train step, for a refused one */\n", T);
  if (e->train_code)
    fprintf(f, "  %s *opt;      /* %lld values: optimizer state */\n", T, (long long)optimizer_values(g));
  if (e->train_code && g->nlosses)
    fprintf(f, "  nnrt_gradient_hook gradient_hook;  /* set_gradient_hook's, or NULL */\n"
               "  void *hook_ctx;\n");
  fprintf(f, "  %s *arena;    /* activations: nncc --emit=plan */\n", T);
  if (e->train_code)
    fprintf(f, "  nnrt_rng rng;        /* initialisation, then dropout's masks */\n"
               "  uint64_t seed;       /* step k's masks: the stream (seed, k) */\n"
               "  uint64_t rng_step;   /* the step rng was last set for */\n");
  fprintf(f, "};\n\n");
}

/* create's arena: for each plan (only the inference one without training
 * code), its per-sample part, or a fixed buffer above the per-sample ones
 * beside it, whichever ends higher. */
static void emit_arena_size(FILE *f, const Emitter *e) {
  fprintf(f, "  size_t mb = (size_t)max_batch, arena = 0;\n");
  for (int k = 0; k < (e->train_code ? NMODES : 1); k++) {
    const Plan *p = &e->g->plan[k].plan;
    fprintf(f, "  if ((size_t)%lld * mb > arena)\n    arena = (size_t)%lld * mb;\n",
            (long long)p->per_sample, (long long)p->per_sample);
    const bool *highest = plan_highest(p);
    for (int i = 0; i < p->bufs.len; i++) {
      const PlanBuffer *b = p->bufs.data[i];
      if (highest[i])
        fprintf(f, "  if ((size_t)%lld * mb + %lld > arena)\n    arena = (size_t)%lld * mb + %lld;\n",
                (long long)b->base, (long long)(b->offset + b->size), (long long)b->base,
                (long long)(b->offset + b->size));
    }
  }
}

/* create's pointers into its one allocation v. */
static void emit_layout(FILE *f, const Emitter *e) {
  const Graph *g = e->g;
  long long np = (long long)g->num_params, nb = (long long)g->num_buffers;
  if (!e->train_code) {
    fprintf(f, "  m->params = v;\n  m->buffers = v + %lld;\n  m->arena = m->buffers + %lld;\n", np,
            nb);
    return;
  }
  fprintf(f, "  m->params = v;\n  m->grads = v + %lld;\n  m->buffers = v + 2 * (size_t)%lld;\n", np,
          np);
  if (g->num_buffers)
    fprintf(f, "  m->saved_buffers = m->buffers + %lld;\n", nb);
  fprintf(f, "  m->opt = m->%s + %lld;\n", g->num_buffers ? "saved_buffers" : "buffers", nb);
  fprintf(f, "  m->arena = m->opt + %lld;\n", (long long)optimizer_values(g));
  fprintf(f, "  m->lr = %s;\n", lit(&e->kb, g->train.lr));
}

/* create, destroy and the accessors. */
static void emit_create(FILE *f, const Emitter *e) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T;
  fprintf(f, "\n%s *%s_create(int max_batch, uint64_t seed) {\n", N, N);
  fprintf(f, "  if (max_batch < 1)\n    return NULL;\n");
  fprintf(f, "  size_t head = (sizeof(struct %s) + 63) / 64 * 64;\n", N);
  emit_arena_size(f, e);
  if (e->train_code)  /* with buffers, a second copy of them (saved_buffers) after them */
    fprintf(f, "  size_t values = 2 * (size_t)%lld + %s%lld + %lld + arena;\n",
            (long long)g->num_params, g->num_buffers ? "2 * " : "", (long long)g->num_buffers,
            (long long)optimizer_values(g));
  else
    fprintf(f, "  size_t values = (size_t)%lld + %lld + arena;\n", (long long)g->num_params,
            (long long)g->num_buffers);
  fprintf(f, "  if (values > (SIZE_MAX - head) / sizeof(%s))\n    return NULL;\n", T);
  fprintf(f, "  char *mem = calloc(1, head + values * sizeof(%s));\n", T);
  fprintf(f, "  if (!mem)\n    return NULL;\n");
  fprintf(f, "  struct %s *m = (struct %s *)mem;\n", N, N);
  fprintf(f, "  %s *v = (%s *)(mem + head);\n", T, T);
  fprintf(f, "  m->max_batch = max_batch;\n");
  emit_layout(f, e);
  const char *rng = e->train_code ? "&m->rng" : "&rng";
  fprintf(f, e->train_code ? "  nnrt_rng_seed(&m->rng, seed);\n"
                             "  m->seed = seed;\n"
                             "  m->rng_step = UINT64_MAX;  /* the first training pass sets it */\n"
                           : "  nnrt_rng rng;\n  nnrt_rng_seed(&rng, seed);\n");
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->len; i++) {
      const Param *p = lists[l]->data[i];
      double fan_in = 1, fan_out = 1;
      if (p->rank >= 2) {
        int64_t receptive = 1;
        for (int d = 2; d < p->rank; d++)
          receptive *= p->dims[d];
        fan_in = (double)(p->dims[1] * receptive);
        fan_out = (double)(p->dims[0] * receptive);
      }
      const char *args[] = {rng, arena_printf("m->%s + %s", l ? "buffers" : "params", p->cname),
                            arena_printf("%lld", (long long)p->numel), init_enum(p->init),
                            fmt_double(p->init_arg), fmt_double(fan_in), fmt_double(fan_out)};
      StrBuf call = {0};
      const char *head = arena_printf("  nnrt_init_%s(", e->f64 ? "f64" : "f32");
      sb_wrapped(&call, head, args, 7, ",", ");", (int)strlen(head));
      fprintf(f, "%s\n", call.data);
    }
  fprintf(f, "  return m;\n}\n\n");
  fprintf(f, "void %s_destroy(struct %s *m) { free(m); }\n\n", N, N);
  fprintf(f, "%s *%s_params(struct %s *m) { return m->params; }\n\n", T, N, N);
  if (e->train_code)
    fprintf(f, "%s *%s_grads(struct %s *m) { return m->grads; }\n\n", T, N, N);
}

/* forward_ex, in chunks of max_batch, and forward on flat arrays. */
static void emit_forward(FILE *f, const Emitter *e) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T, *training = e->train_code ? ", int training" : "";
  static const char *const args[4] = {"m", "n", "in", NULL};
  const char *train = run_call(e, ENTRY_TRAIN_FORWARD, args), *infer = run_call(e, ENTRY_INFER, args);
  if (e->train_code && (train || g->nlosses > 0))  /* (else nothing calls it) */
    fprintf(f, "/* The random numbers of a training pass (dropout's masks) at optimizer\n"
             " * step k come from the stream (seed, k), so a run resumed from a checkpoint\n"
             " * draws what the run it continues would have drawn; passes at one step\n"
             " * continue the stream. */\n"
             "static void random_stream(struct %s *m) {\n"
             "  if (m->rng_step != m->step) {\n"
             "    nnrt_rng_seed_stream(&m->rng, m->seed, m->step);\n"
             "    m->rng_step = m->step;\n  }\n}\n\n", N);
  fprintf(f, "void %s_forward_ex(struct %s *m, int batch, const %s *const *inputs,\n"
             "    %s *const *outputs%s) {\n", N, N, T, T, training);
  fprintf(f, "  static const size_t in_size[%d] = {", g->inputs.len);
  for (int i = 0; i < g->inputs.len; i++)
    fprintf(f, "%s%lld", i ? ", " : "",
            (long long)type_numel(&((IrNode *)g->inputs.data[i])->out->ty));
  fprintf(f, "};\n  static const size_t out_size[%d] = {", g->outputs.len);
  for (int i = 0; i < g->outputs.len; i++)
    fprintf(f, "%s%lld", i ? ", " : "", (long long)type_numel(&((Value *)g->outputs.data[i])->ty));
  fprintf(f, "};\n");
  fprintf(f, "  const %s *in[%d];\n", T, g->inputs.len);
  fprintf(f, "  for (int done = 0; done < batch; done += m->max_batch) {\n");
  fprintf(f, "    int n = batch - done < m->max_batch ? batch - done : m->max_batch;\n");
  fprintf(f, "    for (int i = 0; i < %d; i++)\n", g->inputs.len);
  fprintf(f, "      in[i] = inputs[i] + (size_t)done * in_size[i];\n");
  if (e->train_code && train && g->nlosses && single_value_batchnorm(g))
    fprintf(f, "    if (training && n == 1) {  /* NaN out, the running statistics unchanged */\n"
               "      const %s nan = (%s)refuse_batch_of_one();\n"
               "      for (int i = 0; i < %d; i++)\n"
               "        for (size_t k = 0; k < out_size[i]; k++)\n"
               "          outputs[i][(size_t)done * out_size[i] + k] = nan;\n"
               "      continue;\n    }\n", T, T, g->outputs.len);
  if (!e->train_code && infer)
    fprintf(f, "    %s;\n", infer);
  else if (train && infer)
    fprintf(f, "    if (training) {\n      random_stream(m);\n      %s;\n    } else {\n      %s;\n"
               "    }\n", train, infer);
  else if (train)
    fprintf(f, "    if (training) {\n      random_stream(m);\n      %s;\n    }\n", train);
  else if (infer)
    fprintf(f, "    if (!training)\n      %s;\n", infer);
  else if (e->train_code)
    fprintf(f, "    (void)training;  /* the same in both modes: the outputs are inputs */\n");
  for (int i = 0; i < g->outputs.len; i++) {
    const Value *v = g->outputs.data[i];
    /* an output that is an input (or a view of one) is returned unchanged:
     * it has no place in the arena, and value_ref names it in[k], this
     * chunk of input k */
    long long at_infer = (long long)g->plan[MODE_INFER].offset[v->id];
    const char *src = value_storage(v)->def->op == OP_INPUT ? value_ref(&e->kb, v)
                      : !e->train_code ? arena_printf("m->arena + %lld * (size_t)n", at_infer)
                                       : arena_printf("m->arena + (training ? %lld : %lld) * (size_t)n",
                                                      (long long)g->plan[MODE_TRAIN].offset[v->id],
                                                      at_infer);
    fprintf(f, "    memcpy(outputs[%d] + (size_t)done * out_size[%d],\n"
               "           %s,\n"
               "           (size_t)n * out_size[%d] * sizeof(%s));\n",
            i, i, src, i, T);
  }
  fprintf(f, "  }\n}\n\n");
  fprintf(f, "void %s_forward(struct %s *m, int batch, const %s *x, %s *out%s) {\n", N, N, T,
          T, e->train_code ? ",\n    int training" : "");
  fprintf(f, "  const %s *inputs[%d];\n  %s *outputs[%d];\n", T, g->inputs.len, T,
          g->outputs.len);
  int64_t off = 0;
  for (int i = 0; i < g->inputs.len; i++) {
    if (off)
      fprintf(f, "  inputs[%d] = x + (size_t)%lld * (size_t)(batch > 0 ? batch : 0);\n", i,
              (long long)off);
    else
      fprintf(f, "  inputs[%d] = x;\n", i);
    off += type_numel(&((IrNode *)g->inputs.data[i])->out->ty);
  }
  off = 0;
  for (int i = 0; i < g->outputs.len; i++) {
    if (off)
      fprintf(f, "  outputs[%d] = out + (size_t)%lld * (size_t)(batch > 0 ? batch : 0);\n", i,
              (long long)off);
    else
      fprintf(f, "  outputs[%d] = out;\n", i);
    off += type_numel(&((Value *)g->outputs.data[i])->ty);
  }
  fprintf(f, "  %s_forward_ex(m, batch, inputs, outputs%s);\n}\n\n", N,
          e->train_code ? ", training" : "");
}

/* The training functions: the _ex ones take an array per input and per
 * label; for labels of one type, the flat ones too. */
static void emit_training(FILE *f, const Emitter *e) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T;
  fprintf(f, "%s %s_loss_and_grad_ex(struct %s *m, int batch, const %s *const *inputs,\n"
             "    const void *const *labels) {\n", T, N, N, T);
  fprintf(f, "  if (batch < 1 || batch > m->max_batch)\n    return (%s)NAN;\n", T);
  if (single_value_batchnorm(g))
    fprintf(f, "  if (batch == 1)\n    return (%s)refuse_batch_of_one();\n", T);
  static const char *const args[4] = {"m", "batch", "inputs", "labels"};
  const char *train = run_call(e, ENTRY_TRAIN, args);
  fprintf(f, "  m->last_batch = batch;\n  random_stream(m);\n%s%s%s", train ? "  " : "",
          train ? train : "", train ? ";\n" : "");
  fprintf(f, "  const %s *A = m->arena;\n", T);
  fprintf(f, "  const size_t mb = (size_t)m->max_batch;\n");
  /* the weighted sum of the losses (a weight of 1 not written) */
  const char **terms = arena_alloc(sizeof(char *) * (size_t)g->nlosses);
  for (int i = 0; i < g->nlosses; i++) {
    const char *at = plan_ref(g->plan[MODE_TRAIN].value_buf[g->losses[i].value->id]);
    terms[i] = g->losses[i].weight == 1 ? arena_printf("*(%s)", at)
                                        : arena_printf("%s * *(%s)", lit(&e->kb, g->losses[i].weight), at);
  }
  StrBuf sum = {0};
  sb_wrapped(&sum, "  return ", terms, g->nlosses, " +", ";", 9);
  fprintf(f, "%s\n}\n\n", sum.data);

  fprintf(f, "%s %s_train_step_ex(struct %s *m, int batch, const %s *const *inputs,\n"
             "    const void *const *labels) {\n", T, N, N, T);
  if (g->num_buffers)
    fprintf(f, "  /* A step whose loss or update is not finite changes nothing: the\n"
               "   * running statistics its forward pass moved are put back. */\n"
               "  memcpy(m->saved_buffers, m->buffers, %lld * sizeof(%s));\n",
            (long long)g->num_buffers, T);
  fprintf(f, "  %s loss = %s_loss_and_grad_ex(m, batch, inputs, labels);\n", T, N);
  fprintf(f, "  if (m->gradient_hook)\n"
             "    loss = (%s)m->gradient_hook(m->hook_ctx, m->grads, %lld, (double)loss);\n", T,
          (long long)g->num_params);
  fprintf(f, "  if (isfinite(loss)) {\n    m->step++;\n    if (run_update(%s))\n"
             "      return loss;\n    m->step--;\n    loss = (%s)INFINITY;  /* the update "
             "overflowed */\n  }\n", e->run_uses[ENTRY_UPDATE][0] ? "m" : "", T);
  if (g->num_buffers)
    fprintf(f, "  if (batch >= 1 && batch <= m->max_batch)\n"
               "    memcpy(m->buffers, m->saved_buffers, %lld * sizeof(%s));\n",
            (long long)g->num_buffers, T);
  fprintf(f, "  return loss;\n}\n\n");
  fprintf(f, "void %s_set_gradient_hook(struct %s *m, nnrt_gradient_hook hook, void *ctx) {\n"
             "  m->gradient_hook = hook;\n  m->hook_ctx = ctx;\n}\n\n", N, N);
  if (!mixed_labels(g)) {
    emit_flat(f, e, "loss_and_grad");
    emit_flat(f, e, "train_step");
  }
}

/* Checkpoints: parameters, running statistics, optimizer state; and the
 * learning rate. */
static void emit_checkpoints(FILE *f, const Emitter *e) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T;
  const char *sections = arena_printf(
      "  nnrt_ckpt_section s[3] = {{m->params, %lld * sizeof(%s)},\n"
      "                           {m->buffers, %lld * sizeof(%s)},\n"
      "                           {m->opt, %lld * sizeof(%s)}};\n",
      (long long)g->num_params, T, (long long)g->num_buffers, T, (long long)optimizer_values(g), T);
  if (!e->train_code) {  /* the optimizer state: its size checked, its data skipped (NULL) */
    fprintf(f, "int %s_load(struct %s *m, const char *path) {\n"
               "  nnrt_ckpt_section s[3] = {{m->params, %lld * sizeof(%s)},\n"
               "                           {m->buffers, %lld * sizeof(%s)},\n"
               "                           {NULL, %lld * sizeof(%s)}};  /* optimizer state */\n"
               "  return (int)nnrt_ckpt_load(path, nnrt_fnv1a64_parts(structure), sizeof(%s), NULL, "
               "s, 3);\n}\n", N, N, (long long)g->num_params, T, (long long)g->num_buffers, T,
            (long long)optimizer_values(g), T, T);
    return;
  }
  fprintf(f, "int %s_save(const struct %s *m, const char *path) {\n%s", N, N, sections);
  fprintf(f, "  return (int)nnrt_ckpt_save(path, nnrt_fnv1a64_parts(structure), sizeof(%s), m->step, "
             "s, 3);\n}\n\n", T);
  fprintf(f, "int %s_load(struct %s *m, const char *path) {\n%s", N, N, sections);
  fprintf(f, "  int rc = (int)nnrt_ckpt_load(path, nnrt_fnv1a64_parts(structure), sizeof(%s), &m->step, "
             "s, 3);\n", T);
  fprintf(f, "  if (rc == 0)\n    m->rng_step = UINT64_MAX;  /* the next training pass resets it */\n"
             "  return rc;\n}\n\n");
  fprintf(f, "int %s_set_learning_rate(struct %s *m, float lr) {\n"
             "  if (!(lr >= 0 && isfinite(lr)))\n"
             "    return (int)nnrt_fail(NNRT_ERR_ARG,\n"
             "                          \"model %s: learning rate %%g: not a finite number >= 0\",\n"
             "                          (double)lr);\n"
             "  m->lr = (%s)lr;\n  return 0;\n}\n\n", N, N, N, T);
}

/* The trainer's view: the model's functions on void pointers, its train
 * config and sizes in one nnrt_model; with --main, a main() that runs it. */
static void emit_trainer_view(FILE *f, const Emitter *e, const EmitOptions *opt) {
  const Graph *g = e->g;
  const char *N = g->name;
  bool trains = g->nlosses > 0;
  fprintf(f, "static void *model_create(int max_batch, uint64_t seed) {\n"
             "  return %s_create(max_batch, seed);\n}\n", N);
  fprintf(f, "static void model_destroy(void *m) { %s_destroy(m); }\n", N);
  fprintf(f, "static void *model_params(void *m) { return %s_params(m); }\n", N);
  fprintf(f, "static void *model_grads(void *m) { return %s_grads(m); }\n", N);
  fprintf(f, "static void *model_buffers(void *m) { return ((struct %s *)m)->buffers; }\n", N);
  if (trains)
    fprintf(f, "static void model_set_gradient_hook(void *m, nnrt_gradient_hook hook, void *ctx) "
               "{\n  %s_set_gradient_hook(m, hook, ctx);\n}\n", N);
  fprintf(f, "static void model_forward(void *m, int batch, const void *x, void *out, int "
             "training) {\n  %s_forward(m, batch, x, out, training);\n}\n", N);
  fprintf(f, "static int model_save(const void *m, const char *path) { return %s_save(m, path); "
             "}\n", N);
  fprintf(f, "static int model_load(void *m, const char *path) { return %s_load(m, path); }\n",
          N);
  fprintf(f, "static int model_set_learning_rate(void *m, double lr) {\n"
             "  /* beyond float's range (0x1.fffffep+127 is FLT_MAX): infinite, refused */\n"
             "  return %s_set_learning_rate(m, (float)(fabs(lr) > 0x1.fffffep+127 ? "
             "copysign(INFINITY, lr) : lr));\n}\n", N);
  bool flat = trains && !mixed_labels(g);  /* (the trainer's view: flat arrays) */
  if (flat) {
    fprintf(f, "static double model_loss_and_grad(void *m, int batch, const void *x, const void *y) {\n"
               "  return %s_loss_and_grad(m, batch, x, y);\n}\n", N);
    fprintf(f, "static double model_train_step(void *m, int batch, const void *x, const void *y) {\n"
               "  return %s_train_step(m, batch, x, y);\n}\n", N);
  }
  fprintf(f, "\n");
  int64_t nclasses = 0;
  if (g->labels.len && !float_labels(g))
    nclasses = ((IrNode *)g->labels.data[0])->out->ty.nclasses;
  fprintf(f, "static uint64_t model_step(const void *m) { return ((const struct %s *)m)->step; }\n", N);
  const Value *out0 = g->outputs.data[0];
  /* (an input as output 0, or a view of one: the training step computes
   * nothing for it) */
  bool out_in_train = trains && entry_returns(&g->entries[ENTRY_TRAIN], out0) &&
                      value_storage(out0)->def->op != OP_INPUT;
  if (out_in_train)
    fprintf(f, "static const void *model_train_output(void *m) {\n"
               "  const struct %s *model = m;\n"
               "  return model->arena%s;\n}\n", N,
            g->plan[MODE_TRAIN].offset[out0->id]
                ? arena_printf(" + %lld * (size_t)model->last_batch",
                               (long long)g->plan[MODE_TRAIN].offset[out0->id])
                : "");
  if (trains)
    emit_train_config(f, e);
  fprintf(f, "\nconst nnrt_model *%s_model(void) {\n", N);
  if (g->nclass_names)
    fprintf(f, "  static const char *const class_names[] = %s_CLASS_NAMES;\n", N);
  fprintf(f, "  static const nnrt_model model = {\n");
  fprintf(f, "      .name = \"%s\", .elem_size = %d, .num_inputs = %d, .num_outputs = %d,\n"
             "      .input_size = %lld, .output_size = %lld, .label_size = %lld,\n"
             "      .label_is_float = %d, .num_classes = %lld, .num_params = %lld,\n",
          N, e->f64 ? 8 : 4, g->inputs.len, g->outputs.len, (long long)io_size(&g->inputs),
          (long long)outputs_size(g), (long long)io_size(&g->labels), float_labels(g),
          (long long)nclasses, (long long)g->num_params);
  const Type *in0 = g->inputs.len == 1 ? &((IrNode *)g->inputs.data[0])->out->ty : NULL;
  /* an image: the trainer's CSV rows take its shape */
  if (in0 && in0->kind == T_F32 && in0->rank == 3 && type_numel(in0) <= INT32_MAX)
    fprintf(f, "      .input_shape = {%lld, %lld, %lld},\n", (long long)in0->dims[0],
            (long long)in0->dims[1], (long long)in0->dims[2]);
  fprintf(f, "      .create = model_create, .destroy = model_destroy, .params = model_params,\n"
             "      .grads = model_grads, .forward = model_forward,\n"
             "      .loss_and_grad = %s, .train_step = %s,\n"
             "      .save = model_save, .load = model_load,\n"
             "      .set_learning_rate = model_set_learning_rate, .step = model_step,\n"
             "      .train_output = %s, .config = %s,\n"
             "      .source = \"%s\", .output_kind = %d, .class_names = %s,\n"
             "      .min_train_batch = %d, .param_table = param_table,\n"
             "      .buffers = model_buffers, .num_buffers = %lld, .set_gradient_hook = %s};\n",
          flat ? "model_loss_and_grad" : "NULL", flat ? "model_train_step" : "NULL",
          out_in_train ? "model_train_output" : "NULL", trains ? "&train_config" : "NULL",
          c_string_text(base_name(g->file->name)), output_class_kind(g),
          g->nclass_names ? "class_names" : "NULL", trains && single_value_batchnorm(g) ? 2 : 1,
          (long long)g->num_buffers, trains ? "model_set_gradient_hook" : "NULL");
  fprintf(f, "  return &model;\n}\n");
  if (opt->with_main)
    fprintf(f, "\n/* nncc --main: the model as a command-line trainer (see nnrt_main). */\n"
               "int main(int argc, char **argv) { return nnrt_main(%s_model(), argc, argv); }\n",
            N);
}

static void emit_source(FILE *f, Emitter *e, const EmitOptions *opt) {
  StrBuf fns = {0};  /* the entry points, written first: their kernels with them */
  for (int i = 0; i < e->g->nentries; i++)
    if (e->train_code || i == ENTRY_INFER)
      emit_entry(&fns, e, i);
    else
      e->run_empty[i] = true;  /* --inference-only: not written */
  emit_prelude(f, e, opt);
  emit_struct(f, e);
  emit_structure(f, checkpoint_structure(e->g));
  emit_param_names(f, e);
  fprintf(f, "%s%s", kb_kernels(&e->kb), fns.data ? fns.data : "");
  if (e->train_code)
    emit_batch_of_one(f, e->g);
  emit_create(f, e);
  emit_forward(f, e);
  if (e->train_code && e->g->nlosses)
    emit_training(f, e);
  emit_checkpoints(f, e);
  if (!e->train_code)
    return;
  emit_param_table(f, e->g);
  emit_trainer_view(f, e, opt);
}

/* --embed-weights: NAME_infer_in runs the inference pass on one sample in
 * the caller's arena and copies the outputs out; NAME_infer in a static
 * arena of its own. */
static void emit_infer(FILE *f, const Emitter *e) {
  const Graph *g = e->g;
  const char *N = g->name, *T = e->T;
  bool in_used = e->run_uses[ENTRY_INFER][2];
  for (int i = 0; i < g->outputs.len; i++)  /* (an output that is an input is copied from it) */
    in_used |= value_storage(g->outputs.data[i])->def->op == OP_INPUT;
  fprintf(f, "\nvoid %s_infer_in(void *arena, const %s *x, %s *out) {\n", N, T, T);
  if (in_used) {
    const char **items = arena_alloc(sizeof(char *) * (size_t)g->inputs.len);
    int64_t at = 0;
    for (int i = 0; i < g->inputs.len; i++) {
      items[i] = at ? arena_printf("x + %lld", (long long)at) : "x";
      at += type_numel(&((IrNode *)g->inputs.data[i])->out->ty);
    }
    StrBuf decl = {0};
    sb_wrapped(&decl, arena_printf("  const %s *const in[%d] = {", T, g->inputs.len), items,
               g->inputs.len, ",", "};", 4);
    fprintf(f, "%s\n", decl.data);
  }
  static const char *const args[4] = {"arena", "1", "in", NULL};
  const char *infer = run_call(e, ENTRY_INFER, args);
  if (infer)
    fprintf(f, "  %s;\n", infer);
  int64_t at = 0;
  for (int i = 0; i < g->outputs.len; i++) {
    const Value *v = g->outputs.data[i];
    int64_t size = type_numel(&v->ty);
    const char *src = value_storage(v)->def->op == OP_INPUT
                          ? value_ref(&e->kb, v)
                          : g->plan[MODE_INFER].offset[v->id]
                              ? arena_printf("(const %s *)arena + %lld", T,
                                             (long long)g->plan[MODE_INFER].offset[v->id])
                              : "arena";
    fprintf(f, "  memcpy(out%s, %s, %lld * sizeof(%s));\n",
            at ? arena_printf(" + %lld", (long long)at) : "", src, (long long)size, T);
    at += size;
  }
  if (!infer && !e->run_uses[ENTRY_INFER][0])
    fprintf(f, "  (void)arena;  /* the outputs are inputs */\n");
  int64_t values = infer_arena_values(g);
  fprintf(f, "}\n\nvoid %s_infer(const %s *x, %s *out) {\n"
             "  static %s arena[%lld];  /* %s_ARENA_BYTES%s */\n"
             "  %s_infer_in(arena, x, out);\n}\n",
          N, T, T, T, (long long)(values ? values : 1), N, values ? "" : ": none, but C has no empty array",
          N);
}

/* --embed-weights: the weights as constants, the GEMM, the kernels and the
 * inference functions; nothing from libnnrt or the C library's allocator
 * or files (docs/embedded.md). */
static void emit_embedded(FILE *f, Emitter *e, const EmitOptions *opt) {
  const Graph *g = e->g;
  StrBuf fns = {0};
  emit_entry(&fns, e, ENTRY_INFER);
  const char *kernels = kb_kernels(&e->kb);
  emit_command_line(f, opt, arena_printf("%s.c", g->name), g->file->name);
  fprintf(f, " * The weights are constants below; each kernel is headed by the .nn line\n"
             " * and the IR node it came from (nncc --emit=ir); the activations of one\n"
             " * sample live in one arena (nncc --emit=plan): run_infer names the buffers\n"
             " * it passes, t<k> for value %%k, at A + offset.  No allocation, no file\n"
             " * and no library but the C library's memcpy and memset, and <math.h>'s\n"
             " * functions where an op needs one (expf, sqrtf: -lm). */\n");
  fprintf(f, "#include \"%s\"\n\n#include <math.h>\n#include <stddef.h>\n#include <string.h>\n\n",
          opt->h_include);
  emit_kernel_macro(f);
  if (uses_word(kernels, gemm_fn(&e->kb)))
    emit_portable_gemm(f, &e->kb);
  emit_weight_arrays(f, &e->kb, opt->weights);
  fprintf(f, "%s%s", kernels, fns.data ? fns.data : "");
  emit_infer(f, e);
}

/* The train and test blocks as the runtime's nnrt_train_config. */
static void emit_train_config(FILE *f, const Emitter *e) {
  const TrainConfig *t = &e->g->train;
  const TestConfig *te = &e->g->test;
  static const char *const schedule_names[] = {
      [SCHEDULE_CONSTANT] = "NNRT_SCHEDULE_CONSTANT",
      [SCHEDULE_STEP] = "NNRT_SCHEDULE_STEP",
      [SCHEDULE_COSINE] = "NNRT_SCHEDULE_COSINE",
  };
  static const char *const augment_names[] = {
      [AUG_ROTATION] = "NNRT_AUG_ROTATION", [AUG_CROP] = "NNRT_AUG_CROP",
      [AUG_RESIZED_CROP] = "NNRT_AUG_RESIZED_CROP", [AUG_HFLIP] = "NNRT_AUG_HFLIP"};
  fprintf(f, "\n/* The train block (defaults filled in) and the test block. */\n");
  fprintf(f, "static const nnrt_train_config train_config = {\n");
  fprintf(f, "    .lr = %s, .schedule = %s, .step_every = %d, .step_gamma = %s,\n",
          dlit(t->lr), schedule_names[t->schedule], t->step_every, dlit(t->step_gamma));
  fprintf(f, "    .batch = %lld, .epochs = %lld, .validation = %s,\n", (long long)t->batch,
          (long long)t->epochs, dlit(t->validation));
  fprintf(f, "    .patience = %d, .monitor_accuracy = %d,  /* early stopping */\n",
          t->early_stopping ? t->patience : 0, t->early_stopping && t->monitor_accuracy);
  fprintf(f, "    .naugment = %d, .augment = {", t->naugment);
  for (int i = 0; i < t->naugment; i++) {
    const Augment *a = &t->augment[i];
    double va = 0, vb = 0;  /* nnrt_augment's two numbers */
    switch (a->kind) {
    case AUG_ROTATION: va = a->deg; break;
    case AUG_CROP: va = a->pad; break;
    case AUG_RESIZED_CROP: va = a->scale_min, vb = a->scale_max; break;
    case AUG_HFLIP: break;
    }
    fprintf(f, "%s{.kind = %s, .a = %s, .b = %s}", i ? ",\n        " : "", augment_names[a->kind],
            dlit(va), dlit(vb));
  }
  fprintf(f, "%s},\n", t->naugment ? "" : "{.kind = NNRT_AUG_ROTATION}");
  fprintf(f, "    .seed = %lluu,\n", (unsigned long long)t->seed);
  fprintf(f, "    .has_tta = %d, .tta = {", te->tta);
  if (te->tta) {
    fprintf(f, ".nangles = %d, .angles = {", te->nangles);
    for (int i = 0; i < te->nangles; i++)
      fprintf(f, "%s%s", i ? ", " : "", dlit(te->angles[i]));
    fprintf(f, "},\n            .five_crops = %d, .nsizes = %d", te->five_crops, te->nsizes);
    for (int i = 0; i < te->nsizes; i++)  /* (none: the sizes are left out, zeros) */
      fprintf(f, "%s%d%s", i ? ", " : ", .sizes = {", te->sizes[i], i + 1 < te->nsizes ? "" : "}");
  } else {
    fprintf(f, ".nangles = 1");
  }
  fprintf(f, "}\n};\n");
}

/* The files, whole (replace.h), with the signals that end nncc held off
 * while their temporary files exist: one that arrives then takes effect
 * once each file is renamed into place or removed, so a killed compile
 * leaves no temporary file behind. */
bool write_outputs(const OutputFile *files, int n) {
  nnrt_file out[2] = {{.fd = -1}, {.fd = -1}};
  if (n > 2)
    internal_error("write_outputs: %d files", n);
  sigset_t hold, old;
  sigemptyset(&hold);
  sigaddset(&hold, SIGINT);
  sigaddset(&hold, SIGTERM);
  sigaddset(&hold, SIGHUP);
  sigaddset(&hold, SIGQUIT);
  sigprocmask(SIG_BLOCK, &hold, &old);
  int failed = -1;
  for (int i = 0; i < n && failed < 0; i++)
    if (nnrt_file_replace(&out[i], files[i].path) != 0 ||
        nnrt_file_write(&out[i], files[i].text, files[i].len) != 0)
      failed = i;
  for (int i = 0; i < n && failed < 0; i++)
    if (nnrt_file_close(&out[i], 0) != 0)
      failed = i;
  if (failed >= 0) {
    error_plain("%s", out[failed].message);
    for (int i = 0; i < n; i++)
      nnrt_file_abort(&out[i]);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  return failed < 0;
}

void emit_c_to(FILE *c, FILE *h, const Graph *g, const EmitOptions *opt) {
  if (!g->plan)
    internal_error("emitting C before the plan pass");
  Emitter e = {0};
  e.g = g;
  e.f64 = g->f64;
  e.T = g->f64 ? "double" : "float";
  e.train_code = !opt->inference_only && !opt->weights;
  kb_init(&e.kb, g);
  e.kb.embedded = opt->weights != NULL;
  if (opt->weights) {
    if (h)
      emit_embedded_header(h, g, opt);
    emit_embedded(c, &e, opt);
    return;
  }
  if (h)
    emit_header(h, &e, opt);
  emit_source(c, &e, opt);
}

bool emit_c(const Graph *g, const EmitOptions *opt) {
  if (!g->outputs.len)
    internal_error("no outputs");
  /* Both files are made in memory first; only then are files created. */
  OutputFile out[2] = {{opt->h_path, NULL, 0}, {opt->c_path, NULL, 0}};
  FILE *h = opt->h_path ? open_memstream(&out[0].text, &out[0].len) : NULL;
  FILE *c = open_memstream(&out[1].text, &out[1].len);
  bool ok = c && (h || !opt->h_path);
  if (ok)
    emit_c_to(c, h, g, opt);
  ok &= !(h && ferror(h)) && !(c && ferror(c));
  ok &= !(h && fclose(h) != 0) && !(c && fclose(c) != 0);
  if (!ok) {
    error_plain("out of memory for the generated C");
  } else if (!strcmp(opt->c_path, "-")) {  /* the C to stdout, the header if asked */
    ok = (!opt->h_path || write_outputs(out, 1)) &&
         fwrite(out[1].text, 1, out[1].len, stdout) == out[1].len && fflush(stdout) == 0;
  } else {
    ok = write_outputs(out, 2);
  }
  free(out[0].text);
  free(out[1].text);
  return ok;
}
