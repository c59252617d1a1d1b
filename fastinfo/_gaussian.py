"""Closed forms for Gaussians: differential entropy and KL divergence.

Full covariances go through a batched Cholesky factorization (LAPACK through
NumPy): log det S = 2 sum log diag(L), and for the KL divergence the matrix
M = Lq^-1 Lp whose squared Frobenius norm is tr(Sq^-1 Sp). Long batches are
factored and solved in chunks (``_chunked``), so Ctrl-C is answered between
them. A covariance that is not symmetric positive definite raises
``ValueError`` naming its batch index. The diagonal forms take log-variances (what a VAE encoder outputs) and
never form exp(log_var) on its own: exp is taken of lv_p - lv_q, and the mean
term (mu_p - mu_q)^2 e^-lv_q is assembled from a mantissa and a power of 2
(``ldexp``), so log-variances of +-800 give finite answers where the naive
formula gives inf - inf = NaN. The full-covariance KL scales its factors by
powers of 2 the same way: finite wherever the divergence is, +inf beyond.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from . import _args
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatResult, Reduction

__all__ = ["gaussian_entropy", "gaussian_kl_divergence", "diagonal_gaussian_kl_divergence"]

_LOG_2PI_E = math.log(2.0 * math.pi) + 1.0
_CHUNK = 1 << 16      # matrices per LAPACK call: Python answers Ctrl-C between the calls


def _chunked(f: Callable[..., NDArray[np.floating[Any]]], arrays: Sequence[NDArray[np.floating[Any]]],
             batch: tuple[int, ...], core: tuple[int, ...] = ()) -> NDArray[np.floating[Any]]:
    """f(*arrays) over slices of the batch axes of at most ~_CHUNK items, written into one
    (*batch, *core) result: a long batch answers Ctrl-C (KeyboardInterrupt) between slices,
    which the one LAPACK call over the whole batch could not. The arrays have the full batch
    shape (broadcast views are sliced, never copied); every matrix is factored or solved on
    its own, so the values are those of one call."""
    n = math.prod(batch)
    if n <= _CHUNK or not batch:
        return f(*arrays)
    out = np.empty(batch + core)
    inner = math.prod(batch[1:])
    if inner > _CHUNK:
        for i in range(batch[0]):
            out[i] = _chunked(f, [a[i] for a in arrays], batch[1:], core)
    else:
        step = max(1, _CHUNK // max(inner, 1))
        for i in range(0, batch[0], step):
            out[i:i + step] = f(*[a[i:i + step] for a in arrays])
    return out


def _cholesky(S: NDArray[np.float64], name: str) -> NDArray[np.floating[Any]]:
    """Batched Cholesky factors of symmetric positive definite (..., d, d) matrices, or
    ValueError naming the batch index of the first one that is not."""
    if S.ndim < 2 or S.shape[-1] != S.shape[-2]:
        raise ValueError(f"{name} must be a (..., d, d) batch of square matrices, got shape {S.shape}")
    batch = S.shape[:-2]
    if S.size == 0:
        return np.zeros(S.shape)
    finite = np.all(np.isfinite(S), axis=(-2, -1))
    if not finite.all():
        raise ValueError(f"{name} has a NaN or infinite entry in the matrix at batch index "
                         f"{_args.first_bad(~finite, batch)}")
    scale = np.maximum(np.abs(S).max(axis=(-2, -1)), np.finfo(np.float64).tiny)
    with np.errstate(over="ignore"):     # entries of +-1.7e308 and opposite signs: inf, asymmetric
        asym = np.abs(S - np.swapaxes(S, -1, -2)).max(axis=(-2, -1)) > 1e-10 * scale
    if asym.any():
        raise ValueError(f"{name} is not symmetric: the matrix at batch index {_args.first_bad(asym, batch)}")
    # factored scaled by an even power of 2, 4^-h, so that the largest entry is near 1 (exact,
    # and LAPACK then never works among subnormals: covariances of 1e-320 keep their digits);
    # L of S is the factor times 2^h, exactly
    h = np.frexp(scale)[1].astype(np.int64) // 2
    S1 = np.ldexp(S, -2 * h[..., None, None])
    try:
        L = _chunked(np.linalg.cholesky, [S1], batch, S.shape[-2:])
        return np.asarray(np.ldexp(L, h[..., None, None]), dtype=np.float64)
    except np.linalg.LinAlgError:
        pass
    flat = S1.reshape((-1,) + S.shape[-2:])
    for i in range(flat.shape[0]):
        try:
            np.linalg.cholesky(flat[i])
        except np.linalg.LinAlgError:
            idx = tuple(int(v) for v in np.unravel_index(i, batch)) if batch else ()
            raise ValueError(f"{name} is not positive definite: the matrix at batch index {idx}") from None
    raise ValueError(f"{name} is not positive definite")    # pragma: no cover


def _logdet(L: NDArray[np.floating[Any]]) -> NDArray[np.floating[Any]]:
    return np.asarray(2.0 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1), dtype=np.float64)


def _scalar(v: ArrayLike) -> FloatResult:
    v = np.asarray(v, dtype=np.float64)
    return v[()] if v.ndim == 0 else v


@_dk.dask_aware(_dk.GAUSS)
def gaussian_entropy(cov: ArrayLike, *, diagonal: bool = False, base: float | None = None) -> FloatResult:
    """Differential entropy of N(mu, S): h = (d log(2 pi e) + log det S) / 2.

    log det S = 2 sum log diag(L) from the Cholesky factor L of S (the
    product of the variances with ``diagonal=True``); S is factored scaled by a
    power of 4 (exact), so covariances anywhere from 1e-320 to 1e308 keep their
    digits. The mean does not enter;
    d = 0 gives 0. Matches ``torch.distributions.MultivariateNormal(...).entropy()``.

    Parameters
    ----------
    cov : array_like
        A batch of covariance matrices (..., d, d), symmetric positive
        definite; or, with ``diagonal=True``, variances (..., d) of independent
        components, each positive and finite. Real dtypes, computed in float64.
    diagonal : bool, default False
        Whether ``cov`` holds variances rather than matrices.
    {base}

    Returns
    -------
    ndarray or NumPy scalar
        The batch shape (a NumPy scalar for a single Gaussian), float64.

    Raises
    ------
    ValueError
        A matrix that is not square, has a NaN or infinite entry, or is not
        symmetric positive definite, or a variance that is not positive and
        finite (naming the batch index); a bad ``base``.
    TypeError
        Complex, object or string input.

    See Also
    --------
    gaussian_kl_divergence
    differential_entropy : Estimated from samples.

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> fastinfo.gaussian_entropy(np.stack([np.eye(2), 4 * np.eye(2)]))
    array([2.83787707, 4.22417143])
    >>> print(f"{fastinfo.gaussian_entropy([1.0, 1.0], diagonal=True):.8f}")
    2.83787707
    """
    lb = _args.log_base(base)
    S = _args.real_array(cov, "cov")
    if diagonal:
        if S.ndim < 1:
            raise ValueError("diagonal=True needs variances with a last axis (..., d)")
        bad = ~np.all(np.isfinite(S) & (S > 0), axis=-1)
        if bad.any():
            raise ValueError(f"variances must be positive and finite: the row at batch index "
                             f"{_args.first_bad(bad, S.shape[:-1])}")
        d = S.shape[-1]
        h = 0.5 * (d * _LOG_2PI_E + np.sum(np.log(S), axis=-1))
    else:
        L = _cholesky(S, "cov")
        d = S.shape[-1]
        h = 0.5 * (d * _LOG_2PI_E + _logdet(L))
    return _scalar(h / lb)


def _small_series(x: ArrayLike, coefs: Sequence[float],
                  direct: Callable[[NDArray[np.float64]], NDArray[np.float64]]) -> NDArray[np.float64]:
    """x^2 (c2 + c3 x + ... + c9 x^7) (Horner) where |x| < 1e-2, direct(x) elsewhere: the
    series of a function that is O(x^2) at 0, so that it keeps its relative accuracy there
    (truncation below 1e-17 relative)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    small = np.abs(x) < 1e-2
    xs = x[small]
    acc = np.zeros_like(xs)
    for c in reversed(coefs):
        acc = acc * xs + c
    out[small] = acc * xs * xs
    with np.errstate(over="ignore"):
        out[~small] = direct(x[~small])
    return out


_XML1P = [(-1.0) ** k / k for k in range(2, 10)]              # x - log1p(x) = sum (-1)^k x^k / k
_EXPM1M = [1.0 / math.factorial(k) for k in range(2, 10)]     # e^r - 1 - r = sum r^k / k!


def _x_minus_log1p(x: ArrayLike) -> NDArray[np.float64]:
    """x - log1p(x) >= 0 without cancellation for small |x|."""
    return _small_series(x, _XML1P, lambda v: v - np.log1p(v))


def _expm1_minus(r: ArrayLike) -> NDArray[np.float64]:
    """exp(r) - 1 - r >= 0 without cancellation for small |r|; +inf for r = +-inf (an overflowed
    difference of log-variances: exp(r) - 1 - r is then beyond the float range anyway)."""
    # min(v, 1e300): where exp(v) overflows, inf - inf would be NaN
    return _small_series(r, _EXPM1M, lambda v: np.expm1(v) - np.minimum(v, 1e300))


def _exponent(x: NDArray[np.float64]) -> NDArray[np.int64]:
    """e with 2^(e-1) <= |x| < 2^e (0 for x = 0): x * 2^-e lies in [0.5, 1)."""
    return np.frexp(x)[1].astype(np.int64)


def _kl_terms(Lp: NDArray[np.floating[Any]], Lq: NDArray[np.floating[Any]], means: NDArray[np.floating[Any]],
              d: int) -> NDArray[np.float64]:
    """KL from the Cholesky factors and the means (..., d, 2) = (mu_q, mu_p), staying finite
    wherever the value is: every matrix and vector is scaled by a power of 2 (exact) before a
    product can overflow or underflow, and the scales (and the factor 1/2) are put back by
    ldexp at the end.

    A = tr(S_q^-1 S_p) - d - log det(S_q^-1 S_p) = sum_i (l_i - 1 - log l_i) over the
    eigenvalues l_i of S_q^-1 S_p (those of M M^T, M = L_q^-1 L_p). Where every l_i lies in
    [2^-20, 2^20] it is summed term by term from the eigenvalues (each term >= 0: no
    cancellation for nearly equal covariances). Elsewhere some term is above 12, and A is taken
    as ||M||_F^2 - d - log det, with the log-determinants from the Cholesky diagonals: the
    trace may overflow to +inf (then so does the value) or underflow to 0 (then -log det
    carries the value), never inf - inf.
    """
    ep = _exponent(np.max(np.abs(Lp), axis=(-2, -1)))
    eq = _exponent(np.max(np.abs(Lq), axis=(-2, -1)))
    Lp1 = np.ldexp(Lp, -ep[..., None, None])
    Lq1 = np.ldexp(Lq, -eq[..., None, None])
    shift = 2 * (ep - eq)                  # S_q^-1 S_p = 4^(ep - eq) M1 M1^T
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        M1 = np.linalg.solve(Lq1, Lp1)     # L_q^-1 L_p scaled by 2^(eq - ep)
        m = np.max(np.abs(M1), axis=(-2, -1))
        em = _exponent(m)
        M2 = np.ldexp(M1, -em[..., None, None])
        # half the trace: ||M||_F^2 / 2 = 4^(em + ep - eq) ||M2||_F^2 / 2, ||M2||_F^2 in [1/4, d]
        half_tr = np.ldexp(np.sum(M2 * M2, axis=(-2, -1)), 2 * em + shift - 1)
        # half log det(S_q^-1 S_p)
        half_logdet = (np.sum(np.log(np.diagonal(Lp, axis1=-2, axis2=-1)), axis=-1)
                       - np.sum(np.log(np.diagonal(Lq, axis1=-2, axis2=-1)), axis=-1))
        direct = half_tr - 0.5 * d - half_logdet
        # eigenvalues where M1 M1^T is safely inside the float range
        safe = np.isfinite(m) & (em < 200) & (em > -200)
        G = np.where(safe[..., None, None], M1, np.eye(d))
        mu = np.linalg.eigvalsh(G @ np.swapaxes(G, -1, -2))
        lam = np.ldexp(mu, shift[..., None])
        safe &= np.all((lam >= 2.0 ** -20) & (lam <= 2.0 ** 20), axis=-1)
        A = np.where(safe, 0.5 * np.sum(_x_minus_log1p(lam - 1.0), axis=-1), direct)
        # Mahalanobis term ||L_q^-1 (mu_q - mu_p)||^2, the means scaled by a common 2^-ez
        ez = _exponent(np.max(np.abs(means), axis=(-2, -1)))
        dm = np.ldexp(means, -ez[..., None, None])
        dm = dm[..., 0] - dm[..., 1]
        z = np.linalg.solve(Lq1, dm[..., None])[..., 0]          # scaled by 2^(eq - ez)
        zmax = np.max(np.abs(z), axis=-1)
        ew = _exponent(zmax)
        w = np.ldexp(z, -ew[..., None])
        half_maha = np.ldexp(np.sum(w * w, axis=-1), 2 * (ew + ez - eq) - 1)
    return np.asarray(A + half_maha, dtype=np.float64)


@_dk.dask_aware(_dk.GAUSS_KL)
def gaussian_kl_divergence(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike, cov_q: ArrayLike, *,
                           base: float | None = None) -> FloatResult:
    """Kullback-Leibler divergence KL(N(mu_p, S_p) || N(mu_q, S_q)) of Gaussians with full covariances.

        (tr(S_q^-1 S_p) - d - log det(S_q^-1 S_p) + (mu_q - mu_p)^T S_q^-1 (mu_q - mu_p)) / 2

    with M = L_q^-1 L_p (Cholesky factors): the first three terms are
    sum_i (l_i - 1 - log l_i) over the eigenvalues l_i of M M^T, each summed as a
    non-negative term (no cancellation for nearly equal covariances), and the last
    is ``||L_q^-1 (mu_q - mu_p)||^2``. Where some l_i lies outside [2^-20, 2^20]
    (so the sum exceeds 12 and cannot cancel) the first three terms are
    ||M||_F^2 - d - log det(S_q^-1 S_p), the log-determinants from the Cholesky
    diagonals. Factors, M and the means are scaled by powers of 2 before any
    product, so the value is finite wherever the divergence is (e.g. covariances
    1e-300 I against 1e300 I, means of +-1e308) and +inf where it exceeds the
    float range; never NaN for valid input. d = 0 gives 0. Matches
    ``torch.distributions.kl_divergence``.

    Parameters
    ----------
    mean_p : array_like
        The mean of p, (..., d).
    cov_p : array_like
        The covariance matrix of p, (..., d, d), symmetric positive definite.
    mean_q, cov_q : array_like
        Those of q. All four arrays broadcast over the batch axes (real
        dtypes, computed in float64).
    {base}

    Returns
    -------
    ndarray or NumPy scalar
        The broadcast batch shape (a NumPy scalar for a single pair), float64.

    Raises
    ------
    ValueError
        A covariance that is not square, has a NaN or infinite entry, or is
        not symmetric positive definite (naming the batch index); dimensions d
        that do not match; batch shapes that do not broadcast; a bad ``base``.
    TypeError
        Complex, object or string input.

    See Also
    --------
    diagonal_gaussian_kl_divergence : Diagonal covariances given by log-variances.
    gaussian_entropy

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> kl = fastinfo.gaussian_kl_divergence([0.0, 0.0], np.eye(2), [1.0, 0.0], 2 * np.eye(2))
    >>> print(f"{kl:.8f}")   # (1/2 + 1/2 - 2 - log(1/4) + 1/2) / 2
    0.44314718
    """
    lb = _args.log_base(base)
    mp_, mq_ = _args.real_array(mean_p, "mean_p"), _args.real_array(mean_q, "mean_q")
    Sp, Sq = _args.real_array(cov_p, "cov_p"), _args.real_array(cov_q, "cov_q")
    Lp, Lq = _cholesky(Sp, "cov_p"), _cholesky(Sq, "cov_q")
    d = Sp.shape[-1]
    if Sq.shape[-1] != d or mp_.shape[-1:] != (d,) or mq_.shape[-1:] != (d,):
        raise ValueError(f"dimensions do not match: means {mp_.shape}, {mq_.shape}; covariances "
                         f"{Sp.shape}, {Sq.shape}")
    batch = np.broadcast_shapes(mp_.shape[:-1], mq_.shape[:-1], Sp.shape[:-2], Sq.shape[:-2])
    Lp = np.broadcast_to(Lp, batch + (d, d))
    Lq = np.broadcast_to(Lq, batch + (d, d))
    if d == 0:
        return _scalar(np.zeros(batch))
    # the means stacked, so that each difference is taken on a common power-of-2 scale in
    # _kl_terms (mu_q - mu_p itself overflows for means of +-1e308)
    means = np.stack([np.broadcast_to(mq_, batch + (d,)), np.broadcast_to(mp_, batch + (d,))], axis=-1)
    kl = _chunked(lambda a, b, c: _kl_terms(a, b, c, d), [Lp, Lq, means], batch)
    return _scalar(kl / lb)


_LN2_HI = 6.93147180369123816490e-01   # ln 2 in 32 bits: k * _LN2_HI is exact for |k| < 2^21
_LN2_LO = 1.90821492927058770002e-10


def _scaled_maha(mu_p: NDArray[np.float64], mu_q: NDArray[np.float64],
                 lv_q: NDArray[np.float64], halved: bool = False) -> NDArray[np.float64]:
    """(mu_p - mu_q)^2 e^-lv_q (over 2 if ``halved``, rounded once) to a few ulps over the whole
    float range: |mu_p - mu_q| = f 2^e
    (from the halved means where the difference overflows), e^-lv_q = e^t 2^k with
    |t| <= ln(2)/2 (Cody-Waite), and f^2 e^t scaled by 2^(2e + k) with ldexp (which rounds
    once, to 0 or inf where the value is out of range)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        dm = np.abs(mu_p - mu_q)
        big = ~np.isfinite(dm)
        f, e = np.frexp(np.where(big, np.abs(0.5 * mu_p - 0.5 * mu_q), dm))
        e = e.astype(np.int64) + big
        # beyond |lv_q| = 3000 the value is 0 or inf whatever the means (|2 log dm| < 1500)
        t = np.clip(-lv_q, -3000.0, 3000.0)
        k = np.rint(t / math.log(2.0))
        rem = (t - k * _LN2_HI) - k * _LN2_LO
        out = np.ldexp(f * f * np.exp(rem), 2 * e + k.astype(np.int64) - int(halved))
    return np.where(dm == 0, 0.0, out)


@_dk.dask_aware(_dk.DIAG_KL)
def diagonal_gaussian_kl_divergence(mean_p: ArrayLike, log_var_p: ArrayLike, mean_q: ArrayLike = 0.0,
                                    log_var_q: ArrayLike = 0.0, *, axis: int = -1, base: float | None = None,
                                    reduction: Reduction = "none") -> FloatResult | float:
    """KL(N(mu_p, diag e^lv_p) || N(mu_q, diag e^lv_q)), summed over ``axis``: the VAE term.

        sum (e^(lv_p - lv_q) - 1 - (lv_p - lv_q) + (mu_p - mu_q)^2 e^(-lv_q)) / 2

    The prior defaults to the standard normal (mu_q = 0, lv_q = 0). Everything broadcasts
    (NumPy rules). Overflow-free: exp is only taken of lv_p - lv_q and of a reduced
    argument (``|t| <= ln(2)/2``) whose power of 2 joins that of ``|mu_p - mu_q|`` in one
    ``ldexp``, and e^r - 1 - r is summed without cancellation, so
    log-variances of +-800 give the finite answer (+inf where the divergence exceeds the
    float range, e.g. log-variances 1e308 apart; means of +-1e308 are differenced
    without overflow). ``reduction``: ``"none"`` (the batch
    shape), ``"sum"`` or ``"mean"`` over the batch. A NaN or infinite input raises
    ``ValueError``.

    Parameters
    ----------
    mean_p, log_var_p : array_like
        Means and log-variances (natural log) of the diagonal Gaussian p.
    mean_q, log_var_q : array_like, default 0.0
        Those of q (the prior). All four broadcast against each other (real
        dtypes, computed in float64).
    axis : int, default -1
        The axis of the components, summed over.
    {base}
    reduction : {'none', 'sum', 'mean'}, default 'none'
        ``'none'``: one KL per Gaussian; ``'sum'`` or ``'mean'``: over the
        batch, as a Python float.

    Returns
    -------
    ndarray, NumPy scalar or float
        ``reduction='none'``: the broadcast shape without ``axis``, float64 (a
        NumPy scalar for 1-D input); otherwise a float.

    Raises
    ------
    ValueError
        A NaN or infinite input; 0-d inputs; shapes that do not broadcast; a
        bad ``reduction`` or ``base``; ``axis`` out of range
        (``numpy.exceptions.AxisError``).
    TypeError
        Complex, object or string input.

    See Also
    --------
    gaussian_kl_divergence : Full covariances.

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> fastinfo.diagonal_gaussian_kl_divergence([[0.0, 1.0], [0.0, 0.0]],
    ...                                          [[0.0, 0.0], [np.log(2.0), 0.0]])
    array([0.5       , 0.15342641])
    >>> print(fastinfo.diagonal_gaussian_kl_divergence([0.0], [800.0], [0.0], [800.0]))
    0.0
    """
    lb = _args.log_base(base)
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"reduction must be 'none', 'sum' or 'mean', got {reduction!r}")
    arrs = [_args.real_array(v, n) for v, n in ((mean_p, "mean_p"), (log_var_p, "log_var_p"), (mean_q, "mean_q"),
                                     (log_var_q, "log_var_q"))]
    for a, n in zip(arrs, ("mean_p", "log_var_p", "mean_q", "log_var_q")):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{n} has a NaN or infinite value")
    mu_p, lv_p, mu_q, lv_q = np.broadcast_arrays(*arrs)
    if mu_p.ndim == 0:
        raise ValueError("the inputs must have at least one axis (the components)")
    ax = _args.normalize_axis_index(axis, mu_p.ndim)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        r = lv_p - lv_q
        # (e^r - 1 - r) / 2; where r overflows (|lv_p - lv_q| > 1.8e308), +inf for r > 0 and
        # -r/2 - 1/2 (finite, from the halved log-variances) for r < 0
        half = np.where(np.isfinite(r), 0.5 * _expm1_minus(r),
                        np.where(r > 0, np.inf, (0.5 * lv_q - 0.5 * lv_p) - 0.5))
        terms = half + _scaled_maha(mu_p, mu_q, lv_q, halved=True)
        kl = np.sum(terms, axis=ax) / lb
    if reduction == "sum":
        return float(np.sum(kl))
    if reduction == "mean":
        return float(np.mean(kl))
    return _scalar(kl)


# "{base}" in the docstrings above stands for _args.PARAM_DOC's entry
_args.fill_doc({}, [gaussian_entropy, gaussian_kl_divergence, diagonal_gaussian_kl_divergence])
