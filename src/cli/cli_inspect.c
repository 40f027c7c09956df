/* cli_inspect.c: `mlship inspect MODEL`: the model's interface and operators as JSON. */
#include <string.h>

#include "cli/cli_common.h"
#include "codec/codec_buf.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship inspect MODEL\n"
            "\n"
            "Print a JSON description of an ONNX model on stdout: ir_version, producer, opset\n"
            "imports, inputs and outputs (name, element type, shape; a symbolic dimension is\n"
            "shown by its name, or null when it has none; a missing shape is null), and the\n"
            "operators the graph uses, each with \"supported\": true/false. The top-level\n"
            "\"supported\" is true when every operator has a kernel.\n"
            "\n"
            "options:\n"
            "  -h, --help   show this help\n"
            "\n"
            "exit status: 0 ok (even when operators are unsupported), 1 runtime failure,\n"
            "2 bad usage or malformed model.\n");
}

static void put_values(mc_buf *b, const ms_model *m, int outputs)
{
    int n = outputs ? ms_model_num_outputs(m) : ms_model_num_inputs(m);
    mc_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        const ms_value_info *vi = outputs ? ms_model_output(m, i) : ms_model_input(m, i);
        mc_buf_puts(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        mc_buf_put_json_str(b, vi->name ? vi->name : "");
        mc_buf_puts(b, ", \"type\": ");
        if (vi->dtype == MS_DTYPE_UNDEFINED) mc_buf_puts(b, "null");
        else mc_buf_put_json_str(b, ms_dtype_name(vi->dtype));
        mc_buf_puts(b, ", \"shape\": ");
        if (vi->ndim < 0) {
            mc_buf_puts(b, "null");
        } else {
            mc_buf_putc(b, '[');
            for (int d = 0; d < vi->ndim; d++) {
                if (d) mc_buf_puts(b, ", ");
                if (vi->shape[d] >= 0) mc_buf_put_i64(b, vi->shape[d]);
                else if (vi->dim_names[d] && vi->dim_names[d][0]) mc_buf_put_json_str(b, vi->dim_names[d]);
                else mc_buf_puts(b, "null");
            }
            mc_buf_putc(b, ']');
        }
        mc_buf_putc(b, '}');
    }
    mc_buf_puts(b, n ? "\n  ]" : "]");
}

static const char *domain_name(const char *d) { return d && d[0] ? d : "ai.onnx"; }

int cli_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && a[0] == '-' && a[1]) {
            if (strcmp(a, "--") == 0) { only_pos = 1; continue; }
            if (cli_is_help(a)) { usage(stdout); return 0; }
            return cli_usage_error("inspect", "unknown option '%s'", a);
        }
        if (path) return cli_usage_error("inspect", "unexpected argument '%s'", a);
        path = a;
    }
    if (!path) return cli_usage_error("inspect", "missing MODEL");

    ms_model *m;
    int rc = cli_load_model("inspect", path, &m);
    if (rc) return rc;

    mc_buf b = {0};
    mc_buf_puts(&b, "{\n  \"model\": ");
    mc_buf_put_json_str(&b, path);
    mc_buf_puts(&b, ",\n  \"ir_version\": ");
    mc_buf_put_i64(&b, ms_model_ir_version(m));
    mc_buf_puts(&b, ",\n  \"producer\": ");
    mc_buf_put_json_str(&b, ms_model_producer(m) ? ms_model_producer(m) : "");
    mc_buf_puts(&b, ",\n  \"opset_import\": [");
    for (int i = 0; i < ms_model_num_opsets(m); i++) {
        const char *dom;
        int64_t ver;
        ms_model_opset(m, i, &dom, &ver);
        mc_buf_puts(&b, i ? ", {\"domain\": " : "{\"domain\": ");
        mc_buf_put_json_str(&b, domain_name(dom));
        mc_buf_puts(&b, ", \"version\": ");
        mc_buf_put_i64(&b, ver);
        mc_buf_putc(&b, '}');
    }
    mc_buf_puts(&b, "],\n  \"inputs\": ");
    put_values(&b, m, 0);
    mc_buf_puts(&b, ",\n  \"outputs\": ");
    put_values(&b, m, 1);
    mc_buf_puts(&b, ",\n  \"operators\": [");
    int all = 1, nops = ms_model_num_ops(m);
    for (int i = 0; i < nops; i++) {
        const char *dom, *op;
        int sup;
        ms_model_op(m, i, &dom, &op, &sup);
        all &= sup != 0;
        mc_buf_puts(&b, i ? ",\n    {\"domain\": " : "\n    {\"domain\": ");
        mc_buf_put_json_str(&b, domain_name(dom));
        mc_buf_puts(&b, ", \"op_type\": ");
        mc_buf_put_json_str(&b, op);
        mc_buf_puts(&b, sup ? ", \"supported\": true}" : ", \"supported\": false}");
    }
    mc_buf_puts(&b, nops ? "\n  ],\n  \"supported\": " : "],\n  \"supported\": ");
    mc_buf_puts(&b, all ? "true\n}\n" : "false\n}\n");
    ms_model_free(m);

    if (mc_buf_failed(&b)) {
        mc_buf_free(&b);
        return cli_fail("inspect", MS_ERR_RUNTIME, "out of memory");
    }
    int bad = fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0;
    mc_buf_free(&b);
    return bad ? cli_fail("inspect", MS_ERR_RUNTIME, "cannot write to stdout") : 0;
}
