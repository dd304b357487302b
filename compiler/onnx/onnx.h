/* onnx.h - what nncc import (import.c) and nncc export (export.c) share:
 * ONNX's messages as protobuf-c compiles Debian's onnx.proto
 * (onnx.pb-c.h, generated at build time), and reading a model file. */
#ifndef NNCC_ONNX_H
#define NNCC_ONNX_H

#include "nncc.h"
#include "onnx.pb-c.h"

/* The model in the file at path, or NULL after an error that names the
 * file and the problem (cannot read, empty, not a protobuf ModelProto,
 * truncated, no graph).  Free with onnx__model_proto__free_unpacked(m,
 * NULL). */
Onnx__ModelProto *onnx_read_model(const char *path);

/* The opset version the model imports for domain ("" or "ai.onnx": the
 * default domain), or 0 if it imports none. */
long long onnx_opset(const Onnx__ModelProto *m, const char *domain);

#endif
