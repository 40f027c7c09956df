/* sm_alert.h: alert rules for `mlship stream pipe`: 'OUTPUT[COL] > 0.9' (or '<', and OUTPUT
 * alone for a number-per-row output; COL an index into the row's array or a label of a label
 * map) with hysteresis per key: an alert is raised when the value crosses the threshold and
 * not again until it is cleared, which happens when the value crosses back past the clear
 * level (default: the threshold itself). One alert per crossing. */
#ifndef SM_ALERT_H
#define SM_ALERT_H

#include <stddef.h>

#include "mlship.h"

typedef struct sm_alert sm_alert;

/* rule as above; clear: the clear level when has_clear (for '>' at most the threshold, for
 * '<' at least). MS_ERR_INVALID naming what is wrong. */
ms_status sm_alert_parse(const char *rule, double clear, int has_clear, sm_alert **out, ms_error *err);
void sm_alert_free(sm_alert *a);
const char *sm_alert_rule(const sm_alert *a); /* the rule as given */

enum { SM_ALERT_NONE = 0, SM_ALERT_RAISED = 1, SM_ALERT_CLEARED = 2 };
/* One scored event of `key` with its outputs JSON (sm_result.h): the transition it makes
 * (*value: the value the rule read), or -1 with err when the outputs lack OUTPUT[COL] or it
 * is not a number. */
int sm_alert_step(sm_alert *a, const char *key, const char *outputs, size_t len, double *value,
                  ms_error *err);

#endif
