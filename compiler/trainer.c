/* trainer.c - nncc train|test|predict MODEL.nn [trainer options].
 *
 * Reads the trainer's options with the trainer's own table (runtime/cli.c),
 * compiles the model, checks the data against it (the files' headers: the
 * kind of data, the shape of a sample, the labels), then finds the model's
 * trainer in the cache or builds it there, and runs it.  Everything that
 * can be wrong with the command line is said before the C compiler runs.
 *
 * The cache (decision 295): $XDG_CACHE_HOME/nncc, else ~/.cache/nncc, one
 * directory NAME-HASH per trainer, HASH covering the generated C and
 * header, the C compiler's command line, nncc's version and the runtime it
 * links (each file's size and time).  A trainer is built in a private
 * directory and renamed into place whole, so concurrent runs never see a
 * half-built one, and the first of two to finish wins.
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include "nncc.h"

#include "../runtime/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

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

/* ------------------------------------------------------------ the data */

/* What the model takes, per sample. */
typedef struct Takes {
  const char *name;
  int64_t inputs;          /* input values                                 */
  int64_t labels;          /* label values (class ids count one each)      */
  bool float_labels, mixed;
  int64_t classes;         /* class labels: the number of classes          */
  const Type *input;       /* the only input's type, or NULL               */
} Takes;

static Takes model_takes(const Graph *g) {
  Takes t = {g->name, 0, 0, false, false, 0, NULL};
  if (g->inputs.len == 1)
    t.input = &((IrNode *)g->inputs.data[0])->out->ty;
  for (int i = 0; i < g->inputs.len; i++)
    t.inputs += type_numel(&((IrNode *)g->inputs.data[i])->out->ty);
  for (int i = 0; i < g->labels.len; i++) {
    const Type *ty = &((IrNode *)g->labels.data[i])->out->ty;
    bool real = ty->kind != T_CLASS;
    t.labels += real ? type_numel(ty) : 1;
    if (i == 0)
      t.float_labels = real, t.classes = real ? 0 : ty->nclasses;
    else if (real != t.float_labels)
      t.mixed = true;
  }
  return t;
}

/* The dimensions of an IDX file of bytes (plain or gzipped): its header. */
static bool idx_dims(const char *path, int64_t *dims, int *nd) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    error_plain("%s: cannot open: %s", path, strerror(errno ? errno : ENOMEM));
    return false;
  }
  unsigned char h[20];
  int got = gzread(f, h, 4);
  bool ok = got == 4 && h[0] == 0 && h[1] == 0 && h[2] == 0x08 && h[3] >= 1 && h[3] <= 4;
  *nd = ok ? h[3] : 0;
  ok = ok && gzread(f, h + 4, (unsigned)(4 * *nd)) == 4 * *nd;
  gzclose(f);
  if (!ok) {
    error_plain("%s: not an IDX file of bytes (the header of MNIST's files)", path);
    return false;
  }
  for (int k = 0; k < *nd; k++) {
    const unsigned char *b = h + 4 + 4 * k;
    dims[k] = (int64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
  }
  return true;
}

/* An IDX pair (labels may be NULL): images of the model's size, as many
 * labels as images. */
static bool check_idx(const char *images, const char *labels, const Takes *t) {
  int64_t d[4], l[4];
  int nd, nl;
  if (!idx_dims(images, d, &nd))
    return false;
  int64_t per = 1;
  for (int k = 1; k < nd; k++)
    per *= d[k];
  if (nd < 2 || per != t->inputs) {
    error_plain("%s: samples of %lld values, but model %s takes %lld per sample",
                images, (long long)(nd < 2 ? 1 : per), t->name, (long long)t->inputs);
    return false;
  }
  if (!labels)
    return true;
  if (!idx_dims(labels, l, &nl))
    return false;
  if (nl != 1 || l[0] != d[0]) {
    error_plain("%s holds %lld labels for the %lld images of %s", labels,
                (long long)(nl == 1 ? l[0] : 0), (long long)d[0], images);
    return false;
  }
  return true;
}

/* The number of fields on the first line of a CSV file (plain or gzipped)
 * that is not blank. */
static bool csv_columns(const char *path, long *cols) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    error_plain("%s: cannot open: %s", path, strerror(errno ? errno : ENOMEM));
    return false;
  }
  long fields = 1, chars = 0;
  for (int ch; (ch = gzgetc(f)) != -1;) {
    if (ch == '\n' && chars)
      break;
    if (ch == ',')
      fields++;
    chars += ch != '\n' && ch != '\r' && ch != ' ';
  }
  gzclose(f);
  *cols = chars ? fields : 0;
  return true;
}

static bool check_csv(const char *path, long label_cols, const Takes *t) {
  long cols;
  if (!csv_columns(path, &cols))
    return false;
  if (cols != label_cols + t->inputs) {
    error_plain("%s:1: %ld columns, but model %s takes %s%lld input values (%lld columns)",
                path, cols, t->name,
                label_cols ? arena_printf("%ld label%s and ", label_cols,
                                          label_cols == 1 ? "" : "s") : "",
                (long long)t->inputs, (long long)(label_cols + t->inputs));
    return false;
  }
  return true;
}

/* dir/base or dir/base.gz, whichever exists (as the trainer looks). */
static const char *data_file(const char *dir, const char *base) {
  const char *p = arena_printf("%s/%s", dir, base), *gz = arena_printf("%s.gz", p);
  return access(p, F_OK) == 0 ? p : access(gz, F_OK) == 0 ? gz : NULL;
}

/* The labels the data's kind carries, against the model's. */
static bool check_labels(const Takes *t, bool idx, const char *dir) {
  if (t->mixed || (!t->float_labels && t->labels != 1)) {
    error_plain("model %s takes %lld label values of %s, but the trainer's data sets carry "
                "one class id or real values (train it from a program of your own through "
                "%s_train_step_ex)", t->name, (long long)t->labels,
                t->mixed ? "two kinds" : "class ids", t->name);
    return false;
  }
  if (idx && t->float_labels) {
    error_plain("model %s takes real-valued labels (%lld per sample), but the IDX files in "
                "%s carry class ids: give it train.csv and test.csv, the label columns first",
                t->name, (long long)t->labels, dir);
    return false;
  }
  return true;
}

/* --data DIR for train (need_train) or test: there, a data set in it, of
 * the model's shape and label kind. */
static bool check_data_dir(const char *dir, bool need_train, const Takes *t) {
  struct stat st;
  if (!dir) {
    error_plain("no data: pass --data DIR (Fashion-MNIST comes with Debian's "
                "dataset-fashion-mnist package, in /usr/share/datasets/fashion-mnist)");
    return false;
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    error_plain("%s: %s", dir,
                errno == ENOENT ? "no such directory" : !errno ? "not a directory"
                                                      : strerror(errno));
    return false;
  }
  const char *ti = data_file(dir, "train-images-idx3-ubyte");
  const char *tl = data_file(dir, "train-labels-idx1-ubyte");
  const char *ei = data_file(dir, "t10k-images-idx3-ubyte");
  const char *el = data_file(dir, "t10k-labels-idx1-ubyte");
  if (ti || (!need_train && ei)) {
    if (!check_labels(t, true, dir))
      return false;
    if (need_train && !tl) {
      error_plain("%s: train-images-idx3-ubyte without train-labels-idx1-ubyte", dir);
      return false;
    }
    if (need_train && !check_idx(ti, tl, t))
      return false;
    if (!need_train && !(ei && el)) {
      error_plain("no test data in %s: no t10k-images-idx3-ubyte[.gz] and "
                  "t10k-labels-idx1-ubyte[.gz]", dir);
      return false;
    }
    return !(ei && el) || check_idx(ei, el, t);
  }
  const char *train = arena_printf("%s/train.csv", dir), *test = arena_printf("%s/test.csv", dir);
  bool has_train = access(train, F_OK) == 0, has_test = access(test, F_OK) == 0;
  if (need_train ? !has_train : !has_test) {
    error_plain("%s: no %s here: expected %s", dir,
                need_train ? "data set" : "test data",
                need_train ? "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] "
                             "(and t10k-...), or train.csv"
                           : "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], "
                             "or test.csv");
    return false;
  }
  if (!check_labels(t, false, dir))
    return false;
  long label_cols = (long)t->labels;
  return (!need_train || check_csv(train, label_cols, t)) &&
         (!has_test || check_csv(test, label_cols, t));
}

/* A PGM/PPM image: the model's input shape ([C, H, W], or its size). */
static bool check_pnm(const char *path, const Takes *t) {
  FILE *f = fopen(path, "rb");
  int c, w, h, max;
  const char *why = strerror(errno);
  if (!f || nnrt_pnm_header(f, &c, &w, &h, &max, &why) != 0) {
    if (f)
      fclose(f);
    error_plain("%s: %s", path, why);
    return false;
  }
  fclose(f);
  const Type *in = t->input;
  bool image = in && in->rank == 3;
  if (image ? in->dims[0] != c || in->dims[1] != h || in->dims[2] != w
            : (int64_t)c * w * h != t->inputs) {
    error_plain("%s: a %dx%d %s image (%s), but model %s takes %s (images are not resized)",
                path, w, h, c == 1 ? "grey" : "colour",
                type_str(&(Type){T_F32, 3, {c, h, w}, 0, false}), t->name,
                in ? type_str(in) : arena_printf("%lld values", (long long)t->inputs));
    return false;
  }
  return true;
}

/* predict's --images FILE: a CSV of inputs, an IDX file of images, or a
 * PGM/PPM image, of the model's sample size. */
static bool check_images(const char *path, const Takes *t) {
  size_t n = strlen(path);
  if (access(path, R_OK) != 0) {
    error_plain("%s: %s", path, strerror(errno));
    return false;
  }
  if (n > 4 && (!strcmp(path + n - 4, ".csv") || (n > 7 && !strcmp(path + n - 7, ".csv.gz"))))
    return check_csv(path, 0, t);
  FILE *f = fopen(path, "rb");
  int c0 = f ? getc(f) : EOF, c1 = f ? getc(f) : EOF;
  if (f)
    fclose(f);
  if (c0 == 'P' && (c1 == '5' || c1 == '6'))
    return check_pnm(path, t);
  return check_idx(path, NULL, t);
}

/* --------------------------------------------------------- the trainer */

/* The directory of path's target, canonical (path itself if it has none). */
static const char *real_dir(const char *path) {
  char *real = realpath(path, NULL);
  if (!real)
    return path;
  const char *copy = arena_printf("%s", real);
  free(real);
  return copy;
}

/* The headers and the static libraries the trainer builds against:
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

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

/* The cache's root (made if missing), or NULL after an error. */
static const char *cache_root(void) {
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  const char *root = xdg && xdg[0] == '/' ? arena_printf("%s/nncc", xdg)
                     : home && home[0]    ? arena_printf("%s/.cache/nncc", home)
                                          : NULL;
  if (!root) {
    error_plain("nowhere to keep the trainer: set XDG_CACHE_HOME or HOME");
    return NULL;
  }
  for (char *p = (char *)root + 1;; p++)  /* mkdir -p */
    if (*p == '/' || !*p) {
      char c = *p;
      *p = '\0';
      if (mkdir(root, 0777) != 0 && errno != EEXIST) {
        error_plain("cannot make the trainer cache %s: %s", root, strerror(errno));
        return NULL;
      }
      *p = c;
      if (!c)
        break;
    }
  return root;
}

/* The generated C and header in memory. */
typedef struct Generated {
  char *c, *h;
  size_t c_len, h_len;
} Generated;

static bool write_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite(text, 1, len, f) == len;
  if (f && fclose(f) != 0)
    ok = false;
  if (!ok)
    error_plain("cannot write %s: %s", path, strerror(errno));
  return ok;
}

/* Removes the private build directory dir and what it holds. */
static void remove_build_dir(const char *dir, const char *name) {
  const char *files[] = {arena_printf("%s/%s.c", dir, name), arena_printf("%s/%s.h", dir, name),
                         arena_printf("%s/%s", dir, name)};
  for (int i = 0; i < 3; i++)
    unlink(files[i]);
  rmdir(dir);
}

/* The trainer of g: from the cache, or built into it.  NULL after an error. */
static const char *cached_trainer(const Graph *g, const Generated *gen, const char *model_path,
                                  const char *prog) {
  const char *include, *lib, *root;
  if (!find_runtime(&include, &lib) || !(root = cache_root()))
    return NULL;
  const char *cc = getenv("CC") ? getenv("CC") : on_path("clang") ? "clang" : "cc";
  const char *flags = "-std=c99 -O3 -march=native";
  const char *libs[] = {arena_printf("%s/libnnrt_train.a", lib),
                        arena_printf("%s/libnnrt.a", lib),
                        arena_printf("%s/nnrt_train.h", include),
                        arena_printf("%s/nnrt.h", include)};
  StrBuf key = {0};
  sb_printf(&key, "nncc %s\n%s %s -I%s %s\n", NNCC_VERSION, cc, flags, include, NNCC_RUNTIME_LIBS);
  for (int i = 0; i < 4; i++) {
    struct stat st;
    if (stat(libs[i], &st) == 0)
      sb_printf(&key, "%s %lld %lld.%09ld\n", libs[i], (long long)st.st_size,
                (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
  }
  uint64_t h = fnv(0xcbf29ce484222325ULL, key.data, key.len);
  h = fnv(fnv(h, gen->c, gen->c_len), gen->h, gen->h_len);
  const char *dir = arena_printf("%s/%s-%016llx", root, g->name, (unsigned long long)h);
  const char *exe = arena_printf("%s/%s", dir, g->name);
  if (access(exe, X_OK) == 0) {
    fprintf(stderr, "%s: %s: the trainer is cached: %s\n", prog, model_path, exe);
    return exe;
  }
  char *tmp = arena_printf("%s/.build-%s-XXXXXX", root, g->name);
  if (!mkdtemp(tmp)) {
    error_plain("cannot make a build directory in %s: %s", root, strerror(errno));
    return NULL;
  }
  const char *c_path = arena_printf("%s/%s.c", tmp, g->name);
  const char *built = arena_printf("%s/%s", tmp, g->name);
  if (!write_file(c_path, gen->c, gen->c_len) ||
      !write_file(arena_printf("%s/%s.h", tmp, g->name), gen->h, gen->h_len)) {
    remove_build_dir(tmp, g->name);
    return NULL;
  }
  StrBuf words = {0};
  sb_printf(&words, "%s", NNCC_RUNTIME_LIBS);
  char *cmd[40];
  int n = 0;
  cmd[n++] = (char *)cc;
  for (char *f = arena_strdup(flags), *tok = strtok(f, " "); tok; tok = strtok(NULL, " "))
    cmd[n++] = tok;
  cmd[n++] = arena_printf("-I%s", include);
  cmd[n++] = (char *)c_path;
  cmd[n++] = (char *)libs[0];
  cmd[n++] = (char *)libs[1];
  cmd[n++] = "-o";
  cmd[n++] = (char *)built;
  for (char *tok = strtok(words.data, " "); tok && n < 38; tok = strtok(NULL, " "))
    cmd[n++] = tok;
  cmd[n] = NULL;
  fprintf(stderr, "%s: %s: building the trainer (%s -O3, the runtime in %s) into %s\n", prog,
          model_path, cc, lib, dir);
  int rc = run(cmd);
  if (rc != 0) {
    remove_build_dir(tmp, g->name);
    error_plain("building the trainer of %s failed (%s exited with %d)", model_path, cc, rc);
    return NULL;
  }
  if (rename(tmp, dir) != 0 && access(exe, X_OK) != 0) {
    /* not a finished trainer (one removed by hand): replace it */
    remove_build_dir(dir, g->name);
    rename(tmp, dir);
  }
  if (access(built, F_OK) == 0) {  /* another run built it meanwhile: take theirs */
    remove_build_dir(tmp, g->name);
    if (access(exe, X_OK) != 0) {
      error_plain("cannot put the trainer in the cache %s: %s", dir, strerror(errno));
      return NULL;
    }
  }
  return exe;
}

/* ------------------------------------------------------------- driver */

static bool generate(const Graph *g, char **argv, Generated *gen) {
  EmitOptions eo = {0};
  eo.c_path = arena_printf("%s.c", g->name);
  eo.h_path = arena_printf("%s.h", g->name);
  eo.h_include = eo.h_path;
  /* the trainer `nncc --main` makes, one for train, test and predict */
  eo.command_line = recorded_command("nncc --main", 1, argv + 2);
  eo.with_main = true;
  FILE *c = open_memstream(&gen->c, &gen->c_len), *h = open_memstream(&gen->h, &gen->h_len);
  if (!c || !h) {
    error_plain("out of memory");
    return false;
  }
  emit_c_to(c, h, g, &eo);
  bool ok = !ferror(c) & !ferror(h) & (fclose(c) == 0) & (fclose(h) == 0);
  if (!ok)
    error_plain("out of memory");
  return ok;
}

int trainer_command(int argc, char **argv) {
  nnrt_command cmd = nnrt_cli_command(argv[1]);
  const char *prog = arena_printf("nncc %s", argv[1]);
  diag_set_program(prog);
  if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
    nnrt_cli_usage(stdout, "nncc", cmd);
    return 0;
  }
  if (argc < 3 || argv[2][0] == '-') {
    nnrt_cli_usage(stderr, "nncc", cmd);
    return 2;
  }
  nnrt_cli cli;
  int status = nnrt_cli_parse(&cli, cmd, argc - 3, argv + 3, prog, "nncc");
  if (status >= 0)
    return status;
  SrcFile file;
  if (!load_file(argv[2], &file))
    return 1;
  Options opt = {0};
  Graph *g = compile_source(&file, &opt, NULL);
  if (!g)
    return 1;
  if (cmd == NNRT_CMD_TRAIN && !g->nlosses) {
    error_plain("%s: the model has no loss, so it cannot be trained: add a `loss` line",
                argv[2]);
    return 1;
  }
  Takes t = model_takes(g);
  if (cmd == NNRT_CMD_PREDICT ? !check_images(cli.images, &t)
                              : !check_data_dir(cli.o.data, cmd == NNRT_CMD_TRAIN, &t))
    return 1;
  Generated gen = {0};
  const char *exe = generate(g, argv, &gen) ? cached_trainer(g, &gen, argv[2], prog) : NULL;
  free(gen.c);
  free(gen.h);
  if (!exe)
    return 1;
  char **targs = arena_alloc(sizeof(char *) * (size_t)(argc + 1));
  int k = 0;
  targs[k++] = (char *)prog;  /* its messages start "nncc train:" */
  targs[k++] = argv[1];
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
