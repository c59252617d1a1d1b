"""Calibration: calibration_error (expected / root-mean-square / maximum calibration error,
top-label and classwise, uniform and quantile bins), brier_score, fit_temperature and
reliability_diagram.

Expected values come from independent computations only: the binning and error formulas
written out below in NumPy (edges from np.linspace or np.quantile, a value c in bin
np.searchsorted(edges[1:-1], c, side="left"), i.e. right-closed bins with 0 in the first and 1
in the last), small cases worked out by hand, scikit-learn (calibration_curve's per-bin means,
brier_score_loss), torchmetrics where installed, and for the temperature SciPy's bounded
scalar minimizer and a bracketing root of the NLL's derivative. fastinfo's results are compared
with each other only where the contract promises equality (logits against their softmax, 1-D
binary against two columns, axis, n_threads).
"""

import math
import warnings

import numpy as np
import pytest
import scipy.optimize as so
import scipy.special as sc
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo

RTOL, ATOL = 1e-12, 1e-13
NORMS = ["l1", "l2", "max"]
STRATEGIES = ["uniform", "quantile"]
MODES = ["top_label", "classwise"]

SETTINGS = settings(max_examples=50, deadline=None)


# --------------------------------------------------------------------------- data and oracles
def probs(n, k, seed=0, scale=2.0):
    """Random probability rows (softmax of normal logits), float64."""
    return sc.softmax(np.random.default_rng(seed).normal(size=(n, k)) * scale, axis=1)


def draw_labels(p, seed=0):
    """One label per row drawn from that row's distribution."""
    u = np.random.default_rng(seed).random(len(p))
    return np.minimum((u[:, None] > np.cumsum(p, axis=1)).sum(axis=1), p.shape[1] - 1)


def as_rows(p):
    """A 1-D binary probability as the two-column rows [1 - p, p]; 2-D unchanged."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([1.0 - p, p], axis=1) if p.ndim == 1 else p


def ref_bins(c, hit, n_bins, strategy):
    """edges, counts, mean confidence and accuracy per bin (NaN where empty) of the pairs
    (c_i, hit_i), binned by the right-closed rule."""
    c = np.asarray(c, dtype=np.float64)
    hit = np.asarray(hit, dtype=np.float64)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.quantile(c, np.linspace(0.0, 1.0, n_bins + 1))
    idx = np.searchsorted(edges[1:-1], c, side="left")
    counts = np.zeros(n_bins, dtype=np.int64)
    conf = np.full(n_bins, np.nan)
    acc = np.full(n_bins, np.nan)
    for b in range(n_bins):
        m = idx == b
        counts[b] = m.sum()
        if counts[b]:
            conf[b] = c[m].mean()
            acc[b] = hit[m].mean()
    return edges, counts, conf, acc


def ref_calibration(p, labels, n_bins=15, norm="l1", strategy="uniform", mode="top_label"):
    """(error, (edges, counts, confidence, accuracy)) from the contract's formulas."""
    P = as_rows(p)
    y = np.asarray(labels)
    n, k = P.shape
    if mode == "top_label":
        pred = np.argmax(P, axis=1)  # the first maximal class
        groups = [(P.max(axis=1), pred == y)]
    else:
        groups = [(P[:, j], y == j) for j in range(k)]
    res = [ref_bins(c, hit, n_bins, strategy) for c, hit in groups]
    sums1, sums2, maxes = [], [], []
    for _, counts, conf, acc in res:
        ne = counts > 0
        d = np.abs(acc[ne] - conf[ne])
        w = counts[ne] / n
        sums1.append(np.sum(w * d))
        sums2.append(np.sum(w * d * d))
        maxes.append(d.max())
    err = {"l1": np.mean(sums1), "l2": math.sqrt(np.mean(sums2)), "max": np.max(maxes)}[norm]
    bins = res[0] if mode == "top_label" else tuple(np.stack([r[i] for r in res]) for i in range(4))
    return float(err), bins


def assert_bins(got, want, rtol=RTOL, atol=ATOL):
    """A CalibrationBins against (edges, counts, confidence, accuracy): counts exactly, NaN
    where empty."""
    edges, counts, conf, acc = want
    assert isinstance(got, fastinfo.CalibrationBins)
    assert got.counts.dtype == np.int64
    np.testing.assert_array_equal(got.counts, counts)
    np.testing.assert_allclose(got.edges, edges, rtol=1e-13, atol=1e-16)  # ulps of interpolation
    for name, w in (("confidence", conf), ("accuracy", acc)):
        g = np.asarray(getattr(got, name), dtype=np.float64)
        assert g.shape == w.shape, name
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=name)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=name)


def check_against_oracle(p, labels, **kw):
    err, bins = fastinfo.calibration_error(p, labels, return_bins=True, **kw)
    want_err, want_bins = ref_calibration(p, labels, **kw)
    assert isinstance(err, float)
    np.testing.assert_allclose(err, want_err, rtol=RTOL, atol=ATOL)
    assert_bins(bins, want_bins)
    return err, bins


def nll(x, y, t):
    """Mean NLL of softmax(x / t) over the labels y, float64."""
    return float(np.mean(sc.logsumexp(x / t, axis=1) - x[np.arange(len(y)), y] / t))


def mean_entropy(x, t):
    return float(np.mean(np.sum(sc.entr(sc.softmax(x / t, axis=1)), axis=1)))


def nll_slope(x, y, beta):
    """d/d(beta) of the mean NLL of softmax(beta x): mean(E_p[x] - x_label), increasing in beta."""
    p = sc.softmax(beta * x, axis=1)
    return float(np.mean(np.sum(p * x, axis=1) - x[np.arange(len(y)), y]))


def scipy_temperature(x, y, bounds=(0.01, 100.0)):
    r = so.minimize_scalar(lambda t: nll(x, y, t), bounds=bounds, method="bounded",
                           options={"xatol": 1e-12})
    return float(r.x)


def root_temperature(x, y):
    """The minimizer as the root of the NLL's derivative in beta = 1/T (bracketing, to ~1e-15)."""
    return 1.0 / so.brentq(lambda b: nll_slope(x, y, b), 1e-4, 1e3, xtol=1e-15, rtol=4 * np.finfo(float).eps)


def tempered_data(n, k, t_true, seed):
    """Logits and labels drawn from softmax(logits / t_true): the NLL's minimizer is near t_true."""
    x = np.random.default_rng(seed).normal(size=(n, k)) * 3.0
    return x, draw_labels(sc.softmax(x / t_true, axis=1), seed + 1)


# =========================================================================== calibration_error
def test_hand_computed_top_label():
    """Four rows, n_bins = 5 (edges 0, .2, .4, .6, .8, 1), top label:
    [.9 .05 .05] label 0: confidence .9, correct, bin 4;
    [.1 .7 .2]   label 2: .7, wrong, bin 3;
    [.4 .4 .2]   label 0: .4 (first maximal class 0: correct), on the edge .4 -> bin 1;
    [.25 .25 .5] label 1: .5, wrong, bin 2.
    Per bin |acc - conf| = .6, .5, .7, .1 with weight 1/4 each:
    l1 = 1.9 / 4 = .475, l2 = sqrt((.36 + .25 + .49 + .01) / 4) = sqrt(.2775), max = .7."""
    p = np.array([[0.9, 0.05, 0.05], [0.1, 0.7, 0.2], [0.4, 0.4, 0.2], [0.25, 0.25, 0.5]])
    y = np.array([0, 2, 0, 1])
    for norm, want in (("l1", 0.475), ("l2", math.sqrt(0.2775)), ("max", 0.7)):
        assert fastinfo.calibration_error(p, y, n_bins=5, norm=norm) == pytest.approx(want, rel=1e-12)
    err, bins = fastinfo.calibration_error(p, y, n_bins=5, return_bins=True)
    assert err == pytest.approx(0.475, rel=1e-12)
    np.testing.assert_array_equal(bins.edges, np.linspace(0, 1, 6))
    np.testing.assert_array_equal(bins.counts, [0, 1, 1, 1, 1])
    np.testing.assert_allclose(bins.confidence, [np.nan, 0.4, 0.5, 0.7, 0.9], rtol=1e-15)
    np.testing.assert_allclose(bins.accuracy, [np.nan, 1.0, 0.0, 0.0, 1.0], rtol=0)


def test_hand_computed_classwise():
    """The same four rows, classwise, n_bins = 5 (N = 4):
    class 0: p = .9 .1 .4 .25, hit 1 0 1 0: bins {.1} |0-.1|, {.4 .25} |.5-.325| twice, {.9} |1-.9|:
             (.1 + .35 + .1) / 4 = .1375;
    class 1: p = .05 .7 .4 .25, hit 0 0 0 1: {.05} .05, {.4 .25} .175 twice, {.7} .7: 1.1 / 4 = .275;
    class 2: p = .05 .2 .2 .5, hit 0 1 0 0: {.05 .2 .2} (.2 on the edge -> bin 0) |1/3 - .15| three
             times = .55, {.5} .5: 1.05 / 4 = .2625.
    l1 = mean = .225; l2 = sqrt(mean of (.08125, .55375, 421/1200) / 4) = sqrt(1183 / 14400);
    max = .7."""
    p = np.array([[0.9, 0.05, 0.05], [0.1, 0.7, 0.2], [0.4, 0.4, 0.2], [0.25, 0.25, 0.5]])
    y = np.array([0, 2, 0, 1])
    for norm, want in (("l1", 0.225), ("l2", math.sqrt(1183 / 14400)), ("max", 0.7)):
        got = fastinfo.calibration_error(p, y, n_bins=5, norm=norm, mode="classwise")
        assert got == pytest.approx(want, rel=1e-12), norm
    _, bins = fastinfo.calibration_error(p, y, n_bins=5, mode="classwise", return_bins=True)
    np.testing.assert_array_equal(bins.counts, [[1, 2, 0, 0, 1], [1, 2, 0, 1, 0], [3, 0, 1, 0, 0]])
    np.testing.assert_allclose(bins.accuracy[2], [1 / 3, np.nan, 0.0, np.nan, np.nan], rtol=1e-15)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("k", [3, 10])
def test_matches_the_formulas(k, norm, strategy, mode):
    """Random rows (N = 200, so that no interior quantile falls on a data point) against the
    NumPy formulas: the error, and every bin's edges, count, confidence and accuracy."""
    p = probs(200, k, seed=k)
    y = draw_labels(probs(200, k, seed=k + 1), seed=3)
    for n_bins in (1, 7, 15):
        check_against_oracle(p, y, n_bins=n_bins, norm=norm, strategy=strategy, mode=mode)


def test_result_types_and_bin_shapes():
    """A float (or NumPy float64) result; CalibrationBins a named tuple of edges, counts,
    confidence, accuracy with shapes (n_bins+1,), (n_bins,) ... top label and (K, n_bins+1),
    (K, n_bins) ... classwise; counts int64; the default is 15 bins."""
    assert fastinfo.CalibrationBins._fields == ("edges", "counts", "confidence", "accuracy")
    p, y = probs(50, 4, seed=1), draw_labels(probs(50, 4, seed=2))
    err = fastinfo.calibration_error(p, y)
    assert isinstance(err, float) and not isinstance(err, np.ndarray)
    _, b = fastinfo.calibration_error(p, y, return_bins=True)
    assert isinstance(b, tuple) and isinstance(b, fastinfo.CalibrationBins)
    assert [np.shape(a) for a in b] == [(16,), (15,), (15,), (15,)]
    for n_bins in (1, 9):
        _, b = fastinfo.calibration_error(p, y, n_bins=n_bins, return_bins=True)
        assert [np.shape(a) for a in b] == [(n_bins + 1,), (n_bins,), (n_bins,), (n_bins,)]
        assert b.counts.dtype == np.int64 and b.counts.sum() == 50
        _, b = fastinfo.calibration_error(p, y, n_bins=n_bins, mode="classwise", return_bins=True)
        assert [np.shape(a) for a in b] == [(4, n_bins + 1), (4, n_bins), (4, n_bins), (4, n_bins)]
        assert b.counts.dtype == np.int64
        np.testing.assert_array_equal(b.counts.sum(axis=1), [50] * 4)


def test_uniform_edges_are_linspace_and_values_on_edges_go_down():
    """Uniform edges are exactly np.linspace(0, 1, n_bins + 1). With n_bins = 5, top-label
    confidences .2, .4, .5, .8, 1 (.2, .4, .8 exactly on edges) fall in bins 0, 1, 2, 3, 4: the
    bins are right-closed, the first holds its left edge and 1 is in the last. Classwise, the
    zeros of the last class (and its .2) are in bin 0."""
    p = np.array([[0.2] * 5,
                  [0.4, 0.4, 0.2, 0.0, 0.0],
                  [0.8, 0.1, 0.1, 0.0, 0.0],
                  [1.0, 0.0, 0.0, 0.0, 0.0],
                  [0.5, 0.3, 0.2, 0.0, 0.0]])
    y = np.array([0, 1, 0, 0, 2])
    err, b = fastinfo.calibration_error(p, y, n_bins=5, return_bins=True)
    np.testing.assert_array_equal(b.edges, np.linspace(0, 1, 6))
    np.testing.assert_array_equal(b.counts, [1, 1, 1, 1, 1])
    np.testing.assert_allclose(b.confidence, [0.2, 0.4, 0.5, 0.8, 1.0], rtol=1e-15)
    np.testing.assert_array_equal(b.accuracy, [1.0, 0.0, 0.0, 1.0, 1.0])
    assert err == pytest.approx((0.8 + 0.4 + 0.5 + 0.2 + 0.0) / 5, rel=1e-12)
    _, b = fastinfo.calibration_error(p, y, n_bins=5, mode="classwise", return_bins=True)
    np.testing.assert_array_equal(b.counts[4], [5, 0, 0, 0, 0])
    np.testing.assert_array_equal(b.counts[0], [1, 1, 1, 1, 1])
    np.testing.assert_array_equal(b.edges, np.tile(np.linspace(0, 1, 6), (5, 1)))


def test_binary_zero_and_one_land_in_the_end_bins():
    """1-D binary probabilities 0 and 1: classwise, p = 0 is in the first bin and p = 1 in the
    last for both classes; top label, both have confidence 1 (last bin) and are correct."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.35])
    y = np.array([0, 1, 0, 1, 1])
    err, b = fastinfo.calibration_error(p, y, n_bins=4, mode="classwise", return_bins=True)
    np.testing.assert_array_equal(b.counts, [[2, 0, 1, 2], [2, 1, 0, 2]])  # 1 - p, p
    check_against_oracle(p, y, n_bins=4, mode="classwise")
    err, b = fastinfo.calibration_error(p, y, n_bins=4, return_bins=True)
    np.testing.assert_array_equal(b.counts, [0, 0, 1, 4])
    np.testing.assert_array_equal(b.accuracy[3], 1.0)
    assert err == pytest.approx(0.2 * 0.65, rel=1e-12)  # the .35 row: confidence .65, wrong


def test_ties_take_the_first_maximal_class():
    """Top label, the prediction is the first maximal class: [.4 .4 .2] with label 0 is correct
    (error |1 - .4|), with label 1 wrong (|0 - .4|); a 1-D p = .5 predicts class 0."""
    p = np.array([[0.4, 0.4, 0.2]])
    assert fastinfo.calibration_error(p, [0], n_bins=1) == pytest.approx(0.6, rel=1e-12)
    assert fastinfo.calibration_error(p, [1], n_bins=1) == pytest.approx(0.4, rel=1e-12)
    _, b = fastinfo.calibration_error(np.array([0.5, 0.5]), [0, 1], n_bins=2, return_bins=True)
    np.testing.assert_array_equal(b.counts, [2, 0])
    assert b.accuracy[0] == 0.5
    _, b = fastinfo.calibration_error(np.array([0.5, 0.5]), [0, 0], n_bins=2, return_bins=True)
    assert b.accuracy[0] == 1.0


def test_all_rows_in_one_bin():
    """Every confidence in (.6, .8] with n_bins = 5: one non-empty bin, the other four NaN,
    and l1 = l2 = max = |accuracy - mean confidence|."""
    rng = np.random.default_rng(5)
    c = rng.uniform(0.61, 0.79, size=40)
    p = np.stack([c, (1 - c) / 2, (1 - c) / 2], axis=1)
    y = rng.integers(0, 3, size=40)
    want = abs(np.mean(y == 0) - c.mean())
    for norm in NORMS:
        err, b = fastinfo.calibration_error(p, y, n_bins=5, norm=norm, return_bins=True)
        assert err == pytest.approx(want, rel=1e-12, abs=1e-15), norm
        np.testing.assert_array_equal(b.counts, [0, 0, 0, 40, 0])
        assert np.isnan(b.confidence[[0, 1, 2, 4]]).all() and np.isnan(b.accuracy[[0, 1, 2, 4]]).all()


def test_empty_bins_carry_no_weight():
    """Confidences only in (0.5, 0.6] and (0.9, 1] with 10 bins: eight empty bins (count 0, NaN
    means) and the error from the two others alone."""
    c = np.r_[np.full(6, 0.55), np.full(4, 0.95)]
    p = np.stack([c, 1 - c], axis=1)
    y = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 1])
    want = 0.6 * abs(0.5 - 0.55) + 0.4 * abs(0.75 - 0.95)
    err, b = fastinfo.calibration_error(p, y, n_bins=10, return_bins=True)
    assert err == pytest.approx(want, rel=1e-12)
    assert (b.counts == 0).sum() == 8 and np.isnan(b.confidence).sum() == 8
    assert fastinfo.calibration_error(p, y, n_bins=10, norm="max") == pytest.approx(0.2, rel=1e-12)
    assert fastinfo.calibration_error(p, y, n_bins=10, norm="l2") == pytest.approx(
        math.sqrt(0.6 * 0.05 ** 2 + 0.4 * 0.2 ** 2), rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_quantile_bins_with_many_equal_confidences(mode):
    """Quantile edges are np.quantile of the confidences; when most of them are equal the edges
    repeat and the bins between equal edges stay empty, every row still counted once."""
    rng = np.random.default_rng(9)
    n = 200
    c = np.where(rng.random(n) < 0.75, 0.9, rng.uniform(0.4, 1.0, n))
    c[:5] = 0.9
    p = np.stack([c, 1 - c], axis=1)
    y = rng.integers(0, 2, size=n)
    for n_bins in (4, 10):
        for norm in NORMS:
            _, b = check_against_oracle(p, y, n_bins=n_bins, norm=norm, strategy="quantile", mode=mode)
        counts = b.counts if mode == "top_label" else b.counts[0]
        assert counts.sum() == n and (counts == 0).any()


def test_quantile_edges_are_the_quantiles():
    """Quantile edges, top label: np.quantile(max_k p_ik, linspace(0, 1, n_bins + 1)); classwise
    row k: np.quantile(p[:, k], ...)."""
    p, y = probs(101, 4, seed=21), draw_labels(probs(101, 4, seed=22))
    q = np.linspace(0, 1, 9)
    _, b = fastinfo.calibration_error(p, y, n_bins=8, strategy="quantile", return_bins=True)
    np.testing.assert_allclose(b.edges, np.quantile(p.max(axis=1), q), rtol=1e-13, atol=1e-16)
    _, b = fastinfo.calibration_error(p, y, n_bins=8, strategy="quantile", mode="classwise",
                                      return_bins=True)
    np.testing.assert_allclose(b.edges, np.quantile(p, q, axis=0).T, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n_bins", [5, 15])
def test_per_bin_means_vs_sklearn_calibration_curve(n_bins, strategy):
    """scikit-learn's calibration_curve (same right-closed rule) gives the accuracy and mean
    confidence of the non-empty bins: top label on (max_k p_ik, correct), and for a 1-D binary
    input classwise row 1 on (p, label)."""
    calibration_curve = pytest.importorskip("sklearn.calibration").calibration_curve
    p, y = probs(402, 5, seed=31, scale=1.5), draw_labels(probs(402, 5, seed=32))
    _, b = fastinfo.calibration_error(p, y, n_bins=n_bins, strategy=strategy, return_bins=True)
    correct = (np.argmax(p, axis=1) == y).astype(int)
    prob_true, prob_pred = calibration_curve(correct, p.max(axis=1), n_bins=n_bins, strategy=strategy)
    ne = b.counts > 0
    np.testing.assert_allclose(b.accuracy[ne], prob_true, rtol=1e-12)
    np.testing.assert_allclose(b.confidence[ne], prob_pred, rtol=1e-12)

    rng = np.random.default_rng(33)
    pb = rng.beta(0.7, 0.7, size=402)
    yb = (rng.random(402) < pb).astype(int)
    _, b = fastinfo.calibration_error(pb, yb, n_bins=n_bins, strategy=strategy, mode="classwise",
                                      return_bins=True)
    prob_true, prob_pred = calibration_curve(yb, pb, n_bins=n_bins, strategy=strategy)
    ne = b.counts[1] > 0
    np.testing.assert_allclose(b.accuracy[1][ne], prob_true, rtol=1e-12)
    np.testing.assert_allclose(b.confidence[1][ne], prob_pred, rtol=1e-12)


@pytest.mark.parametrize("norm", NORMS)
def test_top_label_vs_torchmetrics(torch, norm):
    """torchmetrics' multiclass_calibration_error (uniform bins, top label; it bins in float32
    with left-closed bins, which only matters on an edge) on random rows without ties."""
    pytest.importorskip("torchmetrics")
    from torchmetrics.functional.classification import multiclass_calibration_error
    p, y = probs(500, 6, seed=41), draw_labels(probs(500, 6, seed=42))
    for n_bins in (10, 15):
        want = multiclass_calibration_error(torch.from_numpy(p), torch.from_numpy(y), num_classes=6,
                                            n_bins=n_bins, norm=norm)
        got = fastinfo.calibration_error(p, y, n_bins=n_bins, norm=norm)
        assert got == pytest.approx(float(want), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("norm", NORMS)
def test_binary_vector_equals_two_columns(norm, strategy, mode):
    """A 1-D binary input is the two-column rows [1 - p, p], for probabilities and for logits
    (sigmoid(z) against softmax of [0, z]); the bins agree too."""
    rng = np.random.default_rng(51)
    z = rng.normal(size=300) * 2
    pr = sc.expit(z)
    y = (rng.random(300) < sc.expit(z / 1.5)).astype(np.int64)
    kw = dict(n_bins=12, norm=norm, strategy=strategy, mode=mode)
    e1, b1 = fastinfo.calibration_error(pr, y, return_bins=True, **kw)
    e2, b2 = fastinfo.calibration_error(np.stack([1 - pr, pr], axis=1), y, return_bins=True, **kw)
    assert e1 == pytest.approx(e2, rel=1e-12, abs=1e-15)
    np.testing.assert_array_equal(b1.counts, b2.counts)
    check_against_oracle(pr, y, **kw)
    e3 = fastinfo.calibration_error(z, y, from_logits=True, **kw)
    e4 = fastinfo.calibration_error(np.stack([np.zeros_like(z), z], axis=1), y, from_logits=True, **kw)
    assert e3 == pytest.approx(e1, rel=1e-12, abs=1e-15)
    assert e4 == pytest.approx(e1, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("norm", NORMS)
def test_logits_equal_their_softmax(norm, strategy, mode):
    """from_logits=True on logits equals passing fastinfo.softmax(logits), and the formulas on
    SciPy's softmax."""
    rng = np.random.default_rng(61)
    x = rng.normal(size=(300, 7)) * 3
    y = rng.integers(0, 7, size=300)
    kw = dict(n_bins=10, norm=norm, strategy=strategy, mode=mode)
    e1, b1 = fastinfo.calibration_error(x, y, from_logits=True, return_bins=True, **kw)
    e2, b2 = fastinfo.calibration_error(fastinfo.softmax(x), y, return_bins=True, **kw)
    assert e1 == pytest.approx(e2, rel=1e-12, abs=1e-15)
    np.testing.assert_array_equal(b1.counts, b2.counts)
    want, _ = ref_calibration(sc.softmax(x, axis=1), y, **kw)
    assert e1 == pytest.approx(want, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_class_axis_and_threads(mode):
    """axis=0 on the transposed rows gives the same error; one thread and two agree."""
    p, y = probs(300, 5, seed=71), draw_labels(probs(300, 5, seed=72))
    e = fastinfo.calibration_error(p, y, mode=mode)
    assert fastinfo.calibration_error(np.ascontiguousarray(p.T), y, axis=0, mode=mode) == pytest.approx(
        e, rel=1e-12, abs=1e-15)
    for n_threads in (1, 2):
        assert fastinfo.calibration_error(p, y, mode=mode, n_threads=n_threads) == pytest.approx(
            e, rel=1e-12, abs=1e-15)


def test_integer_label_types():
    """Labels of any integer dtype, or a list, give the same error."""
    p, y = probs(60, 4, seed=81), draw_labels(probs(60, 4, seed=82))
    e = fastinfo.calibration_error(p, y)
    for lab in (y.astype(np.int32), y.astype(np.uint8), list(map(int, y))):
        assert fastinfo.calibration_error(p, lab) == e


def test_calibrated_data_has_small_error_and_overconfidence_large():
    """Labels drawn from the probabilities themselves (N = 20000): every error is small
    (l1 < .02 top label and classwise); the same logits doubled (overconfident) give a large one."""
    x = np.random.default_rng(91).normal(size=(20000, 4)) * 2
    p = sc.softmax(x, axis=1)
    y = draw_labels(p, seed=92)
    assert fastinfo.calibration_error(p, y) < 0.02
    assert fastinfo.calibration_error(p, y, mode="classwise") < 0.02
    assert fastinfo.calibration_error(p, y, strategy="quantile") < 0.02
    assert fastinfo.calibration_error(2 * x, y, from_logits=True) > 0.05


def probability_rows(draw):
    n = draw(st.integers(1, 30))
    k = draw(st.integers(2, 5))
    w = draw(st.lists(st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 3.7]),
                               min_size=k, max_size=k), min_size=n, max_size=n))
    w = np.array(w) + np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k)))[None, :]
    w[w.sum(axis=1) == 0] = 1.0
    p = w / w.sum(axis=1, keepdims=True)
    y = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    return p, y


@SETTINGS
@given(data=st.data(), n_bins=st.integers(1, 20), strategy=st.sampled_from(STRATEGIES),
       mode=st.sampled_from(MODES))
def test_property_formulas_bounds_and_norm_order(data, n_bins, strategy, mode):
    """Any rows (with ties, zeros and values on edges): every norm matches the formulas, lies
    in [0, 1], and l1 <= l2 <= max (Jensen: the bin weights sum to 1)."""
    p, y = probability_rows(data.draw)
    errs = {}
    for norm in NORMS:
        errs[norm], _ = check_against_oracle(p, y, n_bins=n_bins, norm=norm, strategy=strategy, mode=mode)
        assert 0.0 <= errs[norm] <= 1.0
    assert errs["l1"] <= errs["l2"] + 1e-12
    assert errs["l2"] <= errs["max"] + 1e-12


# --------------------------------------------------------------------------- bad input
def test_rows_that_are_not_probabilities_raise():
    """A row not summing to 1 (within 1e-4) raises ValueError naming the row and its sum (not
    pointing to from_logits: softmaxing probabilities would be silently wrong); a value outside
    [0, 1] names the row and points to from_logits=True, in 1-D too. A sum off by less than 1e-4
    passes."""
    p = probs(10, 3, seed=101)
    y = draw_labels(p)
    bad = p.copy()
    bad[7] = [0.5, 0.5, 0.5]
    for f in (fastinfo.calibration_error, fastinfo.brier_score):
        with pytest.raises(ValueError, match=r"\b7\b") as e:
            f(bad, y)
        assert "sum to 1.5" in str(e.value) and "from_logits" not in str(e.value)
    neg = p.copy()
    neg[8] = [1.25, -0.25, 0.0]
    for f in (fastinfo.calibration_error, fastinfo.brier_score):
        with pytest.raises(ValueError, match=r"\b8\b.*from_logits"):
            f(neg, y)
    pb = np.array([0.2, 0.9, 1.5, 0.1])
    for f in (fastinfo.calibration_error, fastinfo.brier_score):
        with pytest.raises(ValueError, match="from_logits"):
            f(pb, [0, 1, 1, 0])
        f(pb, [0, 1, 1, 0], from_logits=True)  # logits: fine
    ok = p.copy()
    ok[2] *= 1 + 5e-5
    fastinfo.calibration_error(ok, y)
    fastinfo.brier_score(ok, y)


def test_bad_labels_raise():
    """A label outside [0, K) raises IndexError naming its position; float labels TypeError."""
    p = probs(10, 3, seed=111)
    for f in (fastinfo.calibration_error, fastinfo.brier_score):
        for bad in (3, -1):
            y = np.zeros(10, dtype=np.int64)
            y[7] = bad
            with pytest.raises(IndexError, match=r"\b7\b"):
                f(p, y)
        with pytest.raises(IndexError):
            f(np.full(4, 0.5), [0, 1, 2, 0])
        with pytest.raises(TypeError):
            f(p, np.zeros(10))


@pytest.mark.parametrize("kw,exc", [
    ({"n_bins": 0}, ValueError), ({"n_bins": -3}, ValueError), ({"n_bins": 2.5}, (ValueError, TypeError)),
    ({"norm": "l3"}, ValueError), ({"norm": "L1"}, ValueError), ({"strategy": "kmeans"}, ValueError),
    ({"mode": "marginal"}, ValueError),
], ids=["nbins0", "nbins-neg", "nbins-float", "norm-l3", "norm-L1", "strategy", "mode"])
def test_bad_arguments_raise(kw, exc):
    """Bad n_bins, norm, strategy or mode raise."""
    p, y = probs(10, 3, seed=121), np.zeros(10, dtype=np.int64)
    with pytest.raises(exc):
        fastinfo.calibration_error(p, y, **kw)


def test_no_rows_raise():
    """N = 0 raises ValueError (2-D and 1-D)."""
    e = np.zeros(0, dtype=np.int64)
    for f in (fastinfo.calibration_error, fastinfo.brier_score):
        with pytest.raises(ValueError):
            f(np.zeros((0, 3)), e)
    with pytest.raises(ValueError):
        fastinfo.calibration_error(np.zeros(0), e)


# =========================================================================== brier_score
def test_brier_hand_computed():
    """[.7 .2 .1] label 0: .09 + .04 + .01 = .14; [.1 .1 .8] label 1: .01 + .81 + .64 = 1.46;
    mean .8. 1-D [.9 .2] labels [1 1]: (.01 + .64) / 2 = .325."""
    assert fastinfo.brier_score(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]), [0, 1]) == pytest.approx(
        0.8, rel=1e-12)
    assert fastinfo.brier_score(np.array([0.9, 0.2]), [1, 1]) == pytest.approx(0.325, rel=1e-12)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_brier_vs_sklearn(k):
    """scikit-learn's brier_score_loss with its default scaling: 1-D binary (k = 1 here) and
    multiclass (labels=range(K)); also the formula in NumPy and the logits' softmax/sigmoid."""
    brier_score_loss = pytest.importorskip("sklearn.metrics").brier_score_loss
    rng = np.random.default_rng(130 + k)
    if k == 1:
        z = rng.normal(size=500) * 2
        p = sc.expit(z)
        y = (rng.random(500) < 0.5).astype(np.int64)
        want = brier_score_loss(y, p)
        np.testing.assert_allclose(want, np.mean((p - y) ** 2), rtol=1e-12)
    else:
        z = rng.normal(size=(500, k)) * 2
        p = sc.softmax(z, axis=1)
        y = rng.integers(0, k, size=500)
        want = brier_score_loss(y, p, labels=list(range(k)))
        np.testing.assert_allclose(want, np.mean(np.sum((p - np.eye(k)[y]) ** 2, axis=1)), rtol=1e-12)
    got = fastinfo.brier_score(p, y)
    assert isinstance(got, float)
    assert got == pytest.approx(want, rel=1e-12)
    assert fastinfo.brier_score(z, y, from_logits=True) == pytest.approx(want, rel=1e-12)


def test_brier_two_columns_sum_over_both_classes():
    """(N, 2) rows are the multiclass formula, the sum over both columns: twice the 1-D binary
    score of the same probabilities."""
    rng = np.random.default_rng(141)
    p = rng.random(200)
    y = rng.integers(0, 2, size=200)
    two = np.stack([1 - p, p], axis=1)
    want = np.mean(np.sum((two - np.eye(2)[y]) ** 2, axis=1))
    assert fastinfo.brier_score(two, y) == pytest.approx(want, rel=1e-12)
    assert fastinfo.brier_score(p, y) == pytest.approx(want / 2, rel=1e-12)


def test_brier_class_axis_and_threads():
    """axis=0 on the transposed rows, and one or two threads, give the same score."""
    p, y = probs(300, 5, seed=151), draw_labels(probs(300, 5, seed=152))
    b = fastinfo.brier_score(p, y)
    assert fastinfo.brier_score(np.ascontiguousarray(p.T), y, axis=0) == pytest.approx(b, rel=1e-12)
    for n_threads in (1, 2):
        assert fastinfo.brier_score(p, y, n_threads=n_threads) == pytest.approx(b, rel=1e-12)


@SETTINGS
@given(data=st.data())
def test_property_brier_formula(data):
    """Any rows: the mean over rows of sum_k (p_ik - [k == label])^2, within [0, 2]."""
    p, y = probability_rows(data.draw)
    want = np.mean(np.sum((p - np.eye(p.shape[1])[y]) ** 2, axis=1))
    got = fastinfo.brier_score(p, y)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert 0.0 <= got <= 2.0


# =========================================================================== fit_temperature
@pytest.mark.parametrize("n,k,t_true", [(2000, 5, 1.7), (1500, 10, 0.6), (3000, 3, 3.5), (400, 2, 1.0)])
def test_temperature_vs_scipy(n, k, t_true):
    """The minimizer of the mean NLL of softmax(logits / T): within 1e-6 relative of the root of
    the NLL's derivative in 1/T, within 1e-5 of SciPy's bounded minimizer, its NLL no higher
    than SciPy's (up to what a 1e-6 relative step costs), and at it the mean NLL equals the mean
    entropy of softmax(logits / T) (the derivative's zero)."""
    x, y = tempered_data(n, k, t_true, seed=n + k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an interior minimizer: no warning
        t = fastinfo.fit_temperature(x, y)
    assert isinstance(t, float) and t > 0
    t_root = root_temperature(x, y)
    t_scipy = scipy_temperature(x, y)
    assert t == pytest.approx(t_root, rel=1e-6)
    assert t == pytest.approx(t_scipy, rel=1e-5)
    # what the documented accuracy allows: the NLL excess and the identity's gap at T*(1 +- 1e-6)
    near = [t_root * (1 - 1e-6), t_root * (1 + 1e-6)]
    excess = max(nll(x, y, s) - nll(x, y, t_root) for s in near)
    assert nll(x, y, t) <= nll(x, y, t_scipy) + max(1e-12, 1.01 * excess)
    gap = max(abs(nll(x, y, s) - mean_entropy(x, s)) for s in near)
    assert abs(nll(x, y, t) - mean_entropy(x, t)) <= max(1e-6 * nll(x, y, t), 1.01 * gap)


def test_temperature_scales_with_the_logits():
    """Multiplying the logits by c multiplies the fitted temperature by c."""
    x, y = tempered_data(1000, 4, 1.3, seed=161)
    t = fastinfo.fit_temperature(x, y)
    for c in (0.25, 4.0):
        assert fastinfo.fit_temperature(c * x, y) == pytest.approx(c * t, rel=3e-6)


@pytest.mark.parametrize("ignore", [-100, 2])
def test_temperature_ignore_index(ignore):
    """Rows whose label is ignore_index are left out: the fit on the remaining rows."""
    x, y = tempered_data(1200, 4, 2.2, seed=171)
    y = y.copy()
    drop = np.random.default_rng(172).random(1200) < 0.3
    if ignore == -100:
        y[drop] = -100
    keep = y != ignore
    t = fastinfo.fit_temperature(x, y, ignore_index=ignore)
    assert t == pytest.approx(root_temperature(x[keep], y[keep]), rel=1e-6)


def test_temperature_fixes_overconfidence():
    """Calibrated logits scaled by 2.5 fit T near 2.5, and dividing by the fitted T lowers the
    expected calibration error."""
    x = np.random.default_rng(181).normal(size=(20000, 4)) * 2
    y = draw_labels(sc.softmax(x, axis=1), seed=182)
    t = fastinfo.fit_temperature(2.5 * x, y)
    assert t == pytest.approx(2.5, rel=0.05)
    before = fastinfo.calibration_error(2.5 * x, y, from_logits=True)
    after = fastinfo.calibration_error(2.5 * x / t, y, from_logits=True)
    assert after < 0.02 < before


OUTSIDE = {  # name: (temperature the labels are drawn at, bounds, the nearer bound)
    "above-hi": (1.7, (0.01, 1.5), 1.5),   # T = 1 inside the bounds
    "below-lo": (0.6, (0.7, 100.0), 0.7),
    "above-hi-below-1": (0.6, (0.1, 0.5), 0.5),  # T = 1 outside the bounds too
    "below-lo-above-1": (1.7, (1.9, 100.0), 1.9),
    "below-lo-of-2-5": (1.7, (2.0, 5.0), 2.0),
    "above-hi-of-0.1-1": (1.7, (0.1, 1.0), 1.0),
}


def test_temperature_separable_logits_give_a_bound_with_a_warning():
    """Each label the strict maximum of its row (separable): the NLL falls as T -> 0, so the lower
    bound 0.01 is returned, with a warning; each label the strict minimum: it falls as
    T -> infinity, the upper bound 100."""
    x = np.random.default_rng(191).normal(size=(300, 4))
    for labels, want in ((np.argmax(x, axis=1), 0.01), (np.argmin(x, axis=1), 100.0)):
        with pytest.warns(Warning):
            t = fastinfo.fit_temperature(x, labels)
        assert t == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("case", list(OUTSIDE))
def test_temperature_outside_the_bounds_gives_the_nearer_bound_with_a_warning(case):
    """A minimizer outside the bounds (near the temperature the labels are drawn at) gives the
    nearer bound, with a warning."""
    t_true, bounds, want = OUTSIDE[case]
    x, y = tempered_data(2000, 5, t_true, seed=192)
    t_star = root_temperature(x, y)
    assert abs(t_star / t_true - 1) < 0.15 and not bounds[0] <= t_star <= bounds[1]
    with pytest.warns(Warning):
        t = fastinfo.fit_temperature(x, y, bounds=bounds)
    assert t == pytest.approx(want, rel=1e-6)


def test_temperature_inside_narrow_bounds():
    """A minimizer inside bounds that exclude T = 1 is still found, without a warning."""
    x, y = tempered_data(2000, 5, 1.7, seed=192)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = fastinfo.fit_temperature(x, y, bounds=(1.2, 5.0))
    assert t == pytest.approx(root_temperature(x, y), rel=1e-6)


# =========================================================================== reliability_diagram
def test_reliability_diagram_draws_the_accuracies():
    """An Axes (a new one, or the one given) with a bar per non-empty bin whose height is that
    bin's accuracy."""
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
    from matplotlib.container import BarContainer

    x = np.random.default_rng(201).normal(size=(300, 4)) * 2
    y = draw_labels(sc.softmax(x / 1.5, axis=1), seed=202)
    _, (_, counts, _, acc) = ref_calibration(sc.softmax(x, axis=1), y, n_bins=10)
    ne = counts > 0

    def heights_match(ax):
        for c in ax.containers:
            if not isinstance(c, BarContainer):
                continue
            h = np.array([r.get_height() for r in c.patches], dtype=np.float64)
            if len(h) == ne.sum() and np.allclose(h, acc[ne], rtol=1e-9, atol=1e-12):
                return True
            if len(h) == len(acc) and np.allclose(h[ne], acc[ne], rtol=1e-9, atol=1e-12):
                return True
        return False

    try:
        ax = fastinfo.reliability_diagram(x, y, n_bins=10, from_logits=True)
        assert isinstance(ax, Axes)
        assert heights_match(ax)
        fig, given_ax = plt.subplots()
        out = fastinfo.reliability_diagram(sc.softmax(x, axis=1), y, n_bins=10, ax=given_ax)
        assert out is given_ax
        assert heights_match(out)
    finally:
        plt.close("all")


def test_temperature_takes_strided_labels_and_names_the_callers_rows():
    """A column of a label matrix (a strided view) is taken; with ignore_index, errors name the
    caller's row, not a row of a filtered copy."""
    rng = np.random.default_rng(31)
    x = rng.standard_normal((40, 3))
    y2 = np.stack([np.argmax(x / 2 + rng.gumbel(size=x.shape), 1)] * 2, axis=1)
    assert fastinfo.fit_temperature(x, y2[:, 0]) == fastinfo.fit_temperature(x, np.ascontiguousarray(y2[:, 0]))
    with pytest.raises(IndexError, match="position 3"):
        fastinfo.fit_temperature(x[:4], np.array([-100, -100, 1, 7]), ignore_index=-100)
    bad = x[:4].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"\(3,\)"):
        fastinfo.fit_temperature(bad, np.array([-100, -100, 1, 2]), ignore_index=-100)


def test_temperature_warning_points_at_the_caller_for_tensors(torch):
    """The bound's warning names the calling line for torch input too (not a frame of fastinfo)."""
    x = np.array([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    with pytest.warns(RuntimeWarning) as rec:
        fastinfo.fit_temperature(torch.from_numpy(x), torch.tensor([0, 0, 1, 1]), bounds=(2.0, 5.0))
    assert rec[0].filename == __file__


def test_half_precision_probabilities_are_probabilities(torch):
    """bfloat16 / float16 softmax rows sum to 1 only within their precision: accepted as they are."""
    logits = torch.randn(500, 10, generator=torch.Generator().manual_seed(3))
    y = torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(4))
    for dt in (torch.bfloat16, torch.float16):
        p = torch.softmax(logits.to(dt), -1)
        want = fastinfo.calibration_error(p.double().numpy() / p.double().numpy().sum(1, keepdims=True), y.numpy())
        assert float(fastinfo.calibration_error(p, y)) == pytest.approx(want, abs=2e-3)
