/* cli_export.c: `mlship export-c MODEL --name NAME -o DIR [--output OUT] [--report]`: the model
 * as standalone C99 for a microcontroller; with --kernels-only, the runtime's kernel table for
 * that model instead (src/edge/ex_export.h; docs/edge.md). */
#include <string.h>

#include "cli/cli_common.h"
#include "edge/ex_export.h"

static const char *CMD = "export-c";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship export-c MODEL --name NAME -o DIR [--output OUT] [--report]\n"
            "       mlship export-c MODEL --kernels-only --name NAME -o DIR\n"
            "\n"
            "Write DIR/NAME.h and DIR/NAME.c: the model (ONNX or XGBoost model.json) as standalone\n"
            "C99 that needs only <stdint.h>, <string.h> and <math.h>, allocates nothing, keeps its\n"
            "weights in static const arrays (flash) and its activations in one static arena sized\n"
            "here. The header defines NAME_INPUT_SIZE, NAME_OUTPUT_SIZE, NAME_ARENA_BYTES (NAME in\n"
            "capitals) and declares\n"
            "    int NAME_predict(const float *input, float *output);\n"
            "one row in (the model's one float input, row-major), the output's floats out; it\n"
            "returns 0, or nonzero for a NaN input where the model defines none.\n"
            "Supported: tree ensembles, linear models, Scaler, Normalizer, Imputer, OneHotEncoder,\n"
            "ArrayFeatureExtractor, and networks of Gemm, MatMul, Conv (BatchNormalization folded\n"
            "in), MaxPool, AveragePool, GlobalAveragePool, Relu, LeakyRelu, Sigmoid, Tanh, Softmax,\n"
            "Reshape, Flatten, Concat, Add, Sub, Mul, Div. ZipMap is skipped (its probabilities\n"
            "are written). Anything else exits 3 naming the operator and the node.\n"
            "\n"
            "options:\n"
            "  --name NAME   C identifier for the files and the function (required)\n"
            "  -o DIR        output directory, which must exist (required)\n"
            "  --output OUT  the float output to write (default: the first float output, i.e.\n"
            "                the probabilities of a classifier)\n"
            "  --report      print flash (weights) and RAM (arena, tree keys, stack estimate)\n"
            "                and the multiply-adds per row (Gemm, MatMul, Conv, linear\n"
            "                models; trees count none) as JSON\n"
            "  --kernels-only  write DIR/NAME_kernels.c instead: the runtime's kernel table\n"
            "                naming only the kernel families this model uses, for a program that\n"
            "                runs model blobs with libmlship_core.a (`make core`); linked before\n"
            "                the library with --gc-sections, the other kernels are left out\n"
            "  -h, --help    show this help\n"
            "\n"
            "Code size depends on the compiler: build NAME.c for the target and run `size`, e.g.\n"
            "  arm-none-eabi-gcc -Os -mthumb -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16 \\\n"
            "    -c NAME.c && arm-none-eabi-size NAME.o   (text = code + weights)\n"
            "\n"
            "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad model file,\n"
            "3 an operator or feature export-c cannot write.\n");
}

static void report(const char *name, const ex_report *r)
{
    printf("{\"name\": \"%s\", \"input_size\": %lld, \"output_size\": %lld, \"layers\": %d,\n"
           " \"multiply_adds\": %lld,\n"
           " \"flash\": {\"weights_bytes\": %lld, \"code_bytes\": null,\n"
           "           \"code_note\": \"compile %s.c for the target and run size: text minus weights_bytes\"},\n"
           " \"ram\": {\"arena_bytes\": %lld, \"tree_keys_bytes\": %lld, \"stack_bytes_estimate\": %lld},\n"
           " \"heap_bytes\": 0, \"nan_defined\": %s}\n",
           name, (long long)r->input_size, (long long)r->output_size, r->n_layers, (long long)r->macs,
           (long long)r->weight_bytes, name, (long long)r->arena_bytes, (long long)r->keys_bytes,
           (long long)r->stack_bytes,
           r->nan_ok ? "true" : "false");
}

int cli_export(int argc, char **argv)
{
    const char *model = NULL, *name = NULL, *dir = NULL, *output = NULL, *v;
    int want_report = 0, kernels_only = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "--name", &v))) {
            if (r < 0) return cli_usage_error(CMD, "--name needs a value");
            name = v;
        } else if ((r = cli_opt(argc, argv, &i, "-o", &v))) {
            if (r < 0) return cli_usage_error(CMD, "-o needs a directory");
            dir = v;
        } else if ((r = cli_opt(argc, argv, &i, "--output", &v))) {
            if (r < 0) return cli_usage_error(CMD, "--output needs an output name");
            output = v;
        } else if (!strcmp(argv[i], "--report")) {
            want_report = 1;
        } else if (!strcmp(argv[i], "--kernels-only")) {
            kernels_only = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(CMD, "unknown option '%s'", argv[i]);
        } else if (!model) {
            model = argv[i];
        } else {
            return cli_usage_error(CMD, "one MODEL only ('%s' is a second)", argv[i]);
        }
    }
    if (!model) return cli_usage_error(CMD, "no MODEL given");
    if (!name) return cli_usage_error(CMD, "--name NAME is required");
    if (!dir) return cli_usage_error(CMD, "-o DIR is required");
    if (kernels_only && (output || want_report))
        return cli_usage_error(CMD, "--kernels-only takes no --output or --report");
    ms_error err;
    ex_report rep;
    int families = 0;
    ms_status st = kernels_only ? ex_export_kernels(model, name, dir, &families, &err)
                                : ex_export(model, name, dir, output, &rep, &err);
    if (st) {
        char msg[sizeof err.msg + 300];
        snprintf(msg, sizeof msg, "%s: %s", model, err.msg);
        return cli_fail(CMD, st, msg);
    }
    if (want_report) report(name, &rep);
    if (kernels_only) printf("%s/%s_kernels.c: %d kernel families\n", dir, name, families);
    return 0;
}
