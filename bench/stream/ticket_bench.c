/* ticket_bench.c: the streaming request API's round trip (issue 11 section 7), as a backend
 * calls it: POST /v1/models/MODEL/predictions/KEY (a key never seen, so the server enqueues an
 * event and answers 202 with a ticket), then GET /v1/tickets/T?wait_ms=5000 until it answers
 * 200 "done". C concurrent callers (threads, one keep-alive connection each) for D seconds;
 * one JSON line: round trips/s and the round trip's p50/p99 in ms.
 *
 *   ticket_bench PORT MODEL CALLERS SECONDS [FEATURES]
 * FEATURES (a JSON array) goes in every trigger's body, {"features": FEATURES}, so the worker
 * needs no feature store. Build: cc -O2 ticket_bench.c -lpthread */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static const char *model;
static char body_json[65536];
static int64_t t_end;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("ticket_bench: connect");
        exit(1);
    }
    return fd;
}

/* One request on fd; returns the status, the body in body[cap]. */
static int call(int fd, const char *req, char *body, size_t cap)
{
    size_t n = strlen(req);
    if (write(fd, req, n) != (ssize_t)n) return -1;
    static __thread char buf[65536];
    size_t have = 0;
    char *eoh = NULL;
    while (!eoh) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0) return -1;
        have += (size_t)r;
        buf[have] = 0;
        eoh = strstr(buf, "\r\n\r\n");
    }
    int status = atoi(buf + 9);
    const char *cl = strcasestr(buf, "content-length:");
    size_t len = cl ? (size_t)atol(cl + 15) : 0, hdr = (size_t)(eoh + 4 - buf);
    while (have < hdr + len) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0) return -1;
        have += (size_t)r;
    }
    size_t k = len < cap - 1 ? len : cap - 1;
    memcpy(body, buf + hdr, k);
    body[k] = 0;
    return status;
}

typedef struct caller {
    int id;
    int64_t *lat;
    long n, cap, errors;
} caller;

static void *run(void *arg)
{
    caller *c = arg;
    int fd = dial();
    char req[66000], body[4096];
    for (long i = 0; now_ns() < t_end; i++) {
        int64_t t0 = now_ns();
        snprintf(req, sizeof req, "POST /v1/models/%s/predictions/tb-%d-%ld-%lld HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", model, c->id, i,
                 (long long)t0, strlen(body_json), body_json);
        int st = call(fd, req, body, sizeof body);
        char *t = strstr(body, "\"ticket\":\"");
        if (st != 202 || !t) {
            c->errors++;
            if (c->errors < 3) fprintf(stderr, "ticket_bench: trigger answered %d %s\n", st, body);
            if (st < 0) close(fd), fd = dial();
            continue;
        }
        t += 10;
        *strchr(t, '"') = 0;
        char ticket[256];
        snprintf(ticket, sizeof ticket, "%s", t);
        for (;;) {
            snprintf(req, sizeof req, "GET /v1/tickets/%s?wait_ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n", ticket);
            st = call(fd, req, body, sizeof body);
            if (st == 202) continue;
            break;
        }
        if (st != 200 || !strstr(body, "\"done\"")) {
            c->errors++;
            if (c->errors < 3) fprintf(stderr, "ticket_bench: ticket answered %d %s\n", st, body);
            continue;
        }
        if (c->n == c->cap) c->lat = realloc(c->lat, sizeof(int64_t) * (size_t)(c->cap = c->cap * 2 + 1024));
        c->lat[c->n++] = now_ns() - t0;
    }
    close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) return fprintf(stderr, "usage: ticket_bench PORT MODEL CALLERS SECONDS [FEATURES]\n"), 2;
    if (argc == 6) snprintf(body_json, sizeof body_json, "{\"features\": %s}", argv[5]);
    port = atoi(argv[1]), model = argv[2];
    int nc = atoi(argv[3]);
    double secs = atof(argv[4]);
    caller *cs = calloc((size_t)nc, sizeof *cs);
    pthread_t *th = calloc((size_t)nc, sizeof *th);
    int64_t t0 = now_ns();
    t_end = t0 + (int64_t)(secs * 1e9);
    for (int i = 0; i < nc; i++) cs[i].id = i, pthread_create(&th[i], NULL, run, &cs[i]);
    long total = 0, errors = 0;
    for (int i = 0; i < nc; i++) pthread_join(th[i], NULL), total += cs[i].n, errors += cs[i].errors;
    double el = (now_ns() - t0) / 1e9;
    int64_t *all = malloc(sizeof(int64_t) * (size_t)(total + 1));
    long k = 0;
    for (int i = 0; i < nc; i++) memcpy(all + k, cs[i].lat, sizeof(int64_t) * (size_t)cs[i].n), k += cs[i].n;
    qsort(all, (size_t)total, sizeof *all, cmp);
    printf("{\"bench\":\"tickets\",\"callers\":%d,\"round_trips\":%ld,\"errors\":%ld,\"per_s\":%.0f,"
           "\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", nc, total, errors, total / el,
           total ? all[total / 2] / 1e6 : 0, total ? all[(long)(total * 0.99)] / 1e6 : 0);
    return errors || !total;
}
