/* ms_xgboost.h: loads XGBoost's JSON model (Booster.save_model("model.json"), format of
 * xgboost 1.x) into an ms_model whose graph is one ai.onnx.ml TreeEnsembleRegressor node, so
 * sessions, the CLI and everything else that takes a model take model.json unchanged. */
#ifndef MS_XGBOOST_H
#define MS_XGBOOST_H

#include "ms_model.h"

/* Does the buffer look like JSON (first non-blank byte '{')? */
int ms_xgboost_sniff(const void *buf, size_t len);
/* Fill m from the JSON text. MS_ERR_INVALID for a malformed model (the message names the tree
 * and node), MS_ERR_UNSUPPORTED for objectives and boosters we do not handle. */
#ifndef MS_NO_XGBOOST
ms_status ms_xgboost_load(ms_model *m, const uint8_t *buf, size_t len, ms_error *err);
#else
#include <stdio.h>
/* A build without cJSON (-DMS_NO_XGBOOST, as a microcontroller build is): ms_xgboost.c is left
 * out and model.json is refused by name instead of failing as a malformed ONNX file. */
static inline ms_status ms_xgboost_load(ms_model *m, const uint8_t *buf, size_t len,
                                        ms_error *err)
{
    (void)m, (void)buf, (void)len;
    snprintf(err->msg, sizeof err->msg, "this build of mlship reads ONNX models only; XGBoost's "
             "model.json needs a build with cJSON");
    return MS_ERR_UNSUPPORTED;
}
#endif

#endif
