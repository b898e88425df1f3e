/*
 * altdiff._core: the CPython/NumPy binding of the batch API of altdiff.h.
 *
 * One type, Batch, owns an altdiff_batch (B problems sharing P, A, G). Every
 * array crosses as a C-contiguous float64 (values) or int64 (CSC indices)
 * NumPy array; nothing of the library's structs is mirrored: the settings are
 * read and written through a table of offsetof() into altdiff_settings and
 * altdiff_deriv_settings whose field types are checked by _Generic.
 *
 * The GIL is released around everything that runs the library's numerics
 * (setup, matrix updates, solve, VJP, JVP, matrix gradients). A Batch is not
 * reentrant: a second thread calling into a Batch that is busy gets a
 * RuntimeError (the library's objects are not thread-safe; separate Batch
 * objects may be used from separate threads).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <stddef.h>
#include <string.h>
#include <time.h>

#include "altdiff.h"

/* ---- errors -------------------------------------------------------------- */

static PyObject *raise_code(int code, const char *func, const char *what)
{
    PyObject *type = code == ALTDIFF_ERR_INVALID ? PyExc_ValueError
                     : code == ALTDIFF_ERR_NOMEM ? PyExc_MemoryError
                                                 : PyExc_RuntimeError;
    const char *msg = altdiff_error_string(code);
    if (what && *what)
        PyErr_Format(type, "%s: %s (code %d; %s)", func, msg ? msg : "error", code, what);
    else
        PyErr_Format(type, "%s: %s (code %d)", func, msg ? msg : "error", code);
    return NULL;
}

/* ---- settings through offsetof ------------------------------------------ */

typedef struct {
    const char *name;
    char type; /* 'd' double, 'l' altdiff_int, 'i' int */
    size_t off;
} field;

#define FIELD_TYPE(S, f) \
    _Generic(((S *)0)->f, double: 'd', altdiff_int: 'l', int: 'i')
#define FIELD(S, f) {#f, FIELD_TYPE(S, f), offsetof(S, f)}

static const field settings_fields[] = {
    FIELD(altdiff_settings, rho),          FIELD(altdiff_settings, sigma),
    FIELD(altdiff_settings, alpha),        FIELD(altdiff_settings, eps_abs),
    FIELD(altdiff_settings, eps_rel),      FIELD(altdiff_settings, eps_pinf),
    FIELD(altdiff_settings, eps_dinf),     FIELD(altdiff_settings, max_iter),
    FIELD(altdiff_settings, time_limit),   FIELD(altdiff_settings, check_every),
    FIELD(altdiff_settings, scaling),      FIELD(altdiff_settings, adaptive_rho),
    FIELD(altdiff_settings, adaptive_rho_tol), FIELD(altdiff_settings, infinity),
    FIELD(altdiff_settings, verbose),      FIELD(altdiff_settings, record),
    FIELD(altdiff_settings, verbose_every), FIELD(altdiff_settings, anderson),
    FIELD(altdiff_settings, polish),       {NULL, 0, 0}};

static const field deriv_fields[] = {
    FIELD(altdiff_deriv_settings, mode),     FIELD(altdiff_deriv_settings, eps),
    FIELD(altdiff_deriv_settings, max_iter), FIELD(altdiff_deriv_settings, restart),
    FIELD(altdiff_deriv_settings, block),    {NULL, 0, 0}};

static PyObject *fields_to_dict(const field *fs, const void *s)
{
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (const field *f = fs; f->name; f++) {
        const char *p = (const char *)s + f->off;
        PyObject *v;
        if (f->type == 'd') {
            double x;
            memcpy(&x, p, sizeof x);
            v = PyFloat_FromDouble(x);
        } else if (f->type == 'l') {
            altdiff_int x;
            memcpy(&x, p, sizeof x);
            v = PyLong_FromLongLong((long long)x);
        } else {
            int x;
            memcpy(&x, p, sizeof x);
            v = PyLong_FromLong(x);
        }
        if (!v || PyDict_SetItemString(d, f->name, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

/* Apply a dict {name: value} onto s. Unknown names: TypeError naming them. */
static int dict_to_fields(const field *fs, void *s, PyObject *d, const char *what)
{
    if (!d || d == Py_None) return 0;
    if (!PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict", what);
        return -1;
    }
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &key, &val)) {
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (!name) {
            PyErr_Format(PyExc_TypeError, "%s: keys must be strings", what);
            return -1;
        }
        const field *f = fs;
        while (f->name && strcmp(f->name, name) != 0) f++;
        if (!f->name) {
            PyErr_Format(PyExc_TypeError, "unknown %s '%s'", what, name);
            return -1;
        }
        char *p = (char *)s + f->off;
        if (f->type == 'd') {
            double x = PyFloat_AsDouble(val);
            if (x == -1.0 && PyErr_Occurred()) goto bad;
            memcpy(p, &x, sizeof x);
        } else {
            if (PyFloat_Check(val)) {
                double x = PyFloat_AsDouble(val);
                if (x != (double)(long long)x) {
                    PyErr_Format(PyExc_TypeError, "%s '%s' must be an integer", what, name);
                    return -1;
                }
            }
            PyObject *iv = PyNumber_Long(val);
            if (!iv) goto bad;
            long long x = PyLong_AsLongLong(iv);
            Py_DECREF(iv);
            if (x == -1 && PyErr_Occurred()) goto bad;
            if (f->type == 'l') {
                altdiff_int y = (altdiff_int)x;
                memcpy(p, &y, sizeof y);
            } else {
                if (x > 2147483647LL || x < -2147483647LL) {
                    PyErr_Format(PyExc_OverflowError, "%s '%s' out of range", what, name);
                    return -1;
                }
                int y = (int)x;
                memcpy(p, &y, sizeof y);
            }
        }
        continue;
    bad:
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s '%s' must be a number", what, name);
        return -1;
    }
    return 0;
}

/* ---- arrays -------------------------------------------------------------- */

/* obj -> C-contiguous array of type t with exactly `size` elements (any
 * shape), or NULL with an exception naming the argument. None -> *out NULL
 * when allow_none. */
static int as_array(PyObject *obj, int t, npy_intp size, const char *name, int allow_none,
                    PyArrayObject **out)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None) {
        if (allow_none) return 0;
        PyErr_Format(PyExc_ValueError, "%s is required", name);
        return -1;
    }
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(obj, t, 0, 0,
                                                          NPY_ARRAY_IN_ARRAY);
    if (!a) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyErr_Format(PyExc_TypeError, "%s: cannot convert to a %s array", name,
                     t == NPY_FLOAT64 ? "float64" : "int64");
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(tb);
        return -1;
    }
    if (size >= 0 && PyArray_SIZE(a) != size) {
        PyErr_Format(PyExc_ValueError, "%s has %zd values, expected %zd", name,
                     (Py_ssize_t)PyArray_SIZE(a), (Py_ssize_t)size);
        Py_DECREF(a);
        return -1;
    }
    *out = a;
    return 0;
}

static PyArrayObject *new_array(int nd, npy_intp d0, npy_intp d1, int t)
{
    npy_intp dims[2] = {d0, d1};
    return (PyArrayObject *)PyArray_ZEROS(nd, dims, t, 0);
}

#define DPTR(a) ((a) ? (double *)PyArray_DATA(a) : NULL)

/* ---- Batch --------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    altdiff_batch *b;
    altdiff_int B, n, m, p, nnzP, nnzA, nnzG;
    int busy;
    double c_seconds; /* wall time spent inside the library's numerics */
} BatchObject;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* a library call with the GIL released, its wall time added to c_seconds */
#define TIMED_CALL(self, stmt)                     \
    do {                                           \
        double t0_;                                \
        Py_BEGIN_ALLOW_THREADS                     \
        t0_ = now();                               \
        stmt;                                      \
        (self)->c_seconds += now() - t0_;          \
        Py_END_ALLOW_THREADS                       \
    } while (0)

/* 0 if the batch is open, else -1 with RuntimeError */
static int check_open(const BatchObject *self)
{
    if (self->b) return 0;
    PyErr_SetString(PyExc_RuntimeError, "altdiff Batch is closed");
    return -1;
}

/* The derivative settings of a call: the defaults, mode AUTO, then the
 * caller's dict (None: none); -1 with an exception on a bad entry */
static int deriv_settings(PyObject *dso, altdiff_deriv_settings *ds)
{
    *ds = altdiff_deriv_settings_default();
    ds->mode = ALTDIFF_MODE_AUTO;
    return dict_to_fields(deriv_fields, ds, dso, "derivative setting");
}

static int acquire(BatchObject *self)
{
    if (check_open(self) < 0) return -1;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "altdiff Batch is in use by another thread (use one Batch per thread)");
        return -1;
    }
    self->busy = 1;
    return 0;
}

static void release(BatchObject *self) { self->busy = 0; }

static void Batch_dealloc(BatchObject *self)
{
    altdiff_batch_free(self->b);
    self->b = NULL;
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* One CSC matrix from (indptr, indices, data) with nrow x ncol. */
static int get_csc(PyObject *t, altdiff_int nrow, altdiff_int ncol, const char *name,
                   altdiff_csc *M, PyArrayObject **keep)
{
    M->nrow = nrow;
    M->ncol = ncol;
    M->p = M->i = NULL;
    M->x = NULL;
    keep[0] = keep[1] = keep[2] = NULL;
    if (t == NULL || t == Py_None) {
        if (nrow == 0 || ncol == 0) return 0;
        PyErr_Format(PyExc_ValueError, "%s is required", name);
        return -1;
    }
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple (indptr, indices, data)", name);
        return -1;
    }
    char nm[64];
    snprintf(nm, sizeof nm, "%s.indptr", name);
    if (as_array(PyTuple_GET_ITEM(t, 0), NPY_INT64, (npy_intp)ncol + 1, nm, 0, &keep[0]) < 0)
        return -1;
    const int64_t *pp = (const int64_t *)PyArray_DATA(keep[0]);
    npy_intp nnz = (npy_intp)pp[ncol];
    if (pp[0] != 0 || nnz < 0) {
        PyErr_Format(PyExc_ValueError, "%s.indptr must start at 0 and not decrease", name);
        return -1;
    }
    snprintf(nm, sizeof nm, "%s.indices", name);
    if (as_array(PyTuple_GET_ITEM(t, 1), NPY_INT64, nnz, nm, 0, &keep[1]) < 0) return -1;
    snprintf(nm, sizeof nm, "%s.data", name);
    if (as_array(PyTuple_GET_ITEM(t, 2), NPY_FLOAT64, nnz, nm, 0, &keep[2]) < 0) return -1;
    M->p = (const altdiff_int *)PyArray_DATA(keep[0]);
    M->i = (const altdiff_int *)PyArray_DATA(keep[1]);
    M->x = (const double *)PyArray_DATA(keep[2]);
    return 0;
}

static int Batch_init(BatchObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"B", "n", "m", "p", "P", "A", "G", "q", "b", "h", "settings", NULL};
    long long B, n, m, p;
    PyObject *Po = NULL, *Ao = NULL, *Go = NULL, *qo = NULL, *bo = NULL, *ho = NULL,
             *so = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "LLLLOOOO|OOO", kwlist, &B, &n, &m, &p, &Po,
                                     &Ao, &Go, &qo, &bo, &ho, &so))
        return -1;
    if (self->b) {
        PyErr_SetString(PyExc_RuntimeError, "Batch already set up");
        return -1;
    }
    if (B < 1 || n < 1 || m < 0 || p < 0) {
        PyErr_SetString(PyExc_ValueError, "Batch: need B >= 1, n >= 1, m >= 0, p >= 0");
        return -1;
    }
    altdiff_settings set = altdiff_settings_default();
    if (dict_to_fields(settings_fields, &set, so, "setting") < 0) return -1;

    int ret = -1;
    PyArrayObject *keep[9] = {0}, *qa = NULL, *ba = NULL, *ha = NULL;
    altdiff_problem prob;
    memset(&prob, 0, sizeof prob);
    prob.n = n;
    prob.m = m;
    prob.p = p;
    if (get_csc(Po, n, n, "P", &prob.P, keep) < 0) goto done;
    if (get_csc(Ao, m, n, "A", &prob.A, keep + 3) < 0) goto done;
    if (get_csc(Go, p, n, "G", &prob.G, keep + 6) < 0) goto done;
    if (as_array(qo, NPY_FLOAT64, n, "q", 0, &qa) < 0) goto done;
    if (as_array(bo, NPY_FLOAT64, m, "b", m == 0, &ba) < 0) goto done;
    if (as_array(ho, NPY_FLOAT64, p, "h", p == 0, &ha) < 0) goto done;
    prob.q = DPTR(qa);
    prob.b = DPTR(ba);
    prob.h = DPTR(ha);

    altdiff_batch *bt = NULL;
    int rc;
    char err[256];
    TIMED_CALL(self, rc = altdiff_batch_setup_err(&bt, &prob, (altdiff_int)B, &set, err,
                                                  sizeof(err)));
    if (rc != ALTDIFF_OK) {
        raise_code(rc, "altdiff_batch_setup", err);
        goto done;
    }
    self->b = bt;
    self->B = B;
    self->n = n;
    self->m = m;
    self->p = p;
    self->nnzP = prob.P.p ? prob.P.p[n] : 0;
    self->nnzA = prob.A.p ? prob.A.p[n] : 0;
    self->nnzG = prob.G.p ? prob.G.p[n] : 0;
    ret = 0;
done:
    for (int k = 0; k < 9; k++) Py_XDECREF(keep[k]);
    Py_XDECREF(qa);
    Py_XDECREF(ba);
    Py_XDECREF(ha);
    return ret;
}

/* A range's vectors: None (unchanged), L values (ld = 0) or count * L. */
static int range_vec(PyObject *o, npy_intp L, npy_intp count, const char *name,
                     PyArrayObject **a, altdiff_int *ld)
{
    *ld = 0;
    *a = NULL;
    if (o == NULL || o == Py_None) return 0;
    if (as_array(o, NPY_FLOAT64, -1, name, 0, a) < 0) return -1;
    npy_intp sz = PyArray_SIZE(*a);
    if (sz == L && (PyArray_NDIM(*a) <= 1 || count == 1)) {
        *ld = 0;
        return 0;
    }
    if (sz == L * count) {
        *ld = (altdiff_int)L;
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "%s has %zd values, expected %zd (one vector) or %zd (%zd x %zd)",
                 name, (Py_ssize_t)sz, (Py_ssize_t)L, (Py_ssize_t)(L * count), (Py_ssize_t)count,
                 (Py_ssize_t)L);
    Py_CLEAR(*a);
    return -1;
}

/* The C setters over a range of elements: three optional arrays */
typedef int (*range_setter)(altdiff_batch *, altdiff_int, altdiff_int, const double *,
                            altdiff_int, const double *, altdiff_int, const double *,
                            altdiff_int);

/* The body of set_vectors and set_matrices: (first, count, x1, x2, x3), each
 * x (count, len) or one (len,) array for all (None: unchanged) */
static PyObject *set_range(BatchObject *self, PyObject *args, PyObject *kw, char **kwlist,
                           const altdiff_int len[3], range_setter call, const char *fname)
{
    long long first, count;
    PyObject *o[3] = {Py_None, Py_None, Py_None};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "LL|OOO", kwlist, &first, &count, &o[0], &o[1],
                                     &o[2]))
        return NULL;
    PyArrayObject *a[3] = {NULL, NULL, NULL};
    altdiff_int ld[3] = {0, 0, 0};
    PyObject *res = NULL;
    for (int k = 0; k < 3; k++)
        if (range_vec(o[k], len[k], count, kwlist[k + 2], &a[k], &ld[k]) < 0) goto done;
    if (acquire(self) < 0) goto done;
    int rc;
    TIMED_CALL(self, rc = call(self->b, first, count, DPTR(a[0]), ld[0], DPTR(a[1]), ld[1],
                               DPTR(a[2]), ld[2]));
    release(self);
    if (rc != ALTDIFF_OK) {
        raise_code(rc, fname, altdiff_batch_last_error(self->b));
        goto done;
    }
    res = Py_NewRef(Py_None);
done:
    for (int k = 0; k < 3; k++) Py_XDECREF(a[k]);
    return res;
}

/* set_vectors(first, count, q=None, b=None, h=None) */
static PyObject *Batch_set_vectors(BatchObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"first", "count", "q", "b", "h", NULL};
    const altdiff_int len[3] = {self->n, self->m, self->p};
    return set_range(self, args, kw, kwlist, len, altdiff_batch_set_vectors,
                     "altdiff_batch_set_vectors");
}

static PyObject *Batch_update_matrices(BatchObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"Px", "Ax", "Gx", NULL};
    PyObject *Po = Py_None, *Ao = Py_None, *Go = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO", kwlist, &Po, &Ao, &Go)) return NULL;
    PyArrayObject *Pa = NULL, *Aa = NULL, *Ga = NULL;
    PyObject *res = NULL;
    if (as_array(Po, NPY_FLOAT64, self->nnzP, "Px", 1, &Pa) < 0) goto done;
    if (as_array(Ao, NPY_FLOAT64, self->nnzA, "Ax", 1, &Aa) < 0) goto done;
    if (as_array(Go, NPY_FLOAT64, self->nnzG, "Gx", 1, &Ga) < 0) goto done;
    if (acquire(self) < 0) goto done;
    int rc;
    TIMED_CALL(self, rc = altdiff_batch_update_matrices(self->b, DPTR(Pa), DPTR(Aa), DPTR(Ga)));
    release(self);
    if (rc != ALTDIFF_OK) {
        raise_code(rc, "altdiff_batch_update_matrices", "arguments Px, Ax, Gx");
        goto done;
    }
    res = Py_NewRef(Py_None);
done:
    Py_XDECREF(Pa);
    Py_XDECREF(Aa);
    Py_XDECREF(Ga);
    return res;
}

/* set_matrices(first, count, Px=None, Ax=None, Gx=None): per-element values
 * on the setup patterns, each (count, nnz) or one (nnz,) array for all */
static PyObject *Batch_set_matrices(BatchObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"first", "count", "Px", "Ax", "Gx", NULL};
    const altdiff_int len[3] = {self->nnzP, self->nnzA, self->nnzG};
    return set_range(self, args, kw, kwlist, len, altdiff_batch_set_matrices,
                     "altdiff_batch_set_matrices");
}

/* set_threads(k): threads for the elements with matrices of their own */
static PyObject *Batch_set_threads(BatchObject *self, PyObject *arg)
{
    long k = PyLong_AsLong(arg);
    if (k == -1 && PyErr_Occurred()) return NULL;
    if (acquire(self) < 0) return NULL;
    int rc = (k < 0 || k > 1 << 20) ? ALTDIFF_ERR_INVALID : altdiff_batch_set_threads(self->b, (int)k);
    release(self);
    if (rc != ALTDIFF_OK) return raise_code(rc, "altdiff_batch_set_threads", "threads must be >= 0");
    Py_RETURN_NONE;
}

static PyObject *Batch_cold_start(BatchObject *self, PyObject *Py_UNUSED(ignored))
{
    if (acquire(self) < 0) return NULL;
    int rc = altdiff_batch_cold_start(self->b);
    release(self);
    if (rc != ALTDIFF_OK) return raise_code(rc, "altdiff_batch_cold_start", NULL);
    Py_RETURN_NONE;
}

static PyObject *Batch_solve(BatchObject *self, PyObject *Py_UNUSED(ignored))
{
    if (acquire(self) < 0) return NULL;
    int rc;
    TIMED_CALL(self, rc = altdiff_batch_solve(self->b));
    release(self);
    if (rc != ALTDIFF_OK) return raise_code(rc, "altdiff_batch_solve", NULL);
    Py_RETURN_NONE;
}

/* info() -> dict of per-element arrays and batch-wide scalars */
static PyObject *Batch_info(BatchObject *self, PyObject *Py_UNUSED(ignored))
{
    if (check_open(self) < 0) return NULL;
    npy_intp B = (npy_intp)self->B;
    PyArrayObject *status = new_array(1, B, 0, NPY_INT32), *iter = new_array(1, B, 0, NPY_INT64);
    PyArrayObject *obj = new_array(1, B, 0, NPY_FLOAT64), *rp = new_array(1, B, 0, NPY_FLOAT64);
    PyArrayObject *rd = new_array(1, B, 0, NPY_FLOAT64), *ep = new_array(1, B, 0, NPY_FLOAT64);
    PyArrayObject *ed = new_array(1, B, 0, NPY_FLOAT64), *aa = new_array(1, B, 0, NPY_INT64);
    PyObject *d = NULL;
    if (!status || !iter || !obj || !rp || !rd || !ep || !ed || !aa) goto done;
    const altdiff_info *i0 = NULL;
    for (npy_intp k = 0; k < B; k++) {
        const altdiff_info *in = altdiff_batch_get_info(self->b, (altdiff_int)k);
        if (!in) continue;
        if (!i0) i0 = in;
        ((int32_t *)PyArray_DATA(status))[k] = in->status;
        ((int64_t *)PyArray_DATA(iter))[k] = in->iter;
        ((double *)PyArray_DATA(obj))[k] = in->obj;
        ((double *)PyArray_DATA(rp))[k] = in->r_prim;
        ((double *)PyArray_DATA(rd))[k] = in->r_dual;
        ((double *)PyArray_DATA(ep))[k] = in->eps_prim;
        ((double *)PyArray_DATA(ed))[k] = in->eps_dual;
        ((int64_t *)PyArray_DATA(aa))[k] = in->aa_steps;
    }
    d = Py_BuildValue("{sOsOsOsOsOsOsOsOsdsLsdsdsdsdsd}", "status", status, "iter", iter, "obj",
                      obj, "r_prim", rp, "r_dual", rd, "eps_prim", ep, "eps_dual", ed,
                      "aa_steps", aa, "rho", i0 ? i0->rho : 0.0, "rho_updates",
                      (long long)(i0 ? i0->rho_updates : 0), "t_analyze",
                      i0 ? i0->t_analyze : 0.0, "t_factor", i0 ? i0->t_factor : 0.0, "t_setup",
                      i0 ? i0->t_setup : 0.0, "t_iterate", i0 ? i0->t_iterate : 0.0, "nnz_L",
                      i0 ? i0->nnz_L : 0.0);
done:
    Py_XDECREF(status);
    Py_XDECREF(iter);
    Py_XDECREF(obj);
    Py_XDECREF(rp);
    Py_XDECREF(rd);
    Py_XDECREF(ep);
    Py_XDECREF(ed);
    Py_XDECREF(aa);
    return d;
}

static PyObject *Batch_solution(BatchObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"first", "count", NULL};
    long long first = 0, count = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|LL", kwlist, &first, &count)) return NULL;
    if (check_open(self) < 0) return NULL;
    if (count < 0) count = self->B - first;
    if (first < 0 || count < 0 || first + count > self->B) {
        PyErr_SetString(PyExc_IndexError, "solution: element range out of bounds");
        return NULL;
    }
    PyArrayObject *x = new_array(2, count, self->n, NPY_FLOAT64);
    PyArrayObject *s = new_array(2, count, self->p, NPY_FLOAT64);
    PyArrayObject *lam = new_array(2, count, self->m, NPY_FLOAT64);
    PyArrayObject *nu = new_array(2, count, self->p, NPY_FLOAT64);
    PyObject *res = NULL;
    if (!x || !s || !lam || !nu) goto done;
    int rc = altdiff_batch_get_solution(self->b, first, count, DPTR(x), self->p ? DPTR(s) : NULL,
                                        self->m ? DPTR(lam) : NULL, self->p ? DPTR(nu) : NULL);
    /* NOT_SOLVED: an element failed; its status says so, the values are copied */
    if (rc != ALTDIFF_OK && rc != ALTDIFF_ERR_NOT_SOLVED) {
        raise_code(rc, "altdiff_batch_get_solution", NULL);
        goto done;
    }
    res = PyTuple_Pack(4, x, s, lam, nu);
done:
    Py_XDECREF(x);
    Py_XDECREF(s);
    Py_XDECREF(lam);
    Py_XDECREF(nu);
    return res;
}

static PyObject *deriv_info_dict(const altdiff_deriv_info *di, npy_intp B)
{
    PyArrayObject *st = new_array(1, B, 0, NPY_INT32), *it = new_array(1, B, 0, NPY_INT64);
    PyArrayObject *rs = new_array(1, B, 0, NPY_FLOAT64), *tm = new_array(1, B, 0, NPY_FLOAT64);
    PyArrayObject *ac = new_array(1, B, 0, NPY_INT64), *wa = new_array(1, B, 0, NPY_INT64);
    PyObject *d = NULL;
    if (st && it && rs && tm && ac && wa) {
        for (npy_intp k = 0; k < B; k++) {
            ((int32_t *)PyArray_DATA(st))[k] = di[k].status;
            ((int64_t *)PyArray_DATA(it))[k] = di[k].iter;
            ((double *)PyArray_DATA(rs))[k] = di[k].residual;
            ((double *)PyArray_DATA(tm))[k] = di[k].time;
            ((int64_t *)PyArray_DATA(ac))[k] = di[k].active;
            ((int64_t *)PyArray_DATA(wa))[k] = di[k].weakly_active;
        }
        d = Py_BuildValue("{sOsOsOsOsOsO}", "status", st, "iter", it, "residual", rs, "time", tm,
                          "active", ac, "weakly_active", wa);
    }
    Py_XDECREF(st);
    Py_XDECREF(it);
    Py_XDECREF(rs);
    Py_XDECREF(tm);
    Py_XDECREF(ac);
    Py_XDECREF(wa);
    return d;
}

/* vjp(wx, deriv=None) -> (dq, db, dh, info) with dq (B, n), ... */
static PyObject *Batch_vjp(BatchObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"wx", "deriv", NULL};
    PyObject *wo, *dso = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &wo, &dso)) return NULL;
    if (check_open(self) < 0) return NULL;
    altdiff_deriv_settings ds;
    if (deriv_settings(dso, &ds) < 0) return NULL;
    npy_intp B = (npy_intp)self->B;
    PyArrayObject *wa = NULL, *dq = NULL, *db = NULL, *dh = NULL;
    PyObject *res = NULL, *info = NULL;
    altdiff_deriv_info *di = NULL;
    if (as_array(wo, NPY_FLOAT64, B * self->n, "dx", 0, &wa) < 0) goto done;
    dq = new_array(2, B, self->n, NPY_FLOAT64);
    db = new_array(2, B, self->m, NPY_FLOAT64);
    dh = new_array(2, B, self->p, NPY_FLOAT64);
    di = PyMem_Calloc((size_t)B, sizeof *di);
    if (!dq || !db || !dh || !di) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    if (acquire(self) < 0) goto done;
    int rc;
    TIMED_CALL(self, rc = altdiff_batch_vjp(self->b, &ds, DPTR(wa), DPTR(dq), self->m ? DPTR(db) : NULL,
                           self->p ? DPTR(dh) : NULL, di));
    release(self);
    if (rc != ALTDIFF_OK) {
        raise_code(rc, "altdiff_batch_vjp", "argument dx or the derivative settings");
        goto done;
    }
    info = deriv_info_dict(di, B);
    if (!info) goto done;
    res = PyTuple_Pack(4, dq, db, dh, info);
done:
    PyMem_Free(di);
    Py_XDECREF(info);
    Py_XDECREF(wa);
    Py_XDECREF(dq);
    Py_XDECREF(db);
    Py_XDECREF(dh);
    return res;
}

/* matrix_grads(dq, db, dh, sum=True, P=True, A=True, G=True) -> (dPx, dAx, dGx) */
static PyObject *Batch_matrix_grads(BatchObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"dq", "db", "dh", "sum", "P", "A", "G", NULL};
    PyObject *qo, *bo = Py_None, *ho = Py_None;
    int sum = 1, wP = 1, wA = 1, wG = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOpppp", kwlist, &qo, &bo, &ho, &sum, &wP, &wA,
                                     &wG))
        return NULL;
    if (check_open(self) < 0) return NULL;
    npy_intp B = (npy_intp)self->B;
    PyArrayObject *qa = NULL, *ba = NULL, *ha = NULL, *dP = NULL, *dA = NULL, *dG = NULL;
    PyObject *res = NULL;
    if (as_array(qo, NPY_FLOAT64, B * self->n, "dq", 0, &qa) < 0) goto done;
    if (as_array(bo, NPY_FLOAT64, B * self->m, "db", self->m == 0, &ba) < 0) goto done;
    if (as_array(ho, NPY_FLOAT64, B * self->p, "dh", self->p == 0, &ha) < 0) goto done;
    dP = sum ? new_array(1, self->nnzP, 0, NPY_FLOAT64) : new_array(2, B, self->nnzP, NPY_FLOAT64);
    dA = sum ? new_array(1, self->nnzA, 0, NPY_FLOAT64) : new_array(2, B, self->nnzA, NPY_FLOAT64);
    dG = sum ? new_array(1, self->nnzG, 0, NPY_FLOAT64) : new_array(2, B, self->nnzG, NPY_FLOAT64);
    if (!dP || !dA || !dG) goto done;
    if (acquire(self) < 0) goto done;
    int rc;
    TIMED_CALL(self, rc = altdiff_batch_matrix_grads(self->b, DPTR(qa), DPTR(ba), DPTR(ha),
                                    wP && self->nnzP ? DPTR(dP) : NULL,
                                    wA && self->nnzA ? DPTR(dA) : NULL,
                                    wG && self->nnzG ? DPTR(dG) : NULL, sum));
    release(self);
    if (rc != ALTDIFF_OK) {
        raise_code(rc, "altdiff_batch_matrix_grads", "arguments dq, db, dh");
        goto done;
    }
    res = PyTuple_Pack(3, dP, dA, dG);
done:
    Py_XDECREF(qa);
    Py_XDECREF(ba);
    Py_XDECREF(ha);
    Py_XDECREF(dP);
    Py_XDECREF(dA);
    Py_XDECREF(dG);
    return res;
}

/* jvp(q=None, b=None, h=None, Px=None, Ax=None, Gx=None, deriv=None) -> (dx, info);
 * q, b, h: (B, L) directions; Px, Ax, Gx: one direction of the shared values */
static PyObject *Batch_jvp(BatchObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"q", "b", "h", "Px", "Ax", "Gx", "deriv", NULL};
    PyObject *o[6] = {Py_None, Py_None, Py_None, Py_None, Py_None, Py_None}, *dso = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOOOOO", kwlist, &o[0], &o[1], &o[2], &o[3],
                                     &o[4], &o[5], &dso))
        return NULL;
    if (check_open(self) < 0) return NULL;
    altdiff_deriv_settings ds;
    if (deriv_settings(dso, &ds) < 0) return NULL;
    npy_intp B = (npy_intp)self->B;
    npy_intp sizes[6] = {B * self->n, B * self->m, B * self->p, self->nnzP, self->nnzA, self->nnzG};
    static const char *names[6] = {"dq", "db", "dh", "dP", "dA", "dG"};
    PyArrayObject *a[6] = {0}, *dx = NULL;
    PyObject *res = NULL, *info = NULL;
    altdiff_deriv_info *di = NULL;
    for (int k = 0; k < 6; k++)
        if (as_array(o[k], NPY_FLOAT64, sizes[k], names[k], 1, &a[k]) < 0) goto done;
    dx = new_array(2, B, self->n, NPY_FLOAT64);
    di = PyMem_Calloc((size_t)B, sizeof *di);
    if (!dx || !di) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    altdiff_direction dir;
    memset(&dir, 0, sizeof dir);
    dir.q = DPTR(a[0]);
    dir.b = DPTR(a[1]);
    dir.h = DPTR(a[2]);
    dir.Px = DPTR(a[3]);
    dir.Ax = DPTR(a[4]);
    dir.Gx = DPTR(a[5]);
    if (acquire(self) < 0) goto done;
    int rc;
    TIMED_CALL(self, rc = altdiff_batch_jvp(self->b, &ds, &dir, DPTR(dx), di));
    release(self);
    if (rc != ALTDIFF_OK) {
        raise_code(rc, "altdiff_batch_jvp", "arguments dq, db, dh, dP, dA, dG or the derivative settings");
        goto done;
    }
    info = deriv_info_dict(di, B);
    if (!info) goto done;
    res = PyTuple_Pack(2, dx, info);
done:
    PyMem_Free(di);
    Py_XDECREF(info);
    for (int k = 0; k < 6; k++) Py_XDECREF(a[k]);
    Py_XDECREF(dx);
    return res;
}

static PyObject *Batch_close(BatchObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "altdiff Batch is in use by another thread");
        return NULL;
    }
    altdiff_batch_free(self->b);
    self->b = NULL;
    Py_RETURN_NONE;
}

static PyObject *Batch_get(BatchObject *self, void *which)
{
    switch ((int)(intptr_t)which) {
    case 0: return PyLong_FromLongLong(self->B);
    case 1: return PyLong_FromLongLong(self->n);
    case 2: return PyLong_FromLongLong(self->m);
    case 3: return PyLong_FromLongLong(self->p);
    case 4: return Py_BuildValue("(LLL)", (long long)self->nnzP, (long long)self->nnzA,
                                 (long long)self->nnzG);
    case 6: return PyFloat_FromDouble(self->c_seconds);
    default: return PyBool_FromLong(self->b == NULL);
    }
}

static PyGetSetDef Batch_getset[] = {
    {"B", (getter)Batch_get, NULL, "number of elements", (void *)0},
    {"n", (getter)Batch_get, NULL, "variables", (void *)1},
    {"m", (getter)Batch_get, NULL, "equality rows", (void *)2},
    {"p", (getter)Batch_get, NULL, "inequality rows", (void *)3},
    {"nnz", (getter)Batch_get, NULL, "(nnz(P), nnz(A), nnz(G)) as given at setup", (void *)4},
    {"closed", (getter)Batch_get, NULL, "True after close()", (void *)5},
    {"c_seconds", (getter)Batch_get, NULL,
     "wall seconds spent in the library's numerics (setup, solve, update, VJP, JVP, matrix "
     "gradients) by this Batch: the binding's overhead is the rest",
     (void *)6},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef Batch_methods[] = {
    {"set_vectors", (PyCFunction)(void (*)(void))Batch_set_vectors, METH_VARARGS | METH_KEYWORDS,
     "set_vectors(first, count, q=None, b=None, h=None): new vectors of elements first.."
     "first+count-1 (one vector for all, or count rows)"},
    {"update_matrices", (PyCFunction)(void (*)(void))Batch_update_matrices,
     METH_VARARGS | METH_KEYWORDS, "update_matrices(Px=None, Ax=None, Gx=None)"},
    {"set_matrices", (PyCFunction)(void (*)(void))Batch_set_matrices,
     METH_VARARGS | METH_KEYWORDS,
     "set_matrices(first, count, Px=None, Ax=None, Gx=None): matrices of their own for "
     "elements first..first+count-1 on the setup patterns ((count, nnz) or (nnz,) shared)"},
    {"set_threads", (PyCFunction)Batch_set_threads, METH_O,
     "set_threads(k): threads for elements with own matrices (1 serial, 0 all cores)"},
    {"cold_start", (PyCFunction)Batch_cold_start, METH_NOARGS, "zero iterates for every element"},
    {"solve", (PyCFunction)Batch_solve, METH_NOARGS, "solve every element (GIL released)"},
    {"info", (PyCFunction)Batch_info, METH_NOARGS, "per-element info as a dict of arrays"},
    {"solution", (PyCFunction)(void (*)(void))Batch_solution, METH_VARARGS | METH_KEYWORDS,
     "solution(first=0, count=B) -> (x, s, lam, nu), each (count, L)"},
    {"vjp", (PyCFunction)(void (*)(void))Batch_vjp, METH_VARARGS | METH_KEYWORDS,
     "vjp(wx, deriv=None) -> (dq, db, dh, info)"},
    {"matrix_grads", (PyCFunction)(void (*)(void))Batch_matrix_grads,
     METH_VARARGS | METH_KEYWORDS,
     "matrix_grads(dq, db=None, dh=None, sum=True, P=True, A=True, G=True) -> (dPx, dAx, dGx)"},
    {"jvp", (PyCFunction)(void (*)(void))Batch_jvp, METH_VARARGS | METH_KEYWORDS,
     "jvp(q=None, b=None, h=None, Px=None, Ax=None, Gx=None, deriv=None) -> (dx, info)"},
    {"close", (PyCFunction)Batch_close, METH_NOARGS, "free the C batch now"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "altdiff._core.Batch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Batch(B, n, m, p, P, A, G, q, b=None, h=None, settings=None): an "
              "altdiff_batch of B QPs sharing P, A, G (CSC tuples (indptr, indices, data))",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Batch_init,
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_methods = Batch_methods,
    .tp_getset = Batch_getset,
};

/* ---- module functions ---------------------------------------------------- */

static PyObject *mod_version(PyObject *m, PyObject *Py_UNUSED(a))
{
    (void)m;
    return PyUnicode_FromString(altdiff_version());
}

static PyObject *mod_settings_default(PyObject *m, PyObject *Py_UNUSED(a))
{
    (void)m;
    altdiff_settings s = altdiff_settings_default();
    return fields_to_dict(settings_fields, &s);
}

static PyObject *mod_deriv_settings_default(PyObject *m, PyObject *Py_UNUSED(a))
{
    (void)m;
    altdiff_deriv_settings s = altdiff_deriv_settings_default();
    return fields_to_dict(deriv_fields, &s);
}

static PyObject *mod_check_settings(PyObject *m, PyObject *arg)
{
    (void)m;
    altdiff_settings s = altdiff_settings_default();
    if (dict_to_fields(settings_fields, &s, arg, "setting") < 0) return NULL;
    return fields_to_dict(settings_fields, &s);
}

static PyObject *mod_status_string(PyObject *m, PyObject *arg)
{
    (void)m;
    long st = PyLong_AsLong(arg);
    if (st == -1 && PyErr_Occurred()) return NULL;
    const char *s = altdiff_status_string((int)st);
    return PyUnicode_FromString(s ? s : "unknown");
}

static PyObject *mod_error_string(PyObject *m, PyObject *arg)
{
    (void)m;
    long c = PyLong_AsLong(arg);
    if (c == -1 && PyErr_Occurred()) return NULL;
    const char *s = altdiff_error_string((int)c);
    return PyUnicode_FromString(s ? s : "unknown");
}

static PyMethodDef module_methods[] = {
    {"version", mod_version, METH_NOARGS, "altdiff_version()"},
    {"settings_default", mod_settings_default, METH_NOARGS, "altdiff_settings_default() as a dict"},
    {"deriv_settings_default", mod_deriv_settings_default, METH_NOARGS,
     "altdiff_deriv_settings_default() as a dict"},
    {"check_settings", mod_check_settings, METH_O,
     "the default settings updated by a dict (TypeError for unknown names)"},
    {"status_string", mod_status_string, METH_O, "altdiff_status_string(status)"},
    {"error_string", mod_error_string, METH_O, "altdiff_error_string(code)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_core",
                                       "Binding of altdiff's batch API (see altdiff.h)", -1,
                                       module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__core(void)
{
    import_array();
    if (PyType_Ready(&BatchType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Py_INCREF(&BatchType);
    if (PyModule_AddObject(m, "Batch", (PyObject *)&BatchType) < 0) {
        Py_DECREF(&BatchType);
        Py_DECREF(m);
        return NULL;
    }
#define ADD(name) PyModule_AddIntConstant(m, #name, ALTDIFF_##name)
    ADD(OK); ADD(ERR_INVALID); ADD(ERR_NOMEM); ADD(ERR_NOT_POSDEF); ADD(ERR_CHOLMOD);
    ADD(ERR_IO); ADD(ERR_NOT_SOLVED);
    ADD(UNSOLVED); ADD(SOLVED); ADD(MAX_ITER); ADD(TIME_LIMIT); ADD(PRIMAL_INFEASIBLE);
    ADD(DUAL_INFEASIBLE); ADD(NONCONVEX); ADD(NUMERICAL_ERROR); ADD(NOT_AVAILABLE);
    ADD(MODE_ADJOINT); ADD(MODE_GMRES); ADD(MODE_UNROLL); ADD(MODE_ALTDIFF); ADD(MODE_KKT);
    ADD(MODE_AUTO);
#undef ADD
    return m;
}
