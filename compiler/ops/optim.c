/* ops/optim.c - the optimizer update: one loop over the flat parameter
 * buffer, with PyTorch's formulas (torch.optim.SGD and Adam, weight_decay as
 * L2 added to the gradient).  The optimizer state lives beside the
 * parameters: SGD with momentum keeps one buffer, Adam two (the first and
 * second moments); m->step counts the updates (Adam's bias correction). */
#include "../nncc.h"

static const ArgSpec no_args[] = {{0}};

/* One loop of the update.  The check (commit false) computes what the
 * update would store and stores only whether any of it is not finite, in
 * bad; the update (commit true) stores it.  Both spell the formulas the same
 * way, so they round alike.  A NaN or infinite state value makes the new
 * parameter NaN or infinite too, so the check looks at the parameter alone,
 * except for Adam's second moment (infinite, it makes the step 0). */
static void emit_update_loop(KernelBuilder *e, bool commit, int64_t from, int64_t to) {
  const TrainConfig *t = &e->g->train;
  const char *T = e->T;
  k_line(e, "for (size_t i = %lld; i < %lld; i++) {", (long long)from, (long long)to);
  double wd = t->weight_decay;
  k_line(e, wd != 0 ? "%s g = grad[i] + %s * p[i];" : "%s g = grad[i];%s", T,
         wd != 0 ? lit(e, wd) : "");
  if (t->optimizer == OPTIM_ADAM) {
    double b1 = t->beta1, b2 = t->beta2, eps = t->eps;
    const char *a = commit ? "m1[i]" : "a", *v = commit ? "m2[i]" : "v";
    k_line(e, "%s%s = %s * m1[i] + %s * g;", commit ? "" : arena_printf("%s ", T), a,
           lit(e, b1), lit(e, 1 - b1));
    k_line(e, "%s%s = %s * m2[i] + %s * g * g;", commit ? "" : arena_printf("%s ", T), v,
           lit(e, b2), lit(e, 1 - b2));
    const char *step = arena_printf("step_size * %s / (%s(%s) / bc2_sqrt + %s)", a,
                                    mathfn(e, "sqrt"), v, lit(e, eps));
    if (commit)
      k_line(e, "p[i] -= %s;", step);
    else
      k_line(e, "bad |= !isfinite(v) | !isfinite(p[i] - %s);", step);
  } else {
    double momentum = t->momentum;
    const char *s = commit ? "state[i]" : "s";
    if (momentum != 0) {
      k_line(e, "%s%s = %s * state[i] + g;", commit ? "" : arena_printf("%s ", T), s,
             lit(e, momentum));
      if (t->nesterov)
        k_line(e, "g += %s * %s;", lit(e, momentum), s);
      else
        k_line(e, "g = %s;", s);
    }
    if (commit)
      k_line(e, "p[i] -= lr * g;");
    else
      k_line(e, "bad |= !isfinite(p[i] - lr * g);");
  }
  k_line(e, "}");
}

/* The loop over all parameters, as two: a first whose trip count is a
 * multiple of 16 and the rest, so that compilers vectorize the first without
 * a scalar epilogue (GCC does so at -O2, with its very-cheap cost model). */
static void emit_update_loops(KernelBuilder *e, bool commit) {
  int64_t count = e->g->num_params, whole = count / 16 * 16;
  if (whole)
    emit_update_loop(e, commit, 0, whole);
  if (whole < count)
    emit_update_loop(e, commit, whole, count);
}

/* The update, all or nothing: the first loop looks, the second stores, only
 * if no parameter or optimizer state value would become NaN or infinite;
 * *ok says whether it did (docs/decisions.md, 86).  It runs on the
 * parameters, not on a batch; the step count is Adam's alone. */
static void emit_optimizer_update(KernelBuilder *e, const IrNode *n) {
  const Graph *g = e->g;
  const TrainConfig *t = &g->train;
  int64_t count = g->num_params;
  k_begin(e, n, arena_printf("the %s update over all %lld parameters", optimizer_word(t),
                             (long long)count));
  k_no_batch(e);
  if (count == 0) {  /* no parameters: nothing to update (and no `i < 0` loop to warn) */
    k_ptr(e, "int", "ok", true, "&ok");
    k_line(e, "*ok = 1;");
    k_end(e);
    return;
  }
  k_ptr(e, e->T, "p", true, "m->params");
  k_ptr(e, e->T, "grad", false, "m->grads");
  if (g->train.state_per_param)
    k_ptr(e, e->T, "state", true, "m->opt");
  k_arg(e, e->T, "lr", "m->lr");
  if (t->optimizer == OPTIM_ADAM)
    k_arg(e, "uint64_t", "step", "m->step");
  k_ptr(e, "int", "ok", true, "&ok");
  if (t->optimizer == OPTIM_ADAM) {
    double b1 = t->beta1, b2 = t->beta2;
    k_line(e, "%s *m1 = state, *m2 = state + %lld;", e->T, (long long)count);
    k_line(e, "const double bc1 = 1 - pow(%s, (double)step), bc2 = 1 - pow(%s, (double)step);",
           dlit(b1), dlit(b2));
    k_line(e, "const %s step_size = (%s)(lr / bc1), bc2_sqrt = (%s)sqrt(bc2);", e->T, e->T, e->T);
  }
  k_line(e, "int bad = 0;");
  emit_update_loops(e, false);
  k_line(e, "*ok = !bad;");
  k_line(e, "if (bad)");
  k_line(e, "  return;");
  emit_update_loops(e, true);
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
