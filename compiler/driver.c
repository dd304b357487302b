/* driver.c - the pipeline as one call: text in, a planned graph out, which
 * the emitter (emit_c.c) or an --emit printer only prints.
 *
 *   tokenize -> parse -> lower -> the passes of pass.c, in order:
 *     checks     infer-shapes, assign-params, check-train
 *     rewrites   rewrite-bce, dce, autodiff
 *     fusion     fold-batchnorm, fuse-layers, fuse-elementwise, inplace
 *     back end   schedule (each entry point's kernels), plan (the arena)
 *     verify
 *
 * The checking passes (lower, infer-shapes, check-train) always run, so one
 * file reports all its independent errors; the passes after them run only
 * on a model without errors.  IR text (-x ir) joins the pipeline after
 * the pass it was printed after.
 */
#include "nncc.h"

#include <string.h>

/* --print-after: the IR after the pass, or what its print hook shows (the
 * kernel groups of a fusion pass, the schedule, the plan). */
static void dump(const Options *opt, const Graph *g, const Pass *p) {
  if (!opt->print_after)
    return;
  if (strcmp(opt->print_after, "all") && strcmp(opt->print_after, p->name))
    return;
  FILE *out = opt->dump ? opt->dump : stderr;
  fprintf(out, "// ----- IR after %s -----\n", p->name);
  if (p->print)
    p->print(out, g);
  else
    print_ir(out, g, opt->print_locs, true);
}

static bool is_checking_pass(const Pass *p) {
  return p->run == infer_shapes || p->run == check_train;
}

/* Runs passes[first..] (or the --passes list) on g, dumping and verifying
 * as asked. */
static Graph *run_passes(Graph *g, const Options *opt, int first) {
  int n = opt->nonly ? opt->nonly : npasses - first;
  bool typed = first > 1;  /* the verifier wants types */
  for (int i = 0; i < n; i++) {
    const Pass *p = opt->nonly ? opt->only[i] : &passes[first + i];
    if (diag_error_count() && !is_checking_pass(p))
      continue;  /* skip it, but still run the checking passes after it */
    if (p->optimization && opt->O0 && !opt->nonly)
      continue;
    if (!p->run)
      continue;  /* lower: only ever first, from .nn */
    g->current_pass = p->name;
    p->run(g);
    if (diag_error_count())
      continue;
    typed |= p->run == infer_shapes;
    if (opt->verify_each && typed && p->run != verify_ir)
      verify_ir(g);
    dump(opt, g, p);
  }
  return diag_error_count() ? NULL : g;
}

Graph *compile_source(const SrcFile *file, const Options *opt, Program **ast_out) {
  Token *tokens = tokenize(file);
  if (!tokens)
    return NULL;
  Program *prog = parse(file, tokens);
  if (ast_out)
    *ast_out = prog;
  Graph *g = lower(prog);
  g->current_pass = "lower";
  g->opt_level = opt->O0 ? 0 : 2;  /* -O0: no fusion, and no reuse in plan */
  g->f64 = opt->f64;
  g->max_batch = opt->one_sample ? 1 : 0;
  dump(opt, g, &passes[0]);
  return run_passes(g, opt, 1);
}

Graph *compile_ir(const SrcFile *file, const Options *opt) {
  int start;
  Graph *g = read_ir(file, &start);
  if (!g)
    return NULL;
  g->current_pass = "read-ir";
  g->opt_level = opt->O0 ? 0 : 2;
  g->f64 = opt->f64;
  g->max_batch = opt->one_sample ? 1 : 0;
  return run_passes(g, opt, start);
}
