/* lower.c - AST -> graph IR.
 *
 * Resolves names (a rebinding shadows the old value, SSA style), turns each
 * call into an IrNode of the op table, binds its arguments against the op's
 * spec, and names the layers that have parameters:
 *
 *   1. name="..." if given;
 *   2. else the bound name, when the layer is the whole right-hand side
 *      (`fc1 = linear(x, 10)` or `fc1 = x |> linear(10)`);
 *   3. else <op><index>, the index counting that op's calls in source order
 *      (linear0, linear1, batchnorm0, ...).
 *
 * Errors are reported and lowering goes on: a value whose definition failed
 * is "poisoned" (T_ERROR) and uses of it stay quiet, so one file reports all
 * its independent errors.
 */
#include "nncc.h"

#include <math.h>
#include <string.h>

typedef struct Binding {
  const char *name;
  Value *value;
  SrcLoc loc;
  bool declared;        /* an input or label (cannot be redeclared)         */
} Binding;

typedef struct Lowerer {
  Graph *g;
  PtrVec scope;         /* Binding*, latest last                            */
  StrMap latest;        /* name -> its latest Binding*                      */
  int loss_cap;         /* room in g->losses                                */
  int op_count[OP_COUNT];
  PtrVec layers;        /* IrNode* with OPF_LAYER                           */
  PtrVec bound_names;   /* const char*: candidate layer names, per layer    */
  Value poison;
  const Program *prog;
} Lowerer;

static Binding *lookup(Lowerer *L, const char *name) { return strmap_get(&L->latest, name); }

static void bind(Lowerer *L, const char *name, Value *v, SrcLoc loc, bool declared) {
  Binding *b = arena_alloc(sizeof(Binding));
  b->name = name;
  b->value = v;
  b->loc = loc;
  b->declared = declared;
  vec_push(&L->scope, b);
  *strmap_slot(&L->latest, name) = b;
  if (v != &L->poison && !v->name)
    v->name = name;
}

static const char *suggest_name(Lowerer *L, const char *name) {
  const char **cands = arena_alloc(sizeof(char *) * (size_t)(L->scope.len + 1));
  for (int i = 0; i < L->scope.len; i++)
    cands[i] = ((Binding *)L->scope.data[i])->name;
  return closest_word(name, cands, L->scope.len);
}

static const char *describe_node(const AstNode *n) {
  switch (n->kind) {
  case ND_NUM: return arena_printf("the number %s", fmt_double(n->num));
  case ND_STRING: return arena_printf("the string \"%s\"", n->name);
  case ND_LIST: return "a list";
  case ND_IDENT: return arena_printf("'%s'", n->name);
  case ND_CALL: return arena_printf("%s(...)", n->name);
  }
  return "?";
}

static Value *lower_expr(Lowerer *L, AstNode *n, const char *bound_name);

/* A name used where a tensor is expected. */
static Value *lower_ident(Lowerer *L, AstNode *n) {
  Binding *b = lookup(L, n->name);
  if (b)
    return b->value;
  if (op_lookup(n->name) >= 0) {
    error_at(n->loc, "'%s' is an op, not a value; apply it with `x |> %s` or %s(x)", n->name,
             n->name, n->name);
    return &L->poison;
  }
  if (!diag_shown(n->loc)) {  /* past the errors printed: spare the searches below */
    error_at(n->loc, "undefined name '%s'", n->name);
    return &L->poison;
  }
  for (const Stmt *s = L->prog->stmts; s; s = s->next)
    if ((s->kind == ST_BIND || s->kind == ST_INPUT || s->kind == ST_LABEL) && s->name &&
        !strcmp(s->name, n->name) && s->name_loc.off > n->loc.off) {
      error_at(n->loc, "'%s' is used before it is defined", n->name);
      note_at(s->name_loc, "'%s' is defined here, on a later line", n->name);
      return &L->poison;
    }
  const char *near = suggest_name(L, n->name);
  if (near)
    error_at(n->loc, "undefined name '%s'; did you mean '%s'?", n->name, near);
  else
    error_at(n->loc, "undefined name '%s'", n->name);
  return &L->poison;
}

/* Could this argument be a tensor input (rather than an op argument)? */
static bool is_tensor_arg(const Arg *a) {
  if (a->key)
    return false;
  if (a->value->kind == ND_CALL)
    return true;
  /* A name that is not a bound value is still taken as an input, so an
   * undefined one is reported as such (concat has no positional options). */
  return a->value->kind == ND_IDENT;
}

/* The checks of a call before its inputs are lowered: the op exists and
 * its leading positional arguments are its tensor inputs.  Returns the op
 * and sets *nin, or -1 after reporting an error. */
static int call_inputs(Lowerer *L, const AstNode *n, int *nin_out) {
  int op = op_lookup(n->name);
  if (op < 0) {
    Binding *b = lookup(L, n->name);
    const char *near = op_suggest(n->name);
    if (b && n->piped)
      error_at(n->loc, "'%s' is a value, not an op; only ops can follow '|>'", n->name);
    else if (b)
      error_at(n->loc, "'%s' is a value, not an op; it cannot be called", n->name);
    else if (near)
      error_at(n->loc, "unknown op '%s'; did you mean '%s'?", n->name, near);
    else
      error_at(n->loc, "unknown op '%s'", n->name);
    return -1;
  }
  const OpInfo *info = op_table[op];
  *nin_out = 0;

  /* The leading positional arguments are the tensor inputs. */
  int nin = 0;
  if (info->ninputs >= 0) {
    for (; nin < info->ninputs; nin++) {
      bool no_tensor = nin == 0 && !n->piped && nin < n->nargs &&
                       n->args[0].value->kind != ND_IDENT && n->args[0].value->kind != ND_CALL;
      if (nin >= n->nargs || n->args[nin].key || no_tensor) {  /* linear(3): no x */
        if (nin == 0)
          error_at(n->loc, "%s needs an input: write `x |> %s%s` or %s(x%s)", info->name,
                   info->name, n->nargs ? "(...)" : "", info->name, n->nargs ? ", ..." : "");
        else
          error_at(n->loc, "%s needs %d inputs, got %d", info->name, info->ninputs, nin);
        return -1;
      }
      const AstNode *a = n->args[nin].value;
      if (a->kind != ND_IDENT && a->kind != ND_CALL) {
        error_at(a->loc, "%s: input %d must be a tensor, got %s", info->name, nin + 1,
                 describe_node(a));
        return -1;
      }
    }
  } else {
    while (nin < n->nargs && is_tensor_arg(&n->args[nin]))
      nin++;
    if (nin < 2) {
      error_at(n->loc, "%s needs two or more inputs, got %d", info->name, nin);
      return -1;
    }
    if (nin > MAX_IN) {
      error_at(n->args[MAX_IN].value->loc, "%s takes at most %d inputs", info->name, MAX_IN);
      return -1;
    }
  }
  *nin_out = nin;
  return op;
}

/* The rest of call n of op, given its first input (already lowered). */
static Value *lower_call(Lowerer *L, AstNode *n, int op, int nin, Value *in0,
                         const char *bound_name) {
  const OpInfo *info = op_table[op];
  Value *in[MAX_IN];
  bool poisoned = false;
  for (int i = 0; i < nin; i++) {
    in[i] = i ? lower_expr(L, n->args[i].value, NULL) : in0;
    poisoned |= in[i] == &L->poison;
  }
  /* A label may only be a loss's target, and a loss only feeds `loss`:
   * checked here, where each input's own place in the source is known. */
  for (int i = 0; i < nin; i++) {
    const Value *v = in[i];
    const AstNode *a = n->args[i].value;
    if (v == &L->poison)
      continue;
    if (v->is_label && !((info->flags & OPF_LOSS) && i == nin - 1)) {
      if (info->flags & OPF_LOSS)
        error_at(a->loc, "%s: label %s must be the loss's target, its last argument",
                 info->name, describe_node(a));
      else
        error_at(a->loc, "label %s can only be the target of a loss, not an input of %s",
                 describe_node(a), info->name);
      poisoned = true;
    } else if (v->def && (op_table[v->def->op]->flags & OPF_LOSS)) {
      error_at(a->loc, "%s: input %s is a loss; a loss value can only be used in a `loss` "
               "line", info->name, describe_node(a));
      poisoned = true;
    }
  }

  if (info->flags & OPF_LOSS) {
    for (int i = nin; i < n->nargs; i++)
      if (n->args[i].key && !strcmp(n->args[i].key, "weight")) {
        StrBuf w = {0};
        print_ast_expr(&w, n->args[i].value);
        error_at(n->args[i].key_loc, "a loss weight goes after the loss: `loss %s(...), "
                 "weight=%s`", info->name, w.data);
        return &L->poison;
      }
  }
  Attr *attrs = arena_alloc(sizeof(Attr) * (size_t)(spec_count(info->args) + 1));
  if (!bind_args(info->name, n->loc, n->args + nin, n->nargs - nin, info->args, attrs))
    poisoned = true;
  L->op_count[op]++;
  if (poisoned)
    return &L->poison;

  IrNode *node = graph_add_node(L->g, op, n->loc, in, nin);
  node->attrs = attrs;
  if (info->flags & OPF_LAYER) {
    /* The automatic name, until name_layers() settles the final one. */
    node->layer_name = arena_printf("%s%d", info->name, L->op_count[op] - 1);
    vec_push(&L->layers, node);
    vec_push(&L->bound_names, (void *)bound_name);
  }
  return node->out;
}

/* A call's first input is lowered before the rest of it, so a chain of
 * calls, each the first input of the next (`x |> f |> g`, or g(f(x))), is
 * lowered by a loop: down the chain checking each call (an error there
 * stops the descent, as it leaves the inputs unlowered), then back up.  A
 * pipe may be any length; other arguments nest in brackets (MAX_NESTING). */
typedef struct PendingCall {
  AstNode *call;
  int op, nin;
} PendingCall;

static Value *lower_expr(Lowerer *L, AstNode *n, const char *bound_name) {
  PtrVec chain = {0};   /* PendingCall*, outermost first                    */
  Value *v = NULL;
  for (;;) {
    if (n->kind == ND_IDENT) {
      v = lower_ident(L, n);
      break;
    }
    if (n->kind != ND_CALL) {
      error_at(n->loc, "expected a tensor, got %s", describe_node(n));
      v = &L->poison;
      break;
    }
    PendingCall *c = arena_alloc(sizeof(PendingCall));
    c->call = n;
    c->op = call_inputs(L, n, &c->nin);
    if (c->op < 0) {
      v = &L->poison;
      break;
    }
    vec_push(&chain, c);
    if (c->nin == 0)
      break;
    n = n->args[0].value;
  }
  for (int i = chain.len - 1; i >= 0; i--) {
    const PendingCall *c = chain.data[i];
    v = lower_call(L, c->call, c->op, c->nin, v, i ? NULL : bound_name);
  }
  return v;
}

/* Layer names: explicit, then bound, then automatic (see the top). */
static void name_layers(Lowerer *L) {
  StrMap taken = {0};   /* final name -> the IrNode that has it             */
  const char **final = arena_alloc(sizeof(char *) * (size_t)(L->layers.len + 1));
  for (int pass = 0; pass < 3; pass++) {
    for (int i = 0; i < L->layers.len; i++) {
      IrNode *n = L->layers.data[i];
      if (final[i])
        continue;
      const char *auto_name = n->layer_name;
      const Attr *explicit_name = attr_get(n, "name");
      const char *want = NULL;
      if (pass == 0 && explicit_name->given)
        want = explicit_name->word;
      else if (pass == 1 && L->bound_names.data[i])
        want = L->bound_names.data[i];
      else if (pass == 2)
        want = auto_name;
      if (!want)
        continue;
      IrNode *clash = strmap_get(&taken, want);
      if (clash && pass == 2) {
        /* The automatic name is taken by a name the user chose: number on. */
        for (int k = 1; clash; k++) {
          want = arena_printf("%s_%d", auto_name, k);
          clash = strmap_get(&taken, want);
        }
      }
      if (clash && pass == 1) {
        warn_at(n->loc, "layer name '%s' is already used by the %s at line %d; this %s is "
                "named '%s' (add name=\"...\" to choose)", want, op_table[clash->op]->name,
                clash->loc.line, op_table[n->op]->name, auto_name);
        continue;  /* falls back to the automatic name */
      }
      if (clash) {
        error_at(pass == 0 ? explicit_name->loc : n->loc,
                 "layer name '%s' is already used by the %s at line %d", want,
                 op_table[clash->op]->name, clash->loc.line);
        note_at(clash->loc, "'%s' is named here", want);
        want = arena_printf("%s.dup%d", want, i);  /* keep going, quietly */
      }
      final[i] = want;
      n->layer_name = want;
      void **slot = strmap_slot(&taken, want);
      if (!*slot)
        *slot = n;
    }
  }
}

static void lower_decl(Lowerer *L, const Stmt *s) {
  Binding *old = lookup(L, s->name);
  if (old && old->declared) {
    error_at(s->name_loc, "'%s' is already declared as %s", s->name,
             old->value != &L->poison && old->value->is_label ? "a label" : "an input");
    note_at(old->loc, "the first declaration is here");
    return;
  }
  if (!s->type_word) {  /* the statement did not parse */
    bind(L, s->name, &L->poison, s->name_loc, true);
    return;
  }
  Graph *g = L->g;
  bool is_input = s->kind == ST_INPUT;
  Type t = {0};
  if (!strcmp(s->type_word, "f32")) {
    t = type_f32(s->rank, s->dims);
    int64_t numel = 1;
    bool too_large = false;
    for (int i = 0; i < s->rank && !too_large; i++) {
      too_large = numel > MAX_ELEMS / s->dims[i];  /* dims are >= 1 (parse.c) */
      numel *= too_large ? 1 : s->dims[i];
    }
    if (too_large) {
      error_at(s->type_loc, "%s is too large: at most %lld elements per sample", type_str(&t),
               MAX_ELEMS);
      bind(L, s->name, &L->poison, s->name_loc, true);
      return;
    }
  } else if (!strcmp(s->type_word, "class")) {
    if (is_input) {
      error_at(s->type_loc, "an input is f32; class[N] is the type of a label");
      bind(L, s->name, &L->poison, s->name_loc, true);
      return;
    }
    if (s->rank != 1 || s->dims[0] < 2) {
      error_at(s->type_loc, "a class label is written class[N] with N >= 2 classes");
      bind(L, s->name, &L->poison, s->name_loc, true);
      return;
    }
    t.kind = T_CLASS;
    t.nclasses = s->dims[0];
  } else {
    const char *words[] = {"f32", "class"};
    const char *near = closest_word(s->type_word, words, is_input ? 1 : 2);
    error_at(s->type_loc, "unknown type '%s'; %s%s", s->type_word,
             near ? arena_printf("did you mean '%s'? ", near) : "",
             is_input ? "an input is f32[...]" : "a label is class[N] or f32[...]");
    bind(L, s->name, &L->poison, s->name_loc, true);
    return;
  }
  IrNode *n = graph_add_node(g, is_input ? OP_INPUT : OP_LABEL, s->name_loc, NULL, 0);
  n->io_name = s->name;
  n->out->ty = t;
  n->out->is_label = !is_input;
  vec_push(is_input ? &g->inputs : &g->labels, n);
  bind(L, s->name, n->out, s->name_loc, true);
}

static void lower_stmt(Lowerer *L, const Stmt *s) {
  Graph *g = L->g;
  switch (s->kind) {
  case ST_MODEL:
    if (!s->name)
      return;  /* the line did not parse (reported) */
    if (g->name) {
      error_at(s->loc, "a file holds one model; '%s' is already declared", g->name);
      note_at(g->name_loc, "the model is declared here");
      return;
    }
    const char *why = c_name_reserved(s->name);
    if (why) {
      error_at(s->name_loc, "'%s' cannot name a model, which the generated C uses as a type "
               "and a prefix: %s", s->name, why);
      return;
    }
    g->name = s->name;
    g->name_loc = s->name_loc;
    return;
  case ST_INPUT:
  case ST_LABEL:
    lower_decl(L, s);
    return;
  case ST_BIND: {
    Binding *old = lookup(L, s->name);
    if (old && old->declared) {
      error_at(s->name_loc, "cannot rebind '%s': it is declared as %s; give the result "
               "a new name", s->name,
               old->value != &L->poison && old->value->is_label ? "a label" : "an input");
      note_at(old->loc, "declared here");
      return;
    }
    if (!s->expr) {
      bind(L, s->name, &L->poison, s->name_loc, false);
      return;
    }
    Value *v = lower_expr(L, s->expr, s->expr->kind == ND_CALL ? s->name : NULL);
    bind(L, s->name, v, s->name_loc, false);
    return;
  }
  case ST_OUTPUT:
    for (int i = 0; i < s->noutputs; i++) {
      Value *v = lower_ident(L, s->outputs[i]);
      if (v == &L->poison)
        continue;
      for (int j = 0; j < g->outputs.len; j++)
        if (g->outputs.data[j] == v) {
          error_at(s->outputs[i]->loc, "'%s' is already an output", s->outputs[i]->name);
          v = NULL;
          break;
        }
      if (!v)
        continue;
      vec_push(&g->outputs, v);
      SrcLoc *loc = arena_alloc(sizeof(SrcLoc));
      *loc = s->outputs[i]->loc;
      vec_push(&g->output_locs, loc);
    }
    return;
  case ST_LOSS: {
    if (s->has_weight && (!(s->weight > 0) || isinf(s->weight))) {
      error_at(s->weight_loc, "a loss weight must be a positive number, got %s",
               fmt_double(s->weight));
      return;
    }
    Value *v = lower_expr(L, s->expr, NULL);
    if (v == &L->poison)
      return;
    if (g->nlosses == L->loss_cap) {
      L->loss_cap = L->loss_cap ? 2 * L->loss_cap : 4;
      Loss *ls = arena_alloc(sizeof(Loss) * (size_t)L->loss_cap);
      if (g->nlosses)
        memcpy(ls, g->losses, sizeof(Loss) * (size_t)g->nlosses);
      g->losses = ls;
    }
    g->losses[g->nlosses].value = v;
    g->losses[g->nlosses].weight = s->weight;
    g->losses[g->nlosses].loc = s->expr->loc;
    g->nlosses++;
    return;
  }
  case ST_CLASSES:
    set_class_names(g, s->expr, s->loc);
    return;
  case ST_BLOCK: {
    const Stmt **slot = !strcmp(s->name, "train") ? &g->train_stmt : &g->test_stmt;
    if (*slot) {
      error_at(s->loc, "a second '%s' block; write all its settings in one", s->name);
      note_at((*slot)->loc, "the first is here");
      return;
    }
    *slot = s;
    return;
  }
  }
}

Graph *lower(Program *prog) {
  Lowerer L = {0};
  L.prog = prog;
  L.g = graph_new(prog->file);
  L.poison.ty.kind = T_ERROR;
  L.poison.id = -1;
  for (const Stmt *s = prog->stmts; s; s = s->next)
    lower_stmt(&L, s);
  name_layers(&L);

  Graph *g = L.g;
  SrcLoc start = {.file = prog->file, .off = 0, .line = 1, .col = 1, .len = 1};
  if (!g->name && !(prog->stmts && prog->stmts->kind == ST_MODEL))
    error_at(prog->stmts ? prog->stmts->loc : start,
             "missing `model NAME`: every .nn file starts by naming its model");
  if (g->name)
    start = g->name_loc;  /* what the model lacks is reported at its name */
  if (!g->inputs.len && diag_error_count() == 0)
    error_at(start, "the model has no input: declare one, as in `input image : f32[784]`");
  if (!g->outputs.len && diag_error_count() == 0)
    error_at(start, "the model has no output: name the value inference returns, as in "
                    "`output logits`");
  return g;
}
