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

/* A matrix to scale in place: its pattern and values S (the given values
 * on entry, the scaled ones on return) and, for a constraint block kept
 * dense (ops.h), its dense copy (S->m x S->n column-major, likewise; else
 * NULL). A full pattern (every entry; P: of its upper triangle) is read as
 * a dense matrix from S->x, and a dense copy that is S->x itself is not
 * scaled twice. */
typedef struct {
    cs_dl *S;
    double *dense;
} ad_scale_block;

int ad_scaling_alloc(ad_scaling *sc, altdiff_int n, altdiff_int rows); /* D = E = c = 1 */
void ad_scaling_free(ad_scaling *sc);
void ad_scaling_set(ad_scaling *sc, const double *D, const double *E, double c); /* + inverses */
/* passes Ruiz passes on P (upper), A, G, each reading the given values
 * scaled on the fly by the D, E so far (dense copies where they exist), then
 * the cost factor from q0 (NULL: q = 0); finally P~ = c D P D, A~ = Ea A D,
 * G~ = Eg G D in place (and in the dense copies) */
void ad_scaling_compute(ad_scaling *sc, const ad_scale_block *P, const ad_scale_block *A,
                        const ad_scale_block *G, const double *q0, int passes);
/* The given values back in place, to within a few units of round-off:
 * P = P~ / (c D D), A = A~ / (Ea D), G = G~ / (Eg D) (not the dense copies) */
void ad_scaling_undo(const ad_scaling *sc, cs_dl *P, cs_dl *A, cs_dl *G);
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
