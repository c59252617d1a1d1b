"""Typing: the .pyi stubs of the compiled modules match them (mypy's stubtest), the
public API is annotated, and a strict mypy accepts the public modules and code that uses them.

Everything runs against the *installed* package (found through ``fastinfo.__file__``), in
subprocesses started from a temporary directory so that a source checkout cannot shadow it.
"""

import ast
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from helpers import fastinfo_env

import fastinfo
from fastinfo import _dispatch

PKG = os.path.dirname(os.path.abspath(fastinfo.__file__))
TIMEOUT = 300

# mypy's configuration for both checks. The third-party packages fastinfo may import lazily
# (Dask for Dask input; SciPy and PyTorch; pyarrow for the command's Parquet and Arrow files)
# are not followed: it is not their annotations under test, and following PyTorch's alone takes
# minutes. (SciPy and pyarrow ship none.)
MYPY_INI = """\
[mypy]
[mypy-scipy.*,torch.*,dask.*,distributed.*,pyarrow.*]
follow_imports = skip
ignore_missing_imports = True
"""

# Differences stubtest reports that are not the stubs' to fix (regular expressions).
ALLOWLIST = """\
# Literal["a", "b"] is a union of literal types to mypy, so stubtest expects a typing.Union at
# run time, and a typing.Literal object is not one
fastinfo\\._typing\\.(Invalid|Reduction|DivReduction|Average)
fastinfo\\._boosting\\.Hessian
# fastinfo.torch's autograd Functions: torch is not type-checked (--follow-imports=silent), so the
# stub sees a plain class where torch.autograd.Function's metaclass is
fastinfo\\.torch\\._(CrossEntropy|KLDiv|BCEWithLogits)
"""

# The modules that define fastinfo's public API (and fastinfo._dask, whose decorator wraps most
# of it), checked with --strict. The other modules (the CLI) are type-checked with mypy's
# defaults by stubtest, which refuses to run on any error.
PUBLIC_MODULES = [
    "fastinfo", "fastinfo._config", "fastinfo._dispatch", "fastinfo._typing",
    "fastinfo._args", "fastinfo._special", "fastinfo._measures", "fastinfo._counts", "fastinfo._labels",
    "fastinfo._differential",
    "fastinfo._knn", "fastinfo._gaussian", "fastinfo._generalized", "fastinfo._pairwise",
    "fastinfo._joint", "fastinfo._logits", "fastinfo._boosting", "fastinfo.objectives", "fastinfo.torch", "fastinfo._scoring", "fastinfo._calibration", "fastinfo._dask",
]
STRICT_FLAGS = [
    "--strict",
    "--follow-imports=silent",
    # NumPy's stubs give Any for many results (ufuncs on unions, reductions, x ** 0.5, ...)
    "--no-warn-return-any",
]

# Code that uses the public API, checked with the flags above. A "type: ignore" marks a call the
# annotations must reject: --strict reports an ignore that is not needed.
SNIPPET = """\
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

import fastinfo
from fastinfo._typing import FloatArray, FloatResult

p = np.array([[0.5, 0.5], [0.9, 0.1]])
q = [[0.25, 0.75], [0.5, 0.5]]
h: FloatResult = fastinfo.entropy([0.5, 0.5], base=2)
ce: FloatResult = fastinfo.cross_entropy(p, q, axis=-1, invalid="nan", n_threads=2)
kl: FloatResult = fastinfo.kl_divergence(p, q, normalize=True, keepdims=True)
js: FloatResult = fastinfo.js_divergence(p, q, distance=True)
s: FloatArray = fastinfo.surprisal(p)
lse: FloatResult = fastinfo.logsumexp(p, axis=0)
sm: FloatArray = fastinfo.softmax(p, temperature=2.0)
ls: FloatArray = fastinfo.log_softmax(p)
xent: FloatResult = fastinfo.softmax_cross_entropy(p, [0, 1], reduction="mean", label_smoothing=0.1)
xent_grad: tuple[FloatResult, FloatArray] = fastinfo.softmax_cross_entropy(p, [0, 1], return_grad=True)
ppl: FloatResult = fastinfo.perplexity(p, [0, 1])
hc: FloatResult = fastinfo.entropy_from_counts([3, 1, 0], estimator="miller_madow")
table: NDArray[np.int64] | fastinfo.SparseContingency = fastinfo.contingency_table([0, 1], [1, 1])
mi: float = fastinfo.mutual_information_score([0, 1, 1], [0, 1, 0], base=2)
nmi: float = fastinfo.normalized_mutual_information_score([0, 1], [1, 0], average="min")
ami: float = fastinfo.adjusted_mutual_information_score([0, 1], [1, 0])
emi: float = fastinfo.expected_mutual_information(np.ones((2, 2)), n_threads=1)
ry: FloatResult = fastinfo.renyi_entropy(p, 2.0)
hd: FloatResult = fastinfo.hellinger_distance(p, q)
dh: FloatResult = fastinfo.differential_entropy(np.random.default_rng(0).normal(size=100))
kh = fastinfo.knn_entropy(np.random.default_rng(0).normal(size=(100, 2)), k=4)
kmi = fastinfo.knn_mutual_information(p, p, k=1)
gh: FloatResult = fastinfo.gaussian_entropy(np.eye(2))
dkl: FloatResult | float = fastinfo.diagonal_gaussian_kl_divergence(p, p, reduction="sum")
pce: NDArray[np.float64] = fastinfo.pairwise_cross_entropy(p, q)
pkl: NDArray[np.float64] = fastinfo.pairwise_kl_divergence(p, q, method="exact")
pjs: NDArray[np.float64] = fastinfo.pairwise_js_divergence(p, q, distance=True, method="fast")
jh: FloatResult = fastinfo.joint_entropy(np.ones((2, 2)) / 4, axes=(-1, -2))
vi: FloatResult = fastinfo.variation_of_information(np.ones((2, 2)) / 4)
cfg: dict[str, Any] = fastinfo.config()
fastinfo.show_config()
version: str = fastinfo.__version__
sh: FloatResult = fastinfo.softmax_entropy(p, temperature=0.5, keepdims=True)
skl: FloatResult = fastinfo.softmax_kl_divergence(p, p, reduction="mean")
stv: FloatResult = fastinfo.softmax_total_variation(p, p, labels=[0, -100], ignore_index=-100,
                                                    reduction="batchmean")
bce: FloatResult = fastinfo.sigmoid_cross_entropy(p, p, pos_weight=[1.0, 2.0])
lseg: tuple[FloatResult, FloatArray] = fastinfo.logsumexp(p, return_grad=True, grad_output=[1.0, 2.0])
lsmg: tuple[FloatArray, FloatArray] = fastinfo.log_softmax(p, return_grad=True, grad_output=p)
jsg: tuple[FloatResult, FloatArray] = fastinfo.softmax_js_divergence(p, q, beta=0.1, return_grad=True)
cgh: tuple[FloatArray, FloatArray] = fastinfo.softmax_cross_entropy_grad_hess(p, [0, 1], hessian="upper_bound")
bgh: tuple[FloatArray, FloatArray] = fastinfo.sigmoid_cross_entropy_grad_hess(p, p, gamma=2.0)
from fastinfo import objectives
lobj = objectives.lightgbm_multiclass(3, gamma=2.0, hessian="diagonal")
xobj = objectives.xgboost_binary(hess_floor=1e-6)
ts: FloatResult = fastinfo.tsallis_entropy(p, 2.0)
rd: FloatResult = fastinfo.renyi_divergence(p, q, 0.5, normalize=True)
imi: FloatResult = fastinfo.mutual_information(np.ones((2, 2)) / 4, base=2)

# rejected by the annotations
fastinfo.pairwise_kl_divergence(p, q, method="fast")  # type: ignore[arg-type]
fastinfo.mutual_information_score([0], [0], base="2")  # type: ignore[arg-type]
fastinfo.normalized_mutual_information_score([0], [0], average="mean")  # type: ignore[arg-type]
bad: str = fastinfo.expected_mutual_information(np.ones((2, 2)))  # type: ignore[assignment]
fastinfo.entropy(p, invalid="ignore")  # type: ignore[arg-type]
fastinfo.softmax_cross_entropy(p, [0, 1], reduction="batchmean")  # type: ignore[call-overload]
fastinfo.joint_entropy(p, axes=-1)  # type: ignore[arg-type]
sm_bad: float = fastinfo.softmax(p)  # type: ignore[assignment]
"""

_KERNEL_STUBS = [f"_kernels_{level}.pyi" for level in _dispatch.LEVELS]

# stubtest imports every module it checks. A kernel variant above this CPU's level must not be
# imported (its initialisation may already use the wider instructions), and one not built here
# (non-x86 platforms) cannot be: both are made unimportable, and their stubs left unchecked.
_RUN_STUBTEST = """\
import sys
for name in filter(None, sys.argv.pop(1).split(",")):
    sys.modules[name] = None      # importing it raises ImportError instead of running it
from mypy.stubtest import main
sys.exit(main())
"""


def _run(args, cwd):
    """Start `python args` in cwd at the lowest CPU priority, importing fastinfo from where this
    process does."""
    env = fastinfo_env(MYPYPATH=None, MYPY_FORCE_COLOR="0")
    nice = (lambda: os.nice(19)) if hasattr(os, "nice") else None
    return subprocess.Popen([sys.executable] + args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=nice)


def _finish(proc, what):
    """(ok, report) of a check started by _run."""
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return False, f"{what} timed out after {TIMEOUT} s:\n{out}"
    return proc.returncode == 0, f"{what} (exit {proc.returncode}):\n{out}"


_CHECKS = {}        # the two checks once started: {"procs": (mypy, stubtest), "dir": ...}


def start_checks():
    """Start stubtest and mypy --strict (in a directory of their own), once; None where they
    do not apply. tests/conftest.py calls this when the tests are collected, so that the
    checks (some 40 s) run on the core the other tests leave idle; the test waits for them."""
    if "procs" in _CHECKS:
        return _CHECKS["procs"]
    if importlib.util.find_spec("mypy") is None:
        return None
    if np.lib.NumpyVersion(np.__version__) < "2.0.0":
        return None
    d = _CHECKS["dir"] = tempfile.mkdtemp(prefix="fastinfo-typing-")
    ini = os.path.join(d, "mypy.ini")
    with open(ini, "w") as f:
        f.write(MYPY_INI)
    runnable = _dispatch.available_kernels()
    blocked = [f"fastinfo._kernels_{level}" for level in _dispatch.LEVELS if level not in runnable]
    allow = os.path.join(d, "allowlist.txt")
    with open(allow, "w") as f:
        f.write(ALLOWLIST + "".join(f"# not importable on this machine\n{re.escape(m)}\n" for m in blocked))
    with open(os.path.join(d, "uses_fastinfo.py"), "w") as f:    # checked as a module, found in d
        f.write(SNIPPET)
    stubtest = _run(["-c", _RUN_STUBTEST, ",".join(blocked), "fastinfo", "--mypy-config-file", ini,
                     "--allowlist", allow], cwd=d)
    modules = [a for m in PUBLIC_MODULES for a in ("-m", m)]
    mypy = _run(["-m", "mypy", "--config-file", ini, "--cache-dir", os.path.join(d, "mypy_cache"),
                 *STRICT_FLAGS, *modules, "-m", "uses_fastinfo"], cwd=d)
    _CHECKS["procs"] = (mypy, stubtest)
    return _CHECKS["procs"]


def stop_checks():
    """End the checks if still running (the session ends) and remove their directory."""
    for proc in _CHECKS.pop("procs", ()):
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    shutil.rmtree(_CHECKS.pop("dir", ""), ignore_errors=True)


def test_stubtest_and_strict_mypy():
    """mypy.stubtest on every module of fastinfo (the compiled ones against their .pyi stubs),
    and mypy --strict on the public modules and on code that uses the public API; the two run
    side by side, started when the tests were collected (or now)."""
    pytest.importorskip("mypy")
    if np.lib.NumpyVersion(np.__version__) < "2.0.0":
        pytest.skip("the annotations are checked against NumPy 2's type stubs")
    mypy, stubtest = start_checks()
    results = [_finish(mypy, "mypy --strict"), _finish(stubtest, "mypy.stubtest")]
    assert all(ok for ok, _ in results), "\n\n".join(report for ok, report in results if not ok)


def test_stub_files_are_installed():
    for name in ["py.typed", "capi.pyi", "_core.pyi", "_typing.py", *_KERNEL_STUBS]:
        assert os.path.isfile(os.path.join(PKG, name)), f"{name} is not installed with fastinfo"


def test_kernel_stubs_agree():
    """The three variants are one source: their stubs differ in SIMD_LEVEL only."""
    texts = {}
    for level, name in zip(_dispatch.LEVELS, _KERNEL_STUBS):
        with open(os.path.join(PKG, name)) as f:
            texts[level] = f.read()
        assert f'\nSIMD_LEVEL: Final = "{level}"\n' in texts[level]
    base = texts["baseline"]
    for level, text in texts.items():
        assert text.replace(f'"{level}"', '"baseline"') == base, f"_kernels_{level}.pyi differs from baseline"


def _stub_functions(stub="_kernels_baseline.pyi"):
    with open(os.path.join(PKG, stub)) as f:
        tree = ast.parse(f.read())
    return {node.name: node for node in tree.body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}


@pytest.mark.parametrize("level", [*_dispatch.available_kernels(), "_core"])
def test_fused_kernels_match_their_stubs(level):
    """stubtest does not see through the stubs' @_fused (the fused functions' callable type): the
    parameters of those functions, and which functions are fused, are compared here (the kernel
    variants, and fastinfo._core)."""
    if level == "_core":
        mod, stub = _dispatch.core, "_core.pyi"
    else:
        mod, stub = _dispatch.available_kernels()[level], "_kernels_baseline.pyi"
    for name, node in _stub_functions(stub).items():
        fn = getattr(mod, name)
        decorators = [d.id for d in node.decorator_list if isinstance(d, ast.Name)]
        assert ("_fused" in decorators) == hasattr(fn, "__signatures__"), name
        if "_fused" not in decorators:
            continue                    # an ordinary function: stubtest compares it
        a = node.args
        defaults = [None] * (len(a.args) - len(a.defaults)) + [ast.literal_eval(d) for d in a.defaults]
        stub = [(arg.arg, d) for arg, d in zip(a.args, defaults)]
        params = inspect.signature(fn).parameters.values()
        runtime = [(p.name, None if p.default is p.empty else p.default) for p in params]
        assert stub == runtime, f"{name}: stub {stub}, runtime {runtime}"


def _public_functions():
    out = []
    for name in fastinfo.__all__:
        obj = getattr(fastinfo, name)
        if inspect.isfunction(obj):
            out.append((f"fastinfo.{name}", obj))
    return out


@pytest.mark.parametrize("name, fn", _public_functions(), ids=[name for name, _ in _public_functions()])
def test_public_api_is_annotated(name, fn):
    sig = inspect.signature(fn)      # follows __wrapped__ through the Dask decorator
    missing = [p.name for p in sig.parameters.values() if p.annotation is p.empty]
    if sig.return_annotation is sig.empty:
        missing.append("return")
    assert not missing, f"{name}: not annotated: {', '.join(missing)}"
