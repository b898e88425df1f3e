/*
 * The sparse substrate of altdiff: allocation, CSC matrices (CXSparse cs_dl),
 * Matrix Market I/O and dense vector kernels. Nothing here knows about
 * optimization. All functions are internal (ad_ prefix, hidden symbols).
 */
#ifndef AD_SP_H
#define AD_SP_H

#include <stddef.h>
#include <stdint.h>

#include <cs.h>

#include "altdiff.h"

_Static_assert(sizeof(altdiff_int) == sizeof(SuiteSparse_long), "altdiff_int is SuiteSparse_long");

/* ---- allocation (alloc.c): every allocation of the library goes here ---- */
void *ad_malloc(size_t count, size_t size); /* NULL on overflow or failure */
void *ad_calloc(size_t count, size_t size);
void *ad_realloc(void *ptr, size_t count, size_t size); /* NULL on failure: ptr kept */
/* Ask for huge pages on the whole 2 MiB pages of a large block allocated
 * elsewhere (CHOLMOD's), before it is first written; ad_malloc does it
 * for its own large blocks */
void ad_hint_huge(void *ptr, size_t bytes);
void *ad_free(void *ptr); /* returns NULL; accepts NULL */
/* Map the whole pages of an allocation now, in one system call (Linux's
 * MADV_POPULATE_WRITE; elsewhere nothing): the first touches of memory that
 * stays in use (a batch's element states) then take no page faults one by
 * one, which cost 10 us each on some virtual machines. Contents unchanged. */
void ad_populate(void *ptr, size_t bytes);
/* ad_malloc, its pages mapped at once (ad_populate): memory that a caller
 * is about to touch whole */
void *ad_malloc_mapped(size_t count, size_t size);

#ifdef ALTDIFF_FAULT_INJECTION
/* Make the k-th allocation from now on (k = 0 is the next one) fail, once;
 * k < 0 disarms. Counts ad_malloc/ad_calloc and the ad_fault_* hooks that a
 * test installs as SuiteSparse_config.malloc_func etc. */
void ad_fault_arm(long k);
int ad_fault_fired(void);  /* 1 if the armed failure happened */
void *ad_fault_malloc(size_t size);
void *ad_fault_calloc(size_t count, size_t size);
void *ad_fault_realloc(void *ptr, size_t size);
void ad_fault_free(void *ptr);
#endif

/* ---- CSC matrices (csc.c) ---------------------------------------------- */
/* A CSC matrix is a cs_dl with nz = -1, allocated by ad_spalloc (never by
 * cs_dl_spalloc, which bypasses ad_malloc). */
cs_dl *ad_spalloc(altdiff_int m, altdiff_int n, altdiff_int nzmax); /* p zeroed */
cs_dl *ad_spfree(cs_dl *A);                                         /* returns NULL */
cs_dl *ad_transpose(const cs_dl *A); /* A', columns sorted */
/* 1 if the canonical S (m x n) holds every entry, or with upper every entry
 * of its upper triangle: its values are then column-major (upper: packed,
 * column j holding rows 0..j from j (j + 1) / 2) */
int ad_full(const cs_dl *S, int upper);

/* Import a borrowed CSC matrix as an owned one with sorted columns, dropping
 * rows with rowmap[i] < 0 (rowmap may be NULL) and, with upper = 1, folding a
 * symmetric matrix into its upper triangle. map (nnz of M) receives each
 * given entry's position in C, -1 if dropped. See csc.c for the checks.
 * When M is canonical (ad_csc_canonical) it is copied as is and its map is
 * the identity: map may then be NULL (not written). */
int ad_csc_import(const altdiff_csc *M, altdiff_int nrow, altdiff_int ncol,
                  const altdiff_int *rowmap, altdiff_int nrow_out, int upper, cs_dl **C,
                  altdiff_int *map);

/* 1 if M (valid) is already what ad_csc_import makes of it: rowmap NULL or
 * the identity, columns strictly increasing, upper: only i <= j */
int ad_csc_canonical(const altdiff_csc *M, const altdiff_int *rowmap, altdiff_int nrow_out,
                     int upper);

/* y += A x  (x: A->n, y: A->m) */
void ad_gaxpy(const cs_dl *A, const double *x, double *y);
/* y += A' x (x: A->m, y: A->n) */
void ad_gatxpy(const cs_dl *A, const double *x, double *y);
/* y += P x for symmetric P of which only the upper triangle is stored */
void ad_symv_upper(const cs_dl *P, const double *x, double *y);

/* ---- Matrix Market (mm.c) ---------------------------------------------- */
/* Errors return ALTDIFF_ERR_IO (cannot open/read/write) or ALTDIFF_ERR_INVALID
 * (malformed) and write one line "PATH:LINE: what is wrong" (or "PATH: ...")
 * into err (errlen bytes, always NUL terminated). Outputs are NULL then. */

/* Read a real or integer matrix, coordinate or array format. symmetric is set
 * to 1 for a "symmetric" file (then A holds exactly the stored entries, as in
 * the file, from either triangle; an entry given as both (i,j) and (j,i) is a
 * duplicate), 0 for "general". Columns
 * of A are sorted; duplicate entries, out-of-range indices, NaN/Inf, count
 * mismatches, pattern/complex/hermitian/skew files are rejected. Array files
 * give all entries (zeros included) for general. */
int ad_mm_read_sparse(const char *path, cs_dl **A, int *symmetric, char *err, size_t errlen);

/* Read a dense real/integer matrix (array format, or coordinate with absent
 * entries = 0) into a column-major array of nrow * ncol doubles. */
int ad_mm_read_dense(const char *path, double **x, altdiff_int *nrow, altdiff_int *ncol,
                     char *err, size_t errlen);

/* What the banner and size line of a file announce. nnz: entries stored
 * (array: values, n(n+1)/2 for symmetric); bytes: the file's size. */
typedef struct {
    int array, integer, symmetric;
    altdiff_int nrow, ncol, nnz;
    long long bytes;
} ad_mm_header;

/* Read only the banner and the size line, with every check the readers make
 * on them: dimensions at most 2^40, and the entries announced must fit in
 * the bytes after the size line (an array value takes at least 2 bytes,
 * "v\n", a coordinate entry 6, "i j v\n"; the last newline may be missing).
 * Work and memory: O(bytes up to the size line). */
int ad_mm_read_header(const char *path, ad_mm_header *h, char *err, size_t errlen);

/* The readers with the shape the caller expects (nrow, ncol; -1 = any),
 * checked on the size line before anything is allocated for the entries.
 * Every reader opens only regular files (O_NONBLOCK + fstat: FIFOs, devices
 * and directories are refused without blocking), refuses lines longer than
 * 1 MiB and CR-only line endings, and keeps work and memory of a rejected
 * file proportional to the bytes read from it: a huge announced dimension
 * costs nothing until an accepted file's output is built (CSC: ncol + 1
 * column pointers; dense: nrow * ncol values; bound them with the shape). */
int ad_mm_read_sparse_shape(const char *path, altdiff_int nrow, altdiff_int ncol, cs_dl **A,
                            int *symmetric, char *err, size_t errlen);
int ad_mm_read_dense_shape(const char *path, altdiff_int want_nrow, altdiff_int want_ncol,
                           double **x, altdiff_int *nrow, altdiff_int *ncol, char *err,
                           size_t errlen);

/* Write "array real general" (column-major x) / "coordinate real general|
 * symmetric" (A checked by ad_mm_check_csc; symmetric: one triangle) with
 * full round-trip precision. The file appears complete or
 * not at all (written to PATH.tmp, then renamed). */
int ad_mm_write_dense(const char *path, const double *x, altdiff_int nrow, altdiff_int ncol,
                      char *err, size_t errlen);
int ad_mm_write_sparse(const char *path, const cs_dl *A, int symmetric, char *err,
                       size_t errlen);

/* Validate A before anything reads its entries: p from 0 and nondecreasing,
 * i and x non-NULL when there are entries, row indices in 0..m-1 and not
 * repeated within a column, finite values; tri 1 (upper: i <= j), -1 (lower)
 * or 2 (one triangle, either) also demands a square matrix. ALTDIFF_OK or
 * ALTDIFF_ERR_INVALID ("PATH: what, where" in err), ALTDIFF_ERR_NOMEM. */
int ad_mm_check_csc(const char *path, const cs_dl *A, int tri, char *err, size_t errlen);

/* ---- dense vector kernels (vec.c) -------------------------------------- */
/* max(a, b) that propagates NaN (fmax drops it) and inlines (fmax is a
 * library call without -ffinite-math-only) */
static inline double ad_max(double a, double b) { return (a > b || a != a) ? a : b; }

double ad_nrm_inf(const double *x, altdiff_int n);
/* max_i |x_i * d_i| */
double ad_nrm_inf_scaled(const double *x, const double *d, altdiff_int n);
double ad_dot(const double *x, const double *y, altdiff_int n);
void ad_copy(double *y, const double *x, altdiff_int n);
void ad_fill(double *y, double a, altdiff_int n);
void ad_axpy(double *y, double a, const double *x, altdiff_int n); /* y += a x */
int ad_all_finite(const double *x, altdiff_int n);

double ad_time(void); /* seconds, monotonic (vec.c) */
/* msg (len) = printf-formatted text; nothing when msg is NULL or len is 0 (vec.c) */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void ad_msg(char *msg, size_t len, const char *fmt, ...);

/* dense.c: small dense Cholesky (column-major, k x k, leading dimension k) */
int ad_dense_chol(const double *M, altdiff_int ldm, altdiff_int k, double reg, double *L);
void ad_dense_chol_solve(const double *L, altdiff_int k, double *z);

#endif /* AD_SP_H */
