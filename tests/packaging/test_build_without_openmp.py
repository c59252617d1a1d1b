"""The build without OpenMP: it must compile, warn, say so in show_config(),
and give the bitwise-same results as the installed (OpenMP) build.

The serial build is the sdist installed with FASTINFO_DISABLE_OPENMP=1, baseline
variant only, in a fresh venv (the session fixture of tests/packaging/conftest.py,
shared with the sdist checks: one compile of about a minute on 2 cores).
"""

import json
import subprocess

import numpy as np
from helpers import needs_source_tree

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
def test_serial_build_without_openmp(sdist_install, tmp_path):
    assert "OpenMP disabled" in sdist_install.build_log
    run = subprocess.run([str(sdist_install.python), "-c", SCRIPT, str(sdist_install.venv)], cwd=tmp_path,
                         env=sdist_install.env, capture_output=True, text=True, timeout=300)
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
