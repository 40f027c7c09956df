/* ex_tool.c: the export tests' helper (tests/edge/test_export.sh), without Python:
 *   ex_tool rows X.npy N            first N rows of a float32 .npy as ex_rows.h (exact hex)
 *   ex_tool compare GOT REF TOL     GOT: ex_drive's output; REF: a float32 .npy (its first
 *                                   rows) or another ex_drive output. Prints the rows, the
 *                                   largest difference and how many values are bit-identical;
 *                                   exit 0 when every |got - ref| <= TOL * max(1, |ref|) and
 *                                   every return code is 0, else 1; 2 when unreadable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_file.h"

static int load_npy(const char *path, mc_oip_request *r)
{
    ms_error err = {{0}};
    if (mc_tensors_read_file(path, r, NULL, &err) != MS_OK || r->n_inputs != 1 ||
        r->inputs[0].t.dtype != MS_DTYPE_FLOAT) {
        fprintf(stderr, "ex_tool: %s: %s\n", path, err.msg[0] ? err.msg : "not one float32 tensor");
        return -1;
    }
    return 0;
}

/* ex_drive output -> floats (rows x n) and the return codes */
static float *load_drive(const char *path, int *rows, int *n, int *bad_rc)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char line[1 << 20];
    float *v = NULL;
    int cap = 0, cnt = 0, r = 0;
    *n = 0, *bad_rc = 0;
    while (fgets(line, sizeof line, f)) {
        int row, rc, at;
        if (sscanf(line, "row %d rc %d:%n", &row, &rc, &at) != 2) continue;
        if (rc) (*bad_rc)++;
        char *p = line + at, *e;
        int k = 0;
        for (unsigned long b; (b = strtoul(p, &e, 16)), e != p; p = e, k++) {
            if (cnt == cap) v = realloc(v, (size_t)(cap = cap ? 2 * cap : 1024) * sizeof *v);
            uint32_t u = (uint32_t)b;
            memcpy(&v[cnt++], &u, 4);
        }
        *n = k, r++;
    }
    fclose(f);
    *rows = r;
    return v;
}

static int rows_cmd(const char *path, int n)
{
    mc_oip_request r;
    if (load_npy(path, &r)) return 2;
    const ms_tensor *t = &r.inputs[0].t;
    int64_t total = ms_tensor_numel(t), width = t->ndim ? total / t->shape[0] : 1;
    if (t->ndim && n > t->shape[0]) n = (int)t->shape[0];
    printf("#include <math.h>\n#define EX_ROWS %d\nstatic const float ex_rows[%d][%lld] = {\n", n, n, (long long)width);
    for (int i = 0; i < n; i++) {
        printf("  {");
        for (int64_t j = 0; j < width; j++) {
            float v = ((const float *)t->data)[i * width + j];
            if (isnan(v)) printf("%sNAN", j ? "," : "");
            else printf("%s%af", j ? "," : "", (double)v);
        }
        printf("},\n");
    }
    printf("};\n");
    return 0;
}

static int compare_cmd(const char *got, const char *ref, double tol)
{
    int rows, n, bad, rrows = 0, rn = 0, rbad = 0;
    float *g = load_drive(got, &rows, &n, &bad), *w = NULL;
    if (!g) return fprintf(stderr, "ex_tool: cannot read %s\n", got), 2;
    mc_oip_request r;
    size_t len = strlen(ref);
    if (len > 4 && !strcmp(ref + len - 4, ".npy")) {
        if (load_npy(ref, &r)) return 2;
        w = r.inputs[0].t.data;
        rrows = (int)r.inputs[0].t.shape[0];
        rn = (int)(ms_tensor_numel(&r.inputs[0].t) / (rrows ? rrows : 1));
    } else if (!(w = load_drive(ref, &rrows, &rn, &rbad))) {
        return fprintf(stderr, "ex_tool: cannot read %s\n", ref), 2;
    }
    if (rn != n || rrows < rows || !rows) {
        printf("shape differs: %d rows x %d here, %d x %d in %s\n", rows, n, rrows, rn, ref);
        return 1;
    }
    double worst = 0;
    long same = 0, over = 0;
    for (int i = 0; i < rows * n; i++) {
        double d = fabs((double)g[i] - (double)w[i]), lim = tol * fmax(1.0, fabs((double)w[i]));
        if (!(d <= lim)) over++;
        if (d > worst || d != d) worst = d;
        same += !memcmp(&g[i], &w[i], 4);
    }
    printf("%d rows x %d: max |diff| %.3g, %ld of %d bit-identical, %d nonzero returns\n", rows, n,
           worst, same, rows * n, bad);
    return over || bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "rows")) return rows_cmd(argv[2], atoi(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "compare")) return compare_cmd(argv[2], argv[3], atof(argv[4]));
    fprintf(stderr, "usage: ex_tool rows X.npy N | compare GOT REF TOL\n");
    return 2;
}
