/*
 * cli.h: what the parts of the command-line tool share (src/cli/main.c,
 * output.c, solve_batch.c): the exit statuses, the options of "solve" and
 * the all-or-nothing output writer. Only the public header altdiff.h.
 */
#ifndef ALTDIFF_CLI_H
#define ALTDIFF_CLI_H

#include "altdiff.h"

/* Exit status, one per cause (altdiff --help) */
enum {
    EXIT_SOLVED = 0,
    EXIT_UNSOLVED = 1,
    EXIT_USAGE = 2,
    EXIT_INPUT = 3,
    EXIT_OUTPUT = 4,
    EXIT_NOMEM = 5
};

/* The exit status for a library error code rc where other errors mean
 * other_exit: out of memory is EXIT_NOMEM wherever it happens */
static inline int exit_for(int rc, int other_exit)
{
    return rc == ALTDIFF_ERR_NOMEM ? EXIT_NOMEM : other_exit;
}

/* The options of "altdiff solve" */
typedef struct {
    const char *dir, *out;
    int objective;     /* --objective: ALTDIFF_OBJECTIVE_QUADRATIC or _ENTROPY */
    altdiff_settings set;
    const char *grad;  /* --grad W.mtx                                  */
    int matrix_grads;  /* --matrix-grads                                */
    int jacobian;      /* --jacobian: ALTDIFF_WRT_* (y: _THETA), or -1  */
    int mode;          /* --mode, or -1 for the default                 */
    double grad_eps;   /* --grad-eps, or 0 for --eps                    */
} solve_args;

/* kktcheck.c: 1 if the solution (x, s, lam, nu over the rows as given)
 * of the QP pr is a KKT point to the tolerances of info (original units,
 * the tool's own products; rows with h_i >= infinity are no constraints),
 * 0 if not (why says which test failed), -1 out of memory */
int cli_kkt_check(const altdiff_problem *pr, const double *x, const double *s,
                  const double *lam, const double *nu, const altdiff_info *info,
                  double infinity, char *why, size_t len);

/* The name of derivative mode ALTDIFF_MODE_* (0 .. 4) */
const char *cli_mode_name(int mode);

/* Seconds on a monotonic clock; the peak resident set in MB */
double cli_now(void);
double cli_peak_rss_mb(void);

#define CLI_MAX_OUTPUTS 12

/* One output file: a dense nrow x ncol array x, or the sparse matrix sp */
typedef struct {
    const char *name;
    const double *x;
    altdiff_int nrow, ncol;
    const altdiff_csc *sp;
    int symmetric;
    const char *text; /* or a small text file */
} out_file;

/* All outputs (at most CLI_MAX_OUTPUTS) or none: check every target, write
 * every output to OUTDIR/.NAME.part, then rename them into place; if a
 * rename fails, the files already renamed are rolled back to what they
 * replaced. EXIT_SOLVED, EXIT_OUTPUT or EXIT_NOMEM (reported on stderr). */
int cli_write_outputs(const char *dir, const out_file *v, int count);

/* Solve the batch of B problems in op (altdiff_read_problem_batch: cols =
 * column counts of q, b, h) and write its outputs; the exit status
 * (solve_batch.c). t_read: seconds spent reading. */
int cli_solve_batch(const altdiff_owned_problem *op, altdiff_int B, const altdiff_int cols[3],
                    const solve_args *a, double t_read);

#endif /* ALTDIFF_CLI_H */
