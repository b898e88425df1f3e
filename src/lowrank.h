/*
 * lowrank.h: the dense rows of S = [A; G] kept out of the sparse factor of H
 * and applied by the Woodbury identity (lowrank.c; used by factor.c only).
 */
#ifndef AD_LOWRANK_H
#define AD_LOWRANK_H

#include "sp.h"

/* Dense rows of S kept out of the factor (lowrank.c), by the Woodbury
 * identity: H = Hs + rho U U', U (n x k) the dense rows as columns,
 *     H^-1 y = Hs^-1 y - W C^-1 U' Hs^-1 y,  W = Hs^-1 U,  C = I/rho + U'W */
typedef struct {
    altdiff_int k;         /* number of dense rows (0: none split off)       */
    altdiff_int n, rows;   /* n; rows of S (m + p)                          */
    unsigned char *dense_row; /* rows flags                                  */
    altdiff_int *drow;     /* k: their rows in S                             */
    double *U, *W, *C;     /* n x k, n x k, k x k (Cholesky factor of C)     */
    altdiff_int *col_of_row; /* rows: the column of U holding row i, or -1   */
} ad_lowrank;

int ad_lowrank_detect(ad_lowrank *lr, const cs_dl *A, const cs_dl *G);
/* U = the dense rows of R^1/2 S as columns (the rows of A times sqrt(w)) */
void ad_lowrank_fill_U(ad_lowrank *lr, const cs_dl *A, const cs_dl *G, double w);
int ad_lowrank_set(ad_lowrank *lr, double rho); /* C from U and W = Hs \ U */
/* Y = H^-1 Y from Hs^-1 Y for d columns (n x d); Z: k x d scratch */
void ad_lowrank_apply_block(const ad_lowrank *lr, double *Y, altdiff_int d, double *Z);
void ad_lowrank_free(ad_lowrank *lr);

#endif /* AD_LOWRANK_H */
