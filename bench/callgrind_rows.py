"""Instruction counts of the per-row kernel paths, for changes whose cost is a few instructions
per row (polling, inlining) and would be lost in the timing noise of a shared machine.

    FASTINFO_SIMD=baseline valgrind --tool=callgrind python bench/callgrind_rows.py entropy

(valgrind does not run AVX-512 code: force the baseline variant; compare "Collected" between
builds). Cases: entropy, softmax_entropy, renyi, surprisal -- 200 000 rows of 16, one
thread, six calls.
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

if __name__ == "__main__":
    f = CASES[sys.argv[1] if len(sys.argv) > 1 else "entropy"]
    for _ in range(6):
        f()
