/* bt_config.c: features.columns from a model's config.json (see bt_config.h). */
#include "batch/bt_config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/codec_buf.h"

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return n > 0;
}

void bt_config_find(const char *model_path, char *dst, size_t cap)
{
    dst[0] = 0;
    const char *slash = strrchr(model_path, '/');
    size_t dir = slash ? (size_t)(slash - model_path) : 0;
    char p[4096];
    /* next to the model */
    if (slash) snprintf(p, sizeof p, "%.*s/config.json", (int)dir, model_path);
    else snprintf(p, sizeof p, "config.json");
    if (is_file(p)) {
        snprintf(dst, cap, "%s", p);
        return;
    }
    /* <name>/<version>/model.*: the repository's <name>/config.json */
    if (!slash || strncmp(slash + 1, "model.", 6) != 0) return;
    const char *vs = model_path + dir;
    while (vs > model_path && vs[-1] != '/') vs--;
    if (!all_digits(vs, (size_t)(model_path + dir - vs)) || vs == model_path) return;
    snprintf(p, sizeof p, "%.*s/config.json", (int)(vs - 1 - model_path), model_path);
    if (vs - 1 > model_path && is_file(p)) snprintf(dst, cap, "%s", p);
}

ms_status bt_config_columns(const char *path, char **columns, ms_error *err)
{
    *columns = NULL;
    mc_buf text = {0};
    ms_status st = mc_read_file(path, &text, err);
    if (st != MS_OK) {
        mc_buf_free(&text);
        return st;
    }
    cJSON *root = cJSON_ParseWithLength(text.data, text.len);
    mc_buf_free(&text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bs_fail(err, MS_ERR_INVALID, "%s: not a JSON object", path);
    }
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "features"), "columns");
    mc_buf b = {0};
    if (cols && (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) == 0))
        st = bs_fail(err, MS_ERR_INVALID, "%s: features.columns must be a non-empty array of "
                     "column names", path);
    for (const cJSON *e = cols ? cols->child : NULL; e && st == MS_OK; e = e->next) {
        const char *v = cJSON_GetStringValue(e);
        if (!v || !*v || strchr(v, ','))
            st = bs_fail(err, MS_ERR_INVALID, "%s: features.columns must be column names "
                         "(non-empty strings without commas)", path);
        if (e != cols->child) mc_buf_putc(&b, ',');
        if (v) mc_buf_puts(&b, v);
    }
    cJSON_Delete(root);
    if (st == MS_OK && mc_buf_failed(&b)) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st != MS_OK || !cols) {
        mc_buf_free(&b);
        return st;
    }
    *columns = b.data; /* NUL-terminated, owned by the caller */
    return MS_OK;
}
