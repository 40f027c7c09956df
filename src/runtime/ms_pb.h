/* ms_pb.h: a protobuf wire-format reader. We read ONNX's ModelProto with this instead of
 * protobuf-c because protobuf-c copies every bytes field on unpack: weights must stay in the
 * mapped file (cold start, memory), and the runtime must build with no dependency for a
 * microcontroller. It is a reader only; it never allocates. */
#ifndef MS_PB_H
#define MS_PB_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_pb {
    const uint8_t *p, *end;
} ms_pb;

enum { MS_PB_VARINT = 0, MS_PB_I64 = 1, MS_PB_LEN = 2, MS_PB_I32 = 5 };

typedef struct ms_pb_field {
    uint32_t num;
    int wire;
    uint64_t v;          /* VARINT, I64, I32 */
    const uint8_t *data; /* LEN */
    size_t len;
} ms_pb_field;

static inline ms_pb ms_pb_init(const void *buf, size_t len)
{
    ms_pb r = {(const uint8_t *)buf, (const uint8_t *)buf + len};
    return r;
}
/* The bytes of a LEN field as a message; empty for any other wire type. */
static inline ms_pb ms_pb_sub(const ms_pb_field *f)
{
    ms_pb empty = {NULL, NULL};
    return f->wire == MS_PB_LEN ? ms_pb_init(f->data, f->len) : empty;
}

/* 1: a field was read; 0: end of message; -1: malformed (truncated, bad wire type). */
int ms_pb_next(ms_pb *r, ms_pb_field *f);
/* Read one varint from a packed run; -1 when malformed. Inline with a one-byte fast path: an
 * ONNX-ML tree ensemble is some 250,000 unpacked fields whose keys and values are mostly
 * single bytes, and reading them was a third of a 200-tree GBDT's load. */
int ms_pb_varint_slow(ms_pb *r, uint64_t *v);
static inline int ms_pb_varint(ms_pb *r, uint64_t *v)
{
    if (r->p < r->end && !(*r->p & 0x80)) {
        *v = *r->p++;
        return 0;
    }
    return ms_pb_varint_slow(r, v);
}
/* Count of elements of a repeated scalar field occurrence (packed or not): 1 for an unpacked
 * occurrence; for packed LEN, the number of varints or len/elem_size. -1 when malformed. */
int64_t ms_pb_count(const ms_pb_field *f, int fixed_size);

#endif
