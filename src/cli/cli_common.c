/* cli_common.c: helpers shared by the subcommands (see cli_common.h). */
#include "cli/cli_common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_buf.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mlship%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'mlship%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int cli_fail(const char *cmd, ms_status st, const char *msg)
{
    fprintf(stderr, "mlship %s: %s\n", cmd, msg);
    return (int)st;
}

int cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=' && name[1] == '-') { *val = a + n + 1; return 1; }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

int cli_load_model(const char *cmd, const char *path, ms_model **out)
{
    ms_error err = {{0}};
    ms_status st = ms_model_load_file(path, out, &err);
    if (st != MS_OK) {
        fprintf(stderr, "mlship %s: %s\n", cmd, err.msg[0] ? err.msg : "cannot load the model");
        return (int)st;
    }
    return 0;
}

void cli_model_name(char *dst, size_t cap, const char *path)
{
    /* ".../iris.onnx" -> "iris"; ".../iris/model.onnx" -> "iris" (a generic file name says
     * less than the directory holding it, as in the ONNX test data and model repositories). */
    const char *end = path + strlen(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = (size_t)((dot && dot != base ? dot : end) - base);
    if (n == 5 && strncmp(base, "model", 5) == 0 && base > path + 1) {
        const char *dir_end = base - 1, *dir = dir_end;
        while (dir > path && dir[-1] != '/') dir--;
        if (dir_end > dir) { base = dir; n = (size_t)(dir_end - dir); }
    }
    snprintf(dst, cap, "%.*s", (int)n, base);
}

int cli_queue_partitions(const char *cmd, const char *url, long n, char **out)
{
    *out = NULL;
    if (n == 0) return 0;
    if (strncmp(url, "redis://", 8) != 0)
        return cli_usage_error(cmd, "--partitions needs a redis:// queue URL, not '%.200s'", url);
    const char *q = strchr(url, '?');
    if (q && strstr(q, "partitions="))
        return cli_usage_error(cmd, "the queue URL already names its partitions: drop --partitions");
    size_t len = strlen(url) + 32;
    if (!(*out = malloc(len))) return cli_fail(cmd, MS_ERR_RUNTIME, "out of memory");
    snprintf(*out, len, "%s%spartitions=%ld", url, q ? "&" : "?", n);
    return 0;
}
