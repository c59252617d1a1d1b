#!/usr/bin/env python
"""Label scores, pairwise matrices, generalized measures, the differential entropy from
samples and the k-nearest-neighbour estimators, side by side with scikit-learn, SciPy
and a NumPy baseline, in interleaved rounds.

    python bench/labels_matrices.py                  # 3 rounds (~3.5 min: cdist alone takes ~24 s a call)
    python bench/labels_matrices.py --quick          # 1 round, smaller pairwise problem (~40 s)
    python bench/labels_matrices.py --json out.json  # also write every sample
    python bench/labels_matrices.py --only ami,pairwise_js
    python bench/labels_matrices.py --only knn --rounds 5   # the k-nearest-neighbour estimators
    python bench/labels_matrices.py --keep-heap      # no page faults on the contenders' temporaries

Each row: the median over rounds of each contender's wall time (one call per
round, rounds interleaved so that load on this shared machine hits all
contenders alike), and the ratios contender / fastinfo. fastinfo runs with 1 and
with 2 threads where the function takes ``n_threads``; the ratio columns use its
best (2 threads on this 2-core machine) and, in brackets, 1 thread.
"""

import argparse
import json
import math
import platform
import statistics
import sys
import time

import numpy as np

import fastinfo


def _workloads(quick):
    rng = np.random.default_rng(2026)
    W = []

    # --- label scores: 10^7 pairs, 1000 x 1000 classes -------------------------
    n = 10 ** 6 if quick else 10 ** 7
    x = rng.integers(0, 1000, n)
    y = (x + rng.integers(0, 300, n)) % 1000          # dependent labelings
    try:
        from sklearn import metrics as skm
        from sklearn.metrics.cluster import contingency_matrix
    except ImportError:                                 # pragma: no cover
        skm = None
    W.append(dict(name="mutual_information_score", size=f"{n:.0e} pairs, 1000x1000 classes",
                  fastinfo=lambda nt: fastinfo.mutual_information_score(x, y), threads=False,
                  contenders={"scikit-learn": (lambda: skm.mutual_info_score(x, y)) if skm else None}))
    W.append(dict(name="normalized_mutual_information_score", size=f"{n:.0e} pairs, 1000x1000 classes",
                  fastinfo=lambda nt: fastinfo.normalized_mutual_information_score(x, y), threads=False,
                  contenders={"scikit-learn": (lambda: skm.normalized_mutual_info_score(x, y)) if skm else None}))
    W.append(dict(name="contingency_table", size=f"{n:.0e} pairs, 1000x1000 classes",
                  fastinfo=lambda nt: fastinfo.contingency_table(x, y), threads=False,
                  contenders={"scikit-learn": (lambda: contingency_matrix(x, y)) if skm else None}))

    # --- adjusted MI: 1000 x 1000 classes ----------------------------------------
    na = 10 ** 5
    xa = rng.integers(0, 1000, na)
    ya = rng.integers(0, 1000, na)
    W.append(dict(name="adjusted_mutual_information_score", size=f"{na:.0e} pairs, 1000x1000 classes",
                  fastinfo=lambda nt: fastinfo.adjusted_mutual_information_score(xa, ya, n_threads=nt),
                  threads=True,
                  contenders={"scikit-learn": (lambda: skm.adjusted_mutual_info_score(xa, ya)) if skm else None}))

    # --- pairwise JS: 2000 x 2000, K = 300 ---------------------------------------
    N = 500 if quick else 2000
    K = 300
    P = rng.random((N, K))
    P /= P.sum(1, keepdims=True)
    Q = rng.random((N, K))
    Q /= Q.sum(1, keepdims=True)
    try:
        from scipy.spatial.distance import cdist
    except ImportError:                                 # pragma: no cover
        cdist = None
    W.append(dict(name="pairwise_js_divergence(distance=True)", size=f"{N}x{N}, K={K}, float64",
                  fastinfo=lambda nt: fastinfo.pairwise_js_divergence(P, Q, distance=True, n_threads=nt),
                  threads=True,
                  contenders={"scipy cdist": (lambda: cdist(P, Q, "jensenshannon")) if cdist else None}))

    def kl_numpy():
        out = np.empty((N, N))
        lq = np.log(Q)
        hp = np.sum(P * np.log(P), axis=1)
        for i in range(0, N, 256):                    # the NumPy way: a product, then the entropy
            out[i:i + 256] = hp[i:i + 256, None] - P[i:i + 256] @ lq.T
        return out

    W.append(dict(name="pairwise_kl_divergence (blas)", size=f"{N}x{N}, K={K}, float64",
                  fastinfo=lambda nt: fastinfo.pairwise_kl_divergence(P, Q, n_threads=nt), threads=True,
                  contenders={"numpy P@log(Q).T": kl_numpy}))

    # --- generalized measures: 10000 x 1000 --------------------------------------
    R, C = (2000, 1000) if quick else (10000, 1000)
    A = rng.random((R, C))
    A /= A.sum(1, keepdims=True)
    B = rng.random((R, C))
    B /= B.sum(1, keepdims=True)
    W.append(dict(name="renyi_entropy(alpha=2)", size=f"{R}x{C}, float64",
                  fastinfo=lambda nt: fastinfo.renyi_entropy(A, 2.0, n_threads=nt), threads=True,
                  contenders={"numpy": lambda: -np.log(np.sum(A * A, axis=1))}))
    W.append(dict(name="renyi_entropy(alpha=0.5)", size=f"{R}x{C}, float64",
                  fastinfo=lambda nt: fastinfo.renyi_entropy(A, 0.5, n_threads=nt), threads=True,
                  contenders={"numpy": lambda: 2.0 * np.log(np.sum(np.sqrt(A), axis=1))}))
    W.append(dict(name="renyi_divergence(alpha=0.5)", size=f"{R}x{C}, float64",
                  fastinfo=lambda nt: fastinfo.renyi_divergence(A, B, 0.5, n_threads=nt), threads=True,
                  contenders={"numpy": lambda: -2.0 * np.log(np.sum(np.sqrt(A * B), axis=1))}))
    W.append(dict(name="renyi_entropy(alpha=3.7)", size=f"{R}x{C}, float64",
                  fastinfo=lambda nt: fastinfo.renyi_entropy(A, 3.7, n_threads=nt), threads=True,
                  contenders={"numpy": lambda: np.log(np.sum(A ** 3.7, axis=1)) / (1 - 3.7)}))
    W.append(dict(name="renyi_divergence(alpha=2)", size=f"{R}x{C}, float64",
                  fastinfo=lambda nt: fastinfo.renyi_divergence(A, B, 2.0, n_threads=nt), threads=True,
                  contenders={"numpy": lambda: np.log(np.sum(A * A / B, axis=1))}))
    W.append(dict(name="tsallis_entropy(q=2)", size=f"{R}x{C}, float64",
                  fastinfo=lambda nt: fastinfo.tsallis_entropy(A, 2.0, n_threads=nt), threads=True,
                  contenders={"numpy": lambda: 1.0 - np.sum(A * A, axis=1)}))
    W.append(dict(name="hellinger_distance", size=f"{R}x{C}, float64",
                  fastinfo=lambda nt: fastinfo.hellinger_distance(A, B, n_threads=nt), threads=True,
                  contenders={"numpy": lambda: np.sqrt(0.5 * np.sum((np.sqrt(A) - np.sqrt(B)) ** 2, axis=1))}))
    W.append(dict(name="total_variation", size=f"{R}x{C}, float64",
                  fastinfo=lambda nt: fastinfo.total_variation(A, B, n_threads=nt), threads=True,
                  contenders={"numpy": lambda: 0.5 * np.sum(np.abs(A - B), axis=1)}))
    # --- differential entropy from samples: 1000 x 10000 ----------------------------
    S = rng.standard_normal((200, 10000) if quick else (1000, 10000))
    try:
        from scipy import stats
    except ImportError:                                 # pragma: no cover
        stats = None
    for meth in ("auto", "ebrahimi", "van es"):
        W.append(dict(name=f"differential_entropy({meth})", size=f"{S.shape[0]}x{S.shape[1]}, float64",
                      fastinfo=lambda nt, meth=meth: fastinfo.differential_entropy(S, method=meth, n_threads=nt),
                      threads=True,
                      contenders={"scipy": (lambda meth=meth: stats.differential_entropy(S, axis=-1, method=meth))
                                  if stats else None}))

    # --- k-nearest-neighbour estimators -------------------------------------------
    nm = 20000
    xm = rng.standard_normal(nm)
    ym = xm + rng.standard_normal(nm)
    try:
        from sklearn.feature_selection import mutual_info_regression
        from sklearn.feature_selection._mutual_info import _compute_mi_cc
    except ImportError:                                 # pragma: no cover
        mutual_info_regression = _compute_mi_cc = None
    W.append(dict(name="knn_mutual_information", size=f"n={nm}, d=2 (1+1), k=3", repeat=5,
                  fastinfo=lambda nt: fastinfo.knn_mutual_information(xm, ym, k=3, n_threads=nt), threads=True,
                  contenders={"mutual_info_regression": (lambda: mutual_info_regression(
                      xm[:, None], ym, n_neighbors=3, random_state=0)) if mutual_info_regression else None,
                      "sklearn _compute_mi_cc": (lambda: _compute_mi_cc(xm, ym, 3)) if _compute_mi_cc else None}))
    ne = 10 ** 5 if quick else 10 ** 6
    P = rng.standard_normal((ne, 3))
    try:
        from scipy.spatial import cKDTree
        from scipy.special import digamma
    except ImportError:                                 # pragma: no cover
        cKDTree = None

    def kl_ckdtree(k=3):
        """The same estimator written with scipy.spatial.cKDTree(...).query(..., workers=-1)."""
        n, d = P.shape
        r = cKDTree(P).query(P, k + 1, workers=-1)[0][:, k]
        return (digamma(n) - digamma(k) + 0.5 * d * np.log(np.pi) - math.lgamma(0.5 * d + 1)
                + d * np.mean(np.log(r)))

    W.append(dict(name="knn_entropy", size=f"n={ne:.0e}, d=3, k=3", threads=True,
                  fastinfo=lambda nt: fastinfo.knn_entropy(P, k=3, n_threads=nt),
                  contenders={"cKDTree(workers=-1)": kl_ckdtree if cKDTree else None}))
    return W


def _time(f, repeat=1):
    """Wall time of one call (the mean over `repeat` back-to-back calls for short workloads)."""
    t = time.perf_counter()
    for _ in range(repeat):
        f()
    return (time.perf_counter() - t) / repeat


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python bench/labels_matrices.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; --quick 1)")
    ap.add_argument("--quick", action="store_true", help="smaller problems, one round")
    ap.add_argument("--only", default=None, help="comma-separated substrings of workload names")
    ap.add_argument("--json", default=None, help="write every sample to this file")
    ap.add_argument("--keep-heap", action="store_true",
                    help="keep freed memory in the process (glibc): no page faults on the "
                    "contenders' temporaries (see bench/README.md)")
    a = ap.parse_args(argv)
    rounds = a.rounds or (1 if a.quick else 3)
    kept = False
    if a.keep_heap:
        from harness import keep_heap  # bench/harness.py, beside this script
        kept = keep_heap()
        print("heap kept (--keep-heap): " + ("yes" if kept else "not supported here"), file=sys.stderr)
    W = _workloads(a.quick)
    if a.only:
        keys = a.only.split(",")
        W = [w for w in W if any(k in w["name"] for k in keys)]
    samples = {w["name"]: {} for w in W}
    for w in W:                                          # warm-up (page faults, imports)
        w["fastinfo"](None)
    for r in range(rounds):
        for w in W:
            s = samples[w["name"]]
            for nt in ((1, 2) if w["threads"] else (None,)):
                s.setdefault(f"fastinfo[{nt or ''}]", []).append(_time(lambda: w["fastinfo"](nt), w.get("repeat", 1)))
            for cname, f in w["contenders"].items():
                if f is not None:
                    s.setdefault(cname, []).append(_time(f, w.get("repeat", 1)))
        print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    print(f"\n{'workload':40s} {'size':32s} {'fastinfo 1t':>12s} {'fastinfo 2t':>12s} "
          f"{'contender':>18s} {'time':>10s} {'ratio':>16s}")
    report = []
    for w in W:
        s = samples[w["name"]]
        med = {k: statistics.median(v) for k, v in s.items()}
        if w["threads"]:
            f1, f2 = med["fastinfo[1]"], med["fastinfo[2]"]
        else:
            f1 = f2 = med["fastinfo[]"]
        best = min(f1, f2)
        for cname in w["contenders"]:
            if cname not in med:
                continue
            ratio = f"{med[cname] / best:.1f}x ({med[cname] / f1:.1f}x)"
            print(f"{w['name']:40s} {w['size']:32s} {f1 * 1e3:10.2f}ms {f2 * 1e3:10.2f}ms "
                  f"{cname:>18s} {med[cname] * 1e3:8.1f}ms {ratio:>16s}")
            report.append(dict(workload=w["name"], size=w["size"], fastinfo_1t=f1, fastinfo_2t=f2,
                               contender=cname, contender_time=med[cname], ratio_best=med[cname] / best,
                               ratio_1t=med[cname] / f1))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(dict(machine=platform.platform(), processor=platform.processor(),
                           fastinfo=fastinfo.config(), rounds=rounds, quick=a.quick, keep_heap=kept,
                           samples=samples, report=report), fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
