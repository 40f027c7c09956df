/* stream_bench.c: the streaming benchmark's driver and the machine's raw Redis Streams ceiling
 * (bench/stream/run.sh), one hiredis client for every system measured, so they are timed alike.
 *
 *   stream_bench ceiling PORT N COUNT
 *       no model: a forked producer XADDs N ~290-byte entries to "ceil" (pipelined by 100) while
 *       this process loops XREADGROUP COUNT k BLOCK 100 -> XACK of what it read.
 *       msgs_per_s = N / (fork -> last XACK reply).
 *   stream_bench drive PORT N RATE X.npy REF.npy STREAM
 *       a producer thread XADDs N events {id, ts, features} to STREAM (features: row i mod rows(X)
 *       as comma-separated text, ts: CLOCK_MONOTONIC ns) at full speed (RATE 0, pipelined by 64)
 *       or paced at RATE events/s; this thread reads STREAM:results (XREAD BLOCK) until every id
 *       has a result. Whatever consumer runs (mlship stream work, the Python consumer) must pass
 *       `ts` through and write `id` and either `probability` or `outputs` (mlship's JSON, whose
 *       "probabilities" holds [p0, p1] or {"0": p0, "1": p1}).
 *       events_per_s = N / (the producer's clock before its first XADD -> the last result read);
 *       latency = arrival of the result here - ts (so it includes this reader's round trip).
 *       Every result is checked against REF (the framework's probability of class 1 per row,
 *       |diff| <= 1e-5): `wrong` counts mismatches and `dup` repeated ids.
 * Output: one JSON line on stdout. Build: cc -O2 stream_bench.c -lhiredis -lcjson -lpthread -lm */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static redisContext *conn(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "stream_bench: connect 127.0.0.1:%d: %s\n", port, c ? c->errstr : "oom");
        exit(1);
    }
    return c;
}

static redisReply *must(redisContext *c, redisReply *r)
{
    if (!r) {
        fprintf(stderr, "stream_bench: %s\n", c->errstr);
        exit(1);
    }
    if (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "BUSYGROUP")) {
        fprintf(stderr, "stream_bench: %s\n", r->str);
        exit(1);
    }
    return r;
}

/* ---- the ceiling ---------------------------------------------------------------------- */

static int ceiling(int port, long n, int count)
{
    redisContext *c = conn(port);
    freeReplyObject(must(c, redisCommand(c, "DEL ceil")));
    freeReplyObject(must(c, redisCommand(c, "XGROUP CREATE ceil g $ MKSTREAM")));
    char payload[300];
    int w = 0;
    for (int j = 0; j < 30; j++) w += snprintf(payload + w, sizeof payload - (size_t)w, "%s%.6f", j ? "," : "", j * 0.731 - 3);
    int64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        redisContext *p = conn(port);
        for (long i = 0; i < n; i += 100) {
            long k = n - i < 100 ? n - i : 100;
            for (long j = 0; j < k; j++) redisAppendCommand(p, "XADD ceil * f %s", payload);
            for (long j = 0; j < k; j++) {
                redisReply *r;
                if (redisGetReply(p, (void **)&r) != REDIS_OK) _exit(1);
                freeReplyObject(r);
            }
        }
        _exit(0);
    }
    long got = 0;
    char kb[16];
    snprintf(kb, sizeof kb, "%d", count);
    while (got < n) {
        const char *av[] = {"XREADGROUP", "GROUP", "g", "c", "COUNT", kb, "BLOCK", "100", "STREAMS", "ceil", ">"};
        redisReply *r = must(c, redisCommandArgv(c, 11, av, NULL));
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            redisReply *e = r->element[0]->element[1];
            const char **aa = malloc(sizeof(char *) * (e->elements + 3));
            aa[0] = "XACK", aa[1] = "ceil", aa[2] = "g";
            for (size_t i = 0; i < e->elements; i++) aa[3 + i] = e->element[i]->element[0]->str;
            freeReplyObject(must(c, redisCommandArgv(c, (int)e->elements + 3, aa, NULL)));
            got += (long)e->elements;
            free(aa);
        }
        freeReplyObject(r);
    }
    double secs = (now_ns() - t0) / 1e9;
    int st;
    waitpid(pid, &st, 0);
    printf("{\"bench\":\"ceiling\",\"n\":%ld,\"count\":%d,\"msgs_per_s\":%.0f}\n", n, count, n / secs);
    freeReplyObject(must(c, redisCommand(c, "DEL ceil")));
    redisFree(c);
    return 0;
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
    int port;
    long n;
    double rate;
    const npy *x;
    const char *stream;
    int64_t t0;
} drive;

static void *producer(void *arg)
{
    drive *d = arg;
    redisContext *c = conn(d->port);
    char **rows = malloc(sizeof(char *) * (size_t)d->x->rows);
    for (long r = 0; r < d->x->rows; r++) {
        rows[r] = malloc(32 * (size_t)d->x->cols);
        int w = 0;
        for (long j = 0; j < d->x->cols; j++)
            w += sprintf(rows[r] + w, "%s%.9g", j ? "," : "", d->x->f[r * d->x->cols + j]);
    }
    long batch = d->rate > 0 ? 1 : 64;
    d->t0 = now_ns();
    for (long i = 0; i < d->n; i += batch) {
        long k = d->n - i < batch ? d->n - i : batch;
        if (d->rate > 0) {
            int64_t due = d->t0 + (int64_t)(i / d->rate * 1e9);
            while (now_ns() < due) {
                int64_t left = due - now_ns();
                if (left > 200000) {
                    struct timespec ts = {0, left - 100000};
                    nanosleep(&ts, NULL);
                }
            }
        }
        for (long j = 0; j < k; j++) {
            char id[32], ts[32];
            snprintf(id, sizeof id, "e%ld", i + j);
            snprintf(ts, sizeof ts, "%lld", (long long)now_ns());
            redisAppendCommand(c, "XADD %s * id %s ts %s features %s", d->stream, id, ts,
                               rows[(i + j) % d->x->rows]);
        }
        for (long j = 0; j < k; j++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) exit(1);
            freeReplyObject(must(c, r));
        }
    }
    for (long r = 0; r < d->x->rows; r++) free(rows[r]);
    free(rows);
    redisFree(c);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The probability of class 1 in a result entry. */
static double result_p1(redisReply *fields)
{
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        const char *k = fields->element[f]->str, *v = fields->element[f + 1]->str;
        if (!strcmp(k, "probability")) return strtod(v, NULL);
        if (!strcmp(k, "outputs")) {
            cJSON *j = cJSON_Parse(v);
            const cJSON *p = j ? cJSON_GetObjectItemCaseSensitive(j, "probabilities") : NULL;
            const cJSON *e = p && cJSON_IsArray(p) ? cJSON_GetArrayItem(p, 1)
                             : p ? cJSON_GetObjectItemCaseSensitive(p, "1") : NULL;
            double r = cJSON_IsNumber(e) ? e->valuedouble : NAN;
            cJSON_Delete(j);
            return r;
        }
    }
    return NAN;
}

static const char *field(redisReply *fields, const char *name)
{
    for (size_t f = 0; f + 1 < fields->elements; f += 2)
        if (!strcmp(fields->element[f]->str, name)) return fields->element[f + 1]->str;
    return NULL;
}

static int drive_run(int port, long n, double rate, const char *xp, const char *refp, const char *stream)
{
    npy x, ref;
    if (load_npy(xp, &x) || load_npy(refp, &ref)) return 1;
    redisContext *c = conn(port);
    char results[256], last[64] = "0-0";
    snprintf(results, sizeof results, "%s:results", stream);
    drive d = {port, n, rate, &x, stream, 0};
    pthread_t th;
    pthread_create(&th, NULL, producer, &d);
    unsigned char *seen = calloc((size_t)n, 1);
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)n), t_last = 0;
    long got = 0, wrong = 0, dup = 0;
    while (got < n) {
        redisReply *r = must(c, redisCommand(c, "XREAD COUNT 1000 BLOCK 5000 STREAMS %s %s", results, last));
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            fprintf(stderr, "stream_bench: no result for 5 s (%ld of %ld)\n", got, n);
            return 1;
        }
        int64_t now = now_ns();
        redisReply *e = r->element[0]->element[1];
        for (size_t i = 0; i < e->elements; i++) {
            redisReply *fl = e->element[i]->element[1];
            const char *id = field(fl, "id"), *ts = field(fl, "ts");
            long k = id && id[0] == 'e' ? strtol(id + 1, NULL, 10) : -1;
            if (k < 0 || k >= n || !ts) { wrong++; continue; }
            if (seen[k]++) { dup++; continue; }
            double p = result_p1(fl), want = ref.f[(k % ref.rows) * ref.cols + (ref.cols > 1 ? 1 : 0)];
            if (!(fabs(p - want) <= 1e-5)) wrong++;
            lat[got++] = now - strtoll(ts, NULL, 10);
            t_last = now;
        }
        snprintf(last, sizeof last, "%s", e->element[e->elements - 1]->element[0]->str);
        freeReplyObject(r);
    }
    pthread_join(th, NULL);
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    printf("{\"bench\":\"drive\",\"n\":%ld,\"rate\":%.0f,\"events_per_s\":%.0f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"wrong\":%ld,\"dup\":%ld}\n",
           n, rate, n / ((t_last - d.t0) / 1e9), lat[n / 2] / 1e6, lat[(long)(n * 0.99)] / 1e6, wrong, dup);
    redisFree(c);
    return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "ceiling")) return ceiling(atoi(argv[2]), atol(argv[3]), atoi(argv[4]));
    if (argc == 8 && !strcmp(argv[1], "drive"))
        return drive_run(atoi(argv[2]), atol(argv[3]), atof(argv[4]), argv[5], argv[6], argv[7]);
    fprintf(stderr, "usage: stream_bench ceiling PORT N COUNT | drive PORT N RATE X.npy REF.npy STREAM\n");
    return 2;
}
