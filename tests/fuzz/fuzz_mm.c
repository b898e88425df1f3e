/* fuzz_mm: libFuzzer harness for the Matrix Market reader (sparse/mm.c).
 * The input is written to a file and read by every reader: header only,
 * sparse, dense with a bounded shape and with none (bounded by the file),
 * then written back and read again
 * (an accepted file must round-trip). Built by tools/fuzz.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sp.h"

static char path[64];

/* The input as a file (one per process, rewritten for every input) */
static int put(const uint8_t *data, size_t size)
{
    if (!path[0]) snprintf(path, sizeof(path), "/tmp/fuzz_mm_%d.mtx", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "", out[80]; /* err: empty unless a call fails */
    ad_mm_header h;
    if (!put(data, size)) return 0;
    int st = ad_mm_read_header(path, &h, err, sizeof(err));
    cs_dl *A = NULL;
    int sym = 0;
    if (ad_mm_read_sparse(path, &A, &sym, err, sizeof(err)) == ALTDIFF_OK) {
        if (st != ALTDIFF_OK) abort(); /* a readable file has a readable header */
        snprintf(out, sizeof(out), "%s.out", path);
        int wst = ad_mm_write_sparse(out, A, sym, err, sizeof(err));
        cs_dl *B = NULL;
        if (wst == ALTDIFF_OK && ad_mm_read_sparse(out, &B, NULL, err, sizeof(err)) != ALTDIFF_OK)
            abort(); /* what we write, we read */
        if (B && (B->m != A->m || B->n != A->n || B->p[B->n] != A->p[A->n])) abort();
        ad_spfree(B);
        unlink(out);
        ad_spfree(A);
    }
    /* dense only for shapes of at most 2^20 values (a coordinate file may
     * announce any shape; its dense output is the caller's to bound) */
    if (st == ALTDIFF_OK && h.nrow <= 1024 && h.ncol <= 1024) {
        double *x = NULL;
        altdiff_int m, n;
        if (ad_mm_read_dense_shape(path, h.nrow, h.ncol, &x, &m, &n, err, sizeof(err)) ==
            ALTDIFF_OK)
            ad_free(x);
    }
    /* shapeless dense: bounded by the file's bytes (2^20 values, or one per
     * byte, for a coordinate file; an array file holds its values) */
    double *y = NULL;
    altdiff_int ym, yn;
    if (ad_mm_read_dense(path, &y, &ym, &yn, err, sizeof(err)) == ALTDIFF_OK) ad_free(y);
    if (memchr(err, '\n', strnlen(err, sizeof(err))) || memchr(err, '\r', strnlen(err, sizeof(err))))
        abort(); /* messages are one line */
    return 0;
}
