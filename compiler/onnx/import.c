/* import.c - nncc import MODEL.onnx -o OUT.nn (docs/onnx.md). */
#include "onnx.h"

int onnx_import_command(int argc, char **argv) {
  if (argc < 3) {
    error_plain("usage: nncc import <model.onnx> -o <out.nn> [--name NAME]");
    return 2;
  }
  Onnx__ModelProto *m = onnx_read_model(argv[2]);
  if (!m)
    return 1;
  error_plain("%s: opset %lld, %zu nodes: nncc import is not written yet", argv[2],
              onnx_opset(m, ""), m->graph->n_node);
  onnx__model_proto__free_unpacked(m, NULL);
  return 1;
}
