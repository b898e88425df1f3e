/*
 * Stand-in for the batch API of altdiff.h, built into the Python extension
 * ONLY when the library sources do not define it yet (python/altdiff/
 * meson.build checks the sources in src/ for the definitions). It keeps one workspace
 * per element and calls the single-problem API element by element: same
 * results and semantics as documented in altdiff.h, none of the shared
 * factor's speed. Also altdiff_version (from meson's project version) when
 * the library lacks it.
 */
#include <stdlib.h>
#include <string.h>

#include "altdiff.h"

#ifdef AD_PY_EMUL_VERSION
const char *altdiff_version(void) { return AD_PY_VERSION; }
#endif

#ifdef AD_PY_EMUL_BATCH
struct altdiff_batch {
    altdiff_int B, n, m, p, nnzP, nnzA, nnzG;
    altdiff_work **w;
};

int altdiff_batch_setup(altdiff_batch **batch, const altdiff_problem *prob, altdiff_int B,
                        const altdiff_settings *settings)
{
    if (!batch) return ALTDIFF_ERR_INVALID;
    *batch = NULL;
    if (!prob || B < 1 || (settings && settings->record)) return ALTDIFF_ERR_INVALID;
    altdiff_batch *b = calloc(1, sizeof *b);
    if (!b) return ALTDIFF_ERR_NOMEM;
    b->w = calloc((size_t)B, sizeof *b->w);
    if (!b->w) {
        free(b);
        return ALTDIFF_ERR_NOMEM;
    }
    b->B = B;
    b->n = prob->n;
    b->m = prob->m;
    b->p = prob->p;
    b->nnzP = prob->P.p ? prob->P.p[prob->n] : 0;
    b->nnzA = prob->A.p && prob->m ? prob->A.p[prob->n] : 0;
    b->nnzG = prob->G.p && prob->p ? prob->G.p[prob->n] : 0;
    for (altdiff_int k = 0; k < B; k++) {
        int rc = altdiff_setup(&b->w[k], prob, settings);
        if (rc != ALTDIFF_OK) {
            altdiff_batch_free(b);
            return rc;
        }
    }
    *batch = b;
    return ALTDIFF_OK;
}

altdiff_int altdiff_batch_size(const altdiff_batch *b) { return b ? b->B : 0; }

int altdiff_batch_set_vectors(altdiff_batch *b, altdiff_int first, altdiff_int count,
                              const double *q, altdiff_int ldq, const double *bb,
                              altdiff_int ldb, const double *h, altdiff_int ldh)
{
    if (!b || first < 0 || count < 0 || first + count > b->B) return ALTDIFF_ERR_INVALID;
    for (altdiff_int j = 0; j < count; j++) {
        int rc = altdiff_update_vectors(b->w[first + j], q ? q + j * ldq : NULL,
                                        bb ? bb + j * ldb : NULL, h ? h + j * ldh : NULL);
        if (rc != ALTDIFF_OK) return rc; /* (the real one changes nothing then) */
    }
    return ALTDIFF_OK;
}

int altdiff_batch_update_matrices(altdiff_batch *b, const double *Px, const double *Ax,
                                  const double *Gx)
{
    if (!b) return ALTDIFF_ERR_INVALID;
    for (altdiff_int k = 0; k < b->B; k++) {
        int rc = altdiff_update_matrices(b->w[k], Px, Ax, Gx);
        if (rc != ALTDIFF_OK) return rc;
    }
    return ALTDIFF_OK;
}

int altdiff_batch_cold_start(altdiff_batch *b)
{
    if (!b) return ALTDIFF_ERR_INVALID;
    for (altdiff_int k = 0; k < b->B; k++) altdiff_warm_start(b->w[k], NULL, NULL, NULL, NULL);
    return ALTDIFF_OK;
}

int altdiff_batch_solve(altdiff_batch *b)
{
    if (!b) return ALTDIFF_ERR_INVALID;
    for (altdiff_int k = 0; k < b->B; k++) {
        int rc = altdiff_solve(b->w[k]);
        if (rc != ALTDIFF_OK) return rc;
    }
    return ALTDIFF_OK;
}

const altdiff_info *altdiff_batch_get_info(const altdiff_batch *b, altdiff_int k)
{
    if (!b || k < 0 || k >= b->B) return NULL;
    return altdiff_get_info(b->w[k]);
}

int altdiff_batch_get_solution(const altdiff_batch *b, altdiff_int first, altdiff_int count,
                               double *x, double *s, double *lam, double *nu)
{
    if (!b || first < 0 || count < 0 || first + count > b->B) return ALTDIFF_ERR_INVALID;
    for (altdiff_int j = 0; j < count; j++) {
        int rc = altdiff_get_solution(b->w[first + j], x ? x + j * b->n : NULL,
                                      s ? s + j * b->p : NULL, lam ? lam + j * b->m : NULL,
                                      nu ? nu + j * b->p : NULL);
        if (rc != ALTDIFF_OK) return rc;
    }
    return ALTDIFF_OK;
}

static int solved(const altdiff_batch *b, altdiff_int k)
{
    return altdiff_get_info(b->w[k])->status == ALTDIFF_SOLVED;
}

int altdiff_batch_vjp(altdiff_batch *b, const altdiff_deriv_settings *ds, const double *wx,
                      double *dq, double *db, double *dh, altdiff_deriv_info *info)
{
    if (!b || !ds || !wx) return ALTDIFF_ERR_INVALID;
    for (altdiff_int k = 0; k < b->B; k++) {
        double *q = dq ? dq + k * b->n : NULL, *bb = db ? db + k * b->m : NULL,
               *h = dh ? dh + k * b->p : NULL;
        altdiff_deriv_info di;
        memset(&di, 0, sizeof di);
        if (!solved(b, k)) {
            if (q) memset(q, 0, (size_t)b->n * sizeof *q);
            if (bb) memset(bb, 0, (size_t)b->m * sizeof *bb);
            if (h) memset(h, 0, (size_t)b->p * sizeof *h);
            di.status = ALTDIFF_NOT_AVAILABLE;
        } else {
            altdiff_deriv_settings d = *ds;
            if (d.mode == ALTDIFF_MODE_AUTO) d.mode = altdiff_fastest_mode(b->w[k], 0);
            int rc = altdiff_vjp(b->w[k], &d, wx + k * b->n, q, bb, h, &di);
            if (rc != ALTDIFF_OK) return rc;
        }
        if (info) info[k] = di;
    }
    return ALTDIFF_OK;
}

int altdiff_batch_matrix_grads(const altdiff_batch *b, const double *dq, const double *db,
                               const double *dh, double *dPx, double *dAx, double *dGx, int sum)
{
    if (!b || !dq) return ALTDIFF_ERR_INVALID;
    altdiff_int tot = b->nnzP + b->nnzA + b->nnzG;
    double *t = malloc((size_t)(tot > 0 ? tot : 1) * sizeof *t);
    if (!t) return ALTDIFF_ERR_NOMEM;
    double *tP = t, *tA = t + b->nnzP, *tG = tA + b->nnzA;
    if (sum) {
        if (dPx) memset(dPx, 0, (size_t)b->nnzP * sizeof *dPx);
        if (dAx) memset(dAx, 0, (size_t)b->nnzA * sizeof *dAx);
        if (dGx) memset(dGx, 0, (size_t)b->nnzG * sizeof *dGx);
    }
    for (altdiff_int k = 0; k < b->B; k++) {
        double *oP = dPx ? (sum ? tP : dPx + k * b->nnzP) : NULL;
        double *oA = dAx ? (sum ? tA : dAx + k * b->nnzA) : NULL;
        double *oG = dGx ? (sum ? tG : dGx + k * b->nnzG) : NULL;
        if (!solved(b, k)) {
            if (!sum) {
                if (oP) memset(oP, 0, (size_t)b->nnzP * sizeof *oP);
                if (oA) memset(oA, 0, (size_t)b->nnzA * sizeof *oA);
                if (oG) memset(oG, 0, (size_t)b->nnzG * sizeof *oG);
            }
            continue;
        }
        int rc = altdiff_matrix_grads(b->w[k], dq + k * b->n, db ? db + k * b->m : NULL,
                                      dh ? dh + k * b->p : NULL, oP, oA, oG);
        if (rc != ALTDIFF_OK) {
            free(t);
            return rc;
        }
        if (sum) {
            for (altdiff_int i = 0; oP && i < b->nnzP; i++) dPx[i] += tP[i];
            for (altdiff_int i = 0; oA && i < b->nnzA; i++) dAx[i] += tA[i];
            for (altdiff_int i = 0; oG && i < b->nnzG; i++) dGx[i] += tG[i];
        }
    }
    free(t);
    return ALTDIFF_OK;
}

int altdiff_batch_jvp(altdiff_batch *b, const altdiff_deriv_settings *ds,
                      const altdiff_direction *dir, double *dx, altdiff_deriv_info *info)
{
    if (!b || !ds || !dir || !dx) return ALTDIFF_ERR_INVALID;
    for (altdiff_int k = 0; k < b->B; k++) {
        altdiff_deriv_info di;
        memset(&di, 0, sizeof di);
        if (!solved(b, k)) {
            memset(dx + k * b->n, 0, (size_t)b->n * sizeof *dx);
            di.status = ALTDIFF_NOT_AVAILABLE;
        } else {
            altdiff_direction d = *dir;
            d.q = dir->q ? dir->q + k * b->n : NULL;
            d.b = dir->b ? dir->b + k * b->m : NULL;
            d.h = dir->h ? dir->h + k * b->p : NULL;
            altdiff_deriv_settings s = *ds;
            if (s.mode == ALTDIFF_MODE_AUTO) s.mode = altdiff_fastest_mode(b->w[k], 1);
            int rc = altdiff_jvp(b->w[k], &s, &d, dx + k * b->n, &di);
            if (rc != ALTDIFF_OK) return rc;
        }
        if (info) info[k] = di;
    }
    return ALTDIFF_OK;
}

void altdiff_batch_free(altdiff_batch *b)
{
    if (!b) return;
    for (altdiff_int k = 0; k < b->B; k++) altdiff_free(b->w[k]);
    free(b->w);
    free(b);
}
#endif
