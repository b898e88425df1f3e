/*
 * kktcheck.c: the command-line tool's own check of a solved QP, written
 * apart from the library (its own products, on the problem exactly as it
 * was read), so that exit status 0 means a KKT point in original units:
 *
 *     s >= 0, nu >= 0,
 *     max(|A x - b|, |G x + s - h|)           <= KKT_SLACK eps_prim
 *     |P x + q + A'lam + G'nu|                <= KKT_SLACK eps_dual
 *     |x'P x + q'x + b'lam + h'nu|            <= KKT_SLACK eps_gap
 *
 * (infinity norms; rows with h_i >= infinity are not constraints; the
 * tolerances are the ones the solver reported). KKT_SLACK only absorbs the
 * rounding of computing the same figures another way: a wrong point is off
 * by orders of magnitude, not by a factor of two.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

#define KKT_SLACK 2.0

/* 1 if M (square) holds entries on both sides of its diagonal */
static int both_triangles(const altdiff_csc *M)
{
    int upper = 0, lower = 0;
    for (altdiff_int j = 0; j < M->ncol; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) {
            upper |= M->i[t] < j;
            lower |= M->i[t] > j;
        }
    return upper && lower;
}

/* y += M x, and y += M'x for the off-diagonal entries when M is one
 * triangle of a symmetric matrix (sym) */
static void gaxpy(const altdiff_csc *M, const double *x, double *y, int sym)
{
    for (altdiff_int j = 0; j < M->ncol; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) {
            altdiff_int i = M->i[t];
            y[i] += M->x[t] * x[j];
            if (sym && i != j) y[j] += M->x[t] * x[i];
        }
}

/* y += M'x */
static void gatxpy(const altdiff_csc *M, const double *x, double *y)
{
    for (altdiff_int j = 0; j < M->ncol; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) y[j] += M->x[t] * x[M->i[t]];
}

static int has(const altdiff_csc *M) { return M->p != NULL && M->ncol > 0; }

/* The primal residual and the signs of s, nu (-1 if some is negative) */
static double primal(const altdiff_problem *pr, const double *x, const double *s,
                     const double *nu, double infinity, double *work)
{
    double r = 0;
    for (altdiff_int i = 0; i < pr->m; i++) work[i] = -pr->b[i];
    if (pr->m > 0 && has(&pr->A)) gaxpy(&pr->A, x, work, 0);
    for (altdiff_int i = 0; i < pr->m; i++) r = fmax(r, fabs(work[i]));
    for (altdiff_int k = 0; k < pr->p; k++) work[k] = 0;
    if (pr->p > 0 && has(&pr->G)) gaxpy(&pr->G, x, work, 0);
    for (altdiff_int k = 0; k < pr->p; k++) {
        if (pr->h[k] >= infinity) continue; /* no bound: not a constraint */
        if (s[k] < 0 || nu[k] < 0) return -1;
        r = fmax(r, fabs(work[k] + s[k] - pr->h[k]));
    }
    return r;
}

/* The dual residual; *xPx = x'P x */
static double dual(const altdiff_problem *pr, const double *x, const double *lam,
                   const double *nu, double *work, double *xPx)
{
    altdiff_int n = pr->n;
    double r = 0;
    *xPx = 0;
    for (altdiff_int j = 0; j < n; j++) work[j] = 0;
    if (has(&pr->P)) gaxpy(&pr->P, x, work, !both_triangles(&pr->P));
    for (altdiff_int j = 0; j < n; j++) *xPx += x[j] * work[j];
    for (altdiff_int j = 0; j < n; j++) work[j] += pr->q[j];
    if (pr->m > 0 && has(&pr->A)) gatxpy(&pr->A, lam, work);
    if (pr->p > 0 && has(&pr->G)) gatxpy(&pr->G, nu, work);
    for (altdiff_int j = 0; j < n; j++) r = fmax(r, fabs(work[j]));
    return r;
}

/* x'P x + q'x + b'lam + h'nu over the bounded rows */
static double gap(const altdiff_problem *pr, const double *x, const double *lam,
                  const double *nu, double xPx, double infinity)
{
    double g = xPx;
    for (altdiff_int j = 0; j < pr->n; j++) g += pr->q[j] * x[j];
    for (altdiff_int i = 0; i < pr->m; i++) g += pr->b[i] * lam[i];
    for (altdiff_int k = 0; k < pr->p; k++)
        if (pr->h[k] < infinity) g += pr->h[k] * nu[k];
    return fabs(g);
}

int cli_kkt_check(const altdiff_problem *pr, const double *x, const double *s,
                  const double *lam, const double *nu, const altdiff_info *info,
                  double infinity, char *why, size_t len)
{
    altdiff_int big = pr->n > pr->m ? pr->n : pr->m;
    big = big > pr->p ? big : pr->p;
    double *work = malloc(sizeof(double) * (size_t)(big + 1)), xPx = 0;
    if (!work) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    double rp = primal(pr, x, s, nu, infinity, work);
    double rd = dual(pr, x, lam, nu, work, &xPx);
    double g = gap(pr, x, lam, nu, xPx, infinity);
    free(work);
    why[0] = 0;
    if (rp < 0)
        snprintf(why, len, "a slack or multiplier of an inequality row is negative");
    else if (!(rp <= KKT_SLACK * info->eps_prim))
        snprintf(why, len, "primal residual %.3e > %g x tol %.3e", rp, KKT_SLACK, info->eps_prim);
    else if (!(rd <= KKT_SLACK * info->eps_dual))
        snprintf(why, len, "dual residual %.3e > %g x tol %.3e", rd, KKT_SLACK, info->eps_dual);
    else if (!(g <= KKT_SLACK * info->eps_gap))
        snprintf(why, len, "duality gap %.3e > %g x tol %.3e", g, KKT_SLACK, info->eps_gap);
    return why[0] ? 0 : 1;
}
