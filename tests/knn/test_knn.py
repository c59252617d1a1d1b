"""k-nearest-neighbour estimators: knn_entropy (Kozachenko-Leonenko) and
knn_mutual_information (KSG algorithm 1).

Oracles: the same estimators written with scipy.spatial.cKDTree, scikit-learn's
``_compute_mi_cc`` and ``mutual_info_regression``, brute-force NumPy over the full distance
matrix (with the documented rule for duplicate points), and known entropies / mutual
informations of large samples (within their statistical error).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

import fastinfo as fi


def _log_ball(d, metric):
    return d * math.log(2.0) if metric == "chebyshev" else 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1)


def _kl_ckdtree(X, k, metric="euclidean"):
    """The estimator written with scipy.spatial.cKDTree, for data without duplicates."""
    n, d = X.shape
    r = cKDTree(X).query(X, k + 1, p=np.inf if metric == "chebyshev" else 2)[0][:, k]
    return digamma(n) - digamma(k) + _log_ball(d, metric) + d * np.mean(np.log(r))


def _dist_matrix(A, metric):
    diff = A[:, None, :] - A[None, :, :]
    if metric == "chebyshev":
        return np.abs(diff).max(axis=2)
    return np.sqrt((diff * diff).sum(axis=2))


def _kl_brute(X, k, metric="euclidean"):
    """Brute force over the distance matrix with the documented rule for zero k-th distances."""
    n, d = X.shape
    D = _dist_matrix(X, metric)
    ks, logs = [], []
    for i in range(n):
        o = np.sort(np.delete(D[i], i))
        r, ki = o[k - 1], k
        if r == 0:
            ki = int(np.sum(o == 0)) + 1
            r = o[o > 0].min()
        ks.append(ki)
        logs.append(math.log(r))
    return digamma(n) - np.mean(digamma(np.array(ks, float))) + _log_ball(d, metric) + d * np.mean(logs)


def _ksg_brute(x, y, k):
    x = x.reshape(len(x), -1)
    y = y.reshape(len(y), -1)
    n = len(x)
    Dx = _dist_matrix(x, "chebyshev")
    Dy = _dist_matrix(y, "chebyshev")
    Dj = np.maximum(Dx, Dy)
    t = 0.0
    for i in range(n):
        o = np.delete(np.arange(n), i)
        eps = np.sort(Dj[i, o])[k - 1]
        if eps > 0:
            ki, nx, ny = k, np.sum(Dx[i, o] < eps), np.sum(Dy[i, o] < eps)
        else:
            ki, nx, ny = np.sum(Dj[i, o] == 0), np.sum(Dx[i, o] == 0), np.sum(Dy[i, o] == 0)
        t += digamma(ki) - digamma(nx + 1) - digamma(ny + 1)
    return digamma(n) + t / n


# --- knn_entropy ---------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
@pytest.mark.parametrize("n,d,k", [(5, 1, 1), (17, 2, 3), (300, 1, 3), (1000, 3, 3), (2000, 2, 7), (600, 6, 4),
                                   (5000, 3, 1)])
def test_knn_entropy_matches_ckdtree(metric, n, d, k):
    X = np.random.default_rng(n + d + k).standard_normal((n, d))
    assert fi.knn_entropy(X, k=k, metric=metric) == pytest.approx(_kl_ckdtree(X, k, metric), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
def test_knn_entropy_duplicates_brute_force(metric):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((40, 2))
    X = np.concatenate([np.repeat(base[:10], 6, axis=0), base[10:], base[:3]])   # 6-fold and 2-fold copies
    rng.shuffle(X)
    for k in (1, 3, 5, 8):
        h = fi.knn_entropy(X, k=k, metric=metric)
        assert math.isfinite(h)
        assert h == pytest.approx(_kl_brute(X, k, metric), rel=1e-12)


def test_knn_entropy_grid_data_closed_form():
    # 9 grid points with ~2200 copies each: every point's k-th neighbour coincides with it, so
    # k_i = its multiplicity c and r_i = 1 (the nearest other grid point):
    # h = psi(n) - sum_v c_v psi(c_v) / n + log V_2 + 2 * log 1  (and fast: no O(n^2) search)
    X = np.random.default_rng(4).integers(0, 3, size=(20000, 2)).astype(float)
    _, c = np.unique(X, axis=0, return_counts=True)
    n = len(X)
    expect = digamma(n) - np.sum(c * digamma(c)) / n + math.log(math.pi)
    assert fi.knn_entropy(X, k=3) == pytest.approx(expect, rel=1e-12)
    assert fi.knn_entropy(X, k=3, metric="chebyshev") == pytest.approx(expect - math.log(math.pi) + 2 * math.log(2),
                                                                       rel=1e-12)
    with pytest.raises(ValueError, match="coincide"):
        fi.knn_entropy(np.full((10, 3), 2.5))


@settings(max_examples=60)
@given(st.integers(2, 40).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(1, 3), st.integers(1, n - 1), st.sampled_from(["euclidean", "chebyshev"]),
    st.integers(0, 2**32 - 1))))
def test_knn_entropy_property_brute_force(args):
    n, d, k, metric, seed = args
    rng = np.random.default_rng(seed)
    X = rng.integers(-3, 4, size=(n, d)).astype(float) * 0.5     # many ties and duplicates
    if np.all(X == X[0]):
        with pytest.raises(ValueError):
            fi.knn_entropy(X, k=k, metric=metric)
        return
    assert fi.knn_entropy(X, k=k, metric=metric) == pytest.approx(_kl_brute(X, k, metric), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("dist,d,true_h", [
    ("normal", 1, 0.5 * math.log(2 * math.pi * math.e)),
    ("normal", 3, 1.5 * math.log(2 * math.pi * math.e)),
    ("uniform", 2, 0.0),
    ("exponential", 1, 1.0),
])
def test_knn_entropy_known_values(dist, d, true_h):
    rng = np.random.default_rng(11)
    n = 50000
    X = getattr(rng, dist)(size=(n, d))
    # standard error of the estimator ~ sqrt(var(log f)/n) ~ 0.01 here; the uniform's edges bias it ~1e-2
    assert fi.knn_entropy(X, k=3) == pytest.approx(true_h, abs=0.04)
    assert fi.knn_entropy(X, k=3, metric="chebyshev") == pytest.approx(true_h, abs=0.04)


def test_knn_entropy_scaling_base_and_threads():
    X = np.random.default_rng(5).standard_normal((70000, 3))
    h = fi.knn_entropy(X)
    assert fi.knn_entropy(X * 4.0) == pytest.approx(h + 3 * math.log(4.0), rel=1e-13)
    assert fi.knn_entropy(X, base=2) == pytest.approx(h / math.log(2), rel=1e-14)
    assert fi.knn_entropy(X, n_threads=1) == fi.knn_entropy(X, n_threads=2)       # bitwise
    # beyond the overflow range of the distances: rescaled internally, corrected exactly
    big = fi.knn_entropy(X[:3000] * 2.0**900)
    assert big == pytest.approx(fi.knn_entropy(X[:3000]) + 3 * 900 * math.log(2), rel=1e-13)
    tiny = fi.knn_entropy(X[:3000] * 2.0**-900)
    assert tiny == pytest.approx(fi.knn_entropy(X[:3000]) - 3 * 900 * math.log(2), rel=1e-13)


def test_knn_entropy_input_forms_and_no_mutation():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((500, 2))
    ref = _kl_ckdtree(X, 3)
    Xf = np.asfortranarray(X)
    Xc = X.copy()
    assert fi.knn_entropy(Xf) == pytest.approx(ref, rel=1e-12)
    Z = np.zeros((1000, 4))
    Z[::2, ::2] = X
    assert fi.knn_entropy(Z[::2, ::2]) == pytest.approx(ref, rel=1e-12)            # strided view
    assert fi.knn_entropy(X[::-1]) == pytest.approx(ref, rel=1e-12)               # negative stride
    assert fi.knn_entropy(X.astype(np.float32)) == pytest.approx(_kl_ckdtree(X.astype(np.float32).astype(float), 3),
                                                                 rel=1e-12)
    assert fi.knn_entropy(X[:, 0]) == pytest.approx(_kl_ckdtree(X[:, :1], 3), rel=1e-12)
    ro = X.copy()
    ro.flags.writeable = False
    assert fi.knn_entropy(ro) == pytest.approx(ref, rel=1e-12)
    np.testing.assert_array_equal(X, Xc)
    ints = rng.integers(0, 10**6, size=(400, 2))
    assert fi.knn_entropy(ints) == pytest.approx(_kl_ckdtree(ints.astype(float), 3), rel=1e-12)


def test_knn_entropy_errors():
    X = np.random.default_rng(7).standard_normal((50, 2))
    bad = X.copy()
    bad[17, 1] = np.nan
    with pytest.raises(ValueError, match="row 17"):
        fi.knn_entropy(bad)
    bad[17, 1] = -np.inf
    with pytest.raises(ValueError, match="row 17"):
        fi.knn_entropy(bad)
    with pytest.raises(ValueError, match="less than the number"):
        fi.knn_entropy(X, k=50)
    with pytest.raises(ValueError, match=">= 1"):
        fi.knn_entropy(X, k=0)
    with pytest.raises(TypeError, match="int"):
        fi.knn_entropy(X, k=True)
    with pytest.raises(TypeError, match="int"):
        fi.knn_entropy(X, k=2.0)
    with pytest.raises(ValueError, match="metric"):
        fi.knn_entropy(X, metric="manhattan")
    with pytest.raises(ValueError, match="shape"):
        fi.knn_entropy(np.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match="shape"):
        fi.knn_entropy(np.float64(1.0))
    with pytest.raises(ValueError, match="coordinate"):
        fi.knn_entropy(np.zeros((10, 0)))
    with pytest.raises(TypeError, match="real"):
        fi.knn_entropy(X.astype(complex))
    with pytest.raises(ValueError):
        fi.knn_entropy(X, n_threads=0)


# --- knn_mutual_information ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sk_mi():
    return pytest.importorskip("sklearn.feature_selection._mutual_info")


@pytest.mark.parametrize("n,k,rho", [(10, 3, 0.5), (200, 1, 0.0), (1000, 3, 0.9), (4000, 5, 0.3), (20000, 3, 0.6)])
def test_ksg_matches_sklearn_compute_mi_cc(sk_mi, n, k, rho):
    rng = np.random.default_rng(n + k)
    x = rng.standard_normal(n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(n)
    ours = fi.knn_mutual_information(x, y, k=k)
    assert ours == pytest.approx(sk_mi._compute_mi_cc(x, y, k), abs=1e-12)
    assert ours >= 0.0


def test_ksg_matches_mutual_info_regression(sk_mi):
    from sklearn.feature_selection import mutual_info_regression
    rng = np.random.default_rng(8)
    n = 3000
    X = rng.standard_normal((n, 3))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.standard_normal(n)
    Xs = X / X.std(axis=0)           # what mutual_info_regression does first
    ys = y / y.std()
    ref = mutual_info_regression(X, y, n_neighbors=4, random_state=0)
    ours = [fi.knn_mutual_information(Xs[:, j], ys, k=4) for j in range(3)]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


@settings(max_examples=60)
@given(st.integers(2, 40).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(1, 3), st.integers(1, 2), st.integers(1, n - 1), st.integers(0, 2**32 - 1))))
def test_ksg_property_brute_force(args):
    n, dx, dy, k, seed = args
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(n, dx)) * 0.25          # ties and duplicates in x, y and jointly
    y = rng.integers(-2, 3, size=(n, dy)) * 0.25
    raw = fi.knn_mutual_information(x, y, k=k, clip=False)
    assert raw == pytest.approx(_ksg_brute(x, y, k), rel=1e-12, abs=1e-12)
    assert fi.knn_mutual_information(x, y, k=k) == max(0.0, raw)


def test_ksg_multivariate_continuous_brute_force():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((300, 2))
    y = np.column_stack([x[:, 0] + rng.standard_normal(300), rng.standard_normal(300), x[:, 1] ** 2])
    assert fi.knn_mutual_information(x, y, k=3, clip=False) == pytest.approx(_ksg_brute(x, y, 3), rel=1e-12)


def test_ksg_known_values():
    rng = np.random.default_rng(10)
    n = 20000
    for rho in (0.0, 0.5, 0.9):
        x = rng.standard_normal(n)
        y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(n)
        assert fi.knn_mutual_information(x, y, clip=False) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.02)
    # 2-D Gaussian pair: I = -1/2 log det(I - C C^T) for cross-correlations C = diag(0.6, 0.8)
    Z = rng.standard_normal((n, 4))
    x = Z[:, :2]
    y = np.column_stack([0.6 * Z[:, 0] + 0.8 * Z[:, 2], 0.8 * Z[:, 1] + 0.6 * Z[:, 3]])
    true = -0.5 * (math.log(1 - 0.36) + math.log(1 - 0.64))
    assert fi.knn_mutual_information(x, y, k=5) == pytest.approx(true, abs=0.05)
    # discrete X = Y with 4 equally likely values: I = H(X) = log 4, not a huge or infinite number
    c = rng.integers(0, 4, n).astype(float)
    assert fi.knn_mutual_information(c, c) == pytest.approx(math.log(4), abs=0.01)
    assert fi.knn_mutual_information(c, c, base=2) == pytest.approx(2.0, abs=0.015)


def test_ksg_invariances_and_threads():
    rng = np.random.default_rng(12)
    n = 60000
    x = rng.standard_normal(n)
    y = x**3 + rng.standard_normal(n)
    mi = fi.knn_mutual_information(x, y)
    assert fi.knn_mutual_information(x, y, n_threads=1) == mi          # bitwise
    p = rng.permutation(n)
    assert fi.knn_mutual_information(x[p], y[p]) == mi                 # integer counts: exact
    assert fi.knn_mutual_information(x * 2.0**700, y * 2.0**700) == mi  # rescaled internally: exact
    assert fi.knn_mutual_information(y, x) == pytest.approx(mi, abs=1e-14)


def test_ksg_errors_and_no_mutation():
    rng = np.random.default_rng(13)
    x = rng.standard_normal(100)
    y = rng.standard_normal((100, 2))
    xc, yc = x.copy(), y.copy()
    fi.knn_mutual_information(x, y)
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(y, yc)
    bad = y.copy()
    bad[42, 0] = np.inf
    with pytest.raises(ValueError, match="y must be finite: row 42"):
        fi.knn_mutual_information(x, bad)
    with pytest.raises(ValueError, match="same number"):
        fi.knn_mutual_information(x, y[:99])
    with pytest.raises(ValueError, match="less than"):
        fi.knn_mutual_information(x, y, k=100)
    with pytest.raises(TypeError, match="real"):
        fi.knn_mutual_information(x.astype(object), y)


# --- extreme magnitudes, and k beyond the small-k search ------------------------------------

@pytest.mark.parametrize("x", [
    [0.0, 1e-170, 1.0, 2.0, 3.5],                            # a square that underflows to 0
    np.r_[np.random.default_rng(1).standard_normal(300), 1e300],   # a bulk scaled down to nothing
    [2.0**-486, 2.0**-486 + 2.0**-538, 2.0**-486 + 2.0**-537],     # non-transitive "coincidence"
    [0.0, 5e-324, 1e-323, 2e-323, 4e-323],                   # subnormal data: no OverflowError
    np.array([0, 1, 2, 3, 5]) * 1e-310,
    np.r_[np.random.default_rng(2).standard_normal(300) * 1e-24, 1e300],
])
def test_knn_entropy_extreme_magnitudes_one_dimension(x):
    # in one dimension the Euclidean and Chebyshev distances are the same numbers (and
    # log V_1 = log 2 for both): the two metrics must agree; both must match the brute force
    X = np.asarray(x, dtype=float)[:, None]
    c = fi.knn_entropy(X, k=1, metric="chebyshev")
    if np.ptp(X[:-1]) < 1e-320 * np.abs(X).max():
        # beyond what squared distances resolve: a clear error, not a silently wrong number
        with pytest.raises(ValueError, match="chebyshev"):
            fi.knn_entropy(X, k=1)
    else:
        e = fi.knn_entropy(X, k=1)
        assert math.isfinite(e) and e == pytest.approx(c, rel=1e-12, abs=1e-12)
    D = np.abs(X - X.T)                                    # exact differences, no squares
    np.fill_diagonal(D, np.inf)
    r = D.min(axis=1)
    brute = digamma(len(X)) - digamma(1) + math.log(2.0) + float(np.mean(np.log(r)))
    assert c == pytest.approx(brute, rel=1e-12, abs=1e-12)


def test_ksg_tiny_values_beside_a_huge_one_are_not_merged():
    rng = np.random.default_rng(14)
    g = rng.standard_normal(500)
    x = np.r_[g * 1e-23, 1e300]
    y = np.r_[g + rng.standard_normal(500), 0.0] * 1e-23
    assert fi.knn_mutual_information(x, y, k=3, clip=False) == pytest.approx(_ksg_brute(x, y, 3), rel=1e-12)
    tiny = np.arange(10) * 5e-324
    assert math.isfinite(fi.knn_mutual_information(tiny, tiny[::-1], k=2))
    with pytest.raises(TypeError, match="clip"):
        fi.knn_mutual_information(x, y, clip="no")


@pytest.mark.parametrize("n,k", [(400, 13), (400, 200), (300, 299)])
def test_large_k_binary_heap_path(n, k):
    X = np.random.default_rng(n + k).standard_normal((n, 2))
    assert fi.knn_entropy(X, k=k) == pytest.approx(_kl_ckdtree(X, k), rel=1e-12)
    assert fi.knn_entropy(X, k=k, metric="chebyshev") == pytest.approx(_kl_ckdtree(X, k, "chebyshev"), rel=1e-12)
    y = X[:, 0] + X[:, 1]
    assert fi.knn_mutual_information(X[:, 0], y, k=k, clip=False) == pytest.approx(
        _ksg_brute(X[:, 0], y, k), rel=1e-12, abs=1e-12)
