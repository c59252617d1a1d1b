"""Code shared by the test files: reference computations, data, tolerances, markers and the
pieces that start a child Python.

Test files import it by name (``from helpers import ...``); tests/conftest.py explains why
that works under pytest's importlib mode. Only what two or more test files use lives here.
"""

import math
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import mpmath
import numpy as np
import pytest
import scipy.special as sc

import fastinfo
from fastinfo._dispatch import available_kernels

# --------------------------------------------------------------------------- paths, children
FASTINFO_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastinfo.__file__)))
"""The folder this process imports fastinfo from (a checkout or site-packages)."""

SOURCE_ROOT = Path(__file__).resolve().parents[1]
"""The source tree beside the tests, where there is one (tests run from a checkout)."""

needs_source_tree = pytest.mark.skipif(
    not (SOURCE_ROOT / "setup.py").is_file() or not (SOURCE_ROOT / "fastinfo").is_dir(),
    reason="needs the source tree beside the tests (tests run from a checkout)")


def load_bench_script(name):
    """bench/<name>.py as a module: bench/ is a folder of scripts, not a package, so the file
    itself is loaded. The module goes into sys.modules first because dataclasses look their
    module up there."""
    import importlib.util
    path = SOURCE_ROOT / "bench" / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"needs the source tree's bench/{name}.py (tests run from a checkout)", allow_module_level=True)
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def fastinfo_env(**changes):
    """os.environ for a child Python that must import the fastinfo this process imports: its
    folder first on PYTHONPATH. Each keyword sets a variable; None removes it."""
    env = dict(os.environ)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([FASTINFO_PARENT] + rest)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def cli(*args):
    """(exit status, stdout, stderr) of ``fastinfo *args``, in this process."""
    import contextlib
    import io

    from fastinfo._cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def run_python(args, cwd=None, env=None, timeout=300):
    """`python *args` in a child process (by default with fastinfo_env()): the CompletedProcess,
    its output captured as text."""
    return subprocess.run([sys.executable, *args], cwd=cwd, env=fastinfo_env() if env is None else env,
                          capture_output=True, text=True, timeout=timeout)


def interrupt_cli(args, cwd):
    """`fastinfo *args` in cwd, sent SIGINT in the middle of scoring (once its temporary .part
    output exists): (exit status, stderr). cwd must hold nothing else."""
    import signal
    import time
    proc = subprocess.Popen([sys.executable, "-m", "fastinfo", *args], cwd=cwd, stderr=subprocess.PIPE, text=True,
                            env=fastinfo_env(),
                            # a test run started in the background of a non-interactive shell
                            # ignores SIGINT, and children inherit that: restore the default
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # not while Python is still starting up: once the temporary output exists
    deadline = time.monotonic() + 60
    while not any(p.endswith(".part") for p in os.listdir(cwd)):
        assert proc.poll() is None and time.monotonic() < deadline, "no temporary output appeared"
        time.sleep(0.01)
    time.sleep(0.3)
    assert proc.poll() is None, "finished too fast to be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def assert_same_result(got, want):
    """A result of the command (an array read back) is the library's: dtype and every bit."""
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


def assert_one_line_failure(r, words, out, status=2):
    """A CompletedProcess of the command that failed with status in one stderr line holding
    every word, and left neither the output nor a temporary .part file beside it."""
    assert r.returncode == status, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists() and not list(out.parent.glob("*.part"))


class SdistInstall:
    """fastinfo's sdist installed without OpenMP into a fresh venv by a child process
    (tests/packaging/sdist_install.py) at the lowest CPU priority. tests/conftest.py starts it
    when the collected tests need it, so the one-to-two-minute compile runs on the core the
    other tests leave idle; tests/packaging/conftest.py waits for it."""

    def __init__(self):
        self.proc = None
        self.dir = None

    def start(self):
        import importlib.util
        import tempfile
        script = SOURCE_ROOT / "tests" / "packaging" / "sdist_install.py"
        if self.proc is not None or importlib.util.find_spec("build") is None or not script.is_file():
            return
        self.dir = Path(tempfile.mkdtemp(prefix="fastinfo-sdist-"))
        nice = (lambda: os.nice(19)) if hasattr(os, "nice") else None
        # a session of its own: stop() ends pip and the compilers with it
        self.proc = subprocess.Popen([sys.executable, str(script), str(SOURCE_ROOT), str(self.dir)],
                                     preexec_fn=nice, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self, timeout=2400):
        """(ok, info, build log): info holds the sdist, venv and python (Paths) and the env."""
        import json
        self.start()
        rc = self.proc.wait(timeout=timeout)
        log = self.dir / "build.log"
        build_log = log.read_text() if log.exists() else f"the install script exited with {rc}"
        if rc != 0:
            return False, {}, build_log
        info = json.loads((self.dir / "install.json").read_text())
        info.update({k: Path(info[k]) for k in ("sdist", "venv", "python")})
        return True, info, build_log

    def stop(self):
        """Ends a build still running and removes its folder (the end of the session)."""
        import shutil
        if self.proc is not None:
            _kill_session(self.proc)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


def _kill_session(proc):
    """End a child started in a session of its own, with everything it started, if still running."""
    import signal
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (AttributeError, OSError):
            proc.kill()
        proc.wait()


SDIST_INSTALL = SdistInstall()
"""The session's one sdist install (tests/packaging)."""


# The test files that exercise the row engine's loops most closely, run whole on every variant
# besides the one the tests use (which runs them with the rest of the suite): the logit rows
# and their accuracy, the gradient boosting rows (a row a lane, tiles transposed in registers),
# the compiled fronts bitwise against the general (strided) path, the vector exps. A variant's own contraction or lane count can break what the default one keeps.
ROW_SUITES = ["logits", "training/test_grad_hess.py", "robustness/test_fronts.py", "kernels/test_vectorized_log_exp.py"]
# ... but for one temperature the mpmath-bound JS accuracy test: its other temperatures scale
# the same lanes, and their oracle's time (~5 s each) does not depend on the variant
ROW_SUITES_DESELECT = [f"logits/test_logits.py::test_js_of_nearly_equal_logits_keeps_its_relative_accuracy[{t}-{d}]"
                       for t in ("2.0", "0.3") for d in ("f64", "f32")]
# ... and not the files of functions built in Python on the row kernels the others test (calibration,
# sequences, ensembles, the generalized JSD and the top-k KL): their arithmetic is NumPy's
ROW_SUITES_IGNORE = ["logits/test_calibration.py", "logits/test_sequence_scores.py",
                     "logits/test_ensemble_uncertainty.py", "logits/test_generalized_js.py", "logits/test_topk_kl.py"]


class OtherLevelSuites:
    """ROW_SUITES under other SIMD variants (tests/kernels/test_simd_variants.py), each run by a
    child pytest at the lowest CPU priority. tests/conftest.py starts them when the tests are
    collected, so that they run on the core the other tests leave idle (about a minute each);
    the test waits for its variant's."""

    def __init__(self):
        self.runs = {}

    def start(self, level):
        import tempfile
        if level in self.runs:
            return
        tests = SOURCE_ROOT / "tests"
        deselect = [a for t in ROW_SUITES_DESELECT for a in ("--deselect", str(tests / t))]
        deselect += [a for t in ROW_SUITES_IGNORE for a in ("--ignore", str(tests / t))]
        out = tempfile.TemporaryFile(mode="w+")
        nice = (lambda: os.nice(19)) if hasattr(os, "nice") else None
        proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 *(str(tests / s) for s in ROW_SUITES), *deselect],
                                cwd=SOURCE_ROOT, env=fastinfo_env(FASTINFO_SIMD=level), stdout=out,
                                stderr=subprocess.STDOUT, text=True, preexec_fn=nice, start_new_session=True)
        self.runs[level] = (proc, out)

    def wait(self, level, timeout=900):
        """(exit status, output) of the variant's run."""
        self.start(level)
        proc, out = self.runs[level]
        rc = proc.wait(timeout=timeout)
        out.seek(0)
        return rc, out.read()

    def stop(self):
        """Ends the runs still going (the end of the session)."""
        for proc, out in self.runs.values():
            _kill_session(proc)
            out.close()
        self.runs = {}


OTHER_LEVEL_SUITES = OtherLevelSuites()
"""The session's row suites under the other SIMD variants."""


# --------------------------------------------------------------------------- the API
KERNEL_LEVELS = sorted(available_kernels())
"""Every compiled SIMD variant this CPU runs ("baseline", "avx2", "avx512")."""


# Public modules imported by name; their functions count as "module.function"
PUBLIC_SUBMODULES = ("objectives", "torch")


def public_functions():
    """The names of fastinfo's public functions (``__all__`` less its classes), and those of its
    public modules as "module.function" (fastinfo.torch's when PyTorch is installed)."""
    import importlib

    names = {n for n in fastinfo.__all__
             if callable(getattr(fastinfo, n)) and not isinstance(getattr(fastinfo, n), type)}
    for mod in PUBLIC_SUBMODULES:
        try:
            m = importlib.import_module(f"fastinfo.{mod}")
        except ImportError:
            continue
        names |= {f"{mod}.{n}" for n in m.__all__}
    return names


# --------------------------------------------------------------------------- data
def random_rows(n, k, seed, zeros=0.2, scale=1.0, normalize=True):
    """n nonnegative rows of length k, a share `zeros` of the entries exactly 0 but none all
    zero; normalized to sum 1 (then multiplied by `scale`)."""
    rng = np.random.default_rng(seed)
    a = rng.random((n, k))
    a[rng.random((n, k)) < zeros] = 0
    a[:, 0] += 1e-3
    if normalize:
        a /= a.sum(1, keepdims=True)
    return a * scale


# --------------------------------------------------------------------------- SciPy oracles
# The probability measures in float64 with scipy.special (entr, xlogy, rel_entr), along the
# last axis unless told otherwise; `q` broadcasts against `p`.
def ref_entropy(p, q=None, axis=-1):
    return sc.entr(np.asarray(p, dtype=np.float64)).sum(axis=axis)


def ref_cross_entropy(p, q, axis=-1):
    p, q = np.broadcast_arrays(np.asarray(p, np.float64), np.asarray(q, np.float64))
    with np.errstate(divide="ignore"):
        return -sc.xlogy(p, q).sum(axis=axis)


def ref_kl(p, q, axis=-1):
    p, q = np.broadcast_arrays(np.asarray(p, np.float64), np.asarray(q, np.float64))
    return sc.rel_entr(p, q).sum(axis=axis)


def ref_js(p, q, axis=-1):
    p, q = np.broadcast_arrays(np.asarray(p, np.float64), np.asarray(q, np.float64))
    m = (p + q) / 2
    return 0.5 * (sc.rel_entr(p, m) + sc.rel_entr(q, m)).sum(axis=axis)


def ref_js_distance(p, q, axis=-1):
    return np.sqrt(ref_js(p, q, axis))


def ref_normalize(p, axis=-1):
    p = np.asarray(p, np.float64)
    return p / p.sum(axis=axis, keepdims=True)


def neglog(x):
    """-log x in float64 (+inf for 0): the surprisal."""
    with np.errstate(divide="ignore"):
        return -np.log(np.asarray(x, dtype=np.float64))


# --------------------------------------------------------------------------- mpmath oracles
MP_PREC = 120
"""Bits for the mpmath oracles: exact enough for sums of a million terms."""


def _mpf(x):
    return mpmath.mpf(float(x))  # exact: mpf(float) does not round


def _in_base(value, base):
    return value if base is None else value / mpmath.log(mpmath.mpf(base))


def _mp_values(p, normalize, counts):
    """The exact values of the floats in p; with normalize, divided by their exact sum (each
    value counted `counts` times)."""
    ps = [_mpf(x) for x in p]
    if normalize:
        s = mpmath.fsum(c * x for c, x in zip(counts, ps))
        ps = [x / s for x in ps]
    return ps


def _counts(p, counts):
    return [1] * len(p) if counts is None else [int(c) for c in counts]


def mp_entropy(p, base=None, normalize=False, counts=None):
    """-sum c_i p_i log p_i of the exact float values (c_i multiplicities, default 1)."""
    counts = _counts(p, counts)
    with mpmath.workprec(MP_PREC):
        ps = _mp_values(p, normalize, counts)
        return _in_base(mpmath.fsum(-c * x * mpmath.log(x) for c, x in zip(counts, ps) if x > 0), base)


def _sum_over_support(ps, qs, term, counts):
    """sum of c_i term(p_i, q_i) over the p_i > 0; +inf where some q_i = 0 < p_i."""
    terms = []
    for c, x, y in zip(counts, ps, qs):
        if x == 0:
            continue
        if y == 0:
            return mpmath.inf
        terms.append(c * term(x, y))
    return mpmath.fsum(terms)


def mp_cross_entropy(p, q, base=None, normalize=False, counts=None):
    """-sum c_i p_i log q_i; +inf where q_i = 0 < p_i."""
    counts = _counts(p, counts)
    with mpmath.workprec(MP_PREC):
        ps, qs = _mp_values(p, normalize, counts), _mp_values(q, normalize, counts)
        return _in_base(_sum_over_support(ps, qs, lambda x, y: -x * mpmath.log(y), counts), base)


def mp_kl(p, q, base=None, normalize=False):
    """sum p_i log(p_i / q_i); +inf where q_i = 0 < p_i."""
    ones = _counts(p, None)
    with mpmath.workprec(MP_PREC):
        ps, qs = _mp_values(p, normalize, ones), _mp_values(q, normalize, ones)
        return _in_base(_sum_over_support(ps, qs, lambda x, y: x * mpmath.log(x / y), ones), base)


def mp_js(p, q, base=None, normalize=False):
    """(KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2."""
    ones = _counts(p, None)
    with mpmath.workprec(MP_PREC):
        ps, qs = _mp_values(p, normalize, ones), _mp_values(q, normalize, ones)
        terms = []
        for x, y in zip(ps, qs):
            m = (x + y) / 2
            if x > 0:
                terms.append(x * mpmath.log(x / m) / 2)
            if y > 0:
                terms.append(y * mpmath.log(y / m) / 2)
        return _in_base(mpmath.fsum(terms), base)


# --------------------------------------------------------------------------- tolerances
def assert_close(got, expected, rtol=1e-13, atol=1e-15):
    """np.testing.assert_allclose in float64 (float32 results are compared exactly promoted)."""
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=atol)


def assert_mp_close(got, exact, rtol=0.0, atol=0.0, what=""):
    """|got - exact| <= rtol |exact| + atol, the difference taken exactly in mpmath; an infinite
    exact value must be met by the same infinity."""
    got = float(got)
    if mpmath.isinf(exact):
        assert got == (math.inf if exact > 0 else -math.inf), (what, got, exact)
        return
    assert math.isfinite(got), f"{what}: got non-finite {got!r}, exact {exact}"
    with mpmath.workprec(max(MP_PREC, mpmath.mp.prec)):
        err = abs(mpmath.mpf(got) - exact)
        tol = rtol * abs(exact) + atol
        assert err <= tol, (
            f"{what}: got {got!r}, exact {mpmath.nstr(exact, 25)}, abs err {mpmath.nstr(err, 5)} > "
            f"tol {mpmath.nstr(mpmath.mpf(tol), 5)} (rel err {mpmath.nstr(err / abs(exact), 5) if exact else 'n/a'})")


def absdiff(a, b):
    """|a - b| without RuntimeWarnings for inf - inf (those entries are masked out)."""
    with np.errstate(invalid="ignore"):
        return np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))


def as_bits(a):
    """The float array's bits as unsigned integers: compared with ==, bitwise equality."""
    a = np.asarray(a)
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


def name_token(msg, name):
    """Whether `name` stands in `msg` as a word of its own (an argument named in an error)."""
    return re.search(r"(?<![A-Za-z0-9_])" + name + r"(?![A-Za-z0-9_])", msg) is not None


# --------------------------------------------------------------------------- memory
def traced_peak(call):
    """(call(), the peak of the memory allocated during the call). NumPy reports its data
    allocations to tracemalloc, so this is the extra memory the call took: its inputs
    exist before it starts."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak - before


PEAK_RSS_CODE = (
    "import resource, sys; from fastinfo._cli import main; rc = main(sys.argv[1:]); "
    # this process's own peak: VmHWM starts afresh at exec, where ru_maxrss keeps the peak of the
    # forked copy of the parent (here: the test process, whatever it had allocated)
    "lines = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')] if sys.platform == 'linux' else []; "
    "print(int(lines[0].split()[1]) if lines else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); "
    "sys.exit(rc)")


def peak_rss_kb(args, cwd):
    """The peak resident memory (KB) of ``fastinfo ARGS`` run in a process of its own."""
    r = run_python(["-c", PEAK_RSS_CODE, *args], cwd=cwd)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip().splitlines()[-1])

