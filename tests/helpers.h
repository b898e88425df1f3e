/* Shared test helpers: running a suite, small random problems, dense checks */
#ifndef AD_TEST_HELPERS_H
#define AD_TEST_HELPERS_H

#include <check.h>
#include <stdint.h>

#include "altdiff.h"

/* Run a suite; returns the process exit status (0 all passed, 1 a failure). */
int run_suite(Suite *s);

/* A deterministic generator (splitmix64): uniform in [0,1) and standard normal. */
typedef struct {
    uint64_t state;
} rng;
double rng_unif(rng *r);
double rng_normal(rng *r);

/* A dense column-major matrix (nrow x ncol) as an owned CSC with every entry
 * stored except exact zeros; free with free_csc. */
typedef struct {
    altdiff_int nrow, ncol;
    altdiff_int *p, *i;
    double *x;
} owned_csc;
owned_csc csc_from_dense(const double *D, altdiff_int nrow, altdiff_int ncol);
/* Upper triangle (i <= j) of a dense symmetric matrix */
owned_csc csc_upper_from_dense(const double *D, altdiff_int n);
void free_csc(owned_csc *M);
altdiff_csc csc_view(const owned_csc *M);

/* Independent KKT residuals of (x, s, lam, nu) for the dense data
 * (P n x n full, A m x n, G p x n, column-major):
 * r[0] = |Ax - b|, r[1] = |max(Gx - h, 0)|, r[2] = |Px + q + A'lam + G'nu|,
 * r[3] = max_i |min(nu_i, 0)|, r[4] = max_i |nu_i (h - Gx)_i| (inf norms). */
void kkt_residuals(altdiff_int n, altdiff_int m, altdiff_int p, const double *P,
                   const double *q, const double *A, const double *b, const double *G,
                   const double *h, const double *x, const double *lam, const double *nu,
                   double r[5]);

/* Solve the dense n x n system M y = x in place (Gaussian elimination with
 * partial pivoting; M column-major, overwritten; x becomes y). Returns 0 when
 * a pivot is below 1e-300 (singular), 1 otherwise. */
int dense_solve(altdiff_int n, double *M, double *x);

/* A calloc'd array of len doubles (at least one), asserted non-NULL */
double *zeros(altdiff_int len);

/* A dense QP (column-major; P full symmetric), its CSC form (P: upper
 * triangle) and problem view; x, lam, nu, s hold a known solution where a
 * test constructs one. dqp_finish (re)builds the CSC form after the dense
 * data changed. */
typedef struct {
    altdiff_int n, m, p;
    double *P, *q, *A, *b, *G, *h;
    double *x, *lam, *nu, *s;
    owned_csc Pc, Ac, Gc;
    altdiff_problem prob;
} dqp;
dqp dqp_alloc(altdiff_int n, altdiff_int m, altdiff_int p);
void dqp_finish(dqp *d);
void dqp_free(dqp *d);
/* Run exe with args (a shell word list), stdout and stderr into dir/stdout
 * and dir/stderr; the exit status (-1: it did not exit) */
int run_tool(const char *exe, const char *dir, const char *args);
/* The file dir/name (its first size - 1 bytes) into buf as a string: 1, or
 * 0 (buf empty) when it cannot be opened */
int read_text(const char *dir, const char *name, char *buf, size_t size);
/* 1 if the file dir/name (its first 8 KB) contains text */
int file_has(const char *dir, const char *name, const char *text);
/* q = -P x - A'lam - G'nu, b = A x, h = G x + s from d's x, lam, nu, s:
 * (x, lam, nu) solves the QP (call dqp_finish after) */
void dqp_from_solution(dqp *d);
/* P (n x n, full) = M'M / n + shift I with M ~ N(0, 1) drawn from r */
void random_spd(rng *r, altdiff_int n, double shift, double *P);
/* B per-element vectors of a batch test: q, b, h of d perturbed (seeded),
 * element-major Q (n x B), Bv (m x B), Hv (p x B) */
void element_vectors(const dqp *d, altdiff_int B, uint64_t seed, double *Q, double *Bv, double *Hv);

/* Failures collected while a test still owns memory, asserted by finish()
 * after it is freed (no leak reports under CK_FORK=no) */
typedef struct {
    int failed;
    char msg[1024];
} verdict;
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void expect(verdict *v, int cond, const char *fmt, ...);
void finish(const verdict *v);

/* Dense vector helpers */
void randn(rng *r, double *v, altdiff_int len);             /* v ~ N(0, I)          */
double dot(const double *x, const double *y, altdiff_int n);
double nrm_inf(const double *x, altdiff_int n);
double rel_diff(const double *x, const double *y, altdiff_int n); /* |x-y| / max(1,|y|) */
double rel_scalar(double a, double b);                       /* |a-b| / max(1,|b|)   */
int all_finite(const double *x, altdiff_int n);

/* Dense matrix products (M: r x c, column-major) */
void matvec(const double *M, altdiff_int r, altdiff_int c, const double *x, double *y);   /* y = M x  */
void matvec_t(const double *M, altdiff_int r, altdiff_int c, const double *x, double *y); /* y = M'x  */

/* Derivative modes: the reverse ones (every mode gives VJPs), the forward
 * ones (JVPs and Jacobians), their names */
extern const int reverse_modes[];
extern const int forward_modes[];
#define N_REVERSE 5
#define N_FORWARD 2
const char *mode_name(int mode);
/* Default settings with both tolerances eps (and settings.record) */
altdiff_settings solve_settings(int record, double eps);
/* A random strictly convex QP: P = M'M / n + I, q and A (m x n) standard
 * normal, b = 0.1 N(0, 1), box rows G = [diag(g); -diag(g)] (p = 2n) with
 * h = 0.5: g = 1, or (scaled) g in [0.5, 1.5) drawn per column */
dqp box_qp(altdiff_int n, altdiff_int m, int scaled, uint64_t seed);
/* The single-problem solve of d with the vectors q, b, h at tolerance eps
 * (solve_settings): x, the VJP of wx (NULL: none) in mode into dq, db, dh,
 * and the matrix gradients dPx, dAx, dGx (NULL: none). 1 if all succeeded */
int solve_single(const dqp *d, const double *q, const double *b, const double *h, double eps,
                 const double *wx, int mode, double *x, double *dq, double *db, double *dh,
                 double *dPx, double *dAx, double *dGx);
/* After a setup that returned rc into w: assert it worked, solve, assert
 * the status is SOLVED (freeing w first when not); returns w */
altdiff_work *solved(altdiff_work *w, int rc, const char *what);
/* Re-solve (warm) and read x; 0 if the solve did not reach SOLVED */
int resolve(altdiff_work *w, double *x);
/* Default derivative settings in mode with tolerance eps, max_iter 100000 */
altdiff_deriv_settings dset(int mode, double eps);

#endif
