"""Special functions the estimators share (NumPy only, no SciPy dependency)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray


def digamma(x: ArrayLike) -> NDArray[np.float64]:
    """psi(x) for x > 0 (float64 array): recurrence up to x >= 10, then the asymptotic series
    to the y^-12 term (truncation error < 1e-15)."""
    x = np.asarray(x, dtype=np.float64)
    acc = np.zeros_like(x)
    y = x.copy()
    small = y < 10
    while small.any():
        acc = np.where(small, acc - 1.0 / y, acc)
        y = np.where(small, y + 1.0, y)
        small = y < 10
    inv2 = 1.0 / (y * y)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 * (
        1 / 132 - inv2 * (691 / 32760))))))
    return acc + np.log(y) - 0.5 / y - series
