/*
 * anderson.c: type-II Anderson acceleration of the ADMM map, safeguarded.
 *
 * The extrapolated state is z = (lam, u) with u = nu - rho s (s >= 0,
 * nu >= 0 and s_i nu_i = 0 make u a one-to-one code for (s, nu):
 * nu = max(u, 0), s = max(-u, 0) / rho). x is left as the sweep made it: it
 * enters the next sweep only through sigma x (sigma tiny), and leaving it
 * out takes fewer iterations than extrapolating it too. With f = T(z) the
 * plain sweep and g = f - z its residual, from the last mem differences dG,
 * dF of g and f:
 *
 *     gamma = argmin | g - dG gamma |^2 + r |gamma|^2,
 *             r = AA_REG (|dG|_F^2 + |dF|_F^2)
 *     z+    = f - dF gamma
 *
 * (normal equations, mem x mem). Without a fixed point (infeasible or
 * unbounded problems) the plain sweeps drift by a constant step: dG tends to
 * 0 while dF does not, and the dF term keeps gamma bounded; unregularized,
 * gamma grows without bound and throws the iterates so far that the drift
 * the infeasibility tests look for is lost in rounding.
 *
 * The next sweep checks the extrapolated point: if its residual is more than
 * AA_SAFEGUARD times the one it was extrapolated from, it is rejected, the
 * plain f is taken instead and the memory is cleared. The fixed point is the
 * one of T, so the derivatives (taken at the fixed point) are unchanged.
 * Memory: 2 mem + 5 vectors of length m + p, allocated at setup (one block).
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "anderson.h"
#include "blas.h"

#define AA_REG 1e-10      /* Tikhonov weight r on gamma, relative to the memory */
#define AA_SAFEGUARD 5.0  /* accept z+ when |g(z+)| <= this * |g(z)|           */
#define AA_GROWTH 1e3     /* and never |z+| > this * (|f| + 1): an
                             extrapolation may not throw the state far away */

/* Memory of mem columns for points of length dim (none when mem is 0 or
 * dim is 0); the caller frees with ad_anderson_free even on failure */
int ad_anderson_alloc(ad_anderson *a, int mem, altdiff_int dim)
{
    a->dim = dim;
    a->mem = dim > 0 && dim <= INT_MAX ? mem : 0;
    if (a->mem <= 0) return ALTDIFF_OK;
    size_t N = (size_t)dim, M = (size_t)a->mem;
    double **v[] = {&a->dG, &a->dF, &a->z, &a->g, &a->f_prev, &a->g_prev, &a->gram, &a->chol,
                    &a->gamma, &a->dfnorm2};
    size_t len[] = {N * M, N * M, N, N, N, N, M * M, M * M, M, M}, total = 0;
    for (size_t k = 0; k < 10; k++) total += len[k];
    a->block = ad_malloc_mapped(total, sizeof(double)); /* one block */
    if (!a->block) return ALTDIFF_ERR_NOMEM;
    double *next = a->block;
    for (size_t k = 0; k < 10; k++) {
        *v[k] = next;
        next += len[k];
    }
    return ALTDIFF_OK;
}

void ad_anderson_free(ad_anderson *a)
{
    ad_free(a->block);
    memset(a, 0, sizeof(*a));
}

/* Forget the memory (a new map T, e.g. a new rho) */
void ad_anderson_reset(ad_anderson *a)
{
    a->cols = a->next = 0;
    a->have_prev = a->extrapolated = a->started = 0;
}

/* A new sequence of sweeps; active = 0 switches acceleration off for it */
void ad_anderson_start(ad_anderson *a, int active)
{
    ad_anderson_reset(a);
    a->active = active && a->mem > 0;
    a->paused = 0;
    a->best = INFINITY;
    a->best_at = 0;
    a->stall = AD_AA_STALL;
    a->trial_at = -1;
    a->trial_ref = INFINITY;
}

/* Without a fixed point (an infeasible problem) the extrapolations can
 * settle into a cycle, where the plain sweeps would drift by the constant
 * step the infeasibility tests look for; on a hard problem the plain sweeps
 * may also do better than the extrapolations. Neither is known in advance:
 * when the extrapolations make no progress (no gain of AD_AA_PROGRESS within
 * stall iterations), plain sweeps get a trial of AD_AA_TRIAL iterations.
 * They stay if they made a gain of AD_AA_GAIN in it (until they stall);
 * else the extrapolations come back and the next trial waits twice as
 * long, so trials cost a small share of a slow solve. */
int ad_anderson_watch(ad_anderson *a, double measure, long k)
{
    if (!a->active) return 0;
    if (a->trial_at >= 0) { /* plain sweeps on trial */
        if (k - a->trial_at < AD_AA_TRIAL) return 0;
        int kept = measure < AD_AA_GAIN * a->trial_ref;
        a->trial_at = -1;
        a->best = measure;
        a->best_at = k;
        if (kept) return 0;
        a->paused = 0;
        a->stall *= 2;
        ad_anderson_reset(a);
        return 1;
    }
    if (measure < AD_AA_PROGRESS * a->best) {
        a->best = measure;
        a->best_at = k;
        return 0;
    }
    if (k - a->best_at < a->stall) return 0;
    ad_anderson_reset(a);
    a->paused = !a->paused;
    a->trial_at = a->paused ? k : -1;
    a->trial_ref = a->best = measure;
    a->best_at = k;
    return 1;
}

/* Before a sweep: z (dim) is the point it starts from */
void ad_anderson_begin(ad_anderson *a, const double *z)
{
    if (!a->active || a->paused) return;
    ad_copy(a->z, z, a->dim);
    a->started = 1;
}

/* Append the differences of g and f to their previous values to the memory
 * (one column, the oldest replaced) and make g, f the previous values */
static void add_column(ad_anderson *a, const double *f)
{
    altdiff_int N = a->dim, c = a->next;
    double *dg = a->dG + (size_t)c * (size_t)N, *df = a->dF + (size_t)c * (size_t)N, dff = 0;
    for (altdiff_int i = 0; i < N; i++) {
        dg[i] = a->g[i] - a->g_prev[i]; /* dG = g - g_prev */
        df[i] = f[i] - a->f_prev[i];    /* dF = f - f_prev */
        dff += df[i] * df[i];
        a->g_prev[i] = a->g[i];
        a->f_prev[i] = f[i];
    }
    a->dfnorm2[c] = dff;
    a->next = (c + 1) % a->mem;
    if (a->cols < a->mem) a->cols++;
}

/* Row and column c (the newest) of dG'dG, and gamma = dG'g, in one pass
 * over the memory */
static void gram_and_rhs(ad_anderson *a, altdiff_int c)
{
    altdiff_int N = a->dim;
    const double *dg = a->dG + (size_t)c * (size_t)N;
    for (altdiff_int j = 0; j < a->cols; j++) {
        const double *dj = a->dG + (size_t)j * (size_t)N;
        double vc = 0, vg = 0;
        for (altdiff_int i = 0; i < N; i++) {
            vc += dj[i] * dg[i];
            vg += dj[i] * a->g[i];
        }
        a->gram[j + c * a->mem] = a->gram[c + j * a->mem] = vc;
        a->gamma[j] = vg;
    }
}

/* f := f - dF gamma with gamma = argmin | g - dG gamma |^2 + r |gamma|^2
 * (normal equations, r = AA_REG (|dG|_F^2 + |dF|_F^2)); 0 if they are singular */
static int extrapolate(ad_anderson *a, double *f)
{
    int k = (int)a->cols, N = (int)a->dim, one = 1;
    double d1 = 1, dm1 = -1;
    double reg = 1e-300;
    for (altdiff_int j = 0; j < a->cols; j++)
        reg += AA_REG * (a->gram[j + j * a->mem] + a->dfnorm2[j]);
    if (!ad_dense_chol(a->gram, a->mem, a->cols, reg, a->chol)) return 0;
    ad_dense_chol_solve(a->chol, a->cols, a->gamma);
    double fsize = ad_nrm_inf(f, a->dim);
    dgemv_("N", &N, &k, &dm1, a->dF, &N, a->gamma, &one, &d1, f, &one); /* f - dF gamma */
    double zsize = ad_nrm_inf(f, a->dim);
    if (zsize <= AA_GROWTH * (fsize + 1) && isfinite(zsize)) return 1;
    dgemv_("N", &N, &k, &d1, a->dF, &N, a->gamma, &one, &d1, f, &one); /* undo: f again */
    return 0;
}

/* After a sweep: f (dim) = T(z) for the z of ad_anderson_begin. Safeguard,
 * update the memory and overwrite f with the next point: AD_AA_PLAIN (f
 * kept), AD_AA_EXTRAPOLATED, or AD_AA_REJECTED (the last extrapolation
 * made the fixed-point residual grow: f = the plain sweep's point before
 * it, memory cleared). */
int ad_anderson_end(ad_anderson *a, double *f)
{
    if (!a->active || !a->started) return AD_AA_PLAIN; /* off, or reset meanwhile */
    a->started = 0;
    altdiff_int N = a->dim;
    double gg = 0;
    for (altdiff_int i = 0; i < N; i++) {
        a->g[i] = f[i] - a->z[i]; /* g = T(z) - z */
        gg += a->g[i] * a->g[i];
    }
    double gnorm = sqrt(gg);
    if (a->extrapolated && gnorm > AA_SAFEGUARD * a->gnorm_prev) {
        ad_copy(f, a->f_prev, N); /* reject: the plain sweep from the last point */
        ad_anderson_reset(a);
        return AD_AA_REJECTED;
    }
    a->gnorm_prev = gnorm;
    a->extrapolated = 0;
    if (!a->have_prev) { /* the first sweep: nothing to difference yet */
        ad_copy(a->g_prev, a->g, N);
        ad_copy(a->f_prev, f, N);
        a->have_prev = 1;
        return AD_AA_PLAIN;
    }
    altdiff_int c = a->next;
    add_column(a, f);
    gram_and_rhs(a, c);
    if (!extrapolate(a, f)) {
        ad_anderson_reset(a);
        return AD_AA_PLAIN;
    }
    a->extrapolated = 1;
    return AD_AA_EXTRAPOLATED;
}
