"""The logit-space API: logsumexp, log_softmax, softmax, softmax_cross_entropy,
softmax_entropy, softmax_kl_divergence, softmax_js_divergence,
sigmoid_cross_entropy, perplexity.

Expected values come from independent libraries only: PyTorch in float64 on the
CPU (skipped when torch is not installed), SciPy (logsumexp, softmax,
log_softmax, entr, rel_entr), and mpmath at high precision for the extremes.
fastinfo results are compared with each other only where the contract promises
equality (bitwise across n_threads, the valid rows with invalid="nan", out=).
"""

import math

import mpmath
import numpy as np
import pytest
import scipy.special as sc
from helpers import as_bits, name_token, traced_peak
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastinfo

EPS64 = np.finfo(np.float64).eps
RTOL = 1e-12
ATOL = 1e-14
RTOL32 = 2e-6
LN2 = math.log(2.0)

SETTINGS = settings(max_examples=40)


# --------------------------------------------------------------------------- helpers
# `torch` (tests/conftest.py): PyTorch on one thread, or the test is skipped
def T(torch, a):
    """A float64 CPU tensor (a copy) of a."""
    return torch.from_numpy(np.array(a, dtype=np.float64, copy=True))


def N(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def logits(shape, seed=0, scale=3.0, dtype=np.float64):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


def probs(shape, seed=0, axis=-1):
    p = np.random.default_rng(seed).random(shape) + 0.01
    return p / p.sum(axis=axis, keepdims=True)


def close(got, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=atol)


def tol(dtype):
    return (RTOL, ATOL) if np.dtype(dtype) == np.float64 else (RTOL32, 1e-6)


def f64(a):
    return np.asarray(a, dtype=np.float64)


MP_DPS = 60


def mp_lse(row):
    with mpmath.workdps(MP_DPS):
        vals = [mpmath.mpf(float(v)) for v in row if v != -np.inf]
        if not vals:
            return mpmath.mpf("-inf")
        return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in vals))


def mp_scaled(row, temperature):
    with mpmath.workdps(MP_DPS):
        return [mpmath.mpf(float(v)) / mpmath.mpf(float(temperature)) if v != -np.inf else None for v in row]


def mp_log_softmax(row, temperature=1.0):
    with mpmath.workdps(MP_DPS):
        z = mp_scaled(row, temperature)
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z if v is not None))
        return [v - lse if v is not None else None for v in z]


LSE_SHAPES = [((7,), -1), ((7,), 0), ((5, 7), -1), ((5, 7), 0), ((3, 4, 6), -1), ((3, 4, 6), 1),
              ((3, 4, 6), 0), ((3, 4, 6), -2)]
LSE_IDS = [f"{'x'.join(map(str, s))}-ax{a}" for s, a in LSE_SHAPES]
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["f64", "f32"]


# =========================================================================== logsumexp / log_softmax / softmax
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,axis", LSE_SHAPES, ids=LSE_IDS)
def test_lse_family_vs_scipy(shape, axis, dtype):
    x = logits(shape, seed=1, dtype=dtype)
    rtol, atol = tol(dtype)
    xd = f64(x)
    lse = fastinfo.logsumexp(x, axis=axis)
    exp_lse = sc.logsumexp(xd, axis=axis)
    assert np.shape(lse) == np.shape(exp_lse)
    assert np.asarray(lse).dtype == dtype
    close(lse, exp_lse, rtol, atol)
    for f, ref in ((fastinfo.log_softmax, sc.log_softmax), (fastinfo.softmax, sc.softmax)):
        got = f(x, axis=axis)
        assert isinstance(got, np.ndarray) and got.shape == x.shape and got.dtype == dtype
        # log_softmax: absolute error is relative to the size of the logits
        close(got, ref(xd, axis=axis), rtol, atol * 10 * max(1.0, np.abs(xd).max()))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,axis", LSE_SHAPES, ids=LSE_IDS)
def test_lse_family_vs_torch(torch, shape, axis, dtype):
    x = logits(shape, seed=2, scale=10.0, dtype=dtype)
    rtol, atol = tol(dtype)
    tx = T(torch, x)
    close(fastinfo.logsumexp(x, axis=axis), N(torch.logsumexp(tx, dim=axis)), rtol, atol)
    close(fastinfo.log_softmax(x, axis=axis), N(torch.log_softmax(tx, dim=axis)), rtol, atol * 100)
    close(fastinfo.softmax(x, axis=axis), N(torch.softmax(tx, dim=axis)), rtol, atol)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16], ids=["float64", "float32", "float16"])
def test_long_rows_take_their_own_maxima(dtype, n_threads):
    """Long contiguous rows begin the next row's maximum in the previous row's second pass: each
    row must still get its own. Each row's maximum is distinct and lies in the part the previous
    row sees (the first block), in the part left to the row itself (the last block) or next to
    where the seen part ends (rows 10-14, which an off-by-a-step end would miss); rows 3
    and 4 lie far below the others (a maximum taken from another row makes them -inf), one row
    carries -inf logits, and ignored labels skip rows whose maximum was begun (on two threads,
    taking rows in turn, row 4 after row 2). SciPy in float64 on the same values is the oracle."""
    rng = np.random.default_rng(11)
    N, K = 19, 3 * 8192 + 37
    x = rng.standard_normal((N, K)) * 3
    for r in range(N):
        x[r, (r * 977) % 8192 if r % 2 else K - 1 - r] = 20.0 + r / 4
    # maxima on either side of where the carried part ends (2 blocks, or 2 blocks and a step),
    # far above the rest of the row: a maximum that misses them overflows the row's exps
    for r, pos in zip(range(10, 15), (16383, 16384, 16415, 16416, 16447)):
        x[r, pos] = 800.0 + r
    x[[3, 4]] = -np.abs(x[[3, 4]]) - 200
    x[5, ::3] = -np.inf
    x = x.astype(dtype)
    labels = np.arange(N) * 101
    labels[[2, 8, 9]] = -100
    x64 = x.astype(np.float64)
    lse = sc.logsumexp(x64, axis=-1)
    want = {
        "logsumexp": lse,
        "softmax_entropy": np.sum(sc.entr(sc.softmax(x64, axis=-1)), axis=-1),
        "softmax_cross_entropy": np.where(labels < 0, 0.0, lse - x64[np.arange(N), np.maximum(labels, 0)]),
    }
    for f, args in ((fastinfo.logsumexp, {"axis": -1}), (fastinfo.softmax_entropy, {}),
                    (fastinfo.softmax_cross_entropy, {"target": labels, "ignore_index": -100,
                                                      "reduction": "none"})):
        got = f(x, n_threads=n_threads, **args)
        rtol, atol = (1e-13, 1e-13) if dtype == np.float64 else (RTOL32, 1e-6)
        np.testing.assert_allclose(got, want[f.__name__], rtol=rtol, atol=atol, err_msg=f.__name__)
    # the same rows one at a time (no next row) give the same bits
    np.testing.assert_array_equal(fastinfo.logsumexp(x, axis=-1, n_threads=n_threads),
                                  [fastinfo.logsumexp(x[r]) for r in range(N)])


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16", "float16"])
def test_long_row_pairs_take_their_own_maxima(dtype, n_threads):
    """KL and JS of long contiguous row pairs begin both next rows' maxima in the previous pair's
    second pass: each row of x and of y must still get its own. The maxima are distinct and lie
    in the first block of a row or in its last one, x's and y's in different places; rows 3 and
    4 of x and rows 4 and 6 of y lie far below the others, one pair carries -inf logits (in
    both rows: the divergences stay finite). SciPy in float64 on the same values is the oracle;
    the rows one pair at a time give the same bits."""
    import ml_dtypes
    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    rng = np.random.default_rng(12)
    N, K = 13, 2 * 8192 + 45
    x, y = rng.standard_normal((N, K)) * 3, rng.standard_normal((N, K)) * 2
    for r in range(N):
        x[r, (r * 977) % 8192 if r % 2 else K - 1 - r] = 10.0 + r / 4
        y[r, K - 3 - r if r % 2 else (r * 131) % 8192] = 9.0 + r / 4
    x[[3, 4]] = -np.abs(x[[3, 4]]) - 1000       # a maximum taken from another row: every exp 0
    y[[4, 6]] = -np.abs(y[[4, 6]]) - 1000
    x[5, ::3] = y[5, ::3] = -np.inf
    x, y = x.astype(dt), y.astype(dt)
    lp, lq = sc.log_softmax(x.astype(np.float64), axis=-1), sc.log_softmax(y.astype(np.float64), axis=-1)
    p, q = np.exp(lp), np.exp(lq)
    kl = np.sum(np.where(p > 0, p * (lp - np.where(q > 0, lq, 0.0)), 0.0), axis=-1)
    m = 0.5 * (p + q)
    js = 0.5 * np.sum(sc.rel_entr(p, m) + sc.rel_entr(q, m), axis=-1)
    rtol, atol = (1e-12, 1e-14) if dtype == "float64" else (RTOL32, 1e-7)
    for f, want in ((fastinfo.softmax_kl_divergence, kl), (fastinfo.softmax_js_divergence, js)):
        got = f(x, y, n_threads=n_threads)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f.__name__)
        np.testing.assert_array_equal(got, [f(x[r], y[r]) for r in range(N)], err_msg=f.__name__)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logsumexp_1d_gives_numpy_scalar(dtype):
    x = logits(9, seed=3, dtype=dtype)
    got = fastinfo.logsumexp(x)
    assert type(got) is dtype
    close(got, sc.logsumexp(f64(x)), *tol(dtype))
    kept = fastinfo.logsumexp(x, keepdims=True)
    assert isinstance(kept, np.ndarray) and kept.shape == (1,) and kept.dtype == dtype


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_logsumexp_keepdims(axis):
    x = logits((3, 4, 5), seed=4)
    got = fastinfo.logsumexp(x, axis=axis, keepdims=True)
    assert got.shape == np.expand_dims(sc.logsumexp(x, axis=axis), axis).shape
    close(got, sc.logsumexp(x, axis=axis, keepdims=True))


@pytest.mark.parametrize("shape,axis,expected_shape", [((0,), -1, ()), ((3, 0), -1, (3,)), ((2, 0, 3), 1, (2, 3)),
                                                       ((0, 4), 0, (4,))])
def test_logsumexp_empty_class_axis_is_minus_inf(shape, axis, expected_shape):
    x = np.zeros(shape)
    got = fastinfo.logsumexp(x, axis=axis)
    assert np.shape(got) == expected_shape
    assert np.all(np.asarray(got) == -np.inf)
    for f in (fastinfo.log_softmax, fastinfo.softmax):
        r = f(x, axis=axis)
        assert r.shape == shape


def test_empty_batch_gives_empty_results():
    x = np.zeros((0, 5))
    assert fastinfo.logsumexp(x).shape == (0,)
    assert fastinfo.softmax(x).shape == (0, 5)
    assert fastinfo.log_softmax(x).shape == (0, 5)
    assert fastinfo.softmax_entropy(x).shape == (0,)
    assert fastinfo.softmax_cross_entropy(x, np.zeros(0, np.int64)).shape == (0,)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_minus_inf_entries_are_masks(dtype):
    x = logits((6, 8), seed=5, dtype=dtype)
    mask = np.random.default_rng(6).random(x.shape) < 0.3
    mask[:, 0] = False  # at least one live class per row
    x[mask] = -np.inf
    xd = f64(x)
    rtol, atol = tol(dtype)
    close(fastinfo.logsumexp(x), sc.logsumexp(xd, axis=-1), rtol, atol)
    sm = fastinfo.softmax(x)
    lsm = fastinfo.log_softmax(x)
    assert np.all(sm[mask] == 0.0)  # exactly 0
    assert np.all(lsm[mask] == -np.inf)
    close(sm, sc.softmax(xd, axis=-1), rtol, atol)
    with np.errstate(invalid="ignore"):
        close(lsm[~mask], sc.log_softmax(xd, axis=-1)[~mask], rtol, atol * 100)
    # a -inf next to huge logits is still just a mask
    y = np.array([-np.inf, 1e300, -np.inf, 1e300])
    close(fastinfo.softmax(y), [0.0, 0.5, 0.0, 0.5])
    close(fastinfo.logsumexp(y), 1e300)


def test_all_minus_inf_row():
    x = logits((4, 5), seed=7)
    x[1] = -np.inf
    lse = fastinfo.logsumexp(x)
    assert lse[1] == -np.inf
    close(lse[[0, 2, 3]], sc.logsumexp(x[[0, 2, 3]], axis=-1))
    assert fastinfo.logsumexp(np.full(3, -np.inf)) == -np.inf
    for f in (fastinfo.softmax, fastinfo.log_softmax):
        with pytest.raises(ValueError, match=r"all logits are -inf") as exc:
            f(x)
        assert "batch index (1,)" in str(exc.value), str(exc.value)
        r = f(x, invalid="nan")
        assert np.all(np.isnan(r[1]))
        assert not np.any(np.isnan(r[[0, 2, 3]]))
        ref = sc.softmax if f is fastinfo.softmax else sc.log_softmax
        close(r[[0, 2, 3]], ref(x[[0, 2, 3]], axis=-1), atol=1e-13)
        with pytest.raises(ValueError, match=r"batch index \(\)"):
            f(np.full(3, -np.inf))


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "+inf"])
@pytest.mark.parametrize("fname", ["logsumexp", "log_softmax", "softmax"])
def test_nan_and_plus_inf_invalid(fname, bad):
    f = getattr(fastinfo, fname)
    x = logits((4, 6), seed=8)
    x[2, 3] = bad
    x[3, 0] = bad
    with pytest.raises(ValueError) as exc:
        f(x)
    msg = str(exc.value)
    assert "batch index (2,)" in msg and name_token(msg, "x"), msg
    r = f(x, invalid="nan")
    rows_nan = np.isnan(np.asarray(r)).reshape(4, -1).all(axis=1)
    assert list(rows_nan) == [False, False, True, True]
    good = [0, 1]
    ref = {"logsumexp": lambda a: sc.logsumexp(a, axis=-1), "log_softmax": lambda a: sc.log_softmax(a, axis=-1),
           "softmax": lambda a: sc.softmax(a, axis=-1)}[fname]
    close(np.asarray(r)[good], ref(x[good]), atol=1e-13)
    # other axes: the batch index is the position among the remaining axes
    x3 = logits((2, 5, 3), seed=9)
    x3[1, 4, 2] = bad
    with pytest.raises(ValueError, match=r"batch index \(1, 2\)"):
        f(x3, axis=1)
    with pytest.raises(ValueError, match=r"batch index \(\)"):
        f(np.array([0.0, bad, 1.0]))


@pytest.mark.parametrize("temperature", [1e-3, 0.5, 2.0, 1e3])
def test_temperature_divides_logits(torch, temperature):
    x = logits((5, 9), seed=10, scale=2e-3 if temperature == 1e-3 else 3.0)
    z = x / temperature
    close(fastinfo.softmax(x, temperature=temperature), sc.softmax(z, axis=-1), 1e-11, 1e-14)
    close(fastinfo.log_softmax(x, temperature=temperature), sc.log_softmax(z, axis=-1), 1e-11, 1e-13)
    close(fastinfo.softmax(x, temperature=temperature), N(torch.softmax(T(torch, x) / temperature, -1)), 1e-11, 1e-14)


@pytest.mark.parametrize("temperature", [0.0, -1.0, np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("fname", ["log_softmax", "softmax", "softmax_entropy", "softmax_cross_entropy",
                                   "softmax_kl_divergence", "softmax_js_divergence"])
def test_invalid_temperature_raises(fname, temperature):
    x = logits((3, 4), seed=11)
    f = getattr(fastinfo, fname)
    args = {"softmax_cross_entropy": (x, np.array([0, 1, 2])), "softmax_kl_divergence": (x, x[::-1]),
            "softmax_js_divergence": (x, x[::-1])}.get(fname, (x,))
    with pytest.raises(ValueError):
        f(*args, temperature=temperature)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("fname", ["log_softmax", "softmax"])
def test_out_filled_and_returned(fname, dtype):
    f = getattr(fastinfo, fname)
    x = logits((4, 7), seed=12, dtype=dtype)
    out = np.full(x.shape, 123.0, dtype=dtype)
    r = f(x, out=out)
    assert r is out
    ref = sc.softmax if fname == "softmax" else sc.log_softmax
    close(out, ref(f64(x), axis=-1), *tol(dtype))
    x3 = logits((3, 4, 5), seed=13, dtype=dtype)
    out3 = np.empty(x3.shape, dtype=dtype)
    assert f(x3, axis=1, temperature=2.0, out=out3) is out3
    close(out3, ref(f64(x3) / 2.0, axis=1), *tol(dtype))


def test_logsumexp_and_entropy_out():
    x = logits((4, 7), seed=14)
    out = np.empty(4)
    assert fastinfo.logsumexp(x, out=out) is out
    close(out, sc.logsumexp(x, axis=-1))
    out_h = np.empty(4)
    assert fastinfo.softmax_entropy(x, out=out_h) is out_h
    close(out_h, sc.entr(sc.softmax(x, axis=-1)).sum(-1))


def test_inputs_never_modified():
    rng = np.random.default_rng(15)
    x = logits((6, 5), seed=15)
    x[0, 1] = -np.inf
    y = logits((6, 5), seed=16)
    labels = rng.integers(0, 5, 6)
    soft = probs((6, 5), seed=17)
    w = rng.random(5) + 0.5
    tgt = rng.random((6, 5))
    pw = rng.random(5) + 0.5
    arrays = [x, y, labels, soft, w, tgt, pw]
    copies = [a.copy() for a in arrays]
    fastinfo.logsumexp(x)
    fastinfo.log_softmax(x, temperature=2.0)
    fastinfo.softmax(x, temperature=0.5)
    fastinfo.softmax_cross_entropy(x, labels, weight=w, label_smoothing=0.1, reduction="mean", temperature=3.0)
    fastinfo.softmax_cross_entropy(x, soft, weight=w, label_smoothing=0.1, reduction="sum")
    fastinfo.softmax_entropy(x, temperature=2.0)
    fastinfo.softmax_kl_divergence(x, y, temperature=2.0)
    fastinfo.softmax_kl_divergence(y, x)
    fastinfo.softmax_js_divergence(x, y)
    fastinfo.sigmoid_cross_entropy(y, tgt, pos_weight=pw, weight=w, reduction="mean")
    fastinfo.perplexity(x, labels)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.bool_, np.float16])
def test_integer_bool_float16_logits_computed_as_float64(dtype):
    # integers and bools as float64; 2-byte floats as float32
    x = (np.random.default_rng(18).integers(-3, 4, (3, 5))).astype(dtype)
    xd = x.astype(np.float64)
    want = np.float32 if dtype is np.float16 else np.float64
    rtol, atol = tol(want)
    r = fastinfo.logsumexp(x)
    assert r.dtype == want
    close(r, sc.logsumexp(xd, axis=-1), rtol, atol)
    s = fastinfo.softmax(x)
    assert s.dtype == want
    close(s, sc.softmax(xd, axis=-1), rtol, atol)
    ce = fastinfo.softmax_cross_entropy(x, np.array([0, 1, 4]))
    assert ce.dtype == want
    close(ce, sc.logsumexp(xd, axis=-1) - xd[[0, 1, 2], [0, 1, 4]], rtol, atol)


@pytest.mark.parametrize("kind", ["complex", "object"])
@pytest.mark.parametrize("fname", ["logsumexp", "log_softmax", "softmax", "softmax_entropy"])
def test_complex_object_raise_type_error(fname, kind):
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.complex128 if kind == "complex" else object)
    with pytest.raises(TypeError):
        getattr(fastinfo, fname)(x)


def test_lse_family_extremes_vs_mpmath():
    rows = [
        [1000.0, 999.0, 0.0, -1000.0],
        [-1000.0, -1000.0, -1001.0, -np.inf],
        [1e4, 1e4 - 1, -1e4, 0.5],
        [-1e4, -1e4 + 2.5, -1e4 - 700.0, -1e4],
        [710.0, 710.0, 709.0, 708.0],
        [-745.0, -745.5, -800.0, -np.inf],
    ]
    for row in rows:
        x = np.array(row)
        scale = max(1.0, np.abs(x[np.isfinite(x)]).max())
        lse_mp = mp_lse(row)
        close(fastinfo.logsumexp(x), float(lse_mp), rtol=4 * EPS64, atol=0)
        lsm = fastinfo.log_softmax(x)
        sm = fastinfo.softmax(x)
        exp_lsm = mp_log_softmax(row)
        for i, v in enumerate(exp_lsm):
            if v is None:
                assert lsm[i] == -np.inf and sm[i] == 0.0
                continue
            # x_i - lse is exact to a few ulp of the logits' magnitude
            assert abs(lsm[i] - float(v)) <= 8 * EPS64 * scale, (row, i, lsm[i], v)
            with mpmath.workdps(MP_DPS):
                e = float(mpmath.exp(v))
            assert abs(sm[i] - e) <= 8 * EPS64 * scale * e + 1e-320, (row, i, sm[i], e)
        assert 0.0 <= sm.min() and abs(sm.sum() - 1.0) <= 8 * EPS64 * scale


@pytest.mark.parametrize("temperature,row", [
    (1e-3, [1.0, 0.999, 0.5, -1.0]),
    (1e-3, [-2.0, -2.0005, -3.0, 0.25]),
    (1e3, [1e4, -1e4, 3e3, 9999.0]),
    (1e3, [1e6, 1e6 - 1e3, 0.0, -1e6]),
])
def test_temperature_extremes_vs_mpmath(temperature, row):
    x = np.array(row)
    zs = mp_scaled(row, temperature)
    scale = max(1.0, max(abs(float(z)) for z in zs))
    exp_lsm = mp_log_softmax(row, temperature)
    lsm = fastinfo.log_softmax(x, temperature=temperature)
    sm = fastinfo.softmax(x, temperature=temperature)
    with mpmath.workdps(MP_DPS):
        p = [mpmath.exp(v) for v in exp_lsm]
        h = -mpmath.fsum(pi * v for pi, v in zip(p, exp_lsm))
    for i, v in enumerate(exp_lsm):
        # dividing by T rounds once (ulp of z/T), then x_i - lse: a few ulp of max|z/T|
        assert abs(lsm[i] - float(v)) <= 8 * EPS64 * scale, (i, lsm[i], v)
        assert abs(sm[i] - float(p[i])) <= 8 * EPS64 * scale * float(p[i]) + 1e-320, (i, sm[i], p[i])
    close(fastinfo.softmax_entropy(x, temperature=temperature), float(h), rtol=1e-12, atol=8 * EPS64 * scale)
    # every label, as a batch of rows (the 1-D / 0-d label case is tested in test_ce_axes_and_batch_shapes)
    k = len(row)
    ce = fastinfo.softmax_cross_entropy(np.tile(x, (k, 1)), np.arange(k), temperature=temperature)
    for y in range(k):
        assert ce[y] >= 0.0
        assert abs(ce[y] - float(-exp_lsm[y])) <= 8 * EPS64 * scale, (y, ce[y], -exp_lsm[y])


# =========================================================================== softmax_cross_entropy
def torch_ce(torch, x, target, axis=-1, weight=None, ignore_index=None, label_smoothing=0.0, reduction="none",
             temperature=1.0):
    """F.cross_entropy in float64 with the class axis moved to dim 1 (PyTorch's layout)."""
    F = torch.nn.functional
    x = f64(x) / temperature
    multi = x.ndim > 1
    target = np.asarray(target)
    if np.issubdtype(target.dtype, np.integer):
        tt = torch.from_numpy(target.astype(np.int64))
    else:
        tgt = np.broadcast_to(f64(target), x.shape)
        tgt = np.moveaxis(tgt, axis, 1) if multi else tgt
        tt = torch.from_numpy(np.array(tgt, dtype=np.float64, order="C", copy=True))
    xm = np.moveaxis(x, axis, 1) if multi else x
    tx = torch.from_numpy(np.ascontiguousarray(xm))
    kw = {}
    if weight is not None:
        kw["weight"] = T(torch, weight)
    if ignore_index is not None:
        kw["ignore_index"] = int(ignore_index)
    return N(F.cross_entropy(tx, tt, label_smoothing=label_smoothing, reduction=reduction, **kw))


INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("ldtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_ce_integer_label_dtypes(torch, ldtype, reduction):
    K = 7
    x = logits((12, K), seed=20)
    rng = np.random.default_rng(21)
    labels = rng.integers(0, K, 12)
    labels[:K] = np.arange(K)  # every class once
    lab = labels.astype(ldtype)
    got = fastinfo.softmax_cross_entropy(x, lab, reduction=reduction)
    close(got, torch_ce(torch, x, labels, reduction=reduction))
    if reduction == "none":
        assert got.shape == (12,) and got.dtype == np.float64
    else:
        assert type(got) is np.float64
    # ignore_index in the label dtype's range: -100 (signed) or K + 3 (unsigned)
    ignore = -100 if np.issubdtype(ldtype, np.signedinteger) else K + 3
    labels_i = labels.copy()
    labels_i[[2, 9]] = ignore
    got_i = fastinfo.softmax_cross_entropy(x, labels_i.astype(ldtype), ignore_index=ignore, reduction=reduction)
    close(got_i, torch_ce(torch, x, labels_i, ignore_index=ignore, label_smoothing=0.0, reduction=reduction))
    if reduction == "none":
        assert got_i[2] == 0.0 and got_i[9] == 0.0
    got_w = fastinfo.softmax_cross_entropy(x, labels_i.astype(ldtype), ignore_index=ignore, reduction=reduction,
                                           weight=np.arange(1.0, K + 1), label_smoothing=0.1)
    close(got_w, torch_ce(torch, x, labels_i, ignore_index=ignore, weight=np.arange(1.0, K + 1),
                          label_smoothing=0.1, reduction=reduction))


def test_ce_labels_without_ignore_match_torch(torch):
    x = logits((9, 5), seed=22)
    labels = np.random.default_rng(23).integers(0, 5, 9)
    for red in ("none", "sum", "mean"):
        close(fastinfo.softmax_cross_entropy(x, labels, reduction=red), torch_ce(torch, x, labels, reduction=red))
    # per-row formula with SciPy
    close(fastinfo.softmax_cross_entropy(x, labels), sc.logsumexp(x, axis=-1) - x[np.arange(9), labels])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("use_weight", [False, True], ids=["noweight", "weight"])
@pytest.mark.parametrize("ignore_index", [None, -100, 3], ids=["noignore", "ign-100", "ign3"])
def test_ce_labels_options_vs_torch(torch, ignore_index, use_weight, label_smoothing, reduction):
    K = 6
    x = logits((15, K), seed=24)
    rng = np.random.default_rng(25)
    labels = rng.integers(0, K, 15)
    if ignore_index is not None:
        labels[[1, 4, 11]] = ignore_index
    weight = rng.random(K) * 2 + 0.1 if use_weight else None
    if use_weight:
        weight[2] = 0.0  # zero weights are allowed
    got = fastinfo.softmax_cross_entropy(x, labels, weight=weight, ignore_index=ignore_index,
                                         label_smoothing=label_smoothing, reduction=reduction)
    exp = torch_ce(torch, x, labels, weight=weight, ignore_index=ignore_index,
                   label_smoothing=label_smoothing, reduction=reduction)
    close(got, exp)
    if reduction == "none" and ignore_index is not None:
        assert np.all(got[[1, 4, 11]] == 0.0)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("use_weight", [False, True], ids=["noweight", "weight"])
def test_ce_soft_targets_vs_torch(torch, use_weight, label_smoothing, reduction):
    K = 8
    x = logits((10, K), seed=26)
    t = probs((10, K), seed=27)
    t[3] = np.eye(K)[5]  # a one-hot row
    weight = np.random.default_rng(28).random(K) + 0.2 if use_weight else None
    got = fastinfo.softmax_cross_entropy(x, t, weight=weight, label_smoothing=label_smoothing, reduction=reduction)
    exp = torch_ce(torch, x, t, weight=weight, label_smoothing=label_smoothing, reduction=reduction)
    close(got, exp)
    if reduction == "none":
        assert got.shape == (10,)
    # SciPy: row loss = sum_c w_c t'_c (lse - z_c)
    tp = (1 - label_smoothing) * t + label_smoothing / K
    w = np.ones(K) if weight is None else weight
    rows = (w * tp * -sc.log_softmax(x, axis=-1)).sum(-1)
    ref = {"none": rows, "sum": rows.sum(), "mean": rows.mean()}[reduction]
    close(got, ref)


def test_ce_soft_targets_broadcast(torch):
    x = logits((4, 3, 6), seed=29)
    # soft targets have the logits' number of dimensions and broadcast over length-1 batch axes
    t = probs(6, seed=30)
    got = fastinfo.softmax_cross_entropy(x, t[None, None])
    assert got.shape == (4, 3)
    close(got, torch_ce(torch, x, np.broadcast_to(t, x.shape)))
    t2 = probs((3, 6), seed=31)
    close(fastinfo.softmax_cross_entropy(x, t2[None], reduction="mean"),
          torch_ce(torch, x, np.broadcast_to(t2, x.shape), reduction="mean"))
    # with fewer dimensions a float target is read as class labels, and refused (PyTorch's rule)
    for few in (t, t2):
        with pytest.raises(TypeError, match=r"dimensions? fewer than the logits\) and must be integers"):
            fastinfo.softmax_cross_entropy(x, few)


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_ce_axes_and_batch_shapes(torch, reduction):
    rng = np.random.default_rng(32)
    # (B, K, S) with axis=1: PyTorch's own layout
    x = logits((3, 5, 4), seed=34)
    lab = rng.integers(0, 5, (3, 4))
    got = fastinfo.softmax_cross_entropy(x, lab, axis=1, reduction=reduction)
    close(got, torch_ce(torch, x, lab, axis=1, reduction=reduction))
    # (B, S, K) with axis=-1, and (K, N) with axis=0
    xs = logits((2, 3, 6), seed=35)
    labs = rng.integers(0, 6, (2, 3))
    close(fastinfo.softmax_cross_entropy(xs, labs, reduction=reduction),
          torch_ce(torch, xs, labs, axis=-1, reduction=reduction))
    x0 = logits((6, 9), seed=36)
    lab0 = rng.integers(0, 6, 9)
    close(fastinfo.softmax_cross_entropy(x0, lab0, axis=0, reduction=reduction),
          torch_ce(torch, x0, lab0, axis=0, reduction=reduction))
    t0 = probs((6, 9), seed=37, axis=0)
    close(fastinfo.softmax_cross_entropy(x0, t0, axis=0, label_smoothing=0.1, reduction=reduction),
          torch_ce(torch, x0, t0, axis=0, label_smoothing=0.1, reduction=reduction))
    # 1-D logits: a single sample, soft target of shape (K,) or a 0-d label
    x1 = logits(5, seed=33)
    t1 = probs(5, seed=38)
    close(fastinfo.softmax_cross_entropy(x1, t1, reduction=reduction), torch_ce(torch, x1, t1, reduction=reduction))
    got1 = fastinfo.softmax_cross_entropy(x1, np.int64(2), reduction=reduction)
    assert np.ndim(got1) == 0
    close(got1, torch_ce(torch, x1, np.array(2), reduction=reduction))


@pytest.mark.parametrize("temperature", [1e-3, 0.7, 4.0, 1e3])
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
def test_ce_temperature_and_base(torch, temperature, soft):
    x = logits((8, 5), seed=38, scale=2e-3 if temperature == 1e-3 else 3.0)
    tgt = probs((8, 5), seed=39) if soft else np.random.default_rng(40).integers(0, 5, 8)
    for red in ("none", "sum", "mean"):
        exp = torch_ce(torch, x, tgt, temperature=temperature, label_smoothing=0.1, reduction=red)
        got = fastinfo.softmax_cross_entropy(x, tgt, temperature=temperature, label_smoothing=0.1, reduction=red)
        close(got, exp, rtol=1e-11)
        got2 = fastinfo.softmax_cross_entropy(x, tgt, temperature=temperature, label_smoothing=0.1,
                                              reduction=red, base=2)
        close(got2, exp / LN2, rtol=1e-11)
        got10 = fastinfo.softmax_cross_entropy(x, tgt, temperature=temperature, reduction=red, base=10)
        close(got10, torch_ce(torch, x, tgt, temperature=temperature, reduction=red) / math.log(10), rtol=1e-11)


@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
def test_ce_float32_logits(torch, soft):
    x = logits((16, 33), seed=41, scale=5.0, dtype=np.float32)
    tgt = probs((16, 33), seed=42).astype(np.float32) if soft else np.random.default_rng(43).integers(0, 33, 16)
    got = fastinfo.softmax_cross_entropy(x, tgt)
    assert got.dtype == np.float32
    close(got, torch_ce(torch, x, f64(tgt) if soft else tgt), RTOL32, 1e-6)
    for red in ("sum", "mean"):
        g = fastinfo.softmax_cross_entropy(x, tgt, reduction=red)
        assert np.ndim(g) == 0 and np.asarray(g).dtype == np.float32
        close(g, torch_ce(torch, x, f64(tgt) if soft else tgt, reduction=red), RTOL32, 1e-6)


def test_ce_float32_large_vocabulary():
    K = 128_000
    x = (np.random.default_rng(44).normal(size=(4, K)) * 5).astype(np.float32)
    labels = np.array([0, 17, 64_000, K - 1])
    got = fastinfo.softmax_cross_entropy(x, labels)
    assert got.dtype == np.float32
    xd = x.astype(np.float64)
    exp = sc.logsumexp(xd, axis=-1) - xd[np.arange(4), labels]
    close(got, exp, rtol=2e-6, atol=0)
    close(fastinfo.softmax_cross_entropy(x, labels, reduction="mean"), exp.mean(), rtol=2e-6, atol=0)
    close(fastinfo.logsumexp(x), sc.logsumexp(xd, axis=-1), rtol=2e-6, atol=0)


def test_ce_label_out_of_range_index_error():
    x = logits((4, 5), seed=45)
    with pytest.raises(IndexError, match=r"batch index \(1,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([0, 5, 1, 2]))
    with pytest.raises(IndexError, match=r"batch index \(2,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([0, 4, -1, 2]))
    with pytest.raises(IndexError, match=r"batch index \(2,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([0, 4, -100, 2]), ignore_index=-1)
    with pytest.raises(IndexError, match=r"batch index \(3,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([0, 4, 3, 2**64 - 1], dtype=np.uint64))
    with pytest.raises(IndexError, match=r"batch index \(0,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([2**63 + 1, 0, 0, 0], dtype=np.uint64))
    with pytest.raises(IndexError, match=r"batch index \(0,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([-128, 0, 0, 0], dtype=np.int8), reduction="mean")
    x3 = logits((2, 3, 5), seed=46)
    lab = np.zeros((2, 3), dtype=np.int32)
    lab[1, 2] = 7
    with pytest.raises(IndexError, match=r"batch index \(1, 2\)"):
        fastinfo.softmax_cross_entropy(x3, lab, reduction="sum")
    with pytest.raises(IndexError, match=r"batch index \(\)"):
        fastinfo.softmax_cross_entropy(x[0], np.int64(5))


def test_ce_mean_over_nothing_is_nan():
    x = logits((4, 5), seed=47)
    lab = np.full(4, -100)
    r = fastinfo.softmax_cross_entropy(x, lab, ignore_index=-100, reduction="mean")
    assert np.isnan(r)
    assert fastinfo.softmax_cross_entropy(x, lab, ignore_index=-100, reduction="sum") == 0.0
    assert np.all(fastinfo.softmax_cross_entropy(x, lab, ignore_index=-100) == 0.0)
    w = np.ones(5)
    assert np.isnan(fastinfo.softmax_cross_entropy(x, lab, ignore_index=-100, weight=w, reduction="mean"))
    empty = np.zeros((0, 5))
    assert np.isnan(fastinfo.softmax_cross_entropy(empty, np.zeros(0, np.int64), reduction="mean"))
    assert fastinfo.softmax_cross_entropy(empty, np.zeros(0, np.int64), reduction="sum") == 0.0
    assert np.isnan(fastinfo.softmax_cross_entropy(empty, np.zeros((0, 5)), reduction="mean"))


def test_ce_minus_inf_masks(torch):
    K = 6
    x = logits((5, K), seed=48)
    x[:, [1, 4]] = -np.inf
    live = [0, 2, 3, 5]
    labels = np.array([0, 2, 3, 5, 0])
    # hard labels on live classes: torch and SciPy agree
    got = fastinfo.softmax_cross_entropy(x, labels)
    close(got, torch_ce(torch, x, labels))
    close(got, sc.logsumexp(x[:, live], axis=-1) - x[np.arange(5), labels])
    # soft targets with zeros on the masked classes: the zero terms contribute 0
    # (PyTorch computes 0 * -inf = NaN there)
    t = probs((5, K), seed=49)
    t[:, [1, 4]] = 0.0
    t /= t.sum(-1, keepdims=True)
    for red in ("none", "sum", "mean"):
        g = fastinfo.softmax_cross_entropy(x, t, reduction=red)
        assert np.all(np.isfinite(g))
        rows = -(t[:, live] * sc.log_softmax(x[:, live], axis=-1)).sum(-1)
        close(g, {"none": rows, "sum": rows.sum(), "mean": rows.mean()}[red])
    w = np.arange(1, K + 1, dtype=float)
    g = fastinfo.softmax_cross_entropy(x, t, weight=w)
    close(g, -(w[live] * t[:, live] * sc.log_softmax(x[:, live], axis=-1)).sum(-1))
    # a label on a -inf logit, a positive soft target there: +inf
    r = fastinfo.softmax_cross_entropy(x, np.array([1, 0, 4, 2, 3]))
    assert r[0] == np.inf and r[2] == np.inf and np.all(np.isfinite(r[[1, 3, 4]]))
    assert fastinfo.softmax_cross_entropy(x, np.array([1, 0, 4, 2, 3]), reduction="mean") == np.inf
    t2 = t.copy()
    t2[3, 1] = 0.25
    r2 = fastinfo.softmax_cross_entropy(x, t2)
    assert r2[3] == np.inf and np.all(np.isfinite(np.delete(r2, 3)))
    # label smoothing spreads eps/K on every class, the masked ones too: +inf (as PyTorch)
    rs = fastinfo.softmax_cross_entropy(x, labels, label_smoothing=0.1)
    assert np.all(rs == np.inf)
    assert np.all(torch_ce(torch, x, labels, label_smoothing=0.1) == np.inf)
    # a row of all -inf logits with a label: +inf, not an error
    xa = x.copy()
    xa[2] = -np.inf
    ra = fastinfo.softmax_cross_entropy(xa, labels)
    assert ra[2] == np.inf
    close(ra[[0, 1, 3, 4]], got[[0, 1, 3, 4]])


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "+inf"])
def test_ce_invalid_logits(bad):
    x = logits((4, 5), seed=50)
    x[2, 1] = bad
    labels = np.array([0, 1, 2, 3])
    with pytest.raises(ValueError) as exc:
        fastinfo.softmax_cross_entropy(x, labels)
    msg = str(exc.value)
    assert name_token(msg, "logits") and "batch index (2,)" in msg, msg
    r = fastinfo.softmax_cross_entropy(x, labels, invalid="nan")
    assert np.isnan(r[2]) and not np.any(np.isnan(r[[0, 1, 3]]))
    close(r[[0, 1, 3]], sc.logsumexp(x[[0, 1, 3]], axis=-1) - x[[0, 1, 3], labels[[0, 1, 3]]])
    assert np.isnan(fastinfo.softmax_cross_entropy(x, labels, invalid="nan", reduction="mean"))
    assert np.isnan(fastinfo.softmax_cross_entropy(x, labels, invalid="nan", reduction="sum"))


def test_ce_argument_validation():
    x = logits((3, 4), seed=51)
    lab = np.array([0, 1, 2])
    for ls in (-0.1, 1.1, np.nan):
        with pytest.raises(ValueError):
            fastinfo.softmax_cross_entropy(x, lab, label_smoothing=ls)
    for red in ("batchmean", "avg", None):
        with pytest.raises(ValueError):
            fastinfo.softmax_cross_entropy(x, lab, reduction=red)
    for w in (np.ones(3), np.ones(5), np.ones((1, 4)),
              np.array([1.0, np.nan, 1.0, 1.0]), np.array([1.0, np.inf, 1.0, 1.0])):
        with pytest.raises(ValueError, match="weight"):
            fastinfo.softmax_cross_entropy(x, lab, weight=w)
    with pytest.raises(ValueError):
        fastinfo.softmax_cross_entropy(x, lab, invalid="ignore")


# =========================================================================== softmax_entropy
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,axis", LSE_SHAPES, ids=LSE_IDS)
def test_entropy_vs_torch_categorical(torch, shape, axis, dtype):
    x = logits(shape, seed=52, dtype=dtype)
    got = fastinfo.softmax_entropy(x, axis=axis)
    tx = torch.movedim(T(torch, x), axis, -1)
    exp = N(torch.distributions.Categorical(logits=tx).entropy())
    assert np.shape(got) == exp.shape and np.asarray(got).dtype == dtype
    close(got, exp, *tol(dtype))
    close(got, sc.entr(sc.softmax(f64(x), axis=axis)).sum(axis=axis), *tol(dtype))


@pytest.mark.parametrize("temperature", [1e-3, 0.3, 1.0, 5.0, 1e3])
def test_entropy_temperature_base_keepdims(torch, temperature):
    x = logits((6, 10), seed=53, scale=2e-3 if temperature == 1e-3 else 3.0)
    exp = N(torch.distributions.Categorical(logits=T(torch, x) / temperature).entropy())
    close(fastinfo.softmax_entropy(x, temperature=temperature), exp, 1e-11, 1e-14)
    close(fastinfo.softmax_entropy(x, temperature=temperature, base=2), exp / LN2, 1e-11, 1e-14)
    k = fastinfo.softmax_entropy(x, temperature=temperature, keepdims=True)
    assert k.shape == (6, 1)
    close(k[:, 0], exp, 1e-11, 1e-14)
    h1 = fastinfo.softmax_entropy(x[0], temperature=temperature)
    assert type(h1) is np.float64


def test_entropy_masks_and_all_minus_inf():
    x = logits((5, 7), seed=54)
    x[:, [0, 3]] = -np.inf
    got = fastinfo.softmax_entropy(x)
    assert np.all(np.isfinite(got))
    close(got, sc.entr(sc.softmax(x, axis=-1)).sum(-1))
    x[1, :] = -np.inf
    with pytest.raises(ValueError, match=r"all logits are -inf") as exc:
        fastinfo.softmax_entropy(x)
    assert "batch index (1,)" in str(exc.value)
    r = fastinfo.softmax_entropy(x, invalid="nan")
    assert np.isnan(r[1]) and np.all(np.isfinite(np.delete(r, 1)))
    close(np.delete(r, 1), np.delete(got, 1))
    # a single live class: entropy exactly 0
    assert fastinfo.softmax_entropy(np.array([-np.inf, 3.0, -np.inf])) == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "+inf"])
def test_entropy_invalid(bad):
    x = logits((3, 4), seed=55)
    x[1, 2] = bad
    with pytest.raises(ValueError) as exc:
        fastinfo.softmax_entropy(x)
    assert name_token(str(exc.value), "logits") and "batch index (1,)" in str(exc.value)
    r = fastinfo.softmax_entropy(x, invalid="nan")
    assert np.isnan(r[1]) and np.all(np.isfinite(r[[0, 2]]))


def test_entropy_extremes_vs_mpmath():
    for row in ([1000.0, 1000.0, -1000.0], [-1e4, -1e4, -1e4 + 1], [1e4, 0.0, 0.0, 1e4 - 30.0],
                [0.0, -30.0, -30.0, -745.0]):
        x = np.array(row)
        lsm = mp_log_softmax(row)
        with mpmath.workdps(MP_DPS):
            h = -mpmath.fsum(mpmath.exp(v) * v for v in lsm)
        scale = max(1.0, np.abs(x).max())
        # H = lse - sum p z: exact to a few ulp of the logits' magnitude
        close(fastinfo.softmax_entropy(x), float(h), rtol=1e-13, atol=16 * EPS64 * scale)


# =========================================================================== KL / JS
def torch_kl(torch, p, q, temperature=1.0, axis=-1):
    F = torch.nn.functional
    p, q = np.broadcast_arrays(f64(p), f64(q))
    tp = torch.movedim(T(torch, p) / temperature, axis, -1)
    tq = torch.movedim(T(torch, q) / temperature, axis, -1)
    return N(F.kl_div(F.log_softmax(tq, -1), F.log_softmax(tp, -1), log_target=True, reduction="none").sum(-1))


def ref_js(p, q, temperature=1.0, axis=-1):
    """JS in float64 with SciPy: 0.5 (rel_entr(P, M) + rel_entr(Q, M)) summed over the class axis; rows where
    a probability is subnormal (where P / M loses its relative accuracy) in log space from log_softmax."""
    p, q = np.broadcast_arrays(f64(p) / temperature, f64(q) / temperature)
    P, Q = sc.softmax(p, axis=axis), sc.softmax(q, axis=axis)
    M = (P + Q) / 2
    direct = 0.5 * (sc.rel_entr(P, M) + sc.rel_entr(Q, M)).sum(axis=axis)
    lp, lq = sc.log_softmax(p, axis=axis), sc.log_softmax(q, axis=axis)
    with np.errstate(invalid="ignore"):
        lm = np.logaddexp(lp, lq) - LN2
        tp = np.where(P > 0, P * (lp - lm), 0.0)
        tq = np.where(Q > 0, Q * (lq - lm), 0.0)
    logspace = 0.5 * (tp + tq).sum(axis=axis)
    tiny = ((P > 0) & (P < np.finfo(np.float64).tiny)) | ((Q > 0) & (Q < np.finfo(np.float64).tiny))
    return np.where(tiny.any(axis=axis), logspace, direct)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape,axis", LSE_SHAPES, ids=LSE_IDS)
def test_kl_js_vs_oracles(torch, shape, axis, dtype):
    p = logits(shape, seed=56, dtype=dtype)
    q = logits(shape, seed=57, dtype=dtype)
    kl = fastinfo.softmax_kl_divergence(p, q, axis=axis)
    exp = torch_kl(torch, p, q, axis=axis)
    assert np.shape(kl) == exp.shape and np.asarray(kl).dtype == dtype
    close(kl, exp, *tol(dtype))
    js = fastinfo.softmax_js_divergence(p, q, axis=axis)
    assert np.shape(js) == exp.shape and np.asarray(js).dtype == dtype
    close(js, ref_js(p, q, axis=axis), *tol(dtype))


@pytest.mark.parametrize("temperature", [1e-3, 0.5, 1.0, 3.0, 1e3])
def test_kl_js_temperature_reduction_base(torch, temperature):
    s = 2e-3 if temperature == 1e-3 else 3.0
    p = logits((7, 9), seed=58, scale=s)
    q = logits((7, 9), seed=59, scale=s)
    exp = torch_kl(torch, p, q, temperature)
    F = torch.nn.functional
    batchmean = N(F.kl_div(F.log_softmax(T(torch, q) / temperature, -1), F.log_softmax(T(torch, p) / temperature, -1),
                           log_target=True, reduction="batchmean"))
    kw = dict(temperature=temperature)
    close(fastinfo.softmax_kl_divergence(p, q, **kw), exp, 1e-10, 1e-14)
    close(fastinfo.softmax_kl_divergence(p, q, reduction="sum", **kw), exp.sum(), 1e-10, 1e-14)
    close(fastinfo.softmax_kl_divergence(p, q, reduction="mean", **kw), batchmean, 1e-10, 1e-14)
    close(fastinfo.softmax_kl_divergence(p, q, base=2, **kw), exp / LN2, 1e-10, 1e-14)
    js = ref_js(p, q, temperature)
    close(fastinfo.softmax_js_divergence(p, q, **kw), js, 1e-10, 1e-14)
    close(fastinfo.softmax_js_divergence(p, q, reduction="sum", **kw), js.sum(), 1e-10, 1e-14)
    close(fastinfo.softmax_js_divergence(p, q, reduction="mean", **kw), js.mean(), 1e-10, 1e-14)
    close(fastinfo.softmax_js_divergence(p, q, base=2, **kw), js / LN2, 1e-10, 1e-14)
    # PyTorch's "batchmean" divides by the length of the first axis: for rows, the mean
    close(fastinfo.softmax_kl_divergence(p, q, reduction="batchmean", **kw), batchmean, 1e-10, 1e-14)
    for f in (fastinfo.softmax_kl_divergence, fastinfo.softmax_js_divergence):
        with pytest.raises(ValueError, match="batchmean"):
            f(p, q, reduction="batch_mean")


def test_kl_js_broadcast(torch):
    p = logits((4, 3, 6), seed=60)
    q = logits(6, seed=61)
    got = fastinfo.softmax_kl_divergence(p, q)
    assert got.shape == (4, 3)
    close(got, torch_kl(torch, p, q))
    close(fastinfo.softmax_kl_divergence(q, p), torch_kl(torch, q, p))
    q2 = logits((3, 6), seed=62)
    close(fastinfo.softmax_js_divergence(p, q2), ref_js(p, q2))
    with pytest.raises(ValueError):
        fastinfo.softmax_kl_divergence(p, logits(5, seed=63))


def test_kl_js_masks():
    p = logits((4, 6), seed=64)
    q = logits((4, 6), seed=65)
    p[:, 0] = -np.inf  # p = 0 there: contributes 0 to KL(p||q)
    kl = fastinfo.softmax_kl_divergence(p, q)
    P, Q = sc.softmax(p, -1), sc.softmax(q, -1)
    assert np.all(np.isfinite(kl))
    close(kl, sc.rel_entr(P, Q).sum(-1))
    # q = 0 where p > 0: +inf
    assert np.all(fastinfo.softmax_kl_divergence(q, p) == np.inf)
    js = fastinfo.softmax_js_divergence(p, q)
    close(js, ref_js(p, q))
    close(fastinfo.softmax_js_divergence(q, p), ref_js(p, q))
    # disjoint supports: JS = log 2
    a = np.array([0.0, 1.0, -np.inf, -np.inf])
    b = np.array([-np.inf, -np.inf, 2.0, 5.0])
    close(fastinfo.softmax_js_divergence(a, b), LN2, rtol=1e-15, atol=0)
    assert fastinfo.softmax_kl_divergence(a, b) == np.inf


@pytest.mark.parametrize("fname", ["softmax_kl_divergence", "softmax_js_divergence"])
def test_kl_js_invalid(fname):
    f = getattr(fastinfo, fname)
    p = logits((4, 5), seed=66)
    q = logits((4, 5), seed=67)
    pb = p.copy()
    pb[2, 1] = np.nan
    with pytest.raises(ValueError) as exc:
        f(pb, q)
    msg_p = str(exc.value)
    assert name_token(msg_p, "p_logits") and "batch index (2,)" in msg_p, msg_p
    qb = q.copy()
    qb[1, 1] = np.inf
    with pytest.raises(ValueError) as exc:
        f(p, qb)
    msg_q = str(exc.value)
    assert name_token(msg_q, "q_logits") and "batch index (1,)" in msg_q, msg_q
    r = f(pb, q, invalid="nan")
    assert np.isnan(r[2]) and np.all(np.isfinite(np.delete(r, 2)))
    assert np.isnan(f(pb, q, invalid="nan", reduction="mean"))
    for arg in ("p", "q"):
        a, b = p.copy(), q.copy()
        (a if arg == "p" else b)[3] = -np.inf
        with pytest.raises(ValueError, match=r"all logits are -inf") as exc:
            f(a, b)
        assert "batch index (3,)" in str(exc.value)
        r = f(a, b, invalid="nan")
        assert np.isnan(r[3]) and np.all(np.isfinite(r[:3]))


def test_kl_js_extremes_vs_mpmath():
    cases = [([1000.0, 0.0, -1000.0], [0.0, 1000.0, -1000.0]),
             ([1e4, 1e4 - 1, -1e4], [1e4 - 1, 1e4, 0.0]),
             ([-1000.0, -1001.0, -1002.0], [-1002.0, -1001.0, -1000.0])]
    for p, q in cases:
        lp, lq = mp_log_softmax(p), mp_log_softmax(q)
        with mpmath.workdps(MP_DPS):
            P = [mpmath.exp(v) for v in lp]
            Q = [mpmath.exp(v) for v in lq]
            kl = mpmath.fsum(a * (u - v) for a, u, v in zip(P, lp, lq))
            M = [(a + b) / 2 for a, b in zip(P, Q)]
            js = (mpmath.fsum(a * mpmath.log(a / m) for a, m in zip(P, M) if a > 0)
                  + mpmath.fsum(b * mpmath.log(b / m) for b, m in zip(Q, M) if b > 0)) / 2
        scale = max(1.0, max(abs(v) for v in p + q))
        close(fastinfo.softmax_kl_divergence(np.array(p), np.array(q)), float(kl), rtol=1e-12,
              atol=16 * EPS64 * scale)
        close(fastinfo.softmax_js_divergence(np.array(p), np.array(q)), float(js), rtol=1e-12,
              atol=16 * EPS64 * scale)


def mp_js_logits(x, y, temperature=1.0):
    lp, lq = mp_log_softmax(x, temperature), mp_log_softmax(y, temperature)
    with mpmath.workdps(MP_DPS):
        total = mpmath.mpf(0)
        for a, b in zip(lp, lq):
            if a is None and b is None:
                continue
            P = mpmath.exp(a) if a is not None else mpmath.mpf(0)
            Q = mpmath.exp(b) if b is not None else mpmath.mpf(0)
            M = (P + Q) / 2
            total += (P * mpmath.log(P / M) if P > 0 else 0) + (Q * mpmath.log(Q / M) if Q > 0 else 0)
        return total / 2


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.3])
def test_js_of_nearly_equal_logits_keeps_its_relative_accuracy(dtype, temperature):
    """JS of logits that differ by eps ~ JS of order eps^2, far below the O(1) sums it is made
    of: relative accuracy ~1e-16/eps is promised, not an absolute error of ~1e-16 (which
    would be all of it at eps = 1e-8); with the logits shifted as a whole (softmax does not
    see the shift), a -inf class in both rows, and rows of 64 and 1000 logits (a block's
    vectors and the tail: 1000 = 62 vectors of 16 and 8)"""
    rng = np.random.default_rng(7)
    for k in (64, 1000):
        for eps in (1e-2, 1e-4, 1e-6, 1e-8):
            for shift in (0.0, 37.5):
                x = (rng.standard_normal((2, k)) * 3).astype(dtype)
                y = (x.astype(np.float64) + shift + eps * rng.standard_normal((2, k))).astype(dtype)
                x[:, 5] = y[:, 5] = -np.inf
                got = fastinfo.softmax_js_divergence(x, y, temperature=temperature)
                want = [float(mp_js_logits(list(x[i]), list(y[i]), temperature)) for i in range(2)]
                # float32 rows: the rounding of y to float32 is part of the input (the oracle
                # takes the same values); the result is rounded to float32 once
                rtol = 1e-12 if dtype == np.float64 else 4e-7
                close(got, want, rtol=rtol, atol=0)


LOGIT = st.one_of(st.floats(min_value=-60, max_value=60, allow_nan=False, allow_infinity=False),
                  st.sampled_from([-np.inf, 0.0, 700.0, -700.0]))


@st.composite
def logit_pairs(draw):
    n = draw(st.integers(1, 4))
    k = draw(st.integers(1, 12))
    p = draw(hnp.arrays(np.float64, (n, k), elements=LOGIT))
    q = draw(hnp.arrays(np.float64, (n, k), elements=LOGIT))
    # every row needs a live class
    p[:, 0] = np.where(np.isneginf(p[:, 0]), 0.0, p[:, 0])
    q[:, 0] = np.where(np.isneginf(q[:, 0]), 0.0, q[:, 0])
    t = draw(st.sampled_from([1.0, 0.1, 7.0]))
    return p, q, t


@SETTINGS
@given(logit_pairs())
def test_kl_never_negative_and_kl_self_zero(data):
    p, q, t = data
    kl = fastinfo.softmax_kl_divergence(p, q, temperature=t)
    assert np.all(kl >= 0.0), kl
    assert not np.any(np.isnan(kl))
    self_kl = fastinfo.softmax_kl_divergence(p, p, temperature=t)
    assert np.all(np.abs(self_kl) <= 1e-15), self_kl
    # SciPy in log space (rel_entr(P, Q) loses accuracy when Q is subnormal): sum P (log P - log Q)
    P = sc.softmax(p / t, -1)
    lp, lq = sc.log_softmax(p / t, -1), sc.log_softmax(q / t, -1)
    with np.errstate(invalid="ignore"):
        ref = np.where(P > 0, P * (lp - lq), 0.0).sum(-1)
    np.testing.assert_allclose(kl, ref, rtol=1e-12, atol=1e-13 * max(1.0, np.abs(q[np.isfinite(q)] / t).max()))


@SETTINGS
@given(logit_pairs())
def test_js_bounds_and_symmetry(data):
    p, q, t = data
    js = fastinfo.softmax_js_divergence(p, q, temperature=t)
    js_r = fastinfo.softmax_js_divergence(q, p, temperature=t)
    assert np.all(js >= 0.0) and np.all(js <= LN2), js
    np.testing.assert_allclose(js, js_r, rtol=1e-13, atol=1e-15)
    assert np.all(np.abs(fastinfo.softmax_js_divergence(p, p, temperature=t)) <= 1e-15)
    np.testing.assert_allclose(js, ref_js(p, q, t), rtol=1e-9, atol=1e-12)


# =========================================================================== sigmoid_cross_entropy
def torch_bce(torch, x, y, pos_weight=None, weight=None, reduction="none"):
    F = torch.nn.functional
    x, y = np.broadcast_arrays(f64(x), f64(y))
    kw = {}
    if pos_weight is not None:
        kw["pos_weight"] = T(torch, pos_weight)
    if weight is not None:
        kw["weight"] = T(torch, weight)
    return N(F.binary_cross_entropy_with_logits(T(torch, x), T(torch, y), reduction=reduction, **kw))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("pw", [False, True], ids=["nopw", "pw"])
@pytest.mark.parametrize("w", [None, "row", "col", "full"])
def test_sigmoid_ce_vs_torch(torch, w, pw, reduction):
    rng = np.random.default_rng(70)
    x = logits((6, 5), seed=71, scale=4.0)
    y = rng.random((6, 5))
    y[0] = 0.0
    y[1] = 1.0
    pos_weight = rng.random(5) * 3 + 0.1 if pw else None
    weight = {None: None, "row": rng.random((6, 1)), "col": rng.random(5), "full": rng.random((6, 5))}[w]
    got = fastinfo.sigmoid_cross_entropy(x, y, pos_weight=pos_weight, weight=weight, reduction=reduction)
    exp = torch_bce(torch, x, y, pos_weight, weight, reduction)
    assert np.shape(got) == np.shape(exp)
    close(got, exp)


def test_sigmoid_ce_broadcast_and_dtypes(torch):
    x = logits((3, 4, 5), seed=72)
    y = np.random.default_rng(73).random(5)
    close(fastinfo.sigmoid_cross_entropy(x, y), torch_bce(torch, x, y))
    x32 = x.astype(np.float32)
    r = fastinfo.sigmoid_cross_entropy(x32, y.astype(np.float32))
    assert r.dtype == np.float32
    close(r, torch_bce(torch, x32, y.astype(np.float32)), RTOL32, 1e-6)
    # 1-D input, scalar reductions
    x1, y1 = x[0, 0], y
    close(fastinfo.sigmoid_cross_entropy(x1, y1, reduction="mean"), torch_bce(torch, x1, y1, reduction="mean"))


def _mp_softplus(v):
    with mpmath.workdps(MP_DPS):
        return mpmath.log1p(mpmath.exp(mpmath.mpf(v)))


def test_sigmoid_ce_tiny_losses_vs_mpmath():
    xs = np.array([20.0, 40.0, 700.0, 36.7, 100.0, 745.0])
    # target 1, large positive logit: log1p(exp(-x)), with full relative accuracy
    got = fastinfo.sigmoid_cross_entropy(xs, np.ones_like(xs))
    for g, v in zip(got, xs):
        e = float(_mp_softplus(-v))
        assert g > 0.0 or v > 700  # never rounded away to 0
        assert abs(g - e) <= 4 * EPS64 * e + 1e-322, (v, g, e)
    assert got[1] == pytest.approx(4.248354255291589e-18, rel=1e-14)
    # target 0, large negative logit: log1p(exp(x))
    got0 = fastinfo.sigmoid_cross_entropy(-xs, np.zeros_like(xs))
    for g, v in zip(got0, xs):
        e = float(_mp_softplus(-v))
        assert abs(g - e) <= 4 * EPS64 * e + 1e-322, (-v, g, e)
    # with pos_weight (scales the target-1 term) and weight
    gw = fastinfo.sigmoid_cross_entropy(xs, np.ones_like(xs), pos_weight=np.array([3.0]), weight=np.array(0.5))
    for g, v in zip(gw, xs):
        e = float(1.5 * _mp_softplus(-v))
        assert abs(g - e) <= 8 * EPS64 * e + 1e-322, (v, g, e)
    # the wrong side: loss ~ |x|
    big = fastinfo.sigmoid_cross_entropy(np.array([700.0, -700.0, 1e4, -1e4]), np.array([0.0, 1.0, 0.0, 1.0]))
    close(big, [700.0, 700.0, 1e4, 1e4], rtol=2 * EPS64, atol=0)
    # fractional targets at extreme logits: (1 - t) x + softplus(-x)
    for v, t in [(40.0, 0.25), (-40.0, 0.75), (1e3, 0.5)]:
        with mpmath.workdps(MP_DPS):
            e = float((1 - mpmath.mpf(t)) * v + mpmath.log1p(mpmath.exp(-mpmath.mpf(v))))
        close(fastinfo.sigmoid_cross_entropy(np.array([v]), np.array([t])), [e], rtol=4 * EPS64, atol=0)


def test_sigmoid_ce_minus_inf_is_a_mask():
    # contract, "Validity": -inf logits are allowed (probability exactly 0; a 0 target there contributes 0).
    # (PyTorch gives NaN for both.)
    x = np.array([-np.inf, -np.inf, 1.0])
    r = fastinfo.sigmoid_cross_entropy(x, np.array([0.0, 1.0, 0.5]))
    assert r[0] == 0.0 and r[1] == np.inf
    close(r[2], 0.5 * 1.0 + math.log1p(math.exp(-1.0)))


def test_sigmoid_ce_invalid():
    for bad in (np.nan, np.inf):
        xb = np.array([0.5, bad, 1.0])
        with pytest.raises(ValueError, match="logits"):
            fastinfo.sigmoid_cross_entropy(xb, np.array([0.0, 1.0, 0.5]))
        rn = fastinfo.sigmoid_cross_entropy(xb, np.array([0.0, 1.0, 0.5]), invalid="nan")
        assert np.isnan(rn[1]) and np.all(np.isfinite(rn[[0, 2]]))
        assert np.isnan(fastinfo.sigmoid_cross_entropy(xb, np.array([0.0, 1.0, 0.5]), invalid="nan",
                                                       reduction="mean"))
    with pytest.raises(ValueError):
        fastinfo.sigmoid_cross_entropy(np.zeros(3), np.zeros(3), reduction="batchmean")


# =========================================================================== perplexity
def test_perplexity_vs_torch(torch):
    x = logits((20, 11), seed=80)
    lab = np.random.default_rng(81).integers(0, 11, 20)
    lab[[3, 7, 8]] = -100
    exp = math.exp(float(torch_ce(torch, x, lab, ignore_index=-100, reduction="mean")))
    got = fastinfo.perplexity(x, lab, ignore_index=-100)
    assert np.ndim(got) == 0
    close(got, exp)
    close(fastinfo.perplexity(x, lab, ignore_index=-100, base=2), exp)
    close(fastinfo.perplexity(x, lab, ignore_index=-100, base=10), exp)
    # SciPy cross-check
    keep = lab != -100
    nll = sc.logsumexp(x[keep], axis=-1) - x[keep, lab[keep]]
    close(got, np.exp(nll.mean()))
    # 3-D batch (B, S, K) and the class axis elsewhere
    x3 = logits((2, 5, 7), seed=82)
    lab3 = np.random.default_rng(83).integers(0, 7, (2, 5))
    close(fastinfo.perplexity(x3, lab3), math.exp(float(torch_ce(torch, x3, lab3, reduction="mean"))))
    close(fastinfo.perplexity(np.moveaxis(x3, -1, 1), lab3, axis=1),
          math.exp(float(torch_ce(torch, x3, lab3, reduction="mean"))))


def test_perplexity_all_ignored_nan_and_bounds():
    x = logits((4, 5), seed=84)
    assert np.isnan(fastinfo.perplexity(x, np.full(4, -1), ignore_index=-1))
    assert np.isnan(fastinfo.perplexity(x, np.full(4, 9), ignore_index=9, base=2))
    # uniform logits: perplexity = K exactly-ish
    close(fastinfo.perplexity(np.zeros((3, 5)), np.array([0, 1, 4])), 5.0, rtol=1e-15)
    with pytest.raises(IndexError, match=r"batch index \(2,\)"):
        fastinfo.perplexity(x, np.array([0, 1, 5, 0]))
    with pytest.raises(ValueError, match="logits"):
        xb = x.copy()
        xb[1, 1] = np.nan
        fastinfo.perplexity(xb, np.array([0, 1, 2, 0]))


# =========================================================================== threads
@pytest.fixture(scope="module")
def thread_inputs():
    rng = np.random.default_rng(90)
    out = {}
    for shape in ((64, 2000), (2, 100_000)):
        x = rng.normal(size=shape) * 4
        y = rng.normal(size=shape) * 4
        x[0, 5] = -np.inf
        lab = rng.integers(0, shape[1], shape[0])
        soft = rng.random(shape)
        soft /= soft.sum(-1, keepdims=True)
        out[shape] = (x, y, lab, soft)
    return out


THREAD_CALLS = {
    "logsumexp": lambda x, y, l, s, **kw: fastinfo.logsumexp(x, **kw),
    "log_softmax": lambda x, y, l, s, **kw: fastinfo.log_softmax(x, temperature=0.7, **kw),
    "softmax": lambda x, y, l, s, **kw: fastinfo.softmax(x, **kw),
    "ce_labels": lambda x, y, l, s, **kw: fastinfo.softmax_cross_entropy(x, l, label_smoothing=0.1, **kw),
    "ce_labels_mean": lambda x, y, l, s, **kw: fastinfo.softmax_cross_entropy(y, l, reduction="mean", **kw),
    "ce_soft": lambda x, y, l, s, **kw: fastinfo.softmax_cross_entropy(y, s, **kw),
    "entropy": lambda x, y, l, s, **kw: fastinfo.softmax_entropy(x, **kw),
    "kl": lambda x, y, l, s, **kw: fastinfo.softmax_kl_divergence(x, y, **kw),
    "js": lambda x, y, l, s, **kw: fastinfo.softmax_js_divergence(y, x, **kw),
    "perplexity": lambda x, y, l, s, **kw: fastinfo.perplexity(y, l, **kw),
    "f32_softmax": lambda x, y, l, s, **kw: fastinfo.softmax(y.astype(np.float32), **kw),
    "f32_ce": lambda x, y, l, s, **kw: fastinfo.softmax_cross_entropy(y.astype(np.float32), l, **kw),
}


@pytest.mark.parametrize("shape", [(64, 2000), (2, 100_000)], ids=["64x2000", "2x100000"])
@pytest.mark.parametrize("name", list(THREAD_CALLS))
def test_n_threads_bitwise_identical(name, shape, thread_inputs):
    args = thread_inputs[shape]
    f = THREAD_CALLS[name]
    r1 = f(*args, n_threads=1)
    r2 = f(*args, n_threads=2)
    rn = f(*args, n_threads=None)
    assert np.array_equal(as_bits(r1), as_bits(r2)), name
    assert np.array_equal(as_bits(r1), as_bits(rn)), name


def test_threaded_errors_name_first_bad_row():
    rng = np.random.default_rng(91)
    x = rng.normal(size=(64, 2000))
    x[50, 3] = np.inf
    x[40, 1999] = np.nan  # first offending row in C order
    for f in (fastinfo.logsumexp, fastinfo.softmax, fastinfo.log_softmax, fastinfo.softmax_entropy):
        with pytest.raises(ValueError, match=r"batch index \(40,\)"):
            f(x, n_threads=2)
    with pytest.raises(ValueError, match=r"batch index \(40,\)"):
        fastinfo.softmax_cross_entropy(x, np.zeros(64, np.int64), n_threads=2)
    r = fastinfo.softmax(x, invalid="nan", n_threads=2)
    assert list(np.flatnonzero(np.isnan(r).all(axis=1))) == [40, 50]
    close(np.delete(r, [40, 50], axis=0), sc.softmax(np.delete(x, [40, 50], axis=0), axis=-1))
    y = rng.normal(size=(2, 100_000))
    y[1, 99_999] = np.nan
    with pytest.raises(ValueError, match=r"batch index \(1,\)"):
        fastinfo.softmax(y, n_threads=2)
    lab = np.zeros(64, np.int64)
    lab[60] = -3
    lab[33] = 5000
    with pytest.raises(IndexError, match=r"batch index \(33,\)"):
        fastinfo.softmax_cross_entropy(rng.normal(size=(64, 2000)), lab, n_threads=2)
    z = rng.normal(size=(64, 2000))
    z[20] = -np.inf
    with pytest.raises(ValueError, match=r"all logits are -inf") as exc:
        fastinfo.softmax(z, n_threads=2)
    assert "batch index (20,)" in str(exc.value)
    assert fastinfo.logsumexp(z, n_threads=2)[20] == -np.inf
    assert fastinfo.softmax_cross_entropy(z, np.zeros(64, np.int64), n_threads=2)[20] == np.inf


def test_long_rows_threaded_vs_scipy():
    rng = np.random.default_rng(92)
    y = rng.normal(size=(2, 100_000)) * 4
    y[:, ::7] = -np.inf
    t = rng.random((2, 100_000))
    t[:, ::7] = 0.0
    t /= t.sum(1, keepdims=True)
    live = np.isfinite(y)
    lsm = sc.log_softmax(y, axis=-1)
    close(fastinfo.logsumexp(y, n_threads=2), sc.logsumexp(y, axis=-1), 1e-12)
    close(fastinfo.softmax(y, n_threads=2), sc.softmax(y, axis=-1), 1e-11, 1e-18)
    close(fastinfo.softmax_cross_entropy(y, t, n_threads=2), -(t * np.where(live, lsm, 0.0)).sum(1), 1e-11)
    close(fastinfo.softmax_entropy(y, n_threads=2), sc.entr(sc.softmax(y, axis=-1)).sum(-1), 1e-11)
    w = y.astype(np.float32)
    close(fastinfo.logsumexp(w, n_threads=2), sc.logsumexp(w.astype(np.float64), axis=-1), 2e-6, 0)


@pytest.mark.parametrize("layout", ["strided", "transposed", "broadcast", "list", "readonly"])
def test_layouts(layout, torch):
    base = logits((6, 10), seed=93)
    if layout == "strided":
        x = base[::2, ::2]
        axis = -1
    elif layout == "transposed":
        x = base.T
        axis = 0
    elif layout == "broadcast":
        x = np.broadcast_to(base[0], (4, 10))
        axis = -1
    elif layout == "list":
        x = base.tolist()
        axis = -1
    else:
        x = base.copy()
        x.flags.writeable = False
        axis = -1
    xd = np.array(x, dtype=np.float64)
    close(fastinfo.logsumexp(x, axis=axis), sc.logsumexp(xd, axis=axis))
    close(fastinfo.softmax(x, axis=axis), sc.softmax(xd, axis=axis))
    close(fastinfo.log_softmax(x, axis=axis), sc.log_softmax(xd, axis=axis), atol=1e-13)
    close(fastinfo.softmax_entropy(x, axis=axis), sc.entr(sc.softmax(xd, axis=axis)).sum(axis))
    nb = np.delete(np.array(xd.shape), axis)
    lab = np.random.default_rng(94).integers(0, xd.shape[axis], nb)
    close(fastinfo.softmax_cross_entropy(x, lab, axis=axis), torch_ce(torch, xd, lab, axis=axis))
    close(fastinfo.softmax_kl_divergence(x, np.flip(xd, axis), axis=axis),
          torch_kl(torch, xd, np.flip(xd, axis), axis=axis))


def test_single_class():
    x = np.array([[3.0], [-2.0], [-np.inf]])
    lse = fastinfo.logsumexp(x)
    close(lse, [3.0, -2.0, -np.inf])
    np.testing.assert_array_equal(fastinfo.softmax(x[:2]), [[1.0], [1.0]])
    np.testing.assert_array_equal(fastinfo.log_softmax(x[:2]), [[0.0], [0.0]])
    np.testing.assert_array_equal(fastinfo.softmax_entropy(x[:2]), [0.0, 0.0])
    np.testing.assert_array_equal(fastinfo.softmax_cross_entropy(x[:2], np.array([0, 0]), label_smoothing=0.3),
                                  [0.0, 0.0])
    np.testing.assert_array_equal(fastinfo.softmax_kl_divergence(x[:2], x[1::-1]), [0.0, 0.0])


def test_invalid_row_with_label_smoothing_is_nan_and_overflowing_sums_are_inf():
    # label smoothing (or class weights) with invalid="nan": the invalid row is NaN, never
    # whatever its output memory held
    x = np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]])
    for kw in (dict(label_smoothing=1.0), dict(label_smoothing=0.1, weight=[0.0, 1, 1]), dict(weight=[0.0, 1, 1])):
        r = fastinfo.softmax_cross_entropy(x, np.array([0, 1]), invalid="nan", **kw)
        assert np.isnan(r[0]) and np.isfinite(r[1]), (kw, r)
    # sums beyond the float range give inf, not OverflowError
    big = np.array([[0.75e308, -0.75e308]] * 2)
    assert fastinfo.softmax_cross_entropy(big, np.array([1, 1]), reduction="mean") == np.inf
    assert fastinfo.perplexity(big, np.array([1, 1])) == np.inf
    assert fastinfo.sigmoid_cross_entropy(np.array([1e308, 1e308]), np.array([0.0, 0.0]), reduction="sum") == np.inf


@pytest.mark.parametrize("fname", ["logsumexp", "log_softmax", "softmax", "softmax_entropy"])
def test_out_and_argument_errors(fname):
    f = getattr(fastinfo, fname)
    x = logits((4, 6), seed=95)
    shape = (4, 6) if fname in ("log_softmax", "softmax") else (4,)
    with pytest.raises(ValueError):
        f(x, out=np.empty((4, 5)))
    with pytest.raises(TypeError):
        f(x, out=np.empty(shape, np.float32))
    with pytest.raises(np.exceptions.AxisError):
        f(x, axis=2)
    with pytest.raises(ValueError):
        f(x, n_threads=0)
    with pytest.raises(TypeError):
        f(x, n_threads=1.5)
    with pytest.raises(ValueError):
        f(x, invalid="ignore")


@st.composite
def ce_cases(draw):
    n = draw(st.integers(0, 6))
    k = draw(st.integers(1, 9))
    x = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(-40, 40, allow_nan=False, allow_infinity=False)))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    ignore = draw(st.sampled_from([None, 0, -100]))
    if ignore == -100 and n:
        labels[draw(st.integers(0, n - 1))] = -100
    # (subnormal weights make PyTorch overflow where the exact mean is finite: not drawn)
    weight = draw(st.one_of(st.none(), hnp.arrays(np.float64, (k,),
                                                  elements=st.one_of(st.just(0.0), st.floats(1e-3, 5.0)))))
    eps = draw(st.sampled_from([0.0, 0.05, 0.5, 1.0]))
    red = draw(st.sampled_from(["none", "sum", "mean"]))
    temp = draw(st.sampled_from([1.0, 0.25, 3.0]))
    return x, labels, ignore, weight, eps, red, temp


@SETTINGS
@given(ce_cases())
def test_ce_labels_property_vs_torch(torch, data):
    x, labels, ignore, weight, eps, red, temp = data
    got = fastinfo.softmax_cross_entropy(x, labels, ignore_index=ignore, weight=weight, label_smoothing=eps,
                                         reduction=red, temperature=temp)
    exp = torch_ce(torch, x, labels, ignore_index=ignore, weight=weight, label_smoothing=eps, reduction=red,
                   temperature=temp)
    # a mean whose weights sum to 0 is 0/0 in both; beyond that, the same numbers
    np.testing.assert_allclose(np.asarray(got, np.float64), exp, rtol=1e-11, atol=1e-12 * max(1.0, np.abs(x).max(initial=0.0)))
    if red == "none":
        assert np.all(got >= 0.0)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
def test_ce_contract_formula_scipy(label_smoothing, reduction):
    """The contract's formulas with SciPy (runs without torch)."""
    K = 5
    rng = np.random.default_rng(96)
    x = logits((9, K), seed=97)
    labels = rng.integers(0, K, 9)
    labels[[0, 5]] = -1
    w = rng.random(K) + 0.5
    eps = label_smoothing
    nl = -sc.log_softmax(x, axis=-1)
    keep = labels != -1
    li = np.where(keep, labels, 0)
    rows = (1 - eps) * w[li] * nl[np.arange(9), li] + (eps / K) * (w * nl).sum(-1)
    rows = np.where(keep, rows, 0.0)
    ref = {"none": rows, "sum": rows.sum(), "mean": rows.sum() / w[li][keep].sum()}[reduction]
    got = fastinfo.softmax_cross_entropy(x, labels, ignore_index=-1, weight=w, label_smoothing=eps,
                                         reduction=reduction)
    close(got, ref)
    close(fastinfo.softmax_cross_entropy(x, labels, ignore_index=-1, weight=w, label_smoothing=eps,
                                         reduction=reduction, base=2), ref / LN2)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_ce_single_sample_1d_logits_0d_label(label_smoothing, reduction):
    """A single sample: 1-D logits with a 0-d label (batch shape ()) give a NumPy scalar (runs without torch)."""
    K = 5
    eps = label_smoothing
    x = logits((9, K), seed=97)
    nl = -sc.log_softmax(x, axis=-1)
    for y in range(K):
        g1 = fastinfo.softmax_cross_entropy(x[1], np.int64(y), label_smoothing=eps, reduction=reduction)
        assert type(g1) is np.float64
        close(g1, (1 - eps) * nl[1, y] + (eps / K) * nl[1].sum())
        if eps == 0.0 and reduction == "none":
            close(fastinfo.perplexity(x[1], np.int64(y)), math.exp(nl[1, y]))


# --------------------------------------------------------------------------- memory
# The fused functions allocate O(rows), never O(rows x classes).
@pytest.mark.parametrize("call", [
    lambda x, y, z: fastinfo.softmax_cross_entropy(x, y),
    lambda x, y, z: fastinfo.softmax_cross_entropy(x, y, label_smoothing=0.1, ignore_index=0,
                                                   weight=np.ones(x.shape[1]), reduction="mean"),
    lambda x, y, z: fastinfo.softmax_entropy(x),
    lambda x, y, z: fastinfo.logsumexp(x),
    lambda x, y, z: fastinfo.softmax_kl_divergence(x, z, reduction="mean"),
    lambda x, y, z: fastinfo.softmax_js_divergence(x, z),
    lambda x, y, z: fastinfo.perplexity(x, y),
], ids=["ce", "ce-smoothing-weight-mean", "entropy", "logsumexp", "kl", "js", "perplexity"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_peak_extra_memory_is_o_rows(call, dtype):
    N, K = 256, 20_000
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, K)).astype(dtype)
    z = rng.standard_normal((N, K)).astype(dtype)
    y = rng.integers(0, K, N)
    call(x, y, z)                       # warm-up (lazy imports, caches)
    _, peak = traced_peak(lambda: call(x, y, z))
    budget = 64 * N * 8 + (1 << 16) + 16 * K   # a few row-sized vectors, class weights
    assert peak <= budget, f"peak {peak} bytes > {budget} (logits are {x.nbytes} bytes)"
    assert peak < x.nbytes / 50


_ROW_FUNCS = {
    "logsumexp": lambda x, y, lab, **k: fastinfo.logsumexp(x, **k),
    "softmax": lambda x, y, lab, **k: fastinfo.softmax(x, **k),
    "log_softmax": lambda x, y, lab, **k: fastinfo.log_softmax(x, **k),
    "softmax_entropy": lambda x, y, lab, **k: fastinfo.softmax_entropy(x, **k),
    "softmax_cross_entropy": lambda x, y, lab, **k: fastinfo.softmax_cross_entropy(x, lab, **k),
    "smoothed_cross_entropy": lambda x, y, lab, **k: fastinfo.softmax_cross_entropy(x, lab, label_smoothing=0.1,
                                                                                    **k),
    "soft_cross_entropy": lambda x, y, lab, **k: fastinfo.softmax_cross_entropy(
        x, np.full(x.shape, 1.0 / x.shape[-1]), **k),
    "softmax_kl_divergence": lambda x, y, lab, **k: fastinfo.softmax_kl_divergence(x, y, **k),
    "softmax_js_divergence": lambda x, y, lab, **k: fastinfo.softmax_js_divergence(x, y, **k),
}


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("fname", sorted(_ROW_FUNCS))
def test_nan_logit_anywhere_makes_the_row_invalid(fname, dtype):
    # A NaN logit is found by the sums it turns to NaN: wherever it is (before or after the
    # max, in a later block of a long row, the label's own logit, where the other
    # exps underflow), in the teacher's row too, and beside logits that are all -inf.
    import ml_dtypes
    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    K = 20_000
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((8, K)) * 3).astype(dt)
    y = (rng.standard_normal((8, K)) * 3).astype(dt)
    lab = rng.integers(0, K, 8)
    x[1, 0] = np.nan                                  # before the max
    x[2, K - 1] = np.nan                              # in the last block
    x[3, lab[3]] = np.nan                             # the label's logit
    x[4] = -np.inf
    x[4, 17] = np.nan                                 # every other logit -inf
    x[5, 9000] = np.nan
    x[5, 100] = 60000 if dtype == "float16" else 1e4  # every other exp underflows to 0
    y[6, 12345] = np.nan                              # the second row
    f = _ROW_FUNCS[fname]
    r = np.asarray(f(x, y, lab, invalid="nan", n_threads=2), dtype=np.float64).reshape(8, -1)
    bad = np.isnan(r).all(axis=1)
    pair = fname in ("softmax_kl_divergence", "softmax_js_divergence")
    want = [False, True, True, True, True, True, pair, False]
    assert list(bad) == want, (fname, dtype, list(bad))
    assert np.all(np.isfinite(r[[i for i in range(8) if not want[i]]]))
    with pytest.raises(ValueError, match=r"batch index \(1,\)"):
        f(x, y, lab)


def test_a_sum_of_plus_and_minus_infinite_losses_is_nan():
    """Negative class weights can make one row's loss -inf and another's +inf: their sum is
    NaN (as NumPy and PyTorch give), not an error from the exact summation."""
    x = np.array([[0.0, -np.inf], [-np.inf, 0.0]])
    r = fastinfo.softmax_cross_entropy(x, np.array([0, 1]), weight=[1.0, -1.0], label_smoothing=1.0,
                                       reduction="none")
    assert np.isinf(r).all() and r[0] == -r[1]
    for reduction in ("sum", "mean"):
        assert np.isnan(fastinfo.softmax_cross_entropy(x, np.array([0, 1]), weight=[1.0, -1.0],
                                                       label_smoothing=1.0, reduction=reduction))
