"""The argument layer every family of measures shares.

Each public function validates its own options here and hands the compiled
kernels (``_kernels.pxi`` and its neighbours) arguments that need no further
checking: C types, float32/float64 arrays, the distribution axis last.

What lives here, in the order a call meets it:

* scalar options: :func:`log_base` (``base``), :func:`nan_mode` (``invalid``),
  :func:`threads` (``n_threads``), :func:`normalize_axis_index` (``axis``);
* arrays: :func:`as_array` (dtype rules), :func:`real_array` (float64 for the
  closed forms), :func:`prepare` (two arrays broadcast, axis last),
  :func:`check_out` (``out=``);
* the batched driver: :func:`run_batched` views N-d batches as rows without
  copying, :func:`reduce` runs a row kernel over them (plain 1-D/2-D input
  goes straight to the kernel), :func:`elementwise` does the same for
  elementwise measures;
* errors: :func:`first_bad` and :func:`raise_invalid` name the first invalid
  distribution by its batch index.

The module ends with the docstring text several families share (:data:`PARAM_DOC`;
:data:`COMMON_DOC`, the reductions' parameters, result and errors) and :func:`fill_doc`,
which writes such text into the docstrings at import.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NoReturn, Sequence

import numpy as np

from ._dispatch import kernels as _k

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatArray, FloatResult

# kernel(rows_p, rows_q, res, normalize, log_base, n_threads) -> the number of invalid rows
RowKernel = Callable[["FloatArray", "FloatArray", "NDArray[np.float64]", bool, float, int, float,
                      "NDArray[np.intp]"], int]

_normalize_axis_index: Callable[[int, int], int]
try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index as _normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index as _normalize_axis_index  # type: ignore[no-redef]


def normalize_axis_index(axis: object, ndim: int, name: str = "axis") -> int:
    """``axis`` as an index in [0, ndim) (``AxisError`` out of range); booleans and other
    non-integers are refused with TypeError, as NumPy's reductions do."""
    if type(axis) is not int and (isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral)):
        raise TypeError(f"{name} must be an integer, got {axis!r}")
    return _normalize_axis_index(axis, ndim)  # type: ignore[arg-type]

F64 = np.dtype(np.float64)
F32 = np.dtype(np.float32)
F16 = np.dtype(np.float16)
MAX_THREADS = 4 * (os.cpu_count() or 1)   # more threads than this never helps a compute-bound kernel
_k.set_thread_cap(MAX_THREADS)            # n_threads=None with OMP_NUM_THREADS=100000 too
# normalize=None: a distribution whose sum (as passed) is further than this from 1 draws a
# UserWarning. Storage rounding of normalized rows is far below it (a row rounded to bfloat16
# is off by at most 2**-8 = 0.4%, to float16 2**-10, a float32 softmax of 10^5 classes ~1e-3
# at worst); counts, percentages, logits, truncated or scaled rows are far above it.
SUM_TOL = 0.01
_k.configure_fronts(SUM_TOL)              # the fronts' normalize=None check (_kernels.pxi)

_surprisal_rows: Callable[..., int] = _k.surprisal_rows
_shannon_rows: Callable[..., int] = _k.shannon_rows
_max_threads: Callable[[], int] = _k.max_threads
_MEASURES: dict[str, int] = _k.MEASURES


# --- scalar options -----------------------------------------------------------
def log_base(base: object) -> float:
    """log(base) as a float (1.0 for nats), or ValueError."""
    if base is None:
        return 1.0
    if isinstance(base, (bool, np.bool_)) or not isinstance(base, numbers.Real):
        raise ValueError(f"base must be None or a positive number other than 1, got {base!r}")
    b = float(base)
    if not (b > 0.0 and b != 1.0 and math.isfinite(b)):
        raise ValueError(f"base must be None or a positive number other than 1, got {base!r}")
    return math.log(b)


def normalize_flag(normalize: object) -> bool:
    """``normalize`` as a bool (None: False, the sums checked by the caller); anything but
    True, False, None or a NumPy bool is refused, as ``normalize="yes"`` would be a mistake."""
    if normalize is True or normalize is False:
        return normalize
    if normalize is None or isinstance(normalize, np.bool_):
        return bool(normalize)
    raise TypeError(f"normalize must be True, False or None, got {normalize!r}")


def check_sums(fname: str, arrays: Sequence[FloatArray], names: Sequence[str]) -> None:
    """normalize=None for measures whose kernels do not flag the sums (joint tables, pairwise
    rows): one pass over the rows here, and :func:`warn_far_from_one` when one is far from 1."""
    if arrays[0].size and _any_far(arrays):
        warn_far_from_one(fname, arrays, names)


def nan_mode(invalid: object) -> bool:
    """True for ``invalid='nan'``, False for ``'raise'``, or ValueError."""
    if isinstance(invalid, str) and invalid == "raise":
        return False
    if isinstance(invalid, str) and invalid == "nan":
        return True
    raise ValueError(f"invalid must be 'raise' or 'nan', got {invalid!r}")


def threads(n_threads: object) -> int:
    """The OpenMP thread count for ``n_threads`` (None: what OpenMP allows at call time)."""
    if n_threads is None:
        return min(_max_threads(), MAX_THREADS)
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be None or a positive int, got {n_threads!r}")
    n = int(n_threads)
    if n < 1:
        raise ValueError(f"n_threads must be None or a positive int, got {n_threads!r}")
    return min(n, MAX_THREADS)


# --- arrays --------------------------------------------------------------------
def as_array(x: ArrayLike, name: str, two_byte: bool = False) -> FloatArray:
    """x as an aligned, native float32/float64 ndarray (no copy when it already is one); with
    ``two_byte``, native float16 and bfloat16 (ml_dtypes) arrays are kept as they are (the
    logit kernels read them)."""
    a = x if type(x) is np.ndarray else np.asarray(x)
    dt = a.dtype
    if dt != F64 and dt != F32:   # != also catches byte-swapped float dtypes
        kind = dt.kind
        if two_byte and (dt == F16 or (dt.name == "bfloat16" and dt.itemsize == 2)):
            pass
        elif (kind == "f" and dt.itemsize <= 4) or dt.name == "bfloat16":
            a = a.astype(F32)   # float32, float16 and bfloat16 (ml_dtypes) are computed in float32
        elif kind in "biuf":        # integers, bool, longdouble, byte-swapped float64: as float64
            a = a.astype(F64)
        else:
            raise TypeError(f"{name} must hold real numbers; got dtype {dt} "
                            f"(complex, object, string and datetime input are not supported)")
    if not a.flags.aligned:
        a = a.copy()
    if a.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the distribution axis); got a scalar")
    return a


def real_array(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """x as float64 (the closed forms and the kNN estimators), or TypeError for non-real dtypes."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def check_out(out: object, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """``out=`` must be a writeable ndarray of the result's shape and dtype."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}; the result has shape {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}; the result has dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def prepare(p: ArrayLike, q: ArrayLike | None, axis: int, names: tuple[str, str] = ("p", "q"),
            axis_name: str = "distribution axis",
            two_byte: bool = False) -> tuple[FloatArray, FloatArray | None, int]:
    """(p, q) as float arrays of one dtype, broadcast, with the distribution axis last
    (``two_byte``: see :func:`as_array`)."""
    P = as_array(p, names[0], two_byte)
    if q is None:
        ax = normalize_axis_index(axis, P.ndim)
        if ax != P.ndim - 1:
            P = np.moveaxis(P, ax, -1)
        return P, None, ax
    Q = as_array(q, names[1], two_byte)
    if P.dtype != Q.dtype:   # mixed: float32 with 2-byte floats, float64 with float64 (computed and returned so)
        common = F32 if P.dtype.itemsize <= 4 and Q.dtype.itemsize <= 4 else F64
        P, Q = P.astype(common, copy=False), Q.astype(common, copy=False)
    ndim = max(P.ndim, Q.ndim)
    ax = normalize_axis_index(axis, ndim)
    ps = (1,) * (ndim - P.ndim) + P.shape
    qs = (1,) * (ndim - Q.ndim) + Q.shape
    if ps[ax] != qs[ax]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same length along the {axis_name} "
                         f"(axis={axis}): got {ps[ax]} and {qs[ax]} (shapes {P.shape} and {Q.shape})")
    if P.ndim != ndim:
        P = P.reshape(ps)    # leading 1s: always a view
    if Q.ndim != ndim:
        Q = Q.reshape(qs)
    if ps != qs:
        try:
            shape = np.broadcast_shapes(ps, qs)
        except ValueError:
            raise ValueError(f"{names[0]} and {names[1]} do not broadcast over the batch axes: shapes "
                             f"{P.shape} and {Q.shape}") from None
        # broadcast_to makes zero-stride views: nothing is materialized
        P = np.broadcast_to(P, shape) if P.shape != shape else P
        Q = np.broadcast_to(Q, shape) if Q.shape != shape else Q
    if ax != ndim - 1:
        P = np.moveaxis(P, ax, -1)
        Q = np.moveaxis(Q, ax, -1)
    return P, Q, ax


# --- batching without copies -------------------------------------------------------
def _row_stride(shape: tuple[int, ...], strides: tuple[int, ...]) -> int | None:
    """The single stride that walks all batch dims, or None if they do not collapse."""
    row = None
    expect = None
    for n, s in zip(reversed(shape), reversed(strides)):
        if n == 1:
            continue
        if row is None:
            row = s
        elif s != expect:
            return None
        expect = s * n
    return 0 if row is None else row


def run_batched(call: Callable[..., int], arrays: Sequence[NDArray[Any]], batch: tuple[int, ...]) -> int:
    """call(*views) with every array viewed as (rows, core...): inputs are
    (*batch, K), outputs (*batch) for reductions or (*batch, K) for surprisal.
    The outer dims are split in Python only when the batch dims of some array
    cannot be viewed as one (e.g. a broadcast q against an N-d p), so no array
    is ever copied."""
    nb = len(batch)
    if nb == 1:    # already rows x distribution
        return call(*arrays)
    if all(_row_stride(a.shape[:nb], a.strides[:nb]) is not None for a in arrays):
        n = math.prod(batch)
        return call(*[a.reshape((n,) + a.shape[nb:]) for a in arrays])
    return sum(run_batched(call, [a[i] for a in arrays], batch[1:]) for i in range(batch[0]))


# --- which row is invalid ------------------------------------------------------
def first_bad(res_nan: NDArray[np.bool_] | np.bool_, batch: tuple[int, ...]) -> tuple[int, ...]:
    """The batch index of the first True in ``res_nan`` (shape ``batch``)."""
    flat = int(np.argmax(res_nan.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, batch)) if batch else ()


def raise_invalid(fname: str, arrays: Sequence[FloatArray], names: Sequence[str], idx: tuple[int, ...],
                  normalize: bool) -> NoReturn:
    """ValueError naming why the probability rows at batch index ``idx`` are invalid."""
    for a, name in zip(arrays, names):
        row = a[idx]
        bad = ~(np.isfinite(row) & (row >= 0))
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(f"{fname}: {name} has a negative, NaN or infinite value ({float(row[j])!r} at "
                             f"position {j} along the distribution axis) in the distribution at "
                             f"batch index {idx}{_hint(fname, row)}")
    for a, name in zip(arrays, names):
        if normalize and not a[idx].any():
            raise ValueError(f"{fname}: cannot normalize: {name} sums to zero in the distribution at "
                             f"batch index {idx}")
    raise ValueError(f"{fname}: the result is undefined (NaN) for the distribution at batch index "
                     f"{idx}: infinite terms of opposite sign (e.g. huge p with q > 1 beside p > 0 "
                     f"with q = 0) or sums beyond the float range")


_SOFTMAX_TWIN = {"entropy": "softmax_entropy", "cross_entropy": "softmax_cross_entropy",
                 "kl_divergence": "softmax_kl_divergence", "js_divergence": "softmax_js_divergence"}


def _hint(fname: str, row: NDArray[Any]) -> str:
    """The likely cause of negative values in a probability row: log-probabilities (all <= 0)
    or logits (values of both signs)."""
    finite = row[np.isfinite(row)]
    if finite.size == 0 or not (finite < 0).any():
        return ""
    twin = _SOFTMAX_TWIN.get(fname)
    if (finite <= 0).all():
        return (": these look like log-probabilities; pass np.exp(...) of them" +
                (f", or the logits to fastinfo.{twin}" if twin else ""))
    if twin:
        return f": these look like logits; fastinfo.{twin} takes logits directly"
    return ": probabilities must be nonnegative (logits? apply fastinfo.softmax first)"


def warn_far_from_one(fname: str, arrays: Sequence[FloatArray], names: Sequence[str]) -> None:
    """One UserWarning naming the first distribution whose sum is further than SUM_TOL from 1."""
    batch = arrays[0].shape[:-1]
    far = np.zeros(batch, dtype=bool)
    for a in arrays:
        far |= _far_rows(a)
    idx = first_bad(far, batch)
    with np.errstate(all="ignore"):
        sums = ", ".join(f"{n} sums to {float(np.add.reduce(a[idx], dtype=F64)):.6g}" for a, n in zip(arrays, names))
    import warnings
    warnings.warn(f"{fname}: the distribution at batch index {idx} is not normalized ({sums}); "
                  f"pass normalize=True to divide each distribution by its sum, or normalize=False "
                  f"to use the numbers as passed without this check", UserWarning, stacklevel=user_stacklevel())


def user_stacklevel() -> int:
    """The stacklevel of a warning that points at the first caller outside fastinfo."""
    import sys
    f = sys._getframe(1)
    level = 1
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back            # type: ignore[assignment]
        level += 1
    return level


_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


# --- the batched driver ----------------------------------------------------------
def reduce(fname: str, p: ArrayLike, q: ArrayLike | None, axis: int, base: float | None,
           normalize: bool | None, keepdims: bool, invalid: str, out: FloatArray | None, n_threads: int | None,
           distance: bool = False, kernel: RowKernel | None = None) -> FloatResult:
    """The batched reduction behind every measure of one or two distributions:
    ``kernel(rows_p, rows_q, res, normalize, log_base, n_threads)`` (rows_q is
    rows_p for one-argument measures) replaces the Shannon kernels when given
    (the generalized measures). ``normalize=None`` computes as ``False`` and warns
    (:func:`warn_far_from_one`) when a distribution's sum is further than SUM_TOL from
    1: the Shannon kernels flag such rows while they sum the terms; for the
    generalized measures (whose terms cost pow/exp/log) the sums are taken here."""
    lb = log_base(base)
    nm = nan_mode(invalid)
    nt = threads(n_threads)
    if kernel is None and out is None and not keepdims:
        # The lean path: the compiled front (shannon_front, the whole call of a plain request)
        # once more, with the options checked and spelled as it takes them (None: the general
        # path, also for an invalid row with invalid='raise', whose message is built below).
        kw = {"distance": bool(distance)} if fname == "js_divergence" else {}
        r = _k.shannon_front(_MEASURES[fname], p, *(() if q is None else (q,)), axis=axis,
                             base=None if base is None else float(base),
                             normalize=None if normalize is None else normalize_flag(normalize),
                             invalid="nan" if nm else "raise", n_threads=nt, **kw)
        if r is not None:
            return r
    check = normalize is None
    normalize = normalize_flag(normalize)
    P, Q, ax = prepare(p, q, axis, two_byte=True)   # the kernels read 2-byte floats as they are
    batch = P.shape[:-1]
    res_dtype = F64 if P.dtype == F64 else F32
    out_shape = batch[:ax] + (1,) + batch[ax:] if keepdims else batch
    if out is not None:
        check_out(out, out_shape, res_dtype)
    # The kernels write one float64 per row into a C-contiguous buffer: the
    # user's out when it is exactly that, else a temporary copied into out.
    direct = (out is not None and res_dtype == F64 and out.flags.c_contiguous
              and not np.may_share_memory(out, P) and (Q is None or not np.may_share_memory(out, Q)))
    # (mypy cannot tell that direct implies an out, nor that kern is used only without a kernel)
    res = out.reshape(batch) if direct else np.empty(batch, dtype=F64)  # type: ignore[union-attr]
    far = np.zeros(1 if check else 0, dtype=np.intp)     # rows flagged by the kernels
    tol = SUM_TOL if check else 0.0
    if kernel is not None:
        if Q is None:
            nbad = run_batched(lambda a, r: kernel(a, a, r, normalize, lb, nt, tol, far), [P, res], batch)
        else:
            nbad = run_batched(lambda a, b, r: kernel(a, b, r, normalize, lb, nt, tol, far), [P, Q, res], batch)
    else:
        code = _MEASURES[fname]
        if Q is None:
            nbad = run_batched(lambda a, r: _shannon_rows(code, a, a, r, normalize, distance, lb, nt, tol, far),
                               [P, res], batch)
        else:
            nbad = run_batched(lambda a, b, r: _shannon_rows(code, a, b, r, normalize, distance, lb, nt, tol, far),
                               [P, Q, res], batch)
    arrays, names = ([P], ["p"]) if Q is None else ([P, Q], ["p", "q"])
    if nbad and not nm:
        raise_invalid(fname, arrays, names, first_bad(np.isnan(res), batch), normalize)
    if check and math.prod(batch) and P.shape[-1] and far[0]:
        warn_far_from_one(fname, arrays, names)
    if out is not None:
        if not direct:
            np.copyto(out, res.reshape(out_shape), casting="same_kind")
        return out
    if res_dtype == F32:
        res = res.astype(F32)
    res = res.reshape(out_shape)
    return res[()] if res.ndim == 0 else res


def _any_far(arrays: Sequence[FloatArray]) -> bool:
    """Some valid distribution's sum is further than SUM_TOL from 1 (invalid rows are
    reported by their own error or NaN)."""
    return any(_far_rows(a).any() for a in arrays)


def _far_rows(a: FloatArray) -> NDArray[np.bool_]:
    """The rows of a (distribution axis last) whose finite sum is further than SUM_TOL from 1."""
    with np.errstate(all="ignore"):
        d = np.abs(np.add.reduce(a, axis=-1, dtype=F64) - 1.0)
    return (d > SUM_TOL) & np.isfinite(d)


def elementwise(fname: str, p: ArrayLike, axis: int, base: float | None, normalize: bool, invalid: str,
                out: FloatArray | None, n_threads: int | None) -> FloatArray:
    """The elementwise counterpart of :func:`reduce` (surprisal): the result has p's shape."""
    lb = log_base(base)
    nm = nan_mode(invalid)
    nt = threads(n_threads)
    P = as_array(p, "p", two_byte=True)     # the kernel reads float16 and bfloat16 natively
    rdt = F64 if P.dtype == F64 else F32    # float32 surprisals of 2-byte input
    ax = normalize_axis_index(axis, P.ndim)
    shape = P.shape
    if out is not None:
        check_out(out, shape, rdt)
    # Writing straight into out is safe unless it overlaps p (then: a temporary).
    direct = out is not None and not np.may_share_memory(out, P)
    res: FloatArray = out if direct else np.empty(shape, dtype=rdt)  # type: ignore[assignment]  # (out given)
    Pm = np.moveaxis(P, ax, -1) if ax != P.ndim - 1 else P
    Rm = np.moveaxis(res, ax, -1) if ax != P.ndim - 1 else res
    batch = Pm.shape[:-1]
    kern = _surprisal_rows
    normalize = bool(normalize)
    nbad = run_batched(lambda a, r: kern(a, r, normalize, lb, nt), [Pm, Rm], batch)
    if nbad and not nm:
        bad = ~(np.isfinite(Pm) & (Pm >= 0)).all(axis=-1)
        if normalize:
            bad |= ~Pm.any(axis=-1)
        raise_invalid(fname, [Pm], ["p"], first_bad(bad, batch), normalize)
    if out is not None:
        if not direct:
            np.copyto(out, res)
        return out
    return res


# --- docstrings ------------------------------------------------------------------
# A text several docstrings share is written once: "{name}" in a docstring stands for an entry
# of its module's table or of PARAM_DOC, and fill_doc writes the entries out at import.
PARAM_DOC = {
    "base": """base : float, optional
        Logarithm base: ``None`` gives nats, ``2`` bits. Any positive number
        other than 1.""",
    "average": """average : {'arithmetic', 'geometric', 'min', 'max'}, default 'arithmetic'
        The mean of H(X) and H(Y) in the denominator.""",
}

# The reductions over a distribution axis (_measures, _generalized): "{doc}" is their
# Parameters, Returns and Raises sections, led by each function's own "{args}".
COMMON_DOC = {
    "doc": """
    Parameters
    ----------
    {args}
    axis : int, default -1
        The axis that holds each distribution; every other axis is a batch
        axis. The two distributions of a divergence broadcast against each
        other over the batch axes (NumPy rules, without copying); their
        lengths along ``axis`` must match.
    {base}
    normalize : bool or None, default None
        ``True`` divides each distribution by its sum: a first pass takes the
        sum, the second computes the terms of p/s while the row is still in
        cache; an all-zero distribution is then invalid. ``False`` applies the
        formula to the numbers as passed (rows need not sum to 1). {normalize_none}
    keepdims : bool, default False
        {keepdims_effect}
    invalid : {'raise', 'nan'}, default 'raise'
        A negative, NaN or infinite probability raises ``ValueError`` naming
        the first offending batch index (``'raise'``), or makes that
        distribution's result NaN (``'nan'``).
    out : ndarray, optional
        Preallocated result (the result's shape and dtype), filled and returned.
    n_threads : int, optional
        OpenMP threads; ``None`` uses what OpenMP allows at call time
        (``OMP_NUM_THREADS``, ``threadpoolctl``). The result is bitwise the
        same for every thread count; small inputs run on one thread.

    Returns
    -------
    ndarray or NumPy scalar
        {result_shape}; float32 when every
        input is float32 (terms in float32 or float64 arithmetic, accumulated
        in float64), otherwise float64.

    Raises
    ------
    ValueError
        With ``invalid='raise'``, a distribution that is invalid (a negative,
        NaN or infinite value; with ``normalize=True``, a zero sum) or whose
        result is undefined (NaN), naming its batch index. Also: scalar input;
        two distributions that differ along ``axis`` or do not broadcast; an
        option outside its domain (see above); ``axis`` out of range
        (``numpy.exceptions.AxisError``); ``out`` of the wrong shape or
        read-only.
    TypeError
        Complex, object, string or datetime input; ``out`` that is not an
        ndarray of the result's dtype; an option of the wrong type (e.g. a
        non-integer ``n_threads``).
""",
    "normalize_none": """``None``
        computes as ``False`` and issues one ``UserWarning`` per call naming the
        first distribution whose sum is more than 1% away from 1 (counts,
        percentages, logits or a scaled row passed by mistake); storage
        rounding of normalized rows, even in bfloat16, stays well inside 1%.
        Pass ``False`` to use unnormalized numbers on purpose, without the check.""",
    # what an elementwise measure (surprisal) says instead: its result has the shape of p
    "keepdims_effect": "Keep the distribution axis in the result, with length 1.",
    "result_shape": "The batch shape (a NumPy scalar for 1-D input)",
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")
_PLACEHOLDER_LINE = re.compile(r"^[ \t]*\{([A-Za-z_]\w*)\}\n", re.MULTILINE)


def fill_doc(table: Mapping[str, str], functions: Iterable[Callable[..., Any]]) -> None:
    """Write every "{name}" in the docstrings of ``functions`` out as ``table[name]``,
    else ``PARAM_DOC[name]``.

    Entries may hold placeholders of their own. An empty entry alone on its line takes
    the line away (a shared parameter the function does not have). A placeholder without
    an entry raises at import, so a renamed entry cannot leave "{name}" in the
    documentation unnoticed. Docstrings are None under ``python -OO``: nothing to fill.
    """
    entries = {**PARAM_DOC, **table}

    def drop_empty(m: re.Match[str]) -> str:
        return "" if entries.get(m.group(1)) == "" else m.group(0)

    for f in functions:
        doc = f.__doc__
        for _ in range(6):     # entries nest a few levels deep
            if doc is None or not _PLACEHOLDER.search(doc):
                break
            missing = sorted({name for name in _PLACEHOLDER.findall(doc) if name not in entries})
            if missing:
                raise KeyError(f"the docstring of {getattr(f, '__name__', f)} names {missing}, "
                               f"which have no entry")
            doc = _PLACEHOLDER.sub(lambda m: entries[m.group(1)], _PLACEHOLDER_LINE.sub(drop_empty, doc))
        else:
            raise RecursionError(f"the docstring entries of {getattr(f, '__name__', f)} nest too deep")
        f.__doc__ = doc
