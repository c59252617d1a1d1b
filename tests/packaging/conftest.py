"""One build of the source distribution serves the packaging tests.

Compiling a kernel variant takes about a minute on two cores, and two checks need one built
from the sources alone: that the sdist holds every file the build needs (it installs into a
fresh virtual environment and runs there), and that a compiler without OpenMP still builds
serial kernels that warn, say so in show_config() and give the OpenMP build's results. Both
use the same install: the sdist built with ``FASTINFO_DISABLE_OPENMP=1`` and the baseline
SIMD level only, in a fresh venv.
"""

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from helpers import SOURCE_ROOT


@pytest.fixture(scope="session")
def sdist_install(tmp_path_factory):
    """The sdist (``.sdist``), and a fresh venv with fastinfo installed from it without OpenMP:
    its ``.python``, ``.venv``, ``.env`` and the build's output (``.build_log``)."""
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("sdist")
    r = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out),
                        str(SOURCE_ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (sdist,) = out.glob("fastinfo-*.tar.gz")
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("FASTINFO_SIMD", None)
    env["FASTINFO_SIMD_LEVELS"] = "baseline"      # one kernel variant: the sdist check, not the speed
    env["FASTINFO_DISABLE_OPENMP"] = "1"          # the serial build a compiler without OpenMP gets
    # -v: the build's own lines (the OpenMP decision) reach the log
    r = subprocess.run([str(python), "-m", "pip", "install", "-v", str(sdist)], capture_output=True,
                       text=True, env=env, timeout=1200, cwd=out)
    build_log = r.stdout + r.stderr
    assert r.returncode == 0, build_log[-6000:]
    return SimpleNamespace(sdist=sdist, venv=venv, python=python, env=env, build_log=build_log)
