/* export.c - nncc export MODEL.nn --load CKPT -o OUT.onnx (docs/onnx.md). */
#include "onnx.h"

int onnx_export_command(int argc, char **argv) {
  (void)argc, (void)argv;
  error_plain("nncc export is not written yet");
  return 1;
}
