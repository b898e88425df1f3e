#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double rng_unif(rng *r) { return (double)(splitmix64(&r->state) >> 11) * 0x1.0p-53; }

/* Box-Muller */
double rng_normal(rng *r)
{
    double u1 = rng_unif(r), u2 = rng_unif(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static owned_csc csc_from_dense_mask(const double *D, altdiff_int nrow, altdiff_int ncol,
                                     int upper)
{
    owned_csc M = {nrow, ncol, NULL, NULL, NULL};
    size_t nz = 0;
    for (altdiff_int j = 0; j < ncol; j++)
        for (altdiff_int i = 0; i < nrow; i++)
            if (D[i + j * nrow] != 0 && (!upper || i <= j)) nz++;
    M.p = malloc(sizeof(altdiff_int) * (size_t)(ncol + 1));
    M.i = malloc(sizeof(altdiff_int) * (nz + 1));
    M.x = malloc(sizeof(double) * (nz + 1));
    nz = 0;
    for (altdiff_int j = 0; j < ncol; j++) {
        M.p[j] = (altdiff_int)nz;
        for (altdiff_int i = 0; i < nrow; i++)
            if (D[i + j * nrow] != 0 && (!upper || i <= j)) {
                M.i[nz] = i;
                M.x[nz++] = D[i + j * nrow];
            }
    }
    M.p[ncol] = (altdiff_int)nz;
    return M;
}

owned_csc csc_from_dense(const double *D, altdiff_int nrow, altdiff_int ncol)
{
    return csc_from_dense_mask(D, nrow, ncol, 0);
}

owned_csc csc_upper_from_dense(const double *D, altdiff_int n)
{
    return csc_from_dense_mask(D, n, n, 1);
}

void free_csc(owned_csc *M)
{
    free(M->p);
    free(M->i);
    free(M->x);
    M->p = M->i = NULL;
    M->x = NULL;
}

altdiff_csc csc_view(const owned_csc *M)
{
    altdiff_csc v = {M->nrow, M->ncol, M->p, M->i, M->x};
    return v;
}

void kkt_residuals(altdiff_int n, altdiff_int m, altdiff_int p, const double *P,
                   const double *q, const double *A, const double *b, const double *G,
                   const double *h, const double *x, const double *lam, const double *nu,
                   double r[5])
{
    for (int k = 0; k < 5; k++) r[k] = 0;
    for (altdiff_int i = 0; i < m; i++) { /* Ax - b */
        double t = -b[i];
        for (altdiff_int j = 0; j < n; j++) t += A[i + j * m] * x[j];
        r[0] = fmax(r[0], fabs(t));
    }
    for (altdiff_int i = 0; i < p; i++) { /* Gx - h, nu, nu (h - Gx) */
        double t = -h[i];
        for (altdiff_int j = 0; j < n; j++) t += G[i + j * p] * x[j];
        r[1] = fmax(r[1], fmax(t, 0));
        r[3] = fmax(r[3], fmax(-nu[i], 0));
        r[4] = fmax(r[4], fabs(nu[i] * t));
    }
    for (altdiff_int j = 0; j < n; j++) { /* Px + q + A'lam + G'nu */
        double t = q[j];
        for (altdiff_int k = 0; k < n; k++) t += P[j + k * n] * x[k];
        for (altdiff_int i = 0; i < m; i++) t += A[i + j * m] * lam[i];
        for (altdiff_int i = 0; i < p; i++) t += G[i + j * p] * nu[i];
        r[2] = fmax(r[2], fabs(t));
    }
}

int dense_solve(altdiff_int n, double *M, double *x)
{
    for (altdiff_int k = 0; k < n; k++) {
        altdiff_int piv = k;
        for (altdiff_int i = k + 1; i < n; i++)
            if (fabs(M[i + k * n]) > fabs(M[piv + k * n])) piv = i;
        if (fabs(M[piv + k * n]) < 1e-300) return 0;
        if (piv != k) { /* swap rows k and piv */
            for (altdiff_int j = 0; j < n; j++) {
                double t = M[k + j * n];
                M[k + j * n] = M[piv + j * n];
                M[piv + j * n] = t;
            }
            double t = x[k];
            x[k] = x[piv];
            x[piv] = t;
        }
        for (altdiff_int i = k + 1; i < n; i++) {
            double f = M[i + k * n] / M[k + k * n];
            if (f == 0) continue;
            for (altdiff_int j = k; j < n; j++) M[i + j * n] -= f * M[k + j * n];
            x[i] -= f * x[k];
        }
    }
    for (altdiff_int k = n - 1; k >= 0; k--) { /* back substitution */
        double t = x[k];
        for (altdiff_int j = k + 1; j < n; j++) t -= M[k + j * n] * x[j];
        x[k] = t / M[k + k * n];
    }
    return 1;
}

double *zeros(altdiff_int len)
{
    double *v = calloc((size_t)(len > 0 ? len : 1), sizeof(double));
    ck_assert_ptr_nonnull(v);
    return v;
}

dqp dqp_alloc(altdiff_int n, altdiff_int m, altdiff_int p)
{
    dqp d;
    memset(&d, 0, sizeof(d));
    d.n = n;
    d.m = m;
    d.p = p;
    d.P = zeros(n * n);
    d.q = zeros(n);
    d.A = zeros(m * n);
    d.b = zeros(m);
    d.G = zeros(p * n);
    d.h = zeros(p);
    d.x = zeros(n);
    d.lam = zeros(m);
    d.nu = zeros(p);
    d.s = zeros(p);
    return d;
}

void dqp_finish(dqp *d)
{
    free_csc(&d->Pc);
    free_csc(&d->Ac);
    free_csc(&d->Gc);
    d->Pc = csc_upper_from_dense(d->P, d->n);
    d->Ac = csc_from_dense(d->A, d->m, d->n);
    d->Gc = csc_from_dense(d->G, d->p, d->n);
    altdiff_problem prob = {d->n, d->m, d->p, csc_view(&d->Pc), csc_view(&d->Ac),
                            csc_view(&d->Gc), d->q, d->b, d->h};
    d->prob = prob;
}

void dqp_free(dqp *d)
{
    free_csc(&d->Pc);
    free_csc(&d->Ac);
    free_csc(&d->Gc);
    double *arrays[] = {d->P, d->q, d->A, d->b, d->G, d->h, d->x, d->lam, d->nu, d->s};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) free(arrays[k]);
}

void expect(verdict *v, int cond, const char *fmt, ...)
{
    if (cond || v->failed) return;
    v->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
    va_end(ap);
}

void finish(const verdict *v) { ck_assert_msg(!v->failed, "%s", v->msg); }

void randn(rng *r, double *v, altdiff_int len)
{
    for (altdiff_int k = 0; k < len; k++) v[k] = rng_normal(r);
}

double dot(const double *x, const double *y, altdiff_int n)
{
    double t = 0;
    for (altdiff_int i = 0; i < n; i++) t += x[i] * y[i];
    return t;
}

double nrm_inf(const double *x, altdiff_int n)
{
    double t = 0;
    for (altdiff_int i = 0; i < n; i++) t = fmax(t, fabs(x[i]));
    return t;
}

double rel_diff(const double *x, const double *y, altdiff_int n)
{
    double e = 0;
    for (altdiff_int i = 0; i < n; i++) e = fmax(e, fabs(x[i] - y[i]));
    return e / fmax(1, nrm_inf(y, n));
}

double rel_scalar(double a, double b) { return fabs(a - b) / fmax(1, fabs(b)); }

int all_finite(const double *x, altdiff_int n)
{
    for (altdiff_int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

void matvec(const double *M, altdiff_int r, altdiff_int c, const double *x, double *y)
{
    for (altdiff_int i = 0; i < r; i++) {
        double t = 0;
        for (altdiff_int j = 0; j < c; j++) t += M[i + j * r] * x[j];
        y[i] = t;
    }
}

void matvec_t(const double *M, altdiff_int r, altdiff_int c, const double *x, double *y)
{
    for (altdiff_int j = 0; j < c; j++) y[j] = dot(M + j * r, x, r);
}

const int reverse_modes[] = {ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_GMRES, ALTDIFF_MODE_UNROLL,
                             ALTDIFF_MODE_ALTDIFF, ALTDIFF_MODE_KKT};
const int forward_modes[] = {ALTDIFF_MODE_ALTDIFF, ALTDIFF_MODE_KKT};

const char *mode_name(int mode)
{
    static const char *names[] = {"ADJOINT", "GMRES", "UNROLL", "ALTDIFF", "KKT"};
    return mode >= 0 && mode <= 4 ? names[mode] : "?";
}

altdiff_settings solve_settings(int record, double eps)
{
    altdiff_settings set = altdiff_settings_default();
    set.eps_abs = eps;
    set.eps_rel = eps;
    set.record = record;
    return set;
}

altdiff_deriv_settings dset(int mode, double eps)
{
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    ds.mode = mode;
    ds.eps = eps;
    ds.max_iter = 100000;
    return ds;
}

altdiff_work *solved(altdiff_work *w, int rc, const char *what)
{
    ck_assert_msg(rc == ALTDIFF_OK, "%s: %s", what, altdiff_error_string(rc));
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    int st = altdiff_get_info(w)->status;
    if (st != ALTDIFF_SOLVED) altdiff_free(w);
    ck_assert_msg(st == ALTDIFF_SOLVED, "%s: solve status %s", what, altdiff_status_string(st));
    return w;
}

int resolve(altdiff_work *w, double *x)
{
    if (altdiff_solve(w) != ALTDIFF_OK || altdiff_get_info(w)->status != ALTDIFF_SOLVED) return 0;
    return altdiff_get_solution(w, x, NULL, NULL, NULL) == ALTDIFF_OK;
}

/* B per-element vectors: q, b, h of d perturbed by N(0, 0.5), N(0, 0.05)
 * and U(0, 0.2) (seeded); Q (n x B), Bv (m x B), Hv (p x B) element-major */
void element_vectors(const dqp *d, altdiff_int B, uint64_t seed, double *Q, double *Bv, double *Hv)
{
    rng r = {seed};
    for (altdiff_int e = 0; e < B; e++) {
        for (altdiff_int j = 0; j < d->n; j++) Q[e * d->n + j] = d->q[j] + 0.5 * rng_normal(&r);
        for (altdiff_int i = 0; i < d->m; i++) Bv[e * d->m + i] = d->b[i] + 0.05 * rng_normal(&r);
        for (altdiff_int k = 0; k < d->p; k++) Hv[e * d->p + k] = d->h[k] + 0.2 * rng_unif(&r);
    }
}

/* y -= M'x (M: r x c) */
static void matvec_t_sub(const double *M, altdiff_int r, altdiff_int c, const double *x,
                         double *y)
{
    for (altdiff_int j = 0; j < c; j++)
        for (altdiff_int i = 0; i < r; i++) y[j] -= M[i + j * r] * x[i];
}

void dqp_from_solution(dqp *d)
{
    altdiff_int n = d->n, m = d->m, p = d->p;
    matvec(d->P, n, n, d->x, d->q);
    for (altdiff_int j = 0; j < n; j++) d->q[j] = -d->q[j]; /* q = -P x       */
    matvec_t_sub(d->A, m, n, d->lam, d->q);                 /*     - A'lam    */
    matvec_t_sub(d->G, p, n, d->nu, d->q);                  /*     - G'nu     */
    matvec(d->A, m, n, d->x, d->b);                         /* b = A x        */
    matvec(d->G, p, n, d->x, d->h);
    for (altdiff_int k = 0; k < p; k++) d->h[k] += d->s[k];  /* h = G x + s    */
}

void random_spd(rng *r, altdiff_int n, double shift, double *P)
{
    double *M = zeros(n * n);
    randn(r, M, n * n);
    for (altdiff_int i = 0; i < n; i++)
        for (altdiff_int j = 0; j < n; j++)
            P[i + j * n] = dot(M + i * n, M + j * n, n) / (double)n + (i == j ? shift : 0.0);
    free(M);
}

int run_tool(const char *exe, const char *dir, const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "%s %s >%s/stdout 2>%s/stderr", exe, args, dir, dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int read_text(const char *dir, const char *name, char *buf, size_t size)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t len = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[len] = 0;
    return 1;
}

int file_has(const char *dir, const char *name, const char *text)
{
    char buf[8192];
    return read_text(dir, name, buf, sizeof(buf)) && strstr(buf, text) != NULL;
}

dqp box_qp(altdiff_int n, altdiff_int m, int scaled, uint64_t seed)
{
    rng r = {seed};
    dqp d = dqp_alloc(n, m, 2 * n);
    random_spd(&r, n, 1.0, d.P); /* P = M'M / n + 1.0 I */
    randn(&r, d.q, n);
    randn(&r, d.A, m * n);
    randn(&r, d.b, m);
    for (altdiff_int i = 0; i < m; i++) d.b[i] *= 0.1;
    for (altdiff_int j = 0; j < n; j++) {
        double g = scaled ? 0.5 + rng_unif(&r) : 1;
        d.G[j + j * 2 * n] = g;      /* row j:      g x_j <= u_j  */
        d.G[n + j + j * 2 * n] = -g; /* row n + j: -g x_j <= -l_j */
        d.h[j] = 0.5;
        d.h[n + j] = 0.5;
    }
    dqp_finish(&d);
    return d;
}

int solve_single(const dqp *d, const double *q, const double *b, const double *h, double eps,
                 const double *wx, int mode, double *x, double *dq, double *db, double *dh,
                 double *dPx, double *dAx, double *dGx)
{
    altdiff_problem prob = d->prob;
    prob.q = q;
    prob.b = b;
    prob.h = h;
    altdiff_settings set = solve_settings(0, eps);
    altdiff_work *w = NULL;
    int ok = altdiff_setup(&w, &prob, &set) == ALTDIFF_OK && altdiff_solve(w) == ALTDIFF_OK &&
             altdiff_get_info(w)->status == ALTDIFF_SOLVED;
    if (ok) altdiff_get_solution(w, x, NULL, NULL, NULL);
    altdiff_deriv_settings ds = dset(mode, 1e-12);
    if (ok && wx) ok = altdiff_vjp(w, &ds, wx, dq, db, dh, NULL) == ALTDIFF_OK;
    if (ok && dPx) ok = altdiff_matrix_grads(w, dq, db, dh, dPx, dAx, dGx) == ALTDIFF_OK;
    altdiff_free(w);
    return ok;
}
