/* kmock.c: a Kafka cluster for the tests and the Kafka bench: librdkafka's own mock cluster
 * (rdkafka_mock.h), a set of brokers speaking the Kafka protocol on loopback, kept alive by this
 * small process. Debian 12 packages no Kafka broker; this is how the kafka:// queue backend is
 * tested (docs/queue-kafka.md).
 *
 *   kmock [--brokers N]      (default 3)
 *
 * Prints the bootstrap servers ("127.0.0.1:p1,127.0.0.1:p2,...") as its first line on stdout,
 * then reads fault commands, one a line, from stdin, answering each with "ok" or "error: ..."
 * (so a test knows the fault is in place before it goes on):
 *
 *   down ID            broker ID (1..N) drops its connections and refuses new ones (no leader
 *                      change: its partitions are unavailable until "up ID")
 *   up ID              the broker accepts connections again
 *   rtt ID MS          broker ID answers every request MS ms late
 *   errors API N ERR   the next N requests of API (Produce, Fetch, OffsetCommit, JoinGroup,
 *                      Heartbeat, FindCoordinator, Metadata, ... or the number) fail with the
 *                      Kafka error code ERR (e.g. 6 NOT_LEADER, 7 REQUEST_TIMED_OUT, 15
 *                      COORDINATOR_NOT_AVAILABLE), on whichever broker gets them
 *   topic NAME PARTS   create a topic with PARTS partitions (replication min(3, N))
 *   leader TOPIC PART ID   move a partition's leader to broker ID
 *   raw TOPIC PART TEXT    produce TEXT as a message's value, as a foreign producer would
 *                          (answered once it is delivered)
 *
 * Exits on EOF of stdin, SIGTERM or SIGINT. The mock keeps everything in memory: its topics
 * and committed offsets live only as long as this process. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig, g_stop = 1; }

/* The request types a test may want to fail, by the name Kafka's protocol gives them. */
static int api_key(const char *s)
{
    static const struct { const char *name; int key; } apis[] = {
        {"Produce", 0},       {"Fetch", 1},           {"ListOffsets", 2},
        {"Metadata", 3},      {"OffsetCommit", 8},    {"OffsetFetch", 9},
        {"FindCoordinator", 10}, {"JoinGroup", 11},   {"Heartbeat", 12},
        {"LeaveGroup", 13},   {"SyncGroup", 14},      {"InitProducerId", 22},
    };
    for (size_t i = 0; i < sizeof apis / sizeof *apis; i++)
        if (strcasecmp(s, apis[i].name) == 0) return apis[i].key;
    char *e;
    long k = strtol(s, &e, 10);
    return *s && !*e && k >= 0 && k < 100 ? (int)k : -1;
}

static void answer(rd_kafka_resp_err_t e)
{
    if (e) printf("error: %s\n", rd_kafka_err2str(e));
    else printf("ok\n");
    fflush(stdout);
}

/* A producer of this process's own, for "raw": made on first use. */
static rd_kafka_resp_err_t produce_raw(rd_kafka_mock_cluster_t *mc, const char *topic, int part,
                                       const char *text)
{
    static rd_kafka_t *p;
    char e[256];
    if (!p) {
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_conf_set(c, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), e, sizeof e);
        if (!(p = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e))) return RD_KAFKA_RESP_ERR__FAIL;
    }
    rd_kafka_resp_err_t r = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                              RD_KAFKA_V_VALUE((void *)text, strlen(text)),
                                              RD_KAFKA_V_END);
    return r ? r : rd_kafka_flush(p, 10000);
}

static void command(rd_kafka_mock_cluster_t *mc, char *line, int nbrokers)
{
    int off = 0;
    char a[256] = "", b[256] = "";
    int id = 0, n = 0, code = 0;
    if (sscanf(line, "down %d", &id) == 1 || sscanf(line, "up %d", &id) == 1) {
        if (id < 1 || id > nbrokers) return (void)printf("error: no broker %d\n", id), (void)fflush(stdout);
        answer(line[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, id)
                              : rd_kafka_mock_broker_set_up(mc, id));
    } else if (sscanf(line, "rtt %d %d", &id, &n) == 2) {
        answer(rd_kafka_mock_broker_set_rtt(mc, id, n));
    } else if (sscanf(line, "errors %255s %d %d", a, &n, &code) == 3) {
        int key = api_key(a);
        if (key < 0 || n < 1 || n > 10000)
            return (void)printf("error: bad errors command '%s'\n", line), (void)fflush(stdout);
        rd_kafka_resp_err_t *errs = malloc((size_t)n * sizeof *errs);
        if (!errs) return (void)printf("error: out of memory\n"), (void)fflush(stdout);
        for (int i = 0; i < n; i++) errs[i] = (rd_kafka_resp_err_t)code;
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)key, (size_t)n, errs);
        free(errs);
        answer(RD_KAFKA_RESP_ERR_NO_ERROR);
    } else if (sscanf(line, "topic %255s %d", a, &n) == 2) {
        answer(rd_kafka_mock_topic_create(mc, a, n, nbrokers < 3 ? nbrokers : 3));
    } else if (sscanf(line, "leader %255s %d %d", b, &n, &id) == 3) {
        answer(rd_kafka_mock_partition_set_leader(mc, b, n, id));
    } else if (sscanf(line, "raw %255s %d %n", a, &n, &off) == 2 && off > 0) {
        answer(produce_raw(mc, a, n, line + off));
    } else {
        printf("error: unknown command '%s' (down, up, rtt, errors, topic, leader, raw)\n", line);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    int nbrokers = 3;
    if (argc == 3 && strcmp(argv[1], "--brokers") == 0) nbrokers = atoi(argv[2]);
    if ((argc != 1 && argc != 3) || nbrokers < 1 || nbrokers > 9) {
        fprintf(stderr, "usage: kmock [--brokers N]   (1 to 9; commands on stdin: see kmock.c)\n");
        return 2;
    }
    struct sigaction sa = {0}; /* no SA_RESTART: the signal ends the fgets below */
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    /* the mock needs a handle for its book keeping; it serves other processes' clients */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) return fprintf(stderr, "kmock: %s\n", errstr), 1;
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (!mc) return fprintf(stderr, "kmock: cannot create the mock cluster\n"), 1;
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[1024];
    while (!g_stop && fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && line[0] != '#') command(mc, line, nbrokers);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
