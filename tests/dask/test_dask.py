"""Dask arrays in, lazy Dask arrays out: every batched function, on the threaded
scheduler and on a real distributed.LocalCluster with worker processes (loopback only),
including a worker killed in the middle of a computation."""

import os
import signal
import sys
import time
import warnings

import numpy as np
import pytest
from helpers import run_python

import fastinfo as fi

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

RNG = np.random.default_rng(7)
P = RNG.random((600, 40))
Q = RNG.random((600, 40))
L = RNG.integers(0, 40, 600)
W = RNG.random(40)
S = RNG.standard_normal((30, 400))
J = RNG.random((24, 6, 7))
A = RNG.standard_normal((20, 3, 3))
COV = A @ A.transpose(0, 2, 1) + np.eye(3)
MU = RNG.standard_normal((20, 3))


def d(x, rows=97):
    """A Dask array chunked along the first (batch) axis only."""
    return da.from_array(x, chunks=(rows,) + x.shape[1:])


# name, call with Dask arrays, call with NumPy arrays
CASES = [
    ("entropy", lambda: fi.entropy(d(P), normalize=True), lambda: fi.entropy(P, normalize=True)),
    ("entropy axis=0 keepdims", lambda: fi.entropy(da.from_array(P, chunks=(600, 9)), axis=0, keepdims=True, normalize=True),
     lambda: fi.entropy(P, axis=0, keepdims=True, normalize=True)),
    ("cross_entropy", lambda: fi.cross_entropy(d(P), d(Q, 50), normalize=True),
     lambda: fi.cross_entropy(P, Q, normalize=True)),
    ("kl_divergence broadcast", lambda: fi.kl_divergence(d(P), Q[0], normalize=True),
     lambda: fi.kl_divergence(P, Q[0], normalize=True)),
    ("js_divergence float32", lambda: fi.js_divergence(d(P.astype(np.float32)), d(Q.astype(np.float32)),
                                                       normalize=True, distance=True),
     lambda: fi.js_divergence(P.astype(np.float32), Q.astype(np.float32), normalize=True, distance=True)),
    ("surprisal", lambda: fi.surprisal(d(P)), lambda: fi.surprisal(P)),
    ("logsumexp", lambda: fi.logsumexp(d(P)), lambda: fi.logsumexp(P)),
    ("log_softmax axis=0", lambda: fi.log_softmax(da.from_array(P, chunks=(600, 9)), axis=0), lambda: fi.log_softmax(P, axis=0)),
    ("softmax", lambda: fi.softmax(d(P), temperature=2.0), lambda: fi.softmax(P, temperature=2.0)),
    ("softmax_entropy", lambda: fi.softmax_entropy(d(P), base=2), lambda: fi.softmax_entropy(P, base=2)),
    ("softmax_cross_entropy labels", lambda: fi.softmax_cross_entropy(d(P), d(L)),
     lambda: fi.softmax_cross_entropy(P, L)),
    ("softmax_cross_entropy mean weight ignore", lambda: fi.softmax_cross_entropy(
        d(P), d(L, 61), weight=W, ignore_index=3, label_smoothing=0.1, reduction="mean"),
     lambda: fi.softmax_cross_entropy(P, L, weight=W, ignore_index=3, label_smoothing=0.1, reduction="mean")),
    ("softmax_cross_entropy soft mean broadcast", lambda: fi.softmax_cross_entropy(d(P), Q[:1] / Q[0].sum(),
                                                                                   reduction="mean"),
     lambda: fi.softmax_cross_entropy(P, Q[:1] / Q[0].sum(), reduction="mean")),
    ("softmax_cross_entropy soft sum", lambda: fi.softmax_cross_entropy(d(P), d(Q) / 40, reduction="sum"),
     lambda: fi.softmax_cross_entropy(P, Q / 40, reduction="sum")),
    ("softmax_kl_divergence mean", lambda: fi.softmax_kl_divergence(d(P), d(Q), reduction="mean"),
     lambda: fi.softmax_kl_divergence(P, Q, reduction="mean")),
    ("softmax_js_divergence", lambda: fi.softmax_js_divergence(d(P), d(Q)), lambda: fi.softmax_js_divergence(P, Q)),
    ("softmax_kl_divergence ignore_index batchmean", lambda: fi.softmax_kl_divergence(
        d(P), d(Q, 61), labels=d(L, 50), ignore_index=3, reduction="batchmean"),
     lambda: fi.softmax_kl_divergence(P, Q, labels=L, ignore_index=3, reduction="batchmean")),
    ("softmax_kl_divergence ignore_index where mean", lambda: fi.softmax_kl_divergence(
        d(P), d(Q), labels=d(L), ignore_index=3, where=d(L % 3 > 0, 61), reduction="mean"),
     lambda: fi.softmax_kl_divergence(P, Q, labels=L, ignore_index=3, where=L % 3 > 0, reduction="mean")),
    ("softmax_js_divergence beta where", lambda: fi.softmax_js_divergence(d(P), d(Q), beta=0.2, where=d(L > 9)),
     lambda: fi.softmax_js_divergence(P, Q, beta=0.2, where=L > 9)),
    ("softmax_total_variation where sum", lambda: fi.softmax_total_variation(d(P), d(Q), where=d(L > 9),
                                                                             reduction="sum"),
     lambda: fi.softmax_total_variation(P, Q, where=L > 9, reduction="sum")),
    ("softmax_total_variation no row kept mean", lambda: fi.softmax_total_variation(
        d(P), d(Q), where=d(L < 0), reduction="mean"),
     lambda: fi.softmax_total_variation(P, Q, where=L < 0, reduction="mean")),
    ("sigmoid_cross_entropy", lambda: fi.sigmoid_cross_entropy(d(P), d(Q), pos_weight=W, reduction="mean"),
     lambda: fi.sigmoid_cross_entropy(P, Q, pos_weight=W, reduction="mean")),
    ("perplexity", lambda: fi.perplexity(d(P), d(L), ignore_index=5), lambda: fi.perplexity(P, L, ignore_index=5)),
    ("renyi_entropy", lambda: fi.renyi_entropy(d(P), 2.5, normalize=True), lambda: fi.renyi_entropy(P, 2.5, normalize=True)),
    ("tsallis_entropy", lambda: fi.tsallis_entropy(d(P), 0.5), lambda: fi.tsallis_entropy(P, 0.5)),
    ("renyi_divergence", lambda: fi.renyi_divergence(d(P), d(Q), 0.7, normalize=True),
     lambda: fi.renyi_divergence(P, Q, 0.7, normalize=True)),
    ("hellinger_distance", lambda: fi.hellinger_distance(d(P), d(Q), normalize=True),
     lambda: fi.hellinger_distance(P, Q, normalize=True)),
    ("total_variation", lambda: fi.total_variation(d(P), d(Q), normalize=True),
     lambda: fi.total_variation(P, Q, normalize=True)),
    ("entropy_from_counts", lambda: fi.entropy_from_counts(d(L.reshape(60, 10) + 1, 7), estimator="chao_shen"),
     lambda: fi.entropy_from_counts(L.reshape(60, 10) + 1, estimator="chao_shen")),
    ("differential_entropy", lambda: fi.differential_entropy(d(S, 7), method="ebrahimi"),
     lambda: fi.differential_entropy(S, method="ebrahimi")),
    ("mutual_information axes", lambda: fi.mutual_information(da.from_array(J, chunks=(24, 2, 7)), axes=(0, 2), normalize=True),
     lambda: fi.mutual_information(J, axes=(0, 2), normalize=True)),
    ("joint_entropy", lambda: fi.joint_entropy(d(J, 5), normalize=True), lambda: fi.joint_entropy(J, normalize=True)),
    ("conditional_entropy", lambda: fi.conditional_entropy(d(J, 5), normalize=True),
     lambda: fi.conditional_entropy(J, normalize=True)),
    ("normalized_mutual_information", lambda: fi.normalized_mutual_information(d(J, 5), normalize=True),
     lambda: fi.normalized_mutual_information(J, normalize=True)),
    ("variation_of_information", lambda: fi.variation_of_information(d(J, 5), normalize=True),
     lambda: fi.variation_of_information(J, normalize=True)),
    ("gaussian_entropy", lambda: fi.gaussian_entropy(d(COV, 6)), lambda: fi.gaussian_entropy(COV)),
    ("gaussian_entropy diagonal", lambda: fi.gaussian_entropy(d(MU**2 + 1, 6), diagonal=True),
     lambda: fi.gaussian_entropy(MU**2 + 1, diagonal=True)),
    ("gaussian_kl_divergence", lambda: fi.gaussian_kl_divergence(d(MU, 6), d(COV, 6), MU[::-1], COV[::-1]),
     lambda: fi.gaussian_kl_divergence(MU, COV, MU[::-1], COV[::-1])),
    ("diagonal_gaussian_kl_divergence sum", lambda: fi.diagonal_gaussian_kl_divergence(d(MU, 6), d(MU, 7) * 0.3,
                                                                                       reduction="sum"),
     lambda: fi.diagonal_gaussian_kl_divergence(MU, MU * 0.3, reduction="sum")),
]


def _check(lazy, eager):
    assert isinstance(lazy, da.Array)
    v = lazy.compute()
    e = np.asarray(eager)
    assert np.shape(v) == e.shape
    assert np.asarray(v).dtype == e.dtype
    np.testing.assert_allclose(v, e, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name,lazy,eager", CASES, ids=[c[0] for c in CASES])
def test_threaded_scheduler_matches_numpy(name, lazy, eager):
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # chunked along the batch only: no rechunk warning
        res = lazy()
    _check(res, eager())


@pytest.mark.parametrize("name", ["pairwise_cross_entropy", "pairwise_kl_divergence", "pairwise_js_divergence"])
def test_pairwise_matrices(name):
    f = getattr(fi, name)
    Pn, Qn = P[:130] / P[:130].sum(1, keepdims=True), Q[:70] / Q[:70].sum(1, keepdims=True)
    lazy = f(d(Pn, 40), d(Qn, 25))
    assert isinstance(lazy, da.Array) and lazy.chunks == ((40, 40, 40, 10), (25, 25, 20))
    np.testing.assert_allclose(lazy.compute(), f(Pn, Qn), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f(d(Pn, 40), Qn).compute(), f(Pn, Qn), rtol=1e-12, atol=1e-15)


def test_every_batched_public_function_has_a_case():
    batched = {"entropy", "cross_entropy", "kl_divergence", "js_divergence", "surprisal", "logsumexp", "log_softmax",
               "softmax", "softmax_entropy", "softmax_cross_entropy", "softmax_kl_divergence",
               "softmax_js_divergence", "sigmoid_cross_entropy", "perplexity", "renyi_entropy", "tsallis_entropy",
               "renyi_divergence", "hellinger_distance", "total_variation", "entropy_from_counts",
               "differential_entropy", "mutual_information", "joint_entropy", "conditional_entropy",
               "normalized_mutual_information", "variation_of_information", "gaussian_entropy",
               "gaussian_kl_divergence", "diagonal_gaussian_kl_divergence"}
    assert batched <= {c[0].split()[0] for c in CASES}


def test_dask_is_imported_only_when_a_dask_array_is_passed():
    code = ("import sys, numpy as np, fastinfo as fi; fi.entropy(np.ones(4)); fi.softmax(np.ones(3)); "
            "print('dask' in sys.modules)")
    r = run_python(["-c", code])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_split_distribution_axis_is_rechunked_with_a_warning():
    lazy = da.from_array(P, chunks=(100, 13))
    with pytest.warns(da.PerformanceWarning, match="rechunking"):
        res = fi.entropy(lazy, normalize=True)
    _check(res, fi.entropy(P, normalize=True))


def test_lazy_until_compute_and_errors_name_the_block():
    bad = P.copy()
    bad[437, 4] = -1.0
    res = fi.entropy(d(bad, 100))                 # builds a graph, computes nothing
    with pytest.raises(ValueError, match=r"batch index \(37,\).*start at \(400,\)"):
        res.compute()
    with pytest.raises(TypeError, match="out="):
        fi.entropy(d(P), out=np.empty(600))


def test_reductions_are_lazy_scalars_that_combine_across_chunks():
    lazy = fi.softmax_cross_entropy(d(P, 7), d(L, 13), reduction="mean", weight=W)
    assert isinstance(lazy, da.Array) and lazy.shape == ()
    assert lazy.compute() == pytest.approx(fi.softmax_cross_entropy(P, L, reduction="mean", weight=W), rel=1e-13)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    saved = dict(os.environ)        # distributed sets OMP_NUM_THREADS=1 etc. in *this* process's environment
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", memory_limit="2GiB", silence_logs=50)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("name,lazy,eager", [c for c in CASES if c[0] in (
    "entropy", "kl_divergence broadcast", "softmax_cross_entropy mean weight ignore", "softmax", "perplexity",
    "differential_entropy", "gaussian_kl_divergence", "mutual_information axes")], ids=lambda v: v if isinstance(v, str) else "")
def test_local_cluster_processes_match_numpy(client, name, lazy, eager):
    res = lazy()
    v = client.compute(res).result()
    e = np.asarray(eager())
    np.testing.assert_allclose(v, e, rtol=1e-12)
    assert np.shape(v) == e.shape


def _slow(x):
    time.sleep(0.15)
    return x


def test_worker_killed_mid_computation_is_recovered(client):
    # the workers cannot import this test module: ship _slow by value
    cloudpickle = pytest.importorskip("cloudpickle")
    cloudpickle.register_pickle_by_value(sys.modules[_slow.__module__])
    X = RNG.random((4000, 64))
    lazy = fi.kl_divergence(da.from_array(X, chunks=(100, 64)).map_blocks(_slow), X[::-1].copy(), normalize=True)
    total = lazy.sum()
    pids = list(client.run(os.getpid).values())
    fut = client.compute(total)
    time.sleep(1.0)                                # some blocks done, most still to run
    assert not fut.done()
    os.kill(pids[0], signal.SIGKILL)               # the nanny restarts it; its tasks are recomputed
    v = fut.result(timeout=240)
    assert v == pytest.approx(float(np.sum(fi.kl_divergence(X, X[::-1], normalize=True))), rel=1e-12)
    deadline = time.time() + 60
    while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.parametrize("call", [lambda: fi.softmax_cross_entropy(d(P), L, return_grad=True),
                                  lambda: fi.sigmoid_cross_entropy(d(P), d(Q), return_grad=True),
                                  lambda: fi.softmax_js_divergence(d(P), d(Q), beta=0.3, return_grad=True),
                                  lambda: fi.softmax_kl_divergence(d(P), d(Q), return_grad=True),
                                  lambda: fi.logsumexp(d(P), return_grad=True),
                                  lambda: fi.log_softmax(d(P), return_grad=True, grad_output=Q)])
def test_gradients_are_refused_on_dask_arrays(call):
    """A gradient has the logits' size: not a lazy reduction; the message says how to get one."""
    with pytest.raises(TypeError, match="map_blocks"):
        call()
