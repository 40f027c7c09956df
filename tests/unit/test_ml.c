/* test_ml.c: ops_ml.c (the non-tree ai.onnx.ml operators) and the loader's ZipMap outputs.
 * Kernels are called through the registry with hand-built nodes; expected values are worked
 * out by hand in the comments. Tests named spec_* pin a case where the ONNX-ML spec and an
 * implementation (ONNX Runtime or the ONNX reference) disagree: the spec wins. Tests named
 * bad_* check that an inconsistent model is refused with MS_ERR_INVALID (or a guess with
 * MS_ERR_UNSUPPORTED), never a crash. The end-to-end checks against scikit-learn are the
 * fixtures in tests/fixtures/ml (tests/fixtures/make_ml.py). */
#include "ms_op.h"
#include "kcall.h"
#include "mstest.h"
#include "onnx_build.h"

#include <stdlib.h>

/* ---- one kernel invocation ---------------------------------------------------------------- */

/* one kernel invocation (kcall.h); every node here is in the ai.onnx.ml domain */
#define call_init(k, op, opset, n_in, n_out)                                                   \
    call_init_domain(k, "ai.onnx.ml", op, opset, n_in, n_out)

static ms_attr *attr_new(call *k, const char *name, ms_attr_type t)
{
    ms_attr *a = &k->attrs[k->node.n_attr++];
    a->name = name;
    a->type = t;
    return a;
}

static void a_int(call *k, const char *name, int64_t v) { attr_new(k, name, MS_ATTR_INT)->i = v; }
static void a_float(call *k, const char *name, float v) { attr_new(k, name, MS_ATTR_FLOAT)->f = v; }
static void a_str(call *k, const char *name, const char *s)
{
    ms_attr *a = attr_new(k, name, MS_ATTR_STRING);
    a->s = s;
    a->s_len = strlen(s);
}
static void a_ints(call *k, const char *name, const int64_t *v, int n)
{
    ms_attr *a = attr_new(k, name, MS_ATTR_INTS);
    a->ints = v;
    a->n = n;
}
static void a_floats(call *k, const char *name, const float *v, int n)
{
    ms_attr *a = attr_new(k, name, MS_ATTR_FLOATS);
    a->floats = v;
    a->n = n;
}
static void a_strs(call *k, const char *name, const char *const *v, int n)
{
    ms_attr *a = attr_new(k, name, MS_ATTR_STRINGS);
    a->strings = v;
    a->n = n;
}

static ms_status call_infer(call *k)
{
    const ms_kernel *kern = ms_kernel_find("ai.onnx.ml", k->node.op_type, k->c.opset);
    if (!kern) return MS_ERR_UNSUPPORTED;
    return kern->infer(&k->c);
}

/* infer, allocate outputs and scratch, run */
static ms_status call_run(call *k)
{
    const ms_kernel *kern = ms_kernel_find("ai.onnx.ml", k->node.op_type, k->c.opset);
    if (!kern) return MS_ERR_UNSUPPORTED;
    ms_status st = kern->infer(&k->c);
    if (st) return st;
    for (int i = 0; i < k->c.n_out; i++) {
        if (!k->outp[i]) continue;
        k->bufs[i] = calloc(1, (size_t)ms_tensor_numel(&k->out[i]) * ms_dtype_size(k->out[i].dtype) + 8);
        k->out[i].data = k->bufs[i];
    }
    k->bufs[2] = malloc(k->c.scratch_size + 8);
    k->c.scratch = k->bufs[2];
    return kern->run(&k->c);
}

static void call_free(call *k)
{
    for (int i = 0; i < 3; i++) free(k->bufs[i]);
}

static ms_tensor tens(ms_dtype dt, int ndim, int64_t d0, int64_t d1, void *data)
{
    ms_tensor t = {dt, ndim, {d0, d1}, data};
    return t;
}

#define OUTF(k, o, i) (((float *)(k).out[o].data)[i])
#define OUTI(k, o, i) (((int64_t *)(k).out[o].data)[i])
#define OUTS(k, o, i) (((const char **)(k).out[o].data)[i])

/* ==== LinearClassifier ==================================================================== */

TEST(linear_classifier_softmax)
{
    /* x = [1, 2]; rows [1,0], [0,1], [1,1], intercepts [0,0,-2]: scores [1, 2, 1].
     * softmax: e/(2e+e^2) = 0.2119415576, e^2/(2e+e^2) = 0.5761168848 */
    float x[2] = {1, 2}, coef[6] = {1, 0, 0, 1, 1, 1}, icpt[3] = {0, 0, -2};
    int64_t labels[3] = {7, 8, 9};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 2, x);
    call k;
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 6);
    a_floats(&k, "intercepts", icpt, 3);
    a_ints(&k, "classlabels_ints", labels, 3);
    a_str(&k, "post_transform", "SOFTMAX");
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].dtype == MS_DTYPE_INT64 && k.out[0].ndim == 1 && k.out[0].shape[0] == 1);
    CHECK(k.out[1].ndim == 2 && k.out[1].shape[1] == 3);
    CHECK(OUTI(k, 0, 0) == 8);
    CHECK_NEAR(OUTF(k, 1, 0), 0.2119415576, 1e-7);
    CHECK_NEAR(OUTF(k, 1, 1), 0.5761168848, 1e-7);
    CHECK_NEAR(OUTF(k, 1, 2), 0.2119415576, 1e-7);
    call_free(&k);
}

TEST(linear_classifier_strings_int_input)
{
    /* int64 input x = [3]; rows [-1], [1] (binary as two rows): scores [-3, 3] -> "yes" */
    int64_t x[1] = {3};
    float coef[2] = {-1, 1};
    const char *labels[2] = {"no", "yes"};
    ms_tensor tx = tens(MS_DTYPE_INT64, 2, 1, 1, x);
    call k;
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 2);
    a_strs(&k, "classlabels_strings", labels, 2);
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].dtype == MS_DTYPE_STRING && !strcmp(OUTS(k, 0, 0), "yes"));
    CHECK(OUTS(k, 0, 0) == labels[1]); /* points at the attribute, no copy */
    CHECK_NEAR(OUTF(k, 1, 0), -3, 0);
    CHECK_NEAR(OUTF(k, 1, 1), 3, 0);
    call_free(&k);
}

TEST(spec_linear_classifier_one_row_binary)
{
    /* One coefficient row, two labels, LOGISTIC: s = 2*1 - 1 = 1, Z = [1 - sigmoid(1),
     * sigmoid(1)] = [0.2689414214, 0.7310585786]. ONNX Runtime writes [1 - s, s] = [0, 1]
     * from the raw score; the spec applies the transform to the score. With NONE the second
     * column is a guess, so that is refused. */
    float x[1] = {2}, coef[1] = {1}, icpt[1] = {-1};
    int64_t labels[2] = {0, 1};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 1, x);
    call k;
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 1);
    a_floats(&k, "intercepts", icpt, 1);
    a_ints(&k, "classlabels_ints", labels, 2);
    a_str(&k, "post_transform", "LOGISTIC");
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTI(k, 0, 0) == 1);
    CHECK_NEAR(OUTF(k, 1, 0), 0.2689414214, 1e-7);
    CHECK_NEAR(OUTF(k, 1, 1), 0.7310585786, 1e-7);
    call_free(&k);
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 1);
    a_ints(&k, "classlabels_ints", labels, 2);
    CHECK(call_infer(&k) == MS_ERR_UNSUPPORTED);
}

TEST(bad_linear_classifier)
{
    float x[2] = {1, 2}, coef[6] = {1, 0, 0, 1, 1, 1}, icpt[2] = {0, 0};
    int64_t labels[3] = {7, 8, 9};
    const char *slabels[3] = {"a", "b", "c"};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 2, x);
    call k;
    /* 2 intercepts say 2 targets; 6 coefficients do not make 2 x 2 */
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 6);
    a_floats(&k, "intercepts", icpt, 2);
    a_ints(&k, "classlabels_ints", labels, 3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    /* 3 score rows, 2 labels: ONNX Runtime would read past the labels */
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 6);
    a_ints(&k, "classlabels_ints", labels, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    /* no labels / both kinds of labels / no coefficients / unknown transform */
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 6);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 6);
    a_ints(&k, "classlabels_ints", labels, 3);
    a_strs(&k, "classlabels_strings", slabels, 3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_ints(&k, "classlabels_ints", labels, 3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LinearClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 6);
    a_ints(&k, "classlabels_ints", labels, 3);
    a_str(&k, "post_transform", "TANH");
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

/* ==== LinearRegressor ===================================================================== */

TEST(linear_regressor_two_targets)
{
    /* rows x = [1,2], [3,4]; targets w0 = [1,1], w1 = [2,-1], intercepts [0.5, 0]:
     * [3.5, 0], [7.5, 2] */
    float x[4] = {1, 2, 3, 4}, coef[4] = {1, 1, 2, -1}, icpt[2] = {0.5f, 0};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 2, 2, x);
    call k;
    call_init(&k, "LinearRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 4);
    a_floats(&k, "intercepts", icpt, 2);
    a_int(&k, "targets", 2);
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].shape[0] == 2 && k.out[0].shape[1] == 2);
    CHECK_NEAR(OUTF(k, 0, 0), 3.5, 0);
    CHECK_NEAR(OUTF(k, 0, 1), 0, 0);
    CHECK_NEAR(OUTF(k, 0, 2), 7.5, 0);
    CHECK_NEAR(OUTF(k, 0, 3), 2, 0);
    call_free(&k);
}

TEST(spec_linear_regressor_transform_one_target)
{
    /* One target, LOGISTIC: y = sigmoid(0.5 * 2) = 0.7310585786. ONNX Runtime skips LOGISTIC
     * for a single target and returns 1. PROBIT of 0.975 is 1.959963985 exactly (ONNX
     * Runtime's erfinv approximation gives about 1.9585). */
    float x[1] = {2}, coef[1] = {0.5f}, xp[1] = {0.975f}, one[1] = {1};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 1, x), tp = tens(MS_DTYPE_FLOAT, 2, 1, 1, xp);
    call k;
    call_init(&k, "LinearRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 1);
    a_str(&k, "post_transform", "LOGISTIC");
    CHECK(call_run(&k) == MS_OK);
    CHECK_NEAR(OUTF(k, 0, 0), 0.7310585786, 1e-7);
    call_free(&k);
    call_init(&k, "LinearRegressor", 1, 1, 1);
    k.in[0] = &tp;
    a_floats(&k, "coefficients", one, 1);
    a_str(&k, "post_transform", "PROBIT");
    CHECK(call_run(&k) == MS_OK);
    /* 0.975f is 0.97500002384; probit'(p) = 1/phi(1.96) = 17.1 moves it by 4e-7 */
    CHECK_NEAR(OUTF(k, 0, 0), 1.959963985 + 4.08e-7, 2e-7);
    call_free(&k);
}

TEST(bad_linear_regressor)
{
    float x[2] = {1, 2}, coef[3] = {1, 2, 3}, icpt[2] = {0, 0};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 2, x);
    call k;
    call_init(&k, "LinearRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LinearRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 2);
    a_floats(&k, "intercepts", icpt, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LinearRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 2);
    a_int(&k, "targets", 0);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LinearRegressor", 1, 1, 1);
    k.in[0] = &tx;
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

/* ==== SVMClassifier / SVMRegressor ========================================================= */

/* Two classes, one support vector each, LINEAR kernel: sv0 = [1,0] (class 0), sv1 = [0,1]
 * (class 1); coefficients [1, -1], rho [0]. x = [2,1]: K = [2, 1],
 * s = 1*2 + (-1)*1 + 0 = 1 > 0: a vote for class 0. */
static float svm_sv[4] = {1, 0, 0, 1}, svm_coef[2] = {1, -1}, svm_rho[1] = {0};
static int64_t svm_vpc[2] = {1, 1}, svm_labels[2] = {5, 6};

static void svm_setup(call *k, ms_tensor *tx)
{
    call_init(k, "SVMClassifier", 1, 1, 2);
    k->in[0] = tx;
    a_floats(k, "support_vectors", svm_sv, 4);
    a_floats(k, "coefficients", svm_coef, 2);
    a_floats(k, "rho", svm_rho, 1);
    a_ints(k, "vectors_per_class", svm_vpc, 2);
    a_ints(k, "classlabels_ints", svm_labels, 2);
}

TEST(svm_classifier_binary)
{
    float x[2] = {2, 1};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 2, x);
    call k;
    svm_setup(&k, &tx);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTI(k, 0, 0) == 5);
    CHECK(k.out[1].shape[1] == 2); /* [-s, s] */
    CHECK_NEAR(OUTF(k, 1, 0), -1, 0);
    CHECK_NEAR(OUTF(k, 1, 1), 1, 0);
    call_free(&k);
}

TEST(spec_svm_classifier_binary_logistic)
{
    /* Without probabilities, scores [-s, s] = [-1, 1], then post_transform LOGISTIC:
     * [0.2689414214, 0.7310585786] (as the ONNX reference). ONNX Runtime writes [1 - s, s]
     * = [0, 1] for any transform but NONE. */
    float x[2] = {2, 1};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 2, x);
    call k;
    svm_setup(&k, &tx);
    a_str(&k, "post_transform", "LOGISTIC");
    CHECK(call_run(&k) == MS_OK);
    CHECK_NEAR(OUTF(k, 1, 0), 0.2689414214, 1e-7);
    CHECK_NEAR(OUTF(k, 1, 1), 0.7310585786, 1e-7);
    call_free(&k);
}

TEST(svm_classifier_proba_and_kernels)
{
    /* prob_a = -1, prob_b = 0: P(class 0) = 1 / (1 + exp(s*A + B)) = 1 / (1 + e^-1)
     * = 0.7310585786. libsvm couples even two classes iteratively and stops within
     * 0.005 / k, so p0 is within 0.0025 of that, and p sums to 1. */
    float x[2] = {2, 1}, pa[1] = {-1}, pb[1] = {0};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 2, x);
    call k;
    svm_setup(&k, &tx);
    a_floats(&k, "prob_a", pa, 1);
    a_floats(&k, "prob_b", pb, 1);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTI(k, 0, 0) == 5);
    CHECK_NEAR(OUTF(k, 1, 0), 0.7310585786, 0.0025);
    CHECK_NEAR(OUTF(k, 1, 0) + OUTF(k, 1, 1), 1, 1e-6);
    call_free(&k);
    /* RBF, gamma 0.5: K = [exp(-0.5*2), exp(-0.5*4)] = [0.3678794412, 0.1353352832];
     * s = 0.3678794412 - 0.1353352832 = 0.2325441580 */
    float kp[3] = {0.5f, 0, 0};
    svm_setup(&k, &tx);
    a_str(&k, "kernel_type", "RBF");
    a_floats(&k, "kernel_params", kp, 3);
    CHECK(call_run(&k) == MS_OK);
    CHECK_NEAR(OUTF(k, 1, 1), 0.2325441580, 1e-7);
    call_free(&k);
    /* POLY, gamma 1, coef0 1, degree 2: K = [(2+1)^2, (1+1)^2] = [9, 4]; s = 5 */
    float kq[3] = {1, 1, 2};
    svm_setup(&k, &tx);
    a_str(&k, "kernel_type", "POLY");
    a_floats(&k, "kernel_params", kq, 3);
    CHECK(call_run(&k) == MS_OK);
    CHECK_NEAR(OUTF(k, 1, 1), 5, 1e-6);
    call_free(&k);
    /* SIGMOID, gamma 1, coef0 0: s = tanh(2) - tanh(1) = 0.9640275801 - 0.7615941560 */
    float ks[3] = {1, 0, 0};
    svm_setup(&k, &tx);
    a_str(&k, "kernel_type", "SIGMOID");
    a_floats(&k, "kernel_params", ks, 3);
    CHECK(call_run(&k) == MS_OK);
    CHECK_NEAR(OUTF(k, 1, 1), 0.2024334241, 1e-7);
    call_free(&k);
}

TEST(svm_classifier_three_classes)
{
    /* Three classes, one support vector each (e0, e1, e2 in 3-D), LINEAR kernel, x = [3,2,1]:
     * K = [3, 2, 1]. coefficients are [classes-1, vectors]: row 0 = [1, 1, 1], row 1 =
     * [-1, -1, -1]. Pairs (i,j): s = coef[j-1][sv_i] K_i + coef[i][sv_j] K_j + rho:
     * (0,1): coef[0][0]*3 + coef[0][1]*2 = 5 -> class 0
     * (0,2): coef[1][0]*3 + coef[0][2]*1 = -3 + 1 = -2 -> class 2
     * (1,2): coef[1][1]*2 + coef[1][2]*1 = -2 - 1 = -3 -> class 2
     * votes [1, 0, 2]: class 2. */
    float x[3] = {3, 2, 1}, sv[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    float coef[6] = {1, 1, 1, -1, -1, -1}, rho[3] = {0, 0, 0};
    int64_t vpc[3] = {1, 1, 1}, labels[3] = {0, 1, 2};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 3, x);
    call k;
    call_init(&k, "SVMClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "support_vectors", sv, 9);
    a_floats(&k, "coefficients", coef, 6);
    a_floats(&k, "rho", rho, 3);
    a_ints(&k, "vectors_per_class", vpc, 3);
    a_ints(&k, "classlabels_ints", labels, 3);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTI(k, 0, 0) == 2);
    CHECK(k.out[1].shape[1] == 3);
    CHECK_NEAR(OUTF(k, 1, 0), 5, 0);
    CHECK_NEAR(OUTF(k, 1, 1), -2, 0);
    CHECK_NEAR(OUTF(k, 1, 2), -3, 0);
    call_free(&k);
}

TEST(bad_svm_classifier)
{
    float x[2] = {2, 1}, pa[2] = {1, 1}, kp[2] = {1, 1};
    int64_t vpc3[3] = {1, 1, 0}, neg[2] = {2, -1};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 2, x), tx3 = tens(MS_DTYPE_FLOAT, 2, 1, 3, x);
    call k;
    /* vectors_per_class has 3 entries for 2 labels */
    call_init(&k, "SVMClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "support_vectors", svm_sv, 4);
    a_floats(&k, "coefficients", svm_coef, 2);
    a_floats(&k, "rho", svm_rho, 1);
    a_ints(&k, "vectors_per_class", vpc3, 3);
    a_ints(&k, "classlabels_ints", svm_labels, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    /* a negative vector count */
    call_init(&k, "SVMClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "support_vectors", svm_sv, 4);
    a_floats(&k, "coefficients", svm_coef, 2);
    a_floats(&k, "rho", svm_rho, 1);
    a_ints(&k, "vectors_per_class", neg, 2);
    a_ints(&k, "classlabels_ints", svm_labels, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    /* input has 3 features, support vectors 2 */
    svm_setup(&k, &tx3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    /* prob_a without prob_b, prob_a of the wrong length */
    svm_setup(&k, &tx);
    a_floats(&k, "prob_a", pa, 1);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    svm_setup(&k, &tx);
    a_floats(&k, "prob_a", pa, 2);
    a_floats(&k, "prob_b", pa, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    /* kernel_params must be three values; unknown kernel */
    svm_setup(&k, &tx);
    a_floats(&k, "kernel_params", kp, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    svm_setup(&k, &tx);
    a_str(&k, "kernel_type", "CUBIC");
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    /* missing rho, missing coefficients */
    call_init(&k, "SVMClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "support_vectors", svm_sv, 4);
    a_floats(&k, "coefficients", svm_coef, 2);
    a_ints(&k, "vectors_per_class", svm_vpc, 2);
    a_ints(&k, "classlabels_ints", svm_labels, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "SVMClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "support_vectors", svm_sv, 4);
    a_floats(&k, "rho", svm_rho, 1);
    a_ints(&k, "vectors_per_class", svm_vpc, 2);
    a_ints(&k, "classlabels_ints", svm_labels, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    /* liblinear mode, two classes: implementations disagree on the label rule */
    call_init(&k, "SVMClassifier", 1, 1, 2);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", svm_sv, 4);
    a_floats(&k, "rho", svm_rho, 1);
    a_ints(&k, "classlabels_ints", svm_labels, 2);
    CHECK(call_infer(&k) == MS_ERR_UNSUPPORTED);
}

TEST(svm_regressor)
{
    /* two support vectors [1,0], [0,1], coefficients [2, -1], rho 0.5, LINEAR; x = [3, 4]:
     * 2*3 - 1*4 + 0.5 = 2.5; one_class gives the sign: 1 */
    float x[2] = {3, 4}, sv[4] = {1, 0, 0, 1}, coef[2] = {2, -1}, rho[1] = {0.5f};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 1, 2, x);
    call k;
    for (int one = 0; one < 2; one++) {
        call_init(&k, "SVMRegressor", 1, 1, 1);
        k.in[0] = &tx;
        a_floats(&k, "support_vectors", sv, 4);
        a_floats(&k, "coefficients", coef, 2);
        a_floats(&k, "rho", rho, 1);
        a_int(&k, "n_supports", 2);
        a_int(&k, "one_class", one);
        CHECK(call_run(&k) == MS_OK);
        CHECK(k.out[0].shape[0] == 1 && k.out[0].shape[1] == 1);
        CHECK_NEAR(OUTF(k, 0, 0), one ? 1 : 2.5, 0);
        call_free(&k);
    }
    /* spec: post_transform applies to the score (ONNX Runtime ignores it):
     * sigmoid(2.5) = 0.9241418200 */
    call_init(&k, "SVMRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "support_vectors", sv, 4);
    a_floats(&k, "coefficients", coef, 2);
    a_floats(&k, "rho", rho, 1);
    a_int(&k, "n_supports", 2);
    a_str(&k, "post_transform", "LOGISTIC");
    CHECK(call_run(&k) == MS_OK);
    CHECK_NEAR(OUTF(k, 0, 0), 0.9241418200, 1e-7);
    call_free(&k);
    /* bad: n_supports 3 with 2 coefficients; support vectors short; no rho */
    call_init(&k, "SVMRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "support_vectors", sv, 4);
    a_floats(&k, "coefficients", coef, 2);
    a_floats(&k, "rho", rho, 1);
    a_int(&k, "n_supports", 3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "SVMRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "support_vectors", sv, 3);
    a_floats(&k, "coefficients", coef, 2);
    a_floats(&k, "rho", rho, 1);
    a_int(&k, "n_supports", 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "SVMRegressor", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "coefficients", coef, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

/* ==== preprocessing ======================================================================== */

TEST(scaler)
{
    /* (x - offset) * scale per feature: [(1-1)*2, (4-2)*0.5] = [0, 1], [(3-1)*2, (0-2)*0.5]
     * = [4, -1] */
    double x[4] = {1, 4, 3, 0};
    float off[2] = {1, 2}, sc[2] = {2, 0.5f}, one[1] = {1};
    ms_tensor tx = tens(MS_DTYPE_DOUBLE, 2, 2, 2, x);
    call k;
    call_init(&k, "Scaler", 1, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "offset", off, 2);
    a_floats(&k, "scale", sc, 2);
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].dtype == MS_DTYPE_FLOAT);
    CHECK_NEAR(OUTF(k, 0, 0), 0, 0);
    CHECK_NEAR(OUTF(k, 0, 1), 1, 0);
    CHECK_NEAR(OUTF(k, 0, 2), 4, 0);
    CHECK_NEAR(OUTF(k, 0, 3), -1, 0);
    call_free(&k);
    call_init(&k, "Scaler", 1, 1, 1); /* lengths differ */
    k.in[0] = &tx;
    a_floats(&k, "offset", off, 2);
    a_floats(&k, "scale", one, 1);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    float off3[3] = {0, 0, 0};
    call_init(&k, "Scaler", 1, 1, 1); /* 3 values for 2 features */
    k.in[0] = &tx;
    a_floats(&k, "offset", off3, 3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

TEST(spec_normalizer)
{
    /* row [3, -4]: MAX divides by max(X) = 3 -> [1, -1.3333334] (the ONNX reference divides
     * by max|X| = 4); L1 by |3| + |-4| = 7; L2 by 5 and keeps the sign -> [0.6, -0.8] (the
     * v1 text's sqrt(X^2 / sum(X^2)) would give +0.8). A zero row stays as it is. */
    float x[4] = {3, -4, 0, 0};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 2, 2, x);
    static const char *norms[3] = {"MAX", "L1", "L2"};
    const double want[3][2] = {{1, -4.0 / 3}, {3.0 / 7, -4.0 / 7}, {0.6, -0.8}};
    for (int i = 0; i < 3; i++) {
        call k;
        call_init(&k, "Normalizer", 1, 1, 1);
        k.in[0] = &tx;
        a_str(&k, "norm", norms[i]);
        CHECK(call_run(&k) == MS_OK);
        CHECK_NEAR(OUTF(k, 0, 0), want[i][0], 1e-7);
        CHECK_NEAR(OUTF(k, 0, 1), want[i][1], 1e-7);
        CHECK(OUTF(k, 0, 2) == 0 && OUTF(k, 0, 3) == 0);
        call_free(&k);
    }
    call k;
    call_init(&k, "Normalizer", 1, 1, 1);
    k.in[0] = &tx;
    a_str(&k, "norm", "L3");
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

TEST(binarizer_imputer)
{
    /* Binarizer threshold 1: [0.5, 1, 2, NaN] -> [0, 0, 1, 0] (NaN is not greater) */
    float x[4] = {0.5f, 1, 2, NAN};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 1, 4, 0, x);
    call k;
    call_init(&k, "Binarizer", 1, 1, 1);
    k.in[0] = &tx;
    a_float(&k, "threshold", 1);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTF(k, 0, 0) == 0 && OUTF(k, 0, 1) == 0 && OUTF(k, 0, 2) == 1 && OUTF(k, 0, 3) == 0);
    call_free(&k);
    /* Imputer, NaN replaced per feature: [[1, NaN], [NaN, 4]] with [10, 20] -> [[1, 20],
     * [10, 4]] */
    float xi[4] = {1, NAN, NAN, 4}, iv[2] = {10, 20};
    ms_tensor ti = tens(MS_DTYPE_FLOAT, 2, 2, 2, xi);
    call_init(&k, "Imputer", 1, 1, 1);
    k.in[0] = &ti;
    a_floats(&k, "imputed_value_floats", iv, 2);
    a_float(&k, "replaced_value_float", NAN);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTF(k, 0, 0) == 1 && OUTF(k, 0, 1) == 20 && OUTF(k, 0, 2) == 10 && OUTF(k, 0, 3) == 4);
    call_free(&k);
    /* int64: replace -1 by 7 */
    int64_t xl[3] = {-1, 5, -1}, ivl[1] = {7};
    ms_tensor tl = tens(MS_DTYPE_INT64, 1, 3, 0, xl);
    call_init(&k, "Imputer", 1, 1, 1);
    k.in[0] = &tl;
    a_ints(&k, "imputed_value_int64s", ivl, 1);
    a_int(&k, "replaced_value_int64", -1);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTI(k, 0, 0) == 7 && OUTI(k, 0, 1) == 5 && OUTI(k, 0, 2) == 7);
    call_free(&k);
    /* bad: 3 values for 2 features; int64 values for a float input; none at all */
    float iv3[3] = {1, 2, 3};
    call_init(&k, "Imputer", 1, 1, 1);
    k.in[0] = &ti;
    a_floats(&k, "imputed_value_floats", iv3, 3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "Imputer", 1, 1, 1);
    k.in[0] = &ti;
    a_ints(&k, "imputed_value_int64s", ivl, 1);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "Imputer", 1, 1, 1);
    k.in[0] = &ti;
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

/* ==== encoders ============================================================================ */

TEST(onehot_encoder)
{
    /* cats [3, 5, 8]; input [[5], [9]] -> [[[0,1,0]], [[0,0,0]]] (9 unknown, zeros=1);
     * float input 8.7 is cast (truncated) to 8 */
    int64_t x[2] = {5, 9}, cats[3] = {3, 5, 8};
    ms_tensor tx = tens(MS_DTYPE_INT64, 2, 2, 1, x);
    call k;
    call_init(&k, "OneHotEncoder", 1, 1, 1);
    k.in[0] = &tx;
    a_ints(&k, "cats_int64s", cats, 3);
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].ndim == 3 && k.out[0].shape[0] == 2 && k.out[0].shape[1] == 1 &&
          k.out[0].shape[2] == 3);
    const float want[6] = {0, 1, 0, 0, 0, 0};
    for (int i = 0; i < 6; i++) CHECK(OUTF(k, 0, i) == want[i]);
    call_free(&k);
    call_init(&k, "OneHotEncoder", 1, 1, 1); /* zeros=0: an unknown category fails */
    k.in[0] = &tx;
    a_ints(&k, "cats_int64s", cats, 3);
    a_int(&k, "zeros", 0);
    CHECK(call_run(&k) == MS_ERR_INVALID);
    call_free(&k);
    float xf[1] = {8.7f};
    ms_tensor tf = tens(MS_DTYPE_FLOAT, 1, 1, 0, xf);
    call_init(&k, "OneHotEncoder", 1, 1, 1);
    k.in[0] = &tf;
    a_ints(&k, "cats_int64s", cats, 3);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTF(k, 0, 0) == 0 && OUTF(k, 0, 1) == 0 && OUTF(k, 0, 2) == 1);
    call_free(&k);
    /* strings */
    const char *xs[2] = {"b", "z"}, *scats[2] = {"a", "b"};
    ms_tensor ts = tens(MS_DTYPE_STRING, 1, 2, 0, xs);
    call_init(&k, "OneHotEncoder", 1, 1, 1);
    k.in[0] = &ts;
    a_strs(&k, "cats_strings", scats, 2);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTF(k, 0, 0) == 0 && OUTF(k, 0, 1) == 1 && OUTF(k, 0, 2) == 0 && OUTF(k, 0, 3) == 0);
    call_free(&k);
    /* bad: string categories for an int input; no categories */
    call_init(&k, "OneHotEncoder", 1, 1, 1);
    k.in[0] = &tx;
    a_strs(&k, "cats_strings", scats, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "OneHotEncoder", 1, 1, 1);
    k.in[0] = &tx;
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

TEST(label_encoder_v1)
{
    const char *cls[3] = {"a", "b", "c"}, *xs[2] = {"c", "q"};
    int64_t xi[3] = {1, 3, -1};
    ms_tensor ts = tens(MS_DTYPE_STRING, 1, 2, 0, xs), ti = tens(MS_DTYPE_INT64, 1, 3, 0, xi);
    call k;
    call_init(&k, "LabelEncoder", 1, 1, 1);
    k.in[0] = &ts;
    a_strs(&k, "classes_strings", cls, 3);
    a_int(&k, "default_int64", -9);
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].dtype == MS_DTYPE_INT64 && OUTI(k, 0, 0) == 2 && OUTI(k, 0, 1) == -9);
    call_free(&k);
    call_init(&k, "LabelEncoder", 1, 1, 1);
    k.in[0] = &ti;
    a_strs(&k, "classes_strings", cls, 3);
    CHECK(call_run(&k) == MS_OK);
    CHECK(!strcmp(OUTS(k, 0, 0), "b") && !strcmp(OUTS(k, 0, 1), "_Unused") &&
          !strcmp(OUTS(k, 0, 2), "_Unused"));
    call_free(&k);
}

TEST(spec_label_encoder_v2_float_keys)
{
    /* keys compare bit for bit (spec): NaN maps to its value; -0.0 is not the key 0.0 and
     * takes the default (ONNX Runtime's hash map equates 0.0 and -0.0 and never finds NaN) */
    float keys[2] = {NAN, 0.0f}, x[3] = {NAN, 0.0f, -0.0f};
    const char *vals[2] = {"nan", "zero"};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 1, 3, 0, x);
    call k;
    call_init(&k, "LabelEncoder", 2, 1, 1);
    k.in[0] = &tx;
    a_floats(&k, "keys_floats", keys, 2);
    a_strs(&k, "values_strings", vals, 2);
    a_str(&k, "default_string", "none");
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].dtype == MS_DTYPE_STRING);
    CHECK(!strcmp(OUTS(k, 0, 0), "nan"));
    CHECK(!strcmp(OUTS(k, 0, 1), "zero"));
    CHECK(!strcmp(OUTS(k, 0, 2), "none"));
    call_free(&k);
}

TEST(label_encoder_v2)
{
    /* the spec's example: keys ["Amy", "Sally"] -> [5, 6], default -1:
     * ["Dori", "Amy", "Amy", "Sally", "Sally"] -> [-1, 5, 5, 6, 6] */
    const char *keys[2] = {"Amy", "Sally"}, *x[5] = {"Dori", "Amy", "Amy", "Sally", "Sally"};
    int64_t vals[2] = {5, 6};
    ms_tensor tx = tens(MS_DTYPE_STRING, 1, 5, 0, x);
    call k;
    call_init(&k, "LabelEncoder", 2, 1, 1);
    k.in[0] = &tx;
    a_strs(&k, "keys_strings", keys, 2);
    a_ints(&k, "values_int64s", vals, 2);
    CHECK(call_run(&k) == MS_OK);
    const int64_t want[5] = {-1, 5, 5, 6, 6};
    for (int i = 0; i < 5; i++) CHECK(OUTI(k, 0, i) == want[i]);
    call_free(&k);
    /* int64 -> float with default_float */
    int64_t xi[2] = {4, 5}, ki[1] = {4};
    float vf[1] = {0.25f};
    ms_tensor ti = tens(MS_DTYPE_INT64, 1, 2, 0, xi);
    call_init(&k, "LabelEncoder", 2, 1, 1);
    k.in[0] = &ti;
    a_ints(&k, "keys_int64s", ki, 1);
    a_floats(&k, "values_floats", vf, 1);
    a_float(&k, "default_float", 9);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTF(k, 0, 0) == 0.25f && OUTF(k, 0, 1) == 9);
    call_free(&k);
    /* bad: 2 keys and 1 value; keys of two kinds; int keys for a string input; no values */
    call_init(&k, "LabelEncoder", 2, 1, 1);
    k.in[0] = &tx;
    a_strs(&k, "keys_strings", keys, 2);
    a_ints(&k, "values_int64s", vals, 1);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LabelEncoder", 2, 1, 1);
    k.in[0] = &tx;
    a_strs(&k, "keys_strings", keys, 2);
    a_ints(&k, "keys_int64s", vals, 2);
    a_ints(&k, "values_int64s", vals, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LabelEncoder", 2, 1, 1);
    k.in[0] = &tx;
    a_ints(&k, "keys_int64s", vals, 2);
    a_ints(&k, "values_int64s", vals, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "LabelEncoder", 2, 1, 1);
    k.in[0] = &tx;
    a_strs(&k, "keys_strings", keys, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

TEST(category_mapper)
{
    const char *cs[2] = {"cat", "dog"}, *xs[2] = {"dog", "eel"};
    int64_t ci[2] = {10, 20}, xi[2] = {10, 30};
    ms_tensor ts = tens(MS_DTYPE_STRING, 1, 2, 0, xs), ti = tens(MS_DTYPE_INT64, 1, 2, 0, xi);
    call k;
    call_init(&k, "CategoryMapper", 1, 1, 1);
    k.in[0] = &ts;
    a_strs(&k, "cats_strings", cs, 2);
    a_ints(&k, "cats_int64s", ci, 2);
    CHECK(call_run(&k) == MS_OK);
    CHECK(OUTI(k, 0, 0) == 20 && OUTI(k, 0, 1) == -1);
    call_free(&k);
    call_init(&k, "CategoryMapper", 1, 1, 1);
    k.in[0] = &ti;
    a_strs(&k, "cats_strings", cs, 2);
    a_ints(&k, "cats_int64s", ci, 2);
    a_str(&k, "default_string", "?");
    CHECK(call_run(&k) == MS_OK);
    CHECK(!strcmp(OUTS(k, 0, 0), "cat") && !strcmp(OUTS(k, 0, 1), "?"));
    call_free(&k);
    call_init(&k, "CategoryMapper", 1, 1, 1); /* lengths differ */
    k.in[0] = &ti;
    a_strs(&k, "cats_strings", cs, 2);
    a_ints(&k, "cats_int64s", ci, 1);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

/* ==== ArrayFeatureExtractor, FeatureVectorizer, ZipMap ===================================== */

TEST(array_feature_extractor)
{
    /* X [2,3], indices [2, 0] -> [[3, 1], [6, 4]]; a 1-D X gives [1, k] */
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t idx[2] = {2, 0}, bad[1] = {3}, neg[1] = {-1};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 2, 3, x), ti = tens(MS_DTYPE_INT64, 1, 2, 0, idx);
    call k;
    call_init(&k, "ArrayFeatureExtractor", 1, 2, 1);
    k.in[0] = &tx;
    k.in[1] = &ti;
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].shape[0] == 2 && k.out[0].shape[1] == 2);
    CHECK(OUTF(k, 0, 0) == 3 && OUTF(k, 0, 1) == 1 && OUTF(k, 0, 2) == 6 && OUTF(k, 0, 3) == 4);
    call_free(&k);
    const char *xs[3] = {"a", "b", "c"};
    ms_tensor ts = tens(MS_DTYPE_STRING, 1, 3, 0, xs);
    call_init(&k, "ArrayFeatureExtractor", 1, 2, 1);
    k.in[0] = &ts;
    k.in[1] = &ti;
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].ndim == 2 && k.out[0].shape[0] == 1 && k.out[0].shape[1] == 2);
    CHECK(OUTS(k, 0, 0) == xs[2] && OUTS(k, 0, 1) == xs[0]);
    call_free(&k);
    ms_tensor tb = tens(MS_DTYPE_INT64, 1, 1, 0, bad), tn = tens(MS_DTYPE_INT64, 1, 1, 0, neg);
    call_init(&k, "ArrayFeatureExtractor", 1, 2, 1);
    k.in[0] = &tx;
    k.in[1] = &tb;
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "ArrayFeatureExtractor", 1, 2, 1);
    k.in[0] = &tx;
    k.in[1] = &tn;
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

TEST(feature_vectorizer)
{
    /* [[1],[2]] (int64) and [[0.5,0.25],[3,4]] -> [[1,0.5,0.25],[2,3,4]] */
    int64_t a[2] = {1, 2};
    double b[4] = {0.5, 0.25, 3, 4};
    int64_t dims[2] = {1, 2}, wrong[2] = {1, 3};
    ms_tensor ta = tens(MS_DTYPE_INT64, 2, 2, 1, a), tb = tens(MS_DTYPE_DOUBLE, 2, 2, 2, b);
    call k;
    call_init(&k, "FeatureVectorizer", 1, 2, 1);
    k.in[0] = &ta;
    k.in[1] = &tb;
    a_ints(&k, "inputdimensions", dims, 2);
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].shape[0] == 2 && k.out[0].shape[1] == 3);
    const float want[6] = {1, 0.5f, 0.25f, 2, 3, 4};
    for (int i = 0; i < 6; i++) CHECK(OUTF(k, 0, i) == want[i]);
    call_free(&k);
    call_init(&k, "FeatureVectorizer", 1, 2, 1); /* inputdimensions disagrees */
    k.in[0] = &ta;
    k.in[1] = &tb;
    a_ints(&k, "inputdimensions", wrong, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "FeatureVectorizer", 1, 2, 1); /* one entry for two inputs */
    k.in[0] = &ta;
    k.in[1] = &tb;
    a_ints(&k, "inputdimensions", dims, 1);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

TEST(zipmap_kernel)
{
    float x[4] = {0.25f, 0.75f, 0.5f, 0.5f};
    int64_t labels[2] = {3, 4}, three[3] = {1, 2, 3};
    const char *sl[2] = {"a", "b"};
    ms_tensor tx = tens(MS_DTYPE_FLOAT, 2, 2, 2, x);
    call k;
    call_init(&k, "ZipMap", 1, 1, 1);
    k.in[0] = &tx;
    a_ints(&k, "classlabels_int64s", labels, 2);
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].dtype == MS_DTYPE_FLOAT && k.out[0].shape[0] == 2 && k.out[0].shape[1] == 2);
    CHECK(OUTF(k, 0, 1) == 0.75f && OUTF(k, 0, 3) == 0.5f);
    call_free(&k);
    call_init(&k, "ZipMap", 1, 1, 1); /* 3 labels for 2 columns */
    k.in[0] = &tx;
    a_ints(&k, "classlabels_int64s", three, 3);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
    call_init(&k, "ZipMap", 1, 1, 1); /* both kinds of labels */
    k.in[0] = &tx;
    a_ints(&k, "classlabels_int64s", labels, 2);
    a_strs(&k, "classlabels_strings", sl, 2);
    CHECK(call_infer(&k) == MS_ERR_INVALID);
}

/* ==== loader: ZipMap outputs ============================================================== */

/* A model X float[N,2] -> op -> Y, Y declared as seq(map(int64, float)), ai.onnx.ml opset 1. */
static pbuf seq_model(const char *op, const char *domain)
{
    pbuf g = {0}, n = {0}, attrs = {0}, a = {0};
    int64_t dims[2] = {-1, 2};
    ob_value(&g, 11, "X", 1, 2, dims);
    pb_str(&n, 1, "X");
    pb_str(&n, 2, "Y");
    pb_str(&n, 3, "z");
    pb_str(&n, 4, op);
    pb_str(&n, 7, domain);
    pb_str(&a, 1, "classlabels_int64s");
    pb_int(&a, 20, 7);
    pb_int(&a, 8, 10);
    pb_int(&a, 8, 20);
    pb_msg(&attrs, 5, &a);
    pb_bytes(&n, attrs.p, attrs.n);
    free(attrs.p);
    pb_msg(&g, 1, &n);
    /* TypeProto{sequence_type{elem_type{map_type{key_type INT64, value_type tensor float}}}} */
    pbuf tt = {0}, val = {0}, map = {0}, mt = {0}, elem = {0}, seq = {0}, type = {0}, vi = {0};
    pb_int(&tt, 1, 1);
    pb_msg(&val, 1, &tt);
    pb_int(&map, 1, 7);
    pb_msg(&map, 2, &val);
    pb_msg(&mt, 5, &map);
    pb_msg(&elem, 1, &mt);
    pb_msg(&seq, 4, &elem);
    pb_bytes(&type, seq.p, seq.n);
    free(seq.p);
    pb_str(&vi, 1, "Y");
    pb_msg(&vi, 2, &type);
    pb_msg(&g, 12, &vi);
    pbuf m = {0}, os = {0}, os2 = {0};
    pb_int(&m, 1, 8);
    pb_str(&os, 1, "");
    pb_int(&os, 2, 13);
    pb_msg(&m, 8, &os);
    pb_str(&os2, 1, "ai.onnx.ml");
    pb_int(&os2, 2, 1);
    pb_msg(&m, 8, &os2);
    pb_msg(&m, 7, &g);
    return m;
}

TEST(loader_zipmap_output)
{
    pbuf mb = seq_model("ZipMap", "ai.onnx.ml");
    ms_model *m = NULL;
    ms_error err;
    ms_status st = ms_model_load(mb.p, mb.n, &m, &err);
    CHECK_MSG(st == MS_OK, "%s", err.msg);
    if (st == MS_OK) {
        const ms_value_info *vi = ms_model_output(m, 0);
        CHECK(vi->dtype == MS_DTYPE_FLOAT && vi->ndim == 2 && vi->shape[1] == 2);
        ms_dtype lt;
        int64_t nl = 0;
        const void *labels = NULL;
        CHECK(ms_model_output_labels(m, 0, &lt, &nl, &labels) == 1);
        CHECK(lt == MS_DTYPE_INT64 && nl == 2);
        CHECK(labels && ((const int64_t *)labels)[0] == 10 && ((const int64_t *)labels)[1] == 20);
        CHECK(ms_model_output_labels(m, 1, &lt, &nl, &labels) == 0);
        ms_session *s;
        CHECK(ms_session_create(m, NULL, &s, &err) == MS_OK);
        float x[4] = {0.1f, 0.9f, 0.6f, 0.4f};
        ms_tensor in = {MS_DTYPE_FLOAT, 2, {2, 2}, x}, out;
        CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_OK);
        CHECK(out.dtype == MS_DTYPE_FLOAT && out.shape[0] == 2 && out.shape[1] == 2 &&
              ((float *)out.data)[1] == 0.9f);
        ms_session_free(s);
        ms_model_free(m);
    }
    free(mb.p);
    /* a sequence output from anything but ZipMap is still refused */
    mb = seq_model("Identity", "");
    CHECK(ms_model_load(mb.p, mb.n, &m, &err) == MS_ERR_UNSUPPORTED);
    free(mb.p);
}

int main(void)
{
    (void)ob_model, (void)ob_node, (void)ob_tensor_f32; /* onnx_build.h helpers not used here */
    RUN(linear_classifier_softmax);
    RUN(linear_classifier_strings_int_input);
    RUN(spec_linear_classifier_one_row_binary);
    RUN(bad_linear_classifier);
    RUN(linear_regressor_two_targets);
    RUN(spec_linear_regressor_transform_one_target);
    RUN(bad_linear_regressor);
    RUN(svm_classifier_binary);
    RUN(spec_svm_classifier_binary_logistic);
    RUN(svm_classifier_proba_and_kernels);
    RUN(svm_classifier_three_classes);
    RUN(bad_svm_classifier);
    RUN(svm_regressor);
    RUN(scaler);
    RUN(spec_normalizer);
    RUN(binarizer_imputer);
    RUN(onehot_encoder);
    RUN(label_encoder_v1);
    RUN(spec_label_encoder_v2_float_keys);
    RUN(label_encoder_v2);
    RUN(category_mapper);
    RUN(array_feature_extractor);
    RUN(feature_vectorizer);
    RUN(zipmap_kernel);
    RUN(loader_zipmap_output);
    return mstest_summary();
}
