/* costmodel.c: the derivative mode expected to be fastest (altdiff_fastest_mode) */
#include "ad_internal.h"

/* A flop model of the modes after a solve, to pick the fastest:
 *   one ADMM sweep   ad_sweep_flops (factor.c: the one sweep-cost model)
 *   GMRES VJP        about half the iterations of a plain forward solve, or
 *                    0.8 of an Anderson-accelerated one (a Krylov-like
 *                    method itself), at least 10; each a sweep plus the
 *                    orthogonalization (~15 vectors of n+m+p)
 *   Alt-Diff forward the same sweeps for each direction
 *   KKT              without dense rows split off (the augmented-Lagrangian
 *                    solve of kkt.c): a factorization of H's size, counted
 *                    twice (copy, forming M), ~20 solves per right-hand side
 *                    and AD_KKT_PER_ENTRY per stored entry of P, A, G for the
 *                    assembly; otherwise CHOLMOD's predicted flops for the
 *                    (simplicial) LDL' of the KKT matrix, from a symbolic
 *                    analysis, done only when the iterative estimate is large
 *                    enough for the analysis to be cheap beside it; then ~10
 *                    refined solves per right-hand side. */
#define AD_ANALYZE_KKT_ABOVE 2e8 /* flops of the iterative estimate */
#define AD_KKT_PER_ENTRY 300     /* flop-equivalents per stored entry of P, A,
                                    G: the assembly passes of the KKT mode */
#define AD_ITERATIVE_SPEEDUP 0.3 /* measured here: the sweeps (supernodal solves,
                                    BLAS) run ~3x more flops per second than
                                    the simplicial LDL' of the KKT matrix */

int ad_fastest_mode(const ad_model *md, const ad_state *st, altdiff_int columns)
{
    int iterative = columns > 0 ? ALTDIFF_MODE_ALTDIFF : ALTDIFF_MODE_GMRES;
    if (!md || st->info.status != ALTDIFF_SOLVED) return iterative;
    double share = st->info.aa_steps > 0 ? 0.8 : 0.5;
    double its = ad_max(10, share * (double)st->info.iter), sweep = ad_sweep_flops(&md->F, md->P, md->A, md->G);
    double N = (double)(md->n + md->m + md->p), d = (double)(columns > 1 ? columns : 1);
    double cost = columns > 0 ? d * its * sweep : its * (sweep + 60 * N);
    if (md->F.lr.k == 0) { /* KKT by the augmented Lagrangian on H's pattern */
        double nnz = (double)(md->P->p[md->n] + md->A->p[md->n] + md->G->p[md->n]);
        double fac = ad_factor_cost_in_sweeps(&md->F, md->P, md->A, md->G);
        double kkt = (2 * fac + 20 * d) * sweep + AD_KKT_PER_ENTRY * nnz;
        return cost < kkt ? iterative : ALTDIFF_MODE_KKT;
    }
    double fl = 0, lnz = 0;
    if (cost < AD_ANALYZE_KKT_ABOVE || ad_kkt_estimate(md, st, &fl, &lnz) != ALTDIFF_OK)
        return iterative;
    return AD_ITERATIVE_SPEEDUP * cost < fl + d * 40 * lnz ? iterative : ALTDIFF_MODE_KKT;
}

