/*
 * setup.c: validate and copy the problem, scale it, factor H; the workspace's
 * accessors, updates and destructor.
 */
#include <math.h>
#include <string.h>

#include "ad_internal.h"

/* ---- messages ---------------------------------------------------------------- */

const char *altdiff_last_error(const altdiff_work *w)
{
    return w ? w->model.msg : "no workspace (NULL)";
}

/* The generic text of code into msg when nothing more specific was said */
static void default_msg(char *msg, size_t len, int code)
{
    if (code != ALTDIFF_OK && msg && len > 0 && !msg[0])
        ad_msg(msg, len, "%s", altdiff_error_string(code));
}

/* ---- the workspace ------------------------------------------------------------ */

/* altdiff_setup with the reason of a failure in msg (AD_MSG_LEN bytes) */
static int setup_msg(altdiff_work **work, const altdiff_problem *prob,
                     const altdiff_settings *settings, char *msg)
{
    if (work) *work = NULL;
    if (!work || !prob) {
        ad_msg(msg, AD_MSG_LEN, "%s is NULL", !work ? "work" : "prob");
        return ALTDIFF_ERR_INVALID;
    }
    altdiff_settings set = settings ? *settings : altdiff_settings_default();
    int status = ad_settings_check_msg(&set, msg, AD_MSG_LEN);
    if (status == ALTDIFF_OK) status = ad_check_problem(prob, msg, AD_MSG_LEN);
    if (status != ALTDIFF_OK) return status;
    double t0 = ad_time();
    altdiff_work *w = ad_calloc(1, sizeof(altdiff_work));
    if (!w) {
        ad_msg(msg, AD_MSG_LEN, "out of memory allocating the workspace");
        return ALTDIFF_ERR_NOMEM;
    }
    status = ad_model_init(&w->model, prob, &set);
    if (status == ALTDIFF_OK) status = ad_state_alloc(&w->model, &w->state);
    if (status != ALTDIFF_OK) {
        if (status == ALTDIFF_ERR_INVALID && !w->model.msg[0]) /* left by the import */
            ad_msg(w->model.msg, AD_MSG_LEN, "P: an entry given in both triangles with "
                   "different values");
        ad_msg(msg, AD_MSG_LEN, "%s", w->model.msg);
        altdiff_free(w);
        return status;
    }
    ad_state_set_vectors(&w->model, &w->state, prob->q, prob->b, prob->h);
    w->model.t_setup = ad_time() - t0;
    ad_state_info_setup(&w->model, &w->state);
    *work = w;
    return ALTDIFF_OK;
}

int altdiff_setup_err(altdiff_work **work, const altdiff_problem *prob,
                      const altdiff_settings *settings, char *err, size_t errlen)
{
    char msg[AD_MSG_LEN] = "";
    int status = setup_msg(work, prob, settings, msg);
    default_msg(msg, sizeof(msg), status);
    ad_msg(err, errlen, "%s", msg);
    return status;
}

int altdiff_setup(altdiff_work **work, const altdiff_problem *prob,
                  const altdiff_settings *settings)
{
    return altdiff_setup_err(work, prob, settings, NULL, 0);
}

void altdiff_free(altdiff_work *w)
{
    if (!w) return;
    ad_smooth_free(&w->model.obj);
    ad_model_free(&w->model);
    ad_state_free(&w->state);
    ad_free(w);
}

/* ---- the solve and its recovery ------------------------------------------------- */

/* 1 if the iterates x, s, lam, nu (and the Newton point) are finite */
static int iterates_finite(const ad_model *md, const ad_state *st)
{
    return ad_all_finite(st->x, md->n) && ad_all_finite(st->lam, md->m) &&
           ad_all_finite(st->s, md->p) && ad_all_finite(st->nu, md->p) &&
           (!ad_smooth(md) || ad_all_finite(st->xt, md->n));
}

/* 1 if the last solve failed: its outcome, or what it left in the iterates */
static int solve_failed(const ad_model *md, const ad_state *st)
{
    int status = st->info.status;
    return status == ALTDIFF_NUMERICAL_ERROR || status == ALTDIFF_NONCONVEX ||
           !iterates_finite(md, st);
}

/* After a failed solve: clean iterates (zero; a smooth objective's start
 * point) and H refactored at the settings' rho and sigma (the solve may
 * have left a rho or a Hessian made of NaN in the factor) */
static int repair(altdiff_work *w)
{
    ad_model *md = &w->model;
    ad_state *st = &w->state;
    int clean = !w->warm || !iterates_finite(md, st); /* else: the caller's warm start */
    if (clean && altdiff_warm_start(w, NULL, NULL, NULL, NULL) != ALTDIFF_OK) {
        /* a callback's start point left its domain: zeros */
        ad_fill(st->x, 0, md->n);
        ad_fill(st->lam, 0, md->m);
        ad_fill(st->s, 0, md->p);
        ad_fill(st->nu, 0, md->p);
    }
    if (!ad_smooth(md)) return ad_factor_refactor(&md->F, md->set.rho, md->set.sigma);
    md->F.rho = md->set.rho; /* the refresh refactors at F's rho and sigma */
    md->F.sigma = md->set.sigma;
    return ad_smooth_refresh(md, st->xt);
}

int ad_work_before_solve(altdiff_work *w)
{
    ad_model *md = &w->model;
    int status = ALTDIFF_OK;
    if (w->repair || !iterates_finite(md, &w->state)) status = repair(w);
    w->repair = w->warm = 0;
    md->msg[0] = 0;
    if (status != ALTDIFF_OK) {
        w->repair = 1;
        w->state.info.status = ALTDIFF_NUMERICAL_ERROR;
        ad_factor_msg(md, status, md->set.rho, md->set.sigma);
    }
    return status;
}

void ad_work_after_solve(altdiff_work *w)
{
    ad_model *md = &w->model;
    if (!solve_failed(md, &w->state)) return;
    w->repair = 1; /* the next solve starts clean */
    if (ad_smooth(md) && w->state.info.status == ALTDIFF_NUMERICAL_ERROR)
        ad_msg(md->msg, sizeof(md->msg), "numerical error after %lld iterations: with a "
               "smooth objective often an infeasible problem (no point of the domain meets "
               "the constraints); the next solve starts from clean iterates",
               (long long)w->state.info.iter);
    else
        ad_msg(md->msg, sizeof(md->msg), "%s after %lld iterations (NaN/Inf in the iterates: "
               "data too large for double precision?); the next solve starts from clean "
               "iterates", altdiff_status_string(w->state.info.status),
               (long long)w->state.info.iter);
}

int altdiff_solve(altdiff_work *w)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    int status = ad_work_before_solve(w);
    if (status != ALTDIFF_OK) return status;
    status = ad_solve(&w->model, &w->state, NULL, NULL);
    ad_work_after_solve(w);
    if (status != ALTDIFF_OK && !w->model.msg[0]) default_msg(w->model.msg, AD_MSG_LEN, status);
    return status;
}

/* ---- accessors ------------------------------------------------------------ */

const altdiff_info *altdiff_get_info(const altdiff_work *w) { return w ? &w->state.info : NULL; }

int altdiff_get_solution(const altdiff_work *w, double *x, double *s, double *lam, double *nu)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    const ad_model *md = &w->model;
    const ad_state *st = &w->state;
    ad_unscale_solution(md, st, x, s, lam, nu);
    return solve_failed(md, st) ? ALTDIFF_ERR_NOT_SOLVED : ALTDIFF_OK;
}

int altdiff_get_certificate(const altdiff_work *w, double *dx, double *dlam, double *dnu)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    const ad_model *md = &w->model;
    const ad_state *st = &w->state;
    if (dx) ad_copy(dx, st->cert_x, md->n);
    if (dlam) ad_copy(dlam, st->cert_lam, md->m);
    if (dnu) ad_scatter_kept(md, st->cert_nu, NULL, dnu);
    int status = st->info.status;
    return status == ALTDIFF_PRIMAL_INFEASIBLE || status == ALTDIFF_DUAL_INFEASIBLE
               ? ALTDIFF_OK
               : ALTDIFF_ERR_NOT_SOLVED;
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
    if (!w) return ALTDIFF_ERR_INVALID;
    ad_model *md = &w->model;
    ad_state *st = &w->state;
    char *msg = md->msg;
    int status = x ? ad_check_finite("x", x, md->n, msg, AD_MSG_LEN) : ALTDIFF_OK;
    if (status == ALTDIFF_OK && s) status = ad_check_finite("s", s, md->p_all, msg, AD_MSG_LEN);
    if (status == ALTDIFF_OK && lam)
        status = ad_check_finite("lam", lam, md->m, msg, AD_MSG_LEN);
    if (status == ALTDIFF_OK && nu) status = ad_check_finite("nu", nu, md->p_all, msg, AD_MSG_LEN);
    if (status != ALTDIFF_OK) return status;
    if (ad_smooth(md) && !x) x = md->obj.x0;
    if (ad_smooth(md) && !in_domain(md, x)) {
        ad_msg(msg, AD_MSG_LEN, "x is outside the domain of the objective");
        return ALTDIFF_ERR_INVALID;
    }
    altdiff_int m = md->m;
    for (altdiff_int j = 0; j < md->n; j++) st->x[j] = x ? md->sc.Dinv[j] * x[j] : 0;
    if (ad_smooth(md)) ad_copy(st->xt, st->x, md->n);
    for (altdiff_int i = 0; i < m; i++) st->lam[i] = lam ? md->sc.c * md->sc.Einv[i] * lam[i] : 0;
    for (altdiff_int k = 0; k < md->p; k++) {
        altdiff_int i = md->keep[k];
        st->s[k] = s ? fmax(md->sc.E[m + k] * s[i], 0) : 0;
        st->nu[k] = nu ? fmax(md->sc.c * md->sc.Einv[m + k] * nu[i], 0) : 0;
    }
    w->warm = 1;
    return ALTDIFF_OK;
}

/* ---- updates: validated like setup; a failure changes nothing ---------------- */

int altdiff_update_vectors(altdiff_work *w, const double *q, const double *b, const double *h)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    int status = ad_check_vectors(&w->model, q, b, h, w->model.msg, AD_MSG_LEN);
    if (status != ALTDIFF_OK) return status;
    ad_state_set_vectors(&w->model, &w->state, q, b, h);
    w->state.info.status = ALTDIFF_UNSOLVED;
    return ALTDIFF_OK;
}

/* Factor H of the scaled values (after an overflow check) */
static int refactor(ad_model *md)
{
    int status = ad_check_H(md, md->F.rho, md->F.sigma);
    if (status == ALTDIFF_OK) status = ad_factor_values(&md->F, md->P, md->A, md->G);
    if (status != ALTDIFF_OK && status != ALTDIFF_ERR_INVALID)
        ad_factor_msg(md, status, md->F.rho, md->F.sigma);
    return status;
}

/* New given values (validated), rescaling with the cost factor from q0; the
 * old D, E, c into D0 (n), E0 (m + p), *c0 for the states to follow
 * (whatever the outcome). The blocks not replaced are recovered from their
 * scaled values (to within a few units of round-off, scaling.h). On failure
 * the old scaled values and scaling come back bit for bit (and are factored
 * again) and md->msg says why. */
int ad_model_set_matrices(ad_model *md, const double *Px, const double *Ax, const double *Gx,
                          const double *q0, double *D0, double *E0, double *c0)
{
    altdiff_int n = md->n;
    cs_dl *S[3] = {md->P, md->A, md->G};
    ad_copy(D0, md->sc.D, n);
    ad_copy(E0, md->sc.E, md->m + md->p);
    *c0 = md->sc.c;
    altdiff_int at[3] = {0, S[0]->p[n], S[0]->p[n] + S[1]->p[n]};
    double *old = ad_malloc((size_t)(at[2] + S[2]->p[n] + 1), sizeof(double));
    if (!old) {
        ad_msg(md->msg, AD_MSG_LEN, "out of memory saving the matrices for an update");
        return ALTDIFF_ERR_NOMEM;
    }
    for (int k = 0; k < 3; k++) ad_copy(old + at[k], S[k]->x, S[k]->p[n]);
    ad_model_replace(md, Px, Ax, Gx, q0);
    int status = refactor(md);
    if (status != ALTDIFF_OK) { /* back to the old values; keep the message */
        char why[AD_MSG_LEN];
        ad_msg(why, sizeof(why), "%s", md->msg);
        for (int k = 0; k < 3; k++) ad_copy(S[k]->x, old + at[k], S[k]->p[n]);
        ad_model_rescaled(md, D0, E0, *c0);
        refactor(md); /* factored before: it factors again */
        ad_msg(md->msg, AD_MSG_LEN, "%s", why);
    }
    ad_free(old);
    return status;
}

int altdiff_update_matrices(altdiff_work *w, const double *Px, const double *Ax,
                            const double *Gx)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    ad_model *md = &w->model;
    ad_state *st = &w->state;
    int status = ad_check_matrices(md, Px, Ax, Gx);
    if (status != ALTDIFF_OK) return status;
    double c0;
    status = ad_model_set_matrices(md, Px, Ax, Gx, st->q0, st->wn, st->wn2, &c0);
    ad_state_rescale(md, st, st->wn, st->wn2, c0); /* the iterates keep their meaning */
    if (status == ALTDIFF_OK) st->info.status = ALTDIFF_UNSOLVED;
    ad_state_info_setup(md, st);
    return status;
}

int altdiff_update_rho(altdiff_work *w, double rho, double sigma)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    ad_model *md = &w->model;
    ad_state *st = &w->state;
    if (!isfinite(rho) || rho == 0 || !isfinite(sigma)) {
        ad_msg(md->msg, AD_MSG_LEN, "%s = %g: rho must be finite and nonzero (negative: "
               "unchanged), sigma finite", (!isfinite(rho) || rho == 0) ? "rho" : "sigma",
               (!isfinite(rho) || rho == 0) ? rho : sigma);
        return ALTDIFF_ERR_INVALID;
    }
    double r = rho > 0 ? rho : md->set.rho, sg = sigma >= 0 ? sigma : md->set.sigma;
    double r0 = md->F.rho, s0 = md->F.sigma; /* what H holds now */
    int status = ad_check_H(md, r, sg);      /* rho A'A may overflow */
    if (status != ALTDIFF_OK) return status; /* nothing changed */
    status = ad_factor_refactor(&md->F, r, sg);
    if (status != ALTDIFF_OK) { /* the factor as it was */
        ad_factor_msg(md, status, r, sg);
        char why[AD_MSG_LEN];
        ad_msg(why, sizeof(why), "%s", md->msg);
        ad_factor_refactor(&md->F, r0, s0);
        ad_msg(md->msg, AD_MSG_LEN, "%s", why);
        return status;
    }
    md->set.rho = r;
    md->set.sigma = sg;
    st->info.rho = r;
    ad_state_info_setup(md, st);
    return ALTDIFF_OK;
}

/* ---- a solution given from outside -------------------------------------------- */

int altdiff_set_solution(altdiff_work *w, const double *x, const double *s, const double *lam,
                         const double *nu)
{
    if (!w || ad_smooth(&w->model)) return ALTDIFF_ERR_INVALID;
    int status = altdiff_warm_start(w, x, s, lam, nu); /* scaled, s, nu >= 0 */
    if (status == ALTDIFF_OK && w->repair) status = repair(w); /* H after a failed solve */
    if (status != ALTDIFF_OK) return status;
    w->repair = 0;
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

/* The objective's own checks failed: which part, when it can be told */
static void objective_msg(char *msg, const altdiff_problem *prob, const altdiff_objective *f)
{
    int has_P = prob->P.p && prob->P.ncol > 0 && prob->P.p[prob->P.ncol] > 0;
    if (has_P)
        ad_msg(msg, AD_MSG_LEN, "P has entries: a non-quadratic objective takes none");
    else if (f->kind != ALTDIFF_OBJECTIVE_ENTROPY && f->kind != ALTDIFF_OBJECTIVE_CALLBACK)
        ad_msg(msg, AD_MSG_LEN, "objective kind %d is unknown", f->kind);
    else
        ad_msg(msg, AD_MSG_LEN, "objective: %s", f->kind == ALTDIFF_OBJECTIVE_ENTROPY
                   ? "y is not finite or its start point is outside the domain"
                   : "a callback is missing, hess is malformed or x0 is outside the domain");
}

/* altdiff_setup_objective with the reason of a failure in msg */
static int setup_objective_msg(altdiff_work **work, const altdiff_problem *prob,
                               const altdiff_objective *f, const altdiff_settings *settings,
                               char *msg)
{
    if (!work || !prob || !f || prob->n <= 0) {
        ad_msg(msg, AD_MSG_LEN, "%s", !work ? "work is NULL" : !prob ? "prob is NULL"
                                      : !f  ? "f is NULL" : "n <= 0");
        if (work) *work = NULL;
        return ALTDIFF_ERR_INVALID;
    }
    *work = NULL;
    if (f->kind == ALTDIFF_OBJECTIVE_QUADRATIC) return setup_msg(work, prob, settings, msg);
    altdiff_int n = prob->n;
    ad_objective o;
    memset(&o, 0, sizeof(o));
    double *q = prob->q ? NULL : ad_calloc((size_t)n, sizeof(double));
    int status = (prob->q || q) ? ad_smooth_prepare(&o, prob, f) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_ERR_INVALID) objective_msg(msg, prob, f);
    altdiff_settings set = settings ? *settings : altdiff_settings_default();
    if (set.anderson >= 0 && set.anderson <= 50) /* unused here; an invalid value stays */
        set.anderson = 0;                          /* for altdiff_setup to reject     */
    if (status == ALTDIFF_OK) { /* the QP setup with P = Hess f(x0) */
        altdiff_problem qp = *prob;
        altdiff_csc P = {n, n, o.f.hess.p, o.f.hess.i, o.hx};
        qp.P = P;
        qp.q = prob->q ? prob->q : q;
        status = setup_msg(work, &qp, &set, msg);
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

int altdiff_setup_objective_err(altdiff_work **work, const altdiff_problem *prob,
                                const altdiff_objective *f, const altdiff_settings *settings,
                                char *err, size_t errlen)
{
    char msg[AD_MSG_LEN] = "";
    int status = setup_objective_msg(work, prob, f, settings, msg);
    default_msg(msg, sizeof(msg), status);
    ad_msg(err, errlen, "%s", msg);
    return status;
}

int altdiff_setup_objective(altdiff_work **work, const altdiff_problem *prob,
                            const altdiff_objective *f, const altdiff_settings *settings)
{
    return altdiff_setup_objective_err(work, prob, f, settings, NULL, 0);
}
