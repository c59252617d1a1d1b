"""Gradient and Hessian for gradient boosting: softmax_cross_entropy_grad_hess and
sigmoid_cross_entropy_grad_hess against scikit-learn's _loss module, PyTorch autograd
(double backward for the Hessian diagonal), SciPy and mpmath."""

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit, softmax

import fastinfo as fi

sk_loss = pytest.importorskip("sklearn._loss.loss", reason="scikit-learn's private _loss module")
torch = pytest.importorskip("torch")

RNG = np.random.default_rng(20261207)


def _batch(n=500, K=7, scale=4.0, order="C"):
    x = np.asarray(RNG.standard_normal((n, K)) * scale, order=order)
    return x, RNG.integers(0, K, n), RNG.random(n) + 0.1


def _torch_focal(x, y, w, gamma):
    """gradient and Hessian diagonal of sum_i w_i * -(1 - p_iy)^gamma log p_iy by autograd (float64)"""
    X = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    lp = torch.log_softmax(X, 1)[torch.arange(len(y)), torch.as_tensor(y)]
    loss = (-(1 - lp.exp()) ** gamma * lp * torch.as_tensor(w)).sum()
    G, = torch.autograd.grad(loss, X, create_graph=True)
    H = torch.zeros_like(X)
    for c in range(x.shape[1]):
        Hc, = torch.autograd.grad(G[:, c].sum(), X, retain_graph=True)
        H[:, c] = Hc[:, c]
    return G.detach().numpy(), H.detach().numpy()


# --- multiclass: scikit-learn's HalfMultinomialLoss -------------------------------------
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_sklearn_gradient_hessian(order, weighted):
    x, y, w = _batch(order=order)
    sw = w if weighted else None
    g, h = fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=sw)
    g2, h2 = sk_loss.HalfMultinomialLoss(n_classes=x.shape[1]).gradient_hessian(
        y.astype(float), x, sample_weight=sw)
    np.testing.assert_allclose(g, g2, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h, h2, rtol=1e-13, atol=1e-15)
    assert g.dtype == h.dtype == np.float64


def test_float32_outputs_as_sklearn_gradient_boosting_keeps_them():
    x, y, w = _batch(order="F")
    go = np.empty(x.shape, np.float32, order="F")
    ho = np.empty(x.shape, np.float32, order="F")
    g, h = fi.softmax_cross_entropy_grad_hess(x, y.astype(float), sample_weight=w, grad_out=go, hess_out=ho)
    assert g is go and h is ho
    g2 = np.empty_like(go)
    h2 = np.empty_like(ho)
    sk_loss.HalfMultinomialLoss(n_classes=x.shape[1]).gradient_hessian(
        y.astype(float), x, sample_weight=w, gradient_out=g2, hessian_out=h2)
    np.testing.assert_allclose(go, g2, rtol=2e-7, atol=1e-12)
    np.testing.assert_allclose(ho, h2, rtol=2e-7, atol=1e-12)


def test_upper_bound_is_twice_the_diagonal_and_bounds_the_hessian():
    x, y, _ = _batch(n=50, K=5)
    _, hd = fi.softmax_cross_entropy_grad_hess(x, y)
    _, hu = fi.softmax_cross_entropy_grad_hess(x, y, hessian="upper_bound")
    np.testing.assert_array_equal(hu, 2 * hd)
    for i in range(len(x)):       # diag(hu) - (diag(p) - p p^T) is positive semi-definite
        p = softmax(x[i])
        assert np.linalg.eigvalsh(np.diag(hu[i]) - (np.diag(p) - np.outer(p, p))).min() > -1e-12


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 3.7])
def test_focal_loss_matches_autograd(gamma):
    x, y, w = _batch(n=200, K=6)
    g, h = fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, gamma=gamma)
    G, H = _torch_focal(x, y, w, gamma)
    np.testing.assert_allclose(g, G, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h, H, rtol=1e-9, atol=1e-13)
    assert (h < 0).any()          # the focal loss is not convex: the exact diagonal goes negative


@pytest.mark.parametrize("out_dtype", [np.float64, np.float32])
def test_column_major_chunks(out_dtype):
    """Column-major raw predictions and outputs, as scikit-learn's gradient boosting and
    LightGBM keep them, over several chunks of rows and a partial one: the focal loss against
    autograd, invalid rows where they fall, and the same bits at one thread and two."""
    x, y, w = _batch(n=1000, K=5, order="F")
    rtol = 1e-9 if out_dtype == np.float64 else 2e-6
    go = np.empty(x.shape, out_dtype, order="F")
    ho = np.empty(x.shape, out_dtype, order="F")
    g, h = fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, gamma=2.0, grad_out=go, hess_out=ho)
    G, H = _torch_focal(x, y, w, 2.0)
    np.testing.assert_allclose(g, G, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(h, H, rtol=rtol, atol=1e-12)
    x[[3, 300, 517, 999], [1, 0, 4, 2]] = [np.nan, np.inf, np.nan, np.nan]
    x[770] = -np.inf
    g, h = fi.softmax_cross_entropy_grad_hess(x, y, invalid="nan", grad_out=go, hess_out=ho)
    bad = [3, 300, 517, 770, 999]
    assert np.isnan(g).any(axis=1).nonzero()[0].tolist() == bad
    assert np.isnan(h[bad]).all() and np.isfinite(np.delete(h, bad, axis=0)).all()
    ok = np.delete(np.arange(1000), bad)
    g2, h2 = sk_loss.HalfMultinomialLoss(n_classes=5).gradient_hessian(y[ok].astype(float), x[ok])
    np.testing.assert_allclose(g[ok], g2, rtol=1e-13 if out_dtype == np.float64 else 2e-7, atol=1e-12)
    np.testing.assert_allclose(h[ok], h2, rtol=1e-13 if out_dtype == np.float64 else 2e-7, atol=1e-12)
    x, y, w = _batch(n=40_000, K=10, order="F")          # enough work for two threads
    one = [np.empty(x.shape, out_dtype, order="F") for _ in range(2)]
    two = [np.empty(x.shape, out_dtype, order="F") for _ in range(2)]
    fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, grad_out=one[0], hess_out=one[1], n_threads=1)
    fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, grad_out=two[0], hess_out=two[1], n_threads=2)
    assert one[0].tobytes() == two[0].tobytes() and one[1].tobytes() == two[1].tobytes()


@pytest.mark.parametrize("in_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("out_dtype", [np.float64, np.float32])
def test_row_major_tiles(in_dtype, out_dtype):
    """Row-major raw predictions and outputs, as read and written in squares of rows and classes
    transposed in registers: every class count from 1 to 40 (each arrangement of whole, half and
    overlapping squares for vectors of 2 to 16 lanes), contiguous and strided rows and outputs,
    whole and partial vectors of rows, invalid rows among them, against scikit-learn; the focal
    loss against autograd; and the same bits at one thread and two."""
    tol = dict(rtol=1e-13, atol=1e-15) if in_dtype == out_dtype == np.float64 else dict(rtol=3e-6, atol=1e-7)
    for K in range(1, 41):
        n = 37
        wide = (RNG.standard_normal((n, K + 3)) * 4).astype(in_dtype)
        for x in (np.ascontiguousarray(wide[:, 1:K + 1]), wide[:, 1:K + 1]):
            y, w = RNG.integers(0, K, n), RNG.random(n) + 0.1
            x = x.copy() if x.flags.c_contiguous else x
            if K > 1:
                x[5, K // 2] = np.nan
                x[17, K - 1] = np.inf
            x[30] = -np.inf
            bad = [5, 17, 30] if K > 1 else [30]
            gw, hw = (np.full((n, K + 2), 7.0, out_dtype) for _ in range(2))
            for go, ho in ((np.empty((n, K), out_dtype), np.empty((n, K), out_dtype)), (gw[:, 1:K + 1], hw[:, 1:K + 1])):
                g, h = fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, invalid="nan", grad_out=go, hess_out=ho)
                assert np.isnan(g).any(axis=1).nonzero()[0].tolist() == bad, K
                assert np.isnan(h[bad]).all()
                ok = np.delete(np.arange(n), bad)
                if K > 1:
                    g2, h2 = sk_loss.HalfMultinomialLoss(n_classes=K).gradient_hessian(
                        y[ok].astype(float), x[ok].astype(np.float64), sample_weight=w[ok])
                else:                                      # p = 1: scikit-learn takes no one-class loss
                    g2 = h2 = np.zeros((len(ok), 1))
                np.testing.assert_allclose(g[ok], g2, **tol, err_msg=f"K = {K}")
                np.testing.assert_allclose(h[ok], h2, **tol, err_msg=f"K = {K}")
            assert (gw[:, [0, -1]] == 7.0).all() and (hw[:, [0, -1]] == 7.0).all()   # nothing written outside
    for K in (3, 6, 10, 17):
        x, y, w = _batch(n=45, K=K)
        go, ho = np.empty(x.shape, out_dtype), np.empty(x.shape, out_dtype)
        g, h = fi.softmax_cross_entropy_grad_hess(x.astype(in_dtype), y, sample_weight=w, gamma=2.0, grad_out=go,
                                                  hess_out=ho)
        G, H = _torch_focal(x.astype(in_dtype).astype(np.float64), y, w, 2.0)
        ftol = 1e-9 if in_dtype == out_dtype == np.float64 else 2e-5
        np.testing.assert_allclose(g, G, rtol=ftol, atol=1e-7 if ftol > 1e-9 else 1e-13)
        np.testing.assert_allclose(h, H, rtol=ftol, atol=1e-7 if ftol > 1e-9 else 1e-13)
    x, y, w = _batch(n=40_000, K=10)                       # enough work for two threads
    x = x.astype(in_dtype)
    one = [np.empty(x.shape, out_dtype) for _ in range(2)]
    two = [np.empty(x.shape, out_dtype) for _ in range(2)]
    fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, grad_out=one[0], hess_out=one[1], n_threads=1)
    fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, grad_out=two[0], hess_out=two[1], n_threads=2)
    assert one[0].tobytes() == two[0].tobytes() and one[1].tobytes() == two[1].tobytes()


@pytest.mark.parametrize("dtype, K", [(np.float64, 8), (np.float32, 17)])
def test_large_column_major_outputs(dtype, K):
    """Column-major outputs larger than the caches (streamed past them; NumPy's large arrays sit
    off a vector's alignment, so each aligned line joins two vectors and the ends of a column's
    chunk are stored masked): the values of calls small enough to be stored as usual, NaN rows
    included, at several offsets of the outputs, nothing written outside them, 1 and 2 threads."""
    N = 524_291                                          # 2 x N x K x itemsize > 64 MB
    x = np.asfortranarray((RNG.standard_normal((N, K)) * 4).astype(dtype))
    y = RNG.integers(0, K, N)
    x[[5, N // 2, N - 1], [0, K // 2, K - 1]] = np.nan
    ref = [np.empty((N, K), dtype, order="F") for _ in range(2)]
    for a in range(0, N, 100_000):
        fi.softmax_cross_entropy_grad_hess(x[a:a + 100_000], y[a:a + 100_000], invalid="nan",
                                           grad_out=ref[0][a:a + 100_000], hess_out=ref[1][a:a + 100_000])
    for off, n_threads in ((0, 1), (3, 2), (8, 2)):
        bufs = [np.full(N * K + 24, 7.0, dtype) for _ in range(2)]
        go = bufs[0][off:off + N * K].reshape((N, K), order="F")
        ho = bufs[1][off + 5:off + 5 + N * K].reshape((N, K), order="F")
        fi.softmax_cross_entropy_grad_hess(x, y, invalid="nan", grad_out=go, hess_out=ho, n_threads=n_threads)
        assert np.array_equal(go, ref[0], equal_nan=True) and np.array_equal(ho, ref[1], equal_nan=True)
        assert (bufs[0][:off] == 7).all() and (bufs[0][off + N * K:] == 7).all()
        assert (bufs[1][:off + 5] == 7).all() and (bufs[1][off + 5 + N * K:] == 7).all()


def test_focal_loss_tends_to_the_cross_entropy():
    x, y, _ = _batch(n=100, K=4)
    g0, h0 = fi.softmax_cross_entropy_grad_hess(x, y)
    g1, h1 = fi.softmax_cross_entropy_grad_hess(x, y, gamma=1e-9)
    np.testing.assert_allclose(g1, g0, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(h1, h0, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n_rows", [2, 40])
def test_confident_rows_keep_relative_accuracy(order, n_rows):
    """Against mpmath to 1e-13 relative, every element: confident rows (1 - p tiny), tied
    maxima with the label on either, an element whose exp rounds to 1 beside the maximum; a
    few rows (a partial vector of rows) and many (whole vectors: loads or gathers)."""
    mpmath.mp.dps = 50
    base = np.array([[0.0, -80.0, -90.0], [50.0, 0.0, -700.0], [0.0, 0.0, -80.0], [0.0, 0.0, -80.0],
                     [0.0, -1e-17, -80.0], [-80.0, 0.0, 0.0], [3.0, -40.0, 3.0], [-1.0, -1.0, -1.0]])
    ybase = np.array([0, 1, 0, 1, 0, 2, 2, 1])
    x = np.asarray(np.resize(base, (n_rows, 3)), order=order)
    y = np.resize(ybase, n_rows)
    g, h = fi.softmax_cross_entropy_grad_hess(x, y)
    for i in range(n_rows):
        e = [mpmath.exp(mpmath.mpf(v)) for v in x[i]]
        s = sum(e)
        for c in range(3):
            p = e[c] / s
            want_g = p - (1 if c == y[i] else 0)
            want_h = p * (1 - p)
            assert g[i, c] == pytest.approx(float(want_g), rel=1e-13, abs=0), (i, c)
            assert h[i, c] == pytest.approx(float(want_h), rel=1e-13, abs=0), (i, c)
    assert h[0, 0] > 0 and h[1, 0] > 0    # p (1 - p) with p rounded to 1 would give 0
    # the focal loss at a confident correct row: tiny, not NaN
    gf, hf = fi.softmax_cross_entropy_grad_hess(x[:1], y[:1], gamma=0.5)
    assert np.isfinite(gf).all() and np.isfinite(hf).all()
    # where float64 autograd gives 0: derivatives of the loss itself, in 60 digits
    gf2, hf2 = fi.softmax_cross_entropy_grad_hess(x[:1], y[:1], gamma=2.0)
    mpmath.mp.dps = 60

    def loss(*v):
        e = [mpmath.exp(t) for t in v]
        return -(sum(e[1:]) / sum(e)) ** 2 * mpmath.log(e[0] / sum(e))

    at = [mpmath.mpf(v) for v in x[0]]
    for c in range(3):
        d = tuple(int(j == c) for j in range(3))
        assert gf2[0, c] == pytest.approx(float(mpmath.diff(loss, at, d)), rel=1e-12, abs=0)
        assert hf2[0, c] == pytest.approx(float(mpmath.diff(loss, at, tuple(2 * k for k in d))), rel=1e-12, abs=0)


def test_focal_loss_at_a_label_with_probability_zero():
    x = np.array([[-np.inf, 0.0, 1.0], [2.0, -np.inf, 0.0]])
    y = np.array([0, 2])
    g, h = fi.softmax_cross_entropy_grad_hess(x, y, gamma=2.0)
    g0, h0 = fi.softmax_cross_entropy_grad_hess(x, y)
    # p_y = 0: (1 - p_y)^gamma = 1 and the focal loss's derivatives are the cross-entropy's
    np.testing.assert_allclose(g[0], g0[0], rtol=1e-15)
    np.testing.assert_allclose(h[0], h0[0], rtol=1e-15)
    assert np.isfinite(g).all() and np.isfinite(h).all()
    gb, hb = fi.sigmoid_cross_entropy_grad_hess(np.array([-np.inf, np.inf]), np.array([1, 0]), gamma=2.0)
    assert gb.tolist() == [-1.0, 1.0] and hb.tolist() == [0.0, 0.0]


def test_minus_inf_is_a_class_with_probability_zero():
    x = np.array([[1.0, -np.inf, 0.0], [-np.inf, 2.0, 1.0]])
    g, h = fi.softmax_cross_entropy_grad_hess(x, np.array([0, 1]))
    assert g[0, 1] == 0 and h[0, 1] == 0 and g[1, 0] == 0 and h[1, 0] == 0
    p = softmax(np.where(np.isinf(x), -1e300, x), axis=1)
    np.testing.assert_allclose(g, p - np.eye(3)[[0, 1]], rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_narrow_dtypes_computed_in_float32(dtype):
    if dtype == "bfloat16":
        dt = pytest.importorskip("ml_dtypes").bfloat16
    else:
        dt = np.dtype(dtype)
    x, y, w = _batch(n=300, K=9, scale=3.0)
    xs = x.astype(dt)
    g, h = fi.softmax_cross_entropy_grad_hess(xs, y, sample_weight=w)
    assert g.dtype == h.dtype == np.float32
    g2, h2 = sk_loss.HalfMultinomialLoss(n_classes=9).gradient_hessian(
        y.astype(float), xs.astype(np.float64), sample_weight=w)
    np.testing.assert_allclose(g, g2, rtol=1e-5, atol=3e-7)
    np.testing.assert_allclose(h, h2, rtol=1e-5, atol=3e-7)


def test_threads_give_the_same_bits():
    x, y, w = _batch(n=40_000, K=10)
    g1, h1 = fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, n_threads=1)
    g2, h2 = fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w, n_threads=2)
    assert g1.tobytes() == g2.tobytes() and h1.tobytes() == h2.tobytes()


def test_shapes_at_the_edges():
    g, h = fi.softmax_cross_entropy_grad_hess(np.empty((0, 4)), np.empty(0, np.int64))
    assert g.shape == h.shape == (0, 4)
    g, h = fi.softmax_cross_entropy_grad_hess(np.array([[3.0], [-2.0]]), np.array([0, 0]))
    assert (g == 0).all() and (h == 0).all()
    # a partial last vector of rows (35 rows: 4 x 8 + 3 on AVX-512) and strided views
    x, y, w = _batch(n=35, K=3)
    xv = np.repeat(x, 2, axis=1)[::1, ::2]
    g, h = fi.softmax_cross_entropy_grad_hess(xv, y, sample_weight=w)
    g2, h2 = sk_loss.HalfMultinomialLoss(n_classes=3).gradient_hessian(y.astype(float), x, sample_weight=w)
    np.testing.assert_allclose(g, g2, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h, h2, rtol=1e-13, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40).flatmap(lambda n: st.tuples(
    arrays(np.float64, (n, 5), elements=st.one_of(st.floats(-60, 60), st.just(-np.inf))),
    arrays(np.int64, (n,), elements=st.integers(0, 4)),
    arrays(np.float64, (n,), elements=st.floats(0, 10)))))
def test_properties(case):
    x, y, w = case
    x[:, 0] = np.where(np.isinf(x).all(axis=1), 0.0, x[:, 0])      # at least one finite logit a row
    x0 = x.copy()
    g, h = fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w)
    np.testing.assert_array_equal(x, x0)                          # the input is never modified
    p = softmax(np.where(np.isinf(x), -np.inf, x), axis=1)
    np.testing.assert_allclose(g, w[:, None] * (p - np.eye(5)[y]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h, w[:, None] * p * (1 - p), rtol=1e-12, atol=1e-14)
    assert (h >= 0).all() and (h <= 0.25 * w[:, None] + 1e-15).all()
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-12 * (1 + w.max(initial=0)))


# --- arguments and errors -----------------------------------------------------------------
def test_labels_may_be_floats_that_hold_integers():
    x, y, _ = _batch(n=20, K=4)
    a = fi.softmax_cross_entropy_grad_hess(x, y)
    b = fi.softmax_cross_entropy_grad_hess(x, y.astype(np.float32))
    np.testing.assert_array_equal(a[0], b[0])
    y2 = y.astype(float)
    y2[3] = 1.5
    with pytest.raises(ValueError, match="row 3"):
        fi.softmax_cross_entropy_grad_hess(x, y2)
    for v in (np.nan, np.inf, -np.inf, 1e300, -0.5, 2.0 ** 70 + 0.5):
        y2[3] = v
        with pytest.raises(ValueError, match="row 3"):
            fi.softmax_cross_entropy_grad_hess(x, y2)
    for v in (-1.0, 4.0, 2.0 ** 62):
        y2[3] = v
        with pytest.raises(IndexError, match="row 3"):
            fi.softmax_cross_entropy_grad_hess(x, y2)
    y3 = y.copy()
    y3[5] = 4
    with pytest.raises(IndexError, match="row 5"):
        fi.softmax_cross_entropy_grad_hess(x, y3)
    y3[5] = -1
    with pytest.raises(IndexError, match="row 5"):
        fi.softmax_cross_entropy_grad_hess(x, y3)
    with pytest.raises(IndexError, match="row 5"):
        fi.softmax_cross_entropy_grad_hess(x, y3.astype(np.float32))
    np.testing.assert_array_equal(fi.softmax_cross_entropy_grad_hess(x, y.astype(np.uint8))[1], a[1])
    with pytest.raises(TypeError, match="labels"):
        fi.softmax_cross_entropy_grad_hess(x, y > 1)
    with pytest.raises(ValueError, match="1-D"):
        fi.softmax_cross_entropy_grad_hess(x, y[:, None])


def test_bad_arguments_are_named():
    x, y, w = _batch(n=20, K=4)
    with pytest.raises(ValueError, match="sigmoid_cross_entropy_grad_hess"):
        fi.softmax_cross_entropy_grad_hess(x[:, 0], y)
    with pytest.raises(ValueError, match="hessian"):
        fi.softmax_cross_entropy_grad_hess(x, y, hessian="full")
    with pytest.raises(ValueError, match="upper_bound"):
        fi.softmax_cross_entropy_grad_hess(x, y, hessian="upper_bound", gamma=2.0)
    with pytest.raises(ValueError, match="gamma"):
        fi.softmax_cross_entropy_grad_hess(x, y, gamma=-1.0)
    w2 = w.copy()
    w2[7] = np.nan
    with pytest.raises(ValueError, match="sample_weight.*7"):
        fi.softmax_cross_entropy_grad_hess(x, y, sample_weight=w2)
    with pytest.raises(ValueError, match="one dtype"):
        fi.softmax_cross_entropy_grad_hess(x, y, grad_out=np.empty(x.shape), hess_out=np.empty(x.shape, np.float32))
    with pytest.raises(ValueError, match="shares memory"):
        fi.softmax_cross_entropy_grad_hess(x, y, grad_out=x)
    buf = np.empty(x.shape)
    with pytest.raises(ValueError, match="share memory"):
        fi.softmax_cross_entropy_grad_hess(x, y, grad_out=buf, hess_out=buf)
    ro = np.empty(x.shape)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fi.softmax_cross_entropy_grad_hess(x, y, hess_out=ro)


def test_invalid_rows_raise_or_give_nan():
    x, y, _ = _batch(n=30, K=4)
    x[11, 2] = np.nan
    x[20] = -np.inf
    with pytest.raises(ValueError, match="row 11"):
        fi.softmax_cross_entropy_grad_hess(x, y)
    g, h = fi.softmax_cross_entropy_grad_hess(x, y, invalid="nan")
    bad = np.isnan(g).any(axis=1)
    assert bad.tolist() == [i in (11, 20) for i in range(30)]
    assert np.isnan(h[[11, 20]]).all()
    x[11, 2] = 0.0
    with pytest.raises(ValueError, match="row 20.*-inf"):
        fi.softmax_cross_entropy_grad_hess(x, y)


def test_torch_in_torch_out():
    x, y, w = _batch(n=40, K=5)
    g, h = fi.softmax_cross_entropy_grad_hess(torch.from_numpy(x), torch.from_numpy(y))
    assert isinstance(g, torch.Tensor) and isinstance(h, torch.Tensor)
    g2, h2 = fi.softmax_cross_entropy_grad_hess(x, y)
    np.testing.assert_array_equal(g.numpy(), g2)
    go = torch.empty(x.shape, dtype=torch.float64)
    ho = torch.empty(x.shape, dtype=torch.float64)
    r = fi.softmax_cross_entropy_grad_hess(torch.from_numpy(x), y, grad_out=go, hess_out=ho)
    assert r[0] is go and r[1] is ho
    np.testing.assert_array_equal(ho.numpy(), h2)


# --- binary -----------------------------------------------------------------------------------
def test_binary_matches_sklearn():
    z = RNG.standard_normal(2000) * 6
    y = RNG.integers(0, 2, 2000)
    w = RNG.random(2000)
    g, h = fi.sigmoid_cross_entropy_grad_hess(z, y, sample_weight=w)
    g2, h2 = sk_loss.HalfBinomialLoss().gradient_hessian(y.astype(float), z, sample_weight=w)
    np.testing.assert_allclose(g, g2, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(h, h2, rtol=1e-13, atol=1e-300)
    ys = RNG.random(2000)        # soft labels: the same formulas
    g, h = fi.sigmoid_cross_entropy_grad_hess(z, ys)
    np.testing.assert_allclose(g, expit(z) - ys, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_binary_focal_matches_autograd_and_the_two_class_softmax(gamma):
    z = RNG.standard_normal(500) * 5
    y = RNG.integers(0, 2, 500)
    g, h = fi.sigmoid_cross_entropy_grad_hess(z, y, gamma=gamma)
    Z = torch.tensor(z, requires_grad=True)
    p = torch.sigmoid(Z)
    pt = torch.where(torch.as_tensor(y) == 1, p, 1 - p)
    G, = torch.autograd.grad((-(1 - pt) ** gamma * torch.log(pt)).sum(), Z, create_graph=True)
    H, = torch.autograd.grad(G.sum(), Z)
    np.testing.assert_allclose(g, G.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(h, H.numpy(), rtol=1e-8, atol=1e-13)
    gm, hm = fi.softmax_cross_entropy_grad_hess(np.stack([np.zeros_like(z), z], 1), y, gamma=gamma)
    np.testing.assert_allclose(gm[:, 1], g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hm[:, 1], h, rtol=1e-12, atol=1e-15)


def test_binary_extremes_against_mpmath():
    mpmath.mp.dps = 40
    z = np.array([-800.0, -40.0, 40.0, 700.0])
    g, h = fi.sigmoid_cross_entropy_grad_hess(z, np.array([0, 0, 1, 1]))
    for i, v in enumerate(z):
        p = 1 / (1 + mpmath.exp(-mpmath.mpf(v)))
        q = 1 / (1 + mpmath.exp(mpmath.mpf(v)))          # 1 - p, without cancellation
        want_g = -q if i >= 2 else p
        want_h = p * q
        assert g[i] == pytest.approx(float(want_g), rel=1e-14, abs=0)
        assert h[i] == pytest.approx(float(want_h), rel=1e-14, abs=0)


def test_binary_argument_errors():
    z = np.zeros(4)
    with pytest.raises(ValueError, match=r"\[0, 1\].*index \(2,\)"):
        fi.sigmoid_cross_entropy_grad_hess(z, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="0 or 1"):
        fi.sigmoid_cross_entropy_grad_hess(z, np.array([0, 0.5, 1, 0]), gamma=2.0)
    with pytest.raises(ValueError, match="NaN at index"):
        fi.sigmoid_cross_entropy_grad_hess(np.array([0.0, np.nan]), np.array([0, 1]))
    g, h = fi.sigmoid_cross_entropy_grad_hess(np.array([0.0, np.nan]), np.array([0, 1]), invalid="nan")
    assert np.isnan(g[1]) and np.isnan(h[1]) and g[0] == 0.5
    with pytest.raises(ValueError, match="shape"):
        fi.sigmoid_cross_entropy_grad_hess(z, np.zeros(3))
    g, h = fi.sigmoid_cross_entropy_grad_hess(z.astype(np.float32), np.ones(4))
    assert g.dtype == np.float32
