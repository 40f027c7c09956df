/* sv_stream_models.h: serve's model repository as the stream worker's model provider
 * (stream/sm_worker.h), so `mlship stream work --models DIR` and `mlship serve
 * --stream-workers N` score with the versions serve serves, hot reload included. */
#ifndef SV_STREAM_MODELS_H
#define SV_STREAM_MODELS_H

#include "serve/sv_repo.h"
#include "stream/sm_worker.h"

/* Fill *out with callbacks over r (which must outlive the worker): acquire takes the default
 * version of a model (sv_repo_acquire; name NULL or "": the default model, as /predict picks
 * it), with its config.json features spec and store and its missing-value policy; release
 * drops the reference; poll is sv_repo_poll. */
void sv_stream_models(sv_repo *r, sm_models *out);

#endif
