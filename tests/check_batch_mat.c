/* check_batch_mat.c: batches whose elements have matrices of their own
 * (altdiff_batch_set_matrices) against the single-problem workspace element
 * by element; threads give bit-identical results; an element with an
 * indefinite P fails alone; allocation failures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <SuiteSparse_config.h>

#include "helpers.h"
#include "sp.h"

#define EPS 1e-10 /* solver tolerance of these tests */

/* The element problems: nE dense QPs of one pattern (seeds seed + e) */
typedef struct {
    altdiff_int nE, nP, nA, nG;
    dqp *d;
    double *Px, *Ax, *Gx; /* element-major values in CSC order */
} elements;

static elements make_elements(altdiff_int nE, altdiff_int n, altdiff_int m, uint64_t seed)
{
    elements el;
    el.nE = nE;
    el.d = calloc((size_t)nE, sizeof(dqp));
    for (altdiff_int e = 0; e < nE; e++) el.d[e] = box_qp(n, m, 1, seed + (uint64_t)e);
    el.nP = el.d[0].Pc.p[n];
    el.nA = el.d[0].Ac.p[n];
    el.nG = el.d[0].Gc.p[n];
    el.Px = zeros(el.nP * nE);
    el.Ax = zeros(el.nA * nE);
    el.Gx = zeros(el.nG * nE);
    for (altdiff_int e = 0; e < nE; e++) {
        ck_assert(el.d[e].Pc.p[n] == el.nP && el.d[e].Ac.p[n] == el.nA &&
                  el.d[e].Gc.p[n] == el.nG);
        memcpy(el.Px + e * el.nP, el.d[e].Pc.x, sizeof(double) * (size_t)el.nP);
        memcpy(el.Ax + e * el.nA, el.d[e].Ac.x, sizeof(double) * (size_t)el.nA);
        memcpy(el.Gx + e * el.nG, el.d[e].Gc.x, sizeof(double) * (size_t)el.nG);
    }
    return el;
}

static void free_elements(elements *el)
{
    for (altdiff_int e = 0; e < el->nE; e++) dqp_free(&el->d[e]);
    free(el->d);
    free(el->Px);
    free(el->Ax);
    free(el->Gx);
}

/* ---- per-element matrices vs single problems ------------------------------------ */

/* Elements 1 .. B-2 get P, G of their own problem and then A (a second call
 * with P, G NULL: kept); element 0 gets its own values equal to the shared
 * ones; element B-1 stays on the shared model. */
START_TEST(test_matrices_equal_single)
{
    const int modes[] = {ALTDIFF_MODE_GMRES, ALTDIFF_MODE_KKT, ALTDIFF_MODE_AUTO};
    altdiff_int n = 7, m = 2, B = 5;
    elements el = make_elements(B, n, m, 100);
    altdiff_int p = el.d[0].p, nP = el.nP, nA = el.nA, nG = el.nG;
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    double *X = zeros(n * B), *dQ = zeros(n * B), *dB = zeros(m * B), *dH = zeros(p * B);
    double *dP = zeros(nP * B), *dA = zeros(nA * B), *dG = zeros(nG * B);
    double *dPs = zeros(nP), *dAs = zeros(nA), *dGs = zeros(nG);
    double *dP1 = zeros(nP), *dA1 = zeros(nA), *dG1 = zeros(nG);
    double x1[7], dq1[7], db1[2], dh1[14];
    rng r = {5};
    randn(&r, W, n * B);
    element_vectors(&el.d[0], B, 3, Q, Bv, Hv);
    altdiff_settings set = solve_settings(0, EPS);
    altdiff_batch *bt = NULL;
    verdict v = {0, ""};
    expect(&v, altdiff_batch_setup(&bt, &el.d[0].prob, B, &set) == ALTDIFF_OK, "setup");
    expect(&v, altdiff_batch_set_vectors(bt, 0, B, Q, n, Bv, m, Hv, p) == ALTDIFF_OK, "set");
    expect(&v, altdiff_batch_set_matrices(bt, 0, B - 1, el.Px, nP, NULL, 0, el.Gx, nG) ==
                   ALTDIFF_OK, "set P, G: %s", altdiff_batch_last_error(bt));
    expect(&v, altdiff_batch_set_matrices(bt, 1, B - 2, NULL, 0, el.Ax + nA, nA, NULL, 0) ==
                   ALTDIFF_OK, "set A: %s", altdiff_batch_last_error(bt));
    expect(&v, altdiff_batch_solve(bt) == ALTDIFF_OK, "solve");
    altdiff_batch_get_solution(bt, 0, B, X, NULL, NULL, NULL);
    for (int mi = 0; mi < 3; mi++) {
        altdiff_deriv_settings ds = dset(modes[mi], 1e-12);
        expect(&v, altdiff_batch_vjp(bt, &ds, W, dQ, dB, dH, NULL) == ALTDIFF_OK, "vjp");
        expect(&v, altdiff_batch_matrix_grads(bt, dQ, dB, dH, dP, dA, dG, 0) == ALTDIFF_OK,
               "matrix grads");
        expect(&v, altdiff_batch_matrix_grads(bt, dQ, dB, dH, dPs, dAs, dGs, 1) == ALTDIFF_OK,
               "summed matrix grads");
        for (altdiff_int e = 0; e < B; e++) {
            const dqp *de = &el.d[(e == 0 || e == B - 1) ? 0 : e];
            expect(&v, altdiff_batch_get_info(bt, e)->status == ALTDIFF_SOLVED, "status %ld",
                   (long)e);
            expect(&v, altdiff_batch_get_info(bt, e)->aa_steps > 0, /* its Anderson memory */
                   "element %ld: no extrapolation in %ld iterations", (long)e,
                   (long)altdiff_batch_get_info(bt, e)->iter);
            int ok = solve_single(de, Q + e * n, Bv + e * m, Hv + e * p, EPS, W + e * n,
                                  ALTDIFF_MODE_KKT, x1, dq1, db1, dh1, dP1, dA1, dG1);
            expect(&v, ok, "single %ld", (long)e);
            expect(&v, rel_diff(X + e * n, x1, n) < 1e-7, "x of element %ld: %g", (long)e,
                   rel_diff(X + e * n, x1, n));
            expect(&v, rel_diff(dQ + e * n, dq1, n) < 1e-5, "%s dq of %ld: %g",
                   mode_name(modes[mi] < 0 ? 1 : modes[mi]), (long)e,
                   rel_diff(dQ + e * n, dq1, n));
            expect(&v, rel_diff(dB + e * m, db1, m) < 1e-5, "db of %ld", (long)e);
            expect(&v, rel_diff(dH + e * p, dh1, p) < 1e-5, "dh of %ld", (long)e);
            expect(&v, rel_diff(dP + e * nP, dP1, nP) < 1e-5, "dP of %ld: %g", (long)e,
                   rel_diff(dP + e * nP, dP1, nP));
            expect(&v, rel_diff(dA + e * nA, dA1, nA) < 1e-5, "dA of %ld", (long)e);
            expect(&v, rel_diff(dG + e * nG, dG1, nG) < 1e-5, "dG of %ld", (long)e);
        }
        for (altdiff_int t = 0; t < nP; t++) { /* sum = 1 adds the per-element ones */
            double s = 0;
            for (altdiff_int e = 0; e < B; e++) s += dP[e * nP + t];
            expect(&v, fabs(s - dPs[t]) <= 1e-12 * (1 + fabs(s)), "sum of dP, %ld", (long)t);
        }
    }
    /* w'(J v) = (J'w)'v per element, v = (dq, db, dh) and a direction of the
     * (own) matrices, with the JVP of both forward modes and the GMRES VJP */
    double *Vq = zeros(n * B), *Jv = zeros(n * B), *VP = zeros(nP), *gP = zeros(nP * B);
    randn(&r, Vq, n * B);
    randn(&r, VP, nP);
    altdiff_deriv_settings dr = dset(ALTDIFF_MODE_GMRES, 1e-12);
    expect(&v, altdiff_batch_vjp(bt, &dr, W, dQ, dB, dH, NULL) == ALTDIFF_OK, "vjp");
    expect(&v, altdiff_batch_matrix_grads(bt, dQ, dB, dH, gP, NULL, NULL, 0) == ALTDIFF_OK, "dP");
    const int fmodes[] = {ALTDIFF_MODE_ALTDIFF, ALTDIFF_MODE_KKT};
    for (int f = 0; f < 2; f++) {
        altdiff_deriv_settings df = dset(fmodes[f], 1e-12);
        altdiff_direction dir = {Vq, NULL, NULL, VP, NULL, NULL, NULL};
        expect(&v, altdiff_batch_jvp(bt, &df, &dir, Jv, NULL) == ALTDIFF_OK, "jvp");
        for (altdiff_int e = 0; e < B; e++) {
            double lhs = dot(W + e * n, Jv + e * n, n);
            double rhs = dot(dQ + e * n, Vq + e * n, n) + dot(gP + e * nP, VP, nP);
            expect(&v, rel_scalar(lhs, rhs) < 1e-6, "%s element %ld: %g vs %g",
                   mode_name(fmodes[f]), (long)e, lhs, rhs);
        }
    }
    free(Vq);
    free(Jv);
    free(VP);
    free(gP);
    /* the shared update leaves the elements with own matrices alone */
    expect(&v, altdiff_batch_update_matrices(bt, el.Px + nP, NULL, NULL) == ALTDIFF_OK,
           "update shared");
    expect(&v, altdiff_batch_get_info(bt, 1)->status == ALTDIFF_SOLVED, "own kept");
    expect(&v, altdiff_batch_get_info(bt, B - 1)->status == ALTDIFF_UNSOLVED, "shared updated");
    altdiff_batch_solve(bt);
    altdiff_batch_get_solution(bt, 0, B, X, NULL, NULL, NULL);
    expect(&v, solve_single(&el.d[2], Q + 2 * n, Bv + 2 * m, Hv + 2 * p, EPS, NULL, 0, x1,
                            NULL, NULL, NULL, NULL, NULL, NULL), "single 2");
    expect(&v, rel_diff(X + 2 * n, x1, n) < 1e-7, "own element after a shared update");
    altdiff_batch_free(bt);
    double *bufs[] = {Q, Bv, Hv, W, X, dQ, dB, dH, dP, dA, dG, dPs, dAs, dGs, dP1, dA1, dG1};
    for (size_t k = 0; k < sizeof(bufs) / sizeof(bufs[0]); k++) free(bufs[k]);
    free_elements(&el);
    finish(&v);
}
END_TEST

/* ---- threads ------------------------------------------------------------------------- */

/* One run of set_matrices (every element its own P, A, G), solve, VJP
 * (mode), JVP and matrix gradients on `threads` threads */
static int run_threads(const elements *el, altdiff_int B, int threads, int mode, const double *Q,
                       const double *W, double *X, double *dQ, double *dH, double *dP,
                       double *Jv)
{
    altdiff_settings set = solve_settings(0, EPS);
    altdiff_batch *bt = NULL;
    altdiff_int n = el->d[0].n, p = el->d[0].p;
    int ok = altdiff_batch_setup(&bt, &el->d[0].prob, B, &set) == ALTDIFF_OK &&
             altdiff_batch_set_threads(bt, threads) == ALTDIFF_OK &&
             altdiff_batch_set_vectors(bt, 0, B, Q, n, NULL, 0, NULL, 0) == ALTDIFF_OK &&
             altdiff_batch_set_matrices(bt, 0, B, el->Px, el->nP, el->Ax, el->nA, el->Gx,
                                        el->nG) == ALTDIFF_OK &&
             altdiff_batch_solve(bt) == ALTDIFF_OK;
    altdiff_deriv_settings ds = dset(mode, 1e-12);
    double *dB = zeros(el->d[0].m * B);
    altdiff_direction dir = {W, NULL, NULL, NULL, NULL, NULL, NULL};
    if (ok) {
        altdiff_batch_get_solution(bt, 0, B, X, NULL, NULL, NULL);
        ok = altdiff_batch_vjp(bt, &ds, W, dQ, dB, dH, NULL) == ALTDIFF_OK &&
             altdiff_batch_matrix_grads(bt, dQ, dB, dH, dP, NULL, NULL, 0) == ALTDIFF_OK;
        altdiff_deriv_settings df = dset(ALTDIFF_MODE_ALTDIFF, 1e-12);
        ok = ok && altdiff_batch_jvp(bt, &df, &dir, Jv, NULL) == ALTDIFF_OK;
    }
    for (altdiff_int e = 0; ok && e < B; e++)
        ok = altdiff_batch_get_info(bt, e)->status == ALTDIFF_SOLVED;
    (void)p;
    free(dB);
    altdiff_batch_free(bt);
    return ok;
}

START_TEST(test_threads_bit_identical)
{
    altdiff_int n = 12, m = 3, B = 7;
    elements el = make_elements(B, n, m, 200);
    altdiff_int p = el.d[0].p, nP = el.nP;
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    rng r = {9};
    randn(&r, W, n * B);
    element_vectors(&el.d[0], B, 7, Q, Bv, Hv);
    double *out[3][5];
    const int threads[3] = {1, 2, 0};
    verdict v = {0, ""};
    const int modes[2] = {ALTDIFF_MODE_GMRES, ALTDIFF_MODE_KKT};
    for (int mi = 0; mi < 2; mi++) {
        for (int t = 0; t < 3; t++) {
            altdiff_int len[5] = {n * B, n * B, p * B, nP * B, n * B};
            for (int k = 0; k < 5; k++) out[t][k] = zeros(len[k]);
            expect(&v, run_threads(&el, B, threads[t], modes[mi], Q, W, out[t][0], out[t][1],
                                   out[t][2], out[t][3], out[t][4]),
                   "threads = %d", threads[t]);
            for (int k = 0; k < 5 && t > 0; k++)
                expect(&v, memcmp(out[t][k], out[0][k], sizeof(double) * (size_t)len[k]) == 0,
                       "%s: threads = %d differs from serial in output %d", mode_name(modes[mi]),
                       threads[t], k);
        }
        for (int t = 0; t < 3; t++)
            for (int k = 0; k < 5; k++) free(out[t][k]);
    }
    free(Q);
    free(Bv);
    free(Hv);
    free(W);
    free_elements(&el);
    finish(&v);
}
END_TEST

/* ---- an element whose H is not positive definite ------------------------------------- */

START_TEST(test_indefinite_element)
{
    altdiff_int n = 6, m = 1, B = 4, bad = 1;
    elements el = make_elements(B, n, m, 300);
    altdiff_int p = el.d[0].p, nP = el.nP;
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    double *X = zeros(n * B), *dQ = zeros(n * B), *Px = zeros(nP * B), x1[6], dq1[6];
    altdiff_deriv_info info[4];
    rng r = {11};
    randn(&r, W, n * B);
    element_vectors(&el.d[0], B, 13, Q, Bv, Hv);
    memcpy(Px, el.Px, sizeof(double) * (size_t)(nP * B));
    for (altdiff_int t = 0; t < nP; t++) Px[bad * nP + t] = -Px[bad * nP + t]; /* -P: indefinite */
    altdiff_settings set = solve_settings(0, EPS);
    altdiff_batch *bt = NULL;
    verdict v = {0, ""};
    expect(&v, altdiff_batch_setup(&bt, &el.d[0].prob, B, &set) == ALTDIFF_OK, "setup");
    altdiff_batch_set_vectors(bt, 0, B, Q, n, Bv, m, Hv, p);
    altdiff_batch_solve(bt);
    /* invalid values: nothing changes (all or nothing) */
    double keep = Px[2 * nP + 3];
    Px[2 * nP + 3] = NAN;
    expect(&v, altdiff_batch_set_matrices(bt, 0, B, Px, nP, NULL, 0, NULL, 0) ==
                   ALTDIFF_ERR_INVALID, "NaN accepted");
    expect(&v, strstr(altdiff_batch_last_error(bt), "element 2") != NULL, "message: %s",
           altdiff_batch_last_error(bt));
    for (altdiff_int e = 0; e < B; e++)
        expect(&v, altdiff_batch_get_info(bt, e)->status == ALTDIFF_SOLVED, "changed %ld",
               (long)e);
    Px[2 * nP + 3] = keep;
    expect(&v, altdiff_batch_set_matrices(bt, 0, B, Px, nP, el.Ax, el.nA, el.Gx, el.nG) ==
                   ALTDIFF_OK, "indefinite element: %s", altdiff_batch_last_error(bt));
    expect(&v, strstr(altdiff_batch_last_error(bt), "element 1") != NULL, "message: %s",
           altdiff_batch_last_error(bt));
    expect(&v, altdiff_batch_solve(bt) == ALTDIFF_OK, "solve");
    altdiff_batch_get_solution(bt, 0, B, X, NULL, NULL, NULL);
    altdiff_deriv_settings ds = dset(ALTDIFF_MODE_GMRES, 1e-12);
    expect(&v, altdiff_batch_vjp(bt, &ds, W, dQ, NULL, NULL, info) == ALTDIFF_OK, "vjp");
    for (altdiff_int e = 0; e < B; e++) {
        const altdiff_info *ie = altdiff_batch_get_info(bt, e);
        if (e == bad) {
            expect(&v, ie->status == ALTDIFF_NONCONVEX && ie->iter == 0, "bad element: %s",
                   altdiff_status_string(ie->status));
            expect(&v, info[e].status == ALTDIFF_NOT_AVAILABLE, "bad element's vjp status");
            expect(&v, nrm_inf(dQ + e * n, n) == 0, "zero grads");
            continue;
        }
        expect(&v, ie->status == ALTDIFF_SOLVED, "element %ld: %s", (long)e,
               altdiff_status_string(ie->status));
        expect(&v, solve_single(&el.d[e], Q + e * n, Bv + e * m, Hv + e * p, EPS, W + e * n,
                                ALTDIFF_MODE_KKT, x1, dq1, NULL, NULL, NULL, NULL, NULL),
               "single");
        expect(&v, rel_diff(X + e * n, x1, n) < 1e-7, "x of %ld: %g", (long)e,
               rel_diff(X + e * n, x1, n));
        expect(&v, rel_diff(dQ + e * n, dq1, n) < 1e-5, "dq of %ld", (long)e);
    }
    /* usable values again: the element recovers */
    expect(&v, altdiff_batch_set_matrices(bt, bad, 1, el.Px + bad * nP, 0, NULL, 0, NULL, 0) ==
                   ALTDIFF_OK, "repair");
    altdiff_batch_solve(bt);
    expect(&v, altdiff_batch_get_info(bt, bad)->status == ALTDIFF_SOLVED, "recovered: %s",
           altdiff_status_string(altdiff_batch_get_info(bt, bad)->status));
    altdiff_batch_get_solution(bt, 0, B, X, NULL, NULL, NULL);
    expect(&v, solve_single(&el.d[bad], Q + bad * n, Bv + bad * m, Hv + bad * p, EPS, NULL, 0,
                            x1, NULL, NULL, NULL, NULL, NULL, NULL), "single");
    expect(&v, rel_diff(X + bad * n, x1, n) < 1e-7, "recovered x");
    /* bad arguments */
    expect(&v, altdiff_batch_set_matrices(bt, 3, 2, el.Px, 0, NULL, 0, NULL, 0) ==
                   ALTDIFF_ERR_INVALID, "range");
    expect(&v, altdiff_batch_set_matrices(bt, 0, 1, el.Px, -1, NULL, 0, NULL, 0) ==
                   ALTDIFF_ERR_INVALID, "ld");
    expect(&v, altdiff_batch_set_threads(bt, -1) == ALTDIFF_ERR_INVALID, "threads");
    altdiff_batch_free(bt);
    double *bufs[] = {Q, Bv, Hv, W, X, dQ, Px};
    for (size_t k = 0; k < sizeof(bufs) / sizeof(bufs[0]); k++) free(bufs[k]);
    free_elements(&el);
    finish(&v);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------- */

/* CHOLMOD's allocations (the factor's copy, H, the solve workspaces) count
 * too: SuiteSparse's allocator is the fault-injecting one */
static void install_hooks(void)
{
    SuiteSparse_config.malloc_func = ad_fault_malloc;
    SuiteSparse_config.calloc_func = ad_fault_calloc;
    SuiteSparse_config.realloc_func = ad_fault_realloc;
    SuiteSparse_config.free_func = ad_fault_free;
}

START_TEST(test_alloc_failures)
{
    install_hooks();
    altdiff_int n = 5, m = 1, B = 3;
    elements el = make_elements(B, n, m, 400);
    altdiff_int p = el.d[0].p;
    double *Q = zeros(n * B), *Bv = zeros(m * B), *Hv = zeros(p * B), *W = zeros(n * B);
    double *gq = zeros(n * B), *gb = zeros(m * B), *gh = zeros(p * B);
    double *dP = zeros(el.nP * B), *dA = zeros(el.nA * B), *dG = zeros(el.nG * B);
    element_vectors(&el.d[0], B, 29, Q, Bv, Hv);
    for (altdiff_int j = 0; j < n * B; j++) W[j] = 1;
    altdiff_settings set = solve_settings(0, EPS);
    set.adaptive_rho = 0;
    int completed = 0;
    long k = 0;
    verdict v = {0, ""};
    for (; k < 20000 && !completed; k++) {
        altdiff_batch *bt = NULL;
        altdiff_deriv_settings ds = dset(k % 2 ? ALTDIFF_MODE_KKT : ALTDIFF_MODE_GMRES, 1e-10);
        ad_fault_arm(k);
        int rc = altdiff_batch_setup(&bt, &el.d[0].prob, B, &set);
        if (rc == ALTDIFF_OK) rc = altdiff_batch_set_vectors(bt, 0, B, Q, n, Bv, m, Hv, p);
        if (rc == ALTDIFF_OK) /* elements 1, 2 own P, G; element 0 shared */
            rc = altdiff_batch_set_matrices(bt, 1, B - 1, el.Px + el.nP, el.nP, NULL, 0,
                                            el.Gx + el.nG, el.nG);
        if (rc == ALTDIFF_OK) rc = altdiff_batch_solve(bt);
        if (rc == ALTDIFF_OK) rc = altdiff_batch_vjp(bt, &ds, W, gq, gb, gh, NULL);
        if (rc == ALTDIFF_OK) rc = altdiff_batch_matrix_grads(bt, gq, gb, gh, dP, dA, dG, 0);
        int fired = ad_fault_fired();
        ad_fault_arm(-1);
        expect(&v, rc == ALTDIFF_OK || (fired && rc == ALTDIFF_ERR_NOMEM) ||
                       (fired && rc == ALTDIFF_ERR_CHOLMOD),
               "k = %ld: %s", k, altdiff_error_string(rc));
        if (rc != ALTDIFF_OK) expect(&v, bt == NULL || fired, "k = %ld", k);
        if (rc == ALTDIFF_OK && bt) /* a failure inside a solve stays in its element */
            for (altdiff_int e = 0; e < B && !fired; e++)
                expect(&v, altdiff_batch_get_info(bt, e)->status == ALTDIFF_SOLVED, "k = %ld", k);
        if (bt && fired) { /* the batch still works after the failure */
            int ok = altdiff_batch_solve(bt) == ALTDIFF_OK &&
                     altdiff_batch_vjp(bt, &ds, W, gq, gb, gh, NULL) == ALTDIFF_OK;
            expect(&v, ok, "k = %ld: not usable after the failure", k);
        }
        completed = !fired && rc == ALTDIFF_OK;
        altdiff_batch_free(bt);
    }
    expect(&v, completed, "the sequence never completed");
    expect(&v, k > 100, "only %ld allocations swept", k);
    double *bufs[] = {Q, Bv, Hv, W, gq, gb, gh, dP, dA, dG};
    for (size_t k = 0; k < sizeof(bufs) / sizeof(bufs[0]); k++) free(bufs[k]);
    free_elements(&el);
    finish(&v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch_mat");
    TCase *tc = tcase_create("batch_mat");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_matrices_equal_single);
    tcase_add_test(tc, test_threads_bit_identical);
    tcase_add_test(tc, test_indefinite_element);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
