/* main.c - the nncc command line.
 *
 *   nncc model.nn -o model.c        compile (writes model.c and model.h)
 *   nncc --emit=ir model.nn         print a stage instead
 *
 * Exit status: 0 on success, 1 for errors in the model or the command line
 * (nothing is written then), 2 for an internal error or out of memory
 * (diag.c, util.c).
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#include "nncc.h"

#include "../runtime/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const emit_kinds[] = {"ast",  "ir", "params", "summary", "ir-train", "fused",
                                         "plan", "plan-svg", "dot", "dot-train", "c"};
#define NEMIT (int)(sizeof emit_kinds / sizeof emit_kinds[0])

static void usage(FILE *out) {
  fprintf(out,
          "usage: nncc [options] <model.nn | ->\n"
          "       nncc train <model.nn> --data DIR [trainer options]\n"
          "       nncc test <model.nn> --load CKPT --data DIR [options]\n"
          "       nncc predict <model.nn> --load CKPT --images FILE [options]\n"
          "       nncc weights export|import ... (see nncc weights --help)\n"
          "       nncc import <model.onnx> -o <out.nn> [--name NAME]   (see nncc import --help)\n"
          "       nncc export <model.nn> --load CKPT -o <out.onnx>   (see nncc export --help)\n"
          "\n"
          "Compile a .nn model to C: a forward pass and a training step.\n"
          "\n"
          "options:\n"
          "  -o <file.c>           write the C (and its header beside it)\n"
          "  --header <file.h>     where to write the header\n"
          "  --emit=<stage>        print a stage instead: ast, ir, ir-train (with the\n"
          "                        backward pass), fused (the kernels after fusion),\n"
          "                        params, summary, plan, plan-svg, c, dot (the graph\n"
          "                        for Graphviz), dot-train (the training step's)\n"
          "  --print-after=<pass>  print the IR after a pass (or 'all') to stderr\n"
          "  --print-locs          show .nn locations in printed IR (and the lines)\n"
          "  --list-passes         list the passes, in pipeline order\n"
          "  -O0, -O2              -O0: no fusion, no buffer reuse (default -O2)\n"
          "  --dtype f32|f64       element type of the generated code (default f32)\n"
          "  --main                add a main(): the model as a command-line trainer\n"
          "  --inference-only      no training code: create, params, forward, load\n"
          "  --embed-weights <ckpt>\n"
          "                        the checkpoint's weights in the C (batchnorm folded):\n"
          "                        NAME_infer on a static arena, no malloc, no library\n"
          "  -x ir                 the input is IR text (--emit=ir, ir-train)\n"
          "  --passes=<a,b,...>    run these passes, in this order, instead\n"
          "  --verify-each         run the verifier after every pass\n"
          "  --help, --version\n"
          "\n"
          "'-' reads the model from standard input.  nncc train --help lists the\n"
          "trainer's options.\n");
}

/* The registered pass of that name, or NULL after an error that suggests
 * the nearest (for --print-after and --passes). */
static const Pass *known_pass(const char *name) {
  const Pass *p = pass_lookup(name);
  if (p)
    return p;
  const char **names = arena_alloc(sizeof(char *) * (size_t)npasses);
  for (int k = 0; k < npasses; k++)
    names[k] = passes[k].name;
  const char *near = closest_word(name, names, npasses);
  error_plain("unknown pass '%s'%s (see nncc --list-passes)", name,
              near ? arena_printf("; did you mean '%s'?", near) : "");
  return NULL;
}


/* ---------------------------------------------------------- nncc MODEL */

/* The command line, read by parse_command_line. */
typedef struct CommandLine {
  Options front;            /* what compile_source needs                   */
  const char *path;         /* the model, or "-"                            */
  const char *out_path;     /* -o, or NULL: stdout                          */
  const char *header;       /* --header, or beside -o                       */
  const char *emit;         /* --emit, or NULL: the C                       */
  const char *dtype;        /* --dtype: f32 | f64                           */
  bool with_main;           /* --main                                       */
  bool inference_only;      /* --inference-only                             */
  const char *embed_weights;  /* --embed-weights: the checkpoint, or NULL   */
  bool ir;                  /* -x ir: the input is IR text                  */
} CommandLine;

/* The one option loop.  Returns -1 to go on, else the exit status (after
 * --help, --version, --list-passes or an error in an option). */
static int parse_command_line(int argc, char **argv, CommandLine *cl) {
  static const char *const flags[] = {"-o", "--header", "--emit", "--print-after",
                                      "--print-locs", "--list-passes", "-O0", "-O2",
                                      "--dtype", "--help", "--version", "--main",
                                      "-x", "--passes", "--verify-each", "--inference-only",
                                      "--embed-weights"};
  cl->dtype = "f32";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--version")) {
      printf("nncc %s\n", NNCC_VERSION);
      return 0;
    }
    if (!strcmp(a, "--list-passes")) {
      for (int k = 0; k < npasses; k++)
        printf("%-14s %s\n", passes[k].name, passes[k].summary);
      return 0;
    }
    if (!strcmp(a, "--print-locs")) {
      cl->front.print_locs = true;
    } else if (!strcmp(a, "--main")) {
      cl->with_main = true;
    } else if (!strcmp(a, "--inference-only")) {
      cl->inference_only = true;
    } else if ((v = flag_value(argc, argv, &i, "--embed-weights"))) {
      cl->embed_weights = v;
      cl->front.one_sample = true;  /* NAME_infer: scratch for one sample */
    } else if (!strcmp(a, "-O0")) {
      cl->front.O0 = true;  /* no fusion, and no buffer reuse */
    } else if (!strcmp(a, "-O2") || !strcmp(a, "-O1") || !strcmp(a, "-O3")) {
      cl->front.O0 = false;
    } else if ((v = flag_value(argc, argv, &i, "-o"))) {
      cl->out_path = v;
    } else if ((v = flag_value(argc, argv, &i, "--header"))) {
      cl->header = v;
    } else if ((v = flag_value(argc, argv, &i, "--emit"))) {
      cl->emit = v;
    } else if ((v = flag_value(argc, argv, &i, "--print-after"))) {
      cl->front.print_after = v;
    } else if ((v = flag_value(argc, argv, &i, "--dtype"))) {
      cl->dtype = v;
    } else if (!strcmp(a, "--verify-each")) {
      cl->front.verify_each = true;
    } else if ((v = flag_value(argc, argv, &i, "-x"))) {
      if (strcmp(v, "ir") && strcmp(v, "nn")) {
        error_plain("-x takes ir or nn, got '%s'", v);
        return 1;
      }
      cl->ir = !strcmp(v, "ir");
    } else if ((v = flag_value(argc, argv, &i, "--passes"))) {
      Options *o = &cl->front;
      o->only = arena_alloc(sizeof(Pass *) * (strlen(v) + 1));
      for (const char *p = v;; p++) {
        size_t n = strcspn(p, ",");
        if (!(o->only[o->nonly++] = known_pass(arena_strndup(p, n))))
          return 1;
        if (!p[n])
          break;
        p += n;
      }
    } else if (diag_error_count()) {
      return 1;  /* a flag above lacked its value */
    } else if (a[0] == '-' && a[1] != '\0') {
      const char *key = arena_strndup(a, strcspn(a, "="));
      const char *near = closest_word(key, flags, (int)(sizeof flags / sizeof flags[0]));
      error_plain("unknown option '%s'%s (see nncc --help)", a,
                  near ? arena_printf("; did you mean '%s'?", near) : "");
      return 1;
    } else if (cl->path) {
      error_plain("more than one model given ('%s' and '%s'); nncc compiles one model at "
                  "a time", cl->path, a);
      return 1;
    } else {
      cl->path = a;
    }
  }
  return diag_error_count() ? 1 : -1;
}

/* --inference-only and --embed-weights: C output without a trainer. */
static bool check_c_flags(const CommandLine *cl, bool emit_c_files) {
  const char *flag = cl->embed_weights ? "--embed-weights" : "--inference-only";
  if (!cl->embed_weights && !cl->inference_only)
    return true;
  if (!emit_c_files) {
    error_plain("%s shapes the C, not --emit=%s; leave one out", flag, cl->emit);
    return false;
  }
  if (cl->with_main) {
    error_plain("--main makes a trainer, and %s leaves the training code out; leave one out",
                flag);
    return false;
  }
  if (cl->embed_weights && !strcmp(cl->embed_weights, "-")) {
    error_plain("--embed-weights needs a checkpoint file, not standard input");
    return false;
  }
  return true;
}

/* Do the options make sense together?  Reports the first problem; fills in
 * the header's default place. */
static bool check_command_line(CommandLine *cl) {
  if (!cl->path) {
    usage(stderr);
    return false;
  }
  if (cl->emit) {
    int k = 0;
    while (k < NEMIT && strcmp(cl->emit, emit_kinds[k]))
      k++;
    if (k == NEMIT) {
      const char *near = closest_word(cl->emit, emit_kinds, NEMIT);
      error_plain("unknown --emit=%s%s; expected ast, ir, ir-train, fused, params, summary, "
                  "plan, plan-svg, dot, dot-train or c",
                  cl->emit, near ? arena_printf(" (did you mean '%s'?)", near) : "");
      return false;
    }
  }
  const char *after = cl->front.print_after;
  if (after && strcmp(after, "all") && !known_pass(after))
    return false;
  if (cl->ir && cl->emit && !strcmp(cl->emit, "ast")) {
    error_plain("--emit=ast needs .nn input; IR text has no AST");
    return false;
  }
  if (strcmp(cl->dtype, "f32") && strcmp(cl->dtype, "f64")) {
    error_plain("--dtype must be f32 or f64, got '%s'", cl->dtype);
    return false;
  }
  cl->front.f64 = !strcmp(cl->dtype, "f64");
  bool emit_c_files = !cl->emit || !strcmp(cl->emit, "c");
  if (!check_c_flags(cl, emit_c_files))
    return false;
  if (emit_c_files && !cl->header && cl->out_path && strcmp(cl->out_path, "-")) {  /* beside the C */
    size_t n = strlen(cl->out_path);
    cl->header = n > 2 && !strcmp(cl->out_path + n - 2, ".c")
                     ? arena_printf("%.*s.h", (int)(n - 2), cl->out_path)
                     : arena_printf("%s.h", cl->out_path);
  }
  const char *outputs[] = {cl->out_path, emit_c_files ? cl->header : NULL};
  return outputs_distinct(cl->path, outputs, 2) &&
         (!cl->embed_weights || outputs_distinct(cl->embed_weights, outputs, 2));
}

/* The C and its header (-o, or stdout). */
static bool write_c(const Graph *g, const CommandLine *cl, const Weights *w, int argc,
                    char **argv) {
  EmitOptions eo = {0};
  eo.weights = w;
  eo.with_main = cl->with_main;
  eo.inference_only = cl->inference_only;
  eo.c_path = cl->out_path ? cl->out_path : "-";
  eo.h_path = cl->header;
  eo.h_include = base_name(eo.h_path ? eo.h_path : arena_printf("%s.h", g->name));
  eo.command_line = recorded_command("nncc", argc - 1, argv + 1);
  return emit_c(g, &eo);
}

/* Another --emit stage, to stdout or (with -o, made in memory and written
 * as the C is) to a file. */
static bool write_stage(const Graph *g, const Program *prog, const CommandLine *cl) {
  const char *emit = cl->emit;
  if (!strcmp(emit, "dot-train") && !g->nlosses) {
    error_plain("--emit=dot-train: model %s has no loss, so no training step to draw (--emit=dot "
                "draws its inference graph)", g->name);
    return false;
  }
  OutputFile file_out = {cl->out_path, NULL, 0};
  FILE *out = cl->out_path ? open_memstream(&file_out.text, &file_out.len) : stdout;
  if (!out) {
    error_plain("out of memory");
    return false;
  }
  if (!strcmp(emit, "ast"))
    print_ast(out, prog);
  else if (!strcmp(emit, "ir") || !strcmp(emit, "ir-train"))
    print_ir(out, g, cl->front.print_locs, !strcmp(emit, "ir-train"));
  else if (!strcmp(emit, "fused"))
    print_fused(out, g);
  else if (!strcmp(emit, "plan"))
    print_plan(out, g);
  else if (!strcmp(emit, "plan-svg"))
    print_plan_svg(out, g);
  else if (!strcmp(emit, "dot") || !strcmp(emit, "dot-train"))
    print_dot(out, g, !strcmp(emit, "dot-train"));
  else if (!strcmp(emit, "params"))
    print_params(out, g);
  else
    print_summary(out, g);
  if (out == stdout)
    return true;
  bool ok = !ferror(out) & (fclose(out) == 0);
  if (!ok)
    error_plain("out of memory");
  ok = ok && write_outputs(&file_out, 1);
  free(file_out.text);
  return ok;
}

int main(int argc, char **argv) {
  diag_init(stderr);
  atexit(diag_flush);
  if (argc > 1 && nnrt_cli_command(argv[1]))  /* train, test, predict (trainer.c) */
    return trainer_command(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "weights"))
    return weights_command(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "import"))  /* ONNX (compiler/onnx/) */
    return onnx_import_command(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "export"))
    return onnx_export_command(argc, argv);
  CommandLine cl = {0};
  int status = parse_command_line(argc, argv, &cl);
  if (status >= 0)
    return status;
  if (!check_command_line(&cl))
    return 1;

  SrcFile file;
  if (!load_file(cl.path, &file))
    return 1;
  Program *prog = NULL;
  Graph *g = cl.ir ? compile_ir(&file, &cl.front) : compile_source(&file, &cl.front, &prog);
  bool ok = g != NULL;
  const Weights *w = NULL;  /* (read and checked before anything is written) */
  if (g && cl.embed_weights)
    ok = (w = weights_load(g, cl.embed_weights)) != NULL;
  if (ok && (cl.emit || cl.out_path))  /* else: a check only */
    ok = !cl.emit || !strcmp(cl.emit, "c") ? write_c(g, &cl, w, argc, argv)
                                           : write_stage(g, prog, &cl);
  free((void *)file.text);  /* diagnostics hold their own copy of the lines */
  return ok ? 0 : 1;
}
