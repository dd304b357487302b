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
#define _XOPEN_SOURCE 700 /* realpath */
#include "nncc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const emit_kinds[] = {"ast",  "ir", "params", "summary", "ir-train", "fused",
                                         "plan", "plan-svg", "dot", "dot-train", "c"};
#define NEMIT (int)(sizeof emit_kinds / sizeof emit_kinds[0])

static void usage(FILE *out) {
  fprintf(out,
          "usage: nncc [options] <model.nn | ->\n"
          "       nncc train <model.nn> --data DIR [trainer options]\n"
          "       nncc weights export|import ... (see nncc weights --help)\n"
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
          "  -x ir                 the input is IR text (--emit=ir, ir-train)\n"
          "  --passes=<a,b,...>    run these passes, in this order, instead\n"
          "  --verify-each         run the verifier after every pass\n"
          "  --help, --version\n"
          "\n"
          "'-' reads the model from standard input.\n");
}

static const char *flag_value(int argc, char **argv, int *i, const char *flag) {
  size_t n = strlen(flag);
  if (!strncmp(argv[*i], flag, n) && argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (!strcmp(argv[*i], flag)) {
    if (*i + 1 >= argc) {
      error_plain("%s needs a value", flag);
      return NULL;
    }
    return argv[++*i];
  }
  return NULL;
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

/* ------------------------------------------------------------ nncc train */

/* Where the runtime is (CMakeLists.txt says): an installed nncc finds it
 * beside itself, BIN/INSTALLED_INCLUDE and BIN/INSTALLED_LIB for the
 * directory BIN it is in (relative paths, so the prefix may move); the
 * nncc of a build tree (in BUILD_BIN) finds it in that tree. */
#ifndef NNCC_RUNTIME_LIBS
#define NNCC_RUNTIME_INSTALLED_INCLUDE "../include"
#define NNCC_RUNTIME_INSTALLED_LIB "../lib"
#define NNCC_RUNTIME_BUILD_BIN ""
#define NNCC_RUNTIME_BUILD_INCLUDE ""
#define NNCC_RUNTIME_BUILD_LIB ""
#define NNCC_RUNTIME_LIBS "-lopenblas -lz -lm -lpthread"
#endif

/* The directory of path's target, canonical (path itself if it has none). */
static const char *real_dir(const char *path) {
  char *real = realpath(path, NULL);
  if (!real)
    return path;
  const char *copy = arena_printf("%s", real);
  free(real);
  return copy;
}

/* The headers and the static libraries `nncc train` builds against:
 * nnrt_train.h, nnrt.h; libnnrt_train.a, libnnrt.a.  False (and an error)
 * if they are not there. */
static bool find_runtime(const char **include, const char **lib) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    error_plain("cannot find the runtime: /proc/self/exe: %s", strerror(errno));
    return false;
  }
  exe[n] = '\0';
  const char *bin = arena_strndup(exe, (size_t)(strrchr(exe, '/') - exe));
  if (*NNCC_RUNTIME_BUILD_BIN && same_file(bin, NNCC_RUNTIME_BUILD_BIN)) {
    *include = NNCC_RUNTIME_BUILD_INCLUDE;
    *lib = NNCC_RUNTIME_BUILD_LIB;
  } else {
    const char *inc = NNCC_RUNTIME_INSTALLED_INCLUDE, *libdir = NNCC_RUNTIME_INSTALLED_LIB;
    *include = inc[0] == '/' ? inc : arena_printf("%s/%s", bin, inc);
    *lib = libdir[0] == '/' ? libdir : arena_printf("%s/%s", bin, libdir);
  }
  const char *need[] = {arena_printf("%s/nnrt_train.h", *include),
                        arena_printf("%s/nnrt.h", *include),
                        arena_printf("%s/libnnrt_train.a", *lib),
                        arena_printf("%s/libnnrt.a", *lib)};
  for (int i = 0; i < 4; i++)
    if (access(need[i], R_OK) != 0) {
      error_plain("cannot find the runtime to build the trainer against: %s: %s "
                  "(nncc looks beside itself, in %s)", need[i], strerror(errno), bin);
      return false;
    }
  *include = real_dir(*include);
  *lib = real_dir(*lib);
  return true;
}

static bool on_path(const char *prog) {
  const char *path = getenv("PATH");
  if (!path)
    return false;
  for (const char *p = path; *p;) {
    size_t n = strcspn(p, ":");
    char *full = arena_printf("%.*s/%s", (int)n, p, prog);
    if (access(full, X_OK) == 0)
      return true;
    p += n + (p[n] == ':');
  }
  return false;
}

/* Runs argv; returns its exit status (or 127 if it could not start). */
static int run(char *const *argv) {
  pid_t pid = fork();
  if (pid < 0)
    return 127;
  if (pid == 0) {
    execvp(argv[0], argv);
    fprintf(stderr, "nncc: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) < 0)
    return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* nncc train model.nn [trainer options]: compile the model with --main,
 * build it against libnnrt, and run `NAME train [options]`. */
static int train_command(int argc, char **argv) {
  if (argc < 3 || argv[2][0] == '-') {
    fprintf(stderr, "usage: nncc train model.nn --data DIR [trainer options]\n"
                    "(the trainer's options: build it and run NAME --help, or see README)\n");
    return 1;
  }
  SrcFile file;
  if (!load_file(argv[2], &file))
    return 1;
  Options opt = {0};
  Graph *g = compile_source(&file, &opt, NULL);
  if (!g)
    return 1;
  if (!g->nlosses) {
    error_plain("%s: the model has no loss, so it cannot be trained: add a `loss` line",
                argv[2]);
    return 1;
  }
  const char *include, *lib;
  if (!find_runtime(&include, &lib))
    return 1;
  const char *dir = getenv("NNCC_WORKDIR");
  if (dir) {
    mkdir(dir, 0777);
  } else {
    char *tmpl = arena_printf("%s/nncc-train-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!(dir = mkdtemp(tmpl))) {
      error_plain("cannot make a work directory: %s", strerror(errno));
      return 1;
    }
  }
  EmitOptions eo = {0};
  eo.c_path = arena_printf("%s/%s.c", dir, g->name);
  eo.h_path = arena_printf("%s/%s.h", dir, g->name);
  eo.h_include = arena_printf("%s.h", g->name);
  eo.command_line = recorded_command("nncc train", 1, argv + 2);
  eo.with_main = true;
  const char *exe = arena_printf("%s/%s", dir, g->name);
  const char *outputs[] = {eo.c_path, eo.h_path, exe};
  if (!outputs_distinct(argv[2], outputs, 3) || !emit_c(g, &eo))
    return 1;
  const char *cc = getenv("CC") ? getenv("CC") : on_path("clang") ? "clang" : "cc";
  StrBuf libs = {0};
  sb_printf(&libs, "%s", NNCC_RUNTIME_LIBS);
  char *cmd[32];
  int n = 0;
  cmd[n++] = (char *)cc;
  cmd[n++] = "-std=c99";
  cmd[n++] = "-O3";
  cmd[n++] = "-march=native";
  cmd[n++] = arena_printf("-I%s", include);
  cmd[n++] = (char *)eo.c_path;
  cmd[n++] = arena_printf("%s/libnnrt_train.a", lib);
  cmd[n++] = arena_printf("%s/libnnrt.a", lib);
  cmd[n++] = "-o";
  cmd[n++] = (char *)exe;
  for (char *tok = strtok(libs.data, " "); tok && n < 30; tok = strtok(NULL, " "))
    cmd[n++] = tok;
  cmd[n] = NULL;
  fprintf(stderr, "nncc: %s -> %s (%s -O3, the runtime in %s)\n", argv[2], exe, cc, lib);
  int rc = run(cmd);
  if (rc != 0) {
    error_plain("building %s failed (%s exited with %d)", exe, cc, rc);
    return 1;
  }
  char **targs = arena_alloc(sizeof(char *) * (size_t)(argc + 1));
  int k = 0;
  targs[k++] = (char *)exe;
  targs[k++] = "train";
  for (int i = 3; i < argc; i++)
    targs[k++] = argv[i];
  targs[k] = NULL;
  free((void *)file.text);
  diag_flush();
  fflush(stdout);
  execv(exe, targs);
  error_plain("cannot run %s: %s", exe, strerror(errno));
  return 1;
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
  bool ir;                  /* -x ir: the input is IR text                  */
} CommandLine;

/* The one option loop.  Returns -1 to go on, else the exit status (after
 * --help, --version, --list-passes or an error in an option). */
static int parse_command_line(int argc, char **argv, CommandLine *cl) {
  static const char *const flags[] = {"-o", "--header", "--emit", "--print-after",
                                      "--print-locs", "--list-passes", "-O0", "-O2",
                                      "--dtype", "--help", "--version", "--main",
                                      "-x", "--passes", "--verify-each"};
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
  if (emit_c_files && !cl->header && cl->out_path && strcmp(cl->out_path, "-")) {  /* beside the C */
    size_t n = strlen(cl->out_path);
    cl->header = n > 2 && !strcmp(cl->out_path + n - 2, ".c")
                     ? arena_printf("%.*s.h", (int)(n - 2), cl->out_path)
                     : arena_printf("%s.h", cl->out_path);
  }
  const char *outputs[] = {cl->out_path, emit_c_files ? cl->header : NULL};
  return outputs_distinct(cl->path, outputs, 2);
}

/* The C and its header (-o, or stdout). */
static bool write_c(const Graph *g, const CommandLine *cl, int argc, char **argv) {
  EmitOptions eo = {0};
  eo.with_main = cl->with_main;
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
  if (argc > 1 && !strcmp(argv[1], "train"))
    return train_command(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "weights"))
    return weights_command(argc, argv);
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
  if (g && (cl.emit || cl.out_path))  /* else: a check only */
    ok = !cl.emit || !strcmp(cl.emit, "c") ? write_c(g, &cl, argc, argv)
                                           : write_stage(g, prog, &cl);
  free((void *)file.text);  /* diagnostics hold their own copy of the lines */
  return ok ? 0 : 1;
}
