/*
 * mm.c: Matrix Market I/O (https://math.nist.gov/MatrixMarket/formats.html).
 *
 * Why not cholmod_l_read_matrix?  The issue asked us to build on CHOLMOD's
 * reader and validate around it.  It cannot meet the requirements:
 *   - it reports no line numbers (only a status), so "PATH:LINE: what is
 *     wrong" is impossible;
 *   - it sums duplicate entries silently (cholmod_triplet -> sparse), and for
 *     a symmetric file it cannot tell (i,j) + (j,i) from one entry;
 *   - it accepts NaN/Inf, ignores trailing junk on a line, and allocates
 *     through SuiteSparse_config rather than ad_malloc.
 * So the reader is our own: a buffered line reader, strtoll/strtod per token,
 * triplets grown by doubling, then two stable counting sorts (by row, then by
 * column) that give sorted columns and expose duplicates as neighbours.
 *
 * Accepted:  %%MatrixMarket matrix {coordinate|array} {real|integer}
 *            {general|symmetric}   (keywords case-insensitive)
 * Comment lines (first non-blank character '%') and blank lines may appear
 * anywhere after the banner.  A symmetric coordinate file may hold entries of
 * either triangle; (i,j) and (j,i) together are a duplicate.  A symmetric
 * array file holds the lower triangle column by column, n(n+1)/2 values.
 * An integer field needs integer tokens ("1.5" is rejected).
 *
 * The writers use plain fprintf("%.17g"), which round-trips every finite
 * double bit-exactly (-0 included), into PATH.tmp that is renamed over PATH
 * when complete (after fsync); on failure the tmp file is removed.  Non-finite values are
 * refused (the reader would refuse the file).
 *
 * Allocation failures return ALTDIFF_ERR_NOMEM ("PATH: out of memory").
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sp.h"

#define MM_BUF 65536     /* initial reader buffer (bytes)          */
#define MM_CAP0 4096     /* initial triplet capacity (entries)     */
#define MM_TOK 40        /* token characters quoted in a message   */

/* ======================================================================== */
/* === messages ========================================================== */
/* ======================================================================== */

/* err = "PATH:LINE: msg" (line > 0) or "PATH: msg"; returns code */
static int mm_fail(int code, char *err, size_t errlen, const char *path, altdiff_int line,
                   const char *fmt, ...)
{
    if (!err || errlen == 0) return code;
    int k = (line > 0) ? snprintf(err, errlen, "%s:%lld: ", path, (long long)line)
                       : snprintf(err, errlen, "%s: ", path);
    if (k >= 0 && (size_t)k < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    err[errlen - 1] = '\0';
    return code;
}

/* err = "PATH: what: strerror(e)" for a failed system call */
static int mm_fail_sys(char *err, size_t errlen, const char *path, const char *what, int e)
{
    char buf[128] = "unknown error";
    if (strerror_r(e, buf, sizeof(buf)) != 0) buf[0] = '\0';
    return mm_fail(ALTDIFF_ERR_IO, err, errlen, path, 0, "%s: %s", what, buf);
}

/* ======================================================================== */
/* === buffered line reader ============================================= */
/* ======================================================================== */

typedef struct {
    FILE *f;
    char *buf;        /* cap bytes; unread data is buf[pos .. len-1]     */
    size_t cap, pos, len;
    int eof;          /* fread has hit the end of the file              */
    altdiff_int line; /* number of the line last returned (1-based)     */
} mm_reader;

/* Make room to read more: move unread data to the front, double if full. */
static int reader_room(mm_reader *r)
{
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
    if (r->len + 1 < r->cap) return ALTDIFF_OK;
    char *nb = ad_malloc(2 * r->cap, 1);
    if (!nb) return ALTDIFF_ERR_NOMEM;
    memcpy(nb, r->buf, r->len);
    ad_free(r->buf);
    r->buf = nb;
    r->cap *= 2;
    return ALTDIFF_OK;
}

/* Next line in *s (NUL terminated, without "\n" or "\r\n"), its length in *n.
 * Returns 1 for a line, 0 at the end of the file, or an error code. */
static int reader_next(mm_reader *r, char **s, size_t *n)
{
    for (;;) {
        char *b = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        char *nl = memchr(b, '\n', avail);
        if (nl || (r->eof && avail > 0)) {
            size_t k = nl ? (size_t)(nl - b) : avail; /* the last line may lack "\n" */
            r->pos += nl ? k + 1 : k;
            b[k] = '\0'; /* room: reader_room keeps len < cap */
            if (k > 0 && b[k - 1] == '\r') b[--k] = '\0';
            r->line++;
            *s = b;
            *n = k;
            return 1;
        }
        if (r->eof) return 0;
        int st = reader_room(r);
        if (st != ALTDIFF_OK) return st;
        size_t got = fread(r->buf + r->len, 1, r->cap - 1 - r->len, r->f);
        r->len += got;
        if (got == 0) {
            if (ferror(r->f)) return ALTDIFF_ERR_IO;
            r->eof = 1;
        }
    }
}

/* ======================================================================== */
/* === tokens ============================================================ */
/* ======================================================================== */

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

/* Next whitespace-delimited token of *s: NUL terminated in place, *s moves
 * past it. Returns NULL when the line has no more tokens. */
static char *next_token(char **s)
{
    char *c = *s;
    while (is_blank(*c)) c++;
    if (*c == '\0') {
        *s = c;
        return NULL;
    }
    char *tok = c;
    while (*c && !is_blank(*c)) c++;
    if (*c) *c++ = '\0';
    *s = c;
    return tok;
}

/* 1 if the line is blank or a comment */
static int is_skippable(const char *s)
{
    while (is_blank(*s)) s++;
    return *s == '\0' || *s == '%';
}

/* Parse a whole token as a decimal integer. Returns 1 on success, 0 when the
 * token is not an integer, -1 when it overflows. */
static int parse_int(const char *tok, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(tok, &end, 10);
    if (end == tok || *end != '\0') return 0;
    return errno == ERANGE ? -1 : 1;
}

/* Parse a whole token as a finite decimal number. Returns 1 on success, 0 if
 * it is not a number, -1 if it is NaN, Inf or overflows. */
static int parse_real(const char *tok, double *v)
{
    char *end;
    *v = strtod(tok, &end);
    if (end == tok || *end != '\0') return 0;
    if (!isfinite(*v)) return -1;
    return strspn(tok, "0123456789+-.eE") == strlen(tok) ? 1 : 0; /* no hex floats */
}

/* ======================================================================== */
/* === the parsed file =================================================== */
/* ======================================================================== */

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
    int array;             /* 1: array format, 0: coordinate            */
    int integer;           /* 1: integer field, 0: real                 */
    int symmetric;         /* 1: symmetric, 0: general                  */
    altdiff_int nrow, ncol;
    altdiff_int nnz;       /* entries announced (array: implied)        */
    altdiff_int nz, cap;   /* entries read, capacity of the arrays      */
    altdiff_int *ti, *tj;  /* coordinate: 0-based row, column (cap)     */
    altdiff_int *tl;       /* coordinate: line of each entry (cap)      */
    double *tx;            /* values (cap)                              */
} mm_data;

static void data_free(mm_data *d)
{
    d->ti = ad_free(d->ti);
    d->tj = ad_free(d->tj);
    d->tl = ad_free(d->tl);
    d->tx = ad_free(d->tx);
}

/* Grow the entry arrays to hold at least one more entry (doubling, at most
 * nnz), so that a lying size line cannot make us allocate a huge block. */
static int data_grow(mm_data *d)
{
    altdiff_int cap = d->cap == 0 ? MM_CAP0 : 2 * d->cap;
    if (cap > d->nnz) cap = d->nnz;
    int coo = !d->array;
    altdiff_int *ti = coo ? ad_malloc((size_t)cap, sizeof(altdiff_int)) : NULL;
    altdiff_int *tj = coo ? ad_malloc((size_t)cap, sizeof(altdiff_int)) : NULL;
    altdiff_int *tl = coo ? ad_malloc((size_t)cap, sizeof(altdiff_int)) : NULL;
    double *tx = ad_malloc((size_t)cap, sizeof(double));
    if (!tx || (coo && (!ti || !tj || !tl))) {
        ad_free(ti);
        ad_free(tj);
        ad_free(tl);
        ad_free(tx);
        return ALTDIFF_ERR_NOMEM;
    }
    size_t nz = (size_t)d->nz;
    if (nz > 0) memcpy(tx, d->tx, nz * sizeof(double));
    if (coo && nz > 0) {
        memcpy(ti, d->ti, nz * sizeof(altdiff_int));
        memcpy(tj, d->tj, nz * sizeof(altdiff_int));
        memcpy(tl, d->tl, nz * sizeof(altdiff_int));
    }
    data_free(d);
    d->ti = ti;
    d->tj = tj;
    d->tl = tl;
    d->tx = tx;
    d->cap = cap;
    return ALTDIFF_OK;
}

/* ======================================================================== */
/* === banner, size line, entries ======================================= */
/* ======================================================================== */

/* "%%MatrixMarket matrix FORMAT FIELD SYMMETRY" */
static int parse_banner(mm_data *d, char *s)
{
    const char *what[5];
    for (int k = 0; k < 5; k++) what[k] = next_token(&s);
    const char *junk = next_token(&s);
    const char *P = d->path;
#define BAD(...) mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, P, 1, __VA_ARGS__)
    if (!what[0] || strcasecmp(what[0], "%%MatrixMarket") != 0)
        return BAD("missing %%%%MatrixMarket banner");
    if (!what[4]) return BAD("incomplete banner: expected "
                             "'%%%%MatrixMarket matrix FORMAT FIELD SYMMETRY'");
    if (junk) return BAD("trailing junk '%.*s' after the banner", MM_TOK, junk);
    if (strcasecmp(what[1], "matrix") != 0)
        return BAD("unsupported object '%.*s' (only 'matrix')", MM_TOK, what[1]);
    d->array = strcasecmp(what[2], "array") == 0;
    if (!d->array && strcasecmp(what[2], "coordinate") != 0)
        return BAD("unsupported format '%.*s' (coordinate or array)", MM_TOK, what[2]);
    d->integer = strcasecmp(what[3], "integer") == 0;
    if (!d->integer && strcasecmp(what[3], "real") != 0)
        return BAD("unsupported field '%.*s' (real or integer)", MM_TOK, what[3]);
    d->symmetric = strcasecmp(what[4], "symmetric") == 0;
    if (!d->symmetric && strcasecmp(what[4], "general") != 0)
        return BAD("unsupported symmetry '%.*s' (general or symmetric)", MM_TOK, what[4]);
    return ALTDIFF_OK;
#undef BAD
}

/* Most entries an nrow x ncol (symmetric: one triangle) matrix can hold, or
 * -1 if that does not fit in altdiff_int. */
static altdiff_int max_entries(const mm_data *d)
{
    altdiff_int r = d->nrow, c = d->ncol;
    if (r == 0 || c == 0) return 0;
    if (d->symmetric) { /* n(n+1)/2 */
        if (r >= ((altdiff_int)1 << 31)) return -1; /* would overflow */
        return r * (r + 1) / 2;
    }
    return (r > INT64_MAX / c) ? -1 : r * c;
}

/* "nrow ncol nnz" (coordinate) or "nrow ncol" (array) */
static int parse_size(mm_data *d, char *s, altdiff_int line)
{
    long long v[3] = {0, 0, 0};
    int want = d->array ? 2 : 3;
    const char *form = d->array ? "'nrow ncol'" : "'nrow ncol nnz'";
    const char *P = d->path;
#define BAD(...) mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, P, line, __VA_ARGS__)
    for (int k = 0; k < want; k++) {
        const char *tok = next_token(&s);
        if (!tok) return BAD("bad size line: expected %s", form);
        int ok = parse_int(tok, &v[k]);
        if (ok == 0) return BAD("bad size line: '%.*s' is not an integer", MM_TOK, tok);
        if (ok < 0 || v[k] < 0) return BAD("bad size line: negative or too large size '%.*s'",
                                           MM_TOK, tok);
    }
    const char *junk = next_token(&s);
    if (junk) return BAD("trailing junk '%.*s' on the size line", MM_TOK, junk);
    d->nrow = v[0];
    d->ncol = v[1];
    if (d->symmetric && d->nrow != d->ncol)
        return BAD("symmetric matrix must be square, not %lld x %lld", v[0], v[1]);
    altdiff_int most = max_entries(d);
    if (d->array && most < 0) return BAD("array of %lld x %lld is too large", v[0], v[1]);
    d->nnz = d->array ? most : v[2];
    if (!d->array && most >= 0 && d->nnz > most)
        return BAD("%lld entries cannot fit in a %s %lld x %lld matrix without duplicates",
                   v[2], d->symmetric ? "symmetric" : "general", v[0], v[1]);
    return ALTDIFF_OK;
#undef BAD
}

/* A value token: integer field needs an integer, real a finite number */
static int parse_value(mm_data *d, const char *tok, altdiff_int line, double *x)
{
    const char *P = d->path;
#define BAD(...) mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, P, line, __VA_ARGS__)
    if (!tok) return BAD("missing value");
    if (d->integer) {
        long long v;
        int ok = parse_int(tok, &v);
        if (ok == 0) return BAD("value '%.*s' is not an integer (integer field)", MM_TOK, tok);
        if (ok < 0) return BAD("integer value '%.*s' out of range", MM_TOK, tok);
        *x = (double)v;
        return ALTDIFF_OK;
    }
    int ok = parse_real(tok, x);
    if (ok < 0) return BAD("value '%.*s' is not finite (NaN, Inf or overflow)", MM_TOK, tok);
    if (ok == 0) return BAD("value '%.*s' is not a decimal number", MM_TOK, tok);
    return ALTDIFF_OK;
#undef BAD
}

/* A 1-based index token in 1..hi; *k receives it 0-based */
static int parse_index(mm_data *d, const char *tok, altdiff_int hi, const char *name,
                       altdiff_int line, altdiff_int *k)
{
    long long v;
    const char *P = d->path;
#define BAD(...) mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, P, line, __VA_ARGS__)
    if (!tok) return BAD("missing %s index: expected 'row col value'", name);
    int ok = parse_int(tok, &v);
    if (ok == 0) return BAD("%s index '%.*s' is not an integer", name, MM_TOK, tok);
    if (ok < 0 || v < 1 || v > hi)
        return BAD("%s index %.*s out of range 1..%lld", name, MM_TOK, tok, (long long)hi);
    *k = (altdiff_int)(v - 1);
    return ALTDIFF_OK;
#undef BAD
}

/* One entry line: "i j v" (coordinate) or "v" (array) */
static int parse_entry(mm_data *d, char *s, altdiff_int line)
{
    int st = ALTDIFF_OK;
    if (d->nz == d->cap) st = data_grow(d);
    if (st != ALTDIFF_OK) return mm_fail(st, d->err, d->errlen, d->path, 0, "out of memory");
    altdiff_int k = d->nz;
    if (!d->array) {
        st = parse_index(d, next_token(&s), d->nrow, "row", line, &d->ti[k]);
        if (st == ALTDIFF_OK) st = parse_index(d, next_token(&s), d->ncol, "column", line,
                                               &d->tj[k]);
        if (st != ALTDIFF_OK) return st;
        d->tl[k] = line;
    }
    st = parse_value(d, next_token(&s), line, &d->tx[k]);
    if (st != ALTDIFF_OK) return st;
    const char *junk = next_token(&s);
    if (junk)
        return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, line,
                       "trailing junk '%.*s' after the entry", MM_TOK, junk);
    d->nz++;
    return ALTDIFF_OK;
}

/* ======================================================================== */
/* === reading a whole file ============================================== */
/* ======================================================================== */

/* Map a reader status (NOMEM or IO) to a message */
static int reader_fail(mm_data *d, int st)
{
    if (st == ALTDIFF_ERR_NOMEM)
        return mm_fail(st, d->err, d->errlen, d->path, 0, "out of memory");
    return mm_fail_sys(d->err, d->errlen, d->path, "read error", errno);
}

/* The lines after the banner: size line, entries, then only comments */
static int parse_body(mm_data *d, mm_reader *r)
{
    char *s;
    size_t n;
    int st, have_size = 0;
    while ((st = reader_next(r, &s, &n)) == 1) {
        if (memchr(s, '\0', n))
            return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, r->line,
                           "NUL byte in the line");
        if (is_skippable(s)) continue;
        if (!have_size) {
            st = parse_size(d, s, r->line);
            have_size = 1;
        } else if (d->nz == d->nnz) {
            return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, r->line,
                           "more entries than announced (%lld)", (long long)d->nnz);
        } else {
            st = parse_entry(d, s, r->line);
        }
        if (st != ALTDIFF_OK) return st;
    }
    if (st < 0) return reader_fail(d, st);
    if (!have_size)
        return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, r->line,
                       "missing size line");
    if (d->nz < d->nnz)
        return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, r->line,
                       "fewer entries than announced: %lld of %lld at the end of the file",
                       (long long)d->nz, (long long)d->nnz);
    return ALTDIFF_OK;
}

/* The banner line, then the body */
static int parse_lines(mm_data *d, mm_reader *r)
{
    char *s;
    size_t n;
    int st = reader_next(r, &s, &n);
    if (st < 0) return reader_fail(d, st);
    if (st == 0)
        return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, 0,
                       "empty file (no %%%%MatrixMarket banner)");
    if (memchr(s, '\0', n))
        return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, 1,
                       "missing %%%%MatrixMarket banner (NUL byte)");
    st = parse_banner(d, s);
    return st == ALTDIFF_OK ? parse_body(d, r) : st;
}

/* Parse the file at d->path into d (entries in file order) */
static int mm_parse(mm_data *d)
{
    mm_reader r = {.cap = MM_BUF};
    int st = ALTDIFF_OK;
    r.buf = ad_malloc(r.cap, 1);
    if (!r.buf) {
        st = mm_fail(ALTDIFF_ERR_NOMEM, d->err, d->errlen, d->path, 0, "out of memory");
        goto done;
    }
    r.f = fopen(d->path, "rb");
    if (!r.f) {
        st = mm_fail_sys(d->err, d->errlen, d->path, "cannot open", errno);
        goto done;
    }
    st = parse_lines(d, &r);
done:
    if (r.f) fclose(r.f);
    ad_free(r.buf);
    if (st != ALTDIFF_OK) data_free(d);
    return st;
}

/* ======================================================================== */
/* === sorting and duplicates (coordinate) =============================== */
/* ======================================================================== */

/* Sort key of entry k: (row, col), or for canon the lower-triangle position
 * (max(i,j), min(i,j)), so that (i,j) and (j,i) collide. */
static altdiff_int key_row(const mm_data *d, altdiff_int k, int canon)
{
    altdiff_int i = d->ti[k], j = d->tj[k];
    return (canon && j > i) ? j : i;
}

static altdiff_int key_col(const mm_data *d, altdiff_int k, int canon)
{
    altdiff_int i = d->ti[k], j = d->tj[k];
    return (canon && i < j) ? i : j;
}

/* Stable counting sort of in[0..nz-1] by key (col or row) into out;
 * cnt (nkeys+1) ends as the bucket starts shifted by one bucket. */
static void bucket_sort(const mm_data *d, int canon, int by_col, altdiff_int nkeys,
                        const altdiff_int *in, altdiff_int *out, altdiff_int *cnt)
{
    altdiff_int nz = d->nz;
    for (altdiff_int k = 0; k <= nkeys; k++) cnt[k] = 0;
    for (altdiff_int t = 0; t < nz; t++) {
        altdiff_int k = in ? in[t] : t;
        cnt[(by_col ? key_col(d, k, canon) : key_row(d, k, canon)) + 1]++;
    }
    for (altdiff_int k = 0; k < nkeys; k++) cnt[k + 1] += cnt[k]; /* bucket starts */
    for (altdiff_int t = 0; t < nz; t++) {
        altdiff_int k = in ? in[t] : t;
        out[cnt[by_col ? key_col(d, k, canon) : key_row(d, k, canon)]++] = k;
    }
}

/* Order the entries by column, then row, ties in file order: perm (nz)
 * lists the entries, Cp (ncol+1) the column starts. */
static int sort_entries(const mm_data *d, int canon, altdiff_int *Cp, altdiff_int *perm)
{
    altdiff_int nk = d->nrow > d->ncol ? d->nrow : d->ncol;
    altdiff_int *w = ad_malloc((size_t)nk + 1, sizeof(altdiff_int));
    altdiff_int *tmp = ad_malloc((size_t)d->nz, sizeof(altdiff_int));
    if (!w || !tmp) {
        ad_free(w);
        ad_free(tmp);
        return ALTDIFF_ERR_NOMEM;
    }
    bucket_sort(d, canon, 0, d->nrow, NULL, tmp, w); /* by row             */
    bucket_sort(d, canon, 1, d->ncol, tmp, perm, w); /* stably by column   */
    Cp[0] = 0;                                       /* w[j] = end of col j */
    for (altdiff_int j = 0; j < d->ncol; j++) Cp[j + 1] = w[j];
    ad_free(w);
    ad_free(tmp);
    return ALTDIFF_OK;
}

/* Reject duplicate entries; names the earliest line that repeats an entry */
static int check_duplicates(const mm_data *d)
{
    altdiff_int n = d->ncol, nz = d->nz, *Cp, *perm, worst = -1, first = -1;
    int canon = d->symmetric, st = ALTDIFF_ERR_NOMEM;
    Cp = ad_malloc((size_t)n + 1, sizeof(altdiff_int));
    perm = ad_malloc((size_t)nz, sizeof(altdiff_int));
    if (Cp && perm) st = sort_entries(d, canon, Cp, perm);
    if (st != ALTDIFF_OK) goto done;
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = Cp[j] + 1; t < Cp[j + 1]; t++) {
            altdiff_int a = perm[t - 1], b = perm[t]; /* b is later in the file */
            if (key_row(d, a, canon) != key_row(d, b, canon)) continue;
            if (worst < 0 || d->tl[b] < d->tl[worst]) {
                worst = b;
                first = a;
            }
        }
    if (worst >= 0)
        st = mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, d->tl[worst],
                     "duplicate entry (%lld,%lld): already given as (%lld,%lld) on line %lld",
                     (long long)d->ti[worst] + 1, (long long)d->tj[worst] + 1,
                     (long long)d->ti[first] + 1, (long long)d->tj[first] + 1,
                     (long long)d->tl[first]);
done:
    ad_free(Cp);
    ad_free(perm);
    if (st == ALTDIFF_ERR_NOMEM) mm_fail(st, d->err, d->errlen, d->path, 0, "out of memory");
    return st;
}

/* Parse a file and, for coordinate files, reject duplicates */
static int mm_load(mm_data *d)
{
    int st = mm_parse(d);
    if (st == ALTDIFF_OK && !d->array) st = check_duplicates(d);
    if (st != ALTDIFF_OK) data_free(d);
    return st;
}

/* ======================================================================== */
/* === readers =========================================================== */
/* ======================================================================== */

/* Array file -> CSC: every value stored (general: all of the column; symmetric:
 * rows j..n-1 of column j, as the file holds them) */
static void array_to_csc(const mm_data *d, cs_dl *A)
{
    altdiff_int m = d->nrow, n = d->ncol, t = 0;
    for (altdiff_int j = 0; j < n; j++) {
        A->p[j] = t;
        for (altdiff_int i = d->symmetric ? j : 0; i < m; i++) {
            A->i[t] = i;       /* A(i,j) = next value */
            A->x[t] = d->tx[t];
            t++;
        }
    }
    A->p[n] = t;
}

/* Coordinate file -> CSC with sorted columns, entries as stored */
static int coord_to_csc(const mm_data *d, cs_dl *A)
{
    altdiff_int *perm = ad_malloc((size_t)d->nz, sizeof(altdiff_int));
    int st = perm ? sort_entries(d, 0, A->p, perm) : ALTDIFF_ERR_NOMEM;
    if (st == ALTDIFF_OK)
        for (altdiff_int t = 0; t < d->nz; t++) {
            A->i[t] = d->ti[perm[t]]; /* A(i,j) = entry perm[t] */
            A->x[t] = d->tx[perm[t]];
        }
    ad_free(perm);
    return st;
}

int ad_mm_read_sparse(const char *path, cs_dl **A, int *symmetric, char *err, size_t errlen)
{
    mm_data d = {.path = path, .err = err, .errlen = errlen};
    if (A) *A = NULL;
    if (!path || !A)
        return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, path ? path : "(null)", 0,
                       "invalid argument");
    int st = mm_load(&d);
    if (st != ALTDIFF_OK) return st;
    cs_dl *C = ad_spalloc(d.nrow, d.ncol, d.nz);
    st = C ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    if (C && d.array) array_to_csc(&d, C);
    if (C && !d.array) st = coord_to_csc(&d, C);
    data_free(&d);
    if (st != ALTDIFF_OK) {
        ad_spfree(C);
        return mm_fail(st, err, errlen, path, 0, "out of memory");
    }
    if (symmetric) *symmetric = d.symmetric;
    *A = C;
    return ALTDIFF_OK;
}

/* Scatter the entries of d into the zeroed dense X (column-major), mirroring
 * a symmetric file */
static void scatter_dense(const mm_data *d, double *X)
{
    altdiff_int m = d->nrow, n = d->ncol, t = 0;
    if (d->array && !d->symmetric) {
        if (d->nz > 0) memcpy(X, d->tx, (size_t)d->nz * sizeof(double)); /* column-major */
        return;
    }
    if (d->array) {
        for (altdiff_int j = 0; j < n; j++)
            for (altdiff_int i = j; i < m; i++, t++)
                X[i + j * m] = X[j + i * m] = d->tx[t]; /* X(i,j) = X(j,i) */
        return;
    }
    for (t = 0; t < d->nz; t++) {
        altdiff_int i = d->ti[t], j = d->tj[t];
        X[i + j * m] = d->tx[t];
        if (d->symmetric) X[j + i * m] = d->tx[t];
    }
}

int ad_mm_read_dense(const char *path, double **x, altdiff_int *nrow, altdiff_int *ncol,
                     char *err, size_t errlen)
{
    mm_data d = {.path = path, .err = err, .errlen = errlen};
    if (x) *x = NULL;
    if (!path || !x || !nrow || !ncol)
        return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, path ? path : "(null)", 0,
                       "invalid argument");
    int st = mm_load(&d);
    if (st != ALTDIFF_OK) return st;
    altdiff_int m = d.nrow, n = d.ncol;
    double *X = NULL;
    if (m == 0 || n <= INT64_MAX / m) X = ad_calloc((size_t)m * (size_t)n, sizeof(double));
    if (X) scatter_dense(&d, X);
    data_free(&d);
    if (!X) return mm_fail(ALTDIFF_ERR_NOMEM, err, errlen, path, 0,
                           "out of memory for a dense %lld x %lld matrix", (long long)m,
                           (long long)n);
    *x = X;
    *nrow = m;
    *ncol = n;
    return ALTDIFF_OK;
}

/* ======================================================================== */
/* === writers =========================================================== */
/* ======================================================================== */

/* Open PATH.tmp for writing; *tmp receives its name (free with ad_free) */
static FILE *open_tmp(const char *path, char **tmp, int *st, char *err, size_t errlen)
{
    size_t len = strlen(path);
    FILE *f = NULL;
    *tmp = ad_malloc(len + 5, 1);
    if (!*tmp) {
        *st = mm_fail(ALTDIFF_ERR_NOMEM, err, errlen, path, 0, "out of memory");
        return NULL;
    }
    memcpy(*tmp, path, len);
    memcpy(*tmp + len, ".tmp", 5);
    f = fopen(*tmp, "wb");
    if (!f) {
        *st = mm_fail_sys(err, errlen, *tmp, "cannot create", errno);
        *tmp = ad_free(*tmp);
    }
    return f;
}

/* Close f and rename tmp over path; on any failure remove tmp. Frees tmp. */
static int close_tmp(FILE *f, char *tmp, const char *path, char *err, size_t errlen)
{
    int st = ALTDIFF_OK, bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = bad ? errno : 0; /* fsync: the data is on disk before the rename */
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) st = mm_fail_sys(err, errlen, tmp, "write error", e ? e : EIO);
    if (!bad && rename(tmp, path) != 0) st = mm_fail_sys(err, errlen, path, "cannot rename "
                                                         "the .tmp file to it", errno);
    if (st != ALTDIFF_OK) remove(tmp);
    ad_free(tmp);
    return st;
}

/* 1 if x[0..n-1] are all finite */
static int all_finite(const double *x, altdiff_int n)
{
    for (altdiff_int k = 0; k < n; k++)
        if (!isfinite(x[k])) return 0;
    return 1;
}

int ad_mm_write_dense(const char *path, const double *x, altdiff_int nrow, altdiff_int ncol,
                      char *err, size_t errlen)
{
    if (!path) return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, "(null)", 0, "no path");
    if (nrow < 0 || ncol < 0 || (nrow > 0 && ncol > INT64_MAX / nrow))
        return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, path, 0, "bad size %lld x %lld",
                       (long long)nrow, (long long)ncol);
    altdiff_int len = nrow * ncol;
    if (len > 0 && !x) return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, path, 0, "no data");
    if (!all_finite(x, len))
        return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, path, 0,
                       "refusing to write NaN or Inf");
    char *tmp;
    int st = ALTDIFF_OK;
    FILE *f = open_tmp(path, &tmp, &st, err, errlen);
    if (!f) return st;
    fprintf(f, "%%%%MatrixMarket matrix array real general\n%lld %lld\n", (long long)nrow,
            (long long)ncol);
    for (altdiff_int k = 0; k < len; k++) fprintf(f, "%.17g\n", x[k]);
    return close_tmp(f, tmp, path, err, errlen);
}

/* 1 if A is a CSC matrix with row indices in range and finite values */
static int csc_ok(const cs_dl *A)
{
    if (!A || A->nz != -1 || A->m < 0 || A->n < 0 || !A->p || A->p[0] != 0) return 0;
    for (altdiff_int j = 0; j < A->n; j++)
        if (A->p[j + 1] < A->p[j]) return 0;
    altdiff_int nz = A->p[A->n];
    if (nz > 0 && (!A->i || !A->x)) return 0;
    for (altdiff_int t = 0; t < nz; t++)
        if (A->i[t] < 0 || A->i[t] >= A->m) return 0;
    return all_finite(A->x, nz);
}

int ad_mm_write_sparse(const char *path, const cs_dl *A, int symmetric, char *err,
                       size_t errlen)
{
    if (!path) return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, "(null)", 0, "no path");
    if (!csc_ok(A))
        return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, path, 0,
                       "not a valid CSC matrix (or NaN/Inf values)");
    if (symmetric && A->m != A->n)
        return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, path, 0,
                       "symmetric matrix must be square, not %lld x %lld", (long long)A->m,
                       (long long)A->n);
    char *tmp;
    int st = ALTDIFF_OK;
    FILE *f = open_tmp(path, &tmp, &st, err, errlen);
    if (!f) return st;
    altdiff_int n = A->n, *Ap = A->p, *Ai = A->i;
    double *Ax = A->x;
    fprintf(f, "%%%%MatrixMarket matrix coordinate real %s\n%lld %lld %lld\n",
            symmetric ? "symmetric" : "general", (long long)A->m, (long long)n,
            (long long)Ap[n]);
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = Ap[j]; t < Ap[j + 1]; t++)
            fprintf(f, "%lld %lld %.17g\n", (long long)Ai[t] + 1, (long long)j + 1, Ax[t]);
    return close_tmp(f, tmp, path, err, errlen);
}
