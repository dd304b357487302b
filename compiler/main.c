/* main.c - the nncc command line.
 *
 *   nncc model.nn -o model.c        compile (writes model.c and model.h)
 *   nncc --emit=ir model.nn         print a stage instead
 *
 * Exit status: 0 on success, 1 for errors in the model or the command line
 * (nothing is written then), 2 for an internal error.
 */
#include "nncc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const emit_kinds[] = {"ast",  "ir", "params", "summary",
                                         "ir-train", "fused", "plan", "plan-svg", "c"};
#define NEMIT (int)(sizeof emit_kinds / sizeof emit_kinds[0])

static void usage(FILE *out) {
  fprintf(out,
          "usage: nncc [options] <model.nn | ->\n"
          "\n"
          "Compile a .nn model to C: a forward pass and a training step.\n"
          "\n"
          "options:\n"
          "  -o <file.c>           write the C (and its header beside it)\n"
          "  --header <file.h>     where to write the header\n"
          "  --emit=<stage>        print a stage instead: ast, ir, ir-train (with the\n"
          "                        backward pass), params, summary, c\n"
          "  --print-after=<pass>  print the IR after a pass (or 'all') to stderr\n"
          "  --print-locs          show .nn locations in printed IR\n"
          "  --list-passes         list the passes, in pipeline order\n"
          "  -O0, -O2              optimisation level (default -O2)\n"
          "  --dtype f32|f64       element type of the generated code (default f32)\n"
          "  --help, --version\n"
          "\n"
          "'-' reads the model from standard input.\n");
}

static char *read_all(FILE *f, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf)
      return NULL;
    if (n + 1 >= cap) {
      if (cap > ((size_t)64 << 20)) {
        free(buf);
        errno = EFBIG;
        return NULL;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static bool load_file(const char *path, SrcFile *file) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    error_plain("cannot open '%s': %s", path, strerror(errno));
    return false;
  }
  size_t len = 0;
  char *text = read_all(f, &len);
  int err = errno;
  if (f != stdin)
    fclose(f);
  if (!text) {
    error_plain("cannot read '%s': %s", path,
                err == EFBIG ? "larger than 64 MiB" : strerror(err ? err : EIO));
    return false;
  }
  file->name = strcmp(path, "-") ? path : "<stdin>";
  file->text = text;
  file->len = len;
  return true;
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

int main(int argc, char **argv) {
  diag_init(stderr);
  atexit(diag_flush);
  Options opt = {0};
  const char *path = NULL, *out_path = NULL, *emit = NULL, *dtype = "f32", *header = NULL;
  static const char *const flags[] = {"-o", "--header", "--emit", "--print-after",
                                      "--print-locs", "--list-passes", "-O0", "-O2",
                                      "--dtype", "--help", "--version"};
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
      opt.print_locs = true;
    } else if (!strcmp(a, "-O0") || !strcmp(a, "-O2") || !strcmp(a, "-O1") ||
               !strcmp(a, "-O3")) {
      /* fusion and reuse arrive with the optimisation passes */
    } else if ((v = flag_value(argc, argv, &i, "-o"))) {
      out_path = v;
    } else if ((v = flag_value(argc, argv, &i, "--header"))) {
      header = v;
    } else if ((v = flag_value(argc, argv, &i, "--emit"))) {
      emit = v;
    } else if ((v = flag_value(argc, argv, &i, "--print-after"))) {
      opt.print_after = v;
    } else if ((v = flag_value(argc, argv, &i, "--dtype"))) {
      dtype = v;
    } else if (diag_error_count()) {
      return 1;  /* a flag above lacked its value */
    } else if (a[0] == '-' && a[1] != '\0') {
      const char *key = arena_strndup(a, strcspn(a, "="));
      const char *near = closest_word(key, flags, (int)(sizeof flags / sizeof flags[0]));
      error_plain("unknown option '%s'%s (see nncc --help)", a,
                  near ? arena_printf("; did you mean '%s'?", near) : "");
      return 1;
    } else if (path) {
      error_plain("more than one model given ('%s' and '%s'); nncc compiles one model at "
                  "a time", path, a);
      return 1;
    } else {
      path = a;
    }
  }
  if (diag_error_count())
    return 1;
  if (!path) {
    usage(stderr);
    return 1;
  }
  if (emit) {
    int k = 0;
    while (k < NEMIT && strcmp(emit, emit_kinds[k]))
      k++;
    if (k == NEMIT) {
      const char *near = closest_word(emit, emit_kinds, NEMIT);
      error_plain("unknown --emit=%s%s; expected ast, ir, params, summary or c", emit,
                  near ? arena_printf(" (did you mean '%s'?)", near) : "");
      return 1;
    }
    if (k >= 4 && strcmp(emit, "c") && strcmp(emit, "ir-train")) {
      error_plain("--emit=%s is not available yet in nncc %s", emit, NNCC_VERSION);
      return 1;
    }
  }
  if (opt.print_after && strcmp(opt.print_after, "all") && !pass_lookup(opt.print_after)) {
    const char *names[16];
    for (int k = 0; k < npasses && k < 16; k++)
      names[k] = passes[k].name;
    const char *near = closest_word(opt.print_after, names, npasses < 16 ? npasses : 16);
    error_plain("unknown pass '%s'%s (see nncc --list-passes)", opt.print_after,
                near ? arena_printf("; did you mean '%s'?", near) : "");
    return 1;
  }
  if (strcmp(dtype, "f32") && strcmp(dtype, "f64")) {
    error_plain("--dtype must be f32 or f64, got '%s'", dtype);
    return 1;
  }

  SrcFile file;
  if (!load_file(path, &file))
    return 1;
  Program *prog = NULL;
  Graph *g = compile_source(&file, &opt, &prog);
  if (!g) {
    free((void *)file.text);  /* diagnostics hold their own copy of the lines */
    return 1;
  }

  if (!emit && !out_path) {  /* check only */
    free((void *)file.text);
    return 0;
  }
  if (!emit || !strcmp(emit, "c")) {
    EmitOptions eo = {0};
    eo.f64 = !strcmp(dtype, "f64");
    eo.c_path = out_path ? out_path : "-";
    if (header) {
      eo.h_path = header;
    } else if (out_path) {
      size_t n = strlen(out_path);
      eo.h_path = n > 2 && !strcmp(out_path + n - 2, ".c")
                      ? arena_printf("%.*s.h", (int)(n - 2), out_path)
                      : arena_printf("%s.h", out_path);
    }
    const char *h = eo.h_path ? eo.h_path : arena_printf("%s.h", g->name);
    const char *slash = strrchr(h, '/');
    eo.h_include = slash ? slash + 1 : h;
    StrBuf cmd = {0};
    sb_printf(&cmd, "nncc");
    for (int i = 1; i < argc; i++)
      sb_printf(&cmd, " %s", argv[i]);
    eo.command_line = cmd.data;
    bool ok = emit_c(g, &eo);
    free((void *)file.text);
    return ok ? 0 : 1;
  }
  FILE *out = stdout;
  if (out_path && !(out = fopen(out_path, "w"))) {
    error_plain("cannot write '%s': %s", out_path, strerror(errno));
    return 1;
  }
  if (!strcmp(emit, "ast"))
    print_ast(out, prog);
  else if (!strcmp(emit, "ir"))
    print_ir(out, g, opt.print_locs, false);
  else if (!strcmp(emit, "ir-train"))
    print_ir(out, g, opt.print_locs, true);
  else if (!strcmp(emit, "params"))
    print_params(out, g);
  else
    print_summary(out, g);
  if (out != stdout && fclose(out) != 0) {
    error_plain("cannot write '%s': %s", out_path, strerror(errno));
    remove(out_path);
    return 1;
  }
  free((void *)file.text);
  return 0;
}
