"""Threads: threadpoolctl sees and limits fastinfo's OpenMP runtime, a child forked
after parallel calls gets correct results and does not hang, Python threads calling different
functions at once get the serial results, and Dask / joblib workers do not oversubscribe."""

import multiprocessing as mp
import os
import textwrap
import threading

import numpy as np
import pytest
from helpers import run_python

import fastinfo as fi
from fastinfo._dispatch import kernels as K

threadpoolctl = pytest.importorskip("threadpoolctl")

OPENMP = fi.config()["openmp"]
MULTI = OPENMP and (os.cpu_count() or 1) >= 2 and K.max_threads() >= 2
RNG = np.random.default_rng(21)
BIG = RNG.random((4000, 500))           # 2e6 elements: well above the parallel work threshold
BIG2 = RNG.random((4000, 500))


def test_threadpoolctl_lists_the_openmp_runtime():
    if not OPENMP:
        pytest.skip("built without OpenMP")
    info = threadpoolctl.threadpool_info()
    assert any(i["user_api"] == "openmp" for i in info), info


@pytest.mark.skipif(not MULTI, reason="needs OpenMP and 2 CPUs")
def test_threadpool_limits_makes_kernels_serial():
    with threadpoolctl.threadpool_limits(2):           # whatever an earlier caller left (torch shares libgomp)
        fi.entropy(BIG, normalize=True)
        assert K.last_threads() == 2
    with threadpoolctl.threadpool_limits(1):
        assert fi.config()["max_threads"] == 1
        for call in (lambda: fi.entropy(BIG, normalize=True), lambda: fi.kl_divergence(BIG, BIG2, normalize=True),
                     lambda: fi.logsumexp(BIG), lambda: fi.renyi_entropy(BIG, 2, normalize=True),
                     lambda: fi.differential_entropy(BIG), lambda: fi.knn_entropy(BIG[:, :3])):
            call()
            assert K.last_threads() == 1
        with threadpoolctl.threadpool_limits(2):
            fi.entropy(BIG, normalize=True)
            assert K.last_threads() == 2


def _child_entropy(q):
    try:
        q.put((float(np.sum(fi.entropy(BIG, normalize=True))), float(np.sum(fi.knn_entropy(BIG[:20000, :2]))),
               fi.config()["forked_serial"]))
    except BaseException as e:          # pragma: no cover - reported to the parent
        q.put(repr(e))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_fork_after_parallel_calls_does_not_hang():
    expect = (float(np.sum(fi.entropy(BIG, normalize=True, n_threads=2))),
              float(np.sum(fi.knn_entropy(BIG[:20000, :2], n_threads=2))))
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_entropy, args=(q,))
    p.start()
    p.join(60)
    if p.is_alive():                    # pragma: no cover - the bug this test is for
        p.kill()
        pytest.fail("the forked child hung in a parallel region")
    res = q.get(timeout=5)
    assert res[:2] == expect            # bitwise: the serial path sums in the same order
    assert res[2] is (True if MULTI else False)
    assert not fi.config()["forked_serial"]       # the parent keeps its threads


@pytest.mark.skipif(not hasattr(os, "fork") or not MULTI, reason="needs fork and OpenMP threads")
def test_fork_before_any_parallel_call_keeps_threads():
    code = textwrap.dedent("""
        import os, sys, numpy as np, fastinfo as fi
        from fastinfo._dispatch import kernels as K
        pid = os.fork()
        if pid == 0:
            fi.entropy(np.random.random((4000, 500)), normalize=True)
            os._exit(0 if (K.last_threads() >= 2 and not fi.config()["forked_serial"]) else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    r = run_python(["-c", code], timeout=60)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not hasattr(os, "fork") or not MULTI, reason="needs fork and OpenMP threads")
def test_a_parallel_call_of_the_core_module_makes_a_fork_serial_in_the_kernels():
    # the k-d tree runs in fastinfo._core, the entropy rows in the kernel variant: one platform
    # state, so the child of a fork after a parallel kNN call runs every kernel serially
    code = textwrap.dedent("""
        import os, sys, numpy as np, fastinfo as fi
        from fastinfo._dispatch import kernels as K, core as C
        fi.knn_entropy(np.random.random((20000, 2)), n_threads=2)
        assert C.last_threads() == 2 and K.last_threads() == 2
        pid = os.fork()
        if pid == 0:
            fi.entropy(np.random.random((4000, 500)), normalize=True, n_threads=2)
            os._exit(0 if (K.last_threads() == 1 and fi.config()["forked_serial"]) else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    r = run_python(["-c", code], timeout=60)
    assert r.returncode == 0, r.stderr


def test_eight_python_threads_get_the_serial_results():
    P = RNG.random((3000, 300))
    Q = RNG.random((3000, 300))
    L = RNG.integers(0, 300, 3000)
    S = RNG.standard_normal((50, 2000))
    calls = [
        lambda: fi.entropy(P, normalize=True),
        lambda: fi.kl_divergence(P, Q, normalize=True),
        lambda: fi.js_divergence(P, Q, normalize=True),
        lambda: fi.softmax_cross_entropy(P, L),
        lambda: fi.logsumexp(Q),
        lambda: fi.renyi_entropy(P, 3.0, normalize=True),
        lambda: fi.differential_entropy(S),
        lambda: fi.pairwise_js_divergence(P[:200], Q[:300], normalize=True),
        lambda: np.float64(fi.knn_entropy(S[:, :3].reshape(-1, 3)[:5000])),
        lambda: np.float64(fi.adjusted_mutual_information_score(L, L[::-1])),
    ]
    serial = [c() for c in calls]
    errors = []
    barrier = threading.Barrier(8)

    def worker(t):
        try:
            barrier.wait()
            for rep in range(6):
                for j in range(len(calls)):
                    i = (j + t + rep) % len(calls)
                    np.testing.assert_array_equal(calls[i](), serial[i])
        except BaseException as e:      # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:3]


@pytest.mark.skipif(not MULTI, reason="needs OpenMP and 2 CPUs")
def test_dask_blocks_run_on_one_thread():
    da = pytest.importorskip("dask.array")
    lazy = fi.entropy(da.from_array(BIG, chunks=(2000, 500)), normalize=True)
    lazy.compute(scheduler="sync")      # the blocks run in this thread
    assert K.last_threads() == 1


@pytest.mark.skipif(not MULTI, reason="needs OpenMP and 2 CPUs")
def test_joblib_loky_workers_do_not_oversubscribe():
    pytest.importorskip("joblib")
    # in a script: loky pickles functions of __main__ by value (this test module is not
    # importable in the workers)
    code = textwrap.dedent("""
        import os, numpy as np, joblib, fastinfo as fi
        from fastinfo._dispatch import kernels as K
        def used(x):
            fi.entropy(x, normalize=True)
            return K.last_threads(), fi.config()["max_threads"]
        if __name__ == "__main__":
            x = np.random.random((4000, 500))
            res = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(used)(x) for _ in range(4))
            lim = max(1, (os.cpu_count() or 1) // 2)
            print(res)
            assert all(u <= lim and m <= lim for u, m in res), res
    """)
    r = run_python(["-c", code])
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
