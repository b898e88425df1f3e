/*
 * check_oom: fail the k-th allocation (ad_malloc/ad_calloc and, through the
 * hooks installed in SuiteSparse_config, every CHOLMOD allocation) for
 * k = 0, 1, 2, ... until a run completes without a failure. The call during
 * which the failure happens must return ALTDIFF_ERR_NOMEM, setup must leave
 * *work NULL, and nothing may leak (run under AddressSanitizer with
 * CK_FORK=no, LeakSanitizer reports at exit).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <SuiteSparse_config.h>

#include "helpers.h"
/* the test library is built with fault injection; tests/meson.build defines
 * it for this file too, and this keeps the file independent of that */
#ifndef ALTDIFF_FAULT_INJECTION
#define ALTDIFF_FAULT_INJECTION 1
#endif
#include "sp.h"

#define MAX_SWEEP 100000 /* a run that never completes is a failure */

static void install_hooks(void)
{
    SuiteSparse_config.malloc_func = ad_fault_malloc;
    SuiteSparse_config.calloc_func = ad_fault_calloc;
    SuiteSparse_config.realloc_func = ad_fault_realloc;
    SuiteSparse_config.free_func = ad_fault_free;
}

/* n = 4, one equality, four inequalities of which row 2 is dropped
 * (h = +inf); P stored as both triangles */
typedef struct {
    owned_csc P, A, G;
    double q[4], b[1], h[4];
    double P2x[16], A2x[4], G2x[16]; /* new values for update_matrices */
    altdiff_problem prob;
} small_problem;

static void small_init(small_problem *s)
{
    double P[16] = {4, 1, 0, 0, 1, 3, 0.5, 0, 0, 0.5, 2, 0, 0, 0, 0, 1};
    double A[4] = {1, 1, 1, 1};
    double G[16] = {1, 0, 1, -1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0};
    double q[4] = {1, -2, 0.5, -1}, h[4] = {0.5, 1, INFINITY, 0};
    s->P = csc_from_dense(P, 4, 4);
    s->A = csc_from_dense(A, 1, 4);
    s->G = csc_from_dense(G, 4, 4);
    memcpy(s->q, q, sizeof(q));
    memcpy(s->h, h, sizeof(h));
    s->b[0] = 1;
    altdiff_int nzP = s->P.p[4], nzA = s->A.p[4], nzG = s->G.p[4];
    for (altdiff_int k = 0; k < nzP; k++) s->P2x[k] = s->P.x[k] * 1.5; /* still PD */
    for (altdiff_int k = 0; k < nzA; k++) s->A2x[k] = s->A.x[k] * (1 + 0.1 * (double)k);
    for (altdiff_int k = 0; k < nzG; k++) s->G2x[k] = s->G.x[k] * 0.9;
    altdiff_problem pr = {4, 1, 4, csc_view(&s->P), csc_view(&s->A), csc_view(&s->G),
                          s->q, s->b, s->h};
    s->prob = pr;
}

static void small_free(small_problem *s)
{
    free_csc(&s->P);
    free_csc(&s->A);
    free_csc(&s->G);
}

/* The outcome of one run with the k-th allocation failing */
typedef struct {
    int fired;         /* the failure happened                                */
    const char *call;  /* the call during which it happened                   */
    int rc;            /* what that call returned                             */
    int work_null;     /* setup: *work was NULL after the failure             */
    int completed;     /* every call returned ALTDIFF_OK                      */
    int final_status;  /* status of the last solve when completed             */
    double x[64];      /* its solution                                        */
} run_result;

/* After a call: if the failure fired during it (for the first time), record
 * the call. Returns 1 when the sequence must stop (the call failed). */
static int after(run_result *r, const char *call, int rc)
{
    if (ad_fault_fired() && !r->fired) {
        r->fired = 1;
        r->call = call;
        r->rc = rc;
    }
    if (rc != ALTDIFF_OK) {
        ck_assert_msg(r->fired, "%s failed with no fault: %s", call, altdiff_error_string(rc));
        return 1;
    }
    return 0;
}

/* setup, solve, update_vectors, solve, update_matrices, solve, update_rho,
 * solve on prob, with the k-th allocation failing; stop at the first call
 * that fails. A call during which the failure fired but which still returned
 * ALTDIFF_OK (an allocation failure recovered from, e.g. by CHOLMOD's
 * fallback to another ordering) lets the sequence go on: the final solution
 * must then be the right one. */
static run_result run_sequence(const altdiff_problem *prob, const double *Px,
                               const double *Ax, const double *Gx, long k)
{
    run_result r;
    memset(&r, 0, sizeof(r));
    r.work_null = 1;
    ck_assert_int_le(prob->n, 64);
    altdiff_settings set = altdiff_settings_default();
    set.eps_abs = set.eps_rel = 1e-9;
    set.adaptive_rho = 0; /* no timing-dependent refactorizations */
    altdiff_work *w = (altdiff_work *)&set; /* not NULL: setup must clear it */
    double q2[64];
    for (altdiff_int j = 0; j < prob->n; j++) q2[j] = prob->q[j] + 0.25;
    ad_fault_arm(k);
    int rc = altdiff_setup(&w, prob, &set);
    if (after(&r, "altdiff_setup", rc)) {
        r.work_null = (w == NULL);
        ad_fault_arm(-1);
        return r;
    }
    if (!after(&r, "altdiff_solve (1)", altdiff_solve(w)) &&
        !after(&r, "altdiff_update_vectors", altdiff_update_vectors(w, q2, NULL, NULL)) &&
        !after(&r, "altdiff_solve (2)", altdiff_solve(w)) &&
        !after(&r, "altdiff_update_matrices", altdiff_update_matrices(w, Px, Ax, Gx)) &&
        !after(&r, "altdiff_solve (3)", altdiff_solve(w)) &&
        !after(&r, "altdiff_update_rho", altdiff_update_rho(w, 2.5, -1)) &&
        !after(&r, "altdiff_solve (4)", altdiff_solve(w))) {
        r.completed = 1;
        r.final_status = altdiff_get_info(w)->status;
        altdiff_get_solution(w, r.x, NULL, NULL, NULL);
    }
    ad_fault_arm(-1);
    altdiff_free(w);
    return r;
}

/* Check one run against the run with no fault (ref); returns 1 when no
 * failure fired (the sweep is over) */
static int check_run(const run_result *r, const run_result *ref, altdiff_int n, long k)
{
    if (r->completed) {
        ck_assert_msg(r->final_status == ALTDIFF_SOLVED, "k = %ld: status %s", k,
                      altdiff_status_string(r->final_status));
        for (altdiff_int j = 0; j < n; j++)
            ck_assert_msg(fabs(r->x[j] - ref->x[j]) <= 1e-6 * (1 + fabs(ref->x[j])),
                          "k = %ld: x[%ld] = %.17g, without faults %.17g", k, (long)j,
                          r->x[j], ref->x[j]);
        if (r->fired)
            fprintf(stderr, "check_oom: k = %ld: the failed allocation in %s was recovered "
                            "from (the call returned ALTDIFF_OK, the solution is right)\n",
                    k, r->call);
        return !r->fired;
    }
    ck_assert(r->fired);
    ck_assert_msg(r->rc == ALTDIFF_ERR_NOMEM,
                  "k = %ld: %s returned %d (%s), not ALTDIFF_ERR_NOMEM", k, r->call, r->rc,
                  altdiff_error_string(r->rc));
    ck_assert_msg(r->work_null, "k = %ld: *work not NULL after a failed setup", k);
    return 0;
}

/* The sweep over k for one problem; returns the k of the first clean run */
static long sweep(const altdiff_problem *prob, const double *Px, const double *Ax,
                  const double *Gx)
{
    run_result ref = run_sequence(prob, Px, Ax, Gx, -1);
    ck_assert(ref.completed && !ref.fired && ref.final_status == ALTDIFF_SOLVED);
    long k;
    for (k = 0; k < MAX_SWEEP; k++) {
        run_result r = run_sequence(prob, Px, Ax, Gx, k);
        if (check_run(&r, &ref, prob->n, k)) break;
    }
    ck_assert_msg(k < MAX_SWEEP, "the sweep never completed");
    ck_assert_msg(k > 30, "only %ld allocations: are the hooks counting?", k);
    return k;
}

START_TEST(test_oom_solver)
{
    install_hooks();
    small_problem s;
    small_init(&s);
    sweep(&s.prob, s.P2x, s.A2x, s.G2x);
    small_free(&s);
}
END_TEST

/* The same sweep on a larger problem with dense A and G (other code paths
 * in forming and factoring H). */
START_TEST(test_oom_setup_dense)
{
    install_hooks();
    altdiff_int n = 40, m = 5, p = 45;
    rng g = {7};
    double *P = calloc((size_t)(n * n), sizeof(double));
    double *A = calloc((size_t)(m * n), sizeof(double));
    double *G = calloc((size_t)(p * n), sizeof(double));
    double *q = calloc((size_t)n, sizeof(double));
    double *b = calloc((size_t)m, sizeof(double));
    double *h = calloc((size_t)p, sizeof(double));
    ck_assert(P && A && G && q && b && h);
    for (altdiff_int j = 0; j < n; j++) {
        P[j + j * n] = 1 + rng_unif(&g);
        q[j] = rng_normal(&g);
    }
    for (altdiff_int k = 0; k < m * n; k++) A[k] = rng_normal(&g);
    for (altdiff_int k = 0; k < p * n; k++) G[k] = rng_normal(&g);
    for (altdiff_int i = 0; i < p; i++) /* x = 0 is feasible; row 3 is dropped */
        h[i] = i == 3 ? 1e25 : 1 + rng_unif(&g);
    owned_csc Pc = csc_upper_from_dense(P, n), Ac = csc_from_dense(A, m, n),
              Gc = csc_from_dense(G, p, n);
    altdiff_problem prob = {n, m, p, csc_view(&Pc), csc_view(&Ac), csc_view(&Gc), q, b, h};
    sweep(&prob, Pc.x, Ac.x, Gc.x);
    free_csc(&Pc);
    free_csc(&Ac);
    free_csc(&Gc);
    free(P);
    free(A);
    free(G);
    free(q);
    free(b);
    free(h);
}
END_TEST

/* A failed allocation inside altdiff_solve (CHOLMOD's solve allocates on
 * every call): solve returns ALTDIFF_ERR_NOMEM; the status it leaves must not
 * claim an outcome that did not happen: not ALTDIFF_SOLVED and not
 * ALTDIFF_MAX_ITER ("iteration limit reached") before max_iter iterations. */
START_TEST(test_oom_solve_status)
{
    install_hooks();
    small_problem s;
    small_init(&s);
    altdiff_settings set = altdiff_settings_default();
    set.adaptive_rho = 0;
    long k;
    int rc = ALTDIFF_OK, fired = 0, status = 0;
    altdiff_int iter = 0;
    for (k = 0; k < MAX_SWEEP && !fired; k++) {
        altdiff_work *w = NULL;
        ad_fault_arm(-1);
        int rc0 = altdiff_setup(&w, &s.prob, &set);
        ad_fault_arm(k);
        rc = rc0 == ALTDIFF_OK ? altdiff_solve(w) : rc0;
        fired = ad_fault_fired();
        ad_fault_arm(-1);
        if (w) {
            status = altdiff_get_info(w)->status;
            iter = altdiff_get_info(w)->iter;
        }
        altdiff_free(w);
        if (!fired) break; /* solve allocates nothing: nothing to check */
    }
    small_free(&s); /* before any assertion: nothing leaks with CK_FORK=no */
    if (!fired) return;
    k--;
    ck_assert_int_eq(rc, ALTDIFF_ERR_NOMEM);
    ck_assert_msg(status != ALTDIFF_SOLVED, "status solved after NOMEM");
    ck_assert_msg(status != ALTDIFF_MAX_ITER || iter >= set.max_iter,
                  "k = %ld: solve returned ALTDIFF_ERR_NOMEM with status %s after %ld of "
                  "%ld iterations",
                  k, altdiff_status_string(status), (long)iter, (long)set.max_iter);
}
END_TEST

#define EQ_BOX AD_DATA_DIR "/tiny/eq_box"

/* altdiff_read_problem on data/tiny/eq_box, then setup and solve */
START_TEST(test_oom_read_problem)
{
    install_hooks();
    char err[512];
    long k;
    for (k = 0; k < MAX_SWEEP; k++) {
        altdiff_owned_problem *o = (altdiff_owned_problem *)err; /* not NULL */
        ad_fault_arm(k);
        int rc = altdiff_read_problem(EQ_BOX, &o, err, sizeof(err));
        int fired = ad_fault_fired();
        ad_fault_arm(-1);
        if (fired) {
            ck_assert_msg(rc == ALTDIFF_ERR_NOMEM, "k = %ld: read_problem returned %d (%s): %s",
                          k, rc, altdiff_error_string(rc), err);
            ck_assert_msg(o == NULL, "k = %ld: *out not NULL after a failure", k);
            ck_assert_msg(err[0] != '\0', "k = %ld: no message", k);
            continue;
        }
        ck_assert_msg(rc == ALTDIFF_OK, "read_problem with no fault: %s", err);
        ck_assert_int_eq(o->prob.n, 4);
        ck_assert_int_eq(o->prob.m, 1);
        ck_assert_int_eq(o->prob.p, 8);
        altdiff_free_problem(o);
        break;
    }
    ck_assert_msg(k < MAX_SWEEP, "the sweep never completed");
    ck_assert_msg(k > 10, "only %ld allocations in read_problem", k);
    /* setup + solve of the problem read, every allocation failing in turn */
    altdiff_owned_problem *o = NULL;
    ck_assert_int_eq(altdiff_read_problem(EQ_BOX, &o, err, sizeof(err)), ALTDIFF_OK);
    sweep(&o->prob, o->Px, o->Ax, o->Gx);
    altdiff_free_problem(o);
}
END_TEST

/* The entropy objective (softmax of y under 1'x = 1 and x_0 <= 0.1): setup,
 * solve, the VJP in GMRES, KKT and UNROLL modes and the theta Jacobian, with
 * the k-th allocation failing: every call returns ALTDIFF_OK or
 * ALTDIFF_ERR_NOMEM, and a run that completes has the right gradient. */
static int entropy_run(long k, double *dy)
{
    enum { N = 8 };
    double y[N], b = 1, h = 0.1, J[N * N], dq[N], wx[N];
    altdiff_int Ap[N + 1], Ai[N], Gp[N + 1], Gi[1] = {0};
    double Ax[N], Gx[1] = {1};
    for (int j = 0; j < N; j++) {
        y[j] = 0.3 * j - 1;
        wx[j] = j % 3 - 1.0;
        Ap[j] = j;
        Ai[j] = 0;
        Ax[j] = 1;
        Gp[j] = j > 0;
    }
    Ap[N] = N;
    Gp[N] = 1;
    altdiff_problem prob = {N, 1, 1, {0, 0, NULL, NULL, NULL}, {1, N, Ap, Ai, Ax},
                            {1, N, Gp, Gi, Gx}, NULL, &b, &h};
    altdiff_objective f = {0};
    f.kind = ALTDIFF_OBJECTIVE_ENTROPY;
    f.y = y;
    altdiff_settings set = altdiff_settings_default();
    set.eps_abs = set.eps_rel = 1e-9;
    set.record = 1;
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    altdiff_work *w = NULL;
    int modes[3] = {ALTDIFF_MODE_GMRES, ALTDIFF_MODE_KKT, ALTDIFF_MODE_UNROLL}, rc;
    ad_fault_arm(k);
    rc = altdiff_setup_objective(&w, &prob, &f, &set);
    if (rc != ALTDIFF_OK) ck_assert_msg(w == NULL, "k = %ld: work not NULL", k);
    if (rc == ALTDIFF_OK) rc = altdiff_solve(w);
    if (rc == ALTDIFF_OK && altdiff_get_info(w)->status != ALTDIFF_SOLVED) rc = -100;
    for (int i = 0; i < 3 && rc == ALTDIFF_OK; i++) {
        ds.mode = modes[i];
        rc = altdiff_vjp(w, &ds, wx, dq, NULL, NULL, NULL);
        if (rc == ALTDIFF_OK) rc = altdiff_theta_grad(w, dq, dy + i * N);
    }
    ds.mode = ALTDIFF_MODE_KKT;
    if (rc == ALTDIFF_OK) rc = altdiff_jacobian(w, &ds, ALTDIFF_WRT_THETA, J, N, NULL);
    int fired = ad_fault_fired();
    ad_fault_arm(-1);
    altdiff_free(w);
    ck_assert_msg(rc == ALTDIFF_OK || (fired && (rc == ALTDIFF_ERR_NOMEM || rc == -100)),
                  "k = %ld: rc %d (%s), fault fired %d", k, rc, altdiff_error_string(rc), fired);
    return rc == ALTDIFF_OK ? (fired ? 1 : 0) : 2;
}

START_TEST(test_oom_entropy)
{
    install_hooks();
    double ref[24], dy[24];
    ck_assert_int_eq(entropy_run(-1, ref), 0);
    long k;
    for (k = 0; k < MAX_SWEEP; k++) {
        int r = entropy_run(k, dy);
        if (r == 2) continue;
        for (int i = 0; i < 24; i++)
            ck_assert_msg(fabs(dy[i] - ref[i]) <= 1e-6, "k = %ld: dy[%d] %g, ref %g", k, i,
                          dy[i], ref[i]);
        if (r == 0) break;
    }
    ck_assert_msg(k < MAX_SWEEP && k > 30, "sweep ended at k = %ld", k);
}
END_TEST

static int file_present(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static Suite *suite_oom(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("sweep");
    tcase_add_test(tc, test_oom_solver);
    tcase_add_test(tc, test_oom_setup_dense);
    tcase_add_test(tc, test_oom_solve_status);
    tcase_add_test(tc, test_oom_entropy);
    if (file_present(EQ_BOX "/q.mtx") && file_present(EQ_BOX "/P.mtx"))
        tcase_add_test(tc, test_oom_read_problem);
    else
        fprintf(stderr, "check_oom: %s missing, read_problem sweep NOT RUN\n", EQ_BOX);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(suite_oom()); }
