/*
 * factor.c: H = P + rho S'S + sigma I  with S = [A; G] (scaled data).
 *
 * Sparse S: the pattern of H is formed and analyzed once (CHOLMOD chooses
 * AMD or METIS and supernodal or simplicial); the values of P and of S'S on
 * that pattern are kept apart (HP, HS), so a new rho or sigma costs one pass
 * over them and a numeric refactorization. Dense S: one n x n array holds
 * S'RS (by DSYRK, once) in its upper triangle, and each factorization
 * writes H into its lower triangle and factors it there with DPOTRF (no
 * pattern, no analysis, no second array of H's size).
 * Every solve with H in the library goes through ad_factor_solve, which
 * allocates nothing.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "factor.h"
#include "blas.h"

#define AD_DENSE_FRACTION 0.2 /* S this dense: S'S by BLAS                */
#define AD_DENSE_MAX_N 20000  /* and n x n doubles still affordable        */

/* The sweep-cost model: flops of one ADMM sweep */
#define AD_SWEEP_PER_LNZ 4    /* two triangular solves: 2 flops per entry each */
#define AD_SWEEP_PER_PNZ 2    /* one product with P (the residual checks)      */
#define AD_SWEEP_PER_SNZ 4    /* products with S and S'                        */
#define AD_SWEEP_PER_ROW 10   /* vector updates per entry of x, s, lam, nu     */

double ad_sweep_flops(const ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G)
{
    altdiff_int n = F->n;
    double snz = (double)(A->p[n] + G->p[n]);
    return AD_SWEEP_PER_LNZ * F->cm.lnz + AD_SWEEP_PER_PNZ * (double)P->p[n] +
           AD_SWEEP_PER_SNZ * snz + AD_SWEEP_PER_ROW * (double)(n + A->m + G->m) + 1;
}

/* Empty the columns c of M with drop[c] set (in place) */
static void drop_columns(cs_dl *M, const unsigned char *drop)
{
    altdiff_int q = 0, start = 0;
    for (altdiff_int c = 0; c < M->n; c++) {
        altdiff_int end = M->p[c + 1];
        M->p[c] = q;
        for (altdiff_int t = start; t < end && !drop[c]; t++, q++) {
            M->i[q] = M->i[t];
            M->x[q] = M->x[t];
        }
        start = end;
    }
    M->p[M->n] = q;
}

/* St = S' = [A' G'] (n x (m+p)), the columns of S' being the rows of S;
 * dense rows split off (lowrank.c) are left out */
static cs_dl *stacked_transpose(const ad_factor *F, const cs_dl *A, const cs_dl *G)
{
    cs_dl *At = ad_transpose(A), *Gt = ad_transpose(G), *St = NULL;
    altdiff_int m = A->m, p = G->m;
    if (!At || !Gt) goto done;
    altdiff_int nzA = At->p[At->n], nzG = Gt->p[Gt->n];
    St = ad_spalloc(F->n, m + p, nzA + nzG);
    if (!St) goto done;
    memcpy(St->p, At->p, sizeof(altdiff_int) * (size_t)(m + 1));
    for (altdiff_int k = 1; k <= p; k++) St->p[m + k] = nzA + Gt->p[k];
    memcpy(St->i, At->i, sizeof(altdiff_int) * (size_t)nzA);
    memcpy(St->i + nzA, Gt->i, sizeof(altdiff_int) * (size_t)nzG);
    memcpy(St->x, At->x, sizeof(double) * (size_t)nzA);
    memcpy(St->x + nzA, Gt->x, sizeof(double) * (size_t)nzG);
    if (F->lr.k > 0) drop_columns(St, F->lr.dense_row);
done:
    ad_spfree(At);
    ad_spfree(Gt);
    return St;
}

/* The weight of the equality rows' penalty (1 when unset) */
static double eq_weight(const ad_factor *F) { return F->eq_weight > 0 ? F->eq_weight : 1; }

/* Form, on one upper pattern containing the diagonal, HPm = P and HSm = S'S.
 * Both come from cholmod_l_add on the same operands, so their patterns agree
 * (checked). */
static int form_parts_sparse(ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G,
                             double w, cholmod_sparse **HPm, cholmod_sparse **HSm)
{
    cholmod_common *cm = &F->cm;
    cholmod_sparse *SS = NULL, *SSu = NULL, *Id = NULL, *T = NULL;
    int status = ALTDIFF_ERR_NOMEM;
    *HPm = *HSm = NULL;
    cs_dl *St = stacked_transpose(F, A, G);
    if (!St) goto done;
    double rw = sqrt(w); /* S'RS = (R^1/2 S)'(R^1/2 S): the rows of A times sqrt(w) */
    for (altdiff_int t = 0; w != 1 && t < St->p[A->m]; t++) St->x[t] *= rw;
    cholmod_sparse Stv = ad_cholmod_view(St, 0), Pv = ad_cholmod_view(P, 1);
    SS = cholmod_l_aat(&Stv, NULL, 0, 1, cm);              /* S'S = St St'   */
    SSu = SS ? cholmod_l_copy(SS, 1, 1, cm) : NULL;        /* its upper part */
    Id = cholmod_l_speye((size_t)F->n, (size_t)F->n, CHOLMOD_REAL, cm);
    if (Id) Id->stype = 1;
    double one[2] = {1, 0}, zero[2] = {0, 0};
    T = (SSu && Id) ? cholmod_l_add(&Pv, Id, one, zero, 1, 1, cm) : NULL; /* P + 0 I */
    *HPm = T ? cholmod_l_add(T, SSu, one, zero, 1, 1, cm) : NULL;       /* P       */
    *HSm = T ? cholmod_l_add(T, SSu, zero, one, 1, 1, cm) : NULL;       /* S'S     */
    if (!*HPm || !*HSm) {
        status = ad_cholmod_code(cm, 1);
        goto done;
    }
    altdiff_int n = F->n, *p1 = (*HPm)->p, *p2 = (*HSm)->p;
    status = memcmp(p1, p2, sizeof(altdiff_int) * (size_t)(n + 1)) == 0 &&
                     memcmp((*HPm)->i, (*HSm)->i, sizeof(altdiff_int) * (size_t)p1[n]) == 0
                 ? ALTDIFF_OK
                 : ALTDIFF_ERR_CHOLMOD;
done:
    if (status != ALTDIFF_OK) {
        cholmod_l_free_sparse(HPm, cm);
        cholmod_l_free_sparse(HSm, cm);
    }
    cholmod_l_free_sparse(&SS, cm);
    cholmod_l_free_sparse(&SSu, cm);
    cholmod_l_free_sparse(&Id, cm);
    cholmod_l_free_sparse(&T, cm);
    ad_spfree(St);
    return status;
}

/* 1 if S = [A; G] is dense enough that S'S should be formed by a dense
 * rank-k update (BLAS) rather than a sparse product */
static int dense_product_pays(const cs_dl *A, const cs_dl *G)
{
    double n = (double)A->n, rows = (double)(A->m + G->m);
    double nnz = (double)(A->p[A->n] + G->p[G->n]);
    return rows > 0 && n <= AD_DENSE_MAX_N && nnz >= AD_DENSE_FRACTION * n * rows;
}

/* Sd (rows x n, column-major, zeroed) = [A; G] */
static void densify(const cs_dl *A, const cs_dl *G, double *Sd)
{
    altdiff_int rows = A->m + G->m;
    for (altdiff_int j = 0; j < A->n; j++) {
        double *col = Sd + (size_t)j * (size_t)rows;
        for (altdiff_int t = A->p[j]; t < A->p[j + 1]; t++) col[A->i[t]] = A->x[t];
        for (altdiff_int t = G->p[j]; t < G->p[j + 1]; t++) col[A->m + G->i[t]] = G->x[t];
    }
}

/* Position of (i, j) in an n x n column-major array */
static size_t at(altdiff_int n, altdiff_int i, altdiff_int j)
{
    return (size_t)j * (size_t)n + (size_t)i;
}

/* A dense factor of S'S: M (rows x n, column-major, leading dimension ld) */
typedef struct {
    const double *M;
    int rows, ld;
} dense_part;

/* The upper triangle of Hd (diagonal included) = w A'A + G'G, by DSYRK from
 * the parts A (m rows, or none) and G (p rows, or none; not both none), and
 * its diagonal kept in SRd (the factorizations overwrite Hd's) */
static void form_SRS(ad_factor *F, const dense_part *A, const dense_part *G, double w)
{
    int n = (int)F->n, a = A->rows > 0;
    double one = 1, zero = 0;
    if (a) dsyrk_("U", "T", &n, &A->rows, &w, A->M, &A->ld, &zero, F->Hd, &n);
    if (G->rows > 0)
        dsyrk_("U", "T", &n, &G->rows, &one, G->M, &G->ld, a ? &one : &zero, F->Hd, &n);
    for (altdiff_int j = 0; j < F->n; j++) F->SRd[j] = F->Hd[at(F->n, j, j)];
}

/* The dense path's values: S'RS into Hd's upper triangle and SRd, and
 * F->Pd = P (every factorization adds P from it, ad_factor_add_P); S'RS by
 * BLAS from the dense copies of A and G when the caller has them (Ad: m x n,
 * Gd: p x n, NULL: none), else from a dense copy of S made here */
static int form_dense(ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G,
                      const double *Ad, const double *Gd)
{
    altdiff_int n = F->n, m = A->m, p = G->m, rows = m + p;
    int have_dense = (m == 0 || Ad) && (p == 0 || Gd);
    double *Sd = have_dense ? NULL : ad_calloc((size_t)rows * (size_t)n, sizeof(double));
    if (!have_dense && !Sd) return ALTDIFF_ERR_NOMEM;
    if (!have_dense) densify(A, G, Sd); /* S = [A; G]: its rows of A, then of G */
    dense_part pa = {have_dense ? Ad : Sd, (int)m, have_dense ? (int)m : (int)rows};
    dense_part pg = {have_dense ? Gd : Sd + m, (int)p, have_dense ? (int)p : (int)rows};
    form_SRS(F, &pa, &pg, eq_weight(F));
    F->Pd = P;
    ad_free(Sd);
    return ALTDIFF_OK;
}

/* W = Hs \ U and C for the dense rows, after a factorization of Hs */
static int lowrank_refresh(ad_factor *F, double rho)
{
    ad_lowrank *lr = &F->lr;
    if (lr->k == 0) return ALTDIFF_OK;
    ad_copy(lr->W, lr->U, F->n * lr->k);
    ad_solve_work ws = {NULL, NULL, NULL, NULL, 0};
    int status = ad_factor_sparse_solve(F, lr->W, lr->k, &ws); /* W = Hs \ U */
    ad_solve_work_free(&ws, &F->cm);
    return status == ALTDIFF_OK ? ad_lowrank_set(lr, rho) : status;
}

#define AD_SCATTER_BLOCK 32 /* columns of H written together by add_P_dense */

/* Mx += P in the lower triangle of Mx (n x n, column-major: (r, c) with
 * r >= c at c n + r); P upper, (i, j) with i <= j going to (j, i). A full P
 * (packed upper: column j holds rows 0..j) goes by blocks of columns
 * i0..i1-1 of Mx: rows i0..i1-1 of P's column j are contiguous and land in
 * row j of those columns (that many write streams, not n). */
static void add_P_dense(const cs_dl *P, altdiff_int n, double *Mx)
{
    if (!ad_full(P, 1)) {
        for (altdiff_int j = 0; j < n; j++)
            for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++)
                Mx[at(n, j, P->i[t])] += P->x[t];
        return;
    }
    for (altdiff_int i0 = 0; i0 < n; i0 += AD_SCATTER_BLOCK) {
        altdiff_int i1 = i0 + AD_SCATTER_BLOCK < n ? i0 + AD_SCATTER_BLOCK : n;
        for (altdiff_int j = i0; j < n; j++) {
            const double *col = P->x + (size_t)j * (size_t)(j + 1) / 2; /* P(0:j, j) */
            for (altdiff_int i = i0; i < i1 && i <= j; i++)
                Mx[at(n, j, i)] += col[i];
        }
    }
}

void ad_factor_add_P(const ad_factor *F, double *Mx)
{
    if (F->Hd) {
        add_P_dense(F->Pd, F->n, Mx);
        return;
    }
    altdiff_int nz = ((const altdiff_int *)F->H->p)[F->n];
    for (altdiff_int k = 0; k < nz; k++) Mx[k] += F->HP[k];
}

int ad_potrf(double *M, altdiff_int n)
{
    int nn = (int)n, info = 0;
    if (n > 0) dpotrf_("L", &nn, M, &nn, &info);
    return info == 0 ? ALTDIFF_OK : info > 0 ? ALTDIFF_ERR_NOT_POSDEF : ALTDIFF_ERR_CHOLMOD;
}

/* X = L^-T L^-1 X: two DTRSM (DTRSV for one column, where DTRSM is slower) */
void ad_potrs(const double *L, altdiff_int n, double *X, altdiff_int d)
{
    int nn = (int)n, inc = 1;
    double one = 1;
    if (d == 1) {
        dtrsv_("L", "N", "N", &nn, L, &nn, X, &inc);
        dtrsv_("L", "T", "N", &nn, L, &nn, X, &inc);
        return;
    }
    for (; d > 0; d -= INT_MAX, X += (size_t)INT_MAX * (size_t)n) { /* BLAS's int */
        int dd = d > INT_MAX ? INT_MAX : (int)d;
        dtrsm_("L", "L", "N", "N", &nn, &dd, &one, L, &nn, X, &nn); /* L y = x    */
        dtrsm_("L", "L", "T", "N", &nn, &dd, &one, L, &nn, X, &nn); /* L'x = y    */
    }
}

#define AD_TILE 32 /* the transposition of S'RS by tiles of AD_TILE^2 entries */

/* Hd's lower triangle = rho S'RS + P + sigma I, S'RS (i, j) for i > j read
 * from Hd's upper triangle at (j, i), by tiles (one transposition), its
 * diagonal from SRd: the same sums, in the same order, as the sparse
 * path's HP + rho HR + sigma I */
static void form_H_dense(ad_factor *F, double rho, double sigma)
{
    altdiff_int n = F->n;
    double *H = F->Hd;
    for (altdiff_int j0 = 0; j0 < n; j0 += AD_TILE) {
        altdiff_int j1 = j0 + AD_TILE < n ? j0 + AD_TILE : n;
        for (altdiff_int i0 = j0; i0 < n; i0 += AD_TILE) {
            altdiff_int i1 = i0 + AD_TILE < n ? i0 + AD_TILE : n;
            for (altdiff_int i = i0; i < i1; i++) /* column i above the diagonal */
                for (altdiff_int j = j0; j < j1 && j < i; j++)
                    H[at(n, i, j)] = rho * H[at(n, j, i)];
        }
    }
    for (altdiff_int j = 0; j < n; j++) H[at(n, j, j)] = rho * F->SRd[j];
    add_P_dense(F->Pd, n, H);
    for (altdiff_int j = 0; j < n; j++) H[at(n, j, j)] += sigma;
}

/* Sparse path: H->x = HP + rho HR + sigma I, then CHOLMOD's numeric
 * factorization */
static int refactor_sparse(ad_factor *F, double rho, double sigma)
{
    double *Hx = F->H->x;
    altdiff_int nz = ((altdiff_int *)F->H->p)[F->n];
    for (altdiff_int k = 0; k < nz; k++) Hx[k] = F->HP[k] + rho * F->HR[k]; /* P + rho S'RS */
    for (altdiff_int j = 0; j < F->n; j++) Hx[F->diag[j]] += sigma;          /* + sigma I    */
    int status = ad_cholmod_factorize(F->H, F->L, 1, &F->cm);
    if ((double)F->cm.memory_usage > F->mem_peak) F->mem_peak = (double)F->cm.memory_usage;
    return status;
}

/* H = P + rho S'RS + sigma I, factored: in place by DPOTRF (dense path) or
 * by CHOLMOD on the pattern of H; then the dense-row correction */
int ad_factor_refactor(ad_factor *F, double rho, double sigma)
{
    double t0 = ad_time();
    F->rho = rho;
    F->sigma = sigma;
    int status;
    if (F->Hd) {
        form_H_dense(F, rho, sigma);
        status = ad_potrf(F->Hd, F->n);
    } else {
        status = refactor_sparse(F, rho, sigma);
    }
    F->t_factor += ad_time() - t0;
    if (status == ALTDIFF_OK) status = lowrank_refresh(F, rho); /* W, C for the new Hs */
    return status;
}

/* 1 if H is diagonal (no off-diagonal entry in its pattern; sparse path) */
static int diagonal(const ad_factor *F)
{
    return ((const altdiff_int *)F->H->p)[F->n] == F->n;
}

/* X = Hs \ X for a diagonal Hs: X_ij / H_ii (what the factor's solve does,
 * without its permutations and passes) */
static void diagonal_solve(const ad_factor *F, double *X, altdiff_int d)
{
    const double *Hx = F->H->x;
    altdiff_int n = F->n;
    for (altdiff_int c = 0; c < d; c++)
        for (altdiff_int j = 0; j < n; j++) X[c * n + j] /= Hx[j];
}

/* y = S'RS v on the dense path, column i of Hd's upper triangle at a time:
 * y_i = SRd_i v_i + U(0:i, i)'v(0:i),  y(0:i) += v_i U(0:i, i) */
void ad_factor_mul_SRS(const ad_factor *F, const double *v, double *y)
{
    int one = 1;
    for (altdiff_int i = 0; i < F->n; i++) {
        const double *col = F->Hd + at(F->n, 0, i);
        int len = (int)i;
        y[i] = F->SRd[i] * v[i] + ddot_(&len, col, &one, v, &one);
        daxpy_(&len, &v[i], col, &one, y, &one);
    }
}

int ad_factor_sparse_solve(ad_factor *F, double *X, altdiff_int d, ad_solve_work *ws)
{
    if (F->Hd) {
        ad_potrs(F->Hd, F->n, X, d);
        return ALTDIFF_OK;
    }
    if (diagonal(F)) {
        diagonal_solve(F, X, d);
        return ALTDIFF_OK;
    }
    return ad_cholmod_solve(F->L, X, F->n, d, ws, &F->cm);
}

/* X = H \ X: the sparse solve, then the dense-row correction on the block
 * (ws->Z: k x d scratch, allocated on the first call that needs more) */
int ad_factor_solve_block(ad_factor *F, double *X, altdiff_int d, ad_solve_work *ws)
{
    int status = ad_factor_sparse_solve(F, X, d, ws);
    size_t need = (size_t)F->lr.k * (size_t)d;
    if (status != ALTDIFF_OK || need == 0) return status;
    if (ws->zlen < need) {
        ad_free(ws->Z);
        ws->Z = ad_malloc(need, sizeof(double));
        ws->zlen = ws->Z ? need : 0;
        if (!ws->Z) return ALTDIFF_ERR_NOMEM;
    }
    ad_lowrank_apply_block(&F->lr, X, d, ws->Z);
    return ALTDIFF_OK;
}

/* x = H \ x with the persistent workspaces: no allocation after the first */
int ad_factor_solve(ad_factor *F, double *x)
{
    return ad_factor_solve_block(F, x, 1, &F->ws);
}

/* 1 if two upper matrices of order n have the same pattern */
static int same_pattern(const cholmod_sparse *X, const cholmod_sparse *Y, altdiff_int n)
{
    const altdiff_int *p1 = X->p, *p2 = Y->p;
    return memcmp(p1, p2, sizeof(altdiff_int) * (size_t)(n + 1)) == 0 &&
           memcmp(X->i, Y->i, sizeof(altdiff_int) * (size_t)p1[n]) == 0;
}

/* HRm = S'RS on the pattern of HPm (NULL when there is no weight: HR = HS) */
static int form_weighted(ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G,
                         const cholmod_sparse *HPm, cholmod_sparse **HRm)
{
    *HRm = NULL;
    if (eq_weight(F) == 1 || A->m == 0) return ALTDIFF_OK;
    cholmod_sparse *HP2 = NULL;
    int status = form_parts_sparse(F, P, A, G, eq_weight(F), &HP2, HRm);
    if (status == ALTDIFF_OK && !same_pattern(HPm, HP2, F->n)) status = ALTDIFF_ERR_CHOLMOD;
    cholmod_l_free_sparse(&HP2, &F->cm);
    if (status != ALTDIFF_OK) cholmod_l_free_sparse(HRm, &F->cm);
    return status;
}

/* Keep the values of HPm, HSm and HRm (HRm NULL: HR = HS, no weight);
 * locate the diagonal of H (upper, sorted: the last entry of each column) */
static int take_values(ad_factor *F, cholmod_sparse *HPm, cholmod_sparse *HSm,
                       cholmod_sparse *HRm)
{
    altdiff_int n = F->n, *Hp = F->H->p, *Hi = F->H->i, nz = Hp[n];
    if (!F->HP) F->HP = ad_malloc((size_t)nz, sizeof(double));
    if (!F->HS) F->HS = ad_malloc((size_t)nz, sizeof(double));
    if (!F->HR) F->HR = ad_malloc((size_t)nz, sizeof(double));
    if (!F->diag) F->diag = ad_malloc((size_t)n, sizeof(altdiff_int));
    if (!F->HP || !F->HS || !F->HR || !F->diag) return ALTDIFF_ERR_NOMEM;
    memcpy(F->HP, HPm->x, sizeof(double) * (size_t)nz);
    memcpy(F->HS, HSm->x, sizeof(double) * (size_t)nz);
    memcpy(F->HR, (HRm ? HRm : HSm)->x, sizeof(double) * (size_t)nz);
    for (altdiff_int j = 0; j < n; j++) F->diag[j] = Hp[j + 1] - 1;
    for (altdiff_int j = 0; j < n; j++)
        if (Hi[F->diag[j]] != j) return ALTDIFF_ERR_CHOLMOD;
    return ALTDIFF_OK;
}

/* The dense path's n x n array (ad_malloc hints it for huge pages before
 * its first write) and SRd, and the figures CHOLMOD's analysis gave for a full H,
 * which the cost model reads: nnz(L) = n (n + 1) / 2 and the flops
 * sum_k k^2 = n (n + 1) (2n + 1) / 6 */
static int dense_alloc(ad_factor *F)
{
    double n = (double)F->n;
    F->Hd = ad_malloc((size_t)F->n * (size_t)F->n, sizeof(double));
    F->SRd = ad_malloc((size_t)F->n, sizeof(double));
    if (!F->Hd || !F->SRd) return ALTDIFF_ERR_NOMEM;
    F->cm.lnz = 0.5 * n * (n + 1);
    F->cm.fl = n * (n + 1) * (2 * n + 1) / 6;
    F->mem_peak = n * n * sizeof(double);
    return ALTDIFF_OK;
}

/* Sparse path: the pattern of H, P and S'S (S'RS) on it, the analysis */
static int init_sparse(ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G)
{
    cholmod_sparse *HSm = NULL, *HRm = NULL;
    int status = ad_lowrank_detect(&F->lr, A, G);
    if (status == ALTDIFF_OK) status = form_parts_sparse(F, P, A, G, 1, &F->H, &HSm);
    if (status == ALTDIFF_OK) status = form_weighted(F, P, A, G, F->H, &HRm);
    if (status == ALTDIFF_OK) status = take_values(F, F->H, HSm, HRm);
    cholmod_l_free_sparse(&HSm, &F->cm);
    cholmod_l_free_sparse(&HRm, &F->cm);
    if (status != ALTDIFF_OK) return status;
    double t0 = ad_time();
    F->L = cholmod_l_analyze(F->H, &F->cm);
    F->t_analyze = ad_time() - t0;
    if (!F->L) return ad_cholmod_code(&F->cm, 1);
    ad_lowrank_fill_U(&F->lr, A, G, 1); /* dense rows keep rho (ad_eq_weight) */
    return ALTDIFF_OK;
}

/* Form H's parts (dense path: S'RS by BLAS; sparse path: the pattern of H
 * and its analysis), factor H, and warm up the solve workspaces (so that no
 * solve allocates). On failure the caller frees F. */
int ad_factor_init(ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G, double rho,
                   double sigma)
{
    cholmod_l_start(&F->cm);
    F->cm_started = 1;
    F->cm.print = 0;
    F->n = P->n;
    int status;
    if (dense_product_pays(A, G)) {
        status = dense_alloc(F);
        if (status == ALTDIFF_OK) status = form_dense(F, P, A, G, F->Ad, F->Gd);
    } else {
        status = init_sparse(F, P, A, G);
    }
    if (status == ALTDIFF_OK) status = ad_factor_refactor(F, rho, sigma);
    return status == ALTDIFF_OK ? ad_factor_warm(F) : status;
}

/* The analysis of src for a factor of the same patterns (a batch element's
 * own matrices): a common of its own, the pattern of H, the diagonal's
 * positions, the dense-row split and a copy of the analyzed factor L
 * (cholmod_l_copy_factor keeps the symbolic part: ordering, supernodes);
 * on the dense path an n x n array of its own.
 * No analysis runs; ad_factor_values then forms the values and factors
 * numerically. CHOLMOD's figures of the analysis (flops, nnz(L)) are
 * copied for the cost model. On failure the caller frees F. */
int ad_factor_clone(ad_factor *F, const ad_factor *src, const cs_dl *A, const cs_dl *G)
{
    cholmod_l_start(&F->cm);
    F->cm_started = 1;
    F->cm.print = 0;
    F->cm.fl = src->cm.fl;     /* the analysis's figures */
    F->cm.lnz = src->cm.lnz;
    F->cm.anz = src->cm.anz;
    F->n = src->n;
    F->eq_weight = src->eq_weight;
    F->rho = src->rho;
    F->sigma = src->sigma;
    if (src->Hd) return dense_alloc(F); /* the dense path: nothing to analyze */
    int status = src->lr.k > 0 ? ad_lowrank_detect(&F->lr, A, G) : ALTDIFF_OK;
    if (status != ALTDIFF_OK) return status;
    if (F->lr.k != src->lr.k) return ALTDIFF_ERR_CHOLMOD; /* the same patterns split alike */
    F->H = cholmod_l_copy_sparse(src->H, &F->cm);
    F->L = F->H ? cholmod_l_copy_factor(src->L, &F->cm) : NULL;
    if (!F->H || !F->L) return ad_cholmod_code(&F->cm, 1);
    F->diag = ad_malloc((size_t)F->n, sizeof(altdiff_int));
    if (!F->diag) return ALTDIFF_ERR_NOMEM;
    memcpy(F->diag, src->diag, sizeof(altdiff_int) * (size_t)F->n);
    return ALTDIFF_OK;
}

/* The solve workspaces allocated now (one solve of zeros), so that no later
 * solve allocates */
int ad_factor_warm(ad_factor *F)
{
    double *zero = ad_calloc((size_t)F->n, sizeof(double));
    int status = zero ? ad_factor_solve(F, zero) : ALTDIFF_ERR_NOMEM;
    ad_free(zero);
    return status;
}

/* New values of P, A or G on the same patterns: form P and S'S again and
 * refactor numerically; the analysis is kept (dense: S'RS rewritten in
 * place) */
int ad_factor_values(ad_factor *F, const cs_dl *P, const cs_dl *A, const cs_dl *G)
{
    cholmod_sparse *HPm = NULL, *HSm = NULL, *HRm = NULL;
    int status;
    if (F->Hd) {
        status = form_dense(F, P, A, G, F->Ad, F->Gd);
    } else {
        status = form_parts_sparse(F, P, A, G, 1, &HPm, &HSm);
        if (status == ALTDIFF_OK && !same_pattern(F->H, HPm, F->n)) status = ALTDIFF_ERR_CHOLMOD;
        if (status == ALTDIFF_OK) status = form_weighted(F, P, A, G, HPm, &HRm);
        if (status == ALTDIFF_OK) status = take_values(F, HPm, HSm, HRm);
    }
    cholmod_l_free_sparse(&HPm, &F->cm);
    cholmod_l_free_sparse(&HSm, &F->cm);
    cholmod_l_free_sparse(&HRm, &F->cm);
    ad_lowrank_fill_U(&F->lr, A, G, 1); /* dense rows keep rho (ad_eq_weight) */
    return status == ALTDIFF_OK ? ad_factor_refactor(F, F->rho, F->sigma) : status;
}

/* How much faster the flops of a supernodal factorization run than those of
 * a sweep (BLAS-3 on supernodes against triangular solves that stream L):
 * about 17x for the dense factors measured on this project's 2-core
 * machine, about 1x for simplicial ones; modelled by the mean supernode
 * width (deterministic, unlike a timing) */
static double factor_speedup(const ad_factor *F)
{
    const cholmod_factor *L = F->L;
    double width;
    if (F->Hd) /* one supernode of width n, as CHOLMOD factored a full H: a
                  simplicial one when flops / nnz(L) < its supernodal switch */
        width = F->cm.fl < F->cm.supernodal_switch * F->cm.lnz ? 0 : (double)F->n;
    else
        width = (L->is_super && L->nsuper > 0) ? (double)L->n / (double)L->nsuper : 0;
    return width < 4 ? 1 : width > 80 ? 20 : width / 4;
}

/* A factorization's cost in ADMM sweeps (or Newton CG steps): CHOLMOD's flop
 * count for the factor over the flops of one sweep, discounted by
 * factor_speedup */
double ad_factor_cost_in_sweeps(const ad_factor *F, const cs_dl *P, const cs_dl *A,
                                const cs_dl *G)
{
    return F->cm.fl / ad_sweep_flops(F, P, A, G) / factor_speedup(F);
}

/* Position of row i in column j of the sorted pattern of H, or -1 */
static altdiff_int position(const cholmod_sparse *H, altdiff_int i, altdiff_int j)
{
    const altdiff_int *Hp = H->p, *Hi = H->i;
    altdiff_int lo = Hp[j], hi = Hp[j + 1] - 1;
    while (lo <= hi) {
        altdiff_int mid = lo + (hi - lo) / 2;
        if (Hi[mid] == i) return mid;
        if (Hi[mid] < i) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* HP = P~ on the pattern of H (which contains the pattern of P~); the
 * dense path keeps no HP: it reads P's values at each factorization */
int ad_factor_set_P(ad_factor *F, const cs_dl *P, altdiff_int **Hpos)
{
    altdiff_int nz = P->p[F->n];
    if (F->Hd) {
        F->Pd = P;
        return ALTDIFF_OK;
    }
    if (!*Hpos) {
        *Hpos = ad_malloc((size_t)nz, sizeof(altdiff_int));
        if (!*Hpos) return ALTDIFF_ERR_NOMEM;
        for (altdiff_int j = 0; j < F->n; j++)
            for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++) {
                (*Hpos)[t] = position(F->H, P->i[t], j);
                if ((*Hpos)[t] < 0) {
                    *Hpos = ad_free(*Hpos);
                    return ALTDIFF_ERR_CHOLMOD;
                }
            }
    }
    for (altdiff_int t = 0; t < nz; t++) F->HP[(*Hpos)[t]] = P->x[t];
    return ALTDIFF_OK;
}

void ad_factor_free(ad_factor *F)
{
    if (!F->cm_started) return;
    cholmod_common *cm = &F->cm;
    cholmod_l_free_sparse(&F->H, cm);
    cholmod_l_free_factor(&F->L, cm);
    ad_solve_work_free(&F->ws, cm);
    F->HP = ad_free(F->HP);
    F->HS = ad_free(F->HS);
    F->HR = ad_free(F->HR);
    F->Hd = ad_free(F->Hd);
    F->SRd = ad_free(F->SRd);
    F->diag = ad_free(F->diag);
    ad_lowrank_free(&F->lr);
    cholmod_l_finish(cm);
    F->cm_started = 0;
}
