"""Entropies and mutual information of joint distributions p(x, y): the thin Python layer.

A joint distribution (or a contingency table of counts, with ``normalize=True``)
lies on two axes, ``axes=(-2, -1)`` by default, X on the first; every other
axis is a batch axis. One compiled pass per table (``_joint.pxi``) gives all of
H(X,Y), H(X), H(Y), H(Y|X), H(X|Y) and I(X;Y), each summed from its own
non-negative terms: the mutual information is computed directly as
sum p log(p / (px py)), never negative, 0 for an independent table up to
rounding; conditional entropies never come from a difference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import operator

import numpy as np

from ._dispatch import kernels as _k
from ._measures import (_F32, _F64, _as_array, _first_bad, _log_base, _nan_mode,
                        _normalize_axis_index, _threads)
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import Average, FloatArray, FloatResult, Invalid

__all__ = ["joint_entropy", "conditional_entropy", "mutual_information",
           "normalized_mutual_information", "variation_of_information"]

_ROWS: dict[np.dtype[Any], Callable[..., int]] = {_F64: _k.joint_rows["double"], _F32: _k.joint_rows["float"]}
HXY, HX, HY, HYGX, HXGY, MI = range(6)
_AVERAGES = ("arithmetic", "geometric", "min", "max")


def _tables(pxy: ArrayLike, axes: tuple[int, int]) -> tuple[FloatArray, tuple[int, ...]]:
    """(B, K, L) view of the tables (a copy only if the batch axes cannot be flattened), batch shape."""
    A = _as_array(pxy, "pxy")
    if A.ndim < 2:
        raise ValueError(f"pxy must have at least two dimensions (X and Y), got shape {A.shape}")
    # operator.index, as NumPy's axis arguments: no string ("01") or float (0.7 -> 0) slips through
    if not isinstance(axes, (tuple, list)) or len(axes) != 2:
        raise TypeError(f"axes must be a pair of ints, got {axes!r}")
    try:
        ax, ay = (operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(f"axes must be a pair of ints, got {axes!r}") from None
    ax, ay = _normalize_axis_index(ax, A.ndim), _normalize_axis_index(ay, A.ndim)
    if ax == ay:
        raise ValueError(f"axes must name two different axes, got {axes!r}")
    A = np.moveaxis(A, (ax, ay), (-2, -1))
    batch = A.shape[:-2]
    return A.reshape((int(np.prod(batch)),) + A.shape[-2:]), batch   # (-1 fails for empty tables)


def _all(pxy: ArrayLike, axes: tuple[int, int], normalize: bool, invalid: str, n_threads: int | None,
         fname: str) -> tuple[NDArray[np.float64], tuple[int, ...], np.dtype[Any]]:
    nan_mode = _nan_mode(invalid)
    nt = _threads(n_threads)
    T, batch = _tables(pxy, axes)
    out = np.empty((T.shape[0], 6), dtype=np.float64)
    nbad = _ROWS[T.dtype](T, out, bool(normalize), nt)
    if nbad and not nan_mode:
        idx = _first_bad(np.isnan(out[:, 0]).reshape(batch), batch)
        t = T[int(np.ravel_multi_index(idx, batch)) if batch else 0]
        bad = ~(np.isfinite(t) & (t >= 0))
        if bad.any():
            i, j = (int(v) for v in np.unravel_index(int(np.argmax(bad)), t.shape))
            raise ValueError(f"{fname}: pxy has a negative, NaN or infinite value ({t[i, j]!r} at "
                             f"x={i}, y={j}) in the table at batch index {idx}")
        if normalize and not t.any():
            raise ValueError(f"{fname}: cannot normalize: the table at batch index {idx} sums to zero")
        raise ValueError(f"{fname}: the table at batch index {idx} sums beyond the float range "
                         f"(or there was no memory for its marginals)")
    return out, batch, T.dtype


def _result(v: NDArray[np.float64], batch: tuple[int, ...], dtype: np.dtype[Any],
            base: float | None) -> FloatResult:
    v = v / _log_base(base) + 0.0 if base is not None else v
    v = v.reshape(batch)
    if dtype == _F32:
        v = v.astype(_F32)
    return v[()] if v.ndim == 0 else v


_DOC = """
    Parameters
    ----------
    pxy : array_like
        Joint probabilities p(x, y) (or counts with ``normalize=True``) on the
        two ``axes``; every other axis is a batch axis.
    axes : pair of int, default (-2, -1)
        The X axis and the Y axis.
    base : float, optional
        Logarithm base (``None``: nats, ``2``: bits).
    normalize : bool, default False
        Divide each table by its sum first (counts, unnormalized weights). An
        all-zero table is then invalid. ``False`` uses the numbers as passed.
    invalid : {'raise', 'nan'}
        A negative, NaN or infinite entry raises ``ValueError`` naming the batch
        index and the cell, or gives NaN for that table.
    n_threads : int, optional
        OpenMP threads over the tables of a batch.
"""


@_dk.dask_aware(_dk.JOINT)
def joint_entropy(pxy: ArrayLike, *, axes: tuple[int, int] = (-2, -1), base: float | None = None,
                  normalize: bool = False, invalid: Invalid = "raise",
                  n_threads: int | None = None) -> FloatResult:
    """H(X,Y) = -sum p(x,y) log p(x,y) of each table."""
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "joint_entropy")
    return _result(out[:, HXY], batch, dt, base)


@_dk.dask_aware(_dk.JOINT)
def conditional_entropy(pxy: ArrayLike, *, axes: tuple[int, int] = (-2, -1), base: float | None = None,
                        normalize: bool = False, invalid: Invalid = "raise",
                        n_threads: int | None = None) -> FloatResult:
    """H(Y|X) = sum p(x,y) log(p(x) / p(x,y)) of each table (X on ``axes[0]``), never negative.

    Summed from its own non-negative terms, not as H(X,Y) - H(X). For H(X|Y)
    swap the axes: ``axes=(-1, -2)``.
    """
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "conditional_entropy")
    return _result(out[:, HYGX], batch, dt, base)


@_dk.dask_aware(_dk.JOINT)
def mutual_information(pxy: ArrayLike, *, axes: tuple[int, int] = (-2, -1), base: float | None = None,
                       normalize: bool = False, invalid: Invalid = "raise",
                       n_threads: int | None = None) -> FloatResult:
    """I(X;Y) = sum p(x,y) log(p(x,y) / (p(x) p(y))) of each table, computed directly.

    Never negative (clamped at 0 against rounding); an independent table gives
    0 up to rounding (~1e-16), where H(X) + H(Y) - H(X,Y) would cancel.
    """
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "mutual_information")
    return _result(out[:, MI], batch, dt, base)


@_dk.dask_aware(_dk.JOINT)
def normalized_mutual_information(pxy: ArrayLike, *, average: Average = "arithmetic",
                                  axes: tuple[int, int] = (-2, -1), normalize: bool = False,
                                  invalid: Invalid = "raise", n_threads: int | None = None) -> FloatResult:
    """I(X;Y) / mean(H(X), H(Y)) of each table, in [0, 1] (scikit-learn's ``average_method``).

    ``average``: ``"arithmetic"`` (default), ``"geometric"``, ``"min"`` or
    ``"max"``. When the mean is 0 (a table with one row or one column of
    mass), the result is 1.0 if both H(X) and H(Y) are 0 (two constant
    labelings agree perfectly, as scikit-learn) and 0.0 otherwise. Base-free.
    """
    if not (isinstance(average, str) and average in _AVERAGES):
        raise ValueError(f"average must be one of {', '.join(_AVERAGES)}, got {average!r}")
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "normalized_mutual_information")
    hx, hy, mi = out[:, HX], out[:, HY], out[:, MI]
    if average == "arithmetic":
        den = 0.5 * (hx + hy)
    elif average == "geometric":
        den = np.sqrt(hx * hy)
    elif average == "min":
        den = np.minimum(hx, hy)
    else:
        den = np.maximum(hx, hy)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(den > 0, mi / np.where(den > 0, den, 1.0), np.where((hx == 0) & (hy == 0), 1.0, 0.0))
        v = np.where(np.isnan(mi), np.nan, np.minimum(v, 1.0))
    return _result(v, batch, dt, None)


@_dk.dask_aware(_dk.JOINT)
def variation_of_information(pxy: ArrayLike, *, axes: tuple[int, int] = (-2, -1), base: float | None = None,
                             normalize: bool = False, invalid: Invalid = "raise",
                             n_threads: int | None = None) -> FloatResult:
    """VI(X;Y) = H(X|Y) + H(Y|X) of each table (a metric on partitions), never negative."""
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "variation_of_information")
    return _result(out[:, HXGY] + out[:, HYGX], batch, dt, base)


for _f in (joint_entropy, conditional_entropy, mutual_information, variation_of_information):
    _f.__doc__ += _DOC  # type: ignore[operator]  # (a docstring is str | None to mypy)
normalized_mutual_information.__doc__ += _DOC.replace(  # type: ignore[operator]
    """    base : float, optional
        Logarithm base (``None``: nats, ``2``: bits).
""", "")
