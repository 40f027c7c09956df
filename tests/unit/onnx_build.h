/* onnx_build.h: writes small ONNX ModelProto messages by hand (protobuf wire format), so unit
 * tests can make exactly the graph they need without Python. Field numbers from onnx.proto. */
#ifndef ONNX_BUILD_H
#define ONNX_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pbuf {
    uint8_t *p;
    size_t n, cap;
} pbuf;

static void pb_bytes(pbuf *b, const void *d, size_t n)
{
    if (!n) return; /* an empty message (d may be NULL): nothing to copy */
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void pb_varint(pbuf *b, uint64_t v)
{
    uint8_t t[10];
    int n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_bytes(b, t, (size_t)n);
}

static void pb_key(pbuf *b, int field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
static void pb_int(pbuf *b, int field, int64_t v) { pb_key(b, field, 0); pb_varint(b, (uint64_t)v); }
static void pb_len(pbuf *b, int field, const void *d, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, n);
    pb_bytes(b, d, n);
}
static void pb_str(pbuf *b, int field, const char *s) { pb_len(b, field, s, strlen(s)); }
static void pb_msg(pbuf *b, int field, pbuf *m) /* appends and frees m */
{
    pb_len(b, field, m->p, m->n);
    free(m->p);
    memset(m, 0, sizeof *m);
}

/* TensorProto with raw float data */
static void ob_tensor_f32(pbuf *out, int field, const char *name, int ndim, const int64_t *dims,
                          const float *data)
{
    pbuf t = {0};
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        pb_int(&t, 1, dims[i]);
        n *= (size_t)dims[i];
    }
    pb_int(&t, 2, 1);
    pb_str(&t, 8, name);
    pb_len(&t, 9, data, n * 4);
    pb_msg(out, field, &t);
}

/* ValueInfoProto for a tensor; a dim < 0 is written as a symbolic dim: "N" first, "N<i>" at
 * position i > 0 (one dim_param names one size, so two unknown dims must not share a name) */
static void ob_value(pbuf *graph, int field, const char *name, int elem, int ndim, const int64_t *dims)
{
    pbuf shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int i = 0; i < ndim; i++) {
        pbuf d = {0};
        if (dims[i] >= 0) pb_int(&d, 1, dims[i]);
        else {
            char nm[16];
            snprintf(nm, sizeof nm, i ? "N%d" : "N", i);
            pb_str(&d, 2, nm);
        }
        pb_msg(&shape, 1, &d);
    }
    pb_int(&tt, 1, elem);
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(graph, field, &vi);
}

/* NodeProto with up to 4 inputs/outputs ("" for none); attrs appended by the caller via pre */
static void ob_node(pbuf *graph, const char *op, const char *name, const char *const *in, int nin,
                    const char *const *out, int nout, pbuf *attrs)
{
    pbuf n = {0};
    for (int i = 0; i < nin; i++) pb_str(&n, 1, in[i]);
    for (int i = 0; i < nout; i++) pb_str(&n, 2, out[i]);
    pb_str(&n, 3, name);
    pb_str(&n, 4, op);
    if (attrs && attrs->n) pb_bytes(&n, attrs->p, attrs->n);
    pb_msg(graph, 1, &n);
}

/* ModelProto around a graph, ai.onnx opset `opset` */
static pbuf ob_model(pbuf *graph, int opset)
{
    pbuf m = {0}, os = {0};
    pb_int(&m, 1, 8);
    pb_str(&m, 2, "mlship-tests");
    pb_str(&os, 1, "");
    pb_int(&os, 2, opset);
    pb_msg(&m, 8, &os);
    pb_msg(&m, 7, graph);
    return m;
}

#endif
