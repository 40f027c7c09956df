/* sv_sched.h: the batch scheduler inside `mlship serve` (issue 5 section 3).
 *
 * A model whose config.json holds a "batch" block ({"schedule": "0 2 * * *", "input": ...,
 * "key": ...}: see sv_repo.h), or the model named by `mlship serve --schedule CRON
 * --batch-input SRC --batch-key COL [--batch-model M]`, is scored by bt_job_run at those
 * times: the model's serving (default) version, published under the model's name, into the
 * block's "store" or the server's --store. Lookups (GET /v1/models/M/predictions/KEY) then
 * answer from the new run as soon as it is published.
 *
 * One thread, one job at a time: a job due while another runs waits for it, and fire times
 * missed meanwhile collapse into one run (bt_schedule_due). The thread re-reads the schedules
 * every tick, so a config.json change (hot reload) takes effect without a restart. A run the
 * server was stopped in the middle of is resumed by the next fire (same model version);
 * otherwise every fire is a new run.
 *
 * State in /metrics: mlship_batch_runs_total{model,status}, mlship_batch_running{model},
 * mlship_batch_last_run_rows_scored / _rows_rejected / _duration_seconds /
 * _finished_timestamp_seconds{model}, mlship_batch_last_run_status{model,status} (1 for the
 * last status), mlship_batch_next_run_timestamp_seconds{model}. Each run is logged on stderr.
 *
 * Test-only: minute_ms > 0 runs the scheduler on a fast clock where a cron minute lasts
 * minute_ms real milliseconds (starting at the real time the scheduler starts), so a test of
 * "* * * * *" needs seconds, not minutes. Timestamps in /metrics are then on that clock. */
#ifndef SV_SCHED_H
#define SV_SCHED_H

#include <stdint.h>

#include "codec/codec_buf.h"
#include "mlship.h"
#include "serve/sv_repo.h"

typedef struct sv_sched_opts {
    sv_repo *repo;
    const char *store_url;     /* the server's --store: default for jobs (may be NULL) */
    /* --schedule etc. (schedule NULL: none); overrides that model's config.json block */
    const char *schedule, *input, *key, *model, *features;
    int threads;               /* scoring threads of --schedule's job */
    long minute_ms;            /* test-only fast clock; 0: the real clock */
} sv_sched_opts;

typedef struct sv_sched sv_sched;

/* Checks the --schedule expression (MS_ERR_INVALID) and starts the thread. */
ms_status sv_sched_start(const sv_sched_opts *o, sv_sched **out, ms_error *err);
/* Prometheus lines for the state above. */
void sv_sched_gauges(sv_sched *s, mc_buf *out);
/* Stop firing; wait up to wait_ms for a running job to finish. Returns 1 if one is still
 * running (it is left to the process exit; the run stays resumable), else joins and frees. */
int sv_sched_stop(sv_sched *s, uint64_t wait_ms);

#endif
