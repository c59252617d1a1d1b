"""Pairwise matrices of divergences between two sets of distributions (issue 5).

``pairwise_cross_entropy(P, Q)`` and ``pairwise_kl_divergence(P, Q)`` for P (N, K)
and Q (M, K) go through a matrix product, -P log(Q)^T, computed block by block
with NumPy's BLAS, with the zero conventions made exact (0 log 0 = 0 is a zero
in log Q where q = 0; +inf exactly where some p > 0 meets q = 0, found by a
second product of the masks -- BLAS alone gives NaN or -inf there).
``pairwise_js_divergence`` takes the row entropies once and one log per element
of each pair (the exact kernel where that would cancel). ``method="exact"``
computes every pair with the row kernels instead: the same conventions and accuracy as the
one-pair functions (KL directly as sum p log(p/q), not CE - H), O(N M K) logs.
Memory: the output plus O(block) (blocks of ~8 MB of rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

from ._dispatch import kernels as _k
from . import _dask as _dk
from ._measures import (_F32, _F64, _as_array, _check_out, _log_base, _nan_mode, _threads, entropy)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatArray, Invalid

__all__ = ["pairwise_cross_entropy", "pairwise_kl_divergence", "pairwise_js_divergence"]

_ROWS: dict[np.dtype[Any], Callable[..., int]] = {_F64: _k.pairwise_rows["double"],
                                                  _F32: _k.pairwise_rows["float"]}
_CODES: dict[str, int] = _k.MEASURES
_BLOCK_BYTES = 8 << 20


def _operands(P: ArrayLike, Q: ArrayLike) -> tuple[FloatArray, FloatArray]:
    A = _as_array(P, "P")
    B = _as_array(Q, "Q")
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"P and Q must be 2-D (rows x distribution), got shapes {A.shape} and {B.shape}")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"P and Q must have the same number of columns, got {A.shape[1]} and {B.shape[1]}")
    if A.dtype != B.dtype:
        A, B = A.astype(_F64, copy=False), B.astype(_F64, copy=False)
    return A, B


def _bad_rows(A: FloatArray) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return ~np.all(np.isfinite(A) & (A >= 0), axis=1)


def _check(fname: str, A: FloatArray, B: FloatArray, normalize: bool,
           nan_mode: bool) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Rows of P and of Q that are invalid (raise, or return the masks for NaN)."""
    masks = []
    for X, name in ((A, "P"), (B, "Q")):
        bad = _bad_rows(X)
        zero = ~np.any(X > 0, axis=1) & ~bad if normalize else np.zeros_like(bad)
        if not nan_mode and (bad.any() or zero.any()):
            i = int(np.argmax(bad | zero))
            why = "has a negative, NaN or infinite value" if bad[i] else "sums to zero"
            raise ValueError(f"{fname}: row {i} of {name} {why}")
        masks.append(bad | zero)
    return masks[0], masks[1]


def _out(out: NDArray[np.float64] | None, N: int, M: int) -> NDArray[np.float64]:
    if out is None:
        return np.empty((N, M), dtype=np.float64)
    _check_out(out, (N, M), np.dtype(np.float64))
    return out


def _exact(fname: str, code: int, P: ArrayLike, Q: ArrayLike, base: float | None, normalize: bool, invalid: str,
           out: NDArray[np.float64] | None, n_threads: int | None, distance: bool = False,
           fast_js: bool = False) -> NDArray[np.float64]:
    nan_mode = _nan_mode(invalid)
    lb = _log_base(base)
    nt = _threads(n_threads)
    A, B = _operands(P, Q)
    bp, bq = _check(fname, A, B, normalize, nan_mode)
    res = _out(out, A.shape[0], B.shape[0])
    _ROWS[A.dtype](code, A, B, res, bool(normalize), bool(distance), lb, nt, bool(fast_js))
    return res


def _blas(fname: str, P: ArrayLike, Q: ArrayLike, base: float | None, normalize: bool, invalid: str,
          out: NDArray[np.float64] | None, n_threads: int | None, kl: bool) -> NDArray[np.float64]:
    nan_mode = _nan_mode(invalid)
    lb = _log_base(base)
    A, B = _operands(P, Q)
    bp, bq = _check(fname, A, B, normalize, nan_mode)
    N, M, K = A.shape[0], B.shape[0], A.shape[1]
    res = _out(out, N, M)
    if N == 0 or M == 0:
        return res
    if K == 0:
        res[...] = 0.0
        return res
    # row blocks: ~8 MB of input rows, and a product block of at most 1024 x 1024 (8 MB)
    rows = max(1, min(_BLOCK_BYTES // (8 * K), 1024))
    if kl:
        hp = np.asarray(entropy(np.where(bp[:, None], 0.0, A), normalize=normalize, invalid="nan",
                                n_threads=n_threads), dtype=np.float64).reshape(N)
    def block(X: FloatArray, bad: NDArray[np.bool_], lo: int, hi: int) -> FloatArray:
        """Rows lo:hi as float64, invalid rows zeroed, normalized if asked (copies only then)."""
        Xb = X[lo:hi]
        if bad[lo:hi].any():
            Xb = np.where(bad[lo:hi, None], 0.0, Xb)
        Xb = Xb.astype(np.float64, copy=False)
        if normalize:
            s = Xb.sum(axis=1, keepdims=True)
            Xb = Xb / np.where(s > 0, s, 1.0)
        return Xb

    for jb in range(0, M, rows):
        Qb = block(B, bq, jb, jb + rows)
        zq = Qb == 0
        anyz = bool(zq.any())
        with np.errstate(divide="ignore"):
            lq = np.log(np.where(zq, 1.0, Qb) if anyz else Qb)   # log q; 0 where q = 0 (masked below)
        zqf = zq.astype(np.float64) if anyz else None
        for ib in range(0, N, rows):
            Pb = block(A, bp, ib, ib + rows)
            blk = Pb @ lq.T
            np.negative(blk, out=blk)
            if anyz:             # the mask product only where Q has zeros
                hit = ((Pb > 0).astype(np.float64) @ zqf.T) > 0   # type: ignore[union-attr]  # anyz: zqf given
                blk[hit] = np.inf
            if kl:
                blk -= hp[ib:ib + rows, None]
            if normalize:
                np.maximum(blk, 0.0, out=blk)
            res[ib:ib + rows, jb:jb + rows] = blk
    if lb != 1.0:
        res /= lb
    if bp.any() or bq.any():
        res[bp, :] = np.nan
        res[:, bq] = np.nan
    return res


_DOC = """
    P : array_like, shape (N, K);  Q : array_like, shape (M, K)
        Rows are distributions (float32/float64; other real dtypes as float64).
    base : float, optional
        Logarithm base (None: nats).
    normalize : bool, default False
        Divide every row by its sum first (an all-zero row is then invalid).
    invalid : {'raise', 'nan'}
        An invalid row raises ValueError naming it ("row i of P"), or makes its
        row (P) or column (Q) of the result NaN.
    out : ndarray (N, M) float64, optional
    n_threads : int, optional
    Returns the (N, M) float64 matrix.
"""


def _by_method(fname: str, measure: str, P: ArrayLike, Q: ArrayLike, base: float | None, normalize: bool,
               invalid: str, out: NDArray[np.float64] | None, n_threads: int | None,
               method: str) -> NDArray[np.float64]:
    if method == "exact":
        return _exact(fname, _CODES[measure], P, Q, base, normalize, invalid, out, n_threads)
    if method != "blas":
        raise ValueError(f"method must be 'blas' or 'exact', got {method!r}")
    return _blas(fname, P, Q, base, normalize, invalid, out, n_threads, kl=measure == "kl_divergence")


@_dk.pairwise_aware
def pairwise_cross_entropy(P: ArrayLike, Q: ArrayLike, *, base: float | None = None, normalize: bool = False,
                           invalid: Invalid = "raise", out: NDArray[np.float64] | None = None,
                           n_threads: int | None = None,
                           method: Literal["blas", "exact"] = "blas") -> NDArray[np.float64]:
    """out[i, j] = H(P[i], Q[j]) = -sum_k P[i,k] log Q[j,k].

    ``method="blas"`` (default): -P log(Q)^T by blocks of BLAS matrix products,
    exact zero conventions (0 where p = 0, +inf where p > 0 = q).
    ``method="exact"``: every pair through the row kernels.
    """
    return _by_method("pairwise_cross_entropy", "cross_entropy", P, Q, base, normalize, invalid, out,
                      n_threads, method)


@_dk.pairwise_aware
def pairwise_kl_divergence(P: ArrayLike, Q: ArrayLike, *, base: float | None = None, normalize: bool = False,
                           invalid: Invalid = "raise", out: NDArray[np.float64] | None = None,
                           n_threads: int | None = None,
                           method: Literal["blas", "exact"] = "blas") -> NDArray[np.float64]:
    """out[i, j] = KL(P[i] || Q[j]) = sum_k P[i,k] log(P[i,k] / Q[j,k]).

    ``method="blas"`` (default): the cross-entropy matrix minus H(P[i]) (fast;
    for nearly equal rows its absolute error is ~1e-16 times H, as CE - H
    cancels). ``method="exact"``: every pair directly as sum p log(p/q).
    """
    return _by_method("pairwise_kl_divergence", "kl_divergence", P, Q, base, normalize, invalid, out,
                      n_threads, method)


@_dk.pairwise_aware
def pairwise_js_divergence(P: ArrayLike, Q: ArrayLike, *, distance: bool = False, base: float | None = None,
                           normalize: bool = False, invalid: Invalid = "raise",
                           out: NDArray[np.float64] | None = None, n_threads: int | None = None,
                           method: Literal["fast", "exact"] = "fast") -> NDArray[np.float64]:
    """out[i, j] = JS(P[i], Q[j]) (its square root with ``distance=True``, SciPy's
    ``cdist(P, Q, "jensenshannon")``): 0 <= JS <= log 2 for normalized rows, never NaN
    from rounding. Blocks of Q rows stay in cache while rows of P, split over threads,
    are scored against them.

    ``method="fast"`` (default): JS = (sum p log p + sum q log q) / 2 - sum m log m
    with the first two sums taken once per row, so a pair costs one log per element;
    where that difference would cancel (JS below 1/500 of the sums' magnitude: nearly
    equal rows), for rows with values above 1 (terms of both signs) and for invalid or
    extreme rows, the pair is computed by the exact kernel, so every entry keeps ~13 or more correct digits.
    ``method="exact"``: every pair by the exact row kernel (two logs per element, the
    accuracy of ``fastinfo.js_divergence``).
    """
    if distance and base is not None and _log_base(base) <= 0:
        raise ValueError("distance=True needs base > 1 (the square root of a negative divergence)")
    if method not in ("fast", "exact"):
        raise ValueError(f"method must be 'fast' or 'exact', got {method!r}")
    return _exact("pairwise_js_divergence", _CODES["js_divergence"], P, Q, base, normalize, invalid, out,
                  n_threads, distance=distance, fast_js=method == "fast")


for _f in (pairwise_cross_entropy, pairwise_kl_divergence, pairwise_js_divergence):
    _f.__doc__ += _DOC  # type: ignore[operator]  # (the functions above have docstrings)
