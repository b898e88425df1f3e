/*
 * forward.c: forward-mode derivatives, the Alt-Diff recursion (doc/MATH.md), run
 * after the solve with the slack mask frozen, on the scaled problem, for a
 * block of d directions at once (one multi-column solve with the factor of H
 * per sweep). It differentiates the relaxed map that admm.c iterates, whose
 * fixed point is the plain map's:
 *
 *     dx~   = H^-1 ( sigma dx - dq - A'(dlam - rho db) - G'(dnu + rho (ds - dh)) )
 *     dAx^  = alpha A dx~ + (1 - alpha) db
 *     dGx^  = alpha G dx~ + (1 - alpha) (dh - ds)
 *     ds+   = D ( -dnu/rho - (dGx^ - dh) ),        D = diag(1[s > 0])
 *     dlam+ = dlam + rho (dAx^ - db)
 *     dnu+  = dnu  + rho (dGx^ + ds+ - dh)
 *     dx+   = alpha dx~ + (1 - alpha) dx
 *
 * Truncation: stop when the largest change of the tangents falls below
 * eps times their size.
 */
#include <math.h>

#include "ad_fold.h"
#include "ad_internal.h"

/* The tangent state and direction of a block: column-major, d columns */
typedef struct ad_tangent {
    altdiff_int d;
    double *dx, *ds, *dlam, *dnu, *dxt, *Ax, *Gx;
    const double *dq, *db, *dh;
    ad_solve_work ws;            /* solve workspaces for d columns */
    const double *dtheta;        /* ad_tangent_theta: dq = base + J dtheta */
    double *base, *dq_theta;     /* n each                                 */
} tangent;

/* rhs (in t->dxt) = sigma dx - dq - A'(dlam - rho db) - G'(dnu + rho (ds - dh)) */
static void tangent_rhs(ad_model *md, tangent *t, double rho, double sigma)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    for (altdiff_int c = 0; c < t->d; c++) {
        double *r = t->dxt + c * n, *a = t->Ax + c * m, *g = t->Gx + c * p;
        const double *dq = t->dq ? t->dq + c * n : NULL, *db = t->db ? t->db + c * m : NULL,
                     *dh = t->dh ? t->dh + c * p : NULL;
        for (altdiff_int j = 0; j < n; j++)
            r[j] = sigma * t->dx[c * n + j] - (dq ? dq[j] : 0);
        for (altdiff_int i = 0; i < m; i++) /* w_i rho: the equality rows' penalty */
            a[i] = (db ? rho * ad_eq_weight(md, i) * db[i] : 0) - t->dlam[c * m + i];
        for (altdiff_int k = 0; k < p; k++)
            g[k] = -t->dnu[c * p + k] - rho * (t->ds[c * p + k] - (dh ? dh[k] : 0));
        ad_block_mul_t(&md->Ab, a, r); /* r += A'(rho db - dlam)         */
        ad_block_mul_t(&md->Gb, g, r); /* r += G'(-dnu - rho (ds - dh))  */
    }
}

/* The constraint-side tangents of column c from dx~; returns the largest change */
static double tangent_constraints(ad_model *md, ad_state *st, tangent *t, altdiff_int c, double rho,
                                  double alpha)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double *a = t->Ax + c * m, *g = t->Gx + c * p, *dlam = t->dlam + c * m;
    double *ds = t->ds + c * p, *dnu = t->dnu + c * p, change = 0;
    const double *db = t->db ? t->db + c * m : NULL, *dh = t->dh ? t->dh + c * p : NULL;
    ad_fill(a, 0, m);
    ad_fill(g, 0, p);
    ad_block_mul(&md->Ab, t->dxt + c * n, a); /* A dx~ */
    ad_block_mul(&md->Gb, t->dxt + c * n, g); /* G dx~ */
    for (altdiff_int i = 0; i < m; i++) {
        double ra = rho * ad_eq_weight(md, i);                /* w_i rho        */
        double step = ra * alpha * (a[i] - (db ? db[i] : 0)); /* dlam+ - dlam   */
        dlam[i] += step;
        change = ad_max(change, fabs(step));
    }
    for (altdiff_int k = 0; k < p; k++) {
        double hk = dh ? dh[k] : 0;
        double gx = alpha * g[k] + (1 - alpha) * (hk - ds[k]);          /* dGx^  */
        double s1 = st->s[k] > 0 ? -dnu[k] / rho - (gx - hk) : 0;         /* ds+   */
        double nstep = rho * (gx + s1 - hk);                             /* dnu+ - dnu */
        change = ad_max(change, ad_max(fabs(s1 - ds[k]) * rho, fabs(nstep)));
        ds[k] = s1;
        dnu[k] += nstep;
    }
    return change;
}

/* One tangent sweep; *change = largest change of (rho dx, rho ds, dlam, dnu) */
static int tangent_sweep(ad_model *md, ad_state *st, tangent *t, double *change)
{
    double rho = md->F.rho, sigma = md->F.sigma, alpha = md->set.alpha;
    altdiff_int n = md->n;
    tangent_rhs(md, t, rho, sigma);
    int status = ad_factor_solve_block(&md->F, t->dxt, t->d, &t->ws);
    if (status != ALTDIFF_OK) return status;
    *change = 0;
    for (altdiff_int c = 0; c < t->d; c++) {
        *change = ad_max(*change, tangent_constraints(md, st, t, c, rho, alpha));
        for (altdiff_int j = 0; j < n; j++) {
            double *dx = t->dx + c * n + j, xn = alpha * t->dxt[c * n + j] + (1 - alpha) * *dx;
            *change = ad_max(*change, rho * fabs(xn - *dx));
            *dx = xn; /* dx+ = alpha dx~ + (1 - alpha) dx */
        }
    }
    return ALTDIFF_OK;
}

/* Size of the tangents, the scale of the truncation test */
static double tangent_size(const ad_model *md, const tangent *t)
{
    altdiff_int d = t->d;
    double r = md->F.rho;
    return ad_max(ad_max(r * ad_nrm_inf(t->dx, md->n * d), r * ad_nrm_inf(t->ds, md->p * d)),
                ad_max(ad_nrm_inf(t->dlam, md->m * d), ad_nrm_inf(t->dnu, md->p * d)));
}

/* The tangent state for d directions (dq (n x d), db, dh; NULL = 0), with dx
 * (n x d, caller's) as its x part, all zero, and its solve workspaces
 * allocated (by one solve of zeros), so that sweeps allocate nothing; NULL
 * when out of memory */
ad_tangent *ad_tangent_new(ad_model *md, altdiff_int d, const double *dq,
                           const double *db, const double *dh, double *dx)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    tangent *t = ad_calloc(1, sizeof(tangent));
    if (!t) return NULL;
    t->d = d;
    t->dx = dx;
    t->dq = dq;
    t->db = db;
    t->dh = dh;
    t->ds = ad_calloc((size_t)(p * d), sizeof(double));
    t->dlam = ad_calloc((size_t)(m * d), sizeof(double));
    t->dnu = ad_calloc((size_t)(p * d), sizeof(double));
    t->dxt = ad_calloc((size_t)(n * d), sizeof(double));
    t->Ax = ad_calloc((size_t)(m * d), sizeof(double));
    t->Gx = ad_calloc((size_t)(p * d), sizeof(double));
    ad_fill(dx, 0, n * d);
    if (t->ds && t->dlam && t->dnu && t->dxt && t->Ax && t->Gx &&
        ad_factor_solve_block(&md->F, t->dxt, d, &t->ws) == ALTDIFF_OK)
        return t;
    return ad_tangent_free(md, t);
}

ad_tangent *ad_tangent_free(const ad_model *md, ad_tangent *t)
{
    if (!t) return NULL;
    cholmod_common *cm = (cholmod_common *)&md->F.cm; /* frees only t's workspaces */
    ad_solve_work_free(&t->ws, cm);
    double *bufs[] = {t->ds, t->dlam, t->dnu, t->dxt, t->Ax, t->Gx, t->base, t->dq_theta};
    for (int b = 0; b < 8; b++) ad_free(bufs[b]);
    return ad_free(t);
}

int ad_tangent_theta(ad_model *md, ad_tangent *t, const double *dtheta)
{
    t->base = ad_calloc((size_t)md->n, sizeof(double));
    t->dq_theta = ad_malloc((size_t)md->n, sizeof(double));
    if (!t->base || !t->dq_theta) return ALTDIFF_ERR_NOMEM;
    if (t->dq) ad_copy(t->base, t->dq, md->n);
    t->dtheta = dtheta;
    t->dq = t->dq_theta;
    return ALTDIFF_OK;
}

/* One sweep at the current rho and slack mask; *rel = change / size */
int ad_tangent_step(ad_model *md, ad_state *st, ad_tangent *t, double *rel)
{
    double change = INFINITY;
    if (t->dtheta) { /* dq~ = base + c D J(x~) dtheta at this step's x~ */
        int rc = ad_smooth_dgrad(md, st->xt, t->dtheta, t->dq_theta);
        if (rc != ALTDIFF_OK) return rc;
        ad_axpy(t->dq_theta, 1.0, t->base, md->n);
    }
    int status = tangent_sweep(md, st, t, &change);
    double size = tangent_size(md, t);
    *rel = size > 0 ? change / size : change;
    return status;
}

int ad_forward_block(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, altdiff_int d,
                     const double *dq, const double *db, const double *dh, double *dx,
                     altdiff_deriv_info *info)
{
    ad_tangent *t = ad_tangent_new(md, d, dq, db, dh, dx);
    int status = t ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    double rel = INFINITY, prev = 0, rate = 0, err = INFINITY;
    altdiff_int k = 0;
    while (status == ALTDIFF_OK && err > ds->eps && k < ds->max_iter) {
        status = ad_tangent_step(md, st, t, &rel);
        err = ad_fixed_point_error(rel, prev, &rate); /* the step alone stops too early */
        prev = rel;
        k++;
    }
    if (err > ds->eps) info->status = ALTDIFF_MAX_ITER; /* the caller starts at SOLVED */
    if (k > info->iter) info->iter = k;
    info->residual = ad_max(info->residual, err);
    ad_tangent_free(md, t);
    return status;
}
