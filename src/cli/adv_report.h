/* adv_report.h: `mlship advise`'s answer, as text for a person or one JSON object for a script
 * (the object's fields are documented in docs/advise.md and kept stable). */
#ifndef ADV_REPORT_H
#define ADV_REPORT_H

#include <stdio.h>

#include "cli/adv_commands.h"
#include "cli/adv_decide.h"
#include "cli/adv_measure.h"

/* `m` NULL: no model was given. Returns 0, or -1 when out of memory (JSON). */
int adv_report_text(FILE *out, const adv_ask *a, const adv_advice *o, const adv_measured *m,
                    const adv_commands *c);
int adv_report_json(FILE *out, const adv_ask *a, const adv_advice *o, const adv_measured *m,
                    const adv_commands *c);

#endif
