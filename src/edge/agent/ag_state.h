/* ag_state.h: what the agent keeps on disk between runs, STATE/state.json, written whole
 * (temp file, fsync, rename, fsync of the directory) so a crash or power cut leaves the old
 * state or the new, never half of one.
 *
 * Two slots (a, b) each hold one verified model (STATE/slots/<a|b>/model.onnx or model.json)
 * and its manifest. `active` is the one serving; while `trial` is set it has not been
 * confirmed yet and `trial_runs` counts the processes that started with it: a model that has
 * crashed twice before its confirmation is reverted to the other slot at the next start.
 * `counter` is the anti-rollback counter: the highest version ever confirmed; no manifest at
 * or below it installs again, whoever signed it. Quarantined versions are kept by version
 * and SHA-256 with their reason, so a bad blob is not downloaded again and again. */
#ifndef AG_STATE_H
#define AG_STATE_H

#include <stdint.h>

#include "edge/agent/ag_manifest.h"
#include "mlship.h"

#define AG_QUARANTINE_MAX 16

typedef struct ag_slot {
    int64_t version;       /* 0: empty */
    char sha256[65];
    char model_format[16];
    int n_features;        /* the manifest's feature tables, synced while this slot serves */
    char features[AG_MAX_FEATURES][64];
} ag_slot;

typedef struct ag_quarantined {
    int64_t version;
    char sha256[65];
    char reason[300];
    int64_t at;            /* unix seconds */
} ag_quarantined;

typedef struct ag_state {
    int64_t counter;
    int active;            /* 0 (a), 1 (b), -1 none */
    int trial, trial_runs;
    ag_slot slot[2];
    char etag[128];        /* of the last manifest acted on */
    int n_quarantine;      /* the newest AG_QUARANTINE_MAX */
    ag_quarantined quarantine[AG_QUARANTINE_MAX];
} ag_state;

/* Read STATE/state.json; a missing file is a fresh state (nothing installed). */
ms_status ag_state_load(const char *dir, ag_state *s, ms_error *err);
ms_status ag_state_save(const char *dir, const ag_state *s, ms_error *err);
void ag_state_quarantine(ag_state *s, int64_t version, const char *sha256, const char *reason);
/* The entry for (version, sha256), or NULL. */
const ag_quarantined *ag_state_quarantined(const ag_state *s, int64_t version, const char *sha256);

#endif
