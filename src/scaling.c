/*
 * scaling.c: Ruiz equilibration of the KKT matrix [P A' G'; A 0 0; G 0 0]
 * and cost scaling (as in OSQP). With D (n), E = (Ea, Eg) (m + p), c > 0:
 *     P~ = c D P D,  q~ = c D q,  A~ = Ea A D,  b~ = Ea b,  G~ = Eg G D,  h~ = Eg h.
 * The scaled problem has the same solutions up to the change of variables
 * (x = D x~, ...), so ADMM's fixed point is unchanged.
 */
#include <math.h>

#include "scaling.h"

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
 * applied to the data and accumulated in D, E. */
static void ruiz_pass(ad_scaling *sc, cs_dl *P, cs_dl *A, cs_dl *G)
{
    altdiff_int n = sc->n, m = A->m, rows = sc->rows;
    double *dn = sc->work, *de = sc->work + n;
    ad_fill(dn, 0, n);
    ad_fill(de, 0, rows);
    abs_max(P, dn, dn); /* P symmetric, upper stored: both ends of an entry */
    abs_max(A, dn, de);
    abs_max(G, dn, de + m);
    for (altdiff_int j = 0; j < n; j++) dn[j] = ruiz_factor(dn[j]);
    for (altdiff_int i = 0; i < rows; i++) de[i] = ruiz_factor(de[i]);
    scale_csc(P, dn, dn); /* P <- d P d  */
    scale_csc(A, de, dn); /* A <- e A d  */
    scale_csc(G, de + m, dn);
    for (altdiff_int j = 0; j < n; j++) sc->D[j] *= dn[j];
    for (altdiff_int i = 0; i < rows; i++) sc->E[i] *= de[i];
}

/* Cost scaling c = 1 / max(mean_j |P(:,j)|, |D q|_inf), within the bounds */
static double cost_factor(ad_scaling *sc, const cs_dl *P, const double *q0)
{
    altdiff_int n = sc->n;
    double *dn = sc->work;
    ad_fill(dn, 0, n);
    abs_max(P, dn, dn);
    double mean = 0, qmax = 0;
    for (altdiff_int j = 0; j < n; j++) {
        mean += dn[j] / (double)n;
        if (q0) qmax = ad_max(qmax, fabs(q0[j] * sc->D[j]));
    }
    double norm = ad_max(mean, qmax);
    if (norm < SCALE_MIN) return 1.0;
    return 1.0 / fmin(norm, SCALE_MAX);
}

int ad_scaling_alloc(ad_scaling *sc, altdiff_int n, altdiff_int rows)
{
    sc->n = n;
    sc->rows = rows;
    sc->D = ad_malloc((size_t)n, sizeof(double));
    sc->Dinv = ad_malloc((size_t)n, sizeof(double));
    sc->E = ad_malloc((size_t)rows, sizeof(double));
    sc->Einv = ad_malloc((size_t)rows, sizeof(double));
    sc->work = ad_malloc((size_t)(n + rows), sizeof(double));
    if (!sc->D || !sc->Dinv || !sc->E || !sc->Einv || !sc->work) return ALTDIFF_ERR_NOMEM;
    ad_fill(sc->D, 1, n);
    ad_fill(sc->Dinv, 1, n);
    ad_fill(sc->E, 1, rows);
    ad_fill(sc->Einv, 1, rows);
    sc->c = sc->cinv = 1;
    return ALTDIFF_OK;
}

void ad_scaling_free(ad_scaling *sc)
{
    void *arrays[] = {sc->D, sc->Dinv, sc->E, sc->Einv, sc->work};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    sc->D = sc->Dinv = sc->E = sc->Einv = sc->work = NULL;
}

void ad_scaling_compute(ad_scaling *sc, cs_dl *P, cs_dl *A, cs_dl *G, const double *q0,
                        int passes)
{
    altdiff_int n = sc->n;
    ad_fill(sc->D, 1, n);
    ad_fill(sc->E, 1, sc->rows);
    for (int k = 0; k < passes; k++) ruiz_pass(sc, P, A, G);
    sc->c = passes > 0 ? cost_factor(sc, P, q0) : 1.0;
    for (altdiff_int t = 0; t < P->p[n]; t++) P->x[t] *= sc->c; /* P~ = c D P D */
    sc->cinv = 1.0 / sc->c;
    for (altdiff_int j = 0; j < n; j++) sc->Dinv[j] = 1.0 / sc->D[j];
    for (altdiff_int i = 0; i < sc->rows; i++) sc->Einv[i] = 1.0 / sc->E[i];
}

void ad_scale_cost(const ad_scaling *sc, const double *q, double *y)
{
    for (altdiff_int j = 0; j < sc->n; j++) y[j] = sc->c * sc->D[j] * q[j]; /* c D q */
}

void ad_scale_rows(const ad_scaling *sc, altdiff_int off, const double *v, altdiff_int len,
                   double *y)
{
    for (altdiff_int i = 0; i < len; i++) y[i] = sc->E[off + i] * v[i]; /* E v */
}

void ad_unscale_x(const ad_scaling *sc, const double *xt, double *x)
{
    for (altdiff_int j = 0; j < sc->n; j++) x[j] = sc->D[j] * xt[j]; /* x = D x~ */
}

void ad_unscale_dual(const ad_scaling *sc, altdiff_int off, const double *yt, altdiff_int len,
                     double *y)
{
    for (altdiff_int i = 0; i < len; i++) y[i] = sc->cinv * sc->E[off + i] * yt[i]; /* E y~ / c */
}

void ad_scale_x(const ad_scaling *sc, const double *x, double *xt)
{
    for (altdiff_int j = 0; j < sc->n; j++) xt[j] = sc->Dinv[j] * x[j]; /* x~ = D^-1 x */
}

void ad_scale_dual(const ad_scaling *sc, altdiff_int off, const double *y, altdiff_int len,
                   double *yt)
{
    for (altdiff_int i = 0; i < len; i++) yt[i] = sc->c * sc->Einv[off + i] * y[i]; /* c E^-1 y */
}
