/* csc.c: CSC matrices on CXSparse's cs_dl, allocated through ad_malloc */
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

cs_dl *ad_spcopy(const cs_dl *A)
{
    altdiff_int nz = A->p[A->n];
    cs_dl *C = ad_spalloc(A->m, A->n, nz);
    if (!C) return NULL;
    for (altdiff_int j = 0; j <= A->n; j++) C->p[j] = A->p[j];
    for (altdiff_int k = 0; k < nz; k++) {
        C->i[k] = A->i[k];
        C->x[k] = A->x[k];
    }
    return C;
}

/* C = A' (a counting sort by row, so the columns of C are sorted) */
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
