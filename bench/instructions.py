"""Instructions per element of one call, under callgrind (repeatable where wall time is not).

    for r in 2 10; do
        PYTHONHASHSEED=0 OMP_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
            python bench/instructions.py CASE $r 2>&1 | grep Collected
    done

(instructions at 10 repetitions - at 2) / (8 x 200 000 elements) is the cost of one element:
the setup, the import and the first call cancel out. One thread, float64, 200 x 1 000 rows.
"""
import sys

import numpy as np

import fastinfo as fi

rng = np.random.default_rng(0)
p = rng.random((200, 1000))
p /= p.sum(1, keepdims=True)
q = rng.random((200, 1000))
q /= q.sum(1, keepdims=True)
CASES = {
    "entropy": lambda: fi.entropy(p, normalize=False, n_threads=1),
    "kl_divergence": lambda: fi.kl_divergence(p, q, normalize=False, n_threads=1),
    "renyi_entropy_a2": lambda: fi.renyi_entropy(p, 2.0, normalize=False, n_threads=1),
    "tsallis_entropy_q2": lambda: fi.tsallis_entropy(p, 2.0, normalize=False, n_threads=1),
    "renyi_divergence_a2": lambda: fi.renyi_divergence(p, q, 2.0, normalize=False, n_threads=1),
    "hellinger_distance": lambda: fi.hellinger_distance(p, q, normalize=False, n_threads=1),
    "total_variation": lambda: fi.total_variation(p, q, normalize=False, n_threads=1),
}

if __name__ == "__main__":
    case, reps = sys.argv[1], int(sys.argv[2])
    for _ in range(reps):
        CASES[case]()
