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
 * G.mtx may be "general" or "symmetric" (square, entries from either
 * triangle, expanded to both: SciPy writes e.g. -I that way).  Vectors may be
 * array (n x 1) or coordinate (n x 1, absent entries 0).  A missing A/b pair
 * gives m = 0 (G/h: p = 0); one file of a pair without the other is an error
 * naming the missing file.
 *
 * Hostile directories.  Every header (banner and size line) is read and the
 * dimensions cross-checked before any body is read, so a lying size line
 * costs only the bytes up to it; the mm.c readers bound the entries of each
 * file by its size.  A problem may not have more variables (n) or constraint
 * rows (m, p) than its files have bytes (a variable or row without a byte of
 * data in any file is a lie of the size line, and would cost memory and work
 * far beyond the input).  Likewise a batch directory may not describe more
 * than B (n + m + p) = max(2^20, 64 x its bytes) values: a coordinate file
 * of a few entries may announce n x B.  Files must be regular files (FIFOs,
 * devices and directories are refused without blocking); a P.mtx (or any
 * file) that is a symbolic link to nothing is an error, not an absent file.
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

/* 0 only if nothing at all is at path (lstat: ENOENT; a dangling symbolic
 * link is present, and its open fails with a message saying so) */
static int file_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 || errno != ENOENT;
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

/* Full matrix of a symmetric file's entries A (either triangle, no
 * position twice): column j of F is column j of A merged with column j of
 * T = A' without its diagonal entry (already in A) */
static int full_of(const cs_dl *A, cs_dl **F, const char *path, char *err, size_t errlen)
{
    altdiff_int n = A->n, nz = 0;
    cs_dl *T = ad_transpose(A); /* T = A', sorted columns */
    *F = T ? ad_spalloc(n, n, 2 * A->p[n]) : NULL;
    if (!*F) {
        ad_spfree(T);
        return io_fail(ALTDIFF_ERR_NOMEM, err, errlen, "%s: out of memory", path);
    }
    for (altdiff_int j = 0; j < n; j++) {
        altdiff_int a = A->p[j], ae = A->p[j + 1], b = T->p[j], be = T->p[j + 1];
        while (a < ae || b < be) {
            int from_a = (b >= be) || (a < ae && A->i[a] <= T->i[b]);
            if (!from_a && T->i[b] == j) { /* the diagonal: taken from A */
                b++;
                continue;
            }
            (*F)->i[nz] = from_a ? A->i[a] : T->i[b]; /* F(i,j) = A(i,j) or A(j,i) */
            (*F)->x[nz++] = from_a ? A->x[a++] : T->x[b++];
        }
        (*F)->p[j + 1] = nz;
    }
    ad_spfree(T);
    return ALTDIFF_OK;
}

/* ======================================================================== */
/* === headers: every size checked before any body is read =============== */
/* ======================================================================== */

enum { F_P, F_Q, F_A, F_B, F_G, F_H, F_Y, F_COUNT };
static const char *file_name[F_COUNT] = {"P.mtx", "q.mtx", "A.mtx", "b.mtx",
                                         "G.mtx", "h.mtx", "y.mtx"};

/* What the headers of a problem directory say */
typedef struct {
    int present[F_COUNT];
    ad_mm_header h[F_COUNT];
    long long bytes;          /* all files present, together           */
    altdiff_int n, m, p;
    int n_from;               /* the file that fixes n (F_P, F_Q, F_Y)  */
    char n_why[160];          /* "n = 3 (from P.mtx)"                   */
} dir_plan;

/* A vector header: k x 1, and k == want when want >= 0 ("why" says where
 * want comes from) */
static int check_vec(const char *path, const char *name, const ad_mm_header *h, altdiff_int want,
                     const char *why, char *err, size_t errlen)
{
    if (h->ncol == 1 && (want < 0 || h->nrow == want)) return ALTDIFF_OK;
    if (want >= 0)
        return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "%s: %s is %lld x %lld but %s (expected "
                       "%lld x 1)", path, name, (long long)h->nrow, (long long)h->ncol, why,
                       (long long)want);
    return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "%s: %s is %lld x %lld, expected a column "
                   "vector (k x 1)", path, name, (long long)h->nrow, (long long)h->ncol);
}

/* A required file that is absent: the message of a failed open */
static int missing_file(dir_ctx *c, int f)
{
    return io_fail(ALTDIFF_ERR_IO, c->err, c->errlen, "%s: cannot open: %s",
                   in_dir(c, file_name[f]), strerror(ENOENT));
}

/* Which files are there; the pairs A/b and G/h come together */
static int plan_presence(dir_ctx *c, dir_plan *pl, int entropy)
{
    for (int f = 0; f < F_COUNT; f++) pl->present[f] = file_exists(in_dir(c, file_name[f]));
    if (entropy && pl->present[F_P])
        return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: present, but the entropy "
                       "objective has no P (remove it, or use --objective quadratic)",
                       in_dir(c, "P.mtx"));
    if (entropy) pl->present[F_P] = 0;
    else pl->present[F_Y] = 0; /* a y.mtx beside a QP is not ours */
    if (entropy && !pl->present[F_Y]) return missing_file(c, F_Y);
    if (!entropy && !pl->present[F_Q]) return missing_file(c, F_Q);
    for (int f = F_A; f <= F_G; f += 2)
        if (pl->present[f] != pl->present[f + 1]) {
            int miss = pl->present[f] ? f + 1 : f;
            return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: missing (%s is present, "
                           "the two come together)", in_dir(c, file_name[miss]),
                           file_name[miss == f ? f + 1 : f]);
        }
    return ALTDIFF_OK;
}

/* n from P.mtx (square), y.mtx (a vector, n >= 1) or q.mtx, and q's size */
static int plan_objective(dir_ctx *c, dir_plan *pl)
{
    ad_mm_header *h = pl->h;
    char why[160];
    int st = ALTDIFF_OK;
    pl->n_from = pl->present[F_P] ? F_P : pl->present[F_Y] ? F_Y : F_Q;
    if (pl->n_from == F_P && h[F_P].nrow != h[F_P].ncol)
        return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: P is %lld x %lld, it must "
                       "be square", in_dir(c, "P.mtx"), (long long)h[F_P].nrow,
                       (long long)h[F_P].ncol);
    if (pl->n_from == F_Y) {
        st = check_vec(in_dir(c, "y.mtx"), "y", &h[F_Y], -1, NULL, c->err, c->errlen);
        if (st == ALTDIFF_OK && h[F_Y].nrow < 1)
            st = io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: y is empty (n = 0)",
                         in_dir(c, "y.mtx"));
    }
    pl->n = h[pl->n_from].nrow;
    if (st == ALTDIFF_OK && pl->present[F_Q]) {
        snprintf(why, sizeof(why), "%s is %lld x %lld", file_name[pl->n_from], (long long)pl->n,
                 (long long)h[pl->n_from].ncol);
        st = check_vec(in_dir(c, "q.mtx"), "q", &h[F_Q], pl->n_from == F_Q ? -1 : pl->n, why,
                       c->err, c->errlen);
        if (pl->n_from == F_Q) pl->n = h[F_Q].nrow;
    }
    snprintf(pl->n_why, sizeof(pl->n_why), "n = %lld (from %s)", (long long)pl->n,
             file_name[pl->n_from]);
    return st;
}

/* A constraint block M (rows x n) and its right-hand side V (rows x 1) */
static int plan_block(dir_ctx *c, dir_plan *pl, int fm, altdiff_int *rows)
{
    const ad_mm_header *hm = &pl->h[fm];
    const char *sym = fm == F_A ? "A" : "G";
    char why[160];
    *rows = 0;
    if (!pl->present[fm]) return ALTDIFF_OK;
    if (hm->ncol != pl->n)
        return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: %s is %lld x %lld but %s "
                       "(expected %lld columns)", in_dir(c, file_name[fm]), sym,
                       (long long)hm->nrow, (long long)hm->ncol, pl->n_why, (long long)pl->n);
    *rows = hm->nrow;
    snprintf(why, sizeof(why), "%s is %lld x %lld", file_name[fm], (long long)hm->nrow,
             (long long)hm->ncol);
    return check_vec(in_dir(c, file_name[fm + 1]), fm == F_A ? "b" : "h", &pl->h[fm + 1], *rows,
                     why, c->err, c->errlen);
}

/* No more variables or rows than bytes in the files (see the top) */
static int plan_bytes(dir_ctx *c, const dir_plan *pl)
{
    struct {
        altdiff_int k;
        int f;
        const char *what;
    } dim[3] = {{pl->n, pl->n_from, "n (variables)"}, {pl->m, F_A, "m (rows of A)"},
                {pl->p, F_G, "p (rows of G)"}};
    for (int d = 0; d < 3; d++)
        if (dim[d].k > pl->bytes)
            return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: %s = %lld, but the "
                           "problem's files hold only %lld bytes (at most one variable or row "
                           "per byte of data)", in_dir(c, file_name[dim[d].f]), dim[d].what,
                           (long long)dim[d].k, pl->bytes);
    return ALTDIFF_OK;
}

/* Read and cross-check every header: dimensions n, m, p into pl */
static int plan_dir(dir_ctx *c, dir_plan *pl, int entropy)
{
    int st = plan_presence(c, pl, entropy);
    for (int f = 0; f < F_COUNT && st == ALTDIFF_OK; f++) {
        if (!pl->present[f]) continue;
        st = ad_mm_read_header(in_dir(c, file_name[f]), &pl->h[f], c->err, c->errlen);
        pl->bytes += pl->h[f].bytes;
    }
    if (st == ALTDIFF_OK) st = plan_objective(c, pl);
    if (st == ALTDIFF_OK) st = plan_block(c, pl, F_A, &pl->m);
    if (st == ALTDIFF_OK) st = plan_block(c, pl, F_G, &pl->p);
    if (st == ALTDIFF_OK) st = plan_bytes(c, pl);
    return st;
}

/* ======================================================================== */
/* === bodies, at the sizes of the plan ================================== */
/* ======================================================================== */

/* P.mtx (n x n) as its upper triangle */
static int read_P(dir_ctx *c, altdiff_owned_problem *o, altdiff_int n)
{
    const char *path = in_dir(c, "P.mtx");
    cs_dl *A = NULL, *U = NULL;
    int sym = 0;
    int st = ad_mm_read_sparse_shape(path, n, n, &A, &sym, c->err, c->errlen);
    if (st == ALTDIFF_OK) st = upper_of(A, sym, &U, path, c->err, c->errlen);
    if (st == ALTDIFF_OK) take_csc(U, &o->Pp, &o->Pi, &o->Px);
    ad_spfree(A);
    return st;
}

/* A vector file of the plan's length */
static int read_vec_body(dir_ctx *c, int f, altdiff_int len, double **v)
{
    altdiff_int r, k;
    return ad_mm_read_dense_shape(in_dir(c, file_name[f]), len, 1, v, &r, &k, c->err,
                                  c->errlen);
}

/* Constraint matrix fm (rows x n; symmetric: expanded) into (p, i, x), or
 * an empty block when absent */
static int read_block_matrix(dir_ctx *c, const dir_plan *pl, int fm, altdiff_int rows,
                             altdiff_int **p, altdiff_int **i, double **x)
{
    const char *path = in_dir(c, file_name[fm]);
    altdiff_int n = pl->n;
    cs_dl *M = NULL, *F = NULL;
    int sym = 0, st;
    if (!pl->present[fm]) {
        st = empty_csc(n, p, i, x);
        return st == ALTDIFF_OK ? st : io_fail(st, c->err, c->errlen, "%s: out of memory", c->dir);
    }
    st = ad_mm_read_sparse_shape(path, rows, n, &M, &sym, c->err, c->errlen);
    if (st == ALTDIFF_OK && sym) st = full_of(M, &F, path, c->err, c->errlen);
    if (st == ALTDIFF_OK) {
        take_csc(F ? F : M, p, i, x);
        if (F) ad_spfree(M);
    } else {
        ad_spfree(M);
    }
    return st;
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

/* The bodies of the planned files into o (y: the entropy's y); P absent
 * (P = 0, or the entropy) is an empty n x n block */
static int read_bodies(dir_ctx *c, const dir_plan *pl, altdiff_owned_problem *o, double **y)
{
    altdiff_int n = pl->n;
    int st = ALTDIFF_OK;
    if (pl->present[F_P]) st = read_P(c, o, n);
    else if ((st = empty_csc(n, &o->Pp, &o->Pi, &o->Px)) != ALTDIFF_OK)
        io_fail(st, c->err, c->errlen, "%s: out of memory", c->dir);
    if (st == ALTDIFF_OK && y) st = read_vec_body(c, F_Y, n, y);
    if (st == ALTDIFF_OK && pl->present[F_Q]) st = read_vec_body(c, F_Q, n, &o->q);
    if (st == ALTDIFF_OK) st = read_block_matrix(c, pl, F_A, pl->m, &o->Ap, &o->Ai, &o->Ax);
    if (st == ALTDIFF_OK && pl->present[F_B]) st = read_vec_body(c, F_B, pl->m, &o->b);
    if (st == ALTDIFF_OK) st = read_block_matrix(c, pl, F_G, pl->p, &o->Gp, &o->Gi, &o->Gx);
    if (st == ALTDIFF_OK && pl->present[F_H]) st = read_vec_body(c, F_H, pl->p, &o->h);
    if (st == ALTDIFF_OK) set_views(o, n, pl->m, pl->p);
    return st;
}

/* The directory itself: "no such directory" rather than a file's failure */
static int check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return io_fail(ALTDIFF_ERR_IO, err, errlen, "%s: cannot open the problem directory: %s",
                       dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return io_fail(ALTDIFF_ERR_IO, err, errlen, "%s: not a directory (a problem is a "
                       "directory of .mtx files)", dir);
    return ALTDIFF_OK;
}

/* What a directory is read by: its plan and its bodies into o (arg: the
 * reader's own outputs) */
typedef int (*dir_reader)(dir_ctx *c, dir_plan *pl, altdiff_owned_problem *o, void *arg);

/* The steps every reader shares: DIR checked, the problem and the path
 * buffer allocated, read by reader, then handed out in *out or freed */
static int read_dir(const char *dir, altdiff_owned_problem **out, dir_reader reader, void *arg,
                    char *err, size_t errlen)
{
    int st = check_dir(dir, err, errlen);
    if (st != ALTDIFF_OK) return st;
    dir_ctx c = {dir, NULL, strlen(dir) + 8, err, errlen}; /* "/" "P.mtx" NUL */
    dir_plan pl;
    memset(&pl, 0, sizeof(pl));
    altdiff_owned_problem *o = ad_calloc(1, sizeof(altdiff_owned_problem));
    c.path = ad_malloc(c.cap, 1);
    if (!o || !c.path) st = io_fail(ALTDIFF_ERR_NOMEM, err, errlen, "%s: out of memory", dir);
    if (st == ALTDIFF_OK) st = reader(&c, &pl, o, arg);
    ad_free(c.path);
    if (st != ALTDIFF_OK) {
        altdiff_free_problem(o);
        return st;
    }
    *out = o;
    return ALTDIFF_OK;
}

/* A problem directory (y NULL) or an entropy one (y: y.mtx) */
static int read_single(dir_ctx *c, dir_plan *pl, altdiff_owned_problem *o, void *arg)
{
    double **y = arg;
    int st = plan_dir(c, pl, y != NULL);
    return st == ALTDIFF_OK ? read_bodies(c, pl, o, y) : st;
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
    int st = read_dir(dir, out, read_single, y, err, errlen);
    if (st != ALTDIFF_OK && y) *y = ad_free(*y);
    return st;
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
    altdiff_int r, k;
    ad_mm_header h;
    if (err && errlen) err[0] = '\0';
    if (v) *v = NULL;
    if (!path || !v || n < 0)
        return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "%s: invalid argument",
                       path ? path : "read_vector");
    snprintf(why, sizeof(why), "n = %lld", (long long)n);
    int st = ad_mm_read_header(path, &h, err, errlen); /* the size before the body */
    if (st == ALTDIFF_OK) st = check_vec(path, "the vector", &h, n, why, err, errlen);
    if (st == ALTDIFF_OK) st = ad_mm_read_dense_shape(path, n, 1, v, &r, &k, err, errlen);
    return st;
}

ALTDIFF_API void altdiff_free_array(void *v) { ad_free(v); }

ALTDIFF_API int altdiff_write_dense(const char *path, const double *x, altdiff_int nrow,
                                    altdiff_int ncol, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    return ad_mm_write_dense(path, x, nrow, ncol, err, errlen);
}

/* Write M as coordinate Matrix Market; a symmetric M given by its upper
 * triangle is written as the lower one (the Matrix Market convention). M is
 * validated (ad_mm_check_csc, the upper triangle for symmetric) before the
 * transpose reads a single index. */
ALTDIFF_API int altdiff_write_sparse(const char *path, const altdiff_csc *M, int symmetric,
                                     char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!path) return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "write_sparse: path is NULL");
    if (!M) return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "%s: invalid matrix: M is NULL",
                           path);
    cs_dl V = {M->p && M->ncol >= 0 ? M->p[M->ncol] : 0, M->nrow, M->ncol,
               (altdiff_int *)M->p, (altdiff_int *)M->i, (double *)M->x, -1};
    int st = ad_mm_check_csc(path, &V, symmetric ? 1 : 0, err, errlen);
    if (st != ALTDIFF_OK || !symmetric) return st != ALTDIFF_OK ? st
                                                 : ad_mm_write_sparse(path, &V, 0, err, errlen);
    cs_dl *T = ad_transpose(&V); /* upper -> lower */
    if (!T) return io_fail(ALTDIFF_ERR_NOMEM, err, errlen, "%s: out of memory", path);
    st = ad_mm_write_sparse(path, T, 1, err, errlen);
    ad_spfree(T);
    return st;
}

/* ======================================================================== */
/* === dense arrays of any shape ========================================= */
/* ======================================================================== */

ALTDIFF_API int altdiff_read_dense(const char *path, double **x, altdiff_int *nrow,
                                   altdiff_int *ncol, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (x) *x = NULL;
    if (!path || !x || !nrow || !ncol)
        return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "%s: invalid argument",
                       path ? path : "read_dense");
    return ad_mm_read_dense_shape(path, -1, -1, x, nrow, ncol, err, errlen);
}

/* ======================================================================== */
/* === batch directories: q, b, h with several columns ==================== */
/* ======================================================================== */

static const int batch_file[3] = {F_Q, F_B, F_H}; /* the vectors, in cols order */

/* The column counts of q, b, h from the plan's headers into cols; the
 * headers are changed to one column, so that the plan checks their rows as
 * for a single problem (a file of 0 columns is left for it to refuse) */
static void batch_columns(dir_plan *pl, altdiff_int cols[3])
{
    for (int k = 0; k < 3; k++) {
        ad_mm_header *h = &pl->h[batch_file[k]];
        cols[k] = 1;
        if (!pl->present[batch_file[k]] || h->ncol < 1) continue;
        cols[k] = h->ncol;
        h->ncol = 1;
    }
}

/* B = the largest column count; every count must be 1 (shared) or B */
static int batch_count(dir_ctx *c, const altdiff_int cols[3], altdiff_int *B)
{
    int widest = 0;
    for (int k = 1; k < 3; k++)
        if (cols[k] > cols[widest]) widest = k;
    *B = cols[widest];
    for (int k = 0; k < 3; k++)
        if (cols[k] != 1 && cols[k] != *B)
            return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: %lld columns, but %s has "
                           "%lld (a batch's vectors have 1 column, shared by all elements, or "
                           "one per element)", in_dir(c, file_name[batch_file[k]]),
                           (long long)cols[k], file_name[batch_file[widest]], (long long)*B);
    return ALTDIFF_OK;
}

/* A batch's vectors and solve states grow as B (n + m + p): beyond
 * AD_BATCH_FREE values, at most AD_BATCH_PER_BYTE per byte of the files (a
 * tiny coordinate file announcing n x B may not cost gigabytes) */
#define AD_BATCH_FREE ((altdiff_int)1 << 20)
#define AD_BATCH_PER_BYTE 64

static int plan_batch_bytes(dir_ctx *c, const dir_plan *pl, const altdiff_int cols[3],
                            altdiff_int B)
{
    double len = (double)pl->n + (double)pl->m + (double)pl->p, values = (double)B * len;
    if (values <= (double)AD_BATCH_FREE || values <= AD_BATCH_PER_BYTE * (double)pl->bytes)
        return ALTDIFF_OK;
    int k = cols[0] == B ? 0 : cols[1] == B ? 1 : 2;
    return io_fail(ALTDIFF_ERR_INVALID, c->err, c->errlen, "%s: a batch of B = %lld problems "
                   "with n + m + p = %.0f is %.3g values, but the problem's files hold only "
                   "%lld bytes (at most %d values per byte beyond %lld: give the elements' "
                   "vectors in the files)", in_dir(c, file_name[batch_file[k]]), (long long)B,
                   len, values, pl->bytes, AD_BATCH_PER_BYTE, (long long)AD_BATCH_FREE);
}

/* plan_dir for a batch directory: the vectors' column counts into cols */
static int plan_batch_dir(dir_ctx *c, dir_plan *pl, altdiff_int cols[3], altdiff_int *B)
{
    int st = plan_presence(c, pl, 0);
    for (int f = 0; f < F_COUNT && st == ALTDIFF_OK; f++) {
        if (!pl->present[f]) continue;
        st = ad_mm_read_header(in_dir(c, file_name[f]), &pl->h[f], c->err, c->errlen);
        pl->bytes += pl->h[f].bytes;
    }
    if (st == ALTDIFF_OK) {
        batch_columns(pl, cols);
        st = batch_count(c, cols, B);
    }
    if (st == ALTDIFF_OK) st = plan_objective(c, pl);
    if (st == ALTDIFF_OK) st = plan_block(c, pl, F_A, &pl->m);
    if (st == ALTDIFF_OK) st = plan_block(c, pl, F_G, &pl->p);
    if (st == ALTDIFF_OK) st = plan_bytes(c, pl);
    if (st == ALTDIFF_OK) st = plan_batch_bytes(c, pl, cols, *B);
    return st;
}

/* read_bodies with the vectors of cols columns (len x cols each) */
static int read_batch_bodies(dir_ctx *c, const dir_plan *pl, const altdiff_int cols[3],
                             altdiff_owned_problem *o)
{
    altdiff_int n = pl->n, r, k;
    double **vec[3] = {&o->q, &o->b, &o->h};
    altdiff_int len[3] = {pl->n, pl->m, pl->p};
    int st = ALTDIFF_OK;
    if (pl->present[F_P]) st = read_P(c, o, n);
    else if ((st = empty_csc(n, &o->Pp, &o->Pi, &o->Px)) != ALTDIFF_OK)
        io_fail(st, c->err, c->errlen, "%s: out of memory", c->dir);
    for (int v = 0; v < 3 && st == ALTDIFF_OK; v++) { /* the order of read_bodies */
        if (v == 1) st = read_block_matrix(c, pl, F_A, pl->m, &o->Ap, &o->Ai, &o->Ax);
        if (v == 2) st = read_block_matrix(c, pl, F_G, pl->p, &o->Gp, &o->Gi, &o->Gx);
        if (st == ALTDIFF_OK && pl->present[batch_file[v]])
            st = ad_mm_read_dense_shape(in_dir(c, file_name[batch_file[v]]), len[v], cols[v],
                                        vec[v], &r, &k, c->err, c->errlen);
    }
    if (st == ALTDIFF_OK) set_views(o, n, pl->m, pl->p); /* element 0: the first columns */
    return st;
}

/* The column counts of a batch directory and its B */
typedef struct {
    altdiff_int kc[3], nb;
} batch_shape;

static int read_batch(dir_ctx *c, dir_plan *pl, altdiff_owned_problem *o, void *arg)
{
    batch_shape *bs = arg;
    int st = plan_batch_dir(c, pl, bs->kc, &bs->nb);
    return st == ALTDIFF_OK ? read_batch_bodies(c, pl, bs->kc, o) : st;
}

ALTDIFF_API int altdiff_read_problem_batch(const char *dir, altdiff_owned_problem **out,
                                           altdiff_int *B, altdiff_int cols[3], char *err,
                                           size_t errlen)
{
    batch_shape bs = {{1, 1, 1}, 1};
    if (err && errlen) err[0] = '\0';
    if (!out || !B) return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "read_problem_batch: "
                                   "out or B is NULL");
    *out = NULL;
    *B = 0;
    if (!dir) return io_fail(ALTDIFF_ERR_INVALID, err, errlen, "read_problem_batch: dir is NULL");
    int st = read_dir(dir, out, read_batch, &bs, err, errlen);
    if (st != ALTDIFF_OK) return st;
    *B = bs.nb;
    if (cols) memcpy(cols, bs.kc, sizeof(bs.kc));
    return ALTDIFF_OK;
}
