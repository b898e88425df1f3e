/* fuzz_problem: libFuzzer harness for the problem-directory reader
 * (src/problem_io.c). The input is split at lines "@@" into up to seven
 * files P, q, A, b, G, h, y (an empty part: no such file); its first byte
 * chooses the QP or the entropy reader. Built by tools/fuzz.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp.h"

static const char *names[7] = {"P.mtx", "q.mtx", "A.mtx", "b.mtx", "G.mtx", "h.mtx", "y.mtx"};
static char dir[64];

/* Part k of the input as dir/names[k], or no file for an empty part */
static void put(int k, const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
    unlink(path);
    if (size == 0) return;
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (fwrite(data, 1, size, f) != size) { /* a short file: fine for a fuzzer */ }
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fuzz_problem_%d", (int)getpid());
        mkdir(dir, 0700);
    }
    if (size == 0) return 0;
    int entropy = data[0] & 1;
    const uint8_t *s = data + 1, *end = data + size;
    for (int k = 0; k < 7; k++) {
        const uint8_t *e = s;
        while (e < end && !(end - e >= 3 && e[0] == '@' && e[1] == '@' && e[2] == '\n')) e++;
        put(k, s, (size_t)(e - s));
        s = e < end ? e + 3 : end;
    }
    char err[512];
    altdiff_owned_problem *o = NULL;
    double *y = NULL;
    int st = entropy ? altdiff_read_entropy_problem(dir, &o, &y, err, sizeof(err))
                     : altdiff_read_problem(dir, &o, err, sizeof(err));
    if (st == ALTDIFF_OK) {
        const altdiff_problem *p = &o->prob; /* the views must be consistent */
        if (p->P.ncol != p->n || p->A.ncol != p->n || p->G.ncol != p->n || !p->P.p || !p->A.p ||
            !p->G.p || p->P.p[p->n] < 0)
            abort();
        for (altdiff_int j = 0; j < p->n; j++)
            for (altdiff_int t = p->P.p[j]; t < p->P.p[j + 1]; t++)
                if (p->P.i[t] > j) abort(); /* the upper triangle */
    } else if (o || y || strchr(err, '\n') || strchr(err, '\r')) {
        abort();
    }
    altdiff_free_problem(o);
    altdiff_free_array(y);
    return 0;
}
