/* csc.c: CSC matrices on CXSparse's cs_dl, allocated through ad_malloc */
#include <math.h>
#include <string.h>

#include "sp.h"

cs_dl *ad_spalloc(altdiff_int m, altdiff_int n, altdiff_int nzmax)
{
    cs_dl *A = ad_calloc(1, sizeof(cs_dl));
    if (!A) return NULL;
    A->m = m;
    A->n = n;
    A->nzmax = nzmax;
    A->nz = -1; /* compressed column */
    A->p = ad_calloc((size_t)n + 1, sizeof(altdiff_int));
    A->i = ad_malloc((size_t)nzmax, sizeof(altdiff_int));
    A->x = ad_malloc((size_t)nzmax, sizeof(double));
    return (A->p && A->i && A->x) ? A : ad_spfree(A);
}

cs_dl *ad_spfree(cs_dl *A)
{
    if (!A) return NULL;
    ad_free(A->p);
    ad_free(A->i);
    ad_free(A->x);
    return ad_free(A);
}

/* C = A' (a counting sort by row, so the columns of C are sorted) */
int ad_full(const cs_dl *S, int upper)
{
    double m = (double)S->m, n = (double)S->n;
    return (double)S->p[S->n] == (upper ? n * (n + 1) / 2 : m * n);
}

cs_dl *ad_transpose(const cs_dl *A)
{
    altdiff_int m = A->m, n = A->n, *Ap = A->p, *Ai = A->i;
    double *Ax = A->x;
    cs_dl *C = ad_spalloc(n, m, Ap[n]);
    altdiff_int *w = ad_calloc((size_t)m + 1, sizeof(altdiff_int));
    if (!C || !w) {
        ad_free(w);
        return ad_spfree(C);
    }
    for (altdiff_int t = 0; t < Ap[n]; t++) w[Ai[t]]++; /* row counts      */
    altdiff_int sum = 0;
    for (altdiff_int i = 0; i < m; i++) { /* w = cumulative row counts */
        C->p[i] = sum;
        sum += w[i];
        w[i] = C->p[i];
    }
    C->p[m] = sum;
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = Ap[j]; t < Ap[j + 1]; t++) {
            altdiff_int q = w[Ai[t]]++;
            C->i[q] = j;     /* C(j,i) = A(i,j) */
            C->x[q] = Ax[t];
        }
    ad_free(w);
    return C;
}

/* y += A x */
void ad_gaxpy(const cs_dl *A, const double *x, double *y)
{
    altdiff_int n = A->n, *Ap = A->p, *Ai = A->i;
    double *Ax = A->x;
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = Ap[j]; t < Ap[j + 1]; t++) y[Ai[t]] += Ax[t] * x[j];
}

/* y += A' x */
void ad_gatxpy(const cs_dl *A, const double *x, double *y)
{
    altdiff_int n = A->n, *Ap = A->p, *Ai = A->i;
    double *Ax = A->x;
    for (altdiff_int j = 0; j < n; j++) {
        double yj = 0;
        for (altdiff_int t = Ap[j]; t < Ap[j + 1]; t++) yj += Ax[t] * x[Ai[t]];
        y[j] += yj;
    }
}

/* y += P x, P symmetric with its upper triangle stored */
void ad_symv_upper(const cs_dl *P, const double *x, double *y)
{
    altdiff_int n = P->n, *Pp = P->p, *Pi = P->i;
    double *Px = P->x;
    for (altdiff_int j = 0; j < n; j++) {
        double yj = 0;
        for (altdiff_int t = Pp[j]; t < Pp[j + 1]; t++) {
            altdiff_int i = Pi[t];
            yj += Px[t] * x[i];                  /* y_j += P_ij x_i */
            if (i != j) y[i] += Px[t] * x[j];   /* y_i += P_ij x_j */
        }
        y[j] += yj;
    }
}

/* 1 if the CSC arrays of M are well formed for an nrow x ncol matrix with
 * finite values */
static int csc_valid(const altdiff_csc *M, altdiff_int nrow, altdiff_int ncol)
{
    if (M->nrow != nrow || M->ncol != ncol) return 0;
    if (!M->p) return 1; /* no entries */
    if (ncol == 0 || nrow == 0) return M->p[ncol] == 0;
    if (M->p[0] != 0) return 0;
    for (altdiff_int j = 0; j < ncol; j++)
        if (M->p[j + 1] < M->p[j]) return 0;
    altdiff_int nz = M->p[ncol];
    if (nz > 0 && (!M->i || !M->x)) return 0;
    for (altdiff_int t = 0; t < nz; t++)
        if (M->i[t] < 0 || M->i[t] >= nrow || !isfinite(M->x[t])) return 0;
    return 1;
}

/* Bucket the entries order[0..nz-1] by key[] (stable counting sort). */
static void bucket(altdiff_int nz, altdiff_int nkeys, const altdiff_int *key,
                   const altdiff_int *in, altdiff_int *out, altdiff_int *cnt)
{
    for (altdiff_int k = 0; k <= nkeys; k++) cnt[k] = 0;
    for (altdiff_int t = 0; t < nz; t++) cnt[key[in[t]] + 1]++;
    for (altdiff_int k = 0; k < nkeys; k++) cnt[k + 1] += cnt[k];
    for (altdiff_int t = 0; t < nz; t++) out[cnt[key[in[t]]]++] = in[t];
}

/* 1 if M is already what ad_csc_import makes of it: every row kept in place
 * (rowmap NULL or the identity), columns strictly increasing, and with upper
 * only entries i <= j. One pass over the row indices. */
int ad_csc_canonical(const altdiff_csc *M, const altdiff_int *rowmap, altdiff_int nrow_out,
                     int upper)
{
    if (!M->p) return 0;
    if (rowmap) {
        if (nrow_out != M->nrow) return 0;
        for (altdiff_int i = 0; i < M->nrow; i++)
            if (rowmap[i] != i) return 0;
    }
    for (altdiff_int j = 0; j < M->ncol; j++) {
        altdiff_int start = M->p[j], end = M->p[j + 1];
        if (end > start && upper && M->i[end - 1] > j) return 0; /* sorted: last is largest */
        int bad = 0;
        for (altdiff_int t = start + 1; t < end; t++) bad |= M->i[t] <= M->i[t - 1];
        if (bad) return 0;
    }
    return 1;
}

/* The canonical case of ad_csc_import: a plain copy (memcpy), map = identity
 * (map NULL: not written) */
static int copy_canonical(const altdiff_csc *M, cs_dl **C, altdiff_int *map)
{
    altdiff_int nz = M->p[M->ncol];
    *C = ad_spalloc(M->nrow, M->ncol, nz);
    if (!*C) return ALTDIFF_ERR_NOMEM;
    memcpy((*C)->p, M->p, sizeof(altdiff_int) * (size_t)(M->ncol + 1));
    if (nz > 0) {
        memcpy((*C)->i, M->i, sizeof(altdiff_int) * (size_t)nz);
        memcpy((*C)->x, M->x, sizeof(double) * (size_t)nz);
    }
    for (altdiff_int t = 0; map && t < nz; t++) map[t] = t;
    return ALTDIFF_OK;
}

/* Import a borrowed matrix as an owned CSC with sorted columns.
 *   rowmap (nrow, may be NULL): entry (i,j) goes to row rowmap[i], or is
 *          dropped when rowmap[i] < 0; nrow_out rows in the result.
 *   upper: the matrix is symmetric; entry (i,j) with i > j goes to (j,i), and
 *          an entry given in both triangles must agree.
 * map (M's nnz) receives the position of each given entry in C (-1 when
 * dropped). Returns ALTDIFF_OK, ALTDIFF_ERR_INVALID (malformed, NaN/Inf,
 * duplicate or asymmetric entries) or ALTDIFF_ERR_NOMEM. */
int ad_csc_import(const altdiff_csc *M, altdiff_int nrow, altdiff_int ncol,
                  const altdiff_int *rowmap, altdiff_int nrow_out, int upper, cs_dl **C,
                  altdiff_int *map)
{
    *C = NULL;
    if (!csc_valid(M, nrow, ncol)) return ALTDIFF_ERR_INVALID;
    if (ad_csc_canonical(M, rowmap, nrow_out, upper)) return copy_canonical(M, C, map);
    altdiff_int nz = M->p ? M->p[ncol] : 0;
    altdiff_int *ti = ad_malloc((size_t)nz, sizeof(altdiff_int)); /* target row */
    altdiff_int *tj = ad_malloc((size_t)nz, sizeof(altdiff_int)); /* target col */
    altdiff_int *o1 = ad_malloc((size_t)nz, sizeof(altdiff_int));
    altdiff_int *o2 = ad_malloc((size_t)nz, sizeof(altdiff_int));
    altdiff_int *cnt = ad_malloc((size_t)(nrow_out > ncol ? nrow_out : ncol) + 1,
                                 sizeof(altdiff_int));
    int status = ALTDIFF_ERR_NOMEM;
    if (!ti || !tj || !o1 || !o2 || !cnt) goto done;
    altdiff_int kept = 0;
    for (altdiff_int j = 0; M->p && j < ncol; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) {
            altdiff_int i = rowmap ? rowmap[M->i[t]] : M->i[t];
            map[t] = -1;
            if (i < 0) continue;
            ti[t] = (upper && i > j) ? j : i; /* (i,j) -> (min, max) */
            tj[t] = (upper && i > j) ? i : j;
            o1[kept++] = t;
        }
    bucket(kept, nrow_out, ti, o1, o2, cnt); /* by row, then stably by column */
    bucket(kept, ncol, tj, o2, o1, cnt);
    *C = ad_spalloc(nrow_out, ncol, kept);
    if (!*C) goto done;
    status = ALTDIFF_ERR_INVALID;
    altdiff_int *Cp = (*C)->p, *Ci = (*C)->i, q = -1, prev = -1;
    double *Cx = (*C)->x;
    for (altdiff_int k = 0; k < kept; prev = o1[k++]) {
        altdiff_int t = o1[k];
        if (prev >= 0 && ti[prev] == ti[t] && tj[prev] == tj[t]) {
            /* a repeat: allowed only as the mirror (other triangle) of a
             * symmetric entry, with the same value. All lower entries of a
             * pair come first, so same-triangle repeats meet here too. */
            int mirror = upper && (M->i[prev] == ti[prev]) != (M->i[t] == ti[t]);
            double tol = 1e-12 * fmax(fabs(Cx[q]), fabs(M->x[t]));
            if (!mirror || fabs(Cx[q] - M->x[t]) > tol) goto done;
        } else {
            q++;
            Ci[q] = ti[t];
            Cx[q] = M->x[t];
            Cp[tj[t] + 1]++;
        }
        map[t] = q;
    }
    for (altdiff_int j = 0; j < ncol; j++) Cp[j + 1] += Cp[j]; /* counts -> pointers */
    status = ALTDIFF_OK;
done:
    if (status != ALTDIFF_OK) *C = ad_spfree(*C);
    ad_free(ti);
    ad_free(tj);
    ad_free(o1);
    ad_free(o2);
    ad_free(cnt);
    return status;
}
