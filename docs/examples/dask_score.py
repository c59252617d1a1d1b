"""Mean cross-entropy of a file of logits and labels on a Dask cluster:
python dask_score.py logits.npy labels.npy   (or two Zarr stores: logits.zarr labels.zarr)"""
import sys

import dask.array as da
import numpy as np

import fastinfo


def read_rows(path, block_info=None):
    """One block of rows of a .npy file, memory-mapped by the worker that runs the task."""
    start, stop = block_info[None]["array-location"][0]
    return np.load(path, mmap_mode="r")[start:stop]


def open_array(path):
    """A lazy array over a .npy file or a Zarr store: the graph holds the path and row bounds, not the data."""
    if path.endswith(".zarr"):
        return da.from_zarr(path)                        # one task per stored chunk
    x = np.load(path, mmap_mode="r")                     # reads the header only
    chunks = da.core.normalize_chunks(("auto", *x.shape[1:]), x.shape, dtype=x.dtype)   # array.chunk-size
    return da.map_blocks(read_rows, path, chunks=chunks, dtype=x.dtype, meta=np.empty((0,) * x.ndim, x.dtype))


if __name__ == "__main__":      # the worker processes import this file: only the main process starts a cluster
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):   # or Client("host:8786")
        logits, labels = open_array(sys.argv[1]), open_array(sys.argv[2])
        print(fastinfo.softmax_cross_entropy(logits, labels, reduction="mean").compute())
