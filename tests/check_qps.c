/*
 * check_qps: the QPS/MPS reader (src/qps.c, altdiff_read_qps) and the
 * command line on QPS files (altdiff solve FILE.qps, altdiff convert).
 * data/qps/all.qps exercises every section, row type, range case and bound
 * type; its problem is written out by hand below. all_fixed.qps is the same
 * problem in fixed MPS (a row name holds a blank, so only the fixed reading
 * takes it). hs21.qps (Maros-Meszaros HS21) and qp2*.qps (one QP written
 * with QUADOBJ, QMATRIX, QSECTION, OBJSENSE MAX in both spellings) have
 * known solutions. data/qps/bad/ holds malformed files.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "sp.h"

#define QPS_DIR AD_DATA_DIR "/qps"

/* Read a QPS file that must be valid; warnings into warn (may be NULL) */
static altdiff_owned_problem *read_ok(const char *path, double *c0, char *warn, size_t len)
{
    altdiff_owned_problem *op = NULL;
    char err[2048] = "x";
    int rc = altdiff_read_qps(path, &op, c0, err, sizeof(err));
    ck_assert_msg(rc == ALTDIFF_OK && op, "%s: %d %s", path, rc, err);
    if (warn) snprintf(warn, len, "%s", err);
    return op;
}

/* Dense column-major copy (calloc) of M; sym: also the mirror entries */
static double *dense(const altdiff_csc *M, int sym)
{
    double *D = calloc((size_t)(M->nrow * M->ncol) + 1, sizeof(double));
    for (altdiff_int j = 0; j < M->ncol; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) {
            D[M->i[t] + j * M->nrow] = M->x[t];
            if (sym) D[j + M->i[t] * M->nrow] = M->x[t];
        }
    return D;
}

/* 1 if the CSC matrices are identical (sizes, pattern, values) */
static int same_csc(const altdiff_csc *a, const altdiff_csc *b)
{
    if (a->nrow != b->nrow || a->ncol != b->ncol) return 0;
    for (altdiff_int j = 0; j <= a->ncol; j++)
        if (a->p[j] != b->p[j]) return 0;
    for (altdiff_int t = 0; t < a->p[a->ncol]; t++)
        if (a->i[t] != b->i[t] || a->x[t] != b->x[t]) return 0;
    return 1;
}

static int same_vec(const double *a, const double *b, altdiff_int n)
{
    for (altdiff_int k = 0; k < n; k++)
        if (a[k] != b[k]) return 0;
    return 1;
}

/* The two problems are the same, entry by entry */
static void assert_same(const altdiff_problem *a, const altdiff_problem *b)
{
    ck_assert_int_eq(a->n, b->n);
    ck_assert_int_eq(a->m, b->m);
    ck_assert_int_eq(a->p, b->p);
    ck_assert(same_csc(&a->P, &b->P));
    ck_assert(same_csc(&a->A, &b->A));
    ck_assert(same_csc(&a->G, &b->G));
    ck_assert(same_vec(a->q, b->q, a->n));
    ck_assert(a->m == 0 || same_vec(a->b, b->b, a->m));
    ck_assert(a->p == 0 || same_vec(a->h, b->h, a->p));
}

/* Every entry of the dense r x c matrix D equals E (row-major, as written) */
static void assert_dense(const double *D, const double *E, altdiff_int r, altdiff_int c,
                         const char *what)
{
    for (altdiff_int i = 0; i < r; i++)
        for (altdiff_int j = 0; j < c; j++)
            ck_assert_msg(D[i + j * r] == E[i * c + j], "%s(%lld,%lld) = %g, expected %g", what,
                          (long long)i + 1, (long long)j + 1, D[i + j * r], E[i * c + j]);
}

/* ---- all.qps: the problem written out --------------------------------- */

/* A x = b: e1 (x1 + x9 = 1), then x3 = 2 (FX) */
static const double all_A[2][10] = {{1, 0, 0, 0, 0, 0, 0, 0, 1, 0}, {0, 0, 1, 0, 0, 0, 0, 0, 0, 0}};
static const double all_b[2] = {1, 2};
/* G x <= h: the constraint rows in file order (ranges as hi, then lo), then
 * the bounds column by column (lower, upper) */
static const double all_G[21][10] = {
    {0, 1, 0, 0, 0, 0, 0, 0, 0, 0},  /* e2 R = 1.5:  x2 <= 3.5          */
    {0, -1, 0, 0, 0, 0, 0, 0, 0, 0}, /*              -x2 <= -2          */
    {0, 0, 1, 0, 0, 0, 0, 0, 0, 0},  /* e3 R = -0.5: x3 <= 3            */
    {0, 0, -1, 0, 0, 0, 0, 0, 0, 0}, /*              -x3 <= -2.5        */
    {2, 0, 0, 0, 0, 1, 0, 0, 0, 0},  /* l1: 2 x1 + x6 <= 4              */
    {0, 0, 1, 0, 0, 0, 0, 0, 0, 0},  /* l2 R = 2: x3 <= 5               */
    {0, 0, -1, 0, 0, 0, 0, 0, 0, 0}, /*           -x3 <= -3             */
    {0, -1, 0, 0, 0, 0, 0, 1, 0, 0}, /* g1: x2 - x8 >= -6               */
    {0, 0, 0, 1, 0, 0, 0, 0, 0, 0},  /* g2 R = -3: x4 <= 10             */
    {0, 0, 0, -1, 0, 0, 0, 0, 0, 0}, /*            -x4 <= -7            */
    {-1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, /* x1 >= 0 (default)               */
    {1, 0, 0, 0, 0, 0, 0, 0, 0, 0},  /* x1 <= 4 (UP)                    */
    {0, -1, 0, 0, 0, 0, 0, 0, 0, 0}, /* x2 >= -1 (LO)                   */
    {0, 1, 0, 0, 0, 0, 0, 0, 0, 0},  /* x2 <= 3 (UP)                    */
    {0, 0, 0, 0, 0, -1, 0, 0, 0, 0}, /* x6 >= 0 (PL: no upper)          */
    {0, 0, 0, 0, 0, 0, -1, 0, 0, 0}, /* x7 >= 0 (BV)                    */
    {0, 0, 0, 0, 0, 0, 1, 0, 0, 0},  /* x7 <= 1                         */
    {0, 0, 0, 0, 0, 0, 0, -1, 0, 0}, /* x8 >= 1 (LI)                    */
    {0, 0, 0, 0, 0, 0, 0, 1, 0, 0},  /* x8 <= 5 (UI)                    */
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 0},  /* x9 <= -2 (UP < 0: no lower)     */
    {0, 0, 0, 0, 0, 0, 0, 0, 0, -1}, /* x10 >= 0 (UP 1e21: no upper)    */
};
static const double all_h[21] = {3.5, -2, 3, -2.5, 4, 5, -3, 6, 10, -7, 0,
                                 4,   1,  3, 0,    0, 1, -1, 5, -2, 0};
static const double all_q[10] = {1, -1, 0, 0, 0.5, 0, 2, 0, 0, 1};

/* P (symmetric): x1^2 + 0.5 x1 x2 (QUADOBJ, one triangle) ... */
static void all_P(double P[10][10])
{
    memset(P, 0, sizeof(double) * 100);
    P[0][0] = 2;
    P[0][1] = P[1][0] = 0.5;
    P[4][4] = 1;
    P[5][9] = P[9][5] = -0.25; /* given as (x10, x6) */
}

static void check_all(const altdiff_problem *pr)
{
    double P[10][10];
    ck_assert_int_eq(pr->n, 10);
    ck_assert_int_eq(pr->m, 2);
    ck_assert_int_eq(pr->p, 21);
    double *A = dense(&pr->A, 0), *G = dense(&pr->G, 0), *Pd = dense(&pr->P, 1);
    assert_dense(A, &all_A[0][0], 2, 10, "A");
    assert_dense(G, &all_G[0][0], 21, 10, "G");
    all_P(P);
    assert_dense(Pd, &P[0][0], 10, 10, "P");
    for (altdiff_int j = 0; j < 10; j++) /* P is stored as its upper triangle */
        for (altdiff_int t = pr->P.p[j]; t < pr->P.p[j + 1]; t++) ck_assert_int_le(pr->P.i[t], j);
    ck_assert(same_vec(pr->b, all_b, 2));
    ck_assert(same_vec(pr->h, all_h, 21));
    ck_assert(same_vec(pr->q, all_q, 10));
    for (int k = 0; k < 21; k++) ck_assert(!signbit(pr->h[k]) || pr->h[k] != 0); /* no -0 */
    free(A);
    free(G);
    free(Pd);
}

START_TEST(test_all)
{
    double c0 = 0;
    char warn[2048];
    altdiff_owned_problem *op = read_ok(QPS_DIR "/all.qps", &c0, warn, sizeof(warn));
    check_all(&op->prob);
    ck_assert(c0 == 2.5); /* RHS on the objective row: -c0 */
    const char *words[] = {"several RHS sets: using 'RHS1', skipping 'RHS2'",
                           "several RANGES sets", "several BOUNDS sets", "integer",
                           "negative upper bound", "all.qps:36: warning"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
        ck_assert_msg(strstr(warn, words[w]), "warnings '%s' lack '%s'", warn, words[w]);
    altdiff_free_problem(op);
}
END_TEST

/* fixed MPS (with a blank in a name) gives the same problem as free MPS */
START_TEST(test_fixed_free)
{
    double c0 = 0, c1 = 0;
    char warn[2048];
    altdiff_owned_problem *a = read_ok(QPS_DIR "/all.qps", &c0, NULL, 0);
    altdiff_owned_problem *b = read_ok(QPS_DIR "/all_fixed.qps", &c1, warn, sizeof(warn));
    assert_same(&a->prob, &b->prob);
    ck_assert(c0 == c1);
    ck_assert_ptr_nonnull(strstr(warn, "read as fixed MPS"));
    altdiff_free_problem(a);
    altdiff_free_problem(b);
}
END_TEST

/* Solve with the library at eps; *obj = objective, x (n) */
static int solve(const altdiff_problem *pr, double eps, double *obj, double *x)
{
    altdiff_settings set = altdiff_settings_default();
    set.eps_abs = set.eps_rel = eps;
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, pr, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    int status = altdiff_get_info(w)->status;
    *obj = altdiff_get_info(w)->obj;
    altdiff_get_solution(w, x, NULL, NULL, NULL);
    altdiff_free(w);
    return status;
}

/* HS21: minimize 0.01 x1^2 + x2^2 - 100, x = (2, 0), f = -99.96 */
START_TEST(test_hs21)
{
    double c0 = 0, obj, x[2];
    altdiff_owned_problem *op = read_ok(QPS_DIR "/hs21.qps", &c0, NULL, 0);
    ck_assert(c0 == -100);
    ck_assert_int_eq(solve(&op->prob, 1e-9, &obj, x), ALTDIFF_SOLVED);
    ck_assert_msg(fabs(obj + c0 - (-99.96)) < 1e-6, "objective %.10g", obj + c0);
    ck_assert(fabs(x[0] - 2) < 1e-6 && fabs(x[1]) < 1e-6);
    altdiff_free_problem(op);
}
END_TEST

/* qp2 in five spellings: the same problem, x = (0.5, 1.5), f = 5.75 */
START_TEST(test_qp2)
{
    static const char *files[] = {"qp2.qps", "qp2_qmatrix.qps", "qp2_max.qps", "qp2_max2.qps"};
    double c0 = 0, obj, x[2];
    char path[1024], warn[2048];
    altdiff_owned_problem *ref = read_ok(QPS_DIR "/qp2.qps", &c0, NULL, 0);
    ck_assert(c0 == 10);
    ck_assert_int_eq(solve(&ref->prob, 1e-9, &obj, x), ALTDIFF_SOLVED);
    ck_assert_msg(fabs(obj + c0 - 5.75) < 1e-6, "objective %.10g", obj + c0);
    ck_assert(fabs(x[0] - 0.5) < 1e-6 && fabs(x[1] - 1.5) < 1e-6);
    for (size_t k = 1; k < sizeof(files) / sizeof(files[0]); k++) {
        double c1 = 0;
        snprintf(path, sizeof(path), "%s/%s", QPS_DIR, files[k]);
        altdiff_owned_problem *op = read_ok(path, &c1, warn, sizeof(warn));
        assert_same(&ref->prob, &op->prob);
        ck_assert(c1 == c0);
        ck_assert(!strstr(files[k], "max") || strstr(warn, "OBJSENSE MAX"));
        altdiff_free_problem(op);
    }
    altdiff_free_problem(ref);
}
END_TEST

/* gzip: all.qps compressed reads the same; a truncated file is an I/O error */
START_TEST(test_gz)
{
    char dir[] = "/tmp/altdiff_qps_XXXXXX", gz[256], cut[256], err[1024], *buf;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(gz, sizeof(gz), "%s/all.qps.gz", dir);
    snprintf(cut, sizeof(cut), "%s/cut.qps.gz", dir);
    FILE *f = fopen(QPS_DIR "/all.qps", "rb");
    ck_assert_ptr_nonnull(f);
    buf = calloc(1, 65536);
    size_t len = fread(buf, 1, 65535, f);
    fclose(f);
    gzFile z = gzopen(gz, "wb");
    ck_assert_int_eq(gzwrite(z, buf, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(z), Z_OK);
    double c0 = 0, c1 = 0;
    altdiff_owned_problem *a = read_ok(QPS_DIR "/all.qps", &c0, NULL, 0);
    altdiff_owned_problem *b = read_ok(gz, &c1, NULL, 0);
    assert_same(&a->prob, &b->prob);
    ck_assert(c0 == c1);
    f = fopen(gz, "rb");
    len = fread(buf, 1, 65535, f);
    fclose(f);
    f = fopen(cut, "wb");
    fwrite(buf, 1, len / 2, f); /* the first half of the compressed bytes */
    fclose(f);
    altdiff_owned_problem *c = NULL;
    int rc = altdiff_read_qps(cut, &c, &c1, err, sizeof(err));
    ck_assert_msg(rc == ALTDIFF_ERR_IO || rc == ALTDIFF_ERR_INVALID, "rc %d", rc);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err, cut));
    altdiff_free_problem(a);
    altdiff_free_problem(b);
    free(buf);
    unlink(gz);
    unlink(cut);
    rmdir(dir);
}
END_TEST

/* ---- malformed files ---------------------------------------------------- */

static const struct {
    const char *file;
    int line;
    const char *what;
} bad[] = {
    {"section.qps", 7, "unknown section 'FOO'"},
    {"unknown_row.qps", 7, "unknown row 'nope'"},
    {"duplicate.qps", 8, "given twice (first at line 6)"},
    {"quad_twice.qps", 11, "given twice (first at line 9)"},
    {"qmatrix_unsym.qps", 11, "not symmetric"},
    {"qmatrix_half.qps", 10, "no mirror"},
    {"no_endata.qps", 7, "no ENDATA"},
    {"number.qps", 6, "bad value '1.5x'"},
    {"nan.qps", 6, "bad value 'nan'"},
    {"sc_bound.qps", 8, "semi-continuous"},
    {"unknown_col.qps", 8, "unknown column 'x9'"},
    {"duplicate_row.qps", 5, "duplicate row 'c1'"},
    {"rhs_twice.qps", 9, "given twice in RHS"},
    {"row_type.qps", 4, "unknown row type 'X'"},
    {"order.qps", 2, "COLUMNS before ROWS"},
    {"qcmatrix.qps", 7, "QCMATRIX (quadratic constraints) is not supported"},
    {"bound_type.qps", 8, "unknown bound type 'XX'"},
};

START_TEST(test_bad)
{
    char path[1024], err[1024], where[1100];
    altdiff_owned_problem *op = (altdiff_owned_problem *)&op;
    double c0 = 7;
    snprintf(path, sizeof(path), "%s/bad/%s", QPS_DIR, bad[_i].file);
    ck_assert_int_eq(altdiff_read_qps(path, &op, &c0, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(op);
    ck_assert(c0 == 0);
    snprintf(where, sizeof(where), "%s:%d: ", path, bad[_i].line);
    ck_assert_msg(!strncmp(err, where, strlen(where)), "'%s' does not start with '%s'", err, where);
    ck_assert_msg(strstr(err, bad[_i].what), "'%s' lacks '%s'", err, bad[_i].what);
    ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(test_args)
{
    altdiff_owned_problem *op = NULL;
    char err[256];
    ck_assert_int_eq(altdiff_read_qps(NULL, &op, NULL, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_int_eq(altdiff_read_qps("x.qps", NULL, NULL, err, sizeof(err)),
                     ALTDIFF_ERR_INVALID);
    ck_assert_int_eq(altdiff_read_qps("/nonexistent/x.qps", &op, NULL, err, sizeof(err)),
                     ALTDIFF_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.qps: cannot open"));
    ck_assert_int_eq(altdiff_read_qps(QPS_DIR "/qp2.qps", &op, NULL, NULL, 0), ALTDIFF_OK);
    altdiff_free_problem(op);
}
END_TEST

/* failing the k-th allocation gives ALTDIFF_ERR_NOMEM (and, under ASan with
 * CK_FORK=no, leaks nothing) until the read succeeds */
START_TEST(test_oom)
{
    char err[1024];
    long k;
    for (k = 0; k < 100000; k++) {
        altdiff_owned_problem *op = NULL;
        ad_fault_arm(k);
        int rc = altdiff_read_qps(QPS_DIR "/all_fixed.qps", &op, NULL, err, sizeof(err));
        int fired = ad_fault_fired();
        ad_fault_arm(-1);
        if (!fired) {
            ck_assert_int_eq(rc, ALTDIFF_OK);
            altdiff_free_problem(op);
            break;
        }
        ck_assert_msg(rc == ALTDIFF_ERR_NOMEM, "allocation %ld: %d %s", k, rc, err);
        ck_assert_ptr_null(op);
        ck_assert_ptr_nonnull(strstr(err, "out of memory"));
    }
    ck_assert_int_ge(k, 20);
}
END_TEST

/* A large file reads in linear time: a chain of N rows x_j - x_{j+1} <= 1
 * with N columns (a quadratic reader would take minutes) */
START_TEST(test_large)
{
    const int N = 200000;
    char path[] = "/tmp/altdiff_qps_large_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "NAME chain\nROWS\n N obj\n");
    for (int j = 0; j < N; j++) fprintf(f, " L r%d\n", j);
    fprintf(f, "COLUMNS\n");
    for (int j = 0; j < N; j++) {
        fprintf(f, " x%d obj 1 r%d 1\n", j, j);      /* row j: x_j - x_{j+1} */
        if (j > 0) fprintf(f, " x%d r%d -1\n", j, j - 1);
    }
    fprintf(f, "RHS\n");
    for (int j = 0; j < N; j++) fprintf(f, " rhs r%d 1\n", j);
    fprintf(f, "QUADOBJ\n");
    for (int j = 0; j < N; j++) fprintf(f, " x%d x%d 1\n", j, j);
    fprintf(f, "ENDATA\n");
    fclose(f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    altdiff_owned_problem *op = read_ok(path, NULL, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_int_eq(op->prob.n, N);
    ck_assert_int_eq(op->prob.p, 2 * N); /* the rows and x >= 0 */
    ck_assert_int_eq(op->prob.G.p[N], 2 * N - 1 + N);
    ck_assert_msg(secs < 20, "%d columns took %.1f s", N, secs);
    altdiff_free_problem(op);
    unlink(path);
}
END_TEST

/* ---- the command line --------------------------------------------------- */

static char tmp[128];

/* Run the tool with args; stdout, stderr into tmp; the exit status */
static int run(const char *args) { return run_tool(AD_ALTDIFF_EXE, tmp, args); }

/* 1 if tmp/name contains text */
static int output_has(const char *name, const char *text) { return file_has(tmp, name, text); }

START_TEST(test_cli_solve)
{
    snprintf(tmp, sizeof(tmp), "/tmp/altdiff_qps_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    ck_assert_int_eq(run("solve " QPS_DIR "/hs21.qps --eps 1e-9"), 0);
    ck_assert(output_has("stdout", "objective: -9.99599999") || /* polished: exact */
              output_has("stdout", "objective: -9.99600000"));
    ck_assert(output_has("stdout", "with the constant -1.0"));
    ck_assert_int_eq(run("solve " QPS_DIR "/qp2_max.qps --eps 1e-9"), 0);
    ck_assert(output_has("stdout", "objective: 5.7500000"));
    ck_assert(output_has("stderr", "OBJSENSE MAX"));
    ck_assert_int_eq(run("solve " QPS_DIR "/bad/duplicate.qps"), 3);
    ck_assert(output_has("stderr", "duplicate.qps:8:"));
    ck_assert_int_eq(run("solve " QPS_DIR "/qp2.qps --objective entropy"), 2);
    ck_assert_int_eq(run("solve /nonexistent/x.QPS.gz"), 3); /* by its name a QPS file */
    ck_assert(output_has("stderr", "/nonexistent/x.QPS.gz: cannot open"));
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_cli_convert)
{
    char args[1024], out[256], err[1024];
    snprintf(tmp, sizeof(tmp), "/tmp/altdiff_qps_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(out, sizeof(out), "%s/all/dir", tmp);
    snprintf(args, sizeof(args), "convert %s/all.qps %s", QPS_DIR, out);
    ck_assert_int_eq(run(args), 0);
    ck_assert(output_has("stderr", "several RHS sets"));
    altdiff_owned_problem *dir = NULL;
    ck_assert_msg(altdiff_read_problem(out, &dir, err, sizeof(err)) == ALTDIFF_OK, "%s", err);
    check_all(&dir->prob);
    altdiff_free_problem(dir);
    ck_assert(output_has("all/dir/constant.txt", "2.5\n"));
    ck_assert(output_has("all/dir/P.mtx", "coordinate real symmetric"));
    snprintf(args, sizeof(args), "convert %s/bad/section.qps %s/bad", QPS_DIR, tmp);
    ck_assert_int_eq(run(args), 3);
    ck_assert(output_has("stderr", "section.qps:7:"));
    snprintf(args, sizeof(args), "convert %s/qp2.qps", QPS_DIR);
    ck_assert_int_eq(run(args), 2);
    snprintf(args, sizeof(args), "convert %s/qp2.qps /proc/no/such/dir", QPS_DIR);
    ck_assert_int_eq(run(args), 4);
    snprintf(args, sizeof(args), "rm -rf %s", tmp);
    ck_assert_int_eq(system(args), 0);
}
END_TEST

static Suite *suite_qps(void)
{
    Suite *s = suite_create("qps");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, test_all);
    tcase_add_test(tc, test_fixed_free);
    tcase_add_test(tc, test_hs21);
    tcase_add_test(tc, test_qp2);
    tcase_add_test(tc, test_gz);
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_args);
    tcase_add_test(tc, test_oom);
    tcase_add_test(tc, test_large);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_add_test(tc, test_cli_solve);
    tcase_add_test(tc, test_cli_convert);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_qps()); }
