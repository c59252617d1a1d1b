"""Contingency tables and information scores of paired label samples.

``contingency_table(x, y)`` counts label pairs: labels are mapped to codes
(integers in a small range by an offset, anything else through ``np.unique``),
and the counts are taken in one compiled pass into a dense table -- or, with
``sparse=True`` (and inside the scores, when the dense table would have more
cells than ``min(max(10**7, 16 * n), 2**28)``), as sparse coordinates (rows,
cols, counts) from the sorted pair keys, never allocating the rows x cols
table (100 000 x 100 000 labels stay O(n)). The public function's return type
depends on ``sparse`` only.
The scores use scikit-learn's definitions (natural log unless ``base``).

The adjusted mutual information needs the expected mutual information under
the permutation model (``expected_mutual_information``): a compiled,
parallel sum over the distinct row sums x distinct column sums whose
hypergeometric pmf is walked from its mode by term ratios (no lgamma) and cut
where the rest cannot change the 17th digit (``_emi.pxi``).
"""

from __future__ import annotations

import sys
import warnings
from collections import namedtuple
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from . import _args
from . import _dask as _dk
from ._dispatch import core as _c

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import Average

__all__ = ["contingency_table", "mutual_information_score", "normalized_mutual_information_score",
           "adjusted_mutual_information_score", "expected_mutual_information", "SparseContingency"]

SparseContingency = namedtuple("SparseContingency", "rows cols counts shape")
SparseContingency.__doc__ = """Sparse contingency table: the pairs of labels that occur, and how often.

The pair (x code ``rows[k]``, y code ``cols[k]``) occurs ``counts[k]`` times.
Codes number the distinct labels of each labeling in sorted order; only the
pairs that occur are listed, sorted by row, then column. What
``contingency_table(x, y, sparse=True)`` returns, for tables too large to be
dense; accepted wherever a table is (:func:`expected_mutual_information`).

Parameters
----------
rows, cols : ndarray of int64
    The x code and the y code of each listed pair.
counts : ndarray of int64
    How often each pair occurs (> 0).
shape : tuple of int
    (number of distinct x labels, number of distinct y labels): the shape of
    the dense table.

See Also
--------
contingency_table

Examples
--------
>>> import fastinfo
>>> t = fastinfo.contingency_table([0, 0, 1, 1], [0, 0, 1, 2], sparse=True)
>>> t.rows, t.cols, t.counts, t.shape
(array([0, 1, 1]), array([0, 1, 2]), array([2, 1, 1]), (2, 3))
"""
_DENSE_LIMIT = 10 ** 7
_DENSE_MAX = 2 ** 28        # cells of the largest dense table allocated (2 GiB of int64)


_RANGE_CHUNK = 1 << 24


def _range(a: NDArray[Any]) -> tuple[int, int]:
    """(min, max) of a non-empty 1-D integer array: one compiled pass (over threads, Ctrl-C
    answered between chunks) for native arrays of the kernels' label types, else NumPy's
    min and max 2^24 labels at a time (the interpreter runs signal handlers between them)."""
    if a.dtype.isnative and a.dtype.kind in "iu" and a.dtype.itemsize in (1, 2, 4, 8):
        lo, hi = _c.label_range(a, _args.threads(None))
        return int(lo), int(hi)
    if a.size <= _RANGE_CHUNK:
        return int(a.min()), int(a.max())
    lo, hi = int(a[0]), int(a[0])
    for s in range(0, a.size, _RANGE_CHUNK):
        c = a[s:s + _RANGE_CHUNK]
        lo, hi = min(lo, int(c.min())), max(hi, int(c.max()))
    return lo, hi


def _is_missing(v: object) -> bool:
    """None, or a value unequal to itself (NaN, NaT): missing. (pd.NA is found by pandas.isna.)"""
    if v is None:
        return True
    try:
        return bool(v != v)
    except (TypeError, ValueError):     # an ambiguous comparison (pd.NA, an array): not NaN
        return False


def _missing(a: NDArray[Any]) -> NDArray[np.bool_]:
    """Missing values of an array: NaN (float, complex), NaT, and None / NaN / pd.NA / NaT objects."""
    kind = a.dtype.kind
    if kind in "fc":
        return np.isnan(a)
    if kind in "mM":
        return np.isnat(a)
    if kind != "O":
        return np.zeros(a.shape, dtype=bool)
    pd = sys.modules.get("pandas")     # pd.NA can only exist when pandas is imported
    if pd is not None:
        return np.asarray(pd.isna(a), dtype=bool)
    # (a ufunc of a 0-d array gives a Python object, not an array)
    return np.asarray(np.frompyfunc(_is_missing, 1, 1)(a), dtype=bool)


def _check_missing(a: NDArray[Any], name: str) -> None:
    """ValueError naming the argument and the row of the first missing label."""
    if a.dtype.kind not in "fcmMO":
        return
    miss = _missing(a)
    if miss.any():
        i = int(np.argmax(miss))
        v = a[i].item() if isinstance(a[i], np.generic) else a[i]
        shown = "NaN" if isinstance(v, (float, complex)) else repr(v)
        raise ValueError(f"{name} holds a missing value ({shown}) at row {i}; drop or fill missing "
                         f"labels first")


def _codes(labels: ArrayLike, name: str) -> tuple[NDArray[np.int64], int]:
    a = np.asarray(labels)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {a.shape}")
    if a.dtype.kind in "iub" and a.size:
        lo, hi = _range(a)
        if hi - lo < max(1024, 4 * a.size) and hi <= np.iinfo(np.int64).max:   # small range: offsets, no sort
            codes = a.astype(np.int64) - lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[codes] = True
            remap = np.cumsum(present) - 1
            return remap[codes].astype(np.int64), int(present.sum())
    _check_missing(a, name)
    try:
        uniq, inv = np.unique(a, return_inverse=True)
    except TypeError as e:
        raise TypeError(f"{name}: labels must be sortable ({e})") from None
    return inv.reshape(-1).astype(np.int64), int(uniq.size)


def _direct_ranges(x: ArrayLike, y: ArrayLike) -> tuple[Any, Any, Any, Any, int, int] | None:
    """Integer labels whose value ranges span a small table: (x, y as native integer arrays of
    one dtype, their minima, the ranges' lengths); None when this does not apply."""
    a, b = np.asarray(x), np.asarray(y)
    if a.ndim != 1 or b.ndim != 1 or a.size != b.size or a.size == 0:
        return None
    if a.dtype.kind not in "iub" or b.dtype.kind not in "iub":
        return None
    a = a.view(np.uint8) if a.dtype.kind == "b" else a
    b = b.view(np.uint8) if b.dtype.kind == "b" else b
    if a.dtype != b.dtype:
        if np.dtype(np.uint64) in (a.dtype, b.dtype):
            return None
        a, b = a.astype(np.int64), b.astype(np.int64)
    a = a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))
    b = b if b.dtype.isnative else b.astype(b.dtype.newbyteorder("="))
    (lox, hix), (loy, hiy) = _range(a), _range(b)
    rx, ry = hix - lox + 1, hiy - loy + 1
    # the same "small range" rule as _codes, per axis, and a dense table within the limit
    if rx >= max(1024, 4 * a.size) or ry >= max(1024, 4 * a.size) or \
            rx * ry > min(max(_DENSE_LIMIT, 16 * a.size), _DENSE_MAX):
        return None
    return a, b, lox, loy, int(rx), int(ry)


def _sampled_ranges(x: ArrayLike, y: ArrayLike) -> tuple[Any, Any, Any, Any, int, int] | None:
    """As :func:`_direct_ranges` for labelings of 2^20 or more native integer labels of one
    dtype, with the ranges of 2^16 labels spread over them (a guess: the caller checks it);
    None otherwise."""
    a, b = x, y
    if not (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 1 and b.ndim == 1
            and a.size == b.size and a.size >= 1 << 20 and a.dtype == b.dtype
            and a.dtype.kind in "iu" and a.dtype.isnative):
        return None
    step = a.size >> 16
    sa, sb = a[::step], b[::step]
    lox, hix, loy, hiy = int(sa.min()), int(sa.max()), int(sb.min()), int(sb.max())
    rx, ry = hix - lox + 1, hiy - loy + 1
    if rx >= max(1024, 4 * a.size) or ry >= max(1024, 4 * a.size) or \
            rx * ry > min(max(_DENSE_LIMIT, 16 * a.size), _DENSE_MAX):
        return None
    return a, b, a.dtype.type(lox), b.dtype.type(loy), rx, ry


def _direct_table(x: ArrayLike, y: ArrayLike, sparse: bool | None) -> NDArray[np.int64] | None:
    """Integer labels whose value ranges span a small table: counted straight from the labels
    into the ranges' table, empty rows/columns dropped afterwards (no n-sized temporaries).
    None when this does not apply."""
    found = None if sparse else _direct_ranges(x, y)
    if found is None:
        return None
    a, b, lox, loy, rx, ry = found
    t = np.zeros((rx, ry), dtype=np.int64)
    _c.count_pairs_offset(a, b, lox, loy, t)
    rows, cols = t.any(axis=1), t.any(axis=0)
    if not rows.all():
        t = t[rows]
    if not cols.all():
        t = t[:, cols]
    return np.ascontiguousarray(t)


@overload
def contingency_table(x: ArrayLike, y: ArrayLike, *, sparse: Literal[False] = ...) -> NDArray[np.int64]: ...
@overload
def contingency_table(x: ArrayLike, y: ArrayLike, *, sparse: Literal[True]) -> SparseContingency: ...
@overload
def contingency_table(x: ArrayLike, y: ArrayLike, *,
                      sparse: bool) -> NDArray[np.int64] | SparseContingency: ...


@_dk.interop_aware(("x", "y"))
def contingency_table(x: ArrayLike, y: ArrayLike, *,
                      sparse: bool = False) -> NDArray[np.int64] | SparseContingency:
    """Contingency table of two labelings: how often each (x label, y label) pair occurs.

    ``n_ij = |{k : x_k = i-th x label, y_k = j-th y label}|``, the labels of each
    labeling in sorted order (only labels that occur). Integer labels whose
    value ranges span a small table are counted straight from the labels in
    one compiled pass; other labels are mapped to codes first (small-range
    offsets, else ``np.unique``). The return type is chosen by ``sparse``
    alone, never by the data: a dense table (as scikit-learn's
    ``contingency_matrix``) or a :class:`SparseContingency`, which never
    allocates the dense table (100 000 x 100 000 distinct labels stay O(n)).
    Float labels are counted as they are, each distinct value a label
    (no warning here, as in scikit-learn; the scores warn about non-integer
    floats).

    Parameters
    ----------
    x, y : array_like
        1-D arrays of n labels each: integers, bools, floats (not NaN),
        strings, or any sortable objects.
    sparse : bool, default False
        ``False``: a dense ndarray; ``True``: a :class:`SparseContingency`.
        A dense table of more than 2**28 cells (2 GiB) raises
        ``ValueError`` naming its size -- pass ``sparse=True`` there.

    Returns
    -------
    ndarray of int64, shape (number of x labels, number of y labels), or SparseContingency
        The counts; empty labelings give a (0, 0) table.

    Raises
    ------
    ValueError
        {label_errors}; a dense table of more than 2**28 cells.
    TypeError
        Labels that cannot be sorted (e.g. an object array of mixed types);
        ``sparse`` not a bool.

    See Also
    --------
    mutual_information_score, expected_mutual_information

    Examples
    --------
    >>> import fastinfo
    >>> fastinfo.contingency_table([0, 0, 1, 1], [0, 0, 1, 2])
    array([[2, 0, 0],
           [0, 1, 1]])
    >>> fastinfo.contingency_table(["b", "a", "b"], [1.5, 2.5, 1.5])
    array([[0, 1],
           [2, 0]])
    >>> t = fastinfo.contingency_table([0, 0, 1], [5, 5, 7], sparse=True)
    >>> t.counts, t.shape
    (array([2, 1]), (2, 2))
    """
    if not isinstance(sparse, (bool, np.bool_)):
        raise TypeError(f"contingency_table: sparse must be True (a SparseContingency) or False (a dense "
                        f"ndarray), got {sparse!r}")
    return _table(x, y, bool(sparse))


def _table(x: ArrayLike, y: ArrayLike, sparse: bool | None) -> NDArray[np.int64] | SparseContingency:
    """The contingency table; ``sparse=None`` (the scores): dense unless it would have more than
    min(max(10**7, 16 n), 2**28) cells."""
    t = _direct_table(x, y, sparse)
    if t is not None:
        return t
    cx, nx = _codes(x, "x")
    cy, ny = _codes(y, "y")
    if cx.size != cy.size:
        raise ValueError(f"x and y must have the same length, got {cx.size} and {cy.size}")
    if sparse is None:
        sparse = nx * ny > min(max(_DENSE_LIMIT, 16 * cx.size), _DENSE_MAX)
    if not sparse and nx * ny > _DENSE_MAX:
        raise ValueError(f"contingency_table: the dense table would have {nx} x {ny} = {nx * ny:.3g} cells "
                         f"({8 * nx * ny / 2**30:.3g} GiB of int64), more than 2**28; pass sparse=True for a "
                         f"SparseContingency of the {cx.size} label pairs")
    if not sparse:
        out = np.zeros((nx, ny), dtype=np.int64)
        if cx.size:
            _c.count_pairs(cx, cy, out)
        return out
    keys = cx * ny + cy
    uk, counts = np.unique(keys, return_counts=True)
    return SparseContingency(uk // ny if ny else uk, uk % ny if ny else uk, counts.astype(np.int64), (nx, ny))


def _discrete(x: ArrayLike, y: ArrayLike, fname: str) -> tuple[NDArray[Any], NDArray[Any]]:
    """x and y as arrays; a UserWarning when either holds floats with non-integer values
    (scikit-learn's check_clusterings: type_of_target 'continuous'): a clustering score counts
    every distinct value as a label, so continuous data gives a meaningless score."""
    xa, ya = np.asarray(x), np.asarray(y)
    found = []
    for a, name in ((xa, "x"), (ya, "y")):
        if a.dtype.kind == "f" and a.ndim == 1 and a.size:
            with np.errstate(invalid="ignore"):
                frac = np.isfinite(a) & (a != np.trunc(a))
            if frac.any():
                i = int(np.argmax(frac))
                found.append(f"{name} (e.g. {a[i].item()!r} at row {i})")
    if found:
        warnings.warn(f"{fname}: {' and '.join(found)} {'holds' if len(found) == 1 else 'hold'} continuous "
                      f"values (floats that are not integers); clustering scores count every distinct value "
                      f"as its own label. Bin continuous values first (np.digitize, pandas.cut) or pass "
                      f"discrete labels", UserWarning, stacklevel=_args.user_stacklevel())
    return xa, ya


def _sums(table: ArrayLike | SparseContingency) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                         NDArray[np.float64], NDArray[np.float64],
                                                         NDArray[np.float64]]:
    """(n_ij nonzero counts, their row sums a_i, column sums b_j, per cell; a; b)."""
    a, b = _marginal_sums(table)
    if isinstance(table, SparseContingency):
        return table.counts.astype(np.float64), a[table.rows], b[table.cols], a, b
    t = np.asarray(table)
    r, c = np.nonzero(t)
    return t[r, c].astype(np.float64), a[r], b[c], a, b


def _scores(x: ArrayLike, y: ArrayLike,
            table: ArrayLike | SparseContingency | None = None) -> tuple[float, float, float]:
    """(I(X;Y), H(X), H(Y)) in nats, from the labels or from their table."""
    if table is None:
        # integer labels of small ranges: no table leaves the kernel. Long labelings first try
        # the ranges of a sample, which saves a pass over the labels; the kernel declines
        # (None) if a label falls outside them, and the exact ranges are taken.
        for ranges in (_sampled_ranges, _direct_ranges):
            found = ranges(x, y)
            if found is not None:
                a0, b0, lox, loy, rx, ry = found
                res = _c.label_scores_offset(a0, b0, lox, loy, rx, ry, _args.threads(None))
                if res is not None:
                    return res
    nij, ai, bj, a, b = _sums(_table(x, y, None) if table is None else table)
    N = float(nij.sum())
    if N == 0:
        return 0.0, 0.0, 0.0
    # I = sum (n_ij/N) log(N n_ij / (a_i b_j)): every term from its own counts
    mi = float(np.sum(nij / N * (np.log(nij) + np.log(N) - np.log(ai) - np.log(bj))))
    hx = float(-np.sum((a[a > 0] / N) * np.log(a[a > 0] / N)))
    hy = float(-np.sum((b[b > 0] / N) * np.log(b[b > 0] / N)))
    return max(mi, 0.0), hx, hy


@_dk.interop_aware(("x", "y"))
def mutual_information_score(x: ArrayLike, y: ArrayLike, *, base: float | None = None) -> float:
    """Mutual information I(X;Y) of two labelings: that of their empirical joint distribution.

    I = sum_ij (n_ij / n) log(n n_ij / (a_i b_j)) over the nonzero cells of the
    contingency table n_ij, with row sums a_i and column sums b_j; every term
    is computed from its own counts, and the result is clamped at 0 against
    rounding. scikit-learn's ``mutual_info_score``. Empty labelings give 0.

    Parameters
    ----------
    {labels}
    {base}

    Returns
    -------
    float
        I(X;Y) >= 0.

    Raises
    ------
    ValueError
        {label_errors};
        a bad ``base``.
    TypeError
        Labels that cannot be sorted.

    {warns}

    See Also
    --------
    normalized_mutual_information_score, adjusted_mutual_information_score
    mutual_information : The same of a joint distribution (or table) given as an array.

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.mutual_information_score([0, 0, 1, 1], [0, 0, 1, 2], base=2):.12f}")
    1.000000000000
    """
    log_base = _args.log_base(base) if base is not None else 1.0
    x, y = _discrete(x, y, "mutual_information_score")
    mi, _, _ = _scores(x, y)
    return mi / log_base if base is not None else mi


def _mean(hx: float, hy: float, average: str) -> float:
    return {"arithmetic": (hx + hy) / 2, "geometric": (hx * hy) ** 0.5, "min": min(hx, hy),
            "max": max(hx, hy)}[average]


def _check_average(average: object) -> None:
    if not (isinstance(average, str) and average in ("arithmetic", "geometric", "min", "max")):
        raise ValueError(f"average must be arithmetic, geometric, min or max, got {average!r}")


@_dk.interop_aware(("x", "y"))
def normalized_mutual_information_score(x: ArrayLike, y: ArrayLike, *, average: Average = "arithmetic") -> float:
    """Normalized mutual information I(X;Y) / mean(H(X), H(Y)) of two labelings, in [0, 1].

    scikit-learn's ``normalized_mutual_info_score`` (``average`` is its
    ``average_method``), from the empirical distributions (see
    :func:`mutual_information_score`). 1.0 when both labelings are constant
    (or empty), 0.0 when only one is; never above 1 (rounding is clamped).
    Base-free.

    Parameters
    ----------
    {labels}
    {average}

    Returns
    -------
    float
        The score, in [0, 1].

    Raises
    ------
    ValueError
        {label_errors};
        a bad ``average``.
    TypeError
        Labels that cannot be sorted.

    {warns}

    See Also
    --------
    adjusted_mutual_information_score : Corrected for chance.
    normalized_mutual_information : The same of a joint distribution given as an array.

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.normalized_mutual_information_score([0, 0, 1, 1], [0, 0, 1, 2]):.6f}")
    0.800000
    >>> print(fastinfo.normalized_mutual_information_score([0, 0], [0, 1]))
    0.0
    """
    _check_average(average)
    x, y = _discrete(x, y, "normalized_mutual_information_score")
    mi, hx, hy = _scores(x, y)
    if hx == 0 and hy == 0:
        return 1.0
    den = _mean(hx, hy, average)
    return 0.0 if den == 0 else min(mi / den, 1.0)


def _marginal_sums(table: ArrayLike | SparseContingency) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if isinstance(table, SparseContingency):
        w = np.asarray(table.counts, dtype=np.float64)
        a = np.bincount(np.asarray(table.rows, dtype=np.int64), weights=w, minlength=table.shape[0])
        b = np.bincount(np.asarray(table.cols, dtype=np.int64), weights=w, minlength=table.shape[1])
        if w.size and not (np.all(w >= 0) and np.all(w == np.round(w))):
            raise ValueError("the contingency table must hold non-negative integer counts")
        return a, b  # type: ignore[return-value]  # (bincount with weights: float64; NumPy's stub says intp)
    t: NDArray[Any] = np.asarray(table)
    if t.ndim != 2:
        raise ValueError(f"the contingency table must be 2-D, got shape {t.shape}")
    if t.dtype.kind not in "iub":
        if t.dtype.kind != "f":
            raise TypeError(f"the contingency table must hold counts, got dtype {t.dtype}")
        if not (np.all(np.isfinite(t)) and np.all(t == np.round(t))):
            raise ValueError("the contingency table must hold non-negative integer counts")
    if t.size and t.min() < 0:
        r, c = np.unravel_index(int(np.argmin(t)), t.shape)
        raise ValueError(f"the contingency table has a negative count ({t[r, c]!r} at row {r}, column {c})")
    return t.sum(1, dtype=np.float64), t.sum(0, dtype=np.float64)


def _is_matching(table: ArrayLike | SparseContingency) -> bool:
    """One nonzero count in every row and every column: the labelings match up to renaming."""
    if isinstance(table, SparseContingency):
        return (len(table.counts) == table.shape[0] == table.shape[1]
                and np.unique(table.rows).size == np.unique(table.cols).size == table.shape[0])
    nz = np.asarray(table) != 0
    return nz.shape[0] == nz.shape[1] and bool(np.all(nz.sum(0) == 1)) and bool(np.all(nz.sum(1) == 1))


@_dk.interop_aware(("table",))
def expected_mutual_information(table: ArrayLike | SparseContingency, *, n_threads: int | None = None) -> float:
    """Expected mutual information E[I] of two labelings with the margins of ``table``, by chance.

    The mean of I(X;Y) over all pairs of labelings with the row sums a_i and
    column sums b_j of ``table`` (the permutation model):
    E[I] = sum_ij sum_nij (nij / N) log(N nij / (a_i b_j)) P(nij | a_i, b_j, N)
    with P hypergeometric (Vinh, Epps and Bailey, JMLR 11 (2010) 2837, eq.
    24a); scikit-learn's ``expected_mutual_information``. Computed over the
    distinct (row sum, column sum) pairs, each pmf walked from its mode by
    term ratios and cut where the tail cannot change the 17th digit. Empty
    rows and columns are ignored; a table with one nonempty row or column
    (a constant labeling) gives 0.

    Parameters
    ----------
    table : array_like or SparseContingency
        A 2-D contingency table of non-negative integer counts (integer, bool
        or integer-valued float dtype), or a :class:`SparseContingency`.
    n_threads : int, optional
        OpenMP threads over the rows of the (row sum, column sum) grid;
        ``None`` uses what OpenMP allows at call time. The result is bitwise
        the same for every thread count.

    Returns
    -------
    float
        E[I] >= 0, in nats.

    Raises
    ------
    ValueError
        A table that is not 2-D, or holds negative, non-integer or non-finite
        counts; a bad ``n_threads``.
    TypeError
        A table whose dtype is not numeric; a non-integer ``n_threads``.

    See Also
    --------
    adjusted_mutual_information_score : The score this expectation corrects.
    contingency_table

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.expected_mutual_information([[2, 0, 0], [0, 1, 1]]):.6f}")
    0.462098
    """
    nt = _args.threads(n_threads)
    a, b = _marginal_sums(table)
    a, b = a[a > 0], b[b > 0]
    N = float(a.sum())
    if a.size <= 1 or b.size <= 1:
        return 0.0              # a constant labeling: every permutation gives I = 0
    ua, ca = np.unique(a, return_counts=True)
    ub, cb = np.unique(b, return_counts=True)
    return max(float(_c.expected_mutual_info(ua, ca.astype(np.float64), ub, cb.astype(np.float64), N, nt)), 0.0)


@_dk.interop_aware(("x", "y"))
def adjusted_mutual_information_score(x: ArrayLike, y: ArrayLike, *, average: Average = "arithmetic",
                                      n_threads: int | None = None) -> float:
    """Mutual information adjusted for chance: (I - E[I]) / (mean(H(X), H(Y)) - E[I]).

    scikit-learn's ``adjusted_mutual_info_score`` (``average`` is its
    ``average_method``): 1.0 when both labelings are constant (or empty) or identical
    up to renaming, 0.0 when exactly one is constant, about 0 for independent
    labelings, negative when they agree less than chance. E[I] is
    ``expected_mutual_information`` of their contingency table (compiled, parallel
    over ``n_threads``).

    Where the formula is 0/0 up to rounding: labelings that match up to renaming
    give 1.0 (also when every label is distinct, where I = E[I] = H); I equal to
    E[I] within rounding (e.g. one labeling with all labels distinct, which any
    permutation leaves at the same I) gives 0.0 -- scikit-learn returns whatever
    its rounding gives there (0.0, 0.5, 0.67, ...). Otherwise (I - E[I]) / d with d
    kept at least one epsilon away from 0, as scikit-learn does.

    Parameters
    ----------
    {labels}
    {average}
    n_threads : int, optional
        OpenMP threads for E[I]; ``None`` uses what OpenMP allows at call
        time. The result is bitwise the same for every thread count.

    Returns
    -------
    float
        The score: at most 1, about 0 at chance level.

    Raises
    ------
    ValueError
        {label_errors};
        a bad ``average`` or ``n_threads``.
    TypeError
        Labels that cannot be sorted; a non-integer ``n_threads``.

    {warns}

    See Also
    --------
    expected_mutual_information : E[I].
    normalized_mutual_information_score : Without the correction for chance.

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.adjusted_mutual_information_score([0, 0, 1, 1], [0, 0, 1, 2]):.6f}")
    0.571429
    >>> print(fastinfo.adjusted_mutual_information_score([0, 0, 1, 1], ["b", "b", "a", "a"]))
    1.0
    """
    _check_average(average)
    x, y = _discrete(x, y, "adjusted_mutual_information_score")
    table = _table(x, y, None)
    nx, ny = table.shape
    if (nx == ny == 1) or (nx == ny == 0):
        return 1.0
    if nx == 1 or ny == 1:
        return 0.0
    if _is_matching(table):
        return 1.0              # identical up to renaming (I = E[I] = H when every label is distinct)
    mi, hx, hy = _scores(None, None, table)  # type: ignore[arg-type]  # (x, y unused with a table)
    emi = expected_mutual_information(table, n_threads=n_threads)
    mean = _mean(hx, hy, average)
    if abs(mi - emi) <= 64 * np.finfo(np.float64).eps * max(mi, emi, mean):
        return 0.0              # I equals its expectation (e.g. one labeling all distinct): chance level
    den = mean - emi
    eps = np.finfo(np.float64).eps
    den = min(den, -eps) if den < 0 else max(den, eps)
    return float((mi - emi) / den)


# The text the functions above share: "{name}" in their docstrings stands for the entry
# (written out by _args.fill_doc; "{base}" and "{average}" are _args.PARAM_DOC's).
_PARAM_DOC = {
    "labels": """x, y : array_like
        1-D arrays of n labels each (see :func:`contingency_table`).""",
    "label_errors": "``x`` or ``y`` not 1-D, of different lengths, or holding a missing\n"
                    "        label (NaN, None, pd.NA), named with its row",
    "warns": """Warns
    -----
    UserWarning
        ``x`` or ``y`` holds floats that are not integers (continuous values,
        where scikit-learn's ``check_clusterings`` warns): every distinct
        value counts as its own label. Bin them first (``np.digitize``,
        ``pandas.cut``). Integer-valued floats do not warn.""",
}
_args.fill_doc(_PARAM_DOC, [contingency_table, mutual_information_score, normalized_mutual_information_score,
                            adjusted_mutual_information_score])
