/* tcompare.c: compare two tensor files (.npy, TensorProto .pb, or an OIP JSON tensor object)
 * for the CLI tests, without Python.
 *
 *   tcompare [--rtol R] [--atol A] GOT EXPECTED
 *
 * Equal dtypes and shapes are required. Floats match when |got - want| <= atol + rtol*|want|
 * (defaults rtol 1e-3, atol 1e-7, as the ONNX backend tests); NaN matches NaN and an
 * infinity matches the same infinity. Other types must be equal exactly. Exit 0 when equal,
 * 1 when they differ (the first difference is printed), 2 when a file cannot be read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_file.h"

static double element(const ms_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MS_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case MS_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    default: return 0;
    }
}

static int load(const char *path, mc_oip_request *r)
{
    ms_error err = {{0}};
    if (mc_tensors_read_file(path, r, NULL, &err) != MS_OK) {
        fprintf(stderr, "tcompare: %s\n", err.msg);
        return -1;
    }
    if (r->n_inputs != 1) {
        fprintf(stderr, "tcompare: %s holds %d tensors, expected one\n", path, r->n_inputs);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    double rtol = 1e-3, atol = 1e-7;
    const char *files[2];
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) rtol = atof(argv[++i]);
        else if (strcmp(argv[i], "--atol") == 0 && i + 1 < argc) atol = atof(argv[++i]);
        else if (nf < 2 && argv[i][0] != '-') files[nf++] = argv[i];
        else nf = 3;
    }
    if (nf != 2) {
        fprintf(stderr, "usage: tcompare [--rtol R] [--atol A] GOT EXPECTED\n");
        return 2;
    }
    mc_oip_request a, b;
    if (load(files[0], &a)) return 2;
    if (load(files[1], &b)) { mc_oip_request_free(&a); return 2; }
    const ms_tensor *x = &a.inputs[0].t, *y = &b.inputs[0].t;
    int rc = 0;
    int same_shape = x->ndim == y->ndim;
    for (int d = 0; same_shape && d < x->ndim; d++) same_shape = x->shape[d] == y->shape[d];
    if (x->dtype != y->dtype || !same_shape) {
        printf("tcompare: %s is %s rank %d, %s is %s rank %d (or dims differ)\n", files[0],
               ms_dtype_name(x->dtype), (int)x->ndim, files[1], ms_dtype_name(y->dtype), (int)y->ndim);
        rc = 1;
    } else if (x->dtype == MS_DTYPE_FLOAT || x->dtype == MS_DTYPE_DOUBLE) {
        int64_t n = ms_tensor_numel(x);
        for (int64_t i = 0; i < n && !rc; i++) {
            double g = element(x, i), w = element(y, i);
            int ok = (isnan(g) && isnan(w)) || g == w || fabs(g - w) <= atol + rtol * fabs(w);
            if (!ok) {
                printf("tcompare: element %lld: got %.9g, expected %.9g\n", (long long)i, g, w);
                rc = 1;
            }
        }
    } else if (x->dtype == MS_DTYPE_STRING) {
        int64_t n = ms_tensor_numel(x);
        for (int64_t i = 0; i < n && !rc; i++)
            if (strcmp(((char **)x->data)[i], ((char **)y->data)[i]) != 0) {
                printf("tcompare: string element %lld differs\n", (long long)i);
                rc = 1;
            }
    } else {
        size_t bytes = (size_t)ms_tensor_numel(x) * ms_dtype_size(x->dtype);
        if (bytes && memcmp(x->data, y->data, bytes) != 0) {
            printf("tcompare: %s data differs\n", ms_dtype_name(x->dtype));
            rc = 1;
        }
    }
    mc_oip_request_free(&a);
    mc_oip_request_free(&b);
    return rc;
}
