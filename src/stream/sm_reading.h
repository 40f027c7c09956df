/* sm_reading.h: sensor readings (an MQTT message: a topic and a payload) -> event fields
 * (sm_event.h), for `mlship stream pipe --in mqtt://...` (docs/queue-mqtt.md). Pure: no I/O,
 * fuzzed by tests/fuzz/fuzz_reading.c. Payload forms:
 *
 *   {"features": [...], "id": .., "key": .., "ts": .., "model": ..}   (all but features optional)
 *   {"ts": .., "values": [...]}          "values" is "features" under another name
 *   1.5,2,3                              CSV text: the features alone (also a bare JSON array)
 *
 * The key: --key-from-topic N (the topic's N-th level, 1-based: "sensors/dev7/reading", 2 ->
 * "dev7"), or --key-field NAME (a member of a JSON payload, a string or a number), or else
 * the payload's "key" member when it has one. The id, since MQTT carries none that survives
 * a redelivery: the payload's "id"; else "<key or topic>@<ts>" when there is a ts; else
 * "fnv-" and the FNV-1a hash of topic and payload, so a redelivered reading gets the same id
 * (and two identical readings without a ts on one topic share one: see the docs). */
#ifndef SM_READING_H
#define SM_READING_H

#include <stddef.h>

#include "mlship.h"
#include "stream/sm_event.h"

typedef struct sm_reading_opts {
    int key_from_topic;    /* 1-based topic level, 0: not from the topic */
    const char *key_field; /* JSON payload member holding the key, NULL: none */
} sm_reading_opts;

/* The event fields (id, key, model, ts, features) of one reading into *out (free with
 * sm_fields_free). MS_ERR_INVALID with the reason for a payload that is none of the forms,
 * or lacks the key asked for; out->f then holds the id (and the key when the topic gave one),
 * for the error result. The features are passed as given: sm_event_parse checks them. */
ms_status sm_reading_fields(const char *topic, size_t tlen, const char *payload, size_t plen,
                            const sm_reading_opts *o, sm_fields *out, ms_error *err);

#endif
