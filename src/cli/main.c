/*
 * altdiff: the command-line tool.
 *
 *   altdiff solve DIR [--out OUTDIR] [--eps E] [--max-iter N] [--rho R] [--verbose]
 *   altdiff gen FAMILY OUTDIR [key=value ...]
 *   altdiff --help
 *
 * Exit status: 0 solved (or generated); 1 the solver stopped without a
 * solution (infeasible, unbounded, limits, numerical trouble); 2 usage error;
 * 3 bad input (unreadable or malformed files, invalid problem); 4 cannot
 * write the output.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "altdiff.h"
#include "gen.h"

enum { EXIT_SOLVED = 0, EXIT_UNSOLVED = 1, EXIT_USAGE = 2, EXIT_INPUT = 3, EXIT_OUTPUT = 4 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage:\n"
            "  altdiff solve DIR [--out OUTDIR] [--eps E] [--max-iter N] [--rho R] [--verbose]\n"
            "  altdiff gen FAMILY OUTDIR [key=value ...]\n"
            "  altdiff --help\n\n"
            "solve: read the problem  min 1/2 x'Px + q'x  s.t.  A x = b, G x <= h  from DIR\n"
            "  (Matrix Market files P.mtx, q.mtx, and optionally A.mtx + b.mtx, G.mtx + h.mtx;\n"
            "  a missing pair means no such constraints, a missing P.mtx means P = 0;\n"
            "  h_i >= 1e20 means row i has no bound), solve it with the Alt-Diff ADMM and\n"
            "  print a summary: status, iterations, objective, residuals, times, memory.\n"
            "  --out OUTDIR   write x.mtx, s.mtx, lam.mtx, nu.mtx (Matrix Market arrays) into\n"
            "                 OUTDIR (created if needed), only when solved; nothing is left\n"
            "                 half-written\n"
            "  --eps E        absolute and relative tolerance of the stopping test\n"
            "                 (default %g): |Ax-b|, |Gx+s-h| <= E + E max(|Ax|,|b|,|Gx|,|h-s|)\n"
            "                 and |Px+q+A'lam+G'nu| <= E + E max(|Px|,|q|,|A'lam|,|G'nu|)\n"
            "  --max-iter N   iteration limit (default %d)\n"
            "  --rho R        initial penalty (default %g; adapted during the solve)\n"
            "  --verbose      print an iteration log\n\n"
            "exit status: 0 solved, 1 not solved (infeasible, unbounded, limit, numerical\n"
            "  error; the reason is on stderr), 2 usage error, 3 bad input, 4 output error\n\n",
            ALTDIFF_DEFAULT_EPS_ABS, ALTDIFF_DEFAULT_MAX_ITER, ALTDIFF_DEFAULT_RHO);
    ad_gen_usage(f);
}

/* Parse a positive finite double; 0 on failure */
static int parse_pos(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && errno == 0 && isfinite(*v) && *v > 0;
}

typedef struct {
    const char *dir, *out;
    altdiff_settings set;
} solve_args;

/* Parse the options of "solve"; EXIT_SOLVED or EXIT_USAGE */
static int parse_solve(int argc, char **argv, solve_args *a)
{
    a->dir = NULL;
    a->out = NULL;
    a->set = altdiff_settings_default();
    for (int k = 2; k < argc; k++) {
        const char *o = argv[k];
        double v;
        int has = k + 1 < argc;
        if (!strcmp(o, "--verbose")) {
            a->set.verbose = 1;
        } else if (!strcmp(o, "--out") && has) {
            a->out = argv[++k];
        } else if (!strcmp(o, "--eps") && has && parse_pos(argv[k + 1], &v)) {
            a->set.eps_abs = a->set.eps_rel = v;
            k++;
        } else if (!strcmp(o, "--rho") && has && parse_pos(argv[k + 1], &v)) {
            a->set.rho = v;
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
    return EXIT_SOLVED;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_rss_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

static void print_summary(const altdiff_info *info, double t_read)
{
    printf("status: %s\n", altdiff_status_string(info->status));
    printf("iterations: %ld\n", (long)info->iter);
    printf("objective: %.12e\n", info->obj);
    printf("residuals: primal %.3e (tol %.3e), dual %.3e (tol %.3e)\n", info->r_prim,
           info->eps_prim, info->r_dual, info->eps_dual);
    printf("rho: %.3e (%ld updates)\n", info->rho, (long)info->rho_updates);
    printf("time: read %.4f s, analyze %.4f s, factor %.4f s, setup %.4f s, iterate %.4f s\n",
           t_read, info->t_analyze, info->t_factor, info->t_setup, info->t_iterate);
    printf("memory: nnz(L) %.0f, factor %.1f MB, peak RSS %.1f MB\n", info->nnz_L,
           info->mem_factor / 1048576.0, peak_rss_mb());
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) return -1;
    memcpy(buf, path, len + 1);
    for (char *c = buf + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *c = '/';
    }
    return (mkdir(buf, 0777) == 0 || errno == EEXIST) ? 0 : -1;
}

typedef struct {
    const char *name;
    const double *x;
    altdiff_int len;
} out_vec;

/* Write every vector to OUTDIR/.NAME.part, then rename them all: the files
 * appear together or not at all. */
static int write_outputs(const char *dir, const out_vec *v, int count)
{
    char part[4200], final[4200], err[512];
    int k, ok = make_dirs(dir) == 0;
    if (!ok) fprintf(stderr, "altdiff: cannot create output directory %s\n", dir);
    for (k = 0; ok && k < count; k++) {
        snprintf(part, sizeof(part), "%s/.%s.part", dir, v[k].name);
        ok = altdiff_write_dense(part, v[k].x, v[k].len, 1, err, sizeof(err)) == ALTDIFF_OK;
        if (!ok) fprintf(stderr, "altdiff: %s\n", err);
    }
    for (int j = 0; j < count; j++) {
        snprintf(part, sizeof(part), "%s/.%s.part", dir, v[j].name);
        snprintf(final, sizeof(final), "%s/%s", dir, v[j].name);
        if (!ok) {
            remove(part);
        } else if (rename(part, final) != 0) {
            fprintf(stderr, "altdiff: cannot rename %s to %s\n", part, final);
            ok = 0;
        }
    }
    return ok ? EXIT_SOLVED : EXIT_OUTPUT;
}

/* Solve and write; the exit status */
static int solve_and_report(const altdiff_problem *prob, const solve_args *a, double t_read)
{
    altdiff_work *w = NULL;
    int rc = altdiff_setup(&w, prob, &a->set);
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s: %s\n", a->dir, altdiff_error_string(rc));
        return rc == ALTDIFF_ERR_NOT_POSDEF || rc == ALTDIFF_ERR_INVALID ? EXIT_INPUT
                                                                          : EXIT_UNSOLVED;
    }
    rc = altdiff_solve(w);
    const altdiff_info *info = altdiff_get_info(w);
    print_summary(info, t_read);
    int status = EXIT_SOLVED;
    if (rc != ALTDIFF_OK || info->status != ALTDIFF_SOLVED) {
        fprintf(stderr, "altdiff: %s: not solved: %s\n", a->dir,
                rc != ALTDIFF_OK ? altdiff_error_string(rc) : altdiff_status_string(info->status));
        status = EXIT_UNSOLVED;
    } else if (a->out) {
        size_t n = (size_t)prob->n, m = (size_t)prob->m, p = (size_t)prob->p;
        double *buf = malloc(sizeof(double) * (n + m + 2 * p + 1));
        if (!buf) {
            fprintf(stderr, "altdiff: out of memory\n");
            status = EXIT_OUTPUT;
        } else {
            double *x = buf, *lam = x + n, *s = lam + m, *nu = s + p;
            altdiff_get_solution(w, x, s, lam, nu);
            out_vec v[] = {{"x.mtx", x, prob->n},
                           {"s.mtx", s, prob->p},
                           {"lam.mtx", lam, prob->m},
                           {"nu.mtx", nu, prob->p}};
            status = write_outputs(a->out, v, 4);
            free(buf);
        }
    }
    altdiff_free(w);
    return status;
}

static int cmd_solve(int argc, char **argv)
{
    solve_args a;
    int rc = parse_solve(argc, argv, &a);
    if (rc != EXIT_SOLVED) return rc;
    char err[1024];
    altdiff_owned_problem *op = NULL;
    double t0 = now();
    if (altdiff_read_problem(a.dir, &op, err, sizeof(err)) != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s\n", err);
        return EXIT_INPUT;
    }
    rc = solve_and_report(&op->prob, &a, now() - t0);
    altdiff_free_problem(op);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_SOLVED;
    }
    if (!strcmp(argv[1], "solve")) return cmd_solve(argc, argv);
    if (!strcmp(argv[1], "gen")) return ad_gen_main(argc - 1, argv + 1);
    fprintf(stderr, "altdiff: unknown command '%s' (see altdiff --help)\n", argv[1]);
    return EXIT_USAGE;
}
