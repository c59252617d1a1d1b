"""What every test folder shares: the helpers module on sys.path, hypothesis defaults, PyTorch
as an oracle, and mpmath's working precision per test module.

pytest runs in importlib mode (``--import-mode=importlib`` in pyproject.toml): test files are
imported under unique names and their folders are *not* added to ``sys.path``, so that the
tests import the installed fastinfo and never a source folder beside them. The side effect is
that a test file cannot ``import`` a shared module next to it. This file, which pytest loads
before any test file below it, therefore puts its own folder first on ``sys.path`` -- that
folder and nothing else -- and every test file imports the shared code by name::

    from helpers import assert_close, fastinfo_env, random_rows

Everything importable lives in ``tests/helpers.py``; this file holds only what pytest itself
must see: fixtures, the hypothesis profile and the session hooks.
"""

import os
import sys

import mpmath
import pytest
from hypothesis import HealthCheck, settings

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# Defaults for every property-based test; a test file sets only its number of examples.
# database=None: no example database written into the source tree.
settings.register_profile("fastinfo", deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fastinfo")


@pytest.fixture(scope="module")
def torch():
    """PyTorch as an oracle (float64 on the CPU); the test is skipped where it is not installed.

    torch shares the process's OpenMP runtime (libgomp) with fastinfo: set_num_threads(1)
    also limits fastinfo's n_threads=None, so the old value is put back afterwards.
    """
    t = pytest.importorskip("torch")
    old = t.get_num_threads()
    t.set_num_threads(1)
    yield t
    t.set_num_threads(old)


@pytest.fixture(autouse=True, scope="module")
def _mpmath_precision(request):
    """mpmath's global working precision for one test module: the module's ``MPMATH_PREC``
    (bits) if it sets one, and in every case restored when the module is done, so that no
    module's oracles depend on which modules ran before it."""
    old = mpmath.mp.prec
    mpmath.mp.prec = getattr(request.module, "MPMATH_PREC", old)
    yield
    mpmath.mp.prec = old


def pytest_collection_modifyitems(config, items):
    """Starts the packaging tests' sdist install in the background (helpers.SdistInstall) when
    a collected test needs it, the row suites under the other SIMD variants and the typing
    checks, unless only collecting."""
    if config.option.collectonly:
        return
    if any("sdist_install" in getattr(i, "fixturenames", ()) for i in items):
        from helpers import SDIST_INSTALL
        SDIST_INSTALL.start()
    # and the row suites under the other SIMD variants (helpers.OtherLevelSuites)
    levels = [i.callspec.params["level"] for i in items
              if getattr(i, "originalname", "") == "test_row_suites_on_the_other_levels"]
    if levels:
        from helpers import OTHER_LEVEL_SUITES
        for level in levels:
            OTHER_LEVEL_SUITES.start(level)
    # and the typing checks (tests/packaging/test_typing.py)
    for i in items:
        if getattr(i, "originalname", "") == "test_stubtest_and_strict_mypy":
            i.module.start_checks()
            config._typing_checks = i.module
            break


def pytest_sessionfinish(session):
    from helpers import OTHER_LEVEL_SUITES, SDIST_INSTALL
    SDIST_INSTALL.stop()
    OTHER_LEVEL_SUITES.stop()
    typing_checks = getattr(session.config, "_typing_checks", None)
    if typing_checks is not None:
        typing_checks.stop_checks()

