/* sv_log.c: JSON-lines access log and stderr event log (see sv_log.h). One mutex serialises
 * writers so lines never interleave; each line is built in a local buffer first, so the lock
 * covers a single fwrite. */
#include "serve/sv_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "codec/codec_buf.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *access_file;

ms_status sv_log_open(const char *path, ms_error *err)
{
    if (!path) return MS_OK;
    FILE *f = fopen(path, "a");
    if (!f) return bs_fail(err, MS_ERR_RUNTIME, "cannot open access log '%s': %s", path, strerror(errno));
    pthread_mutex_lock(&log_mu);
    access_file = f;
    pthread_mutex_unlock(&log_mu);
    return MS_OK;
}

void sv_log_close(void)
{
    pthread_mutex_lock(&log_mu);
    if (access_file) fclose(access_file);
    access_file = NULL;
    pthread_mutex_unlock(&log_mu);
}

/* "2025-06-01T02:00:00.123Z" */
static void timestamp(char *dst, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(dst, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(dst + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void sv_log_access(const sv_access *a)
{
    if (!access_file) return; /* read without the lock: set once at start, cleared at exit */
    char ts[40];
    timestamp(ts, sizeof ts);
    mc_buf b = {0};
    mc_buf_puts(&b, "{\"ts\":\"");
    mc_buf_puts(&b, ts);
    mc_buf_puts(&b, "\",\"remote\":");
    mc_buf_put_json_str(&b, a->remote ? a->remote : "");
    mc_buf_puts(&b, ",\"method\":");
    mc_buf_put_json_str(&b, a->method ? a->method : "");
    mc_buf_puts(&b, ",\"path\":");
    mc_buf_put_json_str(&b, a->path ? a->path : "");
    mc_buf_printf(&b, ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_us\":%.1f",
                  a->status, (unsigned long long)a->bytes_in, (unsigned long long)a->bytes_out,
                  a->duration_us);
    mc_buf_puts(&b, ",\"route\":");
    mc_buf_put_json_str(&b, a->route ? a->route : "");
    if (a->model && a->model[0]) {
        mc_buf_puts(&b, ",\"model\":");
        mc_buf_put_json_str(&b, a->model);
    }
    if (a->version && a->version[0]) {
        mc_buf_puts(&b, ",\"version\":");
        mc_buf_put_json_str(&b, a->version);
    }
    if (a->error) {
        mc_buf_puts(&b, ",\"error\":");
        mc_buf_put_json_str(&b, a->error);
    }
    mc_buf_puts(&b, "}\n");
    if (!mc_buf_failed(&b)) {
        pthread_mutex_lock(&log_mu);
        if (access_file) {
            fwrite(b.data, 1, b.len, access_file);
            fflush(access_file);
        }
        pthread_mutex_unlock(&log_mu);
    }
    mc_buf_free(&b);
}

void sv_log_event(const char *fmt, ...)
{
    char ts[40], msg[1024];
    timestamp(ts, sizeof ts);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%s mlship serve: %s\n", ts, msg);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}
