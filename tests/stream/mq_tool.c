/* mq_tool.c: the MQTT tests' and bench's producer and collector (libmosquitto, QoS 1), so the
 * tests do not depend on mosquitto_pub's behaviour across a broker restart.
 *
 *   mq_tool pub HOST PORT CLIENT [RATE]
 *       publishes each stdin line "TOPIC PAYLOAD" at QoS 1 (persistent session CLIENT, so a
 *       broker restart does not lose what is in flight: libmosquitto resends unacknowledged
 *       PUBLISHes on reconnect), at most RATE a second (0 or none: full speed); exits 0 once
 *       every message is acknowledged (within 120 s), printing "published N acked N".
 *   mq_tool flood HOST PORT TOPIC N RATE ROWS.txt
 *       publishes N readings {"ts":"<CLOCK_MONOTONIC ns>","values":[ROW]} (ROWS.txt: one CSV
 *       row a line, cycled) at RATE a second (0: full speed), waits for every PUBACK.
 *   mq_tool collect HOST PORT FILTER N TIMEOUT_S
 *       subscribes (clean session) and counts messages until N or TIMEOUT_S without progress;
 *       prints {"n":..,"rate":..,"p50_ms":..,"p99_ms":..}: rate = n / (the smallest "ts" seen
 *       -> the last message), latency = arrival - "ts" (results pass the event's ts through).
 *   mq_tool dump HOST PORT FILTER CLIENT N TIMEOUT_S
 *       subscribes at QoS 1 with a persistent session CLIENT (clean session off: what arrives
 *       while it is away is kept for it, and it reconnects by itself across a broker restart)
 *       and prints each message's payload as one line on stdout, until N messages (0: just
 *       create the session and exit) or TIMEOUT_S seconds without one; exit 0 when N came.
 *   mq_tool ceiling HOST PORT N
 *       the raw QoS 1 rate with no model: one publisher and one subscriber (each its own
 *       connection and network thread) on one topic, N ~250-byte messages published without
 *       waiting; rate = N / (first publish -> last message received and last PUBACK).
 *       Prints {"n":..,"received":..,"rate":..}; exit 1 on a lost message.
 */
#include <mosquitto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    struct timespec t = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&t, NULL);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long acked, received, connected, subscribed;
static int dumping; /* dump: print payloads */
static int64_t last_rx_ns, min_ts_ns = INT64_MAX;
static double *lat_ms;
static long lat_cap;

static void on_connect(struct mosquitto *m, void *o, int rc)
{
    (void)m, (void)o;
    if (rc) fprintf(stderr, "mq_tool: connection refused: %s\n", mosquitto_connack_string(rc));
    pthread_mutex_lock(&mu);
    if (!rc) connected++;
    pthread_mutex_unlock(&mu);
}
static void on_publish(struct mosquitto *m, void *o, int mid)
{
    (void)m, (void)o, (void)mid;
    pthread_mutex_lock(&mu);
    acked++;
    pthread_mutex_unlock(&mu);
}
static void on_subscribe(struct mosquitto *m, void *o, int mid, int n, const int *q)
{
    (void)m, (void)o, (void)mid;
    pthread_mutex_lock(&mu);
    subscribed = n == 1 && q[0] == 1 ? 1 : -1;
    pthread_mutex_unlock(&mu);
}
/* a result or reading: its "ts" member (our CLOCK_MONOTONIC ns) gives the latency */
static void on_message(struct mosquitto *m, void *o, const struct mosquitto_message *msg)
{
    (void)m, (void)o;
    int64_t now = mono_ns();
    const char *p = msg->payload, *e = p + msg->payloadlen;
    int64_t ts = -1;
    for (const char *q = p; q + 6 < e; q++)
        if (memcmp(q, "\"ts\":\"", 6) == 0) {
            ts = strtoll(q + 6, NULL, 10);
            break;
        }
    pthread_mutex_lock(&mu);
    if (dumping) {
        fwrite(msg->payload, 1, (size_t)msg->payloadlen, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    if (ts > 0) {
        if (ts < min_ts_ns) min_ts_ns = ts;
        if (received < lat_cap) lat_ms[received] = (double)(now - ts) / 1e6;
    }
    received++;
    last_rx_ns = now;
    pthread_mutex_unlock(&mu);
}

static long get(long *v)
{
    pthread_mutex_lock(&mu);
    long x = *v;
    pthread_mutex_unlock(&mu);
    return x;
}

static struct mosquitto *client(const char *id, int clean, const char *h, int port)
{
    struct mosquitto *m = mosquitto_new(id, clean, NULL);
    if (!m) exit(2);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(m, 1000);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    mosquitto_reconnect_delay_set(m, 1, 2, false);
    int rc = mosquitto_connect(m, h, port, 30);
    if (rc) {
        fprintf(stderr, "mq_tool: connect %s:%d: %s\n", h, port, mosquitto_strerror(rc));
        exit(1);
    }
    mosquitto_loop_start(m);
    for (int i = 0; i < 500 && get(&connected) == 0; i++) sleep_ns(10000000);
    return m;
}

/* Wait until `acked` reaches n, or `secs` pass without progress. */
static int wait_acked(long n, int secs)
{
    long last = -1;
    int64_t t = mono_ns();
    for (;;) {
        long a = get(&acked);
        if (a >= n) return 1;
        if (a != last) last = a, t = mono_ns();
        if (mono_ns() - t > (int64_t)secs * 1000000000LL) return 0;
        sleep_ns(5000000);
    }
}

static void pace(long i, double rate, int64_t t0)
{
    if (rate > 0) sleep_ns(t0 + (int64_t)((double)i * 1e9 / rate) - mono_ns());
}

static int cmd_pub(const char *h, int port, const char *id, double rate)
{
    struct mosquitto *m = client(id, 0, h, port);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long sent = 0;
    int64_t t0 = mono_ns();
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        pace(sent, rate, t0);
        /* NO_CONN: the message is queued in the client and sent after the reconnect */
        int rc = mosquitto_publish(m, NULL, line, (int)(n - (sp + 1 - line)), sp + 1, 1, false);
        if (rc && rc != MOSQ_ERR_NO_CONN) fprintf(stderr, "mq_tool: publish: %s\n", mosquitto_strerror(rc));
        sent++;
    }
    free(line);
    int ok = wait_acked(sent, 120);
    fprintf(stderr, "published %ld acked %ld\n", sent, get(&acked));
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    return ok ? 0 : 1;
}

static int cmd_flood(const char *h, int port, const char *topic, long n, double rate, const char *rows_path)
{
    FILE *f = fopen(rows_path, "r");
    if (!f) return 2;
    char **rows = NULL, *line = NULL;
    size_t cap = 0, nrows = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n') line[len - 1] = 0;
        rows = realloc(rows, (nrows + 1) * sizeof *rows);
        rows[nrows++] = strdup(line);
    }
    fclose(f);
    free(line);
    if (!nrows) return 2;
    char id[64];
    snprintf(id, sizeof id, "mq_tool-flood-%d", (int)getpid());
    struct mosquitto *m = client(id, 1, h, port);
    char buf[8192];
    int64_t t0 = mono_ns();
    for (long i = 0; i < n; i++) {
        pace(i, rate, t0);
        int k = snprintf(buf, sizeof buf, "{\"ts\":\"%lld\",\"values\":[%s]}", (long long)mono_ns(), rows[i % (long)nrows]);
        int rc;
        while ((rc = mosquitto_publish(m, NULL, topic, k, buf, 1, false)) == MOSQ_ERR_OVERSIZE_PACKET) return 2;
    }
    int ok = wait_acked(n, 60);
    fprintf(stderr, "flood: published %ld acked %ld in %.3f s\n", n, get(&acked), (double)(mono_ns() - t0) / 1e9);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    return ok ? 0 : 1;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_collect(const char *h, int port, const char *filter, long n, int timeout_s)
{
    lat_cap = n;
    lat_ms = calloc((size_t)n, sizeof *lat_ms);
    char id[64];
    snprintf(id, sizeof id, "mq_tool-collect-%d", (int)getpid());
    struct mosquitto *m = client(id, 1, h, port);
    mosquitto_subscribe(m, NULL, filter, 1);
    for (int i = 0; i < 500 && get(&subscribed) == 0; i++) sleep_ns(10000000);
    fprintf(stderr, "collect: subscribed\n");
    long last = -1;
    int64_t t = mono_ns();
    while (get(&received) < n && mono_ns() - t < (int64_t)timeout_s * 1000000000LL) {
        long r = get(&received);
        if (r != last) last = r, t = mono_ns();
        sleep_ns(5000000);
    }
    pthread_mutex_lock(&mu);
    long got = received < n ? received : n;
    long nl = 0;
    for (long i = 0; i < got; i++)
        if (lat_ms[i] > 0) lat_ms[nl++] = lat_ms[i];
    qsort(lat_ms, (size_t)nl, sizeof *lat_ms, dcmp);
    double secs = (double)(last_rx_ns - min_ts_ns) / 1e9;
    printf("{\"n\":%ld,\"rate\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", received, secs > 0 ? (double)received / secs : 0,
           nl ? lat_ms[nl / 2] : 0, nl ? lat_ms[(long)((double)nl * 0.99)] : 0);
    pthread_mutex_unlock(&mu);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    return received >= n ? 0 : 1;
}

static int cmd_dump(const char *h, int port, const char *filter, const char *id, long n, int timeout_s)
{
    dumping = 1;
    struct mosquitto *m = client(id, 0, h, port);
    mosquitto_subscribe(m, NULL, filter, 1);
    for (int i = 0; i < 500 && get(&subscribed) == 0; i++) sleep_ns(10000000);
    if (get(&subscribed) != 1) {
        fprintf(stderr, "mq_tool: no QoS 1 subscription to %s\n", filter);
        return 1;
    }
    long last = -1;
    int64_t t = mono_ns();
    while (n > 0 && get(&received) < n && mono_ns() - t < (int64_t)timeout_s * 1000000000LL) {
        long r = get(&received);
        if (r != last) last = r, t = mono_ns();
        sleep_ns(5000000);
    }
    long got = get(&received);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    fprintf(stderr, "dump: %ld messages\n", got);
    return got >= n ? 0 : 1;
}

static int cmd_ceiling(const char *h, int port, long n)
{
    char ids[2][64];
    snprintf(ids[0], sizeof ids[0], "mq_tool-csub-%d", (int)getpid());
    snprintf(ids[1], sizeof ids[1], "mq_tool-cpub-%d", (int)getpid());
    struct mosquitto *sub = client(ids[0], 1, h, port);
    mosquitto_subscribe(sub, NULL, "mq_tool/ceiling", 1);
    for (int i = 0; i < 500 && get(&subscribed) == 0; i++) sleep_ns(10000000);
    struct mosquitto *pub = client(ids[1], 1, h, port);
    char buf[300];
    memset(buf, 'x', sizeof buf);
    int64_t t0 = mono_ns();
    for (long i = 0; i < n; i++) {
        int k = snprintf(buf, 40, "%ld ", i);
        buf[k] = 'x';
        mosquitto_publish(pub, NULL, "mq_tool/ceiling", 250, buf, 1, false);
    }
    wait_acked(n, 30);
    long last = -1;
    int64_t t = mono_ns();
    while (get(&received) < n && mono_ns() - t < 5000000000LL) {
        long r = get(&received);
        if (r != last) last = r, t = mono_ns();
        sleep_ns(1000000);
    }
    double secs = (double)(last_rx_ns - t0) / 1e9;
    printf("{\"n\":%ld,\"received\":%ld,\"acked\":%ld,\"rate\":%.0f}\n", n, get(&received), get(&acked),
           secs > 0 ? (double)get(&received) / secs : 0);
    return get(&received) == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    mosquitto_lib_init();
    if (argc >= 5 && strcmp(argv[1], "pub") == 0)
        return cmd_pub(argv[2], atoi(argv[3]), argv[4], argc > 5 ? atof(argv[5]) : 0);
    if (argc == 8 && strcmp(argv[1], "flood") == 0)
        return cmd_flood(argv[2], atoi(argv[3]), argv[4], atol(argv[5]), atof(argv[6]), argv[7]);
    if (argc == 7 && strcmp(argv[1], "collect") == 0)
        return cmd_collect(argv[2], atoi(argv[3]), argv[4], atol(argv[5]), atoi(argv[6]));
    if (argc == 8 && strcmp(argv[1], "dump") == 0)
        return cmd_dump(argv[2], atoi(argv[3]), argv[4], argv[5], atol(argv[6]), atoi(argv[7]));
    if (argc == 5 && strcmp(argv[1], "ceiling") == 0) return cmd_ceiling(argv[2], atoi(argv[3]), atol(argv[4]));
    fprintf(stderr, "usage: mq_tool pub|flood|collect|dump|ceiling ... (see tests/stream/mq_tool.c)\n");
    return 2;
}
