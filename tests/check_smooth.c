/*
 * check_smooth: smooth convex objectives (altdiff_setup_objective) against
 * the mathematics (MATH.md, "Smooth convex objectives beyond QPs").
 *
 *     minimize  f(x; theta) + q'x   subject to  A x = b,  G x <= h
 *
 * Objectives: the built-in entropy f = -y'x + sum_i x_i log x_i (theta = y)
 * and two families of user callbacks (cb_fn below):
 *     BARRIER  f = sum_i x_i^2/2 - theta_i log x_i   on x > 0 (k = n)
 *     SMOOTH   f = 1/2 x'Qx [+ sum_i exp(x_i)] - (B theta)'x   (B n x k;
 *              with B = -I and no exp a QP whose theta adds to q)
 * Every constrained problem is built from its solution x*, lam*, nu*, s*
 * with strict complementarity (even rows of G active with nu in [0.5, 1.5),
 * odd rows inactive with slack in [0.5, 1.5)):
 *     q = -grad f(x*) - A'lam* - G'nu*  (entropy: y = log x* + 1 + A'lam* + G'nu*),
 *     b = A x*,   h = G x* + s*.
 * Evidence, all computed here:
 *   - closed forms: softmax(y) and its Jacobian diag(s) - s s';
 *   - a dense implicit-differentiation reference at x*: the KKT matrix with
 *     P replaced by Hess f(x*) and dq_eff = (d grad f / d theta) dtheta;
 *   - central finite differences of the solution map (re-solving);
 *   - KKT residuals of the returned (x, lam, nu) with grad f recomputed here;
 *   - the same problem as a plain QP through altdiff_setup;
 *   - the identity w'(J v) = (J'w)'v between forward and reverse modes;
 * plus the error contract of the smooth-objective API.
 *
 * Measurements are printed as "[smooth] ..." lines into the test log.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* ---- dense helpers ------------------------------------------------------------ */

/* |x - y|_inf / |y|_inf (absolute when y = 0) */
static double rel_err(const double *x, const double *y, altdiff_int n)
{
    double e = 0, s = nrm_inf(y, n);
    for (altdiff_int i = 0; i < n; i++) e = fmax(e, fabs(x[i] - y[i]));
    return s > 0 ? e / s : e;
}

static double min_entry(const double *x, altdiff_int n)
{
    double t = INFINITY;
    for (altdiff_int i = 0; i < n; i++) t = fmin(t, x[i]);
    return t;
}

/* s = softmax(y) (n) */
static void softmax(const double *y, altdiff_int n, double *s)
{
    double mx = y[0], z = 0;
    for (altdiff_int i = 1; i < n; i++) mx = fmax(mx, y[i]);
    for (altdiff_int i = 0; i < n; i++) z += s[i] = exp(y[i] - mx);
    for (altdiff_int i = 0; i < n; i++) s[i] /= z;
}

/* J = diag(s) - s s' (n x n), the Jacobian of the softmax */
static void softmax_jacobian(const double *s, altdiff_int n, double *J)
{
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int i = 0; i < n; i++) J[i + j * n] = (i == j ? s[i] : 0) - s[i] * s[j];
}

/* Index of the stored entry (i, j) of M, or -1 */
static altdiff_int entry_index(const owned_csc *M, altdiff_int i, altdiff_int j)
{
    for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++)
        if (M->i[t] == i) return t;
    return -1;
}

/* ---- settings ------------------------------------------------------------------ */

/* Solves compared with closed forms use SOLVE_EPS. Finite differences use
 * FD_EPS and the step FD_STEP: the solution map of a smooth objective is
 * smooth while the active set stays (margins 0.5), so the central difference
 * has truncation error O(t^2) ~ 1e-8 and solver noise ~ |x error| / t. */
#define SOLVE_EPS 1e-9
#define FD_EPS 1e-11
#define FD_STEP 1e-4
#define DERIV_EPS 1e-10
#define DERIV_TOL 1e-6 /* every mode vs the dense reference, relative      */
#define FD_TOL 1e-5    /* finite differences vs the dense reference        */

/* ---- user objectives through callbacks ---------------------------------------- */

#define BARRIER 0
#define SMOOTH 1

typedef struct {
    int family;        /* BARRIER or SMOOTH                                  */
    altdiff_int n, k;
    double *theta;     /* k: the parameters; tests change them in place      */
    double *Q;         /* SMOOTH: n x n symmetric                            */
    double *B;         /* SMOOTH: n x k, theta enters as -(B theta)'x        */
    int use_exp;       /* SMOOTH: with sum_i exp(x_i)                        */
    owned_csc pat;     /* the Hessian pattern handed to the library          */
    double *H;         /* n x n scratch: the dense Hessian                   */
    long calls[4];     /* value, gradient, hessian, max_step                 */
    long outside[3];   /* value, gradient, hessian called outside the domain */
} cb_fn;

static cb_fn *fn_alloc(int family, altdiff_int n, altdiff_int k)
{
    cb_fn *fn = calloc(1, sizeof(cb_fn));
    ck_assert_ptr_nonnull(fn);
    fn->family = family;
    fn->n = n;
    fn->k = k;
    fn->theta = zeros(k);
    fn->Q = zeros(n * n);
    fn->B = zeros(n * k);
    fn->H = zeros(n * n);
    return fn;
}

static void fn_free(cb_fn *fn)
{
    if (!fn) return;
    free_csc(&fn->pat);
    free(fn->theta);
    free(fn->Q);
    free(fn->B);
    free(fn->H);
    free(fn);
}

/* BARRIER: x > 0; SMOOTH: exp(x_i) finite */
static int in_domain(const cb_fn *fn, const double *x)
{
    for (altdiff_int i = 0; i < fn->n; i++) {
        if (!isfinite(x[i])) return 0;
        if (fn->family == BARRIER && x[i] <= 0) return 0;
        if (fn->family == SMOOTH && fn->use_exp && x[i] > 700) return 0;
    }
    return 1;
}

/* f(x) */
static double fn_value(const cb_fn *fn, const double *x)
{
    altdiff_int n = fn->n;
    double f = 0;
    if (fn->family == BARRIER) {
        for (altdiff_int i = 0; i < n; i++) f += x[i] * x[i] / 2 - fn->theta[i] * log(x[i]);
        return f;
    }
    for (altdiff_int j = 0; j < n; j++) /* 1/2 x'Qx + sum exp(x) - (B theta)'x */
        for (altdiff_int i = 0; i < n; i++) f += 0.5 * x[i] * fn->Q[i + j * n] * x[j];
    for (altdiff_int i = 0; i < n; i++) {
        f += fn->use_exp ? exp(x[i]) : 0;
        for (altdiff_int c = 0; c < fn->k; c++) f -= x[i] * fn->B[i + c * n] * fn->theta[c];
    }
    return f;
}

/* g = grad f(x) */
static void fn_gradient(const cb_fn *fn, const double *x, double *g)
{
    altdiff_int n = fn->n;
    if (fn->family == BARRIER) {
        for (altdiff_int i = 0; i < n; i++) g[i] = x[i] - fn->theta[i] / x[i];
        return;
    }
    matvec(fn->Q, n, n, x, g);                                /* g = Q x           */
    for (altdiff_int i = 0; i < n; i++) {
        g[i] += fn->use_exp ? exp(x[i]) : 0;                  /*   + exp(x)        */
        for (altdiff_int c = 0; c < fn->k; c++) g[i] -= fn->B[i + c * n] * fn->theta[c];
    }                                                         /*   - B theta       */
}

/* H = Hess f(x) (n x n dense) */
static void fn_hessian(const cb_fn *fn, const double *x, double *H)
{
    altdiff_int n = fn->n;
    if (fn->family == SMOOTH) memcpy(H, fn->Q, sizeof(double) * (size_t)(n * n));
    else memset(H, 0, sizeof(double) * (size_t)(n * n));
    for (altdiff_int i = 0; i < n; i++) {
        if (fn->family == BARRIER) H[i + i * n] = 1 + fn->theta[i] / (x[i] * x[i]);
        else if (fn->use_exp) H[i + i * n] += exp(x[i]);
    }
}

/* out (n) = J v, J = d grad f / d theta: BARRIER -diag(1/x), SMOOTH -B */
static void fn_dgrad(const cb_fn *fn, const double *x, const double *v, double *out)
{
    altdiff_int n = fn->n;
    if (fn->family == BARRIER) {
        for (altdiff_int i = 0; i < n; i++) out[i] = -v[i] / x[i];
        return;
    }
    matvec(fn->B, n, fn->k, v, out);
    for (altdiff_int i = 0; i < n; i++) out[i] = -out[i];
}

/* out (k) = J' u */
static void fn_dgrad_t(const cb_fn *fn, const double *x, const double *u, double *out)
{
    if (fn->family == BARRIER) {
        fn_dgrad(fn, x, u, out); /* J is diagonal */
        return;
    }
    matvec_t(fn->B, fn->n, fn->k, u, out);
    for (altdiff_int c = 0; c < fn->k; c++) out[c] = -out[c];
}

/* The callbacks handed to the library */
static int cb_value(void *user, const double *x, double *f)
{
    cb_fn *fn = user;
    fn->calls[0]++;
    if (!in_domain(fn, x)) return ++fn->outside[0] > 0;
    *f = fn_value(fn, x);
    return 0;
}

static int cb_gradient(void *user, const double *x, double *g)
{
    cb_fn *fn = user;
    fn->calls[1]++;
    if (!in_domain(fn, x)) return ++fn->outside[1] > 0;
    fn_gradient(fn, x, g);
    return 0;
}

/* hx = the values of Hess f(x) on the stored entries of the pattern */
static int cb_hessian(void *user, const double *x, double *hx)
{
    cb_fn *fn = user;
    fn->calls[2]++;
    if (!in_domain(fn, x)) return ++fn->outside[2] > 0;
    fn_hessian(fn, x, fn->H);
    altdiff_int n = fn->n;
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = fn->pat.p[j]; t < fn->pat.p[j + 1]; t++)
            hx[t] = fn->H[fn->pat.i[t] + j * n];
    return 0;
}

/* BARRIER: the largest t with x + t'd > 0 for 0 <= t' < t (INFINITY: none) */
static double cb_max_step(void *user, const double *x, const double *d)
{
    cb_fn *fn = user;
    fn->calls[3]++;
    double t = INFINITY;
    for (altdiff_int i = 0; i < fn->n; i++)
        if (d[i] < 0) t = fmin(t, x[i] / -d[i]);
    return t;
}

static void cb_dgrad(void *user, const double *x, const double *v, double *out)
{
    fn_dgrad(user, x, v, out);
}

static void cb_dgrad_t(void *user, const double *x, const double *u, double *out)
{
    fn_dgrad_t(user, x, u, out);
}

static altdiff_objective cb_objective(cb_fn *fn, const double *x0, int with_max_step)
{
    altdiff_objective f;
    memset(&f, 0, sizeof(f));
    f.kind = ALTDIFF_OBJECTIVE_CALLBACK;
    f.k = fn->k;
    f.hess = csc_view(&fn->pat);
    f.x0 = x0;
    f.user = fn;
    f.value = cb_value;
    f.gradient = cb_gradient;
    f.hessian = cb_hessian;
    f.max_step = with_max_step ? cb_max_step : NULL;
    f.dgrad = cb_dgrad;
    f.dgrad_t = cb_dgrad_t;
    return f;
}

static altdiff_objective entropy_objective(const double *y)
{
    altdiff_objective f;
    memset(&f, 0, sizeof(f));
    f.kind = ALTDIFF_OBJECTIVE_ENTROPY;
    f.y = y;
    return f;
}

/* The Hessian pattern: the nonzeros of Q and the diagonal, stored as the
 * lower triangle, the upper triangle or both */
#define LOWER 0
#define UPPER 1
#define BOTH 2

static owned_csc hessian_pattern(const double *Q, altdiff_int n, int tri)
{
    double *M = zeros(n * n);
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int i = 0; i < n; i++) {
            int side = tri == BOTH || (tri == LOWER ? i >= j : i <= j);
            M[i + j * n] = side && (i == j || Q[i + j * n] != 0) ? 1.0 : 0.0;
        }
    owned_csc pat = csc_from_dense(M, n, n);
    free(M);
    return pat;
}

/* ---- test problems built from their solution ------------------------------------ */

/* A test problem: dqp d holds A, b, G, h, q (P = 0, no entries) and the
 * known solution x, lam, nu, s; theta its base parameters */
typedef struct {
    dqp d;
    altdiff_int k;  /* length of theta                                     */
    double *theta;  /* k: y for the entropy, else a copy of fn->theta      */
    cb_fn *fn;      /* the callbacks, or NULL: the entropy                 */
    double *x0;     /* n: the callbacks' start point                       */
} scase;

static void case_free(scase *c)
{
    dqp_free(&c->d);
    free(c->theta);
    free(c->x0);
    fn_free(c->fn);
}

/* lam ~ N(0, I); even rows of G active (nu in [0.5, 1.5), s = 0), odd rows
 * inactive (s in [0.5, 1.5), nu = 0) */
static void random_multipliers(dqp *d, rng *r)
{
    randn(r, d->lam, d->m);
    for (altdiff_int i = 0; i < d->p; i++) {
        double u = 0.5 + rng_unif(r);
        d->nu[i] = i % 2 == 0 ? u : 0;
        d->s[i] = i % 2 == 0 ? 0 : u;
    }
}

/* b = A x, h = G x + s */
static void rhs_from_solution(dqp *d)
{
    matvec(d->A, d->m, d->n, d->x, d->b);
    matvec(d->G, d->p, d->n, d->x, d->h);
    for (altdiff_int i = 0; i < d->p; i++) d->h[i] += d->s[i];
}

/* t = A'lam + G'nu (n) */
static void dual_term(const dqp *d, const double *lam, const double *nu, double *t)
{
    double *u = zeros(d->n);
    matvec_t(d->A, d->m, d->n, lam, t);
    matvec_t(d->G, d->p, d->n, nu, u);
    for (altdiff_int j = 0; j < d->n; j++) t[j] += u[j];
    free(u);
}

/* Constrained softmax: A, G ~ N(0, 1), x* in [0.1, 1.1), q = 0 and
 * y = log x* + 1 + A'lam* + G'nu* (the entropy's stationarity) */
static scase entropy_case(altdiff_int n, altdiff_int m, altdiff_int p, uint64_t seed)
{
    scase c = {dqp_alloc(n, m, p), n, zeros(n), NULL, NULL};
    rng r = {seed};
    randn(&r, c.d.A, m * n);
    randn(&r, c.d.G, p * n);
    for (altdiff_int j = 0; j < n; j++) c.d.x[j] = 0.1 + rng_unif(&r);
    random_multipliers(&c.d, &r);
    rhs_from_solution(&c.d);
    dual_term(&c.d, c.d.lam, c.d.nu, c.theta);
    for (altdiff_int j = 0; j < n; j++) c.theta[j] += log(c.d.x[j]) + 1;
    dqp_finish(&c.d);
    return c;
}

/* q = -grad f(x*) - A'lam* - G'nu*; theta copied; x0 = start (n) */
static void callback_finish(scase *c, double start)
{
    altdiff_int n = c->d.n;
    double *g = zeros(n);
    fn_gradient(c->fn, c->d.x, g);
    dual_term(&c->d, c->d.lam, c->d.nu, c->d.q);
    for (altdiff_int j = 0; j < n; j++) c->d.q[j] = -c->d.q[j] - g[j];
    free(g);
    rhs_from_solution(&c->d);
    memcpy(c->theta, c->fn->theta, sizeof(double) * (size_t)c->k);
    c->x0 = zeros(n);
    for (altdiff_int j = 0; j < n; j++) c->x0[j] = start;
    dqp_finish(&c->d);
}

/* BARRIER with a box l <= x <= u (G = [I; -I], l in [0.2, 0.5), u in
 * [1.5, 2.5)) and m random equalities: x*_j at u_j (j % 3 = 0), at l_j
 * (j % 3 = 1) or at least 0.3 inside (j % 3 = 2); theta in [0.5, 1.5) */
static scase barrier_case(altdiff_int n, altdiff_int m, uint64_t seed)
{
    scase c = {dqp_alloc(n, m, 2 * n), n, zeros(n), fn_alloc(BARRIER, n, n), NULL};
    rng r = {seed};
    randn(&r, c.d.A, m * n);
    randn(&r, c.d.lam, m);
    for (altdiff_int j = 0; j < n; j++) {
        double l = 0.2 + 0.3 * rng_unif(&r), u = 1.5 + rng_unif(&r);
        int cls = (int)(j % 3);
        c.d.G[j + j * 2 * n] = 1;      /* x_j <= u_j  */
        c.d.G[n + j + j * 2 * n] = -1; /* -x_j <= -l_j */
        c.d.x[j] = cls == 0 ? u : cls == 1 ? l : l + 0.3 + (u - l - 0.6) * rng_unif(&r);
        c.d.nu[j] = cls == 0 ? 0.5 + rng_unif(&r) : 0;
        c.d.nu[n + j] = cls == 1 ? 0.5 + rng_unif(&r) : 0;
        c.d.s[j] = u - c.d.x[j];
        c.d.s[n + j] = c.d.x[j] - l;
        c.fn->theta[j] = 0.5 + rng_unif(&r);
    }
    c.fn->pat = hessian_pattern(c.fn->Q, n, LOWER); /* the diagonal */
    callback_finish(&c, 1.0);
    return c;
}

typedef struct {
    altdiff_int n, m, p, k;
    int dense_q;    /* Q = M'M/n + I, else tridiag(-1, 2, -1)         */
    int use_exp;    /* with sum exp(x_i)                              */
    int identity_b; /* B = -I (k = n): theta adds to q                */
    int tri;        /* pattern: LOWER, UPPER or BOTH                  */
} smooth_spec;

static void smooth_q(double *Q, altdiff_int n, int dense, rng *r)
{
    double *M = zeros(n * n);
    randn(r, M, n * n);
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int i = 0; i < n; i++) {
            double t = dense ? dot(M + i * n, M + j * n, n) / (double)n : 0;
            if (i == j) t += dense ? 1 : 2;
            if (!dense && (i == j + 1 || j == i + 1)) t = -1;
            Q[i + j * n] = t;
        }
    free(M);
}

/* SMOOTH with random A, G, x* ~ N(0, 1/4), theta ~ N(0, 1) */
static scase smooth_case(const smooth_spec *sp, uint64_t seed)
{
    altdiff_int n = sp->n, k = sp->k;
    scase c = {dqp_alloc(n, sp->m, sp->p), k, zeros(k), fn_alloc(SMOOTH, n, k), NULL};
    rng r = {seed};
    cb_fn *fn = c.fn;
    smooth_q(fn->Q, n, sp->dense_q, &r);
    fn->use_exp = sp->use_exp;
    if (sp->identity_b)
        for (altdiff_int j = 0; j < n; j++) fn->B[j + j * n] = -1;
    else
        randn(&r, fn->B, n * k);
    randn(&r, fn->theta, k);
    fn->pat = hessian_pattern(fn->Q, n, sp->tri);
    randn(&r, c.d.A, sp->m * n);
    randn(&r, c.d.G, sp->p * n);
    randn(&r, c.d.x, n);
    for (altdiff_int j = 0; j < n; j++) c.d.x[j] *= 0.5;
    random_multipliers(&c.d, &r);
    callback_finish(&c, 0.0);
    return c;
}

/* ---- the case's objective at x: gradient, Hessian, d grad / d theta ------------ */

static void case_gradient(const scase *c, const double *x, double *g)
{
    if (c->fn) {
        fn_gradient(c->fn, x, g);
        return;
    }
    for (altdiff_int j = 0; j < c->d.n; j++) g[j] = log(x[j]) + 1 - c->theta[j];
}

static void case_hessian(const scase *c, const double *x, double *H)
{
    altdiff_int n = c->d.n;
    if (c->fn) {
        fn_hessian(c->fn, x, H);
        return;
    }
    memset(H, 0, sizeof(double) * (size_t)(n * n));
    for (altdiff_int j = 0; j < n; j++) H[j + j * n] = 1 / x[j];
}

/* out (n) = (d grad f / d theta) v at x (entropy: -v) */
static void case_dgrad(const scase *c, const double *x, const double *v, double *out)
{
    if (c->fn) {
        fn_dgrad(c->fn, x, v, out);
        return;
    }
    for (altdiff_int j = 0; j < c->d.n; j++) out[j] = -v[j];
}

static void case_dgrad_t(const scase *c, const double *x, const double *u, double *out)
{
    if (c->fn) {
        fn_dgrad_t(c->fn, x, u, out);
        return;
    }
    for (altdiff_int j = 0; j < c->d.n; j++) out[j] = -u[j];
}

static int case_setup(altdiff_work **w, const scase *c, const altdiff_settings *set)
{
    altdiff_objective f = c->fn ? cb_objective(c->fn, c->x0, c->fn->family == BARRIER)
                                 : entropy_objective(c->theta);
    return altdiff_setup_objective(w, &c->d.prob, &f, set);
}

/* ---- the dense reference: implicit differentiation at x* ----------------------- */

/* Solve [H A' G_J'; A 0 0; G_J 0 0] (zx, zlam, zJ) = (rx, rb, rh_J) with
 * H = Hess f(x*) and J = {i : nu*_i > 0}, densely (no library code); znu (p)
 * is zJ on J and 0 elsewhere. NULL right-hand sides are zero, NULL outputs
 * skipped. Returns 0 if the matrix is singular. */
static int kkt_dense_solve(const scase *c, const double *rx, const double *rb, const double *rh,
                           double *zx, double *zlam, double *znu)
{
    const dqp *d = &c->d;
    altdiff_int n = d->n, m = d->m, p = d->p, nJ = 0;
    altdiff_int *J = malloc(sizeof(altdiff_int) * (size_t)(p + 1));
    for (altdiff_int i = 0; i < p; i++)
        if (d->nu[i] > 0) J[nJ++] = i;
    altdiff_int N = n + m + nJ;
    double *K = zeros(N * N), *z = zeros(N), *H = zeros(n * n);
    case_hessian(c, d->x, H);
    for (altdiff_int j = 0; j < n; j++) {
        for (altdiff_int i = 0; i < n; i++) K[i + j * N] = H[i + j * n];
        for (altdiff_int i = 0; i < m; i++) K[n + i + j * N] = K[j + (n + i) * N] = d->A[i + j * m];
        for (altdiff_int t = 0; t < nJ; t++)
            K[n + m + t + j * N] = K[j + (n + m + t) * N] = d->G[J[t] + j * p];
        z[j] = rx ? rx[j] : 0;
    }
    for (altdiff_int i = 0; i < m; i++) z[n + i] = rb ? rb[i] : 0;
    for (altdiff_int t = 0; t < nJ; t++) z[n + m + t] = rh ? rh[J[t]] : 0;
    int ok = dense_solve(N, K, z);
    if (zx) memcpy(zx, z, sizeof(double) * (size_t)n);
    if (zlam) memcpy(zlam, z + n, sizeof(double) * (size_t)m);
    for (altdiff_int i = 0; i < p && znu; i++) znu[i] = 0;
    for (altdiff_int t = 0; t < nJ && znu; t++) znu[J[t]] = z[n + m + t];
    free(J);
    free(K);
    free(z);
    free(H);
    return ok;
}

/* A direction in (theta, b, h, A, G) with owned arrays (NULL = zero) */
typedef struct {
    double *theta, *b, *h, *Ax, *Gx;
} pdir;

static void pdir_free(pdir *v)
{
    free(v->theta);
    free(v->b);
    free(v->h);
    free(v->Ax);
    free(v->Gx);
}

static altdiff_direction dir_view(const pdir *v)
{
    altdiff_direction dir;
    memset(&dir, 0, sizeof(dir));
    dir.theta = v->theta;
    dir.b = v->b;
    dir.h = v->h;
    dir.Ax = v->Ax;
    dir.Gx = v->Gx;
    return dir;
}

static pdir random_vector_dir(const scase *c, rng *r)
{
    pdir v = {zeros(c->k), zeros(c->d.m), zeros(c->d.p), NULL, NULL};
    randn(r, v.theta, c->k);
    randn(r, v.b, c->d.m);
    randn(r, v.h, c->d.p);
    return v;
}

/* dx = J v for a vector direction: K (dx, .) = (-(d grad f/d theta) v_theta, v_b, v_h) */
static int ref_jvp(const scase *c, const pdir *v, double *dx)
{
    double *rx = zeros(c->d.n);
    if (v->theta) case_dgrad(c, c->d.x, v->theta, rx);
    for (altdiff_int j = 0; j < c->d.n; j++) rx[j] = -rx[j];
    int ok = kkt_dense_solve(c, rx, v->b, v->h, dx, NULL, NULL);
    free(rx);
    return ok;
}

/* A VJP: dL/dtheta (k), dL/dq (n), dL/db (m), dL/dh (p) */
typedef struct {
    double *theta, *q, *b, *h;
} grads;

static grads grads_alloc(const scase *c)
{
    grads g = {zeros(c->k), zeros(c->d.n), zeros(c->d.m), zeros(c->d.p)};
    return g;
}

static void grads_free(grads *g)
{
    free(g->theta);
    free(g->q);
    free(g->b);
    free(g->h);
}

/* max over theta, b, h of the relative errors */
static double grads_err(const scase *c, const grads *g, const grads *ref)
{
    double e = rel_err(g->theta, ref->theta, c->k);
    e = fmax(e, rel_err(g->b, ref->b, c->d.m));
    return fmax(e, rel_err(g->h, ref->h, c->d.p));
}

/* K u = (w, 0, 0): g_q = -u_x, g_b = u_lam, g_h = u_nu, g_theta = (d grad f/d theta)' g_q */
static int ref_vjp(const scase *c, const double *wx, grads *g)
{
    int ok = kkt_dense_solve(c, wx, NULL, NULL, g->q, g->b, g->h);
    for (altdiff_int j = 0; j < c->d.n; j++) g->q[j] = -g->q[j];
    case_dgrad_t(c, c->d.x, g->q, g->theta);
    return ok;
}

/* ---- solving, re-solving, finite differences ------------------------------------ */

/* Setup and solve, which must succeed (status SOLVED) */
static altdiff_work *case_solve(const scase *c, const altdiff_settings *set)
{
    altdiff_work *w = NULL;
    int rc = case_setup(&w, c, set);
    return solved(w, rc, "setup_objective");
}

/* base + t v (NULL v: base) */
static void shifted(const double *base, const double *v, double t, altdiff_int len, double *out)
{
    for (altdiff_int i = 0; i < len; i++) out[i] = base[i] + (v ? t * v[i] : 0);
}

/* The parameters base + t v into the workspace: theta through
 * altdiff_update_theta (callbacks: in place, then theta = NULL), b and h
 * through altdiff_update_vectors, A and G through altdiff_update_matrices */
static int set_point(altdiff_work *w, const scase *c, const pdir *v, double t)
{
    const dqp *d = &c->d;
    altdiff_int k = c->k, m = d->m, p = d->p, nA = d->Ac.p[d->n], nG = d->Gc.p[d->n];
    double *buf = zeros(k + m + p + nA + nG);
    double *theta = buf, *b = theta + k, *h = b + m, *Ax = h + p, *Gx = Ax + nA;
    shifted(c->theta, v->theta, t, k, theta);
    shifted(d->b, v->b, t, m, b);
    shifted(d->h, v->h, t, p, h);
    shifted(d->Ac.x, v->Ax, t, nA, Ax);
    shifted(d->Gc.x, v->Gx, t, nG, Gx);
    if (c->fn) memcpy(c->fn->theta, theta, sizeof(double) * (size_t)k);
    int rc = altdiff_update_theta(w, c->fn ? NULL : theta);
    if (rc == ALTDIFF_OK) rc = altdiff_update_vectors(w, NULL, m ? b : NULL, p ? h : NULL);
    if (rc == ALTDIFF_OK && (v->Ax || v->Gx))
        rc = altdiff_update_matrices(w, NULL, v->Ax ? Ax : NULL, v->Gx ? Gx : NULL);
    free(buf);
    return rc;
}

/* Central difference (x(base + t v) - x(base - t v)) / 2t, re-solving warm;
 * the workspace is left re-solved at the base. Returns 0 if a solve failed. */
static int fd_solution(altdiff_work *w, const scase *c, const pdir *v, double t, double *dx)
{
    altdiff_int n = c->d.n;
    double *xp = zeros(n), *xm = zeros(n);
    int ok = set_point(w, c, v, t) == ALTDIFF_OK && resolve(w, xp) &&
             set_point(w, c, v, -t) == ALTDIFF_OK && resolve(w, xm);
    for (altdiff_int j = 0; j < n; j++) dx[j] = (xp[j] - xm[j]) / (2 * t);
    ok = ok && set_point(w, c, v, 0) == ALTDIFF_OK && resolve(w, xp);
    free(xp);
    free(xm);
    return ok;
}

/* A VJP of one mode, dL/dtheta through altdiff_theta_grad */
static int vjp_mode(altdiff_work *w, int mode, const double *wx, grads *g, altdiff_deriv_info *info)
{
    altdiff_deriv_settings ds = dset(mode, DERIV_EPS);
    int rc = altdiff_vjp(w, &ds, wx, g->q, g->b, g->h, info);
    return rc == ALTDIFF_OK ? altdiff_theta_grad(w, g->q, g->theta) : rc;
}

/* The solution x against x*, and independent KKT residuals of the returned
 * (x, lam, nu): kkt_residuals with P = 0 and q + grad f(x) for q */
static void check_solution(const scase *c, altdiff_work *w, double tol, verdict *V,
                           const char *tag)
{
    const dqp *d = &c->d;
    altdiff_int n = d->n;
    double *x = zeros(n), *lam = zeros(d->m), *nu = zeros(d->p), *g = zeros(n), *P0 = zeros(n * n);
    altdiff_get_solution(w, x, NULL, lam, nu);
    case_gradient(c, x, g);
    for (altdiff_int j = 0; j < n; j++) g[j] += d->q[j];
    double r[5], e = rel_err(x, d->x, n);
    kkt_residuals(n, d->m, d->p, P0, g, d->A, d->b, d->G, d->h, x, lam, nu, r);
    double kkt = fmax(fmax(r[0], r[1]), fmax(r[2], fmax(r[3], r[4])));
    printf("[smooth] %s: |x - x*| %.1e, KKT %.1e, %ld iterations, %ld Newton steps, %ld "
           "Hessian updates\n",
           tag, e, kkt, (long)altdiff_get_info(w)->iter, (long)altdiff_get_info(w)->newton_steps,
           (long)altdiff_get_info(w)->hess_updates);
    expect(V, e <= tol, "%s: |x - x*| / |x*| = %.2e > %.0e", tag, e, tol);
    expect(V, kkt <= tol, "%s: KKT residuals %.2e %.2e %.2e %.2e %.2e > %.0e", tag, r[0], r[1],
           r[2], r[3], r[4], tol);
    expect(V, altdiff_get_info(w)->newton_steps > 0, "%s: newton_steps %ld", tag,
           (long)altdiff_get_info(w)->newton_steps);
    free(x);
    free(lam);
    free(nu);
    free(g);
    free(P0);
}

/* Every reverse mode against the dense reference; gv[k] = the parts
 * (theta, b, h) of g'v of mode k */
static void check_reverse(altdiff_work *w, const scase *c, const double *wx, const pdir *v,
                          double gv[][3], verdict *V, const char *tag)
{
    grads ref = grads_alloc(c);
    expect(V, ref_vjp(c, wx, &ref), "%s: the dense KKT matrix is singular", tag);
    for (int k = 0; k < N_REVERSE; k++) {
        grads g = grads_alloc(c);
        altdiff_deriv_info info;
        info.status = -1;
        int rc = vjp_mode(w, reverse_modes[k], wx, &g, &info);
        double e = grads_err(c, &g, &ref);
        printf(" vjp %s %.1e", mode_name(reverse_modes[k]), e);
        expect(V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED, "%s vjp %s: rc %d status %d",
               tag, mode_name(reverse_modes[k]), rc, info.status);
        expect(V, e <= DERIV_TOL, "%s vjp %s vs dense: %.2e (dtheta %.2e, db %.2e, dh %.2e)", tag,
               mode_name(reverse_modes[k]), e, rel_err(g.theta, ref.theta, c->k),
               rel_err(g.b, ref.b, c->d.m), rel_err(g.h, ref.h, c->d.p));
        gv[k][0] = dot(g.theta, v->theta, c->k);
        gv[k][1] = dot(g.b, v->b, c->d.m);
        gv[k][2] = dot(g.h, v->h, c->d.p);
        grads_free(&g);
    }
    grads_free(&ref);
}

/* Every forward mode against the dense reference dx_ref; wdx[k] = w'dx */
static void check_forward(altdiff_work *w, const scase *c, const double *wx, const pdir *v,
                          const double *dx_ref, double *wdx, verdict *V, const char *tag)
{
    altdiff_int n = c->d.n;
    double *dx = zeros(n);
    altdiff_direction dir = dir_view(v);
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
        altdiff_deriv_info info;
        info.status = -1;
        int rc = altdiff_jvp(w, &ds, &dir, dx, &info);
        double e = rel_err(dx, dx_ref, n);
        printf(" jvp %s %.1e", mode_name(forward_modes[k]), e);
        expect(V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED, "%s jvp %s: rc %d status %d",
               tag, mode_name(forward_modes[k]), rc, info.status);
        expect(V, e <= DERIV_TOL, "%s jvp %s vs dense: %.2e", tag, mode_name(forward_modes[k]), e);
        wdx[k] = dot(wx, dx, n);
    }
    free(dx);
}

/* Central differences along the theta (part 0), b (1) or h (2) part of v:
 * w'dx against the dense reference and each reverse mode's share of g'v */
static void check_fd_part(altdiff_work *w, const scase *c, const double *wx, const pdir *v,
                          int part, double gv[][3], verdict *V, const char *tag)
{
    static const char *names[] = {"theta", "b", "h"};
    altdiff_int n = c->d.n;
    pdir vp = {part == 0 ? v->theta : NULL, part == 1 ? v->b : NULL, part == 2 ? v->h : NULL,
               NULL, NULL}; /* borrowed */
    double *dx = zeros(n), *dref = zeros(n);
    expect(V, ref_jvp(c, &vp, dref), "%s: the dense KKT matrix is singular", tag);
    expect(V, fd_solution(w, c, &vp, FD_STEP, dx), "%s: a finite-difference solve failed", tag);
    double fd = dot(wx, dx, n), ref = dot(wx, dref, n), e = rel_scalar(fd, ref);
    printf(" %s %.1e", names[part], e);
    expect(V, e <= FD_TOL, "%s: along d%s FD w'dx %.10g vs dense w'J v %.10g: %.2e", tag,
           names[part], fd, ref, e);
    for (int k = 0; k < N_REVERSE; k++)
        expect(V, rel_scalar(gv[k][part], fd) <= FD_TOL,
               "%s: along d%s vjp %s g'v %.10g vs FD %.10g", tag, names[part],
               mode_name(reverse_modes[k]), gv[k][part], fd);
    free(dx);
    free(dref);
}

/* Derivatives with respect to theta, b, h of a solved workspace (solved with
 * record = 1 at FD_EPS, no re-solve since): every reverse and forward mode
 * against the dense reference, the identity w'(J v) = (J'w)'v between them,
 * and central finite differences along each part of a random direction v */
static void check_vector_derivs(altdiff_work *w, const scase *c, uint64_t seed, verdict *V,
                                const char *tag)
{
    altdiff_int n = c->d.n;
    rng r = {seed};
    double *wx = zeros(n), *dx_ref = zeros(n), gv[N_REVERSE][3], wdx[N_FORWARD];
    randn(&r, wx, n);
    pdir v = random_vector_dir(c, &r);
    expect(V, ref_jvp(c, &v, dx_ref), "%s: the dense KKT matrix is singular", tag);
    printf("[smooth] %s: w'J v = %.6f;", tag, dot(wx, dx_ref, n));
    check_reverse(w, c, wx, &v, gv, V, tag);
    check_forward(w, c, wx, &v, dx_ref, wdx, V, tag);
    for (int k = 0; k < N_REVERSE; k++) { /* (J'w)'v = w'(J v) */
        double g = gv[k][0] + gv[k][1] + gv[k][2];
        expect(V, rel_scalar(g, wdx[1]) <= DERIV_TOL, "%s: (J'w)'v %s %.10g vs w'(Jv) KKT %.10g",
               tag, mode_name(reverse_modes[k]), g, wdx[1]);
    }
    printf("; FD");
    for (int part = 0; part < 3; part++) check_fd_part(w, c, wx, &v, part, gv, V, tag);
    printf("\n");
    pdir_free(&v);
    free(wx);
    free(dx_ref);
}

/* The dense reference Jacobian (n x cols) with respect to theta (part 0),
 * b (1) or h (2), column by column */
static void ref_jacobian(const scase *c, int part, altdiff_int cols, double *J)
{
    double *e = zeros(cols);
    for (altdiff_int j = 0; j < cols; j++) {
        pdir v = {NULL, NULL, NULL, NULL, NULL};
        *(part == 0 ? &v.theta : part == 1 ? &v.b : &v.h) = e;
        e[j] = 1;
        ck_assert(ref_jvp(c, &v, J + j * c->d.n));
        e[j] = 0;
    }
    free(e);
}

/* altdiff_jacobian with respect to theta (n x k), b and h in modes ALTDIFF
 * and KKT against the dense reference */
static void check_jacobians(altdiff_work *w, const scase *c, verdict *V, const char *tag)
{
    static const int wrt[3] = {ALTDIFF_WRT_THETA, ALTDIFF_WRT_B, ALTDIFF_WRT_H};
    static const char *names[] = {"theta", "b", "h"};
    altdiff_int n = c->d.n, cols[3] = {c->k, c->d.m, c->d.p};
    printf("[smooth] %s: jacobians", tag);
    for (int part = 0; part < 3; part++) {
        double *Jr = zeros(n * cols[part]), *J = zeros(n * cols[part]);
        ref_jacobian(c, part, cols[part], Jr);
        for (int k = 0; k < N_FORWARD; k++) {
            altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
            int rc = altdiff_jacobian(w, &ds, wrt[part], J, n, NULL);
            double e = rel_err(J, Jr, n * cols[part]);
            printf(" %s/%s %.1e", names[part], mode_name(forward_modes[k]), e);
            expect(V, rc == ALTDIFF_OK && e <= DERIV_TOL, "%s: jacobian d x/d %s (%s): rc %d, %.2e",
                   tag, names[part], mode_name(forward_modes[k]), rc, e);
        }
        free(Jr);
        free(J);
    }
    printf("\n");
}

/* ---- 1. the softmax: closed forms ------------------------------------------------ */

/* 1'x = 1 (A = 1', b = 1), with G = -I, h = 0 (with_g) or without G */
static dqp simplex(altdiff_int n, int with_g)
{
    dqp d = dqp_alloc(n, 1, with_g ? n : 0);
    d.b[0] = 1;
    for (altdiff_int j = 0; j < n; j++) {
        d.A[j] = 1;
        if (with_g) d.G[j + j * n] = -1;
    }
    dqp_finish(&d);
    return d;
}

static altdiff_work *entropy_solve(const dqp *d, const double *y, const altdiff_settings *set)
{
    altdiff_work *w = NULL;
    altdiff_objective f = entropy_objective(y);
    int rc = altdiff_setup_objective(&w, &d->prob, &f, set);
    return solved(w, rc, "setup_objective (entropy)");
}

static const altdiff_int softmax_sizes[] = {5, 20, 50};

/* x = softmax(y) at the default tolerances and at SOLVE_EPS. The error bound:
 * the stopping test bounds |1'x - 1| and the stationarity residual r of
 * log x_i + 1 - y_i + lam (a relative change of x_i) by ~eps (1 + |grad f|),
 * so |x - s|_inf <~ 2 max(s) |r| + |1'x - 1| <~ 10 eps (1 + |y|_inf). */
START_TEST(test_softmax_solution)
{
    altdiff_int n = softmax_sizes[_i / 2];
    int with_g = _i % 2;
    dqp d = simplex(n, with_g);
    rng r = {10 + (uint64_t)_i};
    double *y = zeros(n), *s = zeros(n), *x = zeros(n);
    randn(&r, y, n);
    softmax(y, n, s);
    verdict V = {0, ""};
    double eps[2] = {ALTDIFF_DEFAULT_EPS_ABS, SOLVE_EPS};
    for (int k = 0; k < 2; k++) {
        altdiff_settings set = solve_settings(0, eps[k]);
        altdiff_work *w = entropy_solve(&d, y, &set);
        altdiff_get_solution(w, x, NULL, NULL, NULL);
        double e = 0, tol = 10 * eps[k] * (1 + nrm_inf(y, n));
        for (altdiff_int j = 0; j < n; j++) e = fmax(e, fabs(x[j] - s[j]));
        const altdiff_info *info = altdiff_get_info(w);
        printf("[smooth] softmax n=%ld G=%d eps %.0e: |x - softmax(y)| %.1e (tol %.1e), min x "
               "%.1e, %ld iterations, %ld Newton steps, %ld Hessian updates\n",
               (long)n, with_g, eps[k], e, tol, min_entry(x, n), (long)info->iter,
               (long)info->newton_steps, (long)info->hess_updates);
        expect(&V, e <= tol, "n=%ld G=%d eps %.0e: |x - softmax(y)|_inf = %.2e > %.2e", (long)n,
               with_g, eps[k], e, tol);
        expect(&V, min_entry(x, n) > 0, "n=%ld: x leaves the domain: min x = %g", (long)n,
               min_entry(x, n));
        expect(&V, info->newton_steps > 0, "newton_steps = %ld", (long)info->newton_steps);
        expect(&V, altdiff_theta_size(w) == n, "theta_size %ld", (long)altdiff_theta_size(w));
        altdiff_free(w);
    }
    free(y);
    free(s);
    free(x);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* altdiff_jacobian(WRT_THETA) in modes ALTDIFF (ldJ = n) and KKT (ldJ = n + 1)
 * against the closed form Js = diag(s) - s s' */
static void check_softmax_jacobian(altdiff_work *w, const double *Js, altdiff_int n, verdict *V)
{
    double *J = zeros((n + 1) * n);
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_int ldJ = k == 0 ? n : n + 1;
        altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
        int rc = altdiff_jacobian(w, &ds, ALTDIFF_WRT_THETA, J, ldJ, NULL);
        double e = 0;
        for (altdiff_int j = 0; j < n; j++)
            for (altdiff_int i = 0; i < n; i++)
                e = fmax(e, fabs(J[i + j * ldJ] - Js[i + j * n]));
        e /= nrm_inf(Js, n * n);
        printf(" jacobian %s %.1e", mode_name(forward_modes[k]), e);
        expect(V, rc == ALTDIFF_OK, "jacobian %s: rc %d", mode_name(forward_modes[k]), rc);
        expect(V, e <= DERIV_TOL, "jacobian %s (ldJ %ld) vs diag(s) - ss': %.2e",
               mode_name(forward_modes[k]), (long)ldJ, e);
    }
    free(J);
}

/* dx/dy = diag(s) - s s' by altdiff_jacobian(WRT_THETA) in modes ALTDIFF and
 * KKT (ldJ n and n + 1), and (diag(s) - s s') w = altdiff_theta_grad(dq) = -dq
 * from altdiff_vjp in every mode */
START_TEST(test_softmax_derivs)
{
    altdiff_int n = softmax_sizes[_i / 2];
    int with_g = _i % 2;
    dqp d = simplex(n, with_g);
    rng r = {20 + (uint64_t)_i};
    double *y = zeros(n), *s = zeros(n), *Js = zeros(n * n), *wx = zeros(n),
           *ref = zeros(n), *dq = zeros(n), *dy = zeros(n);
    randn(&r, y, n);
    randn(&r, wx, n);
    softmax(y, n, s);
    softmax_jacobian(s, n, Js);
    matvec(Js, n, n, wx, ref); /* J symmetric: J'w = J w */
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = entropy_solve(&d, y, &set);
    verdict V = {0, ""};
    printf("[smooth] softmax derivatives n=%ld G=%d:", (long)n, with_g);
    for (int k = 0; k < N_REVERSE; k++) {
        grads g = {dy, dq, zeros(1), zeros(d.p)};
        altdiff_deriv_info info;
        info.status = -1;
        int rc = vjp_mode(w, reverse_modes[k], wx, &g, &info);
        double e = rel_err(dy, ref, n), eq = 0;
        for (altdiff_int j = 0; j < n; j++) eq = fmax(eq, fabs(dq[j] + dy[j]));
        printf(" vjp %s %.1e", mode_name(reverse_modes[k]), e);
        expect(&V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED, "vjp %s: rc %d status %d",
               mode_name(reverse_modes[k]), rc, info.status);
        expect(&V, e <= DERIV_TOL, "vjp %s: dy vs (diag(s) - ss')w: %.2e",
               mode_name(reverse_modes[k]), e);
        expect(&V, eq <= 1e-15 * (1 + nrm_inf(dq, n)), "vjp %s: |dq + dy| = %.2e",
               mode_name(reverse_modes[k]), eq);
        free(g.b);
        free(g.h);
    }
    check_softmax_jacobian(w, Js, n, &V);
    printf("\n");
    altdiff_free(w);
    double *bufs[] = {y, s, Js, wx, ref, dq, dy};
    for (int k = 0; k < 7; k++) free(bufs[k]);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* ---- 2. the constrained softmax ------------------------------------------------- */

static const altdiff_int entropy_sizes[][3] = {{10, 3, 5}, {20, 3, 8}};

/* The solution x*, KKT residuals, and the derivatives with respect to
 * y, b, h in every mode against the dense reference and finite differences */
START_TEST(test_entropy_vectors)
{
    const altdiff_int *sz = entropy_sizes[_i];
    scase c = entropy_case(sz[0], sz[1], sz[2], 30 + (uint64_t)_i);
    altdiff_settings set = solve_settings(1, FD_EPS);
    altdiff_work *w = case_solve(&c, &set);
    verdict V = {0, ""};
    char tag[64];
    snprintf(tag, sizeof(tag), "entropy n=%ld m=%ld p=%ld", (long)sz[0], (long)sz[1],
             (long)sz[2]);
    check_solution(&c, w, 1e-8, &V, tag);
    check_vector_derivs(w, &c, 40 + (uint64_t)_i, &V, tag);
    check_jacobians(w, &c, &V, tag);
    altdiff_free(w);
    case_free(&c);
    finish(&V);
}
END_TEST

/* One stored entry of A or G: altdiff_matrix_grads (from the vjp of one mode)
 * vs the central difference of w'x along that entry */
typedef struct {
    char mat;
    altdiff_int i, j;
} entry;

static void check_matrix_entry(altdiff_work *w, const scase *c, const double *wx, entry en,
                               double *const gA[2], double *const gG[2], verdict *V)
{
    altdiff_int n = c->d.n;
    const owned_csc *M = en.mat == 'A' ? &c->d.Ac : &c->d.Gc;
    altdiff_int t = entry_index(M, en.i, en.j);
    ck_assert_int_ge(t, 0);
    pdir v = {NULL, NULL, NULL, NULL, NULL};
    double **slot = en.mat == 'A' ? &v.Ax : &v.Gx, *dx = zeros(n);
    *slot = zeros(M->p[n]);
    (*slot)[t] = 1;
    expect(V, fd_solution(w, c, &v, FD_STEP, dx), "a finite-difference solve failed");
    double fd = dot(wx, dx, n);
    for (int k = 0; k < 2; k++) {
        double g = en.mat == 'A' ? gA[k][t] : gG[k][t], e = rel_scalar(g, fd);
        printf(" %c(%ld,%ld) %.1e", en.mat, (long)en.i, (long)en.j, e);
        expect(V, e <= FD_TOL, "d/d%c(%ld,%ld) (%s): %.10g vs FD %.10g (%.2e)", en.mat,
               (long)en.i, (long)en.j, k == 0 ? "KKT" : "GMRES", g, fd, e);
    }
    pdir_free(&v);
    free(dx);
}

/* altdiff_matrix_grads with dPx = NULL (from the KKT and GMRES VJPs) against
 * FD on single entries of A and of active (even) and inactive (odd) rows of
 * G, then a JVP along random (dA, dG) against FD */
START_TEST(test_entropy_matrix_grads)
{
    scase c = entropy_case(10, 3, 5, 50);
    altdiff_int n = c.d.n, nA = c.d.Ac.p[n], nG = c.d.Gc.p[n];
    altdiff_settings set = solve_settings(0, FD_EPS);
    altdiff_work *w = case_solve(&c, &set);
    rng r = {51};
    double *wx = zeros(n), *gA[2], *gG[2];
    randn(&r, wx, n);
    verdict V = {0, ""};
    int modes[2] = {ALTDIFF_MODE_KKT, ALTDIFF_MODE_GMRES};
    for (int k = 0; k < 2; k++) {
        grads g = grads_alloc(&c);
        int rc = vjp_mode(w, modes[k], wx, &g, NULL);
        expect(&V, rc == ALTDIFF_OK, "vjp %s: rc %d", mode_name(modes[k]), rc);
        gA[k] = zeros(nA);
        gG[k] = zeros(nG);
        rc = altdiff_matrix_grads(w, g.q, g.b, g.h, NULL, gA[k], gG[k]);
        expect(&V, rc == ALTDIFF_OK, "matrix_grads (dPx NULL): rc %d", rc);
        grads_free(&g);
    }
    entry ents[] = {{'A', 0, 0}, {'A', 2, 7}, {'G', 0, 3}, {'G', 4, 9}, {'G', 1, 2}, {'G', 3, 0}};
    printf("[smooth] entropy matrix grads vs FD:");
    for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]); e++)
        check_matrix_entry(w, &c, wx, ents[e], gA, gG, &V);
    printf("\n");
    for (int k = 0; k < 2; k++) {
        free(gA[k]);
        free(gG[k]);
    }
    free(wx);
    altdiff_free(w);
    case_free(&c);
    finish(&V);
}
END_TEST

/* w'(J v) along random matrix values (dA, dG, with dy) by altdiff_jvp against FD */
START_TEST(test_entropy_matrix_jvp)
{
    scase c = entropy_case(10, 3, 5, 60);
    altdiff_int n = c.d.n, nA = c.d.Ac.p[n], nG = c.d.Gc.p[n];
    altdiff_settings set = solve_settings(0, FD_EPS);
    altdiff_work *w = case_solve(&c, &set);
    rng r = {61};
    double *wx = zeros(n), *dx = zeros(n), wdx[N_FORWARD];
    randn(&r, wx, n);
    pdir v = {zeros(n), NULL, NULL, zeros(nA), zeros(nG)};
    randn(&r, v.theta, n);
    randn(&r, v.Ax, nA);
    randn(&r, v.Gx, nG);
    altdiff_direction dir = dir_view(&v);
    verdict V = {0, ""};
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
        int rc = altdiff_jvp(w, &ds, &dir, dx, NULL);
        expect(&V, rc == ALTDIFF_OK, "jvp %s: rc %d", mode_name(forward_modes[k]), rc);
        wdx[k] = dot(wx, dx, n);
    }
    expect(&V, fd_solution(w, &c, &v, FD_STEP, dx), "a finite-difference solve failed");
    double fd = dot(wx, dx, n);
    printf("[smooth] entropy jvp along (dy, dA, dG): ALTDIFF %.1e, KKT %.1e vs FD\n",
           rel_scalar(wdx[0], fd), rel_scalar(wdx[1], fd));
    for (int k = 0; k < N_FORWARD; k++)
        expect(&V, rel_scalar(wdx[k], fd) <= FD_TOL, "jvp %s: w'dx %.10g vs FD %.10g",
               mode_name(forward_modes[k]), wdx[k], fd);
    pdir_free(&v);
    free(wx);
    free(dx);
    altdiff_free(w);
    case_free(&c);
    finish(&V);
}
END_TEST

/* ---- 3. user callbacks ---------------------------------------------------------- */

/* The plain QP of a SMOOTH case without exp and with B = -I:
 * P = Q, q = q_case + theta */
static dqp plain_qp(const scase *c)
{
    const dqp *s = &c->d;
    altdiff_int n = s->n, m = s->m, p = s->p;
    dqp d = dqp_alloc(n, m, p);
    memcpy(d.P, c->fn->Q, sizeof(double) * (size_t)(n * n));
    for (altdiff_int j = 0; j < n; j++) d.q[j] = s->q[j] + c->theta[j];
    memcpy(d.A, s->A, sizeof(double) * (size_t)(m * n));
    memcpy(d.b, s->b, sizeof(double) * (size_t)m);
    memcpy(d.G, s->G, sizeof(double) * (size_t)(p * n));
    memcpy(d.h, s->h, sizeof(double) * (size_t)p);
    dqp_finish(&d);
    return d;
}

/* (a) 1/2 x'Px + theta'x through callbacks (theta = q, d grad f/d theta = I)
 * against altdiff_setup on the same QP: the solution and every mode's VJP
 * (dq = dtheta, db, dh) */
START_TEST(test_callback_quadratic)
{
    smooth_spec sp = {12, 3, 8, 12, 1, 0, 1, UPPER};
    scase c = smooth_case(&sp, 70);
    dqp d = plain_qp(&c);
    altdiff_int n = d.n;
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *wc = case_solve(&c, &set), *wq = NULL;
    ck_assert_int_eq(altdiff_setup(&wq, &d.prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(wq), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(wq)->status, ALTDIFF_SOLVED);
    rng r = {71};
    double *xc = zeros(n), *xq = zeros(n), *wx = zeros(n);
    randn(&r, wx, n);
    altdiff_get_solution(wc, xc, NULL, NULL, NULL);
    altdiff_get_solution(wq, xq, NULL, NULL, NULL);
    verdict V = {0, ""};
    double ex = rel_err(xc, xq, n);
    printf("[smooth] quadratic callbacks vs QP: x %.1e; theta_size %ld;", ex,
           (long)altdiff_theta_size(wc));
    expect(&V, ex <= 1e-7, "x by callbacks vs altdiff_setup: %.2e", ex);
    expect(&V, rel_err(xc, c.d.x, n) <= 1e-7, "x vs x*: %.2e", rel_err(xc, c.d.x, n));
    expect(&V, altdiff_theta_size(wc) == n, "theta_size %ld", (long)altdiff_theta_size(wc));
    for (int k = 0; k < N_REVERSE; k++) {
        grads gc = grads_alloc(&c), gq = grads_alloc(&c);
        int rc = vjp_mode(wc, reverse_modes[k], wx, &gc, NULL);
        int rq = vjp_mode(wq, reverse_modes[k], wx, &gq, NULL);
        double e = fmax(grads_err(&c, &gc, &gq), rel_err(gc.q, gq.q, n));
        double eq = rel_err(gq.theta, gq.q, n); /* a QP: dtheta = dq */
        printf(" %s %.1e", mode_name(reverse_modes[k]), e);
        expect(&V, rc == ALTDIFF_OK && rq == ALTDIFF_OK, "vjp %s: rc %d / %d",
               mode_name(reverse_modes[k]), rc, rq);
        expect(&V, e <= DERIV_TOL, "vjp %s: callbacks vs QP %.2e (dtheta %.2e, dq %.2e)",
               mode_name(reverse_modes[k]), e, rel_err(gc.theta, gq.theta, n),
               rel_err(gc.q, gq.q, n));
        expect(&V, eq == 0, "vjp %s: the QP's theta_grad differs from dq: %.2e",
               mode_name(reverse_modes[k]), eq);
        grads_free(&gc);
        grads_free(&gq);
    }
    printf("\n");
    altdiff_free(wc);
    altdiff_free(wq);
    free(xc);
    free(xq);
    free(wx);
    dqp_free(&d);
    case_free(&c);
    finish(&V);
}
END_TEST

/* (b) BARRIER (x > 0) in a box with equalities, with max_step (_i = 0) and
 * without (_i = 1): x*, KKT, x > 0, and the derivatives in every mode */
START_TEST(test_callback_barrier)
{
    scase c = barrier_case(12, 2, 80);
    altdiff_settings set = solve_settings(1, FD_EPS);
    altdiff_work *w = NULL;
    altdiff_objective f = cb_objective(c.fn, c.x0, _i == 0);
    int rc = altdiff_setup_objective(&w, &c.d.prob, &f, &set);
    ck_assert_msg(rc == ALTDIFF_OK, "setup: %s", altdiff_error_string(rc));
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_SOLVED);
    verdict V = {0, ""};
    char tag[64];
    snprintf(tag, sizeof(tag), "barrier %s max_step", _i == 0 ? "with" : "without");
    double *x = zeros(c.d.n);
    altdiff_get_solution(w, x, NULL, NULL, NULL);
    printf("[smooth] %s: calls value %ld (%ld outside the domain), gradient %ld (%ld), "
           "hessian %ld (%ld), max_step %ld\n",
           tag, c.fn->calls[0], c.fn->outside[0], c.fn->calls[1], c.fn->outside[1],
           c.fn->calls[2], c.fn->outside[2], c.fn->calls[3]);
    expect(&V, c.fn->outside[2] == 0, "%s: the Hessian was evaluated %ld times outside the "
           "domain (at a Newton point)", tag, c.fn->outside[2]);
    expect(&V, min_entry(x, c.d.n) > 0, "%s: min x = %g", tag, min_entry(x, c.d.n));
    expect(&V, _i == 0 ? c.fn->calls[3] > 0 : 1, "%s: max_step never called", tag);
    check_solution(&c, w, 1e-8, &V, tag);
    check_vector_derivs(w, &c, 81 + (uint64_t)_i, &V, tag);
    check_jacobians(w, &c, &V, tag);
    free(x);
    altdiff_free(w);
    case_free(&c);
    finish(&V);
}
END_TEST

/* (c) SMOOTH with a tridiagonal Q, exp and theta of length k = 3 (B n x 3):
 * the Hessian pattern given as the lower (_i = 0), the upper (1) or both (2)
 * triangles */
START_TEST(test_callback_tridiagonal)
{
    smooth_spec sp = {15, 2, 6, 3, 0, 1, 0, (int)_i};
    scase c = smooth_case(&sp, 90 + (uint64_t)_i);
    altdiff_settings set = solve_settings(1, FD_EPS);
    altdiff_work *w = case_solve(&c, &set);
    verdict V = {0, ""};
    char tag[64];
    snprintf(tag, sizeof(tag), "tridiagonal + exp, pattern %s",
             _i == LOWER ? "lower" : _i == UPPER ? "upper" : "both");
    expect(&V, altdiff_theta_size(w) == 3, "theta_size %ld", (long)altdiff_theta_size(w));
    check_solution(&c, w, 1e-8, &V, tag);
    check_vector_derivs(w, &c, 95 + (uint64_t)_i, &V, tag);
    check_jacobians(w, &c, &V, tag);
    altdiff_free(w);
    case_free(&c);
    finish(&V);
}
END_TEST

/* (d) k = 0: no theta, dgrad and dgrad_t NULL. The solution (x*, KKT),
 * theta_size 0, and the VJPs of q, b, h against the dense reference */
START_TEST(test_callback_no_theta)
{
    smooth_spec sp = {10, 2, 6, 0, 0, 1, 0, BOTH};
    scase c = smooth_case(&sp, 170);
    altdiff_int n = c.d.n;
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_objective f = cb_objective(c.fn, c.x0, 0);
    f.dgrad = NULL;
    f.dgrad_t = NULL;
    altdiff_work *w = NULL;
    int rc = altdiff_setup_objective(&w, &c.d.prob, &f, &set);
    ck_assert_msg(rc == ALTDIFF_OK, "setup with k = 0: %s", altdiff_error_string(rc));
    altdiff_solve(w);
    verdict V = {0, ""};
    expect(&V, altdiff_get_info(w)->status == ALTDIFF_SOLVED, "status %d",
           altdiff_get_info(w)->status);
    expect(&V, altdiff_theta_size(w) == 0, "theta_size %ld", (long)altdiff_theta_size(w));
    check_solution(&c, w, 1e-7, &V, "k = 0");
    rng r = {171};
    double *wx = zeros(n);
    randn(&r, wx, n);
    grads g = grads_alloc(&c), ref = grads_alloc(&c);
    expect(&V, ref_vjp(&c, wx, &ref), "the dense KKT matrix is singular");
    for (int k = 0; k < N_REVERSE; k++) {
        if (reverse_modes[k] == ALTDIFF_MODE_UNROLL) continue; /* not recorded */
        rc = vjp_mode(w, reverse_modes[k], wx, &g, NULL);
        double e = fmax(rel_err(g.q, ref.q, n), grads_err(&c, &g, &ref));
        expect(&V, rc == ALTDIFF_OK && e <= DERIV_TOL, "k = 0, vjp %s: rc %d, vs dense %.2e",
               mode_name(reverse_modes[k]), rc, e);
    }
    grads_free(&g);
    grads_free(&ref);
    free(wx);
    altdiff_free(w);
    case_free(&c);
    finish(&V);
}
END_TEST

/* ---- 4. the forward recursion alongside the iterations -------------------------- */

/* The problems of test_solve_jvp: the constrained softmax along dy (_i = 0)
 * and along (dy, db, dh) (1), callbacks SMOOTH (2) and BARRIER (3) */
static scase jvp_case(int i)
{
    smooth_spec sp = {15, 2, 6, 3, 0, 1, 0, LOWER};
    if (i < 2) return entropy_case(15, 3, 6, 100);
    return i == 2 ? smooth_case(&sp, 102) : barrier_case(12, 2, 103);
}

/* altdiff_solve_jvp against the KKT JVP and the dense reference. The
 * recursion stops with the solve, not when the tangent has converged: it
 * contracts at the rate r of ADMM, so its error is about change * r / (1 - r)
 * in terms of the reported last relative change (info.residual); measured
 * r ~ 0.6 for the SMOOTH case, whose iterates converge faster than its
 * tangent. The iterates are those of a solve up to the solve's accuracy (a
 * smooth objective refreshes Hess f at every iterate for the tangent, which
 * changes the Newton steps; the entropy and BARRIER refresh it anyway). */
START_TEST(test_solve_jvp)
{
    static const char *names[] = {"entropy, dy", "entropy, (dy, db, dh)", "callbacks SMOOTH",
                                  "callbacks BARRIER"};
    scase c = jvp_case(_i);
    altdiff_int n = c.d.n;
    altdiff_settings set = solve_settings(0, FD_EPS);
    altdiff_work *w = case_solve(&c, &set), *w2 = NULL;
    rng r = {101};
    pdir v = random_vector_dir(&c, &r);
    if (_i == 0) { /* dy only */
        memset(v.b, 0, sizeof(double) * (size_t)c.d.m);
        memset(v.h, 0, sizeof(double) * (size_t)c.d.p);
    }
    altdiff_direction dir = dir_view(&v);
    double *ref = zeros(n), *dense = zeros(n), *dx = zeros(n), *x = zeros(n), *x2 = zeros(n);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_KKT, DERIV_EPS);
    ck_assert_int_eq(altdiff_jvp(w, &ds, &dir, ref, NULL), ALTDIFF_OK);
    ck_assert(ref_jvp(&c, &v, dense));
    altdiff_get_solution(w, x, NULL, NULL, NULL);
    ck_assert_int_eq(case_setup(&w2, &c, &set), ALTDIFF_OK);
    altdiff_deriv_info info;
    info.status = -1;
    int rc = altdiff_solve_jvp(w2, &dir, dx, &info);
    altdiff_get_solution(w2, x2, NULL, NULL, NULL);
    verdict V = {0, ""};
    double e = rel_err(dx, ref, n), ed = rel_err(dx, dense, n), ex = rel_err(x2, x, n);
    printf("[smooth] solve_jvp (%s) vs KKT jvp %.1e, vs dense %.1e; x vs solve %.1e; %ld "
           "iterations (solve %ld), last change %.1e\n",
           names[_i], e, ed, ex, (long)info.iter, (long)altdiff_get_info(w)->iter, info.residual);
    expect(&V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED, "%s: solve_jvp rc %d status %d",
           names[_i], rc, info.status);
    double tol = fmax(DERIV_TOL, 10 * info.residual);
    expect(&V, info.residual <= 1e-5, "%s: the tangent's last change %.2e", names[_i],
           info.residual);
    expect(&V, e <= tol, "%s: solve_jvp vs KKT jvp: %.2e > %.1e", names[_i], e, tol);
    expect(&V, ed <= tol, "%s: solve_jvp vs the dense reference: %.2e > %.1e", names[_i], ed, tol);
    expect(&V, ex <= 1e-9, "%s: solve_jvp iterates vs the solve's: |x - x_solve| = %.2e",
           names[_i], ex);
    altdiff_free(w);
    altdiff_free(w2);
    pdir_free(&v);
    double *bufs[] = {ref, dense, dx, x, x2};
    for (int k = 0; k < 5; k++) free(bufs[k]);
    case_free(&c);
    finish(&V);
}
END_TEST

/* ---- 5. errors and contracts ---------------------------------------------------- */

static altdiff_work *const SENTINEL = (altdiff_work *)&softmax_sizes; /* never a workspace */

/* setup_objective must fail with `code` and leave *work NULL */
static void expect_setup_fails(verdict *V, const altdiff_problem *prob,
                               const altdiff_objective *f, int code, const char *what)
{
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *w = SENTINEL;
    int rc = altdiff_setup_objective(&w, prob, f, &set);
    expect(V, rc == code && w == NULL, "%s: rc %d (want %d), work %s", what, rc, code,
           w == NULL ? "NULL" : "not NULL");
    if (w != SENTINEL) altdiff_free(w);
}

/* The entropy: y NULL, NaN or Inf, an unknown kind, P with entries */
START_TEST(test_invalid_entropy)
{
    dqp d = simplex(5, 1), dp = simplex(5, 1);
    double y[5] = {0.1, -0.3, 1.2, 0.0, 0.5};
    for (int j = 0; j < 5; j++) dp.P[j + j * 5] = 1;
    dqp_finish(&dp);
    verdict V = {0, ""};
    altdiff_objective f = entropy_objective(y);
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *w = NULL;
    expect(&V, altdiff_setup_objective(&w, &d.prob, &f, &set) == ALTDIFF_OK, "valid entropy");
    altdiff_free(w);
    expect_setup_fails(&V, &dp.prob, &f, ALTDIFF_ERR_INVALID, "entropy with P entries");
    f.y = NULL;
    expect_setup_fails(&V, &d.prob, &f, ALTDIFF_ERR_INVALID, "y NULL");
    f.y = y;
    double bad[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        y[2] = bad[k];
        expect_setup_fails(&V, &d.prob, &f, ALTDIFF_ERR_INVALID, "y with NaN/Inf");
    }
    y[2] = 1.2;
    int kinds[] = {-1, 3, 99};
    for (int k = 0; k < 3; k++) {
        f.kind = kinds[k];
        expect_setup_fails(&V, &d.prob, &f, ALTDIFF_ERR_INVALID, "unknown kind");
    }
    expect_setup_fails(&V, &d.prob, NULL, ALTDIFF_ERR_INVALID, "f NULL");
    dqp_free(&d);
    dqp_free(&dp);
    finish(&V);
}
END_TEST

/* Callbacks: each one missing (dgrad, dgrad_t with k > 0), x0 NULL or outside the domain, k < 0, a
 * pattern of the wrong size, P with entries */
START_TEST(test_invalid_callbacks)
{
    scase c = barrier_case(6, 1, 110);
    dqp dp = dqp_alloc(6, 0, 0);
    for (int j = 0; j < 6; j++) dp.P[j + j * 6] = 1;
    dqp_finish(&dp);
    altdiff_problem withP = c.d.prob;
    withP.P = dp.prob.P;
    verdict V = {0, ""};
    altdiff_objective good = cb_objective(c.fn, c.x0, 1), f;
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *w = NULL;
    expect(&V, altdiff_setup_objective(&w, &c.d.prob, &good, &set) == ALTDIFF_OK,
           "valid callbacks");
    altdiff_free(w);
    f = good, f.value = NULL;
    expect_setup_fails(&V, &c.d.prob, &f, ALTDIFF_ERR_INVALID, "value NULL");
    f = good, f.gradient = NULL;
    expect_setup_fails(&V, &c.d.prob, &f, ALTDIFF_ERR_INVALID, "gradient NULL");
    f = good, f.hessian = NULL;
    expect_setup_fails(&V, &c.d.prob, &f, ALTDIFF_ERR_INVALID, "hessian NULL");
    f = good, f.dgrad = NULL;
    expect_setup_fails(&V, &c.d.prob, &f, ALTDIFF_ERR_INVALID, "dgrad NULL with k > 0");
    f = good, f.dgrad_t = NULL;
    expect_setup_fails(&V, &c.d.prob, &f, ALTDIFF_ERR_INVALID, "dgrad_t NULL with k > 0");
    f = good, f.x0 = NULL;
    expect_setup_fails(&V, &c.d.prob, &f, ALTDIFF_ERR_INVALID, "x0 NULL");
    f = good, f.k = -1;
    expect_setup_fails(&V, &c.d.prob, &f, ALTDIFF_ERR_INVALID, "k = -1");
    f = good, f.hess.nrow = 5;
    expect_setup_fails(&V, &c.d.prob, &f, ALTDIFF_ERR_INVALID, "pattern 5 x 6");
    expect_setup_fails(&V, &withP, &good, ALTDIFF_ERR_INVALID, "callbacks with P entries");
    double outside[] = {-1.0, 0.0, NAN};
    for (int k = 0; k < 3; k++) {
        c.x0[2] = outside[k];
        expect_setup_fails(&V, &c.d.prob, &good, ALTDIFF_ERR_INVALID, "x0 outside the domain");
    }
    dqp_free(&dp);
    case_free(&c);
    finish(&V);
}
END_TEST

/* f = -|x|^2/2 + theta'x on 1'x = 1: Hess f = -I, and H = -I + rho 11' +
 * sigma I is indefinite for every rho. Setup gives ALTDIFF_ERR_NOT_POSDEF
 * (work NULL) or the solve ends with ALTDIFF_NONCONVEX. */
START_TEST(test_nonconvex)
{
    altdiff_int n = 6;
    dqp d = simplex(n, 0);
    cb_fn *fn = fn_alloc(SMOOTH, n, n);
    double *x0 = zeros(n);
    for (altdiff_int j = 0; j < n; j++) {
        fn->Q[j + j * n] = -1;
        fn->B[j + j * n] = -1;
        fn->theta[j] = 0.1 * (double)j;
        x0[j] = 1.0 / (double)n;
    }
    fn->pat = hessian_pattern(fn->Q, n, LOWER);
    altdiff_objective f = cb_objective(fn, x0, 0);
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *w = SENTINEL;
    int rc = altdiff_setup_objective(&w, &d.prob, &f, &set), st = -1;
    if (rc == ALTDIFF_OK) {
        altdiff_solve(w);
        st = altdiff_get_info(w)->status;
    }
    printf("[smooth] nonconvex: setup %d, status %d\n", rc, st);
    int ok = (rc == ALTDIFF_ERR_NOT_POSDEF && w == NULL) ||
             (rc == ALTDIFF_OK && st == ALTDIFF_NONCONVEX);
    if (rc == ALTDIFF_OK) altdiff_free(w);
    fn_free(fn);
    free(x0);
    dqp_free(&d);
    ck_assert_msg(ok, "non-convex Hessian: setup rc %d (work %s), solve status %d", rc,
                  rc == ALTDIFF_OK ? "set" : "?", st);
}
END_TEST

/* altdiff_warm_start with x outside the domain: the entropy (x_i <= 0) and
 * the barrier callbacks; a warm start inside the domain works */
START_TEST(test_warm_start_domain)
{
    altdiff_int n = 5;
    dqp d = simplex(n, 1);
    double y[5] = {0.3, -1.0, 0.7, 2.0, 0.0}, s[5], x[5], bad[5];
    softmax(y, n, s);
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_objective f = entropy_objective(y);
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup_objective(&w, &d.prob, &f, &set), ALTDIFF_OK);
    verdict V = {0, ""};
    double outside[] = {-0.1, 0.0, NAN};
    for (int k = 0; k < 3; k++) {
        memcpy(bad, s, sizeof(bad));
        bad[1] = outside[k];
        int rc = altdiff_warm_start(w, bad, NULL, NULL, NULL);
        expect(&V, rc == ALTDIFF_ERR_INVALID, "entropy warm start x_1 = %g: rc %d", outside[k], rc);
    }
    expect(&V, altdiff_warm_start(w, s, NULL, NULL, NULL) == ALTDIFF_OK, "warm start at softmax");
    altdiff_solve(w);
    altdiff_get_solution(w, x, NULL, NULL, NULL);
    expect(&V, altdiff_get_info(w)->status == ALTDIFF_SOLVED && rel_err(x, s, n) <= 1e-7,
           "after a warm start: status %d, |x - softmax| %.2e", altdiff_get_info(w)->status,
           rel_err(x, s, n));
    altdiff_free(w);
    scase c = barrier_case(6, 1, 120);
    ck_assert_int_eq(case_setup(&w, &c, &set), ALTDIFF_OK);
    double bad6[6];
    memcpy(bad6, c.x0, sizeof(bad6));
    bad6[0] = -0.5;
    int rc = altdiff_warm_start(w, bad6, NULL, NULL, NULL);
    expect(&V, rc == ALTDIFF_ERR_INVALID, "barrier warm start x_0 = -0.5: rc %d", rc);
    altdiff_free(w);
    case_free(&c);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* Every derivative call of a workspace without a solution */
static void expect_not_solved(verdict *V, altdiff_work *w, altdiff_int n, altdiff_int k,
                              const char *tag)
{
    double *wx = zeros(n), *J = zeros(n * k), *out = zeros(n + k), *v = zeros(k);
    wx[0] = 1;
    v[0] = 1;
    altdiff_direction dir;
    memset(&dir, 0, sizeof(dir));
    dir.theta = v;
    for (int mode = ALTDIFF_MODE_ADJOINT; mode <= ALTDIFF_MODE_KKT; mode++) {
        altdiff_deriv_settings ds = dset(mode, DERIV_EPS);
        int rc = altdiff_vjp(w, &ds, wx, out, NULL, NULL, NULL);
        expect(V, rc == ALTDIFF_ERR_NOT_SOLVED, "%s: vjp %s rc %d", tag, mode_name(mode), rc);
        if (mode != ALTDIFF_MODE_ALTDIFF && mode != ALTDIFF_MODE_KKT) continue;
        rc = altdiff_jvp(w, &ds, &dir, out, NULL);
        expect(V, rc == ALTDIFF_ERR_NOT_SOLVED, "%s: jvp %s rc %d", tag, mode_name(mode), rc);
        rc = altdiff_jacobian(w, &ds, ALTDIFF_WRT_THETA, J, n, NULL);
        expect(V, rc == ALTDIFF_ERR_NOT_SOLVED, "%s: jacobian %s rc %d", tag, mode_name(mode), rc);
    }
    free(wx);
    free(J);
    free(out);
    free(v);
}

/* Derivatives before the first solve (entropy), and after
 * altdiff_update_theta(w, NULL) of callbacks (the solution is forgotten) */
START_TEST(test_not_solved)
{
    dqp d = simplex(5, 1);
    double y[5] = {0.3, -1.0, 0.7, 2.0, 0.0}, dq[5] = {1, 0, 0, 0, 0}, db[1] = {0}, dh[5] = {0};
    double dA[5], dG[5], dt[5];
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_objective f = entropy_objective(y);
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup_objective(&w, &d.prob, &f, &set), ALTDIFF_OK);
    verdict V = {0, ""};
    expect_not_solved(&V, w, 5, 5, "entropy before a solve");
    int rc = altdiff_matrix_grads(w, dq, db, dh, NULL, dA, dG);
    expect(&V, rc == ALTDIFF_ERR_NOT_SOLVED, "matrix_grads before a solve: rc %d", rc);
    altdiff_free(w);
    smooth_spec sp = {8, 1, 4, 3, 0, 1, 0, LOWER};
    scase c = smooth_case(&sp, 130);
    w = case_solve(&c, &set);
    rc = altdiff_update_theta(w, NULL);
    expect(&V, rc == ALTDIFF_OK, "callbacks: update_theta(NULL) rc %d", rc);
    expect(&V, altdiff_get_info(w)->status == ALTDIFF_UNSOLVED, "status after update_theta %d",
           altdiff_get_info(w)->status);
    expect_not_solved(&V, w, 8, 3, "callbacks after update_theta");
    double q8[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    rc = altdiff_theta_grad(w, q8, dt);
    expect(&V, rc == ALTDIFF_ERR_NOT_SOLVED, "theta_grad after update_theta: rc %d", rc);
    altdiff_solve(w);
    expect(&V, altdiff_get_info(w)->status == ALTDIFF_SOLVED, "re-solve status %d",
           altdiff_get_info(w)->status);
    altdiff_free(w);
    case_free(&c);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* altdiff_theta_size and altdiff_update_theta: the entropy (n; a new y is
 * re-solved to its softmax; NULL or NaN rejected), callbacks (k) */
START_TEST(test_theta_contract)
{
    altdiff_int n = 6;
    dqp d = simplex(n, 0);
    double y[6] = {0.3, -1.0, 0.7, 2.0, 0.0, -0.4}, y2[6] = {1, 0.5, -2, 0.1, 0.9, 0}, s[6],
           x[6];
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_work *w = entropy_solve(&d, y, &set);
    verdict V = {0, ""};
    expect(&V, altdiff_theta_size(w) == n, "entropy theta_size %ld", (long)altdiff_theta_size(w));
    int rc = altdiff_update_theta(w, NULL);
    expect(&V, rc == ALTDIFF_ERR_INVALID, "entropy update_theta(NULL): rc %d", rc);
    y2[3] = NAN;
    rc = altdiff_update_theta(w, y2);
    expect(&V, rc == ALTDIFF_ERR_INVALID, "entropy update_theta with NaN: rc %d", rc);
    y2[3] = 0.1;
    rc = altdiff_update_theta(w, y2);
    expect(&V, rc == ALTDIFF_OK, "entropy update_theta: rc %d", rc);
    softmax(y2, n, s);
    altdiff_solve(w);
    altdiff_get_solution(w, x, NULL, NULL, NULL);
    expect(&V, altdiff_get_info(w)->status == ALTDIFF_SOLVED && rel_err(x, s, n) <= 1e-7,
           "after update_theta: status %d, |x - softmax(y2)| %.2e", altdiff_get_info(w)->status,
           rel_err(x, s, n));
    altdiff_free(w);
    smooth_spec sp = {8, 1, 4, 3, 0, 1, 0, UPPER};
    scase c = smooth_case(&sp, 140);
    w = case_solve(&c, &set);
    expect(&V, altdiff_theta_size(w) == 3, "callback theta_size %ld", (long)altdiff_theta_size(w));
    altdiff_free(w);
    case_free(&c);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* Without a P: dPx non-NULL in altdiff_matrix_grads and dir.Px in
 * altdiff_jvp are invalid; matrix directions in altdiff_solve_jvp too */
START_TEST(test_no_P)
{
    scase c = entropy_case(8, 2, 4, 150);
    altdiff_int n = c.d.n, nA = c.d.Ac.p[n], nG = c.d.Gc.p[n];
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_work *w = case_solve(&c, &set);
    rng r = {151};
    double *wx = zeros(n), *dx = zeros(n), *dPx = zeros(n * n), *dAx = zeros(nA),
           *dGx = zeros(nG);
    randn(&r, wx, n);
    grads g = grads_alloc(&c);
    verdict V = {0, ""};
    expect(&V, vjp_mode(w, ALTDIFF_MODE_KKT, wx, &g, NULL) == ALTDIFF_OK, "vjp KKT");
    int rc = altdiff_matrix_grads(w, g.q, g.b, g.h, dPx, dAx, dGx);
    expect(&V, rc == ALTDIFF_ERR_INVALID, "matrix_grads with dPx: rc %d", rc);
    rc = altdiff_matrix_grads(w, g.q, g.b, g.h, NULL, dAx, dGx);
    expect(&V, rc == ALTDIFF_OK, "matrix_grads without dPx: rc %d", rc);
    altdiff_direction dir;
    memset(&dir, 0, sizeof(dir));
    dir.theta = wx;
    dir.Px = dPx; /* any values: there is no P */
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
        rc = altdiff_jvp(w, &ds, &dir, dx, NULL);
        expect(&V, rc == ALTDIFF_ERR_INVALID, "jvp %s with dir.Px: rc %d",
               mode_name(forward_modes[k]), rc);
    }
    dir.Px = NULL;
    dir.Ax = dAx;
    rc = altdiff_solve_jvp(w, &dir, dx, NULL);
    expect(&V, rc == ALTDIFF_ERR_INVALID, "solve_jvp with dir.Ax: rc %d", rc);
    grads_free(&g);
    double *bufs[] = {wx, dx, dPx, dAx, dGx};
    for (int k = 0; k < 5; k++) free(bufs[k]);
    altdiff_free(w);
    case_free(&c);
    finish(&V);
}
END_TEST

/* ALTDIFF_OBJECTIVE_QUADRATIC through altdiff_setup_objective against
 * altdiff_setup: the solution, theta_size, theta_grad = dq, and
 * update_theta(q2) against update_vectors(q2); q NULL is invalid */
START_TEST(test_quadratic_kind)
{
    smooth_spec sp = {10, 2, 6, 10, 1, 0, 1, UPPER};
    scase c = smooth_case(&sp, 160);
    dqp d = plain_qp(&c);
    altdiff_int n = d.n;
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_objective f;
    memset(&f, 0, sizeof(f));
    f.kind = ALTDIFF_OBJECTIVE_QUADRATIC;
    altdiff_work *wq = NULL, *wo = NULL;
    ck_assert_int_eq(altdiff_setup(&wq, &d.prob, &set), ALTDIFF_OK);
    int rc = altdiff_setup_objective(&wo, &d.prob, &f, &set);
    ck_assert_msg(rc == ALTDIFF_OK, "setup_objective QUADRATIC: %s", altdiff_error_string(rc));
    rng r = {161};
    double *xq = zeros(n), *xo = zeros(n), *q2 = zeros(n), *wx = zeros(n), *dq = zeros(n),
           *dt = zeros(n);
    randn(&r, wx, n);
    verdict V = {0, ""};
    for (int round = 0; round < 2; round++) {
        altdiff_solve(wq);
        altdiff_solve(wo);
        altdiff_get_solution(wq, xq, NULL, NULL, NULL);
        altdiff_get_solution(wo, xo, NULL, NULL, NULL);
        double e = rel_err(xo, xq, n);
        printf("[smooth] QUADRATIC vs altdiff_setup (%s): x %.1e, iterations %ld / %ld\n",
               round ? "new q" : "first", e, (long)altdiff_get_info(wo)->iter,
               (long)altdiff_get_info(wq)->iter);
        expect(&V, altdiff_get_info(wo)->status == ALTDIFF_SOLVED, "QUADRATIC status %d",
               altdiff_get_info(wo)->status);
        expect(&V, e <= 1e-7, "round %d: QUADRATIC vs altdiff_setup: %.2e", round, e);
        randn(&r, q2, n); /* the second round: a new q */
        expect(&V, altdiff_update_theta(wo, q2) == ALTDIFF_OK, "update_theta QUADRATIC");
        expect(&V, altdiff_update_vectors(wq, q2, NULL, NULL) == ALTDIFF_OK, "update_vectors");
    }
    altdiff_solve(wo);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_KKT, DERIV_EPS);
    rc = altdiff_vjp(wo, &ds, wx, dq, NULL, NULL, NULL);
    expect(&V, rc == ALTDIFF_OK && altdiff_theta_grad(wo, dq, dt) == ALTDIFF_OK &&
                   rel_err(dt, dq, n) == 0,
           "QUADRATIC theta_grad != dq (rc %d, %.2e)", rc, rel_err(dt, dq, n));
    expect(&V, altdiff_theta_size(wo) == n && altdiff_theta_size(wq) == n, "theta_size %ld / %ld",
           (long)altdiff_theta_size(wo), (long)altdiff_theta_size(wq));
    altdiff_problem noq = d.prob;
    noq.q = NULL;
    expect_setup_fails(&V, &noq, &f, ALTDIFF_ERR_INVALID, "QUADRATIC with q NULL");
    altdiff_free(wq);
    altdiff_free(wo);
    double *bufs[] = {xq, xo, q2, wx, dq, dt};
    for (int k = 0; k < 6; k++) free(bufs[k]);
    dqp_free(&d);
    case_free(&c);
    finish(&V);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------- */

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *suite_smooth(void)
{
    Suite *s = suite_create("smooth");
    TCase *tc = tcase_create("softmax");
    tcase_add_loop_test(tc, test_softmax_solution, 0, 2 * COUNT(softmax_sizes));
    tcase_add_loop_test(tc, test_softmax_derivs, 0, 2 * COUNT(softmax_sizes));
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("constrained_softmax");
    tcase_add_loop_test(tc, test_entropy_vectors, 0, COUNT(entropy_sizes));
    tcase_add_test(tc, test_entropy_matrix_grads);
    tcase_add_test(tc, test_entropy_matrix_jvp);
    tcase_add_loop_test(tc, test_solve_jvp, 0, 4);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("callbacks");
    tcase_add_test(tc, test_callback_quadratic);
    tcase_add_loop_test(tc, test_callback_barrier, 0, 2);
    tcase_add_loop_test(tc, test_callback_tridiagonal, 0, 3);
    tcase_add_test(tc, test_callback_no_theta);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("contract");
    tcase_add_test(tc, test_invalid_entropy);
    tcase_add_test(tc, test_invalid_callbacks);
    tcase_add_test(tc, test_nonconvex);
    tcase_add_test(tc, test_warm_start_domain);
    tcase_add_test(tc, test_not_solved);
    tcase_add_test(tc, test_theta_contract);
    tcase_add_test(tc, test_no_P);
    tcase_add_test(tc, test_quadratic_kind);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_smooth()); }
