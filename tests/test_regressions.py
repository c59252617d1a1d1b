"""Regressions found in review; oracles are mpmath/NumPy-free closed forms."""

import math

import numpy as np
import pytest

import fastinfo


def test_kl_normalize_extreme_sums_with_subnormal_q():
    # normalizing makes both calls the same distributions: KL = 0.5*log(0.5/(1e-320/(1+1e-320)))
    a = fastinfo.kl_divergence([1e308, 1e308], [1.0, 1e-320], normalize=True)
    b = fastinfo.kl_divergence([1.0, 1.0], [1.0, 1e-320], normalize=True)
    expected = 0.5 * math.log(0.5) + 0.5 * (math.log(0.5) - math.log(1e-320))
    assert math.isfinite(a) and abs(a - expected) <= 1e-12 * expected
    assert abs(b - expected) <= 1e-12 * expected


@pytest.mark.parametrize("name", ["entropy", "cross_entropy"])
def test_float32_normalize_with_huge_sums(name):
    k = 1_400_000   # sum ~4.8e44: 1/sum is below the float32 normal range
    p = np.full(k, 3.4e38, np.float32)
    r = fastinfo.entropy(p, normalize=True) if name == "entropy" else \
        fastinfo.cross_entropy(np.ones(k, np.float32), p, normalize=True)
    assert abs(float(r) - math.log(k)) <= 1e-6 * math.log(k)


def test_js_distance_with_base_below_one_is_rejected():
    with pytest.raises(ValueError, match="base > 1"):
        fastinfo.js_divergence([1.0, 0.0], [0.0, 1.0], distance=True, base=0.5)
    with pytest.raises(ValueError, match="base > 1"):
        fastinfo.js_divergence(np.ones((2, 3)), np.ones((2, 3)), distance=True, base=0.5)
    # the divergence itself is fine in base 0.5: negative, and +0.0 (not -0.0) for p == q
    v = fastinfo.js_divergence([1.0, 0.0], [0.0, 1.0], base=0.5)
    assert v == -1.0
    z = fastinfo.js_divergence([0.5, 0.5], [0.5, 0.5], base=0.5)
    assert z == 0.0 and math.copysign(1.0, z) == 1.0


def test_operands_differing_by_leading_ones_broadcast():
    r = fastinfo.kl_divergence(np.array([0.5, 0.5]), np.array([[0.5, 0.5]]))
    assert isinstance(r, np.ndarray) and r.shape == (1,) and r[0] == 0.0
    r = fastinfo.kl_divergence(np.ones(3), np.ones((1, 3)), axis=0)
    assert r.shape == (3,) and np.all(r == 0.0)
    r = fastinfo.kl_divergence(np.ones((1, 3)), np.ones(3), axis=0)
    assert r.shape == (3,) and np.all(r == 0.0)


def test_nan_from_valid_input_is_explained():
    with pytest.raises(ValueError, match="undefined"):
        fastinfo.cross_entropy([1e308, 1.0], [1e308, 0.0])
    assert np.isnan(fastinfo.cross_entropy([1e308, 1.0], [1e308, 0.0], invalid="nan"))


@pytest.mark.parametrize("level", sorted(__import__("fastinfo._dispatch", fromlist=["x"]).available_kernels()))
def test_kl_ratio_underflowing_to_a_subnormal_is_recomputed(level):
    # Review of the AVX-512 blocks: p/q below the smallest normal number has lost
    # bits; the block must go to the careful path (log p - log q). Exact values
    # from mpmath: 1e-38 log(1e-38 / 5e6) and 1e-300 log(1e-300 / 3e23).
    import mpmath
    from fastinfo._dispatch import available_kernels
    mod = available_kernels()[level]
    out = np.empty(1)
    for p, q, name in ((1e-38, 5e6, "float"), (1.2098767e-25, 1.6165383e+19, "float"),
                       (1e-300, 3e23, "double")):
        dt = np.float32 if name == "float" else np.float64
        P, Q = np.array([[p]], dt), np.array([[q]], dt)
        mod.kl_divergence_rows[name](P, Q, out, False, 1.0, 1)
        x, y = mpmath.mpf(float(P[0, 0])), mpmath.mpf(float(Q[0, 0]))
        exact = float(x * mpmath.log(x / y))
        assert abs(out[0] - exact) <= 1e-14 * abs(exact), (level, p, q, out[0], exact)


def test_logits_review_findings():
    # label smoothing with invalid="nan": the invalid row is NaN (was uninitialized memory)
    x = np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]])
    for kw in (dict(label_smoothing=1.0), dict(label_smoothing=0.1, weight=[0.0, 1, 1]), dict(weight=[0.0, 1, 1])):
        r = fastinfo.softmax_cross_entropy(x, np.array([0, 1]), invalid="nan", **kw)
        assert np.isnan(r[0]) and np.isfinite(r[1]), (kw, r)
    # sums beyond the float range give inf, not OverflowError
    big = np.array([[0.75e308, -0.75e308]] * 2)
    assert fastinfo.softmax_cross_entropy(big, np.array([1, 1]), reduction="mean") == np.inf
    assert fastinfo.perplexity(big, np.array([1, 1])) == np.inf
    assert fastinfo.sigmoid_cross_entropy(np.array([1e308, 1e308]), np.array([0.0, 0.0]), reduction="sum") == np.inf


def test_fuzz_joint_axes_must_be_integers():
    # issue 8 fuzzing: axes went through int(), so axes="01" and axes=(0.7, 1) (truncated to
    # (0, 1)) were accepted silently; now operator.index, as NumPy's axis arguments
    t = np.ones((2, 3)) / 6
    for bad in ("01", (0.7, 1), (0, "1"), (0,), (0, 1, 2), 0, None):
        with pytest.raises(TypeError, match="axes must be a pair of ints"):
            fastinfo.joint_entropy(t, axes=bad)
    assert fastinfo.joint_entropy(t, axes=(np.int64(1), 0)) == fastinfo.joint_entropy(t.T)


def test_fuzz_correa_tied_window_is_minus_inf():
    # issue 8 fuzzing: Correa gave NaN (0/0, as SciPy) where 2m + 1 order statistics tie,
    # against the documented -inf every other method gives for a zero spacing
    for x in ([0.0, 0.0, 0.0], [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 4.0]):
        assert fastinfo.differential_entropy(np.array(x), method="correa", window_length=1) == -np.inf
    assert np.isfinite(fastinfo.differential_entropy(np.arange(9.0), method="correa", window_length=1))


def test_review_correa_tie_detected_by_the_window_ends():
    # review: ties were detected by a zero sum of squares, but 2m + 1 equal values whose mean
    # rounds leave +-1 ulp deviations: +inf (log 0 in the sum) or NaN instead of -inf
    for v in (0.1, 0.3, 0.7):
        for m in (1, 3):
            x = np.array([v] * 7 + [v + 1, v + 2, v + 3, v + 5, v + 8, v + 13])
            assert fastinfo.differential_entropy(x, method="correa", window_length=m) == -np.inf, (v, m)
    x = np.array([0.3] * 5 + [0.7] * 5 + [2, 3, 5, 8, 13])
    assert fastinfo.differential_entropy(x, method="correa", window_length=1) == -np.inf


def test_fuzz_spacings_that_overflow():
    # issue 8 fuzzing: differential_entropy([0, 0, 1e308]) gave NaN (log of an overflowed
    # c * spacing = +inf beside the tie's -inf; SciPy too): finite samples give a number or
    # -inf. Oracle: SciPy on the data scaled by 2^-16 (spacings scale exactly), plus 16 log 2
    from scipy import stats
    for method in ("vasicek", "van es", "ebrahimi"):
        assert fastinfo.differential_entropy(np.array([0.0, 0.0, 1e308]), method=method,
                                             window_length=1) == -np.inf, method
        x = np.array([-1.7e308, -1e308, -3.0, 0.0, 2.5, 1e307, 1.5e308, 1.7e308, 1.79e308])
        want = stats.differential_entropy(x * 2.0**-16, method=method, window_length=2) + 16 * np.log(2)
        got = fastinfo.differential_entropy(x, method=method, window_length=2)
        assert got == pytest.approx(want, rel=1e-12), (method, got, want)


def test_gaussian_batches_in_chunks_give_the_values_of_one_call(monkeypatch):
    # issue 8: the Gaussian closed forms factor and solve the batch in chunks (Ctrl-C is
    # answered between them); every matrix is handled on its own, so the values are bitwise
    # those of one LAPACK call over the whole batch, and errors name the global batch index
    import fastinfo._gaussian as g
    rng = np.random.default_rng(3)
    A = rng.random((3, 50, 4, 4))
    C = np.eye(4) + 0.05 * (A + A.transpose(0, 1, 3, 2))
    m = rng.standard_normal((3, 50, 4))
    whole = (fastinfo.gaussian_entropy(C), fastinfo.gaussian_kl_divergence(m, C, 0.5 * m, C[:, ::-1]))
    for chunk in (1, 7, 60):             # slices of the first axis, and of the second
        monkeypatch.setattr(g, "_CHUNK", chunk)
        assert np.array_equal(fastinfo.gaussian_entropy(C), whole[0])
        assert np.array_equal(fastinfo.gaussian_kl_divergence(m, C, 0.5 * m, C[:, ::-1]), whole[1])
        bad = C.copy()
        bad[2, 41] = -np.eye(4)
        with pytest.raises(ValueError, match=r"batch index \(2, 41\)"):
            fastinfo.gaussian_entropy(bad)


def test_label_ranges_in_chunks_give_the_scores_of_one_pass(monkeypatch):
    # issue 8: the label ranges of the clustering scores are taken 2^24 labels at a time
    # (Ctrl-C is answered between chunks); the extremes may sit in any chunk, the last one
    # partial, and the scores must not change. Oracle: scikit-learn's formula by hand
    # (contingency table from np.unique, MI = sum n_ij/n log(n n_ij / (a_i b_j))).
    import fastinfo._labels as lab
    rng = np.random.default_rng(5)
    x = rng.integers(-40, 40, 1001)
    y = (x // 3 + rng.integers(0, 4, 1001)).astype(np.int32)
    x[0], x[500], y[1000] = -1000, 2000, -7000            # extremes in the first, middle, last chunk
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    t = np.zeros((xi.max() + 1, yi.max() + 1))
    np.add.at(t, (xi, yi), 1)
    n, a, b = t.sum(), t.sum(1, keepdims=True), t.sum(0, keepdims=True)
    nz = t > 0
    expected = float(np.sum(t[nz] / n * np.log(n * t[nz] / (a @ b)[nz])))
    for chunk in (1, 7, 100, 1 << 24):
        monkeypatch.setattr(lab, "_RANGE_CHUNK", chunk)
        assert lab._range(x) == (int(x.min()), int(x.max()))
        assert lab._range(y) == (int(y.min()), int(y.max()))
        assert fastinfo.mutual_information_score(x, y) == pytest.approx(expected, rel=1e-12)
