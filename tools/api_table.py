"""The declarations of fastinfo's compiled modules, in one place.

``python tools/generate.py`` writes from this table the files that would otherwise
repeat it by hand:

* the C API (``cimport fastinfo.capi``): ``fastinfo/_fi_capi.h`` (the table of
  function pointers, the ABI), ``fastinfo/_capi.pxi`` (each kernel variant fills
  that table), ``fastinfo/capi.pxd`` / ``capi.pyx`` (the cdef functions callers
  cimport, calling through the table) and ``fastinfo/capi.pyi``;
* the stubs ``fastinfo/_kernels_<level>.pyi`` of the kernel variants, one per SIMD
  level of ``fastinfo/_dispatch.py``'s ``LEVELS``.

Edit this file, run the script, and commit both; ``python tools/generate.py --check``
(run by ``tests/packaging/test_generated.py``) fails while a generated file is stale.
"""

from typing import NamedTuple, Optional


# --- the C API ----------------------------------------------------------------------


class CFunction(NamedTuple):
    """One row kernel of the C API, generated twice: ``name`` over float64 and
    ``name_f32`` over float32 (the argument type ``real`` stands for double, then float)."""

    name: str
    returns: str
    # (Cython type, name); ``bint`` is an ``int`` in the C header and the table
    args: tuple[tuple[str, str], ...]
    # one line for the header and capi.pxd: what the function returns
    doc: str
    # the Cython expression inside the kernel module that computes the result from the
    # arguments; it may call the helpers of CAPI_HELPERS
    impl: str


# A caller compiled against an older table must keep working: FI_CAPI_VERSION changes
# whenever an existing entry does. The order below is the order of the pointers in
# fi_capi_table (after ``int version``), each float64 function followed by its float32
# twin: append new functions at the end, never in between.
CAPI_VERSION = 1

_ROW = (("const real*", "p"), ("Py_ssize_t", "n"), ("Py_ssize_t", "stride"), ("bint", "normalize"))
_PQ_ROWS = (("const real*", "p"), ("Py_ssize_t", "p_stride"), ("const real*", "q"),
            ("Py_ssize_t", "q_stride"), ("Py_ssize_t", "n"), ("bint", "normalize"))

CAPI = [
    CFunction(
        "entropy", "double", _ROW,
        doc="Shannon entropy -sum p log p of the n elements p[0], p[stride], ...",
        impl="_capi_pq(FI_P_ENT, p, stride, p, stride, n, normalize)",
    ),
    CFunction(
        "cross_entropy", "double", _PQ_ROWS,
        doc="cross-entropy -sum p log q",
        impl="_capi_pq(FI_P_CE, p, p_stride, q, q_stride, n, normalize)",
    ),
    CFunction(
        "kl_divergence", "double", _PQ_ROWS,
        doc="Kullback-Leibler divergence sum p log(p/q)",
        impl="_capi_pq(FI_P_KL, p, p_stride, q, q_stride, n, normalize)",
    ),
    CFunction(
        "js_divergence", "double", _PQ_ROWS,
        doc="Jensen-Shannon divergence (not its square root, the distance)",
        impl="_capi_pq(FI_P_JS, p, p_stride, q, q_stride, n, normalize)",
    ),
    CFunction(
        "logsumexp", "double", (("const real*", "x"), ("Py_ssize_t", "n"), ("Py_ssize_t", "stride")),
        doc="log sum exp x",
        impl="_capi_logit(L_LSE, x, n, stride, 0)",
    ),
    CFunction(
        "softmax_cross_entropy", "double",
        (("const real*", "logits"), ("Py_ssize_t", "n"), ("Py_ssize_t", "stride"), ("Py_ssize_t", "label")),
        doc="-log softmax(logits)[label]; NaN for a label outside [0, n)",
        impl="_capi_logit(L_CE_LABEL, logits, n, stride, label)",
    ),
]

# The helpers the ``impl`` expressions call, written into fastinfo/_capi.pxi (which
# _kernels.pxi includes after the Shannon rows and the logit row functions): one row,
# one thread, results in nats.
CAPI_HELPERS = '''\
cdef inline double _capi_pq(int M, const real* p, Py_ssize_t ps, const real* q, Py_ssize_t qs,
                            Py_ssize_t n, int normalize) noexcept nogil:
    cdef Options o
    if n < 0:
        return NAN
    _options(&o, normalize != 0, False, 1.0, n, real is float)
    return _row_value(M, _stored_fmt(p), <const char*>p, ps, <const char*>q, qs, n, &o)


cdef inline double _capi_logit(int op, const real* x, Py_ssize_t n, Py_ssize_t s, Py_ssize_t label) noexcept nogil:
    cdef fi_logit_args g
    cdef double r = NAN, r2 = 0.0
    if n < 0 or (op == L_CE_LABEL and not (0 <= label < n)):
        return NAN
    g.op = op
    g.scale = 1.0
    g.smooth = False
    g.c1 = 1.0
    g.c0 = 0.0
    g.wt = NULL
    g.grad = 0
    g.lse_mode = 0
    g.vjp = 0
    g.pfx = 0
    g.pfy = 0
    fi_logit_row(_stored_fmt(x), x, s, x, s, label, NULL, 1, n, &g, &r, &r2,
                 NULL, NULL, NULL)     # one row: no carry; C callers: no Ctrl-C
    return r
'''


# --- the stubs of the kernel variants -----------------------------------------------


class Stub(NamedTuple):
    """A Python-visible function of the kernel module, as its .pyi declares it."""

    name: str
    params: str
    returns: str
    # a Cython fused function (over ``real``): indexable by dtype, see the stub's docstring
    fused: bool = False
    # a docstring instead of ``...`` as the body
    doc: Optional[str] = None


# The callable type of a Cython fused function, in the head of both kinds of stub
FUSED_STUBS = '''\
_P = ParamSpec("_P")
_R = TypeVar("_R")

class _Fused(Generic[_P, _R]):
    """A Cython fused function: callable, and indexable by the specialization's type name."""

    __signatures__: dict[str, Callable[_P, _R]]
    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R: ...
    def __getitem__(self, key: str, /) -> Callable[_P, _R]: ...

def _fused(f: Callable[_P, _R], /) -> _Fused[_P, _R]: ...
'''

# Everything above the functions; ${level} is the SIMD level of the variant.
KERNEL_STUB_HEAD = '''\
"""Type stubs of a compiled kernel variant.

setup.py compiles the same source (``_kernels.pxi`` and its includes) once per
SIMD level into ``_kernels_baseline``, ``_kernels_avx2`` and ``_kernels_avx512``:
the three stubs are identical but for ``SIMD_LEVEL`` (tests/packaging/test_typing.py
checks that). ``fastinfo/_dispatch.py`` imports one of them as ``kernels``.

Typed memoryview parameters (``const double[:, :]``, ...) take any buffer of that
item type and number of dimensions; they are annotated with the NumPy arrays the
Python layer passes. Functions over the fused type ``real`` (float32 or float64
rows) are Cython fused functions: called directly they dispatch on the dtype, and
``f["double"]`` / ``f["float"]`` picks one specialization (as fastinfo does once at
import); ``__signatures__`` maps those keys to the specializations.
"""

import functools
from typing import Any, Callable, Final, Generic, Literal, TypeVar, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray
from typing_extensions import ParamSpec

''' + FUSED_STUBS + '''
# float32 or float64 batches (the fused type ``real``); one dtype for all of a call's arrays
_Real = Union[NDArray[np.float32], NDArray[np.float64]]
_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]
_Intp = NDArray[np.intp]

SIMD_LEVEL: Final = "${level}"

# Cython's doctest table of the module (empty)
__test__: dict[str, str]

# name -> code of the measures of shannon_rows, shannon_front and pairwise_rows
MEASURES: dict[str, int]
# name -> code of general_rows (Renyi, Tsallis, Hellinger, total variation)
GENERAL_MEASURES: dict[str, int]
# name -> op code of logit_rows
LOGIT_OPS: dict[str, int]
# dtype name -> storage format code of logit_rows (float64, float32, bfloat16, float16)
LOGIT_FORMATS: dict[str, int]
# logit_rows' lse_mode codes: "none", "save" (each row's normalizers kept), "from" (the gradient from them)
LSE_MODES: dict[str, int]
# results a row of stats_rows before its top k (lse, entropy, nll, max_prob, argmax, rank)
STATS_FIELDS: int

# shannon_front bound to each measure: the fronts of entropy, cross_entropy, ...
entropy_front: functools.partial[Any]
cross_entropy_front: functools.partial[Any]
kl_divergence_front: functools.partial[Any]
js_divergence_front: functools.partial[Any]
'''

# The platform facts: defined once (_common.pxi), compiled into fastinfo._core and into every
# kernel variant (which share _core's state)
PLATFORM_STUBS = [
    Stub("openmp_enabled", "", "bool"),
    Stub("max_threads", "", "int"),
    Stub("set_thread_cap", "n: int", "None"),
    Stub("forked_serial", "", "bool"),
    Stub("last_threads", "", "int"),
    Stub("cpu_level", "", "Literal[0, 1, 2]"),
]

# (section comment, functions), in the order of the stub
KERNEL_STUBS = [
    ("the foundation measures (_kernels.pxi): one float64 per row into out; the number of NaN rows", [
        Stub("shannon_rows",
             "measure: int, p: NDArray[Any], q: NDArray[Any], out: _F64, normalize: bool, distance: bool, "
             "log_base: float, n_threads: int, sum_tol: float = 0.0, far: NDArray[np.intp] | None = None",
             "int"),
        Stub("surprisal_rows", "p: NDArray[Any], out: NDArray[Any], normalize: bool, log_base: float, "
             "n_threads: int", "int"),
    ]),
    ("platform facts, the roofline and test hooks", [
        *PLATFORM_STUBS,
        Stub("row_kernel_table", "", "object",
             doc='A PyCapsule named "fastinfo.row_kernels" (for fastinfo._core.use_row_kernels).'),
        Stub("read_roofline", "x: _Real, n_threads: int = 1", "float", fused=True),
        Stub("read_write_roofline", "x: _Real, out: _Real, n_threads: int = 1", "float", fused=True),
        Stub("elementwise_log", "x: ArrayLike", "NDArray[np.floating[Any]]"),
        Stub("elementwise_exp", "x: ArrayLike", "NDArray[np.floating[Any]]"),
        Stub("elementwise_softmax_exp", "x: ArrayLike", "NDArray[np.floating[Any]]"),
        Stub("elementwise_vector_log", "x: ArrayLike", "NDArray[np.floating[Any]]"),
    ]),
    ("logits (_logits.pxi)", [
        Stub("prefetch_plan", "", "tuple[int, int]"),
        Stub("logit_rows",
             "op: int, fmt: int, x: NDArray[Any], y: NDArray[Any], labels: _I64, o: _Real | None, res: _F64, "
             "res2: _F64, wt: _F64, scale: float, label_smoothing: float, n_threads: int, grad: bool = False, "
             "lse: _F64 | None = None, lse_mode: int = 0, vjp: bool = False",
             "int"),
        Stub("stats_rows",
             "fmt: int, x: NDArray[Any], labels: _I64, res: _F64, k: int, entropy: bool, order: bool, "
             "rank: bool, scale: float, n_threads: int",
             "int"),
        Stub("grad_hess_rows",
             "fmt: int, x: NDArray[Any], labels: _I64, sw: _F64, go: _Real, ho: _Real, hfac: float, "
             "gamma: float, n_threads: int, bad: NDArray[np.uint8], hfloor: float = ...",
             "int"),
    ]),
    ("fronts: a plain call in one step, or None (the Python layer then runs as written)", [
        Stub("configure_fronts", "sum_tol: float", "None"),
        Stub("shannon_front", "measure: int, p: Any, q: Any = ..., *, axis: Any = -1, base: Any = None, "
             "normalize: Any = None, keepdims: Any = False, invalid: Any = 'raise', out: Any = None, "
             "n_threads: Any = None, distance: Any = ...", "Any"),
        Stub("logsumexp_front", "x: Any, *, axis: Any = -1, keepdims: Any = False, invalid: Any = 'raise', "
             "out: Any = None, n_threads: Any = None", "Any"),
        Stub("softmax_front", "x: Any, *, temperature: Any = 1.0, axis: Any = -1, invalid: Any = 'raise', "
             "out: Any = None, n_threads: Any = None", "Any"),
        Stub("log_softmax_front", "x: Any, *, temperature: Any = 1.0, axis: Any = -1, invalid: Any = 'raise', "
             "out: Any = None, n_threads: Any = None", "Any"),
        Stub("softmax_entropy_front", "logits: Any, *, temperature: Any = 1.0, axis: Any = -1, base: Any = None, "
             "keepdims: Any = False, invalid: Any = 'raise', out: Any = None, n_threads: Any = None", "Any"),
        Stub("softmax_cross_entropy_front", "logits: Any, target: Any, *, temperature: Any = 1.0, "
             "label_smoothing: Any = 0.0, ignore_index: Any = None, weight: Any = None, reduction: Any = 'none', "
             "base: Any = None, axis: Any = -1, keepdims: Any = False, invalid: Any = 'raise', out: Any = None, "
             "n_threads: Any = None", "Any"),
        Stub("softmax_kl_divergence_front", "p_logits: Any, q_logits: Any, *, temperature: Any = 1.0, "
             "reduction: Any = 'none', axis: Any = -1, base: Any = None, keepdims: Any = False, "
             "invalid: Any = 'raise', out: Any = None, n_threads: Any = None", "Any"),
        Stub("softmax_js_divergence_front", "p_logits: Any, q_logits: Any, *, temperature: Any = 1.0, "
             "reduction: Any = 'none', axis: Any = -1, base: Any = None, keepdims: Any = False, "
             "invalid: Any = 'raise', out: Any = None, n_threads: Any = None", "Any"),
    ]),
    ("joint distributions (_joint.pxi)", [
        Stub("joint_rows", "p: _Real, out: _F64, normalize: bool, n_threads: int", "int", fused=True),
    ]),
    ("pairwise matrices (_pairwise.pxi)", [
        Stub("pairwise_rows",
             "measure_code: int, P: NDArray[Any], Q: NDArray[Any], out: _F64, normalize: bool, "
             "distance: bool, log_base: float, n_threads: int, fast_js: bool = False",
             "int"),
    ]),
    ("Renyi, Tsallis, Hellinger, total variation (_general.pxi)", [
        Stub("general_rows",
             "code: int, param: float, P: NDArray[Any], Q: NDArray[Any], out: _F64, normalize: bool, "
             "log_base: float, n_threads: int, sum_tol: float = 0.0, far: NDArray[np.intp] | None = None",
             "int"),
    ]),
    ("the C API (_capi.pxi)", [
        Stub("capi_table", "", "object",
             doc='A PyCapsule named "fastinfo.capi_table" (types.CapsuleType, Python >= 3.13 only).'),
    ]),
]


# The module compiled once (_core.pyx): its stub's head and functions.
CORE_STUB_HEAD = '''\
"""Type stubs of fastinfo._core: the compiled code other than the row kernels (label
counting, the expected mutual information, the spacing estimators' sorts, the k-d tree),
compiled once, and the platform state that every kernel variant adopts."""

from typing import Any, Callable, Generic, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray
from typing_extensions import ParamSpec

''' + FUSED_STUBS + '''
_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]
_Intp = NDArray[np.intp]
_Bytes = bytes | bytearray | memoryview

# Cython's doctest table of the module (empty)
__test__: dict[str, str]

# name -> method code of spacing_sort_rows
SPACING_METHODS: dict[str, int]
# name -> metric code of knn_radii
KNN_METRICS: dict[str, int]
'''

CORE_STUBS = [
    ("platform facts (shared with the kernel variants)", [
        *PLATFORM_STUBS,
        Stub("platform_state", "", "object",
             doc='A PyCapsule named "fastinfo._core.platform" (adopted by the kernel variants).'),
    ]),
    ("label counting (_labels.pxi)", [
        Stub("count_pairs", "cx: _I64, cy: _I64, out: _I64", "None"),
        Stub("count_pairs_offset",
             "x: NDArray[np.integer[Any]], y: NDArray[np.integer[Any]], lox: int, loy: int, out: _I64", "None",
             fused=True),
        Stub("label_range", "x: NDArray[np.integer[Any]], n_threads: int", "tuple[int, int]", fused=True),
        Stub("label_scores_offset",
             "x: NDArray[np.integer[Any]], y: NDArray[np.integer[Any]], lox: int, loy: int, R: int, C: int, "
             "n_threads: int", "tuple[float, float, float] | None", fused=True),
    ]),
    ("expected mutual information (_emi.pxi), spacing estimators (_spacing.pxi), kNN (_knn.pxi)", [
        Stub("expected_mutual_info", "a: _F64, ca: _F64, b: _F64, cb: _F64, N: float, n_threads: int", "float"),
        Stub("spacing_sort_rows", "method: int, x: _F64, m: int, out: _F64, n_threads: int", "None"),
        Stub("use_row_kernels", "table: object", "None"),
        Stub("knn_radii",
             "pts: _F64, k: int, metric: int, s1: float, s2: float, radius: _F64, kk: _Intp, n_threads: int",
             "None"),
        Stub("ksg_counts",
             "xy: _F64, dx: int, k: int, s1: float, s2: float, kk: _Intp, nx: _Intp, ny: _Intp, n_threads: int",
             "None"),
    ]),
    ("Parquet level runs of the page reader (_levels.pxi)", [
        Stub("hybrid_rows", "buf: _Bytes, pos: int, end: int, bw: int, n: int, v0: int, K: int", "int"),
        Stub("hybrid_all", "buf: _Bytes, pos: int, end: int, bw: int, n: int, value: int", "int"),
        Stub("hybrid_indices",
             "buf: _Bytes, pos: int, end: int, bw: int, out: NDArray[np.intc], size: int, first: int = ..., "
             "resume: NDArray[np.intp] | None = ...", "int"),
    ]),
]
