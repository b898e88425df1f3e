/*
 * ops.h: products with the scaled constraint matrices A~ (m x n) and G~
 * (p x n) of a model (ops.c). A block that is dense enough is also kept in
 * dense column-major storage, and its products run through BLAS (DGEMV for
 * one vector, DGEMM for blocks of columns); sparse blocks use their CSC
 * form. Every ADMM sweep and derivative sweep multiplies through here.
 */
#ifndef AD_OPS_H
#define AD_OPS_H

#include "sp.h"

/* A constraint block: its CSC form and, when dense enough, a dense copy.
 * A full block (every entry present) has its CSC values in column-major
 * order already: its dense form is S->x itself, no copy. */
typedef struct {
    const cs_dl *S;        /* rows x n, CSC (the model's)                     */
    double *dense;         /* rows x n column-major, or NULL                  */
    int own;               /* dense is a copy of its own (else S->x or NULL)  */
} ad_block;

/* 1 if a rows x n block with nnz entries is kept dense as well */
int ad_block_dense_pays(altdiff_int rows, altdiff_int n, altdiff_int nnz);
/* The dense form if it pays: S->x for a full S, else room for a copy (its
 * values set by ad_block_load) */
int ad_block_alloc(ad_block *B, const cs_dl *S);
/* dense copy = the values x on the pattern of S (nothing when the dense
 * form is S->x); the scaling (scaling.c) then scales it in place */
void ad_block_load(ad_block *B, const double *x);
void ad_block_free(ad_block *B);
/* y (rows) += M x (n) */
void ad_block_mul(const ad_block *B, const double *x, double *y);
/* x (n) += M' y (rows) */
void ad_block_mul_t(const ad_block *B, const double *y, double *x);
/* Y (rows x d) += M X (n x d), both column-major and contiguous */
void ad_block_mul_cols(const ad_block *B, const double *X, altdiff_int d, double *Y);
/* X (n x d) += M' Y (rows x d) */
void ad_block_mul_t_cols(const ad_block *B, const double *Y, altdiff_int d, double *X);

/* 1 if DSPMV takes P (n x n, canonical CSC, 0 < n <= INT_MAX): its upper
 * triangle holds every entry (ad_full), so its values are the packed
 * upper triangle */
int ad_upper_full(const cs_dl *P);
/* y += P x, P symmetric given by its upper triangle: DSPMV when it is full,
 * else the CSC product */
void ad_sym_mul(const cs_dl *P, const double *x, double *y);

#endif /* AD_OPS_H */
