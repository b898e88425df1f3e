/* dense.c: small dense kernels (column-major): Cholesky of a k x k SPD
 * matrix, k at most a few dozen (Anderson memory, dense rows kept out of H) */
#include <math.h>

#include "sp.h"

/* L = chol(M + reg I), lower, k x k with leading dimension k; M is read
 * with leading dimension ldm and may be L itself (in place). 0 if M + reg I
 * is not numerically positive definite. */
int ad_dense_chol(const double *M, altdiff_int ldm, altdiff_int k, double reg, double *L)
{
    for (altdiff_int j = 0; j < k; j++)
        for (altdiff_int i = j; i < k; i++) {
            double v = M[i + j * ldm] + (i == j ? reg : 0);
            for (altdiff_int t = 0; t < j; t++) v -= L[i + t * k] * L[j + t * k];
            if (i == j) {
                if (!(v > 0)) return 0;
                L[j + j * k] = sqrt(v);           /* L_jj = sqrt(M_jj - sum L_jt^2)   */
            } else {
                L[i + j * k] = v / L[j + j * k];  /* L_ij = (M_ij - sum L_it L_jt) / L_jj */
            }
        }
    return 1;
}

/* z = (L L')^-1 z for the factor of ad_dense_chol */
void ad_dense_chol_solve(const double *L, altdiff_int k, double *z)
{
    for (altdiff_int i = 0; i < k; i++) { /* L y = z */
        for (altdiff_int t = 0; t < i; t++) z[i] -= L[i + t * k] * z[t];
        z[i] /= L[i + i * k];
    }
    for (altdiff_int i = k - 1; i >= 0; i--) { /* L' z = y */
        for (altdiff_int t = i + 1; t < k; t++) z[i] -= L[t + i * k] * z[t];
        z[i] /= L[i + i * k];
    }
}
