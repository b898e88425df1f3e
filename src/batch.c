/*
 * batch.c: B problems sharing P, A, G (doc/MATH.md section 6). One model
 * (scaling, analysis and factor of H) and B solve states; the solve runs
 * the elements together (ad_solve_batch: one block solve per iteration for
 * the elements still iterating), the derivatives element by element at the
 * stored solutions, on the shared factor.
 */
#include <math.h>
#include <string.h>

#include "ad_internal.h"

struct altdiff_batch {
    ad_model model;
    altdiff_int B;
    ad_state *el;          /* B solve states                                 */
    ad_batch_work bw;      /* scratch of the solve                           */
};

/* ---- setup ------------------------------------------------------------------- */

/* Everything after the model: states with prob's vectors, solve scratch */
static int batch_alloc(altdiff_batch *bt, const altdiff_problem *prob)
{
    altdiff_int B = bt->B, n = bt->model.n, m = bt->model.m, p = bt->model.p;
    ad_batch_work *bw = &bt->bw;
    if ((size_t)B > SIZE_MAX / sizeof(double) / (size_t)(n + m + p + 1)) return ALTDIFF_ERR_NOMEM;
    bt->el = ad_calloc((size_t)B, sizeof(ad_state));
    bw->X = ad_malloc((size_t)n * (size_t)B, sizeof(double));
    bw->WA = ad_malloc((size_t)(m > 0 ? m : 1) * (size_t)B, sizeof(double));
    bw->WG = ad_malloc((size_t)(p > 0 ? p : 1) * (size_t)B, sizeof(double));
    bw->act = ad_malloc((size_t)B, sizeof(altdiff_int));
    bw->res = ad_calloc((size_t)B, sizeof(residuals_t));
    if (!bt->el || !bw->X || !bw->WA || !bw->WG || !bw->act || !bw->res)
        return ALTDIFF_ERR_NOMEM;
    for (altdiff_int e = 0; e < B; e++) {
        int status = ad_state_alloc(&bt->model, &bt->el[e]);
        if (status != ALTDIFF_OK) return status;
        ad_state_set_vectors(&bt->model, &bt->el[e], prob->q, prob->b, prob->h);
        ad_state_info_setup(&bt->model, &bt->el[e]);
    }
    return ALTDIFF_OK;
}

/* Sizes, settings and the problem usable (msg: why not, AD_MSG_LEN bytes) */
static int batch_args_valid(altdiff_batch **batch, const altdiff_problem *prob,
                            altdiff_int B, const altdiff_settings *set, char *msg)
{
    if (!batch || !prob || B < 1) {
        ad_msg(msg, AD_MSG_LEN, !batch ? "batch is NULL" : !prob ? "prob is NULL"
                                                            : "B = %lld, needs B >= 1",
               (long long)B);
        return ALTDIFF_ERR_INVALID;
    }
    if (set->record) {
        ad_msg(msg, AD_MSG_LEN, "settings.record is %d: a batch does not record", set->record);
        return ALTDIFF_ERR_INVALID;
    }
    int status = ad_settings_check_msg(set, msg, AD_MSG_LEN);
    return status == ALTDIFF_OK ? ad_check_problem(prob, msg, AD_MSG_LEN) : status;
}

int altdiff_batch_setup_err(altdiff_batch **batch, const altdiff_problem *prob, altdiff_int B,
                            const altdiff_settings *settings, char *err, size_t errlen)
{
    char msg[AD_MSG_LEN] = "";
    if (batch) *batch = NULL;
    altdiff_settings set = settings ? *settings : altdiff_settings_default();
    int status = batch_args_valid(batch, prob, B, &set, msg);
    if (status != ALTDIFF_OK) {
        ad_msg(err, errlen, "%s", msg);
        return status;
    }
    double t0 = ad_time();
    altdiff_batch *bt = ad_calloc(1, sizeof(altdiff_batch));
    if (!bt) {
        ad_msg(err, errlen, "out of memory allocating the batch");
        return ALTDIFF_ERR_NOMEM;
    }
    bt->B = B;
    status = ad_model_init(&bt->model, prob, &set);
    if (status == ALTDIFF_OK) status = batch_alloc(bt, prob);
    if (status != ALTDIFF_OK) {
        if (!bt->model.msg[0]) /* the import's or an allocation's */
            ad_msg(bt->model.msg, AD_MSG_LEN, "%s", status == ALTDIFF_ERR_INVALID
                   ? "P: an entry given in both triangles with different values"
                   : altdiff_error_string(status));
        ad_msg(err, errlen, "%s", bt->model.msg);
        altdiff_batch_free(bt);
        return status;
    }
    bt->model.t_setup = ad_time() - t0;
    for (altdiff_int e = 0; e < B; e++) ad_state_info_setup(&bt->model, &bt->el[e]);
    *batch = bt;
    ad_msg(err, errlen, "%s", "");
    return ALTDIFF_OK;
}

int altdiff_batch_setup(altdiff_batch **batch, const altdiff_problem *prob, altdiff_int B,
                        const altdiff_settings *settings)
{
    return altdiff_batch_setup_err(batch, prob, B, settings, NULL, 0);
}

const char *altdiff_batch_last_error(const altdiff_batch *bt)
{
    return bt ? bt->model.msg : "no batch (NULL)";
}

void altdiff_batch_free(altdiff_batch *bt)
{
    if (!bt) return;
    for (altdiff_int e = 0; bt->el && e < bt->B; e++) ad_state_free(&bt->el[e]);
    ad_solve_work_free(&bt->bw.ws, &bt->model.F.cm);
    ad_model_free(&bt->model);
    void *arrays[] = {bt->el, bt->bw.X, bt->bw.WA, bt->bw.WG, bt->bw.act, bt->bw.res};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    ad_free(bt);
}

altdiff_int altdiff_batch_size(const altdiff_batch *bt) { return bt ? bt->B : 0; }

/* 1 if elements first .. first + count - 1 exist */
static int range_valid(const altdiff_batch *bt, altdiff_int first, altdiff_int count)
{
    return bt && first >= 0 && count >= 0 && first <= bt->B - count;
}

/* ---- vectors and matrices --------------------------------------------------------- */

int altdiff_batch_set_vectors(altdiff_batch *bt, altdiff_int first, altdiff_int count,
                              const double *q, altdiff_int ldq, const double *b, altdiff_int ldb,
                              const double *h, altdiff_int ldh)
{
    if (!range_valid(bt, first, count) || ldq < 0 || ldb < 0 || ldh < 0)
        return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    for (altdiff_int j = 0; j < count; j++) { /* all valid before any is taken */
        char why[AD_MSG_LEN];
        if (ad_check_vectors(md, q ? q + j * ldq : NULL, b ? b + j * ldb : NULL,
                             h ? h + j * ldh : NULL, why, sizeof(why)) != ALTDIFF_OK) {
            ad_msg(md->msg, AD_MSG_LEN, "element %lld: %s", (long long)(first + j), why);
            return ALTDIFF_ERR_INVALID;
        }
    }
    for (altdiff_int j = 0; j < count; j++) {
        ad_state *st = &bt->el[first + j];
        ad_state_set_vectors(md, st, q ? q + j * ldq : NULL, b ? b + j * ldb : NULL,
                             h ? h + j * ldh : NULL);
        st->info.status = ALTDIFF_UNSOLVED;
    }
    return ALTDIFF_OK;
}

int altdiff_batch_update_matrices(altdiff_batch *bt, const double *Px, const double *Ax,
                                  const double *Gx)
{
    if (!bt) return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    int valid = (!Px || ad_check_finite("Px", Px, md->Pnz, md->msg, AD_MSG_LEN) == ALTDIFF_OK) &&
                (!Ax || ad_check_finite("Ax", Ax, md->Anz, md->msg, AD_MSG_LEN) == ALTDIFF_OK) &&
                (!Gx || ad_check_finite("Gx", Gx, md->Gnz, md->msg, AD_MSG_LEN) == ALTDIFF_OK);
    if (!valid) return ALTDIFF_ERR_INVALID;
    ad_state *s0 = &bt->el[0];
    double c0, *D0 = bt->bw.X, *E0 = s0->wn2; /* X: n x B >= n; wn2: n + m + p */
    int status = ad_model_set_matrices(md, Px, Ax, Gx, s0->q0, D0, E0, &c0);
    for (altdiff_int e = 0; e < bt->B; e++) {
        ad_state *st = &bt->el[e];
        if (e > 0) ad_state_rescale(md, st, D0, E0, c0); /* wn2 of element 0 is E0 */
        st->info.status = ALTDIFF_UNSOLVED;
        ad_state_info_setup(md, st);
    }
    ad_state_rescale(md, s0, D0, E0, c0);
    return status;
}

int altdiff_batch_cold_start(altdiff_batch *bt)
{
    if (!bt) return ALTDIFF_ERR_INVALID;
    const ad_model *md = &bt->model;
    for (altdiff_int e = 0; e < bt->B; e++) {
        ad_state *st = &bt->el[e];
        ad_fill(st->x, 0, md->n);
        ad_fill(st->lam, 0, md->m);
        ad_fill(st->s, 0, md->p);
        ad_fill(st->nu, 0, md->p);
        st->info.status = ALTDIFF_UNSOLVED;
    }
    return ALTDIFF_OK;
}

/* ---- solve and results --------------------------------------------------------------- */

/* 1 if the element's last solve failed: its outcome or non-finite iterates */
static int element_failed(const ad_model *md, const ad_state *st)
{
    int status = st->info.status;
    return status == ALTDIFF_NUMERICAL_ERROR || status == ALTDIFF_NONCONVEX ||
           !ad_all_finite(st->x, md->n) || !ad_all_finite(st->lam, md->m) ||
           !ad_all_finite(st->s, md->p) || !ad_all_finite(st->nu, md->p);
}

/* Iterates of a failed element (a numerical error, NaN or Inf) start again
 * from 0 */
static void clean_iterates(const ad_model *md, ad_state *st)
{
    if (!element_failed(md, st)) return;
    ad_fill(st->x, 0, md->n);
    ad_fill(st->lam, 0, md->m);
    ad_fill(st->s, 0, md->p);
    ad_fill(st->nu, 0, md->p);
}

int altdiff_batch_solve(altdiff_batch *bt)
{
    if (!bt) return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    int failed = !isfinite(md->F.rho); /* a rho made of NaN residuals */
    for (altdiff_int e = 0; e < bt->B; e++) failed |= element_failed(md, &bt->el[e]);
    for (altdiff_int e = 0; e < bt->B; e++) clean_iterates(md, &bt->el[e]);
    md->msg[0] = 0;
    /* after a failure: H again at the settings' rho (the shared factor may
     * hold the rho of NaN residuals) */
    int status = failed ? ad_factor_refactor(&md->F, md->set.rho, md->set.sigma) : ALTDIFF_OK;
    if (status != ALTDIFF_OK) {
        ad_factor_msg(md, status, md->set.rho, md->set.sigma);
        return status;
    }
    status = ad_solve_batch(md, bt->el, bt->B, &bt->bw);
    for (altdiff_int e = 0; e < bt->B && !md->msg[0]; e++) /* the first failure, by name */
        if (element_failed(md, &bt->el[e]))
            ad_msg(md->msg, AD_MSG_LEN, "element %lld: %s after %lld iterations; the next "
                   "solve starts it from clean iterates", (long long)e,
                   altdiff_status_string(bt->el[e].info.status), (long long)bt->el[e].info.iter);
    for (altdiff_int e = 0; e < bt->B; e++) ad_state_info_setup(&bt->model, &bt->el[e]);
    return status;
}

const altdiff_info *altdiff_batch_get_info(const altdiff_batch *bt, altdiff_int k)
{
    return (bt && k >= 0 && k < bt->B) ? &bt->el[k].info : NULL;
}

int altdiff_batch_get_solution(const altdiff_batch *bt, altdiff_int first, altdiff_int count,
                               double *x, double *s, double *lam, double *nu)
{
    if (!range_valid(bt, first, count)) return ALTDIFF_ERR_INVALID;
    const ad_model *md = &bt->model;
    altdiff_int n = md->n, m = md->m, p = md->p_all;
    int failed = 0;
    for (altdiff_int j = 0; j < count; j++) {
        ad_unscale_solution(md, &bt->el[first + j], x ? x + j * n : NULL, s ? s + j * p : NULL,
                            lam ? lam + j * m : NULL, nu ? nu + j * p : NULL);
        failed |= element_failed(md, &bt->el[first + j]);
    }
    return failed ? ALTDIFF_ERR_NOT_SOLVED : ALTDIFF_OK;
}

/* ---- derivatives at the stored solutions ---------------------------------------------- */

/* Zero gradients and "not available" for an element that was not solved */
static void unavailable(const ad_model *md, altdiff_int len, double *out, altdiff_deriv_info *info)
{
    (void)md;
    if (out) ad_fill(out, 0, len);
    if (info) {
        memset(info, 0, sizeof(*info));
        info->status = ALTDIFF_NOT_AVAILABLE;
    }
}

/* Sweeps cheaper than this many flops are not worth the lockstep GMRES's
 * bookkeeping (copies of every Krylov input, blocks of scratch): the
 * elements then run their GMRES one by one on the shared factor. */
#define AD_LOCKSTEP_MIN_FLOPS 2e5

/* 1 if the folded GMRES of many elements should run in lockstep */
static int lockstep_pays(const ad_model *md)
{
    return ad_sweep_flops(&md->F, md->P, md->A, md->G) >= AD_LOCKSTEP_MIN_FLOPS;
}

/* 1 if ds is a usable derivative setting (any mode of the batch) */
static int deriv_settings_valid(const altdiff_deriv_settings *ds)
{
    return ds && ds->eps > 0 && ds->max_iter > 0 && ds->restart > 0 && ds->block > 0 &&
           ds->mode >= ALTDIFF_MODE_AUTO && ds->mode <= ALTDIFF_MODE_KKT;
}

/* The folded GMRES of the d elements sel[] together (units as vjp_iterative
 * of deriv.c: w~ = D w; dq = c D g~, db = Ea g~, dh = Eg g~) */
static int vjp_together(altdiff_batch *bt, const altdiff_deriv_settings *ds, const double *wx,
                        double *dq, double *db, double *dh, altdiff_deriv_info *info,
                        const altdiff_int *sel, altdiff_int d)
{
    ad_model *md = &bt->model;
    const ad_scaling *sc = &md->sc;
    altdiff_int n = md->n, m = md->m, p = md->p, pa = md->p_all;
    size_t len = (size_t)(2 * n + m + p + 1);
    double *buf = ad_malloc(len, (size_t)d * sizeof(double));
    ad_state **el = ad_malloc((size_t)d, sizeof(ad_state *));
    altdiff_deriv_info *inf = ad_calloc((size_t)d, sizeof(altdiff_deriv_info));
    int status = (buf && el && inf) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    double *WT = buf, *GQ = WT + n * d, *GB = GQ + n * d, *GH = GB + m * d;
    double t0 = ad_time();
    for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c++) {
        el[c] = &bt->el[sel[c]];
        for (altdiff_int j = 0; j < n; j++) WT[c * n + j] = sc->D[j] * wx[sel[c] * n + j];
    }
    if (status == ALTDIFF_OK) status = ad_adjoint_vjp_many(md, el, d, ds, WT, GQ, GB, GH, inf);
    for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c++) {
        altdiff_int e = sel[c];
        if (dq) ad_scale_cost(sc, GQ + c * n, dq + e * n);           /* c D g~  */
        if (db) ad_scale_rows(sc, 0, GB + c * m, m, db + e * m);     /* Ea g~   */
        if (dh) ad_scatter_kept(md, GH + c * p, sc->E + m, dh + e * pa); /* Eg g~ */
        if (info) {
            info[e] = inf[c];
            ad_count_active(md, el[c], &info[e]);
            info[e].time = (ad_time() - t0) / (double)d;
        }
    }
    ad_free(buf);
    ad_free(el);
    ad_free(inf);
    return status;
}

int altdiff_batch_vjp(altdiff_batch *bt, const altdiff_deriv_settings *ds, const double *wx,
                      double *dq, double *db, double *dh, altdiff_deriv_info *info)
{
    if (!bt || !deriv_settings_valid(ds) || !wx || !ad_all_finite(wx, bt->model.n * bt->B))
        return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    altdiff_int n = md->n, m = md->m, p = md->p_all, d = 0;
    altdiff_int *sel = bt->bw.act; /* the elements for the GMRES run together */
    for (altdiff_int e = 0; e < bt->B; e++) {
        ad_state *st = &bt->el[e];
        double *q = dq ? dq + e * n : NULL, *b = db ? db + e * m : NULL, *h = dh ? dh + e * p : NULL;
        altdiff_deriv_info *ie = info ? info + e : NULL;
        if (st->info.status != ALTDIFF_SOLVED) {
            unavailable(md, n, q, ie);
            unavailable(md, m, b, NULL);
            unavailable(md, p, h, NULL);
            continue;
        }
        altdiff_deriv_settings r = ad_resolve_mode(md, st, ds, 0);
        if (r.mode == ALTDIFF_MODE_GMRES && lockstep_pays(md)) {
            sel[d++] = e;
            continue;
        }
        int status = ad_vjp(md, st, &r, wx + e * n, q, b, h, ie);
        if (status != ALTDIFF_OK) return status;
    }
    if (d == 0) return ALTDIFF_OK;
    altdiff_deriv_settings g = *ds;
    g.mode = ALTDIFF_MODE_GMRES;
    return vjp_together(bt, &g, wx, dq, db, dh, info, sel, d);
}

/* out (+)= the matrix gradients of element e; scratch of nnz doubles */
static int element_grads(const altdiff_batch *bt, altdiff_int e, const double *dq,
                         const double *db, const double *dh, double *dPx, double *dAx,
                         double *dGx)
{
    const ad_model *md = &bt->model;
    altdiff_int n = md->n, m = md->m, p = md->p_all;
    return ad_matrix_grads(md, &bt->el[e], dq + e * n, db ? db + e * m : NULL,
                           dh ? dh + e * p : NULL, dPx, dAx, dGx);
}

int altdiff_batch_matrix_grads(const altdiff_batch *bt, const double *dq, const double *db,
                               const double *dh, double *dPx, double *dAx, double *dGx, int sum)
{
    if (!bt || !dq || (bt->model.m > 0 && !db) || (bt->model.p_all > 0 && !dh) ||
        (sum != 0 && sum != 1))
        return ALTDIFF_ERR_INVALID;
    const ad_model *md = &bt->model;
    altdiff_int nP = md->Pnz, nA = md->Anz, nG = md->Gnz;
    double *tmp = sum ? ad_malloc((size_t)(nP + nA + nG + 1), sizeof(double)) : NULL;
    if (sum && !tmp) return ALTDIFF_ERR_NOMEM;
    if (sum) { /* accumulate element by element */
        if (dPx) ad_fill(dPx, 0, nP);
        if (dAx) ad_fill(dAx, 0, nA);
        if (dGx) ad_fill(dGx, 0, nG);
    }
    int status = ALTDIFF_OK;
    for (altdiff_int e = 0; e < bt->B && status == ALTDIFF_OK; e++) {
        double *P = dPx ? (sum ? tmp : dPx + e * nP) : NULL;
        double *A = dAx ? (sum ? tmp + nP : dAx + e * nA) : NULL;
        double *G = dGx ? (sum ? tmp + nP + nA : dGx + e * nG) : NULL;
        if (bt->el[e].info.status != ALTDIFF_SOLVED) { /* contributes 0 */
            if (!sum) {
                if (P) ad_fill(P, 0, nP);
                if (A) ad_fill(A, 0, nA);
                if (G) ad_fill(G, 0, nG);
            }
            continue;
        }
        status = element_grads(bt, e, dq, db, dh, P, A, G);
        if (sum && status == ALTDIFF_OK) {
            if (dPx) ad_axpy(dPx, 1, P, nP);
            if (dAx) ad_axpy(dAx, 1, A, nA);
            if (dGx) ad_axpy(dGx, 1, G, nG);
        }
    }
    ad_free(tmp);
    return status;
}

int altdiff_batch_jvp(altdiff_batch *bt, const altdiff_deriv_settings *ds,
                      const altdiff_direction *dir, double *dx, altdiff_deriv_info *info)
{
    if (!bt || !ds || !dir || !dx) return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    altdiff_int n = md->n, m = md->m, p = md->p_all;
    for (altdiff_int e = 0; e < bt->B; e++) {
        ad_state *st = &bt->el[e];
        altdiff_deriv_info *ie = info ? info + e : NULL;
        if (st->info.status != ALTDIFF_SOLVED) {
            unavailable(md, n, dx + e * n, ie);
            continue;
        }
        altdiff_direction d = *dir;
        d.q = dir->q ? dir->q + e * n : NULL;
        d.b = dir->b ? dir->b + e * m : NULL;
        d.h = dir->h ? dir->h + e * p : NULL;
        d.theta = NULL;
        altdiff_deriv_settings r = ad_resolve_mode(md, st, ds, 1);
        int status = ad_jvp(md, st, &r, &d, dx + e * n, ie);
        if (status != ALTDIFF_OK) return status;
    }
    return ALTDIFF_OK;
}
