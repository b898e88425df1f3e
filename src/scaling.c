/*
 * scaling.c: Ruiz equilibration of the KKT matrix [P A' G'; A 0 0; G 0 0]
 * and cost scaling (as in OSQP). With D (n), E = (Ea, Eg) (m + p), c > 0:
 *     P~ = c D P D,  q~ = c D q,  A~ = Ea A D,  b~ = Ea b,  G~ = Eg G D,  h~ = Eg h.
 * The scaled problem has the same solutions up to the change of variables
 * (x = D x~, ...), so ADMM's fixed point is unchanged.
 */
#include <math.h>

#include "ad_internal.h"

#define SCALE_MIN 1e-4 /* norms below this are left alone       */
#define SCALE_MAX 1e4  /* and factors are kept within these bounds */

/* 1/sqrt(norm), with tiny norms (empty rows/columns) mapped to 1 */
static double ruiz_factor(double norm)
{
    if (norm < SCALE_MIN) return 1.0;
    return 1.0 / sqrt(fmin(norm, SCALE_MAX * SCALE_MAX));
}

/* M = diag(dr) M diag(dc) on the values of M */
static void scale_csc(cs_dl *M, const double *dr, const double *dc)
{
    for (altdiff_int j = 0; j < M->n; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) M->x[t] *= dr[M->i[t]] * dc[j];
}

/* colmax_j = max over column j of |M|, rowmax_i = max over row i of |M| */
static void abs_max(const cs_dl *M, double *colmax, double *rowmax)
{
    for (altdiff_int j = 0; j < M->n; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) {
            double a = fabs(M->x[t]);
            if (colmax) colmax[j] = ad_max(colmax[j], a);
            if (rowmax) rowmax[M->i[t]] = ad_max(rowmax[M->i[t]], a);
        }
}

/* One Ruiz pass: d_j = 1/sqrt(|KKT column j|), e_i = 1/sqrt(|row i of S|),
 * applied to the data and accumulated in D, E. dn (n), de (m+p): scratch. */
static void ruiz_pass(altdiff_work *w, double *dn, double *de)
{
    altdiff_int n = w->n, m = w->m, p = w->p;
    ad_fill(dn, 0, n);
    ad_fill(de, 0, m + p);
    abs_max(w->P, dn, dn); /* P symmetric, upper stored: both ends of an entry */
    abs_max(w->A, dn, de);
    abs_max(w->G, dn, de + m);
    for (altdiff_int j = 0; j < n; j++) dn[j] = ruiz_factor(dn[j]);
    for (altdiff_int i = 0; i < m + p; i++) de[i] = ruiz_factor(de[i]);
    scale_csc(w->P, dn, dn); /* P <- d P d  */
    scale_csc(w->A, de, dn); /* A <- e A d  */
    scale_csc(w->G, de + m, dn);
    for (altdiff_int j = 0; j < n; j++) w->D[j] *= dn[j];
    for (altdiff_int i = 0; i < m + p; i++) w->E[i] *= de[i];
}

/* Cost scaling c = 1 / max(mean_j |P(:,j)|, |q~|_inf), within the bounds */
static double cost_factor(altdiff_work *w, double *dn)
{
    altdiff_int n = w->n;
    ad_fill(dn, 0, n);
    abs_max(w->P, dn, dn);
    double mean = 0, qmax = 0;
    for (altdiff_int j = 0; j < n; j++) {
        mean += dn[j] / (double)n;
        qmax = ad_max(qmax, fabs(w->q0[j] * w->D[j]));
    }
    double norm = ad_max(mean, qmax);
    if (norm < SCALE_MIN) return 1.0;
    return 1.0 / fmin(norm, SCALE_MAX);
}

/* q~ = c D q, b~ = Ea b, h~ = Eg h (kept rows) */
void ad_scale_vectors(altdiff_work *w)
{
    for (altdiff_int j = 0; j < w->n; j++) w->q[j] = w->c * w->D[j] * w->q0[j];
    for (altdiff_int i = 0; i < w->m; i++) w->b[i] = w->E[i] * w->b0[i];
    for (altdiff_int k = 0; k < w->p; k++) w->h[k] = w->E[w->m + k] * w->h0[w->keep[k]];
}

/* Scale from the given values P0x, A0x, G0x, q0, b0, h0. Uses x_prev (n) and
 * wm (m + p) as scratch. */
void ad_scale(altdiff_work *w)
{
    altdiff_int n = w->n, m = w->m, p = w->p;
    ad_copy(w->P->x, w->P0x, w->P->p[n]);
    ad_copy(w->A->x, w->A0x, w->A->p[n]);
    ad_copy(w->G->x, w->G0x, w->G->p[n]);
    ad_fill(w->D, 1, n);
    ad_fill(w->E, 1, m + p);
    for (int k = 0; k < w->set.scaling; k++) ruiz_pass(w, w->x_prev, w->wm);
    w->c = w->set.scaling > 0 ? cost_factor(w, w->x_prev) : 1.0;
    for (altdiff_int t = 0; t < w->P->p[n]; t++) w->P->x[t] *= w->c; /* P~ = c D P D */
    w->cinv = 1.0 / w->c;
    for (altdiff_int j = 0; j < n; j++) w->Dinv[j] = 1.0 / w->D[j];
    for (altdiff_int i = 0; i < m + p; i++) w->Einv[i] = 1.0 / w->E[i];
    ad_scale_vectors(w);
}
