/* sv_int.h: what the protocol files of `mlship serve` share, and nothing outside src/serve
 * includes (the way SQLite's vdbeInt.h serves the vdbe*.c files).
 *
 *   sv_core.c     the request core: tokens, names, versions, the inference job (inputs in
 *                 model order -> run inline or through the batcher -> the protocol's reply)
 *   sv_body.c     request bodies into tensors, no HTTP (sv_body.h; the fuzz drivers use it)
 *   sv_out.c      output values as JSON for /predict and /v1 (rows, label maps)
 *   sv_v2.c       Open Inference Protocol inference, JSON and the binary tensor extension
 *   sv_predict.c  the tutorial's POST /predict
 *   sv_tfs.c      TF-Serving /v1/models/{m}[:predict], instances or keys from the store
 *   sv_lookup.c   stored predictions (batch and stream), with the store handle pool
 *   sv_stream.c   streaming triggers and tickets (--queue; sv_stream.h)
 *   sv_meta.c     server and model metadata, health, readiness, repository API, metrics
 *   sv_features.c feature rows changed since a cursor, for devices (GET /v1/features/{t})
 *   sv_edge.c     the --edge-dir files for devices (GET/HEAD /edge/PATH)
 *   sv_route.c    the route matcher; sv_routes.c the route table and the dispatcher */
#ifndef SV_INT_H
#define SV_INT_H

#include "serve/sv_body.h"
#include "serve/sv_route.h"
#include "serve/sv_routes.h"

#define MAX_KEYS 10000

/* ---- the request core (sv_core.c) ------------------------------------------------------- */

typedef struct job job;
/* Writes the response for a job whose model ran (outs: its outputs in model order). */
typedef void (*sv_reply_fn)(job *j, const ms_tensor *outs);

struct job {
    sv_server *s;
    sv_req *r;
    sv_version *v;
    sv_reply_fn reply;            /* the protocol's answer */
    int n_in, n_out;
    ms_tensor in[MS_MAX_IO];
    void *own[MS_MAX_IO];            /* input blocks this job allocated (ms_malloc) */
    sv_v2_req v2;                 /* V2: the parsed request */
    /* /v1 with keys: row_of_key[i] is the row of key i, or -1 when unknown */
    int nkeys;
    char **keys;
    int64_t *row_of_key;
    char **key_error;
    pd_batch_item item;
};

/* 0 if authorised, else the response is set (401 with WWW-Authenticate). */
int check_token(sv_req *r, const char *want, const char *what);
/* 1 if the model (and version, when not NULL) name is well-formed, else 400 is set. */
int names_ok(sv_req *r, const char *m, const char *v);
/* Acquire a serving version or answer 404/503; labels the request with its names. */
sv_version *get_version(sv_server *s, sv_req *r, const char *m, const char *v);
/* A job for request r on version v (the job owns the reference), NULL with the response set. */
job *job_new(sv_server *s, sv_req *r, sv_version *v, sv_reply_fn reply);
/* Inputs are in j->in (model order) and checked. Run inline or through the batcher. */
void run_job(job *j);

/* ---- store handles (sv_lookup.c) ------------------------------------------------------- */

/* A handle on the store at url opened with st_open_flags(flags), from the server's pool or
 * new; one request at a time. Put it back with the status of its last call: a handle whose
 * call failed with MS_ERR_RUNTIME (a broken connection) is closed, not pooled. */
ms_status sv_store_get(sv_server *s, const char *url, int flags, st_store **out, ms_error *err);
void sv_store_put(sv_server *s, const char *url, int flags, st_store *h, ms_status last);

/* ---- output values (sv_out.c) ----------------------------------------------------------- */

/* Row i of output o (tensor t) of model m as JSON: a scalar when the row has one element (or
 * `column` >= 0 picks one), a {label: value} map for a ZipMap-style output, else nested
 * arrays. */
void sv_out_row(mc_buf *b, const ms_model *m, int o, const ms_tensor *t, int64_t i, int column);

/* ---- the route handlers (the route table in sv_routes.c names them) --------------------- */

void sv_v2_infer(sv_server *s, sv_req *r, const sv_match *mt);          /* sv_v2.c */
void sv_predict_route(sv_server *s, sv_req *r, const sv_match *mt);     /* sv_predict.c */
void sv_tfs_predict(sv_server *s, sv_req *r, const sv_match *mt);       /* sv_tfs.c */
void sv_tfs_status(sv_server *s, sv_req *r, const sv_match *mt);
void sv_lookup_one(sv_server *s, sv_req *r, const sv_match *mt);        /* sv_lookup.c */
void sv_lookup_many(sv_server *s, sv_req *r, const sv_match *mt);
void sv_stream_trigger(sv_server *s, sv_req *r, const sv_match *mt);   /* sv_stream.c */
void sv_stream_ticket(sv_server *s, sv_req *r, const sv_match *mt);
void sv_meta_server(sv_server *s, sv_req *r, const sv_match *mt);       /* sv_meta.c */
void sv_meta_live(sv_server *s, sv_req *r, const sv_match *mt);
void sv_meta_ready(sv_server *s, sv_req *r, const sv_match *mt);
void sv_meta_model(sv_server *s, sv_req *r, const sv_match *mt);
void sv_meta_model_ready(sv_server *s, sv_req *r, const sv_match *mt);
void sv_meta_repo_index(sv_server *s, sv_req *r, const sv_match *mt);
void sv_meta_repo_load(sv_server *s, sv_req *r, const sv_match *mt);
void sv_meta_repo_unload(sv_server *s, sv_req *r, const sv_match *mt);
void sv_meta_metrics(sv_server *s, sv_req *r, const sv_match *mt);
void sv_features_changes(sv_server *s, sv_req *r, const sv_match *mt); /* sv_features.c */
void sv_edge_get(sv_server *s, sv_req *r, const sv_match *mt);          /* sv_edge.c */

/* The route table, for the dispatcher and tests/unit/serve/test_sv_route.c. */
const sv_route *sv_routes_table(int *n);

#endif
