/* cli_edge.c: `mlship edge keygen | publish | sign`: the backend side of edge updates
 * (src/edge/agent/; format in docs/agent.md). publish writes a plain directory any HTTP
 * server or object store can host:
 *   DIR/blobs/<sha256>          the model, content-addressed
 *   DIR/NAME/manifest.json      what the device checks (ag_manifest.h)
 *   DIR/NAME/manifest.sig       Ed25519 over manifest.json's exact bytes */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/bs_error.h"
#include "base/bs_name.h"
#include "cli/cli_common.h"
#include "codec/codec_file.h"
#include "edge/agent/ag_golden.h"
#include "edge/agent/ag_manifest.h"
#include "edge/agent/ag_sign.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship edge keygen -o KEYFILE\n"
            "       mlship edge publish --key KEYFILE --model FILE --name NAME --version N --dir DIR\n"
            "                           [--golden X.npy] [--expires 30d] [--features TABLE ...]\n"
            "                           [--min-agent 0.1.0] [--rtol R] [--atol A]\n"
            "       mlship edge sign --key KEYFILE --manifest DIR/NAME/manifest.json\n"
            "\n"
            "The backend side of edge updates for `mlship agent` (docs/agent.md).\n"
            "\n"
            "keygen   write a new Ed25519 key pair: KEYFILE (secret, mode 0600) and KEYFILE.pub\n"
            "         (the public key, also printed: the device pins it with --pubkey)\n"
            "publish  copy FILE (ONNX, or XGBoost model.json) to DIR/blobs/<sha256> and write\n"
            "         DIR/NAME/manifest.json and its signature DIR/NAME/manifest.sig. N must be\n"
            "         greater than the version DIR already publishes (devices refuse anything\n"
            "         else). --golden X.npy: rows the device runs before it installs the model;\n"
            "         the outputs this model gives on them go into the manifest (the model is\n"
            "         loaded and run here; without --golden it is not loaded). --expires: the\n"
            "         manifest's lifetime, Ns, Nm, Nh or Nd (default 30d), or 'never'; a device\n"
            "         refuses an expired manifest and keeps serving what it has. --features:\n"
            "         feature tables the device should cache. --rtol/--atol: the golden check's\n"
            "         tolerance for float outputs (default 1e-5, 1e-6).\n"
            "sign     sign an edited manifest again (writes manifest.sig beside it)\n"
            "\n"
            "exit status: 0 ok, 1 runtime failure, 2 bad usage or input, 3 unsupported model.\n");
}

static int keygen(int argc, char **argv)
{
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *val;
        if (cli_is_help(argv[i])) { usage(stdout); return 0; }
        int rc = cli_opt(argc, argv, &i, "-o", &val);
        if (rc == 0) rc = cli_opt(argc, argv, &i, "--output", &val);
        if (rc < 0) return cli_usage_error("edge keygen", "-o needs a value");
        if (rc == 0) return cli_usage_error("edge keygen", "unexpected argument '%s'", argv[i]);
        out = val;
    }
    if (!out) return cli_usage_error("edge keygen", "give -o KEYFILE");
    ms_error err = {{0}};
    char pub[2 * AG_PK_BYTES + 1];
    if (ag_sign_init(&err) != MS_OK || ag_keygen(out, pub, &err) != MS_OK) return cli_fail("edge keygen", MS_ERR_INVALID, err.msg);
    printf("%s\n", pub);
    return 0;
}

/* "30d" -> seconds; "never" -> 0. -1 if malformed. */
static long long parse_lifetime(const char *s)
{
    if (strcmp(s, "never") == 0) return 0;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || end == s || n < 1 || n > 100000000LL) return -1;
    long long unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
    if (!unit || end[1]) return -1;
    return n * unit;
}

/* Write data to path through path.tmp and a rename, so a server never hands out half a file. */
static ms_status put_file(const char *path, const void *data, size_t len, ms_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ms_status st = mc_write_file(tmp, data, len, err);
    if (st == MS_OK && rename(tmp, path) != 0) st = bs_fail(err, MS_ERR_RUNTIME, "cannot rename '%s': %s", tmp, strerror(errno));
    if (st != MS_OK) unlink(tmp);
    return st;
}

static ms_status sign_file(const uint8_t *sk, const char *manifest, const mc_buf *body, ms_error *err)
{
    char sig[2 * AG_SIG_BYTES + 2], path[4200];
    ag_sign(sk, body->data, body->len, sig);
    size_t n = strlen(manifest);
    if (n < 5 || strcmp(manifest + n - 5, ".json") != 0)
        return bs_fail(err, MS_ERR_INVALID, "--manifest '%s' must end in .json", manifest);
    snprintf(path, sizeof path, "%.*s.sig", (int)(n - 5), manifest);
    return put_file(path, sig, strlen(sig), err);
}

static int sign_cmd(int argc, char **argv)
{
    const char *key = NULL, *manifest = NULL;
    for (int i = 1; i < argc; i++) {
        const char *val;
        if (cli_is_help(argv[i])) { usage(stdout); return 0; }
        int rk = cli_opt(argc, argv, &i, "--key", &val);
        if (rk > 0) { key = val; continue; }
        int rm = rk ? rk : cli_opt(argc, argv, &i, "--manifest", &val);
        if (rm > 0) { manifest = val; continue; }
        if (rm < 0) return cli_usage_error("edge sign", "option '%s' needs a value", argv[i]);
        return cli_usage_error("edge sign", "unexpected argument '%s'", argv[i]);
    }
    if (!key || !manifest) return cli_usage_error("edge sign", "give --key KEYFILE and --manifest FILE");
    uint8_t sk[AG_SK_BYTES];
    mc_buf body = {0};
    ms_error err = {{0}};
    ms_status st = ag_sign_init(&err);
    if (st == MS_OK) st = ag_read_secret(key, sk, &err);
    if (st == MS_OK) st = mc_read_file(manifest, &body, &err);
    if (st == MS_OK) st = sign_file(sk, manifest, &body, &err);
    sodium_memzero(sk, sizeof sk);
    mc_buf_free(&body);
    return st == MS_OK ? 0 : cli_fail("edge sign", st, err.msg);
}

typedef struct pub_args {
    const char *key, *model, *name, *dir, *golden, *expires, *min_agent;
    long version;
    double rtol, atol;
    int n_features;
    const char *features[AG_MAX_FEATURES];
} pub_args;

static int parse_pub(int argc, char **argv, pub_args *p)
{
    const char *version = NULL, *rtol = NULL, *atol = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (cli_is_help(a)) { usage(stdout); return -1; }
        struct { const char *name; const char **dst; } opts[] = {
            {"--key", &p->key},         {"--model", &p->model},   {"--name", &p->name},
            {"--dir", &p->dir},         {"--golden", &p->golden}, {"--expires", &p->expires},
            {"--min-agent", &p->min_agent}, {"--version", &version}, {"--rtol", &rtol}, {"--atol", &atol},
        };
        int matched = 0;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched; k++) {
            int rc = cli_opt(argc, argv, &i, opts[k].name, &val);
            if (rc < 0) return cli_usage_error("edge publish", "option '%s' needs a value", opts[k].name);
            if (rc > 0) { *opts[k].dst = val; matched = 1; }
        }
        if (matched) continue;
        if (strcmp(a, "--features") != 0) return cli_usage_error("edge publish", "unexpected argument '%s'", a);
        while (i + 1 < argc && argv[i + 1][0] != '-') {
            if (p->n_features == AG_MAX_FEATURES) return cli_usage_error("edge publish", "at most %d --features tables", AG_MAX_FEATURES);
            if (!bs_ident_ok(argv[i + 1])) return cli_usage_error("edge publish", "--features: invalid table name '%s'", argv[i + 1]);
            p->features[p->n_features++] = argv[++i];
        }
    }
    if (!p->key || !p->model || !p->name || !version || !p->dir)
        return cli_usage_error("edge publish", "give --key, --model, --name, --version and --dir");
    if (cli_parse_long(version, 1, 1L << 52, &p->version))
        return cli_usage_error("edge publish", "--version: '%s' is not a whole number >= 1", version);
    if ((rtol && cli_parse_double(rtol, 0, 1, &p->rtol)) || (atol && cli_parse_double(atol, 0, 1, &p->atol)))
        return cli_usage_error("edge publish", "--rtol and --atol are numbers in [0, 1]");
    if (bs_check_name("model name", p->name, &(ms_error){{0}}) != MS_OK || strchr(p->name, ':')) return cli_usage_error("edge publish", "--name: invalid model name '%s' ([A-Za-z0-9._-]+)", p->name);
    if (ag_version_cmp(p->min_agent, "0.0.0") == -2)
        return cli_usage_error("edge publish", "--min-agent: '%s' is not MAJOR.MINOR.PATCH", p->min_agent);
    if (parse_lifetime(p->expires) < 0)
        return cli_usage_error("edge publish", "--expires: '%s' is not Ns, Nm, Nh, Nd or 'never'", p->expires);
    return 0;
}

/* The golden object from --golden's rows (the model is loaded only for this). */
static ms_status make_golden(const pub_args *p, char **json, ms_error *err)
{
    ms_model *m = NULL;
    mc_oip_request in = {0};
    ms_status st = ms_model_load_file(p->model, &m, err);
    if (st == MS_OK) st = ms_model_check_supported(m, err);
    if (st == MS_OK) st = mc_tensors_read_file(p->golden, &in, NULL, err);
    if (st == MS_OK) st = ag_golden_make(m, &in, p->rtol, p->atol, json, err);
    mc_oip_request_free(&in);
    ms_model_free(m);
    return st;
}

/* The version DIR/NAME/manifest.json publishes now (0: none or unreadable). */
static int64_t published_version(const char *path)
{
    mc_buf b = {0};
    ms_error err = {{0}};
    ag_manifest m;
    int64_t v = 0;
    if (mc_read_file(path, &b, &err) == MS_OK && ag_manifest_parse(b.data, b.len, &m, &err) == MS_OK) v = m.version;
    if (v) ag_manifest_clear(&m);
    mc_buf_free(&b);
    return v;
}

static ms_status mkdir_p(const char *path, ms_error *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return bs_fail(err, MS_ERR_RUNTIME, "cannot create '%s': %s", path, strerror(errno));
    return MS_OK;
}

/* Copy the model into DIR/blobs/<sha256> (once: the name is its content). */
static ms_status put_blob(const pub_args *p, ag_manifest *m, ms_error *err)
{
    char path[4200];
    mc_buf b = {0};
    ms_status st = mc_read_file(p->model, &b, err);
    if (st != MS_OK) return st;
    ag_sha256 h;
    if (ag_sha256_init(&h) == MS_OK) ag_sha256_update(&h, b.data, b.len);
    if (ag_sha256_final(&h, m->sha256) != MS_OK) {
        mc_buf_free(&b);
        return bs_fail(err, MS_ERR_RUNTIME, "SHA-256 of '%s' failed (libcrypto)", p->model);
    }
    m->size = (int64_t)b.len;
    snprintf(m->blob, sizeof m->blob, "blobs/%s", m->sha256);
    snprintf(path, sizeof path, "%s/blobs", p->dir);
    if ((st = mkdir_p(path, err)) == MS_OK) {
        snprintf(path, sizeof path, "%s/%s", p->dir, m->blob);
        if (access(path, F_OK) != 0) st = put_file(path, b.data, b.len, err);
    }
    mc_buf_free(&b);
    return st;
}

static ms_status publish_into(const pub_args *p, const uint8_t *sk, ms_error *err)
{
    char path[4200];
    ag_manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", p->name);
    m.version = p->version;
    size_t n = strlen(p->model);
    snprintf(m.model_format, sizeof m.model_format, "%s", n >= 5 && strcmp(p->model + n - 5, ".json") == 0 ? "xgboost-json" : "onnx");
    m.created = (int64_t)time(NULL);
    long long life = parse_lifetime(p->expires);
    m.expires = life ? m.created + life : 0;
    snprintf(m.min_agent, sizeof m.min_agent, "%s", p->min_agent);
    for (int i = 0; i < p->n_features; i++) snprintf(m.features[i], sizeof m.features[i], "%s", p->features[i]);
    m.n_features = p->n_features;
    snprintf(path, sizeof path, "%s/%s/manifest.json", p->dir, p->name);
    int64_t have = published_version(path);
    if (have >= p->version)
        return bs_fail(err, MS_ERR_INVALID, "'%s' already publishes version %lld: --version must be greater (devices refuse anything else)",
                       path, (long long)have);
    ms_status st = mkdir_p(p->dir, err);
    if (st == MS_OK && p->golden) st = make_golden(p, &m.golden, err);
    if (st == MS_OK) st = put_blob(p, &m, err);
    mc_buf body = {0};
    if (st == MS_OK) st = ag_manifest_write(&m, &body, err);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/%s", p->dir, p->name);
    if (st == MS_OK) st = mkdir_p(sub, err);
    /* the manifest first: a device that meets the new manifest with the old signature refuses
     * it and asks again at its next check */
    if (st == MS_OK) st = put_file(path, body.data, body.len, err);
    if (st == MS_OK) st = sign_file(sk, path, &body, err);
    if (st == MS_OK) printf("published %s version %lld: %s (%lld bytes, sha256 %s)\n", m.name, (long long)m.version, path,
                            (long long)m.size, m.sha256);
    mc_buf_free(&body);
    ag_manifest_clear(&m);
    return st;
}

static int publish(int argc, char **argv)
{
    pub_args p = {.expires = "30d", .min_agent = MS_VERSION_STRING, .rtol = 1e-5, .atol = 1e-6};
    int rc = parse_pub(argc, argv, &p);
    if (rc) return rc < 0 ? 0 : rc;
    uint8_t sk[AG_SK_BYTES];
    ms_error err = {{0}};
    ms_status st = ag_sign_init(&err);
    if (st == MS_OK) st = ag_read_secret(p.key, sk, &err);
    if (st == MS_OK) st = publish_into(&p, sk, &err);
    sodium_memzero(sk, sizeof sk);
    return st == MS_OK ? 0 : cli_fail("edge publish", st, err.msg);
}

int cli_edge(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return CLI_EXIT_USAGE; }
    if (cli_is_help(argv[1])) { usage(stdout); return 0; }
    if (strcmp(argv[1], "keygen") == 0) return keygen(argc - 1, argv + 1);
    if (strcmp(argv[1], "publish") == 0) return publish(argc - 1, argv + 1);
    if (strcmp(argv[1], "sign") == 0) return sign_cmd(argc - 1, argv + 1);
    return cli_usage_error("edge", "unknown subcommand '%s' (keygen, publish, sign)", argv[1]);
}
