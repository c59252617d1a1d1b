"""normalize=None (the default): one UserWarning per call for a distribution far from summing
to 1, naming it; nothing on normalized input (also rounded to float16/bfloat16); nothing with
normalize=False or True; the numbers themselves are those of normalize=False."""
import warnings

import numpy as np
import pytest
from scipy import special, stats

import fastinfo

ONE = {"entropy": lambda p, **kw: fastinfo.entropy(p, **kw),
       "renyi_entropy": lambda p, **kw: fastinfo.renyi_entropy(p, 2.0, **kw),
       "tsallis_entropy": lambda p, **kw: fastinfo.tsallis_entropy(p, 2.0, **kw)}
TWO = {"cross_entropy": fastinfo.cross_entropy, "kl_divergence": fastinfo.kl_divergence,
       "js_divergence": fastinfo.js_divergence,
       "renyi_divergence": lambda p, q, **kw: fastinfo.renyi_divergence(p, q, 0.5, **kw),
       "hellinger_distance": fastinfo.hellinger_distance, "total_variation": fastinfo.total_variation}


def _rows(n, k, seed):
    p = np.random.default_rng(seed).random((n, k)) + 0.05
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("name", sorted(ONE))
def test_counts_warn_once_naming_the_row(name):
    p = _rows(6, 5, 1)
    p[3] *= 4.0                                    # counts-like row
    p[5] *= 3.0
    with pytest.warns(UserWarning, match=r"batch index \(3,\).*normalize=True") as rec:
        ONE[name](p)
    assert len([w for w in rec if issubclass(w.category, UserWarning)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ONE[name](p, normalize=False)
        ONE[name](p, normalize=True)


@pytest.mark.parametrize("name", sorted(TWO))
def test_scaled_q_or_p_warns(name):
    p, q = _rows(4, 7, 2), _rows(4, 7, 3)
    q[2] *= 0.3
    with pytest.warns(UserWarning, match=r"batch index \(2,\)"):
        TWO[name](p, q)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TWO[name](p, q, normalize=False)


def test_the_documented_mistakes():
    # SciPy normalizes: entropy([3, 1, 0]) = 0.562; as passed the formula gives -3.296, with a warning
    with pytest.warns(UserWarning, match="sums to 4"):
        v = fastinfo.entropy([3, 1, 0])
    assert v == pytest.approx(special.entr([3, 1, 0]).sum(), rel=1e-15)
    assert fastinfo.entropy([3, 1, 0], normalize=True) == pytest.approx(stats.entropy([3, 1, 0]), rel=1e-15)
    P = np.array([0.5, 0.25, 0.25])
    with pytest.warns(UserWarning, match="sums to 0.3"):
        fastinfo.kl_divergence(0.3 * P, np.array([0.25, 0.5, 0.25]))


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_normalized_rows_rounded_to_storage_do_not_warn(dtype):
    if dtype == "bfloat16":
        ml = pytest.importorskip("ml_dtypes")
        dt = np.dtype(ml.bfloat16)
    else:
        dt = np.dtype(dtype)
    for k in (2, 10, 1000, 50000):
        logits = np.random.default_rng(k).standard_normal((3, k)) * 3
        p = special.softmax(logits, axis=1).astype(dt)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fastinfo.entropy(p)
            fastinfo.kl_divergence(p, p[::-1])
            fastinfo.renyi_entropy(p, 2.0)


def test_layouts_and_paths_agree():
    p = _rows(3, 4, 5)
    p[1] *= 2
    for arr, kw in [(p, {}), (p.T, {"axis": 0}), (np.asfortranarray(p), {}), (p[None], {}),
                    (p.astype(np.float32), {}), (p[1], {})]:
        with pytest.warns(UserWarning, match="not normalized"):
            fastinfo.entropy(arr, **kw)


def test_invalid_rows_and_empty_input_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastinfo.entropy(np.array([[0.5, np.nan]]), invalid="nan")
        fastinfo.entropy(np.empty((0, 3)))
        fastinfo.entropy(np.empty((3, 0)))


def test_the_warning_points_at_the_caller():
    with pytest.warns(UserWarning) as rec:
        fastinfo.entropy([3.0, 1.0])
    assert rec[0].filename == __file__


def test_values_are_those_of_normalize_false():
    p = _rows(5, 6, 7) * 2.5
    with pytest.warns(UserWarning):
        a = fastinfo.entropy(p)
    np.testing.assert_array_equal(a, fastinfo.entropy(p, normalize=False))
    np.testing.assert_allclose(a, -(special.xlogy(p, p)).sum(axis=1), rtol=1e-13)
