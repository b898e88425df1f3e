/* check_sparse: the CSC substrate (sparse/csc.c, vec.c, alloc.c) against
 * dense computations */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"
#include "sp.h"

/* A random dense m x n matrix with about half of its entries zero */
static double *random_dense(rng *r, altdiff_int m, altdiff_int n)
{
    double *D = malloc(sizeof(double) * (size_t)(m * n));
    for (altdiff_int k = 0; k < m * n; k++) D[k] = rng_unif(r) < 0.5 ? 0 : rng_normal(r);
    return D;
}

/* The dense form of a CSC matrix */
static double *to_dense(const cs_dl *A)
{
    double *D = calloc((size_t)(A->m * A->n) + 1, sizeof(double));
    for (altdiff_int j = 0; j < A->n; j++)
        for (altdiff_int t = A->p[j]; t < A->p[j + 1]; t++) D[A->i[t] + j * A->m] += A->x[t];
    return D;
}

/* Columns sorted, row indices strictly increasing */
static int sorted(const cs_dl *A)
{
    for (altdiff_int j = 0; j < A->n; j++)
        for (altdiff_int t = A->p[j] + 1; t < A->p[j + 1]; t++)
            if (A->i[t] <= A->i[t - 1]) return 0;
    return 1;
}

START_TEST(test_products_and_transpose)
{
    rng r = {11};
    altdiff_int m = 7, n = 5;
    double *D = random_dense(&r, m, n), x[5], y[7], ym[7] = {0}, xt[7], z[5], zt[5] = {0};
    owned_csc O = csc_from_dense(D, m, n);
    altdiff_csc v = csc_view(&O);
    altdiff_int map[64];
    cs_dl *A = NULL;
    ck_assert_int_eq(ad_csc_import(&v, m, n, NULL, m, 0, &A, map), ALTDIFF_OK);
    for (altdiff_int j = 0; j < n; j++) x[j] = rng_normal(&r);
    for (altdiff_int i = 0; i < m; i++) xt[i] = rng_normal(&r);
    ad_gaxpy(A, x, ym); /* y = A x */
    ad_gatxpy(A, xt, zt); /* z = A' x */
    for (altdiff_int i = 0; i < m; i++) {
        y[i] = 0;
        for (altdiff_int j = 0; j < n; j++) y[i] += D[i + j * m] * x[j];
        ck_assert_double_eq_tol(ym[i], y[i], 1e-14);
    }
    for (altdiff_int j = 0; j < n; j++) {
        z[j] = 0;
        for (altdiff_int i = 0; i < m; i++) z[j] += D[i + j * m] * xt[i];
        ck_assert_double_eq_tol(zt[j], z[j], 1e-14);
    }
    cs_dl *T = ad_transpose(A);
    ck_assert(T && T->m == n && T->n == m && sorted(T));
    double *DT = to_dense(T);
    for (altdiff_int i = 0; i < m; i++)
        for (altdiff_int j = 0; j < n; j++) ck_assert(DT[j + i * n] == D[i + j * m]);
    free(DT);
    ad_spfree(T);
    ad_spfree(A);
    free_csc(&O);
    free(D);
}
END_TEST

START_TEST(test_symmetric_upper)
{
    rng r = {5};
    altdiff_int n = 6;
    double *M = random_dense(&r, n, n), S[36], x[6], y[6] = {0};
    for (altdiff_int i = 0; i < n; i++)
        for (altdiff_int j = 0; j < n; j++) S[i + j * n] = M[i + j * n] + M[j + i * n];
    for (altdiff_int j = 0; j < n; j++) x[j] = rng_normal(&r);
    /* lower triangle given: folded into the upper one */
    double L[36];
    for (altdiff_int i = 0; i < n; i++)
        for (altdiff_int j = 0; j < n; j++) L[i + j * n] = i >= j ? S[i + j * n] : 0;
    owned_csc O = csc_from_dense(L, n, n);
    altdiff_csc v = csc_view(&O);
    altdiff_int map[64];
    cs_dl *P = NULL;
    ck_assert_int_eq(ad_csc_import(&v, n, n, NULL, n, 1, &P, map), ALTDIFF_OK);
    ck_assert(sorted(P));
    for (altdiff_int j = 0; j < n; j++)
        for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++) ck_assert(P->i[t] <= j);
    ad_symv_upper(P, x, y); /* y = S x */
    for (altdiff_int i = 0; i < n; i++) {
        double t = 0;
        for (altdiff_int j = 0; j < n; j++) t += S[i + j * n] * x[j];
        ck_assert_double_eq_tol(y[i], t, 1e-13);
    }
    ad_spfree(P);
    free_csc(&O);
    /* both triangles: accepted when they agree, each entry mapped */
    owned_csc F = csc_from_dense(S, n, n);
    v = csc_view(&F);
    ck_assert_int_eq(ad_csc_import(&v, n, n, NULL, n, 1, &P, map), ALTDIFF_OK);
    for (altdiff_int t = 0; t < F.p[n]; t++) ck_assert(P->x[map[t]] == F.x[t]);
    ad_spfree(P);
    F.x[1] += 1e-3; /* now they disagree */
    ck_assert_int_eq(ad_csc_import(&v, n, n, NULL, n, 1, &P, map), ALTDIFF_ERR_INVALID);
    ck_assert_ptr_null(P);
    free_csc(&F);
    free(M);
}
END_TEST

START_TEST(test_import_checks)
{
    /* 3 x 2: column 0 rows {2, 0}, column 1 rows {1, 1} (a duplicate) */
    altdiff_int p[] = {0, 2, 4}, i[] = {2, 0, 1, 1}, map[4];
    double x[] = {1, 2, 3, 4};
    altdiff_csc v = {3, 2, p, i, x};
    cs_dl *A = NULL;
    ck_assert_int_eq(ad_csc_import(&v, 3, 2, NULL, 3, 0, &A, map), ALTDIFF_ERR_INVALID);
    i[3] = 2; /* no duplicate: unsorted input is sorted, map follows */
    ck_assert_int_eq(ad_csc_import(&v, 3, 2, NULL, 3, 0, &A, map), ALTDIFF_OK);
    ck_assert(sorted(A) && A->i[0] == 0 && A->x[0] == 2 && map[0] == 1 && map[1] == 0);
    ad_spfree(A);
    altdiff_int rowmap[] = {0, -1, 1}; /* drop row 1 */
    ck_assert_int_eq(ad_csc_import(&v, 3, 2, rowmap, 2, 0, &A, map), ALTDIFF_OK);
    ck_assert(A->m == 2 && A->p[2] == 3 && map[2] == -1);
    ad_spfree(A);
    x[2] = NAN;
    ck_assert_int_eq(ad_csc_import(&v, 3, 2, NULL, 3, 0, &A, map), ALTDIFF_ERR_INVALID);
    x[2] = 3;
    i[0] = 3; /* out of range */
    ck_assert_int_eq(ad_csc_import(&v, 3, 2, NULL, 3, 0, &A, map), ALTDIFF_ERR_INVALID);
    i[0] = 2;
    ck_assert_int_eq(ad_csc_import(&v, 4, 2, NULL, 4, 0, &A, map), ALTDIFF_ERR_INVALID);
    p[1] = 5; /* pointers not monotone */
    ck_assert_int_eq(ad_csc_import(&v, 3, 2, NULL, 3, 0, &A, map), ALTDIFF_ERR_INVALID);
    altdiff_csc none = {3, 2, NULL, NULL, NULL}; /* NULL pointers: no entries */
    ck_assert_int_eq(ad_csc_import(&none, 3, 2, NULL, 3, 0, &A, map), ALTDIFF_OK);
    ck_assert(A->p[2] == 0);
    ad_spfree(A);
}
END_TEST

START_TEST(test_vectors_and_alloc)
{
    double x[] = {1, -3, 2}, y[] = {2, 1, 0.5}, d[] = {1, 0.5, 4};
    ck_assert(ad_nrm_inf(x, 3) == 3);
    ck_assert(ad_nrm_inf_scaled(x, d, 3) == 8);
    ck_assert(ad_dot(x, y, 3) == 0);
    ad_axpy(y, 2, x, 3);
    ck_assert(y[0] == 4 && y[1] == -5 && y[2] == 4.5);
    ck_assert(ad_all_finite(x, 3));
    x[1] = INFINITY;
    ck_assert(!ad_all_finite(x, 3));
    ck_assert_ptr_null(ad_malloc(SIZE_MAX / 2, 4)); /* overflow of count * size */
    ck_assert_ptr_null(ad_calloc(SIZE_MAX / 2, 4));
    ad_fault_arm(0);
    ck_assert_ptr_null(ad_malloc(1, 8));
    ck_assert(ad_fault_fired());
    void *q = ad_malloc(1, 8); /* the failure fires once */
    ck_assert_ptr_nonnull(q);
    ad_free(q);
    ad_fault_arm(-1);
}
END_TEST

static Suite *suite_sparse(void)
{
    Suite *s = suite_create("sparse");
    TCase *tc = tcase_create("csc");
    tcase_add_test(tc, test_products_and_transpose);
    tcase_add_test(tc, test_symmetric_upper);
    tcase_add_test(tc, test_import_checks);
    tcase_add_test(tc, test_vectors_and_alloc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_sparse()); }
