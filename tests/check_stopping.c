/* check_stopping.c: the stopping test cannot accept a wrong point. Points
 * are installed with altdiff_set_solution (which applies the stopping test
 * of a solve) and built so that the old tests' scales would have hidden the
 * error: cancelling multipliers, a residual widening its own tolerance, a
 * duality gap with small residuals; and every solved point of a few solves
 * passes an independent KKT check in original units, the library's test's
 * and the command-line tool's own (src/cli/kktcheck.c), which also rejects
 * wrong points whatever the storage of P. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "helpers.h"

/* A dense QP with the given rows (P = I on n = 2) */
static dqp two_var(altdiff_int m, altdiff_int p)
{
    dqp d = dqp_alloc(2, m, p);
    d.P[0] = d.P[3] = 1;
    return d;
}

/* The status altdiff_set_solution gives the point (x, s, lam, nu) of d */
static int status_of(dqp *d, const double *x, const double *s, const double *lam,
                     const double *nu, altdiff_info *out)
{
    dqp_finish(d);
    altdiff_settings set = altdiff_settings_default();
    set.scaling = 0; /* the point is given in original units either way */
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, &d->prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_set_solution(w, x, s, lam, nu), ALTDIFF_OK);
    *out = *altdiff_get_info(w);
    altdiff_free(w);
    return out->status;
}

/* A'lam and G'nu of size 1e13 cancelling: dual residual 1e6 must not pass
 * (the old scale max(|A'lam|, |G'nu|) gave a tolerance of 1e7) */
START_TEST(test_cancelling_multipliers)
{
    dqp d = two_var(1, 1);
    d.A[0] = 1;            /* x_0 = 0 */
    d.G[0] = 1;            /* x_0 <= 0 */
    d.q[0] = 0;
    d.q[1] = 1e6;          /* dual residual of x = 0: q_1 = 1e6 */
    double x[2] = {0, 0}, lam[1] = {-1e13}, nu[1] = {1e13}, s[1] = {0};
    altdiff_info info;
    ck_assert_int_eq(status_of(&d, x, s, lam, nu, &info), ALTDIFF_UNSOLVED);
    ck_assert_double_ge(info.r_dual, 1e6);
    ck_assert_double_le(info.eps_dual, 2.0); /* scale |q| = 1e6 at most: 1 */
    d.q[1] = 0;                              /* now a KKT point */
    ck_assert_int_eq(status_of(&d, x, s, lam, nu, &info), ALTDIFF_SOLVED);
    dqp_free(&d);
}
END_TEST

/* eps_prim follows the documented scale: an inactive row's bound (s > 0,
 * here a big-M bound of 1e7) does not enter it, an active row's does */
START_TEST(test_primal_scale)
{
    dqp d = two_var(0, 2);
    d.G[0] = 1;            /* row 0: x_0 <= 1e7, inactive          */
    d.G[1 + 2 * 1] = 1;    /* row 1: x_1 <= 1e3, active (s = 0)    */
    d.h[0] = 1e7;
    d.h[1] = 1e3;
    d.q[1] = -1e3;         /* x = (0, 1e3), nu = (0, 0): P x + q = 0 */
    double x[2] = {0, 1e3}, s[2] = {1e7, 0}, nu[2] = {0, 0};
    altdiff_info info;
    ck_assert_int_eq(status_of(&d, x, s, NULL, nu, &info), ALTDIFF_SOLVED);
    ck_assert_double_eq_tol(info.eps_prim, 1e-6 + 1e-6 * 1e3, 1e-12);
    x[0] = 2e-3;           /* row 0 now off by 2e-3: above 1e-6 + 1e-3 */
    ck_assert_int_eq(status_of(&d, x, s, NULL, nu, &info), ALTDIFF_UNSOLVED);
    dqp_free(&d);
}
END_TEST

/* Nearly dependent equality rows with huge opposite multipliers: residuals
 * at the tolerance, duality gap 1e3 times the objective */
START_TEST(test_duality_gap)
{
    dqp d = two_var(2, 0);
    d.P[0] = d.P[3] = 0;   /* an LP in x_0 (P = 0; sigma makes H definite) */
    d.A[0] = 1;            /* x_0 = 1        */
    d.A[1] = 1;            /* x_0 = 1 + 1e-7 */
    d.b[0] = 1;
    d.b[1] = 1 + 1e-7;
    d.q[0] = 1;
    double x[2] = {1 + 5e-8, 0}, lam[2] = {1e10, -1e10 - 1};
    altdiff_info info; /* q + A'lam = 0; residuals 5e-8 */
    ck_assert_int_eq(status_of(&d, x, NULL, lam, NULL, &info), ALTDIFF_UNSOLVED);
    ck_assert_double_le(info.r_prim, info.eps_prim);
    ck_assert_double_le(info.r_dual, info.eps_dual);
    ck_assert_double_ge(info.gap, 100);
    lam[0] = 0;
    lam[1] = -1;
    ck_assert_int_eq(status_of(&d, x, NULL, lam, NULL, &info), ALTDIFF_SOLVED);
    dqp_free(&d);
}
END_TEST

/* The tool's check (kktcheck.c) passes the solved point (x, lam, nu) of w
 * with P stored as its upper triangle and as the full matrix, and fails it
 * moved by 1e-3 in x or with a multiplier's sign flipped */
static void cli_check_point(dqp *d, altdiff_work *w, double *x, double *lam, double *nu)
{
    altdiff_int n = d->n, p = d->p;
    const altdiff_info *info = altdiff_get_info(w);
    double *s = zeros(p);
    char why[160];
    ck_assert_int_eq(altdiff_get_solution(w, NULL, s, NULL, NULL), ALTDIFF_OK);
    owned_csc full = csc_from_dense(d->P, n, n);
    altdiff_problem pf = d->prob;
    pf.P = csc_view(&full);
    const altdiff_problem *probs[2] = {&d->prob, &pf};
    for (int k = 0; k < 2; k++) {
        int ok = cli_kkt_check(probs[k], x, s, lam, nu, info, 1e20, why, sizeof(why));
        ck_assert_msg(ok == 1, "P %s: %s", k ? "full" : "upper", why);
    }
    x[0] += 1e-3;
    ck_assert_int_eq(cli_kkt_check(&pf, x, s, lam, nu, info, 1e20, why, sizeof(why)), 0);
    ck_assert_msg(strstr(why, "residual") || strstr(why, "gap"), "%s", why);
    x[0] -= 1e-3;
    altdiff_int k = 0;
    while (k + 1 < p && nu[k] == 0) k++;
    nu[k] = -1 - nu[k];
    ck_assert_int_eq(cli_kkt_check(&pf, x, s, lam, nu, info, 1e20, why, sizeof(why)), 0);
    free_csc(&full);
    free(s);
}

/* Every SOLVED point of random solves passes an independent KKT check in
 * original units (helpers.c: residuals and complementarity) */
START_TEST(test_solved_is_kkt)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        rng r = {seed};
        altdiff_int n = 6 + (altdiff_int)(seed % 5), m = (altdiff_int)(seed % 3), p = 2 * n;
        dqp d = dqp_alloc(n, m, p);
        double *M = zeros(n * n);
        randn(&r, M, n * n);
        for (altdiff_int i = 0; i < n; i++)
            for (altdiff_int j = 0; j < n; j++)
                d.P[i + j * n] = (seed % 4 == 0 ? 0 : dot(M + i * n, M + j * n, n) / (double)n);
        free(M);
        randn(&r, d.q, n);
        randn(&r, d.A, m * n);
        randn(&r, d.G, p * n);
        for (altdiff_int k = 0; k < p; k++) d.h[k] = 1 + rng_unif(&r);
        dqp_finish(&d);
        altdiff_work *w = NULL;
        altdiff_settings set = altdiff_settings_default();
        ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_OK);
        altdiff_solve(w);
        const altdiff_info *info = altdiff_get_info(w);
        if (info->status == ALTDIFF_SOLVED) {
            double *x = zeros(n), *lam = zeros(m), *nu = zeros(p), kkt[5];
            altdiff_get_solution(w, x, NULL, lam, nu);
            kkt_residuals(n, m, p, d.P, d.q, d.A, d.b, d.G, d.h, x, lam, nu, kkt);
            double tol = 10 * (info->eps_prim + info->eps_dual);
            ck_assert_msg(kkt[0] <= tol && kkt[1] <= tol && kkt[2] <= tol && kkt[3] == 0,
                          "seed %lu: KKT residuals %g %g %g %g", (unsigned long)seed, kkt[0],
                          kkt[1], kkt[2], kkt[3]);
            cli_check_point(&d, w, x, lam, nu);
            free(x), free(lam), free(nu);
        }
        altdiff_free(w);
        dqp_free(&d);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stopping");
    TCase *tc = tcase_create("stopping");
    tcase_add_test(tc, test_cancelling_multipliers);
    tcase_add_test(tc, test_primal_scale);
    tcase_add_test(tc, test_duality_gap);
    tcase_add_test(tc, test_solved_is_kkt);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
