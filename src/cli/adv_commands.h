/* adv_commands.h: the commands `mlship advise` prints for the mode it recommends: real,
 * runnable lines of this CLI with the model's absolute path (serve; batch and the systemd
 * .service/.timer pair that runs it; a stream worker; export-c, or edge publish + agent). */
#ifndef ADV_COMMANDS_H
#define ADV_COMMANDS_H
#include <stddef.h>

#include "cli/adv_decide.h"

#define ADV_MAX_CMDS 6
#define ADV_CMD_LEN 1536

/* Where the commands point: the flags of the same names, or their defaults (docs/advise.md). */
typedef struct adv_places {
    const char *model;   /* absolute path, or "MODEL" without one */
    const char *name;    /* model name (store, units, edge) */
    const char *ident;   /* the name as a C identifier (export-c) */
    const char *input, *key, *store, *queue, *dir, *backend, *port;
    const char *mlship;  /* the binary for ExecStart= (absolute) */
} adv_places;

typedef struct adv_commands {
    char cmd[ADV_MAX_CMDS][ADV_CMD_LEN];
    int n;
    char service[8192], timer[512]; /* batch only: the systemd units, else empty */
    char unit_name[160];            /* "mlship-NAME" */
} adv_commands;

void adv_commands_build(const adv_advice *o, const adv_places *p, double requests_per_s,
                        double rows_per_s, adv_commands *out);
/* `s` for a POSIX shell: as is when it has only safe characters, else in single quotes. */
void adv_shell_quote(char *dst, size_t cap, const char *s);

#endif
