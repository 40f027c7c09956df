/* test_pd_check.c: the missing-value policy (src/predict/pd_check) and the runtime query it
 * rests on (ms_model_input_allows_missing), on the committed fixtures: models whose framework
 * defines NaN (scikit-learn's HistGradientBoosting with missing_go_to_left, XGBoost's
 * default_left, a NaN Imputer) against ones that do not (a network, a linear regression). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mstest.h"

#include <stdint.h>
#include "mlship.h"
#include "predict/pd_check.h"

static ms_model *load(const char *path)
{
    ms_model *m = NULL;
    ms_error err = {{0}};
    if (ms_model_load_file(path, &m, &err) != MS_OK) printf("cannot load %s: %s\n", path, err.msg);
    return m;
}

static int allows(const char *path)
{
    ms_model *m = load(path);
    if (!m) return -1;
    int a = ms_model_input_allows_missing(m, 0);
    ms_model_free(m);
    return a;
}

#define ML "tests/fixtures/ml/"

TEST(query_tree_models_with_nan_directions)
{
    CHECK(allows(ML "sk_hgb_clf_nan/model.onnx") == 1);
    CHECK(allows(ML "xgb_binary_json/model.json") == 1);
    CHECK(allows(ML "xgb_reg_json/model.json") == 1);
    CHECK(allows(ML "xgb_multi_json/model.json") == 1);
}

TEST(query_imputer_of_nan)
{
    /* Imputer(replaced_value_float = NaN) -> Normalizer -> LinearRegressor */
    CHECK(allows(ML "impute_normalize_linreg/model.onnx") == 1);
}

TEST(query_models_without_missing_values)
{
    CHECK(allows("examples/fraud/model.onnx") == 0); /* a network */
    CHECK(allows(ML "linreg/model.onnx") == 0);
    CHECK(allows(ML "pipeline_scaler_logreg/model.onnx") == 0);
    /* a tree ensemble exported without NaN directions */
    CHECK(allows(ML "sk_rf_reg_average/model.onnx") == 0);
}

TEST(query_any_index)
{
    ms_model *m = load(ML "xgb_binary_json/model.json");
    CHECK(m != NULL);
    if (!m) return;
    CHECK(ms_model_input_allows_missing(m, -1) == 0);
    CHECK(ms_model_input_allows_missing(m, 1) == 0);
    ms_model_free(m);
}

TEST(parse)
{
    ms_error err = {{0}};
    pd_missing mode = PD_MISSING_NAN;
    CHECK(pd_missing_parse(NULL, "--missing", &mode, &err) == MS_OK && mode == PD_MISSING_REJECT);
    CHECK(pd_missing_parse("nan", "--missing", &mode, &err) == MS_OK && mode == PD_MISSING_NAN);
    CHECK(pd_missing_parse("reject", "--missing", &mode, &err) == MS_OK && mode == PD_MISSING_REJECT);
    CHECK(pd_missing_parse("zero", "--missing", &mode, &err) == MS_ERR_INVALID);
    CHECK(strstr(err.msg, "--missing") && strstr(err.msg, "\"zero\""));
}

TEST(policy_refuses_nan_for_a_network)
{
    ms_model *m = load("examples/fraud/model.onnx");
    CHECK(m != NULL);
    if (!m) return;
    pd_policy p;
    ms_error err = {{0}};
    CHECK(pd_policy_init(&p, m, "fraud", PD_MISSING_NAN, "--missing", &err) == MS_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "model 'fraud' does not define missing values"), "%s", err.msg);
    CHECK(pd_policy_init(&p, m, "fraud", PD_MISSING_REJECT, "--missing", &err) == MS_OK);
    CHECK(p.nan_ok[0] == 0 && p.model_ok[0] == 0);
    ms_model_free(m);
}

TEST(cells)
{
    pd_policy rej = {.missing = PD_MISSING_REJECT, .n_in = 1, .model_ok = {1}};
    pd_policy nan = {.missing = PD_MISSING_NAN, .n_in = 1, .model_ok = {1}, .nan_ok = {1}};
    const char *why = "";
    CHECK(pd_check_cell(&rej, 0, "1.5", 3, 1.5, &why) == PD_OK);
    CHECK(pd_check_cell(&rej, 0, "", 0, NAN, &why) == PD_WHY_MISSING && !strcmp(why, "is empty"));
    CHECK(pd_check_cell(&rej, 0, "NaN", 3, NAN, &why) == PD_WHY_MISSING && !strcmp(why, "is NaN"));
    CHECK(pd_check_cell(&nan, 0, "", 0, NAN, &why) == PD_OK);
    CHECK(pd_check_cell(&nan, 0, "nan", 3, NAN, &why) == PD_OK);
    /* infinities are refused whatever the missing policy */
    CHECK(pd_check_cell(&nan, 0, "-inf", 4, -INFINITY, &why) == PD_WHY_NONFINITE &&
          !strcmp(why, "is not finite"));
    CHECK(pd_check_cell(&nan, 0, "Infinity", 8, INFINITY, &why) == PD_WHY_NONFINITE);
    CHECK(pd_check_cell(&nan, 0, "1e400", 5, INFINITY, &why) == PD_WHY_NONFINITE &&
          !strcmp(why, "is out of range"));
    /* an input the model does not define NaN for stays refused even when opted in */
    CHECK(pd_check_cell(&nan, 1, "", 0, NAN, &why) == PD_WHY_MISSING);
}

TEST(tensor_rows)
{
    pd_policy rej = {.missing = PD_MISSING_REJECT, .n_in = 1};
    float x[6] = {1, 2, 3, 4, NAN, 6};
    ms_tensor t = {MS_DTYPE_FLOAT, 2, {2, 3}, x};
    char msg[256] = "";
    CHECK(pd_check_input_row(&rej, 0, "x", &t, 0, msg, sizeof msg) == PD_OK);
    CHECK(pd_check_input_row(&rej, 0, "x", &t, 1, msg, sizeof msg) == PD_WHY_MISSING);
    CHECK_MSG(strstr(msg, "input 'x': row 1, feature 1 is NaN") &&
              strstr(msg, "this model does not define missing values"), "%s", msg);
    x[4] = INFINITY;
    pd_policy nan = {.missing = PD_MISSING_NAN, .n_in = 1, .model_ok = {1}, .nan_ok = {1}};
    CHECK(pd_check_input_row(&nan, 0, "x", &t, 1, msg, sizeof msg) == PD_WHY_NONFINITE);
    CHECK_MSG(strstr(msg, "row 1, feature 1 is not finite"), "%s", msg);
    x[4] = NAN;
    CHECK(pd_check_input_row(&nan, 0, "x", &t, 1, msg, sizeof msg) == PD_OK);
    double d[2] = {0, -INFINITY};
    ms_tensor td = {MS_DTYPE_DOUBLE, 1, {2}, d};
    size_t bad = 99;
    CHECK(pd_check_values(&nan, 0, MS_DTYPE_DOUBLE, d, 2, &bad) == PD_WHY_NONFINITE && bad == 1);
    CHECK(pd_check_input_row(&nan, 0, "y", &td, 1, msg, sizeof msg) == PD_WHY_NONFINITE);
    CHECK_MSG(strstr(msg, "input 'y': row 1 is not finite"), "%s", msg);
    /* float16 by its bits (IEEE binary16): 1.0 = 0x3c00, +Inf = 0x7c00, -Inf = 0xfc00,
     * NaN = 0x7e00, the largest finite 65504 = 0x7bff */
    uint16_t h[5] = {0x3c00, 0x7bff, 0x7e00, 0x7c00, 0xfc00};
    CHECK(pd_check_values(&rej, 0, MS_DTYPE_FLOAT16, h, 2, &bad) == PD_OK);
    CHECK(pd_check_values(&rej, 0, MS_DTYPE_FLOAT16, h, 3, &bad) == PD_WHY_MISSING && bad == 2);
    CHECK(pd_check_values(&nan, 0, MS_DTYPE_FLOAT16, h + 2, 3, &bad) == PD_WHY_NONFINITE && bad == 1);
    CHECK(pd_check_values(&rej, 0, MS_DTYPE_FLOAT16, h + 4, 1, &bad) == PD_WHY_NONFINITE && bad == 0);
    ms_tensor th = {MS_DTYPE_FLOAT16, 2, {1, 5}, h};
    CHECK(pd_check_input_row(&rej, 0, "h", &th, 0, msg, sizeof msg) == PD_WHY_MISSING);
    CHECK_MSG(strstr(msg, "input 'h': row 0, feature 2 is NaN"), "%s", msg);
    int64_t iv[2] = {1, 2}; /* integers are always finite */
    ms_tensor ti = {MS_DTYPE_INT64, 1, {2}, iv};
    CHECK(pd_check_input_row(&rej, 0, "z", &ti, 1, msg, sizeof msg) == PD_OK);
}

TEST(inputs_and_outputs_of_a_model)
{
    ms_model *m = load(ML "xgb_binary_json/model.json");
    CHECK(m != NULL);
    if (!m) return;
    const ms_value_info *vi = ms_model_input(m, 0);
    int64_t f = vi->shape[1] > 0 ? vi->shape[1] : 4;
    float x[64] = {0};
    x[f + 2] = NAN; /* row 1 */
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {2, f}, x};
    pd_policy p;
    ms_error err = {{0}};
    pd_why why = PD_OK;
    CHECK(pd_policy_init(&p, m, "xgb", PD_MISSING_REJECT, "--missing", &err) == MS_OK);
    CHECK(pd_check_inputs(&p, m, &in, 1, &why, &err) == MS_ERR_INVALID && why == PD_WHY_MISSING);
    CHECK_MSG(strstr(err.msg, "row 1, feature 2 is NaN") && strstr(err.msg, "missing = nan"),
              "%s", err.msg);
    CHECK(pd_policy_init(&p, m, "xgb", PD_MISSING_NAN, "--missing", &err) == MS_OK);
    CHECK(pd_check_inputs(&p, m, &in, 1, &why, &err) == MS_OK && why == PD_OK);
    /* outputs: row 1 of a [2] output is not finite, row 0 is */
    float y[2] = {0.25f, INFINITY};
    ms_tensor out = {MS_DTYPE_FLOAT, 1, {2}, y};
    char msg[200] = "";
    CHECK(pd_check_output_row(m, &out, 1, 0, 2, msg, sizeof msg) == PD_OK);
    CHECK(pd_check_output_row(m, &out, 1, 1, 2, msg, sizeof msg) == PD_WHY_OUTPUT);
    CHECK_MSG(strstr(msg, "output '") && strstr(msg, "' is not finite"), "%s", msg);
    /* NaN out is refused too: no input policy applies to outputs */
    y[1] = NAN;
    CHECK(pd_check_output_row(m, &out, 1, 1, 2, msg, sizeof msg) == PD_WHY_OUTPUT);
    /* an output without the batch dimension is checked whole for every row */
    ms_tensor whole = {MS_DTYPE_FLOAT, 1, {2}, y};
    CHECK(pd_check_output_row(m, &whole, 1, 0, 5, msg, sizeof msg) == PD_WHY_OUTPUT);
    ms_model_free(m);
}

int main(void)
{
    RUN(query_tree_models_with_nan_directions);
    RUN(query_imputer_of_nan);
    RUN(query_models_without_missing_values);
    RUN(query_any_index);
    RUN(parse);
    RUN(policy_refuses_nan_for_a_network);
    RUN(cells);
    RUN(tensor_rows);
    RUN(inputs_and_outputs_of_a_model);
    return mstest_summary();
}
