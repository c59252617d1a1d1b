"""Entropy estimators from counts: plug-in, Miller-Madow, Grassberger, Chao-Shen, James-Stein.

Counts lie on ``axis`` (every other axis is a batch axis), integer or float.
The plug-in entropy runs in the compiled kernels (``entropy(..., normalize=True)``);
the corrections are vectorized NumPy over the batch (O(size) work, no Python loop over rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from . import _args
from . import _special
from ._measures import entropy
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatResult, Invalid

    _Estimator = Literal["plugin", "miller_madow", "grassberger", "chao_shen", "james_stein"]
__all__ = ["entropy_from_counts", "ESTIMATORS"]

ESTIMATORS = ("plugin", "miller_madow", "grassberger", "chao_shen", "james_stein")


def _xlogx(v: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, v * np.log(np.where(v > 0, v, 1.0)), 0.0)


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
        OpenMP threads of the compiled plug-in pass (``'plugin'`` and
        ``'miller_madow'``; the other estimators are vectorized NumPy). The
        result is bitwise the same for every thread count.

    Returns
    -------
    ndarray or NumPy scalar
        The batch shape (a NumPy scalar for 1-D input); float32 for float32
        counts, otherwise float64.

    Raises
    ------
    ValueError
        An invalid row with ``invalid='raise'``; a bad ``estimator``,
        ``base``, ``invalid`` or (plug-in estimators) ``n_threads``; scalar
        ``counts``; ``axis`` out of range (``numpy.exceptions.AxisError``).
    TypeError
        Complex, object or string counts.

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
    c = np.where(bad[..., None], 0.0, c)
    N = c.sum(axis=-1)
    K = c.shape[-1]
    empty = N == 0
    Ns = np.where(empty, 1.0, N)
    if estimator == "plugin" or estimator == "miller_madow":
        # the plug-in entropy: the compiled kernel on the counts, normalized in the same pass
        h = np.asarray(entropy(np.where(empty[..., None], 1.0, c), normalize=True, n_threads=n_threads),
                       dtype=np.float64)
        if estimator == "miller_madow":
            m = np.count_nonzero(c, axis=-1)
            h = h + np.where(empty, 0.0, (m - 1) / (2.0 * Ns))
    elif estimator == "grassberger":
        n = c
        pos = n > 0
        nn = np.where(pos, n, 2.0)
        sign = np.where(np.mod(nn, 2) == 0, 1.0, -1.0)
        G = _special.digamma(nn) + 0.5 * sign * (_special.digamma((nn + 1) / 2) - _special.digamma(nn / 2))
        h = np.log(Ns) - np.sum(np.where(pos, n * G, 0.0), axis=-1) / Ns
    elif estimator == "chao_shen":
        f1 = np.sum(c == 1, axis=-1)
        f1 = np.where(f1 == N, N - 1, f1)
        cov = 1.0 - f1 / Ns
        pa = cov[..., None] * c / Ns[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            la = 1.0 - np.power(1.0 - pa, Ns[..., None])
            terms = np.where(pa > 0, _xlogx(pa) / np.where(la > 0, la, 1.0), 0.0)
        h = -np.sum(terms, axis=-1)
    else:   # james_stein
        p = c / Ns[..., None]
        t = 1.0 / K if K else 0.0
        num = 1.0 - np.sum(p * p, axis=-1)
        den = (Ns - 1.0) * np.sum((t - p) ** 2, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where((den > 0) & (Ns > 1), num / np.where(den > 0, den, 1.0), 1.0)
        lam = np.clip(lam, 0.0, 1.0)
        ps = lam[..., None] * t + (1.0 - lam[..., None]) * p
        h = -np.sum(_xlogx(ps), axis=-1)
    h = np.where(empty, 0.0, np.maximum(h, 0.0)) / lb
    h = np.where(bad, np.nan, h)
    h = np.asarray(h, dtype=np.float64)
    if out_dtype == _args.F32:
        h = h.astype(_args.F32)
    return h[()] if h.ndim == 0 else h


# "{base}" in the docstrings above stands for _args.PARAM_DOC's entry
_args.fill_doc({}, [entropy_from_counts])
