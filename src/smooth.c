/*
 * smooth.c: smooth convex objectives (doc/MATH.md, "Smooth convex objectives
 * beyond QPs"). The x-update of ADMM minimizes, over x~ (scaled),
 *
 *     phi(x~) = c f(D x~) + 1/2 x~'(rho S'S + sigma I) x~ - rhs'x~
 *     rhs     = sigma x - q~ - A'(lam - rho b) - G'(nu + rho (s - h))
 *
 * (the augmented Lagrangian up to a constant; for f quadratic it is the QP's
 * x-update) by damped Newton:
 *
 *     r = grad phi = c D grad f(D x~) + (rho S'S + sigma I) x~ - rhs
 *     K = Hess phi = c D Hess f(D x~) D + rho S'S + sigma I
 *     d = -K^-1 r   by conjugate gradients preconditioned with the factor of
 *                   H, which is K at the point of its last refresh
 *     x~ <- x~ + t d, t = the first of t0, t0/2, t0/4, ... with
 *           phi(x~ + t d) <= phi(x~) + 1e-4 t r'd, where t0 = 1, or 0.99 of
 *           the distance to the domain's boundary when that is closer (and
 *           max_step tells it).
 *
 * With a fresh factor CG takes one step (plain Newton); while the Hessian
 * moves it takes a few, each one solve with the factor. The factor is
 * refreshed (numeric refactorization at the current point; the symbolic
 * analysis is never redone) once the CG solves since the last refresh cost
 * more than a factorization, or when CG or the line search fails. Newton
 * stops at |r| <= tol in original units, where admm.c sets tol from its
 * residuals (0.1 max(eps_dual, r_dual) of the last check), so early
 * x-updates are cheap and the last ones exact.
 *
 * Everything else about derivatives is the QP's with P = Hess f(x*) (held in
 * P~ and H after every solve) and dq_eff = J dtheta, J = d grad f / d theta.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ad_internal.h"
#include "blas.h"

#define AD_NEWTON_MAX 50  /* Newton steps per x-update at most            */
#define AD_ARMIJO 1e-4    /* sufficient decrease of phi                   */
#define AD_FRACTION 0.99  /* of the distance to the domain's boundary     */
#define AD_CG_TOL 0.05    /* Newton directions to this relative residual  */
#define AD_CG_MAX 50      /* CG iterations per direction at most, and at  */
#define AD_CG_MIN 5       /* least this or a factorization's cost         */
#define AD_CG_PROBE 3     /* CG iterations after which a slow CG gives up */
#define AD_CG_SLOW (-102) /* (newton_direction: refresh instead)          */
#define AD_T_MIN 1e-12    /* shortest step tried                          */

/* ---- the entropy f(x) = -y'x + sum x_i log x_i on x > 0 (theta = y) ------ */

static int entropy_value(void *user, const double *x, double *f)
{
    const ad_objective *o = user;
    double sum = 0;
    for (altdiff_int i = 0; i < o->n; i++) {
        if (!(x[i] > 0)) return 1;
        sum += x[i] * log(x[i]) - o->y[i] * x[i];
    }
    *f = sum;
    return 0;
}

static int entropy_gradient(void *user, const double *x, double *g)
{
    const ad_objective *o = user;
    for (altdiff_int i = 0; i < o->n; i++) {
        if (!(x[i] > 0)) return 1;
        g[i] = log(x[i]) + 1 - o->y[i]; /* grad = log x + 1 - y */
    }
    return 0;
}

static int entropy_hessian(void *user, const double *x, double *hx)
{
    const ad_objective *o = user;
    for (altdiff_int i = 0; i < o->n; i++) {
        if (!(x[i] > 0)) return 1;
        hx[i] = 1 / x[i]; /* Hess = diag(1/x) */
    }
    return 0;
}

/* x + t d > 0 for t < min over d_i < 0 of x_i / -d_i */
static double entropy_max_step(void *user, const double *x, const double *d)
{
    const ad_objective *o = user;
    double t = INFINITY;
    for (altdiff_int i = 0; i < o->n; i++)
        if (d[i] < 0 && -x[i] / d[i] < t) t = -x[i] / d[i];
    return t;
}

/* J = d grad f / d y = -I */
static void entropy_dgrad(void *user, const double *x, const double *v, double *out)
{
    const ad_objective *o = user;
    (void)x;
    for (altdiff_int i = 0; i < o->n; i++) out[i] = -v[i];
}

/* The entropy's callbacks, its diagonal pattern (in o->hpat) and its start
 * x0_i = min(exp(y_i - 1), 1) (the unconstrained minimizer, capped) */
static int entropy_init(ad_objective *o, const double *y)
{
    altdiff_int n = o->n;
    o->y = ad_malloc((size_t)n, sizeof(double));
    o->hpat = ad_malloc((size_t)(2 * n + 1), sizeof(altdiff_int));
    if (!o->y || !o->hpat) return ALTDIFF_ERR_NOMEM;
    ad_copy(o->y, y, n);
    for (altdiff_int i = 0; i <= n; i++) o->hpat[i] = i;       /* column pointers */
    for (altdiff_int i = 0; i < n; i++) o->hpat[n + 1 + i] = i; /* row indices     */
    for (altdiff_int i = 0; i < n; i++) o->x0[i] = fmin(exp(fmax(y[i] - 1, -700)), 1);
    altdiff_objective f = {ALTDIFF_OBJECTIVE_ENTROPY, NULL, n,
                           {n, n, o->hpat, o->hpat + n + 1, NULL}, NULL, NULL,
                           entropy_value, entropy_gradient, entropy_hessian,
                           entropy_max_step, entropy_dgrad, entropy_dgrad};
    o->f = f;
    o->k = n;
    return ALTDIFF_OK;
}

/* ---- setup ---------------------------------------------------------------- */

/* 1 if the callbacks f needs are there and its start point is finite */
static int callbacks_valid(const altdiff_objective *f, altdiff_int n)
{
    if (!f->value || !f->gradient || !f->hessian || !f->x0 || f->k < 0) return 0;
    if (f->k > 0 && (!f->dgrad || !f->dgrad_t)) return 0;
    if (!f->hess.p || f->hess.nrow != n || f->hess.ncol != n) return 0;
    return ad_all_finite(f->x0, n);
}

/* The objective's own arrays and callbacks (o->n set); on failure the caller
 * frees o */
static int objective_init(ad_objective *o, const altdiff_objective *f)
{
    altdiff_int n = o->n;
    o->kind = f->kind;
    o->x0 = ad_malloc((size_t)n, sizeof(double));
    if (!o->x0) return ALTDIFF_ERR_NOMEM;
    if (f->kind == ALTDIFF_OBJECTIVE_ENTROPY) {
        if (!f->y || !ad_all_finite(f->y, n)) return ALTDIFF_ERR_INVALID;
        return entropy_init(o, f->y);
    }
    if (!callbacks_valid(f, n)) return ALTDIFF_ERR_INVALID;
    o->f = *f;
    o->k = f->k;
    ad_copy(o->x0, f->x0, n);
    return ALTDIFF_OK;
}

/* The workspace's scratch for Newton, the positions of Hess f in H, and the
 * start x~ = D^-1 x0 */
static int objective_attach(ad_model *md, ad_state *st)
{
    ad_objective *o = &md->obj;
    altdiff_int n = md->n;
    if (o->kind == ALTDIFF_OBJECTIVE_ENTROPY) o->f.user = o; /* its final address */
    double **v[] = {&o->xu, &o->gu, &o->dir, &o->xn, &o->r, &o->rn, &o->cg, &o->hs};
    altdiff_int len[] = {n, n, n, n, n, n, 4 * n, md->P->p[n] > 0 ? md->P->p[n] : 1};
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
        if (!(*v[k] = ad_malloc((size_t)len[k], sizeof(double)))) return ALTDIFF_ERR_NOMEM;
    int status = ad_factor_set_P(&md->F, md->P, &o->Hpos);
    for (altdiff_int j = 0; j < n; j++) st->x[j] = st->xt[j] = md->sc.Dinv[j] * o->x0[j];
    return status;
}

/* The Hessian at x0 (hx: its pattern's entries); ALTDIFF_ERR_INVALID when
 * x0 is outside the domain */
static int start_hessian(ad_objective *o)
{
    altdiff_int nz = o->f.hess.p[o->n];
    double f0;
    o->hx = ad_malloc((size_t)(nz > 0 ? nz : 1), sizeof(double));
    if (!o->hx) return ALTDIFF_ERR_NOMEM;
    if (o->f.value(o->f.user, o->x0, &f0) != 0 || !isfinite(f0) ||
        o->f.hessian(o->f.user, o->x0, o->hx) != 0 || !ad_all_finite(o->hx, nz))
        return ALTDIFF_ERR_INVALID;
    return ALTDIFF_OK;
}

/* The objective f for prob (n, q): its callbacks and start point, and its
 * Hessian at the start point in o->hx (the P of the QP setup). Quadratic
 * objectives are not taken here. On failure the caller frees o. */
int ad_smooth_prepare(ad_objective *o, const altdiff_problem *prob, const altdiff_objective *f)
{
    int has_P = prob->P.p && prob->P.ncol > 0 && prob->P.p[prob->P.ncol] > 0;
    if (has_P || (f->kind != ALTDIFF_OBJECTIVE_ENTROPY && f->kind != ALTDIFF_OBJECTIVE_CALLBACK))
        return ALTDIFF_ERR_INVALID;
    memset(o, 0, sizeof(*o));
    o->n = prob->n;
    int status = objective_init(o, f);
    if (f->kind == ALTDIFF_OBJECTIVE_ENTROPY) o->f.user = o; /* until o moves */
    if (status == ALTDIFF_OK) status = start_hessian(o);
    return status;
}

/* After the QP setup with P = Hess f(x0): the model takes the objective */
int ad_smooth_attach(ad_model *md, ad_state *st)
{
    md->xu = &ad_newton_xupdate;
    return objective_attach(md, st);
}

void ad_smooth_free(ad_objective *o)
{
    void *arrays[] = {o->y, o->x0, o->hx, o->xu, o->gu, o->dir, o->xn, o->r, o->rn,
                      o->cg, o->hs, o->Hpos, o->hpat, o->xrec};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    memset(o, 0, sizeof(*o));
}

/* ---- the scaled objective --------------------------------------------------- */

/* o->xu = D x~ (original units) */
static const double *original(ad_model *md, const double *x)
{
    for (altdiff_int j = 0; j < md->n; j++) md->obj.xu[j] = md->sc.D[j] * x[j];
    return md->obj.xu;
}

int ad_smooth_gradient(ad_model *md, ad_state *st, const double *x, double *g, double *obj)
{
    ad_objective *o = &md->obj;
    const double *xu = original(md, x);
    double fv;
    if (o->f.value(o->f.user, xu, &fv) != 0 || o->f.gradient(o->f.user, xu, o->gu) != 0)
        return AD_ERR_DOMAIN;
    *obj = fv + md->sc.cinv * ad_dot(st->q, x, md->n); /* f(x) + q'x = f + q~'x~ / c */
    for (altdiff_int j = 0; j < md->n; j++) g[j] = md->sc.c * md->sc.D[j] * o->gu[j]; /* c D grad f */
    return ALTDIFF_OK;
}

static int hessian_at(ad_model *md, const double *x);

int ad_smooth_refresh(ad_model *md, const double *x)
{
    ad_objective *o = &md->obj;
    int status = hessian_at(md, x);
    if (status != ALTDIFF_OK) return status;
    ad_copy(md->P->x, o->hs, md->P->p[md->n]); /* P~ = c D Hess f D */
    status = ad_factor_set_P(&md->F, md->P, &o->Hpos);
    o->stale = 0;
    o->since = 0;
    return status == ALTDIFF_OK ? ad_factor_refactor(&md->F, md->F.rho, md->F.sigma) : status;
}

int ad_smooth_dgrad(ad_model *md, const double *x, const double *v, double *out)
{
    ad_objective *o = &md->obj;
    o->f.dgrad(o->f.user, original(md, x), v, out);
    for (altdiff_int j = 0; j < md->n; j++) out[j] *= md->sc.c * md->sc.D[j]; /* dq~ = c D J v */
    return ad_all_finite(out, md->n) ? ALTDIFF_OK : AD_ERR_DOMAIN;
}

int ad_smooth_record(ad_model *md, ad_state *st, altdiff_int iter)
{
    ad_objective *o = &md->obj;
    if (iter >= o->xrec_cap) {
        altdiff_int cap = 2 * o->xrec_cap + 64;
        double *r = ad_realloc(o->xrec, (size_t)cap, (size_t)md->n * sizeof(double));
        if (!r) return ALTDIFF_ERR_NOMEM;
        o->xrec = r;
        o->xrec_cap = cap;
    }
    ad_copy(o->xrec + iter * md->n, st->xt, md->n);
    return ALTDIFF_OK;
}

/* ---- the Newton x-update ---------------------------------------------------- */

/* Sv = S'RS v, S = [A; G], R = diag(w on the rows of A, 1 on those of G):
 * from S'RS as kept by factor.c when no dense row was split off (the dense
 * path's, or one pass over packed storage when the pattern of H is full),
 * else by products with A and G (using st->Ax, st->Gx) */
static void penalty_product(ad_model *md, ad_state *st, const double *v, double *Sv)
{
    const ad_factor *F = &md->F;
    if (F->Hd) {
        ad_factor_mul_SRS(F, v, Sv);
        return;
    }
    altdiff_int n = md->n, *Hp = F->H->p, nz = Hp[n];
    ad_fill(Sv, 0, n);
    if (F->lr.k == 0 && nz == n * (n + 1) / 2 && n <= INT32_MAX) {
        int nn = (int)n, one = 1;
        double a = 1, b = 0;
        dspmv_("U", &nn, &a, F->HR, v, &one, &b, Sv, &one);
    } else if (F->lr.k == 0) {
        cs_dl SS = {nz, n, n, Hp, F->H->i, F->HR, -1};
        ad_symv_upper(&SS, v, Sv);
    } else {
        ad_fill(st->Ax, 0, md->m);
        ad_fill(st->Gx, 0, md->p);
        ad_block_mul(&md->Ab, v, st->Ax);
        ad_block_mul(&md->Gb, v, st->Gx);
        for (altdiff_int i = 0; i < md->m; i++) st->Ax[i] *= ad_eq_weight(md, i); /* R */
        ad_block_mul_t(&md->Ab, st->Ax, Sv);
        ad_block_mul_t(&md->Gb, st->Gx, Sv);
    }
}

/* phi and r = grad phi at x~ (see the top of the file); AD_ERR_DOMAIN when
 * x~ is outside the domain. */
static int lagrangian(ad_model *md, ad_state *st, const double *x, const double *rhs, double rho,
                      double sigma, double *phi, double *r)
{
    ad_objective *o = &md->obj;
    altdiff_int n = md->n;
    const double *xu = original(md, x);
    double fv;
    if (o->f.value(o->f.user, xu, &fv) != 0 || !isfinite(fv) ||
        o->f.gradient(o->f.user, xu, o->gu) != 0)
        return AD_ERR_DOMAIN;
    penalty_product(md, st, x, r); /* r = S'S x~ */
    double quad = rho * ad_dot(x, r, n) + sigma * ad_dot(x, x, n);
    *phi = md->sc.c * fv + 0.5 * quad - ad_dot(rhs, x, n);
    for (altdiff_int j = 0; j < n; j++) /* c D grad f + (rho S'S + sigma I) x - rhs */
        r[j] = md->sc.c * md->sc.D[j] * o->gu[j] + rho * r[j] + sigma * x[j] - rhs[j];
    return ad_all_finite(r, n) && isfinite(*phi) ? ALTDIFF_OK : AD_ERR_DOMAIN;
}

/* |r| in original units: the dual residual's c^-1 D^-1 */
static double residual_norm(const ad_model *md, const double *r)
{
    return md->sc.cinv * ad_nrm_inf_scaled(r, md->sc.Dinv, md->n);
}

/* The longest step t <= 1 to try from x~ along d~: within AD_FRACTION of the
 * domain's boundary when max_step is known */
static double first_step(ad_model *md, const double *x, const double *d)
{
    ad_objective *o = &md->obj;
    if (!o->f.max_step) return 1;
    for (altdiff_int j = 0; j < md->n; j++) o->xn[j] = md->sc.D[j] * d[j]; /* D d~ */
    double t = o->f.max_step(o->f.user, original(md, x), o->xn);
    return AD_FRACTION * t >= 1 ? 1 : t > 0 ? AD_FRACTION * t : 0; /* NaN: no step */
}

/* Backtrack from the first step until phi decreases enough (a relative
 * 1e-13 of slack absorbs rounding near the minimum); xn, rn, *phin at the
 * accepted point, *t its step. AD_ERR_NEWTON when no step is accepted. */
static int line_search(ad_model *md, ad_state *st, const double *x, const double *rhs, double rho,
                       double sigma, double phi, double *phin)
{
    ad_objective *o = &md->obj;
    double slope = ad_dot(o->r, o->dir, md->n); /* r'd < 0: H is positive definite */
    double t0 = first_step(md, x, o->dir);
    for (double t = t0; t >= AD_T_MIN; t *= 0.5) {
        for (altdiff_int j = 0; j < md->n; j++) o->xn[j] = x[j] + t * o->dir[j];
        if (lagrangian(md, st, o->xn, rhs, rho, sigma, phin, o->rn) == ALTDIFF_OK &&
            *phin <= phi + AD_ARMIJO * t * slope + 1e-13 * fabs(phi))
            return ALTDIFF_OK;
    }
    return AD_ERR_NEWTON;
}

/* Kv = (c D Hess f(x) D + rho S'S + sigma I) v with the Hessian's values at
 * x in o->hs (scaled, on the pattern of P~) */
static void hessian_product(ad_model *md, ad_state *st, const double *v, double rho, double sigma,
                            double *Kv)
{
    cs_dl Hf = *md->P;
    Hf.x = md->obj.hs;
    penalty_product(md, st, v, Kv);                            /* S'S v         */
    for (altdiff_int j = 0; j < md->n; j++) Kv[j] = rho * Kv[j] + sigma * v[j];
    ad_symv_upper(&Hf, v, Kv);                            /* + Hess~ v     */
}

/* o->hx = Hess f(D x~) on the given entries, o->hs = c D Hess f(D x~) D on
 * the pattern of P~ */
static int hessian_at(ad_model *md, const double *x)
{
    ad_objective *o = &md->obj;
    if (o->f.hessian(o->f.user, original(md, x), o->hx) != 0 || !ad_all_finite(o->hx, md->Pnz))
        return AD_ERR_DOMAIN;
    const cs_dl *P = md->P;
    for (altdiff_int k = 0; k < md->Pnz; k++)
        if (ad_map_at(md->Pmap, k) >= 0) o->hs[ad_map_at(md->Pmap, k)] = o->hx[k];
    for (altdiff_int j = 0; j < md->n; j++)
        for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++)
            o->hs[t] *= md->sc.c * md->sc.D[P->i[t]] * md->sc.D[j];
    return ALTDIFF_OK;
}

/* The Newton direction d = -K^-1 r at x~ (K: Hess phi there) by conjugate
 * gradients preconditioned with the factor of H (K at the last refresh):
 * exact in one step when the factor is fresh, and a few solves instead of a
 * factorization while the Hessian moves. Stops at |res| <= AD_CG_TOL |r|;
 * *its: the preconditioner solves. */
static int newton_direction(ad_model *md, ad_state *st, const double *x, double rho, double sigma,
                            int fresh, altdiff_int *its)
{
    ad_objective *o = &md->obj;
    altdiff_int n = md->n;
    double *d = o->dir, *res = o->cg, *z = res + n, *pd = z + n, *Kp = pd + n;
    int status = fresh ? ALTDIFF_OK : hessian_at(md, x); /* fresh: the refresh did it */
    if (status != ALTDIFF_OK) return status;
    ad_fill(d, 0, n);
    for (altdiff_int j = 0; j < n; j++) res[j] = z[j] = -o->r[j]; /* res = -r - K d */
    double start = ad_nrm_inf(res, n), stop = AD_CG_TOL * start, rz = 0;
    altdiff_int cap = (altdiff_int)fmin(AD_CG_MAX, fmax(AD_CG_MIN, ad_factor_cost_in_sweeps(&md->F, md->P, md->A, md->G)));
    for (*its = 0; *its < cap && ad_nrm_inf(res, n) > stop; ++*its) {
        if (*its == AD_CG_PROBE && !fresh && /* at this rate: beyond the cap */
            AD_CG_PROBE * log(AD_CG_TOL) / log(ad_nrm_inf(res, n) / start) > (double)cap)
            return AD_CG_SLOW;
        if (*its > 0) ad_copy(z, res, n);
        if ((status = ad_factor_solve(&md->F, z)) != ALTDIFF_OK) return status; /* z = M^-1 res */
        double rz_new = ad_dot(res, z, n), beta = *its > 0 ? rz_new / rz : 0;
        for (altdiff_int j = 0; j < n; j++) pd[j] = z[j] + beta * pd[j];
        rz = rz_new;
        hessian_product(md, st, pd, rho, sigma, Kp);
        double curv = ad_dot(pd, Kp, n);
        if (!(curv > 0)) return *its > 0 ? ALTDIFF_OK : AD_ERR_NEWTON; /* K not definite */
        double alpha = rz / curv;
        ad_axpy(d, alpha, pd, n);
        ad_axpy(res, -alpha, Kp, n);
    }
    return ALTDIFF_OK;
}

/* One damped Newton step from x~ (r = grad phi there). The factor is
 * refreshed at x when it is stale: when the CG solves since the last refresh
 * cost more than a factorization, when CG did not converge, or when the line
 * search failed (then the step is retried once with the fresh factor). */
static int newton_step(ad_model *md, ad_state *st, double *x, const double *rhs, double rho,
                       double sigma, double *phi)
{
    ad_objective *o = &md->obj;
    double phin = 0;
    altdiff_int its = 0;
    for (;;) {
        int fresh = o->stale, status = fresh ? ad_smooth_refresh(md, x) : ALTDIFF_OK;
        if (status != ALTDIFF_OK) return status;
        st->info.hess_updates += fresh;
        status = newton_direction(md, st, x, rho, sigma, fresh, &its);
        o->since += its;
        if (status == ALTDIFF_OK) status = line_search(md, st, x, rhs, rho, sigma, *phi, &phin);
        if (status == ALTDIFF_OK) break;
        if (fresh || (status != AD_ERR_NEWTON && status != AD_CG_SLOW)) return status;
        o->stale = 1; /* retry with the Hessian at x */
    }
    double budget = ad_factor_cost_in_sweeps(&md->F, md->P, md->A, md->G); /* refresh when CG costs more */
    if (its > 1 && (double)o->since >= fmax(budget, AD_CG_MIN)) o->stale = 1;
    ad_copy(x, o->xn, md->n);
    double *swap = o->r;
    o->r = o->rn;
    o->rn = swap;
    *phi = phin;
    st->info.newton_steps++;
    return ALTDIFF_OK;
}

int ad_smooth_x_update(ad_model *md, ad_state *st, const double *rhs, double rho, double sigma)
{
    ad_objective *o = &md->obj;
    double *x = st->xt, phi = 0;
    int status = lagrangian(md, st, x, rhs, rho, sigma, &phi, o->r);
    for (int k = 0; status == ALTDIFF_OK && k < AD_NEWTON_MAX; k++) {
        double res = residual_norm(md, o->r);
        if (res <= o->tol_final || (k > 0 && res <= o->tol)) break;
        status = newton_step(md, st, x, rhs, rho, sigma, &phi);
    }
    return status;
}

/* ---- theta ------------------------------------------------------------------- */

altdiff_int ad_theta_size(const ad_model *md)
{
    return md->obj.kind == ALTDIFF_OBJECTIVE_CALLBACK ? md->obj.k : md->n;
}

altdiff_int altdiff_theta_size(const altdiff_work *w)
{
    return w ? ad_theta_size(&w->model) : -1;
}

/* Validated like setup (every value finite, "theta[k] is NaN"); a failure
 * changes nothing */
int altdiff_update_theta(altdiff_work *w, const double *theta)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    ad_model *md = &w->model;
    ad_state *st = &w->state;
    int kind = md->obj.kind;
    if (kind != ALTDIFF_OBJECTIVE_CALLBACK && !theta) {
        ad_msg(md->msg, AD_MSG_LEN, "theta is NULL (the objective takes %lld values)",
               (long long)md->n);
        return ALTDIFF_ERR_INVALID;
    }
    if (kind == ALTDIFF_OBJECTIVE_CALLBACK && theta) {
        ad_msg(md->msg, AD_MSG_LEN, "theta must be NULL for a callback objective");
        return ALTDIFF_ERR_INVALID;
    }
    if (theta && ad_check_finite("theta", theta, md->n, md->msg, AD_MSG_LEN) != ALTDIFF_OK)
        return ALTDIFF_ERR_INVALID;
    if (kind == ALTDIFF_OBJECTIVE_QUADRATIC) ad_state_set_vectors(md, st, theta, NULL, NULL);
    if (kind == ALTDIFF_OBJECTIVE_ENTROPY) ad_copy(md->obj.y, theta, md->n);
    st->info.status = ALTDIFF_UNSOLVED;
    return ALTDIFF_OK;
}

int altdiff_theta_grad(const altdiff_work *w, const double *dq, double *dtheta)
{
    const ad_model *md = w ? &w->model : NULL;
    const ad_state *st = w ? &w->state : NULL;
    if (!w || !dq || !dtheta || !ad_all_finite(dq, md->n)) return ALTDIFF_ERR_INVALID;
    if (st->info.status != ALTDIFF_SOLVED) return ALTDIFF_ERR_NOT_SOLVED;
    const ad_objective *o = &md->obj;
    if (o->kind == ALTDIFF_OBJECTIVE_QUADRATIC) {
        ad_copy(dtheta, dq, md->n); /* theta = q */
        return ALTDIFF_OK;
    }
    if (o->k == 0) return ALTDIFF_OK;
    ad_unscale_solution(md, st, o->xu, NULL, NULL, NULL); /* x* */
    o->f.dgrad_t(o->f.user, o->xu, dq, dtheta); /* dL/dtheta = J' dL/dq */
    return ALTDIFF_OK;
}

/* ---- the x-update table (ad_internal.h) ---------------------------------------- */

static int newton_x_update(ad_model *md, ad_state *st)
{
    int status = ad_smooth_x_update(md, st, st->rhs, md->F.rho, md->F.sigma);
    if (status == ALTDIFF_OK && md->set.record) status = ad_smooth_record(md, st, st->mask_iters - 1);
    return status;
}

static int newton_gradient(ad_model *md, ad_state *st, const double *x, double *v)
{
    return ad_smooth_gradient(md, st, x, v, &st->info.obj);
}

/* Newton stops at |residual| <= tol: loose at first, tol_final at the end */
static void newton_start(ad_model *md)
{
    md->obj.tol = INFINITY;
    md->obj.tol_final = 0.1 * md->set.eps_abs;
}

static void newton_accuracy(ad_model *md, double tol) { md->obj.tol = tol; }

/* The solution is the last Newton point x~ (in the domain), and the factor
 * of H is refreshed at it for the derivatives */
static int newton_finish(ad_model *md, ad_state *st)
{
    ad_copy(st->x, st->xt, md->n);
    return ad_smooth_refresh(md, st->x);
}

const ad_xupdate ad_newton_xupdate = {
    newton_x_update, newton_gradient, newton_start, newton_accuracy, ad_smooth_refresh,
    newton_finish,
    1, /* checks at the Newton point x~ (in the domain)               */
    0, /* no duality-gap test (the dual needs f's conjugate)          */
    0, /* unboundedness is not detected (altdiff.h)                   */
};
