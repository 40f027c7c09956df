/* fuzz_reading.c: libFuzzer driver for sensor readings (src/stream/sm_reading.c). Byte 0
 * picks the options (bits 0-1: --key-from-topic 0..3; bit 2: --key-field "dev"); the rest is
 * "TOPIC\nPAYLOAD". sm_reading_fields must accept or refuse with MS_ERR_INVALID and a message,
 * always leaving an id for the error result; accepted fields must carry features and parse
 * as an event or be refused by sm_event_parse by the same contract. */
#include "fuzz_common.h"

#include "stream/sm_reading.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

static const char *field(const sm_fields *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, name) == 0) return f->f[i].val;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    fz_refused = 0;
    const char *p = (const char *)data + 1, *e = (const char *)data + size;
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    const char *topic = p, *payload = nl ? nl + 1 : e;
    size_t tlen = (size_t)((nl ? nl : e) - p), plen = (size_t)(e - payload);
    sm_reading_opts o = {data[0] & 3, data[0] & 4 ? "dev" : NULL};
    ms_error err = {{0}};
    sm_fields f;
    ms_status st = sm_reading_fields(topic, tlen, payload, plen, &o, &f, &err);
    fz_expect("sm_reading_fields", st, &err);
    if (!field(&f, "id") && !fz_refused) {
        fprintf(stderr, "no id (status %d: %s)\n", (int)st, err.msg);
        abort();
    }
    if (st == MS_OK) {
        if (!field(&f, "features")) abort();
        qu_msg m = {.id = "1", .nfields = f.n, .fields = f.f};
        sm_event ev;
        ms_status es = sm_event_parse(&m, &ev, &err);
        fz_expect("sm_event_parse", es, &err);
        if (es == MS_OK && (!ev.id || !ev.ninputs)) abort();
        sm_event_free(&ev);
    }
    sm_fields_free(&f);
    return 0;
}
