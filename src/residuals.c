/*
 * residuals.c: the stopping test (doc/MATH.md section 3.3), in original
 * units: primal and dual residuals with scales that cannot cancel, and the
 * duality gap. Used by the solve (admm.c) and by polishing (polish.c).
 */
#include <math.h>

#include "ad_internal.h"

typedef residuals_t residuals;

/* Primal residuals |Ax - b|, |Gx + s - h| and their scale
 *     max( |Ax|, |Gx|, |b|, |h_k| over rows with s_k = 0 )
 * (unscaled by Einv) from the products Ax (m), Gx (p). The rows with s_k > 0
 * enter through |Gx| alone: their h - s = Gx - r would let a residual r
 * widen its own tolerance. */
static void primal_residual(ad_model *md, ad_state *st, const double *Ax, const double *Gx,
                            residuals *r)
{
    altdiff_int m = md->m, p = md->p;
    const double *Ea = md->sc.Einv, *Eg = md->sc.Einv + m;
    double scale = ad_max(ad_nrm_inf_scaled(Ax, Ea, m), ad_nrm_inf_scaled(Gx, Eg, p));
    double res = 0;
    for (altdiff_int i = 0; i < m; i++) {
        res = ad_max(res, fabs((Ax[i] - st->b[i]) * Ea[i]));        /* |Ax - b|     */
        scale = ad_max(scale, fabs(st->b[i] * Ea[i]));              /* |b|          */
    }
    for (altdiff_int k = 0; k < p; k++) {
        res = ad_max(res, fabs((Gx[k] + st->s[k] - st->h[k]) * Eg[k])); /* |Gx + s - h| */
        if (st->s[k] == 0) scale = ad_max(scale, fabs(st->h[k] * Eg[k]));  /* |h_active|   */
    }
    r->r_prim = res;
    r->prim_scale = scale;
    r->eps_prim = md->set.eps_abs + md->set.eps_rel * scale;
}

/* acc += v; return |v| in original units (c^-1 D^-1 v) */
static double accumulate(ad_model *md, double *acc, const double *v)
{
    ad_axpy(acc, 1.0, v, md->n);
    return md->sc.cinv * ad_nrm_inf_scaled(v, md->sc.Dinv, md->n);
}

/* The objective's gradient part v (scaled: P~ x~, or c D grad f(D x~)) and
 * the objective (1/2 x'Px + q'x, or f(x) + q'x) into info.obj */
static int objective_gradient(ad_model *md, ad_state *st, const double *x, double *v)
{
    return md->xu->gradient(md, st, x, v);
}

/* The dual residual's first terms: acc = q + v (v: P~ x~, or c D grad f),
 * x'Px into r; returns the scale so far, max(|q|, |v|) */
static double dual_start(ad_model *md, ad_state *st, const double *x, const double *v,
                         residuals *r)
{
    double *acc = st->wn;
    ad_copy(acc, st->q, md->n);
    double scale = md->sc.cinv * ad_nrm_inf_scaled(st->q, md->sc.Dinv, md->n);
    r->xPx = md->sc.cinv * ad_dot(x, v, md->n);                    /* x'Px      */
    return ad_max(scale, accumulate(md, acc, v));
}

/* Then acc += sy = A'lam + G'nu (one vector: A'lam and G'nu may each be
 * huge and cancel): |Px + q + A'lam + G'nu| and the scale max(|Px|, |q|,
 * |A'lam + G'nu|) */
static void dual_finish(ad_model *md, ad_state *st, const double *sy, double scale, residuals *r)
{
    scale = ad_max(scale, accumulate(md, st->wn, sy));
    r->r_dual = md->sc.cinv * ad_nrm_inf_scaled(st->wn, md->sc.Dinv, md->n);
    r->dual_scale = scale;
    r->eps_dual = md->set.eps_abs + md->set.eps_rel * scale;
}

/* Dual residual |Px + q + A'lam + G'nu| (|grad f + q + ...|) and its
 * scale; also the objective. Infinite when x is outside the domain. */
static void dual_residual(ad_model *md, ad_state *st, const double *x, residuals *r)
{
    double *v = st->wn2;
    if (objective_gradient(md, st, x, v) != ALTDIFF_OK) {
        r->r_dual = r->dual_scale = r->eps_dual = INFINITY;
        r->xPx = NAN;
        return;
    }
    double scale = dual_start(md, st, x, v, r);
    ad_fill(v, 0, md->n);
    ad_block_mul_t(&md->Ab, st->lam, v);                                 /* A'lam     */
    ad_block_mul_t(&md->Gb, st->nu, v);                                  /* + G'nu    */
    dual_finish(md, st, v, scale, r);
}

/* Duality gap of a QP, original units (after dual_residual, x'Px in r):
 *     f_p = 1/2 x'Px + q'x,   f_d = -1/2 x'Px - b'lam - h'nu,
 *     gap = |f_p - f_d| = |x'Px + q'x + b'lam + h'nu|,
 *     eps_gap = eps_abs + eps_rel max(|f_p|, |f_d|)
 * (the dual objective as one number: its terms may cancel). Smooth
 * objectives have no gap test (gap = 0). */
static void duality_gap(ad_model *md, ad_state *st, const double *x, residuals *r)
{
    if (!md->xu->has_gap) {
        r->gap = 0;
        r->eps_gap = INFINITY;
        return;
    }
    double c = md->sc.cinv;
    double qx = c * ad_dot(st->q, x, md->n);
    double by = c * (ad_dot(st->b, st->lam, md->m) + ad_dot(st->h, st->nu, md->p));
    double fp = 0.5 * r->xPx + qx, fd = -0.5 * r->xPx - by;
    r->gap = fabs(fp - fd);
    r->eps_gap = md->set.eps_abs + md->set.eps_rel * ad_max(fabs(fp), fabs(fd));
}

/* 1 if the residuals and the gap pass the stopping test */
static int converged(const residuals *r)
{
    return r->r_prim <= r->eps_prim && r->r_dual <= r->eps_dual && r->gap <= r->eps_gap;
}

/* Residuals, gap and tolerances of the iterates (x: st->x, or a smooth
 * objective's Newton point) as a check computes them; writes info.obj and
 * scratch, nothing else of the state */
void ad_residuals(ad_model *md, ad_state *st, const double *x, residuals_t *r)
{
    ad_fill(st->Ax, 0, md->m);
    ad_fill(st->Gx, 0, md->p);
    ad_block_mul(&md->Ab, x, st->Ax);
    ad_block_mul(&md->Gb, x, st->Gx);
    primal_residual(md, st, st->Ax, st->Gx, r);
    dual_residual(md, st, x, r);
    duality_gap(md, st, x, r);
}

void ad_residuals_given(ad_model *md, ad_state *st, const double *x, const ad_products *pr,
                        residuals_t *r)
{
    st->info.obj = md->sc.cinv * (0.5 * ad_dot(x, pr->Px, md->n) + ad_dot(st->q, x, md->n));
    primal_residual(md, st, pr->Ax, pr->Gx, r);
    dual_finish(md, st, pr->Sy, dual_start(md, st, x, pr->Px, r), r);
    duality_gap(md, st, x, r);
}

/* 1 if r is finite and passes the stopping test */
int ad_converged(const residuals_t *r)
{
    return isfinite(r->r_prim) && isfinite(r->r_dual) && isfinite(r->gap) && converged(r);
}

/* r / eps, 0 for r = 0, infinite for eps = 0 < r or a non-finite r */
static double ratio(double r, double eps)
{
    if (r == 0) return 0;
    double v = r / eps;
    return isfinite(v) ? v : INFINITY;
}

double ad_score(const residuals_t *r)
{
    return fmax(fmax(ratio(r->r_prim, r->eps_prim), ratio(r->r_dual, r->eps_dual)),
                ratio(r->gap, r->eps_gap));
}

/* The residuals, gap and tolerances r into info */
void ad_info_residuals(ad_state *st, const residuals_t *r)
{
    st->info.r_prim = r->r_prim;
    st->info.r_dual = r->r_dual;
    st->info.eps_prim = r->eps_prim;
    st->info.eps_dual = r->eps_dual;
    st->info.gap = r->gap;
    st->info.eps_gap = r->eps_gap;
}

