"""mutual_information_score against a NumPy bincount one-liner and scikit-learn, side by side.

    python bench/label_rivals.py                  # 10^5 and 10^7 pairs, 1 000 x 1 000 classes (~1 minute)
    python bench/label_rivals.py --pairs 1000000 --classes 100

The one-liner is what a NumPy user writes: the pairs' table by ``np.bincount`` of
``x * classes + y``, then the mutual information over its nonzero cells. Medians of
interleaved rounds (each contender's first call untimed); the ratios are rival / fastinfo.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import fastinfo as fi

try:
    from sklearn.metrics import mutual_info_score
except ImportError:
    mutual_info_score = None


def mi_bincount(x, y, kx, ky):
    """The NumPy one-liner (over a few lines): the dense table, then the nonzero cells."""
    n = np.bincount(x * ky + y, minlength=kx * ky).reshape(kx, ky)
    a, b, N = n.sum(1), n.sum(0), n.sum()
    r, c = np.nonzero(n)
    nij = n[r, c]
    return float(np.sum(nij / N * np.log(nij * N / (a[r] * b[c].astype(np.float64)))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", nargs="+", type=int, default=[100_000, 10_000_000])
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args(argv)
    k = a.classes
    rng = np.random.default_rng(0)
    print(f"mutual_information_score, {k} x {k} classes (ms; ratios: rival / fastinfo)")
    for n in a.pairs:
        x = rng.integers(0, k, size=n)
        y = (x + rng.integers(0, k // 10 + 1, size=n)) % k      # dependent labels
        c = {"fastinfo": lambda: fi.mutual_information_score(x, y),
             "bincount": lambda: mi_bincount(x, y, k, k)}
        if mutual_info_score is not None:
            c["sklearn"] = lambda: mutual_info_score(x, y)
        ref = c["bincount"]()
        assert abs(c["fastinfo"]() - ref) <= 1e-9 * ref
        times = {name: [] for name in c}
        for _ in range(a.rounds):
            for name, fn in c.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        med = {name: statistics.median(t) for name, t in times.items()}
        f = med["fastinfo"]
        print(f"  {n:>10,d} pairs: " + "  ".join(
            f"{name} {v * 1e3:8.2f}" + ("" if name == "fastinfo" else f" ({v / f:.2f}x)") for name, v in med.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
