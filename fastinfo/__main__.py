"""``python -m fastinfo``: print the configuration and score a generated batch.

Until the command-line tool exists, this is the main job: it builds a
realistic batch (classifier-style probability rows and a reference
distribution), scores it with every measure, and prints the throughput next
to the plain NumPy baseline (``fastinfo.reference``).
"""

import argparse
import sys
import time

import numpy as np

import fastinfo
from fastinfo import reference


def _best_of(f, repeats):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fastinfo", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20000, help="distributions in the batch (default 20000)")
    ap.add_argument("--classes", type=int, default=1000, help="length of each distribution (default 1000)")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--threads", type=int, default=None, help="n_threads (default: OpenMP's)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    fastinfo.show_config()
    rng = np.random.default_rng(0)
    n, k = args.rows, args.classes
    # peaked rows like a classifier's softmax output, with exact zeros
    logits = rng.standard_normal((n, k)).astype(args.dtype) * 3
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p[p < 1e-4] = 0
    p /= p.sum(axis=1, keepdims=True)
    q = rng.random(k).astype(args.dtype)
    q /= q.sum()
    gb = p.nbytes / 1e9
    print(f"\nscoring {n} x {k} {args.dtype} ({gb:.2f} GB) against a reference q of shape {q.shape}")
    print(f"{'measure':<16}{'fastinfo':>12}{'GB/s':>8}{'NumPy':>12}{'speed-up':>10}   mean result"
          f"   (best of {args.repeats}, after a warm-up)")
    for name, call in [
        ("entropy", lambda m, **kw: m.entropy(p, **kw)),
        ("cross_entropy", lambda m, **kw: m.cross_entropy(p, q, **kw)),
        ("kl_divergence", lambda m, **kw: m.kl_divergence(p, q, **kw)),
        ("js_divergence", lambda m, **kw: m.js_divergence(p, q, **kw)),
    ]:
        res = call(fastinfo, n_threads=args.threads)   # warm-up, both sides
        call(reference)
        t_fast = _best_of(lambda: call(fastinfo, n_threads=args.threads), args.repeats)
        t_np = _best_of(lambda: call(reference), args.repeats)
        print(f"{name:<16}{t_fast * 1e3:>10.1f}ms{gb / t_fast:>8.2f}{t_np * 1e3:>10.1f}ms"
              f"{t_np / t_fast:>9.1f}x   {float(np.mean(res)):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
