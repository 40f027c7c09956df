/* sm_score.h: scoring a group of events for one model (the worker's and the pipe's core, with
 * no queue or store in it): bind each event's features to the model's inputs, check them
 * (pd_check policy), run the rows through sessions of the model's pool in one padded batch,
 * and write each row's outputs JSON (sm_result.h).
 *
 * Binding: a model with one input takes the event's array or text form (or an object naming
 * that input); a model with several takes the object form, one member per input. Each input
 * gets the product of its non-batch dimensions in values (a symbolic second dimension of a
 * 2-D input: the first row's count), flat in row-major order; float inputs take the float32
 * read of the text (sm_input.fvals), double the double, integer and bool inputs integral
 * values. Rows fed from the feature store (sm_row.fetched) bind to the one input. */
#ifndef SM_SCORE_H
#define SM_SCORE_H

#include <stddef.h>

#include "codec/codec_buf.h"
#include "stream/sm_event.h"
#include "stream/sm_worker.h"

typedef struct sm_row {
    const sm_event *ev;
    const float *fetched;  /* features read from the store by key (ncolumns values), or NULL */
    int fetched_n;
    /* results */
    char error[sizeof(ms_error)]; /* "" when scored, else why not (the dead-letter reason) */
    size_t off, len;       /* the outputs JSON: out->data + off, len bytes */
} sm_row;

/* Score rows[0..n) into out (appended). MS_OK with each row's error or outputs; a failure
 * that is no row's fault (out of memory, no session) is returned, rows then unscored. */
ms_status sm_score(const sm_model_ref *ref, sm_row *rows, size_t n, mc_buf *out, ms_error *err);

#endif
