/* tcp_proxy_test.c: tcp_proxy's own test, against an echo server of its own (a thread here):
 * bytes pass both ways unchanged (1 MiB of pseudo-random bytes, several connections at once),
 * "cut" resets open connections and refuses new ones, "heal" accepts again, "cut MS" heals by
 * itself, SIGUSR1/SIGUSR2 do the same as the commands, and a target that is down is a refused
 * (reset) connection, not a hang.
 *
 *   tcp_proxy_test PATH/TO/tcp_proxy        ends "N passed, N failed" */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pass, fail;
static void check(int ok, const char *what)
{
    printf("%s - proxy: %s\n", ok ? "ok" : "FAIL", what);
    ok ? pass++ : fail++;
}

/* ---- the echo server ------------------------------------------------------------------- */

static int echo_lfd, echo_port;

static void *echo_conn(void *arg)
{
    int fd = (int)(long)arg;
    char b[8192];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, b + off, (size_t)(n - off));
            if (w <= 0) goto out;
            off += w;
        }
out:
    close(fd);
    return NULL;
}

static void *echo_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(echo_lfd, NULL, NULL);
        if (fd < 0) return NULL; /* the listener was shut down */
        pthread_t t;
        pthread_create(&t, NULL, echo_conn, (void *)(long)fd);
        pthread_detach(t);
    }
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&a, &al))
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* ---- the proxy under test -------------------------------------------------------------- */

static FILE *to_proxy, *from_proxy;
static pid_t proxy_pid;
static int proxy_port;

static int start_proxy(const char *bin, int target_port)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return -1;
    proxy_pid = fork();
    if (proxy_pid == 0) {
        dup2(in[0], 0), dup2(out[1], 1);
        close(in[1]), close(out[0]);
        char tp[16];
        snprintf(tp, sizeof tp, "%d", target_port);
        execl(bin, bin, "127.0.0.1", tp, (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    to_proxy = fdopen(in[1], "w");
    from_proxy = fdopen(out[0], "r");
    char line[64];
    if (!fgets(line, sizeof line, from_proxy) || sscanf(line, "port %d", &proxy_port) != 1) return -1;
    return 0;
}

/* Send a command and wait for its answer line. */
static int tell(const char *cmd, const char *answer)
{
    fprintf(to_proxy, "%s\n", cmd);
    fflush(to_proxy);
    char line[64];
    return fgets(line, sizeof line, from_proxy) && !strncmp(line, answer, strlen(answer)) ? 0 : -1;
}

static int wait_line(const char *answer)
{
    char line[64];
    return fgets(line, sizeof line, from_proxy) && !strncmp(line, answer, strlen(answer)) ? 0 : -1;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)proxy_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {3, 0}; /* a test that hangs is a failure, not a stuck CI run */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Write n pseudo-random bytes and read them back; 0 when they came back the same. */
static int roundtrip(int fd, size_t n, unsigned seed)
{
    unsigned char *a = malloc(n), *b = malloc(n);
    for (size_t i = 0; i < n; i++) seed = seed * 1103515245u + 12345u, a[i] = (unsigned char)(seed >> 16);
    size_t sent = 0, got = 0;
    int rc = 0;
    while (got < n && rc == 0) {
        struct pollfd p = {fd, POLLIN | (sent < n ? POLLOUT : 0), 0};
        if (poll(&p, 1, 3000) <= 0) rc = -1;
        if (rc == 0 && (p.revents & POLLOUT) && sent < n) {
            ssize_t w = write(fd, a + sent, n - sent > 16384 ? 16384 : n - sent);
            if (w > 0) sent += (size_t)w;
        }
        if (rc == 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(fd, b + got, n - got);
            if (r <= 0) rc = -1;
            else got += (size_t)r;
        }
    }
    if (rc == 0 && memcmp(a, b, n)) rc = -1;
    free(a), free(b);
    return rc;
}

/* 1 when fd's connection is gone: a read gives EOF or a reset within 3 s. */
static int gone(int fd)
{
    char c;
    ssize_t r = read(fd, &c, 1);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: tcp_proxy_test PATH/TO/tcp_proxy\n"), 2;
    signal(SIGPIPE, SIG_IGN);
    if ((echo_lfd = listen_any(&echo_port)) < 0) return perror("echo listen"), 1;
    pthread_t et;
    pthread_create(&et, NULL, echo_main, NULL);
    if (start_proxy(argv[1], echo_port)) {
        check(0, "starts and prints its port");
        printf("%d passed, %d failed\n", pass, fail);
        return 1;
    }
    check(proxy_port > 0, "starts and prints its port");

    int fds[4];
    int ok = 1;
    for (int i = 0; i < 4; i++) ok &= (fds[i] = dial()) >= 0;
    check(ok, "accepts 4 connections");
    ok = ok && roundtrip(fds[0], 1 << 20, 1) == 0;
    check(ok, "1 MiB passes through and back unchanged");
    for (int i = 1; i < 4; i++) ok = ok && roundtrip(fds[i], 1000 + i * 777, (unsigned)i) == 0;
    check(ok, "several connections at once, each its own bytes");

    check(tell("cut", "cut") == 0, "'cut' is answered");
    ok = 1;
    for (int i = 0; i < 4; i++) ok &= gone(fds[i]), close(fds[i]);
    check(ok, "cut: every open connection is dropped");
    int f = dial();
    check(f < 0 && errno == ECONNREFUSED, "cut: a new connection is refused");
    if (f >= 0) close(f);

    check(tell("heal", "healed") == 0, "'heal' is answered");
    f = dial();
    check(f >= 0 && roundtrip(f, 4096, 9) == 0, "healed: a new connection passes bytes");

    long long t0 = ms_now();
    check(tell("cut 300", "cut") == 0 && gone(f), "'cut 300' drops the connection");
    close(f);
    f = dial();
    check(f < 0, "'cut 300': refused during the cut");
    int healed = wait_line("healed") == 0;
    long long dt = ms_now() - t0;
    check(healed && dt >= 250 && dt < 3000, "'cut 300' heals by itself after about 300 ms");
    f = dial();
    check(f >= 0 && roundtrip(f, 4096, 10) == 0, "after the timed cut: bytes pass");

    kill(proxy_pid, SIGUSR1);
    check(wait_line("cut") == 0 && gone(f), "SIGUSR1 cuts");
    close(f);
    kill(proxy_pid, SIGUSR2);
    check(wait_line("healed") == 0 && (f = dial()) >= 0 && roundtrip(f, 100, 11) == 0, "SIGUSR2 heals");
    if (f >= 0) close(f);

    /* the target itself goes away: the proxy resets the client rather than hanging it */
    shutdown(echo_lfd, SHUT_RDWR);
    close(echo_lfd);
    pthread_join(et, NULL);
    f = dial();
    check(f < 0 || gone(f), "target down: the client's connection is reset, not left hanging");
    if (f >= 0) close(f);

    check(tell("quit", "bye") == 0, "'quit' is answered");
    int status = 0;
    waitpid(proxy_pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exits 0 on quit");
    printf("%d passed, %d failed\n", pass, fail);
    return fail ? 1 : 0;
}
