"""Entropy estimators from counts: plug-in, Miller-Madow, Grassberger, Chao-Shen, James-Stein.

Counts lie on ``axis`` (every other axis is a batch axis), integer or float.
The plug-in entropy runs in the compiled kernels (``entropy(..., normalize=True)``);
the corrections are vectorized NumPy over the batch (O(size) work, no Python loop over rows).
Every estimator is written as a sum of terms that keeps its digits for any counts the
float range holds: rows whose total overflows are scaled by a power of 2, 1/N may
underflow but never becomes inf, Grassberger's correction is taken apart from log N,
Chao-Shen's 1 - (1 - q)^N is -expm1(N log1p(-q)), and the log of a share near 1 is
log1p of minus the other shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from . import _args
from ._measures import entropy
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatResult, Invalid

    _Estimator = Literal["plugin", "miller_madow", "grassberger", "chao_shen", "james_stein"]
__all__ = ["entropy_from_counts", "ESTIMATORS"]

ESTIMATORS = ("plugin", "miller_madow", "grassberger", "chao_shen", "james_stein")


def _log_shares(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """log x along the last axis (x >= 0 summing to 1, 0 where x = 0), the largest entry's as
    log1p(-(sum of the others)) where it is above 1/2: the log of a share near 1 keeps its
    digits (log of the rounded share would lose them all below 1e-16)."""
    with np.errstate(divide="ignore"):
        lx = np.log(np.where(x > 0, x, 1.0))
    if x.shape[-1] < 2:
        return np.where(x > 0, lx, 0.0)
    i = np.argmax(x, axis=-1)[..., None]
    others = x.copy()
    np.put_along_axis(others, i, 0.0, axis=-1)
    top = np.take_along_axis(x, i, axis=-1)
    near_one = np.where(top > 0.5, np.log1p(-np.sum(others, axis=-1, keepdims=True)),
                        np.take_along_axis(lx, i, axis=-1))
    np.put_along_axis(lx, i, near_one, axis=-1)
    return np.where(x > 0, lx, 0.0)


def _shannon(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """-sum x log x along the last axis, x a distribution (see _log_shares)."""
    return np.asarray(-np.sum(x * _log_shares(x), axis=-1), dtype=np.float64)


# n (log n - G(n)) for n >= 40 by the asymptotic series of log n - psi(n) (coefficients
# B_2k / 2k) and of beta(n) = (psi((n+1)/2) - psi(n/2)) / 2 (coefficients (4^k - 1) B_2k / 2k),
# both less their 1/(2n): truncation below 1e-19 relative at n = 40
_PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
_BETA_SERIES = (1 / 4, -1 / 8, 1 / 4, -17 / 16, 31 / 4, -691 / 8, 5461 / 4)


# n (log n - G(n)) for n = 0, 1, ..., 39, rounded from 40-digit values (log n - G(n) cancels
# in float64 there)
_ND_SMALL = np.array([
    0.0, 1.2703628454614782, -0.07297994795715304, 1.1069254023887636, -0.04003784034119151,
    1.0656704561445594, -0.027266111862800976, 1.0472442949508736, -0.02061252191710626,
    1.0368582337507066, -0.01655236147650749, 1.0302043802234153, -0.013822334062535293,
    1.0255810045215603, -0.011862692670828762, 1.0221830444426696, -0.01038841439334709,
    1.019580880586461, -0.009239383201142707, 1.0175245218673667, -0.008318826072813826,
    1.0158586801816176, -0.0075648482230435245, 1.0144818341687236, -0.00693603568588171,
    1.0133248258335847, -0.006403639147758115, 1.0123389225757364, -0.005947080544370216,
    1.0114887982487353, -0.005551244644660997, 1.0107482213799006, -0.0052047802509523015,
    1.0100973063690772, -0.0048989978639127785, 1.0095207045274492, -0.004627133113555937,
    1.0090063803713019, -0.004383841847883922, 1.0085447636201268])


def _n_log_minus_g(n: NDArray[np.float64], odd: NDArray[np.bool_]) -> NDArray[np.float64]:
    """n (log n - G(n)) for integer counts n >= 0, Grassberger's G(n) = psi(n) + (-1)^n beta(n)
    (0 where n = 0): about 1 for odd n, -1/(6n) for even n. Summed over the bins and divided
    by N, the estimator's correction to the plug-in entropy."""
    small = n < 40
    direct = _ND_SMALL[np.where(small, n, 0.0).astype(np.intp)]
    y = 1.0 / np.where(small, 40.0, n)
    y2 = y * y
    a = np.zeros_like(y)
    b = np.zeros_like(y)
    for ca, cb in zip(reversed(_PSI_SERIES), reversed(_BETA_SERIES)):
        a = a * y2 + ca
        b = b * y2 + cb
    # n D(n) = n (log n - psi(n) - (-1)^n beta(n)): the 1/(2n) terms cancel (even n) or add to 1/n
    series = np.where(odd, 1.0 + y * (a + b), y * (a - b))
    return np.where(n > 0, np.where(small, direct, series), 0.0)


@_dk.dask_aware(_dk.COUNTS)
def entropy_from_counts(counts: ArrayLike, *, estimator: _Estimator = "plugin", axis: int = -1,
                        base: float | None = None, invalid: Invalid = "raise",
                        n_threads: int | None = None) -> FloatResult:
    """Entropy of the distribution behind observed counts, with a bias-corrected estimator.

    With n_i the counts, N = sum n_i, m the number of nonzero counts and K the
    number of bins (the length of ``axis``, zeros included):

    * ``"plugin"``: maximum likelihood, H = -sum (n_i/N) log(n_i/N). Biased low by
      about (m - 1)/(2N).
    * ``"miller_madow"``: H_plugin + (m - 1)/(2N) (Miller 1955, "Note on the bias of
      information estimates").
    * ``"grassberger"``: H = log N - (1/N) sum n_i G(n_i), G(n) = psi(n) +
      (-1)^n (psi((n+1)/2) - psi(n/2)) / 2 (Grassberger 2003, "Entropy estimates from
      insufficient samplings", arXiv:physics/0307138, eq. 35). Integer counts.
    * ``"chao_shen"``: coverage-adjusted Horvitz-Thompson estimator: C = 1 - f1/N
      (f1 singletons; f1 = N - 1 when every count is 1), q_i = C n_i/N,
      H = -sum q_i log q_i / (1 - (1 - q_i)^N) (Chao & Shen 2003, Environ. Ecol.
      Stat. 10:429). Integer counts.
    * ``"james_stein"``: shrinkage of n_i/N towards the uniform 1/K with the optimal
      lambda = (1 - sum p_i^2) / ((N - 1) sum (1/K - p_i)^2), clipped to [0, 1]
      (lambda = 1 when N <= 1 or p is already uniform), then the plug-in entropy of
      lambda/K + (1 - lambda) p_i (Hausser & Strimmer 2009, JMLR 10:1469).

    An all-zero row has entropy 0 (nothing observed) for every estimator;
    negative, NaN or infinite counts are invalid (``invalid="raise"`` names the
    batch index, ``"nan"`` gives NaN). Float counts are accepted; Grassberger and
    Chao-Shen need integer values (a non-integer count is invalid there). Every
    estimate is clamped at 0.

    Huge counts are exact cases, not overflows: counts whose total exceeds the
    float range (``[1e308, 1e308, 0]`` has entropy log 2 under every
    estimator) and int64 counts up to 2**63 (Grassberger's parity (-1)^n is
    read from the integers, which float64 would round to even numbers) give
    the estimator's value to ~1e-15 relative, also where it is tiny (a row
    dominated by one bin).

    Parameters
    ----------
    counts : array_like
        Non-negative counts (integer or float) along ``axis``; every other
        axis is a batch axis.
    estimator : {'plugin', 'miller_madow', 'grassberger', 'chao_shen', 'james_stein'}, default 'plugin'
        The estimator, as above.
    axis : int, default -1
        The axis of the bins.
    {base}
    invalid : {'raise', 'nan'}, default 'raise'
        A row with an invalid count raises ``ValueError`` naming its batch
        index (``'raise'``), or gives NaN for that row (``'nan'``).
    n_threads : int, optional
        OpenMP threads of the compiled plug-in pass (``'plugin'``,
        ``'miller_madow'`` and ``'grassberger'``; the other estimators are
        vectorized NumPy). The result is bitwise the same for every thread
        count.

    Returns
    -------
    ndarray or NumPy scalar
        The batch shape (a NumPy scalar for 1-D input); float32 for float32
        counts, otherwise float64.

    Raises
    ------
    ValueError
        An invalid row with ``invalid='raise'``; a bad ``estimator``,
        ``base``, ``invalid`` or ``n_threads``; scalar ``counts``; ``axis``
        out of range (``numpy.exceptions.AxisError``).
    TypeError
        Complex, object or string counts; a non-integer ``axis`` or
        ``n_threads`` (``True`` included, as NumPy refuses ``axis=True``).

    See Also
    --------
    entropy : The plug-in entropy of probabilities (``normalize=True`` for counts).

    Examples
    --------
    >>> import fastinfo
    >>> counts = [[3, 1, 0], [2, 2, 2], [0, 0, 0]]
    >>> fastinfo.entropy_from_counts(counts)
    array([0.56233514, 1.09861229, 0.        ])
    >>> fastinfo.entropy_from_counts(counts, estimator="miller_madow")
    array([0.68733514, 1.26527896, 0.        ])
    >>> print(f"{fastinfo.entropy_from_counts([3, 1, 0], base=2):.6f}")
    0.811278
    """
    if not (isinstance(estimator, str) and estimator in ESTIMATORS):
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    lb = _args.log_base(base)
    nan_mode = _args.nan_mode(invalid)
    C = _args.as_array(counts, "counts")
    ax = _args.normalize_axis_index(axis, C.ndim)
    out_dtype = C.dtype
    nt = _args.threads(n_threads)
    # integer counts beyond 2^53 are not all even once in float64: Grassberger's parity
    # comes from the integers themselves
    raw_int = None
    if estimator == "grassberger":
        raw = counts if isinstance(counts, np.ndarray) else np.asarray(counts)
        if raw.dtype.kind in "iu" and raw.shape == C.shape:
            raw_int = raw
    c = np.moveaxis(C, ax, -1).astype(np.float64, copy=False)
    batch = c.shape[:-1]
    with np.errstate(invalid="ignore"):
        bad = ~np.all(np.isfinite(c) & (c >= 0), axis=-1)
        if estimator in ("grassberger", "chao_shen"):
            bad |= ~np.all(c == np.floor(c), axis=-1)
    if bad.any() and not nan_mode:
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), batch)) if batch else ()
        need = " non-negative integer" if estimator in ("grassberger", "chao_shen") else " finite non-negative"
        raise ValueError(f"entropy_from_counts: counts must be{need} numbers; the row at batch index "
                         f"{idx} is not")
    if bad.any():
        c = np.where(bad[..., None], 0.0, c)
    K = c.shape[-1]
    # Rows whose total may overflow (a count above 2^960) are scaled by an exact power of 2:
    # cs = c 2^-e, Ns = N 2^-e, and 1/N = 2^-e / Ns underflows gracefully where N is beyond
    # the float range. Other rows are taken as they are (e = 0).
    cmax = c.max(axis=-1, initial=0.0)
    e = np.where(cmax > 2.0 ** 960, np.frexp(cmax)[1], 0).astype(np.int64)
    cs = np.ldexp(c, -e[..., None]) if e.any() else c
    Ns = cs.sum(axis=-1)
    empty = Ns == 0
    Nsafe = np.where(empty, 1.0, Ns)
    inv_n = np.ldexp(1.0 / Nsafe, -e)
    if estimator == "plugin" or estimator == "miller_madow" or estimator == "grassberger":
        # the plug-in entropy: the compiled kernel on the counts, normalized in the same pass;
        # rows where one bin holds more than 9/10 of the total (entropy below ~0.33, where the
        # kernel's ~1e-16 absolute error would show) are redone with the log of that bin's
        # share as log1p(-(the others' share)), which keeps a small entropy's digits
        h = np.asarray(entropy(np.where(empty[..., None], 1.0, c) if empty.any() else c, normalize=True,
                               n_threads=nt), dtype=np.float64)
        m = np.count_nonzero(c, axis=-1)
        dom = (np.ldexp(cmax, -e) > 0.9 * Ns) & (m > 1)
        if dom.any():
            h[dom] = _shannon(cs[dom] / Ns[dom][:, None])
        h = np.where(m > 1, h, 0.0)           # one observed bin: exactly 0
        if estimator == "miller_madow":
            h = h + np.where(empty, 0.0, 0.5 * (m - 1) * inv_n)
        elif estimator == "grassberger":
            # log N - (1/N) sum n_i G(n_i) = H_plugin + (1/N) sum n_i (log n_i - G(n_i)): no
            # cancellation between log N and the sum
            if raw_int is not None:
                odd = np.moveaxis(raw_int, ax, -1) % 2 == 1
            else:
                odd = np.mod(c, 2.0) == 1.0
            h = h + np.sum(_n_log_minus_g(c, odd), axis=-1) * inv_n
    elif estimator == "chao_shen":
        f1 = np.sum(c == 1, axis=-1)
        ones = (f1 == Ns) & (e == 0)           # every observed count is 1: f1 = N - 1
        f1 = np.where(ones, Ns - 1, f1)
        cov = np.where(ones, inv_n, 1.0 - f1 * inv_n)
        log_cov = np.where(ones, -np.log(Nsafe), np.log1p(-f1 * inv_n))
        w = cs / Nsafe[..., None]
        q = cov[..., None] * w
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # 1 - (1 - q_i)^N = -expm1(N log1p(-q_i)), with N log1p(-q_i) = C n_i log1p(-q_i) / q_i
            # (finite where N is not, and without the error N eps of rounding 1 - q_i)
            # (q = 1: -inf, and la = 1)
            ratio = np.where(q > 0, np.log1p(-q) / np.where(q > 0, q, 1.0), -1.0)
            la = -np.expm1(cov[..., None] * c * ratio)
            logq = log_cov[..., None] + _log_shares(w)
            terms = np.where(q > 0, -q * logq / np.where(la > 0, la, 1.0), 0.0)
        h = np.sum(terms, axis=-1)
    else:   # james_stein
        p = cs / Nsafe[..., None]
        t = 1.0 / K if K else 0.0
        num = 1.0 - np.sum(p * p, axis=-1)
        den = np.sum((t - p) ** 2, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # lambda = num / ((N - 1) den); N - 1 = N to float precision where N is scaled
            lam = np.where(e == 0, num / np.where(den > 0, (Ns - 1.0) * den, 1.0),
                           num / np.where(den > 0, den, 1.0) * inv_n)
        lam = np.where((den > 0) & ((Ns > 1) | (e > 0)), lam, 1.0)
        lam = np.clip(lam, 0.0, 1.0)
        ps = lam[..., None] * t + (1.0 - lam[..., None]) * p
        h = _shannon(ps)
    h = np.where(empty, 0.0, np.maximum(h, 0.0)) / lb
    h = np.where(bad, np.nan, h)
    h = np.asarray(h, dtype=np.float64)
    if out_dtype == _args.F32:
        h = h.astype(_args.F32)
    return h[()] if h.ndim == 0 else h


# "{base}" in the docstrings above stands for _args.PARAM_DOC's entry
_args.fill_doc({}, [entropy_from_counts])
