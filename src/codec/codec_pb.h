/* codec_pb.h: ms_tensor -> ONNX TensorProto (the format of the ONNX test data's *.pb).
 *
 * Written fields, in field-number order as protobuf serializers emit them: dims (1, one
 * varint per dim, unpacked as onnx.proto's proto2 declares), data_type (2), name (8, when
 * non-empty), raw_data (9, little-endian element bytes; bools one byte each). Strings go to
 * string_data (6) instead of raw_data, as ONNX requires.
 * Reading a TensorProto is the runtime's job: ms_tensor_decode_pb in mlship.h. */
#ifndef CODEC_PB_H
#define CODEC_PB_H

#include "codec/codec_buf.h"
#include "mlship.h"

/* Append the TensorProto encoding of `t` (named `name`, may be NULL) to `out`. */
ms_status mc_pb_encode(const ms_tensor *t, const char *name, mc_buf *out, ms_error *err);

#endif
