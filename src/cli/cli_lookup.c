/* cli_lookup.c: `mlship lookup`: published batch predictions by key, or all of them. */
#include <stdlib.h>
#include <string.h>

#include "batch/bt_lookup.h"
#include "cli/cli_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship lookup --model NAME [--store URL] KEY...\n"
            "       mlship lookup --model NAME [--store URL] --all\n"
            "\n"
            "Print the published batch predictions of NAME (what `mlship batch` stored in its\n"
            "last complete run), one JSON object per line:\n"
            "  {\"key\":..,\"model\":..,\"model_version\":..,\"run_id\":..,\"scored_at\":..,\"outputs\":{..}}\n"
            "An unknown key prints {\"key\":..,\"found\":false}. All keys are read from one snapshot.\n"
            "\n"
            "options:\n"
            "  --model NAME    the model name the batch job stored (its --name)\n"
            "  --store URL     sqlite:///abs.db, sqlite://rel.db, postgresql://...\n"
            "                  (default $MLSHIP_STORE, else sqlite://mlship.db)\n"
            "  --all           stream every published prediction, ordered by key (JSON lines)\n"
            "  -               read keys from stdin, one per line\n"
            "  -h, --help      show this help\n"
            "\n"
            "The store is opened read-only and never created: a store file that does not exist,\n"
            "or a model with no published run there, is \"model NAME has no published run in\n"
            "STORE\" (exit 2), not a \"not found\" for every key.\n"
            "\n"
            "exit status: 0 ok (every key found), 1 runtime failure, 2 bad usage or bad input\n"
            "(also: no published run of NAME in STORE), 4 some keys were not found.\n");
}

int cli_lookup(int argc, char **argv)
{
    const char *store_url = getenv("MLSHIP_STORE"), *model = NULL;
    if (!store_url || !*store_url) store_url = "sqlite://mlship.db";
    int all = 0, from_stdin = 0, only_pos = 0;
    const char **keys = calloc((size_t)argc + 1, sizeof *keys);
    size_t nkeys = 0, kcap = (size_t)argc + 1;
    if (!keys) return cli_fail("lookup", MS_ERR_RUNTIME, "out of memory");
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i], *v;
        int r;
        if (only_pos || a[0] != '-') {
            keys[nkeys++] = a;
        } else if (strcmp(a, "--") == 0) {
            only_pos = 1;
        } else if (strcmp(a, "-") == 0) {
            from_stdin = 1;
        } else if (cli_is_help(a)) {
            usage(stdout);
            free(keys);
            return 0;
        } else if ((r = cli_opt(argc, argv, &i, "--model", &v)) != 0) {
            if (r < 0) rc = cli_usage_error("lookup", "--model needs a name");
            model = v;
        } else if ((r = cli_opt(argc, argv, &i, "--store", &v)) != 0) {
            if (r < 0) rc = cli_usage_error("lookup", "--store needs a URL");
            store_url = v;
        } else if (strcmp(a, "--all") == 0) {
            all = 1;
        } else {
            rc = cli_usage_error("lookup", "unknown option '%s'", a);
        }
    }
    if (!rc && !model) rc = cli_usage_error("lookup", "missing --model NAME");
    if (!rc && all && (nkeys || from_stdin)) rc = cli_usage_error("lookup", "--all takes no keys");
    if (!rc && !all && !nkeys && !from_stdin) rc = cli_usage_error("lookup", "give KEY... or --all");
    char *line = NULL;
    size_t line_cap = 0;
    char **owned = NULL;
    size_t nowned = 0;
    if (!rc && from_stdin) {
        ssize_t n;
        while ((n = getline(&line, &line_cap, stdin)) >= 0) {
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (!n) continue;
            if (nkeys + 1 >= kcap) {
                kcap *= 2;
                const char **k = realloc(keys, kcap * sizeof *k);
                if (!k) { rc = cli_fail("lookup", MS_ERR_RUNTIME, "out of memory"); break; }
                keys = k;
            }
            char **o = realloc(owned, (nowned + 1) * sizeof *o);
            if (!o) { rc = cli_fail("lookup", MS_ERR_RUNTIME, "out of memory"); break; }
            owned = o;
            owned[nowned] = strdup(line);
            keys[nkeys++] = owned[nowned++];
        }
    }
    if (!rc) {
        st_store *s = NULL;
        ms_error err = {{0}};
        int published = 0;
        /* read-only: a mistyped --store must not leave an empty database behind */
        ms_status st = st_open_flags(store_url, ST_OPEN_READONLY, &s, &err);
        if (st == MS_OK) st = bt_lookup_published(s, model, &published, &err);
        if (st == MS_ERR_INVALID || (st == MS_OK && !published)) {
            ms_error why = err; /* the store's reason (no store file), if any */
            bs_fail(&err, MS_ERR_INVALID, "model '%.128s' has no published run in %.200s%s%.160s%s",
                    model, store_url, st == MS_OK ? "" : " (", st == MS_OK ? "" : why.msg,
                    st == MS_OK ? "" : ")");
            st = MS_ERR_INVALID;
        } else if (st == MS_OK && all) {
            st = bt_scan_jsonl(s, model, stdout, NULL, &err);
        } else if (st == MS_OK) {
            /* in slices, so a long stdin list does not build one huge buffer */
            for (size_t at = 0; at < nkeys && st == MS_OK; at += 1000) {
                size_t n = nkeys - at < 1000 ? nkeys - at : 1000, found = 0;
                mc_buf b = {0};
                st = bt_lookup_json(s, model, keys + at, n, BT_LOOKUP_LINES, &b, &found, &err);
                if (st == MS_OK && b.len && fwrite(b.data, 1, b.len, stdout) != b.len)
                    st = bs_fail(&err, MS_ERR_RUNTIME, "cannot write to stdout");
                if (found < n) rc = 4;
                mc_buf_free(&b);
            }
            if (st == MS_OK && fflush(stdout) != 0)
                st = bs_fail(&err, MS_ERR_RUNTIME, "cannot write to stdout");
        }
        st_close(s);
        if (st != MS_OK) rc = cli_fail("lookup", st, err.msg);
    }
    for (size_t i = 0; i < nowned; i++) free(owned[i]);
    free(owned);
    free(line);
    free(keys);
    return rc;
}
