/*
 * gen: deterministic generators of QP problem directories ("altdiff gen").
 *
 *     altdiff gen FAMILY OUTDIR [key=value ...]
 *
 * writes OUTDIR/{P,q,A,b,G,h}.mtx (A/b omitted when m = 0, G/h when p = 0)
 * for one of the families dense, sparsemax, manycon, grid, randsparse
 * (ad_gen_usage lists them with their keys). OUTDIR is created as by
 * mkdir -p. The same family, keys and seed always give byte-identical files.
 */
#ifndef AD_GEN_H
#define AD_GEN_H

#include <stdio.h>

/* argv[0] = "gen", argv[1] = FAMILY, argv[2] = OUTDIR, then key=value
 * options (argc entries). Returns the process exit status: 0 done, 1 an
 * I/O or memory failure, 2 a usage error. Failures print one line on
 * stderr naming the bad argument or file. */
int ad_gen_main(int argc, char **argv);

/* Print the usage text of "altdiff gen" (families, keys, defaults) to f. */
void ad_gen_usage(FILE *f);

#endif /* AD_GEN_H */
