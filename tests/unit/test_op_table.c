/* test_op_table.c - the op table checks itself.
 *
 * Each op's flags promise hooks (a differentiable op has a gradient, an
 * elementwise one a map, every op that runs an emitter or a map) and agree
 * with each other (OPF_INPLACE only on an op that stores its output element
 * by element; OPF_VIEW only on an op of one input with no kernel).  op_table_problems() checks any table and says what is wrong
 * with which op; main() runs it on the compiler's table, then on copies
 * broken by hand, each of which must fail with its message.
 */
#include "../../compiler/nncc.h"
#include "check.h"

#include <string.h>

/* A rule an op breaks adds "name: why" to the problems. */
#define RULE(ok, why)                                       \
  do {                                                      \
    if (!(ok))                                              \
      sb_printf(out, "%s: %s\n", op->name, why);            \
  } while (0)

static void op_problems(StrBuf *out, const OpInfo *op) {
  int f = op->flags;
  bool internal = f & OPF_INTERNAL;
  RULE(op->summary && op->args, "has no summary (--help, docs) or no argument list");
  /* the hooks its flags require */
  RULE((f & (OPF_IO | OPF_VIEW)) || op->emit || op->map,
       "runs, but has neither an emitter nor a map");
  RULE(!(op->emit && op->map), "has both an emitter and a map (a map's kernel is built from it)");
  RULE(internal || op->grad, "is callable from .nn, so differentiable, but has no gradient");
  RULE(!internal || !op->grad, "is internal (backward, optimizer, input, label) but has a gradient");
  RULE(internal || op->shape, "is callable from .nn but has no shape rule");
  RULE(!(f & OPF_ELEMENTWISE) || op->map, "is OPF_ELEMENTWISE but has no map");
  RULE((f & OPF_ELEMENTWISE) || !op->map, "has a map but is not OPF_ELEMENTWISE");
  RULE(!(f & OPF_LAYER) || op->params, "is OPF_LAYER but has no params hook");
  RULE((f & OPF_LAYER) || !op->params, "has a params hook but is not OPF_LAYER");
  /* (the converse, a kernel taking scratch its op's rule does not plan, is
   * k_scratch's internal error "scratch N of %M was not planned") */
  RULE(!op->scratch || op->emit, "has a scratch rule but no kernel of its own");
  /* flags that need others */
  RULE(!(f & OPF_IO) || (internal && op->ninputs == 0), "is OPF_IO but callable or has inputs");
  RULE(!(f & OPF_INPLACE) || ((f & OPF_STORES) && op->emit),
       "is OPF_INPLACE but does not store its output element by element (OPF_STORES)");
  RULE(!(f & (OPF_STORES | OPF_LOADS)) || op->emit,
       "is OPF_STORES or OPF_LOADS but has no kernel of its own to store or load in");
  RULE(!(f & OPF_LAYER_HEAD) || ((f & OPF_LAYER) && op->emit),
       "is OPF_LAYER_HEAD but has no parameters or no kernel of its own");
  RULE(!(f & OPF_FOLDS_INTO_LAYER) || ((f & OPF_LAYER) && op->emit),
       "is OPF_FOLDS_INTO_LAYER but has no parameters (running statistics) or no kernel");
  RULE(!(f & OPF_FUSES_AFTER_LAYER) || (op->emit && op->grad),
       "is OPF_FUSES_AFTER_LAYER but has no kernel of its own or no gradient");
  RULE(!(f & OPF_LOSS) || !internal, "is OPF_LOSS but not callable from .nn");
  RULE(!(f & OPF_VIEW) || (op->ninputs == 1 && !op->emit && !op->map && !op->scratch &&
                           !(f & ~(OPF_VIEW | OPF_INTERNAL))),
       "is OPF_VIEW (its input's memory, no kernel) but has a kernel, not one input, or "
       "another flag");
}
#undef RULE

/* Every problem of the table, one line each ("" when there is none). */
static const char *op_table_problems(const OpInfo *const *table, int n) {
  StrBuf out = {0};
  sb_printf(&out, "%s", "");
  for (int i = 0; i < n; i++) {
    if (!table[i] || !table[i]->name) {
      sb_printf(&out, "op %d: has no OpInfo or no name\n", i);
      continue;
    }
    op_problems(&out, table[i]);
    for (int k = 0; k < i; k++)
      if (table[k] && table[k]->name && !strcmp(table[k]->name, table[i]->name))
        sb_printf(&out, "%s: named twice (ops %d and %d)\n", table[i]->name, k, i);
  }
  return out.data;
}

/* The compiler's table with one op changed by `broken`. */
static OpInfo copy[OP_COUNT];
static const OpInfo *table[OP_COUNT];
static OpInfo *fresh_copy(int op) {
  for (int i = 0; i < OP_COUNT; i++) {
    copy[i] = *op_table[i];
    table[i] = &copy[i];
  }
  return &copy[op];
}

static void expect_problems(const char *what, const char *want) {
  const char *got = op_table_problems(table, OP_COUNT);
  CHECK(!strcmp(got, want), "%s: expected\n%s---- got\n%s----", what, want, got);
}

int main(void) {
  const char *got = op_table_problems(op_table, OP_COUNT);
  CHECK(!strcmp(got, ""), "the op table has problems:\n%s", got);

  /* Each broken copy fails with the rule it breaks, naming the op. */
  fresh_copy(OP_RELU)->grad = NULL;
  expect_problems("relu without its gradient",
                  "relu: is callable from .nn, so differentiable, but has no gradient\n");
  fresh_copy(OP_ADD)->map = NULL;
  expect_problems("add without its map", "add: runs, but has neither an emitter nor a map\n"
                                         "add: is OPF_ELEMENTWISE but has no map\n");
  fresh_copy(OP_RELU_GRAD)->flags &= ~OPF_ELEMENTWISE;
  expect_problems("a map not marked elementwise",
                  "relu_grad: has a map but is not OPF_ELEMENTWISE\n");
  fresh_copy(OP_CONV2D_GRAD)->emit = NULL;
  expect_problems("a backward op without its emitter",
                  "conv2d_grad: runs, but has neither an emitter nor a map\n"
                  "conv2d_grad: has a scratch rule but no kernel of its own\n");
  fresh_copy(OP_LINEAR)->flags |= OPF_INPLACE;
  expect_problems("linear in place",
                  "linear: is OPF_INPLACE but does not store its output element by element "
                  "(OPF_STORES)\n");
  /* a layernorm-like op: normalises, but has no running statistics */
  OpInfo *ln = fresh_copy(OP_NORMALIZE);
  ln->flags |= OPF_FOLDS_INTO_LAYER;
  expect_problems("folding an op without parameters",
                  "normalize: is OPF_FOLDS_INTO_LAYER but has no parameters (running "
                  "statistics) or no kernel\n");
  fresh_copy(OP_BATCHNORM)->params = NULL;
  expect_problems("a layer without its params hook",
                  "batchnorm: is OPF_LAYER but has no params hook\n");
  fresh_copy(OP_LABEL)->grad = op_table[OP_RELU]->grad;
  expect_problems("an internal op with a gradient",
                  "label: is internal (backward, optimizer, input, label) but has a gradient\n");
  fresh_copy(OP_RELU)->scratch = op_table[OP_CONV2D]->scratch;
  expect_problems("a map with a scratch rule",
                  "relu: has a scratch rule but no kernel of its own\n");
  fresh_copy(OP_FLATTEN)->emit = op_table[OP_CONCAT]->emit;
  expect_problems("a view with a kernel",
                  "flatten: is OPF_VIEW (its input's memory, no kernel) but has a kernel, not "
                  "one input, or another flag\n");
  fresh_copy(OP_MSE)->name = "add";
  expect_problems("two ops of one name",
                  arena_printf("add: named twice (ops %d and %d)\n", OP_ADD, OP_MSE));
  return check_summary("op table");
}
