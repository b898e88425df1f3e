/*
 * alloc.c: the one place where altdiff allocates. Built with
 * ALTDIFF_FAULT_INJECTION (tests only), the k-th allocation can be made to
 * fail, so that every error path is exercised (cf. CSparse's cstcov tests).
 */
#define _DEFAULT_SOURCE /* posix_memalign, madvise (MADV_HUGEPAGE on Linux) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sp.h"

/* Blocks of at least AD_HUGE_MIN bytes (dense data, factors) are aligned to
 * AD_HUGE_ALIGN and asked for transparent huge pages: a fresh 4 KiB page
 * costs a fault (on the project's virtual machine some 11-15 us, more than
 * the arithmetic on it), a 2 MiB page one fault for 512 of them. A hint
 * only. From 1 MiB on: a block rounded up to whole huge pages holds at most
 * twice its size, and is mapped some 20x faster (measured: 1.6 MB copied
 * into fresh 4 KiB pages 4.4 ms, into a huge page 0.2 ms). */
#define AD_HUGE_MIN ((size_t)1 << 20)
#define AD_HUGE_ALIGN ((size_t)2 << 20)

void ad_hint_huge(void *ptr, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    if (!ptr || bytes < AD_HUGE_MIN) return;
    uintptr_t mask = (uintptr_t)AD_HUGE_ALIGN - 1;
    uintptr_t a = ((uintptr_t)ptr + mask) & ~mask, e = ((uintptr_t)ptr + bytes) & ~mask;
    if (e > a) (void)madvise((void *)a, (size_t)(e - a), MADV_HUGEPAGE);
#else
    (void)ptr;
    (void)bytes;
#endif
}

/* A large block, aligned and hinted, its size rounded up to whole huge
 * pages (a partial one at the end would take 4 KiB pages) */
static void *big_alloc(size_t bytes)
{
    void *p = NULL;
    size_t whole = (bytes + AD_HUGE_ALIGN - 1) & ~(AD_HUGE_ALIGN - 1);
    if (whole < bytes) return NULL; /* overflow */
    if (posix_memalign(&p, AD_HUGE_ALIGN, whole) != 0) return NULL;
    ad_hint_huge(p, whole);
    return p;
}

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
#define AD_BIG(bytes) (fault_now() ? NULL : big_alloc(bytes))
#define AD_MALLOC ad_fault_malloc
#define AD_CALLOC ad_fault_calloc
#define AD_REALLOC ad_fault_realloc
#else
#define AD_BIG(bytes) big_alloc(bytes)
#define AD_MALLOC malloc
#define AD_CALLOC calloc
#define AD_REALLOC realloc
#endif

void *ad_malloc(size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (size == 0) size = 1;
    if (count > SIZE_MAX / size) return NULL; /* count * size overflows */
    if (count * size >= AD_HUGE_MIN) return AD_BIG(count * size);
    return AD_MALLOC(count * size);
}

void *ad_calloc(size_t count, size_t size)
{
    if (count == 0) count = 1;
    if (size == 0) size = 1;
    if (count > SIZE_MAX / size) return NULL;
    if (count * size < AD_HUGE_MIN) return AD_CALLOC(count, size);
    void *p = AD_BIG(count * size);
    if (p) memset(p, 0, count * size);
    return p;
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

void *ad_malloc_mapped(size_t count, size_t size)
{
    void *p = ad_malloc(count, size);
    if (p) ad_populate(p, count * size); /* count * size checked by ad_malloc */
    return p;
}

void *ad_free(void *ptr)
{
    free(ptr);
    return NULL;
}
