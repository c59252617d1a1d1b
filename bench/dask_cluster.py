#!/usr/bin/env python
"""Entropy of 20 000 000 x 100 float32 probabilities on a 2-worker Dask LocalCluster
(data from dask.array.random, made on the workers), beside the same computation in one
process, with the peak resident memory of each worker.

    python bench/dask_cluster.py                 # 20 000 000 x 100 (8 GB of float32)
    python bench/dask_cluster.py --rows 2000000  # smaller
    python bench/dask_cluster.py --json out.json

The single-process column generates the same kind of data with NumPy's Generator
(float32) and calls fastinfo.entropy on it (both timed, and the call alone); the Dask
column builds the lazy array, calls fastinfo.entropy on it (lazy) and computes the
per-row result (20 000 000 float32 values) back to the client.
"""

import argparse
import json
import platform
import resource
import sys
import time

import numpy as np

import fastinfo


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0     # Linux: KiB


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python bench/dask_cluster.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--cols", type=int, default=100)
    ap.add_argument("--chunk-rows", type=int, default=500_000)
    ap.add_argument("--skip-single", action="store_true", help="no single-process run (it needs rows*cols*4 bytes)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    import dask.array as da
    from distributed import Client, LocalCluster

    out = dict(rows=a.rows, cols=a.cols, chunk_rows=a.chunk_rows, machine=platform.platform(),
               fastinfo=fastinfo.config())
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=40)
    client = Client(cluster)
    try:
        client.run(lambda: None)
        base = client.run(_peak_rss_mb)
        t0 = time.perf_counter()
        P = da.random.default_rng(2026).random((a.rows, a.cols), dtype=np.float32,
                                                chunks=(a.chunk_rows, a.cols))
        h = fastinfo.entropy(P, normalize=True)            # lazy: nothing computed yet
        t_graph = time.perf_counter() - t0
        res = client.compute(h).result()
        t_dask = time.perf_counter() - t0
        peaks = client.run(_peak_rss_mb)
        out["dask"] = dict(wall_s=t_dask, graph_s=t_graph, result_shape=list(res.shape), result_dtype=str(res.dtype),
                           mean_entropy=float(res.mean(dtype=np.float64)),
                           worker_peak_rss_mb={str(k): v for k, v in peaks.items()},
                           worker_rss_at_start_mb={str(k): v for k, v in base.items()},
                           tasks=len(h.__dask_graph__()))
        print(f"dask 2 workers x 1 thread: {t_dask:.2f} s wall ({a.rows} x {a.cols} float32, "
              f"{a.chunk_rows}-row chunks), mean entropy {out['dask']['mean_entropy']:.6f}")
        for w, mb in peaks.items():
            print(f"  worker {w}: peak RSS {mb:.0f} MB (at start {base[w]:.0f} MB)")
    finally:
        client.close()
        cluster.close()
    if not a.skip_single:
        t0 = time.perf_counter()
        X = np.random.default_rng(2026).random((a.rows, a.cols), dtype=np.float32)
        t1 = time.perf_counter()
        r = fastinfo.entropy(X, normalize=True)
        t2 = time.perf_counter()
        out["single"] = dict(generate_s=t1 - t0, entropy_s=t2 - t1, wall_s=t2 - t0,
                             mean_entropy=float(r.mean(dtype=np.float64)), peak_rss_mb=_peak_rss_mb(),
                             threads=fastinfo.config()["max_threads"])
        print(f"single process ({out['single']['threads']} threads): {t2 - t0:.2f} s wall "
              f"(generate {t1 - t0:.2f} s, entropy {t2 - t1:.2f} s), peak RSS {_peak_rss_mb():.0f} MB, "
              f"mean entropy {out['single']['mean_entropy']:.6f}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
