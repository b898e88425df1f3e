/* check_batch.c: batches of problems sharing P, A, G against the
 * single-problem workspace, element by element; failures that stay in their
 * element; derivatives at stored solutions; allocation failures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "sp.h"

void ad_batch_set_lockstep(altdiff_batch *bt, int mode); /* batch.c (internal) */

/* Loop tests run twice: _i = 0 with the elements in lockstep (block solves,
 * shared rho), _i = 1 one after another (the path of cheap sweeps) */
#define LOCKSTEP (_i == 0 ? 1 : 0)

#define EPS 1e-10 /* solver tolerance of these tests */

/* A batch of d's B elements on the path lockstep (solve_settings(0, EPS)),
 * with the vectors Q (n x B), Bv (m x B, or NULL: d's b), Hv (p x B), solved;
 * setup, the vectors and the solve expected to succeed in v */
static altdiff_batch *solved_batch(const dqp *d, altdiff_int B, const double *Q,
                                   const double *Bv, const double *Hv, int lockstep, verdict *v)
{
    altdiff_settings set = solve_settings(0, EPS);
    altdiff_batch *bt = NULL;
    expect(v, altdiff_batch_setup(&bt, &d->prob, B, &set) == ALTDIFF_OK, "setup");
    if (!bt) return NULL;
    ad_batch_set_lockstep(bt, lockstep);
    expect(v, altdiff_batch_set_vectors(bt, 0, B, Q, d->n, Bv, Bv ? d->m : 0, Hv, d->p) ==
                  ALTDIFF_OK, "set");
    expect(v, altdiff_batch_solve(bt) == ALTDIFF_OK, "solve");
    return bt;
}

/* ---- batch vs single ----------------------------------------------------------- */

START_TEST(test_batch_equals_single)
{
    const int modes[] = {ALTDIFF_MODE_GMRES, ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_KKT,
                         ALTDIFF_MODE_ALTDIFF, ALTDIFF_MODE_AUTO};
    altdiff_int n = 8, m = 2, B = 6;
    dqp d = box_qp(n, m, 0, 11);
    altdiff_int p = d.p;
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    double *X = zeros(n * B), *dQ = zeros(n * B), *dB = zeros(m * B), *dH = zeros(p * B);
    double x1[8], dq1[8], db1[2], dh1[16];
    rng r = {5};
    randn(&r, W, n * B);
    element_vectors(&d, B, 3, Q, Bv, Hv);
    verdict v = {0, ""};
    altdiff_batch *bt = solved_batch(&d, B, Q, Bv, Hv, LOCKSTEP, &v);
    expect(&v, altdiff_batch_size(bt) == B, "size");
    altdiff_batch_get_solution(bt, 0, B, X, NULL, NULL, NULL);
    for (int mi = 0; mi < 5; mi++) {
        altdiff_deriv_settings ds = dset(modes[mi], 1e-12);
        expect(&v, altdiff_batch_vjp(bt, &ds, W, dQ, dB, dH, NULL) == ALTDIFF_OK, "vjp");
        for (altdiff_int e = 0; e < B; e++) {
            expect(&v, altdiff_batch_get_info(bt, e)->status == ALTDIFF_SOLVED, "status %ld",
                   (long)e);
            expect(&v, altdiff_batch_get_info(bt, e)->polish != 0, "element %ld not polished",
                   (long)e); /* as a single solve of this size is */
            int ok = solve_single(&d, Q + e * n, Bv + e * m, Hv + e * p, EPS, W + e * n,
                                  ALTDIFF_MODE_KKT, x1, dq1, db1, dh1, NULL, NULL, NULL);
            expect(&v, ok, "single %ld", (long)e);
            expect(&v, rel_diff(X + e * n, x1, n) < 1e-7, "x of element %ld: %g", (long)e,
                   rel_diff(X + e * n, x1, n));
            expect(&v, rel_diff(dQ + e * n, dq1, n) < 1e-5, "%s dq of %ld: %g",
                   mode_name(modes[mi] < 0 ? 1 : modes[mi]), (long)e, rel_diff(dQ + e * n, dq1, n));
            expect(&v, rel_diff(dB + e * m, db1, m) < 1e-5, "db of %ld", (long)e);
            expect(&v, rel_diff(dH + e * p, dh1, p) < 1e-5, "dh of %ld", (long)e);
        }
    }
    altdiff_batch_free(bt);
    double *bufs[] = {Q, Bv, Hv, W, X, dQ, dB, dH};
    for (int k = 0; k < 8; k++) free(bufs[k]);
    dqp_free(&d);
    finish(&v);
}
END_TEST

/* ld = 0 shares one vector; B = 1 is the single problem */
START_TEST(test_shared_vectors_and_B1)
{
    altdiff_int n = 6, m = 1, B = 4;
    dqp d = box_qp(n, m, 0, 21);
    altdiff_int p = d.p;
    double *Q = zeros(n * B), *X1 = zeros(n * B), *X2 = zeros(n * B), x1[6];
    for (altdiff_int e = 0; e < B; e++) memcpy(Q + e * n, d.q, sizeof(double) * (size_t)n);
    altdiff_settings set = solve_settings(0, EPS);
    altdiff_batch *b1 = NULL, *b2 = NULL, *b3 = NULL;
    verdict v = {0, ""};
    expect(&v, altdiff_batch_setup(&b1, &d.prob, B, &set) == ALTDIFF_OK, "setup 1");
    if (b1) ad_batch_set_lockstep(b1, LOCKSTEP);
    expect(&v, altdiff_batch_setup(&b2, &d.prob, B, &set) == ALTDIFF_OK, "setup 2");
    if (b2) ad_batch_set_lockstep(b2, LOCKSTEP);
    expect(&v, altdiff_batch_setup(&b3, &d.prob, 1, &set) == ALTDIFF_OK, "setup 3");
    if (b3) ad_batch_set_lockstep(b3, LOCKSTEP);
    expect(&v, altdiff_batch_set_vectors(b1, 0, B, d.q, 0, d.b, 0, d.h, 0) == ALTDIFF_OK, "ld 0");
    expect(&v, altdiff_batch_set_vectors(b2, 0, B, Q, n, NULL, 0, NULL, 0) == ALTDIFF_OK, "ld n");
    altdiff_batch_solve(b1);
    altdiff_batch_solve(b2);
    altdiff_batch_solve(b3);
    altdiff_batch_get_solution(b1, 0, B, X1, NULL, NULL, NULL);
    altdiff_batch_get_solution(b2, 0, B, X2, NULL, NULL, NULL);
    expect(&v, rel_diff(X1, X2, n * B) == 0, "shared vs copied vectors differ");
    /* equal elements accelerate alike: every one has Anderson memory on the
     * path it takes (lent on the one-by-one path, its own in lockstep) */
    for (altdiff_int e = 0; e < B; e++) {
        const altdiff_info *ie = altdiff_batch_get_info(b2, e), *i0 = altdiff_batch_get_info(b2, 0);
        expect(&v, ie->aa_steps > 0 && ie->aa_steps == i0->aa_steps && ie->iter == i0->iter,
               "element %ld: %ld extrapolations in %ld iterations, element 0 %ld in %ld", (long)e,
               (long)ie->aa_steps, (long)ie->iter, (long)i0->aa_steps, (long)i0->iter);
    }
    expect(&v, solve_single(&d, d.q, d.b, d.h, EPS, NULL, 0, x1, NULL, NULL, NULL, NULL, NULL,
                            NULL), "single");
    altdiff_batch_get_solution(b3, 0, 1, X2, NULL, NULL, NULL);
    expect(&v, rel_diff(X2, x1, n) < 1e-7, "B = 1 vs single: %g", rel_diff(X2, x1, n));
    expect(&v, altdiff_batch_get_info(b3, 0)->iter > 0, "iterations");
    /* bad ranges and values change nothing */
    double bad[6] = {0, 0, NAN, 0, 0, 0};
    expect(&v, altdiff_batch_set_vectors(b1, 3, 2, d.q, 0, NULL, 0, NULL, 0) ==
                   ALTDIFF_ERR_INVALID, "range");
    expect(&v, altdiff_batch_set_vectors(b1, 0, 1, bad, 0, NULL, 0, NULL, 0) ==
                   ALTDIFF_ERR_INVALID, "NaN");
    expect(&v, altdiff_batch_get_info(b1, 0)->status == ALTDIFF_SOLVED, "unchanged");
    expect(&v, altdiff_batch_get_info(b1, B) == NULL, "info out of range");
    (void)p;
    altdiff_batch_free(b1);
    altdiff_batch_free(b2);
    altdiff_batch_free(b3);
    free(Q);
    free(X1);
    free(X2);
    dqp_free(&d);
    finish(&v);
}
END_TEST

/* ---- failures stay in their element -------------------------------------------------- */

START_TEST(test_infeasible_element)
{
    altdiff_int n = 6, m = 0, B = 5, bad = 2;
    dqp d = box_qp(n, m, 0, 31);
    altdiff_int p = d.p;
    double *Q = zeros(n * B), *Hv = zeros(p * B), *Bv = zeros(1), *W = zeros(n * B);
    double *dQ = zeros(n * B), *dH = zeros(p * B), *X = zeros(n * B), x1[6], dq1[6], dh1[12];
    altdiff_deriv_info info[5];
    rng r = {7};
    randn(&r, W, n * B);
    element_vectors(&d, B, 9, Q, Bv, Hv);
    Hv[bad * p + 0] = -1;     /* x_0 <= -1 */
    Hv[bad * p + n + 0] = -1; /* -x_0 <= -1: x_0 >= 1 */
    verdict v = {0, ""};
    altdiff_batch *bt = solved_batch(&d, B, Q, NULL, Hv, LOCKSTEP, &v);
    altdiff_batch_get_solution(bt, 0, B, X, NULL, NULL, NULL);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_GMRES, 1e-12);
    expect(&v, altdiff_batch_vjp(bt, &ds, W, dQ, NULL, dH, info) == ALTDIFF_OK, "vjp");
    for (altdiff_int e = 0; e < B; e++) {
        const altdiff_info *ie = altdiff_batch_get_info(bt, e);
        if (e == bad) {
            expect(&v, ie->status == ALTDIFF_PRIMAL_INFEASIBLE, "bad element: %s",
                   altdiff_status_string(ie->status));
            expect(&v, info[e].status == ALTDIFF_NOT_AVAILABLE, "bad element's vjp status");
            expect(&v, nrm_inf(dQ + e * n, n) == 0 && nrm_inf(dH + e * p, p) == 0, "zero grads");
            continue;
        }
        expect(&v, ie->status == ALTDIFF_SOLVED, "element %ld: %s", (long)e,
               altdiff_status_string(ie->status));
        expect(&v, solve_single(&d, Q + e * n, NULL, Hv + e * p, EPS, W + e * n,
                                ALTDIFF_MODE_KKT, x1, dq1, NULL, dh1, NULL, NULL, NULL),
               "single");
        expect(&v, rel_diff(X + e * n, x1, n) < 1e-7, "x of %ld", (long)e);
        expect(&v, rel_diff(dQ + e * n, dq1, n) < 1e-5, "dq of %ld", (long)e);
        expect(&v, rel_diff(dH + e * p, dh1, p) < 1e-5, "dh of %ld", (long)e);
    }
    /* the matrix gradients: the bad element contributes nothing */
    double *dGs = zeros(d.Gc.p[n]), *dGe = zeros(d.Gc.p[n] * B), *Zb = zeros(1);
    expect(&v, altdiff_batch_matrix_grads(bt, dQ, Zb, dH, NULL, NULL, dGs, 1) == ALTDIFF_OK,
           "sum");
    expect(&v, altdiff_batch_matrix_grads(bt, dQ, Zb, dH, NULL, NULL, dGe, 0) == ALTDIFF_OK,
           "each");
    altdiff_int nG = d.Gc.p[n];
    for (altdiff_int t = 0; t < nG; t++) {
        double s = 0;
        for (altdiff_int e = 0; e < B; e++) s += dGe[e * nG + t];
        expect(&v, fabs(s - dGs[t]) <= 1e-12 * (1 + fabs(s)), "sum of element grads, %ld",
               (long)t);
    }
    expect(&v, nrm_inf(dGe + bad * nG, nG) == 0, "bad element's matrix grads");
    altdiff_batch_free(bt);
    double *bufs[] = {Q, Hv, Bv, W, dQ, dH, X, dGs, dGe, Zb};
    for (int k = 0; k < 10; k++) free(bufs[k]);
    dqp_free(&d);
    finish(&v);
}
END_TEST

/* ---- derivatives at stored solutions ------------------------------------------------------ */

START_TEST(test_backward_twice_and_after_other_solve)
{
    altdiff_int n = 7, m = 1, B = 3;
    dqp d = box_qp(n, m, 0, 41);
    altdiff_int p = d.p;
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    double *g1 = zeros(n * B), *g2 = zeros(n * B), *g3 = zeros(n * B);
    rng r = {13};
    randn(&r, W, n * B);
    element_vectors(&d, B, 15, Q, Bv, Hv);
    altdiff_settings set = solve_settings(0, EPS);
    altdiff_batch *other = NULL;
    verdict v = {0, ""};
    altdiff_batch *bt = solved_batch(&d, B, Q, Bv, Hv, LOCKSTEP, &v);
    expect(&v, altdiff_batch_setup(&other, &d.prob, B, &set) == ALTDIFF_OK, "setup other");
    if (other) ad_batch_set_lockstep(other, LOCKSTEP);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_GMRES, 1e-12);
    altdiff_batch_vjp(bt, &ds, W, g1, NULL, NULL, NULL);
    altdiff_batch_vjp(bt, &ds, W, g2, NULL, NULL, NULL);
    altdiff_batch_solve(other); /* another batch solved in between */
    altdiff_batch_vjp(bt, &ds, W, g3, NULL, NULL, NULL);
    expect(&v, rel_diff(g1, g2, n * B) == 0 && rel_diff(g1, g3, n * B) == 0,
           "backward not repeatable");
    /* after new vectors the elements forget their solutions */
    altdiff_batch_set_vectors(bt, 0, 1, d.q, 0, NULL, 0, NULL, 0);
    altdiff_deriv_info info[3];
    altdiff_batch_vjp(bt, &ds, W, g3, NULL, NULL, info);
    expect(&v, info[0].status == ALTDIFF_NOT_AVAILABLE && info[1].status == ALTDIFF_SOLVED,
           "statuses after set_vectors");
    altdiff_batch_free(bt);
    altdiff_batch_free(other);
    double *bufs[] = {Q, Bv, Hv, W, g1, g2, g3};
    for (int k = 0; k < 7; k++) free(bufs[k]);
    dqp_free(&d);
    finish(&v);
}
END_TEST

/* w'(J v) = (J'w)'v per element, v = (dq, db, dh), with the JVP of every
 * forward mode and the VJP of GMRES */
START_TEST(test_adjoint_identity)
{
    altdiff_int n = 6, m = 2, B = 4;
    dqp d = box_qp(n, m, 0, 51);
    altdiff_int p = d.p;
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    double *Vq = zeros(n * B), *Vb = zeros(m * B), *Vh = zeros(p * B), *Jv = zeros(n * B);
    double *gq = zeros(n * B), *gb = zeros(m * B), *gh = zeros(p * B);
    rng r = {17};
    randn(&r, W, n * B);
    randn(&r, Vq, n * B);
    randn(&r, Vb, m * B);
    randn(&r, Vh, p * B);
    element_vectors(&d, B, 19, Q, Bv, Hv);
    verdict v = {0, ""};
    altdiff_batch *bt = solved_batch(&d, B, Q, Bv, Hv, LOCKSTEP, &v);
    altdiff_deriv_settings dr = dset(ALTDIFF_MODE_GMRES, 1e-12);
    expect(&v, altdiff_batch_vjp(bt, &dr, W, gq, gb, gh, NULL) == ALTDIFF_OK, "vjp");
    const int fmodes[] = {ALTDIFF_MODE_ALTDIFF, ALTDIFF_MODE_KKT};
    for (int f = 0; f < 2; f++) {
        altdiff_deriv_settings df = dset(fmodes[f], 1e-12);
        altdiff_direction dir = {Vq, Vb, Vh, NULL, NULL, NULL, NULL};
        expect(&v, altdiff_batch_jvp(bt, &df, &dir, Jv, NULL) == ALTDIFF_OK, "jvp");
        for (altdiff_int e = 0; e < B; e++) {
            double lhs = dot(W + e * n, Jv + e * n, n);
            double rhs = dot(gq + e * n, Vq + e * n, n) + dot(gb + e * m, Vb + e * m, m) +
                         dot(gh + e * p, Vh + e * p, p);
            expect(&v, rel_scalar(lhs, rhs) < 1e-6, "%s element %ld: %g vs %g",
                   mode_name(fmodes[f]), (long)e, lhs, rhs);
        }
    }
    altdiff_batch_free(bt);
    double *bufs[] = {Q, Bv, Hv, W, Vq, Vb, Vh, Jv, gq, gb, gh};
    for (int k = 0; k < 11; k++) free(bufs[k]);
    dqp_free(&d);
    finish(&v);
}
END_TEST

/* altdiff_set_solution: derivatives at a kept solution equal those after the
 * solve; a point that is not a solution is not accepted as one */
START_TEST(test_set_solution)
{
    altdiff_int n = 6, m = 2;
    dqp d = box_qp(n, m, 0, 61);
    altdiff_int p = d.p;
    double x[6], s[12], lam[2], nu[12], w[6], g1[6], g2[6];
    rng r = {23};
    randn(&r, w, n);
    altdiff_settings set = solve_settings(0, EPS);
    altdiff_work *w1 = NULL, *w2 = NULL;
    verdict v = {0, ""};
    expect(&v, altdiff_setup(&w1, &d.prob, &set) == ALTDIFF_OK, "setup 1");
    expect(&v, altdiff_setup(&w2, &d.prob, &set) == ALTDIFF_OK, "setup 2");
    altdiff_solve(w1);
    altdiff_get_solution(w1, x, s, lam, nu);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_KKT, 1e-12);
    altdiff_vjp(w1, &ds, w, g1, NULL, NULL, NULL);
    expect(&v, altdiff_set_solution(w2, x, s, lam, nu) == ALTDIFF_OK, "set");
    expect(&v, altdiff_get_info(w2)->status == ALTDIFF_SOLVED, "accepted");
    expect(&v, altdiff_vjp(w2, &ds, w, g2, NULL, NULL, NULL) == ALTDIFF_OK, "vjp");
    expect(&v, rel_diff(g1, g2, n) < 1e-9, "vjp at the set solution: %g", rel_diff(g1, g2, n));
    x[0] += 0.1; /* no longer a KKT point */
    altdiff_set_solution(w2, x, s, lam, nu);
    expect(&v, altdiff_get_info(w2)->status == ALTDIFF_UNSOLVED, "wrong point accepted");
    expect(&v, altdiff_vjp(w2, &ds, w, g2, NULL, NULL, NULL) == ALTDIFF_ERR_NOT_SOLVED,
           "vjp at a wrong point");
    (void)p;
    altdiff_free(w1);
    altdiff_free(w2);
    dqp_free(&d);
    finish(&v);
}
END_TEST

/* ---- the folded GMRES of many elements in lockstep ------------------------------------ */

/* A dense QP large enough that the batch runs its GMRES in lockstep
 * (n = 250, m = 10, p = 100): per element, x0 ~ N(0, 1), b = A x0,
 * h = G x0 + U(0, 1), q ~ N(0, 1) */
static dqp dense_qp(altdiff_int n, altdiff_int m, altdiff_int p, uint64_t seed)
{
    rng r = {seed};
    dqp d = dqp_alloc(n, m, p);
    random_spd(&r, n, 1.0, d.P); /* P = M'M / n + 1.0 I */
    randn(&r, d.A, m * n);
    randn(&r, d.G, p * n);
    randn(&r, d.x, n);
    randn(&r, d.q, n);
    matvec(d.A, m, n, d.x, d.b);
    matvec(d.G, p, n, d.x, d.h);
    for (altdiff_int k = 0; k < p; k++) d.h[k] += rng_unif(&r);
    dqp_finish(&d);
    return d;
}

/* The batch VJP (GMRES, in lockstep) of B elements of dense_qp(n, m, p)
 * with perturbed q against single solves' KKT gradients */
static void check_lockstep_gmres(altdiff_int n, altdiff_int m, altdiff_int p, altdiff_int B,
                                 int lockstep)
{
    dqp d = dense_qp(n, m, p, 81);
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    double *dQ = zeros(n * B), *dB = zeros(m * B), *dH = zeros(p * B), *x1 = zeros(n);
    double *dq1 = zeros(n), *db1 = zeros(m), *dh1 = zeros(p);
    altdiff_deriv_info *info = calloc((size_t)B, sizeof(altdiff_deriv_info));
    rng r = {83};
    randn(&r, W, n * B);
    for (altdiff_int e = 0; e < B; e++) { /* the data's vectors, q perturbed */
        for (altdiff_int j = 0; j < n; j++) Q[e * n + j] = d.q[j] + 0.3 * rng_normal(&r);
        memcpy(Bv + e * m, d.b, sizeof(double) * (size_t)m);
        memcpy(Hv + e * p, d.h, sizeof(double) * (size_t)p);
    }
    verdict v = {0, ""};
    altdiff_batch *bt = solved_batch(&d, B, Q, Bv, Hv, lockstep, &v);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_GMRES, 1e-12);
    expect(&v, altdiff_batch_vjp(bt, &ds, W, dQ, dB, dH, info) == ALTDIFF_OK, "vjp");
    for (altdiff_int e = 0; e < B; e++) {
        expect(&v, info[e].status == ALTDIFF_SOLVED && info[e].iter > 0, "element %ld: %s",
               (long)e, altdiff_status_string(info[e].status));
        expect(&v, solve_single(&d, Q + e * n, Bv + e * m, Hv + e * p, EPS, W + e * n,
                                ALTDIFF_MODE_KKT, x1, dq1, db1, dh1, NULL, NULL, NULL),
               "single %ld", (long)e);
        expect(&v, rel_diff(dQ + e * n, dq1, n) < 1e-6, "dq of %ld: %g", (long)e,
               rel_diff(dQ + e * n, dq1, n));
        expect(&v, rel_diff(dB + e * m, db1, m) < 1e-6, "db of %ld", (long)e);
        expect(&v, rel_diff(dH + e * p, dh1, p) < 1e-6, "dh of %ld", (long)e);
    }
    altdiff_batch_free(bt);
    double *bufs[] = {Q, Bv, Hv, W, dQ, dB, dH, x1, dq1, db1, dh1};
    for (int k = 0; k < 11; k++) free(bufs[k]);
    free(info);
    dqp_free(&d);
    finish(&v);
}

START_TEST(test_lockstep_gmres) { check_lockstep_gmres(250, 10, 100, 4, LOCKSTEP); }
END_TEST

/* More elements than one lockstep GMRES takes (batch.c: chunks of 64) */
START_TEST(test_lockstep_gmres_chunks) { check_lockstep_gmres(20, 3, 10, 70, LOCKSTEP); }
END_TEST

/* ---- allocation failures ------------------------------------------------------------------ */

START_TEST(test_batch_alloc_failures)
{
    altdiff_int n = 5, m = 1, B = 3;
    dqp d = box_qp(n, m, 0, 71);
    altdiff_int p = d.p;
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    double *gq = zeros(n * B), *gb = zeros(m * B), *gh = zeros(p * B);
    double *dP = zeros(d.Pc.p[n]), *dA = zeros(d.Ac.p[n]), *dG = zeros(d.Gc.p[n]);
    element_vectors(&d, B, 29, Q, Bv, Hv);
    for (altdiff_int j = 0; j < n * B; j++) W[j] = 1;
    altdiff_settings set = solve_settings(0, EPS);
    set.adaptive_rho = 0;
    int completed = 0;
    verdict v = {0, ""};
    for (long k = 0; k < 2000 && !completed; k++) {
        altdiff_batch *bt = NULL;
        altdiff_deriv_settings ds = dset(ALTDIFF_MODE_KKT, 1e-10);
        ad_fault_arm(k);
        int rc = altdiff_batch_setup(&bt, &d.prob, B, &set);
        if (rc == ALTDIFF_OK) ad_batch_set_lockstep(bt, LOCKSTEP);
        if (rc == ALTDIFF_OK) rc = altdiff_batch_set_vectors(bt, 0, B, Q, n, Bv, m, Hv, p);
        if (rc == ALTDIFF_OK) rc = altdiff_batch_solve(bt);
        if (rc == ALTDIFF_OK) rc = altdiff_batch_vjp(bt, &ds, W, gq, gb, gh, NULL);
        if (rc == ALTDIFF_OK) rc = altdiff_batch_matrix_grads(bt, gq, gb, gh, dP, dA, dG, 1);
        int fired = ad_fault_fired();
        ad_fault_arm(-1);
        expect(&v, rc == ALTDIFF_OK || (fired && rc == ALTDIFF_ERR_NOMEM) ||
                       (fired && rc == ALTDIFF_ERR_CHOLMOD),
               "k = %ld: %s", k, altdiff_error_string(rc));
        if (rc != ALTDIFF_OK) expect(&v, bt == NULL || fired, "k = %ld", k);
        completed = !fired && rc == ALTDIFF_OK;
        altdiff_batch_free(bt);
    }
    expect(&v, completed, "the sequence never completed");
    double *bufs[] = {Q, Bv, Hv, W, gq, gb, gh, dP, dA, dG};
    for (int k = 0; k < 10; k++) free(bufs[k]);
    dqp_free(&d);
    finish(&v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_batch_equals_single, 0, 2);
    tcase_add_loop_test(tc, test_shared_vectors_and_B1, 0, 2);
    tcase_add_loop_test(tc, test_infeasible_element, 0, 2);
    tcase_add_loop_test(tc, test_backward_twice_and_after_other_solve, 0, 2);
    tcase_add_loop_test(tc, test_adjoint_identity, 0, 2);
    tcase_add_test(tc, test_set_solution);
    tcase_add_test(tc, test_lockstep_gmres);
    tcase_add_test(tc, test_lockstep_gmres_chunks);
    tcase_add_loop_test(tc, test_batch_alloc_failures, 0, 2);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
