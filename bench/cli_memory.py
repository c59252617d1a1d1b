"""Peak memory of `fastinfo score` on Parquet files of growing size: a float32 logit column
(fixed_size_list) of SIZE GB, written as pyarrow and pandas write it by default (row groups
of up to 1 Mi rows: at 1000 classes a 1 GB file is one row group of 1 GB, a 4 GB file one of
4 GB), and the same rows as .npy. The peak is the scoring process's maximum resident set
(ru_maxrss from wait4), so it includes the interpreter, NumPy and pyarrow themselves.

    python -P bench/cli_memory.py [--sizes 1 4] [--classes 1000] [--dir D] [--json F]

The files need SIZE GB of disk each, twice (Parquet and .npy), in --dir (default: a
temporary folder, removed afterwards); writing them takes a minute or two per 4 GB.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np


def write(d, gb, classes):
    import pyarrow as pa
    import pyarrow.parquet as pq
    rows = int(gb * 1e9) // (4 * classes)
    rng = np.random.default_rng(0)
    x = np.empty((rows, classes), np.float32)
    step = max(1, (256 << 20) // (4 * classes))
    for lo in range(0, rows, step):                     # 256 MB at a time: the generator's memory
        x[lo:lo + step] = rng.standard_normal((min(step, rows - lo), classes), dtype=np.float32)
    pq_path, npy_path = os.path.join(d, f"x{gb:g}.parquet"), os.path.join(d, f"x{gb:g}.npy")
    col = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), classes)   # no copy
    pq.write_table(pa.table({"logits": col}), pq_path, compression="none")     # the default row groups
    np.save(npy_path, x)
    del x, col


def peak(argv):
    """(seconds, peak RSS in MB) of a command."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    el = time.perf_counter() - t
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err}")
    return el, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=float, nargs="+", default=[1, 4])
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--write-into", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.write_into:                    # the child that writes the files
        for gb in a.sizes:
            write(a.write_into, gb, a.classes)
        return
    with tempfile.TemporaryDirectory(dir=a.dir, prefix="fastinfo-mem-") as d:
        # written by another process: a child's peak starts from its parent's (fork copies it)
        subprocess.run([sys.executable, "-P", __file__, "--write-into", d, "--classes", str(a.classes),
                        "--sizes", *map(str, a.sizes)], check=True)
        rows = {gb: (int(gb * 1e9) // (4 * a.classes), os.path.join(d, f"x{gb:g}.parquet"),
                     os.path.join(d, f"x{gb:g}.npy")) for gb in a.sizes}
        results = []
        print(f"{'file':<28}{'rows':>10}{'seconds':>9}{'peak MB':>9}")
        for gb in a.sizes:
            n, pq_path, npy_path = rows[gb]
            for kind, path in (("parquet", pq_path), ("npy", npy_path)):
                argv = [sys.executable, "-m", "fastinfo", "score", path, "--measure", "softmax_entropy",
                        "--reduction", "mean", "--quiet"]
                el, mb = peak(argv)
                results.append(dict(format=kind, gb=gb, rows=n, classes=a.classes, seconds=el, peak_mb=mb))
                print(f"{os.path.basename(path) + ' (' + kind + ')':<28}{n:>10}{el:>9.2f}{mb:>9.1f}")
        for kind in ("parquet", "npy"):
            sel = [r for r in results if r["format"] == kind]
            if len(sel) > 1:
                print(f"{kind}: the {sel[-1]['gb']:g} GB file peaks {sel[-1]['peak_mb'] - sel[0]['peak_mb']:+.1f} MB "
                      f"from the {sel[0]['gb']:g} GB one")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                           results=results), f, indent=1)


if __name__ == "__main__":
    main()
