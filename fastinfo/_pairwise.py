"""Pairwise matrices of divergences between two sets of distributions.

``pairwise_cross_entropy(P, Q)`` and ``pairwise_kl_divergence(P, Q)`` for P (N, K)
and Q (M, K) go through a matrix product, -P log(Q)^T, computed block by block
with NumPy's BLAS, with the zero conventions made exact (0 log 0 = 0 is a zero
in log Q where q = 0; +inf exactly where some p > 0 meets q = 0, found by a
second product of the masks -- BLAS alone gives NaN or -inf there).
``pairwise_js_divergence`` takes the row entropies once and one log per element
of each pair (the exact kernel where that would cancel). ``method="exact"``
computes every pair with the row kernels instead: the same conventions and accuracy as the
one-pair functions (KL directly as sum p log(p/q), not CE - H), O(N M K) logs.
Pairs whose BLAS value is not finite (values so large that a product or an entropy
overflows) are recomputed by the row kernels, so both methods agree there too.
Memory: the output plus O(block) (blocks of ~8 MB of rows); ``out`` that shares memory
with P or Q is filled through a temporary (the whole output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal, NoReturn

import numpy as np

from . import _args
from ._dispatch import kernels as _k
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatArray, Invalid

__all__ = ["pairwise_cross_entropy", "pairwise_kl_divergence", "pairwise_js_divergence"]

_ROWS: Callable[..., int] = _k.pairwise_rows
_CODES: dict[str, int] = _k.MEASURES
_SHANNON_ROWS: Callable[..., int] = _k.shannon_rows
_BLOCK_BYTES = 8 << 20
_TINY = np.finfo(np.float64).tiny


def _operands(P: ArrayLike, Q: ArrayLike) -> tuple[FloatArray, FloatArray]:
    A = _args.as_array(P, "P", two_byte=True)      # float16 and bfloat16 are read as stored
    B = _args.as_array(Q, "Q", two_byte=True)
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"P and Q must be 2-D (rows x distribution), got shapes {A.shape} and {B.shape}")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"P and Q must have the same number of columns, got {A.shape[1]} and {B.shape[1]}")
    if A.dtype != B.dtype:
        A, B = A.astype(_args.F64, copy=False), B.astype(_args.F64, copy=False)
    return A, B


def _bad_rows(A: FloatArray) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.asarray(~np.all(np.isfinite(A) & (A >= 0), axis=1), dtype=np.bool_)


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


def _out(out: NDArray[np.float64] | None, N: int, M: int, A: FloatArray, B: FloatArray) -> NDArray[np.float64]:
    """The array the kernels fill: ``out`` itself, or a temporary when ``out`` may share memory
    with P or Q (the rows are read block after block while the result is written, so writing
    into an input would change rows not yet read); :func:`_deliver` copies it into ``out``."""
    if out is None:
        return np.empty((N, M), dtype=np.float64)
    _args.check_out(out, (N, M), np.dtype(np.float64))
    if np.may_share_memory(out, A) or np.may_share_memory(out, B):
        return np.empty((N, M), dtype=np.float64)
    return out


def _deliver(res: NDArray[np.float64], out: NDArray[np.float64] | None) -> NDArray[np.float64]:
    if out is None or res is out:
        return res
    np.copyto(out, res)
    return out


def _raise_undefined(fname: str, res: NDArray[np.float64]) -> NoReturn:
    i, j = (int(v) for v in np.unravel_index(int(np.argmax(np.isnan(res))), res.shape))
    raise ValueError(f"{fname}: the result is undefined (NaN) for row {i} of P and row {j} of Q: "
                     f"infinite terms of opposite sign (e.g. huge p with q > 1 beside p > 0 with q = 0) "
                     f"or sums beyond the float range; invalid='nan' gives NaN for such pairs")


def _exact(fname: str, code: int, P: ArrayLike, Q: ArrayLike, base: float | None, normalize: bool, invalid: str,
           out: NDArray[np.float64] | None, n_threads: int | None, distance: bool = False,
           fast_js: bool = False) -> NDArray[np.float64]:
    nan_mode = _args.nan_mode(invalid)
    lb = _args.log_base(base)
    nt = _args.threads(n_threads)
    A, B = _operands(P, Q)
    _check(fname, A, B, normalize, nan_mode)
    res = _out(out, A.shape[0], B.shape[0], A, B)
    nbad = _ROWS(code, A, B, res, bool(normalize), bool(distance), lb, nt, bool(fast_js))
    if nbad and not nan_mode:
        _raise_undefined(fname, res)
    return _deliver(res, out)


def _blas(fname: str, P: ArrayLike, Q: ArrayLike, base: float | None, normalize: bool, invalid: str,
          out: NDArray[np.float64] | None, n_threads: int | None, kl: bool) -> NDArray[np.float64]:
    nan_mode = _args.nan_mode(invalid)
    lb = _args.log_base(base)
    nt = _args.threads(n_threads)
    A, B = _operands(P, Q)
    bp, bq = _check(fname, A, B, normalize, nan_mode)
    N, M, K = A.shape[0], B.shape[0], A.shape[1]
    res = _out(out, N, M, A, B)
    if N == 0 or M == 0:
        return _deliver(res, out)
    if K == 0:
        res[...] = 0.0
        return _deliver(res, out)
    # row blocks: ~8 MB of input rows, and a product block of at most 1024 x 1024 (8 MB)
    rows = max(1, min(_BLOCK_BYTES // (8 * K), 1024))
    code = _CODES["kl_divergence" if kl else "cross_entropy"]
    hp = np.zeros(N)           # H(P[i]) of the float64 rows (KL), taken with the first block of Q

    def block(X: FloatArray, bad: NDArray[np.bool_], lo: int, hi: int) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Rows lo:hi as float64, invalid rows zeroed, normalized if asked (copies only then);
        and which rows lost a positive value to underflow in the division by their sum."""
        Xb = X[lo:hi]
        if bad[lo:hi].any():
            Xb = np.where(bad[lo:hi, None], 0.0, Xb)
        Xb = Xb.astype(np.float64, copy=False)
        if not normalize:
            return Xb, np.zeros(Xb.shape[0], dtype=bool)
        with np.errstate(over="ignore"):
            s = Xb.sum(axis=1, keepdims=True)
        big = ~np.isfinite(s)
        if big.any():         # a sum beyond the float range: those rows scaled by 2^-64 first (exact)
            Xb = np.where(big, Xb * 2.0 ** -64, Xb)
            s = Xb.sum(axis=1, keepdims=True)
        Xn = Xb / np.where(s > 0, s, 1.0)
        # a value below ~1e-308 of its row's sum becomes subnormal or 0 here (digits lost, or
        # p > 0 against q = 0 read as +inf), where the row kernels keep it: such rows are redone
        lost = np.any((Xn < _TINY) & (Xb > 0), axis=1)
        return Xn, lost

    undefined = False
    for jb in range(0, M, rows):
        Qb, lost_q = block(B, bq, jb, jb + rows)
        zq = Qb == 0
        anyz = bool(zq.any())
        with np.errstate(divide="ignore"):
            lq = np.log(np.where(zq, 1.0, Qb) if anyz else Qb)   # log q; 0 where q = 0 (masked below)
        zqf = zq.astype(np.float64) if anyz else None
        for ib in range(0, N, rows):
            Pb, lost_p = block(A, bp, ib, ib + rows)
            if kl and jb == 0:
                # the rows as they enter the product
                _SHANNON_ROWS(_CODES["entropy"], Pb, Pb, hp[ib:ib + rows], False, False, 1.0, nt)
            with np.errstate(over="ignore", invalid="ignore"):
                blk = Pb @ lq.T
                # Values beyond the float range's reach (huge p, or an entropy that overflows)
                # make the product or CE - H inf or NaN where the measure may be finite (or
                # undefined), as do normalized values lost to underflow: those pairs are
                # recomputed by the row kernels below.
                redo = ~np.isfinite(blk)
                if lost_p.any() or lost_q.any():
                    redo |= lost_p[:, None] | lost_q[None, :]
                if kl:
                    redo |= ~np.isfinite(hp[ib:ib + rows, None])
                np.negative(blk, out=blk)
                if anyz:             # the mask product only where Q has zeros
                    hit = ((Pb > 0).astype(np.float64) @ zqf.T) > 0   # type: ignore[union-attr]  # anyz: zqf given
                    blk[hit] = np.inf
                if kl:
                    blk -= hp[ib:ib + rows, None]
            if redo.any():
                undefined |= _redo(code, A, B, blk, redo, ib, jb, normalize, nt)
            if normalize:
                np.maximum(blk, 0.0, out=blk)
            res[ib:ib + rows, jb:jb + rows] = blk
    if lb != 1.0:
        res /= lb
    if bp.any() or bq.any():
        res[bp, :] = np.nan
        res[:, bq] = np.nan
    if undefined and not nan_mode:
        _raise_undefined(fname, res)
    return _deliver(res, out)


def _redo(code: int, A: FloatArray, B: FloatArray, blk: NDArray[np.floating[Any]], redo: NDArray[np.bool_],
          ib: int, jb: int, normalize: bool, nt: int) -> bool:
    """blk[redo] (pairs of rows ib + i of A and jb + j of B) by the row kernels, in nats; True
    if one of them is undefined (NaN)."""
    ri = np.flatnonzero(redo.any(axis=1))
    cj = np.flatnonzero(redo.any(axis=0))
    sub = np.empty((ri.size, cj.size))
    _ROWS(code, A[ib + ri], B[jb + cj], sub, bool(normalize), False, 1.0, nt, False)
    cells = np.ix_(ri, cj)
    pick = redo[cells]
    blk[cells] = np.where(pick, sub, blk[cells])
    return bool(np.isnan(sub[pick]).any())


# The text the three functions share: "{name}" in their docstrings stands for the entry
# (written out by _args.fill_doc; "{base}" is _args.PARAM_DOC's).
_PARAM_DOC = {
    "P_Q": """P : array_like, shape (N, K)
        Rows are distributions (nonnegative; float64, float32, and float16
        and bfloat16 read as stored; other real dtypes as float64).
    Q : array_like, shape (M, K)
        Rows are distributions, as ``P``.""",
    "normalize": """normalize : bool or None, default None
        ``True`` divides every row by its sum first (an all-zero row is then
        invalid); ``False`` applies the formula to the numbers as passed;
        ``None`` does too, and warns once per call when a row's sum is more
        than 1% from 1 (counts or logits passed by mistake).""",
    "invalid": """invalid : {'raise', 'nan'}, default 'raise'
        A row with a negative, NaN or infinite value raises ``ValueError``
        naming it ("row i of P"), or makes its row (P) or column (Q) of the
        result NaN (``'nan'``). So does a pair whose value is undefined
        (infinite terms of opposite sign, possible only for rows as passed
        with values far above 1): ``ValueError`` naming both rows, or NaN.""",
    "out": """out : ndarray, shape (N, M), float64, optional
        Preallocated result, filled and returned. It may share memory with
        ``P`` or ``Q`` (e.g. ``out=P`` for square P): the result is then
        computed into a temporary and copied in, the values those of a
        call without ``out``.""",
    "returns": """Returns
    -------
    ndarray, shape (N, M), float64
        ``out[i, j]`` for row i of ``P`` and row j of ``Q`` (float64 also for
        float32 input).""",
    "type_error": """TypeError
        Complex, object or string input; ``out`` that is not a float64
        ndarray; a non-integer ``n_threads`` (``True`` included, as NumPy
        refuses a bool ``axis``).""",
}


def _sums_checked(fname: str, P: ArrayLike, Q: ArrayLike, normalize: object) -> bool:
    """normalize as a bool; for None, one warning when a row of P (else of Q) is far from summing to 1."""
    if normalize is not None:
        return _args.normalize_flag(normalize)
    for A, name in ((P, "P"), (Q, "Q")):
        a = np.asarray(A)
        if a.ndim == 2 and (a.dtype.kind in "biuf" or a.dtype.name == "bfloat16") and a.size and \
                _args._any_far([a]):
            _args.warn_far_from_one(fname, [a], [name])
            break
    return False


def _by_method(fname: str, measure: str, P: ArrayLike, Q: ArrayLike, base: float | None, normalize: bool | None,
               invalid: str, out: NDArray[np.float64] | None, n_threads: int | None,
               method: str) -> NDArray[np.float64]:
    normalize = _sums_checked(fname, P, Q, normalize)
    if method == "exact":
        return _exact(fname, _CODES[measure], P, Q, base, normalize, invalid, out, n_threads)
    if method != "blas":
        raise ValueError(f"method must be 'blas' or 'exact', got {method!r}")
    return _blas(fname, P, Q, base, normalize, invalid, out, n_threads, kl=measure == "kl_divergence")


@_dk.pairwise_aware
def pairwise_cross_entropy(P: ArrayLike, Q: ArrayLike, *, base: float | None = None, normalize: bool | None = None,
                           invalid: Invalid = "raise", out: NDArray[np.float64] | None = None,
                           n_threads: int | None = None,
                           method: Literal["blas", "exact"] = "blas") -> NDArray[np.float64]:
    """Cross-entropy of every pair of rows: out[i, j] = H(P[i], Q[j]) = -sum_k P[i,k] log Q[j,k].

    ``method="blas"`` (default): -P log(Q)^T by blocks of BLAS matrix products,
    exact zero conventions (0 where p = 0, +inf where p > 0 = q).
    ``method="exact"``: every pair through the row kernels.

    Parameters
    ----------
    {P_Q}
    {base}
    {normalize}
    {invalid}
    {out}
    n_threads : int, optional
        OpenMP threads of the compiled kernels (every pair with
        ``method='exact'``; with ``'blas'``, only pairs recomputed because
        their product overflows); bitwise the same result for every thread
        count; ``None`` uses what OpenMP allows at call time. The BLAS
        products run on BLAS's threads.
    method : {'blas', 'exact'}, default 'blas'
        As above.

    {returns}

    Raises
    ------
    ValueError
        An invalid row or undefined pair with ``invalid='raise'``; ``P`` or
        ``Q`` not 2-D, or with different numbers of columns; a bad
        ``method``, ``base``, ``invalid`` or ``n_threads``; ``out`` of the
        wrong shape or read-only.
    {type_error}

    See Also
    --------
    cross_entropy : One value per pair of aligned rows.
    pairwise_kl_divergence, pairwise_js_divergence

    Examples
    --------
    >>> import fastinfo
    >>> P = [[0.5, 0.5], [1.0, 0.0]]
    >>> Q = [[0.5, 0.5], [0.0, 1.0], [0.25, 0.75]]
    >>> fastinfo.pairwise_cross_entropy(P, Q, base=2)
    array([[1.        ,        inf, 1.20751875],
           [1.        ,        inf, 2.        ]])
    """
    return _by_method("pairwise_cross_entropy", "cross_entropy", P, Q, base, normalize, invalid, out,
                      n_threads, method)


@_dk.pairwise_aware
def pairwise_kl_divergence(P: ArrayLike, Q: ArrayLike, *, base: float | None = None, normalize: bool | None = None,
                           invalid: Invalid = "raise", out: NDArray[np.float64] | None = None,
                           n_threads: int | None = None,
                           method: Literal["blas", "exact"] = "blas") -> NDArray[np.float64]:
    """Kullback-Leibler divergence of every pair of rows: out[i, j] = KL(P[i] || Q[j]).

    KL(p || q) = sum_k p_k log(p_k / q_k); a term with p_k = 0 is 0, p_k > 0
    with q_k = 0 gives +inf. ``method="blas"`` (default): the cross-entropy
    matrix minus H(P[i]) (fast; for nearly equal rows its absolute error is
    ~1e-16 times H, as CE - H cancels; clamped at 0 with ``normalize=True``).
    ``method="exact"``: every pair directly as sum p log(p/q).

    Parameters
    ----------
    {P_Q}
    {base}
    {normalize}
    {invalid}
    {out}
    n_threads : int, optional
        OpenMP threads of the compiled kernels (every pair with
        ``method='exact'``; with ``'blas'``, the row entropies H(P[i]) and
        pairs recomputed because their product overflows;
        bitwise the same result for every thread count); ``None`` uses what
        OpenMP allows at call time. The BLAS products run on BLAS's threads.
    method : {'blas', 'exact'}, default 'blas'
        As above.

    {returns}

    Raises
    ------
    ValueError
        An invalid row or undefined pair with ``invalid='raise'``; ``P`` or
        ``Q`` not 2-D, or with different numbers of columns; a bad
        ``method``, ``base``, ``invalid`` or ``n_threads``; ``out`` of the
        wrong shape or read-only.
    {type_error}

    See Also
    --------
    kl_divergence : One value per pair of aligned rows.
    pairwise_cross_entropy, pairwise_js_divergence

    Examples
    --------
    >>> import fastinfo
    >>> P = [[0.5, 0.5], [1.0, 0.0]]
    >>> Q = [[0.5, 0.5], [0.0, 1.0], [0.25, 0.75]]
    >>> fastinfo.pairwise_kl_divergence(P, Q, base=2, method="exact")
    array([[0.        ,        inf, 0.20751875],
           [1.        ,        inf, 2.        ]])
    """
    return _by_method("pairwise_kl_divergence", "kl_divergence", P, Q, base, normalize, invalid, out,
                      n_threads, method)


@_dk.pairwise_aware
def pairwise_js_divergence(P: ArrayLike, Q: ArrayLike, *, distance: bool = False, base: float | None = None,
                           normalize: bool | None = None, invalid: Invalid = "raise",
                           out: NDArray[np.float64] | None = None, n_threads: int | None = None,
                           method: Literal["fast", "exact"] = "fast") -> NDArray[np.float64]:
    """Jensen-Shannon divergence of every pair of rows: out[i, j] = JS(P[i], Q[j]).

    JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2; its square
    root with ``distance=True`` (SciPy's ``cdist(P, Q, "jensenshannon")``):
    0 <= JS <= log 2 for normalized rows, never NaN from rounding. Blocks of Q
    rows stay in cache while rows of P, split over threads, are scored against
    them.

    ``method="fast"`` (default): JS = (sum p log p + sum q log q) / 2 - sum m log m
    with the first two sums taken once per row, so a pair costs one log per element;
    where that difference would cancel (JS below 1/500 of the sums' magnitude: nearly
    equal rows), for rows with values above 1 (terms of both signs) and for invalid or
    extreme rows, the pair is computed by the exact kernel, so every entry keeps ~13 or more correct digits.
    ``method="exact"``: every pair by the exact row kernel (two logs per element, the
    accuracy of ``fastinfo.js_divergence``).

    Parameters
    ----------
    {P_Q}
    distance : bool, default False
        Return the Jensen-Shannon distance sqrt(JS) instead.
    {base}
    {normalize}
    {invalid}
    {out}
    n_threads : int, optional
        OpenMP threads over the rows of ``P``; ``None`` uses what OpenMP
        allows at call time. The result is bitwise the same for every thread
        count.
    method : {'fast', 'exact'}, default 'fast'
        As above.

    {returns}

    Raises
    ------
    ValueError
        An invalid row or undefined pair with ``invalid='raise'``; ``P`` or
        ``Q`` not 2-D, or with different numbers of columns; ``distance=True`` with a base
        below 1; a bad ``method``, ``base``, ``invalid`` or ``n_threads``;
        ``out`` of the wrong shape or read-only.
    {type_error}

    See Also
    --------
    js_divergence : One value per pair of aligned rows.
    scipy.spatial.distance.cdist : ``cdist(P, Q, "jensenshannon")`` is the distance.

    Examples
    --------
    >>> import fastinfo
    >>> P = [[0.5, 0.5], [1.0, 0.0]]
    >>> Q = [[0.5, 0.5], [0.0, 1.0], [0.25, 0.75]]
    >>> fastinfo.pairwise_js_divergence(P, Q, base=2)
    array([[0.        , 0.31127812, 0.04879494],
           [0.31127812, 1.        , 0.54879494]])
    """
    if distance and base is not None and _args.log_base(base) <= 0:
        raise ValueError("distance=True needs base > 1 (the square root of a negative divergence)")
    if method not in ("fast", "exact"):
        raise ValueError(f"method must be 'fast' or 'exact', got {method!r}")
    normalize = _sums_checked("pairwise_js_divergence", P, Q, normalize)
    return _exact("pairwise_js_divergence", _CODES["js_divergence"], P, Q, base, normalize, invalid, out,
                  n_threads, distance=distance, fast_js=method == "fast")


_args.fill_doc(_PARAM_DOC, [pairwise_cross_entropy, pairwise_kl_divergence, pairwise_js_divergence])
