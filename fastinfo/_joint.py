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

from . import _args
from ._dispatch import kernels as _k
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import Average, FloatArray, FloatResult, Invalid

__all__ = ["joint_entropy", "conditional_entropy", "mutual_information",
           "normalized_mutual_information", "variation_of_information"]

_ROWS: dict[np.dtype[Any], Callable[..., int]] = {_args.F64: _k.joint_rows["double"],
                                                  _args.F32: _k.joint_rows["float"]}
HXY, HX, HY, HYGX, HXGY, MI = range(6)
_AVERAGES = ("arithmetic", "geometric", "min", "max")


def _tables(pxy: ArrayLike, axes: tuple[int, int]) -> tuple[FloatArray, tuple[int, ...]]:
    """(B, K, L) view of the tables (a copy only if the batch axes cannot be flattened), batch shape."""
    A = _args.as_array(pxy, "pxy")
    if A.ndim < 2:
        raise ValueError(f"pxy must have at least two dimensions (X and Y), got shape {A.shape}")
    # operator.index, as NumPy's axis arguments: no string ("01") or float (0.7 -> 0) slips through
    if not isinstance(axes, (tuple, list)) or len(axes) != 2:
        raise TypeError(f"axes must be a pair of ints, got {axes!r}")
    try:
        ax, ay = (operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(f"axes must be a pair of ints, got {axes!r}") from None
    ax, ay = _args.normalize_axis_index(ax, A.ndim), _args.normalize_axis_index(ay, A.ndim)
    if ax == ay:
        raise ValueError(f"axes must name two different axes, got {axes!r}")
    A = np.moveaxis(A, (ax, ay), (-2, -1))
    batch = A.shape[:-2]
    return A.reshape((int(np.prod(batch)),) + A.shape[-2:]), batch   # (-1 fails for empty tables)


def _all(pxy: ArrayLike, axes: tuple[int, int], normalize: bool | None, invalid: str, n_threads: int | None,
         fname: str) -> tuple[NDArray[np.float64], tuple[int, ...], np.dtype[Any]]:
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    T, batch = _tables(pxy, axes)
    out = np.empty((T.shape[0], 6), dtype=np.float64)
    check = normalize is None
    normalize = _args.normalize_flag(normalize)
    nbad = _ROWS[T.dtype](T, out, normalize, nt)
    if nbad and not nan_mode:
        idx = _args.first_bad(np.isnan(out[:, 0]).reshape(batch), batch)
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
    if check and T.size:      # normalize=None: a table far from summing to 1 (counts?) draws a warning
        _args.check_sums(fname, [T.reshape(T.shape[0], -1)], ["pxy"])
    return out, batch, T.dtype


def _result(v: NDArray[np.float64], batch: tuple[int, ...], dtype: np.dtype[Any],
            base: float | None) -> FloatResult:
    v = v / _args.log_base(base) + 0.0 if base is not None else v
    v = v.reshape(batch)
    if dtype == _args.F32:
        v = v.astype(_args.F32)
    return v[()] if v.ndim == 0 else v


# The Parameters, Returns and Raises sections of the five functions: "{doc}" in their docstrings.
_DOC = """
    Parameters
    ----------
    pxy : array_like
        Joint probabilities p(x, y) (or counts with ``normalize=True``) on the
        two ``axes``; every other axis is a batch axis.
    {average}
    axes : pair of int, default (-2, -1)
        The X axis and the Y axis.
    {base}
    normalize : bool or None, default None
        ``True`` divides each table by its sum first (counts, unnormalized
        weights); ``False`` uses the numbers as passed; ``None`` uses them as
        passed and warns once per call when a table's sum is more than 1% from 1. An
        all-zero table is then invalid. ``False`` uses the numbers as passed.
    invalid : {'raise', 'nan'}, default 'raise'
        A negative, NaN or infinite entry raises ``ValueError`` naming the batch
        index and the cell (``'raise'``), or gives NaN for that table
        (``'nan'``).
    n_threads : int, optional
        OpenMP threads over the tables of a batch; ``None`` uses what OpenMP
        allows at call time (``OMP_NUM_THREADS``, ``threadpoolctl``). The
        result is bitwise the same for every thread count.

    Returns
    -------
    ndarray or NumPy scalar
        The batch shape (a NumPy scalar for a single table); float32 for
        float32 input, otherwise float64.

    Raises
    ------
    ValueError
        An invalid table with ``invalid='raise'`` (a negative, NaN or infinite
        entry; with ``normalize=True`` an all-zero table; a sum beyond the
        float range); ``pxy`` with fewer than two dimensions; ``axes`` naming
        one axis twice or out of range (``numpy.exceptions.AxisError``); a bad
        {option}, ``invalid`` or ``n_threads``.
    TypeError
        Complex, object or string input; ``axes`` that is not a pair of ints;
        a non-integer ``n_threads``.
"""


@_dk.dask_aware(_dk.JOINT)
def joint_entropy(pxy: ArrayLike, *, axes: tuple[int, int] = (-2, -1), base: float | None = None,
                  normalize: bool | None = None, invalid: Invalid = "raise",
                  n_threads: int | None = None) -> FloatResult:
    """Joint entropy H(X,Y) = -sum p(x,y) log p(x,y) of each table.

    0 log 0 = 0; an empty table has entropy 0.
    {doc}
    See Also
    --------
    entropy : The same sum over one axis.
    conditional_entropy, mutual_information

    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.joint_entropy([[0.25, 0.25], [0.0, 0.5]], base=2))
    1.5
    """
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "joint_entropy")
    return _result(out[:, HXY], batch, dt, base)


@_dk.dask_aware(_dk.JOINT)
def conditional_entropy(pxy: ArrayLike, *, axes: tuple[int, int] = (-2, -1), base: float | None = None,
                        normalize: bool | None = None, invalid: Invalid = "raise",
                        n_threads: int | None = None) -> FloatResult:
    """H(Y|X) = sum p(x,y) log(p(x) / p(x,y)) of each table (X on ``axes[0]``), never negative.

    Summed from its own non-negative terms, not as H(X,Y) - H(X). For H(X|Y)
    swap the axes: ``axes=(-1, -2)``.
    {doc}
    See Also
    --------
    joint_entropy, mutual_information, variation_of_information

    Examples
    --------
    >>> import fastinfo
    >>> pxy = [[0.25, 0.25], [0.0, 0.5]]
    >>> print(fastinfo.conditional_entropy(pxy, base=2))     # H(Y|X)
    0.5
    >>> print(f"{fastinfo.conditional_entropy(pxy, axes=(-1, -2), base=2):.12f}")   # H(X|Y)
    0.688721875541
    """
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "conditional_entropy")
    return _result(out[:, HYGX], batch, dt, base)


@_dk.dask_aware(_dk.JOINT)
def mutual_information(pxy: ArrayLike, *, axes: tuple[int, int] = (-2, -1), base: float | None = None,
                       normalize: bool | None = None, invalid: Invalid = "raise",
                       n_threads: int | None = None) -> FloatResult:
    """I(X;Y) = sum p(x,y) log(p(x,y) / (p(x) p(y))) of each table, computed directly.

    Never negative (clamped at 0 against rounding); an independent table gives
    0 up to rounding (~1e-16), where H(X) + H(Y) - H(X,Y) would cancel.
    {doc}
    See Also
    --------
    normalized_mutual_information, conditional_entropy
    mutual_information_score : The same of two labelings.
    knn_mutual_information : Estimated from continuous samples.

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.mutual_information([[0.25, 0.25], [0.0, 0.5]], base=2):.12f}")
    0.311278124459
    >>> fastinfo.mutual_information([[[3, 0], [0, 1]], [[1, 1], [1, 1]]], normalize=True)
    array([0.56233514, 0.        ])
    """
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "mutual_information")
    return _result(out[:, MI], batch, dt, base)


@_dk.dask_aware(_dk.JOINT)
def normalized_mutual_information(pxy: ArrayLike, *, average: Average = "arithmetic",
                                  axes: tuple[int, int] = (-2, -1), normalize: bool | None = None,
                                  invalid: Invalid = "raise", n_threads: int | None = None) -> FloatResult:
    """Normalized mutual information I(X;Y) / mean(H(X), H(Y)) of each table, in [0, 1].

    scikit-learn's normalization (``average`` is its ``average_method``).
    When the mean is 0 (a table with one row or one column of mass), the
    result is 1.0 if both H(X) and H(Y) are 0 (two constant labelings agree
    perfectly, as scikit-learn) and 0.0 otherwise. Never above 1 (rounding is
    clamped). Base-free.
    {doc}
    See Also
    --------
    mutual_information
    normalized_mutual_information_score : The same of two labelings.

    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.normalized_mutual_information([[0.5, 0.0], [0.0, 0.5]]))
    1.0
    >>> print(f"{fastinfo.normalized_mutual_information([[0.25, 0.25], [0.0, 0.5]]):.6f}")
    0.343711
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
                             normalize: bool | None = None, invalid: Invalid = "raise",
                             n_threads: int | None = None) -> FloatResult:
    """Variation of information VI(X;Y) = H(X|Y) + H(Y|X) of each table.

    A metric on partitions; never negative (each conditional entropy is summed
    from its own non-negative terms).
    {doc}
    See Also
    --------
    conditional_entropy, mutual_information

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.variation_of_information([[0.25, 0.25], [0.0, 0.5]], base=2):.12f}")
    1.188721875541
    """
    out, batch, dt = _all(pxy, axes, normalize, invalid, n_threads, "variation_of_information")
    return _result(out[:, HXGY] + out[:, HYGX], batch, dt, base)


_args.fill_doc({"doc": _DOC, "average": "", "option": "``base``"},
               [joint_entropy, conditional_entropy, mutual_information, variation_of_information])
# normalized_mutual_information is base-free and takes an average
_args.fill_doc({"doc": _DOC, "base": "", "option": "``average``"}, [normalized_mutual_information])
