/*
 * smooth.c: smooth convex objectives (MATH.md, "Smooth convex objectives
 * beyond QPs"). The x-update of ADMM minimizes, over x~ (scaled),
 *
 *     phi(x~) = c f(D x~) + 1/2 x~'(rho S'S + sigma I) x~ - rhs'x~
 *     rhs     = sigma x - q~ - A'(lam - rho b) - G'(nu + rho (s - h))
 *
 * (the augmented Lagrangian up to a constant; for f quadratic it is the QP's
 * x-update) by damped Newton:
 *
 *     r = grad phi = c D grad f(D x~) + (rho S'S + sigma I) x~ - rhs
 *     d = -H^-1 r,   H = c D Hess f D + rho S'S + sigma I  (the factor of H)
 *     x~ <- x~ + t d, t = the first of t0, t0/2, t0/4, ... with
 *           phi(x~ + t d) <= phi(x~) + 1e-4 t r'd, where t0 = 1, or 0.99 of
 *           the distance to the domain's boundary when that is closer (and
 *           max_step tells it).
 *
 * The factor of H keeps the Hessian of the last refresh: a step that does not
 * reduce |r| by half (or is cut back below t0) marks it stale, and the next step
 * refactors numerically at the current point (the symbolic analysis is
 * never redone). Newton stops at |r| <= tol in original units, where admm.c
 * sets tol from its residuals (0.1 max(eps_dual, r_dual) of the last check),
 * so early x-updates are cheap and the last ones exact.
 *
 * Everything else about derivatives is the QP's with P = Hess f(x*) (held in
 * P0x, P~ and H after every solve) and dq_eff = J dtheta, J = d grad f / d theta.
 */
#include <math.h>
#include <string.h>

#include "ad_internal.h"

#define AD_NEWTON_MAX 50  /* Newton steps per x-update at most            */
#define AD_ARMIJO 1e-4    /* sufficient decrease of phi                   */
#define AD_FRACTION 0.99  /* of the distance to the domain's boundary     */
#define AD_SLOW 0.5       /* |r| reduced less than this: refresh Hess f   */
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
static int objective_attach(altdiff_work *w)
{
    ad_objective *o = &w->obj;
    altdiff_int n = w->n;
    if (o->kind == ALTDIFF_OBJECTIVE_ENTROPY) o->f.user = o; /* its final address */
    double **v[] = {&o->xu, &o->gu, &o->dir, &o->xn, &o->r, &o->rn};
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
        if (!(*v[k] = ad_malloc((size_t)n, sizeof(double)))) return ALTDIFF_ERR_NOMEM;
    int status = ad_factor_set_P(w, &o->Hpos);
    for (altdiff_int j = 0; j < n; j++) w->x[j] = w->xt[j] = w->Dinv[j] * o->x0[j];
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

int altdiff_setup_objective(altdiff_work **work, const altdiff_problem *prob,
                            const altdiff_objective *f, const altdiff_settings *settings)
{
    if (!work) return ALTDIFF_ERR_INVALID;
    *work = NULL;
    if (!prob || !f || prob->n <= 0) return ALTDIFF_ERR_INVALID;
    if (f->kind == ALTDIFF_OBJECTIVE_QUADRATIC) return altdiff_setup(work, prob, settings);
    altdiff_int n = prob->n;
    int has_P = prob->P.p && prob->P.ncol > 0 && prob->P.p[prob->P.ncol] > 0;
    if (has_P || (f->kind != ALTDIFF_OBJECTIVE_ENTROPY && f->kind != ALTDIFF_OBJECTIVE_CALLBACK))
        return ALTDIFF_ERR_INVALID;
    ad_objective o;
    memset(&o, 0, sizeof(o));
    o.n = n;
    double *q = prob->q ? NULL : ad_calloc((size_t)n, sizeof(double));
    int status = (prob->q || q) ? objective_init(&o, f) : ALTDIFF_ERR_NOMEM;
    if (f->kind == ALTDIFF_OBJECTIVE_ENTROPY) o.f.user = &o; /* moved with o below */
    if (status == ALTDIFF_OK) status = start_hessian(&o);
    if (status == ALTDIFF_OK) { /* the QP setup with P = Hess f(x0) */
        altdiff_problem qp = *prob;
        altdiff_csc P = {n, n, o.f.hess.p, o.f.hess.i, o.hx};
        qp.P = P;
        qp.q = prob->q ? prob->q : q;
        status = altdiff_setup(work, &qp, settings);
    }
    ad_free(q);
    if (status != ALTDIFF_OK) {
        ad_smooth_free(&o);
        return status;
    }
    (*work)->obj = o; /* the workspace owns o's arrays now */
    status = objective_attach(*work);
    if (status != ALTDIFF_OK) {
        altdiff_free(*work);
        *work = NULL;
    }
    return status;
}

void ad_smooth_free(ad_objective *o)
{
    void *arrays[] = {o->y, o->x0, o->hx, o->xu, o->gu, o->dir, o->xn, o->r, o->rn,
                      o->Hpos, o->hpat, o->xrec};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    memset(o, 0, sizeof(*o));
}

/* ---- the scaled objective --------------------------------------------------- */

/* o->xu = D x~ (original units) */
static const double *original(altdiff_work *w, const double *x)
{
    for (altdiff_int j = 0; j < w->n; j++) w->obj.xu[j] = w->D[j] * x[j];
    return w->obj.xu;
}

int ad_smooth_gradient(altdiff_work *w, const double *x, double *g, double *obj)
{
    ad_objective *o = &w->obj;
    const double *xu = original(w, x);
    double fv;
    if (o->f.value(o->f.user, xu, &fv) != 0 || o->f.gradient(o->f.user, xu, o->gu) != 0)
        return AD_ERR_DOMAIN;
    *obj = fv + w->cinv * ad_dot(w->q, x, w->n); /* f(x) + q'x = f + q~'x~ / c */
    for (altdiff_int j = 0; j < w->n; j++) g[j] = w->c * w->D[j] * o->gu[j]; /* c D grad f */
    return ALTDIFF_OK;
}

int ad_smooth_refresh(altdiff_work *w, const double *x)
{
    ad_objective *o = &w->obj;
    if (o->f.hessian(o->f.user, original(w, x), o->hx) != 0 || !ad_all_finite(o->hx, w->Pnz))
        return AD_ERR_DOMAIN;
    for (altdiff_int k = 0; k < w->Pnz; k++)
        if (w->Pmap[k] >= 0) w->P0x[w->Pmap[k]] = o->hx[k];
    ad_scale_P(w);                          /* P~ = c D Hess f D */
    int status = ad_factor_set_P(w, &o->Hpos);
    o->stale = 0;
    return status == ALTDIFF_OK ? ad_factor_refactor(w, w->F.rho, w->F.sigma) : status;
}

int ad_smooth_dgrad(altdiff_work *w, const double *x, const double *v, double *out)
{
    ad_objective *o = &w->obj;
    o->f.dgrad(o->f.user, original(w, x), v, out);
    for (altdiff_int j = 0; j < w->n; j++) out[j] *= w->c * w->D[j]; /* dq~ = c D J v */
    return ad_all_finite(out, w->n) ? ALTDIFF_OK : AD_ERR_DOMAIN;
}

int ad_smooth_record(altdiff_work *w, altdiff_int iter)
{
    ad_objective *o = &w->obj;
    if (iter >= o->xrec_cap) {
        altdiff_int cap = 2 * o->xrec_cap + 64;
        double *r = ad_realloc(o->xrec, (size_t)cap, (size_t)w->n * sizeof(double));
        if (!r) return ALTDIFF_ERR_NOMEM;
        o->xrec = r;
        o->xrec_cap = cap;
    }
    ad_copy(o->xrec + iter * w->n, w->xt, w->n);
    return ALTDIFF_OK;
}

/* ---- the Newton x-update ---------------------------------------------------- */

/* phi and r = grad phi at x~ (see the top of the file); AD_ERR_DOMAIN when
 * x~ is outside the domain. Uses w->Ax, w->Gx. */
static int lagrangian(altdiff_work *w, const double *x, const double *rhs, double rho,
                      double sigma, double *phi, double *r)
{
    ad_objective *o = &w->obj;
    altdiff_int n = w->n, m = w->m, p = w->p;
    const double *xu = original(w, x);
    double fv;
    if (o->f.value(o->f.user, xu, &fv) != 0 || !isfinite(fv) ||
        o->f.gradient(o->f.user, xu, o->gu) != 0)
        return AD_ERR_DOMAIN;
    ad_fill(w->Ax, 0, m);
    ad_fill(w->Gx, 0, p);
    ad_gaxpy(w->A, x, w->Ax);
    ad_gaxpy(w->G, x, w->Gx);
    double quad = rho * (ad_dot(w->Ax, w->Ax, m) + ad_dot(w->Gx, w->Gx, p)) +
                  sigma * ad_dot(x, x, n);
    *phi = w->c * fv + 0.5 * quad - ad_dot(rhs, x, n);
    for (altdiff_int j = 0; j < n; j++)
        r[j] = w->c * w->D[j] * o->gu[j] + sigma * x[j] - rhs[j]; /* c D grad f + sigma x - rhs */
    for (altdiff_int i = 0; i < m; i++) w->Ax[i] *= rho;
    for (altdiff_int k = 0; k < p; k++) w->Gx[k] *= rho;
    ad_gatxpy(w->A, w->Ax, r); /* + rho A'A x~ */
    ad_gatxpy(w->G, w->Gx, r); /* + rho G'G x~ */
    return ad_all_finite(r, n) && isfinite(*phi) ? ALTDIFF_OK : AD_ERR_DOMAIN;
}

/* |r| in original units: the dual residual's c^-1 D^-1 */
static double residual_norm(const altdiff_work *w, const double *r)
{
    return w->cinv * ad_nrm_inf_scaled(r, w->Dinv, w->n);
}

/* The longest step t <= 1 to try from x~ along d~: within AD_FRACTION of the
 * domain's boundary when max_step is known */
static double first_step(altdiff_work *w, const double *x, const double *d)
{
    ad_objective *o = &w->obj;
    if (!o->f.max_step) return 1;
    for (altdiff_int j = 0; j < w->n; j++) o->xn[j] = w->D[j] * d[j]; /* D d~ */
    double t = o->f.max_step(o->f.user, original(w, x), o->xn);
    return AD_FRACTION * t >= 1 ? 1 : t > 0 ? AD_FRACTION * t : 0; /* NaN: no step */
}

/* Backtrack from the first step until phi decreases enough (a relative
 * 1e-13 of slack absorbs rounding near the minimum); xn, rn, *phin at the
 * accepted point, *t its step. AD_ERR_NEWTON when no step is accepted. */
static int line_search(altdiff_work *w, const double *x, const double *rhs, double rho,
                       double sigma, double phi, double *phin, int *cut)
{
    ad_objective *o = &w->obj;
    double slope = ad_dot(o->r, o->dir, w->n); /* r'd < 0: H is positive definite */
    double t0 = first_step(w, x, o->dir);
    for (double t = t0; t >= AD_T_MIN; t *= 0.5) {
        for (altdiff_int j = 0; j < w->n; j++) o->xn[j] = x[j] + t * o->dir[j];
        *cut = t < t0;
        if (lagrangian(w, o->xn, rhs, rho, sigma, phin, o->rn) == ALTDIFF_OK &&
            *phin <= phi + AD_ARMIJO * t * slope + 1e-13 * fabs(phi))
            return ALTDIFF_OK;
    }
    return AD_ERR_NEWTON;
}

/* One damped Newton step from x~ (r = grad phi there): refresh the Hessian
 * first when it is stale; a failed search with a stale Hessian is retried
 * once with a fresh one. */
static int newton_step(altdiff_work *w, double *x, const double *rhs, double rho,
                       double sigma, double *phi)
{
    ad_objective *o = &w->obj;
    double res = residual_norm(w, o->r), phin = 0;
    int cut = 0;
    for (;;) {
        int fresh = o->stale, status = fresh ? ad_smooth_refresh(w, x) : ALTDIFF_OK;
        if (status != ALTDIFF_OK) return status;
        w->info.hess_updates += fresh;
        for (altdiff_int j = 0; j < w->n; j++) o->dir[j] = -o->r[j];
        if ((status = ad_factor_solve(w, o->dir)) != ALTDIFF_OK) return status; /* d = -H^-1 r */
        status = line_search(w, x, rhs, rho, sigma, *phi, &phin, &cut);
        if (status == ALTDIFF_OK) break;
        if (fresh) return status;
        o->stale = 1; /* retry with the Hessian at x */
    }
    if (cut || residual_norm(w, o->rn) > AD_SLOW * res) o->stale = 1; /* slow: refresh */
    ad_copy(x, o->xn, w->n);
    double *swap = o->r;
    o->r = o->rn;
    o->rn = swap;
    *phi = phin;
    w->info.newton_steps++;
    return ALTDIFF_OK;
}

int ad_smooth_x_update(altdiff_work *w, const double *rhs, double rho, double sigma)
{
    ad_objective *o = &w->obj;
    double *x = w->xt, phi = 0;
    int status = lagrangian(w, x, rhs, rho, sigma, &phi, o->r);
    for (int k = 0; status == ALTDIFF_OK && k < AD_NEWTON_MAX; k++) {
        double res = residual_norm(w, o->r);
        if (res <= o->tol_final || (k > 0 && res <= o->tol)) break;
        status = newton_step(w, x, rhs, rho, sigma, &phi);
    }
    return status;
}

/* ---- theta ------------------------------------------------------------------- */

altdiff_int altdiff_theta_size(const altdiff_work *w)
{
    return !w ? 0 : w->obj.kind == ALTDIFF_OBJECTIVE_CALLBACK ? w->obj.k : w->n;
}

int altdiff_update_theta(altdiff_work *w, const double *theta)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    if (w->obj.kind == ALTDIFF_OBJECTIVE_QUADRATIC)
        return theta ? altdiff_update_vectors(w, theta, NULL, NULL) : ALTDIFF_ERR_INVALID;
    if (w->obj.kind == ALTDIFF_OBJECTIVE_ENTROPY) {
        if (!theta || !ad_all_finite(theta, w->n)) return ALTDIFF_ERR_INVALID;
        ad_copy(w->obj.y, theta, w->n);
    } else if (theta) {
        return ALTDIFF_ERR_INVALID;
    }
    w->info.status = ALTDIFF_UNSOLVED;
    return ALTDIFF_OK;
}

int altdiff_theta_grad(const altdiff_work *w, const double *dq, double *dtheta)
{
    if (!w || !dq || !dtheta || !ad_all_finite(dq, w->n)) return ALTDIFF_ERR_INVALID;
    if (w->info.status != ALTDIFF_SOLVED) return ALTDIFF_ERR_NOT_SOLVED;
    const ad_objective *o = &w->obj;
    if (o->kind == ALTDIFF_OBJECTIVE_QUADRATIC) {
        ad_copy(dtheta, dq, w->n); /* theta = q */
        return ALTDIFF_OK;
    }
    if (o->k == 0) return ALTDIFF_OK;
    for (altdiff_int j = 0; j < w->n; j++) o->xu[j] = w->D[j] * w->x[j]; /* x* */
    o->f.dgrad_t(o->f.user, o->xu, dq, dtheta); /* dL/dtheta = J' dL/dq */
    return ALTDIFF_OK;
}
