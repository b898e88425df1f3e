"""torch.autograd.gradcheck of QPFunction (all six inputs) and QPLayer in
every derivative mode, on small strictly complementary problems."""
import unittest

import numpy as np
import scipy.sparse as sp
import torch

import altdiff.torch as at
from qp_util import make_batch, make_qp

MODES = ["kkt", "gmres", "adjoint", "auto"]
GC = dict(eps=1e-4, atol=1e-5, rtol=1e-3)  # x is piecewise affine in q, b, h


def t(a, grad=True):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


class TestGradcheck(unittest.TestCase):
    def test_qpfunction_shared_all_modes(self):
        P, q, A, b, G, h, *_ = make_qp(n=5, m=2, p=4, seed=1)
        args = tuple(t(a) for a in (P, q, G, h, A, b))
        for mode in MODES:
            with self.subTest(mode=mode):
                f = at.QPFunction(eps=1e-10, mode=mode, deriv_eps=1e-12, deriv_max_iter=10**6)
                self.assertTrue(torch.autograd.gradcheck(f, args, **GC))

    def test_qpfunction_batched_all_modes(self):
        # Q and p batched (different Q per element), G, h, A, b shared or batched
        P, Q, A, Bv, G, H, _ = make_batch(2, n=4, m=1, p=3, seed=2)
        P2 = P + 0.3 * np.eye(4)
        Qb = np.stack([P, P2])
        args = (t(Qb), t(Q), t(G), t(H), t(A), t(Bv))
        for mode in MODES:
            with self.subTest(mode=mode):
                f = at.QPFunction(eps=1e-10, mode=mode, deriv_eps=1e-12, deriv_max_iter=10**6)
                self.assertTrue(torch.autograd.gradcheck(f, args, **GC))

    def test_qpfunction_batched_same_matrices(self):
        # batched matrices equal across elements: one group; shared vector q
        P, Q, A, Bv, G, H, _ = make_batch(3, n=4, m=1, p=3, seed=3)
        args = (t(np.stack([P] * 3)), t(Q[0]), t(np.stack([G] * 3)), t(H), t(A), t(Bv))
        f = at.QPFunction(eps=1e-10, mode="kkt")
        self.assertTrue(torch.autograd.gradcheck(f, args, **GC))


# gradcheck through the layer's parameters
try:
    from torch.func import functional_call
except ImportError:  # torch < 2.0
    from torch.nn.utils.stateless import functional_call


def _fn_factory(layer):
    names = [nm for nm, _ in layer.named_parameters()]

    def fn(q, b, h, *ps):
        return functional_call(layer, dict(zip(names, ps)), (q, b, h))
    return fn



class TestLayerGradcheck(unittest.TestCase):
    def test_qplayer_learnable(self):
        P, Q, A, Bv, G, H, _ = make_batch(3, n=5, m=2, p=4, seed=4)
        for mode in MODES:
            for kind in ("dense", "scipy", "coo", "csr", "csc"):
                with self.subTest(mode=mode, kind=kind):
                    if kind == "dense":
                        mats = [torch.tensor(M) for M in (P, A, G)]
                    elif kind == "scipy":
                        mats = [sp.csc_matrix(M) for M in (np.triu(P), A, G)]
                    else:
                        mats = [torch.tensor(M).to_sparse() for M in (np.triu(P), A, G)]
                        if kind == "csr":
                            mats = [M.to_sparse_csr() for M in mats]
                        if kind == "csc":
                            mats = [M.to_dense().to_sparse_csc() for M in mats]
                    layer = at.QPLayer(*mats, learnable=True, eps=1e-10, mode=mode,
                                       deriv_eps=1e-12, deriv_max_iter=10**6)
                    params = [p for _, p in layer.named_parameters()]
                    self.assertEqual(len(params), 3)
                    ins = (t(Q), t(Bv), t(H)) + tuple(p.detach().clone().requires_grad_()
                                                      for p in params)
                    self.assertTrue(torch.autograd.gradcheck(_fn_factory(layer), ins, **GC))


if __name__ == "__main__":
    unittest.main()
