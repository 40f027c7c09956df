/* codec_file.h: load tensors from a file whatever its format (.npy, ONNX TensorProto .pb,
 * OIP JSON), recognised by content, not by extension. */
#ifndef CODEC_FILE_H
#define CODEC_FILE_H

#include "codec/codec_json.h"

typedef enum mc_format {
    MC_FORMAT_NPY,
    MC_FORMAT_PB,
    MC_FORMAT_JSON,
} mc_format;

/* "\x93NUMPY" -> npy; first non-blank byte '{' -> JSON (a TensorProto never starts with '{':
 * that byte would be a protobuf group start, which TensorProto does not use); else pb. */
mc_format mc_format_sniff(const void *buf, size_t len);

/* Decode `buf` into a list of named tensors (reusing mc_oip_request as the list). npy gives
 * one unnamed tensor (name NULL), pb one tensor named as in the proto (NULL if unnamed), JSON
 * an OIP request or a single tensor object (mc_json_parse_inputs). `what` names the source in
 * error messages. */
ms_status mc_tensors_decode(const void *buf, size_t len, const char *what, mc_oip_request *out,
                            ms_error *err);
/* The same from a file ("-" is stdin). `fmt` (may be NULL) receives the format found. */
ms_status mc_tensors_read_file(const char *path, mc_oip_request *out, mc_format *fmt,
                               ms_error *err);

#endif
