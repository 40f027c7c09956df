/* bt_progress.c: the progress bar (see bt_progress.h). */
#include "batch/bt_progress.h"
#include "base/bs_clock.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double bt_now(void) { return (double)bs_now_ns() * 1e-9; }

const char *bt_fmt_count(char *dst, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)(v < 0 ? -v : v));
    char *w = dst;
    if (v < 0) *w++ = '-';
    for (int i = 0; i < n; i++) {
        *w++ = tmp[i];
        if ((n - 1 - i) % 3 == 0 && i != n - 1) *w++ = ',';
    }
    *w = 0;
    return dst;
}

void bt_progress_start(bt_progress *p, FILE *f, int mode, int64_t total_bytes)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    p->on = mode == 1 || (mode < 0 && isatty(fileno(f)));
    p->t0 = bt_now();
    p->total = total_bytes;
}

void bt_progress_update(bt_progress *p, int64_t rows, int64_t rejected, int64_t bytes_done)
{
    if (!p->on) return;
    double t = bt_now();
    if (t - p->last < 0.1) return;
    p->last = t;
    double el = t - p->t0, rate = el > 0 ? (double)(rows - p->base_rows) / el : 0;
    char a[32], b[32], r[32], line[200];
    int k = 0;
    if (p->total > 0 && bytes_done >= 0) {
        double frac = (double)bytes_done / (double)p->total;
        if (frac > 1) frac = 1;
        int w = 24, fill = (int)(frac * w);
        line[k++] = '[';
        for (int i = 0; i < w; i++) line[k++] = i < fill ? '#' : '-';
        k += snprintf(line + k, sizeof line - (size_t)k, "] %3d%%", (int)(frac * 100));
        if (frac > 0.001) {
            double eta = el / frac - el;
            k += snprintf(line + k, sizeof line - (size_t)k, "  ETA %d:%02d", (int)eta / 60, (int)eta % 60);
        }
    }
    snprintf(line + k, sizeof line - (size_t)k, "  %s rows  %s rejected  %s rows/s",
             bt_fmt_count(a, rows), bt_fmt_count(b, rejected), bt_fmt_count(r, (int64_t)rate));
    fprintf(p->f, "\r%s\033[K", line);
    fflush(p->f);
}

void bt_progress_finish(bt_progress *p)
{
    if (!p->on) return;
    fprintf(p->f, "\r\033[K");
    fflush(p->f);
}
