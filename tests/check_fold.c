/*
 * check_fold: the fold API (altdiff_fold_vjp / altdiff_fold_jvp) on a solver
 * that is not ADMM: projected gradient descent on a box-constrained QP
 *
 *     minimize 1/2 z'Pz + q'z   subject to  l <= z <= u,
 *     z+ = T(z, theta) = clip(z - t (P z + q), l, u),     theta = (q, l, u),
 *
 * run to convergence here. At the fixed point z, with y = z - t (P z + q) and
 * the masks F = {l < y < u} (free), Lo = {y <= l}, Up = {y >= u},
 *
 *     J_z = D_F (I - t P),   J_theta (vq, vl, vu) = -t D_F vq + D_Lo vl + D_Up vu,
 *
 * which the callbacks below apply (P dense). Each QP is built from its
 * solution with strict complementarity (margin 0.5 in the gradient, free
 * coordinates 0.3 inside their box), so the masks are known. Checked:
 *   - the library's ADMM derivative of the same QP, G = [I; -I], h = [u; -l]
 *     (modes KKT, GMRES, ADJOINT): dL/dq, dL/du = dL/dh(1:n), dL/dl = -dL/dh(n+1:2n);
 *   - closed forms: dz/dq = -(P_FF)^-1 on F (embedded), and for a coordinate b
 *     at a bound dz/d(bound_b) = e_b - (P_FF)^-1 P_Fb on F;
 *   - the identity w'(J v) = (J'w)'v between fold_jvp and fold_vjp;
 *   - central finite differences of the projected-gradient solution map;
 *   - independence of the step t (the fixed point does not depend on it);
 *   - the contract: MAX_ITER and NUMERICAL_ERROR reported, bad arguments
 *     rejected, every failed allocation gives ALTDIFF_ERR_NOMEM.
 *
 * Measurements are printed as "[fold] ..." lines into the test log.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
/* the test library is built with fault injection (tests/meson.build) */
#ifndef ALTDIFF_FAULT_INJECTION
#define ALTDIFF_FAULT_INJECTION 1
#endif
#include "sp.h"

/* (verdict/expect/finish and the dense vector helpers are in helpers.c) */

/* ---- a box QP built from its solution ----------------------------------------- */

#define FREE 0
#define UPPER 1
#define LOWER 2

typedef struct {
    altdiff_int n;
    double *P, *q, *l, *u; /* P dense n x n, column-major, symmetric */
    double *x;             /* the exact solution                     */
    int *cls;              /* FREE, UPPER, LOWER: x_j's place in its box */
    double t;              /* step of projected gradient             */
    /* the fixed point and its masks (box_linearize) */
    double *z;
    int *mf, *ml, *mu;     /* 1 on F, Lo, Up                         */
    double *tmp;           /* n: scratch of the callbacks            */
    int poison;            /* test: J_z' u returns NaN               */
} box;

/* Patterns of the coordinates: mixed (j % 3: free, upper, lower), all free
 * (unconstrained), all at a bound (alternating upper and lower) */
#define MIXED 0
#define ALL_FREE 1
#define ALL_BOUND 2

/* P = M'M/n + I; boxes l in [-1.5, -0.5), u in [0.5, 1.5); free x_j at least
 * 0.3 inside; gradient g = P x + q zero on F, -(0.5 + U) at the upper bound,
 * +(0.5 + U) at the lower, q = g - P x. Step t = 1 / (Gershgorin bound of P). */
static box box_build(altdiff_int n, int pattern, uint64_t seed)
{
    rng r = {seed};
    box B;
    memset(&B, 0, sizeof(B));
    B.n = n;
    B.P = zeros(n * n);
    double *M = zeros(n * n), *g = zeros(n);
    randn(&r, M, n * n);
    for (altdiff_int i = 0; i < n; i++)
        for (altdiff_int j = 0; j < n; j++)
            B.P[i + j * n] = dot(M + i * n, M + j * n, n) / (double)n + (i == j ? 1.0 : 0.0);
    B.q = zeros(n);
    B.l = zeros(n);
    B.u = zeros(n);
    B.x = zeros(n);
    B.z = zeros(n);
    B.tmp = zeros(n);
    B.cls = calloc((size_t)n, sizeof(int));
    B.mf = calloc((size_t)n, sizeof(int));
    B.ml = calloc((size_t)n, sizeof(int));
    B.mu = calloc((size_t)n, sizeof(int));
    ck_assert(B.cls && B.mf && B.ml && B.mu);
    for (altdiff_int j = 0; j < n; j++) {
        B.l[j] = -0.5 - rng_unif(&r);
        B.u[j] = 0.5 + rng_unif(&r);
        int c = pattern == ALL_FREE ? FREE : pattern == ALL_BOUND ? 1 + (int)(j % 2) : (int)(j % 3);
        B.cls[j] = c;
        double margin = 0.5 + rng_unif(&r);
        B.x[j] = c == UPPER ? B.u[j]
                 : c == LOWER ? B.l[j]
                              : B.l[j] + 0.3 + (B.u[j] - B.l[j] - 0.6) * rng_unif(&r);
        g[j] = c == UPPER ? -margin : c == LOWER ? margin : 0;
    }
    matvec(B.P, n, n, B.x, B.q);
    for (altdiff_int j = 0; j < n; j++) B.q[j] = g[j] - B.q[j];
    double L = 0;
    for (altdiff_int i = 0; i < n; i++) {
        double s = 0;
        for (altdiff_int j = 0; j < n; j++) s += fabs(B.P[i + j * n]);
        L = fmax(L, s);
    }
    B.t = 1 / L;
    free(M);
    free(g);
    return B;
}

static void box_free(box *B)
{
    double *arrays[] = {B->P, B->q, B->l, B->u, B->x, B->z, B->tmp};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) free(arrays[k]);
    free(B->cls);
    free(B->mf);
    free(B->ml);
    free(B->mu);
}

/* ---- the solver: projected gradient ------------------------------------------- */

#define PG_MAX_ITER 1000000
#define PG_TOL 1e-15

/* z <- clip(z - t (P z + q), l, u) from z = clip(0) until the change is below
 * PG_TOL max(1, |z|); returns the iterations, or -1 without convergence */
static long pg_solve(const box *B, const double *q, const double *l, const double *u,
                     double t, double *z)
{
    altdiff_int n = B->n;
    double *g = zeros(n);
    for (altdiff_int j = 0; j < n; j++) z[j] = fmin(fmax(0, l[j]), u[j]);
    long k = 0, done = 0;
    while (!done && k++ < PG_MAX_ITER) {
        matvec(B->P, n, n, z, g);
        double change = 0;
        for (altdiff_int j = 0; j < n; j++) {
            double zj = fmin(fmax(z[j] - t * (g[j] + q[j]), l[j]), u[j]); /* clip(y, l, u) */
            change = fmax(change, fabs(zj - z[j]));
            z[j] = zj;
        }
        done = change <= PG_TOL * fmax(1, nrm_inf(z, n));
    }
    free(g);
    return done ? k : -1;
}

/* The masks at the fixed point B->z with the step B->t */
static void box_linearize(box *B)
{
    altdiff_int n = B->n;
    matvec(B->P, n, n, B->z, B->tmp);
    for (altdiff_int j = 0; j < n; j++) {
        double y = B->z[j] - B->t * (B->tmp[j] + B->q[j]);
        B->ml[j] = y <= B->l[j];
        B->mu[j] = y >= B->u[j];
        B->mf[j] = !B->ml[j] && !B->mu[j];
    }
}

/* Solve with projected gradient and linearize; the solution must be the
 * exact one (to 1e-10) and the masks the built classes */
static box box_solved(altdiff_int n, int pattern, uint64_t seed)
{
    box B = box_build(n, pattern, seed);
    long it = pg_solve(&B, B.q, B.l, B.u, B.t, B.z);
    box_linearize(&B);
    int masks_ok = 1;
    for (altdiff_int j = 0; j < n; j++)
        masks_ok &= B.mf[j] == (B.cls[j] == FREE) && B.mu[j] == (B.cls[j] == UPPER) &&
                    B.ml[j] == (B.cls[j] == LOWER);
    double err = rel_diff(B.z, B.x, n);
    if (it < 0 || err > 1e-10 || !masks_ok) box_free(&B);
    ck_assert_msg(it > 0, "projected gradient did not converge (n = %ld)", (long)n);
    ck_assert_msg(err <= 1e-10, "projected gradient: |z - x*| = %.2e", err);
    ck_assert_msg(masks_ok, "masks at the fixed point differ from the built classes");
    return B;
}

/* ---- the callbacks ------------------------------------------------------------ */

/* out = J_z v = D_F (v - t P v) */
static void cb_jz(void *user, const double *v, double *out)
{
    box *B = user;
    matvec(B->P, B->n, B->n, v, B->tmp);
    for (altdiff_int j = 0; j < B->n; j++) out[j] = B->mf[j] ? v[j] - B->t * B->tmp[j] : 0;
}

/* out = J_z' w = (I - t P) D_F w */
static void cb_jtz(void *user, const double *w, double *out)
{
    box *B = user;
    for (altdiff_int j = 0; j < B->n; j++) B->tmp[j] = B->mf[j] ? w[j] : 0;
    matvec(B->P, B->n, B->n, B->tmp, out);
    for (altdiff_int j = 0; j < B->n; j++)
        out[j] = B->poison ? NAN : B->tmp[j] - B->t * out[j];
}

/* out = J_theta (vq, vl, vu) = -t D_F vq + D_Lo vl + D_Up vu */
static void cb_jtheta(void *user, const double *v, double *out)
{
    box *B = user;
    altdiff_int n = B->n;
    for (altdiff_int j = 0; j < n; j++)
        out[j] = B->mf[j] ? -B->t * v[j] : B->ml[j] ? v[n + j] : v[2 * n + j];
}

/* out = J_theta' w = (-t D_F w, D_Lo w, D_Up w) */
static void cb_jttheta(void *user, const double *w, double *out)
{
    box *B = user;
    altdiff_int n = B->n;
    for (altdiff_int j = 0; j < n; j++) {
        out[j] = B->mf[j] ? -B->t * w[j] : 0;
        out[n + j] = B->ml[j] ? w[j] : 0;
        out[2 * n + j] = B->mu[j] ? w[j] : 0;
    }
}

static altdiff_fold fold_of(box *B)
{
    altdiff_fold f = {B->n, 3 * B->n, B, cb_jtz, cb_jttheta, cb_jz, cb_jtheta};
    return f;
}

#define FOLD_EPS 1e-12

static altdiff_deriv_settings fset(int mode, double eps)
{
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    ds.mode = mode;
    ds.eps = eps;
    ds.max_iter = 1000000;
    return ds;
}

/* fold_vjp that must succeed with status SOLVED */
static void fold_vjp_ok(verdict *V, box *B, int mode, const double *w, double *g,
                        altdiff_deriv_info *info)
{
    altdiff_fold f = fold_of(B);
    altdiff_deriv_settings ds = fset(mode, FOLD_EPS);
    int rc = altdiff_fold_vjp(&f, &ds, w, g, info);
    expect(V, rc == ALTDIFF_OK && info->status == ALTDIFF_SOLVED && info->residual <= ds.eps,
           "fold_vjp %s (n = %ld): rc %d status %d residual %.2e", mode_name(mode),
           (long)B->n, rc, info->status, info->residual);
}

static void fold_jvp_ok(verdict *V, box *B, int mode, const double *v, double *dz,
                        altdiff_deriv_info *info)
{
    altdiff_fold f = fold_of(B);
    altdiff_deriv_settings ds = fset(mode, FOLD_EPS);
    int rc = altdiff_fold_jvp(&f, &ds, v, dz, info);
    expect(V, rc == ALTDIFF_OK && info->status == ALTDIFF_SOLVED && info->residual <= ds.eps,
           "fold_jvp %s (n = %ld): rc %d status %d residual %.2e", mode_name(mode),
           (long)B->n, rc, info->status, info->residual);
}

/* the problem sizes and patterns of the loop tests */
static const struct {
    altdiff_int n;
    int pattern;
} cases[] = {{1, MIXED},      {2, MIXED},     {7, MIXED},      {40, MIXED},
             {150, MIXED},    {12, ALL_FREE}, {12, ALL_BOUND}};
static const char *pattern_name[] = {"mixed", "all free", "all bound"};

/* ---- 1. against the ADMM derivative of the same QP --------------------------- */

/* The QP with G = [I; -I], h = [u; -l] through the library, solved to 1e-10 */
static altdiff_work *admm_setup_solve(const box *B, owned_csc *Pc, owned_csc *Gc, double *h)
{
    altdiff_int n = B->n;
    double *G = zeros(2 * n * n);
    for (altdiff_int j = 0; j < n; j++) {
        G[j + j * 2 * n] = 1;
        G[n + j + j * 2 * n] = -1;
        h[j] = B->u[j];
        h[n + j] = -B->l[j];
    }
    *Pc = csc_upper_from_dense(B->P, n);
    *Gc = csc_from_dense(G, 2 * n, n);
    free(G);
    altdiff_problem prob = {n, 0, 2 * n, csc_view(Pc), {0, n, NULL, NULL, NULL},
                            csc_view(Gc), B->q, NULL, h};
    altdiff_settings set = altdiff_settings_default();
    set.eps_abs = set.eps_rel = 1e-10;
    altdiff_work *w = NULL;
    int rc = altdiff_setup(&w, &prob, &set);
    if (rc == ALTDIFF_OK) altdiff_solve(w);
    return rc == ALTDIFF_OK ? w : NULL;
}

START_TEST(test_against_admm)
{
    box B = box_solved(cases[_i].n, cases[_i].pattern, 100 + (uint64_t)_i);
    altdiff_int n = B.n;
    double *wz = zeros(n), *g_fp = zeros(3 * n), *g_gm = zeros(3 * n), *g_ad = zeros(3 * n);
    double *h = zeros(2 * n), *dq = zeros(n), *dh = zeros(2 * n), *x = zeros(n);
    randn(&(rng){200 + (uint64_t)_i}, wz, n);
    verdict V = {0, ""};
    altdiff_deriv_info ifp, igm;
    fold_vjp_ok(&V, &B, ALTDIFF_MODE_ADJOINT, wz, g_fp, &ifp);
    fold_vjp_ok(&V, &B, ALTDIFF_MODE_GMRES, wz, g_gm, &igm);
    double e_modes = rel_diff(g_fp, g_gm, 3 * n);
    printf("[fold] vs ADMM n=%ld (%s): fold ADJOINT %ld iter, GMRES %ld iter, ADJOINT vs "
           "GMRES %.1e",
           (long)n, pattern_name[cases[_i].pattern], (long)ifp.iter, (long)igm.iter, e_modes);
    expect(&V, e_modes <= 1e-10, "fold ADJOINT vs GMRES: %.2e", e_modes);
    owned_csc Pc = {0, 0, NULL, NULL, NULL}, Gc = {0, 0, NULL, NULL, NULL};
    altdiff_work *w = admm_setup_solve(&B, &Pc, &Gc, h);
    expect(&V, w && altdiff_get_info(w)->status == ALTDIFF_SOLVED, "ADMM solve failed");
    if (w && altdiff_get_info(w)->status == ALTDIFF_SOLVED) {
        altdiff_get_solution(w, x, NULL, NULL, NULL);
        double ex = rel_diff(x, B.z, n);
        printf(", |x_admm - z_pg| %.1e", ex);
        expect(&V, ex <= 1e-8, "ADMM x vs projected gradient z: %.2e", ex);
        const int modes[] = {ALTDIFF_MODE_KKT, ALTDIFF_MODE_GMRES, ALTDIFF_MODE_ADJOINT};
        const double tol[] = {1e-9, 1e-7, 1e-7};
        for (int k = 0; k < 3; k++) {
            altdiff_deriv_settings ds = fset(modes[k], 1e-10);
            altdiff_deriv_info info;
            int rc = altdiff_vjp(w, &ds, wz, dq, NULL, dh, &info);
            expect(&V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED,
                   "altdiff_vjp %s: rc %d status %d", mode_name(modes[k]), rc, info.status);
            for (altdiff_int j = 0; j < n; j++) { /* (dq, dl, du) from dh = (du, -dl) */
                g_ad[j] = dq[j];
                g_ad[n + j] = -dh[n + j];
                g_ad[2 * n + j] = dh[j];
            }
            double eq = rel_diff(g_fp, g_ad, n), eall = rel_diff(g_fp, g_ad, 3 * n);
            printf(", ADMM %s: dL/dq %.1e, (q,l,u) %.1e", mode_name(modes[k]), eq, eall);
            expect(&V, eall <= tol[k], "fold vs ADMM %s (n = %ld): dL/dq %.2e, (q, l, u) %.2e",
                   mode_name(modes[k]), (long)n, eq, eall);
        }
    }
    printf("\n");
    altdiff_free(w);
    free_csc(&Pc);
    free_csc(&Gc);
    double *arrays[] = {wz, g_fp, g_gm, g_ad, h, dq, dh, x};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) free(arrays[k]);
    box_free(&B);
    finish(&V);
}
END_TEST

/* ---- 2. closed forms ------------------------------------------------------------ */

/* The Jacobian J = dz/d(q, l, u) (n x 3n, column-major) of a box QP:
 *   dz/dq_j = -(P_FF)^-1 e_j on F (j in F; zero column otherwise),
 *   dz/dl_b = e_b - (P_FF)^-1 P_Fb on F for b at its lower bound (else 0),
 *   dz/du_b likewise for b at its upper bound. */
static void closed_form(const box *B, double *J)
{
    altdiff_int n = B->n, nF = 0;
    altdiff_int *F = malloc(sizeof(altdiff_int) * (size_t)n);
    ck_assert_ptr_nonnull(F);
    for (altdiff_int j = 0; j < n; j++)
        if (B->cls[j] == FREE) F[nF++] = j;
    double *PFF = zeros(nF * nF), *M = zeros(nF * nF), *rhs = zeros(nF);
    for (altdiff_int a = 0; a < nF; a++)
        for (altdiff_int c = 0; c < nF; c++) PFF[a + c * nF] = B->P[F[a] + F[c] * n];
    memset(J, 0, sizeof(double) * (size_t)(3 * n * n));
    for (altdiff_int col = 0; col < 3 * n; col++) {
        altdiff_int b = col % n;
        int wrt = (int)(col / n); /* 0: q, 1: l, 2: u */
        int bound = wrt == 1 ? B->cls[b] == LOWER : wrt == 2 ? B->cls[b] == UPPER : 0;
        if (wrt == 0 && B->cls[b] != FREE) continue;
        if (wrt > 0 && !bound) continue;
        for (altdiff_int a = 0; a < nF; a++)
            rhs[a] = wrt == 0 ? -(F[a] == b) : -B->P[F[a] + b * n]; /* -e_b or -P_Fb */
        memcpy(M, PFF, sizeof(double) * (size_t)(nF * nF));
        ck_assert(nF == 0 || dense_solve(nF, M, rhs));
        for (altdiff_int a = 0; a < nF; a++) J[F[a] + col * n] = rhs[a];
        if (bound) J[b + col * n] = 1;
    }
    free(F);
    free(PFF);
    free(M);
    free(rhs);
}

START_TEST(test_closed_form)
{
    box B = box_solved(cases[_i].n, cases[_i].pattern, 300 + (uint64_t)_i);
    altdiff_int n = B.n, K = 3 * n;
    double *J = zeros(n * K), *e = zeros(K), *dz = zeros(n), *w = zeros(n), *g = zeros(K),
           *Jtw = zeros(K);
    closed_form(&B, J);
    randn(&(rng){400 + (uint64_t)_i}, w, n);
    for (altdiff_int c = 0; c < K; c++) Jtw[c] = dot(J + c * n, w, n); /* (J'w)_c */
    verdict V = {0, ""};
    printf("[fold] closed form n=%ld (%s):", (long)n, pattern_name[cases[_i].pattern]);
    const int fwd[] = {ALTDIFF_MODE_ALTDIFF, ALTDIFF_MODE_GMRES};
    for (int k = 0; k < 2; k++) {
        double worst_q = 0, worst_lu = 0;
        altdiff_int iters = 0;
        for (altdiff_int c = 0; c < K; c++) { /* column c of J by one JVP */
            altdiff_deriv_info info;
            e[c] = 1;
            fold_jvp_ok(&V, &B, fwd[k], e, dz, &info);
            e[c] = 0;
            double err = rel_diff(dz, J + c * n, n);
            if (c < n) worst_q = fmax(worst_q, err);
            else worst_lu = fmax(worst_lu, err);
            iters = info.iter > iters ? info.iter : iters;
        }
        printf(" jvp %s dz/dq %.1e, dz/d(l,u) %.1e (<= %ld iter);", mode_name(fwd[k]), worst_q,
               worst_lu, (long)iters);
        expect(&V, worst_q <= 1e-10 && worst_lu <= 1e-10,
               "jvp %s vs closed form: dz/dq %.2e, dz/d(l,u) %.2e", mode_name(fwd[k]), worst_q,
               worst_lu);
    }
    const int rev[] = {ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_GMRES};
    for (int k = 0; k < 2; k++) {
        altdiff_deriv_info info;
        fold_vjp_ok(&V, &B, rev[k], w, g, &info);
        double err = rel_diff(g, Jtw, K);
        printf(" vjp %s J'w %.1e;", mode_name(rev[k]), err);
        expect(&V, err <= 1e-10, "vjp %s vs closed form J'w: %.2e", mode_name(rev[k]), err);
    }
    printf("\n");
    double *arrays[] = {J, e, dz, w, g, Jtw};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) free(arrays[k]);
    box_free(&B);
    finish(&V);
}
END_TEST

/* ---- 3. forward/reverse identity and finite differences --------------------- */

/* w'(J v) = (J'w)'v for (jvp, vjp) = (ALTDIFF, ADJOINT) and (GMRES, GMRES);
 * and both against the central difference of w'z*(theta) along v */
START_TEST(test_identity_fd)
{
    box B = box_solved(cases[_i].n, cases[_i].pattern, 500 + (uint64_t)_i);
    altdiff_int n = B.n, K = 3 * n;
    double *w = zeros(n), *v = zeros(K), *dz = zeros(n), *g = zeros(K), *zp = zeros(n),
           *zm = zeros(n), *th = zeros(K);
    rng r = {600 + (uint64_t)_i};
    randn(&r, w, n);
    randn(&r, v, K);
    verdict V = {0, ""};
    const int fwd[] = {ALTDIFF_MODE_ALTDIFF, ALTDIFF_MODE_GMRES};
    const int rev[] = {ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_GMRES};
    double wJv[2], Jtwv[2];
    for (int k = 0; k < 2; k++) {
        altdiff_deriv_info info;
        fold_jvp_ok(&V, &B, fwd[k], v, dz, &info);
        wJv[k] = dot(w, dz, n);
        fold_vjp_ok(&V, &B, rev[k], w, g, &info);
        Jtwv[k] = dot(g, v, K);
    }
    /* central difference with step s: the solution map is affine while the
     * masks stay (margins 0.3 and 0.5 against |v| s ~ 1e-4) */
    double s = 1e-5;
    for (int sign = -1; sign <= 1; sign += 2) {
        for (altdiff_int c = 0; c < K; c++)
            th[c] = (c < n ? B.q[c] : c < 2 * n ? B.l[c - n] : B.u[c - 2 * n]) + sign * s * v[c];
        long it = pg_solve(&B, th, th + n, th + 2 * n, B.t, sign < 0 ? zm : zp);
        expect(&V, it > 0, "projected gradient at theta %+g v did not converge", sign * s);
    }
    for (altdiff_int j = 0; j < n; j++) zp[j] = (zp[j] - zm[j]) / (2 * s);
    double fd = dot(w, zp, n);
    printf("[fold] identity n=%ld (%s): w'Jv = %.6f; ALTDIFF/ADJOINT %.1e, GMRES/GMRES %.1e, "
           "jvp ALTDIFF vs GMRES %.1e, FD %.1e\n",
           (long)n, pattern_name[cases[_i].pattern], wJv[0], rel_scalar(Jtwv[0], wJv[0]),
           rel_scalar(Jtwv[1], wJv[1]), rel_scalar(wJv[1], wJv[0]), rel_scalar(fd, wJv[0]));
    for (int k = 0; k < 2; k++)
        expect(&V, rel_scalar(Jtwv[k], wJv[k]) <= 1e-10, "identity %s/%s: %.17g vs %.17g",
               mode_name(fwd[k]), mode_name(rev[k]), wJv[k], Jtwv[k]);
    expect(&V, rel_scalar(wJv[1], wJv[0]) <= 1e-10, "jvp modes differ");
    expect(&V, rel_scalar(fd, wJv[0]) <= 1e-8, "FD %.17g vs jvp %.17g", fd, wJv[0]);
    double *arrays[] = {w, v, dz, g, zp, zm, th};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) free(arrays[k]);
    box_free(&B);
    finish(&V);
}
END_TEST

/* ---- 4. the step does not matter --------------------------------------------- */

/* z* and its derivative do not depend on t; with t / 50 the fixed-point
 * iteration contracts 50 times slower (rate 1 - t lambda_min(P_FF)) while
 * GMRES needs about as many steps as before */
START_TEST(test_step_invariance)
{
    box B = box_solved(40, MIXED, 700);
    altdiff_int n = B.n, K = 3 * n;
    double *w = zeros(n), *g0 = zeros(K), *g1 = zeros(K), *g2 = zeros(K);
    randn(&(rng){701}, w, n);
    verdict V = {0, ""};
    altdiff_deriv_info i0, i1, i2;
    fold_vjp_ok(&V, &B, ALTDIFF_MODE_GMRES, w, g0, &i0);
    B.t /= 50;
    box_linearize(&B); /* same masks: the margins scale with t but stay strict */
    fold_vjp_ok(&V, &B, ALTDIFF_MODE_ADJOINT, w, g1, &i1);
    fold_vjp_ok(&V, &B, ALTDIFF_MODE_GMRES, w, g2, &i2);
    /* the fixed-point iteration at rate 1 - r stops on a change of eps |u|,
     * leaving an error of about eps / r: 1e-12 / (t lambda_min / 50) ~ 5e-10 */
    double e1 = rel_diff(g1, g0, K), e2 = rel_diff(g2, g0, K);
    printf("[fold] step t/50: ADJOINT %ld iter (%.1e), GMRES %ld iter (%.1e), GMRES at t %ld "
           "iter\n",
           (long)i1.iter, e1, (long)i2.iter, e2, (long)i0.iter);
    expect(&V, e1 <= 1e-8 && e2 <= 1e-9, "step t/50 changed the gradient: %.2e, %.2e", e1, e2);
    expect(&V, i2.iter < i1.iter, "GMRES (%ld) not faster than the fixed point (%ld)",
           (long)i2.iter, (long)i1.iter);
    free(w);
    free(g0);
    free(g1);
    free(g2);
    box_free(&B);
    finish(&V);
}
END_TEST

/* ---- 5. the contract --------------------------------------------------------- */

/* max_iter = 2: status MAX_ITER, at most 2 iterations, residual above eps,
 * finite outputs; for GMRES also with restart 1 (two cycles) */
START_TEST(test_max_iter)
{
    box B = box_solved(40, MIXED, 800);
    altdiff_int n = B.n, K = 3 * n;
    double *w = zeros(n), *v = zeros(K), *out = zeros(K);
    randn(&(rng){801}, w, n);
    randn(&(rng){802}, v, K);
    altdiff_fold f = fold_of(&B);
    verdict V = {0, ""};
    struct {
        int mode, reverse;
        altdiff_int restart;
    } runs[] = {{ALTDIFF_MODE_ADJOINT, 1, 30}, {ALTDIFF_MODE_GMRES, 1, 30},
                {ALTDIFF_MODE_GMRES, 1, 1},    {ALTDIFF_MODE_ALTDIFF, 0, 30},
                {ALTDIFF_MODE_GMRES, 0, 30},   {ALTDIFF_MODE_GMRES, 0, 1}};
    printf("[fold] max_iter 2:");
    for (size_t c = 0; c < sizeof(runs) / sizeof(runs[0]); c++) {
        altdiff_deriv_settings ds = fset(runs[c].mode, FOLD_EPS);
        ds.max_iter = 2;
        ds.restart = runs[c].restart;
        altdiff_deriv_info info;
        int rc = runs[c].reverse ? altdiff_fold_vjp(&f, &ds, w, out, &info)
                                 : altdiff_fold_jvp(&f, &ds, v, out, &info);
        altdiff_int len = runs[c].reverse ? K : n;
        printf(" %s %s (restart %ld): iter %ld status %d residual %.1e;",
               runs[c].reverse ? "vjp" : "jvp", mode_name(ds.mode), (long)ds.restart,
               (long)info.iter, info.status, info.residual);
        expect(&V, rc == ALTDIFF_OK && all_finite(out, len), "%s: rc %d or non-finite output",
               mode_name(ds.mode), rc);
        expect(&V, info.status == ALTDIFF_MAX_ITER && info.iter <= 2 && info.residual > ds.eps,
               "%s %s: status %d iter %ld residual %.2e", runs[c].reverse ? "vjp" : "jvp",
               mode_name(ds.mode), info.status, (long)info.iter, info.residual);
    }
    printf("\n");
    free(w);
    free(v);
    free(out);
    box_free(&B);
    finish(&V);
}
END_TEST

/* A callback that returns NaN: status NUMERICAL_ERROR after one iteration
 * (not max_iter of them), the call itself works */
START_TEST(test_numerical_error)
{
    box B = box_solved(7, MIXED, 900);
    altdiff_int n = B.n, K = 3 * n;
    double *w = zeros(n), *g = zeros(K);
    w[0] = 1;
    B.poison = 1;
    altdiff_fold f = fold_of(&B);
    verdict V = {0, ""};
    const int rev[] = {ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_GMRES};
    for (int k = 0; k < 2; k++) {
        altdiff_deriv_settings ds = fset(rev[k], FOLD_EPS);
        altdiff_deriv_info info;
        int rc = altdiff_fold_vjp(&f, &ds, w, g, &info);
        expect(&V, rc == ALTDIFF_OK && info.status == ALTDIFF_NUMERICAL_ERROR && info.iter <= 1,
               "NaN callback, %s: rc %d status %d iter %ld", mode_name(rev[k]), rc,
               info.status, (long)info.iter);
    }
    free(w);
    free(g);
    box_free(&B);
    finish(&V);
}
END_TEST

/* Bad arguments are rejected with ALTDIFF_ERR_INVALID before any callback */
START_TEST(test_invalid)
{
    box B = box_solved(7, MIXED, 1000);
    altdiff_int n = B.n, K = 3 * n;
    double *w = zeros(n), *v = zeros(K), *g = zeros(K), *dz = zeros(n);
    w[0] = v[0] = 1;
    altdiff_fold f = fold_of(&B);
    altdiff_deriv_settings ok_r = fset(ALTDIFF_MODE_ADJOINT, FOLD_EPS),
                           ok_f = fset(ALTDIFF_MODE_ALTDIFF, FOLD_EPS);
    verdict V = {0, ""};
    altdiff_deriv_info info;
#define VJP_BAD(fp, ds, w_, g_, what)                                                        \
    expect(&V, altdiff_fold_vjp(fp, ds, w_, g_, &info) == ALTDIFF_ERR_INVALID, "vjp: %s", what)
#define JVP_BAD(fp, ds, v_, dz_, what)                                                       \
    expect(&V, altdiff_fold_jvp(fp, ds, v_, dz_, &info) == ALTDIFF_ERR_INVALID, "jvp: %s", what)
    VJP_BAD(NULL, &ok_r, w, g, "NULL fold");
    JVP_BAD(NULL, &ok_f, v, dz, "NULL fold");
    VJP_BAD(&f, NULL, w, g, "NULL settings");
    JVP_BAD(&f, NULL, v, dz, "NULL settings");
    VJP_BAD(&f, &ok_r, NULL, g, "NULL wz");
    VJP_BAD(&f, &ok_r, w, NULL, "NULL gtheta");
    JVP_BAD(&f, &ok_f, NULL, dz, "NULL vtheta");
    JVP_BAD(&f, &ok_f, v, NULL, "NULL dz");
    altdiff_fold bad = f;
    bad.N = 0;
    VJP_BAD(&bad, &ok_r, w, g, "N = 0");
    JVP_BAD(&bad, &ok_f, v, dz, "N = 0");
    bad = f;
    bad.K = -1;
    VJP_BAD(&bad, &ok_r, w, g, "K < 0");
    bad = f;
    bad.jtz = NULL;
    VJP_BAD(&bad, &ok_r, w, g, "no jtz");
    bad = f;
    bad.jttheta = NULL;
    VJP_BAD(&bad, &ok_r, w, g, "no jttheta");
    bad = f;
    bad.jz = NULL;
    JVP_BAD(&bad, &ok_f, v, dz, "no jz");
    bad = f;
    bad.jtheta = NULL;
    JVP_BAD(&bad, &ok_f, v, dz, "no jtheta");
    /* reverse mode needs no forward callbacks and vice versa */
    altdiff_fold rev_only = {n, K, &B, cb_jtz, cb_jttheta, NULL, NULL};
    altdiff_fold fwd_only = {n, K, &B, NULL, NULL, cb_jz, cb_jtheta};
    expect(&V, altdiff_fold_vjp(&rev_only, &ok_r, w, g, NULL) == ALTDIFF_OK, "reverse only");
    expect(&V, altdiff_fold_jvp(&fwd_only, &ok_f, v, dz, NULL) == ALTDIFF_OK, "forward only");
    double bad_eps[] = {0, -1e-6, NAN};
    for (int k = 0; k < 3; k++) {
        altdiff_deriv_settings ds = fset(ALTDIFF_MODE_GMRES, bad_eps[k]);
        VJP_BAD(&f, &ds, w, g, "bad eps");
        JVP_BAD(&f, &ds, v, dz, "bad eps");
    }
    altdiff_deriv_settings ds = ok_r;
    ds.max_iter = 0;
    VJP_BAD(&f, &ds, w, g, "max_iter 0");
    ds = fset(ALTDIFF_MODE_GMRES, FOLD_EPS);
    ds.restart = 0;
    VJP_BAD(&f, &ds, w, g, "restart 0");
    JVP_BAD(&f, &ds, v, dz, "restart 0");
    const int not_reverse[] = {ALTDIFF_MODE_UNROLL, ALTDIFF_MODE_ALTDIFF, ALTDIFF_MODE_KKT, -1, 7};
    const int not_forward[] = {ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_UNROLL, ALTDIFF_MODE_KKT, -1, 7};
    for (int k = 0; k < 5; k++) {
        ds = fset(not_reverse[k], FOLD_EPS);
        VJP_BAD(&f, &ds, w, g, mode_name(not_reverse[k]));
        ds = fset(not_forward[k], FOLD_EPS);
        JVP_BAD(&f, &ds, v, dz, mode_name(not_forward[k]));
    }
    w[3] = NAN;
    VJP_BAD(&f, &ok_r, w, g, "NaN in wz");
    w[3] = INFINITY;
    VJP_BAD(&f, &ok_r, w, g, "Inf in wz");
    v[2 * n] = NAN;
    JVP_BAD(&f, &ok_f, v, dz, "NaN in vtheta");
#undef VJP_BAD
#undef JVP_BAD
    free(w);
    free(v);
    free(g);
    free(dz);
    box_free(&B);
    finish(&V);
}
END_TEST

/* Fail the k-th allocation, k = 0, 1, ...: each failing call returns
 * ALTDIFF_ERR_NOMEM, and the first call that sees no failure returns the
 * result of a call without faults, bit for bit (leaks: ASan, CK_FORK=no) */
START_TEST(test_oom)
{
    box B = box_solved(7, MIXED, 1100);
    altdiff_int n = B.n, K = 3 * n;
    double *w = zeros(n), *v = zeros(K), *ref = zeros(K), *out = zeros(K);
    randn(&(rng){1101}, w, n);
    randn(&(rng){1102}, v, K);
    altdiff_fold f = fold_of(&B);
    verdict V = {0, ""};
    printf("[fold] oom:");
    for (int c = 0; c < 4; c++) {
        int reverse = c < 2;
        altdiff_deriv_settings ds = fset(c % 2 ? ALTDIFF_MODE_GMRES
                                         : reverse ? ALTDIFF_MODE_ADJOINT
                                                   : ALTDIFF_MODE_ALTDIFF,
                                         FOLD_EPS);
        int rc = reverse ? altdiff_fold_vjp(&f, &ds, w, ref, NULL)
                         : altdiff_fold_jvp(&f, &ds, v, ref, NULL);
        expect(&V, rc == ALTDIFF_OK, "no fault: rc %d", rc);
        long k = 0;
        for (;; k++) {
            ad_fault_arm(k);
            rc = reverse ? altdiff_fold_vjp(&f, &ds, w, out, NULL)
                         : altdiff_fold_jvp(&f, &ds, v, out, NULL);
            int fired = ad_fault_fired();
            ad_fault_arm(-1);
            if (!fired) break;
            expect(&V, rc == ALTDIFF_ERR_NOMEM, "k = %ld: rc %d", k, rc);
        }
        altdiff_int len = reverse ? K : n;
        expect(&V, rc == ALTDIFF_OK && memcmp(out, ref, sizeof(double) * (size_t)len) == 0,
               "%s %s after %ld faults: rc %d or a different result", reverse ? "vjp" : "jvp",
               mode_name(ds.mode), k, rc);
        printf(" %s %s %ld allocations;", reverse ? "vjp" : "jvp", mode_name(ds.mode), k);
    }
    printf("\n");
    free(w);
    free(v);
    free(ref);
    free(out);
    box_free(&B);
    finish(&V);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------- */

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *suite_fold(void)
{
    Suite *s = suite_create("fold");
    TCase *tc = tcase_create("projected_gradient");
    tcase_add_loop_test(tc, test_against_admm, 0, COUNT(cases));
    tcase_add_loop_test(tc, test_closed_form, 0, COUNT(cases));
    tcase_add_loop_test(tc, test_identity_fd, 0, COUNT(cases));
    tcase_add_test(tc, test_step_invariance);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("contract");
    tcase_add_test(tc, test_max_iter);
    tcase_add_test(tc, test_numerical_error);
    tcase_add_test(tc, test_invalid);
    tcase_add_test(tc, test_oom);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_fold()); }
