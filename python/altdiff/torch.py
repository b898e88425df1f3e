"""PyTorch layers over altdiff's batch API.

* ``QPFunction(eps=1e-6, mode=None, on_failure="raise", ...)(Q, p, G, h, A, b)``
  has qpth's argument order, shapes and broadcasting: each argument batched
  with a leading B or shared, an empty tensor for an absent block; returns x
  of shape (B, n), differentiable with respect to all six.
* ``QPLayer(P, A=None, G=None, learnable=False, ...)``: an nn.Module with fixed
  matrices (dense tensors, torch sparse COO/CSR/CSC or scipy.sparse) whose
  values may be learnable parameters (on a fixed pattern), called as
  ``layer(q, b=None, h=None)``. The factorization is kept between calls.

Inputs are computed in float64 and returned in the input dtype. The forward
only solves and keeps the C batch (its solutions); the backward runs the
batch VJP at them (any number of times, e.g. with retain_graph=True). On
failure of some elements: on_failure="raise" (default) raises
altdiff.AltDiffError naming them and their statuses; on_failure="nan" returns
NaN rows for them (zero gradients), the others unaffected.
"""
import warnings
import weakref

import numpy as np
import torch

from . import AltDiffError, SOLVED, _core, deriv_settings, make_batch
from ._matrices import MatrixSpec, spec_from_input

__all__ = ["QPFunction", "QPLayer", "AltDiffError"]

# counters for tests: derivative work done (batch VJPs) and C batches set up
stats = {"vjp": 0, "setup": 0}


def _np(t):
    return t.detach().to("cpu", torch.float64).numpy()


def _absent(t):
    return t is None or (isinstance(t, torch.Tensor) and t.numel() == 0)


def _solver_settings(eps, verbose, max_iter, settings):
    s = {"eps_abs": eps, "eps_rel": eps}
    if verbose:
        s["verbose"] = 1
    if max_iter is not None:
        s["max_iter"] = int(max_iter)
    s.update(settings)
    return _core.check_settings(s)  # TypeError for unknown names


def _failures(status, on_failure, B):
    bad = np.nonzero(status != SOLVED)[0]
    if len(bad) and on_failure == "raise":
        raise AltDiffError(bad, status[bad], B)
    return bad


def _check_deriv(info):
    st = info["status"]
    bad = np.nonzero(st == _core.MAX_ITER)[0]
    if len(bad):
        warnings.warn(f"altdiff: the derivative did not converge for elements {bad.tolist()[:10]} "
                      f"(residual {float(info['residual'][bad].max()):.2e}); raise deriv_max_iter "
                      "or use mode='kkt'", RuntimeWarning, stacklevel=3)


def _check_policy(on_failure):
    if on_failure not in ("raise", "nan"):
        raise ValueError(f"on_failure must be 'raise' or 'nan', not {on_failure!r}")


# ---------------------------------------------------------------------------
# QPFunction (qpth's interface)
# ---------------------------------------------------------------------------

class QPFunction:
    """Drop-in for ``qpth.qp.QPFunction``: ``QPFunction(...)(Q, p, G, h, A, b)``.

    eps: solver tolerance (eps_abs = eps_rel); mode: derivative mode (None =
    auto, 'kkt', 'gmres', 'adjoint', 'altdiff'); deriv_eps: tolerance of the
    iterative derivative modes (default: eps), deriv_max_iter their iteration
    limit (a warning names the elements that reach it); on_failure: 'raise' or 'nan';
    maxIter / max_iter: ADMM iteration limit; other keywords: altdiff_settings
    fields (rho, anderson, ...). qpth's notImprovedLim, solver and check_Q_spd
    are accepted and ignored.

    Batched matrices (qpth's per-element Q, G, A): one C batch whose
    elements have matrices of their own on one pattern (the union of the
    elements' nonzeros, every entry for a matrix that requires grad):
    the symbolic analysis is shared, each element is factored numerically
    (altdiff_batch_set_matrices) and solved and differentiated on its own,
    on ``threads`` threads (default 1; 0 = all cores; the results do not
    depend on it). per_element_matrices=False keeps the former path: the
    elements grouped by equal (Q, G, A), one C batch (one setup) per group.
    Shared matrices get their gradient summed over the batch.
    """

    def __init__(self, eps=1e-6, verbose=0, notImprovedLim=None, maxIter=None, solver=None,
                 check_Q_spd=None, mode=None, deriv_eps=None, on_failure="raise",
                 max_iter=None, deriv_max_iter=None, threads=1, per_element_matrices=True,
                 **settings):
        _check_policy(on_failure)
        if int(threads) < 0:
            raise ValueError(f"threads must be >= 0, not {threads}")
        self.threads = int(threads)
        self.per_element = bool(per_element_matrices)
        self.settings = _solver_settings(eps, verbose, max_iter if max_iter is not None else maxIter,
                                         settings)
        self.deriv = deriv_settings(mode, eps=deriv_eps if deriv_eps is not None else eps,
                                    max_iter=deriv_max_iter)
        self.on_failure = on_failure

    def __call__(self, Q, p, G, h, A, b):
        e = torch.empty(0, dtype=p.dtype, device=p.device)
        G = e if G is None else G
        h = e if h is None else h
        A = e if A is None else A
        b = e if b is None else b
        return _QPFn.apply(self, Q, p, G, h, A, b)


def _batched(t, nd_shared):
    return (not _absent(t)) and t.dim() == nd_shared + 1


def _elem(a, batched, k):
    return a[k] if batched else a


class _Group:
    __slots__ = ("idx", "batch", "specs")

    def __init__(self, idx, batch, specs):
        self.idx, self.batch, self.specs = idx, batch, specs


def _all_equal(B, mats):
    """True when no batched matrix differs between elements."""
    return all(np.array_equal(a, np.broadcast_to(a[0], a.shape))
               for a, bt in mats if a is not None and bt)


def _union_pattern(a, batched):
    """A matrix with a nonzero wherever some element's matrix has one."""
    return np.abs(a).sum(axis=0) if batched else a


def _element_values(spec, a, batched, B):
    """(B, nnz) CSC values of every element, or (nnz,) for a shared matrix."""
    if not batched:
        return spec.csc_values(a)
    return np.stack([spec.csc_values(a[k]) for k in range(B)])


def _per_element_batch(cfg, B, n, m, pp, specs, vals, batched, q, b, h):
    """The C batch for per-element matrices, set up (analysis, shared model)
    with element 0's matrices; the first element to get its own is returned
    too (1). When element 0's Q makes H indefinite (its failure must stay in
    its element), the setup takes Q = 0 on the pattern (H = rho S'S + sigma I)
    and every element gets its own matrices (0)."""
    el0 = lambda v, bt: None if v is None else (v[0] if bt else v)
    first = lambda v: None if v is None else (v[0] if v.ndim == 2 else v)
    (Ps, As, Gs), (Px, Ax, Gx), (bQ, bA, bG) = specs, vals, batched

    def setup(P0):
        return make_batch(B, n, m, pp, Ps.csc_tuple(P0),
                          As.csc_tuple(el0(Ax, bA)) if As is not None else None,
                          Gs.csc_tuple(el0(Gx, bG)) if Gs is not None else None,
                          first(q), first(b), first(h), cfg.settings)
    try:
        return setup(el0(Px, bQ)), 1
    except RuntimeError as e:
        if not bQ or f"(code {_core.ERR_NOT_POSDEF}" not in str(e):
            raise
    return setup(np.zeros(Ps.nnz)), 0


def _group_keys(B, mats):
    """Partition 0..B-1 into groups of equal matrices (mats: (array, batched))."""
    batched = [(a, bt) for a, bt in mats if a is not None and bt]
    if not batched:
        return [np.arange(B)]
    if all(np.array_equal(a, np.broadcast_to(a[0], a.shape)) for a, _ in batched):
        return [np.arange(B)]
    groups = {}
    for k in range(B):
        key = tuple(a[k].tobytes() for a, _ in batched)
        groups.setdefault(key, []).append(k)
    return [np.asarray(v) for v in groups.values()]


class _QPFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cfg, Q, p, G, h, A, b):
        ins = [t for t in (Q, p, G, h, A, b) if not _absent(t)]
        dtype = ins[0].dtype
        for t in ins[1:]:
            dtype = torch.promote_types(dtype, t.dtype)
        if not dtype.is_floating_point:
            dtype = torch.get_default_dtype()
        device = p.device
        n = p.shape[-1]
        has_A, has_G = not _absent(A), not _absent(G)
        bQ, bp = _batched(Q, 2), _batched(p, 1)
        bG, bh = (_batched(G, 2), _batched(h, 1)) if has_G else (False, False)
        bA, bb = (_batched(A, 2), _batched(b, 1)) if has_A else (False, False)
        Bs = {t.shape[0] for t, f in ((Q, bQ), (p, bp), (G, bG), (h, bh), (A, bA), (b, bb)) if f}
        Bs.discard(1)
        if len(Bs) > 1:
            raise ValueError(f"QPFunction: batch sizes differ: {sorted(Bs)}")
        B = Bs.pop() if Bs else 1
        Qn, pn = _np(Q), _np(p)
        Gn, hn = (_np(G), _np(h)) if has_G else (None, None)
        An, bn = (_np(A), _np(b)) if has_A else (None, None)
        if has_G and h.shape[-1] != G.shape[-2]:
            raise ValueError(f"QPFunction: G has {G.shape[-2]} rows but h has {h.shape[-1]}")
        if has_A and b.shape[-1] != A.shape[-2]:
            raise ValueError(f"QPFunction: A has {A.shape[-2]} rows but b has {b.shape[-1]}")
        if Q.shape[-1] != n or Q.shape[-2] != n:
            raise ValueError(f"QPFunction: Q has shape {tuple(Q.shape)}, expected (.., {n}, {n})")

        def expand(a, batched):  # size-1 batch dims broadcast
            if a is not None and batched and a.shape[0] == 1 and B > 1:
                return np.broadcast_to(a, (B,) + a.shape[1:])
            return a
        Qn, pn, Gn, hn, An, bn = (expand(Qn, bQ), expand(pn, bp), expand(Gn, bG),
                                  expand(hn, bh), expand(An, bA), expand(bn, bb))
        m = A.shape[-2] if has_A else 0
        pp = G.shape[-2] if has_G else 0
        groups = []
        x = np.empty((B, n))
        status = np.empty(B, dtype=int)
        mats = [(Qn, bQ), (Gn, bG), (An, bA)]
        per_element = cfg.per_element and B > 1 and not _all_equal(B, mats)
        for idx in ([] if per_element else _group_keys(B, mats)):
            k0 = int(idx[0])
            Ps, _ = spec_from_input("Q", _elem(Qn, bQ, k0), sym=True, full=Q.requires_grad)
            Gs = spec_from_input("G", _elem(Gn, bG, k0), full=G.requires_grad)[0] if has_G else None
            As = spec_from_input("A", _elem(An, bA, k0), full=A.requires_grad)[0] if has_A else None
            Px = Ps.csc_values(_elem(Qn, bQ, k0))
            Gx = Gs.csc_values(_elem(Gn, bG, k0)) if has_G else None
            Ax = As.csc_values(_elem(An, bA, k0)) if has_A else None
            qg = pn[idx] if bp else pn
            hg = (hn[idx] if bh else hn) if has_G else None
            bg = (bn[idx] if bb else bn) if has_A else None
            first = lambda v: None if v is None else (v[0] if v.ndim == 2 else v)
            batch = make_batch(len(idx), n, m, pp, Ps.csc_tuple(Px),
                                As.csc_tuple(Ax) if has_A else None,
                                Gs.csc_tuple(Gx) if has_G else None,
                                first(qg), first(bg), first(hg), cfg.settings)
            stats["setup"] += 1
            if len(idx) > 1:
                batch.set_vectors(0, len(idx), qg, bg, hg)
            batch.solve()
            x[idx] = batch.solution()[0]
            status[idx] = batch.info()["status"]
            groups.append(_Group(idx, batch, (Ps, As, Gs)))
        if per_element:  # one C batch, matrices per element on one pattern
            Ps = spec_from_input("Q", _union_pattern(Qn, bQ), sym=True, full=Q.requires_grad)[0]
            Gs = spec_from_input("G", _union_pattern(Gn, bG), full=G.requires_grad)[0] \
                if has_G else None
            As = spec_from_input("A", _union_pattern(An, bA), full=A.requires_grad)[0] \
                if has_A else None
            Px = _element_values(Ps, Qn, bQ, B)
            Gx = _element_values(Gs, Gn, bG, B) if has_G else None
            Ax = _element_values(As, An, bA, B) if has_A else None
            batch, start = _per_element_batch(cfg, B, n, m, pp, (Ps, As, Gs), (Px, Ax, Gx),
                                              (bQ, bA, bG), pn, bn, hn)
            stats["setup"] += 1
            batch.set_threads(cfg.threads)
            batch.set_vectors(0, B, pn, bn, hn)
            rest = lambda v, batched: v[start:] if batched else None
            batch.set_matrices(start, B - start, rest(Px, bQ), rest(Ax, bA), rest(Gx, bG))
            batch.solve()
            idx = np.arange(B)
            x[:] = batch.solution()[0]
            status[:] = batch.info()["status"]
            groups.append(_Group(idx, batch, (Ps, As, Gs)))
        bad = _failures(status, cfg.on_failure, B)
        x[bad] = np.nan
        ctx.cfg = cfg
        ctx.groups = groups
        ctx.bad = bad
        ctx.B = B
        ctx.flags = (bQ, bp, bG, bh, bA, bb, has_G, has_A)
        ctx.in_shapes = [None if _absent(t) else (t.shape, t.dtype) for t in (Q, p, G, h, A, b)]
        return torch.from_numpy(x).to(device=device, dtype=dtype)

    @staticmethod
    def backward(ctx, gx):
        cfg, B = ctx.cfg, ctx.B
        bQ, bp, bG, bh, bA, bb, has_G, has_A = ctx.flags
        nQ, np_, nG, nh, nA, nb = ctx.needs_input_grad[1:]
        w = _np(gx).copy()
        w[ctx.bad] = 0.0
        w[~np.isfinite(w)] = 0.0
        outs = {}

        def acc(key, val, idx, batched, shape):
            # val: (len(idx), ...) per element -> into (B, ...) or summed
            if key not in outs:
                outs[key] = np.zeros((B,) + shape if batched else shape)
            if batched:
                outs[key][idx] += val
            else:
                outs[key] += val.sum(axis=0)

        for g in ctx.groups:
            dq, db, dh, info = g.batch.vjp(np.ascontiguousarray(w[g.idx]), cfg.deriv)
            _check_deriv(info)
            stats["vjp"] += 1
            n = dq.shape[1]
            if np_:
                acc("p", dq, g.idx, bp, (n,))
            if nh and has_G:
                acc("h", dh, g.idx, bh, (dh.shape[1],))
            if nb and has_A:
                acc("b", db, g.idx, bb, (db.shape[1],))
            want = (nQ, nA and has_A, nG and has_G)
            if any(want):
                Ps, As, Gs = g.specs
                per = bQ or bG or bA
                dPx, dAx, dGx = g.batch.matrix_grads(dq, db, dh, not per, *want)
                for key, spec, gx_, need, batched in (("Q", Ps, dPx, nQ, bQ),
                                                      ("A", As, dAx, want[1], bA),
                                                      ("G", Gs, dGx, want[2], bG)):
                    if not need:
                        continue
                    D = spec.grad_to_source(gx_)
                    if not per:
                        D = D[None]
                    if batched:
                        acc(key, D, g.idx, True, spec.shape)
                    else:
                        acc(key, D, g.idx, False, spec.shape)
        res = [None]
        for key, i, need in (("Q", 0, nQ), ("p", 1, np_), ("G", 2, nG), ("h", 3, nh),
                             ("A", 4, nA), ("b", 5, nb)):
            sh = ctx.in_shapes[i]
            if not need or sh is None or key not in outs:
                res.append(None)
                continue
            shape, dt = sh
            v = outs[key]
            if len(shape) > v.ndim:  # never: shared inputs are summed
                v = v[None]
            if v.ndim == len(shape) and shape[0] == 1 and v.shape[0] != 1:
                v = v.sum(axis=0, keepdims=True)
            res.append(torch.from_numpy(np.ascontiguousarray(v)).to(device=gx.device, dtype=dt))
        return tuple(res)


# ---------------------------------------------------------------------------
# QPLayer (fixed or learnable matrices, factor kept between calls)
# ---------------------------------------------------------------------------

class _Token:
    """Held by an autograd context while its backward may still run."""
    __slots__ = ("__weakref__",)


class _PoolEntry:
    __slots__ = ("batch", "vals", "owner")

    def __init__(self, batch, vals):
        self.batch, self.vals, self.owner = batch, vals, None

    def free(self):
        return self.owner is None or self.owner() is None


def _is_learnable(learnable, name):
    if isinstance(learnable, bool):
        return learnable
    if isinstance(learnable, str):
        return name in learnable.split(",") or learnable == name
    return name in learnable


class QPLayer(torch.nn.Module):
    """min 1/2 x'Px + q'x s.t. Ax = b, Gx <= h with P, A, G fixed at
    construction (their patterns) and q, b, h the inputs:
    ``x = layer(q, b=None, h=None)``, q of shape (n,) or (B, n).

    P, A, G: dense tensors/arrays, torch sparse (COO coalesced, CSR, CSC) or
    scipy.sparse. learnable: False, True, or a collection of names among
    'P', 'A', 'G': those become nn.Parameters — the dense matrix itself for a
    dense input (parameter ``P``), else its values on the pattern in the
    input's order (parameter ``P_values``; for scipy input the canonical CSC
    order). When they change, the C batch is refactored in place
    (altdiff_batch_update_matrices), never re-analyzed. A dense input's pattern
    is every entry when learnable, its nonzeros otherwise.

    Other keywords: eps, mode, deriv_eps, on_failure, max_iter and
    altdiff_settings fields, as for QPFunction. The C batches (one per batch
    size in use) keep their iterates: consecutive calls are warm-started
    unless warm_start=False.
    """

    def __init__(self, P, A=None, G=None, learnable=False, eps=1e-6, mode=None,
                 deriv_eps=None, on_failure="raise", max_iter=None, warm_start=True,
                 verbose=0, deriv_max_iter=None, **settings):
        super().__init__()
        _check_policy(on_failure)
        self.settings = _solver_settings(eps, verbose, max_iter, settings)
        self.deriv = deriv_settings(mode, eps=deriv_eps if deriv_eps is not None else eps,
                                    max_iter=deriv_max_iter)
        self.on_failure = on_failure
        self.warm_start = warm_start
        self._specs = {}
        self._attr = {}
        n = None
        for name, M, sym in (("P", P, True), ("A", A, False), ("G", G, False)):
            if M is None or (isinstance(M, torch.Tensor) and M.numel() == 0):
                self._specs[name] = None
                continue
            learn = _is_learnable(learnable, name)
            spec, src = spec_from_input(name, M, sym=sym, full=learn)
            if n is None:
                n = spec.shape[1]
            if spec.shape[1] != n or (sym and spec.shape[0] != n):
                raise ValueError(f"QPLayer: {name} has shape {spec.shape}, n = {n}")
            dtype = M.dtype if isinstance(M, torch.Tensor) and M.dtype.is_floating_point \
                else torch.float64
            t = torch.as_tensor(np.array(src), dtype=dtype)
            attr = name if spec.kind == "dense" else name + "_values"
            if learn:
                setattr(self, attr, torch.nn.Parameter(t))
            else:
                self.register_buffer(attr, t)
            self._specs[name] = spec
            self._attr[name] = attr
        self.n = n
        self.m = self._specs["A"].shape[0] if self._specs["A"] else 0
        self.p = self._specs["G"].shape[0] if self._specs["G"] else 0
        self._pool = {}

    def _src(self, name):
        return getattr(self, self._attr[name]) if self._specs[name] is not None else None

    def matrix(self, name):
        """The current matrix `name` as a scipy.sparse CSC matrix (as passed to C)."""
        spec = self._specs[name]
        if spec is None:
            return None
        return spec.scipy_matrix(spec.csc_values(_np(self._src(name))))

    def _acquire(self, B, vals, h0):
        entries = self._pool.setdefault(B, [])
        for e in entries:
            if e.free():
                changed = [not np.array_equal(a, b) if a is not None else False
                           for a, b in zip(vals, e.vals)]
                if any(changed):
                    # every block, not only those changed: C keeps the scaled
                    # matrices only, and a block passed as None would be
                    # recovered from them (round-off, drifting over updates)
                    e.batch.update_matrices(*vals)
                    e.vals = vals
                if not self.warm_start:
                    e.batch.cold_start()
                return e
        P, A, G = (self._specs[k] for k in "PAG")
        q0 = np.zeros(self.n)
        b0 = np.zeros(self.m) if self.m else None
        batch = make_batch(B, self.n, self.m, self.p, P.csc_tuple(vals[0]),
                            A.csc_tuple(vals[1]) if A else None,
                            G.csc_tuple(vals[2]) if G else None, q0, b0, h0, self.settings)
        stats["setup"] += 1
        e = _PoolEntry(batch, vals)
        entries.append(e)
        return e

    def forward(self, q, b=None, h=None):
        if self.m and b is None:
            raise ValueError("QPLayer: b is required (the layer has A)")
        if self.p and h is None:
            raise ValueError("QPLayer: h is required (the layer has G)")
        e = torch.empty(0, dtype=q.dtype, device=q.device)
        srcs = [self._src(k) for k in "PAG"]
        return _LayerFn.apply(self, q, e if b is None else b, e if h is None else h,
                              *(e if s is None else s for s in srcs))


class _LayerFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, layer, q, b, h, Ps, As, Gs):
        n, m, p = layer.n, layer.m, layer.p
        qn = _np(q)
        bn = _np(b) if m else None
        hn = _np(h) if p else None
        for nm, v, L in (("q", qn, n), ("b", bn, m), ("h", hn, p)):
            if v is not None and (v.ndim not in (1, 2) or v.shape[-1] != L):
                raise ValueError(f"QPLayer: {nm} has shape {v.shape}, expected ({L},) or (B, {L})")
        Bs = {v.shape[0] for v in (qn, bn, hn) if v is not None and v.ndim == 2}
        Bs.discard(1)
        if len(Bs) > 1:
            raise ValueError(f"QPLayer: batch sizes differ: {sorted(Bs)}")
        B = Bs.pop() if Bs else 1
        squeeze = all(v is None or v.ndim == 1 for v in (qn, bn, hn))

        def rows(v):
            if v is None or v.ndim == 1:
                return v
            return v[0] if (v.shape[0] == 1 and B > 1) else v
        vals = tuple(layer._specs[k].csc_values(_np(s)) if layer._specs[k] is not None else None
                     for k, s in zip("PAG", (Ps, As, Gs)))
        h0 = None if hn is None else (hn if hn.ndim == 1 else hn[0])
        entry = layer._acquire(B, vals, h0)
        entry.batch.set_vectors(0, B, rows(qn), rows(bn), rows(hn))
        entry.batch.solve()
        x = entry.batch.solution()[0]
        status = entry.batch.info()["status"]
        bad = _failures(status, layer.on_failure, B)
        x[bad] = np.nan
        token = _Token()
        entry.owner = weakref.ref(token)
        ctx.token = token
        ctx.entry = entry
        ctx.layer = layer
        ctx.bad = bad
        ctx.B = B
        ctx.shapes = [(t.shape, t.dtype) if t.numel() else None for t in (q, b, h)]
        dtype = q.dtype if q.dtype.is_floating_point else torch.get_default_dtype()
        out = torch.from_numpy(x[0] if squeeze else x).to(device=q.device, dtype=dtype)
        return out

    @staticmethod
    def backward(ctx, gx):
        layer, entry, B = ctx.layer, ctx.entry, ctx.B
        w = _np(gx).reshape(B, layer.n).copy()
        w[ctx.bad] = 0.0
        w[~np.isfinite(w)] = 0.0
        dq, db, dh, info = entry.batch.vjp(w, layer.deriv)
        _check_deriv(info)
        stats["vjp"] += 1
        res = [None]
        for v, sh in zip((dq, db, dh), ctx.shapes):
            if sh is None:
                res.append(None)
                continue
            shape, dt = sh
            if len(shape) == 1:
                v = v.sum(axis=0)
            elif shape[0] == 1 and B > 1:
                v = v.sum(axis=0, keepdims=True)
            res.append(torch.from_numpy(np.ascontiguousarray(v)).to(device=gx.device, dtype=dt))
        need = ctx.needs_input_grad[4:7]
        want = tuple(bool(nd and layer._specs[k] is not None) for nd, k in zip(need, "PAG"))
        if any(want):
            g = entry.batch.matrix_grads(dq, db, dh, True, *want)
            for k, gk, wk in zip("PAG", g, want):
                if not wk:
                    res.append(None)
                    continue
                src = layer._src(k)
                D = layer._specs[k].grad_to_source(gk)
                res.append(torch.from_numpy(np.ascontiguousarray(D)).to(device=src.device,
                                                                         dtype=src.dtype))
        else:
            res += [None, None, None]
        return tuple(res)
