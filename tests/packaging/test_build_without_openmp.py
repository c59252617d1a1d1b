"""The build without OpenMP: it must compile, warn, say so in show_config(),
and give the bitwise-same results as the installed (OpenMP) build.

Builds the baseline variant only, from the source tree beside the tests, in a
temporary copy (never touching the checkout); ~1 minute on 2 cores.
"""

import json
import os
import shutil

import numpy as np
import pytest
from helpers import SOURCE_ROOT, needs_source_tree, run_python

import fastinfo

SCRIPT = r"""
import io, json, sys
import numpy as np
import fastinfo
assert fastinfo.__file__.startswith(sys.argv[1]), fastinfo.__file__
rng = np.random.default_rng(5)
p = rng.random((300, 257)); p[p < 0.05] = 0
q = rng.random((300, 257))
buf = io.StringIO()
fastinfo.show_config(file=buf)
res = {name: getattr(fastinfo, name)(p, q, n_threads=2).tolist()
       for name in ("cross_entropy", "kl_divergence", "js_divergence")}
res["entropy"] = fastinfo.entropy(p, n_threads=2).tolist()
print(json.dumps({"config": fastinfo.config(), "show": buf.getvalue(), "res": res}))
"""


@needs_source_tree
def test_serial_build_without_openmp(tmp_path):
    pytest.importorskip("Cython")
    work = tmp_path / "src"
    work.mkdir()
    shutil.copy(SOURCE_ROOT / "setup.py", work)
    shutil.copy(SOURCE_ROOT / "pyproject.toml", work)
    shutil.copytree(SOURCE_ROOT / "fastinfo", work / "fastinfo",
                    ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    env = dict(os.environ, FASTINFO_DISABLE_OPENMP="1", FASTINFO_SIMD_LEVELS="baseline")
    env.pop("FASTINFO_SIMD", None)
    build = run_python(["setup.py", "build_ext", "--inplace"], cwd=work, env=env, timeout=900)
    assert build.returncode == 0, build.stderr[-4000:]
    assert "OpenMP disabled" in build.stderr
    run = run_python(["-c", SCRIPT, str(work)], cwd=work, env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    got = json.loads(run.stdout)
    assert got["config"]["openmp"] is False
    assert got["config"]["max_threads"] == 1
    assert "OFF" in got["show"]
    rng = np.random.default_rng(5)
    p = rng.random((300, 257))
    p[p < 0.05] = 0
    q = rng.random((300, 257))
    with_omp = {name: getattr(fastinfo, name)(p, q, n_threads=2)
                for name in ("cross_entropy", "kl_divergence", "js_divergence")}
    with_omp["entropy"] = fastinfo.entropy(p, n_threads=2)
    if fastinfo.config()["simd"] == "baseline":   # same code, same compiler flags: same bits
        for name, values in got["res"].items():
            assert np.array_equal(np.array(values), with_omp[name]), name
    else:                                         # another SIMD level may differ in the last bit (FMA)
        for name, values in got["res"].items():
            np.testing.assert_allclose(np.array(values), with_omp[name], rtol=1e-14, atol=0)
