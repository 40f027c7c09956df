/* sm_worker.h: the stream worker: consume events from a queue in micro-batches, score them
 * through the prediction core, store the results idempotently (st_stream_put), publish them
 * on the results stream, then ack. Delivery is at least once: an event whose batch failed to
 * store or publish is not acked and comes back after its lease; the store keeps one result
 * per event id, so a redelivered event never makes a second row.
 *
 *     sm_models models;  sv_stream_models(repo, &models);   // or any provider
 *     sm_worker_cfg c = {.queue_url = "sqlite:///q.db", .store_url = "sqlite:///s.db",
 *                        .models = &models};
 *     sm_worker *w;
 *     if (sm_worker_start(&c, &w, &err) != MS_OK) ...err.msg...
 *     ...                            // threads run until
 *     sm_worker_stop(w);             // finishes the batch in hand, acks, joins, frees
 *
 * Per batch: parse (a bad event is dead-lettered with the reason and gets an error result),
 * group by model, read missing features from the feature store by key (unknown key: dead
 * letter), check (pd_check policy), run each model's rows through one session (a failing
 * batch is retried row by row so one bad row does not fail the others), write each row's
 * outputs JSON (sm_result.h), st_stream_put every row in one transaction, qu_send the
 * results, qu_dead the refused events, qu_ack the scored ones. A queue or store failure
 * acks nothing and backs off (100 ms doubling to 2 s), reconnecting.
 *
 * Threads: cfg->threads worker threads, each with its own queue and store handles; the
 * provider's acquire/release are called from all of them, poll from one. */
#ifndef SM_WORKER_H
#define SM_WORKER_H

#include <stdint.h>

#include "codec/codec_buf.h"
#include "mlship.h"
#include "predict/pd_check.h"
#include "predict/pd_model.h"
#include "store/store.h"

typedef struct sm_model_ref {
    pd_model *pm;                  /* sessions from pm->pool (predict/pd_model.h) */
    const char *name, *version;
    const st_features *features;   /* NULL: the model has no feature store; events must carry features */
    const char *features_url;      /* the store URL features are read from (NULL: none) */
    pd_policy policy;              /* missing / non-finite policy (predict/pd_check.h) */
    void *priv;                    /* the provider's reference */
} sm_model_ref;

typedef struct sm_models {         /* who provides models: serve's repository (sv_stream_models.c) */
    void *ctx;
    /* name NULL or "": the default model. 0 on success, else an HTTP-like status with why */
    int (*acquire)(void *ctx, const char *name, sm_model_ref *out, char *why, size_t cap);
    void (*release)(void *ctx, sm_model_ref *ref);
    void (*poll)(void *ctx);       /* hot reload; called about once a second; may be NULL */
} sm_models;

typedef struct sm_worker_cfg {
    const char *queue_url;         /* events */
    const char *out_url;           /* results stream; NULL: "<stream>:results" on the same queue */
    const char *store_url;         /* where results are stored (st_stream_put); NULL: not stored */
    const sm_models *models;
    int batch;                     /* max events per micro-batch (default 64) */
    int linger_ms;                 /* when a read is not a full batch, wait this long and read what
                                      came meanwhile (default 0: score what is there at once) */
    int threads;                   /* worker threads, each with its own queue/store handles (default 1) */
    const char *consumer;          /* NULL: hostname-pid(-thread) */
    int max_deliveries;            /* default 5 */
    int64_t lease_ms;              /* default 30000 */
    int64_t result_ttl_s;          /* Redis store TTL (0: none) */
    int64_t results_maxlen;        /* MAXLEN ~ of the results stream (default 1000000; 0: none) */
} sm_worker_cfg;

typedef struct sm_worker sm_worker;

/* Opens the queue (and store) once to check the URLs, then starts the threads. */
ms_status sm_worker_start(const sm_worker_cfg *cfg, sm_worker **out, ms_error *err);
void sm_worker_stop(sm_worker *w);            /* finish the batch in hand, ack, join, free */
void sm_worker_metrics(sm_worker *w, mc_buf *out); /* Prometheus text lines */

#endif
