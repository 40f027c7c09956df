/* sv_repo.c: model repository, config.json, versions and hot reload (see sv_repo.h).
 *
 * Data: an array of model entries; each holds its serving versions (reference-counted
 * sv_version, sorted by version) and the files it refused (so a broken file is reported, not
 * retried every second). `mu` guards the arrays and is held only to look up or swap pointers;
 * loading happens outside it, under `poll_mu`, which serialises scans. */
#define _GNU_SOURCE
#include "serve/sv_repo.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/sv_http.h"
#include "serve/sv_log.h"
#include "serve/sv_metrics.h"
#include "store/store.h"

/* Paths are built with snprintf into PATH_MAX-sized buffers; a path that would not fit is cut,
 * names no file, and is skipped like any missing file, so gcc's truncation warning is moot. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

typedef struct file_id { unsigned long long dev, ino, size, mtime_ns; int exists; } file_id;

typedef struct refusal {
    char version[SV_NAME_MAX];
    file_id id;
    char reason[600];
} refusal;

typedef struct model_ent {
    char name[SV_NAME_MAX];
    int unloaded;          /* by the repository API: not served until loaded again */
    sv_version **v;        /* serving versions, ascending */
    int nv;
    char default_version[SV_NAME_MAX];
    file_id cfg_id;        /* config.json as last read */
    char cfg_error[600];   /* config.json refused: reason ("" if fine) */
    refusal *ref;
    int nref;
    int seen;
    int stray;             /* no version directory, but DIR/<name>/model.onnx|json exists */
} model_ent;

struct sv_repo {
    pthread_mutex_t mu, poll_mu;
    char *dir;             /* NULL for a single file */
    char *file;            /* --model PATH */
    char *store_url;
    model_ent **m;
    int nm;
    int stray;             /* DIR/model.onnx|json exists (a model file not in DIR/<name>/<v>/) */
};

int sv_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SV_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-')) return 0;
    return 1;
}

static file_id file_ident(const char *path)
{
    file_id id = {0};
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        id.exists = 1;
        id.dev = (unsigned long long)st.st_dev;
        id.ino = (unsigned long long)st.st_ino;
        id.size = (unsigned long long)st.st_size;
        id.mtime_ns = (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec;
    }
    return id;
}

static int same_id(file_id a, file_id b)
{
    return a.exists == b.exists && a.dev == b.dev && a.ino == b.ino && a.size == b.size &&
           a.mtime_ns == b.mtime_ns;
}

/* Numeric versions order as numbers, others as strings, numbers first. */
static int version_cmp(const char *a, const char *b)
{
    char *ea, *eb;
    unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
    int na = *a && !*ea, nb = *b && !*eb;
    if (na && nb) return x < y ? -1 : x > y;
    if (na != nb) return na ? -1 : 1;
    return strcmp(a, b);
}

/* ---- versions --------------------------------------------------------------------------- */

static void version_free(sv_version *v)
{
    if (!v) return;
    pd_batcher_free(v->batcher); /* drains its queue first, then the pool it borrows can go */
    for (int i = 0; i < v->n_stores; i++) st_close(v->stores[i]);
    free(v->stores);
    pd_model_free(v->pm);
    sv_config_free(v->cfg);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

void sv_version_release(sv_version *v)
{
    if (v && atomic_fetch_sub(&v->refs, 1) == 1) {
        sv_log_event("model '%s' version '%s' unloaded (last request finished)", v->name, v->version);
        sv_metrics_unload(v->name, v->version);
        version_free(v);
    }
}

ms_session *sv_version_session(sv_version *v, ms_error *err)
{
    return pd_pool_get(v->pm->pool, PD_POOL_ANY, err);
}

void sv_version_session_put(sv_version *v, ms_session *s)
{
    pd_pool_put(v->pm->pool, PD_POOL_ANY, s);
}

ms_status sv_version_features(sv_version *v, st_store **out, ms_error *err)
{
    *out = NULL;
    if (!v->store_url)
        return bs_fail(err, MS_ERR_INVALID, "model '%s' declares features but no store: set \"store\" in config.json or start with --store", v->name);
    pthread_mutex_lock(&v->mu);
    st_store *s = v->n_stores ? v->stores[--v->n_stores] : NULL;
    pthread_mutex_unlock(&v->mu);
    if (s) { *out = s; return MS_OK; }
    return st_open(v->store_url, out, err);
}

void sv_version_features_put(sv_version *v, st_store *s)
{
    pthread_mutex_lock(&v->mu);
    if (v->n_stores == v->cap_stores) {
        int nc = v->cap_stores ? v->cap_stores * 2 : 8;
        st_store **p = realloc(v->stores, (size_t)nc * sizeof *p);
        if (!p) { pthread_mutex_unlock(&v->mu); st_close(s); return; }
        v->stores = p;
        v->cap_stores = nc;
    }
    v->stores[v->n_stores++] = s;
    pthread_mutex_unlock(&v->mu);
}

/* The batcher's runs, in the batch-size histogram under the model's name. */
static void count_batch(void *ctx, int64_t rows)
{
    sv_metrics_batch(((const sv_version *)ctx)->name, rows);
}

static ms_status version_load(const char *name, const char *version, const char *path,
                              file_id id, const sv_model_cfg *cfg_src, const char *cfg_path,
                              const char *server_store, sv_version **out, ms_error *err)
{
    *out = NULL;
    uint64_t t0 = bs_now_ns();
    sv_version *v = calloc(1, sizeof *v);
    if (!v) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    pthread_mutex_init(&v->mu, NULL);
    atomic_init(&v->refs, 1);
    snprintf(v->name, sizeof v->name, "%s", name);
    snprintf(v->version, sizeof v->version, "%s", version);
    snprintf(v->path, sizeof v->path, "%s", path);
    v->dev = id.dev, v->ino = id.ino, v->size = id.size, v->mtime_ns = id.mtime_ns;
    ms_status st = cfg_path ? sv_config_read(cfg_path, &v->cfg, err) : MS_OK;
    if (st == MS_OK && !v->cfg) st = sv_config_read("", &v->cfg, err); /* defaults */
    (void)cfg_src;
    /* load -> check -> plan -> warm (src/predict/pd_model.h): a failure leaves v unserved */
    int64_t batch_rows = st == MS_OK ? v->cfg->batching.max_batch_size : 0;
    if (st == MS_OK) st = pd_model_open(path, batch_rows, &v->pm, err);
    if (st == MS_OK) v->model = v->pm->model;
    /* "missing": "nan" for a model that does not define missing values is a config error */
    if (st == MS_OK)
        st = pd_policy_init(&v->policy, v->model, name, v->cfg->missing, "config.json \"missing\":", err);
    /* warm_rows 0: only the one-row plan now, the batch buckets on first use, as before the
     * move (warming them at load would refuse a model that runs 1 row but not 2) */
    if (st == MS_OK) st = pd_model_warm(v->pm, 0, err);
    if (st == MS_OK && batch_rows > 1)
        st = pd_batcher_create(v->pm->pool, &v->cfg->batching, count_batch, v, &v->batcher, err);
    if (st == MS_OK && v->cfg->features) {
        v->store_url = v->cfg->features->store_url ? v->cfg->features->store_url : server_store;
        int64_t width = -1;
        if (ms_model_num_inputs(v->model) != 1) {
            st = bs_fail(err, MS_ERR_INVALID, "config.json features: the model must have exactly one input (it has %d)", ms_model_num_inputs(v->model));
        } else {
            const ms_value_info *vi = ms_model_input(v->model, 0);
            if (vi->ndim == 2) width = vi->shape[1];
            if (vi->dtype != MS_DTYPE_FLOAT || vi->ndim != 2 || (width >= 0 && width != v->cfg->features->ncolumns))
                st = bs_fail(err, MS_ERR_INVALID, "config.json features: %d columns, but the model input '%s' is not float32[?,%d]",
                             v->cfg->features->ncolumns, vi->name, v->cfg->features->ncolumns);
        }
    }
    v->load_seconds = (double)(bs_now_ns() - t0) / 1e9;
    sv_metrics_load(name, version, v->load_seconds, st == MS_OK);
    if (st != MS_OK) {
        version_free(v);
        return st;
    }
    *out = v;
    return MS_OK;
}

/* ---- scanning --------------------------------------------------------------------------- */

static model_ent *find_model(sv_repo *r, const char *name)
{
    for (int i = 0; i < r->nm; i++)
        if (strcmp(r->m[i]->name, name) == 0) return r->m[i];
    return NULL;
}

static sv_version *find_version(model_ent *e, const char *version)
{
    for (int i = 0; i < e->nv; i++)
        if (strcmp(e->v[i]->version, version) == 0) return e->v[i];
    return NULL;
}

static refusal *find_refusal(model_ent *e, const char *version)
{
    for (int i = 0; i < e->nref; i++)
        if (strcmp(e->ref[i].version, version) == 0) return &e->ref[i];
    return NULL;
}

/* Refusals, cfg_error and stray change under r->mu: the index and ready routes read them from
 * HTTP threads while a rescan runs (a realloc of e->ref under a reader would be a use after
 * free). The rescan itself only reads them without the lock: it is their one writer. */
static void drop_refusal(sv_repo *r, model_ent *e, const char *version)
{
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < e->nref; i++)
        if (strcmp(e->ref[i].version, version) == 0) {
            e->ref[i] = e->ref[--e->nref];
            break;
        }
    pthread_mutex_unlock(&r->mu);
}

static void add_refusal(sv_repo *r, model_ent *e, const char *version, file_id id, const char *reason)
{
    pthread_mutex_lock(&r->mu);
    refusal *f = find_refusal(e, version);
    if (!f) {
        refusal *p = realloc(e->ref, (size_t)(e->nref + 1) * sizeof *p);
        if (p) {
            e->ref = p;
            f = &e->ref[e->nref++];
        }
    }
    if (f) {
        snprintf(f->version, sizeof f->version, "%s", version);
        f->id = id;
        snprintf(f->reason, sizeof f->reason, "%s", reason);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Put `nv` (may be NULL to remove) in place of version `ver`, under the lock; the replaced
 * version is released after (in-flight requests keep it alive). */
static void swap_version(sv_repo *r, model_ent *e, const char *ver, sv_version *nv)
{
    sv_version *old = NULL;
    pthread_mutex_lock(&r->mu);
    int i = 0;
    while (i < e->nv && strcmp(e->v[i]->version, ver) != 0) i++;
    if (i < e->nv) {
        old = e->v[i];
        if (nv) e->v[i] = nv;
        else memmove(&e->v[i], &e->v[i + 1], (size_t)(e->nv - i - 1) * sizeof *e->v), e->nv--;
    } else if (nv) {
        sv_version **p = realloc(e->v, (size_t)(e->nv + 1) * sizeof *p);
        if (p) {
            e->v = p;
            int k = e->nv;
            while (k > 0 && version_cmp(e->v[k - 1]->version, ver) > 0) { e->v[k] = e->v[k - 1]; k--; }
            e->v[k] = nv;
            e->nv++;
        } else {
            sv_version_release(nv);
        }
    }
    pthread_mutex_unlock(&r->mu);
    sv_version_release(old);
}

typedef struct cand { char version[SV_NAME_MAX]; char path[4096]; file_id id; } cand;

/* A load error usually names its file already ("PATH: not an ONNX model ...", "cannot open
 * model 'PATH'"); the path is added only when it does not, so a refusal names it once. */
static void refusal_text(char *dst, size_t cap, const char *path, const char *msg)
{
    if (strstr(msg, path)) snprintf(dst, cap, "%s", msg);
    else snprintf(dst, cap, "%s: %s", path, msg);
}

/* A model file one level too high (DIR/model.onnx, DIR/<name>/model.onnx) is a common slip;
 * it is remembered so that "nothing loaded" can say where the file should go. */
static int has_model_file(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    if (file_ident(p).exists) return 1;
    snprintf(p, sizeof p, "%s/model.json", dir);
    return file_ident(p).exists;
}

/* Rescan one model directory (or the single file). force: retry refused files. */
static void scan_model(sv_repo *r, model_ent *e, int force)
{
    char cfg_path[4096], mdir[4096];
    cand *c = NULL;
    int nc = 0;
    if (r->file) {
        c = calloc(1, sizeof *c);
        if (!c) return;
        snprintf(c->version, sizeof c->version, "1");
        snprintf(c->path, sizeof c->path, "%s", r->file);
        c->id = file_ident(r->file);
        nc = c->id.exists ? 1 : 0;
        cfg_path[0] = 0;
    } else {
        snprintf(mdir, sizeof mdir, "%s/%s", r->dir, e->name);
        snprintf(cfg_path, sizeof cfg_path, "%s/config.json", mdir);
        DIR *d = opendir(mdir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            if (strcmp(de->d_name, "config.json") == 0) continue;
            char vdir[4096];
            snprintf(vdir, sizeof vdir, "%s/%s", mdir, de->d_name);
            struct stat st;
            if (stat(vdir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
            if (!sv_name_ok(de->d_name)) {
                sv_log_event("model '%s': ignoring version directory '%.100s' (names must match [A-Za-z0-9._-]+)", e->name, de->d_name);
                continue;
            }
            cand *p = realloc(c, (size_t)(nc + 1) * sizeof *c);
            if (!p) break;
            c = p;
            cand *k = &c[nc];
            snprintf(k->version, sizeof k->version, "%s", de->d_name);
            snprintf(k->path, sizeof k->path, "%s/model.onnx", vdir);
            k->id = file_ident(k->path);
            if (!k->id.exists) {
                snprintf(k->path, sizeof k->path, "%s/model.json", vdir);
                k->id = file_ident(k->path);
            }
            if (k->id.exists) nc++;
        }
        if (d) closedir(d);
        int stray = nc == 0 && has_model_file(mdir);
        pthread_mutex_lock(&r->mu);
        e->stray = stray;
        pthread_mutex_unlock(&r->mu);
    }
    /* config.json: a change reloads every version; a broken one changes nothing. */
    int cfg_changed = 0;
    if (!r->file) {
        file_id cid = file_ident(cfg_path);
        if (!same_id(cid, e->cfg_id) || force) {
            sv_model_cfg *tmp = NULL;
            ms_error err = {{0}};
            if (sv_config_read(cfg_path, &tmp, &err) != MS_OK) {
                /* the reason as stored and shown, "config.json: ..." once; logged when new */
                char why[sizeof e->cfg_error];
                snprintf(why, sizeof why, "%s%s",
                         strncmp(err.msg, "config.json", 11) ? "config.json: " : "", err.msg);
                if (strcmp(e->cfg_error, why) != 0 || !same_id(cid, e->cfg_id))
                    sv_log_event("model '%s': %s (refused, the versions already serving keep serving)",
                                 e->name, why);
                pthread_mutex_lock(&r->mu);
                snprintf(e->cfg_error, sizeof e->cfg_error, "%s", why);
                pthread_mutex_unlock(&r->mu);
                sv_metrics_load(e->name, "", 0, 0);
                e->cfg_id = cid;
                free(c);
                return;
            }
            pthread_mutex_lock(&r->mu);
            snprintf(e->default_version, sizeof e->default_version, "%s",
                     tmp->default_version ? tmp->default_version : "");
            e->cfg_error[0] = 0;
            pthread_mutex_unlock(&r->mu);
            sv_config_free(tmp);
            cfg_changed = e->cfg_id.exists || cid.exists ? !same_id(cid, e->cfg_id) : 0;
            e->cfg_id = cid;
        }
    }
    for (int i = 0; i < nc; i++) {
        sv_version *have = find_version(e, c[i].version);
        file_id hid = {0};
        if (have) hid = (file_id){have->dev, have->ino, have->size, have->mtime_ns, 1};
        if (have && same_id(hid, c[i].id) && !cfg_changed && !force) continue;
        refusal *f = find_refusal(e, c[i].version);
        if (f && same_id(f->id, c[i].id) && !cfg_changed && !force) continue;
        sv_version *nv = NULL;
        ms_error err = {{0}};
        ms_status st = version_load(e->name, c[i].version, c[i].path, c[i].id, NULL,
                                    r->file ? NULL : cfg_path, r->store_url, &nv, &err);
        if (st != MS_OK) {
            char why[sizeof ((refusal *)0)->reason];
            refusal_text(why, sizeof why, c[i].path, err.msg);
            sv_log_event("model '%s' version '%s': refused %s%s", e->name, c[i].version, why,
                         have ? " (the loaded copy keeps serving)" : "");
            add_refusal(r, e, c[i].version, c[i].id, why);
            continue;
        }
        drop_refusal(r, e, c[i].version);
        sv_log_event("model '%s' version '%s' %s from %s in %.1f ms%s", e->name, c[i].version,
                     have ? "reloaded" : "loaded", c[i].path, nv->load_seconds * 1e3,
                     nv->batcher ? " (dynamic batching on)" : "");
        swap_version(r, e, c[i].version, nv);
    }
    /* Versions whose directory or file is gone stop serving. */
    for (int i = 0; i < e->nv;) {
        int present = 0;
        for (int k = 0; k < nc; k++)
            if (strcmp(c[k].version, e->v[i]->version) == 0) present = 1;
        if (present) { i++; continue; }
        sv_log_event("model '%s' version '%s': file gone, no longer served", e->name, e->v[i]->version);
        char ver[SV_NAME_MAX];
        snprintf(ver, sizeof ver, "%s", e->v[i]->version);
        swap_version(r, e, ver, NULL);
    }
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < e->nref;) {
        int present = 0;
        for (int k = 0; k < nc; k++)
            if (strcmp(c[k].version, e->ref[i].version) == 0) present = 1;
        if (present) i++;
        else e->ref[i] = e->ref[--e->nref];
    }
    pthread_mutex_unlock(&r->mu);
    free(c);
}

static model_ent *add_model(sv_repo *r, const char *name)
{
    model_ent *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    pthread_mutex_lock(&r->mu);
    model_ent **p = realloc(r->m, (size_t)(r->nm + 1) * sizeof *p);
    if (!p) { pthread_mutex_unlock(&r->mu); free(e); return NULL; }
    r->m = p;
    r->m[r->nm++] = e;
    pthread_mutex_unlock(&r->mu);
    return e;
}

static void unload_all(sv_repo *r, model_ent *e)
{
    while (e->nv) {
        char ver[SV_NAME_MAX];
        snprintf(ver, sizeof ver, "%s", e->v[0]->version);
        swap_version(r, e, ver, NULL);
    }
}

static void poll_locked(sv_repo *r)
{
    if (r->file) {
        if (!r->m[0]->unloaded) scan_model(r, r->m[0], 0);
        return;
    }
    for (int i = 0; i < r->nm; i++) r->m[i]->seen = 0;
    DIR *d = opendir(r->dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", r->dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (!sv_name_ok(de->d_name)) continue;
        model_ent *e = find_model(r, de->d_name);
        if (!e && !(e = add_model(r, de->d_name))) continue;
        e->seen = 1;
        if (!e->unloaded) scan_model(r, e, 0);
    }
    if (d) closedir(d);
    int stray = has_model_file(r->dir);
    pthread_mutex_lock(&r->mu);
    r->stray = stray;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->nm; i++)
        if (!r->m[i]->seen && r->m[i]->nv) {
            sv_log_event("model '%s': directory gone, no longer served", r->m[i]->name);
            unload_all(r, r->m[i]);
        }
}

void sv_repo_poll(sv_repo *r)
{
    pthread_mutex_lock(&r->poll_mu);
    poll_locked(r);
    pthread_mutex_unlock(&r->poll_mu);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static sv_repo *repo_new(const char *store_url)
{
    sv_repo *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->poll_mu, NULL);
    if (store_url && !(r->store_url = strdup(store_url))) { free(r); return NULL; }
    return r;
}

ms_status sv_repo_open_dir(const char *dir, const char *store_url, sv_repo **out, ms_error *err)
{
    *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bs_fail(err, MS_ERR_INVALID, "--models '%s' is not a directory", dir);
    sv_repo *r = repo_new(store_url);
    if (!r || !(r->dir = strdup(dir))) { sv_repo_free(r); return bs_fail(err, MS_ERR_RUNTIME, "out of memory"); }
    sv_repo_poll(r);
    *out = r;
    return MS_OK;
}

ms_status sv_repo_open_file(const char *path, const char *store_url, sv_repo **out, ms_error *err)
{
    *out = NULL;
    sv_repo *r = repo_new(store_url);
    if (!r || !(r->file = strdup(path)) || !add_model(r, "default")) {
        sv_repo_free(r);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    file_id id = file_ident(path);
    if (!id.exists) {
        sv_repo_free(r);
        return bs_fail(err, MS_ERR_INVALID, "--model '%s': no such file", path);
    }
    sv_version *v = NULL;
    ms_status st = version_load("default", "1", path, id, NULL, NULL, store_url, &v, err);
    if (st != MS_OK) { sv_repo_free(r); return st; }
    swap_version(r, r->m[0], "1", v);
    *out = r;
    return MS_OK;
}

void sv_repo_free(sv_repo *r)
{
    if (!r) return;
    for (int i = 0; i < r->nm; i++) {
        for (int k = 0; k < r->m[i]->nv; k++) sv_version_release(r->m[i]->v[k]);
        free(r->m[i]->v);
        free(r->m[i]->ref);
        free(r->m[i]);
    }
    free(r->m);
    free(r->dir);
    free(r->file);
    free(r->store_url);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->poll_mu);
    free(r);
}

ms_status sv_repo_load(sv_repo *r, const char *name, ms_error *err)
{
    pthread_mutex_lock(&r->poll_mu);
    model_ent *e = find_model(r, name);
    if (!e && r->dir) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", r->dir, name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) e = add_model(r, name);
    }
    if (!e) {
        pthread_mutex_unlock(&r->poll_mu);
        return bs_fail(err, MS_ERR_INVALID, "no model '%s' in the repository", name);
    }
    e->unloaded = 0;
    scan_model(r, e, 1);
    ms_status st = MS_OK;
    if (!e->nv) {
        const char *why = e->cfg_error[0] ? e->cfg_error : e->nref ? e->ref[0].reason : "no version directory with a model.onnx or model.json";
        st = bs_fail(err, MS_ERR_INVALID, "failed to load '%s': %s", name, why);
    }
    pthread_mutex_unlock(&r->poll_mu);
    return st;
}

ms_status sv_repo_unload(sv_repo *r, const char *name, ms_error *err)
{
    pthread_mutex_lock(&r->poll_mu);
    model_ent *e = find_model(r, name);
    if (!e) {
        pthread_mutex_unlock(&r->poll_mu);
        return bs_fail(err, MS_ERR_INVALID, "no model '%s' in the repository", name);
    }
    e->unloaded = 1;
    unload_all(r, e);
    sv_log_event("model '%s' unloaded by the repository API", name);
    pthread_mutex_unlock(&r->poll_mu);
    return MS_OK;
}

/* ---- lookups ---------------------------------------------------------------------------- */

int sv_repo_acquire(sv_repo *r, const char *name, const char *version, sv_version **out,
                    char *why, size_t why_cap)
{
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    model_ent *e = find_model(r, name);
    int status = 0;
    if (!e || (!e->nv && !e->nref && !e->unloaded && !e->cfg_error[0])) {
        snprintf(why, why_cap, "unknown model '%s'", name);
        status = 404;
    } else if (version && version[0]) {
        sv_version *v = find_version(e, version);
        if (v) {
            atomic_fetch_add(&v->refs, 1);
            *out = v;
        } else if (e->unloaded || find_refusal(e, version)) {
            snprintf(why, why_cap, "model '%s' version '%s' is not ready%s", name, version,
                     e->unloaded ? " (unloaded)" : " (its file was refused; see /v2/repository/index)");
            status = 503;
        } else {
            snprintf(why, why_cap, "unknown version '%s' of model '%s'", version, name);
            status = 404;
        }
    } else if (!e->nv) {
        snprintf(why, why_cap, "model '%s' is not ready%s", name, e->unloaded ? " (unloaded)" : "");
        status = 503;
    } else {
        sv_version *v = e->default_version[0] ? find_version(e, e->default_version) : NULL;
        if (!v) v = e->v[e->nv - 1];
        atomic_fetch_add(&v->refs, 1);
        *out = v;
    }
    pthread_mutex_unlock(&r->mu);
    return status;
}

int sv_repo_names(sv_repo *r, char (*names)[SV_NAME_MAX], int max)
{
    pthread_mutex_lock(&r->mu);
    int n = 0;
    for (int i = 0; i < r->nm && n < max; i++) snprintf(names[n++], SV_NAME_MAX, "%s", r->m[i]->name);
    pthread_mutex_unlock(&r->mu);
    return n;
}

int sv_repo_default_model(sv_repo *r, char *dst, size_t cap)
{
    pthread_mutex_lock(&r->mu);
    const char *name = NULL;
    if (find_model(r, "default")) name = "default";
    else if (r->nm == 1) name = r->m[0]->name;
    if (name) snprintf(dst, cap, "%s", name);
    pthread_mutex_unlock(&r->mu);
    return name != NULL;
}

/* Why model `e` serves nothing, appended to b. */
static void unserved_reason(const sv_repo *r, const model_ent *e, mc_buf *b)
{
    if (b->len) mc_buf_puts(b, "; ");
    if (e->cfg_error[0]) {
        mc_buf_printf(b, "model '%s': %s", e->name, e->cfg_error);
    } else if (e->nref) {
        for (int k = 0; k < e->nref; k++)
            mc_buf_printf(b, "%smodel '%s' version '%s' refused: %s", k ? "; " : "", e->name, e->ref[k].version,
                          e->ref[k].reason);
    } else if (r->file) {
        mc_buf_printf(b, "model '%s': '%s' is gone", e->name, r->file);
    } else if (e->stray) {
        mc_buf_printf(b, "model '%s': its model file is not in a version directory (move it to %s/%s/1/)",
                      e->name, r->dir, e->name);
    } else {
        mc_buf_printf(b, "model '%s': no version directory with a model.onnx or model.json", e->name);
    }
}

int sv_repo_ready(sv_repo *r, char *why, size_t cap)
{
    mc_buf b = {0};
    pthread_mutex_lock(&r->mu);
    int ok = r->nm > 0;
    if (!ok && r->dir)
        mc_buf_printf(&b, "'%s' holds no model directory (a model goes in %s/<name>/<version>/model.onnx or "
                          "model.json)%s", r->dir, r->dir,
                      r->stray ? "; its model file directly in the directory is not served" : "");
    for (int i = 0; i < r->nm; i++)
        if (!r->m[i]->unloaded && r->m[i]->nv == 0) {
            ok = 0;
            if (why) unserved_reason(r, r->m[i], &b);
        }
    pthread_mutex_unlock(&r->mu);
    if (why && cap) {
        const char *txt = mc_buf_failed(&b) ? "out of memory" : b.len ? b.data : "";
        snprintf(why, cap, "%s", txt);
        if (strlen(txt) >= cap && cap > 4) memcpy(why + cap - 4, "...", 4);
    }
    mc_buf_free(&b);
    return ok;
}

int sv_repo_serving(sv_repo *r)
{
    pthread_mutex_lock(&r->mu);
    int n = 0;
    for (int i = 0; i < r->nm; i++) n += r->m[i]->nv;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int sv_repo_versions_json(sv_repo *r, const char *name, mc_buf *out)
{
    pthread_mutex_lock(&r->mu);
    model_ent *e = find_model(r, name);
    if (e) {
        mc_buf_putc(out, '[');
        for (int i = 0; i < e->nv; i++) {
            if (i) mc_buf_putc(out, ',');
            mc_buf_put_json_str(out, e->v[i]->version);
        }
        mc_buf_putc(out, ']');
    }
    pthread_mutex_unlock(&r->mu);
    return e ? 0 : -1;
}

static void index_entry(mc_buf *out, int *first, const char *name, const char *version,
                        const char *state, const char *reason)
{
    if (!*first) mc_buf_putc(out, ',');
    *first = 0;
    mc_buf_puts(out, "{\"name\":");
    mc_buf_put_json_str(out, name);
    if (version) {
        mc_buf_puts(out, ",\"version\":");
        mc_buf_put_json_str(out, version);
    }
    mc_buf_puts(out, ",\"state\":");
    mc_buf_put_json_str(out, state);
    mc_buf_puts(out, ",\"reason\":");
    mc_buf_put_json_str(out, reason ? reason : "");
    mc_buf_putc(out, '}');
}

void sv_repo_index_json(sv_repo *r, int ready_only, mc_buf *out)
{
    pthread_mutex_lock(&r->mu);
    int first = 1;
    mc_buf_putc(out, '[');
    for (int i = 0; i < r->nm; i++) {
        model_ent *e = r->m[i];
        for (int k = 0; k < e->nv; k++) index_entry(out, &first, e->name, e->v[k]->version, "READY", "");
        if (ready_only) continue;
        for (int k = 0; k < e->nref; k++)
            if (!find_version(e, e->ref[k].version))
                index_entry(out, &first, e->name, e->ref[k].version, "UNAVAILABLE", e->ref[k].reason);
        if (e->unloaded) index_entry(out, &first, e->name, NULL, "UNAVAILABLE", "unloaded");
        else if (e->cfg_error[0]) index_entry(out, &first, e->name, NULL, e->nv ? "READY" : "UNAVAILABLE", e->cfg_error);
        else if (!e->nv && !e->nref) index_entry(out, &first, e->name, NULL, "UNAVAILABLE", "no version directory with a model.onnx or model.json");
    }
    mc_buf_putc(out, ']');
    pthread_mutex_unlock(&r->mu);
}

void sv_repo_gauges(sv_repo *r, mc_buf *out)
{
    mc_buf_puts(out, "# HELP mlship_queue_depth Requests waiting in a dynamic-batching queue.\n"
                     "# TYPE mlship_queue_depth gauge\n");
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->nm; i++) {
        int depth = 0, any = 0;
        for (int k = 0; k < r->m[i]->nv; k++)
            if (r->m[i]->v[k]->batcher) depth += pd_batcher_depth(r->m[i]->v[k]->batcher), any = 1;
        if (!any) continue;
        mc_buf_puts(out, "mlship_queue_depth{model=");
        sv_metrics_label(out, r->m[i]->name);
        mc_buf_printf(out, "} %d\n", depth);
    }
    pthread_mutex_unlock(&r->mu);
}
