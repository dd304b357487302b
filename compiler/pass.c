/* pass.c - the pass registry: the pipeline in order, each with a name for
 * --print-after and a one-line summary for --list-passes.  "lower" is the
 * AST -> IR step that starts it (driver.c runs it before the others). */
#include "nncc.h"

#include <string.h>

const Pass passes[] = {
    {"lower", NULL, "AST -> graph IR: resolve names, bind op arguments, name layers"},
    {"infer-shapes", infer_shapes, "infer and check every value's shape"},
    {"assign-params", assign_params, "lay out parameters in the flat buffer (PyTorch order)"},
    {"check-train", check_train, "check the train and test blocks"},
    {"rewrite-bce", rewrite_bce, "binary_cross_entropy(sigmoid(z)) -> sigmoid_cross_entropy(z)"},
    {"autodiff", autodiff, "append the backward pass and the optimizer update"},
    {"verify", verify_ir, "check IR invariants (an error here is an nncc bug)"},
};
const int npasses = sizeof passes / sizeof passes[0];

const Pass *pass_lookup(const char *name) {
  for (int i = 0; i < npasses; i++)
    if (!strcmp(passes[i].name, name))
      return &passes[i];
  return NULL;
}
