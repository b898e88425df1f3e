/*
 * scaling.h: Ruiz equilibration and cost scaling (scaling.c, doc/MATH.md
 * section 2). With D (n), E = (Ea, Eg) (m + p kept rows) and c > 0 the
 * scaled problem is
 *     P~ = c D P D,  q~ = c D q,  A~ = Ea A D,  b~ = Ea b,  G~ = Eg G D,  h~ = Eg h
 * and its solution maps back by
 *     x = D x~,  s = Eg^-1 s~,  lam = Ea lam~ / c,  nu = Eg nu~ / c.
 * The component owns D, E, c and the conversions between the two units.
 */
#ifndef AD_SCALING_H
#define AD_SCALING_H

#include "sp.h"

typedef struct {
    altdiff_int n, rows;   /* n; rows = m + p                                */
    double *D, *Dinv;      /* n                                              */
    double *E, *Einv;      /* rows: rows of A then the kept rows of G        */
    double c, cinv;
    double *work;          /* n + rows scratch                               */
} ad_scaling;

int ad_scaling_alloc(ad_scaling *sc, altdiff_int n, altdiff_int rows); /* D = E = c = 1 */
void ad_scaling_free(ad_scaling *sc);
/* passes Ruiz passes on the values of P (upper), A, G (scaled in place from
 * the given values the caller put there), then the cost factor from q0
 * (NULL: q = 0); P~ gets c */
void ad_scaling_compute(ad_scaling *sc, cs_dl *P, cs_dl *A, cs_dl *G, const double *q0,
                        int passes);
/* y = c D q (linear-term units: q~, and cotangents dL/dq = c D dL/dq~) */
void ad_scale_cost(const ad_scaling *sc, const double *q, double *y);
/* y = E[off + i] v[i] for i < len (b~ = Ea b, h~ = Eg h) */
void ad_scale_rows(const ad_scaling *sc, altdiff_int off, const double *v, altdiff_int len,
                   double *y);
/* x = D x~ (also w~ = D w, the cotangent of x~); x may be x~ itself */
void ad_unscale_x(const ad_scaling *sc, const double *xt, double *x);
/* multipliers: y = E[off + i] y~[i] / c */
void ad_unscale_dual(const ad_scaling *sc, altdiff_int off, const double *yt, altdiff_int len,
                     double *y);
/* The inverse conversions (a point given in original units, e.g. polished):
 * x~ = D^-1 x, and y~ = c E[off + i]^-1 y[i] for multipliers */
void ad_scale_x(const ad_scaling *sc, const double *x, double *xt);
void ad_scale_dual(const ad_scaling *sc, altdiff_int off, const double *y, altdiff_int len,
                   double *yt);

#endif /* AD_SCALING_H */
