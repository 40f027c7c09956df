/* pd_check.h: the one policy for missing and non-finite values, shared by `mlship predict`,
 * `mlship batch` and `mlship serve` (and, later, stream), so a row is accepted or refused the
 * same way whichever path it comes by.
 *
 * The policy:
 * - A missing value (an empty CSV cell, SQL NULL, JSON null, the text "nan", a NaN float) is
 *   fed to the model as NaN only when the user opted in (PD_MISSING_NAN: `--missing nan`, or
 *   "missing": "nan" in the model's config.json) AND the model itself defines what NaN means
 *   for that input (ms_model_input_allows_missing: tree ensembles with a NaN direction per
 *   split, XGBoost, a NaN Imputer). Opting in for a model that defines it for no input is a
 *   configuration error (pd_policy_init). Otherwise the row is refused, with the reason.
 * - +-Inf, and numbers beyond the input type's range (1e400; 1e39 for float32), are refused
 *   always: no model defines them.
 * - A non-finite float output is never a prediction: the row is refused ("output 'y' is not
 *   finite"), never written as null.
 * Each refusal has a category (pd_why) so summaries can count rows by reason.
 *
 * This is the seed of src/predict/ ("the one way a row becomes a prediction"): it may use the
 * codecs and the runtime's public header, nothing above them. */
#ifndef PD_CHECK_H
#define PD_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "mlship.h"

typedef enum pd_missing {
    PD_MISSING_REJECT = 0, /* the default: a missing value refuses the row */
    PD_MISSING_NAN = 1,    /* a missing value is NaN, where the model defines it */
} pd_missing;

/* Why a row was refused, for counts. PD_OK (0) is "accepted". */
typedef enum pd_why {
    PD_OK = 0,
    PD_WHY_MISSING,   /* a missing/NaN input value the policy or model does not accept */
    PD_WHY_NONFINITE, /* an infinite or out-of-range input value */
    PD_WHY_OUTPUT,    /* the model's output for the row is not finite */
    PD_WHY_OTHER,     /* anything else (not a number, wrong field count, ...): the callers' */
    PD_WHY_N
} pd_why;

/* "missing", "not_finite", "output_not_finite", "other" (JSON keys of summaries). */
const char *pd_why_name(pd_why w);

#define PD_MAX_INPUTS 64

typedef struct pd_policy {
    pd_missing missing;
    int n_in;
    uint8_t model_ok[PD_MAX_INPUTS]; /* the model defines NaN for input i */
    uint8_t nan_ok[PD_MAX_INPUTS];   /* NaN is accepted for input i (opted in and model_ok) */
} pd_policy;

/* "reject" or "nan" (NULL is "reject"); anything else is MS_ERR_INVALID naming the choices.
 * `what` names the setting in the message ("--missing", "config.json \"missing\""). */
ms_status pd_missing_parse(const char *s, const char *what, pd_missing *out, ms_error *err);

/* The policy for model `m` (named `model_name` in messages). PD_MISSING_NAN for a model that
 * defines missing values for none of its inputs is MS_ERR_INVALID saying so; `what` as above. */
ms_status pd_policy_init(pd_policy *p, const ms_model *m, const char *model_name,
                         pd_missing mode, const char *what, ms_error *err);

/* A value parsed from a text cell (cell, n: its text; an empty cell or SQL NULL is n == 0)
 * for input i. PD_OK when it may be scored; else the category, and *reason a static phrase
 * ("is empty", "is NaN", "is not finite", "is out of range"). Values that are not float or
 * double never reach this. */
pd_why pd_check_cell(const pd_policy *p, int i, const char *cell, size_t n, double v,
                     const char **reason);

/* Why missing values are refused for input i, for the end of a message:
 * "this model does not define missing values" or "missing values are refused unless ... nan". */
const char *pd_missing_hint(const pd_policy *p, int i);

/* Elements [0, n) of a float32, float64 or float16 array for input i (other types: PD_OK). PD_OK, or
 * the category of the first refused element, whose index goes to *bad. */
pd_why pd_check_values(const pd_policy *p, int i, ms_dtype t, const void *data, size_t n,
                       size_t *bad);

/* Row r of input tensor t (input i, named `name`; rows are the first dimension, a scalar
 * tensor is one row). PD_OK, or the category with a message in msg, e.g.
 * "input 'x': row 3, feature 7 is NaN (this model does not define missing values)". */
pd_why pd_check_input_row(const pd_policy *p, int i, const char *name, const ms_tensor *t,
                          int64_t r, char *msg, size_t cap);

/* Every row of every input (in model order). MS_OK, or MS_ERR_INVALID with the first refused
 * row's message in err; *why (may be NULL) gets the category. */
ms_status pd_check_inputs(const pd_policy *p, const ms_model *m, const ms_tensor *in, int n_in,
                          pd_why *why, ms_error *err);

/* Row r of the outputs of a run over nrows rows: PD_OK, or PD_WHY_OUTPUT with
 * "output 'probability' is not finite" in msg. An output whose first dimension is not the
 * batch (a scalar, a whole-batch statistic) is checked whole for every row. */
pd_why pd_check_output_row(const ms_model *m, const ms_tensor *outs, int n_out, int64_t r,
                           int64_t nrows, char *msg, size_t cap);

#endif
