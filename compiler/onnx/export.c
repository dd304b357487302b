/* export.c - nncc export MODEL.nn --load CKPT -o OUT.onnx (docs/onnx.md).
 *
 * Writes the graph the generated NAME_forward(training=0) runs as an ONNX
 * ModelProto at opset EXPORT_OPSET: one ONNX node per nncc op (two for
 * normalize and global_avgpool), named as --emit=summary names the node
 * (layers by their layer name); the checkpoint's tensors as initializers
 * named as --emit=params names them, batchnorms in eval form with their
 * running statistics (not folded, so a user sees the layers the .nn
 * wrote); dropout, the identity at inference, dropped.  Graph inputs and
 * outputs carry the .nn's names and the shape [N, per-sample dims...],
 * every value in between its shape as value_info (Netron shows them).
 *
 * The checkpoint is read by weights.c (libnnrt's loader, so a wrong file
 * gets the model's own errors); the file is packed in memory by protobuf-c
 * and written by write_outputs (a temporary file renamed over the target):
 * an error writes nothing. */
#include "onnx.h"

#include <stdlib.h>
#include <string.h>

/* The opset the graph is written at, and the IR version that goes with it
 * (ONNX 1.8: opset 13, IR 7): every onnxruntime since 1.6 runs it
 * (decision 360). */
enum { EXPORT_OPSET = 13, EXPORT_IR_VERSION = 7 };

static void export_usage(FILE *out) {
  fprintf(out,
          "usage: nncc export <model.nn> --load CKPT -o <out.onnx | ->\n"
          "\n"
          "Write the model's inference graph (forward with training=0: batchnorm with\n"
          "its running statistics, no dropout) with the checkpoint's weights as an\n"
          "ONNX model (opset %d), for Netron or any ONNX runtime.  Inputs and outputs\n"
          "keep the .nn's names, with the batch as a symbolic first dimension N;\n"
          "the weights are named as `nncc --emit=params` names them.\n",
          EXPORT_OPSET);
}

/* ------------------------------------------------------------ messages */

/* The graph being built: protobuf-c messages in the compiler's arena (freed
 * with it), growing arrays for the graph's repeated fields. */
typedef struct Export {
  const ModelTensors *w;
  const char **names;       /* value_names: node names per value id         */
  const char **tensor;      /* per value id: its ONNX tensor name           */
  StrMap taken;             /* tensor names used                            */
  StrMap added;             /* parameters written as initializers          */
  PtrVec nodes, inits, infos;
} Export;

static char *dup(const char *s) { return arena_strdup(s); }

/* A name no tensor has yet: want, or want_1, want_2... */
static const char *unique_name(Export *x, const char *want) {
  const char *name = want;
  for (int k = 1; strmap_get(&x->taken, name); k++)
    name = arena_printf("%s_%d", want, k);
  *strmap_slot(&x->taken, name) = (void *)name;
  return name;
}

static Onnx__AttributeProto *attr_new(const char *name, Onnx__AttributeProto__AttributeType type) {
  Onnx__AttributeProto *a = arena_alloc(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = dup(name);
  a->has_type = 1;
  a->type = type;
  return a;
}

static Onnx__AttributeProto *attr_i(const char *name, int64_t v) {
  Onnx__AttributeProto *a = attr_new(name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  a->has_i = 1;
  a->i = v;
  return a;
}

static Onnx__AttributeProto *attr_f(const char *name, double v) {
  Onnx__AttributeProto *a = attr_new(name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->has_f = 1;
  a->f = (float)v;
  return a;
}

static Onnx__AttributeProto *attr_ints(const char *name, int n, const int64_t *v) {
  Onnx__AttributeProto *a = attr_new(name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = (size_t)n;
  a->ints = arena_alloc(sizeof(int64_t) * (size_t)n);
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
  return a;
}

/* A pair attribute ([h, w]) from an nncc pair (Attr v[0..2)). */
static Onnx__AttributeProto *attr_pair(const char *name, const double *v) {
  int64_t p[2] = {(int64_t)v[0], (int64_t)v[1]};
  return attr_ints(name, 2, p);
}

/* Appends node op_type(inputs) -> output, named name, with attrs
 * (NULL-terminated). */
static void add_node(Export *x, const char *op_type, const char *name, const char *const *in,
                     int nin, const char *out, Onnx__AttributeProto *const *attrs) {
  Onnx__NodeProto *n = arena_alloc(sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = dup(op_type);
  n->name = dup(name);
  n->n_input = (size_t)nin;
  n->input = arena_alloc(sizeof(char *) * (size_t)(nin + 1));
  for (int i = 0; i < nin; i++)
    n->input[i] = dup(in[i]);
  n->n_output = 1;
  n->output = arena_alloc(sizeof(char *));
  n->output[0] = dup(out);
  while (attrs && attrs[n->n_attribute])
    n->n_attribute++;
  n->attribute = arena_alloc(sizeof(void *) * (n->n_attribute + 1));
  memcpy(n->attribute, attrs, sizeof(void *) * n->n_attribute);
  vec_push(&x->nodes, n);
}

/* An initializer: float tensor name of shape dims[0..rank), values v, as
 * raw little-endian bytes (as PyTorch writes them). */
static void add_init(Export *x, const char *name, int rank, const int64_t *dims, const float *v) {
  Onnx__TensorProto *t = arena_alloc(sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = dup(name);
  t->has_data_type = 1;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->n_dims = (size_t)rank;
  t->dims = arena_alloc(sizeof(int64_t) * (size_t)(rank + 1));
  int64_t numel = 1;
  for (int d = 0; d < rank; d++)
    numel *= (t->dims[d] = dims[d]);
  uint8_t *bytes = arena_alloc((size_t)numel * 4 + 1);
  for (int64_t i = 0; i < numel; i++) {
    uint32_t u;
    memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; b++)
      bytes[4 * i + b] = (uint8_t)(u >> (8 * b));
  }
  t->has_raw_data = 1;
  t->raw_data = (ProtobufCBinaryData){(size_t)numel * 4, bytes};
  vec_push(&x->inits, t);
}

/* A float tensor's ValueInfoProto: name, shape [N, ty's per-sample dims]. */
static Onnx__ValueInfoProto *value_info(const char *name, const Type *ty) {
  Onnx__TensorShapeProto *shape = arena_alloc(sizeof *shape);
  onnx__tensor_shape_proto__init(shape);
  shape->n_dim = (size_t)ty->rank + 1;
  shape->dim = arena_alloc(sizeof(void *) * shape->n_dim);
  for (int d = 0; d <= ty->rank; d++) {
    Onnx__TensorShapeProto__Dimension *dim = arena_alloc(sizeof *dim);
    onnx__tensor_shape_proto__dimension__init(dim);
    if (d == 0) {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dim->dim_param = dup("N");
    } else {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim->dim_value = ty->dims[d - 1];
    }
    shape->dim[d] = dim;
  }
  Onnx__TypeProto__Tensor *tt = arena_alloc(sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = shape;
  Onnx__TypeProto *type = arena_alloc(sizeof *type);
  onnx__type_proto__init(type);
  type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type->tensor_type = tt;
  Onnx__ValueInfoProto *vi = arena_alloc(sizeof *vi);
  onnx__value_info_proto__init(vi);
  vi->name = dup(name);
  vi->type = type;
  return vi;
}

/* --------------------------------------------------------------- the ops */

/* n's parameter of that role (weight, bias, running_mean...) as an
 * initializer (once: its name is its tensor's), or NULL if it has none. */
static const char *param_input(Export *x, const IrNode *n, const char *role) {
  for (int i = 0; i < n->nparams; i++) {
    const Param *p = n->params[i];
    if (strcmp(p->role, role))
      continue;
    if (!strmap_get(&x->added, p->name)) {
      *strmap_slot(&x->added, p->name) = (void *)p->name;
      add_init(x, p->name, p->rank, p->dims,
               (p->trainable ? x->w->params : x->w->buffers) + p->offset);
    }
    return p->name;
  }
  return NULL;
}

/* normalize's mean or std as an initializer that broadcasts against
 * [N, d0, ...]: a scalar, or one value per d0 as [d0, 1, ...]. */
static const char *normalize_const(Export *x, const IrNode *n, const char *what) {
  const Attr *a = attr_get(n, what);
  const Type *t = &n->in[0]->ty;
  int64_t dims[MAX_RANK] = {0};
  int rank = 0;
  if (a->n > 1) {
    rank = t->rank;
    dims[0] = a->n;
    for (int d = 1; d < rank; d++)
      dims[d] = 1;
  }
  float *v = arena_alloc(sizeof(float) * (size_t)a->n);
  for (int i = 0; i < a->n; i++)
    v[i] = (float)a->v[i];
  const char *name = unique_name(x, arena_printf("%s.%s", x->names[n->out->id], what));
  add_init(x, name, rank, dims, v);
  return name;
}

/* A per-sample axis (negative from the end) as ONNX's, after the batch. */
static int64_t onnx_axis(const IrNode *n) {
  int64_t axis = attr_int(n, "axis");
  return (axis < 0 ? axis + n->in[0]->ty.rank : axis) + 1;
}

/* The ONNX node(s) of inference node n, whose output is tensor out. */
static void export_node(Export *x, const IrNode *n, const char *out) {
  const char *name = x->names[n->out->id];
  const char *in[MAX_IN + 4];
  int nin = n->nin;
  for (int i = 0; i < n->nin; i++)
    in[i] = x->tensor[n->in[i]->id];
  Onnx__AttributeProto *at[8] = {0};
  switch (n->op) {
  case OP_NORMALIZE: {  /* (x - mean) / std, as the kernel computes it */
    const char *mid = unique_name(x, arena_printf("%s.centered", name));
    const char *sub[2] = {in[0], normalize_const(x, n, "mean")};
    add_node(x, "Sub", arena_printf("%s.sub", name), sub, 2, mid, NULL);
    const char *div[2] = {mid, normalize_const(x, n, "std")};
    add_node(x, "Div", name, div, 2, out, NULL);
    return;
  }
  case OP_LINEAR:
    in[nin++] = param_input(x, n, "weight");
    if ((in[nin] = param_input(x, n, "bias")))
      nin++;
    at[0] = attr_i("transB", 1);
    add_node(x, "Gemm", name, in, nin, out, at);
    return;
  case OP_CONV2D: {
    in[nin++] = param_input(x, n, "weight");
    if ((in[nin] = param_input(x, n, "bias")))
      nin++;
    int64_t pads[4];
    conv_pads(n, pads);  /* [top, left, bottom, right]: ONNX's order */
    at[0] = attr_pair("kernel_shape", attr_get(n, "kernel")->v);
    at[1] = attr_pair("strides", attr_get(n, "stride")->v);
    at[2] = attr_ints("pads", 4, pads);
    at[3] = attr_pair("dilations", attr_get(n, "dilation")->v);
    at[4] = attr_i("group", attr_int(n, "groups"));
    add_node(x, "Conv", name, in, nin, out, at);
    return;
  }
  case OP_BATCHNORM: {
    static const char *const roles[] = {"weight", "bias", "running_mean", "running_var"};
    for (int r = 0; r < 4; r++)
      in[nin++] = param_input(x, n, roles[r]);
    at[0] = attr_f("epsilon", attr_num(n, "eps"));
    at[1] = attr_f("momentum", 1 - attr_num(n, "momentum"));  /* ONNX weighs the old value */
    add_node(x, "BatchNormalization", name, in, nin, out, at);
    return;
  }
  case OP_MAXPOOL:
  case OP_AVGPOOL: {
    const double *p = attr_get(n, "pad")->v;
    int64_t stride[2], pads[4] = {(int64_t)p[0], (int64_t)p[1], (int64_t)p[0], (int64_t)p[1]};
    pool_stride(n, stride);
    at[0] = attr_pair("kernel_shape", attr_get(n, "size")->v);
    at[1] = attr_ints("strides", 2, stride);
    at[2] = attr_ints("pads", 4, pads);
    if (n->op == OP_AVGPOOL)
      at[3] = attr_i("count_include_pad", 1);  /* nncc's mean counts the padding */
    add_node(x, n->op == OP_MAXPOOL ? "MaxPool" : "AveragePool", name, in, nin, out, at);
    return;
  }
  case OP_GLOBAL_AVGPOOL: {  /* [N, C, 1, 1], then nncc's [N, C] */
    const char *mid = unique_name(x, arena_printf("%s.pooled", name));
    add_node(x, "GlobalAveragePool", arena_printf("%s.pool", name), in, 1, mid, NULL);
    at[0] = attr_i("axis", 1);
    add_node(x, "Flatten", name, &mid, 1, out, at);
    return;
  }
  case OP_FLATTEN:
    at[0] = attr_i("axis", 1);
    add_node(x, "Flatten", name, in, nin, out, at);
    return;
  case OP_RELU: add_node(x, "Relu", name, in, nin, out, NULL); return;
  case OP_SIGMOID: add_node(x, "Sigmoid", name, in, nin, out, NULL); return;
  case OP_TANH: add_node(x, "Tanh", name, in, nin, out, NULL); return;
  case OP_ADD: add_node(x, "Add", name, in, nin, out, NULL); return;
  case OP_LEAKY_RELU:
    at[0] = attr_f("alpha", attr_num(n, "slope"));
    add_node(x, "LeakyRelu", name, in, nin, out, at);
    return;
  case OP_SOFTMAX:
  case OP_LOG_SOFTMAX:
  case OP_CONCAT:
    at[0] = attr_i("axis", onnx_axis(n));
    add_node(x, n->op == OP_SOFTMAX ? "Softmax" : n->op == OP_LOG_SOFTMAX ? "LogSoftmax" : "Concat",
             name, in, nin, out, at);
    return;
  default:  /* a forward op of ops.def without a row here */
    internal_error("nncc export: no ONNX mapping for op %s", op_table[n->op]->name);
  }
}

/* ------------------------------------------------------------ the model */

/* The ModelProto of w's inference graph. */
static Onnx__ModelProto *export_model(const ModelTensors *w, const char *model, const char *ckpt) {
  const Graph *g = w->g;
  Export x = {.w = w, .names = value_names(g)};
  x.tensor = arena_alloc(sizeof(char *) * (size_t)(g->next_value_id + 1));
  Schedules s = schedules_of(g);
  /* The interface's names first: the .nn's inputs, then its outputs. */
  PtrVec ins = {0}, outs = {0};
  for (int i = 0; i < g->inputs.len; i++) {
    const IrNode *n = g->inputs.data[i];
    x.tensor[n->out->id] = unique_name(&x, n->io_name);
    vec_push(&ins, value_info(x.tensor[n->out->id], &n->out->ty));
  }
  const char **out_name = arena_alloc(sizeof(char *) * (size_t)(g->outputs.len + 1));
  for (int i = 0; i < g->outputs.len; i++) {
    const Value *v = g->outputs.data[i];
    if (v->def->op == OP_INPUT && v->name && !strcmp(v->name, x.tensor[v->id]))
      out_name[i] = x.tensor[v->id];  /* an input returned as it is, as ONNX allows */
    else
      out_name[i] = unique_name(&x, v->name ? v->name : arena_printf("output%d", i));
    vec_push(&outs, value_info(out_name[i], &v->ty));
  }
  const PtrVec *lists[2] = {&g->params, &g->buffers};
  for (int l = 0; l < 2; l++)  /* initializers keep their own names */
    for (int i = 0; i < lists[l]->len; i++) {
      const char *name = ((const Param *)lists[l]->data[i])->name;
      *strmap_slot(&x.taken, name) = (void *)name;
    }
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.data[i];
    if (n->backward || n->op == OP_INPUT || !runs_in_mode(g, &s, n, MODE_INFER))
      continue;
    if (n->op == OP_DROPOUT) {  /* the identity at inference */
      x.tensor[n->out->id] = x.tensor[n->in[0]->id];
      continue;
    }
    const char *out = NULL;
    for (int k = 0; k < g->outputs.len && !out; k++)
      if (g->outputs.data[k] == n->out)
        out = out_name[k];
    if (!out) {
      out = unique_name(&x, x.names[n->out->id]);
      vec_push(&x.infos, value_info(out, &n->out->ty));
    }
    export_node(&x, n, out);
    x.tensor[n->out->id] = out;
  }
  /* An output that is an input, or a dropout's (another value's tensor). */
  for (int k = 0; k < g->outputs.len; k++) {
    const Value *v = g->outputs.data[k];
    if (strcmp(x.tensor[v->id], out_name[k]))
      add_node(&x, "Identity", out_name[k], &x.tensor[v->id], 1, out_name[k], NULL);
  }

  Onnx__GraphProto *graph = arena_alloc(sizeof *graph);
  onnx__graph_proto__init(graph);
  graph->name = dup(g->name);
  graph->doc_string = arena_printf("%s's inference graph (forward, training=0), the weights of %s "
                                   "(step %llu)", base_name(model), base_name(ckpt),
                                   (unsigned long long)w->step);
  graph->n_node = (size_t)x.nodes.len;
  graph->node = (Onnx__NodeProto **)x.nodes.data;
  graph->n_initializer = (size_t)x.inits.len;
  graph->initializer = (Onnx__TensorProto **)x.inits.data;
  graph->n_input = (size_t)ins.len;
  graph->input = (Onnx__ValueInfoProto **)ins.data;
  graph->n_output = (size_t)outs.len;
  graph->output = (Onnx__ValueInfoProto **)outs.data;
  graph->n_value_info = (size_t)x.infos.len;
  graph->value_info = (Onnx__ValueInfoProto **)x.infos.data;

  Onnx__OperatorSetIdProto *opset = arena_alloc(sizeof *opset);
  onnx__operator_set_id_proto__init(opset);
  opset->domain = dup("");
  opset->has_version = 1;
  opset->version = EXPORT_OPSET;
  Onnx__ModelProto *m = arena_alloc(sizeof *m);
  onnx__model_proto__init(m);
  m->has_ir_version = 1;
  m->ir_version = EXPORT_IR_VERSION;
  m->n_opset_import = 1;
  m->opset_import = arena_alloc(sizeof(void *));
  m->opset_import[0] = opset;
  m->producer_name = dup("nncc");
  m->producer_version = dup(NNCC_VERSION);
  m->graph = graph;
  return m;
}

int onnx_export_command(int argc, char **argv) {
  const char *model = NULL, *ckpt = NULL, *out = NULL;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      export_usage(stdout);
      return 0;
    } else if ((v = flag_value(argc, argv, &i, "--load"))) {
      ckpt = v;
    } else if ((v = flag_value(argc, argv, &i, "-o"))) {
      out = v;
    } else if (diag_error_count()) {
      return 1;  /* a flag above lacked its value */
    } else if (a[0] == '-' && a[1]) {
      static const char *const flags[] = {"--load", "-o", "--help"};
      const char *near = closest_word(arena_strndup(a, strcspn(a, "=")), flags, 3);
      error_plain("nncc export: unknown option '%s'%s (see nncc export --help)", a,
                  near ? arena_printf("; did you mean '%s'?", near) : "");
      return 1;
    } else if (model) {
      error_plain("nncc export: more than one model given ('%s' and '%s')", model, a);
      return 1;
    } else {
      model = a;
    }
  }
  if (!model || !ckpt || !out) {
    error_plain("nncc export: %s", !model ? "no model given"
                                   : !ckpt ? "--load CKPT is required: the weights to export (a "
                                             "checkpoint of nncc train --save, or of nncc "
                                             "weights import)"
                                           : "-o OUT.onnx is required");
    diag_flush();
    export_usage(stderr);
    return 1;
  }
  ModelTensors w = {0};
  if (!model_checkpoint(model, ckpt, out, &w))
    return 1;
  Onnx__ModelProto *m = export_model(&w, model, ckpt);
  size_t len = onnx__model_proto__get_packed_size(m);
  char *bytes = malloc(len ? len : 1);
  if (!bytes)
    internal_error("out of memory");
  onnx__model_proto__pack(m, (uint8_t *)bytes);
  OutputFile file = {out, bytes, len};
  bool ok;
  if (!strcmp(out, "-")) {  /* standard output, as nncc -o - */
    ok = fwrite(bytes, 1, len, stdout) == len && fflush(stdout) == 0;
    if (!ok)
      error_plain("<stdout>: cannot write the ONNX model");
  } else {
    ok = write_outputs(&file, 1);
  }
  free(bytes);
  model_tensors_free(&w);
  return ok ? 0 : 1;
}
