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

#include "ad_internal.h"

#define AD_KKT_DELTA 1e-9      /* d = AD_KKT_DELTA (1 + max |K_ij|)          */
#define AD_KKT_REFINE_MAX 10   /* refinement steps at most                   */
#define AD_KKT_REFINE_TOL 1e-14 /* stop at |rhs - K u| <= tol |rhs| (inf)    */
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
    cholmod_dense *X, *Y, *E; /* persistent workspaces of cholmod_l_solve2   */
    double *rhs, *u, *r;   /* N: right-hand side, solution, residual         */
    double residual;       /* relative residual of the last solve            */
    altdiff_int refine;    /* refinement steps of the last solve             */
    int analyze_only;      /* ad_kkt_estimate: stop after the analysis       */
    /* the augmented-Lagrangian inner solve (al = 1) */
    int al;
    const ad_model *md;    /* scaling and the factor of H                    */
    const ad_state *st;    /* the solution                                   */
    cholmod_factor *LM;    /* LL' of M with H's symbolic analysis            */
    double *Mx;            /* values of M on the pattern of H                */
    cs_dl *Ct;             /* C~' (n x (m + nJ)): the rows of C~ as columns  */
    double *xs, *ys, *t, *cy; /* n, m + nJ, n, m + nJ: scaled unknowns, scratch */
    double *du;            /* N: the inner solution (original units)         */
};

/* ---- CHOLMOD glue ---------------------------------------------------------- */

/* Map CHOLMOD's status after a failed call to an altdiff code */
static int cholmod_fail(const cholmod_common *cm)
{
    if (cm->status == CHOLMOD_OUT_OF_MEMORY) return ALTDIFF_ERR_NOMEM;
    if (cm->status == CHOLMOD_NOT_POSDEF) return ALTDIFF_ERR_NOT_POSDEF;
    return ALTDIFF_ERR_CHOLMOD;
}

/* A CHOLMOD view (no copy) of the upper triangle of K with values x */
static cholmod_sparse view_upper(const cs_dl *K, double *x)
{
    cholmod_sparse V = ad_cholmod_view(K, 1);
    V.x = x;
    return V;
}

/* K->X = L \ b (b: len), with the persistent workspaces: no allocation.
 * CHOLMOD's simplicial solve asks for Y as 4 x len (d = 4) and leaves it
 * reshaped to 1 x len; cholmod_l_ensure_dense would then reallocate it on
 * every call, so its shape is restored first (the storage is kept). */
static int solve_with(ad_kkt *K, cholmod_factor *L, double *b, altdiff_int len)
{
    if (!L->is_super && K->Y && K->Y->nzmax >= 4 * (size_t)len) {
        K->Y->nrow = K->Y->d = 4;
        K->Y->ncol = (size_t)len;
    }
    cholmod_dense B;
    memset(&B, 0, sizeof(B));
    B.nrow = B.nzmax = B.d = (size_t)len;
    B.ncol = 1;
    B.x = b;
    B.xtype = CHOLMOD_REAL;
    B.dtype = CHOLMOD_DOUBLE;
    if (!cholmod_l_solve2(CHOLMOD_A, L, &B, NULL, &K->X, NULL, &K->Y, &K->E, &K->cm))
        return cholmod_fail(&K->cm);
    return ALTDIFF_OK;
}

/* K->X = Kd \ b (b: N) */
static int factor_solve(ad_kkt *K, double *b) { return solve_with(K, K->L, b, K->N); }

/* ---- the augmented-Lagrangian inner solve ----------------------------------- */

/* x = M \ x (the factor of M) */
static int m_solve(ad_kkt *K, double *x)
{
    int status = solve_with(K, K->LM, x, K->n);
    if (status == ALTDIFF_OK) ad_copy(x, K->X->x, K->n);
    return status;
}

/* du ~= K \ r: scale r, multiplier steps on the scaled system, unscale.
 * With a = c D r_x, b = E_C r_c:  x~ = M \ (a + rho C~'b - C~'y + sigma x~),
 * y += rho (C~ x~ - b), until C~ x~ = b to rounding (or no more progress);
 * then x = D x~, y_C = E_C y~ / c. */
static int al_solve(ad_kkt *K, const double *r)
{
    const ad_model *md = K->md;
    altdiff_int n = K->n, m = K->m, nc = m + K->nJ;
    double rho = AD_KKT_AL_RHO, sigma = md->F.sigma, *b = K->du + n, prev = INFINITY;
    for (altdiff_int j = 0; j < n; j++) K->du[j] = md->sc.c * md->sc.D[j] * r[j];   /* a */
    for (altdiff_int i = 0; i < m; i++) b[i] = md->sc.E[i] * r[n + i];           /* b */
    for (altdiff_int k = 0; k < K->nJ; k++) b[m + k] = md->sc.E[m + K->J[k]] * r[n + m + k];
    double scale = ad_max(ad_nrm_inf(K->du, n), ad_nrm_inf(b, nc));
    ad_fill(K->xs, 0, n);
    ad_fill(K->ys, 0, nc);
    for (int it = 0; it < AD_KKT_AL_STEPS && scale > 0; it++) {
        for (altdiff_int i = 0; i < nc; i++) K->cy[i] = rho * b[i] - K->ys[i];
        for (altdiff_int j = 0; j < n; j++) K->t[j] = K->du[j] + sigma * K->xs[j];
        ad_gaxpy(K->Ct, K->cy, K->t);        /* t = a + C~'(rho b - y) + sigma x~ */
        int status = m_solve(K, K->t);
        if (status != ALTDIFF_OK) return status;
        ad_copy(K->xs, K->t, n);             /* x~ = M \ t                        */
        for (altdiff_int i = 0; i < nc; i++) K->cy[i] = -b[i];
        ad_gatxpy(K->Ct, K->xs, K->cy);      /* cy = C~ x~ - b                    */
        ad_axpy(K->ys, rho, K->cy, nc);      /* y += rho (C~ x~ - b)              */
        double res = ad_nrm_inf(K->cy, nc);
        if (res <= 1e-15 * scale || res >= 0.5 * prev) break;
        prev = res;
    }
    for (altdiff_int j = 0; j < n; j++) K->du[j] = md->sc.D[j] * K->xs[j];          /* x */
    for (altdiff_int i = 0; i < m; i++) K->du[n + i] = md->sc.E[i] * K->ys[i] * md->sc.cinv;
    for (altdiff_int k = 0; k < K->nJ; k++)
        K->du[n + m + k] = md->sc.E[m + K->J[k]] * K->ys[m + k] * md->sc.cinv;
    return ALTDIFF_OK;
}

/* C~' = [A~' G~_J']: column i < m is row i of A~, column m + k row J[k] of G~
 * (Gt = G~') */
static int build_Ct(const ad_model *md, ad_kkt *K, const cs_dl *Gt)
{
    altdiff_int n = md->n, m = md->m;
    cs_dl *At = ad_transpose(md->A);
    altdiff_int nz = md->A->p[n];
    for (altdiff_int k = 0; k < K->nJ; k++) nz += Gt->p[K->J[k] + 1] - Gt->p[K->J[k]];
    if (At) K->Ct = ad_spalloc(n, m + K->nJ, nz);
    int status = K->Ct ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) {
        cs_dl *C = K->Ct;
        altdiff_int t = 0;
        for (altdiff_int c = 0; c < m + K->nJ; c++) {
            const cs_dl *S = c < m ? At : Gt;
            altdiff_int r = c < m ? c : K->J[c - m];
            C->p[c] = t;
            for (altdiff_int q = S->p[r]; q < S->p[r + 1]; q++, t++) {
                C->i[t] = S->i[q];
                C->x[t] = S->x[q];
            }
        }
        C->p[m + K->nJ] = t;
    }
    ad_spfree(At);
    return status;
}

/* Mx += scale v v' on the upper pattern of H, v sparse (indices sorted
 * ascending); H holds every such pair, the pattern of S~'S~ */
static void add_outer(const cholmod_sparse *H, double *Mx, const altdiff_int *idx,
                      const double *v, altdiff_int len, double scale)
{
    const altdiff_int *Hp = H->p, *Hi = H->i;
    for (altdiff_int b = 0; b < len; b++) {
        altdiff_int col = idx[b], t = Hp[col];
        for (altdiff_int a = 0; a <= b; a++) { /* rows idx[a] <= col, in order */
            while (Hi[t] < idx[a]) t++;
            Mx[t] += scale * v[a] * v[b];
        }
    }
}

void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc);

/* Mx += scale R'R on the full upper pattern of H (column j holds rows 0..j
 * from Hp[j]), R rows x n column-major: dgemm by blocks of AD_KKT_BLOCK
 * columns, T = R(:, 0:j1)' R(:, j0:j1) */
static int add_gram_dense(const cholmod_sparse *H, double *Mx, const double *R, altdiff_int rows,
                          altdiff_int n, double scale)
{
    const altdiff_int *Hp = H->p;
    double *T = ad_malloc((size_t)n * AD_KKT_BLOCK, sizeof(double)), zero = 0;
    if (!T) return ALTDIFF_ERR_NOMEM;
    for (altdiff_int j0 = 0; j0 < n && rows > 0; j0 += AD_KKT_BLOCK) {
        altdiff_int j1 = j0 + AD_KKT_BLOCK < n ? j0 + AD_KKT_BLOCK : n;
        int mm = (int)j1, nn = (int)(j1 - j0), kk = (int)rows;
        dgemm_("T", "N", &mm, &nn, &kk, &scale, R, &kk, R + (size_t)j0 * (size_t)rows, &kk, &zero,
               T, &mm);
        for (altdiff_int j = j0; j < j1; j++)
            for (altdiff_int i = 0; i <= j; i++) Mx[Hp[j] + i] += T[i + (j - j0) * j1];
    }
    ad_free(T);
    return ALTDIFF_OK;
}

/* Mx += scale (sum over the columns c of Rt with take[c]) r_c r_c', Rt
 * holding rows of C~ or G~ as columns: one outer product at a time on a
 * sparse H, one dense block product when H is full */
static int add_rows(const ad_model *md, double *Mx, const cs_dl *Rt, const unsigned char *take,
                    double scale)
{
    const cholmod_sparse *H = md->F.H;
    altdiff_int n = md->n, rows = 0;
    for (altdiff_int c = 0; c < Rt->n; c++) rows += take[c];
    if ((double)((const altdiff_int *)H->p)[n] < 0.5 * (double)n * (double)(n + 1)) {
        for (altdiff_int c = 0; c < Rt->n; c++)
            if (take[c])
                add_outer(H, Mx, Rt->i + Rt->p[c], Rt->x + Rt->p[c], Rt->p[c + 1] - Rt->p[c], scale);
        return ALTDIFF_OK;
    }
    double *R = ad_calloc((size_t)rows * (size_t)n, sizeof(double));
    if (!R) return ALTDIFF_ERR_NOMEM;
    for (altdiff_int c = 0, r = 0; c < Rt->n; c++) {
        if (!take[c]) continue;
        for (altdiff_int t = Rt->p[c]; t < Rt->p[c + 1]; t++)
            R[r + Rt->i[t] * rows] = Rt->x[t];
        r++;
    }
    int status = add_gram_dense(H, Mx, R, rows, n, scale);
    ad_free(R);
    return status;
}

/* Mx = HP + sigma I + rho C~'C~: either built from the rows of C~, or as
 * rho HS minus the inactive rows, whichever adds fewer products. take:
 * scratch of max(m + nJ, p) flags */
static int form_M(const ad_model *md, ad_kkt *K, const cs_dl *Gt, unsigned char *take)
{
    const ad_factor *F = &md->F;
    altdiff_int n = md->n, nz = ((const altdiff_int *)F->H->p)[n];
    double rho = AD_KKT_AL_RHO, in = 0, out = 0; /* products to add: rows in C, not in C */
    for (altdiff_int c = 0; c < K->Ct->n; c++) {
        double len = (double)(K->Ct->p[c + 1] - K->Ct->p[c]);
        in += len * len;
        if (c >= md->m) out -= len * len; /* an active row of G */
    }
    for (altdiff_int k = 0; k < md->p; k++) {
        double len = (double)(Gt->p[k + 1] - Gt->p[k]);
        out += len * len;
    }
    int subtract = out < in;
    for (altdiff_int t = 0; t < nz; t++) K->Mx[t] = F->HP[t] + (subtract ? rho * F->HS[t] : 0);
    for (altdiff_int j = 0; j < n; j++) K->Mx[F->diag[j]] += F->sigma;
    if (!subtract) {
        for (altdiff_int c = 0; c < K->Ct->n; c++) take[c] = 1;
        return add_rows(md, K->Mx, K->Ct, take, rho);
    }
    for (altdiff_int k = 0; k < md->p; k++) take[k] = 1; /* the inactive rows of G */
    for (altdiff_int k = 0; k < K->nJ; k++) take[K->J[k]] = 0;
    return add_rows(md, K->Mx, Gt, take, -rho);
}

/* Factor M with a copy of H's factor (symbolic analysis and type kept) */
static int factor_M(const ad_model *md, ad_kkt *K)
{
    cholmod_common *cm = &K->cm;
    K->LM = cholmod_l_copy_factor(md->F.L, cm);
    if (!K->LM) return cholmod_fail(cm);
    cholmod_sparse V = *md->F.H; /* the pattern of H with the values of M */
    V.x = K->Mx;
    if (!cholmod_l_factorize(&V, K->LM, cm) || cm->status < CHOLMOD_OK) return cholmod_fail(cm);
    if (cm->status == CHOLMOD_NOT_POSDEF || K->LM->minor < K->LM->n) return ALTDIFF_ERR_NOT_POSDEF;
    return ALTDIFF_OK;
}

/* Set up the augmented-Lagrangian inner solve; ALTDIFF_OK when it is ready */
static int al_setup(const ad_model *md, const ad_state *st, ad_kkt *K)
{
    altdiff_int n = md->n, nc = md->m + K->nJ;
    K->md = md;
    K->st = st;
    cs_dl *Gt = ad_transpose(md->G);
    int status = Gt ? build_Ct(md, K, Gt) : ALTDIFF_ERR_NOMEM;
    K->Mx = ad_malloc((size_t)((const altdiff_int *)md->F.H->p)[n], sizeof(double));
    K->xs = ad_malloc((size_t)n, sizeof(double));
    K->t = ad_malloc((size_t)n, sizeof(double));
    K->ys = ad_malloc((size_t)(nc > 0 ? nc : 1), sizeof(double));
    K->cy = ad_malloc((size_t)(nc > 0 ? nc : 1), sizeof(double));
    K->du = ad_malloc((size_t)K->N, sizeof(double));
    unsigned char *take = ad_malloc((size_t)(nc > md->p ? nc : md->p) + 1, 1);
    if (status == ALTDIFF_OK && (!K->Mx || !K->xs || !K->t || !K->ys || !K->cy || !K->du || !take))
        status = ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) status = form_M(md, K, Gt, take);
    if (status == ALTDIFF_OK) status = factor_M(md, K);
    ad_spfree(Gt);
    ad_free(take);
    return status;
}

/* Drop the augmented-Lagrangian solve (back to the LDL') */
static void al_free(ad_kkt *K)
{
    cholmod_l_free_factor(&K->LM, &K->cm);
    cholmod_l_free_dense(&K->X, &K->cm);
    cholmod_l_free_dense(&K->Y, &K->cm);
    cholmod_l_free_dense(&K->E, &K->cm);
    ad_spfree(K->Ct);
    void *arrays[] = {K->Mx, K->xs, K->ys, K->t, K->cy, K->du};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    K->Ct = NULL;
    K->Mx = K->xs = K->ys = K->t = K->cy = K->du = NULL;
    K->al = 0;
}

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

/* The upper triangle of K = [P A' G_J'; A 0 0; G_J 0 0] from P0x, A0x, G0x:
 * column j < n is column j of P (upper), column n + i is row i of A, column
 * n + m + k is row J[k] of G; every column ends with its diagonal */
static int assemble(const ad_model *md, ad_kkt *K)
{
    altdiff_int n = md->n, m = md->m, nz = 0;
    cs_dl Av = *md->A, Gv = *md->G; /* the patterns with the values as given */
    Av.x = md->A0x;
    Gv.x = md->G0x;
    cs_dl *At = ad_transpose(&Av), *Gt = ad_transpose(&Gv); /* sorted columns */
    if (At && Gt) K->K = ad_spalloc(K->N, K->N, kkt_nnz(md, K, Gt));
    int status = K->K ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) {
        cs_dl *C = K->K;
        for (altdiff_int j = 0; j < n; j++) /* P, diagonal last (sorted upper) */
            nz = put_column(C, j, nz, md->P->i, md->P0x, md->P->p[j], md->P->p[j + 1], 0);
        for (altdiff_int i = 0; i < m; i++) /* A' and 0 */
            nz = put_column(C, n + i, nz, At->i, At->x, At->p[i], At->p[i + 1], 0);
        for (altdiff_int k = 0; k < K->nJ; k++) { /* G_J' and 0 */
            altdiff_int r = K->J[k];
            nz = put_column(C, n + m + k, nz, Gt->i, Gt->x, Gt->p[r], Gt->p[r + 1], 0);
        }
        C->p[K->N] = nz;
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
    if (!K->L) return cholmod_fail(cm);
    if (K->analyze_only) return ALTDIFF_OK; /* cm->fl, cm->lnz: the predicted cost */
    if (!cholmod_l_factorize(&V, K->L, cm) || cm->status < CHOLMOD_OK)
        return cholmod_fail(cm);
    if (cm->status == CHOLMOD_NOT_POSDEF || K->L->minor < K->L->n)
        return ALTDIFF_ERR_NOT_POSDEF; /* a zero pivot */
    ad_fill(K->rhs, 0, K->N);
    return factor_solve(K, K->rhs); /* allocates X, Y, E once */
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
    if (!K->Kdx || !K->rhs || !K->u || !K->r) return ALTDIFF_ERR_NOMEM;
    if (!K->analyze_only && md->F.lr.k == 0) {
        status = al_setup(md, st, K);
        if (status == ALTDIFF_OK) {
            K->al = 1;
            return ALTDIFF_OK;
        }
        if (status == ALTDIFF_ERR_NOMEM) return status;
    }
    al_free(K); /* not applicable, or M not positive definite: the LDL' */
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
        al_free(K);
        cholmod_l_free_factor(&K->L, cm);
        cholmod_l_free_dense(&K->X, cm);
        cholmod_l_free_dense(&K->Y, cm);
        cholmod_l_free_dense(&K->E, cm);
        cholmod_l_finish(cm);
    }
    ad_spfree(K->K);
    void *arrays[] = {K->J, K->Kdx, K->rhs, K->u, K->r};
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
        int status = K->al ? al_solve(K, K->r) : factor_solve(K, K->r);
        if (status != ALTDIFF_OK) return status;
        const double *du = K->al ? K->du : K->X->x;
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
    al_free(K);
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
