"""Test problems with a known, strictly complementary solution."""
import numpy as np


def make_qp(n=5, m=2, p=4, seed=0, active=None):
    """(P, q, A, b, G, h, x, lam, nu): rows `active` of G are active with
    nu_i >= 0.5, the others have slack >= 0.5 (strict complementarity)."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    P = M @ M.T / n + np.eye(n)
    A = rng.standard_normal((m, n))
    G = rng.standard_normal((p, n))
    x = rng.standard_normal(n)
    lam = rng.standard_normal(m)
    if active is None:
        active = np.arange(p) % 2 == 0
    nu = np.where(active, 0.5 + rng.random(p), 0.0)
    s = np.where(active, 0.0, 0.5 + rng.random(p))
    q = -(P @ x + A.T @ lam + G.T @ nu)
    return P, q, A, A @ x, G, G @ x + s, x, lam, nu


def make_batch(B, n=5, m=2, p=4, seed=0):
    """Shared P, A, G; B (q, b, h) with known solutions."""
    P, _, A, _, G, _, _, _, _ = make_qp(n, m, p, seed)
    rng = np.random.default_rng(seed + 100)
    qs, bs, hs, xs = [], [], [], []
    for k in range(B):
        x = rng.standard_normal(n)
        lam = rng.standard_normal(m)
        act = rng.random(p) < 0.5
        nu = np.where(act, 0.5 + rng.random(p), 0.0)
        s = np.where(act, 0.0, 0.5 + rng.random(p))
        qs.append(-(P @ x + A.T @ lam + G.T @ nu))
        bs.append(A @ x)
        hs.append(G @ x + s)
        xs.append(x)
    return P, np.array(qs), A, np.array(bs), G, np.array(hs), np.array(xs)
