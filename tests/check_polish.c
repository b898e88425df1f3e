/* check_polish.c: solution polishing (src/polish.c, doc/MATH.md 3.10). A
 * polished loose solve matches the exact solution of QPs built from it (QPs
 * and LPs); a wrong active-set guess is rejected and leaves the iterates as
 * they were; a MAX_ITER point near the tolerance becomes SOLVED; the
 * settings switch it off (and record = 1, smooth objectives, invalid
 * values); derivatives are taken at the polished point; the CLI reports it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "helpers.h"
#include "ad_internal.h"

/* ---- QPs built from their solution ------------------------------------------- */


/* A strictly complementary QP: P = M'M/n + 0.1 I (lp: P = 0), A, G, x, lam
 * standard normal; `active` rows of G (the first ones) with nu in [0.5, 1.5),
 * the others inactive with s in [0.5, 1.5). An LP with m + active = n has
 * the unique solution x (a nondegenerate vertex). */
static dqp strict(altdiff_int n, altdiff_int m, altdiff_int p, altdiff_int active, int lp,
                  uint64_t seed)
{
    rng r = {seed};
    dqp d = dqp_alloc(n, m, p);
    random_spd(&r, n, 0.1, d.P); /* P = M'M / n + 0.1 I */
    if (lp) memset(d.P, 0, sizeof(double) * (size_t)(n * n)); /* an LP */
    randn(&r, d.A, m * n);
    randn(&r, d.G, p * n);
    randn(&r, d.x, n);
    randn(&r, d.lam, m);
    for (altdiff_int k = 0; k < p; k++) {
        double u = 0.5 + rng_unif(&r);
        d.nu[k] = k < active ? u : 0;
        d.s[k] = k < active ? 0 : u;
    }
    dqp_from_solution(&d);
    dqp_finish(&d);
    return d;
}

/* Solve d at tolerance eps with settings.polish = polish; x receives the
 * solution, *info the info. Returns the workspace (caller frees). */
static altdiff_work *solve_at(dqp *d, double eps, int polish, double *x, altdiff_info *info)
{
    altdiff_settings set = solve_settings(0, eps);
    set.polish = polish;
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, &d->prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    *info = *altdiff_get_info(w);
    ck_assert_int_eq(altdiff_get_solution(w, x, NULL, NULL, NULL), ALTDIFF_OK);
    return w;
}

/* The loose (eps) and the polished solution against the exact one, over
 * seeds; for LPs too. Every polished point is exact to 1e-9 and passes the
 * independent KKT check; a rejected one is the loose point. QPs: every
 * polish is accepted; LPs: at least `need` of the 8 (a loose ADMM point of a
 * random LP does not always show the active set). */
static void accuracy(int lp, double eps, int need)
{
    double worst_off = 0, worst_on = 0;
    int accepted = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        altdiff_int n = 12 + (altdiff_int)(seed % 4) * 4, m = 1 + (altdiff_int)(seed % 3);
        altdiff_int p = 2 * n, active = lp ? n - m : n / 2;
        dqp d = strict(n, m, p, active, lp, 100 * seed + (uint64_t)lp);
        double *x0 = zeros(n), *x1 = zeros(n), *lam = zeros(m), *nu = zeros(p), kkt[5];
        altdiff_info i0, i1;
        altdiff_free(solve_at(&d, eps, 0, x0, &i0));
        altdiff_work *w = solve_at(&d, eps, 1, x1, &i1);
        ck_assert_int_eq(altdiff_get_solution(w, NULL, NULL, lam, nu), ALTDIFF_OK);
        altdiff_free(w);
        double e0 = rel_diff(x0, d.x, n), e1 = rel_diff(x1, d.x, n);
        kkt_residuals(n, m, p, d.P, d.q, d.A, d.b, d.G, d.h, x1, lam, nu, kkt);
        printf("[polish] %s seed %lu: n %ld, %ld iterations, x error %.1e -> %.1e (polish %d, "
               "%.2e s)\n", lp ? "LP" : "QP", (unsigned long)seed, (long)n, (long)i1.iter, e0,
               e1, i1.polish, i1.t_polish);
        worst_off = fmax(worst_off, e0);
        ck_assert_int_eq(i0.status, ALTDIFF_SOLVED);
        ck_assert_int_eq(i0.polish, 0);
        ck_assert_int_eq(i1.status, ALTDIFF_SOLVED);
        ck_assert(i1.polish == 1 || i1.polish == -1);
        /* the same iterations then the polish, or fewer: polished on the way */
        ck_assert(i1.polish > 0 ? i1.iter <= i0.iter : i1.iter == i0.iter);
        if (i1.polish < 0) {
            ck_assert(e1 == e0 && i1.r_prim == i0.r_prim && i1.r_dual == i0.r_dual);
            free(x0), free(x1), free(lam), free(nu);
            dqp_free(&d);
            continue;
        }
        accepted++;
        worst_on = fmax(worst_on, e1);
        ck_assert_msg(e1 <= 1e-9, "seed %lu: polished x error %g", (unsigned long)seed, e1);
        ck_assert(i1.r_prim <= 1e-9 && i1.r_dual <= 1e-9);
        ck_assert(kkt[0] <= 1e-9 && kkt[1] <= 1e-9 && kkt[2] <= 1e-9 && kkt[3] == 0 &&
                  kkt[4] <= 1e-9);
        free(x0), free(x1), free(lam), free(nu);
        dqp_free(&d);
    }
    printf("[polish] %s: worst x error at eps %g: %.1e without, %.1e with polishing "
           "(%d of 8 accepted)\n", lp ? "LP" : "QP", eps, worst_off, worst_on, accepted);
    ck_assert_int_ge(accepted, need);
    ck_assert(worst_off > 1e-7); /* the loose solves were loose */
}

START_TEST(test_accuracy_qp) { accuracy(0, 1e-3, 8); }
END_TEST

START_TEST(test_accuracy_lp) { accuracy(1, 1e-3, 6); }
END_TEST

/* ---- a wrong guess ------------------------------------------------------------ */

/* min 1/2 |x - c|^2, c = (2, 0), s.t. x_0 <= 1, x_1 <= 1: x = (1, 0),
 * row 0 active (nu = 1), row 1 inactive (s = 1) */
static dqp box2(void)
{
    dqp d = dqp_alloc(2, 0, 2);
    d.P[0] = d.P[3] = 1;
    d.q[0] = -2;
    d.G[0] = d.G[3] = 1; /* G = I */
    d.h[0] = d.h[1] = 1;
    dqp_finish(&d);
    return d;
}

/* Install (x, s, nu) with altdiff_set_solution (eps loose enough that the
 * status is SOLVED when sol is), polish it directly; returns the outcome and
 * leaves the iterates after it in x, s, nu and the guesses made in *rounds */
static int polish_point(dqp *d, double *x, double *s, double *nu, int solved, int *rounds)
{
    altdiff_settings set = solve_settings(0, 1e-6);
    set.scaling = 0;
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, &d->prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_set_solution(w, x, s, NULL, nu), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(w)->status, solved ? ALTDIFF_SOLVED : ALTDIFF_UNSOLVED);
    residuals_t r = {0};
    ad_residuals(&w->model, &w->state, w->state.x, &r);
    int outcome = 0;
    ck_assert_int_eq(ad_polish_try(&w->model, &w->state, &r, 8, &outcome, rounds), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_solution(w, x, s, NULL, nu), ALTDIFF_OK);
    altdiff_free(w);
    return outcome;
}

/* 1 if (x, s, nu) is box2's solution x = (1, 0), s = (0, 1), nu = (1, 0) to rounding */
static int box2_solution(const double *x, const double *s, const double *nu)
{
    return fabs(x[0] - 1) <= 1e-15 && fabs(x[1]) <= 1e-15 && s[0] == 0 &&
           fabs(s[1] - 1) <= 1e-15 && fabs(nu[0] - 1) <= 1e-15 && nu[1] == 0;
}

START_TEST(test_wrong_guess)
{
    dqp d = box2();
    int rounds = 0;
    /* row 0 guessed inactive: the first polished x = c violates it by 1, so
     * it joins the guess, and the second is the solution */
    double x[2] = {1.5, 0}, s[2] = {0.5, 1}, nu[2] = {0, 0};
    ck_assert_int_eq(polish_point(&d, x, s, nu, 0, &rounds), 1);
    ck_assert_int_eq(rounds, 2);
    ck_assert(box2_solution(x, s, nu));
    /* row 1 guessed active too: x = (1, 1) with nu_1 = -1 < 0, so it leaves */
    double x2[2] = {1, 0.5}, s2[2] = {0, 0}, nu2[2] = {1, 0.5};
    ck_assert_int_eq(polish_point(&d, x2, s2, nu2, 0, &rounds), 1);
    ck_assert_int_eq(rounds, 2);
    ck_assert(box2_solution(x2, s2, nu2));
    /* the right guess, from a point near the solution: the exact one at once */
    double x3[2] = {1 + 1e-4, 1e-4}, s3[2] = {0, 1}, nu3[2] = {1 - 1e-4, 0};
    ck_assert_int_eq(polish_point(&d, x3, s3, nu3, 0, &rounds), 1);
    ck_assert_int_eq(rounds, 1);
    printf("[polish] box: polished x (%.17g, %.17g), s (%g, %.17g), nu (%.17g, %g)\n", x3[0],
           x3[1], s3[0], s3[1], nu3[0], nu3[1]);
    ck_assert(box2_solution(x3, s3, nu3));
    /* a solved point whose guess is right: polished */
    double x4[2] = {1, 1e-8}, s4[2] = {0, 1 - 1e-8}, nu4[2] = {1, 0};
    ck_assert_int_eq(polish_point(&d, x4, s4, nu4, 1, &rounds), 1);
    ck_assert(fabs(x4[1]) <= 1e-15);
    /* an exact point (score 0): the polished one cannot do better than a
     * tie, and a point no better than the ADMM one is rejected unchanged */
    double x5[2] = {1, 0}, s5[2] = {0, 1}, nu5[2] = {1, 0};
    int o5 = polish_point(&d, x5, s5, nu5, 1, &rounds);
    ck_assert(box2_solution(x5, s5, nu5));
    ck_assert(o5 == 1 || o5 == -1);
    dqp_free(&d);
}
END_TEST

/* A wrong guess from a real solve: a loose ADMM point on a QP with a row
 * active at the solution but barely (nu = 1e-3): at eps 1e-1 the solve may
 * misclassify it; whatever the outcome, a polished result passes the
 * stopping test and a rejected one is the ADMM point */
START_TEST(test_rejected_keeps_admm_point)
{
    int rejected = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        dqp d = strict(10, 1, 20, 5, 0, 900 + seed);
        d.nu[4] = 1e-3; /* weakly active rows: hard to guess */
        d.s[5] = 1e-3;
        dqp_from_solution(&d);
        dqp_finish(&d);
        double *x0 = zeros(10), *x1 = zeros(10);
        altdiff_info i0, i1;
        altdiff_free(solve_at(&d, 1e-2, 0, x0, &i0));
        altdiff_free(solve_at(&d, 1e-2, 2, x1, &i1));
        ck_assert_int_eq(i1.status, ALTDIFF_SOLVED);
        ck_assert(i1.polish != 0);
        if (i1.polish < 0) {
            rejected++;
            for (int j = 0; j < 10; j++) ck_assert(x1[j] == x0[j]);
            ck_assert(i1.r_prim == i0.r_prim && i1.r_dual == i0.r_dual && i1.obj == i0.obj);
        } else {
            ck_assert(i1.r_prim <= i1.eps_prim && i1.r_dual <= i1.eps_dual);
        }
        free(x0), free(x1);
        dqp_free(&d);
    }
    printf("[polish] loose solves with weakly active rows: %d of 20 polishes rejected\n",
           rejected);
}
END_TEST

/* ---- MAX_ITER, settings ------------------------------------------------------- */

/* An iteration limit reached close to the tolerance: the polished point
 * passes the stopping test, status SOLVED */
START_TEST(test_max_iter_polished)
{
    dqp d = strict(20, 2, 40, 10, 0, 77);
    double *x = zeros(20);
    altdiff_info info;
    altdiff_free(solve_at(&d, 1e-6, 0, x, &info)); /* iterations to reach 1e-6 */
    altdiff_settings set = solve_settings(0, 1e-8);
    set.max_iter = info.iter;
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    info = *altdiff_get_info(w);
    ck_assert_int_eq(altdiff_get_solution(w, x, NULL, NULL, NULL), ALTDIFF_OK);
    altdiff_free(w);
    printf("[polish] max_iter %ld at eps 1e-8: status %s, polish %d, x error %.1e\n",
           (long)info.iter, altdiff_status_string(info.status), info.polish,
           rel_diff(x, d.x, 20));
    ck_assert_int_eq(info.polish, 1);
    ck_assert_int_eq(info.status, ALTDIFF_SOLVED);
    ck_assert(rel_diff(x, d.x, 20) <= 1e-9);
    free(x);
    dqp_free(&d);
}
END_TEST

START_TEST(test_settings)
{
    dqp d = strict(8, 1, 16, 4, 0, 5);
    altdiff_settings set = altdiff_settings_default();
    ck_assert_int_eq(set.polish, 1);
    altdiff_work *w = NULL;
    set.polish = 3;
    ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_ERR_INVALID);
    set.polish = -1;
    ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_ERR_INVALID);
    double x[8];
    altdiff_info info;
    altdiff_free(solve_at(&d, 1e-6, 0, x, &info));
    ck_assert(info.polish == 0 && info.t_polish == 0);
    set = solve_settings(1, 1e-6); /* record = 1: the recorded iterations are the solution */
    ck_assert_int_eq(altdiff_setup(&w, &d.prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_SOLVED);
    ck_assert_int_eq(altdiff_get_info(w)->polish, 0);
    /* set_solution: not polished */
    ck_assert_int_eq(altdiff_set_solution(w, d.x, d.s, d.lam, d.nu), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(w)->polish, 0);
    altdiff_free(w);
    /* the entropy (smooth): not polished */
    double y[3] = {0.1, 0.5, -0.2}, one = 1;
    altdiff_int Ap[4] = {0, 1, 2, 3}, Ai[3] = {0, 0, 0};
    double Ax[3] = {1, 1, 1};
    altdiff_problem prob = {3, 1, 0, {0, 0, NULL, NULL, NULL}, {1, 3, Ap, Ai, Ax},
                            {0, 3, NULL, NULL, NULL}, NULL, &one, NULL};
    altdiff_objective f = {0};
    f.kind = ALTDIFF_OBJECTIVE_ENTROPY;
    f.y = y;
    set = altdiff_settings_default();
    ck_assert_int_eq(altdiff_setup_objective(&w, &prob, &f, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(w)->status, ALTDIFF_SOLVED);
    ck_assert_int_eq(altdiff_get_info(w)->polish, 0);
    altdiff_free(w);
    dqp_free(&d);
}
END_TEST

/* ---- derivatives at the polished point ------------------------------------------ */

/* A loose (1e-4) polished solve: VJPs in every mode but UNROLL (record
 * excludes polishing) and the matrix gradients agree with the KKT mode at
 * the exact solution installed by altdiff_set_solution */
START_TEST(test_derivatives)
{
    altdiff_int n = 16, m = 2, p = 32;
    dqp d = strict(n, m, p, 8, 0, 4242);
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *we = NULL;
    ck_assert_int_eq(altdiff_setup(&we, &d.prob, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_set_solution(we, d.x, d.s, d.lam, d.nu), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_get_info(we)->status, ALTDIFF_SOLVED);
    rng r = {17};
    double *wx = zeros(n), *x = zeros(n);
    randn(&r, wx, n);
    altdiff_int nP = d.Pc.p[n], nA = d.Ac.p[n], nG = d.Gc.p[n];
    double *rq = zeros(n), *rb = zeros(m), *rh = zeros(p);
    double *rP = zeros(nP), *rA = zeros(nA), *rG = zeros(nG);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_KKT, 1e-12);
    ck_assert_int_eq(altdiff_vjp(we, &ds, wx, rq, rb, rh, NULL), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_matrix_grads(we, rq, rb, rh, rP, rA, rG), ALTDIFF_OK);
    altdiff_free(we);
    altdiff_info info;
    altdiff_work *w = solve_at(&d, 1e-4, 1, x, &info);
    ck_assert_int_eq(info.polish, 1);
    int modes[4] = {ALTDIFF_MODE_ADJOINT, ALTDIFF_MODE_GMRES, ALTDIFF_MODE_ALTDIFF,
                    ALTDIFF_MODE_KKT};
    double *gq = zeros(n), *gb = zeros(m), *gh = zeros(p);
    double *gP = zeros(nP), *gA = zeros(nA), *gG = zeros(nG);
    for (int i = 0; i < 4; i++) {
        ds = dset(modes[i], 1e-11);
        ck_assert_int_eq(altdiff_vjp(w, &ds, wx, gq, gb, gh, NULL), ALTDIFF_OK);
        ck_assert_int_eq(altdiff_matrix_grads(w, gq, gb, gh, gP, gA, gG), ALTDIFF_OK);
        double e = fmax(fmax(rel_diff(gq, rq, n), rel_diff(gb, rb, m)), rel_diff(gh, rh, p));
        double em = fmax(fmax(rel_diff(gP, rP, nP), rel_diff(gA, rA, nA)), rel_diff(gG, rG, nG));
        printf("[polish] derivatives at the polished point, %s: vectors %.1e, matrices %.1e\n",
               mode_name(modes[i]), e, em);
        ck_assert_msg(e <= 1e-7 && em <= 1e-7, "%s: %g %g", mode_name(modes[i]), e, em);
    }
    altdiff_free(w);
    void *arrays[] = {wx, x, rq, rb, rh, rP, rA, rG, gq, gb, gh, gP, gA, gG};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) free(arrays[k]);
    dqp_free(&d);
}
END_TEST

/* ---- the command line ------------------------------------------------------------ */

/* Run "altdiff ARGS > out 2>&1"; the exit status, the output in buf */
static int run_cli(const char *args, char *buf, size_t len)
{
    char cmd[1024], out[] = "/tmp/altdiff_polish_cli_XXXXXX";
    int fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    snprintf(cmd, sizeof(cmd), "%s %s > %s 2>&1", AD_ALTDIFF_EXE, args, out);
    int rc = system(cmd);
    FILE *f = fopen(out, "r");
    size_t got = f ? fread(buf, 1, len - 1, f) : 0;
    buf[got] = 0;
    if (f) fclose(f);
    remove(out);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_cli)
{
    char dir[] = "/tmp/altdiff_polish_XXXXXX", args[512], buf[8192];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(args, sizeof(args), "gen sparsemax %s/p n=50", dir);
    ck_assert_int_eq(run_cli(args, buf, sizeof(buf)), 0);
    snprintf(args, sizeof(args), "solve %s/p --eps 1e-4", dir);
    ck_assert_int_eq(run_cli(args, buf, sizeof(buf)), 0);
    ck_assert_msg(strstr(buf, "polish: accepted") != NULL, "%s", buf);
    snprintf(args, sizeof(args), "solve %s/p --polish 0", dir);
    ck_assert_int_eq(run_cli(args, buf, sizeof(buf)), 0);
    ck_assert_msg(strstr(buf, "polish: not tried") != NULL, "%s", buf);
    snprintf(args, sizeof(args), "solve %s/p --polish 3", dir);
    ck_assert_int_eq(run_cli(args, buf, sizeof(buf)), 2);
    snprintf(args, sizeof(args), "rm -rf %s", dir);
    ck_assert_int_eq(system(args), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("polish");
    TCase *tc = tcase_create("polish");
    tcase_add_test(tc, test_accuracy_qp);
    tcase_add_test(tc, test_accuracy_lp);
    tcase_add_test(tc, test_wrong_guess);
    tcase_add_test(tc, test_rejected_keeps_admm_point);
    tcase_add_test(tc, test_max_iter_polished);
    tcase_add_test(tc, test_settings);
    tcase_add_test(tc, test_derivatives);
    tcase_add_test(tc, test_cli);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
