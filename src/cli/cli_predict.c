/* cli_predict.c: `mlship predict MODEL [INPUT...]`: run a model once on tensors from files
 * or stdin; write the outputs as an OIP response on stdout or as files in a directory.
 *
 * Flow: parse arguments, load the model and refuse unsupported operators (exit 3) before
 * reading any input, bind every input file to a graph input, validate all of them (dtype,
 * shape, finiteness) before running, run, write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "codec/codec_file.h"
#include "codec/codec_npy.h"
#include "codec/codec_pb.h"
#include "predict/pd_check.h"
#include "predict/pd_json.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship predict MODEL [INPUT...] [-o DIR] [--output-format json|npy|pb]\n"
            "\n"
            "Run MODEL once and print the outputs as an Open Inference Protocol (KServe V2)\n"
            "response on stdout, or write them to DIR.\n"
            "\n"
            "INPUT is FILE or NAME=FILE. FILE is a .npy array, an ONNX TensorProto (.pb), or\n"
            "JSON: an OIP request {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}...]}\n"
            "or one such tensor object; '-' reads JSON from stdin. The format is recognised by\n"
            "content. A one-tensor FILE (.npy, .pb, JSON tensor object) without NAME= binds to\n"
            "the graph input at its position; an OIP request binds by the names it contains.\n"
            "With no INPUT and stdin not a terminal, the request is read from stdin. Each\n"
            "input must match the model's declared element type and shape (a symbolic\n"
            "dimension matches any size) before anything runs.\n"
            "If a JSON request lists \"outputs\", only those are returned.\n"
            "\n"
            "options:\n"
            "  -o, --output DIR        write DIR/output_<i>.<ext> per graph output i\n"
            "                          (DIR is created if missing)\n"
            "  --output-format FMT     json (default; with -o one OIP output object per file),\n"
            "                          npy or pb (ONNX TensorProto); npy and pb need -o\n"
            "  --missing reject|nan    a missing value (NaN, JSON null) in a float input:\n"
            "                          refused (default), or fed as NaN; nan needs a model\n"
            "                          that defines missing values (tree ensembles with a NaN\n"
            "                          direction per split, XGBoost, a NaN Imputer), else it\n"
            "                          is an error. +-Inf inputs and non-finite outputs are\n"
            "                          always refused (exit 2)\n"
            "  --allow-nonfinite       a raw escape hatch: skip that policy entirely (any\n"
            "                          NaN/Inf input goes to the model; non-finite outputs\n"
            "                          print as null)\n"
            "  -h, --help              show this help\n"
            "\n"
            "JSON output: FP32 values are printed with 9 significant digits and FP64 with 17\n"
            "(they round-trip exactly); NaN and Inf, which JSON cannot express, print as null.\n"
            "\n"
            "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input (malformed file,\n"
            "wrong shape or type, non-finite values), 3 unsupported operator or feature.\n");
}

enum { FMT_JSON, FMT_NPY, FMT_PB };

typedef struct predict_ctx {
    ms_model *model;
    int n_in, n_out;
    ms_tensor *in;          /* n_in bound tensors (views into `files`) */
    const char **in_src;    /* where each came from, NULL if unbound */
    mc_oip_request *files;  /* one decoded list per INPUT argument */
    int n_files;
    const char *id;         /* from a JSON request, for the response */
    char **want;            /* requested outputs (views into a request), NULL = all */
    int n_want;
} predict_ctx;

static int input_index(const ms_model *m, const char *name)
{
    for (int i = 0; i < ms_model_num_inputs(m); i++)
        if (strcmp(ms_model_input(m, i)->name, name) == 0) return i;
    return -1;
}

static ms_status bind(predict_ctx *c, int idx, ms_tensor *t, const char *src, ms_error *err)
{
    if (c->in_src[idx])
        return bs_fail(err, MS_ERR_INVALID, "input '%s' is given twice (%s and %s)",
                       ms_model_input(c->model, idx)->name, c->in_src[idx], src);
    c->in[idx] = *t;
    c->in_src[idx] = src;
    return MS_OK;
}

/* Read one INPUT argument and bind its tensors. `*pos` counts positional .npy/.pb files. */
static ms_status load_arg(predict_ctx *c, const char *arg, int *pos, ms_error *err)
{
    /* NAME=FILE only when NAME is an input of the model: a path may contain '=' too. */
    const char *eq = strchr(arg, '=');
    int named = -1;
    const char *path = arg;
    if (eq) {
        char name[256];
        size_t n = (size_t)(eq - arg);
        if (n < sizeof name) {
            memcpy(name, arg, n);
            name[n] = 0;
            named = input_index(c->model, name);
            if (named >= 0) path = eq + 1;
        }
    }
    /* "X=in.npy" where X is no input and no such file exists: most likely a misspelt name. */
    if (eq && named < 0 && eq != arg && access(arg, F_OK) != 0) {
        char names[256] = "";
        size_t k = 0;
        for (int j = 0; j < c->n_in && k < sizeof names; j++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s'%s'", j ? ", " : "",
                                  ms_model_input(c->model, j)->name);
        return bs_fail(err, MS_ERR_INVALID, "'%s': the model has no input '%.*s' (its inputs: %s)",
                       arg, (int)(eq - arg), arg, c->n_in ? names : "none");
    }
    mc_oip_request *f = &c->files[c->n_files];
    mc_format fmt;
    ms_status st = mc_tensors_read_file(path, f, &fmt, err);
    if (st != MS_OK) return st;
    c->n_files++;
    const char *src = strcmp(path, "-") ? path : "stdin";
    if (f->n_outputs > 0) { c->want = f->outputs; c->n_want = f->n_outputs; }
    if (f->id) c->id = f->id;

    if (named >= 0) {
        if (f->n_inputs != 1)
            return bs_fail(err, MS_ERR_INVALID, "%s: %s=FILE needs one tensor, the file has %d", src,
                           ms_model_input(c->model, named)->name, f->n_inputs);
        return bind(c, named, &f->inputs[0].t, src, err);
    }
    if (fmt != MC_FORMAT_JSON || f->bare_tensor) {
        /* One-tensor files (npy, pb, a JSON tensor object) bind by position: their names, if
         * any, are often another graph's (an output written by predict, a test artefact). */
        int idx = (*pos)++;
        if (idx >= c->n_in)
            return bs_fail(err, MS_ERR_INVALID, "%s: the model takes %d input%s, this is input %d",
                           src, c->n_in, c->n_in == 1 ? "" : "s", idx + 1);
        return bind(c, idx, &f->inputs[0].t, src, err);
    }
    for (int i = 0; i < f->n_inputs; i++) {
        int idx = input_index(c->model, f->inputs[i].name);
        if (idx < 0) {
            char names[256] = "";
            size_t k = 0;
            for (int j = 0; j < c->n_in && k < sizeof names; j++)
                k += (size_t)snprintf(names + k, sizeof names - k, "%s'%s'", j ? ", " : "",
                                      ms_model_input(c->model, j)->name);
            return bs_fail(err, MS_ERR_INVALID, "%s: the model has no input '%s' (its inputs: %s)",
                           src, f->inputs[i].name, c->n_in ? names : "none");
        }
        if ((st = bind(c, idx, &f->inputs[i].t, src, err)) != MS_OK) return st;
    }
    return MS_OK;
}

/* ---- output --------------------------------------------------------------------------- */

static ms_status make_dir(const char *dir, ms_error *err)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return MS_OK;
        return bs_fail(err, MS_ERR_INVALID, "'%s' exists and is not a directory", dir);
    }
    return bs_fail(err, MS_ERR_RUNTIME, "cannot create directory '%s': %s", dir, strerror(errno));
}

static ms_status write_files(const ms_model *m, const ms_tensor *out, const int *sel, int n_sel,
                             const char *dir, int fmt, ms_error *err)
{
    static const char *const ext[] = {"json", "npy", "pb"};
    ms_status st = make_dir(dir, err);
    mc_buf b = {0};
    for (int k = 0; st == MS_OK && k < n_sel; k++) {
        int i = sel[k];
        const char *name = ms_model_output(m, i)->name;
        mc_buf_reset(&b);
        if (fmt == FMT_JSON) {
            st = pd_json_write_tensor(&b, name, &out[i], err);
            mc_buf_putc(&b, '\n');
        } else if (fmt == FMT_NPY) {
            st = mc_npy_encode(&out[i], &b, err);
        } else {
            st = mc_pb_encode(&out[i], name, &b, err);
        }
        if (st == MS_OK && mc_buf_failed(&b)) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        if (st != MS_OK) break;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/output_%d.%s", dir, i, ext[fmt]) >= (int)sizeof path) {
            st = bs_fail(err, MS_ERR_INVALID, "output directory path too long");
            break;
        }
        st = mc_write_file(path, b.data, b.len, err);
    }
    mc_buf_free(&b);
    return st;
}

static ms_status write_stdout(const char *model_path, const ms_model *m, const ms_tensor *out,
                              const int *sel, int n_sel, const char *id, ms_error *err)
{
    char model_name[256];
    cli_model_name(model_name, sizeof model_name, model_path);
    const char **names = malloc(sizeof *names * (size_t)(n_sel ? n_sel : 1));
    ms_tensor *tens = malloc(sizeof *tens * (size_t)(n_sel ? n_sel : 1));
    pd_label_map *maps = calloc((size_t)(n_sel ? n_sel : 1), sizeof *maps);
    if (!names || !tens || !maps) {
        free(names);
        free(tens);
        free(maps);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    for (int k = 0; k < n_sel; k++) {
        names[k] = ms_model_output(m, sel[k])->name;
        tens[k] = out[sel[k]];
        /* ZipMap outputs print as label -> probability objects */
        if (!ms_model_output_labels(m, sel[k], &maps[k].type, &maps[k].n, &maps[k].labels))
            maps[k].type = MS_DTYPE_UNDEFINED;
    }
    pd_json_response r = {model_name, NULL, id, n_sel, names, tens, maps};
    mc_buf b = {0};
    ms_status st = pd_json_write_response(&b, &r, err);
    mc_buf_putc(&b, '\n');
    if (st == MS_OK && mc_buf_failed(&b)) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st == MS_OK && (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0))
        st = bs_fail(err, MS_ERR_RUNTIME, "cannot write to stdout");
    mc_buf_free(&b);
    free(names);
    free(tens);
    free(maps);
    return st;
}

/* ---- the command ---------------------------------------------------------------------- */

typedef struct predict_opts {
    const char *model;
    const char **inputs;
    int n_inputs;
    const char *out_dir;
    int fmt;
    int allow_nonfinite;
    pd_missing missing;
} predict_opts;

/* 0 to proceed, else the exit code (after printing help or a usage error); -1 = help shown. */
static int parse_args(int argc, char **argv, predict_opts *o)
{
    int only_pos = 0, fmt_set = 0;
    o->fmt = FMT_JSON;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int r;
        if (only_pos || a[0] != '-' || !a[1]) {
            if (!o->model) o->model = a;
            else o->inputs[o->n_inputs++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) { only_pos = 1; continue; }
        if (cli_is_help(a)) { usage(stdout); return -1; }
        if (strcmp(a, "--allow-nonfinite") == 0) { o->allow_nonfinite = 1; continue; }
        if ((r = cli_opt(argc, argv, &i, "--missing", &v)) != 0) {
            ms_error me = {{0}};
            if (r < 0 || pd_missing_parse(v, "--missing", &o->missing, &me) != MS_OK)
                return cli_usage_error("predict", "--missing needs reject or nan");
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "-o", &v)) != 0 ||
            (r = cli_opt(argc, argv, &i, "--output", &v)) != 0) {
            if (r < 0) return cli_usage_error("predict", "%s needs a directory", a);
            o->out_dir = v;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "--output-format", &v)) != 0) {
            if (r < 0) return cli_usage_error("predict", "--output-format needs json, npy or pb");
            if (strcmp(v, "json") == 0) o->fmt = FMT_JSON;
            else if (strcmp(v, "npy") == 0) o->fmt = FMT_NPY;
            else if (strcmp(v, "pb") == 0) o->fmt = FMT_PB;
            else return cli_usage_error("predict", "unknown output format '%s' (json, npy or pb)", v);
            fmt_set = 1;
            continue;
        }
        return cli_usage_error("predict", "unknown option '%s'", a);
    }
    if (!o->model) return cli_usage_error("predict", "missing MODEL");
    if (fmt_set && o->fmt != FMT_JSON && !o->out_dir)
        return cli_usage_error("predict", "--output-format %s needs -o DIR (stdout is JSON)",
                               o->fmt == FMT_NPY ? "npy" : "pb");
    int stdin_uses = 0;
    for (int i = 0; i < o->n_inputs; i++) {
        const char *eq = strchr(o->inputs[i], '=');
        if (strcmp(o->inputs[i], "-") == 0 || (eq && strcmp(eq + 1, "-") == 0)) stdin_uses++;
    }
    if (stdin_uses > 1) return cli_usage_error("predict", "stdin ('-') can be read only once");
    return 0;
}

/* The missing/non-finite policy (src/predict/pd_check.h) on the bound inputs. */
static ms_status check_policy(const pd_policy *p, const predict_ctx *c, ms_error *err)
{
    if (pd_check_inputs(p, c->model, c->in, c->n_in, NULL, err) != MS_OK) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, "; --allow-nonfinite skips this check");
        return MS_ERR_INVALID;
    }
    return MS_OK;
}

/* A non-finite output is not a prediction: refuse it, naming the row (rows: the first
 * input's first dimension). */
static ms_status check_outputs(const predict_ctx *c, const ms_tensor *out, ms_error *err)
{
    int64_t rows = c->n_in > 0 && c->in[0].ndim > 0 ? c->in[0].shape[0] : 1;
    char msg[300];
    for (int64_t r = 0; r < rows; r++)
        if (pd_check_output_row(c->model, out, c->n_out, r, rows, msg, sizeof msg) != PD_OK)
            return bs_fail(err, MS_ERR_INVALID, "row %lld: %s (--allow-nonfinite prints it as null)",
                           (long long)r, msg);
    return MS_OK;
}

static int run_predict(const predict_opts *o, predict_ctx *c, ms_error *err)
{
    ms_status st = ms_model_check_supported(c->model, err);
    if (st != MS_OK) return st;
    /* --missing nan is checked against the model before any input is read */
    char name[256];
    pd_policy policy;
    cli_model_name(name, sizeof name, o->model);
    if ((st = pd_policy_init(&policy, c->model, name, o->missing, "--missing", err)) != MS_OK)
        return st;
    c->n_in = ms_model_num_inputs(c->model);
    c->n_out = ms_model_num_outputs(c->model);
    int n_args = o->n_inputs;
    const char *stdin_arg[] = {"-"};
    const char **args = o->inputs;
    if (n_args == 0 && c->n_in > 0) {
        if (isatty(STDIN_FILENO))
            return bs_fail(err, MS_ERR_INVALID,
                           "no INPUT given and stdin is a terminal (the model takes %d input%s; "
                           "see 'mlship predict --help')", c->n_in, c->n_in == 1 ? "" : "s");
        args = stdin_arg;
        n_args = 1;
    }
    c->in = calloc((size_t)c->n_in + 1, sizeof *c->in);
    c->in_src = calloc((size_t)c->n_in + 1, sizeof *c->in_src);
    c->files = calloc((size_t)n_args + 1, sizeof *c->files);
    if (!c->in || !c->in_src || !c->files) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int pos = 0;
    for (int i = 0; i < n_args; i++)
        if ((st = load_arg(c, args[i], &pos, err)) != MS_OK) return st;
    for (int i = 0; i < c->n_in; i++)
        if (!c->in_src[i]) {
            char decl[200];
            const ms_value_info *vi = ms_model_input(c->model, i);
            return bs_fail(err, MS_ERR_INVALID, "missing input '%s' (%s)", vi->name,
                           ms_value_info_format(vi, decl, sizeof decl));
        }
    if ((st = ms_model_check_inputs(c->model, c->in, c->n_in, err)) != MS_OK) return st;
    if (!o->allow_nonfinite && (st = check_policy(&policy, c, err)) != MS_OK) return st;

    /* Which outputs to write: those the request named, in its order, else all. */
    int *sel = calloc((size_t)(c->n_want > c->n_out ? c->n_want : c->n_out) + 1, sizeof *sel);
    if (!sel) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int n_sel = 0;
    if (c->n_want) {
        for (int k = 0; k < c->n_want; k++) {
            int found = -1;
            for (int i = 0; i < c->n_out; i++)
                if (strcmp(ms_model_output(c->model, i)->name, c->want[k]) == 0) found = i;
            if (found < 0) {
                free(sel);
                return bs_fail(err, MS_ERR_INVALID, "the model has no output '%s'", c->want[k]);
            }
            sel[n_sel++] = found;
        }
    } else {
        for (int i = 0; i < c->n_out; i++) sel[n_sel++] = i;
    }

    ms_session *sess = NULL;
    ms_tensor *out = calloc((size_t)c->n_out + 1, sizeof *out);
    if (!out) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st == MS_OK) st = ms_session_create(c->model, NULL, &sess, err);
    if (st == MS_OK) st = ms_session_run(sess, c->in, c->n_in, out, c->n_out, err);
    if (st == MS_OK && !o->allow_nonfinite) st = check_outputs(c, out, err);
    if (st == MS_OK)
        st = o->out_dir ? write_files(c->model, out, sel, n_sel, o->out_dir, o->fmt, err)
                        : write_stdout(o->model, c->model, out, sel, n_sel, c->id, err);
    if (sess) ms_session_free(sess);
    free(out);
    free(sel);
    return st;
}

int cli_predict(int argc, char **argv)
{
    predict_opts o;
    memset(&o, 0, sizeof o);
    o.inputs = calloc((size_t)argc + 1, sizeof *o.inputs);
    if (!o.inputs) return cli_fail("predict", MS_ERR_RUNTIME, "out of memory");
    int rc = parse_args(argc, argv, &o);
    if (rc) {
        free(o.inputs);
        return rc < 0 ? 0 : rc;
    }
    predict_ctx c;
    memset(&c, 0, sizeof c);
    rc = cli_load_model("predict", o.model, &c.model);
    if (rc == 0) {
        ms_error err = {{0}};
        ms_status st = run_predict(&o, &c, &err);
        if (st != MS_OK) rc = cli_fail("predict", st, err.msg);
    }
    for (int i = 0; i < c.n_files; i++) mc_oip_request_free(&c.files[i]);
    free(c.files);
    free(c.in);
    free(c.in_src);
    if (c.model) ms_model_free(c.model);
    free(o.inputs);
    return rc;
}
