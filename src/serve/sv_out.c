/* sv_out.c: one output row as JSON, the way /predict and /v1 answer (sv_out_row in sv_int.h):
 * the project-wide writer (src/predict/pd_json.h: the one float spelling, label maps) plus the
 * one thing serve adds, `column`, the single value config.json's "predict" block picks. */
#include "serve/sv_int.h"

#include "predict/pd_json.h"

void sv_out_row(mc_buf *b, const ms_model *m, int o, const ms_tensor *t, int64_t i, int column)
{
    int64_t per = 1;
    for (int d = 1; d < t->ndim; d++) per *= t->shape[d];
    if (t->ndim > 0 && column >= 0 && column < per) {
        pd_json_put_elem(b, t, i * per + column);
        return;
    }
    pd_json_put_row(b, m, o, t, i, PD_JSON_ROW_UNWRAP);
}
