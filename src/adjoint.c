/*
 * adjoint.c: reverse mode, folded (MATH.md): with the ADMM sweep written as
 * z+ = T(z, theta), z = (x, s, lam, nu), linearized at the fixed point as
 * z+ = Phi z + Psi theta with the slack mask frozen, and the output x = E z,
 *
 *     (I - Phi)' u = E' w,        dL/dtheta = Psi' u,    theta = (q, b, h).
 *
 * Phi' and Psi' are the transposed steps of the relaxed sweep of admm.c in
 * reverse order (one solve with the factor of H each). The system is solved by
 * the fixed-point iteration u <- Phi'u + E'w or by restarted GMRES on the same
 * operator; convergence is measured and reported, never assumed.
 *
 * The vector u is stored contiguously as [x (n) | s (p) | lam (m) | nu (p)].
 */
#include <math.h>
#include <string.h>

#include "ad_internal.h"

typedef struct {
    altdiff_int n, m, p, N;   /* N = n + 2p + m                       */
    double *tb, *gb, *ab, *Ar, *Gr; /* scratch: n, p, m, m, p         */
    double *qbar, *bbar, *hbar;     /* Psi'u of the last sweep        */
    const unsigned char *mask;      /* recorded mask, or NULL: s > 0  */
} adjoint;

/* D_kk of the sweep: 1 where s+ > 0 */
static int slack_positive(const altdiff_work *w, const adjoint *a, altdiff_int k)
{
    return a->mask ? (a->mask[k / 8] >> (k % 8)) & 1 : w->s[k] > 0;
}

/* out = Phi'u, and Psi'u into a->qbar, bbar, hbar. The forward sweep is
 *   r = sigma x - q - A'lam - G'nu + rho A'b - rho G'(s - h);  t = H^-1 r
 *   a = alpha A t + (1-alpha) b;   g = alpha G t + (1-alpha)(h - s)
 *   s+ = D(-nu/rho - g + h);  lam+ = lam + rho(a - b);  nu+ = nu + rho(g + s+ - h)
 *   x+ = alpha t + (1-alpha) x
 * and this is its transpose, step by step from the end. */
static int sweep_transpose(altdiff_work *w, adjoint *a, const double *u, double *out)
{
    altdiff_int n = a->n, m = a->m, p = a->p;
    double rho = w->F.rho, sigma = w->F.sigma, alpha = w->set.alpha;
    const double *xb = u, *sb = u + n, *lb = u + n + p, *nb = u + n + p + m;
    double *ox = out, *os = out + n, *ol = out + n + p, *on = out + n + p + m;
    for (altdiff_int j = 0; j < n; j++) {
        a->tb[j] = alpha * xb[j];       /* t-bar  = alpha x+-bar       */
        ox[j] = (1 - alpha) * xb[j];    /* x-bar  = (1-alpha) x+-bar   */
    }
    for (altdiff_int i = 0; i < m; i++) {
        ol[i] = lb[i];                              /* lam-bar = lam+-bar    */
        a->ab[i] = rho * lb[i];                     /* a-bar = rho lam+-bar  */
        a->bbar[i] = -rho * lb[i] + (1 - alpha) * a->ab[i];
    }
    for (altdiff_int k = 0; k < p; k++) {
        double yb = slack_positive(w, a, k) ? sb[k] + rho * nb[k] : 0;   /* y-bar = D (s+-bar + rho nu+-bar) */
        on[k] = nb[k] - yb / rho;                            /* nu-bar                        */
        a->gb[k] = rho * nb[k] - yb;                         /* g-bar                         */
        a->hbar[k] = -rho * nb[k] + yb + (1 - alpha) * a->gb[k];
        os[k] = -(1 - alpha) * a->gb[k];                     /* s-bar from g = ...(h - s)     */
        a->gb[k] *= alpha;
    }
    for (altdiff_int i = 0; i < m; i++) a->ab[i] *= alpha;
    ad_gatxpy(w->G, a->gb, a->tb); /* t-bar += alpha G' g-bar */
    ad_gatxpy(w->A, a->ab, a->tb); /* t-bar += alpha A' a-bar */
    int status = ad_factor_solve(w, a->tb); /* r-bar = H^-1 t-bar */
    if (status != ALTDIFF_OK) return status;
    ad_fill(a->Ar, 0, m);
    ad_fill(a->Gr, 0, p);
    ad_gaxpy(w->A, a->tb, a->Ar);
    ad_gaxpy(w->G, a->tb, a->Gr);
    for (altdiff_int j = 0; j < n; j++) {
        ox[j] += sigma * a->tb[j]; /* x-bar += sigma r-bar */
        a->qbar[j] = -a->tb[j];    /* q-bar  = -r-bar       */
    }
    for (altdiff_int i = 0; i < m; i++) {
        ol[i] -= a->Ar[i];              /* lam-bar -= A r-bar      */
        a->bbar[i] += rho * a->Ar[i];   /* b-bar   += rho A r-bar  */
    }
    for (altdiff_int k = 0; k < p; k++) {
        on[k] -= a->Gr[k];              /* nu-bar -= G r-bar       */
        os[k] -= rho * a->Gr[k];        /* s-bar  -= rho G r-bar   */
        a->hbar[k] += rho * a->Gr[k];   /* h-bar  += rho G r-bar   */
    }
    return ALTDIFF_OK;
}

/* ---- fixed-point iteration --------------------------------------------------- */

/* u <- Phi'u + E'w until the change is below eps |u| */
static int solve_fixed_point(altdiff_work *w, adjoint *a, const altdiff_deriv_settings *ds,
                             const double *wt, double *u, double *v, altdiff_deriv_info *info)
{
    altdiff_int N = a->N, k = 0;
    double change = INFINITY, size = 0;
    ad_fill(u, 0, N);
    ad_copy(u, wt, a->n); /* u = E'w */
    while (k++ < ds->max_iter) {
        int status = sweep_transpose(w, a, u, v);
        if (status != ALTDIFF_OK) return status;
        ad_axpy(v, 1.0, wt, a->n); /* v = Phi'u + E'w */
        change = 0;
        for (altdiff_int t = 0; t < N; t++) change = ad_max(change, fabs(v[t] - u[t]));
        size = ad_nrm_inf(v, N);
        ad_copy(u, v, N);
        if (change <= ds->eps * size) break;
    }
    info->iter = k > ds->max_iter ? ds->max_iter : k;
    info->residual = size > 0 ? change / size : change;
    info->status = change <= ds->eps * size ? ALTDIFF_SOLVED : ALTDIFF_MAX_ITER;
    return sweep_transpose(w, a, u, v); /* Psi'u at the final u */
}

/* ---- restarted GMRES on (I - Phi') u = E'w -------------------------------- */

/* y = (I - Phi') x */
static int apply_operator(altdiff_work *w, adjoint *a, const double *x, double *y)
{
    int status = sweep_transpose(w, a, x, y);
    for (altdiff_int t = 0; t < a->N; t++) y[t] = x[t] - y[t];
    return status;
}

/* Givens rotation (c, s) that zeroes b in (a, b) */
static void givens(double a, double b, double *c, double *s)
{
    double r = hypot(a, b);
    *c = r > 0 ? a / r : 1;
    *s = r > 0 ? b / r : 0;
}

typedef struct {
    altdiff_int k;     /* restart length                  */
    double *V, *Hh;    /* basis N x (k+1), Hessenberg (k+1) x k */
    double *cs, *sn, *g, *y;
} gmres_space;

/* One GMRES cycle from u: up to k Arnoldi steps (modified Gram-Schmidt; no
 * more than max_iters in all), then u += V y. Returns the residual norm
 * estimate in *res. */
static int gmres_cycle(altdiff_work *w, adjoint *a, gmres_space *G, const double *rhs,
                       double *u, double bnorm, double tol, double *res, altdiff_int *iters,
                       altdiff_int max_iters)
{
    altdiff_int N = a->N, k = G->k, j;
    double *V = G->V, *Hh = G->Hh;
    int status = apply_operator(w, a, u, V);
    for (altdiff_int t = 0; t < N; t++) V[t] = rhs[t] - V[t]; /* r0 = b - K u */
    double beta = sqrt(ad_dot(V, V, N));
    *res = beta;
    if (status != ALTDIFF_OK || beta <= tol * bnorm) return status;
    for (altdiff_int t = 0; t < N; t++) V[t] /= beta;
    ad_fill(G->g, 0, k + 1);
    G->g[0] = beta;
    for (j = 0; j < k && *res > tol * bnorm && *iters < max_iters; j++) {
        double *vj1 = V + (j + 1) * N;
        if ((status = apply_operator(w, a, V + j * N, vj1)) != ALTDIFF_OK) return status;
        (*iters)++;
        for (altdiff_int i = 0; i <= j; i++) { /* modified Gram-Schmidt */
            double hij = ad_dot(vj1, V + i * N, N);
            Hh[i + j * (k + 1)] = hij;
            ad_axpy(vj1, -hij, V + i * N, N);
        }
        double h1 = sqrt(ad_dot(vj1, vj1, N));
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
        *res = fabs(G->g[j + 1]);
    }
    for (altdiff_int i = j - 1; i >= 0; i--) { /* back substitution H y = g */
        double t0 = G->g[i];
        for (altdiff_int l = i + 1; l < j; l++) t0 -= Hh[i + l * (k + 1)] * G->y[l];
        G->y[i] = t0 / Hh[i + i * (k + 1)];
    }
    for (altdiff_int i = 0; i < j; i++) ad_axpy(u, G->y[i], V + i * N, N); /* u += V y */
    return ALTDIFF_OK;
}

static int solve_gmres(altdiff_work *w, adjoint *a, const altdiff_deriv_settings *ds,
                       const double *wt, double *u, double *rhs, altdiff_deriv_info *info)
{
    altdiff_int N = a->N, k = ds->restart, iters = 0;
    gmres_space G = {k, NULL, NULL, NULL, NULL, NULL, NULL};
    G.V = ad_malloc((size_t)(N * (k + 1)), sizeof(double));
    G.Hh = ad_calloc((size_t)((k + 1) * k), sizeof(double));
    G.cs = ad_malloc((size_t)k, sizeof(double));
    G.sn = ad_malloc((size_t)k, sizeof(double));
    G.g = ad_malloc((size_t)k + 1, sizeof(double));
    G.y = ad_malloc((size_t)k, sizeof(double));
    int status = (G.V && G.Hh && G.cs && G.sn && G.g && G.y) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    ad_fill(rhs, 0, N);
    ad_copy(rhs, wt, a->n); /* b = E'w */
    ad_fill(u, 0, N);
    double bnorm = sqrt(ad_dot(rhs, rhs, N)), res = bnorm;
    while (status == ALTDIFF_OK && iters < ds->max_iter && res > ds->eps * bnorm) {
        altdiff_int before = iters;
        status = gmres_cycle(w, a, &G, rhs, u, bnorm, ds->eps, &res, &iters, ds->max_iter);
        if (iters == before) break; /* converged at the restart */
    }
    if (status == ALTDIFF_OK) { /* the true residual, not the estimate */
        status = apply_operator(w, a, u, G.V);
        for (altdiff_int t = 0; t < N; t++) G.V[t] = rhs[t] - G.V[t];
        res = sqrt(ad_dot(G.V, G.V, N));
    }
    info->iter = iters;
    info->residual = bnorm > 0 ? res / bnorm : res;
    info->status = info->residual <= ds->eps ? ALTDIFF_SOLVED : ALTDIFF_MAX_ITER;
    if (status == ALTDIFF_OK) status = sweep_transpose(w, a, u, rhs); /* Psi'u */
    void *bufs[] = {G.V, G.Hh, G.cs, G.sn, G.g, G.y};
    for (int b = 0; b < 6; b++) ad_free(bufs[b]);
    return status;
}

/* The scratch of an adjoint and the two vectors u, v of length N */
static int adjoint_alloc(adjoint *a, double **u, double **v)
{
    *u = ad_malloc((size_t)a->N, sizeof(double));
    *v = ad_malloc((size_t)a->N, sizeof(double));
    a->tb = ad_malloc((size_t)a->n, sizeof(double));
    a->gb = ad_malloc((size_t)a->p, sizeof(double));
    a->ab = ad_malloc((size_t)a->m, sizeof(double));
    a->Ar = ad_malloc((size_t)a->m, sizeof(double));
    a->Gr = ad_malloc((size_t)a->p, sizeof(double));
    return (*u && *v && a->tb && a->gb && a->ab && a->Ar && a->Gr) ? ALTDIFF_OK
                                                                   : ALTDIFF_ERR_NOMEM;
}

static void adjoint_free(adjoint *a, double *u, double *v)
{
    void *bufs[] = {u, v, a->tb, a->gb, a->ab, a->Ar, a->Gr};
    for (int b = 0; b < 7; b++) ad_free(bufs[b]);
}

int ad_adjoint_vjp(altdiff_work *w, const altdiff_deriv_settings *ds, const double *wt,
                   double *gq, double *gb, double *gh, altdiff_deriv_info *info)
{
    altdiff_int n = w->n, m = w->m, p = w->p;
    adjoint a = {n, m, p, n + 2 * p + m, NULL, NULL, NULL, NULL, NULL, gq, gb, gh, NULL};
    double *u = NULL, *v = NULL;
    int status = adjoint_alloc(&a, &u, &v);
    if (status == ALTDIFF_OK)
        status = ds->mode == ALTDIFF_MODE_GMRES ? solve_gmres(w, &a, ds, wt, u, v, info)
                                                : solve_fixed_point(w, &a, ds, wt, u, v, info);
    adjoint_free(&a, u, v);
    return status;
}

/* ---- unrolled reverse mode ------------------------------------------------------ */

/* Through the K recorded sweeps z_k = T_k(z_{k-1}, theta) (z_0 held fixed):
 *   u_K = E'w,  u_{k-1} = Phi_k' u_k,  dL/dtheta = sum_k Psi_k' u_k. */
int ad_unroll_vjp(altdiff_work *w, const double *wt, double *gq, double *gb, double *gh,
                  altdiff_deriv_info *info)
{
    altdiff_int n = w->n, m = w->m, p = w->p;
    double *acc = ad_calloc((size_t)(n + m + p), sizeof(double));
    adjoint a = {n, m, p, n + 2 * p + m, NULL, NULL, NULL, NULL, NULL,
                 NULL, NULL, NULL, NULL};
    double *u = NULL, *v = NULL;
    int status = acc ? adjoint_alloc(&a, &u, &v) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) {
        a.qbar = gq;
        a.bbar = gb;
        a.hbar = gh;
        ad_fill(u, 0, a.N);
        ad_copy(u, wt, n); /* u_K = E'w */
    }
    for (altdiff_int k = w->mask_iters - 1; k >= 0 && status == ALTDIFF_OK; k--) {
        a.mask = w->masks + k * w->mask_row;
        status = sweep_transpose(w, &a, u, v); /* v = Phi_k'u, Psi_k'u */
        ad_axpy(acc, 1.0, gq, n);
        ad_axpy(acc + n, 1.0, gb, m);
        ad_axpy(acc + n + m, 1.0, gh, p);
        double *t = u;
        u = v;
        v = t;
    }
    if (status == ALTDIFF_OK) {
        ad_copy(gq, acc, n);
        ad_copy(gb, acc + n, m);
        ad_copy(gh, acc + n + m, p);
    }
    info->iter = w->mask_iters;
    adjoint_free(&a, u, v);
    ad_free(acc);
    return status;
}
