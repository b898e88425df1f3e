/* vec.c: dense vector kernels */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <math.h>

#include "sp.h"

/* |x|_inf */
double ad_nrm_inf(const double *x, altdiff_int n)
{
    double r = 0;
    for (altdiff_int k = 0; k < n; k++) r = ad_max(r, fabs(x[k]));
    return r;
}

/* max_k |x_k d_k| */
double ad_nrm_inf_scaled(const double *x, const double *d, altdiff_int n)
{
    double r = 0;
    for (altdiff_int k = 0; k < n; k++) r = ad_max(r, fabs(x[k] * d[k]));
    return r;
}

/* x'y */
double ad_dot(const double *x, const double *y, altdiff_int n)
{
    double r = 0;
    for (altdiff_int k = 0; k < n; k++) r += x[k] * y[k];
    return r;
}

/* y = x */
void ad_copy(double *y, const double *x, altdiff_int n)
{
    for (altdiff_int k = 0; k < n; k++) y[k] = x[k];
}

/* y = a */
void ad_fill(double *y, double a, altdiff_int n)
{
    for (altdiff_int k = 0; k < n; k++) y[k] = a;
}

/* y += a x */
void ad_axpy(double *y, double a, const double *x, altdiff_int n)
{
    for (altdiff_int k = 0; k < n; k++) y[k] += a * x[k];
}

/* 1 if no entry is NaN or Inf */
int ad_all_finite(const double *x, altdiff_int n)
{
    for (altdiff_int k = 0; k < n; k++)
        if (!isfinite(x[k])) return 0;
    return 1;
}

double ad_time(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* msg (len) = the formatted text (nothing when msg is NULL or len 0) */
void ad_msg(char *msg, size_t len, const char *fmt, ...)
{
    if (!msg || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

