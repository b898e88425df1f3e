"""Per-element failures (raise / nan policies) and C errors as exceptions."""
import unittest
import warnings

import numpy as np
import torch

import altdiff
import altdiff.torch as at

T = lambda a, **kw: torch.tensor(np.asarray(a), dtype=torch.float64, **kw)


def box_batch(B=4, n=4, bad=(2,)):
    """Projection onto boxes l <= x <= u; elements in `bad` have l > u."""
    rng = np.random.default_rng(0)
    P = np.eye(n)
    G = np.vstack([np.eye(n), -np.eye(n)])
    y = rng.standard_normal((B, n))
    l, u = -0.5 * np.ones((B, n)), 0.5 * np.ones((B, n))
    for k in bad:
        l[k, 1], u[k, 1] = 1.0, -1.0
    H = np.hstack([u, -l])
    return P, -y, G, H, np.clip(y, l, u)


class TestFailures(unittest.TestCase):
    def test_raise_names_elements(self):
        P, Q, G, H, X = box_batch()
        f = at.QPFunction(eps=1e-9)
        e = torch.Tensor()
        with self.assertRaises(altdiff.AltDiffError) as cm:
            f(T(P), T(Q), T(G), T(H), e, e)
        self.assertEqual(cm.exception.elements, [2])
        self.assertEqual(cm.exception.names, ["primal_infeasible"])
        self.assertIn("2: primal_infeasible", str(cm.exception))

    def test_nan_policy(self):
        P, Q, G, H, X = box_batch()
        e = torch.Tensor()
        for f in (at.QPFunction(eps=1e-9, on_failure="nan"),):
            q, h = T(Q, requires_grad=True), T(H, requires_grad=True)
            Gt = T(G, requires_grad=True)
            x = f(T(P), q, Gt, h, e, e)
            self.assertTrue(torch.isnan(x[2]).all())
            ok = [0, 1, 3]
            np.testing.assert_allclose(x.detach().numpy()[ok], X[ok], atol=1e-7)
            x.nan_to_num().sum().backward()  # NaN rows get zero gradients
            self.assertTrue((q.grad[2] == 0).all() and (h.grad[2] == 0).all())
            self.assertTrue(torch.isfinite(Gt.grad).all())
            # the others are unaffected: same gradients as without the bad element
            q2, h2, G2 = T(Q[ok], requires_grad=True), T(H[ok], requires_grad=True), T(G, requires_grad=True)
            f(T(P), q2, G2, h2, e, e).sum().backward()
            np.testing.assert_allclose(q.grad.numpy()[ok], q2.grad.numpy(), atol=1e-9)
            np.testing.assert_allclose(Gt.grad.numpy(), G2.grad.numpy(), atol=1e-9)
        layer = at.QPLayer(T(P), None, T(G), on_failure="nan", eps=1e-9)
        q = T(Q, requires_grad=True)
        x = layer(q, None, T(H))
        self.assertTrue(torch.isnan(x[2]).all() and torch.isfinite(x[[0, 1, 3]]).all())
        x.nan_to_num().sum().backward()
        self.assertTrue((q.grad[2] == 0).all())
        layer_r = at.QPLayer(T(P), None, T(G), eps=1e-9)
        with self.assertRaisesRegex(altdiff.AltDiffError, "1 of 4 batch elements"):
            layer_r(q, None, T(H))

    def test_numpy_level(self):
        P, Q, G, H, X = box_batch()
        r = altdiff.solve(P, Q, G=G, h=H)
        self.assertEqual(r.status_names[2], "primal_infeasible")
        self.assertEqual(list(r.ok), [True, True, False, True])
        g = r.vjp(np.ones(4))
        self.assertTrue((g.dq[2] == 0).all())

    def test_c_errors(self):
        P, Q, G, H, X = box_batch()
        e = torch.Tensor()
        with self.assertRaisesRegex(RuntimeError, "not positive definite"):
            at.QPFunction()(T(-P), T(Q), T(G), T(H), e, e)
        with self.assertRaisesRegex(ValueError, "invalid setting.*rho"):
            at.QPFunction(rho=0.0)(T(P), T(Q), T(G), T(H), e, e)
        with self.assertRaisesRegex(TypeError, "unknown setting 'rhoo'"):
            at.QPFunction(rhoo=1.0)
        with self.assertRaisesRegex(ValueError, "h has NaN|q has NaN|invalid"):
            altdiff.solve(P, Q[0] * np.nan, G=G, h=H[0])
        layer = at.QPLayer(T(P), None, T(G))
        with self.assertRaisesRegex(ValueError, "h has shape"):
            layer(T(Q), None, T(H[:, :3]))
        with self.assertRaisesRegex(ValueError, "on_failure"):
            at.QPFunction(on_failure="ignore")


if __name__ == "__main__":
    unittest.main()
