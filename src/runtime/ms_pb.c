/* ms_pb.c: protobuf wire-format reader (see ms_pb.h for why it exists). */
#include "ms_pb.h"

int ms_pb_varint_slow(ms_pb *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

int ms_pb_next(ms_pb *r, ms_pb_field *f)
{
    if (r->p >= r->end) return 0;
    uint64_t key;
    if (ms_pb_varint(r, &key) < 0) return -1;
    f->num = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    /* no stale data from an earlier field: a caller that reads `data` of a field that came
     * with the wrong wire type gets an empty string, not the previous field's bytes */
    f->v = 0;
    f->data = r->p;
    f->len = 0;
    if (f->num == 0 || key >> 32) return -1;
    switch (f->wire) {
    case MS_PB_VARINT:
        return ms_pb_varint(r, &f->v) < 0 ? -1 : 1;
    case MS_PB_I64:
        if (r->end - r->p < 8) return -1;
        f->v = 0;
        for (int i = 7; i >= 0; i--) f->v = f->v << 8 | r->p[i];
        r->p += 8;
        return 1;
    case MS_PB_I32:
        if (r->end - r->p < 4) return -1;
        f->v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
               (uint32_t)r->p[3] << 24;
        r->p += 4;
        return 1;
    case MS_PB_LEN: {
        uint64_t len;
        if (ms_pb_varint(r, &len) < 0 || len > (uint64_t)(r->end - r->p)) return -1;
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 1;
    }
    default:
        return -1; /* groups (3, 4) are not used by ONNX */
    }
}

int64_t ms_pb_count(const ms_pb_field *f, int fixed_size)
{
    if (f->wire != MS_PB_LEN) return 1;
    if (fixed_size) return f->len % (size_t)fixed_size ? -1 : (int64_t)(f->len / (size_t)fixed_size);
    int64_t n = 0;
    for (size_t i = 0; i < f->len; i++)
        if (!(f->data[i] & 0x80)) n++;
    if (f->len && (f->data[f->len - 1] & 0x80)) return -1;
    return n;
}
