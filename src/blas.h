/*
 * blas.h: the Fortran BLAS and LAPACK routines the library calls (OpenBLAS
 * and LAPACK through Debian's libblas and liblapack), declared once.
 * Column-major arrays, sizes and strides as int pointers.
 */
#ifndef AD_BLAS_H
#define AD_BLAS_H

/* BLAS 1: x'y, y += a x */
double ddot_(const int *n, const double *x, const int *incx, const double *y, const int *incy);
void daxpy_(const int *n, const double *a, const double *x, const int *incx, double *y,
            const int *incy);

/* BLAS 2: y = alpha op(A) x + beta y; y = alpha A x + beta y, A symmetric
 * packed; x = op(A)^-1 x, A triangular */
void dgemv_(const char *trans, const int *m, const int *n, const double *alpha, const double *a,
            const int *lda, const double *x, const int *incx, const double *beta, double *y,
            const int *incy);
void dspmv_(const char *uplo, const int *n, const double *alpha, const double *ap,
            const double *x, const int *incx, const double *beta, double *y, const int *incy);
void dtrsv_(const char *uplo, const char *ta, const char *diag, const int *n, const double *a,
            const int *lda, double *x, const int *incx);

/* BLAS 3: C = alpha op(A) op(B) + beta C; C = alpha A B + beta C, A
 * symmetric; C = alpha A'A + beta C (one triangle); B = alpha op(A)^-1 B */
void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc);
void dsymm_(const char *side, const char *uplo, const int *m, const int *n, const double *alpha,
            const double *a, const int *lda, const double *b, const int *ldb, const double *beta,
            double *c, const int *ldc);
void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *beta,
            double *c, const int *ldc);
void dtrsm_(const char *side, const char *uplo, const char *ta, const char *diag, const int *m,
            const int *n, const double *alpha, const double *a, const int *lda, double *b,
            const int *ldb);

/* LAPACK: the Cholesky factor of a symmetric positive definite A in place */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);

#endif /* AD_BLAS_H */
