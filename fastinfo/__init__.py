"""fastinfo: fast, exact information-theoretic measures over batches.

Entropy, cross-entropy, Kullback-Leibler and Jensen-Shannon divergence,
log-sum-exp and softmax cross-entropy from logits, mutual information,
generalized and differential entropies, computed by vectorized Cython + OpenMP
kernels behind a thin NumPy-style API.

Where things are: each family of functions is one module (``_measures.py``,
``_logits.py``, ``_joint.py``, ``_labels.py``, ``_pairwise.py``,
``_generalized.py``, ``_gaussian.py``, ``_knn.py``, ``_differential.py``,
``_counts.py``, ``_boosting.py``) that reads as its public functions, beside
the public modules ``objectives`` (LightGBM and XGBoost objectives) and
``torch`` (PyTorch autograd functions, imported only by name); they share one argument
layer (``_args.py``: dtypes, axis, broadcasting, ``out=``, threads, ``base``,
``invalid``, the batched driver and the invalid-row errors); the compiled row
kernels are ``_kernels.pxi`` and the ``.pxi`` files it includes, built once per
SIMD level and chosen at import (``_dispatch.py``).
"""

from __future__ import annotations

from ._config import __version__, config, show_config
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
from ._scoring import (EnsembleUncertainty, SequenceScores, SoftmaxStats, ensemble_uncertainty, sequence_scores,
                       softmax_stats, topk_kl_divergence)
from ._calibration import (CalibrationBins, brier_score, calibration_error, fit_temperature,
                           reliability_diagram)
from ._boosting import sigmoid_cross_entropy_grad_hess, softmax_cross_entropy_grad_hess
from ._logits import (log_softmax, logsumexp, perplexity, sigmoid_cross_entropy, softmax,
                      softmax_cross_entropy, softmax_entropy, softmax_js_divergence,
                      softmax_kl_divergence, softmax_total_variation)

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
    "softmax_total_variation",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy_grad_hess",
    "sigmoid_cross_entropy_grad_hess",
    "perplexity",
    "softmax_stats",
    "SoftmaxStats",
    "sequence_scores",
    "SequenceScores",
    "ensemble_uncertainty",
    "EnsembleUncertainty",
    "topk_kl_divergence",
    "calibration_error",
    "brier_score",
    "fit_temperature",
    "reliability_diagram",
    "CalibrationBins",
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
    "__version__",
]
