/* pass.c - the pass registry: the pipeline in order, each with a name for
 * --print-after and a one-line summary for --list-passes.  "lower" is the
 * AST -> IR step that starts it (driver.c runs it before the others).  The
 * passes that decide something other than IR (schedule, plan) print it. */
#include "nncc.h"

#include <string.h>

const Pass passes[] = {
    {"lower", NULL, "AST -> graph IR: resolve names, bind op arguments, name layers", false, NULL},
    {"infer-shapes", infer_shapes, "infer and check every value's shape", false, NULL},
    {"assign-params", assign_params, "lay out parameters in the flat buffer (PyTorch order)", false, NULL},
    {"check-train", check_train, "check the train and test blocks", false, NULL},
    {"rewrite-bce", rewrite_bce, "binary_cross_entropy(sigmoid(z)) -> sigmoid_cross_entropy(z)", false, NULL},
    {"dce", dead_code, "drop forward nodes no output or loss needs", true, NULL},
    {"autodiff", autodiff, "append the backward pass and the optimizer update", false, NULL},
    {"fold-batchnorm", fold_batchnorm, "inference: batchnorm folds into the linear/conv before it", true, print_fused},
    {"fuse-layers", fuse_layers, "training: linear/conv + batchnorm as one kernel, and their backward", true, print_fused},
    {"fuse-elementwise", fuse_elementwise, "maps into one loop, a store epilogue or a load prologue", true, print_fused},
    {"inplace", inplace, "store a value over its dying source, element by element", true, print_fused},
    {"schedule", schedule_entries, "list each entry point's kernels in call order", false, print_schedule},
    {"plan", plan_memory, "place every buffer in the arena (-O0: each its own place)", false, print_plan},
    {"verify", verify_ir, "check IR invariants (an error here is an nncc bug)", false, NULL},
};
const int npasses = sizeof passes / sizeof passes[0];

const Pass *pass_lookup(const char *name) {
  for (int i = 0; i < npasses; i++)
    if (!strcmp(passes[i].name, name))
      return &passes[i];
  return NULL;
}
