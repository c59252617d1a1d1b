"""Surprisal from DRAM and in cache, with a fresh output array and with ``out=``; and
NumPy's ``np.log`` the same two ways.

    python bench/surprisal_output.py

Surprisal writes one value per element. Called without ``out=``, each call's output is a
new batch-sized array whose pages the operating system faults in and zeroes as the kernel
first writes them (glibc maps large allocations afresh); with ``out=`` the pages exist. The
in-cache case (500 rows, ~4 MB in and out) is called repeatedly on the same arrays. Prints
ns per element, medians of 5; then, for 10^8 float64 elements on one thread, each call's
milliseconds and the system time it took (the page faults), medians of 5 interleaved rounds.
"""
import resource
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


def fresh_against_out(p):
    out = np.empty_like(p)
    out[:] = 0
    calls = {"np.log(p)": lambda: np.log(p), "np.log(p, out=out)": lambda: np.log(p, out=out),
             "fastinfo.surprisal(p, n_threads=1)": lambda: fi.surprisal(p, n_threads=1),
             "fastinfo.surprisal(p, out=out, n_threads=1)": lambda: fi.surprisal(p, out=out, n_threads=1)}
    wall = {k: [] for k in calls}
    sys_ = {k: [] for k in calls}
    for _ in range(6):                  # the first round warms up
        for k, f in calls.items():
            s0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
            t0 = time.perf_counter()
            r = f()
            wall[k].append(time.perf_counter() - t0)
            sys_[k].append(resource.getrusage(resource.RUSAGE_SELF).ru_stime - s0)
            del r
    for k in calls:
        print(f"{k:44s} {np.median(wall[k][1:]) * 1e3:7.1f} ms, system time "
              f"{np.median(sys_[k][1:]) * 1e3:6.1f} ms", flush=True)


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
        del out
        if dt is np.float64:
            fresh_against_out(p)


if __name__ == "__main__":
    main()
