/*
 * problem_io.c: problem directories and vectors in Matrix Market format.
 *
 * A problem directory DIR holds
 *     P.mtx  n x n   optional: missing means P = 0 (a linear program)
 *     q.mtx  n x 1   required
 *     A.mtx  m x n   optional, together with b.mtx (m x 1)
 *     G.mtx  p x n   optional, together with h.mtx (p x 1)
 * P.mtx may be "symmetric" (entries from either triangle, or both as long
 * as no position is given twice) or "general", and then it must be exactly
 * symmetric: P(i,j) == P(j,i), an absent entry counting as 0.  A.mtx and
 * G.mtx must be "general".  Vectors may be array (n x 1) or coordinate (n x 1,
 * absent entries 0).  A missing A/b pair gives m = 0 (G/h: p = 0); one file
 * of a pair without the other is an error naming the missing file.
 *
 * The owned problem stores P as its upper triangle (row <= col), and P, A, G
 * in CSC with sorted columns.  An absent block (P = 0, m = 0, p = 0) has
 * column pointers of zeros and empty (non-NULL) row and value arrays; b or h
 * is then NULL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sp.h"

/* err = the formatted message (NUL terminated, truncated); returns code */
static int io_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    err[errlen - 1] = '\0';
    return code;
}

/* Where we are reading: the directory and a buffer for DIR/NAME */
typedef struct {
    const char *dir;
    char *path; /* cap bytes */
    size_t cap;
    char *err;
    size_t errlen;
} dir_ctx;

/* c->path = DIR/NAME */
static const char *in_dir(dir_ctx *c, const char *name)
{
    snprintf(c->path, c->cap, "%s/%s", c->dir, name);
    return c->path;
}

/* 0 only if the file certainly does not exist (other failures show up when
 * the file is opened, with their own message) */
static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 || errno != ENOENT;
}

/* Move the arrays of A into (*p, *i, *x) and free the shell of A */
static void take_csc(cs_dl *A, altdiff_int **p, altdiff_int **i, double **x)
{
    *p = A->p;
    *i = A->i;
    *x = A->x;
    ad_free(A);
}

/* An empty CSC block with ncol columns */
static int empty_csc(altdiff_int ncol, altdiff_int **p, altdiff_int **i, double **x)
{
    *p = ad_calloc((size_t)ncol + 1, sizeof(altdiff_int));
    *i = ad_malloc(1, sizeof(altdiff_int));
    *x = ad_malloc(1, sizeof(double));
    return (*p && *i && *x) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
}

/* ======================================================================== */
/* === P: upper triangle ================================================= */
/* ======================================================================== */

/* A general file must hold a symmetric matrix: A == T = A' (absent = 0).
 * Both have sorted columns; merge each column of A with the one of T. */
static int check_symmetric(const cs_dl *A, const cs_dl *T, const char *path, char *err,
                           size_t errlen)
{
    altdiff_int n = A->n, *Ap = A->p, *Ai = A->i, *Tp = T->p, *Ti = T->i;
    double *Ax = A->x, *Tx = T->x;
    for (altdiff_int j = 0; j < n; j++) {
        altdiff_int a = Ap[j], b = Tp[j];
        while (a < Ap[j + 1] || b < Tp[j + 1]) {
            altdiff_int ia = a < Ap[j + 1] ? Ai[a] : n, ib = b < Tp[j + 1] ? Ti[b] : n;
            altdiff_int i = ia < ib ? ia : ib;
            double va = (ia == i) ? Ax[a++] : 0; /* P(i,j) */
            double vb = (ib == i) ? Tx[b++] : 0; /* P(j,i) */
            if (va != vb)
                return io_fail(ALTDIFF_ERR_INVALID, err, errlen,
                               "%s: general matrix is not symmetric: P(%lld,%lld) = %.17g "
                               "but P(%lld,%lld) = %.17g", path, (long long)i + 1,
                               (long long)j + 1, va, (long long)j + 1, (long long)i + 1, vb);
        }
    }
    return ALTDIFF_OK;
}

/* Entries of column j of U: A(i,j) for i <= j, plus (symmetric file only)
 * T(i,j) = A(j,i) for i < j, merged by row. Writes them at U->i/x + t when
 * U is given; returns the count. */
static altdiff_int upper_column(const cs_dl *A, const cs_dl *T, int symmetric, altdiff_int j,
                                cs_dl *U, altdiff_int t)
{
    altdiff_int a = A->p[j], ae = A->p[j + 1], b = T->p[j], be = T->p[j + 1], t0 = t;
    while (ae > a && A->i[ae - 1] > j) ae--; /* rows <= j: a prefix, columns sorted */
    while (be > b && T->i[be - 1] >= j) be--;
    if (!symmetric) be = b; /* general: A is symmetric, its upper part suffices */
    while (a < ae || b < be) {
        int from_a = (b >= be) || (a < ae && A->i[a] < T->i[b]);
        if (U) {
            U->i[t] = from_a ? A->i[a] : T->i[b]; /* U(i,j) = P(i,j) */
            U->x[t] = from_a ? A->x[a] : T->x[b];
        }
        if (from_a) a++;
        else b++;
        t++;
    }
    return t - t0;
}

/* U = upper triangle of the matrix P stored (as read) in A */
static int upper_of(const cs_dl *A, int symmetric, cs_dl **U, const char *path, char *err,
                    size_t errlen)
{
    altdiff_int n = A->n, nz = 0;
    cs_dl *T = ad_transpose(A); /* T = A', sorted columns */
    int st = T ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (st == ALTDIFF_OK && !symmetric) st = check_symmetric(A, T, path, err, errlen);
    if (st != ALTDIFF_OK) goto done;
    for (altdiff_int j = 0; j < n; j++) nz += upper_column(A, T, symmetric, j, NULL, 0);
    *U = ad_spalloc(n, n, nz);
    if (!*U) {
        st = ALTDIFF_ERR_NOMEM;
        goto done;
    }
    for (altdiff_int j = 0; j < n; j++)
        (*U)->p[j + 1] = (*U)->p[j] + upper_column(A, T, symmetric, j, *U, (*U)->p[j]);
done:
    ad_spfree(T);
    if (st == ALTDIFF_ERR_NOMEM) io_fail(st, err, errlen, "%s: out of memory", path);
    return st;
}

/* Read P.mtx if present (*n = its size) or leave *n = -1 */
static int read_P(dir_ctx *c, altdiff_owned_problem *o, altdiff_int *n)
{
    const char *path = in_dir(c, "P.mtx");
    cs_dl *A = NULL, *U = NULL;
    int sym = 0, st;
    *n = -1;
    if (!file_exists(path)) return ALTDIFF_OK;
    st = ad_mm_read_sparse(path, &A, &sym, c->err, c->errlen);
    if (st != ALTDIFF_OK) return st;
    if (A->m != A->n)
        st = io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen,
                     "%s: P is %lld x %lld, it must be square", path, (long long)A->m,
                     (long long)A->n);
    if (st == ALTDIFF_OK) st = upper_of(A, sym, &U, path, c->err, c->errlen);
    if (st == ALTDIFF_OK) {
        *n = U->n;
        take_csc(U, &o->Pp, &o->Pi, &o->Px);
    }
    ad_spfree(A);
    return st;
}

/* ======================================================================== */
/* === vectors and constraint blocks ===================================== */
/* ======================================================================== */

/* Read PATH as a vector; *len = its length. Fails unless it is k x 1 and,
 * when want >= 0, k == want ("why" says where want comes from). */
static int read_vec(const char *path, const char *name, altdiff_int want, const char *why,
                    double **v, altdiff_int *len, char *err, size_t errlen)
{
    altdiff_int nrow = 0, ncol = 0;
    int st = ad_mm_read_dense(path, v, &nrow, &ncol, err, errlen);
    if (st != ALTDIFF_OK) return st;
    if (ncol != 1 || (want >= 0 && nrow != want)) {
        if (want >= 0)
            io_fail(ALTDIFF_ERR_INVALID, err, errlen, "%s: %s is %lld x %lld but %s "
                    "(expected %lld x 1)", path, name, (long long)nrow, (long long)ncol, why,
                    (long long)want);
        else
            io_fail(ALTDIFF_ERR_INVALID, err, errlen, "%s: %s is %lld x %lld, expected a "
                    "column vector (k x 1)", path, name, (long long)nrow, (long long)ncol);
        *v = ad_free(*v);
        return ALTDIFF_ERR_INVALID;
    }
    *len = nrow;
    return ALTDIFF_OK;
}

/* One constraint block: matrix file M (rows x n) with its right-hand side V
 * (rows x 1), both present or both absent (then rows = 0). */
typedef struct {
    const char *mname, *vname;    /* "A.mtx", "b.mtx"             */
    const char *msym, *vsym;      /* "A", "b" for messages         */
    altdiff_int rows;             /* out: m or p                   */
    altdiff_int *Mp, *Mi;         /* out: owned CSC of M           */
    double *Mx, *v;               /* out: values of M, owned V     */
} block_io;

/* Read M, check it is general with n columns (n_why says where n is from) */
static int read_block_matrix(dir_ctx *c, block_io *k, altdiff_int n, const char *n_why)
{
    const char *path = in_dir(c, k->mname);
    cs_dl *M = NULL;
    int sym = 0;
    int st = ad_mm_read_sparse(path, &M, &sym, c->err, c->errlen);
    if (st != ALTDIFF_OK) return st;
    if (sym)
        st = io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: %s must be 'general', "
                     "not 'symmetric'", path, k->msym);
    else if (M->n != n)
        st = io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: %s is %lld x %lld but %s "
                     "(expected %lld columns)", path, k->msym, (long long)M->m,
                     (long long)M->n, n_why, (long long)n);
    if (st != ALTDIFF_OK) {
        ad_spfree(M);
        return st;
    }
    k->rows = M->m;
    take_csc(M, &k->Mp, &k->Mi, &k->Mx);
    return ALTDIFF_OK;
}

static int read_block(dir_ctx *c, block_io *k, altdiff_int n, const char *n_why)
{
    int has_m = file_exists(in_dir(c, k->mname)), has_v = file_exists(in_dir(c, k->vname));
    char why[160];
    k->rows = 0;
    if (!has_m && !has_v) {
        int st = empty_csc(n, &k->Mp, &k->Mi, &k->Mx);
        if (st != ALTDIFF_OK) io_fail(st, c->err, c->errlen, "%s: out of memory", c->dir);
        return st;
    }
    if (has_m != has_v) {
        const char *missing = has_m ? k->vname : k->mname;
        return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: missing (%s is present, "
                       "the two come together)", in_dir(c, missing),
                       has_m ? k->mname : k->vname);
    }
    int st = read_block_matrix(c, k, n, n_why);
    if (st != ALTDIFF_OK) return st;
    snprintf(why, sizeof(why), "%s is %lld x %lld", k->mname, (long long)k->rows,
             (long long)n);
    altdiff_int len;
    return read_vec(in_dir(c, k->vname), k->vsym, k->rows, why, &k->v, &len, c->err,
                    c->errlen);
}

/* ======================================================================== */
/* === the problem ======================================================= */
/* ======================================================================== */

ALTDIFF_API void altdiff_free_problem(altdiff_owned_problem *o)
{
    if (!o) return;
    ad_free(o->Pp);
    ad_free(o->Pi);
    ad_free(o->Px);
    ad_free(o->Ap);
    ad_free(o->Ai);
    ad_free(o->Ax);
    ad_free(o->Gp);
    ad_free(o->Gi);
    ad_free(o->Gx);
    ad_free(o->q);
    ad_free(o->b);
    ad_free(o->h);
    ad_free(o);
}

/* Point the views of o->prob at the owned arrays */
static void set_views(altdiff_owned_problem *o, altdiff_int n, altdiff_int m, altdiff_int p)
{
    altdiff_problem *pr = &o->prob;
    pr->n = n;
    pr->m = m;
    pr->p = p;
    pr->P = (altdiff_csc){n, n, o->Pp, o->Pi, o->Px};
    pr->A = (altdiff_csc){m, n, o->Ap, o->Ai, o->Ax};
    pr->G = (altdiff_csc){p, n, o->Gp, o->Gi, o->Gx};
    pr->q = o->q;
    pr->b = o->b;
    pr->h = o->h;
}

/* P (optional), then q, which fixes n when P is absent (*has_P = 0) */
static int read_objective(dir_ctx *c, altdiff_owned_problem *o, altdiff_int *n, int *has_P)
{
    char why[160];
    int st = read_P(c, o, n);
    if (st != ALTDIFF_OK) return st;
    *has_P = (*n >= 0);
    snprintf(why, sizeof(why), "P.mtx is %lld x %lld", (long long)*n, (long long)*n);
    st = read_vec(in_dir(c, "q.mtx"), "q", *n, why, &o->q, n, c->err, c->errlen);
    if (st == ALTDIFF_OK && !o->Pp) { /* no P.mtx: P = 0 */
        st = empty_csc(*n, &o->Pp, &o->Pi, &o->Px);
        if (st != ALTDIFF_OK) io_fail(st, c->err, c->errlen, "%s: out of memory", c->dir);
    }
    return st;
}

/* The entropy's files: no P.mtx, y.mtx (which fixes n), q.mtx optional;
 * P becomes an empty n x n matrix */
static int read_entropy(dir_ctx *c, altdiff_owned_problem *o, double **y, altdiff_int *n)
{
    char why[160];
    const char *path = in_dir(c, "P.mtx");
    if (file_exists(path))
        return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: present, but the entropy "
                       "objective has no P (remove it, or use --objective quadratic)", path);
    int st = read_vec(in_dir(c, "y.mtx"), "y", -1, NULL, y, n, c->err, c->errlen);
    if (st == ALTDIFF_OK && *n < 1)
        st = io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: y is empty (n = 0)",
                     in_dir(c, "y.mtx"));
    snprintf(why, sizeof(why), "y.mtx is %lld x 1", (long long)*n);
    if (st == ALTDIFF_OK && file_exists(in_dir(c, "q.mtx")))
        st = read_vec(in_dir(c, "q.mtx"), "q", *n, why, &o->q, n, c->err, c->errlen);
    if (st == ALTDIFF_OK) {
        st = empty_csc(*n, &o->Pp, &o->Pi, &o->Px);
        if (st != ALTDIFF_OK) io_fail(st, c->err, c->errlen, "%s: out of memory", c->dir);
    }
    return st;
}

/* Read all files of the directory into o: the QP's (y NULL) or the
 * entropy's */
static int read_all(dir_ctx *c, altdiff_owned_problem *o, double **y)
{
    altdiff_int n = 0;
    char why[160];
    int has_P = 0, st = y ? read_entropy(c, o, y, &n) : read_objective(c, o, &n, &has_P);
    if (st != ALTDIFF_OK) return st;
    snprintf(why, sizeof(why), "n = %lld (from %s)", (long long)n,
             y ? "y.mtx" : has_P ? "P.mtx" : "q.mtx");
    block_io A = {"A.mtx", "b.mtx", "A", "b", 0, NULL, NULL, NULL, NULL};
    block_io G = {"G.mtx", "h.mtx", "G", "h", 0, NULL, NULL, NULL, NULL};
    st = read_block(c, &A, n, why);
    if (st == ALTDIFF_OK) st = read_block(c, &G, n, why);
    o->Ap = A.Mp; /* o owns whatever was read, even on failure */
    o->Ai = A.Mi;
    o->Ax = A.Mx;
    o->b = A.v;
    o->Gp = G.Mp;
    o->Gi = G.Mi;
    o->Gx = G.Mx;
    o->h = G.v;
    if (st == ALTDIFF_OK) set_views(o, n, A.rows, G.rows);
    return st;
}

/* altdiff_read_problem (y NULL) and altdiff_read_entropy_problem */
static int read_problem(const char *dir, altdiff_owned_problem **out, double **y, char *err,
                        size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!out) return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "read_problem: out is NULL");
    *out = NULL;
    if (y) *y = NULL;
    if (!dir) return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "read_problem: dir is NULL");
    dir_ctx c = {dir, NULL, strlen(dir) + 8, err, errlen}; /* "/" "P.mtx" NUL */
    altdiff_owned_problem *o = ad_calloc(1, sizeof(altdiff_owned_problem));
    c.path = ad_malloc(c.cap, 1);
    int st = (o && c.path) ? read_all(&c, o, y)
                           : io_fail(ALTDIFF_ERR_NOMEM, err, errlen, "%s: out of memory", dir);
    ad_free(c.path);
    if (st != ALTDIFF_OK) {
        altdiff_free_problem(o);
        if (y) *y = ad_free(*y);
        return st;
    }
    *out = o;
    return ALTDIFF_OK;
}

ALTDIFF_API int altdiff_read_problem(const char *dir, altdiff_owned_problem **out, char *err,
                                     size_t errlen)
{
    return read_problem(dir, out, NULL, err, errlen);
}

ALTDIFF_API int altdiff_read_entropy_problem(const char *dir, altdiff_owned_problem **out,
                                             double **y, char *err, size_t errlen)
{
    if (!y) return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "read_problem: y is NULL");
    return read_problem(dir, out, y, err, errlen);
}

/* ======================================================================== */
/* === single vectors and arrays ========================================= */
/* ======================================================================== */

ALTDIFF_API int altdiff_read_vector(const char *path, altdiff_int n, double **v, char *err,
                                    size_t errlen)
{
    char why[64];
    altdiff_int len;
    if (err && errlen) err[0] = '\0';
    if (v) *v = NULL;
    if (!path || !v || n < 0)
        return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "%s: invalid argument",
                       path ? path : "read_vector");
    snprintf(why, sizeof(why), "n = %lld", (long long)n);
    return read_vec(path, "the vector", n, why, v, &len, err, errlen);
}

ALTDIFF_API void altdiff_free_array(void *v) { ad_free(v); }

ALTDIFF_API int altdiff_write_dense(const char *path, const double *x, altdiff_int nrow,
                                    altdiff_int ncol, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    return ad_mm_write_dense(path, x, nrow, ncol, err, errlen);
}

/* Write M as coordinate Matrix Market; a symmetric M given by its upper
 * triangle is written as the lower one (the Matrix Market convention). */
ALTDIFF_API int altdiff_write_sparse(const char *path, const altdiff_csc *M, int symmetric,
                                     char *err, size_t errlen)
{
    if (!M || !M->p) return ALTDIFF_ERR_INVALID;
    cs_dl V = {M->p[M->ncol], M->nrow, M->ncol, (altdiff_int *)M->p, (altdiff_int *)M->i,
               (double *)M->x, -1};
    if (!symmetric) return ad_mm_write_sparse(path, &V, 0, err, errlen);
    cs_dl *T = ad_transpose(&V); /* upper -> lower */
    if (!T) return ALTDIFF_ERR_NOMEM;
    int status = ad_mm_write_sparse(path, T, 1, err, errlen);
    ad_spfree(T);
    return status;
}
