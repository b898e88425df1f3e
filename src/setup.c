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

/* ---- setup ---------------------------------------------------------------- */

/* Rows of G to keep (h_i < infinity): keep[k] = i and rowmap[i] = k or -1 */
static int choose_rows(altdiff_work *w, const double *h, altdiff_int *rowmap)
{
    w->keep = ad_malloc((size_t)w->p_all, sizeof(altdiff_int));
    if (!w->keep) return ALTDIFF_ERR_NOMEM;
    altdiff_int k = 0;
    for (altdiff_int i = 0; i < w->p_all; i++) {
        rowmap[i] = h[i] < w->set.infinity ? k : -1;
        if (rowmap[i] >= 0) w->keep[k++] = i;
    }
    w->p = k;
    w->info.dropped_rows = w->p_all - k;
    return ALTDIFF_OK;
}

/* Copy P (upper), A and G (kept rows) with the maps from the caller's entries.
 * A block with no rows (m = 0 or p = 0) is taken as empty whatever it holds. */
static int import_matrices(altdiff_work *w, const altdiff_problem *prob, altdiff_int *rowmap)
{
    altdiff_int n = w->n;
    altdiff_csc none = {0, n, NULL, NULL, NULL};
    const altdiff_csc *A = w->m > 0 ? &prob->A : &none, *G = w->p_all > 0 ? &prob->G : &none;
    w->Pnz = (prob->P.p && prob->P.ncol == n) ? prob->P.p[n] : 0;
    w->Anz = (A->p && A->ncol == n) ? A->p[n] : 0;
    w->Gnz = (G->p && G->ncol == n) ? G->p[n] : 0;
    w->Pmap = ad_malloc((size_t)w->Pnz, sizeof(altdiff_int));
    w->Amap = ad_malloc((size_t)w->Anz, sizeof(altdiff_int));
    w->Gmap = ad_malloc((size_t)w->Gnz, sizeof(altdiff_int));
    if (!w->Pmap || !w->Amap || !w->Gmap) return ALTDIFF_ERR_NOMEM;
    int status = ad_csc_import(&prob->P, n, n, NULL, n, 1, &w->P, w->Pmap);
    if (status == ALTDIFF_OK)
        status = ad_csc_import(A, w->m, n, NULL, w->m, 0, &w->A, w->Amap);
    if (status == ALTDIFF_OK)
        status = ad_csc_import(G, w->p_all, n, rowmap, w->p, 0, &w->G, w->Gmap);
    return status;
}

/* Allocate a copy of x (n doubles); NULL on failure */
static double *dup(const double *x, altdiff_int n)
{
    double *y = ad_malloc((size_t)n, sizeof(double));
    if (y && n > 0) memcpy(y, x, sizeof(double) * (size_t)n);
    return y;
}

/* Given values and every vector the iterations need */
static int allocate_vectors(altdiff_work *w, const altdiff_problem *prob)
{
    altdiff_int n = w->n, m = w->m, p = w->p;
    w->P0x = dup(w->P->x, w->P->p[n]);
    w->A0x = dup(w->A->x, w->A->p[n]);
    w->G0x = dup(w->G->x, w->G->p[n]);
    w->q0 = dup(prob->q, n);
    w->b0 = m > 0 ? dup(prob->b, m) : ad_malloc(1, sizeof(double));
    w->h0 = w->p_all > 0 ? dup(prob->h, w->p_all) : ad_malloc(1, sizeof(double));
    double **v[] = {&w->q, &w->x, &w->x_prev, &w->rhs, &w->xt, &w->wn, &w->D, &w->Dinv,
                    &w->cert_x, &w->b, &w->lam, &w->lam_prev, &w->Ax, &w->cert_lam,
                    &w->h, &w->s, &w->nu, &w->nu_prev, &w->Gx, &w->cert_nu};
    altdiff_int len[] = {n, n, n, n, n, n, n, n, n, m, m, m, m, m, p, p, p, p, p, p};
    int ok = w->P0x && w->A0x && w->G0x && w->q0 && w->b0 && w->h0;
    for (size_t k = 0; k < sizeof(len) / sizeof(len[0]); k++) {
        *v[k] = ad_calloc((size_t)len[k], sizeof(double));
        ok = ok && *v[k];
    }
    w->E = ad_calloc((size_t)(m + p), sizeof(double));
    w->Einv = ad_calloc((size_t)(m + p), sizeof(double));
    w->wn2 = ad_calloc((size_t)(n + m + p), sizeof(double));
    w->wm = ad_calloc((size_t)(m + p), sizeof(double));
    return (ok && w->E && w->Einv && w->wn2 && w->wm) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
}

/* Everything but the validation; on failure the caller frees w */
static int setup_work(altdiff_work *w, const altdiff_problem *prob)
{
    altdiff_int *rowmap = ad_malloc((size_t)w->p_all, sizeof(altdiff_int));
    int status = rowmap ? choose_rows(w, prob->h, rowmap) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) status = import_matrices(w, prob, rowmap);
    ad_free(rowmap);
    if (status == ALTDIFF_OK) status = allocate_vectors(w, prob);
    if (status == ALTDIFF_OK && !w->set.record) status = ad_anderson_alloc(w, w->set.anderson);
    if (status != ALTDIFF_OK) return status;
    ad_scale(w);
    return ad_factor_init(w);
}

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
    w->set = set;
    w->n = prob->n;
    w->m = prob->m;
    w->p_all = prob->p;
    w->info.rho = set.rho;
    int status = setup_work(w, prob);
    if (status != ALTDIFF_OK) {
        altdiff_free(w);
        return status;
    }
    w->info.t_setup = ad_time() - t0;
    *work = w;
    return ALTDIFF_OK;
}

void altdiff_free(altdiff_work *w)
{
    if (!w) return;
    ad_factor_free(&w->F);
    ad_smooth_free(&w->obj);
    ad_anderson_free(&w->aa);
    ad_spfree(w->P);
    ad_spfree(w->A);
    ad_spfree(w->G);
    void *arrays[] = {w->keep, w->P0x, w->A0x, w->G0x, w->q, w->b, w->h, w->q0, w->b0,
                      w->h0, w->Pmap, w->Amap, w->Gmap, w->D, w->Dinv, w->E, w->Einv,
                      w->x, w->s, w->lam, w->nu, w->x_prev, w->lam_prev, w->nu_prev,
                      w->rhs, w->xt, w->Ax, w->Gx, w->wn, w->wn2, w->wm, w->cert_x,
                      w->cert_lam, w->cert_nu, w->masks};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    ad_free(w);
}

/* ---- accessors ------------------------------------------------------------ */

/* out (p_all given rows) = v (p kept rows) times scale (NULL: 1), 0 on
 * dropped rows */
void ad_scatter_kept(const altdiff_work *w, const double *v, const double *scale, double *out)
{
    ad_fill(out, 0, w->p_all);
    for (altdiff_int k = 0; k < w->p; k++) out[w->keep[k]] = (scale ? scale[k] : 1) * v[k];
}

const altdiff_info *altdiff_get_info(const altdiff_work *w) { return w ? &w->info : NULL; }

int altdiff_get_solution(const altdiff_work *w, double *x, double *s, double *lam, double *nu)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    ad_unscale_solution(w, x, s, lam, nu);
    return ALTDIFF_OK;
}

int altdiff_get_certificate(const altdiff_work *w, double *dx, double *dlam, double *dnu)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    if (dx) ad_copy(dx, w->cert_x, w->n);
    if (dlam) ad_copy(dlam, w->cert_lam, w->m);
    if (dnu) ad_scatter_kept(w, w->cert_nu, NULL, dnu);
    return ALTDIFF_OK;
}

/* 1 if x (original units) is in the domain of a smooth objective */
static int in_domain(const altdiff_work *w, const double *x)
{
    double f;
    return w->obj.f.value(w->obj.f.user, x, &f) == 0 && isfinite(f);
}

/* x~ = D^-1 x, s~ = Eg s, lam~ = c Ea^-1 lam, nu~ = c Eg^-1 nu (NULL = 0;
 * for a smooth objective x NULL = its start point, and x~ is also where
 * Newton starts) */
int altdiff_warm_start(altdiff_work *w, const double *x, const double *s, const double *lam,
                       const double *nu)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    if ((x && !ad_all_finite(x, w->n)) || (lam && !ad_all_finite(lam, w->m)) ||
        (s && !ad_all_finite(s, w->p_all)) || (nu && !ad_all_finite(nu, w->p_all)))
        return ALTDIFF_ERR_INVALID;
    if (ad_smooth(w) && !x) x = w->obj.x0;
    if (ad_smooth(w) && !in_domain(w, x)) return ALTDIFF_ERR_INVALID;
    altdiff_int m = w->m;
    for (altdiff_int j = 0; j < w->n; j++) w->x[j] = x ? w->Dinv[j] * x[j] : 0;
    if (ad_smooth(w)) ad_copy(w->xt, w->x, w->n);
    for (altdiff_int i = 0; i < m; i++) w->lam[i] = lam ? w->c * w->Einv[i] * lam[i] : 0;
    for (altdiff_int k = 0; k < w->p; k++) {
        altdiff_int i = w->keep[k];
        w->s[k] = s ? fmax(w->E[m + k] * s[i], 0) : 0;
        w->nu[k] = nu ? fmax(w->c * w->Einv[m + k] * nu[i], 0) : 0;
    }
    return ALTDIFF_OK;
}

/* ---- updates --------------------------------------------------------------- */

int altdiff_update_vectors(altdiff_work *w, const double *q, const double *b, const double *h)
{
    if (!w) return ALTDIFF_ERR_INVALID;
    if ((q && !ad_all_finite(q, w->n)) || (b && !ad_all_finite(b, w->m)))
        return ALTDIFF_ERR_INVALID;
    if (h) /* the set of dropped rows must not change */
        for (altdiff_int i = 0, k = 0; i < w->p_all; i++) {
            int kept = k < w->p && w->keep[k] == i;
            if (isnan(h[i]) || (h[i] < w->set.infinity) != kept) return ALTDIFF_ERR_INVALID;
            k += kept;
        }
    if (q) ad_copy(w->q0, q, w->n);
    if (b) ad_copy(w->b0, b, w->m);
    if (h) ad_copy(w->h0, h, w->p_all);
    ad_scale_vectors(w);
    w->info.status = ALTDIFF_UNSOLVED;
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

/* Keep the iterates' meaning (x, s, lam, nu in original units) when the
 * scaling changes from (D0, E0, c0) to (D, E, c). */
static void rescale_iterates(altdiff_work *w, const double *D0, const double *E0, double c0)
{
    altdiff_int m = w->m;
    for (altdiff_int j = 0; j < w->n; j++) w->x[j] *= D0[j] / w->D[j]; /* x = D x~ */
    for (altdiff_int j = 0; j < w->n && ad_smooth(w); j++) w->xt[j] *= D0[j] / w->D[j];
    for (altdiff_int i = 0; i < m; i++) w->lam[i] *= (w->c / c0) * (E0[i] / w->E[i]);
    for (altdiff_int k = m; k < m + w->p; k++) {
        w->s[k - m] *= w->E[k] / E0[k];                      /* s = Eg^-1 s~      */
        w->nu[k - m] *= (w->c / c0) * (E0[k] / w->E[k]);     /* nu = Eg nu~ / c   */
    }
}

int altdiff_update_matrices(altdiff_work *w, const double *Px, const double *Ax,
                            const double *Gx)
{
    if (!w || (Px && ad_smooth(w))) return ALTDIFF_ERR_INVALID; /* no P: Hess f */
    if ((Px && !ad_all_finite(Px, w->Pnz)) || (Ax && !ad_all_finite(Ax, w->Anz)) ||
        (Gx && !ad_all_finite(Gx, w->Gnz)))
        return ALTDIFF_ERR_INVALID;
    if (Px) scatter_values(w->P0x, Px, w->Pmap, w->Pnz);
    if (Ax) scatter_values(w->A0x, Ax, w->Amap, w->Anz);
    if (Gx) scatter_values(w->G0x, Gx, w->Gmap, w->Gnz);
    ad_copy(w->wn, w->D, w->n); /* the old scaling, to carry the iterates over */
    ad_copy(w->wn2, w->E, w->m + w->p);
    double c_old = w->c;
    ad_scale(w);
    rescale_iterates(w, w->wn, w->wn2, c_old);
    w->info.status = ALTDIFF_UNSOLVED;
    return ad_factor_values(w);
}

int altdiff_update_rho(altdiff_work *w, double rho, double sigma)
{
    if (!w || !isfinite(rho) || !isfinite(sigma) || rho == 0) return ALTDIFF_ERR_INVALID;
    if (rho > 0) w->set.rho = rho;
    if (sigma >= 0) w->set.sigma = sigma;
    w->info.rho = w->set.rho;
    return ad_factor_refactor(w, w->set.rho, w->set.sigma);
}
