"""Matrices given by the user (NumPy/torch dense, scipy.sparse, torch sparse
COO/CSR/CSC) as a fixed CSC pattern for the C library, and the way back
from the library's gradients (values on that pattern) to the user's form.

Conventions:
* dense input: the pattern is every entry ("full") or the nonzeros; the
  gradient comes back as a dense matrix of the input's shape. For P (sym=True)
  the library gets the upper triangle of (P + P')/2, and the gradient with
  respect to the dense P is the symmetric dL/dP_ij = 1/2 (dq_i x_j + x_i dq_j)
  (as qpth), so that perturbing one entry P_ij is differentiated exactly.
* sparse input: the pattern is the stored entries (explicit zeros kept); the
  values in the user's order ("source order") map to CSC order by a
  permutation; the gradient comes back in source order (or as a scipy.sparse
  matrix with the same pattern). P given sparse is passed as given (upper,
  lower or both triangles, see altdiff.h).
"""
import numpy as np

try:  # scipy is a dependency of the package, but keep the import cheap
    import scipy.sparse as _sp
except ImportError:  # pragma: no cover
    _sp = None


def _is_torch(x):
    return type(x).__module__.startswith("torch")


class MatrixSpec:
    """A matrix's pattern in CSC form plus the map from/to the user's form."""

    def __init__(self, name, nrow, ncol, indptr, indices, kind, sym=False,
                 perm=None, rows=None, cols=None, sparse_format=None):
        self.name = name
        self.shape = (int(nrow), int(ncol))
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int64)
        self.kind = kind            # 'dense' or 'sparse'
        self.sym = sym
        self.perm = perm            # sparse: CSC position k <- source value perm[k]
        self.rows, self.cols = rows, cols  # dense: CSC position k <- M[rows[k], cols[k]]
        self.sparse_format = sparse_format  # 'scipy' or a torch layout name
        self.nnz = int(self.indptr[-1]) if len(self.indptr) else 0

    # -- construction ----------------------------------------------------
    @classmethod
    def dense(cls, name, M, sym=False, full=True):
        """M: 2-D float64 array (only its shape and, when not full, its
        nonzeros are used)."""
        nrow, ncol = M.shape
        if sym:
            if full:
                r, c = np.triu_indices(nrow)
            else:
                S = M + M.T
                r, c = np.nonzero(np.triu(S))
        else:
            if full:
                c, r = np.meshgrid(np.arange(ncol), np.arange(nrow), indexing="ij")
                r, c = r.ravel(), c.ravel()
            else:
                r, c = np.nonzero(M)
        order = np.lexsort((r, c))
        r, c = r[order].astype(np.int64), c[order].astype(np.int64)
        indptr = np.zeros(ncol + 1, dtype=np.int64)
        np.cumsum(np.bincount(c, minlength=ncol), out=indptr[1:])
        return cls(name, nrow, ncol, indptr, r, "dense", sym=sym, rows=r, cols=c)

    @classmethod
    def from_coords(cls, name, nrow, ncol, r, c, sym=False, sparse_format=None):
        r = np.asarray(r, dtype=np.int64)
        c = np.asarray(c, dtype=np.int64)
        if len(r) and (r.min() < 0 or r.max() >= nrow or c.min() < 0 or c.max() >= ncol):
            raise ValueError(f"{name}: index out of range for shape ({nrow}, {ncol})")
        order = np.lexsort((r, c))
        rs, cs = r[order], c[order]
        if len(rs) > 1 and np.any((rs[1:] == rs[:-1]) & (cs[1:] == cs[:-1])):
            raise ValueError(f"{name}: duplicate entries (coalesce the matrix first)")
        indptr = np.zeros(ncol + 1, dtype=np.int64)
        np.cumsum(np.bincount(cs, minlength=ncol), out=indptr[1:])
        return cls(name, nrow, ncol, indptr, rs, "sparse", sym=sym, perm=order,
                   sparse_format=sparse_format)

    # -- values ------------------------------------------------------------
    def csc_values(self, src):
        """src: dense 2-D array (kind dense) or 1-D values in source order.
        Returns the float64 values on the CSC pattern."""
        src = np.asarray(src, dtype=np.float64)
        if self.kind == "dense":
            if src.shape != self.shape:
                raise ValueError(f"{self.name} has shape {src.shape}, expected {self.shape}")
            if self.sym:
                return np.ascontiguousarray(0.5 * (src[self.rows, self.cols] + src[self.cols, self.rows]))
            return np.ascontiguousarray(src[self.rows, self.cols])
        if src.shape[-1] != self.nnz:
            raise ValueError(f"{self.name} has {src.shape[-1]} values, expected {self.nnz}")
        return np.ascontiguousarray(src[..., self.perm])

    def csc_tuple(self, vals):
        return (self.indptr, self.indices, vals)

    def grad_to_source(self, g):
        """g: (nnz,) or (B, nnz) gradient on the CSC values -> dense matrix
        (..., nrow, ncol) or values in source order (..., nnz)."""
        g = np.asarray(g, dtype=np.float64)
        lead = g.shape[:-1]
        if self.kind == "dense":
            D = np.zeros(lead + self.shape)
            if self.sym:
                half = 0.5 * g
                D[..., self.rows, self.cols] += half
                D[..., self.cols, self.rows] += half
            else:
                D[..., self.rows, self.cols] = g
            return D
        out = np.zeros(lead + (self.nnz,))
        out[..., self.perm] = g
        return out

    def scipy_matrix(self, vals):
        """CSC values -> scipy.sparse.csc_matrix on this pattern."""
        return _sp.csc_matrix((np.asarray(vals, dtype=np.float64), self.indices.copy(),
                               self.indptr.copy()), shape=self.shape)

    def direction_values(self, d):
        """A direction dM given as dense array / scipy.sparse / values -> CSC values."""
        if d is None:
            return None
        if _sp is not None and _sp.issparse(d):
            d = d.toarray()
        d = np.asarray(d, dtype=np.float64)
        if d.ndim == 2 and d.shape == self.shape:
            if self.kind == "sparse":
                rows = self.indices
                cols = np.repeat(np.arange(self.shape[1]), np.diff(self.indptr))
                return np.ascontiguousarray(d[rows, cols])
            return self.csc_values(d)
        if d.ndim == 1 and d.shape[0] == self.nnz:
            return self.csc_values(d) if self.kind == "sparse" else np.ascontiguousarray(d)
        raise ValueError(f"d{self.name}: expected shape {self.shape} or {self.nnz} values")


def spec_from_input(name, M, shape=None, sym=False, full=True):
    """(spec, source values as float64 numpy) for any supported input."""
    if M is None:
        return None, None
    if _sp is not None and _sp.issparse(M):
        C = _sp.csc_matrix(M, dtype=np.float64, copy=True)
        C.sum_duplicates()
        C.sort_indices()
        coo = C.tocoo()
        # canonical CSC order is the source order for scipy inputs
        spec = MatrixSpec.from_coords(name, C.shape[0], C.shape[1], coo.row, coo.col, sym=sym,
                                      sparse_format="scipy")
        vals = np.asarray(C.data, dtype=np.float64)
        _check_shape(spec, shape)
        return spec, vals
    if _is_torch(M):
        import torch
        if M.layout != torch.strided:
            rows, cols, vals = torch_sparse_coords(M)
            spec = MatrixSpec.from_coords(name, M.shape[0], M.shape[1], rows, cols, sym=sym,
                                          sparse_format=str(M.layout))
            _check_shape(spec, shape)
            return spec, vals
        M = M.detach().to("cpu", torch.float64).numpy()
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {M.shape}")
    spec = MatrixSpec.dense(name, M, sym=sym, full=full)
    _check_shape(spec, shape)
    return spec, M


def torch_sparse_coords(M):
    """(rows, cols, values float64 numpy) of a torch sparse matrix, in the
    order of its values tensor (coalesced for COO)."""
    import torch
    if M.layout == torch.sparse_coo:
        if not M.is_coalesced():
            raise ValueError("torch sparse COO matrices must be coalesced (M.coalesce())")
        idx = M.indices().cpu().numpy()
        rows, cols = idx[0], idx[1]
        vals = M.values()
    elif M.layout == torch.sparse_csr:
        crow = M.crow_indices().cpu().numpy()
        cols = M.col_indices().cpu().numpy()
        rows = np.repeat(np.arange(M.shape[0]), np.diff(crow))
        vals = M.values()
    elif M.layout == torch.sparse_csc:
        ccol = M.ccol_indices().cpu().numpy()
        rows = M.row_indices().cpu().numpy()
        cols = np.repeat(np.arange(M.shape[1]), np.diff(ccol))
        vals = M.values()
    else:
        raise TypeError(f"unsupported torch layout {M.layout}")
    return rows, cols, vals.detach().to("cpu", torch.float64).numpy()


def _check_shape(spec, shape):
    if shape is not None and spec.shape != tuple(shape):
        raise ValueError(f"{spec.name} has shape {spec.shape}, expected {tuple(shape)}")
