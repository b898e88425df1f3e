/*
 * polish.c: solution polishing (doc/MATH.md section 3.10), as OSQP's polish.
 * After the iterations, guess the active set from the ADMM point,
 *
 *     J = { kept rows k : nu_k > s_k }      (= nu_k > 0: the iterates are
 *                                             exactly complementary)
 *
 * (every equality row is in it), and solve the equality-constrained QP on it
 * in original units with the KKT machinery of kkt.c,
 *
 *     [ P   A'  G_J' ] [ x    ]   [ -q  ]
 *     [ A   0   0    ] [ lam  ] = [  b  ]
 *     [ G_J 0   0    ] [ nu_J ]   [ h_J ]
 *
 * (a regularized factorization refined against this unregularized K). The
 * polished point is (x, lam, nu) with nu = 0 off J, s = 0 on J and
 * s = max(h - G x, 0) off J. It is rejected when a multiplier nu_J is
 * negative (beyond rounding: a row guessed active that is not), and
 * accepted when it passes the stopping test and its worst ratio
 *
 *     score = max( r_prim / eps_prim, r_dual / eps_dual, gap / eps_gap )
 *
 * is no larger than the ADMM point's. An accepted point replaces the
 * iterates (scaled), so every derivative mode works at it.
 */
#include <math.h>

#include "ad_internal.h"

#define AD_POLISH_NEAR 100      /* MAX_ITER with score <= this is polished too */
#define AD_POLISH_EARLY 1e4     /* tried during the iterations at score <= this */
#define AD_POLISH_SOLVES 30     /* solves of one polish, counted as sweeps     */
#define AD_POLISH_FREE_FLOPS 1e7 /* a predicted cost below this is always paid */
#define AD_POLISH_NEG 1e-12     /* nu_k >= -tol max(|lam|, |nu|): rounding, 0  */
#define AD_POLISH_ROUNDS 8      /* guesses of one polish at most (new_guess)    */
#define AD_POLISH_SETTLING 0.6  /* and beyond those paid for while the rows
                                   changed shrink at least this fast      */

/* The arrays of one polish: the polished point in original units, the
 * right-hand side, the ADMM iterates (scaled) to restore, the guess J */
typedef struct {
    double *x, *lam, *nu;      /* n, m, p: the polished point (original units) */
    double *rq, *rh;           /* n, p: -q and h on the kept rows              */
    double *bx, *bs, *blam, *bnu; /* n, p, m, p: the ADMM iterates (scaled)    */
    unsigned char *inJ;        /* p: row k in J                                */
    double *block;             /* the one allocation behind the doubles        */
} polish_work;

/* ---- when to polish ------------------------------------------------------------ */

/* Predicted cost of one guess of a polish in ADMM sweeps (the cost model of
 * costmodel.c and factor.c), into st->polish_cost once a solve (the guesses
 * differ little; the LDL' route's prediction is a symbolic analysis) */
static int polish_cost(const ad_model *md, ad_state *st)
{
    if (st->polish_cost >= 0) return ALTDIFF_OK;
    double sweep = ad_sweep_flops(&md->F, md->P, md->A, md->G);
    if (md->F.lr.k == 0 && md->F.sigma > 0) {
        st->polish_cost = ad_kkt_al_flops(md, AD_POLISH_SOLVES) / sweep;
        return ALTDIFF_OK;
    }
    double fl = 0, lnz = 0;
    int status = ad_kkt_estimate(md, st, &fl, &lnz);
    if (status == ALTDIFF_OK) st->polish_cost = (fl + AD_POLISH_SOLVES * 4 * lnz) / sweep;
    return status;
}

/* The guesses the solve's own work pays for:
 *     guess  = kkt.c's augmented-Lagrangian route (two factorizations of H's
 *              size, AD_POLISH_SOLVES solves and the assembly of M), or, for
 *              the LDL' route (dense rows split off, or sigma = 0), (CHOLMOD's
 *              predicted flops + AD_POLISH_SOLVES 4 nnz(L)) / sweep flops
 *     solve  = iterations + rho updates x a factorization of H (the setup's
 *              factorization is not the solve's: a layer solves many times)
 * *rounds = min(AD_POLISH_ROUNDS, solve / guess) (0: not polished), or
 * AD_POLISH_ROUNDS when a guess costs less than AD_POLISH_FREE_FLOPS. */
static int polish_rounds_paid(const ad_model *md, ad_state *st, int *rounds)
{
    double factor = ad_factor_cost_in_sweeps(&md->F, md->P, md->A, md->G);
    double sweep = ad_sweep_flops(&md->F, md->P, md->A, md->G);
    int status = polish_cost(md, st);
    if (status != ALTDIFF_OK) return status;
    double cost = st->polish_cost;
    double work = (double)st->info.iter + (double)st->info.rho_updates * factor;
    *rounds = cost * sweep <= AD_POLISH_FREE_FLOPS ? AD_POLISH_ROUNDS
                                                   : (int)fmin(AD_POLISH_ROUNDS, work / cost);
    return ALTDIFF_OK;
}

/* Polishing is on for this model: settings.polish, a QP without record */
static int polish_on(const ad_model *md)
{
    return md->set.polish != 0 && !md->set.record && !ad_smooth(md);
}

/* Whether this solve is polished, in *rounds the guesses it may make (0:
 * none): settings.polish (2 always, 1 what the solve's work pays for), a
 * QP without record, SOLVED or MAX_ITER with score <= AD_POLISH_NEAR */
static int polish_wanted(const ad_model *md, ad_state *st, const residuals_t *r, int *rounds)
{
    *rounds = 0;
    if (!polish_on(md)) return ALTDIFF_OK;
    int status = st->info.status;
    if (status != ALTDIFF_SOLVED && !(status == ALTDIFF_MAX_ITER && ad_score(r) <= AD_POLISH_NEAR))
        return ALTDIFF_OK;
    if (md->set.polish == 2) {
        *rounds = AD_POLISH_ROUNDS;
        return ALTDIFF_OK;
    }
    return polish_rounds_paid(md, st, rounds);
}

/* ---- the polished point --------------------------------------------------------- */

static void work_free(polish_work *pw)
{
    ad_free(pw->block);
    ad_free(pw->inJ);
}

/* Everything a polish needs but the KKT system (one block of doubles) */
static int work_alloc(const ad_model *md, polish_work *pw)
{
    altdiff_int n = md->n, m = md->m, p = md->p;
    size_t len = (size_t)(3 * n + 2 * m + 4 * p) + 1;
    pw->block = ad_malloc(len, sizeof(double));
    pw->inJ = ad_malloc((size_t)p + 1, 1);
    if (!pw->block || !pw->inJ) return ALTDIFF_ERR_NOMEM;
    double *v = pw->block;
    pw->x = v, v += n;
    pw->rq = v, v += n;
    pw->bx = v, v += n;
    pw->lam = v, v += m;
    pw->blam = v, v += m;
    pw->nu = v, v += p;
    pw->rh = v, v += p;
    pw->bs = v, v += p;
    pw->bnu = v;
    return ALTDIFF_OK;
}

/* J = { k : nu_k > s_k } in original units (nu = Eg nu~ / c, s = Eg^-1 s~),
 * as kkt.c's active set, into J (p); the number of rows that changed */
static altdiff_int guess_active(const ad_model *md, const ad_state *st, unsigned char *J)
{
    altdiff_int m = md->m, changed = 0;
    for (altdiff_int k = 0; k < md->p; k++) {
        unsigned char in =
            md->sc.cinv * md->sc.E[m + k] * st->nu[k] > md->sc.Einv[m + k] * st->s[k];
        changed += in != J[k];
        J[k] = in;
    }
    return changed;
}

/* The ADMM iterates into the backup, and the guess J */
static void save_iterates(const ad_model *md, const ad_state *st, polish_work *pw)
{
    ad_copy(pw->bx, st->x, md->n);
    ad_copy(pw->blam, st->lam, md->m);
    ad_copy(pw->bs, st->s, md->p);
    ad_copy(pw->bnu, st->nu, md->p);
    guess_active(md, st, pw->inJ);
}

static void restore_iterates(const ad_model *md, ad_state *st, const polish_work *pw)
{
    ad_copy(st->x, pw->bx, md->n);
    ad_copy(st->lam, pw->blam, md->m);
    ad_copy(st->s, pw->bs, md->p);
    ad_copy(st->nu, pw->bnu, md->p);
}

/* K (x, lam, nu_J) = (-q, b, h_J) in original units (the given q0, b0, h0) */
static int kkt_point(const ad_model *md, const ad_state *st, polish_work *pw)
{
    ad_kkt *K = NULL;
    for (altdiff_int j = 0; j < md->n; j++) pw->rq[j] = -st->q0[j];         /* -q   */
    for (altdiff_int k = 0; k < md->p; k++) pw->rh[k] = st->h0[md->keep[k]]; /* h    */
    int status = ad_kkt_setup(md, st, &K, NULL);
    if (status == ALTDIFF_OK)
        status = ad_kkt_solve_point(K, pw->rq, st->b0, pw->rh, pw->x, pw->lam, pw->nu, NULL);
    ad_kkt_free(K);
    return status;
}

/* A new guess from the polished point, as an active-set step: rows of J
 * whose multiplier came out clearly negative (below -AD_POLISH_NEG
 * max(|lam|, |nu|)) leave J, rows off J that the point violates by more
 * than eps (original units) join it. In the guess and in the iterates kkt.c
 * reads J from (left: nu~ = 0, s~ = 1; joined: nu~ = 1, s~ = 0; the
 * iterates are restored or replaced after the polish). The rows changed. */
static altdiff_int new_guess(const ad_model *md, ad_state *st, polish_work *pw, double eps)
{
    altdiff_int m = md->m, changed = 0;
    double tol = AD_POLISH_NEG * fmax(ad_nrm_inf(pw->lam, m), ad_nrm_inf(pw->nu, md->p));
    ad_scale_x(&md->sc, pw->x, st->xt);
    ad_fill(st->Gx, 0, md->p);
    ad_block_mul(&md->Gb, st->xt, st->Gx); /* G~ x~ */
    for (altdiff_int k = 0; k < md->p; k++) {
        int leave = pw->inJ[k] && pw->nu[k] < -tol;
        int join = !pw->inJ[k] && md->sc.Einv[m + k] * (st->Gx[k] - st->h[k]) > eps;
        if (!leave && !join) continue;
        pw->inJ[k] = (unsigned char)join;
        st->nu[k] = join;
        st->s[k] = leave;
        changed++;
    }
    return changed;
}

/* The rounding-level negative multipliers become 0; 1 if the point is finite */
static int clip_signs(const ad_model *md, polish_work *pw)
{
    for (altdiff_int k = 0; k < md->p; k++) pw->nu[k] = fmax(pw->nu[k], 0);
    return ad_all_finite(pw->x, md->n) && ad_all_finite(pw->lam, md->m);
}

/* The polished point into the iterates (scaled): x~ = D^-1 x, lam~ = c Ea^-1
 * lam, nu~ = c Eg^-1 nu, s~ = 0 on J and s~ = max(h~ - G~ x~, 0) off J */
static void install(const ad_model *md, ad_state *st, const polish_work *pw)
{
    altdiff_int m = md->m, p = md->p;
    ad_scale_x(&md->sc, pw->x, st->x);
    ad_scale_dual(&md->sc, 0, pw->lam, m, st->lam);
    ad_scale_dual(&md->sc, m, pw->nu, p, st->nu);
    ad_fill(st->Gx, 0, p);
    ad_block_mul(&md->Gb, st->x, st->Gx);                             /* G~ x~ */
    for (altdiff_int k = 0; k < p; k++)
        st->s[k] = pw->inJ[k] ? 0 : ad_max(st->h[k] - st->Gx[k], 0); /* h~ - G~ x~ */
}

/* Install the polished point and keep it when it passes the stopping test
 * with a score no larger than the ADMM point's (r_admm: then its figures);
 * else restore */
static int judge(ad_model *md, ad_state *st, const polish_work *pw, residuals_t *r_admm)
{
    double obj = st->info.obj;
    residuals_t r = {0};
    install(md, st, pw);
    ad_residuals(md, st, st->x, &r);
    if (ad_converged(&r) && ad_score(&r) <= ad_score(r_admm)) {
        ad_info_residuals(st, &r);
        st->info.status = ALTDIFF_SOLVED;
        *r_admm = r;
        return 1;
    }
    restore_iterates(md, st, pw);
    st->info.obj = obj;
    return -1;
}

int ad_polish_try(ad_model *md, ad_state *st, residuals_t *r, int max_rounds, int *outcome,
                  int *rounds)
{
    polish_work pw = {0};
    *outcome = -1;
    *rounds = 0;
    int status = work_alloc(md, &pw), saved = status == ALTDIFF_OK;
    if (saved) save_iterates(md, st, &pw);
    altdiff_int changed = md->p + 1;
    while (status == ALTDIFF_OK && *rounds < AD_POLISH_ROUNDS) {
        ++*rounds;
        status = kkt_point(md, st, &pw);
        altdiff_int before = changed;
        if (status == ALTDIFF_OK && (changed = new_guess(md, st, &pw, r->eps_prim)) > 0) {
            if (changed > before) break; /* the guesses do not settle */
            if (*rounds >= max_rounds && changed > AD_POLISH_SETTLING * before) break;
            continue; /* beyond max_rounds only while the guesses settle fast */
        }
        if (status == ALTDIFF_OK && clip_signs(md, &pw)) *outcome = judge(md, st, &pw, r);
        break;
    }
    if (*outcome < 0 && saved) restore_iterates(md, st, &pw);
    work_free(&pw);
    return status == ALTDIFF_ERR_NOMEM ? status : ALTDIFF_OK; /* else: rejected */
}

int ad_polish(ad_model *md, ad_state *st, residuals_t *r)
{
    if (st->info.polish > 0) return ALTDIFF_OK; /* polished during the iterations */
    int paid = 0, status = polish_wanted(md, st, r, &paid);
    if (status != ALTDIFF_OK || paid == 0) return status;
    double t0 = ad_time();
    int outcome = -1, rounds = 0;
    status = ad_polish_try(md, st, r, paid, &outcome, &rounds);
    st->info.polish = status == ALTDIFF_OK ? outcome : 0;
    st->info.t_polish += ad_time() - t0;
    return status;
}

/* ---- polishing during the iterations -------------------------------------------- */

void ad_polish_start(ad_state *st)
{
    st->info.polish = 0;
    st->info.t_polish = 0;
    st->polish_seen = 0;
    st->polish_credit = 0;
    st->polish_cost = -1;
    st->polish_failed = 0;
}

/* The ADMM point often identifies the active set long before its residuals
 * meet the tolerances: then a polish ends the solve. It is tried at a check
 * when the guess J is the one of the previous check (the iterates have
 * settled on it), the point is within AD_POLISH_EARLY of the tolerances,
 * and the sweeps since the last try have cost at least a polish: the tries
 * cost at most as much as the iterations they may save. The k-th rejected
 * try is charged k - 1 guesses more, so that a problem whose guesses keep
 * failing spends ever less on them. */
int ad_polish_early(ad_model *md, ad_state *st, residuals_t *r, altdiff_int k, int *done)
{
    *done = 0;
    if (!polish_on(md) || md->p == 0) return ALTDIFF_OK;
    st->polish_credit += (double)md->set.check_every;
    int settled = guess_active(md, st, st->polish_J) == 0 && st->polish_seen;
    st->polish_seen = 1;
    if (!settled || ad_score(r) > AD_POLISH_EARLY) return ALTDIFF_OK;
    int status = polish_cost(md, st);
    double cost = st->polish_cost;
    if (status != ALTDIFF_OK || cost > st->polish_credit) return status;
    double t0 = ad_time();
    int outcome = -1, rounds = 0, paid = (int)fmin(AD_POLISH_ROUNDS, st->polish_credit / cost);
    status = ad_polish_try(md, st, r, paid, &outcome, &rounds);
    st->polish_credit -= cost * rounds; /* the tries never cost more than the sweeps */
    if (outcome < 0) st->polish_credit -= cost * (double)st->polish_failed++; /* backoff */
    st->info.t_polish += ad_time() - t0;
    if (status == ALTDIFF_OK && outcome > 0) {
        st->info.polish = 1;
        st->info.iter = k;
        *done = 1;
    }
    return status;
}
