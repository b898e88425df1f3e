"""Batched-P dense QP (qpth's per-element Q): QPFunction on one C batch with
matrices per element (shared analysis, one numeric factorization each,
threads 1 or 2) against one C batch per element (a setup each: the
per-group path, per_element_matrices=False). Setup + forward + backward,
the median of --reps runs.

    PYTHONPATH=build/python OPENBLAS_NUM_THREADS=1 /usr/bin/python3 python/bench_permat.py \
        [--n 100 --m 50 --p 50 --B 64 --reps 3]
"""
import argparse
import os
import sys
import time

_here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _here]

import numpy as np
import torch

from altdiff.torch import QPFunction


def batched_p_problem(B, n, m, p, seed=0):
    """Q_k = M_k'M_k / n + 0.1 I per element; shared G, A; qpth's dense QP vectors."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((B, n, n))
    Q = np.einsum("kij,kil->kjl", M, M) / n + 0.1 * np.eye(n)
    A = rng.standard_normal((m, n))
    G = rng.standard_normal((p, n))
    x0 = rng.standard_normal(n)
    q = rng.standard_normal((B, n))
    return [torch.tensor(a) for a in (Q, q, G, G @ x0 + rng.random(p), A, A @ x0)]


def one_run(f, args, w):
    ins = [a.clone().requires_grad_() for a in args]
    t0 = time.perf_counter()
    x = f(*ins)
    t1 = time.perf_counter()
    (x * w).sum().backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, x.detach().numpy(), ins[0].grad.numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--m", type=int, default=50)
    ap.add_argument("--p", type=int, default=50)
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    args = batched_p_problem(a.B, a.n, a.m, a.p)
    w = torch.tensor(np.random.default_rng(1).standard_normal((a.B, a.n)))
    configs = [("separate setups (per group)", dict(per_element_matrices=False)),
               ("per-element matrices, threads 1", dict(threads=1)),
               ("per-element matrices, threads 2", dict(threads=2))]
    ref = None
    for name, kw in configs:
        f = QPFunction(eps=1e-6, **kw)
        runs = [one_run(f, args, w) for _ in range(a.reps)]
        fw = np.median([r[0] for r in runs])
        bw = np.median([r[1] for r in runs])
        tot = np.median([r[0] + r[1] for r in runs])
        x, g = runs[0][2], runs[0][3]
        if ref is None:
            ref = (x, g)
        dx = np.abs(x - ref[0]).max()
        cos = float((g * ref[1]).sum() / np.linalg.norm(g) / np.linalg.norm(ref[1]))
        print(f"{name:34s} setup+forward {fw:7.3f} s  backward {bw:7.3f} s  total {tot:7.3f} s"
              f"  (|dx| {dx:.1e}, grad Q cosine {cos:.6f})", flush=True)


if __name__ == "__main__":
    main()
