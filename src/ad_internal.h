/*
 * ad_internal.h: the workspace and the functions shared between src/ files.
 *
 * Everything inside the workspace lives in the SCALED problem (Ruiz
 * equilibration, see scaling.c):
 *     P~ = c D P D,  q~ = c D q,  A~ = Ea A D,  b~ = Ea b,  G~ = Eg G D,  h~ = Eg h
 *     x = D x~,  s = Eg^-1 s~,  lam = Ea lam~ / c,  nu = Eg nu~ / c
 * and only the kept inequality rows (h_i < infinity) are stored.
 */
#ifndef AD_INTERNAL_H
#define AD_INTERNAL_H

#include "altdiff.h"
#include "sp.h"
#include "anderson.h"
#include "factor.h"
#include "scaling.h"
#include "ops.h"



/* The objective (smooth.c). kind ALTDIFF_OBJECTIVE_QUADRATIC is the QP of
 * altdiff_setup: P and q live in the workspace and none of the rest is used.
 * Otherwise P holds Hess f at the point of the last refresh (P~ scaled, as
 * every matrix of the model) and q the extra linear term; the callbacks in f
 * (the entropy's own for ALTDIFF_OBJECTIVE_ENTROPY) work in original units. */
typedef struct {
    int kind;
    altdiff_objective f;   /* callbacks; f.user = this struct for the entropy */
    altdiff_int n, k;      /* variables, length of theta                      */
    double *y;             /* entropy: y (n)                                  */
    double *x0;            /* n: the start point (original units)             */
    double *hx;            /* Hess f on the given entries of its pattern      */
    double *xu, *gu;       /* n: a point and a gradient in original units     */
    double *dir, *xn, *r, *rn; /* n: Newton step, trial point, residuals      */
    double *cg;            /* 4 n: conjugate gradient vectors                 */
    double *hs;            /* nnz(P): c D Hess f D at the current point       */
    altdiff_int *Hpos;     /* nnz(P): position of each P~ entry in H          */
    altdiff_int *hpat;     /* entropy: its diagonal pattern (p, then i)       */
    int stale;             /* the factor's Hessian is older than the point    */
    altdiff_int since;     /* CG iterations since the last refresh            */
    double tol, tol_final; /* Newton stops at |residual| <= tol (original units) */
    double *xrec;          /* settings.record: x~ of every iteration (n each) */
    altdiff_int xrec_cap;  /* iterations xrec has room for                    */
} ad_objective;


/* Room for one error message: "what, where" (check.c) */
#define AD_MSG_LEN 256

typedef struct ad_model_s ad_model;
typedef struct ad_state_s ad_state;

/* The x-update of ADMM and what depends on the objective's form: a small
 * table with one implementation for the quadratic objective (quadratic.c:
 * one solve with the factor of H) and one for smooth objectives (smooth.c:
 * damped Newton). The ADMM core calls through it and has no
 * objective-specific branches. */
typedef struct {
    /* x~ (st->xt) = argmin of the augmented Lagrangian with right-hand side
     * st->rhs at the factored rho, sigma */
    int (*x_update)(ad_model *md, ad_state *st);
    /* v (n, scaled) = gradient of the objective part at x~; info.obj */
    int (*gradient)(ad_model *md, ad_state *st, const double *x, double *v);
    void (*start)(ad_model *md);            /* a new solve (NULL: nothing)   */
    void (*accuracy)(ad_model *md, double tol); /* after a check: the next
                                               x-updates' tolerance (NULL)  */
    int (*linearize)(ad_model *md, const double *x); /* the factor at x~ for a
                                               tangent sweep (NULL: fixed H) */
    int (*finish)(ad_model *md, ad_state *st); /* end of a solve (NULL)     */
    int check_newton_point; /* checks at x~ (the Newton point), not at x     */
    int has_gap;           /* the duality-gap test applies                   */
    int detects_unbounded; /* the dual infeasibility test applies            */
} ad_xupdate;

extern const ad_xupdate ad_quadratic_xupdate; /* quadratic.c */
extern const ad_xupdate ad_newton_xupdate;    /* smooth.c    */

/* What a solve only reads: the problem (scaled, and as given), its scaling
 * and the factor of H. One model serves any number of solve states. */
struct ad_model_s {
    altdiff_settings set;
    const ad_xupdate *xu;  /* the objective's x-update and its properties    */
    altdiff_int n, m, p;   /* p: kept inequality rows                        */
    altdiff_int p_all;     /* inequality rows given                          */
    altdiff_int *keep;     /* p: row of G given for kept row k               */
    /* matrices, scaled in place (one copy): the given values are P~ /
     * (c D D), A~ / (Ea D), G~ / (Eg D) to within round-off (scaling.h) */
    cs_dl *P, *A, *G;      /* P: upper triangle                              */
    altdiff_int *Pmap, *Amap, *Gmap; /* user entry -> position (-1: dropped);
                              NULL: the identity (a canonical input, copied
                              as is), read through ad_map_at               */
    altdiff_int Pnz, Anz, Gnz;       /* user entries                          */
    ad_scaling sc;
    ad_block Ab, Gb;       /* A~, G~ for products (dense copies when they pay) */
    ad_factor F;
    ad_objective obj;
    double t_setup;        /* seconds: the whole of setup                    */
    char msg[AD_MSG_LEN];  /* the last error's text (altdiff_last_error)     */
};

/* The position of the caller's entry k in the model's arrays: map[k] (-1:
 * dropped), or k itself when map is NULL (the identity) */
static inline altdiff_int ad_map_at(const altdiff_int *map, altdiff_int k)
{
    return map ? map[k] : k;
}

/* What one solve writes: its vectors q, b, h, the iterates, scratch,
 * certificates, Anderson memory, recorded masks and the info. */
struct ad_state_s {
    altdiff_info info;
    double *q, *b, *h;     /* scaled (h: kept rows)                          */
    double *q0, *b0, *h0;  /* as given (h0: all p_all rows)                  */
    /* iterates (scaled) and the previous ones */
    double *x, *s, *lam, *nu;
    double *x_prev, *lam_prev, *nu_prev;
    /* scratch: rhs, xt, wn (n); Ax (m); Gx (p); wn2 (n + m + p) */
    double *rhs, *xt, *Ax, *Gx, *wn, *wn2;
    /* certificates (unscaled) */
    double *cert_x, *cert_lam, *cert_nu;
    ad_anderson aa;
    double *aa_z;          /* m + p: the point handed to the acceleration    */
    double *block;         /* the one allocation holding the vectors above   */
    /* recorded slack masks (settings.record): iteration k, row i is bit
     * (k * mask_row + i / 8, i % 8); mask_iters iterations held */
    unsigned char *masks;
    altdiff_int mask_row, mask_iters, mask_cap;
    /* polishing during the iterations (polish.c): the active-set guess of
     * the last check (p), the sweeps' worth of work since the last try */
    unsigned char *polish_J;
    int polish_seen;       /* polish_J holds the guess of a check            */
    double polish_credit;
    double polish_cost;    /* predicted sweeps of one guess, < 0: not yet    */
    int polish_failed;     /* tries rejected in this solve                   */
};

/* The public workspace: one model and one solve state. */
struct altdiff_work {
    ad_model model;
    ad_state state;
    int repair;            /* the last solve failed: the next one refactors H
                              at settings.rho, sigma and starts from clean
                              iterates (unless warm is set)                  */
    int warm;              /* altdiff_warm_start since the last solve         */
};

/* setup.c: around every solve of a workspace (altdiff_solve,
 * altdiff_solve_jvp): repair after a failed solve (clean iterates, H at
 * settings.rho; an error code if that fails) and clear the last message;
 * afterwards note a failure (message, repair) for the next solve */
int ad_work_before_solve(altdiff_work *w);
void ad_work_after_solve(altdiff_work *w);

/* settings.c */
int ad_settings_check(const altdiff_settings *set);
/* The same with "which field, which value" into msg (len bytes; may be NULL) */
int ad_settings_check_msg(const altdiff_settings *set, char *msg, size_t len);

/* check.c: validation with messages that say what and where ("q[17] is
 * NaN", "P.p[3] = -7 < P.p[2] = 2"); each returns ALTDIFF_OK or
 * ALTDIFF_ERR_INVALID (ALTDIFF_ERR_NOMEM: a scratch allocation failed) and
 * writes into msg (len bytes, may be NULL) only on failure (ad_msg, sp.h) */
/* Sizes, vectors and matrices of a problem, before anything is allocated */
int ad_check_problem(const altdiff_problem *prob, char *msg, size_t len);
/* New matrix values (NULL: unchanged): finite, no Px for a smooth objective */
int ad_check_matrices(ad_model *md, const double *Px, const double *Ax, const double *Gx);
/* Values v[0..len-1] finite ("NAME[k] is NaN") */
int ad_check_finite(const char *name, const double *v, altdiff_int n, char *msg, size_t len);
/* New q (n), b (m), h (p_all) of an update (NULL: skipped): finite, and h
 * keeps the rows dropped at setup infinite and the others finite */
int ad_check_vectors(const ad_model *md, const double *q, const double *b, const double *h,
                     char *msg, size_t len);
/* Every diagonal entry of H = P~ + rho A~'A~ + rho G~'G~ + sigma I finite
 * (the scaled matrices of md): else which column, which product overflows,
 * in md->msg. By Cauchy-Schwarz |(A'A)_jk| <= sqrt((A'A)_jj (A'A)_kk), so a
 * finite diagonal means a finite H. */
int ad_check_H(ad_model *md, double rho, double sigma);
/* md->msg for a failure code of a factorization of H at rho, sigma */
void ad_factor_msg(ad_model *md, int code, double rho, double sigma);

/* settings.c: a public code for any internal one (AD_ERR_* -> numerical) */
int ad_public_code(int code);

int ad_model_set_matrices(ad_model *md, const double *Px, const double *Ax, const double *Gx,
                          const double *q0, double *D0, double *E0, double *c0);

/* model.c: a model of src's problem and patterns that reuses src's
 * analysis of H (a copy of the analyzed factor, never a new analysis) with
 * new given values Px, Ax, Gx (the caller's order, validated; NULL: src's),
 * scaled with the cost factor from q0 and factored at settings.rho, sigma.
 * Shares nothing with src. ALTDIFF_ERR_NOT_POSDEF: md is complete but its
 * H is not positive definite (unfactored); other failures: md->msg says
 * why. In every case the caller frees md (ad_model_free). */
int ad_model_derive(ad_model *md, const ad_model *src, const double *Px, const double *Ax,
                    const double *Gx, const double *q0);
/* model.c: the model and the solve states (see the structs above) */
int ad_model_init(ad_model *md, const altdiff_problem *prob, const altdiff_settings *set);
void ad_model_free(ad_model *md);       /* not the objective (ad_smooth_free) */
/* Scale P, A, G, which hold their given values, in place (cost factor from
 * q0), and load the dense copies of A, G; ad_model_unscale: the given
 * values back in P, A, G (to within round-off; the dense copies are left
 * scaled) */
void ad_model_scale(ad_model *md, const double *q0);
void ad_model_unscale(ad_model *md);
/* New given values of the blocks not NULL (validated, the caller's entry
 * order; NULL: the block's values recovered from the scaled ones), then
 * scaled (cost factor from q0) */
void ad_model_replace(ad_model *md, const double *Px, const double *Ax, const double *Gx,
                      const double *q0);
/* P, A, G hold values scaled by (D, E, c) (saved before): that scaling
 * back, and the dense copies of A, G loaded from them */
void ad_model_rescaled(ad_model *md, const double *D, const double *E, double c);
int ad_state_alloc(const ad_model *md, ad_state *st); /* zero iterates */
/* The two parts of ad_state_alloc: the vectors (zero iterates), and the
 * Anderson memory (nothing when it is there, or off: settings.record) */
int ad_state_alloc_vectors(const ad_model *md, ad_state *st);
int ad_state_alloc_anderson(const ad_model *md, ad_state *st);
void ad_state_free(ad_state *st);
/* q0, b0, h0 = q, b, h (NULL: unchanged; validated by the caller), scaled */
void ad_state_set_vectors(const ad_model *md, ad_state *st, const double *q, const double *b,
                          const double *h);
void ad_state_scale_vectors(const ad_model *md, ad_state *st); /* q~, b~, h~ again */
/* Keep the iterates' meaning when the scaling changed from (D0, E0, c0) */
void ad_state_rescale(const ad_model *md, ad_state *st, const double *D0, const double *E0,
                      double c0);
void ad_state_info_setup(const ad_model *md, ad_state *st); /* setup figures */
/* The solution in original units (NULL skipped); s and nu over all given
 * rows (dropped rows: s = h, nu = 0) */
void ad_unscale_solution(const ad_model *md, const ad_state *st, double *x, double *s,
                         double *lam, double *nu);
/* out (p_all given rows) = v (p kept rows) times scale (NULL: 1), 0 on
 * dropped rows */
void ad_scatter_kept(const ad_model *md, const double *v, const double *scale, double *out);

/* kkt.c: exact implicit differentiation of the KKT conditions, in original
 * units, at the current (solved) iterates. The active set is J = { kept rows
 * k : nu_k > s_k } (= nu_k > 0, the iterates being exactly complementary);
 * a kept row is weakly active when nu_k <= info.eps_dual and s_k <=
 * info.eps_prim (solver tolerances). Vectors over inequality rows here
 * are over the KEPT rows (length w->p, row k = given row w->keep[k]). */
typedef struct ad_kkt ad_kkt;
/* Assemble K = [P A' G_J'; A 0 0; G_J 0 0] in original units (patterns of
 * w->P (upper), w->A, w->G), factor it (CHOLMOD LDL' of the quasi-definite
 * regularization [P + dI, C'; C, -dI]); sets info->active, weakly_active. */
int ad_kkt_setup(const ad_model *md, const ad_state *st, ad_kkt **K, altdiff_deriv_info *info);
/* K u = (wx, 0, 0): gq = -u_x (n), gb = u_lam (m), gh = u_nu on J, 0 elsewhere
 * (p kept rows). Any output may be NULL. Iterative refinement against K. */
int ad_kkt_vjp(ad_kkt *K, const double *wx, double *gq, double *gb, double *gh);
/* K (dx, dlam, dnu_J) = (-dq, db, dh_J): dx (n) for the direction (dq (n),
 * db (m), dh (p kept rows)); NULL inputs are zero. */
int ad_kkt_jvp(ad_kkt *K, const double *dq, const double *db, const double *dh, double *dx);
ad_kkt *ad_kkt_free(ad_kkt *K); /* returns NULL; accepts NULL */
/* Predicted flops and nnz(L) of the KKT factorization (symbolic only) */
int ad_kkt_estimate(const ad_model *md, const ad_state *st, double *fl, double *lnz);
/* K (x, lam, nu_J) = (rx, rb, (rh)_J) (polishing): x (n), lam (m), nu (p kept
 * rows, 0 off J); NULL right-hand sides are zero; *res (or NULL): the
 * relative residual |rhs - K u| / |rhs| of the refined solve */
int ad_kkt_solve_point(ad_kkt *K, const double *rx, const double *rb, const double *rh,
                       double *x, double *lam, double *nu, double *res);

/* adjoint.c: reverse mode on the scaled problem. wt (n): cotangent of x~;
 * outputs gq (n), gb (m), gh (p kept rows), scaled; mode ADJOINT or GMRES. */
int ad_adjoint_vjp(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, const double *wt,
                   double *gq, double *gb, double *gh, altdiff_deriv_info *info);

/* adjoint.c: the folded reverse mode (GMRES) of B solved states on the
 * model together: WT (n x B) cotangents of x~; GQ (n x B), GB (m x B), GH
 * (p x B, kept rows), scaled; info: B entries */
int ad_adjoint_vjp_many(ad_model *md, ad_state **el, altdiff_int B,
                        const altdiff_deriv_settings *ds, const double *WT, double *GQ,
                        double *GB, double *GH, altdiff_deriv_info *info);

/* adjoint.c: unrolled reverse mode through the recorded iterations */
int ad_unroll_vjp(ad_model *md, ad_state *st, const double *wt, double *gq, double *gb, double *gh,
                  altdiff_deriv_info *info);

/* forward.c: the Alt-Diff recursion on the scaled problem for d directions at
 * once: dq (n x d), db (m x d), dh (p x d, kept rows), column-major, NULL =
 * 0; dx (n x d) receives dx~. */
int ad_forward_block(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, altdiff_int d,
                     const double *dq, const double *db, const double *dh, double *dx,
                     altdiff_deriv_info *info);

/* forward.c: a tangent state for the recursion, advanced one sweep at a time
 * (at the rho and slack mask of the workspace), after the solve or alongside
 * its iterations; dx (n x d) is its x part */
typedef struct ad_tangent ad_tangent;
ad_tangent *ad_tangent_new(ad_model *md, altdiff_int d, const double *dq,
                           const double *db, const double *dh, double *dx);
int ad_tangent_step(ad_model *md, ad_state *st, ad_tangent *t, double *rel);
/* Smooth objectives (one direction): add J dtheta to dq~ at every step, J =
 * d grad f / d theta at that step's x~ (dtheta: original units, borrowed) */
int ad_tangent_theta(ad_model *md, ad_tangent *t, const double *dtheta);
ad_tangent *ad_tangent_free(const ad_model *md, ad_tangent *t);

/* admm.c: the solve, with a tangent advanced after every iteration (or NULL) */
int ad_solve(ad_model *md, ad_state *st, ad_tangent *t, double *rel);
/* Residual norms of one check, in original units (see altdiff.h) */
typedef struct {
    double r_prim, r_dual, eps_prim, eps_dual;
    double prim_scale, dual_scale; /* the max(...) inside eps_prim, eps_dual */
    double xPx;            /* x'Px (original units), for the gap         */
    double gap, eps_gap;   /* duality gap and its tolerance              */
} residuals_t;
/* The scratch of a batch solve (batch.c allocates it for B elements) */
typedef struct {
    double *X;             /* n x B: right-hand sides, then x~                */
    double *WA, *WG;       /* m x B, p x B: rho b - lam and A x~; likewise G  */
    double *PX, *SY;       /* n x B: a check's P x and A'lam + G'nu           */
    double *AX, *GX;       /* m x B, p x B: a check's A x and G x             */
    double *Pd;            /* n x n: P~ dense (upper) when that pays, or NULL */
    altdiff_int *act;      /* B: the elements still iterating                 */
    residuals_t *res;      /* B: the last check of each element               */
    ad_solve_work ws;      /* workspaces of the block solve                   */
} ad_batch_work;
/* batch.c: run the shared-model elements in lockstep when it pays (-1, the
 * default), never (0) or always (1): for tests of both paths */
void ad_batch_set_lockstep(altdiff_batch *bt, int mode);

/* admm.c: B states on the model's factor, each iteration's x-updates (and
 * products with A, G) on the block of the elements still iterating */
int ad_solve_batch(ad_model *md, ad_state *el, altdiff_int B, ad_batch_work *bw);
/* deriv.c: the public derivative functions on a model and a state */
int ad_fastest_mode(const ad_model *md, const ad_state *st, altdiff_int columns);
/* costmodel.c: flops of the KKT system's augmented-Lagrangian route with
 * that many solves (kkt.c: factorizations, solves, assembly) */
double ad_kkt_al_flops(const ad_model *md, double solves);
/* info->active = rows with s = 0 < nu */
void ad_count_active(const ad_model *md, const ad_state *st, altdiff_deriv_info *info);
altdiff_deriv_settings ad_resolve_mode(const ad_model *md, const ad_state *st,
                                       const altdiff_deriv_settings *ds, altdiff_int columns);
int ad_vjp(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds, const double *wx,
           double *dq, double *db, double *dh, altdiff_deriv_info *info);
int ad_jvp(ad_model *md, ad_state *st, const altdiff_deriv_settings *ds,
           const altdiff_direction *dir, double *dx, altdiff_deriv_info *info);
int ad_matrix_grads(const ad_model *md, const ad_state *st, const double *dq, const double *db,
                    const double *dh, double *dPx, double *dAx, double *dGx);
/* admm.c: info.status SOLVED if the iterates pass the stopping test, else
 * UNSOLVED (a point installed by altdiff_set_solution) */
void ad_assess(ad_model *md, ad_state *st);
/* residuals.c: the figures of a check at the point x (scaled) with the state's s,
 * lam, nu, as the stopping test computes them (writes info.obj and scratch,
 * nothing else of the state); whether they pass it; r into info */
void ad_residuals(ad_model *md, ad_state *st, const double *x, residuals_t *r);
/* The products of a check at x (scaled), computed by the caller (a batch,
 * on blocks): A x, G x, P x and A'lam + G'nu */
typedef struct {
    const double *Ax, *Gx, *Px, *Sy;
} ad_products;
/* ad_residuals of a quadratic objective from the given products */
void ad_residuals_given(ad_model *md, ad_state *st, const double *x, const ad_products *pr,
                        residuals_t *r);
int ad_converged(const residuals_t *r);
/* max( r_prim / eps_prim, r_dual / eps_dual, gap / eps_gap ), each ratio 0
 * for a zero residual and infinite when not finite: the stopping test passes
 * at score <= 1 (polishing's comparison, the acceleration's progress) */
double ad_score(const residuals_t *r);
void ad_info_residuals(ad_state *st, const residuals_t *r);

/* polish.c: solution polishing (doc/MATH.md section 3.10). After a solve
 * whose last check gave r: when settings.polish and the solve qualify
 * (SOLVED, or MAX_ITER within AD_POLISH_NEAR of the tolerances; QPs without
 * record; cheap enough), solve the equality-constrained QP on the active
 * set J = { nu_k > s_k } with the KKT machinery of kkt.c and keep the
 * polished point when it passes the stopping test at least as well as r.
 * Sets info.polish, t_polish (and status, residuals when accepted); a
 * solve polished during its iterations (ad_polish_early) is left as it is.
 * Returns ALTDIFF_OK or ALTDIFF_ERR_NOMEM (a failed factorization or solve
 * is a rejection); the iterates are the ADMM ones unless accepted. */
int ad_polish(ad_model *md, ad_state *st, residuals_t *r);
/* The polish itself, whatever the settings and status, with max_rounds
 * guesses, more while they settle fast (r: the figures of the point it starts from, the
 * polished point's when accepted): *outcome 1 accepted, -1 rejected
 * (iterates unchanged); *rounds the guesses (KKT solves) made */
int ad_polish_try(ad_model *md, ad_state *st, residuals_t *r, int max_rounds, int *outcome,
                  int *rounds);
/* At a check that did not stop the iterations (r its figures): when the
 * active-set guess is the one of the previous check and the work since the
 * last try pays for a polish, try it; *done = 1 when the polished point was
 * accepted (status SOLVED, r its figures): the iterations end there. */
int ad_polish_early(ad_model *md, ad_state *st, residuals_t *r, altdiff_int k, int *done);
/* A new solve: no guess yet, no credit */
void ad_polish_start(ad_state *st);

/* smooth.c: non-quadratic objectives (see altdiff.h). Points x~ are scaled;
 * these return ALTDIFF_OK or an error code (AD_ERR_DOMAIN: x~ outside the
 * domain, AD_ERR_NEWTON: no Newton step decreased the augmented Lagrangian) */
#define AD_ERR_DOMAIN (-100) /* never leave the library: ad_public_code */
#define AD_ERR_NEWTON (-101)
/* The weight of equality row i's penalty: w rho for the rows in the sparse
 * factor, rho for a dense row kept out of it (lowrank.c), factor.h */
static inline double ad_eq_weight(const ad_model *md, altdiff_int i)
{
    const ad_lowrank *lr = &md->F.lr;
    if (lr->k > 0 && lr->dense_row[i]) return 1;
    return md->F.eq_weight > 0 ? md->F.eq_weight : 1;
}
static inline int ad_smooth(const ad_model *md) { return md->xu != &ad_quadratic_xupdate; }
/* x~ = argmin of the augmented Lagrangian (damped Newton from w->xt, which
 * receives it); rhs = sigma x - q~ - A'(lam - rho b) - G'(nu + rho (s - h)) */
int ad_smooth_x_update(ad_model *md, ad_state *st, const double *rhs, double rho, double sigma);
/* g (n) = grad of the scaled objective part at x~ (c D grad f(D x~)), *obj =
 * f(D x~) + q'D x~ in original units */
int ad_smooth_gradient(ad_model *md, ad_state *st, const double *x, double *g, double *obj);
/* Hess f at x~ into P~ and H; numeric refactorization */
int ad_smooth_refresh(ad_model *md, const double *x);
/* out (n, scaled dq~) = c D J(D x~) v for theta direction v (original units) */
int ad_smooth_dgrad(ad_model *md, const double *x, const double *v, double *out);
/* Room for and a copy of x~ of the current iteration (settings.record) */
int ad_smooth_record(ad_model *md, ad_state *st, altdiff_int iter);
void ad_smooth_free(ad_objective *o);
int ad_smooth_prepare(ad_objective *o, const altdiff_problem *prob, const altdiff_objective *f);
int ad_smooth_attach(ad_model *md, ad_state *st);
altdiff_int ad_theta_size(const ad_model *md); /* k (callbacks) or n */


#endif /* AD_INTERNAL_H */
