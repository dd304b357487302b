/* import.c - nncc import MODEL.onnx -o OUT.nn [--name NAME] [--no-loss]
 * (docs/onnx.md "Import").
 *
 * The ONNX graph is read node by node, in its order (ONNX keeps nodes
 * topologically sorted), each node mapped to one .nn line (or none: Identity,
 * a Constant, a Flatten of what is flat already).  Every value carries its
 * per-sample shape: ONNX's dimension 0 is the batch, dropped, and ONNX's axes
 * count it where nncc's do not.  Weights must be initializers (or Constant
 * outputs): in nncc they are parameters.  Anything nncc cannot express
 * exactly is an error naming the node, its op type and the opset; nothing is
 * approximated.  The .nn text is then checked by compiling it, its layers'
 * tensors copied into a checkpoint by weights.c's code, and both files
 * written together by write_outputs: after an error neither exists.
 *
 * Names from the ONNX file reach the .nn only as checked .nn names (values:
 * [A-Za-z_][A-Za-z0-9_]*, layers: dotted names) or inside comments with
 * every byte outside printable ASCII replaced, so no name can add a line. */
#include "onnx.h"

#include "../../runtime/npz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An ONNX value as the importer holds it. */
typedef struct Val {
  const char *nn;          /* a .nn value: its name; NULL for a constant     */
  int rank;                /* values: per sample (the batch dropped);
                              constants: the whole tensor                   */
  int64_t dims[MAX_RANK + 1];
  /* A value whose .nn shape is flatter than ONNX's (global_avgpool gives
   * f32[C] for ONNX's [N, C, 1, 1]; an opset-11 softmax over several axes):
   * ONNX's per-sample shape.  Only shape-free ops may read it. */
  bool flat;
  int onnx_rank;
  int64_t onnx_dims[MAX_RANK + 1];
  float *data;             /* constants: the values (row-major)              */
  int64_t *ints;           /* int64 constants (Reshape's shape)              */
  int64_t numel;
  int uses;                /* nodes that read it                             */
  const char *op;          /* the ONNX op that made it (Softmax...)          */
  struct Val *src;         /* Softmax/LogSoftmax: its input                  */
} Val;

/* One tensor of the checkpoint: a layer's parameter or buffer. */
typedef struct Tensor {
  const char *name;
  int rank;
  int64_t dims[MAX_RANK];
  float *data;
} Tensor;

typedef struct Importer {
  const char *path;        /* the ONNX file, for messages                    */
  long long opset;
  StrMap vals;             /* ONNX name -> Val*                              */
  StrMap used;             /* .nn names taken (values and layers)            */
  StrBuf body;             /* the .nn lines of the nodes                     */
  PtrVec tensors;          /* Tensor*                                        */
  const Onnx__NodeProto *node;  /* the node being mapped                    */
  bool failed;
} Importer;

/* Text from the file, safe in a message or a .nn comment: bytes outside
 * printable ASCII as '?', at most 80 of them. */
static const char *shown(const char *s) {
  size_t n = strlen(s);
  char *t = arena_strndup(s, n > 80 ? 80 : n);
  for (char *p = t; *p; p++)
    if (*p < 0x20 || *p > 0x7e)
      *p = '?';
  return t;
}

/* "model.onnx: node 'Conv_3' (Conv, opset 13): " + the message. */
__attribute__((format(printf, 2, 3))) static bool fail(Importer *im, const char *fmt, ...) {
  StrBuf sb = {0};
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&sb, fmt, ap);
  va_end(ap);
  const Onnx__NodeProto *n = im->node;
  if (n)
    error_plain("%s: node '%s' (%s, opset %lld): %s", im->path, shown(n->name ? n->name : ""),
                shown(n->op_type), im->opset, sb.data);
  else
    error_plain("%s: %s", im->path, sb.data);
  im->failed = true;
  return false;
}

/* ------------------------------------------------------------- names */

static bool ident_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* A .nn value name from an ONNX one: runs of other characters become '_',
 * leading and trailing '_' dropped, 'v' put before a digit, at most 40
 * characters, made unique; `fallback` when nothing is left. */
static const char *value_name(Importer *im, const char *onnx, const char *fallback) {
  StrBuf sb = {0};
  sb_printf(&sb, "%s", "");
  for (const char *p = onnx; *p && sb.len < 40; p++) {
    if (ident_char(*p, false))
      sb_printf(&sb, "%c", *p);
    else if (sb.len && sb.data[sb.len - 1] != '_')
      sb_printf(&sb, "_");
  }
  while (sb.len && sb.data[sb.len - 1] == '_')
    sb.data[--sb.len] = 0;
  const char *base = sb.data[0] == '_' ? sb.data + strspn(sb.data, "_") : sb.data;
  if (!*base)
    base = fallback;
  else if (!ident_char(*base, true))
    base = arena_printf("v%s", base);
  const char *name = base;
  for (int k = 2; strmap_get(&im->used, name) || op_lookup(name) >= 0; k++)
    name = arena_printf("%s_%d", base, k);
  *strmap_slot(&im->used, name) = (void *)name;
  return name;
}

/* Whether s is a .nn layer name (docs/language.md section 5). */
static bool layer_name_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > 64)
    return false;
  bool start = true;
  for (const char *p = s; *p; p++) {
    if (*p == '.') {
      if (start)
        return false;
      start = true;
    } else if (!ident_char(*p, start)) {
      return false;
    } else {
      start = false;
    }
  }
  return !start;
}

/* The layer's name: the prefix of its weight's initializer name
 * ("conv1.weight" -> conv1, PyTorch's module names), else the node's name,
 * else <op><k>, whichever is first a valid, unused layer name. */
static const char *layer_name(Importer *im, const char *weight, const char *op) {
  const char *cands[2] = {NULL, im->node->name};
  size_t n = weight ? strlen(weight) : 0;
  if (n > 7 && !strcmp(weight + n - 7, ".weight"))
    cands[0] = arena_strndup(weight, n - 7);
  for (int i = 0; i < 2; i++)
    if (cands[i] && layer_name_ok(cands[i]) && !strmap_get(&im->used, cands[i])) {
      *strmap_slot(&im->used, cands[i]) = (void *)cands[i];
      return cands[i];
    }
  for (int k = 0;; k++) {
    const char *s = arena_printf("%s%d", op, k);
    if (!strmap_get(&im->used, s)) {
      *strmap_slot(&im->used, s) = (void *)s;
      return s;
    }
  }
}

/* ------------------------------------------------------------- tensors */

/* A constant from an initializer or a Constant's value; NULL after an
 * error (a type or storage nncc does not read). */
static Val *tensor_val(Importer *im, const Onnx__TensorProto *t) {
  const char *name = shown(t->name ? t->name : "");
  if (t->n_dims > MAX_RANK + 1) {
    fail(im, "tensor '%s' has %zu dimensions (at most %d)", name, t->n_dims, MAX_RANK + 1);
    return NULL;
  }
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    fail(im, "tensor '%s' is stored outside the file (external data is not read)", name);
    return NULL;
  }
  Val *v = arena_alloc(sizeof *v);
  v->rank = (int)t->n_dims;
  v->numel = 1;
  for (size_t d = 0; d < t->n_dims; d++) {
    if (t->dims[d] < 0 || t->dims[d] > MAX_ELEMS) {
      fail(im, "tensor '%s' has a dimension of %lld", name, (long long)t->dims[d]);
      return NULL;
    }
    v->dims[d] = t->dims[d];
    v->numel *= t->dims[d];
    if (v->numel > MAX_ELEMS) {
      fail(im, "tensor '%s' is too large", name);
      return NULL;
    }
  }
  size_t n = (size_t)v->numel;
  if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    v->data = arena_alloc(n * sizeof(float) + 1);
    if (t->has_raw_data && t->raw_data.len == n * 4) {
      for (size_t i = 0; i < n; i++) {  /* little-endian, whatever the machine */
        const uint8_t *b = t->raw_data.data + 4 * i;
        uint32_t u = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&v->data[i], &u, 4);
      }
    } else if (!t->has_raw_data && t->n_float_data == n) {
      memcpy(v->data, t->float_data, n * sizeof(float));
    } else {
      fail(im, "tensor '%s' holds %zu values for its %zu elements", name,
           t->has_raw_data ? t->raw_data.len / 4 : t->n_float_data, n);
      return NULL;
    }
  } else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
    v->ints = arena_alloc(n * sizeof(int64_t) + 1);
    if (t->has_raw_data && t->raw_data.len == n * 8) {
      for (size_t i = 0; i < n; i++) {
        uint64_t u = 0;
        for (int k = 7; k >= 0; k--)
          u = u << 8 | t->raw_data.data[8 * i + k];
        v->ints[i] = (int64_t)u;
      }
    } else if (!t->has_raw_data && t->n_int64_data == n) {
      memcpy(v->ints, t->int64_data, n * sizeof(int64_t));
    } else {
      fail(im, "tensor '%s' holds the wrong number of values", name);
      return NULL;
    }
  } else {
    fail(im, "tensor '%s' is of ONNX data type %d: only float32 (and int64 shapes) are read", name,
         (int)t->data_type);
    return NULL;
  }
  return v;
}

/* The node's input i: NULL (and, if required, an error) when absent. */
static Val *input(Importer *im, size_t i, bool required) {
  const Onnx__NodeProto *n = im->node;
  if (i >= n->n_input || !*n->input[i]) {
    if (required)
      fail(im, "input %zu is missing", i);
    return NULL;
  }
  Val *v = strmap_get(&im->vals, n->input[i]);
  if (!v)
    fail(im, "input '%s' is not defined before the node", shown(n->input[i]));
  return v;
}

/* A constant input (a weight); an error if it is a value. */
static Val *const_input(Importer *im, size_t i, bool required, const char *what) {
  Val *v = input(im, i, required);
  if (v && v->nn) {
    fail(im, "%s ('%s') is computed by the graph, not a constant: nncc's weights are parameters "
         "(make it an initializer)", what, shown(im->node->input[i]));
    return NULL;
  }
  return v;
}

/* A value input of per-sample rank in [lo, hi] (0: any). */
static Val *value_input(Importer *im, size_t i, int lo, int hi) {
  Val *v = input(im, i, true);
  if (!v)
    return NULL;
  if (!v->nn) {
    fail(im, "input '%s' is a constant: nncc computes only on the model's inputs",
         shown(im->node->input[i]));
    return NULL;
  }
  if (lo && v->flat) {
    fail(im, "input '%s' is held flat (f32[%lld]) for ONNX's rank-%d shape; only elementwise ops, "
         "Flatten and Reshape to [N, -1] may read it", shown(im->node->input[i]),
         (long long)v->dims[0], v->onnx_rank + 1);
    return NULL;
  }
  if (lo && (v->rank < lo || v->rank > hi)) {
    const char *what = lo == 3 && hi == 3 ? " (2-D images [N, C, H, W]: 1-D and 3-D are not supported)" : "";
    fail(im, "input '%s' has rank %d; nncc's op takes rank %d%s%s", shown(im->node->input[i]),
         v->rank + 1, lo + 1, hi > lo ? " or more" : "", what);
    return NULL;
  }
  return v;
}

static const Onnx__AttributeProto *attr(const Importer *im, const char *name) {
  for (size_t i = 0; i < im->node->n_attribute; i++)
    if (!strcmp(im->node->attribute[i]->name, name))
      return im->node->attribute[i];
  return NULL;
}
static int64_t attr_i(const Importer *im, const char *name, int64_t def) {
  const Onnx__AttributeProto *a = attr(im, name);
  return a ? a->i : def;
}
static double attr_f(const Importer *im, const char *name, double def) {
  const Onnx__AttributeProto *a = attr(im, name);
  return a ? a->f : def;
}
/* An ints attribute of n values (each def if absent); false after an error. */
static bool attr_ints(Importer *im, const char *name, int n, int64_t def, int64_t *out) {
  const Onnx__AttributeProto *a = attr(im, name);
  for (int i = 0; i < n; i++)
    out[i] = def;
  if (!a)
    return true;
  if ((int)a->n_ints != n)
    return fail(im, "%s has %zu values, expected %d", name, a->n_ints, n);
  for (int i = 0; i < n; i++)
    out[i] = a->ints[i];
  return true;
}

/* Every attribute the node has must be one of names (NULL-ended). */
static bool known_attrs(Importer *im, const char *const *names) {
  for (size_t i = 0; i < im->node->n_attribute; i++) {
    const char *a = im->node->attribute[i]->name;
    bool ok = false;
    for (int k = 0; names[k] && !ok; k++)
      ok = !strcmp(a, names[k]);
    if (!ok)
      return fail(im, "attribute %s is not supported", shown(a));
  }
  return true;
}

/* The node's output i as a new value named after it, the .nn line
 * `name = expr` appended; returns the value. */
static Val *define(Importer *im, size_t i, const char *expr, int rank, const int64_t *dims) {
  Val *v = arena_alloc(sizeof *v);
  v->nn = value_name(im, im->node->output[i], "x");
  v->rank = rank;
  memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
  v->onnx_rank = rank;
  memcpy(v->onnx_dims, dims, sizeof(int64_t) * (size_t)rank);
  v->op = im->node->op_type;
  *strmap_slot(&im->vals, im->node->output[i]) = v;
  sb_printf(&im->body, "%s = %s\n", v->nn, expr);
  return v;
}

/* Output i of the node is value v under another name (Identity...). */
static void alias(Importer *im, size_t i, Val *v) {
  *strmap_slot(&im->vals, im->node->output[i]) = v;
}

static void add_tensor(Importer *im, const char *layer, const char *role, int rank,
                       const int64_t *dims, float *data) {
  Tensor *t = arena_alloc(sizeof *t);
  t->name = arena_printf("%s.%s", layer, role);
  t->rank = rank;
  memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
  t->data = data;
  vec_push(&im->tensors, t);
}

/* Only the node's first n outputs may be used by the graph. */
static bool outputs_at_most(Importer *im, size_t n, const char *why) {
  for (size_t i = n; i < im->node->n_output; i++)
    if (*im->node->output[i])
      return fail(im, "output %zu (%s) is not supported", i, why);
  return true;
}

static bool same_dims(int ra, const int64_t *a, int rb, const int64_t *b) {
  if (ra != rb)
    return false;
  for (int i = 0; i < ra; i++)
    if (a[i] != b[i])
      return false;
  return true;
}

static const char *dims_str(int rank, const int64_t *dims, bool batch) {
  StrBuf sb = {0};
  sb_printf(&sb, "[%s", batch ? "N" : "");
  for (int i = 0; i < rank; i++)
    sb_printf(&sb, "%s%lld", i || batch ? ", " : "", (long long)dims[i]);
  sb_printf(&sb, "]");
  return sb.data;
}

/* --------------------------------------------------------------- ops */

/* Gemm(A, B, C) = alpha * A' B' + beta * C -> linear; MatMul(A, B) too
 * (alpha 1, no C), its bias from the Add after it (map_add). */
static bool map_gemm(Importer *im, bool matmul) {
  static const char *const names[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
  if (!known_attrs(im, names))
    return false;
  Val *a = value_input(im, 0, 1, 1);
  Val *b = a ? const_input(im, 1, true, "B") : NULL;
  Val *c = b && !matmul ? const_input(im, 2, false, "C") : NULL;
  if (!b || im->failed)
    return false;
  if (attr_i(im, "transA", 0))
    return fail(im, "transA=1 (the batch as A's columns) is not supported");
  bool tb = attr_i(im, "transB", 0) != 0;
  double alpha = attr_f(im, "alpha", 1), beta = attr_f(im, "beta", 1);
  int64_t in = a->dims[0];
  if (b->rank != 2 || b->dims[tb ? 1 : 0] != in)
    return fail(im, "B of shape %s does not take A's %lld features%s", dims_str(b->rank, b->dims, false),
                (long long)in, matmul ? " (MatMul is mapped for [N, K] x [K, M] only)" : "");
  int64_t out = b->dims[tb ? 0 : 1];
  /* PyTorch's layout, [out, in] */
  float *w = arena_alloc(sizeof(float) * (size_t)(out * in));
  for (int64_t o = 0; o < out; o++)
    for (int64_t i = 0; i < in; i++)
      w[o * in + i] = (float)(alpha * b->data[tb ? o * in + i : i * out + o]);
  float *bias = NULL;
  if (c) {
    bool scalar = c->numel == 1 && c->rank <= 2;
    bool row = (c->rank == 1 && c->dims[0] == out) || (c->rank == 2 && c->dims[0] == 1 && c->dims[1] == out);
    if (!scalar && !row)
      return fail(im, "C of shape %s is not a bias (one value, or [%lld] or [1, %lld])",
                  dims_str(c->rank, c->dims, false), (long long)out, (long long)out);
    bias = arena_alloc(sizeof(float) * (size_t)out);
    for (int64_t o = 0; o < out; o++)
      bias[o] = (float)(beta * c->data[scalar ? 0 : o]);
  }
  const char *layer = layer_name(im, im->node->input[1], "linear");
  int64_t wd[2] = {out, in};
  add_tensor(im, layer, "weight", 2, wd, w);
  if (bias)
    add_tensor(im, layer, "bias", 1, &out, bias);
  define(im, 0, arena_printf("linear(%s, %lld%s, name=\"%s\")", a->nn, (long long)out,
                             bias ? "" : ", bias=false", layer), 1, &out);
  return true;
}

/* Explicit pads [t, l, b, r] from pads/auto_pad, for kernel k (dilated
 * extent), stride s over input in[2]; false after an error. */
static bool spatial_pads(Importer *im, const int64_t *in, const int64_t *ext, const int64_t *s,
                         int64_t pads[4]) {
  const Onnx__AttributeProto *ap = attr(im, "auto_pad");
  char mode[16] = "NOTSET";
  if (ap && ap->has_s) {
    size_t n = ap->s.len < sizeof mode - 1 ? ap->s.len : sizeof mode - 1;
    memcpy(mode, ap->s.data, n);
    mode[n] = 0;
  }
  if (!strcmp(mode, "NOTSET"))
    return attr_ints(im, "pads", 4, 0, pads);
  if (attr(im, "pads"))
    return fail(im, "both pads and auto_pad=%s", shown(mode));
  for (int d = 0; d < 2; d++) {
    int64_t total = 0;
    if (strcmp(mode, "VALID")) {
      if (strcmp(mode, "SAME_UPPER") && strcmp(mode, "SAME_LOWER"))
        return fail(im, "auto_pad=%s is not an ONNX auto_pad", shown(mode));
      int64_t out = (in[d] + s[d] - 1) / s[d];
      total = (out - 1) * s[d] + ext[d] - in[d];
      if (total < 0)
        total = 0;
    }
    int64_t small = total / 2, big = total - small;
    bool upper = !strcmp(mode, "SAME_UPPER");
    pads[d] = upper ? small : big;
    pads[d + 2] = upper ? big : small;
  }
  return true;
}

/* "pad=[1, 2]" for symmetric pads, "pad=same" where nncc's same gives
 * these pads (stride 1), else an error. */
static const char *pad_arg(Importer *im, const int64_t pads[4], const int64_t *ext, const int64_t *s,
                           bool same_ok) {
  for (int i = 0; i < 4; i++)
    if (pads[i] < 0) {
      fail(im, "negative pads are not supported");
      return NULL;
    }
  if (pads[0] == pads[2] && pads[1] == pads[3])
    return pads[0] || pads[1] ? arena_printf(", pad=[%lld, %lld]", (long long)pads[0], (long long)pads[1]) : "";
  bool same = same_ok && s[0] == 1 && s[1] == 1;
  for (int d = 0; d < 2 && same; d++)
    same = pads[d] == (ext[d] - 1) / 2 && pads[d + 2] == ext[d] - 1 - (ext[d] - 1) / 2;
  if (same)
    return ", pad=same";
  fail(im, "asymmetric pads [%lld, %lld, %lld, %lld] (top, left, bottom, right) are not supported",
       (long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3]);
  return NULL;
}

static bool map_conv(Importer *im) {
  static const char *const names[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
  if (!known_attrs(im, names))
    return false;
  Val *x = value_input(im, 0, 3, 3);
  Val *w = x ? const_input(im, 1, true, "W") : NULL;
  Val *b = w ? const_input(im, 2, false, "B") : NULL;
  if (!w || im->failed)
    return false;
  int64_t groups = attr_i(im, "group", 1), k[2], s[2], dil[2], pads[4];
  if (w->rank != 4)
    return fail(im, "W of shape %s: only 2-D convolutions are supported", dims_str(w->rank, w->dims, false));
  int64_t c = x->dims[0], f = w->dims[0];
  if (groups < 1 || c % groups || f % groups || w->dims[1] != c / groups)
    return fail(im, "W of shape %s does not fit %lld input channels in %lld groups",
                dims_str(4, w->dims, false), (long long)c, (long long)groups);
  if (!attr_ints(im, "kernel_shape", 2, 0, k) || !attr_ints(im, "strides", 2, 1, s) ||
      !attr_ints(im, "dilations", 2, 1, dil))
    return false;
  if ((k[0] && k[0] != w->dims[2]) || (k[1] && k[1] != w->dims[3]))
    return fail(im, "kernel_shape disagrees with W");
  k[0] = w->dims[2], k[1] = w->dims[3];
  if (s[0] < 1 || s[1] < 1 || dil[0] < 1 || dil[1] < 1)
    return fail(im, "strides and dilations must be at least 1");
  int64_t ext[2] = {dil[0] * (k[0] - 1) + 1, dil[1] * (k[1] - 1) + 1};
  if (!spatial_pads(im, x->dims + 1, ext, s, pads))
    return false;
  const char *pad = pad_arg(im, pads, ext, s, true);
  if (!pad)
    return false;
  if (b && (b->rank != 1 || b->dims[0] != f))
    return fail(im, "B of shape %s is not one bias per filter", dims_str(b->rank, b->dims, false));
  int64_t out[3] = {f, 0, 0};
  for (int d = 0; d < 2; d++) {
    out[d + 1] = (x->dims[d + 1] + pads[d] + pads[d + 2] - ext[d]) / s[d] + 1;
    if (x->dims[d + 1] + pads[d] + pads[d + 2] < ext[d])
      return fail(im, "the kernel is larger than the padded input");
  }
  const char *layer = layer_name(im, im->node->input[1], "conv2d");
  add_tensor(im, layer, "weight", 4, w->dims, w->data);
  if (b)
    add_tensor(im, layer, "bias", 1, &f, b->data);
  StrBuf e = {0};
  sb_printf(&e, "conv2d(%s, %lld, kernel=[%lld, %lld]", x->nn, (long long)f, (long long)k[0], (long long)k[1]);
  if (s[0] != 1 || s[1] != 1)
    sb_printf(&e, ", stride=[%lld, %lld]", (long long)s[0], (long long)s[1]);
  sb_printf(&e, "%s", pad);
  if (dil[0] != 1 || dil[1] != 1)
    sb_printf(&e, ", dilation=[%lld, %lld]", (long long)dil[0], (long long)dil[1]);
  if (groups != 1)
    sb_printf(&e, ", groups=%lld", (long long)groups);
  sb_printf(&e, "%s, name=\"%s\")", b ? "" : ", bias=false", layer);
  define(im, 0, e.data, 3, out);
  return true;
}

static bool map_batchnorm(Importer *im) {
  static const char *const names[] = {"epsilon", "momentum", "training_mode", "spatial", "is_test",
                                      "consumed_inputs", NULL};
  if (!known_attrs(im, names))
    return false;
  Val *x = value_input(im, 0, 1, 3);
  if (!x)
    return false;
  if (x->rank == 2)
    return fail(im, "input of rank 3 ([N, C, L]): nncc's batchnorm takes [N, C] or [N, C, H, W]");
  if (attr_i(im, "training_mode", 0))
    return fail(im, "training_mode=1 (batch statistics in the inference graph) is not supported");
  if (!attr_i(im, "spatial", 1))
    return fail(im, "spatial=0 (statistics per element, not per channel) is not supported");
  if (!outputs_at_most(im, 1, "training statistics"))
    return false;
  const char *role[4] = {"weight", "bias", "running_mean", "running_var"};
  Val *p[4];
  for (int i = 0; i < 4; i++) {
    if (!(p[i] = const_input(im, (size_t)i + 1, true, role[i])))
      return false;
    if (p[i]->rank != 1 || p[i]->dims[0] != x->dims[0])
      return fail(im, "%s of shape %s is not one value per channel (%lld)", role[i],
                  dims_str(p[i]->rank, p[i]->dims, false), (long long)x->dims[0]);
  }
  for (int64_t i = 0; i < x->dims[0]; i++)
    if (!(p[3]->data[i] >= 0))
      return fail(im, "running_var holds %g", p[3]->data[i]);
  double eps = attr_f(im, "epsilon", 1e-5), mom = 1 - attr_f(im, "momentum", 0.9);
  if (!(eps >= 1e-30))
    return fail(im, "epsilon=%g (nncc's is at least 1e-30)", eps);
  if (!(mom >= 0 && mom <= 1))
    return fail(im, "momentum=%g is outside [0, 1]", 1 - mom);
  const char *layer = layer_name(im, im->node->input[1], "batchnorm");
  for (int i = 0; i < 4; i++)
    add_tensor(im, layer, role[i], 1, x->dims, p[i]->data);
  /* ONNX's momentum weighs the running value, PyTorch's and nncc's the batch */
  define(im, 0, arena_printf("batchnorm(%s, momentum=%s, eps=%s, name=\"%s\")", x->nn,
                             fmt_float((float)mom), fmt_float((float)eps), layer), x->rank, x->dims);
  return true;
}

static bool map_pool(Importer *im, bool avg) {
  static const char *const names[] = {"auto_pad", "ceil_mode", "count_include_pad", "dilations",
                                      "kernel_shape", "pads", "storage_order", "strides", NULL};
  if (!known_attrs(im, names) || !outputs_at_most(im, 1, "the indices of the maxima"))
    return false;
  Val *x = value_input(im, 0, 3, 3);
  if (!x)
    return false;
  int64_t k[2], s[2], dil[2], pads[4];
  if (!attr(im, "kernel_shape") || !attr_ints(im, "kernel_shape", 2, 1, k) || !attr_ints(im, "strides", 2, 1, s) ||
      !attr_ints(im, "dilations", 2, 1, dil))
    return im->failed ? false : fail(im, "kernel_shape is missing");
  if (dil[0] != 1 || dil[1] != 1)
    return fail(im, "dilations [%lld, %lld]: nncc's pools are not dilated", (long long)dil[0], (long long)dil[1]);
  if (k[0] < 1 || k[1] < 1 || s[0] < 1 || s[1] < 1)
    return fail(im, "kernel_shape and strides must be at least 1");
  if (!spatial_pads(im, x->dims + 1, k, s, pads))
    return false;
  const char *pad = pad_arg(im, pads, k, s, false);
  if (!pad)
    return false;
  for (int d = 0; d < 2; d++)
    if (pads[d] > k[d] / 2)
      return fail(im, "pads %lld exceed half the window (%lld), nncc's (and PyTorch's) limit",
                  (long long)pads[d], (long long)k[d]);
  if (avg && (pads[0] || pads[1]) && !attr_i(im, "count_include_pad", 0))
    return fail(im, "count_include_pad=0 with pads: nncc's avgpool counts the padding in the mean");
  int64_t out[3] = {x->dims[0], 0, 0};
  for (int d = 0; d < 2; d++) {
    int64_t span = x->dims[d + 1] + 2 * pads[d] - k[d];
    if (span < 0)
      return fail(im, "the window is larger than the padded input");
    out[d + 1] = span / s[d] + 1;
    /* ceil_mode adds a last window where one would start inside the input */
    if (attr_i(im, "ceil_mode", 0) && span % s[d] && (span / s[d] + 1) * s[d] < x->dims[d + 1] + pads[d])
      return fail(im, "ceil_mode=1 gives a larger output here; nncc's pools round down");
  }
  StrBuf e = {0};
  sb_printf(&e, "%s(%s, [%lld, %lld], stride=[%lld, %lld]%s)", avg ? "avgpool" : "maxpool", x->nn,
            (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1], pad);
  define(im, 0, e.data, 3, out);
  return true;
}

/* An axis of an ONNX tensor of per-sample rank r as nncc's (per sample);
 * -1 after an error (the batch, or out of range). */
static int sample_axis(Importer *im, int64_t axis, int r) {
  if (axis < 0)
    axis += r + 1;
  if (axis < 0 || axis > r) {
    fail(im, "axis %lld is out of range", (long long)axis);
    return -1;
  }
  if (axis == 0) {
    fail(im, "axis 0 is the batch dimension: nncc works per sample");
    return -1;
  }
  return (int)axis - 1;
}

static bool map_softmax(Importer *im, bool log) {
  static const char *const names[] = {"axis", NULL};
  if (!known_attrs(im, names))
    return false;
  Val *x = value_input(im, 0, 0, 0);
  if (!x)
    return false;
  int r = x->flat ? x->onnx_rank : x->rank;
  bool old = im->opset < 13;  /* before 13: over all axes from axis on */
  int axis = sample_axis(im, attr_i(im, "axis", old ? 1 : -1), r);
  if (axis < 0)
    return false;
  const char *op = log ? "log_softmax" : "softmax";
  Val *v;
  if (x->flat || (old && axis < r - 1)) {
    if (axis != 0)
      return fail(im, "axis %d over the trailing %d axes (opset < 13's flattening) is not supported",
                  axis + 1, r - axis);
    /* over every per-sample element: on the flattened value */
    int64_t n = 1;
    for (int i = 0; i < r; i++)
      n *= x->flat ? x->onnx_dims[i] : x->dims[i];
    v = define(im, 0, x->rank > 1 ? arena_printf("%s(flatten(%s))", op, x->nn) : arena_printf("%s(%s)", op, x->nn),
               1, &n);
    if (x->rank > 1 || x->flat) {
      v->flat = r > 1;
      v->onnx_rank = r;
      memcpy(v->onnx_dims, x->flat ? x->onnx_dims : x->dims, sizeof(int64_t) * (size_t)r);
    }
  } else {
    v = define(im, 0, axis == r - 1 ? arena_printf("%s(%s, axis=-1)", op, x->nn)
                                    : arena_printf("%s(%s, axis=%d)", op, x->nn, axis),
               x->rank, x->dims);
  }
  v->src = x;
  return true;
}

/* Flatten(axis=1) and Reshape to [N, -1]: nncc's flatten. */
static bool map_flatten(Importer *im, Val *x) {
  int64_t n = 1;
  for (int i = 0; i < x->rank; i++)
    n *= x->dims[i];
  if (x->rank == 1) {  /* already flat: the same value */
    Val *v = arena_alloc(sizeof *v);
    *v = *x;
    v->flat = false;
    v->onnx_rank = 1;
    v->onnx_dims[0] = n;
    alias(im, 0, v);
    return true;
  }
  define(im, 0, arena_printf("flatten(%s)", x->nn), 1, &n);
  return true;
}

static bool map_reshape(Importer *im, int64_t batch) {
  static const char *const names[] = {"allowzero", NULL};
  if (!known_attrs(im, names))
    return false;
  Val *x = value_input(im, 0, 0, 0);
  Val *sh = x ? const_input(im, 1, true, "shape") : NULL;
  if (!sh)
    return false;
  if (!sh->ints || sh->rank != 1)
    return fail(im, "shape is not a list of int64");
  int64_t n = 1;
  for (int i = 0; i < x->rank; i++)
    n *= x->dims[i];
  bool zero = !attr_i(im, "allowzero", 0);
  const int64_t *s = sh->ints;
  bool first = (zero && s[0] == 0) || (s[0] == -1 && sh->numel == 2 && s[1] == n) || (batch > 0 && s[0] == batch);
  if (sh->numel != 2 || !first || !(s[1] == -1 || s[1] == n)) {
    StrBuf sb = {0};
    for (int64_t i = 0; i < sh->numel; i++)
      sb_printf(&sb, "%s%lld", i ? ", " : "", (long long)s[i]);
    return fail(im, "Reshape to [%s] is not supported (only to [N, -1]: nncc's flatten)", sb.data ? sb.data : "");
  }
  return map_flatten(im, x);
}

/* A constant c that normalize can apply to x: one number, or one per
 * channel (x's first per-sample dimension) as [C], [C, 1...] or
 * [1, C, 1...]; its values (count in *n); NULL after an error. */
static const float *channel_const(Importer *im, const Val *x, const Val *c, int *n) {
  if (c->numel == 1) {
    *n = 1;
    return c->data;
  }
  int64_t ch = x->dims[0];
  /* its dims without a leading 1, right-aligned against x's (batch included) */
  int r = c->rank;
  const int64_t *d = c->dims;
  if (r == x->rank + 1 && d[0] == 1)
    d++, r--;
  bool ok = r == x->rank && d[0] == ch && c->numel == ch && ch <= MAX_LIST;
  if (!ok || !c->data) {
    fail(im, "a constant of shape %s with a value of shape %s: only one number or one per channel "
         "(at most %d) is supported", dims_str(c->rank, c->dims, false), dims_str(x->rank, x->dims, true), MAX_LIST);
    return NULL;
  }
  *n = (int)ch;
  return c->data;
}

static const char *num_list(const float *v, int n, double scale, bool invert) {
  StrBuf sb = {0};
  sb_printf(&sb, "%s", n > 1 ? "[" : "");
  for (int i = 0; i < n; i++)
    sb_printf(&sb, "%s%s", i ? ", " : "", fmt_float((float)(invert ? 1 / (scale * v[i]) : scale * v[i])));
  sb_printf(&sb, "%s", n > 1 ? "]" : "");
  return sb.data;
}

/* Add/Sub/Div: add(a, b) of two values of one shape; with a constant,
 * normalize(x, mean, std) ((x - mean) / std, exact for x + c as mean -c,
 * x - c, x / c with c > 0; a Sub whose one reader is a Div by a constant
 * becomes one normalize). */
static bool map_arith(Importer *im, const Onnx__GraphProto *g, size_t index) {
  const char *op = im->node->op_type;
  Val *a = input(im, 0, true), *b = a ? input(im, 1, true) : NULL;
  if (!b)
    return false;
  if (im->node->n_attribute)
    return fail(im, "attribute %s (legacy broadcasting) is not supported", shown(im->node->attribute[0]->name));
  if (a->nn && b->nn) {
    if (strcmp(op, "Add"))
      return fail(im, "both operands are computed: only a constant %s is supported",
                  strcmp(op, "Sub") ? "divisor" : "subtrahend");
    if (a->flat || b->flat || !same_dims(a->rank, a->dims, b->rank, b->dims))
      return fail(im, "shapes %s and %s differ: nncc's add does not broadcast",
                  dims_str(a->rank, a->dims, true), dims_str(b->rank, b->dims, true));
    define(im, 0, arena_printf("add(%s, %s)", a->nn, b->nn), a->rank, a->dims);
    return true;
  }
  if (!a->nn && !b->nn)
    return fail(im, "both operands are constants (constant folding is not supported)");
  if (!a->nn && strcmp(op, "Add"))
    return fail(im, "the constant is the first operand: only x %s c is supported", strcmp(op, "Sub") ? "/" : "-");
  Val *x = a->nn ? a : b, *c = a->nn ? b : a;
  if (!value_input(im, a->nn ? 0 : 1, 1, MAX_RANK))
    return false;
  int n;
  const float *cv = channel_const(im, x, c, &n);
  if (!cv)
    return false;
  const char *mean = "0", *std = "1";
  if (!strcmp(op, "Div")) {
    for (int i = 0; i < n; i++)
      if (!(cv[i] >= 1e-30f) || !isfinite(cv[i]))
        return fail(im, "the divisor %g is not a positive number (normalize's std)", cv[i]);
    std = num_list(cv, n, 1, false);
  } else {
    mean = num_list(cv, n, !strcmp(op, "Add") ? -1 : 1, false);
    /* a Div by a constant that reads only this Sub folds in */
    const Onnx__NodeProto *next = index + 1 < g->n_node ? g->node[index + 1] : NULL;
    Val *nc = NULL;
    int nn = 0;
    const char *out = im->node->output[0];
    if (!strcmp(op, "Sub") && next && !strcmp(next->op_type, "Div") && next->n_input == 2 &&
        !strcmp(next->input[0], out) && !next->n_attribute &&
        (nc = strmap_get(&im->vals, next->input[1])) && !nc->nn && nc->data &&
        ((Val *)strmap_get(&im->vals, out) == NULL)) {
      int users = 0;
      for (size_t k = 0; k < g->n_node; k++)
        for (size_t i = 0; i < g->node[k]->n_input; i++)
          users += !strcmp(g->node[k]->input[i], out);
      for (size_t k = 0; k < g->n_output; k++)
        users += !strcmp(g->output[k]->name, out);
      bool pos = true;
      if (users == 1 && channel_const(im, x, nc, &nn) && (nn == n || nn == 1 || n == 1)) {
        for (int i = 0; i < nn; i++)
          pos &= cv && nc->data[i] >= 1e-30f && isfinite(nc->data[i]);
        if (pos && nn == n) {
          std = num_list(nc->data, nn, 1, false);
          im->node = next;  /* the Div's output is the normalize */
        }
      }
      if (im->failed)
        return false;
    }
  }
  define(im, 0, arena_printf("normalize(%s, mean=%s, std=%s)", x->nn, mean, std), x->rank, x->dims);
  return true;
}

static bool map_concat(Importer *im) {
  static const char *const names[] = {"axis", NULL};
  if (!known_attrs(im, names))
    return false;
  size_t n = im->node->n_input;
  if (n < 2 || n > 8)
    return fail(im, "%zu inputs: nncc's concat joins 2 to 8", n);
  Val *in[8];
  for (size_t i = 0; i < n; i++)
    if (!(in[i] = value_input(im, i, 1, MAX_RANK)))
      return false;
  if (!attr(im, "axis") && im->opset >= 4)
    return fail(im, "the axis attribute is missing");
  int axis = sample_axis(im, attr_i(im, "axis", 1), in[0]->rank);
  if (axis < 0)
    return false;
  int64_t dims[MAX_RANK];
  memcpy(dims, in[0]->dims, sizeof dims);
  StrBuf e = {0};
  sb_printf(&e, "concat(%s", in[0]->nn);
  for (size_t i = 1; i < n; i++) {
    bool ok = in[i]->rank == in[0]->rank;
    for (int d = 0; ok && d < in[0]->rank; d++)
      ok = d == axis || in[i]->dims[d] == dims[d];
    if (!ok)
      return fail(im, "shapes %s and %s do not join along axis %d", dims_str(in[0]->rank, dims, true),
                  dims_str(in[i]->rank, in[i]->dims, true), axis + 1);
    dims[axis] += in[i]->dims[axis];
    sb_printf(&e, ", %s", in[i]->nn);
  }
  sb_printf(&e, ", axis=%d)", axis);
  define(im, 0, e.data, in[0]->rank, dims);
  return true;
}

static bool map_dropout(Importer *im) {
  static const char *const names[] = {"ratio", "seed", "is_test", NULL};
  if (!known_attrs(im, names) || !outputs_at_most(im, 1, "the mask"))
    return false;
  Val *x = value_input(im, 0, 1, MAX_RANK);
  if (!x)
    return false;
  double p = attr_f(im, "ratio", 0.5);
  Val *r = im->node->n_input > 1 ? const_input(im, 1, false, "ratio") : NULL;
  Val *t = im->node->n_input > 2 ? const_input(im, 2, false, "training_mode") : NULL;
  if (im->failed)
    return false;
  if (r)
    p = r->data && r->numel == 1 ? r->data[0] : -1;
  if (t && (t->numel != 1 || (t->ints && t->ints[0]) || (t->data && t->data[0])))
    return fail(im, "training_mode=true (dropout at inference) is not supported");
  if (!(p >= 0 && p < 1))
    return fail(im, "ratio %g is outside [0, 1)", p);
  define(im, 0, arena_printf("dropout(%s, %s)", x->nn, fmt_float((float)p)), x->rank, x->dims);
  Val *v = strmap_get(&im->vals, im->node->output[0]);
  v->flat = x->flat, v->onnx_rank = x->onnx_rank;
  memcpy(v->onnx_dims, x->onnx_dims, sizeof v->onnx_dims);
  return true;
}

/* relu, sigmoid, tanh, leaky_relu: shape-free, so a flat value stays flat. */
static bool map_elementwise(Importer *im, const char *op) {
  static const char *const none[] = {NULL}, *const alpha[] = {"alpha", NULL};
  bool leaky = !strcmp(op, "leaky_relu");
  if (!known_attrs(im, leaky ? alpha : none))
    return false;
  Val *x = value_input(im, 0, 0, 0);
  if (!x)
    return false;
  Val *v = define(im, 0, leaky ? arena_printf("leaky_relu(%s, slope=%s)", x->nn, fmt_float((float)attr_f(im, "alpha", 0.01)))
                               : arena_printf("%s(%s)", op, x->nn), x->rank, x->dims);
  v->flat = x->flat, v->onnx_rank = x->onnx_rank;
  memcpy(v->onnx_dims, x->onnx_dims, sizeof v->onnx_dims);
  return true;
}

static bool map_node(Importer *im, const Onnx__GraphProto *g, size_t *index, int64_t batch) {
  const Onnx__NodeProto *n = im->node = g->node[*index];
  const char *op = n->op_type;
  if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx"))
    return fail(im, "domain '%s' is not supported", shown(n->domain));
  if (!n->n_output)
    return fail(im, "a node without outputs");
  sb_printf(&im->body, "# node '%s' (%s)\n", shown(n->name ? n->name : ""), shown(op));
  size_t before = im->body.len;
  bool ok;
  if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul"))
    ok = map_gemm(im, !strcmp(op, "MatMul"));
  else if (!strcmp(op, "Conv"))
    ok = map_conv(im);
  else if (!strcmp(op, "BatchNormalization"))
    ok = map_batchnorm(im);
  else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool"))
    ok = map_pool(im, !strcmp(op, "AveragePool"));
  else if (!strcmp(op, "GlobalAveragePool")) {
    Val *x = value_input(im, 0, 3, 3);
    ok = x && define(im, 0, arena_printf("global_avgpool(%s)", x->nn), 1, x->dims);
    if (ok) {
      Val *v = strmap_get(&im->vals, n->output[0]);
      int64_t d[3] = {x->dims[0], 1, 1};
      v->flat = true, v->onnx_rank = 3;
      memcpy(v->onnx_dims, d, sizeof d);
    }
  } else if (!strcmp(op, "Flatten")) {
    static const char *const names[] = {"axis", NULL};
    Val *x = known_attrs(im, names) ? value_input(im, 0, 0, 0) : NULL;
    int64_t axis = attr_i(im, "axis", 1);
    int r = x ? (x->flat ? x->onnx_rank : x->rank) : 0;
    ok = x && (axis == 1 || axis == -r || (r == 0 && axis == -1)
                   ? map_flatten(im, x)
                   : fail(im, "axis=%lld folds the batch dimension: only axis=1 is supported", (long long)axis));
  } else if (!strcmp(op, "Reshape"))
    ok = map_reshape(im, batch);
  else if (!strcmp(op, "Identity")) {
    Val *x = input(im, 0, true);
    if ((ok = x != NULL))
      alias(im, 0, x);
  } else if (!strcmp(op, "Dropout"))
    ok = map_dropout(im);
  else if (!strcmp(op, "Relu") || !strcmp(op, "Sigmoid") || !strcmp(op, "Tanh") || !strcmp(op, "LeakyRelu"))
    ok = map_elementwise(im, !strcmp(op, "Relu") ? "relu" : !strcmp(op, "Sigmoid") ? "sigmoid"
                             : !strcmp(op, "Tanh") ? "tanh" : "leaky_relu");
  else if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax"))
    ok = map_softmax(im, !strcmp(op, "LogSoftmax"));
  else if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Div")) {
    ok = map_arith(im, g, *index);
    if (im->node != n)  /* a Div folded in */
      (*index)++;
  } else if (!strcmp(op, "Concat"))
    ok = map_concat(im);
  else if (!strcmp(op, "Constant")) {
    const Onnx__AttributeProto *a = attr(im, "value");
    Val *v = a && a->t && n->n_attribute == 1 ? tensor_val(im, a->t) : NULL;
    if ((ok = v != NULL))
      alias(im, 0, v);
    else if (!im->failed)
      ok = fail(im, "only a Constant with a tensor value is supported");
  } else
    ok = fail(im, "op %s is not supported (docs/onnx.md lists the ops nncc imports)", shown(op));
  if (ok && im->body.len == before)  /* no line: drop the comment */
    im->body.len = before - strlen(arena_printf("# node '%s' (%s)\n", shown(n->name ? n->name : ""), shown(op))),
    im->body.data[im->body.len] = 0;
  return ok;
}

/* ------------------------------------------------------------ command */

static void import_usage(FILE *out) {
  fprintf(out,
          "usage: nncc import <model.onnx> -o <out.nn> [--name NAME] [--no-loss]\n"
          "\n"
          "Write the ONNX model as a .nn file and, beside it (out.ckpt), a checkpoint of\n"
          "its weights and batchnorm statistics that NAME_load (and nncc train --load)\n"
          "reads.  The model is named after out.nn's stem unless --name is given.  A\n"
          "classifier (one output f32[K]) gets a class label and a softmax_cross_entropy\n"
          "loss so that nncc train trains it; --no-loss leaves them out.  Ops and\n"
          "patterns nncc cannot express exactly are errors (docs/onnx.md).\n");
}

/* The model's name from OUT's stem; NULL after an error. */
static const char *model_name(const char *out, const char *given) {
  const char *name = given;
  if (!name) {
    const char *b = base_name(out), *dot = strrchr(b, '.');
    name = arena_strndup(b, dot && dot != b ? (size_t)(dot - b) : strlen(b));
  }
  bool ok = *name && ident_char(*name, true);
  for (const char *p = name; ok && *p; p++)
    ok = ident_char(*p, false);
  if (!ok) {
    error_plain("%s: '%s' is not a model name (letters, digits and _); give one with --name",
                given ? "--name" : out, shown(name));
    return NULL;
  }
  const char *why = c_name_reserved(name);
  if (why) {
    error_plain("%s: model name '%s' %s; give another with --name", given ? "--name" : out, name, why);
    return NULL;
  }
  return name;
}

/* The graph's inputs as .nn input lines; false after an error. */
static bool map_inputs(Importer *im, const Onnx__GraphProto *g, StrBuf *head, int64_t *batch) {
  StrMap inits = {0};
  for (size_t i = 0; i < g->n_initializer; i++)
    *strmap_slot(&inits, g->initializer[i]->name) = g->initializer[i];
  int ninputs = 0;
  for (size_t i = 0; i < g->n_input; i++) {
    const Onnx__ValueInfoProto *in = g->input[i];
    if (strmap_get(&inits, in->name))
      continue;  /* IR < 4 lists initializers as inputs too */
    const char *name = shown(in->name);
    const Onnx__TypeProto *t = in->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type->shape)
      return fail(im, "input '%s' is not a tensor of known shape", name);
    if (t->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
      return fail(im, "input '%s' is of ONNX data type %d: nncc's inputs are float32", name,
                  (int)t->tensor_type->elem_type);
    const Onnx__TensorShapeProto *s = t->tensor_type->shape;
    if (s->n_dim < 2 || s->n_dim > MAX_RANK + 1)
      return fail(im, "input '%s' has rank %zu: nncc takes [N, ...] with 1 to %d dimensions per sample",
                  name, s->n_dim, MAX_RANK);
    Val *v = arena_alloc(sizeof *v);
    v->rank = v->onnx_rank = (int)s->n_dim - 1;
    for (size_t d = 0; d < s->n_dim; d++) {
      const Onnx__TensorShapeProto__Dimension *dim = s->dim[d];
      bool known = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      if (d == 0) {
        if (known && *batch < 0)
          *batch = dim->dim_value;
        continue;
      }
      if (!known || dim->dim_value < 1 || dim->dim_value > MAX_ELEMS)
        return fail(im, "input '%s' has dimension %zu of unknown or bad size: nncc's shapes per sample are fixed",
                    name, d);
      v->dims[d - 1] = v->onnx_dims[d - 1] = dim->dim_value;
    }
    v->nn = value_name(im, in->name, "input");
    *strmap_slot(&im->vals, in->name) = v;
    sb_printf(head, "input %s : f32%s\n", v->nn, dims_str(v->rank, v->dims, false));
    ninputs++;
  }
  for (size_t i = 0; i < g->n_initializer; i++) {
    Val *v = tensor_val(im, g->initializer[i]);
    if (!v)
      return false;
    *strmap_slot(&im->vals, g->initializer[i]->name) = v;
  }
  if (!ninputs)
    return fail(im, "the graph has no input (nncc computes on its inputs)");
  return true;
}

/* The label and the loss a classifier gets (decision 341): the input of a
 * final softmax or log_softmax, else output 0 itself, as logits. */
static void add_loss(Importer *im, const Val *out, StrBuf *head, StrBuf *tail) {
  bool probs = out->op && (!strcmp(out->op, "Softmax") || !strcmp(out->op, "LogSoftmax")) && out->src;
  const Val *logits = probs ? out->src : out;
  if (out->rank != 1 || out->flat || logits->rank != 1 || logits->flat || out->dims[0] < 2) {
    sb_printf(tail, "\n# no loss: output %s is not f32[K] class scores; add a label and a loss to train it\n",
              out->nn);
    return;
  }
  const char *label = value_name(im, "target", "target");
  sb_printf(head, "label %s : class[%lld]\n", label, (long long)out->dims[0]);
  sb_printf(tail,
            "\n# Added by nncc import so that nncc train can train the model (--no-loss leaves it out):\n"
            "# class labels, and the cross-entropy of %s%s.\n"
            "loss softmax_cross_entropy(%s, %s)\n"
            "\n# The recipe nncc train uses when this block is absent; edit and uncomment it:\n"
            "# train {\n"
            "#   optimizer adam(lr=0.001)\n"
            "#   schedule constant\n"
            "#   batch 64\n"
            "#   epochs 10\n"
            "# }\n",
            logits->nn, probs ? arena_printf(", the input of the final %s", out->op) : " (the logits)",
            logits->nn, label);
}

int onnx_import_command(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *given = NULL;
  bool no_loss = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      import_usage(stdout);
      return 0;
    } else if ((!strcmp(a, "-o") || !strcmp(a, "--name")) && i + 1 < argc) {
      *(a[1] == 'o' ? &out : &given) = argv[++i];
    } else if (!strncmp(a, "--name=", 7)) {
      given = a + 7;
    } else if (!strcmp(a, "--no-loss")) {
      no_loss = true;
    } else if (a[0] == '-' && a[1]) {
      error_plain("nncc import: unknown option '%s'", shown(a));
      import_usage(stderr);
      return 1;
    } else if (!in) {
      in = a;
    } else {
      error_plain("nncc import: one ONNX model per run ('%s' and '%s')", shown(in), shown(a));
      return 1;
    }
  }
  if (!in || !out) {
    error_plain("nncc import: %s", in ? "no output: give -o OUT.nn" : "no ONNX model given");
    import_usage(stderr);
    return 1;
  }
  const char *name = model_name(out, given);
  if (!name)
    return 1;
  size_t olen = strlen(out);
  const char *stem = olen > 3 && !strcmp(out + olen - 3, ".nn") ? arena_strndup(out, olen - 3) : out;
  const char *ckpt = arena_printf("%s.ckpt", stem);
  const char *outs[] = {out, ckpt};
  if (!outputs_distinct(in, outs, 2))
    return 1;
  Onnx__ModelProto *m = onnx_read_model(in);
  if (!m)
    return 1;
  Importer im = {.path = in, .opset = onnx_opset(m, "")};
  const Onnx__GraphProto *g = m->graph;
  StrBuf head = {0}, tail = {0};
  sb_printf(&head, "# %s: imported by nncc import from %s (ONNX opset %lld)\nmodel %s\n\n", base_name(out),
            shown(base_name(in)), im.opset, name);
  sb_printf(&im.body, "%s", "");
  sb_printf(&tail, "%s", "");
  int64_t batch = -1;
  bool ok = map_inputs(&im, g, &head, &batch);
  for (size_t i = 0; ok && i < g->n_node; i++)
    ok = map_node(&im, g, &i, batch);
  im.node = NULL;
  if (ok && !g->n_output)
    ok = fail(&im, "the graph has no output");
  StrBuf outline = {0};
  Val *out0 = NULL;
  for (size_t i = 0; ok && i < g->n_output; i++) {
    Val *v = strmap_get(&im.vals, g->output[i]->name);
    if (!v)
      ok = fail(&im, "output '%s' is not computed by any node", shown(g->output[i]->name));
    else if (!v->nn)
      ok = fail(&im, "output '%s' is a constant: nncc's outputs are computed from the inputs",
                shown(g->output[i]->name));
    else
      sb_printf(&outline, "%s%s", i ? ", " : "output ", v->nn);
    out0 = i ? out0 : v;
  }
  if (ok && !no_loss)
    add_loss(&im, out0, &head, &tail);
  onnx__model_proto__free_unpacked(m, NULL);
  if (!ok)
    return 1;
  StrBuf text = {0};
  sb_printf(&text, "%s\n%s\n%s\n%s", head.data, im.body.data, outline.data, tail.data);

  /* Check the .nn as nncc will read it, then fill its checkpoint. */
  SrcFile *file = arena_alloc(sizeof *file);
  file->name = out;
  file->text = text.data;
  file->len = text.len;
  Options opt = {0};
  Graph *graph = compile_source(file, &opt, NULL);
  if (!graph) {
    diag_flush();
    error_plain("%s: internal error: the .nn written for it does not check (above); nothing written", in);
    return 2;
  }
  nnrt_npz z = {im.tensors.len, arena_alloc(sizeof(nnrt_npy) * (size_t)(im.tensors.len + 1))};
  for (int i = 0; i < im.tensors.len; i++) {
    const Tensor *t = im.tensors.data[i];
    nnrt_npy *a = &z.arrays[i];
    a->name = (char *)t->name;
    strcpy(a->descr, "f4");
    a->rank = t->rank;
    a->numel = 1;
    for (int d = 0; d < t->rank; d++)
      a->numel *= (a->dims[d] = t->dims[d]);
    a->data = arena_alloc(sizeof(double) * (size_t)(a->numel + 1));
    for (int64_t k = 0; k < a->numel; k++)
      a->data[k] = t->data[k];
  }
  ModelTensors w = {0};
  model_tensors_of(graph, &w);
  OutputFile files[2] = {{out, text.data, text.len}, {ckpt, NULL, 0}};
  ok = tensors_fill(&w, in, &z) && tensors_encode(&w, &files[1]) && write_outputs(files, 2);
  free(files[1].text);
  model_tensors_free(&w);
  return ok ? 0 : 1;
}
