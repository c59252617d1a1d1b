"""Contingency tables and information scores of paired label samples (issue 5, part).

``contingency_table(x, y)`` counts label pairs: labels are mapped to codes
(integers in a small range by an offset, anything else through ``np.unique``),
and the counts are taken in one compiled pass into a dense table -- or, when
the dense table would be large (more cells than ``max(10**7, 16 * n)``), as
sparse coordinates (rows, cols, counts) from the sorted pair keys, never
allocating the rows x cols table (100 000 x 100 000 labels stay O(n)).
The scores use scikit-learn's definitions (natural log unless ``base``).
"""

from collections import namedtuple

import numpy as np

from ._dispatch import kernels as _k
from ._measures import _log_base

__all__ = ["contingency_table", "mutual_information_score", "normalized_mutual_information_score",
           "SparseContingency"]

SparseContingency = namedtuple("SparseContingency", "rows cols counts shape")
SparseContingency.__doc__ = ("Sparse contingency table: counts[k] pairs with x code rows[k] and y code "
                             "cols[k]; shape = (number of x labels, number of y labels).")
_DENSE_LIMIT = 10 ** 7


def _codes(labels, name):
    a = np.asarray(labels)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {a.shape}")
    if a.dtype.kind in "iub" and a.size:
        lo, hi = int(a.min()), int(a.max())
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


def contingency_table(x, y, *, sparse=None):
    """Counts of each (x label, y label) pair: dense int64 array (rows: x labels in sorted
    order, columns: y labels), or a SparseContingency when ``sparse=True`` or, by default,
    when the dense table would exceed max(10**7, 16 n) cells."""
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


def _sums(table):
    """(n_ij nonzero counts, their row sums a_i, column sums b_j, per cell; N)."""
    if isinstance(table, SparseContingency):
        nij = table.counts.astype(np.float64)
        a = np.bincount(table.rows, weights=nij, minlength=table.shape[0])
        b = np.bincount(table.cols, weights=nij, minlength=table.shape[1])
        return nij, a[table.rows], b[table.cols], a, b
    t = np.asarray(table, dtype=np.float64)
    r, c = np.nonzero(t)
    a, b = t.sum(1), t.sum(0)
    return t[r, c], a[r], b[c], a, b


def _scores(x, y):
    nij, ai, bj, a, b = _sums(contingency_table(x, y))
    N = float(nij.sum())
    if N == 0:
        return 0.0, 0.0, 0.0
    # I = sum (n_ij/N) log(N n_ij / (a_i b_j)): every term from its own counts
    mi = float(np.sum(nij / N * (np.log(nij) + np.log(N) - np.log(ai) - np.log(bj))))
    hx = float(-np.sum((a[a > 0] / N) * np.log(a[a > 0] / N)))
    hy = float(-np.sum((b[b > 0] / N) * np.log(b[b > 0] / N)))
    return max(mi, 0.0), hx, hy


def mutual_information_score(x, y, *, base=None):
    """I(X;Y) of the empirical joint distribution of two labelings (scikit-learn's
    ``mutual_info_score``, in nats unless ``base``)."""
    mi, _, _ = _scores(x, y)
    return mi / _log_base(base) if base is not None else mi


def normalized_mutual_information_score(x, y, *, average="arithmetic"):
    """I(X;Y) / mean(H(X), H(Y)) of two labelings (scikit-learn's
    ``normalized_mutual_info_score`` with ``average_method``): 1.0 when both
    labelings are constant (or empty), 0.0 when only one is."""
    if average not in ("arithmetic", "geometric", "min", "max"):
        raise ValueError(f"average must be arithmetic, geometric, min or max, got {average!r}")
    mi, hx, hy = _scores(x, y)
    if hx == 0 and hy == 0:
        return 1.0
    den = {"arithmetic": (hx + hy) / 2, "geometric": (hx * hy) ** 0.5, "min": min(hx, hy),
           "max": max(hx, hy)}[average]
    return 0.0 if den == 0 else min(mi / den, 1.0)
