"""altdiff: solve and differentiate convex QPs

    minimize 1/2 x'Px + q'x   subject to   A x = b,   G x <= h

NumPy/SciPy level: :func:`solve` (batches of q, b, h sharing P, A, G) with
:meth:`Result.vjp` and :meth:`Result.jvp`. PyTorch level: ``altdiff.torch``
(``QPFunction`` with qpth's interface, ``QPLayer`` module). Everything runs
through the C library's batch API (``altdiff_batch_*`` in altdiff.h); a single
problem is a batch of one.
"""
import numpy as np

from . import _core
from ._matrices import MatrixSpec, spec_from_input

__version__ = _core.version()
__all__ = ["solve", "Result", "Gradients", "AltDiffError", "settings_default",
           "STATUS_NAMES", "MODES", "__version__"]

STATUS_NAMES = {
    _core.UNSOLVED: "unsolved", _core.SOLVED: "solved", _core.MAX_ITER: "max_iter",
    _core.TIME_LIMIT: "time_limit", _core.PRIMAL_INFEASIBLE: "primal_infeasible",
    _core.DUAL_INFEASIBLE: "dual_infeasible", _core.NONCONVEX: "nonconvex",
    _core.NUMERICAL_ERROR: "numerical_error", _core.NOT_AVAILABLE: "not_available",
}
SOLVED = _core.SOLVED
MODES = {"adjoint": _core.MODE_ADJOINT, "gmres": _core.MODE_GMRES,
         "unroll": _core.MODE_UNROLL, "altdiff": _core.MODE_ALTDIFF, "kkt": _core.MODE_KKT,
         "auto": _core.MODE_AUTO}


def settings_default():
    """altdiff_settings_default() as a dict (the keyword names of solve)."""
    return _core.settings_default()


class AltDiffError(RuntimeError):
    """Some elements of a batch were not solved. ``elements``: their indices;
    ``statuses``: their status codes; ``names``: the status names."""

    def __init__(self, elements, statuses, B):
        self.elements = [int(k) for k in elements]
        self.statuses = [int(s) for s in statuses]
        self.names = [STATUS_NAMES.get(s, str(s)) for s in self.statuses]
        shown = ", ".join(f"{k}: {nm}" for k, nm in zip(self.elements[:20], self.names[:20]))
        more = "" if len(self.elements) <= 20 else f", ... ({len(self.elements)} in all)"
        super().__init__(f"altdiff: {len(self.elements)} of {B} batch elements not solved "
                         f"(element: status) {shown}{more}")


def mode_code(mode):
    """None/'auto' -> ALTDIFF_MODE_AUTO; names (case-insensitive) or ints."""
    if mode is None:
        return _core.MODE_AUTO
    if isinstance(mode, str):
        try:
            return MODES[mode.lower()]
        except KeyError:
            raise ValueError(f"unknown derivative mode {mode!r}; one of {sorted(MODES)}") from None
    return int(mode)


def deriv_settings(mode=None, **kw):
    """A dict for the C derivative settings (mode, eps, max_iter, restart, block);
    None values are dropped."""
    d = {"mode": mode_code(mode)}
    d.update({k: v for k, v in kw.items() if v is not None})
    return d


def _vec(name, v, L, required):
    if v is None:
        if required and L > 0:
            raise ValueError(f"{name} is required (its block has {L} rows)")
        return None
    v = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
    if v.ndim not in (1, 2) or v.shape[-1] != L:
        raise ValueError(f"{name} has shape {v.shape}, expected ({L},) or (B, {L})")
    if not np.all(np.isfinite(v) | (np.isposinf(v) if name == "h" else False)):
        raise ValueError(f"{name} has NaN or infinite values")
    return v


def _rows(v, L, B):
    """(count, L) array or a 1-D shared vector as the C batch reads them."""
    if v is None:
        return None
    if v.ndim == 1:
        return v
    if v.shape[0] == B:
        return v
    if v.shape[0] == 1:
        return v[0]
    raise ValueError(f"batch sizes differ: {v.shape[0]} vs {B}")


def _first(v):
    if v is None:
        return None
    return v if v.ndim == 1 else v[0]


def _check_finite(name, vals):
    if vals is not None and not np.all(np.isfinite(vals)):
        raise ValueError(f"{name} has NaN or infinite values")


def _bad_settings(settings):
    """Names of the settings the library rejects (each tried alone on a 1 x 1
    problem)."""
    bad = []
    one = (np.array([0, 1]), np.array([0]), np.array([1.0]))
    for k, v in settings.items():
        try:
            _core.Batch(1, 1, 0, 0, one, None, None, np.zeros(1), None, None, {k: v}).close()
        except ValueError:
            bad.append(f"{k}={v!r}")
    return bad


def make_batch(B, n, m, p, Pt, At, Gt, q0, b0, h0, settings):
    """_core.Batch with the library's ValueError completed by the argument at
    fault when it can be told (a setting, P's triangles)."""
    try:
        return _core.Batch(B, n, m, p, Pt, At, Gt, q0, b0, h0, settings)
    except ValueError as e:
        bad = _bad_settings(settings) if settings else []
        if bad:
            raise ValueError(f"{e}: invalid setting(s) {', '.join(bad)}") from None
        if Pt is not None:
            Pm = MatrixSpec("P", n, n, Pt[0], Pt[1], "sparse").scipy_matrix(Pt[2])
            up, lo = sp_triu_tril(Pm)
            if up.nnz and lo.nnz and abs(up - lo.T).max() > 0:
                raise ValueError(f"{e}: P holds both triangles and they differ "
                                 "(P must be symmetric)") from None
        raise


def sp_triu_tril(M):
    import scipy.sparse as sp
    return sp.triu(M, 1, format="csc"), sp.tril(M, -1, format="csc")


def solve(P, q, A=None, b=None, G=None, h=None, **settings):
    """Solve min 1/2 x'Px + q'x s.t. Ax = b, Gx <= h for one problem or a batch.

    P, A, G: scipy.sparse matrices or dense arrays (P symmetric; a sparse P may
    hold its upper, lower or both triangles). q, b, h: shape (n,) / (m,) / (p,)
    or (B, n) / (B, m) / (B, p) for a batch of B problems sharing P, A, G (a
    1-D vector is shared by every element). Settings by keyword with the names
    of altdiff_settings (eps_abs, eps_rel, max_iter, rho, sigma, alpha,
    anderson, time_limit, scaling, adaptive_rho, verbose, ...; see
    :func:`settings_default`); an unknown keyword raises TypeError.

    Returns a :class:`Result`; elements that are not solved keep their status
    (no exception here: see ``Result.ok`` / ``Result.raise_failures()``).
    """
    settings = _core.check_settings(settings) if settings else {}
    q = _vec("q", q, np.shape(q)[-1] if np.ndim(q) else 0, True)
    n = q.shape[-1]
    if n < 1:
        raise ValueError("q must have at least one entry")
    Ps, Pv = spec_from_input("P", P, shape=(n, n), sym=True)
    if Ps is None:
        raise ValueError("P is required (use a zero matrix for an LP)")
    As, Av = spec_from_input("A", A, sym=False) if A is not None else (None, None)
    Gs, Gv = spec_from_input("G", G, sym=False) if G is not None else (None, None)
    m = As.shape[0] if As else 0
    p = Gs.shape[0] if Gs else 0
    if As and As.shape[1] != n:
        raise ValueError(f"A has {As.shape[1]} columns, expected n = {n}")
    if Gs and Gs.shape[1] != n:
        raise ValueError(f"G has {Gs.shape[1]} columns, expected n = {n}")
    b = _vec("b", b, m, A is not None)
    h = _vec("h", h, p, G is not None)
    if b is not None and m == 0 and b.size:
        raise ValueError("b given without A")
    if h is not None and p == 0 and h.size:
        raise ValueError("h given without G")
    Bs = {v.shape[0] for v in (q, b, h) if v is not None and v.ndim == 2 and v.shape[0] != 1}
    if len(Bs) > 1:
        raise ValueError(f"batch sizes differ: {sorted(Bs)}")
    B = Bs.pop() if Bs else (1 if all(v is None or v.ndim == 1 for v in (q, b, h)) else 1)
    squeeze = all(v is None or v.ndim == 1 for v in (q, b, h))
    Px = Ps.csc_values(Pv)
    Ax = As.csc_values(Av) if As else None
    Gx = Gs.csc_values(Gv) if Gs else None
    for nm, v in (("P", Px), ("A", Ax), ("G", Gx)):
        _check_finite(nm, v)
    batch = make_batch(B, n, m, p, Ps.csc_tuple(Px), As.csc_tuple(Ax) if As else None,
                        Gs.csc_tuple(Gx) if Gs else None, _first(q), _first(b), _first(h),
                        settings)
    if B > 1 or not squeeze:
        batch.set_vectors(0, B, _rows(q, n, B), _rows(b, m, B), _rows(h, p, B))
    batch.solve()
    return Result(batch, (Ps, As, Gs), squeeze)


class Gradients:
    """Result of :meth:`Result.vjp`: dq, db, dh (shaped like q, b, h of the
    result: (n,) or (B, n)), dP, dA, dG (summed over the batch: scipy.sparse
    on the pattern of a sparse input, dense arrays for a dense input; None for
    an absent block) and info (per-element derivative info: status, iter,
    residual, time). Unpacks as (dq, db, dh, dP, dA, dG)."""

    __slots__ = ("dq", "db", "dh", "dP", "dA", "dG", "info")

    def __init__(self, dq, db, dh, dP, dA, dG, info):
        self.dq, self.db, self.dh, self.dP, self.dA, self.dG, self.info = \
            dq, db, dh, dP, dA, dG, info

    def __iter__(self):
        return iter((self.dq, self.db, self.dh, self.dP, self.dA, self.dG))

    def __repr__(self):
        return "Gradients(" + ", ".join(
            f"{k}={'None' if getattr(self, k) is None else getattr(getattr(self, k), 'shape', '?')}"
            for k in ("dq", "db", "dh", "dP", "dA", "dG")) + ")"


class Result:
    """Solutions of a batch (see :func:`solve`).

    x, s, lam, nu: (n,)/(p,)/(m,)/(p,) for a single problem, (B, .) for a
    batch. status: per element (int array, or an int for a single problem),
    status_names likewise; iterations, obj, residuals (dict r_prim, r_dual,
    eps_prim, eps_dual), timing (dict setup, analyze, factor, iterate, in
    seconds, for the whole batch). The C batch is kept, so :meth:`vjp` and
    :meth:`jvp` can be called any number of times.
    """

    def __init__(self, batch, specs, squeeze):
        self._batch = batch
        self._specs = specs
        self._squeeze = squeeze
        self.B = batch.B
        x, s, lam, nu = batch.solution()
        info = batch.info()
        self._status = info["status"].astype(int)
        sq = (lambda a: a[0]) if squeeze else (lambda a: a)
        self.x, self.s, self.lam, self.nu = sq(x), sq(s), sq(lam), sq(nu)
        self.status = sq(self._status)
        self.status_names = (STATUS_NAMES.get(int(self._status[0]), "?") if squeeze else
                             [STATUS_NAMES.get(int(s_), "?") for s_ in self._status])
        self.iterations = sq(info["iter"])
        self.obj = sq(info["obj"])
        self.residuals = {k: sq(info[k]) for k in ("r_prim", "r_dual", "eps_prim", "eps_dual")}
        self.timing = {"setup": info["t_setup"], "analyze": info["t_analyze"],
                       "factor": info["t_factor"], "iterate": info["t_iterate"]}
        self.rho = info["rho"]

    @property
    def ok(self):
        """True where the element was solved (array for a batch)."""
        ok = self._status == SOLVED
        return bool(ok[0]) if self._squeeze else ok

    def raise_failures(self):
        """Raise AltDiffError naming the elements not solved (if any)."""
        bad = np.nonzero(self._status != SOLVED)[0]
        if len(bad):
            raise AltDiffError(bad, self._status[bad], self.B)
        return self

    def _wide(self, name, v, L):
        v = np.asarray(v, dtype=np.float64)
        if v.shape == (L,):
            return np.ascontiguousarray(np.broadcast_to(v, (self.B, L)))
        if v.shape == (self.B, L):
            return np.ascontiguousarray(v)
        raise ValueError(f"{name} has shape {v.shape}, expected ({L},) or ({self.B}, {L})")

    def vjp(self, dx, mode=None, eps=None, max_iter=None, restart=None, matrix_grads=True):
        """Reverse mode at the stored solutions: dx = dL/dx, shape (n,) (the
        same cotangent for every element of a batch) or (B, n). mode: None
        (= 'auto'), 'kkt', 'gmres', 'adjoint', 'altdiff' (or ALTDIFF_MODE_*).
        Elements not solved get zero gradients (info status not_available)."""
        b = self._batch
        wx = self._wide("dx", dx, b.n)
        if not np.all(np.isfinite(wx)):
            raise ValueError("dx has NaN or infinite values")
        ds = deriv_settings(mode, eps=eps, max_iter=max_iter, restart=restart)
        dq, db, dh, info = b.vjp(wx, ds)
        Ps, As, Gs = self._specs
        dP = dA = dG = None
        if matrix_grads:
            dPx, dAx, dGx = b.matrix_grads(dq, db, dh, True)
            dP = self._matrix_grad(Ps, dPx)
            dA = self._matrix_grad(As, dAx)
            dG = self._matrix_grad(Gs, dGx)
        sq = (lambda a: a[0]) if self._squeeze else (lambda a: a)
        return Gradients(sq(dq), sq(db), sq(dh), dP, dA, dG, info)

    @staticmethod
    def _matrix_grad(spec, g):
        if spec is None:
            return None
        if spec.kind == "dense":
            return spec.grad_to_source(g)
        return spec.scipy_matrix(g)

    def jvp(self, dq=None, db=None, dh=None, dP=None, dA=None, dG=None, mode=None, eps=None,
            max_iter=None):
        """Forward mode: dx = (dx/dq) dq + ... + (dx/dG) dG at the stored
        solutions. dq, db, dh: (L,) (same for every element) or (B, L); dP,
        dA, dG: one direction of the shared matrices (dense, scipy.sparse on
        the input pattern, or values on the pattern). mode: None (auto),
        'kkt', 'altdiff'. Returns dx shaped like x."""
        b = self._batch
        Ps, As, Gs = self._specs
        args = {}
        for nm, v, L in (("q", dq, b.n), ("b", db, b.m), ("h", dh, b.p)):
            if v is not None:
                args[nm] = self._wide("d" + nm, v, L)
        for nm, v, spec in (("Px", dP, Ps), ("Ax", dA, As), ("Gx", dG, Gs)):
            if v is not None:
                if spec is None:
                    raise ValueError(f"d{nm[0]} given but the problem has no {nm[0]}")
                args[nm] = spec.direction_values(v)
        ds = deriv_settings(mode, eps=eps, max_iter=max_iter)
        dx, info = b.jvp(deriv=ds, **args)
        self.jvp_info = info
        return dx[0] if self._squeeze else dx

    def __repr__(self):
        return (f"Result(B={self.B}, n={self._batch.n}, m={self._batch.m}, p={self._batch.p}, "
                f"status={self.status_names})")
