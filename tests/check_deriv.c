/*
 * check_deriv: the derivatives of the solution map against the mathematics.
 *
 * Every problem is built from its solution: x, lam, nu, s are chosen first
 * (half of the inequality rows strictly active, nu > 0.5 and s = 0, the other
 * half strictly inactive, s > 0.5 and nu = 0) and then
 *     q = -P x - A'lam - G'nu,   b = A x,   h = G x + s,
 * so the exact solution, its active set and strict complementarity are known.
 * The derivatives of every mode (ADJOINT, GMRES, UNROLL, ALTDIFF, KKT) are
 * checked against independent evidence:
 *   - central finite differences of the solution map (re-solving);
 *   - the dense implicit-differentiation Jacobian computed here from the
 *     known active set (dense_solve on the KKT matrix);
 *   - closed forms (unconstrained, equality-only, box, sparsemax);
 *   - the identity w'(J v) = (J'w)'v between forward and reverse modes;
 * plus the status and error contract of the derivative API.
 *
 * Measurements are printed as "[deriv] ..." lines into the test log.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* (verdict/expect/finish and the dense vector helpers are in helpers.c) */

/* ---- a dense QP built from its solution -------------------------------------- */


/* Random data: P = M'M/n + I, A, G, x, lam standard normal; even rows of G
 * strictly active (nu in [0.5, 1.5), s = 0), odd rows strictly inactive
 * (s in [0.5, 1.5), nu = 0). The caller may edit and then calls
 * dqp_from_solution and dqp_finish (strict_qp does both). */
static dqp random_data(altdiff_int n, altdiff_int m, altdiff_int p, uint64_t seed)
{
    rng r = {seed};
    dqp d = dqp_alloc(n, m, p);
    random_spd(&r, n, 1.0, d.P); /* P = M'M / n + 1.0 I */
    randn(&r, d.A, m * n);
    randn(&r, d.G, p * n);
    randn(&r, d.x, n);
    randn(&r, d.lam, m);
    for (altdiff_int k = 0; k < p; k++) {
        double u = 0.5 + rng_unif(&r);
        d.nu[k] = k % 2 == 0 ? u : 0;
        d.s[k] = k % 2 == 0 ? 0 : u;
    }
    return d;
}

static dqp strict_qp(altdiff_int n, altdiff_int m, altdiff_int p, uint64_t seed)
{
    dqp d = random_data(n, m, p, seed);
    dqp_from_solution(&d);
    dqp_finish(&d);
    return d;
}

/* Index of the stored entry (i, j) of M, or -1 */
static altdiff_int entry_index(const owned_csc *M, altdiff_int i, altdiff_int j)
{
    for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++)
        if (M->i[t] == i) return t;
    return -1;
}

/* ---- the dense reference: implicit differentiation with a given active set ---- */

/* Jq (n x n), Jb (n x m), Jh (n x p) of x at the exact solution, from
 *     [P A' G_J'; A 0 0; G_J 0 0] (dx, dlam, dnu_J) = (-dq, db, dh_J)
 * with J = { k : active[k] } (NULL: nu_k > 0), solved densely here (no
 * library code). Any output may be NULL. Returns 0 if K is singular. */
static int dense_jacobians(const dqp *d, const int *active, double *Jq, double *Jb,
                           double *Jh)
{
    altdiff_int n = d->n, m = d->m, p = d->p, nJ = 0;
    altdiff_int *J = malloc(sizeof(altdiff_int) * (size_t)(p + 1));
    for (altdiff_int k = 0; k < p; k++)
        if (active ? active[k] : d->nu[k] > 0) J[nJ++] = k;
    altdiff_int N = n + m + nJ;
    double *K = zeros(N * N), *M = zeros(N * N), *z = zeros(N);
    for (altdiff_int j = 0; j < n; j++) {
        for (altdiff_int i = 0; i < n; i++) K[i + j * N] = d->P[i + j * n];
        for (altdiff_int i = 0; i < m; i++)
            K[n + i + j * N] = K[j + (n + i) * N] = d->A[i + j * m];
        for (altdiff_int r = 0; r < nJ; r++)
            K[n + m + r + j * N] = K[j + (n + m + r) * N] = d->G[J[r] + j * p];
    }
    int ok = 1;
    altdiff_int cols[3] = {Jq ? n : 0, Jb ? m : 0, Jh ? p : 0};
    double *out[3] = {Jq, Jb, Jh};
    for (int wrt = 0; wrt < 3; wrt++)
        for (altdiff_int c = 0; c < cols[wrt] && ok; c++) {
            memset(z, 0, sizeof(double) * (size_t)N);
            altdiff_int row = -1;
            if (wrt == 0) row = c;
            if (wrt == 1) row = n + c;
            for (altdiff_int r = 0; r < nJ && wrt == 2; r++)
                if (J[r] == c) row = n + m + r;
            if (row >= 0) {
                z[row] = wrt == 0 ? -1 : 1; /* (-e_j, 0, 0), (0, e_i, 0), (0, 0, e_k) */
                memcpy(M, K, sizeof(double) * (size_t)(N * N));
                ok = dense_solve(N, M, z);
            }
            memcpy(out[wrt] + c * n, z, sizeof(double) * (size_t)n); /* 0 if inactive */
        }
    free(J);
    free(K);
    free(M);
    free(z);
    return ok;
}

/* y = Jq vq + Jb vb + Jh vh (NULL parts zero) */
static void jac_apply(const dqp *d, const double *Jq, const double *Jb, const double *Jh,
                      const double *vq, const double *vb, const double *vh, double *y)
{
    altdiff_int n = d->n;
    memset(y, 0, sizeof(double) * (size_t)n);
    for (altdiff_int j = 0; j < n; j++) {
        for (altdiff_int c = 0; c < n && vq; c++) y[j] += Jq[j + c * n] * vq[c];
        for (altdiff_int c = 0; c < d->m && vb; c++) y[j] += Jb[j + c * n] * vb[c];
        for (altdiff_int c = 0; c < d->p && vh; c++) y[j] += Jh[j + c * n] * vh[c];
    }
}

/* ---- solving and differentiating -------------------------------------------- */

/* Solves stop at eps_abs = eps_rel = SOLVE_EPS. Where finite differences or
 * the unrolled mode are compared at the 1e-5 / 1e-8 level the solves use
 * TIGHT_EPS: at 1e-10 the solution error is ~1e-9 (measured), which becomes
 * ~1e-5 in a difference quotient with step 1e-4, and UNROLL differentiates
 * the iterates, not the fixed point, so it is only as exact as the solve. */
#define SOLVE_EPS 1e-10
#define TIGHT_EPS 1e-12
#define DERIV_EPS 1e-10

/* Setup and solve, which must succeed (status SOLVED) */
static altdiff_work *setup_solve(const dqp *d, const altdiff_settings *set)
{
    altdiff_work *w = NULL;
    int rc = altdiff_setup(&w, &d->prob, set);
    return solved(w, rc, "setup");
}

/* A direction in parameter space with owned arrays (NULL = zero) */
typedef struct {
    double *q, *b, *h, *Px, *Ax, *Gx;
} owned_dir;

static altdiff_direction dir_view(const owned_dir *v)
{
    altdiff_direction dir = {v->q, v->b, v->h, v->Px, v->Ax, v->Gx, NULL};
    return dir;
}

static void dir_free(owned_dir *v)
{
    double *arrays[] = {v->q, v->b, v->h, v->Px, v->Ax, v->Gx};
    for (int k = 0; k < 6; k++) free(arrays[k]);
}

/* theta + t v into the workspace (vectors and matrix values on the patterns) */
static int set_point(altdiff_work *w, const dqp *d, const owned_dir *v, double t)
{
    altdiff_int n = d->n, m = d->m, p = d->p, nP = d->Pc.p[n], nA = d->Ac.p[n],
                nG = d->Gc.p[n];
    double *buf = zeros(n + m + p + nP + nA + nG);
    double *q = buf, *b = q + n, *h = b + m, *Px = h + p, *Ax = Px + nP, *Gx = Ax + nA;
    for (altdiff_int j = 0; j < n; j++) q[j] = d->q[j] + (v->q ? t * v->q[j] : 0);
    for (altdiff_int i = 0; i < m; i++) b[i] = d->b[i] + (v->b ? t * v->b[i] : 0);
    for (altdiff_int k = 0; k < p; k++) h[k] = d->h[k] + (v->h ? t * v->h[k] : 0);
    for (altdiff_int k = 0; k < nP; k++) Px[k] = d->Pc.x[k] + (v->Px ? t * v->Px[k] : 0);
    for (altdiff_int k = 0; k < nA; k++) Ax[k] = d->Ac.x[k] + (v->Ax ? t * v->Ax[k] : 0);
    for (altdiff_int k = 0; k < nG; k++) Gx[k] = d->Gc.x[k] + (v->Gx ? t * v->Gx[k] : 0);
    int rc = altdiff_update_vectors(w, q, m ? b : NULL, p ? h : NULL);
    if (rc == ALTDIFF_OK && (v->Px || v->Ax || v->Gx))
        rc = altdiff_update_matrices(w, v->Px ? Px : NULL, v->Ax ? Ax : NULL,
                                     v->Gx ? Gx : NULL);
    free(buf);
    return rc;
}

/* Central difference (x(theta + t v) - x(theta - t v)) / 2t of the solution
 * map, re-solving warm-started; the workspace is left re-solved at theta.
 * Returns 0 if a solve failed. */
static int fd_solution(altdiff_work *w, const dqp *d, const owned_dir *v, double t, double *dx)
{
    altdiff_int n = d->n;
    double *xp = zeros(n), *xm = zeros(n);
    int ok = set_point(w, d, v, t) == ALTDIFF_OK && resolve(w, xp) &&
             set_point(w, d, v, -t) == ALTDIFF_OK && resolve(w, xm);
    for (altdiff_int j = 0; j < n; j++) dx[j] = (xp[j] - xm[j]) / (2 * t);
    ok = ok && set_point(w, d, v, 0) == ALTDIFF_OK && resolve(w, xp);
    free(xp);
    free(xm);
    return ok;
}

/* The step of the finite differences. For q, b, h the solution map is affine
 * while the active set stays (a QP's solution map is piecewise affine), so
 * central differences have no truncation error and the step only trades
 * solver noise (|x error| / t) against leaving the active set (margins 0.5
 * here, |dx| = O(1) per unit step); for matrix directions the truncation
 * error is O(t^2) ~ 1e-8. Measured: 1e-6 and 1e-5 leave the noise of
 * TIGHT_EPS solves at 1e-6 .. 1e-5 relative; 1e-4 brings it to ~1e-7. */
#define FD_STEP 1e-4

/* A VJP (dq, db, dh) of one mode */
typedef struct {
    double *q, *b, *h;
} grads;

static grads grads_alloc(const dqp *d)
{
    grads g = {zeros(d->n), zeros(d->m), zeros(d->p)};
    return g;
}

static void grads_free(grads *g)
{
    free(g->q);
    free(g->b);
    free(g->h);
}

/* g'v over q, b, h */
static double grads_dot(const dqp *d, const grads *g, const owned_dir *v)
{
    return (v->q ? dot(g->q, v->q, d->n) : 0) + (v->b ? dot(g->b, v->b, d->m) : 0) +
           (v->h ? dot(g->h, v->h, d->p) : 0);
}

/* max over q, b, h of |g - ref| / max(1, |ref|) */
static double grads_rel_diff(const dqp *d, const grads *g, const grads *ref)
{
    double rq = rel_diff(g->q, ref->q, d->n), rb = rel_diff(g->b, ref->b, d->m),
           rh = rel_diff(g->h, ref->h, d->p);
    return fmax(rq, fmax(rb, rh));
}

static int grads_finite(const dqp *d, const grads *g)
{
    return all_finite(g->q, d->n) && all_finite(g->b, d->m) && all_finite(g->h, d->p);
}

static owned_dir random_vector_dir(const dqp *d, rng *r)
{
    owned_dir v = {zeros(d->n), zeros(d->m), zeros(d->p), NULL, NULL, NULL};
    randn(r, v.q, d->n);
    randn(r, v.b, d->m);
    randn(r, v.h, d->p);
    return v;
}

/* ---- 1. finite differences: vector parameters -------------------------------- */

static const altdiff_int fd_sizes[][3] = {{8, 2, 6}, {15, 4, 12}, {30, 6, 24}};

/* w'(FD dx) along a random (vq, vb, vh) against w'(dense J v), each VJP
 * mode's (dq, db, dh)'v and each JVP mode's w'dx */
START_TEST(test_fd_vectors)
{
    const altdiff_int *sz = fd_sizes[_i];
    dqp d = strict_qp(sz[0], sz[1], sz[2], 100 + (uint64_t)_i);
    altdiff_int n = d.n;
    rng r = {200 + (uint64_t)_i};
    altdiff_settings set = solve_settings(1, TIGHT_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(n), *dx = zeros(n), *Jq = zeros(n * n), *Jb = zeros(n * d.m),
           *Jh = zeros(n * d.p);
    randn(&r, wx, n);
    owned_dir v = random_vector_dir(&d, &r);
    altdiff_direction dir = dir_view(&v);
    verdict V = {0, ""};
    double gv[N_REVERSE], wdx[N_FORWARD];
    for (int k = 0; k < N_REVERSE; k++) { /* derivatives first: UNROLL needs the cold solve */
        grads g = grads_alloc(&d);
        altdiff_deriv_settings ds = dset(reverse_modes[k], DERIV_EPS);
        altdiff_deriv_info info;
        int rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, &info);
        expect(&V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED, "vjp %s: rc %d status %d",
               mode_name(ds.mode), rc, info.status);
        gv[k] = grads_dot(&d, &g, &v);
        grads_free(&g);
    }
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
        altdiff_deriv_info info;
        int rc = altdiff_jvp(w, &ds, &dir, dx, &info);
        expect(&V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED, "jvp %s: rc %d status %d",
               mode_name(ds.mode), rc, info.status);
        wdx[k] = dot(wx, dx, n);
    }
    ck_assert(dense_jacobians(&d, NULL, Jq, Jb, Jh));
    jac_apply(&d, Jq, Jb, Jh, v.q, v.b, v.h, dx);
    double ref = dot(wx, dx, n);
    expect(&V, fd_solution(w, &d, &v, FD_STEP, dx), "a finite-difference solve failed");
    double fd = dot(wx, dx, n), e = rel_scalar(fd, ref);
    printf("[deriv] fd_vectors n=%ld: w'J v = %.6f, FD vs dense %.1e", (long)n, ref, e);
    expect(&V, e <= 1e-5, "FD %.10g vs dense reference %.10g: %.2e", fd, ref, e);
    for (int k = 0; k < N_REVERSE; k++) {
        e = rel_scalar(gv[k], fd);
        printf(", vjp %s %.1e", mode_name(reverse_modes[k]), e);
        expect(&V, e <= 1e-5, "vjp %s: g'v = %.10g vs FD %.10g (%.2e)",
               mode_name(reverse_modes[k]), gv[k], fd, e);
    }
    for (int k = 0; k < N_FORWARD; k++) {
        e = rel_scalar(wdx[k], fd);
        printf(", jvp %s %.1e", mode_name(forward_modes[k]), e);
        expect(&V, e <= 1e-5, "jvp %s: w'dx = %.10g vs FD %.10g (%.2e)",
               mode_name(forward_modes[k]), wdx[k], fd, e);
    }
    printf("\n");
    altdiff_free(w);
    dir_free(&v);
    free(wx);
    free(dx);
    free(Jq);
    free(Jb);
    free(Jh);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* ---- 1. finite differences: matrix parameters ------------------------------- */

/* altdiff_jvp along random matrix directions (values on the patterns) against
 * FD through altdiff_update_matrices */
START_TEST(test_fd_matrix_jvp)
{
    const altdiff_int *sz = fd_sizes[_i];
    dqp d = strict_qp(sz[0], sz[1], sz[2], 300 + (uint64_t)_i);
    altdiff_int n = d.n, nP = d.Pc.p[n], nA = d.Ac.p[n], nG = d.Gc.p[n];
    rng r = {400 + (uint64_t)_i};
    altdiff_settings set = solve_settings(0, TIGHT_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(n), *dx = zeros(n);
    randn(&r, wx, n);
    verdict V = {0, ""};
    printf("[deriv] fd_matrix_jvp n=%ld:", (long)n);
    for (int which = 0; which < 4; which++) { /* P, A, G, all together (with q, b, h) */
        owned_dir v = {NULL, NULL, NULL, NULL, NULL, NULL};
        if (which == 0 || which == 3) randn(&r, v.Px = zeros(nP), nP);
        if (which == 1 || which == 3) randn(&r, v.Ax = zeros(nA), nA);
        if (which == 2 || which == 3) randn(&r, v.Gx = zeros(nG), nG);
        if (which == 3) {
            randn(&r, v.q = zeros(n), n);
            randn(&r, v.b = zeros(d.m), d.m);
            randn(&r, v.h = zeros(d.p), d.p);
        }
        for (altdiff_int k = 0; k < nP && v.Px; k++) v.Px[k] *= 0.1; /* P + t dP stays PD */
        altdiff_direction dir = dir_view(&v);
        double wdx[N_FORWARD];
        for (int k = 0; k < N_FORWARD; k++) {
            altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
            altdiff_deriv_info info;
            int rc = altdiff_jvp(w, &ds, &dir, dx, &info);
            expect(&V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED,
                   "jvp %s (%d): rc %d status %d", mode_name(ds.mode), which, rc, info.status);
            wdx[k] = dot(wx, dx, n);
        }
        expect(&V, fd_solution(w, &d, &v, FD_STEP, dx), "a finite-difference solve failed");
        double fd = dot(wx, dx, n);
        for (int k = 0; k < N_FORWARD; k++) {
            double e = rel_scalar(wdx[k], fd);
            printf(" %s/%s %.1e", which == 0 ? "P" : which == 1 ? "A" : which == 2 ? "G" : "all",
                   mode_name(forward_modes[k]), e);
            expect(&V, e <= 1e-5, "jvp %s along d%s: w'dx = %.10g vs FD %.10g (%.2e)",
                   mode_name(forward_modes[k]),
                   which == 0 ? "P" : which == 1 ? "A" : which == 2 ? "G" : "(all)", wdx[k], fd,
                   e);
        }
        dir_free(&v);
    }
    printf("\n");
    altdiff_free(w);
    free(wx);
    free(dx);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* altdiff_matrix_grads (from the KKT and the GMRES VJP) against FD of
 * L = w'x with respect to single stored entries of P (a stored off-diagonal
 * entry stands for both P_ij and P_ji), A and G (active and inactive rows) */
START_TEST(test_fd_matrix_grads)
{
    dqp d = strict_qp(10, 3, 8, 500);
    altdiff_int n = d.n, nP = d.Pc.p[n], nA = d.Ac.p[n], nG = d.Gc.p[n];
    rng r = {501};
    altdiff_settings set = solve_settings(0, TIGHT_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(n), *dx = zeros(n);
    randn(&r, wx, n);
    verdict V = {0, ""};
    double *gP[2], *gA[2], *gG[2];
    int modes[2] = {ALTDIFF_MODE_KKT, ALTDIFF_MODE_GMRES};
    for (int k = 0; k < 2; k++) {
        grads g = grads_alloc(&d);
        altdiff_deriv_settings ds = dset(modes[k], DERIV_EPS);
        int rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL);
        expect(&V, rc == ALTDIFF_OK, "vjp %s: rc %d", mode_name(modes[k]), rc);
        gP[k] = zeros(nP);
        gA[k] = zeros(nA);
        gG[k] = zeros(nG);
        rc = altdiff_matrix_grads(w, g.q, g.b, g.h, gP[k], gA[k], gG[k]);
        expect(&V, rc == ALTDIFF_OK, "matrix_grads: rc %d", rc);
        grads_free(&g);
    }
    /* entries: P (0,0), (0,1), (3,7); A (0,0), (2,5); G active row 0 and 4,
     * inactive row 1 and 5 */
    struct {
        char mat;
        altdiff_int i, j;
    } ent[] = {{'P', 0, 0}, {'P', 0, 1}, {'P', 3, 7}, {'P', 9, 9}, {'A', 0, 0}, {'A', 2, 5},
               {'G', 0, 3}, {'G', 4, 9}, {'G', 1, 2}, {'G', 5, 0}};
    printf("[deriv] fd_matrix_grads:");
    double worst = 0;
    for (size_t e = 0; e < sizeof(ent) / sizeof(ent[0]); e++) {
        const owned_csc *M = ent[e].mat == 'P' ? &d.Pc : ent[e].mat == 'A' ? &d.Ac : &d.Gc;
        altdiff_int t = entry_index(M, ent[e].i, ent[e].j);
        ck_assert_int_ge(t, 0);
        owned_dir v = {NULL, NULL, NULL, NULL, NULL, NULL};
        double **slot = ent[e].mat == 'P' ? &v.Px : ent[e].mat == 'A' ? &v.Ax : &v.Gx;
        *slot = zeros(M->p[n]);
        (*slot)[t] = 1;
        expect(&V, fd_solution(w, &d, &v, FD_STEP, dx), "a finite-difference solve failed");
        double fd = dot(wx, dx, n);
        for (int k = 0; k < 2; k++) {
            double g = ent[e].mat == 'P' ? gP[k][t] : ent[e].mat == 'A' ? gA[k][t] : gG[k][t];
            double err = rel_scalar(g, fd);
            worst = fmax(worst, err);
            expect(&V, err <= 1e-5, "dL/d%c(%ld,%ld) from %s VJP: %.10g vs FD %.10g (%.2e)",
                   ent[e].mat, (long)ent[e].i, (long)ent[e].j, mode_name(modes[k]), g, fd, err);
        }
        dir_free(&v);
    }
    printf(" worst entry vs FD %.1e", worst);
    double dm = fmax(rel_diff(gP[1], gP[0], nP), fmax(rel_diff(gA[1], gA[0], nA),
                                                        rel_diff(gG[1], gG[0], nG)));
    printf(", GMRES vs KKT all entries %.1e\n", dm);
    expect(&V, dm <= 1e-6, "matrix grads from GMRES vs KKT: %.2e", dm);
    for (int k = 0; k < 2; k++) {
        free(gP[k]);
        free(gA[k]);
        free(gG[k]);
    }
    altdiff_free(w);
    free(wx);
    free(dx);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* P stored in both triangles: each of a pair gets half of the gradient the
 * upper-triangle storage gives, and perturbing both together matches FD */
START_TEST(test_matrix_grads_full_P)
{
    dqp d = strict_qp(8, 2, 6, 600);
    altdiff_int n = d.n;
    rng r = {601};
    owned_csc Pfull = csc_from_dense(d.P, n, n);
    altdiff_problem prob = d.prob;
    prob.P = csc_view(&Pfull);
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_work *wu = setup_solve(&d, &set), *wf = NULL;
    ck_assert_int_eq(altdiff_setup(&wf, &prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(wf), ALTDIFF_OK);
    double *wx = zeros(n), *gPu = zeros(d.Pc.p[n]), *gPf = zeros(Pfull.p[n]);
    randn(&r, wx, n);
    grads g = grads_alloc(&d);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_KKT, DERIV_EPS);
    verdict V = {0, ""};
    expect(&V, altdiff_get_info(wf)->status == ALTDIFF_SOLVED, "full-P solve not solved");
    expect(&V, altdiff_vjp(wu, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_OK, "vjp (upper)");
    expect(&V, altdiff_matrix_grads(wu, g.q, g.b, g.h, gPu, NULL, NULL) == ALTDIFF_OK, "mg");
    expect(&V, altdiff_vjp(wf, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_OK, "vjp (full)");
    expect(&V, altdiff_matrix_grads(wf, g.q, g.b, g.h, gPf, NULL, NULL) == ALTDIFF_OK, "mg");
    double worst = 0;
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int i = 0; i <= j; i++) {
            double u = gPu[entry_index(&d.Pc, i, j)];
            double a = gPf[entry_index(&Pfull, i, j)], b = gPf[entry_index(&Pfull, j, i)];
            double want = i == j ? u : 0.5 * u;
            worst = fmax(worst, fmax(rel_scalar(a, want), rel_scalar(b, want)));
        }
    printf("[deriv] full-storage P: pair halves vs upper storage %.1e\n", worst);
    expect(&V, worst <= 1e-9, "full-storage P gradients vs half the upper ones: %.2e", worst);
    altdiff_free(wf);
    altdiff_free(wu);
    grads_free(&g);
    free(wx);
    free(gPu);
    free(gPf);
    free_csc(&Pfull);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* ---- 2. forward/reverse identity ------------------------------------------ */

static const altdiff_int id_sizes[][3] = {{8, 2, 6}, {20, 5, 16}, {30, 0, 30}, {25, 8, 0}};

/* w'(J v) from ALTDIFF and KKT jvp = (J'w)'v from ADJOINT, GMRES, UNROLL and
 * KKT vjp, at derivative eps 1e-10 */
START_TEST(test_identity)
{
    const altdiff_int *sz = id_sizes[_i];
    dqp d = strict_qp(sz[0], sz[1], sz[2], 700 + (uint64_t)_i);
    altdiff_int n = d.n;
    rng r = {800 + (uint64_t)_i};
    altdiff_settings set = solve_settings(1, TIGHT_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(n), *dx = zeros(n);
    randn(&r, wx, n);
    owned_dir v = random_vector_dir(&d, &r);
    altdiff_direction dir = dir_view(&v);
    verdict V = {0, ""};
    int rev[4] = {ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_GMRES, ALTDIFF_MODE_UNROLL, ALTDIFF_MODE_KKT};
    double gv[4], wdx[N_FORWARD];
    for (int k = 0; k < 4; k++) {
        grads g = grads_alloc(&d);
        altdiff_deriv_settings ds = dset(rev[k], DERIV_EPS);
        int rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL);
        expect(&V, rc == ALTDIFF_OK, "vjp %s: rc %d", mode_name(rev[k]), rc);
        gv[k] = grads_dot(&d, &g, &v);
        grads_free(&g);
    }
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
        int rc = altdiff_jvp(w, &ds, &dir, dx, NULL);
        expect(&V, rc == ALTDIFF_OK, "jvp %s: rc %d", mode_name(forward_modes[k]), rc);
        wdx[k] = dot(wx, dx, n);
    }
    printf("[deriv] identity n=%ld m=%ld p=%ld:", (long)n, (long)d.m, (long)d.p);
    for (int f = 0; f < N_FORWARD; f++)
        for (int k = 0; k < 4; k++) {
            double e = fabs(wdx[f] - gv[k]) / fmax(fabs(gv[k]), 1e-300);
            printf(" %s/%s %.1e", mode_name(forward_modes[f]), mode_name(rev[k]), e);
            expect(&V, e <= 1e-8, "w'(J v) by %s = %.15g vs (J'w)'v by %s = %.15g: %.2e",
                   mode_name(forward_modes[f]), wdx[f], mode_name(rev[k]), gv[k], e);
        }
    printf("\n");
    altdiff_free(w);
    dir_free(&v);
    free(wx);
    free(dx);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* ---- 3. every mode against KKT (and the dense reference) ----------------- */

START_TEST(test_against_kkt)
{
    const altdiff_int *sz = fd_sizes[_i];
    dqp d = strict_qp(sz[0], sz[1], sz[2], 900 + (uint64_t)_i);
    altdiff_int n = d.n, cols[3] = {n, d.m, d.p};
    rng r = {950 + (uint64_t)_i};
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *Jref[3] = {zeros(n * n), zeros(n * d.m), zeros(n * d.p)};
    ck_assert(dense_jacobians(&d, NULL, Jref[0], Jref[1], Jref[2]));
    verdict V = {0, ""};
    printf("[deriv] against_kkt n=%ld:", (long)n);
    for (int wrt = ALTDIFF_WRT_Q; wrt <= ALTDIFF_WRT_H; wrt++) {
        double *Ja = zeros(n * cols[wrt]), *Jk = zeros(n * cols[wrt]);
        altdiff_deriv_settings da = dset(ALTDIFF_MODE_ALTDIFF, DERIV_EPS),
                               dk = dset(ALTDIFF_MODE_KKT, DERIV_EPS);
        altdiff_deriv_info ia, ik;
        int ra = altdiff_jacobian(w, &da, wrt, Ja, n, &ia),
            rk = altdiff_jacobian(w, &dk, wrt, Jk, n, &ik);
        expect(&V, ra == ALTDIFF_OK && rk == ALTDIFF_OK && ia.status == ALTDIFF_SOLVED,
               "jacobian %d: rc %d/%d status %d", wrt, ra, rk, ia.status);
        expect(&V, ik.active == (d.p + 1) / 2, "KKT active rows %ld, expected %ld",
               (long)ik.active, (long)(d.p + 1) / 2);
        expect(&V, ik.weakly_active == 0, "weakly active rows %ld", (long)ik.weakly_active);
        double eak = rel_diff(Ja, Jk, n * cols[wrt]), ekr = rel_diff(Jk, Jref[wrt], n * cols[wrt]);
        printf(" J%c: ALTDIFF-KKT %.1e KKT-dense %.1e;", "qbh"[wrt], eak, ekr);
        expect(&V, eak <= 1e-7, "Jacobian %c: ALTDIFF vs KKT %.2e", "qbh"[wrt], eak);
        expect(&V, ekr <= 1e-7, "Jacobian %c: KKT vs dense reference %.2e", "qbh"[wrt], ekr);
        free(Ja);
        free(Jk);
    }
    double *wx = zeros(n);
    randn(&r, wx, n);
    grads gk = grads_alloc(&d);
    altdiff_deriv_settings dk = dset(ALTDIFF_MODE_KKT, DERIV_EPS);
    expect(&V, altdiff_vjp(w, &dk, wx, gk.q, gk.b, gk.h, NULL) == ALTDIFF_OK, "vjp KKT");
    for (int k = 0; k < N_REVERSE - 1; k++) {
        grads g = grads_alloc(&d);
        altdiff_deriv_settings ds = dset(reverse_modes[k], DERIV_EPS);
        int rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL);
        double e = grads_rel_diff(&d, &g, &gk);
        printf(" vjp %s-KKT %.1e", mode_name(ds.mode), e);
        expect(&V, rc == ALTDIFF_OK && e <= 1e-7, "vjp %s vs KKT: rc %d, %.2e",
               mode_name(ds.mode), rc, e);
        grads_free(&g);
    }
    printf("\n");
    grads_free(&gk);
    free(wx);
    for (int k = 0; k < 3; k++) free(Jref[k]);
    altdiff_free(w);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* ---- 4. closed forms --------------------------------------------------------- */

/* Both Jacobian modes against Jexp (n x cols) */
static void check_jacobian(verdict *V, altdiff_work *w, int wrt, altdiff_int n, altdiff_int cols,
                           const double *Jexp, double tol, const char *what)
{
    double *J = zeros(n * cols);
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
        altdiff_deriv_info info;
        int rc = altdiff_jacobian(w, &ds, wrt, J, n, &info);
        double e = rel_diff(J, Jexp, n * cols);
        printf("[deriv] %s: J%c by %s %.1e\n", what, "qbh"[wrt], mode_name(ds.mode), e);
        expect(V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED && e <= tol,
               "%s: Jacobian %c by %s: rc %d status %d, error %.2e", what, "qbh"[wrt],
               mode_name(ds.mode), rc, info.status, e);
    }
    free(J);
}

/* Every reverse mode against gq = Jq' wx (wx: e_0 + 2 e_{n-1}) */
static void check_vjp_q(verdict *V, altdiff_work *w, const dqp *d, const double *Jq_exp,
                        double tol, const char *what)
{
    altdiff_int n = d->n;
    double *wx = zeros(n), *gexp = zeros(n);
    wx[0] = 1;
    wx[n - 1] += 2;
    for (altdiff_int c = 0; c < n; c++) gexp[c] = dot(Jq_exp + c * n, wx, n);
    for (int k = 0; k < N_REVERSE; k++) {
        grads g = grads_alloc(d);
        altdiff_deriv_settings ds = dset(reverse_modes[k], DERIV_EPS);
        int rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL);
        double e = rel_diff(g.q, gexp, n);
        expect(V, rc == ALTDIFF_OK && e <= tol, "%s: vjp %s dq: rc %d, error %.2e", what,
               mode_name(ds.mode), rc, e);
        grads_free(&g);
    }
    free(wx);
    free(gexp);
}

/* min 1/2 |x|^2 + q'x s.t. x1 + x2 = b1 and x1 + x2 = b2 (the same row twice,
 * b1 = b2 = 1): K is singular, and moving b1 alone leaves the range of K.
 * The KKT mode keeps the part of db in the range (the least-squares
 * projection): dx/db1 = dx/db2 = (1/4, 1/4, 0), half of d x / d b = (1/2,
 * 1/2, 0). This takes its fallback from the augmented-Lagrangian inner
 * solve (which cannot converge on an inconsistent system) to the LDL'. The
 * consistent VJP stays on the augmented Lagrangian: dL/db1 = dL/db2. */
START_TEST(test_kkt_dependent_rows)
{
    dqp d = dqp_alloc(3, 2, 0);
    double q[] = {1, -2, 0.5};
    for (int j = 0; j < 3; j++) {
        d.P[j + 3 * j] = 1;
        d.q[j] = q[j];
    }
    d.A[0] = d.A[1] = d.A[2] = d.A[3] = 1; /* rows (1, 1, 0) twice */
    d.b[0] = d.b[1] = 1;
    dqp_finish(&d);
    altdiff_settings set = solve_settings(0, 1e-10);
    altdiff_work *w = setup_solve(&d, &set);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_KKT, 1e-10);
    double J[6], wx[3] = {1, 0.5, -1}, gq[3], gb[2];
    ck_assert_int_eq(altdiff_jacobian(w, &ds, ALTDIFF_WRT_B, J, 3, NULL), ALTDIFF_OK);
    double expect_col[] = {0.25, 0.25, 0};
    for (int c = 0; c < 2; c++)
        for (int j = 0; j < 3; j++) ck_assert_double_eq_tol(J[j + 3 * c], expect_col[j], 1e-6);
    ck_assert_int_eq(altdiff_vjp(w, &ds, wx, gq, gb, NULL, NULL), ALTDIFF_OK);
    ck_assert_double_eq_tol(gb[0], 0.5 * (0.5 * wx[0] + 0.5 * wx[1]), 1e-8); /* w'dx/db1 */
    ck_assert_double_eq_tol(gb[1], gb[0], 1e-8);
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* The recursion alongside the iterations (altdiff_solve_jvp, from a cold
 * start) gives the KKT mode's JVP, and the same x as a plain solve without
 * Anderson acceleration (solve_jvp follows the plain map) */
START_TEST(test_solve_jvp)
{
    dqp d = strict_qp(20, 4, 16, 1700);
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    set.anderson = 0;
    set.polish = 0; /* solve_jvp does not polish: compare the same iterates */
    altdiff_work *w = setup_solve(&d, &set), *w2 = NULL;
    rng r = {1701};
    double *vq = zeros(20), *vb = zeros(4), *vh = zeros(16), *dx = zeros(20), *ref = zeros(20);
    double *x = zeros(20), *x2 = zeros(20);
    for (int j = 0; j < 20; j++) vq[j] = rng_normal(&r);
    for (int j = 0; j < 4; j++) vb[j] = rng_normal(&r);
    for (int j = 0; j < 16; j++) vh[j] = rng_normal(&r);
    altdiff_direction dir = {vq, vb, vh, NULL, NULL, NULL, NULL};
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    ds.mode = ALTDIFF_MODE_KKT;
    ck_assert_int_eq(altdiff_jvp(w, &ds, &dir, ref, NULL), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_solution(w, x, NULL, NULL, NULL), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_setup(&w2, &d.prob, &set), ALTDIFF_OK);
    altdiff_deriv_info info;
    ck_assert_int_eq(altdiff_solve_jvp(w2, &dir, dx, &info), ALTDIFF_OK);
    ck_assert_int_eq(info.status, ALTDIFF_SOLVED);
    ck_assert_int_eq(altdiff_get_solution(w2, x2, NULL, NULL, NULL), ALTDIFF_OK);
    double err = 0, scale = 0;
    for (int j = 0; j < 20; j++) {
        err = fmax(err, fabs(dx[j] - ref[j]));
        scale = fmax(scale, fabs(ref[j]));
        ck_assert(x2[j] == x[j]); /* the tangent does not change the iterates */
    }
    printf("[deriv] solve_jvp vs KKT jvp: %.2e relative (%ld iterations)\n", err / scale,
           (long)info.iter);
    ck_assert_msg(err <= 1e-6 * scale, "solve_jvp error %g", err / scale);
    altdiff_direction bad = {vq, NULL, NULL, d.Pc.x, NULL, NULL, NULL}; /* matrix: not here */
    ck_assert_int_eq(altdiff_solve_jvp(w2, &bad, dx, NULL), ALTDIFF_ERR_INVALID);
    altdiff_free(w);
    altdiff_free(w2);
    double *bufs[] = {vq, vb, vh, dx, ref, x, x2};
    for (int k = 0; k < 7; k++) free(bufs[k]);
    dqp_free(&d);
}
END_TEST

/* The chosen default mode is a valid mode of the right kind, and works */
START_TEST(test_fastest_mode)
{
    dqp d = strict_qp(20, 4, 16, 1750);
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    int vjp = altdiff_fastest_mode(w, 0), jac = altdiff_fastest_mode(w, 20);
    ck_assert(vjp == ALTDIFF_MODE_GMRES || vjp == ALTDIFF_MODE_KKT);
    ck_assert(jac == ALTDIFF_MODE_ALTDIFF || jac == ALTDIFF_MODE_KKT);
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    double *wx = zeros(20), *g = zeros(40), *J = zeros(400), *Jk = zeros(400);
    wx[3] = 1;
    ds.mode = vjp;
    ck_assert_int_eq(altdiff_vjp(w, &ds, wx, g, g + 20, g + 24, NULL), ALTDIFF_OK);
    ds.mode = jac;
    ck_assert_int_eq(altdiff_jacobian(w, &ds, ALTDIFF_WRT_Q, J, 20, NULL), ALTDIFF_OK);
    ds.mode = ALTDIFF_MODE_KKT;
    ck_assert_int_eq(altdiff_jacobian(w, &ds, ALTDIFF_WRT_Q, Jk, 20, NULL), ALTDIFF_OK);
    for (int k = 0; k < 400; k++) ck_assert_double_eq_tol(J[k], Jk[k], 1e-6);
    for (int j = 0; j < 20; j++) ck_assert_double_eq_tol(g[j], Jk[3 + j * 20], 1e-6); /* dq = J'e_3 */
    altdiff_free(w);
    free(wx);
    free(g);
    free(J);
    free(Jk);
    dqp_free(&d);
}
END_TEST

START_TEST(test_unconstrained)
{
    altdiff_int n = 10;
    dqp d = strict_qp(n, 0, 0, 1000);
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *Pinv = zeros(n * n), *M = zeros(n * n);
    for (altdiff_int c = 0; c < n; c++) { /* column c of -P^-1 */
        memcpy(M, d.P, sizeof(double) * (size_t)(n * n));
        Pinv[c + c * n] = -1;
        ck_assert(dense_solve(n, M, Pinv + c * n));
    }
    verdict V = {0, ""};
    check_jacobian(&V, w, ALTDIFF_WRT_Q, n, n, Pinv, 1e-8, "unconstrained dx/dq = -P^-1");
    check_vjp_q(&V, w, &d, Pinv, 1e-8, "unconstrained");
    altdiff_free(w);
    free(Pinv);
    free(M);
    dqp_free(&d);
    finish(&V);
}
END_TEST

START_TEST(test_equality_only)
{
    altdiff_int n = 12, m = 4;
    dqp d = strict_qp(n, m, 0, 1100);
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *Jq = zeros(n * n), *Jb = zeros(n * m);
    ck_assert(dense_jacobians(&d, NULL, Jq, Jb, NULL)); /* [P A'; A 0] */
    verdict V = {0, ""};
    check_jacobian(&V, w, ALTDIFF_WRT_Q, n, n, Jq, 1e-8, "equality-only (dense KKT)");
    check_jacobian(&V, w, ALTDIFF_WRT_B, n, m, Jb, 1e-8, "equality-only (dense KKT)");
    check_vjp_q(&V, w, &d, Jq, 1e-8, "equality-only");
    /* A dx/db = I and A dx/dq = 0: the constraints keep holding */
    double e = 0;
    for (altdiff_int i = 0; i < m; i++)
        for (altdiff_int c = 0; c < m; c++) {
            double t = 0;
            for (altdiff_int j = 0; j < n; j++) t += d.A[i + j * m] * Jb[j + c * n];
            e = fmax(e, fabs(t - (i == c)));
        }
    expect(&V, e <= 1e-10, "A dx/db - I: %.2e", e);
    altdiff_free(w);
    free(Jq);
    free(Jb);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* Projection onto the box [-1, 1]^n: P = I, q = -y, G = [I; -I], h = [u; -l] */
START_TEST(test_box_projection)
{
    altdiff_int n = 12, p = 2 * n;
    dqp d = dqp_alloc(n, 0, p);
    rng r = {1200};
    double *Jq = zeros(n * n), *Jh = zeros(n * p);
    for (altdiff_int j = 0; j < n; j++) {
        double y = j % 3 == 0 ? rng_unif(&r) - 0.5           /* free       */
                   : j % 3 == 1 ? 1.5 + 0.5 * rng_unif(&r)   /* clipped at u */
                                : -1.5 - 0.5 * rng_unif(&r); /* clipped at l */
        d.P[j + j * n] = 1;
        d.q[j] = -y;
        d.G[j + j * p] = 1;
        d.G[n + j + j * p] = -1;
        d.h[j] = 1;
        d.h[n + j] = 1;
        Jq[j + j * n] = j % 3 == 0 ? -1 : 0;      /* dx/dq = -diag(free)        */
        if (j % 3 == 1) Jh[j + j * n] = 1;        /* x_j = u_j = h_j            */
        if (j % 3 == 2) Jh[j + (n + j) * n] = -1; /* x_j = l_j = -h_{n+j}       */
    }
    dqp_finish(&d);
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    verdict V = {0, ""};
    check_jacobian(&V, w, ALTDIFF_WRT_Q, n, n, Jq, 1e-8, "box dx/dq = -diag(free)");
    check_jacobian(&V, w, ALTDIFF_WRT_H, n, p, Jh, 1e-8, "box dx/dh");
    check_vjp_q(&V, w, &d, Jq, 1e-8, "box");
    altdiff_free(w);
    free(Jq);
    free(Jh);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* Sparsemax: the projection onto the simplex, P = I, q = -y, A = 1', b = 1,
 * G = -I, h = 0; x = max(y - tau, 0) with support S (n = 10, and n = 300,
 * where the budget row is dense enough to be kept out of the factor and
 * applied by the Woodbury identity, src/lowrank.c):
 *     dx/dy = -dx/dq = diag(s) - s s'/|S|,  dx/db = s/|S|,
 *     dx/dh_i = -e_i + s/|S| (i off the support), 0 on it */
START_TEST(test_sparsemax)
{
    altdiff_int n = _i == 0 ? 10 : 300, p = n, S = 0;
    dqp d = dqp_alloc(n, 1, p);
    rng r = {1300};
    double tau = 0.3, *xs = zeros(n), *sup = zeros(n), sum = 0;
    for (altdiff_int j = 0; j < n; j++)
        if (j % 3 == 0) {
            sup[j] = 1;
            xs[j] = 0.5 + rng_unif(&r);
            sum += xs[j];
            S++;
        }
    for (altdiff_int j = 0; j < n; j++) {
        double y = sup[j] ? xs[j] / sum + tau : tau - 0.3 - rng_unif(&r); /* margin 0.3 */
        d.P[j + j * n] = 1;
        d.q[j] = -y;
        d.A[j] = 1;
        d.G[j + j * p] = -1;
    }
    d.b[0] = 1;
    dqp_finish(&d);
    double *Jq = zeros(n * n), *Jb = zeros(n), *Jh = zeros(n * p);
    for (altdiff_int i = 0; i < n; i++) {
        Jb[i] = sup[i] / (double)S;
        for (altdiff_int j = 0; j < n; j++) {
            Jq[i + j * n] = -((i == j ? sup[i] : 0) - sup[i] * sup[j] / (double)S);
            if (!sup[j]) Jh[i + j * n] = (i == j ? -1 : 0) + sup[i] / (double)S;
        }
    }
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *x = zeros(n);
    ck_assert_int_eq(altdiff_get_solution(w, x, NULL, NULL, NULL), ALTDIFF_OK);
    verdict V = {0, ""};
    for (altdiff_int j = 0; j < n; j++)
        expect(&V, fabs(x[j] - (sup[j] ? xs[j] / sum : 0)) <= 1e-8, "sparsemax x[%ld] = %g",
               (long)j, x[j]);
    check_jacobian(&V, w, ALTDIFF_WRT_Q, n, n, Jq, 1e-8, "sparsemax dx/dq");
    check_jacobian(&V, w, ALTDIFF_WRT_B, n, 1, Jb, 1e-8, "sparsemax dx/db");
    check_jacobian(&V, w, ALTDIFF_WRT_H, n, p, Jh, 1e-8, "sparsemax dx/dh");
    check_vjp_q(&V, w, &d, Jq, 1e-8, "sparsemax");
    altdiff_free(w);
    free(x);
    free(xs);
    free(sup);
    free(Jq);
    free(Jb);
    free(Jh);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* ---- 5. degenerate and redundant cases ---------------------------------------- */

/* Row 7 weakly active (nu = 0 and slack 0): reported by the KKT mode; the KKT
 * Jacobian is one of the two one-sided ones (row 7 in or out of the active
 * set); every mode returns finite values */
START_TEST(test_weakly_active)
{
    dqp d = random_data(12, 2, 8, 1400);
    altdiff_int n = d.n, p = d.p;
    d.s[7] = 0; /* nu[7] = 0 already: odd row */
    dqp_from_solution(&d);
    dqp_finish(&d);
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    int *act = calloc((size_t)p, sizeof(int));
    double *Jin = zeros(n * n), *Jout = zeros(n * n), *J = zeros(n * n), *wx = zeros(n);
    for (altdiff_int k = 0; k < p; k++) act[k] = d.nu[k] > 0;
    ck_assert(dense_jacobians(&d, act, Jout, NULL, NULL));
    act[7] = 1;
    ck_assert(dense_jacobians(&d, act, Jin, NULL, NULL));
    verdict V = {0, ""};
    altdiff_deriv_settings dk = dset(ALTDIFF_MODE_KKT, DERIV_EPS);
    altdiff_deriv_info info;
    int rc = altdiff_jacobian(w, &dk, ALTDIFF_WRT_Q, J, n, &info);
    double ein = rel_diff(J, Jin, n * n), eout = rel_diff(J, Jout, n * n);
    printf("[deriv] weakly active: reported %ld, active %ld, KKT J vs one-sided %.1e / %.1e\n",
           (long)info.weakly_active, (long)info.active, ein, eout);
    expect(&V, rc == ALTDIFF_OK, "KKT jacobian rc %d", rc);
    expect(&V, info.weakly_active == 1, "weakly_active = %ld, expected 1",
           (long)info.weakly_active);
    expect(&V, fmin(ein, eout) <= 1e-6, "KKT Jacobian is neither one-sided one: %.2e %.2e", ein,
           eout);
    wx[0] = 1;
    for (int k = 0; k < N_REVERSE; k++) {
        grads g = grads_alloc(&d);
        altdiff_deriv_settings ds = dset(reverse_modes[k], 1e-8);
        rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, &info);
        expect(&V, rc == ALTDIFF_OK && grads_finite(&d, &g) &&
                       (info.status == ALTDIFF_SOLVED || info.status == ALTDIFF_MAX_ITER),
               "vjp %s at a weakly active row: rc %d status %d", mode_name(ds.mode), rc,
               info.status);
        grads_free(&g);
    }
    altdiff_free(w);
    free(act);
    free(Jin);
    free(Jout);
    free(J);
    free(wx);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* Equality row 3 duplicates row 0 (consistent b): K is singular. The KKT mode
 * returns an error or finite values consistent with FD along directions that
 * keep b consistent; the iterative modes report their status honestly */
START_TEST(test_duplicated_equalities)
{
    dqp d = random_data(12, 4, 8, 1500);
    altdiff_int n = d.n, m = d.m;
    for (altdiff_int j = 0; j < n; j++) d.A[3 + j * m] = d.A[0 + j * m];
    d.lam[3] = 0;
    dqp_from_solution(&d);
    dqp_finish(&d);
    rng r = {1501};
    altdiff_settings set = solve_settings(1, TIGHT_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(n), *dx = zeros(n);
    randn(&r, wx, n);
    owned_dir v = random_vector_dir(&d, &r);
    v.b[3] = v.b[0];
    altdiff_direction dir = dir_view(&v);
    verdict V = {0, ""};
    /* derivatives first (UNROLL: the cold solve), FD last */
    double gv[N_REVERSE], wdx[N_FORWARD];
    int rcs[N_REVERSE], sts[N_REVERSE], frc[N_FORWARD], fst[N_FORWARD];
    double res[N_REVERSE], gv3[N_REVERSE];
    int rcs3[N_REVERSE], sts3[N_REVERSE];
    for (int k = 0; k < N_REVERSE; k++) {
        grads g = grads_alloc(&d);
        altdiff_deriv_settings ds = dset(reverse_modes[k], 1e-9);
        altdiff_deriv_info info;
        rcs[k] = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, &info);
        sts[k] = info.status;
        res[k] = info.residual;
        gv[k] = grads_dot(&d, &g, &v);
        if (rcs[k] == ALTDIFF_OK)
            expect(&V, grads_finite(&d, &g), "vjp %s: not finite", mode_name(ds.mode));
        else
            expect(&V, rcs[k] < 0, "vjp %s: rc %d", mode_name(ds.mode), rcs[k]);
        grads_free(&g);
        /* honest status with a tiny iteration budget: SOLVED exactly when the
         * residual is below eps, and then right (checked against FD below) */
        ds.max_iter = 3;
        grads g3 = grads_alloc(&d);
        rcs3[k] = altdiff_vjp(w, &ds, wx, g3.q, g3.b, g3.h, &info);
        sts3[k] = info.status;
        gv3[k] = grads_dot(&d, &g3, &v);
        if (ds.mode != ALTDIFF_MODE_UNROLL && ds.mode != ALTDIFF_MODE_KKT)
            expect(&V, rcs3[k] == ALTDIFF_OK && grads_finite(&d, &g3) &&
                           (info.status == ALTDIFF_SOLVED) == (info.residual <= ds.eps) &&
                           (info.status == ALTDIFF_SOLVED || info.status == ALTDIFF_MAX_ITER),
                   "vjp %s, max_iter 3: rc %d status %d residual %g (eps %g)",
                   mode_name(ds.mode), rcs3[k], info.status, info.residual, ds.eps);
        grads_free(&g3);
    }
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_deriv_settings ds = dset(forward_modes[k], 1e-9);
        altdiff_deriv_info info;
        frc[k] = altdiff_jvp(w, &ds, &dir, dx, &info);
        fst[k] = info.status;
        wdx[k] = dot(wx, dx, n);
        if (frc[k] == ALTDIFF_OK)
            expect(&V, all_finite(dx, n), "jvp %s not finite", mode_name(forward_modes[k]));
    }
    expect(&V, fd_solution(w, &d, &v, FD_STEP, dx), "a finite-difference solve failed");
    double fd = dot(wx, dx, n);
    printf("[deriv] duplicated equalities: FD %.6f;", fd);
    for (int k = 0; k < N_REVERSE; k++) {
        double e = rel_scalar(gv[k], fd);
        printf(" vjp %s rc %d status %d res %.1e err %.1e;", mode_name(reverse_modes[k]), rcs[k],
               sts[k], res[k], e);
        if (rcs3[k] == ALTDIFF_OK && sts3[k] == ALTDIFF_SOLVED)
            expect(&V, rel_scalar(gv3[k], fd) <= 1e-5,
                   "vjp %s with max_iter 3 claims SOLVED but g'v = %.10g vs FD %.10g",
                   mode_name(reverse_modes[k]), gv3[k], fd);
        if (rcs[k] != ALTDIFF_OK) continue;
        if (sts[k] == ALTDIFF_SOLVED) /* a claimed convergence must be right */
            expect(&V, e <= 1e-5, "vjp %s claims SOLVED (residual %g) but g'v = %.10g vs FD %.10g",
                   mode_name(reverse_modes[k]), res[k], gv[k], fd);
        else
            expect(&V, sts[k] == ALTDIFF_MAX_ITER && res[k] > 1e-9,
                   "vjp %s status %d residual %g", mode_name(reverse_modes[k]), sts[k], res[k]);
    }
    for (int k = 0; k < N_FORWARD; k++) {
        double e = rel_scalar(wdx[k], fd);
        printf(" jvp %s rc %d status %d err %.1e;", mode_name(forward_modes[k]), frc[k], fst[k], e);
        if (frc[k] == ALTDIFF_OK && fst[k] == ALTDIFF_SOLVED)
            expect(&V, e <= 1e-5, "jvp %s claims SOLVED but w'dx = %.10g vs FD %.10g",
                   mode_name(forward_modes[k]), wdx[k], fd);
    }
    printf("\n");
    altdiff_free(w);
    dir_free(&v);
    free(wx);
    free(dx);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* The iteration limit of the iterative modes is honoured and reported:
 * max_iter = 3 on a regular problem gives status MAX_ITER, at most 3
 * iterations, a residual above eps and finite values (GMRES also with a
 * restart length above max_iter, and max_iter = 10 with restart 8) */
START_TEST(test_max_iter)
{
    dqp d = strict_qp(15, 4, 12, 1550);
    altdiff_int n = d.n;
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(n), *J = zeros(n * n);
    wx[2] = 1;
    owned_dir v = random_vector_dir(&d, &(rng){1551});
    altdiff_direction dir = dir_view(&v);
    verdict V = {0, ""};
    struct {
        int mode, call; /* call 0: vjp, 1: jvp, 2: jacobian */
        altdiff_int max_iter, restart;
    } cases[] = {{ALTDIFF_MODE_ADJOINT, 0, 3, 30}, {ALTDIFF_MODE_GMRES, 0, 3, 30},
                 {ALTDIFF_MODE_GMRES, 0, 3, 2},    {ALTDIFF_MODE_GMRES, 0, 10, 8},
                 {ALTDIFF_MODE_ALTDIFF, 0, 3, 30}, {ALTDIFF_MODE_ALTDIFF, 1, 3, 30},
                 {ALTDIFF_MODE_ALTDIFF, 2, 3, 30}};
    printf("[deriv] max_iter:");
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        altdiff_deriv_settings ds = dset(cases[c].mode, 1e-12);
        ds.max_iter = cases[c].max_iter;
        ds.restart = cases[c].restart;
        altdiff_deriv_info info;
        grads g = grads_alloc(&d);
        int rc = cases[c].call == 0   ? altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, &info)
                 : cases[c].call == 1 ? altdiff_jvp(w, &ds, &dir, J, &info)
                                      : altdiff_jacobian(w, &ds, ALTDIFF_WRT_Q, J, n, &info);
        int finite = cases[c].call == 0 ? grads_finite(&d, &g) : all_finite(J, n);
        grads_free(&g);
        printf(" %s/%d (max_iter %ld, restart %ld): iter %ld status %d residual %.1e;",
               mode_name(ds.mode), cases[c].call, (long)ds.max_iter, (long)ds.restart,
               (long)info.iter, info.status, info.residual);
        expect(&V, rc == ALTDIFF_OK && finite, "%s call %d: rc %d, finite %d",
               mode_name(ds.mode), cases[c].call, rc, finite);
        expect(&V, info.iter <= ds.max_iter,
               "%s (call %d, restart %ld): %ld iterations with max_iter = %ld",
               mode_name(ds.mode), cases[c].call, (long)ds.restart, (long)info.iter,
               (long)ds.max_iter);
        expect(&V, info.status == ALTDIFF_MAX_ITER && info.residual > ds.eps,
               "%s (call %d): status %d, residual %g after %ld iterations (max_iter %ld)",
               mode_name(ds.mode), cases[c].call, info.status, info.residual,
               (long)info.iter, (long)ds.max_iter);
    }
    printf("\n");
    altdiff_free(w);
    dir_free(&v);
    free(wx);
    free(J);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* Derivatives need a successful solve: none yet, or one that hit max_iter */
START_TEST(test_not_solved)
{
    dqp d = strict_qp(8, 2, 6, 1600);
    altdiff_int n = d.n;
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_OK);
    double *wx = zeros(n), *J = zeros(n * n), *gP = zeros(d.Pc.p[n]);
    wx[0] = 1;
    grads g = grads_alloc(&d);
    owned_dir v = random_vector_dir(&d, &(rng){1601});
    altdiff_direction dir = dir_view(&v);
    verdict V = {0, ""};
    for (int round = 0; round < 2; round++) {
        for (int mode = ALTDIFF_MODE_ADJOINT; mode <= ALTDIFF_MODE_KKT; mode++) {
            altdiff_deriv_settings ds = dset(mode, DERIV_EPS);
            int rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL);
            expect(&V, rc == ALTDIFF_ERR_NOT_SOLVED, "round %d vjp %s: rc %d", round,
                   mode_name(mode), rc);
        }
        for (int k = 0; k < N_FORWARD; k++) {
            altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
            int rc = altdiff_jvp(w, &ds, &dir, J, NULL);
            expect(&V, rc == ALTDIFF_ERR_NOT_SOLVED, "round %d jvp: rc %d", round, rc);
            rc = altdiff_jacobian(w, &ds, ALTDIFF_WRT_Q, J, n, NULL);
            expect(&V, rc == ALTDIFF_ERR_NOT_SOLVED, "round %d jacobian: rc %d", round, rc);
        }
        int rc = altdiff_matrix_grads(w, g.q, g.b, g.h, gP, NULL, NULL);
        expect(&V, rc == ALTDIFF_ERR_NOT_SOLVED, "round %d matrix_grads: rc %d", round, rc);
        altdiff_free(w); /* second round: a solve stopped by max_iter */
        w = NULL;
        set.max_iter = 2;
        set.check_every = 1;
        ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_OK);
        ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
        expect(&V, altdiff_get_info(w)->status == ALTDIFF_MAX_ITER, "status %d",
               altdiff_get_info(w)->status);
    }
    altdiff_free(w);
    grads_free(&g);
    dir_free(&v);
    free(wx);
    free(J);
    free(gP);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* UNROLL needs settings.record = 1 at the solve; the other modes do not */
START_TEST(test_unroll_without_record)
{
    dqp d = strict_qp(8, 2, 6, 1700);
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(d.n);
    wx[1] = 1;
    grads g = grads_alloc(&d);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_UNROLL, DERIV_EPS);
    int rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL);
    ds.mode = ALTDIFF_MODE_GMRES;
    int rc2 = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL);
    altdiff_free(w);
    grads_free(&g);
    free(wx);
    dqp_free(&d);
    ck_assert_int_eq(rc, ALTDIFF_ERR_NOT_SOLVED);
    ck_assert_int_eq(rc2, ALTDIFF_OK);
}
END_TEST

/* Bad derivative settings, bad arguments, NaN/Inf cotangents and directions */
START_TEST(test_invalid)
{
    dqp d = strict_qp(8, 2, 6, 1800);
    altdiff_int n = d.n;
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(n), *J = zeros(n * n);
    wx[0] = 1;
    grads g = grads_alloc(&d);
    owned_dir v = random_vector_dir(&d, &(rng){1801});
    altdiff_direction dir = dir_view(&v);
    verdict V = {0, ""};
    for (int mode = ALTDIFF_MODE_ADJOINT; mode <= ALTDIFF_MODE_KKT; mode++) {
        double bad_eps[] = {0, -1e-6, NAN};
        for (int k = 0; k < 3; k++) {
            altdiff_deriv_settings ds = dset(mode, bad_eps[k]);
            expect(&V, altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID,
                   "vjp %s eps %g", mode_name(mode), bad_eps[k]);
            expect(&V, altdiff_jvp(w, &ds, &dir, J, NULL) == ALTDIFF_ERR_INVALID,
                   "jvp %s eps %g", mode_name(mode), bad_eps[k]);
            expect(&V, altdiff_jacobian(w, &ds, ALTDIFF_WRT_Q, J, n, NULL) == ALTDIFF_ERR_INVALID,
                   "jacobian %s eps %g", mode_name(mode), bad_eps[k]);
        }
        altdiff_deriv_settings ds = dset(mode, DERIV_EPS);
        ds.max_iter = 0;
        expect(&V, altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID,
               "max_iter 0");
        ds = dset(mode, DERIV_EPS);
        ds.restart = 0;
        expect(&V, altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID,
               "restart 0");
        ds = dset(mode, DERIV_EPS);
        ds.block = -1;
        expect(&V, altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID,
               "block -1");
        ds = dset(mode, DERIV_EPS);
        double bad_w[] = {NAN, INFINITY};
        for (int k = 0; k < 2; k++) {
            wx[3] = bad_w[k];
            expect(&V, altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID,
                   "vjp %s with w[3] = %g", mode_name(mode), bad_w[k]);
        }
        wx[3] = 0;
        expect(&V, altdiff_vjp(w, &ds, NULL, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID,
               "vjp %s with w NULL", mode_name(mode));
        int fwd = mode == ALTDIFF_MODE_ALTDIFF || mode == ALTDIFF_MODE_KKT;
        int rc = altdiff_jvp(w, &ds, &dir, J, NULL);
        expect(&V, fwd ? rc == ALTDIFF_OK : rc == ALTDIFF_ERR_INVALID, "jvp %s: rc %d",
               mode_name(mode), rc);
        rc = altdiff_jacobian(w, &ds, ALTDIFF_WRT_B, J, n, NULL);
        expect(&V, fwd ? rc == ALTDIFF_OK : rc == ALTDIFF_ERR_INVALID, "jacobian %s: rc %d",
               mode_name(mode), rc);
        if (fwd) {
            v.h[2] = NAN;
            expect(&V, altdiff_jvp(w, &ds, &dir, J, NULL) == ALTDIFF_ERR_INVALID, "NaN dir");
            v.h[2] = 0;
            expect(&V, altdiff_jvp(w, &ds, NULL, J, NULL) == ALTDIFF_ERR_INVALID, "NULL dir");
            expect(&V, altdiff_jacobian(w, &ds, 4, J, n, NULL) == ALTDIFF_ERR_INVALID, "wrt 4");
            expect(&V, altdiff_jacobian(w, &ds, ALTDIFF_WRT_Q, J, n - 1, NULL) ==
                           ALTDIFF_ERR_INVALID,
                   "ldJ < n");
        }
    }
    altdiff_deriv_settings ds = dset(7, DERIV_EPS);
    expect(&V, altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID, "mode 7");
    expect(&V, altdiff_vjp(NULL, &ds, wx, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID, "NULL w");
    ds = dset(ALTDIFF_MODE_GMRES, DERIV_EPS);
    expect(&V, altdiff_vjp(w, NULL, wx, g.q, g.b, g.h, NULL) == ALTDIFF_ERR_INVALID, "NULL ds");
    /* every output may be NULL */
    expect(&V, altdiff_vjp(w, &ds, wx, NULL, NULL, NULL, NULL) == ALTDIFF_OK, "NULL outputs");
    altdiff_free(w);
    grads_free(&g);
    dir_free(&v);
    free(wx);
    free(J);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* ---- 6. truncation ------------------------------------------------------------ */

/* At derivative eps 1e-3, 1e-6, 1e-9 the errors of GMRES, ADJOINT (VJP) and
 * ALTDIFF (JVP) against KKT decrease, and a SOLVED status has residual <= eps */
START_TEST(test_truncation)
{
    dqp d = strict_qp(20, 4, 16, 1900);
    altdiff_int n = d.n;
    rng r = {1901};
    altdiff_settings set = solve_settings(0, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set);
    double *wx = zeros(n), *dx = zeros(n), *dxk = zeros(n);
    randn(&r, wx, n);
    owned_dir v = random_vector_dir(&d, &r);
    altdiff_direction dir = dir_view(&v);
    grads gk = grads_alloc(&d);
    altdiff_deriv_settings dk = dset(ALTDIFF_MODE_KKT, DERIV_EPS);
    ck_assert_int_eq(altdiff_vjp(w, &dk, wx, gk.q, gk.b, gk.h, NULL), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_jvp(w, &dk, &dir, dxk, NULL), ALTDIFF_OK);
    verdict V = {0, ""};
    const double eps[3] = {1e-3, 1e-6, 1e-9};
    int modes[3] = {ALTDIFF_MODE_GMRES, ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_ALTDIFF};
    for (int k = 0; k < 3; k++) {
        double err[3];
        printf("[deriv] truncation %s:", mode_name(modes[k]));
        for (int e = 0; e < 3; e++) {
            altdiff_deriv_settings ds = dset(modes[k], eps[e]);
            altdiff_deriv_info info;
            int rc;
            if (modes[k] == ALTDIFF_MODE_ALTDIFF) {
                rc = altdiff_jvp(w, &ds, &dir, dx, &info);
                err[e] = rel_diff(dx, dxk, n);
            } else {
                grads g = grads_alloc(&d);
                rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, &info);
                err[e] = grads_rel_diff(&d, &g, &gk);
                grads_free(&g);
            }
            printf(" eps %.0e: err %.1e (iter %ld, residual %.1e)", eps[e], err[e],
                   (long)info.iter, info.residual);
            expect(&V, rc == ALTDIFF_OK && info.status == ALTDIFF_SOLVED,
                   "%s eps %g: rc %d status %d", mode_name(modes[k]), eps[e], rc, info.status);
            expect(&V, info.status != ALTDIFF_SOLVED || info.residual <= eps[e],
                   "%s eps %g: SOLVED with residual %g", mode_name(modes[k]), eps[e],
                   info.residual);
            if (e > 0) /* monotone within a factor 2, above the floor of the solve */
                expect(&V, err[e] <= 2 * err[e - 1] + 1e-9, "%s: error %.2e at eps %g > %.2e at %g",
                       mode_name(modes[k]), err[e], eps[e], err[e - 1], eps[e - 1]);
        }
        printf("\n");
        expect(&V, err[2] <= 1e-6 && err[2] < err[0], "%s: error %.2e at eps 1e-9 (%.2e at 1e-3)",
               mode_name(modes[k]), err[2], err[0]);
        expect(&V, err[0] <= 1e-1, "%s: error %.2e at eps 1e-3", mode_name(modes[k]), err[0]);
    }
    altdiff_free(w);
    grads_free(&gk);
    dir_free(&v);
    free(wx);
    free(dx);
    free(dxk);
    dqp_free(&d);
    finish(&V);
}
END_TEST

/* ---- 7. dropped rows -------------------------------------------------------- */

/* Row 8 has h = 1e20: dh_8 = 0 in every mode, Jacobian column 8 = 0, its
 * direction ignored, and everything else equal to the problem without it */
START_TEST(test_dropped_rows)
{
    altdiff_int n = 12, m = 2, p = 9, drop = 8;
    dqp d = random_data(n, m, p, 2000);
    d.nu[drop] = 0;
    d.s[drop] = 1;
    dqp_from_solution(&d);
    dqp ref = dqp_alloc(n, m, p - 1); /* the same problem without the row */
    memcpy(ref.P, d.P, sizeof(double) * (size_t)(n * n));
    memcpy(ref.q, d.q, sizeof(double) * (size_t)n);
    memcpy(ref.A, d.A, sizeof(double) * (size_t)(m * n));
    memcpy(ref.b, d.b, sizeof(double) * (size_t)m);
    memcpy(ref.x, d.x, sizeof(double) * (size_t)n);
    for (altdiff_int k = 0; k < p - 1; k++) {
        ref.h[k] = d.h[k];
        ref.nu[k] = d.nu[k];
        for (altdiff_int j = 0; j < n; j++) ref.G[k + j * (p - 1)] = d.G[k + j * p];
    }
    d.h[drop] = 1e20;
    dqp_finish(&d);
    dqp_finish(&ref);
    rng r = {2001};
    altdiff_settings set = solve_settings(1, SOLVE_EPS);
    altdiff_work *w = setup_solve(&d, &set), *wr = setup_solve(&ref, &set);
    verdict V = {0, ""};
    expect(&V, altdiff_get_info(w)->dropped_rows == 1, "dropped_rows %ld",
           (long)altdiff_get_info(w)->dropped_rows);
    double *wx = zeros(n), *J = zeros(n * p), *Jr = zeros(n * (p - 1)), *dx = zeros(n),
           *dx0 = zeros(n);
    randn(&r, wx, n);
    for (int k = 0; k < N_REVERSE; k++) {
        grads g = grads_alloc(&d), gr = grads_alloc(&ref);
        for (altdiff_int t = 0; t < p; t++) g.h[t] = NAN; /* must be overwritten */
        altdiff_deriv_settings ds = dset(reverse_modes[k], DERIV_EPS);
        int rc = altdiff_vjp(w, &ds, wx, g.q, g.b, g.h, NULL);
        int rcr = altdiff_vjp(wr, &ds, wx, gr.q, gr.b, gr.h, NULL);
        double e = fmax(rel_diff(g.q, gr.q, n), fmax(rel_diff(g.b, gr.b, m),
                                                      rel_diff(g.h, gr.h, p - 1)));
        expect(&V, rc == ALTDIFF_OK && rcr == ALTDIFF_OK, "vjp %s: rc %d/%d",
               mode_name(ds.mode), rc, rcr);
        expect(&V, g.h[drop] == 0, "vjp %s: dh[dropped] = %g", mode_name(ds.mode), g.h[drop]);
        expect(&V, e <= 1e-7, "vjp %s: with dropped row vs without: %.2e", mode_name(ds.mode), e);
        grads_free(&g);
        grads_free(&gr);
    }
    owned_dir v = random_vector_dir(&d, &r);
    altdiff_direction dir = dir_view(&v);
    for (int k = 0; k < N_FORWARD; k++) {
        altdiff_deriv_settings ds = dset(forward_modes[k], DERIV_EPS);
        for (altdiff_int t = 0; t < n * p; t++) J[t] = NAN;
        int rc = altdiff_jacobian(w, &ds, ALTDIFF_WRT_H, J, n, NULL);
        int rcr = altdiff_jacobian(wr, &ds, ALTDIFF_WRT_H, Jr, n, NULL);
        expect(&V, rc == ALTDIFF_OK && rcr == ALTDIFF_OK, "jacobian %s: rc %d/%d",
               mode_name(ds.mode), rc, rcr);
        expect(&V, nrm_inf(J + drop * n, n) == 0, "jacobian %s: column of the dropped row %g",
               mode_name(ds.mode), nrm_inf(J + drop * n, n));
        double e = rel_diff(J, Jr, n * (p - 1));
        expect(&V, e <= 1e-7, "jacobian %s vs without the row: %.2e", mode_name(ds.mode), e);
        v.h[drop] = 0;
        rc = altdiff_jvp(w, &ds, &dir, dx0, NULL);
        v.h[drop] = 1;
        int rc1 = altdiff_jvp(w, &ds, &dir, dx, NULL);
        expect(&V, rc == ALTDIFF_OK && rc1 == ALTDIFF_OK && rel_diff(dx, dx0, n) == 0,
               "jvp %s: the dropped row's direction changed dx", mode_name(ds.mode));
    }
    altdiff_free(w);
    altdiff_free(wr);
    dir_free(&v);
    free(wx);
    free(J);
    free(Jr);
    free(dx);
    free(dx0);
    dqp_free(&d);
    dqp_free(&ref);
    finish(&V);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------- */

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *suite_deriv(void)
{
    Suite *s = suite_create("deriv");
    TCase *tc = tcase_create("finite_differences");
    tcase_add_loop_test(tc, test_fd_vectors, 0, COUNT(fd_sizes));
    tcase_add_loop_test(tc, test_fd_matrix_jvp, 0, COUNT(fd_sizes));
    tcase_add_test(tc, test_fd_matrix_grads);
    tcase_add_test(tc, test_matrix_grads_full_P);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("consistency");
    tcase_add_loop_test(tc, test_identity, 0, COUNT(id_sizes));
    tcase_add_loop_test(tc, test_against_kkt, 0, COUNT(fd_sizes));
    tcase_add_test(tc, test_truncation);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("closed_forms");
    tcase_add_test(tc, test_solve_jvp);
    tcase_add_test(tc, test_kkt_dependent_rows);
    tcase_add_test(tc, test_fastest_mode);
    tcase_add_test(tc, test_unconstrained);
    tcase_add_test(tc, test_equality_only);
    tcase_add_test(tc, test_box_projection);
    tcase_add_loop_test(tc, test_sparsemax, 0, 2);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("degenerate");
    tcase_add_test(tc, test_weakly_active);
    tcase_add_test(tc, test_duplicated_equalities);
    tcase_add_test(tc, test_dropped_rows);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("contract");
    tcase_add_test(tc, test_max_iter);
    tcase_add_test(tc, test_not_solved);
    tcase_add_test(tc, test_unroll_without_record);
    tcase_add_test(tc, test_invalid);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_deriv()); }
