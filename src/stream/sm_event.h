/* sm_event.h: the event and result formats of the streaming deployment (docs/streaming.md),
 * parsed and written here only, so any producer in any language can take part.
 *
 * An event is a queue message (queue.h: field/value pairs, as a Redis Streams entry) with:
 *   id        the caller's event id, the idempotence key; generated when absent
 *   key       the entity key (required unless features are given and no store is involved)
 *   features  a JSON array of numbers, or the numbers comma-separated as text, or a JSON object
 *             input name -> array for multi-input models; absent: read from the feature store
 *             by key (config.json "features", as serve does)
 *   model     the model name, when the worker serves a repository (--models DIR)
 *   ts        optional, passed through to the result untouched
 * A message whose only field is "json" holding one JSON object with those members is the same
 * event (what `stream send` writes to the embedded queue, and JSON Lines producers may use).
 * Unknown fields are ignored (a producer may add its own).
 *
 *     redis-cli XADD events '*' id e1 key c_17 features '[0.1, 2.5, 3]'
 *
 * A result is a message with: id, key, model, version, outputs (the JSON a lookup gives, label
 * maps included), ts (if the event had one), scored_at; or id, key, model, error instead of
 * version/outputs when the event could not be scored.
 *
 * Parsing never fails silently: every refusal has a reason naming the field, suitable as the
 * dead-letter reason ("field 'features': expected 30 numbers, got 29"). */
#ifndef SM_EVENT_H
#define SM_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "mlship.h"
#include "queue/queue.h"

#define SM_FIELD_MAX (1 << 20) /* a field longer than 1 MiB is refused (a 10 MB field is junk) */
#define SM_ID_MAX 128          /* id, model and ts: at most 127 bytes (the store's ST_NAME_MAX), no control bytes */
#define SM_KEY_MAX 512         /* key: at most 511 bytes (the store's ST_KEY_MAX), the same */

/* One input's values as given by the event (not yet bound to the model's shapes). */
typedef struct sm_input {
    char *name;     /* NULL: the model's one input (array or text form) */
    double *vals;   /* nvals numbers; NaN for JSON null (missing), subject to pd_check */
    float *fvals;   /* the same numbers read as float32 from their text (mc_parse_f32: what
                       batch reads from CSV), not rounded twice through double */
    size_t nvals;
} sm_input;

typedef struct sm_event {
    char *id;        /* always set: the event's, or generated "<queue message id>" */
    char *key;       /* NULL when absent */
    char *model;     /* NULL when absent */
    char *ts;        /* NULL when absent; passed through verbatim */
    int ninputs;     /* 0: no features given (fetch from the store by key) */
    sm_input *inputs;
} sm_event;

/* Parse message m into *ev (zeroed first). MS_ERR_INVALID with the reason in err for a
 * message that is not an event; *ev then holds nothing to free. */
ms_status sm_event_parse(const qu_msg *m, sm_event *ev, ms_error *err);
void sm_event_free(sm_event *ev); /* a zeroed ev is fine */

/* The value of field `field` ("id", "key", "model") of a message that may not parse, for the
 * error result of a refused event: 1 with it in dst when present as valid text that fits,
 * else 0. Reads the "json" form too. */
int sm_event_peek(const qu_msg *m, const char *field, char *dst, size_t cap);

/* The JSON object form of an event (one line of `stream send --file`), turned into the
 * message fields the queue carries: id, key, model, ts as given, features re-serialised as
 * JSON text. Fields point into *scratch (free with sm_fields_free). MS_ERR_INVALID names the
 * member at fault; the line is checked as sm_event_parse would check it. */
typedef struct sm_fields {
    qu_field f[8];
    int n;
    char *scratch[8];
} sm_fields;
ms_status sm_event_from_json(const char *json, size_t len, sm_fields *out, ms_error *err);
void sm_fields_free(sm_fields *f);

/* The raw text of member `name` of the JSON object json[0..len) (top level only, the name
 * unescaped as written), so numbers keep their spelling: its start, and its length in *vlen;
 * NULL when json is not one well-formed object or has no such member. */
const char *sm_json_member(const char *json, size_t len, const char *name, size_t *vlen);

#endif
