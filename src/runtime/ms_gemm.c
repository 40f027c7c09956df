/* ms_gemm.c: single-precision GEMM in the BLIS shape. op(B) is packed into NR-column panels,
 * blocked so one panel stays in L1 while MR-row strips of A stream past it; a register-blocked
 * MR x NR microkernel does the arithmetic. A row-major (not transposed) A is read in place, so
 * only B is ever copied. Batch-1 products (M == 1) skip packing and stream B once (GEMV): there
 * is no reuse of B to pay the copy back.
 *
 * Three instruction paths on x86-64, picked per call from the CPU (a load and a bit test):
 * AVX-512F (6 x 32 tile in 12 zmm accumulators), AVX2+FMA (the same tile as two 6 x 16 halves in
 * 12 ymm) and portable C. The intrinsics paths are compiled with target attributes, so the
 * library still runs on any x86-64 and the file builds unchanged for ARM and Cortex-M. A wasm
 * build with SIMD128 (-msimd128) takes the wasm path instead of portable C: the same tiles cut
 * into 3 x 8 (GEMM) and 4 x 8 (convolution) blocks of v128 accumulators, small enough that the
 * engine's register allocator (15 xmm on x86-64) keeps them out of memory; portable C's 6 x 32
 * arrays spill there.
 *
 * Packed B layout (per call and ms_sgemm_pack_b alike): K is cut into KC-row blocks; block pc
 * starts at pc * Npad (Npad = N rounded up to NR) and holds Npad / NR panels one after the
 * other, each kc x NR row-major, zero-padded past N. The panel holding column j of block pc is
 * therefore at pc * Npad + (j / NR) * NR * kc, whatever the split of N into NC blocks.
 *
 * The store stage takes an epilogue (a per-column bias, a Relu), so Gemm's bias and a fused Relu
 * cost no extra pass over C. The implicit GEMM under stride-1 Conv turns the roles around: the
 * weights are the packed operand (8-row strips, ms_sgemm_pack_a) and B is never packed, each
 * kernel tap being a shifted window of the padded input (see ms_gemm.h). */
#include "ms_gemm.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MS_GEMM_X86 1
#include <immintrin.h>
#define MS_AVX2 __attribute__((target("avx2,fma")))
#define MS_AVX512 __attribute__((target("avx512f")))
/* Fully unroll the short loops over accumulator arrays, so the arrays live in registers. */
#define MS_UNROLL _Pragma("GCC unroll 8")
#endif

#if defined(__wasm_simd128__)
#define MS_GEMM_WASM 1
#include <wasm_simd128.h>
#endif

/* MR x NR = 6 x 32: 12 accumulators, plus 2 B vectors and a broadcast of A, fit AVX-512's 32
 * registers with room to spare and AVX2's 16 exactly (as two halves). KC * NR * 4 = 32 KiB keeps
 * one B panel in L1 (48 KiB here); an MC x KC strip of A (120 KiB) and a KC x NC block of B
 * (1 MiB) stay in L2. */
enum { MR = 6, NR = 32, KC = 256, MC = 120, NC = 1024 };

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

static float *align64(void *p)
{
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* y = alpha * v + beta * y, not reading y when beta is 0 (it may be uninitialised) */
static inline float axpby(float alpha, float v, float beta, float y)
{
    return beta == 0.0f ? alpha * v : alpha * v + beta * y;
}

/* ---- instruction set --------------------------------------------------------------------- */

typedef enum isa { ISA_AUTO, ISA_C, ISA_AVX2, ISA_AVX512, ISA_WASM } isa;

/* Set only by tests and benchmarks (ms_sgemm_force_isa), before any multiply runs. */
static int forced_isa;

int ms_sgemm_force_isa(int which)
{
    if (which < 0 || which > ISA_WASM) return 0;
#ifdef MS_GEMM_X86
    if (which == ISA_AVX512 && !__builtin_cpu_supports("avx512f")) return 0;
    if (which == ISA_AVX2 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return 0;
#else
    if (which == ISA_AVX2 || which == ISA_AVX512) return 0;
#endif
#ifndef MS_GEMM_WASM
    if (which == ISA_WASM) return 0;
#endif
    forced_isa = which;
    return 1;
}

static isa pick_isa(void)
{
    if (forced_isa) return (isa)forced_isa;
#ifdef MS_GEMM_X86
    /* reads the CPU model libgcc filled in at startup: cheap enough per call */
    if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
#ifdef MS_GEMM_WASM
    return ISA_WASM; /* SIMD128 is a build option: a module built with it needs it to load */
#endif
    return ISA_C;
}

/* ---- packing ----------------------------------------------------------------------------- */

/* Pack mc (<= MR) rows x kc of op(A) into one MR-row panel, kc groups of MR values, zero-padded
 * past mc. Used for a transposed A, and for the last partial strip of a plain one. */
static void pack_a(bool trans, int64_t mc, int64_t kc, const float *A, int64_t lda, float *dst)
{
    for (int64_t p = 0; p < kc; p++)
        for (int64_t i = 0; i < MR; i++)
            dst[p * MR + i] = i >= mc ? 0.0f : trans ? A[p * lda + i] : A[i * lda + p];
}

/* Pack the kc x nc block of op(B) at B into NR-column panels, each kc x NR, zero-padded. */
static void pack_b(bool trans, int64_t kc, int64_t nc, const float *B, int64_t ldb, float *dst)
{
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        int64_t nr = min64(NR, nc - j0);
        if (!trans) {
            const float *b = B + j0;
            for (int64_t p = 0; p < kc; p++) {
                memcpy(dst + p * NR, b + p * ldb, sizeof(float) * (size_t)nr);
                for (int64_t j = nr; j < NR; j++) dst[p * NR + j] = 0.0f;
            }
        } else {
            /* op(B)(p, j) = B[j * ldb + p]: read each stored row once, scatter by NR */
            const float *b = B + j0 * ldb;
            for (int64_t j = 0; j < NR; j++) {
                if (j < nr)
                    for (int64_t p = 0; p < kc; p++) dst[p * NR + j] = b[j * ldb + p];
                else
                    for (int64_t p = 0; p < kc; p++) dst[p * NR + j] = 0.0f;
            }
        }
        dst += NR * kc;
    }
}

/* ---- microkernels ------------------------------------------------------------------------ */

/* The store stage's extras for one tile: + cs * cb[j] (a per-column bias, NULL for none) and
 * then max(0, v) when relu (NaN stays NaN, as in the Relu kernel). */
typedef struct uepi {
    const float *cb;
    float cs;
    int relu;
} uepi;

/* alpha * acc + beta * c (c not read when beta is 0), then the epilogue, for column j */
static inline float store_val(float acc, float alpha, float beta, float c, uepi e, int64_t j)
{
    float v = beta == 0.0f ? alpha * acc : alpha * acc + beta * c;
    if (e.cb) v += e.cs * e.cb[j];
    return e.relu && v < 0.0f ? 0.0f : v;
}

/* C[mr x nr] = alpha * A[MR x kc] * Bpanel[kc x NR] + beta * C (+ epilogue), C not read when
 * beta is 0. Element (i, p) of A is at a[i * rs + p * ks]: rs = 1, ks = MR for a packed panel;
 * rs = lda, ks = 1 for a row-major A read in place. */
typedef void (*ukernel_fn)(int64_t kc, const float *a, int64_t rs, int64_t ks, const float *b,
                           float *c, int64_t ldc, float alpha, float beta, int mr, int nr,
                           uepi e);

static void ukernel_c(int64_t kc, const float *a, int64_t rs, int64_t ks, const float *b,
                      float *c, int64_t ldc, float alpha, float beta, int mr, int nr, uepi e)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < kc; p++, a += ks, b += NR)
        for (int i = 0; i < MR; i++) {
            float ai = a[i * rs];
            for (int j = 0; j < NR; j++) acc[i][j] += ai * b[j];
        }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[i * ldc + j] = store_val(acc[i][j], alpha, beta, c[i * ldc + j], e, j);
}

#ifdef MS_GEMM_X86
/* One 6 x 16 half of the tile: columns [h, h + 16) of the panel, nr of them valid. */
MS_AVX2 static void ukernel_avx2_half(int64_t kc, const float *a, int64_t rs, int64_t ks,
                                      const float *b, float *c, int64_t ldc, float alpha,
                                      float beta, int mr, int nr, uepi e)
{
    const float *a0 = a, *a1 = a0 + rs, *a2 = a1 + rs, *a3 = a2 + rs, *a4 = a3 + rs;
    const float *a5 = a4 + rs;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0, o = 0; p < kc; p++, o += ks, b += NR) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), ai;
        ai = _mm256_broadcast_ss(a0 + o);
        c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a1 + o);
        c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a2 + o);
        c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a3 + o);
        c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a4 + o);
        c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a5 + o);
        c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta), zero = _mm256_setzero_ps();
    if (nr == 16) {
        __m256 bias[2] = {zero, zero};
        if (e.cb)
            for (int h = 0; h < 2; h++)
                bias[h] = _mm256_mul_ps(_mm256_set1_ps(e.cs), _mm256_loadu_ps(e.cb + 8 * h));
        for (int i = 0; i < mr; i++) {
            float *ci = c + i * ldc;
            for (int h = 0; h < 2; h++) {
                __m256 v = _mm256_mul_ps(va, acc[i][h]);
                if (beta != 0.0f) v = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8 * h), v);
                if (e.cb) v = _mm256_add_ps(v, bias[h]);
                if (e.relu) v = _mm256_max_ps(zero, v);
                _mm256_storeu_ps(ci + 8 * h, v);
            }
        }
        return;
    }
    /* partial width: spill and copy the valid columns */
    float t[16];
    for (int i = 0; i < mr; i++) {
        _mm256_storeu_ps(t, acc[i][0]);
        _mm256_storeu_ps(t + 8, acc[i][1]);
        for (int j = 0; j < nr; j++)
            c[i * ldc + j] = store_val(t[j], alpha, beta, c[i * ldc + j], e, j);
    }
}

MS_AVX2 static void ukernel_avx2(int64_t kc, const float *a, int64_t rs, int64_t ks,
                                 const float *b, float *c, int64_t ldc, float alpha, float beta,
                                 int mr, int nr, uepi e)
{
    ukernel_avx2_half(kc, a, rs, ks, b, c, ldc, alpha, beta, mr, nr < 16 ? nr : 16, e);
    if (e.cb) e.cb += 16;
    if (nr > 16)
        ukernel_avx2_half(kc, a, rs, ks, b + 16, c + 16, ldc, alpha, beta, mr, nr - 16, e);
}

/* Lanes [0, n) of 16 (n clamped to [0, 16]). */
static inline __mmask16 mask16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

MS_AVX512 static void ukernel_avx512(int64_t kc, const float *a, int64_t rs, int64_t ks,
                                     const float *b, float *c, int64_t ldc, float alpha,
                                     float beta, int mr, int nr, uepi e)
{
    const float *a0 = a, *a1 = a0 + rs, *a2 = a1 + rs, *a3 = a2 + rs, *a4 = a3 + rs;
    const float *a5 = a4 + rs;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    if (nr <= 16) {
        /* a narrow last panel (N = 10, say): skip the all-zero right half */
        for (int64_t p = 0, o = 0; p < kc; p++, o += ks, b += NR) {
            __m512 b0 = _mm512_loadu_ps(b);
            c00 = _mm512_fmadd_ps(_mm512_set1_ps(a0[o]), b0, c00);
            c10 = _mm512_fmadd_ps(_mm512_set1_ps(a1[o]), b0, c10);
            c20 = _mm512_fmadd_ps(_mm512_set1_ps(a2[o]), b0, c20);
            c30 = _mm512_fmadd_ps(_mm512_set1_ps(a3[o]), b0, c30);
            c40 = _mm512_fmadd_ps(_mm512_set1_ps(a4[o]), b0, c40);
            c50 = _mm512_fmadd_ps(_mm512_set1_ps(a5[o]), b0, c50);
        }
        kc = 0; /* the full loop below then does nothing */
    }
    for (int64_t p = 0, o = 0; p < kc; p++, o += ks, b += NR) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), ai;
        ai = _mm512_set1_ps(a0[o]);
        c00 = _mm512_fmadd_ps(ai, b0, c00); c01 = _mm512_fmadd_ps(ai, b1, c01);
        ai = _mm512_set1_ps(a1[o]);
        c10 = _mm512_fmadd_ps(ai, b0, c10); c11 = _mm512_fmadd_ps(ai, b1, c11);
        ai = _mm512_set1_ps(a2[o]);
        c20 = _mm512_fmadd_ps(ai, b0, c20); c21 = _mm512_fmadd_ps(ai, b1, c21);
        ai = _mm512_set1_ps(a3[o]);
        c30 = _mm512_fmadd_ps(ai, b0, c30); c31 = _mm512_fmadd_ps(ai, b1, c31);
        ai = _mm512_set1_ps(a4[o]);
        c40 = _mm512_fmadd_ps(ai, b0, c40); c41 = _mm512_fmadd_ps(ai, b1, c41);
        ai = _mm512_set1_ps(a5[o]);
        c50 = _mm512_fmadd_ps(ai, b0, c50); c51 = _mm512_fmadd_ps(ai, b1, c51);
    }
    __m512 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta), zero = _mm512_setzero_ps();
    __mmask16 m[2] = {mask16(nr), mask16(nr - 16)};
    __m512 bias[2] = {zero, zero};
    if (e.cb)
        for (int h = 0; h < 2; h++)
            bias[h] = _mm512_mul_ps(_mm512_set1_ps(e.cs),
                                    _mm512_maskz_loadu_ps(m[h], e.cb + 16 * h));
    /* masked lanes are neither loaded nor stored, so edge tiles need no spill */
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        for (int h = 0; h < 2; h++) {
            __m512 v = _mm512_mul_ps(va, acc[i][h]);
            if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m[h], ci + 16 * h), v);
            if (e.cb) v = _mm512_add_ps(v, bias[h]);
            if (e.relu) v = _mm512_max_ps(zero, v);
            _mm512_mask_storeu_ps(ci + 16 * h, m[h], v);
        }
    }
}
#endif


#ifdef MS_GEMM_WASM
/* acc = rows [0, 3) of A (element (i, p) at a[i * rs + p * ks]) times columns [0, 8) of the
 * panel at b (row stride NR): 6 accumulators, 2 B vectors and a broadcast. The sums run in the
 * same order as ukernel_c's (wasm has no fused multiply-add), so the results are the same. */
static void wblock_3x8(int64_t kc, const float *a, int64_t rs, int64_t ks, const float *b,
                       v128_t acc[3][2])
{
    const float *a0 = a, *a1 = a0 + rs, *a2 = a1 + rs;
    v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    for (int64_t p = 0, o = 0; p < kc; p++, o += ks, b += NR) {
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), ai;
        ai = wasm_v128_load32_splat(a0 + o);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(ai, b0));
        c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(ai, b1));
        ai = wasm_v128_load32_splat(a1 + o);
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(ai, b0));
        c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(ai, b1));
        ai = wasm_v128_load32_splat(a2 + o);
        c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(ai, b0));
        c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(ai, b1));
    }
    acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
    acc[2][0] = c20, acc[2][1] = c21;
}

/* Store rows [0, mr) (<= 3) x columns [0, nr) (<= 8) of a block as store_val does; column j of
 * the block is column col + j of the tile (for the bias). */
static void wstore_3x8(v128_t acc[3][2], float *c, int64_t ldc, float alpha, float beta, int mr,
                       int nr, uepi e, int col)
{
    v128_t va = wasm_f32x4_splat(alpha), vb = wasm_f32x4_splat(beta);
    v128_t zero = wasm_f32x4_splat(0.0f), cs = wasm_f32x4_splat(e.cs);
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        if (nr < 8) { /* a partial last block: lane by lane */
            float t[8];
            wasm_v128_store(t, acc[i][0]);
            wasm_v128_store(t + 4, acc[i][1]);
            for (int j = 0; j < nr; j++)
                ci[j] = store_val(t[j], alpha, beta, ci[j], e, col + j);
            continue;
        }
        for (int h = 0; h < 2; h++) {
            v128_t v = wasm_f32x4_mul(va, acc[i][h]);
            if (beta != 0.0f)
                v = wasm_f32x4_add(v, wasm_f32x4_mul(vb, wasm_v128_load(ci + 4 * h)));
            if (e.cb) v = wasm_f32x4_add(v, wasm_f32x4_mul(cs, wasm_v128_load(e.cb + col + 4 * h)));
            /* pmax(v, 0) is v < 0 ? 0 : v, so a NaN stays NaN as in store_val */
            if (e.relu) v = wasm_f32x4_pmax(v, zero);
            wasm_v128_store(ci + 4 * h, v);
        }
    }
}

/* The MR x NR = 6 x 32 tile as 3 x 8 blocks. Rows past mr are never read from an A read in
 * place (full strips only) and are zeros in a packed one, so a block of 3 rows is always safe. */
static void ukernel_wasm(int64_t kc, const float *a, int64_t rs, int64_t ks, const float *b,
                         float *c, int64_t ldc, float alpha, float beta, int mr, int nr, uepi e)
{
    for (int r = 0; r < mr; r += 3)
        for (int col = 0; col < nr; col += 8) {
            v128_t acc[3][2];
            wblock_3x8(kc, a + r * rs, rs, ks, b + col, acc);
            wstore_3x8(acc, c + r * ldc + col, ldc, alpha, beta, mr - r < 3 ? mr - r : 3,
                       nr - col < 8 ? nr - col : 8, e, col);
        }
}
#endif

static ukernel_fn ukernel_for(isa k)
{
#ifdef MS_GEMM_X86
    if (k == ISA_AVX512) return ukernel_avx512;
    if (k == ISA_AVX2) return ukernel_avx2;
#endif
#ifdef MS_GEMM_WASM
    if (k == ISA_WASM) return ukernel_wasm;
#endif
    (void)k;
    return ukernel_c;
}

/* ---- blocked driver ---------------------------------------------------------------------- */

/* C[0:M, 0:N] = alpha * op(A) * op(B) + beta * C (+ epilogue), K > 0. B is either the caller's
 * matrix (packed here block by block into bwork) or, when bpacked is set, a full
 * ms_sgemm_pack_b copy. The bias joins on the first K block, the Relu on the last. */
static void gemm_blocked(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, const float *B, int64_t ldb,
                         const float *bpacked, float beta, float *C, int64_t ldc, float *awork,
                         float *bwork, const ms_sgemm_epilogue *ep)
{
    ukernel_fn uk = ukernel_for(pick_isa());
    int64_t npad = round_up(N, NR);
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = min64(NC, N - jc);
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc);
            /* later K blocks add onto what the first one wrote */
            float bbeta = pc == 0 ? beta : 1.0f;
            const float *bp;
            if (bpacked) {
                bp = bpacked + pc * npad + jc * kc;
            } else {
                pack_b(tb, kc, nc, tb ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, bwork);
                bp = bwork;
            }
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = min64(MC, M - ic);
                /* a plain A is read in place except a last partial strip, packed with zero
                 * padding so the kernel never reads past row M; a transposed A is packed */
                int64_t mfull = ta ? 0 : mc / MR * MR;
                const float *ablk = ta ? A + pc * lda + ic : A + ic * lda + pc;
                for (int64_t ir = mfull; ir < mc; ir += MR)
                    pack_a(ta, min64(MR, mc - ir), kc, ta ? ablk + ir : ablk + ir * lda, lda,
                           awork + (ir - mfull) * kc);
                /* jr outer: one B panel stays in L1 while the A strips stream past it */
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int nr = (int)min64(NR, nc - jr);
                    const float *bpanel = bp + jr * kc;
                    float *cblk = C + ic * ldc + jc + jr;
                    uepi e = {pc == 0 && ep && ep->col_bias ? ep->col_bias + jc + jr : NULL,
                              ep ? ep->col_scale : 0.0f, ep && ep->relu && pc + kc >= K};
                    for (int64_t ir = 0; ir < mfull; ir += MR)
                        uk(kc, ablk + ir * lda, lda, 1, bpanel, cblk + ir * ldc, ldc, alpha, bbeta,
                           MR, nr, e);
                    for (int64_t ir = mfull; ir < mc; ir += MR)
                        uk(kc, awork + (ir - mfull) * kc, 1, MR, bpanel, cblk + ir * ldc, ldc,
                           alpha, bbeta, (int)min64(MR, mc - ir), nr, e);
                }
            }
        }
    }
}

/* The epilogue as a pass over C, for the paths whose kernels do not apply it (GEMV, K == 0). */
static void epilogue_pass(int64_t M, int64_t N, float *C, int64_t ldc, const ms_sgemm_epilogue *ep)
{
    if (!ep) return;
    uepi e = {ep->col_bias, ep->col_scale, ep->relu};
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            C[i * ldc + j] = store_val(C[i * ldc + j], 1.0f, 0.0f, 0.0f, e, j);
}

/* C = beta * C for K == 0 (an empty sum), without reading C when beta is 0. */
static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = axpby(0.0f, 0.0f, beta, C[i * ldc + j]);
}

/* ---- batch-1 products (GEMV): portable ----------------------------------------------------- */

/* y[N] = alpha * x[K] * B[K,N] + beta * y: rows of B streamed once */
static void gemv_n_c(int64_t N, int64_t K, float alpha, const float *x, const float *B,
                     int64_t ldb, float beta, float *y)
{
    enum { W = 64 };
    for (int64_t j0 = 0; j0 < N; j0 += W) {
        int64_t w = min64(W, N - j0);
        float acc[W] = {0};
        for (int64_t k = 0; k < K; k++) {
            const float *b = B + k * ldb + j0;
            float xk = x[k];
            for (int64_t j = 0; j < w; j++) acc[j] += xk * b[j];
        }
        for (int64_t j = 0; j < w; j++) y[j0 + j] = axpby(alpha, acc[j], beta, y[j0 + j]);
    }
}

/* y[N] = alpha * x[K] * B[N,K]^T + beta * y: one dot product per row of B */
static void gemv_t_c(int64_t N, int64_t K, float alpha, const float *x, const float *B,
                     int64_t ldb, float beta, float *y)
{
    for (int64_t j = 0; j < N; j++) {
        const float *b = B + j * ldb;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t k = 0;
        for (; k + 4 <= K; k += 4) {
            s0 += x[k] * b[k];
            s1 += x[k + 1] * b[k + 1];
            s2 += x[k + 2] * b[k + 2];
            s3 += x[k + 3] * b[k + 3];
        }
        for (; k < K; k++) s0 += x[k] * b[k];
        y[j] = axpby(alpha, (s0 + s1) + (s2 + s3), beta, y[j]);
    }
}

/* y[N] = alpha * x[K] * packed + beta * y, packed from ms_sgemm_pack_b */
static void gemv_packed_c(int64_t N, int64_t K, float alpha, const float *x, const float *bp,
                          float beta, float *y)
{
    int64_t npad = round_up(N, NR);
    for (int64_t j0 = 0; j0 < N; j0 += NR) {
        float acc[NR] = {0};
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc);
            const float *b = bp + pc * npad + j0 * kc;
            for (int64_t p = 0; p < kc; p++, b += NR)
                for (int j = 0; j < NR; j++) acc[j] += x[pc + p] * b[j];
        }
        int64_t w = min64(NR, N - j0);
        for (int64_t j = 0; j < w; j++) y[j0 + j] = axpby(alpha, acc[j], beta, y[j0 + j]);
    }
}

#ifdef MS_GEMM_X86
/* ---- batch-1 products: AVX2 --------------------------------------------------------------- */

/* Write the first n (<= 8) lanes of acc to y. */
MS_AVX2 static void store8(__m256 acc, float alpha, float beta, float *y, int64_t n)
{
    float t[8];
    _mm256_storeu_ps(t, acc);
    for (int64_t j = 0; j < n && j < 8; j++) y[j] = axpby(alpha, t[j], beta, y[j]);
}

/* Lanes [0, n) of 8 set, for masked loads. */
MS_AVX2 static __m256i mask8(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

MS_AVX2 static float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

MS_AVX2 static void gemv_n_avx2(int64_t N, int64_t K, float alpha, const float *x,
                                const float *B, int64_t ldb, float beta, float *y)
{
    int64_t j0 = 0;
    /* 64 columns at a time: 8 independent accumulators cover the FMA latency */
    for (; j0 + 64 <= N; j0 += 64) {
        __m256 acc[8];
        MS_UNROLL
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
        const float *b = B + j0;
        for (int64_t k = 0; k < K; k++, b += ldb) {
            __m256 xk = _mm256_broadcast_ss(x + k);
            MS_UNROLL
            for (int i = 0; i < 8; i++)
                acc[i] = _mm256_fmadd_ps(xk, _mm256_loadu_ps(b + 8 * i), acc[i]);
        }
        MS_UNROLL
        for (int i = 0; i < 8; i++) store8(acc[i], alpha, beta, y + j0 + 8 * i, 8);
    }
    /* then 8 columns (masked at the end) at a time, K split four ways for latency */
    for (; j0 < N; j0 += 8) {
        __m256i m = mask8(N - j0);
        __m256 s[4];
        MS_UNROLL
        for (int i = 0; i < 4; i++) s[i] = _mm256_setzero_ps();
        const float *b = B + j0;
        int64_t k = 0;
        for (; k + 4 <= K; k += 4)
            MS_UNROLL
            for (int i = 0; i < 4; i++)
                s[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + k + i),
                                       _mm256_maskload_ps(b + (k + i) * ldb, m), s[i]);
        for (; k < K; k++)
            s[0] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + k), _mm256_maskload_ps(b + k * ldb, m),
                                   s[0]);
        store8(_mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])), alpha, beta,
               y + j0, N - j0);
    }
}

MS_AVX2 static void gemv_t_avx2(int64_t N, int64_t K, float alpha, const float *x,
                                const float *B, int64_t ldb, float beta, float *y)
{
    int64_t kv = K & ~(int64_t)7;
    __m256i m = mask8(K - kv);
    int64_t j = 0;
    /* four rows of B at a time share each load of x */
    for (; j < N; j += 4) {
        int rows = (int)min64(4, N - j);
        __m256 s[4];
        MS_UNROLL
        for (int r = 0; r < 4; r++) s[r] = _mm256_setzero_ps();
        const float *b = B + j * ldb;
        if (rows == 4) {
            for (int64_t k = 0; k < kv; k += 8) {
                __m256 xv = _mm256_loadu_ps(x + k);
                MS_UNROLL
                for (int r = 0; r < 4; r++)
                    s[r] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b + r * ldb + k), s[r]);
            }
        } else {
            for (int64_t k = 0; k < kv; k += 8) {
                __m256 xv = _mm256_loadu_ps(x + k);
                MS_UNROLL
                for (int r = 0; r < rows; r++)
                    s[r] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b + r * ldb + k), s[r]);
            }
        }
        if (kv < K) {
            __m256 xv = _mm256_maskload_ps(x + kv, m);
            MS_UNROLL
            for (int r = 0; r < rows; r++)
                s[r] = _mm256_fmadd_ps(xv, _mm256_maskload_ps(b + r * ldb + kv, m), s[r]);
        }
        MS_UNROLL
        for (int r = 0; r < rows; r++) y[j + r] = axpby(alpha, hsum8(s[r]), beta, y[j + r]);
    }
}

MS_AVX2 static void gemv_packed_avx2(int64_t N, int64_t K, float alpha, const float *x,
                                     const float *bp, float beta, float *y)
{
    int64_t npad = round_up(N, NR), j0 = 0;
    /* two panels (64 columns) at a time: 8 accumulators, 2 sequential streams */
    for (; j0 + 2 * NR <= npad; j0 += 2 * NR) {
        __m256 acc[8];
        MS_UNROLL
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc);
            const float *p0 = bp + pc * npad + j0 * kc, *p1 = p0 + NR * kc;
            for (int64_t p = 0; p < kc; p++) {
                __m256 xv = _mm256_broadcast_ss(x + pc + p);
                MS_UNROLL
                for (int i = 0; i < 4; i++) {
                    acc[i] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(p0 + p * NR + 8 * i), acc[i]);
                    acc[4 + i] =
                        _mm256_fmadd_ps(xv, _mm256_loadu_ps(p1 + p * NR + 8 * i), acc[4 + i]);
                }
            }
        }
        for (int i = 0; i < 8 && j0 + 8 * i < N; i++)
            store8(acc[i], alpha, beta, y + j0 + 8 * i, N - j0 - 8 * i);
    }
    /* a last lone panel: K split two ways so the FMA latency stays covered */
    if (j0 < npad) {
        __m256 acc[8];
        MS_UNROLL
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc), p = 0;
            const float *p0 = bp + pc * npad + j0 * kc;
            for (; p + 2 <= kc; p += 2) {
                __m256 x0 = _mm256_broadcast_ss(x + pc + p), x1 = _mm256_broadcast_ss(x + pc + p + 1);
                MS_UNROLL
                for (int i = 0; i < 4; i++) {
                    acc[i] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(p0 + p * NR + 8 * i), acc[i]);
                    acc[4 + i] =
                        _mm256_fmadd_ps(x1, _mm256_loadu_ps(p0 + p * NR + NR + 8 * i), acc[4 + i]);
                }
            }
            if (p < kc) {
                __m256 x0 = _mm256_broadcast_ss(x + pc + p);
                MS_UNROLL
                for (int i = 0; i < 4; i++)
                    acc[i] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(p0 + p * NR + 8 * i), acc[i]);
            }
        }
        for (int i = 0; i < 4 && j0 + 8 * i < N; i++)
            store8(_mm256_add_ps(acc[i], acc[4 + i]), alpha, beta, y + j0 + 8 * i, N - j0 - 8 * i);
    }
}

/* ---- batch-1 products: AVX-512 ------------------------------------------------------------ */

MS_AVX512 static void store16(__m512 acc, float alpha, float beta, float *y, __mmask16 m)
{
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
    if (beta != 0.0f)
        v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, y), v);
    _mm512_mask_storeu_ps(y, m, v);
}

MS_AVX512 static void gemv_n_avx512(int64_t N, int64_t K, float alpha, const float *x,
                                    const float *B, int64_t ldb, float beta, float *y)
{
    int64_t j0 = 0;
    /* 128 columns at a time: 8 independent accumulators */
    for (; j0 + 128 <= N; j0 += 128) {
        __m512 acc[8];
        MS_UNROLL
        for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_ps();
        const float *b = B + j0;
        for (int64_t k = 0; k < K; k++, b += ldb) {
            __m512 xk = _mm512_set1_ps(x[k]);
            MS_UNROLL
            for (int i = 0; i < 8; i++)
                acc[i] = _mm512_fmadd_ps(xk, _mm512_loadu_ps(b + 16 * i), acc[i]);
        }
        MS_UNROLL
        for (int i = 0; i < 8; i++) store16(acc[i], alpha, beta, y + j0 + 16 * i, 0xFFFF);
    }
    /* then 32 columns (masked at the end) at a time, K split two ways */
    for (; j0 < N; j0 += 32) {
        __mmask16 m0 = mask16(N - j0), m1 = mask16(N - j0 - 16);
        __m512 s[4];
        MS_UNROLL
        for (int i = 0; i < 4; i++) s[i] = _mm512_setzero_ps();
        const float *b = B + j0;
        int64_t k = 0;
        for (; k + 2 <= K; k += 2) {
            __m512 x0 = _mm512_set1_ps(x[k]), x1 = _mm512_set1_ps(x[k + 1]);
            const float *r0 = b + k * ldb, *r1 = r0 + ldb;
            s[0] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m0, r0), s[0]);
            s[1] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m1, r0 + 16), s[1]);
            s[2] = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m0, r1), s[2]);
            s[3] = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m1, r1 + 16), s[3]);
        }
        if (k < K) {
            __m512 x0 = _mm512_set1_ps(x[k]);
            const float *r0 = b + k * ldb;
            s[0] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m0, r0), s[0]);
            s[1] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m1, r0 + 16), s[1]);
        }
        store16(_mm512_add_ps(s[0], s[2]), alpha, beta, y + j0, m0);
        if (m1) store16(_mm512_add_ps(s[1], s[3]), alpha, beta, y + j0 + 16, m1);
    }
}

MS_AVX512 static void gemv_t_avx512(int64_t N, int64_t K, float alpha, const float *x,
                                    const float *B, int64_t ldb, float beta, float *y)
{
    int64_t kv = K & ~(int64_t)15;
    __mmask16 m = mask16(K - kv);
    /* four rows of B at a time share each load of x */
    for (int64_t j = 0; j < N; j += 4) {
        int rows = (int)min64(4, N - j);
        __m512 s[4];
        MS_UNROLL
        for (int r = 0; r < 4; r++) s[r] = _mm512_setzero_ps();
        const float *b = B + j * ldb;
        if (rows == 4) {
            for (int64_t k = 0; k < kv; k += 16) {
                __m512 xv = _mm512_loadu_ps(x + k);
                MS_UNROLL
                for (int r = 0; r < 4; r++)
                    s[r] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b + r * ldb + k), s[r]);
            }
        } else {
            for (int64_t k = 0; k < kv; k += 16) {
                __m512 xv = _mm512_loadu_ps(x + k);
                MS_UNROLL
                for (int r = 0; r < rows; r++)
                    s[r] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b + r * ldb + k), s[r]);
            }
        }
        if (m) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + kv);
            MS_UNROLL
            for (int r = 0; r < rows; r++)
                s[r] = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, b + r * ldb + kv), s[r]);
        }
        MS_UNROLL
        for (int r = 0; r < rows; r++)
            y[j + r] = axpby(alpha, _mm512_reduce_add_ps(s[r]), beta, y[j + r]);
    }
}

MS_AVX512 static void gemv_packed_avx512(int64_t N, int64_t K, float alpha, const float *x,
                                         const float *bp, float beta, float *y)
{
    int64_t npad = round_up(N, NR), j0 = 0;
    /* four panels (128 columns) at a time: 8 accumulators, 4 sequential streams */
    for (; j0 + 4 * NR <= npad; j0 += 4 * NR) {
        __m512 acc[8];
        MS_UNROLL
        for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_ps();
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc);
            const float *p0 = bp + pc * npad + j0 * kc;
            for (int64_t p = 0; p < kc; p++) {
                __m512 xv = _mm512_set1_ps(x[pc + p]);
                MS_UNROLL
                for (int i = 0; i < 8; i++)
                    acc[i] = _mm512_fmadd_ps(
                        xv, _mm512_loadu_ps(p0 + (i >> 1) * NR * kc + p * NR + 16 * (i & 1)),
                        acc[i]);
            }
        }
        for (int i = 0; i < 8 && j0 + 16 * i < N; i++)
            store16(acc[i], alpha, beta, y + j0 + 16 * i, mask16(N - j0 - 16 * i));
    }
    /* the last panels one at a time, K split four ways so the FMA latency stays covered */
    for (; j0 < npad; j0 += NR) {
        __m512 s[8];
        MS_UNROLL
        for (int r = 0; r < 8; r++) s[r] = _mm512_setzero_ps();
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc), p = 0;
            const float *pi = bp + pc * npad + j0 * kc;
            for (; p + 4 <= kc; p += 4) {
                MS_UNROLL
                for (int r = 0; r < 4; r++) {
                    __m512 xr = _mm512_set1_ps(x[pc + p + r]);
                    const float *row = pi + (p + r) * NR;
                    s[2 * r] = _mm512_fmadd_ps(xr, _mm512_loadu_ps(row), s[2 * r]);
                    s[2 * r + 1] = _mm512_fmadd_ps(xr, _mm512_loadu_ps(row + 16), s[2 * r + 1]);
                }
            }
            for (; p < kc; p++) {
                __m512 xr = _mm512_set1_ps(x[pc + p]);
                s[0] = _mm512_fmadd_ps(xr, _mm512_loadu_ps(pi + p * NR), s[0]);
                s[1] = _mm512_fmadd_ps(xr, _mm512_loadu_ps(pi + p * NR + 16), s[1]);
            }
        }
        __m512 lo = _mm512_add_ps(_mm512_add_ps(s[0], s[2]), _mm512_add_ps(s[4], s[6]));
        __m512 hi = _mm512_add_ps(_mm512_add_ps(s[1], s[3]), _mm512_add_ps(s[5], s[7]));
        store16(lo, alpha, beta, y + j0, mask16(N - j0));
        if (N - j0 > 16) store16(hi, alpha, beta, y + j0 + 16, mask16(N - j0 - 16));
    }
}
#endif

/* ---- implicit GEMM tiles (convolution) --------------------------------------------------------
 *
 * A tile is IMR rows of C (one strip of packed A: for each k, IMR values) by INR grid positions.
 * Tap k of position q0 + j reads src[boff[k] + q0 + j]: each tap is one contiguous INR-wide load,
 * so B is never packed. The store stage maps lanes to C through segments (one per grid row the
 * tile touches) and applies the epilogue: + bias on the first K block, + C on later ones, then
 * max(0, v) on the last when relu (written so a NaN stays NaN, as the Relu kernel does). */
enum { IMR = 8, INR = MS_SGEMM_TILE };
_Static_assert(MC % IMR == 0, "an MC-row block of A is whole strips");

/* Lanes in `mask` go to C_row + off + lane. */
typedef struct tile_seg {
    uint32_t mask;
    int64_t off;
} tile_seg;

typedef struct tile_epi {
    const float *bias; /* the strip's first row's bias, or NULL */
    int first, relu;
} tile_epi;

typedef void (*itile_fn)(int64_t kc, const float *a, const float *src, const int64_t *boff,
                         float *c, int64_t ldc, int mr, const tile_seg *seg, int nseg,
                         tile_epi e);

/* The segments of the tile starting at position q0, whose first grid row is r (q0 / pitch);
 * returns their count (<= INR + 1). */
static int tile_segments(const ms_sgemm_grid *g, int64_t q0, int64_t r, tile_seg *seg)
{
    int n = 0;
    for (int64_t lo = r * g->pitch - q0; r < g->rows && lo < INR; r++, lo += g->pitch) {
        int64_t a = lo < 0 ? 0 : lo, b = lo + g->width > INR ? INR : lo + g->width;
        if (b <= a) continue;
        uint32_t bits = b - a == 32 ? 0xFFFFFFFFu : (1u << (b - a)) - 1;
        seg[n++] = (tile_seg){bits << a, q0 + r * (g->width - g->pitch)};
    }
    return n;
}

/* v + add (the bias, or what C holds), then the optional Relu */
static inline float epi_apply(float v, float add, int relu)
{
    v += add;
    return relu && v < 0.0f ? 0.0f : v;
}

static void itile_c(int64_t kc, const float *a, const float *src, const int64_t *boff, float *c,
                    int64_t ldc, int mr, const tile_seg *seg, int nseg, tile_epi e)
{
    float acc[IMR][INR];
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < kc; p++, a += IMR) {
        const float *b = src + boff[p];
        for (int i = 0; i < IMR; i++)
            for (int j = 0; j < INR; j++) acc[i][j] += a[i] * b[j];
    }
    for (int i = 0; i < mr; i++)
        for (int s = 0; s < nseg; s++)
            for (int j = 0; j < INR; j++) {
                if (!(seg[s].mask >> j & 1)) continue;
                float *cp = &c[i * ldc + seg[s].off + j];
                float add = e.first ? (e.bias ? e.bias[i] : 0.0f) : *cp;
                *cp = epi_apply(acc[i][j], add, e.relu);
            }
}

#ifdef MS_GEMM_X86
/* 8 lanes from the low 8 bits of `bits`, as a maskload/maskstore mask */
MS_AVX2 static __m256i bits8(uint32_t bits)
{
    __m256i pos = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), pos), pos);
}

/* Rows [0, rows) (<= 4) of the strip at `a` times lanes [col, col + 16) of the tile. */
MS_AVX2 static void itile_avx2_4x16(int64_t kc, const float *a, const float *src,
                                    const int64_t *boff, float *c, int64_t ldc, int rows,
                                    int col, const tile_seg *seg, int nseg, tile_epi e)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00;
    for (int64_t p = 0; p < kc; p++, a += IMR) {
        const float *b = src + boff[p] + col;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), ai;
        ai = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
    }
    __m256 acc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
    __m256 zero = _mm256_setzero_ps();
    MS_UNROLL
    for (int i = 0; i < 4; i++) {
        if (i >= rows) break;
        __m256 add = e.first && e.bias ? _mm256_set1_ps(e.bias[i]) : zero;
        for (int s = 0; s < nseg; s++) {
            uint32_t bits = seg[s].mask >> col & 0xFFFF;
            if (!bits) continue;
            float *cp = c + i * ldc + seg[s].off + col;
            MS_UNROLL
            for (int h = 0; h < 2; h++) {
                __m256i m = bits8(bits >> (8 * h));
                __m256 prev = e.first ? add : _mm256_maskload_ps(cp + 8 * h, m);
                __m256 v = _mm256_add_ps(acc[i][h], prev);
                if (e.relu) v = _mm256_max_ps(zero, v);
                _mm256_maskstore_ps(cp + 8 * h, m, v);
            }
        }
    }
}

/* AVX2 has 16 registers: the 8 x 32 tile goes as four 4 x 16 blocks. */
MS_AVX2 static void itile_avx2(int64_t kc, const float *a, const float *src, const int64_t *boff,
                               float *c, int64_t ldc, int mr, const tile_seg *seg, int nseg,
                               tile_epi e)
{
    uint32_t any = 0;
    for (int s = 0; s < nseg; s++) any |= seg[s].mask;
    for (int r = 0; r < mr; r += 4) {
        tile_epi er = {e.bias ? e.bias + r : NULL, e.first, e.relu};
        int rows = mr - r < 4 ? mr - r : 4;
        for (int col = 0; col < INR; col += 16)
            if (any >> col & 0xFFFF)
                itile_avx2_4x16(kc, a + r, src, boff, c + r * ldc, ldc, rows, col, seg, nseg, er);
    }
}

MS_AVX512 static void itile_avx512(int64_t kc, const float *a, const float *src,
                                   const int64_t *boff, float *c, int64_t ldc, int mr,
                                   const tile_seg *seg, int nseg, tile_epi e)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t p = 0; p < kc; p++, a += IMR) {
        const float *b = src + boff[p];
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), ai;
        ai = _mm512_set1_ps(a[0]);
        c00 = _mm512_fmadd_ps(ai, b0, c00); c01 = _mm512_fmadd_ps(ai, b1, c01);
        ai = _mm512_set1_ps(a[1]);
        c10 = _mm512_fmadd_ps(ai, b0, c10); c11 = _mm512_fmadd_ps(ai, b1, c11);
        ai = _mm512_set1_ps(a[2]);
        c20 = _mm512_fmadd_ps(ai, b0, c20); c21 = _mm512_fmadd_ps(ai, b1, c21);
        ai = _mm512_set1_ps(a[3]);
        c30 = _mm512_fmadd_ps(ai, b0, c30); c31 = _mm512_fmadd_ps(ai, b1, c31);
        ai = _mm512_set1_ps(a[4]);
        c40 = _mm512_fmadd_ps(ai, b0, c40); c41 = _mm512_fmadd_ps(ai, b1, c41);
        ai = _mm512_set1_ps(a[5]);
        c50 = _mm512_fmadd_ps(ai, b0, c50); c51 = _mm512_fmadd_ps(ai, b1, c51);
        ai = _mm512_set1_ps(a[6]);
        c60 = _mm512_fmadd_ps(ai, b0, c60); c61 = _mm512_fmadd_ps(ai, b1, c61);
        ai = _mm512_set1_ps(a[7]);
        c70 = _mm512_fmadd_ps(ai, b0, c70); c71 = _mm512_fmadd_ps(ai, b1, c71);
    }
    __m512 acc[IMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                          {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
    __m512 zero = _mm512_setzero_ps();
    MS_UNROLL
    for (int i = 0; i < IMR; i++) {
        if (i >= mr) break;
        __m512 add = e.first && e.bias ? _mm512_set1_ps(e.bias[i]) : zero;
        for (int s = 0; s < nseg; s++) {
            /* masked lanes are neither loaded nor stored */
            __mmask16 m[2] = {(__mmask16)seg[s].mask, (__mmask16)(seg[s].mask >> 16)};
            float *cp = c + i * ldc + seg[s].off;
            MS_UNROLL
            for (int h = 0; h < 2; h++) {
                __m512 v = _mm512_add_ps(
                    acc[i][h], e.first ? add : _mm512_maskz_loadu_ps(m[h], cp + 16 * h));
                if (e.relu) v = _mm512_max_ps(zero, v);
                _mm512_mask_storeu_ps(cp + 16 * h, m[h], v);
            }
        }
    }
}
#endif


#ifdef MS_GEMM_WASM
/* acc = rows [0, 4) of the packed strip at a (IMR values per k) times lanes [0, 8) of each
 * tap's window (src + boff[p]): 8 accumulators. Same order of sums as itile_c. */
static void iblock_4x8(int64_t kc, const float *a, const float *src, const int64_t *boff,
                       v128_t acc[4][2])
{
    v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    v128_t c30 = c00, c31 = c00;
    for (int64_t p = 0; p < kc; p++, a += IMR) {
        const float *b = src + boff[p];
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), ai;
        ai = wasm_v128_load32_splat(a);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(ai, b0));
        c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(ai, b1));
        ai = wasm_v128_load32_splat(a + 1);
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(ai, b0));
        c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(ai, b1));
        ai = wasm_v128_load32_splat(a + 2);
        c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(ai, b0));
        c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(ai, b1));
        ai = wasm_v128_load32_splat(a + 3);
        c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(ai, b0));
        c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(ai, b1));
    }
    acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
    acc[2][0] = c20, acc[2][1] = c21, acc[3][0] = c30, acc[3][1] = c31;
}

/* Store rows [0, rows) of a block whose lanes are tile lanes [col, col + 8) through the
 * segments, as itile_c does: 4 lanes at once where all 4 are wanted, else lane by lane. */
static void istore_4x8(v128_t acc[4][2], float *c, int64_t ldc, int rows, int col,
                       const tile_seg *seg, int nseg, tile_epi e)
{
    v128_t zero = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < rows; i++) {
        float add = e.first && e.bias ? e.bias[i] : 0.0f;
        for (int s = 0; s < nseg; s++)
            for (int h = 0; h < 2; h++) {
                uint32_t bits = seg[s].mask >> (col + 4 * h) & 0xF;
                float *cp = c + i * ldc + seg[s].off + col + 4 * h;
                if (bits == 0xF) {
                    v128_t prev = e.first ? wasm_f32x4_splat(add) : wasm_v128_load(cp);
                    v128_t v = wasm_f32x4_add(acc[i][h], prev);
                    if (e.relu) v = wasm_f32x4_pmax(v, zero);
                    wasm_v128_store(cp, v);
                } else if (bits) {
                    float t[4];
                    wasm_v128_store(t, acc[i][h]);
                    for (int j = 0; j < 4; j++)
                        if (bits >> j & 1) cp[j] = epi_apply(t[j], e.first ? add : cp[j], e.relu);
                }
            }
    }
}

/* The IMR x INR = 8 x 32 tile as 4 x 8 blocks, skipping the blocks no segment stores. */
static void itile_wasm(int64_t kc, const float *a, const float *src, const int64_t *boff,
                       float *c, int64_t ldc, int mr, const tile_seg *seg, int nseg, tile_epi e)
{
    uint32_t any = 0;
    for (int s = 0; s < nseg; s++) any |= seg[s].mask;
    for (int r = 0; r < mr; r += 4) {
        tile_epi er = {e.bias ? e.bias + r : NULL, e.first, e.relu};
        for (int col = 0; col < INR; col += 8) {
            if (!(any >> col & 0xFF)) continue;
            v128_t acc[4][2];
            iblock_4x8(kc, a + r, src + col, boff, acc);
            istore_4x8(acc, c + r * ldc, ldc, mr - r < 4 ? mr - r : 4, col, seg, nseg, er);
        }
    }
}
#endif

static itile_fn itile_for(isa k)
{
#ifdef MS_GEMM_X86
    if (k == ISA_AVX512) return itile_avx512;
    if (k == ISA_AVX2) return itile_avx2;
#endif
#ifdef MS_GEMM_WASM
    if (k == ISA_WASM) return itile_wasm;
#endif
    (void)k;
    return itile_c;
}

/* One strip of A (mr <= IMR rows of K) as K groups of IMR values, zero past mr. */
static void pack_a_strip(int64_t mr, int64_t K, const float *A, int64_t lda, float *dst)
{
    for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < IMR; i++) dst[k * IMR + i] = i < mr ? A[i * lda + k] : 0.0f;
}

size_t ms_sgemm_pack_a_size(int64_t M, int64_t K)
{
    return sizeof(float) * (size_t)(round_up(M < 1 ? 1 : M, IMR) * (K < 1 ? 1 : K));
}

void ms_sgemm_pack_a(int64_t M, int64_t K, const float *A, int64_t lda, float *packed)
{
    for (int64_t i = 0; i < M; i += IMR)
        pack_a_strip(min64(IMR, M - i), K, A + i * lda, lda, packed + i * K);
}

size_t ms_sgemm_implicit_workspace(int64_t K)
{
    return sizeof(float) * (size_t)(IMR * (K < 1 ? 1 : K)) + 64;
}

/* One tile (its segments given) against strip s of A (`a`: the strip, K x IMR), K block pc. */
static void implicit_tile(itile_fn tk, int64_t M, int64_t K, int64_t pc, const float *a,
                          int64_t s, const float *src, const int64_t *boff, float *C, int64_t ldc,
                          const float *bias, bool relu, int64_t q0, const tile_seg *seg, int nseg)
{
    int64_t kc = min64(KC, K - pc);
    tile_epi e = {bias ? bias + s : NULL, pc == 0, relu && pc + kc >= K};
    tk(kc, a + pc * IMR, src + q0, boff + pc, C + s * ldc, ldc, (int)min64(IMR, M - s), seg, nseg,
       e);
}

void ms_sgemm_implicit(int64_t M, int64_t K, const float *A, int64_t lda, const float *apacked,
                       const float *src, const int64_t *boff, const ms_sgemm_grid *grid,
                       float *C, int64_t ldc, const float *bias, bool relu, void *work)
{
    if (M <= 0 || grid->rows <= 0 || grid->width <= 0) return;
    itile_fn tk = itile_for(pick_isa());
    int64_t qend = (grid->rows - 1) * grid->pitch + grid->width; /* one past the last position */
    int64_t kend = K <= 0 ? 1 : K; /* K == 0: one empty block, which stores the bias */
    tile_seg seg[INR + 1];
    if (apacked) {
        /* per tile, the strips of an MC-row block of A (kept in L2) reuse the tile's B rows
         * from L1 */
        for (int64_t pc = 0; pc < kend; pc += KC)
            for (int64_t ic = 0; ic < M; ic += MC)
                for (int64_t q0 = 0, r = 0; q0 < qend; q0 += INR) {
                    while ((r + 1) * grid->pitch <= q0) r++;
                    int nseg = tile_segments(grid, q0, r, seg);
                    for (int64_t s = ic; s < M && s < ic + MC; s += IMR)
                        implicit_tile(tk, M, K, pc, apacked + s * K, s, src, boff, C, ldc, bias,
                                      relu, q0, seg, nseg);
                }
        return;
    }
    float *ap = align64(work);
    for (int64_t s = 0; s < M; s += IMR) {
        pack_a_strip(min64(IMR, M - s), K, A + s * lda, lda, ap);
        for (int64_t pc = 0; pc < kend; pc += KC)
            for (int64_t q0 = 0, r = 0; q0 < qend; q0 += INR) {
                while ((r + 1) * grid->pitch <= q0) r++;
                int nseg = tile_segments(grid, q0, r, seg);
                implicit_tile(tk, M, K, pc, ap, s, src, boff, C, ldc, bias, relu, q0, seg, nseg);
            }
    }
}

/* ---- public entry points ----------------------------------------------------------------- */

size_t ms_sgemm_workspace(int64_t M, int64_t N, int64_t K)
{
    int64_t kc = min64(K < 1 ? 1 : K, KC);
    (void)M;
    /* one packed partial strip of A (MR rows; a transposed A is packed strip by strip into the
     * same space, MC rows) and one KC x NC block of B, each 64-byte aligned */
    int64_t a = round_up(MC, MR) * kc;
    int64_t b = kc * round_up(min64(N < 1 ? 1 : N, NC), NR);
    return sizeof(float) * (size_t)(a + b) + 128;
}

size_t ms_sgemm_packed_workspace(int64_t M, int64_t N, int64_t K)
{
    (void)M;
    (void)N;
    return sizeof(float) * (size_t)(round_up(MC, MR) * min64(K < 1 ? 1 : K, KC)) + 64;
}

void ms_sgemm_ex(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc, const ms_sgemm_epilogue *ep, void *work)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        epilogue_pass(M, N, C, ldc, ep);
        return;
    }
    /* batch 1 with a contiguous x: no reuse of B, so stream it instead of packing it */
    if (M == 1 && (!trans_a || lda == 1)) {
        switch (pick_isa()) {
#ifdef MS_GEMM_X86
        case ISA_AVX512:
            if (trans_b) gemv_t_avx512(N, K, alpha, A, B, ldb, beta, C);
            else gemv_n_avx512(N, K, alpha, A, B, ldb, beta, C);
            break;
        case ISA_AVX2:
            if (trans_b) gemv_t_avx2(N, K, alpha, A, B, ldb, beta, C);
            else gemv_n_avx2(N, K, alpha, A, B, ldb, beta, C);
            break;
#endif
        default:
            if (trans_b) gemv_t_c(N, K, alpha, A, B, ldb, beta, C);
            else gemv_n_c(N, K, alpha, A, B, ldb, beta, C);
            break;
        }
        epilogue_pass(1, N, C, ldc, ep);
        return;
    }
    float *awork = align64(work);
    float *bwork = align64(awork + round_up(MC, MR) * min64(K, KC));
    gemm_blocked(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc, awork,
                 bwork, ep);
}

void ms_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc, void *work)
{
    ms_sgemm_ex(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, work);
}

size_t ms_sgemm_pack_b_size(int64_t K, int64_t N)
{
    return sizeof(float) * (size_t)((K < 1 ? 1 : K) * round_up(N < 1 ? 1 : N, NR));
}

void ms_sgemm_pack_b(bool trans_b, int64_t K, int64_t N, const float *B, int64_t ldb,
                     float *packed)
{
    if (K <= 0 || N <= 0) return;
    int64_t npad = round_up(N, NR);
    for (int64_t pc = 0; pc < K; pc += KC)
        pack_b(trans_b, min64(KC, K - pc), N, trans_b ? B + pc : B + pc * ldb, ldb,
               packed + pc * npad);
}

void ms_sgemm_packed_ex(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *packed_b, float beta, float *C,
                        int64_t ldc, const ms_sgemm_epilogue *ep, void *work)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        epilogue_pass(M, N, C, ldc, ep);
        return;
    }
    if (M == 1 && (!trans_a || lda == 1)) {
        switch (pick_isa()) {
#ifdef MS_GEMM_X86
        case ISA_AVX512: gemv_packed_avx512(N, K, alpha, A, packed_b, beta, C); break;
        case ISA_AVX2: gemv_packed_avx2(N, K, alpha, A, packed_b, beta, C); break;
#endif
        default: gemv_packed_c(N, K, alpha, A, packed_b, beta, C); break;
        }
        epilogue_pass(1, N, C, ldc, ep);
        return;
    }
    gemm_blocked(trans_a, false, M, N, K, alpha, A, lda, NULL, 0, packed_b, beta, C, ldc,
                 align64(work), NULL, ep);
}

void ms_sgemm_packed(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *packed_b, float beta, float *C, int64_t ldc,
                     void *work)
{
    ms_sgemm_packed_ex(trans_a, M, N, K, alpha, A, lda, packed_b, beta, C, ldc, NULL, work);
}
