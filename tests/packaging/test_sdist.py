"""The source distribution: the sdist holds every source the build needs, installs into a fresh
virtual environment (building the extension from it: the wheel pip builds on the way) and
passes a smoke test there; cibuildwheel is configured. The sdist and its install are the
session fixture of tests/packaging/conftest.py."""

import subprocess
import tarfile

import pytest
from helpers import SOURCE_ROOT, needs_source_tree

pytestmark = needs_source_tree

try:
    import tomllib
except ImportError:                                     # pragma: no cover - Python < 3.11
    tomllib = None


def _sources():
    """Every file under fastinfo/ the build or the package needs (no build products)."""
    keep = (".py", ".pyx", ".pxd", ".pxi", ".h", ".pyi", "py.typed")
    return sorted(p.relative_to(SOURCE_ROOT).as_posix() for p in (SOURCE_ROOT / "fastinfo").iterdir()
                  if p.is_file() and p.name.endswith(keep) and not p.name.startswith("."))


def test_sdist_holds_every_source(sdist_install):
    with tarfile.open(sdist_install.sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    missing = [s for s in _sources() + ["setup.py", "pyproject.toml", "README.md"] if s not in names]
    assert not missing, missing
    from fastinfo._dispatch import KERNEL_SOURCES
    assert all(f"fastinfo/{s}" in names for s in KERNEL_SOURCES)


def test_sdist_installs_in_a_fresh_venv_and_runs(sdist_install, tmp_path):
    venv, py, env = sdist_install.venv, sdist_install.python, sdist_install.env
    smoke = (
        "import math, numpy as np, fastinfo\n"
        "fastinfo.show_config()\n"
        "assert fastinfo.__file__.startswith(%r), fastinfo.__file__\n"
        "assert abs(fastinfo.entropy([0.5, 0.5]) - math.log(2)) < 1e-15\n"
        "assert abs(float(fastinfo.kl_divergence([[0.5, 0.5]], [[0.25, 0.75]])[0])"
        " - (0.5*math.log(2) + 0.5*math.log(2/3))) < 1e-15\n"
        "import fastinfo.capi\n"
        "import importlib.resources as r\n"
        "names = {p.name for p in r.files('fastinfo').iterdir()}\n"
        "assert {'capi.pxd', 'py.typed', '_fi_capi.h'} <= names, names\n"
        "print('smoke ok')\n" % str(venv))
    r = subprocess.run([str(py), "-c", smoke], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0 and "smoke ok" in r.stdout, r.stdout + r.stderr
    assert "SIMD level:    baseline" in r.stdout


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_cibuildwheel_is_configured():
    cfg = tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    assert cfg["test-command"]
    assert set(cfg["linux"]["archs"]) >= {"x86_64", "aarch64"}
    assert "libomp" in cfg["macos"]["before-all"]
    assert "cp311-*" in cfg["build"]
