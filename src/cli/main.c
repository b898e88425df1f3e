/*
 * altdiff: the command-line tool.
 *
 *   altdiff solve DIR [--objective quadratic|entropy] [--out OUTDIR] [--eps E]
 *                 [--max-iter N] [--rho R] [--anderson M] [--polish 0|1|2]
 *                 [--time-limit S] [--verbose]
 *                 [--grad W.mtx [--matrix-grads] | --jacobian q|b|h|y]
 *                 [--mode adjoint|gmres|unroll|altdiff|kkt] [--grad-eps E]
 *   altdiff solve FILE.qps|.mps|.sif[.gz] [the same options]
 *   altdiff convert FILE.qps OUTDIR
 *   altdiff gen FAMILY OUTDIR [key=value ...]
 *   altdiff bench FAMILY|DIR OUT.csv [key=value ...] [options]   (runs altdiff-bench)
 *   altdiff --help
 *
 * Objectives. quadratic (default): 1/2 x'Px + q'x from DIR/P.mtx, q.mtx.
 * entropy: -y'x + sum x_i log x_i (+ q'x when DIR/q.mtx exists) from
 * DIR/y.mtx, which fixes n; a P.mtx is then bad input. Both take the
 * constraint pairs A.mtx/b.mtx, G.mtx/h.mtx (a missing pair: no block).
 * For the entropy, --grad writes dy.mtx = dL/dy (altdiff_theta_grad of dq)
 * instead of dq.mtx, --matrix-grads no dP.mtx, and --jacobian y writes
 * Jy.mtx = dx/dy (ALTDIFF_WRT_THETA); --jacobian y needs the entropy.
 *
 * A quadratic directory whose q.mtx, b.mtx or h.mtx has several columns is
 * a batch of problems sharing P, A, G (solve_batch.c).
 *
 * A problem given as a file (anything that is not a directory) is read as
 * QPS/MPS (altdiff_read_qps): its warnings go to stderr and its objective
 * constant is added to the objective of the summary. "convert" writes such a
 * file as a problem directory with the constant in OUTDIR/constant.txt.
 *
 * Exit status, one per cause: 0 solved (or generated); 1 the solver stopped
 * without a solution (infeasible, unbounded, limits, numerical trouble) or a
 * derivative did not converge; 2 usage error; 3 bad input (unreadable or
 * malformed files, invalid problem); 4 cannot write the output (nothing
 * written); 5 out of memory, wherever it happens (reading, setup, solve,
 * derivatives, output), including an address-space limit too small for the
 * BLAS (see blas_memory_guard).
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "altdiff.h"
#include "cli.h"
#include "gen.h"

static void usage(FILE *f)
{
    fputs("usage:\n"
            "  altdiff solve DIR [--objective quadratic|entropy] [--out OUTDIR] [--eps E]\n"
            "                [--max-iter N] [--rho R] [--anderson M] [--polish 0|1|2]\n"
            "                [--time-limit S] [--verbose]\n"
            "                [--grad W.mtx [--matrix-grads] | --jacobian q|b|h|y] [--mode M]\n"
            "                [--grad-eps E]\n"
            "  altdiff solve FILE.qps [the same options]\n"
            "  altdiff convert FILE.qps OUTDIR\n"
            "  altdiff gen FAMILY OUTDIR [key=value ...]\n"
            "  altdiff bench FAMILY|DIR OUT.csv [key=value ...] [options]\n"
            "  altdiff --help\n\n"
            "solve: read the problem  min 1/2 x'Px + q'x  s.t.  A x = b, G x <= h  from DIR\n"
            "  (Matrix Market files P.mtx, q.mtx, and optionally A.mtx + b.mtx, G.mtx + h.mtx;\n"
            "  a missing pair means no such constraints, a missing P.mtx means P = 0;\n"
            "  h_i >= 1e20 means row i has no bound), solve it with the Alt-Diff ADMM and\n"
            "  print a summary: status, iterations, objective, residuals, times, memory.\n",
            f);
    fputs("  Batch: when q.mtx, b.mtx or h.mtx has B > 1 columns (a file of one column is\n"
            "  shared), DIR is B problems sharing P, A, G, solved together on one factor;\n"
            "  a batch summary is printed, --out writes arrays of B columns and status.txt\n"
            "  (per element: index, status, iterations[, derivative]) whatever the\n"
            "  statuses, --grad takes W of 1 or B columns, --matrix-grads sums over the\n"
            "  elements, --jacobian and --mode unroll are not available; exit 0 only when\n"
            "  every element was solved (and differentiated)\n",
            f);
    fprintf(f,
            "  FILE.qps instead of DIR (any file; .qps, .mps, .sif, also gzipped .gz): a QPS/MPS\n"
            "  file (fixed or free MPS, QUADOBJ/QMATRIX, RANGES, BOUNDS, OBJSENSE; the first\n"
            "  RHS/RANGES/BOUNDS set; warnings on stderr); the objective printed includes\n"
            "  its constant (for OBJSENSE MAX it is that of the minimization of -f)\n"
            "  --objective O  quadratic (default): the QP above. entropy: minimize\n"
            "                 -y'x + sum x_i log x_i (+ q'x if DIR/q.mtx exists) subject to\n"
            "                 the same constraints, over x > 0 (a constrained softmax), with\n"
            "                 y from DIR/y.mtx (n x 1, fixes n); DIR must not hold a P.mtx.\n"
            "                 Solved by ADMM with Newton x-updates (the dual residual has\n"
            "                 grad f(x) + q in place of Px + q); the summary adds the\n"
            "                 Newton steps and Hessian refactorizations\n"
            "  --out OUTDIR   write x.mtx, s.mtx, lam.mtx, nu.mtx (Matrix Market arrays) into\n"
            "                 OUTDIR (created if needed), only when solved; nothing is left\n"
            "                 half-written\n"
            "  --eps E        absolute and relative tolerance of the stopping test\n"
            "                 (default %g): |Ax-b|, |Gx+s-h| <= E + E max(|Ax|,|b|,|Gx|,|h-s|)\n"
            "                 and |Px+q+A'lam+G'nu| <= E + E max(|Px|,|q|,|A'lam|,|G'nu|)\n"
            "  --max-iter N   iteration limit (default %d)\n"
            "  --rho R        initial penalty (default %g; adapted during the solve)\n"
            "  --anderson M   Anderson acceleration with M columns of memory (default %d;\n"
            "                 0 = plain ADMM iterations, at most 50)\n",
            ALTDIFF_DEFAULT_EPS_ABS, ALTDIFF_DEFAULT_MAX_ITER, ALTDIFF_DEFAULT_RHO,
            ALTDIFF_DEFAULT_ANDERSON);
    fprintf(f,
            "  --polish P     solution polishing after the iterations (quadratic objective):\n"
            "                 solve the KKT system on the active set of the ADMM point and\n"
            "                 keep the result when its residuals and gap are no worse;\n"
            "                 0 off, 1 when cheap (default %d), 2 always; the summary's\n"
            "                 'polish:' line tells whether it was accepted\n"
            "  --time-limit S stop the iterations after S seconds (status: time limit)\n"
            "  --verbose      print an iteration log\n"
            "  --grad W.mtx   also differentiate: with w = dL/dx (n x 1 array) write dq.mtx,\n"
            "                 db.mtx, dh.mtx (db/dh when that block exists) into OUTDIR;\n"
            "                 entropy: dy.mtx = dL/dy instead of dq.mtx\n"
            "  --matrix-grads with --grad, also dP.mtx, dA.mtx, dG.mtx (coordinate, on the\n"
            "                 pattern of the input; dP symmetric, lower triangle);\n"
            "                 entropy: dA.mtx, dG.mtx only\n"
            "  --jacobian X   write JX.mtx = dx/dX (n x dim X array) for X = q, b or h, or\n"
            "                 (entropy only) y: Jy.mtx = dx/dy (n x n)\n"
            "  --mode M       derivative mode: gmres (folded reverse mode, restarted GMRES),\n"
            "                 adjoint (folded, fixed-point iteration), unroll (reverse\n"
            "                 through the recorded iterations; rho is then not adapted),\n"
            "                 altdiff (forward Alt-Diff recursion), kkt (exact implicit\n"
            "                 differentiation). Default: the fastest by a flop model of\n"
            "                 the solved problem (gmres or kkt; for --jacobian altdiff\n"
            "                 or kkt), shown on the 'backward:' line\n"
            "  --grad-eps E   derivative tolerance (default: the value of --eps)\n"
            "  The summary adds a line 'backward:' with mode, time, iterations, residual.\n\n"
            "  A solved QP's point is checked by the tool on its own (residuals, gap and\n"
            "  signs against twice the tolerances, in original units): the summary line\n"
            "  'check: passed', or 'check: FAILED: why' and exit status 1, nothing written.\n\n"
            "exit status: 0 solved, 1 not solved (infeasible, unbounded, limit, numerical\n"
            "  error, failed check, derivative not converged; the reason is on stderr),\n"
            "  2 usage error,\n"
            "  3 bad input (unreadable, malformed or inconsistent files), 4 output error\n"
            "  (nothing written), 5 out of memory (anywhere, including a memory limit\n"
            "  such as ulimit -v too small for the BLAS work buffer)\n\n",
            ALTDIFF_DEFAULT_POLISH);
    fputs("altdiff convert FILE.qps OUTDIR\n"
          "  Read FILE.qps as solve does and write the problem directory OUTDIR (created\n"
          "  if needed): P.mtx (coordinate real symmetric), q.mtx, A.mtx + b.mtx, G.mtx +\n"
          "  h.mtx (when those blocks have rows) and constant.txt (the objective constant);\n"
          "  the files appear together or not at all.\n",
          f);
    cli_gen_usage(f);
    fputs("altdiff bench FAMILY|DIR OUT.csv [key=value ...] [options]\n"
          "  Runs the benchmark harness altdiff-bench (built next to altdiff, not\n"
          "  installed) with the same arguments: 'altdiff bench --help' for its options.\n",
          f);
}

/* Parse an integer in [0, max]; 0 on failure */
static int parse_count(const char *s, int max, int *v)
{
    char *end;
    errno = 0;
    long k = strtol(s, &end, 10);
    if (errno || end == s || *end || k < 0 || k > max) return 0;
    *v = (int)k;
    return 1;
}

/* Parse a positive finite double; 0 on failure */
static int parse_pos(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && errno == 0 && isfinite(*v) && *v > 0;
}


/* ALTDIFF_MODE_* for a name, or -1 */
static int parse_mode(const char *s)
{
    for (int k = 0; k < 5; k++)
        if (!strcmp(s, cli_mode_name(k))) return k;
    return -1;
}

/* ALTDIFF_WRT_* for the letter of --jacobian (y: the objective's theta) */
static int parse_wrt(char c)
{
    return c == 'q' ? ALTDIFF_WRT_Q : c == 'b' ? ALTDIFF_WRT_B : c == 'h' ? ALTDIFF_WRT_H
                                                                          : ALTDIFF_WRT_THETA;
}

/* The derivative options that need a value; 1 if o was one of them and valid */
static int parse_deriv_option(const char *o, const char *v, solve_args *a)
{
    double e;
    if (!strcmp(o, "--grad")) a->grad = v;
    else if (!strcmp(o, "--mode")) a->mode = parse_mode(v);
    else if (!strcmp(o, "--grad-eps") && parse_pos(v, &e)) a->grad_eps = e;
    else if (!strcmp(o, "--jacobian") && strlen(v) == 1 && strchr("qbhy", v[0]))
        a->jacobian = parse_wrt(v[0]);
    else return 0;
    return !(o[2] == 'm' && a->mode < 0);
}

/* --objective NAME into *objective; EXIT_SOLVED or EXIT_USAGE (reported) */
static int parse_objective(const char *name, int *objective)
{
    if (!strcmp(name, "quadratic")) *objective = ALTDIFF_OBJECTIVE_QUADRATIC;
    else if (!strcmp(name, "entropy")) *objective = ALTDIFF_OBJECTIVE_ENTROPY;
    else {
        fprintf(stderr, "altdiff solve: unknown objective '%s' (quadratic or entropy)\n", name);
        return EXIT_USAGE;
    }
    return EXIT_SOLVED;
}

/* Consistency of the derivative options; EXIT_SOLVED or EXIT_USAGE */
static int check_deriv_options(solve_args *a)
{
    const char *why = NULL;
    if (a->grad && a->jacobian >= 0) why = "--grad and --jacobian exclude each other";
    else if ((a->grad || a->jacobian >= 0) && !a->out) why = "--grad/--jacobian need --out";
    else if (a->matrix_grads && !a->grad) why = "--matrix-grads needs --grad";
    else if (a->mode >= 0 && !a->grad && a->jacobian < 0) why = "--mode needs --grad or --jacobian";
    else if (a->jacobian >= 0 && a->mode >= 0 && a->mode != ALTDIFF_MODE_ALTDIFF &&
             a->mode != ALTDIFF_MODE_KKT)
        why = "--jacobian takes --mode altdiff or kkt";
    else if (a->jacobian == ALTDIFF_WRT_THETA && a->objective != ALTDIFF_OBJECTIVE_ENTROPY)
        why = "--jacobian y needs --objective entropy";
    if (why) {
        fprintf(stderr, "altdiff solve: %s (see altdiff --help)\n", why);
        return EXIT_USAGE;
    }
    if (a->mode == ALTDIFF_MODE_UNROLL) a->set.record = 1;
    return EXIT_SOLVED;
}

/* Parse the options of "solve"; EXIT_SOLVED or EXIT_USAGE */
static int parse_solve(int argc, char **argv, solve_args *a)
{
    a->dir = NULL;
    a->out = NULL;
    a->objective = ALTDIFF_OBJECTIVE_QUADRATIC;
    a->set = altdiff_settings_default();
    a->grad = NULL;
    a->matrix_grads = 0;
    a->jacobian = -1;
    a->mode = -1;
    a->grad_eps = 0;
    for (int k = 2; k < argc; k++) {
        const char *o = argv[k];
        double v;
        int has = k + 1 < argc;
        if (!strcmp(o, "--verbose")) {
            a->set.verbose = 1;
        } else if (!strcmp(o, "--matrix-grads")) {
            a->matrix_grads = 1;
        } else if (has && parse_deriv_option(o, argv[k + 1], a)) {
            k++;
        } else if (!strcmp(o, "--out") && has) {
            a->out = argv[++k];
        } else if (!strcmp(o, "--objective") && has) {
            if (parse_objective(argv[++k], &a->objective) != EXIT_SOLVED) return EXIT_USAGE;
        } else if (!strcmp(o, "--eps") && has && parse_pos(argv[k + 1], &v)) {
            a->set.eps_abs = a->set.eps_rel = v;
            k++;
        } else if (!strcmp(o, "--rho") && has && parse_pos(argv[k + 1], &v)) {
            a->set.rho = v;
            k++;
        } else if (!strcmp(o, "--anderson") && has && parse_count(argv[k + 1], 50, &a->set.anderson)) {
            k++;
        } else if (!strcmp(o, "--polish") && has && parse_count(argv[k + 1], 2, &a->set.polish)) {
            k++;
        } else if (!strcmp(o, "--time-limit") && has && parse_pos(argv[k + 1], &v)) {
            a->set.time_limit = v;
            k++;
        } else if (!strcmp(o, "--max-iter") && has && parse_pos(argv[k + 1], &v) &&
                   v == floor(v) && v < 1e15) {
            a->set.max_iter = (altdiff_int)v;
            k++;
        } else if (o[0] != '-' && !a->dir) {
            a->dir = o;
        } else {
            fprintf(stderr, "altdiff solve: bad or incomplete option '%s' (see altdiff --help)\n",
                    o);
            return EXIT_USAGE;
        }
    }
    if (!a->dir) {
        fprintf(stderr, "altdiff solve: missing problem directory (see altdiff --help)\n");
        return EXIT_USAGE;
    }
    return check_deriv_options(a);
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The summary; c0 is the objective constant of a QPS file (0 otherwise) */
static void print_summary(const altdiff_info *info, double t_read, int objective, double c0)
{
    printf("status: %s\n", altdiff_status_string(info->status));
    printf("iterations: %ld\n", (long)info->iter);
    if (c0 != 0)
        printf("objective: %.12e (with the constant %.12e)\n", info->obj + c0, c0);
    else
        printf("objective: %.12e\n", info->obj);
    printf("residuals: primal %.3e (tol %.3e), dual %.3e (tol %.3e)\n", info->r_prim,
           info->eps_prim, info->r_dual, info->eps_dual);
    if (objective == ALTDIFF_OBJECTIVE_QUADRATIC)
        printf("gap: %.3e (tol %.3e)\n", info->gap, info->eps_gap);
    printf("rho: %.3e (%ld updates)\n", info->rho, (long)info->rho_updates);
    if (info->dropped_rows > 0)
        printf("dropped rows: %ld (h >= 1e20)\n", (long)info->dropped_rows);
    if (objective == ALTDIFF_OBJECTIVE_QUADRATIC)
        printf("polish: %s (%.4f s)\n",
               info->polish > 0 ? "accepted" : info->polish < 0 ? "rejected" : "not tried",
               info->t_polish);
    if (objective == ALTDIFF_OBJECTIVE_QUADRATIC)
        printf("anderson: %ld extrapolations, %ld rejected\n", (long)info->aa_steps,
               (long)info->aa_rejected);
    else
        printf("newton: %ld steps, %ld Hessian refactorizations\n", (long)info->newton_steps,
               (long)info->hess_updates);
    printf("time: read %.4f s, analyze %.4f s, factor %.4f s, setup %.4f s, iterate %.4f s\n",
           t_read, info->t_analyze, info->t_factor, info->t_setup, info->t_iterate);
    printf("memory: nnz(L) %.0f, factor %.1f MB, peak RSS %.1f MB\n", info->nnz_L,
           info->mem_factor / 1048576.0, cli_peak_rss_mb());
}

/* Everything a solve writes: solution, gradients, Jacobian */
typedef struct {
    double *x, *s, *lam, *nu;       /* solution                        */
    double *dq, *db, *dh;           /* --grad                          */
    double *dy;                     /* --grad, entropy: dL/dy          */
    double *dP, *dA, *dG;           /* --matrix-grads                  */
    double *J;                      /* --jacobian                      */
    altdiff_csc Pv, Av, Gv;         /* the patterns with dP, dA, dG    */
    out_file files[12];
    int count;
} outputs;

static void free_outputs(outputs *o)
{
    double *bufs[] = {o->x,  o->s,  o->lam, o->nu, o->dq, o->db,
                      o->dh, o->dy, o->dP,  o->dA, o->dG, o->J};
    for (int k = 0; k < 12; k++) free(bufs[k]);
}

static void add_file(outputs *o, const char *name, const double *x, altdiff_int nrow,
                     altdiff_int ncol)
{
    out_file f = {name, x, nrow, ncol, NULL, 0, NULL};
    o->files[o->count++] = f;
}

static void add_sparse(outputs *o, const char *name, altdiff_csc *v, const altdiff_csc *pat,
                       const double *x, int symmetric)
{
    *v = *pat;
    v->x = x;
    out_file f = {name, NULL, 0, 0, v, symmetric, NULL};
    o->files[o->count++] = f;
}

static double *alloc_vec(altdiff_int len) { return malloc(sizeof(double) * (size_t)(len + 1)); }

static int nnz(const altdiff_csc *M) { return M->p ? (int)M->p[M->ncol] : 0; }

/* Print the 'backward:' line; EXIT_SOLVED if the derivative converged
 * (a failure's reason: the workspace's message when it has one) */
static int report_backward(const altdiff_work *w, int rc, const altdiff_deriv_info *di, int mode)
{
    printf("backward: mode %s, time %.4f s, iterations %ld, residual %.3e, %s\n",
           cli_mode_name(mode), di->time, (long)di->iter, di->residual,
           rc != ALTDIFF_OK ? altdiff_error_string(rc)
                            : di->status == ALTDIFF_SOLVED ? "converged" : "not converged");
    if (di->weakly_active > 0)
        printf("backward: %ld weakly active rows (nu = 0 and s = 0): the derivative is not "
               "unique there\n", (long)di->weakly_active);
    if (rc != ALTDIFF_OK || di->status != ALTDIFF_SOLVED) {
        const char *why = altdiff_last_error(w);
        fprintf(stderr, "altdiff: derivative failed: %s\n",
                rc == ALTDIFF_OK ? "did not reach --grad-eps"
                : why && why[0] ? why : altdiff_error_string(rc));
        return exit_for(rc, EXIT_UNSOLVED);
    }
    return EXIT_SOLVED;
}

/* --matrix-grads: dP (quadratic objective only), dA, dG into o from the
 * vector gradients o->dq, o->db, o->dh */
static int matrix_gradients(altdiff_work *w, const altdiff_problem *prob, const solve_args *a,
                            outputs *o)
{
    int qp = a->objective == ALTDIFF_OBJECTIVE_QUADRATIC, rc = ALTDIFF_OK;
    o->dP = qp ? alloc_vec(nnz(&prob->P)) : NULL;
    o->dA = alloc_vec(nnz(&prob->A));
    o->dG = alloc_vec(nnz(&prob->G));
    if ((qp && !o->dP) || !o->dA || !o->dG ||
        (rc = altdiff_matrix_grads(w, o->dq, o->db, o->dh, o->dP, o->dA, o->dG)) != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: matrix gradients failed: %s\n",
                altdiff_error_string(rc != ALTDIFF_OK ? rc : ALTDIFF_ERR_NOMEM));
        return exit_for(rc != ALTDIFF_OK ? rc : ALTDIFF_ERR_NOMEM, EXIT_UNSOLVED);
    }
    if (qp) add_sparse(o, "dP.mtx", &o->Pv, &prob->P, o->dP, 1);
    if (prob->m > 0) add_sparse(o, "dA.mtx", &o->Av, &prob->A, o->dA, 0);
    if (prob->p > 0) add_sparse(o, "dG.mtx", &o->Gv, &prob->G, o->dG, 0);
    return EXIT_SOLVED;
}

/* --grad: read w, VJPs (and matrix gradients) into o; for the entropy dy
 * (altdiff_theta_grad of dq) takes the place of dq */
static int gradients(altdiff_work *w, const altdiff_problem *prob, const solve_args *a,
                     const altdiff_deriv_settings *ds, outputs *o)
{
    char err[1024];
    double *wv = NULL;
    int rc = altdiff_read_vector(a->grad, prob->n, &wv, err, sizeof(err));
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s\n", err);
        return exit_for(rc, EXIT_INPUT);
    }
    o->dq = alloc_vec(prob->n);
    o->db = alloc_vec(prob->m);
    o->dh = alloc_vec(prob->p);
    altdiff_deriv_info di;
    memset(&di, 0, sizeof(di));
    rc = (o->dq && o->db && o->dh) ? altdiff_vjp(w, ds, wv, o->dq, o->db, o->dh, &di)
                                   : ALTDIFF_ERR_NOMEM;
    altdiff_free_array(wv);
    int status = report_backward(w, rc, &di, ds->mode);
    if (status != EXIT_SOLVED) return status;
    if (a->objective == ALTDIFF_OBJECTIVE_QUADRATIC) {
        add_file(o, "dq.mtx", o->dq, prob->n, 1);
    } else { /* dy = (d grad f / dy)' dq = -dq for the entropy */
        altdiff_int k = altdiff_theta_size(w);
        o->dy = k >= 0 ? alloc_vec(k) : NULL;
        rc = o->dy ? altdiff_theta_grad(w, o->dq, o->dy) : ALTDIFF_ERR_NOMEM;
        if (rc != ALTDIFF_OK) {
            fprintf(stderr, "altdiff: dL/dy failed: %s\n", altdiff_error_string(rc));
            return exit_for(rc, EXIT_UNSOLVED);
        }
        add_file(o, "dy.mtx", o->dy, k, 1);
    }
    if (prob->m > 0) add_file(o, "db.mtx", o->db, prob->m, 1);
    if (prob->p > 0) add_file(o, "dh.mtx", o->dh, prob->p, 1);
    return a->matrix_grads ? matrix_gradients(w, prob, a, o) : EXIT_SOLVED;
}

/* Columns of the Jacobian with respect to wrt (ALTDIFF_WRT_*) */
static altdiff_int jacobian_cols(const altdiff_work *w, const altdiff_problem *prob, int wrt)
{
    return wrt == ALTDIFF_WRT_Q   ? prob->n
           : wrt == ALTDIFF_WRT_B ? prob->m
           : wrt == ALTDIFF_WRT_H ? prob->p
                                  : altdiff_theta_size(w);
}

/* --jacobian: J = dx/dX into o (X = q, b, h or, ALTDIFF_WRT_THETA, y) */
static int jacobian(altdiff_work *w, const altdiff_problem *prob, const solve_args *a,
                    const altdiff_deriv_settings *ds, outputs *o)
{
    static const char *names[] = {"Jq.mtx", "Jb.mtx", "Jh.mtx", "Jy.mtx"};
    altdiff_int cols = jacobian_cols(w, prob, a->jacobian);
    if (cols < 0) {
        fprintf(stderr, "altdiff: the Jacobian: %s\n", altdiff_error_string((int)cols));
        return EXIT_UNSOLVED;
    }
    o->J = malloc(sizeof(double) * (size_t)(prob->n * cols + 1));
    altdiff_deriv_info di;
    memset(&di, 0, sizeof(di));
    int rc = o->J ? altdiff_jacobian(w, ds, a->jacobian, o->J, prob->n, &di) : ALTDIFF_ERR_NOMEM;
    int status = report_backward(w, rc, &di, ds->mode);
    if (status == EXIT_SOLVED) add_file(o, names[a->jacobian], o->J, prob->n, cols);
    return status;
}

/* Solution (and derivatives) of a solved workspace into OUTDIR */
static int write_results(altdiff_work *w, const altdiff_problem *prob, const solve_args *a)
{
    outputs o;
    memset(&o, 0, sizeof(o));
    o.x = alloc_vec(prob->n);
    o.s = alloc_vec(prob->p);
    o.lam = alloc_vec(prob->m);
    o.nu = alloc_vec(prob->p);
    if (!o.x || !o.s || !o.lam || !o.nu) {
        free_outputs(&o);
        fprintf(stderr, "altdiff: out of memory\n");
        return EXIT_NOMEM;
    }
    altdiff_get_solution(w, o.x, o.s, o.lam, o.nu);
    add_file(&o, "x.mtx", o.x, prob->n, 1);
    add_file(&o, "s.mtx", o.s, prob->p, 1);
    add_file(&o, "lam.mtx", o.lam, prob->m, 1);
    add_file(&o, "nu.mtx", o.nu, prob->p, 1);
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    altdiff_int cols = a->jacobian >= 0 ? jacobian_cols(w, prob, a->jacobian) : 0;
    ds.mode = a->mode >= 0 ? a->mode
                           : altdiff_fastest_mode(w, a->jacobian >= 0 ? (cols > 0 ? cols : 1) : 0);
    ds.eps = a->grad_eps > 0 ? a->grad_eps : a->set.eps_abs;
    int status = EXIT_SOLVED;
    if (a->grad) status = gradients(w, prob, a, &ds, &o);
    else if (a->jacobian >= 0) status = jacobian(w, prob, a, &ds, &o);
    if (status == EXIT_SOLVED) status = cli_write_outputs(a->out, o.files, o.count);
    free_outputs(&o);
    return status;
}

/* Setup for the objective of a (y: the entropy's y); why it failed in err */
static int setup_work(altdiff_work **w, const altdiff_problem *prob, const double *y,
                      const solve_args *a, char *err, size_t errlen)
{
    altdiff_objective f;
    if (a->objective == ALTDIFF_OBJECTIVE_QUADRATIC)
        return altdiff_setup_err(w, prob, &a->set, err, errlen);
    memset(&f, 0, sizeof(f));
    f.kind = a->objective;
    f.y = y;
    return altdiff_setup_objective_err(w, prob, &f, &a->set, err, errlen);
}

/* The independent KKT check of a solved QP (kktcheck.c): printed as the
 * summary's "check:" line; EXIT_UNSOLVED when it fails */
static int verify(altdiff_work *w, const altdiff_problem *prob, const solve_args *a)
{
    altdiff_int n = prob->n, m = prob->m, p = prob->p;
    double *x = alloc_vec(n), *s = alloc_vec(p), *lam = alloc_vec(m), *nu = alloc_vec(p);
    char why[160] = "out of memory";
    int ok = -1;
    if (x && s && lam && nu && altdiff_get_solution(w, x, s, lam, nu) == ALTDIFF_OK)
        ok = cli_kkt_check(prob, x, s, lam, nu, altdiff_get_info(w), a->set.infinity, why,
                           sizeof(why));
    free(x), free(s), free(lam), free(nu);
    printf("check: %s%s%s\n", ok > 0 ? "passed" : "FAILED", ok > 0 ? "" : ": ", ok > 0 ? "" : why);
    if (ok > 0) return EXIT_SOLVED;
    fprintf(stderr, "altdiff: %s: the solver's point fails the independent KKT check: %s\n",
            a->dir, why);
    return ok < 0 ? EXIT_NOMEM : EXIT_UNSOLVED;
}

/* Solve and write; the exit status */
static int solve_and_report(const altdiff_problem *prob, const double *y, const solve_args *a,
                            double t_read, double c0)
{
    altdiff_work *w = NULL;
    char err[256];
    int rc = setup_work(&w, prob, y, a, err, sizeof(err));
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s: %s: %s\n", a->dir, altdiff_error_string(rc), err);
        return rc == ALTDIFF_ERR_NOT_POSDEF || rc == ALTDIFF_ERR_INVALID ? EXIT_INPUT
                                                                          : exit_for(rc, EXIT_UNSOLVED);
    }
    rc = altdiff_solve(w);
    const altdiff_info *info = altdiff_get_info(w);
    print_summary(info, t_read, a->objective, c0);
    int status = EXIT_SOLVED;
    if (rc != ALTDIFF_OK || info->status != ALTDIFF_SOLVED) {
        fprintf(stderr, "altdiff: %s: not solved: %s\n", a->dir,
                rc != ALTDIFF_OK ? altdiff_error_string(rc) : altdiff_status_string(info->status));
        status = exit_for(rc, EXIT_UNSOLVED);
    } else if (a->objective == ALTDIFF_OBJECTIVE_QUADRATIC &&
               (status = verify(w, prob, a)) != EXIT_SOLVED) {
        /* said by verify */
    } else if (a->out) {
        status = write_results(w, prob, a);
    }
    altdiff_free(w);
    return status;
}

/* 1 if path is to be read as a QPS/MPS file: an existing file that is not a
 * directory, or a name ending in .qps, .mps, .sif (any case, also + .gz);
 * else it is a problem directory */
static int is_qps_path(const char *path)
{
    static const char *ext[] = {".qps", ".mps", ".sif"};
    struct stat st;
    if (stat(path, &st) == 0) return !S_ISDIR(st.st_mode);
    size_t len = strlen(path);
    if (len > 3 && !strcasecmp(path + len - 3, ".gz")) len -= 3;
    for (int k = 0; k < 3; k++)
        if (len >= 4 && !strncasecmp(path + len - 4, ext[k], 4)) return 1;
    return 0;
}

/* Read the QPS/MPS file path (warnings to stderr); EXIT_SOLVED or
 * EXIT_INPUT (reported) */
static int read_qps(const char *path, altdiff_owned_problem **op, double *c0)
{
    char err[2048];
    if (altdiff_read_qps(path, op, c0, err, sizeof(err)) != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s\n", err);
        return EXIT_INPUT;
    }
    if (err[0]) fprintf(stderr, "%s\n", err);
    return EXIT_SOLVED;
}

/* Read the problem of a solve: a directory for the objective, or a QPS file.
 * A quadratic directory may be a batch: *B elements, cols = the column
 * counts of q, b, h (altdiff_read_problem_batch); else *B = 1. */
static int read_input(const solve_args *a, altdiff_owned_problem **op, double **y, double *c0,
                      altdiff_int *B, altdiff_int cols[3])
{
    char err[1024];
    int rc;
    *y = NULL;
    *c0 = 0;
    *B = 1;
    if (is_qps_path(a->dir)) {
        if (a->objective != ALTDIFF_OBJECTIVE_QUADRATIC) {
            fprintf(stderr, "altdiff solve: %s: a QPS file holds a quadratic objective "
                    "(--objective entropy needs a problem directory)\n", a->dir);
            return EXIT_USAGE;
        }
        return read_qps(a->dir, op, c0);
    }
    if (a->objective == ALTDIFF_OBJECTIVE_QUADRATIC)
        rc = altdiff_read_problem_batch(a->dir, op, B, cols, err, sizeof(err));
    else
        rc = cli_gen_read_dir(a->dir, a->objective, op, y, err, sizeof(err));
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s\n", err);
        return exit_for(rc, EXIT_INPUT);
    }
    return EXIT_SOLVED;
}

/* ---- memory limits and the BLAS ------------------------------------------
 * OpenBLAS (Debian's libopenblas 0.3.21, pthreads) maps a 128 MiB work
 * buffer (mmap of BUFFER_SIZE) per thread at the first level-3 or LAPACK
 * call (CHOLMOD's dpotrf, the dense S'S by dsyrk), and blas_memory_alloc
 * retries a failed mmap in an endless loop (driver/others/memory.c:
 * do { ... } while (map_address == -1)): under ulimit -v of 100-300 MB the
 * shipped default instance hung there for ever, with two threads needing
 * two buffers; libgomp's threads (CHOLMOD) then fail with "Thread creation
 * failed" and exit 1. So under an address-space or data limit the CLI
 *   1. runs single-threaded: re-executes itself once with
 *      OPENBLAS_NUM_THREADS=1 and OMP_THREAD_LIMIT=1 (both libraries read
 *      them when they load), so that one buffer serves every call;
 *   2. maps and unmaps that much memory itself: when it fails, the BLAS
 *      would hang, so the CLI stops with "out of memory" (exit 5);
 *   3. calls dsyrk once on a 1 x 1 matrix, so OpenBLAS maps its buffer now,
 *      while it fits, and reuses it (it never unmaps) for every later call.
 * Later failures are ordinary allocation failures: out of memory, exit 5. */
#define BLAS_BUFFER ((size_t)128 << 20) /* OpenBLAS's BUFFER_SIZE (x86_64) */
#define BLAS_HEADROOM ((size_t)16 << 20) /* its page-aligned header, and room to
                                            allocate for the message and exit */

void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *beta,
            double *c, const int *ldc);

/* The address-space (ulimit -v) or data (ulimit -d) limit in bytes, 0 if none */
static unsigned long long memory_limit(void)
{
    struct rlimit rl;
    unsigned long long lim = 0;
    int which[2] = {RLIMIT_AS, RLIMIT_DATA};
    for (int k = 0; k < 2; k++)
        if (getrlimit(which[k], &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            (lim == 0 || rl.rlim_cur < lim))
            lim = rl.rlim_cur;
    return lim;
}

/* 1 if the environment variable name is already value */
static int env_is(const char *name, const char *value)
{
    const char *v = getenv(name);
    return v && !strcmp(v, value);
}

/* Steps 1-3 above; EXIT_SOLVED to go on, EXIT_NOMEM (reported) to stop */
static int blas_memory_guard(char **argv)
{
    unsigned long long lim = memory_limit();
    if (lim == 0) return EXIT_SOLVED;
    if (!env_is("OPENBLAS_NUM_THREADS", "1") || !env_is("OMP_THREAD_LIMIT", "1")) {
        if (setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0 && setenv("OMP_THREAD_LIMIT", "1", 1) == 0)
            execv("/proc/self/exe", argv);
        fprintf(stderr, "altdiff: warning: memory limit set, but could not re-execute with "
                        "OPENBLAS_NUM_THREADS=1 OMP_THREAD_LIMIT=1 (%s)\n", strerror(errno));
    }
    size_t len = BLAS_BUFFER + BLAS_HEADROOM;
    void *probe = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED) {
        fprintf(stderr, "altdiff: out of memory: the memory limit (ulimit -v or -d) of %.0f MB "
                        "leaves no room for the %zu MiB work buffer OpenBLAS maps at its first "
                        "call (OpenBLAS retries a failed mapping for ever): %zu MiB must be free\n",
                lim / 1048576.0, BLAS_BUFFER >> 20, len >> 20);
        return EXIT_NOMEM;
    }
    munmap(probe, len);
    const int one = 1;
    const double alpha = 1, a = 1, beta = 0;
    double c = 0;
    dsyrk_("L", "N", &one, &one, &alpha, &a, &one, &beta, &c, &one); /* c = a^2: maps the buffer */
    return EXIT_SOLVED;
}

static int cmd_solve(int argc, char **argv)
{
    solve_args a;
    int rc = parse_solve(argc, argv, &a);
    if (rc != EXIT_SOLVED) return rc;
    rc = blas_memory_guard(argv);
    if (rc != EXIT_SOLVED) return rc;
    altdiff_owned_problem *op = NULL;
    double *y = NULL, c0 = 0, t0 = cli_now();
    altdiff_int B = 1, cols[3] = {1, 1, 1};
    rc = read_input(&a, &op, &y, &c0, &B, cols);
    if (rc != EXIT_SOLVED) return rc;
    if (B > 1) rc = cli_solve_batch(op, B, cols, &a, cli_now() - t0);
    else rc = solve_and_report(&op->prob, y, &a, cli_now() - t0, c0);
    altdiff_free_problem(op);
    altdiff_free_array(y);
    return rc;
}

/* altdiff convert FILE.qps OUTDIR: the problem directory and constant.txt */
static int cmd_convert(int argc, char **argv)
{
    if (argc != 4 || argv[2][0] == '-' || !argv[3][0]) {
        fprintf(stderr, "altdiff convert: expected FILE.qps OUTDIR (see altdiff --help)\n");
        return EXIT_USAGE;
    }
    altdiff_owned_problem *op = NULL;
    double c0 = 0;
    int rc = read_qps(argv[2], &op, &c0);
    if (rc != EXIT_SOLVED) return rc;
    const altdiff_problem *pr = &op->prob;
    char constant[64];
    snprintf(constant, sizeof(constant), "%.17g\n", c0);
    out_file files[7] = {{"P.mtx", NULL, 0, 0, &pr->P, 1, NULL},
                         {"q.mtx", pr->q, pr->n, 1, NULL, 0, NULL},
                         {"constant.txt", NULL, 0, 0, NULL, 0, constant}};
    int count = 3;
    if (pr->m > 0) {
        files[count++] = (out_file){"A.mtx", NULL, 0, 0, &pr->A, 0, NULL};
        files[count++] = (out_file){"b.mtx", pr->b, pr->m, 1, NULL, 0, NULL};
    }
    if (pr->p > 0) {
        files[count++] = (out_file){"G.mtx", NULL, 0, 0, &pr->G, 0, NULL};
        files[count++] = (out_file){"h.mtx", pr->h, pr->p, 1, NULL, 0, NULL};
    }
    rc = cli_write_outputs(argv[3], files, count);
    if (rc == EXIT_SOLVED)
        printf("%s: n=%lld m=%lld p=%lld constant=%.17g\n", argv[3], (long long)pr->n,
               (long long)pr->m, (long long)pr->p, c0);
    altdiff_free_problem(op);
    return rc;
}

/* altdiff bench ...: the harness is its own program, altdiff-bench, built
 * next to this one (not installed); run it with the arguments after "altdiff"
 * (its argv[0] is then "bench"). Returns only when it cannot be run. */
static int cmd_bench(char **argv)
{
    char self[4096], path[4200] = "altdiff-bench";
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len > 0) self[len] = '\0';
    char *slash = len > 0 ? strrchr(self, '/') : NULL;
    if (slash) {
        *slash = '\0';
        snprintf(path, sizeof(path), "%s/altdiff-bench", self);
        execv(path, argv + 1);
    }
    fprintf(stderr, "altdiff bench: cannot run %s: %s (the benchmark harness is built next to "
                    "altdiff and not installed)\n", path, slash ? strerror(errno) : "no path");
    return EXIT_UNSOLVED;
}

/* Keep freed memory in the process for reuse: the large temporary arrays of
 * reading and setup would otherwise be returned to the system and faulted in
 * again page by page, which costs more than the arithmetic (a process-wide
 * choice, so it is made here and not in the library) */
static void keep_freed_memory(void)
{
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

int main(int argc, char **argv)
{
    keep_freed_memory();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_SOLVED;
    }
    if (!strcmp(argv[1], "solve")) return cmd_solve(argc, argv);
    if (!strcmp(argv[1], "convert")) return cmd_convert(argc, argv);
    if (!strcmp(argv[1], "gen")) return cli_gen_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench")) return cmd_bench(argv);
    fprintf(stderr, "altdiff: unknown command '%s' (see altdiff --help)\n", argv[1]);
    return EXIT_USAGE;
}
