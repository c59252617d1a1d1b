"""Instruction counts of the per-row kernel paths, for changes whose cost is a few instructions
per row (polling, inlining) and would be lost in the timing noise of a shared machine.

    FASTINFO_SIMD=baseline valgrind --tool=callgrind python bench/callgrind_rows.py entropy

(valgrind does not run AVX-512 code: force the baseline variant; compare "Collected" between
builds). Cases: entropy, softmax_entropy, renyi, surprisal -- 200 000 rows of 16, one
thread, six calls; and long rows (4 rows of 300 000, three calls), for the block loops
inside a row: long_renyi2, long_renyi07, long_renyi_near1, long_tsallis, long_rdiv,
long_hellinger, long_logsumexp, long_softmax_entropy, long_softmax_kl, long_softmax_js,
long_softmax (float32). The Python cost of one small call: call_entropy (20 000 calls of
entropy on a 1-D vector of 100) minus startup (no call), divided by 20 000. Several cases:
comma-separated.
"""
import sys

import numpy as np

import fastinfo as fi

rng = np.random.default_rng(0)
small = rng.random((200_000, 16))
small /= small.sum(1, keepdims=True)
x = rng.standard_normal((200_000, 16))
CASES = {"entropy": lambda: fi.entropy(small, n_threads=1),
         "softmax_entropy": lambda: fi.softmax_entropy(x, n_threads=1),
         "renyi": lambda: fi.renyi_entropy(small, 2.0, n_threads=1),
         "surprisal": lambda: fi.surprisal(small, n_threads=1)}

P = rng.random((4, 300_000))
P /= P.sum(1, keepdims=True)
Q = rng.random((4, 300_000))
Q /= Q.sum(1, keepdims=True)
X = rng.standard_normal((4, 300_000))
Y = rng.standard_normal((4, 300_000))
LONG = {"long_renyi2": lambda: fi.renyi_entropy(P, 2.0, n_threads=1),
        "long_renyi07": lambda: fi.renyi_entropy(P, 0.7, n_threads=1),
        "long_renyi_near1": lambda: fi.renyi_entropy(P, 1.05, n_threads=1),
        "long_tsallis": lambda: fi.tsallis_entropy(P, 1.7, n_threads=1),
        "long_rdiv": lambda: fi.renyi_divergence(P, Q, 0.7, n_threads=1),
        "long_hellinger": lambda: fi.hellinger_distance(P, Q, n_threads=1),
        "long_logsumexp": lambda: fi.logsumexp(X, axis=-1, n_threads=1),
        "long_softmax_entropy": lambda: fi.softmax_entropy(X, n_threads=1),
        "long_softmax_kl": lambda: fi.softmax_kl_divergence(X, Y, n_threads=1),
        "long_softmax_js": lambda: fi.softmax_js_divergence(X, Y, n_threads=1),
        "long_softmax": lambda: fi.softmax(X.astype(np.float32), axis=-1, n_threads=1)}

v = rng.random(100)
v /= v.sum()
CALLS = {"call_entropy": lambda: fi.entropy(v, n_threads=1), "startup": lambda: None}

if __name__ == "__main__":
    for name in (sys.argv[1] if len(sys.argv) > 1 else "entropy").split(","):
        if name in CALLS:
            f, reps = CALLS[name], 20_000
        else:
            f, reps = (LONG[name], 3) if name in LONG else (CASES[name], 6)
        for _ in range(reps):
            f()
