/*
 * quadratic.c: the x-update of the quadratic objective 1/2 x'Px + q'x
 * (doc/MATH.md section 3.1): one solve with the factor of
 * H = P + rho S'S + sigma I, exact, so the solve checks at the relaxed x and
 * the duality-gap and unboundedness tests apply.
 */
#include "ad_internal.h"

/* x~ = H \ rhs */
static int quadratic_x_update(ad_model *md, ad_state *st)
{
    ad_copy(st->xt, st->rhs, md->n);
    return ad_factor_solve(&md->F, st->xt);
}

/* v = P~ x~; info.obj = 1/2 x'Px + q'x (original units) */
static int quadratic_gradient(ad_model *md, ad_state *st, const double *x, double *v)
{
    ad_fill(v, 0, md->n);
    ad_sym_mul(md->P, x, v); /* P x */
    st->info.obj = md->sc.cinv * (0.5 * ad_dot(x, v, md->n) + ad_dot(st->q, x, md->n));
    return ALTDIFF_OK;
}

const ad_xupdate ad_quadratic_xupdate = {
    quadratic_x_update, quadratic_gradient, NULL, NULL, NULL, NULL,
    0, /* checks at x            */
    1, /* the duality-gap test   */
    1, /* the unboundedness test */
};
