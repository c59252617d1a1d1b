"""Type aliases of fastinfo's annotations.

The other modules import these under ``typing.TYPE_CHECKING`` only; the aliases are
written so that they also evaluate at run time on Python 3.9 (``typing.Union``, no
``X | Y``).

``FloatResult`` is what the batched measures return: an ndarray of the batch shape,
or a NumPy scalar (``numpy.float64`` / ``numpy.float32``) for a single distribution.
With a Dask array among the inputs they return a lazy ``dask.array.Array`` instead
(see ``fastinfo/_dask.py``); the annotations describe the NumPy path.
"""

from typing import Any, Literal, Union

import numpy as np
from numpy.typing import NDArray

__all__ = ["FloatArray", "FloatResult", "Invalid", "Reduction", "DivReduction", "Average"]

#: A float32 or float64 array.
FloatArray = NDArray[np.floating[Any]]
#: A float32/float64 array of the batch shape, or a NumPy scalar for one distribution.
FloatResult = Union[NDArray[np.floating[Any]], np.floating[Any]]
#: ``invalid=``: raise ValueError on invalid input, or give NaN for it.
Invalid = Literal["raise", "nan"]
#: ``reduction=`` over the batch.
Reduction = Literal["none", "sum", "mean"]
#: ``reduction=`` of the logit divergences: also ``"batchmean"`` (PyTorch ``kl_div``'s).
DivReduction = Literal["none", "sum", "mean", "batchmean"]
#: ``average=``: the mean of H(X) and H(Y) that normalizes a mutual information.
Average = Literal["arithmetic", "geometric", "min", "max"]
