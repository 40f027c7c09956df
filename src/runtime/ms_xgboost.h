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
ms_status ms_xgboost_load(ms_model *m, const uint8_t *buf, size_t len, ms_error *err);

#endif
