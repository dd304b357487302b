/* pass.c - the pass registry: the pipeline in order, each with a name for
 * --print-after and a one-line summary for --list-passes.  "lower" is the
 * AST -> IR step that starts it (driver.c runs it before the others). */
#include "nncc.h"

#include <string.h>

const Pass passes[] = {
    {"lower", NULL, "AST -> graph IR: resolve names, bind op arguments, name layers", false},
    {"infer-shapes", infer_shapes, "infer and check every value's shape", false},
    {"assign-params", assign_params, "lay out parameters in the flat buffer (PyTorch order)", false},
    {"check-train", check_train, "check the train and test blocks", false},
    {"rewrite-bce", rewrite_bce, "binary_cross_entropy(sigmoid(z)) -> sigmoid_cross_entropy(z)", false},
    {"dce", dead_code, "drop forward nodes no output or loss needs", true},
    {"autodiff", autodiff, "append the backward pass and the optimizer update", false},
    {"fold-batchnorm", fold_batchnorm, "inference: batchnorm folds into the linear/conv before it", true},
    {"fuse-layers", fuse_layers, "training: linear/conv + batchnorm as one kernel, and their backward", true},
    {"fuse-elementwise", fuse_elementwise, "maps into one loop, a store epilogue or a load prologue", true},
    {"inplace", inplace, "store a value over its dying source, element by element", true},
    {"verify", verify_ir, "check IR invariants (an error here is an nncc bug)", false},
};
const int npasses = sizeof passes / sizeof passes[0];

const Pass *pass_lookup(const char *name) {
  for (int i = 0; i < npasses; i++)
    if (!strcmp(passes[i].name, name))
      return &passes[i];
  return NULL;
}
