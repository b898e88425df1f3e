/*
 * admm.c: the Alt-Diff ADMM iterations (doc/MATH.md, "Forward"), on the scaled
 * data, with over-relaxation alpha (alpha = 1 is the plain map):
 *
 *     x~   = H^-1 ( sigma x - q - A'lam - G'nu + rho A'b - rho G'(s - h) )
 *     Ax^  = alpha A x~ + (1 - alpha) b              (relaxed constraint values)
 *     Gx^  = alpha G x~ + (1 - alpha) (h - s)
 *     s+   = max(0, -nu/rho - (Gx^ - h))
 *     lam+ = lam + rho (Ax^ - b)
 *     nu+  = nu  + rho (Gx^ + s+ - h)
 *     x+   = alpha x~ + (1 - alpha) x
 *
 * The fixed point is the one of the plain map. Since nu + rho (Gx^ - h) = v
 * gives s+ = max(0, -v/rho) and nu+ = max(v, 0), every iterate has s >= 0,
 * nu >= 0 and s_i nu_i = 0 exactly.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "ad_internal.h"
#include "blas.h"

typedef residuals_t residuals;

/* ---- one iteration -------------------------------------------------------- */

/* wa (m) = rho b - lam, wg (p) = rho (h - s) - nu, rhs (n) = sigma x - q:
 * the parts of the x-update's right-hand side before the products */
static void rhs_parts(const ad_model *md, const ad_state *st, double rho, double sigma,
                      double *rhs, double *wa, double *wg)
{
    for (altdiff_int j = 0; j < md->n; j++) rhs[j] = sigma * st->x[j] - st->q[j];
    for (altdiff_int i = 0; i < md->m; i++) /* w_i rho: the equality rows' penalty */
        wa[i] = rho * ad_eq_weight(md, i) * st->b[i] - st->lam[i];
    for (altdiff_int k = 0; k < md->p; k++) wg[k] = rho * (st->h[k] - st->s[k]) - st->nu[k];
}

/* rhs = sigma x - q - A'(lam - rho b) - G'(nu + rho (s - h)) */
static void x_rhs(const ad_model *md, ad_state *st, double rho, double sigma)
{
    rhs_parts(md, st, rho, sigma, st->rhs, st->Ax, st->Gx);
    ad_block_mul_t(&md->Ab, st->Ax, st->rhs); /* rhs += A'(rho b - lam)           */
    ad_block_mul_t(&md->Gb, st->Gx, st->rhs); /* rhs += G'(rho (h - s) - nu)      */
}

/* s, lam, nu from Ax = A x~ (m) and Gx = G x~ (p) with relaxation alpha;
 * mask (NULL or p bits) records which s+ are positive */
static void constraint_step(const ad_model *md, ad_state *st, const double *Ax,
                            const double *Gx, double rho, double alpha, unsigned char *mask)
{
    for (altdiff_int i = 0; i < md->m; i++) /* lam+ = lam + w_i rho (Ax^ - b) */
        st->lam[i] += rho * ad_eq_weight(md, i) * alpha * (Ax[i] - st->b[i]);
    double rho_inv = 1 / rho;
    for (altdiff_int k = 0; k < md->p; k++) {
        double gx = alpha * Gx[k] + (1 - alpha) * (st->h[k] - st->s[k]); /* Gx^        */
        double v = st->nu[k] + rho * (gx - st->h[k]);                 /* v = nu + rho (Gx^ - h) */
        st->s[k] = ad_max(0, -v * rho_inv);      /* s+  = max(0, -nu/rho - (Gx^ - h))        */
        st->nu[k] = ad_max(v, 0);                /* nu+ = nu + rho (Gx^ + s+ - h) = max(v, 0) */
        if (mask && st->s[k] > 0) mask[k / 8] |= (unsigned char)(1u << (k % 8));
    }
}

/* s, lam, nu from x~ (in st->xt) */
static void constraint_update(const ad_model *md, ad_state *st, double rho, double alpha,
                              unsigned char *mask)
{
    ad_fill(st->Ax, 0, md->m);
    ad_fill(st->Gx, 0, md->p);
    ad_block_mul(&md->Ab, st->xt, st->Ax); /* Ax = A x~ */
    ad_block_mul(&md->Gb, st->xt, st->Gx); /* Gx = G x~ */
    constraint_step(md, st, st->Ax, st->Gx, rho, alpha, mask);
}

/* Room for the mask of one more iteration (settings.record); the buffer
 * doubles when full, so recording allocates O(log iterations) times. */
static unsigned char *next_mask(ad_state *st)
{
    if (st->mask_iters == st->mask_cap) {
        altdiff_int cap = 2 * st->mask_cap + 64;
        unsigned char *m = ad_realloc(st->masks, (size_t)cap, (size_t)st->mask_row);
        if (!m) return NULL;
        st->masks = m;
        st->mask_cap = cap;
    }
    unsigned char *row = st->masks + st->mask_iters++ * st->mask_row;
    for (altdiff_int b = 0; b < st->mask_row; b++) row[b] = 0;
    return row;
}

/* One ADMM sweep at the factored rho, sigma */
static int admm_step(ad_model *md, ad_state *st)
{
    double rho = md->F.rho, sigma = md->F.sigma, alpha = md->set.alpha;
    unsigned char *mask = md->set.record ? next_mask(st) : NULL;
    if (md->set.record && !mask) return ALTDIFF_ERR_NOMEM;
    x_rhs(md, st, rho, sigma);
    int status = md->xu->x_update(md, st); /* x~ = argmin of the augmented Lagrangian */
    if (status != ALTDIFF_OK) return status;
    constraint_update(md, st, rho, alpha, mask);
    for (altdiff_int j = 0; j < md->n; j++)
        st->x[j] = alpha * st->xt[j] + (1 - alpha) * st->x[j]; /* x+ = alpha x~ + (1-alpha) x */
    return ALTDIFF_OK;
}

/* The iterates before a check's sweep: the infeasibility tests difference them */
static void remember_previous(const ad_model *md, ad_state *st)
{
    ad_copy(st->x_prev, st->x, md->n);
    ad_copy(st->lam_prev, st->lam, md->m);
    ad_copy(st->nu_prev, st->nu, md->p);
}

/* ---- infeasibility -------------------------------------------------------- */

/* Primal infeasibility (OSQP's test) on dy = (lam - lam_prev, max(nu -
 * nu_prev, 0)): |A'dlam + G'dnu| <= eps |dy| and b'dlam + h'dnu < -eps |dy|,
 * in original units. Stores the normalized certificate. */
static int primal_infeasible(ad_model *md, ad_state *st)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double eps = md->set.eps_pinf, *dl = st->Ax, *dn = st->Gx, *v = st->wn;
    for (altdiff_int i = 0; i < m; i++) dl[i] = st->lam[i] - st->lam_prev[i];
    for (altdiff_int k = 0; k < p; k++) dn[k] = ad_max(st->nu[k] - st->nu_prev[k], 0);
    double norm = md->sc.cinv * ad_max(ad_nrm_inf_scaled(dl, md->sc.E, m),
                                 ad_nrm_inf_scaled(dn, md->sc.E + m, p));
    if (norm <= eps) return 0;
    double lhs = md->sc.cinv * (ad_dot(st->b, dl, m) + ad_dot(st->h, dn, p)); /* b'dlam + h'dnu */
    if (lhs >= -eps * norm) return 0;
    ad_fill(v, 0, n);
    ad_block_mul_t(&md->Ab, dl, v);
    ad_block_mul_t(&md->Gb, dn, v);
    if (md->sc.cinv * ad_nrm_inf_scaled(v, md->sc.Dinv, n) > eps * norm) return 0;
    for (altdiff_int i = 0; i < m; i++) st->cert_lam[i] = md->sc.cinv * md->sc.E[i] * dl[i] / norm;
    for (altdiff_int k = 0; k < p; k++) st->cert_nu[k] = md->sc.cinv * md->sc.E[m + k] * dn[k] / norm;
    return 1;
}

/* Dual infeasibility on dx = x - x_prev: |P dx| <= eps |dx|, |A dx| <= eps
 * |dx|, G dx <= eps |dx|, q'dx < -eps |dx| (original units). */
static int dual_infeasible(ad_model *md, ad_state *st)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double eps = md->set.eps_dinf, *dx = st->wn, *v = st->wn2;
    if (!md->xu->detects_unbounded) return 0; /* smooth objectives (altdiff.h) */
    for (altdiff_int j = 0; j < n; j++) dx[j] = st->x[j] - st->x_prev[j];
    double norm = ad_nrm_inf_scaled(dx, md->sc.D, n);
    if (norm <= eps) return 0;
    if (md->sc.cinv * ad_dot(st->q, dx, n) >= -eps * norm) return 0;      /* q'dx < 0  */
    ad_fill(v, 0, n);
    ad_sym_mul(md->P, dx, v);
    if (md->sc.cinv * ad_nrm_inf_scaled(v, md->sc.Dinv, n) > eps * norm) return 0; /* P dx ~ 0 */
    ad_fill(st->Ax, 0, m);
    ad_fill(st->Gx, 0, p);
    ad_block_mul(&md->Ab, dx, st->Ax);
    ad_block_mul(&md->Gb, dx, st->Gx);
    if (ad_nrm_inf_scaled(st->Ax, md->sc.Einv, m) > eps * norm) return 0;  /* A dx ~ 0  */
    for (altdiff_int k = 0; k < p; k++)
        if (st->Gx[k] * md->sc.Einv[m + k] > eps * norm) return 0;          /* G dx <~ 0 */
    for (altdiff_int j = 0; j < n; j++) st->cert_x[j] = md->sc.D[j] * dx[j] / norm;
    return 1;
}

/* ---- adaptive rho ---------------------------------------------------------- */

#define AD_RHO_MIN 1e-6       /* the penalty stays within these bounds        */
#define AD_RHO_MAX 1e6
#define AD_RHO_STEP 100.0     /* and moves by at most this factor per update  */

/* rho * sqrt( (r_prim / prim_scale) / (r_dual / dual_scale) ), moved by at
 * most AD_RHO_STEP, within [AD_RHO_MIN, AD_RHO_MAX] */
static double balanced_rho(const ad_model *md, const residuals *r)
{
    double tiny = 1e-30, rho0 = md->F.rho;
    double prim = r->r_prim / (r->prim_scale + tiny), dual = r->r_dual / (r->dual_scale + tiny);
    double rho = rho0 * sqrt((prim + tiny) / (dual + tiny));
    if (!isfinite(rho)) return rho0; /* no information: keep it */
    rho = fmin(ad_max(rho, rho0 / AD_RHO_STEP), rho0 * AD_RHO_STEP);
    return fmin(ad_max(rho, AD_RHO_MIN), AD_RHO_MAX);
}

/* Iterations between rho changes: at least 25, and enough that they cost
 * more than a factorization. Counted in flops, not in seconds, so that a
 * solve is reproducible. */
static altdiff_int adapt_interval(const ad_model *md)
{
    double interval = ad_factor_cost_in_sweeps(&md->F, md->P, md->A, md->G);
    return interval < 25 ? 25 : interval > 1e6 ? 1000000 : (altdiff_int)interval;
}

/* Refactor for a balanced rho when it is far from the current one and the
 * iterations since the last change cost more than a factorization. */
static int adapt_rho(ad_model *md, ad_state *st, const residuals *r, altdiff_int k, altdiff_int *last)
{
    if (!md->set.adaptive_rho || md->set.record || k - *last < adapt_interval(md))
        return ALTDIFF_OK;
    double rho = balanced_rho(md, r), tol = md->set.adaptive_rho_tol;
    if (rho < md->F.rho * tol && rho > md->F.rho / tol) return ALTDIFF_OK;
    *last = k;
    st->info.rho_updates++;
    ad_anderson_reset(&st->aa); /* a new map */
    return ad_factor_refactor(&md->F, rho, md->F.sigma);
}

/* ---- Anderson acceleration on z = (lam, nu - rho s) -------------------------- */

/* z (m + p) = (lam, nu - rho s): a one-to-one code of (lam, s, nu) when
 * s, nu >= 0 and s_i nu_i = 0 */
static void aa_pack(const ad_model *md, const ad_state *st, double *z)
{
    altdiff_int m = md->m;
    double rho = md->F.rho;
    ad_copy(z, st->lam, m);
    for (altdiff_int k = 0; k < md->p; k++) z[m + k] = st->nu[k] - rho * st->s[k];
}

/* (lam, s, nu) from z: nu = max(u, 0), s = max(-u, 0) / rho */
static void aa_unpack(const ad_model *md, ad_state *st, const double *z)
{
    altdiff_int m = md->m;
    double rho_inv = 1 / md->F.rho;
    ad_copy(st->lam, z, m);
    for (altdiff_int k = 0; k < md->p; k++) {
        double u = z[m + k];
        st->nu[k] = ad_max(u, 0);
        st->s[k] = ad_max(-u, 0) * rho_inv;
    }
}

/* Before a sweep: hand its starting point to the acceleration */
void ad_admm_aa_begin(const ad_model *md, ad_state *st)
{
    if (!st->aa.active) return;
    aa_pack(md, st, st->aa_z);
    ad_anderson_begin(&st->aa, st->aa_z);
}

/* After it: the next point (extrapolated, or the plain one) */
void ad_admm_aa_end(const ad_model *md, ad_state *st)
{
    if (!st->aa.active) return;
    aa_pack(md, st, st->aa_z);
    int outcome = ad_anderson_end(&st->aa, st->aa_z);
    if (outcome == AD_AA_PLAIN) return;
    aa_unpack(md, st, st->aa_z);
    if (outcome == AD_AA_EXTRAPOLATED) st->info.aa_steps++;
    else st->info.aa_rejected++;
}

/* ---- the solve -------------------------------------------------------------- */

static void log_header(void)
{
    printf("%8s %12s %10s %10s %10s\n", "iter", "objective", "r_prim", "r_dual", "rho");
}

static void log_line(const ad_model *md, const ad_state *st, altdiff_int k, const residuals *r)
{
    printf("%8ld %12.5e %10.3e %10.3e %10.3e\n", (long)k, st->info.obj, r->r_prim, r->r_dual,
           md->F.rho);
}

/* The outcome of a check whose residuals r are computed, or
 * ALTDIFF_UNSOLVED to go on */
static int check_tests(ad_model *md, ad_state *st, residuals *r, double t0)
{
    if (md->xu->accuracy) md->xu->accuracy(md, 0.1 * ad_max(r->eps_dual, r->r_dual));
    if (!isfinite(r->r_prim) || !isfinite(r->r_dual) || !isfinite(r->gap))
        return ALTDIFF_NUMERICAL_ERROR;
    if (ad_converged(r)) return ALTDIFF_SOLVED;
    if (primal_infeasible(md, st)) return ALTDIFF_PRIMAL_INFEASIBLE;
    if (dual_infeasible(md, st)) return ALTDIFF_DUAL_INFEASIBLE;
    if (md->set.time_limit > 0 && ad_time() - t0 > md->set.time_limit) return ALTDIFF_TIME_LIMIT;
    return ALTDIFF_UNSOLVED;
}

/* The outcome of check k, or ALTDIFF_UNSOLVED to go on */
static int check_outcome(ad_model *md, ad_state *st, residuals *r, double t0)
{
    ad_residuals(md, st, md->xu->check_newton_point ? st->xt : st->x, r);
    return check_tests(md, st, r, t0);
}

/* A polish during the iterations (polish.c): ALTDIFF_SOLVED when it ends
 * them, else ALTDIFF_UNSOLVED (*code: out of memory) */
static int polish_early(ad_model *md, ad_state *st, residuals *r, altdiff_int k, int *code)
{
    int done = 0;
    *code = ad_polish_early(md, st, r, k, &done);
    if (*code != ALTDIFF_OK) return ALTDIFF_NUMERICAL_ERROR;
    return done ? ALTDIFF_SOLVED : ALTDIFF_UNSOLVED;
}

/* Map an error of a refactorization during the solve to an outcome */
static int refactor_outcome(int code)
{
    return code == ALTDIFF_ERR_NOT_POSDEF ? ALTDIFF_NONCONVEX : ALTDIFF_NUMERICAL_ERROR;
}

/* Record the outcome of a solve in info */
static void finish_info(ad_model *md, ad_state *st, int outcome, altdiff_int k, const residuals *r,
                        double t0)
{
    st->info.status = outcome == ALTDIFF_UNSOLVED ? ALTDIFF_MAX_ITER : outcome;
    st->info.iter = k;
    ad_info_residuals(st, r);
    st->info.rho = md->F.rho;
    st->info.t_iterate = ad_time() - t0;
}

/* Start a state's solve: counters, polishing, acceleration (or plain
 * sweeps), no masks */
static void start_state(ad_state *st, int accelerate)
{
    st->info.rho_updates = st->info.newton_steps = st->info.hess_updates = 0;
    st->info.aa_steps = st->info.aa_rejected = 0;
    ad_polish_start(st);
    ad_anderson_start(&st->aa, accelerate);
    st->mask_iters = 0;
}

/* The iterations; with t, one tangent sweep after every step, at that step's
 * rho and slack mask (the Alt-Diff recursion alongside the solve), and *rel
 * its last relative change */
int ad_solve(ad_model *md, ad_state *st, ad_tangent *t, double *rel)
{
    const altdiff_settings *set = &md->set;
    double t0 = ad_time();
    int outcome = ALTDIFF_UNSOLVED, code = ALTDIFF_OK;
    altdiff_int k = 0, last = 0;
    residuals r = {0};
    start_state(st, !t); /* the tangents follow the plain map */
    if (md->xu->start) md->xu->start(md);
    st->mask_row = (md->p + 7) / 8 > 0 ? (md->p + 7) / 8 : 1;
    if (set->verbose) log_header();
    while (outcome == ALTDIFF_UNSOLVED && k < set->max_iter) {
        int check = (++k % set->check_every == 0) || k == set->max_iter;
        if (check) remember_previous(md, st);
        ad_admm_aa_begin(md, st);
        if ((code = admm_step(md, st)) != ALTDIFF_OK) break;
        if (t && md->xu->linearize && (code = md->xu->linearize(md, st->xt)) != ALTDIFF_OK)
            break;
        if (t && (code = ad_tangent_step(md, st, t, rel)) != ALTDIFF_OK) break;
        if (check) {
            outcome = check_outcome(md, st, &r, t0);
            if (set->verbose && (k % set->verbose_every < set->check_every || outcome))
                log_line(md, st, k, &r);
            if (outcome != ALTDIFF_UNSOLVED) break;
            if (!t && (outcome = polish_early(md, st, &r, k, &code)) != ALTDIFF_UNSOLVED) break;
            ad_anderson_watch(&st->aa, ad_score(&r), k);
            int rc = adapt_rho(md, st, &r, k, &last);
            if (rc == ALTDIFF_ERR_NOMEM) code = rc;
            if (rc != ALTDIFF_OK) outcome = refactor_outcome(rc);
        }
        if (outcome == ALTDIFF_UNSOLVED && k < set->max_iter) ad_admm_aa_end(md, st);
    }
    if (code == ALTDIFF_OK && md->xu->finish) code = md->xu->finish(md, st);
    if (code != ALTDIFF_OK) outcome = refactor_outcome(code); /* incl. out of memory */
    finish_info(md, st, outcome, k, &r, t0);
    if (code == ALTDIFF_OK && !t) { /* polishing (polish.c); not along a tangent */
        code = ad_polish(md, st, &r);
        if (code != ALTDIFF_OK) st->info.status = refactor_outcome(code);
    }
    return code == ALTDIFF_ERR_NOMEM ? code : ALTDIFF_OK;
}

/* ---- a point given from outside --------------------------------------------- */

/* info.status = ALTDIFF_SOLVED if the iterates pass the stopping test (the
 * residuals of a check), else ALTDIFF_UNSOLVED */
void ad_assess(ad_model *md, ad_state *st)
{
    residuals r = {0};
    ad_residuals(md, st, st->x, &r);
    int ok = ad_converged(&r);
    finish_info(md, st, ok ? ALTDIFF_SOLVED : ALTDIFF_UNSOLVED, 0, &r, ad_time());
    if (!ok) st->info.status = ALTDIFF_UNSOLVED;
    st->info.t_iterate = 0;
    st->info.polish = 0; /* a point given from outside is taken as it is */
    st->info.t_polish = 0;
}

/* ---- a batch: many states on one factor --------------------------------------- */

/* Before the x-update of iteration k: the previous iterates at a check,
 * the acceleration's start point, the parts of the right-hand side into
 * column j of X (n), WA (m), WG (p) */
static void batch_sweep_begin(const ad_model *md, ad_state *st, int check, ad_batch_work *bw,
                              altdiff_int j)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    if (check) remember_previous(md, st);
    ad_admm_aa_begin(md, st);
    rhs_parts(md, st, md->F.rho, md->F.sigma, bw->X + j * n, bw->WA + j * m, bw->WG + j * p);
}

/* After it: x~ from column j of X, A x~ and G x~ from columns j of WA, WG;
 * then s, lam, nu and the relaxed x */
static void batch_sweep_end(const ad_model *md, ad_state *st, const ad_batch_work *bw,
                            altdiff_int j)
{
    double alpha = md->set.alpha;
    ad_copy(st->xt, bw->X + j * md->n, md->n);
    constraint_step(md, st, bw->WA + j * md->m, bw->WG + j * md->p, md->F.rho, alpha, NULL);
    for (altdiff_int i = 0; i < md->n; i++)
        st->x[i] = alpha * st->xt[i] + (1 - alpha) * st->x[i]; /* x+ = alpha x~ + (1-alpha) x */
}

/* One sweep of the d active elements: products and the solve on blocks
 *     X = H \ (X + A'WA + G'WG),   WA = A X,   WG = G X   */
static int batch_sweep(ad_model *md, ad_state *el, const altdiff_int *act, altdiff_int d,
                       int check, ad_batch_work *bw)
{
    for (altdiff_int j = 0; j < d; j++) batch_sweep_begin(md, &el[act[j]], check, bw, j);
    ad_block_mul_t_cols(&md->Ab, bw->WA, d, bw->X); /* X += A'WA  */
    ad_block_mul_t_cols(&md->Gb, bw->WG, d, bw->X); /* X += G'WG  */
    int status = ad_factor_solve_block(&md->F, bw->X, d, &bw->ws); /* X = H \ X */
    if (status != ALTDIFF_OK) return status;
    ad_fill(bw->WA, 0, md->m * d);
    ad_fill(bw->WG, 0, md->p * d);
    ad_block_mul_cols(&md->Ab, bw->X, d, bw->WA); /* WA = A X~ */
    ad_block_mul_cols(&md->Gb, bw->X, d, bw->WG); /* WG = G X~ */
    for (altdiff_int j = 0; j < d; j++) batch_sweep_end(md, &el[act[j]], bw, j);
    return ALTDIFF_OK;
}

/* The shared rho after a check: the geometric mean of the elements'
 * balanced penalties, when far from the current one and the iterations
 * since the last change cost more than a factorization; refactor once and
 * restart every element's acceleration. */
static int batch_adapt_rho(ad_model *md, ad_state *el, const altdiff_int *act, altdiff_int nact,
                           const residuals *r, altdiff_int k, altdiff_int *last)
{
    if (!md->set.adaptive_rho || nact == 0 || k - *last < adapt_interval(md)) return ALTDIFF_OK;
    double logsum = 0;
    for (altdiff_int j = 0; j < nact; j++) logsum += log(balanced_rho(md, &r[act[j]]));
    double rho = exp(logsum / (double)nact), tol = md->set.adaptive_rho_tol;
    if (rho < md->F.rho * tol && rho > md->F.rho / tol) return ALTDIFF_OK;
    *last = k;
    for (altdiff_int j = 0; j < nact; j++) {
        el[act[j]].info.rho_updates++;
        ad_anderson_reset(&el[act[j]].aa); /* a new map */
    }
    return ad_factor_refactor(&md->F, rho, md->F.sigma);
}

/* PX = P X for d columns: DSYMM on the dense upper copy, or the CSC column
 * by column */
static void block_P(const ad_model *md, const ad_batch_work *bw, const double *X, altdiff_int d,
                    double *PX)
{
    altdiff_int n = md->n;
    if (bw->Pd && d <= INT_MAX) {
        int nn = (int)n, dd = (int)d;
        double one = 1, zero = 0;
        dsymm_("L", "U", &nn, &dd, &one, bw->Pd, &nn, X, &nn, &zero, PX, &nn);
        return;
    }
    ad_fill(PX, 0, n * d);
    for (altdiff_int c = 0; c < d; c++) ad_symv_upper(md->P, X + c * n, PX + c * n);
}

/* The products of a check of the d active elements on blocks: X, Lam, Nu
 * gathered into X, WA, WG (free after the sweep), then
 *     AX = A X,  GX = G X,  PX = P X,  SY = A'Lam + G'Nu */
static void block_products(const ad_model *md, const ad_state *el, const altdiff_int *act,
                           altdiff_int d, ad_batch_work *bw)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    for (altdiff_int j = 0; j < d; j++) {
        ad_copy(bw->X + j * n, el[act[j]].x, n);
        ad_copy(bw->WA + j * m, el[act[j]].lam, m);
        ad_copy(bw->WG + j * p, el[act[j]].nu, p);
    }
    ad_fill(bw->AX, 0, m * d);
    ad_fill(bw->GX, 0, p * d);
    ad_fill(bw->SY, 0, n * d);
    ad_block_mul_cols(&md->Ab, bw->X, d, bw->AX);   /* A X           */
    ad_block_mul_cols(&md->Gb, bw->X, d, bw->GX);   /* G X           */
    ad_block_mul_t_cols(&md->Ab, bw->WA, d, bw->SY); /* A'Lam         */
    ad_block_mul_t_cols(&md->Gb, bw->WG, d, bw->SY); /*   + G'Nu      */
    block_P(md, bw, bw->X, d, bw->PX);               /* P X           */
}

/* Checks of iteration k: finished elements leave the active list act */
static altdiff_int batch_check(ad_model *md, ad_state *el, altdiff_int *act, altdiff_int nact,
                               ad_batch_work *bw, altdiff_int k, double t0, int *code)
{
    altdiff_int kept = 0, n = md->n, m = md->m, p = md->p;
    residuals *r = bw->res;
    block_products(md, el, act, nact, bw);
    for (altdiff_int j = 0; j < nact; j++) {
        ad_state *st = &el[act[j]];
        ad_products pr = {bw->AX + j * m, bw->GX + j * p, bw->PX + j * n, bw->SY + j * n};
        ad_residuals_given(md, st, st->x, &pr, &r[act[j]]);
        int outcome = check_tests(md, st, &r[act[j]], t0);
        if (outcome == ALTDIFF_UNSOLVED && *code == ALTDIFF_OK)
            outcome = polish_early(md, st, &r[act[j]], k, code); /* may end it */
        if (outcome == ALTDIFF_UNSOLVED) {
            ad_anderson_watch(&st->aa, ad_score(&r[act[j]]), k);
            act[kept++] = act[j];
        } else finish_info(md, st, outcome, k, &r[act[j]], t0);
    }
    return kept;
}

/* Pd = the upper triangle of P~ (dense, column-major; the rest untouched):
 * its current values, for DSYMM */
static void dense_P(const ad_model *md, ad_batch_work *bw)
{
    if (!bw->Pd) return;
    const cs_dl *P = md->P;
    altdiff_int n = md->n;
    for (altdiff_int j = 0; j < n; j++) {
        ad_fill(bw->Pd + j * n, 0, j + 1);
        for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++) bw->Pd[P->i[t] + j * n] = P->x[t];
    }
}

/* Solve B states together: each iteration's x-updates of the d elements
 * still iterating are one block (bw: the blocks' scratch, act and r of B
 * entries). Quadratic objectives. */
int ad_solve_batch(ad_model *md, ad_state *el, altdiff_int B, ad_batch_work *bw)
{
    const altdiff_settings *set = &md->set;
    altdiff_int nact = B, k = 0, last = 0, *act = bw->act;
    residuals *r = bw->res;
    double t0 = ad_time();
    int code = ALTDIFF_OK;
    for (altdiff_int e = 0; e < B; e++) {
        act[e] = e;
        start_state(&el[e], 1);
        el[e].info.status = ALTDIFF_UNSOLVED;
        r[e] = (residuals){0};
    }
    dense_P(md, bw);
    while (nact > 0 && k < set->max_iter) {
        int check = (++k % set->check_every == 0) || k == set->max_iter;
        if ((code = batch_sweep(md, el, act, nact, check, bw)) != ALTDIFF_OK) break;
        if (check) {
            nact = batch_check(md, el, act, nact, bw, k, t0, &code);
            if (code == ALTDIFF_OK) code = batch_adapt_rho(md, el, act, nact, r, k, &last);
            if (code != ALTDIFF_OK) break;
        }
        for (altdiff_int j = 0; j < nact && k < set->max_iter; j++) ad_admm_aa_end(md, &el[act[j]]);
    }
    int outcome = code == ALTDIFF_OK ? ALTDIFF_MAX_ITER : refactor_outcome(code);
    for (altdiff_int j = 0; j < nact; j++) finish_info(md, &el[act[j]], outcome, k, &r[act[j]], t0);
    for (altdiff_int e = 0; e < B && code == ALTDIFF_OK; e++) /* as a single solve: polish */
        code = ad_polish(md, &el[e], &r[e]);
    return code == ALTDIFF_ERR_NOMEM ? code : ALTDIFF_OK;
}
