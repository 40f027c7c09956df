/* sv_repo.h: the model repository of `mlship serve`.
 *
 * Layout (Triton's): DIR/<name>/<version>/model.onnx (or XGBoost model.json), with an optional
 * DIR/<name>/config.json:
 *     {"default_version": "2",
 *      "batching": {"max_batch_size": 64, "max_queue_delay_us": 500, "max_queue_size": 1024},
 *      "features": {"store": "sqlite:///f.db", "table": "customer_features",
 *                   "key": "customer_id", "columns": ["f0", "f1", ...]},
 *      "predict": {"output": "probabilities", "column": 1},
 *      "batch": {"schedule": "0 2 * * *", "input": "/data/customers.csv", "key": "customer_id",
 *                "features": ["f0", ...], "format": "csv", "store": URL, "threads": 1,
 *                "chunk": 10000, "keep": 3, "max_rejects": -1, "utc": false}}
 * "batch" is the scheduled batch job `mlship serve` runs itself (serve/sv_sched.h); its
 * schedule is checked when config.json is read, so a bad one refuses the config.
 * Every version directory found is served; a request without a version gets default_version,
 * else the highest version (numeric order when both are numbers). Names are [A-Za-z0-9._-]+.
 *
 * Hot reload: sv_repo_poll rescans. A new or changed model file (device, inode, size, mtime)
 * is loaded, checked for unsupported operators, planned and warmed with one run on zeros,
 * then swapped in under the lock; requests that hold the old version (a reference count)
 * finish on it, and it is freed by the last one. A file that fails any step is refused with
 * its reason logged, counted in metrics and shown by the index API, the version it would have
 * replaced keeps serving, and it is not retried until the file changes. A version directory
 * that disappears stops serving (rollback = remove the newest version). Replace model files
 * by rename, not by rewriting them in place: a loaded model maps its file.
 *
 * Threads: acquire/release and the session and store pools are safe from any thread; poll,
 * load and unload serialise among themselves. */
#ifndef SV_REPO_H
#define SV_REPO_H

#include <stdatomic.h>
#include <pthread.h>

#include "codec/codec_buf.h"
#include "mlship.h"
#include "predict/pd_batch.h"
#include "predict/pd_check.h"
#include "predict/pd_model.h"
#include "serve/sv_config.h"

#define SV_NAME_MAX 101 /* names and versions: at most 100 characters */

typedef struct st_store st_store;

typedef struct sv_version {
    atomic_int refs;
    char name[SV_NAME_MAX], version[SV_NAME_MAX];
    char path[4096];
    pd_model *pm;                 /* the model, checked and warmed, and its session pool */
    ms_model *model;              /* pm->model */
    sv_model_cfg *cfg;            /* this version's copy of the model's config */
    const char *store_url;        /* features store URL (cfg's or the server's), or NULL */
    pd_batcher *batcher;          /* NULL when batching is off; borrows pm's pool */
    pd_policy policy;             /* missing/non-finite values, checked against the model */
    double load_seconds;
    /* identity of the file this was loaded from */
    unsigned long long dev, ino, size, mtime_ns;
    /* the feature-store handle pool (sessions are pm's) */
    pthread_mutex_t mu;
    st_store **stores;
    int n_stores, cap_stores;
} sv_version;

typedef struct sv_repo sv_repo;

/* A repository directory (`--models DIR`): the first scan loads everything it can. */
ms_status sv_repo_open_dir(const char *dir, const char *store_url, sv_repo **out, ms_error *err);
/* One model file (`--model PATH`), served as model "default", version "1"; MS_ERR if it does
 * not load. */
ms_status sv_repo_open_file(const char *path, const char *store_url, sv_repo **out, ms_error *err);
void sv_repo_free(sv_repo *r);

/* Rescan (every second from the main loop, and on POST /v2/repository/index). */
void sv_repo_poll(sv_repo *r);
/* Triton's repository API: load (re)scans one model now, forgetting refused files; unload
 * stops serving it until the next load. MS_ERR_INVALID (unknown model / nothing loaded) with
 * a message. */
ms_status sv_repo_load(sv_repo *r, const char *name, ms_error *err);
ms_status sv_repo_unload(sv_repo *r, const char *name, ms_error *err);

/* Take a reference to a serving version (version NULL or "": the default). Returns 0, or an
 * HTTP status (404 unknown model or version, 503 known but nothing serving) with `why`. */
int sv_repo_acquire(sv_repo *r, const char *name, const char *version, sv_version **out,
                    char *why, size_t why_cap);
void sv_version_release(sv_version *v);

/* Sessions (any shape, from pm's pool) and feature-store handles for one request on one
 * thread. */
ms_session *sv_version_session(sv_version *v, ms_error *err);
void sv_version_session_put(sv_version *v, ms_session *s);
ms_status sv_version_features(sv_version *v, st_store **out, ms_error *err);
void sv_version_features_put(sv_version *v, st_store *s);

/* The model /predict serves: "default" if present, else the only model; NULL otherwise. */
int sv_repo_default_model(sv_repo *r, char *dst, size_t cap);
/* Ready: there is a model and every non-unloaded one has a serving version. When not, `why`
 * (may be NULL) says why, naming each model that serves nothing and why (refused files with
 * their reason, a broken config.json, no version directory), or that DIR holds no model. */
int sv_repo_ready(sv_repo *r, char *why, size_t cap);
/* Versions serving, over all models. */
int sv_repo_serving(sv_repo *r);
/* JSON array of the serving versions of `name` (["1","2"]); 0, or -1 if unknown. */
int sv_repo_versions_json(sv_repo *r, const char *name, mc_buf *out);
/* Triton's index: [{"name","version","state","reason"}...]; ready_only lists READY only. */
void sv_repo_index_json(sv_repo *r, int ready_only, mc_buf *out);
/* Prometheus gauge lines: queue depth per model. */
void sv_repo_gauges(sv_repo *r, mc_buf *out);

/* Names of the models the repository knows (served or not), up to max; returns the count. */
int sv_repo_names(sv_repo *r, char (*names)[SV_NAME_MAX], int max);

int sv_name_ok(const char *s);

#endif
