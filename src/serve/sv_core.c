/* sv_core.c: the request core every protocol file shares (see sv_int.h): tokens, names and
 * versions, and the inference job (inputs in model order -> run inline or through the
 * batcher -> the non-finite output check -> the protocol's reply). */
#define _GNU_SOURCE
#include "serve/sv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "predict/pd_check.h"
#include "predict/pd_batch.h"

/* Compare in time independent of where the strings differ. */
static int token_eq(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++) d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return d == 0;
}

int check_token(sv_req *r, const char *want, const char *what)
{
    const char *h = sv_req_header(r, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0 && token_eq(h + 7, want)) return 0;
    sv_req_add_header(r, "WWW-Authenticate", "Bearer");
    sv_req_error(r, 401, h ? "invalid %s token" : "missing %s token: send 'Authorization: Bearer <token>'", what);
    return -1;
}

static void job_free(void *p)
{
    job *j = p;
    if (!j) return;
    for (int i = 0; i < MS_MAX_IO; i++) ms_free(j->own[i]);
    sv_v2_req_free(&j->v2);
    for (int i = 0; i < j->nkeys; i++) {
        free(j->keys[i]);
        if (j->key_error) free(j->key_error[i]);
    }
    free(j->keys);
    free(j->key_error);
    free(j->row_of_key);
    pd_batch_item_clear(&j->item);
    sv_version_release(j->v);
    free(j);
}

/* Rows of the request's inputs (their first dimension; 1 for scalars). */
static int64_t job_rows(const job *j)
{
    return j->n_in > 0 && j->in[0].ndim > 0 ? j->in[0].shape[0] : 1;
}

/* A non-finite output is never a prediction (src/predict/pd_check.h). By key, the key gets an
 * error like an unknown key does; otherwise the request is answered 422 naming the row.
 * Returns -1 when the response is set. */
static int check_outputs(job *j, const ms_tensor *outs)
{
    const ms_model *m = j->v->model;
    int64_t rows = job_rows(j);
    char msg[300];
    for (int k = 0; k < j->nkeys; k++) {
        int64_t i = j->row_of_key[k];
        if (i < 0 || pd_check_output_row(m, outs, j->n_out, i, rows, msg, sizeof msg) == PD_OK) continue;
        j->row_of_key[k] = -1;
        free(j->key_error[k]);
        j->key_error[k] = strdup(msg);
    }
    for (int64_t i = 0; !j->nkeys && i < rows; i++) {
        if (pd_check_output_row(m, outs, j->n_out, i, rows, msg, sizeof msg) == PD_OK) continue;
        sv_req_error(j->r, 422, "model '%s': row %lld: %s", j->v->name, (long long)i, msg);
        return -1;
    }
    return 0;
}

static void reply(job *j, const ms_tensor *outs)
{
    if (check_outputs(j, outs)) return;
    j->reply(j, outs);
    if (j->r->out.failed) sv_req_error(j->r, 500, "out of memory writing the response");
}

static void batch_done(pd_batch_item *it)
{
    job *j = it->ctx;
    if (it->st == MS_OK) reply(j, it->outputs);
    else if (it->timed_out) sv_req_error(j->r, 504, "%s", it->err.msg);
    else sv_req_error(j->r, status_of(it->st), "model '%s': %s", j->v->name, it->err.msg);
    sv_req_resume(j->r);
}

void run_job(job *j)
{
    sv_req *r = j->r;
    sv_version *v = j->v;
    ms_error perr = {{0}};
    /* inline inputs: NaN only where the model defines it and config.json opted in, never Inf
     * (by key, keys_to_input already refused the rows per key) */
    if (!j->nkeys && pd_check_inputs(&v->policy, v->model, j->in, j->n_in, NULL, &perr) != MS_OK) {
        sv_req_error(r, 400, "model '%s': %s", v->name, perr.msg);
        return;
    }
    int64_t rows = -1;
    for (int i = 0; i < j->n_in; i++) {
        if (j->in[i].ndim < 1) { rows = -1; break; }
        if (rows < 0) rows = j->in[i].shape[0];
        else if (rows != j->in[i].shape[0]) { rows = -1; break; }
    }
    if (v->batcher && rows > 0) {
        j->item.inputs = j->in;
        j->item.rows = rows;
        j->item.deadline_ns = j->s->timeout_ms ? r->t0_ns + j->s->timeout_ms * 1000000u : 0;
        j->item.done = batch_done;
        j->item.ctx = j;
        sv_req_suspend(r);
        if (pd_batcher_submit(v->batcher, &j->item) != 0) {
            /* Still on the connection's thread: undo by resuming with the 503 ready. */
            sv_req_add_header(r, "Retry-After", "1");
            sv_req_error(r, 503, "model '%s' is overloaded: the batch queue is full; retry later", v->name);
            sv_req_resume(r);
        }
        return;
    }
    if (j->s->timeout_ms && bs_now_ns() > r->t0_ns + j->s->timeout_ms * 1000000u) {
        sv_req_error(r, 504, "the request timed out before the model ran");
        return;
    }
    ms_error err = {{0}};
    ms_session *sess = sv_version_session(v, &err);
    if (!sess) { sv_req_error(r, 500, "model '%s': %s", v->name, err.msg); return; }
    ms_tensor outs[MS_MAX_IO];
    ms_status st = ms_session_run(sess, j->in, j->n_in, outs, j->n_out, &err);
    if (st == MS_OK) reply(j, outs);
    else sv_req_error(r, status_of(st), "model '%s': %s", v->name, err.msg);
    sv_version_session_put(v, sess);
}

job *job_new(sv_server *s, sv_req *r, sv_version *v, sv_reply_fn reply_fn)
{
    job *j = calloc(1, sizeof *j);
    if (!j) { sv_version_release(v); sv_req_error(r, 500, "out of memory"); return NULL; }
    j->s = s;
    j->r = r;
    j->v = v;
    j->reply = reply_fn;
    j->n_in = ms_model_num_inputs(v->model);
    j->n_out = ms_model_num_outputs(v->model);
    r->state = j;
    r->state_free = job_free;
    if (j->n_in > MS_MAX_IO || j->n_out > MS_MAX_IO) {
        sv_req_error(r, 400, "model '%s' has more than %d inputs or outputs", v->name, MS_MAX_IO);
        return NULL;
    }
    return j;
}

int names_ok(sv_req *r, const char *m, const char *v)
{
    if (!sv_name_ok(m)) {
        sv_req_error(r, 400, "invalid model name '%.100s': names must match [A-Za-z0-9._-]+ (at most 100 characters)", m);
        return 0;
    }
    if (v && !sv_name_ok(v)) {
        sv_req_error(r, 400, "invalid version '%.100s': versions must match [A-Za-z0-9._-]+ (at most 100 characters)", v);
        return 0;
    }
    return 1;
}

sv_version *get_version(sv_server *s, sv_req *r, const char *m, const char *v)
{
    sv_version *ver = NULL;
    char why[300];
    int st = sv_repo_acquire(s->repo, m, v, &ver, why, sizeof why);
    if (st) {
        if (st == 503) sv_req_add_header(r, "Retry-After", "1");
        sv_req_error(r, st, "%s", why);
        return NULL;
    }
    /* Label metrics and the log only with names that exist: a URL cannot mint series. */
    snprintf(r->model, sizeof r->model, "%s", ver->name);
    snprintf(r->version, sizeof r->version, "%s", ver->version);
    return ver;
}
