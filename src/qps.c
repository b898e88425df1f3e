/*
 * qps.c: QPS/MPS files (the MPS format of linear programs with the QPS
 * extension for a quadratic objective, as used by the Maros-Meszaros test
 * set) read into an altdiff problem
 *
 *     minimize 1/2 x'Px + q'x (+ c0)   subject to   A x = b,   G x <= h.
 *
 * Sections (indicator lines start in column 1; data lines start with a
 * blank; '*' in column 1 is a comment; blank lines are skipped):
 *   NAME [name]              ignored
 *   OBJSENSE [MAX|MIN]       MAX(IMIZE) or MIN(IMIZE), on the same line
 *                            (free MPS) or on the next data line
 *   OBJNAME [row]            which N row is the objective (default: the first)
 *   ROWS                     "type name", type N (free row), E, L or G
 *   COLUMNS                  "col row value [row value]"; lines
 *                            "name 'MARKER' 'INTORG'|'INTEND'" delimit integer
 *                            columns: integrality is ignored (the columns are
 *                            continuous) with a warning
 *   RHS                      "[set] row value [row value]"
 *   RANGES                   "[set] row value [row value]"
 *   BOUNDS                   "type [set] col [value]"
 *   QUADOBJ, QSECTION        "col1 col2 value": one triangle of Q
 *                            (an off-diagonal entry stands for Q_ij and Q_ji)
 *   QMATRIX                  "col1 col2 value": all of Q (both triangles,
 *                            which must agree exactly)
 *   ENDATA                   required (a file without it is truncated)
 * The objective is c'x + 1/2 x'Qx + c0 with c the objective row's
 * coefficients, so P = Q and q = c.
 *
 * Objective constant.  Maros and Meszaros ("A repository of convex quadratic
 * programming problems", 1999, the description of the QPS format) follow the
 * MPS convention that an RHS entry on the objective row is the NEGATIVE of
 * the constant: the objective is c'x + 1/2 x'Qx - rhs_obj, i.e.
 * c0 = -rhs_obj (as CPLEX, HiGHS and the MM solution tables read it).
 *
 * Fixed and free MPS.  The file is first read as free MPS (fields separated
 * by blanks; an RHS or RANGES line with an odd number of fields starts with
 * the set name, a BOUNDS line "type set col value" or "type col value" is
 * told apart by its number of fields); when that fails it is read again as
 * fixed MPS (fields in columns 2-3, 5-12, 15-22, 25-36, 40-47, 50-61, names
 * may hold blanks), and the error of the free reading is reported when both
 * fail.  Files ending in .gz (any file zlib recognizes as gzip) are
 * decompressed on the fly.
 *
 * Conversion (rows of A and G in this order):
 *   E row, no range (or range 0)     a'x = rhs                 a row of A
 *   L row                            a'x <= rhs                a row of G
 *   G row                            -a'x <= -rhs              a row of G
 *   range R on an E row              [rhs, rhs+|R|] (R > 0), [rhs-|R|, rhs] (R < 0)
 *   range R on an L row              [rhs-|R|, rhs]
 *   range R on a G row               [rhs, rhs+|R|]
 *   an interval [lo, hi]             a'x <= hi, then -a'x <= -lo (two rows of G;
 *                                    one row of A when lo == hi)
 *   N rows other than the objective  dropped (with their entries)
 * then, per column j in order, its bounds l <= x_j <= u (default 0 <= x_j):
 *   l == u                           x_j = l (a row of A)
 *   l finite                         -x_j <= -l (a row of G)
 *   u finite                         x_j <= u (a row of G)
 * Bounds: UP (u; a negative u with the default l = 0 sets l = -inf, the
 * classical MPS rule, with a warning), LO, FX, FR, MI (l = -inf), PL (u =
 * +inf), BV (0 <= x <= 1), LI, UI (as LO, UP); integrality of BV, LI, UI is
 * ignored with a warning. SC (semi-continuous) is an error: it is not
 * convex. Values of magnitude >= 1e20 are infinite (a bound or side that is
 * infinite gives no row). OBJSENSE MAX returns the equivalent minimization
 * of -f: q, P and c0 negated (a warning says so).
 *
 * Several RHS, RANGES or BOUNDS sets: the first set named in the section is
 * used, the lines of the others are skipped with a warning. Warnings come
 * back in err (one line each, "PATH:LINE: warning: ...") with ALTDIFF_OK.
 *
 * Errors ("PATH:LINE: what"): unknown or misplaced sections, unknown row or
 * column names, duplicate row or column entries, an entry given twice in the
 * matrix or in Q (for QUADOBJ also as (i,j) and (j,i)), QMATRIX not
 * symmetric, malformed or non-finite numbers, unsupported sections
 * (quadratic constraints, SOS, ...). Row and column names are kept in hash
 * tables and entries are sorted by counting sorts: time and memory are
 * linear in the size of the file.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "sp.h"

#define QPS_INF 1e20    /* |value| >= QPS_INF is infinite                  */
#define QPS_FIELDS 8    /* most fields on a data line                      */
#define QPS_TOK 40      /* characters of a token quoted in a message       */

/* ======================================================================== */
/* === names: an open-addressing hash table =============================== */
/* ======================================================================== */

typedef struct {
    char *pool;            /* the names, NUL terminated, one after another  */
    size_t used, room;     /* bytes of pool in use / allocated              */
    size_t *start;         /* name k is pool + start[k]                     */
    altdiff_int count, cap; /* names / room in start                        */
    altdiff_int *slot;     /* nslot slots: a name's index, or -1            */
    size_t nslot;          /* a power of 2, at least twice count            */
} qps_names;

/* FNV-1a hash of s */
static uint64_t names_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The index of name s, or -1 */
static altdiff_int names_find(const qps_names *t, const char *s)
{
    if (t->nslot == 0) return -1;
    size_t mask = t->nslot - 1;
    for (size_t h = (size_t)names_hash(s) & mask;; h = (h + 1) & mask) {
        altdiff_int k = t->slot[h];
        if (k < 0 || !strcmp(t->pool + t->start[k], s)) return k;
    }
}

/* Put index k into the first free slot of its probe sequence */
static void names_place(qps_names *t, altdiff_int k)
{
    size_t mask = t->nslot - 1, h = (size_t)names_hash(t->pool + t->start[k]) & mask;
    while (t->slot[h] >= 0) h = (h + 1) & mask;
    t->slot[h] = k;
}

/* Double the slots (at least 64) and rehash; ALTDIFF_OK or _NOMEM */
static int names_rehash(qps_names *t)
{
    size_t nslot = t->nslot ? 2 * t->nslot : 64;
    altdiff_int *slot = ad_malloc(nslot, sizeof(altdiff_int));
    if (!slot) return ALTDIFF_ERR_NOMEM;
    for (size_t h = 0; h < nslot; h++) slot[h] = -1;
    ad_free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
    for (altdiff_int k = 0; k < t->count; k++) names_place(t, k);
    return ALTDIFF_OK;
}

/* Make room for one more name of len bytes (NUL included) */
static int names_room(qps_names *t, size_t len)
{
    if (t->count == t->cap) {
        altdiff_int cap = t->cap ? 2 * t->cap : 256;
        size_t *s = ad_realloc(t->start, (size_t)cap, sizeof(size_t));
        if (!s) return ALTDIFF_ERR_NOMEM;
        t->start = s;
        t->cap = cap;
    }
    if (t->used + len > t->room) {
        size_t room = t->room ? 2 * t->room : 4096;
        while (room < t->used + len) room *= 2;
        char *p = ad_realloc(t->pool, room, 1);
        if (!p) return ALTDIFF_ERR_NOMEM;
        t->pool = p;
        t->room = room;
    }
    if (2 * ((size_t)t->count + 1) > t->nslot) return names_rehash(t);
    return ALTDIFF_OK;
}

/* Add the new name s as index count; the index, or -1 if out of memory */
static altdiff_int names_add(qps_names *t, const char *s)
{
    size_t len = strlen(s) + 1;
    if (names_room(t, len) != ALTDIFF_OK) return -1;
    memcpy(t->pool + t->used, s, len);
    t->start[t->count] = t->used;
    t->used += len;
    names_place(t, t->count);
    return t->count++;
}

static const char *names_get(const qps_names *t, altdiff_int k) { return t->pool + t->start[k]; }

static void names_free(qps_names *t)
{
    ad_free(t->pool);
    ad_free(t->start);
    ad_free(t->slot);
}

/* ======================================================================== */
/* === triplets =========================================================== */
/* ======================================================================== */

/* Entries (i, j, x) with the line each came from */
typedef struct {
    altdiff_int *i, *j;
    double *x;
    long long *line;
    altdiff_int nz, cap;
} qps_trip;

static int trip_add(qps_trip *t, altdiff_int i, altdiff_int j, double x, long long line)
{
    if (t->nz == t->cap) {
        altdiff_int cap = t->cap ? 2 * t->cap : 1024;
        altdiff_int *ni = ad_realloc(t->i, (size_t)cap, sizeof(altdiff_int));
        if (ni) t->i = ni;
        altdiff_int *nj = ni ? ad_realloc(t->j, (size_t)cap, sizeof(altdiff_int)) : NULL;
        if (nj) t->j = nj;
        double *nx = nj ? ad_realloc(t->x, (size_t)cap, sizeof(double)) : NULL;
        if (nx) t->x = nx;
        long long *nl = nx ? ad_realloc(t->line, (size_t)cap, sizeof(long long)) : NULL;
        if (!nl) return ALTDIFF_ERR_NOMEM;
        t->line = nl;
        t->cap = cap;
    }
    t->i[t->nz] = i;
    t->j[t->nz] = j;
    t->x[t->nz] = x;
    t->line[t->nz++] = line;
    return ALTDIFF_OK;
}

static void trip_free(qps_trip *t)
{
    ad_free(t->i);
    ad_free(t->j);
    ad_free(t->x);
    ad_free(t->line);
}

/* perm (nz) = the entries ordered by column, then row, then position in the
 * file (two stable counting sorts); NULL if out of memory */
static altdiff_int *trip_order(const qps_trip *t, altdiff_int nrow, altdiff_int ncol)
{
    altdiff_int nz = t->nz, big = nrow > ncol ? nrow : ncol;
    altdiff_int *p1 = ad_malloc((size_t)nz, sizeof(altdiff_int));
    altdiff_int *p2 = ad_malloc((size_t)nz, sizeof(altdiff_int));
    altdiff_int *cnt = ad_calloc((size_t)big + 1, sizeof(altdiff_int));
    if (!p1 || !p2 || !cnt) {
        ad_free(p1);
        ad_free(cnt);
        return ad_free(p2);
    }
    for (altdiff_int k = 0; k < nz; k++) cnt[t->i[k] + 1]++; /* by row */
    for (altdiff_int r = 0; r < nrow; r++) cnt[r + 1] += cnt[r];
    for (altdiff_int k = 0; k < nz; k++) p1[cnt[t->i[k]]++] = k;
    memset(cnt, 0, ((size_t)big + 1) * sizeof(altdiff_int));
    for (altdiff_int k = 0; k < nz; k++) cnt[t->j[k] + 1]++; /* then stably by column */
    for (altdiff_int c = 0; c < ncol; c++) cnt[c + 1] += cnt[c];
    for (altdiff_int k = 0; k < nz; k++) p2[cnt[t->j[p1[k]]]++] = p1[k];
    ad_free(p1);
    ad_free(cnt);
    return p2;
}

/* ======================================================================== */
/* === the reader ========================================================= */
/* ======================================================================== */

enum {
    SEC_NONE, SEC_NAME, SEC_OBJSENSE, SEC_OBJNAME, SEC_ROWS, SEC_COLUMNS, SEC_RHS, SEC_RANGES,
    SEC_BOUNDS, SEC_QUAD
};

/* Warnings: each kind reported once, at its first line, with a count */
enum { W_RHS_SET, W_RANGES_SET, W_BOUNDS_SET, W_INTEGER, W_NEG_UP, W_RANGE_N, W_MAX, W_NKINDS };

typedef struct {
    long long line, count;
    char msg[200];
} qps_warning;

typedef struct {
    const char *path;
    gzFile f;
    char *buf, *fbuf;        /* the line; fixed-format fields (cap bytes each) */
    size_t cap;
    long long line;
    int fixed;               /* 1: fixed MPS, 0: free MPS                  */
    char *err;
    size_t errlen;
    int sec, ended;
    int rows_done, cols_done; /* ROWS / COLUMNS finished                    */
    int quad;                /* 0 none, 1 one triangle, 2 both (QMATRIX)    */
    int max;                 /* OBJSENSE MAX                               */
    int integer;             /* inside MARKER INTORG ... INTEND             */
    long long max_line;      /* where OBJSENSE MAX was given                */
    qps_names rows, cols;
    char *rtype;             /* per row: 'N', 'E', 'L', 'G' (rcap entries)  */
    altdiff_int rcap;
    double *rhs, *range;     /* per row, after ROWS                         */
    unsigned char *rflag;    /* per row: 1 rhs given, 2 range given         */
    altdiff_int obj;         /* the objective row, or -1                    */
    char *objname;           /* OBJNAME, or NULL                            */
    double rhs_obj;          /* RHS of the objective row (-c0)              */
    qps_trip a, q;           /* matrix entries (row, col); Q entries        */
    double *lo, *hi;         /* per column, after COLUMNS                   */
    unsigned char *lo_set;   /* per column: the lower bound was given       */
    char *set[3];            /* the first RHS, RANGES, BOUNDS set names     */
    qps_warning warn[W_NKINDS];
} qps_reader;

/* err = "PATH:LINE: msg" (line > 0) or "PATH: msg"; returns code */
static int qps_fail(qps_reader *r, int code, long long line, const char *fmt, ...)
{
    if (!r->err || r->errlen == 0) return code;
    int k = line > 0 ? snprintf(r->err, r->errlen, "%s:%lld: ", r->path, line)
                     : snprintf(r->err, r->errlen, "%s: ", r->path);
    if (k >= 0 && (size_t)k < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    r->err[r->errlen - 1] = '\0';
    return code;
}

#define BAD(...) qps_fail(r, ALTDIFF_ERR_INVALID, r->line, __VA_ARGS__)
#define NOMEM() qps_fail(r, ALTDIFF_ERR_NOMEM, 0, "out of memory")

/* Record a warning of this kind at the current line (the first one keeps
 * its message, later ones are counted) */
static void qps_warn(qps_reader *r, int kind, const char *fmt, ...)
{
    qps_warning *w = &r->warn[kind];
    if (w->count++ > 0) return;
    w->line = r->line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
    va_end(ap);
}

/* err = the warnings, one line each (or empty) */
static void qps_warnings(const qps_reader *r)
{
    size_t at = 0;
    if (!r->err || r->errlen == 0) return;
    r->err[0] = '\0';
    for (int k = 0; k < W_NKINDS; k++) {
        const qps_warning *w = &r->warn[k];
        if (w->count == 0 || at + 1 >= r->errlen) continue;
        int len = snprintf(r->err + at, r->errlen - at, "%s%s:%lld: warning: %s", at ? "\n" : "",
                           r->path, w->line, w->msg);
        if (len > 0) at += (size_t)len;
        if (w->count > 1 && at + 1 < r->errlen) {
            len = snprintf(r->err + at, r->errlen - at, " (%lld times)", w->count);
            if (len > 0) at += (size_t)len;
        }
        if (at >= r->errlen) at = r->errlen - 1;
    }
    r->err[r->errlen - 1] = '\0';
}

/* ---- lines -------------------------------------------------------------- */

/* Read the next line into r->buf without its line end: 1, 0 at the end of
 * the file, or an error code */
static int qps_getline(qps_reader *r)
{
    size_t len = 0;
    for (;;) {
        if (r->cap - len < 2) { /* grow both buffers */
            size_t cap = r->cap * 2;
            char *b = ad_realloc(r->buf, cap, 1);
            if (b) r->buf = b;
            char *f = b ? ad_realloc(r->fbuf, cap + 64, 1) : NULL;
            if (!f) return NOMEM();
            r->fbuf = f;
            r->cap = cap;
        }
        if (!gzgets(r->f, r->buf + len, (int)(r->cap - len > (size_t)1 << 30 ? (size_t)1 << 30
                                                                              : r->cap - len))) {
            int zerr = 0;
            const char *msg = gzerror(r->f, &zerr);
            if (zerr != Z_OK && zerr != Z_STREAM_END)
                return qps_fail(r, ALTDIFF_ERR_IO, r->line + 1, "read error (%s)",
                                zerr == Z_BUF_ERROR ? "truncated compressed data" : msg);
            if (len == 0) return 0;
            break;
        }
        len += strlen(r->buf + len);
        if (len > 0 && r->buf[len - 1] == '\n') break;
    }
    while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r')) r->buf[--len] = '\0';
    r->line++;
    return 1;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

/* Split s (modified) at blanks into at most QPS_FIELDS fields; -1 if more */
static int split_free(char *s, const char **f)
{
    int n = 0;
    for (;;) {
        while (is_blank(*s)) s++;
        if (!*s) return n;
        if (n == QPS_FIELDS) return -1;
        f[n++] = s;
        while (*s && !is_blank(*s)) s++;
        if (*s) *s++ = '\0';
    }
}

/* Fixed MPS: the fields in columns 2-3, 5-12, 15-22, 25-36, 40-47, 50-61
 * (the last one to the end of the line), blanks trimmed, copied into
 * r->fbuf; f[0..5] (empty strings for empty fields) */
static void split_fixed(qps_reader *r, const char **f)
{
    static const size_t from[6] = {1, 4, 14, 24, 39, 49}, to[6] = {3, 12, 22, 36, 47, (size_t)-1};
    const char *s = r->buf;
    size_t len = strlen(s), at = 0;
    for (int k = 0; k < 6; k++) {
        size_t a = from[k] < len ? from[k] : len, b = to[k] < len ? to[k] : len;
        while (a < b && is_blank(s[a])) a++;
        while (b > a && is_blank(s[b - 1])) b--;
        f[k] = r->fbuf + at;
        memcpy(r->fbuf + at, s + a, b - a);
        at += b - a;
        r->fbuf[at++] = '\0';
    }
}

/* A number field: finite, or (inf_ok) +-inf, with nothing after it */
static int parse_number(const char *s, int inf_ok, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s || *end || isnan(*v)) return 0;
    if (errno == ERANGE && fabs(*v) > 1) *v = *v > 0 ? INFINITY : -INFINITY;
    return inf_ok || isfinite(*v);
}

/* ---- sections ----------------------------------------------------------- */

/* OBJSENSE value: 1 on success */
static int set_sense(qps_reader *r, const char *s)
{
    if (!strcasecmp(s, "MAX") || !strcasecmp(s, "MAXIMIZE")) r->max = 1, r->max_line = r->line;
    else if (!strcasecmp(s, "MIN") || !strcasecmp(s, "MINIMIZE")) r->max = 0;
    else return 0;
    return 1;
}

/* Keep the OBJNAME */
static int set_objname(qps_reader *r, const char *s)
{
    size_t len = strlen(s) + 1;
    ad_free(r->objname);
    r->objname = ad_malloc(len, 1);
    if (!r->objname) return NOMEM();
    memcpy(r->objname, s, len);
    return ALTDIFF_OK;
}

/* End of ROWS: per-row arrays, the objective row */
static int end_rows(qps_reader *r)
{
    altdiff_int m = r->rows.count;
    r->rows_done = 1;
    r->rhs = ad_calloc((size_t)m, sizeof(double));
    r->range = ad_calloc((size_t)m, sizeof(double));
    r->rflag = ad_calloc((size_t)m, 1);
    if (!r->rhs || !r->range || !r->rflag) return NOMEM();
    r->obj = -1;
    if (r->objname) {
        r->obj = names_find(&r->rows, r->objname);
        if (r->obj < 0) return BAD("OBJNAME '%.*s' is not a row", QPS_TOK, r->objname);
        r->rtype[r->obj] = 'N';
    } else {
        for (altdiff_int i = 0; i < m && r->obj < 0; i++)
            if (r->rtype[i] == 'N') r->obj = i;
    }
    return ALTDIFF_OK;
}

/* End of COLUMNS: the default bounds 0 <= x < inf */
static int end_columns(qps_reader *r)
{
    altdiff_int n = r->cols.count;
    r->cols_done = 1;
    r->lo = ad_calloc((size_t)n, sizeof(double));
    r->hi = ad_malloc((size_t)n, sizeof(double));
    r->lo_set = ad_calloc((size_t)n, 1);
    if (!r->lo || !r->hi || !r->lo_set) return NOMEM();
    for (altdiff_int j = 0; j < n; j++) r->hi[j] = INFINITY;
    return ALTDIFF_OK;
}

/* Finish the section being left */
static int leave_section(qps_reader *r)
{
    if (r->sec == SEC_ROWS && !r->rows_done) return end_rows(r);
    if (r->sec == SEC_COLUMNS && !r->cols_done) return end_columns(r);
    return ALTDIFF_OK;
}

/* The section a keyword starts, or -1; *unsupported names what it is for */
static int section_of(const char *k, const char **unsupported)
{
    static const char *names[] = {"NAME", "OBJSENSE", "OBJNAME", "ROWS", "COLUMNS",
                                  "RHS", "RANGES", "BOUNDS", "QUADOBJ", "QSECTION", "QMATRIX"};
    static const int secs[] = {SEC_NAME, SEC_OBJSENSE, SEC_OBJNAME, SEC_ROWS,
                               SEC_COLUMNS, SEC_RHS, SEC_RANGES, SEC_BOUNDS, SEC_QUAD, SEC_QUAD,
                               SEC_QUAD};
    static const char *other[][2] = {{"QCMATRIX", "quadratic constraints"},
                                     {"CSECTION", "conic constraints"},
                                     {"SOS", "special ordered sets"},
                                     {"INDICATORS", "indicator constraints"},
                                     {"LAZYCONS", "lazy constraints"},
                                     {"USERCUTS", "user cuts"}};
    *unsupported = NULL;
    for (size_t c = 0; c < sizeof(names) / sizeof(names[0]); c++)
        if (!strcmp(k, names[c])) return secs[c];
    for (size_t c = 0; c < sizeof(other) / sizeof(other[0]); c++)
        if (!strcmp(k, other[c][0])) *unsupported = other[c][1];
    return -1;
}

/* Which sections must come before section sec; NULL if in order */
static const char *section_order(const qps_reader *r, int sec)
{
    if ((sec == SEC_ROWS || sec == SEC_OBJNAME) && r->rows_done) return "after ROWS";
    if (sec == SEC_COLUMNS && !r->rows_done) return "before ROWS";
    if (sec == SEC_COLUMNS && r->cols_done) return "twice";
    if (sec >= SEC_RHS && !r->cols_done) return "before COLUMNS";
    return NULL;
}

/* An indicator line (first character not blank): start a section */
static int section_line(qps_reader *r)
{
    const char *f[QPS_FIELDS], *why;
    int n = split_free(r->buf, f);
    if (n < 1) return BAD("bad section line");
    if (!strcmp(f[0], "ENDATA")) {
        r->ended = 1;
        return leave_section(r);
    }
    int sec = section_of(f[0], &why);
    if (sec < 0 && why) return BAD("section %s (%s) is not supported", f[0], why);
    if (sec < 0) return BAD("unknown section '%.*s'", QPS_TOK, f[0]);
    int st = leave_section(r);
    if (st != ALTDIFF_OK) return st;
    const char *order = section_order(r, sec);
    if (order) return BAD("section %s %s", f[0], order);
    if (sec == SEC_QUAD) {
        int kind = strcmp(f[0], "QMATRIX") ? 1 : 2;
        if (r->quad && r->quad != kind) return BAD("QMATRIX and QUADOBJ/QSECTION together");
        r->quad = kind;
    }
    r->sec = sec;
    if (sec == SEC_OBJSENSE && n >= 2) { /* free MPS: OBJSENSE MAX */
        if (!set_sense(r, f[1])) return BAD("OBJSENSE '%.*s' (MAX or MIN)", QPS_TOK, f[1]);
        r->sec = SEC_NONE;
    } else if (sec == SEC_OBJNAME && n >= 2) {
        r->sec = SEC_NONE;
        return set_objname(r, f[1]);
    }
    return ALTDIFF_OK;
}

/* ---- data lines --------------------------------------------------------- */

/* ROWS: type name */
static int rows_line(qps_reader *r, const char **f, int n)
{
    if (n != 2) return BAD("ROWS: expected 'type name', got %d fields", n);
    char t = (char)toupper((unsigned char)f[0][0]);
    if (f[0][1] || !strchr("NELG", t) || !t)
        return BAD("ROWS: unknown row type '%.*s' (N, E, L or G)", QPS_TOK, f[0]);
    if (!f[1][0]) return BAD("ROWS: empty row name");
    if (names_find(&r->rows, f[1]) >= 0) return BAD("duplicate row '%.*s'", QPS_TOK, f[1]);
    if (r->rows.count == r->rcap) {
        altdiff_int cap = r->rcap ? 2 * r->rcap : 256;
        char *t2 = ad_realloc(r->rtype, (size_t)cap, 1);
        if (!t2) return NOMEM();
        r->rtype = t2;
        r->rcap = cap;
    }
    altdiff_int i = names_add(&r->rows, f[1]);
    if (i < 0) return NOMEM();
    r->rtype[i] = t;
    return ALTDIFF_OK;
}

/* The row named s (error if unknown) */
static int find_row(qps_reader *r, const char *s, altdiff_int *i)
{
    *i = names_find(&r->rows, s);
    return *i < 0 ? BAD("unknown row '%.*s'", QPS_TOK, s) : ALTDIFF_OK;
}

/* The column named s (error if unknown) */
static int find_col(qps_reader *r, const char *s, altdiff_int *j)
{
    *j = names_find(&r->cols, s);
    return *j < 0 ? BAD("unknown column '%.*s'", QPS_TOK, s) : ALTDIFF_OK;
}

/* COLUMNS: name 'MARKER' 'INTORG'|'INTEND' */
static int marker_line(qps_reader *r, const char *what)
{
    if (!strcmp(what, "'INTORG'")) r->integer = 1;
    else if (!strcmp(what, "'INTEND'")) r->integer = 0;
    else return BAD("unknown MARKER '%.*s' ('INTORG' or 'INTEND')", QPS_TOK, what);
    if (r->integer)
        qps_warn(r, W_INTEGER, "integer variables are read as continuous (integrality ignored)");
    return ALTDIFF_OK;
}

/* COLUMNS: col row value [row value] */
static int columns_line(qps_reader *r, const char **f, int n)
{
    if (n == 3 && !strcmp(f[1], "'MARKER'")) return marker_line(r, f[2]);
    if (n != 3 && n != 5) return BAD("COLUMNS: expected 'column row value [row value]'");
    if (!f[0][0]) return BAD("COLUMNS: empty column name");
    altdiff_int j = names_find(&r->cols, f[0]);
    if (j < 0 && (j = names_add(&r->cols, f[0])) < 0) return NOMEM();
    for (int k = 1; k < n; k += 2) {
        altdiff_int i;
        double v;
        int st = find_row(r, f[k], &i);
        if (st != ALTDIFF_OK) return st;
        if (!parse_number(f[k + 1], 0, &v)) return BAD("bad value '%.*s'", QPS_TOK, f[k + 1]);
        if (r->rtype[i] == 'N' && i != r->obj) continue; /* a free row: dropped */
        if (trip_add(&r->a, i, j, v, r->line) != ALTDIFF_OK) return NOMEM();
    }
    return ALTDIFF_OK;
}

/* The set name of a line of RHS (k = 0), RANGES (1) or BOUNDS (2): 1 if
 * the line belongs to the first set (which it becomes if there is none yet),
 * 0 to skip it (warned), -1 out of memory */
static int in_first_set(qps_reader *r, int k, const char *name)
{
    static const char *sec[] = {"RHS", "RANGES", "BOUNDS"};
    if (!r->set[k]) {
        size_t len = strlen(name) + 1;
        r->set[k] = ad_malloc(len, 1);
        if (!r->set[k]) return -1;
        memcpy(r->set[k], name, len);
        return 1;
    }
    if (!strcmp(r->set[k], name)) return 1;
    qps_warn(r, W_RHS_SET + k, "several %s sets: using '%.*s', skipping '%.*s'", sec[k], QPS_TOK,
             r->set[k], QPS_TOK, name);
    return 0;
}

/* One (row, value) of RHS or RANGES */
static int rhs_entry(qps_reader *r, int ranges, const char *row, const char *val)
{
    altdiff_int i;
    double v;
    int st = find_row(r, row, &i);
    if (st != ALTDIFF_OK) return st;
    if (!parse_number(val, 1, &v)) return BAD("bad value '%.*s'", QPS_TOK, val);
    unsigned char bit = ranges ? 2 : 1;
    if (r->rflag[i] & bit)
        return BAD("row '%.*s' given twice in %s", QPS_TOK, row, ranges ? "RANGES" : "RHS");
    r->rflag[i] |= bit;
    if (r->rtype[i] == 'N') {
        if (ranges) qps_warn(r, W_RANGE_N, "RANGES on the free row '%.*s' ignored", QPS_TOK, row);
        else if (i == r->obj) r->rhs_obj = v; /* -c0, see the top of the file */
        return ALTDIFF_OK;
    }
    if (ranges) r->range[i] = v;
    else r->rhs[i] = v;
    return ALTDIFF_OK;
}

/* RHS or RANGES: set row value [row value] (set may be empty) */
static int rhs_line(qps_reader *r, int ranges, const char **f, int n)
{
    if (n != 3 && n != 5)
        return BAD("%s: expected '[set] row value [row value]'", ranges ? "RANGES" : "RHS");
    int in = in_first_set(r, ranges, f[0]);
    if (in < 0) return NOMEM();
    for (int k = 1; in && k < n; k += 2) {
        int st = rhs_entry(r, ranges, f[k], f[k + 1]);
        if (st != ALTDIFF_OK) return st;
    }
    return ALTDIFF_OK;
}

/* A bound value: +-inf beyond QPS_INF */
static double bound_value(double v) { return v >= QPS_INF ? INFINITY : v <= -QPS_INF ? -INFINITY : v; }

/* Apply bound type t with value v to column j */
static int apply_bound(qps_reader *r, const char *t, altdiff_int j, double v)
{
    v = bound_value(v);
    if (!strcmp(t, "UP") || !strcmp(t, "UI")) {
        r->hi[j] = v;
        if (v < 0 && !r->lo_set[j] && r->lo[j] == 0) {
            r->lo[j] = -INFINITY; /* the classical MPS rule */
            qps_warn(r, W_NEG_UP, "negative upper bound with the default lower bound 0: "
                     "the lower bound becomes -inf");
        }
    } else if (!strcmp(t, "LO") || !strcmp(t, "LI")) {
        r->lo[j] = v;
        r->lo_set[j] = 1;
    } else if (!strcmp(t, "FX")) {
        r->lo[j] = r->hi[j] = v;
        r->lo_set[j] = 1;
    } else if (!strcmp(t, "FR")) {
        r->lo[j] = -INFINITY;
        r->hi[j] = INFINITY;
        r->lo_set[j] = 1;
    } else if (!strcmp(t, "MI")) {
        r->lo[j] = -INFINITY;
        r->lo_set[j] = 1;
    } else if (!strcmp(t, "PL")) {
        r->hi[j] = INFINITY;
    } else { /* BV */
        r->lo[j] = 0;
        r->hi[j] = 1;
        r->lo_set[j] = 1;
    }
    if (!strcmp(t, "LI") || !strcmp(t, "UI") || !strcmp(t, "BV"))
        qps_warn(r, W_INTEGER, "integer variables are read as continuous (integrality ignored)");
    return ALTDIFF_OK;
}

/* 1 if bound type t takes a value: 1 required, 2 optional (BV), 0 none */
static int bound_takes_value(const char *t)
{
    if (!strcmp(t, "UP") || !strcmp(t, "LO") || !strcmp(t, "FX") || !strcmp(t, "LI") ||
        !strcmp(t, "UI"))
        return 1;
    if (!strcmp(t, "BV")) return 2;
    if (!strcmp(t, "FR") || !strcmp(t, "MI") || !strcmp(t, "PL")) return 0;
    return -1;
}

/* BOUNDS: type set col [value] (set may be empty) */
static int bounds_line(qps_reader *r, const char **f, int n)
{
    if (!strcmp(f[0], "SC"))
        return BAD("semi-continuous bound (SC) is not supported (it is not convex)");
    int takes = bound_takes_value(f[0]);
    if (takes < 0) return BAD("unknown bound type '%.*s'", QPS_TOK, f[0]);
    if (n < 3 || n > 4 || (takes == 1 && n != 4) || (takes == 0 && n != 3))
        return BAD("BOUNDS: expected '%s [set] column%s'", f[0], takes ? " value" : "");
    int in = in_first_set(r, 2, f[1]);
    if (in <= 0) return in < 0 ? NOMEM() : ALTDIFF_OK;
    altdiff_int j;
    double v = 0;
    int st = find_col(r, f[2], &j);
    if (st != ALTDIFF_OK) return st;
    if (n == 4 && !parse_number(f[3], 1, &v)) return BAD("bad value '%.*s'", QPS_TOK, f[3]);
    return apply_bound(r, f[0], j, v);
}

/* QUADOBJ, QSECTION, QMATRIX: col1 col2 value */
static int quad_line(qps_reader *r, const char **f, int n)
{
    altdiff_int i, j;
    double v;
    if (n != 3) return BAD("expected 'column column value'");
    int st = find_col(r, f[0], &i);
    if (st == ALTDIFF_OK) st = find_col(r, f[1], &j);
    if (st != ALTDIFF_OK) return st;
    if (!parse_number(f[2], 0, &v)) return BAD("bad value '%.*s'", QPS_TOK, f[2]);
    return trip_add(&r->q, i, j, v, r->line) == ALTDIFF_OK ? ALTDIFF_OK : NOMEM();
}

/* Free MPS fields of a line of section sec in the layout of fixed MPS:
 * RHS/RANGES get an empty set name when theirs is left out (an even number
 * of fields), BOUNDS likewise ("type col [value]"). g receives at most
 * QPS_FIELDS + 1 fields; returns their number */
static int free_layout(qps_reader *r, int sec, const char **f, int n, const char **g)
{
    int shift = 0;
    if ((sec == SEC_RHS || sec == SEC_RANGES) && n % 2 == 0) shift = 1;
    if (sec == SEC_BOUNDS && n >= 2) {
        int takes = bound_takes_value(f[0]);
        shift = (takes == 1 && n == 3) || (takes == 0 && n == 2) ||
                (takes == 2 && (n == 2 || (n == 3 && names_find(&r->cols, f[2]) < 0)));
    }
    if (!shift) {
        memcpy(g, f, sizeof(*f) * (size_t)n);
        return n;
    }
    int at = sec == SEC_BOUNDS ? 1 : 0; /* where the set name goes */
    for (int k = 0, o = 0; k < n; k++) {
        if (o == at) g[o++] = "";
        g[o++] = f[k];
    }
    return n + 1;
}

/* Fixed MPS fields f[0..5] of a line of section sec, in the layout above */
static int fixed_layout(int sec, const char **f, const char **g)
{
    int n = 0;
    if (sec == SEC_ROWS || sec == SEC_BOUNDS) g[n++] = f[0];
    if (sec == SEC_COLUMNS && !strcmp(f[2], "'MARKER'")) {
        g[0] = f[1];
        g[1] = f[2];
        g[2] = f[4];
        return 3;
    }
    int last = sec == SEC_ROWS ? 1 : sec == SEC_BOUNDS ? 3 : sec == SEC_QUAD ? 3 : 5;
    while (last > 1 && !f[last][0]) last--; /* trailing empty fields */
    for (int k = 1; k <= last; k++) g[n++] = f[k];
    return n;
}

/* One data line (first character blank) */
static int data_line(qps_reader *r)
{
    const char *f[QPS_FIELDS], *g[QPS_FIELDS + 1];
    int n, sec = r->sec;
    if (sec == SEC_NONE || sec == SEC_NAME) return BAD("data line outside a section");
    if (r->fixed && sec != SEC_OBJSENSE && sec != SEC_OBJNAME) {
        split_fixed(r, f);
        n = fixed_layout(sec, f, g);
    } else {
        n = split_free(r->buf, f);
        if (n < 0) return BAD("more than %d fields", QPS_FIELDS);
        n = free_layout(r, sec, f, n, g);
    }
    switch (sec) {
    case SEC_OBJSENSE:
        if (n != 1 || !set_sense(r, g[0])) return BAD("OBJSENSE: expected MAX or MIN");
        return ALTDIFF_OK;
    case SEC_OBJNAME:
        if (n != 1) return BAD("OBJNAME: expected a row name");
        return set_objname(r, g[0]);
    case SEC_ROWS: return rows_line(r, g, n);
    case SEC_COLUMNS: return columns_line(r, g, n);
    case SEC_RHS: return rhs_line(r, 0, g, n);
    case SEC_RANGES: return rhs_line(r, 1, g, n);
    case SEC_BOUNDS: return bounds_line(r, g, n);
    default: return quad_line(r, g, n);
    }
}

/* Read every line up to ENDATA */
static int qps_parse(qps_reader *r)
{
    for (;;) {
        int got = qps_getline(r), st;
        if (got < 0) return got;
        if (got == 0) break;
        const char *s = r->buf;
        while (is_blank(*s)) s++;
        if (r->buf[0] == '*' || !*s) continue; /* comment, blank line */
        st = is_blank(r->buf[0]) ? data_line(r) : section_line(r);
        if (st != ALTDIFF_OK) return st;
        if (r->ended) break;
    }
    if (!r->ended) return qps_fail(r, ALTDIFF_ERR_INVALID, r->line, "no ENDATA: file truncated?");
    if (!r->rows_done) return qps_fail(r, ALTDIFF_ERR_INVALID, 0, "no ROWS section");
    if (!r->cols_done || r->cols.count == 0)
        return qps_fail(r, ALTDIFF_ERR_INVALID, 0, "no COLUMNS section (no variables)");
    return ALTDIFF_OK;
}

/* ======================================================================== */
/* === conversion ========================================================= */
/* ======================================================================== */

/* Where constraint row i goes: A row aix[i], G rows gup[i] (a'x <= hi) and
 * glo[i] (-a'x <= -lo), -1 for none; bval, hval the right-hand sides of
 * those rows of A and G */
typedef struct {
    altdiff_int *aix, *gup, *glo;
    double *bval, *hval;
    altdiff_int m, p; /* rows of A and G from the constraint rows */
} qps_rowmap;

/* The interval [lo, hi] of constraint row i (MPS rules, see the top) */
static void row_interval(const qps_reader *r, altdiff_int i, double *lo, double *hi)
{
    double b = bound_value(r->rhs[i]), R = fabs(r->range[i]);
    int has_range = (r->rflag[i] & 2) != 0;
    char t = r->rtype[i];
    *lo = t == 'L' ? -INFINITY : b;
    *hi = t == 'G' ? INFINITY : b;
    if (!has_range) return;
    if (t == 'L') *lo = b - R;
    else if (t == 'G') *hi = b + R;
    else if (r->range[i] > 0) *hi = b + R; /* E, R > 0: [b, b + |R|] */
    else *lo = b - R;                      /* E, R < 0: [b - |R|, b] */
    *lo = bound_value(*lo);
    *hi = bound_value(*hi);
}

/* Assign the rows of A and G to the constraint rows */
static int map_rows(const qps_reader *r, qps_rowmap *map)
{
    altdiff_int nr = r->rows.count;
    map->aix = ad_malloc((size_t)nr, sizeof(altdiff_int));
    map->gup = ad_malloc((size_t)nr, sizeof(altdiff_int));
    map->glo = ad_malloc((size_t)nr, sizeof(altdiff_int));
    map->bval = ad_malloc((size_t)nr, sizeof(double));
    map->hval = ad_malloc(2 * (size_t)nr, sizeof(double));
    if (!map->aix || !map->gup || !map->glo || !map->bval || !map->hval)
        return ALTDIFF_ERR_NOMEM;
    map->m = map->p = 0;
    for (altdiff_int i = 0; i < nr; i++) {
        double lo, hi;
        map->aix[i] = map->gup[i] = map->glo[i] = -1;
        if (r->rtype[i] == 'N') continue;
        row_interval(r, i, &lo, &hi);
        if (lo == hi) { /* a'x = b */
            map->bval[map->m] = lo;
            map->aix[i] = map->m++;
            continue;
        }
        if (hi < INFINITY) { /* a'x <= hi */
            map->hval[map->p] = hi;
            map->gup[i] = map->p++;
        }
        if (lo > -INFINITY) { /* -a'x <= -lo */
            map->hval[map->p] = 0.0 - lo;
            map->glo[i] = map->p++;
        }
    }
    return ALTDIFF_OK;
}

static void free_rowmap(qps_rowmap *map)
{
    ad_free(map->aix);
    ad_free(map->gup);
    ad_free(map->glo);
    ad_free(map->bval);
    ad_free(map->hval);
}

/* Rows of column j's bounds: 1 equality row, or lower and upper rows */
static int bound_fixed(const qps_reader *r, altdiff_int j)
{
    return r->lo[j] == r->hi[j] && isfinite(r->lo[j]);
}

/* Check that the entries perm[a..b) of t (one column, rows sorted) hold no
 * row twice; what names the section for the message */
static int check_dups(qps_reader *r, const qps_trip *t, const altdiff_int *perm, altdiff_int a,
                      altdiff_int b, const qps_names *rn, const char *what)
{
    for (altdiff_int k = a + 1; k < b; k++) {
        altdiff_int e = perm[k], d = perm[k - 1];
        if (t->i[e] != t->i[d]) continue;
        return qps_fail(r, ALTDIFF_ERR_INVALID, t->line[e], "%s: entry (%.*s, %.*s) given "
                        "twice (first at line %lld)", what, QPS_TOK, names_get(rn, t->i[e]),
                        QPS_TOK, names_get(&r->cols, t->j[e]), t->line[d]);
    }
    return ALTDIFF_OK;
}

/* Column pointers Ap, Ag (n + 1, zeroed) of A and G: counts of the matrix
 * entries and bound rows of each column, summed */
static void count_columns(const qps_reader *r, const qps_rowmap *map, altdiff_int *Ap,
                          altdiff_int *Gp)
{
    const qps_trip *t = &r->a;
    altdiff_int n = r->cols.count;
    for (altdiff_int k = 0; k < t->nz; k++) {
        altdiff_int i = t->i[k], j = t->j[k];
        Ap[j + 1] += map->aix[i] >= 0;
        Gp[j + 1] += (map->gup[i] >= 0) + (map->glo[i] >= 0);
    }
    for (altdiff_int j = 0; j < n; j++) {
        if (bound_fixed(r, j)) Ap[j + 1]++;
        else Gp[j + 1] += (r->lo[j] > -INFINITY) + (r->hi[j] < INFINITY);
    }
    for (altdiff_int j = 0; j < n; j++) {
        Ap[j + 1] += Ap[j];
        Gp[j + 1] += Gp[j];
    }
}

typedef struct {
    altdiff_int n, m, p;
    cs_dl *P, *A, *G;
    double *q, *b, *h;
} qps_out;

/* Fill column j of A and G and q_j: the column's entries perm[a..b) in row
 * order, then its bound rows (numbered from *ma, *pa on) */
static void fill_column(const qps_reader *r, const qps_rowmap *map, const altdiff_int *perm,
                        altdiff_int a, altdiff_int b, altdiff_int j, qps_out *o, altdiff_int *ma,
                        altdiff_int *pa)
{
    const qps_trip *t = &r->a;
    cs_dl *A = o->A, *G = o->G;
    altdiff_int ta = A->p[j], tg = G->p[j];
    for (altdiff_int k = a; k < b; k++) {
        altdiff_int e = perm[k], i = t->i[e];
        double v = t->x[e];
        if (i == r->obj) o->q[j] = v;
        if (map->aix[i] >= 0) { /* a'x = b */
            A->i[ta] = map->aix[i];
            A->x[ta++] = v;
        }
        if (map->gup[i] >= 0) { /* a'x <= hi */
            G->i[tg] = map->gup[i];
            G->x[tg++] = v;
        }
        if (map->glo[i] >= 0) { /* -a'x <= -lo */
            G->i[tg] = map->glo[i];
            G->x[tg++] = -v;
        }
    }
    if (bound_fixed(r, j)) { /* x_j = l */
        o->b[*ma] = r->lo[j];
        A->i[ta] = (*ma)++;
        A->x[ta] = 1;
        return;
    }
    if (r->lo[j] > -INFINITY) { /* -x_j <= -l */
        o->h[*pa] = 0.0 - r->lo[j]; /* +0, not -0, for l = 0 */
        G->i[tg] = (*pa)++;
        G->x[tg++] = -1;
    }
    if (r->hi[j] < INFINITY) { /* x_j <= u */
        o->h[*pa] = r->hi[j];
        G->i[tg] = (*pa)++;
        G->x[tg] = 1;
    }
}

/* The sizes: m = equality rows + fixed columns, p = G rows + bound rows */
static void count_rows(const qps_reader *r, const qps_rowmap *map, altdiff_int *m, altdiff_int *p)
{
    *m = map->m;
    *p = map->p;
    for (altdiff_int j = 0; j < r->cols.count; j++) {
        if (bound_fixed(r, j)) (*m)++;
        else *p += (r->lo[j] > -INFINITY) + (r->hi[j] < INFINITY);
    }
}

/* A and G with the column pointers Ap, Gp (moved into them) */
static int alloc_constraints(qps_out *o, altdiff_int *Ap, altdiff_int *Gp)
{
    altdiff_int n = o->n;
    o->A = ad_spalloc(o->m, n, Ap[n]);
    o->G = ad_spalloc(o->p, n, Gp[n]);
    o->q = ad_calloc((size_t)n, sizeof(double));
    o->b = ad_malloc((size_t)o->m, sizeof(double));
    o->h = ad_malloc((size_t)o->p, sizeof(double));
    if (!o->A || !o->G || !o->q || !o->b || !o->h) return ALTDIFF_ERR_NOMEM;
    memcpy(o->A->p, Ap, sizeof(altdiff_int) * ((size_t)n + 1));
    memcpy(o->G->p, Gp, sizeof(altdiff_int) * ((size_t)n + 1));
    return ALTDIFF_OK;
}

/* b and h of the constraint rows (those of the bounds follow) */
static void constraint_rhs(const qps_rowmap *map, qps_out *o)
{
    memcpy(o->b, map->bval, sizeof(double) * (size_t)map->m);
    memcpy(o->h, map->hval, sizeof(double) * (size_t)map->p);
}

/* q, A, b, G, h from the matrix entries, rows and bounds */
static int build_constraints(qps_reader *r, qps_out *o)
{
    qps_rowmap map = {0};
    altdiff_int n = r->cols.count, *perm = NULL;
    altdiff_int *Ap = ad_calloc((size_t)n + 1, sizeof(altdiff_int));
    altdiff_int *Gp = ad_calloc((size_t)n + 1, sizeof(altdiff_int));
    int st = (Ap && Gp) ? map_rows(r, &map) : ALTDIFF_ERR_NOMEM;
    if (st == ALTDIFF_OK) {
        count_rows(r, &map, &o->m, &o->p);
        count_columns(r, &map, Ap, Gp);
        perm = trip_order(&r->a, r->rows.count, n);
        st = perm ? alloc_constraints(o, Ap, Gp) : ALTDIFF_ERR_NOMEM;
    }
    if (st == ALTDIFF_OK) constraint_rhs(&map, o);
    for (altdiff_int j = 0, a = 0, ma = map.m, pa = map.p; st == ALTDIFF_OK && j < n; j++) {
        altdiff_int b = a;
        while (b < r->a.nz && r->a.j[perm[b]] == j) b++; /* column j: perm[a..b) */
        st = check_dups(r, &r->a, perm, a, b, &r->rows, "COLUMNS");
        if (st == ALTDIFF_OK) fill_column(r, &map, perm, a, b, j, o, &ma, &pa);
        a = b;
    }
    free_rowmap(&map);
    ad_free(perm);
    ad_free(Ap);
    ad_free(Gp);
    return st == ALTDIFF_ERR_NOMEM ? NOMEM() : st;
}

/* 1 if entry a of t comes before entry b of u in column-major order */
static int before(const qps_trip *t, altdiff_int a, const qps_trip *u, altdiff_int b)
{
    return t->j[a] < u->j[b] || (t->j[a] == u->j[b] && t->i[a] < u->i[b]);
}

/* QMATRIX: the entries below the diagonal (lo, transposed) must mirror
 * those above it (up); pu, pl are their column-major orders */
static int check_mirror(qps_reader *r, const qps_trip *up, const altdiff_int *pu,
                        const qps_trip *lo, const altdiff_int *pl)
{
    altdiff_int a = 0, b = 0;
    while (a < up->nz || b < lo->nz) {
        altdiff_int e = a < up->nz ? pu[a] : -1, f = b < lo->nz ? pl[b] : -1;
        if (e >= 0 && up->i[e] == up->j[e]) { /* the diagonal has no mirror */
            a++;
            continue;
        }
        int same = e >= 0 && f >= 0 && up->i[e] == lo->i[f] && up->j[e] == lo->j[f];
        if (same && up->x[e] == lo->x[f]) {
            a++;
            b++;
            continue;
        }
        int blame_up = !same && (f < 0 || (e >= 0 && before(up, e, lo, f)));
        const qps_trip *t = blame_up ? up : lo;
        altdiff_int k = blame_up ? e : f, i = blame_up ? t->i[k] : t->j[k];
        altdiff_int j = blame_up ? t->j[k] : t->i[k]; /* as given in the file */
        return qps_fail(r, ALTDIFF_ERR_INVALID, t->line[k], "QMATRIX is not symmetric: "
                        "(%.*s, %.*s) %s", QPS_TOK, names_get(&r->cols, i), QPS_TOK,
                        names_get(&r->cols, j),
                        same ? "differs from its mirror entry" : "has no mirror entry");
    }
    return ALTDIFF_OK;
}

/* Split the Q entries into the upper triangle (i <= j) and, for QMATRIX,
 * the lower one transposed; QUADOBJ entries all go to the upper one */
static int split_quad(qps_reader *r, qps_trip *up, qps_trip *lo)
{
    const qps_trip *t = &r->q;
    for (altdiff_int k = 0; k < t->nz; k++) {
        altdiff_int i = t->i[k], j = t->j[k];
        int lower = i > j;
        qps_trip *d = (lower && r->quad == 2) ? lo : up;
        if (trip_add(d, lower ? j : i, lower ? i : j, t->x[k], t->line[k]) != ALTDIFF_OK)
            return ALTDIFF_ERR_NOMEM;
    }
    return ALTDIFF_OK;
}

/* P (upper triangle, sorted columns) from the Q entries */
static int build_P(qps_reader *r, qps_out *o)
{
    qps_trip up = {0}, lo = {0};
    altdiff_int n = r->cols.count, *pu = NULL, *pl = NULL;
    int st = split_quad(r, &up, &lo);
    if (st == ALTDIFF_OK) {
        pu = trip_order(&up, n, n);
        pl = trip_order(&lo, n, n);
        o->P = ad_spalloc(n, n, up.nz);
        if (!pu || !pl || !o->P) st = ALTDIFF_ERR_NOMEM;
    }
    const char *what = r->quad == 2 ? "QMATRIX" : "QUADOBJ (one triangle)";
    for (altdiff_int j = 0, a = 0; st == ALTDIFF_OK && j < n; j++) {
        altdiff_int b = a, c = 0;
        while (b < up.nz && up.j[pu[b]] == j) b++;
        st = check_dups(r, &up, pu, a, b, &r->cols, what);
        for (altdiff_int k = a; st == ALTDIFF_OK && k < b; k++, c++) {
            o->P->i[a + c] = up.i[pu[k]];
            o->P->x[a + c] = up.x[pu[k]];
        }
        o->P->p[j + 1] = b;
        a = b;
    }
    for (altdiff_int j = 0, a = 0; st == ALTDIFF_OK && j < n; j++) { /* QMATRIX's lower part */
        altdiff_int b = a;
        while (b < lo.nz && lo.j[pl[b]] == j) b++;
        st = check_dups(r, &lo, pl, a, b, &r->cols, what);
        a = b;
    }
    if (st == ALTDIFF_OK && r->quad == 2) st = check_mirror(r, &up, pu, &lo, pl);
    trip_free(&up);
    trip_free(&lo);
    ad_free(pu);
    ad_free(pl);
    return st == ALTDIFF_ERR_NOMEM ? NOMEM() : st;
}

/* OBJSENSE MAX: minimize -f */
static void negate_objective(qps_reader *r, qps_out *o)
{
    altdiff_int n = o->n;
    for (altdiff_int j = 0; j < n; j++) o->q[j] = -o->q[j];
    for (altdiff_int k = 0; k < o->P->p[n]; k++) o->P->x[k] = -o->P->x[k];
    r->line = r->max_line;
    qps_warn(r, W_MAX, "OBJSENSE MAX: returned as the minimization of -f (q, P and the "
             "constant negated; the objective reported is -f)");
}

/* ======================================================================== */
/* === the owned problem ================================================== */
/* ======================================================================== */

/* Move a CSC matrix into owned arrays (p, i, x) */
static void take(cs_dl *M, altdiff_int **p, altdiff_int **i, double **x)
{
    *p = M->p;
    *i = M->i;
    *x = M->x;
    M->p = NULL;
    M->i = NULL;
    M->x = NULL;
}

/* The owned problem from o (o's arrays move into it) */
static altdiff_owned_problem *owned_of(qps_out *o)
{
    altdiff_owned_problem *op = ad_calloc(1, sizeof(altdiff_owned_problem));
    if (!op) return NULL;
    take(o->P, &op->Pp, &op->Pi, &op->Px);
    take(o->A, &op->Ap, &op->Ai, &op->Ax);
    take(o->G, &op->Gp, &op->Gi, &op->Gx);
    op->q = o->q;
    op->b = o->m ? o->b : ad_free(o->b);
    op->h = o->p ? o->h : ad_free(o->h);
    o->q = o->b = o->h = NULL;
    altdiff_problem *pr = &op->prob;
    pr->n = o->n;
    pr->m = o->m;
    pr->p = o->p;
    pr->P = (altdiff_csc){o->n, o->n, op->Pp, op->Pi, op->Px};
    pr->A = (altdiff_csc){o->m, o->n, op->Ap, op->Ai, op->Ax};
    pr->G = (altdiff_csc){o->p, o->n, op->Gp, op->Gi, op->Gx};
    pr->q = op->q;
    pr->b = op->b;
    pr->h = op->h;
    return op;
}

static void free_out(qps_out *o)
{
    ad_spfree(o->P);
    ad_spfree(o->A);
    ad_spfree(o->G);
    ad_free(o->q);
    ad_free(o->b);
    ad_free(o->h);
}

static void free_reader(qps_reader *r)
{
    if (r->f) gzclose(r->f);
    ad_free(r->buf);
    ad_free(r->fbuf);
    names_free(&r->rows);
    names_free(&r->cols);
    ad_free(r->rtype);
    ad_free(r->rhs);
    ad_free(r->range);
    ad_free(r->rflag);
    ad_free(r->objname);
    trip_free(&r->a);
    trip_free(&r->q);
    ad_free(r->lo);
    ad_free(r->hi);
    ad_free(r->lo_set);
    for (int k = 0; k < 3; k++) ad_free(r->set[k]);
}

/* Open the file and the line buffers */
static int qps_open(qps_reader *r)
{
    r->cap = 4096;
    r->buf = ad_malloc(r->cap, 1);
    r->fbuf = ad_malloc(r->cap + 64, 1);
    if (!r->buf || !r->fbuf) return NOMEM();
    errno = 0;
    r->f = gzopen(r->path, "rb");
    if (!r->f)
        return qps_fail(r, ALTDIFF_ERR_IO, 0, "cannot open: %s",
                        errno ? strerror(errno) : "out of memory");
    gzbuffer(r->f, 1 << 17);
    return ALTDIFF_OK;
}

/* Read path as fixed (1) or free (0) MPS into *out and *c0 */
static int qps_read(const char *path, int fixed, altdiff_owned_problem **out, double *c0,
                    char *err, size_t errlen)
{
    qps_reader rd = {0}, *r = &rd;
    qps_out o = {0};
    r->path = path;
    r->fixed = fixed;
    r->err = err;
    r->errlen = errlen;
    int st = qps_open(r);
    if (st == ALTDIFF_OK) st = qps_parse(r);
    if (st == ALTDIFF_OK) {
        o.n = r->cols.count;
        st = build_constraints(r, &o);
    }
    if (st == ALTDIFF_OK) st = build_P(r, &o);
    if (st == ALTDIFF_OK) {
        *c0 = -r->rhs_obj; /* the objective row's RHS is -c0 */
        if (r->max) {
            negate_objective(r, &o);
            *c0 = -*c0;
        }
        *out = owned_of(&o);
        st = *out ? ALTDIFF_OK : NOMEM();
    }
    if (st == ALTDIFF_OK) qps_warnings(r);
    free_out(&o);
    free_reader(r);
    return st;
}

ALTDIFF_API int altdiff_read_qps(const char *path, altdiff_owned_problem **out,
                                 double *obj_constant, char *err, size_t errlen)
{
    double c0 = 0;
    if (err && errlen) err[0] = '\0';
    if (out) *out = NULL;
    if (obj_constant) *obj_constant = 0;
    if (!path || !out) {
        if (err && errlen) snprintf(err, errlen, "altdiff_read_qps: path or out is NULL");
        return ALTDIFF_ERR_INVALID;
    }
    int st = qps_read(path, 0, out, &c0, err, errlen);
    if (st == ALTDIFF_ERR_INVALID) { /* not free MPS: fixed MPS? */
        char msg[1024], why[1024];
        snprintf(why, sizeof(why), "%s", err && errlen ? err : "");
        int fixed = qps_read(path, 1, out, &c0, msg, sizeof(msg));
        if (fixed == ALTDIFF_OK && err && errlen) /* say why, with the free reading's error */
            snprintf(err, errlen, "%s: warning: read as fixed MPS (as free MPS: %s)%s%s", path,
                     why, msg[0] ? "\n" : "", msg);
        else if (fixed == ALTDIFF_ERR_NOMEM && err && errlen)
            snprintf(err, errlen, "%s", msg);
        if (fixed == ALTDIFF_OK || fixed == ALTDIFF_ERR_NOMEM) st = fixed;
    }
    if (st == ALTDIFF_OK && obj_constant) *obj_constant = c0;
    return st;
}
