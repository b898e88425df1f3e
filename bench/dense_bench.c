/*
 * dense_bench.c: the paper's dense QP against the BLAS floor, in one run
 * (not a test: it prints figures). For each size: setup (split into
 * analyze, factor and the rest) against DSYRK + DPOTRF of the same H; the
 * time per ADMM iteration against the floor (one solve (two DTRSV) + the four
 * DGEMV products A x, A'y, G x, G'y); forward time and iterations (with and
 * without polishing); backward per mode (gmres, kkt, adjoint) with the
 * cosine of its gradient against the KKT mode's; memory: the data's bytes,
 * the resident growth after setup in copies of the data, the factor's
 * storage (altdiff_info.mem_factor: the n x n array of H and its factor)
 * against n^2 doubles, and the growth of
 * the peak resident set during setup + solve + VJP (measured in a child
 * process). Medians of --reps runs; the first setup of the process (cold:
 * fresh pages) is printed apart.
 *
 * Usage: altdiff-bench-dense [--reps R] [n,m,p | DIR] ...
 *   n,m,p  the paper's dense QP generated here (P = M'M/n + I, A, G, q
 *          standard normal, b = A x0, h = G x0 + U(0,1))
 *   DIR    a problem directory (altdiff gen dense DIR n=.. m=.. p=..)
 *   default: 1000,500,200 2000,1000,500 5000,2000,1000
 */
#define _DEFAULT_SOURCE /* popen */
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "altdiff.h"
#include "bench_common.h"

/* BLAS / LAPACK (the floor) */
void dgemv_(const char *trans, const int *m, const int *n, const double *alpha, const double *a,
            const int *lda, const double *x, const int *incx, const double *beta, double *y,
            const int *incy);
void dtrsv_(const char *uplo, const char *trans, const char *diag, const int *n, const double *a,
            const int *lda, double *x, const int *incx);

#define MAXREP 15


static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int k)
{
    qsort(v, (size_t)k, sizeof(double), cmp);
    return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

/* A dense problem: column-major P (upper used), A, G and the vectors, with
 * its CSC view (every entry; P: upper triangle) */
typedef struct {
    altdiff_int n, m, p;
    double *P, *A, *G, *q, *b, *h;
    altdiff_int *Pp, *Pi, *Ap, *Ai, *Gp, *Gi;
    double *Px, *Ax, *Gx;
    altdiff_problem prob;
    altdiff_owned_problem *owned; /* read from a directory */
} dense_t;

/* CSC arrays of the column-major r x c matrix M (upper: rows <= column) */
static void to_csc(const double *M, altdiff_int r, altdiff_int c, int upper, altdiff_int **p,
                   altdiff_int **i, double **x)
{
    *p = malloc(sizeof(altdiff_int) * (size_t)(c + 1));
    *i = malloc(sizeof(altdiff_int) * (size_t)(r * c + 1));
    *x = malloc(sizeof(double) * (size_t)(r * c + 1));
    altdiff_int t = 0;
    for (altdiff_int j = 0; j < c; j++) {
        (*p)[j] = t;
        for (altdiff_int k = 0; k < (upper ? j + 1 : r); k++, t++) {
            (*i)[t] = k;
            (*x)[t] = M[k + j * r];
        }
    }
    (*p)[c] = t;
}

static void generate(dense_t *d, altdiff_int n, altdiff_int m, altdiff_int p)
{
    memset(d, 0, sizeof(*d));
    d->n = n, d->m = m, d->p = p;
    double *M = malloc(sizeof(double) * (size_t)(n * n)), *x0 = malloc(sizeof(double) * (size_t)n);
    d->P = calloc((size_t)(n * n), sizeof(double));
    d->A = malloc(sizeof(double) * (size_t)(m * n));
    d->G = malloc(sizeof(double) * (size_t)(p * n));
    d->q = malloc(sizeof(double) * (size_t)n);
    d->b = malloc(sizeof(double) * (size_t)(m + 1));
    d->h = malloc(sizeof(double) * (size_t)(p + 1));
    for (altdiff_int k = 0; k < n * n; k++) M[k] = normal();
    int nn = (int)n;
    double a = 1.0 / (double)n, zero = 0;
    dsyrk_("U", "T", &nn, &nn, &a, M, &nn, &zero, d->P, &nn); /* P = M'M / n + I */
    for (altdiff_int j = 0; j < n; j++) d->P[j + j * n] += 1;
    for (altdiff_int k = 0; k < m * n; k++) d->A[k] = normal();
    for (altdiff_int k = 0; k < p * n; k++) d->G[k] = normal();
    for (altdiff_int j = 0; j < n; j++) x0[j] = normal(), d->q[j] = normal();
    int one = 1, mm = (int)m, pp = (int)p;
    double d1 = 1;
    if (m > 0) dgemv_("N", &mm, &nn, &d1, d->A, &mm, x0, &one, &zero, d->b, &one);
    if (p > 0) dgemv_("N", &pp, &nn, &d1, d->G, &pp, x0, &one, &zero, d->h, &one);
    for (altdiff_int k = 0; k < p; k++) d->h[k] += unif();
    to_csc(d->P, n, n, 1, &d->Pp, &d->Pi, &d->Px);
    to_csc(d->A, m, n, 0, &d->Ap, &d->Ai, &d->Ax);
    to_csc(d->G, p, n, 0, &d->Gp, &d->Gi, &d->Gx);
    altdiff_csc Pc = {n, n, d->Pp, d->Pi, d->Px}, Ac = {m, n, d->Ap, d->Ai, d->Ax},
                Gc = {p, n, d->Gp, d->Gi, d->Gx};
    altdiff_problem prob = {n, m, p, Pc, Ac, Gc, d->q, d->b, d->h};
    d->prob = prob;
    free(M), free(x0);
}

/* Dense copies of a problem read from a directory (for the floor) */
static void densify(const altdiff_csc *S, double *D, int upper)
{
    for (altdiff_int j = 0; j < S->ncol; j++)
        for (altdiff_int t = S->p[j]; t < S->p[j + 1]; t++) {
            altdiff_int i = S->i[t];
            if (upper && i > j) D[j + i * S->nrow] = S->x[t];
            else D[i + j * S->nrow] = S->x[t];
        }
}

static int read_dir(dense_t *d, const char *dir)
{
    memset(d, 0, sizeof(*d));
    char err[512];
    if (altdiff_read_problem(dir, &d->owned, err, sizeof(err)) != ALTDIFF_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    d->prob = d->owned->prob;
    d->n = d->prob.n, d->m = d->prob.m, d->p = d->prob.p;
    d->P = calloc((size_t)(d->n * d->n), sizeof(double));
    d->A = calloc((size_t)(d->m * d->n + 1), sizeof(double));
    d->G = calloc((size_t)(d->p * d->n + 1), sizeof(double));
    densify(&d->prob.P, d->P, 1);
    densify(&d->prob.A, d->A, 0);
    densify(&d->prob.G, d->G, 0);
    return 0;
}

static void free_dense(dense_t *d)
{
    void *a[] = {d->P, d->A, d->G, d->q, d->b, d->h, d->Pp, d->Pi, d->Ap, d->Ai, d->Gp, d->Gi,
                 d->Px, d->Ax, d->Gx};
    for (size_t k = 0; k < sizeof(a) / sizeof(a[0]); k++) free(a[k]);
    if (d->owned) altdiff_free_problem(d->owned);
}

/* Resident set now, bytes (/proc/self/statm) */
static double rss_bytes(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    if (f) fclose(f);
    return (double)res * (double)sysconf(_SC_PAGESIZE);
}

static void floors(const dense_t *d, int reps, double *t_setup, double *t_iter);

/* Growth of the resident set after setup (*held) and of its peak over
 * setup + solve + VJP (gmres) (*peak), bytes; run in a process of its own
 * (`altdiff-bench-dense --peak ARG`), whose peak nothing else has raised
 * but the floor's BLAS calls, run first so that BLAS's work buffers are
 * not counted (their pages stay touched; the floor's arrays are freed) */
static void memory_here(const dense_t *d, double *held, double *peak)
{
    double fs, fi;
    floors(d, 1, &fs, &fi); /* BLAS's own buffers touched first: not counted */
    double before = rss_bytes();
    altdiff_int n = d->n;
    double *w = malloc(sizeof(double) * (size_t)n), *g = malloc(sizeof(double) * (size_t)n);
    for (altdiff_int j = 0; j < n; j++) w[j] = 1;
    altdiff_settings set = altdiff_settings_default();
    altdiff_work *wk = NULL;
    *held = *peak = -1;
    if (altdiff_setup(&wk, &d->prob, &set) == ALTDIFF_OK) {
        *held = rss_bytes() - before;
        altdiff_solve(wk);
        altdiff_deriv_settings ds = altdiff_deriv_settings_default();
        altdiff_vjp(wk, &ds, w, g, NULL, NULL, NULL);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        *peak = 1024.0 * (double)ru.ru_maxrss - before;
        altdiff_free(wk);
    }
    free(w), free(g);
}

static const char *self_path;

/* The same in a child process for ARG (n,m,p or DIR); -1 on failure */
static void memory(const char *arg, double *held, double *peak)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' --peak '%s'", self_path, arg);
    FILE *f = popen(cmd, "r");
    if (!f || fscanf(f, "%lf %lf", held, peak) != 2) *held = *peak = -1;
    if (f) pclose(f);
}

/* The floor, on the same data: DSYRK of S'S + DPOTRF of H = P + rho S'S +
 * sigma I (setup floor), and two DTRSV + four DGEMV (iteration floor) */
static void floors(const dense_t *d, int reps, double *t_setup, double *t_iter)
{
    altdiff_int n = d->n, m = d->m, p = d->p;
    int nn = (int)n, mm = (int)m, pp = (int)p, one = 1, info;
    double *H = malloc(sizeof(double) * (size_t)(n * n));
    double *x = malloc(sizeof(double) * (size_t)n), *y = malloc(sizeof(double) * (size_t)(m + p + 1));
    double ts[MAXREP], ti[MAXREP], rho = 0.1, d1 = 1, d0 = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (m > 0) dsyrk_("U", "T", &nn, &mm, &rho, d->A, &mm, &d0, H, &nn);
        if (p > 0) dsyrk_("U", "T", &nn, &pp, &rho, d->G, &pp, m > 0 ? &d1 : &d0, H, &nn);
        for (altdiff_int j = 0; j < n; j++)
            for (altdiff_int i = 0; i <= j; i++) H[i + j * n] += d->P[i + j * n] + (i == j) * 1e-6;
        dpotrf_("U", &nn, H, &nn, &info);
        ts[r] = now() - t0;
        for (altdiff_int j = 0; j < n; j++) x[j] = normal();
        int k = 20;
        t0 = now();
        for (int s = 0; s < k; s++) {
            dtrsv_("U", "T", "N", &nn, H, &nn, x, &one); /* H = U'U: U'z = x, U x = z */
            dtrsv_("U", "N", "N", &nn, H, &nn, x, &one);
            if (m > 0) dgemv_("N", &mm, &nn, &d1, d->A, &mm, x, &one, &d0, y, &one);
            if (p > 0) dgemv_("N", &pp, &nn, &d1, d->G, &pp, x, &one, &d0, y + m, &one);
            if (m > 0) dgemv_("T", &mm, &nn, &d1, d->A, &mm, y, &one, &d0, x, &one);
            if (p > 0) dgemv_("T", &pp, &nn, &d1, d->G, &pp, y + m, &one, &d1, x, &one);
            double s2 = 0;
            for (altdiff_int j = 0; j < n; j++) s2 += x[j] * x[j];
            for (altdiff_int j = 0; j < n; j++) x[j] /= sqrt(s2) + 1e-300;
        }
        ti[r] = (now() - t0) / k;
    }
    *t_setup = median(ts, reps);
    *t_iter = median(ti, reps);
    free(H), free(x), free(y);
}

static double cosine(const double *a, const double *b, altdiff_int len)
{
    double ab = 0, aa = 0, bb = 0;
    for (altdiff_int k = 0; k < len; k++) ab += a[k] * b[k], aa += a[k] * a[k], bb += b[k] * b[k];
    return ab / sqrt(aa * bb + 1e-300);
}

static void run(dense_t *d, int reps, const char *arg)
{
    altdiff_int n = d->n;
    double fs, fi;
    floors(d, reps, &fs, &fi);
    double tset[MAXREP], tan[MAXREP], tfa[MAXREP], tfw[MAXREP], tfw0[MAXREP], tit[MAXREP];
    double titx[MAXREP], mem_factor = 0;
    altdiff_int refac = 0;
    double tpol[MAXREP], tb[3][MAXREP], cs[3] = {0, 0, 0};
    altdiff_int iters = 0;
    int modes[3] = {ALTDIFF_MODE_GMRES, ALTDIFF_MODE_KKT, ALTDIFF_MODE_ADJOINT};
    const char *names[3] = {"gmres", "kkt", "adjoint"};
    double *w = malloc(sizeof(double) * (size_t)n), *g[3];
    for (int k = 0; k < 3; k++) g[k] = malloc(sizeof(double) * (size_t)n);
    for (altdiff_int j = 0; j < n; j++) w[j] = normal();
    int ok = 1;
    for (int r = 0; r < reps && ok; r++) {
        altdiff_settings set = altdiff_settings_default();
        altdiff_work *wk = NULL;
        double t0 = now();
        ok = altdiff_setup(&wk, &d->prob, &set) == ALTDIFF_OK;
        tset[r] = now() - t0;
        if (!ok) break;
        const altdiff_info *in = altdiff_get_info(wk);
        double tf_setup = in->t_factor;
        mem_factor = in->mem_factor;
        tan[r] = in->t_analyze, tfa[r] = in->t_factor;
        t0 = now();
        altdiff_solve(wk);
        tfw[r] = now() - t0;
        tpol[r] = in->t_polish;
        iters = in->iter;
        tit[r] = in->t_iterate / (double)(in->iter > 0 ? in->iter : 1);
        refac = in->rho_updates; /* each about the setup's factorization */
        titx[r] = (in->t_iterate - (double)refac * tf_setup) / (double)(in->iter > 0 ? in->iter : 1);
        for (int k = 0; k < 3; k++) {
            altdiff_deriv_settings ds = altdiff_deriv_settings_default();
            ds.mode = modes[k];
            t0 = now();
            ok = ok && altdiff_vjp(wk, &ds, w, g[k], NULL, NULL, NULL) == ALTDIFF_OK;
            tb[k][r] = now() - t0;
        }
        altdiff_free(wk);
        set.polish = 0; /* forward without polishing (the previous release had none) */
        ok = ok && altdiff_setup(&wk, &d->prob, &set) == ALTDIFF_OK;
        t0 = now();
        altdiff_solve(wk);
        tfw0[r] = now() - t0;
        altdiff_free(wk);
    }
    if (!ok) {
        printf("(%lld, %lld, %lld): FAILED\n", (long long)n, (long long)d->m, (long long)d->p);
        return;
    }
    double cold = tset[0], held, grow;
    memory(arg, &held, &grow);
    for (int k = 0; k < 3; k++) cs[k] = cosine(g[k], g[1], n);
    double S = median(tset, reps), an = median(tan, reps), fa = median(tfa, reps);
    double it = median(tit, reps), fw = median(tfw, reps), fw0 = median(tfw0, reps);
    printf("(%lld, %lld, %lld), medians of %d:\n", (long long)n, (long long)d->m, (long long)d->p,
           reps);
    printf("  setup %.4f s (analyze %.4f, factor %.4f, rest %.4f: import, scaling, S'RS by "
           "DSYRK); floor DSYRK+DPOTRF %.4f s: %.2fx\n", S, an, fa, S - an - fa, fs, S / fs);
    printf("  setup, first of the process (cold pages) %.4f s: %.2fx the floor\n", cold, cold / fs);
    double itx = median(titx, reps);
    printf("  iteration %.3f ms; floor (2 DTRSV + 4 DGEMV) %.3f ms: %.2fx (without its %lld "
           "refactorizations %.3f ms: %.2fx)\n", 1e3 * it, 1e3 * fi, it / fi, (long long)refac,
           1e3 * itx, itx / fi);
    printf("  forward %.4f s, %lld iterations (polish %.4f s); without polishing %.4f s\n", fw,
           (long long)iters, median(tpol, reps), fw0);
    for (int k = 0; k < 3; k++)
        printf("  backward %-8s %.4f s, cosine vs kkt %.8f\n", names[k], median(tb[k], reps),
               cs[k]);
    printf("  setup + forward + VJP (gmres): %.4f s (without polishing %.4f s)\n",
           S + fw + median(tb[0], reps), S + fw0 + median(tb[0], reps));
    double nnz = (double)(d->prob.P.p[n] + d->prob.A.p[n] + d->prob.G.p[n]), data = 8 * nnz;
    double MB = 1e-6, dense_L = 8.0 * (double)n * (double)n;
    printf("  memory: data %.1f MB (values); resident after setup %.1f MB = %.2f copies of the "
           "data (target: 2 copies + factor = %.1f MB); factor storage %.1f MB (n^2 doubles "
           "%.1f MB); peak resident growth over setup + solve + VJP %.1f MB\n", MB * data, MB * held,
           held / data, MB * (2 * data + dense_L), MB * mem_factor, MB * dense_L, MB * grow);
    fflush(stdout);
    free(w);
    for (int k = 0; k < 3; k++) free(g[k]);
}

/* n,m,p (the same data as run's: the seed restarts) or DIR */
static int load(dense_t *d, const char *arg)
{
    long long n, m, p;
    seed = 1;
    if (sscanf(arg, "%lld,%lld,%lld", &n, &m, &p) == 3) {
        generate(d, n, m, p);
        return 0;
    }
    return read_dir(d, arg);
}

int main(int argc, char **argv)
{
    int reps = 3, first = 1;
    self_path = argv[0];
    if (argc == 3 && strcmp(argv[1], "--peak") == 0) { /* the child of peak_growth */
        dense_t d;
        if (load(&d, argv[2]) != 0) return 1;
        double held, peak;
        memory_here(&d, &held, &peak);
        printf("%.0f %.0f\n", held, peak);
        free_dense(&d);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--reps") == 0) {
        reps = atoi(argv[2]);
        first = 3;
    }
    if (reps < 1 || reps > MAXREP) {
        fprintf(stderr, "--reps: 1..%d\n", MAXREP);
        return 2;
    }
    const char *dflt[] = {"1000,500,200", "2000,1000,500", "5000,2000,1000"};
    int count = argc > first ? argc - first : 3;
    for (int k = 0; k < count; k++) {
        const char *arg = argc > first ? argv[first + k] : dflt[k];
        dense_t d;
        if (load(&d, arg) != 0) return 1;
        if (d.owned) printf("%s: ", arg);
        run(&d, reps, arg);
        free_dense(&d);
    }
    return 0;
}
