/* csv_parse_bench.c: mc_parse_f32, mc_scan_f32 (the SWAR scanner of the one-pass row parser)
 * and mc_csv_parse_f32_row (that parser, on rows of 30 of the values) against strtof, for
 * exactness and speed, and mc_format_f32 round trips. Build and run (from the repository root):
 *     make build/libmlship_codec.a build/libmlship_base.a
 *     cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc bench/batch/csv_parse_bench.c \
 *        build/libmlship_codec.a build/libmlship_base.a -lm -o build/csv_parse_bench && build/csv_parse_bench 4000000
 * Value shapes: random float32 bit patterns printed with %.9g (shortest-ish, exponents
 * everywhere), uniform [-10,10) printed with %.7g (what a float32 CSV looks like), float64
 * uniform printed with %.17g (numpy/pandas to_csv), short decimals (%.3f), and uniform scaled
 * by 10^0 .. 10^-8 printed with %.7g (small magnitudes, exponents). Exit 1 on any
 * mismatch. Prints ns per value for each parser.
 *
 *     build/csv_parse_bench --file DATA.csv [THREADS]
 * measures the parse ceiling of a real file instead: the rows after the header (first column the
 * key, every other column a feature) split at newlines and parsed with mc_csv_parse_f32_row on 1
 * and on THREADS threads (default 2), each thread a contiguous part of the mapped file, nothing
 * else done with the values. One JSON line per thread count. */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec_csv.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- --file: split + parse only, the way bt_score parses a record ---- */

typedef struct part {
    const char *p, *e, *lim; /* rows [p, e); bytes up to lim readable */
    const int *map;
    int nmap;
    long rows, bad;
    double sum;
} part;

static void *parse_part(void *arg)
{
    part *t = arg;
    float out[1024];
    const char *p = t->p;
    while (p < t->e) {
        const char *nl = memchr(p, '\n', (size_t)(t->e - p));
        const char *re = nl ? nl : t->e;
        const char *key;
        size_t kn;
        if (mc_csv_parse_f32_row(p, re, nl ? t->lim : re, t->map, t->nmap, out, &key, &kn) == 0)
            t->sum += out[0] + (double)kn;
        else
            t->bad++;
        t->rows++;
        p = re + 1;
    }
    return NULL;
}

static double parse_file(const char *base, size_t size, int nthreads, const int *map, int nmap,
                         long *rows, long *bad)
{
    const char *body = memchr(base, '\n', size) + 1, *end = base + size;
    part parts[64];
    pthread_t th[64];
    const char *at = body;
    for (int i = 0; i < nthreads; i++) {
        const char *e = i == nthreads - 1 ? end : body + (size_t)(end - body) * (i + 1) / nthreads;
        if (e < end) { /* whole rows per part */
            const char *nl = memchr(e, '\n', (size_t)(end - e));
            e = nl ? nl + 1 : end;
        }
        parts[i] = (part){at, e, end, map, nmap, 0, 0, 0};
        at = e;
    }
    double t0 = now();
    for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, parse_part, &parts[i]);
    *rows = *bad = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        *rows += parts[i].rows;
        *bad += parts[i].bad;
    }
    return now() - t0;
}

static int file_mode(const char *path, int nthreads)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size == 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return 2;
    }
    const char *base = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED || !memchr(base, '\n', (size_t)sb.st_size)) return 2;
    int ncols = 1;
    for (const char *c = base; *c != '\n'; c++) ncols += *c == ',';
    if (ncols > 1024 || nthreads < 1 || nthreads > 64) return 2;
    int map[1025];
    map[0] = MC_CSV_KEY;
    for (int i = 1; i < ncols; i++) map[i] = i - 1;
    for (int t = 1; t <= nthreads; t = t == 1 && nthreads > 1 ? nthreads : nthreads + 1) {
        long rows, bad;
        double s = parse_file(base, (size_t)sb.st_size, t, map, ncols, &rows, &bad);
        printf("{\"file\":\"%s\",\"threads\":%d,\"rows\":%ld,\"bad_rows\":%ld,\"seconds\":%.3f,"
               "\"rows_per_s\":%.0f,\"mb_per_s\":%.0f,\"ns_per_value\":%.2f}\n",
               path, t, rows, bad, s, rows / s, sb.st_size / s / 1e6,
               s * t / ((double)rows * (ncols - 1)) * 1e9);
        if (bad) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--file") == 0)
        return file_mode(argv[2], argc > 3 ? atoi(argv[3]) : 2);
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *kinds[] = {"bits %.9g", "uniform %.7g", "float64 %.17g", "short %.3f",
                           "scaled %.7g"};
    int bad = 0;
    for (int k = 0; k < 5; k++) {
        char *text = malloc((size_t)n * 32);
        size_t *off = malloc((size_t)(n + 1) * sizeof *off), pos = 0;
        for (long i = 0; i < n; i++) {
            off[i] = pos;
            double u = (double)(next() >> 11) / 9007199254740992.0;
            if (k == 0) {
                uint32_t b;
                float f;
                do { b = (uint32_t)next(); memcpy(&f, &b, 4); } while (!isfinite(f));
                pos += (size_t)sprintf(text + pos, "%.9g", (double)f);
            } else if (k == 1) pos += (size_t)sprintf(text + pos, "%.7g", (double)(float)(20 * u - 10));
            else if (k == 2) pos += (size_t)sprintf(text + pos, "%.17g", 20 * u - 10);
            else if (k == 3) pos += (size_t)sprintf(text + pos, "%.3f", 2000 * u - 1000);
            else pos += (size_t)sprintf(text + pos, "%.7g",
                                        (double)(float)((20 * u - 10) * pow(10, -(int)(next() % 9))));
            text[pos++] = 0;
        }
        off[n] = pos;
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        float *c = malloc((size_t)n * sizeof *c);
        double t0 = now();
        for (long i = 0; i < n; i++) a[i] = strtof(text + off[i], NULL);
        double t1 = now();
        for (long i = 0; i < n; i++)
            if (mc_parse_f32(text + off[i], off[i + 1] - off[i] - 1, &b[i])) b[i] = -1;
        double t2 = now();
        /* the one-pass row parser's number scanner (SWAR digits), as bt_score uses it: the
         * text after the number readable, the whole field by mc_parse_f32 when it declines */
        long declined = 0;
        for (long i = 0; i < n; i++) {
            const char *e = mc_scan_f32(text + off[i], text + pos, &c[i]);
            if (e != text + off[i + 1] - 1) {
                declined++;
                if (mc_parse_f32(text + off[i], off[i + 1] - off[i] - 1, &c[i])) c[i] = -1;
            }
        }
        double t2b = now();
        /* the one-pass row parser itself: the values 30 to a row, "key,v0,...,v29\n" */
        enum { W = 30 };
        char *rows = malloc(pos + (size_t)n + 64);
        int map[W + 1];
        map[0] = MC_CSV_KEY;
        for (int f = 0; f < W; f++) map[f + 1] = W - 1 - f; /* reversed: any order works */
        float *d = malloc((size_t)n * sizeof *d);
        for (long i = 0; i < n; i++) d[i] = -1;
        double t2c = 0;
        for (long i0 = 0; i0 + W <= n; i0 += W) {
            size_t w = 0;
            memcpy(rows, "k,", 2);
            w = 2;
            for (int f = 0; f < W; f++) {
                size_t len = off[i0 + f + 1] - off[i0 + f] - 1;
                memcpy(rows + w, text + off[i0 + f], len);
                w += len;
                rows[w++] = f == W - 1 ? '\n' : ',';
            }
            memset(rows + w, 0, 16);
            float o[W];
            const char *key;
            size_t kn;
            double ta = now();
            int rc = mc_csv_parse_f32_row(rows, rows + w - 1, rows + w + 16, map, W + 1, o, &key, &kn);
            t2c += now() - ta;
            if (rc == 0)
                for (int f = 0; f < W; f++) d[i0 + f] = o[W - 1 - f];
        }
        free(rows);
        long mism = 0;
        for (long i = 0; i < n; i++)
            if (memcmp(&a[i], &b[i], 4) || memcmp(&a[i], &c[i], 4) ||
                (i < n / 30 * 30 && memcmp(&a[i], &d[i], 4))) {
                if (mism++ < 5)
                    fprintf(stderr, "MISMATCH '%s': strtof %.9g, mc_parse_f32 %.9g, mc_scan_f32 %.9g, "
                            "row %.9g\n", text + off[i], a[i], b[i], c[i], d[i]);
            }
        /* format round trip */
        long fbad = 0;
        char buf[40];
        double t3 = now();
        for (long i = 0; i < n; i++) {
            int len = mc_format_f32(buf, a[i]);
            float back = strtof(buf, NULL);
            if (len <= 0 || (back != a[i] && !(isnan(a[i])))) {
                if (fbad++ < 5) fprintf(stderr, "FORMAT %.9g -> '%s'\n", a[i], buf);
            }
        }
        double t4 = now();
        for (long i = 0; i < n; i++) snprintf(buf, sizeof buf, "%.9g", (double)a[i]);
        double t5 = now();
        printf("%-14s n=%ld strtof %.1f ns, mc_parse_f32 %.1f ns (%.1fx), mc_scan_f32 %.1f ns "
               "(%.1fx, %.2f%% declined), in rows %.1f ns, mismatches %ld; "
               "format+strtof %.1f ns, snprintf %%.9g %.1f ns, format failures %ld\n",
               kinds[k], n, (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9, (t1 - t0) / (t2 - t1),
               (t2b - t2) / n * 1e9, (t1 - t0) / (t2b - t2), 100.0 * declined / n, t2c / n * 1e9, mism,
               (t4 - t3) / n * 1e9, (t5 - t4) / n * 1e9, fbad);
        bad += mism > 0 || fbad > 0;
        free(text); free(off); free(a); free(b); free(c); free(d);
    }
    return bad ? 1 : 0;
}
