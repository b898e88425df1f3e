/*
 * factor.h: the factor of H = P + rho S'S + sigma I, S = [A; G] (scaled
 * data), with the dense rows of S kept out of it (doc/MATH.md section 3.8).
 * The component owns its CHOLMOD state and takes the matrices it needs; it
 * knows nothing of ADMM iterates. One factor serves any number of solves.
 * Two paths: sparse S (CHOLMOD: pattern of H, analysis, numeric factor) and
 * dense S (H in one n x n array, factored in place by LAPACK's DPOTRF).
 */
#ifndef AD_FACTOR_H
#define AD_FACTOR_H

#include "chol.h"
#include "lowrank.h"

/* The weight of the equality rows' penalty (rows of A in the factor; a
 * dense row kept out of it keeps rho, doc/MATH.md 3.1). H = P + rho S'RS,
 * the ADMM, forward, adjoint and Newton sweeps all use w rho on these rows;
 * the fixed point does not depend on w. */
#define AD_EQ_WEIGHT 1000.0

typedef struct {
    cholmod_common cm;     /* one per factor: factors are independent       */
    int cm_started;
    altdiff_int n;
    cholmod_sparse *H;     /* sparse path: upper triangle (stype 1)          */
    double *HP, *HS;       /* sparse path: values of P and of S'S on the
                              pattern of H                                   */
    const cs_dl *Pd;       /* the dense path's P (upper, scaled; borrowed)   */
    double *HR;            /* sparse path: values of S'RS, R = diag(w on the
                              rows of A, 1 on those of G), the penalty's part
                              of H, on the pattern of H                      */
    double eq_weight;      /* w: equality rows' penalty is w rho (0 = 1)     */
    altdiff_int *diag;     /* sparse path, n: position of H_jj in H->x        */
    cholmod_factor *L;     /* sparse path: CHOLMOD's factor                  */
    double *Hd;            /* dense path (else NULL; H, L, HP, HS, HR, diag
                              NULL): n x n column-major. Its upper triangle
                              holds S'RS (formed once by DSYRK), its lower
                              triangle H, then H's Cholesky factor L in place
                              (DPOTRF reads and writes the lower one only)   */
    double *SRd;           /* dense path: the diagonal of S'RS (n)           */
    ad_solve_work ws;      /* the solve workspaces of single solves          */
    double rho, sigma;     /* values H was last factored with               */
    ad_lowrank lr;
    const double *Ad, *Gd; /* dense copies of A, G (column-major, borrowed),
                              or NULL: S'S by dsyrk from them when dense    */
    double t_analyze;      /* seconds: symbolic analysis                     */
    double t_factor;       /* seconds: all numeric factorizations            */
    double mem_peak;       /* peak bytes held by CHOLMOD (dense path: Hd)    */
} ad_factor;

/* Form the pattern of H from P (upper), A, G, analyze, factor at rho, sigma */
int ad_factor_init(ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G, double rho,
                   double sigma);
/* F (zeroed) takes src's analysis for matrices of the same patterns (A, G:
 * the new ones): pattern of H, dense-row split, a copy of the analyzed L;
 * then ad_factor_values factors numerically. Never analyzes. */
int ad_factor_clone(ad_factor *F, const ad_factor *src, const cs_dl *A, const cs_dl *G);
int ad_factor_warm(ad_factor *F); /* allocate the solve workspaces now */
/* New values of P, A, G on the same patterns: HP, HS again, refactor */
int ad_factor_values(ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G);
/* HP from new values of P on its pattern (positions in H kept in Hpos,
 * nnz(P), filled on the first call); no refactorization */
int ad_factor_set_P(ad_factor *F, const cs_dl *P, altdiff_int **Hpos);
int ad_factor_refactor(ad_factor *F, double rho, double sigma); /* numeric only */
/* Mx += P: on the pattern of H from HP (sparse path), or scattered from Pd
 * into the lower triangle of an n x n column-major Mx (dense path) */
void ad_factor_add_P(const ad_factor *F, double *Mx);
int ad_factor_solve(ad_factor *F, double *x); /* x = H \ x, no allocation       */
/* X = H \ X for d columns (n x d) with the caller's solve workspaces */
int ad_factor_solve_block(ad_factor *F, double *X, altdiff_int d, ad_solve_work *ws);
/* X = Hs \ X: the sparse factor alone, without the dense-row correction */
int ad_factor_sparse_solve(ad_factor *F, double *X, altdiff_int d, ad_solve_work *ws);
/* y = S'RS v on the dense path (from Hd's upper triangle and SRd) */
void ad_factor_mul_SRS(const ad_factor *F, const double *v, double *y);
void ad_factor_free(ad_factor *F);

/* Dense Cholesky (the dense path's H, the KKT mode's M): M (n x n,
 * column-major, lower triangle) = L in place; ALTDIFF_ERR_NOT_POSDEF when M
 * is not positive definite (a pivot <= 0 or NaN) */
int ad_potrf(double *M, altdiff_int n);
/* X (n x d) = (L L')^-1 X with L from ad_potrf */
void ad_potrs(const double *L, altdiff_int n, double *X, altdiff_int d);

/* The cost model (named constants in factor.c): flops of one ADMM sweep with
 * this factor and data, and a numeric factorization's cost in sweeps */
double ad_sweep_flops(const ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G);
double ad_factor_cost_in_sweeps(const ad_factor *F, const cs_dl *P, const cs_dl *A,
                                const cs_dl *G);

#endif /* AD_FACTOR_H */
