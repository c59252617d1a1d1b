"""Thread counts the environment asks for: capped at 4 x the CPUs (OMP_NUM_THREADS=100000 must
neither crash nor crawl), and a team that cannot start (a memory limit on thread stacks) runs
on the threads that can, instead of ending the process."""
import os
import subprocess
import sys
import textwrap

import pytest

import fastinfo

CPUS = os.cpu_count() or 1


def _run(code, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=e, timeout=timeout)


@pytest.mark.skipif(not fastinfo.config()["openmp"], reason="a serial build starts no threads")
@pytest.mark.parametrize("omp", ["3000", "100000"])
def test_huge_omp_num_threads_is_capped(omp):
    r = _run("""
        import numpy as np, scipy.stats, fastinfo
        from fastinfo._dispatch import kernels as k
        p = np.random.default_rng(0).random((2000, 1000))
        h = fastinfo.entropy(p, normalize=True)
        assert np.allclose(h, scipy.stats.entropy(p, axis=1), rtol=1e-12)
        print(k.last_threads())
    """, env={"OMP_NUM_THREADS": omp})
    assert r.returncode == 0, r.stderr
    assert 1 <= int(r.stdout.split()[-1]) <= 4 * CPUS


# Under an address-space limit 1 GB above what the process maps, entropy on 4 threads must give
# SciPy's values (and not end the process with libgomp's "Thread creation failed").
LIMITED = textwrap.dedent("""
    import resource, numpy as np, scipy.stats, fastinfo
    from fastinfo._dispatch import kernels as k
    p = np.random.default_rng(1).random((4000, 500))
    ref = scipy.stats.entropy(p, axis=1)
    h = np.empty(4000)
    used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), resource.RLIM_INFINITY))
    fastinfo.entropy(p, normalize=True, n_threads=4, out=h)
    assert np.allclose(h, ref, rtol=1e-12)
    print("ok", k.last_threads())
""")


@pytest.mark.skipif(sys.platform != "linux" or not fastinfo.config()["openmp"],
                    reason="RLIMIT_AS and libgomp's thread start are Linux specifics")
@pytest.mark.parametrize("stack_kb", [None, 8388608])
def test_threads_that_cannot_start_do_not_end_the_process(stack_kb):
    # The pthread default stack size comes from RLIMIT_STACK: at 8 GB no thread's stack fits
    # under the limit, so the call must run on the threads that can start (here: one).
    ulimit = f"ulimit -s {stack_kb} && " if stack_kb else ""
    res = subprocess.run(["bash", "-c", f'{ulimit}"{sys.executable}" -c "$CODE"'], capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, "CODE": LIMITED, "OMP_STACKSIZE": "", "OMP_NUM_THREADS": "4"})
    assert res.returncode == 0, res.stderr
    assert "Thread creation failed" not in res.stderr
    assert res.stdout.startswith("ok")
