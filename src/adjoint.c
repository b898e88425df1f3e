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
#include <string.h>

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

/* The scratch of one column of a transposed sweep */
typedef struct {
    double *tb, *gb, *ab, *Ar, *Gr;   /* n, p, m, m, p                   */
    double *qbar, *bbar, *hbar;       /* Psi'u: n, m, p                  */
} sweep_col;

/* The transposed sweep up to the solve (see sweep_transpose): t-bar before
 * its products, a-bar, g-bar, and the parts of out and Psi'u they give */
static void transpose_pre(const ad_model *md, const ad_state *st, const adjoint *a,
                          const double *u, double *out, sweep_col *c)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double rho = md->F.rho, alpha = md->set.alpha;
    const double *xb = u, *sb = u + n, *lb = u + n + p, *nb = u + n + p + m;
    double *ox = out, *os = out + n, *ol = out + n + p, *on = out + n + p + m;
    for (altdiff_int j = 0; j < n; j++) {
        c->tb[j] = alpha * xb[j];       /* t-bar  = alpha x+-bar       */
        ox[j] = (1 - alpha) * xb[j];    /* x-bar  = (1-alpha) x+-bar   */
    }
    for (altdiff_int i = 0; i < m; i++) {
        double ra = rho * ad_eq_weight(md, i);      /* w_i rho                 */
        ol[i] = lb[i];                              /* lam-bar = lam+-bar      */
        c->ab[i] = ra * lb[i];                      /* a-bar = w rho lam+-bar  */
        c->bbar[i] = -ra * lb[i] + (1 - alpha) * c->ab[i];
        c->ab[i] *= alpha;
    }
    for (altdiff_int k = 0; k < p; k++) {
        double yb = slack_positive(st, a, k) ? sb[k] + rho * nb[k] : 0;   /* y-bar = D (s+-bar + rho nu+-bar) */
        on[k] = nb[k] - yb / rho;                            /* nu-bar                        */
        c->gb[k] = rho * nb[k] - yb;                         /* g-bar                         */
        c->hbar[k] = -rho * nb[k] + yb + (1 - alpha) * c->gb[k];
        os[k] = -(1 - alpha) * c->gb[k];                     /* s-bar from g = ...(h - s)     */
        c->gb[k] *= alpha;
    }
}

/* After the solve r-bar = H^-1 t-bar (in c->tb) and Ar = A r-bar, Gr = G r-bar */
static void transpose_post(const ad_model *md, double *out, sweep_col *c)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double rho = md->F.rho, sigma = md->F.sigma;
    double *ox = out, *os = out + n, *ol = out + n + p, *on = out + n + p + m;
    for (altdiff_int j = 0; j < n; j++) {
        ox[j] += sigma * c->tb[j]; /* x-bar += sigma r-bar */
        c->qbar[j] = -c->tb[j];    /* q-bar  = -r-bar       */
    }
    for (altdiff_int i = 0; i < m; i++) {
        ol[i] -= c->Ar[i];                                /* lam-bar -= A r-bar          */
        c->bbar[i] += rho * ad_eq_weight(md, i) * c->Ar[i]; /* b-bar += w_i rho A r-bar */
    }
    for (altdiff_int k = 0; k < p; k++) {
        on[k] -= c->Gr[k];              /* nu-bar -= G r-bar       */
        os[k] -= rho * c->Gr[k];        /* s-bar  -= rho G r-bar   */
        c->hbar[k] += rho * c->Gr[k];   /* h-bar  += rho G r-bar   */
    }
}

/* out = Phi'u, and Psi'u into a->qbar, bbar, hbar. The forward sweep is
 *   r = sigma x - q - A'lam - G'nu + rho A'b - rho G'(s - h);  t = H^-1 r
 *   a = alpha A t + (1-alpha) b;   g = alpha G t + (1-alpha)(h - s)
 *   s+ = D(-nu/rho - g + h);  lam+ = lam + rho(a - b);  nu+ = nu + rho(g + s+ - h)
 *   x+ = alpha t + (1-alpha) x
 * and this is its transpose, step by step from the end. */
static int sweep_transpose(ad_model *md, ad_state *st, adjoint *a, const double *u, double *out)
{
    sweep_col c = {a->tb, a->gb, a->ab, a->Ar, a->Gr, a->qbar, a->bbar, a->hbar};
    transpose_pre(md, st, a, u, out, &c);
    ad_block_mul_t(&md->Gb, c.gb, c.tb); /* t-bar += alpha G' g-bar */
    ad_block_mul_t(&md->Ab, c.ab, c.tb); /* t-bar += alpha A' a-bar */
    int status = ad_factor_solve(&md->F, c.tb); /* r-bar = H^-1 t-bar */
    if (status != ALTDIFF_OK) return status;
    ad_fill(c.Ar, 0, md->m);
    ad_fill(c.Gr, 0, md->p);
    ad_block_mul(&md->Ab, c.tb, c.Ar);
    ad_block_mul(&md->Gb, c.tb, c.Gr);
    transpose_post(md, out, &c);
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
        ad_copy(rhs, wt, n);                           /* S'E'w = (w, 0, 0)             */
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
 *   u_K = E'w,  u_{k-1} = Phi_k' u_k,  dL/dtheta = sum_k Psi_k' u_k.
 * When the solution is the last Newton point x~_K rather than the relaxed
 * x_K (smooth objectives), L = w'x~_K = w'(x_K - (1 - alpha) x_{K-1}) / alpha:
 * the seed is w / alpha at x_K and -(1 - alpha) w / alpha at x_{K-1}. */
int ad_unroll_vjp(ad_model *md, ad_state *st, const double *wt, double *gq, double *gb, double *gh,
                  altdiff_deriv_info *info)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    int newton = md->xu->check_newton_point;
    double alpha = md->set.alpha;
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
        ad_axpy(u, newton ? 1 / alpha : 1, wt, n); /* u_K = E'w (/ alpha) */
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
        if (newton && k == st->mask_iters - 1) ad_axpy(u, -(1 - alpha) / alpha, wt, n);
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

/* ---- many elements of a batch together ------------------------------------------ */

/* The folded reverse mode of B solved states sharing the model: their
 * GMRES runs in lockstep (ad_fold_solve_many) and every round's transposed
 * sweeps are one block: products with A', G', A, G on blocks of columns and
 * one solve with the factor of H for all of them. */
typedef struct {
    ad_model *md;
    ad_state **el;            /* B states                                   */
    adjoint one;              /* n, m, p, N and mask (NULL) for the helpers */
    double *UF, *VF;          /* full vectors, N x B                        */
    double *TB, *GB, *AB, *AR, *GR, *QB, *BB, *HB; /* n, p, m, m, p, n, m, p x B */
    ad_solve_work ws;         /* the block solve's workspaces               */
} adjoint_many;

/* The scratch of column c */
static sweep_col many_col(const adjoint_many *am, altdiff_int c)
{
    altdiff_int n = am->one.n, m = am->one.m, p = am->one.p;
    sweep_col s = {am->TB + c * n, am->GB + c * p, am->AB + c * m, am->AR + c * m,
                   am->GR + c * p, am->QB + c * n, am->BB + c * m, am->HB + c * p};
    return s;
}

/* OUT(:, c) = Phi_e'U(:, c) (full vectors) for e = idx[c], and Psi_e'u into
 * the Psi'u blocks */
static int many_transpose(adjoint_many *am, const altdiff_int *idx, altdiff_int d,
                          const double *U, double *OUT)
{
    ad_model *md = am->md;
    altdiff_int N = am->one.N;
    for (altdiff_int c = 0; c < d; c++) {
        sweep_col s = many_col(am, c);
        transpose_pre(md, am->el[idx[c]], &am->one, U + c * N, OUT + c * N, &s);
    }
    ad_block_mul_t_cols(&md->Gb, am->GB, d, am->TB); /* T-bar += alpha G' G-bar */
    ad_block_mul_t_cols(&md->Ab, am->AB, d, am->TB); /* T-bar += alpha A' A-bar */
    int status = ad_factor_solve_block(&md->F, am->TB, d, &am->ws); /* R-bar = H \ T-bar */
    if (status != ALTDIFF_OK) return status;
    ad_fill(am->AR, 0, md->m * d);
    ad_fill(am->GR, 0, md->p * d);
    ad_block_mul_cols(&md->Ab, am->TB, d, am->AR);
    ad_block_mul_cols(&md->Gb, am->TB, d, am->GR);
    for (altdiff_int c = 0; c < d; c++) {
        sweep_col s = many_col(am, c);
        transpose_post(md, OUT + c * N, &s);
    }
    return ALTDIFF_OK;
}

/* The operator of the folded solves: OUT(:, c) = S'Phi_e'S R(:, c) */
static int many_operator(void *ctx, const altdiff_int *idx, altdiff_int d, const double *R,
                         double *OUT)
{
    adjoint_many *am = ctx;
    altdiff_int N = am->one.N, Nr = N - am->one.p;
    for (altdiff_int c = 0; c < d; c++)
        expand(am->el[idx[c]], &am->one, R + c * Nr, am->UF + c * N);
    int status = many_transpose(am, idx, d, am->UF, am->VF);
    for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c++)
        project(am->el[idx[c]], &am->one, am->VF + c * N, OUT + c * Nr);
    return status;
}

static int many_alloc(adjoint_many *am, altdiff_int B)
{
    altdiff_int n = am->one.n, m = am->one.m, p = am->one.p, N = am->one.N;
    double **v[] = {&am->UF, &am->VF, &am->TB, &am->GB, &am->AB, &am->AR, &am->GR,
                    &am->QB, &am->BB, &am->HB};
    altdiff_int len[] = {N, N, n, p, m, m, p, n, m, p};
    int ok = 1;
    for (size_t k = 0; k < sizeof(len) / sizeof(len[0]); k++) {
        /* all touched: mapped at once */
        *v[k] = ad_malloc_mapped((size_t)(len[k] > 0 ? len[k] : 1) * (size_t)B, sizeof(double));
        ok = ok && *v[k];
    }
    return ok ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
}

static void many_free(adjoint_many *am)
{
    void *bufs[] = {am->UF, am->VF, am->TB, am->GB, am->AB, am->AR, am->GR, am->QB,
                    am->BB, am->HB};
    for (size_t k = 0; k < sizeof(bufs) / sizeof(bufs[0]); k++) ad_free(bufs[k]);
    ad_solve_work_free(&am->ws, &am->md->F.cm);
}

int ad_adjoint_vjp_many(ad_model *md, ad_state **el, altdiff_int B,
                        const altdiff_deriv_settings *ds, const double *WT, double *GQ,
                        double *GB, double *GH, altdiff_deriv_info *info)
{
    altdiff_int n = md->n, m = md->m, p = md->p, Nr = n + m + p, N = n + 2 * p + m;
    adjoint_many am;
    memset(&am, 0, sizeof(am));
    am.md = md;
    am.el = el;
    am.one.n = n, am.one.m = m, am.one.p = p, am.one.N = N;
    ad_fold_block_op op = {Nr, many_operator, &am};
    double *Rr = ad_malloc_mapped((size_t)Nr, (size_t)B * sizeof(double));
    double *Ur = ad_malloc_mapped((size_t)Nr, (size_t)B * sizeof(double));
    altdiff_int *all = ad_malloc((size_t)B, sizeof(altdiff_int));
    int status = (Rr && Ur && all) ? many_alloc(&am, B) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) ad_fill(Rr, 0, Nr * B);
    for (altdiff_int e = 0; e < B && status == ALTDIFF_OK; e++) {
        ad_copy(Rr + e * Nr, WT + e * n, n); /* S'E'w = (w, 0, 0) */
        all[e] = e;
    }
    if (status == ALTDIFF_OK) status = ad_fold_solve_many(&op, B, ds, Rr, Ur, info);
    for (altdiff_int e = 0; e < B && status == ALTDIFF_OK; e++)
        expand(el[e], &am.one, Ur + e * Nr, am.UF + e * N); /* P_S u = S r */
    if (status == ALTDIFF_OK) status = many_transpose(&am, all, B, am.UF, am.VF); /* Psi'u */
    if (status == ALTDIFF_OK) {
        ad_copy(GQ, am.QB, n * B);
        ad_copy(GB, am.BB, m * B);
        ad_copy(GH, am.HB, p * B);
    }
    many_free(&am);
    ad_free(Rr);
    ad_free(Ur);
    ad_free(all);
    return status;
}
