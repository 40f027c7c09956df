/* bt_progress.h: what a batch job shows while it runs. On a terminal (stderr is a tty) a bar
 * redrawn at most 10 times a second: percent and ETA when the input's size is known (files),
 * rows, rejects and rows/s always. Elsewhere (a pipe, a log file, a timer unit) nothing while
 * running: the caller prints one summary line at the end. */
#ifndef BT_PROGRESS_H
#define BT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct bt_progress {
    FILE *f;
    int on;          /* drawing a bar */
    double t0, last; /* monotonic seconds */
    int64_t total;   /* input bytes, or -1 */
    int64_t base_rows; /* rows a resumed run had before this process */
} bt_progress;

double bt_now(void); /* monotonic seconds */
/* mode: 1 always draw, 0 never, -1 when `f` is a terminal. */
void bt_progress_start(bt_progress *p, FILE *f, int mode, int64_t total_bytes);
void bt_progress_update(bt_progress *p, int64_t rows, int64_t rejected, int64_t bytes_done);
void bt_progress_finish(bt_progress *p); /* erase the bar */
/* "1,234,567" into dst (32 bytes). */
const char *bt_fmt_count(char *dst, int64_t v);

#endif
