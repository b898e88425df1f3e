/*
 * solve_batch.c: "altdiff solve DIR" when DIR is a batch, i.e. its q.mtx,
 * b.mtx or h.mtx has B > 1 columns (altdiff_read_problem_batch): B problems
 * that share P, A, G, one column per element (a file of one column is
 * shared by every element). They are solved together on one factor with the
 * batch API (altdiff_batch_setup, _set_vectors, _solve; --grad:
 * altdiff_batch_vjp with the cost model's mode unless --mode, a W.mtx of 1
 * or B columns; --matrix-grads: altdiff_batch_matrix_grads summed over the
 * elements, the gradient of the shared matrices).
 *
 * --out writes, once every element has finished whatever its status, x.mtx
 * (n x B), s.mtx, lam.mtx, nu.mtx (and dq, db, dh with B columns; dP, dA,
 * dG summed) and status.txt, one line per element: "INDEX<TAB>STATUS<TAB>
 * ITERATIONS", with --grad a fourth field "converged", "not converged" or
 * "not available" (the element was not solved: its gradients are 0). The
 * columns of an element that was not solved hold its last iterates. All
 * files appear together or none (cli_write_outputs). Exit 0 only when every
 * element was solved (and, with --grad, differentiated), else 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "altdiff.h"
#include "cli.h"

/* What a batch run writes */
typedef struct {
    altdiff_int n, m, p, B;
    double *x, *s, *lam, *nu;     /* n x B, p x B, m x B, p x B         */
    double *w;                    /* --grad: W with B columns           */
    double *dq, *db, *dh;         /* --grad: n x B, m x B, p x B        */
    double *dP, *dA, *dG;         /* --matrix-grads, summed             */
    altdiff_deriv_info *di;       /* --grad: B entries                  */
    char *status;                 /* the text of status.txt             */
    altdiff_csc Pv, Av, Gv;       /* the patterns with dP, dA, dG       */
    out_file files[CLI_MAX_OUTPUTS];
    int count;
} batch_out;

static void free_batch_out(batch_out *o)
{
    void *bufs[] = {o->x, o->s, o->lam, o->nu, o->w, o->dq, o->db,
                    o->dh, o->dP, o->dA, o->dG, o->di, o->status};
    for (size_t k = 0; k < sizeof(bufs) / sizeof(bufs[0]); k++) free(bufs[k]);
}

/* rows x cols doubles (one more, so that 0 x B is not NULL) or NULL */
static double *alloc_block(altdiff_int rows, altdiff_int cols)
{
    return malloc(sizeof(double) * (size_t)(rows * cols + 1));
}

static int nnz(const altdiff_csc *M) { return M->p ? (int)M->p[M->ncol] : 0; }

static void add_dense(batch_out *o, const char *name, const double *x, altdiff_int rows)
{
    o->files[o->count++] = (out_file){name, x, rows, o->B, NULL, 0, NULL};
}

static void add_sparse(batch_out *o, const char *name, altdiff_csc *v, const altdiff_csc *pat,
                       const double *x, int symmetric)
{
    *v = *pat;
    v->x = x;
    o->files[o->count++] = (out_file){name, NULL, 0, 0, v, symmetric, NULL};
}

/* The options a batch cannot take; EXIT_SOLVED or EXIT_USAGE (reported) */
static int check_batch_options(const solve_args *a, altdiff_int B)
{
    const char *why = NULL;
    if (a->jacobian >= 0) why = "--jacobian is not available for a batch (use --grad)";
    else if (a->mode == ALTDIFF_MODE_UNROLL) why = "--mode unroll is not available for a batch";
    if (!why) return EXIT_SOLVED;
    fprintf(stderr, "altdiff solve: %s: a batch of %lld problems: %s (see altdiff --help)\n",
            a->dir, (long long)B, why);
    return EXIT_USAGE;
}

/* Setup on the shared matrices and every element's vectors (a vector of
 * one column: ld 0, shared); EXIT_SOLVED or the exit status (reported) */
static int start_batch(altdiff_batch **bt, const altdiff_owned_problem *op, altdiff_int B,
                       const altdiff_int cols[3], const solve_args *a)
{
    const altdiff_problem *pr = &op->prob;
    int rc = altdiff_batch_setup(bt, pr, B, &a->set);
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s: %s\n", a->dir, altdiff_error_string(rc));
        return rc == ALTDIFF_ERR_NOT_POSDEF || rc == ALTDIFF_ERR_INVALID
                   ? EXIT_INPUT : exit_for(rc, EXIT_UNSOLVED);
    }
    rc = altdiff_batch_set_vectors(*bt, 0, B, op->q, cols[0] > 1 ? pr->n : 0, op->b,
                                   cols[1] > 1 ? pr->m : 0, op->h, cols[2] > 1 ? pr->p : 0);
    if (rc == ALTDIFF_OK) return EXIT_SOLVED;
    fprintf(stderr, "altdiff: %s: the vectors of the batch: %s%s\n", a->dir,
            altdiff_error_string(rc), rc == ALTDIFF_ERR_INVALID
            ? " (the rows of h.mtx with h_i >= 1e20 must be the same in every column)" : "");
    return exit_for(rc, EXIT_INPUT);
}

/* Elements solved, and the first few that were not, to stdout */
static altdiff_int print_statuses(const altdiff_batch *bt, altdiff_int B)
{
    altdiff_int solved = 0, shown = 0;
    for (altdiff_int k = 0; k < B; k++)
        solved += altdiff_batch_get_info(bt, k)->status == ALTDIFF_SOLVED;
    printf("status: %lld of %lld elements solved\n", (long long)solved, (long long)B);
    for (altdiff_int k = 0; k < B && shown < 10; k++) {
        const altdiff_info *in = altdiff_batch_get_info(bt, k);
        if (in->status == ALTDIFF_SOLVED) continue;
        printf("not solved: element %lld: %s\n", (long long)k, altdiff_status_string(in->status));
        shown++;
    }
    if (B - solved > shown)
        printf("not solved: %lld more (status.txt with --out)\n", (long long)(B - solved - shown));
    return solved;
}

/* The batch summary: elements solved, iterations min/mean/max, rho, times,
 * memory; the number of elements solved */
static altdiff_int print_batch_summary(const altdiff_batch *bt, const altdiff_problem *pr,
                                       altdiff_int B, const altdiff_int cols[3], double t_read)
{
    static const char *vec[3] = {"q", "b", "h"};
    altdiff_int rows[3] = {pr->n, pr->m, pr->p};
    printf("batch: %lld problems sharing P, A, G (n %lld, m %lld, p %lld):", (long long)B,
           (long long)pr->n, (long long)pr->m, (long long)pr->p);
    for (int k = 0, first = 1; k < 3; k++)
        if (rows[k] > 0) {
            printf("%s %s %s", first ? "" : ",", vec[k], cols[k] > 1 ? "per element" : "shared");
            first = 0;
        }
    printf("\n");
    altdiff_int solved = print_statuses(bt, B), lo = 0, hi = 0;
    double sum = 0;
    for (altdiff_int k = 0; k < B; k++) {
        altdiff_int it = altdiff_batch_get_info(bt, k)->iter;
        lo = k == 0 || it < lo ? it : lo;
        hi = it > hi ? it : hi;
        sum += (double)it;
    }
    const altdiff_info *in = altdiff_batch_get_info(bt, 0); /* rho, times: the batch's */
    printf("iterations: min %lld, mean %.1f, max %lld\n", (long long)lo, sum / (double)B,
           (long long)hi);
    printf("rho: %.3e (%ld updates)\n", in->rho, (long)in->rho_updates);
    printf("time: read %.4f s, analyze %.4f s, factor %.4f s, setup %.4f s, iterate %.4f s\n",
           t_read, in->t_analyze, in->t_factor, in->t_setup, in->t_iterate);
    printf("memory: nnz(L) %.0f, factor %.1f MB, peak RSS %.1f MB\n", in->nnz_L,
           in->mem_factor / 1048576.0, cli_peak_rss_mb());
    return solved;
}

/* W.mtx (n x 1 or n x B) as n x B into o->w; EXIT_SOLVED or the exit
 * status (reported) */
static int read_cotangent(const char *path, batch_out *o)
{
    char err[1024];
    double *w = NULL;
    altdiff_int rows = 0, cols = 0;
    int rc = altdiff_read_dense(path, &w, &rows, &cols, err, sizeof(err));
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s\n", err);
        return exit_for(rc, EXIT_INPUT);
    }
    if (rows != o->n || (cols != 1 && cols != o->B)) {
        fprintf(stderr, "altdiff: %s: W is %lld x %lld, expected %lld x 1 (shared) or %lld x %lld "
                        "(one column per element)\n", path, (long long)rows, (long long)cols,
                (long long)o->n, (long long)o->n, (long long)o->B);
        altdiff_free_array(w);
        return EXIT_INPUT;
    }
    o->w = alloc_block(o->n, o->B);
    for (altdiff_int k = 0; o->w && k < o->B; k++) /* a shared column repeated */
        memcpy(o->w + k * o->n, w + (cols > 1 ? k * o->n : 0), sizeof(double) * (size_t)o->n);
    altdiff_free_array(w);
    if (!o->w) fprintf(stderr, "altdiff: out of memory\n");
    return o->w ? EXIT_SOLVED : EXIT_NOMEM;
}

/* The 'backward:' line of a batch; the number of elements differentiated */
static altdiff_int report_batch_backward(const batch_out *o, int mode)
{
    altdiff_int done = 0, it = 0;
    double res = 0, t = 0;
    for (altdiff_int k = 0; k < o->B; k++) {
        const altdiff_deriv_info *d = &o->di[k];
        if (d->status == ALTDIFF_NOT_AVAILABLE) continue;
        done += d->status == ALTDIFF_SOLVED;
        it = d->iter > it ? d->iter : it;
        res = d->residual > res ? d->residual : res;
        t += d->time;
    }
    printf("backward: mode %s, time %.4f s, iterations max %ld, residual max %.3e, %lld of %lld "
           "elements converged\n", cli_mode_name(mode), t, (long)it, res, (long long)done,
           (long long)o->B);
    return done;
}

/* --matrix-grads: dP, dA, dG summed over the elements into o */
static int batch_matrix_gradients(const altdiff_batch *bt, const altdiff_problem *pr,
                                  batch_out *o)
{
    int rc = ALTDIFF_ERR_NOMEM;
    o->dP = alloc_block(nnz(&pr->P), 1);
    o->dA = alloc_block(nnz(&pr->A), 1);
    o->dG = alloc_block(nnz(&pr->G), 1);
    if (o->dP && o->dA && o->dG)
        rc = altdiff_batch_matrix_grads(bt, o->dq, o->db, o->dh, o->dP, o->dA, o->dG, 1);
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: matrix gradients failed: %s\n", altdiff_error_string(rc));
        return exit_for(rc, EXIT_UNSOLVED);
    }
    add_sparse(o, "dP.mtx", &o->Pv, &pr->P, o->dP, 1);
    if (pr->m > 0) add_sparse(o, "dA.mtx", &o->Av, &pr->A, o->dA, 0);
    if (pr->p > 0) add_sparse(o, "dG.mtx", &o->Gv, &pr->G, o->dG, 0);
    return EXIT_SOLVED;
}

/* --grad: VJPs of every element (and summed matrix gradients) into o;
 * *all_done = 1 when every element was differentiated */
static int batch_gradients(altdiff_batch *bt, const altdiff_problem *pr, const solve_args *a,
                           batch_out *o, int *all_done)
{
    int status = read_cotangent(a->grad, o);
    if (status != EXIT_SOLVED) return status;
    altdiff_deriv_settings ds = altdiff_deriv_settings_default();
    ds.mode = a->mode >= 0 ? a->mode : ALTDIFF_MODE_AUTO;
    ds.eps = a->grad_eps > 0 ? a->grad_eps : a->set.eps_abs;
    o->dq = alloc_block(o->n, o->B);
    o->db = alloc_block(o->m, o->B);
    o->dh = alloc_block(o->p, o->B);
    o->di = calloc((size_t)o->B, sizeof(altdiff_deriv_info));
    int rc = o->dq && o->db && o->dh && o->di
                 ? altdiff_batch_vjp(bt, &ds, o->w, o->dq, o->db, o->dh, o->di)
                 : ALTDIFF_ERR_NOMEM;
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: derivative failed: %s\n", altdiff_error_string(rc));
        return exit_for(rc, EXIT_UNSOLVED);
    }
    *all_done = report_batch_backward(o, ds.mode) == o->B;
    add_dense(o, "dq.mtx", o->dq, o->n);
    if (o->m > 0) add_dense(o, "db.mtx", o->db, o->m);
    if (o->p > 0) add_dense(o, "dh.mtx", o->dh, o->p);
    return a->matrix_grads ? batch_matrix_gradients(bt, pr, o) : EXIT_SOLVED;
}

/* The derivative field of status.txt */
static const char *deriv_word(const altdiff_deriv_info *d)
{
    return d->status == ALTDIFF_SOLVED          ? "converged"
           : d->status == ALTDIFF_NOT_AVAILABLE ? "not available"
                                                : "not converged";
}

/* status.txt: "INDEX\tSTATUS\tITERATIONS[\tDERIVATIVE]" per element */
static int status_text(const altdiff_batch *bt, batch_out *o)
{
    size_t cap = (size_t)o->B * 160 + 1, len = 0;
    o->status = malloc(cap);
    if (!o->status) return EXIT_NOMEM;
    for (altdiff_int k = 0; k < o->B; k++) {
        const altdiff_info *in = altdiff_batch_get_info(bt, k);
        len += (size_t)snprintf(o->status + len, cap - len, "%lld\t%s\t%lld", (long long)k,
                                altdiff_status_string(in->status), (long long)in->iter);
        if (o->di)
            len += (size_t)snprintf(o->status + len, cap - len, "\t%s", deriv_word(&o->di[k]));
        len += (size_t)snprintf(o->status + len, cap - len, "\n");
    }
    o->files[o->count++] = (out_file){"status.txt", NULL, 0, 0, NULL, 0, o->status};
    return EXIT_SOLVED;
}

/* Solutions (and derivatives) of every element, and status.txt, into
 * OUTDIR; *all_done = 0 when a derivative was not available or converged */
static int write_batch_results(altdiff_batch *bt, const altdiff_problem *pr,
                               const solve_args *a, altdiff_int B, int *all_done)
{
    batch_out o;
    memset(&o, 0, sizeof(o));
    o.n = pr->n;
    o.m = pr->m;
    o.p = pr->p;
    o.B = B;
    o.x = alloc_block(o.n, B);
    o.s = alloc_block(o.p, B);
    o.lam = alloc_block(o.m, B);
    o.nu = alloc_block(o.p, B);
    int status = o.x && o.s && o.lam && o.nu ? EXIT_SOLVED : EXIT_NOMEM;
    if (status == EXIT_SOLVED) {
        altdiff_batch_get_solution(bt, 0, B, o.x, o.s, o.lam, o.nu);
        add_dense(&o, "x.mtx", o.x, o.n);
        add_dense(&o, "s.mtx", o.s, o.p);
        add_dense(&o, "lam.mtx", o.lam, o.m);
        add_dense(&o, "nu.mtx", o.nu, o.p);
        if (a->grad) status = batch_gradients(bt, pr, a, &o, all_done);
    }
    if (status == EXIT_SOLVED) status = status_text(bt, &o);
    if (status == EXIT_NOMEM) fprintf(stderr, "altdiff: out of memory\n");
    if (status == EXIT_SOLVED) status = cli_write_outputs(a->out, o.files, o.count);
    free_batch_out(&o);
    return status;
}

/* The tool's own KKT check (kktcheck.c) of every solved element, as the
 * summary's "check:" line; the number that fail it (the first on stderr),
 * or -1 out of memory */
static altdiff_int verify_batch(const altdiff_batch *bt, const altdiff_owned_problem *op,
                                altdiff_int B, const altdiff_int cols[3], const solve_args *a)
{
    const altdiff_problem *pr = &op->prob;
    altdiff_int failed = 0, checked = 0;
    double *x = alloc_block(pr->n, 1), *s = alloc_block(pr->p, 1), *lam = alloc_block(pr->m, 1),
           *nu = alloc_block(pr->p, 1);
    for (altdiff_int k = 0; k < B && x && s && lam && nu && failed >= 0; k++) {
        const altdiff_info *in = altdiff_batch_get_info(bt, k);
        if (in->status != ALTDIFF_SOLVED) continue;
        altdiff_problem e = *pr; /* element k: its columns of q, b, h */
        e.q = op->q + (cols[0] > 1 ? k * pr->n : 0);
        e.b = op->b ? op->b + (cols[1] > 1 ? k * pr->m : 0) : NULL;
        e.h = op->h ? op->h + (cols[2] > 1 ? k * pr->p : 0) : NULL;
        char why[160];
        altdiff_batch_get_solution(bt, k, 1, x, s, lam, nu);
        int ok = cli_kkt_check(&e, x, s, lam, nu, in, a->set.infinity, why, sizeof(why));
        checked++;
        if (ok < 0) failed = -1;
        else if (!ok && failed++ == 0)
            fprintf(stderr, "altdiff: %s: element %lld fails the independent KKT check: %s\n",
                    a->dir, (long long)k, why);
    }
    if (!x || !s || !lam || !nu) failed = -1;
    free(x), free(s), free(lam), free(nu);
    if (failed == 0) printf("check: passed (%lld solved elements)\n", (long long)checked);
    else if (failed > 0) printf("check: FAILED for %lld of %lld solved elements\n",
                                (long long)failed, (long long)checked);
    return failed;
}

int cli_solve_batch(const altdiff_owned_problem *op, altdiff_int B, const altdiff_int cols[3],
                    const solve_args *a, double t_read)
{
    altdiff_batch *bt = NULL;
    int status = check_batch_options(a, B), all_done = 1;
    if (status == EXIT_SOLVED) status = start_batch(&bt, op, B, cols, a);
    if (status != EXIT_SOLVED) return status;
    int rc = altdiff_batch_solve(bt);
    if (rc != ALTDIFF_OK) {
        fprintf(stderr, "altdiff: %s: batch solve failed: %s\n", a->dir, altdiff_error_string(rc));
        altdiff_batch_free(bt);
        return exit_for(rc, EXIT_UNSOLVED);
    }
    altdiff_int solved = print_batch_summary(bt, &op->prob, B, cols, t_read);
    altdiff_int bad = verify_batch(bt, op, B, cols, a);
    solved -= bad > 0 ? bad : 0;
    if (bad < 0) {
        fprintf(stderr, "altdiff: out of memory\n");
        status = EXIT_NOMEM;
    }
    if (a->out && status == EXIT_SOLVED) status = write_batch_results(bt, &op->prob, a, B, &all_done);
    if (status == EXIT_SOLVED && (solved < B || !all_done)) {
        if (solved < B)
            fprintf(stderr, "altdiff: %s: %lld of %lld elements not solved%s\n", a->dir,
                    (long long)(B - solved), (long long)B, a->out ? " (see status.txt)" : "");
        else
            fprintf(stderr, "altdiff: %s: derivative failed: not every element's derivative "
                            "reached --grad-eps (see status.txt)\n", a->dir);
        status = EXIT_UNSOLVED;
    }
    altdiff_batch_free(bt);
    return status;
}
