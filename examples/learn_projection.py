"""Learn the cost vector of a projection layer by gradient descent.

The layer projects y + c onto the capped simplex {0 <= x <= 1, sum x = k}:

    x(y; c) = argmin 1/2 |x|^2 - (y + c)'x   s.t.   1'x = k,  0 <= x <= 1

with c unknown. From inputs y_i and targets x(y_i; c_true) we fit c by Adam
through altdiff.torch.QPLayer (matrices fixed, q = -(y + c) the input). c is
only identifiable up to a constant shift (absorbed by the multiplier of
1'x = k) and only on the coordinates that some target has strictly between
0 and 1, so we report the fit of the outputs and of c there, up to a shift.

    PYTHONPATH=build/python /usr/bin/python3 examples/learn_projection.py
"""
import time

import numpy as np
import scipy.sparse as sp
import torch

from altdiff.torch import QPLayer


def run(n=20, k=5, B=64, steps=300, seed=0, verbose=True):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    P = sp.identity(n, format="csc")
    A = sp.csc_matrix(np.ones((1, n)))
    G = sp.vstack([sp.identity(n), -sp.identity(n)], format="csc")
    layer = QPLayer(P, A, G, eps=1e-8, mode="kkt")
    b = torch.full((1,), float(k), dtype=torch.float64)
    h = torch.cat([torch.ones(n), torch.zeros(n)]).double()

    c_true = torch.tensor(rng.standard_normal(n))
    Y = torch.tensor(rng.standard_normal((B, n))) * 0.5
    with torch.no_grad():
        X = layer(-(Y + c_true), b, h)

    c = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([c], lr=0.05)
    t0 = time.perf_counter()
    for it in range(steps):
        opt.zero_grad()
        loss = ((layer(-(Y + c), b, h) - X) ** 2).mean()
        loss.backward()
        opt.step()
        if verbose and (it % 50 == 0 or it == steps - 1):
            print(f"step {it:4d}  loss {loss.item():.3e}")
        if loss.item() < 1e-10:
            break
    secs = time.perf_counter() - t0
    # c_i is seen only through samples where x_i is strictly between 0 and 1
    seen = ((X > 1e-6) & (X < 1 - 1e-6)).any(0)
    d = (c - c_true).detach()[seen]
    err_c = (d - d.mean()).abs().max().item()
    if verbose:
        print(f"{it + 1} steps in {secs:.2f} s; final loss {loss.item():.2e}; "
              f"max |c - c_true| (up to a shift, on the {int(seen.sum())} coordinates "
              f"the targets determine) {err_c:.2e}")
    return loss.item(), err_c, secs


if __name__ == "__main__":
    run()
