/*
 * check.c: validation of what callers give the library, with a message
 * that says what is wrong and where: which array (P, A, G, q, b, h), which
 * index (column j, entry t, row i), which quantity overflows. Everything here
 * runs before the data is used or anything is allocated for it.
 */
#include <math.h>
#include <stdio.h>

#include "ad_internal.h"

/* "NaN", "inf" or "-inf" for a value that is not finite */
static const char *nonfinite_name(double v)
{
    return isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf";
}

int ad_check_finite(const char *name, const double *v, altdiff_int n, char *msg, size_t len)
{
    for (altdiff_int k = 0; k < n; k++)
        if (!isfinite(v[k])) {
            ad_msg(msg, len, "%s[%lld] is %s", name, (long long)k, nonfinite_name(v[k]));
            return ALTDIFF_ERR_INVALID;
        }
    return ALTDIFF_OK;
}

/* h may be +inf or >= infinity (no bound) but not NaN or -inf */
static int check_h(const double *h, altdiff_int p, char *msg, size_t len)
{
    for (altdiff_int i = 0; i < p; i++)
        if (isnan(h[i]) || (isinf(h[i]) && h[i] < 0)) {
            ad_msg(msg, len, "h[%lld] is %s (a row with h = -inf cannot be satisfied)",
                   (long long)i, nonfinite_name(h[i]));
            return ALTDIFF_ERR_INVALID;
        }
    return ALTDIFF_OK;
}

/* ---- matrices --------------------------------------------------------------- */

/* Shape and column pointers of M (NAME, nrow x ncol expected) */
static int check_pointers(const char *name, const altdiff_csc *M, altdiff_int nrow,
                          altdiff_int ncol, char *msg, size_t len)
{
    if (M->nrow != nrow || M->ncol != ncol) {
        ad_msg(msg, len, "%s is %lld x %lld, expected %lld x %lld", name, (long long)M->nrow,
               (long long)M->ncol, (long long)nrow, (long long)ncol);
        return ALTDIFF_ERR_INVALID;
    }
    if (nrow == 0 || ncol == 0) return ALTDIFF_OK; /* no entries: arrays may be NULL */
    if (!M->p) { /* a matrix with rows and columns has column pointers */
        ad_msg(msg, len, "%s.p is NULL for a %lld x %lld matrix (no entries: p all 0)", name,
               (long long)nrow, (long long)ncol);
        return ALTDIFF_ERR_INVALID;
    }
    if (M->p[0] != 0) {
        ad_msg(msg, len, "%s.p[0] = %lld, must be 0", name, (long long)M->p[0]);
        return ALTDIFF_ERR_INVALID;
    }
    for (altdiff_int j = 0; j < ncol; j++)
        if (M->p[j + 1] < M->p[j]) {
            ad_msg(msg, len, "%s.p[%lld] = %lld < %s.p[%lld] = %lld: column pointers must not "
                   "decrease", name, (long long)(j + 1), (long long)M->p[j + 1], name,
                   (long long)j, (long long)M->p[j]);
            return ALTDIFF_ERR_INVALID;
        }
    if (M->p[ncol] > 0 && (!M->i || !M->x)) {
        ad_msg(msg, len, "%s.%s is NULL with %lld entries", name, M->i ? "x" : "i",
               (long long)M->p[ncol]);
        return ALTDIFF_ERR_INVALID;
    }
    return ALTDIFF_OK;
}

/* Row indices in range and not repeated within a column (seen: nrow
 * scratch, -1 on entry), values finite */
static int check_entries(const char *name, const altdiff_csc *M, altdiff_int *seen, char *msg,
                         size_t len)
{
    for (altdiff_int j = 0; j < M->ncol; j++)
        for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++) {
            altdiff_int i = M->i[t];
            if (i < 0 || i >= M->nrow) {
                ad_msg(msg, len, "%s: row index %lld out of range 0..%lld (column %lld, entry "
                       "%lld)", name, (long long)i, (long long)(M->nrow - 1), (long long)j,
                       (long long)t);
                return ALTDIFF_ERR_INVALID;
            }
            if (!isfinite(M->x[t])) {
                ad_msg(msg, len, "%s: entry %lld (row %lld, column %lld) is %s", name,
                       (long long)t, (long long)i, (long long)j, nonfinite_name(M->x[t]));
                return ALTDIFF_ERR_INVALID;
            }
            if (seen[i] >= M->p[j]) { /* seen in this column already */
                ad_msg(msg, len, "%s: row %lld repeats in column %lld (entries %lld and %lld)",
                       name, (long long)i, (long long)j, (long long)seen[i], (long long)t);
                return ALTDIFF_ERR_INVALID;
            }
            seen[i] = t;
        }
    return ALTDIFF_OK;
}

/* One matrix: shape, pointers, then its entries */
static int check_csc(const char *name, const altdiff_csc *M, altdiff_int nrow, altdiff_int ncol,
                     char *msg, size_t len)
{
    int status = check_pointers(name, M, nrow, ncol, msg, len);
    if (status != ALTDIFF_OK || nrow == 0 || ncol == 0 || M->p[ncol] == 0) return status;
    altdiff_int *seen = ad_malloc((size_t)nrow, sizeof(altdiff_int));
    if (!seen) {
        ad_msg(msg, len, "out of memory checking %s (%lld rows)", name, (long long)nrow);
        return ALTDIFF_ERR_NOMEM;
    }
    for (altdiff_int i = 0; i < nrow; i++) seen[i] = -1;
    status = check_entries(name, M, seen, msg, len);
    ad_free(seen);
    return status;
}

int ad_check_problem(const altdiff_problem *prob, char *msg, size_t len)
{
    if (prob->n <= 0 || prob->m < 0 || prob->p < 0) {
        ad_msg(msg, len, "sizes n = %lld, m = %lld, p = %lld: need n > 0, m >= 0, p >= 0",
               (long long)prob->n, (long long)prob->m, (long long)prob->p);
        return ALTDIFF_ERR_INVALID;
    }
    const char *null = !prob->q ? "q" : (prob->m > 0 && !prob->b) ? "b"
                                      : (prob->p > 0 && !prob->h) ? "h" : NULL;
    if (null) {
        ad_msg(msg, len, "%s is NULL", null);
        return ALTDIFF_ERR_INVALID;
    }
    int status = ad_check_finite("q", prob->q, prob->n, msg, len);
    if (status == ALTDIFF_OK) status = ad_check_finite("b", prob->b, prob->m, msg, len);
    if (status == ALTDIFF_OK) status = check_h(prob->h, prob->p, msg, len);
    if (status == ALTDIFF_OK) status = check_csc("P", &prob->P, prob->n, prob->n, msg, len);
    if (status == ALTDIFF_OK && prob->m > 0) /* no rows: the block is empty */
        status = check_csc("A", &prob->A, prob->m, prob->n, msg, len);
    if (status == ALTDIFF_OK && prob->p > 0)
        status = check_csc("G", &prob->G, prob->p, prob->n, msg, len);
    return status;
}

int ad_check_vectors(const ad_model *md, const double *q, const double *b, const double *h,
                     char *msg, size_t len)
{
    int status = q ? ad_check_finite("q", q, md->n, msg, len) : ALTDIFF_OK;
    if (status == ALTDIFF_OK && b) status = ad_check_finite("b", b, md->m, msg, len);
    if (status == ALTDIFF_OK && h) status = check_h(h, md->p_all, msg, len);
    for (altdiff_int i = 0, k = 0; status == ALTDIFF_OK && h && i < md->p_all; i++) {
        int kept = k < md->p && md->keep[k] == i;
        if ((h[i] < md->set.infinity) != kept) {
            ad_msg(msg, len, "h[%lld] = %g: row %lld was %s at setup and must stay %s "
                   "(settings.infinity = %g)", (long long)i, h[i], (long long)i,
                   kept ? "kept" : "dropped", kept ? "below infinity" : "infinite",
                   md->set.infinity);
            status = ALTDIFF_ERR_INVALID;
        }
        k += kept;
    }
    return status;
}

/* ---- H ---------------------------------------------------------------------- */

#define AD_NORM_LANES 4 /* partial sums kept apart: the loop vectorizes */

/* The 2-norm of column j of M without overflow in the sum (scaled by the
 * largest entry), and that entry's magnitude in *big (the values are
 * finite: a plain max) */
static double col_norm(const cs_dl *M, altdiff_int j, double *big)
{
    const double *x = M->x + M->p[j];
    altdiff_int len = M->p[j + 1] - M->p[j], t = 0;
    double mx = 0, sum = 0, acc[AD_NORM_LANES] = {0};
    for (altdiff_int k = 0; k < len; k++) mx = fabs(x[k]) > mx ? fabs(x[k]) : mx;
    *big = mx;
    if (mx == 0) return 0;
    for (; t + AD_NORM_LANES <= len; t += AD_NORM_LANES)
        for (int l = 0; l < AD_NORM_LANES; l++) acc[l] += (x[t + l] / mx) * (x[t + l] / mx);
    for (; t < len; t++) sum += (x[t] / mx) * (x[t] / mx);
    for (int l = 0; l < AD_NORM_LANES; l++) sum += acc[l];
    return mx * sqrt(sum);
}

/* The largest magnitude of the given (unscaled) values of column j */
static double given_max(const cs_dl *M, const double *rowinv, double colinv, altdiff_int j)
{
    double mx = 0;
    for (altdiff_int t = M->p[j]; t < M->p[j + 1]; t++)
        mx = fmax(mx, fabs(M->x[t]) * rowinv[M->i[t]] * colinv);
    return mx;
}

/* New values of P, A, G (NULL: unchanged; nnz of each in the setup order):
 * finite, and no Px for a smooth objective; the message into md->msg */
int ad_check_matrices(ad_model *md, const double *Px, const double *Ax, const double *Gx)
{
    if (Px && ad_smooth(md)) { /* no P: Hess f */
        ad_msg(md->msg, AD_MSG_LEN, "Px given for a smooth objective (its P is Hess f)");
        return ALTDIFF_ERR_INVALID;
    }
    int status = Px ? ad_check_finite("Px", Px, md->Pnz, md->msg, AD_MSG_LEN) : ALTDIFF_OK;
    if (status == ALTDIFF_OK && Ax) status = ad_check_finite("Ax", Ax, md->Anz, md->msg, AD_MSG_LEN);
    if (status == ALTDIFF_OK && Gx) status = ad_check_finite("Gx", Gx, md->Gnz, md->msg, AD_MSG_LEN);
    return status;
}

/* P~_jj (0 when not stored) */
static double diag_entry(const cs_dl *P, altdiff_int j)
{
    for (altdiff_int t = P->p[j]; t < P->p[j + 1]; t++)
        if (P->i[t] == j) return P->x[t];
    return 0;
}

int ad_check_H(ad_model *md, double rho, double sigma)
{
    const ad_scaling *sc = &md->sc;
    for (altdiff_int j = 0; j < md->n; j++) {
        double bigA, bigG, bigP;
        double na = col_norm(md->A, j, &bigA), ng = col_norm(md->G, j, &bigG);
        col_norm(md->P, j, &bigP);
        /* H_jj = P~_jj + rho |A~_j|^2 + rho |G~_j|^2 + sigma */
        double hjj = diag_entry(md->P, j) + rho * na * na + rho * ng * ng + sigma;
        if (isfinite(hjj) && isfinite(bigP)) continue;
        const char *what = !isfinite(rho * na * na) ? "A" : !isfinite(rho * ng * ng) ? "G" : "P";
        if (what[0] == 'P') {
            ad_msg(md->msg, sizeof(md->msg), "P has entries of %.3g in column %lld: H = P + "
                   "rho A'A + rho G'G + sigma I overflows there",
                   given_max(md->P, sc->Dinv, sc->cinv * sc->Dinv[j], j), (long long)j);
        } else {
            int isA = what[0] == 'A';
            double nrm = isA ? na : ng;
            double big = given_max(isA ? md->A : md->G, sc->Einv + (isA ? 0 : md->m),
                                   sc->Dinv[j], j);
            /* log10 of rho |col|^2, finite even when the product is not */
            double lg = log10(rho) + 2 * (isfinite(nrm) ? log10(nrm) : log10(isA ? bigA : bigG));
            ad_msg(md->msg, sizeof(md->msg), "%s has entries of %.3g in column %lld: %s'%s "
                   "has entries of 1e%.0f (scaled, times rho = %g): overflow in rho A'A + "
                   "rho G'G", what, big, (long long)j, what, what, lg, rho);
        }
        return ALTDIFF_ERR_INVALID;
    }
    return ALTDIFF_OK;
}

void ad_factor_msg(ad_model *md, int code, double rho, double sigma)
{
    if (code == ALTDIFF_ERR_NOT_POSDEF)
        ad_msg(md->msg, sizeof(md->msg), "H = P + rho A'A + rho G'G + sigma I is not positive "
               "definite (rho = %g, sigma = %g): P is not positive semidefinite", rho, sigma);
    else if (code == ALTDIFF_ERR_NOMEM)
        ad_msg(md->msg, sizeof(md->msg), "out of memory factoring H (n = %lld)",
               (long long)md->n);
    else if (code != ALTDIFF_OK)
        ad_msg(md->msg, sizeof(md->msg), "%s factoring H = P + rho A'A + rho G'G + sigma I "
               "(n = %lld)", altdiff_error_string(code), (long long)md->n);
}
