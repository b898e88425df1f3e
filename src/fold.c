/*
 * fold.c: folding a fixed-point solver (doc/MATH.md, "Reverse mode (folded
 * adjoint)"). For an iteration z+ = T(z, theta) with fixed point z*, and
 * J_z = dT/dz, J_theta = dT/dtheta there,
 *
 *     reverse:  (I - J_z)' u = w,        dL/dtheta = J_theta' u
 *     forward:  (I - J_z) dz = J_theta v
 *
 * Both are (I - M) u = r for an operator M known by its action, solved by
 * ad_fold_solve: the fixed-point iteration u <- M u + r or restarted GMRES on
 * I - M. The ADMM reverse mode (adjoint.c, M = Phi') and the public API below
 * (M = J_z' or J_z from the user's callbacks) share it.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ad_fold.h"
#include "ad_internal.h"
#include "blas.h"

/* a * b, or SIZE_MAX when it overflows (ad_malloc then fails) */
static size_t count2(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

/* ---- fixed-point iteration ----------------------------------------------------- */

/* The error of a contracting iteration after a step of size change, with the
 * contraction rate estimated from the ratio of successive steps (kept at
 * the larger of the new ratio and 0.9 times the old estimate, so that one
 * small step does not end the iteration): |u* - u+| <= change rho/(1 - rho). */
double ad_fixed_point_error(double change, double prev_change, double *rate)
{
    double ratio = prev_change > 0 ? change / prev_change : 0;
    *rate = ad_max(ratio, 0.9 * *rate);
    double r = *rate < 0.999999 ? *rate : 0.999999;
    return change * ad_max(r / (1 - r), 1.0);
}

/* u <- M u + r from u = r until the estimated error is <= eps |u+| (v: N
 * scratch) */
static int solve_fixed_point(const ad_fold_op *op, const altdiff_deriv_settings *ds,
                             const double *r, double *u, double *v, altdiff_deriv_info *info)
{
    altdiff_int N = op->N, k = 0;
    double change = INFINITY, prev = 0, rate = 0, err = INFINITY, size = 0;
    int status = ALTDIFF_OK;
    ad_copy(u, r, N); /* u = r */
    while (k++ < ds->max_iter) {
        if ((status = op->apply(op->ctx, u, v)) != ALTDIFF_OK) break;
        ad_axpy(v, 1.0, r, N); /* v = M u + r */
        change = 0;
        for (altdiff_int t = 0; t < N; t++) change = ad_max(change, fabs(v[t] - u[t]));
        size = ad_nrm_inf(v, N);
        ad_copy(u, v, N);
        err = ad_fixed_point_error(change, prev, &rate);
        prev = change;
        if (err <= ds->eps * size || !isfinite(change)) break;
    }
    info->iter = k > ds->max_iter ? ds->max_iter : k;
    info->residual = size > 0 ? err / size : err;
    info->status = !isfinite(info->residual)       ? ALTDIFF_NUMERICAL_ERROR
                   : err <= ds->eps * size ? ALTDIFF_SOLVED
                                           : ALTDIFF_MAX_ITER;
    return status;
}

/* ---- restarted GMRES on (I - M) u = r ------------------------------------------ */

typedef struct {
    altdiff_int k;  /* restart length                          */
    altdiff_int ld; /* V(:, j) = V + j ld (N, or B N in lockstep) */
    double *V, *Hh; /* basis N x (k+1), Hessenberg (k+1) x k   */
    double *cs, *sn, *g, *y;
} gmres_space;

/* y = (I - M) x */
static int apply_shifted(const ad_fold_op *op, const double *x, double *y)
{
    int status = op->apply(op->ctx, x, y);
    for (altdiff_int t = 0; t < op->N; t++) y[t] = x[t] - y[t];
    return status;
}

/* x'y over a basis vector: BLAS's DDOT (vectorized; the Gram-Schmidt steps
 * are a large share of a GMRES step, most of all in lockstep, where the
 * operator is applied on blocks), ad_dot beyond int sizes */
static double basis_dot(const double *x, const double *y, altdiff_int N)
{
    if (N > INT_MAX) return ad_dot(x, y, N);
    int n = (int)N, one = 1;
    return ddot_(&n, x, &one, y, &one);
}

/* y += a x over a basis vector (DAXPY) */
static void basis_axpy(double *y, double a, const double *x, altdiff_int N)
{
    if (N > INT_MAX) {
        ad_axpy(y, a, x, N);
        return;
    }
    int n = (int)N, one = 1;
    daxpy_(&n, &a, x, &one, y, &one);
}

/* Givens rotation (c, s) that zeroes b in (a, b) */
static void givens(double a, double b, double *c, double *s)
{
    double r = hypot(a, b);
    *c = r > 0 ? a / r : 1;
    *s = r > 0 ? b / r : 0;
}

/* Arnoldi step j after vj1 = V(:, j+1) = (I - M) V(:, j): modified
 * Gram-Schmidt against V(:, 0..j), the earlier rotations and a new one on
 * column j of H; returns the residual norm estimate */
static double arnoldi_orthogonalize(gmres_space *G, altdiff_int N, altdiff_int j)
{
    altdiff_int k = G->k, ld = G->ld;
    double *V = G->V, *Hh = G->Hh, *vj1 = V + (j + 1) * ld;
    for (altdiff_int i = 0; i <= j; i++) { /* modified Gram-Schmidt */
        double hij = basis_dot(vj1, V + i * ld, N);
        Hh[i + j * (k + 1)] = hij;
        basis_axpy(vj1, -hij, V + i * ld, N);
    }
    double h1 = sqrt(basis_dot(vj1, vj1, N));
    Hh[j + 1 + j * (k + 1)] = h1;
    if (h1 > 0) for (altdiff_int t = 0; t < N; t++) vj1[t] /= h1;
    for (altdiff_int i = 0; i < j; i++) { /* apply the earlier rotations */
        double *h0 = Hh + i + j * (k + 1), t0 = G->cs[i] * h0[0] + G->sn[i] * h0[1];
        h0[1] = -G->sn[i] * h0[0] + G->cs[i] * h0[1];
        h0[0] = t0;
    }
    double *hj = Hh + j + j * (k + 1);
    givens(hj[0], hj[1], &G->cs[j], &G->sn[j]);
    hj[0] = G->cs[j] * hj[0] + G->sn[j] * hj[1];
    hj[1] = 0;
    G->g[j + 1] = -G->sn[j] * G->g[j];
    G->g[j] *= G->cs[j];
    return fabs(G->g[j + 1]);
}

/* Arnoldi step j: vj1 = (I - M) vj, then orthogonalize; the residual norm
 * estimate into *res */
static int arnoldi_step(const ad_fold_op *op, gmres_space *G, altdiff_int j, double *res)
{
    int status = apply_shifted(op, G->V + j * G->ld, G->V + (j + 1) * G->ld);
    if (status != ALTDIFF_OK) return status;
    *res = arnoldi_orthogonalize(G, op->N, j);
    return ALTDIFF_OK;
}

/* u += V y with H y = g over the j steps of the cycle */
static void gmres_update(gmres_space *G, altdiff_int N, altdiff_int j, double *u)
{
    altdiff_int k = G->k;
    for (altdiff_int i = j - 1; i >= 0; i--) { /* back substitution H y = g */
        double t0 = G->g[i];
        for (altdiff_int l = i + 1; l < j; l++) t0 -= G->Hh[i + l * (k + 1)] * G->y[l];
        G->y[i] = t0 / G->Hh[i + i * (k + 1)];
    }
    for (altdiff_int i = 0; i < j; i++) basis_axpy(u, G->y[i], G->V + i * G->ld, N); /* u += V y */
}

/* One GMRES cycle from u: up to k Arnoldi steps (no more than max_iters in
 * all), then u += V y with H y = g. The residual norm estimate into *res. */
static int gmres_cycle(const ad_fold_op *op, gmres_space *G, const double *r, double *u,
                       double bnorm, double tol, double *res, altdiff_int *iters,
                       altdiff_int max_iters)
{
    altdiff_int N = op->N, k = G->k, j;
    double *V = G->V;
    int status = apply_shifted(op, u, V);
    for (altdiff_int t = 0; t < N; t++) V[t] = r[t] - V[t]; /* r0 = r - (I - M) u */
    double beta = sqrt(ad_dot(V, V, N));
    *res = beta;
    if (status != ALTDIFF_OK || beta <= tol * bnorm) return status;
    for (altdiff_int t = 0; t < N; t++) V[t] /= beta;
    ad_fill(G->g, 0, k + 1);
    G->g[0] = beta;
    for (j = 0; j < k && *res > tol * bnorm && *iters < max_iters; j++) {
        if ((status = arnoldi_step(op, G, j, res)) != ALTDIFF_OK) return status;
        (*iters)++;
    }
    gmres_update(G, N, j, u);
    return ALTDIFF_OK;
}

/* Cycles until the residual estimate is below eps |r| or max_iter steps, then
 * the true residual |r - (I - M) u| / |r| */
static int solve_gmres(const ad_fold_op *op, const altdiff_deriv_settings *ds, gmres_space *G,
                       const double *r, double *u, altdiff_deriv_info *info)
{
    altdiff_int N = op->N, iters = 0;
    int status = ALTDIFF_OK;
    ad_fill(u, 0, N);
    double bnorm = sqrt(ad_dot(r, r, N)), res = bnorm;
    while (status == ALTDIFF_OK && iters < ds->max_iter && res > ds->eps * bnorm) {
        altdiff_int before = iters;
        status = gmres_cycle(op, G, r, u, bnorm, ds->eps, &res, &iters, ds->max_iter);
        if (iters == before) break; /* converged at the restart */
    }
    if (status == ALTDIFF_OK) { /* the true residual, not the estimate */
        status = apply_shifted(op, u, G->V);
        for (altdiff_int t = 0; t < N; t++) G->V[t] = r[t] - G->V[t];
        res = sqrt(ad_dot(G->V, G->V, N));
    }
    info->iter = iters;
    info->residual = bnorm > 0 ? res / bnorm : res;
    info->status = !isfinite(info->residual)   ? ALTDIFF_NUMERICAL_ERROR
                   : info->residual <= ds->eps ? ALTDIFF_SOLVED
                                               : ALTDIFF_MAX_ITER;
    return status;
}

/* ---- the folded solve ------------------------------------------------------------ */

/* The Hessenberg matrix and rotations of GMRES(k) (k > 0) */
static int space_small(gmres_space *G, altdiff_int k)
{
    G->k = k;
    G->Hh = ad_calloc(count2((size_t)k + 1, (size_t)k), sizeof(double));
    G->cs = ad_malloc((size_t)k, sizeof(double));
    G->sn = ad_malloc((size_t)k, sizeof(double));
    G->g = ad_malloc((size_t)k + 1, sizeof(double));
    G->y = ad_malloc((size_t)k, sizeof(double));
    return (G->Hh && G->cs && G->sn && G->g && G->y) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
}

/* k = 0: one vector of N (the fixed-point iteration); k > 0: GMRES(k) */
static int space_alloc(gmres_space *G, altdiff_int N, altdiff_int k)
{
    memset(G, 0, sizeof(*G));
    G->k = k;
    G->ld = N;
    G->V = ad_malloc(count2((size_t)N, (size_t)k + 1), sizeof(double));
    if (k == 0) return G->V ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    return G->V ? space_small(G, k) : ALTDIFF_ERR_NOMEM;
}

static void space_free(gmres_space *G)
{
    void *bufs[] = {G->V, G->Hh, G->cs, G->sn, G->g, G->y};
    for (int b = 0; b < 6; b++) ad_free(bufs[b]);
}

int ad_fold_solve(const ad_fold_op *op, const altdiff_deriv_settings *ds, const double *r,
                  double *u, altdiff_deriv_info *info)
{
    int gmres = ds->mode == ALTDIFF_MODE_GMRES;
    /* a cycle never takes more than max_iter steps: no longer basis needed */
    altdiff_int k = !gmres ? 0 : ds->restart < ds->max_iter ? ds->restart : ds->max_iter;
    gmres_space G;
    int status = space_alloc(&G, op->N, k);
    if (status == ALTDIFF_OK)
        status = gmres ? solve_gmres(op, ds, &G, r, u, info)
                       : solve_fixed_point(op, ds, r, u, G.V, info);
    space_free(&G);
    return status;
}

/* ---- the public API: a user's fixed-point map --------------------------------- */

/* out = J_z' u and out = J_z v through the user's callbacks */
static int apply_jtz(void *ctx, const double *u, double *out)
{
    const altdiff_fold *f = ctx;
    f->jtz(f->user, u, out);
    return ALTDIFF_OK;
}

static int apply_jz(void *ctx, const double *v, double *out)
{
    const altdiff_fold *f = ctx;
    f->jz(f->user, v, out);
    return ALTDIFF_OK;
}

/* ALTDIFF_OK when f has sizes and the callbacks of the direction (reverse:
 * jtz, jttheta; forward: jz, jtheta) and ds is sane for it */
static int fold_check(const altdiff_fold *f, const altdiff_deriv_settings *ds, int reverse)
{
    if (!f || !ds || f->N <= 0 || f->K <= 0) return ALTDIFF_ERR_INVALID;
    if (reverse ? (!f->jtz || !f->jttheta) : (!f->jz || !f->jtheta)) return ALTDIFF_ERR_INVALID;
    int fixed_point = reverse ? ALTDIFF_MODE_ADJOINT : ALTDIFF_MODE_ALTDIFF;
    if (!(ds->eps > 0) || ds->max_iter <= 0 || ds->restart <= 0 ||
        (ds->mode != fixed_point && ds->mode != ALTDIFF_MODE_GMRES))
        return ALTDIFF_ERR_INVALID;
    return ALTDIFF_OK;
}

int altdiff_fold_vjp(const altdiff_fold *f, const altdiff_deriv_settings *ds, const double *wz,
                     double *gtheta, altdiff_deriv_info *info)
{
    altdiff_deriv_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof(*info));
    int status = fold_check(f, ds, 1);
    if (status != ALTDIFF_OK || !wz || !gtheta || !ad_all_finite(wz, f->N))
        return ALTDIFF_ERR_INVALID;
    double t0 = ad_time();
    ad_fold_op op = {f->N, apply_jtz, (void *)f};
    double *u = ad_malloc((size_t)f->N, sizeof(double));
    status = u ? ad_fold_solve(&op, ds, wz, u, info) : ALTDIFF_ERR_NOMEM; /* (I - J_z)'u = w */
    if (status == ALTDIFF_OK) f->jttheta(f->user, u, gtheta);            /* g = J_theta'u   */
    ad_free(u);
    info->time = ad_time() - t0;
    return status;
}

int altdiff_fold_jvp(const altdiff_fold *f, const altdiff_deriv_settings *ds,
                     const double *vtheta, double *dz, altdiff_deriv_info *info)
{
    altdiff_deriv_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof(*info));
    int status = fold_check(f, ds, 0);
    if (status != ALTDIFF_OK || !vtheta || !dz || !ad_all_finite(vtheta, f->K))
        return ALTDIFF_ERR_INVALID;
    double t0 = ad_time();
    ad_fold_op op = {f->N, apply_jz, (void *)f};
    double *c = ad_malloc((size_t)f->N, sizeof(double));
    if (c) f->jtheta(f->user, vtheta, c);                                /* c = J_theta v    */
    status = c ? ad_fold_solve(&op, ds, c, dz, info) : ALTDIFF_ERR_NOMEM; /* (I - J_z)dz = c */
    ad_free(c);
    info->time = ad_time() - t0;
    return status;
}

/* ---- many systems in lockstep ------------------------------------------------------- */

/* The state of one system of a lockstep GMRES */
typedef struct {
    gmres_space G;
    double *u;             /* N: the solution                                */
    const double *r;       /* N: the right-hand side                         */
    double bnorm, res;     /* |r|, the residual estimate                     */
    altdiff_int iters, j;  /* operator applications in Arnoldi steps; step j */
    altdiff_int last;      /* iters at the last true residual                */
    int phase;             /* LS_RESTART: next apply is on u; LS_ARNOLDI: on
                              V(:, j); LS_DONE                               */
} lockstep;

#define LS_RESTART 0
#define LS_ARNOLDI 1
#define LS_DONE 2

/* u += V y with H y = g over the j steps taken */
static void ls_update(lockstep *s, altdiff_int N) { gmres_update(&s->G, N, s->j, s->u); }

/* After out = M u: the true residual r - (I - M) u; done when it is small
 * enough, the steps are used up or the last cycle made no progress; else a
 * new cycle starts (V(:, 0) = residual / beta) */
static void ls_restart(lockstep *s, const double *out, altdiff_int N,
                       const altdiff_deriv_settings *ds)
{
    gmres_space *G = &s->G;
    double *V = G->V;
    for (altdiff_int t = 0; t < N; t++) V[t] = s->r[t] - (s->u[t] - out[t]);
    double beta = sqrt(ad_dot(V, V, N));
    s->res = beta;
    int stuck = s->iters == s->last && s->iters > 0;
    s->last = s->iters;
    if (!isfinite(beta) || beta <= ds->eps * s->bnorm || s->iters >= ds->max_iter || stuck) {
        s->phase = LS_DONE;
        return;
    }
    for (altdiff_int t = 0; t < N; t++) V[t] /= beta;
    ad_fill(G->g, 0, G->k + 1);
    G->g[0] = beta;
    s->j = 0;
    s->phase = LS_ARNOLDI;
}

/* After out = M V(:, j): the Arnoldi step (vj1 = (I - M) vj, as
 * arnoldi_step); at the end of a cycle u += V y and a restart follows */
static void ls_arnoldi(lockstep *s, const double *out, altdiff_int N,
                       const altdiff_deriv_settings *ds)
{
    gmres_space *G = &s->G;
    double *vj = G->V + s->j * G->ld, *vj1 = vj + G->ld;
    for (altdiff_int t = 0; t < N; t++) vj1[t] = vj[t] - out[t]; /* (I - M) vj */
    s->res = arnoldi_orthogonalize(G, N, s->j);
    s->j++;
    s->iters++;
    if (s->j == G->k || s->res <= ds->eps * s->bnorm || s->iters >= ds->max_iter) {
        ls_update(s, N);
        s->phase = LS_RESTART; /* the next apply gives the true residual */
    }
}

/* The input of system e's next apply */
static const double *ls_input(const lockstep *s)
{
    return s->phase == LS_RESTART ? s->u : s->G.V + s->j * s->G.ld;
}

/* Gather the inputs of the systems still running into IN (N x d); their
 * indices into idx; returns d */
static altdiff_int ls_gather(lockstep *S, altdiff_int B, altdiff_int N, double *IN,
                             altdiff_int *idx)
{
    altdiff_int d = 0;
    for (altdiff_int e = 0; e < B; e++)
        if (S[e].phase != LS_DONE) {
            ad_copy(IN + d * N, ls_input(&S[e]), N);
            idx[d++] = e;
        }
    return d;
}

static void ls_info(const lockstep *s, const altdiff_deriv_settings *ds, altdiff_deriv_info *info)
{
    info->iter = s->iters;
    info->residual = s->bnorm > 0 ? s->res / s->bnorm : s->res;
    info->status = !isfinite(info->residual)   ? ALTDIFF_NUMERICAL_ERROR
                   : info->residual <= ds->eps ? ALTDIFF_SOLVED
                                               : ALTDIFF_MAX_ITER;
}

/* The lockstep's arrays; the bases are one block (V), not the systems' own */
typedef struct {
    lockstep *S;
    double *V, *IN, *OUT;  /* (k+1) x B x N: column j of every basis together;
                              N x B twice: the block operator's input, output */
    altdiff_int *idx;
    altdiff_int ready;     /* columns j of V whose pages are mapped           */
} ls_work;

static void ls_free(ls_work *w, altdiff_int B)
{
    for (altdiff_int e = 0; w->S && e < B; e++) {
        w->S[e].G.V = NULL; /* in w->V */
        space_free(&w->S[e].G);
    }
    void *bufs[] = {w->S, w->V, w->IN, w->OUT, w->idx};
    for (int b = 0; b < 5; b++) ad_free(bufs[b]);
}

/* Map the pages of basis column j of all B systems before its first use:
 * one system call for B N doubles, instead of a page fault at every page
 * (the bases are fresh memory of B (k+1) N doubles, touched column by column) */
static void ls_ready(ls_work *w, const lockstep *S, altdiff_int B, altdiff_int N)
{
    altdiff_int need = 0;
    for (altdiff_int e = 0; e < B; e++)
        if (S[e].phase != LS_DONE) need = S[e].j + 2 > need ? S[e].j + 2 : need;
    for (; w->ready < need && w->ready <= S[0].G.k; w->ready++)
        ad_populate(w->V + (size_t)w->ready * (size_t)B * (size_t)N,
                    (size_t)B * (size_t)N * sizeof(double));
}

int ad_fold_solve_many(const ad_fold_block_op *op, altdiff_int B,
                       const altdiff_deriv_settings *ds, const double *R, double *U,
                       altdiff_deriv_info *info)
{
    altdiff_int N = op->N, k = ds->restart < ds->max_iter ? ds->restart : ds->max_iter;
    ls_work w = {ad_calloc((size_t)B, sizeof(lockstep)),
                 ad_malloc(count2(count2((size_t)N, (size_t)B), (size_t)k + 1), sizeof(double)),
                 ad_malloc_mapped(count2((size_t)N, (size_t)B), sizeof(double)),
                 ad_malloc_mapped(count2((size_t)N, (size_t)B), sizeof(double)),
                 ad_malloc((size_t)B, sizeof(altdiff_int)), 0};
    lockstep *S = w.S;
    int status = (S && w.V && w.IN && w.OUT && w.idx) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    for (altdiff_int e = 0; e < B && status == ALTDIFF_OK; e++) {
        status = space_small(&S[e].G, k);
        S[e].G.V = w.V + e * N; /* column j at V + (j B + e) N */
        S[e].G.ld = B * N;
        S[e].u = U + e * N;
        S[e].r = R + e * N;
        ad_fill(S[e].u, 0, N);
        S[e].bnorm = sqrt(ad_dot(S[e].r, S[e].r, N));
        S[e].phase = LS_RESTART;
    }
    altdiff_int d;
    while (status == ALTDIFF_OK && (d = ls_gather(S, B, N, w.IN, w.idx)) > 0) {
        ls_ready(&w, S, B, N);
        if ((status = op->apply(op->ctx, w.idx, d, w.IN, w.OUT)) != ALTDIFF_OK) break;
        for (altdiff_int c = 0; c < d; c++) { /* one step of each system */
            lockstep *s = &S[w.idx[c]];
            if (s->phase == LS_RESTART) ls_restart(s, w.OUT + c * N, N, ds);
            else ls_arnoldi(s, w.OUT + c * N, N, ds);
        }
    }
    for (altdiff_int e = 0; e < B && status == ALTDIFF_OK; e++) ls_info(&S[e], ds, info + e);
    ls_free(&w, B);
    return status;
}
