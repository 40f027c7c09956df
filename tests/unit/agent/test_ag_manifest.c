/* test_ag_manifest.c: the edge manifest parser (src/edge/agent/ag_manifest.c) on hand-written
 * manifests: a valid one read field by field, write -> parse giving the same fields back, and
 * one broken field at a time refused with the field named (docs/agent.md lists the rules). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/agent/ag_manifest.h"
#include "mstest.h"

#define SHA "4f2a9c0d6b1e8f7a3c5d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"

static const char *valid =
    "{\"format\": \"mlship-edge/1\", \"name\": \"fraud\", \"version\": 3, \"sha256\": \"" SHA "\", "
    "\"size\": 2392, \"blob\": \"blobs/" SHA "\", \"model_format\": \"onnx\", \"created\": 1767225600, "
    "\"expires\": 1769817600, \"min_agent_version\": \"0.1.0\", \"features\": [\"customer_features\", \"t2\"], "
    "\"golden\": {\"rtol\": 1e-05, \"atol\": 1e-06, \"inputs\": [{\"name\": \"X\", \"datatype\": \"FP32\", "
    "\"shape\": [1, 2], \"data\": [1, 2]}], \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [1], "
    "\"data\": [0.5]}]}}";

TEST(test_valid)
{
    ag_manifest m;
    ms_error err;
    CHECK_MSG(ag_manifest_parse(valid, strlen(valid), &m, &err) == MS_OK, "%s", err.msg);
    CHECK(strcmp(m.name, "fraud") == 0 && m.version == 3 && m.size == 2392);
    CHECK(strcmp(m.sha256, SHA) == 0 && strcmp(m.blob, "blobs/" SHA) == 0 && strcmp(m.model_format, "onnx") == 0);
    CHECK(m.created == 1767225600 && m.expires == 1769817600 && strcmp(m.min_agent, "0.1.0") == 0);
    CHECK(m.n_features == 2 && strcmp(m.features[0], "customer_features") == 0 && strcmp(m.features[1], "t2") == 0);
    CHECK(m.golden && strstr(m.golden, "\"inputs\"") && strstr(m.golden, "0.5"));
    /* written and read back: the same fields */
    mc_buf b = {0};
    CHECK(ag_manifest_write(&m, &b, &err) == MS_OK);
    ag_manifest m2;
    CHECK(ag_manifest_parse(b.data, b.len, &m2, &err) == MS_OK);
    CHECK(m2.version == 3 && strcmp(m2.sha256, m.sha256) == 0 && m2.n_features == 2 && m2.expires == m.expires);
    CHECK(m2.golden && strcmp(m2.golden, m.golden) == 0);
    ag_manifest_clear(&m2);
    mc_buf_free(&b);
    ag_manifest_clear(&m);
    /* without the optional fields */
    const char *bare = "{\"format\": \"mlship-edge/1\", \"name\": \"a\", \"version\": 1, \"sha256\": \"" SHA "\", "
                       "\"size\": 1, \"blob\": \"b\", \"model_format\": \"xgboost-json\", \"created\": 0, "
                       "\"expires\": 0, \"min_agent_version\": \"0.0.1\"}";
    CHECK_MSG(ag_manifest_parse(bare, strlen(bare), &m, &err) == MS_OK, "%s", err.msg);
    CHECK(!m.golden && m.n_features == 0 && strcmp(ag_model_file(m.model_format), "model.json") == 0);
    ag_manifest_clear(&m);
}

/* valid with the text `from` replaced by `to` must fail naming `field`. */
static void refused(const char *from, const char *to, const char *field)
{
    char buf[4096];
    const char *at = strstr(valid, from);
    CHECK_MSG(at != NULL, "'%s' not in the valid manifest", from);
    if (!at) return;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - valid), valid, to, at + strlen(from));
    ag_manifest m;
    ms_error err = {{0}};
    ms_status st = ag_manifest_parse(buf, strlen(buf), &m, &err);
    CHECK_MSG(st != MS_OK && strstr(err.msg, field), "%s -> %s: status %d, '%s'", from, to, (int)st, err.msg);
    CHECK(m.golden == NULL && m.version == 0); /* left empty */
    ag_manifest_clear(&m);
}

TEST(test_invalid)
{
    refused("\"mlship-edge/1\"", "\"mlship-edge/2\"", "format");
    refused("\"name\": \"fraud\"", "\"name\": \"../x\"", "model name");
    refused("\"name\": \"fraud\", ", "", "name");
    refused("\"version\": 3", "\"version\": 0", "version");
    refused("\"version\": 3", "\"version\": 3.5", "version");
    refused("\"version\": 3", "\"version\": \"3\"", "version");
    refused("\"version\": 3", "\"version\": 1e300", "version");
    refused("\"sha256\": \"4f", "\"sha256\": \"4F", "sha256");
    refused("\"sha256\": \"4f", "\"sha256\": \"", "sha256");
    refused("\"size\": 2392", "\"size\": -1", "size");
    refused("\"blob\": \"blobs/", "\"blob\": \"../", "blob");
    refused("\"blob\": \"blobs/", "\"blob\": \"/etc/", "blob");
    refused("\"model_format\": \"onnx\"", "\"model_format\": \"pickle\"", "model_format");
    refused("\"expires\": 1769817600", "\"expires\": 1000", "expires");
    refused("\"min_agent_version\": \"0.1.0\"", "\"min_agent_version\": \"1.x\"", "min_agent_version");
    refused("[\"customer_features\", \"t2\"]", "[\"drop table\"]", "features");
    refused("[\"customer_features\", \"t2\"]", "\"t\"", "features");
    refused("\"rtol\": 1e-05", "\"rtol\": 2", "golden.rtol");
    refused("\"inputs\": [", "\"inputs\": [], \"x\": [", "golden.inputs");
    refused("\"golden\": {", "\"golden\": 5, \"x\": {", "golden");
}

TEST(test_not_json_and_size)
{
    ag_manifest m;
    ms_error err;
    CHECK(ag_manifest_parse("[1, 2]", 6, &m, &err) == MS_ERR_INVALID && strstr(err.msg, "not a JSON object"));
    CHECK(ag_manifest_parse("{\"format\":", 10, &m, &err) == MS_ERR_INVALID && strstr(err.msg, "not valid JSON"));
    size_t big = AG_MANIFEST_MAX + 1;
    char *b = malloc(big);
    CHECK(b != NULL);
    if (!b) return;
    memset(b, ' ', big);
    CHECK(ag_manifest_parse(b, big, &m, &err) == MS_ERR_INVALID && strstr(err.msg, "larger than"));
    free(b);
    CHECK(ag_version_cmp("0.1.0", "0.2.0") < 0 && ag_version_cmp("1.0.0", "0.9.9") > 0 && ag_version_cmp("1.2.3", "1.2.3") == 0);
    CHECK(ag_version_cmp("1.2", "1.2.0") == -2);
}

int main(void)
{
    RUN(test_valid);
    RUN(test_invalid);
    RUN(test_not_json_and_size);
    return mstest_summary();
}
