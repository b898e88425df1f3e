/* check_cli: the command-line contract of `altdiff solve` (arguments, output
 * files, exit status), checked by running the built executable on the tiny
 * instances and comparing what it writes with independent computations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "sp.h"

static char tmp[128];

/* Run the tool with args (a shell word list); stdout/stderr go to files in
 * tmp; returns the exit status */
static int run(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "%s %s >%s/stdout 2>%s/stderr", AD_ALTDIFF_EXE, args, tmp, tmp);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* 1 if file tmp/name contains text */
static int output_has(const char *name, const char *text)
{
    char path[1024], buf[8192];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = 0;
    return strstr(buf, text) != NULL;
}

static int exists(const char *dir, const char *name)
{
    char path[2048];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* Read an n x 1 vector file from dir */
static double *vec(const char *dir, const char *name, altdiff_int n)
{
    char path[2048], err[256];
    double *v = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_msg(altdiff_read_vector(path, n, &v, err, sizeof(err)) == ALTDIFF_OK, "%s", err);
    return v;
}

static void setup_tmp(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/altdiff_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown_tmp(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

#define EQ_BOX AD_DATA_DIR "/tiny/eq_box"

/* eq_box: P = diag(1,2,3,4), 1'x = 1, -1 <= x <= 1, with no bound active at
 * the solution: x_i = -(q_i + lam)/d_i with lam from 1'x = 1. */
static void eq_box_solution(double x[4], double *lam)
{
    double *q = vec(EQ_BOX, "q.mtx", 4), sq = 0, sinv = 0;
    for (int i = 0; i < 4; i++) {
        sq += q[i] / (i + 1);
        sinv += 1.0 / (i + 1);
    }
    *lam = -(1 + sq) / sinv;
    for (int i = 0; i < 4; i++) x[i] = -(q[i] + *lam) / (i + 1);
    for (int i = 0; i < 4; i++) ck_assert(fabs(x[i]) < 1); /* the box is inactive */
    altdiff_free_array(q);
}

START_TEST(test_help)
{
    ck_assert_int_eq(run("--help"), 0);
    ck_assert(output_has("stdout", "--grad"));
    ck_assert(output_has("stdout", "--jacobian"));
    ck_assert(output_has("stdout", "exit status"));
    ck_assert_int_eq(run(""), 2);
}
END_TEST

START_TEST(test_solve_writes_solution)
{
    char args[2048];
    snprintf(args, sizeof(args), "solve %s --out %s/out --eps 1e-9", EQ_BOX, tmp);
    ck_assert_int_eq(run(args), 0);
    ck_assert(output_has("stdout", "status: solved"));
    ck_assert(output_has("stdout", "iterations:"));
    ck_assert(output_has("stdout", "time: read"));
    char out[512];
    snprintf(out, sizeof(out), "%s/out", tmp);
    double xs[4], lam_s, *x = vec(out, "x.mtx", 4), *lam = vec(out, "lam.mtx", 1);
    double *s = vec(out, "s.mtx", 8), *nu = vec(out, "nu.mtx", 8);
    eq_box_solution(xs, &lam_s);
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq_tol(x[i], xs[i], 1e-7);
        ck_assert_double_eq_tol(s[i], 1 - xs[i], 1e-7);     /* s = h - G x */
        ck_assert_double_eq_tol(s[i + 4], 1 + xs[i], 1e-7);
    }
    ck_assert_double_eq_tol(lam[0], lam_s, 1e-7);
    for (int i = 0; i < 8; i++) ck_assert(nu[i] == 0); /* inactive: exactly zero */
    altdiff_free_array(x);
    altdiff_free_array(lam);
    altdiff_free_array(s);
    altdiff_free_array(nu);
}
END_TEST

START_TEST(test_usage_errors)
{
    const char *bad[] = {"solve", "solve " EQ_BOX " --eps -1", "solve " EQ_BOX " --eps x",
                         "solve " EQ_BOX " --max-iter 0", "solve " EQ_BOX " --bogus",
                         "solve " EQ_BOX " --grad w.mtx", "solve " EQ_BOX " --mode fast",
                         "solve " EQ_BOX " --out o --jacobian z",
                         "solve " EQ_BOX " --out o --jacobian q --mode gmres",
                         "solve " EQ_BOX " --out o --matrix-grads", "frobnicate"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        ck_assert_msg(run(bad[k]) == 2, "'%s' should be a usage error", bad[k]);
        ck_assert(output_has("stderr", "altdiff"));
    }
}
END_TEST

START_TEST(test_bad_input)
{
    ck_assert_int_eq(run("solve " AD_DATA_DIR "/bad/dims_q"), 3);
    ck_assert(output_has("stderr", "q.mtx"));
    ck_assert_int_eq(run("solve /nonexistent/dir"), 3);
    ck_assert(output_has("stderr", "/nonexistent/dir"));
}
END_TEST

/* A directory holding an infeasible problem: x <= 0 and -x <= -1 */
static void write_infeasible(char *dir)
{
    char path[1024];
    snprintf(dir, 256, "%s/infeas", tmp);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    const char *files[][2] = {
        {"P.mtx", "%%MatrixMarket matrix coordinate real symmetric\n1 1 1\n1 1 1\n"},
        {"q.mtx", "%%MatrixMarket matrix array real general\n1 1\n0\n"},
        {"G.mtx", "%%MatrixMarket matrix coordinate real general\n2 1 2\n1 1 1\n2 1 -1\n"},
        {"h.mtx", "%%MatrixMarket matrix array real general\n2 1\n0\n-1\n"}};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[k][0]);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(files[k][1], f);
        fclose(f);
    }
}

START_TEST(test_unsolved_writes_nothing)
{
    char dir[256], args[4096], out[1024];
    write_infeasible(dir);
    snprintf(out, sizeof(out), "%s/out", tmp);
    snprintf(args, sizeof(args), "solve %s --out %s", dir, out);
    ck_assert_int_eq(run(args), 1);
    ck_assert(output_has("stderr", "primal infeasible"));
    ck_assert(!exists(out, "x.mtx") && !exists(out, "nu.mtx"));
}
END_TEST

/* The shipped gradient run: every mode gives the KKT mode's dq, db, dh */
START_TEST(test_grad_modes_agree)
{
    const char *modes[] = {"kkt", "adjoint", "gmres", "unroll", "altdiff"};
    char args[2048], out[512], wpath[512];
    snprintf(wpath, sizeof(wpath), "%s/w.mtx", tmp);
    FILE *f = fopen(wpath, "w");
    ck_assert_ptr_nonnull(f);
    fputs("%%MatrixMarket matrix array real general\n4 1\n1\n-2\n0.5\n3\n", f);
    fclose(f);
    double *ref = NULL;
    for (int k = 0; k < 5; k++) {
        snprintf(out, sizeof(out), "%s/%s", tmp, modes[k]);
        snprintf(args, sizeof(args), "solve %s --out %s --grad %s --mode %s --eps 1e-10", EQ_BOX,
                 out, wpath, modes[k]);
        ck_assert_msg(run(args) == 0, "mode %s", modes[k]);
        ck_assert(output_has("stdout", "backward: mode"));
        double *dq = vec(out, "dq.mtx", 4);
        ck_assert(exists(out, "db.mtx") && exists(out, "dh.mtx"));
        if (!ref) {
            ref = dq;
            continue;
        }
        for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(dq[i], ref[i], 1e-6);
        altdiff_free_array(dq);
    }
    /* closed form: dx/dq = -(D^-1 - D^-1 1 1' D^-1 / 1'D^-1 1), D = diag(1,2,3,4) */
    double w[4] = {1, -2, 0.5, 3}, sinv = 1 + 0.5 + 1.0 / 3 + 0.25, wd = 0;
    for (int i = 0; i < 4; i++) wd += w[i] / (i + 1);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq_tol(ref[i], -(w[i] / (i + 1) - wd / ((i + 1) * sinv)), 1e-8);
    altdiff_free_array(ref);
}
END_TEST

START_TEST(test_jacobian_and_matrix_grads)
{
    char args[2048], out[512], path[1024], err[256];
    snprintf(out, sizeof(out), "%s/jac", tmp);
    snprintf(args, sizeof(args), "solve %s --out %s --jacobian b --eps 1e-10", EQ_BOX, out);
    ck_assert_int_eq(run(args), 0);
    double *J = vec(out, "Jb.mtx", 4); /* n x m = 4 x 1 */
    double sinv = 1 + 0.5 + 1.0 / 3 + 0.25;
    for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(J[i], 1.0 / ((i + 1) * sinv), 1e-8);
    altdiff_free_array(J);
    snprintf(args, sizeof(args), "solve %s --out %s/mg --grad %s/mg_w.mtx --matrix-grads",
             EQ_BOX, tmp, tmp);
    snprintf(path, sizeof(path), "%s/mg_w.mtx", tmp);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("%%MatrixMarket matrix array real general\n4 1\n1\n0\n0\n0\n", f);
    fclose(f);
    ck_assert_int_eq(run(args), 0);
    snprintf(path, sizeof(path), "%s/mg", tmp);
    ck_assert(exists(path, "dP.mtx") && exists(path, "dA.mtx") && exists(path, "dG.mtx"));
    /* dP on the pattern of P.mtx (the diagonal), dP_ii = dq_i x_i (MATH.md) */
    snprintf(path, sizeof(path), "%s/mg/dP.mtx", tmp);
    cs_dl *dP = NULL;
    int sym = 0;
    ck_assert_int_eq(ad_mm_read_sparse(path, &dP, &sym, err, sizeof(err)), ALTDIFF_OK);
    snprintf(path, sizeof(path), "%s/mg", tmp);
    double *x = vec(path, "x.mtx", 4), *dq = vec(path, "dq.mtx", 4);
    ck_assert(sym == 1 && dP->n == 4 && dP->p[4] == 4);
    for (int j = 0; j < 4; j++) {
        ck_assert_int_eq(dP->i[dP->p[j]], j);
        ck_assert_double_eq_tol(dP->x[dP->p[j]], dq[j] * x[j], 1e-9);
    }
    ad_spfree(dP);
    altdiff_free_array(x);
    altdiff_free_array(dq);
}
END_TEST

static Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("solve");
    tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_solve_writes_solution);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_unsolved_writes_nothing);
    tcase_add_test(tc, test_grad_modes_agree);
    tcase_add_test(tc, test_jacobian_and_matrix_grads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_cli()); }
