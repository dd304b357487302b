/*
 * nncc.h - the one internal header of the nncc compiler.
 *
 * The pipeline (see driver.c and pass.c):
 *
 *   tokenize -> parse (AST) -> lower (graph IR) -> infer-shapes -> assign-params
 *            -> check-train -> rewrite-bce -> dce -> autodiff -> fusion
 *            -> schedule -> plan -> verify -> emit (C, or the plan)
 *
 * IR text (-x ir, ir_read.c) joins it after the pass it was printed after.
 *
 * Each source file has a section here listing what it exports; pass.c holds
 * the pass registry.  Anything not
 * declared here is static to its file.  All compiler memory comes from one
 * arena (util.c) that is released in one call, so the front end can run many
 * times in one process (the fuzzer does).
 */
#ifndef NNCC_H
#define NNCC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NNCC_VERSION "0.1.0"

#define MAX_RANK 4        /* per-sample rank of any tensor                    */
#define MAX_ERRORS 20     /* errors printed before "too many errors"          */
#define MAX_ELEMS 2147483647LL /* elements per sample of one tensor (2^31-1)  */
#define MAX_PARAMS (1LL << 40) /* trainable floats in one model               */
#define MAX_NESTING 256   /* '(' and '[' open at once in one statement         */

/* ---------------------------------------------------------------- util.c */

void *arena_alloc(size_t size);            /* zeroed, never NULL           */
void arena_reset(void);                    /* frees everything allocated   */
char *arena_strndup(const char *s, size_t n);
char *arena_strdup(const char *s);
char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The file name of a path, without its directories ("models/m.nn" -> "m.nn"):
 * how generated files name the files they came from, so that they are the same
 * bytes wherever they are made (decision 240). */
const char *base_name(const char *path);
/* A command line as generated files record it: argv[1..argc) after "nncc",
 * each argument (or the value of a --flag=value) without its directories. */
const char *recorded_command(const char *head, int argc, char *const *argv);
/* argv[*i] as `flag value` (then *i moves past the value) or `flag=value`:
 * the value, or NULL if argv[*i] is not that flag (or, after an error
 * saying so, lacks its value: check diag_error_count()). */
const char *flag_value(int argc, char **argv, int *i, const char *flag);

/* A growable array of pointers, living in the arena. */
typedef struct PtrVec {
  void **data;
  int len, cap;
} PtrVec;
void vec_push(PtrVec *v, void *item);

/* A map from strings to pointers, living in the arena (open addressing). */
typedef struct StrMap {
  const char **keys;
  void **vals;
  int len, cap;
} StrMap;
/* The value of key, NULL if absent; strmap_slot adds key (value NULL) if
 * absent and returns where its value is kept.  key must outlive the map. */
void *strmap_get(const StrMap *m, const char *key);
void **strmap_slot(StrMap *m, const char *key);

/* A growable string, living in the arena. */
typedef struct StrBuf {
  char *data;
  size_t len, cap;
} StrBuf;
void sb_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap);
/* Appends "head" items[0..n) "tail", the items parted by sep ("," or " +")
 * and a space, broken after a sep where a line would pass C_LINE_MAX
 * characters; continued lines start with cont spaces. */
enum { C_LINE_MAX = 119 };  /* the generated C's lines: under 120 characters */
void sb_wrapped(StrBuf *sb, const char *head, const char *const *items, int n, const char *sep,
                const char *tail, int cont);
/* Appends lead text "\n", text broken at spaces where a line would pass
 * C_LINE_MAX characters, continued lines starting with cont (a comment's
 * lines: lead " * ", cont " *     "). */
void sb_comment(StrBuf *sb, const char *lead, const char *text, const char *cont);

/* Shortest decimal text that reads back as the same double. */
const char *fmt_double(double v);
/* Shortest decimal text that reads back (strtof, as a C compiler reads an
 * f-suffixed literal) as the same float: 0.286, not 0.28600001335144043. */
const char *fmt_float(float v);
/* A count with thousands separators: 422,090. */
const char *fmt_count(int64_t v);
/* A size for people: 320 B, 9.4 KiB, 1.61 MiB, 2.05 GiB. */
const char *fmt_bytes(int64_t bytes);
/* The candidate nearest to word by edit distance, or NULL if none is close. */
const char *closest_word(const char *word, const char *const *cands, int n);

/* ---------------------------------------------------------------- diag.c */

typedef struct SrcFile {
  const char *name;   /* as given on the command line ("<stdin>" for -)   */
  const char *text;   /* NUL-terminated copy of the contents              */
  size_t len;
} SrcFile;

/* A place in the source: every token, AST node and IR node carries one. */
typedef struct SrcLoc {
  const SrcFile *file;
  int off;            /* byte offset of the first character              */
  int line, col;      /* 1-based; col counts bytes                        */
  int len;            /* bytes to underline (at least 1 for the caret)    */
} SrcLoc;

void diag_init(FILE *out);                 /* where diagnostics go          */
void diag_set_program(const char *name);   /* "nncc train": what plain lines
                                              start with (default "nncc")  */
void diag_flush(void);                     /* print them, sorted by place   */
int diag_error_count(void);
/* Would an error at loc be printed, or do MAX_ERRORS errors already come
 * before it?  (For checks that cost more than the error: suggestions.) */
bool diag_shown(SrcLoc loc);
void error_at(SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void warn_at(SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note_at(SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void internal_error_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define internal_error(...) internal_error_at(__FILE__, __LINE__, __VA_ARGS__)
/* The whole line containing loc, without its newline. */
const char *src_line_text(SrcLoc loc, int *len);

/* ------------------------------------------------------------ tokenize.c */

typedef enum {
  TK_IDENT,    /* model, x, linear, he_normal                              */
  TK_NUMBER,   /* 128, 0.05, 5e-4 (sign is a separate '-' token)           */
  TK_STRING,   /* "fc1"                                                    */
  TK_PUNCT,    /* = : , ( ) [ ] { } |> - ;                                 */
  TK_NEWLINE,  /* end of a statement (not emitted inside ( ) or [ ])       */
  TK_EOF,
} TokenKind;

typedef struct Token {
  TokenKind kind;
  SrcLoc loc;
  const char *text;   /* the lexeme, NUL-terminated (arena copy)          */
  double num;         /* TK_NUMBER: value                                  */
  bool is_int;        /* TK_NUMBER: written without '.' or exponent        */
  bool int_overflow;  /* TK_NUMBER: an integer too large for int64         */
  bool bad;           /* the lexer reported an error in or beside it: the
                         parser drops its statement without further errors */
  struct Token *next;
} Token;

/* Returns NULL after reporting errors (bytes that are not text, ...). */
Token *tokenize(const SrcFile *file);

/* --------------------------------------------------------------- parse.c */

typedef enum {
  ND_NUM,      /* 0.05                                                     */
  ND_IDENT,    /* a name: a value, an op, or a word such as he_normal      */
  ND_STRING,   /* "fc1"                                                    */
  ND_LIST,     /* [3, 3]                                                   */
  ND_CALL,     /* op(args) -- also what `a |> op(args)` desugars to        */
} NodeKind;

typedef struct Arg Arg;

typedef struct AstNode {
  NodeKind kind;
  SrcLoc loc;
  Token *tok;         /* representative token                              */
  /* ND_NUM */
  double num;
  bool is_int;
  /* ND_IDENT, ND_STRING, ND_CALL (callee) */
  const char *name;
  /* ND_CALL: arguments; ND_LIST: items (as positional Args) */
  Arg *args;
  int nargs;
  bool piped;         /* ND_CALL: first argument came from a pipe          */
  bool bare;          /* ND_CALL: written without parentheses (`|> relu`)  */
} AstNode;

struct Arg {
  const char *key;    /* NULL for a positional argument                    */
  SrcLoc key_loc;
  AstNode *value;
};

typedef enum {
  ST_MODEL,    /* model NAME                                                */
  ST_INPUT,    /* input NAME : f32[dims]                                    */
  ST_LABEL,    /* label NAME : class[N] | f32[dims]                         */
  ST_BIND,     /* NAME = expr                                               */
  ST_OUTPUT,   /* output a, b                                               */
  ST_LOSS,     /* loss expr [weight=w]                                      */
  ST_BLOCK,    /* train { ... } / test { ... }                              */
  ST_CLASSES,  /* classes ["cat", "dog"]  (expr: the list)                  */
} StmtKind;

/* One line of a train or test block: word[(args)] [items...] */
typedef struct BlockLine {
  SrcLoc loc;
  const char *word;
  Arg *args;
  int nargs;
  struct BlockLine *next;
} BlockLine;

typedef struct Stmt {
  StmtKind kind;
  SrcLoc loc;         /* the statement's first token                        */
  const char *name;   /* MODEL/INPUT/LABEL/BIND name; BLOCK: train|test     */
  SrcLoc name_loc;
  /* INPUT/LABEL: the declared type */
  const char *type_word;      /* f32 | class                                */
  SrcLoc type_loc;
  int64_t dims[MAX_RANK];
  SrcLoc dim_locs[MAX_RANK];
  int rank;
  /* BIND, LOSS: the expression; OUTPUT: names (ND_IDENT nodes) */
  AstNode *expr;
  AstNode **outputs;
  int noutputs;
  /* LOSS: weight */
  double weight;
  bool has_weight;
  SrcLoc weight_loc;
  /* BLOCK */
  BlockLine *lines;
  struct Stmt *next;
} Stmt;

typedef struct Program {
  const SrcFile *file;
  Stmt *stmts;
} Program;

Program *parse(const SrcFile *file, Token *tok);
void print_ast(FILE *out, const Program *prog);
void print_ast_expr(StrBuf *sb, const AstNode *n);

/* ---------------------------------------------------------------- args.c */

/* The kinds of argument an op, initializer or training word accepts. */
typedef enum {
  ARG_INT,     /* 128                                                      */
  ARG_NUM,     /* 0.05 (an integer is accepted)                            */
  ARG_BOOL,    /* true | false                                             */
  ARG_WORD,    /* one of a fixed set of words (spec->words)                */
  ARG_INT2,    /* 3 or [3, 3]                                              */
  ARG_PAD,     /* 1, [1, 2], same or valid                                 */
  ARG_NUMS,    /* 0.5 or [0.5, 0.4, 0.3]                                    */
  ARG_INTS,    /* [24, 28] (a single int is accepted)                      */
  ARG_INIT,    /* he_normal | normal(std=0.01) ...                         */
  ARG_NAME,    /* "fc1": a layer name                                      */
  ARG_CALL,    /* a word or call from spec->calls (optimizer sgd(...))     */
} ArgKind;

typedef struct ArgSpec ArgSpec;

/* A word that may carry arguments: an initializer, an optimizer, ... */
typedef struct CallSpec {
  const char *name;
  const ArgSpec *args;    /* NULL-name terminated                          */
} CallSpec;

struct ArgSpec {
  const char *name;
  ArgKind kind;
  bool required;
  double def;             /* default number (INT, NUM, BOOL: 0/1, INT2)    */
  const char *def_word;   /* default for WORD / INIT / PAD ("same")        */
  double min, max;        /* inclusive range for numbers, if has_range     */
  bool has_range;
  bool max_open;          /* the range excludes max ([0, 1) for dropout)   */
  const char *const *words;   /* ARG_WORD: allowed words, NULL-terminated  */
  const CallSpec *calls;      /* ARG_CALL / ARG_INIT: NULL-name terminated */
};

#define MAX_LIST 64

/* A bound argument value. */
typedef struct Attr {
  bool given;             /* written by the user (else the default)        */
  SrcLoc loc;
  int n;                  /* number of values in v[] (lists)               */
  double v[MAX_LIST];     /* numbers; INT2: [h, w]; PAD: [t, l, b, r]      */
  const char *word;       /* WORD/INIT/CALL/NAME: the word; PAD: "same"    */
  struct Attr *sub;       /* INIT/CALL: the call's own arguments           */
  const CallSpec *call;   /* INIT/CALL: which call                          */
} Attr;

/* Bind args to spec; report errors; returns false on any error.  `what`
 * names the callee in messages.  out[] has one Attr per spec entry. */
bool bind_args(const char *what, SrcLoc callee_loc, const Arg *args, int nargs,
               const ArgSpec *spec, Attr *out);
int spec_count(const ArgSpec *spec);
int spec_index(const ArgSpec *spec, const char *name);
void print_attr(StrBuf *sb, const ArgSpec *spec, const Attr *a);

extern const CallSpec init_calls[];   /* the initializers                 */

/* ------------------------------------------------------------------ ir.c */

typedef enum {
  T_UNKNOWN,   /* not inferred yet                                          */
  T_ERROR,     /* an error was reported upstream: stay quiet downstream     */
  T_F32,       /* f32 tensor, per-sample shape dims[0..rank)                */
  T_CLASS,     /* int32 class id per sample in [0, nclasses)                */
  T_SCALAR,    /* a loss: one f32 for the whole batch                       */
  T_NONE,      /* no value: a node that only writes parameter gradients or
                  parameters (linear_grad of a first layer, sgd)            */
} TypeKind;

typedef struct Type {
  TypeKind kind;
  int rank;
  int64_t dims[MAX_RANK];
  int64_t nclasses;
  bool fixed;         /* T_F32 for the whole batch, not per sample (saved
                         batchnorm statistics)                             */
} Type;

int64_t type_numel(const Type *t);          /* elements per sample         */
const char *type_str(const Type *t);        /* "f32[32, 14, 14]"           */
/* The shape with the batch as N, for model authors: "[N, 32, 14, 14]";
 * a loss "scalar", a class label "[N] class < 10", a fixed value "[32]". */
const char *type_batch_str(const Type *t);
Type type_f32(int rank, const int64_t *dims);

typedef struct OpInfo OpInfo;
typedef struct IrNode IrNode;

typedef struct Value {
  int id;             /* %id in printed IR, assigned in order              */
  Type ty;
  IrNode *def;
  const char *name;   /* the .nn name it was bound to, if any              */
  bool is_label;
  unsigned virt;      /* bit 1 << mode: computed inside its kernel group
                         and never stored in that mode (fuse-elementwise)   */
  struct Value *over[2];  /* per mode: the value whose buffer it takes,
                             which dies where it is written (inplace)    */
} Value;

/* A trainable tensor (weight, bias, gamma, beta) or a buffer (running stats). */
typedef struct Param {
  const char *name;   /* dotted: "fc1.weight"                              */
  const char *role;   /* weight | bias | running_mean | running_var         */
  int rank;
  int64_t dims[MAX_RANK];
  int64_t numel;
  int64_t offset;     /* floats into the params (or buffers) array         */
  const char *cname;  /* its offset's name in the generated C (kb_init):
                         P_fc1_weight, B_bn1_running_mean               */
  bool trainable;
  IrNode *layer;
  /* How create() fills it: an initializer word (he_uniform, zeros, ones...)
   * and its argument (std of normal, a of uniform). */
  const char *init;
  double init_arg;
} Param;

#define MAX_IN 8
#define MAX_PARAMS_PER_OP 4

struct IrNode {
  int op;             /* OpKind                                             */
  SrcLoc loc;         /* the op's name in the source                        */
  Value *in[MAX_IN];
  int nin;
  Value *out;
  Attr *attrs;        /* one per entry of op_table[op]->args            */
  const char *layer_name;   /* layers with parameters                       */
  Param *params[MAX_PARAMS_PER_OP];
  int nparams;
  const char *io_name;      /* OP_INPUT / OP_LABEL: the declared name       */
  Value *aux;               /* what the training kernel saves for the
                               backward pass (batchnorm statistics, the
                               dropout mask), or NULL                        */
  const IrNode *fwd;        /* backward and update nodes: the forward node
                               they belong to (its attrs, params, aux)       */
  bool backward;            /* appended by autodiff: training step only     */
  struct Group *group[2];   /* per mode (MODE_*): its kernel group, or NULL */
  int index;                /* its place in g->nodes when node_position last
                               looked (a cache: passes may drop nodes)      */
};

/* The two modes the code runs in: the inference entry point, and the
 * training ones (forward(training=1) and the training step), which share a
 * memory plan.  Fusion decisions are made per mode. */
enum { MODE_INFER, MODE_TRAIN, NMODES };

/* How a member of a kernel group is written. */
typedef enum {
  ROLE_OWN,       /* by its op's own emitter, in a block of the kernel      */
  ROLE_EPILOGUE,  /* a map inside the store of the member before it         */
  ROLE_PROLOGUE,  /* a map inside the loads of the member after it          */
  ROLE_LOOP,      /* a map in one loop with the maps beside it              */
} Role;

#define GROUP_MAX 16

/* Nodes that run as one kernel (one C function) in one mode. */
typedef struct Group {
  int mode;
  int n;
  IrNode *nodes[GROUP_MAX];   /* in schedule order                          */
  Role roles[GROUP_MAX];
  const char *pass;           /* the pass that formed it                    */
  bool fold_bn;               /* inference: nodes[1] is a batchnorm folded
                                 into the layer nodes[0] (fold-batchnorm)   */
} Group;

typedef struct Loss {
  Value *value;
  double weight;
  SrcLoc loc;
} Loss;

/* ----------------------------------------------------- the train block */

/* The recipe, typed: check-train (train.c) fills it from the blocks, with
 * every default written in (docs/language.md); nothing after it reads the
 * blocks' arguments.  Each enum is in the order of train.c's word tables. */
typedef enum { OPTIM_SGD, OPTIM_ADAM } OptimizerKind;
typedef enum { SCHEDULE_CONSTANT, SCHEDULE_STEP, SCHEDULE_COSINE } ScheduleKind;
typedef enum { AUG_ROTATION, AUG_CROP, AUG_RESIZED_CROP, AUG_HFLIP } AugmentKind;

typedef struct Augment {
  AugmentKind kind;
  double deg;                 /* random_rotation: at most this many degrees  */
  int pad;                    /* random_crop: zero padding on each side      */
  double scale_min, scale_max; /* random_resized_crop: the area kept         */
} Augment;

typedef struct TrainConfig {
  bool present;               /* a train block was written                   */
  SrcLoc loc;
  OptimizerKind optimizer;
  double lr;
  double momentum;            /* sgd                                         */
  bool nesterov;              /* sgd                                         */
  double beta1, beta2, eps;   /* adam                                        */
  double weight_decay;        /* both: L2, added to the gradient             */
  int state_per_param;        /* optimizer state values per parameter: 0-2   */
  ScheduleKind schedule;
  int step_every;             /* step: epochs between decays                 */
  double step_gamma;          /* step: the factor at each                    */
  int64_t batch, epochs, seed;
  double validation;          /* the fraction held out; 0: none              */
  bool early_stopping;
  int patience;               /* early_stopping: epochs without improvement  */
  bool monitor_accuracy;      /* early_stopping: val_accuracy, not val_loss  */
  Augment augment[8];         /* in the order written                        */
  int naugment;
} TrainConfig;

typedef struct TestConfig {
  bool present;               /* a test block was written                    */
  SrcLoc loc;
  bool tta;                   /* test-time augmentation                      */
  int nangles;                /* 1 to 16 (default: the one angle 0)          */
  double angles[16];          /* (the runtime's nnrt_tta holds as many)      */
  bool five_crops;            /* crops=five (else center)                    */
  int nsizes;                 /* 0 to 8                                      */
  int sizes[8];
} TestConfig;

typedef struct Graph {
  const SrcFile *file;
  const char *name;         /* the model's name                             */
  SrcLoc name_loc;
  PtrVec nodes;             /* IrNode*, in source (= topological) order     */
  PtrVec inputs;            /* IrNode* of OP_INPUT                          */
  PtrVec labels;            /* IrNode* of OP_LABEL                          */
  PtrVec outputs;           /* Value*                                       */
  PtrVec output_locs;       /* SrcLoc*, where each output was named         */
  Loss *losses;
  int nlosses;
  PtrVec params;            /* Param*, trainable, in flat-buffer order      */
  PtrVec buffers;           /* Param*, not trainable (BN running stats)     */
  int64_t num_params;       /* floats in the params buffer                  */
  int64_t num_buffers;
  int next_value_id;
  const Stmt *train_stmt;   /* the train / test blocks, checked by train.c  */
  const Stmt *test_stmt;
  TrainConfig train;
  TestConfig test;
  const char *current_pass; /* for internal errors and dumps                */
  PtrVec groups[NMODES];    /* Group*, per mode, in schedule order          */
  int opt_level;            /* 0: no fusion, no reuse; 2: both              */
  bool f64;                 /* --dtype f64: the generated C uses double      */
  int max_batch;            /* the most samples a call runs: 1 embedded
                               (--embed-weights), 0 any (create's max_batch):
                               what scratch per chunk of samples is sized by */
  struct Entry *entries;    /* the generated C's entry points (schedule)    */
  int nentries;
  struct PlanState *plan;   /* per mode (MODE_*): its memory plan (plan)    */
  const char **class_names; /* the classes line, or NULL (classes.c)        */
  int nclass_names;
  SrcLoc classes_loc;
} Graph;

Graph *graph_new(const SrcFile *file);
IrNode *graph_add_node(Graph *g, int op, SrcLoc loc, Value **in, int nin);
/* The IR; with training, the backward nodes too (--emit=ir-train). */
void print_ir(FILE *out, const Graph *g, bool with_locs, bool training);
/* --emit=fused: each mode's kernels, the groups' members and their roles. */
void print_fused(FILE *out, const Graph *g);
const char *ir_node_str(const IrNode *n);   /* one node, as print_ir shows it */
void print_params(FILE *out, const Graph *g);
/* Per value id, the name the printers for model authors (--emit=summary,
 * dot, plan-svg) give a node's value: an input's or label's declared name,
 * a layer's name, else <op><k> (normalize0, relu1: each op counted in
 * source order, skipping names an input or layer takes); a backward node's
 * "grad of <its forward node's>"; a saved value's "saved by <its node's>". */
const char **value_names(const Graph *g);
/* emit_dot.c: --emit=dot (the inference graph) and --emit=dot-train (the
 * training step) for Graphviz, fused kernels as clusters. */
void print_dot(FILE *out, const Graph *g, bool training);
/* summary.c: --emit=summary, a table of the nodes like Keras's
 * model.summary(), the totals, the memory, and the recipe. */
void print_summary(FILE *out, const Graph *g);
/* train.c: the recipe's words, and the blocks as --emit=ir prints them. */
const char *optimizer_word(const TrainConfig *t);
void print_optimizer(StrBuf *sb, const TrainConfig *t);
void print_lr_schedule(StrBuf *sb, const TrainConfig *t);
void print_early_stopping(StrBuf *sb, const TrainConfig *t);
void print_augment(StrBuf *sb, const Augment *a);
void print_tta(StrBuf *sb, const TestConfig *t);
void print_train_block(StrBuf *sb, const TrainConfig *t);
void print_test_block(StrBuf *sb, const TestConfig *t);

/* ------------------------------------------------------ ops.def, ops/ */

/* The op kinds, from the one op table ops.def. */
typedef enum {
#define OP(ENUM, name) OP_##ENUM,
#include "ops.def"
#undef OP
  OP_COUNT
} OpKind;

enum {
  OPF_LAYER = 1 << 0,       /* has parameters: gets a layer name            */
  OPF_LOSS = 1 << 1,        /* produces a loss (T_SCALAR); last input may
                               be a label (the target)                       */
  OPF_INTERNAL = 1 << 2,    /* not callable from .nn (input, label)         */
  OPF_ELEMENTWISE = 1 << 3, /* a map (.map): output element i from the
                               inputs' elements i, output shape = input's  */
  OPF_TRAIN_DIFFERS = 1 << 4, /* its kernel differs in training (batchnorm,
                                 dropout); others share one kernel            */
  /* how it may fuse (besides .map, which makes an op a fusible map): */
  OPF_STORES = 1 << 5,      /* its kernel writes its output one element at a
                               time with k_store: maps after it can run in
                               that store (an epilogue)                      */
  OPF_LOADS = 1 << 6,       /* its kernel reads input 0 one element at a
                               time with k_load: maps before it can run in
                               that load (a prologue)                        */
  OPF_LAYER_HEAD = 1 << 7,  /* linear, conv2d: heads a layer group with the
                               op after it that folds or fuses into it       */
  OPF_FOLDS_INTO_LAYER = 1 << 8,  /* inference: folds into the OPF_LAYER_HEAD
                               layer before it, with its running statistics
                               (batchnorm; fold-batchnorm)                   */
  OPF_INPLACE = 1 << 9,     /* its own kernel stores its output element by
                               element (OPF_STORES) and reads input 0 at an
                               index only before writing its output there:
                               may write over it (maps may too)              */
  OPF_FUSES_AFTER_LAYER = 1 << 10,  /* training: runs in one kernel with the
                               OPF_LAYER_HEAD layer before it, its backward
                               before the layer's (batchnorm; fuse-layers)   */
  OPF_IO = 1 << 11,         /* input, label: the caller's buffers, no kernel */
  OPF_VIEW = 1 << 12,       /* its output is input 0's memory, the same
                               values in another shape (flatten): no kernel,
                               one buffer for both names (value_storage)     */
  OPF_PER_SAMPLE = 1 << 13, /* its kernel's samples are independent and it
                               uses batch only as a loop bound: sample s of
                               what it writes comes from sample s of what it
                               reads, so the batch may be split across
                               threads (kernel.c; maps are so by nature)     */
};

/* Checks inputs and attributes, sets n->out->ty; reports errors at n->loc.
 * Called only when every input has a known, valid type. */
typedef bool (*ShapeFn)(IrNode *n);
/* Declares the node's parameters and buffers with add_param (layers only). */
typedef void (*ParamsFn)(Graph *g, IrNode *n);
typedef struct KernelBuilder KernelBuilder;
typedef struct AD AD;
/* Appends the IR of n's backward pass, given dy, the gradient of its output
 * (NULL for a loss: its gradient is its weight). */
typedef void (*GradFn)(AD *ad, IrNode *n, Value *dy);
/* Writes the node's kernel (kernel.c's k_* helpers); e->training says
 * whether it is the training or the inference forward pass. */
typedef void (*EmitFn)(KernelBuilder *e, const IrNode *n);
/* A buffer a kernel works in, placed by the memory planner like a value. */
#define MAX_SCRATCH 3
typedef struct Scratch {
  int64_t size;             /* values: per sample, or in all if fixed       */
  bool fixed;               /* not scaled by the batch                      */
} Scratch;
/* The scratch buffers n's kernel takes with k_scratch, in that order (the
 * same in both modes); returns how many, at most MAX_SCRATCH. */
typedef int (*ScratchFn)(const Graph *g, const IrNode *n, Scratch *out);
/* An elementwise op as an expression: its value at flat index idx of the
 * batch, given its inputs' values there (C expressions).  It may add kernel
 * arguments (k_aux, k_rng) and lines before the expression (k_line).  The op's kernel, alone or fused, is built from it. */
typedef const char *(*MapFn)(KernelBuilder *e, const IrNode *n, const char *const *in,
                             const char *idx);

/* Everything about one op, defined beside its code in ops/<family>.c as
 * `const OpInfo op_<name>`.  Passes look ops up here; none switches on kinds. */
struct OpInfo {
  const char *name;
  int ninputs;              /* tensor inputs; -1: two or more (concat)      */
  int flags;
  const ArgSpec *args;      /* the op's own arguments, after the inputs     */
  ShapeFn shape;
  ParamsFn params;          /* layers only                                  */
  EmitFn emit;              /* kernel (forward, or the op's own if internal) */
  GradFn grad;              /* builds the backward IR (autodiff.c)          */
  ScratchFn scratch;        /* ops whose kernel takes scratch, else NULL    */
  MapFn map;                /* elementwise ops: the expression (emit: NULL) */
  const char *summary;      /* one line, for --help and docs                */
};

extern const OpInfo *const op_table[OP_COUNT];
int op_lookup(const char *name);            /* OpKind or -1                */
const char *op_suggest(const char *name);   /* nearest op name or NULL     */

/* Helpers for op hooks (ops/common.c). */
const Attr *attr_get(const IrNode *n, const char *name);
int64_t attr_int(const IrNode *n, const char *name);
double attr_num(const IrNode *n, const char *name);
Param *add_param(Graph *g, IrNode *n, const char *role, bool trainable, int rank,
                 const int64_t *dims, const char *init, double init_arg);
/* add_param for a weight initialised by the node's init= argument. */
Param *add_weight(Graph *g, IrNode *n, int rank, const int64_t *dims);
/* Reports "<op> expects a rank-R input, got T" unless input i has rank r. */
bool expect_rank(IrNode *n, int i, int rank, const char *hint);
/* Sets the output to f32[dims]; reports sizes that overflow. */
bool set_out(IrNode *n, int rank, const int64_t *dims);
bool elementwise_shape(IrNode *n);          /* out = in[0]                 */
void conv_pads(const IrNode *n, int64_t pads[4]);  /* conv.c: [t, l, b, r] */
/* Grad hook of a layer: <op>_grad(dy, x) writes the parameter gradients and
 * gives dx, or nothing (T_NONE) when x needs no gradient. */
void grad_layer(AD *ad, IrNode *n, Value *dy, int grad_op);
/* Grad hook of an elementwise op: dx = <op>_grad(dy, in[0] or out). */
void grad_elementwise(AD *ad, IrNode *n, Value *dy, int grad_op, bool uses_output);
void pool_stride(const IrNode *n, int64_t stride[2]);

/* ------------------------------------------------------------ autodiff.c */

/* For grad hooks: does v need a gradient (does it depend on a parameter)? */
bool ad_needs(const AD *ad, const Value *v);
/* A backward node of op for forward node fwd, with inputs and a result of
 * type ty (T_NONE for parameter gradients only). */
IrNode *ad_node(AD *ad, int op, const IrNode *fwd, Value **in, int nin, Type ty);
/* Adds g to the gradient of v (summing with an add node on fan-out). */
void ad_accum(AD *ad, const Value *v, Value *g);
/* The scale of a loss's gradient: its weight (from the loss line). */
double ad_loss_weight(const AD *ad, const IrNode *loss);
/* Sets a backward node's numeric attribute (its op's ArgSpec). */
void set_attr(IrNode *n, const char *name, double v);
/* Gives a training kernel a saved value for the backward pass. */
void set_aux(IrNode *n, int64_t numel, bool fixed);

/* --------------------------------------------------------------- lower.c */

/* AST -> IR.  Returns NULL if there were errors. */
Graph *lower(Program *prog);

/* ---------------------------------------------------------------- pass.c */

typedef bool (*PassFn)(Graph *g);

typedef struct Pass {
  const char *name;
  PassFn run;
  const char *summary;
  bool optimization;        /* skipped at -O0                               */
  void (*print)(FILE *out, const Graph *g);  /* what --print-after shows,
                               if not the IR: its kernel groups, its own
                               result (the schedule, the plan)              */
} Pass;

extern const Pass passes[];
extern const int npasses;
const Pass *pass_lookup(const char *name);

/* passes (one file each) */
bool infer_shapes(Graph *g);    /* shape.c   */
bool assign_params(Graph *g);   /* params.c  */
/* The optimizer state values a checkpoint holds (0 without a loss). */
int64_t optimizer_values(const Graph *g);
/* The structure string hashed into checkpoints' fingerprint: the dtype,
 * the optimizer, every parameter and buffer with its shape. */
const char *checkpoint_structure(const Graph *g);
bool check_train(Graph *g);     /* train.c   */
bool rewrite_bce(Graph *g);     /* rewrite_bce.c */
bool dead_code(Graph *g);       /* dce.c     */
bool autodiff(Graph *g);        /* autodiff.c */
bool fold_batchnorm(Graph *g);  /* fold_batchnorm.c */
bool fuse_layers(Graph *g);     /* fuse_layers.c */
bool fuse_elementwise(Graph *g);  /* fuse_elementwise.c */
bool inplace(Graph *g);         /* inplace.c */
bool schedule_entries(Graph *g);  /* schedule.c */
bool plan_memory(Graph *g);     /* plan.c    */
bool verify_ir(Graph *g);       /* verify.c  */

/* ------------------------------------------------------------ schedule.c */

/* The forward nodes each entry point runs, per value id: inference and
 * forward(training=1) run those the outputs need, the training step those
 * the losses need (and then the backward nodes). */
typedef struct Schedules {
  bool *infer;
  bool *train;
  /* per mode: the nodes that read value id are
   * reader[mode][reader_start[mode][id] .. reader_start[mode][id + 1]) */
  IrNode **reader[NMODES];
  int *reader_start[NMODES];
  bool *result[NMODES];     /* per mode, per value id: see is_result       */
} Schedules;

Schedules schedules_of(const Graph *g);
/* Does n run in an entry point with these forward nodes (and, for the
 * training step, the backward nodes)? */
bool runs_in(const IrNode *n, const bool *forward, bool backward);
/* ... in some entry point of the mode / in every one that runs its phase? */
bool runs_in_mode(const Graph *g, const Schedules *s, const IrNode *n, int mode);
bool runs_everywhere(const Graph *g, const Schedules *s, const IrNode *n, int mode);
/* The nodes of the mode that read v: their count, and the first max. */
int readers(const Schedules *s, int mode, const Value *v, IrNode **out, int max);
/* Is v read after the mode's entry points end (an output, a loss)? */
bool is_result(const Schedules *s, int mode, const Value *v);

/* The generated C's entry points, each a static run_<name> function that
 * calls kernels (the schedule pass).  Only models with a loss train. */
enum { ENTRY_INFER, ENTRY_TRAIN_FORWARD, ENTRY_TRAIN, ENTRY_UPDATE, NENTRIES };

typedef struct Entry {
  const char *name;         /* infer | train_forward | train | update       */
  const char *what;         /* which public function runs it                 */
  int mode;                 /* MODE_*: its fusion decisions and memory plan  */
  int mask;                 /* PLAN_*: its bit in a buffer's entries; 0 for
                               the update, which takes no arena              */
  PtrVec kernels;           /* IrNode*, in call order: a node alone, or the
                               last member of its group, for the group       */
  PtrVec results;           /* Value*: what is read after it returns         */
} Entry;

/* Does the entry point return v (is v among its results)? */
bool entry_returns(const Entry *en, const Value *v);
/* --print-after=schedule: each entry point's kernels in call order. */
void print_schedule(FILE *out, const Graph *g);

/* --------------------------------------------------------------- group.c */

Group *group_new(Graph *g, int mode, const char *pass, IrNode *first);
/* Adds n (or all of b) at the end of grp if the schedule allows it. */
bool group_append(Graph *g, const Schedules *s, Group *grp, IrNode *n, Role role);
bool group_merge(Graph *g, const Schedules *s, Group *a, Group *b);
/* Drops groups of one member (what a failed fusion leaves). */
void groups_tidy(Graph *g);
bool group_has(const Group *grp, const IrNode *n);
int group_index(const Group *grp, const IrNode *n);
const char *group_name(const Group *grp);     /* linear + batchnorm + relu */
/* n's index in g->nodes; the index where n's kernel runs in the mode (its
 * group's last member's). */
int node_position(const Graph *g, const IrNode *n);
/* For a node that may join the layer before it (a batchnorm: the caller
 * tests the flag its pass reads): the linear/conv2d before it, if that
 * layer's output is read by no other forward node and neither is grouped
 * yet, else NULL. */
IrNode *layer_before_norm(const Schedules *s, const IrNode *bn, int mode);
int kernel_position(const Graph *g, const IrNode *n, int mode);
/* The sections of a group, the units of its kernel: a map loop (a run of
 * ROLE_LOOP), a store with its epilogue (ROLE_OWN + ROLE_EPILOGUE run), a
 * load with its prologue (ROLE_PROLOGUE run + ROLE_OWN), or one ROLE_OWN.
 * sec[i]: the section of member i, numbered from 0. */
void group_sections(const Group *grp, int *sec);
/* Values computed in a section and read only there stay in registers: is
 * v such a value in the mode (decided by fuse-elementwise)? */
bool value_virtual(const Value *v, int mode);
/* The value whose memory v is: v, or for the output of a view (OPF_VIEW),
 * its input's, through views of views. */
Value *value_storage(const Value *v);

/* ---------------------------------------------------------------- plan.c */

#define PLAN_MAX_SPANS 8
enum { PLAN_INFER = 1, PLAN_TRAIN_FORWARD = 2, PLAN_TRAIN = 4 };  /* entry points */

/* What a buffer holds, for people (--emit=plan-svg's colours). */
enum { BUF_ACTIVATION, BUF_SAVED, BUF_GRADIENT, BUF_SCRATCH };

/* A buffer to place: a value, a saved value or a kernel's scratch. */
typedef struct PlanBuffer {
  const char *what;         /* "%12", "scratch of %7"                        */
  int kind;                 /* BUF_*: a forward value, a value saved for the
                               backward pass, a backward value, scratch     */
  PtrVec values;            /* Value*: the values it holds, in graph order
                               (in place and views share one); scratch: the
                               output of its kernel's node                  */
  const char *cname;        /* its name in the generated C: t12, saved12,
                               scratch7 (a second: scratch7_1)              */
  int64_t size;             /* values (per sample unless fixed)              */
  bool fixed;               /* not scaled by the batch                       */
  int64_t offset;           /* the result                                    */
  int64_t base;             /* fixed buffers: they sit at base * max_batch +
                               offset, above every per-sample buffer live
                               beside them (scratch of an early conv may use
                               the room of a later, larger layer)            */
  int entries;              /* PLAN_* entry points that use it               */
  int nspans;               /* lifetime: steps lo[i]..hi[i]                  */
  int lo[PLAN_MAX_SPANS], hi[PLAN_MAX_SPANS];
} PlanBuffer;

typedef struct Plan {
  PtrVec bufs;              /* PlanBuffer*                                   */
  int64_t per_sample, fixed;  /* the two regions' sizes, in values           */
} Plan;

/* A mode's plan (the plan pass) and where it puts each value. */
typedef struct PlanState {
  Plan plan;
  int64_t *offset;          /* per value id: arena offset, or -1            */
  PlanBuffer **value_buf;   /* per value id                                 */
  PlanBuffer ***scratch;    /* per value id: the scratch of its node's
                               kernel, NULL-terminated; NULL if it takes none */
} PlanState;

void plan_add_span(PlanBuffer *b, int lo, int hi);
/* A buffer's place as a C expression over A (the arena), batch and mb. */
const char *plan_ref(const PlanBuffer *b);
void plan_place(Plan *p, bool naive);
/* The scratch buffers planned for n's kernel in the mode (NULL-terminated),
 * or NULL. */
PlanBuffer *const *plan_scratch(const Graph *g, int mode, const IrNode *n);
/* Per buffer of p: is it the fixed buffer that ends highest of those with
 * its base (the first such)?  The arena must reach its end. */
const bool *plan_highest(const Plan *p);
/* --emit=plan, --print-after=plan: every buffer, then `total
 * <inference|training>: arena=.. naive=.. lower_bound=..` in bytes at the
 * train block's batch. */
void print_plan(FILE *out, const Graph *g);
/* Bytes at batch `batch` of the buffers of the entry points in mask
 * (PLAN_INFER, or PLAN_TRAIN and PLAN_TRAIN_FORWARD of the training plan):
 * [0] the arena the plan gives them, [1] their plain sum, [2] the peak of
 * live bytes (the lower bound); --emit=plan's `total` lines. */
void plan_totals(const Graph *g, int mask, int64_t batch, int64_t out[3]);
/* --emit=plan-svg: the same plan drawn as a standalone SVG: time x arena
 * offset, per mode. */
void print_plan_svg(FILE *out, const Graph *g);

/* -------------------------------------------------------------- kernel.c */

/* The kernel builder: what ops' emit and map hooks write kernels with, and
 * what emit_c.c calls to write an entry point's kernels.  It reads the
 * finished plan (g->plan) and never calls back into emit_c.c. */
struct KernelBuilder {
  const Graph *g;
  const char *T;            /* the element type: "float" or "double"        */
  bool training;            /* writing an entry point of MODE_TRAIN         */
  bool embedded;            /* --embed-weights (set after kb_init): each
                               parameter a static const array named by its
                               cname, batchnorms folded into their layers
                               when nncc wrote the file, one thread, the
                               file's own GEMM: nothing from libnnrt         */
  struct KernelState *k;    /* kernel.c's own: the kernel being written, the
                               kernels written, the calls                   */
};

void kb_init(KernelBuilder *e, const Graph *g);
/* Writes the kernels of entry point en not written yet (each once, however
 * many calls) and returns its calls, a line each. */
const char *kb_write_entry(KernelBuilder *e, const Entry *en);
/* The arena buffers (PlanBuffer*) the calls of the last kb_write_entry
 * name, in the order of their first use: the entry point declares them. */
const PtrVec *kb_entry_buffers(const KernelBuilder *e);
/* The kernels written so far: static C functions, in order. */
const char *kb_kernels(const KernelBuilder *e);
/* Does a kernel written so far read parameter (or buffer) p? */
bool kb_param_used(const KernelBuilder *e, const Param *p);

/* Writing one kernel: k_begin, then its pointer arguments, then its body
 * lines ("{" at the end of a line indents, "}" at the start dedents), then
 * k_end, which writes the function and its call. */
/* The pointer helpers return the name the body may use (in a kernel group,
 * members' names are local aliases of the kernel's parameters, which are
 * unique per buffer: two names for one buffer are one parameter). */
void k_begin(KernelBuilder *e, const IrNode *n, const char *what);
const char *k_in(KernelBuilder *e, const char *name, int input);    /* const T *  */
const char *k_out(KernelBuilder *e, const char *name);              /* T *        */
const char *k_param(KernelBuilder *e, const char *name, const Param *p, bool writable);
/* The next of the kernel's scratch buffers (its op's scratch rule), planned. */
const char *k_scratch(KernelBuilder *e, const char *name);
const char *k_rng(KernelBuilder *e);                                /* nnrt_rng * */
/* A helper function a kernel calls: its definition is written once, before
 * the first kernel that asks for it; returns name. */
const char *k_helper(KernelBuilder *e, const char *name, const char *definition);
/* A statement the kernel's body starts with, before its loops (a map hook
 * that fills a whole buffer, e.g. dropout's mask, names parameters only). */
void k_first(KernelBuilder *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *k_grad(KernelBuilder *e, const char *name, const Param *p);  /* dparam */
/* The saved value of a forward node (n->aux): written by its training
 * kernel, read by its backward kernel. */
const char *k_aux(KernelBuilder *e, const char *name, const IrNode *n, bool writable);
/* A scalar argument: its C type, name, and the call's expression. */
void k_arg(KernelBuilder *e, const char *type, const char *name, const char *expr);
/* Every kernel's first argument is `int batch`, the samples it runs on; a
 * kernel that does not depend on it (the optimizer update) says so right
 * after k_begin, and takes no batch. */
void k_no_batch(KernelBuilder *e);
/* A pointer argument of element type ctype to the buffer at expr. */
const char *k_ptr(KernelBuilder *e, const char *ctype, const char *name, bool writable,
                  const char *expr);
/* For OPF_STORES kernels: out[idx] = expr, where out is the name k_out gave
 * (idx: the flat index in the batch).  In a group the maps that follow
 * (ROLE_EPILOGUE) run on the value first, as locals declared where it is
 * called, so call it once per C block; only stored values are written. */
void k_store(KernelBuilder *e, const char *out, const char *idx, const char *expr);
/* For OPF_LOADS kernels: input 0 at flat index idx, through the maps before
 * it (ROLE_PROLOGUE) when they were fused into this load; their statements
 * come first, so call it once per C block, before the line that uses it. */
const char *k_load(KernelBuilder *e, const char *in, const char *idx);
/* For OPF_LOADS kernels with an output the size of input 0: the maps
 * before it (its prologue) run first in one loop that writes into out, and
 * k_load reads out from then on (each element before the kernel writes it). */
void k_load_into(KernelBuilder *e, const char *out);
/* Is value v stored in the mode being written (not fused away)? */
bool k_stored(const KernelBuilder *e, const Value *v);
/* In an inference group that folded a batchnorm into layer n: the bias
 * moves into the batchnorm's shift (layer emitters skip it). */
bool k_bias_folded(const KernelBuilder *e, const IrNode *layer);
const IrNode *k_folded_layer(const KernelBuilder *e, const IrNode *bn);
/* Are the weights constants folded when nncc wrote the file (embedded): a
 * folded batchnorm's scale is in its layer's weights, and its bias holds
 * the whole shift (emit_embed.c)? */
bool k_weights_const(const KernelBuilder *e);
void k_line(KernelBuilder *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void k_end(KernelBuilder *e);

/* C text for kernels and the code around them. */
const char *lit(const KernelBuilder *e, double v);   /* 0.5f, or 0.5 for f64 */
const char *dlit(double v);                    /* a double literal: 1.0   */
const char *mathfn(const KernelBuilder *e, const char *name);  /* expf / exp */
const char *gemm_fn(const KernelBuilder *e);   /* nnrt_sgemm / nnrt_dgemm; embedded nncc_gemm */
/* A value's place inside an entry point's function: A + 12 * batch, in[0]. */
const char *value_ref(const KernelBuilder *e, const Value *v);
const char *comment_text(const char *s, int len);          /* safe in comments */

/* -------------------------------------------------------------- emit_c.c */

/* The C file writer: the files around the kernels, from the finished plan. */
typedef struct EmitOptions {
  const char *c_path;       /* the .c file                                  */
  const char *h_path;       /* the header                                   */
  const char *h_include;    /* how the .c includes the header               */
  const char *command_line; /* recorded in the header comment               */
  bool with_main;           /* --main: a main() that runs libnnrt's trainer  */
  bool inference_only;      /* --inference-only: no training code, no
                               optimizer state, no gradients; load, no save */
  const struct Weights *weights;  /* --embed-weights: the checkpoint's values,
                               written into the C (emit_embed.c), or NULL  */
} EmitOptions;

/* What heads every file nncc writes: what, from what, the command line. */
void emit_command_line(FILE *f, const EmitOptions *opt, const char *what, const char *from);
/* The header's include guard, NNCC_<NAME>_H, and its first sizes. */
const char *header_guard(const Graph *g);
void emit_header_sizes(FILE *f, const Graph *g);
/* Makes both files in memory, then writes them (write_outputs); c_path "-"
 * is stdout, h_path NULL no header.  On failure reports an error. */
bool emit_c(const Graph *g, const EmitOptions *opt);
/* The same two files into open streams (the fuzzer's); h may be NULL. */
void emit_c_to(FILE *c, FILE *h, const Graph *g, const EmitOptions *opt);
/* A file nncc writes, made in memory. */
typedef struct OutputFile {
  const char *path;
  char *text;
  size_t len;
} OutputFile;
/* Writes up to two files by libnnrt's rules (runtime/replace.h: through a
 * temporary file and a rename, symlinks followed, only over regular files,
 * the umask respected); a kill meanwhile leaves no temporary file.  On
 * failure reports an error and writes none of those not yet renamed. */
bool write_outputs(const OutputFile *files, int n);
/* Why this name would break the C as a model name (a keyword, a C library
 * name, one of the generated C's own...), or NULL if it would not. */
const char *c_name_reserved(const char *s);

/* ------------------------------------------------------------ emit_embed.c */

/* --embed-weights: a checkpoint's values, batchnorms folded. */
typedef struct Weights Weights;
/* Reads path as g's checkpoint (runtime/ckpt.c's checks), refuses values
 * that are not finite, folds each inference batchnorm that fold-batchnorm
 * grouped with its layer into that layer's weight and its own bias.  NULL
 * after an error naming the file. */
Weights *weights_load(const Graph *g, const char *path);
/* The inference plan's arena at batch 1, in values: NAME_ARENA_BYTES. */
int64_t infer_arena_values(const Graph *g);
/* The embedded header: sizes, NAME_ARENA_BYTES, NAME_infer, NAME_infer_in. */
void emit_embedded_header(FILE *f, const Graph *g, const EmitOptions *opt);
/* Each parameter the kernels written so far read, as a static const array
 * named by its cname. */
void emit_weight_arrays(FILE *f, const KernelBuilder *kb, const Weights *w);
/* The portable GEMM (runtime/gemm_portable.h) as the file's static
 * gemm_fn(kb), of its element type. */
void emit_portable_gemm(FILE *f, const KernelBuilder *kb);

/* ------------------------------------------------------------- classes.c */

/* The names of a `classes [...]` line (a list of distinct, printable
 * strings), set on g; false after an error (a second line too). */
bool set_class_names(Graph *g, const AstNode *list, SrcLoc loc);
/* Reports a classes line whose count is not the label's classes (or,
 * without a class label, output 0's size).  After shape inference. */
void check_class_names(const Graph *g);
/* The line as .nn and IR write it: classes ["a", "b"]. */
void print_class_names(StrBuf *sb, const Graph *g);
/* How output 0 reads as classes, an nnrt_output_kind: 0 plain values, 1
 * logits (softmax gives probabilities: softmax_cross_entropy's input, a
 * log_softmax, or any output a classes line names), 2 probabilities (a
 * softmax). */
int output_class_kind(const Graph *g);

/* --------------------------------------------------------------- files.c */

/* Reads a model (path, or "-": stdin) into file; false after an error. */
bool load_file(const char *path, SrcFile *file);
/* Whether a and b name one file: the same device and inode if both exist,
 * else the same name in the same directory. */
bool same_file(const char *a, const char *b);
/* Whether no output names the input or another output: false after an
 * error if one does (NULL and "-" outputs are skipped). */
bool outputs_distinct(const char *input, const char *const *outputs, int n);

/* ------------------------------------------------------------- trainer.c */

/* nncc train|test|predict MODEL.nn [trainer options]: checks, finds or
 * builds the model's trainer in the cache, runs it.  The exit status. */
int trainer_command(int argc, char **argv);

/* -------------------------------------------------------------- driver.c */

typedef struct Options {
  bool O0;                      /* -O0: no fusion, no buffer reuse          */
  bool f64;                     /* --dtype f64                              */
  const char *print_after;      /* a pass name, "all", or NULL             */
  bool print_locs;
  FILE *dump;                   /* where --print-after goes                 */
  const Pass **only;            /* --passes=a,b,c: these, in this order     */
  int nonly;
  bool verify_each;             /* --verify-each: verify after every pass   */
  bool one_sample;              /* --embed-weights: calls run one sample   */
} Options;

/* Runs the whole pipeline but the writing of files on a buffer.  Returns
 * the checked, scheduled and planned graph, or NULL after reporting errors.
 * Never exits on bad input. */
Graph *compile_source(const SrcFile *file, const Options *opt, Program **ast_out);
/* The same for IR text (-x ir): the pipeline goes on after the pass the
 * text was printed after. */
Graph *compile_ir(const SrcFile *file, const Options *opt);

/* weights.c: nncc weights export|import ... */
int weights_command(int argc, char **argv);
/* A model's tensors as its checkpoint holds them: the .nn compiled (f32),
 * and its params, buffers (batchnorm running statistics) and optimizer
 * state, laid out as the checkpoint's three sections. */
typedef struct ModelTensors {
  Graph *g;
  float *params, *buffers, *opt;
  uint64_t step;              /* the checkpoint's optimizer steps          */
} ModelTensors;
/* Compiles the model at path and allocates its tensors (zeros); false
 * after an error. */
bool model_tensors(const char *path, ModelTensors *w);
/* The same for a model already compiled (g). */
void model_tensors_of(Graph *g, ModelTensors *w);
/* Fills w from checkpoint ckpt with libnnrt's loader, so a wrong,
 * truncated or corrupt file gets the errors NAME_load gives; false after
 * an error naming the file. */
bool model_tensors_load(ModelTensors *w, const char *ckpt);
/* Both for a command that reads a model's checkpoint into out (nncc
 * weights export, nncc export): refuses an out that names the model or the
 * checkpoint, then compiles and loads; false after an error (w freed). */
bool model_checkpoint(const char *model, const char *ckpt, const char *out, ModelTensors *w);
void model_tensors_free(ModelTensors *w);
/* Copies every tensor of w's model from the array of z named as
 * --emit=params names it (refusing a missing or misshapen one, values that
 * are not finite floats, and arrays the model has not), errors naming src;
 * tensors_encode makes out->text the checkpoint (w's step) for
 * write_outputs. */
struct nnrt_npz;
bool tensors_fill(ModelTensors *w, const char *src, const struct nnrt_npz *z);
bool tensors_encode(const ModelTensors *w, OutputFile *out);
/* nncc import and nncc export (compiler/onnx/, docs/onnx.md): ONNX models in
 * and out; argv[1] is "import" or "export".  The exit status. */
int onnx_import_command(int argc, char **argv);
int onnx_export_command(int argc, char **argv);

/* ------------------------------------------------------------- ir_read.c */

/* IR text as print_ir writes it -> the graph it shows, checked; *start is
 * the index in passes[] of the pass after the one it was printed after.
 * Returns NULL after reporting errors. */
Graph *read_ir(const SrcFile *file, int *start);

#endif
