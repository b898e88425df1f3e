"""Time per batch vs B: the batch path of altdiff.torch.QPLayer against a
Python loop over single solves, forward and backward, on the paper's dense
QP (n, m, p) = (100, 50, 50) and sparsemax n = 1000; plus the binding's
overhead (forward + backward from Python vs the time spent inside the C
batch API, measured around the library calls by the extension:
Batch.c_seconds).

    PYTHONPATH=build/python OMP_NUM_THREADS=1 /usr/bin/python3 python/bench_batch.py \
        [--out results/python_batch] [--reps 3] [--sizes 1,16,64,256]

Writes OUT.csv and OUT.png (when matplotlib is installed: python3-matplotlib).
Every solve is cold-started (warm_start=False), at eps = 1e-6, derivatives in
the mode chosen by the library (auto).
"""
import argparse
import csv
import os
import sys
import time

# python/ holds the package's sources (without the built extension): import
# the built package from PYTHONPATH, not the sources next to this script
_here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _here]

import numpy as np
import scipy.sparse as sp
import torch

from altdiff.torch import QPLayer


def dense_problem(n=100, m=50, p=50, seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    P = M.T @ M + 1e-2 * np.eye(n)
    A = rng.standard_normal((m, n))
    G = rng.standard_normal((p, n))
    x0 = rng.standard_normal(n)
    b = A @ x0
    h = G @ x0 + rng.random(p)

    def qs(B, seed=1):
        return torch.tensor(np.random.default_rng(seed).standard_normal((B, n)))
    return dict(P=P, A=A, G=G), torch.tensor(b), torch.tensor(h), qs


def sparsemax_problem(n=1000):
    P = sp.identity(n, format="csc")
    A = sp.csc_matrix(np.ones((1, n)))
    G = -sp.identity(n, format="csc")

    def qs(B, seed=1):
        return -torch.tensor(np.random.default_rng(seed).standard_normal((B, n)) * 3)
    return dict(P=P, A=A, G=G), torch.ones(1, dtype=torch.float64), torch.zeros(n, dtype=torch.float64), qs


def entries(layer):
    return [e for es in layer._pool.values() for e in es]


def c_seconds(layer):
    return sum(e.batch.c_seconds for e in entries(layer))


def run_batch(layer, q, b, h, w):
    q = q.clone().requires_grad_()
    c0 = c_seconds(layer)
    t0 = time.perf_counter()
    x = layer(q, b, h)
    t1 = time.perf_counter()
    c1 = c_seconds(layer)
    (x * w).sum().backward()
    t2 = time.perf_counter()
    c2 = c_seconds(layer)
    return t1 - t0, t2 - t1, c1 - c0, c2 - c1


def run_loop(layer, q, b, h, w):
    q = q.clone().requires_grad_()
    c0 = c_seconds(layer)
    t0 = time.perf_counter()
    xs = [layer(q[k], b, h) for k in range(q.shape[0])]
    t1 = time.perf_counter()
    c1 = c_seconds(layer)
    torch.autograd.backward(xs, list(w))
    t2 = time.perf_counter()
    c2 = c_seconds(layer)
    return t1 - t0, t2 - t1, c1 - c0, c2 - c1


def median_runs(f, reps):
    rs = np.array([f() for _ in range(reps)])
    return np.median(rs, axis=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/python_batch")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sizes", default="1,16,64,256")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for name, make in (("dense (100, 50, 50)", dense_problem),
                       ("sparsemax n = 1000", sparsemax_problem)):
        mats, b, h, qs = make()
        layer = QPLayer(mats["P"], mats["A"], mats["G"], warm_start=False)
        for B in sizes:
            q = qs(B)
            w = torch.tensor(np.random.default_rng(2).standard_normal(q.shape))
            run_batch(layer, q, b, h, w)  # set-up of this B's C batch (not timed)
            fb, bb, cfb, cbb = median_runs(lambda: run_batch(layer, q, b, h, w), args.reps)
            run_loop(layer, q[:1], b, h, w[:1])
            fl, bl, cfl, cbl = median_runs(lambda: run_loop(layer, q, b, h, w), args.reps)
            row = dict(problem=name, B=B, batch_fwd=fb, batch_bwd=bb, batch_c_fwd=cfb,
                       batch_c_bwd=cbb, loop_fwd=fl, loop_bwd=bl, loop_c_fwd=cfl, loop_c_bwd=cbl)
            rows.append(row)
            ov = (fb + bb) / (cfb + cbb) - 1
            print(f"{name:22s} B={B:4d}  batch fwd {fb * 1e3:8.2f} ms bwd {bb * 1e3:8.2f} ms "
                  f"(C {1e3 * (cfb + cbb):8.2f} ms, binding overhead {100 * ov:5.1f}%)   "
                  f"loop fwd {fl * 1e3:8.2f} ms bwd {bl * 1e3:8.2f} ms", flush=True)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (python3-matplotlib): no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, name in zip(axes, dict.fromkeys(r["problem"] for r in rows)):
        rs = [r for r in rows if r["problem"] == name]
        Bs = [r["B"] for r in rs]
        for key, lab, st in (("batch", "batch (one C batch)", "-o"),
                             ("loop", "Python loop over single solves", "-s")):
            ax.loglog(Bs, [r[key + "_fwd"] + r[key + "_bwd"] for r in rs], st,
                      label=lab + ": forward + backward")
            ax.loglog(Bs, [r[key + "_fwd"] for r in rs], st[0] + "-" + st[1:], alpha=0.6,
                      label=lab + ": forward")
        ax.set_title(name)
        ax.set_xlabel("batch size B")
        ax.set_ylabel("seconds per batch")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("altdiff.torch.QPLayer: time per batch (eps 1e-6, cold starts, 2 cores)")
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=110)
    print("wrote", args.out + ".png")


if __name__ == "__main__":
    main()
