/* sv_stream_models.c: sm_models over the repository (sv_stream_models.h). */
#include "serve/sv_stream_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct held {
    sv_version *v;
    st_features spec; /* points into v->cfg, alive while v is held */
} held;

static int acquire(void *ctx, const char *name, sm_model_ref *out, char *why, size_t cap)
{
    sv_repo *r = ctx;
    char dflt[SV_NAME_MAX];
    if (!name || !name[0]) {
        if (!sv_repo_default_model(r, dflt, sizeof dflt)) {
            snprintf(why, cap, "no default model: the repository serves several; events must name one in field 'model'");
            return 404;
        }
        name = dflt;
    }
    held *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(why, cap, "out of memory");
        return 500;
    }
    int status = sv_repo_acquire(r, name, NULL, &h->v, why, cap);
    if (status) {
        free(h);
        return status;
    }
    sv_version *v = h->v;
    memset(out, 0, sizeof *out);
    out->pm = v->pm;
    out->name = v->name;
    out->version = v->version;
    out->policy = v->policy;
    const sv_features_cfg *f = v->cfg ? v->cfg->features : NULL;
    if (f) {
        h->spec = (st_features){f->table, f->key, (const char *const *)f->columns, f->ncolumns};
        out->features = &h->spec;
        out->features_url = v->store_url;
    }
    out->priv = h;
    return 0;
}

static void release(void *ctx, sm_model_ref *ref)
{
    (void)ctx;
    held *h = ref->priv;
    if (!h) return;
    sv_version_release(h->v);
    free(h);
    ref->priv = NULL;
}

static void poll_repo(void *ctx) { sv_repo_poll(ctx); }

void sv_stream_models(sv_repo *r, sm_models *out)
{
    *out = (sm_models){.ctx = r, .acquire = acquire, .release = release, .poll = poll_repo};
}
