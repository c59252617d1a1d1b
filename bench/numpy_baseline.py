"""Plain NumPy implementations of fastinfo's measures: the benchmark BASELINE.

This module is what a careful NumPy user would write: whole-batch array
expressions, no Python loop over rows, no SciPy. It follows the same
conventions as the compiled API (0 log 0 = 0, +inf where q == 0 < p,
``invalid="raise"`` / ``"nan"``, ``normalize``, ``base``, ``keepdims``) so
that the benchmarks compare like with like, but it is NOT a test oracle:
float32 input is computed and summed in float32 (fastinfo accumulates in
float64), and extreme inputs (values near the overflow threshold) are not
handled with care.

Only the signature subset ``axis=-1, base=None, normalize=False,
keepdims=False, invalid="raise"`` is supported (no ``out=``, no
``n_threads=``: NumPy's elementwise functions run on one thread).

Each measure costs several full passes over the batch (a mask, the log, a
product, the sum, plus temporaries of the batch's size): that is the cost
the fused kernels avoid.
"""

from __future__ import annotations

import math
import numbers
import operator
from functools import reduce
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from fastinfo._typing import FloatArray, FloatResult, Invalid

    # terms(arrays, full shape, dtype) -> the per-row result
    _Terms = Callable[[list[FloatArray], tuple[int, ...], np.dtype[Any]], ArrayLike]

__all__ = [
    "softmax_cross_entropy",
    "entropy",
    "cross_entropy",
    "kl_divergence",
    "js_divergence",
    "surprisal",
]

_LN2 = math.log(2.0)


# --------------------------------------------------------------------------
# argument handling


def _check_invalid(invalid: object) -> None:
    if not isinstance(invalid, str) or invalid not in ("raise", "nan"):
        raise ValueError(f"invalid must be 'raise' or 'nan', got {invalid!r}")


def _log_of_base(base: object) -> float | None:
    """ln(base), or None for nats."""
    if base is None:
        return None
    if isinstance(base, (bool, np.bool_)) or not isinstance(base, numbers.Real):
        raise ValueError(f"base must be a positive finite number other than 1, got {base!r}")
    b = float(base)
    if not (math.isfinite(b) and b > 0.0 and b != 1.0):
        raise ValueError(f"base must be a positive finite number other than 1, got {base!r}")
    return math.log(b)


def _as_float_array(x: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x)
    if a.dtype == np.float64 or a.dtype == np.float32:
        return a
    if a.dtype.kind in "biuf":  # bool, integers, float16, longdouble
        return a.astype(np.float64)
    raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")


def _normalize_axis(axis: int, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


def _prepare(values: Sequence[ArrayLike], names: Sequence[str],
             axis: int) -> tuple[list[FloatArray], tuple[int, ...], int, np.dtype[Any], int]:
    """Convert, align, move the distribution axis last, check lengths and batch shapes.

    NumPy's rule: shapes are aligned on the right (leading axes of length 1
    added), `axis` counts in that common shape, the lengths along it must
    match and the other (batch) axes broadcast. Returns (arrays with the
    distribution axis last, batch shape, K, dtype, the axis's position).
    """
    arrays = [_as_float_array(v, n) for v, n in zip(values, names)]
    dtype: type[np.floating[Any]] = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
    for a, name in zip(arrays, names):
        if a.ndim == 0:
            raise ValueError(f"{name} must have at least one dimension (the distribution axis)")
    ndim = max(a.ndim for a in arrays)
    ax = _normalize_axis(axis, ndim)
    aligned = [a.astype(dtype, copy=False) for a in arrays]
    aligned = [a if a.ndim == ndim else a.reshape((1,) * (ndim - a.ndim) + a.shape) for a in aligned]
    k = aligned[0].shape[ax]
    for a, name in zip(aligned[1:], names[1:]):
        if a.shape[ax] != k:
            raise ValueError(
                f"distributions must have the same length along axis {axis}: "
                f"{names[0]} has {k}, {name} has {a.shape[ax]}"
            )
    moved = aligned if ax == ndim - 1 else [np.moveaxis(a, ax, -1) for a in aligned]
    if len(moved) == 1:
        return moved, moved[0].shape[:-1], k, np.dtype(dtype), ax
    try:
        batch_shape = np.broadcast_shapes(*(a.shape[:-1] for a in moved))
    except ValueError:
        shapes = ", ".join(f"{n} {v.shape}" for n, v in zip(names, arrays))
        raise ValueError(f"batch shapes do not broadcast: {shapes}") from None
    return moved, batch_shape, k, np.dtype(dtype), ax


def _maybe_normalize(arrays: list[FloatArray],
                     normalize: bool) -> tuple[list[FloatArray], list[FloatArray] | None]:
    """Divide each distribution by its sum; returns (arrays, sums or None)."""
    if not normalize:
        return arrays, None
    sums = [a.sum(axis=-1, keepdims=True) for a in arrays]
    return [a / s for a, s in zip(arrays, sums)], sums


def _looks_valid(a: FloatArray) -> bool:
    """One cheap reduction pair, no temporaries: no negative, NaN or inf value."""
    return a.size == 0 or bool(np.min(a) >= 0 and np.max(a) < np.inf)


def _bad_rows(a: FloatArray) -> NDArray[np.bool_]:
    """Exact per-distribution flag (only computed when something looked wrong)."""
    return ~np.all((a >= 0) & (a < np.inf), axis=-1)


def _find_invalid(result: NDArray[Any], arrays: Sequence[FloatArray], names: Sequence[str],
                  explicit: Sequence[int], sums: Sequence[FloatArray] | None, batch_shape: tuple[int, ...],
                  invalid: str) -> NDArray[np.bool_] | None:
    """Screen for invalid distributions; raise, or return the NaN mask (or None).

    Arguments not listed in `explicit` make every result they touch NaN or
    infinite when they hold a negative, NaN or infinite value, so for them a
    check of the (small) result suffices; the others get a min/max pass. Only
    when something looks wrong is the exact per-row mask computed.
    """
    suspect = not all(_looks_valid(arrays[i]) for i in explicit)
    if not suspect and len(explicit) < len(arrays):
        suspect = not np.isfinite(result).all()
    if not suspect and sums is not None:
        suspect = not all(np.all((s > 0) & (s < np.inf)) for s in sums)
    if not suspect:
        return None
    bad_values = [np.broadcast_to(_bad_rows(a), batch_shape) for a in arrays]
    bad_zero = [np.broadcast_to(s[..., 0] == 0, batch_shape) for s in sums or ()]
    bad = reduce(np.logical_or, bad_values + bad_zero)
    if not bad.any():
        return None  # a legitimate +inf (q == 0 < p) or an overflow
    if invalid == "nan":
        return bad
    flat = int(np.argmax(bad.ravel()))
    index = tuple(int(i) for i in np.unravel_index(flat, batch_shape))
    for b, name in zip(bad_values, names):
        if b[index]:
            raise ValueError(
                f"{name} holds a negative, NaN or infinite probability "
                f"at batch index {index!r}"
            )
    for b, name in zip(bad_zero, names):
        if b[index]:
            raise ValueError(
                f"{name} is an all-zero distribution (cannot normalize) "
                f"at batch index {index!r}"
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _finish(result: ArrayLike, dtype: np.dtype[Any], log_base: float | None, keepdims: bool,
            out_axis: int) -> FloatResult:
    result = np.asarray(result, dtype=dtype)
    if log_base is not None:
        result = np.asarray(result / log_base, dtype=dtype)
    if keepdims:
        result = np.expand_dims(result, out_axis)
    return result[()] if result.ndim == 0 else result


def _reduce_measure(values: Sequence[ArrayLike], names: Sequence[str], explicit: Sequence[int], terms: _Terms,
                    axis: int, base: float | None, normalize: bool, keepdims: bool, invalid: str) -> FloatResult:
    """Shared driver of the four reductions; `terms(arrays, shape, dtype)` -> per-row result."""
    _check_invalid(invalid)
    log_base = _log_of_base(base)
    arrays, batch_shape, k, dtype, out_axis = _prepare(values, names, axis)
    if k == 0:
        return _finish(np.zeros(batch_shape, dtype), dtype, log_base, keepdims, out_axis)
    full_shape = batch_shape + (k,)
    # Warnings are meaningless here: log(0), 0/0 and friends are handled below.
    with np.errstate(all="ignore"):
        xs, sums = _maybe_normalize(arrays, normalize)
        result = np.asarray(terms(xs, full_shape, dtype))
        bad = _find_invalid(result, arrays, names, explicit, sums, batch_shape, invalid)
        if bad is not None:
            result = np.where(bad, np.nan, result)
    return _finish(result, dtype, log_base, keepdims, out_axis)


# --------------------------------------------------------------------------
# the measures: each term array is built in place in one temporary


def _entropy_terms(xs: list[FloatArray], shape: tuple[int, ...], dtype: np.dtype[Any]) -> FloatResult:
    (p,) = xs
    # where=p != 0 (not p > 0): a negative p then gives log -> NaN, so invalid
    # input shows in the result without a separate validation pass.
    t = np.log(p, out=np.zeros(shape, dtype), where=p != 0)
    t *= p
    return 0.0 - t.sum(axis=-1)  # 0.0 - x, not -x: a row of zeros and ones gives +0.0, not -0.0


def _cross_entropy_terms(xs: list[FloatArray], shape: tuple[int, ...], dtype: np.dtype[Any]) -> FloatResult:
    p, q = xs
    t = np.log(q, out=np.zeros(shape, dtype), where=p != 0)  # q == 0 < p -> -inf
    t *= p
    return 0.0 - t.sum(axis=-1)


def _kl_terms(xs: list[FloatArray], shape: tuple[int, ...], dtype: np.dtype[Any]) -> FloatResult:
    p, q = xs
    # One divide and one log per element (not log p - log q); p == 0 -> log 1 * 0 = 0.
    r = np.divide(p, q, out=np.ones(shape, dtype), where=p != 0)
    np.log(r, out=r)
    r *= p
    return r.sum(axis=-1)


def _js_half(x: FloatArray, s: FloatArray, shape: tuple[int, ...], dtype: np.dtype[Any]) -> FloatArray:
    # x log(2x / (x + y)): the ratio x/s <= 1 is doubled exactly, so a
    # subnormal x cannot make the mixture 0 (as (x + y) / 2 could).
    r = np.divide(x, s, out=np.ones(shape, dtype), where=x != 0)
    r *= 2
    np.log(r, out=r)
    r *= x
    return r


def _js_terms(xs: list[FloatArray], shape: tuple[int, ...], dtype: np.dtype[Any]) -> FloatResult:
    p, q = xs
    s = p + q
    t = _js_half(p, s, shape, dtype)
    t += _js_half(q, s, shape, dtype)
    jsd = 0.5 * t.sum(axis=-1)
    return np.maximum(jsd, 0)  # rounding can leave -1e-17 when p == q; NaN propagates


# --------------------------------------------------------------------------
# public functions


def entropy(p: ArrayLike, *, axis: int = -1, base: float | None = None, normalize: bool = False,
            keepdims: bool = False, invalid: Invalid = "raise") -> FloatResult:
    """Shannon entropy H(p) = -sum_i p_i log p_i -- the NumPy baseline.

    Plain NumPy, vectorized over the whole batch; the reference the compiled
    ``fastinfo.entropy`` is benchmarked against (not a test oracle).
    Terms with p_i == 0 are 0. Units: nats (``base=None``), bits (``base=2``).

    >>> float(entropy([0.5, 0.5], base=2))
    1.0
    >>> entropy([[1, 0], [0.5, 0.5]]).round(4)
    array([0.    , 0.6931])
    """
    return _reduce_measure(
        (p,), ("p",), (), _entropy_terms, axis, base, normalize, keepdims, invalid
    )


def cross_entropy(p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None,
                  normalize: bool = False, keepdims: bool = False, invalid: Invalid = "raise") -> FloatResult:
    """Cross-entropy H(p, q) = -sum_i p_i log q_i -- the NumPy baseline.

    Plain NumPy, vectorized over the whole batch (the benchmark baseline,
    not a test oracle). Terms with p_i == 0 are 0 whatever q_i is;
    p_i > 0 with q_i == 0 gives +inf.

    >>> float(cross_entropy([0.5, 0.5], [0.5, 0.5], base=2))
    1.0
    >>> float(cross_entropy([1.0, 0.0], [0.0, 1.0]))
    inf
    """
    # p and q both need the min/max pass: a negative p times a finite log q
    # stays finite, and q where p == 0 never reaches the result.
    return _reduce_measure(
        (p, q), ("p", "q"), (0, 1), _cross_entropy_terms,
        axis, base, normalize, keepdims, invalid,
    )


def kl_divergence(p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None,
                  normalize: bool = False, keepdims: bool = False, invalid: Invalid = "raise") -> FloatResult:
    """Kullback-Leibler divergence D(p || q) = sum_i p_i log(p_i / q_i) -- the NumPy baseline.

    Plain NumPy, vectorized over the whole batch (the benchmark baseline,
    not a test oracle). Computed directly (one log of the ratio), not as
    H(p, q) - H(p). Terms with p_i == 0 are 0; p_i > 0 with q_i == 0 gives +inf.

    >>> float(kl_divergence([0.5, 0.5], [0.5, 0.5]))
    0.0
    >>> round(float(kl_divergence([1.0, 0.0], [0.5, 0.5], base=2)), 12)
    1.0
    """
    # An invalid p always shows in the result (NaN/inf); q only where p != 0.
    return _reduce_measure(
        (p, q), ("p", "q"), (1,), _kl_terms, axis, base, normalize, keepdims, invalid
    )


def js_divergence(
    p: ArrayLike, q: ArrayLike, *, distance: bool = False, axis: int = -1, base: float | None = None,
    normalize: bool = False, keepdims: bool = False, invalid: Invalid = "raise"
) -> FloatResult:
    """Jensen-Shannon divergence -- the NumPy baseline.

    JSD(p, q) = 1/2 D(p || m) + 1/2 D(q || m) with m = (p + q) / 2;
    ``distance=True`` returns sqrt(JSD). Plain NumPy, vectorized over the
    whole batch (the benchmark baseline, not a test oracle). Always finite
    and >= 0; at most log 2 (1 bit) for normalized input.

    >>> float(js_divergence([1.0, 0.0], [0.0, 1.0], base=2))
    1.0
    >>> float(js_divergence([0.5, 0.5], [0.5, 0.5], distance=True))
    0.0
    """
    # Both arguments get the min/max pass: p = -1, q = 0 gives a finite term.
    result = _reduce_measure(
        (p, q), ("p", "q"), (0, 1), _js_terms, axis, base, normalize, keepdims, invalid
    )
    return np.sqrt(result) if distance else result


def surprisal(p: ArrayLike, *, axis: int = -1, base: float | None = None, normalize: bool = False,
              keepdims: bool = False, invalid: Invalid = "raise") -> FloatArray:
    """Surprisal (self-information) -log p_i, elementwise -- the NumPy baseline.

    The result has p's shape (``keepdims`` is accepted and ignored);
    surprisal(0) = +inf. With ``invalid="nan"`` every element of an invalid
    distribution is NaN. Plain NumPy (the benchmark baseline, not a test oracle).

    >>> surprisal([0.5, 0.25, 0.0], base=2)
    array([ 1.,  2., inf])
    """
    _check_invalid(invalid)
    log_base = _log_of_base(base)
    (x,), batch_shape, k, dtype, ax = _prepare((p,), ("p",), axis)
    with np.errstate(all="ignore"):
        (xs,), sums = _maybe_normalize([x], normalize and k > 0)
        result = np.log(xs)
        np.negative(result, out=result)
        bad = _find_invalid(result, [x], ["p"], (0,), sums, batch_shape, invalid)
        if bad is not None:
            result = np.where(bad[..., None], np.nan, result)
    if log_base is not None:
        result = np.asarray(result / log_base, dtype=dtype)
    return np.moveaxis(np.asarray(result, dtype=dtype), -1, ax)


def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> FloatArray:
    """Cross-entropy of softmax(logits) (last axis) against integer labels, per row.

    The textbook stable form a NumPy user writes: m = max, log-sum-exp of
    x - m over the batch, minus the label's logit. It materializes exp(x - m)
    (a temporary of the logits' size) and checks for NaN / +inf logits with a
    pass of its own. -inf logits are masks (exp(-inf) = 0).
    """
    x = _as_float_array(logits, "logits")
    y = np.asarray(labels)
    if np.isnan(x).any() or np.isposinf(x).any():
        raise ValueError("softmax_cross_entropy: logits hold NaN or +inf")
    if y.shape != x.shape[:-1]:
        raise ValueError("labels must have the batch shape of logits")
    if ((y < 0) | (y >= x.shape[-1])).any():
        raise IndexError("label out of range")
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    lse = np.log(e.sum(axis=-1)) + m[..., 0]
    return lse - np.take_along_axis(x, y[..., None].astype(np.intp), axis=-1)[..., 0]
