/* sm_alert.c: alert rules and the per-key hysteresis state (sm_alert.h). Keys are kept in an
 * open-addressing table that doubles at half full. */
#include "stream/sm_alert.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"
#include "base/bs_hash.h"
#include "codec/codec_csv.h"

struct sm_alert {
    char *rule;
    char output[128], col[128]; /* col "" when the rule has none */
    int below;                  /* '<' */
    double threshold, clear;
    char **keys;                /* raised keys' table slots; NULL: empty */
    unsigned char *raised;
    size_t cap, n;
};

static const char *trim(char *s)
{
    while (*s == ' ') s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ') s[--n] = 0;
    return s;
}

ms_status sm_alert_parse(const char *rule, double clear, int has_clear, sm_alert **out, ms_error *err)
{
    *out = NULL;
    char buf[300];
    if (strlen(rule) >= sizeof buf) return bs_fail(err, MS_ERR_INVALID, "--alert: the rule is too long");
    snprintf(buf, sizeof buf, "%s", rule);
    char *op = strpbrk(buf, "<>");
    if (!op) return bs_fail(err, MS_ERR_INVALID, "--alert '%s': expected 'OUTPUT[COL] > NUMBER' or '<'", rule);
    int below = *op == '<';
    *op = 0;
    double thr;
    const char *num = trim(op + 1);
    if (mc_parse_f64(num, strlen(num), &thr) || thr != thr)
        return bs_fail(err, MS_ERR_INVALID, "--alert '%s': '%s' is not a number", rule, num);
    char *lhs = (char *)trim(buf), *br = strchr(lhs, '[');
    char col[128] = "";
    if (br) {
        char *end = strchr(br, ']');
        if (!end || end[1] || end == br + 1)
            return bs_fail(err, MS_ERR_INVALID, "--alert '%s': expected OUTPUT[COL]", rule);
        *end = 0;
        snprintf(col, sizeof col, "%s", br + 1);
        *br = 0;
    }
    if (!*lhs || strlen(lhs) >= 128) return bs_fail(err, MS_ERR_INVALID, "--alert '%s': no output name", rule);
    if (!has_clear) clear = thr;
    if (below ? clear < thr : clear > thr)
        return bs_fail(err, MS_ERR_INVALID, "--alert-clear %g must be %s the threshold %g (hysteresis)",
                       clear, below ? "at least" : "at most", thr);
    sm_alert *a = calloc(1, sizeof *a);
    if (!a || !(a->rule = strdup(rule))) {
        free(a);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    snprintf(a->output, sizeof a->output, "%s", lhs);
    snprintf(a->col, sizeof a->col, "%s", col);
    a->below = below;
    a->threshold = thr;
    a->clear = clear;
    *out = a;
    return MS_OK;
}

void sm_alert_free(sm_alert *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->cap; i++) free(a->keys[i]);
    free(a->keys);
    free(a->raised);
    free(a->rule);
    free(a);
}

const char *sm_alert_rule(const sm_alert *a) { return a->rule; }

/* The slot of key (found or the empty one where it goes). */
static size_t slot(const sm_alert *a, const char *key)
{
    size_t i = (size_t)bs_fnv1a(key, strlen(key), BS_FNV_INIT) & (a->cap - 1);
    while (a->keys[i] && strcmp(a->keys[i], key)) i = (i + 1) & (a->cap - 1);
    return i;
}

static int grow(sm_alert *a)
{
    size_t oc = a->cap, nc = oc ? oc * 2 : 64;
    char **ok = a->keys;
    unsigned char *orr = a->raised;
    a->keys = calloc(nc, sizeof *a->keys);
    a->raised = calloc(nc, 1);
    if (!a->keys || !a->raised) {
        free(a->keys), free(a->raised);
        a->keys = ok, a->raised = orr;
        return -1;
    }
    a->cap = nc;
    for (size_t i = 0; i < oc; i++)
        if (ok[i]) {
            size_t s = slot(a, ok[i]);
            a->keys[s] = ok[i];
            a->raised[s] = orr[i];
        }
    free(ok), free(orr);
    return 0;
}

/* The number OUTPUT[COL] in the outputs object. */
static int read_value(const sm_alert *a, const cJSON *o, double *v, ms_error *err)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a->output);
    if (!x) return bs_fail(err, MS_ERR_INVALID, "--alert: the outputs have no '%s'", a->output), -1;
    if (a->col[0]) {
        if (cJSON_IsArray(x)) {
            long c;
            char *end;
            c = strtol(a->col, &end, 10);
            x = *end || c < 0 ? NULL : cJSON_GetArrayItem(x, (int)c);
        } else {
            x = cJSON_IsObject(x) ? cJSON_GetObjectItemCaseSensitive(x, a->col) : NULL;
        }
        if (!x) return bs_fail(err, MS_ERR_INVALID, "--alert: output '%s' has no column '%s'", a->output, a->col), -1;
    }
    if (!cJSON_IsNumber(x)) return bs_fail(err, MS_ERR_INVALID, "--alert: %s is not a number", a->rule), -1;
    *v = x->valuedouble;
    return 0;
}

int sm_alert_step(sm_alert *a, const char *key, const char *outputs, size_t len, double *value,
                  ms_error *err)
{
    cJSON *o = cJSON_ParseWithLength(outputs, len);
    if (!o) return bs_fail(err, MS_ERR_INVALID, "--alert: the outputs are not JSON"), -1;
    int rc = read_value(a, o, value, err);
    cJSON_Delete(o);
    if (rc) return -1;
    if ((a->n + 1) * 2 > a->cap && grow(a)) return bs_fail(err, MS_ERR_RUNTIME, "out of memory"), -1;
    size_t s = slot(a, key ? key : "");
    double v = *value;
    int over = a->below ? v < a->threshold : v > a->threshold;
    int back = a->below ? v > a->clear : v < a->clear;
    if (!a->raised[s] && over) {
        if (!a->keys[s]) {
            if (!(a->keys[s] = strdup(key ? key : ""))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory"), -1;
            a->n++;
        }
        a->raised[s] = 1;
        return SM_ALERT_RAISED;
    }
    if (a->raised[s] && back) {
        a->raised[s] = 0;
        return SM_ALERT_CLEARED;
    }
    return SM_ALERT_NONE;
}
