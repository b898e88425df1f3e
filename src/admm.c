/*
 * admm.c: the Alt-Diff ADMM iterations (MATH.md, "Forward"), on the scaled
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
#include <math.h>
#include <stdio.h>

#include "ad_internal.h"

/* Residual norms of one check, in original units (see altdiff.h) */
typedef struct {
    double r_prim, r_dual, eps_prim, eps_dual;
    double prim_scale, dual_scale; /* the max(...) inside eps_prim, eps_dual */
} residuals;

/* ---- one iteration -------------------------------------------------------- */

/* rhs = sigma x - q - A'(lam - rho b) - G'(nu + rho (s - h)) */
static void x_rhs(altdiff_work *w, double rho, double sigma)
{
    altdiff_int n = w->n, m = w->m, p = w->p;
    for (altdiff_int j = 0; j < n; j++) w->rhs[j] = sigma * w->x[j] - w->q[j];
    for (altdiff_int i = 0; i < m; i++) w->Ax[i] = rho * w->b[i] - w->lam[i];
    for (altdiff_int k = 0; k < p; k++) w->Gx[k] = rho * (w->h[k] - w->s[k]) - w->nu[k];
    ad_gatxpy(w->A, w->Ax, w->rhs); /* rhs += A'(rho b - lam)           */
    ad_gatxpy(w->G, w->Gx, w->rhs); /* rhs += G'(rho (h - s) - nu)      */
}

/* s, lam, nu from x~ (in w->xt) with relaxation alpha; mask (NULL or p
 * bits) records which s+ are positive */
static void constraint_update(altdiff_work *w, double rho, double alpha, unsigned char *mask)
{
    altdiff_int m = w->m, p = w->p;
    ad_fill(w->Ax, 0, m);
    ad_fill(w->Gx, 0, p);
    ad_gaxpy(w->A, w->xt, w->Ax); /* Ax = A x~ */
    ad_gaxpy(w->G, w->xt, w->Gx); /* Gx = G x~ */
    for (altdiff_int i = 0; i < m; i++)
        w->lam[i] += rho * alpha * (w->Ax[i] - w->b[i]); /* lam+ = lam + rho (Ax^ - b) */
    double rho_inv = 1 / rho;
    for (altdiff_int k = 0; k < p; k++) {
        double gx = alpha * w->Gx[k] + (1 - alpha) * (w->h[k] - w->s[k]); /* Gx^        */
        double v = w->nu[k] + rho * (gx - w->h[k]);                 /* v = nu + rho (Gx^ - h) */
        w->s[k] = ad_max(0, -v * rho_inv);      /* s+  = max(0, -nu/rho - (Gx^ - h))        */
        w->nu[k] = ad_max(v, 0);                /* nu+ = nu + rho (Gx^ + s+ - h) = max(v, 0) */
        if (mask && w->s[k] > 0) mask[k / 8] |= (unsigned char)(1u << (k % 8));
    }
}

/* Room for the mask of one more iteration (settings.record); the buffer
 * doubles when full, so recording allocates O(log iterations) times. */
static unsigned char *next_mask(altdiff_work *w)
{
    if (w->mask_iters == w->mask_cap) {
        altdiff_int cap = 2 * w->mask_cap + 64;
        unsigned char *m = ad_realloc(w->masks, (size_t)cap, (size_t)w->mask_row);
        if (!m) return NULL;
        w->masks = m;
        w->mask_cap = cap;
    }
    unsigned char *row = w->masks + w->mask_iters++ * w->mask_row;
    for (altdiff_int b = 0; b < w->mask_row; b++) row[b] = 0;
    return row;
}

/* One ADMM sweep at the factored rho, sigma */
static int admm_step(altdiff_work *w)
{
    double rho = w->F.rho, sigma = w->F.sigma, alpha = w->set.alpha;
    unsigned char *mask = w->set.record ? next_mask(w) : NULL;
    if (w->set.record && !mask) return ALTDIFF_ERR_NOMEM;
    x_rhs(w, rho, sigma);
    int status;
    if (ad_smooth(w)) { /* x~ = argmin of the augmented Lagrangian (Newton) */
        status = ad_smooth_x_update(w, w->rhs, rho, sigma);
        if (status == ALTDIFF_OK && mask) status = ad_smooth_record(w, w->mask_iters - 1);
    } else {
        ad_copy(w->xt, w->rhs, w->n);
        status = ad_factor_solve(w, w->xt); /* x~ = H \ rhs */
    }
    if (status != ALTDIFF_OK) return status;
    constraint_update(w, rho, alpha, mask);
    for (altdiff_int j = 0; j < w->n; j++)
        w->x[j] = alpha * w->xt[j] + (1 - alpha) * w->x[j]; /* x+ = alpha x~ + (1-alpha) x */
    return ALTDIFF_OK;
}

/* ---- termination ---------------------------------------------------------- */

/* Primal residuals |Ax - b|, |Gx + s - h| and their scale, unscaled by Einv */
static void primal_residual(altdiff_work *w, const double *x, residuals *r)
{
    altdiff_int m = w->m, p = w->p;
    const double *Ea = w->Einv, *Eg = w->Einv + m;
    ad_fill(w->Ax, 0, m);
    ad_fill(w->Gx, 0, p);
    ad_gaxpy(w->A, x, w->Ax);
    ad_gaxpy(w->G, x, w->Gx);
    double scale = ad_max(ad_nrm_inf_scaled(w->Ax, Ea, m), ad_nrm_inf_scaled(w->Gx, Eg, p));
    double res = 0;
    for (altdiff_int i = 0; i < m; i++) {
        res = ad_max(res, fabs((w->Ax[i] - w->b[i]) * Ea[i]));     /* |Ax - b|     */
        scale = ad_max(scale, fabs(w->b[i] * Ea[i]));              /* |b|          */
    }
    for (altdiff_int k = 0; k < p; k++) {
        res = ad_max(res, fabs((w->Gx[k] + w->s[k] - w->h[k]) * Eg[k])); /* |Gx + s - h| */
        scale = ad_max(scale, fabs((w->h[k] - w->s[k]) * Eg[k]));        /* |h - s|      */
    }
    r->r_prim = res;
    r->prim_scale = scale;
    r->eps_prim = w->set.eps_abs + w->set.eps_rel * scale;
}

/* acc += v; return |v| in original units (c^-1 D^-1 v) */
static double accumulate(altdiff_work *w, double *acc, const double *v)
{
    ad_axpy(acc, 1.0, v, w->n);
    return w->cinv * ad_nrm_inf_scaled(v, w->Dinv, w->n);
}

/* The objective's gradient part v (scaled: P~ x~, or c D grad f(D x~)) and
 * the objective (1/2 x'Px + q'x, or f(x) + q'x) into info.obj */
static int objective_gradient(altdiff_work *w, const double *x, double *v)
{
    if (ad_smooth(w)) return ad_smooth_gradient(w, x, v, &w->info.obj);
    ad_fill(v, 0, w->n);
    ad_symv_upper(w->P, x, v);                                  /* P x       */
    w->info.obj = w->cinv * (0.5 * ad_dot(x, v, w->n) + ad_dot(w->q, x, w->n));
    return ALTDIFF_OK;
}

/* Dual residual |Px + q + A'lam + G'nu| (|grad f + q + ...|) and its scale;
 * also the objective. Infinite when x is outside the domain. */
static void dual_residual(altdiff_work *w, const double *x, residuals *r)
{
    altdiff_int n = w->n;
    double *acc = w->wn, *v = w->wn2;
    ad_copy(acc, w->q, n);
    double scale = w->cinv * ad_nrm_inf_scaled(w->q, w->Dinv, n);
    if (objective_gradient(w, x, v) != ALTDIFF_OK) {
        r->r_dual = r->dual_scale = r->eps_dual = INFINITY;
        return;
    }
    scale = ad_max(scale, accumulate(w, acc, v));
    ad_fill(v, 0, n);
    ad_gatxpy(w->A, w->lam, v);                                 /* A'lam     */
    scale = ad_max(scale, accumulate(w, acc, v));
    ad_fill(v, 0, n);
    ad_gatxpy(w->G, w->nu, v);                                  /* G'nu      */
    scale = ad_max(scale, accumulate(w, acc, v));
    r->r_dual = w->cinv * ad_nrm_inf_scaled(acc, w->Dinv, n);
    r->dual_scale = scale;
    r->eps_dual = w->set.eps_abs + w->set.eps_rel * scale;
}

/* ---- infeasibility -------------------------------------------------------- */

/* Primal infeasibility (OSQP's test) on dy = (lam - lam_prev, max(nu -
 * nu_prev, 0)): |A'dlam + G'dnu| <= eps |dy| and b'dlam + h'dnu < -eps |dy|,
 * in original units. Stores the normalized certificate. */
static int primal_infeasible(altdiff_work *w)
{
    altdiff_int n = w->n, m = w->m, p = w->p;
    double eps = w->set.eps_pinf, *dl = w->Ax, *dn = w->Gx, *v = w->wn;
    for (altdiff_int i = 0; i < m; i++) dl[i] = w->lam[i] - w->lam_prev[i];
    for (altdiff_int k = 0; k < p; k++) dn[k] = ad_max(w->nu[k] - w->nu_prev[k], 0);
    double norm = w->cinv * ad_max(ad_nrm_inf_scaled(dl, w->E, m),
                                 ad_nrm_inf_scaled(dn, w->E + m, p));
    if (norm <= eps) return 0;
    double lhs = w->cinv * (ad_dot(w->b, dl, m) + ad_dot(w->h, dn, p)); /* b'dlam + h'dnu */
    if (lhs >= -eps * norm) return 0;
    ad_fill(v, 0, n);
    ad_gatxpy(w->A, dl, v);
    ad_gatxpy(w->G, dn, v);
    if (w->cinv * ad_nrm_inf_scaled(v, w->Dinv, n) > eps * norm) return 0;
    for (altdiff_int i = 0; i < m; i++) w->cert_lam[i] = w->cinv * w->E[i] * dl[i] / norm;
    for (altdiff_int k = 0; k < p; k++) w->cert_nu[k] = w->cinv * w->E[m + k] * dn[k] / norm;
    return 1;
}

/* Dual infeasibility on dx = x - x_prev: |P dx| <= eps |dx|, |A dx| <= eps
 * |dx|, G dx <= eps |dx|, q'dx < -eps |dx| (original units). */
static int dual_infeasible(altdiff_work *w)
{
    altdiff_int n = w->n, m = w->m, p = w->p;
    double eps = w->set.eps_dinf, *dx = w->wn, *v = w->wn2;
    if (ad_smooth(w)) return 0; /* not detected for smooth objectives (altdiff.h) */
    for (altdiff_int j = 0; j < n; j++) dx[j] = w->x[j] - w->x_prev[j];
    double norm = ad_nrm_inf_scaled(dx, w->D, n);
    if (norm <= eps) return 0;
    if (w->cinv * ad_dot(w->q, dx, n) >= -eps * norm) return 0;      /* q'dx < 0  */
    ad_fill(v, 0, n);
    ad_symv_upper(w->P, dx, v);
    if (w->cinv * ad_nrm_inf_scaled(v, w->Dinv, n) > eps * norm) return 0; /* P dx ~ 0 */
    ad_fill(w->Ax, 0, m);
    ad_fill(w->Gx, 0, p);
    ad_gaxpy(w->A, dx, w->Ax);
    ad_gaxpy(w->G, dx, w->Gx);
    if (ad_nrm_inf_scaled(w->Ax, w->Einv, m) > eps * norm) return 0;  /* A dx ~ 0  */
    for (altdiff_int k = 0; k < p; k++)
        if (w->Gx[k] * w->Einv[m + k] > eps * norm) return 0;          /* G dx <~ 0 */
    for (altdiff_int j = 0; j < n; j++) w->cert_x[j] = w->D[j] * dx[j] / norm;
    return 1;
}

/* ---- adaptive rho ---------------------------------------------------------- */

/* rho * sqrt( (r_prim / prim_scale) / (r_dual / dual_scale) ), within [1e-6, 1e6] */
static double balanced_rho(const altdiff_work *w, const residuals *r)
{
    double tiny = 1e-30;
    double prim = r->r_prim / (r->prim_scale + tiny), dual = r->r_dual / (r->dual_scale + tiny);
    double rho = w->F.rho * sqrt((prim + tiny) / (dual + tiny));
    return fmin(ad_max(rho, 1e-6), 1e6);
}

/* Iterations between rho changes: at least 25, and enough that they cost
 * more than a factorization. Counted in flops, not in seconds, so that a
 * solve is reproducible. */
static altdiff_int adapt_interval(const altdiff_work *w)
{
    double interval = ad_factor_cost_in_sweeps(w);
    return interval < 25 ? 25 : interval > 1e6 ? 1000000 : (altdiff_int)interval;
}

/* Refactor for a balanced rho when it is far from the current one and the
 * iterations since the last change cost more than a factorization. */
static int adapt_rho(altdiff_work *w, const residuals *r, altdiff_int k, altdiff_int *last)
{
    if (!w->set.adaptive_rho || w->set.record || k - *last < adapt_interval(w))
        return ALTDIFF_OK;
    double rho = balanced_rho(w, r), tol = w->set.adaptive_rho_tol;
    if (rho < w->F.rho * tol && rho > w->F.rho / tol) return ALTDIFF_OK;
    *last = k;
    w->info.rho_updates++;
    ad_anderson_reset(w); /* a new map */
    return ad_factor_refactor(w, rho, w->F.sigma);
}

/* ---- the solve -------------------------------------------------------------- */

static void log_header(void)
{
    printf("%8s %12s %10s %10s %10s\n", "iter", "objective", "r_prim", "r_dual", "rho");
}

static void log_line(const altdiff_work *w, altdiff_int k, const residuals *r)
{
    printf("%8ld %12.5e %10.3e %10.3e %10.3e\n", (long)k, w->info.obj, r->r_prim, r->r_dual,
           w->F.rho);
}

/* The outcome of check k, or ALTDIFF_UNSOLVED to go on */
static int check_outcome(altdiff_work *w, residuals *r, double t0)
{
    const double *x = ad_smooth(w) ? w->xt : w->x; /* smooth: the Newton point */
    primal_residual(w, x, r);
    dual_residual(w, x, r);
    w->obj.tol = 0.1 * ad_max(r->eps_dual, r->r_dual); /* the next x-updates */
    if (!isfinite(r->r_prim) || !isfinite(r->r_dual)) return ALTDIFF_NUMERICAL_ERROR;
    if (r->r_prim <= r->eps_prim && r->r_dual <= r->eps_dual) return ALTDIFF_SOLVED;
    if (primal_infeasible(w)) return ALTDIFF_PRIMAL_INFEASIBLE;
    if (dual_infeasible(w)) return ALTDIFF_DUAL_INFEASIBLE;
    if (w->set.time_limit > 0 && ad_time() - t0 > w->set.time_limit) return ALTDIFF_TIME_LIMIT;
    return ALTDIFF_UNSOLVED;
}

/* Map an error of a refactorization during the solve to an outcome */
static int refactor_outcome(int code)
{
    return code == ALTDIFF_ERR_NOT_POSDEF ? ALTDIFF_NONCONVEX : ALTDIFF_NUMERICAL_ERROR;
}

/* Record the outcome of a solve in info */
static void finish_info(altdiff_work *w, int outcome, altdiff_int k, const residuals *r,
                        double t0)
{
    w->info.status = outcome == ALTDIFF_UNSOLVED ? ALTDIFF_MAX_ITER : outcome;
    w->info.iter = k;
    w->info.r_prim = r->r_prim;
    w->info.r_dual = r->r_dual;
    w->info.eps_prim = r->eps_prim;
    w->info.eps_dual = r->eps_dual;
    w->info.rho = w->F.rho;
    w->info.t_iterate = ad_time() - t0;
}

/* Smooth objectives: the solution is the last Newton point x~ (in the
 * domain), and the factor of H is refreshed at it for the derivatives */
static int smooth_finish(altdiff_work *w)
{
    ad_copy(w->x, w->xt, w->n);
    return ad_smooth_refresh(w, w->x);
}

/* The iterations; with t, one tangent sweep after every step, at that step's
 * rho and slack mask (the Alt-Diff recursion alongside the solve), and *rel
 * its last relative change */
int ad_solve(altdiff_work *w, ad_tangent *t, double *rel)
{
    const altdiff_settings *set = &w->set;
    double t0 = ad_time();
    int outcome = ALTDIFF_UNSOLVED, code = ALTDIFF_OK;
    altdiff_int k = 0, last = 0;
    residuals r = {0, 0, 0, 0, 0, 0};
    w->info.rho_updates = w->info.newton_steps = w->info.hess_updates = 0;
    w->info.aa_steps = w->info.aa_rejected = 0;
    ad_anderson_start(w, !t); /* the tangents follow the plain map */
    w->obj.tol = INFINITY;
    w->obj.tol_final = 0.1 * set->eps_abs;
    w->mask_iters = 0;
    w->mask_row = (w->p + 7) / 8 > 0 ? (w->p + 7) / 8 : 1;
    if (set->verbose) log_header();
    while (outcome == ALTDIFF_UNSOLVED && k < set->max_iter) {
        int check = (++k % set->check_every == 0) || k == set->max_iter;
        if (check) {
            ad_copy(w->x_prev, w->x, w->n);
            ad_copy(w->lam_prev, w->lam, w->m);
            ad_copy(w->nu_prev, w->nu, w->p);
        }
        ad_anderson_begin(w);
        if ((code = admm_step(w)) != ALTDIFF_OK) break;
        if (t && ad_smooth(w) && (code = ad_smooth_refresh(w, w->xt)) != ALTDIFF_OK) break;
        if (t && (code = ad_tangent_step(w, t, rel)) != ALTDIFF_OK) break;
        if (check) {
            outcome = check_outcome(w, &r, t0);
            if (set->verbose && (k % set->verbose_every < set->check_every || outcome))
                log_line(w, k, &r);
            if (outcome != ALTDIFF_UNSOLVED) break;
            int rc = adapt_rho(w, &r, k, &last);
            if (rc == ALTDIFF_ERR_NOMEM) code = rc;
            if (rc != ALTDIFF_OK) outcome = refactor_outcome(rc);
        }
        if (outcome == ALTDIFF_UNSOLVED && k < set->max_iter) ad_anderson_end(w);
    }
    if (code == ALTDIFF_OK && ad_smooth(w)) code = smooth_finish(w);
    if (code != ALTDIFF_OK) outcome = refactor_outcome(code); /* incl. out of memory */
    finish_info(w, outcome, k, &r, t0);
    return code == ALTDIFF_ERR_NOMEM ? code : ALTDIFF_OK;
}

int altdiff_solve(altdiff_work *w)
{
    return w ? ad_solve(w, NULL, NULL) : ALTDIFF_ERR_INVALID;
}

/* x = D x~, s = Eg^-1 s~, lam = Ea lam~ / c, nu = Eg nu~ / c (NULL skipped);
 * s and nu over all given rows (dropped rows: s = h, nu = 0) */
void ad_unscale_solution(const altdiff_work *w, double *x, double *s, double *lam, double *nu)
{
    altdiff_int m = w->m;
    if (x)
        for (altdiff_int j = 0; j < w->n; j++) x[j] = w->D[j] * w->x[j];
    if (lam)
        for (altdiff_int i = 0; i < m; i++) lam[i] = w->cinv * w->E[i] * w->lam[i];
    if (s) ad_copy(s, w->h0, w->p_all);
    if (nu) ad_fill(nu, 0, w->p_all);
    for (altdiff_int k = 0; k < w->p; k++) {
        if (s) s[w->keep[k]] = w->Einv[m + k] * w->s[k];
        if (nu) nu[w->keep[k]] = w->cinv * w->E[m + k] * w->nu[k];
    }
}
