/* ops.c: products with the constraint blocks (ops.h) */
#include <limits.h>
#include <string.h>

#include "ops.h"
#include "blas.h"

#define AD_BLOCK_DENSE_FRACTION 0.2 /* this full: kept dense as well           */
#define AD_BLOCK_DENSE_MAX 50000000 /* entries (400 MB) at most                */

int ad_block_dense_pays(altdiff_int rows, altdiff_int n, altdiff_int nnz)
{
    double size = (double)rows * (double)n;
    return rows > 0 && rows <= INT_MAX && n <= INT_MAX && size <= AD_BLOCK_DENSE_MAX &&
           (double)nnz >= AD_BLOCK_DENSE_FRACTION * size;
}

int ad_block_alloc(ad_block *B, const cs_dl *S)
{
    B->S = S;
    B->dense = NULL;
    B->own = 0;
    if (!ad_block_dense_pays(S->m, S->n, S->p[S->n])) return ALTDIFF_OK;
    if (ad_full(S, 0)) { /* column-major values: the dense form itself */
        B->dense = S->x;
        return ALTDIFF_OK;
    }
    B->dense = ad_malloc((size_t)S->m * (size_t)S->n, sizeof(double));
    B->own = 1;
    return B->dense ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
}

void ad_block_load(ad_block *B, const double *x)
{
    if (!B->own) return; /* none, or S->x: the scaling writes it */
    const cs_dl *S = B->S;
    size_t rows = (size_t)S->m, size = rows * (size_t)S->n;
    memset(B->dense, 0, sizeof(double) * size);
    for (altdiff_int j = 0; j < S->n; j++)
        for (altdiff_int t = S->p[j]; t < S->p[j + 1]; t++)
            B->dense[(size_t)j * rows + (size_t)S->i[t]] = x[t];
}

void ad_block_free(ad_block *B)
{
    if (B->own) ad_free(B->dense);
    B->dense = NULL;
    B->own = 0;
}

void ad_block_mul(const ad_block *B, const double *x, double *y)
{
    if (!B->dense) {
        ad_gaxpy(B->S, x, y);
        return;
    }
    int m = (int)B->S->m, n = (int)B->S->n, one = 1;
    double d1 = 1;
    dgemv_("N", &m, &n, &d1, B->dense, &m, x, &one, &d1, y, &one); /* y += M x */
}

void ad_block_mul_t(const ad_block *B, const double *y, double *x)
{
    if (!B->dense) {
        ad_gatxpy(B->S, y, x);
        return;
    }
    int m = (int)B->S->m, n = (int)B->S->n, one = 1;
    double d1 = 1;
    dgemv_("T", &m, &n, &d1, B->dense, &m, y, &one, &d1, x, &one); /* x += M'y */
}

void ad_block_mul_cols(const ad_block *B, const double *X, altdiff_int d, double *Y)
{
    altdiff_int rows = B->S->m, n = B->S->n;
    if (!B->dense || d > INT_MAX) {
        for (altdiff_int c = 0; c < d; c++) ad_block_mul(B, X + c * n, Y + c * rows);
        return;
    }
    int m = (int)rows, nn = (int)n, dd = (int)d;
    double d1 = 1;
    dgemm_("N", "N", &m, &dd, &nn, &d1, B->dense, &m, X, &nn, &d1, Y, &m); /* Y += M X */
}

void ad_block_mul_t_cols(const ad_block *B, const double *Y, altdiff_int d, double *X)
{
    altdiff_int rows = B->S->m, n = B->S->n;
    if (!B->dense || d > INT_MAX) {
        for (altdiff_int c = 0; c < d; c++) ad_block_mul_t(B, Y + c * rows, X + c * n);
        return;
    }
    int m = (int)rows, nn = (int)n, dd = (int)d;
    double d1 = 1;
    dgemm_("T", "N", &nn, &dd, &m, &d1, B->dense, &m, Y, &m, &d1, X, &nn); /* X += M'Y */
}

int ad_upper_full(const cs_dl *P)
{
    return P->n > 0 && P->n <= INT_MAX && ad_full(P, 1); /* DSPMV's int sizes */
}

void ad_sym_mul(const cs_dl *P, const double *x, double *y)
{
    if (!ad_upper_full(P)) {
        ad_symv_upper(P, x, y);
        return;
    }
    int n = (int)P->n, one = 1;
    double d1 = 1;
    dspmv_("U", &n, &d1, P->x, x, &one, &d1, y, &one); /* y += P x (packed upper) */
}
