/*
 * altdiff: solve and differentiate convex QPs with polyhedral constraints
 *
 *     minimize    1/2 x'Px + q'x
 *     subject to  A x = b,   G x <= h
 *
 * by the Alt-Diff ADMM splitting (doc/MATH.md in the source tree).  n variables, m
 * equality rows, p inequality rows.  Duals: lam (m) for A x = b and nu >= 0
 * (p) for G x <= h; slack s = h - G x >= 0.
 *
 * Usage:
 *     altdiff_settings set = altdiff_settings_default();
 *     altdiff_work *w;
 *     if (altdiff_setup(&w, &prob, &set) == ALTDIFF_OK) {
 *         altdiff_solve(w);                       // info: altdiff_get_info(w)
 *         altdiff_get_solution(w, x, s, lam, nu);
 *     }
 *     altdiff_free(w);
 *
 * Conventions.  Every function returns ALTDIFF_OK (0) or a negative error code
 * (altdiff_error_string gives the text); the outcome of a solve is in
 * altdiff_info.status.  What went wrong and where ("q[17] is NaN", "A has
 * entries of 1e+300 in column 2: A'A has entries of 1e600 ...", "settings.rho
 * is 0 (needs 0 < rho < inf)") is in the message of altdiff_last_error (a
 * workspace), altdiff_batch_last_error (a batch) or the err buffer of
 * altdiff_setup_err, altdiff_setup_objective_err and altdiff_batch_setup_err
 * (before any workspace exists).  Input arrays are borrowed and copied by setup.  The
 * library never prints unless settings.verbose is set, never aborts, and has
 * no global state: separate workspaces may be used from separate threads.
 */
#ifndef ALTDIFF_H
#define ALTDIFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ALTDIFF_BUILDING) && defined(__GNUC__)
#define ALTDIFF_API __attribute__((visibility("default")))
#else
#define ALTDIFF_API
#endif

typedef int64_t altdiff_int; /* same width as SuiteSparse_long */

/* ---- return codes (the call worked or not) ------------------------------ */
#define ALTDIFF_OK 0
#define ALTDIFF_ERR_INVALID (-1)    /* bad argument, dimension, NaN/Inf, ... */
#define ALTDIFF_ERR_NOMEM (-2)      /* an allocation failed                  */
#define ALTDIFF_ERR_NOT_POSDEF (-3) /* H = P + rho A'A + rho G'G + sigma I
                                       is not positive definite: P is not
                                       positive semidefinite                 */
#define ALTDIFF_ERR_CHOLMOD (-4)    /* CHOLMOD failed (other than not posdef) */
#define ALTDIFF_ERR_IO (-5)         /* reading or writing a file failed       */
#define ALTDIFF_ERR_NOT_SOLVED (-6) /* needs a solved problem; from
                                       altdiff_get_solution: the values copied
                                       are not a usable point               */
#define ALTDIFF_ERR_NUMERICAL (-7)  /* a numerical failure inside a computation:
                                       non-finite values, a point outside a
                                       smooth objective's domain, or no
                                       Newton step that descends           */

/* ---- solve outcome (altdiff_info.status) -------------------------------- */
#define ALTDIFF_UNSOLVED 0           /* no solve yet                         */
#define ALTDIFF_SOLVED 1             /* residuals below tolerance            */
#define ALTDIFF_MAX_ITER 2           /* iteration limit reached              */
#define ALTDIFF_TIME_LIMIT 3         /* time limit reached                   */
#define ALTDIFF_PRIMAL_INFEASIBLE 4  /* certificate in altdiff_get_certificate */
#define ALTDIFF_DUAL_INFEASIBLE 5    /* unbounded below; certificate likewise */
#define ALTDIFF_NONCONVEX 6          /* H lost positive definiteness          */
#define ALTDIFF_NUMERICAL_ERROR 7    /* NaN/Inf appeared or CHOLMOD failed    */
#define ALTDIFF_NOT_AVAILABLE 8      /* derivative info of a batch element that
                                        was not solved: its gradients are 0  */

/* ---- defaults ----------------------------------------------------------- */
#define ALTDIFF_DEFAULT_RHO 0.1
#define ALTDIFF_DEFAULT_SIGMA 1e-6
#define ALTDIFF_DEFAULT_ALPHA 1.6
#define ALTDIFF_DEFAULT_EPS_ABS 1e-6
#define ALTDIFF_DEFAULT_EPS_REL 1e-6
#define ALTDIFF_DEFAULT_EPS_PINF 1e-5
#define ALTDIFF_DEFAULT_EPS_DINF 1e-5
#define ALTDIFF_DEFAULT_MAX_ITER 100000
#define ALTDIFF_DEFAULT_TIME_LIMIT 0.0
#define ALTDIFF_DEFAULT_CHECK_EVERY 10
#define ALTDIFF_DEFAULT_SCALING 10
#define ALTDIFF_DEFAULT_ADAPTIVE_RHO 1
#define ALTDIFF_DEFAULT_ADAPTIVE_RHO_TOL 5.0
#define ALTDIFF_DEFAULT_INFINITY 1e20
#define ALTDIFF_DEFAULT_VERBOSE_EVERY 100
#define ALTDIFF_DEFAULT_ANDERSON 5
#define ALTDIFF_DEFAULT_POLISH 1

/* Settings: start from altdiff_settings_default() and change fields. */
typedef struct {
    double rho;            /* initial penalty rho > 0 of the rows of G; the
                              rows of A get 1000 rho (a dense row kept out of
                              the factor: rho), doc/MATH.md 3.8               */
    double sigma;          /* proximal weight sigma >= 0 (makes H definite
                              for LPs and singular P; keeps the fixed point)   */
    double alpha;          /* over-relaxation, 0 < alpha < 2 (1 = plain)       */
    double eps_abs;        /* absolute tolerance of the stopping test          */
    double eps_rel;        /* relative tolerance of the stopping test          */
    double eps_pinf;       /* tolerance of the primal infeasibility test       */
    double eps_dinf;       /* tolerance of the dual infeasibility test         */
    altdiff_int max_iter;  /* iteration limit                                  */
    double time_limit;     /* seconds for altdiff_solve, 0 = none              */
    altdiff_int check_every; /* test termination every this many iterations   */
    int scaling;           /* Ruiz equilibration passes, 0 = off               */
    int adaptive_rho;      /* 1: rebalance rho (numeric refactorization only) */
    double adaptive_rho_tol; /* change rho only when it moves by this factor  */
    double infinity;       /* h_i >= infinity means row i has no bound         */
    int verbose;           /* 1: print a summary and an iteration log          */
    int record;            /* 1: record the slack mask of every iteration (p
                              bits each) for ALTDIFF_MODE_UNROLL; rho is then
                              kept fixed during the solve                      */
    altdiff_int verbose_every; /* iterations between log lines               */
    int anderson;          /* Anderson acceleration of the sweeps: columns of
                              memory, 0 = off, at most 50. Costs 2 anderson + 5
                              vectors of m + p doubles (allocated at setup)
                              and about 3 anderson such vector operations per
                              iteration; extrapolations that increase the
                              fixed-point residual are rejected. Keeps the
                              fixed point, so every derivative mode is
                              unchanged. Not used with record = 1, by
                              altdiff_solve_jvp, or for smooth objectives     */
    int polish;            /* solution polishing of QPs (README, doc/MATH.md
                              3.10): solve the equality-constrained QP on the
                              active set guessed from the ADMM point (up to
                              8 active-set guesses), keep it when it passes
                              the stopping test at least as well. 0 off;
                              1 (default): during the iterations once the
                              guess is stable and the iterations since the
                              last try paid for one (an accepted polish ends
                              the solve), and after them when cheap: skipped
                              when the predicted cost of the KKT
                              factorization exceeds the work of the solve
                              itself (a small system, below 1e7 flops, is
                              always polished); 2: as 1, and after the
                              iterations always                               */
} altdiff_settings;

/* Information about the last solve. Residuals are in the original
 * (unscaled) data, infinity norms:
 *   r_prim   = max( |A x - b|, |G x + s - h| )
 *   r_dual   = | P x + q + A'lam + G'nu |
 *   eps_prim = eps_abs + eps_rel * max( |A x|, |G x|, |b|, |h_i| over rows
 *                                       with s_i = 0 )
 *   eps_dual = eps_abs + eps_rel * max( |P x|, |q|, |A'lam + G'nu| )
 *   gap      = | x'Px + q'x + b'lam + h'nu |   (primal minus dual objective,
 *              f_p = 1/2 x'Px + q'x, f_d = -1/2 x'Px - b'lam - h'nu)
 *   eps_gap  = eps_abs + eps_rel * max( |f_p|, |f_d| )
 * The scales are quantities that cannot cancel or be widened by the residual
 * itself (A'lam + G'nu as one vector, the dual objective as one number).
 * The iterates always satisfy s >= 0, nu >= 0 and s_i nu_i = 0 exactly, so
 * r_prim <= eps_prim, r_dual <= eps_dual and gap <= eps_gap make x, s, lam,
 * nu an approximate KKT point: status ALTDIFF_SOLVED. Smooth objectives
 * have no gap test (gap = 0).
 *
 * Solution polishing (settings.polish, doc/MATH.md 3.10): after a QP solve
 * that ended SOLVED (or MAX_ITER within 100 times the tolerances), and
 * during the iterations once the guess is stable, the active set
 * J = { nu_i > 0 } of the ADMM point is taken as the exact one and the
 * equality-constrained QP on it,
 *     [P A' G_J'; A 0 0; G_J 0 0] (x, lam, nu_J) = (-q, b, h_J),
 * is solved with the KKT mode's factorization and iterative refinement;
 * nu = 0 off J, s = 0 on J and s = max(h - G x, 0) off J. Rows of J with
 * nu_i < 0 leave it and violated rows join it, and the system is solved
 * again (up to 8 guesses). The polished point is kept (info.polish = 1;
 * during the iterations it ends the solve) when it passes the stopping test
 * with max(r_prim/eps_prim, r_dual/eps_dual, gap/eps_gap) no larger than
 * the ADMM point's; else the ADMM point stays (info.polish = -1). A kept
 * point is the solution to the accuracy of the linear solve when the guess
 * is right, and the derivatives are taken there. Not done for smooth
 * objectives, with record = 1 or by altdiff_solve_jvp; batch elements are
 * polished as single solves are. An allocation failure while polishing makes the solve return
 * ALTDIFF_ERR_NOMEM (status ALTDIFF_NUMERICAL_ERROR); a failed
 * factorization is a rejection. */
typedef struct {
    int status;            /* ALTDIFF_SOLVED, ALTDIFF_MAX_ITER, ...            */
    altdiff_int iter;      /* iterations taken                                 */
    double obj;            /* 1/2 x'Px + q'x                                   */
    double r_prim, r_dual; /* residuals (see above)                            */
    double eps_prim, eps_dual;
    double gap, eps_gap;   /* duality gap and its tolerance (see above)        */
    double rho;            /* final penalty                                    */
    altdiff_int rho_updates; /* numeric refactorizations for a new rho        */
    altdiff_int dropped_rows; /* inequality rows with h_i >= infinity         */
    double t_analyze;      /* seconds: symbolic analysis (setup; 0 when A, G
                              are dense: there is none)                      */
    double t_factor;       /* seconds: all numeric factorizations              */
    double t_setup;        /* seconds: the whole of setup                      */
    double t_iterate;      /* seconds: the iterations of the last solve        */
    double nnz_L;          /* nonzeros in the Cholesky factor of H             */
    double mem_factor;     /* peak bytes held by CHOLMOD (dense A, G: those
                              of the n x n array of H and its factor)        */
    altdiff_int newton_steps; /* smooth objectives: Newton steps of the last
                              solve (all x-updates together)                   */
    altdiff_int aa_steps;  /* Anderson extrapolations taken in the last solve  */
    altdiff_int aa_rejected; /* and rejected by the safeguard                  */
    altdiff_int hess_updates; /* smooth objectives: numeric refactorizations
                              for a new Hess f during the last solve           */
    int polish;            /* solution polishing of the last solve: 0 not tried,
                              1 accepted (the iterates are the polished point),
                              -1 rejected (the ADMM point is kept)             */
    double t_polish;       /* seconds: polishing (not in t_iterate)            */
} altdiff_info;

/* A sparse matrix in compressed sparse column form (borrowed, 0-based):
 * column j holds rows i[p[j] .. p[j+1]-1] with values x[...]; p has ncol+1
 * entries. Row indices within a column need not be sorted but must not
 * repeat. A matrix with nrow or ncol 0 may have NULL arrays; any other matrix
 * needs p (ncol + 1 entries, p[0] = 0, nondecreasing: a matrix without
 * entries has p all 0) and, when p[ncol] > 0, i and x. */
typedef struct {
    altdiff_int nrow, ncol;
    const altdiff_int *p, *i;
    const double *x;
} altdiff_csc;

/* The problem. P is n x n symmetric: store its upper triangle, its lower
 * triangle or both (then they must agree). A is m x n, G is p x n; m = 0 or
 * p = 0 means no such block (b or h may then be NULL). h_i >= infinity
 * (settings) drops row i. */
typedef struct {
    altdiff_int n, m, p;
    altdiff_csc P, A, G;
    const double *q; /* n */
    const double *b; /* m */
    const double *h; /* p */
} altdiff_problem;

typedef struct altdiff_work altdiff_work; /* opaque workspace */

/* ---- core API ----------------------------------------------------------- */
ALTDIFF_API altdiff_settings altdiff_settings_default(void);

/* Validate and copy the problem, scale it, form H = P + rho A'A + rho G'G +
 * sigma I, analyze and factor it. On failure *work is NULL and nothing
 * leaks. ALTDIFF_ERR_INVALID for a bad argument, size, index or value
 * (NaN/Inf anywhere, h_i = -inf), a setting out of range, and for data whose
 * products overflow: a diagonal entry of H that is not finite in double
 * precision (e.g. A with entries of 1e300: A'A has entries of 1e600).
 * ALTDIFF_ERR_NOT_POSDEF when H is finite but not positive definite (P is
 * not positive semidefinite). */
ALTDIFF_API int altdiff_setup(altdiff_work **work, const altdiff_problem *prob,
                              const altdiff_settings *settings);

/* altdiff_setup that also writes why it failed into err (errlen bytes,
 * always NUL terminated; may be NULL): one line saying what and where,
 * e.g. "q[17] is NaN", "P.p[3] = -7 < P.p[2] = 2: column pointers must not
 * decrease", "G: row index 5 out of range 0..2 (column 1, entry 3)",
 * "settings.alpha is 2 (needs 0 < alpha < 2)". Empty on success. */
ALTDIFF_API int altdiff_setup_err(altdiff_work **work, const altdiff_problem *prob,
                                  const altdiff_settings *settings, char *err, size_t errlen);

/* The text of the last error of a call on work: what and where (the
 * message of a failed update, warm start or solve; "" when the last solve or
 * failing call left none). Valid until the next call on work; never NULL
 * (for work NULL a fixed text). */
ALTDIFF_API const char *altdiff_last_error(const altdiff_work *work);

/* Run ADMM from the current iterates (zero after setup, the last solution
 * after a solve, or what altdiff_warm_start set). Returns ALTDIFF_OK when the
 * solve ran, whatever its outcome: see altdiff_get_info()->status.
 * A workspace recovers by itself: after a solve that ended in
 * ALTDIFF_NUMERICAL_ERROR or ALTDIFF_NONCONVEX, or left iterates with NaN or
 * Inf, the next solve refactors H at settings.rho and sigma (the last ones
 * of altdiff_update_rho) and starts from clean iterates: zero (a smooth
 * objective: its start point), or what altdiff_warm_start set in between;
 * altdiff_last_error then says what happened. */
ALTDIFF_API int altdiff_solve(altdiff_work *work);

ALTDIFF_API const altdiff_info *altdiff_get_info(const altdiff_work *work);

/* Copy out the last iterates: x (n), s (p), lam (m), nu (p). Any pointer may
 * be NULL. For a dropped row (h_i >= infinity) nu_i = 0 and s_i = h_i.
 * Returns ALTDIFF_OK when the iterates are a usable point: the last solve
 * reached ALTDIFF_SOLVED, or any other outcome (iteration or time limit,
 * infeasible, no solve yet) with finite iterates; ALTDIFF_ERR_NOT_SOLVED
 * when the last solve ended in ALTDIFF_NUMERICAL_ERROR or ALTDIFF_NONCONVEX
 * or an iterate is NaN or Inf (the values are copied all the same). */
ALTDIFF_API int altdiff_get_solution(const altdiff_work *work, double *x, double *s,
                                     double *lam, double *nu);

/* Certificates after ALTDIFF_PRIMAL_INFEASIBLE (dlam (m), dnu (p) >= 0 with
 * A'dlam + G'dnu ~ 0 and b'dlam + h'dnu < 0) or ALTDIFF_DUAL_INFEASIBLE
 * (dx (n) with P dx ~ 0, A dx ~ 0, G dx <= ~0, q'dx < 0), normalized to
 * infinity norm 1. NULL pointers are skipped. The arrays are copied in any
 * case; ALTDIFF_ERR_NOT_SOLVED when the last solve did not end in
 * ALTDIFF_PRIMAL_INFEASIBLE or ALTDIFF_DUAL_INFEASIBLE (no certificate). */
ALTDIFF_API int altdiff_get_certificate(const altdiff_work *work, double *dx,
                                        double *dlam, double *dnu);

/* Set the iterates the next solve starts from. NULL means zero, except x
 * for a smooth objective: there NULL means its start point, and a given x
 * must be in the domain (else ALTDIFF_ERR_INVALID). Every value must be
 * finite ("lam[2] is NaN" in altdiff_last_error); nothing changes on
 * failure.
 *
 * The updates below validate their arguments like setup (NaN/Inf, h_i =
 * -inf, ...; the message in altdiff_last_error names the array and index)
 * and change nothing when they fail: the data, the factor of H and the
 * iterates (in original units) stay those before the call. */
ALTDIFF_API int altdiff_warm_start(altdiff_work *work, const double *x, const double *s,
                                   const double *lam, const double *nu);

/* New q, b, h (NULL = unchanged). No refactorization. A row dropped at setup
 * must stay infinite and a kept row finite (else ALTDIFF_ERR_INVALID). */
ALTDIFF_API int altdiff_update_vectors(altdiff_work *work, const double *q, const double *b,
                                       const double *h);

/* New values of P, A, G on the patterns given at setup (arrays in the same
 * order as the x arrays given then; NULL = unchanged). Rescales and refactors
 * numerically; no new symbolic analysis. ALTDIFF_ERR_INVALID also when H
 * overflows, ALTDIFF_ERR_NOT_POSDEF when it is not positive definite: the
 * old values are then restored (and factored again). The workspace keeps
 * only the scaled matrices: a block passed as NULL is recovered from them
 * and scaled again, so it may move by round-off (a few units in the last
 * place per call); pass every block to have exactly the values given. */
ALTDIFF_API int altdiff_update_matrices(altdiff_work *work, const double *Px, const double *Ax,
                                        const double *Gx);

/* New penalty rho > 0 and/or sigma >= 0 (negative = unchanged): numeric
 * refactorization only. ALTDIFF_ERR_INVALID for rho = 0, NaN or Inf values
 * and for a rho that makes rho A'A + rho G'G overflow; on a failed
 * factorization the old rho and sigma stay. */
ALTDIFF_API int altdiff_update_rho(altdiff_work *work, double rho, double sigma);

/* Release everything; accepts NULL. */
ALTDIFF_API void altdiff_free(altdiff_work *work);

ALTDIFF_API const char *altdiff_error_string(int code);
/* The library's version, "major.minor.patch" (as meson.build's project) */
ALTDIFF_API const char *altdiff_version(void);
ALTDIFF_API const char *altdiff_status_string(int status);

/* ---- derivatives (doc/MATH.md) ----------------------------------------------- */
/* Every mode differentiates the solution x* of the last successful solve
 * (info.status == ALTDIFF_SOLVED, else ALTDIFF_ERR_NOT_SOLVED) with the
 * active set frozen (nu_i > 0), reusing the factor of H; only the KKT mode
 * factors a matrix of its own: M = P + rho_K C'C + sigma I on the pattern of
 * H (C: A and the active rows of G; H's symbolic analysis reused), solved
 * by augmented-Lagrangian steps and refined against the KKT matrix; or,
 * when dense rows of G are kept out of H or C has dependent rows and the
 * right-hand side leaves the range of the KKT matrix, a regularized LDL' of
 * the KKT matrix itself. */
#define ALTDIFF_MODE_ADJOINT 0 /* reverse, folded: fixed-point iteration       */
#define ALTDIFF_MODE_GMRES 1   /* reverse, folded: restarted GMRES             */
#define ALTDIFF_MODE_UNROLL 2  /* reverse through recorded iterations          */
#define ALTDIFF_MODE_ALTDIFF 3 /* forward, the Alt-Diff recursion (JVPs)       */
#define ALTDIFF_MODE_KKT 4     /* exact implicit differentiation of the KKT    */
#define ALTDIFF_MODE_AUTO (-1) /* altdiff_fastest_mode's choice (batches and
                                  altdiff_vjp / altdiff_jvp)                   */

#define ALTDIFF_WRT_Q 0
#define ALTDIFF_WRT_B 1
#define ALTDIFF_WRT_H 2
#define ALTDIFF_WRT_THETA 3 /* the objective's parameters (see altdiff_objective) */

typedef struct {
    int mode;             /* ALTDIFF_MODE_*                                      */
    double eps;           /* stop when the relative change (fixed-point modes) or
                             relative residual (GMRES) of the tangents/adjoints
                             falls below eps                                     */
    altdiff_int max_iter; /* iteration limit of the iterative modes              */
    altdiff_int restart;  /* GMRES restart length                                */
    altdiff_int block;    /* Jacobian columns computed together (memory bound)   */
} altdiff_deriv_settings;

typedef struct {
    int status;           /* ALTDIFF_SOLVED (converged) or ALTDIFF_MAX_ITER      */
    altdiff_int iter;     /* iterations (largest over Jacobian blocks)           */
    double residual;      /* achieved relative residual / change                 */
    double time;          /* seconds                                             */
    altdiff_int active;   /* rows of G with nu_i > 0                             */
    altdiff_int weakly_active; /* rows with nu_i = 0 and zero slack: the
                             derivative is not unique there                     */
} altdiff_deriv_info;

/* A direction in parameter space; NULL fields are zero. Matrix directions are
 * values on the patterns given at setup (same order as the x arrays). */
typedef struct {
    const double *q, *b, *h;
    const double *Px, *Ax, *Gx;
    const double *theta; /* the objective's parameters (k, altdiff_objective);
                            for a QP theta is q, so this adds to q           */
} altdiff_direction;

ALTDIFF_API altdiff_deriv_settings altdiff_deriv_settings_default(void);

/* The mode expected to be fastest after the last solve, from a flop model
 * (sizes of the factor, of the data, the solve's iteration count and, above
 * a size, CHOLMOD's symbolic analysis of the KKT matrix): for one VJP
 * (columns = 0) ALTDIFF_MODE_GMRES or ALTDIFF_MODE_KKT; for a Jacobian with
 * that many columns (>= 1) ALTDIFF_MODE_ALTDIFF or ALTDIFF_MODE_KKT. */
ALTDIFF_API int altdiff_fastest_mode(const altdiff_work *work, altdiff_int columns);

/* Reverse mode: for the cotangent wx = dL/dx (n), dq = dL/dq (n), db (m),
 * dh (p). Any output may be NULL. Modes ADJOINT, GMRES, UNROLL (needs a
 * solve with settings.record = 1), KKT, and ALTDIFF (forward mode, one block
 * of Jacobian columns at a time: n + m + p tangents, for checking). */
ALTDIFF_API int altdiff_vjp(altdiff_work *work, const altdiff_deriv_settings *ds,
                            const double *wx, double *dq, double *db, double *dh,
                            altdiff_deriv_info *info);

/* Matrix gradients from dq, db, dh (doc/MATH.md): dL/dP = 1/2 (dq x' + x dq'),
 * dL/dA = lam dq' - db x', dL/dG = nu dq' - dh x', as derivatives with
 * respect to the stored values given at setup (arrays in that order: nnz of
 * P, A, G). An off-diagonal entry of P given once stands for both P_ij and
 * P_ji; an entry given in both triangles gets half of the pair's gradient.
 * For a non-quadratic objective dPx must be NULL (there is no P). */
ALTDIFF_API int altdiff_matrix_grads(const altdiff_work *work, const double *dq,
                                     const double *db, const double *dh, double *dPx,
                                     double *dAx, double *dGx);

/* Forward mode: dx = J dir. Modes ALTDIFF and KKT. dir->Px must be NULL
 * for a non-quadratic objective. */
ALTDIFF_API int altdiff_jvp(altdiff_work *work, const altdiff_deriv_settings *ds,
                            const altdiff_direction *dir, double *dx, altdiff_deriv_info *info);

/* Solve (as altdiff_solve) and run the Alt-Diff recursion along the
 * direction dir (q, b, h, theta only; matrix directions give
 * ALTDIFF_ERR_INVALID) alongside the iterations, as in the Alt-Diff paper:
 * one tangent sweep per iteration, at that iteration's rho and slack mask
 * (for a smooth objective also at its Hessian: H is then refactored at every
 * iterate, so the iterates can differ from altdiff_solve's within the
 * tolerance). dx (n) receives the
 * tangent of the final iterate; info->residual is its last relative change,
 * info->status ALTDIFF_SOLVED when the solve is (see altdiff_get_info). */
ALTDIFF_API int altdiff_solve_jvp(altdiff_work *work, const altdiff_direction *dir, double *dx,
                                  altdiff_deriv_info *info);

/* Full Jacobian dx/dq (n x n), dx/db (n x m), dx/dh (n x p) or dx/dtheta
 * (n x k, ALTDIFF_WRT_THETA, see altdiff_objective), column-major with
 * leading dimension ldJ >= n. Modes ALTDIFF (columns in blocks) and KKT. */
ALTDIFF_API int altdiff_jacobian(altdiff_work *work, const altdiff_deriv_settings *ds, int wrt,
                                 double *J, altdiff_int ldJ, altdiff_deriv_info *info);

/* ---- differentiating at a given point ------------------------------------ */

/* Install (x, s, lam, nu) (original units; s and nu over all p given rows,
 * NULL = 0) as the workspace's solution without solving, e.g. a solution a
 * layer kept from an earlier solve. The point is tested as a solve's
 * iterates are (residuals and tolerances of altdiff_info, in original
 * units) after the projection s, nu >= 0, s_i nu_i = 0 (nu_i > s_i keeps
 * nu_i): info.status becomes ALTDIFF_SOLVED when it passes, ALTDIFF_UNSOLVED
 * otherwise (then the derivative functions return ALTDIFF_ERR_NOT_SOLVED).
 * Returns ALTDIFF_OK when the point was installed (whatever the test says),
 * ALTDIFF_ERR_INVALID for non-finite values. Quadratic objectives only. */
ALTDIFF_API int altdiff_set_solution(altdiff_work *work, const double *x, const double *s,
                                     const double *lam, const double *nu);

/* ---- batches (doc/MATH.md, "Batches") ------------------------------------ */
/* B problems that share P, A, G (and the settings) and differ in q, b, h:
 * one scaling, one symbolic analysis and one factor of H serve all
 * elements. The x-updates of the elements still iterating are one solve
 * with many right-hand sides; rho is shared (adapted from the elements'
 * residuals together, one refactorization for all); Anderson acceleration,
 * stopping tests and statuses are per element, and an element that has
 * stopped costs no more work. Each element keeps its solution, so the
 * derivative functions may be called any number of times after a solve.
 *
 * Layout of batch arrays: element-major. An array of vectors of length L
 * (n for q, x, dq, dx; m for b, lam, db; p for h, s, nu, dh) holds element
 * k's vector at offset k * L: a column-major L x B matrix, or a C-ordered
 * (B, L) NumPy array. Functions that take a range of elements (first,
 * count) read or write count such vectors, element first + j at offset
 * j * L (for inputs: j * ld, with ld = 0 meaning one vector for all).
 *
 * Failures stay in their element: an infeasible, unbounded or unfinished
 * element gets its status (and certificate); its derivatives are zero with
 * deriv-info status ALTDIFF_NOT_AVAILABLE; the other elements are unaffected
 * (ALTDIFF_OK is returned). Rows with h_i >= infinity must be the same for
 * every element (they are chosen at setup from prob->h). Quadratic
 * objectives only. */
typedef struct altdiff_batch altdiff_batch; /* opaque */

/* Validate and copy prob (its q, b, h become every element's vectors),
 * scale it, form, analyze and factor H once. B >= 1. On failure *batch is
 * NULL. Settings: as altdiff_setup (record = 1 is not supported). */
ALTDIFF_API int altdiff_batch_setup(altdiff_batch **batch, const altdiff_problem *prob,
                                    altdiff_int B, const altdiff_settings *settings);

/* altdiff_batch_setup writing why it failed into err (as altdiff_setup_err) */
ALTDIFF_API int altdiff_batch_setup_err(altdiff_batch **batch, const altdiff_problem *prob,
                                        altdiff_int B, const altdiff_settings *settings,
                                        char *err, size_t errlen);

/* The text of the last error of a call on batch ("element 3: q[1] is NaN",
 * or the first element whose solve failed); as altdiff_last_error */
ALTDIFF_API const char *altdiff_batch_last_error(const altdiff_batch *batch);

ALTDIFF_API altdiff_int altdiff_batch_size(const altdiff_batch *batch);

/* New vectors for elements first .. first + count - 1: element first + j
 * reads q + j * ldq (n values), b + j * ldb (m), h + j * ldh (p); ld = 0:
 * the same vector for every element of the range; NULL: unchanged. No
 * refactorization (the scaling is kept). The elements forget their
 * solutions (status ALTDIFF_UNSOLVED) but keep their iterates as warm
 * starts. Nothing changes when any value is invalid. */
ALTDIFF_API int altdiff_batch_set_vectors(altdiff_batch *batch, altdiff_int first,
                                          altdiff_int count, const double *q, altdiff_int ldq,
                                          const double *b, altdiff_int ldb, const double *h,
                                          altdiff_int ldh);

/* New values of the shared P, A, G (as altdiff_update_matrices): one
 * rescaling and one numeric refactorization for the whole batch. Elements
 * given matrices of their own (altdiff_batch_set_matrices) keep theirs (and
 * their solutions). */
ALTDIFF_API int altdiff_batch_update_matrices(altdiff_batch *batch, const double *Px,
                                              const double *Ax, const double *Gx);

/* Matrices per element, on the patterns given at setup (qpth's batch of P):
 * element first + j takes the values Px + j * ldP (nnz(P) values in the
 * order given at setup), Ax + j * ldA, Gx + j * ldG; ld = 0: one array for
 * every element of the range; NULL: that matrix stays as the element has it
 * (the shared one, or its own from an earlier call). Each such element gets
 * a model of its own (values, scaling with the cost factor from its current
 * q, dense copies, factor of H) that reuses the batch's symbolic analysis
 * of H (a copy of the analyzed factor, refactored numerically: never a new
 * analysis). Its iterates are kept as a warm start; it forgets its solution.
 * Those elements are solved and differentiated one by one as a workspace
 * would be (its own penalty adaptation and polishing), on up to
 * altdiff_batch_set_threads threads; the others keep the block solve on the
 * shared factor. Validated like altdiff_update_matrices, all or nothing: a
 * NaN or Inf (ALTDIFF_ERR_INVALID), an overflow of H or a failed allocation
 * changes no element, and altdiff_batch_last_error names the element.
 * An element whose H = P + rho A'A + rho G'G + sigma I is not positive
 * definite (P not positive semidefinite) is NOT an error of this call
 * (failures stay in their element): it takes the values, the call returns
 * ALTDIFF_OK with the element named in altdiff_batch_last_error, and its
 * solves end at once with status ALTDIFF_NONCONVEX (0 iterations, the
 * derivatives ALTDIFF_NOT_AVAILABLE) until it gets usable values; the other
 * elements are unaffected. Costs per element: scaling, forming H and one
 * numeric factorization (the threads share this work as well), and the
 * memory of a workspace's model (matrices, H, its factor). */
ALTDIFF_API int altdiff_batch_set_matrices(altdiff_batch *batch, altdiff_int first,
                                           altdiff_int count, const double *Px, altdiff_int ldP,
                                           const double *Ax, altdiff_int ldA, const double *Gx,
                                           altdiff_int ldG);

/* Threads for the elements with matrices of their own (set_matrices,
 * solve, vjp, jvp): 1 (the default) = the calling thread only, 0 = one per
 * core online, k = at most k (the caller's among them). Each thread works on
 * whole elements and writes nothing another reads, so the results are
 * bit-identical to a serial run whatever k. Elements on the shared model
 * always run on the calling thread (one block solve). The BLAS may start
 * threads of its own as well. ALTDIFF_ERR_INVALID for k < 0. */
ALTDIFF_API int altdiff_batch_set_threads(altdiff_batch *batch, int threads);

/* Start every element from zero iterates (the default after setup). */
ALTDIFF_API int altdiff_batch_cold_start(altdiff_batch *batch);

/* Solve every element (from its current iterates). ALTDIFF_OK whenever the
 * solve ran; per-element outcomes in altdiff_batch_get_info. Recovery as
 * for a workspace: an element whose last solve ended in
 * ALTDIFF_NUMERICAL_ERROR or ALTDIFF_NONCONVEX, or left NaN/Inf, starts
 * from zero iterates, and after such a failure the shared H is refactored
 * at settings.rho first. */
ALTDIFF_API int altdiff_batch_solve(altdiff_batch *batch);

/* Element k's info (NULL for k out of range): status, iterations, residuals,
 * objective; rho and timings are the batch's (an element with matrices of
 * its own: its own rho, factorization and setup times, t_analyze 0). */
ALTDIFF_API const altdiff_info *altdiff_batch_get_info(const altdiff_batch *batch,
                                                       altdiff_int k);

/* Solutions of elements first .. first + count - 1 (element-major: x n,
 * s p, lam m, nu p values per element; NULL skipped). ALTDIFF_ERR_NOT_SOLVED
 * (values copied all the same) when one of them failed as in
 * altdiff_get_solution. */
ALTDIFF_API int altdiff_batch_get_solution(const altdiff_batch *batch, altdiff_int first,
                                           altdiff_int count, double *x, double *s,
                                           double *lam, double *nu);

/* Reverse mode for every element at its stored solution: wx (n x B) ->
 * dq (n x B), db (m x B), dh (p x B) (NULL outputs skipped). ds->mode:
 * ADJOINT or GMRES (all elements together on the shared factor), KKT
 * (element by element), AUTO (the cost model's choice), ALTDIFF. info: B
 * entries or NULL. */
ALTDIFF_API int altdiff_batch_vjp(altdiff_batch *batch, const altdiff_deriv_settings *ds,
                                  const double *wx, double *dq, double *db, double *dh,
                                  altdiff_deriv_info *info);

/* Matrix gradients from the vector gradients dq, db, dh of
 * altdiff_batch_vjp (n x B, m x B, p x B), as altdiff_matrix_grads per
 * element: with sum = 1 summed over the elements (dPx: nnz(P) values, ...,
 * the gradient of shared matrices); with sum = 0 per element (dPx:
 * nnz(P) x B element-major, ...). Elements not solved contribute 0.
 * An element with matrices of its own (altdiff_batch_set_matrices) gives
 * the gradient with respect to its own values, so for per-element matrices
 * the per-element form (sum = 0) is what a layer needs; sum = 1 still adds
 * every element's gradient (the gradient of a value shared by all). */
ALTDIFF_API int altdiff_batch_matrix_grads(const altdiff_batch *batch, const double *dq,
                                           const double *db, const double *dh, double *dPx,
                                           double *dAx, double *dGx, int sum);

/* Forward mode for every element: dx (n x B) = J_k dir_k, where dir->q,
 * dir->b, dir->h are n x B, m x B, p x B (element-major, NULL = 0) and
 * dir->Px, Ax, Gx one direction of the matrices for all elements (of an
 * element's own matrices when it has them). Modes ALTDIFF, KKT, AUTO.
 * info: B entries or NULL. */
ALTDIFF_API int altdiff_batch_jvp(altdiff_batch *batch, const altdiff_deriv_settings *ds,
                                  const altdiff_direction *dir, double *dx,
                                  altdiff_deriv_info *info);

/* Release everything; accepts NULL. */
ALTDIFF_API void altdiff_batch_free(altdiff_batch *batch);

/* ---- smooth convex objectives (doc/MATH.md, "Smooth convex objectives") ------ */
/*     minimize    f(x; theta) + q'x
 *     subject to  A x = b,   G x <= h
 * with f convex and twice differentiable on an open domain, its Hessian of a
 * fixed sparsity pattern. The x-update of ADMM becomes damped Newton on the
 * augmented Lagrangian with H_k = Hess f(x) + rho A'A + rho G'G + sigma I:
 * the pattern of H is analyzed once at setup and only refactored
 * numerically when the Hessian has moved enough to slow Newton down (so most
 * steps reuse a factor); steps are cut back to stay in the domain (x > 0 for
 * the entropy) and to decrease the augmented Lagrangian. Every iterate x~ is
 * in the domain and the solution returned is one of them.
 *
 * Derivatives: every mode of the QP works, with P replaced by Hess f(x*)
 * (the factor of H is refreshed at x* at the end of every solve). The
 * parameters are q, b, h, A, G as for a QP (the vector dq of altdiff_vjp is
 * dL/dq for the linear term q'x) and theta, through
 *     dq_eff = (d grad f / d theta) dtheta,   dL/dtheta = (d grad f / d theta)' dL/dq
 * (altdiff_theta_grad, altdiff_direction.theta, ALTDIFF_WRT_THETA).
 * ALTDIFF_MODE_UNROLL refactors H at every recorded iterate (settings.record
 * then also keeps x~ of each iteration: n doubles per iteration).
 *
 * Built-in objectives and callbacks:
 *   ALTDIFF_OBJECTIVE_QUADRATIC  1/2 x'Px + q'x from the problem (theta = q,
 *                                k = n): the same solver as altdiff_setup
 *                                (one exact Newton step per x-update)
 *   ALTDIFF_OBJECTIVE_ENTROPY    -y'x + sum_i x_i log x_i on x > 0
 *                                (theta = y, k = n; with 1'x = 1 and x >= 0
 *                                the softmax of y, with more rows a
 *                                constrained softmax)
 *   ALTDIFF_OBJECTIVE_CALLBACK   the callbacks below (theta has length k)
 * Unboundedness is not detected for non-quadratic objectives (f should be
 * bounded below on the feasible set): such a solve ends at the iteration
 * limit or with ALTDIFF_NUMERICAL_ERROR. Neither is infeasibility (no point
 * of the domain meets the constraints, e.g. the entropy with 1'x = 1 and
 * x_1 >= 2): it ends the same way, and altdiff_last_error names it as the
 * likely cause of a numerical error. */
#define ALTDIFF_OBJECTIVE_QUADRATIC 0
#define ALTDIFF_OBJECTIVE_ENTROPY 1
#define ALTDIFF_OBJECTIVE_CALLBACK 2

typedef struct {
    int kind;          /* ALTDIFF_OBJECTIVE_*                                  */
    const double *y;   /* ENTROPY: y (n), copied at setup                      */
    /* CALLBACK only (the pointers are kept: user must outlive the workspace) */
    altdiff_int k;     /* length of theta, >= 0                                */
    altdiff_csc hess;  /* n x n pattern of Hess f: upper, lower or both
                          triangles as for P (values ignored); it must hold
                          every entry the Hessian can ever have             */
    const double *x0;  /* n: a point of the domain; the first Newton point    */
    void *user;        /* passed to every callback                            */
    /* Each returns 0, or nonzero when x is not in the domain of f (then the
     * outputs are ignored). Outputs are filled completely. */
    int (*value)(void *user, const double *x, double *f);
    int (*gradient)(void *user, const double *x, double *g);   /* g (n)       */
    int (*hessian)(void *user, const double *x, double *hx);   /* values on the
                                                     entries of hess, its order */
    /* Optional (NULL: steps are halved until f is finite): the distance to
     * the domain's boundary along d, the largest t > 0 such that x + t' d is
     * in the domain for all 0 <= t' < t (INFINITY if there is no boundary);
     * Newton steps stop at 0.99 of it. */
    double (*max_step)(void *user, const double *x, const double *d);
    /* Products with the n x k matrix J = d grad f / d theta at x (required
     * when k > 0, unused when k = 0): out (n) = J v, out (k) = J' u */
    void (*dgrad)(void *user, const double *x, const double *v, double *out);
    void (*dgrad_t)(void *user, const double *x, const double *u, double *out);
} altdiff_objective;

/* Setup (as altdiff_setup) for the objective f plus q'x: prob gives n, m,
 * p, A, b, G, h and q (NULL: 0); prob->P must have no entries unless f is
 * ALTDIFF_OBJECTIVE_QUADRATIC (which reads P and q from prob and needs q).
 * ALTDIFF_ERR_INVALID also when x0 (or, for the entropy, its start point) is
 * outside the domain or a callback is missing. The solve starts at x0 (the
 * entropy: x_i = min(exp(y_i - 1), 1)), or at the x of altdiff_warm_start,
 * which must then be in the domain. */
ALTDIFF_API int altdiff_setup_objective(altdiff_work **work, const altdiff_problem *prob,
                                        const altdiff_objective *f,
                                        const altdiff_settings *settings);

/* altdiff_setup_objective writing why it failed into err (as
 * altdiff_setup_err) */
ALTDIFF_API int altdiff_setup_objective_err(altdiff_work **work, const altdiff_problem *prob,
                                            const altdiff_objective *f,
                                            const altdiff_settings *settings, char *err,
                                            size_t errlen);

/* New theta for the built-ins (QUADRATIC: q, ENTROPY: y; n values, all
 * finite, else ALTDIFF_ERR_INVALID and nothing changes): no
 * refactorization. For CALLBACK theta must be NULL: the caller changed its
 * own data, and the workspace forgets its solution. */
ALTDIFF_API int altdiff_update_theta(altdiff_work *work, const double *theta);

/* Length k of theta (n for the built-ins and for QPs; may be 0 for
 * callbacks); -1 for work NULL */
ALTDIFF_API altdiff_int altdiff_theta_size(const altdiff_work *work);

/* dL/dtheta (k) = (d grad f / d theta)' dq at the solution, from dq = dL/dq
 * of altdiff_vjp (any mode): a QP or QUADRATIC gives dtheta = dq, the entropy
 * dy = -dq. */
ALTDIFF_API int altdiff_theta_grad(const altdiff_work *work, const double *dq, double *dtheta);

/* ---- problem directories (Matrix Market) -------------------------------- */

/* A problem that owns its arrays (read from files or generated). */
typedef struct {
    altdiff_problem prob; /* views into the arrays below */
    altdiff_int *Pp, *Pi, *Ap, *Ai, *Gp, *Gi;
    double *Px, *Ax, *Gx, *q, *b, *h;
} altdiff_owned_problem;

/* Read DIR/{P,q,A,b,G,h}.mtx. A missing A/b (G/h) pair means an empty block.
 * On error returns ALTDIFF_ERR_IO or ALTDIFF_ERR_INVALID, leaves *out NULL
 * and writes a one-line message naming the file (and line) into err. */
ALTDIFF_API int altdiff_read_problem(const char *dir, altdiff_owned_problem **out, char *err,
                                     size_t errlen);
ALTDIFF_API void altdiff_free_problem(altdiff_owned_problem *prob);

/* Read an entropy problem, DIR/{y,A,b,G,h}.mtx and optionally DIR/q.mtx (the
 * linear term; prob.q NULL when absent): y (n x 1) fixes n, P.mtx must be
 * absent (prob.P is empty). *y receives y (altdiff_free_array). Errors as
 * altdiff_read_problem; on failure *out and *y are NULL. */
ALTDIFF_API int altdiff_read_entropy_problem(const char *dir, altdiff_owned_problem **out,
                                             double **y, char *err, size_t errlen);

/* Read a QPS/MPS file (fixed or free MPS with the QPS extension of the
 * Maros-Meszaros set; gzip-compressed files, e.g. FILE.qps.gz, too):
 *     minimize c'x + 1/2 x'Qx + c0  s.t.  row bounds, l <= x <= u
 * becomes the problem P = Q, q = c with
 *   A x = b:  E rows (and ranged rows with both sides equal), then columns
 *             with l == u (FX), one row x_j = l each;
 *   G x <= h: L rows a'x <= rhs, G rows -a'x <= -rhs, ranged rows as two rows
 *             (a'x <= hi, -a'x <= -lo), then per column -x_j <= -l and
 *             x_j <= u for the finite bounds (default l = 0, u = +inf; values
 *             of magnitude >= 1e20 are infinite and give no row).
 * Sections: NAME, OBJSENSE (MAX: the minimization of -f is returned, q, P and
 * c0 negated), OBJNAME, ROWS, COLUMNS (MARKER INTORG/INTEND: integrality is
 * ignored, the variables are continuous), RHS (the objective row's RHS is
 * -c0, the QPS convention), RANGES (E rows: R > 0 gives [rhs, rhs + R], R < 0
 * [rhs + R, rhs]; L: [rhs - |R|, rhs]; G: [rhs, rhs + |R|]), BOUNDS (UP, LO,
 * FX, FR, MI, PL, BV, LI, UI; SC is an error: not convex; a negative UP with
 * the default lower bound sets l = -inf), QUADOBJ or QSECTION (one triangle
 * of Q) or QMATRIX (all of Q, which must be symmetric), ENDATA. Of several
 * RHS, RANGES or BOUNDS sets the first is used. The file is read as free MPS
 * and, if that fails, as fixed MPS (names with blanks).
 * *obj_constant (may be NULL) receives c0: add it to info.obj for the
 * objective of the file. On success err holds the warnings (several sets,
 * integrality ignored, OBJSENSE MAX, ...), one line each, or is empty. On
 * error returns ALTDIFF_ERR_IO (cannot open or read), ALTDIFF_ERR_INVALID
 * (malformed: unknown section, row or column, an entry given twice, QMATRIX
 * not symmetric, bad numbers) or ALTDIFF_ERR_NOMEM, leaves *out NULL and
 * writes "PATH:LINE: what is wrong" into err. Free with altdiff_free_problem. */
ALTDIFF_API int altdiff_read_qps(const char *path, altdiff_owned_problem **out,
                                 double *obj_constant, char *err, size_t errlen);

/* Read an n x 1 Matrix Market vector. */
ALTDIFF_API int altdiff_read_vector(const char *path, altdiff_int n, double **v, char *err,
                                    size_t errlen);

/* Read a dense Matrix Market matrix of any shape (array, or coordinate with
 * absent entries 0; real or integer) into *x, nrow x ncol values in
 * column-major order (free with altdiff_free_array). Errors as
 * altdiff_read_vector; on failure *x is NULL. A coordinate file may announce
 * at most 2^20 values (nrow x ncol), or one per byte of the file beyond:
 * ALTDIFF_ERR_INVALID otherwise, from its size line. */
ALTDIFF_API int altdiff_read_dense(const char *path, double **x, altdiff_int *nrow,
                                   altdiff_int *ncol, char *err, size_t errlen);

/* Read a batch directory (for altdiff_batch_setup): as altdiff_read_problem,
 * except that q.mtx, b.mtx and h.mtx may have several columns, one vector per
 * element: n x kq, m x kb, p x kh with each of kq, kb, kh either 1 (the
 * vector is shared by every element) or B, the number of elements (*B, the
 * largest count; another count is ALTDIFF_ERR_INVALID naming the file).
 * The owned arrays hold every column ((*out)->q: n x kq column-major, b, h
 * likewise) and the view (*out)->prob the first columns, so prob is element
 * 0 as a single problem. cols (3 entries, may be NULL) receives kq, kb, kh
 * (1 for an absent block). Files of one column everywhere: the problem of
 * altdiff_read_problem and *B = 1. Errors as altdiff_read_problem. */
ALTDIFF_API int altdiff_read_problem_batch(const char *dir, altdiff_owned_problem **out,
                                           altdiff_int *B, altdiff_int cols[3], char *err,
                                           size_t errlen);

/* Release an array returned by altdiff_read_vector; accepts NULL. */
ALTDIFF_API void altdiff_free_array(void *v);

/* Write an nrow x ncol column-major dense array as Matrix Market. */
ALTDIFF_API int altdiff_write_dense(const char *path, const double *x, altdiff_int nrow,
                                    altdiff_int ncol, char *err, size_t errlen);

/* Write a sparse matrix as "coordinate real general", or with symmetric = 1
 * (M square, holding its upper triangle) as "coordinate real symmetric" with
 * the lower triangle, as Matrix Market asks. */
ALTDIFF_API int altdiff_write_sparse(const char *path, const altdiff_csc *M, int symmetric,
                                     char *err, size_t errlen);

/* ---- folding any fixed-point solver (doc/MATH.md, reverse mode) -------------- */
/* Differentiate the fixed point z* = T(z*, theta) of an iteration
 * z+ = T(z, theta) (z: N, theta: K) that the caller ran to convergence, from
 * the Jacobians of one step at z*, J_z = dT/dz (N x N) and J_theta =
 * dT/dtheta (N x K), given by their actions. With I - J_z nonsingular
 * (e.g. T a contraction):
 *     reverse:  (I - J_z)' u = wz,      dL/dtheta = J_theta' u
 *     forward:  (I - J_z) dz = J_theta v
 * Each call applies J_z' (or J_z) once per iteration and J_theta' (or J_theta)
 * once. The callbacks get the user pointer, must fill out completely and may
 * not keep u; input and output never alias. Nothing is kept between calls. */
typedef struct {
    altdiff_int N;  /* state length, > 0                                      */
    altdiff_int K;  /* parameter length, > 0                                  */
    void *user;     /* passed to every callback                               */
    void (*jtz)(void *user, const double *u, double *out);     /* out = J_z' u     (N -> N) */
    void (*jttheta)(void *user, const double *u, double *out); /* out = J_theta' u (N -> K) */
    void (*jz)(void *user, const double *v, double *out);      /* out = J_z v      (N -> N) */
    void (*jtheta)(void *user, const double *v, double *out);  /* out = J_theta v  (K -> N) */
} altdiff_fold;

/* Reverse mode (needs jtz, jttheta): gtheta (K) = dL/dtheta for the cotangent
 * wz = dL/dz* (N). ds->mode ALTDIFF_MODE_ADJOINT: the fixed-point iteration
 * u <- J_z'u + wz from u = wz, stopped when the change is below eps times
 * |u|_inf; ALTDIFF_MODE_GMRES: restarted GMRES on I - J_z', stopped at a
 * relative residual below eps (recomputed at the end). info (may be NULL):
 * status ALTDIFF_SOLVED, ALTDIFF_MAX_ITER (gtheta is then from the last
 * iterate) or ALTDIFF_NUMERICAL_ERROR (a callback gave NaN/Inf), iter (J_z'
 * applications), residual, time. Returns ALTDIFF_OK whenever the solve ran,
 * ALTDIFF_ERR_INVALID (NULL or missing callback, N or K <= 0, bad ds, other
 * modes, non-finite wz) or ALTDIFF_ERR_NOMEM. Memory: 2N doubles
 * (ADJOINT) or N (k + 2) + O(k^2), k = min(restart, max_iter) (GMRES). */
ALTDIFF_API int altdiff_fold_vjp(const altdiff_fold *f, const altdiff_deriv_settings *ds,
                                 const double *wz, double *gtheta, altdiff_deriv_info *info);

/* Forward mode (needs jz, jtheta): dz (N) = (dz* / dtheta) v for vtheta (K).
 * ds->mode ALTDIFF_MODE_ALTDIFF: the recursion dz <- J_z dz + J_theta v from
 * dz = J_theta v; ALTDIFF_MODE_GMRES: restarted GMRES on I - J_z. Stopping,
 * info, return codes and memory as for altdiff_fold_vjp. */
ALTDIFF_API int altdiff_fold_jvp(const altdiff_fold *f, const altdiff_deriv_settings *ds,
                                 const double *vtheta, double *dz, altdiff_deriv_info *info);

#ifdef __cplusplus
}
#endif
#endif /* ALTDIFF_H */
