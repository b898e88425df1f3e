/*
 * bench.c: "altdiff bench FAMILY|DIR OUT.csv [key=value ...] [options]", the
 * scaling-experiment driver. One call runs one case:
 *
 *   1. generate FAMILY with the key=value options (altdiff gen, into a
 *      temporary directory) or take the problem directory DIR, and read it
 *      for the objective (--objective; the entropy family: entropy, solved
 *      by altdiff_setup_objective, whose dq is -dL/dy);
 *   2. reference gradient: solve at --ref-eps (1e-10), KKT-mode VJP with a
 *      fixed random cotangent w ~ N(0, I) (--seed);
 *   3. for each tolerance eps: setup + solve (eps_abs = eps_rel = eps), then
 *      for each mode one VJP of w at derivative tolerance eps; the unroll mode
 *      has a solve of its own with settings.record = 1. Every run is repeated
 *      (--repeat) and the median times are kept;
 *   4. one CSV row per (eps, mode): sizes, status, iterations, times, peak
 *      RSS, nnz(L), and the accuracy of g = (dq, db, dh) against the reference:
 *      cos_sim = g'g_ref / (|g| |g_ref|), rel_err = |g - g_ref| / |g_ref|.
 *
 * Processes. Peak RSS only grows within a process, and a run that exceeds its
 * budget must not take the others down, so every run is a child:
 *
 *     bench                 parse; generate (child); write the CSV rows
 *       case                read the problem, draw w
 *         reference         setup + solve at ref-eps, KKT VJP -> g_ref (shared)
 *         forward(eps)      setup + solve, repeated; then for each mode:
 *           backward(mode)  VJP, repeated, accuracy against g_ref
 *         unroll(eps)       setup + solve with record = 1, VJP, repeated
 *
 * A child arms a timer (--time-budget, per setup + solve and per VJP) and
 * dies of SIGALRM when it expires. --mem-budget bounds the resident set: each
 * parent polls its child's VmRSS and kills it (SIGKILL) when over. Not
 * RLIMIT_AS: OpenBLAS reserves a 128 MB buffer per thread as each thread
 * starts and retries forever when that fails, and fork() then hangs in its
 * prefork handler; an address-space limit would also count the reserved,
 * never touched memory that peak_rss_mb leaves out. Rows live in a
 * MAP_SHARED array: a child fills its own row, and each parent fills the rows
 * its children left empty with the way they ended (timeout, oom, crash). A
 * child's peak RSS (VmHWM) starts at its parent's RSS at the fork, so a row's
 * peak_rss_mb = max(forward peak, backward peak) counts the problem data, H,
 * its factor, the workspace and the VJP's own memory.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, setitimer, mkdtemp */

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "altdiff.h"
#include "bench.h"
#include "gen.h"

#define BENCH_MAX_EPS 16
#define BENCH_NMODES 5
#define BENCH_MAX_REPEAT 64
#define BENCH_EXIT_OOM 3 /* a child's exit status: an allocation failed */
#define BENCH_NOTE 240
#define BENCH_MAX_KEYS 64

static const char *bench_mode_names[BENCH_NMODES] = {"adjoint", "gmres", "unroll", "altdiff",
                                                      "kkt"};

static const char *bench_header =
    "family,n,m,p,nnz_P,nnz_A,nnz_G,eps,mode,status,fwd_iter,bwd_iter,t_analyze,t_factor,"
    "t_setup,t_iterate,t_backward,peak_rss_mb,nnz_L,cos_sim,rel_err,note";

/* ---- arguments ---------------------------------------------------------- */

typedef struct {
    const char *family;  /* FAMILY, or DIR when is_dir                        */
    const char *label;   /* the family column: FAMILY or the last part of DIR */
    int is_dir;
    const char *csv;     /* OUT.csv                                           */
    int objective;       /* ALTDIFF_OBJECTIVE_*: --objective, or by family    */
    char *keys[BENCH_MAX_KEYS]; /* generator key=value options (nkeys)        */
    int nkeys;
    int modes[BENCH_NMODES], nmodes; /* ALTDIFF_MODE_*, in output order       */
    double eps[BENCH_MAX_EPS];       /* tolerances, in output order (neps)    */
    int neps;
    double ref_eps;      /* tolerance of the reference solve                  */
    int repeat;          /* runs of each measurement (medians kept)           */
    double repeat_time;  /* no further repeat once a run took this long (s)   */
    double time_budget;  /* s per setup + solve and per VJP, 0 = none         */
    double gen_budget;   /* s for generating and for reading, 0 = none        */
    double mem_budget;   /* MB of resident set of each process, 0 = none      */
    uint64_t seed;       /* of the cotangent w                                */
} bench_args;

void bench_usage(FILE *f)
{
    fputs("altdiff bench FAMILY|DIR OUT.csv [key=value ...] [options]\n"
          "  Scaling experiment on one case: generate FAMILY with the key=value options of\n"
          "  'altdiff gen' (or read the problem directory DIR), then for each tolerance\n"
          "  solve and take one VJP per mode of a fixed random cotangent w, and append one\n"
          "  row per (tolerance, mode) to OUT.csv (header written when the file is new):\n"
          "    family,n,m,p,nnz_P,nnz_A,nnz_G,eps,mode,status,fwd_iter,bwd_iter,t_analyze,\n"
          "    t_factor,t_setup,t_iterate,t_backward,peak_rss_mb,nnz_L,cos_sim,rel_err,note\n"
          "  times in seconds (medians over the repeats; t_setup contains t_analyze and\n"
          "  t_factor), peak RSS in MB (VmHWM of the run's own process), cos_sim and\n"
          "  rel_err of (dq, db, dh) against the KKT-mode VJP at --ref-eps. status: ok,\n"
          "  unsolved (the solve stopped short of eps), bwd_maxiter (the derivative did\n"
          "  not reach eps), error, timeout, oom, crash; the note says why. A mode that\n"
          "  timed out (ran out of memory) is not run again at smaller eps: its rows say\n"
          "  timeout (oom), 'skipped'. The unroll mode solves with settings.record = 1.\n"
          "  FAMILY entropy (a constrained softmax) is solved with the entropy objective;\n"
          "  its dq is -dL/dy, so cos_sim and rel_err are those of (dy, db, dh) too.\n"
          "  --objective O      quadratic or entropy: how to read and solve DIR (default:\n"
          "                     entropy for FAMILY entropy, else quadratic)\n"
          "  --modes LIST       of adjoint,gmres,unroll,altdiff,kkt (default: all five;\n"
          "                     altdiff is the forward mode: a VJP costs n+m+p tangents)\n"
          "  --eps LIST         tolerances of solve and derivative (default 1e-3,1e-6,1e-8)\n"
          "  --ref-eps E        tolerance of the reference solve (default 1e-10; 0: no\n"
          "                     reference, cos_sim and rel_err left empty)\n"
          "  --repeat N         runs per measurement, medians kept (default 3)\n"
          "  --repeat-time S    no further run once one took S seconds (default 5)\n"
          "  --time-budget S    per setup + solve and per VJP, in a child killed by\n"
          "                     SIGALRM when it expires (default 60; 0 = none)\n"
          "  --gen-budget S     for generating and for reading the case (default 10 x\n"
          "                     --time-budget)\n"
          "  --mem-budget MB    a run whose resident set exceeds MB is killed, status\n"
          "                     oom (polled every <= 20 ms; default 0 = none)\n"
          "  --seed S           seed of w (default 1)\n"
          "  A progress line per row goes to stderr.\n",
          f);
}

/* Parse a number >= 0 (> 0 when positive); 1 on success */
static int bench_num(const char *s, int positive, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x) || x < 0 || (positive && x == 0)) return 0;
    *v = x;
    return 1;
}

/* --eps LIST: 1 on success */
static int bench_eps_list(const char *s, bench_args *a)
{
    char buf[512], *tok, *save = NULL;
    if (strlen(s) >= sizeof(buf)) return 0;
    memcpy(buf, s, strlen(s) + 1);
    a->neps = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (a->neps == BENCH_MAX_EPS || !bench_num(tok, 1, &a->eps[a->neps++])) return 0;
    return a->neps > 0;
}

/* --modes LIST: 1 on success */
static int bench_mode_list(const char *s, bench_args *a)
{
    char buf[256], *tok, *save = NULL;
    int seen[BENCH_NMODES] = {0};
    if (strlen(s) >= sizeof(buf)) return 0;
    memcpy(buf, s, strlen(s) + 1);
    a->nmodes = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < BENCH_NMODES && strcmp(tok, bench_mode_names[k])) k++;
        if (k == BENCH_NMODES || seen[k]) return 0;
        seen[k] = 1;
        a->modes[a->nmodes++] = k;
    }
    return a->nmodes > 0;
}

/* --objective NAME: 1 on success */
static int bench_objective(const char *s, bench_args *a)
{
    if (!strcmp(s, "quadratic")) a->objective = ALTDIFF_OBJECTIVE_QUADRATIC;
    else if (!strcmp(s, "entropy")) a->objective = ALTDIFF_OBJECTIVE_ENTROPY;
    else return 0;
    return 1;
}

/* One "--option value"; 1 if valid */
static int bench_option(const char *o, const char *v, bench_args *a)
{
    double x;
    if (!strcmp(o, "--modes")) return bench_mode_list(v, a);
    if (!strcmp(o, "--eps")) return bench_eps_list(v, a);
    if (!strcmp(o, "--objective")) return bench_objective(v, a);
    if (!bench_num(v, 0, &x)) return 0;
    if (!strcmp(o, "--ref-eps")) a->ref_eps = x;
    else if (!strcmp(o, "--repeat") && x >= 1 && x <= BENCH_MAX_REPEAT && x == floor(x))
        a->repeat = (int)x;
    else if (!strcmp(o, "--repeat-time")) a->repeat_time = x;
    else if (!strcmp(o, "--time-budget")) a->time_budget = x;
    else if (!strcmp(o, "--gen-budget")) a->gen_budget = x;
    else if (!strcmp(o, "--mem-budget")) a->mem_budget = x;
    else if (!strcmp(o, "--seed") && x == floor(x) && x < 1.8e19) a->seed = (uint64_t)x;
    else return 0;
    return 1;
}

static void bench_defaults(bench_args *a)
{
    static const double eps[] = {1e-3, 1e-6, 1e-8};
    memset(a, 0, sizeof(*a));
    for (int k = 0; k < BENCH_NMODES; k++) a->modes[k] = k;
    a->nmodes = BENCH_NMODES;
    memcpy(a->eps, eps, sizeof(eps));
    a->neps = 3;
    a->ref_eps = 1e-10;
    a->repeat = 3;
    a->repeat_time = 5;
    a->time_budget = 60;
    a->gen_budget = -1; /* 10 x time_budget */
    a->seed = 1;
    a->objective = -1; /* by family */
}

/* A directory argument: contains a '/' or names an existing directory */
static int bench_is_dir(const char *s)
{
    DIR *d = strchr(s, '/') ? NULL : opendir(s);
    if (d) closedir(d);
    return strchr(s, '/') != NULL || d != NULL;
}

/* Parse argv (see bench_main); 0, or 2 with a message */
static int bench_parse(int argc, char **argv, bench_args *a)
{
    bench_defaults(a);
    if (argc < 3 || !argv[1][0] || !argv[2][0]) {
        fprintf(stderr, "altdiff bench: expected FAMILY|DIR OUT.csv (see altdiff --help)\n");
        return 2;
    }
    a->family = argv[1];
    a->csv = argv[2];
    a->is_dir = bench_is_dir(a->family);
    const char *slash = strrchr(a->family, '/');
    a->label = a->is_dir && slash && slash[1] ? slash + 1 : a->family;
    for (int k = 3; k < argc; k++) {
        if (argv[k][0] != '-' && strchr(argv[k], '=') && !a->is_dir &&
            a->nkeys < BENCH_MAX_KEYS) {
            a->keys[a->nkeys++] = argv[k];
        } else if (k + 1 < argc && bench_option(argv[k], argv[k + 1], a)) {
            k++;
        } else {
            fprintf(stderr, "altdiff bench: bad or misplaced argument '%s' (see altdiff --help)\n",
                    argv[k]);
            return 2;
        }
    }
    if (a->gen_budget < 0) a->gen_budget = 10 * a->time_budget;
    if (a->objective < 0)
        a->objective = !a->is_dir && !strcmp(a->family, "entropy") ? ALTDIFF_OBJECTIVE_ENTROPY
                                                                  : ALTDIFF_OBJECTIVE_QUADRATIC;
    return 0;
}

/* ---- rows in shared memory ---------------------------------------------- */

typedef struct {
    int filled;           /* set by the process that ran (or gave up on) it */
    char status[16];
    char phase[32];       /* what the run was doing: for a killed child    */
    double fwd_iter, bwd_iter, t_analyze, t_factor, t_setup, t_iterate, t_backward;
    double peak_rss_mb, nnz_L, cos_sim, rel_err; /* NAN: unknown           */
    int fwd_runs, bwd_runs; /* runs behind the medians                     */
    char note[BENCH_NOTE];
} bench_row;

typedef struct {
    double n, m, p, nnz_P, nnz_A, nnz_G; /* NAN until known                 */
    int have_ref;                        /* g_ref holds the reference       */
    char ref_note[BENCH_NOTE];           /* why there is no reference       */
    char phase[64];                      /* what the case process is doing  */
    bench_row rows[BENCH_MAX_EPS * BENCH_NMODES]; /* row e * 5 + mode       */
} bench_shared;

static void row_init(bench_row *r)
{
    memset(r, 0, sizeof(*r));
    r->fwd_iter = r->bwd_iter = r->t_analyze = r->t_factor = r->t_setup = NAN;
    r->t_iterate = r->t_backward = r->peak_rss_mb = r->nnz_L = r->cos_sim = r->rel_err = NAN;
}

/* Fill row r with status and a note, unless a process already did */
static void row_fail(bench_row *r, const char *status, const char *fmt, ...)
{
    if (r->filled) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof(r->note), fmt, ap);
    va_end(ap);
    snprintf(r->status, sizeof(r->status), "%s", status);
    r->filled = 1;
}

/* Shared anonymous memory of len bytes, zeroed; NULL on failure */
static void *shared_alloc(size_t len)
{
    void *s = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return s == MAP_FAILED ? NULL : s;
}

/* ---- processes, timers, memory ------------------------------------------ */

enum { CHILD_OK, CHILD_FAILED, CHILD_TIMEOUT, CHILD_OOM, CHILD_CRASH };
static const char *child_status[] = {"ok", "error", "timeout", "oom", "crash"};
static double bench_mem_budget; /* MB of resident set per process, 0 = none */

static double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* SIGALRM after s seconds (s = 0: disarm) */
static void arm(double s)
{
    struct itimerval t;
    memset(&t, 0, sizeof(t));
    t.it_value.tv_sec = (time_t)s;
    t.it_value.tv_usec = (suseconds_t)((s - floor(s)) * 1e6);
    if (s > 0 && t.it_value.tv_sec == 0 && t.it_value.tv_usec == 0) t.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &t, NULL);
}

/* Peak resident set of this process in MB: VmHWM, else ru_maxrss */
static double peak_rss(void)
{
    char line[256];
    double kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && kb < 0 && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtod(line + 6, NULL);
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage u;
        getrusage(RUSAGE_SELF, &u);
        kb = (double)u.ru_maxrss;
    }
    return kb / 1024.0;
}

/* Resident set of process pid in MB, or -1 */
static double child_rss(pid_t pid)
{
    char path[64], line[256];
    double kb = -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    while (f && kb < 0 && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6)) kb = strtod(line + 6, NULL);
    if (f) fclose(f);
    return kb < 0 ? -1 : kb / 1024.0;
}

/* Wait for child pid; with a memory budget, poll its resident set (every
 * 1 .. 20 ms) and kill it when over (*killed = 1). 0, or -1 if waitpid failed */
static int wait_child(pid_t pid, int *st, int *killed)
{
    struct timespec pause = {0, 1000000};
    *killed = 0;
    for (;;) {
        pid_t r = waitpid(pid, st, bench_mem_budget > 0 ? WNOHANG : 0);
        if (r == pid) return 0;
        if (r < 0 && errno != EINTR) return -1;
        if (r != 0) continue;
        if (!*killed && child_rss(pid) > bench_mem_budget) {
            kill(pid, SIGKILL); /* its children follow: PR_SET_PDEATHSIG */
            *killed = 1;
        }
        nanosleep(&pause, NULL);
        if (pause.tv_nsec < 20000000) pause.tv_nsec *= 2;
    }
}

/* Run fn(ctx) in a child process and wait: CHILD_*; *info = the exit status
 * (CHILD_FAILED), the signal (CHILD_CRASH), or -1 (CHILD_OOM: killed for
 * its resident set) */
static int run_child(int (*fn)(void *), void *ctx, int *info)
{
    int st, killed;
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    *info = 0;
    if (pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* die with the parent */
#endif
        _exit(getppid() == parent ? fn(ctx) : 1);
    }
    if (pid < 0 || wait_child(pid, &st, &killed) != 0) return CHILD_FAILED;
    if (killed) {
        *info = -1;
        return CHILD_OOM;
    }
    if (WIFEXITED(st)) {
        *info = WEXITSTATUS(st);
        return *info == 0 ? CHILD_OK : *info == BENCH_EXIT_OOM ? CHILD_OOM : CHILD_FAILED;
    }
    *info = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return *info == SIGALRM ? CHILD_TIMEOUT : *info == SIGKILL ? CHILD_OOM : CHILD_CRASH;
}

/* What a child's end means, for a note */
static void child_note(int outcome, int info, double budget, char *s, size_t len)
{
    if (outcome == CHILD_TIMEOUT) snprintf(s, len, "over the %g s budget", budget);
    else if (outcome == CHILD_OOM && info < 0)
        snprintf(s, len, "resident set over the %g MB budget", bench_mem_budget);
    else if (outcome == CHILD_OOM && info == SIGKILL) snprintf(s, len, "killed (SIGKILL)");
    else if (outcome == CHILD_OOM) snprintf(s, len, "out of memory");
    else if (outcome == CHILD_CRASH) snprintf(s, len, "died of signal %d (%s)", info,
                                              strsignal(info));
    else snprintf(s, len, "exit status %d", info);
}

/* The status of a row for a library return code */
static const char *code_status(int rc) { return rc == ALTDIFF_ERR_NOMEM ? "oom" : "error"; }

/* ---- statistics ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..k-1] (sorts v) */
static double median(double *v, int k)
{
    qsort(v, (size_t)k, sizeof(double), cmp_double);
    return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

/* w = n standard normals from splitmix64(seed) by Box-Muller */
static void draw_normals(uint64_t seed, double *w, altdiff_int n)
{
    uint64_t s = seed;
    for (altdiff_int j = 0; j < n; j++) {
        double u[2];
        for (int c = 0; c < 2; c++) {
            uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            u[c] = (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
        }
        w[j] = sqrt(-2.0 * log(1.0 - u[0])) * cos(6.283185307179586 * u[1]);
    }
}

/* cos = g'r / (|g| |r|), rel = |g - r| / |r| */
static void accuracy(const double *g, const double *r, altdiff_int len, double *cos,
                     double *rel)
{
    double gr = 0, gg = 0, rr = 0, dd = 0;
    for (altdiff_int k = 0; k < len; k++) {
        gr += g[k] * r[k];
        gg += g[k] * g[k];
        rr += r[k] * r[k];
        dd += (g[k] - r[k]) * (g[k] - r[k]);
    }
    *cos = gg > 0 && rr > 0 ? gr / sqrt(gg * rr) : (gg == 0 && rr == 0 ? 1 : 0);
    *rel = rr > 0 ? sqrt(dd / rr) : sqrt(dd);
}

/* ---- the case ----------------------------------------------------------- */

typedef struct {
    const bench_args *a;
    bench_shared *sh;
    const char *dir;              /* the problem directory            */
    altdiff_owned_problem *op;
    double *y;                    /* the entropy's y (n), or NULL     */
    double *w;                    /* cotangent (n)                    */
    double *g_ref;                /* reference (dq, db, dh), shared   */
    altdiff_int len;              /* n + m + p                        */
    int e;                        /* index of the current tolerance   */
    int mode;                     /* mode of the current backward run */
    double fwd_peak;              /* peak RSS of the forward process  */
    altdiff_work *work;           /* the solved workspace (forward)   */
    double dead_eps[BENCH_NMODES]; /* mode timed out (oom) at this eps */
    const char *dead_status[BENCH_NMODES]; /* ... with this status, or NULL */
} bench_case;

static bench_row *case_row(bench_case *c, int mode)
{
    return &c->sh->rows[c->e * BENCH_NMODES + mode];
}

static altdiff_settings case_settings(double eps, int record)
{
    altdiff_settings set = altdiff_settings_default();
    set.eps_abs = set.eps_rel = eps;
    set.record = record;
    return set;
}

/* Setup of the case's problem for its objective */
static int case_setup(const bench_case *c, const altdiff_settings *set, altdiff_work **work)
{
    altdiff_objective f;
    if (c->a->objective == ALTDIFF_OBJECTIVE_QUADRATIC)
        return altdiff_setup(work, &c->op->prob, set);
    memset(&f, 0, sizeof(f));
    f.kind = c->a->objective;
    f.y = c->y;
    return altdiff_setup_objective(work, &c->op->prob, &f, set);
}

/* Timings of the forward runs */
typedef struct {
    double t_analyze[BENCH_MAX_REPEAT], t_factor[BENCH_MAX_REPEAT];
    double t_setup[BENCH_MAX_REPEAT], t_iterate[BENCH_MAX_REPEAT];
    int runs;
} fwd_times;

/* Setup + solve at eps, repeated; *work = the last workspace (NULL on
 * error). Returns ALTDIFF_OK or the error code. */
static int solve_repeated(bench_case *c, double eps, int record, fwd_times *ft,
                          altdiff_work **work)
{
    altdiff_settings set = case_settings(eps, record);
    int rc = ALTDIFF_OK;
    double spent = 0;
    *work = NULL;
    for (ft->runs = 0; ft->runs < c->a->repeat && (ft->runs == 0 || spent < c->a->repeat_time);
         ft->runs++) {
        altdiff_free(*work);
        double t0 = bench_now();
        arm(c->a->time_budget);
        rc = case_setup(c, &set, work);
        if (rc == ALTDIFF_OK) rc = altdiff_solve(*work);
        arm(0);
        spent += bench_now() - t0;
        if (rc != ALTDIFF_OK) break;
        const altdiff_info *info = altdiff_get_info(*work);
        ft->t_analyze[ft->runs] = info->t_analyze;
        ft->t_factor[ft->runs] = info->t_factor;
        ft->t_setup[ft->runs] = info->t_setup;
        ft->t_iterate[ft->runs] = info->t_iterate;
    }
    return rc;
}


/* The forward columns of row r from the solved workspace; a solve that did
 * not reach eps fills the row as unsolved */
static void row_forward(bench_row *r, const altdiff_work *work, fwd_times *ft)
{
    const altdiff_info *info = altdiff_get_info(work);
    r->fwd_iter = (double)info->iter;
    r->nnz_L = info->nnz_L;
    r->fwd_runs = ft->runs;
    r->t_analyze = median(ft->t_analyze, ft->runs);
    r->t_factor = median(ft->t_factor, ft->runs);
    r->t_setup = median(ft->t_setup, ft->runs);
    r->t_iterate = median(ft->t_iterate, ft->runs);
    if (info->status != ALTDIFF_SOLVED)
        row_fail(r, "unsolved", "solve: %s", altdiff_status_string(info->status));
}

/* The backward columns of row r after runs VJPs that took t[0..runs-1] */
static void row_backward(bench_case *c, bench_row *r, int rc, const altdiff_deriv_info *di,
                         const double *g, double *t, int runs)
{
    r->peak_rss_mb = fmax(c->fwd_peak, peak_rss());
    if (rc != ALTDIFF_OK) {
        row_fail(r, code_status(rc), "vjp: %s", altdiff_error_string(rc));
        return;
    }
    r->bwd_runs = runs;
    r->t_backward = median(t, runs);
    r->bwd_iter = (double)di->iter;
    if (c->sh->have_ref) accuracy(g, c->g_ref, c->len, &r->cos_sim, &r->rel_err);
    if (di->status != ALTDIFF_SOLVED)
        row_fail(r, "bwd_maxiter", "derivative residual %.2e", di->residual);
    else if (di->weakly_active > 0)
        row_fail(r, "ok", "%ld weakly active rows", (long)di->weakly_active);
    else
        row_fail(r, "ok", "%s", "");
}

/* Child: VJPs of w in mode c->mode at the current eps on the solved c->work,
 * repeated, into the row */
static int backward_main(void *ctx)
{
    bench_case *c = ctx;
    const bench_args *a = c->a;
    bench_row *r = case_row(c, c->mode);
    altdiff_int n = c->op->prob.n, m = c->op->prob.m;
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    altdiff_deriv_info di;
    double t[BENCH_MAX_REPEAT], spent = 0, *g = malloc(sizeof(double) * (size_t)(c->len + 1));
    int rc = g ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM, k = 0;
    ds.mode = c->mode;
    ds.eps = a->eps[c->e];
    snprintf(r->phase, sizeof(r->phase), "vjp");
    for (; g && k < a->repeat && (k == 0 || spent < a->repeat_time); k++) {
        double t0 = bench_now();
        arm(a->time_budget);
        rc = altdiff_vjp(c->work, &ds, c->w, g, g + n, g + n + m, &di);
        arm(0);
        spent += t[k] = bench_now() - t0;
        if (rc != ALTDIFF_OK) break;
    }
    row_backward(c, r, rc, &di, g, t, k);
    free(g);
    return rc == ALTDIFF_ERR_NOMEM ? BENCH_EXIT_OOM : 0;
}

/* Child: setup + solve at the current eps (repeated), then a backward child
 * for each mode other than unroll whose row is still empty */
static int forward_main(void *ctx)
{
    bench_case *c = ctx;
    const bench_args *a = c->a;
    fwd_times ft;
    int rc = solve_repeated(c, a->eps[c->e], 0, &ft, &c->work), info;
    c->fwd_peak = peak_rss();
    for (int k = 0; k < a->nmodes; k++) {
        bench_row *r = case_row(c, a->modes[k]);
        if (a->modes[k] == ALTDIFF_MODE_UNROLL || r->filled) continue;
        r->peak_rss_mb = c->fwd_peak;
        if (rc != ALTDIFF_OK) {
            row_fail(r, code_status(rc), "setup/solve: %s", altdiff_error_string(rc));
            continue;
        }
        row_forward(r, c->work, &ft);
        if (r->filled) continue;
        c->mode = a->modes[k];
        int out = run_child(backward_main, c, &info);
        if (out != CHILD_OK) {
            char why[128];
            child_note(out, info, a->time_budget, why, sizeof(why));
            row_fail(r, child_status[out], "%s: %s", r->phase, why);
        }
    }
    altdiff_free(c->work);
    return rc == ALTDIFF_ERR_NOMEM ? BENCH_EXIT_OOM : 0;
}

/* Child: the unroll mode, with a recorded solve of its own */
static int unroll_main(void *ctx)
{
    bench_case *c = ctx;
    bench_row *r = case_row(c, ALTDIFF_MODE_UNROLL);
    fwd_times ft;
    snprintf(r->phase, sizeof(r->phase), "solve (record=1)");
    int rc = solve_repeated(c, c->a->eps[c->e], 1, &ft, &c->work);
    c->fwd_peak = r->peak_rss_mb = peak_rss();
    c->mode = ALTDIFF_MODE_UNROLL;
    if (rc != ALTDIFF_OK) {
        row_fail(r, code_status(rc), "setup/solve: %s", altdiff_error_string(rc));
    } else {
        row_forward(r, c->work, &ft);
        if (!r->filled) rc = backward_main(c) ? ALTDIFF_ERR_NOMEM : ALTDIFF_OK;
    }
    altdiff_free(c->work);
    return rc == ALTDIFF_ERR_NOMEM ? BENCH_EXIT_OOM : 0;
}

/* Child: the reference g_ref: solve at ref_eps, KKT-mode VJP */
static int reference_main(void *ctx)
{
    bench_case *c = ctx;
    const bench_args *a = c->a;
    altdiff_settings set = case_settings(a->ref_eps, 0);
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    altdiff_deriv_info di;
    altdiff_work *work = NULL;
    altdiff_int n = c->op->prob.n, m = c->op->prob.m;
    char *note = c->sh->ref_note;
    arm(a->time_budget);
    int rc = case_setup(c, &set, &work);
    if (rc == ALTDIFF_OK) rc = altdiff_solve(work);
    arm(0);
    if (rc != ALTDIFF_OK) {
        snprintf(note, BENCH_NOTE, "reference solve: %s", altdiff_error_string(rc));
    } else if (altdiff_get_info(work)->status != ALTDIFF_SOLVED) {
        snprintf(note, BENCH_NOTE, "reference solve at eps %g: %s", a->ref_eps,
                 altdiff_status_string(altdiff_get_info(work)->status));
    } else {
        ds.mode = ALTDIFF_MODE_KKT;
        arm(a->time_budget);
        rc = altdiff_vjp(work, &ds, c->w, c->g_ref, c->g_ref + n, c->g_ref + n + m, &di);
        arm(0);
        if (rc != ALTDIFF_OK) snprintf(note, BENCH_NOTE, "reference vjp: %s", altdiff_error_string(rc));
        c->sh->have_ref = rc == ALTDIFF_OK;
    }
    altdiff_free(work);
    return rc == ALTDIFF_ERR_NOMEM ? BENCH_EXIT_OOM : 0;
}

/* ---- the case process ---------------------------------------------------- */

/* Fill every row of the selected modes at tolerances e0.. that is still empty */
static void fill_all(const bench_args *a, bench_shared *sh, int e0, const char *status,
                     const char *note)
{
    for (int e = e0; e < a->neps; e++)
        for (int k = 0; k < a->nmodes; k++)
            row_fail(&sh->rows[e * BENCH_NMODES + a->modes[k]], status, "%s", note);
}

/* Read the problem, draw w, allocate g_ref; 0, or 1 with the rows filled */
static int case_read(bench_case *c)
{
    char err[512];
    bench_shared *sh = c->sh;
    snprintf(sh->phase, sizeof(sh->phase), "reading the problem");
    arm(c->a->gen_budget);
    int rc = cli_gen_read_dir(c->dir, c->a->objective, &c->op, &c->y, err, sizeof(err));
    arm(0);
    if (rc != ALTDIFF_OK) {
        fill_all(c->a, sh, 0, code_status(rc), err);
        return 1;
    }
    const altdiff_problem *pr = &c->op->prob;
    sh->n = (double)pr->n;
    sh->m = (double)pr->m;
    sh->p = (double)pr->p;
    sh->nnz_P = (double)pr->P.p[pr->n];
    sh->nnz_A = (double)pr->A.p[pr->n];
    sh->nnz_G = (double)pr->G.p[pr->n];
    c->len = pr->n + pr->m + pr->p;
    c->w = malloc(sizeof(double) * (size_t)pr->n);
    c->g_ref = shared_alloc(sizeof(double) * (size_t)c->len);
    if (!c->w || !c->g_ref) {
        fill_all(c->a, sh, 0, "oom", "cotangent/reference arrays: out of memory");
        return 1;
    }
    draw_normals(c->a->seed, c->w, pr->n);
    return 0;
}

/* The reference gradient in a child */
static void case_reference(bench_case *c)
{
    int info, out;
    if (c->a->ref_eps == 0) {
        snprintf(c->sh->ref_note, BENCH_NOTE, "no reference (--ref-eps 0)");
        return;
    }
    snprintf(c->sh->phase, sizeof(c->sh->phase), "the reference");
    out = run_child(reference_main, c, &info);
    if (out != CHILD_OK) {
        char why[128];
        child_note(out, info, c->a->time_budget, why, sizeof(why));
        snprintf(c->sh->ref_note, BENCH_NOTE, "reference: %s", why);
        c->sh->have_ref = 0;
    }
}

/* Rows of modes that timed out (or ran out of memory) at a larger eps */
static void case_skip(bench_case *c)
{
    double eps = c->a->eps[c->e];
    for (int k = 0; k < c->a->nmodes; k++) {
        int mode = c->a->modes[k];
        if (c->dead_status[mode] && eps <= c->dead_eps[mode])
            row_fail(case_row(c, mode), c->dead_status[mode], "skipped: %s at eps %g",
                     c->dead_status[mode], c->dead_eps[mode]);
    }
}

/* Remember the modes that timed out or ran out of memory at this eps */
static void case_mark_dead(bench_case *c)
{
    for (int k = 0; k < c->a->nmodes; k++) {
        int mode = c->a->modes[k];
        const char *st = case_row(c, mode)->status;
        if (c->dead_status[mode] || (strcmp(st, "timeout") && strcmp(st, "oom"))) continue;
        c->dead_status[mode] = !strcmp(st, "oom") ? "oom" : "timeout";
        c->dead_eps[mode] = c->a->eps[c->e];
    }
}

/* Run child fn for the rows of eps (unroll: only its row; else the others);
 * fill the rows it left empty */
static void case_run(bench_case *c, int (*fn)(void *), int unroll, const char *what)
{
    char why[128];
    int info, out;
    snprintf(c->sh->phase, sizeof(c->sh->phase), "%s at eps %g", what, c->a->eps[c->e]);
    out = run_child(fn, c, &info);
    if (out == CHILD_OK) return;
    child_note(out, info, c->a->time_budget, why, sizeof(why));
    for (int k = 0; k < c->a->nmodes; k++) {
        int mode = c->a->modes[k];
        bench_row *r = case_row(c, mode);
        if ((mode == ALTDIFF_MODE_UNROLL) == unroll)
            row_fail(r, child_status[out], "%s: %s", r->phase[0] ? r->phase : "solve", why);
    }
}

/* One progress line per row of the current eps */
static void case_progress(const bench_case *c)
{
    const bench_shared *sh = c->sh;
    for (int k = 0; k < c->a->nmodes; k++) {
        int mode = c->a->modes[k];
        const bench_row *r = &sh->rows[c->e * BENCH_NMODES + mode];
        fprintf(stderr,
                "bench: %s n=%.0f m=%.0f p=%.0f eps=%g %-7s %-11s fwd %5.0f it %9.4f s  "
                "bwd %5.0f it %9.4f s  %7.1f MB  cos %.8f  rel %.2e  %s\n",
                c->a->label, sh->n, sh->m, sh->p, c->a->eps[c->e], bench_mode_names[mode],
                r->status, r->fwd_iter, r->t_setup + r->t_iterate, r->bwd_iter, r->t_backward,
                r->peak_rss_mb, r->cos_sim, r->rel_err, r->note);
    }
}

/* Child: the whole case */
static int case_main(void *ctx)
{
    bench_case *c = ctx;
    const bench_args *a = c->a;
    int fwd = 0, unroll = 0;
    if (case_read(c)) return 0;
    case_reference(c);
    for (c->e = 0; c->e < a->neps; c->e++) {
        case_skip(c);
        for (int k = 0; k < a->nmodes; k++) {
            int empty = !case_row(c, a->modes[k])->filled;
            if (a->modes[k] == ALTDIFF_MODE_UNROLL) unroll = empty;
            else fwd |= empty;
        }
        if (fwd) case_run(c, forward_main, 0, "solve");
        if (unroll) case_run(c, unroll_main, 1, "unroll");
        case_mark_dead(c);
        case_progress(c);
        fwd = unroll = 0;
    }
    return 0;
}

/* ---- generating the case ------------------------------------------------- */

typedef struct {
    const bench_args *a;
    const char *dir;
    int errfd; /* stderr of the generator */
} gen_ctx;

/* Child: altdiff gen FAMILY DIR key=value ... with stdout discarded */
static int gen_child(void *ctx)
{
    gen_ctx *g = ctx;
    const bench_args *a = g->a;
    char *argv[BENCH_MAX_KEYS + 4];
    if (!freopen("/dev/null", "w", stdout)) return 1;
    dup2(g->errfd, 2);
    argv[0] = "gen";
    argv[1] = (char *)a->family;
    argv[2] = (char *)g->dir;
    for (int k = 0; k < a->nkeys; k++) argv[3 + k] = a->keys[k];
    argv[3 + a->nkeys] = NULL;
    arm(a->gen_budget);
    return cli_gen_main(3 + a->nkeys, argv);
}

/* n, m, p as the generator derives them from the keys: the sizes of the rows
 * of a case that could not be generated */
static void guess_sizes(const bench_args *a, bench_shared *sh)
{
    double n = -1, m = -1, p = -1, k = 100, ratio = 10, v;
    const char *f = a->family;
    for (int j = 0; j < a->nkeys; j++) {
        const char *s = a->keys[j], *eq = strchr(s, '=');
        if (!bench_num(eq + 1, 0, &v)) continue;
        if (!strncmp(s, "n=", 2)) n = v;
        else if (!strncmp(s, "m=", 2)) m = v;
        else if (!strncmp(s, "p=", 2)) p = v;
        else if (!strncmp(s, "k=", 2)) k = v;
        else if (!strncmp(s, "ratio=", 6)) ratio = v;
    }
    if (n < 0) n = strcmp(f, "randsparse") ? 1000 : 2000;
    if (!strcmp(f, "dense")) m = m < 0 ? 500 : m, p = p < 0 ? 200 : p;
    else if (!strcmp(f, "entropy")) m = m < 0 ? 300 : m, p = p < 0 ? 100 : p;
    else if (!strcmp(f, "sparsemax")) m = 1, p = 2 * n;
    else if (!strcmp(f, "manycon")) m = 0, p = floor(ratio * n + 0.5);
    else if (!strcmp(f, "grid")) n = k * k, m = k, p = 2 * n;
    else m = m < 0 ? floor(n / 10) : m, p = p < 0 ? floor(n / 2) : p;
    sh->n = n;
    sh->m = m;
    sh->p = p;
}

/* Generate the case into dir: 0, 2 (usage error: nothing to write), or 1
 * with every row filled */
static int bench_generate(const bench_args *a, bench_shared *sh, const char *dir)
{
    int fd[2], info;
    char buf[4096], why[128];
    if (pipe(fd) != 0) return 1;
    gen_ctx g = {a, dir, fd[1]};
    int out = run_child(gen_child, &g, &info);
    close(fd[1]);
    ssize_t len = read(fd[0], buf, sizeof(buf) - 1);
    close(fd[0]);
    buf[len > 0 ? len : 0] = '\0';
    fputs(buf, stderr);
    if (out == CHILD_OK) return 0;
    if (out == CHILD_FAILED && info == 2) return 2;
    if (out == CHILD_FAILED && strstr(buf, "out of memory")) out = CHILD_OOM;
    child_note(out, info, a->gen_budget, why, sizeof(why));
    snprintf(buf, sizeof(buf), "generator: %s", why);
    guess_sizes(a, sh);
    fill_all(a, sh, 0, child_status[out], buf);
    return 1;
}

/* rm -r of a flat directory */
static void remove_dir(const char *dir)
{
    char path[4400];
    DIR *d = opendir(dir);
    struct dirent *ent;
    while (d && (ent = readdir(d)))
        if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    rmdir(dir);
}

/* ---- output -------------------------------------------------------------- */

static void put_num(FILE *f, double v, const char *fmt)
{
    fputc(',', f);
    if (isfinite(v)) fprintf(f, fmt, v);
}

/* The note column: the row's note, fewer runs than asked, no reference
 * (commas and quotes replaced) */
static void put_note(FILE *f, const bench_args *a, const bench_shared *sh, const bench_row *r)
{
    char s[3 * BENCH_NOTE];
    int len = snprintf(s, sizeof(s), "%s", r->note);
    if ((r->fwd_runs > 0 && r->fwd_runs < a->repeat) || (r->bwd_runs > 0 && r->bwd_runs < a->repeat))
        len += snprintf(s + len, sizeof(s) - (size_t)len, "%sruns %d/%d", len ? "; " : "",
                        r->fwd_runs, r->bwd_runs);
    if (!sh->have_ref && sh->ref_note[0] && len < (int)sizeof(s))
        snprintf(s + len, sizeof(s) - (size_t)len, "%s%s", len ? "; " : "", sh->ref_note);
    for (char *t = s; *t; t++)
        if (*t == ',' || *t == '\n' || *t == '"') *t = *t == ',' ? ';' : *t == '"' ? '\'' : ' ';
    fprintf(f, ",%s\n", s);
}

static void put_row(FILE *f, const bench_args *a, const bench_shared *sh, int e, int mode)
{
    const bench_row *r = &sh->rows[e * BENCH_NMODES + mode];
    fputs(a->label, f);
    put_num(f, sh->n, "%.0f");
    put_num(f, sh->m, "%.0f");
    put_num(f, sh->p, "%.0f");
    put_num(f, sh->nnz_P, "%.0f");
    put_num(f, sh->nnz_A, "%.0f");
    put_num(f, sh->nnz_G, "%.0f");
    fprintf(f, ",%g,%s,%s", a->eps[e], bench_mode_names[mode], r->filled ? r->status : "error");
    put_num(f, r->fwd_iter, "%.0f");
    put_num(f, r->bwd_iter, "%.0f");
    put_num(f, r->t_analyze, "%.6g");
    put_num(f, r->t_factor, "%.6g");
    put_num(f, r->t_setup, "%.6g");
    put_num(f, r->t_iterate, "%.6g");
    put_num(f, r->t_backward, "%.6g");
    put_num(f, r->peak_rss_mb, "%.1f");
    put_num(f, r->nnz_L, "%.0f");
    put_num(f, r->cos_sim, "%.12f");
    put_num(f, r->rel_err, "%.3e");
    put_note(f, a, sh, r);
}

/* Append the rows (and the header to a new file); 0 or 4 */
static int bench_write(const bench_args *a, const bench_shared *sh)
{
    FILE *f = fopen(a->csv, "a");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "altdiff bench: cannot open %s: %s\n", a->csv, strerror(errno));
        if (f) fclose(f);
        return 4;
    }
    if (ftell(f) == 0) fprintf(f, "%s\n", bench_header);
    for (int e = 0; e < a->neps; e++)
        for (int k = 0; k < a->nmodes; k++) put_row(f, a, sh, e, a->modes[k]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "altdiff bench: cannot write %s\n", a->csv);
        return 4;
    }
    return 0;
}

/* One summary line for the case */
static void bench_summary(const bench_args *a, const bench_shared *sh, double t)
{
    int ok = 0, total = a->neps * a->nmodes;
    for (int e = 0; e < a->neps; e++)
        for (int k = 0; k < a->nmodes; k++)
            ok += !strcmp(sh->rows[e * BENCH_NMODES + a->modes[k]].status, "ok");
    fprintf(stderr, "bench: %s n=%.0f m=%.0f p=%.0f: %d/%d rows ok, %.1f s -> %s\n", a->label,
            sh->n, sh->m, sh->p, ok, total, t, a->csv);
}

/* ---- main ------------------------------------------------------------------ */

/* Generate (unless DIR), run the case in a child, clean up: 0, 1 or 2 */
static int bench_case_run(const bench_args *a, bench_shared *sh)
{
    char dir[4096], why[128];
    const char *tmp = getenv("TMPDIR");
    int rc = 0, info;
    snprintf(dir, sizeof(dir), "%s", a->family);
    if (!a->is_dir) {
        snprintf(dir, sizeof(dir), "%s/altdiff-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "altdiff bench: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        rc = bench_generate(a, sh, dir);
    }
    if (rc == 0) {
        bench_case c;
        memset(&c, 0, sizeof(c));
        c.a = a;
        c.sh = sh;
        c.dir = dir;
        int out = run_child(case_main, &c, &info);
        if (out != CHILD_OK) {
            child_note(out, info, a->gen_budget, why, sizeof(why));
            char note[BENCH_NOTE];
            snprintf(note, sizeof(note), "case process: %s during %s", why, sh->phase);
            fill_all(a, sh, 0, child_status[out], note);
        }
    }
    if (!a->is_dir) remove_dir(dir);
    return rc == 2 ? 2 : 0;
}

/* GNU OpenMP is not fork-safe: a child that enters a parallel region after
 * its parent ran one with a thread team hangs in libgomp. CHOLMOD's
 * supernodal factorization has such regions (num_threads(4), whatever
 * OMP_NUM_THREADS says), and the bench factors in children forked after the
 * forward solve factored (the KKT mode, smooth objectives). OMP_THREAD_LIMIT=1
 * keeps every region to one thread; libgomp reads it when it loads, so the
 * bench re-executes itself once with it set. The BLAS keeps its threads. */
void bench_exec_fork_safe(char **argv)
{
    if (getenv("OMP_THREAD_LIMIT")) return;
    if (setenv("OMP_THREAD_LIMIT", "1", 1) != 0) return;
    execv("/proc/self/exe", argv);
    fprintf(stderr, "altdiff bench: warning: could not re-execute with OMP_THREAD_LIMIT=1 (%s); "
                    "set it in the environment if a run hangs\n", strerror(errno));
}

int bench_main(int argc, char **argv)
{
    bench_args a;
    if (bench_parse(argc, argv, &a)) return 2;
    bench_mem_budget = a.mem_budget;
    bench_shared *sh = shared_alloc(sizeof(bench_shared));
    if (!sh) {
        fprintf(stderr, "altdiff bench: out of memory\n");
        return 1;
    }
    sh->n = sh->m = sh->p = sh->nnz_P = sh->nnz_A = sh->nnz_G = NAN;
    for (int k = 0; k < BENCH_MAX_EPS * BENCH_NMODES; k++) row_init(&sh->rows[k]);
    double t0 = bench_now();
    int rc = bench_case_run(&a, sh);
    if (rc == 0) rc = bench_write(&a, sh);
    if (rc == 0) bench_summary(&a, sh, bench_now() - t0);
    munmap(sh, sizeof(bench_shared));
    return rc;
}

/* altdiff-bench FAMILY|DIR OUT.csv [key=value ...] [options]: the harness
 * is its own program (not installed), which "altdiff bench ..." runs */
int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        bench_usage(stdout);
        return 0;
    }
    bench_exec_fork_safe(argv);
    return bench_main(argc, argv);
}
