"""NumPy/SciPy level: altdiff.solve, Result.vjp / jvp."""
import unittest

import numpy as np
import scipy.sparse as sp

import altdiff
from qp_util import make_batch, make_qp

TIGHT = dict(eps_abs=1e-10, eps_rel=1e-10)


class TestSolve(unittest.TestCase):
    def test_version(self):
        self.assertRegex(altdiff.__version__, r"^\d+\.\d+\.\d+$")

    def test_single_known_solution(self):
        P, q, A, b, G, h, x, lam, nu = make_qp()
        r = altdiff.solve(P, q, A, b, G, h, **TIGHT)
        self.assertEqual(r.status, altdiff.SOLVED)
        self.assertEqual(r.status_names, "solved")
        self.assertTrue(r.ok)
        np.testing.assert_allclose(r.x, x, atol=1e-7)
        np.testing.assert_allclose(r.lam, lam, atol=1e-6)
        np.testing.assert_allclose(r.nu, nu, atol=1e-6)
        self.assertEqual(r.x.shape, (5,))
        self.assertLess(r.residuals["r_prim"], 1e-8)
        self.assertGreater(r.iterations, 0)
        self.assertIn("iterate", r.timing)

    def test_batch_vs_single(self):
        P, Q, A, Bv, G, H, X = make_batch(7)
        r = altdiff.solve(P, Q, A, Bv, G, H, **TIGHT)
        self.assertEqual(r.x.shape, (7, 5))
        self.assertEqual(list(r.status), [altdiff.SOLVED] * 7)
        np.testing.assert_allclose(r.x, X, atol=1e-7)
        W = np.random.default_rng(1).standard_normal((7, 5))
        gb = r.vjp(W, mode="kkt")
        dP = np.zeros((5, 5))
        for k in range(7):
            rk = altdiff.solve(P, Q[k], A, Bv[k], G, H[k], **TIGHT)
            np.testing.assert_allclose(rk.x, r.x[k], atol=1e-8)
            gk = rk.vjp(W[k], mode="kkt")
            np.testing.assert_allclose(gk.dq, gb.dq[k], atol=1e-7)
            np.testing.assert_allclose(gk.db, gb.db[k], atol=1e-7)
            np.testing.assert_allclose(gk.dh, gb.dh[k], atol=1e-7)
            dP += gk.dP
            dxk = rk.jvp(dq=W[k], dh=np.ones(4), mode="kkt")
            dxb = r.jvp(dq=W, dh=np.ones(4), mode="kkt")
            np.testing.assert_allclose(dxk, dxb[k], atol=1e-7)
        np.testing.assert_allclose(gb.dP, dP, atol=1e-6)  # summed over the batch

    def test_shared_vector_broadcast(self):
        P, Q, A, Bv, G, H, X = make_batch(3)
        r = altdiff.solve(P, Q[0], A, Bv, G, H[0], **TIGHT)  # q, h shared, b batched
        self.assertEqual(r.x.shape, (3, 5))
        for k in range(3):
            rk = altdiff.solve(P, Q[0], A, Bv[k], G, H[0], **TIGHT)
            np.testing.assert_allclose(rk.x, r.x[k], atol=1e-8)

    def test_sparse_vs_dense(self):
        P, q, A, b, G, h, x, _, _ = make_qp(seed=3)
        rd = altdiff.solve(P, q, A, b, G, h, **TIGHT)
        for fmt in (sp.csc_matrix, sp.csr_matrix, sp.coo_matrix):
            rs = altdiff.solve(fmt(P), q, fmt(A), b, fmt(G), h, **TIGHT)
            np.testing.assert_allclose(rs.x, rd.x, atol=1e-8)
            w = np.arange(5.0)
            gd, gs = rd.vjp(w, mode="kkt"), rs.vjp(w, mode="kkt")
            np.testing.assert_allclose(gs.dq, gd.dq, atol=1e-8)
            self.assertTrue(sp.issparse(gs.dP) and sp.issparse(gs.dA) and sp.issparse(gs.dG))
            np.testing.assert_allclose(gs.dA.toarray(), gd.dA, atol=1e-8)
            np.testing.assert_allclose(gs.dG.toarray(), gd.dG, atol=1e-8)
            np.testing.assert_allclose(gs.dP.toarray(), gd.dP, atol=1e-8)
        # upper triangle only: each stored off-diagonal entry stands for the pair
        ru = altdiff.solve(sp.triu(sp.csc_matrix(P)), q, A, b, G, h, **TIGHT)
        np.testing.assert_allclose(ru.x, rd.x, atol=1e-8)
        gu = ru.vjp(np.arange(5.0), mode="kkt").dP.toarray()
        gd = rd.vjp(np.arange(5.0), mode="kkt").dP
        np.testing.assert_allclose(gu, np.triu(gd + gd.T - np.diag(np.diag(gd))), atol=1e-8)

    def test_vjp_against_finite_differences(self):
        P, q, A, b, G, h, x, _, _ = make_qp(seed=4)
        w = np.random.default_rng(2).standard_normal(5)
        r = altdiff.solve(P, q, A, b, G, h, **TIGHT)
        for mode in ("kkt", "gmres", "adjoint", None):
            g = r.vjp(w, mode=mode, eps=1e-12)
            e = 1e-5
            for i in range(5):
                dq = np.zeros(5); dq[i] = e
                f = (w @ altdiff.solve(P, q + dq, A, b, G, h, **TIGHT).x -
                     w @ altdiff.solve(P, q - dq, A, b, G, h, **TIGHT).x) / (2 * e)
                self.assertAlmostEqual(g.dq[i], f, delta=1e-5)
            dG = np.zeros((4, 5)); dG[1, 2] = e
            f = (w @ altdiff.solve(P, q, A, b, G + dG, h, **TIGHT).x -
                 w @ altdiff.solve(P, q, A, b, G - dG, h, **TIGHT).x) / (2 * e)
            self.assertAlmostEqual(g.dG[1, 2], f, delta=1e-5)
            dP = np.zeros((5, 5)); dP[0, 3] = e
            f = (w @ altdiff.solve(P + dP, q, A, b, G, h, **TIGHT).x -
                 w @ altdiff.solve(P - dP, q, A, b, G, h, **TIGHT).x) / (2 * e)
            self.assertAlmostEqual(g.dP[0, 3], f, delta=1e-5)

    def test_jvp_matrix_direction(self):
        P, q, A, b, G, h, x, _, _ = make_qp(seed=5)
        r = altdiff.solve(P, q, A, b, G, h, **TIGHT)
        D = np.random.default_rng(3).standard_normal((4, 5))
        e = 1e-5
        fd = (altdiff.solve(P, q, A, b, G + e * D, h, **TIGHT).x -
              altdiff.solve(P, q, A, b, G - e * D, h, **TIGHT).x) / (2 * e)
        np.testing.assert_allclose(r.jvp(dG=D, mode="kkt"), fd, atol=1e-5)
        Gs = sp.csc_matrix(G)
        rs = altdiff.solve(P, q, A, b, Gs, h, **TIGHT)
        np.testing.assert_allclose(rs.jvp(dG=sp.csc_matrix(D), mode="kkt"), fd, atol=1e-5)

    def test_settings_and_errors(self):
        P, q, A, b, G, h, *_ = make_qp()
        with self.assertRaisesRegex(TypeError, "eps_absolute"):
            altdiff.solve(P, q, A, b, G, h, eps_absolute=1e-3)
        r = altdiff.solve(P, q, A, b, G, h, max_iter=10, eps_abs=1e-14, eps_rel=1e-14,
                          anderson=0, check_every=1)
        self.assertEqual(r.status_names, "max_iter")
        self.assertFalse(r.ok)
        with self.assertRaises(altdiff.AltDiffError) as cm:
            r.raise_failures()
        self.assertIn("max_iter", str(cm.exception))
        g = r.vjp(np.ones(5))  # not solved: zero gradients, status not_available
        self.assertTrue(np.all(g.dq == 0))
        self.assertEqual(int(g.info["status"][0]), altdiff._core.NOT_AVAILABLE)
        with self.assertRaisesRegex(ValueError, "rho"):
            altdiff.solve(P, q, A, b, G, h, rho=-1.0)
        with self.assertRaisesRegex(ValueError, "q has NaN"):
            altdiff.solve(P, q * np.nan, A, b, G, h)
        with self.assertRaisesRegex(ValueError, "G has 4 columns"):
            altdiff.solve(P, q, A, b, G[:, :4], h)
        with self.assertRaisesRegex(RuntimeError, "not positive"):
            altdiff.solve(-P, q, A, b, G, h)
        with self.assertRaisesRegex(ValueError, "batch sizes"):
            altdiff.solve(P, np.zeros((3, 5)), A, np.zeros((2, 2)), G, h)

    def test_no_constraints_and_inf_rows(self):
        P, q, A, b, G, h, *_ = make_qp()
        r = altdiff.solve(P, q, **TIGHT)
        np.testing.assert_allclose(r.x, np.linalg.solve(P, -q), atol=1e-8)
        h2 = h.copy(); h2[1] = np.inf
        r2 = altdiff.solve(P, q, A, b, G, h2, **TIGHT)
        self.assertTrue(r2.ok)


if __name__ == "__main__":
    unittest.main()
