/*
 * factor.c: H = P + rho S'S + sigma I  with S = [A; G] (scaled data).
 *
 * The pattern of H is formed and analyzed once (CHOLMOD chooses AMD or METIS
 * and supernodal or simplicial); the values of P and of S'S on that pattern
 * are kept apart (HP, HS), so a new rho or sigma costs one pass over them and
 * a numeric refactorization. Every solve with H in the library goes through
 * ad_factor_solve, which allocates nothing.
 */
#include <string.h>

#include "ad_internal.h"

#define AD_DENSE_FRACTION 0.2 /* S this dense: S'S by BLAS                */
#define AD_DENSE_MAX_N 20000  /* and n x n doubles still affordable        */

/* A CHOLMOD view (no copy) of a CSC matrix; stype 1 = upper symmetric. */
cholmod_sparse ad_cholmod_view(const cs_dl *A, int stype)
{
    cholmod_sparse V;
    memset(&V, 0, sizeof(V));
    V.nrow = (size_t)A->m;
    V.ncol = (size_t)A->n;
    V.nzmax = (size_t)(A->p[A->n] > 0 ? A->p[A->n] : 1);
    V.p = A->p;
    V.i = A->i;
    V.x = A->x;
    V.stype = stype;
    V.itype = CHOLMOD_LONG;
    V.xtype = CHOLMOD_REAL;
    V.dtype = CHOLMOD_DOUBLE;
    V.sorted = 1;
    V.packed = 1;
    return V;
}

/* A CHOLMOD view of a dense n-vector */
static cholmod_dense view_dense(double *x, altdiff_int n)
{
    cholmod_dense V;
    memset(&V, 0, sizeof(V));
    V.nrow = (size_t)n;
    V.ncol = 1;
    V.nzmax = (size_t)n;
    V.d = (size_t)n;
    V.x = x;
    V.xtype = CHOLMOD_REAL;
    V.dtype = CHOLMOD_DOUBLE;
    return V;
}

/* Map CHOLMOD's status after a call to an altdiff code */
static int cholmod_code(const cholmod_common *cm)
{
    if (cm->status == CHOLMOD_OUT_OF_MEMORY) return ALTDIFF_ERR_NOMEM;
    if (cm->status == CHOLMOD_NOT_POSDEF) return ALTDIFF_ERR_NOT_POSDEF;
    return cm->status < 0 ? ALTDIFF_ERR_CHOLMOD : ALTDIFF_OK;
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
static cs_dl *stacked_transpose(const altdiff_work *w)
{
    cs_dl *At = ad_transpose(w->A), *Gt = ad_transpose(w->G), *St = NULL;
    if (!At || !Gt) goto done;
    altdiff_int nzA = At->p[At->n], nzG = Gt->p[Gt->n];
    St = ad_spalloc(w->n, w->m + w->p, nzA + nzG);
    if (!St) goto done;
    memcpy(St->p, At->p, sizeof(altdiff_int) * (size_t)(w->m + 1));
    for (altdiff_int k = 1; k <= w->p; k++) St->p[w->m + k] = nzA + Gt->p[k];
    memcpy(St->i, At->i, sizeof(altdiff_int) * (size_t)nzA);
    memcpy(St->i + nzA, Gt->i, sizeof(altdiff_int) * (size_t)nzG);
    memcpy(St->x, At->x, sizeof(double) * (size_t)nzA);
    memcpy(St->x + nzA, Gt->x, sizeof(double) * (size_t)nzG);
    if (w->F.k > 0) drop_columns(St, w->F.dense_row);
done:
    ad_spfree(At);
    ad_spfree(Gt);
    return St;
}

/* Form, on one upper pattern containing the diagonal, HPm = P and HSm = S'S.
 * Both come from cholmod_l_add on the same operands, so their patterns agree
 * (checked). */
static int form_parts_sparse(altdiff_work *w, cholmod_sparse **HPm, cholmod_sparse **HSm)
{
    cholmod_common *cm = &w->F.cm;
    cholmod_sparse *SS = NULL, *SSu = NULL, *Id = NULL, *T = NULL;
    int status = ALTDIFF_ERR_NOMEM;
    *HPm = *HSm = NULL;
    cs_dl *St = stacked_transpose(w);
    if (!St) goto done;
    cholmod_sparse Stv = ad_cholmod_view(St, 0), Pv = ad_cholmod_view(w->P, 1);
    SS = cholmod_l_aat(&Stv, NULL, 0, 1, cm);              /* S'S = St St'   */
    SSu = SS ? cholmod_l_copy(SS, 1, 1, cm) : NULL;        /* its upper part */
    Id = cholmod_l_speye((size_t)w->n, (size_t)w->n, CHOLMOD_REAL, cm);
    if (Id) Id->stype = 1;
    double one[2] = {1, 0}, zero[2] = {0, 0};
    T = (SSu && Id) ? cholmod_l_add(&Pv, Id, one, zero, 1, 1, cm) : NULL; /* P + 0 I */
    *HPm = T ? cholmod_l_add(T, SSu, one, zero, 1, 1, cm) : NULL;       /* P       */
    *HSm = T ? cholmod_l_add(T, SSu, zero, one, 1, 1, cm) : NULL;       /* S'S     */
    if (!*HPm || !*HSm) {
        status = cholmod_code(cm) == ALTDIFF_OK ? ALTDIFF_ERR_CHOLMOD : cholmod_code(cm);
        goto done;
    }
    altdiff_int n = w->n, *p1 = (*HPm)->p, *p2 = (*HSm)->p;
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

/* BLAS (OpenBLAS through Debian's libblas): C = alpha A'A + beta C, upper */
void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *beta,
            double *c, const int *ldc);

/* 1 if S = [A; G] is dense enough that S'S should be formed by a dense
 * rank-k update (BLAS) rather than a sparse product */
static int dense_product_pays(const altdiff_work *w)
{
    double n = (double)w->n, rows = (double)(w->m + w->p);
    double nnz = (double)(w->A->p[w->n] + w->G->p[w->n]);
    return rows > 0 && n <= AD_DENSE_MAX_N && nnz >= AD_DENSE_FRACTION * n * rows;
}

/* Sd (rows x n, column-major) = [A; G] */
static void densify(const altdiff_work *w, double *Sd, altdiff_int rows)
{
    for (altdiff_int j = 0; j < w->n; j++) {
        double *col = Sd + (size_t)j * (size_t)rows;
        for (altdiff_int t = w->A->p[j]; t < w->A->p[j + 1]; t++) col[w->A->i[t]] = w->A->x[t];
        for (altdiff_int t = w->G->p[j]; t < w->G->p[j + 1]; t++)
            col[w->m + w->G->i[t]] = w->G->x[t];
    }
}

/* Full upper pattern: column j holds rows 0..j */
static cholmod_sparse *full_upper(altdiff_int n, cholmod_common *cm)
{
    size_t nz = (size_t)n * (size_t)(n + 1) / 2;
    cholmod_sparse *M = cholmod_l_allocate_sparse((size_t)n, (size_t)n, nz, 1, 1, 1,
                                                  CHOLMOD_REAL, cm);
    if (!M) return NULL;
    altdiff_int *Mp = M->p, *Mi = M->i, t = 0;
    for (altdiff_int j = 0; j < n; j++) {
        Mp[j] = t;
        for (altdiff_int i = 0; i <= j; i++) Mi[t++] = i;
    }
    Mp[n] = t;
    return M;
}

/* HPm = P and HSm = S'S on the full upper pattern, S'S by one dsyrk */
static int form_parts_dense(altdiff_work *w, cholmod_sparse **HPm, cholmod_sparse **HSm)
{
    cholmod_common *cm = &w->F.cm;
    altdiff_int n = w->n, rows = w->m + w->p;
    double *Sd = ad_calloc((size_t)rows * (size_t)n, sizeof(double));
    double *C = ad_malloc((size_t)n * (size_t)n, sizeof(double));
    *HPm = full_upper(n, cm);
    *HSm = full_upper(n, cm);
    int status = (Sd && C && *HPm && *HSm) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) {
        int nn = (int)n, kk = (int)rows;
        double one = 1, zero = 0, *hs = (*HSm)->x, *hp = (*HPm)->x;
        densify(w, Sd, rows);
        dsyrk_("U", "T", &nn, &kk, &one, Sd, &kk, &zero, C, &nn); /* C = S'S (upper) */
        altdiff_int *Hp = (*HPm)->p;
        for (altdiff_int j = 0; j < n; j++)
            for (altdiff_int i = 0; i <= j; i++) {
                hs[Hp[j] + i] = C[(size_t)i + (size_t)j * (size_t)n];
                hp[Hp[j] + i] = 0;
            }
        for (altdiff_int j = 0; j < n; j++) /* P upper: row i <= j lands at Hp[j] + i */
            for (altdiff_int t = w->P->p[j]; t < w->P->p[j + 1]; t++)
                hp[Hp[j] + w->P->i[t]] = w->P->x[t];
    } else {
        cholmod_l_free_sparse(HPm, cm);
        cholmod_l_free_sparse(HSm, cm);
    }
    ad_free(Sd);
    ad_free(C);
    return status;
}

/* HPm = P and HSm = S'S on one upper pattern containing the diagonal */
static int form_parts(altdiff_work *w, cholmod_sparse **HPm, cholmod_sparse **HSm)
{
    return dense_product_pays(w) ? form_parts_dense(w, HPm, HSm)
                                 : form_parts_sparse(w, HPm, HSm);
}

/* 1 unless L is a simplicial LDL' factor with a pivot D_jj <= 0: CHOLMOD's
 * LDL' accepts negative pivots, so an indefinite H would pass unnoticed */
static int ldl_positive(const cholmod_factor *L)
{
    if (L->is_super || L->is_ll) return 1;
    const altdiff_int *Lp = L->p;
    const double *Lx = L->x;
    for (size_t j = 0; j < L->n; j++)
        if (!(Lx[Lp[j]] > 0)) return 0; /* D_jj is the first entry of column j */
    return 1;
}

/* H = HP + rho HS + sigma I, then numeric factorization */
int ad_factor_refactor(altdiff_work *w, double rho, double sigma)
{
    ad_factor *F = &w->F;
    double *Hx = F->H->x, t0 = ad_time();
    altdiff_int nz = ((altdiff_int *)F->H->p)[w->n];
    for (altdiff_int k = 0; k < nz; k++) Hx[k] = F->HP[k] + rho * F->HS[k]; /* P + rho S'S */
    for (altdiff_int j = 0; j < w->n; j++) Hx[F->diag[j]] += sigma;          /* + sigma I   */
    F->rho = rho;
    F->sigma = sigma;
    cholmod_l_factorize(F->H, F->L, &F->cm);
    w->info.t_factor += ad_time() - t0;
    int status = cholmod_code(&F->cm);
    if (status == ALTDIFF_OK && (F->L->minor < F->L->n || !ldl_positive(F->L)))
        status = ALTDIFF_ERR_NOT_POSDEF;
    if (status == ALTDIFF_OK) status = ad_lowrank_update(w, rho); /* W, C for the new Hs */
    w->info.nnz_L = F->cm.lnz;
    if ((double)F->cm.memory_usage > w->info.mem_factor)
        w->info.mem_factor = (double)F->cm.memory_usage;
    return status;
}

/* X = Hs \ X for d columns (n x d, column-major) with the workspaces Xw,
 * Yw, Ew of cholmod_l_solve2 (allocated on first use, reused after) */
int ad_factor_sparse_solve(altdiff_work *w, double *X, altdiff_int d, cholmod_dense **Xw,
                           cholmod_dense **Yw, cholmod_dense **Ew)
{
    ad_factor *F = &w->F;
    /* CHOLMOD's simplicial solve asks for Y as 4 x n and leaves it reshaped,
     * so the next call would reallocate it: restore the shape (the storage,
     * 4 n doubles, is kept) so that repeated solves allocate nothing. */
    if (!F->L->is_super && *Yw && (*Yw)->nzmax >= 4 * (size_t)w->n) {
        (*Yw)->nrow = (*Yw)->d = 4;
        (*Yw)->ncol = (size_t)w->n;
    }
    cholmod_dense B = view_dense(X, w->n);
    B.ncol = (size_t)d;
    B.nzmax = (size_t)(w->n * d);
    if (!cholmod_l_solve2(CHOLMOD_A, F->L, &B, NULL, Xw, NULL, Yw, Ew, &F->cm))
        return cholmod_code(&F->cm) == ALTDIFF_OK ? ALTDIFF_ERR_CHOLMOD : cholmod_code(&F->cm);
    memcpy(X, (*Xw)->x, sizeof(double) * (size_t)(w->n * d));
    return ALTDIFF_OK;
}

/* X = H \ X: the sparse solve, then the dense-row correction per column */
int ad_factor_solve_block(altdiff_work *w, double *X, altdiff_int d, cholmod_dense **Xw,
                          cholmod_dense **Yw, cholmod_dense **Ew)
{
    int status = ad_factor_sparse_solve(w, X, d, Xw, Yw, Ew);
    for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c++)
        ad_lowrank_apply(w, X + c * w->n);
    return status;
}

/* x = H \ x with the persistent workspaces: no allocation after the first */
int ad_factor_solve(altdiff_work *w, double *x)
{
    return ad_factor_solve_block(w, x, 1, &w->F.X, &w->F.Y, &w->F.E);
}

/* Keep the values of HPm and HSm; locate the diagonal of H */
static int take_values(altdiff_work *w, cholmod_sparse *HPm, cholmod_sparse *HSm)
{
    ad_factor *F = &w->F;
    altdiff_int n = w->n, *Hp = HPm->p, *Hi = HPm->i, nz = Hp[n];
    if (!F->HP) F->HP = ad_malloc((size_t)nz, sizeof(double));
    if (!F->HS) F->HS = ad_malloc((size_t)nz, sizeof(double));
    if (!F->diag) F->diag = ad_malloc((size_t)n, sizeof(altdiff_int));
    if (!F->HP || !F->HS || !F->diag) return ALTDIFF_ERR_NOMEM;
    memcpy(F->HP, HPm->x, sizeof(double) * (size_t)nz);
    memcpy(F->HS, HSm->x, sizeof(double) * (size_t)nz);
    for (altdiff_int j = 0; j < n; j++) F->diag[j] = Hp[j + 1] - 1; /* sorted upper: last */
    for (altdiff_int j = 0; j < n; j++)
        if (Hi[F->diag[j]] != j) return ALTDIFF_ERR_CHOLMOD;
    return ALTDIFF_OK;
}

/* Form the pattern of H, analyze it, factor it, and warm up the solve
 * workspaces (so that no solve allocates). */
int ad_factor_init(altdiff_work *w)
{
    ad_factor *F = &w->F;
    cholmod_sparse *HSm = NULL;
    cholmod_l_start(&F->cm);
    F->cm_started = 1;
    F->cm.print = 0;
    int status = dense_product_pays(w) ? ALTDIFF_OK : ad_lowrank_detect(w);
    if (status == ALTDIFF_OK) status = form_parts(w, &F->H, &HSm);
    if (status == ALTDIFF_OK) status = take_values(w, F->H, HSm);
    cholmod_l_free_sparse(&HSm, &F->cm);
    if (status != ALTDIFF_OK) return status;
    double t0 = ad_time();
    F->L = cholmod_l_analyze(F->H, &F->cm);
    w->info.t_analyze = ad_time() - t0;
    if (!F->L) return cholmod_code(&F->cm) == ALTDIFF_OK ? ALTDIFF_ERR_CHOLMOD
                                                          : cholmod_code(&F->cm);
    ad_lowrank_fill_U(w);
    status = ad_factor_refactor(w, w->set.rho, w->set.sigma);
    if (status != ALTDIFF_OK) return status;
    ad_fill(w->rhs, 0, w->n);
    return ad_factor_solve(w, w->rhs);
}

/* New values of P, A or G on the same patterns: form P and S'S again and
 * refactor numerically; the analysis is kept. */
int ad_factor_values(altdiff_work *w)
{
    cholmod_sparse *HPm = NULL, *HSm = NULL;
    int status = form_parts(w, &HPm, &HSm);
    if (status == ALTDIFF_OK) {
        altdiff_int n = w->n, *H1 = w->F.H->p, *H2 = HPm->p;
        int same = memcmp(H1, H2, sizeof(altdiff_int) * (size_t)(n + 1)) == 0 &&
                   memcmp(w->F.H->i, HPm->i, sizeof(altdiff_int) * (size_t)H1[n]) == 0;
        status = same ? take_values(w, HPm, HSm) : ALTDIFF_ERR_CHOLMOD;
    }
    cholmod_l_free_sparse(&HPm, &w->F.cm);
    cholmod_l_free_sparse(&HSm, &w->F.cm);
    ad_lowrank_fill_U(w);
    return status == ALTDIFF_OK ? ad_factor_refactor(w, w->F.rho, w->F.sigma) : status;
}

/* How much faster the flops of a supernodal factorization run than those of
 * a sweep (BLAS-3 on supernodes against triangular solves that stream L):
 * about 17x for the dense factors measured on this project's 2-core
 * machine, about 1x for simplicial ones; modelled by the mean supernode
 * width (deterministic, unlike a timing) */
static double factor_speedup(const cholmod_factor *L)
{
    if (!L->is_super || L->nsuper == 0) return 1;
    double width = (double)L->n / (double)L->nsuper;
    return width < 4 ? 1 : width > 80 ? 20 : width / 4;
}

/* A factorization's cost in ADMM sweeps (or Newton CG steps): CHOLMOD's flop
 * count for the factor over about 4 nnz(L) + 4 nnz(P, A, G) + 10 (n + m + p)
 * per sweep, discounted by factor_speedup */
double ad_factor_cost_in_sweeps(const altdiff_work *w)
{
    double nnz = (double)(w->P->p[w->n] + w->A->p[w->n] + w->G->p[w->n]);
    double per_sweep = 4 * w->F.cm.lnz + 4 * nnz + 10 * (double)(w->n + w->m + w->p) + 1;
    return w->F.cm.fl / per_sweep / factor_speedup(w->F.L);
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

/* HP = P~ on the pattern of H (which contains the pattern of P~) */
int ad_factor_set_P(altdiff_work *w, altdiff_int **Hpos)
{
    const cs_dl *P = w->P;
    altdiff_int nz = P->p[w->n];
    if (!*Hpos) {
        *Hpos = ad_malloc((size_t)nz, sizeof(altdiff_int));
        if (!*Hpos) return ALTDIFF_ERR_NOMEM;
        for (altdiff_int j = 0; j < w->n; j++)
            for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++) {
                (*Hpos)[t] = position(w->F.H, P->i[t], j);
                if ((*Hpos)[t] < 0) {
                    *Hpos = ad_free(*Hpos);
                    return ALTDIFF_ERR_CHOLMOD;
                }
            }
    }
    for (altdiff_int t = 0; t < nz; t++) w->F.HP[(*Hpos)[t]] = P->x[t];
    return ALTDIFF_OK;
}

void ad_factor_free(ad_factor *F)
{
    if (!F->cm_started) return;
    cholmod_common *cm = &F->cm;
    cholmod_l_free_sparse(&F->H, cm);
    cholmod_l_free_factor(&F->L, cm);
    cholmod_l_free_dense(&F->X, cm);
    cholmod_l_free_dense(&F->Y, cm);
    cholmod_l_free_dense(&F->E, cm);
    F->HP = ad_free(F->HP);
    F->HS = ad_free(F->HS);
    F->diag = ad_free(F->diag);
    ad_lowrank_free(F);
    cholmod_l_finish(cm);
    F->cm_started = 0;
}
