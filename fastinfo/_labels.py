"""Contingency tables and information scores of paired label samples (issue 5, part).

``contingency_table(x, y)`` counts label pairs: labels are mapped to codes
(integers in a small range by an offset, anything else through ``np.unique``),
and the counts are taken in one compiled pass into a dense table -- or, when
the dense table would be large (more cells than ``max(10**7, 16 * n)``), as
sparse coordinates (rows, cols, counts) from the sorted pair keys, never
allocating the rows x cols table (100 000 x 100 000 labels stay O(n)).
The scores use scikit-learn's definitions (natural log unless ``base``).

The adjusted mutual information needs the expected mutual information under
the permutation model (``expected_mutual_information``): a compiled,
parallel sum over the distinct row sums x distinct column sums whose
hypergeometric pmf is walked from its mode by term ratios (no lgamma) and cut
where the rest cannot change the 17th digit (``_emi.pxi``).
"""

from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np

from ._dispatch import kernels as _k
from ._measures import _log_base, _threads

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import Average

__all__ = ["contingency_table", "mutual_information_score", "normalized_mutual_information_score",
           "adjusted_mutual_information_score", "expected_mutual_information", "SparseContingency"]

SparseContingency = namedtuple("SparseContingency", "rows cols counts shape")
SparseContingency.__doc__ = ("Sparse contingency table: counts[k] pairs with x code rows[k] and y code "
                             "cols[k]; shape = (number of x labels, number of y labels).")
_DENSE_LIMIT = 10 ** 7


_RANGE_CHUNK = 1 << 24


def _range(a: NDArray[Any]) -> tuple[int, int]:
    """(min, max) of a non-empty 1-D integer array, 2^24 labels at a time: the interpreter
    runs signal handlers between the chunks, so Ctrl-C is answered within one chunk
    (a single NumPy pass over 2^32 labels runs ~2 s). Exact: the same values as one pass."""
    if a.size <= _RANGE_CHUNK:
        return int(a.min()), int(a.max())
    lo, hi = int(a[0]), int(a[0])
    for s in range(0, a.size, _RANGE_CHUNK):
        c = a[s:s + _RANGE_CHUNK]
        lo, hi = min(lo, int(c.min())), max(hi, int(c.max()))
    return lo, hi


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
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise ValueError(f"{name} holds NaN labels")
    try:
        uniq, inv = np.unique(a, return_inverse=True)
    except TypeError as e:
        raise TypeError(f"{name}: labels must be sortable ({e})") from None
    return inv.reshape(-1).astype(np.int64), int(uniq.size)


def _direct_table(x: ArrayLike, y: ArrayLike, sparse: bool | None) -> NDArray[np.int64] | None:
    """Integer labels whose value ranges span a small table: counted straight from the labels
    into the ranges' table, empty rows/columns dropped afterwards (no n-sized temporaries).
    None when this does not apply."""
    a, b = np.asarray(x), np.asarray(y)
    if sparse or a.ndim != 1 or b.ndim != 1 or a.size != b.size or a.size == 0:
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
    if rx >= max(1024, 4 * a.size) or ry >= max(1024, 4 * a.size) or rx * ry > max(_DENSE_LIMIT, 16 * a.size):
        return None
    t = np.zeros((rx, ry), dtype=np.int64)
    _k.count_pairs_offset(a, b, lox, loy, t)
    rows, cols = t.any(axis=1), t.any(axis=0)
    if not rows.all():
        t = t[rows]
    if not cols.all():
        t = t[:, cols]
    return np.ascontiguousarray(t)


def contingency_table(x: ArrayLike, y: ArrayLike, *,
                      sparse: bool | None = None) -> NDArray[np.int64] | SparseContingency:
    """Counts of each (x label, y label) pair: dense int64 array (rows: x labels in sorted
    order, columns: y labels), or a SparseContingency when ``sparse=True`` or, by default,
    when the dense table would exceed max(10**7, 16 n) cells.

    Integer labels whose value ranges span at most that many cells are counted straight
    from the labels in one compiled pass (no code arrays); other labels are mapped to codes
    first (small-range offsets, else ``np.unique``)."""
    t = _direct_table(x, y, sparse)
    if t is not None:
        return t
    cx, nx = _codes(x, "x")
    cy, ny = _codes(y, "y")
    if cx.size != cy.size:
        raise ValueError(f"x and y must have the same length, got {cx.size} and {cy.size}")
    if sparse is None:
        sparse = nx * ny > max(_DENSE_LIMIT, 16 * cx.size)
    if not sparse:
        out = np.zeros((nx, ny), dtype=np.int64)
        if cx.size:
            _k.count_pairs(cx, cy, out)
        return out
    keys = cx * ny + cy
    uk, counts = np.unique(keys, return_counts=True)
    return SparseContingency(uk // ny if ny else uk, uk % ny if ny else uk, counts.astype(np.int64), (nx, ny))


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
    nij, ai, bj, a, b = _sums(contingency_table(x, y) if table is None else table)
    N = float(nij.sum())
    if N == 0:
        return 0.0, 0.0, 0.0
    # I = sum (n_ij/N) log(N n_ij / (a_i b_j)): every term from its own counts
    mi = float(np.sum(nij / N * (np.log(nij) + np.log(N) - np.log(ai) - np.log(bj))))
    hx = float(-np.sum((a[a > 0] / N) * np.log(a[a > 0] / N)))
    hy = float(-np.sum((b[b > 0] / N) * np.log(b[b > 0] / N)))
    return max(mi, 0.0), hx, hy


def mutual_information_score(x: ArrayLike, y: ArrayLike, *, base: float | None = None) -> float:
    """I(X;Y) of the empirical joint distribution of two labelings (scikit-learn's
    ``mutual_info_score``, in nats unless ``base``)."""
    mi, _, _ = _scores(x, y)
    return mi / _log_base(base) if base is not None else mi


def _mean(hx: float, hy: float, average: str) -> float:
    return {"arithmetic": (hx + hy) / 2, "geometric": (hx * hy) ** 0.5, "min": min(hx, hy),
            "max": max(hx, hy)}[average]


def _check_average(average: object) -> None:
    if not (isinstance(average, str) and average in ("arithmetic", "geometric", "min", "max")):
        raise ValueError(f"average must be arithmetic, geometric, min or max, got {average!r}")


def normalized_mutual_information_score(x: ArrayLike, y: ArrayLike, *, average: Average = "arithmetic") -> float:
    """I(X;Y) / mean(H(X), H(Y)) of two labelings (scikit-learn's
    ``normalized_mutual_info_score`` with ``average_method``): 1.0 when both
    labelings are constant (or empty), 0.0 when only one is."""
    _check_average(average)
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


def expected_mutual_information(table: ArrayLike | SparseContingency, *, n_threads: int | None = None) -> float:
    """Expected mutual information (nats) of two labelings with the row and column sums of
    ``table`` under the permutation model (the hypergeometric model of Vinh, Epps and
    Bailey, JMLR 11 (2010) 2837, eq. 24a) -- scikit-learn's ``expected_mutual_information``.

    ``table``: a dense contingency table of counts or a ``SparseContingency``. Empty rows and
    columns are ignored. Computed over the distinct (row sum, column sum) pairs, each from
    its hypergeometric pmf walked from the mode by term ratios and cut where the tail cannot
    change the 17th digit; rows of the grid are split over ``n_threads`` (bitwise the same
    result for every thread count).
    """
    nt = _threads(n_threads)
    a, b = _marginal_sums(table)
    a, b = a[a > 0], b[b > 0]
    N = float(a.sum())
    if a.size <= 1 or b.size <= 1:
        return 0.0              # a constant labeling: every permutation gives I = 0
    ua, ca = np.unique(a, return_counts=True)
    ub, cb = np.unique(b, return_counts=True)
    return max(float(_k.expected_mutual_info(ua, ca.astype(np.float64), ub, cb.astype(np.float64), N, nt)), 0.0)


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
    """
    _check_average(average)
    table = contingency_table(x, y)
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
