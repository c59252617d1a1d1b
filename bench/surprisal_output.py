"""Surprisal from DRAM and in cache, with a fresh output array and with ``out=``.

    python bench/surprisal_output.py

Surprisal writes one value per element. Called without ``out=``, each call's output is a
new batch-sized array whose pages the kernel faults in as it writes (glibc maps large
allocations afresh); with ``out=`` the pages exist. The in-cache case (500 rows, ~4 MB in
and out) is called repeatedly on the same arrays. Prints ns per element, medians of 5.
"""
import time

import numpy as np

import fastinfo as fi
from fastinfo._dispatch import kernels


def median_time(f, n=1):
    r = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        r.append((time.perf_counter() - t0) / n)
    return float(np.median(r))


def main():
    rng = np.random.default_rng(0)
    for dt in (np.float64, np.float32):
        p = rng.random((100_000, 1_000)).astype(dt)
        p /= p.sum(1, keepdims=True)
        out = np.empty_like(p)
        small = p[:500].copy()
        small_out = np.empty_like(small)
        for nt in (1, 2):
            fi.surprisal(p, out=out, n_threads=nt)
            fresh = median_time(lambda: fi.surprisal(p, n_threads=nt)) / p.size
            given = median_time(lambda: fi.surprisal(p, out=out, n_threads=nt)) / p.size
            cache = median_time(lambda: fi.surprisal(small, out=small_out, n_threads=nt), 50) / small.size
            read = median_time(lambda: kernels.read_roofline(p, nt)) / p.size
            print(f"{np.dtype(dt).name} {nt} thread(s), ns per element: DRAM, fresh output {fresh * 1e9:.3f}; "
                  f"DRAM, out= {given * 1e9:.3f}; in cache, out= {cache * 1e9:.3f}; read {read * 1e9:.3f}. "
                  f"DRAM / cache: {cache / fresh:.2f} (fresh), {cache / given:.2f} (out=)", flush=True)


if __name__ == "__main__":
    main()
