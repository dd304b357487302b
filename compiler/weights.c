/* weights.c - nncc weights export|import: a checkpoint's tensors to and
 * from NumPy's .npz, one array per tensor, named as --emit=params names
 * it, in the shape PyTorch gives it, so
 *
 *   sd = {k: torch.from_numpy(v) for k, v in np.load("w.npz").items()}
 *   model.load_state_dict(sd)
 *
 * loads it into the equivalent torch.nn model (docs/decisions.md 305-309).
 *
 *   nncc weights export model.nn CKPT OUT.npz
 *   nncc weights import model.nn IN.npz CKPT
 *
 * The checkpoint is read and written by libnnrt's own code (ckpt.c), so a
 * wrong file gets the errors the generated NAME_load gives; the .npz by
 * runtime/npz.c, which the trainer's --load-partial shares. */
#include "nncc.h"

#include "../runtime/npz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void weights_usage(FILE *out) {
  fprintf(out,
          "usage: nncc weights export <model.nn> <CKPT> <out.npz>\n"
          "       nncc weights import <model.nn> <in.npz> <CKPT>\n"
          "\n"
          "Move a model's parameters and batchnorm running statistics between an\n"
          "nncc checkpoint and NumPy's .npz, one array per tensor named as\n"
          "`nncc --emit=params` names it (PyTorch's state_dict names and shapes for\n"
          "the equivalent torch.nn model; each batchnorm also gets PyTorch's\n"
          "num_batches_tracked).  Import takes np.savez and np.savez_compressed\n"
          "files, needs every tensor of the model in its shape, and writes a fresh\n"
          "checkpoint: step 0, no optimizer state.\n");
}

/* The sections of w's checkpoint, pointing at its arrays. */
static void sections(const ModelTensors *w, nnrt_ckpt_section s[3]) {
  const Graph *g = w->g;
  int64_t n[3] = {g->num_params, g->num_buffers, optimizer_values(g)};
  float *p[3] = {w->params, w->buffers, w->opt};
  for (int i = 0; i < 3; i++)
    s[i] = (nnrt_ckpt_section){p[i], (uint64_t)n[i] * sizeof(float)};
}

void model_tensors_of(Graph *g, ModelTensors *w) {
  w->g = g;
  w->step = 0;
  int64_t n[3] = {g->num_params, g->num_buffers, optimizer_values(g)};
  float **p[3] = {&w->params, &w->buffers, &w->opt};
  for (int i = 0; i < 3; i++)
    if (!(*p[i] = calloc((size_t)(n[i] ? n[i] : 1), sizeof(float))))
      internal_error("out of memory");
}

bool model_tensors(const char *path, ModelTensors *w) {
  SrcFile *file = arena_alloc(sizeof *file);
  if (!load_file(path, file))
    return false;
  Options opt = {0};
  Graph *g = compile_source(file, &opt, NULL);
  if (g)
    model_tensors_of(g, w);
  return g != NULL;
}

bool model_tensors_load(ModelTensors *w, const char *ckpt) {
  nnrt_ckpt_section s[3];
  sections(w, s);
  if (nnrt_ckpt_load(ckpt, nnrt_fnv1a64(checkpoint_structure(w->g)), sizeof(float), &w->step, s,
                     3) != NNRT_OK) {
    error_plain("%s", nnrt_errmsg());
    return false;
  }
  return true;
}

/* Writes w as a fresh checkpoint (its step); false after an error. */
static bool model_tensors_save(const ModelTensors *w, const char *ckpt) {
  nnrt_ckpt_section s[3];
  sections(w, s);
  if (nnrt_ckpt_save(ckpt, nnrt_fnv1a64(checkpoint_structure(w->g)), sizeof(float), w->step, s,
                     3) != NNRT_OK) {
    error_plain("%s", nnrt_errmsg());
    return false;
  }
  return true;
}

bool model_checkpoint(const char *model, const char *ckpt, const char *out, ModelTensors *w) {
  const char *outs[] = {out};
  if (!outputs_distinct(model, outs, 1) || !outputs_distinct(ckpt, outs, 1) ||
      !model_tensors(model, w))
    return false;
  if (!model_tensors_load(w, ckpt)) {
    model_tensors_free(w);
    return false;
  }
  return true;
}

void model_tensors_free(ModelTensors *w) {
  free(w->params);
  free(w->buffers);
  free(w->opt);
}

/* "(10, 784)", "(10,)", "()": a shape as NumPy prints it. */
static const char *shape_str(int rank, const int64_t *dims) {
  StrBuf sb = {0};
  sb_printf(&sb, "(");
  for (int d = 0; d < rank; d++)
    sb_printf(&sb, "%s%lld", d ? ", " : "", (long long)dims[d]);
  sb_printf(&sb, "%s)", rank == 1 ? "," : "");
  return sb.data;
}

/* A batchnorm's running_var: its layer gets num_batches_tracked after it. */
static const char *tracked_name(const Param *p) {
  size_t n = strlen(p->name), r = strlen(".running_var");
  if (p->trainable || n <= r || strcmp(p->name + n - r, ".running_var"))
    return NULL;
  return arena_printf("%.*s.num_batches_tracked", (int)(n - r), p->name);
}

static int export_command(char **argv) {
  const char *model = argv[3], *ckpt = argv[4], *out = argv[5];
  ModelTensors w = {0};
  if (!model_checkpoint(model, ckpt, out, &w))
    return 1;
  const Graph *g = w.g;
  nnrt_npy_out *arrays = arena_alloc(sizeof *arrays * (size_t)(2 * (g->params.len + g->buffers.len)));
  int n = 0;
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->len; i++) {
      const Param *p = lists[l]->data[i];
      arrays[n++] = (nnrt_npy_out){p->name, p->rank, p->dims, (l ? w.buffers : w.params) + p->offset, 0};
      if (tracked_name(p))  /* PyTorch counts the batches a BN saw: the steps here */
        arrays[n++] = (nnrt_npy_out){tracked_name(p), 0, NULL, NULL, (int64_t)w.step};
    }
  nnrt_status s = nnrt_npz_write(out, arrays, n);
  if (s != NNRT_OK)
    error_plain("%s", nnrt_errmsg());
  model_tensors_free(&w);
  return s == NNRT_OK ? 0 : 1;
}

/* Copies the .npz array named as p into dst; false (and an error naming
 * it) if it is missing, of another shape or not finite numbers. */
static bool import_tensor(const char *npz, const nnrt_npz *z, const Param *p, float *dst) {
  const nnrt_npy *a = nnrt_npz_find(z, p->name);
  const char *want = shape_str(p->rank, p->dims);
  if (!a) {
    error_plain("%s: no array '%s' (the model's %s, shape %s)", npz, p->name, p->name, want);
    return false;
  }
  bool same = a->rank == p->rank;
  for (int d = 0; same && d < p->rank; d++)
    same = a->dims[d] == p->dims[d];
  if (!same) {
    error_plain("%s: '%s' has shape %s, the model's has shape %s", npz, p->name,
                shape_str(a->rank, a->dims), want);
    return false;
  }
  if (a->descr[0] != 'f') {
    error_plain("%s: '%s' holds integers (%s), not floats", npz, p->name, a->descr);
    return false;
  }
  for (int64_t i = 0; i < a->numel; i++) {
    if (!isfinite(a->data[i]) || fabs(a->data[i]) > 3.4028234663852886e38) {
      error_plain("%s: '%s' holds %g at index %lld: not a finite float32", npz, p->name,
                  a->data[i], (long long)i);
      return false;
    }
    dst[i] = (float)a->data[i];
  }
  return true;
}

/* Whether the model has a tensor that array, or a batchnorm whose
 * num_batches_tracked it is. */
static bool model_has(const Graph *g, const char *name) {
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->len; i++) {
      const Param *p = lists[l]->data[i];
      const char *t = tracked_name(p);
      if (!strcmp(p->name, name) || (t && !strcmp(t, name)))
        return true;
    }
  return false;
}

bool tensors_fill(ModelTensors *w, const char *src, const nnrt_npz *z) {
  const Graph *g = w->g;
  bool ok = true;
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->len; i++) {
      const Param *p = lists[l]->data[i];
      ok &= import_tensor(src, z, p, (l ? w->buffers : w->params) + p->offset);
    }
  for (int i = 0; i < z->n; i++)
    if (!model_has(g, z->arrays[i].name)) {
      error_plain("%s: array '%s' is not a tensor of model %s (see nncc --emit=params)", src,
                  z->arrays[i].name, g->name);
      ok = false;
    }
  return ok;
}

bool tensors_encode(const ModelTensors *w, OutputFile *out) {
  nnrt_ckpt_section s[3];
  sections(w, s);
  out->text = nnrt_ckpt_encode(nnrt_fnv1a64(checkpoint_structure(w->g)), sizeof(float), w->step,
                               s, 3, &out->len);
  if (!out->text)
    error_plain("%s: %s", out->path, nnrt_errmsg());
  return out->text != NULL;
}

static int import_command(char **argv) {
  const char *model = argv[3], *npz = argv[4], *ckpt = argv[5];
  const char *outs[] = {ckpt};
  if (!outputs_distinct(model, outs, 1) || !outputs_distinct(npz, outs, 1))
    return 1;
  ModelTensors w = {0};
  if (!model_tensors(model, &w))
    return 1;
  nnrt_npz z;
  if (nnrt_npz_read(npz, &z) != NNRT_OK) {
    error_plain("%s", nnrt_errmsg());
    model_tensors_free(&w);
    return 1;
  }
  bool ok = tensors_fill(&w, npz, &z);
  nnrt_npz_free(&z);
  ok = ok && model_tensors_save(&w, ckpt);
  model_tensors_free(&w);
  return ok ? 0 : 1;
}

int weights_command(int argc, char **argv) {
  if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
    weights_usage(stdout);
    return 0;
  }
  if (argc <= 2) {
    weights_usage(stderr);
    return 1;
  }
  bool exp = argc > 2 && !strcmp(argv[2], "export"), imp = argc > 2 && !strcmp(argv[2], "import");
  if ((!exp && !imp) || argc != 6) {
    if (!exp && !imp)
      error_plain("nncc weights: unknown action '%s' (export or import)", argv[2]);
    else
      error_plain("nncc weights %s takes a model and two files", exp ? "export" : "import");
    diag_flush();
    weights_usage(stderr);
    return 1;
  }
  return exp ? export_command(argv) : import_command(argv);
}
