/* ag_state.c: STATE/state.json, read and written atomically (see ag_state.h). */
#define _GNU_SOURCE
#include "edge/agent/ag_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/bs_error.h"
#include "codec/codec_buf.h"

static int64_t num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static void str(const cJSON *o, const char *k, char *dst, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static void read_slot(const cJSON *o, ag_slot *s)
{
    s->version = num(o, "version");
    str(o, "sha256", s->sha256, sizeof s->sha256);
    str(o, "model_format", s->model_format, sizeof s->model_format);
    const cJSON *f, *fs = cJSON_GetObjectItemCaseSensitive(o, "features");
    cJSON_ArrayForEach(f, fs) {
        if (s->n_features == AG_MAX_FEATURES || !cJSON_IsString(f)) break;
        snprintf(s->features[s->n_features++], sizeof s->features[0], "%s", f->valuestring);
    }
}

ms_status ag_state_load(const char *dir, ag_state *s, ms_error *err)
{
    memset(s, 0, sizeof *s);
    s->active = -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/state.json", dir);
    mc_buf b = {0};
    if (access(path, F_OK) != 0 && errno == ENOENT) return MS_OK;
    ms_status st = mc_read_file(path, &b, err);
    if (st != MS_OK) return st;
    cJSON *r = cJSON_ParseWithLength(b.data, b.len);
    mc_buf_free(&b);
    if (!cJSON_IsObject(r)) {
        cJSON_Delete(r);
        return bs_fail(err, MS_ERR_INVALID, "'%s' is not a JSON object: the agent's state is damaged", path);
    }
    s->counter = num(r, "counter");
    s->active = (int)num(r, "active");
    if (s->active < -1 || s->active > 1) s->active = -1;
    s->trial = num(r, "trial") != 0;
    s->trial_runs = (int)num(r, "trial_runs");
    str(r, "etag", s->etag, sizeof s->etag);
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(r, "slots");
    for (int i = 0; i < 2; i++) read_slot(cJSON_GetArrayItem(sl, i), &s->slot[i]);
    const cJSON *q, *qs = cJSON_GetObjectItemCaseSensitive(r, "quarantine");
    cJSON_ArrayForEach(q, qs) {
        if (s->n_quarantine == AG_QUARANTINE_MAX) break;
        ag_quarantined *e = &s->quarantine[s->n_quarantine++];
        e->version = num(q, "version");
        e->at = num(q, "at");
        str(q, "sha256", e->sha256, sizeof e->sha256);
        str(q, "reason", e->reason, sizeof e->reason);
    }
    cJSON_Delete(r);
    return MS_OK;
}

static void put_slot(mc_buf *b, const ag_slot *s)
{
    mc_buf_printf(b, "{\"version\": %lld, \"sha256\": \"%s\", \"model_format\": \"%s\", \"features\": [", (long long)s->version,
                  s->sha256, s->model_format);
    for (int i = 0; i < s->n_features; i++) {
        if (i) mc_buf_puts(b, ", ");
        mc_buf_put_json_str(b, s->features[i]);
    }
    mc_buf_puts(b, "]}");
}

/* Write path.tmp, fsync it, rename it over path, fsync the directory. */
static ms_status write_durable(const char *dir, const char *path, const mc_buf *b, ms_error *err)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return bs_fail(err, MS_ERR_RUNTIME, "cannot write '%s': %s", tmp, strerror(errno));
    int ok = write(fd, b->data, b->len) == (ssize_t)b->len;
    int e = errno;
    ok = ok && fsync(fd) == 0;
    if (!ok) e = errno;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return bs_fail(err, MS_ERR_RUNTIME, "cannot write '%s': %s", path, strerror(e));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return MS_OK;
}

ms_status ag_state_save(const char *dir, const ag_state *s, ms_error *err)
{
    mc_buf b = {0};
    mc_buf_printf(&b, "{\"counter\": %lld, \"active\": %d, \"trial\": %d, \"trial_runs\": %d, \"etag\": ",
                  (long long)s->counter, s->active, s->trial, s->trial_runs);
    mc_buf_put_json_str(&b, s->etag);
    mc_buf_puts(&b, ",\n \"slots\": [");
    put_slot(&b, &s->slot[0]);
    mc_buf_puts(&b, ", ");
    put_slot(&b, &s->slot[1]);
    mc_buf_puts(&b, "],\n \"quarantine\": [");
    for (int i = 0; i < s->n_quarantine; i++) {
        const ag_quarantined *q = &s->quarantine[i];
        mc_buf_printf(&b, "%s{\"version\": %lld, \"sha256\": \"%s\", \"at\": %lld, \"reason\": ", i ? ", " : "",
                      (long long)q->version, q->sha256, (long long)q->at);
        mc_buf_put_json_str(&b, q->reason);
        mc_buf_putc(&b, '}');
    }
    mc_buf_puts(&b, "]}\n");
    char path[4200];
    snprintf(path, sizeof path, "%s/state.json", dir);
    ms_status st = mc_buf_failed(&b) ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : write_durable(dir, path, &b, err);
    mc_buf_free(&b);
    return st;
}

void ag_state_quarantine(ag_state *s, int64_t version, const char *sha256, const char *reason)
{
    if (s->n_quarantine == AG_QUARANTINE_MAX) {
        memmove(&s->quarantine[0], &s->quarantine[1], sizeof s->quarantine[0] * (AG_QUARANTINE_MAX - 1));
        s->n_quarantine--;
    }
    ag_quarantined *q = &s->quarantine[s->n_quarantine++];
    q->version = version;
    q->at = (int64_t)time(NULL);
    snprintf(q->sha256, sizeof q->sha256, "%s", sha256);
    snprintf(q->reason, sizeof q->reason, "%s", reason);
}

const ag_quarantined *ag_state_quarantined(const ag_state *s, int64_t version, const char *sha256)
{
    for (int i = 0; i < s->n_quarantine; i++)
        if (s->quarantine[i].version == version && strcmp(s->quarantine[i].sha256, sha256) == 0) return &s->quarantine[i];
    return NULL;
}
