/* nats_bench.c: the NATS JetStream side of the streaming benchmark (bench/stream/nats.sh): the
 * engine's raw ceiling with no model, and the driver that feeds `mlship stream work` and times
 * it, both on libnats so the two are timed alike.
 *
 *   nats_bench ceiling HOST:PORT N BATCH
 *       streams "nceil" (work queue) and "nceil_res" (limits), file storage, made afresh, and a
 *       durable pull consumer (explicit acks). A publisher thread (its own connection)
 *       js_PublishAsync's N ~290-byte events while this thread loops Fetch(BATCH) -> per
 *       message js_PublishAsync a result to nceil.res, then ack. msgs_per_s = N / (first publish
 *       -> every result PubAck in and the acks flushed). Checked: every event consumed once,
 *       the work queue empty, N results stored.
 *   nats_bench reset HOST:PORT STREAM      deletes STREAM, STREAM:results and STREAM:dead
 *   nats_bench ready HOST:PORT STREAM      waits (60 s at most) for the group "mlship" to exist
 *   nats_bench drive HOST:PORT N RATE X.npy REF.npy STREAM
 *       a producer thread publishes N events {id, ts, features} (mlship's body: one JSON object
 *       of strings; features row i mod rows(X) as comma-separated text, ts CLOCK_MONOTONIC ns)
 *       to the subject STREAM at full speed (RATE 0: async, PubAcks awaited at the end) or paced
 *       at RATE events/s, while this thread takes every result from a core subscription to
 *       STREAM.results (the subject the worker publishes its results on) until each id has one.
 *       events_per_s = N / (first publish -> last result); latency = arrival here - ts. Every
 *       result is checked against REF (the framework's probability of class 1 per row,
 *       |diff| <= 1e-5): `wrong` counts mismatches and `dup` repeated ids.
 * Output: one JSON line on stdout (exit 1 when a check fails).
 * Build: cc -O2 nats_bench.c -lnats -lcjson -lpthread -lm */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void must(natsStatus s, const char *what)
{
    if (s == NATS_OK) return;
    fprintf(stderr, "nats_bench: %s: %s\n", what, natsStatus_GetText(s));
    nats_PrintLastErrorStack(stderr);
    exit(1);
}

static natsConnection *conn(const char *hp)
{
    char url[300];
    snprintf(url, sizeof url, "nats://%s", hp);
    natsConnection *c = NULL;
    must(natsConnection_ConnectTo(&c, url), url);
    return c;
}

static jsCtx *jet(natsConnection *c)
{
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = 10000;
    o.PublishAsync.MaxPending = 4096;
    o.PublishAsync.StallWait = 10000;
    jsCtx *js = NULL;
    must(natsConnection_JetStream(&js, c, &o), "jetstream");
    return js;
}

static void pub_async(jsCtx *js, const char *subj, const char *buf, int len)
{
    natsStatus s;
    int tries = 0;
    while ((s = js_PublishAsync(js, subj, buf, len, NULL)) == NATS_TIMEOUT && ++tries < 10) {}
    must(s, "js_PublishAsync");
}

static void complete(jsCtx *js)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    must(js_PublishAsyncComplete(js, &po), "PublishAsyncComplete");
}

/* ---- the ceiling ---------------------------------------------------------------------- */

typedef struct cpub {
    const char *hp;
    long n;
} cpub;

static void *ceiling_producer(void *arg)
{
    cpub *p = arg;
    natsConnection *c = conn(p->hp);
    jsCtx *js = jet(c);
    char payload[300];
    int w = snprintf(payload, sizeof payload, "{\"id\":\"e0000000\",\"features\":\"");
    for (int j = 0; j < 30; j++) w += snprintf(payload + w, sizeof payload - (size_t)w, "%s%.6f", j ? "," : "", j * 0.731 - 3);
    w += snprintf(payload + w, sizeof payload - (size_t)w, "\"}");
    for (long i = 0; i < p->n; i++) pub_async(js, "nceil", payload, w);
    complete(js);
    jsCtx_Destroy(js);
    natsConnection_Destroy(c);
    return NULL;
}

static void add_stream(jsCtx *js, const char *name, const char *subj, jsRetentionPolicy r)
{
    js_DeleteStream(js, name, NULL, NULL);
    const char *subjects[] = {subj};
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    c.Name = name, c.Subjects = subjects, c.SubjectsLen = 1, c.Retention = r;
    c.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    must(js_AddStream(&si, js, &c, NULL, NULL), name);
    jsStreamInfo_Destroy(si);
}

static uint64_t msgs_in(jsCtx *js, const char *name)
{
    jsStreamInfo *si = NULL;
    must(js_GetStreamInfo(&si, js, name, NULL, NULL), name);
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

static int ceiling(const char *hp, long n, int batch)
{
    natsConnection *c = conn(hp);
    jsCtx *js = jet(c);
    add_stream(js, "nceil", "nceil", js_WorkQueuePolicy);
    add_stream(js, "nceil_res", "nceil.res", js_LimitsPolicy);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "g", cc.AckPolicy = js_AckExplicit, cc.AckWait = 60LL * 1000000000;
    jsConsumerInfo *ci = NULL;
    must(js_AddConsumer(&ci, js, "nceil", &cc, NULL, NULL), "consumer");
    jsConsumerInfo_Destroy(ci);
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "nceil", so.Consumer = "g";
    must(js_PullSubscribe(&sub, js, "nceil", "g", NULL, &so, NULL), "pull subscribe");
    cpub p = {hp, n};
    int64_t t0 = now_ns();
    pthread_t th;
    pthread_create(&th, NULL, ceiling_producer, &p);
    long got = 0;
    char res[64];
    while (got < n) {
        natsMsgList l = {0};
        natsStatus s = natsSubscription_Fetch(&l, sub, batch, 1000, NULL);
        if (s == NATS_TIMEOUT) continue;
        must(s, "fetch");
        for (int i = 0; i < l.Count; i++) {
            int len = snprintf(res, sizeof res, "{\"id\":\"e%ld\",\"p\":\"0.5\"}", got + i);
            pub_async(js, "nceil.res", res, len);
            natsMsg_Ack(l.Msgs[i], NULL);
        }
        got += l.Count;
        natsMsgList_Destroy(&l);
    }
    complete(js);
    must(natsConnection_Flush(c), "flush");
    double secs = (now_ns() - t0) / 1e9;
    pthread_join(th, NULL);
    uint64_t left = msgs_in(js, "nceil"), stored = msgs_in(js, "nceil_res");
    int ok = got == n && left == 0 && stored == (uint64_t)n;
    printf("{\"bench\":\"ceiling\",\"n\":%ld,\"batch\":%d,\"msgs_per_s\":%.0f,\"left\":%llu,"
           "\"results\":%llu,\"ok\":%s}\n",
           n, batch, n / secs, (unsigned long long)left, (unsigned long long)stored, ok ? "true" : "false");
    natsSubscription_Destroy(sub);
    js_DeleteStream(js, "nceil", NULL, NULL);
    js_DeleteStream(js, "nceil_res", NULL, NULL);
    jsCtx_Destroy(js);
    natsConnection_Destroy(c);
    return ok ? 0 : 1;
}

/* ---- reset / ready -------------------------------------------------------------------- */

static int reset(const char *hp, const char *stream)
{
    natsConnection *c = conn(hp);
    jsCtx *js = jet(c);
    char name[300];
    js_DeleteStream(js, stream, NULL, NULL);
    snprintf(name, sizeof name, "%s:results", stream);
    js_DeleteStream(js, name, NULL, NULL);
    snprintf(name, sizeof name, "%s:dead", stream);
    js_DeleteStream(js, name, NULL, NULL);
    jsCtx_Destroy(js);
    natsConnection_Destroy(c);
    return 0;
}

static int ready(const char *hp, const char *stream)
{
    natsConnection *c = conn(hp);
    jsCtx *js = jet(c);
    for (int i = 0; i < 1200; i++) {
        jsConsumerInfo *ci = NULL;
        if (js_GetConsumerInfo(&ci, js, stream, "mlship", NULL, NULL) == NATS_OK) {
            jsConsumerInfo_Destroy(ci);
            jsCtx_Destroy(js);
            natsConnection_Destroy(c);
            return 0;
        }
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    fprintf(stderr, "nats_bench: no consumer 'mlship' on %s after 60 s\n", stream);
    return 1;
}

/* ---- the driver ----------------------------------------------------------------------- */

typedef struct npy {
    long rows, cols;
    float *f;
} npy;

/* A float32 (or float64) C-order .npy of rank 1 or 2. */
static int load_npy(const char *path, npy *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return perror(path), -1;
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) return fprintf(stderr, "%s: not .npy\n", path), -1;
    size_t hl = pre[8] | pre[9] << 8;
    char *h = calloc(1, hl + 1);
    if (fread(h, 1, hl, f) != hl) return -1;
    int f8 = strstr(h, "<f8") != NULL;
    if (!f8 && !strstr(h, "<f4")) return fprintf(stderr, "%s: not float\n", path), -1;
    char *s = strstr(h, "shape");
    s = s ? strchr(s, '(') : NULL;
    long r = s ? strtol(s + 1, &s, 10) : 0, c = 1;
    if (s && *s == ',' && s[1] != ')') c = strtol(s + 1, NULL, 10);
    free(h);
    if (r <= 0 || c <= 0) return fprintf(stderr, "%s: bad shape\n", path), -1;
    out->rows = r, out->cols = c;
    out->f = malloc(sizeof(float) * (size_t)(r * c));
    for (long i = 0; i < r * c; i++) {
        if (f8) {
            double d;
            if (fread(&d, 8, 1, f) != 1) return -1;
            out->f[i] = (float)d;
        } else if (fread(&out->f[i], 4, 1, f) != 1) {
            return -1;
        }
    }
    fclose(f);
    return 0;
}

typedef struct drive {
    const char *hp, *stream;
    long n;
    double rate;
    const npy *x;
    int64_t t0;
} drive;

static void *producer(void *arg)
{
    drive *d = arg;
    natsConnection *c = conn(d->hp);
    jsCtx *js = jet(c);
    char **rows = malloc(sizeof(char *) * (size_t)d->x->rows);
    for (long r = 0; r < d->x->rows; r++) {
        rows[r] = malloc(32 * (size_t)d->x->cols);
        int w = 0;
        for (long j = 0; j < d->x->cols; j++)
            w += sprintf(rows[r] + w, "%s%.9g", j ? "," : "", d->x->f[r * d->x->cols + j]);
    }
    char *buf = malloc(64 + 32 * (size_t)d->x->cols);
    d->t0 = now_ns();
    for (long i = 0; i < d->n; i++) {
        if (d->rate > 0) {
            int64_t due = d->t0 + (int64_t)(i / d->rate * 1e9);
            while (now_ns() < due) {
                int64_t left = due - now_ns();
                if (left > 200000) nanosleep(&(struct timespec){0, left - 100000}, NULL);
            }
        }
        int len = sprintf(buf, "{\"id\":\"e%ld\",\"ts\":\"%lld\",\"features\":\"%s\"}", i,
                          (long long)now_ns(), rows[i % d->x->rows]);
        pub_async(js, d->stream, buf, len);
    }
    complete(js);
    free(buf);
    for (long r = 0; r < d->x->rows; r++) free(rows[r]);
    free(rows);
    jsCtx_Destroy(js);
    natsConnection_Destroy(c);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The probability of class 1 in mlship's "outputs" text. */
static double result_p1(const char *outputs)
{
    cJSON *j = outputs ? cJSON_Parse(outputs) : NULL;
    const cJSON *p = j ? cJSON_GetObjectItemCaseSensitive(j, "probabilities") : NULL;
    const cJSON *e = p && cJSON_IsArray(p) ? cJSON_GetArrayItem(p, 1)
                     : p ? cJSON_GetObjectItemCaseSensitive(p, "1") : NULL;
    double r = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    cJSON_Delete(j);
    return r;
}

static int drive_run(const char *hp, long n, double rate, const char *xp, const char *refp,
                     const char *stream)
{
    npy x, ref;
    if (load_npy(xp, &x) || load_npy(refp, &ref)) return 1;
    natsConnection *c = conn(hp);
    char subj[300];
    snprintf(subj, sizeof subj, "%s.results", stream);
    natsSubscription *sub = NULL;
    must(natsConnection_SubscribeSync(&sub, c, subj), "subscribe");
    must(natsSubscription_SetPendingLimits(sub, -1, -1), "pending limits");
    must(natsConnection_Flush(c), "flush");
    drive d = {hp, stream, n, rate, &x, 0};
    pthread_t th;
    pthread_create(&th, NULL, producer, &d);
    unsigned char *seen = calloc((size_t)n, 1);
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)n), t_last = 0;
    long got = 0, wrong = 0, dup = 0;
    while (got < n) {
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, sub, 10000);
        if (s == NATS_TIMEOUT) {
            fprintf(stderr, "nats_bench: no result for 10 s (%ld of %ld)\n", got, n);
            return 1;
        }
        must(s, "next result");
        int64_t now = now_ns();
        cJSON *j = cJSON_ParseWithLength(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
        const char *id = str_of(j, "id"), *ts = str_of(j, "ts");
        long k = id && id[0] == 'e' ? strtol(id + 1, NULL, 10) : -1;
        if (k < 0 || k >= n || !ts) {
            wrong++;
        } else if (seen[k]++) {
            dup++;
        } else {
            double p = result_p1(str_of(j, "outputs"));
            double want = ref.f[(k % ref.rows) * ref.cols + (ref.cols > 1 ? 1 : 0)];
            if (!(fabs(p - want) <= 1e-5)) wrong++;
            lat[got++] = now - strtoll(ts, NULL, 10);
            t_last = now;
        }
        cJSON_Delete(j);
        natsMsg_Destroy(m);
    }
    pthread_join(th, NULL);
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    printf("{\"bench\":\"drive\",\"n\":%ld,\"rate\":%.0f,\"events_per_s\":%.0f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"wrong\":%ld,\"dup\":%ld}\n",
           n, rate, n / ((t_last - d.t0) / 1e9), lat[n / 2] / 1e6, lat[(long)(n * 0.99)] / 1e6, wrong, dup);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(c);
    return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
    must(nats_Open(-1), "nats_Open");
    if (argc == 5 && !strcmp(argv[1], "ceiling")) return ceiling(argv[2], atol(argv[3]), atoi(argv[4]));
    if (argc == 4 && !strcmp(argv[1], "reset")) return reset(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "ready")) return ready(argv[2], argv[3]);
    if (argc == 8 && !strcmp(argv[1], "drive"))
        return drive_run(argv[2], atol(argv[3]), atof(argv[4]), argv[5], argv[6], argv[7]);
    fprintf(stderr, "usage: nats_bench ceiling HOST:PORT N BATCH | reset HOST:PORT STREAM | "
                    "ready HOST:PORT STREAM | drive HOST:PORT N RATE X.npy REF.npy STREAM\n");
    return 2;
}
