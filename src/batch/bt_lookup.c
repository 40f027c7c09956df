/* bt_lookup.c: published predictions as JSON (see bt_lookup.h). */
#include "batch/bt_lookup.h"

#include <string.h>

void bt_prediction_json(mc_buf *b, const st_pred_row *row)
{
    mc_buf_puts(b, "{\"key\":");
    mc_buf_put_json_str(b, row->key ? row->key : "");
    mc_buf_puts(b, ",\"model\":");
    mc_buf_put_json_str(b, row->model ? row->model : "");
    mc_buf_puts(b, ",\"model_version\":");
    mc_buf_put_json_str(b, row->model_version ? row->model_version : "");
    mc_buf_puts(b, ",\"run_id\":");
    mc_buf_put_json_str(b, row->run_id ? row->run_id : "");
    mc_buf_puts(b, ",\"scored_at\":");
    mc_buf_put_json_str(b, row->scored_at ? row->scored_at : "");
    mc_buf_puts(b, ",\"outputs\":");
    /* stored verbatim by the batch job: already JSON */
    mc_buf_puts(b, row->outputs && *row->outputs ? row->outputs : "null");
    mc_buf_putc(b, '}');
}

typedef struct look_ctx {
    mc_buf *b;
    const char *const *keys;
    bt_lookup_style style;
    size_t found;
} look_ctx;

static int on_row(void *ctx, size_t i, const st_pred_row *row)
{
    look_ctx *c = ctx;
    if (c->style == BT_LOOKUP_ARRAY && i > 0) mc_buf_putc(c->b, ',');
    if (row) {
        bt_prediction_json(c->b, row);
        c->found++;
    } else {
        mc_buf_puts(c->b, "{\"key\":");
        mc_buf_put_json_str(c->b, c->keys[i]);
        mc_buf_puts(c->b, ",\"found\":false}");
    }
    if (c->style == BT_LOOKUP_LINES) mc_buf_putc(c->b, '\n');
    return 0;
}

ms_status bt_lookup_json(st_store *s, const char *model, const char *const *keys, size_t n,
                         bt_lookup_style style, mc_buf *out, size_t *found, ms_error *err)
{
    look_ctx c = {out, keys, style, 0};
    if (style == BT_LOOKUP_ARRAY) {
        mc_buf_puts(out, "{\"model\":");
        mc_buf_put_json_str(out, model);
        mc_buf_puts(out, ",\"predictions\":[");
    }
    ms_status st = st_pred_lookup(s, model, keys, n, on_row, &c, err);
    if (style == BT_LOOKUP_ARRAY) mc_buf_puts(out, "]}");
    if (found) *found = c.found;
    if (st == MS_OK && mc_buf_failed(out)) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    return st;
}

static int on_run(void *ctx, const st_run *run)
{
    int *published = ctx;
    if (run->status == ST_RUN_PUBLISHED) *published = 1;
    return *published; /* stop at the first */
}

ms_status bt_lookup_published(st_store *s, const char *model, int *published, ms_error *err)
{
    *published = 0;
    return st_run_list(s, model, on_run, published, err);
}

typedef struct scan_ctx {
    FILE *f;
    mc_buf b;
    int64_t n;
    int io_error;
} scan_ctx;

static int on_scan(void *ctx, size_t i, const st_pred_row *row)
{
    scan_ctx *c = ctx;
    if (!row) return 0;
    bt_prediction_json(&c->b, row);
    mc_buf_putc(&c->b, '\n');
    c->n++;
    if (c->b.len >= 1 << 16) {
        if (fwrite(c->b.data, 1, c->b.len, c->f) != c->b.len) {
            c->io_error = 1;
            return 1;
        }
        mc_buf_reset(&c->b);
    }
    return 0;
}

ms_status bt_scan_jsonl(st_store *s, const char *model, FILE *f, int64_t *count, ms_error *err)
{
    scan_ctx c = {f, {0}, 0, 0};
    ms_status st = st_pred_scan(s, model, on_scan, &c, err);
    if (st == MS_OK && !c.io_error && c.b.len && fwrite(c.b.data, 1, c.b.len, f) != c.b.len)
        c.io_error = 1;
    if (st == MS_OK && (c.io_error || fflush(f) != 0))
        st = bs_fail(err, MS_ERR_RUNTIME, "cannot write the output");
    if (st == MS_OK && mc_buf_failed(&c.b)) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    mc_buf_free(&c.b);
    if (count) *count = c.n;
    return st;
}
