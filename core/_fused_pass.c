/* The fused CPU sensing pass for six runs at a time (the alpha sweep's batch): residuals and the adjoint's
 * partial sums of one chunk of rows, from one read of the packed float64 operator.
 *
 * Same tiles, chunks and order of every sum as _tile6 in core/_kernels.py (numba), so both give bitwise
 * the same result (tests/test_kernels.py). What numba cannot express is the prefetch inside the residual
 * loop: its sums live in vector registers across the whole row, and a loop split at prefetch points loses
 * them to a horizontal sum per piece. Here the next tile's rows are requested one cache line per eight
 * columns during both loops (two rows each), instead of all four during the adjoint loop only.
 *
 * Built by core/_native_pass.py with the system C compiler; needs AVX-512VL for its 32 vector registers
 * (the 24 partial residual sums of a tile stay in registers) and FMA. */
#include <immintrin.h>
#include <stdint.h>

#define RUNS 6
#define ROWS 4
#define TARGET __attribute__((target("avx2,fma,avx512f,avx512vl")))

int fused_pass_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl");
}

/* (l0 + l2) + (l1 + l3): the order of LLVM's reduction of numba's vectorized loop. */
TARGET static inline double lane_sum(__m256d v) {
    __m128d low = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(low, _mm_unpackhi_pd(low, low)));
}

TARGET static inline void residual_step(const double *const a[ROWS], const double *Xp, int64_t P, int64_t p,
                                        __m256d s[RUNS][ROWS]) {
    const __m256d v0 = _mm256_loadu_pd(a[0] + p), v1 = _mm256_loadu_pd(a[1] + p);
    const __m256d v2 = _mm256_loadu_pd(a[2] + p), v3 = _mm256_loadu_pd(a[3] + p);
    for (int k = 0; k < RUNS; k++) {
        const __m256d x = _mm256_loadu_pd(Xp + k * P + p);
        s[k][0] = _mm256_fmadd_pd(v0, x, s[k][0]);
        s[k][1] = _mm256_fmadd_pd(v1, x, s[k][1]);
        s[k][2] = _mm256_fmadd_pd(v2, x, s[k][2]);
        s[k][3] = _mm256_fmadd_pd(v3, x, s[k][3]);
    }
}

/* g += e1 v1, then e0 v0, e2 v2, e3 v3: the order numba's _tile6 compiles to (found by comparing bits). */
TARGET static inline void adjoint_step(const double *const a[ROWS], __m256d e[RUNS][ROWS], double *acc, int64_t P,
                                       int64_t p) {
    const __m256d v0 = _mm256_loadu_pd(a[0] + p), v1 = _mm256_loadu_pd(a[1] + p);
    const __m256d v2 = _mm256_loadu_pd(a[2] + p), v3 = _mm256_loadu_pd(a[3] + p);
    for (int k = 0; k < RUNS; k++) {
        double *g = acc + k * P + p;
        __m256d t = _mm256_loadu_pd(g);
        t = _mm256_fmadd_pd(v1, e[k][1], t);
        t = _mm256_fmadd_pd(v0, e[k][0], t);
        t = _mm256_fmadd_pd(v2, e[k][2], t);
        t = _mm256_fmadd_pd(v3, e[k][3], t);
        _mm256_storeu_pd(g, t);
    }
}

/* Rows [start, stop) of the row-major (m, P) operator A against the (6, P) packed iterates Xp: writes
 * residual[k, i] = A_i . Xp_k - y_i for k < 6, and acc (6, P) = the sum over those rows of residual * A_i.
 * Rows past `stop` alias the last row with zero weight, so a chunk need not be a multiple of four rows. */
TARGET void fused_pass_chunk(const double *A, const double *Xp, const double *y, double *acc, double *residual,
                             int64_t m, int64_t P, int64_t start, int64_t stop) {
    const int64_t P8 = P & ~(int64_t)7, P4 = P & ~(int64_t)3;
    for (int64_t c = 0; c < RUNS * P; c++) acc[c] = 0.0;
    for (int64_t i = start; i < stop; i += ROWS) {
        const double *a[ROWS], *next[ROWS];
        int live[ROWS];
        for (int r = 0; r < ROWS; r++) {
            live[r] = i + r < stop;
            a[r] = A + (live[r] ? i + r : stop - 1) * P;
            next[r] = A + (i + ROWS + r < m ? i + ROWS + r : m - 1) * P;
        }
        __m256d s[RUNS][ROWS];
        for (int k = 0; k < RUNS; k++)
            for (int r = 0; r < ROWS; r++) s[k][r] = _mm256_setzero_pd();
        int64_t p = 0;
        for (; p < P8; p += 8) {
            _mm_prefetch((const char *)(next[0] + p), _MM_HINT_T0);
            _mm_prefetch((const char *)(next[1] + p), _MM_HINT_T0);
            residual_step(a, Xp, P, p, s);
            residual_step(a, Xp, P, p + 4, s);
        }
        if (p < P4) residual_step(a, Xp, P, p, s);
        __m256d e[RUNS][ROWS];
        double err[RUNS][ROWS];
        for (int k = 0; k < RUNS; k++)
            for (int r = 0; r < ROWS; r++) {
                double t = lane_sum(s[k][r]);
                for (int64_t c = P4; c < P; c++) t = __builtin_fma(a[r][c], Xp[k * P + c], t);
                err[k][r] = live[r] ? t - y[i + r] : 0.0;
                if (live[r]) residual[k * m + i + r] = err[k][r];
                e[k][r] = _mm256_set1_pd(err[k][r]);
            }
        for (p = 0; p < P8; p += 8) {
            _mm_prefetch((const char *)(next[2] + p), _MM_HINT_T0);
            _mm_prefetch((const char *)(next[3] + p), _MM_HINT_T0);
            adjoint_step(a, e, acc, P, p);
            adjoint_step(a, e, acc, P, p + 4);
        }
        if (p < P4) adjoint_step(a, e, acc, P, p);
        for (int64_t c = P4; c < P; c++)
            for (int k = 0; k < RUNS; k++) {
                double t = acc[k * P + c];
                t = __builtin_fma(a[1][c], err[k][1], t);
                t = __builtin_fma(a[0][c], err[k][0], t);
                t = __builtin_fma(a[2][c], err[k][2], t);
                t = __builtin_fma(a[3][c], err[k][3], t);
                acc[k * P + c] = t;
            }
    }
}
