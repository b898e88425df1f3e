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

#include <cholmod.h>

#include "altdiff.h"
#include "sp.h"

/* H = P + rho S'S + sigma I with S = [A; G], its factor and solve buffers */
typedef struct {
    cholmod_common cm;     /* one per workspace: workspaces are independent */
    int cm_started;
    cholmod_sparse *H;     /* upper triangle (stype 1)                       */
    double *HP, *HS;       /* values of P and of S'S on the pattern of H     */
    altdiff_int *diag;     /* n: position of H_jj in H->x                     */
    cholmod_factor *L;
    cholmod_dense *X, *Y, *E; /* persistent workspaces of cholmod_l_solve2  */
    double rho, sigma;     /* values H was last factored with               */
    /* dense rows of S kept out of the factor (lowrank.c): H = Hs + rho U U' */
    altdiff_int k;         /* number of dense rows (0: none split off)       */
    unsigned char *dense_row; /* m + p flags                                 */
    altdiff_int *drow;     /* k: their rows in S                             */
    double *U, *W, *C, *wk; /* n x k, n x k (Hs^-1 U), k x k (chol), k       */
    altdiff_int *wk_idx;   /* m + p scratch                                  */
} ad_factor;

/* Anderson acceleration of the sweeps (anderson.c) */
typedef struct {
    int mem;               /* columns of memory, 0 = off                       */
    altdiff_int dim;       /* m + p: z = (lam, nu - rho s)                     */
    altdiff_int cols, next; /* columns held, ring position of the next        */
    double *dG, *dF;       /* dim x mem: differences of g = T(z) - z, f = T(z) */
    double *z, *f, *g, *f_prev, *g_prev; /* dim                                */
    double *gram, *chol, *gamma; /* mem x mem: dG'dG, its Cholesky factor; mem */
    double *dfnorm2;       /* mem: |dF_j|^2                                     */
    double gnorm_prev;     /* |g| at the point z+ was extrapolated from        */
    int active;            /* this solve accelerates                           */
    int started;           /* z holds the start of the current sweep           */
    int have_prev;         /* f_prev, g_prev hold the previous sweep           */
    int extrapolated;      /* the current sweep started from an extrapolation  */
} ad_anderson;

/* The objective (smooth.c). kind ALTDIFF_OBJECTIVE_QUADRATIC is the QP of
 * altdiff_setup: P and q live in the workspace and none of the rest is used.
 * Otherwise P holds Hess f at the point of the last refresh (P0x as given
 * by the callback, P~ scaled) and q the extra linear term; the callbacks in f
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

struct altdiff_work {
    altdiff_settings set;
    altdiff_info info;
    altdiff_int n, m, p;   /* p: kept inequality rows                        */
    altdiff_int p_all;     /* inequality rows given                          */
    altdiff_int *keep;     /* p: row of G given for kept row k               */

    /* data, scaled (values) and as given (P0x, A0x, G0x on the same pattern) */
    cs_dl *P, *A, *G;      /* P: upper triangle                              */
    double *P0x, *A0x, *G0x;
    double *q, *b, *h;     /* scaled                                         */
    double *q0, *b0, *h0;  /* as given (h0: all p_all rows)                  */
    altdiff_int *Pmap, *Amap, *Gmap; /* user entry -> position (-1: dropped) */
    altdiff_int Pnz, Anz, Gnz;       /* user entries                          */

    /* scaling */
    double *D, *Dinv;      /* n                                              */
    double *E, *Einv;      /* m + p: rows of A then of G                     */
    double c, cinv;

    /* iterates (scaled) and the previous ones */
    double *x, *s, *lam, *nu;
    double *x_prev, *lam_prev, *nu_prev;
    /* scratch: rhs, xt, wn (n); Ax (m); Gx (p); wn2 (n + m + p); wm (m + p,
     * scaling only) */
    double *rhs, *xt, *Ax, *Gx, *wn, *wn2, *wm;
    /* certificates (unscaled) */
    double *cert_x, *cert_lam, *cert_nu;

    ad_factor F;
    ad_objective obj;
    ad_anderson aa;

    /* recorded slack masks (settings.record): iteration k, row i is bit
     * (k * mask_row + i / 8, i % 8); mask_iters iterations held */
    unsigned char *masks;
    altdiff_int mask_row, mask_iters, mask_cap;
};

/* anderson.c */
int ad_anderson_alloc(altdiff_work *w, int mem);
void ad_anderson_free(ad_anderson *a);
void ad_anderson_start(altdiff_work *w, int active); /* a new solve */
void ad_anderson_reset(altdiff_work *w);             /* a new rho    */
void ad_anderson_begin(altdiff_work *w);             /* before a sweep */
void ad_anderson_end(altdiff_work *w);               /* after it       */

/* settings.c */
int ad_settings_check(const altdiff_settings *set);
double ad_time(void); /* seconds, monotonic */

/* factor.c: form, analyze, factor and solve with H */
cholmod_sparse ad_cholmod_view(const cs_dl *A, int stype); /* no copy; 1 = upper */
int ad_factor_init(altdiff_work *w);             /* pattern, analyze, factor */
int ad_factor_values(altdiff_work *w);           /* new P/A/G values: S'S again */
/* HP from the values of P~ (pattern unchanged), positions kept in Hpos (nnz(P),
 * filled on the first call) */
int ad_factor_set_P(altdiff_work *w, altdiff_int **Hpos);
int ad_factor_refactor(altdiff_work *w, double rho, double sigma); /* numeric only */
int ad_factor_solve(altdiff_work *w, double *x); /* x = H \ x, no allocation  */
/* X = H \ X for d columns with caller-held solve workspaces (free them with
 * cholmod_l_free_dense on w->F.cm) */
int ad_factor_solve_block(altdiff_work *w, double *X, altdiff_int d, cholmod_dense **Xw,
                          cholmod_dense **Yw, cholmod_dense **Ew);
void ad_factor_free(ad_factor *F);
/* The cost of a numeric factorization in ADMM sweeps (flop model) */
double ad_factor_cost_in_sweeps(const altdiff_work *w);
/* X = Hs \ X: the sparse factor alone, without the dense-row correction */
int ad_factor_sparse_solve(altdiff_work *w, double *X, altdiff_int d, cholmod_dense **Xw,
                           cholmod_dense **Yw, cholmod_dense **Ew);

/* lowrank.c: dense rows of S by the Woodbury identity */
int ad_lowrank_detect(altdiff_work *w);
void ad_lowrank_fill_U(altdiff_work *w);
int ad_lowrank_update(altdiff_work *w, double rho);
void ad_lowrank_apply(const altdiff_work *w, double *y);
void ad_lowrank_free(ad_factor *F);

/* scaling.c: scale P, A, G, q, b, h from the given values (P0x, ...);
 * uses x_prev and wm as scratch */
void ad_scale(altdiff_work *w);
void ad_scale_vectors(altdiff_work *w); /* q, b, h only, with D, E, c kept */

/* kkt.c: exact implicit differentiation of the KKT conditions, in original
 * units, at the current (solved) iterates. The active set is J = { kept rows
 * k : nu_k > s_k } (= nu_k > 0, the iterates being exactly complementary);
 * a kept row is weakly active when nu_k <= info.eps_dual and s_k <=
 * info.eps_prim (solver tolerances). Vectors over inequality rows here
 * are over the KEPT rows (length w->p, row k = given row w->keep[k]). */
typedef struct ad_kkt ad_kkt;
/* Assemble K = [P A' G_J'; A 0 0; G_J 0 0] from P0x, A0x, G0x (patterns of
 * w->P (upper), w->A, w->G), factor it (CHOLMOD LDL' of the quasi-definite
 * regularization [P + dI, C'; C, -dI]); sets info->active, weakly_active. */
int ad_kkt_setup(const altdiff_work *w, ad_kkt **K, altdiff_deriv_info *info);
/* K u = (wx, 0, 0): gq = -u_x (n), gb = u_lam (m), gh = u_nu on J, 0 elsewhere
 * (p kept rows). Any output may be NULL. Iterative refinement against K. */
int ad_kkt_vjp(ad_kkt *K, const double *wx, double *gq, double *gb, double *gh);
/* K (dx, dlam, dnu_J) = (-dq, db, dh_J): dx (n) for the direction (dq (n),
 * db (m), dh (p kept rows)); NULL inputs are zero. */
int ad_kkt_jvp(ad_kkt *K, const double *dq, const double *db, const double *dh, double *dx);
ad_kkt *ad_kkt_free(ad_kkt *K); /* returns NULL; accepts NULL */
/* Predicted flops and nnz(L) of the KKT factorization (symbolic only) */
int ad_kkt_estimate(const altdiff_work *w, double *fl, double *lnz);

/* adjoint.c: reverse mode on the scaled problem. wt (n): cotangent of x~;
 * outputs gq (n), gb (m), gh (p kept rows), scaled; mode ADJOINT or GMRES. */
int ad_adjoint_vjp(altdiff_work *w, const altdiff_deriv_settings *ds, const double *wt,
                   double *gq, double *gb, double *gh, altdiff_deriv_info *info);

/* adjoint.c: unrolled reverse mode through the recorded iterations */
int ad_unroll_vjp(altdiff_work *w, const double *wt, double *gq, double *gb, double *gh,
                  altdiff_deriv_info *info);

/* forward.c: the Alt-Diff recursion on the scaled problem for d directions at
 * once: dq (n x d), db (m x d), dh (p x d, kept rows), column-major, NULL =
 * 0; dx (n x d) receives dx~. */
int ad_forward_block(altdiff_work *w, const altdiff_deriv_settings *ds, altdiff_int d,
                     const double *dq, const double *db, const double *dh, double *dx,
                     altdiff_deriv_info *info);

/* forward.c: a tangent state for the recursion, advanced one sweep at a time
 * (at the rho and slack mask of the workspace), after the solve or alongside
 * its iterations; dx (n x d) is its x part */
typedef struct ad_tangent ad_tangent;
ad_tangent *ad_tangent_new(altdiff_work *w, altdiff_int d, const double *dq,
                           const double *db, const double *dh, double *dx);
int ad_tangent_step(altdiff_work *w, ad_tangent *t, double *rel);
/* Smooth objectives (one direction): add J dtheta to dq~ at every step, J =
 * d grad f / d theta at that step's x~ (dtheta: original units, borrowed) */
int ad_tangent_theta(altdiff_work *w, ad_tangent *t, const double *dtheta);
ad_tangent *ad_tangent_free(const altdiff_work *w, ad_tangent *t);

/* admm.c: the solve, with a tangent advanced after every iteration (or NULL) */
int ad_solve(altdiff_work *w, ad_tangent *t, double *rel);

/* smooth.c: non-quadratic objectives (see altdiff.h). Points x~ are scaled;
 * these return ALTDIFF_OK or an error code (AD_ERR_DOMAIN: x~ outside the
 * domain, AD_ERR_NEWTON: no Newton step decreased the augmented Lagrangian) */
#define AD_ERR_DOMAIN (-100)
#define AD_ERR_NEWTON (-101)
static inline int ad_smooth(const altdiff_work *w)
{
    return w->obj.kind != ALTDIFF_OBJECTIVE_QUADRATIC;
}
/* x~ = argmin of the augmented Lagrangian (damped Newton from w->xt, which
 * receives it); rhs = sigma x - q~ - A'(lam - rho b) - G'(nu + rho (s - h)) */
int ad_smooth_x_update(altdiff_work *w, const double *rhs, double rho, double sigma);
/* g (n) = grad of the scaled objective part at x~ (c D grad f(D x~)), *obj =
 * f(D x~) + q'D x~ in original units */
int ad_smooth_gradient(altdiff_work *w, const double *x, double *g, double *obj);
/* Hess f at x~ into P0x, P~, H; numeric refactorization */
int ad_smooth_refresh(altdiff_work *w, const double *x);
/* out (n, scaled dq~) = c D J(D x~) v for theta direction v (original units) */
int ad_smooth_dgrad(altdiff_work *w, const double *x, const double *v, double *out);
/* Room for and a copy of x~ of the current iteration (settings.record) */
int ad_smooth_record(altdiff_work *w, altdiff_int iter);
void ad_smooth_free(ad_objective *o);

/* setup.c: kept inequality rows (p) -> given rows (p_all), times scale
 * (NULL: 1), 0 on dropped rows */
void ad_scatter_kept(const altdiff_work *w, const double *v, const double *scale, double *out);

/* admm.c helpers shared with derivative code */
void ad_unscale_solution(const altdiff_work *w, double *x, double *s, double *lam, double *nu);

#endif /* AD_INTERNAL_H */
