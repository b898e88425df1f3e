/*
 * kkt.c: exact implicit differentiation of the KKT conditions (doc/MATH.md,
 * "Exact reference"), in original units. With the active set
 * J = { kept rows k : nu_k > 0 } and C = [A; G_J], the solution map is
 * differentiated through (J in active_set: nu_k > s_k, see there)
 *
 *     K = [ P  C' ]     K (dx, dlam, dnu_J) = (-dq, db, dh_J)      (forward)
 *         [ C  0  ]     K u = (wx, 0, 0),  gq = -u_x, gb = u_lam,  (reverse)
 *                                          (gh)_J = u_nu, 0 elsewhere
 *
 * K is symmetric and indefinite. CHOLMOD factors the quasi-definite
 * regularization Kd = [P + dI, C'; C, -dI] as a simplicial LDL' (no pivoting
 * is needed for a quasi-definite matrix, so CHOLMOD's fill-reducing ordering
 * is kept), and every solve is refined against the unregularized K:
 *
 *     u <- u + Kd \ (rhs - K u)
 *
 * which converges to K \ rhs when d ||K^-1|| < 1. Unknowns are ordered
 * (x (n), lam (m), nu_J (nJ)): N = n + m + nJ. Setup allocates everything;
 * the solves allocate nothing.
 *
 * When H has no dense rows split off, a faster inner solve replaces the
 * LDL': the augmented Lagrangian of the equality-constrained QP behind K, in
 * the scaled units of the workspace (P~ = c D P D, C~ = E_C C D),
 *
 *     M = P~ + rho_K C~'C~ + sigma I          (on the pattern of H: C~'C~ is
 *                                             part of S~'S~, so H's symbolic
 *                                             analysis and supernodal LL' serve)
 *     x <- M \ (a + rho_K C~'b - C~'y + sigma x),   y <- y + rho_K (C~ x - b)
 *
 * whose fixed point solves K~ (x, y) = (a, b) and whose error contracts by
 * 1 / (1 + rho_K mu), mu the eigenvalues of C~ (P~ + sigma I)^-1 C~'. The
 * same refinement against K surrounds it. If a solve ends with a relative
 * residual above AD_KKT_AL_PROBE (C with dependent rows and a right-hand side
 * outside the range of K), the LDL' above is built and used from then on.
 */
#include <math.h>
#include <string.h>

#include "kkt_system.h"

#define AD_KKT_DELTA 1e-9      /* d = AD_KKT_DELTA (1 + max |K_ij|)          */
#define AD_KKT_REFINE_MAX 10   /* refinement steps at most                   */
#define AD_KKT_REFINE_TOL 1e-14 /* stop at |rhs - K u| <= tol |rhs| (inf)    */

/* ---- CHOLMOD glue ---------------------------------------------------------- */


/* A CHOLMOD view (no copy) of the upper triangle of K with values x */
static cholmod_sparse view_upper(const cs_dl *K, double *x)
{
    cholmod_sparse V = ad_cholmod_view(K, 1);
    V.x = x;
    return V;
}

/* b = Kd \ b (b: N) */
static int factor_solve(ad_kkt *K, double *b) { return ad_kkt_solve_with(K, K->L, b, K->N); }

/* ---- setup ----------------------------------------------------------------- */

/* J = { k : nu_k > s_k } with nu_k = Eg_k nu~_k / c and s_k = s~_k / Eg_k
 * (original units). For a complementary pair (s_k nu_k = 0, both >= 0) this is
 * J = { nu_k > 0 }; it also classifies the rows the ADMM iterates leave with
 * s_k > 0 and a rounding-level nu_k = +-1e-17 (nu+ = nu + rho (Gx + s - h)
 * cancels only to rounding) as inactive, as they are. Counts the weakly
 * active rows: nu_k <= eps_dual and s_k <= eps_prim. */
static void active_set(const ad_model *md, const ad_state *st, ad_kkt *K, altdiff_deriv_info *info)
{
    altdiff_int m = md->m, nJ = 0, weak = 0;
    for (altdiff_int k = 0; k < md->p; k++) {
        double nu = md->sc.cinv * md->sc.E[m + k] * st->nu[k]; /* nu = Eg nu~ / c   */
        double s = md->sc.Einv[m + k] * st->s[k];          /* s = Eg^-1 s~      */
        if (nu > s) K->J[nJ++] = k;
        if (nu <= st->info.eps_dual && s <= st->info.eps_prim) weak++;
    }
    K->nJ = nJ;
    K->N = md->n + m + nJ;
    if (info) {
        info->active = nJ;
        info->weakly_active = weak;
    }
}

/* Number of stored entries of the upper triangle of K (diagonal included) */
static altdiff_int kkt_nnz(const ad_model *md, const ad_kkt *K, const cs_dl *Gt)
{
    altdiff_int n = md->n, *Pp = md->P->p, *Pi = md->P->i, nz = Pp[n] + md->A->p[n];
    for (altdiff_int j = 0; j < n; j++) /* a missing P_jj is stored as 0 */
        if (Pp[j + 1] == Pp[j] || Pi[Pp[j + 1] - 1] != j) nz++;
    for (altdiff_int k = 0; k < K->nJ; k++) nz += Gt->p[K->J[k] + 1] - Gt->p[K->J[k]];
    return nz + md->m + K->nJ; /* zero diagonal of the (2,2) block */
}

/* Column c of K: entries t0..t1-1 of (Mi, Mx), then the diagonal c with value
 * dg when the last entry is not already on it; returns the next free slot */
static altdiff_int put_column(cs_dl *C, altdiff_int c, altdiff_int nz, const altdiff_int *Mi,
                              const double *Mx, altdiff_int t0, altdiff_int t1, double dg)
{
    C->p[c] = nz;
    for (altdiff_int t = t0; t < t1; t++) {
        C->i[nz] = Mi[t];
        C->x[nz++] = Mx[t];
    }
    if (t1 == t0 || Mi[t1 - 1] != c) {
        C->i[nz] = c;
        C->x[nz++] = dg;
    }
    return nz;
}

/* Original units from scaled ones, in place on the upper triangle of K:
 * K_rc = K~_rc u_r u_c, with u = (D^-1, Ea^-1, Eg^-1 on J) and a further
 * 1/c on the P block (the given values to within round-off) */
static void unscale(const ad_model *md, const ad_kkt *K)
{
    const ad_scaling *sc = &md->sc;
    altdiff_int n = md->n, m = md->m;
    cs_dl *C = K->K;
    for (altdiff_int c = 0; c < K->N; c++) {
        double uc = c < n ? sc->cinv * sc->Dinv[c]
                          : sc->Einv[c < n + m ? c - n : m + K->J[c - n - m]];
        for (altdiff_int t = C->p[c]; t < C->p[c + 1]; t++) {
            altdiff_int r = C->i[t]; /* r < n unless on the (2,2) diagonal */
            if (r < n) C->x[t] *= uc * sc->Dinv[r];
        }
    }
}

/* The upper triangle of K = [P A' G_J'; A 0 0; G_J 0 0] in original units,
 * assembled from P~, A~, G~ and unscaled: column j < n is column j of P
 * (upper), column n + i is row i of A, column n + m + k is row J[k] of G;
 * every column ends with its diagonal */
static int assemble(const ad_model *md, ad_kkt *K)
{
    altdiff_int n = md->n, m = md->m, nz = 0;
    cs_dl *At = ad_transpose(md->A), *Gt = ad_transpose(md->G); /* sorted columns */
    if (At && Gt) K->K = ad_spalloc(K->N, K->N, kkt_nnz(md, K, Gt));
    int status = K->K ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) {
        cs_dl *C = K->K;
        for (altdiff_int j = 0; j < n; j++) /* P, diagonal last (sorted upper) */
            nz = put_column(C, j, nz, md->P->i, md->P->x, md->P->p[j], md->P->p[j + 1], 0);
        for (altdiff_int i = 0; i < m; i++) /* A' and 0 */
            nz = put_column(C, n + i, nz, At->i, At->x, At->p[i], At->p[i + 1], 0);
        for (altdiff_int k = 0; k < K->nJ; k++) { /* G_J' and 0 */
            altdiff_int r = K->J[k];
            nz = put_column(C, n + m + k, nz, Gt->i, Gt->x, Gt->p[r], Gt->p[r + 1], 0);
        }
        C->p[K->N] = nz;
        unscale(md, K);
    }
    ad_spfree(At);
    ad_spfree(Gt);
    return status;
}

/* Kd = K + diag(d I_n, -d I_{m+nJ}) with d = AD_KKT_DELTA (1 + max |K_ij|) */
static void regularize(ad_kkt *K)
{
    altdiff_int N = K->N, *Kp = K->K->p, nz = Kp[N];
    double *Kx = K->K->x, *Kdx = K->Kdx;
    K->d = AD_KKT_DELTA * (1 + ad_nrm_inf(Kx, nz));
    ad_copy(Kdx, Kx, nz);
    for (altdiff_int j = 0; j < N; j++) /* diagonal: last in column j */
        Kdx[Kp[j + 1] - 1] += j < K->n ? K->d : -K->d;
}

/* Analyze and factor Kd as a simplicial LDL' (CHOLMOD's ordering), check the
 * pivots, and warm up the solve workspaces */
static int factor(ad_kkt *K)
{
    cholmod_common *cm = &K->cm;
    cm->print = 0;
    cm->supernodal = CHOLMOD_SIMPLICIAL; /* supernodal is LL' only          */
    cm->final_ll = 0;                    /* keep LDL': Kd is indefinite     */
    cholmod_sparse V = view_upper(K->K, K->Kdx);
    K->L = cholmod_l_analyze(&V, cm);
    if (!K->L) return ad_cholmod_code(cm, 1);
    if (K->analyze_only) return ALTDIFF_OK; /* cm->fl, cm->lnz: the predicted cost */
    int status = ad_cholmod_factorize(&V, K->L, 0, cm); /* indefinite: a zero pivot fails */
    if (status != ALTDIFF_OK) return status;
    ad_fill(K->rhs, 0, K->N);
    return factor_solve(K, K->rhs); /* allocates the solve workspaces once */
}

/* The regularized LDL' of K (after the augmented-Lagrangian solve, if any,
 * is dropped) */
static int ldl_setup(ad_kkt *K)
{
    regularize(K);
    return factor(K);
}

/* Everything but the struct itself; on failure the caller frees K */
static int kkt_build(const ad_model *md, const ad_state *st, ad_kkt *K, altdiff_deriv_info *info)
{
    cholmod_l_start(&K->cm);
    K->cm_started = 1;
    K->cm.print = 0;
    K->n = md->n;
    K->m = md->m;
    K->p = md->p;
    K->J = ad_malloc((size_t)(md->p > 0 ? md->p : 1), sizeof(altdiff_int));
    if (!K->J) return ALTDIFF_ERR_NOMEM;
    active_set(md, st, K, info);
    int status = assemble(md, K);
    if (status != ALTDIFF_OK) return status;
    size_t N = (size_t)K->N;
    K->Kdx = ad_malloc((size_t)K->K->p[K->N], sizeof(double));
    K->rhs = ad_malloc(N, sizeof(double));
    K->u = ad_malloc(N, sizeof(double));
    K->r = ad_malloc(N, sizeof(double));
    K->step = ad_malloc(N, sizeof(double));
    if (!K->Kdx || !K->rhs || !K->u || !K->r || !K->step) return ALTDIFF_ERR_NOMEM;
    if (!K->analyze_only && md->F.lr.k == 0) {
        status = ad_kkt_al_setup(md, K);
        if (status == ALTDIFF_OK) {
            K->al = 1;
            return ALTDIFF_OK;
        }
        if (status == ALTDIFF_ERR_NOMEM) return status;
    }
    ad_kkt_al_free(K); /* not applicable, or M not positive definite: the LDL' */
    return ldl_setup(K);
}

int ad_kkt_setup(const ad_model *md, const ad_state *st, ad_kkt **Kout, altdiff_deriv_info *info)
{
    if (!Kout) return ALTDIFF_ERR_INVALID;
    *Kout = NULL;
    if (!md) return ALTDIFF_ERR_INVALID;
    ad_kkt *K = ad_calloc(1, sizeof(ad_kkt));
    if (!K) return ALTDIFF_ERR_NOMEM;
    int status = kkt_build(md, st, K, info);
    if (status != ALTDIFF_OK) K = ad_kkt_free(K);
    *Kout = K;
    return status;
}

/* The flops and nnz(L) CHOLMOD predicts for the LDL' of the KKT matrix at
 * the current solution: assembly and symbolic analysis only */
int ad_kkt_estimate(const ad_model *md, const ad_state *st, double *fl, double *lnz)
{
    altdiff_deriv_info info;
    ad_kkt *K = ad_calloc(1, sizeof(ad_kkt));
    if (!K) return ALTDIFF_ERR_NOMEM;
    K->analyze_only = 1;
    int status = kkt_build(md, st, K, &info);
    *fl = K->cm.fl;
    *lnz = K->cm.lnz;
    ad_kkt_free(K);
    return status;
}

ad_kkt *ad_kkt_free(ad_kkt *K)
{
    if (!K) return NULL;
    if (K->cm_started) {
        cholmod_common *cm = &K->cm;
        ad_kkt_al_free(K);
        cholmod_l_free_factor(&K->L, cm);
        ad_solve_work_free(&K->ws, cm);
        cholmod_l_finish(cm);
    }
    ad_spfree(K->K);
    void *arrays[] = {K->J, K->Kdx, K->rhs, K->u, K->r, K->step};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    return ad_free(K);
}

/* ---- solves ---------------------------------------------------------------- */

/* r = rhs - K u; returns |r|_inf */
static double residual(ad_kkt *K)
{
    altdiff_int N = K->N;
    ad_fill(K->r, 0, N);
    ad_symv_upper(K->K, K->u, K->r);                              /* r = K u       */
    for (altdiff_int i = 0; i < N; i++) K->r[i] = K->rhs[i] - K->r[i]; /* rhs - K u */
    return ad_nrm_inf(K->r, N);
}

/* u = K \ rhs by iterative refinement on the factor of Kd:
 *     u <- u + Kd \ (rhs - K u)
 * until |rhs - K u| <= AD_KKT_REFINE_TOL |rhs|, or the residual stops
 * dropping (the last step is then undone), or AD_KKT_REFINE_MAX steps */
static int refined_solve(ad_kkt *K)
{
    altdiff_int N = K->N;
    double bnrm = ad_nrm_inf(K->rhs, N), prev = INFINITY;
    ad_fill(K->u, 0, N);
    ad_copy(K->r, K->rhs, N); /* r = rhs - K 0 */
    K->residual = 0;
    K->refine = 0;
    if (bnrm == 0) return ALTDIFF_OK; /* u = 0 */
    for (altdiff_int it = 0; it < AD_KKT_REFINE_MAX; it++) {
        if (!K->al) ad_copy(K->step, K->r, N);
        int status = K->al ? ad_kkt_al_solve(K, K->r) : factor_solve(K, K->step);
        if (status != ALTDIFF_OK) return status;
        const double *du = K->al ? K->du : K->step;
        ad_axpy(K->u, 1, du, N);              /* u += Kd \ r       */
        double res = residual(K) / bnrm;      /* |rhs - K u| / |rhs| */
        if (!(res < prev)) {                  /* stopped dropping  */
            ad_axpy(K->u, -1, du, N);         /* undo the step     */
            break;
        }
        prev = res;
        K->refine = it + 1;
        if (res <= AD_KKT_REFINE_TOL) break;
    }
    K->residual = prev;
    return isfinite(prev) ? ALTDIFF_OK : ALTDIFF_ERR_CHOLMOD; /* no finite step */
}

/* refined_solve, and when the augmented-Lagrangian steps leave a residual
 * above AD_KKT_AL_PROBE (dependent rows in C with a right-hand side outside
 * the range of K), the LDL' instead, from then on */
static int solve(ad_kkt *K)
{
    int status = refined_solve(K);
    if (status != ALTDIFF_OK || !K->al || K->residual <= AD_KKT_AL_PROBE) return status;
    ad_kkt_al_free(K);
    ad_copy(K->u, K->rhs, K->N); /* ldl_setup's warm-up solve overwrites rhs */
    status = ldl_setup(K);
    ad_copy(K->rhs, K->u, K->N);
    return status == ALTDIFF_OK ? refined_solve(K) : status;
}

/* Reverse mode: K u = (wx, 0, 0); gq = -u_x, gb = u_lam, (gh)_J = u_nu and
 * gh = 0 on the other kept rows (doc/MATH.md). wx: n; gq: n; gb: m; gh: p. */
int ad_kkt_vjp(ad_kkt *K, const double *wx, double *gq, double *gb, double *gh)
{
    if (!K || !wx) return ALTDIFF_ERR_INVALID;
    altdiff_int n = K->n, m = K->m;
    ad_copy(K->rhs, wx, n);           /* rhs = (wx, 0, 0) */
    ad_fill(K->rhs + n, 0, K->N - n);
    int status = solve(K);
    if (status != ALTDIFF_OK) return status;
    if (gq)
        for (altdiff_int j = 0; j < n; j++) gq[j] = -K->u[j]; /* gq = -u_x  */
    if (gb) ad_copy(gb, K->u + n, m);                        /* gb = u_lam */
    if (gh) {
        ad_fill(gh, 0, K->p);
        for (altdiff_int k = 0; k < K->nJ; k++) gh[K->J[k]] = K->u[n + m + k]; /* u_nu */
    }
    return ALTDIFF_OK;
}

/* Forward mode: K (dx, dlam, dnu_J) = (-dq, db, dh_J) (doc/MATH.md). dq: n;
 * db: m; dh: p kept rows (NULL = 0); dx: n. */
int ad_kkt_jvp(ad_kkt *K, const double *dq, const double *db, const double *dh, double *dx)
{
    if (!K || !dx) return ALTDIFF_ERR_INVALID;
    altdiff_int n = K->n, m = K->m;
    for (altdiff_int j = 0; j < n; j++) K->rhs[j] = dq ? -dq[j] : 0; /* -dq   */
    for (altdiff_int i = 0; i < m; i++) K->rhs[n + i] = db ? db[i] : 0; /* db */
    for (altdiff_int k = 0; k < K->nJ; k++) K->rhs[n + m + k] = dh ? dh[K->J[k]] : 0; /* dh_J */
    int status = solve(K);
    if (status == ALTDIFF_OK) ad_copy(dx, K->u, n); /* dx = u_x */
    return status;
}

/* A general right-hand side (solution polishing, polish.c):
 *     K (x, lam, nu_J) = (rx, rb, (rh)_J)
 * rx: n, rb: m, rh: p kept rows (NULL = 0); x (n), lam (m), nu (p kept rows,
 * 0 off J); *res (may be NULL): the relative residual |rhs - K u| / |rhs|
 * the refinement reached. */
int ad_kkt_solve_point(ad_kkt *K, const double *rx, const double *rb, const double *rh,
                       double *x, double *lam, double *nu, double *res)
{
    if (!K || !x || !lam || !nu) return ALTDIFF_ERR_INVALID;
    altdiff_int n = K->n, m = K->m;
    for (altdiff_int j = 0; j < n; j++) K->rhs[j] = rx ? rx[j] : 0;            /* rx     */
    for (altdiff_int i = 0; i < m; i++) K->rhs[n + i] = rb ? rb[i] : 0;        /* rb     */
    for (altdiff_int k = 0; k < K->nJ; k++) K->rhs[n + m + k] = rh ? rh[K->J[k]] : 0; /* rh_J */
    int status = solve(K);
    if (status != ALTDIFF_OK) return status;
    ad_copy(x, K->u, n);
    ad_copy(lam, K->u + n, m);
    ad_fill(nu, 0, K->p);
    for (altdiff_int k = 0; k < K->nJ; k++) nu[K->J[k]] = K->u[n + m + k];
    if (res) *res = K->residual;
    return ALTDIFF_OK;
}
