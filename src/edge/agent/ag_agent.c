/* ag_agent.c: the device agent's start rules and update check (see ag_agent.h). */
#define _GNU_SOURCE
#include "edge/agent/ag_agent.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/bs_clock.h"
#include "base/bs_error.h"
#include "edge/agent/ag_cache.h"
#include "edge/agent/ag_golden.h"
#include "edge/agent/ag_manifest.h"
#include "edge/agent/ag_state.h"
#include "predict/pd_model.h"

#define PATH_CAP 4200

struct ag_agent {
    ag_opts o;
    ag_state st;
    pthread_mutex_t mu;       /* guards st and the report below (status reads them) */
    uint64_t trial_since_ns;  /* when the trial model started serving */
    int64_t last_check, last_ok; /* unix seconds */
    char last_result[300], last_error[600];
    int64_t last_error_at;
    uint64_t checks, installs, failures, quarantined, downloaded, resumed, reverts;
    ag_cache *cache;
    char cache_path[PATH_CAP];
    uint64_t synced_rows, sync_failures;
    double last_prove_ms, last_swap_ms; /* the last install: load+warm+golden, then the swap */
    char schema_seen[2048]; /* the schema last handed to on_schema */
};

static void slot_dir(const ag_agent *a, int slot, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s/slots/%c", a->o.state_dir, slot ? 'b' : 'a');
}

static void slot_model(const char *state_dir, int slot, const ag_slot *s, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s/slots/%c/%s", state_dir, slot ? 'b' : 'a', ag_model_file(s->model_format));
}

static ms_status mkdirs(const char *path, ms_error *err)
{
    char p[PATH_CAP];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return bs_fail(err, MS_ERR_RUNTIME, "cannot create '%s': %s", p, strerror(errno));
            *s = c;
            if (!c) break;
        }
    }
    return MS_OK;
}

/* Record the outcome of a step for status (and stderr, the agent's log). */
static void report_error(ag_agent *a, const char *msg)
{
    pthread_mutex_lock(&a->mu);
    snprintf(a->last_error, sizeof a->last_error, "%s", msg);
    snprintf(a->last_result, sizeof a->last_result, "error");
    a->last_error_at = (int64_t)time(NULL);
    a->failures++;
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "mlship agent: %s\n", msg);
}

static void report_ok(ag_agent *a, const char *fmt, int64_t v)
{
    pthread_mutex_lock(&a->mu);
    snprintf(a->last_result, sizeof a->last_result, fmt, (long long)v);
    a->last_ok = (int64_t)time(NULL);
    pthread_mutex_unlock(&a->mu);
}

static void save_state(ag_agent *a)
{
    ms_error err = {{0}};
    if (ag_state_save(a->o.state_dir, &a->st, &err) != MS_OK) report_error(a, err.msg);
}

static void quarantine(ag_agent *a, const ag_manifest *m, const char *why)
{
    char msg[700];
    snprintf(msg, sizeof msg, "version %lld quarantined: %s", (long long)m->version, why);
    pthread_mutex_lock(&a->mu);
    ag_state_quarantine(&a->st, m->version, m->sha256, why);
    a->quarantined++;
    pthread_mutex_unlock(&a->mu);
    save_state(a);
    report_error(a, msg);
}

/* Load, plan and warm the file, then run the golden inputs: the whole proof that it serves. */
static ms_status prove(const char *path, const char *golden, ms_error *err)
{
    pd_model *pm = NULL;
    ms_status st = pd_model_open(path, 1, &pm, err);
    if (st == MS_OK) st = pd_model_warm(pm, 1, err);
    if (st == MS_OK && golden) {
        ms_session *s = pd_pool_get(pm->pool, 1, err);
        if (!s) st = MS_ERR_RUNTIME;
        else {
            st = ag_golden_check(pm->model, s, golden, err);
            pd_pool_put(pm->pool, 1, s);
        }
    }
    pd_model_free(pm);
    return st;
}

/* The start rules: a trial model that has run twice unconfirmed is reverted; then the active
 * slot must still hash to its recorded SHA-256 and load, else the other slot serves. */
static void start_rules(ag_agent *a)
{
    ag_state *s = &a->st;
    if (s->active >= 0 && s->trial) {
        if (s->trial_runs >= 2) {
            ag_slot *bad = &s->slot[s->active];
            ag_state_quarantine(s, bad->version, bad->sha256, "reverted: the agent stopped twice with it before it was confirmed");
            a->quarantined++;
            a->reverts++;
            fprintf(stderr, "mlship agent: version %lld reverted: it did not survive two starts unconfirmed\n",
                    (long long)bad->version);
            s->active = s->slot[!s->active].version ? !s->active : -1;
            s->trial = 0;
        } else s->trial_runs++;
        save_state(a);
    }
    for (int tries = 0; s->active >= 0 && tries < 2; tries++) {
        char path[PATH_CAP], hex[AG_SHA_HEX];
        ag_slot *sl = &s->slot[s->active];
        slot_model(a->o.state_dir, s->active, sl, path, sizeof path);
        ms_error err = {{0}};
        ms_status st = ag_sha256_file(path, hex, &err);
        if (st == MS_OK && strcmp(hex, sl->sha256) != 0)
            st = bs_fail(&err, MS_ERR_INVALID, "'%s' no longer has its SHA-256 (the file changed on disk)", path);
        if (st == MS_OK) st = a->o.swap(a->o.swap_ctx, a->o.name, sl->version, path, &err);
        if (st == MS_OK) {
            a->trial_since_ns = bs_now_ns();
            return;
        }
        char msg[700];
        snprintf(msg, sizeof msg, "slot %c (version %lld) does not serve: %s", s->active ? 'b' : 'a',
                 (long long)sl->version, err.msg);
        report_error(a, msg);
        ag_state_quarantine(s, sl->version, sl->sha256, err.msg);
        s->trial = 0;
        s->active = s->slot[!s->active].version ? !s->active : -1;
        save_state(a);
    }
}

/* The serving slot's first feature table, if any. */
static const char *first_table(const ag_agent *a)
{
    const ag_state *s = &a->st;
    return s->active >= 0 && s->slot[s->active].n_features ? s->slot[s->active].features[0] : NULL;
}

/* Tell the caller the first table's schema when it is new (or changed). */
static void hand_schema(ag_agent *a)
{
    const char *t = first_table(a);
    char key[64], **cols = NULL, sig[sizeof a->schema_seen];
    int n = 0;
    ms_error err = {{0}};
    if (!t || !a->o.on_schema || ag_cache_schema(a->cache, t, key, sizeof key, &cols, &n, &err) != MS_OK) return;
    size_t used = (size_t)snprintf(sig, sizeof sig, "%s/%s", t, key);
    for (int i = 0; i < n && used < sizeof sig; i++) used += (size_t)snprintf(sig + used, sizeof sig - used, ",%s", cols[i]);
    if (strcmp(sig, a->schema_seen) != 0) {
        a->o.on_schema(a->o.schema_ctx, t, key, cols, n);
        snprintf(a->schema_seen, sizeof a->schema_seen, "%s", sig);
    }
    ag_cache_names_free(cols, n);
}

void ag_agent_sync(ag_agent *a)
{
    if (!a->o.features_url || a->st.active < 0) return;
    const ag_slot *sl = &a->st.slot[a->st.active];
    for (int i = 0; i < sl->n_features; i++) {
        int64_t changed = 0;
        ms_error err = {{0}};
        if (ag_cache_sync(a->cache, &a->o.fetch, a->o.features_url, sl->features[i], a->o.page_rows, &changed, &err) != MS_OK) {
            pthread_mutex_lock(&a->mu);
            a->sync_failures++;
            pthread_mutex_unlock(&a->mu);
            char msg[800];
            snprintf(msg, sizeof msg, "feature table '%s': %s", sl->features[i], err.msg);
            report_error(a, msg);
            continue;
        }
        pthread_mutex_lock(&a->mu);
        a->synced_rows += (uint64_t)changed;
        pthread_mutex_unlock(&a->mu);
    }
    hand_schema(a);
}

const char *ag_agent_cache_path(ag_agent *a) { return a->cache_path; }

ms_status ag_agent_feature_row(ag_agent *a, const char *table, const char *key, mc_buf *out, int *found, ms_error *err)
{
    return ag_cache_row_json(a->cache, table, key, out, found, err);
}

static void curl_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

ms_status ag_agent_open(const ag_opts *o, ag_agent **out, ms_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_once);
    ms_status st = ag_sign_init(err);
    if (st != MS_OK) return st;
    ag_agent *a = calloc(1, sizeof *a);
    if (!a) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    a->o = *o;
    pthread_mutex_init(&a->mu, NULL);
    char p[PATH_CAP];
    for (int i = 0; i < 2 && st == MS_OK; i++) {
        slot_dir(a, i, p, sizeof p);
        st = mkdirs(p, err);
    }
    if (st == MS_OK) st = ag_state_load(o->state_dir, &a->st, err);
    snprintf(a->cache_path, sizeof a->cache_path, "%s/features.db", o->state_dir);
    if (st == MS_OK) st = ag_cache_open(a->cache_path, &a->cache, err);
    if (st != MS_OK) { ag_agent_free(a); return st; }
    snprintf(a->last_result, sizeof a->last_result, "not checked yet");
    hand_schema(a); /* offline: keyed predictions read the cache as it is */
    start_rules(a);
    *out = a;
    return MS_OK;
}

void ag_agent_free(ag_agent *a)
{
    if (!a) return;
    ag_cache_free(a->cache);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int64_t ag_agent_serving(ag_agent *a)
{
    pthread_mutex_lock(&a->mu);
    int64_t v = a->st.active >= 0 ? a->st.slot[a->st.active].version : 0;
    pthread_mutex_unlock(&a->mu);
    return v;
}

static void url_of(const ag_agent *a, const char *rel, char *dst, size_t cap)
{
    size_t n = strlen(a->o.backend);
    snprintf(dst, cap, "%s%s%s", a->o.backend, n && a->o.backend[n - 1] == '/' ? "" : "/", rel);
}

/* Fetch the manifest and its signature and verify them. 1: a verified manifest in *m;
 * 0: nothing new (304 or an error, reported). */
static int fetch_manifest(ag_agent *a, ag_manifest *m, char etag[AG_ETAG_CAP])
{
    char url[PATH_CAP], rel[300], msg[900];
    ms_error err = {{0}};
    mc_buf body = {0}, sig = {0};
    long status = 0;
    int ok = 0;
    snprintf(rel, sizeof rel, "%s/manifest.json", a->o.name);
    url_of(a, rel, url, sizeof url);
    if (ag_fetch_mem(&a->o.fetch, url, a->st.etag, AG_MANIFEST_MAX, &body, &status, etag, &err) != MS_OK)
        report_error(a, err.msg);
    else if (status == 304) report_ok(a, "not modified (version %lld serving)", ag_agent_serving(a));
    else {
        snprintf(rel, sizeof rel, "%s/manifest.sig", a->o.name);
        url_of(a, rel, url, sizeof url);
        if (ag_fetch_mem(&a->o.fetch, url, NULL, 1024, &sig, &status, NULL, &err) != MS_OK) report_error(a, err.msg);
        else if (ag_verify(a->o.pk, body.data, body.len, sig.data ? sig.data : "", sig.len, &err) != MS_OK) {
            snprintf(msg, sizeof msg, "%.300s: refused: %.500s", url, err.msg);
            report_error(a, msg);
        } else if (ag_manifest_parse(body.data, body.len, m, &err) != MS_OK) {
            snprintf(msg, sizeof msg, "%s/%s/manifest.json: refused: %s", a->o.backend, a->o.name, err.msg);
            report_error(a, msg);
        } else ok = 1;
    }
    mc_buf_free(&body);
    mc_buf_free(&sig);
    return ok;
}

/* The manifest's claims checked against the device's rules; NULL when it may install, else
 * why not (`quarantine_it` says whether the version itself is at fault). */
static const char *refusal(ag_agent *a, const ag_manifest *m, char *why, size_t cap, int *quarantine_it)
{
    const ag_state *s = &a->st;
    int64_t serving = s->active >= 0 ? s->slot[s->active].version : 0;
    int64_t floor_v = s->counter > serving ? s->counter : serving;
    const ag_quarantined *q;
    *quarantine_it = 0;
    if (strcmp(m->name, a->o.name) != 0)
        snprintf(why, cap, "the manifest is for model '%s', not '%s'", m->name, a->o.name);
    else if (m->version <= floor_v)
        snprintf(why, cap, "version %lld is not greater than version %lld (anti-rollback: a replayed or older manifest "
                 "never installs)", (long long)m->version, (long long)floor_v);
    else if (m->expires && (int64_t)time(NULL) > m->expires)
        snprintf(why, cap, "the manifest for version %lld expired at %lld (unix time); the publisher must re-sign it",
                 (long long)m->version, (long long)m->expires);
    else if (ag_version_cmp(MS_VERSION_STRING, m->min_agent) < 0)
        snprintf(why, cap, "version %lld needs agent %s or later (this is %s)", (long long)m->version, m->min_agent,
                 MS_VERSION_STRING);
    else if ((q = ag_state_quarantined(s, m->version, m->sha256)))
        snprintf(why, cap, "version %lld is quarantined: %s", (long long)m->version, q->reason);
    else if (m->size > a->o.max_blob) {
        snprintf(why, cap, "the blob is %lld bytes, over the agent's --max-blob %lld", (long long)m->size,
                 (long long)a->o.max_blob);
        *quarantine_it = 1;
    } else return NULL;
    return why;
}

/* Download into the inactive slot and verify size and SHA-256. 1: `final` holds the blob. */
static int download(ag_agent *a, const ag_manifest *m, int slot, char *final, size_t cap)
{
    char dir[PATH_CAP], part[PATH_CAP + 80], url[PATH_CAP], hex[AG_SHA_HEX], why[700];
    slot_dir(a, slot, dir, sizeof dir);
    snprintf(part, sizeof part, "%s/%s.part", dir, m->sha256);
    if (snprintf(final, cap, "%s/%s", dir, ag_model_file(m->model_format)) >= (int)cap) {
        report_error(a, "the state directory's path is too long");
        return 0;
    }
    url_of(a, m->blob, url, sizeof url);
    ag_download d;
    ms_error err = {{0}};
    ms_status st = ag_fetch_file(&a->o.fetch, url, part, m->size, &d, &err);
    pthread_mutex_lock(&a->mu);
    a->downloaded += (uint64_t)d.received;
    a->resumed += (uint64_t)d.resumed_from;
    pthread_mutex_unlock(&a->mu);
    if (d.resumed_from) fprintf(stderr, "mlship agent: %s: resumed at byte %lld\n", url, (long long)d.resumed_from);
    if (st != MS_OK) {
        if (d.too_big) quarantine(a, m, err.msg);
        else report_error(a, err.msg);
        return 0;
    }
    if ((st = ag_sha256_file(part, hex, &err)) != MS_OK || strcmp(hex, m->sha256) != 0) {
        unlink(part);
        snprintf(why, sizeof why, "%.300s: SHA-256 %.200s, the manifest says %s", url, st == MS_OK ? hex : err.msg, m->sha256);
        quarantine(a, m, why);
        return 0;
    }
    if (rename(part, final) != 0) {
        snprintf(why, sizeof why, "cannot move the download into '%.400s': %s", final, strerror(errno));
        report_error(a, why);
        return 0;
    }
    return 1;
}

/* Point the state at the new slot (trial), save it, then swap; on failure go back. */
static void install(ag_agent *a, const ag_manifest *m, int slot, const char *path)
{
    ms_error err = {{0}};
    uint64_t t0 = bs_now_ns();
    if (prove(path, m->golden, &err) != MS_OK) { quarantine(a, m, err.msg); return; }
    uint64_t t1 = bs_now_ns();
    ag_state before = a->st;
    pthread_mutex_lock(&a->mu);
    ag_slot *sl = &a->st.slot[slot];
    sl->version = m->version;
    snprintf(sl->sha256, sizeof sl->sha256, "%s", m->sha256);
    snprintf(sl->model_format, sizeof sl->model_format, "%s", m->model_format);
    sl->n_features = m->n_features;
    memcpy(sl->features, m->features, sizeof sl->features);
    a->st.active = slot;
    a->st.trial = 1;
    a->st.trial_runs = 1;
    pthread_mutex_unlock(&a->mu);
    if (ag_state_save(a->o.state_dir, &a->st, &err) != MS_OK ||
        a->o.swap(a->o.swap_ctx, a->o.name, m->version, path, &err) != MS_OK) {
        char why[700];
        snprintf(why, sizeof why, "%s", err.msg);
        pthread_mutex_lock(&a->mu);
        a->st = before;
        pthread_mutex_unlock(&a->mu);
        quarantine(a, m, why);
        return;
    }
    a->trial_since_ns = bs_now_ns();
    pthread_mutex_lock(&a->mu);
    a->last_prove_ms = (double)(t1 - t0) / 1e6;
    a->last_swap_ms = (double)(a->trial_since_ns - t1) / 1e6;
    a->installs++;
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "mlship agent: version %lld serving (on trial for %lld s)\n", (long long)m->version,
            (long long)a->o.confirm_s);
    report_ok(a, "installed version %lld", m->version);
}

void ag_agent_check(ag_agent *a)
{
    ag_manifest m;
    char etag[AG_ETAG_CAP] = "", why[600];
    pthread_mutex_lock(&a->mu);
    a->checks++;
    a->last_check = (int64_t)time(NULL);
    pthread_mutex_unlock(&a->mu);
    if (a->st.trial) return; /* one update at a time: a trial model is confirmed first */
    if (!fetch_manifest(a, &m, etag)) return;
    int q = 0;
    if (refusal(a, &m, why, sizeof why, &q)) {
        if (q) quarantine(a, &m, why);
        else if (m.version == (a->st.active >= 0 ? a->st.slot[a->st.active].version : -1)) {
            snprintf(a->st.etag, sizeof a->st.etag, "%s", etag); /* up to date: ask conditionally from now on */
            report_ok(a, "up to date (version %lld)", m.version);
        } else report_error(a, why);
        ag_manifest_clear(&m);
        return;
    }
    int slot = a->st.active == 0 ? 1 : 0;
    char path[PATH_CAP];
    if (download(a, &m, slot, path, sizeof path)) install(a, &m, slot, path);
    if (a->st.active == slot && a->st.slot[slot].version == m.version) {
        snprintf(a->st.etag, sizeof a->st.etag, "%s", etag);
        save_state(a);
    }
    ag_manifest_clear(&m);
}

void ag_agent_tick(ag_agent *a)
{
    if (!a->st.trial || bs_now_ns() - a->trial_since_ns < (uint64_t)a->o.confirm_s * 1000000000u) return;
    pthread_mutex_lock(&a->mu);
    ag_slot *sl = &a->st.slot[a->st.active];
    a->st.trial = 0;
    a->st.trial_runs = 0;
    if (sl->version > a->st.counter) a->st.counter = sl->version;
    pthread_mutex_unlock(&a->mu);
    save_state(a);
    fprintf(stderr, "mlship agent: version %lld confirmed\n", (long long)sl->version);
}

ms_status ag_active_model(const char *state_dir, char *path, size_t cap, int64_t *version, ms_error *err)
{
    ag_state s;
    ms_status st = ag_state_load(state_dir, &s, err);
    if (st != MS_OK) return st;
    if (s.active < 0) return bs_fail(err, MS_ERR_INVALID, "state '%s': no model installed yet", state_dir);
    slot_model(state_dir, s.active, &s.slot[s.active], path, cap);
    *version = s.slot[s.active].version;
    return MS_OK;
}

void ag_agent_status_json(ag_agent *a, mc_buf *b)
{
    pthread_mutex_lock(&a->mu);
    const ag_state *s = &a->st;
    const ag_slot *sl = s->active >= 0 ? &s->slot[s->active] : NULL;
    char t1[BS_ISO_CAP] = "", t2[BS_ISO_CAP] = "";
    mc_buf_puts(b, "{\"name\": ");
    mc_buf_put_json_str(b, a->o.name);
    mc_buf_puts(b, ", \"backend\": ");
    mc_buf_put_json_str(b, a->o.backend);
    mc_buf_printf(b, ", \"serving_version\": %lld, \"serving_sha256\": \"%s\", \"slot\": \"%s\", \"state\": \"%s\", "
                  "\"counter\": %lld, \"last_check\": \"%s\", \"last_result\": ",
                  (long long)(sl ? sl->version : 0), sl ? sl->sha256 : "", sl ? (s->active ? "b" : "a") : "",
                  !sl ? "empty" : s->trial ? "trial" : "confirmed", (long long)s->counter,
                  a->last_check ? bs_iso_utc((time_t)a->last_check, t1) : "");
    mc_buf_put_json_str(b, a->last_result);
    mc_buf_puts(b, ", \"last_error\": ");
    mc_buf_put_json_str(b, a->last_error);
    mc_buf_printf(b, ", \"last_error_at\": \"%s\", \"checks\": %llu, \"installs\": %llu, \"failures\": %llu, "
                  "\"reverts\": %llu, \"downloaded_bytes\": %llu, \"resumed_bytes\": %llu, \"quarantine\": [",
                  a->last_error_at ? bs_iso_utc((time_t)a->last_error_at, t2) : "", (unsigned long long)a->checks,
                  (unsigned long long)a->installs, (unsigned long long)a->failures, (unsigned long long)a->reverts,
                  (unsigned long long)a->downloaded, (unsigned long long)a->resumed);
    for (int i = 0; i < s->n_quarantine; i++) {
        mc_buf_printf(b, "%s{\"version\": %lld, \"sha256\": \"%s\", \"reason\": ", i ? ", " : "",
                      (long long)s->quarantine[i].version, s->quarantine[i].sha256);
        mc_buf_put_json_str(b, s->quarantine[i].reason);
        mc_buf_putc(b, '}');
    }
    mc_buf_printf(b, "], \"last_verify_ms\": %.3f, \"last_swap_ms\": %.3f, \"synced_rows\": %llu, \"sync_failures\": %llu, "
                  "\"features\": ", a->last_prove_ms, a->last_swap_ms, (unsigned long long)a->synced_rows,
                  (unsigned long long)a->sync_failures);
    pthread_mutex_unlock(&a->mu);
    ag_cache_status_json(a->cache, b);
    mc_buf_puts(b, "}\n");
}

void ag_agent_metrics(ag_agent *a, mc_buf *b)
{
    pthread_mutex_lock(&a->mu);
    const ag_state *s = &a->st;
    struct { const char *name, *type; unsigned long long v; } m[] = {
        {"mlship_agent_serving_version", "gauge", (unsigned long long)(s->active >= 0 ? s->slot[s->active].version : 0)},
        {"mlship_agent_trial", "gauge", (unsigned long long)s->trial},
        {"mlship_agent_counter", "gauge", (unsigned long long)s->counter},
        {"mlship_agent_checks_total", "counter", a->checks},
        {"mlship_agent_installs_total", "counter", a->installs},
        {"mlship_agent_failures_total", "counter", a->failures},
        {"mlship_agent_quarantined_total", "counter", a->quarantined},
        {"mlship_agent_reverts_total", "counter", a->reverts},
        {"mlship_agent_downloaded_bytes_total", "counter", a->downloaded},
        {"mlship_agent_resumed_bytes_total", "counter", a->resumed},
        {"mlship_agent_last_check_timestamp_seconds", "gauge", (unsigned long long)a->last_check},
        {"mlship_agent_synced_rows_total", "counter", a->synced_rows},
        {"mlship_agent_sync_failures_total", "counter", a->sync_failures},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        mc_buf_printf(b, "# TYPE %s %s\n%s %llu\n", m[i].name, m[i].type, m[i].name, m[i].v);
    pthread_mutex_unlock(&a->mu);
}
