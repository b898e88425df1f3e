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
#include <math.h>

#include "ad_internal.h"

#define AD_DENSE_ROW_MIN 64   /* a row is dense with more than max(this,     */
#define AD_DENSE_ROW_SQRT 10  /*   this * sqrt(n)) entries                   */
#define AD_DENSE_ROW_MAX_K 64 /* split at most this many rows off            */

/* Count the entries of every row of S = [A; G] into cnt (m + p) */
static void row_counts(const altdiff_work *w, altdiff_int *cnt)
{
    for (altdiff_int i = 0; i < w->m + w->p; i++) cnt[i] = 0;
    for (altdiff_int t = 0; t < w->A->p[w->n]; t++) cnt[w->A->i[t]]++;
    for (altdiff_int t = 0; t < w->G->p[w->n]; t++) cnt[w->m + w->G->i[t]]++;
}

/* Decide which rows are dense; allocate U, W, C, wk for them. F->k = 0 (and
 * nothing allocated) when there are none or too many to split off. */
int ad_lowrank_detect(altdiff_work *w)
{
    ad_factor *F = &w->F;
    altdiff_int rows = w->m + w->p, k = 0;
    double limit = fmax(AD_DENSE_ROW_MIN, AD_DENSE_ROW_SQRT * sqrt((double)w->n));
    altdiff_int *cnt = ad_malloc((size_t)rows, sizeof(altdiff_int));
    if (!cnt) return ALTDIFF_ERR_NOMEM;
    row_counts(w, cnt);
    for (altdiff_int i = 0; i < rows; i++) k += (double)cnt[i] > limit;
    F->k = (k <= AD_DENSE_ROW_MAX_K) ? k : 0;
    int status = ALTDIFF_OK;
    if (F->k > 0) {
        size_t nk = (size_t)(w->n * F->k);
        F->dense_row = ad_calloc((size_t)rows, 1);
        F->drow = ad_malloc((size_t)F->k, sizeof(altdiff_int));
        F->U = ad_calloc(nk, sizeof(double));
        F->W = ad_malloc(nk, sizeof(double));
        F->C = ad_malloc((size_t)(F->k * F->k), sizeof(double));
        F->wk = ad_malloc((size_t)F->k, sizeof(double));
        F->wk_idx = ad_malloc((size_t)rows, sizeof(altdiff_int));
        status = (F->dense_row && F->drow && F->U && F->W && F->C && F->wk && F->wk_idx)
                     ? ALTDIFF_OK
                     : ALTDIFF_ERR_NOMEM;
        for (altdiff_int i = 0, j = 0; status == ALTDIFF_OK && i < rows; i++)
            if ((double)cnt[i] > limit) {
                F->dense_row[i] = 1;
                F->drow[j++] = i;
            }
    }
    ad_free(cnt);
    return status;
}

/* U(:, j) = row drow[j] of S (scaled values) */
void ad_lowrank_fill_U(altdiff_work *w)
{
    ad_factor *F = &w->F;
    altdiff_int n = w->n, m = w->m;
    if (F->k == 0) return;
    altdiff_int *col = F->wk_idx;
    for (altdiff_int i = 0; i < m + w->p; i++) col[i] = -1;
    for (altdiff_int j = 0; j < F->k; j++) col[F->drow[j]] = j;
    ad_fill(F->U, 0, n * F->k);
    for (altdiff_int jj = 0; jj < n; jj++) {
        for (altdiff_int t = w->A->p[jj]; t < w->A->p[jj + 1]; t++)
            if (col[w->A->i[t]] >= 0) F->U[jj + col[w->A->i[t]] * n] = w->A->x[t];
        for (altdiff_int t = w->G->p[jj]; t < w->G->p[jj + 1]; t++)
            if (col[m + w->G->i[t]] >= 0) F->U[jj + col[m + w->G->i[t]] * n] = w->G->x[t];
    }
}

/* In-place Cholesky C = L L' of a k x k SPD matrix (lower part used) */
static int dense_cholesky(double *C, altdiff_int k)
{
    for (altdiff_int j = 0; j < k; j++) {
        double d = C[j + j * k];
        for (altdiff_int l = 0; l < j; l++) d -= C[j + l * k] * C[j + l * k];
        if (!(d > 0)) return ALTDIFF_ERR_NOT_POSDEF;
        C[j + j * k] = sqrt(d);
        for (altdiff_int i = j + 1; i < k; i++) {
            double t = C[i + j * k];
            for (altdiff_int l = 0; l < j; l++) t -= C[i + l * k] * C[j + l * k];
            C[i + j * k] = t / C[j + j * k];
        }
    }
    return ALTDIFF_OK;
}

/* z = C^-1 z with the Cholesky factor in C */
static void cholesky_solve(const double *C, altdiff_int k, double *z)
{
    for (altdiff_int i = 0; i < k; i++) { /* L y = z */
        for (altdiff_int l = 0; l < i; l++) z[i] -= C[i + l * k] * z[l];
        z[i] /= C[i + i * k];
    }
    for (altdiff_int i = k - 1; i >= 0; i--) { /* L' z = y */
        for (altdiff_int l = i + 1; l < k; l++) z[i] -= C[l + i * k] * z[l];
        z[i] /= C[i + i * k];
    }
}

/* After Hs was factored at rho: W = Hs^-1 U, C = I/rho + U'W, C = L L' */
int ad_lowrank_update(altdiff_work *w, double rho)
{
    ad_factor *F = &w->F;
    altdiff_int n = w->n, k = F->k;
    if (k == 0) return ALTDIFF_OK;
    ad_copy(F->W, F->U, n * k);
    cholmod_dense *Xw = NULL, *Yw = NULL, *Ew = NULL;
    int status = ad_factor_sparse_solve(w, F->W, k, &Xw, &Yw, &Ew); /* W = Hs \ U */
    cholmod_l_free_dense(&Xw, &F->cm);
    cholmod_l_free_dense(&Yw, &F->cm);
    cholmod_l_free_dense(&Ew, &F->cm);
    if (status != ALTDIFF_OK) return status;
    for (altdiff_int j = 0; j < k; j++)
        for (altdiff_int i = j; i < k; i++) /* C = I/rho + U'W (lower part) */
            F->C[i + j * k] = ad_dot(F->U + i * n, F->W + j * n, n) + (i == j ? 1 / rho : 0);
    return dense_cholesky(F->C, k);
}

/* y <- y - W C^-1 U'y  (y = Hs^-1 r on entry, H^-1 r on exit) */
void ad_lowrank_apply(const altdiff_work *w, double *y)
{
    const ad_factor *F = &w->F;
    altdiff_int n = w->n, k = F->k;
    if (k == 0) return;
    for (altdiff_int j = 0; j < k; j++) F->wk[j] = ad_dot(F->U + j * n, y, n); /* U'y */
    cholesky_solve(F->C, k, F->wk);                                           /* C^-1 */
    for (altdiff_int j = 0; j < k; j++) ad_axpy(y, -F->wk[j], F->W + j * n, n); /* -W z */
}

void ad_lowrank_free(ad_factor *F)
{
    F->dense_row = ad_free(F->dense_row);
    F->drow = ad_free(F->drow);
    F->U = ad_free(F->U);
    F->W = ad_free(F->W);
    F->C = ad_free(F->C);
    F->wk = ad_free(F->wk);
    F->wk_idx = ad_free(F->wk_idx);
    F->k = 0;
}
