/* ag_manifest.h: the edge update manifest, NAME/manifest.json in a publish directory
 * (docs/agent.md has the format). The device trusts nothing in it until manifest.sig
 * verifies over its exact bytes; the parser then still refuses anything out of range, since a
 * signed manifest from a buggy publisher must not crash or mislead the agent either.
 *
 *   {"format": "mlship-edge/1", "name": "fraud", "version": 3,
 *    "sha256": "<64 hex>", "size": 1234, "blob": "blobs/<sha256>",
 *    "model_format": "onnx" | "xgboost-json",
 *    "created": 1767225600, "expires": 1769817600,      (unix seconds; expires 0: never)
 *    "min_agent_version": "0.1.0",
 *    "golden": {"rtol": 1e-5, "atol": 1e-6, "inputs": [V2 tensors], "outputs": [V2 tensors]},
 *    "features": ["customer_features"]}
 *
 * "golden" and "features" are optional. The parser reads only this struct; the golden
 * tensors are kept as JSON text for ag_golden.h. */
#ifndef AG_MANIFEST_H
#define AG_MANIFEST_H

#include <stdint.h>

#include "codec/codec_buf.h"
#include "mlship.h"

#define AG_MANIFEST_FORMAT "mlship-edge/1"
#define AG_MANIFEST_MAX (4u << 20) /* bytes: a larger manifest is refused unread */
#define AG_MAX_FEATURES 16
#define AG_NAME_CAP 128

typedef struct ag_manifest {
    char name[AG_NAME_CAP];
    int64_t version;          /* >= 1 */
    char sha256[65];          /* lower-case hex */
    int64_t size;             /* bytes, >= 1 */
    char blob[256];           /* relative to the publish directory: "blobs/<sha256>" */
    char model_format[16];    /* "onnx" or "xgboost-json" */
    int64_t created, expires; /* unix seconds; expires 0: never */
    char min_agent[32];       /* "MAJOR.MINOR.PATCH" */
    char *golden;             /* the "golden" object as JSON text (malloc'd), or NULL */
    int n_features;
    char features[AG_MAX_FEATURES][64];
} ag_manifest;

/* Parse and check. On failure *m is left empty (ag_manifest_clear is harmless) and err says
 * which field is wrong. */
ms_status ag_manifest_parse(const char *buf, size_t len, ag_manifest *m, ms_error *err);
void ag_manifest_clear(ag_manifest *m);
/* The manifest as JSON (what publish signs). `golden_json` NULL: none. */
ms_status ag_manifest_write(const ag_manifest *m, mc_buf *out, ms_error *err);

/* "0.1.0" against "0.2.0": <0, 0, >0; a malformed version compares as -2 (its check fails). */
int ag_version_cmp(const char *a, const char *b);
/* The file name a model of this format has in a repository ("model.onnx", "model.json"). */
const char *ag_model_file(const char *model_format);

#endif
