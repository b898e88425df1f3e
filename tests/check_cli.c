/* check_cli: the command-line contract of `altdiff solve` (arguments, output
 * files, exit status), checked by running the built executable on the tiny
 * instances and comparing what it writes with independent computations:
 * closed forms for the QP eq_box, and for the entropy instance data/entropy
 * (--objective entropy) the KKT conditions, central finite differences of
 * w'x over y and the symmetry of dx/dy. */
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
static int run(const char *args) { return run_tool(AD_ALTDIFF_EXE, tmp, args); }

/* 1 if file tmp/name contains text */
static int output_has(const char *name, const char *text) { return file_has(tmp, name, text); }

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
    ck_assert(output_has("stdout", "--objective"));
    ck_assert(output_has("stdout", "entropy"));
    ck_assert(output_has("stdout", "5 out of memory"));
    ck_assert(output_has("stdout", "4 output error"));
    ck_assert_int_eq(run(""), 2);
}
END_TEST

START_TEST(test_solve_writes_solution)
{
    char args[2048];
    snprintf(args, sizeof(args), "solve %s --out %s/out --eps 1e-9", EQ_BOX, tmp);
    ck_assert_int_eq(run(args), 0);
    ck_assert(output_has("stdout", "status: solved"));
    ck_assert(output_has("stdout", "check: passed")); /* the tool's own KKT check */
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

/* --anderson 0 gives the plain iterations; the default extrapolates; both
 * reach the same solution */
START_TEST(test_solve_anderson)
{
    char args[2048], out[512];
    double xs[4], lam_s;
    eq_box_solution(xs, &lam_s);
    const char *opt[] = {"--anderson 0", "--anderson 1", ""};
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof(args), "solve %s --out %s/aa%d --eps 1e-9 %s", EQ_BOX, tmp, k,
                 opt[k]);
        ck_assert_int_eq(run(args), 0);
        ck_assert(output_has("stdout", "anderson: "));
        if (k == 0) ck_assert(output_has("stdout", "anderson: 0 extrapolations"));
        snprintf(out, sizeof(out), "%s/aa%d", tmp, k);
        double *x = vec(out, "x.mtx", 4);
        for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(x[i], xs[i], 1e-7);
        altdiff_free_array(x);
    }
}
END_TEST

START_TEST(test_usage_errors)
{
    const char *bad[] = {"solve", "solve " EQ_BOX " --eps -1", "solve " EQ_BOX " --eps x",
                         "solve " EQ_BOX " --max-iter 0", "solve " EQ_BOX " --bogus",
                         "solve " EQ_BOX " --grad w.mtx", "solve " EQ_BOX " --mode fast",
                         "solve " EQ_BOX " --out o --jacobian z",
                         "solve " EQ_BOX " --out o --jacobian q --mode gmres",
                         "solve " EQ_BOX " --out o --matrix-grads", "frobnicate",
                         "solve " EQ_BOX " --objective foo", "solve " EQ_BOX " --objective",
                         "solve " EQ_BOX " --out o --jacobian y",
                         "solve " EQ_BOX " --objective quadratic --out o --jacobian y",
                         "solve " EQ_BOX " --objective entropy --out o --jacobian y --mode gmres",
                         "solve " EQ_BOX " --anderson 51", "solve " EQ_BOX " --anderson -1",
                         "solve " EQ_BOX " --anderson 2.5", "solve " EQ_BOX " --anderson"};
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
    ck_assert(output_has("stderr", "/nonexistent/dir: cannot open the problem directory: No such"));
    ck_assert(!output_has("stderr", "q.mtx"));
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

/* Write the files (name, text) into the new directory tmp/name */
static void write_dir(char *dir, const char *name, const char *const files[][2], int count)
{
    char path[1024];
    snprintf(dir, 256, "%s/%s", tmp, name);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    for (int k = 0; k < count; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[k][0]);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(files[k][1], f);
        fclose(f);
    }
}

/* The summary counts the rows dropped for h >= 1e20; an A whose A'A
 * overflows is reported as that, not as "P is not positive semidefinite" */
START_TEST(test_cli_dropped_rows_and_overflow)
{
    char dir[256], args[4096];
    const char *const dropped[][2] = {
        {"P.mtx", "%%MatrixMarket matrix coordinate real symmetric\n1 1 1\n1 1 1\n"},
        {"q.mtx", "%%MatrixMarket matrix array real general\n1 1\n-1\n"},
        {"G.mtx", "%%MatrixMarket matrix coordinate real general\n2 1 2\n1 1 1\n2 1 -1\n"},
        {"h.mtx", "%%MatrixMarket matrix array real general\n2 1\n1e30\n5\n"}};
    write_dir(dir, "dropped", dropped, 4);
    snprintf(args, sizeof(args), "solve %s", dir);
    ck_assert_int_eq(run(args), 0);
    ck_assert(output_has("stdout", "dropped rows: 1 (h >= 1e20)"));
    const char *const big[][2] = {
        {"P.mtx", "%%MatrixMarket matrix coordinate real symmetric\n1 1 1\n1 1 1\n"},
        {"q.mtx", "%%MatrixMarket matrix array real general\n1 1\n-1\n"},
        {"A.mtx", "%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 1e300\n"},
        {"b.mtx", "%%MatrixMarket matrix array real general\n1 1\n1\n"}};
    write_dir(dir, "overflow", big, 4);
    snprintf(args, sizeof(args), "solve %s", dir);
    ck_assert_int_ne(run(args), 0);
    ck_assert(output_has("stderr", "A'A") && output_has("stderr", "overflow"));
    ck_assert(!output_has("stderr", "not positive"));
}
END_TEST

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

/* ---- the entropy objective (data/entropy) ------------------------------- */

/* data/entropy: altdiff gen entropy n=50 m=5 p=10 seed=1, w ~ N(0, I) */
#define ENTROPY AD_DATA_DIR "/entropy"
#define EN 50
#define EM 5
#define EP 10

/* The matrix file dir/name as a dense column-major nrow x ncol array */
static double *dense_file(const char *dir, const char *name, altdiff_int nrow, altdiff_int ncol)
{
    char path[2048], err[256];
    double *D = NULL;
    altdiff_int r = 0, c = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_msg(ad_mm_read_dense(path, &D, &r, &c, err, sizeof(err)) == ALTDIFF_OK, "%s", err);
    ck_assert(r == nrow && c == ncol);
    return D;
}

/* y += M x (trans = 0) or y += M'x (trans = 1), M dense nrow x ncol */
static void gemv(const double *M, altdiff_int nrow, altdiff_int ncol, int trans, const double *x,
                 double *y)
{
    for (altdiff_int j = 0; j < ncol; j++)
        for (altdiff_int i = 0; i < nrow; i++) {
            if (trans) y[j] += M[i + j * nrow] * x[i]; /* (M'x)_j */
            else y[i] += M[i + j * nrow] * x[j];       /* (M x)_i */
        }
}

/* altdiff solve DIR --objective entropy --out OUT EXTRA: the exit status */
static int solve_entropy(const char *dir, const char *out, const char *extra)
{
    char args[4096];
    snprintf(args, sizeof(args), "solve %s --objective entropy --out %s %s", dir, out, extra);
    return run(args);
}

/* tmp/name, a new directory with copies of the listed files of data/entropy;
 * returns its path (static buffer) */
static const char *entropy_copy(const char *name, const char *files)
{
    static char dir[512];
    char cmd[4096];
    snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && cd %s && cp %s %s", dir, ENTROPY, files, dir);
    ck_assert_int_eq(system(cmd), 0);
    return dir;
}

/* Write the n x 1 vector v as dir/name */
static void write_vec(const char *dir, const char *name, const double *v, altdiff_int n)
{
    char path[2048], err[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_msg(altdiff_write_dense(path, v, n, 1, err, sizeof(err)) == ALTDIFF_OK, "%s", err);
}

/* The solution satisfies the KKT conditions of min -y'x + sum x log x s.t.
 * A x = b, G x <= h, recomputed from the files: x > 0, A x = b, s = h - G x
 * >= 0, nu >= 0, nu's = 0 and log x + 1 - y + A'lam + G'nu = 0 */
START_TEST(test_entropy_solve)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/e", tmp);
    ck_assert_int_eq(solve_entropy(ENTROPY, out, "--eps 1e-9"), 0);
    ck_assert(output_has("stdout", "status: solved"));
    ck_assert(output_has("stdout", "newton:"));
    double *x = vec(out, "x.mtx", EN), *s = vec(out, "s.mtx", EP), *lam = vec(out, "lam.mtx", EM);
    double *nu = vec(out, "nu.mtx", EP), *y = vec(ENTROPY, "y.mtx", EN);
    double *b = vec(ENTROPY, "b.mtx", EM), *h = vec(ENTROPY, "h.mtx", EP);
    double *A = dense_file(ENTROPY, "A.mtx", EM, EN), *G = dense_file(ENTROPY, "G.mtx", EP, EN);
    double Ax[EM] = {0}, Gx[EP] = {0}, g[EN];
    int active = 0;
    gemv(A, EM, EN, 0, x, Ax);
    gemv(G, EP, EN, 0, x, Gx);
    for (int j = 0; j < EN; j++) {
        ck_assert(x[j] > 0);
        g[j] = log(x[j]) + 1 - y[j]; /* grad f(x) */
    }
    gemv(A, EM, EN, 1, lam, g); /* + A'lam */
    gemv(G, EP, EN, 1, nu, g);  /* + G'nu  */
    for (int i = 0; i < EM; i++) ck_assert_double_eq_tol(Ax[i], b[i], 1e-7);
    for (int i = 0; i < EP; i++) {
        ck_assert_double_le(Gx[i], h[i] + 1e-7);
        ck_assert_double_eq_tol(s[i], h[i] - Gx[i], 1e-7);
        ck_assert(s[i] >= 0 && nu[i] >= 0 && s[i] * nu[i] == 0);
        active += nu[i] > 0;
    }
    for (int j = 0; j < EN; j++) ck_assert_msg(fabs(g[j]) <= 1e-6, "stationarity %d: %g", j, g[j]);
    ck_assert_int_ge(active, 1);
    double *bufs[] = {x, s, lam, nu, y, b, h, A, G};
    for (int k = 0; k < 9; k++) altdiff_free_array(bufs[k]);
}
END_TEST

/* w'x at y + t e_j: a solve of a copy of data/entropy with y_j moved by t */
static double entropy_wx(const double *w, int j, double t)
{
    char out[1024];
    const char *dir = entropy_copy("fd", "A.mtx b.mtx G.mtx h.mtx");
    double *y = vec(ENTROPY, "y.mtx", EN);
    y[j] += t;
    write_vec(dir, "y.mtx", y, EN);
    snprintf(out, sizeof(out), "%s/out", dir);
    ck_assert_int_eq(solve_entropy(dir, out, "--eps 1e-10"), 0);
    double *x = vec(out, "x.mtx", EN), wx = dot(w, x, EN);
    altdiff_free_array(y);
    altdiff_free_array(x);
    return wx;
}

/* --grad: dy.mtx, db.mtx, dh.mtx (no dq.mtx); every mode gives the same dy,
 * which matches central differences of w'x over y */
START_TEST(test_entropy_grad)
{
    const char *modes[] = {"kkt", "gmres", "adjoint", "unroll", "altdiff"};
    char out[512], extra[1024];
    double *ref = NULL;
    for (int k = 0; k < 5; k++) {
        snprintf(out, sizeof(out), "%s/g_%s", tmp, modes[k]);
        snprintf(extra, sizeof(extra), "--grad %s/w.mtx --mode %s --eps 1e-10", ENTROPY, modes[k]);
        ck_assert_msg(solve_entropy(ENTROPY, out, extra) == 0, "mode %s", modes[k]);
        ck_assert(output_has("stdout", "backward: mode"));
        ck_assert(exists(out, "dy.mtx") && exists(out, "db.mtx") && exists(out, "dh.mtx"));
        ck_assert(!exists(out, "dq.mtx"));
        double *dy = vec(out, "dy.mtx", EN);
        if (!ref) {
            ref = dy;
            continue;
        }
        for (int j = 0; j < EN; j++)
            ck_assert_msg(fabs(dy[j] - ref[j]) <= 1e-6, "%s: dy[%d] = %.12g, kkt %.12g", modes[k],
                          j, dy[j], ref[j]);
        altdiff_free_array(dy);
    }
    double *w = vec(ENTROPY, "w.mtx", EN), t = 1e-4;
    const int coords[] = {0, 17, 42};
    for (int c = 0; c < 3; c++) {
        int j = coords[c];
        double fd = (entropy_wx(w, j, t) - entropy_wx(w, j, -t)) / (2 * t);
        ck_assert_msg(fabs(fd - ref[j]) <= 1e-6 * fmax(1, fabs(ref[j])),
                      "dy[%d] = %.10g, central difference %.10g", j, ref[j], fd);
    }
    altdiff_free_array(w);
    altdiff_free_array(ref);
}
END_TEST

/* --matrix-grads: dA.mtx, dG.mtx (no dP.mtx), dL/dA = lam dq' - db x' with
 * dq = -dy (MATH.md) */
START_TEST(test_entropy_matrix_grads)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/mg", tmp);
    ck_assert_int_eq(solve_entropy(ENTROPY, out, "--grad " ENTROPY "/w.mtx --matrix-grads "
                                                 "--mode kkt --eps 1e-10"), 0);
    ck_assert(exists(out, "dA.mtx") && exists(out, "dG.mtx"));
    ck_assert(!exists(out, "dP.mtx") && !exists(out, "dq.mtx"));
    double *dA = dense_file(out, "dA.mtx", EM, EN), *dy = vec(out, "dy.mtx", EN);
    double *db = vec(out, "db.mtx", EM), *x = vec(out, "x.mtx", EN), *lam = vec(out, "lam.mtx", EM);
    for (int j = 0; j < EN; j++)
        for (int i = 0; i < EM; i++)
            ck_assert_double_eq_tol(dA[i + j * EM], -lam[i] * dy[j] - db[i] * x[j], 1e-9);
    double *bufs[] = {dA, dy, db, x, lam};
    for (int k = 0; k < 5; k++) altdiff_free_array(bufs[k]);
}
END_TEST

/* --jacobian y: Jy.mtx = dx/dy, the projected inverse Hessian: symmetric,
 * with a nonnegative diagonal and A Jy = 0; w'Jy = dy of --grad; the
 * forward Alt-Diff mode agrees with the KKT mode */
START_TEST(test_entropy_jacobian)
{
    char out[512], out2[512];
    snprintf(out, sizeof(out), "%s/jy", tmp);
    ck_assert_int_eq(solve_entropy(ENTROPY, out, "--jacobian y --mode kkt --eps 1e-10"), 0);
    double *J = dense_file(out, "Jy.mtx", EN, EN), *A = dense_file(ENTROPY, "A.mtx", EM, EN);
    for (int i = 0; i < EN; i++) {
        ck_assert_double_ge(J[i + i * EN], -1e-12);
        for (int j = 0; j < i; j++) ck_assert_double_eq_tol(J[i + j * EN], J[j + i * EN], 1e-9);
    }
    for (int j = 0; j < EN; j++) {
        double AJ[EM] = {0};
        gemv(A, EM, EN, 0, J + j * EN, AJ);
        for (int i = 0; i < EM; i++) ck_assert_double_eq_tol(AJ[i], 0, 1e-9);
    }
    snprintf(out2, sizeof(out2), "%s/jy_grad", tmp);
    ck_assert_int_eq(solve_entropy(ENTROPY, out2, "--grad " ENTROPY "/w.mtx --mode kkt "
                                                  "--eps 1e-10"), 0);
    double *w = vec(ENTROPY, "w.mtx", EN), *dy = vec(out2, "dy.mtx", EN);
    for (int j = 0; j < EN; j++) ck_assert_double_eq_tol(dot(w, J + j * EN, EN), dy[j], 1e-8);
    snprintf(out2, sizeof(out2), "%s/jy_altdiff", tmp);
    ck_assert_int_eq(solve_entropy(ENTROPY, out2, "--jacobian y --mode altdiff --eps 1e-10"), 0);
    double *J2 = dense_file(out2, "Jy.mtx", EN, EN);
    for (int k = 0; k < EN * EN; k++) ck_assert_double_eq_tol(J2[k], J[k], 1e-6);
    double *bufs[] = {J, A, w, dy, J2};
    for (int k = 0; k < 5; k++) altdiff_free_array(bufs[k]);
}
END_TEST

/* q.mtx adds q'x: (y, q) has the solution of (y - q, no q) */
START_TEST(test_entropy_linear_term)
{
    char out1[1024], out2[1024];
    double *y = vec(ENTROPY, "y.mtx", EN), *w = vec(ENTROPY, "w.mtx", EN), q[EN];
    const char *dir = entropy_copy("with_q", "A.mtx b.mtx G.mtx h.mtx y.mtx");
    for (int j = 0; j < EN; j++) q[j] = 0.3 * w[j];
    write_vec(dir, "q.mtx", q, EN);
    snprintf(out1, sizeof(out1), "%s/out", dir);
    ck_assert_int_eq(solve_entropy(dir, out1, "--eps 1e-10"), 0);
    dir = entropy_copy("shifted", "A.mtx b.mtx G.mtx h.mtx");
    for (int j = 0; j < EN; j++) y[j] -= q[j];
    write_vec(dir, "y.mtx", y, EN);
    snprintf(out2, sizeof(out2), "%s/out", dir);
    ck_assert_int_eq(solve_entropy(dir, out2, "--eps 1e-10"), 0);
    double *x1 = vec(out1, "x.mtx", EN), *x2 = vec(out2, "x.mtx", EN);
    for (int j = 0; j < EN; j++) ck_assert_double_eq_tol(x1[j], x2[j], 1e-7);
    double *bufs[] = {y, w, x1, x2};
    for (int k = 0; k < 4; k++) altdiff_free_array(bufs[k]);
}
END_TEST

/* Bad entropy directories: exit 3 with the file named */
START_TEST(test_entropy_bad_input)
{
    char args[4096];
    const char *dir = entropy_copy("with_P", "A.mtx b.mtx G.mtx h.mtx y.mtx");
    snprintf(args, sizeof(args), "cp %s/P.mtx %s", EQ_BOX, dir);
    ck_assert_int_eq(system(args), 0);
    snprintf(args, sizeof(args), "solve %s --objective entropy", dir);
    ck_assert_int_eq(run(args), 3);
    ck_assert(output_has("stderr", "P.mtx"));

    struct {
        const char *name, *files, *extra, *named;
    } cases[] = {
        {"no_y", "A.mtx b.mtx G.mtx h.mtx", NULL, "y.mtx"},
        {"no_b", "A.mtx G.mtx h.mtx y.mtx", NULL, "b.mtx"},
        {"no_G", "A.mtx b.mtx h.mtx y.mtx", NULL, "G.mtx"},
        {"A_cols", "b.mtx y.mtx", "A.mtx", "A.mtx"},  /* eq_box's A: 1 x 4 */
        {"q_len", "A.mtx b.mtx G.mtx h.mtx y.mtx", "q.mtx", "q.mtx"}, /* eq_box's q: 4 x 1 */
    };
    for (int k = 0; k < 5; k++) {
        dir = entropy_copy(cases[k].name, cases[k].files);
        if (cases[k].extra) {
            snprintf(args, sizeof(args), "cp %s/%s %s", EQ_BOX, cases[k].extra, dir);
            ck_assert_int_eq(system(args), 0);
        }
        snprintf(args, sizeof(args), "solve %s --objective entropy --out %s/out", dir, dir);
        ck_assert_msg(run(args) == 3, "%s should be bad input", cases[k].name);
        ck_assert_msg(output_has("stderr", cases[k].named), "%s: message names %s",
                      cases[k].name, cases[k].named);
        ck_assert(!exists(dir, "out"));
    }
    ck_assert_int_eq(run("solve /nonexistent/dir --objective entropy"), 3);
    ck_assert(output_has("stderr", "/nonexistent/dir: cannot open the problem directory"));
}
END_TEST

/* ---- hostile inputs, outputs, exit codes (issue 14) ---------------------- */

/* Write text to dir/name */
static void put(const char *dir, const char *name, const char *text)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* 1 if dir/name holds exactly text */
static int holds(const char *dir, const char *name, const char *text)
{
    char buf[4096];
    return read_text(dir, name, buf, sizeof(buf)) && strcmp(buf, text) == 0;
}

/* Entries of dir whose name contains part */
static int count_named(const char *dir, const char *part)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "ls -A %s | grep -c -- '%s' >%s/count", dir, part, tmp);
    if (system(cmd) == -1) return -1;
    snprintf(cmd, sizeof(cmd), "%s/count", tmp);
    FILE *f = fopen(cmd, "r");
    int n = -1;
    if (f && fscanf(f, "%d", &n) != 1) n = -1;
    if (f) fclose(f);
    return n;
}

/* A FIFO as q.mtx or as the --grad file, a dangling P.mtx, a problem file
 * that is a directory: exit 3 at once, naming the file (a FIFO used to
 * block for ever in open, a dangling P.mtx to solve the LP P = 0) */
START_TEST(test_cli_not_regular)
{
    char dir[512], path[1024], args[4096];
    snprintf(dir, sizeof(dir), "%s/p", tmp);
    snprintf(args, sizeof(args), "mkdir -p %s && cp %s/q.mtx %s/A.mtx %s/b.mtx %s", dir, EQ_BOX,
             EQ_BOX, EQ_BOX, dir);
    ck_assert_int_eq(system(args), 0);
    snprintf(path, sizeof(path), "%s/P.mtx", dir);
    ck_assert_int_eq(symlink("/nonexistent/P.mtx", path), 0);
    snprintf(args, sizeof(args), "solve %s", dir);
    ck_assert_int_eq(run(args), 3);
    ck_assert(output_has("stderr", "P.mtx: cannot open: dangling symbolic link"));
    unlink(path);
    snprintf(args, sizeof(args), "cp %s/P.mtx %s/G.mtx %s/h.mtx %s", EQ_BOX, EQ_BOX, EQ_BOX, dir);
    ck_assert_int_eq(system(args), 0);
    snprintf(path, sizeof(path), "%s/w.mtx", tmp); /* --grad FIFO */
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(args, sizeof(args), "solve %s --out %s/o --grad %s", dir, tmp, path);
    ck_assert_int_eq(run(args), 3);
    ck_assert(output_has("stderr", "w.mtx: cannot read: a FIFO, not a regular file"));
    ck_assert(!exists(tmp, "o/x.mtx"));
    snprintf(path, sizeof(path), "%s/q.mtx", dir); /* q.mtx FIFO */
    unlink(path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(args, sizeof(args), "solve %s", dir);
    ck_assert_int_eq(run(args), 3);
    ck_assert(output_has("stderr", "q.mtx: cannot read: a FIFO"));
    unlink(path);
    ck_assert_int_eq(mkdir(path, 0700), 0); /* q.mtx a directory */
    ck_assert_int_eq(run(args), 3);
    ck_assert(output_has("stderr", "q.mtx: cannot read: a directory"));
    /* a tiny file claiming a huge size */
    rmdir(path);
    put(dir, "q.mtx", "%%MatrixMarket matrix coordinate real general\n50000000 1 0\n");
    ck_assert_int_eq(run(args), 3);
    ck_assert(output_has("stderr", "P.mtx is 4 x 4"));
}
END_TEST

/* nu.mtx a non-empty directory in OUTDIR: nothing is written, the old x.mtx
 * stays, no .part file (x, s, lam used to be replaced and .nu.mtx.part
 * left) */
START_TEST(test_cli_outputs_all_or_nothing)
{
    char out[512], args[4096];
    snprintf(out, sizeof(out), "%s/out", tmp);
    ck_assert_int_eq(mkdir(out, 0700), 0);
    put(out, "x.mtx", "old x\n");
    snprintf(args, sizeof(args), "mkdir -p %s/nu.mtx && touch %s/nu.mtx/keep", out, out);
    ck_assert_int_eq(system(args), 0);
    snprintf(args, sizeof(args), "solve %s --out %s", EQ_BOX, out);
    ck_assert_int_eq(run(args), 4);
    ck_assert(output_has("stderr", "nu.mtx: exists and is not a regular file (a directory)"));
    ck_assert(holds(out, "x.mtx", "old x\n"));
    ck_assert(!exists(out, "s.mtx") && !exists(out, "lam.mtx"));
    ck_assert_int_eq(count_named(out, ".part"), 0);
    ck_assert_int_eq(count_named(out, ".old"), 0);
    ck_assert_int_eq(count_named(out, ""), 2); /* x.mtx, nu.mtx/ */
}
END_TEST

/* A rename failing midway (lam.mtx, the third): x.mtx and s.mtx, already
 * renamed, are rolled back to what they replaced (x) or removed (s) */
START_TEST(test_cli_outputs_rollback)
{
    char out[512], args[4096];
    snprintf(out, sizeof(out), "%s/out", tmp);
    ck_assert_int_eq(mkdir(out, 0700), 0);
    put(out, "x.mtx", "old x\n");
    put(out, "nu.mtx", "old nu\n");
    snprintf(args, sizeof(args), "solve %s --out %s", EQ_BOX, out);
    ck_assert(setenv("ALTDIFF_TEST_FAIL_RENAME", "lam.mtx", 1) == 0);
    int rc = run(args);
    unsetenv("ALTDIFF_TEST_FAIL_RENAME");
    ck_assert_int_eq(rc, 4);
    ck_assert(output_has("stderr", "rolled back"));
    ck_assert(holds(out, "x.mtx", "old x\n") && holds(out, "nu.mtx", "old nu\n"));
    ck_assert(!exists(out, "s.mtx") && !exists(out, "lam.mtx"));
    ck_assert_int_eq(count_named(out, ".part"), 0);
    ck_assert_int_eq(count_named(out, ".old"), 0);
    ck_assert_int_eq(run(args), 0); /* and without the fault all four are replaced */
    ck_assert(!holds(out, "x.mtx", "old x\n") && exists(out, "lam.mtx"));
    ck_assert_int_eq(count_named(out, ".old"), 0);
}
END_TEST

/* Under an address-space limit the CLI ends cleanly: exit 5 with a message
 * where OpenBLAS's 128 MiB buffer cannot be mapped (it used to hang in
 * OpenBLAS's allocator retry loop), solved above that. Not under ASan,
 * whose shadow memory needs terabytes of address space. */
START_TEST(test_cli_memory_limit)
{
#if defined(__SANITIZE_ADDRESS__)
    return;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return;
#endif
#endif
    char cmd[4096];
    const int mb[] = {64, 100, 150, 250};
    for (int k = 0; k < 4; k++) {
        snprintf(cmd, sizeof(cmd), "prlimit --as=%d timeout 60 %s solve %s/default >%s/stdout "
                 "2>%s/stderr", mb[k] << 20, AD_ALTDIFF_EXE, AD_DATA_DIR, tmp, tmp);
        int rc = system(cmd);
        rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        if (mb[k] < 200) {
            ck_assert_msg(rc == 5, "%d MB: exit %d", mb[k], rc);
            ck_assert(output_has("stderr", "altdiff: out of memory: the memory limit"));
        } else {
            ck_assert_msg(rc == 0, "%d MB: exit %d", mb[k], rc);
            ck_assert(output_has("stdout", "status: solved"));
        }
    }
}
END_TEST

/* altdiff bench runs the harness altdiff-bench (its own executable) with
 * the same arguments: its help and one small case */
START_TEST(test_bench_dispatch)
{
    char args[1024];
    ck_assert_int_eq(run("bench --help"), 0);
    ck_assert(output_has("stdout", "--modes LIST"));
    snprintf(args, sizeof(args), "bench sparsemax %s/b.csv n=20 --modes kkt --eps 1e-6 "
             "--repeat 1 --ref-eps 0", tmp);
    ck_assert_int_eq(run(args), 0);
    ck_assert(output_has("b.csv", "family,n,m,p"));
    ck_assert(output_has("b.csv", "sparsemax,20,1,40,"));
    ck_assert_int_eq(run("bench"), 2);
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
    tcase_add_test(tc, test_solve_anderson);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_unsolved_writes_nothing);
    tcase_add_test(tc, test_cli_dropped_rows_and_overflow);
    tcase_add_test(tc, test_grad_modes_agree);
    tcase_add_test(tc, test_jacobian_and_matrix_grads);
    tcase_add_test(tc, test_cli_not_regular);
    tcase_add_test(tc, test_cli_outputs_all_or_nothing);
    tcase_add_test(tc, test_cli_outputs_rollback);
    tcase_add_test(tc, test_cli_memory_limit);
    tcase_add_test(tc, test_bench_dispatch);
    suite_add_tcase(s, tc);
    tc = tcase_create("entropy");
    tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
    tcase_add_test(tc, test_entropy_solve);
    tcase_add_test(tc, test_entropy_grad);
    tcase_add_test(tc, test_entropy_matrix_grads);
    tcase_add_test(tc, test_entropy_jacobian);
    tcase_add_test(tc, test_entropy_linear_term);
    tcase_add_test(tc, test_entropy_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_cli()); }
