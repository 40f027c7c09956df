/* ag_golden.h: golden inputs, the model's own answer to them, and the device's check.
 *
 * The publisher runs the model it publishes on a few input rows and writes the inputs and
 * the outputs into the manifest; the device runs the downloaded model on the same inputs and
 * installs it only if every output matches (floats within |a - b| <= atol + rtol * |b|,
 * everything else exactly). A model that loads but computes something else (a truncated
 * tree, the wrong file, a runtime that disagrees on this CPU) never serves.
 *
 * The JSON is the manifest's "golden" object: {"rtol", "atol", "inputs": [V2 tensors],
 * "outputs": [V2 tensors]} (tensors as pd_json_write_tensor writes them). */
#ifndef AG_GOLDEN_H
#define AG_GOLDEN_H

#include "codec/codec_json.h"
#include "mlship.h"

/* Run `m` on `in` (named tensors; an unnamed one is the model's input of that position) and
 * write the golden object into *json (malloc'd). */
ms_status ag_golden_make(const ms_model *m, const mc_oip_request *in, double rtol, double atol, char **json,
                         ms_error *err);
/* Run `s` (a session on `m`) on the golden inputs; MS_OK when every output matches, else
 * MS_ERR_INVALID naming the output and element that differ. */
ms_status ag_golden_check(const ms_model *m, ms_session *s, const char *json, ms_error *err);

#endif
