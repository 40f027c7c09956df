/* tcp_proxy.c: the fault tests' loopback TCP proxy: forwards connections to a target and, on
 * command, cuts them (a network failure between a worker and its broker), then heals.
 *
 *   tcp_proxy TARGET_HOST TARGET_PORT [LISTEN_PORT]
 *
 * Listens on 127.0.0.1 (LISTEN_PORT, or a free port from the kernel) and prints "port N" on
 * stdout once it accepts. Each accepted connection gets its own connection to the target
 * (refused at once when the target is down, as the broker itself would be). Commands, one a
 * line on stdin, or signals (for a shell that holds only the PID):
 *
 *   cut       close every connection with a reset (SO_LINGER 0: the peer reads ECONNRESET,
 *             not a clean EOF) and stop listening, so new connects are refused;  SIGUSR1
 *   cut MS    the same, healed by itself after MS milliseconds
 *   heal      listen again on the same port;                                   SIGUSR2
 *   quit      close everything and exit 0 (as does EOF on stdin when stdin is not a terminal,
 *             unless -k was given: "tcp_proxy -k ..." keeps running on EOF, for a shell that
 *             starts it in the background with stdin from /dev/null)
 *
 * Each command is answered on stdout ("cut", "healed", ...) once done. One thread, poll(2);
 * each direction has a buffer and is read only when the buffer is empty, so a slow reader
 * holds its writer back as a real network does. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define BUF 65536

typedef struct pipe_dir { /* bytes read from one side, not yet written to the other */
    char buf[BUF];
    size_t len, off;
} pipe_dir;

typedef struct conn {
    int fd[2];        /* 0: the client, 1: the target */
    pipe_dir dir[2];  /* dir[i]: read from fd[i], written to fd[1 - i] */
    int eof[2];       /* fd[i] has sent EOF (shut down the other side's write when flushed) */
} conn;

static conn *conns[MAX_CONNS];
static int lfd = -1, lport;
static struct sockaddr_storage target;
static socklen_t target_len;
static volatile sig_atomic_t sig_cut, sig_heal;
static long long heal_at_ms; /* 0: no timed heal pending */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *what)
{
    printf("%s\n", what);
    fflush(stdout);
}

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Close with a reset, not a FIN: what a cut cable or a middlebox timing out looks like. */
static void close_rst(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void conn_drop(int i, int rst)
{
    conn *c = conns[i];
    for (int s = 0; s < 2; s++) rst ? close_rst(c->fd[s]) : (void)close(c->fd[s]);
    free(c);
    conns[i] = NULL;
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 128) ||
        getsockname(fd, (struct sockaddr *)&a, &al)) {
        close(fd);
        return -1;
    }
    nonblock(fd);
    lport = ntohs(a.sin_port);
    return fd;
}

static void cut(long ms)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i]) conn_drop(i, 1);
    if (lfd >= 0) close(lfd), lfd = -1;
    heal_at_ms = ms > 0 ? now_ms() + ms : 0;
    say("cut");
}

static int heal(void)
{
    heal_at_ms = 0;
    if (lfd < 0) {
        /* the port was ours a moment ago; SO_REUSEADDR lets it be bound again at once */
        for (int tries = 0; lfd < 0 && tries < 50; tries++) {
            lfd = listen_on(lport);
            if (lfd < 0) usleep(20000);
        }
        if (lfd < 0) return fprintf(stderr, "tcp_proxy: cannot listen on %d again: %s\n", lport, strerror(errno)), -1;
    }
    say("healed");
    return 0;
}

static void accept_one(void)
{
    int cfd = accept(lfd, NULL, NULL);
    if (cfd < 0) return;
    int slot = 0;
    while (slot < MAX_CONNS && conns[slot]) slot++;
    int tfd = slot < MAX_CONNS ? socket(target.ss_family, SOCK_STREAM, 0) : -1;
    /* a blocking connect: on loopback it is answered at once, refused when the target is down */
    if (tfd < 0 || connect(tfd, (struct sockaddr *)&target, target_len) != 0) {
        if (tfd >= 0) close(tfd);
        close_rst(cfd);
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(tfd), close_rst(cfd);
        return;
    }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    nonblock(cfd), nonblock(tfd);
    c->fd[0] = cfd, c->fd[1] = tfd;
    conns[slot] = c;
}

/* Move what can be moved on connection i; -1 when it is finished (both sides done or an error). */
static int pump(conn *c, const short *rev)
{
    for (int s = 0; s < 2; s++) /* a reset, or both directions closed: nothing more to move */
        if ((rev[s] & POLLERR) || ((rev[s] & POLLHUP) && c->eof[s])) return -1;
    for (int s = 0; s < 2; s++) {
        pipe_dir *d = &c->dir[s];
        if ((rev[s] & (POLLIN | POLLHUP | POLLERR)) && d->len == 0 && !c->eof[s]) {
            ssize_t n = read(c->fd[s], d->buf, BUF);
            if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
            if (n == 0) c->eof[s] = 1;
            if (n > 0) d->len = (size_t)n, d->off = 0;
        }
        if (d->len > d->off) {
            ssize_t n = write(c->fd[1 - s], d->buf + d->off, d->len - d->off);
            if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
            if (n > 0) d->off += (size_t)n;
            if (d->off == d->len) d->len = d->off = 0;
        }
        if (c->eof[s] == 1 && d->len == 0) {
            shutdown(c->fd[1 - s], SHUT_WR);
            c->eof[s] = 2;
        }
    }
    return c->eof[0] == 2 && c->eof[1] == 2 ? -1 : 0;
}

/* One command line; 1 to quit. */
static int command(char *line)
{
    line[strcspn(line, "\r\n")] = 0;
    if (!strcmp(line, "quit")) return 1;
    if (!strcmp(line, "heal")) heal();
    else if (!strncmp(line, "cut", 3) && (line[3] == 0 || line[3] == ' ')) cut(line[3] ? atol(line + 4) : 0);
    else if (line[0]) fprintf(stderr, "tcp_proxy: unknown command '%s' (cut [MS], heal, quit)\n", line);
    return 0;
}

static void on_sig(int s) { *(s == SIGUSR1 ? &sig_cut : &sig_heal) = 1; }

static int resolve(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
    memcpy(&target, res->ai_addr, res->ai_addrlen);
    target_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int main(int argc, char **argv)
{
    int keep = argc > 1 && !strcmp(argv[1], "-k");
    argv += keep, argc -= keep;
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: tcp_proxy [-k] TARGET_HOST TARGET_PORT [LISTEN_PORT]\n"
                        "  stdin: cut [MS] | heal | quit;  SIGUSR1 cut, SIGUSR2 heal\n");
        return 2;
    }
    if (resolve(argv[1], argv[2])) return fprintf(stderr, "tcp_proxy: cannot resolve %s:%s\n", argv[1], argv[2]), 2;
    if ((lfd = listen_on(argc == 4 ? atoi(argv[3]) : 0)) < 0)
        return fprintf(stderr, "tcp_proxy: cannot listen: %s\n", strerror(errno)), 2;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGUSR1, &sa, NULL), sigaction(SIGUSR2, &sa, NULL);
    printf("port %d\n", lport);
    fflush(stdout);
    int in_open = 1;
    char line[256];
    size_t llen = 0;
    for (;;) {
        if (sig_cut) sig_cut = 0, cut(0);
        if (sig_heal) sig_heal = 0, heal();
        if (heal_at_ms && now_ms() >= heal_at_ms) heal();
        struct pollfd p[2 + 2 * MAX_CONNS];
        int who[2 + 2 * MAX_CONNS], np = 0;
        if (in_open) p[np] = (struct pollfd){0, POLLIN, 0}, who[np++] = -1;
        if (lfd >= 0) p[np] = (struct pollfd){lfd, POLLIN, 0}, who[np++] = -2;
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = conns[i];
            if (!c) continue;
            for (int s = 0; s < 2; s++) {
                short ev = 0;
                if (c->dir[s].len == 0 && !c->eof[s]) ev |= POLLIN;       /* room to read side s */
                if (c->dir[1 - s].len > c->dir[1 - s].off) ev |= POLLOUT; /* bytes for side s */
                p[np] = (struct pollfd){c->fd[s], ev, 0}, who[np++] = i * 2 + s;
            }
        }
        int timeout = heal_at_ms ? (int)(heal_at_ms - now_ms() > 0 ? heal_at_ms - now_ms() : 0) : 1000;
        if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) return perror("tcp_proxy: poll"), 1;
        short rev[MAX_CONNS][2] = {{0}};
        for (int k = 0; k < np; k++) {
            if (!p[k].revents) continue;
            if (who[k] == -1) {
                ssize_t n = read(0, line + llen, sizeof line - 1 - llen);
                if (n <= 0) {
                    in_open = 0;
                    if (!keep) break;
                    continue;
                }
                llen += (size_t)n;
                line[llen] = 0;
                char *nl;
                while ((nl = strchr(line, '\n'))) {
                    *nl = 0;
                    if (command(line)) goto quit;
                    llen -= (size_t)(nl + 1 - line);
                    memmove(line, nl + 1, llen + 1);
                }
                if (llen == sizeof line - 1) llen = 0; /* an overlong line: dropped */
            } else if (who[k] == -2) {
                accept_one();
            } else {
                rev[who[k] / 2][who[k] % 2] = p[k].revents;
            }
        }
        if (!in_open && !keep) break;
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i] && (rev[i][0] || rev[i][1]) && pump(conns[i], rev[i]) < 0) conn_drop(i, 0);
    }
quit:
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i]) conn_drop(i, 0);
    if (lfd >= 0) close(lfd);
    say("bye");
    return 0;
}
