"""What each field of softmax_stats costs, as a share of softmax_cross_entropy's time on the
same input, in one interleaved run.

    python bench/stats_fields.py                       # float32, 1 thread
    python bench/stats_fields.py --dtype bfloat16 --threads 2

2048 x 128 000 logits (1 GB float32) and labels; softmax_stats with the fields added one
group at a time: nll alone (pass 2 of the log-sum-exp kind, as the cross-entropy), + entropy
(the entropy kind), + argmax (the order pass: the group maxima, the top 1), + rank, + the top
5, and all of them. Medians of interleaved rounds; every call's first run untimed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import fastinfo as fi


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=128_000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.rows, a.classes), dtype=np.float32) * np.float32(3)
    if a.dtype == "bfloat16":
        import ml_dtypes
        x = x.astype(ml_dtypes.bfloat16)
    y = rng.integers(0, a.classes, a.rows)
    nt = a.threads
    calls = {
        "cross-entropy": lambda: fi.softmax_cross_entropy(x, y, n_threads=nt),
        "nll": lambda: fi.softmax_stats(x, y, returns=("nll",), n_threads=nt),
        "nll, entropy": lambda: fi.softmax_stats(x, y, returns=("nll", "entropy"), n_threads=nt),
        "nll, argmax": lambda: fi.softmax_stats(x, y, returns=("nll", "argmax"), n_threads=nt),
        "nll, rank": lambda: fi.softmax_stats(x, y, returns=("nll", "rank"), n_threads=nt),
        "nll, top 5": lambda: fi.softmax_stats(x, y, k=5, returns=("nll", "topk_indices"), n_threads=nt),
        "nll, entropy, argmax, rank, top 5": lambda: fi.softmax_stats(
            x, y, k=5, returns=("nll", "entropy", "argmax", "rank", "topk_logprobs", "topk_indices"), n_threads=nt),
    }
    times = {k: [] for k in calls}
    for f in calls.values():
        f()
    for _ in range(a.rounds):
        for k, f in calls.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    ce = statistics.median(times["cross-entropy"])
    print(f"fastinfo {fi.__version__} ({fi.config()['simd']}), {a.rows} x {a.classes} {a.dtype}, "
          f"{nt} thread(s), medians of {a.rounds} interleaved rounds")
    for k in calls:
        m = statistics.median(times[k])
        print(f"  {k:36s} {m * 1e3:8.1f} ms  {m / ce:5.2f}x the cross-entropy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
