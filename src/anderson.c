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
 * Memory: 2 mem + 5 vectors of length m + p, allocated at setup.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "ad_internal.h"

#define AA_REG 1e-10      /* Tikhonov weight r on gamma, relative to the memory */
#define AA_SAFEGUARD 5.0  /* accept z+ when |g(z+)| <= this * |g(z)|           */

void dgemv_(const char *trans, const int *m, const int *n, const double *alpha, const double *a,
            const int *lda, const double *x, const int *incx, const double *beta, double *y,
            const int *incy);

static altdiff_int aa_dim(const altdiff_work *w) { return w->m + w->p; }

/* The memory of settings.anderson columns (none when it is 0, without
 * constraints, or beyond the int dimensions of the BLAS) */
int ad_anderson_alloc(altdiff_work *w, int mem)
{
    ad_anderson *a = &w->aa;
    altdiff_int N = aa_dim(w);
    a->dim = N;
    a->mem = N > 0 && N <= INT_MAX ? mem : 0;
    if (a->mem <= 0) return ALTDIFF_OK;
    a->dG = ad_malloc((size_t)N * (size_t)mem, sizeof(double));
    a->dF = ad_malloc((size_t)N * (size_t)mem, sizeof(double));
    a->z = ad_malloc((size_t)N, sizeof(double));
    a->f = ad_malloc((size_t)N, sizeof(double));
    a->g = ad_malloc((size_t)N, sizeof(double));
    a->f_prev = ad_malloc((size_t)N, sizeof(double));
    a->g_prev = ad_malloc((size_t)N, sizeof(double));
    a->gram = ad_malloc((size_t)(mem * mem), sizeof(double));
    a->chol = ad_malloc((size_t)(mem * mem), sizeof(double));
    a->gamma = ad_malloc((size_t)mem, sizeof(double));
    a->dfnorm2 = ad_malloc((size_t)mem, sizeof(double));
    if (!a->dG || !a->dF || !a->z || !a->f || !a->g || !a->f_prev || !a->g_prev || !a->gram ||
        !a->chol || !a->gamma || !a->dfnorm2)
        return ALTDIFF_ERR_NOMEM;
    return ALTDIFF_OK;
}

void ad_anderson_free(ad_anderson *a)
{
    ad_free(a->dG);
    ad_free(a->dF);
    ad_free(a->z);
    ad_free(a->f);
    ad_free(a->g);
    ad_free(a->f_prev);
    ad_free(a->g_prev);
    ad_free(a->gram);
    ad_free(a->chol);
    ad_free(a->gamma);
    ad_free(a->dfnorm2);
    memset(a, 0, sizeof(*a));
}

/* z = (lam, nu - rho s) */
static void pack(const altdiff_work *w, double *z)
{
    altdiff_int m = w->m;
    double rho = w->F.rho;
    ad_copy(z, w->lam, m);
    for (altdiff_int k = 0; k < w->p; k++) z[m + k] = w->nu[k] - rho * w->s[k];
}

/* (lam, s, nu) from z */
static void unpack(altdiff_work *w, const double *z)
{
    altdiff_int m = w->m;
    double rho_inv = 1 / w->F.rho;
    ad_copy(w->lam, z, m);
    for (altdiff_int k = 0; k < w->p; k++) {
        double u = z[m + k];
        w->nu[k] = ad_max(u, 0);
        w->s[k] = ad_max(-u, 0) * rho_inv;
    }
}

/* Forget the memory (a new rho: a new map T) */
void ad_anderson_reset(altdiff_work *w)
{
    ad_anderson *a = &w->aa;
    a->cols = a->next = 0;
    a->have_prev = a->extrapolated = a->started = 0;
}

/* A new solve (active: accelerate it) */
void ad_anderson_start(altdiff_work *w, int active)
{
    ad_anderson_reset(w);
    w->aa.active = active && w->aa.mem > 0;
}

/* Before a sweep: remember the point it starts from */
void ad_anderson_begin(altdiff_work *w)
{
    if (!w->aa.active) return;
    pack(w, w->aa.z);
    w->aa.started = 1;
}

/* Solve (M + reg I) gamma = r for the k x k SPD M (column-major, ld) by
 * Cholesky in chol; 0 on failure */
static int small_spd_solve(const double *M, altdiff_int ld, altdiff_int k, double reg,
                           double *chol, double *gamma)
{
    for (altdiff_int j = 0; j < k; j++) {
        for (altdiff_int i = j; i < k; i++) {
            double v = M[i + j * ld] + (i == j ? reg : 0);
            for (altdiff_int t = 0; t < j; t++) v -= chol[i + t * k] * chol[j + t * k];
            if (i == j) {
                if (!(v > 0)) return 0;
                chol[j + j * k] = sqrt(v);
            } else {
                chol[i + j * k] = v / chol[j + j * k];
            }
        }
    }
    for (altdiff_int i = 0; i < k; i++) { /* L y = r */
        double v = gamma[i];
        for (altdiff_int t = 0; t < i; t++) v -= chol[i + t * k] * gamma[t];
        gamma[i] = v / chol[i + i * k];
    }
    for (altdiff_int i = k - 1; i >= 0; i--) { /* L' gamma = y */
        double v = gamma[i];
        for (altdiff_int t = i + 1; t < k; t++) v -= chol[t + i * k] * gamma[t];
        gamma[i] = v / chol[i + i * k];
    }
    return 1;
}

/* Append the differences of g and f to their previous values to the memory
 * (one column, the oldest replaced) and make g, f the previous values */
static void add_column(ad_anderson *a)
{
    altdiff_int N = a->dim, c = a->next;
    double *dg = a->dG + (size_t)c * (size_t)N, *df = a->dF + (size_t)c * (size_t)N, dff = 0;
    for (altdiff_int i = 0; i < N; i++) {
        dg[i] = a->g[i] - a->g_prev[i]; /* dG = g - g_prev */
        df[i] = a->f[i] - a->f_prev[i]; /* dF = f - f_prev */
        dff += df[i] * df[i];
        a->g_prev[i] = a->g[i];
        a->f_prev[i] = a->f[i];
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
 * (gamma holds dG'g on entry); 0 if singular */
static int extrapolate(ad_anderson *a)
{
    int k = (int)a->cols, N = (int)a->dim, one = 1;
    double d1 = 1, dm1 = -1;
    double reg = 1e-300; /* r = AA_REG (|dG|_F^2 + |dF|_F^2) */
    for (altdiff_int j = 0; j < a->cols; j++)
        reg += AA_REG * (a->gram[j + j * a->mem] + a->dfnorm2[j]);
    if (!small_spd_solve(a->gram, a->mem, a->cols, reg, a->chol, a->gamma)) return 0;
    dgemv_("N", &N, &k, &dm1, a->dF, &N, a->gamma, &one, &d1, a->f, &one); /* f - dF gamma */
    return 1;
}

/* After a sweep: f = T(z) is in the workspace. Safeguard, update the memory
 * and extrapolate: the workspace then holds z+ (or, when the previous
 * extrapolation is rejected, the plain sweep from the point before it). */
void ad_anderson_end(altdiff_work *w)
{
    ad_anderson *a = &w->aa;
    if (!a->active || !a->started) return; /* off, or reset since the sweep began */
    a->started = 0;
    altdiff_int N = a->dim;
    pack(w, a->f);
    double gg = 0;
    for (altdiff_int i = 0; i < N; i++) {
        a->g[i] = a->f[i] - a->z[i]; /* g = T(z) - z */
        gg += a->g[i] * a->g[i];
    }
    double gnorm = sqrt(gg);
    if (a->extrapolated && gnorm > AA_SAFEGUARD * a->gnorm_prev) {
        unpack(w, a->f_prev); /* reject: the plain sweep from the last point */
        ad_anderson_reset(w);
        w->info.aa_rejected++;
        return;
    }
    a->gnorm_prev = gnorm;
    a->extrapolated = 0;
    if (!a->have_prev) { /* the first sweep: nothing to difference yet */
        ad_copy(a->g_prev, a->g, N);
        ad_copy(a->f_prev, a->f, N);
        a->have_prev = 1;
        return;
    }
    altdiff_int c = a->next;
    add_column(a);
    gram_and_rhs(a, c);
    if (!extrapolate(a)) {
        ad_anderson_reset(w);
        return;
    }
    unpack(w, a->f);
    a->extrapolated = 1;
    w->info.aa_steps++;
}
