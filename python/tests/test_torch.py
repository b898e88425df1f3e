"""altdiff.torch: QPFunction (qpth interface) and QPLayer behaviour."""
import unittest

import numpy as np
import scipy.sparse as sp
import torch

import altdiff
import altdiff.torch as at
from qp_util import make_batch, make_qp

T = lambda a, **kw: torch.tensor(np.asarray(a), dtype=torch.float64, **kw)


class TestQPFunction(unittest.TestCase):
    def setUp(self):
        self.P, self.Q, self.A, self.B, self.G, self.H, self.X = make_batch(6, n=6, m=2, p=5, seed=7)
        self.f = at.QPFunction(eps=1e-10, mode="kkt")

    def test_batch_vs_elements(self):
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        q = T(Q, requires_grad=True)
        x = self.f(T(P), q, T(G), T(H), T(A), T(Bv))
        self.assertEqual(tuple(x.shape), (6, 6))
        np.testing.assert_allclose(x.detach().numpy(), self.X, atol=1e-7)
        W = T(np.random.default_rng(0).standard_normal((6, 6)))
        (x * W).sum().backward()
        for k in range(6):
            qk = T(Q[k], requires_grad=True)
            xk = self.f(T(P), qk, T(G), T(H[k]), T(A), T(Bv[k]))
            self.assertEqual(tuple(xk.shape), (1, 6))  # qpth: always (B, n)
            np.testing.assert_allclose(xk.detach().numpy()[0], x.detach().numpy()[k], atol=1e-8)
            (xk[0] * W[k]).sum().backward()
            np.testing.assert_allclose(qk.grad.numpy(), q.grad.numpy()[k], atol=1e-8)

    def test_shared_vs_batched_arguments(self):
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        W = T(np.random.default_rng(1).standard_normal((6, 6)))
        shared = [T(a, requires_grad=True) for a in (P, Q, G, H, A, Bv)]
        batched = [T(np.stack([a] * 6) if i in (0, 2, 4) else a, requires_grad=True)
                   for i, a in enumerate((P, Q, G, H, A, Bv))]
        xs = self.f(*shared)
        xb = self.f(*batched)
        np.testing.assert_allclose(xs.detach().numpy(), xb.detach().numpy(), atol=1e-9)
        (xs * W).sum().backward()
        (xb * W).sum().backward()
        for i in (0, 2, 4):  # batched matrix gradients sum to the shared one
            np.testing.assert_allclose(batched[i].grad.sum(0).numpy(), shared[i].grad.numpy(),
                                       atol=1e-8)
        # different matrices per element: one batch per group; same as separate calls
        Qb = np.stack([P + 0.1 * k * np.eye(6) for k in range(6)])
        Qt = T(Qb, requires_grad=True)
        x = self.f(Qt, T(Q), T(G), T(H), T(A), T(Bv))
        (x * W).sum().backward()
        for k in (0, 3):
            Qk = T(Qb[k], requires_grad=True)
            xk = self.f(Qk, T(Q[k]), T(G), T(H[k]), T(A), T(Bv[k]))
            (xk[0] * W[k]).sum().backward()
            np.testing.assert_allclose(xk.detach().numpy()[0], x.detach().numpy()[k], atol=1e-8)
            np.testing.assert_allclose(Qk.grad.numpy(), Qt.grad.numpy()[k], atol=1e-8)

    def test_per_element_matrices_one_batch(self):
        # qpth's per-element Q, G, A: one C batch with matrices per element,
        # equal to the former one-batch-per-group path and to single solves
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        rng = np.random.default_rng(5)
        Qb = np.stack([P + 0.2 * k * np.eye(6) for k in range(6)])
        Gb = np.stack([G * (1 + 0.1 * rng.random(G.shape)) for _ in range(6)])
        Ab = np.stack([A + 0.05 * rng.standard_normal(A.shape) for _ in range(6)])
        W = T(rng.standard_normal((6, 6)))
        runs = {}
        for name, kw in (("per_element", {}), ("threads2", {"threads": 2}),
                         ("groups", {"per_element_matrices": False})):
            f = at.QPFunction(eps=1e-10, mode="kkt", **kw)
            args = [T(a, requires_grad=True) for a in (Qb, Q, Gb, H, Ab, Bv)]
            n0 = at.stats["setup"]
            x = f(*args)
            runs[name] = (x.detach().numpy(), args)
            self.assertEqual(at.stats["setup"] - n0, 6 if name == "groups" else 1)
            (x * W).sum().backward()
        xp, ap = runs["per_element"]
        for name in ("threads2", "groups"):
            xo, ao = runs[name]
            np.testing.assert_allclose(xo, xp, atol=1e-8)
            for a, b in zip(ao, ap):
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-7)
        xt, at2 = runs["threads2"]  # threads: bit-identical
        self.assertTrue(np.array_equal(xt, xp))
        self.assertTrue(all(np.array_equal(a.grad.numpy(), b.grad.numpy()) for a, b in zip(at2, ap)))
        for k in (0, 4):  # single solves
            args = [T(a[k], requires_grad=True) for a in (Qb, Q, Gb, H, Ab, Bv)]
            xk = self.f(*args)
            (xk[0] * W[k]).sum().backward()
            np.testing.assert_allclose(xk.detach().numpy()[0], xp[k], atol=1e-8)
            for a, b in zip(args, ap):
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy()[k], atol=1e-7)

    def test_per_element_indefinite_element(self):
        # an element with an indefinite Q fails alone (NONCONVEX), the others solve
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        Qb = np.stack([P + 0.1 * k * np.eye(6) for k in range(6)])
        Qb[2] = -10 * np.eye(6)
        f = at.QPFunction(eps=1e-10, mode="kkt", on_failure="nan")
        q = T(Q, requires_grad=True)
        x = f(T(Qb), q, T(G), T(H), T(A), T(Bv))
        self.assertTrue(np.all(np.isnan(x.detach().numpy()[2])))
        self.assertTrue(np.all(np.isfinite(x.detach().numpy()[[0, 1, 3, 4, 5]])))
        x.nan_to_num().sum().backward()
        self.assertTrue(np.all(q.grad.numpy()[2] == 0))
        with self.assertRaises(altdiff.AltDiffError):
            at.QPFunction(eps=1e-10)(T(Qb), T(Q), T(G), T(H), T(A), T(Bv))
        Qb[[0, 2]] = Qb[[2, 0]]  # the first element indefinite: still alone
        x0 = f(T(Qb), T(Q[[2, 1, 0, 3, 4, 5]]), T(G), T(H[[2, 1, 0, 3, 4, 5]]), T(A),
               T(Bv[[2, 1, 0, 3, 4, 5]])).detach().numpy()
        self.assertTrue(np.all(np.isnan(x0[0])))
        np.testing.assert_allclose(x0[[2, 1, 3, 4, 5]], x.detach().numpy()[[0, 1, 3, 4, 5]],
                                   atol=1e-8)

    def test_absent_blocks_and_size_one_batch(self):
        P, Q = self.P, self.Q
        e = torch.Tensor()
        x = self.f(T(P), T(Q), e, e, e, e)
        np.testing.assert_allclose(x.numpy(), -np.linalg.solve(P, Q.T).T, atol=1e-8)
        x1 = self.f(T(P[None]), T(Q), T(self.G[None]), T(self.H[:1]), e, e)  # size-1 broadcasts
        self.assertEqual(tuple(x1.shape), (6, 6))

    def test_float32(self):
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        args32 = [torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in (P, Q, G, H, A, Bv)]
        x = self.f(*args32)
        self.assertEqual(x.dtype, torch.float32)
        np.testing.assert_allclose(x.detach().numpy(), self.X, atol=1e-5)
        x.sum().backward()
        for a in args32:
            self.assertEqual(a.grad.dtype, torch.float32)
        layer = at.QPLayer(torch.tensor(P, dtype=torch.float32), torch.tensor(A, dtype=torch.float32),
                           torch.tensor(G, dtype=torch.float32), learnable=True, eps=1e-10)
        q = torch.tensor(Q, dtype=torch.float32, requires_grad=True)
        x = layer(q, torch.tensor(Bv, dtype=torch.float32), torch.tensor(H, dtype=torch.float32))
        self.assertEqual(x.dtype, torch.float32)
        x.sum().backward()
        self.assertEqual(q.grad.dtype, torch.float32)
        self.assertEqual(layer.P.grad.dtype, torch.float32)

    def test_retain_graph_and_no_grad(self):
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        q = T(Q, requires_grad=True)
        x = self.f(T(P), q, T(G), T(H), T(A), T(Bv))
        x.sum().backward(retain_graph=True)
        g1 = q.grad.clone()
        x.sum().backward()
        np.testing.assert_allclose(q.grad.numpy(), 2 * g1.numpy(), atol=1e-12)
        n0 = at.stats["vjp"]
        with torch.no_grad():
            y = self.f(T(P), q, T(G), T(H), T(A), T(Bv))
            layer = at.QPLayer(T(P), T(A), T(G), learnable=True)
            layer(q, T(Bv), T(H))
        self.assertFalse(y.requires_grad)
        self.assertEqual(at.stats["vjp"], n0)


class TestQPLayer(unittest.TestCase):
    def setUp(self):
        self.P, self.Q, self.A, self.B, self.G, self.H, self.X = make_batch(5, n=6, m=2, p=5, seed=8)

    def test_matches_qpfunction_and_inputs(self):
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        f = at.QPFunction(eps=1e-10, mode="kkt")
        ref = f(T(P), T(Q), T(G), T(H), T(A), T(Bv)).numpy()
        for mats in ([T(P), T(A), T(G)], [sp.csc_matrix(P), sp.csr_matrix(A), sp.coo_matrix(G)],
                     [T(np.triu(P)).to_sparse(), T(A).to_sparse_csr(), T(G).to_sparse()],
                     [P, A, G]):
            layer = at.QPLayer(*mats, eps=1e-10, mode="kkt")
            x = layer(T(Q), T(Bv), T(H))
            np.testing.assert_allclose(x.detach().numpy(), ref, atol=1e-8)
            x1 = layer(T(Q[2]), T(Bv[2]), T(H[2]))  # single problem -> (n,)
            self.assertEqual(tuple(x1.shape), (6,))
            np.testing.assert_allclose(x1.detach().numpy(), ref[2], atol=1e-8)

    def test_reuses_factor_and_updates_matrices(self):
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        layer = at.QPLayer(T(P), T(A), T(G), learnable=True, eps=1e-10)
        n0 = at.stats["setup"]
        for _ in range(3):
            layer(T(Q), T(Bv), T(H))
        self.assertEqual(at.stats["setup"], n0 + 1)  # one C batch for B = 5
        with torch.no_grad():
            layer.P.add_(torch.eye(6))  # values change: refactor in place
        x = layer(T(Q), T(Bv), T(H))
        self.assertEqual(at.stats["setup"], n0 + 1)
        ref = altdiff.solve(P + np.eye(6), Q, A, Bv, G, H, eps_abs=1e-10, eps_rel=1e-10).x
        np.testing.assert_allclose(x.detach().numpy(), ref, atol=1e-8)

    def test_two_pending_graphs(self):
        # two forwards before any backward: the second gets its own C batch
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        layer = at.QPLayer(T(P), T(A), T(G), eps=1e-10, mode="kkt")
        q1, q2 = T(Q, requires_grad=True), T(Q[::-1].copy(), requires_grad=True)
        x1 = layer(q1, T(Bv), T(H))
        x2 = layer(q2, T(Bv), T(H))
        x2.sum().backward()
        x1.sum().backward()
        ref = T(Q, requires_grad=True)
        at.QPFunction(eps=1e-10, mode="kkt")(T(P), ref, T(G), T(H), T(A), T(Bv)).sum().backward()
        np.testing.assert_allclose(q1.grad.numpy(), ref.grad.numpy(), atol=1e-8)

    def test_learnable_gradient_fd(self):
        P, Q, A, Bv, G, H = self.P, self.Q, self.A, self.B, self.G, self.H
        Gs = sp.csc_matrix(G * (np.abs(G) > 0.3))
        layer = at.QPLayer(sp.csc_matrix(np.triu(P)), None, Gs, learnable=["G"], eps=1e-11,
                           mode="kkt")
        self.assertEqual([nm for nm, _ in layer.named_parameters()], ["G_values"])
        self.assertEqual(layer.G_values.shape[0], Gs.nnz)
        x = layer(T(Q), None, T(H))
        w = T(np.random.default_rng(0).standard_normal(x.shape))
        (x * w).sum().backward()
        g = layer.G_values.grad.numpy()
        e = 1e-5
        for k in (0, Gs.nnz // 2, Gs.nnz - 1):
            vals = layer.G_values.detach().clone()
            out = []
            for sgn in (1, -1):
                with torch.no_grad():
                    layer.G_values.copy_(vals)
                    layer.G_values[k] += sgn * e
                    out.append((layer(T(Q), None, T(H)) * w).sum().item())
            with torch.no_grad():
                layer.G_values.copy_(vals)
            self.assertAlmostEqual(g[k], (out[0] - out[1]) / (2 * e), delta=1e-5)


if __name__ == "__main__":
    unittest.main()
