/* test_ex_plan.c: the exporter's pieces with logic of their own (src/edge/ex_int.h): the arena
 * layout (liveness and first-fit reuse, checked against offsets worked out by hand), the
 * BatchNormalization factors (hand-computed values) and the Conv weight packing (blocks of 4
 * channels, zero-padded, scaled). */
#include <stdlib.h>

#include "ex_int.h"
#include "mstest.h"

#define MAXB 8
#define MAXL 8

typedef struct fixture {
    ex_plan p;
    ex_buf bufs[MAXB];
    ex_layer layers[MAXL];
} fixture;

static int buf(fixture *f, ex_buf_kind kind, int64_t n, int alias)
{
    int b = f->p.n_bufs++;
    f->bufs[b] = (ex_buf){.kind = kind, .n = n, .alias = alias, .first = -1, .last = -1};
    return b;
}

static void layer(fixture *f, int in0, int in1, int out, int scratch)
{
    ex_layer *l = &f->layers[f->p.n_layers++];
    memset(l, 0, sizeof *l);
    l->n_in = in1 >= 0 ? 2 : 1, l->in[0] = in0, l->in[1] = in1, l->out = out, l->scratch = scratch;
}

static void init(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->p.bufs = f->bufs, f->p.layers = f->layers;
}

/* two buffers alive at once never share a float */
static int overlap_free(const fixture *f)
{
    for (int a = 0; a < f->p.n_bufs; a++)
        for (int b = a + 1; b < f->p.n_bufs; b++) {
            const ex_buf *x = &f->bufs[a], *y = &f->bufs[b];
            if (x->kind != EX_BUF_ARENA || y->kind != EX_BUF_ARENA || x->first < 0 || y->first < 0) continue;
            int live = !(x->last < y->first || y->last < x->first);
            int share = x->off < y->off + y->n && y->off < x->off + x->n;
            if (live && share) return 0;
        }
    return 1;
}

TEST(chain_reuses_dead_buffers)
{
    /* input -> L0 -> a(10) -> L1 -> b(6) -> L2 -> c(3) = output. a dies at L1, so c (written
     * at L2, alive with b) goes back to offset 0; b sits after a's 12 (10 rounded to 4). */
    fixture f;
    init(&f);
    int in = buf(&f, EX_BUF_INPUT, 4, -1), a = buf(&f, EX_BUF_ARENA, 10, -1);
    int b = buf(&f, EX_BUF_ARENA, 6, -1), c = buf(&f, EX_BUF_ARENA, 3, -1);
    layer(&f, in, -1, a, -1), layer(&f, a, -1, b, -1), layer(&f, b, -1, c, -1);
    f.p.out_buf = c;
    ex_layout(&f.p);
    CHECK(f.bufs[a].off == 0 && f.bufs[b].off == 12 && f.bufs[c].off == 0);
    CHECK(f.bufs[c].last == 3); /* the output lives to the end */
    CHECK(f.p.arena_floats == 20);
    CHECK(overlap_free(&f));
}

TEST(alias_keeps_its_root_alive)
{
    /* as above, but L2 also reads a through an alias (a Reshape): a lives to L2, so c cannot
     * take offset 0 and goes after b */
    fixture f;
    init(&f);
    int in = buf(&f, EX_BUF_INPUT, 4, -1), a = buf(&f, EX_BUF_ARENA, 10, -1);
    int b = buf(&f, EX_BUF_ARENA, 6, -1), c = buf(&f, EX_BUF_ARENA, 3, -1);
    int ra = buf(&f, EX_BUF_ALIAS, 10, a);
    layer(&f, in, -1, a, -1), layer(&f, a, -1, b, -1), layer(&f, b, ra, c, -1);
    f.p.out_buf = c;
    ex_layout(&f.p);
    CHECK(ex_buf_root(&f.p, ra) == a);
    CHECK(f.bufs[a].last == 2);
    CHECK(f.bufs[c].off == 20);
    CHECK(f.p.arena_floats == 24);
    CHECK(overlap_free(&f));
}

TEST(scratch_lives_only_in_its_layer)
{
    /* L0 writes a (8) using scratch s (16); L1 reads a, writes b (16): s is dead by then, so
     * b reuses s's floats after a */
    fixture f;
    init(&f);
    int in = buf(&f, EX_BUF_INPUT, 4, -1), a = buf(&f, EX_BUF_ARENA, 8, -1);
    int s = buf(&f, EX_BUF_ARENA, 16, -1), b = buf(&f, EX_BUF_ARENA, 16, -1);
    layer(&f, in, -1, a, s), layer(&f, a, -1, b, -1);
    f.p.out_buf = b;
    ex_layout(&f.p);
    CHECK(f.bufs[s].first == 0 && f.bufs[s].last == 0);
    CHECK(f.bufs[a].off == 0 && f.bufs[s].off == 8 && f.bufs[b].off == 8);
    CHECK(f.p.arena_floats == 24);
    CHECK(overlap_free(&f));
}

TEST(input_is_not_in_the_arena)
{
    fixture f;
    init(&f);
    int in = buf(&f, EX_BUF_INPUT, 1000, -1), a = buf(&f, EX_BUF_ARENA, 5, -1);
    layer(&f, in, -1, a, -1);
    f.p.out_buf = a;
    ex_layout(&f.p);
    CHECK(f.bufs[a].off == 0 && f.p.arena_floats == 8);
}

static ms_tensor vec(double *v, int64_t n)
{
    ms_tensor t = {.dtype = MS_DTYPE_DOUBLE, .ndim = 1, .data = v};
    t.shape[0] = n;
    return t;
}

TEST(batchnorm_factors)
{
    /* channel 0: gamma 2, var 3, eps 1 -> scale 2 / 2 = 1; shift = beta 5 - mean 4 * 1 = 1.
     * channel 1: gamma -1, var 0, eps 0.25 -> scale -1 / 0.5 = -2; shift = 0 - 3 * -2 = 6. */
    double g[2] = {2, -1}, be[2] = {5, 0}, mean[2] = {4, 3}, var[2] = {3, 0}, scale[2], shift[2];
    ms_tensor tg = vec(g, 2), tb = vec(be, 2), tm = vec(mean, 2), tv = vec(var, 2);
    const ms_tensor *t[4] = {&tg, &tb, &tm, &tv};
    ex_bn_params(t, 1.0, 1, scale, shift);
    CHECK(scale[0] == 1.0 && shift[0] == 1.0);
    ex_bn_params(t, 0.25, 2, scale, shift);
    CHECK(scale[1] == -2.0 && shift[1] == 6.0);
}

TEST(conv_pack_blocks_pads_and_scales)
{
    /* OC 3, taps 2: W[o][t] = 10 o + t; packed w[(o/4 * taps + t) * 4 + o%4], channel 3 zero;
     * with scale, each channel's weights times its factor */
    double w[6] = {0, 1, 10, 11, 20, 21}, sc[3] = {1, 0.5, -2};
    ms_tensor W = {.dtype = MS_DTYPE_DOUBLE, .ndim = 4, .data = w};
    W.shape[0] = 3, W.shape[1] = 1, W.shape[2] = 1, W.shape[3] = 2;
    float *p = ex_conv_pack(&W, 3, 4, 2, NULL), *q = ex_conv_pack(&W, 3, 4, 2, sc);
    CHECK(p && q);
    if (!p || !q) return;
    float want[8] = {0, 10, 20, 0, 1, 11, 21, 0};
    float wants[8] = {0, 5, -40, 0, 1, 5.5f, -42, 0};
    int same = 1, sames = 1;
    for (int i = 0; i < 8; i++) same &= p[i] == want[i], sames &= q[i] == wants[i];
    CHECK(same);
    CHECK(sames);
    free(p), free(q);
}

int main(void)
{
    RUN(chain_reuses_dead_buffers);
    RUN(alias_keeps_its_root_alive);
    RUN(scratch_lives_only_in_its_layer);
    RUN(input_is_not_in_the_arena);
    RUN(batchnorm_factors);
    RUN(conv_pack_blocks_pads_and_scales);
    return mstest_summary();
}
