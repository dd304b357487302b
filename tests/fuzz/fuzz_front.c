/* fuzz_front.c - libFuzzer target for the whole compiler: tokenizer,
 * parser, lowering, shape inference, parameter layout, the train-block
 * checks, autodiff, the fusion passes (at -O2, or -O0 for inputs of odd
 * length), the memory plan and the C emitter.  Any input must end in C or
 * in reported errors; a crash, a sanitizer report, an internal error or a
 * leak is a bug.
 *
 * CMake builds it with clang whenever clang is installed (target fuzzers);
 * scripts/fuzz.sh SECONDS runs it over a corpus seeded from models/ and the
 * lit tests (tests/fuzz/run.sh).
 */
#include "../../compiler/nncc.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *sink;
  if (!sink)
    sink = fopen("/dev/null", "w");
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  SrcFile file = {"fuzz.nn", text, size};
  Options opt = {0};
  opt.O0 = size % 2;
  diag_init(sink);
  Program *prog = NULL;
  Graph *g = compile_source(&file, &opt, &prog);
  if (g) {
    /* Exercise the printers too: they walk everything the passes built. */
    print_ir(sink, g, true, true);
    print_params(sink, g);
    print_summary(sink, g);
    print_ast(sink, prog);
    print_fused(sink, g);
    if (g->outputs.len) {
      EmitOptions eo = {0};
      eo.command_line = "fuzz";
      eo.h_include = "fuzz.h";
      emit_c_to(sink, sink, g, &eo);
      print_plan(sink, g);
      print_plan_svg(sink, g);
      print_dot(sink, g, false);
      if (g->nlosses)
        print_dot(sink, g, true);
      print_schedule(sink, g);
    }
  }
  diag_flush();
  arena_reset();
  free(text);
  return 0;
}
