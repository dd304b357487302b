/* ops/optim.c - the optimizer update: one loop over the flat parameter
 * buffer, with PyTorch's formulas (torch.optim.SGD and Adam, weight_decay as
 * L2 added to the gradient).  The optimizer state lives beside the
 * parameters: SGD with momentum keeps one buffer, Adam two (the first and
 * second moments); m->step counts the updates (Adam's bias correction). */
#include "../nncc.h"

#include <string.h>

static const ArgSpec no_args[] = {{0}};

/* Values of optimizer state per parameter. */
int optimizer_state_per_param(const Graph *g) {
  const Attr *opt = &g->train.optimizer;
  if (!strcmp(opt->word, "adam"))
    return 2;
  return opt->sub[1].v[0] != 0 ? 1 : 0;  /* sgd: momentum */
}

static void emit_optimizer_update(Emitter *e, const IrNode *n) {
  const Graph *g = e->g;
  const Attr *opt = &g->train.optimizer;
  int64_t count = g->num_params;
  bool adam = !strcmp(opt->word, "adam");
  k_begin(e, n, arena_printf("the %s update over all %lld parameters", opt->word, (long long)count));
  k_ptr(e, e->T, "p", true, "m->params");
  k_ptr(e, e->T, "grad", false, "m->grads");
  if (optimizer_state_per_param(g))
    k_ptr(e, e->T, "state", true, "m->opt");
  k_arg(e, e->T, "lr", "m->lr");
  k_arg(e, "uint64_t", "step", "m->step");
  k_line(e, "(void)batch;");
  k_line(e, "(void)step;");
  if (count == 0) {  /* no parameters: nothing to update (and no `i < 0` loop to warn) */
    k_line(e, "(void)p;");
    k_line(e, "(void)grad;");
    if (optimizer_state_per_param(g))
      k_line(e, "(void)state;");
    k_line(e, "(void)lr;");
  } else if (adam) {
    double b1 = opt->sub[1].v[0], b2 = opt->sub[2].v[0], eps = opt->sub[3].v[0];
    double wd = opt->sub[4].v[0];
    k_line(e, "%s *m1 = state, *m2 = state + %lld;", e->T, (long long)count);
    k_line(e, "const double bc1 = 1 - pow(%s, (double)step), bc2 = 1 - pow(%s, (double)step);",
           dlit(b1), dlit(b2));
    k_line(e, "const %s step_size = (%s)(lr / bc1), bc2_sqrt = (%s)sqrt(bc2);", e->T, e->T, e->T);
    k_line(e, "for (size_t i = 0; i < %lld; i++) {", (long long)count);
    k_line(e, wd != 0 ? "%s g = grad[i] + %s * p[i];" : "%s g = grad[i];%s", e->T,
           wd != 0 ? lit(e, wd) : "");
    k_line(e, "m1[i] = %s * m1[i] + %s * g;", lit(e, b1), lit(e, 1 - b1));
    k_line(e, "m2[i] = %s * m2[i] + %s * g * g;", lit(e, b2), lit(e, 1 - b2));
    k_line(e, "p[i] -= step_size * m1[i] / (%s(m2[i]) / bc2_sqrt + %s);", mathfn(e, "sqrt"),
           lit(e, eps));
    k_line(e, "}");
  } else {
    double momentum = opt->sub[1].v[0], wd = opt->sub[2].v[0];
    bool nesterov = opt->sub[3].v[0] != 0;
    k_line(e, "for (size_t i = 0; i < %lld; i++) {", (long long)count);
    k_line(e, wd != 0 ? "%s g = grad[i] + %s * p[i];" : "%s g = grad[i];%s", e->T,
           wd != 0 ? lit(e, wd) : "");
    if (momentum != 0) {
      k_line(e, "state[i] = %s * state[i] + g;", lit(e, momentum));
      k_line(e, nesterov ? "g += %s * state[i];" : "g = state[i];%s",
             nesterov ? lit(e, momentum) : "");
    }
    k_line(e, "p[i] -= lr * g;");
    k_line(e, "}");
  }
  k_end(e);
}

const OpInfo op_optimizer_update = {
    .name = "optimizer_update",
    .ninputs = 0,
    .flags = OPF_INTERNAL,
    .args = no_args,
    .emit = emit_optimizer_update,
    .summary = "params -= lr * step(grads), SGD (momentum, nesterov) or Adam",
};
