/* sm_check.c: the streaming fault tests' producer and checker (tests/faults/), reusable for any
 * backend pair the queue and store layers offer.
 *
 *   sm_check produce --queue URL --x X.npy --n N --prefix P [--model M] [--from I] [--rate R]
 *       sends events I..N-1: id "P-i", key "P-k<i>", features row (i mod rows(X)) as a JSON
 *       array, in batches of 64. A batch whose send fails (a broker restarting) is sent again,
 *       same ids, after reconnecting, for up to 60 s: the events are at least once on the
 *       queue, and the worker's idempotent writes make a resent id harmless.
 *   sm_check verify --store URL --model M --n N --prefix P --ref REF.npy --output NAME
 *       [--col C] [--results QUEUE_URL] [--atol A] [--rtol R]
 *       classifies every id as ok / lost (no stored result) / wrong (a stored error, numbers
 *       that differ from the reference row (i mod rows(REF)), or a key whose newest prediction
 *       is not its event's) and, with --results, counts each id on the results stream
 *       ("<stream>:results"): missing ids are lost there, repeats are duplicates (allowed:
 *       delivery is at least once). Prints one summary line; exit 0 only when nothing is
 *       lost or wrong (in the store and on the stream). A second stored row for one event id
 *       cannot exist (the store keys results by event id), so the store side has no
 *       "duplicated" count; a second result for one key shows as "wrong" (newest-wins). 
 *
 * Per-key order (issue 12 sections 4 and 5), with --keys K on both commands: event i has key
 * "P-k<i mod K>" and a field "seq" = i / K (its place among its key's events, in produce
 * order). verify then checks the newest prediction of each key is its last event's, counts a
 * second stored row for one event id ("duplicated in the store": must be 0), and, with
 * --results, counts "reordered per key": an event whose first result on the results stream
 * comes after the first result of a later event of its key (each key's results are appended
 * in the order they were written; a repeat of an event already seen is a redelivery, counted
 * as duplicated, not as reordered). Any reordering fails verify.
 *
 * The reference is the framework's own output (a fixture .npy), never mlship's. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/bs_clock.h"
#include "codec/codec_buf.h"
#include "codec/codec_csv.h"
#include "codec/codec_npy.h"
#include "queue/queue.h"
#include "store/store.h"

typedef struct opts {
    const char *queue, *store, *x, *ref, *prefix, *model, *output, *results;
    long n, from, col, keys;
    double rate, atol, rtol;
} opts;

static int usage(void)
{
    fprintf(stderr, "usage: sm_check produce --queue URL --x X.npy --n N --prefix P [--model M]"
                    " [--from I] [--rate R] [--keys K]\n"
                    "       sm_check verify --store URL --model M --n N --prefix P --ref REF.npy"
                    " --output NAME [--col C] [--results QUEUE_URL] [--atol A] [--rtol R] [--keys K]\n");
    return 2;
}

static int parse_opts(int argc, char **argv, opts *o)
{
    *o = (opts){.col = -1, .atol = 1e-6, .rtol = 1e-5, .model = "default"};
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--queue")) o->queue = v;
        else if (!strcmp(k, "--store")) o->store = v;
        else if (!strcmp(k, "--x")) o->x = v;
        else if (!strcmp(k, "--ref")) o->ref = v;
        else if (!strcmp(k, "--prefix")) o->prefix = v;
        else if (!strcmp(k, "--model")) o->model = v;
        else if (!strcmp(k, "--output")) o->output = v;
        else if (!strcmp(k, "--results")) o->results = v;
        else if (!strcmp(k, "--n")) o->n = atol(v);
        else if (!strcmp(k, "--from")) o->from = atol(v);
        else if (!strcmp(k, "--col")) o->col = atol(v);
        else if (!strcmp(k, "--rate")) o->rate = atof(v);
        else if (!strcmp(k, "--atol")) o->atol = atof(v);
        else if (!strcmp(k, "--rtol")) o->rtol = atof(v);
        else if (!strcmp(k, "--keys")) o->keys = atol(v);
        else return fprintf(stderr, "sm_check: unknown option %s\n", k), -1;
    }
    return o->prefix && o->n > 0 && o->keys >= 0 ? 0 : -1;
}

static int load_npy(const char *path, ms_tensor *t)
{
    ms_error err = {{0}};
    mc_buf b = {0};
    ms_status st = mc_read_file(path, &b, &err);
    if (st == MS_OK) st = mc_npy_decode(b.data, b.len, t, &err);
    mc_buf_free(&b);
    if (st != MS_OK) return fprintf(stderr, "sm_check: %s: %s\n", path, err.msg), -1;
    if (t->ndim < 1 || t->shape[0] < 1) return fprintf(stderr, "sm_check: %s: no rows\n", path), -1;
    return 0;
}

static int64_t row_len(const ms_tensor *t)
{
    int64_t per = 1;
    for (int d = 1; d < t->ndim; d++) per *= t->shape[d];
    return per;
}

static double elem(const ms_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MS_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case MS_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case MS_DTYPE_INT64: return (double)((const int64_t *)t->data)[i];
    case MS_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    default: return NAN;
    }
}

/* ---- produce ------------------------------------------------------------------------- */

static void features_json(mc_buf *b, const ms_tensor *x, long row)
{
    int64_t per = row_len(x);
    char num[40];
    mc_buf_putc(b, '[');
    for (int64_t j = 0; j < per; j++) {
        mc_format_f32(num, (float)elem(x, row * per + j));
        if (j) mc_buf_putc(b, ',');
        mc_buf_puts(b, num);
    }
    mc_buf_putc(b, ']');
}

#define BATCH 64

static ms_status send_batch(qu_queue **q, const opts *o, qu_field (*f)[5], long n)
{
    const qu_field *msgs[BATCH];
    int nf[BATCH];
    for (long i = 0; i < n; i++) msgs[i] = f[i], nf[i] = o->keys ? 5 : 4;
    uint64_t deadline = bs_now_ns() + 60 * (uint64_t)1000000000;
    for (;;) {
        ms_error err = {{0}};
        ms_status st = *q ? qu_send(*q, NULL, msgs, nf, (size_t)n, 0, NULL, &err) : MS_ERR_RUNTIME;
        if (st == MS_OK) return MS_OK;
        if (*q) fprintf(stderr, "sm_check: send failed (%s); retrying\n", err.msg);
        if (bs_now_ns() > deadline) return st;
        struct timespec ts = {0, 200 * 1000000};
        nanosleep(&ts, NULL);
        qu_close(*q);
        *q = NULL;
        if (qu_open(o->queue, NULL, q, &err) != MS_OK) *q = NULL;
    }
}

static int produce(const opts *o)
{
    ms_tensor x;
    ms_error err = {{0}};
    if (!o->queue || !o->x || load_npy(o->x, &x)) return usage();
    qu_queue *q = NULL;
    if (qu_open(o->queue, NULL, &q, &err) != MS_OK)
        return fprintf(stderr, "sm_check: %s\n", err.msg), 1;
    mc_buf ids[BATCH] = {{0}}, keys[BATCH] = {{0}}, feats[BATCH] = {{0}}, seqs[BATCH] = {{0}};
    qu_field f[BATCH][5];
    int64_t t0 = (int64_t)bs_now_ns();
    long sent = 0;
    for (long i = o->from; i < o->n; i += BATCH) {
        long n = o->n - i < BATCH ? o->n - i : BATCH;
        for (long j = 0; j < n; j++) {
            mc_buf_reset(&ids[j]), mc_buf_reset(&keys[j]), mc_buf_reset(&feats[j]), mc_buf_reset(&seqs[j]);
            mc_buf_printf(&ids[j], "%s-%ld", o->prefix, i + j);
            mc_buf_printf(&keys[j], "%s-k%ld", o->prefix, o->keys ? (i + j) % o->keys : i + j);
            mc_buf_printf(&seqs[j], "%ld", o->keys ? (i + j) / o->keys : 0);
            features_json(&feats[j], &x, (i + j) % x.shape[0]);
            f[j][0] = (qu_field){"id", 2, ids[j].data, ids[j].len};
            f[j][1] = (qu_field){"key", 3, keys[j].data, keys[j].len};
            f[j][2] = (qu_field){"features", 8, feats[j].data, feats[j].len};
            f[j][3] = (qu_field){"model", 5, o->model, strlen(o->model)};
            f[j][4] = (qu_field){"seq", 3, seqs[j].data, seqs[j].len};
        }
        if (send_batch(&q, o, f, n) != MS_OK) {
            fprintf(stderr, "sm_check: gave up sending at event %ld\n", i);
            qu_close(q);
            return 1;
        }
        sent += n;
        if (o->rate > 0) { /* pace: event `sent` is due at t0 + sent / rate */
            int64_t due = t0 + (int64_t)(sent / o->rate * 1e9), now = (int64_t)bs_now_ns();
            if (due > now) {
                struct timespec ts = {(due - now) / 1000000000, (due - now) % 1000000000};
                nanosleep(&ts, NULL);
            }
        }
    }
    for (int j = 0; j < BATCH; j++)
        mc_buf_free(&ids[j]), mc_buf_free(&keys[j]), mc_buf_free(&feats[j]), mc_buf_free(&seqs[j]);
    qu_close(q);
    free(x.data);
    printf("produced %ld\n", sent);
    return 0;
}

/* ---- verify -------------------------------------------------------------------------- */

/* The numbers of a JSON value in document order (label maps by their values). */
static void flatten(const cJSON *v, double *out, int64_t cap, int64_t *n)
{
    if (cJSON_IsNumber(v)) {
        if (*n < cap) out[*n] = v->valuedouble;
        (*n)++;
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        for (const cJSON *c = v->child; c; c = c->next) flatten(c, out, cap, n);
    } else {
        if (*n < cap) out[*n] = NAN; /* null, a string: never equal to a reference */
        (*n)++;
    }
}

typedef struct vstate {
    const opts *o;
    const ms_tensor *ref;
    long i;
    int found;  /* stored results for the event (more than 1: duplicated in the store) */
    int wrong;
    char why[200];
} vstate;

static int on_event(void *ctx, const st_pred_row *row, const char *error)
{
    vstate *v = ctx;
    if (!row) return 0;
    if (v->found++) return 0; /* a second row: counted as duplicated, checked once */
    if (error || !row->outputs) {
        snprintf(v->why, sizeof v->why, "stored error: %s", error ? error : "(no outputs)");
        v->wrong = 1;
        return 0;
    }
    cJSON *j = cJSON_Parse(row->outputs);
    const cJSON *out = j ? cJSON_GetObjectItemCaseSensitive(j, v->o->output) : NULL;
    int64_t per = row_len(v->ref), want_n = v->o->col >= 0 ? 1 : per, n = 0;
    double got[4096];
    if (out) flatten(out, got, 4096, &n);
    if (!out || n != want_n) {
        snprintf(v->why, sizeof v->why, "outputs %.120s: no %s with %lld numbers", row->outputs,
                 v->o->output, (long long)want_n);
        v->wrong = 1;
    }
    for (int64_t k = 0; !v->wrong && k < want_n; k++) {
        int64_t r = v->i % v->ref->shape[0];
        double want = elem(v->ref, r * per + (v->o->col >= 0 ? v->o->col : k));
        if (!(fabs(got[k] - want) <= v->o->atol + v->o->rtol * fabs(want))) {
            snprintf(v->why, sizeof v->why, "%s[%lld] = %.9g, reference %.9g", v->o->output,
                     (long long)k, got[k], want);
            v->wrong = 1;
        }
    }
    cJSON_Delete(j);
    return 0;
}

static int on_latest(void *ctx, size_t i, const st_pred_row *row)
{
    vstate *v = ctx;
    char want[160];
    snprintf(want, sizeof want, "%s-%ld", v->o->prefix, v->i);
    if (!row || !row->event_id || strcmp(row->event_id, want) != 0) {
        snprintf(v->why, sizeof v->why, "newest prediction of its key is %s, not its event's",
                 row ? (row->event_id ? row->event_id : "a batch row") : "missing");
        v->wrong = 1;
    }
    return 0;
}

/* Per-key order on the results stream (--keys K): the first result of event i (key i mod K,
 * seq i / K) must come after the first results of its key's earlier events. maxseq[k]: the
 * highest seq of key k seen so far. */
static void check_order(const opts *o, long i, const unsigned char *counts, long *maxseq,
                        long *reordered)
{
    if (!o->keys || counts[i] != 0) return; /* not per key, or a repeat (a redelivery) */
    long k = i % o->keys, seq = i / o->keys;
    if (seq < maxseq[k]) {
        if ((*reordered)++ < 5)
            printf("reordered %s-%ld: key %s-k%ld seq %ld's first result after seq %ld's\n",
                   o->prefix, i, o->prefix, k, seq, maxseq[k]);
    } else {
        maxseq[k] = seq;
    }
}

/* Count each id on the results stream: counts[i] for id "P-i"; with --keys, the events
 * whose first result came out of their key's order into *reordered. */
static int count_results(const opts *o, unsigned char *counts, long *foreign, long *reordered)
{
    long *maxseq = o->keys ? malloc((size_t)o->keys * sizeof *maxseq) : NULL;
    if (o->keys && !maxseq) return fprintf(stderr, "sm_check: out of memory\n"), -1;
    for (long k = 0; k < o->keys; k++) maxseq[k] = -1;
    ms_error err = {{0}};
    qu_queue *q;
    if (qu_open(o->results, NULL, &q, &err) != MS_OK)
        return free(maxseq), fprintf(stderr, "sm_check: %s\n", err.msg), -1;
    char stream[QU_NAME_MAX + 16], after[QU_ID_MAX] = "";
    snprintf(stream, sizeof stream, "%s:results", qu_stream(q));
    size_t plen = strlen(o->prefix);
    for (;;) {
        qu_batch b = {0};
        if (qu_range(q, stream, after, 1000, &b, &err) != MS_OK) {
            fprintf(stderr, "sm_check: reading %s: %s\n", stream, err.msg);
            qu_close(q);
            free(maxseq);
            return -1;
        }
        if (b.n == 0) break;
        for (size_t m = 0; m < b.n; m++) {
            const qu_msg *msg = &b.msgs[m];
            for (int f = 0; f < msg->nfields; f++) {
                const qu_field *fl = &msg->fields[f];
                if (fl->name_len != 2 || memcmp(fl->name, "id", 2)) continue;
                char id[160];
                snprintf(id, sizeof id, "%.*s", (int)fl->val_len, fl->val);
                char *end;
                long i = (strncmp(id, o->prefix, plen) == 0 && id[plen] == '-')
                             ? strtol(id + plen + 1, &end, 10) : -1;
                if (i >= 0 && i < o->n && *end == 0) {
                    check_order(o, i, counts, maxseq, reordered);
                    if (counts[i] < 255) counts[i]++;
                } else {
                    (*foreign)++;
                }
            }
        }
        snprintf(after, sizeof after, "%s", b.msgs[b.n - 1].id);
        qu_batch_free(&b);
    }
    qu_close(q);
    free(maxseq);
    return 0;
}

static int verify(const opts *o)
{
    ms_tensor ref;
    ms_error err = {{0}};
    if (!o->store || !o->ref || !o->output || load_npy(o->ref, &ref)) return usage();
    st_store *s;
    if (st_open(o->store, &s, &err) != MS_OK) return fprintf(stderr, "sm_check: %s\n", err.msg), 1;
    long ok = 0, lost = 0, wrong = 0, shown = 0, store_dup = 0;
    for (long i = 0; i < o->n; i++) {
        char id[160], key[160];
        snprintf(id, sizeof id, "%s-%ld", o->prefix, i);
        snprintf(key, sizeof key, "%s-k%ld", o->prefix, i);
        vstate v = {.o = o, .ref = &ref, .i = i};
        ms_status st = st_stream_event(s, id, on_event, &v, &err);
        if (o->keys) snprintf(key, sizeof key, "%s-k%ld", o->prefix, i % o->keys);
        if (v.found > 1) store_dup += v.found - 1;
        /* newest wins: the key's prediction is its last event's (with --keys, only the last
         * event of each key is that one) */
        if (st == MS_OK && v.found && !v.wrong && !(o->keys && i + o->keys < o->n)) {
            const char *keys[1] = {key};
            st = st_pred_latest(s, o->model, keys, 1, on_latest, &v, &err);
        }
        if (st != MS_OK) return fprintf(stderr, "sm_check: reading %s: %s\n", id, err.msg), 1;
        if (!v.found) {
            lost++;
            if (shown++ < 5) printf("lost %s\n", id);
        } else if (v.wrong) {
            wrong++;
            if (shown++ < 5) printf("wrong %s: %s\n", id, v.why);
        } else {
            ok++;
        }
    }
    st_close(s);
    free(ref.data);
    long s_lost = 0, s_dup = 0, foreign = 0, reordered = 0;
    if (o->results) {
        unsigned char *counts = calloc((size_t)o->n, 1);
        if (!counts || count_results(o, counts, &foreign, &reordered)) return free(counts), 1;
        for (long i = 0; i < o->n; i++) {
            if (counts[i] == 0) s_lost++;
            if (counts[i] > 1) s_dup += counts[i] - 1;
        }
        free(counts);
    }
    printf("checked %ld: ok %ld, lost %ld, wrong %ld", o->n, ok, lost, wrong);
    if (o->results)
        printf("; results stream: missing %ld, duplicated %ld (at-least-once), other ids %ld",
               s_lost, s_dup, foreign);
    if (o->keys) {
        printf("; %ld keys: duplicated in the store %ld", o->keys, store_dup);
        if (o->results) printf(", reordered per key %ld", reordered);
    }
    printf("\n");
    return lost || wrong || s_lost || store_dup || reordered ? 1 : 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (argc < 2 || parse_opts(argc, argv, &o)) return usage();
    if (!strcmp(argv[1], "produce")) return produce(&o);
    if (!strcmp(argv[1], "verify")) return verify(&o);
    return usage();
}
