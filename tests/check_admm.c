/*
 * check_admm: the ADMM solver against the mathematics. Every solution is
 * checked by recomputing the KKT conditions from the dense data, or against a
 * closed form (unconstrained, equality-only KKT system, box and simplex
 * projections, hand-solved LPs); infeasibility certificates are checked
 * against their defining inequalities; the workspace API (warm start,
 * updates, limits) against fresh solves.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ad_internal.h"

/* ---- dense helpers (the dense QP fixture dqp is in helpers.c) ------------- */

/* A random strictly convex QP, feasible by construction through x0:
 * P = M'M/n + 0.1 I, b = A x0, h = G x0 + uniform slack in [0, 1). */
static dqp random_qp(altdiff_int n, altdiff_int m, altdiff_int p, uint64_t seed)
{
    rng r = {seed};
    dqp d = dqp_alloc(n, m, p);
    double *M = zeros(n * n), *x0 = zeros(n);
    for (altdiff_int k = 0; k < n * n; k++) M[k] = rng_normal(&r);
    for (altdiff_int i = 0; i < n; i++)
        for (altdiff_int j = 0; j < n; j++) {
            double t = 0;
            for (altdiff_int k = 0; k < n; k++) t += M[k + i * n] * M[k + j * n];
            d.P[i + j * n] = t / (double)n + (i == j ? 0.1 : 0.0);
        }
    for (altdiff_int j = 0; j < n; j++) {
        d.q[j] = rng_normal(&r);
        x0[j] = rng_normal(&r);
    }
    for (altdiff_int k = 0; k < m * n; k++) d.A[k] = rng_normal(&r);
    for (altdiff_int k = 0; k < p * n; k++) d.G[k] = rng_normal(&r);
    matvec(d.A, m, n, x0, d.b);
    matvec(d.G, p, n, x0, d.h);
    for (altdiff_int i = 0; i < p; i++) d.h[i] += rng_unif(&r);
    free(M);
    free(x0);
    dqp_finish(&d);
    return d;
}

/* ---- solving and checking ------------------------------------------------- */

typedef struct {
    double *x, *s, *lam, *nu;
    altdiff_info info;
} solution;

static solution sol_alloc(const dqp *d)
{
    solution S;
    S.x = zeros(d->n);
    S.s = zeros(d->p);
    S.lam = zeros(d->m);
    S.nu = zeros(d->p);
    memset(&S.info, 0, sizeof(S.info));
    return S;
}

static void sol_free(solution *S)
{
    free(S->x);
    free(S->s);
    free(S->lam);
    free(S->nu);
}

static void sol_read(const altdiff_work *w, solution *S)
{
    ck_assert_int_eq(altdiff_get_solution(w, S->x, S->s, S->lam, S->nu), ALTDIFF_OK);
    S->info = *altdiff_get_info(w);
}

/* Setup (which must succeed) and solve; the solution and info in S */
static solution solve(const dqp *d, const altdiff_settings *set)
{
    altdiff_work *w = NULL;
    int rc = altdiff_setup(&w, &d->prob, set);
    ck_assert_msg(rc == ALTDIFF_OK, "setup: %s", altdiff_error_string(rc));
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    solution S = sol_alloc(d);
    sol_read(w, &S);
    altdiff_free(w);
    return S;
}

/* The KKT conditions of d at S, recomputed from the dense data, each relative
 * to the scale of the data it involves (as the stopping test in altdiff.h):
 * primal residuals against 1 + max(|Ax|, |b|, |Gx|, |h|) (finite h only),
 * the dual residual against 1 + max(|Px|, |q|, |A'lam|, |G'nu|),
 * complementarity against the primal scale times 1 + |nu|, nu >= 0 against the
 * dual scale (the exact sign property of the iterates is test_exact_signs). */
static void assert_kkt(const dqp *d, const solution *S, double tol)
{
    altdiff_int n = d->n, m = d->m, p = d->p;
    double r[5], *v = zeros(n + m + p);
    kkt_residuals(n, m, p, d->P, d->q, d->A, d->b, d->G, d->h, S->x, S->lam, S->nu, r);
    double ps = nrm_inf(d->b, m), ds = nrm_inf(d->q, n);
    matvec(d->A, m, n, S->x, v);
    ps = fmax(ps, nrm_inf(v, m));
    matvec(d->G, p, n, S->x, v);
    ps = fmax(ps, nrm_inf(v, p));
    for (altdiff_int i = 0; i < p; i++)
        if (d->h[i] < 1e19) ps = fmax(ps, fabs(d->h[i]));
    matvec(d->P, n, n, S->x, v);
    ds = fmax(ds, nrm_inf(v, n));
    matvec_t(d->A, m, n, S->lam, v);
    ds = fmax(ds, nrm_inf(v, n));
    matvec_t(d->G, p, n, S->nu, v);
    ds = fmax(ds, nrm_inf(v, n));
    free(v);
    ps += 1;
    ds += 1;
    ck_assert_msg(r[0] <= tol * ps, "|Ax - b| = %g > %g", r[0], tol * ps);
    ck_assert_msg(r[1] <= tol * ps, "|max(Gx - h, 0)| = %g > %g", r[1], tol * ps);
    ck_assert_msg(r[2] <= tol * ds, "|Px + q + A'lam + G'nu| = %g > %g", r[2], tol * ds);
    ck_assert_msg(r[3] <= tol * ds, "min nu = %g < 0", -r[3]);
    double cs = tol * ps * (1 + nrm_inf(S->nu, p));
    ck_assert_msg(r[4] <= cs, "|nu .* (h - Gx)| = %g > %g", r[4], cs);
}

/* info->obj against 1/2 x'Px + q'x recomputed */
static void assert_objective(const dqp *d, const solution *S)
{
    double *v = zeros(d->n);
    matvec(d->P, d->n, d->n, S->x, v);
    double obj = 0.5 * dot(S->x, v, d->n) + dot(d->q, S->x, d->n);
    free(v);
    ck_assert_double_eq_tol(S->info.obj, obj, 1e-9 * (1 + fabs(obj)));
}

/* |x - y|_inf <= tol (1 + |y|_inf) */
static void assert_vec_close(const double *x, const double *y, altdiff_int n, double tol,
                             const char *what)
{
    double e = 0;
    for (altdiff_int i = 0; i < n; i++) e = fmax(e, fabs(x[i] - y[i]));
    ck_assert_msg(e <= tol * (1 + nrm_inf(y, n)), "%s: |difference| = %g > %g", what, e,
                  tol * (1 + nrm_inf(y, n)));
}

static void assert_status(const solution *S, int status)
{
    ck_assert_msg(S->info.status == status, "status %d (%s), expected %d (%s)",
                  S->info.status, altdiff_status_string(S->info.status), status,
                  altdiff_status_string(status));
}

/* ---- random QPs ------------------------------------------------------------- */

static const altdiff_int sizes[][3] = {{1, 0, 1}, {5, 1, 5},   {20, 5, 20}, {50, 10, 60},
                                       {30, 0, 30}, {30, 8, 0}, {12, 4, 40}};

START_TEST(test_random_kkt)
{
    const altdiff_int *sz = sizes[_i];
    dqp d = random_qp(sz[0], sz[1], sz[2], 1000 + (uint64_t)_i);
    altdiff_settings set = solve_settings(0, 1e-8);
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    assert_kkt(&d, &S, 1e-7);
    assert_objective(&d, &S);
    ck_assert(S.info.r_prim <= S.info.eps_prim && S.info.r_dual <= S.info.eps_dual);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* altdiff.h: "The iterates always satisfy s >= 0, nu >= 0 and s_i nu_i = 0
 * exactly". Checked on the returned solution, for every random size. */
START_TEST(test_exact_signs)
{
    const altdiff_int *sz = sizes[_i];
    dqp d = random_qp(sz[0], sz[1], sz[2], 1000 + (uint64_t)_i);
    altdiff_settings set = solve_settings(0, 1e-8);
    solution S = solve(&d, &set);
    altdiff_int bad = -1;
    double s = 0, nu = 0;
    for (altdiff_int i = 0; i < d.p && bad < 0; i++)
        if (!(S.s[i] >= 0 && S.nu[i] >= 0 && S.s[i] * S.nu[i] == 0)) {
            bad = i;
            s = S.s[i];
            nu = S.nu[i];
        }
    sol_free(&S); /* before the assertion: nothing leaks with CK_FORK=no */
    dqp_free(&d);
    ck_assert_msg(bad < 0, "s[%ld] = %g, nu[%ld] = %g: not s >= 0, nu >= 0, s nu = 0 exactly",
                  (long)bad, s, (long)bad, nu);
}
END_TEST

/* ---- closed forms ----------------------------------------------------------- */

START_TEST(test_unconstrained)
{
    dqp d = random_qp(7, 0, 0, 11);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    double *M = zeros(49), *x = zeros(7);
    memcpy(M, d.P, sizeof(double) * 49);
    for (int j = 0; j < 7; j++) x[j] = -d.q[j];
    ck_assert(dense_solve(7, M, x)); /* x = -P^-1 q */
    assert_vec_close(S.x, x, 7, 1e-7, "x vs -P^-1 q");
    assert_objective(&d, &S);
    free(M);
    free(x);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

START_TEST(test_equality_only)
{
    altdiff_int n = 8, m = 3, N = n + m;
    dqp d = random_qp(n, m, 0, 12);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    double *K = zeros(N * N), *z = zeros(N); /* [P A'; A 0] [x; lam] = [-q; b] */
    for (altdiff_int j = 0; j < n; j++) {
        for (altdiff_int i = 0; i < n; i++) K[i + j * N] = d.P[i + j * n];
        for (altdiff_int i = 0; i < m; i++) {
            K[n + i + j * N] = d.A[i + j * m];
            K[j + (n + i) * N] = d.A[i + j * m];
        }
        z[j] = -d.q[j];
    }
    for (altdiff_int i = 0; i < m; i++) z[n + i] = d.b[i];
    ck_assert(dense_solve(N, K, z));
    assert_vec_close(S.x, z, n, 1e-7, "x vs KKT solve");
    assert_vec_close(S.lam, z + n, m, 1e-6, "lam vs KKT solve");
    assert_kkt(&d, &S, 1e-8);
    free(K);
    free(z);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* min 1/2 |x - y|^2 s.t. l <= x <= u: x = clip(y, l, u), nu_u = max(y - u, 0),
 * nu_l = max(l - y, 0) */
START_TEST(test_box_projection)
{
    altdiff_int n = 9;
    dqp d = dqp_alloc(n, 0, 2 * n);
    rng r = {21};
    double *y = zeros(n), *l = zeros(n), *u = zeros(n);
    for (altdiff_int j = 0; j < n; j++) {
        l[j] = -1 + 0.5 * rng_unif(&r);
        u[j] = 0.5 + rng_unif(&r);
        y[j] = 4 * rng_normal(&r);
        if (j == 0) y[j] = 0.5 * (l[j] + u[j]); /* at least one strictly inside */
        d.P[j + j * n] = 1;
        d.q[j] = -y[j];
        d.G[j + j * 2 * n] = 1;        /* x_j <= u_j  */
        d.G[n + j + j * 2 * n] = -1;   /* -x_j <= -l_j */
        d.h[j] = u[j];
        d.h[n + j] = -l[j];
    }
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    for (altdiff_int j = 0; j < n; j++) {
        double tol = 1e-7 * (1 + fabs(y[j]));
        ck_assert_double_eq_tol(S.x[j], fmin(fmax(y[j], l[j]), u[j]), tol);
        ck_assert_double_eq_tol(S.nu[j], fmax(y[j] - u[j], 0), tol);
        ck_assert_double_eq_tol(S.nu[n + j], fmax(l[j] - y[j], 0), tol);
    }
    assert_kkt(&d, &S, 1e-8);
    free(y);
    free(l);
    free(u);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* min 1/2 |x - y|^2 s.t. 1'x = 1, x >= 0 (sparsemax) with y ~ N(0, I) from
 * seed; *tau gets the closed form: with y sorted decreasingly,
 * k = max{ j : 1 + j y_(j) > sum_{i<=j} y_(i) }, tau = (sum_{i<=k} y_(i) - 1) / k,
 * x = max(y - tau, 0); lam = tau, nu = max(tau - y, 0) (G = -I, h = 0). */
static dqp simplex_qp(altdiff_int n, uint64_t seed, double *tau)
{
    dqp d = dqp_alloc(n, 1, n);
    rng r = {seed};
    double *ys = zeros(n);
    for (altdiff_int j = 0; j < n; j++) {
        ys[j] = rng_normal(&r);
        d.P[j + j * n] = 1;
        d.q[j] = -ys[j];
        d.A[j] = 1;
        d.G[j + j * n] = -1;
    }
    d.b[0] = 1;
    dqp_finish(&d);
    qsort(ys, (size_t)n, sizeof(double), cmp_desc);
    double cum = 0;
    *tau = 0;
    for (altdiff_int j = 0; j < n; j++) {
        cum += ys[j];
        if (1 + (double)(j + 1) * ys[j] > cum) *tau = (cum - 1) / (double)(j + 1);
    }
    free(ys);
    return d;
}

/* S is the closed-form projection of simplex_qp (y = -q) within tol
 * (relative for nu) */
static void assert_simplex(const dqp *d, const solution *S, double tau, double tol)
{
    int support = 0;
    assert_status(S, ALTDIFF_SOLVED);
    for (altdiff_int j = 0; j < d->n; j++) {
        double y = -d->q[j];
        ck_assert_double_eq_tol(S->x[j], fmax(y - tau, 0), tol);
        ck_assert_double_eq_tol(S->nu[j], fmax(tau - y, 0), tol * (1 + fabs(tau - y)));
        support += y > tau;
    }
    ck_assert(support >= 1 && support < d->n); /* a non-trivial instance */
    ck_assert_double_eq_tol(S->lam[0], tau, tol);
}

START_TEST(test_simplex_projection)
{
    double tau;
    dqp d = simplex_qp(10, 31, &tau);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S = solve(&d, &set);
    assert_simplex(&d, &S, tau, 1e-7);
    assert_kkt(&d, &S, 1e-8);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* ---- Anderson acceleration ------------------------------------------------- */

/* Sparsemax with many more inactive than active coordinates is where plain
 * ADMM is slow (the multiplier of 1'x = 1 couples every coordinate): the
 * accelerated solve reaches the same closed form in fewer iterations, with
 * extrapolations taken (and some rejected by the safeguard). */
START_TEST(test_anderson_sparsemax)
{
    double tau;
    dqp d = simplex_qp(400, 32, &tau);
    altdiff_settings set = solve_settings(0, 1e-9);
    set.anderson = 0;
    solution plain = solve(&d, &set);
    set.anderson = ALTDIFF_DEFAULT_ANDERSON;
    solution acc = solve(&d, &set);
    assert_simplex(&d, &plain, tau, 1e-6); /* the multipliers: 2e-7 off at eps 1e-9 */
    assert_simplex(&d, &acc, tau, 1e-6);
    assert_kkt(&d, &acc, 1e-8);
    printf("[admm] sparsemax n = 400: %ld iterations plain, %ld with Anderson (%ld "
           "extrapolations, %ld rejected)\n",
           (long)plain.info.iter, (long)acc.info.iter, (long)acc.info.aa_steps,
           (long)acc.info.aa_rejected);
    ck_assert_int_eq(plain.info.aa_steps, 0);
    ck_assert_int_gt(acc.info.aa_steps, 0);
    ck_assert_int_lt(2 * acc.info.iter, plain.info.iter);
    sol_free(&plain);
    sol_free(&acc);
    dqp_free(&d);
}
END_TEST

/* Every memory size (1: the smallest, 50: the largest) gives a KKT point of
 * the random QPs, the same as without acceleration */
START_TEST(test_anderson_memory)
{
    const altdiff_int *sz = sizes[_i];
    dqp d = random_qp(sz[0], sz[1], sz[2], 1100 + (uint64_t)_i);
    altdiff_settings set = solve_settings(0, 1e-9);
    set.anderson = 0;
    solution plain = solve(&d, &set);
    int mems[] = {1, 3, 10, 50};
    for (int k = 0; k < 4; k++) {
        set.anderson = mems[k];
        solution S = solve(&d, &set);
        assert_status(&S, ALTDIFF_SOLVED);
        assert_kkt(&d, &S, 1e-7);
        assert_vec_close(S.x, plain.x, d.n, 1e-6, "x with and without Anderson");
        sol_free(&S);
    }
    sol_free(&plain);
    dqp_free(&d);
}
END_TEST

/* Recording the iterations (for the unrolled mode) follows the plain map */
START_TEST(test_anderson_record)
{
    double tau;
    dqp d = simplex_qp(50, 33, &tau);
    altdiff_settings set = solve_settings(0, 1e-9);
    set.record = 1;
    solution S = solve(&d, &set);
    assert_simplex(&d, &S, tau, 1e-7);
    ck_assert_int_eq(S.info.aa_steps, 0);
    ck_assert_int_eq(S.info.aa_rejected, 0);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* ---- P as upper, lower or both triangles ------------------------------------- */

/* CSC of the entries of the dense D with i >= j (lower) or all */
static owned_csc csc_lower(const double *D, altdiff_int n)
{
    double *L = zeros(n * n);
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int i = j; i < n; i++) L[i + j * n] = D[i + j * n];
    owned_csc C = csc_from_dense(L, n, n);
    free(L);
    return C;
}

START_TEST(test_triangles)
{
    dqp d = random_qp(10, 3, 10, 41);
    altdiff_settings set = solve_settings(0, 1e-10);
    set.adaptive_rho = 0; /* the three runs must do the same arithmetic */
    solution Su = solve(&d, &set);
    assert_status(&Su, ALTDIFF_SOLVED);
    owned_csc L = csc_lower(d.P, d.n), F = csc_from_dense(d.P, d.n, d.n);
    d.prob.P = csc_view(&L);
    solution Sl = solve(&d, &set);
    d.prob.P = csc_view(&F);
    solution Sf = solve(&d, &set);
    assert_status(&Sl, ALTDIFF_SOLVED);
    assert_status(&Sf, ALTDIFF_SOLVED);
    assert_vec_close(Sl.x, Su.x, d.n, 1e-12, "lower vs upper");
    assert_vec_close(Sf.x, Su.x, d.n, 1e-12, "both vs upper");
    assert_kkt(&d, &Sl, 1e-8);
    assert_kkt(&d, &Sf, 1e-8);
    /* both triangles that disagree: P(1,0) != P(0,1) */
    double *D = zeros(d.n * d.n);
    memcpy(D, d.P, sizeof(double) * (size_t)(d.n * d.n));
    D[1] += 1e-3 * fabs(D[1]) + 1e-3;
    owned_csc B = csc_from_dense(D, d.n, d.n);
    d.prob.P = csc_view(&B);
    altdiff_work *w = (altdiff_work *)&set; /* not NULL: setup must clear it */
    ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(w);
    free(D);
    free_csc(&L);
    free_csc(&F);
    free_csc(&B);
    sol_free(&Su);
    sol_free(&Sl);
    sol_free(&Sf);
    dqp_free(&d);
}
END_TEST

/* ---- infeasibility --------------------------------------------------------- */

/* Solve, expect primal infeasibility, check the certificate: dnu >= 0,
 * |A'dlam + G'dnu| ~ 0, b'dlam + h'dnu < 0, normalized to |(dlam, dnu)| = 1 */
static void assert_primal_infeasible(const dqp *d)
{
    altdiff_work *w = NULL;
    altdiff_settings set = altdiff_settings_default();
    ck_assert_int_eq(altdiff_setup(&w, &d->prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    int st = altdiff_get_info(w)->status;
    ck_assert_msg(st == ALTDIFF_PRIMAL_INFEASIBLE, "status %s", altdiff_status_string(st));
    altdiff_int n = d->n, m = d->m, p = d->p;
    double *dlam = zeros(m), *dnu = zeros(p), *v = zeros(n), *t = zeros(n);
    ck_assert_int_eq(altdiff_get_certificate(w, NULL, dlam, dnu), ALTDIFF_OK);
    for (altdiff_int i = 0; i < p; i++) ck_assert_msg(dnu[i] >= 0, "dnu[%ld] < 0", (long)i);
    double norm = fmax(nrm_inf(dlam, m), nrm_inf(dnu, p));
    ck_assert_double_eq_tol(norm, 1.0, 1e-12);
    matvec_t(d->A, m, n, dlam, v);
    matvec_t(d->G, p, n, dnu, t);
    for (altdiff_int j = 0; j < n; j++) v[j] += t[j];
    ck_assert_msg(nrm_inf(v, n) <= 1e-4, "|A'dlam + G'dnu| = %g", nrm_inf(v, n));
    double bh = dot(d->b, dlam, m) + dot(d->h, dnu, p);
    ck_assert_msg(bh < -1e-6, "b'dlam + h'dnu = %g", bh);
    free(dlam);
    free(dnu);
    free(v);
    free(t);
    altdiff_free(w);
}

/* Expect dual infeasibility; the certificate: q'dx < 0, |P dx| ~ 0,
 * |A dx| ~ 0, G dx <= ~0, |dx| = 1 */
static void assert_dual_infeasible(const dqp *d)
{
    altdiff_work *w = NULL;
    altdiff_settings set = altdiff_settings_default();
    ck_assert_int_eq(altdiff_setup(&w, &d->prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    int st = altdiff_get_info(w)->status;
    ck_assert_msg(st == ALTDIFF_DUAL_INFEASIBLE, "status %s", altdiff_status_string(st));
    altdiff_int n = d->n, m = d->m, p = d->p;
    double *dx = zeros(n), *v = zeros(n + m + p);
    ck_assert_int_eq(altdiff_get_certificate(w, dx, NULL, NULL), ALTDIFF_OK);
    ck_assert_double_eq_tol(nrm_inf(dx, n), 1.0, 1e-12);
    ck_assert_msg(dot(d->q, dx, n) < -1e-6, "q'dx = %g", dot(d->q, dx, n));
    matvec(d->P, n, n, dx, v);
    ck_assert_msg(nrm_inf(v, n) <= 1e-4, "|P dx| = %g", nrm_inf(v, n));
    matvec(d->A, m, n, dx, v);
    ck_assert_msg(nrm_inf(v, m) <= 1e-4, "|A dx| = %g", nrm_inf(v, m));
    matvec(d->G, p, n, dx, v);
    for (altdiff_int i = 0; i < p; i++)
        ck_assert_msg(v[i] <= 1e-4, "(G dx)_%ld = %g", (long)i, v[i]);
    free(dx);
    free(v);
    altdiff_free(w);
}

/* x1 >= 1 and x1 <= 0 */
START_TEST(test_infeasible_bounds)
{
    dqp d = dqp_alloc(2, 0, 3);
    d.P[0] = d.P[3] = 1;
    d.q[0] = 0.3;
    d.q[1] = -1;
    d.G[0] = -1; /* -x1 <= -1 */
    d.G[1] = 1;  /*  x1 <= 0  */
    d.G[2 + 3] = 1; /* x2 <= 5, satisfiable */
    d.h[0] = -1;
    d.h[1] = 0;
    d.h[2] = 5;
    dqp_finish(&d);
    assert_primal_infeasible(&d);
    dqp_free(&d);
}
END_TEST

/* x1 + x2 = 0 and x1 + x2 = 1 */
START_TEST(test_infeasible_equalities)
{
    dqp d = dqp_alloc(3, 2, 1);
    d.P[0] = d.P[4] = d.P[8] = 1;
    d.A[0] = d.A[1] = d.A[2] = d.A[3] = 1;
    d.b[1] = 1;
    d.G[2] = 1; /* x3 <= 2 */
    d.h[0] = 2;
    dqp_finish(&d);
    assert_primal_infeasible(&d);
    dqp_free(&d);
}
END_TEST

/* 1'x = -1 and x >= 0 at n = 400: Anderson acceleration (on by default)
 * must not hide the drift of the plain iterates */
START_TEST(test_infeasible_simplex)
{
    double tau;
    dqp d = simplex_qp(400, 34, &tau);
    d.b[0] = -1;
    dqp_finish(&d);
    assert_primal_infeasible(&d);
    dqp_free(&d);
}
END_TEST

/* an empty row of G with h < 0: 0 <= -1 */
START_TEST(test_infeasible_zero_row)
{
    dqp d = random_qp(4, 1, 3, 51);
    d.h[1] = -1;
    for (altdiff_int j = 0; j < d.n; j++) d.G[1 + j * d.p] = 0;
    dqp_finish(&d);
    assert_primal_infeasible(&d);
    dqp_free(&d);
}
END_TEST

/* P = 0 (empty), q = -1, x >= 0: unbounded */
START_TEST(test_unbounded_lp)
{
    dqp d = dqp_alloc(3, 0, 3);
    for (int j = 0; j < 3; j++) {
        d.q[j] = -1;
        d.G[j + 3 * j] = -1;
    }
    dqp_finish(&d);
    ck_assert_int_eq(d.Pc.p[3], 0);
    assert_dual_infeasible(&d);
    dqp_free(&d);
}
END_TEST

/* P = diag(1, 0), q = (1, -1), x >= 0: unbounded along x2 only */
START_TEST(test_unbounded_singular)
{
    dqp d = dqp_alloc(2, 0, 2);
    d.P[0] = 1;
    d.q[0] = 1;
    d.q[1] = -1;
    d.G[0] = d.G[3] = -1;
    dqp_finish(&d);
    assert_dual_infeasible(&d);
    dqp_free(&d);
}
END_TEST

/* ---- robustness --------------------------------------------------------------- */

/* min -x1 - 2 x2 s.t. x1 + x2 <= 4, x1 + 3 x2 <= 6, x >= 0:
 * x = (3, 1), nu = (1/2, 1/2, 0, 0), objective -5 */
START_TEST(test_lp_hand)
{
    dqp d = dqp_alloc(2, 0, 4);
    d.q[0] = -1;
    d.q[1] = -2;
    double G[] = {1, 1, -1, 0, 1, 3, 0, -1}, h[] = {4, 6, 0, 0};
    memcpy(d.G, G, sizeof(G));
    memcpy(d.h, h, sizeof(h));
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-9);
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    double x[] = {3, 1}, nu[] = {0.5, 0.5, 0, 0};
    assert_vec_close(S.x, x, 2, 1e-6, "LP x");
    assert_vec_close(S.nu, nu, 4, 1e-6, "LP nu");
    ck_assert_double_eq_tol(S.info.obj, -5, 1e-6);
    assert_kkt(&d, &S, 1e-8);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* P = diag(1, 1, 0), q = (-1, 2, -3), -1 <= x3 <= 2: x = (1, -2, 2),
 * nu = (3, 0), objective -8.5 */
START_TEST(test_singular_P_hand)
{
    dqp d = dqp_alloc(3, 0, 2);
    d.P[0] = d.P[4] = 1;
    d.q[0] = -1;
    d.q[1] = 2;
    d.q[2] = -3;
    d.G[0 + 2 * 2] = 1;
    d.G[1 + 2 * 2] = -1;
    d.h[0] = 2;
    d.h[1] = 1;
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    double x[] = {1, -2, 2}, nu[] = {3, 0};
    assert_vec_close(S.x, x, 3, 1e-7, "x");
    assert_vec_close(S.nu, nu, 2, 1e-7, "nu");
    ck_assert_double_eq_tol(S.info.obj, -8.5, 1e-7);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* rank-2 P = M'M (M 2 x n) in the box [-1, 1]^n with an equality */
START_TEST(test_singular_P_random)
{
    altdiff_int n = 8;
    dqp d = dqp_alloc(n, 1, 2 * n);
    rng r = {61};
    double M[2 * 8];
    for (int k = 0; k < 16; k++) M[k] = rng_normal(&r);
    for (altdiff_int i = 0; i < n; i++) {
        for (altdiff_int j = 0; j < n; j++)
            d.P[i + j * n] = M[2 * i] * M[2 * j] + M[2 * i + 1] * M[2 * j + 1];
        d.q[i] = rng_normal(&r);
        d.A[i] = rng_unif(&r);
        d.G[i + i * 2 * n] = 1;
        d.G[n + i + i * 2 * n] = -1;
        d.h[i] = d.h[n + i] = 1;
    }
    d.b[0] = 0.1;
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-9);
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    assert_kkt(&d, &S, 1e-8);
    assert_objective(&d, &S);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* A = [A0; row 0 again; row 0 + row 1]: the same x (unique) as with A0, and
 * the same A'lam */
START_TEST(test_redundant_equalities)
{
    altdiff_int n = 10, m0 = 3, m = 5, p = 6;
    dqp d0 = random_qp(n, m0, p, 71), d = dqp_alloc(n, m, p);
    memcpy(d.P, d0.P, sizeof(double) * (size_t)(n * n));
    memcpy(d.q, d0.q, sizeof(double) * (size_t)n);
    memcpy(d.G, d0.G, sizeof(double) * (size_t)(p * n));
    memcpy(d.h, d0.h, sizeof(double) * (size_t)p);
    for (altdiff_int j = 0; j < n; j++) {
        for (altdiff_int i = 0; i < m0; i++) d.A[i + j * m] = d0.A[i + j * m0];
        d.A[3 + j * m] = d0.A[0 + j * m0];
        d.A[4 + j * m] = d0.A[0 + j * m0] + d0.A[1 + j * m0];
    }
    for (altdiff_int i = 0; i < m0; i++) d.b[i] = d0.b[i];
    d.b[3] = d0.b[0];
    d.b[4] = d0.b[0] + d0.b[1];
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S0 = solve(&d0, &set), S = solve(&d, &set);
    assert_status(&S0, ALTDIFF_SOLVED);
    assert_status(&S, ALTDIFF_SOLVED);
    assert_kkt(&d, &S, 1e-8);
    assert_vec_close(S.x, S0.x, n, 1e-6, "x with redundant rows");
    double *v = zeros(n), *v0 = zeros(n);
    matvec_t(d.A, m, n, S.lam, v);
    matvec_t(d0.A, m0, n, S0.lam, v0);
    assert_vec_close(v, v0, n, 1e-6, "A'lam with redundant rows");
    free(v);
    free(v0);
    sol_free(&S0);
    sol_free(&S);
    dqp_free(&d0);
    dqp_free(&d);
}
END_TEST

/* x1 <= 1/2 only, x2 free, x3 = 7 fixed with P_33 = 0:
 * P = diag(1, 1, 0), q = (-1, -2, -3): x = (1/2, 2, 7), nu = 1/2, lam = 3 */
START_TEST(test_free_and_fixed)
{
    dqp d = dqp_alloc(3, 1, 1);
    d.P[0] = d.P[4] = 1;
    d.q[0] = -1;
    d.q[1] = -2;
    d.q[2] = -3;
    d.A[2] = 1;
    d.b[0] = 7;
    d.G[0] = 1;
    d.h[0] = 0.5;
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    double x[] = {0.5, 2, 7};
    assert_vec_close(S.x, x, 3, 1e-7, "x");
    ck_assert_double_eq_tol(S.nu[0], 0.5, 1e-7);
    ck_assert_double_eq_tol(S.lam[0], 3, 1e-7);
    assert_kkt(&d, &S, 1e-8);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* extra rows with h = 1e20 (= settings.infinity) and +inf are dropped */
START_TEST(test_infinite_bounds)
{
    altdiff_int n = 8, m = 2, p0 = 6, p = 8;
    dqp d0 = random_qp(n, m, p0, 81), d = dqp_alloc(n, m, p);
    rng r = {82};
    memcpy(d.P, d0.P, sizeof(double) * (size_t)(n * n));
    memcpy(d.q, d0.q, sizeof(double) * (size_t)n);
    memcpy(d.A, d0.A, sizeof(double) * (size_t)(m * n));
    memcpy(d.b, d0.b, sizeof(double) * (size_t)m);
    /* rows 0, 3 infinite; the others those of d0 in order */
    altdiff_int from[] = {-1, 0, 1, -1, 2, 3, 4, 5};
    for (altdiff_int i = 0; i < p; i++) {
        for (altdiff_int j = 0; j < n; j++)
            d.G[i + j * p] = from[i] < 0 ? rng_normal(&r) : d0.G[from[i] + j * p0];
        d.h[i] = from[i] < 0 ? 0 : d0.h[from[i]];
    }
    d.h[0] = 1e20;
    d.h[3] = INFINITY;
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S0 = solve(&d0, &set), S = solve(&d, &set);
    assert_status(&S0, ALTDIFF_SOLVED);
    assert_status(&S, ALTDIFF_SOLVED);
    ck_assert_int_eq(S.info.dropped_rows, 2);
    ck_assert_int_eq(S0.info.dropped_rows, 0);
    ck_assert(S.nu[0] == 0 && S.nu[3] == 0);
    ck_assert(S.s[0] == 1e20 && S.s[3] == INFINITY);
    assert_vec_close(S.x, S0.x, n, 1e-6, "x with dropped rows");
    assert_vec_close(S.lam, S0.lam, m, 1e-5, "lam with dropped rows");
    for (altdiff_int i = 0; i < p; i++)
        if (from[i] >= 0) ck_assert_double_eq_tol(S.nu[i], S0.nu[from[i]], 1e-5);
    assert_kkt(&d, &S, 1e-8);
    sol_free(&S0);
    sol_free(&S);
    dqp_free(&d0);
    dqp_free(&d);
}
END_TEST

/* 1 if a and b (len) agree to within k units of round-off, entry by entry */
static int within_ulps(const double *a, const double *b, altdiff_int len, double k)
{
    for (altdiff_int t = 0; t < len; t++)
        if (fabs(a[t] - b[t]) > k * DBL_EPSILON * fabs(b[t])) return 0;
    return 1;
}

/* The model keeps only the scaled matrices, scaled in place: unscaling
 * gives the given values back to a few units of round-off (4), scaling them
 * again the scaled values to round-off (32: the factors, computed from
 * values a unit or so apart, differ too); a subnormal entry is no trouble */
START_TEST(test_scaling_in_place)
{
    for (int tiny = 0; tiny < 2; tiny++) {
        dqp d = random_qp(30, 5, 20, 77);
        if (tiny) { /* row 0 of A large, one entry subnormal */
            for (altdiff_int j = 0; j < d.n; j++) d.A[0 + j * d.m] *= 1e4;
            d.A[0 + 3 * d.m] = 3.3e-310;
            dqp_finish(&d);
        }
        altdiff_settings set = solve_settings(0, 1e-8);
        altdiff_work *w = NULL;
        ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_OK);
        ad_model *md = &w->model;
        cs_dl *S[3] = {md->P, md->A, md->G};
        const altdiff_csc *given[3] = {&d.prob.P, &d.prob.A, &d.prob.G};
        double *scaled[3];
        for (int k = 0; k < 3; k++) {
            altdiff_int nz = S[k]->p[md->n];
            ck_assert_int_eq(nz, given[k]->p[md->n]); /* canonical input: same order */
            scaled[k] = malloc(sizeof(double) * (size_t)(nz + 1));
            memcpy(scaled[k], S[k]->x, sizeof(double) * (size_t)nz);
            ck_assert(!within_ulps(S[k]->x, given[k]->x, nz, 1e6)); /* scaled indeed */
        }
        ad_model_unscale(md);
        for (int k = 0; k < 3; k++) {
            altdiff_int nz = S[k]->p[md->n];
            if (tiny && k == 1) { /* the subnormal: to its own absolute round-off */
                ck_assert(fabs(S[1]->x[3 * d.m] - 3.3e-310) < 1e-318);
                S[1]->x[3 * d.m] = 3.3e-310;
            }
            ck_assert(within_ulps(S[k]->x, given[k]->x, nz, 4));
        }
        ad_model_scale(md, d.q);
        for (int k = 0; k < 3; k++) {
            /* the factors, from values within round-off, are so too */
            ck_assert(within_ulps(S[k]->x, scaled[k], S[k]->p[md->n], 32));
        }
        /* a failing update (P of 1e300s: H not positive definite or
         * overflowing) changes nothing, bit for bit */
        double *Px = malloc(sizeof(double) * (size_t)d.prob.P.p[md->n]), D0 = md->sc.D[0];
        for (altdiff_int t = 0; t < d.prob.P.p[md->n]; t++) Px[t] = 1e300;
        for (int k = 0; k < 3; k++) memcpy(scaled[k], S[k]->x, sizeof(double) * (size_t)S[k]->p[md->n]);
        ck_assert_int_ne(altdiff_update_matrices(w, Px, NULL, NULL), ALTDIFF_OK);
        for (int k = 0; k < 3; k++) {
            ck_assert(memcmp(S[k]->x, scaled[k], sizeof(double) * (size_t)S[k]->p[md->n]) == 0);
            free(scaled[k]);
        }
        ck_assert(md->sc.D[0] == D0);
        free(Px);
        ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
        ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_SOLVED);
        altdiff_free(w);
        dqp_free(&d);
    }
}
END_TEST

/* Row 0 of A (and b_0) times 1e6, column 2 of the problem times 1e-4
 * (x_2 = 1e-4 y_2): the same solution after the change of variables */
START_TEST(test_badly_scaled)
{
    altdiff_int n = 8, m = 3, p = 8, c = 2;
    double rs = 1e6, cs = 1e-4;
    dqp d0 = random_qp(n, m, p, 91), d = random_qp(n, m, p, 91);
    for (altdiff_int j = 0; j < n; j++) {
        d.A[0 + j * m] *= rs;
        d.P[c + j * n] *= cs;
        d.P[j + c * n] *= cs;
    }
    d.b[0] *= rs;
    for (altdiff_int i = 0; i < m; i++) d.A[i + c * m] *= cs;
    for (altdiff_int i = 0; i < p; i++) d.G[i + c * p] *= cs;
    d.q[c] *= cs;
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-9);
    solution S0 = solve(&d0, &set), S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    assert_kkt(&d, &S, 1e-8);
    S.x[c] *= cs;
    S.lam[0] *= rs;
    assert_vec_close(S.x, S0.x, n, 1e-4, "x after unscaling");
    assert_vec_close(S.lam, S0.lam, m, 1e-4, "lam after unscaling");
    sol_free(&S0);
    sol_free(&S);
    dqp_free(&d0);
    dqp_free(&d);
}
END_TEST

/* empty rows of G with h = 0 and h = 1: same x as without them */
START_TEST(test_empty_G_rows)
{
    altdiff_int n = 6, m = 1, p0 = 4, p = 6;
    dqp d0 = random_qp(n, m, p0, 101), d = dqp_alloc(n, m, p);
    memcpy(d.P, d0.P, sizeof(double) * (size_t)(n * n));
    memcpy(d.q, d0.q, sizeof(double) * (size_t)n);
    memcpy(d.A, d0.A, sizeof(double) * (size_t)(m * n));
    memcpy(d.b, d0.b, sizeof(double) * (size_t)m);
    for (altdiff_int i = 0; i < p0; i++) {
        for (altdiff_int j = 0; j < n; j++) d.G[i + j * p] = d0.G[i + j * p0];
        d.h[i] = d0.h[i];
    }
    d.h[4] = 0;
    d.h[5] = 1;
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-10);
    solution S0 = solve(&d0, &set), S = solve(&d, &set);
    assert_status(&S, ALTDIFF_SOLVED);
    assert_kkt(&d, &S, 1e-8);
    ck_assert_double_eq_tol(S.nu[5], 0, 1e-8);
    assert_vec_close(S.x, S0.x, n, 1e-6, "x with empty rows");
    sol_free(&S0);
    sol_free(&S);
    dqp_free(&d0);
    dqp_free(&d);
}
END_TEST

/* ---- invalid input ----------------------------------------------------------- */

/* The base problem: n = 3, m = 1, p = 2, everything stored */
static dqp base_problem(void)
{
    dqp d = dqp_alloc(3, 1, 2);
    double P[] = {2, 0.5, 0, 0.5, 1, 0, 0, 0, 1};
    memcpy(d.P, P, sizeof(P));
    for (int j = 0; j < 3; j++) {
        d.q[j] = j - 1.0;
        d.A[j] = 1;
        d.G[0 + j * 2] = j + 1.0;
        d.G[1 + j * 2] = -1;
    }
    d.b[0] = 1;
    d.h[0] = 3;
    d.h[1] = 2;
    dqp_finish(&d);
    return d;
}

enum { N_INVALID = 27 };

/* Break the base problem (or settings) in the way number k says */
static const char *break_problem(int k, dqp *d, altdiff_settings *set, altdiff_int *Gp_bad)
{
    altdiff_problem *pr = &d->prob;
    switch (k) {
    case 0: d->q[1] = NAN; return "NaN in q";
    case 1: d->Pc.x[0] = NAN; return "NaN in P";
    case 2: d->Ac.x[1] = NAN; return "NaN in A";
    case 3: d->h[0] = NAN; return "NaN in h";
    case 4: d->h[1] = -INFINITY; return "-inf in h";
    case 5: d->b[0] = NAN; return "NaN in b";
    case 6: d->Gc.x[0] = NAN; return "NaN in G";
    case 7: d->q[0] = INFINITY; return "inf in q";
    case 8: pr->A.nrow = 2; return "A.nrow != m";
    case 9: pr->G.ncol = 2; return "G.ncol != n";
    case 10: pr->P.nrow = 4; return "P.nrow != n";
    case 11: d->Ac.i[0] = 1; return "row index of A = m";
    case 12: d->Pc.i[0] = -1; return "negative row index in P";
    case 13: d->Gc.i[1] = 5; return "row index of G out of range";
    case 14:
        memcpy(Gp_bad, d->Gc.p, sizeof(altdiff_int) * 4);
        Gp_bad[1] = Gp_bad[2] + 1; /* decreasing column pointers */
        pr->G.p = Gp_bad;
        return "decreasing column pointers in G";
    case 15: pr->n = -1; return "negative n";
    case 16: pr->m = -1; return "negative m";
    case 17: set->rho = 0; return "rho = 0";
    case 18: set->rho = -1; return "rho < 0";
    case 19: set->alpha = 2; return "alpha = 2";
    case 20: set->alpha = 0; return "alpha = 0";
    case 21: set->sigma = -1; return "sigma < 0";
    case 22: d->Gc.i[1] = d->Gc.i[0]; return "repeated row index in a column of G";
    case 23: pr->h = NULL; return "h NULL with p > 0";
    case 24: set->rho = NAN; return "rho NaN";
    case 25: set->anderson = -1; return "anderson < 0";
    case 26: set->anderson = 51; return "anderson > 50";
    default: return NULL;
    }
}

START_TEST(test_invalid_input)
{
    dqp d = base_problem();
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_OK); /* the base is fine */
    altdiff_free(w);
    altdiff_int Gp_bad[4];
    const char *what = break_problem(_i, &d, &set, Gp_bad);
    ck_assert_ptr_nonnull(what);
    w = (altdiff_work *)&set; /* not NULL: setup must clear it */
    int rc = altdiff_setup(&w, &d.prob, &set);
    ck_assert_msg(rc == ALTDIFF_ERR_INVALID, "%s: setup returned %d (%s)", what, rc,
                  altdiff_error_string(rc));
    ck_assert_msg(w == NULL, "%s: *work not NULL after failure", what);
    dqp_free(&d);
}
END_TEST

START_TEST(test_invalid_null)
{
    dqp d = base_problem();
    altdiff_work *w = (altdiff_work *)&d;
    ck_assert_int_eq(altdiff_setup(&w, NULL, NULL), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(altdiff_setup(NULL, &d.prob, NULL), ALTDIFF_ERR_INVALID);
    ck_assert_int_eq(altdiff_solve(NULL), ALTDIFF_ERR_INVALID);
    ck_assert_int_eq(altdiff_update_rho(NULL, 1, -1), ALTDIFF_ERR_INVALID);
    altdiff_free(NULL);
    dqp_free(&d);
}
END_TEST

/* P = diag(1, -1), no constraints: H = P + sigma I is indefinite */
START_TEST(test_nonconvex)
{
    dqp d = dqp_alloc(2, 0, 0);
    d.P[0] = 1;
    d.P[3] = -1;
    d.q[0] = 1;
    dqp_finish(&d);
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *w = (altdiff_work *)&set;
    int rc = altdiff_setup(&w, &d.prob, &set);
    altdiff_work *got = w;
    if (rc == ALTDIFF_OK) altdiff_free(w);
    dqp_free(&d);
    ck_assert_msg(rc == ALTDIFF_ERR_NOT_POSDEF, "setup returned %d (%s)", rc,
                  altdiff_error_string(rc));
    ck_assert_ptr_null(got);
}
END_TEST

/* ---- the workspace API --------------------------------------------------------- */

static altdiff_work *setup_ok(const dqp *d, const altdiff_settings *set)
{
    altdiff_work *w = NULL;
    int rc = altdiff_setup(&w, &d->prob, set);
    ck_assert_msg(rc == ALTDIFF_OK, "setup: %s", altdiff_error_string(rc));
    return w;
}

static void solve_ok(altdiff_work *w, solution *S)
{
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    sol_read(w, S);
}

START_TEST(test_warm_start)
{
    dqp d = random_qp(20, 5, 20, 111);
    altdiff_settings set = solve_settings(0, 1e-8);
    altdiff_work *w1 = setup_ok(&d, &set), *w2 = setup_ok(&d, &set);
    solution S1 = sol_alloc(&d), S2 = sol_alloc(&d), S3 = sol_alloc(&d);
    solve_ok(w1, &S1);
    assert_status(&S1, ALTDIFF_SOLVED);
    ck_assert(S1.info.iter > 2 * set.check_every);
    /* a fresh workspace started at the solution */
    ck_assert_int_eq(altdiff_warm_start(w2, S1.x, S1.s, S1.lam, S1.nu), ALTDIFF_OK);
    solve_ok(w2, &S2);
    assert_status(&S2, ALTDIFF_SOLVED);
    ck_assert_msg(S2.info.iter <= 2 * set.check_every, "warm start took %ld iterations",
                  (long)S2.info.iter);
    assert_vec_close(S2.x, S1.x, d.n, 1e-7, "x after warm start");
    assert_kkt(&d, &S2, 1e-7);
    /* solving again continues from the solution */
    solve_ok(w1, &S3);
    assert_status(&S3, ALTDIFF_SOLVED);
    ck_assert_msg(S3.info.iter <= 2 * set.check_every, "re-solve took %ld iterations",
                  (long)S3.info.iter);
    assert_vec_close(S3.x, S1.x, d.n, 1e-7, "x after re-solve");
    /* warm start with zeros (NULL) is a cold start again */
    ck_assert_int_eq(altdiff_warm_start(w1, NULL, NULL, NULL, NULL), ALTDIFF_OK);
    solve_ok(w1, &S3);
    assert_status(&S3, ALTDIFF_SOLVED);
    ck_assert(S3.info.iter > 2 * set.check_every);
    /* a NaN warm start is refused */
    S3.x[0] = NAN;
    ck_assert_int_eq(altdiff_warm_start(w1, S3.x, NULL, NULL, NULL), ALTDIFF_ERR_INVALID);
    sol_free(&S1);
    sol_free(&S2);
    sol_free(&S3);
    altdiff_free(w1);
    altdiff_free(w2);
    dqp_free(&d);
}
END_TEST

START_TEST(test_update_vectors)
{
    altdiff_int n = 15, m = 4, p = 16;
    dqp d = random_qp(n, m, p, 121), d2 = random_qp(n, m, p, 121);
    rng r = {122};
    double *x1 = zeros(n);
    for (altdiff_int j = 0; j < n; j++) {
        x1[j] = rng_normal(&r);
        d2.q[j] = rng_normal(&r);
    }
    matvec(d2.A, m, n, x1, d2.b);
    matvec(d2.G, p, n, x1, d2.h);
    for (altdiff_int i = 0; i < p; i++) d2.h[i] += rng_unif(&r);
    d2.h[3] = INFINITY; /* the same row dropped in both */
    d.h[3] = 1e30;
    dqp_finish(&d);
    dqp_finish(&d2);
    altdiff_settings set = solve_settings(0, 1e-9);
    altdiff_work *w = setup_ok(&d, &set);
    solution S = sol_alloc(&d), S2 = solve(&d2, &set);
    solve_ok(w, &S);
    assert_status(&S, ALTDIFF_SOLVED);
    ck_assert_int_eq(altdiff_update_vectors(w, d2.q, d2.b, d2.h), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_UNSOLVED);
    solve_ok(w, &S);
    assert_status(&S, ALTDIFF_SOLVED);
    assert_status(&S2, ALTDIFF_SOLVED);
    assert_kkt(&d2, &S, 1e-8);
    assert_vec_close(S.x, S2.x, n, 1e-6, "x after update_vectors vs fresh");
    assert_vec_close(S.lam, S2.lam, m, 1e-5, "lam after update_vectors vs fresh");
    /* a dropped row must stay dropped, a kept row kept */
    d2.h[3] = 1;
    ck_assert_int_eq(altdiff_update_vectors(w, NULL, NULL, d2.h), ALTDIFF_ERR_INVALID);
    d2.h[3] = INFINITY;
    d2.h[0] = INFINITY;
    ck_assert_int_eq(altdiff_update_vectors(w, NULL, NULL, d2.h), ALTDIFF_ERR_INVALID);
    d2.q[0] = NAN;
    ck_assert_int_eq(altdiff_update_vectors(w, d2.q, NULL, NULL), ALTDIFF_ERR_INVALID);
    free(x1);
    sol_free(&S);
    sol_free(&S2);
    altdiff_free(w);
    dqp_free(&d);
    dqp_free(&d2);
}
END_TEST

START_TEST(test_update_matrices)
{
    altdiff_int n = 12, m = 3, p = 12;
    dqp d = random_qp(n, m, p, 131), d2 = random_qp(n, m, p, 132); /* same dense pattern */
    ck_assert_int_eq(d.Pc.p[n], d2.Pc.p[n]);
    ck_assert_int_eq(d.Ac.p[n], d2.Ac.p[n]);
    ck_assert_int_eq(d.Gc.p[n], d2.Gc.p[n]);
    altdiff_settings set = solve_settings(0, 1e-9);
    altdiff_work *w = setup_ok(&d, &set);
    solution S = sol_alloc(&d), S2 = solve(&d2, &set);
    solve_ok(w, &S);
    assert_status(&S, ALTDIFF_SOLVED);
    ck_assert_int_eq(altdiff_update_matrices(w, d2.Pc.x, d2.Ac.x, d2.Gc.x), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_update_vectors(w, d2.q, d2.b, d2.h), ALTDIFF_OK);
    solve_ok(w, &S);
    assert_status(&S, ALTDIFF_SOLVED);
    assert_kkt(&d2, &S, 1e-8);
    assert_vec_close(S.x, S2.x, n, 1e-6, "x after update_matrices vs fresh");
    /* P alone (the constraints stay feasible): against a fresh setup */
    dqp d3 = random_qp(n, m, p, 131);
    memcpy(d3.P, d2.P, sizeof(double) * (size_t)(n * n));
    dqp_finish(&d3);
    altdiff_work *w3 = setup_ok(&d3, &set);
    ck_assert_int_eq(altdiff_update_matrices(w3, d.Pc.x, NULL, NULL), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_update_matrices(w3, d3.Pc.x, NULL, NULL), ALTDIFF_OK);
    solution S3 = solve(&d3, &set), S4 = sol_alloc(&d3);
    solve_ok(w3, &S4);
    assert_status(&S4, ALTDIFF_SOLVED);
    assert_kkt(&d3, &S4, 1e-8);
    assert_vec_close(S4.x, S3.x, n, 1e-6, "x after update_matrices(P) vs fresh");
    /* NaN values are refused */
    d2.Ac.x[0] = NAN;
    ck_assert_int_eq(altdiff_update_matrices(w, NULL, d2.Ac.x, NULL), ALTDIFF_ERR_INVALID);
    sol_free(&S);
    sol_free(&S2);
    sol_free(&S3);
    sol_free(&S4);
    altdiff_free(w);
    altdiff_free(w3);
    dqp_free(&d);
    dqp_free(&d2);
    dqp_free(&d3);
}
END_TEST

START_TEST(test_update_rho)
{
    dqp d = random_qp(15, 4, 15, 141);
    altdiff_settings set = solve_settings(0, 1e-9);
    altdiff_work *w = setup_ok(&d, &set);
    solution S = sol_alloc(&d), S2 = sol_alloc(&d);
    solve_ok(w, &S);
    assert_status(&S, ALTDIFF_SOLVED);
    ck_assert_int_eq(altdiff_update_rho(w, 7.5, -1), ALTDIFF_OK);
    ck_assert_double_eq(altdiff_get_info(w)->rho, 7.5);
    solve_ok(w, &S2);
    assert_status(&S2, ALTDIFF_SOLVED);
    assert_vec_close(S2.x, S.x, d.n, 1e-7, "x after update_rho");
    assert_kkt(&d, &S2, 1e-8);
    ck_assert_int_eq(altdiff_update_rho(w, -1, 1e-3), ALTDIFF_OK); /* sigma only */
    solve_ok(w, &S2);
    assert_status(&S2, ALTDIFF_SOLVED);
    assert_vec_close(S2.x, S.x, d.n, 1e-7, "x after update of sigma");
    /* from a cold start with the new rho: the same solution */
    ck_assert_int_eq(altdiff_update_rho(w, 0.003, -1), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_warm_start(w, NULL, NULL, NULL, NULL), ALTDIFF_OK);
    solve_ok(w, &S2);
    assert_status(&S2, ALTDIFF_SOLVED);
    assert_vec_close(S2.x, S.x, d.n, 1e-6, "x from a cold start at another rho");
    ck_assert_int_eq(altdiff_update_rho(w, 0, -1), ALTDIFF_ERR_INVALID);
    ck_assert_int_eq(altdiff_update_rho(w, NAN, -1), ALTDIFF_ERR_INVALID);
    sol_free(&S);
    sol_free(&S2);
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

START_TEST(test_max_iter)
{
    dqp d = random_qp(20, 5, 20, 151);
    altdiff_settings set = solve_settings(0, 1e-12);
    set.max_iter = 3;
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_MAX_ITER);
    ck_assert_int_eq(S.info.iter, 3);
    ck_assert(S.info.r_prim > S.info.eps_prim || S.info.r_dual > S.info.eps_dual);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

START_TEST(test_time_limit)
{
    dqp d = random_qp(80, 20, 80, 161);
    altdiff_settings set = solve_settings(0, 1e-14);
    set.time_limit = 1e-9;
    solution S = solve(&d, &set);
    assert_status(&S, ALTDIFF_TIME_LIMIT);
    ck_assert(S.info.iter < set.max_iter);
    ck_assert(S.info.iter <= 2 * set.check_every);
    sol_free(&S);
    dqp_free(&d);
}
END_TEST

/* Solve in rounds of max_iter iterations until solved; the rounds taken */
static int rounds(altdiff_work *w1, altdiff_work *w2)
{
    int k = 0, st1 = 0, st2 = 0;
    while (k < 1000 && (st1 != ALTDIFF_SOLVED || (w2 && st2 != ALTDIFF_SOLVED))) {
        k++;
        if (st1 != ALTDIFF_SOLVED) {
            ck_assert_int_eq(altdiff_solve(w1), ALTDIFF_OK);
            st1 = altdiff_get_info(w1)->status;
        }
        if (w2 && st2 != ALTDIFF_SOLVED) {
            ck_assert_int_eq(altdiff_solve(w2), ALTDIFF_OK);
            st2 = altdiff_get_info(w2)->status;
        }
    }
    return k;
}

START_TEST(test_two_workspaces)
{
    dqp d1 = random_qp(15, 4, 15, 171), d2 = random_qp(12, 3, 14, 172);
    altdiff_settings set = solve_settings(0, 1e-9);
    set.adaptive_rho = 0; /* deterministic: no timing-dependent rho changes */
    set.max_iter = 20;
    double *x1 = zeros(d1.n), *x2 = zeros(d2.n), *y1 = zeros(d1.n), *y2 = zeros(d2.n);
    /* separately */
    altdiff_work *a = setup_ok(&d1, &set);
    int ra = rounds(a, NULL);
    ck_assert_int_eq(altdiff_get_info(a)->status, ALTDIFF_SOLVED);
    altdiff_get_solution(a, x1, NULL, NULL, NULL);
    altdiff_free(a);
    a = setup_ok(&d2, &set);
    int rb = rounds(a, NULL);
    altdiff_get_solution(a, x2, NULL, NULL, NULL);
    altdiff_free(a);
    ck_assert(ra > 1 && rb > 1);
    /* alternately */
    altdiff_work *w1 = setup_ok(&d1, &set), *w2 = setup_ok(&d2, &set);
    rounds(w1, w2);
    altdiff_get_solution(w1, y1, NULL, NULL, NULL);
    altdiff_get_solution(w2, y2, NULL, NULL, NULL);
    ck_assert(memcmp(x1, y1, sizeof(double) * (size_t)d1.n) == 0);
    ck_assert(memcmp(x2, y2, sizeof(double) * (size_t)d2.n) == 0);
    altdiff_free(w1);
    altdiff_free(w2);
    free(x1);
    free(x2);
    free(y1);
    free(y2);
    dqp_free(&d1);
    dqp_free(&d2);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------- */

static Suite *suite_admm(void)
{
    Suite *s = suite_create("admm");
    TCase *tc = tcase_create("random");
    tcase_add_loop_test(tc, test_random_kkt, 0, (int)(sizeof(sizes) / sizeof(sizes[0])));
    tcase_add_loop_test(tc, test_exact_signs, 0, (int)(sizeof(sizes) / sizeof(sizes[0])));
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("closed_forms");
    tcase_add_test(tc, test_unconstrained);
    tcase_add_test(tc, test_equality_only);
    tcase_add_test(tc, test_box_projection);
    tcase_add_test(tc, test_simplex_projection);
    tcase_add_test(tc, test_triangles);
    tcase_add_test(tc, test_anderson_sparsemax);
    tcase_add_loop_test(tc, test_anderson_memory, 0, (int)(sizeof(sizes) / sizeof(sizes[0])));
    tcase_add_test(tc, test_anderson_record);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("infeasibility");
    tcase_add_test(tc, test_infeasible_bounds);
    tcase_add_test(tc, test_infeasible_equalities);
    tcase_add_test(tc, test_infeasible_simplex);
    tcase_add_test(tc, test_infeasible_zero_row);
    tcase_add_test(tc, test_unbounded_lp);
    tcase_add_test(tc, test_unbounded_singular);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("robustness");
    tcase_add_test(tc, test_lp_hand);
    tcase_add_test(tc, test_singular_P_hand);
    tcase_add_test(tc, test_singular_P_random);
    tcase_add_test(tc, test_redundant_equalities);
    tcase_add_test(tc, test_free_and_fixed);
    tcase_add_test(tc, test_infinite_bounds);
    tcase_add_test(tc, test_badly_scaled);
    tcase_add_test(tc, test_scaling_in_place);
    tcase_add_test(tc, test_empty_G_rows);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_loop_test(tc, test_invalid_input, 0, N_INVALID);
    tcase_add_test(tc, test_invalid_null);
    tcase_add_test(tc, test_nonconvex);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_test(tc, test_warm_start);
    tcase_add_test(tc, test_update_vectors);
    tcase_add_test(tc, test_update_matrices);
    tcase_add_test(tc, test_update_rho);
    tcase_add_test(tc, test_max_iter);
    tcase_add_test(tc, test_time_limit);
    tcase_add_test(tc, test_two_workspaces);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_admm()); }
