/*
 * setup.c: validate and copy the problem, scale it, factor H; the workspace's
 * accessors, updates and destructor.
 */
#include <math.h>
#include <string.h>

#include "ad_internal.h"

/* ---- validation ---------------------------------------------------------- */

/* 1 if the sizes and vectors of prob are usable (the matrices are checked
 * when they are imported) */
static int problem_valid(const altdiff_problem *prob)
{
    if (prob->n <= 0 || prob->m < 0 || prob->p < 0 || !prob->q) return 0;
    if ((prob->m > 0 && !prob->b) || (prob->p > 0 && !prob->h)) return 0;
    if (!ad_all_finite(prob->q, prob->n)) return 0;
    if (prob->m > 0 && !ad_all_finite(prob->b, prob->m)) return 0;
    for (altdiff_int i = 0; i < prob->p; i++) /* +inf or >= infinity: no bound */
        if (isnan(prob->h[i]) || (isinf(prob->h[i]) && prob->h[i] < 0)) return 0;
    return 1;
}

/* ---- the workspace ------------------------------------------------------------ */

int altdiff_setup(altdiff_work **work, const altdiff_problem *prob,
                  const altdiff_settings *settings)
{
    if (!work) return ALTDIFF_ERR_INVALID;
    *work = NULL;
    altdiff_settings set = settings ? *settings : altdiff_settings_default();
    if (!prob || ad_settings_check(&set) != ALTDIFF_OK || !problem_valid(prob))
        return ALTDIFF_ERR_INVALID;
    double t0 = ad_time();
    altdiff_work *w = ad_calloc(1, sizeof(altdiff_work));
    if (!w) return ALTDIFF_ERR_NOMEM;
    int status = ad_model_init(&w->model, prob, &set);
    if (status == ALTDIFF_OK) status = ad_state_alloc(&w->model, &w->state);
    if (status != ALTDIFF_OK) {
        altdiff_free(w);
        return status;
    }
    ad_state_set_vectors(&w->model, &w->state, prob->q, prob->b, prob->h);
    w->model.t_setup = ad_time() - t0;
    ad_state_info_setup(&w->model, &w->state);
    *work = w;
    return ALTDIFF_OK;
}

void altdiff_free(altdiff_work *w)
{
    if (!w) return;
    ad_smooth_free(&w->model.obj);
    ad_model_free(&w->model);
    ad_state_free(&w->state);
    ad_free(w);
}

/* ---- accessors ------------------------------------------------------------ */

const altdiff_info *altdiff_get_info(const altdiff_work *w) { return w ? &w->state.info : NULL; }

int altdiff_get_solution(const altdiff_work *w, double *x, double *s, double *lam, double *nu)
{
    const ad_model *md = w ? &w->model : NULL;
    const ad_state *st = w ? &w->state : NULL;
    if (!w) return ALTDIFF_ERR_INVALID;
    ad_unscale_solution(md, st, x, s, lam, nu);
    return ALTDIFF_OK;
}

int altdiff_get_certificate(const altdiff_work *w, double *dx, double *dlam, double *dnu)
{
    const ad_model *md = w ? &w->model : NULL;
    const ad_state *st = w ? &w->state : NULL;
    if (!w) return ALTDIFF_ERR_INVALID;
    if (dx) ad_copy(dx, st->cert_x, md->n);
    if (dlam) ad_copy(dlam, st->cert_lam, md->m);
    if (dnu) ad_scatter_kept(md, st->cert_nu, NULL, dnu);
    return ALTDIFF_OK;
}

/* 1 if x (original units) is in the domain of a smooth objective */
static int in_domain(const ad_model *md, const double *x)
{
    double f;
    return md->obj.f.value(md->obj.f.user, x, &f) == 0 && isfinite(f);
}

/* x~ = D^-1 x, s~ = Eg s, lam~ = c Ea^-1 lam, nu~ = c Eg^-1 nu (NULL = 0;
 * for a smooth objective x NULL = its start point, and x~ is also where
 * Newton starts) */
int altdiff_warm_start(altdiff_work *w, const double *x, const double *s, const double *lam,
                       const double *nu)
{
    ad_model *md = w ? &w->model : NULL;
    ad_state *st = w ? &w->state : NULL;
    if (!w) return ALTDIFF_ERR_INVALID;
    if ((x && !ad_all_finite(x, md->n)) || (lam && !ad_all_finite(lam, md->m)) ||
        (s && !ad_all_finite(s, md->p_all)) || (nu && !ad_all_finite(nu, md->p_all)))
        return ALTDIFF_ERR_INVALID;
    if (ad_smooth(md) && !x) x = md->obj.x0;
    if (ad_smooth(md) && !in_domain(md, x)) return ALTDIFF_ERR_INVALID;
    altdiff_int m = md->m;
    for (altdiff_int j = 0; j < md->n; j++) st->x[j] = x ? md->sc.Dinv[j] * x[j] : 0;
    if (ad_smooth(md)) ad_copy(st->xt, st->x, md->n);
    for (altdiff_int i = 0; i < m; i++) st->lam[i] = lam ? md->sc.c * md->sc.Einv[i] * lam[i] : 0;
    for (altdiff_int k = 0; k < md->p; k++) {
        altdiff_int i = md->keep[k];
        st->s[k] = s ? fmax(md->sc.E[m + k] * s[i], 0) : 0;
        st->nu[k] = nu ? fmax(md->sc.c * md->sc.Einv[m + k] * nu[i], 0) : 0;
    }
    return ALTDIFF_OK;
}

/* ---- updates --------------------------------------------------------------- */

int altdiff_update_vectors(altdiff_work *w, const double *q, const double *b, const double *h)
{
    if (!w || ad_vectors_valid(&w->model, q, b, h) != ALTDIFF_OK) return ALTDIFF_ERR_INVALID;
    ad_state_set_vectors(&w->model, &w->state, q, b, h);
    w->state.info.status = ALTDIFF_UNSOLVED;
    return ALTDIFF_OK;
}

/* dst[map[k]] = src[k] for the caller's entries k; 0 if a value is not finite */
static int scatter_values(double *dst, const double *src, const altdiff_int *map, altdiff_int nz)
{
    if (!ad_all_finite(src, nz)) return 0;
    for (altdiff_int k = 0; k < nz; k++)
        if (map[k] >= 0) dst[map[k]] = src[k];
    return 1;
}

/* ALTDIFF_OK if the new values (NULL: unchanged) are finite and allowed */
static int matrices_valid(const ad_model *md, const double *Px, const double *Ax,
                          const double *Gx)
{
    if (Px && ad_smooth(md)) return ALTDIFF_ERR_INVALID; /* no P: Hess f */
    if ((Px && !ad_all_finite(Px, md->Pnz)) || (Ax && !ad_all_finite(Ax, md->Anz)) ||
        (Gx && !ad_all_finite(Gx, md->Gnz)))
        return ALTDIFF_ERR_INVALID;
    return ALTDIFF_OK;
}

/* New given values (validated), rescaling with the cost factor from q0; the
 * old D, E, c into D0 (n), E0 (m + p), *c0 for the states to follow */
int ad_model_set_matrices(ad_model *md, const double *Px, const double *Ax, const double *Gx,
                          const double *q0, double *D0, double *E0, double *c0)
{
    if (Px) scatter_values(md->P0x, Px, md->Pmap, md->Pnz);
    if (Ax) scatter_values(md->A0x, Ax, md->Amap, md->Anz);
    if (Gx) scatter_values(md->G0x, Gx, md->Gmap, md->Gnz);
    ad_copy(D0, md->sc.D, md->n);
    ad_copy(E0, md->sc.E, md->m + md->p);
    *c0 = md->sc.c;
    ad_model_scale(md, q0);
    return ad_factor_values(&md->F, md->P, md->A, md->G);
}

int altdiff_update_matrices(altdiff_work *w, const double *Px, const double *Ax,
                            const double *Gx)
{
    if (!w || matrices_valid(&w->model, Px, Ax, Gx) != ALTDIFF_OK) return ALTDIFF_ERR_INVALID;
    ad_model *md = &w->model;
    ad_state *st = &w->state;
    double c0;
    int status = ad_model_set_matrices(md, Px, Ax, Gx, st->q0, st->wn, st->wn2, &c0);
    ad_state_rescale(md, st, st->wn, st->wn2, c0);
    st->info.status = ALTDIFF_UNSOLVED;
    ad_state_info_setup(md, st);
    return status;
}

int altdiff_update_rho(altdiff_work *w, double rho, double sigma)
{
    ad_model *md = w ? &w->model : NULL;
    ad_state *st = w ? &w->state : NULL;
    if (!w || !isfinite(rho) || !isfinite(sigma) || rho == 0) return ALTDIFF_ERR_INVALID;
    if (rho > 0) md->set.rho = rho;
    if (sigma >= 0) md->set.sigma = sigma;
    st->info.rho = md->set.rho;
    int status = ad_factor_refactor(&md->F, md->set.rho, md->set.sigma);
    ad_state_info_setup(md, st);
    return status;
}

/* ---- a solution given from outside -------------------------------------------- */

int altdiff_set_solution(altdiff_work *w, const double *x, const double *s, const double *lam,
                         const double *nu)
{
    if (!w || ad_smooth(&w->model)) return ALTDIFF_ERR_INVALID;
    int status = altdiff_warm_start(w, x, s, lam, nu); /* scaled, s, nu >= 0 */
    if (status != ALTDIFF_OK) return status;
    ad_state *st = &w->state;
    for (altdiff_int k = 0; k < w->model.p; k++) { /* s_k nu_k = 0: keep the larger */
        if (st->nu[k] > st->s[k]) st->s[k] = 0;
        else st->nu[k] = 0;
    }
    ad_assess(&w->model, st);
    ad_state_info_setup(&w->model, st);
    return ALTDIFF_OK;
}

/* ---- smooth objectives ------------------------------------------------------------ */

int altdiff_setup_objective(altdiff_work **work, const altdiff_problem *prob,
                            const altdiff_objective *f, const altdiff_settings *settings)
{
    if (!work) return ALTDIFF_ERR_INVALID;
    *work = NULL;
    if (!prob || !f || prob->n <= 0) return ALTDIFF_ERR_INVALID;
    if (f->kind == ALTDIFF_OBJECTIVE_QUADRATIC) return altdiff_setup(work, prob, settings);
    altdiff_int n = prob->n;
    ad_objective o;
    memset(&o, 0, sizeof(o));
    double *q = prob->q ? NULL : ad_calloc((size_t)n, sizeof(double));
    int status = (prob->q || q) ? ad_smooth_prepare(&o, prob, f) : ALTDIFF_ERR_NOMEM;
    altdiff_settings set = settings ? *settings : altdiff_settings_default();
    if (set.anderson >= 0 && set.anderson <= 50) /* unused here; an invalid value stays */
        set.anderson = 0;                          /* for altdiff_setup to reject     */
    if (status == ALTDIFF_OK) { /* the QP setup with P = Hess f(x0) */
        altdiff_problem qp = *prob;
        altdiff_csc P = {n, n, o.f.hess.p, o.f.hess.i, o.hx};
        qp.P = P;
        qp.q = prob->q ? prob->q : q;
        status = altdiff_setup(work, &qp, &set);
    }
    ad_free(q);
    if (status != ALTDIFF_OK) {
        ad_smooth_free(&o);
        return status;
    }
    (*work)->model.obj = o; /* the workspace owns o's arrays now */
    status = ad_smooth_attach(&(*work)->model, &(*work)->state);
    if (status != ALTDIFF_OK) {
        altdiff_free(*work);
        *work = NULL;
    }
    return status;
}
