/* check_mm: Matrix Market I/O (sparse/mm.c) and problem directories
 * (src/problem_io.c): the corpus of malformed files in data/bad, exact values
 * of the good files in data/mm_good, bit-exact round trips, atomic writes,
 * speed on a 10^6 vector, and an allocation-failure sweep. */
/* ALTDIFF_FAULT_INJECTION comes from tests/meson.build, as for the test library */

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "sp.h"

#define ERRLEN 512

/* ======================================================================== */
/* === helpers =========================================================== */
/* ======================================================================== */

static void data_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", AD_DATA_DIR, rel);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A fresh temporary directory in dir (PATH_MAX-ish buffer) */
static void tmpdir_make(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/check_mm_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Remove the temporary directory and the files in it */
static void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (rmdir(path) != 0) unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Number of entries in a directory, . and .. excluded */
static int dir_count(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Bitwise equality of doubles (tells -0.0 from 0.0) */
static int same_bits(const double *x, const double *y, altdiff_int n)
{
    return n == 0 || memcmp(x, y, (size_t)n * sizeof(double)) == 0;
}

/* Assert that err contains s */
#define ck_assert_has(err, s)                                                               \
    ck_assert_msg(strstr((err), (s)) != NULL, "message '%s' lacks '%s'", (err), (s))

/* ======================================================================== */
/* === malformed single files ============================================ */
/* ======================================================================== */

typedef struct {
    const char *file; /* in data/bad                          */
    int line;         /* expected line in the message, 0: none */
    const char *key;  /* expected text in the message          */
} bad_file;

static const bad_file bad_files[] = {
    {"empty.mtx", 0, "empty file"},
    {"no_banner.mtx", 1, "missing %%MatrixMarket banner"},
    {"banner_short.mtx", 1, "incomplete banner"},
    {"banner_junk.mtx", 1, "trailing junk 'extra'"},
    {"vector_object.mtx", 1, "unsupported object 'vector'"},
    {"bad_format.mtx", 1, "unsupported format 'sparse'"},
    {"pattern.mtx", 1, "unsupported field 'pattern'"},
    {"complex.mtx", 1, "unsupported field 'complex'"},
    {"hermitian.mtx", 1, "unsupported symmetry 'hermitian'"},
    {"skew.mtx", 1, "unsupported symmetry 'skew-symmetric'"},
    {"size_missing.mtx", 3, "missing size line"},
    {"size_text.mtx", 2, "'three' is not an integer"},
    {"size_negative.mtx", 2, "negative"},
    {"size_short.mtx", 2, "bad size line"},
    {"size_junk.mtx", 2, "trailing junk '7'"},
    {"nnz_too_big.mtx", 2, "cannot fit"},
    {"fewer.mtx", 2, "3 entries announced, but the 16 bytes after the size line can hold at most 2"},
    {"more.mtx", 5, "more entries than announced (2)"},
    {"value_text.mtx", 4, "'abc' is not a decimal number"},
    {"index_text.mtx", 3, "column index 'x' is not an integer"},
    {"index_float.mtx", 4, "row index '2.0' is not an integer"},
    {"entry_junk.mtx", 3, "trailing junk '3.0'"},
    {"entry_short.mtx", 4, "missing value"},
    {"row_range.mtx", 4, "row index 4 out of range 1..3"},
    {"col_zero.mtx", 4, "column index 0 out of range 1..3"},
    {"duplicate.mtx", 5, "duplicate entry (2,1): already given as (2,1) on line 3"},
    {"sym_mirror.mtx", 5, "duplicate entry (1,2): already given as (2,1) on line 3"},
    {"nan.mtx", 4, "'NaN' is not finite"},
    {"inf.mtx", 3, "'-inf' is not finite"},
    {"overflow.mtx", 5, "'1e999' is not finite"},
    {"hex.mtx", 4, "'0x1p3' is not a decimal number"},
    {"sym_nonsquare.mtx", 2, "must be square, not 3 x 4"},
    {"array_fewer.mtx", 4, "fewer entries than announced: 2 of 3"},
    {"array_junk.mtx", 3, "trailing junk '2.0'"},
    {"array_more.mtx", 5, "more entries than announced (2)"},
    {"array_sym_more.mtx", 6, "more entries than announced (3)"},
    {"integer_frac.mtx", 4, "'1.5' is not an integer"},
};
#define N_BAD_FILES ((int)(sizeof(bad_files) / sizeof(bad_files[0])))

/* The message names the file, the line (if any) and what is wrong */
static void check_bad_message(const bad_file *b, const char *path, const char *err)
{
    char where[1100];
    if (b->line > 0) snprintf(where, sizeof(where), "%s:%d: ", path, b->line);
    else snprintf(where, sizeof(where), "%s: ", path);
    ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "message '%s' does not start '%s'",
                  err, where);
    ck_assert_has(err, b->key);
    ck_assert_ptr_null(strchr(err, '\n'));
}

START_TEST(test_bad_file)
{
    const bad_file *b = &bad_files[_i];
    char path[1024], rel[256], err[ERRLEN];
    snprintf(rel, sizeof(rel), "bad/%s", b->file);
    data_path(path, sizeof(path), rel);
    ck_assert_msg(exists(path), "corpus file %s missing", path);
    cs_dl *A = (cs_dl *)1;
    int sym = -7;
    ck_assert_int_eq(ad_mm_read_sparse(path, &A, &sym, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(A);
    check_bad_message(b, path, err);
    double *x = (double *)1;
    altdiff_int m = -1, n = -1;
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(x);
    check_bad_message(b, path, err);
}
END_TEST

START_TEST(test_nul_byte_and_missing_file)
{
    char dir[512], path[1024], err[ERRLEN];
    tmpdir_make(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/nul.mtx", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    static const char text[] = "%%MatrixMarket matrix array real general\n2 1\n1.0\n2\0003\n";
    fwrite(text, 1, sizeof(text) - 1, f);
    fclose(f);
    double *x = NULL;
    altdiff_int m, n;
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, ":4: NUL byte");
    snprintf(path, sizeof(path), "%s/none.mtx", dir);
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_IO);
    ck_assert_has(err, path);
    ck_assert_has(err, "cannot open");
    ck_assert_ptr_null(x);
    char tiny[8]; /* a short buffer is truncated, still terminated */
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, tiny, sizeof(tiny)), ALTDIFF_ERR_IO);
    ck_assert_uint_eq(strlen(tiny), sizeof(tiny) - 1);
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, NULL, 0), ALTDIFF_ERR_IO);
    tmpdir_remove(dir);
}
END_TEST

/* ======================================================================== */
/* === malformed and inconsistent problem directories ==================== */
/* ======================================================================== */

typedef struct {
    const char *dir;  /* in data/bad                         */
    int code;
    const char *file; /* the file the message must name      */
    const char *key1, *key2;
} bad_dir;

static const bad_dir bad_dirs[] = {
    {"dims_q", ALTDIFF_ERR_INVALID, "q.mtx", "q is 4 x 1", "P.mtx is 3 x 3 (expected 3 x 1)"},
    {"q_row", ALTDIFF_ERR_INVALID, "q.mtx", "q is 1 x 3", "column vector"},
    {"missing_q", ALTDIFF_ERR_IO, "q.mtx", "cannot open", "No such file"},
    {"missing_b", ALTDIFF_ERR_INVALID, "b.mtx", "missing", "A.mtx is present"},
    {"missing_A", ALTDIFF_ERR_INVALID, "A.mtx", "missing", "b.mtx is present"},
    {"missing_h", ALTDIFF_ERR_INVALID, "h.mtx", "missing", "G.mtx is present"},
    {"missing_G", ALTDIFF_ERR_INVALID, "G.mtx", "missing", "h.mtx is present"},
    {"dims_A", ALTDIFF_ERR_INVALID, "A.mtx", "A is 1 x 4", "n = 3 (from P.mtx)"},
    {"dims_b", ALTDIFF_ERR_INVALID, "b.mtx", "b is 2 x 1", "A.mtx is 1 x 3 (expected 1 x 1)"},
    {"dims_G", ALTDIFF_ERR_INVALID, "G.mtx", "G is 2 x 2", "n = 3"},
    {"dims_h", ALTDIFF_ERR_INVALID, "h.mtx", "h is 3 x 1", "G.mtx is 2 x 3 (expected 2 x 1)"},
    {"P_nonsquare", ALTDIFF_ERR_INVALID, "P.mtx", "P is 3 x 2", "square"},
    {"P_unsym", ALTDIFF_ERR_INVALID, "P.mtx", "not symmetric", "P(2,1) = 3 but P(1,2) = 2"},
    {"bad_entry_in_dir", ALTDIFF_ERR_INVALID, "q.mtx:4:", "not finite", "nan"},
    {"no_such_dir", ALTDIFF_ERR_IO, "no_such_dir: ", "cannot open the problem directory",
     "No such file"},
};
#define N_BAD_DIRS ((int)(sizeof(bad_dirs) / sizeof(bad_dirs[0])))

START_TEST(test_bad_dir)
{
    const bad_dir *b = &bad_dirs[_i];
    char dir[1024], rel[256], err[ERRLEN], file[1100];
    snprintf(rel, sizeof(rel), "bad/%s", b->dir);
    data_path(dir, sizeof(dir), rel);
    ck_assert_msg(exists(dir) == (strcmp(b->dir, "no_such_dir") != 0), "corpus %s", dir);
    altdiff_owned_problem *o = (altdiff_owned_problem *)1;
    ck_assert_int_eq(altdiff_read_problem(dir, &o, err, sizeof(err)), b->code);
    ck_assert_ptr_null(o);
    snprintf(file, sizeof(file), "%s/%s", dir, b->file);
    if (strcmp(b->dir, "no_such_dir") == 0) snprintf(file, sizeof(file), "%s", b->file);
    ck_assert_has(err, file);
    ck_assert_has(err, b->key1);
    ck_assert_has(err, b->key2);
    ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

/* ======================================================================== */
/* === good files: exact values ========================================== */
/* ======================================================================== */

/* Assert that the CSC A equals (p, i, x) exactly */
static void check_csc(const cs_dl *A, altdiff_int m, altdiff_int n, const altdiff_int *p,
                      const altdiff_int *i, const double *x)
{
    ck_assert_int_eq(A->m, m);
    ck_assert_int_eq(A->n, n);
    for (altdiff_int j = 0; j <= n; j++) ck_assert_int_eq(A->p[j], p[j]);
    for (altdiff_int t = 0; t < p[n]; t++) {
        ck_assert_int_eq(A->i[t], i[t]);
        ck_assert_msg(A->x[t] == x[t], "x[%lld] = %.17g, want %.17g", (long long)t, A->x[t],
                      x[t]);
    }
}

static cs_dl *read_good_sparse(const char *rel, int *sym)
{
    char path[1024], err[ERRLEN];
    cs_dl *A = NULL;
    data_path(path, sizeof(path), rel);
    int st = ad_mm_read_sparse(path, &A, sym, err, sizeof(err));
    ck_assert_msg(st == ALTDIFF_OK, "%s: %s", rel, err);
    return A;
}

static double *read_good_dense(const char *rel, altdiff_int *m, altdiff_int *n)
{
    char path[1024], err[ERRLEN];
    double *x = NULL;
    data_path(path, sizeof(path), rel);
    int st = ad_mm_read_dense(path, &x, m, n, err, sizeof(err));
    ck_assert_msg(st == ALTDIFF_OK, "%s: %s", rel, err);
    return x;
}

START_TEST(test_good_comments)
{
    int sym = -1;
    cs_dl *A = read_good_sparse("mm_good/comments.mtx", &sym);
    const altdiff_int p[] = {0, 2, 3}, i[] = {0, 2, 1};
    const double x[] = {1.5, -2.25e-3, 7};
    ck_assert_int_eq(sym, 0);
    check_csc(A, 3, 2, p, i, x);
    ad_spfree(A);
    altdiff_int m, n;
    double *D = read_good_dense("mm_good/comments.mtx", &m, &n);
    const double want[] = {1.5, 0, -2.25e-3, 0, 7, 0};
    ck_assert_int_eq(m, 3);
    ck_assert_int_eq(n, 2);
    ck_assert(same_bits(D, want, 6));
    ad_free(D);
}
END_TEST

START_TEST(test_good_integer)
{
    int sym = -1;
    cs_dl *A = read_good_sparse("mm_good/integer.mtx", &sym);
    const altdiff_int p[] = {0, 1, 2, 3}, i[] = {0, 0, 1};
    const double x[] = {-4, 9007199254740992.0, 17}; /* 2^53 + 1 rounds to 2^53 */
    ck_assert_int_eq(sym, 0);
    check_csc(A, 2, 3, p, i, x);
    ad_spfree(A);
}
END_TEST

START_TEST(test_good_array_sym)
{
    int sym = -1;
    cs_dl *A = read_good_sparse("mm_good/array_sym.mtx", &sym);
    const altdiff_int p[] = {0, 3, 5, 6}, i[] = {0, 1, 2, 1, 2, 2};
    const double x[] = {1, 2, 3, 4, 5, 6}; /* the lower triangle, as stored */
    ck_assert_int_eq(sym, 1);
    check_csc(A, 3, 3, p, i, x);
    ad_spfree(A);
    altdiff_int m, n;
    double *D = read_good_dense("mm_good/array_sym.mtx", &m, &n);
    const double full[] = {1, 2, 3, 2, 4, 5, 3, 5, 6};
    ck_assert(m == 3 && n == 3 && same_bits(D, full, 9));
    ad_free(D);
}
END_TEST

START_TEST(test_good_vectors)
{
    altdiff_int m, n;
    char path[1024], err[ERRLEN];
    double *v = read_good_dense("mm_good/vec_coord.mtx", &m, &n);
    const double want[] = {0, 3.5, 0, 0, -1.0};
    ck_assert(m == 5 && n == 1 && same_bits(v, want, 5));
    ad_free(v);
    data_path(path, sizeof(path), "mm_good/vec_coord.mtx");
    ck_assert_int_eq(altdiff_read_vector(path, 5, &v, err, sizeof(err)), ALTDIFF_OK);
    ck_assert(same_bits(v, want, 5));
    altdiff_free_array(v);
    ck_assert_int_eq(altdiff_read_vector(path, 4, &v, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(v);
    ck_assert_has(err, "vec_coord.mtx: the vector is 5 x 1 but n = 4");
    data_path(path, sizeof(path), "mm_good/comments.mtx"); /* 3 x 2: not a vector */
    ck_assert_int_eq(altdiff_read_vector(path, 3, &v, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, "is 3 x 2");
    altdiff_free_array(NULL);
}
END_TEST

START_TEST(test_good_big_values)
{
    altdiff_int m, n;
    double *v = read_good_dense("mm_good/big_values.mtx", &m, &n);
    const double want[] = {1e20, -1e20, 1e-300, -0.0, 0.1, 0.0}; /* 1e-400 underflows */
    ck_assert(m == 6 && n == 1 && same_bits(v, want, 6));
    ad_free(v);
}
END_TEST

START_TEST(test_good_crlf_upper)
{
    int sym = -1;
    cs_dl *A = read_good_sparse("mm_good/crlf_upper.mtx", &sym);
    const altdiff_int p[] = {0, 0, 2}, i[] = {0, 1};
    const double x[] = {3, 1}; /* upper entries kept as stored */
    ck_assert_int_eq(sym, 1);
    check_csc(A, 2, 2, p, i, x);
    ad_spfree(A);
    altdiff_int m, n;
    double *D = read_good_dense("mm_good/crlf_upper.mtx", &m, &n);
    const double full[] = {0, 3, 3, 1};
    ck_assert(m == 2 && n == 2 && same_bits(D, full, 4));
    ad_free(D);
}
END_TEST

/* ======================================================================== */
/* === problem directories =============================================== */
/* ======================================================================== */

static altdiff_owned_problem *read_good_problem(const char *rel)
{
    char dir[1024], err[ERRLEN];
    altdiff_owned_problem *o = NULL;
    data_path(dir, sizeof(dir), rel);
    int st = altdiff_read_problem(dir, &o, err, sizeof(err));
    ck_assert_msg(st == ALTDIFF_OK, "%s: %s", rel, err);
    return o;
}

static void check_view(const altdiff_csc *M, altdiff_int m, altdiff_int n,
                       const altdiff_int *p, const altdiff_int *i, const double *x)
{
    cs_dl A = {0, M->nrow, M->ncol, (altdiff_int *)M->p, (altdiff_int *)M->i,
               (double *)M->x, -1};
    check_csc(&A, m, n, p, i, x);
}

/* P = [4 1 0; 1 5 2; 0 2 6] in every form gives the same upper triangle */
static const char *P_forms[] = {"mm_good/P_lower", "mm_good/P_upper", "mm_good/P_mixed",
                                "mm_good/P_general"};

START_TEST(test_problem_P_forms)
{
    altdiff_owned_problem *o = read_good_problem(P_forms[_i]);
    const altdiff_problem *pr = &o->prob;
    const altdiff_int p[] = {0, 1, 3, 5}, i[] = {0, 0, 1, 1, 2};
    const double x[] = {4, 1, 5, 2, 6}, q[] = {1, -1, 0.5};
    ck_assert(pr->n == 3 && pr->m == 0 && pr->p == 0);
    check_view(&pr->P, 3, 3, p, i, x);
    ck_assert(pr->q == o->q && same_bits(pr->q, q, 3));
    ck_assert(pr->A.nrow == 0 && pr->A.ncol == 3 && pr->A.p && pr->A.p[3] == 0);
    ck_assert(pr->G.nrow == 0 && pr->G.ncol == 3 && pr->G.p && pr->G.p[3] == 0);
    ck_assert(pr->b == NULL && pr->h == NULL);
    altdiff_free_problem(o);
}
END_TEST

START_TEST(test_problem_P_array_sym)
{
    altdiff_owned_problem *o = read_good_problem("mm_good/P_array_sym");
    const altdiff_int p[] = {0, 1, 3, 6}, i[] = {0, 0, 1, 0, 1, 2};
    const double x[] = {4, 1, 5, 0, 2, 6}; /* the stored zero P(1,3) is kept */
    check_view(&o->prob.P, 3, 3, p, i, x);
    altdiff_free_problem(o);
}
END_TEST

START_TEST(test_problem_LP)
{
    altdiff_owned_problem *o = read_good_problem("mm_good/LP"); /* no P.mtx: P = 0 */
    const altdiff_problem *pr = &o->prob;
    const altdiff_int Pp[] = {0, 0, 0, 0, 0}, Ap[] = {0, 1, 2, 2, 3}, Ai[] = {0, 0, 1};
    const double Ax[] = {1, 1, -1}, q[] = {0, -1, 0, 2}, b[] = {1, 0};
    ck_assert(pr->n == 4 && pr->m == 2 && pr->p == 0);
    check_view(&pr->P, 4, 4, Pp, NULL, NULL);
    check_view(&pr->A, 2, 4, Ap, Ai, Ax);
    ck_assert(same_bits(pr->q, q, 4) && same_bits(pr->b, b, 2));
    ck_assert(pr->h == NULL && pr->G.nrow == 0 && pr->G.p[4] == 0);
    altdiff_free_problem(o);
    altdiff_free_problem(NULL);
}
END_TEST

START_TEST(test_problem_eq_box)
{
    altdiff_owned_problem *o = read_good_problem("tiny/eq_box");
    const altdiff_problem *pr = &o->prob;
    const altdiff_int Pp[] = {0, 1, 2, 3, 4}, Pi[] = {0, 1, 2, 3};
    const altdiff_int Ap[] = {0, 1, 2, 3, 4}, Ai[] = {0, 0, 0, 0};
    const altdiff_int Gp[] = {0, 2, 4, 6, 8}, Gi[] = {0, 4, 1, 5, 2, 6, 3, 7};
    const double Px[] = {1, 2, 3, 4}, Ax[] = {1, 1, 1, 1};
    const double Gx[] = {1, -1, 1, -1, 1, -1, 1, -1}, q[] = {1, -1, 0.5, -2}, b[] = {1};
    const double h[] = {1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert(pr->n == 4 && pr->m == 1 && pr->p == 8);
    check_view(&pr->P, 4, 4, Pp, Pi, Px);
    check_view(&pr->A, 1, 4, Ap, Ai, Ax);
    check_view(&pr->G, 8, 4, Gp, Gi, Gx);
    ck_assert(same_bits(pr->q, q, 4) && same_bits(pr->b, b, 1) && same_bits(pr->h, h, 8));
    altdiff_free_problem(o);
}
END_TEST

START_TEST(test_problem_bad_args)
{
    char err[ERRLEN];
    altdiff_owned_problem *o = (altdiff_owned_problem *)1;
    ck_assert_int_eq(altdiff_read_problem(NULL, &o, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(altdiff_read_problem("x", NULL, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    double *v = (double *)1;
    ck_assert_int_eq(altdiff_read_vector("x", -1, &v, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(v);
}
END_TEST

/* ======================================================================== */
/* === writing: round trips and atomicity ================================ */
/* ======================================================================== */

static const double awkward[] = {1e-300, -0.0, 1e20, 0.1, -1e20, 4.9406564584124654e-324,
                                 1.7976931348623157e308, 2.0 / 3.0, -123456789.125, 1.0};

START_TEST(test_roundtrip_dense)
{
    char dir[512], path[1024], err[ERRLEN];
    tmpdir_make(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/x.mtx", dir);
    ck_assert_int_eq(altdiff_write_dense(path, awkward, 5, 2, err, sizeof(err)), ALTDIFF_OK);
    double *x = NULL;
    altdiff_int m, n;
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_OK);
    ck_assert(m == 5 && n == 2 && same_bits(x, awkward, 10));
    ad_free(x);
    ck_assert_int_eq(dir_count(dir), 1); /* no .tmp left */
    ck_assert_int_eq(ad_mm_write_dense(path, NULL, 0, 3, err, sizeof(err)), ALTDIFF_OK);
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_OK);
    ck_assert(m == 0 && n == 3);
    ad_free(x);
    tmpdir_remove(dir);
}
END_TEST

/* Write A (general or symmetric), read it back, compare bit for bit */
static void roundtrip_sparse(const char *path, const cs_dl *A, int symmetric)
{
    char err[ERRLEN];
    cs_dl *B = NULL;
    int sym = -1;
    ck_assert_int_eq(ad_mm_write_sparse(path, A, symmetric, err, sizeof(err)), ALTDIFF_OK);
    ck_assert_int_eq(ad_mm_read_sparse(path, &B, &sym, err, sizeof(err)), ALTDIFF_OK);
    ck_assert_int_eq(sym, symmetric);
    ck_assert(B->m == A->m && B->n == A->n);
    ck_assert(memcmp(B->p, A->p, (size_t)(A->n + 1) * sizeof(altdiff_int)) == 0);
    ck_assert(memcmp(B->i, A->i, (size_t)A->p[A->n] * sizeof(altdiff_int)) == 0);
    ck_assert(same_bits(B->x, A->x, A->p[A->n]));
    ad_spfree(B);
}

START_TEST(test_roundtrip_sparse)
{
    char dir[512], path[1024];
    tmpdir_make(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/A.mtx", dir);
    altdiff_int Ap[] = {0, 3, 3, 6, 10}, Ai[] = {0, 2, 4, 1, 2, 3, 0, 1, 3, 4};
    cs_dl A = {10, 5, 4, Ap, Ai, (double *)awkward, -1}; /* 5 x 4, an empty column */
    roundtrip_sparse(path, &A, 0);
    altdiff_int Up[] = {0, 1, 3, 4, 7}, Ui[] = {0, 0, 1, 2, 0, 2, 3};
    cs_dl U = {7, 4, 4, Up, Ui, (double *)awkward, -1}; /* upper triangle */
    roundtrip_sparse(path, &U, 1);
    altdiff_int Lp[] = {0, 2, 3, 4, 4}, Li[] = {0, 3, 1, 2};
    cs_dl L = {4, 4, 4, Lp, Li, (double *)awkward + 3, -1}; /* lower, empty last column */
    roundtrip_sparse(path, &L, 1);
    ck_assert_int_eq(dir_count(dir), 1);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_write_failures)
{
    char dir[512], path[1024], err[ERRLEN];
    tmpdir_make(dir, sizeof(dir));
    double x[] = {1, 2, 3};
    snprintf(path, sizeof(path), "%s/nodir/x.mtx", dir); /* missing directory */
    ck_assert_int_eq(altdiff_write_dense(path, x, 3, 1, err, sizeof(err)), ALTDIFF_ERR_IO);
    ck_assert_has(err, "nodir/x.mtx.tmp: cannot create");
    ck_assert(!exists(path));
    ck_assert_int_eq(dir_count(dir), 0);
    snprintf(path, sizeof(path), "%s/sub", dir); /* the target is a directory */
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/sub/f", dir);
    ck_assert_int_eq(altdiff_write_dense(path, x, 3, 1, err, sizeof(err)), ALTDIFF_OK);
    snprintf(path, sizeof(path), "%s/sub", dir);
    ck_assert_int_eq(altdiff_write_dense(path, x, 3, 1, err, sizeof(err)), ALTDIFF_ERR_IO);
    ck_assert_has(err, "cannot rename");
    ck_assert_int_eq(dir_count(dir), 1); /* sub only: sub.tmp was removed */
    snprintf(path, sizeof(path), "%s/nan.mtx", dir);
    x[1] = NAN;
    ck_assert_int_eq(altdiff_write_dense(path, x, 3, 1, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    altdiff_int Ap[] = {0, 1}, Ai[] = {1};
    cs_dl R = {1, 1, 1, Ap, Ai, x, -1}; /* row index out of range */
    ck_assert_int_eq(ad_mm_write_sparse(path, &R, 0, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    cs_dl N = {1, 2, 1, Ap, Ai, x, -1}; /* symmetric but 2 x 1 */
    ck_assert_int_eq(ad_mm_write_sparse(path, &N, 1, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, "square");
    ck_assert_int_eq(dir_count(dir), 1);
    tmpdir_remove(dir);
}
END_TEST

/* ======================================================================== */
/* === speed ============================================================= */
/* ======================================================================== */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

START_TEST(test_large_vector)
{
    enum { N = 1000000 };
    char dir[512], path[1024], err[ERRLEN];
    tmpdir_make(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/v.mtx", dir);
    double *v = malloc(N * sizeof(double)), *w = NULL;
    rng r = {42};
    for (int k = 0; k < N; k++) v[k] = rng_normal(&r) * 1e3;
    ck_assert_int_eq(altdiff_write_dense(path, v, N, 1, err, sizeof(err)), ALTDIFF_OK);
    double t = now();
    ck_assert_int_eq(altdiff_read_vector(path, N, &w, err, sizeof(err)), ALTDIFF_OK);
    t = now() - t;
    int same = same_bits(v, w, N);
    fprintf(stderr, "check_mm: read a 10^6 vector in %.3f s (a figure, not a test)\n", t);
    altdiff_free_array(w);
    free(v);
    ck_assert_msg(same, "the values read back differ");
    tmpdir_remove(dir);
}
END_TEST

/* ======================================================================== */
/* === hostile inputs (issue 14) ========================================= */
/* ======================================================================== */

/* Write text (len bytes) to dir/name */
static void put_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}
#define PUT(dir, name, text) put_file(dir, name, text, sizeof(text) - 1)

static const char q3[] = "%%MatrixMarket matrix array real general\n3 1\n1\n2\n3\n";

/* altdiff_read_problem(dir) fails with code and a message holding key1 and
 * key2, fast (the sizes claimed would take seconds and gigabytes) */
static void problem_fails(const char *dir, int code, const char *key1, const char *key2)
{
    char err[ERRLEN];
    altdiff_owned_problem *o = (altdiff_owned_problem *)1;
    double t = now();
    ck_assert_int_eq(altdiff_read_problem(dir, &o, err, sizeof(err)), code);
    t = now() - t;
    ck_assert_ptr_null(o);
    ck_assert_has(err, key1);
    ck_assert_has(err, key2);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_ptr_null(strchr(err, '\r'));
    ck_assert_msg(t < 0.5, "rejecting took %.2f s", t);
}

/* Tiny files announcing huge sizes: rejected from the headers, before any
 * body is read or anything of that size allocated */
START_TEST(test_huge_sizes)
{
    char dir[512];
    tmpdir_make(dir, sizeof(dir));
    PUT(dir, "P.mtx", "%%MatrixMarket matrix coordinate real symmetric\n300000000 300000000 1\n"
                      "1 1 1\n");
    PUT(dir, "q.mtx", q3);
    problem_fails(dir, ALTDIFF_ERR_INVALID, "q.mtx: q is 3 x 1 but P.mtx is 300000000 x 300000000",
                  "expected 300000000 x 1");
    PUT(dir, "P.mtx", "%%MatrixMarket matrix coordinate real symmetric\n2147483648 2147483648 1\n"
                      "1 1 1\n");
    problem_fails(dir, ALTDIFF_ERR_INVALID, "P.mtx is 2147483648 x 2147483648", "q.mtx");
    /* consistent lies: P and q agree on n = 3e8, 136 bytes in all */
    PUT(dir, "q.mtx", "%%MatrixMarket matrix coordinate real general\n300000000 1 0\n");
    PUT(dir, "P.mtx", "%%MatrixMarket matrix coordinate real symmetric\n300000000 300000000 1\n"
                      "1 1 1\n");
    problem_fails(dir, ALTDIFF_ERR_INVALID, "P.mtx: n (variables) = 300000000", "bytes");
    /* a valid 59-byte q.mtx with n = 5e7 and nothing else */
    unlink(strcat(strcpy((char[1024]){0}, dir), "/P.mtx"));
    PUT(dir, "q.mtx", "%%MatrixMarket matrix coordinate real general\n50000000 1 0\n");
    problem_fails(dir, ALTDIFF_ERR_INVALID, "q.mtx: n (variables) = 50000000",
                  "files hold only 59 bytes");
    /* an array q announcing 5e7 values in 45 bytes */
    PUT(dir, "q.mtx", "%%MatrixMarket matrix array real general\n50000000 1\n1\n");
    problem_fails(dir, ALTDIFF_ERR_INVALID, "q.mtx:2: 50000000 values announced",
                  "can hold at most 1");
    /* A claiming 3e8 rows (66 bytes) */
    PUT(dir, "q.mtx", q3);
    PUT(dir, "A.mtx", "%%MatrixMarket matrix coordinate real general\n300000000 3 1\n1 1 1\n");
    PUT(dir, "b.mtx", "%%MatrixMarket matrix array real general\n300000000 1\n1\n");
    problem_fails(dir, ALTDIFF_ERR_INVALID, "b.mtx:2: 300000000 values announced", "at most 1");
    PUT(dir, "b.mtx", "%%MatrixMarket matrix coordinate real general\n300000000 1 0\n");
    problem_fails(dir, ALTDIFF_ERR_INVALID, "A.mtx: m (rows of A) = 300000000", "bytes");
    tmpdir_remove(dir);
    /* a batch: q announces 3000 x 3000 in a coordinate file of one entry
     * (and a comment that pays for n = 3000): 9e6 values from 3.1 KB */
    {
        char big[3200];
        memset(big, 'x', sizeof(big) - 1);
        big[0] = '%';
        big[sizeof(big) - 2] = '\n';
        big[sizeof(big) - 1] = '\0';
        char txt[3400];
        snprintf(txt, sizeof(txt), "%%%%MatrixMarket matrix coordinate real general\n%s"
                 "3000 3000 1\n1 1 1\n", big);
        tmpdir_make(dir, sizeof(dir));
        put_file(dir, "q.mtx", txt, strlen(txt));
        altdiff_owned_problem *op = (altdiff_owned_problem *)1;
        altdiff_int B = -1;
        char err2[ERRLEN];
        double t = now();
        ck_assert_int_eq(altdiff_read_problem_batch(dir, &op, &B, NULL, err2, sizeof(err2)),
                         ALTDIFF_ERR_INVALID);
        ck_assert(now() - t < 0.5);
        ck_assert_ptr_null(op);
        ck_assert_has(err2, "q.mtx: a batch of B = 3000 problems with n + m + p = 3000 is 9e+06 "
                            "values");
        ck_assert_has(err2, "at most 64 values per byte");
        tmpdir_remove(dir);
    }
    /* single files: coordinate nnz against bytes, the 2^40 bound */
    tmpdir_make(dir, sizeof(dir));
    char path[1024], err[ERRLEN];
    cs_dl *A = NULL;
    PUT(dir, "c.mtx", "%%MatrixMarket matrix coordinate real general\n10 10 3\n1 1 1\n2 2 2\n");
    snprintf(path, sizeof(path), "%s/c.mtx", dir);
    ck_assert_int_eq(ad_mm_read_sparse(path, &A, NULL, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, ":2: 3 entries announced, but the 12 bytes after the size line can hold "
                       "at most 2");
    PUT(dir, "c.mtx", "%%MatrixMarket matrix coordinate real general\n2000000000000 1 0\n");
    ck_assert_int_eq(ad_mm_read_sparse(path, &A, NULL, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, "exceeds the largest dimension");
    /* a huge row count with one entry reads in O(nnz) */
    PUT(dir, "c.mtx", "%%MatrixMarket matrix coordinate real general\n1000000000000 2 1\n"
                      "999999999999 2 5\n");
    ck_assert_int_eq(ad_mm_read_sparse(path, &A, NULL, err, sizeof(err)), ALTDIFF_OK);
    ck_assert(A->m == 1000000000000LL && A->n == 2 && A->p[2] == 1 && A->i[0] == 999999999998LL);
    ad_spfree(A);
    /* columns cost the CSC a pointer each: without an expected shape, at
     * most one per byte of the file (a fuzzer's input asked for 7e11) */
    PUT(dir, "c.mtx", "%%MatrixMarket matrix coordinate real general\n1 100000000 0\n");
    ck_assert_int_eq(ad_mm_read_sparse(path, &A, NULL, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, ":2: 100000000 columns: a file of 60 bytes holds at most 1048576 "
                       "columns, or one per byte");
    ck_assert(A == NULL);
    /* ... but an empty matrix of many columns, as we write it, reads back
     * (a fuzzer's input: 223 columns in 238 bytes, written in 58) */
    cs_dl E = {.nzmax = 0, .m = 1, .n = 5000, .p = NULL, .i = NULL, .x = NULL, .nz = -1};
    E.p = calloc(5001, sizeof(*E.p));
    snprintf(path, sizeof(path), "%s/e.mtx", dir);
    ck_assert_int_eq(ad_mm_write_sparse(path, &E, 0, err, sizeof(err)), ALTDIFF_OK);
    ck_assert_int_eq(ad_mm_read_sparse(path, &A, NULL, err, sizeof(err)), ALTDIFF_OK);
    ck_assert(A->m == 1 && A->n == 5000 && A->p[5000] == 0);
    ad_spfree(A);
    A = NULL;
    free(E.p);
    snprintf(path, sizeof(path), "%s/c.mtx", dir);
    double *x = NULL;
    altdiff_int m, n;
    /* a coordinate file read densely in a shape the caller did not fix:
     * at most 2^20 values or one per byte (a 50-byte W.mtx announcing
     * 50000 x 50000 had the batch CLI fill 20 GB) */
    PUT(dir, "c.mtx", "%%MatrixMarket matrix coordinate real general\n50000 50000 0\n");
    double t0 = now();
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert(now() - t0 < 0.5 && x == NULL);
    ck_assert_has(err, ":2: a dense 50000 x 50000 array from a coordinate file of 60 bytes: at "
                       "most 1048576 values, or one per byte");
    PUT(dir, "c.mtx", "%%MatrixMarket matrix coordinate real general\n1000 1000 1\n3 4 5\n");
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_OK);
    ck_assert(m == 1000 && n == 1000 && x[3 * 1000 + 2] == 5);
    ad_free(x);
    x = NULL;
    /* the shape is checked on the size line */
    PUT(dir, "c.mtx", "%%MatrixMarket matrix coordinate real general\n100000000 1 0\n");
    ck_assert_int_eq(ad_mm_read_dense_shape(path, 3, 1, &x, &m, &n, err, sizeof(err)),
                     ALTDIFF_ERR_INVALID);
    ck_assert_has(err, ":2: matrix is 100000000 x 1, expected 3 x 1");
    ck_assert_int_eq(altdiff_read_vector(path, 3, &x, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, "the vector is 100000000 x 1 but n = 3");
    tmpdir_remove(dir);
}
END_TEST

/* Lines over 1 MiB are refused (a file linked to /dev/zero would otherwise
 * grow a buffer until memory runs out); CR-only files print no CR */
START_TEST(test_long_line_and_cr)
{
    char dir[512], path[1024], err[ERRLEN];
    tmpdir_make(dir, sizeof(dir));
    size_t len = (2u << 20) + 100;
    char *text = malloc(len);
    const char *head = "%%MatrixMarket matrix array real general\n1 1\n";
    memset(text, '1', len);
    memcpy(text, head, strlen(head));
    put_file(dir, "long.mtx", text, len);
    free(text);
    snprintf(path, sizeof(path), "%s/long.mtx", dir);
    double *x = NULL;
    altdiff_int m, n;
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, "long.mtx:3: line longer than 1048576 bytes");
    PUT(dir, "cr.mtx", "%%MatrixMarket matrix array real general\r2 1\r1\r2\r");
    snprintf(path, sizeof(path), "%s/cr.mtx", dir);
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, "cr.mtx:1: carriage return inside the line");
    ck_assert_ptr_null(strchr(err, '\r'));
    PUT(dir, "cr.mtx", "%%MatrixMarket matrix array real general\n2 1\n1\n2\r3\n");
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, "cr.mtx:4: carriage return");
    PUT(dir, "cr.mtx", "%%MatrixMarket matrix array real general\n2 1\n\x1b[31m\n2\n");
    ck_assert_int_eq(ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(strchr(err, '\x1b')); /* control characters are not echoed */
    ck_assert_has(err, "?[31m");
    tmpdir_remove(dir);
}
END_TEST

/* Only regular files are read: a FIFO (never blocks), a directory, a
 * device; a dangling symbolic link is an error, not an absent file */
START_TEST(test_not_regular)
{
    char dir[512], path[1024], target[1024], err[ERRLEN];
    double *x = NULL;
    altdiff_int m, n;
    tmpdir_make(dir, sizeof(dir));
    PUT(dir, "P.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 1\n1 1 1\n");
    snprintf(path, sizeof(path), "%s/q.mtx", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    problem_fails(dir, ALTDIFF_ERR_IO, "q.mtx: cannot read: a FIFO", "not a regular file");
    ck_assert_int_eq(altdiff_read_vector(path, 3, &x, err, sizeof(err)), ALTDIFF_ERR_IO);
    ck_assert_has(err, "a FIFO");
    unlink(path);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    problem_fails(dir, ALTDIFF_ERR_IO, "q.mtx: cannot read: a directory", "not a regular file");
    rmdir(path);
    ck_assert_int_eq(ad_mm_read_dense("/dev/zero", &x, &m, &n, err, sizeof(err)), ALTDIFF_ERR_IO);
    ck_assert_has(err, "/dev/zero: cannot read: a character device");
    PUT(dir, "q.mtx", q3);
    snprintf(path, sizeof(path), "%s/P.mtx", dir); /* P.mtx -> nowhere: not "P = 0" */
    unlink(path);
    snprintf(target, sizeof(target), "%s/no_such_P.mtx", dir);
    ck_assert_int_eq(symlink(target, path), 0);
    problem_fails(dir, ALTDIFF_ERR_IO, "P.mtx: cannot open: dangling symbolic link", "P.mtx");
    snprintf(path, sizeof(path), "%s/b.mtx", dir); /* a dangling b.mtx is not an absent pair */
    ck_assert_int_eq(symlink(target, path), 0);
    problem_fails(dir, ALTDIFF_ERR_INVALID, "A.mtx: missing", "b.mtx is present");
    tmpdir_remove(dir);
    problem_fails("/nonexistent/problem", ALTDIFF_ERR_IO,
                  "/nonexistent/problem: cannot open the problem directory", "No such file");
    problem_fails("/dev/null", ALTDIFF_ERR_IO, "/dev/null: not a directory", "problem");
}
END_TEST

/* A.mtx and G.mtx may be symmetric (SciPy writes -I that way): both
 * triangles */
START_TEST(test_problem_AG_symmetric)
{
    altdiff_owned_problem *o = read_good_problem("mm_good/A_symmetric");
    const altdiff_int Ap[] = {0, 1, 2, 2}, Ai[] = {1, 0}; /* (2,1) and its mirror (1,2) */
    const double Ax[] = {1, 1};
    check_view(&o->prob.A, 3, 3, Ap, Ai, Ax);
    altdiff_free_problem(o);
    char dir[512];
    tmpdir_make(dir, sizeof(dir));
    PUT(dir, "q.mtx", q3);
    PUT(dir, "G.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 4\n1 1 -1\n2 2 -1\n"
                      "3 3 -1\n3 1 0.5\n");
    PUT(dir, "h.mtx", q3);
    char err[ERRLEN];
    ck_assert_int_eq(altdiff_read_problem(dir, &o, err, sizeof(err)), ALTDIFF_OK);
    const altdiff_int Gp[] = {0, 2, 3, 5}, Gi[] = {0, 2, 1, 0, 2};
    const double Gx[] = {-1, 0.5, -1, 0.5, -1};
    check_view(&o->prob.G, 3, 3, Gp, Gi, Gx);
    altdiff_free_problem(o);
    tmpdir_remove(dir);
}
END_TEST

/* altdiff_write_sparse validates before it transposes or writes: each bad
 * matrix is refused with a message and leaves no file */
START_TEST(test_write_sparse_validates)
{
    char dir[512], path[1024], err[ERRLEN];
    tmpdir_make(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/S.mtx", dir);
    altdiff_int p2[] = {0, 1, 2}, neg[] = {-1, 1}, big[] = {0, 100000000}, low[] = {1, 1};
    altdiff_int p3[] = {0, 0, 2}, p4[] = {0, 0, 1, 2}, rep[] = {1, 1}, pbad[] = {0, 2, 1};
    double x[] = {1, 2};
    struct {
        altdiff_csc M;
        int sym;
        const char *key;
    } bad[] = {
        {{2, 2, p2, neg, x}, 1, "row index -1 of column 0 out of range 0..1"},
        {{2, 2, p2, big, x}, 1, "row index 100000000 of column 1 out of range"},
        {{2, 2, p2, low, x}, 1, "entry (1,0) outside the upper triangle"},
        {{2, 2, p2, neg, x}, 0, "row index -1"},
        {{2, 2, p2, p2, NULL}, 1, "values x are NULL"},
        {{2, 2, p2, NULL, x}, 1, "row indices i are NULL"},
        {{2, 2, NULL, p2, x}, 1, "column pointers p are NULL"},
        {{2, 3, p4, p2, x}, 1, "must be square"},
        {{2, 2, p3, rep, x}, 1, "row index 1 repeated in column 1"},
        {{2, 2, p3, rep, x}, 0, "row index 1 repeated in column 1"},
        {{2, 2, pbad, p2, x}, 0, "column pointers p decrease"},
        {{-1, 2, p2, p2, x}, 0, "bad size"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        err[0] = 0;
        ck_assert_int_eq(altdiff_write_sparse(path, &bad[k].M, bad[k].sym, err, sizeof(err)),
                         ALTDIFF_ERR_INVALID);
        ck_assert_has(err, bad[k].key);
        ck_assert_int_eq(dir_count(dir), 0);
    }
    ck_assert_int_eq(altdiff_write_sparse(path, NULL, 1, err, sizeof(err)), ALTDIFF_ERR_INVALID);
    ck_assert_has(err, "M is NULL");
    /* an upper triangle with unsorted rows is fine, and round-trips */
    altdiff_int up[] = {0, 1, 3}, ui[] = {0, 1, 0};
    double ux[] = {4, 5, 6};
    altdiff_csc U = {2, 2, up, ui, ux};
    ck_assert_int_eq(altdiff_write_sparse(path, &U, 1, err, sizeof(err)), ALTDIFF_OK);
    cs_dl *B = NULL;
    int sym = 0;
    ck_assert_int_eq(ad_mm_read_sparse(path, &B, &sym, err, sizeof(err)), ALTDIFF_OK);
    ck_assert(sym == 1 && B->p[2] == 3); /* lower: (1,1) (2,1) (2,2) */
    ck_assert(B->i[0] == 0 && B->x[0] == 4 && B->i[1] == 1 && B->x[1] == 6 && B->x[2] == 5);
    ad_spfree(B);
    tmpdir_remove(dir);
}
END_TEST

/* ======================================================================== */
/* === allocation failures =============================================== */
/* ======================================================================== */

/* Fail allocation k = 0, 1, ... of f until it succeeds: each failure must be
 * ALTDIFF_ERR_NOMEM (leaks show under ASan with CK_FORK=no). */
static void oom_sweep(int (*f)(const char *), const char *arg)
{
    for (long k = 0;; k++) {
        ad_fault_arm(k);
        int st = f(arg);
        int fired = ad_fault_fired();
        ad_fault_arm(-1);
        if (!fired) {
            ck_assert_int_eq(st, ALTDIFF_OK);
            ck_assert_int_gt(k, 0);
            return;
        }
        ck_assert_msg(st == ALTDIFF_ERR_NOMEM, "failure %ld gave %d", k, st);
    }
}

static int oom_sparse(const char *rel)
{
    char path[1024], err[ERRLEN];
    cs_dl *A = NULL;
    data_path(path, sizeof(path), rel);
    int st = ad_mm_read_sparse(path, &A, NULL, err, sizeof(err));
    if (st == ALTDIFF_ERR_NOMEM) ck_assert_has(err, "out of memory");
    ad_spfree(A);
    return st;
}

static int oom_dense(const char *rel)
{
    char path[1024], err[ERRLEN];
    double *x = NULL;
    altdiff_int m, n;
    data_path(path, sizeof(path), rel);
    int st = ad_mm_read_dense(path, &x, &m, &n, err, sizeof(err));
    ad_free(x);
    return st;
}

static int oom_problem(const char *rel)
{
    char dir[1024], err[ERRLEN];
    altdiff_owned_problem *o = NULL;
    data_path(dir, sizeof(dir), rel);
    int st = altdiff_read_problem(dir, &o, err, sizeof(err));
    if (st == ALTDIFF_ERR_NOMEM) ck_assert_has(err, "out of memory");
    altdiff_free_problem(o);
    return st;
}

static int oom_write(const char *dir)
{
    char path[1024], err[ERRLEN];
    altdiff_int Ap[] = {0, 2}, Ai[] = {0, 1};
    cs_dl A = {2, 2, 1, Ap, Ai, (double *)awkward, -1};
    snprintf(path, sizeof(path), "%s/w.mtx", dir);
    int st = ad_mm_write_sparse(path, &A, 0, err, sizeof(err));
    if (st == ALTDIFF_OK) st = ad_mm_write_dense(path, awkward, 2, 1, err, sizeof(err));
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ck_assert(!exists(tmp)); /* a failed write leaves no tmp file */
    return st;
}

START_TEST(test_oom)
{
    oom_sweep(oom_sparse, "mm_good/comments.mtx");
    oom_sweep(oom_sparse, "mm_good/array_sym.mtx");
}
END_TEST

START_TEST(test_oom_more)
{
    char dir[512];
    oom_sweep(oom_dense, "mm_good/crlf_upper.mtx");
    oom_sweep(oom_dense, "mm_good/vec_coord.mtx");
    oom_sweep(oom_problem, "tiny/eq_box");
    oom_sweep(oom_problem, "mm_good/P_general");
    oom_sweep(oom_problem, "mm_good/P_mixed");
    oom_sweep(oom_problem, "mm_good/LP");
    tmpdir_make(dir, sizeof(dir));
    oom_sweep(oom_write, dir);
    tmpdir_remove(dir);
}
END_TEST

/* ======================================================================== */
/* === the suite ========================================================= */
/* ======================================================================== */

static Suite *suite_mm(void)
{
    Suite *s = suite_create("mm");
    TCase *bad = tcase_create("bad");
    tcase_add_loop_test(bad, test_bad_file, 0, N_BAD_FILES);
    tcase_add_loop_test(bad, test_bad_dir, 0, N_BAD_DIRS);
    tcase_add_test(bad, test_nul_byte_and_missing_file);
    tcase_add_test(bad, test_problem_bad_args);
    tcase_add_test(bad, test_huge_sizes);
    tcase_add_test(bad, test_long_line_and_cr);
    tcase_add_test(bad, test_not_regular);
    tcase_add_test(bad, test_write_sparse_validates);
    suite_add_tcase(s, bad);
    TCase *good = tcase_create("good");
    tcase_add_test(good, test_good_comments);
    tcase_add_test(good, test_good_integer);
    tcase_add_test(good, test_good_array_sym);
    tcase_add_test(good, test_good_vectors);
    tcase_add_test(good, test_good_big_values);
    tcase_add_test(good, test_good_crlf_upper);
    tcase_add_loop_test(good, test_problem_P_forms, 0, 4);
    tcase_add_test(good, test_problem_P_array_sym);
    tcase_add_test(good, test_problem_LP);
    tcase_add_test(good, test_problem_eq_box);
    tcase_add_test(good, test_problem_AG_symmetric);
    suite_add_tcase(s, good);
    TCase *wr = tcase_create("write");
    tcase_add_test(wr, test_roundtrip_dense);
    tcase_add_test(wr, test_roundtrip_sparse);
    tcase_add_test(wr, test_write_failures);
    tcase_add_test(wr, test_large_vector);
    tcase_set_timeout(wr, 60);
    suite_add_tcase(s, wr);
    TCase *oom = tcase_create("oom");
    tcase_add_test(oom, test_oom);
    tcase_add_test(oom, test_oom_more);
    suite_add_tcase(s, oom);
    return s;
}

int main(void) { return run_suite(suite_mm()); }
