/*
 * gen.c: "altdiff gen FAMILY OUTDIR [key=value ...]" writes a problem
 * directory (P.mtx lower triangle, q.mtx, A.mtx b.mtx, G.mtx h.mtx) for
 *
 *   dense       the Alt-Diff paper's random QP: P = M'M, M n x n, and q, A,
 *               G standard normal; b = A x0, h = G x0 + u (x0 normal, u
 *               uniform [0,1)) so x0 is feasible, or with feasible=0 b and h
 *               standard normal as in the paper (maybe infeasible).
 *   sparsemax   projection of y ~ N(0,I) onto the simplex: P = I, q = -y,
 *               A = 1', b = 1, G = [-I; I], h = [0; 1].
 *   manycon     many inequalities (p = ratio n), no equalities: P = B'B +
 *               0.1 I with B sparse (3 nonzeros per column), G sparse
 *               (min(density, n) nonzeros per row); (x0, nu0) is the exact KKT
 *               point by construction with exactly min(floor(p/2), floor(n/2))
 *               rows active (more than n would make it degenerate).
 *   grid        P = 5-point Laplacian of a k x k grid + 0.01 I (its Cholesky
 *               factor stays sparse under nested dissection), q normal, box
 *               -1 <= x <= 1, and k 2x2 blocks of the grid summing to 0.
 *               O(n) time and memory.
 *   randsparse  P = B'B + 0.01 I, A, G random sparse with a given density
 *               (no empty row), b, h as in dense: shows fill-in.
 *   entropy     the constrained softmax of the Alt-Diff paper: minimize
 *               -y'x + sum x_i log x_i s.t. A x = b, G x <= h, with y, A, G
 *               standard normal (A, G dense, or random sparse with no empty
 *               row when density < 1); x0 uniform in [0.5, 1.5)/n (strictly
 *               positive), b = A x0, h = G x0 + u/n, u uniform [0,1). Writes
 *               y.mtx instead of P.mtx and q.mtx (altdiff solve --objective
 *               entropy; cli_gen_read_dir reads it back).
 *
 *   control, portfolio, lasso, huber, svm, eqqp, randqp
 *               the benchmark classes of first-order QP solvers, as in the
 *               OSQP benchmark suite (see "the benchmark classes" below).
 *
 * Everything is drawn from one splitmix64 stream seeded by seed=S in a fixed
 * order, so the same arguments give byte-identical files. Matrices are built
 * as CSC (gen_sp) with sorted columns; P holds its lower triangle (i >= j).
 * Extra files: x_feas.mtx (dense and randsparse with feasible=1, entropy: the
 * feasible point x0), x_true.mtx and nu_true.mtx (manycon: the solution).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "gen.h"

#define GEN_MAX_DIM 1000000000LL /* largest n, m, p accepted      */
#define GEN_NB 64                /* dense M'M: columns per tile    */
#define GEN_KB 256               /* dense M'M: rows per tile panel */

/* ---- memory and sparse matrices: the generator's own (it uses only the
 * public altdiff.h, not the library's internal substrate) ---------------- */

/* A compressed-column matrix with sorted columns: column j holds rows
 * i[p[j] .. p[j+1]-1] with values x[...] (m x n, room for nzmax entries) */
typedef struct {
    altdiff_int nzmax, m, n, *p, *i;
    double *x;
} gen_sp;

/* count * size bytes (at least one), NULL on overflow or failure */
static void *gen_malloc(size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (size == 0) size = 1;
    return count > SIZE_MAX / size ? NULL : malloc(count * size);
}

static void *gen_calloc(size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (size == 0) size = 1;
    return count > SIZE_MAX / size ? NULL : calloc(count, size);
}

/* NULL on failure, ptr then kept */
static void *gen_realloc(void *ptr, size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (size == 0) size = 1;
    return count > SIZE_MAX / size ? NULL : realloc(ptr, count * size);
}

/* free(ptr); returns NULL */
static void *gen_free(void *ptr)
{
    free(ptr);
    return NULL;
}

static gen_sp *gen_spfree(gen_sp *A)
{
    if (!A) return NULL;
    free(A->p);
    free(A->i);
    free(A->x);
    return gen_free(A);
}

/* m x n with room for nzmax entries, column pointers zero */
static gen_sp *gen_spalloc(altdiff_int m, altdiff_int n, altdiff_int nzmax)
{
    gen_sp *A = gen_calloc(1, sizeof(gen_sp));
    if (!A) return NULL;
    A->m = m;
    A->n = n;
    A->nzmax = nzmax;
    A->p = gen_calloc((size_t)n + 1, sizeof(altdiff_int));
    A->i = gen_malloc((size_t)nzmax, sizeof(altdiff_int));
    A->x = gen_malloc((size_t)nzmax, sizeof(double));
    return (A->p && A->i && A->x) ? A : gen_spfree(A);
}

/* A' (its columns sorted), or NULL if out of memory */
static gen_sp *gen_transpose(const gen_sp *A)
{
    altdiff_int m = A->m, n = A->n, *Ap = A->p, sum = 0;
    gen_sp *C = gen_spalloc(n, m, Ap[n]);
    altdiff_int *w = gen_calloc((size_t)m + 1, sizeof(altdiff_int));
    if (!C || !w) {
        free(w);
        return gen_spfree(C);
    }
    for (altdiff_int t = 0; t < Ap[n]; t++) w[A->i[t]]++; /* row counts */
    for (altdiff_int i = 0; i < m; i++) { /* w = where row i's entries go */
        C->p[i] = sum;
        sum += w[i];
        w[i] = C->p[i];
    }
    C->p[m] = sum;
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = Ap[j]; t < Ap[j + 1]; t++) {
            altdiff_int q = w[A->i[t]]++;
            C->i[q] = j; /* C(j,i) = A(i,j) */
            C->x[q] = A->x[t];
        }
    free(w);
    return C;
}

/* y += A x */
static void gen_gaxpy(const gen_sp *A, const double *x, double *y)
{
    for (altdiff_int j = 0; j < A->n; j++)
        for (altdiff_int t = A->p[j]; t < A->p[j + 1]; t++) y[A->i[t]] += A->x[t] * x[j];
}

/* y += A' x */
static void gen_gatxpy(const gen_sp *A, const double *x, double *y)
{
    for (altdiff_int j = 0; j < A->n; j++) {
        double yj = 0;
        for (altdiff_int t = A->p[j]; t < A->p[j + 1]; t++) yj += A->x[t] * x[A->i[t]];
        y[j] += yj;
    }
}

static double gen_max(double a, double b) { return (a > b || a != a) ? a : b; }

static double gen_nrm_inf(const double *x, altdiff_int n)
{
    double v = 0;
    for (altdiff_int k = 0; k < n; k++) v = gen_max(v, fabs(x[k]));
    return v;
}

/* ---- random numbers: splitmix64, Box-Muller ----------------------------- */

typedef struct {
    uint64_t s;
} gen_rng;

static uint64_t gen_next(gen_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [0,1) with 53 random bits */
static double gen_unif(gen_rng *r) { return (double)(gen_next(r) >> 11) * 0x1.0p-53; }

/* standard normal (Box-Muller, one value per call) */
static double gen_normal(gen_rng *r)
{
    double u1 = 1.0 - gen_unif(r), u2 = gen_unif(r); /* u1 in (0,1] */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* uniform integer in 0..n-1 (n <= 2^53) */
static altdiff_int gen_index(gen_rng *r, altdiff_int n)
{
    altdiff_int i = (altdiff_int)(gen_unif(r) * (double)n);
    return i < n ? i : n - 1;
}

/* x = n standard normals, or NULL if out of memory */
static double *gen_normals(gen_rng *r, altdiff_int n)
{
    double *x = gen_malloc((size_t)n, sizeof(double));
    if (x)
        for (altdiff_int k = 0; k < n; k++) x[k] = gen_normal(r);
    return x;
}

static int gen_cmp_int(const void *a, const void *b)
{
    altdiff_int x = *(const altdiff_int *)a, y = *(const altdiff_int *)b;
    return (x > y) - (x < y);
}

/* out[0..d-1] = d distinct indices of 0..n-1, sorted (Floyd's algorithm).
 * mark (n) must hold no entry equal to stamp; entries drawn become stamp. */
static void gen_sample(gen_rng *r, altdiff_int n, altdiff_int d, altdiff_int *out,
                       altdiff_int *mark, altdiff_int stamp)
{
    for (altdiff_int c = 0, j = n - d; j < n; j++, c++) {
        altdiff_int t = gen_index(r, j + 1); /* t in 0..j        */
        if (mark[t] == stamp) t = j;         /* taken: j is new  */
        mark[t] = stamp;
        out[c] = t;
    }
    qsort(out, (size_t)d, sizeof(altdiff_int), gen_cmp_int);
}

/* ---- matrices ----------------------------------------------------------- */

/* nrow x ncol with d distinct random rows per column, standard normal values */
static gen_sp *gen_randcols(gen_rng *r, altdiff_int nrow, altdiff_int ncol, altdiff_int d)
{
    gen_sp *C = gen_spalloc(nrow, ncol, ncol * d);
    altdiff_int *mark = gen_malloc((size_t)nrow, sizeof(altdiff_int));
    if (!C || !mark) {
        gen_free(mark);
        return gen_spfree(C);
    }
    for (altdiff_int i = 0; i < nrow; i++) mark[i] = -1;
    for (altdiff_int j = 0; j < ncol; j++) {
        C->p[j] = j * d;
        gen_sample(r, nrow, d, C->i + j * d, mark, j); /* pattern of C(:,j) */
        for (altdiff_int t = j * d; t < (j + 1) * d; t++) C->x[t] = gen_normal(r);
    }
    C->p[ncol] = ncol * d;
    gen_free(mark);
    return C;
}

/* nrow x ncol with d distinct random columns per row (the transpose of
 * gen_randcols), so that no row is empty when d >= 1 */
static gen_sp *gen_randrows(gen_rng *r, altdiff_int nrow, altdiff_int ncol, altdiff_int d)
{
    gen_sp *Ct = gen_randcols(r, ncol, nrow, d);
    gen_sp *C = Ct ? gen_transpose(Ct) : NULL;
    gen_spfree(Ct);
    return C;
}

/* m x n with every entry standard normal (column-major draw order) */
static gen_sp *gen_densecsc(gen_rng *r, altdiff_int m, altdiff_int n)
{
    gen_sp *C = gen_spalloc(m, n, m * n);
    if (!C) return NULL;
    for (altdiff_int j = 0; j < n; j++) {
        C->p[j] = j * m;
        for (altdiff_int i = 0; i < m; i++) {
            C->i[j * m + i] = i;
            C->x[j * m + i] = gen_normal(r); /* C_ij ~ N(0,1) */
        }
    }
    C->p[n] = m * n;
    return C;
}

/* Column j of tril(B'B) + shift I: pattern list[0..len-1] (unsorted, the
 * diagonal first) and values w[list[.]]; mark (n) gets stamp j. Returns len.
 * Bt = B', so column k of Bt is row k of B. */
static altdiff_int gen_gram_col(const gen_sp *B, const gen_sp *Bt, altdiff_int j, double shift,
                                altdiff_int *mark, altdiff_int *list, double *w)
{
    altdiff_int *Bp = B->p, *Bi = B->i, *Btp = Bt->p, *Bti = Bt->i, len = 1;
    double *Bx = B->x, *Btx = Bt->x;
    list[0] = j;
    mark[j] = j;
    w[j] = shift; /* shift I */
    for (altdiff_int t = Bp[j]; t < Bp[j + 1]; t++) {
        altdiff_int k = Bi[t];
        for (altdiff_int u = Btp[k]; u < Btp[k + 1]; u++) {
            altdiff_int i = Bti[u];
            if (i < j) continue; /* lower triangle only */
            if (mark[i] != j) {
                mark[i] = j;
                w[i] = 0;
                list[len++] = i;
            }
            w[i] += Btx[u] * Bx[t]; /* (B'B)_ij += B_ki B_kj */
        }
    }
    return len;
}

/* Count the entries of tril(B'B) + shift I (pass 1 of gen_gram_lower) */
static altdiff_int gen_gram_count(const gen_sp *B, const gen_sp *Bt, altdiff_int *mark,
                                  altdiff_int *list, double *w)
{
    altdiff_int nz = 0;
    for (altdiff_int j = 0; j < B->n; j++) nz += gen_gram_col(B, Bt, j, 0, mark, list, w);
    for (altdiff_int j = 0; j < B->n; j++) mark[j] = -1;
    return nz;
}

/* P = tril(B'B) + shift I (shift > 0 puts every diagonal entry in), columns
 * sorted. NULL if out of memory. */
static gen_sp *gen_gram_lower(const gen_sp *B, double shift)
{
    altdiff_int n = B->n, nz = 0;
    gen_sp *P = NULL, *Bt = gen_transpose(B);
    altdiff_int *mark = gen_malloc((size_t)n, sizeof(altdiff_int));
    altdiff_int *list = gen_malloc((size_t)n, sizeof(altdiff_int));
    double *w = gen_malloc((size_t)n, sizeof(double));
    if (!Bt || !mark || !list || !w) goto done;
    for (altdiff_int j = 0; j < n; j++) mark[j] = -1;
    P = gen_spalloc(n, n, gen_gram_count(B, Bt, mark, list, w));
    if (!P) goto done;
    for (altdiff_int j = 0; j < n; j++) {
        altdiff_int len = gen_gram_col(B, Bt, j, shift, mark, list, w);
        qsort(list, (size_t)len, sizeof(altdiff_int), gen_cmp_int);
        P->p[j] = nz;
        for (altdiff_int c = 0; c < len; c++, nz++) {
            P->i[nz] = list[c];
            P->x[nz] = w[list[c]]; /* P_ij = (B'B)_ij + shift [i = j] */
        }
    }
    P->p[n] = nz;
done:
    gen_spfree(Bt);
    gen_free(mark);
    gen_free(list);
    gen_free(w);
    return P;
}

/* P_ij += M(kb:ke,i)' M(kb:ke,j) for the tile jb <= j < je, max(ib,j) <= i <
 * ie; pj[i] is P_ij (column j holds rows j..n-1 contiguously). Four columns
 * i at a time, each dot product summed in row order. */
static void gen_gram_tile(const double *M, altdiff_int n, gen_sp *P, altdiff_int jb, altdiff_int ib,
                          altdiff_int kb)
{
    altdiff_int je = jb + GEN_NB < n ? jb + GEN_NB : n, ie = ib + GEN_NB < n ? ib + GEN_NB : n;
    altdiff_int len = (kb + GEN_KB < n ? kb + GEN_KB : n) - kb;
    for (altdiff_int j = jb; j < je; j++) {
        const double *mj = M + j * n + kb;
        double *pj = P->x + P->p[j] - j; /* pj[i] = P_ij */
        altdiff_int i = ib > j ? ib : j;
        for (; i + 3 < ie; i += 4) {
            const double *a = M + i * n + kb, *b = a + n, *c = b + n, *d = c + n;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (altdiff_int k = 0; k < len; k++) {
                s0 += a[k] * mj[k]; /* M(:,i)'M(:,j)   */
                s1 += b[k] * mj[k]; /* M(:,i+1)'M(:,j) */
                s2 += c[k] * mj[k];
                s3 += d[k] * mj[k];
            }
            pj[i] += s0;
            pj[i + 1] += s1;
            pj[i + 2] += s2;
            pj[i + 3] += s3;
        }
        for (; i < ie; i++) {
            const double *a = M + i * n + kb;
            double s = 0;
            for (altdiff_int k = 0; k < len; k++) s += a[k] * mj[k];
            pj[i] += s;
        }
    }
}

/* P = tril(M'M) for M n x n column-major (all n(n+1)/2 entries stored),
 * computed in GEN_NB x GEN_NB tiles over GEN_KB-row panels kept in cache */
static gen_sp *gen_gram_dense(const double *M, altdiff_int n)
{
    gen_sp *P = gen_spalloc(n, n, n * (n + 1) / 2);
    if (!P) return NULL;
    for (altdiff_int j = 0, t = 0; j < n; j++) {
        P->p[j] = t;
        for (altdiff_int i = j; i < n; i++, t++) {
            P->i[t] = i;
            P->x[t] = 0;
        }
    }
    P->p[n] = n * (n + 1) / 2;
    for (altdiff_int jb = 0; jb < n; jb += GEN_NB)
        for (altdiff_int ib = jb; ib < n; ib += GEN_NB)
            for (altdiff_int kb = 0; kb < n; kb += GEN_KB) gen_gram_tile(M, n, P, jb, ib, kb);
    return P;
}

/* y += P x for symmetric P of which one triangle is stored */
static void gen_symv(const gen_sp *P, const double *x, double *y)
{
    altdiff_int n = P->n, *Pp = P->p, *Pi = P->i;
    double *Px = P->x;
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = Pp[j]; t < Pp[j + 1]; t++) {
            altdiff_int i = Pi[t];
            y[i] += Px[t] * x[j];             /* y_i += P_ij x_j */
            if (i != j) y[j] += Px[t] * x[i]; /* y_j += P_ji x_i */
        }
}

/* ---- generated problems ------------------------------------------------- */

typedef struct {
    altdiff_int n, m, p, k; /* sizes (m, p < 0: family default); grid side k */
    double ratio, density;  /* manycon p = ratio n; nonzeros per row / density */
    int feasible;           /* dense, randsparse: b, h from a feasible x0      */
    uint64_t seed;
} gen_opts;

typedef struct {
    altdiff_int n, m, p;
    gen_sp *P;      /* n x n, lower triangle; NULL for the entropy    */
    gen_sp *A, *G;  /* m x n, p x n; NULL when m = 0 (p = 0)          */
    double *q;     /* n, or NULL (entropy)                           */
    double *y;     /* n: the entropy's y, or NULL                    */
    double *b, *h; /* m, p; NULL when empty                          */
    double *x0;    /* n: feasible point or solution, or NULL         */
    double *nu0;   /* p: multipliers of the solution (manycon), NULL */
    const char *x0_file;
} gen_problem;

static void gen_problem_free(gen_problem *g)
{
    gen_spfree(g->P);
    gen_spfree(g->A);
    gen_spfree(g->G);
    gen_free(g->q);
    gen_free(g->y);
    gen_free(g->b);
    gen_free(g->h);
    gen_free(g->x0);
    gen_free(g->nu0);
}

/* b = A x0, h = G x0 + u with x0 ~ N(0,I), u ~ U[0,1)^p (x0 is feasible,
 * kept as x_feas.mtx); or, feasible = 0, b ~ N(0,I), h ~ N(0,I) */
static int gen_rhs(gen_rng *r, int feasible, gen_problem *g)
{
    altdiff_int m = g->m, p = g->p;
    if (!feasible) {
        g->b = m ? gen_normals(r, m) : NULL;
        g->h = p ? gen_normals(r, p) : NULL;
        return ((m && !g->b) || (p && !g->h)) ? ALTDIFF_ERR_NOMEM : ALTDIFF_OK;
    }
    g->x0 = gen_normals(r, g->n);
    g->x0_file = "x_feas.mtx";
    g->b = m ? gen_calloc((size_t)m, sizeof(double)) : NULL;
    g->h = p ? gen_calloc((size_t)p, sizeof(double)) : NULL;
    if (!g->x0 || (m && !g->b) || (p && !g->h)) return ALTDIFF_ERR_NOMEM;
    if (m) gen_gaxpy(g->A, g->x0, g->b); /* b = A x0 */
    if (p) gen_gaxpy(g->G, g->x0, g->h); /* h = G x0 */
    for (altdiff_int i = 0; i < p; i++) {
        g->h[i] += gen_unif(r); /* h = G x0 + u */
    }
    return ALTDIFF_OK;
}

/* dense: P = M'M (M n x n), q, A (m x n), G (p x n) ~ N(0,1); b, h by gen_rhs */
static int gen_make_dense(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n;
    double *M = gen_normals(r, n * n);
    g->P = M ? gen_gram_dense(M, n) : NULL;
    gen_free(M);
    if (!g->P) return ALTDIFF_ERR_NOMEM;
    g->q = gen_normals(r, n);
    g->A = g->m ? gen_densecsc(r, g->m, n) : NULL;
    g->G = g->p ? gen_densecsc(r, g->p, n) : NULL;
    if (!g->q || (g->m && !g->A) || (g->p && !g->G)) return ALTDIFF_ERR_NOMEM;
    return gen_rhs(r, o->feasible, g);
}

/* sparsemax: P = I, q = -y (y ~ N(0,I)), A = 1' b = 1, G = [-I; I], h = [0; 1] */
static int gen_make_sparsemax(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n;
    g->P = gen_spalloc(n, n, n);
    g->A = gen_spalloc(1, n, n);
    g->G = gen_spalloc(2 * n, n, 2 * n);
    g->q = gen_malloc((size_t)n, sizeof(double));
    g->b = gen_malloc(1, sizeof(double));
    g->h = gen_malloc(2 * (size_t)n, sizeof(double));
    if (!g->P || !g->A || !g->G || !g->q || !g->b || !g->h) return ALTDIFF_ERR_NOMEM;
    for (altdiff_int j = 0; j < n; j++) {
        g->P->p[j] = g->A->p[j] = j;
        g->P->i[j] = j; /* P = I  */
        g->A->i[j] = 0; /* A = 1' */
        g->P->x[j] = g->A->x[j] = 1;
        g->G->p[j] = 2 * j;
        g->G->i[2 * j] = j; /* -x_j <= 0 */
        g->G->x[2 * j] = -1;
        g->h[j] = 0;
        g->G->i[2 * j + 1] = n + j; /* x_j <= 1 */
        g->G->x[2 * j + 1] = 1;
        g->h[n + j] = 1;
        g->q[j] = -gen_normal(r); /* q = -y */
    }
    g->P->p[n] = n;
    g->A->p[n] = n;
    g->G->p[n] = 2 * n;
    g->b[0] = 1; /* 1'x = 1 */
    return ALTDIFF_OK;
}

/* manycon multipliers: nu0_i ~ U[0.1,1) on na random rows, 0 elsewhere */
static double *gen_nu_active(gen_rng *r, altdiff_int p, altdiff_int na)
{
    double *nu = gen_calloc((size_t)p, sizeof(double));
    altdiff_int *mark = gen_malloc((size_t)p, sizeof(altdiff_int));
    altdiff_int *act = gen_malloc((size_t)na, sizeof(altdiff_int));
    if (nu && mark && act) {
        for (altdiff_int i = 0; i < p; i++) mark[i] = -1;
        gen_sample(r, p, na, act, mark, 0);
        for (altdiff_int c = 0; c < na; c++) nu[act[c]] = 0.1 + 0.9 * gen_unif(r);
    }
    int ok = (mark && act);
    gen_free(mark);
    gen_free(act);
    return ok ? nu : gen_free(nu);
}

/* Active rows of manycon: half of them, but at most n/2: more active rows
 * than variables would make the solution degenerate (dependent active
 * constraints) and its derivative not unique */
static altdiff_int manycon_active(altdiff_int n, altdiff_int p)
{
    return p / 2 < n / 2 ? p / 2 : n / 2;
}

/* manycon: x0 ~ N(0,I); h = G x0 (+ U[0.1,1) on the rows with nu0 = 0);
 * q = -P x0 - G'nu0, so Px0 + q + G'nu0 = 0, G x0 <= h, nu0'(h - G x0) = 0 */
static int gen_make_manycon(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n, p = g->p;
    gen_sp *B = gen_randcols(r, n, n, n < 3 ? n : 3);
    g->P = B ? gen_gram_lower(B, 0.1) : NULL; /* P = B'B + 0.1 I */
    gen_spfree(B);
    g->G = g->P ? gen_randrows(r, p, n, (altdiff_int)o->density) : NULL;
    if (!g->G) return ALTDIFF_ERR_NOMEM;
    g->x0 = gen_normals(r, n);
    g->x0_file = "x_true.mtx";
    g->nu0 = gen_nu_active(r, p, manycon_active(n, p));
    g->h = gen_calloc((size_t)p, sizeof(double));
    g->q = gen_calloc((size_t)n, sizeof(double));
    if (!g->x0 || !g->nu0 || !g->h || !g->q) return ALTDIFF_ERR_NOMEM;
    gen_gaxpy(g->G, g->x0, g->h); /* h = G x0 */
    for (altdiff_int i = 0; i < p; i++) {
        if (g->nu0[i] == 0) g->h[i] += 0.1 + 0.9 * gen_unif(r); /* inactive: slack */
    }
    gen_symv(g->P, g->x0, g->q);                            /* q = P x0         */
    gen_gatxpy(g->G, g->nu0, g->q);                          /* q = P x0 + G'nu0 */
    for (altdiff_int j = 0; j < n; j++) g->q[j] = -g->q[j]; /* q = -P x0 - G'nu0 */
    return ALTDIFF_OK;
}

/* grid P = tril(L) + 0.01 I: L the 5-point Laplacian of the k x k grid,
 * node (r,c) = variable r + c k (4 on the diagonal, -1 per grid neighbor) */
static gen_sp *gen_laplacian(altdiff_int k)
{
    altdiff_int n = k * k, t = 0;
    gen_sp *P = gen_spalloc(n, n, 3 * n);
    if (!P) return NULL;
    for (altdiff_int c = 0; c < k; c++)
        for (altdiff_int r = 0; r < k; r++) {
            altdiff_int j = r + c * k;
            P->p[j] = t;
            P->i[t] = j; /* P_jj = 4 + 0.01 */
            P->x[t++] = 4.01;
            if (r + 1 < k) { /* P_ij = -1 for node i = (r+1,c) */
                P->i[t] = j + 1;
                P->x[t++] = -1;
            }
            if (c + 1 < k) { /* P_ij = -1 for node i = (r,c+1) */
                P->i[t] = j + k;
                P->x[t++] = -1;
            }
        }
    P->p[n] = t;
    return P;
}

/* grid A (k x n): row e sums a 2x2 block of the grid. The k blocks are
 * spread evenly over the floor(k/2)^2 disjoint blocks at (2a, 2b), or, when
 * fewer than k fit (k = 3, 5), over all (k-1)^2 blocks at (a, b): these
 * overlap but distinct blocks are always linearly independent. */
static gen_sp *gen_blocks(altdiff_int k)
{
    altdiff_int n = k * k, h = k / 2, s = 2; /* h x h block corners, stride s */
    if (h * h < k) {
        h = k - 1;
        s = 1;
    }
    gen_sp *At = gen_spalloc(n, k, 4 * k), *A = NULL;
    if (!At) return NULL;
    for (altdiff_int e = 0; e < k; e++) {
        altdiff_int pos = e * (h * h) / k, a = pos % h, b = pos / h;
        altdiff_int v = s * a + s * b * k, *Ai = At->i + 4 * e; /* corner (sa, sb) */
        At->p[e] = 4 * e;
        Ai[0] = v;
        Ai[1] = v + 1;
        Ai[2] = v + k;
        Ai[3] = v + k + 1;
        for (int c = 0; c < 4; c++) At->x[4 * e + c] = 1; /* sum of block = 0 */
    }
    At->p[k] = 4 * k;
    A = gen_transpose(At);
    gen_spfree(At);
    return A;
}

/* grid: P = Laplacian + 0.01 I, q ~ N(0,I), G = [I; -I], h = 1, A x = 0 with
 * A the k block sums (x = 0 is feasible) */
static int gen_make_grid(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int k = o->k, n = k * k;
    g->P = gen_laplacian(k);
    g->q = gen_normals(r, n);
    g->A = gen_blocks(k);
    g->b = gen_calloc((size_t)k, sizeof(double)); /* b = 0 */
    g->G = gen_spalloc(2 * n, n, 2 * n);
    g->h = gen_malloc(2 * (size_t)n, sizeof(double));
    if (!g->P || !g->q || !g->A || !g->b || !g->G || !g->h) return ALTDIFF_ERR_NOMEM;
    for (altdiff_int j = 0; j < n; j++) {
        g->G->p[j] = 2 * j;
        g->G->i[2 * j] = j;
        g->G->x[2 * j] = 1; /*  x_j <= 1 */
        g->G->i[2 * j + 1] = n + j;
        g->G->x[2 * j + 1] = -1; /* -x_j <= 1 */
        g->h[j] = g->h[n + j] = 1;
    }
    g->G->p[n] = 2 * n;
    return ALTDIFF_OK;
}

/* randsparse: d = max(1, round(density n)) nonzeros per column of B (n x n),
 * per row of A and of G; P = B'B + 0.01 I; b, h by gen_rhs */
static int gen_make_randsparse(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n, d = (altdiff_int)llround(o->density * (double)n);
    if (d < 1) d = 1;
    gen_sp *B = gen_randcols(r, n, n, d);
    g->P = B ? gen_gram_lower(B, 1e-2) : NULL;
    gen_spfree(B);
    g->q = gen_normals(r, n);
    g->A = g->m ? gen_randrows(r, g->m, n, d) : NULL;
    g->G = g->p ? gen_randrows(r, g->p, n, d) : NULL;
    if (!g->P || !g->q || (g->m && !g->A) || (g->p && !g->G)) return ALTDIFF_ERR_NOMEM;
    return gen_rhs(r, o->feasible, g);
}

/* nrow x n with standard normal entries: dense (density 1), else random
 * sparse with d = max(1, round(density n)) nonzeros per row */
static gen_sp *gen_rows(gen_rng *r, altdiff_int nrow, altdiff_int n, double density)
{
    altdiff_int d = (altdiff_int)llround(density * (double)n);
    if (density >= 1) return gen_densecsc(r, nrow, n);
    return gen_randrows(r, nrow, n, d < 1 ? 1 : d);
}

/* entropy (constrained softmax): y ~ N(0,I); A, G by gen_rows; x0 ~
 * U[0.5,1.5)/n > 0, b = A x0, h = G x0 + U[0,1)/n: x0 is strictly feasible
 * and in the domain x > 0, and rows of G with a small slack become active */
static int gen_make_entropy(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n, m = g->m, p = g->p;
    g->y = gen_normals(r, n);
    g->A = m ? gen_rows(r, m, n, o->density) : NULL;
    g->G = p ? gen_rows(r, p, n, o->density) : NULL;
    g->x0 = gen_malloc((size_t)n, sizeof(double));
    g->x0_file = "x_feas.mtx";
    g->b = m ? gen_calloc((size_t)m, sizeof(double)) : NULL;
    g->h = p ? gen_calloc((size_t)p, sizeof(double)) : NULL;
    if (!g->y || (m && (!g->A || !g->b)) || (p && (!g->G || !g->h)) || !g->x0)
        return ALTDIFF_ERR_NOMEM;
    for (altdiff_int j = 0; j < n; j++) g->x0[j] = (0.5 + gen_unif(r)) / (double)n; /* x0 > 0 */
    if (m) gen_gaxpy(g->A, g->x0, g->b);                                            /* b = A x0 */
    if (p) gen_gaxpy(g->G, g->x0, g->h);                                            /* h = G x0 */
    for (altdiff_int i = 0; i < p; i++) g->h[i] += gen_unif(r) / (double)n; /* h = G x0 + u/n */
    return ALTDIFF_OK;
}

/* ---- the benchmark classes of first-order QP solvers -------------------- */
/* As in the OSQP benchmark suite (Stellato et al., "OSQP: an operator
 * splitting solver for quadratic programs", 2020, appendix), implemented
 * from their definitions; d(rows) = max(1, round(density * rows)) nonzeros
 * per column (per row where said). Two-sided rows l <= a'x <= u become
 * a'x <= u and -a'x <= -l. */

/* Entries (i, j, x) collected in any order, then compressed */
typedef struct {
    altdiff_int *i, *j;
    double *x;
    altdiff_int nz, cap;
    int failed; /* an allocation failed */
} gen_coo;

static void coo_add(gen_coo *c, altdiff_int i, altdiff_int j, double x)
{
    if (c->failed) return;
    if (c->nz == c->cap) {
        altdiff_int cap = c->cap ? 2 * c->cap : 1024;
        altdiff_int *ni = gen_realloc(c->i, (size_t)cap, sizeof(altdiff_int));
        if (ni) c->i = ni;
        altdiff_int *nj = ni ? gen_realloc(c->j, (size_t)cap, sizeof(altdiff_int)) : NULL;
        if (nj) c->j = nj;
        double *nx = nj ? gen_realloc(c->x, (size_t)cap, sizeof(double)) : NULL;
        if (!nx) {
            c->failed = 1;
            return;
        }
        c->x = nx;
        c->cap = cap;
    }
    c->i[c->nz] = i;
    c->j[c->nz] = j;
    c->x[c->nz++] = x;
}

/* Add s * M at rows r0.., columns c0.. */
static void coo_add_csc(gen_coo *c, const gen_sp *M, altdiff_int r0, altdiff_int c0, double s)
{
    for (altdiff_int j = 0; j < M->n; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) coo_add(c, r0 + M->i[t], c0 + j, s * M->x[t]);
}

/* Add s * I_len at (r0, c0) */
static void coo_add_eye(gen_coo *c, altdiff_int r0, altdiff_int c0, altdiff_int len, double s)
{
    for (altdiff_int k = 0; k < len; k++) coo_add(c, r0 + k, c0 + k, s);
}

/* The m x n CSC matrix of the entries (no position twice), sorted columns:
 * bucketed by row into M', then transposed. Frees the entries. NULL if out
 * of memory. */
static gen_sp *coo_csc(gen_coo *c, altdiff_int m, altdiff_int n)
{
    gen_sp *Mt = c->failed ? NULL : gen_spalloc(n, m, c->nz), *M = NULL;
    if (Mt) {
        for (altdiff_int k = 0; k < c->nz; k++) Mt->p[c->i[k] + 1]++; /* row counts */
        for (altdiff_int r = 0; r < m; r++) Mt->p[r + 1] += Mt->p[r];
        altdiff_int *next = gen_malloc((size_t)m + 1, sizeof(altdiff_int));
        if (next) {
            memcpy(next, Mt->p, sizeof(altdiff_int) * ((size_t)m + 1));
            for (altdiff_int k = 0; k < c->nz; k++) {
                altdiff_int q = next[c->i[k]]++;
                Mt->i[q] = c->j[k]; /* M'(j,i) = M(i,j) */
                Mt->x[q] = c->x[k];
            }
            M = gen_transpose(Mt);
        }
        gen_free(next);
    }
    gen_spfree(Mt);
    gen_free(c->i);
    gen_free(c->j);
    gen_free(c->x);
    memset(c, 0, sizeof(*c));
    return M;
}

/* d(rows) = max(1, round(density rows)), at most rows */
static altdiff_int gen_per(double density, altdiff_int rows)
{
    altdiff_int d = (altdiff_int)llround(density * (double)rows);
    return d < 1 ? 1 : d > rows ? rows : d;
}

/* The random QP's P = B'B + 1e-2 I, B n x n with d(n) nonzeros per column
 * (OSQP: P = M M' + alpha I, M 15% dense) */
static gen_sp *gen_rand_P(gen_rng *r, altdiff_int n, double density)
{
    gen_sp *B = gen_randcols(r, n, n, gen_per(density, n));
    gen_sp *P = B ? gen_gram_lower(B, 1e-2) : NULL;
    gen_spfree(B);
    return P;
}

/* randqp: min 1/2 x'Px + q'x s.t. l <= A x <= u, A (m = 10 n rows) with
 * d(n) nonzeros per row, q ~ N(0,1), u_i ~ U(0,1), l_i = -U(0,1) (x = 0 is
 * strictly feasible); G = [A; -A], h = [u; -l] */
static int gen_make_randqp(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = g->n, rows = g->p / 2;
    gen_coo c = {0};
    g->P = gen_rand_P(r, n, o->density);
    g->q = gen_normals(r, n);
    gen_sp *A = gen_randrows(r, rows, n, gen_per(o->density, n));
    g->h = gen_malloc((size_t)g->p, sizeof(double));
    if (!g->P || !g->q || !A || !g->h) {
        gen_spfree(A);
        return ALTDIFF_ERR_NOMEM;
    }
    for (altdiff_int i = 0; i < rows; i++) g->h[i] = gen_unif(r);        /* u */
    for (altdiff_int i = 0; i < rows; i++) g->h[rows + i] = gen_unif(r); /* -l */
    coo_add_csc(&c, A, 0, 0, 1);     /*  A x <= u  */
    coo_add_csc(&c, A, rows, 0, -1); /* -A x <= -l */
    gen_spfree(A);
    g->G = coo_csc(&c, g->p, n);
    return g->G ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
}

/* eqqp: min 1/2 x'Px + q'x s.t. A x = b, P as randqp, A (m = n/2 rows, d(n)
 * nonzeros per row), b = A x0 with x0 ~ N(0,1) (consistent even when the
 * sparse A loses rank) */
static int gen_make_eqqp(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = g->n;
    g->P = gen_rand_P(r, n, o->density);
    g->q = gen_normals(r, n);
    g->A = g->m ? gen_randrows(r, g->m, n, gen_per(o->density, n)) : NULL;
    g->x0 = gen_normals(r, n);
    g->x0_file = "x_feas.mtx";
    g->b = g->m ? gen_calloc((size_t)g->m, sizeof(double)) : NULL;
    if (!g->P || !g->q || !g->x0 || (g->m && (!g->A || !g->b))) return ALTDIFF_ERR_NOMEM;
    if (g->m) gen_gaxpy(g->A, g->x0, g->b); /* b = A x0 */
    return ALTDIFF_OK;
}

/* P = 2 diag(w) (n x n, lower triangle = the diagonal), zeros left out */
static gen_sp *gen_diag2(const double *w, altdiff_int n)
{
    gen_coo c = {0};
    for (altdiff_int j = 0; j < n; j++)
        if (w[j] != 0) coo_add(&c, j, j, 2 * w[j]);
    return coo_csc(&c, n, n);
}

/* control: states nx = n, inputs nu = max(1, n/2), horizon T = 10:
 *   min sum_{t<T} x_t'Q x_t + u_t'R u_t + x_T'Q x_T
 *   s.t. x_{t+1} = Ad x_t + Bd u_t, x_0 = x_init, |x_t| <= 1 (t >= 1),
 *        |u_t| <= 0.5
 * Ad = s (I + D), D with d(n) N(0, 0.1^2) entries per column, scaled by
 * s = 0.95 / max(1, |I + D|_inf) so that |Ad|_inf <= 0.95 (u = 0 is then
 * feasible from x_init ~ U(-0.9, 0.9)); Bd n x nu with d(n) N(0,1) entries
 * per column; Q = diag(q_i), q_i ~ U(0,10) with probability 0.7, else 0;
 * R = 0.1 I; the terminal cost is Q (OSQP: the Riccati solution).
 * Variables z = (x_0, ..., x_T, u_0, ..., u_{T-1}); P = 2 blkdiag(Q.., R..). */
#define GEN_T 10
static int gen_make_control(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int nx = o->n, nu = nx / 2 > 0 ? nx / 2 : 1, T = GEN_T, xu = (T + 1) * nx;
    altdiff_int d = gen_per(o->density, nx);
    gen_sp *D = gen_randcols(r, nx, nx, d), *Bd = gen_randcols(r, nx, nu, d), *Ad = NULL;
    double *w = gen_calloc((size_t)g->n, sizeof(double)), *rowsum = gen_calloc((size_t)nx, sizeof(double));
    gen_coo c = {0};
    int st = (D && Bd && w && rowsum) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (st != ALTDIFF_OK) goto done;
    for (altdiff_int j = 0; j < nx; j++) { /* I + D, D_ij ~ N(0, 0.1^2) */
        int diag = 0;
        for (altdiff_int t = D->p[j]; t < D->p[j + 1]; t++) {
            diag |= D->i[t] == j;
            coo_add(&c, D->i[t], j, 0.1 * D->x[t] + (D->i[t] == j));
        }
        if (!diag) coo_add(&c, j, j, 1);
    }
    Ad = coo_csc(&c, nx, nx);
    if (!Ad) {
        st = ALTDIFF_ERR_NOMEM;
        goto done;
    }
    double s = 1; /* Ad = s (I + D) with |Ad|_inf <= 0.95 */
    for (altdiff_int t = 0; t < Ad->p[nx]; t++) rowsum[Ad->i[t]] += fabs(Ad->x[t]);
    for (altdiff_int i = 0; i < nx; i++) s = gen_max(s, rowsum[i]);
    s = 0.95 / s;
    for (altdiff_int i = 0; i < nx; i++) { /* Q on x_0 .. x_T */
        double qi = gen_unif(r) < 0.7 ? 10 * gen_unif(r) : 0;
        for (altdiff_int t = 0; t <= T; t++) w[t * nx + i] = qi;
    }
    for (altdiff_int k = xu; k < g->n; k++) w[k] = 0.1; /* R */
    g->P = gen_diag2(w, g->n);
    g->q = gen_calloc((size_t)g->n, sizeof(double));
    g->b = gen_calloc((size_t)g->m, sizeof(double));
    g->h = gen_malloc((size_t)g->p, sizeof(double));
    if (!g->P || !g->q || !g->b || !g->h) {
        st = ALTDIFF_ERR_NOMEM;
        goto done;
    }
    for (altdiff_int i = 0; i < nx; i++) g->b[i] = 1.8 * gen_unif(r) - 0.9; /* x_0 = x_init */
    coo_add_eye(&c, 0, 0, nx, 1);
    for (altdiff_int t = 0; t < T; t++) { /* x_{t+1} - Ad x_t - Bd u_t = 0 */
        coo_add_eye(&c, (t + 1) * nx, (t + 1) * nx, nx, 1);
        coo_add_csc(&c, Ad, (t + 1) * nx, t * nx, -s);
        coo_add_csc(&c, Bd, (t + 1) * nx, xu + t * nu, -1);
    }
    g->A = coo_csc(&c, g->m, g->n);
    altdiff_int boxed = g->p / 2; /* x_1 .. x_T and u: |z_k| <= bound */
    coo_add_eye(&c, 0, nx, boxed, 1);
    coo_add_eye(&c, boxed, nx, boxed, -1);
    g->G = coo_csc(&c, g->p, g->n);
    for (altdiff_int k = 0; k < boxed; k++)
        g->h[k] = g->h[boxed + k] = nx + k < xu ? 1.0 : 0.5;
    if (!g->A || !g->G) st = ALTDIFF_ERR_NOMEM;
done:
    gen_spfree(D);
    gen_spfree(Ad);
    gen_spfree(Bd);
    gen_free(w);
    gen_free(rowsum);
    return st;
}

/* portfolio: n assets, k = ceil(n/100) factors:
 *   min x'Dx + y'y - mu'x / gamma  s.t.  y = F'x, 1'x = 1, x >= 0
 * F n x k with d(n) N(0,1) entries per column, D_ii ~ U(0, sqrt(k)),
 * mu ~ N(0,1), gamma = 1. Variables z = (x, y). */
static int gen_make_portfolio(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n, k = g->m - 1, N = g->n;
    gen_sp *F = gen_randcols(r, n, k, gen_per(o->density, n));
    double *w = gen_malloc((size_t)N, sizeof(double));
    gen_coo c = {0};
    g->q = gen_calloc((size_t)N, sizeof(double));
    g->b = gen_calloc((size_t)g->m, sizeof(double));
    g->h = gen_calloc((size_t)n, sizeof(double)); /* -x <= 0 */
    if (!F || !w || !g->q || !g->b || !g->h) {
        gen_spfree(F);
        gen_free(w);
        return ALTDIFF_ERR_NOMEM;
    }
    for (altdiff_int j = 0; j < n; j++) w[j] = sqrt((double)k) * gen_unif(r); /* D */
    for (altdiff_int j = n; j < N; j++) w[j] = 1;                             /* y'y */
    for (altdiff_int j = 0; j < n; j++) g->q[j] = -gen_normal(r);             /* -mu */
    g->P = gen_diag2(w, N);
    gen_free(w);
    gen_sp *Ft = gen_transpose(F);
    if (Ft) coo_add_csc(&c, Ft, 0, 0, 1); /* F'x - y = 0 */
    coo_add_eye(&c, 0, n, k, -1);
    for (altdiff_int j = 0; j < n; j++) coo_add(&c, k, j, 1); /* 1'x = 1 */
    g->b[k] = 1;
    g->A = Ft ? coo_csc(&c, g->m, N) : NULL;
    coo_add_eye(&c, 0, 0, n, -1);
    g->G = coo_csc(&c, n, N);
    gen_spfree(F);
    gen_spfree(Ft);
    return g->P && g->A && g->G ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
}

/* Data of the regression classes: A (rows x n, d(n) N(0,1) entries per
 * row) and v with v_i = 0 or N(0, 1/n) with probability 1/2 each (sparse,
 * lasso) or v ~ N(0, 1/n) (huber) */
static gen_sp *gen_regression(gen_rng *r, altdiff_int rows, altdiff_int n, double density,
                             int sparse_v, double **v)
{
    gen_sp *A = gen_randrows(r, rows, n, gen_per(density, n));
    *v = gen_malloc((size_t)n, sizeof(double));
    if (!A || !*v) {
        *v = gen_free(*v);
        return gen_spfree(A);
    }
    for (altdiff_int j = 0; j < n; j++) {
        int zero = sparse_v && gen_unif(r) < 0.5;
        (*v)[j] = zero ? 0 : gen_normal(r) / sqrt((double)n);
    }
    return A;
}

/* lasso: min 1/2 |A x - b|^2 + lambda |x|_1 (rows = 100 n data points) as
 *   min y'y + lambda 1't  s.t.  y = A x - b,  -t <= x <= t
 * b = A v + e, e ~ N(0,1), lambda = |A'b|_inf / 5. z = (x, y, t). */
static int gen_make_lasso(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n, rows = g->m, N = g->n;
    double *v = NULL, *w = gen_calloc((size_t)N, sizeof(double)), *atb = gen_calloc((size_t)n, sizeof(double));
    gen_sp *A = gen_regression(r, rows, n, o->density, 1, &v);
    gen_coo c = {0};
    g->q = gen_calloc((size_t)N, sizeof(double));
    g->b = gen_calloc((size_t)rows, sizeof(double));
    g->h = gen_calloc((size_t)g->p, sizeof(double));
    int st = (A && w && atb && g->q && g->b && g->h) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (st == ALTDIFF_OK) {
        gen_gaxpy(A, v, g->b);                                                /* b = A v     */
        for (altdiff_int i = 0; i < rows; i++) g->b[i] += gen_normal(r);     /*   + e       */
        gen_gatxpy(A, g->b, atb);
        double lambda = gen_nrm_inf(atb, n) / 5;
        for (altdiff_int j = n + rows; j < N; j++) g->q[j] = lambda;         /* lambda 1't  */
        for (altdiff_int j = n; j < n + rows; j++) w[j] = 1;                 /* y'y         */
        g->P = gen_diag2(w, N);
        coo_add_csc(&c, A, 0, 0, 1); /* A x - y = b */
        coo_add_eye(&c, 0, n, rows, -1);
        g->A = coo_csc(&c, rows, N);
        coo_add_eye(&c, 0, 0, n, 1);           /*  x - t <= 0 */
        coo_add_eye(&c, 0, n + rows, n, -1);
        coo_add_eye(&c, n, 0, n, -1);          /* -x - t <= 0 */
        coo_add_eye(&c, n, n + rows, n, -1);
        g->G = coo_csc(&c, g->p, N);
        if (!g->P || !g->A || !g->G) st = ALTDIFF_ERR_NOMEM;
    }
    gen_spfree(A);
    gen_free(v);
    gen_free(w);
    gen_free(atb);
    return st;
}

/* huber: min sum_i huber_M(a_i'x - b_i), M = 1 (rows = 100 n) as
 *   min u'u + 2M 1'(r + s)  s.t.  A x - u - r + s = b,  r >= 0, s >= 0
 * b = A v + e, e_i ~ N(0, 1/4) with probability 0.95, else U(0, 10).
 * z = (x, u, r, s). */
static int gen_make_huber(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n, rows = g->m, N = g->n;
    double *v = NULL, *w = gen_calloc((size_t)N, sizeof(double));
    gen_sp *A = gen_regression(r, rows, n, o->density, 0, &v);
    gen_coo c = {0};
    g->q = gen_calloc((size_t)N, sizeof(double));
    g->b = gen_calloc((size_t)rows, sizeof(double));
    g->h = gen_calloc((size_t)g->p, sizeof(double)); /* -r <= 0, -s <= 0 */
    int st = (A && w && g->q && g->b && g->h) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (st == ALTDIFF_OK) {
        gen_gaxpy(A, v, g->b); /* b = A v + e */
        for (altdiff_int i = 0; i < rows; i++)
            g->b[i] += gen_unif(r) < 0.95 ? 0.5 * gen_normal(r) : 10 * gen_unif(r);
        for (altdiff_int j = n; j < n + rows; j++) w[j] = 1;        /* u'u       */
        for (altdiff_int j = n + rows; j < N; j++) g->q[j] = 2;     /* 2M (r + s) */
        g->P = gen_diag2(w, N);
        coo_add_csc(&c, A, 0, 0, 1); /* A x - u - r + s = b */
        coo_add_eye(&c, 0, n, rows, -1);
        coo_add_eye(&c, 0, n + rows, rows, -1);
        coo_add_eye(&c, 0, n + 2 * rows, rows, 1);
        g->A = coo_csc(&c, rows, N);
        coo_add_eye(&c, 0, n + rows, 2 * rows, -1);
        g->G = coo_csc(&c, g->p, N);
        if (!g->P || !g->A || !g->G) st = ALTDIFF_ERR_NOMEM;
    }
    gen_spfree(A);
    gen_free(v);
    gen_free(w);
    return st;
}

/* svm: min x'x + lambda sum_i max(0, b_i a_i'x + 1), lambda = 1, rows =
 * 100 n samples, b_i = +1 for the first half, -1 for the rest, a_i with
 * d(n) entries N(+-1/n, 1/n) (the sign of b_i) as
 *   min x'x + lambda 1't  s.t.  t >= diag(b) A x + 1,  t >= 0
 * z = (x, t). */
static int gen_make_svm(const gen_opts *o, gen_rng *r, gen_problem *g)
{
    altdiff_int n = o->n, rows = g->p / 2, N = g->n, half = (rows + 1) / 2;
    double *w = gen_calloc((size_t)N, sizeof(double));
    gen_sp *A = gen_randrows(r, rows, n, gen_per(o->density, n));
    gen_coo c = {0};
    g->q = gen_calloc((size_t)N, sizeof(double));
    g->h = gen_calloc((size_t)g->p, sizeof(double));
    int st = (A && w && g->q && g->h) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (st == ALTDIFF_OK) {
        for (altdiff_int t = 0; t < A->p[n]; t++) { /* b_i a_ij, a_ij ~ N(b_i/n, 1/n) */
            double bi = A->i[t] < half ? 1 : -1;
            A->x[t] = bi * (bi / (double)n + A->x[t] / sqrt((double)n));
        }
        for (altdiff_int j = 0; j < n; j++) w[j] = 1;         /* x'x       */
        for (altdiff_int j = n; j < N; j++) g->q[j] = 1;      /* lambda 1't */
        for (altdiff_int i = 0; i < rows; i++) g->h[i] = -1;  /* diag(b)A x - t <= -1 */
        g->P = gen_diag2(w, N);
        coo_add_csc(&c, A, 0, 0, 1);
        coo_add_eye(&c, 0, n, rows, -1);
        coo_add_eye(&c, rows, n, rows, -1); /* -t <= 0 */
        g->G = coo_csc(&c, g->p, N);
        if (!g->P || !g->G) st = ALTDIFF_ERR_NOMEM;
    }
    gen_spfree(A);
    gen_free(w);
    return st;
}

/* ---- families and options ----------------------------------------------- */

typedef struct {
    const char *name;
    const char *keys; /* accepted keys, space separated */
    int (*make)(const gen_opts *o, gen_rng *r, gen_problem *g);
} gen_family;

static const gen_family gen_families[] = {
    {"dense", "n m p feasible seed", gen_make_dense},
    {"sparsemax", "n seed", gen_make_sparsemax},
    {"manycon", "n ratio density seed", gen_make_manycon},
    {"grid", "k seed", gen_make_grid},
    {"randsparse", "n density m p feasible seed", gen_make_randsparse},
    {"entropy", "n m p density seed", gen_make_entropy},
    {"control", "n density seed", gen_make_control},
    {"portfolio", "n density seed", gen_make_portfolio},
    {"lasso", "n m density seed", gen_make_lasso},
    {"huber", "n m density seed", gen_make_huber},
    {"svm", "n m density seed", gen_make_svm},
    {"eqqp", "n m density seed", gen_make_eqqp},
    {"randqp", "n m density seed", gen_make_randqp},
};
#define GEN_NFAMILIES (sizeof(gen_families) / sizeof(gen_families[0]))

void cli_gen_usage(FILE *f)
{
    fputs("altdiff gen FAMILY OUTDIR [key=value ...]\n"
          "  Write a problem directory OUTDIR/{P,q,A,b,G,h}.mtx (entropy: y.mtx instead of\n"
          "  P.mtx and q.mtx; created as by mkdir -p; A/b omitted when m = 0, G/h when\n"
          "  p = 0). Same keys and seed, same bytes.\n"
          "  All families take seed=S (default 1).\n"
          "  dense       n=1000 m=500 p=200 feasible=1\n"
          "              the Alt-Diff paper's QP: P = M'M with M n x n, q, A, G standard\n"
          "              normal; feasible=1: b = A x0, h = G x0 + U[0,1) (x0 normal, written\n"
          "              as x_feas.mtx); feasible=0: b, h standard normal (paper, may be\n"
          "              infeasible)\n"
          "  sparsemax   n=1000\n"
          "              projection of y ~ N(0,I) onto the simplex: P = I, q = -y, 1'x = 1,\n"
          "              0 <= x <= 1 (G = [-I; I], h = [0; 1])\n"
          "  manycon     n=1000 ratio=10 density=5\n"
          "              p = ratio*n sparse inequalities with min(density, n) nonzeros per row,\n"
          "              P = B'B + 0.1 I (B: 3 nonzeros per column), no equalities; the\n"
          "              solution (x_true.mtx, nu_true.mtx) has min(p/2, n/2) active rows\n"
          "              (half of them, but never degenerate)\n"
          "  grid        k=100\n"
          "              n = k^2 (k >= 3): P = 5-point Laplacian of a k x k grid + 0.01 I,\n"
          "              q normal, -1 <= x <= 1, m = k 2x2 grid blocks (disjoint unless\n"
          "              k = 3, 5) each summing to 0\n"
          "  randsparse  n=2000 density=0.002 m=n/10 p=n/2 feasible=1\n"
          "              P = B'B + 0.01 I; B, A, G random sparse with max(1, round(density*n))\n"
          "              nonzeros per column of B and per row of A and G; b, h as in dense\n"
          "  entropy     n=1000 m=300 p=100 density=1\n"
          "              constrained softmax (the Alt-Diff paper; solve with --objective\n"
          "              entropy): min -y'x + sum x_i log x_i s.t. A x = b, G x <= h; writes\n"
          "              y.mtx (no P.mtx, q.mtx); y, A, G standard normal, A and G dense\n"
          "              (density=1) or with max(1, round(density*n)) nonzeros per row;\n"
          "              b = A x0, h = G x0 + U[0,1)/n with x0 ~ U[0.5,1.5)/n > 0\n"
          "              (x_feas.mtx)\n",
          f);
    fputs("  The benchmark classes of first-order QP solvers (OSQP's suite; d = max(1,\n"
          "  round(density*n)) nonzeros per row or column, N(0,1) values):\n"
          "  control     n=20 density=0.1\n"
          "              MPC: n states, n/2 inputs, horizon 10, x+ = Ad x + Bd u with\n"
          "              |Ad|_inf <= 0.95, |x| <= 1, |u| <= 0.5, cost x'Qx + 0.1 u'u\n"
          "  portfolio   n=100 density=0.5\n"
          "              n assets, ceil(n/100) factors F: min x'Dx + y'y - mu'x s.t.\n"
          "              y = F'x, 1'x = 1, x >= 0\n"
          "  lasso       n=10 m=100n density=0.15\n"
          "              min 1/2|Ax - b|^2 + lambda|x|_1, A m x n, lambda = |A'b|_inf/5\n"
          "  huber       n=10 m=100n density=0.15\n"
          "              Huber fitting of b = A v + outliers (M = 1)\n"
          "  svm         n=10 m=100n density=0.15\n"
          "              min x'x + sum max(0, b_i a_i'x + 1), m samples in two classes\n"
          "  eqqp        n=100 m=n/2 density=0.15\n"
          "              P = B'B + 0.01 I, q normal, A x = b (b = A x0), A m x n\n"
          "  randqp      n=100 m=10n density=0.15\n"
          "              P as eqqp, l <= A x <= u (A m x n, u, -l ~ U(0,1)): 2m rows of G\n",
          f);
}

/* 1 if key (klen characters) is a word of the space-separated list keys */
static int gen_has_key(const char *keys, const char *key, size_t klen)
{
    for (const char *s = keys; *s;) {
        size_t len = strcspn(s, " ");
        if (len == klen && !strncmp(s, key, klen)) return 1;
        s += len;
        s += (*s == ' ');
    }
    return 0;
}

/* *v = the decimal integer in s if lo <= it <= hi; 1 on success */
static int gen_parse_int(const char *s, long long lo, long long hi, altdiff_int *v)
{
    char *end;
    if (*s < '0' || *s > '9') return 0;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x < lo || x > hi) return 0;
    *v = (altdiff_int)x;
    return 1;
}

/* *v = the finite number in s if it is > 0; 1 on success */
static int gen_parse_pos(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x) || !(x > 0)) return 0;
    *v = x;
    return 1;
}

/* Set option key (NUL terminated) from val: NULL on success, else what val
 * should have been */
static const char *gen_set(gen_opts *o, const char *key, const char *val)
{
    altdiff_int v = 0;
    if (!strcmp(key, "n"))
        return gen_parse_int(val, 1, GEN_MAX_DIM, &o->n) ? NULL : "an integer >= 1";
    if (!strcmp(key, "m"))
        return gen_parse_int(val, 0, GEN_MAX_DIM, &o->m) ? NULL : "an integer >= 0";
    if (!strcmp(key, "p"))
        return gen_parse_int(val, 0, GEN_MAX_DIM, &o->p) ? NULL : "an integer >= 0";
    if (!strcmp(key, "k"))
        return gen_parse_int(val, 3, 31622, &o->k) ? NULL : "an integer from 3 to 31622";
    if (!strcmp(key, "feasible")) {
        if (!gen_parse_int(val, 0, 1, &v)) return "0 or 1";
        o->feasible = (int)v;
        return NULL;
    }
    if (!strcmp(key, "seed")) {
        char *end;
        errno = 0;
        unsigned long long s = (*val >= '0' && *val <= '9') ? strtoull(val, &end, 10) : 0;
        if (*val < '0' || *val > '9' || errno || *end) return "an integer >= 0";
        o->seed = (uint64_t)s;
        return NULL;
    }
    if (!strcmp(key, "ratio")) return gen_parse_pos(val, &o->ratio) ? NULL : "a number > 0";
    return gen_parse_pos(val, &o->density) ? NULL : "a number > 0"; /* density */
}

/* Apply one "key=value" argument; 0 or 2 (usage error, reported) */
static int gen_option(const gen_family *f, const char *arg, gen_opts *o)
{
    const char *eq = strchr(arg, '=');
    char key[16];
    if (!eq || eq == arg) {
        fprintf(stderr, "altdiff gen: expected key=value, got '%s'\n", arg);
        return 2;
    }
    size_t klen = (size_t)(eq - arg);
    if (klen >= sizeof(key) || !gen_has_key(f->keys, arg, klen)) {
        fprintf(stderr, "altdiff gen: unknown key '%.*s' for %s (keys: %s)\n", (int)klen, arg,
                f->name, f->keys);
        return 2;
    }
    memcpy(key, arg, klen);
    key[klen] = '\0';
    const char *want = gen_set(o, key, eq + 1);
    if (want) {
        fprintf(stderr, "altdiff gen: bad value in '%s': %s must be %s\n", arg, key, want);
        return 2;
    }
    return 0;
}

/* 1 for the benchmark classes of first-order QP solvers (control ... randqp) */
static int gen_is_bench_class(const char *name)
{
    static const char *names[] = {"control", "portfolio", "lasso", "huber", "svm", "eqqp",
                                  "randqp"};
    for (int k = 0; k < 7; k++)
        if (!strcmp(name, names[k])) return 1;
    return 0;
}

/* Sizes of the benchmark classes from n and m (< 0: the class default):
 * variables, equality and inequality rows (see each gen_make_*) */
static void gen_class_sizes(const char *fam, const gen_opts *o, gen_problem *g)
{
    altdiff_int n = o->n, m = o->m;
    if (!strcmp(fam, "control")) { /* nx = n, nu = max(1, n/2), T = 10 */
        altdiff_int nu = n / 2 > 0 ? n / 2 : 1;
        g->n = (GEN_T + 1) * n + GEN_T * nu;
        g->m = (GEN_T + 1) * n;
        g->p = 2 * (GEN_T * n + GEN_T * nu);
    } else if (!strcmp(fam, "portfolio")) { /* k = ceil(n/100) factors */
        altdiff_int k = (n + 99) / 100;
        g->n = n + k;
        g->m = k + 1;
        g->p = n;
    } else if (!strcmp(fam, "lasso")) { /* rows = m (default 100 n) */
        m = m >= 0 ? m : 100 * n;
        g->n = 2 * n + m;
        g->m = m;
        g->p = 2 * n;
    } else if (!strcmp(fam, "huber")) {
        m = m >= 0 ? m : 100 * n;
        g->n = n + 3 * m;
        g->m = m;
        g->p = 2 * m;
    } else if (!strcmp(fam, "svm")) {
        m = m >= 0 ? m : 100 * n;
        g->n = n + m;
        g->m = 0;
        g->p = 2 * m;
    } else if (!strcmp(fam, "eqqp")) {
        g->n = n;
        g->m = m >= 0 ? m : n / 2;
        g->p = 0;
    } else { /* randqp: m = 10 n two-sided rows */
        g->n = n;
        g->m = 0;
        g->p = 2 * (m >= 0 ? m : 10 * n);
    }
}

/* Family defaults (m, p = -1: derived from n after parsing) */
static gen_opts gen_defaults(const gen_family *f)
{
    gen_opts o = {1000, -1, -1, 100, 10.0, 5.0, 1, 1};
    if (!strcmp(f->name, "dense")) {
        o.m = 500;
        o.p = 200;
    } else if (!strcmp(f->name, "randsparse")) {
        o.n = 2000;
        o.density = 0.002;
    } else if (!strcmp(f->name, "entropy")) {
        o.m = 300;
        o.p = 100;
        o.density = 1;
    } else if (gen_is_bench_class(f->name)) { /* OSQP's benchmark classes */
        static const char *names[] = {"control", "portfolio", "lasso", "huber", "svm", "eqqp",
                                      "randqp"};
        static const altdiff_int n[] = {20, 100, 10, 10, 10, 100, 100};
        static const double density[] = {0.1, 0.5, 0.15, 0.15, 0.15, 0.15, 0.15};
        for (int k = 0; k < 7; k++)
            if (!strcmp(f->name, names[k])) {
                o.n = n[k];
                o.density = density[k];
            }
    }
    return o;
}

/* Derive the sizes n, m, p of the problem from the options; 0 or 2 (usage
 * error, reported) */
static int gen_sizes(const gen_family *f, gen_opts *o, gen_problem *g)
{
    const char *fam = f->name, *bad = NULL;
    g->n = o->n;
    g->m = o->m >= 0 ? o->m : o->n / 10; /* randsparse defaults */
    g->p = o->p >= 0 ? o->p : o->n / 2;
    if (!strcmp(fam, "sparsemax")) {
        g->m = 1;
        g->p = 2 * o->n;
    } else if (!strcmp(fam, "grid")) {
        g->n = o->k * o->k;
        g->m = o->k;
        g->p = 2 * g->n;
    } else if (!strcmp(fam, "manycon")) {
        double p = floor(o->ratio * (double)o->n + 0.5);
        g->m = 0;
        g->p = (p >= 1 && p <= (double)GEN_MAX_DIM) ? (altdiff_int)p : 1;
        if (p < 1 || p > (double)GEN_MAX_DIM) bad = "ratio*n must round to 1 .. 1e9";
        if (o->density != floor(o->density))
            bad = "density (nonzeros per row) must be an integer";
        else if (o->density > (double)o->n)
            o->density = (double)o->n; /* at most n nonzeros per row */
    } else if (gen_is_bench_class(fam)) {
        gen_class_sizes(fam, o, g);
        if (o->density > 1) bad = "density must be in (0, 1]";
        else if (g->n > GEN_MAX_DIM || g->m > GEN_MAX_DIM || g->p > GEN_MAX_DIM)
            bad = "the problem would have more than 1e9 variables or rows";
        else if (!strcmp(fam, "svm") && g->p < 2)
            bad = "m (samples) must be >= 1";
    } else if ((!strcmp(fam, "randsparse") || !strcmp(fam, "entropy")) && o->density > 1) {
        bad = "density must be in (0, 1]";
    }
    if (bad) fprintf(stderr, "altdiff gen: %s: %s\n", fam, bad);
    return bad ? 2 : 0;
}

/* ---- output ------------------------------------------------------------- */

/* mkdir -p dir: 0, or 1 with a message */
static int gen_mkdir(const char *dir)
{
    size_t len = strlen(dir);
    char *s = gen_malloc(len + 1, 1);
    struct stat st;
    int ok = (s != NULL);
    if (ok) memcpy(s, dir, len + 1);
    for (size_t c = 1; ok && c <= len; c++) {
        if (s[c] != '/' && s[c] != '\0') continue;
        s[c] = '\0'; /* s = the first components of dir */
        ok = (mkdir(s, 0777) == 0 || errno == EEXIST);
        s[c] = dir[c];
    }
    ok = ok && stat(dir, &st) == 0;
    if (ok && !S_ISDIR(st.st_mode)) {
        ok = 0;
        errno = ENOTDIR;
    }
    if (!ok)
        fprintf(stderr, "altdiff gen: cannot create directory '%s': %s\n", dir,
                s ? strerror(errno) : "out of memory");
    gen_free(s);
    return ok ? 0 : 1;
}

/* The lower triangle L of a symmetric matrix as "coordinate real symmetric"
 * to path, with the format, round-trip precision and .tmp-then-rename of
 * altdiff_write_sparse (which takes the upper triangle: for P it would need
 * two more copies of a dense P). ALTDIFF_OK or ALTDIFF_ERR_IO, message in err */
static int gen_write_lower(const char *path, const gen_sp *L, char *err, size_t errlen)
{
    size_t len = strlen(path);
    char *tmp = gen_malloc(len + 5, 1);
    FILE *f = NULL;
    if (tmp) {
        memcpy(tmp, path, len);
        memcpy(tmp + len, ".tmp", 5); /* tmp = PATH.tmp */
        f = fopen(tmp, "wb");
    }
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp ? tmp : path,
                 tmp ? strerror(errno) : "out of memory");
        free(tmp);
        return tmp ? ALTDIFF_ERR_IO : ALTDIFF_ERR_NOMEM;
    }
    altdiff_int n = L->n;
    fprintf(f, "%%%%MatrixMarket matrix coordinate real symmetric\n%lld %lld %lld\n",
            (long long)L->m, (long long)n, (long long)L->p[n]);
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = L->p[j]; t < L->p[j + 1]; t++)
            fprintf(f, "%lld %lld %.17g\n", (long long)L->i[t] + 1, (long long)j + 1, L->x[t]);
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad = (fclose(f) != 0) || bad;
    if (!bad && rename(tmp, path) != 0) bad = 1;
    if (bad) {
        snprintf(err, errlen, "%s: write error: %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return bad ? ALTDIFF_ERR_IO : ALTDIFF_OK;
}

/* Write DIR/NAME: the sparse S (symmetric: its lower triangle) or, S NULL,
 * the vector x (len). 0, or 1 with a message. */
static int gen_write_file(const char *dir, const char *name, const gen_sp *S, int symmetric,
                          const double *x, altdiff_int len)
{
    char err[1024];
    size_t dl = strlen(dir), nl = strlen(name);
    char *path = gen_malloc(dl + nl + 2, 1);
    int rc = ALTDIFF_ERR_NOMEM;
    snprintf(err, sizeof(err), "out of memory");
    if (path) {
        memcpy(path, dir, dl);
        path[dl] = '/';
        memcpy(path + dl + 1, name, nl + 1); /* path = DIR/NAME */
        altdiff_csc M = {S ? S->m : 0, S ? S->n : 0, S ? S->p : NULL, S ? S->i : NULL,
                         S ? S->x : NULL};
        rc = S && symmetric ? gen_write_lower(path, S, err, sizeof(err))
             : S            ? altdiff_write_sparse(path, &M, 0, err, sizeof(err))
                            : altdiff_write_dense(path, x, len, 1, err, sizeof(err));
    }
    if (rc != ALTDIFF_OK) fprintf(stderr, "altdiff gen: %s\n", err);
    gen_free(path);
    return rc != ALTDIFF_OK;
}

/* Write the problem files (P.mtx and q.mtx, or y.mtx; x_feas / x_true,
 * nu_true); 0 or 1 */
static int gen_write(const char *dir, const gen_problem *g)
{
    int bad = (g->P && gen_write_file(dir, "P.mtx", g->P, 1, NULL, 0)) ||
              (g->q && gen_write_file(dir, "q.mtx", NULL, 0, g->q, g->n)) ||
              (g->y && gen_write_file(dir, "y.mtx", NULL, 0, g->y, g->n));
    if (!bad && g->m)
        bad = gen_write_file(dir, "A.mtx", g->A, 0, NULL, 0) ||
              gen_write_file(dir, "b.mtx", NULL, 0, g->b, g->m);
    if (!bad && g->p)
        bad = gen_write_file(dir, "G.mtx", g->G, 0, NULL, 0) ||
              gen_write_file(dir, "h.mtx", NULL, 0, g->h, g->p);
    if (!bad && g->x0) bad = gen_write_file(dir, g->x0_file, NULL, 0, g->x0, g->n);
    if (!bad && g->nu0) bad = gen_write_file(dir, "nu_true.mtx", NULL, 0, g->nu0, g->p);
    return bad;
}

/* Generate family f with options o into dir: the exit status */
static int gen_run(const gen_family *f, gen_opts *o, const char *dir)
{
    gen_problem g = {0};
    gen_rng r = {o->seed};
    int status = gen_sizes(f, o, &g);
    if (status || (status = gen_mkdir(dir))) goto done;
    status = 1;
    if (f->make(o, &r, &g) != ALTDIFF_OK) {
        fprintf(stderr, "altdiff gen: out of memory\n");
        goto done;
    }
    if (gen_write(dir, &g)) goto done;
    printf("%s: %s n=%lld m=%lld p=%lld nnz(tril P)=%lld nnz(A)=%lld nnz(G)=%lld\n", dir, f->name,
           (long long)g.n, (long long)g.m, (long long)g.p, (long long)(g.P ? g.P->p[g.n] : 0),
           (long long)(g.A ? g.A->p[g.n] : 0), (long long)(g.G ? g.G->p[g.n] : 0));
    status = 0;
done:
    gen_problem_free(&g);
    return status;
}

int cli_gen_main(int argc, char **argv)
{
    const gen_family *f = NULL;
    if (argc < 3 || !argv[1] || !argv[2] || !argv[2][0]) {
        fprintf(stderr, "altdiff gen: expected FAMILY OUTDIR [key=value ...]\n");
        return 2;
    }
    for (size_t c = 0; c < GEN_NFAMILIES; c++)
        if (!strcmp(argv[1], gen_families[c].name)) f = &gen_families[c];
    if (!f) {
        fprintf(stderr,
                "altdiff gen: unknown family '%s' (dense, sparsemax, manycon, grid, "
                "randsparse, entropy, control, portfolio, lasso, huber, svm, eqqp, "
                "randqp)\n",
                argv[1]);
        return 2;
    }
    gen_opts o = gen_defaults(f);
    for (int a = 3; a < argc; a++)
        if (gen_option(f, argv[a], &o)) return 2;
    return gen_run(f, &o, argv[2]);
}

/* ---- reading a problem directory back ----------------------------------- */

/* (altdiff_read_entropy_problem or altdiff_read_problem) */
int cli_gen_read_dir(const char *dir, int objective, altdiff_owned_problem **out, double **y,
                    char *err, size_t errlen)
{
    *y = NULL;
    return objective == ALTDIFF_OBJECTIVE_ENTROPY
               ? altdiff_read_entropy_problem(dir, out, y, err, errlen)
               : altdiff_read_problem(dir, out, err, errlen);
}
