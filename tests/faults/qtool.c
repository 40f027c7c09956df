/* qtool.c: the fault matrix's queue probe, through the queue layer only, so it works on every
 * backend that implements send and range (tests/faults/test_engine_faults.sh):
 *
 *   qtool raw URL NAME=VALUE ...   append one message with exactly these fields (no checks:
 *                                  a poison message `mlship stream send` would refuse);
 *                                  VALUE may hold \xHH escapes for bytes that are not text
 *   qtool dead URL                 every dead letter of the URL's stream ("<stream>:dead"),
 *                                  one a line: its "id" field (or "-"), a tab, its "reason"
 *
 * Exit 0 on success, 1 when the queue fails, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"

static int usage(void)
{
    fprintf(stderr, "usage: qtool raw URL NAME=VALUE ...\n       qtool dead URL\n");
    return 2;
}

/* s with \xHH escapes decoded, in place; its new length. */
static size_t unescape(char *s)
{
    size_t w = 0;
    for (size_t r = 0; s[r]; r++) {
        unsigned v;
        if (s[r] == '\\' && s[r + 1] == 'x' && sscanf(s + r + 2, "%2x", &v) == 1) {
            s[w++] = (char)v;
            r += 3;
        } else {
            s[w++] = s[r];
        }
    }
    s[w] = 0;
    return w;
}

static int raw(qu_queue *q, int n, char **kv)
{
    qu_field *f = calloc((size_t)n, sizeof *f);
    if (!f) return 1;
    for (int i = 0; i < n; i++) {
        char *eq = strchr(kv[i], '=');
        if (!eq) return free(f), usage();
        *eq = 0;
        f[i] = (qu_field){kv[i], strlen(kv[i]), eq + 1, unescape(eq + 1)};
    }
    const qu_field *msgs[1] = {f};
    int nf[1] = {n};
    ms_error err = {{0}};
    ms_status st = qu_send(q, NULL, msgs, nf, 1, 0, NULL, &err);
    free(f);
    if (st != MS_OK) return fprintf(stderr, "qtool: %s\n", err.msg), 1;
    return 0;
}

static void field(const qu_msg *m, const char *name, char *dst, size_t cap)
{
    snprintf(dst, cap, "-");
    for (int i = 0; i < m->nfields; i++) /* the last wins: the queue appends reason after the event's own */
        if (m->fields[i].name_len == strlen(name) && !memcmp(m->fields[i].name, name, m->fields[i].name_len))
            snprintf(dst, cap, "%.*s", (int)m->fields[i].val_len, m->fields[i].val);
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
}

static int dead(qu_queue *q)
{
    char stream[QU_NAME_MAX + 8], after[QU_ID_MAX] = "";
    snprintf(stream, sizeof stream, "%s:dead", qu_stream(q));
    for (;;) {
        qu_batch b = {0};
        ms_error err = {{0}};
        if (qu_range(q, stream, after, 1000, &b, &err) != MS_OK)
            return fprintf(stderr, "qtool: %s\n", err.msg), 1;
        if (b.n == 0) return 0;
        for (size_t i = 0; i < b.n; i++) {
            char id[200], reason[600];
            field(&b.msgs[i], "id", id, sizeof id);
            field(&b.msgs[i], "reason", reason, sizeof reason);
            printf("%s\t%s\n", id, reason);
        }
        snprintf(after, sizeof after, "%s", b.msgs[b.n - 1].id);
        qu_batch_free(&b);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    int is_raw = !strcmp(argv[1], "raw"), is_dead = !strcmp(argv[1], "dead");
    if (!(is_raw && argc > 3) && !(is_dead && argc == 3)) return usage();
    qu_queue *q;
    ms_error err = {{0}};
    qu_opts o = qu_opts_default();
    o.consumer = "qtool";
    if (qu_open(argv[2], &o, &q, &err) != MS_OK) return fprintf(stderr, "qtool: %s\n", err.msg), 1;
    int rc = is_raw ? raw(q, argc - 3, argv + 3) : dead(q);
    qu_close(q);
    return rc;
}
