/* fuzz_event.c: libFuzzer driver for the stream event parser (src/stream/sm_event.c). The
 * input is split into a queue message: byte 0 picks the form (bit 0: the "json" form, the
 * whole rest as one field; else fields "name\0value\0..."), then sm_event_parse must accept or
 * refuse with MS_ERR_INVALID and a message; an accepted event's strings and values must be
 * readable, and the JSON Lines path (sm_event_from_json) must agree with it. */
#include "fuzz_common.h"

#include "stream/sm_event.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

static unsigned touch_event(const sm_event *ev)
{
    unsigned acc = (unsigned)strlen(ev->id);
    if (ev->key) acc += (unsigned)strlen(ev->key);
    if (ev->model) acc += (unsigned)strlen(ev->model);
    if (ev->ts) acc += (unsigned)strlen(ev->ts);
    for (int i = 0; i < ev->ninputs; i++) {
        if (ev->inputs[i].name) acc += (unsigned)strlen(ev->inputs[i].name);
        if (!ev->inputs[i].nvals) abort(); /* an input is never empty */
        for (size_t k = 0; k < ev->inputs[i].nvals; k++)
            acc += (unsigned)(ev->inputs[i].vals[k] == ev->inputs[i].vals[k]) +
                   (unsigned)(ev->inputs[i].fvals[k] == ev->inputs[i].fvals[k]);
    }
    return acc;
}

/* The JSON Lines path refuses what the parser refuses and gives back fields that parse. */
static void check_from_json(const char *j, size_t n, ms_status parsed)
{
    ms_error err = {{0}};
    sm_fields f;
    ms_status st = sm_event_from_json(j, n, &f, &err);
    fz_expect("sm_event_from_json", st, &err);
    if ((st == MS_OK) != (parsed == MS_OK) && !fz_refused) {
        fprintf(stderr, "sm_event_from_json %s what sm_event_parse %s\n", st ? "refused" : "took",
                parsed ? "refused" : "took");
        abort();
    }
    if (st) return;
    qu_msg m = {.id = "1-0", .nfields = f.n, .fields = f.f};
    sm_event ev;
    st = sm_event_parse(&m, &ev, &err);
    if (st && !fz_refused) {
        fprintf(stderr, "fields from sm_event_from_json do not parse: %s\n", err.msg);
        abort();
    }
    if (st == MS_OK) touch_event(&ev);
    sm_event_free(&ev);
    sm_fields_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    fz_refused = 0;
    const char *p = (const char *)data + 1, *e = (const char *)data + size;
    qu_field fields[16];
    qu_msg m = {.id = "1700000000000-0"};
    if (data[0] & 1) {
        fields[0] = (qu_field){"json", 4, p, (size_t)(e - p)};
        m.nfields = 1;
    } else {
        while (p < e && m.nfields < 16) { /* name \0 value \0 ... */
            const char *nz = memchr(p, 0, (size_t)(e - p));
            const char *ne = nz ? nz : e, *v = nz ? nz + 1 : e;
            const char *vz = v < e ? memchr(v, 0, (size_t)(e - v)) : NULL;
            const char *ve = vz ? vz : e;
            fields[m.nfields++] = (qu_field){p, (size_t)(ne - p), v, (size_t)(ve - v)};
            p = vz ? vz + 1 : e;
        }
    }
    m.fields = fields;
    ms_error err = {{0}};
    sm_event ev;
    ms_status st = sm_event_parse(&m, &ev, &err);
    fz_expect("sm_event_parse", st, &err);
    if (st == MS_OK) touch_event(&ev);
    else if (ev.id || ev.inputs) abort(); /* a refused event holds nothing */
    sm_event_free(&ev);
    if (data[0] & 1) check_from_json(fields[0].val, fields[0].val_len, st);
    return 0;
}
