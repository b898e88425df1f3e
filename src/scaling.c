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

/* 1/sqrt(norm), with tiny norms (empty rows or columns) mapped to 1 */
static double ruiz_factor(double norm)
{
    if (norm < SCALE_MIN) return 1.0;
    return 1.0 / sqrt(fmin(norm, SCALE_MAX * SCALE_MAX));
}

/* colmax_j, rowmax_i = max over column j, row i of |dr_i M_ij dc_j| with M
 * the given values x0 on the pattern of S: the norms of the data scaled so
 * far, read without writing it. colmax or rowmax may be NULL. */
static void abs_max_csc(const cs_dl *S, const double *x0, const double *dr, const double *dc,
                        double *colmax, double *rowmax)
{
    for (altdiff_int j = 0; j < S->n; j++)
        for (altdiff_int t = S->p[j]; t < S->p[j + 1]; t++) {
            altdiff_int i = S->i[t];
            double a = dr[i] * fabs(x0[t]) * dc[j];
            if (colmax) colmax[j] = ad_max(colmax[j], a);
            if (rowmax) rowmax[i] = ad_max(rowmax[i], a);
        }
}

#define AD_LANES 8 /* partial maxima kept apart: the loops below vectorize */

/* max over i < len of a_i = dr_i |col_i| d, and rowmax_i = max(rowmax_i, a_i)
 * (the data are finite: plain max, in any order) */
static double col_abs_max(const double *restrict col, const double *restrict dr, double d,
                          altdiff_int len, double *restrict rowmax)
{
    double acc[AD_LANES] = {0}, cmax = 0;
    altdiff_int i = 0;
    for (; i + AD_LANES <= len; i += AD_LANES)
        for (int l = 0; l < AD_LANES; l++) {
            double a = dr[i + l] * fabs(col[i + l]) * d;
            acc[l] = a > acc[l] ? a : acc[l];
            rowmax[i + l] = a > rowmax[i + l] ? a : rowmax[i + l];
        }
    for (; i < len; i++) {
        double a = dr[i] * fabs(col[i]) * d;
        cmax = a > cmax ? a : cmax;
        rowmax[i] = a > rowmax[i] ? a : rowmax[i];
    }
    for (int l = 0; l < AD_LANES; l++) cmax = acc[l] > cmax ? acc[l] : cmax;
    return cmax;
}

/* The same on a dense column-major M (rows x n): contiguous columns */
static void abs_max_dense(const double *M, altdiff_int rows, altdiff_int n, const double *dr,
                          const double *dc, double *colmax, double *rowmax)
{
    for (altdiff_int j = 0; j < n; j++) {
        double cmax = col_abs_max(M + (size_t)j * (size_t)rows, dr, dc[j], rows, rowmax);
        colmax[j] = ad_max(colmax[j], cmax);
    }
}

/* The same on a full upper triangle (packed: column j holds rows 0..j from
 * j (j + 1) / 2), symmetric with D on both sides: norm_j over column j of
 * the whole matrix (the upper entries (i, j) count for column i too) */
static void abs_max_packed(const double *x0, altdiff_int n, const double *d, double *norm)
{
    for (altdiff_int j = 0; j < n; j++) {
        const double *col = x0 + (size_t)j * (size_t)(j + 1) / 2;
        double cmax = col_abs_max(col, d, d[j], j, norm); /* rows i < j */
        double diag = d[j] * fabs(col[j]) * d[j];
        norm[j] = ad_max(norm[j], ad_max(cmax, diag));
    }
}

/* Norms of a constraint block scaled by (dr, dc): as a dense matrix when it
 * is one (the given values themselves when its pattern is full, else its
 * dense copy) */
static void abs_max_block(const ad_scale_block *B, const double *dr, const double *dc,
                          double *colmax, double *rowmax)
{
    const cs_dl *S = B->S;
    if (ad_full(S, 0)) abs_max_dense(S->x, S->m, S->n, dr, dc, colmax, rowmax);
    else if (B->dense) abs_max_dense(B->dense, S->m, S->n, dr, dc, colmax, rowmax);
    else abs_max_csc(S, S->x, dr, dc, colmax, rowmax);
}

/* Norms of P (upper, symmetric) scaled by D on both sides, into norm */
static void abs_max_P(const ad_scale_block *P, const double *d, double *norm)
{
    if (ad_full(P->S, 1)) abs_max_packed(P->S->x, P->S->n, d, norm);
    else abs_max_csc(P->S, P->S->x, d, d, norm, norm); /* upper: both ends */
}

/* One Ruiz pass on the data scaled by D, E so far (computed on the fly from
 * the given values): d_j = 1/sqrt(|KKT column j|), e_i = 1/sqrt(|row i of
 * S|), accumulated in D, E. */
static void ruiz_pass(ad_scaling *sc, const ad_scale_block *P, const ad_scale_block *A,
                      const ad_scale_block *G)
{
    altdiff_int n = sc->n, m = A->S->m, rows = sc->rows;
    double *dn = sc->work, *de = sc->work + n;
    ad_fill(dn, 0, n);
    ad_fill(de, 0, rows);
    abs_max_P(P, sc->D, dn);
    abs_max_block(A, sc->E, sc->D, dn, de);
    abs_max_block(G, sc->E + m, sc->D, dn, de + m);
    for (altdiff_int j = 0; j < n; j++) sc->D[j] *= ruiz_factor(dn[j]);
    for (altdiff_int i = 0; i < rows; i++) sc->E[i] *= ruiz_factor(de[i]);
}

/* Cost scaling c = 1 / max(mean_j |(D P D)(:,j)|, |D q|_inf), within the bounds */
static double cost_factor(ad_scaling *sc, const ad_scale_block *P, const double *q0)
{
    altdiff_int n = sc->n;
    double *dn = sc->work;
    ad_fill(dn, 0, n);
    abs_max_P(P, sc->D, dn);
    double mean = 0, qmax = 0;
    for (altdiff_int j = 0; j < n; j++) {
        mean += dn[j] / (double)n;
        if (q0) qmax = ad_max(qmax, fabs(q0[j] * sc->D[j]));
    }
    double norm = ad_max(mean, qmax);
    if (norm < SCALE_MIN) return 1.0;
    return 1.0 / fmin(norm, SCALE_MAX);
}

/* x_t = c (dr_i x_t dc_j) in place on the entries of S (a full pattern,
 * upper: of the upper triangle, is walked without its row indices: column
 * j holds rows 0..len_j - 1) */
static void multiply(cs_dl *S, const double *dr, const double *dc, double c, int upper)
{
    int full = ad_full(S, upper);
    for (altdiff_int j = 0; j < S->n; j++) {
        altdiff_int t0 = S->p[j], len = S->p[j + 1] - t0;
        double *x = S->x + t0, d = dc[j];
        const altdiff_int *row = S->i + t0;
        for (altdiff_int k = 0; k < len; k++) x[k] = c * ((dr[full ? k : row[k]] * x[k]) * d);
    }
}

/* The dense copy of a constraint block, if any and apart from S->x: the
 * same products in place (identical values to S->x's) */
static void scale_dense(const ad_scale_block *B, const double *dr, const double *dc)
{
    const cs_dl *S = B->S;
    if (!B->dense || B->dense == S->x) return;
    for (altdiff_int j = 0; j < S->n; j++) {
        double *col = B->dense + (size_t)j * (size_t)S->m;
        for (altdiff_int i = 0; i < S->m; i++) col[i] = (dr[i] * col[i]) * dc[j];
    }
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

/* Dinv, Einv, cinv from D, E, c */
static void inverses(ad_scaling *sc)
{
    sc->cinv = 1.0 / sc->c;
    for (altdiff_int j = 0; j < sc->n; j++) sc->Dinv[j] = 1.0 / sc->D[j];
    for (altdiff_int i = 0; i < sc->rows; i++) sc->Einv[i] = 1.0 / sc->E[i];
}

void ad_scaling_compute(ad_scaling *sc, const ad_scale_block *P, const ad_scale_block *A,
                        const ad_scale_block *G, const double *q0, int passes)
{
    altdiff_int n = sc->n, m = A->S->m;
    ad_fill(sc->D, 1, n);
    ad_fill(sc->E, 1, sc->rows);
    for (int k = 0; k < passes; k++) ruiz_pass(sc, P, A, G);
    sc->c = passes > 0 ? cost_factor(sc, P, q0) : 1.0;
    multiply(P->S, sc->D, sc->D, sc->c, 1); /* P~ = c D P D */
    multiply(A->S, sc->E, sc->D, 1, 0);     /* A~ = Ea A D  */
    multiply(G->S, sc->E + m, sc->D, 1, 0); /* G~ = Eg G D  */
    scale_dense(A, sc->E, sc->D);
    scale_dense(G, sc->E + m, sc->D);
    inverses(sc);
}

void ad_scaling_set(ad_scaling *sc, const double *D, const double *E, double c)
{
    ad_copy(sc->D, D, sc->n);
    ad_copy(sc->E, E, sc->rows);
    sc->c = c;
    inverses(sc);
}

void ad_scaling_undo(const ad_scaling *sc, cs_dl *P, cs_dl *A, cs_dl *G)
{
    multiply(P, sc->Dinv, sc->Dinv, sc->cinv, 1);
    multiply(A, sc->Einv, sc->Dinv, 1, 0);
    multiply(G, sc->Einv + A->m, sc->Dinv, 1, 0);
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
