/* ops/io.c - the model's interface: `input` and `label` declarations.
 * Their types come from the declaration (lower.c), not from a shape rule. */
#include "../nncc.h"

static const ArgSpec no_args[] = {{0}};

static bool shape_declared(IrNode *n) { return n->out->ty.kind != T_UNKNOWN; }

const OpInfo op_input = {
    .name = "input",
    .ninputs = 0,
    .flags = OPF_INTERNAL | OPF_IO,
    .args = no_args,
    .shape = shape_declared,
    .summary = "a model input, f32 per sample",
};

const OpInfo op_label = {
    .name = "label",
    .ninputs = 0,
    .flags = OPF_INTERNAL | OPF_IO,
    .args = no_args,
    .shape = shape_declared,
    .summary = "a training target: class ids or f32 values per sample",
};
