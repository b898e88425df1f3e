/*
 * kkt_al.c: the KKT mode's augmented-Lagrangian inner solve (doc/MATH.md
 * section 5.6): on the pattern of H, with H's symbolic analysis (on the
 * dense path in an n x n array of its own, factored by DPOTRF),
 *     M = P~ + rho_K C~'C~ + sigma I
 *     x <- M \ (a + rho_K C~'b - C~'y + sigma x),   y <- y + rho_K (C~ x - b)
 * in the scaled units of the model; kkt.c refines its result against K.
 */
#include <math.h>
#include <string.h>

#include "kkt_system.h"
#include "blas.h"

/* ---- the augmented-Lagrangian inner solve ----------------------------------- */

/* x = M \ x (the factor of M) */
static int m_solve(ad_kkt *K, double *x)
{
    if (!K->md->F.Hd) return ad_kkt_solve_with(K, K->LM, x, K->n);
    ad_potrs(K->Mx, K->n, x, 1);
    return ALTDIFF_OK;
}

/* t += C~' y (y: m + nJ): on the dense copies of A~, G~ (DGEMV; G~'s
 * inactive rows at 0), or on the CSC of C~' */
static void ct_mul(ad_kkt *K, const double *y, double *t)
{
    const ad_model *md = K->md;
    if (!K->gp) {
        ad_gaxpy(K->Ct, y, t);
        return;
    }
    if (md->m > 0) ad_block_mul_t(&md->Ab, y, t);        /* A~' y_A   */
    ad_fill(K->gp, 0, md->p);
    for (altdiff_int k = 0; k < K->nJ; k++) K->gp[K->J[k]] = y[md->m + k];
    ad_block_mul_t(&md->Gb, K->gp, t);                    /* G~_J' y_J */
}

/* y += C~ x (y: m + nJ), as ct_mul */
static void c_mul(ad_kkt *K, const double *x, double *y)
{
    const ad_model *md = K->md;
    if (!K->gp) {
        ad_gatxpy(K->Ct, x, y);
        return;
    }
    if (md->m > 0) ad_block_mul(&md->Ab, x, y);           /* A~ x      */
    ad_fill(K->gp, 0, md->p);
    ad_block_mul(&md->Gb, x, K->gp);                      /* G~ x      */
    for (altdiff_int k = 0; k < K->nJ; k++) y[md->m + k] += K->gp[K->J[k]];
}

/* du ~= K \ r: scale r, multiplier steps on the scaled system, unscale.
 * With a = c D r_x, b = E_C r_c:  x~ = M \ (a + rho C~'b - C~'y + sigma x~),
 * y += rho (C~ x~ - b), until C~ x~ = b to rounding (or no more progress);
 * then x = D x~, y_C = E_C y~ / c. */
int ad_kkt_al_solve(ad_kkt *K, const double *r)
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
        ct_mul(K, K->cy, K->t);              /* t = a + C~'(rho b - y) + sigma x~ */
        int status = m_solve(K, K->t);
        if (status != ALTDIFF_OK) return status;
        ad_copy(K->xs, K->t, n);             /* x~ = M \ t                        */
        for (altdiff_int i = 0; i < nc; i++) K->cy[i] = -b[i];
        c_mul(K, K->xs, K->cy);              /* cy = C~ x~ - b                    */
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

/* Mx += scale R'R, R rows x n column-major. The dense path's Mx is n x n
 * column-major with M in its lower triangle: one DSYRK. On the full upper
 * pattern of H (column j holds rows 0..j from Hp[j]): dgemm by blocks of
 * AD_KKT_BLOCK columns j0..j1-1, T = R(:, 0:j1)' R(:, j0:j1), added. */
static int add_gram_dense(const ad_factor *F, double *Mx, const double *R, altdiff_int rows,
                          altdiff_int n, double scale)
{
    int nn = (int)n, kk = (int)rows;
    double one = 1, zero = 0;
    if (rows == 0) return ALTDIFF_OK;
    if (F->Hd) {
        dsyrk_("L", "T", &nn, &kk, &scale, R, &kk, &one, Mx, &nn);
        return ALTDIFF_OK;
    }
    const altdiff_int *Hp = F->H->p;
    double *T = ad_malloc((size_t)n * AD_KKT_BLOCK, sizeof(double));
    if (!T) return ALTDIFF_ERR_NOMEM;
    for (altdiff_int j0 = 0; j0 < n; j0 += AD_KKT_BLOCK) {
        altdiff_int j1 = j0 + AD_KKT_BLOCK < n ? j0 + AD_KKT_BLOCK : n;
        int mm = (int)j1, nb = (int)(j1 - j0);
        dgemm_("T", "N", &mm, &nb, &kk, &scale, R, &kk, R + (size_t)j0 * (size_t)rows, &kk,
               &zero, T, &mm);
        for (altdiff_int j = j0; j < j1; j++) {
            const double *Tj = T + (j - j0) * mm; /* Tj[i]: row i of column j */
            for (altdiff_int i = 0; i <= j; i++) Mx[Hp[j] + i] += Tj[i];
        }
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
    if (!md->F.Hd &&
        (double)((const altdiff_int *)H->p)[n] < 0.5 * (double)n * (double)(n + 1)) {
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
    int status = add_gram_dense(&md->F, Mx, R, rows, n, scale);
    ad_free(R);
    return status;
}

/* Entries of M's storage: the pattern of H, or n x n on the dense path */
static size_t m_entries(const ad_factor *F, altdiff_int n)
{
    return F->Hd ? (size_t)n * (size_t)n : (size_t)((const altdiff_int *)F->H->p)[n];
}

/* Mx = HP + sigma I + rho C~'C~: either built from the rows of C~, or as
 * rho HS minus the inactive rows, whichever adds fewer products (the
 * dense path keeps no HS: from the rows of C~). take: scratch of
 * max(m + nJ, p) flags */
static int form_M(const ad_model *md, ad_kkt *K, const cs_dl *Gt, unsigned char *take)
{
    const ad_factor *F = &md->F;
    altdiff_int n = md->n;
    size_t nz = m_entries(F, n);
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
    int subtract = F->HS && out < in;
    for (size_t t = 0; t < nz; t++) K->Mx[t] = subtract ? rho * F->HS[t] : 0;
    ad_factor_add_P(F, K->Mx); /* + P (the same sums as HP + rho HS) */
    for (altdiff_int j = 0; j < n; j++)
        K->Mx[F->Hd ? (size_t)j * (size_t)(n + 1) : (size_t)F->diag[j]] += F->sigma;
    if (!subtract) {
        for (altdiff_int c = 0; c < K->Ct->n; c++) take[c] = 1;
        return add_rows(md, K->Mx, K->Ct, take, rho);
    }
    for (altdiff_int k = 0; k < md->p; k++) take[k] = 1; /* the inactive rows of G */
    for (altdiff_int k = 0; k < K->nJ; k++) take[K->J[k]] = 0;
    return add_rows(md, K->Mx, Gt, take, -rho);
}

/* Factor M with a copy of H's factor (symbolic analysis and type kept), or
 * in place on the dense path */
static int factor_M(const ad_model *md, ad_kkt *K)
{
    if (md->F.Hd) return ad_potrf(K->Mx, md->n);
    cholmod_common *cm = &K->cm;
    K->LM = cholmod_l_copy_factor(md->F.L, cm);
    if (!K->LM) return ad_cholmod_code(cm, 1);
    cholmod_sparse V = *md->F.H; /* the pattern of H with the values of M */
    V.x = K->Mx;
    return ad_cholmod_factorize(&V, K->LM, 1, cm); /* M is positive definite */
}

/* Set up the augmented-Lagrangian inner solve; ALTDIFF_OK when it is ready */
int ad_kkt_al_setup(const ad_model *md, ad_kkt *K)
{
    altdiff_int n = md->n, nc = md->m + K->nJ;
    K->md = md;
    cs_dl *Gt = ad_transpose(md->G);
    int status = Gt ? build_Ct(md, K, Gt) : ALTDIFF_ERR_NOMEM;
    K->Mx = ad_malloc(m_entries(&md->F, n), sizeof(double));
    K->xs = ad_malloc((size_t)n, sizeof(double));
    K->t = ad_malloc((size_t)n, sizeof(double));
    K->ys = ad_malloc((size_t)(nc > 0 ? nc : 1), sizeof(double));
    K->cy = ad_malloc((size_t)(nc > 0 ? nc : 1), sizeof(double));
    K->du = ad_malloc((size_t)K->N, sizeof(double));
    unsigned char *take = ad_malloc((size_t)(nc > md->p ? nc : md->p) + 1, 1);
    int dense = (md->m == 0 || md->Ab.dense) && md->p > 0 && md->Gb.dense;
    if (dense) K->gp = ad_malloc((size_t)md->p, sizeof(double));
    if (status == ALTDIFF_OK &&
        (!K->Mx || !K->xs || !K->t || !K->ys || !K->cy || !K->du || !take || (dense && !K->gp)))
        status = ALTDIFF_ERR_NOMEM;
    if (status == ALTDIFF_OK) status = form_M(md, K, Gt, take);
    if (status == ALTDIFF_OK) status = factor_M(md, K);
    ad_spfree(Gt);
    ad_free(take);
    return status;
}

/* Drop the augmented-Lagrangian solve (back to the LDL') */
void ad_kkt_al_free(ad_kkt *K)
{
    cholmod_l_free_factor(&K->LM, &K->cm);
    ad_solve_work_free(&K->ws, &K->cm);
    ad_spfree(K->Ct);
    void *arrays[] = {K->Mx, K->xs, K->ys, K->t, K->cy, K->du, K->gp};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    K->Ct = NULL;
    K->Mx = K->xs = K->ys = K->t = K->cy = K->du = K->gp = NULL;
    K->al = 0;
}
