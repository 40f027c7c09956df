/* test_gemm.c: ms_sgemm and ms_sgemm_packed against a naive double-precision reference, on
 * every instruction path this CPU has, over random shapes that cross every blocking boundary
 * (M = 1 GEMV, K = 1, odd sizes, partial tiles, K > KC, N > NC), all transposes, padded
 * leading dimensions and alpha/beta. Also: beta == 0 never reads C (NaN stays out) and
 * nothing outside the M x N window of C is written. */
#include "mstest.h"

#include "ms_gemm.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static float rndf(void) { return (float)(rnd() % 2001) / 1000.0f - 1.0f; }

static int64_t pick(const int64_t *v, size_t n) { return v[rnd() % n]; }

#define SENTINEL 12345.0f

/* One product, checked element by element; returns 0 on the first mismatch (printed). */
static int check_one(int64_t M, int64_t N, int64_t K, bool ta, bool tb, float alpha, float beta,
                     bool packed)
{
    /* padded leading dimensions, so stride mistakes show */
    int64_t lda = (ta ? M : K) + (int64_t)(rnd() % 3);
    int64_t ldb = (tb ? K : N) + (int64_t)(rnd() % 3);
    int64_t ldc = N + (int64_t)(rnd() % 3);
    int64_t arows = ta ? K : M, brows = tb ? N : K;
    float *A = malloc(sizeof(float) * (size_t)(arows * lda + 1));
    float *B = malloc(sizeof(float) * (size_t)(brows * ldb + 1));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc + 1));
    double *ref = malloc(sizeof(double) * (size_t)(M * N));
    double *mag = malloc(sizeof(double) * (size_t)(M * N));
    for (int64_t i = 0; i < arows * lda; i++) A[i] = rndf();
    for (int64_t i = 0; i < brows * ldb; i++) B[i] = rndf();
    for (int64_t i = 0; i < M * ldc; i++) C[i] = SENTINEL;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? NAN : rndf();

    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0, m = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
                m += fabs(a * b);
            }
            double c0 = C[i * ldc + j];
            ref[i * N + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * c0);
            mag[i * N + j] = fabs(alpha) * m + (beta == 0.0f ? 0.0 : fabs(beta * c0));
        }

    void *work = malloc(packed ? ms_sgemm_packed_workspace(M, N, K) : ms_sgemm_workspace(M, N, K));
    if (packed) {
        float *bp = malloc(ms_sgemm_pack_b_size(K, N));
        ms_sgemm_pack_b(tb, K, N, B, ldb, bp);
        ms_sgemm_packed(ta, M, N, K, alpha, A, lda, bp, beta, C, ldc, work);
        free(bp);
    } else {
        ms_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, work);
    }

    int ok = 1;
    for (int64_t i = 0; i < M && ok; i++)
        for (int64_t j = 0; j < ldc && ok; j++) {
            float got = C[i * ldc + j];
            if (j >= N) {
                if (got != SENTINEL) {
                    printf("  wrote outside C at (%lld, %lld)\n", (long long)i, (long long)j);
                    ok = 0;
                }
                continue;
            }
            double want = ref[i * N + j];
            /* float rounding grows with the length of the sum */
            double tol = 1.2e-7 * (double)(K + 4) * mag[i * N + j] + 1e-6;
            if (!(fabs(got - want) <= tol)) {
                printf("  C(%lld, %lld) = %.9g, expected %.9g (tol %.3g)\n", (long long)i,
                       (long long)j, got, want, tol);
                ok = 0;
            }
        }
    if (!ok)
        printf("  in M=%lld N=%lld K=%lld ta=%d tb=%d alpha=%g beta=%g packed=%d lda=%lld "
               "ldb=%lld ldc=%lld\n",
               (long long)M, (long long)N, (long long)K, ta, tb, alpha, beta, packed,
               (long long)lda, (long long)ldb, (long long)ldc);
    free(A); free(B); free(C); free(ref); free(mag); free(work);
    return ok;
}

static int isa_now = 0;

static void random_shapes(int count, bool packed)
{
    static const int64_t Ms[] = {1, 1, 2, 3, 5, 6, 7, 11, 12, 13, 31, 64, 121, 130};
    static const int64_t Ns[] = {1, 2, 7, 10, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 129};
    static const int64_t Ks[] = {1, 2, 3, 7, 8, 9, 16, 17, 63, 100, 255, 256, 257, 520};
    static const float alphas[] = {1.0f, 1.0f, -0.5f, 2.0f, 0.0f};
    static const float betas[] = {0.0f, 0.0f, 1.0f, 0.5f, -2.0f};
    for (int t = 0; t < count; t++) {
        int64_t M = pick(Ms, sizeof Ms / sizeof *Ms), N = pick(Ns, sizeof Ns / sizeof *Ns);
        int64_t K = pick(Ks, sizeof Ks / sizeof *Ks);
        bool ta = rnd() & 1, tb = rnd() & 1;
        float alpha = alphas[rnd() % 5], beta = betas[rnd() % 5];
        if (!check_one(M, N, K, ta, tb, alpha, beta, packed)) {
            CHECK_MSG(0, "mismatch on instruction path %d", isa_now);
            return;
        }
    }
}

TEST(gemm_random) { random_shapes(400, false); }
TEST(gemm_packed_random) { random_shapes(300, true); }

/* Sizes past the cache blocks: several K blocks (beta applied once), N past one NC block. */
TEST(gemm_large_blocks)
{
    CHECK(check_one(130, 1100, 530, false, false, 1.0f, 0.5f, false));
    CHECK(check_one(7, 1100, 530, true, true, -1.0f, 0.0f, false));
    CHECK(check_one(130, 1100, 530, true, false, 1.0f, 1.0f, true));
    CHECK(check_one(1, 1100, 530, false, true, 1.0f, 2.0f, true));
    CHECK(check_one(1, 1100, 530, false, false, 1.0f, 0.0f, false));
}

/* K == 0 is an empty sum: C = beta * C, and exactly 0 when beta is 0 (NaN in C ignored). */
TEST(gemm_empty_k)
{
    float C[6] = {NAN, NAN, NAN, 1, 2, 3}, A[1] = {0}, B[1] = {0};
    char work[512];
    ms_sgemm(false, false, 1, 3, 0, 1.0f, A, 1, B, 3, 0.0f, C, 3, work);
    CHECK(C[0] == 0.0f && C[1] == 0.0f && C[2] == 0.0f);
    ms_sgemm(false, false, 1, 3, 0, 1.0f, A, 1, B, 3, 2.0f, C + 3, 3, work);
    CHECK(C[3] == 2.0f && C[4] == 4.0f && C[5] == 6.0f);
}

/* A hand-computed 2x2: [[1,2],[3,4]] * [[5,6],[7,8]] = [[19,22],[43,50]]. */
TEST(gemm_hand_2x2)
{
    float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, C[4];
    char work[4096];
    ms_sgemm(false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2, work);
    CHECK(C[0] == 19 && C[1] == 22 && C[2] == 43 && C[3] == 50);
    /* A^T * B^T = (B A)^T: B A = [[23,34],[31,46]] */
    ms_sgemm(true, true, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2, work);
    CHECK(C[0] == 23 && C[1] == 31 && C[2] == 34 && C[3] == 46);
}

int main(void)
{
    static const char *const names[] = {"", "portable C", "AVX2+FMA", "AVX-512F", "wasm SIMD128"};
    for (int isa = 1; isa <= MS_SGEMM_ISA_LAST; isa++) {
        if (!ms_sgemm_force_isa(isa)) continue;
        isa_now = isa;
        printf("instruction path: %s\n", names[isa]);
        RUN(gemm_random);
        RUN(gemm_packed_random);
        RUN(gemm_large_blocks);
        RUN(gemm_empty_k);
        RUN(gemm_hand_2x2);
    }
    ms_sgemm_force_isa(0);
    return mstest_summary();
}
