/*
 * output.c: the all-or-nothing writer of the command-line tool's outputs
 * (cli_write_outputs, cli.h): every file of a run appears together or none
 * does, and a failed run leaves what was in OUTDIR before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) return -1;
    memcpy(buf, path, len + 1);
    for (char *c = buf + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *c = '/';
    }
    return (mkdir(buf, 0777) == 0 || errno == EEXIST) ? 0 : -1;
}


/* Write text to path; ALTDIFF_OK or ALTDIFF_ERR_IO with the message in err */
static int write_text(const char *path, const char *text, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) snprintf(err, errlen, "%.400s: cannot write: %.80s", path, strerror(errno));
    return ok ? ALTDIFF_OK : ALTDIFF_ERR_IO;
}

/* Write one output to PATH; ALTDIFF_OK or an error with the message in err */
static int write_one(const char *path, const out_file *f, char *err, size_t errlen)
{
    if (f->text) return write_text(path, f->text, err, errlen);
    if (f->sp) return altdiff_write_sparse(path, f->sp, f->symmetric, err, errlen);
    return altdiff_write_dense(path, f->x, f->nrow, f->ncol, err, errlen);
}

/* The three names of output k: OUTDIR/NAME, OUTDIR/.NAME.part (written
 * first), OUTDIR/.NAME.old (the replaced file, until all are in place) */
typedef struct {
    char final[4200], part[4200], old[4200];
    int had_old;  /* final existed and was kept as old */
    int renamed;  /* part is now final                  */
} out_names;

static void out_name(out_names *o, const char *dir, const char *name)
{
    snprintf(o->final, sizeof(o->final), "%s/%s", dir, name);
    snprintf(o->part, sizeof(o->part), "%s/.%s.part", dir, name);
    snprintf(o->old, sizeof(o->old), "%s/.%s.old", dir, name);
}

/* Every target must be absent or a regular file (rename cannot replace a
 * directory or another kind of file): checked before anything is written */
static int check_targets(const out_names *nm, int count)
{
    struct stat sb;
    for (int k = 0; k < count; k++) {
        if (lstat(nm[k].final, &sb) != 0) {
            if (errno == ENOENT) continue;
            fprintf(stderr, "altdiff: %s: cannot check the output: %s\n", nm[k].final,
                    strerror(errno));
            return 0;
        }
        if (!S_ISREG(sb.st_mode)) {
            fprintf(stderr, "altdiff: %s: exists and is not a regular file (%s); nothing was "
                            "written\n", nm[k].final, S_ISDIR(sb.st_mode) ? "a directory"
                                                                          : "not replaceable");
            return 0;
        }
    }
    return 1;
}

/* Test hook: ALTDIFF_TEST_FAIL_RENAME=NAME makes the rename of NAME fail,
 * so that the tests can watch the rollback of the files renamed before it */
static int rename_output(const out_names *o)
{
    const char *fail = getenv("ALTDIFF_TEST_FAIL_RENAME");
    size_t lf = fail ? strlen(fail) : 0, ln = strlen(o->final);
    if (lf > 0 && lf < ln && o->final[ln - lf - 1] == '/' && !strcmp(o->final + ln - lf, fail)) {
        errno = EIO;
        return -1;
    }
    return rename(o->part, o->final);
}

/* Put part in place of final, keeping a replaced final as old (a hard
 * link, so final never disappears; a rename where links do not work) */
static int commit_one(out_names *o)
{
    struct stat sb;
    remove(o->old); /* a stale one from a killed run */
    o->had_old = lstat(o->final, &sb) == 0;
    if (o->had_old && link(o->final, o->old) != 0 && rename(o->final, o->old) != 0) {
        o->had_old = 0;
        return -1;
    }
    if (rename_output(o) != 0) {
        int e = errno;
        if (o->had_old && lstat(o->final, &sb) != 0) rename(o->old, o->final);
        else if (o->had_old) remove(o->old);
        o->had_old = 0;
        errno = e;
        return -1;
    }
    o->renamed = 1;
    return 0;
}

/* Undo: every renamed output gets its old file back (or goes), no part
 * file stays; with ok, only the old files go */
static void finish_outputs(out_names *nm, int count, int ok)
{
    for (int k = 0; k < count; k++) {
        if (!ok && nm[k].renamed) {
            if (nm[k].had_old) rename(nm[k].old, nm[k].final); /* the old file back */
            else remove(nm[k].final);
        }
        if (nm[k].had_old && (ok || !nm[k].renamed)) remove(nm[k].old);
        if (!nm[k].renamed) remove(nm[k].part);
    }
}

/* All outputs or none: check every target, write every output to
 * OUTDIR/.NAME.part, then rename them into place; if a rename fails, the
 * files already renamed are rolled back to what they replaced. */
int cli_write_outputs(const char *dir, const out_file *v, int count)
{
    char err[512];
    out_names nm[CLI_MAX_OUTPUTS];
    int k, ok = make_dirs(dir) == 0, status = EXIT_OUTPUT;
    if (!ok) fprintf(stderr, "altdiff: cannot create output directory %s: %s\n", dir,
                     strerror(errno));
    if (count > CLI_MAX_OUTPUTS) {
        fprintf(stderr, "altdiff: %d outputs, at most %d (nothing was written)\n", count,
                CLI_MAX_OUTPUTS);
        return EXIT_OUTPUT;
    }
    memset(nm, 0, sizeof(nm));
    for (k = 0; k < count; k++) out_name(&nm[k], dir, v[k].name);
    if (ok) ok = check_targets(nm, count);
    for (k = 0; ok && k < count; k++) {
        int rc = write_one(nm[k].part, &v[k], err, sizeof(err));
        ok = rc == ALTDIFF_OK;
        if (!ok) fprintf(stderr, "altdiff: %s\n", err);
        if (!ok) status = exit_for(rc, EXIT_OUTPUT);
    }
    for (k = 0; ok && k < count; k++) {
        ok = commit_one(&nm[k]) == 0;
        if (!ok) fprintf(stderr, "altdiff: cannot rename %s to %s: %s; the outputs renamed "
                                 "before it were rolled back, nothing was written\n",
                         nm[k].part, nm[k].final, strerror(errno));
    }
    finish_outputs(nm, count, ok);
    return ok ? EXIT_SOLVED : status;
}

/* ---- small helpers of the solve commands ------------------------------------- */

static const char *mode_names[] = {"adjoint", "gmres", "unroll", "altdiff", "kkt"};

const char *cli_mode_name(int mode) { return mode >= 0 && mode < 5 ? mode_names[mode] : "auto"; }

double cli_peak_rss_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}
