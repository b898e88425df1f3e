/* check_cli_batch: `altdiff solve DIR` on a batch directory (q.mtx, b.mtx or
 * h.mtx with B > 1 columns) and the reader behind it
 * (altdiff_read_problem_batch). Every batch result is compared with the
 * same element solved as a single problem by the same executable: solutions,
 * dq/db/dh per element, matrix gradients summed over the elements. Batch
 * directories are built by the tests from data/default (n 100, p 400) and
 * data/tiny/eq_box (n 4, m 1, p 8: P = diag(1,2,3,4), 1'x = b, -1 <= x <= 1). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define DEFAULT_DIR AD_DATA_DIR "/default"
#define EQ_BOX AD_DATA_DIR "/tiny/eq_box"

static char tmp[128];

static void setup_tmp(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/altdiff_cli_batch_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown_tmp(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* Run the tool with args (a shell word list; "%T" in them is tmp); stdout
 * and stderr go to tmp/stdout, tmp/stderr; returns the exit status */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s %s >%s/stdout 2>%s/stderr", AD_ALTDIFF_EXE, args, tmp, tmp);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The text of tmp/rel (at most 64 KiB), static buffer */
static const char *text_of(const char *rel)
{
    static char buf[65536];
    read_text(tmp, rel, buf, sizeof(buf));
    return buf;
}

static int exists(const char *rel)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    return stat(path, &st) == 0;
}

/* tmp/rel as a dense nrow x ncol array (asserted) */
static double *dense(const char *rel, altdiff_int nrow, altdiff_int ncol)
{
    char path[1024], err[512];
    double *x = NULL;
    altdiff_int r = 0, c = 0;
    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    ck_assert_msg(altdiff_read_dense(path, &x, &r, &c, err, sizeof(err)) == ALTDIFF_OK, "%s", err);
    ck_assert_msg(r == nrow && c == ncol, "%s is %lld x %lld, expected %lld x %lld", rel,
                  (long long)r, (long long)c, (long long)nrow, (long long)ncol);
    return x;
}

/* A file of dir src as a dense array (asserted) */
static double *src_dense(const char *src, const char *name, altdiff_int *nrow, altdiff_int *ncol)
{
    char path[1024], err[512];
    double *x = NULL;
    snprintf(path, sizeof(path), "%s/%s", src, name);
    ck_assert_msg(altdiff_read_dense(path, &x, nrow, ncol, err, sizeof(err)) == ALTDIFF_OK, "%s",
                  err);
    return x;
}

/* Write tmp/rel as a dense nrow x ncol array (asserted) */
static void put_dense(const char *rel, const double *x, altdiff_int nrow, altdiff_int ncol)
{
    char path[1024], err[512];
    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    ck_assert_msg(altdiff_write_dense(path, x, nrow, ncol, err, sizeof(err)) == ALTDIFF_OK, "%s",
                  err);
}

/* tmp/dir as a copy of the files (a space-separated list) of src */
static void copy_dir(const char *dir, const char *src, const char *files)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/%s && cd %s && cp %s %s/%s/", tmp, dir, src, files, tmp,
             dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* |a - b|_inf <= tol (1 + |b|_inf) */
static void assert_close(const double *a, const double *b, altdiff_int len, double tol,
                         const char *what, int col)
{
    double d = 0, s = 0;
    for (altdiff_int k = 0; k < len; k++) {
        d = fmax(d, fabs(a[k] - b[k]));
        s = fmax(s, fabs(b[k]));
    }
    ck_assert_msg(d <= tol * (1 + s), "%s, column %d: differs by %g (scale %g)", what, col, d, s);
}

/* The default instance with B columns of q: column j = q0 + j/2 * v
 * (v_i = sin(i + 1)), as tmp/batch; tmp/single<j> the same with column j */
static double *default_batch(int B)
{
    altdiff_int n = 0, c = 0;
    double *q0 = src_dense(DEFAULT_DIR, "q.mtx", &n, &c);
    double *Q = malloc(sizeof(double) * (size_t)(n * B));
    char rel[64];
    for (int j = 0; j < B; j++)
        for (altdiff_int i = 0; i < n; i++) Q[j * n + i] = q0[i] + 0.5 * j * sin((double)i + 1);
    copy_dir("batch", DEFAULT_DIR, "P.mtx G.mtx h.mtx");
    put_dense("batch/q.mtx", Q, n, B);
    for (int j = 0; j < B; j++) {
        snprintf(rel, sizeof(rel), "single%d", j);
        copy_dir(rel, DEFAULT_DIR, "P.mtx G.mtx h.mtx");
        snprintf(rel, sizeof(rel), "single%d/q.mtx", j);
        put_dense(rel, Q + j * n, n, 1);
    }
    altdiff_free_array(q0);
    return Q;
}

/* The batch's x equals every single problem's x; status.txt says solved */
START_TEST(test_batch_equals_single)
{
    const int B = 3;
    const altdiff_int n = 100, p = 400;
    free(default_batch(B));
    ck_assert_int_eq(run("solve %s/batch --out %s/out --eps 1e-9", tmp, tmp), 0);
    ck_assert(strstr(text_of("stdout"), "batch: 3 problems"));
    ck_assert(strstr(text_of("stdout"), "3 of 3 elements solved"));
    ck_assert(strstr(text_of("stdout"), "check: passed (3 solved elements)"));
    ck_assert(strstr(text_of("stdout"), "iterations: min"));
    ck_assert(strstr(text_of("stdout"), "q per element, h shared"));
    double *x = dense("out/x.mtx", n, B), *s = dense("out/s.mtx", p, B);
    double *nu = dense("out/nu.mtx", p, B);
    ck_assert(exists("out/lam.mtx"));
    for (int j = 0; j < B; j++) {
        ck_assert_int_eq(run("solve %s/single%d --out %s/out%d --eps 1e-9", tmp, j, tmp, j), 0);
        char rel[64];
        snprintf(rel, sizeof(rel), "out%d/x.mtx", j);
        double *xs = dense(rel, n, 1);
        snprintf(rel, sizeof(rel), "out%d/s.mtx", j);
        double *ss = dense(rel, p, 1);
        snprintf(rel, sizeof(rel), "out%d/nu.mtx", j);
        double *nus = dense(rel, p, 1);
        assert_close(x + j * n, xs, n, 1e-6, "x", j);
        assert_close(s + j * p, ss, p, 1e-6, "s", j);
        assert_close(nu + j * p, nus, p, 1e-5, "nu", j);
        altdiff_free_array(xs);
        altdiff_free_array(ss);
        altdiff_free_array(nus);
    }
    const char *st = text_of("out/status.txt");
    ck_assert_msg(!strncmp(st, "0\tsolved\t", 9) && strstr(st, "\n1\tsolved\t") &&
                      strstr(st, "\n2\tsolved\t"), "status.txt: %s", st);
    int lines = 0;
    for (const char *c = st; *c; c++) lines += *c == '\n';
    ck_assert_int_eq(lines, B);
    altdiff_free_array(x);
    altdiff_free_array(s);
    altdiff_free_array(nu);
}
END_TEST

/* eq_box with h of 2 columns (the box -1..1 and -0.3..0.3) and q, b shared:
 * each column as its single problem */
START_TEST(test_batch_shared_columns)
{
    const altdiff_int n = 4, m = 1, p = 8;
    double H[16];
    for (int i = 0; i < 8; i++) {
        H[i] = 1;
        H[8 + i] = 0.3;
    }
    copy_dir("batch", EQ_BOX, "P.mtx q.mtx A.mtx b.mtx G.mtx");
    put_dense("batch/h.mtx", H, p, 2);
    for (int j = 0; j < 2; j++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "single%d", j);
        copy_dir(rel, EQ_BOX, "P.mtx q.mtx A.mtx b.mtx G.mtx");
        snprintf(rel, sizeof(rel), "single%d/h.mtx", j);
        put_dense(rel, H + 8 * j, p, 1);
    }
    ck_assert_int_eq(run("solve %s/batch --out %s/out --eps 1e-9", tmp, tmp), 0);
    ck_assert(strstr(text_of("stdout"), "q shared, b shared, h per element"));
    double *x = dense("out/x.mtx", n, 2), *lam = dense("out/lam.mtx", m, 2);
    for (int j = 0; j < 2; j++) {
        char rel[64];
        ck_assert_int_eq(run("solve %s/single%d --out %s/out%d --eps 1e-9", tmp, j, tmp, j), 0);
        snprintf(rel, sizeof(rel), "out%d/x.mtx", j);
        double *xs = dense(rel, n, 1);
        snprintf(rel, sizeof(rel), "out%d/lam.mtx", j);
        double *lams = dense(rel, m, 1);
        assert_close(x + j * n, xs, n, 1e-6, "x", j);
        assert_close(lam + j * m, lams, m, 1e-5, "lam", j);
        altdiff_free_array(xs);
        altdiff_free_array(lams);
    }
    for (int i = 0; i < 4; i++) ck_assert(fabs(x[n + i]) <= 0.3 + 1e-6); /* the small box */
    altdiff_free_array(x);
    altdiff_free_array(lam);
}
END_TEST

/* eq_box with b = 1, 100, 0.5: 1'x = 100 is infeasible in the box. Exit 1,
 * every output written, status.txt names element 1 */
START_TEST(test_batch_infeasible_element)
{
    double b[3] = {1, 100, 0.5};
    copy_dir("batch", EQ_BOX, "P.mtx q.mtx A.mtx G.mtx h.mtx");
    double w[4] = {1, -1, 2, 0.5};
    put_dense("batch/b.mtx", b, 1, 3);
    put_dense("w.mtx", w, 4, 1);
    ck_assert_int_eq(run("solve %s/batch --out %s/out --grad %s/w.mtx", tmp, tmp, tmp), 1);
    ck_assert(strstr(text_of("stdout"), "2 of 3 elements solved"));
    ck_assert(strstr(text_of("stdout"), "not solved: element 1: primal infeasible"));
    ck_assert(strstr(text_of("stderr"), "1 of 3 elements not solved"));
    const char *names[] = {"x.mtx", "s.mtx", "lam.mtx", "nu.mtx", "dq.mtx", "db.mtx", "dh.mtx",
                           "status.txt"};
    char rel[64];
    for (int k = 0; k < 8; k++) {
        snprintf(rel, sizeof(rel), "out/%s", names[k]);
        ck_assert_msg(exists(rel), "%s missing", rel);
    }
    const char *st = text_of("out/status.txt");
    ck_assert_msg(!strncmp(st, "0\tsolved\t", 9) && strstr(st, "\n1\tprimal infeasible\t") &&
                      strstr(st, "\n2\tsolved\t"), "status.txt: %s", st);
    ck_assert_msg(strstr(st, "\tnot available\n") && strstr(st, "\tconverged\n"), "%s", st);
    double *dq = dense("out/dq.mtx", 4, 3);
    for (int i = 0; i < 4; i++) ck_assert(dq[4 + i] == 0); /* not available: 0 */
    altdiff_free_array(dq);
    /* without --grad the same exit status, and no derivative field */
    ck_assert_int_eq(run("solve %s/batch --out %s/out2", tmp, tmp), 1);
    ck_assert(!strstr(text_of("out2/status.txt"), "converged"));
}
END_TEST

/* --grad with a batch: dq, dh per element equal the single problems' (KKT
 * mode), with W shared (one column) or per element; --matrix-grads: dP, dG
 * are the sums of the single problems' */
START_TEST(test_batch_grad)
{
    const int B = 3;
    const altdiff_int n = 100, p = 400;
    double *Q = default_batch(B);
    altdiff_int wn = 0, wc = 0;
    double *w = src_dense(DEFAULT_DIR, "w.mtx", &wn, &wc), *W = malloc(sizeof(double) * 300);
    for (int j = 0; j < B; j++)
        for (int i = 0; i < n; i++) W[j * n + i] = w[i] * (1 + j);
    put_dense("W.mtx", W, n, B);
    ck_assert_int_eq(run("solve %s/batch --out %s/out --eps 1e-9 --grad %s/W.mtx --mode kkt "
                         "--matrix-grads", tmp, tmp, tmp), 0);
    ck_assert(strstr(text_of("stdout"), "3 of 3 elements converged"));
    ck_assert_int_eq(run("solve %s/batch --out %s/outw --eps 1e-9 --grad %s/w.mtx", tmp, tmp,
                         DEFAULT_DIR), 0);
    double *dq = dense("out/dq.mtx", n, B), *dh = dense("out/dh.mtx", p, B);
    double *dqw = dense("outw/dq.mtx", n, B);
    ck_assert(strstr(text_of("out/status.txt"), "0\tsolved\t"));
    char path[1024], err[512];
    for (int j = 0; j < B; j++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "single%d/w.mtx", j);
        put_dense(rel, W + j * n, n, 1);
        ck_assert_int_eq(run("solve %s/single%d --out %s/out%d --eps 1e-9 --grad %s/single%d/w.mtx "
                             "--mode kkt --matrix-grads", tmp, j, tmp, j, tmp, j), 0);
        snprintf(rel, sizeof(rel), "out%d/dq.mtx", j);
        double *dqs = dense(rel, n, 1);
        snprintf(rel, sizeof(rel), "out%d/dh.mtx", j);
        double *dhs = dense(rel, p, 1);
        assert_close(dq + j * n, dqs, n, 1e-5, "dq", j);
        assert_close(dh + j * p, dhs, p, 1e-5, "dh", j);
        for (int i = 0; i < n; i++) dqs[i] /= 1 + j; /* W column j = (1 + j) w */
        assert_close(dqw + j * n, dqs, n, 1e-4, "dq (shared w)", j);
        altdiff_free_array(dqs);
        altdiff_free_array(dhs);
    }
    /* the matrix gradients: the batch's dG = the sum of the singles' */
    altdiff_owned_problem *op = NULL;
    ck_assert(altdiff_read_problem(DEFAULT_DIR, &op, err, sizeof(err)) == ALTDIFF_OK);
    altdiff_int nG = op->prob.G.p[n];
    altdiff_free_problem(op);
    double *sum = calloc((size_t)nG, sizeof(double));
    for (int j = 0; j < B; j++) {
        snprintf(path, sizeof(path), "%s/out%d/dG.mtx", tmp, j);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        char line[256];
        altdiff_int k = -2;
        while (fgets(line, sizeof(line), f)) {
            if (line[0] == '%') continue;
            if (++k < 0) continue; /* the size line */
            long long r, c;
            double v;
            ck_assert(sscanf(line, "%lld %lld %lf", &r, &c, &v) == 3 && k < nG);
            sum[k] += v;
        }
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/out/dG.mtx", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    altdiff_int k = -2;
    double d = 0, s = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '%') continue;
        if (++k < 0) continue;
        long long r, c;
        double v;
        ck_assert(sscanf(line, "%lld %lld %lf", &r, &c, &v) == 3 && k < nG);
        d = fmax(d, fabs(v - sum[k]));
        s = fmax(s, fabs(sum[k]));
    }
    fclose(f);
    ck_assert_int_eq(k + 1, nG);
    ck_assert_msg(d <= 1e-5 * (1 + s), "dG: the batch's differs from the sum by %g", d);
    ck_assert(exists("out/dP.mtx"));
    free(sum);
    free(W);
    free(Q);
    altdiff_free_array(w);
    altdiff_free_array(dq);
    altdiff_free_array(dh);
    altdiff_free_array(dqw);
}
END_TEST

/* Options a batch cannot take and inconsistent column counts */
START_TEST(test_batch_bad_input)
{
    double Q[12] = {0}, H[16] = {0};
    for (int i = 0; i < 16; i++) H[i] = 1;
    copy_dir("batch", EQ_BOX, "P.mtx A.mtx b.mtx G.mtx");
    put_dense("batch/q.mtx", Q, 4, 3);
    put_dense("batch/h.mtx", H, 8, 2);
    ck_assert_int_eq(run("solve %s/batch", tmp), 3);
    ck_assert_msg(strstr(text_of("stderr"), "h.mtx: 2 columns, but q.mtx has 3"), "%s",
                  text_of("stderr"));
    put_dense("batch/h.mtx", H, 8, 1);
    ck_assert_int_eq(run("solve %s/batch --out %s/out --jacobian q", tmp, tmp), 2);
    ck_assert(strstr(text_of("stderr"), "--jacobian is not available for a batch"));
    double W[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    put_dense("w.mtx", W, 4, 1);
    ck_assert_int_eq(run("solve %s/batch --out %s/out --grad %s/w.mtx --mode unroll", tmp, tmp,
                         tmp), 2);
    put_dense("W2.mtx", W, 4, 2);
    ck_assert_int_eq(run("solve %s/batch --out %s/out --grad %s/W2.mtx", tmp, tmp, tmp), 3);
    ck_assert(strstr(text_of("stderr"), "W2.mtx: W is 4 x 2, expected 4 x 1 (shared) or 4 x 3"));
    ck_assert(!exists("out"));
}
END_TEST

/* altdiff_read_problem_batch: B, the column counts, prob = element 0; one
 * column everywhere: the problem of altdiff_read_problem */
START_TEST(test_read_problem_batch)
{
    char dir[256], err[512];
    double Q[12];
    for (int k = 0; k < 12; k++) Q[k] = k;
    copy_dir("batch", EQ_BOX, "P.mtx A.mtx b.mtx G.mtx h.mtx");
    put_dense("batch/q.mtx", Q, 4, 3);
    snprintf(dir, sizeof(dir), "%s/batch", tmp);
    altdiff_owned_problem *op = NULL;
    altdiff_int B = 0, cols[3] = {0, 0, 0};
    ck_assert_int_eq(altdiff_read_problem_batch(dir, &op, &B, cols, err, sizeof(err)), ALTDIFF_OK);
    ck_assert_int_eq(B, 3);
    ck_assert(cols[0] == 3 && cols[1] == 1 && cols[2] == 1);
    ck_assert(op->prob.n == 4 && op->prob.m == 1 && op->prob.p == 8);
    ck_assert(op->prob.q == op->q && op->q[11] == 11 && op->prob.b[0] == 1);
    altdiff_free_problem(op);
    ck_assert_int_eq(altdiff_read_problem_batch(EQ_BOX, &op, &B, cols, err, sizeof(err)),
                     ALTDIFF_OK);
    ck_assert(B == 1 && cols[0] == 1 && cols[1] == 1 && cols[2] == 1 && op->prob.n == 4);
    altdiff_free_problem(op);
    ck_assert_int_eq(altdiff_read_problem_batch(AD_DATA_DIR "/nonexistent", &op, &B, NULL, err,
                                                sizeof(err)), ALTDIFF_ERR_IO);
    ck_assert_ptr_null(op);
    ck_assert_int_eq(B, 0);
    /* altdiff_read_dense: any shape */
    double *x = NULL;
    altdiff_int r = 0, c = 0;
    snprintf(dir, sizeof(dir), "%s/batch/q.mtx", tmp);
    ck_assert_int_eq(altdiff_read_dense(dir, &x, &r, &c, err, sizeof(err)), ALTDIFF_OK);
    ck_assert(r == 4 && c == 3 && x[5] == 5);
    altdiff_free_array(x);
    ck_assert_int_eq(altdiff_read_dense(NULL, &x, &r, &c, err, sizeof(err)), ALTDIFF_ERR_INVALID);
}
END_TEST

/* The shipped batch instance data/batch: 4 elements, all solved */
START_TEST(test_shipped_batch)
{
    ck_assert_int_eq(run("solve %s/batch --out %s/out --grad %s/default/w.mtx", AD_DATA_DIR, tmp,
                         AD_DATA_DIR), 0);
    ck_assert(strstr(text_of("stdout"), "4 of 4 elements solved"));
    double *x = dense("out/x.mtx", 100, 4);
    altdiff_free_array(x);
}
END_TEST

static Suite *suite_cli_batch(void)
{
    Suite *s = suite_create("cli_batch");
    TCase *tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
    tcase_add_test(tc, test_batch_equals_single);
    tcase_add_test(tc, test_batch_shared_columns);
    tcase_add_test(tc, test_batch_infeasible_element);
    tcase_add_test(tc, test_batch_grad);
    tcase_add_test(tc, test_batch_bad_input);
    tcase_add_test(tc, test_read_problem_batch);
    tcase_add_test(tc, test_shipped_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_cli_batch()); }
