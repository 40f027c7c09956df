/* ops_ml.c: the ai.onnx.ml operators other than the tree ensembles: linear and SVM models,
 * preprocessing (Scaler, Normalizer, Binarizer, Imputer, FeatureVectorizer,
 * ArrayFeatureExtractor), encoders (OneHotEncoder, LabelEncoder, CategoryMapper) and ZipMap.
 *
 * The ONNX-ML specification is terse and its implementations disagree in corners; where
 * they do, these kernels follow the specification's text, and tests/unit/test_ml.c names each
 * such case. Where the specification says nothing and implementations disagree, the kernel
 * refuses the model (MS_ERR_UNSUPPORTED) instead of guessing.
 *
 * Arithmetic is done in double and rounded once to float32 at the end: the models come from
 * frameworks that compute in double (scikit-learn, libsvm), and we match them to ~1e-7.
 * Strings (MS_DTYPE_STRING, `const char *` elements) in outputs always point at attribute
 * strings (model lifetime) or at input strings; nothing is allocated at run time. */
#include "ms_op.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ai.onnx.ml opsets these entries implement. LabelEncoder changed at 2 (and again at 4, not
 * implemented); the tree ensembles (ops_ml_trees.c) at 3. */
#define ML_OPSET_MAX 3
#define ML "ai.onnx.ml"

#define ML_PI 3.14159265358979323846

/* ==== shared helpers ===================================================================== */

static bool is_numeric(ms_dtype t)
{
    return t == MS_DTYPE_FLOAT || t == MS_DTYPE_DOUBLE || t == MS_DTYPE_INT64 ||
           t == MS_DTYPE_INT32;
}

/* The one input of most ML ops: float, double, int64 or int32. */
static ms_status check_numeric_input(ms_kctx *c, int i)
{
    const ms_tensor *t = c->in[i];
    if (!is_numeric(t->dtype))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input %d has type %s; this operator takes "
                        "float32, float64, int64 or int32", i, ms_dtype_name(t->dtype));
    return MS_OK;
}

/* Rows and features of an [N,F] (or [F], one row) input. */
static ms_status rows_features(ms_kctx *c, const ms_tensor *x, int64_t *n, int64_t *f)
{
    *n = *f = 0;
    if (x->ndim == 1) *n = 1, *f = x->shape[0];
    else if (x->ndim == 2) *n = x->shape[0], *f = x->shape[1];
    else
        return ms_kfail(c, x->ndim == 0 ? MS_ERR_INVALID : MS_ERR_UNSUPPORTED,
                        "input must be [N,F] or [F], got rank %d", (int)x->ndim);
    return MS_OK;
}

/* The feature count of per-feature attributes: the last dimension (1 for a scalar). */
static int64_t last_dim(const ms_tensor *x)
{
    return x->ndim ? x->shape[x->ndim - 1] : 1;
}

/* Copy row r (f features) of a numeric tensor into doubles. */
static void load_row(const ms_tensor *x, int64_t r, int64_t f, double *out)
{
    int64_t base = r * f;
    if (x->dtype == MS_DTYPE_FLOAT) {
        const float *p = (const float *)x->data + base;
        for (int64_t j = 0; j < f; j++) out[j] = p[j];
    } else {
        for (int64_t j = 0; j < f; j++) out[j] = ms_tensor_get_f64(x, base + j);
    }
}

static int find_str(const char *const *list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return i;
    return -1;
}

static int find_i64(const int64_t *list, int n, int64_t v)
{
    for (int i = 0; i < n; i++)
        if (list[i] == v) return i;
    return -1;
}

/* Float keys compare bit for bit, as the LabelEncoder spec says: a NaN key matches a NaN of
 * the same bits, and 0.0 and -0.0 are different keys. */
static int find_f32_bits(const float *list, int n, float v)
{
    for (int i = 0; i < n; i++)
        if (!memcmp(&list[i], &v, sizeof v)) return i;
    return -1;
}

/* ---- class labels ------------------------------------------------------------------------ */

typedef struct ml_labels {
    ms_dtype dtype; /* MS_DTYPE_INT64 or MS_DTYPE_STRING */
    int n;
    const int64_t *ints;
    const char *const *strs;
} ml_labels;

/* Exactly one of the two label attributes, non-empty. */
static ms_status get_labels(ms_kctx *c, const char *ints_name, const char *strs_name,
                            ml_labels *l)
{
    const int64_t *iv = NULL;
    const char *const *sv = NULL;
    int ni = ms_attr_ints(c->node, ints_name, &iv);
    int ns = ms_attr_strings(c->node, strs_name, &sv);
    if (ni > 0 && ns > 0)
        return ms_kfail(c, MS_ERR_INVALID, "both %s and %s are set; exactly one must be",
                        ints_name, strs_name);
    if (ni <= 0 && ns <= 0)
        return ms_kfail(c, MS_ERR_INVALID, "one of %s or %s must be set", ints_name, strs_name);
    memset(l, 0, sizeof *l);
    if (ni > 0) l->dtype = MS_DTYPE_INT64, l->n = ni, l->ints = iv;
    else l->dtype = MS_DTYPE_STRING, l->n = ns, l->strs = sv;
    return MS_OK;
}

static void put_label(ms_tensor *y, int64_t i, const ml_labels *l, int k)
{
    if (l->dtype == MS_DTYPE_INT64) ((int64_t *)y->data)[i] = l->ints[k];
    else ((const char **)y->data)[i] = l->strs[k];
}

/* ---- post transforms ----------------------------------------------------------------------- */

typedef enum post_t { POST_NONE, POST_LOGISTIC, POST_SOFTMAX, POST_SOFTMAX_ZERO, POST_PROBIT } post_t;

static ms_status get_post(ms_kctx *c, post_t *pt)
{
    static const char *const names[] = {"NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"};
    const char *s = ms_attr_string(c->node, "post_transform", "NONE");
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            *pt = (post_t)i;
            return MS_OK;
        }
    return ms_kfail(c, MS_ERR_INVALID, "post_transform '%s' is not one of NONE, LOGISTIC, "
                    "SOFTMAX, SOFTMAX_ZERO, PROBIT", s);
}

static double logistic(double v)
{
    /* stable on both sides */
    return v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
}

/* The inverse of the standard normal CDF (PROBIT is defined as that, exactly; ONNX Runtime
 * uses a 3-digit approximation of erfinv). Acklam's rational approximation, then Halley steps
 * on erfc, which bring it to double precision. */
static double probit(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double cc[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                                2.445134137142996e+00, 3.754408661907416e+00};
    if (isnan(p) || p < 0 || p > 1) return NAN;
    if (p == 0) return -INFINITY;
    if (p == 1) return INFINITY;
    double x;
    if (p < 0.02425 || p > 1 - 0.02425) {
        double q = sqrt(-2 * log(p < 0.5 ? p : 1 - p));
        x = (((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        if (p > 0.5) x = -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    for (int it = 0; it < 2; it++) {
        double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
        double u = e * sqrt(2 * ML_PI) * exp(x * x / 2);
        x = x - u / (1 + x * u / 2);
    }
    return x;
}

/* Apply a post transform to one score vector, in place. */
static void post_apply(post_t pt, double *s, int64_t n)
{
    switch (pt) {
    case POST_NONE: break;
    case POST_LOGISTIC:
        for (int64_t i = 0; i < n; i++) s[i] = logistic(s[i]);
        break;
    case POST_PROBIT:
        for (int64_t i = 0; i < n; i++) s[i] = probit(s[i]);
        break;
    case POST_SOFTMAX:
    case POST_SOFTMAX_ZERO: {
        /* SOFTMAX_ZERO: a softmax over the non-zero scores; zero scores stay zero. (A row of
         * only zeros stays zeros; ONNX Runtime divides 0 by 0 there.) */
        bool zero = pt == POST_SOFTMAX_ZERO;
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++)
            if (s[i] > mx) mx = s[i];
        for (int64_t i = 0; i < n; i++) {
            if (zero && s[i] == 0) continue;
            s[i] = exp(s[i] - mx);
            sum += s[i];
        }
        for (int64_t i = 0; i < n; i++)
            if (!(zero && s[i] == 0)) s[i] = sum > 0 ? s[i] / sum : 0;
        break;
    }
    }
}

/* Index of the largest value; the first on ties (as every implementation does). */
static int64_t argmax_d(const double *s, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (s[i] > s[best]) best = i;
    return best;
}

/* The label output Y [N] and score output Z [N,w]; Z may be absent from the node. */
static void set_classifier_outputs(ms_kctx *c, const ml_labels *l, int64_t n, int64_t w)
{
    ms_tensor_set_shape(c->out[0], l->dtype, 1, &n);
    if (c->n_out > 1 && c->out[1]) {
        int64_t zs[2] = {n, w};
        ms_tensor_set_shape(c->out[1], MS_DTYPE_FLOAT, 2, zs);
    }
}

static float *scores_out(ms_kctx *c)
{
    return c->n_out > 1 && c->out[1] ? (float *)c->out[1]->data : NULL;
}

static ms_status check_outputs(ms_kctx *c, int min, int max)
{
    if (c->n_out < min || c->n_out > max)
        return ms_kfail(c, MS_ERR_INVALID, "has %d outputs; the operator has %d to %d",
                        (int)c->n_out, min, max);
    if (!c->out[0]) return ms_kfail(c, MS_ERR_INVALID, "output 0 is required");
    return MS_OK;
}

/* ==== LinearClassifier =================================================================== */

typedef struct linclf {
    ml_labels labels;
    const float *coef, *icpt; /* icpt may be NULL */
    int64_t n, f, targets;
    bool binary1;             /* one score for two labels: Z is [1 - p, p] */
    post_t post;
} linclf;

static ms_status linclf_read(ms_kctx *c, linclf *m)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 2);
    if (!st) st = check_numeric_input(c, 0);
    if (!st) st = rows_features(c, c->in[0], &m->n, &m->f);
    if (!st) st = get_labels(c, "classlabels_ints", "classlabels_strings", &m->labels);
    if (!st) st = get_post(c, &m->post);
    if (st) return st;
    int nc = ms_attr_floats(c->node, "coefficients", &m->coef);
    int ni = ms_attr_floats(c->node, "intercepts", &m->icpt);
    if (nc <= 0) return ms_kfail(c, MS_ERR_INVALID, "coefficients are required");
    if (m->f <= 0) return ms_kfail(c, MS_ERR_INVALID, "the input has no features");
    /* one coefficient row per target; the intercepts, when given, count the targets */
    m->targets = ni > 0 ? ni : nc / m->f;
    if (ni <= 0) m->icpt = NULL;
    if (m->targets <= 0 || (int64_t)nc != m->targets * m->f)
        return ms_kfail(c, MS_ERR_INVALID, "coefficients has %d values; %lld targets x %lld "
                        "features need %lld", nc, (long long)m->targets, (long long)m->f,
                        (long long)(m->targets * m->f));
    m->binary1 = m->targets == 1 && m->labels.n == 2;
    if (!m->binary1 && m->targets != m->labels.n)
        return ms_kfail(c, MS_ERR_INVALID, "%lld score rows for %d class labels",
                        (long long)m->targets, m->labels.n);
    /* one score for two classes: only LOGISTIC makes Z a probability pair without guessing
     * (ONNX Runtime writes [1 - s, s] of the raw score whatever post_transform says) */
    if (m->binary1 && m->post != POST_LOGISTIC)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "a single coefficient row for two classes is "
                        "only supported with post_transform LOGISTIC");
    return MS_OK;
}

static ms_status linclf_infer(ms_kctx *c)
{
    linclf m;
    ms_status st = linclf_read(c, &m);
    if (st) return st;
    set_classifier_outputs(c, &m.labels, m.n, m.binary1 ? 2 : m.targets);
    c->scratch_size = (size_t)(m.f + m.targets) * sizeof(double);
    return MS_OK;
}

static ms_status linclf_run(ms_kctx *c)
{
    linclf m;
    ms_status st = linclf_read(c, &m);
    if (st) return st;
    double *x = c->scratch, *s = x + m.f;
    float *z = scores_out(c);
    for (int64_t r = 0; r < m.n; r++) {
        load_row(c->in[0], r, m.f, x);
        for (int64_t t = 0; t < m.targets; t++) {
            const float *w = m.coef + t * m.f;
            double acc = m.icpt ? m.icpt[t] : 0;
            for (int64_t j = 0; j < m.f; j++) acc += w[j] * x[j];
            s[t] = acc;
        }
        if (m.binary1) {
            put_label(c->out[0], r, &m.labels, s[0] > 0 ? 1 : 0);
            double p = logistic(s[0]);
            if (z) z[2 * r] = (float)(1 - p), z[2 * r + 1] = (float)p;
            continue;
        }
        /* the label is the best raw score (every transform is monotone but SOFTMAX_ZERO) */
        put_label(c->out[0], r, &m.labels, (int)argmax_d(s, m.targets));
        post_apply(m.post, s, m.targets);
        if (z)
            for (int64_t t = 0; t < m.targets; t++) z[r * m.targets + t] = (float)s[t];
    }
    return MS_OK;
}

/* ==== LinearRegressor ==================================================================== */

typedef struct linreg {
    const float *coef, *icpt;
    int64_t n, f, targets;
    post_t post;
} linreg;

static ms_status linreg_read(ms_kctx *c, linreg *m)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (!st) st = check_numeric_input(c, 0);
    if (!st) st = rows_features(c, c->in[0], &m->n, &m->f);
    if (!st) st = get_post(c, &m->post);
    if (st) return st;
    m->targets = ms_attr_int(c->node, "targets", 1);
    int nc = ms_attr_floats(c->node, "coefficients", &m->coef);
    int ni = ms_attr_floats(c->node, "intercepts", &m->icpt);
    if (m->targets < 1 || m->targets > INT32_MAX)
        return ms_kfail(c, MS_ERR_INVALID, "targets must be at least 1, got %lld",
                        (long long)m->targets);
    if (nc < 0) return ms_kfail(c, MS_ERR_INVALID, "coefficients are required");
    if ((int64_t)nc != m->targets * m->f)
        return ms_kfail(c, MS_ERR_INVALID, "coefficients has %d values; %lld targets x %lld "
                        "features need %lld", nc, (long long)m->targets, (long long)m->f,
                        (long long)(m->targets * m->f));
    if (ni >= 0 && ni != m->targets)
        return ms_kfail(c, MS_ERR_INVALID, "intercepts has %d values for %lld targets", ni,
                        (long long)m->targets);
    if (ni < 0) m->icpt = NULL;
    return MS_OK;
}

static ms_status linreg_infer(ms_kctx *c)
{
    linreg m;
    ms_status st = linreg_read(c, &m);
    if (st) return st;
    int64_t ys[2] = {m.n, m.targets};
    ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, 2, ys);
    c->scratch_size = (size_t)(m.f + m.targets) * sizeof(double);
    return MS_OK;
}

static ms_status linreg_run(ms_kctx *c)
{
    linreg m;
    ms_status st = linreg_read(c, &m);
    if (st) return st;
    double *x = c->scratch, *s = x + m.f;
    float *y = c->out[0]->data;
    for (int64_t r = 0; r < m.n; r++) {
        load_row(c->in[0], r, m.f, x);
        for (int64_t t = 0; t < m.targets; t++) {
            const float *w = m.coef + t * m.f;
            double acc = m.icpt ? m.icpt[t] : 0;
            for (int64_t j = 0; j < m.f; j++) acc += w[j] * x[j];
            s[t] = acc;
        }
        /* the spec applies post_transform to the output vector, one target included (ONNX
         * Runtime skips LOGISTIC/SOFTMAX for a single target) */
        post_apply(m.post, s, m.targets);
        for (int64_t t = 0; t < m.targets; t++) y[r * m.targets + t] = (float)s[t];
    }
    return MS_OK;
}

/* ==== SVM kernels ========================================================================== */

typedef enum svm_kind { SVM_LINEAR, SVM_POLY, SVM_RBF, SVM_SIGMOID } svm_kind;

typedef struct svm_kernel {
    svm_kind kind;
    double gamma, coef0, degree;
} svm_kernel;

static ms_status get_svm_kernel(ms_kctx *c, svm_kernel *k)
{
    static const char *const names[] = {"LINEAR", "POLY", "RBF", "SIGMOID"};
    const char *s = ms_attr_string(c->node, "kernel_type", "LINEAR");
    int kind = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) kind = i;
    if (kind < 0)
        return ms_kfail(c, MS_ERR_INVALID, "kernel_type '%s' is not one of LINEAR, POLY, RBF, "
                        "SIGMOID", s);
    k->kind = (svm_kind)kind;
    const float *p;
    int np = ms_attr_floats(c->node, "kernel_params", &p);
    if (np >= 0 && np != 3)
        return ms_kfail(c, MS_ERR_INVALID, "kernel_params must hold gamma, coef0 and degree, "
                        "got %d values", np);
    k->gamma = np == 3 ? p[0] : 0;
    k->coef0 = np == 3 ? p[1] : 0;
    k->degree = np == 3 ? p[2] : 0;
    return MS_OK;
}

/* K(x, v) over f features. */
static double svm_kdot(const svm_kernel *k, const double *x, const float *v, int64_t f)
{
    double s = 0;
    if (k->kind == SVM_RBF) {
        for (int64_t j = 0; j < f; j++) {
            double d = x[j] - v[j];
            s += d * d;
        }
        return exp(-k->gamma * s);
    }
    for (int64_t j = 0; j < f; j++) s += x[j] * v[j];
    switch (k->kind) {
    case SVM_POLY: return pow(k->gamma * s + k->coef0, k->degree);
    case SVM_SIGMOID: return tanh(k->gamma * s + k->coef0);
    default: return s;
    }
}

/* ==== SVMClassifier ======================================================================= */

/* Support-vector mode (libsvm): one-vs-one classifiers over the support vectors, votes for the
 * label, and with prob_a/prob_b Platt-scaled pairwise probabilities coupled into class
 * probabilities (Wu, Lin and Weng 2004, as libsvm does). Linear mode (no support vectors,
 * liblinear): one score per class. */
typedef struct svmclf {
    ml_labels labels;
    svm_kernel kern;
    post_t post;
    int64_t n, f, classes, pairs, vectors;
    const int64_t *per_class;
    const float *coef, *sv, *rho, *pa, *pb; /* pa/pb NULL without probabilities */
    bool svc;
} svmclf;

static ms_status svmclf_sizes(ms_kctx *c, svmclf *m, int nc, int nr, int na, int nb)
{
    if (na != nb || (na >= 0 && !m->svc && na > 0))
        return ms_kfail(c, na != nb ? MS_ERR_INVALID : MS_ERR_UNSUPPORTED,
                        na != nb ? "prob_a has %d values and prob_b %d; they must match"
                                 : "prob_a/prob_b without support vectors (%d, %d) are not "
                                   "supported", na, nb);
    if (na > 0 && na != m->pairs)
        return ms_kfail(c, MS_ERR_INVALID, "prob_a has %d values for %lld class pairs", na,
                        (long long)m->pairs);
    if (!m->svc) {
        if ((int64_t)nc != m->classes * m->f)
            return ms_kfail(c, MS_ERR_INVALID, "coefficients has %d values; %lld classes x "
                            "%lld features need %lld", nc, (long long)m->classes,
                            (long long)m->f, (long long)(m->classes * m->f));
        if (nr < 1) return ms_kfail(c, MS_ERR_INVALID, "rho is required");
        return MS_OK;
    }
    if ((int64_t)nc != (m->classes - 1) * m->vectors)
        return ms_kfail(c, MS_ERR_INVALID, "coefficients has %d values; %lld classes and %lld "
                        "support vectors need %lld", nc, (long long)m->classes,
                        (long long)m->vectors, (long long)((m->classes - 1) * m->vectors));
    if (nr != m->pairs)
        return ms_kfail(c, MS_ERR_INVALID, "rho has %d values for %lld class pairs", nr,
                        (long long)m->pairs);
    return MS_OK;
}

static ms_status svmclf_read(ms_kctx *c, svmclf *m)
{
    memset(m, 0, sizeof *m);
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 2);
    if (!st) st = check_numeric_input(c, 0);
    if (!st) st = rows_features(c, c->in[0], &m->n, &m->f);
    if (!st) st = get_labels(c, "classlabels_ints", "classlabels_strings", &m->labels);
    if (!st) st = get_post(c, &m->post);
    if (!st) st = get_svm_kernel(c, &m->kern);
    if (st) return st;
    m->classes = m->labels.n;
    if (m->classes < 2) return ms_kfail(c, MS_ERR_INVALID, "needs at least two class labels");
    m->pairs = m->classes * (m->classes - 1) / 2;
    int nv = ms_attr_ints(c->node, "vectors_per_class", &m->per_class);
    for (int i = 0; i < nv; i++) {
        if (m->per_class[i] < 0 || m->per_class[i] > INT32_MAX)
            return ms_kfail(c, MS_ERR_INVALID, "vectors_per_class[%d] is %lld", i,
                            (long long)m->per_class[i]);
        m->vectors += m->per_class[i];
    }
    m->svc = m->vectors > 0;
    if (m->svc && nv != m->classes)
        return ms_kfail(c, MS_ERR_INVALID, "vectors_per_class has %d entries for %lld classes",
                        nv, (long long)m->classes);
    int nc = ms_attr_floats(c->node, "coefficients", &m->coef);
    int ns = ms_attr_floats(c->node, "support_vectors", &m->sv);
    int nr = ms_attr_floats(c->node, "rho", &m->rho);
    int na = ms_attr_floats(c->node, "prob_a", &m->pa);
    int nb = ms_attr_floats(c->node, "prob_b", &m->pb);
    if (nc <= 0) return ms_kfail(c, MS_ERR_INVALID, "coefficients are required");
    if (m->svc && (int64_t)ns != m->vectors * m->f)
        return ms_kfail(c, MS_ERR_INVALID, "support_vectors has %d values; %lld vectors x %lld "
                        "features need %lld", ns < 0 ? 0 : ns, (long long)m->vectors,
                        (long long)m->f, (long long)(m->vectors * m->f));
    if ((st = svmclf_sizes(c, m, nc, nr, na, nb))) return st;
    if (na <= 0) m->pa = m->pb = NULL;
    /* liblinear mode with two classes: ONNX Runtime and the ONNX reference pick the label by
     * different rules (and the spec gives none) */
    if (!m->svc && m->classes == 2)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "an SVMClassifier without support vectors for "
                        "two classes is not supported");
    return MS_OK;
}

/* Width of Z: class probabilities; without them the pairwise scores ([-s, s] for two
 * classes, as both ONNX Runtime and the ONNX reference write); per-class scores in linear
 * mode. */
static int64_t svmclf_width(const svmclf *m)
{
    if (!m->svc || m->pa) return m->classes;
    return m->classes == 2 ? 2 : m->pairs;
}

static ms_status svmclf_infer(ms_kctx *c)
{
    svmclf m;
    ms_status st = svmclf_read(c, &m);
    if (st) return st;
    set_classifier_outputs(c, &m.labels, m.n, svmclf_width(&m));
    int64_t k = m.classes;
    int64_t doubles = m.f + m.vectors + m.pairs + 2 * k + (m.pa ? 2 * k * k + 2 * k : 0) + 2;
    c->scratch_size = (size_t)doubles * sizeof(double);
    return MS_OK;
}

/* libsvm's sigmoid_predict: P(class i | i or j) from the pair's decision value. */
static double platt(double dec, double a, double b)
{
    double fapb = dec * a + b;
    return fapb >= 0 ? exp(-fapb) / (1.0 + exp(-fapb)) : 1.0 / (1 + exp(fapb));
}

/* libsvm's multiclass_probability: couple pairwise probabilities r (k x k) into p (k), by
 * the fixed-point method of Wu, Lin and Weng, with libsvm's stopping rule. q: k*k, qp: k. */
static void svm_couple(int64_t k, const double *r, double *p, double *q, double *qp)
{
    int64_t max_iter = k > 100 ? k : 100;
    double eps = 0.005 / (double)k;
    for (int64_t t = 0; t < k; t++) {
        p[t] = 1.0 / (double)k;
        q[t * k + t] = 0;
        for (int64_t j = 0; j < t; j++) {
            q[t * k + t] += r[j * k + t] * r[j * k + t];
            q[t * k + j] = q[j * k + t];
        }
        for (int64_t j = t + 1; j < k; j++) {
            q[t * k + t] += r[j * k + t] * r[j * k + t];
            q[t * k + j] = -r[j * k + t] * r[t * k + j];
        }
    }
    for (int64_t iter = 0; iter < max_iter; iter++) {
        double pqp = 0, max_error = 0;
        for (int64_t t = 0; t < k; t++) {
            qp[t] = 0;
            for (int64_t j = 0; j < k; j++) qp[t] += q[t * k + j] * p[j];
            pqp += p[t] * qp[t];
        }
        for (int64_t t = 0; t < k; t++) {
            double e = fabs(qp[t] - pqp);
            if (e > max_error) max_error = e;
        }
        if (max_error < eps) break;
        for (int64_t t = 0; t < k; t++) {
            double diff = (-qp[t] + pqp) / q[t * k + t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t * k + t] + 2 * qp[t])) / (1 + diff) / (1 + diff);
            for (int64_t j = 0; j < k; j++) {
                qp[j] = (qp[j] + diff * q[t * k + j]) / (1 + diff);
                p[j] /= 1 + diff;
            }
        }
    }
}

/* The one-vs-one decision values of one row (kv: kernel values per support vector) and the
 * votes they cast; returns the winning class (first on ties, as libsvm). */
static int64_t svc_decide(const svmclf *m, const double *kv, double *dec, double *votes)
{
    int64_t k = m->classes, idx = 0, start_i = 0;
    for (int64_t i = 0; i < k; i++) votes[i] = 0;
    for (int64_t i = 0; i < k; i++) {
        int64_t start_j = start_i + m->per_class[i];
        for (int64_t j = i + 1; j < k; j++) {
            const float *ci = m->coef + (j - 1) * m->vectors, *cj = m->coef + i * m->vectors;
            double s = 0;
            for (int64_t v = start_i; v < start_i + m->per_class[i]; v++) s += ci[v] * kv[v];
            for (int64_t v = start_j; v < start_j + m->per_class[j]; v++) s += cj[v] * kv[v];
            s += m->rho[idx];
            dec[idx++] = s;
            votes[s > 0 ? i : j] += 1;
            start_j += m->per_class[j];
        }
        start_i += m->per_class[i];
    }
    return argmax_d(votes, k);
}

/* Class probabilities of one row from its decision values (libsvm's
 * svm_predict_probability). r, q: k*k; qp: k. */
static void svc_proba(const svmclf *m, const double *dec, double *p, double *r, double *q,
                      double *qp)
{
    const double min_prob = 1e-7;
    int64_t k = m->classes, idx = 0;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = i + 1; j < k; j++, idx++) {
            double v = platt(dec[idx], m->pa[idx], m->pb[idx]);
            v = v < min_prob ? min_prob : v > 1 - min_prob ? 1 - min_prob : v;
            r[i * k + j] = v;
            r[j * k + i] = 1 - v;
        }
    svm_couple(k, r, p, q, qp);
}

static void svmclf_row_svc(ms_kctx *c, const svmclf *m, int64_t row, double *x, double *w)
{
    int64_t k = m->classes;
    double *kv = w, *dec = kv + m->vectors, *votes = dec + m->pairs, *p = votes + k;
    double *r = p + k, *q = r + k * k, *qp = q + k * k;
    for (int64_t v = 0; v < m->vectors; v++) kv[v] = svm_kdot(&m->kern, x, m->sv + v * m->f, m->f);
    int64_t best = svc_decide(m, kv, dec, votes);
    put_label(c->out[0], row, &m->labels, (int)best);
    float *z = scores_out(c);
    if (!z) return;
    int64_t width = svmclf_width(m);
    double *out = dec;
    if (m->pa) {
        svc_proba(m, dec, p, r, q, qp);
        out = p;
    } else if (k == 2) {
        p[0] = -dec[0], p[1] = dec[0];
        out = p;
    }
    post_apply(m->post, out, width);
    for (int64_t i = 0; i < width; i++) z[row * width + i] = (float)out[i];
}

static void svmclf_row_linear(ms_kctx *c, const svmclf *m, int64_t row, const double *x,
                              double *s)
{
    /* every class score gets rho[0], as ONNX Runtime and the ONNX reference both do */
    for (int64_t t = 0; t < m->classes; t++)
        s[t] = svm_kdot(&m->kern, x, m->coef + t * m->f, m->f) + m->rho[0];
    put_label(c->out[0], row, &m->labels, (int)argmax_d(s, m->classes));
    post_apply(m->post, s, m->classes);
    float *z = scores_out(c);
    if (z)
        for (int64_t t = 0; t < m->classes; t++) z[row * m->classes + t] = (float)s[t];
}

static ms_status svmclf_run(ms_kctx *c)
{
    svmclf m;
    ms_status st = svmclf_read(c, &m);
    if (st) return st;
    /* linear mode uses the LINEAR kernel on the coefficients, whatever kernel_type says */
    if (!m.svc) m.kern.kind = SVM_LINEAR;
    double *x = c->scratch, *w = x + m.f;
    for (int64_t r = 0; r < m.n; r++) {
        load_row(c->in[0], r, m.f, x);
        if (m.svc) svmclf_row_svc(c, &m, r, x, w);
        else svmclf_row_linear(c, &m, r, x, w);
    }
    return MS_OK;
}

/* ==== SVMRegressor ======================================================================== */

typedef struct svmreg {
    svm_kernel kern;
    post_t post;
    int64_t n, f, vectors;
    const float *coef, *sv, *rho;
    bool one_class;
} svmreg;

static ms_status svmreg_read(ms_kctx *c, svmreg *m)
{
    memset(m, 0, sizeof *m);
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (!st) st = check_numeric_input(c, 0);
    if (!st) st = rows_features(c, c->in[0], &m->n, &m->f);
    if (!st) st = get_post(c, &m->post);
    if (!st) st = get_svm_kernel(c, &m->kern);
    if (st) return st;
    m->vectors = ms_attr_int(c->node, "n_supports", 0);
    int64_t oc = ms_attr_int(c->node, "one_class", 0);
    if (oc != 0 && oc != 1) return ms_kfail(c, MS_ERR_INVALID, "one_class must be 0 or 1");
    m->one_class = oc == 1;
    int nc = ms_attr_floats(c->node, "coefficients", &m->coef);
    int ns = ms_attr_floats(c->node, "support_vectors", &m->sv);
    int nr = ms_attr_floats(c->node, "rho", &m->rho);
    if (m->vectors < 0 || m->vectors > INT32_MAX)
        return ms_kfail(c, MS_ERR_INVALID, "n_supports is %lld", (long long)m->vectors);
    if (nr < 1) return ms_kfail(c, MS_ERR_INVALID, "rho is required");
    int64_t want_c = m->vectors > 0 ? m->vectors : m->f;
    if ((int64_t)nc != want_c)
        return ms_kfail(c, MS_ERR_INVALID, "coefficients has %d values, expected %lld", nc,
                        (long long)want_c);
    if (m->vectors > 0 && (int64_t)ns != m->vectors * m->f)
        return ms_kfail(c, MS_ERR_INVALID, "support_vectors has %d values; %lld vectors x %lld "
                        "features need %lld", ns < 0 ? 0 : ns, (long long)m->vectors,
                        (long long)m->f, (long long)(m->vectors * m->f));
    /* one-class output is a sign; a transform before or after it would be a guess */
    if (m->one_class && m->post != POST_NONE)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "one_class with a post_transform is not "
                        "supported");
    return MS_OK;
}

static ms_status svmreg_infer(ms_kctx *c)
{
    svmreg m;
    ms_status st = svmreg_read(c, &m);
    if (st) return st;
    int64_t ys[2] = {m.n, 1};
    ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, 2, ys);
    c->scratch_size = (size_t)m.f * sizeof(double);
    return MS_OK;
}

static ms_status svmreg_run(ms_kctx *c)
{
    svmreg m;
    ms_status st = svmreg_read(c, &m);
    if (st) return st;
    double *x = c->scratch;
    float *y = c->out[0]->data;
    if (m.vectors == 0) m.kern.kind = SVM_LINEAR; /* linear mode: coefficients are weights */
    for (int64_t r = 0; r < m.n; r++) {
        load_row(c->in[0], r, m.f, x);
        double s = m.rho[0];
        if (m.vectors > 0)
            for (int64_t v = 0; v < m.vectors; v++)
                s += m.coef[v] * svm_kdot(&m.kern, x, m.sv + v * m.f, m.f);
        else
            s += svm_kdot(&m.kern, x, m.coef, m.f);
        if (m.one_class) s = s > 0 ? 1 : -1;
        /* the spec applies post_transform to the score (ONNX Runtime ignores it) */
        post_apply(m.post, &s, 1);
        y[r] = (float)s;
    }
    return MS_OK;
}

/* ==== Scaler ============================================================================== */

typedef struct scaler {
    const float *offset, *scale;
    int n_offset, n_scale;
} scaler;

static ms_status scaler_read(ms_kctx *c, scaler *m)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (!st) st = check_numeric_input(c, 0);
    if (st) return st;
    m->n_offset = ms_attr_floats(c->node, "offset", &m->offset);
    m->n_scale = ms_attr_floats(c->node, "scale", &m->scale);
    if (m->n_offset < 0 && m->n_scale < 0)
        return ms_kfail(c, MS_ERR_INVALID, "needs offset or scale");
    if (m->n_offset >= 0 && m->n_scale >= 0 && m->n_offset != m->n_scale)
        return ms_kfail(c, MS_ERR_INVALID, "offset has %d values and scale %d; they must match",
                        m->n_offset, m->n_scale);
    int64_t f = last_dim(c->in[0]);
    int len = m->n_offset >= 0 ? m->n_offset : m->n_scale;
    if (len != 1 && len != f)
        return ms_kfail(c, MS_ERR_INVALID, "offset/scale have %d values; the input has %lld "
                        "features (1 value applies to all)", len, (long long)f);
    return MS_OK;
}

static ms_status scaler_infer(ms_kctx *c)
{
    scaler m;
    ms_status st = scaler_read(c, &m);
    if (st) return st;
    ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, c->in[0]->ndim, c->in[0]->shape);
    return MS_OK;
}

static ms_status scaler_run(ms_kctx *c)
{
    scaler m;
    ms_status st = scaler_read(c, &m);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    int64_t n = ms_tensor_numel(x), f = last_dim(x);
    float *y = c->out[0]->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = f ? i % f : 0;
        double off = m.n_offset < 0 ? 0 : m.offset[m.n_offset == 1 ? 0 : j];
        double sc = m.n_scale < 0 ? 1 : m.scale[m.n_scale == 1 ? 0 : j];
        y[i] = (float)((ms_tensor_get_f64(x, i) - off) * sc);
    }
    return MS_OK;
}

/* ==== Normalizer ========================================================================== */

/* Per row of [N,C] (or the one row of [C]): MAX divides by the row's maximum, L1 by the sum of
 * absolute values, L2 by the Euclidean norm; a zero divisor leaves the row as it is. (The
 * version-1 text writes L1 as X / sum(X) and L2 as sqrt(X^2 / sum(X^2)), which would drop
 * signs; ONNX Runtime and the later clarified text use the norms, as here.) */
typedef enum norm_kind { NORM_MAX, NORM_L1, NORM_L2 } norm_kind;

static ms_status normalizer_read(ms_kctx *c, norm_kind *k, int64_t *n, int64_t *f)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (!st) st = check_numeric_input(c, 0);
    if (!st) st = rows_features(c, c->in[0], n, f);
    if (st) return st;
    const char *s = ms_attr_string(c->node, "norm", "MAX");
    if (!strcmp(s, "MAX")) *k = NORM_MAX;
    else if (!strcmp(s, "L1")) *k = NORM_L1;
    else if (!strcmp(s, "L2")) *k = NORM_L2;
    else return ms_kfail(c, MS_ERR_INVALID, "norm '%s' is not one of MAX, L1, L2", s);
    return MS_OK;
}

static ms_status normalizer_infer(ms_kctx *c)
{
    norm_kind k;
    int64_t n, f;
    ms_status st = normalizer_read(c, &k, &n, &f);
    if (st) return st;
    ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, c->in[0]->ndim, c->in[0]->shape);
    c->scratch_size = (size_t)f * sizeof(double);
    return MS_OK;
}

static double norm_divisor(norm_kind k, const double *x, int64_t f)
{
    double d = k == NORM_MAX ? -INFINITY : 0;
    for (int64_t j = 0; j < f; j++) {
        if (k == NORM_MAX) d = x[j] > d ? x[j] : d;
        else if (k == NORM_L1) d += fabs(x[j]);
        else d += x[j] * x[j];
    }
    return k == NORM_L2 ? sqrt(d) : d;
}

static ms_status normalizer_run(ms_kctx *c)
{
    norm_kind k;
    int64_t n, f;
    ms_status st = normalizer_read(c, &k, &n, &f);
    if (st) return st;
    double *x = c->scratch;
    float *y = c->out[0]->data;
    for (int64_t r = 0; r < n; r++) {
        load_row(c->in[0], r, f, x);
        double d = norm_divisor(k, x, f);
        for (int64_t j = 0; j < f; j++) y[r * f + j] = (float)(d != 0 ? x[j] / d : x[j]);
    }
    return MS_OK;
}

/* ==== Binarizer =========================================================================== */

static ms_status binarizer_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (!st) st = check_numeric_input(c, 0);
    if (st) return st;
    ms_tensor_set_shape(c->out[0], c->in[0]->dtype, c->in[0]->ndim, c->in[0]->shape);
    return MS_OK;
}

/* Values greater than threshold become 1, all others (NaN included) 0, in the input's type. */
static ms_status binarizer_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    double thr = ms_attr_float(c->node, "threshold", 0.0f);
    int64_t n = ms_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int one = ms_tensor_get_f64(x, i) > thr;
        switch (x->dtype) {
        case MS_DTYPE_FLOAT: ((float *)y->data)[i] = (float)one; break;
        case MS_DTYPE_DOUBLE: ((double *)y->data)[i] = one; break;
        case MS_DTYPE_INT64: ((int64_t *)y->data)[i] = one; break;
        default: ((int32_t *)y->data)[i] = one; break;
        }
    }
    return MS_OK;
}

/* ==== Imputer ============================================================================= */

typedef struct imputer {
    bool floats;         /* float/double input: imputed_value_floats, replaced_value_float */
    const float *fv;
    const int64_t *iv;
    int nv;
    float rf;
    int64_t ri;
} imputer;

static ms_status imputer_read(ms_kctx *c, imputer *m)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (!st) st = check_numeric_input(c, 0);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    m->floats = x->dtype == MS_DTYPE_FLOAT || x->dtype == MS_DTYPE_DOUBLE;
    int nf = ms_attr_floats(c->node, "imputed_value_floats", &m->fv);
    int ni = ms_attr_ints(c->node, "imputed_value_int64s", &m->iv);
    if ((nf > 0) == (ni > 0))
        return ms_kfail(c, MS_ERR_INVALID, "exactly one of imputed_value_floats and "
                        "imputed_value_int64s must be set");
    if ((nf > 0) != m->floats)
        return ms_kfail(c, MS_ERR_INVALID, "imputed_value_%s does not fit a %s input",
                        nf > 0 ? "floats" : "int64s", ms_dtype_name(x->dtype));
    m->nv = nf > 0 ? nf : ni;
    int64_t f = last_dim(x);
    if (m->nv != 1 && m->nv != f)
        return ms_kfail(c, MS_ERR_INVALID, "%d imputed values for %lld features (1 value "
                        "applies to all)", m->nv, (long long)f);
    for (int i = 0; x->dtype == MS_DTYPE_INT32 && i < m->nv; i++)
        if (m->iv[i] < INT32_MIN || m->iv[i] > INT32_MAX)
            return ms_kfail(c, MS_ERR_INVALID, "imputed value %lld does not fit int32",
                            (long long)m->iv[i]);
    m->rf = ms_attr_float(c->node, "replaced_value_float", 0.0f);
    m->ri = ms_attr_int(c->node, "replaced_value_int64", 0);
    return MS_OK;
}

static ms_status imputer_infer(ms_kctx *c)
{
    imputer m;
    ms_status st = imputer_read(c, &m);
    if (st) return st;
    ms_tensor_set_shape(c->out[0], c->in[0]->dtype, c->in[0]->ndim, c->in[0]->shape);
    return MS_OK;
}

/* A NaN replaced value matches NaN inputs (the usual way to encode "missing"). */
static ms_status imputer_run(ms_kctx *c)
{
    imputer m;
    ms_status st = imputer_read(c, &m);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    int64_t n = ms_tensor_numel(x), f = last_dim(x);
    bool nan_key = isnan(m.rf);
    for (int64_t i = 0; i < n; i++) {
        int64_t j = m.nv == 1 || !f ? 0 : i % f;
        switch (x->dtype) {
        case MS_DTYPE_FLOAT: {
            float v = ((const float *)x->data)[i];
            bool hit = nan_key ? isnan(v) : v == m.rf;
            ((float *)y->data)[i] = hit ? m.fv[j] : v;
            break;
        }
        case MS_DTYPE_DOUBLE: {
            double v = ((const double *)x->data)[i];
            bool hit = nan_key ? isnan(v) : v == (double)m.rf;
            ((double *)y->data)[i] = hit ? (double)m.fv[j] : v;
            break;
        }
        case MS_DTYPE_INT64: {
            int64_t v = ((const int64_t *)x->data)[i];
            ((int64_t *)y->data)[i] = v == m.ri ? m.iv[j] : v;
            break;
        }
        default: {
            int32_t v = ((const int32_t *)x->data)[i];
            ((int32_t *)y->data)[i] = v == m.ri ? (int32_t)m.iv[j] : v;
            break;
        }
        }
    }
    return MS_OK;
}

/* ==== OneHotEncoder ======================================================================= */

typedef struct onehot {
    const int64_t *ci;
    const char *const *cs;
    int n_cats;
    bool zeros;
} onehot;

static ms_status onehot_read(ms_kctx *c, onehot *m)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    if (x->dtype != MS_DTYPE_STRING && !is_numeric(x->dtype))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input has type %s", ms_dtype_name(x->dtype));
    int ni = ms_attr_ints(c->node, "cats_int64s", &m->ci);
    int ns = ms_attr_strings(c->node, "cats_strings", &m->cs);
    if ((ni > 0) == (ns > 0))
        return ms_kfail(c, MS_ERR_INVALID, "exactly one of cats_int64s and cats_strings must "
                        "be set");
    if ((ns > 0) != (x->dtype == MS_DTYPE_STRING))
        return ms_kfail(c, MS_ERR_INVALID, "cats_%s cannot encode a %s input",
                        ns > 0 ? "strings" : "int64s", ms_dtype_name(x->dtype));
    m->n_cats = ni > 0 ? ni : ns;
    int64_t z = ms_attr_int(c->node, "zeros", 1);
    if (z != 0 && z != 1) return ms_kfail(c, MS_ERR_INVALID, "zeros must be 0 or 1");
    m->zeros = z == 1;
    if (x->ndim + 1 > MS_MAX_DIMS)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "the output would have more than %d dimensions",
                        MS_MAX_DIMS);
    return MS_OK;
}

static ms_status onehot_infer(ms_kctx *c)
{
    onehot m;
    ms_status st = onehot_read(c, &m);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    int64_t shape[MS_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim] = m.n_cats;
    ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, x->ndim + 1, shape);
    return MS_OK;
}

/* The category index of element i, or -1. Numbers are cast to int64 (truncated, as ONNX Cast
 * does); a non-finite or out-of-range number matches nothing. */
static int onehot_index(const onehot *m, const ms_tensor *x, int64_t i)
{
    if (x->dtype == MS_DTYPE_STRING) return find_str(m->cs, m->n_cats, ((const char **)x->data)[i]);
    if (x->dtype == MS_DTYPE_INT64 || x->dtype == MS_DTYPE_INT32)
        return find_i64(m->ci, m->n_cats, ms_tensor_get_i64(x, i));
    double v = ms_tensor_get_f64(x, i);
    if (!(v > -9.2e18 && v < 9.2e18)) return -1;
    return find_i64(m->ci, m->n_cats, (int64_t)v);
}

static ms_status onehot_run(ms_kctx *c)
{
    onehot m;
    ms_status st = onehot_read(c, &m);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    float *y = c->out[0]->data;
    int64_t n = ms_tensor_numel(x);
    memset(y, 0, (size_t)(n * m.n_cats) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        int k = onehot_index(&m, x, i);
        if (k >= 0) y[i * m.n_cats + k] = 1;
        else if (!m.zeros)
            return ms_kfail(c, MS_ERR_INVALID, "input element %lld is not a known category "
                            "(and zeros=0)", (long long)i);
    }
    return MS_OK;
}

/* ==== LabelEncoder ========================================================================= */

/* Version 1: string -> index in classes_strings (else default_int64); int64 -> the string at
 * that index (else default_string). */
static ms_status labelenc1_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    if (x->dtype != MS_DTYPE_STRING && x->dtype != MS_DTYPE_INT64)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input has type %s; LabelEncoder-1 takes string "
                        "or int64", ms_dtype_name(x->dtype));
    ms_dtype out = x->dtype == MS_DTYPE_STRING ? MS_DTYPE_INT64 : MS_DTYPE_STRING;
    ms_tensor_set_shape(c->out[0], out, x->ndim, x->shape);
    return MS_OK;
}

static ms_status labelenc1_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    const char *const *cls = NULL;
    int n_cls = ms_attr_strings(c->node, "classes_strings", &cls);
    if (n_cls < 0) n_cls = 0;
    int64_t n = ms_tensor_numel(x);
    if (x->dtype == MS_DTYPE_STRING) {
        int64_t dflt = ms_attr_int(c->node, "default_int64", -1);
        for (int64_t i = 0; i < n; i++) {
            int k = find_str(cls, n_cls, ((const char **)x->data)[i]);
            ((int64_t *)c->out[0]->data)[i] = k >= 0 ? k : dflt;
        }
    } else {
        const char *dflt = ms_attr_string(c->node, "default_string", "_Unused");
        for (int64_t i = 0; i < n; i++) {
            int64_t v = ((const int64_t *)x->data)[i];
            ((const char **)c->out[0]->data)[i] = v >= 0 && v < n_cls ? cls[v] : dflt;
        }
    }
    return MS_OK;
}

/* Version 2: keys_* -> values_*, one list of each, parallel. */
typedef struct labelenc {
    ms_dtype kt, vt;
    int n;
    const void *keys, *vals;
} labelenc;

static ms_status labelenc_list(ms_kctx *c, const char *prefix, ms_dtype *t, const void **v,
                               int *n)
{
    static const char *const sfx[3] = {"strings", "int64s", "floats"};
    static const ms_dtype types[3] = {MS_DTYPE_STRING, MS_DTYPE_INT64, MS_DTYPE_FLOAT};
    int found = 0;
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "%s_%s", prefix, sfx[k]);
        const ms_attr *a = ms_attr_find(c->node, name);
        if (!a) continue;
        int cnt = k == 0 ? ms_attr_strings(c->node, name, (const char *const **)v)
                  : k == 1 ? ms_attr_ints(c->node, name, (const int64_t **)v)
                           : ms_attr_floats(c->node, name, (const float **)v);
        if (cnt < 0) return ms_kfail(c, MS_ERR_INVALID, "attribute %s has the wrong type", name);
        *t = types[k];
        *n = cnt;
        found++;
    }
    if (found != 1)
        return ms_kfail(c, MS_ERR_INVALID, "exactly one of %s_strings, %s_int64s, %s_floats "
                        "must be set", prefix, prefix, prefix);
    return MS_OK;
}

static ms_status labelenc2_read(ms_kctx *c, labelenc *m)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (st) return st;
    int nk, nv;
    if ((st = labelenc_list(c, "keys", &m->kt, &m->keys, &nk))) return st;
    if ((st = labelenc_list(c, "values", &m->vt, &m->vals, &nv))) return st;
    if (nk != nv)
        return ms_kfail(c, MS_ERR_INVALID, "%d keys and %d values; they must match", nk, nv);
    m->n = nk;
    if (c->in[0]->dtype != m->kt)
        return ms_kfail(c, MS_ERR_INVALID, "the input is %s but the keys are %s",
                        ms_dtype_name(c->in[0]->dtype), ms_dtype_name(m->kt));
    return MS_OK;
}

static ms_status labelenc2_infer(ms_kctx *c)
{
    labelenc m;
    ms_status st = labelenc2_read(c, &m);
    if (st) return st;
    ms_tensor_set_shape(c->out[0], m.vt, c->in[0]->ndim, c->in[0]->shape);
    return MS_OK;
}

static int labelenc_find(const labelenc *m, const ms_tensor *x, int64_t i)
{
    switch (m->kt) {
    case MS_DTYPE_STRING: return find_str(m->keys, m->n, ((const char **)x->data)[i]);
    case MS_DTYPE_INT64: return find_i64(m->keys, m->n, ((const int64_t *)x->data)[i]);
    default: return find_f32_bits(m->keys, m->n, ((const float *)x->data)[i]);
    }
}

static ms_status labelenc2_run(ms_kctx *c)
{
    labelenc m;
    ms_status st = labelenc2_read(c, &m);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    void *y = c->out[0]->data;
    int64_t n = ms_tensor_numel(x);
    const char *ds = ms_attr_string(c->node, "default_string", "_Unused");
    int64_t di = ms_attr_int(c->node, "default_int64", -1);
    float df = ms_attr_float(c->node, "default_float", -0.0f);
    for (int64_t i = 0; i < n; i++) {
        int k = labelenc_find(&m, x, i);
        switch (m.vt) {
        case MS_DTYPE_STRING:
            ((const char **)y)[i] = k >= 0 ? ((const char *const *)m.vals)[k] : ds;
            break;
        case MS_DTYPE_INT64: ((int64_t *)y)[i] = k >= 0 ? ((const int64_t *)m.vals)[k] : di; break;
        default: ((float *)y)[i] = k >= 0 ? ((const float *)m.vals)[k] : df; break;
        }
    }
    return MS_OK;
}

/* ==== CategoryMapper ====================================================================== */

static ms_status catmap_read(ms_kctx *c, const int64_t **ci, const char *const **cs, int *n)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (st) return st;
    ms_dtype t = c->in[0]->dtype;
    if (t != MS_DTYPE_STRING && t != MS_DTYPE_INT64)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input has type %s; CategoryMapper takes string "
                        "or int64", ms_dtype_name(t));
    int ni = ms_attr_ints(c->node, "cats_int64s", ci);
    int ns = ms_attr_strings(c->node, "cats_strings", cs);
    if (ni < 0 || ns < 0 || ni != ns)
        return ms_kfail(c, MS_ERR_INVALID, "cats_int64s (%d) and cats_strings (%d) must both be "
                        "set, with the same length", ni, ns);
    *n = ni;
    return MS_OK;
}

static ms_status catmap_infer(ms_kctx *c)
{
    const int64_t *ci;
    const char *const *cs;
    int n;
    ms_status st = catmap_read(c, &ci, &cs, &n);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    ms_tensor_set_shape(c->out[0], x->dtype == MS_DTYPE_STRING ? MS_DTYPE_INT64 : MS_DTYPE_STRING,
                        x->ndim, x->shape);
    return MS_OK;
}

static ms_status catmap_run(ms_kctx *c)
{
    const int64_t *ci;
    const char *const *cs;
    int n;
    ms_status st = catmap_read(c, &ci, &cs, &n);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    int64_t count = ms_tensor_numel(x);
    if (x->dtype == MS_DTYPE_STRING) {
        int64_t dflt = ms_attr_int(c->node, "default_int64", -1);
        for (int64_t i = 0; i < count; i++) {
            int k = find_str(cs, n, ((const char **)x->data)[i]);
            ((int64_t *)c->out[0]->data)[i] = k >= 0 ? ci[k] : dflt;
        }
    } else {
        const char *dflt = ms_attr_string(c->node, "default_string", "_Unused");
        for (int64_t i = 0; i < count; i++) {
            int k = find_i64(ci, n, ((const int64_t *)x->data)[i]);
            ((const char **)c->out[0]->data)[i] = k >= 0 ? cs[k] : dflt;
        }
    }
    return MS_OK;
}

/* ==== ArrayFeatureExtractor =============================================================== */

/* Z[..., k] = X[..., Y[k]]; a one-dimensional X gives [1, len(Y)] (as ONNX Runtime and the
 * ONNX reference do). */
static ms_status afe_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    if (!st) st = check_outputs(c, 1, 1);
    if (st) return st;
    const ms_tensor *x = c->in[0], *idx = c->in[1];
    if (!is_numeric(x->dtype) && x->dtype != MS_DTYPE_STRING)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input 0 has type %s", ms_dtype_name(x->dtype));
    if ((st = ms_kcheck_dtype(c, 1, MS_DTYPE_INT64))) return st;
    if (x->ndim < 1) return ms_kfail(c, MS_ERR_INVALID, "input 0 must have at least one dimension");
    int64_t f = x->shape[x->ndim - 1], k = ms_tensor_numel(idx);
    for (int64_t i = 0; i < k; i++) {
        int64_t v = ((const int64_t *)idx->data)[i];
        if (v < 0 || v >= f)
            return ms_kfail(c, MS_ERR_INVALID, "index %lld is out of range for %lld features",
                            (long long)v, (long long)f);
    }
    int64_t shape[MS_MAX_DIMS];
    int nd = x->ndim == 1 ? 2 : x->ndim;
    if (x->ndim == 1) shape[0] = 1;
    else memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[nd - 1] = k;
    ms_tensor_set_shape(c->out[0], x->dtype, nd, shape);
    return MS_OK;
}

static ms_status afe_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *idx = c->in[1];
    int64_t f = x->shape[x->ndim - 1], k = ms_tensor_numel(idx);
    int64_t rows = f ? ms_tensor_numel(x) / f : 0;
    size_t esz = ms_dtype_size(x->dtype);
    const int64_t *ix = idx->data;
    const uint8_t *src = x->data;
    uint8_t *dst = c->out[0]->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < k; j++)
            memcpy(dst + (size_t)(r * k + j) * esz, src + (size_t)(r * f + ix[j]) * esz, esz);
    return MS_OK;
}

/* ==== FeatureVectorizer =================================================================== */

/* Concatenates [N, C_i] inputs ([C] counts as [1, C]) into float [N, sum C_i]. inputdimensions,
 * when given, must state each input's C_i (ONNX Runtime pads or truncates on a mismatch; the
 * spec only says it is each input's size, so a mismatch is refused). */
static ms_status fv_read(ms_kctx *c, int64_t *n, int64_t *total)
{
    if (c->n_in < 1) return ms_kfail(c, MS_ERR_INVALID, "needs at least one input");
    ms_status st = check_outputs(c, 1, 1);
    if (st) return st;
    const int64_t *dims;
    int nd = ms_attr_ints(c->node, "inputdimensions", &dims);
    if (nd >= 0 && nd != c->n_in)
        return ms_kfail(c, MS_ERR_INVALID, "inputdimensions has %d entries for %d inputs", nd,
                        (int)c->n_in);
    *total = 0;
    for (int i = 0; i < c->n_in; i++) {
        const ms_tensor *t = c->in[i];
        int64_t rows, cols;
        if (!t) return ms_kfail(c, MS_ERR_INVALID, "input %d is missing", i);
        if ((st = check_numeric_input(c, i)) || (st = rows_features(c, t, &rows, &cols)))
            return st;
        if (i == 0) *n = rows;
        if (rows != *n)
            return ms_kfail(c, MS_ERR_INVALID, "input %d has %lld rows, input 0 has %lld", i,
                            (long long)rows, (long long)*n);
        if (nd >= 0 && dims[i] != cols)
            return ms_kfail(c, MS_ERR_INVALID, "input %d has %lld columns; inputdimensions says "
                            "%lld", i, (long long)cols, (long long)dims[i]);
        *total += cols;
    }
    return MS_OK;
}

static ms_status fv_infer(ms_kctx *c)
{
    int64_t n, total;
    ms_status st = fv_read(c, &n, &total);
    if (st) return st;
    int64_t ys[2] = {n, total};
    ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, 2, ys);
    return MS_OK;
}

static ms_status fv_run(ms_kctx *c)
{
    int64_t n, total;
    ms_status st = fv_read(c, &n, &total);
    if (st) return st;
    float *y = c->out[0]->data;
    int64_t col = 0;
    for (int i = 0; i < c->n_in; i++) {
        const ms_tensor *t = c->in[i];
        int64_t cols = t->shape[t->ndim - 1];
        for (int64_t r = 0; r < n; r++)
            for (int64_t j = 0; j < cols; j++)
                y[r * total + col + j] = (float)ms_tensor_get_f64(t, r * cols + j);
        col += cols;
    }
    return MS_OK;
}

/* ==== ZipMap ============================================================================== */

/* ZipMap's output is a sequence of label->probability maps, which a tensor cannot hold: the
 * kernel passes the [N,C] probabilities through, and the loader marks the graph output so
 * that ms_model_output_labels gives the labels (see ms_onnx.c). */
static ms_status zipmap_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (!st) st = check_outputs(c, 1, 1);
    if (!st) st = ms_kcheck_dtype(c, 0, MS_DTYPE_FLOAT);
    if (st) return st;
    ml_labels l;
    if ((st = get_labels(c, "classlabels_int64s", "classlabels_strings", &l))) return st;
    int64_t n, f;
    if ((st = rows_features(c, c->in[0], &n, &f))) return st;
    if (f != l.n)
        return ms_kfail(c, MS_ERR_INVALID, "the input has %lld columns for %d labels",
                        (long long)f, l.n);
    int64_t ys[2] = {n, f};
    ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, 2, ys);
    return MS_OK;
}

static ms_status zipmap_run(ms_kctx *c)
{
    size_t bytes = (size_t)ms_tensor_numel(c->in[0]) * sizeof(float);
    if (bytes) memcpy(c->out[0]->data, c->in[0]->data, bytes);
    return MS_OK;
}

/* ==== registry ============================================================================= */

/* Designated initializers: the entry's remaining fields (prepare, release, ...) stay zero. */
#define ML_ENTRY(op, from, to, infer_fn, run_fn)                                              \
    {.domain = ML, .op_type = op, .since = from, .until = to, .infer = infer_fn, .run = run_fn}

const ms_kernel ms_ops_ml[] = {
    ML_ENTRY("LinearClassifier", 1, ML_OPSET_MAX, linclf_infer, linclf_run),
    ML_ENTRY("LinearRegressor", 1, ML_OPSET_MAX, linreg_infer, linreg_run),
    ML_ENTRY("SVMClassifier", 1, ML_OPSET_MAX, svmclf_infer, svmclf_run),
    ML_ENTRY("SVMRegressor", 1, ML_OPSET_MAX, svmreg_infer, svmreg_run),
    ML_ENTRY("Scaler", 1, ML_OPSET_MAX, scaler_infer, scaler_run),
    ML_ENTRY("Normalizer", 1, ML_OPSET_MAX, normalizer_infer, normalizer_run),
    ML_ENTRY("Binarizer", 1, ML_OPSET_MAX, binarizer_infer, binarizer_run),
    ML_ENTRY("Imputer", 1, ML_OPSET_MAX, imputer_infer, imputer_run),
    ML_ENTRY("OneHotEncoder", 1, ML_OPSET_MAX, onehot_infer, onehot_run),
    ML_ENTRY("LabelEncoder", 1, 1, labelenc1_infer, labelenc1_run),
    ML_ENTRY("LabelEncoder", 2, ML_OPSET_MAX, labelenc2_infer, labelenc2_run),
    ML_ENTRY("CategoryMapper", 1, ML_OPSET_MAX, catmap_infer, catmap_run),
    ML_ENTRY("ArrayFeatureExtractor", 1, ML_OPSET_MAX, afe_infer, afe_run),
    ML_ENTRY("FeatureVectorizer", 1, ML_OPSET_MAX, fv_infer, fv_run),
    ML_ENTRY("ZipMap", 1, ML_OPSET_MAX, zipmap_infer, zipmap_run),
    {0},
};
