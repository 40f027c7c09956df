/* ms_gemm.h: single-precision matrix multiply, the core under MatMul, Gemm and Conv.
 *
 *     C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C        (all row-major)
 *
 * op(X) is X, or X transposed when its trans flag is set; lda/ldb/ldc are row strides in
 * elements of the matrices as stored. No call allocates: the caller passes `work`, at least
 * ms_sgemm_workspace() bytes (any alignment). When beta is 0, C is not read (it may hold NaN).
 * No threads. On x86-64 an AVX2+FMA path is picked at run time when the CPU has it; a wasm
 * build with SIMD128 (clang -msimd128) takes a wasm SIMD path; a portable C path serves
 * everything else (ARM, Cortex-M, wasm without SIMD, older x86).
 *
 * A matrix B that stays the same across calls (a weight) can be packed once with
 * ms_sgemm_pack_b and then multiplied with ms_sgemm_packed, which skips the per-call packing. */
#ifndef MS_GEMM_H
#define MS_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of workspace ms_sgemm needs for these sizes. */
size_t ms_sgemm_workspace(int64_t M, int64_t N, int64_t K);

void ms_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc, void *work);

/* Bytes of a packed copy of op(B) (K x N). */
size_t ms_sgemm_pack_b_size(int64_t K, int64_t N);
/* Pack op(B) into `packed` (ms_sgemm_pack_b_size bytes, 32-byte aligned for speed). */
void ms_sgemm_pack_b(bool trans_b, int64_t K, int64_t N, const float *B, int64_t ldb,
                     float *packed);
/* Bytes of workspace ms_sgemm_packed needs (less than ms_sgemm's: B is already packed). */
size_t ms_sgemm_packed_workspace(int64_t M, int64_t N, int64_t K);
/* As ms_sgemm, with B from ms_sgemm_pack_b for the same K and N. */
void ms_sgemm_packed(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *packed_b, float beta, float *C, int64_t ldc,
                     void *work);

/* What the store stage adds once the product is done, so no second pass over C is needed:
 * + col_scale * col_bias[j] on column j (col_bias NULL: nothing), then max(0, v) when relu
 * (a NaN stays NaN). */
typedef struct ms_sgemm_epilogue {
    const float *col_bias;
    float col_scale;
    bool relu;
} ms_sgemm_epilogue;

/* ms_sgemm and ms_sgemm_packed with an epilogue (NULL: none). */
void ms_sgemm_ex(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc, const ms_sgemm_epilogue *ep, void *work);
void ms_sgemm_packed_ex(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *packed_b, float beta, float *C,
                        int64_t ldc, const ms_sgemm_epilogue *ep, void *work);

/* ---- implicit GEMM: the core of a stride-1 convolution ----------------------------------------
 *
 *     C[m, out(q)] = bias[m] + sum_k A[m, k] * src[boff[k] + q]        (then max(., 0) if relu)
 *
 * for m < M and every position q of a grid of `rows` rows, `pitch` apart, whose first `width`
 * columns are wanted: out(q) = (q / pitch) * width + q % pitch, columns q % pitch >= width are
 * computed but never stored. A stride-1 convolution over an input copied with its padding (grid
 * row = padded input row, pitch = padded width) reads kernel tap k as the window of that copy at
 * boff[k], so no im2col matrix is ever written. src must stay readable MS_SGEMM_TILE floats past
 * the last position's reads. Row m of C starts at C + m * ldc; bias may be NULL.
 *
 * A is the weight matrix M x K (row stride lda). Pack it once with ms_sgemm_pack_a and pass
 * `apacked` (then A may be NULL), or pass apacked = NULL and A is packed strip by strip into
 * `work` (ms_sgemm_implicit_workspace bytes). The packed layout is the same on every
 * instruction path. */
#define MS_SGEMM_TILE 32

typedef struct ms_sgemm_grid {
    int64_t rows, pitch, width;
} ms_sgemm_grid;

size_t ms_sgemm_pack_a_size(int64_t M, int64_t K);
void ms_sgemm_pack_a(int64_t M, int64_t K, const float *A, int64_t lda, float *packed);
size_t ms_sgemm_implicit_workspace(int64_t K);
void ms_sgemm_implicit(int64_t M, int64_t K, const float *A, int64_t lda, const float *apacked,
                       const float *src, const int64_t *boff, const ms_sgemm_grid *grid,
                       float *C, int64_t ldc, const float *bias, bool relu, void *work);

/* For tests and benchmarks: use one instruction path (1 portable C, 2 AVX2+FMA, 3 AVX-512F,
 * 4 wasm SIMD128, up to MS_SGEMM_ISA_LAST; 0 picks from the CPU or build again). Returns 0, changing nothing, when this CPU or build lacks it.
 * Process-wide and not thread-safe: call it before any multiply runs. */
#define MS_SGEMM_ISA_LAST 4
int ms_sgemm_force_isa(int which);

#endif
