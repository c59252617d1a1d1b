"""The README's Dask script, saved as a file and run as ``python dask_score.py ...`` (so its
``if __name__ == "__main__":`` guard is exercised) on a LocalCluster of two worker processes.

The input file is larger than distributed's large-graph threshold (10 MB): the script must open
it on the workers, so the task graph holds paths and row bounds only. Each run turns the
"Sending large graph" warning into an error; a positive control shows that reading the same
file with ``da.from_array(np.load(path, mmap_mode="r"))`` trips it. Results are checked against
SciPy's ``logsumexp`` in float64 on the in-memory arrays.

The README block is fenced as ``py`` (not ``python``): it is a script, run here as a script,
and not part of the in-process quickstart of tests/docs/test_readme.py.
"""

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import fastinfo_env, run_python

import fastinfo as fi

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
special = pytest.importorskip("scipy.special")

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLE = ROOT / "docs" / "examples" / "dask_score.py"
GUIDE = ROOT / "docs" / "guide" / "dask.rst"

ROWS, CLASSES = 75_000, 100           # float32 logits: 30 MB, three times distributed's threshold
CHUNK_SIZE = "4MiB"                   # Dask's array.chunk-size in the script: 8 blocks of rows
LARGE_GRAPH = "Sending large graph"   # distributed's warning above distributed.admin.large-graph-warning-threshold


def readme_script():
    if not README.exists():
        pytest.skip("README.md is not beside the tests")
    text = README.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```py\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
              if 'if __name__ == "__main__":' in b]
    assert len(blocks) == 1, "README.md: expected one ```py script block with a __main__ guard"
    return blocks[0]


def script_definitions():
    """The README script's functions, imported as a module is: the guarded part does not run."""
    ns = {"__name__": "dask_score"}
    exec(compile(readme_script(), "dask_score.py", "exec"), ns)
    return ns


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask_score")
    rng = np.random.default_rng(11)
    logits = (rng.standard_normal((ROWS, CLASSES)) * 4).astype(np.float32)
    labels = rng.integers(0, CLASSES, ROWS)
    np.save(folder / "logits.npy", logits)
    np.save(folder / "labels.npy", labels)
    script = folder / "dask_score.py"
    script.write_text(readme_script(), encoding="utf-8")
    x = logits.astype(np.float64)
    oracle = float(np.mean(special.logsumexp(x, axis=1) - x[np.arange(ROWS), labels]))
    return folder, logits, labels, oracle


def run_script(folder, script, *paths):
    return run_python(["-W", f"error:{LARGE_GRAPH}", script, *paths], cwd=folder, timeout=180,
                      env=fastinfo_env(DASK_ARRAY__CHUNK_SIZE=CHUNK_SIZE))


def check_result(r, logits, labels, oracle):
    assert r.returncode == 0, r.stderr[-3000:]
    assert LARGE_GRAPH not in r.stderr
    value = float(r.stdout.split()[-1])
    assert value == pytest.approx(oracle, rel=2e-6)
    assert value == pytest.approx(float(fi.softmax_cross_entropy(logits, labels, reduction="mean")), rel=1e-6)


def test_readme_script_is_the_example_file_the_guide_includes():
    if not EXAMPLE.exists():
        pytest.skip("docs/ is not beside the tests")
    assert readme_script() == EXAMPLE.read_text(encoding="utf-8")
    assert ".. literalinclude:: ../examples/dask_score.py" in GUIDE.read_text(encoding="utf-8")


def test_graph_holds_the_path_not_the_data(data):
    import dask
    from dask.utils import parse_bytes
    folder, logits, labels, oracle = data
    ns = script_definitions()
    npy = str(folder / "logits.npy")
    size = (folder / "logits.npy").stat().st_size
    assert size > parse_bytes(dask.config.get("distributed.admin.large-graph-warning-threshold"))
    with dask.config.set({"array.chunk-size": CHUNK_SIZE}):
        x = ns["open_array"](npy)
        loss = fi.softmax_cross_entropy(x, ns["open_array"](str(folder / "labels.npy")), reduction="mean")
    assert len(x.chunks[0]) > 2 and x.dtype == np.float32 and x.shape == (ROWS, CLASSES)
    graph = len(cloudpickle.dumps(dict(loss.__dask_graph__())))
    assert graph < 100_000 and graph < size / 300
    assert float(loss.compute(scheduler="sync")) == pytest.approx(oracle, rel=2e-6)
    # what the script avoids: a memory map given to from_array is pickled by value
    naive = da.from_array(np.load(npy, mmap_mode="r"), chunks=x.chunks)
    assert len(pickle.dumps(dict(naive.__dask_graph__()))) > size


def test_npy_script_on_a_process_cluster(data):
    folder, logits, labels, oracle = data
    check_result(run_script(folder, "dask_score.py", "logits.npy", "labels.npy"), logits, labels, oracle)


def test_zarr_script_on_a_process_cluster(data):
    zarr = pytest.importorskip("zarr")
    folder, logits, labels, oracle = data
    da.to_zarr(da.from_array(logits, chunks=(8192, CLASSES)), str(folder / "logits.zarr"), overwrite=True)
    da.to_zarr(da.from_array(labels, chunks=8192), str(folder / "labels.zarr"), overwrite=True)
    assert zarr.open_array(str(folder / "logits.zarr"), mode="r").shape == (ROWS, CLASSES)
    check_result(run_script(folder, "dask_score.py", "logits.zarr", "labels.zarr"), logits, labels, oracle)


def test_memory_map_given_to_from_array_is_sent_in_the_graph(data):
    """The positive control, on an in-process cluster (the client pickles the graph all the same):
    from_array(np.load(path, mmap_mode="r")) ships the file's bytes and trips the large-graph
    warning; the script's reader does not."""
    import os
    import warnings

    from distributed import Client, LocalCluster
    folder = data[0]
    ns = script_definitions()
    npy = str(folder / "logits.npy")
    saved = dict(os.environ)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                   dashboard_address=None, silence_logs=50)
        with cluster, Client(cluster):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                good = fi.softmax_entropy(ns["open_array"](npy)).sum().compute()
            with pytest.warns(UserWarning, match=LARGE_GRAPH):
                mm = np.load(npy, mmap_mode="r")
                bad = fi.softmax_entropy(da.from_array(mm, chunks=(8192, CLASSES))).sum().compute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert good == pytest.approx(bad, rel=1e-6)
