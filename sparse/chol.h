/*
 * chol.h: CHOLMOD glue shared by every factorization of the library (the
 * factor of H, the KKT matrices): views without copies, one mapping of
 * CHOLMOD's status, one factorize-and-check and one solve that allocates
 * nothing after its first call.
 */
#ifndef AD_CHOL_H
#define AD_CHOL_H

#include <cholmod.h>

#include "sp.h"

/* Persistent workspaces of cholmod_l_solve2 (NULL until the first solve),
 * and Z (zlen doubles, NULL until needed): the caller's scratch for a
 * low-rank correction of the solve (factor.h) */
typedef struct {
    cholmod_dense *X, *Y, *E;
    double *Z;
    size_t zlen;
} ad_solve_work;

cholmod_sparse ad_cholmod_view(const cs_dl *A, int stype); /* no copy; 1 = upper */
/* ALTDIFF_OK, or the error CHOLMOD's status stands for (a failed call whose
 * status is OK is ALTDIFF_ERR_CHOLMOD when failed = 1) */
int ad_cholmod_code(const cholmod_common *cm, int failed);
/* Numeric factorization of A into L; definite = 1 also rejects a zero or
 * negative pivot of an LDL' (CHOLMOD's LDL' accepts negative pivots):
 * ALTDIFF_ERR_NOT_POSDEF */
int ad_cholmod_factorize(cholmod_sparse *A, cholmod_factor *L, int definite,
                         cholmod_common *cm);
/* B = A \ B for d columns of length n (column-major) with the factor L */
int ad_cholmod_solve(cholmod_factor *L, double *B, altdiff_int n, altdiff_int d,
                     ad_solve_work *ws, cholmod_common *cm);
void ad_solve_work_free(ad_solve_work *ws, cholmod_common *cm);

#endif /* AD_CHOL_H */
