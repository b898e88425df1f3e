/*
 * gradients.c: gradients with respect to the matrices from the vector
 * gradients of a VJP (doc/MATH.md section 5.7), on the patterns given at
 * setup.
 */
#include "ad_internal.h"

/* Gradient of L with respect to each given entry: g_pos[map[k]] / (number of
 * given entries sharing that position) */
static void gather_grads(const double *g_pos, const altdiff_int *map, altdiff_int nz,
                         altdiff_int npos, double *out, altdiff_int *count)
{
    for (altdiff_int t = 0; t < npos; t++) count[t] = 0;
    for (altdiff_int k = 0; k < nz; k++)
        if (ad_map_at(map, k) >= 0) count[ad_map_at(map, k)]++;
    for (altdiff_int k = 0; k < nz; k++) {
        altdiff_int t = ad_map_at(map, k);
        out[k] = t >= 0 ? g_pos[t] / (double)count[t] : 0;
    }
}

/* On the internal patterns (original units), doc/MATH.md:
 *   P (upper, entry (i,j) stands for both P_ij and P_ji):
 *       i != j:  dq_i x_j + x_i dq_j,     i == j:  dq_i x_i
 *   A:  lam_i dq_j - db_i x_j,    G (kept row k = given row i):  nu_i dq_j - dh_i x_j */
static void pattern_grads(const ad_model *md, const double *x, const double *lam,
                          const double *nu, const double *dq, const double *db,
                          const double *dh, double *gP, double *gA, double *gG)
{
    const cs_dl *P = md->P, *A = md->A, *G = md->G;
    for (altdiff_int j = 0; j < md->n; j++) {
        for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++) {
            altdiff_int i = P->i[t];
            gP[t] = i == j ? dq[i] * x[i] : dq[i] * x[j] + x[i] * dq[j];
        }
        for (altdiff_int t = A->p[j]; t < A->p[j + 1]; t++)
            gA[t] = lam[A->i[t]] * dq[j] - db[A->i[t]] * x[j];
        for (altdiff_int t = G->p[j]; t < G->p[j + 1]; t++) {
            altdiff_int i = md->keep[G->i[t]];
            gG[t] = nu[i] * dq[j] - dh[i] * x[j];
        }
    }
}

int ad_matrix_grads(const ad_model *md, const ad_state *st, const double *dq, const double *db,
                         const double *dh, double *dPx, double *dAx, double *dGx)
{
    if (!md || !dq || (md->m > 0 && !db) || (md->p_all > 0 && !dh) || (dPx && ad_smooth(md)))
        return ALTDIFF_ERR_INVALID;
    if (st->info.status != ALTDIFF_SOLVED) return ALTDIFF_ERR_NOT_SOLVED;
    altdiff_int n = md->n, m = md->m, pa = md->p_all, nP = md->P->p[n], nA = md->A->p[n],
                nG = md->G->p[n];
    size_t len = (size_t)(n + m + 2 * pa + nP + nA + nG);
    double *buf = ad_malloc(len, sizeof(double));
    altdiff_int *count = ad_malloc((size_t)(nP + nA + nG), sizeof(altdiff_int));
    if (!buf || !count) {
        ad_free(buf);
        ad_free(count);
        return ALTDIFF_ERR_NOMEM;
    }
    double *x = buf, *lam = x + n, *s = lam + m, *nu = s + pa, *gP = nu + pa, *gA = gP + nP,
           *gG = gA + nA;
    ad_unscale_solution(md, st, x, s, lam, nu);
    pattern_grads(md, x, lam, nu, dq, db ? db : lam, dh ? dh : nu, gP, gA, gG);
    if (dPx) gather_grads(gP, md->Pmap, md->Pnz, nP, dPx, count);
    if (dAx) gather_grads(gA, md->Amap, md->Anz, nA, dAx, count);
    if (dGx) gather_grads(gG, md->Gmap, md->Gnz, nG, dGx, count);
    ad_free(buf);
    ad_free(count);
    return ALTDIFF_OK;
}

