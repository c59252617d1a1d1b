"""Type stubs of a compiled kernel variant (issue 7).

setup.py compiles the same source (``_kernels.pxi`` and its includes) once per
SIMD level into ``_kernels_baseline``, ``_kernels_avx2`` and ``_kernels_avx512``:
the three stubs are identical but for ``SIMD_LEVEL`` (tests/test_typing.py checks
that). ``fastinfo/_dispatch.py`` imports one of them as ``kernels``.

Typed memoryview parameters (``const double[:, :]``, ...) take any buffer of that
item type and number of dimensions; they are annotated with the NumPy arrays the
Python layer passes. Functions over the fused type ``real`` (float32 or float64
rows) are Cython fused functions: called directly they dispatch on the dtype, and
``f["double"]`` / ``f["float"]`` picks one specialization (as fastinfo does once at
import); ``__signatures__`` maps those keys to the specializations.
"""

from typing import Any, Callable, Final, Generic, Literal, TypeVar, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import ParamSpec

_P = ParamSpec("_P")
_R = TypeVar("_R")

class _Fused(Generic[_P, _R]):
    """A Cython fused function: callable, and indexable by the specialization's type name."""

    __signatures__: dict[str, Callable[_P, _R]]
    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R: ...
    def __getitem__(self, key: str, /) -> Callable[_P, _R]: ...

def _fused(f: Callable[_P, _R], /) -> _Fused[_P, _R]: ...

# float32 or float64 batches (the fused type ``real``); one dtype for all of a call's arrays
_Real = Union[NDArray[np.float32], NDArray[np.float64]]
_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]
_Intp = NDArray[np.intp]

SIMD_LEVEL: Final = "avx2"

# Cython's doctest table of the module (empty)
__test__: dict[str, str]

# name -> code of the measures of entropy_rows ... reduce_plain and pairwise_rows
MEASURES: dict[str, int]
# name -> code of general_rows (Renyi, Tsallis, Hellinger, total variation)
GENERAL_MEASURES: dict[str, int]
# name -> op code of logit_rows
LOGIT_OPS: dict[str, int]
# name -> method code of spacing_sort_rows
SPACING_METHODS: dict[str, int]
# name -> metric code of knn_radii
KNN_METRICS: dict[str, int]

# --- the foundation measures (_kernels.pxi): one float64 per row into out; the number of NaN rows
@_fused
def entropy_rows(p: _Real, out: _F64, normalize: bool, log_base: float, n_threads: int) -> int: ...
@_fused
def cross_entropy_rows(
    p: _Real, q: _Real, out: _F64, normalize: bool, log_base: float, n_threads: int
) -> int: ...
@_fused
def kl_divergence_rows(
    p: _Real, q: _Real, out: _F64, normalize: bool, log_base: float, n_threads: int
) -> int: ...
@_fused
def js_divergence_rows(
    p: _Real, q: _Real, out: _F64, normalize: bool, distance: bool, log_base: float, n_threads: int
) -> int: ...
@_fused
def surprisal_rows(p: _Real, out: _Real, normalize: bool, log_base: float, n_threads: int) -> int: ...
def reduce_plain(
    measure: int,
    p: object,
    q: object,
    axis: object,
    normalize: object,
    distance: bool,
    base: object,
    invalid: object,
    n_threads: object,
) -> np.floating[Any] | NDArray[np.floating[Any]] | None: ...

# --- platform facts, the roofline and test hooks
def openmp_enabled() -> bool: ...
def max_threads() -> int: ...
def forked_serial() -> bool: ...
def last_threads() -> int: ...
def cpu_level() -> Literal[0, 1, 2]: ...
def x512_enabled() -> bool: ...
@_fused
def read_roofline(x: _Real, n_threads: int = 1) -> float: ...
def elementwise_log(x: ArrayLike) -> NDArray[np.floating[Any]]: ...
def elementwise_exp(x: ArrayLike) -> NDArray[np.floating[Any]]: ...
def elementwise_logx(x: ArrayLike) -> NDArray[np.floating[Any]]: ...

# --- logits (_logits.pxi)
@_fused
def logit_rows(
    op: int,
    x: _Real,
    y: _Real,
    labels: _I64,
    o: _Real,
    res: _F64,
    res2: _F64,
    wt: _F64,
    scale: float,
    label_smoothing: float,
    n_threads: int,
) -> int: ...

# --- joint distributions and contingency tables (_joint.pxi)
@_fused
def joint_rows(p: _Real, out: _F64, normalize: bool, n_threads: int) -> int: ...
def count_pairs(cx: _I64, cy: _I64, out: _I64) -> None: ...
@_fused
def count_pairs_offset(
    x: NDArray[np.integer[Any]], y: NDArray[np.integer[Any]], lox: int, loy: int, out: _I64
) -> None: ...

# --- pairwise matrices (_pairwise.pxi)
@_fused
def pairwise_rows(
    measure_code: int,
    P: _Real,
    Q: _Real,
    out: _F64,
    normalize: bool,
    distance: bool,
    log_base: float,
    n_threads: int,
    fast_js: bool = False,
) -> int: ...

# --- Renyi, Tsallis, Hellinger, total variation (_general.pxi)
@_fused
def general_rows(
    code: int,
    param: float,
    P: _Real,
    Q: _Real,
    out: _F64,
    normalize: bool,
    log_base: float,
    n_threads: int,
) -> int: ...

# --- expected mutual information (_emi.pxi), spacing estimators (_spacing.pxi), kNN (_knn.pxi)
def expected_mutual_info(a: _F64, ca: _F64, b: _F64, cb: _F64, N: float, n_threads: int) -> float: ...
def spacing_sort_rows(method: int, x: _F64, m: int, out: _F64, n_threads: int) -> None: ...
def knn_radii(
    pts: _F64, k: int, metric: int, s1: float, s2: float, radius: _F64, kk: _Intp, n_threads: int
) -> None: ...
def ksg_counts(
    xy: _F64,
    dx: int,
    k: int,
    s1: float,
    s2: float,
    kk: _Intp,
    nx: _Intp,
    ny: _Intp,
    n_threads: int,
) -> None: ...

# --- the C API (_capi.pxi)
def capi_table() -> object:
    """A PyCapsule named "fastinfo.capi_table" (types.CapsuleType, Python >= 3.13 only)."""
