/* settings.c: defaults, validation, messages, clock */
#include <math.h>

#include "ad_internal.h"

altdiff_settings altdiff_settings_default(void)
{
    altdiff_settings s;
    s.rho = ALTDIFF_DEFAULT_RHO;
    s.sigma = ALTDIFF_DEFAULT_SIGMA;
    s.alpha = ALTDIFF_DEFAULT_ALPHA;
    s.eps_abs = ALTDIFF_DEFAULT_EPS_ABS;
    s.eps_rel = ALTDIFF_DEFAULT_EPS_REL;
    s.eps_pinf = ALTDIFF_DEFAULT_EPS_PINF;
    s.eps_dinf = ALTDIFF_DEFAULT_EPS_DINF;
    s.max_iter = ALTDIFF_DEFAULT_MAX_ITER;
    s.time_limit = ALTDIFF_DEFAULT_TIME_LIMIT;
    s.check_every = ALTDIFF_DEFAULT_CHECK_EVERY;
    s.scaling = ALTDIFF_DEFAULT_SCALING;
    s.adaptive_rho = ALTDIFF_DEFAULT_ADAPTIVE_RHO;
    s.adaptive_rho_tol = ALTDIFF_DEFAULT_ADAPTIVE_RHO_TOL;
    s.infinity = ALTDIFF_DEFAULT_INFINITY;
    s.verbose = 0;
    s.record = 0;
    s.verbose_every = ALTDIFF_DEFAULT_VERBOSE_EVERY;
    s.anderson = ALTDIFF_DEFAULT_ANDERSON;
    s.polish = ALTDIFF_DEFAULT_POLISH;
    return s;
}

/* ALTDIFF_OK if every field is in its documented range; else the first
 * field out of it, by name, into msg */
int ad_settings_check_msg(const altdiff_settings *s, char *msg, size_t len)
{
    const char *bad = NULL, *rule = NULL;
    double v = 0;
#define AD_FIELD(ok, name, value, needs)                                                      \
    if (!bad && !(ok)) {                                                                       \
        bad = name;                                                                            \
        v = (double)(value);                                                                   \
        rule = needs;                                                                          \
    }
    AD_FIELD(s->rho > 0 && isfinite(s->rho), "rho", s->rho, "0 < rho < inf")
    AD_FIELD(s->sigma >= 0 && isfinite(s->sigma), "sigma", s->sigma, "0 <= sigma < inf")
    AD_FIELD(s->alpha > 0 && s->alpha < 2, "alpha", s->alpha, "0 < alpha < 2")
    AD_FIELD(s->eps_abs >= 0, "eps_abs", s->eps_abs, "eps_abs >= 0")
    AD_FIELD(s->eps_rel >= 0, "eps_rel", s->eps_rel, "eps_rel >= 0")
    AD_FIELD(s->eps_abs + s->eps_rel > 0, "eps_abs + eps_rel", s->eps_abs + s->eps_rel, "> 0")
    AD_FIELD(s->eps_pinf > 0, "eps_pinf", s->eps_pinf, "eps_pinf > 0")
    AD_FIELD(s->eps_dinf > 0, "eps_dinf", s->eps_dinf, "eps_dinf > 0")
    AD_FIELD(s->max_iter > 0, "max_iter", s->max_iter, "max_iter > 0")
    AD_FIELD(s->time_limit >= 0, "time_limit", s->time_limit, "time_limit >= 0")
    AD_FIELD(s->check_every > 0, "check_every", s->check_every, "check_every > 0")
    AD_FIELD(s->scaling >= 0 && s->scaling <= 100, "scaling", s->scaling, "0..100")
    AD_FIELD(s->adaptive_rho_tol > 1, "adaptive_rho_tol", s->adaptive_rho_tol, "> 1")
    AD_FIELD(s->infinity > 0, "infinity", s->infinity, "infinity > 0")
    AD_FIELD(s->verbose_every > 0, "verbose_every", s->verbose_every, "verbose_every > 0")
    AD_FIELD(s->record == 0 || s->record == 1, "record", s->record, "0 or 1")
    AD_FIELD(s->anderson >= 0 && s->anderson <= 50, "anderson", s->anderson, "0..50")
    AD_FIELD(s->polish >= 0 && s->polish <= 2, "polish", s->polish, "0, 1 or 2")
#undef AD_FIELD
    if (!bad) return ALTDIFF_OK;
    ad_msg(msg, len, "settings.%s is %g (needs %s)", bad, v, rule);
    return ALTDIFF_ERR_INVALID;
}

int ad_settings_check(const altdiff_settings *s) { return ad_settings_check_msg(s, NULL, 0); }

const char *altdiff_version(void) { return ALTDIFF_VERSION_STRING; }

const char *altdiff_error_string(int code)
{
    switch (code) {
    case ALTDIFF_OK: return "ok";
    case ALTDIFF_ERR_INVALID: return "invalid input";
    case ALTDIFF_ERR_NOMEM: return "out of memory";
    case ALTDIFF_ERR_NOT_POSDEF:
        return "P + rho A'A + rho G'G + sigma I is not positive definite (P is not "
               "positive semidefinite)";
    case ALTDIFF_ERR_CHOLMOD: return "CHOLMOD failed";
    case ALTDIFF_ERR_IO: return "input/output error";
    case ALTDIFF_ERR_NOT_SOLVED: return "the problem has not been solved";
    case ALTDIFF_ERR_NUMERICAL:
        return "numerical failure (non-finite values, a point outside the objective's "
               "domain, or no descending Newton step)";
    default: return "unknown error";
    }
}

const char *altdiff_status_string(int status)
{
    switch (status) {
    case ALTDIFF_UNSOLVED: return "unsolved";
    case ALTDIFF_SOLVED: return "solved";
    case ALTDIFF_MAX_ITER: return "iteration limit reached";
    case ALTDIFF_TIME_LIMIT: return "time limit reached";
    case ALTDIFF_PRIMAL_INFEASIBLE: return "primal infeasible";
    case ALTDIFF_DUAL_INFEASIBLE: return "dual infeasible (unbounded)";
    case ALTDIFF_NONCONVEX: return "non-convex (P not positive semidefinite)";
    case ALTDIFF_NUMERICAL_ERROR: return "numerical error";
    case ALTDIFF_NOT_AVAILABLE: return "not available (the element was not solved)";
    default: return "unknown status";
    }
}

/* The code a public function returns for an internal one: the private codes
 * of the Newton x-update (AD_ERR_*, <= -100) are numerical failures */
int ad_public_code(int code) { return code <= -100 ? ALTDIFF_ERR_NUMERICAL : code; }
