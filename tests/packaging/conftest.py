"""One build of the source distribution serves the packaging tests.

Two checks need fastinfo built from the sources alone: that the sdist holds every file the
build needs (it installs into a fresh virtual environment and runs there), and that a compiler
without OpenMP still builds serial kernels that warn, say so in show_config() and give the
OpenMP build's results. Both use the same install: the sdist built with
``FASTINFO_DISABLE_OPENMP=1`` and the baseline SIMD level only, in a fresh venv
(tests/packaging/sdist_install.py). It is started in the background when the tests are
collected (tests/conftest.py, helpers.SdistInstall); the fixture waits for it.
"""

from types import SimpleNamespace

import pytest
from helpers import SDIST_INSTALL


@pytest.fixture(scope="session")
def sdist_install():
    """The sdist (``.sdist``), and a fresh venv with fastinfo installed from it without OpenMP:
    its ``.python``, ``.venv``, ``.env`` and the build's output (``.build_log``)."""
    pytest.importorskip("build")
    ok, info, build_log = SDIST_INSTALL.wait()
    assert ok, build_log[-6000:]
    return SimpleNamespace(build_log=build_log, **info)
