"""`fastinfo score` on the same logits stored as .npy, Parquet (uncompressed, Snappy, Zstd;
a fixed_size_list<float> column and a list<float> column), Arrow IPC, an uncompressed .npz
member, HDF5 and Zarr: rows/s of each as a share of the .npy path's, in rounds that
alternate the formats (medians of per-round ratios). The files are in the page cache (each
is read once before timing), so this measures the decoding, not the disk.

    python -P bench/cli_formats.py [--rows 100000] [--classes 1000] [--rounds 5] [--json F]

The time is the command's own (`--json`'s seconds: from the first row read to the last, the
files already opened and checked),
softmax cross-entropy with labels from a column / array of the same file where the format
has one, one thread (--threads 1), so the kernel's share is the same for every format.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_all(d, rows, classes):
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((rows, classes), dtype=np.float32))
    y = rng.integers(0, classes, rows)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), classes)
    t = pa.table({"logits": fixed, "label": y})
    specs = {}
    for comp in ("none", "snappy", "zstd"):
        pq.write_table(t, d / f"x-{comp}.parquet", compression=comp, row_group_size=16384)
        specs[f"parquet {comp}"] = [str(d / f"x-{comp}.parquet"), "--labels-column", "label"]
    offsets = pa.array(np.arange(0, (rows + 1) * classes, classes, dtype=np.int32))
    lst = pa.ListArray.from_arrays(offsets, pa.array(x.reshape(-1)))
    pq.write_table(pa.table({"logits": lst, "label": y}), d / "x-list.parquet", compression="none",
                   row_group_size=16384)
    specs["parquet list none"] = [str(d / "x-list.parquet"), "--labels-column", "label"]
    feather.write_feather(t, d / "x.arrow", compression="uncompressed", chunksize=16384)
    specs["arrow ipc"] = [str(d / "x.arrow"), "--labels-column", "label"]
    np.savez(d / "x.npz", logits=x, labels=y)
    specs["npz member"] = [str(d / "x.npz") + ":logits", "--labels", str(d / "x.npz") + ":labels"]
    try:
        import h5py
        with h5py.File(d / "x.h5", "w") as f:
            f.create_dataset("logits", data=x, chunks=(min(rows, 1024), classes))
            f.create_dataset("labels", data=y)
        specs["hdf5"] = [str(d / "x.h5") + ":logits", "--labels", str(d / "x.h5") + ":labels"]
    except ImportError:
        pass
    try:
        import zarr
        z = zarr.open_array(str(d / "x.zarr"), mode="w", shape=x.shape, dtype=x.dtype,
                            chunks=(min(rows, 4096), classes))
        z[:] = x
        specs["zarr"] = [str(d / "x.zarr"), "--labels", str(d / "y.npy")]
    except ImportError:
        pass
    specs = {"npy": [str(d / "x.npy"), "--labels", str(d / "y.npy")], **specs}
    return specs, x.nbytes


def run(spec):
    cmd = [sys.executable, "-m", "fastinfo", "score", spec[0], "--measure", "softmax_cross_entropy", *spec[1:],
           "--threads", "1", "--json", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode:
        sys.exit(f"{spec[0]}: {r.stderr.strip()}")
    return json.loads(r.stdout)["seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--classes", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    import pathlib
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as td:
        d = pathlib.Path(td)
        t0 = time.perf_counter()
        specs, nbytes = write_all(d, a.rows, a.classes)
        print(f"{a.rows} x {a.classes} float32 logits ({nbytes / 1e6:.0f} MB), files written in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        for s in specs.values():                      # into the page cache
            run(s)
        times = {k: [] for k in specs}
        for _ in range(a.rounds):
            for k, s in specs.items():
                times[k].append(run(s))
    print(f"{'format':20s} {'s':>8s} {'rows/s':>12s}  share of .npy (median of rounds)")
    out = {}
    for k, v in times.items():
        share = statistics.median(n / t for n, t in zip(times["npy"], v))
        med = statistics.median(v)
        out[k] = dict(seconds=v, median=med, share_of_npy=share)
        print(f"{k:20s} {med:8.3f} {a.rows / med:12.0f}  {share:6.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(rows=a.rows, classes=a.classes, results=out), f, indent=1)


if __name__ == "__main__":
    main()
