/*
 * batch_bench.c: the batch path against a loop over one workspace, in one
 * run (not a test: it prints figures). For each problem and B, forward
 * (solve) and backward (VJP of q, b, h, GMRES) seconds of both paths, their
 * ratio, mean iterations, and the cosine of the batch gradients with the KKT
 * mode's, the time per element and iteration against a BLAS-3 floor (dense
 * problems; also without the elements' polishing time, which is the same
 * in both paths) and the heap bytes per element beyond the shared model
 * (after setup and solve; the backward's GMRES bases come on top, per call).
 * Each path runs REPS passes (setup, vectors, solve, VJP), the two paths in
 * turn, and every time printed is the minimum over its passes (this
 * machine's runs vary by 20-50%; the minimum is the least disturbed); the
 * polishing time taken off in "without polishing" is the last pass's.
 * Usage: altdiff-bench-batch [-c NAME] [-r REPS] [B ...]   (default REPS 3,
 * B 1 16 64 256; NAME picks the cases dense100, dense500, sparsemax,
 * randsparse, grid by part of the name)
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "altdiff.h"
#include "bench_common.h"

/* A problem with per-element vectors Q (n x B), Bv (m x B), Hv (p x B) */
typedef struct {
    const char *name;
    altdiff_int n, m, p, B;
    altdiff_int *Pp, *Pi, *Ap, *Ai, *Gp, *Gi;
    double *Px, *Ax, *Gx, *Q, *Bv, *Hv;
    double *Pd, *Ad, *Gd;  /* dense: the matrices column-major (for the floor) */
    altdiff_problem prob;
} case_t;

void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info);
void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc);

/* The BLAS-3 floor of one sweep per element for d elements: the dense
 * Cholesky solve with d right-hand sides and the four products A'Y, G'Y,
 * A X, G X on d columns (dgemm), timed over reps sweeps; seconds */
static double sweep_floor(const case_t *c, int d)
{
    int n = (int)c->n, m = (int)c->m, p = (int)c->p, info = 0, reps = 20;
    double one = 1, zero = 0, rho = 0.1;
    double *H = malloc(sizeof(double) * (size_t)n * (size_t)n);
    double *X = malloc(sizeof(double) * (size_t)n * (size_t)d);
    double *Y = malloc(sizeof(double) * (size_t)(m + p) * (size_t)d);
    memcpy(H, c->Pd, sizeof(double) * (size_t)n * (size_t)n);
    dsyrk_("U", "T", &n, &m, &rho, c->Ad, &m, &one, H, &n); /* H = P + rho A'A */
    dsyrk_("U", "T", &n, &p, &rho, c->Gd, &p, &one, H, &n); /*   + rho G'G     */
    for (int j = 0; j < n; j++) H[j + j * n] += 1e-6;
    dpotrf_("U", &n, H, &n, &info);
    for (size_t k = 0; k < (size_t)(m + p) * (size_t)d; k++) Y[k] = normal();
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        dgemm_("T", "N", &n, &d, &m, &one, c->Ad, &m, Y, &m, &zero, X, &n);      /* X = A'Y */
        dgemm_("T", "N", &n, &d, &p, &one, c->Gd, &p, Y, &p, &one, X, &n);       /* + G'Y   */
        dpotrs_("U", &n, &d, H, &n, X, &n, &info);                                /* H \ X  */
        dgemm_("N", "N", &m, &d, &n, &one, c->Ad, &m, X, &n, &zero, Y, &m);      /* A X     */
        dgemm_("N", "N", &p, &d, &n, &one, c->Gd, &p, X, &n, &zero, Y, &p);      /* G X     */
    }
    double t = (now() - t0) / reps / d;
    free(H), free(X), free(Y);
    return t;
}

/* dense column-major M (r x c) -> CSC arrays */
static void dense_csc(const double *M, altdiff_int r, altdiff_int c, altdiff_int **p,
                      altdiff_int **i, double **x, int upper)
{
    *p = malloc(sizeof(altdiff_int) * (size_t)(c + 1));
    *i = malloc(sizeof(altdiff_int) * (size_t)(r * c + 1));
    *x = malloc(sizeof(double) * (size_t)(r * c + 1));
    altdiff_int t = 0;
    for (altdiff_int j = 0; j < c; j++) {
        (*p)[j] = t;
        for (altdiff_int k = 0; k < (upper ? j + 1 : r); k++)
            if (M[k + j * r] != 0) {
                (*i)[t] = k;
                (*x)[t++] = M[k + j * r];
            }
    }
    (*p)[c] = t;
}

/* The paper's dense QP: P = M'M (+ I), A, G normal, vectors from a feasible x0 per element */
static case_t dense_case(altdiff_int n, altdiff_int m, altdiff_int p, altdiff_int B)
{
    case_t c;
    memset(&c, 0, sizeof(c));
    c.name = "dense", c.n = n, c.m = m, c.p = p, c.B = B;
    double *M = calloc((size_t)(n * n), sizeof(double)), *P = calloc((size_t)(n * n), sizeof(double));
    double *A = malloc(sizeof(double) * (size_t)(m * n)), *G = malloc(sizeof(double) * (size_t)(p * n));
    for (altdiff_int k = 0; k < n * n; k++) M[k] = normal();
    for (altdiff_int i = 0; i < n; i++)
        for (altdiff_int j = 0; j < n; j++) {
            double s = 0;
            for (altdiff_int k = 0; k < n; k++) s += M[k + i * n] * M[k + j * n];
            P[i + j * n] = s / (double)n + (i == j);
        }
    for (altdiff_int k = 0; k < m * n; k++) A[k] = normal();
    for (altdiff_int k = 0; k < p * n; k++) G[k] = normal();
    c.Pd = P, c.Ad = A, c.Gd = G; /* kept for the floor, freed with the case */
    dense_csc(P, n, n, &c.Pp, &c.Pi, &c.Px, 1);
    dense_csc(A, m, n, &c.Ap, &c.Ai, &c.Ax, 0);
    dense_csc(G, p, n, &c.Gp, &c.Gi, &c.Gx, 0);
    c.Q = malloc(sizeof(double) * (size_t)(n * B));
    c.Bv = malloc(sizeof(double) * (size_t)(m * B + 1));
    c.Hv = malloc(sizeof(double) * (size_t)(p * B + 1));
    double *x0 = malloc(sizeof(double) * (size_t)n);
    for (altdiff_int e = 0; e < B; e++) {
        for (altdiff_int j = 0; j < n; j++) {
            x0[j] = normal();
            c.Q[e * n + j] = normal();
        }
        for (altdiff_int i = 0; i < m; i++) {
            double s = 0;
            for (altdiff_int j = 0; j < n; j++) s += A[i + j * m] * x0[j];
            c.Bv[e * m + i] = s;
        }
        for (altdiff_int k = 0; k < p; k++) {
            double s = 0;
            for (altdiff_int j = 0; j < n; j++) s += G[k + j * p] * x0[j];
            c.Hv[e * p + k] = s + unif();
        }
    }
    free(M), free(x0);
    return c;
}

/* Sparsemax (projection on the simplex): P = I, q = -y, 1'x = 1, x >= 0 */
static case_t sparsemax_case(altdiff_int n, altdiff_int B)
{
    case_t c;
    memset(&c, 0, sizeof(c));
    c.name = "sparsemax", c.n = n, c.m = 1, c.p = n, c.B = B;
    c.Pp = malloc(sizeof(altdiff_int) * (size_t)(n + 1));
    c.Pi = malloc(sizeof(altdiff_int) * (size_t)n);
    c.Px = malloc(sizeof(double) * (size_t)n);
    c.Ap = malloc(sizeof(altdiff_int) * (size_t)(n + 1));
    c.Ai = calloc((size_t)n, sizeof(altdiff_int));
    c.Ax = malloc(sizeof(double) * (size_t)n);
    c.Gp = malloc(sizeof(altdiff_int) * (size_t)(n + 1));
    c.Gi = malloc(sizeof(altdiff_int) * (size_t)n);
    c.Gx = malloc(sizeof(double) * (size_t)n);
    for (altdiff_int j = 0; j <= n; j++) c.Pp[j] = c.Ap[j] = c.Gp[j] = j;
    for (altdiff_int j = 0; j < n; j++) {
        c.Pi[j] = c.Gi[j] = j;
        c.Px[j] = c.Ax[j] = 1;
        c.Gx[j] = -1;
    }
    c.Q = malloc(sizeof(double) * (size_t)(n * B));
    c.Bv = malloc(sizeof(double) * (size_t)B);
    c.Hv = calloc((size_t)(n * B), sizeof(double));
    for (altdiff_int k = 0; k < n * B; k++) c.Q[k] = -3 * normal() / sqrt((double)n) * 10;
    for (altdiff_int e = 0; e < B; e++) c.Bv[e] = 1;
    return c;
}

/* CSC of M' (c x r) from CSC M (r x c), sorted */
static void transpose_csc(altdiff_int r, altdiff_int c, const altdiff_int *p, const altdiff_int *i,
                          const double *x, altdiff_int **tp, altdiff_int **ti, double **tx)
{
    altdiff_int nz = p[c];
    *tp = calloc((size_t)(r + 1), sizeof(altdiff_int));
    *ti = malloc(sizeof(altdiff_int) * (size_t)(nz + 1));
    *tx = malloc(sizeof(double) * (size_t)(nz + 1));
    for (altdiff_int t = 0; t < nz; t++) (*tp)[i[t] + 1]++;
    for (altdiff_int k = 0; k < r; k++) (*tp)[k + 1] += (*tp)[k];
    altdiff_int *next = malloc(sizeof(altdiff_int) * (size_t)(r + 1));
    memcpy(next, *tp, sizeof(altdiff_int) * (size_t)(r + 1));
    for (altdiff_int j = 0; j < c; j++)
        for (altdiff_int t = p[j]; t < p[j + 1]; t++) {
            altdiff_int q = next[i[t]]++;
            (*ti)[q] = j, (*tx)[q] = x[t];
        }
    free(next);
}

/* CSC (r x c) of d random rows per column (distinct, sorted), N(0,1) values */
static void rand_csc(altdiff_int r, altdiff_int c, altdiff_int d, altdiff_int **p, altdiff_int **i,
                     double **x)
{
    *p = malloc(sizeof(altdiff_int) * (size_t)(c + 1));
    *i = malloc(sizeof(altdiff_int) * (size_t)(c * d + 1));
    *x = malloc(sizeof(double) * (size_t)(c * d + 1));
    altdiff_int t = 0;
    for (altdiff_int j = 0; j < c; j++) {
        (*p)[j] = t;
        altdiff_int start = t;
        while (t - start < d) { /* insertion into the sorted column, no repeats */
            altdiff_int row = (altdiff_int)(unif() * (double)r), k = t;
            int seen = 0;
            for (altdiff_int u = start; u < t; u++) seen |= (*i)[u] == row;
            if (seen) continue;
            while (k > start && (*i)[k - 1] > row) (*i)[k] = (*i)[k - 1], k--;
            (*i)[k] = row;
            t++;
        }
        for (altdiff_int u = start; u < t; u++) (*x)[u] = normal();
    }
    (*p)[c] = t;
}

/* y (rows) = M x for CSC M */
static void csc_mul(altdiff_int c, const altdiff_int *p, const altdiff_int *i, const double *x,
                    const double *v, double *y, altdiff_int rows)
{
    for (altdiff_int k = 0; k < rows; k++) y[k] = 0;
    for (altdiff_int j = 0; j < c; j++)
        for (altdiff_int t = p[j]; t < p[j + 1]; t++) y[i[t]] += x[t] * v[j];
}

/* Per-element q ~ N(0,1), b = A x0, h = G x0 + U[0,1) (x0 ~ N(0,1) per element) */
static void feasible_vectors(case_t *c)
{
    altdiff_int n = c->n, m = c->m, p = c->p, B = c->B;
    c->Q = malloc(sizeof(double) * (size_t)(n * B));
    c->Bv = malloc(sizeof(double) * (size_t)(m * B + 1));
    c->Hv = malloc(sizeof(double) * (size_t)(p * B + 1));
    double *x0 = malloc(sizeof(double) * (size_t)n);
    for (altdiff_int e = 0; e < B; e++) {
        for (altdiff_int j = 0; j < n; j++) x0[j] = normal(), c->Q[e * n + j] = normal();
        csc_mul(n, c->Ap, c->Ai, c->Ax, x0, c->Bv + e * m, m);
        csc_mul(n, c->Gp, c->Gi, c->Gx, x0, c->Hv + e * p, p);
        for (altdiff_int k = 0; k < p; k++) c->Hv[e * p + k] += unif();
    }
    free(x0);
}

/* randsparse (altdiff gen randsparse n density=0.002 m=n/10 p=n/2): d = 4
 * entries per column of M, P = M'M + 0.01 I (upper), d per row of A and G */
static case_t randsparse_case(altdiff_int n, altdiff_int B)
{
    case_t c;
    memset(&c, 0, sizeof(c));
    altdiff_int d = 4, m = n / 10, p = n / 2;
    c.name = "randsparse", c.n = n, c.m = m, c.p = p, c.B = B;
    altdiff_int *Mp, *Mi, *Atp, *Ati, *Gtp, *Gti;
    double *Mx, *Atx, *Gtx;
    rand_csc(n, n, d, &Mp, &Mi, &Mx);
    double *col = calloc((size_t)n, sizeof(double)); /* P = M'M + 0.01 I, column by column */
    c.Pp = malloc(sizeof(altdiff_int) * (size_t)(n + 1));
    altdiff_int cap = 16 * n, t = 0;
    c.Pi = malloc(sizeof(altdiff_int) * (size_t)cap);
    c.Px = malloc(sizeof(double) * (size_t)cap);
    for (altdiff_int j = 0; j < n; j++) {
        c.Pp[j] = t;
        for (altdiff_int k = 0; k <= j; k++) {
            double v = k == j ? 0.01 : 0;
            for (altdiff_int a = Mp[k], b2 = Mp[j]; a < Mp[k + 1] && b2 < Mp[j + 1];) {
                if (Mi[a] == Mi[b2]) v += Mx[a++] * Mx[b2++];
                else if (Mi[a] < Mi[b2]) a++;
                else b2++;
            }
            if (v == 0) continue;
            if (t == cap) {
                cap *= 2;
                c.Pi = realloc(c.Pi, sizeof(altdiff_int) * (size_t)cap);
                c.Px = realloc(c.Px, sizeof(double) * (size_t)cap);
            }
            c.Pi[t] = k, c.Px[t++] = v;
        }
    }
    c.Pp[n] = t;
    free(col), free(Mp), free(Mi), free(Mx);
    rand_csc(n, m, d, &Atp, &Ati, &Atx); /* rows of A as columns of A' */
    rand_csc(n, p, d, &Gtp, &Gti, &Gtx);
    transpose_csc(n, m, Atp, Ati, Atx, &c.Ap, &c.Ai, &c.Ax);
    transpose_csc(n, p, Gtp, Gti, Gtx, &c.Gp, &c.Gi, &c.Gx);
    free(Atp), free(Ati), free(Atx), free(Gtp), free(Gti), free(Gtx);
    feasible_vectors(&c);
    return c;
}

/* grid (altdiff gen grid k): P the 5-point Laplacian + 0.01 I on a k x k
 * grid, k rows of A each summing a 2 x 2 block (b = 0), box -1 <= x <= 1 */
static case_t grid_case(altdiff_int k, altdiff_int B)
{
    case_t c;
    memset(&c, 0, sizeof(c));
    altdiff_int n = k * k, m = k, p = 2 * n, h = k / 2, t = 0;
    c.name = "grid", c.n = n, c.m = m, c.p = p, c.B = B;
    c.Pp = malloc(sizeof(altdiff_int) * (size_t)(n + 1));
    c.Pi = malloc(sizeof(altdiff_int) * (size_t)(3 * n));
    c.Px = malloc(sizeof(double) * (size_t)(3 * n));
    for (altdiff_int j = 0; j < n; j++) { /* upper: neighbours above/left, then diagonal */
        c.Pp[j] = t;
        if (j >= k) c.Pi[t] = j - k, c.Px[t++] = -1;
        if (j % k) c.Pi[t] = j - 1, c.Px[t++] = -1;
        c.Pi[t] = j, c.Px[t++] = 4.01;
    }
    c.Pp[n] = t;
    altdiff_int *Atp = malloc(sizeof(altdiff_int) * (size_t)(m + 1));
    altdiff_int *Ati = malloc(sizeof(altdiff_int) * (size_t)(4 * m));
    double *Atx = malloc(sizeof(double) * (size_t)(4 * m));
    for (altdiff_int e = 0; e < m; e++) {
        altdiff_int pos = e * (h * h) / m, v = 2 * (pos % h) + 2 * (pos / h) * k;
        altdiff_int blk[4] = {v, v + 1, v + k, v + k + 1};
        Atp[e] = 4 * e;
        for (int q = 0; q < 4; q++) Ati[4 * e + q] = blk[q], Atx[4 * e + q] = 1;
    }
    Atp[m] = 4 * m;
    transpose_csc(n, m, Atp, Ati, Atx, &c.Ap, &c.Ai, &c.Ax);
    free(Atp), free(Ati), free(Atx);
    c.Gp = malloc(sizeof(altdiff_int) * (size_t)(n + 1));
    c.Gi = malloc(sizeof(altdiff_int) * (size_t)p);
    c.Gx = malloc(sizeof(double) * (size_t)p);
    for (altdiff_int j = 0; j < n; j++) {
        c.Gp[j] = 2 * j;
        c.Gi[2 * j] = j, c.Gx[2 * j] = 1;
        c.Gi[2 * j + 1] = n + j, c.Gx[2 * j + 1] = -1;
    }
    c.Gp[n] = p;
    c.Q = malloc(sizeof(double) * (size_t)(n * B));
    c.Bv = calloc((size_t)(m * B + 1), sizeof(double));
    c.Hv = malloc(sizeof(double) * (size_t)(p * B + 1));
    for (altdiff_int q = 0; q < n * B; q++) c.Q[q] = 3 * normal();
    for (altdiff_int q = 0; q < p * B; q++) c.Hv[q] = 1;
    return c;
}

static void finish_case(case_t *c)
{
    altdiff_csc P = {c->n, c->n, c->Pp, c->Pi, c->Px}, A = {c->m, c->n, c->Ap, c->Ai, c->Ax},
                G = {c->p, c->n, c->Gp, c->Gi, c->Gx};
    altdiff_problem prob = {c->n, c->m, c->p, P, A, G, c->Q, c->Bv, c->Hv};
    c->prob = prob;
}

static void free_case(case_t *c)
{
    void *a[] = {c->Pp, c->Pi, c->Ap, c->Ai, c->Gp, c->Gi, c->Px, c->Ax, c->Gx, c->Q, c->Bv, c->Hv,
                 c->Pd, c->Ad, c->Gd};
    for (int k = 0; k < 15; k++) free(a[k]);
}

/* Bytes of heap in use */
static double heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks + (double)mi.hblkhd;
}

/* Bytes held by a batch of B after its setup and solve, beyond the heap
 * before it (the shared model and B elements) */
static double batch_bytes(case_t *c, altdiff_int B, const altdiff_settings *set)
{
    double before = heap_bytes(), held = 0;
    altdiff_batch *bt = NULL;
    if (altdiff_batch_setup(&bt, &c->prob, B, set) == ALTDIFF_OK &&
        altdiff_batch_set_vectors(bt, 0, B, c->Q, B > 1 ? c->n : 0, c->Bv, B > 1 ? c->m : 0,
                                  c->Hv, B > 1 ? c->p : 0) == ALTDIFF_OK &&
        altdiff_batch_solve(bt) == ALTDIFF_OK)
        held = heap_bytes() - before;
    altdiff_batch_free(bt);
    return held;
}

static double cosine(const double *a, const double *b, altdiff_int len)
{
    double ab = 0, aa = 0, bb = 0;
    for (altdiff_int k = 0; k < len; k++) ab += a[k] * b[k], aa += a[k] * a[k], bb += b[k] * b[k];
    return ab / sqrt(aa * bb + 1e-300);
}

static double norm2(const double *a, altdiff_int len)
{
    double s = 0;
    for (altdiff_int k = 0; k < len; k++) s += a[k] * a[k];
    return sqrt(s);
}

/* Seconds of one pass of a path: setup, forward, backward; mean iterations */
typedef struct {
    double setup, fwd, bwd, iter;
} pass_t;

/* The smaller of each figure of a and b (iterations are the same) */
static pass_t pass_min(pass_t a, pass_t b)
{
    pass_t r = {fmin(a.setup, b.setup), fmin(a.fwd, b.fwd), fmin(a.bwd, b.bwd), b.iter};
    return r;
}

/* The loop over one workspace: update_vectors + solve + vjp per element,
 * gradients into g (n x B); 1 if every call ran */
static int loop_pass(const case_t *c, const altdiff_settings *set,
                     const altdiff_deriv_settings *ds, const double *W, double *g, pass_t *t)
{
    altdiff_int n = c->n, m = c->m, p = c->p, B = c->B;
    altdiff_work *w = NULL;
    pass_t r = {0, 0, 0, 0};
    double t0 = now();
    int ok = altdiff_setup(&w, &c->prob, set) == ALTDIFF_OK;
    r.setup = now() - t0;
    for (altdiff_int e = 0; ok && e < B; e++) {
        double t1 = now();
        ok = altdiff_update_vectors(w, c->Q + e * n, m ? c->Bv + e * m : NULL,
                                    p ? c->Hv + e * p : NULL) == ALTDIFF_OK;
        ok = ok && altdiff_solve(w) == ALTDIFF_OK;
        double t2 = now();
        r.iter += (double)altdiff_get_info(w)->iter / (double)B;
        ok = ok && altdiff_vjp(w, ds, W + e * n, g + e * n, NULL, NULL, NULL) == ALTDIFF_OK;
        r.bwd += now() - t2;
        r.fwd += t2 - t1;
    }
    altdiff_free(w);
    *t = r;
    return ok;
}

/* The batch: setup, set_vectors, solve, vjp (gradients into g); the batch
 * is kept in *bt for the caller (NULL when setup failed) */
static int batch_pass(const case_t *c, const altdiff_settings *set,
                      const altdiff_deriv_settings *ds, const double *W, double *g, pass_t *t,
                      altdiff_batch **bt)
{
    altdiff_int n = c->n, m = c->m, p = c->p, B = c->B;
    pass_t r = {0, 0, 0, 0};
    double t0 = now();
    int ok = altdiff_batch_setup(bt, &c->prob, B, set) == ALTDIFF_OK;
    r.setup = now() - t0;
    ok = ok && altdiff_batch_set_vectors(*bt, 0, B, c->Q, n, c->Bv, m, c->Hv, p) == ALTDIFF_OK;
    t0 = now();
    ok = ok && altdiff_batch_solve(*bt) == ALTDIFF_OK;
    r.fwd = now() - t0;
    t0 = now();
    ok = ok && altdiff_batch_vjp(*bt, ds, W, g, NULL, NULL, NULL) == ALTDIFF_OK;
    r.bwd = now() - t0;
    for (altdiff_int e = 0; ok && e < B; e++)
        r.iter += (double)altdiff_batch_get_info(*bt, e)->iter / (double)B;
    *t = r;
    return ok;
}

static int reps = 3; /* passes of each path, alternating; minima reported */

/* Both paths on one case, reps passes each in turn; prints one line */
static void run(case_t *c)
{
    altdiff_int n = c->n, B = c->B;
    finish_case(c);
    altdiff_settings set = altdiff_settings_default();
    /* default settings, polishing included, for both paths (batches polish as
     * single solves do) */
    altdiff_deriv_settings ds = altdiff_deriv_settings_default(), dk = ds;
    dk.mode = ALTDIFF_MODE_KKT;
    double *W = malloc(sizeof(double) * (size_t)(n * B)), *g1 = malloc(sizeof(double) * (size_t)(n * B));
    double *g2 = malloc(sizeof(double) * (size_t)(n * B)), *gk = malloc(sizeof(double) * (size_t)(n * B));
    for (altdiff_int k = 0; k < n * B; k++) W[k] = normal();
    pass_t L = {INFINITY, INFINITY, INFINITY, 0}, Bt = L, t;
    altdiff_batch *bt = NULL;
    int ok = 1;
    for (int r = 0; r < reps && ok; r++) {
        ok = loop_pass(c, &set, &ds, W, g1, &t);
        L = pass_min(L, t);
        altdiff_batch_free(bt);
        bt = NULL;
        ok = ok && batch_pass(c, &set, &ds, W, g2, &t, &bt);
        Bt = pass_min(Bt, t);
    }
    double fl = L.fwd, bl = L.bwd, itl = L.iter * (double)B, tsetup_loop = L.setup;
    double fb = Bt.fwd, bb = Bt.bwd, tsetup_batch = Bt.setup;
    altdiff_deriv_info *dki = calloc((size_t)B, sizeof(altdiff_deriv_info));
    ok = ok && altdiff_batch_vjp(bt, &dk, W, gk, NULL, NULL, dki) == ALTDIFF_OK;
    double itb = 0, cmin = 1, tpol = 0;
    altdiff_int solved = 0, m = c->m, p = c->p;
    for (altdiff_int e = 0; ok && e < B; e++) {
        itb += (double)altdiff_batch_get_info(bt, e)->iter;
        tpol += altdiff_batch_get_info(bt, e)->t_polish;
        solved += altdiff_batch_get_info(bt, e)->status == ALTDIFF_SOLVED;
        /* a zero gradient (e.g. a one-hot sparsemax, whose Jacobian is 0)
         * has no direction: there both must be tiny against the cotangent */
        double wn = norm2(W + e * n, n);
        int zero = norm2(gk + e * n, n) <= 1e-9 * wn && norm2(g2 + e * n, n) <= 1e-5 * wn;
        double ce = zero ? 1 : cosine(g2 + e * n, gk + e * n, n);
        if (ce < 0.9999)
            fprintf(stderr, "%s B=%ld element %ld: cos %.6f, weakly active rows %ld, active %ld\n",
                    c->name, (long)B, (long)e, ce, (long)dki[e].weakly_active, (long)dki[e].active);
        cmin = fmin(cmin, ce);
    }
    free(dki);
    double fl0 = ok && c->Pd ? sweep_floor(c, (int)B) : 0;
    if (fl0 > 0) /* per element and iteration: the batch against the BLAS-3 floor,
                  * with and without polishing (the same per element in both paths) */
        fprintf(stdout, "%-10s %6ld %5ld %5ld %5ld   per element-iteration: batch %.2f us, "
                "floor %.2f us (%.1fx); without polishing %.2f us (%.1fx)\n", c->name, (long)n,
                (long)m, (long)p, (long)B, 1e6 * fb / (itb + 1e-300), 1e6 * fl0,
                fb / (itb + 1e-300) / fl0, 1e6 * (fb - tpol) / (itb + 1e-300),
                (fb - tpol) / (itb + 1e-300) / fl0);
    altdiff_batch_free(bt);
    /* memory per element beyond the shared model: (batch of B - batch of 2) /
     * (B - 2), 2 being the smallest batch on the lockstep path (whose shared
     * blocks, e.g. a dense copy of P, a batch of 1 does not allocate) */
    double per = B > 2 && ok ? (batch_bytes(c, B, &set) - batch_bytes(c, 2, &set)) / (double)(B - 2) : 0;
    if (!ok) printf("%-10s %6ld %5ld %5ld %5ld  FAILED\n", c->name, (long)n, (long)m, (long)p, (long)B);
    else
        printf("%-10s %6ld %5ld %5ld %5ld | %8.4f %8.4f %6.2fx | %8.4f %8.4f %6.2fx | %7.1f %7.1f | %4ld/%ld %.6f | %.4f %.4f | %.0f\n",
               c->name, (long)n, (long)m, (long)p, (long)B, fl, fb, fl / fb, bl, bb, bl / bb,
               itl / (double)B, itb / (double)B, (long)solved, (long)B, cmin, tsetup_loop,
               tsetup_batch, per);
    fflush(stdout);
    free(W), free(g1), free(g2), free(gk);
}

int main(int argc, char **argv)
{
    long Bs[16] = {1, 16, 64, 256};
    int nB = 4;
    const char *only = NULL; /* -c NAME: only the cases whose label has NAME */
    for (;;) { /* -c NAME, -r REPS */
        if (argc > 2 && !strcmp(argv[1], "-c")) only = argv[2];
        else if (argc > 2 && !strcmp(argv[1], "-r")) reps = atoi(argv[2]);
        else break;
        argc -= 2, argv += 2;
    }
    if (reps < 1 || reps > 100) {
        fprintf(stderr, "altdiff-bench-batch: -r takes 1 to 100 passes\n");
        return 2;
    }
    if (argc > 17) {
        fprintf(stderr, "altdiff-bench-batch: at most 16 batch sizes\n");
        return 2;
    }
    if (argc > 1) nB = argc - 1;
    for (int k = 0; k < nB && argc > 1; k++) {
        char *end;
        Bs[k] = strtol(argv[k + 1], &end, 10);
        if (end == argv[k + 1] || *end || Bs[k] < 1 || Bs[k] > 100000) {
            fprintf(stderr, "usage: altdiff-bench-batch [-c NAME] [-r REPS] [B ...] (B: 1 to 100000; "
                            "NAME: part of dense100, dense500, sparsemax, randsparse, grid); "
                            "argument %d '%s' is not a batch size\n", k + 1, argv[k + 1]);
            return 2;
        }
    }
    printf("%-10s %6s %5s %5s %5s | %8s %8s %7s | %8s %8s %7s | %7s %7s | %s | setup loop, batch (s) | bytes/element\n",
           "problem", "n", "m", "p", "B", "fwd loop", "batch", "speedup", "bwd loop", "batch",
           "speedup", "it loop", "batch", "solved, min cos(gmres, kkt)");
    static const char *labels[] = {"dense100", "dense500", "sparsemax", "randsparse", "grid"};
    for (int k = 0; k < nB; k++)
        for (int j = 0; j < 5; j++) {
            if (only && !strstr(labels[j], only)) continue;
            seed = 1 + (unsigned long long)j; /* the same data at every B */
            case_t c = j == 0   ? dense_case(100, 50, 50, Bs[k])
                       : j == 1 ? dense_case(500, 100, 200, Bs[k])
                       : j == 2 ? sparsemax_case(1000, Bs[k])
                       : j == 3 ? randsparse_case(2000, Bs[k])
                                : grid_case(32, Bs[k]);
            run(&c);
            free_case(&c);
        }
    return 0;
}
