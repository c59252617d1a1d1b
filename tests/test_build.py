"""The build without OpenMP: it must compile, warn, say so in show_config(),
and give the bitwise-same results as the installed (OpenMP) build.

Builds the baseline variant only, from the source tree beside the tests, in a
temporary copy (never touching the checkout); ~1 minute on 2 cores.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastinfo

SRC = Path(__file__).resolve().parents[1]

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


@pytest.mark.skipif(not (SRC / "setup.py").exists(), reason="needs the source tree beside the tests")
def test_serial_build_without_openmp(tmp_path):
    pytest.importorskip("Cython")
    work = tmp_path / "src"
    work.mkdir()
    shutil.copy(SRC / "setup.py", work)
    shutil.copy(SRC / "pyproject.toml", work)
    shutil.copytree(SRC / "fastinfo", work / "fastinfo",
                    ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    env = dict(os.environ, FASTINFO_DISABLE_OPENMP="1", FASTINFO_SIMD_LEVELS="baseline")
    env.pop("FASTINFO_SIMD", None)
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr[-4000:]
    assert "OpenMP disabled" in build.stderr
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(work)], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
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


def test_show_config_reports_the_build(capsys):
    fastinfo.show_config()
    text = capsys.readouterr().out
    c = fastinfo.config()
    assert f"fastinfo {fastinfo.__version__}" in text
    assert ("OpenMP:        on" in text) == c["openmp"]
    assert c["simd"] in text and c["simd"] in c["simd_available"]
    assert str(c["max_threads"]) in text
    assert json.dumps(c)   # plain data


def test_doctests():
    import doctest

    from fastinfo import _measures
    res = doctest.testmod(_measures, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 10 and res.failed == 0
