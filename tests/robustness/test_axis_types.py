"""axis must be an integer (NumPy integers included): True/False are refused as NumPy's
reductions refuse them, never taken as axis 1/0."""
import inspect

import numpy as np
import pytest

import fastinfo

P = np.full((3, 4), 0.25)
L = np.array([0, 1, 2])

def _before(axis):
    """An integer axis one place lower (any other object as it is)."""
    return axis - 1 if isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_)) else axis


CALLS = {
    "entropy": lambda **kw: fastinfo.entropy(P, **kw),
    "cross_entropy": lambda **kw: fastinfo.cross_entropy(P, P, **kw),
    "kl_divergence": lambda **kw: fastinfo.kl_divergence(P, P, **kw),
    "js_divergence": lambda **kw: fastinfo.js_divergence(P, P, **kw),
    "surprisal": lambda **kw: fastinfo.surprisal(P, **kw),
    "renyi_entropy": lambda **kw: fastinfo.renyi_entropy(P, 2.0, **kw),
    "tsallis_entropy": lambda **kw: fastinfo.tsallis_entropy(P, 2.0, **kw),
    "renyi_divergence": lambda **kw: fastinfo.renyi_divergence(P, P, 2.0, **kw),
    "hellinger_distance": lambda **kw: fastinfo.hellinger_distance(P, P, **kw),
    "total_variation": lambda **kw: fastinfo.total_variation(P, P, **kw),
    "logsumexp": lambda **kw: fastinfo.logsumexp(P, **kw),
    "log_softmax": lambda **kw: fastinfo.log_softmax(P, **kw),
    "softmax": lambda **kw: fastinfo.softmax(P, **kw),
    "softmax_entropy": lambda **kw: fastinfo.softmax_entropy(P, **kw),
    "softmax_cross_entropy": lambda **kw: fastinfo.softmax_cross_entropy(P, L, **kw),
    "softmax_kl_divergence": lambda **kw: fastinfo.softmax_kl_divergence(P, P, **kw),
    "softmax_js_divergence": lambda **kw: fastinfo.softmax_js_divergence(P, P, **kw),
    "softmax_total_variation": lambda **kw: fastinfo.softmax_total_variation(P, P, **kw),
    "perplexity": lambda **kw: fastinfo.perplexity(P, L, **kw),
    "softmax_stats": lambda **kw: fastinfo.softmax_stats(P, L, k=2, **kw).nll,
    "calibration_error": lambda **kw: fastinfo.calibration_error(P, L, **kw),
    "brier_score": lambda **kw: fastinfo.brier_score(P, L, **kw),
    # its axis is the member axis: -1 (the classes) is moved to the one before
    "ensemble_uncertainty": lambda axis: fastinfo.ensemble_uncertainty(P[None], axis=_before(axis)).total,
    "sequence_scores": lambda **kw: fastinfo.sequence_scores(P, L, **kw).perplexity,
    "entropy_from_counts": lambda **kw: fastinfo.entropy_from_counts(P * 4, **kw),
    "diagonal_gaussian_kl_divergence": lambda **kw: fastinfo.diagonal_gaussian_kl_divergence(
        P, np.log(P), P[::-1], np.log(P), **kw),
    "differential_entropy": lambda **kw: fastinfo.differential_entropy(
        np.random.default_rng(0).random((3, 40)), **kw),
}


def test_every_function_with_an_axis_is_covered():
    names = {n for n in fastinfo.__all__ if callable(getattr(fastinfo, n))
             and "axis" in inspect.signature(getattr(fastinfo, n)).parameters}
    assert names <= set(CALLS), sorted(names - set(CALLS))


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("axis", [True, False, np.True_, 1.0, "1"])
def test_non_integer_axis_is_refused(name, axis):
    with pytest.raises(TypeError, match="axis"):
        CALLS[name](axis=axis)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_numpy_integer_axis_is_an_axis(name):
    np.testing.assert_array_equal(np.asarray(CALLS[name](axis=np.int64(-1))), np.asarray(CALLS[name](axis=-1)))
