/*
 * gen: deterministic generators of QP problem directories ("altdiff gen").
 *
 *     altdiff gen FAMILY OUTDIR [key=value ...]
 *
 * writes OUTDIR/{P,q,A,b,G,h}.mtx (A/b omitted when m = 0, G/h when p = 0)
 * for one of the families dense, sparsemax, manycon, grid, randsparse, the
 * benchmark classes control, portfolio, lasso, huber, svm, eqqp, randqp, or
 * OUTDIR/{y,A,b,G,h}.mtx for the entropy family (a constrained softmax,
 * solved with the entropy objective) (cli_gen_usage lists them with their
 * keys). OUTDIR is created as by mkdir -p. The same family, keys and seed
 * always give byte-identical files. cli_gen_read_dir reads a directory back
 * for either objective.
 */
#ifndef ALTDIFF_CLI_GEN_H
#define ALTDIFF_CLI_GEN_H

#include <stddef.h>
#include <stdio.h>

#include "altdiff.h"

/* argv[0] = "gen", argv[1] = FAMILY, argv[2] = OUTDIR, then key=value
 * options (argc entries). Returns the process exit status: 0 done, 1 an
 * I/O or memory failure, 2 a usage error. Failures print one line on
 * stderr naming the bad argument or file. */
int cli_gen_main(int argc, char **argv);

/* Print the usage text of "altdiff gen" (families, keys, defaults) to f. */
void cli_gen_usage(FILE *f);

/* Read the problem directory dir for the objective (ALTDIFF_OBJECTIVE_*):
 * QUADRATIC is altdiff_read_problem (*y = NULL); ENTROPY reads y.mtx (n x 1,
 * which fixes n), the optional linear term q.mtx (n x 1; absent: prob.q =
 * NULL) and the A.mtx/b.mtx, G.mtx/h.mtx pairs as altdiff_read_problem does
 * (a missing pair is an empty block), and rejects a P.mtx; prob.P is then
 * an empty n x n matrix. On success *out (free with altdiff_free_problem)
 * and *y (n; altdiff_free_array); on failure both are NULL and err holds one
 * line naming the file: ALTDIFF_ERR_IO (cannot read), ALTDIFF_ERR_INVALID
 * (malformed, inconsistent sizes, P.mtx present) or ALTDIFF_ERR_NOMEM. */
int cli_gen_read_dir(const char *dir, int objective, altdiff_owned_problem **out, double **y,
                    char *err, size_t errlen);

#endif /* ALTDIFF_CLI_GEN_H */
