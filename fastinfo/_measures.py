"""Information measures of discrete distributions: the thin Python layer.

This module validates arguments, resolves ``axis``, dtypes and broadcasting,
and hands 2-D (rows x distribution) strided views to the compiled kernels in
``_kernels.pxi``; it never copies the data except where stated (mixed
float32/float64 input, integer/bool/float16 input, misaligned or
byte-swapped arrays).
"""

from __future__ import annotations

import math
import numbers
import os
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

import numpy as np

from ._dispatch import kernels as _k
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatArray, FloatResult, Invalid

    # kernel(rows_p, rows_q, res, normalize, log_base, n_threads) -> the number of invalid rows
    _RowKernel = Callable[[FloatArray, FloatArray, NDArray[np.float64], bool, float, int], int]

# (declared: the modules beside this one import it from here)
_normalize_axis_index: Callable[[int, int], int]
try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index as _normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index as _normalize_axis_index  # type: ignore[no-redef]

__all__ = ["entropy", "cross_entropy", "kl_divergence", "js_divergence", "surprisal"]

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
_MAX_THREADS = 4 * (os.cpu_count() or 1)   # more threads than this never helps a compute-bound kernel

_ROWS: dict[str, dict[np.dtype[Any], Callable[..., int]]] = {
    name: {_F64: getattr(_k, f"{name}_rows")["double"], _F32: getattr(_k, f"{name}_rows")["float"]}
    for name in ("entropy", "cross_entropy", "kl_divergence", "js_divergence", "surprisal")
}
_M_ENTROPY: int = _k.MEASURES["entropy"]
_M_CROSS_ENTROPY: int = _k.MEASURES["cross_entropy"]
_M_KL_DIVERGENCE: int = _k.MEASURES["kl_divergence"]
_M_JS_DIVERGENCE: int = _k.MEASURES["js_divergence"]
_reduce_plain: Callable[..., FloatResult | None] = _k.reduce_plain
_max_threads: Callable[[], int] = _k.max_threads


# --- argument checks ---------------------------------------------------------
def _log_base(base: object) -> float:
    """log(base) as a float (1.0 for nats), or ValueError."""
    if base is None:
        return 1.0
    if isinstance(base, (bool, np.bool_)) or not isinstance(base, numbers.Real):
        raise ValueError(f"base must be None or a positive number other than 1, got {base!r}")
    b = float(base)
    if not (b > 0.0 and b != 1.0 and math.isfinite(b)):
        raise ValueError(f"base must be None or a positive number other than 1, got {base!r}")
    return math.log(b)


def _nan_mode(invalid: object) -> bool:
    if isinstance(invalid, str) and invalid == "raise":
        return False
    if isinstance(invalid, str) and invalid == "nan":
        return True
    raise ValueError(f"invalid must be 'raise' or 'nan', got {invalid!r}")


def _threads(n_threads: object) -> int:
    if n_threads is None:
        return _max_threads()
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be None or a positive int, got {n_threads!r}")
    n = int(n_threads)
    if n < 1:
        raise ValueError(f"n_threads must be None or a positive int, got {n_threads!r}")
    return min(n, _MAX_THREADS)


def _as_array(x: ArrayLike, name: str) -> FloatArray:
    """x as an aligned, native float32/float64 ndarray (no copy when it already is one)."""
    a = x if type(x) is np.ndarray else np.asarray(x)
    dt = a.dtype
    if dt != _F64 and dt != _F32:   # != also catches byte-swapped float dtypes
        kind = dt.kind
        if kind == "f" and dt.itemsize == 4:
            a = a.astype(_F32)
        elif kind in "biuf":        # integers, bool, float16, longdouble, byte-swapped: as float64
            a = a.astype(_F64)
        else:
            raise TypeError(f"{name} must hold real numbers; got dtype {dt} "
                            f"(complex, object, string and datetime input are not supported)")
    if not a.flags.aligned:
        a = a.copy()
    if a.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the distribution axis); got a scalar")
    return a


def _check_out(out: object, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}; the result has shape {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}; the result has dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


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


def _run_batched(call: Callable[..., int], arrays: Sequence[NDArray[Any]], batch: tuple[int, ...]) -> int:
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
    return sum(_run_batched(call, [a[i] for a in arrays], batch[1:]) for i in range(batch[0]))


def _prepare(p: ArrayLike, q: ArrayLike | None, axis: int, names: tuple[str, str] = ("p", "q"),
             axis_name: str = "distribution axis") -> tuple[FloatArray, FloatArray | None, int]:
    """(p, q) as float arrays of one dtype, broadcast, with the distribution axis last."""
    P = _as_array(p, names[0])
    if q is None:
        ax = _normalize_axis_index(axis, P.ndim)
        if ax != P.ndim - 1:
            P = np.moveaxis(P, ax, -1)
        return P, None, ax
    Q = _as_array(q, names[1])
    if P.dtype != Q.dtype:   # mixed float32/float64: computed (and returned) in float64
        P, Q = P.astype(_F64, copy=False), Q.astype(_F64, copy=False)
    ndim = max(P.ndim, Q.ndim)
    ax = _normalize_axis_index(axis, ndim)
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


def _first_bad(res_nan: NDArray[np.bool_] | np.bool_, batch: tuple[int, ...]) -> tuple[int, ...]:
    flat = int(np.argmax(res_nan.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, batch)) if batch else ()


def _raise_invalid(fname: str, arrays: Sequence[FloatArray], names: Sequence[str], idx: tuple[int, ...],
                   normalize: bool) -> NoReturn:
    for a, name in zip(arrays, names):
        row = a[idx]
        bad = ~(np.isfinite(row) & (row >= 0))
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(f"{fname}: {name} has a negative, NaN or infinite value ({row[j]!r} at "
                             f"position {j} along the distribution axis) in the distribution at "
                             f"batch index {idx}")
    for a, name in zip(arrays, names):
        if normalize and not a[idx].any():
            raise ValueError(f"{fname}: cannot normalize: {name} sums to zero in the distribution at "
                             f"batch index {idx}")
    raise ValueError(f"{fname}: the result is undefined (NaN) for the distribution at batch index "
                     f"{idx}: infinite terms of opposite sign (e.g. huge p with q > 1 beside p > 0 "
                     f"with q = 0) or sums beyond the float range")


def _reduce(fname: str, p: ArrayLike, q: ArrayLike | None, axis: int, base: float | None,
            normalize: bool, keepdims: bool, invalid: str, out: FloatArray | None, n_threads: int | None,
            distance: bool = False, kernel: _RowKernel | None = None) -> FloatResult:
    """The batched reduction behind every measure: ``kernel(rows_p, rows_q, res, normalize,
    log_base, n_threads)`` (rows_q is rows_p for one-argument measures) replaces the
    foundation kernels when given (the generalized measures)."""
    log_base = _log_base(base)
    nan_mode = _nan_mode(invalid)
    nt = _threads(n_threads)
    normalize = bool(normalize)
    P, Q, ax = _prepare(p, q, axis)
    batch = P.shape[:-1]
    res_dtype = P.dtype
    out_shape = batch[:ax] + (1,) + batch[ax:] if keepdims else batch
    if out is not None:
        _check_out(out, out_shape, res_dtype)
    # The kernels write one float64 per row into a C-contiguous buffer: the
    # user's out when it is exactly that, else a temporary copied into out.
    direct = (out is not None and res_dtype == _F64 and out.flags.c_contiguous
              and not np.may_share_memory(out, P) and (Q is None or not np.may_share_memory(out, Q)))
    # (mypy cannot tell that direct implies an out, nor that kern is used only without a kernel)
    res = out.reshape(batch) if direct else np.empty(batch, dtype=_F64)  # type: ignore[union-attr]
    kern: Callable[..., int] = _ROWS[fname][P.dtype] if kernel is None else None  # type: ignore[assignment]
    if kernel is not None:
        if Q is None:
            nbad = _run_batched(lambda a, r: kernel(a, a, r, normalize, log_base, nt), [P, res], batch)
        else:
            nbad = _run_batched(lambda a, b, r: kernel(a, b, r, normalize, log_base, nt), [P, Q, res], batch)
    elif Q is None:
        nbad = _run_batched(lambda a, r: kern(a, r, normalize, log_base, nt), [P, res], batch)
    elif fname == "js_divergence":
        nbad = _run_batched(lambda a, b, r: kern(a, b, r, normalize, distance, log_base, nt),
                            [P, Q, res], batch)
    else:
        nbad = _run_batched(lambda a, b, r: kern(a, b, r, normalize, log_base, nt), [P, Q, res], batch)
    if nbad and not nan_mode:
        arrays, names = ([P], ["p"]) if Q is None else ([P, Q], ["p", "q"])
        _raise_invalid(fname, arrays, names, _first_bad(np.isnan(res), batch), normalize)
    if out is not None:
        if not direct:
            np.copyto(out, res.reshape(out_shape), casting="same_kind")
        return out
    if res_dtype == _F32:
        res = res.astype(_F32)
    res = res.reshape(out_shape)
    return res[()] if res.ndim == 0 else res


_COMMON_DOC = """
    Parameters
    ----------
    {args}
    axis : int, default -1
        The axis that holds each distribution; every other axis is a batch
        axis. ``p`` and ``q`` broadcast against each other over the batch axes
        (NumPy rules, without copying); their lengths along ``axis`` must match.
    base : float, optional
        Logarithm base: ``None`` gives nats, ``2`` bits. Any positive number
        other than 1.
    normalize : bool, default False
        ``False`` applies the formula to the numbers as passed (rows need not
        sum to 1). ``True`` divides each distribution by its sum: a first pass
        takes the sum, the second computes the terms of p/s while the row is
        still in cache; an all-zero distribution is then invalid.
    keepdims : bool, default False
        Keep the distribution axis in the result, with length 1.
    invalid : {{'raise', 'nan'}}, default 'raise'
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
        The batch shape (a scalar for 1-D input); float32 for float32 input
        (terms in float32 or float64 arithmetic, accumulated in float64),
        otherwise float64.
"""


@_dk.dask_aware(_dk.P1)
def entropy(p: ArrayLike, *, axis: int = -1, base: float | None = None, normalize: bool = False,
            keepdims: bool = False, invalid: Invalid = "raise", out: FloatArray | None = None,
            n_threads: int | None = None) -> FloatResult:
    """Shannon entropy H(p) = -sum_i p_i log p_i of each distribution.

    Conventions: a zero probability contributes exactly 0 (0 log 0 = 0); an
    empty distribution has entropy 0. With ``normalize=True`` the terms are
    those of p/s (not the one-pass log s - sum p log p / s, which cancels
    when s is far from 1).
    {doc}
    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.entropy([0.5, 0.5], base=2))
    1.0
    >>> fastinfo.entropy([[1.0, 0.0], [0.25, 0.75]])
    array([0.        , 0.56233514])
    >>> print(fastinfo.entropy([3, 1], normalize=True) == fastinfo.entropy([0.75, 0.25]))
    True
    """
    if out is None and not keepdims:   # plain 1-D/2-D C-contiguous input: the lean path
        r = _reduce_plain(_M_ENTROPY, p, None, axis, normalize, False, base, invalid, n_threads)
        if r is not None:
            return r
    return _reduce("entropy", p, None, axis, base, normalize, keepdims, invalid, out, n_threads)


@_dk.dask_aware(_dk.PQ)
def cross_entropy(p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None,
                  normalize: bool = False, keepdims: bool = False, invalid: Invalid = "raise",
                  out: FloatArray | None = None, n_threads: int | None = None) -> FloatResult:
    """Cross-entropy H(p, q) = -sum_i p_i log q_i of each pair of distributions.

    Conventions: a term with p_i = 0 is exactly 0 whatever q_i is; p_i > 0
    with q_i = 0 gives +inf.
    {doc}
    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.cross_entropy([0.5, 0.5], [0.25, 0.75], base=2):.12f}")
    1.207518749639
    >>> print(fastinfo.cross_entropy([0.0, 1.0], [0.0, 1.0]))
    0.0
    >>> print(fastinfo.cross_entropy([1.0, 0.0], [0.0, 1.0]))
    inf
    """
    if out is None and not keepdims:   # plain 1-D/2-D C-contiguous input: the lean path
        r = _reduce_plain(_M_CROSS_ENTROPY, p, q, axis, normalize, False, base, invalid, n_threads)
        if r is not None:
            return r
    return _reduce("cross_entropy", p, q, axis, base, normalize, keepdims, invalid, out, n_threads)


@_dk.dask_aware(_dk.PQ)
def kl_divergence(p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None,
                  normalize: bool = False, keepdims: bool = False, invalid: Invalid = "raise",
                  out: FloatArray | None = None, n_threads: int | None = None) -> FloatResult:
    """Kullback-Leibler divergence D(p || q) = sum_i p_i log(p_i / q_i).

    Computed directly (one log of the ratio per element), not as
    H(p, q) - H(p), so close distributions keep their relative accuracy.
    Conventions: a term with p_i = 0 is exactly 0; p_i > 0 with q_i = 0 gives
    +inf. For distributions of equal mass (normalized input, within rounding)
    the result is never negative: it is clamped at the log-sum bound 0.
    {doc}
    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.kl_divergence([0.5, 0.5], [0.25, 0.75], base=2):.12f}")
    0.207518749639
    >>> p = [0.2, 0.3, 0.5]
    >>> print(fastinfo.kl_divergence(p, p))
    0.0
    """
    if out is None and not keepdims:   # plain 1-D/2-D C-contiguous input: the lean path
        r = _reduce_plain(_M_KL_DIVERGENCE, p, q, axis, normalize, False, base, invalid, n_threads)
        if r is not None:
            return r
    return _reduce("kl_divergence", p, q, axis, base, normalize, keepdims, invalid, out, n_threads)


@_dk.dask_aware(_dk.PQ)
def js_divergence(p: ArrayLike, q: ArrayLike, *, distance: bool = False, axis: int = -1,
                  base: float | None = None, normalize: bool = False, keepdims: bool = False,
                  invalid: Invalid = "raise", out: FloatArray | None = None,
                  n_threads: int | None = None) -> FloatResult:
    """Jensen-Shannon divergence JSD = D(p || m)/2 + D(q || m)/2, m = (p + q)/2.

    ``distance=True`` returns the Jensen-Shannon distance sqrt(JSD) (SciPy's
    ``jensenshannon``). The result is always finite and >= 0 for nonnegative
    input, and <= log 2 (1 bit) for normalized input: every term is bounded
    in floating point, so rounding never gives a negative JSD or a NaN
    distance (SciPy can: scipy#20083).
    {doc}
    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.js_divergence([1.0, 0.0], [0.0, 1.0], base=2))
    1.0
    >>> print(fastinfo.js_divergence([0.5, 0.5], [0.5, 0.5], distance=True))
    0.0
    """
    distance = bool(distance)
    if distance and base is not None and _log_base(base) < 0:
        raise ValueError(f"distance=True needs base > 1 (the square root of a divergence in base "
                         f"{base!r} < 1, which is negative); got base={base!r}")
    if out is None and not keepdims:   # plain 1-D/2-D C-contiguous input: the lean path
        r = _reduce_plain(_M_JS_DIVERGENCE, p, q, axis, normalize, distance, base, invalid, n_threads)
        if r is not None:
            return r
    return _reduce("js_divergence", p, q, axis, base, normalize, keepdims, invalid, out, n_threads,
                   distance=distance)


@_dk.dask_aware(_dk.SAME_P)
def surprisal(p: ArrayLike, *, axis: int = -1, base: float | None = None, normalize: bool = False,
              keepdims: bool = False, invalid: Invalid = "raise", out: FloatArray | None = None,
              n_threads: int | None = None) -> FloatArray:
    """Surprisal (information content) -log p_i of every event, elementwise.

    The result has the shape of ``p`` (``keepdims`` has no effect). A zero
    probability has surprisal +inf. ``axis`` matters only with
    ``normalize=True`` (each distribution along it is divided by its sum) and
    for ``invalid='nan'``, which makes the whole offending distribution NaN.
    {doc}
    Examples
    --------
    >>> import fastinfo
    >>> fastinfo.surprisal([0.5, 0.25, 0.0], base=2)
    array([ 1.,  2., inf])
    """
    log_base = _log_base(base)
    nan_mode = _nan_mode(invalid)
    nt = _threads(n_threads)
    P = _as_array(p, "p")
    ax = _normalize_axis_index(axis, P.ndim)
    shape = P.shape
    if out is not None:
        _check_out(out, shape, P.dtype)
    # Writing straight into out is safe unless it overlaps p (then: a temporary).
    direct = out is not None and not np.may_share_memory(out, P)
    res: FloatArray = out if direct else np.empty(shape, dtype=P.dtype)  # type: ignore[assignment]  # (out given)
    Pm = np.moveaxis(P, ax, -1) if ax != P.ndim - 1 else P
    Rm = np.moveaxis(res, ax, -1) if ax != P.ndim - 1 else res
    batch = Pm.shape[:-1]
    kern = _ROWS["surprisal"][P.dtype]
    normalize = bool(normalize)
    nbad = _run_batched(lambda a, r: kern(a, r, normalize, log_base, nt), [Pm, Rm], batch)
    if nbad and not nan_mode:
        bad = ~(np.isfinite(Pm) & (Pm >= 0)).all(axis=-1)
        if normalize:
            bad |= ~Pm.any(axis=-1)
        idx = _first_bad(bad, batch)
        _raise_invalid("surprisal", [Pm], ["p"], idx, normalize)
    if out is not None:
        if not direct:
            np.copyto(out, res)
        return out
    return res


for _f in (entropy, cross_entropy, kl_divergence, js_divergence):
    _args = ("p : array_like\n        Probabilities (or weights, see ``normalize``); nonnegative."
             if _f is entropy else
             "p, q : array_like\n        Probabilities (or weights, see ``normalize``); nonnegative.")
    # (a docstring is str | None to mypy)
    _f.__doc__ = _f.__doc__.replace("{doc}", _COMMON_DOC.format(args=_args))  # type: ignore[union-attr]
surprisal.__doc__ = surprisal.__doc__.replace(  # type: ignore[union-attr]
    "{doc}", _COMMON_DOC.format(args="p : array_like\n        Probabilities; nonnegative."))
del _f, _args
