/* codec_pb.c: TensorProto writer. A handful of protobuf wire-format primitives (varint,
 * tag, length-delimited) are enough for the four fields we emit. */
#include "codec/codec_pb.h"

#include <string.h>

static void put_varint(mc_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) { tmp[n++] = (unsigned char)(v | 0x80); v >>= 7; }
    tmp[n++] = (unsigned char)v;
    mc_buf_append(b, tmp, n);
}

/* wire types: 0 varint, 2 length-delimited */
static void put_tag(mc_buf *b, unsigned field, unsigned wire) { put_varint(b, (uint64_t)field << 3 | wire); }

static void put_bytes(mc_buf *b, unsigned field, const void *p, size_t n)
{
    put_tag(b, field, 2);
    put_varint(b, n);
    mc_buf_append(b, p, n);
}

ms_status mc_pb_encode(const ms_tensor *t, const char *name, mc_buf *out, ms_error *err)
{
    size_t esz = ms_dtype_size(t->dtype);
    if (!esz || t->dtype == MS_DTYPE_UNDEFINED)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "pb: cannot write dtype %d", (int)t->dtype);
    if (t->ndim < 0 || t->ndim > MS_MAX_DIMS)
        return bs_fail(err, MS_ERR_INVALID, "pb: bad rank %d", (int)t->ndim);
    const uint16_t one = 1;
    if (*(const unsigned char *)&one != 1 && esz > 1 && t->dtype != MS_DTYPE_STRING)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "pb: big-endian hosts are not supported");
    uint64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) return bs_fail(err, MS_ERR_INVALID, "pb: negative dimension");
        if (t->shape[i] && numel > SIZE_MAX / esz / (uint64_t)t->shape[i])
            return bs_fail(err, MS_ERR_INVALID, "pb: tensor too large");
        numel *= (uint64_t)t->shape[i];
    }
    for (int i = 0; i < t->ndim; i++) {
        put_tag(out, 1, 0);
        put_varint(out, (uint64_t)t->shape[i]);
    }
    put_tag(out, 2, 0);
    put_varint(out, (uint64_t)t->dtype);
    if (t->dtype == MS_DTYPE_STRING) {
        /* string_data precedes name in field order (6 < 8). */
        const char *const *s = t->data;
        for (uint64_t i = 0; i < numel; i++) put_bytes(out, 6, s[i], strlen(s[i]));
    }
    if (name && *name) put_bytes(out, 8, name, strlen(name));
    if (t->dtype != MS_DTYPE_STRING) put_bytes(out, 9, t->data, (size_t)numel * esz);
    return mc_buf_failed(out) ? bs_fail(err, MS_ERR_RUNTIME, "out of memory writing pb") : MS_OK;
}
