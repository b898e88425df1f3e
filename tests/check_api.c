/*
 * check_api: the library side of the hardening issue (#14). A workspace and
 * a batch recover by themselves after a failed solve; altdiff_get_solution
 * and altdiff_get_certificate say through their code when the values are not
 * usable; the updates validate like setup and change nothing when they
 * fail; the messages (altdiff_last_error, altdiff_setup_err, ...) name the
 * array, the index and the quantity that overflowed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* A small strictly convex QP, feasible through x0 = (1, ..., 1)/n:
 * P = I + 0.1 (neighbours), q_j = j - n/2, one row sum(x) = 1, x_j >= -1 */
static dqp small_qp(altdiff_int n)
{
    dqp d = dqp_alloc(n, 1, n);
    for (altdiff_int j = 0; j < n; j++) {
        d.P[j + j * n] = 1;
        if (j + 1 < n) d.P[j + (j + 1) * n] = d.P[j + 1 + j * n] = 0.1;
        d.q[j] = (double)j - 0.5 * (double)n;
        d.A[j] = 1;            /* row 0 of A (1 x n) */
        d.G[j + j * n] = -1;   /* -x_j <= 1          */
        d.h[j] = 1;
    }
    d.b[0] = 1;
    dqp_finish(&d);
    return d;
}

static altdiff_work *setup_ok(const dqp *d)
{
    altdiff_work *w = NULL;
    char err[256];
    int rc = altdiff_setup_err(&w, &d->prob, NULL, err, sizeof(err));
    ck_assert_msg(rc == ALTDIFF_OK, "setup: %s", err);
    ck_assert_str_eq(err, "");
    return w;
}

/* Solve, expect status, read x (n) and the code of get_solution */
static int solve_read(altdiff_work *w, int expect_status, double *x)
{
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    int st = altdiff_get_info(w)->status;
    ck_assert_msg(st == expect_status, "status %s, expected %s (%s)", altdiff_status_string(st),
                  altdiff_status_string(expect_status), altdiff_last_error(w));
    return altdiff_get_solution(w, x, NULL, NULL, NULL);
}

/* 1 if the message contains every one of the (NULL-terminated) words */
static int says(const char *msg, const char *w1, const char *w2, const char *w3)
{
    const char *w[] = {w1, w2, w3};
    for (int k = 0; k < 3; k++)
        if (w[k] && !strstr(msg, w[k])) return 0;
    return 1;
}

#define ASSERT_SAYS(msg, a, b, c) \
    ck_assert_msg(says(msg, a, b, c), "message \"%s\" lacks %s / %s / %s", msg, a, b ? b : "", \
                  c ? c : "")

/* ---- recovery --------------------------------------------------------------- */

/* q = 1e308 through update_vectors: the solve fails, get_solution says so;
 * with q restored the next solve starts clean and solves */
START_TEST(test_recover_huge_q)
{
    dqp d = small_qp(6);
    altdiff_work *w = setup_ok(&d);
    double x0[6], x[6], q[6];
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x0), ALTDIFF_OK);
    for (int j = 0; j < 6; j++) q[j] = j == 2 ? 1e308 : d.q[j];
    ck_assert_int_eq(altdiff_update_vectors(w, q, NULL, NULL), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    int st = altdiff_get_info(w)->status;
    ck_assert_msg(st != ALTDIFF_SOLVED, "q = 1e308 solved?");
    int rc = altdiff_get_solution(w, x, NULL, NULL, NULL);
    if (st == ALTDIFF_NUMERICAL_ERROR || !all_finite(x, 6)) {
        ck_assert_int_eq(rc, ALTDIFF_ERR_NOT_SOLVED);
        ck_assert_msg(strlen(altdiff_last_error(w)) > 0, "no message after a failed solve");
    }
    ck_assert_int_eq(altdiff_update_vectors(w, d.q, NULL, NULL), ALTDIFF_OK);
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK);
    ck_assert_msg(rel_diff(x, x0, 6) < 1e-5, "x after recovery differs: %g", rel_diff(x, x0, 6));
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* A huge rho: rejected when rho A'A overflows (nothing changes); a large
 * one that makes the solve fail is followed by a clean solve at the rho
 * given back (the iterates of rho = 1e200 hold NaN) */
START_TEST(test_recover_huge_rho)
{
    dqp d = small_qp(5);
    altdiff_work *w = setup_ok(&d);
    double x0[5], x[5];
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x0), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_update_rho(w, 1e308, -1), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "overflow", "rho", NULL);
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK); /* unchanged */
    ck_assert_msg(rel_diff(x, x0, 5) < 1e-5, "x after a rejected rho");
    /* rho = 1e200: H is finite, the iterates overflow: a numerical error */
    ck_assert_int_eq(altdiff_update_rho(w, 1e200, -1), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_NUMERICAL_ERROR);
    ck_assert_int_eq(altdiff_get_solution(w, x, NULL, NULL, NULL), ALTDIFF_ERR_NOT_SOLVED);
    ASSERT_SAYS(altdiff_last_error(w), "numerical error", "clean iterates", NULL);
    ck_assert_int_eq(altdiff_update_rho(w, 0.1, -1), ALTDIFF_OK);
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK);
    ck_assert_msg(rel_diff(x, x0, 5) < 1e-5, "x after a huge rho and back");
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* NaN iterates (forced through a failed solve) and a warm start given after
 * it: the warm start is taken, the solve works */
START_TEST(test_recover_warm_start_after_failure)
{
    dqp d = small_qp(4);
    altdiff_work *w = setup_ok(&d);
    double x0[4], x[4], q[4];
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x0), ALTDIFF_OK);
    for (int j = 0; j < 4; j++) q[j] = 1e308;
    ck_assert_int_eq(altdiff_update_vectors(w, q, NULL, NULL), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_update_vectors(w, d.q, NULL, NULL), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_warm_start(w, x0, NULL, NULL, NULL), ALTDIFF_OK);
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK);
    ck_assert_msg(rel_diff(x, x0, 4) < 1e-5, "x after warm start");
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* h = -inf through update_vectors is rejected (as at setup) and changes
 * nothing; so is a kept row made infinite */
START_TEST(test_update_vectors_h)
{
    dqp d = small_qp(4);
    altdiff_work *w = setup_ok(&d);
    double x0[4], x[4], h[4] = {1, -INFINITY, 1, 1};
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x0), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_update_vectors(w, NULL, NULL, h), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "h[1]", "-inf", NULL);
    h[1] = 1e30;
    ck_assert_int_eq(altdiff_update_vectors(w, NULL, NULL, h), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "h[1]", "kept", NULL);
    double q[4] = {0, 0, NAN, 0};
    ck_assert_int_eq(altdiff_update_vectors(w, q, NULL, NULL), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "q[2] is NaN", NULL, NULL);
    ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_SOLVED); /* nothing changed */
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK);
    ck_assert_msg(rel_diff(x, x0, 4) < 1e-6, "x after rejected updates");
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* ---- return codes of the readers ------------------------------------------ */

START_TEST(test_solution_codes)
{
    dqp d = small_qp(3);
    altdiff_work *w = setup_ok(&d);
    double x[3], dx[3];
    ck_assert_int_eq(altdiff_get_solution(w, x, NULL, NULL, NULL), ALTDIFF_OK); /* zeros */
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_certificate(w, dx, NULL, NULL), ALTDIFF_ERR_NOT_SOLVED);
    ck_assert_int_eq(altdiff_get_solution(NULL, x, NULL, NULL, NULL), ALTDIFF_ERR_INVALID);
    /* primal infeasible: sum(x) = 1 and x_j <= -1 */
    for (int j = 0; j < 3; j++) {
        d.G[j + j * 3] = 1;
        d.h[j] = -1;
    }
    dqp_finish(&d);
    altdiff_work *v = setup_ok(&d);
    ck_assert_int_eq(altdiff_solve(v), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(v)->status, ALTDIFF_PRIMAL_INFEASIBLE);
    double dlam[1], dnu[3];
    ck_assert_int_eq(altdiff_get_certificate(v, NULL, dlam, dnu), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_solution(v, x, NULL, NULL, NULL), ALTDIFF_OK); /* finite */
    altdiff_free(v);
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* ---- updates change nothing when they fail ---------------------------------- */

START_TEST(test_update_matrices_atomic)
{
    dqp d = small_qp(4);
    altdiff_work *w = setup_ok(&d);
    double x0[4], x[4];
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x0), ALTDIFF_OK);
    altdiff_int nP = d.Pc.p[4], nA = d.Ac.p[4];
    double *Px = zeros(nP), *Ax = zeros(nA);
    memcpy(Ax, d.Ac.x, sizeof(double) * (size_t)nA);
    Ax[3] = NAN;
    ck_assert_int_eq(altdiff_update_matrices(w, NULL, Ax, NULL), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "Ax[3] is NaN", NULL, NULL);
    Ax[3] = 1e300; /* A'A overflows */
    ck_assert_int_eq(altdiff_update_matrices(w, NULL, Ax, NULL), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "A'A", "overflow", "column 3");
    /* P indefinite: a new P with a negative diagonal, and A given too */
    for (altdiff_int t = 0; t < nP; t++) Px[t] = d.Pc.x[t];
    Px[0] = -50;
    Ax[3] = 2;
    int rc = altdiff_update_matrices(w, Px, Ax, NULL);
    ck_assert_msg(rc == ALTDIFF_ERR_NOT_POSDEF, "indefinite P: %s", altdiff_error_string(rc));
    ASSERT_SAYS(altdiff_last_error(w), "not positive", NULL, NULL);
    ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_SOLVED);
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK);
    ck_assert_msg(rel_diff(x, x0, 4) < 1e-6, "x after failed matrix updates: %g",
                  rel_diff(x, x0, 4));
    free(Px);
    free(Ax);
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

START_TEST(test_update_rho_warm_theta_checks)
{
    dqp d = small_qp(4);
    altdiff_work *w = setup_ok(&d);
    double x0[4], x[4], bad[4] = {0, 0, 0, INFINITY};
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x0), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_update_rho(w, NAN, -1), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "rho", NULL, NULL);
    ck_assert_int_eq(altdiff_update_rho(w, -1, INFINITY), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "sigma", NULL, NULL);
    ck_assert_int_eq(altdiff_warm_start(w, NULL, NULL, NULL, bad), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "nu[3] is inf", NULL, NULL);
    ck_assert_int_eq(altdiff_update_theta(w, bad), ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_last_error(w), "theta[3] is inf", NULL, NULL);
    ck_assert_int_eq(altdiff_update_theta(w, NULL), ALTDIFF_ERR_INVALID);
    ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_SOLVED);
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK);
    ck_assert_msg(rel_diff(x, x0, 4) < 1e-6, "x after rejected calls");
    ck_assert_int_eq(altdiff_theta_size(NULL), -1);
    ck_assert_int_eq(altdiff_theta_size(w), 4);
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* ---- setup messages ---------------------------------------------------------- */

/* Setup with a broken copy of the problem; the message must contain want */
static void expect_setup(altdiff_problem *prob, const altdiff_settings *set, int code,
                         const char *want1, const char *want2)
{
    altdiff_work *w = (altdiff_work *)prob; /* must become NULL */
    char err[256];
    int rc = altdiff_setup_err(&w, prob, set, err, sizeof(err));
    ck_assert_ptr_null(w);
    ck_assert_msg(rc == code, "setup returned %s, expected %s (%s)", altdiff_error_string(rc),
                  altdiff_error_string(code), err);
    ASSERT_SAYS(err, want1, want2, NULL);
}

START_TEST(test_setup_messages)
{
    dqp d = small_qp(20);
    altdiff_problem pr = d.prob;
    d.q[17] = NAN;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "q[17] is NaN", NULL);
    d.q[17] = 0;
    d.b[0] = -INFINITY;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "b[0] is -inf", NULL);
    d.b[0] = 1;
    d.h[4] = -INFINITY;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "h[4] is -inf", NULL);
    d.h[4] = 1;
    d.Gc.x[5] = NAN;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "G: entry 5", "NaN");
    d.Gc.x[5] = -1;
    d.Gc.i[3] = 20;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "G: row index 20", "column 3");
    d.Gc.i[3] = 3;
    altdiff_settings set = altdiff_settings_default();
    set.alpha = 2;
    expect_setup(&pr, &set, ALTDIFF_ERR_INVALID, "settings.alpha", NULL);
    set = altdiff_settings_default();
    set.eps_pinf = NAN;
    expect_setup(&pr, &set, ALTDIFF_ERR_INVALID, "settings.eps_pinf", NULL);
    expect_setup(NULL, NULL, ALTDIFF_ERR_INVALID, "prob is NULL", NULL);
    dqp_free(&d);
}
END_TEST

/* P.p = NULL for a 3 x 3 P is not "P = 0"; P.p[n] < 0 is invalid input,
 * not out of memory; a P with no entries is given as p all 0 */
START_TEST(test_setup_P_pointers)
{
    dqp d = small_qp(3);
    altdiff_problem pr = d.prob;
    pr.P.p = NULL;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "P.p is NULL", NULL);
    altdiff_int p[4] = {0, 1, 2, -7}, i[3] = {0, 1, 2};
    double x[3] = {1, 1, 1};
    altdiff_csc P = {3, 3, p, i, x};
    pr.P = P;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "P.p[3] = -7", NULL);
    p[0] = 1;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "P.p[0] = 1", NULL);
    p[0] = 0;
    p[3] = 3;
    pr.P.x = NULL;
    expect_setup(&pr, NULL, ALTDIFF_ERR_INVALID, "P.x is NULL", NULL);
    altdiff_int p0[4] = {0, 0, 0, 0}; /* no entries: an LP, with sigma */
    altdiff_csc P0 = {3, 3, p0, NULL, NULL};
    pr.P = P0;
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, &pr, NULL), ALTDIFF_OK);
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* A with entries of 1e300: A'A overflows, said as such, not "P is not
 * positive semidefinite" */
START_TEST(test_setup_overflow)
{
    dqp d = small_qp(4);
    d.A[2] = 1e300;
    dqp_finish(&d);
    expect_setup(&d.prob, NULL, ALTDIFF_ERR_INVALID, "A'A", "overflow");
    expect_setup(&d.prob, NULL, ALTDIFF_ERR_INVALID, "column 2", "1e+300");
    /* a P that is not positive semidefinite: said as such */
    d.A[2] = 1;
    d.P[0] = -10;
    dqp_finish(&d);
    expect_setup(&d.prob, NULL, ALTDIFF_ERR_NOT_POSDEF, "not positive semidefinite", NULL);
    dqp_free(&d);
}
END_TEST

/* ---- the batch ------------------------------------------------------------- */

START_TEST(test_batch)
{
    dqp d = small_qp(5);
    altdiff_batch *bt = NULL;
    char err[256];
    d.b[0] = NAN;
    ck_assert_int_eq(altdiff_batch_setup_err(&bt, &d.prob, 2, NULL, err, sizeof(err)),
                     ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(bt);
    ASSERT_SAYS(err, "b[0] is NaN", NULL, NULL);
    ck_assert_int_eq(altdiff_batch_setup_err(&bt, &d.prob, 0, NULL, err, sizeof(err)),
                     ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(err, "B = 0", NULL, NULL);
    d.b[0] = 1;
    ck_assert_int_eq(altdiff_batch_setup_err(&bt, &d.prob, 2, NULL, err, sizeof(err)),
                     ALTDIFF_OK);
    double q[10], X[10];
    for (int j = 0; j < 5; j++) q[j] = q[5 + j] = d.q[j];
    q[7] = NAN;
    ck_assert_int_eq(altdiff_batch_set_vectors(bt, 0, 2, q, 5, NULL, 0, NULL, 0),
                     ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(altdiff_batch_last_error(bt), "element 1", "q[2] is NaN", NULL);
    q[7] = 1e308; /* element 1 fails, element 0 solves */
    for (int j = 5; j < 10; j++) q[j] = 1e308;
    ck_assert_int_eq(altdiff_batch_set_vectors(bt, 0, 2, q, 5, NULL, 0, NULL, 0), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_batch_solve(bt), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_batch_get_info(bt, 0)->status, ALTDIFF_SOLVED);
    int st1 = altdiff_batch_get_info(bt, 1)->status;
    ck_assert_int_ne(st1, ALTDIFF_SOLVED);
    ck_assert_int_eq(altdiff_batch_get_solution(bt, 0, 1, X, NULL, NULL, NULL), ALTDIFF_OK);
    if (st1 == ALTDIFF_NUMERICAL_ERROR)
        ck_assert_int_eq(altdiff_batch_get_solution(bt, 0, 2, X, NULL, NULL, NULL),
                         ALTDIFF_ERR_NOT_SOLVED);
    ck_assert_int_eq(altdiff_batch_set_vectors(bt, 1, 1, d.q, 0, NULL, 0, NULL, 0), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_batch_solve(bt), ALTDIFF_OK);
    for (int e = 0; e < 2; e++)
        ck_assert_msg(altdiff_batch_get_info(bt, e)->status == ALTDIFF_SOLVED,
                      "element %d after recovery: %s", e,
                      altdiff_status_string(altdiff_batch_get_info(bt, e)->status));
    ck_assert_int_eq(altdiff_batch_get_solution(bt, 0, 2, X, NULL, NULL, NULL), ALTDIFF_OK);
    ck_assert_msg(rel_diff(X, X + 5, 5) < 1e-5, "elements differ after recovery");
    altdiff_batch_free(bt);
    dqp_free(&d);
}
END_TEST

/* ---- smooth objectives ---------------------------------------------------------- */

/* The entropy on 1'x = 1 with x_0 >= 2: infeasible. Not detected as such
 * (documented); a numerical error names infeasibility as the likely cause,
 * and the workspace solves again once h is feasible */
START_TEST(test_entropy_infeasible)
{
    enum { N = 4 };
    double y[N] = {0.1, -0.2, 0.3, 0}, b = 1, h = -2, Ax[N] = {1, 1, 1, 1}, Gx = -1;
    altdiff_int Ap[N + 1] = {0, 1, 2, 3, 4}, Ai[N] = {0, 0, 0, 0};
    altdiff_int Gp[N + 1] = {0, 1, 1, 1, 1}, Gi[1] = {0};
    altdiff_problem prob = {N, 1, 1, {0, 0, NULL, NULL, NULL}, {1, N, Ap, Ai, Ax},
                            {1, N, Gp, Gi, &Gx}, NULL, &b, &h};
    altdiff_objective f = {0};
    f.kind = ALTDIFF_OBJECTIVE_ENTROPY;
    f.y = y;
    altdiff_settings set = altdiff_settings_default();
    set.max_iter = 20000;
    altdiff_work *w = NULL;
    char err[256];
    ck_assert_int_eq(altdiff_setup_objective_err(&w, &prob, &f, &set, err, sizeof(err)),
                     ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    int st = altdiff_get_info(w)->status;
    printf("[api] infeasible entropy: %s after %ld iterations: \"%s\"\n",
           altdiff_status_string(st), (long)altdiff_get_info(w)->iter, altdiff_last_error(w));
    ck_assert_int_ne(st, ALTDIFF_SOLVED);
    if (st == ALTDIFF_NUMERICAL_ERROR) ASSERT_SAYS(altdiff_last_error(w), "infeasible", NULL, NULL);
    double h2 = 0.5; /* x_0 >= -0.5: feasible */
    ck_assert_int_eq(altdiff_update_vectors(w, NULL, NULL, &h2), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    ck_assert_msg(altdiff_get_info(w)->status == ALTDIFF_SOLVED, "after recovery: %s",
                  altdiff_status_string(altdiff_get_info(w)->status));
    altdiff_free(w);
    /* a P with entries is refused for the entropy, by name */
    altdiff_int Pp[N + 1] = {0, 1, 1, 1, 1}, Pi[1] = {0};
    double Px[1] = {1};
    altdiff_csc P = {N, N, Pp, Pi, Px};
    prob.P = P;
    ck_assert_int_eq(altdiff_setup_objective_err(&w, &prob, &f, &set, err, sizeof(err)),
                     ALTDIFF_ERR_INVALID);
    ASSERT_SAYS(err, "P has entries", NULL, NULL);
}
END_TEST

/* ---- huge cotangents ------------------------------------------------------------ */

/* A cotangent of 2^1000 gives exactly 2^1000 times the gradients of w (the
 * VJP is linear and scaled by powers of two); 1e308 overflows the gradients
 * themselves: ALTDIFF_ERR_NUMERICAL with a message that says so (the issue
 * reported "CHOLMOD failed"), in every mode */
START_TEST(test_huge_cotangent)
{
    altdiff_int n = 6;
    dqp d = small_qp(n);
    for (altdiff_int j = 0; j < n; j++) {
        for (altdiff_int i = 0; i < n; i++) d.P[i + j * n] = i == j ? 0.01 : 0; /* dx/dq ~ 100 */
        d.h[j] = 100; /* x_j >= -100: no bound active */
        d.q[j] = 0.001 * (double)j;
    }
    dqp_finish(&d);
    altdiff_work *w = setup_ok(&d);
    double x[6], wx[6], wbig[6], g1[6], g2[6];
    ck_assert_int_eq(solve_read(w, ALTDIFF_SOLVED, x), ALTDIFF_OK);
    const int modes[] = {ALTDIFF_MODE_GMRES, ALTDIFF_MODE_KKT, ALTDIFF_MODE_ADJOINT};
    for (int k = 0; k < 3; k++) {
        altdiff_deriv_settings ds = dset(modes[k], 1e-10);
        for (altdiff_int j = 0; j < n; j++) {
            wx[j] = (double)(j + 1) / (double)n;
            wbig[j] = ldexp(wx[j], 1000);
        }
        ck_assert_int_eq(altdiff_vjp(w, &ds, wx, g1, NULL, NULL, NULL), ALTDIFF_OK);
        ck_assert_int_eq(altdiff_vjp(w, &ds, wbig, g2, NULL, NULL, NULL), ALTDIFF_OK);
        for (altdiff_int j = 0; j < n; j++) ck_assert_double_eq(g2[j], ldexp(g1[j], 1000));
        for (altdiff_int j = 0; j < n; j++) wbig[j] = ldexp(wx[j], 1023); /* |g| 2^1023 x ~50 */
        ck_assert_int_eq(altdiff_vjp(w, &ds, wbig, g2, NULL, NULL, NULL), ALTDIFF_ERR_NUMERICAL);
        ASSERT_SAYS(altdiff_last_error(w), "overflow", NULL, NULL);
    }
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

static Suite *suite_api(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("recovery");
    tcase_add_test(tc, test_recover_huge_q);
    tcase_add_test(tc, test_recover_huge_rho);
    tcase_add_test(tc, test_recover_warm_start_after_failure);
    tcase_add_test(tc, test_update_vectors_h);
    tcase_add_test(tc, test_solution_codes);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("validation");
    tcase_add_test(tc, test_update_matrices_atomic);
    tcase_add_test(tc, test_update_rho_warm_theta_checks);
    tcase_add_test(tc, test_setup_messages);
    tcase_add_test(tc, test_setup_P_pointers);
    tcase_add_test(tc, test_setup_overflow);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch_smooth");
    tcase_add_test(tc, test_batch);
    tcase_add_test(tc, test_entropy_infeasible);
    tcase_add_test(tc, test_huge_cotangent);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_api()); }
