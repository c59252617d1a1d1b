"""``fastinfo score --scheduler ADDRESS`` and ``--dask`` on a distributed.LocalCluster of two
worker processes (loopback only): every way the rows split into tasks (the files of a
pattern, the row groups of one Parquet file, slabs of one .npy file, operands whose files
split elsewhere) gives the single-process run's output bitwise and the same summary; a bad
row is the same one line; a worker killed while it runs a task is replaced and the output
is still complete and correct.
"""
import json
import math
import os
import sys
import warnings

import numpy as np
import pytest
from helpers import assert_one_line_failure, interrupt_cli, run_python

import fastinfo

distributed = pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

K = 23
SIZES = [150, 97, 1, 0, 260, 33, 120, 75]       # eight shards, one of them empty


def run(args, cwd):
    return run_python(["-m", "fastinfo", "score", *args], cwd=cwd, timeout=240)


def _fixed(a):
    return pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), a.shape[1])


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster
    saved = dict(os.environ)        # distributed sets OMP_NUM_THREADS=1 etc. in this process's environment
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None, memory_limit="2GiB", silence_logs=50)
    yield c
    c.close()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cluster")
    rng = np.random.default_rng(5)
    N = sum(SIZES)
    x = (3 * rng.standard_normal((N, K))).astype(np.float32)
    q = (3 * rng.standard_normal((N, K))).astype(np.float32)
    y = rng.integers(0, K, N).astype(np.int64)
    p = rng.random((N, K))
    p /= p.sum(1, keepdims=True)
    (d / "shards").mkdir()
    (d / "npy").mkdir()
    (d / "labels").mkdir()
    start = 0
    for i, n in enumerate(SIZES):
        s = slice(start, start + n)
        t = pa.table({"id": np.arange(start, start + n), "logits": pa.array(list(x[s]), pa.list_(pa.float32())),
                      "label": y[s]})
        if n:
            t.to_pandas().to_parquet(d / "shards" / f"part-{i}.parquet")   # the writer users have
        else:                                                 # pandas would give no type to the lists
            pq.write_table(t, d / "shards" / f"part-{i}.parquet")
        np.save(d / "npy" / f"part-{i}.npy", q[s])
        start += n
    for i, (lo, hi) in enumerate([(0, 400), (400, 401), (401, N)]):  # labels split elsewhere
        np.save(d / "labels" / f"y-{i}.npy", y[lo:hi])
    pq.write_table(pa.table({"logits": _fixed(x), "label": y}), d / "one.parquet", row_group_size=90)
    pq.write_table(pa.table({"label": y}), d / "labels.parquet", row_group_size=128)
    np.save(d / "x.npy", x)
    np.save(d / "q.npy", q)
    np.save(d / "p.npy", p)
    np.save(d / "y.npy", y)
    np.save(d / "ref.npy", p[7])
    return d, dict(x=x, q=q, y=y, p=p)


LAYOUTS = {
    # the files of a pattern, labels and an id from each
    "pattern": (["shards/*.parquet", "--measure", "softmax_cross_entropy", "--labels-column", "label"],
                lambda a: fastinfo.softmax_cross_entropy(a["x"], a["y"])),
    # one Parquet file, a task a row group; labels from a .npy file
    "row groups": (["one.parquet", "--measure", "softmax_cross_entropy", "--labels", "y.npy"],
                   lambda a: fastinfo.softmax_cross_entropy(a["x"], a["y"])),
    # one .npy file in slabs of --chunk-rows; the second operand another .npy file
    "slabs": (["x.npy", "--measure", "softmax_kl", "--q", "q.npy", "--chunk-rows", "170"],
              lambda a: fastinfo.softmax_kl_divergence(a["x"], a["q"])),
    # the input's files and the labels' files split at other rows
    "misaligned": (["npy/*.npy", "--measure", "softmax_cross_entropy", "--labels", "labels/*.npy"],
                   lambda a: fastinfo.softmax_cross_entropy(a["q"], a["y"])),
    # the labels a Parquet column read from the middle of its row groups
    "labels in row groups": (["npy/*.npy", "--measure", "softmax_cross_entropy", "--labels", "labels.parquet",
                              "--labels-column", "label"],
                             lambda a: fastinfo.softmax_cross_entropy(a["q"], a["y"])),
    # one reference row for all
    "reference": (["p.npy", "--measure", "kl", "--q", "ref.npy", "--chunk-rows", "300"],
                  lambda a: fastinfo.kl_divergence(a["p"], a["p"][7])),
}


def test_softmax_stats_records_on_the_cluster(cluster, files):
    """Several fields a row (records) come back from the tasks in order of rows, as in one process."""
    d, a = files
    r = run(["x.npy", "--measure", "softmax_stats", "--labels", "y.npy", "--k", "2", "--chunk-rows", "170",
             "-o", "stats.npy", "--force", "--scheduler", cluster.scheduler_address], d)
    assert r.returncode == 0, r.stderr
    got = np.load(d / "stats.npy")
    s = fastinfo.softmax_stats(a["x"], a["y"], k=2)
    assert got.dtype.names == ("entropy", "max_prob", "argmax", "nll", "correct", "rank", "topk_logprobs",
                               "topk_indices")
    for f in got.dtype.names:
        np.testing.assert_array_equal(got[f], getattr(s, f))


def _summary(values):
    """What --json reports of these results: their count, the exactly rounded sum of their
    float64 values, its mean, the min and max."""
    v = np.asarray(values, dtype=np.float64)
    s = math.fsum(v.tolist())
    return dict(rows=len(v), results=len(v), sum=s, mean=s / len(v), min=float(v.min()), max=float(v.max()))


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_cluster_gives_the_single_process_result(cluster, files, layout):
    d, a = files
    args, want = LAYOUTS[layout]
    many = run([*args, "-o", "many.npy", "--json", "--force", "--scheduler", cluster.scheduler_address], d)
    assert many.returncode == 0, many.stderr
    assert many.stderr == ""
    got = np.load(d / "many.npy")
    w = want(a)
    np.testing.assert_array_equal(got, w)
    assert got.dtype == w.dtype
    summary = json.loads(many.stdout)
    assert {k: summary[k] for k in ("rows", "results", "sum", "mean", "min", "max")} == _summary(w)


def test_kept_columns_and_parquet_outputs_come_back_in_order(cluster, files):
    d, a = files
    args = ["shards/*.parquet", "--measure", "softmax_entropy", "--keep", "id", "--force"]
    r = run([*args, "-o", "many.parquet", "--scheduler", cluster.scheduler_address], d)
    assert r.returncode == 0, r.stderr
    t = pq.read_table(d / "many.parquet")
    np.testing.assert_array_equal(t.column("id").to_numpy(), np.arange(sum(SIZES)))
    np.testing.assert_array_equal(t.column("softmax_entropy").to_numpy(), fastinfo.softmax_entropy(a["x"]))
    (d / "per").mkdir(exist_ok=True)
    r = run([*args, "-o", "per/{stem}.parquet", "--scheduler", cluster.scheduler_address], d)
    assert r.returncode == 0, r.stderr
    start = 0
    for i, n in enumerate(SIZES):                       # one output a file, the empty one too
        t = pq.read_table(d / "per" / f"part-{i}.parquet")
        np.testing.assert_array_equal(t.column("id").to_numpy(), np.arange(start, start + n))
        np.testing.assert_array_equal(t.column("softmax_entropy").to_numpy(),
                                      fastinfo.softmax_entropy(a["x"][start:start + n]))
        start += n


def test_a_bad_row_on_a_worker_is_the_same_one_line(cluster, files, tmp_path):
    d, a = files
    bad = a["q"].copy()
    bad[150 + 97 + 1 + 12, 3] = np.nan                   # row 12 of the fifth file
    start = 0
    for i, n in enumerate(SIZES):
        np.save(tmp_path / f"b-{i}.npy", bad[start:start + n])
        start += n
    args = ["b-*.npy", "--measure", "softmax_entropy", "-o", "out.npy"]
    one = run(args, tmp_path)
    many = run([*args, "--scheduler", cluster.scheduler_address], tmp_path)
    assert_one_line_failure(many, ["row 12", "b-4.npy"], tmp_path / "out.npy")
    assert many.stderr == one.stderr


class _KillOnce(distributed.WorkerPlugin):
    """Kills the worker process the first time any worker starts a scoring task."""

    def __init__(self, marker):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or "_task" not in str(key):
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(1)                                      # the nanny starts a new worker


def test_a_worker_killed_mid_run_is_replaced_and_the_output_is_complete(cluster, files, tmp_path):
    cloudpickle = pytest.importorskip("cloudpickle")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the workers cannot import this file
    d, a = files
    marker = tmp_path / "killed"
    with distributed.Client(cluster) as client:
        client.register_plugin(_KillOnce(str(marker)), name="kill-once")
        try:
            r = run(["shards/*.parquet", "--measure", "softmax_cross_entropy", "--labels-column", "label",
                     "-o", str(tmp_path / "out.npy"), "--scheduler", cluster.scheduler_address], d)
        finally:
            client.unregister_worker_plugin("kill-once")
    assert marker.exists()                               # a worker did die mid-run
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), fastinfo.softmax_cross_entropy(a["x"], a["y"]))


def test_dask_starts_a_local_cluster_of_processes(files):
    d, a = files
    r = run(["shards/*.parquet", "--measure", "softmax_entropy", "-o", "local.npy", "--force", "--dask",
             "--workers", "2"], d)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(d / "local.npy"), fastinfo.softmax_entropy(a["x"]))


@pytest.mark.parametrize("args,words", [
    (["--dask", "--scheduler", "tcp://127.0.0.1:1"], ["--dask", "--scheduler", "one of them"]),
    (["--workers", "2"], ["--workers", "--dask"]),
    (["--dask", "--workers", "0"], ["--workers", "at least 1"]),
    (["--scheduler", "tcp://127.0.0.1:9"], ["--scheduler", "cannot connect"]),
])
def test_cluster_usage_errors_are_one_line(files, args, words):
    d, _ = files
    r = run(["x.npy", "--measure", "softmax_entropy", "-o", "bad.npy", *args], d)
    assert_one_line_failure(r, words, d / "bad.npy")


def test_a_single_row_cannot_be_split(cluster, files):
    d, a = files
    np.save(d / "row.npy", a["x"][0])
    r = run(["row.npy", "--measure", "softmax_entropy", "--reduction", "sum", "--scheduler",
             cluster.scheduler_address], d)
    assert_one_line_failure(r, ["--scheduler", "rows must lead"], d / "nothing.npy")


def test_ctrl_c_on_a_cluster_run_leaves_no_file_and_the_cluster_serves_on(cluster, files, tmp_path):
    d, a = files
    rc, err = interrupt_cli(["score", str(d / "x.npy"), "--measure", "softmax_entropy", "--chunk-rows", "1",
                             "-o", "out.npy", "--scheduler", cluster.scheduler_address], tmp_path)
    assert rc == 130, err
    assert "interrupted; no output written" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []
    r = run(["x.npy", "--measure", "softmax_entropy", "-o", str(tmp_path / "after.npy"), "--scheduler",
             cluster.scheduler_address], d)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "after.npy"), fastinfo.softmax_entropy(a["x"]))


def test_a_file_changed_since_the_run_began_is_an_error_not_other_rows(files, tmp_path):
    """A task checks that it opens the file the command planned with (changed since, or a stale
    copy on a worker), and a short file is an error, not fewer rows."""
    from fastinfo import _cli, _cluster
    d, a = files
    np.save(tmp_path / "x.npy", a["x"])
    args = _cli._parser().parse_args(["score", str(tmp_path / "x.npy"), "--measure", "softmax_entropy",
                                      "--reduction", "sum"])
    args.weight_values = None
    with _cli.NpyReader(str(tmp_path / "x.npy"), "input") as R:
        narrow = {"input": _cluster._narrow(R, 100, 200)}
    r, _, _ = _cluster._task(args, narrow, 100, 200)
    np.testing.assert_array_equal(r, fastinfo.softmax_entropy(a["x"][100:200]))
    np.save(tmp_path / "x.npy", a["x"][:150])
    with pytest.raises(_cli.RunError, match="not the file the run began with"):
        _cluster._task(args, narrow, 100, 200)
    with _cli.NpyReader(str(tmp_path / "x.npy"), "input") as R:
        narrow = {"input": _cluster._narrow(R, 100, 200)}
    with pytest.raises(_cli.RunError, match="fewer than when the run began"):
        _cluster._task(args, narrow, 100, 200)


def test_a_compressed_npz_member_is_refused_before_any_task(files, tmp_path):
    d, a = files
    np.savez_compressed(tmp_path / "z.npz", x=a["x"])
    r = run([str(tmp_path / "z.npz") + ":x", "--measure", "softmax_entropy", "-o", "bad.npy", "--scheduler",
             "tcp://127.0.0.1:9"], tmp_path)
    assert_one_line_failure(r, ["compressed .npz member", "without a cluster"], tmp_path / "bad.npy")
