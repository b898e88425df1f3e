/*
 * model.c: the model (what every solve reads: the problem as given and
 * scaled, the scaling, the factor of H) and the solve states (what one solve
 * writes). One model serves any number of states: a workspace holds one of
 * each, a batch one model and B states.
 */
#include <math.h>
#include <string.h>

#include "ad_internal.h"

/* ---- the model: what every solve reads ----------------------------------- */

/* Rows of G to keep (h_i < infinity): keep[k] = i and rowmap[i] = k or -1 */
static int choose_rows(ad_model *md, const double *h, altdiff_int *rowmap)
{
    md->keep = ad_malloc((size_t)md->p_all, sizeof(altdiff_int));
    if (!md->keep) return ALTDIFF_ERR_NOMEM;
    altdiff_int k = 0;
    for (altdiff_int i = 0; i < md->p_all; i++) {
        rowmap[i] = h[i] < md->set.infinity ? k : -1;
        if (rowmap[i] >= 0) md->keep[k++] = i;
    }
    md->p = k;
    return ALTDIFF_OK;
}

/* The maps of the three imports: a canonical input (copied as is) has the
 * identity as its map, kept as NULL (ad_map_at); the others get their own.
 * id[k]: import k is canonical. */
static int allocate_maps(ad_model *md, const int id[3])
{
    altdiff_int nz[3] = {md->Pnz, md->Anz, md->Gnz};
    altdiff_int **map[3] = {&md->Pmap, &md->Amap, &md->Gmap};
    for (int k = 0; k < 3; k++) {
        *map[k] = id[k] ? NULL : ad_malloc((size_t)nz[k], sizeof(altdiff_int));
        if (!id[k] && !*map[k]) return ALTDIFF_ERR_NOMEM;
    }
    return ALTDIFF_OK;
}

/* Copy P (upper), A and G (kept rows) with the maps from the caller's entries.
 * A block with no rows (m = 0 or p = 0) is taken as empty whatever it holds. */
static int import_matrices(ad_model *md, const altdiff_problem *prob, altdiff_int *rowmap)
{
    altdiff_int n = md->n;
    altdiff_csc none = {0, n, NULL, NULL, NULL};
    const altdiff_csc *A = md->m > 0 ? &prob->A : &none, *G = md->p_all > 0 ? &prob->G : &none;
    md->Pnz = (prob->P.p && prob->P.ncol == n) ? prob->P.p[n] : 0;
    md->Anz = (A->p && A->ncol == n) ? A->p[n] : 0;
    md->Gnz = (G->p && G->ncol == n) ? G->p[n] : 0;
    int id[3] = {ad_csc_canonical(&prob->P, NULL, n, 1), ad_csc_canonical(A, NULL, md->m, 0),
                 ad_csc_canonical(G, rowmap, md->p, 0)};
    int status = allocate_maps(md, id);
    if (status == ALTDIFF_OK)
        status = ad_csc_import(&prob->P, n, n, NULL, n, 1, &md->P, id[0] ? NULL : md->Pmap);
    if (status == ALTDIFF_OK)
        status = ad_csc_import(A, md->m, n, NULL, md->m, 0, &md->A, id[1] ? NULL : md->Amap);
    if (status == ALTDIFF_OK)
        status = ad_csc_import(G, md->p_all, n, rowmap, md->p, 0, &md->G,
                               id[2] ? NULL : md->Gmap);
    return status;
}

/* The scaling's arrays and the dense copies of A, G */
static int allocate_model(ad_model *md)
{
    int status = ad_scaling_alloc(&md->sc, md->n, md->m + md->p);
    if (status == ALTDIFF_OK) status = ad_block_alloc(&md->Ab, md->A);
    if (status == ALTDIFF_OK) status = ad_block_alloc(&md->Gb, md->G);
    return status;
}

/* The model of prob (validated): kept rows, matrices, scaling (its cost
 * factor from prob->q), the analyzed and factored H. On failure the caller
 * frees md. */
int ad_model_init(ad_model *md, const altdiff_problem *prob, const altdiff_settings *set)
{
    md->set = *set;
    md->xu = &ad_quadratic_xupdate;
    md->n = prob->n;
    md->m = prob->m;
    md->p_all = prob->p;
    altdiff_int *rowmap = ad_malloc((size_t)md->p_all, sizeof(altdiff_int));
    int status = rowmap ? choose_rows(md, prob->h, rowmap) : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) status = import_matrices(md, prob, rowmap);
    ad_free(rowmap);
    if (status == ALTDIFF_OK) status = allocate_model(md);
    if (status != ALTDIFF_OK) return status;
    ad_model_scale(md, prob->q);
    md->F.eq_weight = AD_EQ_WEIGHT; /* one penalty for all rows: see factor.h */
    md->F.Ad = md->Ab.dense; /* S'S from the dense copies when they exist */
    md->F.Gd = md->Gb.dense;
    status = ad_check_H(md, md->set.rho, md->set.sigma); /* overflow: say where */
    if (status == ALTDIFF_OK)
        status = ad_factor_init(&md->F, md->P, md->A, md->G, md->set.rho, md->set.sigma);
    if (status != ALTDIFF_OK && !md->msg[0])
        ad_factor_msg(md, status, md->set.rho, md->set.sigma);
    return status;
}

void ad_model_free(ad_model *md)
{
    ad_factor_free(&md->F);
    ad_scaling_free(&md->sc);
    ad_block_free(&md->Ab);
    ad_block_free(&md->Gb);
    ad_spfree(md->P);
    ad_spfree(md->A);
    ad_spfree(md->G);
    md->keep = ad_free(md->keep);
    md->Pmap = ad_free(md->Pmap); /* NULL (the identity) or its own */
    md->Amap = ad_free(md->Amap);
    md->Gmap = ad_free(md->Gmap);
}

/* ---- a solve state ---------------------------------------------------------- */

/* Every vector one solve needs (zero iterates), Anderson memory not
 * included: one zeroed block, its pages mapped at once (ad_malloc_mapped) */
int ad_state_alloc_vectors(const ad_model *md, ad_state *st)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    double **v[] = {&st->q0, &st->b0, &st->h0, &st->q, &st->x, &st->x_prev, &st->rhs,
                    &st->xt, &st->wn, &st->cert_x, &st->b, &st->lam, &st->lam_prev, &st->Ax,
                    &st->cert_lam, &st->h, &st->s, &st->nu, &st->nu_prev, &st->Gx,
                    &st->cert_nu, &st->wn2, &st->aa_z};
    altdiff_int len[] = {n, m, md->p_all, n, n, n, n, n, n, n, m, m, m, m, m, p, p, p, p, p,
                         p, n + m + p, m + p};
    size_t total = 0, count = sizeof(len) / sizeof(len[0]);
    for (size_t k = 0; k < count; k++) total += (size_t)len[k];
    st->block = ad_malloc_mapped(total + 1, sizeof(double)); /* then zero: no page faults */
    st->info.rho = md->F.rho;
    if (!st->block) return ALTDIFF_ERR_NOMEM;
    ad_fill(st->block, 0, (altdiff_int)total + 1);
    double *next = st->block;
    for (size_t k = 0; k < count; k++) {
        *v[k] = next;
        next += len[k];
    }
    st->polish_J = ad_calloc((size_t)(p > 0 ? p : 1), 1);
    return st->polish_J ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
}

int ad_state_alloc_anderson(const ad_model *md, ad_state *st)
{
    if (md->set.record || st->aa.block) return ALTDIFF_OK; /* off, or there */
    return ad_anderson_alloc(&st->aa, md->set.anderson, md->m + md->p);
}

int ad_state_alloc(const ad_model *md, ad_state *st)
{
    int status = ad_state_alloc_vectors(md, st);
    return status == ALTDIFF_OK ? ad_state_alloc_anderson(md, st) : status;
}

/* q0, b0, h0 (all p_all rows) = q, b, h (NULL: unchanged) and their scaled
 * copies; the caller has validated them */
void ad_state_set_vectors(const ad_model *md, ad_state *st, const double *q, const double *b,
                          const double *h)
{
    if (q) ad_copy(st->q0, q, md->n);
    if (b) ad_copy(st->b0, b, md->m);
    if (h) ad_copy(st->h0, h, md->p_all);
    ad_state_scale_vectors(md, st);
}

void ad_state_free(ad_state *st)
{
    ad_anderson_free(&st->aa);
    st->block = ad_free(st->block); /* every vector of the state */
    st->masks = ad_free(st->masks);
    st->polish_J = ad_free(st->polish_J);
}

/* The setup figures of the model into a state's info */
void ad_state_info_setup(const ad_model *md, ad_state *st)
{
    st->info.dropped_rows = md->p_all - md->p;
    st->info.t_analyze = md->F.t_analyze;
    st->info.t_factor = md->F.t_factor;
    st->info.nnz_L = md->F.cm.lnz;
    st->info.mem_factor = md->F.mem_peak;
    st->info.t_setup = md->t_setup;
}

/* Scale the given values in P->x, A->x, G->x in place (cost factor from
 * q0): the dense copies of A, G get the given values, the scaling reads
 * them (contiguous) and scales them and the CSC values alike */
void ad_model_scale(ad_model *md, const double *q0)
{
    ad_block_load(&md->Ab, md->A->x);
    ad_block_load(&md->Gb, md->G->x);
    ad_scale_block P = {md->P, NULL}, A = {md->A, md->Ab.dense}, G = {md->G, md->Gb.dense};
    ad_scaling_compute(&md->sc, &P, &A, &G, q0, md->set.scaling);
}

void ad_model_unscale(ad_model *md)
{
    ad_scaling_undo(&md->sc, md->P, md->A, md->G);
}

void ad_model_rescaled(ad_model *md, const double *D, const double *E, double c)
{
    ad_scaling_set(&md->sc, D, E, c);
    ad_block_load(&md->Ab, md->A->x); /* the scaled values: the copies' own */
    ad_block_load(&md->Gb, md->G->x);
}

/* q~ = c D q, b~ = Ea b, h~ = Eg h (kept rows) */
void ad_state_scale_vectors(const ad_model *md, ad_state *st)
{
    ad_scale_cost(&md->sc, st->q0, st->q);
    ad_scale_rows(&md->sc, 0, st->b0, md->m, st->b);
    for (altdiff_int k = 0; k < md->p; k++) st->h[k] = md->sc.E[md->m + k] * st->h0[md->keep[k]];
}

/* Keep the iterates' meaning (x, s, lam, nu in original units) when the
 * scaling changes from (D0, E0, c0) to (D, E, c); then q~, b~, h~ again */
void ad_state_rescale(const ad_model *md, ad_state *st, const double *D0, const double *E0,
                      double c0)
{
    altdiff_int m = md->m;
    const ad_scaling *sc = &md->sc;
    for (altdiff_int j = 0; j < md->n; j++) st->x[j] *= D0[j] / sc->D[j]; /* x = D x~ */
    for (altdiff_int j = 0; j < md->n && ad_smooth(md); j++) st->xt[j] *= D0[j] / sc->D[j];
    for (altdiff_int i = 0; i < m; i++) st->lam[i] *= (sc->c / c0) * (E0[i] / sc->E[i]);
    for (altdiff_int k = m; k < m + md->p; k++) {
        st->s[k - m] *= sc->E[k] / E0[k];                  /* s = Eg^-1 s~      */
        st->nu[k - m] *= (sc->c / c0) * (E0[k] / sc->E[k]); /* nu = Eg nu~ / c   */
    }
    ad_state_scale_vectors(md, st);
}

void ad_scatter_kept(const ad_model *md, const double *v, const double *scale, double *out)
{
    ad_fill(out, 0, md->p_all);
    for (altdiff_int k = 0; k < md->p; k++) out[md->keep[k]] = (scale ? scale[k] : 1) * v[k];
}

/* x = D x~, s = Eg^-1 s~, lam = Ea lam~ / c, nu = Eg nu~ / c */
void ad_unscale_solution(const ad_model *md, const ad_state *st, double *x, double *s,
                         double *lam, double *nu)
{
    altdiff_int m = md->m;
    const ad_scaling *sc = &md->sc;
    if (x) ad_unscale_x(sc, st->x, x);
    if (lam) ad_unscale_dual(sc, 0, st->lam, m, lam);
    if (s) ad_copy(s, st->h0, md->p_all);
    if (nu) ad_fill(nu, 0, md->p_all);
    for (altdiff_int k = 0; k < md->p; k++) {
        if (s) s[md->keep[k]] = sc->Einv[m + k] * st->s[k];
        if (nu) nu[md->keep[k]] = sc->cinv * sc->E[m + k] * st->nu[k];
    }
}

/* ---- a model from another one's analysis (batch elements' own matrices) ---- */

/* An owned copy of A (pattern and values); NULL on failure */
static cs_dl *copy_csc(const cs_dl *A)
{
    altdiff_int nz = A->p[A->n];
    cs_dl *C = ad_spalloc(A->m, A->n, nz);
    if (!C) return NULL;
    memcpy(C->p, A->p, sizeof(altdiff_int) * (size_t)(A->n + 1));
    if (nz > 0) {
        memcpy(C->i, A->i, sizeof(altdiff_int) * (size_t)nz);
        memcpy(C->x, A->x, sizeof(double) * (size_t)nz);
    }
    return C;
}

/* Allocate a copy of v (n indices); NULL on failure */
static altdiff_int *dup_int(const altdiff_int *v, altdiff_int n)
{
    altdiff_int *y = ad_malloc((size_t)n, sizeof(altdiff_int));
    if (y && n > 0) memcpy(y, v, sizeof(altdiff_int) * (size_t)n);
    return y;
}

/* md (zeroed) = src's problem: kept rows, patterns, maps, given values, and
 * src's analysis of H (ad_factor_clone: no analysis). Nothing is shared, so
 * md and src may be used from different threads. Scaling and factor values
 * follow in ad_model_derive. On failure the caller frees md. */
static int model_clone(ad_model *md, const ad_model *src)
{
    md->set = src->set;
    md->xu = src->xu;
    md->n = src->n;
    md->m = src->m;
    md->p = src->p;
    md->p_all = src->p_all;
    md->Pnz = src->Pnz;
    md->Anz = src->Anz;
    md->Gnz = src->Gnz;
    md->keep = dup_int(src->keep, src->p);
    md->Pmap = src->Pmap ? dup_int(src->Pmap, src->Pnz) : NULL; /* NULL: the identity */
    md->Amap = src->Amap ? dup_int(src->Amap, src->Anz) : NULL;
    md->Gmap = src->Gmap ? dup_int(src->Gmap, src->Gnz) : NULL;
    md->P = copy_csc(src->P);
    md->A = copy_csc(src->A);
    md->G = copy_csc(src->G);
    int maps = (!src->Pmap || md->Pmap) && (!src->Amap || md->Amap) && (!src->Gmap || md->Gmap);
    if (!md->keep || !maps || !md->P || !md->A || !md->G) return ALTDIFF_ERR_NOMEM;
    int status = allocate_model(md);
    if (status != ALTDIFF_OK) return status;
    ad_scaling_set(&md->sc, src->sc.D, src->sc.E, src->sc.c); /* P, A, G's scaling */
    md->F.eq_weight = AD_EQ_WEIGHT; /* one penalty for all rows: see factor.h */
    md->F.Ad = md->Ab.dense;
    md->F.Gd = md->Gb.dense;
    return ad_factor_clone(&md->F, &src->F, md->A, md->G);
}

/* dst[map[k]] = src[k] for the caller's entries k (-1: a dropped entry) */
static void scatter_given(double *dst, const double *src, const altdiff_int *map, altdiff_int nz)
{
    for (altdiff_int k = 0; k < nz; k++)
        if (ad_map_at(map, k) >= 0) dst[ad_map_at(map, k)] = src[k];
}

void ad_model_replace(ad_model *md, const double *Px, const double *Ax, const double *Gx,
                      const double *q0)
{
    ad_model_unscale(md); /* the given values (to round-off), then the new */
    if (Px) scatter_given(md->P->x, Px, md->Pmap, md->Pnz);
    if (Ax) scatter_given(md->A->x, Ax, md->Amap, md->Anz);
    if (Gx) scatter_given(md->G->x, Gx, md->Gmap, md->Gnz);
    ad_model_scale(md, q0);
}

int ad_model_derive(ad_model *md, const ad_model *src, const double *Px, const double *Ax,
                    const double *Gx, const double *q0)
{
    int status = model_clone(md, src);
    if (status != ALTDIFF_OK) return status;
    ad_model_replace(md, Px, Ax, Gx, q0); /* the element's own values */
    md->F.rho = md->set.rho; /* a fresh model: H at the settings' penalty */
    md->F.sigma = md->set.sigma;
    status = ad_check_H(md, md->F.rho, md->F.sigma); /* overflow: says where */
    if (status == ALTDIFF_OK) status = ad_factor_values(&md->F, md->P, md->A, md->G);
    if (status == ALTDIFF_OK) status = ad_factor_warm(&md->F);
    if (status != ALTDIFF_OK && status != ALTDIFF_ERR_INVALID)
        ad_factor_msg(md, status, md->F.rho, md->F.sigma);
    return status;
}
