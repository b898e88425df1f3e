/*
 * lowrank.c: a few dense rows of S = [A; G] (a budget row 1'x = 1 is the
 * common case) would make S'S, and so the factor of H, dense. They are kept
 * out of the sparse factor and applied by the Woodbury identity:
 *
 *     H = Hs + rho U U',     U = S_d' (n x k, the dense rows), Hs sparse
 *     H^-1 r = y - W C^-1 U'y,    y = Hs^-1 r,  W = Hs^-1 U,  C = I/rho + U'W
 *
 * so memory stays O(nnz + n k). W and the Cholesky factor of the k x k matrix
 * C are recomputed after every factorization of Hs (k extra solves).
 */
#include <limits.h>
#include <math.h>

#include "lowrank.h"
#include "blas.h"

#define AD_DENSE_ROW_MIN 64   /* a row is dense with more than max(this,     */
#define AD_DENSE_ROW_SQRT 10  /*   this * sqrt(n)) entries                   */
#define AD_DENSE_ROW_MAX_K 64 /* split at most this many rows off            */

/* cnt (m + p) = entries per row of S = [A; G] */
static void row_counts(const cs_dl *A, const cs_dl *G, altdiff_int *cnt)
{
    altdiff_int n = A->n, m = A->m;
    for (altdiff_int i = 0; i < m + G->m; i++) cnt[i] = 0;
    for (altdiff_int t = 0; t < A->p[n]; t++) cnt[A->i[t]]++;
    for (altdiff_int t = 0; t < G->p[n]; t++) cnt[m + G->i[t]]++;
}

/* Choose the dense rows (none when there are more than AD_DENSE_ROW_MAX_K)
 * and allocate U, W, C */
int ad_lowrank_detect(ad_lowrank *lr, const cs_dl *A, const cs_dl *G)
{
    altdiff_int rows = A->m + G->m, n = A->n, k = 0;
    double limit = fmax(AD_DENSE_ROW_MIN, AD_DENSE_ROW_SQRT * sqrt((double)n));
    altdiff_int *cnt = ad_malloc((size_t)rows, sizeof(altdiff_int));
    if (!cnt) return ALTDIFF_ERR_NOMEM;
    row_counts(A, G, cnt);
    for (altdiff_int i = 0; i < rows; i++) k += (double)cnt[i] > limit;
    lr->n = n;
    lr->rows = rows;
    lr->k = (k <= AD_DENSE_ROW_MAX_K && n <= INT_MAX) ? k : 0; /* n: BLAS's int */
    int status = ALTDIFF_OK;
    if (lr->k > 0) {
        size_t nk = (size_t)(n * lr->k);
        lr->dense_row = ad_calloc((size_t)rows, 1);
        lr->drow = ad_malloc((size_t)lr->k, sizeof(altdiff_int));
        lr->U = ad_calloc(nk, sizeof(double));
        lr->W = ad_malloc(nk, sizeof(double));
        lr->C = ad_malloc((size_t)(lr->k * lr->k), sizeof(double));
        lr->col_of_row = ad_malloc((size_t)rows, sizeof(altdiff_int));
        status = (lr->dense_row && lr->drow && lr->U && lr->W && lr->C &&
                  lr->col_of_row)
                     ? ALTDIFF_OK
                     : ALTDIFF_ERR_NOMEM;
        for (altdiff_int i = 0, j = 0; status == ALTDIFF_OK && i < rows; i++)
            if ((double)cnt[i] > limit) {
                lr->dense_row[i] = 1;
                lr->drow[j++] = i;
            }
    }
    ad_free(cnt);
    return status;
}

/* U = the dense rows of S = [A; G] as columns (n x k) */
void ad_lowrank_fill_U(ad_lowrank *lr, const cs_dl *A, const cs_dl *G, double w)
{
    altdiff_int n = lr->n, m = A->m, k = lr->k;
    if (k == 0) return;
    double rw = sqrt(w);
    altdiff_int *col = lr->col_of_row;
    for (altdiff_int i = 0; i < lr->rows; i++) col[i] = -1;
    for (altdiff_int j = 0; j < k; j++) col[lr->drow[j]] = j;
    ad_fill(lr->U, 0, n * k);
    for (altdiff_int j = 0; j < n; j++) {
        for (altdiff_int t = A->p[j]; t < A->p[j + 1]; t++)
            if (col[A->i[t]] >= 0) lr->U[j + col[A->i[t]] * n] = rw * A->x[t];
        for (altdiff_int t = G->p[j]; t < G->p[j + 1]; t++)
            if (col[m + G->i[t]] >= 0) lr->U[j + col[m + G->i[t]] * n] = G->x[t];
    }
}

/* With W = Hs \ U already computed: C = I/rho + U'W, then its Cholesky factor */
int ad_lowrank_set(ad_lowrank *lr, double rho)
{
    altdiff_int n = lr->n, k = lr->k;
    if (k == 0) return ALTDIFF_OK;
    for (altdiff_int j = 0; j < k; j++)
        for (altdiff_int i = j; i < k; i++) /* C = I/rho + U'W (lower part) */
            lr->C[i + j * k] = ad_dot(lr->U + i * n, lr->W + j * n, n) + (i == j ? 1 / rho : 0);
    return ad_dense_chol(lr->C, k, k, 0, lr->C) ? ALTDIFF_OK : ALTDIFF_ERR_NOT_POSDEF;
}

/* Y = H^-1 Y from Y = Hs^-1 Y, d columns at once:  Z = U'Y (DGEMM),
 * Z = C^-1 Z (k x k Cholesky, column by column),  Y -= W Z (DGEMM) */
void ad_lowrank_apply_block(const ad_lowrank *lr, double *Y, altdiff_int d, double *Z)
{
    altdiff_int k = lr->k;
    if (k == 0 || d == 0) return;
    for (; d > INT_MAX; d -= INT_MAX, Y += (size_t)INT_MAX * (size_t)lr->n) /* BLAS's int */
        ad_lowrank_apply_block(lr, Y, INT_MAX, Z);
    int n = (int)lr->n, kk = (int)k, dd = (int)d;
    double one = 1, zero = 0, mone = -1;
    dgemm_("T", "N", &kk, &dd, &n, &one, lr->U, &n, Y, &n, &zero, Z, &kk);   /* Z = U'Y   */
    for (altdiff_int c = 0; c < d; c++) ad_dense_chol_solve(lr->C, k, Z + c * k); /* C^-1 Z */
    dgemm_("N", "N", &n, &dd, &kk, &mone, lr->W, &n, Z, &kk, &one, Y, &n);   /* Y -= W Z  */
}

void ad_lowrank_free(ad_lowrank *lr)
{
    void *arrays[] = {lr->dense_row, lr->drow, lr->U, lr->W, lr->C, lr->col_of_row};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    lr->dense_row = NULL;
    lr->drow = lr->col_of_row = NULL;
    lr->U = lr->W = lr->C = NULL;
    lr->k = 0;
}
