"""Pairwise matrices (pairwise_cross_entropy, pairwise_kl_divergence, pairwise_js_divergence)
against SciPy loops over the pairs and scipy.spatial.distance.cdist (independent oracles)."""
import math

import mpmath
import numpy as np
import pytest
from helpers import mp_js, random_rows, ref_cross_entropy, ref_kl, traced_peak
from scipy.spatial.distance import cdist, jensenshannon

import fastinfo

REF = {"ce": ref_cross_entropy, "kl": ref_kl, "js": lambda p, q: jensenshannon(p, q) ** 2}


def ref(measure, P, Q):
    """The matrix of SciPy's measure over every pair of rows."""
    with np.errstate(divide="ignore"):
        return np.array([[REF[measure](p, q) for q in Q] for p in P])


FUNCS = {"ce": fastinfo.pairwise_cross_entropy, "kl": fastinfo.pairwise_kl_divergence,
         "js": fastinfo.pairwise_js_divergence}


@pytest.mark.parametrize("measure,method", [("ce", "blas"), ("ce", "exact"), ("kl", "blas"), ("kl", "exact"),
                                            ("js", None)])
@pytest.mark.parametrize("shape", [(9, 13, 31), (1, 1, 5), (40, 3, 700)])
def test_matches_scipy(measure, method, shape):
    N, M, K = shape
    P, Q = random_rows(N, K, 1), random_rows(M, K, 2, zeros=0.1)
    want = ref(measure, P, Q)
    kw = {} if method is None else {"method": method}
    got = FUNCS[measure](P, Q, **kw)
    assert got.shape == (N, M) and got.dtype == np.float64
    assert np.array_equal(np.isposinf(got), np.isposinf(want))     # +inf exactly where p > 0 = q
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-12, atol=1e-14)
    if measure == "js":
        d = fastinfo.pairwise_js_divergence(P, Q, distance=True)
        assert not np.isnan(d).any() and np.all(d <= math.sqrt(math.log(2)) + 1e-15)


def test_pairwise_js_distance_vs_cdist():
    P, Q = random_rows(7, 20, 21, zeros=0.25), random_rows(5, 20, 22, zeros=0.25)
    Q[0] = P[2]                                            # identical rows: distance 0
    P[0] = 0
    P[0, :8] = 0.125
    Q[1] = 0
    Q[1, 12:] = 0.125                                      # disjoint supports: sqrt(log 2)
    want = cdist(P, Q, metric="jensenshannon")
    got = fastinfo.pairwise_js_divergence(P, Q, distance=True)
    assert got.shape == (7, 5)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert got[2, 0] == 0.0 and got[0, 1] == pytest.approx(math.sqrt(math.log(2)), rel=1e-15)
    want2 = cdist(P, Q, metric=lambda u, v: jensenshannon(u, v, base=2))
    got2 = fastinfo.pairwise_js_divergence(P, Q, distance=True, base=2)
    np.testing.assert_allclose(got2, want2, rtol=1e-12, atol=1e-15)
    assert got2[0, 1] == pytest.approx(1.0, rel=1e-15)
    # the divergence itself is the squared distance
    np.testing.assert_allclose(fastinfo.pairwise_js_divergence(P, Q), want ** 2, rtol=1e-12, atol=1e-16)


def test_normalize_base_out_float32_and_threads():
    rng = np.random.default_rng(4)
    P, Q = rng.random((30, 50)) * 7, rng.random((20, 50)) * 0.3
    Pn, Qn = P / P.sum(1, keepdims=True), Q / Q.sum(1, keepdims=True)
    for m in ("ce", "kl"):
        for method in ("blas", "exact"):
            got = FUNCS[m](P, Q, normalize=True, base=2, method=method)
            np.testing.assert_allclose(got, ref(m, Pn, Qn) / math.log(2), rtol=1e-12, atol=1e-14)
    out = np.empty((30, 20))
    r = fastinfo.pairwise_js_divergence(P, Q, normalize=True, out=out)
    assert r is out
    np.testing.assert_allclose(out, ref("js", Pn, Qn), rtol=1e-12, atol=1e-15)
    f32 = fastinfo.pairwise_kl_divergence(Pn.astype(np.float32), Qn.astype(np.float32), method="exact")
    np.testing.assert_allclose(f32, ref("kl", Pn.astype(np.float32).astype(float),
                                         Qn.astype(np.float32).astype(float)), rtol=1e-5)
    big_p, big_q = random_rows(64, 600, 7), random_rows(50, 600, 8)
    for f in (fastinfo.pairwise_js_divergence,
              lambda a, b, n_threads: fastinfo.pairwise_kl_divergence(a, b, method="exact", n_threads=n_threads)):
        assert np.array_equal(f(big_p, big_q, n_threads=1), f(big_p, big_q, n_threads=2))


def test_invalid_rows():
    P, Q = random_rows(4, 6, 1), random_rows(3, 6, 2)
    Q[1, 2] = -0.5
    for f in FUNCS.values():
        with pytest.raises(ValueError, match="row 1 of Q"):
            f(P, Q)
        r = f(P, Q, invalid="nan")
        assert np.all(np.isnan(r[:, 1])) and np.all(np.isfinite(r[:, [0, 2]]) | np.isposinf(r[:, [0, 2]]))
    with pytest.raises(ValueError, match="columns"):
        fastinfo.pairwise_kl_divergence(P, random_rows(3, 5, 3))
    with pytest.raises(ValueError, match="sums to zero"):
        fastinfo.pairwise_cross_entropy(np.zeros((2, 6)), random_rows(3, 6, 2), normalize=True)


def test_memory_is_the_output_plus_blocks():
    P, Q = random_rows(2000, 500, 1), random_rows(1500, 500, 2)          # 8 MB and 6 MB of input
    fastinfo.pairwise_cross_entropy(P[:10], Q[:10])
    _, peak = traced_peak(lambda: fastinfo.pairwise_cross_entropy(P, Q))
    output = 2000 * 1500 * 8
    assert peak < output + 6 * (8 << 20) + (1 << 20), peak    # output + a few 8 MB blocks


def test_js_fast_path_falls_back_where_it_would_cancel():
    # Nearly equal rows: JS ~ 1e-11, where H(m) - (H(p) + H(q))/2 keeps ~1e-5 relative
    # accuracy; the fast path must hand those pairs to the exact kernel (vs SciPy loops).
    rng = np.random.default_rng(7)
    P = random_rows(6, 300, 8)
    Q = P * (1 + 1e-5 * rng.standard_normal(P.shape))
    Q /= Q.sum(1, keepdims=True)
    got = fastinfo.pairwise_js_divergence(P, Q)
    off = ~np.eye(6, dtype=bool)
    np.testing.assert_allclose(got[off], ref("js", P, Q)[off], rtol=1e-12)
    # the near pairs (the diagonal): SciPy's own m = (p + q)/2 rounding costs it ~1e-6
    # relative there, so the oracle is mpmath
    for i in range(6):
        want = mp_js(P[i], Q[i])
        assert 1e-12 < got[i, i] < 1e-9 and abs(got[i, i] - want) <= 1e-9 * want


@pytest.mark.parametrize("layout", ["F", "strided", "float32"])
def test_js_fast_path_layouts(layout):
    P, Q = random_rows(30, 257, 3), random_rows(41, 257, 4, zeros=0.3)
    if layout == "F":
        P2, Q2 = np.asfortranarray(P), np.asfortranarray(Q)
    elif layout == "strided":
        big = np.zeros((41, 514))
        big[:, ::2] = Q
        P2, Q2 = P, big[:, ::2]
    else:
        P2, Q2 = P.astype(np.float32), Q.astype(np.float32)
        P, Q = P2.astype(np.float64), Q2.astype(np.float64)
    want = ref("js", P, Q)
    got = fastinfo.pairwise_js_divergence(P2, Q2, normalize=True)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-15)
    with pytest.raises(ValueError, match="method"):
        fastinfo.pairwise_js_divergence(P, Q, method="blas")


def test_js_fast_path_values_above_one_as_passed():
    # unnormalized rows with values on both sides of 1: the terms m log m change sign and
    # cancel inside the sums, so such rows go to the exact kernel
    K = 20000
    w = 0.5 * math.log(2.0)
    # w' with w' log w' = -0.5 log 0.5: a value above 1 whose term cancels the 0.5 terms
    v = float(mpmath.findroot(lambda t: t * mpmath.log(t) - w, 1.3))
    p = np.concatenate([np.full(K // 2, 0.5), np.full(K // 2, v)])
    q = p.copy()
    q[0] *= 1.001
    q[-1] *= 0.999
    fast = fastinfo.pairwise_js_divergence(p[None], q[None])[0, 0]
    exact = fastinfo.pairwise_js_divergence(p[None], q[None], method="exact")[0, 0]
    want = fastinfo.js_divergence(p, q, normalize=False)
    assert abs(fast - want) <= 1e-12 * want and abs(exact - want) <= 1e-12 * want
