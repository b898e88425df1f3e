/*
 * check_gen: the problem generators of "altdiff gen" (src/cli/gen.c).
 * Each family is generated at a small size into a temporary directory, read
 * back with altdiff_read_problem and checked against its mathematical
 * construction: dimensions, the stored triangle of P, the structure of the
 * constraints, feasibility (manycon: the exact KKT point), determinism, and
 * the rejection of bad arguments. The entropy family is read back with
 * cli_gen_read_dir (it has y.mtx instead of P.mtx and q.mtx).
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "sp.h"

#include "gen.h" /* src/cli/gen.c is compiled into this test (tests/meson.build) */

/* ---- temporary directories and files ------------------------------------ */

/* A new empty directory /tmp/altdiff_gen_XXXXXX (static buffer) */
static const char *tmp_dir(void)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/altdiff_gen_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(path));
    return path;
}

/* rm -r path */
static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[4096];
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* dir/name in a static buffer (one of two, so two may be used at once) */
static const char *join(const char *dir, const char *name)
{
    static char buf[2][4096];
    static int which = 0;
    which = !which;
    snprintf(buf[which], sizeof(buf[which]), "%s/%s", dir, name);
    return buf[which];
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* 1 if both files exist and hold the same bytes */
static int same_bytes(const char *p1, const char *p2)
{
    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    int same = (f1 && f2);
    while (same) {
        int c1 = fgetc(f1), c2 = fgetc(f2);
        same = (c1 == c2);
        if (c1 == EOF) break;
    }
    if (f1) fclose(f1);
    if (f2) fclose(f2);
    return same;
}

/* The first line of a file (static buffer) */
static const char *first_line(const char *path)
{
    static char line[256];
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    fclose(f);
    return line;
}

/* ---- running the generator ---------------------------------------------- */

/* cli_gen_main("gen", family, dir, options..., NULL): its exit status */
static int gen(const char *family, const char *dir, ...)
{
    char *argv[32] = {"gen", (char *)family, (char *)dir};
    int argc = 3;
    va_list ap;
    va_start(ap, dir);
    for (const char *a; argc < 31 && (a = va_arg(ap, const char *)) != NULL;)
        argv[argc++] = (char *)a;
    va_end(ap);
    fflush(stdout);
    return cli_gen_main(argc, argv);
}

/* The exit status of cli_gen_main(argc, argv) and its stderr in msg */
static int gen_stderr(int argc, char **argv, char *msg, size_t len)
{
    char path[] = "/tmp/altdiff_gen_err_XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    int status = cli_gen_main(argc, argv);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t got = pread(fd, msg, len - 1, 0);
    msg[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
    return status;
}

static altdiff_owned_problem *read_dir(const char *dir)
{
    altdiff_owned_problem *op = NULL;
    char err[512] = "";
    int rc = altdiff_read_problem(dir, &op, err, sizeof(err));
    ck_assert_msg(rc == ALTDIFF_OK && op, "altdiff_read_problem(%s): %d %s", dir, rc, err);
    return op;
}

static double *read_vec(const char *dir, const char *name, altdiff_int n)
{
    double *v = NULL;
    char err[512] = "";
    int rc = altdiff_read_vector(join(dir, name), n, &v, err, sizeof(err));
    ck_assert_msg(rc == ALTDIFF_OK && v, "altdiff_read_vector(%s): %s", name, err);
    return v;
}

/* Read DIR/P.mtx as stored: it must be "coordinate real symmetric" with
 * every entry in the lower triangle; returns its number of entries */
static altdiff_int check_P_lower(const char *dir)
{
    cs_dl *P = NULL;
    int sym = -1;
    char err[512] = "";
    const char *path = join(dir, "P.mtx");
    ck_assert_ptr_nonnull(strstr(first_line(path), "coordinate real symmetric"));
    ck_assert_msg(ad_mm_read_sparse(path, &P, &sym, err, sizeof(err)) == ALTDIFF_OK, "%s", err);
    ck_assert_int_eq(sym, 1);
    for (altdiff_int j = 0; j < P->n; j++)
        for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++) ck_assert_int_ge(P->i[t], j);
    altdiff_int nz = P->p[P->n];
    ad_spfree(P);
    return nz;
}

/* Dense column-major copy (malloc) of M; sym: each entry also at (j,i) */
static double *dense_of(const altdiff_csc *M, int sym)
{
    double *D = calloc((size_t)(M->nrow * M->ncol) + 1, sizeof(double));
    for (altdiff_int j = 0; M->p && j < M->ncol; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) {
            D[M->i[t] + j * M->nrow] = M->x[t];
            if (sym) D[j + M->i[t] * M->nrow] = M->x[t];
        }
    return D;
}

/* Entries of row i of the dense nrow x ncol D that are nonzero */
static int row_nnz(const double *D, altdiff_int nrow, altdiff_int ncol, altdiff_int i)
{
    int c = 0;
    for (altdiff_int j = 0; j < ncol; j++) c += (D[i + j * nrow] != 0);
    return c;
}

/* 1 if the dense symmetric n x n D has a Cholesky factor (is definite) */
static int chol_ok(const double *D, altdiff_int n)
{
    double *L = malloc(sizeof(double) * (size_t)(n * n));
    int ok = 1;
    memcpy(L, D, sizeof(double) * (size_t)(n * n));
    for (altdiff_int j = 0; ok && j < n; j++) {
        for (altdiff_int k = 0; k < j; k++) L[j + j * n] -= L[j + k * n] * L[j + k * n];
        ok = L[j + j * n] > 0;
        if (!ok) break;
        L[j + j * n] = sqrt(L[j + j * n]);
        for (altdiff_int i = j + 1; i < n; i++) {
            for (altdiff_int k = 0; k < j; k++) L[i + j * n] -= L[i + k * n] * L[j + k * n];
            L[i + j * n] /= L[j + j * n];
        }
    }
    free(L);
    return ok;
}

/* |A x - b| (inf norm) and max(G x - h), min(h - G x) for dense A, G */
static void feas(const double *A, const double *b, altdiff_int m, const double *G, const double *h,
                 altdiff_int p, altdiff_int n, const double *x, double *eq, double *viol,
                 double *minslack)
{
    *eq = 0;
    *viol = -INFINITY;
    *minslack = INFINITY;
    for (altdiff_int i = 0; i < m; i++) {
        double t = -b[i];
        for (altdiff_int j = 0; j < n; j++) t += A[i + j * m] * x[j];
        *eq = fmax(*eq, fabs(t));
    }
    for (altdiff_int i = 0; i < p; i++) {
        double t = -h[i];
        for (altdiff_int j = 0; j < n; j++) t += G[i + j * p] * x[j];
        *viol = fmax(*viol, t);
        *minslack = fmin(*minslack, -t);
    }
}

/* ---- dense -------------------------------------------------------------- */

START_TEST(test_dense)
{
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen("dense", dir, "n=12", "m=4", "p=6", "seed=3", NULL), 0);
    ck_assert_int_eq(check_P_lower(dir), 12 * 13 / 2); /* M'M: full lower triangle */
    altdiff_owned_problem *op = read_dir(dir);
    const altdiff_problem *pr = &op->prob;
    ck_assert_int_eq(pr->n, 12);
    ck_assert_int_eq(pr->m, 4);
    ck_assert_int_eq(pr->p, 6);
    ck_assert_int_eq(pr->A.p[12], 48); /* A, G dense */
    ck_assert_int_eq(pr->G.p[12], 72);
    double *P = dense_of(&pr->P, 1), *A = dense_of(&pr->A, 0), *G = dense_of(&pr->G, 0);
    ck_assert(chol_ok(P, 12)); /* M'M, M square Gaussian: definite */
    double *x0 = read_vec(dir, "x_feas.mtx", 12), eq, viol, minslack;
    feas(A, pr->b, 4, G, pr->h, 6, 12, x0, &eq, &viol, &minslack);
    ck_assert_double_le(eq, 1e-12); /* b = A x0         */
    ck_assert_double_le(viol, 0);   /* h - G x0 = u >= 0 */
    ck_assert_double_ge(minslack, 0);
    ck_assert_double_le(-viol, 1 + 1e-12); /* u < 1 */
    altdiff_free_array(x0);
    free(P);
    free(A);
    free(G);
    altdiff_free_problem(op);
    rm_rf(dir);
}
END_TEST

/* feasible=0 (the paper's b, h), and m = p = 0 omit files */
START_TEST(test_dense_variants)
{
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen("dense", dir, "n=5", "m=2", "p=3", "feasible=0", NULL), 0);
    ck_assert(!exists(join(dir, "x_feas.mtx")));
    altdiff_owned_problem *op = read_dir(dir);
    ck_assert_int_eq(op->prob.m, 2);
    ck_assert_int_eq(op->prob.p, 3);
    altdiff_free_problem(op);
    rm_rf(dir);

    dir = tmp_dir();
    ck_assert_int_eq(gen("dense", dir, "n=3", "m=0", "p=0", NULL), 0);
    ck_assert(exists(join(dir, "P.mtx")) && exists(join(dir, "q.mtx")));
    ck_assert(!exists(join(dir, "A.mtx")) && !exists(join(dir, "b.mtx")));
    ck_assert(!exists(join(dir, "G.mtx")) && !exists(join(dir, "h.mtx")));
    op = read_dir(dir);
    ck_assert_int_eq(op->prob.n, 3);
    ck_assert_int_eq(op->prob.m, 0);
    ck_assert_int_eq(op->prob.p, 0);
    altdiff_free_problem(op);
    rm_rf(dir);
}
END_TEST

/* ---- sparsemax ---------------------------------------------------------- */

START_TEST(test_sparsemax)
{
    const altdiff_int n = 7;
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen("sparsemax", dir, "n=7", NULL), 0);
    ck_assert_int_eq(check_P_lower(dir), n);
    altdiff_owned_problem *op = read_dir(dir);
    const altdiff_problem *pr = &op->prob;
    ck_assert_int_eq(pr->n, n);
    ck_assert_int_eq(pr->m, 1);
    ck_assert_int_eq(pr->p, 2 * n);
    double *P = dense_of(&pr->P, 1), *A = dense_of(&pr->A, 0), *G = dense_of(&pr->G, 0);
    for (altdiff_int j = 0; j < n; j++) {
        for (altdiff_int i = 0; i < n; i++) ck_assert_double_eq(P[i + j * n], i == j); /* I */
        ck_assert_double_eq(A[j], 1);                                                  /* 1' */
        for (altdiff_int i = 0; i < 2 * n; i++) /* G = [-I; I] */
            ck_assert_double_eq(G[i + j * 2 * n], i == j ? -1 : i == n + j ? 1 : 0);
        ck_assert_double_eq(pr->h[j], 0);
        ck_assert_double_eq(pr->h[n + j], 1);
        ck_assert(isfinite(pr->q[j]) && pr->q[j] != 0);
    }
    ck_assert_double_eq(pr->b[0], 1);
    ck_assert_int_eq(pr->A.p[n], n);
    ck_assert_int_eq(pr->G.p[n], 2 * n);
    free(P);
    free(A);
    free(G);
    altdiff_free_problem(op);
    rm_rf(dir);
}
END_TEST

/* ---- manycon ------------------------------------------------------------ */

START_TEST(test_manycon)
{
    const altdiff_int n = 20, p = 60;
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen("manycon", dir, "n=20", "ratio=3", "density=4", "seed=9", NULL), 0);
    check_P_lower(dir);
    ck_assert(!exists(join(dir, "A.mtx")));
    altdiff_owned_problem *op = read_dir(dir);
    const altdiff_problem *pr = &op->prob;
    ck_assert_int_eq(pr->n, n);
    ck_assert_int_eq(pr->m, 0);
    ck_assert_int_eq(pr->p, p);
    double *P = dense_of(&pr->P, 1), *G = dense_of(&pr->G, 0);
    double *x = read_vec(dir, "x_true.mtx", n), *nu = read_vec(dir, "nu_true.mtx", p);
    ck_assert(chol_ok(P, n)); /* B'B + 0.1 I */
    int active = 0;
    for (altdiff_int i = 0; i < p; i++) {
        ck_assert_int_eq(row_nnz(G, p, n, i), 4); /* density nonzeros per row */
        ck_assert_double_ge(nu[i], 0);
        active += (nu[i] > 0);
    }
    ck_assert_int_eq(active, p / 2 < n / 2 ? p / 2 : n / 2); /* never more than n/2 */
    /* r: |Ax-b|, |max(Gx-h,0)|, |Px+q+G'nu|, |min(nu,0)|, |nu.(h-Gx)| */
    double r[5];
    kkt_residuals(n, 0, p, P, pr->q, NULL, NULL, G, pr->h, x, NULL, nu, r);
    for (int k = 0; k < 5; k++) ck_assert_msg(r[k] <= 1e-9, "KKT residual %d = %g", k, r[k]);
    double eq, viol, minslack; /* inactive rows keep slack >= 0.1 */
    for (altdiff_int i = 0; i < p; i++)
        if (nu[i] == 0) {
            double s = pr->h[i];
            for (altdiff_int j = 0; j < n; j++) s -= G[i + j * p] * x[j];
            ck_assert_double_ge(s, 0.1 - 1e-12);
        }
    feas(NULL, NULL, 0, G, pr->h, p, n, x, &eq, &viol, &minslack);
    ck_assert_double_le(fabs(minslack), 1e-12); /* some rows active */
    altdiff_free_array(x);
    altdiff_free_array(nu);
    free(P);
    free(G);
    altdiff_free_problem(op);
    rm_rf(dir);
}
END_TEST

/* ---- grid --------------------------------------------------------------- */

/* the grid family with side k: Laplacian, blocks (disjoint: each node in at
 * most one), box */
static void check_grid(altdiff_int k, int disjoint)
{
    altdiff_int n = k * k;
    char kk[32];
    snprintf(kk, sizeof(kk), "k=%lld", (long long)k);
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen("grid", dir, kk, NULL), 0);
    ck_assert_int_eq(check_P_lower(dir), n + 2 * k * (k - 1)); /* diag + grid edges */
    altdiff_owned_problem *op = read_dir(dir);
    const altdiff_problem *pr = &op->prob;
    ck_assert_int_eq(pr->n, n);
    ck_assert_int_eq(pr->m, k);
    ck_assert_int_eq(pr->p, 2 * n);
    double *P = dense_of(&pr->P, 1), *A = dense_of(&pr->A, 0), *G = dense_of(&pr->G, 0);
    for (altdiff_int u = 0; u < n; u++)
        for (altdiff_int v = 0; v < n; v++) { /* node u = (u % k, u / k) */
            altdiff_int dr = llabs(u % k - v % k), dc = llabs(u / k - v / k);
            double want = u == v ? 4.01 : dr + dc == 1 ? -1 : 0;
            ck_assert_double_eq(P[u + v * n], want);
        }
    for (altdiff_int e = 0; e < k; e++) { /* row e sums a 2x2 block */
        altdiff_int lo = n, hi = -1, cnt = 0;
        for (altdiff_int v = 0; v < n; v++)
            if (A[e + v * k] != 0) {
                ck_assert_double_eq(A[e + v * k], 1);
                lo = v < lo ? v : lo;
                hi = v;
                cnt++;
            }
        ck_assert_int_eq(cnt, 4);
        ck_assert_int_lt(lo % k, k - 1);
        ck_assert_int_lt(lo / k, k - 1);
        ck_assert_double_eq(A[e + (lo + 1) * k] + A[e + (lo + k) * k], 2);
        ck_assert_int_eq(hi, lo + k + 1);
        ck_assert_double_eq(pr->b[e], 0);
        for (altdiff_int f = 0; f < e; f++) { /* distinct blocks */
            int same = 1;
            for (altdiff_int v = 0; v < n; v++) same &= (A[e + v * k] == A[f + v * k]);
            ck_assert(!same);
        }
    }
    for (altdiff_int v = 0; disjoint && v < n; v++) {
        int c = 0; /* each node in at most one block */
        for (altdiff_int e = 0; e < k; e++) c += (A[e + v * k] != 0);
        ck_assert_int_le(c, 1);
    }
    for (altdiff_int j = 0; j < n; j++) /* G = [I; -I], h = 1 */
        for (altdiff_int i = 0; i < 2 * n; i++) {
            ck_assert_double_eq(G[i + j * 2 * n], i == j ? 1 : i == n + j ? -1 : 0);
            ck_assert_double_eq(pr->h[i], 1);
        }
    free(P);
    free(A);
    free(G);
    altdiff_free_problem(op);
    rm_rf(dir);
}

START_TEST(test_grid)
{
    check_grid(6, 1);
    check_grid(4, 1);
    check_grid(5, 0); /* k = 5: 2x2 disjoint blocks do not fit k times */
    check_grid(3, 0);
}
END_TEST

/* ---- randsparse --------------------------------------------------------- */

START_TEST(test_randsparse)
{
    const altdiff_int n = 50, m = 5, p = 25;
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen("randsparse", dir, "n=50", "density=0.1", "seed=4", NULL), 0);
    check_P_lower(dir);
    altdiff_owned_problem *op = read_dir(dir);
    const altdiff_problem *pr = &op->prob;
    ck_assert_int_eq(pr->n, n);
    ck_assert_int_eq(pr->m, m); /* defaults n/10, n/2 */
    ck_assert_int_eq(pr->p, p);
    double *P = dense_of(&pr->P, 1), *A = dense_of(&pr->A, 0), *G = dense_of(&pr->G, 0);
    ck_assert(chol_ok(P, n));
    for (altdiff_int i = 0; i < m; i++) ck_assert_int_eq(row_nnz(A, m, n, i), 5);
    for (altdiff_int i = 0; i < p; i++) ck_assert_int_eq(row_nnz(G, p, n, i), 5);
    double *x0 = read_vec(dir, "x_feas.mtx", n), eq, viol, minslack;
    feas(A, pr->b, m, G, pr->h, p, n, x0, &eq, &viol, &minslack);
    ck_assert_double_le(eq, 1e-12);
    ck_assert_double_le(viol, 0);
    altdiff_free_array(x0);
    free(P);
    free(A);
    free(G);
    altdiff_free_problem(op);
    rm_rf(dir);

    /* tiny density: still one nonzero per row, explicit m and p */
    dir = tmp_dir();
    ck_assert_int_eq(gen("randsparse", dir, "n=30", "density=0.0001", "m=3", "p=0", NULL), 0);
    op = read_dir(dir);
    ck_assert_int_eq(op->prob.m, 3);
    ck_assert_int_eq(op->prob.p, 0);
    ck_assert_int_eq(op->prob.A.p[30], 3);
    altdiff_free_problem(op);
    rm_rf(dir);
}
END_TEST

/* ---- entropy ------------------------------------------------------------ */

/* Read an entropy directory with cli_gen_read_dir */
static altdiff_owned_problem *read_entropy(const char *dir, double **y)
{
    altdiff_owned_problem *op = NULL;
    char err[512] = "";
    int rc = cli_gen_read_dir(dir, ALTDIFF_OBJECTIVE_ENTROPY, &op, y, err, sizeof(err));
    ck_assert_msg(rc == ALTDIFF_OK && op && *y, "cli_gen_read_dir(%s): %d %s", dir, rc, err);
    return op;
}

/* The entropy family with n, m, p: sizes, files, the empty P, rows with d
 * nonzeros each (d = n: dense), y = y.mtx, and x0 = x_feas.mtx in
 * [0.5, 1.5)/n with A x0 = b and 0 <= h - G x0 < 1/n */
static void check_entropy(const char *dir, altdiff_int n, altdiff_int m, altdiff_int p,
                          int d)
{
    double *y = NULL;
    ck_assert(!exists(join(dir, "P.mtx")) && !exists(join(dir, "q.mtx")));
    ck_assert_int_eq(exists(join(dir, "A.mtx")), m > 0);
    ck_assert_int_eq(exists(join(dir, "G.mtx")), p > 0);
    altdiff_owned_problem *op = read_entropy(dir, &y);
    const altdiff_problem *pr = &op->prob;
    ck_assert(pr->n == n && pr->m == m && pr->p == p);
    ck_assert_int_eq(pr->P.p[n], 0); /* no P, no q */
    ck_assert_ptr_null(pr->q);
    double *A = dense_of(&pr->A, 0), *G = dense_of(&pr->G, 0);
    for (altdiff_int i = 0; i < m; i++) ck_assert_int_eq(row_nnz(A, m, n, i), d);
    for (altdiff_int i = 0; i < p; i++) ck_assert_int_eq(row_nnz(G, p, n, i), d);
    double *y2 = read_vec(dir, "y.mtx", n), *x0 = read_vec(dir, "x_feas.mtx", n);
    double eq, viol, minslack;
    for (altdiff_int j = 0; j < n; j++) {
        ck_assert_double_eq(y[j], y2[j]);
        ck_assert(x0[j] >= 0.5 / (double)n && x0[j] < 1.5 / (double)n); /* x0 > 0 */
    }
    feas(A, pr->b, m, G, pr->h, p, n, x0, &eq, &viol, &minslack);
    ck_assert_double_le(eq, 1e-12);                 /* b = A x0           */
    if (p) ck_assert_double_le(viol, 0);             /* h - G x0 = u/n >= 0 */
    if (p) ck_assert_double_le(-viol, 1.0 / (double)n + 1e-12);
    altdiff_free_array(y);
    altdiff_free_array(y2);
    altdiff_free_array(x0);
    free(A);
    free(G);
    altdiff_free_problem(op);
}

START_TEST(test_entropy)
{
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen("entropy", dir, "n=30", "m=4", "p=6", "seed=5", NULL), 0);
    check_entropy(dir, 30, 4, 6, 30); /* dense A, G (density=1) */
    rm_rf(dir);

    dir = tmp_dir(); /* sparse: round(0.1 n) = 4 nonzeros per row */
    ck_assert_int_eq(gen("entropy", dir, "n=40", "m=3", "p=5", "density=0.1", NULL), 0);
    check_entropy(dir, 40, 3, 5, 4);
    rm_rf(dir);

    dir = tmp_dir(); /* tiny density: still one nonzero per row */
    ck_assert_int_eq(gen("entropy", dir, "n=20", "m=2", "p=2", "density=0.001", NULL), 0);
    check_entropy(dir, 20, 2, 2, 1);
    rm_rf(dir);

    dir = tmp_dir(); /* no constraints: y and x_feas only */
    ck_assert_int_eq(gen("entropy", dir, "n=7", "m=0", "p=0", NULL), 0);
    check_entropy(dir, 7, 0, 0, 7);
    rm_rf(dir);

    dir = tmp_dir(); /* defaults m = 300, p = 100 */
    ck_assert_int_eq(gen("entropy", dir, "n=400", "density=0.01", NULL), 0);
    check_entropy(dir, 400, 300, 100, 4);
    rm_rf(dir);
}
END_TEST

/* cli_gen_read_dir: the quadratic objective is altdiff_read_problem; the
 * entropy rejects P.mtx and a q.mtx of the wrong length, reads a right one */
START_TEST(test_read_dir)
{
    char err[512];
    altdiff_owned_problem *op = NULL;
    double *y = NULL;
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen("dense", dir, "n=5", "m=2", "p=3", NULL), 0);
    ck_assert_int_eq(cli_gen_read_dir(dir, ALTDIFF_OBJECTIVE_QUADRATIC, &op, &y, err, sizeof(err)),
                     ALTDIFF_OK);
    ck_assert(op && !y && op->prob.n == 5 && op->prob.m == 2 && op->prob.p == 3);
    altdiff_free_problem(op);
    ck_assert_int_eq(cli_gen_read_dir(dir, ALTDIFF_OBJECTIVE_ENTROPY, &op, &y, err, sizeof(err)),
                     ALTDIFF_ERR_INVALID); /* P.mtx present */
    ck_assert(!op && !y && strstr(err, "P.mtx"));
    rm_rf(dir);

    dir = tmp_dir();
    ck_assert_int_eq(gen("entropy", dir, "n=6", "m=1", "p=2", NULL), 0);
    double q[6] = {1, 2, 3, 4, 5, 6};
    ck_assert_int_eq(altdiff_write_dense(join(dir, "q.mtx"), q, 6, 1, err, sizeof(err)), 0);
    op = read_entropy(dir, &y);
    ck_assert_ptr_nonnull(op->prob.q);
    for (int j = 0; j < 6; j++) ck_assert_double_eq(op->prob.q[j], q[j]);
    altdiff_free_problem(op);
    altdiff_free_array(y);
    ck_assert_int_eq(altdiff_write_dense(join(dir, "q.mtx"), q, 5, 1, err, sizeof(err)), 0);
    ck_assert_int_eq(cli_gen_read_dir(dir, ALTDIFF_OBJECTIVE_ENTROPY, &op, &y, err, sizeof(err)),
                     ALTDIFF_ERR_INVALID);
    ck_assert(!op && !y && strstr(err, "q.mtx"));
    unlink(join(dir, "q.mtx"));
    unlink(join(dir, "y.mtx"));
    ck_assert_int_eq(cli_gen_read_dir(dir, ALTDIFF_OBJECTIVE_ENTROPY, &op, &y, err, sizeof(err)),
                     ALTDIFF_ERR_IO);
    ck_assert(!op && !y && strstr(err, "y.mtx"));
    rm_rf(dir);
}
END_TEST

/* reading an entropy directory with the k-th allocation failing: NOMEM (no
 * leak under ASan with CK_FORK=no) until it succeeds */
START_TEST(test_read_dir_oom)
{
    char err[512];
    altdiff_owned_problem *op = NULL;
    double *y = NULL;
    const char *dir = tmp_dir();
    long k;
    ck_assert_int_eq(gen("entropy", dir, "n=8", "m=2", "p=3", "density=0.5", NULL), 0);
    double q[8] = {0};
    ck_assert_int_eq(altdiff_write_dense(join(dir, "q.mtx"), q, 8, 1, err, sizeof(err)), 0);
    for (k = 0; k < 10000; k++) {
        ad_fault_arm(k);
        int rc = cli_gen_read_dir(dir, ALTDIFF_OBJECTIVE_ENTROPY, &op, &y, err, sizeof(err));
        int fired = ad_fault_fired();
        ad_fault_arm(-1);
        if (!fired) {
            ck_assert_int_eq(rc, ALTDIFF_OK);
            break;
        }
        ck_assert_msg(rc == ALTDIFF_ERR_NOMEM && !op && !y, "allocation %ld: %d", k, rc);
    }
    ck_assert_int_ge(k, 8);
    altdiff_free_problem(op);
    altdiff_free_array(y);
    rm_rf(dir);
}
END_TEST

/* ---- determinism -------------------------------------------------------- */

static const char *fam_args[][3] = {
    {"dense", "n=9", "m=3"},
    {"sparsemax", "n=9", NULL},
    {"manycon", "n=9", "ratio=2"},
    {"grid", "k=5", NULL},
    {"randsparse", "n=40", "density=0.05"},
    {"entropy", "n=9", "m=3"},
    {"control", "n=6", NULL},
    {"portfolio", "n=50", NULL},
    {"lasso", "n=5", "m=50"},
    {"huber", "n=5", "m=50"},
    {"svm", "n=5", "m=60"},
    {"eqqp", "n=30", NULL},
    {"randqp", "n=20", NULL},
};
static const char *fam_files[] = {"P.mtx",      "q.mtx",      "y.mtx",      "A.mtx",
                                  "b.mtx",      "G.mtx",      "h.mtx",      "x_feas.mtx",
                                  "x_true.mtx", "nu_true.mtx"};

/* same seed: byte-identical files; another seed: another q (entropy: y) */
START_TEST(test_determinism)
{
    const char **a = fam_args[_i];
    char d1[64], d2[64], d3[64];
    snprintf(d1, sizeof(d1), "%s", tmp_dir());
    snprintf(d2, sizeof(d2), "%s", tmp_dir());
    snprintf(d3, sizeof(d3), "%s", tmp_dir());
    ck_assert_int_eq(gen(a[0], d1, a[1], a[2], NULL), 0); /* default seed = 1 */
    ck_assert_int_eq(gen(a[0], d2, a[1], a[2] ? a[2] : "seed=1", "seed=1", NULL), 0);
    ck_assert_int_eq(gen(a[0], d3, a[1], a[2] ? a[2] : "seed=2", "seed=2", NULL), 0);
    int files = 0;
    for (size_t f = 0; f < sizeof(fam_files) / sizeof(fam_files[0]); f++) {
        const char *p1 = join(d1, fam_files[f]), *p2 = join(d2, fam_files[f]);
        ck_assert_int_eq(exists(p1), exists(p2));
        if (!exists(p1)) continue;
        ck_assert_msg(same_bytes(p1, p2), "%s %s differs", a[0], fam_files[f]);
        files++;
    }
    ck_assert_int_ge(files, 2);
    int differ = 0; /* another seed: some file differs */
    for (size_t f = 0; f < sizeof(fam_files) / sizeof(fam_files[0]); f++)
        differ += exists(join(d1, fam_files[f])) &&
                  !same_bytes(join(d1, fam_files[f]), join(d3, fam_files[f]));
    ck_assert_int_ge(differ, 1);
    rm_rf(d1);
    rm_rf(d2);
    rm_rf(d3);
}
END_TEST

/* failing the k-th allocation, k = 0, 1, ..., gives status 1 (and, under
 * ASan with CK_FORK=no, leaks nothing) until generation succeeds */
START_TEST(test_oom)
{
    const char **a = fam_args[_i];
    const char *dir = tmp_dir();
    char *argv[] = {"gen", (char *)a[0], (char *)dir, (char *)a[1], (char *)a[2], NULL}, msg[1024];
    int argc = a[2] ? 5 : 4;
    long k;
    for (k = 0; k < 100000; k++) {
        ad_fault_arm(k);
        int status = gen_stderr(argc, argv, msg, sizeof(msg)), fired = ad_fault_fired();
        ad_fault_arm(-1);
        if (!fired) {
            ck_assert_int_eq(status, 0);
            break;
        }
        ck_assert_msg(status == 1, "%s: allocation %ld failed, status %d", a[0], k, status);
        ck_assert_ptr_eq(strchr(msg, '\n'), msg + strlen(msg) - 1); /* one line */
    }
    ck_assert_int_ge(k, 4);
    rm_rf(dir);
}
END_TEST

/* ---- the benchmark classes of first-order QP solvers -------------------- */

/* family, options, and the sizes n, m, p they must give */
static const struct {
    const char *fam, *o1, *o2;
    altdiff_int n, m, p;
} classes[] = {
    {"control", "n=6", "seed=3", 11 * 6 + 10 * 3, 11 * 6, 2 * (10 * 6 + 10 * 3)},
    {"portfolio", "n=150", NULL, 150 + 2, 3, 150},
    {"lasso", "n=6", "m=80", 2 * 6 + 80, 80, 12},
    {"huber", "n=6", "m=80", 6 + 3 * 80, 80, 160},
    {"svm", "n=6", "m=80", 6 + 80, 0, 160},
    {"eqqp", "n=40", NULL, 40, 20, 0},
    {"randqp", "n=15", "density=0.3", 15, 0, 300},
};

/* Each class: its sizes, P's lower triangle, and a solve at default
 * settings that ends solved (with an independent check of the constraints
 * at the returned x) */
START_TEST(test_bench_class)
{
    const char *dir = tmp_dir();
    ck_assert_int_eq(gen(classes[_i].fam, dir, classes[_i].o1, classes[_i].o2, NULL), 0);
    check_P_lower(dir);
    altdiff_owned_problem *op = read_dir(dir);
    const altdiff_problem *pr = &op->prob;
    ck_assert_int_eq(pr->n, classes[_i].n);
    ck_assert_int_eq(pr->m, classes[_i].m);
    ck_assert_int_eq(pr->p, classes[_i].p);
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *w = NULL;
    ck_assert_int_eq(altdiff_setup(&w, pr, &set), ALTDIFF_OK);
    ck_assert_int_eq(altdiff_solve(w), ALTDIFF_OK);
    int status = altdiff_get_info(w)->status;
    double *x = calloc((size_t)pr->n, sizeof(double));
    double *A = dense_of(&pr->A, 0), *G = dense_of(&pr->G, 0), eq, viol, minslack;
    altdiff_get_solution(w, x, NULL, NULL, NULL);
    altdiff_free(w);
    feas(A, pr->b, pr->m, G, pr->h, pr->p, pr->n, x, &eq, &viol, &minslack);
    free(x);
    free(A);
    free(G);
    altdiff_free_problem(op);
    rm_rf(dir);
    ck_assert_msg(status == ALTDIFF_SOLVED, "%s: status %d", classes[_i].fam, status);
    ck_assert_msg(eq < 1e-4 && viol < 1e-4, "%s: |Ax-b| %g, max(Gx-h) %g", classes[_i].fam, eq,
                  viol);
}
END_TEST

/* ---- arguments and errors ----------------------------------------------- */

/* argument lists that must fail with status 2, and what the message names */
static const char *bad_args[][5] = {
    {"dense", "@", "bogus=1", NULL, "bogus"},
    {"nosuch", "@", NULL, NULL, "nosuch"},
    {"dense", "@", "n", NULL, "'n'"},
    {"dense", "@", "=5", NULL, "=5"},
    {"dense", "@", "n=abc", NULL, "n=abc"},
    {"dense", "@", "n=0", NULL, "n=0"},
    {"dense", "@", "n=-3", NULL, "n=-3"},
    {"dense", "@", "n=5x", NULL, "n=5x"},
    {"dense", "@", "n=", NULL, "n="},
    {"dense", "@", "feasible=2", NULL, "feasible"},
    {"dense", "@", "seed=-1", NULL, "seed"},
    {"dense", "@", "m=1.5", NULL, "m=1.5"},
    {"sparsemax", "@", "m=3", NULL, "'m'"},
    {"grid", "@", "k=2", NULL, "k=2"},
    {"grid", "@", "n=100", NULL, "'n'"},
    {"randsparse", "@", "density=1.5", NULL, "density"},
    {"randsparse", "@", "density=0", NULL, "density"},
    {"randsparse", "@", "density=nan", NULL, "density"},
    {"manycon", "@", "density=2.5", NULL, "density"},
    {"manycon", "@", "ratio=-1", NULL, "ratio"},
    {"manycon", "@", "n=10", "ratio=0.01", "ratio"},
    {"dense", "@", "n=4", "averyveryverylongkey=1", "averyveryverylongkey"},
    {"entropy", "@", "density=1.5", NULL, "density"},
    {"entropy", "@", "density=0", NULL, "density"},
    {"entropy", "@", "k=4", NULL, "'k'"},
    {"entropy", "@", "feasible=1", NULL, "'feasible'"},
    {"entropy", "@", "m=-1", NULL, "m=-1"},
    {"lasso", "@", "density=2", NULL, "density"},
    {"control", "@", "m=3", NULL, "'m'"},
    {"svm", "@", "m=0", NULL, "m (samples)"},
    {"randqp", "@", "p=3", NULL, "'p'"},
};

START_TEST(test_bad_args)
{
    const char **a = bad_args[_i];
    char *argv[6] = {"gen"}, msg[1024];
    int argc = 1;
    const char *top = tmp_dir();
    char out[128];
    snprintf(out, sizeof(out), "%s/out", top);
    for (int c = 0; c < 4 && a[c]; c++) argv[argc++] = (char *)(strcmp(a[c], "@") ? a[c] : out);
    ck_assert_int_eq(gen_stderr(argc, argv, msg, sizeof(msg)), 2);
    ck_assert_msg(strstr(msg, a[4]) != NULL, "message '%s' does not name '%s'", msg, a[4]);
    ck_assert_ptr_eq(strchr(msg, '\n'), msg + strlen(msg) - 1); /* one line */

    ck_assert(!exists(out)); /* nothing created */
    rm_rf(top);
}
END_TEST

START_TEST(test_missing_args)
{
    char msg[1024];
    char *argv1[] = {"gen", NULL}, *argv2[] = {"gen", "dense", NULL},
         *argv3[] = {"gen", "dense", "", NULL};
    ck_assert_int_eq(gen_stderr(1, argv1, msg, sizeof(msg)), 2);
    ck_assert_int_eq(gen_stderr(2, argv2, msg, sizeof(msg)), 2);
    ck_assert_int_eq(gen_stderr(3, argv3, msg, sizeof(msg)), 2);
    ck_assert_ptr_nonnull(strstr(msg, "OUTDIR"));
}
END_TEST

/* OUTDIR is created as by mkdir -p; an existing directory is reused; a path
 * through a regular file is an I/O failure (status 1) */
START_TEST(test_outdir)
{
    const char *top = tmp_dir();
    char base[128], nested[192], blocked[192], msg[1024];
    snprintf(base, sizeof(base), "%s", top);
    snprintf(nested, sizeof(nested), "%s/a/b//c/", base);
    ck_assert_int_eq(gen("sparsemax", nested, "n=3", NULL), 0);
    ck_assert(exists(join(nested, "P.mtx")));
    ck_assert_int_eq(gen("sparsemax", nested, "n=4", NULL), 0); /* overwrite */
    altdiff_owned_problem *op = read_dir(nested);
    ck_assert_int_eq(op->prob.n, 4);
    altdiff_free_problem(op);

    FILE *f = fopen(join(base, "file"), "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(blocked, sizeof(blocked), "%s/file/sub", base);
    char *argv[] = {"gen", "grid", blocked, "k=3", NULL};
    ck_assert_int_eq(gen_stderr(4, argv, msg, sizeof(msg)), 1);
    ck_assert_ptr_nonnull(strstr(msg, blocked));
    argv[2] = (char *)join(base, "file"); /* OUTDIR is a regular file */
    ck_assert_int_eq(gen_stderr(4, argv, msg, sizeof(msg)), 1);
    rm_rf(base);
}
END_TEST

START_TEST(test_usage)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_gen_usage(f);
    fclose(f);
    const char *words[] = {"dense",    "sparsemax", "manycon", "grid",   "randsparse",
                           "entropy",  "seed",      "feasible", "ratio", "density",
                           "control",  "portfolio", "lasso",   "huber",  "svm",
                           "eqqp",     "randqp"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
        ck_assert_ptr_nonnull(strstr(buf, words[w]));
    free(buf);
}
END_TEST

static Suite *suite_gen(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("families");
    tcase_add_test(tc, test_dense);
    tcase_add_test(tc, test_dense_variants);
    tcase_add_test(tc, test_sparsemax);
    tcase_add_test(tc, test_manycon);
    tcase_add_test(tc, test_grid);
    tcase_add_test(tc, test_randsparse);
    tcase_add_test(tc, test_entropy);
    tcase_add_test(tc, test_read_dir);
    tcase_add_test(tc, test_read_dir_oom);
    tcase_add_loop_test(tc, test_determinism, 0, (int)(sizeof(fam_args) / sizeof(fam_args[0])));
    tcase_add_loop_test(tc, test_oom, 0, (int)(sizeof(fam_args) / sizeof(fam_args[0])));
    tcase_add_loop_test(tc, test_bench_class, 0, (int)(sizeof(classes) / sizeof(classes[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("arguments");
    tcase_add_loop_test(tc, test_bad_args, 0, (int)(sizeof(bad_args) / sizeof(bad_args[0])));
    tcase_add_test(tc, test_missing_args);
    tcase_add_test(tc, test_outdir);
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_gen()); }
