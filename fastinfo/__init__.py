"""fastinfo: fast, exact information-theoretic measures over batches.

Entropy, cross-entropy, Kullback-Leibler and Jensen-Shannon divergence and
surprisal of discrete distributions, computed by vectorized Cython + OpenMP
kernels (``fastinfo/_kernels.pxi``) behind a thin NumPy-style API
(``fastinfo/_measures.py``). ``fastinfo.reference`` holds the plain NumPy
baseline the benchmarks compare against.
"""

from __future__ import annotations

from ._config import __version__, config, show_config
from . import reference
from ._measures import cross_entropy, entropy, js_divergence, kl_divergence, surprisal
from ._counts import entropy_from_counts
from ._labels import (SparseContingency, adjusted_mutual_information_score, contingency_table,
                      expected_mutual_information, mutual_information_score,
                      normalized_mutual_information_score)
from ._differential import differential_entropy
from ._knn import knn_entropy, knn_mutual_information
from ._gaussian import diagonal_gaussian_kl_divergence, gaussian_entropy, gaussian_kl_divergence
from ._generalized import (hellinger_distance, renyi_divergence, renyi_entropy, total_variation,
                           tsallis_entropy)
from ._pairwise import pairwise_cross_entropy, pairwise_js_divergence, pairwise_kl_divergence
from ._joint import (conditional_entropy, joint_entropy, mutual_information,
                     normalized_mutual_information, variation_of_information)
from ._logits import (log_softmax, logsumexp, perplexity, sigmoid_cross_entropy, softmax,
                      softmax_cross_entropy, softmax_entropy, softmax_js_divergence,
                      softmax_kl_divergence)

__all__ = [
    "entropy",
    "cross_entropy",
    "kl_divergence",
    "js_divergence",
    "surprisal",
    "logsumexp",
    "log_softmax",
    "softmax",
    "softmax_cross_entropy",
    "softmax_entropy",
    "softmax_kl_divergence",
    "softmax_js_divergence",
    "sigmoid_cross_entropy",
    "perplexity",
    "joint_entropy",
    "entropy_from_counts",
    "contingency_table",
    "mutual_information_score",
    "normalized_mutual_information_score",
    "adjusted_mutual_information_score",
    "expected_mutual_information",
    "SparseContingency",
    "renyi_entropy",
    "tsallis_entropy",
    "renyi_divergence",
    "hellinger_distance",
    "total_variation",
    "differential_entropy",
    "gaussian_entropy",
    "gaussian_kl_divergence",
    "diagonal_gaussian_kl_divergence",
    "knn_entropy",
    "knn_mutual_information",
    "pairwise_cross_entropy",
    "pairwise_kl_divergence",
    "pairwise_js_divergence",
    "conditional_entropy",
    "mutual_information",
    "normalized_mutual_information",
    "variation_of_information",
    "show_config",
    "config",
    "reference",
    "__version__",
]
