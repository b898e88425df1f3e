/*
 * deriv.c: the public derivative API. Converts between original units and
 * the scaled problem the iterative modes work on,
 *     x = D x~,  q~ = c D q,  b~ = Ea b,  h~ = Eg h,
 * so  dq~ = c D dq, db~ = Ea db, dh~ = Eg dh  (tangents) and
 *     w~ = D w,  dL/dq = c D dL/dq~,  dL/db = Ea dL/db~,  dL/dh = Eg dL/dh~  (cotangents),
 * reduces matrix directions to vector ones (doc/MATH.md):
 *     dq_eff = dP x + dA'lam + dG'nu,  db_eff = db - dA x,  dh_eff = dh - dG x,
 * and dispatches to adjoint.c, forward.c and kkt.c.
 */
#include <math.h>
#include <string.h>

#include "ad_internal.h"

#define AD_DERIV_DEFAULT_EPS 1e-6
#define AD_DERIV_DEFAULT_MAX_ITER 20000
#define AD_DERIV_DEFAULT_RESTART 30
#define AD_DERIV_DEFAULT_BLOCK 32

altdiff_deriv_settings altdiff_deriv_settings_default(void)
{
    altdiff_deriv_settings s;
    s.mode = ALTDIFF_MODE_GMRES;
    s.eps = AD_DERIV_DEFAULT_EPS;
    s.max_iter = AD_DERIV_DEFAULT_MAX_ITER;
    s.restart = AD_DERIV_DEFAULT_RESTART;
    s.block = AD_DERIV_DEFAULT_BLOCK;
    return s;
}

/* ALTDIFF_OK when the workspace holds a solution and the settings are sane */
static int deriv_check(const ad_model *md, const ad_state *st, const altdiff_deriv_settings *ds)
{
    if (ds && ds->mode == ALTDIFF_MODE_AUTO) return ALTDIFF_ERR_INVALID; /* resolved before */
    if (!md || !ds || !(ds->eps > 0) || ds->max_iter <= 0 || ds->restart <= 0 ||
        ds->block <= 0 || ds->mode < ALTDIFF_MODE_ADJOINT || ds->mode > ALTDIFF_MODE_KKT)
        return ALTDIFF_ERR_INVALID;
    return st->info.status == ALTDIFF_SOLVED ? ALTDIFF_OK : ALTDIFF_ERR_NOT_SOLVED;
}

static void info_start(altdiff_deriv_info *info)
{
    memset(info, 0, sizeof(*info));
    info->status = ALTDIFF_SOLVED;
}

/* Active and weakly active rows (used when the KKT mode does not report) */
void ad_count_active(const ad_model *md, const ad_state *st, altdiff_deriv_info *info)
{
    info->active = 0;
    for (altdiff_int k = 0; k < md->p; k++) info->active += st->s[k] == 0 && st->nu[k] > 0;
}

/* ---- reverse mode ---------------------------------------------------------------- */

static int vjp_forward(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, const double *wx,
                       double *dq, double *db, double *dh, altdiff_deriv_info *info);

/* Iterative modes: w~ = D w, then g = c D g~, Ea g~, Eg g~ */
static int vjp_iterative(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, const double *wx,
                         double *dq, double *db, double *dh, altdiff_deriv_info *info)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double *buf = ad_malloc((size_t)(2 * n + m + p), sizeof(double));
    if (!buf) return ALTDIFF_ERR_NOMEM;
    double *wt = buf, *gq = wt + n, *gb = gq + n, *gh = gb + m;
    ad_unscale_x(&md->sc, wx, wt); /* w~ = D w (the cotangent of x~) */
    int status = ds->mode == ALTDIFF_MODE_UNROLL ? ad_unroll_vjp(md, st, wt, gq, gb, gh, info)
                                                 : ad_adjoint_vjp(md, st, ds, wt, gq, gb, gh, info);
    if (status == ALTDIFF_OK) {
        if (dq) ad_scale_cost(&md->sc, gq, dq);       /* c D dL/dq~ */
        if (db) ad_scale_rows(&md->sc, 0, gb, m, db); /* Ea dL/db~  */
        if (dh) ad_scatter_kept(md, gh, md->sc.E + m, dh); /* Eg dL/dh~ */
    }
    ad_free(buf);
    return status;
}

/* KKT mode (original units) */
static int vjp_kkt(ad_model *md, ad_state *st, const double *wx, double *dq, double *db, double *dh,
                   altdiff_deriv_info *info)
{
    ad_kkt *K = NULL;
    double *gh = ad_malloc((size_t)md->p, sizeof(double));
    int status = gh ? ad_kkt_setup(md, st, &K, info) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) status = ad_kkt_vjp(K, wx, dq, db, gh);
    if (status == ALTDIFF_OK && dh) ad_scatter_kept(md, gh, NULL, dh);
    ad_kkt_free(K);
    ad_free(gh);
    return status;
}

/* The power of two nearest |v|_inf (1 for v = 0): dividing by it is exact */
static double power_scale(const double *v, altdiff_int len)
{
    double size = ad_nrm_inf(v, len);
    return size > 0 ? ldexp(1.0, ilogb(size)) : 1.0;
}

/* v (len) *= a; 0 if a value is no longer finite */
static int rescale(double *v, altdiff_int len, double a)
{
    if (!v) return 1;
    for (altdiff_int k = 0; k < len; k++) v[k] *= a;
    return ad_all_finite(v, len);
}

/* The VJP for the cotangent wx / 2^k (|.| about 1), then times 2^k: the map
 * is linear, the scaling exact, and a huge cotangent cannot overflow inside
 * the modes; an overflow of the gradients themselves is reported as such */
static int vjp_scaled(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds,
                      const double *wx, double *dq, double *db, double *dh,
                      altdiff_deriv_info *info)
{
    double scale = power_scale(wx, md->n);
    double *w1 = ad_malloc((size_t)md->n, sizeof(double));
    if (!w1) return ALTDIFF_ERR_NOMEM;
    for (altdiff_int j = 0; j < md->n; j++) w1[j] = wx[j] / scale;
    int status = ds->mode == ALTDIFF_MODE_KKT       ? vjp_kkt(md, st, w1, dq, db, dh, info)
                 : ds->mode == ALTDIFF_MODE_ALTDIFF ? vjp_forward(md, st, ds, w1, dq, db, dh, info)
                                                    : vjp_iterative(md, st, ds, w1, dq, db, dh, info);
    ad_free(w1);
    if (status != ALTDIFF_OK) return status;
    int finite = rescale(dq, md->n, scale) & rescale(db, md->m, scale) &
                 rescale(dh, md->p_all, scale);
    if (!finite)
        ad_msg(md->msg, AD_MSG_LEN, "the gradients overflow: |dL/dx| = %g times the "
               "derivative of the solution exceeds the double range", scale);
    return finite ? ALTDIFF_OK : ALTDIFF_ERR_NUMERICAL;
}

int ad_vjp(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, const double *wx,
           double *dq, double *db, double *dh, altdiff_deriv_info *info)
{
    altdiff_deriv_info local;
    if (!info) info = &local;
    info_start(info);
    int status = deriv_check(md, st, ds);
    if (status != ALTDIFF_OK) return status;
    if (!wx || !ad_all_finite(wx, md->n)) return ALTDIFF_ERR_INVALID;
    if (ds->mode == ALTDIFF_MODE_UNROLL && (!md->set.record || st->mask_iters == 0))
        return ALTDIFF_ERR_NOT_SOLVED; /* nothing recorded: solve with record = 1 */
    double t0 = ad_time();
    ad_count_active(md, st, info);
    status = vjp_scaled(md, st, ds, wx, dq, db, dh, info);
    info->time = ad_time() - t0;
    return status;
}

/* ---- forward mode ----------------------------------------------------------------- */

/* values on the internal pattern from a direction on the given entries */
static void scatter_direction(double *pos, altdiff_int npos, const double *given,
                              const altdiff_int *map, altdiff_int nz)
{
    ad_fill(pos, 0, npos);
    for (altdiff_int k = 0; k < nz; k++)
        if (ad_map_at(map, k) >= 0) pos[ad_map_at(map, k)] = given[k];
}

/* For the direction dM of a constraint matrix M (values given on its pattern,
 * V scratch of nnz(M)): dq += dM'y, dc -= dM x (y = lam, c = b for A;
 * y = nu, c = h for G) */
static void matrix_direction(const cs_dl *pattern, double *V, const double *given,
                             const altdiff_int *map, altdiff_int nz, const double *y,
                             const double *x, double *dq, double *dc)
{
    cs_dl M = *pattern;
    M.x = V;
    scatter_direction(V, pattern->p[pattern->n], given, map, nz);
    ad_gatxpy(&M, y, dq); /* dq += dM'y */
    for (altdiff_int t = 0; t < pattern->p[pattern->n]; t++) V[t] = -V[t];
    ad_gaxpy(&M, x, dc);  /* dc -= dM x */
}

/* dq += J v with J = d grad f / d theta at x (original units); for a QP
 * theta is q */
static void theta_direction(const ad_model *md, const double *x, const double *v,
                            double *dq, double *scratch)
{
    if (!ad_smooth(md)) {
        ad_axpy(dq, 1.0, v, md->n);
        return;
    }
    md->obj.f.dgrad(md->obj.f.user, x, v, scratch);
    ad_axpy(dq, 1.0, scratch, md->n);
}

/* The effective vector direction (original units, h over kept rows):
 *   dq_eff = dq + J dtheta + dP x + dA'lam + dG'nu,  db_eff = db - dA x,
 *   dh_eff = dh - dG x */
static int effective_direction(const ad_model *md, const ad_state *st, const altdiff_direction *dir,
                               double *dq, double *db, double *dh)
{
    altdiff_int n = md->n, m = md->m, p = md->p, nP = md->P->p[n], nA = md->A->p[n],
                nG = md->G->p[n];
    double *buf = ad_malloc((size_t)(2 * n + m + 2 * md->p_all + nP + nA + nG), sizeof(double));
    if (!buf) return ALTDIFF_ERR_NOMEM;
    double *x = buf, *lam = x + n, *s = lam + m, *nu = s + md->p_all, *V = nu + md->p_all;
    double *Jv = V + nP + nA + nG;
    ad_unscale_solution(md, st, x, s, lam, nu);
    for (altdiff_int k = 0; k < p; k++) nu[k] = nu[md->keep[k]]; /* kept rows, in order */
    for (altdiff_int j = 0; j < n; j++) dq[j] = dir->q ? dir->q[j] : 0;
    for (altdiff_int i = 0; i < m; i++) db[i] = dir->b ? dir->b[i] : 0;
    for (altdiff_int k = 0; k < p; k++) dh[k] = dir->h ? dir->h[md->keep[k]] : 0;
    if (dir->theta) theta_direction(md, x, dir->theta, dq, Jv);
    if (dir->Px) { /* dq += dP x */
        cs_dl M = *md->P;
        M.x = V;
        scatter_direction(V, nP, dir->Px, md->Pmap, md->Pnz);
        ad_symv_upper(&M, x, dq);
    }
    if (dir->Ax) matrix_direction(md->A, V, dir->Ax, md->Amap, md->Anz, lam, x, dq, db);
    if (dir->Gx) matrix_direction(md->G, V, dir->Gx, md->Gmap, md->Gnz, nu, x, dq, dh);
    ad_free(buf);
    return ALTDIFF_OK;
}

/* 1 if every given array of the direction is finite (and there is no P
 * direction for a smooth objective) */
static int direction_finite(const ad_model *md, const altdiff_direction *dir)
{
    if (dir->Px && ad_smooth(md)) return 0;
    if (dir->theta && !ad_all_finite(dir->theta, ad_theta_size(md))) return 0;
    return (!dir->q || ad_all_finite(dir->q, md->n)) && (!dir->b || ad_all_finite(dir->b, md->m)) &&
           (!dir->h || ad_all_finite(dir->h, md->p_all)) &&
           (!dir->Px || ad_all_finite(dir->Px, md->Pnz)) &&
           (!dir->Ax || ad_all_finite(dir->Ax, md->Anz)) &&
           (!dir->Gx || ad_all_finite(dir->Gx, md->Gnz));
}

/* dx for effective directions (original units) by the Alt-Diff recursion:
 * d columns, scaled in place (dq~ = c D dq, db~ = Ea db, dh~ = Eg dh) */
static int jvp_altdiff(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, altdiff_int d,
                       double *dq, double *db, double *dh, double *dx, altdiff_deriv_info *info)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    for (altdiff_int c = 0; c < d; c++) {
        ad_scale_cost(&md->sc, dq + c * n, dq + c * n);
        ad_scale_rows(&md->sc, 0, db + c * m, m, db + c * m);
        ad_scale_rows(&md->sc, m, dh + c * p, p, dh + c * p);
    }
    int status = ad_forward_block(md, st, ds, d, dq, db, dh, dx, info);
    for (altdiff_int c = 0; c < d; c++)
        ad_unscale_x(&md->sc, dx + c * n, dx + c * n); /* dx = D dx~ */
    return status;
}

int ad_jvp(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, const altdiff_direction *dir,
                double *dx, altdiff_deriv_info *info)
{
    altdiff_deriv_info local;
    if (!info) info = &local;
    info_start(info);
    int status = deriv_check(md, st, ds);
    if (status != ALTDIFF_OK) return status;
    if (!dir || !dx || !direction_finite(md, dir) ||
        (ds->mode != ALTDIFF_MODE_ALTDIFF && ds->mode != ALTDIFF_MODE_KKT))
        return ALTDIFF_ERR_INVALID;
    double t0 = ad_time();
    ad_count_active(md, st, info);
    altdiff_int n = md->n, m = md->m, p = md->p;
    double *buf = ad_malloc((size_t)(n + m + p), sizeof(double));
    status = buf ? effective_direction(md, st, dir, buf, buf + n, buf + n + m) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK && ds->mode == ALTDIFF_MODE_ALTDIFF)
        status = jvp_altdiff(md, st, ds, 1, buf, buf + n, buf + n + m, dx, info);
    else if (status == ALTDIFF_OK) {
        ad_kkt *K = NULL;
        status = ad_kkt_setup(md, st, &K, info);
        if (status == ALTDIFF_OK) status = ad_kkt_jvp(K, buf, buf + n, buf + n + m, dx);
        ad_kkt_free(K);
    }
    ad_free(buf);
    info->time = ad_time() - t0;
    return status;
}

/* ---- the recursion alongside the solve ------------------------------------ */

int altdiff_solve_jvp(altdiff_work *w, const altdiff_direction *dir, double *dx,
                      altdiff_deriv_info *info)
{
    ad_model *md = w ? &w->model : NULL;
    ad_state *st = w ? &w->state : NULL;
    altdiff_deriv_info local;
    if (!info) info = &local;
    info_start(info);
    if (!w || !dir || !dx || dir->Px || dir->Ax || dir->Gx || !direction_finite(md, dir))
        return ALTDIFF_ERR_INVALID;
    altdiff_int n = md->n, m = md->m, p = md->p;
    double t0 = ad_time(), rel = INFINITY;
    double *buf = ad_malloc((size_t)(n + m + p), sizeof(double));
    altdiff_direction vec = *dir; /* smooth: J theta at every iterate, below */
    if (ad_smooth(md)) vec.theta = NULL;
    int status = buf ? effective_direction(md, st, &vec, buf, buf + n, buf + n + m) : ALTDIFF_ERR_NOMEM;
    ad_tangent *t = NULL;
    if (status == ALTDIFF_OK) { /* dq~ = c D dq, db~ = Ea db, dh~ = Eg dh */
        ad_scale_cost(&md->sc, buf, buf);
        ad_scale_rows(&md->sc, 0, buf + n, m + p, buf + n);
        t = ad_tangent_new(md, 1, buf, buf + n, buf + n + m, dx);
        status = !t ? ALTDIFF_ERR_NOMEM
                    : ad_smooth(md) && dir->theta ? ad_tangent_theta(md, t, dir->theta)
                                                 : ALTDIFF_OK;
        if (status == ALTDIFF_OK) status = ad_work_before_solve(w); /* after a failure */
        if (status == ALTDIFF_OK) {
            status = ad_solve(md, st, t, &rel);
            ad_work_after_solve(w);
        }
    }
    ad_unscale_x(&md->sc, dx, dx); /* dx = D dx~ */
    ad_tangent_free(md, t);
    ad_free(buf);
    ad_count_active(md, st, info);
    info->iter = st->info.iter;
    info->residual = rel;
    info->status = st->info.status == ALTDIFF_SOLVED ? ALTDIFF_SOLVED : ALTDIFF_MAX_ITER;
    info->time = ad_time() - t0;
    return ad_public_code(status);
}

/* ---- Jacobians ---------------------------------------------------------------- */

/* Unit directions e_{c0} .. e_{c0+d-1} of parameter wrt (original units) into
 * the block arrays dq (n x d), db (m x d), dh (p x d, kept rows) */
static void unit_block(const ad_model *md, int wrt, altdiff_int c0, altdiff_int d,
                       double *dq, double *db, double *dh)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    ad_fill(dq, 0, n * d);
    ad_fill(db, 0, m * d);
    ad_fill(dh, 0, p * d);
    for (altdiff_int c = 0; c < d; c++) {
        altdiff_int j = c0 + c;
        if (wrt == ALTDIFF_WRT_Q) dq[c * n + j] = 1;
        if (wrt == ALTDIFF_WRT_B) db[c * m + j] = 1;
        if (wrt == ALTDIFF_WRT_H) dh[c * p + j] = 1; /* j: kept row */
        if (wrt == ALTDIFF_WRT_THETA && !ad_smooth(md)) dq[c * n + j] = 1; /* theta = q */
    }
}

/* Smooth objectives: dq (n x d) = J e_{c0} .. J e_{c0+d-1}, J = d grad f /
 * d theta at x (original units); e: k scratch */
static void theta_block(const ad_model *md, altdiff_int c0, altdiff_int d, const double *x,
                        double *e, double *dq)
{
    altdiff_int k = ad_theta_size(md);
    ad_fill(e, 0, k);
    for (altdiff_int c = 0; c < d; c++) {
        e[c0 + c] = 1;
        md->obj.f.dgrad(md->obj.f.user, x, e, dq + c * md->n);
        e[c0 + c] = 0;
    }
}

/* Where the columns of a Jacobian go: into J (n x given, leading dimension
 * ldJ), or, with wx set, as the products g_col = wx' J(:, col) (a VJP). */
typedef struct {
    double *J;
    altdiff_int ldJ;
    const double *wx;
    double *g;
    const double *x; /* ALTDIFF_WRT_THETA (smooth): x* and k scratch */
    double *e;
} jac_out;

/* Columns c0 .. c0+d-1 (kept parameter indices) of the Jacobian with respect
 * to wrt, by the Alt-Diff recursion (or the KKT factor K when given) */
static int jacobian_block(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, int wrt,
                          altdiff_int c0, altdiff_int d, double *blk, ad_kkt *K,
                          const jac_out *out, altdiff_deriv_info *info)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double *dq = blk, *db = dq + n * d, *dh = db + m * d, *dx = dh + p * d;
    unit_block(md, wrt, c0, d, dq, db, dh);
    if (wrt == ALTDIFF_WRT_THETA && ad_smooth(md)) theta_block(md, c0, d, out->x, out->e, dq);
    int status = ALTDIFF_OK;
    if (K)
        for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c++)
            status = ad_kkt_jvp(K, dq + c * n, db + c * m, dh + c * p, dx + c * n);
    else
        status = jvp_altdiff(md, st, ds, d, dq, db, dh, dx, info);
    for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c++) {
        altdiff_int col = wrt == ALTDIFF_WRT_H ? md->keep[c0 + c] : c0 + c;
        if (out->wx)
            out->g[col] = ad_dot(out->wx, dx + c * n, n); /* (J'w)_col = w'J e_col */
        else
            ad_copy(out->J + col * out->ldJ, dx + c * n, n);
    }
    return status;
}

/* Every block of columns of the Jacobian with respect to wrt */
static int jacobian_blocks(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, int wrt,
                           const jac_out *out, altdiff_deriv_info *info)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    altdiff_int cols = wrt == ALTDIFF_WRT_Q ? n : wrt == ALTDIFF_WRT_B ? m : wrt == ALTDIFF_WRT_H
                                                                          ? p
                                                                          : ad_theta_size(md);
    altdiff_int d = ds->mode == ALTDIFF_MODE_KKT ? 1 : (ds->block < cols ? ds->block : cols);
    ad_kkt *K = NULL;
    double *blk = ad_malloc((size_t)((2 * n + m + p) * (d > 0 ? d : 1)), sizeof(double));
    int status = blk ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK && ds->mode == ALTDIFF_MODE_KKT) status = ad_kkt_setup(md, st, &K, info);
    for (altdiff_int c0 = 0; c0 < cols && status == ALTDIFF_OK; c0 += d)
        status = jacobian_block(md, st, ds, wrt, c0, cols - c0 < d ? cols - c0 : d, blk, K, out,
                                info);
    ad_kkt_free(K);
    ad_free(blk);
    return status;
}

/* VJP by forward mode: dq_j = w' (dx/dq) e_j, ... one block of columns at a time */
static int vjp_forward(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, const double *wx,
                       double *dq, double *db, double *dh, altdiff_deriv_info *info)
{
    double *g[3] = {dq, db, dh};
    int status = ALTDIFF_OK;
    if (dh) ad_fill(dh, 0, md->p_all); /* dropped rows */
    for (int wrt = ALTDIFF_WRT_Q; wrt <= ALTDIFF_WRT_H && status == ALTDIFF_OK; wrt++) {
        jac_out out = {NULL, 0, wx, g[wrt], NULL, NULL};
        if (g[wrt]) status = jacobian_blocks(md, st, ds, wrt, &out, info);
    }
    return status;
}

int altdiff_jacobian(altdiff_work *w, const altdiff_deriv_settings *ds, int wrt, double *J,
                     altdiff_int ldJ, altdiff_deriv_info *info)
{
    ad_model *md = w ? &w->model : NULL;
    ad_state *st = w ? &w->state : NULL;
    altdiff_deriv_info local;
    if (!info) info = &local;
    info_start(info);
    int status = deriv_check(md, st, ds);
    if (status != ALTDIFF_OK) return status;
    if (!J || ldJ < md->n || wrt < ALTDIFF_WRT_Q || wrt > ALTDIFF_WRT_THETA ||
        (ds->mode != ALTDIFF_MODE_ALTDIFF && ds->mode != ALTDIFF_MODE_KKT))
        return ALTDIFF_ERR_INVALID;
    double t0 = ad_time();
    ad_count_active(md, st, info);
    altdiff_int n = md->n, k = ad_theta_size(md);
    altdiff_int given = wrt == ALTDIFF_WRT_Q ? n : wrt == ALTDIFF_WRT_B ? md->m
                                          : wrt == ALTDIFF_WRT_H ? md->p_all : k;
    for (altdiff_int c = 0; c < given; c++) ad_fill(J + c * ldJ, 0, n); /* dropped rows */
    double *xe = ad_malloc((size_t)(n + k), sizeof(double)); /* x*, e */
    if (!xe) return ALTDIFF_ERR_NOMEM;
    ad_unscale_solution(md, st, xe, NULL, NULL, NULL);
    jac_out out = {J, ldJ, NULL, NULL, xe, xe + n};
    status = jacobian_blocks(md, st, ds, wrt, &out, info);
    ad_free(xe);
    info->time = ad_time() - t0;
    return ad_public_code(status);
}

/* ds with ALTDIFF_MODE_AUTO replaced by the cost model's choice */
altdiff_deriv_settings ad_resolve_mode(const ad_model *md, const ad_state *st,
                                       const altdiff_deriv_settings *ds, altdiff_int columns)
{
    altdiff_deriv_settings r = *ds;
    if (r.mode == ALTDIFF_MODE_AUTO) r.mode = ad_fastest_mode(md, st, columns);
    return r;
}

int altdiff_fastest_mode(const altdiff_work *w, altdiff_int columns)
{
    if (!w) return columns > 0 ? ALTDIFF_MODE_ALTDIFF : ALTDIFF_MODE_GMRES;
    return ad_fastest_mode(&w->model, &w->state, columns);
}

int altdiff_vjp(altdiff_work *w, const altdiff_deriv_settings *ds, const double *wx,
                double *dq, double *db, double *dh, altdiff_deriv_info *info)
{
    if (!w || !ds) return ALTDIFF_ERR_INVALID;
    altdiff_deriv_settings r = ad_resolve_mode(&w->model, &w->state, ds, 0);
    return ad_public_code(ad_vjp(&w->model, &w->state, &r, wx, dq, db, dh, info));
}

int altdiff_matrix_grads(const altdiff_work *w, const double *dq, const double *db,
                         const double *dh, double *dPx, double *dAx, double *dGx)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    return ad_matrix_grads(&w->model, &w->state, dq, db, dh, dPx, dAx, dGx);
}

int altdiff_jvp(altdiff_work *w, const altdiff_deriv_settings *ds, const altdiff_direction *dir,
                double *dx, altdiff_deriv_info *info)
{
    if (!w || !ds) return ALTDIFF_ERR_INVALID;
    altdiff_deriv_settings r = ad_resolve_mode(&w->model, &w->state, ds, 1);
    return ad_public_code(ad_jvp(&w->model, &w->state, &r, dir, dx, info));
}
