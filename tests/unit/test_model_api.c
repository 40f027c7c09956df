/* test_model_api.c: the read-only model API's contract (tests/fuzz/model_walk.h) on every model
 * the repository holds: model.onnx and model.json of each tests/fixtures/ml case, the .onnx
 * files of tests/cli/fixtures and bench/models, and examples/fraud/model.onnx. Every ms_model_* accessor is called for
 * every index and for -1, n, INT_MIN and INT_MAX; a model that loads and is supported gets a
 * session and one zero-filled row, whose outputs must match what the model declares (issue 9:
 * an XGBoost model.json crashed the first caller that asked for its output labels). Files that
 * must not load (not_a_model.onnx, most regressions) must fail with a documented status and a
 * message; a regression that loads may fail to run, the same way.
 * Run from the repository root (make unit does). */
#include "mstest.h"

#include "../fuzz/model_walk.h"

#include <dirent.h>
#include <stdlib.h>

#define MAX_IO 16
#define MAX_MODELS 256

static char paths[MAX_MODELS][512];
static int n_paths, first_mutant = MAX_MODELS;

static void add(const char *dir, const char *name)
{
    if (n_paths < MAX_MODELS) snprintf(paths[n_paths++], sizeof paths[0], "%s/%s", dir, name);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Every DIR/NAME ending in one of the suffixes; with `sub`, every DIR/<case>/NAME instead. */
static void find(const char *dir, int sub, const char *suf1, const char *suf2)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (sub) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            find(path, 0, "model.onnx", "model.json");
        } else if (ends_with(e->d_name, suf1) || (suf2 && ends_with(e->d_name, suf2)))
            add(dir, e->d_name);
    }
    closedir(d);
}

static int first_bytes_json(const char *path)
{
    char head[64] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    return mw_is_json(head, n);
}

/* One row of zeros through a fresh session; returns 1 when it ran. A fuzz regression (`mutant`)
 * may instead fail with a documented status and a message. */
static int run_one_row(const char *path, const ms_model *m, int mutant)
{
    ms_error err = {{0}};
    ms_session *s = NULL;
    ms_status st = ms_session_create(m, NULL, &s, &err);
    CHECK_MSG(st == MS_OK || (mutant && st != MS_ERR_RUNTIME && err.msg[0]), "%s: session: %s", path, err.msg);
    if (st) return 0;
    ms_tensor in[MAX_IO], out[MAX_IO];
    void *blocks[MAX_IO] = {0};
    int n_in = ms_model_num_inputs(m), n_out = ms_model_num_outputs(m), ran = 0;
    CHECK_MSG(n_in <= MAX_IO && n_out <= MAX_IO, "%s: %d inputs, %d outputs", path, n_in, n_out);
    if (n_in <= MAX_IO && n_out <= MAX_IO && mw_zero_inputs(m, 1, 1 << 22, in, blocks)) {
        st = ms_session_run(s, in, n_in, out, n_out, &err);
        CHECK_MSG(st == MS_OK || (mutant && st != MS_ERR_RUNTIME && err.msg[0]), "%s: run: %s", path, err.msg);
        char why[MW_WHY] = "";
        if (st == MS_OK) {
            CHECK_MSG(mw_run_outputs(m, out, n_out, why) == 0, "%s: %s", path, why);
            ran = 1;
        }
    }
    for (int i = 0; i < MAX_IO; i++) free(blocks[i]);
    ms_session_free(s);
    return ran;
}

static int n_loaded, n_refused, n_ran, n_json, n_label_outputs, n_mutants;

TEST(every_model_keeps_the_accessor_contract)
{
    for (int p = 0; p < n_paths; p++) {
        const char *path = paths[p];
        ms_error err = {{0}};
        ms_model *m = NULL;
        ms_status st = ms_model_load_file(path, &m, &err);
        if (st != MS_OK) {
            /* a file that does not load: a documented status with a message, and no model */
            CHECK_MSG((st == MS_ERR_INVALID || st == MS_ERR_UNSUPPORTED) && err.msg[0] && !m,
                      "%s: load: status %d '%s'", path, (int)st, err.msg);
            n_refused++;
            continue;
        }
        n_loaded++;
        n_mutants += p >= first_mutant;
        int json = first_bytes_json(path);
        n_json += json;
        char why[MW_WHY] = "";
        CHECK_MSG(mw_walk(m, json, why) == 0, "%s: %s", path, why);
        for (int i = 0; i < ms_model_num_outputs(m); i++) {
            ms_dtype lt;
            int64_t nl;
            const void *labels;
            n_label_outputs += ms_model_output_labels(m, i, &lt, &nl, &labels);
        }
        if (ms_model_check_supported(m, &err) == MS_OK) n_ran += run_one_row(path, m, p >= first_mutant);
        ms_model_free(m);
    }
    /* the walk must have seen what it is for: ONNX, ONNX-ML with ZipMap, XGBoost JSON */
    CHECK_MSG(n_loaded >= 30, "only %d models loaded", n_loaded);
    CHECK_MSG(n_json >= 3, "only %d XGBoost model.json files", n_json);
    CHECK_MSG(n_label_outputs >= 4, "only %d label-map outputs", n_label_outputs);
    CHECK_MSG(n_refused >= 1, "not_a_model.onnx loaded");
    CHECK_MSG(n_ran >= n_loaded - n_mutants - 1, "%d of %d models ran", n_ran, n_loaded);
}

/* The labels themselves, against what make_ml.py wrote: int labels 10, 20, 30. */
TEST(zipmap_labels_are_the_models)
{
    ms_error err = {{0}};
    ms_model *m = NULL;
    ms_status st = ms_model_load_file("tests/fixtures/ml/logreg_multinomial/model.onnx", &m, &err);
    CHECK_MSG(st == MS_OK, "%s", err.msg);
    if (st) return;
    ms_dtype lt = MS_DTYPE_UNDEFINED;
    int64_t nl = 0;
    const void *labels = NULL;
    CHECK(ms_model_output_labels(m, 0, &lt, &nl, &labels) == 0); /* "label" is a plain tensor */
    CHECK(ms_model_output_labels(m, 1, &lt, &nl, &labels) == 1);
    CHECK(lt == MS_DTYPE_INT64 && nl == 3);
    if (lt == MS_DTYPE_INT64 && nl == 3) {
        const int64_t *v = labels;
        CHECK(v[0] == 10 && v[1] == 20 && v[2] == 30);
    }
    ms_model_free(m);
}

/* The bug of issue 9 itself: model.json has no label map and answers every index. */
TEST(xgboost_json_has_no_labels)
{
    static const char *const files[] = {"tests/fixtures/ml/xgb_binary_json/model.json",
                                        "tests/fixtures/ml/xgb_multi_json/model.json",
                                        "tests/fixtures/ml/xgb_reg_json/model.json"};
    for (int f = 0; f < 3; f++) {
        ms_error err = {{0}};
        ms_model *m = NULL;
        ms_status st = ms_model_load_file(files[f], &m, &err);
        CHECK_MSG(st == MS_OK, "%s: %s", files[f], err.msg);
        if (st) continue;
        CHECK(ms_model_num_outputs(m) == 1);
        ms_dtype lt = MS_DTYPE_UNDEFINED;
        int64_t nl = -1;
        const void *labels = NULL;
        for (int i = -1; i <= 1; i++) CHECK(ms_model_output_labels(m, i, &lt, &nl, &labels) == 0);
        CHECK(nl == -1 && labels == NULL); /* nothing written */
        const char *dom = NULL;
        int64_t ver = -1;
        ms_model_opset(m, 0, &dom, &ver);
        CHECK(dom && strcmp(dom, "ai.onnx.ml") == 0 && ver > 0);
        ms_model_opset(m, 1, &dom, &ver);
        CHECK(dom && *dom == 0 && ver == 0);
        ms_model_free(m);
    }
}

/* A ZipMap output without labels would be a label map of nothing: refused at load, by name. */
TEST(zipmap_without_labels_is_refused)
{
    ms_error err = {{0}};
    ms_model *m = NULL;
    ms_status st = ms_model_load_file("tests/fuzz/regress/model/zipmap_no_labels.onnx", &m, &err);
    CHECK_MSG(st == MS_ERR_INVALID && strstr(err.msg, "ZipMap") && strstr(err.msg, "classlabels") && !m,
              "status %d: %s", (int)st, err.msg);
    ms_model_free(m);
}

int main(void)
{
    find("tests/fixtures/ml", 1, NULL, NULL);
    find("tests/cli/fixtures", 0, ".onnx", NULL);
    find("examples/fraud", 0, "model.onnx", NULL);
    find("bench/models", 0, ".onnx", NULL);
    first_mutant = n_paths; /* the fuzz regressions: models that once broke the runtime */
    find("tests/fuzz/regress/model", 0, "", NULL);
    RUN(every_model_keeps_the_accessor_contract);
    RUN(zipmap_labels_are_the_models);
    RUN(xgboost_json_has_no_labels);
    RUN(zipmap_without_labels_is_refused);
    printf("model api: %d files, %d loaded (%d XGBoost JSON, %d label-map outputs), %d refused, %d ran a row\n",
           n_paths, n_loaded, n_json, n_label_outputs, n_refused, n_ran);
    return mstest_summary();
}
