/* test_badinput.c: the bad-input guarantees. Malformed, truncated and random-byte model
 * files, tensors of the wrong shape or type and non-finite values must get a documented
 * status with a message (MS_ERR_INVALID for malformed or mismatched input, MS_ERR_UNSUPPORTED
 * for what we lack), never a crash or a hang.
 *
 * The corpus is generated in memory from real models of the ONNX test data: truncations at
 * many offsets, seeded bit flips, random bytes, mutated length prefixes, and structure-aware
 * edits (a varint set to an extreme value, a field deleted or repeated, every enclosing length
 * kept consistent so the edit reaches the loader's and planner's deeper checks). Every mutant
 * that loads is also planned and run.
 *
 * Allocation is capped through ms_set_allocator: a mutant that asks for more than CAP_BYTES
 * at once gets NULL, and MS_ERR_RUNTIME ("out of memory") is then an accepted answer. Any
 * other MS_ERR_RUNTIME is a failure: bad input is MS_ERR_INVALID, not an internal error.
 * A probe taking longer than PROBE_SECONDS is reported as a hang (the mutant is written to
 * $TMPDIR/ms_badinput_hang.bin). MS_BADINPUT_VERBOSE=1 prints each case before probing it;
 * MS_BADINPUT_DUMP=path writes it there first, so after a crash the file holds the culprit. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "mlship.h"
#include "mstest.h"
#include "../fuzz/model_walk.h"

#ifndef MS_TEST_NO_JSON /* cross builds: no cJSON for the target */
#include "codec/codec_json.h"
#endif

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CAP_BYTES ((size_t)64 << 20)
#define PROBE_SECONDS 10
#define MAX_PRINTED_FAILURES 25

static const char *testdata_dir(void)
{
    const char *d = getenv("MS_TESTDATA");
    return d ? d : "/usr/share/libonnx-testdata/data";
}

/* ==== capped allocator ==================================================================== */

static int g_refused; /* set when the cap refused an allocation during the current probe */

static void *cap_alloc(size_t n)
{
    if (n > CAP_BYTES) {
        g_refused = 1;
        return NULL;
    }
    return malloc(n);
}

static void *cap_realloc(void *p, size_t n)
{
    if (n > CAP_BYTES) {
        g_refused = 1;
        return NULL;
    }
    return realloc(p, n);
}

/* ==== current case, for failure reports and the hang watchdog ============================= */

typedef struct stats {
    int probes, loaded, created, ran, refused;
} stats;

/* Shared with the forked children that run each batch of mutants, so that a crash in one
 * batch is reported with its case and the others still run. */
typedef struct shared {
    char case_name[256];
    int printed;
    stats st;
} shared;

static shared g_local, *g_sh = &g_local;
#define g_case (g_sh->case_name)
#define g_printed (g_sh->printed)
static const uint8_t *g_buf;
static size_t g_len;
static int g_verbose;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "\nHANG: a probe ran for more than 10 s: ";
    ssize_t w = write(2, msg, sizeof msg - 1);
    w = write(2, g_case, strlen(g_case));
    w = write(2, "\n", 1);
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/ms_badinput_hang.bin", tmp ? tmp : "/tmp");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        w = write(fd, g_buf, g_len);
        close(fd);
    }
    (void)w;
    _exit(3);
}

static void set_case(const uint8_t *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_case(const uint8_t *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_case, sizeof g_case, fmt, ap);
    va_end(ap);
    g_buf = buf;
    g_len = len;
    if (g_verbose) {
        printf("case %s\n", g_case);
        fflush(stdout);
    }
    /* MS_BADINPUT_DUMP=path: keep the current mutant in a file (the crashing one survives) */
    const char *dump = getenv("MS_BADINPUT_DUMP");
    FILE *f = dump ? fopen(dump, "wb") : NULL;
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
}

/* Like CHECK_MSG, but names the current case and stops printing after a while (a systematic
 * bug would otherwise print once per mutant). */
#define EXPECT(cond, ...)                                                          \
    do {                                                                           \
        if (!(cond)) {                                                             \
            mstest_cur_failed = 1;                                                 \
            if (g_printed++ < MAX_PRINTED_FAILURES) {                              \
                printf("FAIL %s [%s] (line %d): ", mstest_cur, g_case, __LINE__);  \
                printf(__VA_ARGS__);                                               \
                printf("\n");                                                      \
            }                                                                      \
        }                                                                          \
    } while (0)

/* The documented statuses for bad input: OK (the mutant happens to be valid), INVALID,
 * UNSUPPORTED, or RUNTIME only for an allocation the cap refused. Always with a message. */
static void expect_status(const char *stage, ms_status st, const ms_error *err)
{
    if (st == MS_OK) return;
    int ok = st == MS_ERR_INVALID || st == MS_ERR_UNSUPPORTED ||
             (st == MS_ERR_RUNTIME && g_refused && strstr(err->msg, "out of memory"));
    EXPECT(ok, "%s returned %d: %s", stage, (int)st, err->msg);
    EXPECT(err->msg[0] != 0, "%s returned %d with an empty message", stage, (int)st);
}

/* ==== test cases: a model and its first input set ========================================= */

typedef struct tcase {
    const char *dir;
    uint8_t *model;
    size_t len;
    int n_in;
    ms_tensor in[8];
    int runs;          /* the unmutated model loads and runs */
} tcase;

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *len = n;
    return buf;
}

static int case_load(tcase *tc, const char *dir)
{
    char path[1024];
    memset(tc, 0, sizeof *tc);
    tc->dir = dir;
    snprintf(path, sizeof path, "%s/%s/model.onnx", testdata_dir(), dir);
    if (!(tc->model = read_all(path, &tc->len))) return 0;
    for (int i = 0; i < 8; i++) {
        size_t n;
        snprintf(path, sizeof path, "%s/%s/test_data_set_0/input_%d.pb", testdata_dir(), dir, i);
        uint8_t *b = read_all(path, &n);
        if (!b) break;
        ms_error err;
        ms_status st = ms_tensor_decode_pb(b, n, &tc->in[i], NULL, 0, &err);
        free(b);
        if (st) break;
        tc->n_in = i + 1;
    }
    return 1;
}

static void case_free(tcase *tc)
{
    free(tc->model);
    for (int i = 0; i < tc->n_in; i++) ms_free(tc->in[i].data);
}

/* ==== probing one model image ============================================================= */

/* Do the declared inputs accept the case's own input tensors? */
static int inputs_fit(const ms_model *m, const tcase *tc)
{
    if (ms_model_num_inputs(m) != tc->n_in) return 0;
    for (int i = 0; i < tc->n_in; i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        const ms_tensor *t = &tc->in[i];
        if (vi->dtype != t->dtype) return 0;
        if (vi->ndim < 0) continue;
        if (vi->ndim != t->ndim) return 0;
        for (int d = 0; d < t->ndim; d++)
            if (vi->shape[d] >= 0 && vi->shape[d] != t->shape[d]) return 0;
    }
    return 1;
}

static void probe(const tcase *tc, const uint8_t *buf, size_t len, stats *s)
{
    ms_error err;
    ms_model *m = NULL;
    ms_session *sess = NULL;
    s->probes++;
    g_refused = 0;
    err.msg[0] = 0;
    alarm(PROBE_SECONDS);
    ms_status st = ms_model_load(buf, len, &m, &err);
    expect_status("ms_model_load", st, &err);
    if (st == MS_OK) EXPECT(m != NULL, "ms_model_load returned MS_OK and no model");
    if (st != MS_OK || !m) goto done;
    s->loaded++;
    char why[MW_WHY]; /* the read-only model API must cope with whatever loaded */
    EXPECT(mw_walk(m, mw_is_json(buf, len), why) == 0, "model API: %s", why);
    EXPECT(ms_model_ir_version(m) > 0 || mw_is_json(buf, len), "a loaded model has ir_version %lld",
           (long long)ms_model_ir_version(m));
    err.msg[0] = 0;
    st = ms_session_create(m, NULL, &sess, &err);
    expect_status("ms_session_create", st, &err);
    if (st != MS_OK) goto done;
    s->created++;

    ms_tensor zin[64];
    void *blocks[64] = {0};
    const ms_tensor *in = tc->in;
    int n_in = ms_model_num_inputs(m);
    if (!inputs_fit(m, tc)) {
        if (n_in > 64 || !mw_zero_inputs(m, 1, 1 << 16, zin, blocks)) goto free_blocks;
        in = zin;
    }
    ms_tensor out[64];
    int n_out = ms_model_num_outputs(m) < 64 ? ms_model_num_outputs(m) : 64;
    err.msg[0] = 0;
    st = ms_session_run(sess, in, n_in, out, n_out, &err);
    expect_status("ms_session_run", st, &err);
    if (st == MS_OK) {
        s->ran++;
        EXPECT(mw_run_outputs(m, out, n_out, why) == 0, "outputs: %s", why);
        /* the second run takes the planned path (no re-plan) and must agree */
        err.msg[0] = 0;
        st = ms_session_run(sess, in, n_in, out, n_out, &err);
        EXPECT(st == MS_OK, "second run returned %d: %s", (int)st, err.msg);
        if (st == MS_OK) EXPECT(mw_run_outputs(m, out, n_out, why) == 0, "outputs: %s", why);
    }
free_blocks:
    for (int i = 0; i < 64; i++) free(blocks[i]);
done:
    alarm(0);
    s->refused += g_refused;
    ms_session_free(sess);
    ms_model_free(m);
}

/* ==== a seeded PRNG (xorshift64*) ========================================================= */

static uint64_t g_rng;

static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ull;
}

static void seed_for(const char *s)
{
    g_rng = 0x9e3779b97f4a7c15ull;
    while (*s) g_rng = (g_rng ^ (uint8_t)*s++) * 1099511628211ull;
    if (!g_rng) g_rng = 1;
}

/* ==== a protobuf walker/writer, independent of the runtime's reader ======================= */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static void wb_put(wbuf *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n) cap *= 2;
        uint8_t *np = realloc(w->p, cap);
        if (!np) abort(); /* the test's own memory, not the runtime's */
        w->p = np;
        w->cap = cap;
    }
    if (n) memcpy(w->p + w->n, p, n);
    w->n += n;
}

static void wb_varint(wbuf *w, uint64_t v)
{
    uint8_t b[10];
    int n = 0;
    do {
        b[n++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        v >>= 7;
    } while (v);
    wb_put(w, b, (size_t)n);
}

static void wb_key(wbuf *w, unsigned num, int wire) { wb_varint(w, (uint64_t)num << 3 | (unsigned)wire); }

static void wb_bytes(wbuf *w, unsigned num, const void *p, size_t n)
{
    wb_key(w, num, 2);
    wb_varint(w, n);
    wb_put(w, p, n);
}

static int rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int sh = 0; sh < 64 && *p < end; sh += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* One field as the walker saw it (offsets are into the original image). */
typedef struct pfield {
    size_t key_off, len_off, data_off, end_off;
    int wire;
    uint64_t val; /* VARINT value, or LEN length */
} pfield;

/* Parse one field at *p. 0 when malformed. */
static int rd_field(const uint8_t **p, const uint8_t *end, pfield *f, const uint8_t *base)
{
    uint64_t key;
    f->key_off = (size_t)(*p - base);
    if (!rd_varint(p, end, &key) || (key >> 3) == 0 || (key >> 32)) return 0;
    f->wire = (int)(key & 7);
    f->len_off = f->data_off = (size_t)(*p - base);
    switch (f->wire) {
    case 0:
        if (!rd_varint(p, end, &f->val)) return 0;
        break;
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n) return 0;
        *p += n;
        break;
    }
    case 2:
        if (!rd_varint(p, end, &f->val) || f->val > (uint64_t)(end - *p)) return 0;
        f->data_off = (size_t)(*p - base);
        *p += f->val;
        break;
    default:
        return 0;
    }
    f->end_off = (size_t)(*p - base);
    return 1;
}

static int looks_like_message(const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    pfield f;
    if (!n) return 0;
    while (p < end)
        if (!rd_field(&p, end, &f, p)) return 0;
    return 1;
}

enum { MUT_NONE, MUT_SET_VARINT, MUT_DELETE, MUT_DUP, MUT_LONG_LEN };

typedef struct walk {
    const uint8_t *base;
    pfield *fields; /* when non-NULL, every field is recorded here (preorder) */
    int n, cap;
    int kind, target;
    uint64_t value;
} walk;

/* Re-emit the message [p, p+n) at nesting depth `depth`, applying the walk's mutation to the
 * field with preorder index `target` and re-encoding every enclosing length. */
static void emit(walk *wk, const uint8_t *p, size_t n, int depth, wbuf *out)
{
    const uint8_t *end = p + n;
    pfield f;
    while (p < end) {
        const uint8_t *start = p;
        if (!rd_field(&p, end, &f, wk->base)) { /* copy a malformed tail verbatim */
            wb_put(out, start, (size_t)(end - start));
            return;
        }
        int idx = wk->n++;
        if (wk->fields && idx < wk->cap) wk->fields[idx] = f;
        const uint8_t *fb = wk->base + f.key_off, *fd = wk->base + f.data_off;
        if (idx == wk->target && wk->kind == MUT_DELETE) continue;
        if (idx == wk->target && wk->kind == MUT_DUP) {
            wb_put(out, fb, f.end_off - f.key_off);
            wb_put(out, fb, f.end_off - f.key_off);
            continue;
        }
        if (idx == wk->target && wk->kind == MUT_SET_VARINT && f.wire == 0) {
            wb_put(out, fb, f.len_off - f.key_off);
            wb_varint(out, wk->value);
            continue;
        }
        if (idx == wk->target && wk->kind == MUT_LONG_LEN && f.wire == 2) {
            /* the same length, non-canonically in 10 bytes: still valid protobuf */
            uint64_t x = f.val;
            wb_put(out, fb, f.len_off - f.key_off);
            for (int k = 0; k < 9; k++, x >>= 7) wb_put(out, &(uint8_t){(uint8_t)(x & 0x7f) | 0x80}, 1);
            wb_put(out, &(uint8_t){(uint8_t)(x & 0x7f)}, 1);
            wb_put(out, fd, (size_t)f.val);
            continue;
        }
        if (f.wire == 2 && depth < 8 && looks_like_message(fd, (size_t)f.val)) {
            wbuf sub = {0};
            emit(wk, fd, (size_t)f.val, depth + 1, &sub);
            wb_put(out, fb, f.len_off - f.key_off);
            wb_varint(out, sub.n);
            wb_put(out, sub.p, sub.n);
            free(sub.p);
            continue;
        }
        wb_put(out, fb, f.end_off - f.key_off);
    }
}

/* All fields of an image, preorder. Returns the count; *out is malloc'd. */
static int list_fields(const uint8_t *buf, size_t len, pfield **out)
{
    walk wk = {.base = buf, .kind = MUT_NONE, .target = -1};
    wbuf w = {0};
    emit(&wk, buf, len, 0, &w);
    wk.cap = wk.n;
    wk.fields = calloc((size_t)wk.cap + 1, sizeof *wk.fields);
    wk.n = 0;
    w.n = 0;
    emit(&wk, buf, len, 0, &w);
    free(w.p);
    *out = wk.fields;
    return wk.cap;
}

static void mutate(const uint8_t *buf, size_t len, int kind, int target, uint64_t value, wbuf *out)
{
    walk wk = {.base = buf, .kind = kind, .target = target, .value = value};
    out->n = 0;
    emit(&wk, buf, len, 0, out);
}

/* ==== the corpus generators =============================================================== */

static void gen_truncations(const tcase *tc, stats *s)
{
    size_t step = tc->len <= 1024 ? 1 : tc->len / 200;
    for (size_t cut = 0; cut < tc->len; cut += step) {
        /* a fresh heap block of exactly `cut` bytes, so ASan sees any read past the end */
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, tc->model, cut);
        set_case(b, cut, "%s truncated to %zu of %zu bytes", tc->dir, cut, tc->len);
        probe(tc, b, cut, s);
        free(b);
    }
}

static void gen_bitflips(const tcase *tc, int n_single, int n_multi, stats *s)
{
    uint8_t *b = malloc(tc->len);
    seed_for(tc->dir);
    for (int i = 0; i < n_single + n_multi; i++) {
        memcpy(b, tc->model, tc->len);
        int flips = i < n_single ? 1 : 2 + (int)(rnd() % 15);
        uint64_t state = g_rng;
        for (int k = 0; k < flips; k++) {
            size_t bit = (size_t)(rnd() % (tc->len * 8));
            b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        set_case(b, tc->len, "%s: %d bit flip(s), rng state %016llx", tc->dir, flips,
                 (unsigned long long)state);
        probe(tc, b, tc->len, s);
    }
    free(b);
}

static void gen_byte_sets(const tcase *tc, int n, stats *s)
{
    static const uint8_t vals[] = {0x00, 0xff, 0x80, 0x7f, 0x01};
    uint8_t *b = malloc(tc->len);
    seed_for(tc->dir);
    rnd();
    for (int i = 0; i < n; i++) {
        memcpy(b, tc->model, tc->len);
        size_t at = (size_t)(rnd() % tc->len);
        b[at] = vals[i % 5];
        set_case(b, tc->len, "%s: byte %zu set to 0x%02x", tc->dir, at, vals[i % 5]);
        probe(tc, b, tc->len, s);
    }
    free(b);
}

/* Replace one length prefix with another value, leaving everything else as it was (so the
 * enclosing lengths no longer agree). */
static void gen_length_mutations(const tcase *tc, const pfield *fl, int nf, stats *s)
{
    int n_len = 0;
    for (int i = 0; i < nf; i++) n_len += fl[i].wire == 2;
    int stride = n_len > 60 ? n_len / 60 : 1, seen = 0;
    wbuf w = {0};
    for (int i = 0; i < nf; i++) {
        if (fl[i].wire != 2 || seen++ % stride) continue;
        uint64_t len = fl[i].val;
        const uint64_t vals[] = {len + 1, len ? len - 1 : 0, 0, len * 2 + 1, len + (1u << 20),
                                 0xffffffffu, (uint64_t)1 << 63, ~(uint64_t)0};
        for (int v = 0; v < 10; v++) {
            w.n = 0;
            if (v == 9) { /* the same length, non-canonically: the model must still load */
                mutate(tc->model, tc->len, MUT_LONG_LEN, i, 0, &w);
                set_case(w.p, w.n, "%s: length at offset %zu in 10 bytes", tc->dir, fl[i].len_off);
                ms_model *m = NULL;
                ms_error err;
                ms_status st = ms_model_load(w.p, w.n, &m, &err);
                EXPECT(st == MS_OK, "a non-canonical (10-byte) length was refused: %s", err.msg);
                ms_model_free(m);
                probe(tc, w.p, w.n, s);
                continue;
            }
            wb_put(&w, tc->model, fl[i].len_off);
            if (v < 8) {
                wb_varint(&w, vals[v]);
            } else { /* 11 continuation bytes: an unterminated varint */
                for (int k = 0; k < 11; k++) wb_put(&w, &(uint8_t){0x80}, 1);
            }
            wb_put(&w, tc->model + fl[i].data_off, tc->len - fl[i].data_off);
            set_case(w.p, w.n, "%s: length at offset %zu (%llu) mutation #%d", tc->dir,
                     fl[i].len_off, (unsigned long long)len, v);
            probe(tc, w.p, w.n, s);
        }
    }
    free(w.p);
}

/* Structure-aware: set one varint to an extreme value, delete or repeat one field, with every
 * enclosing length re-encoded. */
static void gen_structural(const tcase *tc, const pfield *fl, int nf, stats *s)
{
    static const uint64_t vals[] = {0, 1, 2, 3, 7, 9, 13, 17, 0x7f, 0x80, 255, 65535,
                                    (uint64_t)1 << 31, (uint64_t)1 << 32, (uint64_t)1 << 40,
                                    INT64_MAX, ~(uint64_t)0, ~(uint64_t)1, (uint64_t)-3,
                                    (uint64_t)-1000};
    const int nv = (int)(sizeof vals / sizeof vals[0]);
    int stride = nf > 400 ? nf / 400 : 1;
    wbuf w = {0};
    for (int i = 0; i < nf; i += stride) {
        if (fl[i].wire == 0) {
            for (int v = 0; v < nv; v++) {
                mutate(tc->model, tc->len, MUT_SET_VARINT, i, vals[v], &w);
                set_case(w.p, w.n, "%s: field #%d (offset %zu) set to %llu", tc->dir, i,
                         fl[i].key_off, (unsigned long long)vals[v]);
                probe(tc, w.p, w.n, s);
            }
        }
        mutate(tc->model, tc->len, MUT_DELETE, i, 0, &w);
        set_case(w.p, w.n, "%s: field #%d (offset %zu) deleted", tc->dir, i, fl[i].key_off);
        probe(tc, w.p, w.n, s);
        mutate(tc->model, tc->len, MUT_DUP, i, 0, &w);
        set_case(w.p, w.n, "%s: field #%d (offset %zu) repeated", tc->dir, i, fl[i].key_off);
        probe(tc, w.p, w.n, s);
    }
    free(w.p);
}

static void gen_random(int n, stats *s, const tcase *tc)
{
    seed_for("random bytes");
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)(rnd() % 2048);
        uint8_t *b = malloc(len ? len : 1);
        for (size_t k = 0; k < len; k++) b[k] = (uint8_t)rnd();
        /* half of them start like a ModelProto: ir_version, then a graph field */
        if (i % 2 && len > 4) b[0] = 0x08, b[1] = 0x07, b[2] = 0x3a;
        set_case(b, len, "random buffer #%d (%zu bytes)", i, len);
        probe(tc, b, len, s);
        free(b);
    }
}

/* Run one generator in a child process. Failures it finds are printed by the child; a crash
 * (signal, sanitizer report, hang) is printed here with the case that caused it. */
typedef void (*gen_fn)(const tcase *tc, const pfield *fl, int nf, stats *s);

static void isolated(gen_fn fn, const tcase *tc, const pfield *fl, int nf, stats *s)
{
    fflush(stdout);
    fflush(stderr);
    memset(&g_sh->st, 0, sizeof g_sh->st);
    g_case[0] = 0;
    pid_t pid = g_sh == &g_local ? -1 : fork();
    if (pid == 0) {
        mstest_cur_failed = 0;
        fn(tc, fl, nf, &g_sh->st);
        fflush(stdout);
        _exit(mstest_cur_failed ? 10 : 0);
    }
    if (pid < 0) { /* no fork: run in-process */
        fn(tc, fl, nf, &g_sh->st);
    } else {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0) {}
        if (WIFEXITED(status) && WEXITSTATUS(status) == 10) {
            mstest_cur_failed = 1;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            mstest_cur_failed = 1;
            printf("CRASH %s [%s]: %s %d (rerun with MS_BADINPUT_DUMP=file to keep the input)\n",
                   mstest_cur, g_case, WIFSIGNALED(status) ? "signal" : "exit status",
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
    }
    s->probes += g_sh->st.probes;
    s->loaded += g_sh->st.loaded;
    s->created += g_sh->st.created;
    s->ran += g_sh->st.ran;
    s->refused += g_sh->st.refused;
}

static void run_truncations(const tcase *tc, const pfield *fl, int nf, stats *s) { gen_truncations(tc, s); }
static void run_bitflips(const tcase *tc, const pfield *fl, int nf, stats *s) { gen_bitflips(tc, 1000, 300, s); }
static void run_byte_sets(const tcase *tc, const pfield *fl, int nf, stats *s) { gen_byte_sets(tc, 300, s); }
static void run_random(const tcase *tc, const pfield *fl, int nf, stats *s) { gen_random(1000, s, tc); }

/* ==== tests =============================================================================== */

static const char *const MODELS[] = {
    "simple/test_single_relu_model",
    "node/test_add_bcast",
    "node/test_gemm_default_matrix_bias",
    "node/test_conv_with_strides_padding",
    "node/test_maxpool_2d_pads",
    "node/test_batchnorm_example",
    "node/test_reshape_reordered_all_dims",
    "pytorch-converted/test_Linear",
    "pytorch-converted/test_Conv2d",
    "node/test_layer_normalization_3d_axis_negative_1_epsilon_expanded",
    "node/test_softmax_axis_1_expanded",
    "node/test_sce_mean_weight_ii_3d_expanded",
};
#define N_MODELS ((int)(sizeof MODELS / sizeof MODELS[0]))

static int have_testdata(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/simple/test_single_relu_model/model.onnx", testdata_dir());
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

TEST(corrupt_models)
{
    stats total = {0};
    int n_cases = 0;
    for (int i = 0; i < N_MODELS; i++) {
        tcase tc;
        if (!case_load(&tc, MODELS[i])) {
            printf("note: %s is absent, skipped\n", MODELS[i]);
            continue;
        }
        n_cases++;
        stats s = {0};
        /* the original first: it must load; when its ops are all there it must run */
        set_case(tc.model, tc.len, "%s unmodified", tc.dir);
        ms_model *m = NULL;
        ms_error err;
        ms_status st = ms_model_load(tc.model, tc.len, &m, &err);
        EXPECT(st == MS_OK, "the unmodified model does not load: %s", err.msg);
        if (m && ms_model_check_supported(m, &err) == MS_OK) tc.runs = 1;
        ms_model_free(m);
        probe(&tc, tc.model, tc.len, &s);
        EXPECT(!tc.runs || s.ran == 1, "the unmodified model does not run");

        pfield *fl;
        int nf = list_fields(tc.model, tc.len, &fl);
        isolated(run_truncations, &tc, fl, nf, &s);
        isolated(run_bitflips, &tc, fl, nf, &s);
        isolated(run_byte_sets, &tc, fl, nf, &s);
        isolated(gen_length_mutations, &tc, fl, nf, &s);
        isolated(gen_structural, &tc, fl, nf, &s);
        free(fl);
        if (g_verbose || getenv("MS_BADINPUT_STATS"))
            printf("  %-66s %5d probes, %5d loaded, %5d sessions, %5d ran, %d over the cap%s\n",
                   tc.dir, s.probes, s.loaded, s.created, s.ran, s.refused,
                   tc.runs ? "" : " (ops not all supported yet)");
        total.probes += s.probes;
        total.ran += s.ran;
        case_free(&tc);
    }
    tcase none = {.dir = "random"};
    isolated(run_random, &none, NULL, 0, &total);
    CHECK(n_cases > 0);
    if (getenv("MS_BADINPUT_STATS"))
        printf("  total: %d probes, %d ran\n", total.probes, total.ran);
}

/* ---- wrong inputs at run time ------------------------------------------------------------ */

/* A session on node/test_conv_with_strides_padding: x float[1,1,7,5], W float[1,1,3,3]. */
typedef struct conv_fixture {
    tcase tc;
    ms_model *m;
    ms_session *s;
} conv_fixture;

static int conv_open(conv_fixture *f)
{
    memset(f, 0, sizeof *f);
    ms_error err;
    if (!case_load(&f->tc, "node/test_conv_with_strides_padding") || f->tc.n_in != 2) return 0;
    if (ms_model_load(f->tc.model, f->tc.len, &f->m, &err) != MS_OK) return 0;
    if (ms_session_create(f->m, NULL, &f->s, &err) != MS_OK) {
        printf("note: Conv is not available (%s): run-time input checks skipped\n", err.msg);
        return 0;
    }
    return 1;
}

static void conv_close(conv_fixture *f)
{
    ms_session_free(f->s);
    ms_model_free(f->m);
    case_free(&f->tc);
}

/* Run with input k replaced by `t`; expect MS_ERR_INVALID naming input k and its shape. */
static void expect_rejected(conv_fixture *f, int k, const ms_tensor *t, const char *what)
{
    ms_tensor in[2] = {f->tc.in[0], f->tc.in[1]}, out[1];
    ms_error err;
    err.msg[0] = 0;
    in[k] = *t;
    snprintf(g_case, sizeof g_case, "conv input %d: %s", k, what);
    ms_status st = ms_session_run(f->s, in, 2, out, 1, &err);
    EXPECT(st == MS_ERR_INVALID, "returned %d: %s", (int)st, err.msg);
    const char *name = ms_model_input(f->m, k)->name;
    char want[64];
    snprintf(want, sizeof want, "'%s'", name);
    EXPECT(strstr(err.msg, want) != NULL, "message does not name input %s: %s", want, err.msg);
    const char *dims = k == 0 ? "1,1,7,5" : "1,1,3,3";
    EXPECT(strstr(err.msg, dims) != NULL, "message does not give the expected shape %s: %s", dims,
           err.msg);
}

TEST(wrong_inputs)
{
    conv_fixture f;
    if (!conv_open(&f)) {
        conv_close(&f);
        return;
    }
    ms_tensor out[1], in[2] = {f.tc.in[0], f.tc.in[1]};
    ms_error err;
    CHECK(ms_session_run(f.s, in, 2, out, 1, &err) == MS_OK);

    int32_t ibuf[35] = {0};
    float big[1 * 1 * 8 * 5 * 2] = {0};
    ms_tensor t = f.tc.in[0];
    t.dtype = MS_DTYPE_INT32, t.data = ibuf;
    expect_rejected(&f, 0, &t, "int32 instead of float32");
    t = f.tc.in[0], t.dtype = MS_DTYPE_DOUBLE, t.data = big;
    expect_rejected(&f, 0, &t, "float64 instead of float32");
    t = f.tc.in[0], t.dtype = (ms_dtype)99;
    expect_rejected(&f, 0, &t, "dtype 99");
    t = f.tc.in[0], t.ndim = 3;
    expect_rejected(&f, 0, &t, "rank 3");
    t = f.tc.in[0], t.ndim = 5, t.shape[4] = 1, t.data = big;
    expect_rejected(&f, 0, &t, "rank 5");
    t = f.tc.in[0], t.shape[2] = 8, t.data = big;
    expect_rejected(&f, 0, &t, "dims 1,1,8,5");
    t = f.tc.in[0], t.shape[0] = 0;
    expect_rejected(&f, 0, &t, "dims 0,1,7,5");
    t = f.tc.in[0], t.shape[3] = -5;
    expect_rejected(&f, 0, &t, "a negative dim");
    t = f.tc.in[0], t.ndim = -1;
    expect_rejected(&f, 0, &t, "ndim -1");
    t = f.tc.in[0], t.ndim = MS_MAX_DIMS + 1;
    expect_rejected(&f, 0, &t, "ndim 9");
    t = f.tc.in[1], t.shape[3] = 2;
    expect_rejected(&f, 1, &t, "W dims 1,1,3,2");

    /* NULL data */
    t = f.tc.in[0], t.data = NULL;
    in[0] = t, in[1] = f.tc.in[1];
    err.msg[0] = 0;
    CHECK(ms_session_run(f.s, in, 2, out, 1, &err) == MS_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "'x'") != NULL, "%s", err.msg);
    in[0] = f.tc.in[0], in[1] = f.tc.in[1], in[1].data = NULL;
    CHECK(ms_session_run(f.s, in, 2, out, 1, &err) == MS_ERR_INVALID);

    /* input and output counts */
    in[0] = f.tc.in[0], in[1] = f.tc.in[1];
    CHECK(ms_session_run(f.s, in, 1, out, 1, &err) == MS_ERR_INVALID);
    CHECK(ms_session_run(f.s, in, 0, out, 1, &err) == MS_ERR_INVALID);
    ms_tensor three[3] = {in[0], in[1], in[1]};
    CHECK(ms_session_run(f.s, three, 3, out, 1, &err) == MS_ERR_INVALID);
    ms_tensor out2[2];
    CHECK(ms_session_run(f.s, in, 2, out2, 2, &err) == MS_ERR_INVALID);
    CHECK(ms_session_run(f.s, in, 2, out, 0, &err) == MS_OK);

    /* after all that the session still works */
    CHECK(ms_session_run(f.s, in, 2, out, 1, &err) == MS_OK);
    conv_close(&f);
}

/* Non-finite values are data, not errors, for the runtime: they flow through without a crash
 * (and without UBSan reports in the kernels). */
TEST(nonfinite_inputs)
{
    static const char *const dirs[] = {"node/test_conv_with_strides_padding",
                                       "node/test_gemm_default_matrix_bias",
                                       "simple/test_single_relu_model", "node/test_maxpool_2d_pads",
                                       "node/test_batchnorm_example"};
    const float specials[] = {NAN, INFINITY, -INFINITY, 3.4e38f, -3.4e38f, 1e-45f};
    for (int d = 0; d < 5; d++) {
        tcase tc;
        if (!case_load(&tc, dirs[d])) continue;
        ms_model *m = NULL;
        ms_session *s = NULL;
        ms_error err;
        if (ms_model_load(tc.model, tc.len, &m, &err) == MS_OK &&
            ms_session_create(m, NULL, &s, &err) == MS_OK) {
            for (int k = 0; k < 6; k++) {
                for (int i = 0; i < tc.n_in; i++) {
                    if (tc.in[i].dtype != MS_DTYPE_FLOAT) continue;
                    float *p = tc.in[i].data;
                    int64_t n = ms_tensor_numel(&tc.in[i]);
                    for (int64_t e = 0; e < n; e += 2) p[e] = specials[(k + e) % 6];
                }
                ms_tensor out[4];
                snprintf(g_case, sizeof g_case, "%s with non-finite inputs #%d", tc.dir, k);
                ms_status st = ms_session_run(s, tc.in, tc.n_in, out, ms_model_num_outputs(m), &err);
                EXPECT(st == MS_OK, "returned %d: %s", (int)st, err.msg);
            }
        }
        ms_session_free(s);
        ms_model_free(m);
        case_free(&tc);
    }
}

/* ---- TensorProto decoding ---------------------------------------------------------------- */

static void probe_tensor(const uint8_t *buf, size_t len, ms_status *st_out)
{
    ms_tensor t;
    ms_error err;
    char name[16];
    err.msg[0] = 0;
    g_refused = 0;
    ms_status st = ms_tensor_decode_pb(buf, len, &t, name, sizeof name, &err);
    expect_status("ms_tensor_decode_pb", st, &err);
    if (st == MS_OK) {
        EXPECT(strlen(name) < sizeof name, "name not terminated");
        size_t esz = ms_dtype_size(t.dtype);
        EXPECT(esz > 0 && t.ndim >= 0 && t.ndim <= MS_MAX_DIMS, "bad tensor dtype %d ndim %d",
               (int)t.dtype, (int)t.ndim);
        int64_t n = ms_tensor_numel(&t);
        if (t.dtype == MS_DTYPE_STRING) {
            for (int64_t i = 0; i < n; i++) (void)strlen(((const char **)t.data)[i]);
        } else if (esz && n > 0) {
            unsigned acc = 0;
            for (size_t b = 0; b < (size_t)n * esz; b++) acc += ((uint8_t *)t.data)[b];
            (void)acc;
        }
        ms_free(t.data);
    } else {
        EXPECT(t.data == NULL, "a failed decode left data");
    }
    if (st_out) *st_out = st;
}

TEST(corrupt_tensors)
{
    static const char *const files[] = {
        "node/test_conv_with_strides_padding/test_data_set_0/input_0.pb",
        "node/test_gemm_default_matrix_bias/test_data_set_0/input_2.pb",
        "node/test_reshape_reordered_all_dims/test_data_set_0/input_1.pb",
        "node/test_add_bcast/test_data_set_0/output_0.pb",
    };
    for (int fi = 0; fi < 4; fi++) {
        char path[1024];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", testdata_dir(), files[fi]);
        uint8_t *pb = read_all(path, &len);
        if (!pb) continue;
        ms_status st;
        set_case(pb, len, "%s unmodified", files[fi]);
        probe_tensor(pb, len, &st);
        EXPECT(st == MS_OK, "the unmodified tensor does not decode");
        /* every strict truncation loses data the shape needs: always INVALID */
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *b = malloc(cut ? cut : 1);
            memcpy(b, pb, cut);
            set_case(b, cut, "%s truncated to %zu", files[fi], cut);
            probe_tensor(b, cut, &st);
            EXPECT(st == MS_ERR_INVALID, "a truncated tensor decoded with status %d", (int)st);
            free(b);
        }
        uint8_t *b = malloc(len);
        seed_for(files[fi]);
        for (int i = 0; i < 400; i++) {
            memcpy(b, pb, len);
            int flips = i < 300 ? 1 : 2 + (int)(rnd() % 8);
            for (int k = 0; k < flips; k++) {
                size_t bit = (size_t)(rnd() % (len * 8));
                b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            set_case(b, len, "%s with %d bit flip(s), #%d", files[fi], flips, i);
            probe_tensor(b, len, NULL);
        }
        free(b);
        /* structure-aware edits too */
        pfield *fl;
        int nf = list_fields(pb, len, &fl);
        wbuf w = {0};
        static const uint64_t vals[] = {0, 1, 8, 16, 17, 255, (uint64_t)1 << 40, INT64_MAX,
                                        ~(uint64_t)0};
        for (int i = 0; i < nf; i++) {
            for (int v = 0; fl[i].wire == 0 && v < 9; v++) {
                mutate(pb, len, MUT_SET_VARINT, i, vals[v], &w);
                set_case(w.p, w.n, "%s field #%d set to %llu", files[fi], i,
                         (unsigned long long)vals[v]);
                probe_tensor(w.p, w.n, NULL);
            }
            mutate(pb, len, MUT_DELETE, i, 0, &w);
            set_case(w.p, w.n, "%s field #%d deleted", files[fi], i);
            probe_tensor(w.p, w.n, NULL);
            mutate(pb, len, MUT_DUP, i, 0, &w);
            set_case(w.p, w.n, "%s field #%d repeated", files[fi], i);
            probe_tensor(w.p, w.n, NULL);
        }
        free(w.p);
        free(fl);
        free(pb);
    }
}

/* Hand-made TensorProtos for the checks a corpus might miss. Field numbers: dims 1,
 * data_type 2, segment 3, float_data 4, int32_data 5, string_data 6, int64_data 7, name 8,
 * raw_data 9, double_data 10, external_data 13, data_location 14. */
static ms_status decode(const wbuf *w, ms_error *err)
{
    ms_tensor t;
    g_refused = 0;
    err->msg[0] = 0;
    ms_status st = ms_tensor_decode_pb(w->p ? w->p : (const uint8_t *)"", w->n, &t, NULL, 0, err);
    if (st == MS_OK) {
        if (t.dtype == MS_DTYPE_STRING)
            for (int64_t i = 0; i < ms_tensor_numel(&t); i++) (void)strlen(((char **)t.data)[i]);
        ms_free(t.data);
    } else if (!err->msg[0]) {
        snprintf(err->msg, sizeof err->msg, "(empty message)");
        st = (ms_status)-1;
    }
    return st;
}

#define TENSOR_CASE(expect, ...)                                                              \
    do {                                                                                      \
        wbuf w = {0};                                                                         \
        __VA_ARGS__;                                                                          \
        ms_error err;                                                                         \
        snprintf(g_case, sizeof g_case, "hand-made tensor, line %d", __LINE__);               \
        ms_status st = decode(&w, &err);                                                      \
        EXPECT(st == (expect), "got %d (%s), expected %d", (int)st, err.msg, (int)(expect));  \
        free(w.p);                                                                            \
    } while (0)

TEST(handmade_tensors)
{
    const float f3[3] = {1, 2, 3};
    TENSOR_CASE(MS_OK, wb_key(&w, 1, 0); wb_varint(&w, 3); wb_key(&w, 2, 0); wb_varint(&w, 1);
                wb_bytes(&w, 9, f3, 12));
    /* empty buffer: no dtype */
    TENSOR_CASE(MS_ERR_INVALID, (void)0);
    /* raw_data one byte short / one byte long */
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, 3); wb_key(&w, 2, 0);
                wb_varint(&w, 1); wb_bytes(&w, 9, f3, 11));
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, 2); wb_key(&w, 2, 0);
                wb_varint(&w, 1); wb_bytes(&w, 9, f3, 12));
    /* a huge shape with no data, and one whose byte size overflows */
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, (uint64_t)1 << 40); wb_key(&w, 2, 0);
                wb_varint(&w, 1));
    TENSOR_CASE(MS_ERR_INVALID, for (int i = 0; i < 4; i++) { wb_key(&w, 1, 0); wb_varint(&w, 1u << 20); }
                wb_key(&w, 2, 0); wb_varint(&w, 1));
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, (uint64_t)1 << 62); wb_key(&w, 1, 0);
                wb_varint(&w, 4); wb_key(&w, 2, 0); wb_varint(&w, 11));
    /* a negative dimension (int64 -1 as a 10-byte varint) */
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, ~(uint64_t)0); wb_key(&w, 2, 0);
                wb_varint(&w, 1); wb_bytes(&w, 9, f3, 0));
    /* nine dimensions */
    TENSOR_CASE(MS_ERR_UNSUPPORTED, for (int i = 0; i < 9; i++) { wb_key(&w, 1, 0); wb_varint(&w, 1); }
                wb_key(&w, 2, 0); wb_varint(&w, 1); wb_bytes(&w, 9, f3, 4));
    /* dtypes: undefined, bfloat16 (16), a nonsense value, a negative one */
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, 1); wb_bytes(&w, 9, f3, 4));
    TENSOR_CASE(MS_ERR_UNSUPPORTED, wb_key(&w, 1, 0); wb_varint(&w, 1); wb_key(&w, 2, 0);
                wb_varint(&w, 16); wb_bytes(&w, 9, f3, 2));
    TENSOR_CASE(MS_ERR_UNSUPPORTED, wb_key(&w, 2, 0); wb_varint(&w, 1000); wb_bytes(&w, 9, f3, 4));
    TENSOR_CASE(MS_ERR_UNSUPPORTED, wb_key(&w, 2, 0); wb_varint(&w, ~(uint64_t)0); wb_bytes(&w, 9, f3, 4));
    /* packed float_data whose length is not a multiple of 4 */
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, 3); wb_key(&w, 2, 0);
                wb_varint(&w, 1); wb_bytes(&w, 4, f3, 11));
    /* packed float_data: right, and one value short */
    TENSOR_CASE(MS_OK, wb_key(&w, 1, 0); wb_varint(&w, 3); wb_key(&w, 2, 0); wb_varint(&w, 1);
                wb_bytes(&w, 4, f3, 12));
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, 3); wb_key(&w, 2, 0);
                wb_varint(&w, 1); wb_bytes(&w, 4, f3, 8));
    /* int64_data packed with an unterminated last varint */
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, 2); wb_key(&w, 2, 0);
                wb_varint(&w, 7); wb_bytes(&w, 7, "\x01\x81", 2));
    /* strings: a count mismatch, and a string_data occurrence that is not length-delimited */
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, 2); wb_key(&w, 2, 0);
                wb_varint(&w, 8); wb_bytes(&w, 6, "ab", 2));
    TENSOR_CASE(MS_OK, wb_key(&w, 1, 0); wb_varint(&w, 2); wb_key(&w, 2, 0); wb_varint(&w, 8);
                wb_bytes(&w, 6, "ab", 2); wb_bytes(&w, 6, "", 0));
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_varint(&w, 2); wb_key(&w, 2, 0);
                wb_varint(&w, 8); wb_bytes(&w, 6, "ab", 2); wb_key(&w, 6, 0); wb_varint(&w, 5));
    /* external data, segments: unsupported */
    TENSOR_CASE(MS_ERR_UNSUPPORTED, wb_key(&w, 2, 0); wb_varint(&w, 1); wb_key(&w, 14, 0);
                wb_varint(&w, 1));
    TENSOR_CASE(MS_ERR_UNSUPPORTED, wb_key(&w, 2, 0); wb_varint(&w, 1); wb_bytes(&w, 13, "\x0a\x01x", 3));
    TENSOR_CASE(MS_ERR_UNSUPPORTED, wb_key(&w, 2, 0); wb_varint(&w, 1); wb_bytes(&w, 3, "\x08\x00", 2));
    /* wire-level damage: field number 0, a group, wire types 6 and 7, an 11-byte varint,
     * a fixed64 with 7 bytes left, a length past the end */
    TENSOR_CASE(MS_ERR_INVALID, wb_put(&w, "\x00\x01", 2));
    TENSOR_CASE(MS_ERR_INVALID, wb_put(&w, "\x0b\x0c", 2));
    TENSOR_CASE(MS_ERR_INVALID, wb_put(&w, "\x0e\x00", 2));
    TENSOR_CASE(MS_ERR_INVALID, wb_put(&w, "\x0f\x00", 2));
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 1, 0); wb_put(&w, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11));
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 10, 1); wb_put(&w, "1234567", 7));
    TENSOR_CASE(MS_ERR_INVALID, wb_key(&w, 9, 2); wb_varint(&w, 100); wb_put(&w, "abc", 3));
    /* a field number beyond 2^29 (key above 32 bits) */
    TENSOR_CASE(MS_ERR_INVALID, wb_varint(&w, (uint64_t)1 << 35); wb_varint(&w, 1));
}

/* ---- hand-made graphs -------------------------------------------------------------------- */

/* ValueInfoProto name + tensor type float with the given dims. */
static void vi_float(wbuf *w, unsigned field, const char *name, int ndim, const int64_t *dims)
{
    wbuf shape = {0}, tt = {0}, tp = {0}, vi = {0};
    for (int d = 0; d < ndim; d++) {
        wbuf dim = {0};
        wb_key(&dim, 1, 0);
        wb_varint(&dim, (uint64_t)dims[d]);
        wb_bytes(&shape, 1, dim.p, dim.n);
        free(dim.p);
    }
    wb_key(&tt, 1, 0);
    wb_varint(&tt, 1);
    wb_bytes(&tt, 2, shape.p, shape.n);
    wb_bytes(&tp, 1, tt.p, tt.n);
    wb_bytes(&vi, 1, name, strlen(name));
    wb_bytes(&vi, 2, tp.p, tp.n);
    wb_bytes(w, field, vi.p, vi.n);
    free(shape.p), free(tt.p), free(tp.p), free(vi.p);
}

/* NodeProto with the given op, inputs and outputs, in the field order given ("i:x" "o:y"). */
static void node(wbuf *w, const char *op, const char *const *io, int n)
{
    wbuf nd = {0};
    for (int i = 0; i < n; i++) wb_bytes(&nd, io[i][0] == 'i' ? 1 : 2, io[i] + 2, strlen(io[i] + 2));
    wb_bytes(&nd, 4, op, strlen(op));
    wb_bytes(w, 1, nd.p, nd.n);
    free(nd.p);
}

/* NodeProto Relu(x) -> y with one raw AttributeProto. */
static void relu_with_attr(wbuf *g, const wbuf *attr)
{
    wbuf nd = {0};
    wb_bytes(&nd, 1, "x", 1);
    wb_bytes(&nd, 2, "y", 1);
    wb_bytes(&nd, 4, "Relu", 4);
    wb_bytes(&nd, 5, attr->p, attr->n);
    wb_bytes(g, 1, nd.p, nd.n);
    free(nd.p);
}

/* ModelProto: ir_version 7, opset 13, the graph. */
static void model(wbuf *w, const wbuf *graph)
{
    wb_key(w, 1, 0);
    wb_varint(w, 7);
    wb_bytes(w, 7, graph->p, graph->n);
    wbuf os = {0};
    wb_key(&os, 2, 0);
    wb_varint(&os, 13);
    wb_bytes(w, 8, os.p, os.n);
    free(os.p);
}

static ms_status load_and_run(const wbuf *w, ms_error *err)
{
    ms_model *m = NULL;
    ms_session *s = NULL;
    err->msg[0] = 0;
    g_refused = 0;
    ms_status st = ms_model_load(w->p, w->n, &m, err);
    if (!st) st = ms_session_create(m, NULL, &s, err);
    if (!st) {
        float x[4] = {1, -2, 3, -4};
        ms_tensor in = {MS_DTYPE_FLOAT, 1, {4}, x}, out[2];
        st = ms_session_run(s, &in, 1, out, 1, err);
    }
    ms_session_free(s);
    ms_model_free(m);
    if (st && !err->msg[0]) st = (ms_status)-1;
    return st;
}

#define GRAPH_CASE(expect, ...)                                                              \
    do {                                                                                     \
        wbuf g = {0}, w = {0};                                                               \
        const int64_t four[1] = {4};                                                         \
        (void)four;                                                                          \
        snprintf(g_case, sizeof g_case, "hand-made graph, line %d", __LINE__);               \
        __VA_ARGS__;                                                                         \
        model(&w, &g);                                                                       \
        ms_error err;                                                                        \
        if (g_verbose) printf("case %s\n", g_case), fflush(stdout);                          \
        ms_status st = load_and_run(&w, &err);                                               \
        EXPECT(st == (expect), "got %d (%s), expected %d", (int)st, err.msg, (int)(expect)); \
        free(g.p), free(w.p);                                                                \
    } while (0)

/* One node of operator tc->dir with no inputs at all, x -> ? -> y. */
static void run_no_inputs(const tcase *tc, const pfield *fl, int nf, stats *s)
{
    const char *only_out[] = {"o:y"};
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, tc->dir, only_out, 1);
               vi_float(&g, 12, "y", 1, four);
               snprintf(g_case, sizeof g_case, "%s node with no inputs", tc->dir));
}

TEST(handmade_graphs)
{
    const char *relu[] = {"i:x", "o:y"}, *self[] = {"o:y", "i:y"}, *fwd[] = {"i:z", "o:y"},
               *noout[] = {"i:x", "o:"};
    /* the baseline: x -> Relu -> y */
    GRAPH_CASE(MS_OK, vi_float(&g, 11, "x", 1, four); node(&g, "Relu", relu, 2);
               vi_float(&g, 12, "y", 1, four));
    /* a node that reads its own output (outputs serialized before inputs) */
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, "Relu", self, 2);
               vi_float(&g, 12, "y", 1, four));
    /* reads a value no one defines; an output nobody produces; no outputs at all */
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, "Relu", fwd, 2);
               vi_float(&g, 12, "y", 1, four));
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, "Relu", relu, 2);
               vi_float(&g, 12, "q", 1, four));
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, "Relu", relu, 2));
    /* the same value defined twice: by two nodes */
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, "Relu", relu, 2);
               node(&g, "Relu", relu, 2); vi_float(&g, 12, "y", 1, four));
    /* an unknown op is UNSUPPORTED; a node without op_type or with an unimported domain INVALID */
    GRAPH_CASE(MS_ERR_UNSUPPORTED, vi_float(&g, 11, "x", 1, four); node(&g, "NoSuchOp", relu, 2);
               vi_float(&g, 12, "y", 1, four));
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, "", relu, 2);
               vi_float(&g, 12, "y", 1, four));
    /* an output with an empty name: the node computes into nothing, y is undefined */
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, "Relu", noout, 2);
               vi_float(&g, 12, "y", 1, four));
    /* an input declared with 9 dims */
    GRAPH_CASE(MS_ERR_UNSUPPORTED, const int64_t d9[9] = {1, 1, 1, 1, 4, 1, 1, 1, 1};
               vi_float(&g, 11, "x", 9, d9); node(&g, "Relu", relu, 2); vi_float(&g, 12, "y", 1, four));
    /* an input declared as [2^40]: the given [4] does not match */
    GRAPH_CASE(MS_ERR_INVALID, const int64_t huge[1] = {(int64_t)1 << 40};
               vi_float(&g, 11, "x", 1, huge); node(&g, "Relu", relu, 2); vi_float(&g, 12, "y", 1, four));
    /* nodes with no inputs at all: each kernel must check its input count */
    static const char *const no_in_ops[] = {"Relu", "Add", "Conv", "MatMul", "Gemm", "Reshape",
                                            "Concat", "ReduceSum", "Transpose", "MaxPool",
                                            "Softmax", "BatchNormalization", "Gather", "Slice"};
    for (int k = 0; k < (int)(sizeof no_in_ops / sizeof no_in_ops[0]); k++) {
        tcase op = {.dir = no_in_ops[k]};
        stats ignored = {0};
        isolated(run_no_inputs, &op, NULL, 0, &ignored); /* a crash here must not end the test */
    }
    /* a node declaring more outputs than its operator has */
    const char *extra[] = {"i:x", "o:y", "o:z"};
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four); node(&g, "Relu", extra, 3);
               vi_float(&g, 12, "y", 1, four); vi_float(&g, 12, "z", 1, four));
    /* attribute fields with the wrong wire type (a string attribute sent as a varint, a name
     * sent as fixed32) must not read stale or uninitialized data */
    GRAPH_CASE(MS_OK, vi_float(&g, 11, "x", 1, four);
               wbuf at = {0}; wb_key(&at, 4, 0); wb_varint(&at, 12345); wb_key(&at, 1, 5);
               wb_put(&at, "abcd", 4); wb_key(&at, 20, 0); wb_varint(&at, 3);
               relu_with_attr(&g, &at); free(at.p); vi_float(&g, 12, "y", 1, four));
    /* an attribute type beyond AttributeProto's enum */
    GRAPH_CASE(MS_ERR_INVALID, vi_float(&g, 11, "x", 1, four);
               wbuf at = {0}; wb_bytes(&at, 1, "axis", 4); wb_key(&at, 3, 0); wb_varint(&at, 2);
               wb_key(&at, 20, 0); wb_varint(&at, 106);
               relu_with_attr(&g, &at); free(at.p); vi_float(&g, 12, "y", 1, four));
}

/* ---- the JSON codec's non-finite rule ---------------------------------------------------- */

#ifndef MS_TEST_NO_JSON
TEST(json_nonfinite)
{
    static const char *const bad[] = {
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[\"NaN\"]}]}",
        /* null in FP32/FP64 is a missing value (NaN, judged by src/predict/pd_check); in
         * integer data it has no meaning */
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[null]}]}",
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1e39]}]}",
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1e999]}]}",
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[Infinity]}]}",
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[1]}]}",
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[-1],\"datatype\":\"FP32\",\"data\":[]}]}",
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1.5]}]}",
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]",
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        mc_oip_request req;
        ms_error err;
        err.msg[0] = 0;
        snprintf(g_case, sizeof g_case, "json #%d", i);
        ms_status st = mc_json_parse_request(bad[i], strlen(bad[i]), &req, &err);
        EXPECT(st == MS_ERR_INVALID && err.msg[0], "got %d (%s)", (int)st, err.msg);
        mc_oip_request_free(&req);
    }
}
#endif

int main(void)
{
    g_verbose = getenv("MS_BADINPUT_VERBOSE") != NULL;
    void *sh = getenv("MS_BADINPUT_NOFORK") ? MAP_FAILED
                                            : mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE,
                                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh != MAP_FAILED) g_sh = sh;
    signal(SIGALRM, on_alarm);
    ms_set_allocator(cap_alloc, cap_realloc, free);
    if (!have_testdata()) {
        printf("note: %s is absent: the corpus tests are skipped\n", testdata_dir());
    } else {
        RUN(corrupt_models);
        RUN(wrong_inputs);
        RUN(nonfinite_inputs);
        RUN(corrupt_tensors);
    }
    RUN(handmade_tensors);
    RUN(handmade_graphs);
#ifndef MS_TEST_NO_JSON
    RUN(json_nonfinite);
#endif
    return mstest_summary();
}
