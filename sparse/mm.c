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
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp.h"

#define MM_BUF 65536     /* initial reader buffer (bytes)          */
#define MM_CAP0 4096     /* initial triplet capacity (entries)     */
#define MM_TOK 40        /* token characters quoted in a message   */
#define MM_LINE_MAX (1 << 20) /* longest line accepted (bytes, 1 MiB)  */
#define MM_READ_LONG (-100)   /* reader_next: a line over MM_LINE_MAX */
#define MM_MAX_DIM ((altdiff_int)1 << 40) /* largest nrow or ncol: keeps
                                  every index sum and byte count of the
                                  readers and of CSC arrays overflow-free */
/* Fewest bytes an entry takes after the size line: a value "v\n" (array)
 * or "i j v\n" (coordinate); the last one may lack its newline. */
#define MM_ARRAY_MIN 2
#define MM_COORD_MIN 6
#define MM_FREE_COLS ((altdiff_int)1 << 20) /* columns any file may have (8 MB
                                 of CSC pointers), and values a coordinate
                                 file may fill densely; beyond, one per byte */

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
    for (char *c = err; *c; c++) /* one printable line: no CR, LF, ESC ... */
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
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
    long long size;   /* the file's size in bytes (fstat at open)       */
    long long got;    /* bytes fread so far                             */
} mm_reader;

/* Bytes of the file after the last line returned (by its size at open) */
static long long reader_left(const mm_reader *r)
{
    long long left = r->size - (r->got - (long long)(r->len - r->pos));
    return left > 0 ? left : 0;
}

/* Make room to read more: move unread data to the front, double if full
 * (up to one line of MM_LINE_MAX bytes plus its newline and a NUL). */
static int reader_room(mm_reader *r)
{
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
    if (r->len + 1 < r->cap) return ALTDIFF_OK;
    if (r->len > MM_LINE_MAX) return MM_READ_LONG; /* no newline in MM_LINE_MAX + 1 bytes */
    char *nb = ad_malloc(2 * r->cap, 1);
    if (!nb) return ALTDIFF_ERR_NOMEM;
    memcpy(nb, r->buf, r->len);
    ad_free(r->buf);
    r->buf = nb;
    r->cap *= 2;
    return ALTDIFF_OK;
}

/* Next line in *s (NUL terminated, without "\n" or "\r\n"), its length in *n.
 * Returns 1 for a line, 0 at the end of the file, or an error code
 * (MM_READ_LONG for a line longer than MM_LINE_MAX). */
static int reader_next(mm_reader *r, char **s, size_t *n)
{
    for (;;) {
        char *b = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        char *nl = memchr(b, '\n', avail);
        if (nl || (r->eof && avail > 0)) {
            size_t k = nl ? (size_t)(nl - b) : avail; /* the last line may lack "\n" */
            if (k > MM_LINE_MAX) return MM_READ_LONG;
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
        r->got += (long long)got;
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
    altdiff_int want_nrow, want_ncol; /* the caller's shape, -1: any     */
    int header_only;       /* stop after the size line                  */
    int dense;             /* read into a dense array                   */
    long long size;        /* the file's size in bytes                  */
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

/* 1 if count (columns, or values of a dense read) is more than the file
 * pays for: MM_FREE_COLS, and beyond that one per byte */
static int unpaid(double count, const mm_data *d)
{
    return count > (double)MM_FREE_COLS && count > (double)d->size;
}

/* The announced sizes against what the file can hold: MM_MAX_DIM, the
 * caller's shape, and the bytes left after the size line (left), so that
 * nothing is allocated for entries the file cannot contain */
static int check_sizes(mm_data *d, long long left, altdiff_int line)
{
    const char *P = d->path;
#define BAD(...) mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, P, line, __VA_ARGS__)
    long long r = d->nrow, c = d->ncol;
    if (r > MM_MAX_DIM || c > MM_MAX_DIM)
        return BAD("size %lld x %lld exceeds the largest dimension accepted (%lld)", r, c,
                   (long long)MM_MAX_DIM);
    if ((d->want_nrow >= 0 && r != d->want_nrow) || (d->want_ncol >= 0 && c != d->want_ncol))
        return BAD("matrix is %lld x %lld, expected %lld x %lld", r, c,
                   (long long)d->want_nrow, (long long)(d->want_ncol >= 0 ? d->want_ncol : c));
    /* a body read whose column count the caller did not fix: the columns
     * cost the CSC a pointer each, so beyond MM_FREE_COLS they are paid for
     * by the file, as in a problem directory (one per byte; rows cost
     * nothing, and a header read only reports them). The allowance keeps
     * what we write readable: an empty 1 x 1000 matrix is a 60-byte file. */
    if (!d->header_only && d->want_ncol < 0 && unpaid((double)c, d))
        return BAD("%lld columns: a file of %lld bytes holds at most %lld columns, or one "
                   "per byte", c, d->size, (long long)MM_FREE_COLS);
    /* a coordinate file read into a dense array of a shape the caller did
     * not fix: its values are paid for by the file like columns (an array
     * file holds all its values: at least 2 bytes each) */
    if (d->dense && !d->array && (d->want_nrow < 0 || d->want_ncol < 0) &&
        unpaid((double)r * (double)c, d))
        return BAD("a dense %lld x %lld array from a coordinate file of %lld bytes: at most "
                   "%lld values, or one per byte", r, c, d->size, (long long)MM_FREE_COLS);
    int per = d->array ? MM_ARRAY_MIN : MM_COORD_MIN;
    /* nnz entries need at least per * nnz - 1 bytes (no newline after the
     * last); left bytes hold at most (left + 1) / per */
    if (d->nnz > (left + 1) / per)
        return BAD("%lld %s announced, but the %lld bytes after the size line can hold at "
                   "most %lld (a%s takes at least %d bytes)", (long long)d->nnz,
                   d->array ? "values" : "entries", left, (left + 1) / per,
                   d->array ? " value" : "n entry 'i j v'", per);
    return ALTDIFF_OK;
#undef BAD
}

/* "nrow ncol nnz" (coordinate) or "nrow ncol" (array); left: bytes after it */
static int parse_size(mm_data *d, char *s, long long left, altdiff_int line)
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
    return check_sizes(d, left, line);
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

/* A carriage return inside a line: the file has CR-only line endings
 * (classic Mac OS) or binary junk */
static int cr_fail(mm_data *d, altdiff_int line)
{
    return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, line,
                   "carriage return inside the line (CR-only line endings are not supported: "
                   "use LF or CRLF)");
}

/* Map a reader status (NOMEM, IO or a long line after line) to a message */
static int reader_fail(mm_data *d, int st, altdiff_int line)
{
    if (st == MM_READ_LONG)
        return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, line + 1,
                       "line longer than %d bytes", MM_LINE_MAX);
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
        if (memchr(s, '\r', n)) return cr_fail(d, r->line);
        if (!have_size) {
            st = parse_size(d, s, reader_left(r), r->line);
            have_size = 1;
            if (st == ALTDIFF_OK && d->header_only) return ALTDIFF_OK;
        } else if (d->nz == d->nnz) {
            return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, r->line,
                           "more entries than announced (%lld)", (long long)d->nnz);
        } else {
            st = parse_entry(d, s, r->line);
        }
        if (st != ALTDIFF_OK) return st;
    }
    if (st < 0) return reader_fail(d, st, r->line);
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
    if (st < 0) return reader_fail(d, st, r->line);
    if (st == 0)
        return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, 0,
                       "empty file (no %%%%MatrixMarket banner)");
    if (memchr(s, '\0', n))
        return mm_fail(ALTDIFF_ERR_INVALID, d->err, d->errlen, d->path, 1,
                       "missing %%%%MatrixMarket banner (NUL byte)");
    if (memchr(s, '\r', n)) return cr_fail(d, 1);
    st = parse_banner(d, s);
    return st == ALTDIFF_OK ? parse_body(d, r) : st;
}

/* "cannot open" with the reason; a symbolic link to nothing says so */
static int open_fail(mm_data *d, int e)
{
    struct stat sb;
    if (e == ENOENT && lstat(d->path, &sb) == 0 && S_ISLNK(sb.st_mode))
        return mm_fail(ALTDIFF_ERR_IO, d->err, d->errlen, d->path, 0,
                       "cannot open: dangling symbolic link (its target does not exist)");
    return mm_fail_sys(d->err, d->errlen, d->path, "cannot open", e);
}

/* What kind of file sb is, for a message */
static const char *file_kind(const struct stat *sb)
{
    return S_ISDIR(sb->st_mode)    ? "a directory"
           : S_ISFIFO(sb->st_mode) ? "a FIFO"
           : S_ISCHR(sb->st_mode)  ? "a character device"
           : S_ISBLK(sb->st_mode)  ? "a block device"
           : S_ISSOCK(sb->st_mode) ? "a socket"
                                   : "not a regular file";
}

/* Open d->path for reading only if it is a regular file: O_NONBLOCK so that
 * opening a FIFO cannot block, fstat (no race with a stat before) to reject
 * FIFOs, devices and directories; then blocking reads again. *size = its
 * size in bytes. */
static int open_regular(mm_data *d, FILE **f, long long *size)
{
    struct stat sb;
    *f = NULL;
    int fd = open(d->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return open_fail(d, errno);
    int st = ALTDIFF_OK;
    if (fstat(fd, &sb) != 0) st = mm_fail_sys(d->err, d->errlen, d->path, "cannot stat", errno);
    else if (!S_ISREG(sb.st_mode))
        st = mm_fail(ALTDIFF_ERR_IO, d->err, d->errlen, d->path, 0,
                     "cannot read: %s, not a regular file", file_kind(&sb));
    int fl = st == ALTDIFF_OK ? fcntl(fd, F_GETFL) : -1;
    if (st == ALTDIFF_OK && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0))
        st = mm_fail_sys(d->err, d->errlen, d->path, "cannot open", errno);
    if (st == ALTDIFF_OK && !(*f = fdopen(fd, "rb")))
        st = mm_fail_sys(d->err, d->errlen, d->path, "cannot open", errno);
    if (st != ALTDIFF_OK) {
        close(fd);
        return st;
    }
    *size = (long long)sb.st_size;
    return ALTDIFF_OK;
}

/* Parse the file at d->path into d (entries in file order) */
static int mm_parse(mm_data *d)
{
    mm_reader r = {.cap = MM_BUF};
    int st = open_regular(d, &r.f, &r.size);
    if (st != ALTDIFF_OK) return st;
    d->size = r.size;
    r.buf = ad_malloc(r.cap, 1);
    st = r.buf ? parse_lines(d, &r)
               : mm_fail(ALTDIFF_ERR_NOMEM, d->err, d->errlen, d->path, 0, "out of memory");
    fclose(r.f);
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

/* One entry for the comparison sort: its key and its place in the file */
typedef struct {
    altdiff_int col, row, k;
} mm_key;

static int key_cmp(const void *pa, const void *pb)
{
    const mm_key *a = pa, *b = pb;
    if (a->col != b->col) return a->col < b->col ? -1 : 1;
    if (a->row != b->row) return a->row < b->row ? -1 : 1;
    return (a->k > b->k) - (a->k < b->k); /* file order: a stable sort */
}

/* perm (nz) = the entries by column, then row, ties in file order, by a
 * comparison sort: O(nz log nz) whatever the announced dimensions */
static int sort_compare(const mm_data *d, int canon, altdiff_int *perm)
{
    mm_key *key = ad_malloc((size_t)d->nz, sizeof(mm_key));
    if (!key) return ALTDIFF_ERR_NOMEM;
    for (altdiff_int k = 0; k < d->nz; k++)
        key[k] = (mm_key){key_col(d, k, canon), key_row(d, k, canon), k};
    if (d->nz > 1) qsort(key, (size_t)d->nz, sizeof(mm_key), key_cmp);
    for (altdiff_int k = 0; k < d->nz; k++) perm[k] = key[k].k;
    ad_free(key);
    return ALTDIFF_OK;
}

/* The same order by two stable counting sorts (by row, then by column):
 * O(nrow + ncol + nz) time and memory, for dimensions near nz */
static int sort_counting(const mm_data *d, int canon, altdiff_int *perm)
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
    ad_free(w);
    ad_free(tmp);
    return ALTDIFF_OK;
}

/* Order the entries by column, then row, ties in file order (perm, nz):
 * counting sorts when the dimensions are within a few times nz, else a
 * comparison sort, so that a huge announced size costs no work or memory */
static int sort_entries(const mm_data *d, int canon, altdiff_int *perm)
{
    altdiff_int nk = d->nrow > d->ncol ? d->nrow : d->ncol;
    return nk <= 4 * d->nz + MM_CAP0 ? sort_counting(d, canon, perm)
                                     : sort_compare(d, canon, perm);
}

/* Reject duplicate entries; names the earliest line that repeats an entry
 * (after sorting, a duplicate follows the entry it repeats) */
static int check_duplicates(const mm_data *d)
{
    altdiff_int nz = d->nz, *perm, worst = -1, first = -1;
    int canon = d->symmetric, st = ALTDIFF_ERR_NOMEM;
    perm = ad_malloc((size_t)nz, sizeof(altdiff_int));
    if (perm) st = sort_entries(d, canon, perm);
    if (st != ALTDIFF_OK) goto done;
    for (altdiff_int t = 1; t < nz; t++) {
        altdiff_int a = perm[t - 1], b = perm[t]; /* b is later in the file */
        if (key_col(d, a, canon) != key_col(d, b, canon) ||
            key_row(d, a, canon) != key_row(d, b, canon))
            continue;
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
    int st = perm ? sort_entries(d, 0, perm) : ALTDIFF_ERR_NOMEM;
    if (st == ALTDIFF_OK) {
        for (altdiff_int j = 0; j <= d->ncol; j++) A->p[j] = 0;
        for (altdiff_int t = 0; t < d->nz; t++) A->p[d->tj[t] + 1]++; /* column counts */
        for (altdiff_int j = 0; j < d->ncol; j++) A->p[j + 1] += A->p[j];
    }
    if (st == ALTDIFF_OK)
        for (altdiff_int t = 0; t < d->nz; t++) {
            A->i[t] = d->ti[perm[t]]; /* A(i,j) = entry perm[t] */
            A->x[t] = d->tx[perm[t]];
        }
    ad_free(perm);
    return st;
}

int ad_mm_read_header(const char *path, ad_mm_header *h, char *err, size_t errlen)
{
    mm_data d = {.path = path, .err = err, .errlen = errlen, .want_nrow = -1,
                 .want_ncol = -1, .header_only = 1};
    if (!path || !h)
        return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, path ? path : "(null)", 0,
                       "invalid argument");
    int st = mm_parse(&d);
    if (st != ALTDIFF_OK) return st;
    *h = (ad_mm_header){d.array, d.integer, d.symmetric, d.nrow, d.ncol, d.nnz, d.size};
    return ALTDIFF_OK;
}

int ad_mm_read_sparse_shape(const char *path, altdiff_int nrow, altdiff_int ncol, cs_dl **A,
                            int *symmetric, char *err, size_t errlen)
{
    mm_data d = {.path = path, .err = err, .errlen = errlen, .want_nrow = nrow,
                 .want_ncol = ncol};
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

int ad_mm_read_sparse(const char *path, cs_dl **A, int *symmetric, char *err, size_t errlen)
{
    return ad_mm_read_sparse_shape(path, -1, -1, A, symmetric, err, errlen);
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

int ad_mm_read_dense_shape(const char *path, altdiff_int want_nrow, altdiff_int want_ncol,
                           double **x, altdiff_int *nrow, altdiff_int *ncol, char *err,
                           size_t errlen)
{
    mm_data d = {.path = path, .err = err, .errlen = errlen, .want_nrow = want_nrow,
                 .want_ncol = want_ncol, .dense = 1};
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

int ad_mm_read_dense(const char *path, double **x, altdiff_int *nrow, altdiff_int *ncol,
                     char *err, size_t errlen)
{
    return ad_mm_read_dense_shape(path, -1, -1, x, nrow, ncol, err, errlen);
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

static int cmp_index(const void *pa, const void *pb)
{
    altdiff_int a = *(const altdiff_int *)pa, b = *(const altdiff_int *)pb;
    return (a > b) - (a < b);
}

/* Column j of A has no repeated row index: sorted columns in O(length),
 * others through a sorted copy (w, room for the longest column). Returns
 * the repeated index or -1. */
static altdiff_int column_repeat(const cs_dl *A, altdiff_int j, altdiff_int *w)
{
    altdiff_int a = A->p[j], e = A->p[j + 1], k;
    for (k = a + 1; k < e && A->i[k - 1] < A->i[k]; k++) continue;
    if (k >= e) return -1; /* strictly increasing */
    memcpy(w, A->i + a, (size_t)(e - a) * sizeof(altdiff_int));
    qsort(w, (size_t)(e - a), sizeof(altdiff_int), cmp_index);
    for (k = 1; k < e - a; k++)
        if (w[k - 1] == w[k]) return w[k];
    return -1;
}

/* The structure of A: p from 0, nondecreasing; i and x present when there
 * are entries. Returns a message or NULL. */
static const char *csc_shape_error(const cs_dl *A)
{
    if (!A) return "no matrix";
    if (A->nz != -1 || A->m < 0 || A->n < 0) return "not a CSC matrix (bad size)";
    if (!A->p) return "column pointers p are NULL";
    if (A->p[0] != 0) return "p[0] is not 0";
    for (altdiff_int j = 0; j < A->n; j++)
        if (A->p[j + 1] < A->p[j]) return "column pointers p decrease";
    if (A->p[A->n] > 0 && !A->i) return "row indices i are NULL";
    if (A->p[A->n] > 0 && !A->x) return "values x are NULL";
    return NULL;
}

int ad_mm_check_csc(const char *path, const cs_dl *A, int tri, char *err, size_t errlen)
{
    const char *P = path ? path : "(null)", *why = csc_shape_error(A);
#define BAD(...) mm_fail(ALTDIFF_ERR_INVALID, err, errlen, P, 0, __VA_ARGS__)
    if (why) return BAD("invalid matrix: %s", why);
    if (tri && A->m != A->n)
        return BAD("symmetric matrix must be square, not %lld x %lld", (long long)A->m,
                   (long long)A->n);
    altdiff_int longest = 0, upper = 0, lower = 0;
    for (altdiff_int j = 0; j < A->n; j++) {
        if (A->p[j + 1] - A->p[j] > longest) longest = A->p[j + 1] - A->p[j];
        for (altdiff_int t = A->p[j]; t < A->p[j + 1]; t++) {
            altdiff_int i = A->i[t];
            if (i < 0 || i >= A->m)
                return BAD("invalid matrix: row index %lld of column %lld out of range 0..%lld",
                           (long long)i, (long long)j, (long long)A->m - 1);
            if (!isfinite(A->x[t]))
                return BAD("refusing to write NaN or Inf (entry (%lld,%lld))", (long long)i,
                           (long long)j);
            upper += i < j;
            lower += i > j;
            if ((tri == 1 && i > j) || (tri == -1 && i < j))
                return BAD("invalid matrix: entry (%lld,%lld) outside the %s triangle",
                           (long long)i, (long long)j, tri == 1 ? "upper" : "lower");
        }
    }
    if (tri == 2 && upper > 0 && lower > 0)
        return BAD("symmetric matrix must hold one triangle only (it has entries on both sides)");
    altdiff_int *w = ad_malloc((size_t)longest, sizeof(altdiff_int));
    if (!w) return mm_fail(ALTDIFF_ERR_NOMEM, err, errlen, P, 0, "out of memory");
    altdiff_int j = 0, rep = -1;
    for (; j < A->n && rep < 0; j++) rep = column_repeat(A, j, w);
    ad_free(w);
    if (rep >= 0)
        return BAD("invalid matrix: row index %lld repeated in column %lld", (long long)rep,
                   (long long)j - 1);
    return ALTDIFF_OK;
#undef BAD
}

int ad_mm_write_sparse(const char *path, const cs_dl *A, int symmetric, char *err,
                       size_t errlen)
{
    if (!path) return mm_fail(ALTDIFF_ERR_INVALID, err, errlen, "(null)", 0, "no path");
    int st = ad_mm_check_csc(path, A, symmetric ? 2 : 0, err, errlen);
    if (st != ALTDIFF_OK) return st;
    char *tmp;
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
