/*
 * bench: the scaling-experiment driver, the program altdiff-bench (built,
 * not installed; "altdiff bench ..." runs it with the same arguments).
 *
 *     altdiff-bench FAMILY|DIR OUT.csv [key=value ...] [options]
 *     altdiff bench FAMILY|DIR OUT.csv [key=value ...] [options]
 *
 * runs one case (a generated instance of FAMILY, or the problem directory
 * DIR) at every tolerance and derivative mode asked for, each run in a child
 * process with its own time and memory budget, and appends one CSV row per
 * (tolerance, mode) to OUT.csv (bench_usage lists the options and the
 * columns).
 */
#ifndef ALTDIFF_BENCH_H
#define ALTDIFF_BENCH_H

#include <stdio.h>

/* argv[0] = "bench" (or the program name), argv[1] = FAMILY or DIR, argv[2] = OUT.csv, then
 * key=value generator options and --options (argc entries). Returns the
 * process exit status: 0 rows written (whatever their status), 1 the case
 * could not start (temporary directory, fork), 2 a usage error (nothing
 * written), 4 the CSV file cannot be written. */
int bench_main(int argc, char **argv);
/* Re-execute the program with OMP_THREAD_LIMIT=1 unless it is set (returns
 * only when it is set already or the re-execution failed); argv: main's */
void bench_exec_fork_safe(char **argv);

/* Print the usage text of "altdiff bench" to f. */
void bench_usage(FILE *f);

#endif /* ALTDIFF_BENCH_H */
