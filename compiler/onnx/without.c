/* without.c - nncc import and nncc export in an nncc built without ONNX
 * support (CMake found no protoc-c, libprotobuf-c or onnx.proto). */
#include "nncc.h"

static int without(const char *what) {
  error_plain("nncc %s: this nncc was built without ONNX support; install Debian's "
              "protobuf-c-compiler, libprotobuf-c-dev and libonnx-dev and rebuild", what);
  return 1;
}

int onnx_import_command(int argc, char **argv) { return (void)argc, (void)argv, without("import"); }
int onnx_export_command(int argc, char **argv) { return (void)argc, (void)argv, without("export"); }
