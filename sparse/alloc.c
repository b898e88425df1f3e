/*
 * alloc.c: the one place where altdiff allocates. Built with
 * ALTDIFF_FAULT_INJECTION (tests only), the k-th allocation can be made to
 * fail, so that every error path is exercised (cf. CSparse's cstcov tests).
 */
#define _DEFAULT_SOURCE /* madvise */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sp.h"

#ifdef ALTDIFF_FAULT_INJECTION
static _Thread_local long fault_at = -1; /* fail when count reaches this   */
static _Thread_local long fault_seen = 0; /* allocations since ad_fault_arm */
static _Thread_local int fault_done = 0;

void ad_fault_arm(long k)
{
    fault_at = k;
    fault_seen = 0;
    fault_done = 0;
}

int ad_fault_fired(void) { return fault_done; }

/* 1 if this allocation is the one to fail */
static int fault_now(void)
{
    int fail = (fault_at >= 0 && fault_seen == fault_at);
    fault_seen++;
    if (fail) fault_done = 1;
    return fail;
}

void *ad_fault_malloc(size_t size) { return fault_now() ? NULL : malloc(size ? size : 1); }

void *ad_fault_calloc(size_t count, size_t size)
{
    return fault_now() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *ad_fault_realloc(void *ptr, size_t size)
{
    return fault_now() ? NULL : realloc(ptr, size ? size : 1);
}

void ad_fault_free(void *ptr) { free(ptr); }
#define AD_MALLOC ad_fault_malloc
#define AD_CALLOC ad_fault_calloc
#define AD_REALLOC ad_fault_realloc
#else
#define AD_MALLOC malloc
#define AD_CALLOC calloc
#define AD_REALLOC realloc
#endif

void *ad_malloc(size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (size == 0) size = 1;
    if (count > SIZE_MAX / size) return NULL; /* count * size overflows */
    return AD_MALLOC(count * size);
}

void *ad_calloc(size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (size == 0) size = 1;
    if (count > SIZE_MAX / size) return NULL;
    return AD_CALLOC(count, size);
}

void *ad_realloc(void *ptr, size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (size == 0) size = 1;
    if (count > SIZE_MAX / size) return NULL;
    return AD_REALLOC(ptr, count * size);
}

void ad_populate(void *ptr, size_t bytes)
{
#ifdef MADV_POPULATE_WRITE
    long page = sysconf(_SC_PAGESIZE);
    if (!ptr || page <= 0) return;
    uintptr_t lo = (uintptr_t)ptr, hi = lo + bytes, pg = (uintptr_t)page;
    lo = (lo + pg - 1) / pg * pg; /* the whole pages inside [ptr, ptr + bytes) */
    hi = hi / pg * pg;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE); /* advice only */
#else
    (void)ptr;
    (void)bytes;
#endif
}

void *ad_free(void *ptr)
{
    free(ptr);
    return NULL;
}
