/*
 * batch.c: B problems sharing P, A, G (doc/MATH.md section 6). One model
 * (scaling, analysis and factor of H) and B solve states. When it pays
 * (lockstep_pays) the solve runs the elements together (ad_solve_batch:
 * one block solve per iteration for the elements still iterating) and so
 * does the VJP's GMRES (ad_adjoint_vjp_many, at most AD_VJP_CHUNK at a
 * time); else they run one by one; always on the shared factor and, for
 * the derivatives, at the stored solutions.
 *
 * Elements given matrices of their own (altdiff_batch_set_matrices, same
 * patterns) get a model of their own that reuses the shared analysis of H
 * (ad_model_derive); they are solved and differentiated one by one as a
 * workspace would be, on up to bt->threads threads, each thread taking
 * whole elements: an element's work reads and writes only its own model
 * and state, so the results do not depend on the threads.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "ad_internal.h"

#define AD_MAX_THREADS 64 /* threads of one batch call at most */

struct altdiff_batch {
    ad_model model;
    altdiff_int B;
    ad_state *el;          /* B solve states                                 */
    ad_batch_work bw;      /* scratch of the solve                           */
    ad_model **own;        /* B: the element's own model (per-element
                              matrices) or NULL: it is on the shared model   */
    unsigned char *stale;  /* B: its own H is not factored (not positive
                              definite): its next solve refactors it first  */
    unsigned char *restart; /* B: its last solve failed: the next one starts it
                              from clean iterates, whatever was set between */
    ad_state *gather;      /* B: the shared-model elements' states gathered
                              for the block solve (struct copies)           */
    int threads;           /* threads for the own-model elements, 0 = cores */
    int lockstep;          /* -1: when it pays (lockstep_pays); 0 never; 1
                              always (ad_batch_set_lockstep, for tests)      */
};

/* ---- setup ------------------------------------------------------------------- */

/* A block of B columns of rows doubles (at least one row), its pages mapped
 * now: a solve touches it whole */
static double *cols_alloc(altdiff_int rows, altdiff_int B)
{
    return ad_malloc_mapped((size_t)(rows > 0 ? rows : 1) * (size_t)B, sizeof(double));
}

/* Everything after the model: states with prob's vectors, solve scratch */
static int batch_alloc(altdiff_batch *bt, const altdiff_problem *prob)
{
    altdiff_int B = bt->B, n = bt->model.n, m = bt->model.m, p = bt->model.p;
    ad_batch_work *bw = &bt->bw;
    if ((size_t)B > SIZE_MAX / sizeof(double) / (size_t)(n + m + p + 1)) return ALTDIFF_ERR_NOMEM;
    bt->el = ad_calloc((size_t)B, sizeof(ad_state));
    double **blocks[] = {&bw->X, &bw->WA, &bw->WG};
    altdiff_int rows[] = {n, m, p};
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        *blocks[k] = cols_alloc(rows[k], B);
        ok = ok && *blocks[k];
    }
    bw->act = ad_malloc((size_t)B, sizeof(altdiff_int));
    bw->res = ad_calloc((size_t)B, sizeof(residuals_t));
    bt->own = ad_calloc((size_t)B, sizeof(ad_model *));
    bt->stale = ad_calloc((size_t)B, 1);
    bt->restart = ad_calloc((size_t)B, 1);
    bt->gather = ad_malloc((size_t)B, sizeof(ad_state));
    bt->threads = 1;
    if (!ok || !bt->el || !bw->act || !bw->res || !bt->own ||
        !bt->stale || !bt->restart || !bt->gather)
        return ALTDIFF_ERR_NOMEM;
    for (altdiff_int e = 0; e < B; e++) { /* Anderson memory: element 0 now,
                                               the others when they need it */
        int status = e == 0 ? ad_state_alloc(&bt->model, &bt->el[e])
                            : ad_state_alloc_vectors(&bt->model, &bt->el[e]);
        if (status != ALTDIFF_OK) return status;
        ad_state_set_vectors(&bt->model, &bt->el[e], prob->q, prob->b, prob->h);
        ad_state_info_setup(&bt->model, &bt->el[e]);
    }
    return ALTDIFF_OK;
}

/* Sizes, settings and the problem usable (msg: why not, AD_MSG_LEN bytes) */
static int batch_args_valid(altdiff_batch **batch, const altdiff_problem *prob,
                            altdiff_int B, const altdiff_settings *set, char *msg)
{
    if (!batch || !prob || B < 1) {
        ad_msg(msg, AD_MSG_LEN, !batch ? "batch is NULL" : !prob ? "prob is NULL"
                                                            : "B = %lld, needs B >= 1",
               (long long)B);
        return ALTDIFF_ERR_INVALID;
    }
    if (set->record) {
        ad_msg(msg, AD_MSG_LEN, "settings.record is %d: a batch does not record", set->record);
        return ALTDIFF_ERR_INVALID;
    }
    int status = ad_settings_check_msg(set, msg, AD_MSG_LEN);
    return status == ALTDIFF_OK ? ad_check_problem(prob, msg, AD_MSG_LEN) : status;
}

int altdiff_batch_setup_err(altdiff_batch **batch, const altdiff_problem *prob, altdiff_int B,
                            const altdiff_settings *settings, char *err, size_t errlen)
{
    char msg[AD_MSG_LEN] = "";
    if (batch) *batch = NULL;
    altdiff_settings set = settings ? *settings : altdiff_settings_default();
    int status = batch_args_valid(batch, prob, B, &set, msg);
    if (status != ALTDIFF_OK) {
        ad_msg(err, errlen, "%s", msg);
        return status;
    }
    double t0 = ad_time();
    altdiff_batch *bt = ad_calloc(1, sizeof(altdiff_batch));
    if (!bt) {
        ad_msg(err, errlen, "out of memory allocating the batch");
        return ALTDIFF_ERR_NOMEM;
    }
    bt->B = B;
    bt->lockstep = -1;
    status = ad_model_init(&bt->model, prob, &set);
    if (status == ALTDIFF_OK) status = batch_alloc(bt, prob);
    if (status != ALTDIFF_OK) {
        if (!bt->model.msg[0]) /* the import's or an allocation's */
            ad_msg(bt->model.msg, AD_MSG_LEN, "%s", status == ALTDIFF_ERR_INVALID
                   ? "P: an entry given in both triangles with different values"
                   : altdiff_error_string(status));
        ad_msg(err, errlen, "%s", bt->model.msg);
        altdiff_batch_free(bt);
        return status;
    }
    bt->model.t_setup = ad_time() - t0;
    for (altdiff_int e = 0; e < B; e++) ad_state_info_setup(&bt->model, &bt->el[e]);
    *batch = bt;
    ad_msg(err, errlen, "%s", "");
    return ALTDIFF_OK;
}

int altdiff_batch_setup(altdiff_batch **batch, const altdiff_problem *prob, altdiff_int B,
                        const altdiff_settings *settings)
{
    return altdiff_batch_setup_err(batch, prob, B, settings, NULL, 0);
}

const char *altdiff_batch_last_error(const altdiff_batch *bt)
{
    return bt ? bt->model.msg : "no batch (NULL)";
}

void altdiff_batch_free(altdiff_batch *bt)
{
    if (!bt) return;
    for (altdiff_int e = 0; bt->el && e < bt->B; e++) ad_state_free(&bt->el[e]);
    for (altdiff_int e = 0; bt->own && e < bt->B; e++)
        if (bt->own[e]) {
            ad_model_free(bt->own[e]);
            ad_free(bt->own[e]);
        }
    ad_solve_work_free(&bt->bw.ws, &bt->model.F.cm);
    ad_model_free(&bt->model);
    void *arrays[] = {bt->el, bt->bw.X, bt->bw.WA, bt->bw.WG, bt->bw.PX, bt->bw.SY,
                      bt->bw.AX, bt->bw.GX, bt->bw.Pd, bt->bw.act, bt->bw.res,
                      bt->own, bt->stale, bt->restart, bt->gather};
    for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) ad_free(arrays[k]);
    ad_free(bt);
}

altdiff_int altdiff_batch_size(const altdiff_batch *bt) { return bt ? bt->B : 0; }

/* 1 if elements first .. first + count - 1 exist */
static int range_valid(const altdiff_batch *bt, altdiff_int first, altdiff_int count)
{
    return bt && first >= 0 && count >= 0 && first <= bt->B - count;
}

/* The model element e is solved on: its own or the shared one */
static ad_model *model_of(const altdiff_batch *bt, altdiff_int e)
{
    return bt->own[e] ? bt->own[e] : (ad_model *)&bt->model;
}

int altdiff_batch_set_threads(altdiff_batch *bt, int threads)
{
    if (!bt || threads < 0) return ALTDIFF_ERR_INVALID;
    bt->threads = threads;
    return ALTDIFF_OK;
}

/* ---- work on whole elements, on threads ---------------------------------------------- */

/* One element's work (fn(bt, e, arg)): reads and writes only element e's
 * model and state (and its slices of the caller's arrays) */
typedef int (*element_fn)(altdiff_batch *bt, altdiff_int e, void *arg);

typedef struct {
    altdiff_batch *bt;
    altdiff_int first, end; /* the elements first .. end - 1               */
    int own_only;           /* only those with a model of their own         */
    element_fn fn;
    void *arg;
    atomic_llong next;      /* the next element to take                     */
} ad_run;

typedef struct {
    ad_run *run;
    altdiff_int bad;        /* the first element whose work failed (or end) */
    int code;               /* and its code                                 */
} ad_worker;

/* Take elements until none is left; remember the first failure */
static void *work(void *arg)
{
    ad_worker *w = arg;
    ad_run *r = w->run;
    for (;;) {
        altdiff_int e = (altdiff_int)atomic_fetch_add(&r->next, 1);
        if (e >= r->end) break;
        if (r->own_only && !r->bt->own[e]) continue;
        int code = r->fn(r->bt, e, r->arg);
        if (code != ALTDIFF_OK && e < w->bad) {
            w->bad = e;
            w->code = code;
        }
    }
    return NULL;
}

/* Threads for jobs elements: settings' count (0 = the cores online), at
 * most one per element */
static int thread_count(const altdiff_batch *bt, altdiff_int jobs)
{
    long k = bt->threads > 0 ? bt->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (k > AD_MAX_THREADS) k = AD_MAX_THREADS;
    if (k > jobs) k = (long)jobs;
    return k < 1 ? 1 : (int)k;
}

/* fn on elements first .. first + count - 1 (own_only: those with a model
 * of their own), on up to bt->threads threads (the caller's among them; a
 * thread that cannot be started leaves its share to the others). Every
 * element is worked on whatever the others do; returns the code of the
 * first element that failed (its index in *bad, or -1), as a serial run. */
static int run_elements(altdiff_batch *bt, altdiff_int first, altdiff_int count, int own_only,
                        element_fn fn, void *arg, altdiff_int *bad)
{
    ad_run r = {bt, first, first + count, own_only, fn, arg, 0};
    atomic_init(&r.next, first);
    altdiff_int jobs = 0;
    for (altdiff_int e = first; e < first + count; e++) jobs += !own_only || bt->own[e];
    ad_worker w[AD_MAX_THREADS];
    pthread_t tid[AD_MAX_THREADS];
    int k = thread_count(bt, jobs), started = 0;
    for (int t = 0; t < k; t++) w[t] = (ad_worker){&r, r.end, ALTDIFF_OK};
    while (started + 1 < k && pthread_create(&tid[started + 1], NULL, work, &w[started + 1]) == 0)
        started++;
    work(&w[0]);
    for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
    int code = ALTDIFF_OK;
    *bad = -1;
    for (int t = 0; t < k; t++)
        if (w[t].code != ALTDIFF_OK && (*bad < 0 || w[t].bad < *bad)) {
            *bad = w[t].bad;
            code = w[t].code;
        }
    return code;
}

/* bt->model.msg = "element e: " and the text of e's own model (or code's) */
static void element_msg(altdiff_batch *bt, altdiff_int e, int code)
{
    const char *why = bt->own[e] && bt->own[e]->msg[0] ? bt->own[e]->msg
                                                       : altdiff_error_string(code);
    char text[AD_MSG_LEN];
    ad_msg(text, sizeof(text), "%s", why);
    ad_msg(bt->model.msg, AD_MSG_LEN, "element %lld: %s", (long long)e, text);
}

/* ---- vectors and matrices --------------------------------------------------------- */

int altdiff_batch_set_vectors(altdiff_batch *bt, altdiff_int first, altdiff_int count,
                              const double *q, altdiff_int ldq, const double *b, altdiff_int ldb,
                              const double *h, altdiff_int ldh)
{
    if (!range_valid(bt, first, count) || ldq < 0 || ldb < 0 || ldh < 0)
        return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    for (altdiff_int j = 0; j < count; j++) { /* all valid before any is taken */
        char why[AD_MSG_LEN];
        if (ad_check_vectors(md, q ? q + j * ldq : NULL, b ? b + j * ldb : NULL,
                             h ? h + j * ldh : NULL, why, sizeof(why)) != ALTDIFF_OK) {
            ad_msg(md->msg, AD_MSG_LEN, "element %lld: %s", (long long)(first + j), why);
            return ALTDIFF_ERR_INVALID;
        }
    }
    for (altdiff_int j = 0; j < count; j++) {
        ad_state *st = &bt->el[first + j];
        ad_state_set_vectors(model_of(bt, first + j), st, q ? q + j * ldq : NULL,
                             b ? b + j * ldb : NULL, h ? h + j * ldh : NULL);
        st->info.status = ALTDIFF_UNSOLVED;
    }
    return ALTDIFF_OK;
}

int altdiff_batch_update_matrices(altdiff_batch *bt, const double *Px, const double *Ax,
                                  const double *Gx)
{
    if (!bt) return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    if (ad_check_matrices(md, Px, Ax, Gx) != ALTDIFF_OK) return ALTDIFF_ERR_INVALID;
    ad_state *s0 = &bt->el[0];
    double c0, *D0 = bt->bw.X, *E0 = s0->wn2; /* X: n x B >= n; wn2: n + m + p */
    int status = ad_model_set_matrices(md, Px, Ax, Gx, s0->q0, D0, E0, &c0);
    for (altdiff_int e = 0; e < bt->B; e++) {
        ad_state *st = &bt->el[e];
        if (bt->own[e]) continue; /* keeps its own matrices */
        if (e > 0) ad_state_rescale(md, st, D0, E0, c0); /* wn2 of element 0 is E0 */
        st->info.status = ALTDIFF_UNSOLVED;
        ad_state_info_setup(md, st);
    }
    if (!bt->own[0]) ad_state_rescale(md, s0, D0, E0, c0);
    return status;
}

/* ---- per-element matrices ------------------------------------------------------------ */

/* The arguments of altdiff_batch_set_matrices and the models being made:
 * fresh[j] for element first + j, indef[j] = 1 if its H is not positive
 * definite */
typedef struct {
    altdiff_int first;
    const double *x[3];    /* Px, Ax, Gx (NULL: the element's current values) */
    altdiff_int ld[3];
    ad_model **fresh;
    unsigned char *indef;
} ad_matrices_args;

/* Every value given finite (bt->model.msg: which element, which entry) */
static int element_values_valid(altdiff_batch *bt, altdiff_int count, const ad_matrices_args *a)
{
    static const char *names[3] = {"Px", "Ax", "Gx"};
    const ad_model *md = &bt->model;
    altdiff_int nz[3] = {md->Pnz, md->Anz, md->Gnz};
    for (altdiff_int j = 0; j < count; j++)
        for (int k = 0; k < 3; k++) {
            char why[AD_MSG_LEN];
            if (!a->x[k] ||
                ad_check_finite(names[k], a->x[k] + j * a->ld[k], nz[k], why, sizeof(why)) ==
                    ALTDIFF_OK)
                continue;
            ad_msg(bt->model.msg, AD_MSG_LEN, "element %lld: %s", (long long)(a->first + j), why);
            return ALTDIFF_ERR_INVALID;
        }
    return ALTDIFF_OK;
}

/* The new model of element e (from its current one: the shared analysis)
 * with its values; scaled with the cost factor from its q. A matrix not
 * positive definite is noted, not an error. */
static int derive_element(altdiff_batch *bt, altdiff_int e, void *arg)
{
    ad_matrices_args *a = arg;
    altdiff_int j = e - a->first;
    double t0 = ad_time();
    ad_model *md = a->fresh[j] = ad_calloc(1, sizeof(ad_model));
    if (!md) return ALTDIFF_ERR_NOMEM;
    const double *v[3];
    for (int k = 0; k < 3; k++) v[k] = a->x[k] ? a->x[k] + j * a->ld[k] : NULL;
    int status = ad_model_derive(md, model_of(bt, e), v[0], v[1], v[2], bt->el[e].q0);
    md->t_setup = ad_time() - t0;
    a->indef[j] = status == ALTDIFF_ERR_NOT_POSDEF;
    return a->indef[j] ? ALTDIFF_OK : status;
}

/* Element e takes its new model md: its iterates keep their meaning (in
 * original units) under md's scaling, its old model goes */
static void take_model(altdiff_batch *bt, altdiff_int e, ad_model *md, int indef)
{
    ad_state *st = &bt->el[e];
    const ad_model *old = model_of(bt, e);
    ad_state_rescale(md, st, old->sc.D, old->sc.E, old->sc.c);
    st->info.status = ALTDIFF_UNSOLVED;
    if (bt->own[e]) {
        ad_model_free(bt->own[e]);
        ad_free(bt->own[e]);
    }
    bt->own[e] = md;
    bt->stale[e] = (unsigned char)indef;
    ad_state_info_setup(md, st);
}

int altdiff_batch_set_matrices(altdiff_batch *bt, altdiff_int first, altdiff_int count,
                               const double *Px, altdiff_int ldP, const double *Ax,
                               altdiff_int ldA, const double *Gx, altdiff_int ldG)
{
    if (!range_valid(bt, first, count) || ldP < 0 || ldA < 0 || ldG < 0) {
        if (bt) ad_msg(bt->model.msg, AD_MSG_LEN, "elements %lld + %lld or a leading "
                       "dimension out of range", (long long)first, (long long)count);
        return ALTDIFF_ERR_INVALID;
    }
    ad_matrices_args a = {first, {Px, Ax, Gx}, {ldP, ldA, ldG}, NULL, NULL};
    int status = element_values_valid(bt, count, &a);
    if (status != ALTDIFF_OK || count == 0 || (!Px && !Ax && !Gx)) return status;
    a.fresh = ad_calloc((size_t)count, sizeof(ad_model *));
    a.indef = ad_calloc((size_t)count, 1);
    altdiff_int bad = -1;
    status = (a.fresh && a.indef) ? run_elements(bt, first, count, 0, derive_element, &a, &bad)
                                  : ALTDIFF_ERR_NOMEM;
    if (status != ALTDIFF_OK) { /* all or nothing: the new models go */
        char why[AD_MSG_LEN];
        ad_msg(why, sizeof(why), "%s", bad >= 0 && a.fresh[bad - first] &&
                   a.fresh[bad - first]->msg[0] ? a.fresh[bad - first]->msg
                                                : altdiff_error_string(status));
        ad_msg(bt->model.msg, AD_MSG_LEN, "element %lld: %s", (long long)(bad >= 0 ? bad : first),
               why);
    }
    bt->model.msg[0] = status == ALTDIFF_OK ? 0 : bt->model.msg[0];
    for (altdiff_int j = 0; a.fresh && j < count; j++) {
        if (status == ALTDIFF_OK) {
            take_model(bt, first + j, a.fresh[j], a.indef[j]);
            if (a.indef[j] && !bt->model.msg[0]) /* said, not an error: see altdiff.h */
                element_msg(bt, first + j, ALTDIFF_ERR_NOT_POSDEF);
        } else if (a.fresh[j]) {
            ad_model_free(a.fresh[j]);
            ad_free(a.fresh[j]);
        }
    }
    ad_free(a.fresh);
    ad_free(a.indef);
    return status;
}

int altdiff_batch_cold_start(altdiff_batch *bt)
{
    if (!bt) return ALTDIFF_ERR_INVALID;
    const ad_model *md = &bt->model;
    for (altdiff_int e = 0; e < bt->B; e++) {
        ad_state *st = &bt->el[e];
        ad_fill(st->x, 0, md->n);
        ad_fill(st->lam, 0, md->m);
        ad_fill(st->s, 0, md->p);
        ad_fill(st->nu, 0, md->p);
        st->info.status = ALTDIFF_UNSOLVED;
    }
    return ALTDIFF_OK;
}

/* ---- solve and results --------------------------------------------------------------- */

/* 1 if the element's last solve failed: its outcome or non-finite iterates */
static int element_failed(const ad_model *md, const ad_state *st)
{
    int status = st->info.status;
    return status == ALTDIFF_NUMERICAL_ERROR || status == ALTDIFF_NONCONVEX ||
           !ad_all_finite(st->x, md->n) || !ad_all_finite(st->lam, md->m) ||
           !ad_all_finite(st->s, md->p) || !ad_all_finite(st->nu, md->p);
}

/* Iterates of an element whose last solve failed (a numerical error, NaN
 * or Inf; its vectors may have been set since) start again from 0 */
static void clean_iterates(altdiff_batch *bt, altdiff_int e)
{
    const ad_model *md = model_of(bt, e);
    ad_state *st = &bt->el[e];
    if (!bt->restart[e] && !element_failed(md, st)) return;
    ad_fill(st->x, 0, md->n);
    ad_fill(st->lam, 0, md->m);
    ad_fill(st->s, 0, md->p);
    ad_fill(st->nu, 0, md->p);
}

/* When the elements on the shared model run in lockstep (measured with
 * bench/batch_bench.c, B = 1 .. 256, and callgrind's instruction counts,
 * the machine being noisy). Lockstep needs at least two such elements: a
 * block of one column only adds the blocks' copies and the block checks to
 * a single solve (dense (500, 100, 200), B = 1: 0.3x forward, 0.65x
 * backward). Then it pays, forward and backward, when
 *   - a sweep costs at least AD_LOCKSTEP_MIN_FLOPS (the sweep-cost model):
 *     dense (500, 100, 200) and randsparse n = 2000 (1.4e6 and 4.4e6
 *     flops), where the block solves and products make up most of a sweep;
 *   - or A and G are dense blocks (products by DGEMM instead of DGEMV):
 *     dense (100, 50, 50), 7e4 flops, about 1.3x forward and, since the
 *     GMRES Gram-Schmidt steps run on BLAS-1 kernels, 1.6x backward at B =
 *     16 .. 256 on repeated calls (1.7x fewer instructions at B = 64). The
 *     first VJP of a process pays the page faults of its Krylov bases,
 *     allocated per call: 0.8-0.9x there at B <= 32, 1.2x at B = 64, 256.
 * Below it (a diagonal H plus a budget row, sparsemax; a sparse factor of
 * 9e4 flops, grid k = 32) the blocks' copies, the per-element states
 * streamed through the cache every round and the shared rho cost more than
 * they save: lockstep measured 0.25-0.7x there. The elements then run one
 * after another on the shared factor, forward (each with the rho
 * adaptation of a single solve) and backward (one GMRES each). */
#define AD_LOCKSTEP_MIN_FLOPS 2e5

/* The elements on the shared model (without a model of their own) */
static altdiff_int shared_count(const altdiff_batch *bt)
{
    altdiff_int k = 0;
    for (altdiff_int e = 0; e < bt->B; e++) k += !bt->own[e];
    return k;
}

/* 1 if the elements on the shared model should run in lockstep: the
 * forward solve, and the folded GMRES of the VJP */
static int lockstep_pays(const altdiff_batch *bt)
{
    const ad_model *md = &bt->model;
    if (bt->lockstep >= 0) return bt->lockstep;
    if (shared_count(bt) < 2) return 0;
    if (ad_sweep_flops(&md->F, md->P, md->A, md->G) >= AD_LOCKSTEP_MIN_FLOPS) return 1;
    return (md->m == 0 || md->Ab.dense) && (md->p == 0 || md->Gb.dense) && md->m + md->p > 0;
}

void ad_batch_set_lockstep(altdiff_batch *bt, int mode) { bt->lockstep = mode; }

/* The elements on the shared model one after another (lockstep does not
 * pay): ad_solve each, as a loop over one workspace would. They all
 * iterate with the first element's Anderson memory (an element's is
 * scratch of its solve only, reset at its start): one memory stays in the
 * cache from element to element, where each element's own would come from
 * main memory (grid k = 32, B = 64 and 256: 0.90-0.92x the loop's forward
 * with their own, 1.04-1.07x with the one), and the others have none:
 * 14 (m + p) doubles less per element. Elements that iterate at the same
 * time (lockstep, own models on threads) get theirs at their first such
 * solve (anderson_for). */
static int solve_one_by_one(altdiff_batch *bt)
{
    ad_anderson hot = bt->el[0].aa;
    for (altdiff_int e = 0; e < bt->B; e++) {
        if (bt->own[e]) continue;
        ad_anderson mine = bt->el[e].aa;
        bt->el[e].aa = hot;
        int status = ad_solve(&bt->model, &bt->el[e], NULL, NULL);
        hot = bt->el[e].aa;
        bt->el[e].aa = mine;
        if (status != ALTDIFF_OK) return status;
    }
    return ALTDIFF_OK;
}

/* The lockstep checks' blocks (PX, SY: n x B; AX: m x B; GX: p x B) and a
 * dense copy of P~ (upper) when DSYMM pays, at the first lockstep solve */
static int check_blocks(altdiff_batch *bt)
{
    ad_batch_work *bw = &bt->bw;
    altdiff_int n = bt->model.n, m = bt->model.m, p = bt->model.p, B = bt->B;
    if (bw->PX) return ALTDIFF_OK;
    double **blocks[] = {&bw->SY, &bw->AX, &bw->GX, &bw->PX}; /* PX last: all there */
    altdiff_int rows[] = {n, m, p, n};
    for (int k = 0; k < 4; k++) {
        if (!*blocks[k]) *blocks[k] = cols_alloc(rows[k], B);
        if (!*blocks[k]) return ALTDIFF_ERR_NOMEM;
    }
    const cs_dl *P = bt->model.P;
    if (ad_block_dense_pays(n, n, 2 * P->p[n]) &&
        !(bw->Pd = ad_malloc((size_t)n * (size_t)n, sizeof(double)))) {
        bw->PX = ad_free(bw->PX); /* all or nothing: the next solve tries again */
        return ALTDIFF_ERR_NOMEM;
    }
    return ALTDIFF_OK;
}

/* Anderson memory for element e, which iterates alongside others (kept
 * for the batch's life; ALTDIFF_ERR_NOMEM: the solve stops before any
 * iteration, and the next one tries again) */
static int anderson_for(altdiff_batch *bt, altdiff_int e)
{
    return ad_state_alloc_anderson(model_of(bt, e), &bt->el[e]);
}

/* The block solve of the elements on the shared model. When some elements
 * have models of their own, the others' states are gathered (struct copies:
 * the same arrays) into bt->gather, solved there and put back. */
static int solve_shared(altdiff_batch *bt)
{
    if (!lockstep_pays(bt)) return solve_one_by_one(bt);
    int status = check_blocks(bt);
    for (altdiff_int e = 0; e < bt->B && status == ALTDIFF_OK; e++)
        if (!bt->own[e]) status = anderson_for(bt, e);
    if (status != ALTDIFF_OK) return status;
    altdiff_int k = 0;
    for (altdiff_int e = 0; e < bt->B; e++)
        if (!bt->own[e]) bt->gather[k++] = bt->el[e];
    if (k == bt->B) return ad_solve_batch(&bt->model, bt->el, bt->B, &bt->bw);
    if (k == 0) return ALTDIFF_OK;
    status = ad_solve_batch(&bt->model, bt->gather, k, &bt->bw);
    k = 0;
    for (altdiff_int e = 0; e < bt->B; e++)
        if (!bt->own[e]) bt->el[e] = bt->gather[k++];
    return status;
}

/* An element with its own model, as a workspace's solve: after a failure
 * (or while its H is not factored) its H at settings.rho first; when that
 * factorization fails the element ends at once, NONCONVEX (H not positive
 * definite) or NUMERICAL_ERROR */
static int own_solve(altdiff_batch *bt, altdiff_int e, void *arg)
{
    (void)arg;
    ad_model *md = bt->own[e];
    ad_state *st = &bt->el[e];
    md->msg[0] = 0;
    int status = anderson_for(bt, e);
    if (status != ALTDIFF_OK) return status;
    if (bt->stale[e] || bt->restart[e] || element_failed(md, st) || !isfinite(md->F.rho)) {
        status = ad_factor_refactor(&md->F, md->set.rho, md->set.sigma);
        bt->stale[e] = status != ALTDIFF_OK;
        if (status != ALTDIFF_OK) {
            ad_factor_msg(md, status, md->set.rho, md->set.sigma);
            st->info.status = status == ALTDIFF_ERR_NOT_POSDEF ? ALTDIFF_NONCONVEX
                                                               : ALTDIFF_NUMERICAL_ERROR;
            st->info.iter = 0;
            return status == ALTDIFF_ERR_NOMEM ? status : ALTDIFF_OK;
        }
    }
    return ad_solve(md, st, NULL, NULL);
}

int altdiff_batch_solve(altdiff_batch *bt)
{
    if (!bt) return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    int failed = !isfinite(md->F.rho); /* a rho made of NaN residuals */
    for (altdiff_int e = 0; e < bt->B; e++)
        failed |= !bt->own[e] && (bt->restart[e] || element_failed(md, &bt->el[e]));
    for (altdiff_int e = 0; e < bt->B; e++) clean_iterates(bt, e);
    md->msg[0] = 0;
    /* after a failure: H again at the settings' rho (the shared factor may
     * hold the rho of NaN residuals) */
    int status = failed ? ad_factor_refactor(&md->F, md->set.rho, md->set.sigma) : ALTDIFF_OK;
    if (status != ALTDIFF_OK) {
        ad_factor_msg(md, status, md->set.rho, md->set.sigma);
        return status;
    }
    status = solve_shared(bt);
    altdiff_int bad;
    int own = run_elements(bt, 0, bt->B, 1, own_solve, NULL, &bad);
    if (own != ALTDIFF_OK) element_msg(bt, bad, own);
    if (status == ALTDIFF_OK) status = own;
    for (altdiff_int e = 0; e < bt->B && !md->msg[0]; e++) { /* the first failure, by name */
        if (!element_failed(model_of(bt, e), &bt->el[e])) continue;
        if (bt->own[e] && bt->stale[e]) element_msg(bt, e, ALTDIFF_ERR_NOT_POSDEF);
        else ad_msg(md->msg, AD_MSG_LEN, "element %lld: %s after %lld iterations; the next "
                    "solve starts it from clean iterates", (long long)e,
                    altdiff_status_string(bt->el[e].info.status), (long long)bt->el[e].info.iter);
    }
    for (altdiff_int e = 0; e < bt->B; e++) {
        bt->restart[e] = (unsigned char)element_failed(model_of(bt, e), &bt->el[e]);
        ad_state_info_setup(model_of(bt, e), &bt->el[e]);
    }
    return status;
}

const altdiff_info *altdiff_batch_get_info(const altdiff_batch *bt, altdiff_int k)
{
    return (bt && k >= 0 && k < bt->B) ? &bt->el[k].info : NULL;
}

int altdiff_batch_get_solution(const altdiff_batch *bt, altdiff_int first, altdiff_int count,
                               double *x, double *s, double *lam, double *nu)
{
    if (!range_valid(bt, first, count)) return ALTDIFF_ERR_INVALID;
    altdiff_int n = bt->model.n, m = bt->model.m, p = bt->model.p_all;
    int failed = 0;
    for (altdiff_int j = 0; j < count; j++) {
        const ad_model *md = model_of(bt, first + j);
        ad_unscale_solution(md, &bt->el[first + j], x ? x + j * n : NULL, s ? s + j * p : NULL,
                            lam ? lam + j * m : NULL, nu ? nu + j * p : NULL);
        failed |= element_failed(md, &bt->el[first + j]);
    }
    return failed ? ALTDIFF_ERR_NOT_SOLVED : ALTDIFF_OK;
}

/* ---- derivatives at the stored solutions ---------------------------------------------- */

/* Zero gradients and "not available" for an element that was not solved */
static void unavailable(const ad_model *md, altdiff_int len, double *out, altdiff_deriv_info *info)
{
    (void)md;
    if (out) ad_fill(out, 0, len);
    if (info) {
        memset(info, 0, sizeof(*info));
        info->status = ALTDIFF_NOT_AVAILABLE;
    }
}

/* The arguments of a batch VJP or JVP, for the own-model elements */
typedef struct {
    const altdiff_deriv_settings *ds;
    const double *wx;             /* VJP: cotangents                         */
    double *dq, *db, *dh;         /* VJP: outputs                            */
    const altdiff_direction *dir; /* JVP: directions                         */
    double *dx;                   /* JVP: output                             */
    altdiff_deriv_info *info;
} ad_deriv_args;

/* Element e's VJP on its own model at its stored solution */
static int own_vjp(altdiff_batch *bt, altdiff_int e, void *arg)
{
    const ad_deriv_args *a = arg;
    ad_model *md = bt->own[e];
    ad_state *st = &bt->el[e];
    altdiff_int n = md->n, m = md->m, p = md->p_all;
    double *q = a->dq ? a->dq + e * n : NULL, *b = a->db ? a->db + e * m : NULL;
    double *h = a->dh ? a->dh + e * p : NULL;
    altdiff_deriv_info *ie = a->info ? a->info + e : NULL;
    if (st->info.status != ALTDIFF_SOLVED) {
        unavailable(md, n, q, ie);
        unavailable(md, m, b, NULL);
        unavailable(md, p, h, NULL);
        return ALTDIFF_OK;
    }
    altdiff_deriv_settings r = ad_resolve_mode(md, st, a->ds, 0);
    return ad_vjp(md, st, &r, a->wx + e * n, q, b, h, ie);
}

/* Element e's JVP on its own model (dir's matrix directions: of its own
 * matrices) */
static int own_jvp(altdiff_batch *bt, altdiff_int e, void *arg)
{
    const ad_deriv_args *a = arg;
    ad_model *md = bt->own[e];
    ad_state *st = &bt->el[e];
    altdiff_int n = md->n, m = md->m, p = md->p_all;
    altdiff_deriv_info *ie = a->info ? a->info + e : NULL;
    if (st->info.status != ALTDIFF_SOLVED) {
        unavailable(md, n, a->dx + e * n, ie);
        return ALTDIFF_OK;
    }
    altdiff_direction d = *a->dir;
    d.q = d.q ? d.q + e * n : NULL;
    d.b = d.b ? d.b + e * m : NULL;
    d.h = d.h ? d.h + e * p : NULL;
    d.theta = NULL;
    altdiff_deriv_settings r = ad_resolve_mode(md, st, a->ds, 1);
    return ad_jvp(md, st, &r, &d, a->dx + e * n, ie);
}

/* The own-model elements' derivatives (fn: own_vjp or own_jvp), on threads;
 * a failure named in the batch's message */
static int own_derivs(altdiff_batch *bt, element_fn fn, ad_deriv_args *a)
{
    altdiff_int bad;
    int status = run_elements(bt, 0, bt->B, 1, fn, a, &bad);
    if (status != ALTDIFF_OK) element_msg(bt, bad, status);
    return status;
}

/* 1 if ds is a usable derivative setting (any mode of the batch) */
static int deriv_settings_valid(const altdiff_deriv_settings *ds)
{
    return ds && ds->eps > 0 && ds->max_iter > 0 && ds->restart > 0 && ds->block > 0 &&
           ds->mode >= ALTDIFF_MODE_AUTO && ds->mode <= ALTDIFF_MODE_KKT;
}

/* Elements of one lockstep GMRES at most: their Krylov bases (restart + 1
 * vectors of n + m + p each) are streamed through every round, so a block
 * of all B elements leaves the cache and needs B such bases at once.
 * Chunks of 64 keep both bounded: at B = 256 the VJP went from 1.0x to
 * 1.7x the loop's (dense (100, 50, 50)), 1.4x to 1.8x (dense (500, 100,
 * 200)) and 1.9x to 2.4x (randsparse n = 2000) */
#define AD_VJP_CHUNK 64

/* The folded GMRES of the d elements sel[] together (units as vjp_iterative
 * of deriv.c: w~ = D w; dq = c D g~, db = Ea g~, dh = Eg g~) */
static int vjp_together(altdiff_batch *bt, const altdiff_deriv_settings *ds, const double *wx,
                        double *dq, double *db, double *dh, altdiff_deriv_info *info,
                        const altdiff_int *sel, altdiff_int d)
{
    ad_model *md = &bt->model;
    const ad_scaling *sc = &md->sc;
    altdiff_int n = md->n, m = md->m, p = md->p, pa = md->p_all;
    size_t len = (size_t)(2 * n + m + p + 1);
    double *buf = ad_malloc(len, (size_t)d * sizeof(double));
    ad_state **el = ad_malloc((size_t)d, sizeof(ad_state *));
    altdiff_deriv_info *inf = ad_calloc((size_t)d, sizeof(altdiff_deriv_info));
    int status = (buf && el && inf) ? ALTDIFF_OK : ALTDIFF_ERR_NOMEM;
    double *WT = buf, *GQ = WT + n * d, *GB = GQ + n * d, *GH = GB + m * d;
    double t0 = ad_time();
    for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c++) {
        el[c] = &bt->el[sel[c]];
        for (altdiff_int j = 0; j < n; j++) WT[c * n + j] = sc->D[j] * wx[sel[c] * n + j];
    }
    if (status == ALTDIFF_OK) status = ad_adjoint_vjp_many(md, el, d, ds, WT, GQ, GB, GH, inf);
    for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c++) {
        altdiff_int e = sel[c];
        if (dq) ad_scale_cost(sc, GQ + c * n, dq + e * n);           /* c D g~  */
        if (db) ad_scale_rows(sc, 0, GB + c * m, m, db + e * m);     /* Ea g~   */
        if (dh) ad_scatter_kept(md, GH + c * p, sc->E + m, dh + e * pa); /* Eg g~ */
        if (info) {
            info[e] = inf[c];
            ad_count_active(md, el[c], &info[e]);
            info[e].time = (ad_time() - t0) / (double)d;
        }
    }
    ad_free(buf);
    ad_free(el);
    ad_free(inf);
    return status;
}

int altdiff_batch_vjp(altdiff_batch *bt, const altdiff_deriv_settings *ds, const double *wx,
                      double *dq, double *db, double *dh, altdiff_deriv_info *info)
{
    if (!bt || !deriv_settings_valid(ds) || !wx || !ad_all_finite(wx, bt->model.n * bt->B))
        return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    altdiff_int n = md->n, m = md->m, p = md->p_all, d = 0;
    altdiff_int *sel = bt->bw.act; /* the elements for the GMRES run together */
    ad_deriv_args a = {ds, wx, dq, db, dh, NULL, NULL, info};
    int own = own_derivs(bt, own_vjp, &a); /* elements with matrices of their own */
    if (own != ALTDIFF_OK) return own;
    int together = lockstep_pays(bt);
    for (altdiff_int e = 0; e < bt->B; e++) {
        if (bt->own[e]) continue;
        ad_state *st = &bt->el[e];
        double *q = dq ? dq + e * n : NULL, *b = db ? db + e * m : NULL, *h = dh ? dh + e * p : NULL;
        altdiff_deriv_info *ie = info ? info + e : NULL;
        if (st->info.status != ALTDIFF_SOLVED) {
            unavailable(md, n, q, ie);
            unavailable(md, m, b, NULL);
            unavailable(md, p, h, NULL);
            continue;
        }
        altdiff_deriv_settings r = ad_resolve_mode(md, st, ds, 0);
        if (r.mode == ALTDIFF_MODE_GMRES && together) {
            sel[d++] = e;
            continue;
        }
        int status = ad_vjp(md, st, &r, wx + e * n, q, b, h, ie);
        if (status != ALTDIFF_OK) return status;
    }
    altdiff_deriv_settings g = *ds;
    g.mode = ALTDIFF_MODE_GMRES;
    int status = ALTDIFF_OK;
    for (altdiff_int c = 0; c < d && status == ALTDIFF_OK; c += AD_VJP_CHUNK) /* by chunks */
        status = vjp_together(bt, &g, wx, dq, db, dh, info, sel + c,
                              d - c < AD_VJP_CHUNK ? d - c : AD_VJP_CHUNK);
    return status;
}

/* out (+)= the matrix gradients of element e; scratch of nnz doubles */
static int element_grads(const altdiff_batch *bt, altdiff_int e, const double *dq,
                         const double *db, const double *dh, double *dPx, double *dAx,
                         double *dGx)
{
    const ad_model *md = model_of(bt, e); /* its own matrices' gradient, if it has them */
    altdiff_int n = md->n, m = md->m, p = md->p_all;
    return ad_matrix_grads(md, &bt->el[e], dq + e * n, db ? db + e * m : NULL,
                           dh ? dh + e * p : NULL, dPx, dAx, dGx);
}

int altdiff_batch_matrix_grads(const altdiff_batch *bt, const double *dq, const double *db,
                               const double *dh, double *dPx, double *dAx, double *dGx, int sum)
{
    if (!bt || !dq || (bt->model.m > 0 && !db) || (bt->model.p_all > 0 && !dh) ||
        (sum != 0 && sum != 1))
        return ALTDIFF_ERR_INVALID;
    const ad_model *md = &bt->model;
    altdiff_int nP = md->Pnz, nA = md->Anz, nG = md->Gnz;
    double *tmp = sum ? ad_malloc((size_t)(nP + nA + nG + 1), sizeof(double)) : NULL;
    if (sum && !tmp) return ALTDIFF_ERR_NOMEM;
    if (sum) { /* accumulate element by element */
        if (dPx) ad_fill(dPx, 0, nP);
        if (dAx) ad_fill(dAx, 0, nA);
        if (dGx) ad_fill(dGx, 0, nG);
    }
    int status = ALTDIFF_OK;
    for (altdiff_int e = 0; e < bt->B && status == ALTDIFF_OK; e++) {
        double *P = dPx ? (sum ? tmp : dPx + e * nP) : NULL;
        double *A = dAx ? (sum ? tmp + nP : dAx + e * nA) : NULL;
        double *G = dGx ? (sum ? tmp + nP + nA : dGx + e * nG) : NULL;
        if (bt->el[e].info.status != ALTDIFF_SOLVED) { /* contributes 0 */
            if (!sum) {
                if (P) ad_fill(P, 0, nP);
                if (A) ad_fill(A, 0, nA);
                if (G) ad_fill(G, 0, nG);
            }
            continue;
        }
        status = element_grads(bt, e, dq, db, dh, P, A, G);
        if (sum && status == ALTDIFF_OK) {
            if (dPx) ad_axpy(dPx, 1, P, nP);
            if (dAx) ad_axpy(dAx, 1, A, nA);
            if (dGx) ad_axpy(dGx, 1, G, nG);
        }
    }
    ad_free(tmp);
    return status;
}

int altdiff_batch_jvp(altdiff_batch *bt, const altdiff_deriv_settings *ds,
                      const altdiff_direction *dir, double *dx, altdiff_deriv_info *info)
{
    if (!bt || !ds || !dir || !dx) return ALTDIFF_ERR_INVALID;
    ad_model *md = &bt->model;
    altdiff_int n = md->n, m = md->m, p = md->p_all;
    ad_deriv_args a = {ds, NULL, NULL, NULL, NULL, dir, dx, info};
    int own = own_derivs(bt, own_jvp, &a); /* elements with matrices of their own */
    if (own != ALTDIFF_OK) return own;
    for (altdiff_int e = 0; e < bt->B; e++) {
        if (bt->own[e]) continue;
        ad_state *st = &bt->el[e];
        altdiff_deriv_info *ie = info ? info + e : NULL;
        if (st->info.status != ALTDIFF_SOLVED) {
            unavailable(md, n, dx + e * n, ie);
            continue;
        }
        altdiff_direction d = *dir;
        d.q = dir->q ? dir->q + e * n : NULL;
        d.b = dir->b ? dir->b + e * m : NULL;
        d.h = dir->h ? dir->h + e * p : NULL;
        d.theta = NULL;
        altdiff_deriv_settings r = ad_resolve_mode(md, st, ds, 1);
        int status = ad_jvp(md, st, &r, &d, dx + e * n, ie);
        if (status != ALTDIFF_OK) return status;
    }
    return ALTDIFF_OK;
}
