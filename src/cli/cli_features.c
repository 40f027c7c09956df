/* cli_features.c: `mlship features load` (import or upsert feature rows from a CSV file into a
 * store) and `mlship features get` (read rows back, as the server would). The CSV reader here
 * follows RFC 4180: quoted fields may hold commas, quotes ("") and newlines. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch/bt_progress.h"
#include "cli/cli_common.h"
#include "store/store.h"

#define CMD "features"
#define DEFAULT_STORE "sqlite://mlship.db"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship features load [--store URL] --table T --key COL [options] FILE.csv\n"
            "       mlship features get  [--store URL] --table T --key COL --columns A,B,.. KEY..\n"
            "\n"
            "load: import or update feature rows. The CSV's header row names the columns: the key\n"
            "column and the features (names of letters, digits and '_'). Each row is upserted:\n"
            "a new key is inserted, a known key gets the file's values for the file's columns\n"
            "(other columns keep theirs); an empty field is stored as missing (NULL); a key that\n"
            "appears twice keeps its last row. Values must be numbers. The table is created when\n"
            "missing and gains any column it lacks.\n"
            "Nothing is half-imported: SQL stores load the whole file in one transaction (readers\n"
            "see the old rows until it commits); for Redis the file is checked completely before\n"
            "the first write, then written pipelined, one hash per entity '<T>:<key>' with one\n"
            "field per column. A malformed row is reported with its line number.\n"
            "\n"
            "get: print the rows of the given keys as JSON lines ({\"key\":..,\"found\":..,\n"
            "\"features\":[..]}), missing values as null.\n"
            "\n"
            "options:\n"
            "  --store URL     sqlite:///abs/path.db, sqlite://relative.db, postgresql://...,\n"
            "                  redis://host:port/db (default: $MLSHIP_STORE, else " DEFAULT_STORE
            ")\n"
            "  --table T       table (Redis: hash name prefix)\n"
            "  --key COL       the key column\n"
            "  --columns LIST  get: the feature columns, comma-separated, in model input order\n"
            "  --batch N       load: rows per write batch (default 5000)\n"
            "  -q, --quiet     load: no progress or summary\n"
            "  -h, --help      show this help\n"
            "\n"
            "exit status: 0 ok, 1 store failure, 2 bad usage or malformed input.\n");
}

/* ==== CSV reader ======================================================================== */

typedef struct csv_reader {
    FILE *f;
    const char *path;
    unsigned char buf[1 << 16];
    size_t pos, len;
    int unget; /* a pushed-back character, or -2 */
    long line; /* the line being read (1-based) */
    long rec_line; /* the line the current record starts on */
    uint64_t bytes;
    char *data; /* the text of the fields read since csv_reset, NUL-terminated each */
    size_t dlen, dcap;
    size_t *offs; /* offsets of those fields in data */
    size_t noffs, ocap;
    char err[300];
} csv_reader;

static int csv_getc(csv_reader *c)
{
    if (c->unget != -2) {
        int ch = c->unget;
        c->unget = -2;
        return ch;
    }
    if (c->pos == c->len) {
        c->len = fread(c->buf, 1, sizeof c->buf, c->f);
        c->pos = 0;
        if (c->len == 0) return -1;
    }
    c->bytes++;
    return c->buf[c->pos++];
}

static int csv_put(csv_reader *c, char ch)
{
    if (c->dlen == c->dcap) {
        size_t cap = c->dcap ? c->dcap * 2 : 1 << 16;
        char *p = realloc(c->data, cap);
        if (!p) return -1;
        c->data = p;
        c->dcap = cap;
    }
    c->data[c->dlen++] = ch;
    return 0;
}

static int csv_field_start(csv_reader *c)
{
    if (c->noffs == c->ocap) {
        size_t cap = c->ocap ? c->ocap * 2 : 1024;
        size_t *p = realloc(c->offs, cap * sizeof *p);
        if (!p) return -1;
        c->offs = p;
        c->ocap = cap;
    }
    c->offs[c->noffs++] = c->dlen;
    return 0;
}

static void csv_reset(csv_reader *c) { c->dlen = c->noffs = 0; }

#define CSV_FAIL(...)                                                                         \
    do {                                                                                      \
        snprintf(c->err, sizeof c->err, __VA_ARGS__);                                         \
        return -1;                                                                            \
    } while (0)

/* Read one record, appending its fields to c->data/c->offs. Returns the number of fields,
 * 0 at the end of the file, -1 on a malformed record (c->err says where and why). Empty lines
 * are skipped. */
static int csv_record(csv_reader *c)
{
    int ch = csv_getc(c);
    while (ch == '\n' || ch == '\r') { /* empty lines */
        if (ch == '\n') c->line++;
        ch = csv_getc(c);
    }
    if (ch < 0) return 0;
    c->rec_line = c->line;
    int nf = 0;
    for (;;) {
        if (csv_field_start(c)) CSV_FAIL("out of memory");
        if (ch == '"') {
            long opened = c->line;
            for (;;) {
                ch = csv_getc(c);
                if (ch < 0)
                    CSV_FAIL("%s:%ld: unterminated quoted field (the quote opens on line %ld)",
                             c->path, c->line, opened);
                if (ch == '"') {
                    ch = csv_getc(c);
                    if (ch != '"') break; /* closing quote */
                } else if (ch == '\n') {
                    c->line++;
                } else if (ch == 0) {
                    CSV_FAIL("%s:%ld: NUL byte in a field", c->path, c->line);
                }
                if (csv_put(c, (char)ch)) CSV_FAIL("out of memory");
            }
            if (ch >= 0 && ch != ',' && ch != '\n' && ch != '\r')
                CSV_FAIL("%s:%ld: unexpected '%c' after a closing quote (a quote inside a quoted "
                         "field is written \"\")",
                         c->path, c->line, ch);
        } else {
            while (ch >= 0 && ch != ',' && ch != '\n' && ch != '\r') {
                if (ch == '"')
                    CSV_FAIL("%s:%ld: quote inside an unquoted field (quote the whole field)",
                             c->path, c->line);
                if (ch == 0) CSV_FAIL("%s:%ld: NUL byte in a field", c->path, c->line);
                if (csv_put(c, (char)ch)) CSV_FAIL("out of memory");
                ch = csv_getc(c);
            }
        }
        if (csv_put(c, 0)) CSV_FAIL("out of memory");
        nf++;
        if (ch == ',') {
            ch = csv_getc(c);
            continue;
        }
        if (ch == '\r') {
            ch = csv_getc(c);
            if (ch != '\n') c->unget = ch; /* a lone CR ends the line too */
            else c->line++;
        } else if (ch == '\n') {
            c->line++;
        }
        return nf;
    }
}

static const char *csv_field(const csv_reader *c, size_t i) { return c->data + c->offs[i]; }

/* ==== load ============================================================================== */

typedef struct load_opts {
    const char *store, *table, *key, *path;
    long batch;
    int quiet;
} load_opts;

/* Read and check the header: valid, distinct names, the key among them. */
static int read_header(csv_reader *c, const load_opts *o, char ***names_out, int *n_out,
                       int *key_out)
{
    csv_reset(c);
    int nf = csv_record(c);
    if (nf < 0) return cli_fail(CMD, MS_ERR_INVALID, c->err);
    if (nf == 0) {
        fprintf(stderr, "mlship " CMD ": %s is empty: expected a header row\n", o->path);
        return MS_ERR_INVALID;
    }
    char **names = calloc((size_t)nf, sizeof *names);
    if (!names) return cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
    int key = -1, rc = 0;
    for (int i = 0; i < nf; i++) {
        const char *name = csv_field(c, (size_t)i);
        if (i == 0 && (unsigned char)name[0] == 0xEF && (unsigned char)name[1] == 0xBB &&
            (unsigned char)name[2] == 0xBF)
            name += 3; /* UTF-8 byte order mark */
        names[i] = strdup(name);
        if (!names[i]) {
            rc = cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
            break;
        }
        ms_error err;
        if (bs_check_ident("column", names[i], &err) != MS_OK) {
            /* the store's message would quote the header's bytes raw */
            char e[MC_ESCAPE_CAP(64)];
            fprintf(stderr, "mlship " CMD ": %s:%ld: header: invalid column name '%s': expected "
                    "letters, digits and '_', not starting with a digit, at most 63 characters\n",
                    o->path, c->rec_line, mc_escape(e, sizeof e, names[i], strlen(names[i]), 64));
            rc = MS_ERR_INVALID;
            break;
        }
        for (int j = 0; j < i && !rc; j++)
            if (strcmp(names[i], names[j]) == 0) {
                fprintf(stderr, "mlship " CMD ": %s:%ld: header: column '%s' appears twice\n",
                        o->path, c->rec_line, names[i]);
                rc = MS_ERR_INVALID;
            }
        if (rc) break;
        if (strcmp(names[i], o->key) == 0) key = i;
    }
    if (!rc && key < 0) {
        fprintf(stderr, "mlship " CMD ": %s: the header has no key column '%s'\n", o->path,
                o->key);
        rc = MS_ERR_INVALID;
    }
    if (rc) { /* a header refused: free what was read */
        for (int i = 0; i < nf; i++) free(names[i]);
        free(names);
        return rc;
    }
    *names_out = names;
    *n_out = nf;
    *key_out = key;
    return 0;
}

/* Check one data record already read into c: field count, key, numbers. */
static int check_record(const csv_reader *c, size_t base, int nf, int want, int key,
                        char *const *names)
{
    if (nf != want) {
        fprintf(stderr, "mlship " CMD ": %s:%ld: %d field%s, the header has %d\n", c->path,
                c->rec_line, nf, nf == 1 ? "" : "s", want);
        return MS_ERR_INVALID;
    }
    if (!csv_field(c, base + (size_t)key)[0]) {
        fprintf(stderr, "mlship " CMD ": %s:%ld: empty key ('%s')\n", c->path, c->rec_line,
                names[key]);
        return MS_ERR_INVALID;
    }
    for (int i = 0; i < nf; i++) {
        const char *v = csv_field(c, base + (size_t)i);
        double d;
        if (i != key && v[0] && st_parse_number(v, &d) != 0) {
            char e[MC_ESCAPE_CAP(60)];
            fprintf(stderr, "mlship " CMD ": %s:%ld: column '%s': '%s' is not a number\n",
                    c->path, c->rec_line, names[i], mc_escape(e, sizeof e, v, strlen(v), 60));
            return MS_ERR_INVALID;
        }
    }
    return 0;
}

static int load(const load_opts *o)
{
    FILE *f = fopen(o->path, "rb");
    struct stat fsb;
    if (!f) {
        int e = errno;
        fprintf(stderr, "mlship " CMD ": cannot open %s: %s\n", o->path, strerror(e));
        return mc_errno_is_input(e) ? MS_ERR_INVALID : MS_ERR_RUNTIME;
    }
    if (fstat(fileno(f), &fsb) == 0 && S_ISDIR(fsb.st_mode)) {
        fclose(f);
        fprintf(stderr, "mlship " CMD ": cannot read %s: it is a directory\n", o->path);
        return MS_ERR_INVALID;
    }
    csv_reader *c = calloc(1, sizeof *c);
    st_store *s = NULL;
    st_upsert *u = NULL;
    char **names = NULL;
    const char **cols = NULL, **cells = NULL;
    int nf = 0, key = -1, rc = 0, began = 0;
    long rows = 0;
    ms_error err;
    bt_progress pg; /* batch's bar: on a terminal only, as for `mlship batch` */
    struct stat sb;
    if (!c) {
        fclose(f);
        return cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
    }
    c->f = f;
    c->path = o->path;
    c->line = 1;
    c->unget = -2;
    bt_progress_start(&pg, stderr, o->quiet ? 0 : -1,
                      fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1);

    if ((rc = read_header(c, o, &names, &nf, &key)) != 0) goto done;
    ms_status st = st_open(o->store, &s, &err);
    if (st != MS_OK) {
        rc = cli_fail(CMD, st, err.msg);
        goto done;
    }
    int redis = strcmp(st_backend(s), "redis") == 0;

    /* Redis cannot roll back: check the whole file before writing anything. */
    if (redis) {
        for (;;) {
            csv_reset(c);
            int n = csv_record(c);
            if (n < 0) {
                rc = cli_fail(CMD, MS_ERR_INVALID, c->err);
                goto done;
            }
            if (n == 0) break;
            if ((rc = check_record(c, 0, n, nf, key, names)) != 0) goto done;
            bt_progress_update(&pg, ++rows, 0, (int64_t)c->bytes);
        }
        if (fseek(f, 0, SEEK_SET) != 0) {
            rc = cli_fail(CMD, MS_ERR_RUNTIME, "cannot rewind the file for writing");
            goto done;
        }
        c->pos = c->len = 0;
        c->unget = -2;
        c->line = 1;
        c->bytes = 0;
        rows = 0;
        char **again = NULL;
        int nf2 = 0, key2 = 0;
        if ((rc = read_header(c, o, &again, &nf2, &key2)) != 0) goto done;
        for (int i = 0; i < nf2; i++) free(again[i]);
        free(again);
    }

    /* feature columns in file order, the key left out */
    cols = calloc((size_t)nf, sizeof *cols);
    cells = calloc((size_t)o->batch * (size_t)nf, sizeof *cells);
    if (!cols || !cells) {
        rc = cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
        goto done;
    }
    int nc = 0;
    for (int i = 0; i < nf; i++)
        if (i != key) cols[nc++] = names[i];
    st_features spec = {o->table, o->key, cols, nc};
    if ((st = st_upsert_begin(s, &spec, &u, &err)) != MS_OK) {
        rc = cli_fail(CMD, st, err.msg);
        goto done;
    }
    began = 1;
    long in_batch = 0;
    csv_reset(c);
    for (;;) {
        size_t base = c->noffs;
        int n = csv_record(c);
        if (n < 0) {
            rc = cli_fail(CMD, MS_ERR_INVALID, c->err);
            goto done;
        }
        if (n > 0) {
            if ((rc = check_record(c, base, n, nf, key, names)) != 0) goto done;
            in_batch++;
            rows++;
        }
        if (in_batch == o->batch || (n == 0 && in_batch > 0)) {
            /* pointers only now: the field buffer may have moved while reading */
            for (long r = 0; r < in_batch; r++) {
                size_t b = (size_t)r * (size_t)nf;
                const char **row = cells + (size_t)r * (size_t)(nc + 1);
                row[0] = csv_field(c, b + (size_t)key);
                int k = 1;
                for (int i = 0; i < nf; i++)
                    if (i != key) row[k++] = csv_field(c, b + (size_t)i);
            }
            st = st_upsert_put(u, cells, (size_t)in_batch, &err);
            if (st != MS_OK) {
                u = NULL; /* put aborted it */
                fprintf(stderr, "mlship " CMD ": %s: rows up to line %ld: %s\n", o->path,
                        c->rec_line, err.msg);
                rc = (int)st;
                goto done;
            }
            in_batch = 0;
            csv_reset(c);
            bt_progress_update(&pg, rows, 0, (int64_t)c->bytes);
        }
        if (n == 0) break;
    }
    size_t written = 0;
    st = st_upsert_commit(u, &written, &err);
    u = NULL;
    if (st != MS_OK) {
        rc = cli_fail(CMD, st, err.msg);
        goto done;
    }
    bt_progress_finish(&pg);
    if (!o->quiet) {
        double t = bt_now() - pg.t0;
        printf("loaded %ld rows (%d feature column%s) into %s %s '%s' in %.2f s\n", rows, nc,
               nc == 1 ? "" : "s", st_backend(s), redis ? "hashes" : "table", o->table, t);
    }

done:
    if (rc != 0) {
        bt_progress_finish(&pg);
        if (u) st_upsert_abort(u);
        if (s && strcmp(st_backend(s), "redis") != 0)
            fprintf(stderr, "mlship " CMD ": nothing was imported\n");
        else if (s && !began)
            fprintf(stderr, "mlship " CMD ": nothing was written\n");
        else if (s)
            fprintf(stderr, "mlship " CMD ": rows before the failure may have been written\n");
    }
    st_close(s);
    if (names)
        for (int i = 0; i < nf; i++) free(names[i]);
    free(names);
    free(cols);
    free(cells);
    free(c->data);
    free(c->offs);
    free(c);
    fclose(f);
    return rc;
}

/* ==== get =============================================================================== */

/* A key as a JSON string, by the codecs' one JSON string writer. */
static void put_json_str(mc_buf *b, const char *s)
{
    mc_buf_reset(b);
    mc_buf_put_json_str(b, s);
    if (!mc_buf_failed(b)) fputs(b->data, stdout);
}

static int get(const char *store, const char *table, const char *key, const char *columns,
               char **keys, int nkeys)
{
    char *list = strdup(columns);
    int ncols = 1;
    for (const char *p = columns; *p; p++) ncols += *p == ',';
    const char **cols = calloc((size_t)ncols, sizeof *cols);
    float *x = calloc((size_t)nkeys * (size_t)ncols + 1, sizeof *x);
    uint8_t *found = calloc((size_t)nkeys + 1, 1);
    int rc = 0;
    st_store *s = NULL;
    ms_error err;
    mc_buf jb = {0};
    if (!list || !cols || !x || !found) {
        rc = cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
        goto done;
    }
    int n = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) cols[n++] = tok;
    ms_status st = st_open(store, &s, &err);
    st_features spec = {table, key, cols, n};
    if (st == MS_OK)
        st = st_features_fetch(s, &spec, (const char *const *)keys, (size_t)nkeys, x, found, &err);
    if (st != MS_OK) {
        rc = cli_fail(CMD, st, err.msg);
        goto done;
    }
    for (int k = 0; k < nkeys; k++) {
        printf("{\"key\": ");
        put_json_str(&jb, keys[k]);
        printf(", \"found\": %s, \"features\": ", found[k] ? "true" : "false");
        if (!found[k]) {
            printf("null}\n");
            continue;
        }
        putchar('[');
        for (int c = 0; c < n; c++) {
            float v = x[(size_t)k * (size_t)n + (size_t)c];
            if (c) printf(", ");
            if (isfinite(v)) printf("%.9g", v);
            else printf("null");
        }
        printf("]}\n");
    }
done:
    mc_buf_free(&jb);
    st_close(s);
    free(list);
    free(cols);
    free(x);
    free(found);
    return rc;
}

/* ==== entry ============================================================================= */

int cli_features(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "load") != 0 && strcmp(sub, "get") != 0)
        return cli_usage_error(CMD, "unknown subcommand '%s' (expected load or get)", sub);
    load_opts o = {0};
    o.store = getenv("MLSHIP_STORE");
    if (!o.store || !*o.store) o.store = DEFAULT_STORE;
    o.batch = 5000;
    const char *columns = NULL;
    char **pos = calloc((size_t)argc, sizeof *pos);
    int npos = 0, only_pos = 0;
    if (!pos) return cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int m;
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            pos[npos++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
        } else if (cli_is_help(a)) {
            usage(stdout);
            free(pos);
            return 0;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o.quiet = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--store", &v)) != 0 ||
                   (m = cli_opt(argc, argv, &i, "--table", &v)) != 0 ||
                   (m = cli_opt(argc, argv, &i, "--key", &v)) != 0 ||
                   (m = cli_opt(argc, argv, &i, "--columns", &v)) != 0 ||
                   (m = cli_opt(argc, argv, &i, "--batch", &v)) != 0) {
            if (m < 0) {
                free(pos);
                return cli_usage_error(CMD, "option '%s' needs a value", a);
            }
            if (strncmp(a, "--store", 7) == 0) o.store = v;
            else if (strncmp(a, "--table", 7) == 0) o.table = v;
            else if (strncmp(a, "--key", 5) == 0) o.key = v;
            else if (strncmp(a, "--columns", 9) == 0) columns = v;
            else if (cli_parse_long(v, 1, 1000000, &o.batch) != 0) {
                free(pos);
                return cli_usage_error(CMD, "--batch expects a number from 1 to 1000000, got '%s'",
                                       v);
            }
        } else {
            free(pos);
            return cli_usage_error(CMD, "unknown option '%s'", a);
        }
    }
    int rc;
    ms_error err;
    if (!o.table || !o.key) {
        rc = cli_usage_error(CMD, "%s needs --table and --key", sub);
    } else if (bs_check_ident("table", o.table, &err) != MS_OK ||
               bs_check_ident("key column", o.key, &err) != MS_OK) {
        rc = cli_usage_error(CMD, "%s", err.msg);
    } else if (strcmp(sub, "load") == 0) {
        if (npos != 1) rc = cli_usage_error(CMD, "load expects one CSV file, got %d", npos);
        else if (strcmp(pos[0], "-") == 0)
            rc = cli_usage_error(CMD, "load reads a file, not standard input");
        else {
            o.path = pos[0];
            rc = load(&o);
        }
    } else if (!columns || !*columns) {
        rc = cli_usage_error(CMD, "get needs --columns A,B,...");
    } else if (npos == 0) {
        rc = cli_usage_error(CMD, "get expects one or more keys");
    } else {
        rc = get(o.store, o.table, o.key, columns, pos, npos);
    }
    free(pos);
    return rc;
}
