/*
 * kkt_system.h: the KKT system of the KKT mode and of polishing (private to
 * kkt.c and kkt_al.c): its struct and the augmented-Lagrangian inner solve.
 */
#ifndef AD_KKT_SYSTEM_H
#define AD_KKT_SYSTEM_H

#include "ad_internal.h"

#define AD_KKT_AL_RHO 1e6      /* rho_K, scaled units                        */
#define AD_KKT_AL_STEPS 30     /* multiplier steps per inner solve at most   */
#define AD_KKT_BLOCK 256       /* columns per dgemm block (dense M)          */
#define AD_KKT_AL_PROBE 1e-10  /* above this residual, fall back to the LDL'  */

struct ad_kkt {
    cholmod_common cm;     /* one per KKT system: no shared state            */
    int cm_started;
    altdiff_int n, m, p;   /* p: kept inequality rows                        */
    altdiff_int nJ, N;     /* active rows; N = n + m + nJ                    */
    altdiff_int *J;        /* nJ (allocated p): kept row of active row k     */
    cs_dl *K;              /* N x N upper triangle of K (unregularized), the
                              diagonal stored last in every column           */
    double *Kdx;           /* values of Kd on the pattern of K               */
    double d;              /* regularization                                 */
    cholmod_factor *L;     /* LDL' of Kd                                     */
    ad_solve_work ws;      /* persistent workspaces of cholmod_l_solve2     */
    double *rhs, *u, *r;   /* N: right-hand side, solution, residual         */
    double *step;          /* N: the LDL' refinement step Kd \ r             */
    double residual;       /* relative residual of the last solve            */
    altdiff_int refine;    /* refinement steps of the last solve             */
    int analyze_only;      /* ad_kkt_estimate: stop after the analysis       */
    /* the augmented-Lagrangian inner solve (al = 1) */
    int al;
    const ad_model *md;    /* scaling and the factor of H                    */
    cholmod_factor *LM;    /* LL' of M with H's symbolic analysis            */
    double *Mx;            /* values of M on the pattern of H (dense path:
                              n x n, then its factor in place)              */
    cs_dl *Ct;             /* C~' (n x (m + nJ)): the rows of C~ as columns  */
    double *xs, *ys, *t, *cy; /* n, m + nJ, n, m + nJ: scaled unknowns, scratch */
    double *gp;            /* p: all rows of G~ x (or of y's G~_J part) when
                              A~ and G~ have dense copies (products by BLAS),
                              else NULL (products on Ct)                     */
    double *du;            /* N: the inner solution (original units)         */
};


/* b = L \ b (b: len) with the persistent workspaces (no allocation after
 * the first): the substrate's solve helper on the KKT system's common */
static inline int ad_kkt_solve_with(ad_kkt *K, cholmod_factor *L, double *b, altdiff_int len)
{
    return ad_cholmod_solve(L, b, len, 1, &K->ws, &K->cm);
}

/* kkt_al.c: the augmented-Lagrangian inner solve on M = P~ + rho_K C~'C~ + sigma I */
int ad_kkt_al_setup(const ad_model *md, ad_kkt *K); /* ALTDIFF_OK when ready */
int ad_kkt_al_solve(ad_kkt *K, const double *r);     /* K->du ~= K \ r       */
void ad_kkt_al_free(ad_kkt *K);                      /* back to the LDL'     */

#endif /* AD_KKT_SYSTEM_H */
