/*
 * ad_fold.h: the one folded solve of the library (fold.c). Reverse mode of
 * ADMM (adjoint.c), the public fold API and its forward mode all reduce to
 *
 *     (I - M) u = r,       M an N x N operator given by its action,
 *
 * M = Phi' (transposed ADMM sweep), M = J_z' (a user's fixed-point map,
 * reverse) or M = J_z (forward). Kept out of ad_internal.h so that the
 * generic solve depends on nothing but the vector kernels.
 */
#ifndef AD_FOLD_H
#define AD_FOLD_H

#include "altdiff.h"

/* The operator M: apply(ctx, u, out) sets out = M u (u, out: N, distinct);
 * returns ALTDIFF_OK or an error code, which stops the solve. */
typedef struct {
    altdiff_int N;
    int (*apply)(void *ctx, const double *u, double *out);
    void *ctx;
} ad_fold_op;

/* Solve (I - M) u = r (r, u: N; r may not alias u):
 *   ds->mode GMRES: restarted GMRES (restart ds->restart) from u = 0, relative
 *     residual |r - (I - M) u|_2 / |r|_2 recomputed at the end;
 *   any other mode: the fixed-point iteration u <- M u + r from u = r, stopped
 *     when the estimated error |u* - u+|_inf <= eps |u+|_inf (the step times
 *     rho/(1 - rho) with the contraction rate rho estimated on the way; the
 *     step alone would stop a slowly contracting iteration far too early).
 * At most ds->max_iter applications of M in the iterations (plus one for the
 * final residual of GMRES). info->iter, residual and status (ALTDIFF_SOLVED,
 * ALTDIFF_MAX_ITER, or ALTDIFF_NUMERICAL_ERROR when NaN/Inf appeared) are
 * set; the other fields of info are left alone. All memory (N for the
 * fixed-point iteration, N (k + 1) + O(k^2) for GMRES, k = min(restart,
 * max_iter)) is allocated before the iterations. ds is trusted (checked by
 * the caller). Returns ALTDIFF_OK, ALTDIFF_ERR_NOMEM or the error of apply. */
int ad_fold_solve(const ad_fold_op *op, const altdiff_deriv_settings *ds, const double *r,
                  double *u, altdiff_deriv_info *info);

/* B operators M_e on vectors of one length N, applied together:
 * apply(ctx, idx, d, IN, OUT) sets OUT(:, c) = M_{idx[c]} IN(:, c) for the
 * d columns (N each, column-major) of the systems still running. */
typedef struct {
    altdiff_int N;
    int (*apply)(void *ctx, const altdiff_int *idx, altdiff_int d, const double *IN,
                 double *OUT);
    void *ctx;
} ad_fold_block_op;

/* Solve (I - M_e) u_e = r_e for e < B by restarted GMRES in lockstep (the
 * same method, stopping rule and info as ad_fold_solve's GMRES, per
 * system): each round applies the operators of the systems still running
 * once, together, so that their work can be done on blocks. R, U: N x B
 * (column e: system e); info: B entries. Memory: B GMRES spaces and two
 * N x B blocks, allocated before the iterations. */
int ad_fold_solve_many(const ad_fold_block_op *op, altdiff_int B,
                       const altdiff_deriv_settings *ds, const double *R, double *U,
                       altdiff_deriv_info *info);

/* The error estimate of a contracting iteration (see fold.c); *rate carries
 * the rate estimate between calls (start at 0) */
double ad_fixed_point_error(double change, double prev_change, double *rate);

#endif /* AD_FOLD_H */
