/*
 * bench_common.h: what the benchmark programs (batch_bench.c,
 * dense_bench.c) share: a monotonic clock, the data's random numbers and
 * the BLAS / LAPACK routines both floors call.
 * Each program includes it once; the generator's state is the program's
 * (seed, reset by a program to draw the same data again).
 */
#ifndef AD_BENCH_COMMON_H
#define AD_BENCH_COMMON_H

#include <math.h>
#include <time.h>

/* Seconds on a monotonic clock */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Uniform on [0, 1) (a 64-bit LCG, top 53 bits) and standard normal
 * (Box-Muller) */
static unsigned long long seed = 1;
static double unif(void)
{
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(seed >> 11) / 9007199254740992.0;
}
static double normal(void) { return sqrt(-2 * log(unif() + 1e-300)) * cos(6.283185307 * unif()); }

/* BLAS / LAPACK of the floors (a dependency of the library itself) */
void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha,
            const double *a, const int *lda, const double *beta, double *c, const int *ldc);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);

#endif /* AD_BENCH_COMMON_H */
