/* chol.c: CHOLMOD glue (chol.h) */
#include <string.h>

#include "chol.h"

cholmod_sparse ad_cholmod_view(const cs_dl *A, int stype)
{
    cholmod_sparse V;
    memset(&V, 0, sizeof(V));
    V.nrow = (size_t)A->m;
    V.ncol = (size_t)A->n;
    V.nzmax = (size_t)(A->p[A->n] > 0 ? A->p[A->n] : 1);
    V.p = A->p;
    V.i = A->i;
    V.x = A->x;
    V.stype = stype;
    V.itype = CHOLMOD_LONG;
    V.xtype = CHOLMOD_REAL;
    V.dtype = CHOLMOD_DOUBLE;
    V.sorted = 1;
    V.packed = 1;
    return V;
}

int ad_cholmod_code(const cholmod_common *cm, int failed)
{
    if (cm->status == CHOLMOD_OUT_OF_MEMORY) return ALTDIFF_ERR_NOMEM;
    if (cm->status == CHOLMOD_NOT_POSDEF) return ALTDIFF_ERR_NOT_POSDEF;
    return (cm->status < 0 || failed) ? ALTDIFF_ERR_CHOLMOD : ALTDIFF_OK;
}

/* 1 unless L is a simplicial LDL' factor with a pivot D_jj <= 0 */
static int ldl_positive(const cholmod_factor *L)
{
    if (L->is_super || L->is_ll) return 1;
    const altdiff_int *Lp = L->p;
    const double *Lx = L->x;
    for (size_t j = 0; j < L->n; j++)
        if (!(Lx[Lp[j]] > 0)) return 0; /* D_jj is the first entry of column j */
    return 1;
}

int ad_cholmod_factorize(cholmod_sparse *A, cholmod_factor *L, int definite,
                         cholmod_common *cm)
{
    int ok = cholmod_l_factorize(A, L, cm);
    int status = ad_cholmod_code(cm, !ok);
    if (status == ALTDIFF_OK && (L->minor < L->n || (definite && !ldl_positive(L))))
        status = ALTDIFF_ERR_NOT_POSDEF; /* a zero (or, definite, negative) pivot */
    return status;
}

int ad_cholmod_solve(cholmod_factor *L, double *B, altdiff_int n, altdiff_int d,
                     ad_solve_work *ws, cholmod_common *cm)
{
    /* CHOLMOD's simplicial solve asks for Y as 4 x n (four columns of B at
     * a time) and leaves it reshaped, so the next call would reallocate it:
     * restore the shape (the storage is kept) so that repeated solves
     * allocate nothing. */
    if (!L->is_super && ws->Y && ws->Y->nzmax >= 4 * (size_t)n) {
        ws->Y->nrow = ws->Y->d = 4;
        ws->Y->ncol = (size_t)n;
    }
    cholmod_dense V;
    memset(&V, 0, sizeof(V));
    V.nrow = V.d = (size_t)n;
    V.ncol = (size_t)d;
    V.nzmax = (size_t)n * (size_t)d;
    V.x = B;
    V.xtype = CHOLMOD_REAL;
    V.dtype = CHOLMOD_DOUBLE;
    if (!cholmod_l_solve2(CHOLMOD_A, L, &V, NULL, &ws->X, NULL, &ws->Y, &ws->E, cm))
        return ad_cholmod_code(cm, 1);
    memcpy(B, ws->X->x, sizeof(double) * (size_t)n * (size_t)d);
    return ALTDIFF_OK;
}

void ad_solve_work_free(ad_solve_work *ws, cholmod_common *cm)
{
    cholmod_l_free_dense(&ws->X, cm);
    cholmod_l_free_dense(&ws->Y, cm);
    cholmod_l_free_dense(&ws->E, cm);
    ws->Z = ad_free(ws->Z);
    ws->zlen = 0;
}
