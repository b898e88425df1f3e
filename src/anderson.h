/*
 * anderson.h: type-II Anderson acceleration of a fixed-point map z+ = T(z)
 * on points the caller hands in (anderson.c, doc/MATH.md section 3.6).
 * The component knows nothing of ADMM: the caller packs its state into a
 * vector z before a sweep and the sweep's result f = T(z) after it.
 */
#ifndef AD_ANDERSON_H
#define AD_ANDERSON_H

#include "sp.h"

typedef struct {
    int mem;               /* columns of memory, 0 = off                       */
    altdiff_int dim;       /* length of the points                             */
    altdiff_int cols, next; /* columns held, ring position of the next        */
    double *dG, *dF;       /* dim x mem: differences of g = T(z) - z, f = T(z) */
    double *z, *g, *f_prev, *g_prev; /* dim: the start of the sweep, its residual,
                                        the previous plain f and g                */
    double *gram, *chol, *gamma; /* mem x mem: dG'dG, its Cholesky factor; mem */
    double *dfnorm2;       /* mem: |dF_j|^2                                     */
    double *block;         /* the one allocation holding the arrays above      */
    double gnorm_prev;     /* |g| at the point z+ was extrapolated from        */
    int active;            /* this solve accelerates                           */
    int started;           /* z holds the start of the current sweep           */
    int have_prev;         /* f_prev, g_prev hold the previous sweep           */
    int extrapolated;      /* the current sweep started from an extrapolation  */
    int paused;            /* plain sweeps for now (ad_anderson_watch)         */
    double best;           /* the best progress measure of the current mode    */
    long best_at;          /* the iteration it was reached (or the mode began) */
    long stall;            /* iterations without gain before a switch          */
    long trial_at;         /* plain sweeps on trial since, or -1               */
    double trial_ref;      /* the measure when the trial began                 */
} ad_anderson;

#define AD_AA_PLAIN 0        /* f kept: the plain sweep                     */
#define AD_AA_EXTRAPOLATED 1 /* f replaced by the extrapolation             */
#define AD_AA_REJECTED 2     /* the last extrapolation was rejected: f is the
                                plain point before it, memory cleared       */

int ad_anderson_alloc(ad_anderson *a, int mem, altdiff_int dim); /* 0 mem: off */
void ad_anderson_free(ad_anderson *a);
void ad_anderson_start(ad_anderson *a, int active); /* a new solve             */
void ad_anderson_reset(ad_anderson *a);             /* a new map (new rho)     */
void ad_anderson_begin(ad_anderson *a, const double *z); /* z: the sweep's start */
int ad_anderson_end(ad_anderson *a, double *f);     /* f = T(z) -> next point  */
/* At a check of iteration k, a measure of progress (smaller is better, e.g.
 * the residuals in units of their tolerances): when the extrapolations have
 * not reduced it below AD_AA_PROGRESS times its best within AD_AA_STALL
 * iterations (doubled after each failed trial), plain sweeps get a trial of
 * AD_AA_TRIAL iterations, and stay if they reduced it below AD_AA_GAIN
 * times its value at the start (anderson.c). 1 if it switched. */
int ad_anderson_watch(ad_anderson *a, double measure, long k);
#define AD_AA_STALL 200
#define AD_AA_TRIAL 50
#define AD_AA_PROGRESS 0.99
#define AD_AA_GAIN 0.9

#endif /* AD_ANDERSON_H */
