/* main.c: `mlship <command>`: global options and dispatch to one file per command. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_common.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"advise", cli_advise, "which deployment mode for a model and its constraints, and the commands"},
    {"inspect", cli_inspect, "show a model's inputs, outputs, opsets and operators (JSON)"},
    {"predict", cli_predict, "run a model on input tensors (.npy, .pb, JSON)"},
    {"bench", cli_bench, "measure latency and throughput of a model"},
    {"features", cli_features, "load feature rows from CSV into a store (SQLite, PostgreSQL, Redis)"},
    {"serve", cli_serve, "serve models over HTTP (Open Inference Protocol, /predict, /v1)"},
    {"batch", cli_batch, "score a CSV, JSON Lines file or SQL query into the prediction store"},
    {"lookup", cli_lookup, "look up published batch predictions by key"},
    {"stream", cli_stream, "stream workers and pipelines: score events from a queue (SQLite, Redis)"},
    {"export-c", cli_export, "write a model as standalone C99 for a microcontroller"},
    {"edge", cli_edge, "publish signed model updates for devices (keygen, publish, sign)"},
    {"agent", cli_agent, "serve a model on a device and take signed updates from a backend"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship <command> [options] [args]\n"
            "       mlship --help | --version\n"
            "\n"
            "mlship deploys trained models (ONNX, XGBoost JSON) with its own C inference runtime:\nreal-time over HTTP, batch scoring into a store, streaming from a queue, and on the\ndevice itself (C for microcontrollers, a WebAssembly package, a device agent).\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "'mlship <command> --help' describes a command.\n"
            "\n"
            "exit status:\n"
            "  0  success\n"
            "  1  runtime failure (out of memory, I/O error, internal error)\n"
            "  2  bad usage or bad input (unknown option, malformed model or tensor file,\n"
            "     wrong input shape or type)\n"
            "  3  unsupported: a valid model or input using an operator or feature mlship lacks\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (cli_is_help(cmd)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("mlship %s\n", MS_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *args[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, args);
                }
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return 0;
    }
    if (cmd[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", cmd);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
