"""Gradient boosting's gradient and Hessian against their rivals, side by side in one interleaved run.

    python bench/boosting_rivals.py                         # both tables (~1 minute on 2 cores)
    python bench/boosting_rivals.py --only gradhess --rounds 9
    python bench/boosting_rivals.py --json bench/results-<date>-boosting-rivals.json

* gradhess: ``softmax_cross_entropy_grad_hess`` on 10^6 x 10 float64 raw predictions
  (row-major, and column-major as scikit-learn's gradient boosting keeps them; float64 and,
  as that gradient boosting keeps them, float32 outputs) against scikit-learn's
  ``HalfMultinomialLoss.gradient_hessian`` into the same outputs, a numba ``prange`` kernel
  of the kind a performance-minded user writes (optional: ``pip install numba``), and the
  roofline of reading the raw predictions and writing two outputs (``np.copyto``).
* objective: a LightGBM multiclass custom objective called as ``lightgbm.train`` calls it
  (10^6 x 10 column-major float64 scores and a Dataset's float32 labels), followed by the
  conversion LightGBM applies to what it returns (``ravel(order="F")`` to float32):
  ``fastinfo.objectives.lightgbm_multiclass`` against the NumPy objective LightGBM's
  examples write (softmax, one-hot, ``p * (1 - p)``).

Medians of interleaved rounds; every contender's first call is untimed. Needs the
compiled fastinfo and scikit-learn.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

import fastinfo as fi
from fastinfo import objectives
from logits_rivals import _interleave      # bench/logits_rivals.py: the contenders timed in turn, medians

try:
    from sklearn._loss.loss import HalfMultinomialLoss
except ImportError:       # the scikit-learn column shows "-"
    HalfMultinomialLoss = None

try:
    import numba
except ImportError:
    numba = None

N, K = 1_000_000, 10


def _numba_grad_hess():
    """What a performance-minded user writes: a row per prange iteration, float64."""
    if numba is None:
        return None
    import math

    @numba.njit(parallel=True, fastmath=False, cache=False)
    def grad_hess(raw, y, g, h):
        n, k = raw.shape
        for i in numba.prange(n):
            m = -np.inf
            for j in range(k):
                m = max(m, raw[i, j])
            s = 0.0
            for j in range(k):
                e = math.exp(raw[i, j] - m)
                g[i, j] = e
                s += e
            for j in range(k):
                p = g[i, j] / s
                g[i, j] = p - (1.0 if j == y[i] else 0.0)
                h[i, j] = p * (1.0 - p)
        return g, h

    return grad_hess


def _row(med):
    f = med["fastinfo"]
    return "  ".join(f"{k} {v * 1e3:7.1f}" + ("" if k == "fastinfo" else f" ({v / f:.2f}x)") for k, v in med.items())


def gradhess(threads, rounds, out):
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, N)
    yf = y.astype(np.float64)
    gh_numba = _numba_grad_hess()
    print(f"\ngradient + diagonal Hessian of the softmax cross-entropy, {N} x {K} float64 "
          f"(ms; ratios: rival / fastinfo)")
    for order in ("C", "F"):
        raw = np.asarray(rng.standard_normal((N, K)) * 3, order=order)
        for odt in (np.float64, np.float32):
            go, ho = np.empty((N, K), odt, order=order), np.empty((N, K), odt, order=order)
            g2, h2 = np.empty_like(go), np.empty_like(ho)
            for n in threads:
                c = {"fastinfo": lambda: fi.softmax_cross_entropy_grad_hess(raw, y, grad_out=go, hess_out=ho,
                                                                            n_threads=n),
                     "roofline": lambda: (np.copyto(g2, raw, casting="unsafe"), np.copyto(h2, raw, casting="unsafe"))}
                if HalfMultinomialLoss is not None:
                    loss = HalfMultinomialLoss(n_classes=K)
                    c["sklearn"] = lambda: loss.gradient_hessian(yf, raw, gradient_out=g2, hessian_out=h2,
                                                                 n_threads=n)
                if gh_numba is not None and odt is np.float64:
                    numba.set_num_threads(n)
                    c["numba"] = lambda: gh_numba(raw, y, g2, h2)
                med, samples = _interleave(c, rounds)
                print(f"  {order}-order, {np.dtype(odt).name} out, {n} thread(s): {_row(med)}   "
                      f"roofline share {med['roofline'] / med['fastinfo']:.0%}")
                out.append(dict(table="gradhess", order=order, out_dtype=np.dtype(odt).name, threads=n,
                                medians=med, samples=samples))


class _Dataset:
    """What the objective reads of a lightgbm.Dataset: the float32 labels, no weights."""

    def __init__(self, y):
        self.y = y.astype(np.float32)

    def get_label(self):
        return self.y

    def get_weight(self):
        return None


def _numpy_objective(preds, train_data):
    """The multiclass objective as LightGBM's examples write it."""
    y = train_data.get_label().astype(int)
    p = np.exp(preds - preds.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad = p.copy()
    grad[np.arange(len(y)), y] -= 1.0
    hess = p * (1.0 - p)
    return grad, hess


def _as_lightgbm_takes(gh):
    g, h = gh
    return (np.ascontiguousarray(g.ravel(order="F"), dtype=np.float32),
            np.ascontiguousarray(h.ravel(order="F"), dtype=np.float32))


def objective(threads, rounds, out):
    rng = np.random.default_rng(1)
    y = rng.integers(0, K, N)
    ds = _Dataset(y)
    preds = rng.standard_normal((K, N)).T * 3        # column-major, as LightGBM passes its scores
    print(f"\nLightGBM multiclass custom objective, {N} x {K} (ms; ratios: rival / fastinfo)")
    for n in threads:
        obj = objectives.lightgbm_multiclass(K, n_threads=n)
        c = {"fastinfo": lambda: _as_lightgbm_takes(obj(preds, ds)),
             "numpy": lambda: _as_lightgbm_takes(_numpy_objective(preds, ds))}
        med, samples = _interleave(c, rounds)
        print(f"  {n} thread(s): {_row(med)}")
        out.append(dict(table="objective", threads=n, medians=med, samples=samples))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("gradhess", "objective"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    ap.add_argument("--json", help="write the medians and samples here")
    a = ap.parse_args(argv)
    threads = sorted(set(a.threads))
    out = []
    print(f"fastinfo {fi.__version__} ({fi.config()['simd']}), {os.cpu_count()} CPUs")
    if a.only in (None, "gradhess"):
        gradhess(threads, a.rounds, out)
    if a.only in (None, "objective"):
        objective(threads, a.rounds, out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(argv=sys.argv[1:], results=out), f, indent=1)


if __name__ == "__main__":
    main()
