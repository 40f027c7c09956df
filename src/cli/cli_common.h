/* cli_common.h: what the mlship subcommands share: argument helpers, exit-code conventions,
 * model loading with messages, and checking tensors against a model's declared inputs.
 *
 * Exit codes are ms_status values: 0 ok, 1 runtime failure, 2 bad usage or bad input,
 * 3 unsupported operator or feature. */
#ifndef CLI_COMMON_H
#define CLI_COMMON_H

#include <stdio.h>

#include "codec/codec_json.h"
#include "mlship.h"

#define CLI_EXIT_USAGE 2

/* Subcommand entry points: argv[0] is the subcommand's name. */
int cli_inspect(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_features(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_batch(int argc, char **argv);
int cli_lookup(int argc, char **argv);
int cli_stream(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_edge(int argc, char **argv);
int cli_agent(int argc, char **argv);
int cli_advise(int argc, char **argv);

/* "mlship CMD: message" + a hint to --help, on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "mlship CMD: message" on stderr; returns `st` (the exit code). */
int cli_fail(const char *cmd, ms_status st, const char *msg);

int cli_is_help(const char *arg);
/* Match option `name` at argv[*i] as "--name VALUE" or "--name=VALUE" (short forms such as
 * "-o" take "-o VALUE" only). Returns 1 and sets *val (advancing *i past a separate value),
 * 0 if argv[*i] is another option, -1 if the value is missing. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* Strict number parsing: the whole string, within [lo, hi]. 0 on success. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);

/* Load a model, printing the error as "mlship CMD: ..."; returns the exit code. */
int cli_load_model(const char *cmd, const char *path, ms_model **out);


/* --partitions N on a queue command: the queue URL with "partitions=N" added to its query
 * (the two forms mean the same; docs/partitions.md) into *out (malloc'd; NULL when n is 0).
 * A URL that is not redis:// or already names partitions is a usage error (the exit code is
 * returned; 0 on success). */
int cli_queue_partitions(const char *cmd, const char *url, long n, char **out);

/* "models/iris.onnx" -> "iris" (into dst). */
void cli_model_name(char *dst, size_t cap, const char *path);

#endif
