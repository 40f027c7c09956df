/* conformance.c: runs ONNX's own backend tests (Debian's libonnx-testdata) through the runtime
 * and classifies each as pass, fail (a wrong answer or an error on a valid model) or
 * unsupported (a clean MS_ERR_UNSUPPORTED). Outputs are compared the way ONNX's runner does
 * (numpy assert_allclose, rtol 1e-3, atol 1e-7; exact for integers and bools).
 *
 *   conformance [--data DIR] [--filter S] [-v] [--baseline F] [--write-baseline F] [--table F]
 *
 * Exit status 1 when any test fails or a test listed in the baseline does not pass. */
#define _DEFAULT_SOURCE
#if defined(__GNUC__) && !defined(__clang__)
/* paths and messages are truncated on purpose when absurdly long */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include "mlship.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { R_PASS, R_FAIL, R_UNSUP };
static const char *const rname[] = {"pass", "FAIL", "unsupported"};
static const char *const suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

typedef struct result {
    char name[160]; /* suite/test */
    int r;
    char why[600];
    char ops[512]; /* space-separated op types */
} result;

static result *results;
static int n_results, cap_results;

/* ---- files ----------------------------------------------------------------------------- */

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of a directory whose names start with prefix. */
static int list_dir(const char *dir, const char *prefix, char ***out)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 16;
    char **v = malloc(sizeof(char *) * (size_t)cap);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
        if (n == cap) v = realloc(v, sizeof(char *) * (size_t)(cap *= 2));
        v[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* input_10.pb sorts before input_2.pb as a string: order by the number. */
static int pb_index(const char *name)
{
    const char *u = strchr(name, '_');
    return u ? atoi(u + 1) : 0;
}

static int load_tensors(const char *dir, const char *prefix, ms_tensor *ts, int max, int *n,
                        ms_error *err)
{
    char **files;
    int nf = list_dir(dir, prefix, &files);
    *n = 0;
    int st = MS_OK;
    for (int i = 0; i < nf; i++) {
        int k = pb_index(files[i]);
        if (k >= max || k < 0) { st = MS_ERR_UNSUPPORTED; snprintf(err->msg, sizeof err->msg, "too many tensors"); break; }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        size_t len;
        void *buf = read_file(path, &len);
        if (!buf) { st = MS_ERR_RUNTIME; snprintf(err->msg, sizeof err->msg, "cannot read %s", path); break; }
        st = ms_tensor_decode_pb(buf, len, &ts[k], NULL, 0, err);
        free(buf);
        if (st) break;
        if (k + 1 > *n) *n = k + 1;
    }
    free_list(files, nf);
    return st;
}

/* ---- comparison ------------------------------------------------------------------------ */

static int is_float(ms_dtype t) { return t == MS_DTYPE_FLOAT || t == MS_DTYPE_DOUBLE; }

static int compare(const ms_tensor *got, const ms_tensor *want, char *why, size_t cap)
{
    if (got->dtype != want->dtype) {
        snprintf(why, cap, "type %s, expected %s", ms_dtype_name(got->dtype), ms_dtype_name(want->dtype));
        return 0;
    }
    if (got->ndim != want->ndim || memcmp(got->shape, want->shape, sizeof(int64_t) * (size_t)got->ndim)) {
        snprintf(why, cap, "shape rank %d [%lld,...], expected rank %d [%lld,...]", got->ndim,
                 (long long)(got->ndim ? got->shape[0] : 0), want->ndim,
                 (long long)(want->ndim ? want->shape[0] : 0));
        return 0;
    }
    int64_t n = ms_tensor_numel(got);
    if (got->dtype == MS_DTYPE_STRING) {
        for (int64_t i = 0; i < n; i++)
            if (strcmp(((char **)got->data)[i], ((char **)want->data)[i])) {
                snprintf(why, cap, "string %lld differs", (long long)i);
                return 0;
            }
        return 1;
    }
    size_t esz = ms_dtype_size(got->dtype);
    if (!is_float(got->dtype)) {
        for (int64_t i = 0; i < n; i++)
            if (memcmp((char *)got->data + i * (int64_t)esz, (char *)want->data + i * (int64_t)esz, esz)) {
                snprintf(why, cap, "element %lld differs (exact compare of %s)", (long long)i,
                         ms_dtype_name(got->dtype));
                return 0;
            }
        return 1;
    }
    for (int64_t i = 0; i < n; i++) {
        double g = got->dtype == MS_DTYPE_FLOAT ? ((float *)got->data)[i] : ((double *)got->data)[i];
        double w = want->dtype == MS_DTYPE_FLOAT ? ((float *)want->data)[i] : ((double *)want->data)[i];
        if (isnan(g) && isnan(w)) continue;
        if (isinf(w) || isinf(g)) {
            if (g == w) continue;
        } else if (fabs(g - w) <= 1e-7 + 1e-3 * fabs(w)) {
            continue;
        }
        snprintf(why, cap, "element %lld is %.9g, expected %.9g", (long long)i, g, w);
        return 0;
    }
    return 1;
}

/* ---- one test -------------------------------------------------------------------------- */

#define MAXT 64

static int run_dataset(ms_session *s, const ms_model *m, const char *dsdir, char *why, size_t cap)
{
    ms_tensor in[MAXT] = {{0}}, want[MAXT] = {{0}}, got[MAXT];
    int nin = 0, nwant = 0, r = R_PASS;
    ms_error err;
    int st = load_tensors(dsdir, "input_", in, MAXT, &nin, &err);
    if (!st) st = load_tensors(dsdir, "output_", want, MAXT, &nwant, &err);
    if (st) {
        snprintf(why, cap, "test data: %s", err.msg);
        r = st == MS_ERR_UNSUPPORTED ? R_UNSUP : R_FAIL;
    } else if (nin != ms_model_num_inputs(m) || nwant != ms_model_num_outputs(m)) {
        snprintf(why, cap, "test has %d inputs/%d outputs, model %d/%d", nin, nwant,
                 ms_model_num_inputs(m), ms_model_num_outputs(m));
        r = R_UNSUP;
    } else if ((st = ms_session_run(s, in, nin, got, nwant, &err))) {
        snprintf(why, cap, "run: %s", err.msg);
        r = st == MS_ERR_UNSUPPORTED ? R_UNSUP : R_FAIL;
    } else {
        for (int k = 0; k < nwant && r == R_PASS; k++) {
            char w[400];
            if (!compare(&got[k], &want[k], w, sizeof w)) {
                snprintf(why, cap, "output %d (%s): %s", k, ms_model_output(m, k)->name, w);
                r = R_FAIL;
            }
        }
    }
    for (int k = 0; k < MAXT; k++) {
        ms_free(in[k].data);
        ms_free(want[k].data);
    }
    return r;
}

static void run_test(const char *suite, const char *dir, const char *name, result *res)
{
    char path[1024];
    ms_error err;
    ms_model *m = NULL;
    ms_session *s = NULL;
    snprintf(res->name, sizeof res->name, "%s/%s", suite, name);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    int st = ms_model_load_file(path, &m, &err);
    if (st) {
        res->r = st == MS_ERR_UNSUPPORTED ? R_UNSUP : R_FAIL;
        snprintf(res->why, sizeof res->why, "load: %s", err.msg);
        return;
    }
    for (int i = 0, len = 0; i < ms_model_num_ops(m); i++) {
        const char *dom, *op;
        int sup;
        ms_model_op(m, i, &dom, &op, &sup);
        if (len < (int)sizeof res->ops - 64)
            len += snprintf(res->ops + len, sizeof res->ops - (size_t)len, "%s%s", len ? " " : "", op);
    }
    if ((st = ms_session_create(m, NULL, &s, &err))) {
        res->r = st == MS_ERR_UNSUPPORTED ? R_UNSUP : R_FAIL;
        snprintf(res->why, sizeof res->why, "%s", err.msg);
        ms_model_free(m);
        return;
    }
    char **sets;
    int nsets = list_dir(dir, "test_data_set_", &sets);
    res->r = nsets ? R_PASS : R_UNSUP;
    if (!nsets) snprintf(res->why, sizeof res->why, "no test data sets");
    for (int i = 0; i < nsets && res->r == R_PASS; i++) {
        char ds[1024];
        snprintf(ds, sizeof ds, "%s/%s", dir, sets[i]);
        res->r = run_dataset(s, m, ds, res->why, sizeof res->why);
    }
    free_list(sets, nsets);
    ms_session_free(s);
    ms_model_free(m);
}

/* ---- reports --------------------------------------------------------------------------- */

typedef struct op_row {
    char op[64];
    int n[3];
} op_row;

static int cmp_op(const void *a, const void *b)
{
    return strcmp(((const op_row *)a)->op, ((const op_row *)b)->op);
}

static void write_table(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); return; }
    int tot[4][3] = {{0}};
    for (int i = 0; i < n_results; i++)
        for (int s = 0; s < 4; s++)
            if (!strncmp(results[i].name, suites[s], strlen(suites[s])) &&
                results[i].name[strlen(suites[s])] == '/')
                tot[s][results[i].r]++;
    fprintf(f, "# ONNX backend conformance\n\n"
               "Generated by `make conformance` (tests/conformance.c) from Debian's "
               "libonnx-testdata (ONNX 1.12 backend tests). Do not edit by hand.\n"
               "Outputs compared like ONNX's runner: rtol 1e-3, atol 1e-7; integers exactly.\n\n"
               "| suite | pass | fail | unsupported |\n|---|---|---|---|\n");
    for (int s = 0; s < 4; s++)
        fprintf(f, "| %s | %d | %d | %d |\n", suites[s], tot[s][0], tot[s][1], tot[s][2]);
    /* per operator, over the node suite: tests whose graph uses the operator */
    op_row *rows = calloc(512, sizeof *rows);
    int nrows = 0;
    for (int i = 0; i < n_results; i++) {
        if (strncmp(results[i].name, "node/", 5)) continue;
        char ops[512];
        snprintf(ops, sizeof ops, "%s", results[i].ops);
        for (char *save, *tok = strtok_r(ops, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            int k = 0;
            while (k < nrows && strcmp(rows[k].op, tok)) k++;
            if (k == nrows && nrows < 512) snprintf(rows[nrows++].op, 64, "%s", tok);
            if (k < nrows) rows[k].n[results[i].r]++;
        }
    }
    qsort(rows, (size_t)nrows, sizeof *rows, cmp_op);
    fprintf(f, "\n## By operator (node suite; a test counts for every operator its graph uses)\n\n"
               "| operator | pass | fail | unsupported |\n|---|---|---|---|\n");
    for (int k = 0; k < nrows; k++)
        fprintf(f, "| %s | %d | %d | %d |\n", rows[k].op, rows[k].n[0], rows[k].n[1], rows[k].n[2]);
    fprintf(f, "\n## Every test\n\n| test | result | reason |\n|---|---|---|\n");
    for (int i = 0; i < n_results; i++) {
        char why[600];
        snprintf(why, sizeof why, "%s", results[i].why);
        for (char *p = why; *p; p++) if (*p == '|' || *p == '\n') *p = ' ';
        fprintf(f, "| %s | %s | %s |\n", results[i].name, rname[results[i].r], why);
    }
    free(rows);
    fclose(f);
}

static int check_baseline(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    int regress = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        int found = 0;
        for (int i = 0; i < n_results; i++)
            if (!strcmp(results[i].name, line)) {
                found = 1;
                if (results[i].r != R_PASS) {
                    printf("REGRESSION %s no longer passes: %s\n", line, results[i].why);
                    regress++;
                }
            }
        if (!found) {
            printf("REGRESSION %s is missing from this run\n", line);
            regress++;
        }
    }
    fclose(f);
    return regress;
}

static void write_baseline(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); return; }
    fprintf(f, "# Tests that pass; `make conformance` fails if one of them stops passing.\n"
               "# Regenerate with: build/conformance --write-baseline tests/conformance_baseline.txt\n");
    for (int i = 0; i < n_results; i++)
        if (results[i].r == R_PASS) fprintf(f, "%s\n", results[i].name);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *data = "/usr/share/libonnx-testdata/data", *filter = NULL, *baseline = NULL;
    const char *write_bl = NULL, *table = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--baseline") && i + 1 < argc) baseline = argv[++i];
        else if (!strcmp(argv[i], "--write-baseline") && i + 1 < argc) write_bl = argv[++i];
        else if (!strcmp(argv[i], "--table") && i + 1 < argc) table = argv[++i];
        else if (!strcmp(argv[i], "-v")) verbose = 1;
        else {
            fprintf(stderr, "usage: %s [--data DIR] [--filter S] [-v] [--baseline F] "
                            "[--write-baseline F] [--table F]\n", argv[0]);
            return 2;
        }
    }
    for (int s = 0; s < 4; s++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", data, suites[s]);
        char **tests;
        int nt = list_dir(dir, "test_", &tests);
        for (int t = 0; t < nt; t++) {
            char full[1024];
            snprintf(full, sizeof full, "%s/%s", suites[s], tests[t]);
            if (filter && !strstr(full, filter)) continue;
            if (n_results == cap_results)
                results = realloc(results, sizeof *results * (size_t)(cap_results = cap_results ? cap_results * 2 : 1024));
            result *r = &results[n_results++];
            memset(r, 0, sizeof *r);
            snprintf(full, sizeof full, "%s/%s", dir, tests[t]);
            run_test(suites[s], full, tests[t], r);
            if (verbose || r->r == R_FAIL) printf("%-11s %s  %s\n", rname[r->r], r->name, r->why);
        }
        free_list(tests, nt);
    }
    int n[3] = {0}, node_pass = 0;
    for (int i = 0; i < n_results; i++) {
        n[results[i].r]++;
        node_pass += results[i].r == R_PASS && !strncmp(results[i].name, "node/", 5);
    }
    int regress = baseline ? check_baseline(baseline) : 0;
    if (table) write_table(table);
    if (write_bl) write_baseline(write_bl);
    printf("conformance: %d tests, node suite %d passing; %d regressions\n", n_results, node_pass, regress);
    printf("%d passed, %d failed, %d skipped\n", n[R_PASS], n[R_FAIL] + regress, n[R_UNSUP]);
    free(results);
    return n[R_FAIL] || regress ? 1 : 0;
}
