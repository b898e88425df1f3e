/*
 * adjoint.c: reverse mode, folded (doc/MATH.md): with the ADMM sweep written as
 * z+ = T(z, theta), z = (x, s, lam, nu), linearized at the fixed point as
 * z+ = Phi z + Psi theta with the slack mask frozen, and the output x = E z,
 *
 *     (I - Phi)' u = E' w,        dL/dtheta = Psi' u,    theta = (q, b, h).
 *
 * Phi' and Psi' are the transposed steps of the relaxed sweep of admm.c in
 * reverse order (one solve with the factor of H each). The system is solved by
 * ad_fold_solve (fold.c), the fixed-point iteration u <- Phi'u + E'w or
 * restarted GMRES on the same operator, with sweep_transpose as the operator;
 * convergence is measured and reported, never assumed. Psi'u comes from one
 * more sweep at the final u.
 *
 * The vector u is stored contiguously as [x (n) | s (p) | lam (m) | nu (p)].
 * Every sweep's output lies in the subspace S where s-bar lives on the rows
 * with s > 0 (mask D) and nu-bar on the others (s+ = D(...) and nu+ = 0 on
 * D), so Phi = P_S Phi, Psi = P_S Psi, and the folded system is solved for
 * P_S u alone: r = [x (n) | lam (m) | c (p)], c_k = D_k ? s_k : nu_k, which
 * takes n + m + p numbers instead of n + m + 2p (GMRES memory and work).
 */
#include "ad_fold.h"
#include "ad_internal.h"

typedef struct {
    ad_model *md;
    ad_state *st;
    altdiff_int n, m, p, N;   /* N = n + 2p + m                       */
    double *uf, *vf;          /* full vectors (N) around the reduced solve */
    double *tb, *gb, *ab, *Ar, *Gr; /* scratch: n, p, m, m, p         */
    double *qbar, *bbar, *hbar;     /* Psi'u of the last sweep        */
    const unsigned char *mask;      /* recorded mask, or NULL: s > 0  */
} adjoint;

/* D_kk of the sweep: 1 where s+ > 0 */
static int slack_positive(const ad_state *st, const adjoint *a, altdiff_int k)
{
    return a->mask ? (a->mask[k / 8] >> (k % 8)) & 1 : st->s[k] > 0;
}

/* out = Phi'u, and Psi'u into a->qbar, bbar, hbar. The forward sweep is
 *   r = sigma x - q - A'lam - G'nu + rho A'b - rho G'(s - h);  t = H^-1 r
 *   a = alpha A t + (1-alpha) b;   g = alpha G t + (1-alpha)(h - s)
 *   s+ = D(-nu/rho - g + h);  lam+ = lam + rho(a - b);  nu+ = nu + rho(g + s+ - h)
 *   x+ = alpha t + (1-alpha) x
 * and this is its transpose, step by step from the end. */
static int sweep_transpose(ad_model *md, ad_state *st, adjoint *a, const double *u, double *out)
{
    altdiff_int n = a->n, m = a->m, p = a->p;
    double rho = md->F.rho, sigma = md->F.sigma, alpha = md->set.alpha;
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
        double yb = slack_positive(st, a, k) ? sb[k] + rho * nb[k] : 0;   /* y-bar = D (s+-bar + rho nu+-bar) */
        on[k] = nb[k] - yb / rho;                            /* nu-bar                        */
        a->gb[k] = rho * nb[k] - yb;                         /* g-bar                         */
        a->hbar[k] = -rho * nb[k] + yb + (1 - alpha) * a->gb[k];
        os[k] = -(1 - alpha) * a->gb[k];                     /* s-bar from g = ...(h - s)     */
        a->gb[k] *= alpha;
    }
    for (altdiff_int i = 0; i < m; i++) a->ab[i] *= alpha;
    ad_block_mul_t(&md->Gb, a->gb, a->tb); /* t-bar += alpha G' g-bar */
    ad_block_mul_t(&md->Ab, a->ab, a->tb); /* t-bar += alpha A' a-bar */
    int status = ad_factor_solve(&md->F, a->tb); /* r-bar = H^-1 t-bar */
    if (status != ALTDIFF_OK) return status;
    ad_fill(a->Ar, 0, m);
    ad_fill(a->Gr, 0, p);
    ad_block_mul(&md->Ab, a->tb, a->Ar);
    ad_block_mul(&md->Gb, a->tb, a->Gr);
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

/* ---- the folded solve ---------------------------------------------------------- */

/* u = S r: the full vector of the reduced r = [x | lam | c] */
static void expand(const ad_state *st, const adjoint *a, const double *r, double *u)
{
    altdiff_int n = a->n, m = a->m, p = a->p;
    ad_copy(u, r, n);
    ad_copy(u + n + p, r + n, m);
    for (altdiff_int k = 0; k < p; k++) {
        int d = slack_positive(st, a, k);
        u[n + k] = d ? r[n + m + k] : 0;         /* s-bar on D      */
        u[n + p + m + k] = d ? 0 : r[n + m + k]; /* nu-bar off D    */
    }
}

/* r = S'u */
static void project(const ad_state *st, const adjoint *a, const double *u, double *r)
{
    altdiff_int n = a->n, m = a->m, p = a->p;
    ad_copy(r, u, n);
    ad_copy(r + n, u + n + p, m);
    for (altdiff_int k = 0; k < p; k++)
        r[n + m + k] = slack_positive(st, a, k) ? u[n + k] : u[n + p + m + k];
}

/* out = S'Phi'S r (the operator of the folded solve; Psi'u is overwritten) */
static int sweep_operator(void *ctx, const double *r, double *out)
{
    adjoint *a = ctx;
    expand(a->st, a, r, a->uf);
    int status = sweep_transpose(a->md, a->st, a, a->uf, a->vf);
    if (status == ALTDIFF_OK) project(a->st, a, a->vf, out);
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

int ad_adjoint_vjp(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, const double *wt,
                   double *gq, double *gb, double *gh, altdiff_deriv_info *info)
{
    altdiff_int n = md->n, m = md->m, p = md->p, Nr = n + m + p;
    adjoint a = {md, st,    n,    m,  p,  n + 2 * p + m, NULL, NULL, NULL, NULL,
                 NULL, NULL, NULL, gq, gb, gh,      NULL};
    ad_fold_op op = {Nr, sweep_operator, &a};
    double *r = ad_malloc((size_t)Nr, sizeof(double)), *rhs = ad_malloc((size_t)Nr, sizeof(double));
    int status = r && rhs ? adjoint_alloc(&a, &a.uf, &a.vf) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) {
        ad_fill(rhs, 0, Nr);
        ad_copy(rhs, wt, n);                           /* S'E'w = (md, st, 0, 0)        */
        status = ad_fold_solve(&op, ds, rhs, r, info); /* (I - S'Phi'S) r = S'E'w  */
    }
    if (status == ALTDIFF_OK) {
        expand(st, &a, r, a.uf);                               /* P_S u = S r */
        status = sweep_transpose(md, st, &a, a.uf, a.vf);          /* Psi'u       */
    }
    adjoint_free(&a, a.uf, a.vf);
    ad_free(r);
    ad_free(rhs);
    return status;
}

/* ---- unrolled reverse mode ------------------------------------------------------ */

/* Through the K recorded sweeps z_k = T_k(z_{k-1}, theta) (z_0 held fixed):
 *   u_K = E'w,  u_{k-1} = Phi_k' u_k,  dL/dtheta = sum_k Psi_k' u_k. */
int ad_unroll_vjp(ad_model *md, ad_state *st, const double *wt, double *gq, double *gb, double *gh,
                  altdiff_deriv_info *info)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double *acc = ad_calloc((size_t)(n + m + p), sizeof(double));
    adjoint a = {md, st,    n,    m,    p,    n + 2 * p + m, NULL, NULL, NULL, NULL,
                 NULL, NULL, NULL, NULL, NULL, NULL,          NULL};
    double *u = NULL, *v = NULL;
    int status = acc ? adjoint_alloc(&a, &u, &v) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) {
        a.qbar = gq;
        a.bbar = gb;
        a.hbar = gh;
        ad_fill(u, 0, a.N);
        ad_copy(u, wt, n); /* u_K = E'w */
    }
    for (altdiff_int k = st->mask_iters - 1; k >= 0 && status == ALTDIFF_OK; k--) {
        a.mask = st->masks + k * st->mask_row;
        if (md->xu->linearize) /* the x-update of sweep k is linearized at its x~ */
            status = md->xu->linearize(md, md->obj.xrec + k * n);
        if (status == ALTDIFF_OK) status = sweep_transpose(md, st, &a, u, v); /* Phi_k'u, Psi_k'u */
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
    if (md->xu->linearize) { /* the factor at the solution again */
        int refreshed = md->xu->linearize(md, st->x);
        if (status == ALTDIFF_OK) status = refreshed;
    }
    info->iter = st->mask_iters;
    adjoint_free(&a, u, v);
    ad_free(acc);
    return status;
}
