/* test_fixtures.c: classical-ML models against the frameworks that trained them.
 * Each tests/fixtures/ml/<case>/ holds model.onnx (or XGBoost's model.json), input_<i>.npy and
 * output_<k>.npy: the framework's own predictions (scikit-learn, XGBoost), written by
 * tests/fixtures/make_ml.py and make_trees.py. Floats must agree to 1e-5 relative (with a
 * 1e-6 absolute floor for values near zero); integer labels exactly. */
#define _DEFAULT_SOURCE
#include "mstest.h"
#include "mlship.h"
#include "codec/codec_buf.h"
#include "codec/codec_npy.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/fixtures/ml"
#endif

static int load_npy(const char *path, ms_tensor *t)
{
    mc_buf b = {0};
    ms_error err;
    int st = mc_read_file(path, &b, &err);
    if (!st) st = mc_npy_decode(b.data, b.len, t, &err);
    if (st) printf("  %s: %s\n", path, err.msg);
    mc_buf_free(&b);
    return st;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int compare(const char *name, int k, const ms_tensor *got, const ms_tensor *want)
{
    if (got->ndim != want->ndim || memcmp(got->shape, want->shape, sizeof(int64_t) * (size_t)got->ndim) ||
        ms_tensor_numel(got) != ms_tensor_numel(want)) {
        printf("FAIL %s output %d: shape differs (rank %d vs %d)\n", name, k, got->ndim, want->ndim);
        return 0;
    }
    int64_t n = ms_tensor_numel(got);
    if (want->dtype == MS_DTYPE_FLOAT || want->dtype == MS_DTYPE_DOUBLE) {
        if (got->dtype != MS_DTYPE_FLOAT && got->dtype != MS_DTYPE_DOUBLE) {
            printf("FAIL %s output %d: type %s, expected a float\n", name, k, ms_dtype_name(got->dtype));
            return 0;
        }
        double worst = 0;
        for (int64_t i = 0; i < n; i++) {
            double g = got->dtype == MS_DTYPE_FLOAT ? ((float *)got->data)[i] : ((double *)got->data)[i];
            double w = want->dtype == MS_DTYPE_FLOAT ? ((float *)want->data)[i] : ((double *)want->data)[i];
            double e = fabs(g - w) / (fabs(w) > 0.1 ? fabs(w) : 0.1);
            if (e > worst) worst = e;
            if (fabs(g - w) > 1e-6 + 1e-5 * fabs(w) || isnan(g) != isnan(w)) {
                printf("FAIL %s output %d element %lld: %.9g, expected %.9g\n", name, k, (long long)i, g, w);
                return 0;
            }
        }
        return 1;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t g = got->dtype == MS_DTYPE_INT64 ? ((int64_t *)got->data)[i] : (int64_t)((int32_t *)got->data)[i];
        int64_t w = want->dtype == MS_DTYPE_INT64 ? ((int64_t *)want->data)[i] : (int64_t)((int32_t *)want->data)[i];
        if ((got->dtype != MS_DTYPE_INT64 && got->dtype != MS_DTYPE_INT32) || g != w) {
            printf("FAIL %s output %d element %lld: %lld (%s), expected %lld\n", name, k, (long long)i,
                   (long long)g, ms_dtype_name(got->dtype), (long long)w);
            return 0;
        }
    }
    return 1;
}

static int run_case(const char *dir, const char *name)
{
    char path[600];
    ms_error err;
    ms_model *m = NULL;
    ms_session *s = NULL;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (!exists(path)) snprintf(path, sizeof path, "%s/model.json", dir);
    if (ms_model_load_file(path, &m, &err) || ms_session_create(m, NULL, &s, &err)) {
        printf("FAIL %s: %s\n", name, err.msg);
        ms_model_free(m);
        return 0;
    }
    int nin = ms_model_num_inputs(m), nout = ms_model_num_outputs(m), ok = 1;
    ms_tensor in[8] = {{0}}, out[8], want;
    for (int i = 0; i < nin && i < 8 && ok; i++) {
        snprintf(path, sizeof path, "%s/input_%d.npy", dir, i);
        ok = load_npy(path, &in[i]) == MS_OK;
    }
    if (ok && ms_session_run(s, in, nin, out, nout, &err)) {
        printf("FAIL %s: run: %s\n", name, err.msg);
        ok = 0;
    }
    int compared = 0;
    for (int k = 0; ok && k < nout; k++) {
        snprintf(path, sizeof path, "%s/output_%d.npy", dir, k);
        if (!exists(path)) continue; /* string labels are not stored */
        if (load_npy(path, &want)) { ok = 0; break; }
        ok = compare(name, k, &out[k], &want);
        compared++;
        ms_free(want.data);
    }
    if (ok && !compared) {
        printf("FAIL %s: no expected outputs\n", name);
        ok = 0;
    }
    for (int i = 0; i < 8; i++) ms_free(in[i].data);
    ms_session_free(s);
    ms_model_free(m);
    return ok;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(void)
{
    DIR *d = opendir(FIXTURE_DIR);
    if (!d) {
        printf("no fixtures at %s\n", FIXTURE_DIR);
        return mstest_summary();
    }
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_name);
    for (int i = 0; i < n; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%.300s", FIXTURE_DIR, names[i]);
        mstest_cur = names[i];
        mstest_cur_failed = !run_case(dir, names[i]);
        if (mstest_cur_failed) mstest_fail++;
        else mstest_pass++;
        free(names[i]);
    }
    return mstest_summary();
}
