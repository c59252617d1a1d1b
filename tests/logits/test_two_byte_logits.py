"""bfloat16 and float16 logits, read natively (no float32 copy), against float64 oracles.

Every 2-byte value is exactly representable in float64, so the oracle is PyTorch (or
mpmath) in float64 on the same values; the kernels compute in float32 and accumulate in
float64, and the results must be within 1e-6 relative (plus a tiny absolute floor for
results that are themselves ~0).
"""
import tracemalloc

import ml_dtypes
import mpmath
import numpy as np
import pytest
from scipy import special

import fastinfo as fi

torch = pytest.importorskip("torch")
F = torch.nn.functional

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
RTOL = 1e-6


def _logits(shape, dtype, seed=0, scale=4.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def _close(got, want, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                               rtol=rtol, atol=atol)


def _oracles(x, y, labels, T):
    X, Y = _t(x) / T, _t(y) / T
    lp, lq = F.log_softmax(X, -1), F.log_softmax(Y, -1)
    p, q = lp.exp(), lq.exp()
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        js = 0.5 * (torch.where(p > 0, p * (lp - m.log()), 0).sum(-1) + torch.where(q > 0, q * (lq - m.log()), 0).sum(-1))
    return {
        "logsumexp": torch.logsumexp(_t(x), -1),
        "softmax_entropy": -(torch.where(p > 0, p * lp, 0)).sum(-1),
        "softmax_cross_entropy": F.cross_entropy(X, torch.from_numpy(labels), reduction="none"),
        "softmax_kl_divergence": torch.where(p > 0, p * (lp - lq), 0).sum(-1),
        "softmax_js_divergence": js,
        "softmax": p,
        "log_softmax": lp,
    }


def _ours(x, y, labels, T):
    kw = {} if T == 1.0 else {"temperature": T}
    return {
        "logsumexp": fi.logsumexp(x),
        "softmax_entropy": fi.softmax_entropy(x, **kw),
        "softmax_cross_entropy": fi.softmax_cross_entropy(x, labels, **kw),
        "softmax_kl_divergence": fi.softmax_kl_divergence(x, y, **kw),
        "softmax_js_divergence": fi.softmax_js_divergence(x, y, **kw),
        "softmax": fi.softmax(x, **kw),
        "log_softmax": fi.log_softmax(x, **kw),
    }


@pytest.mark.parametrize("dtype", [BF16, F16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("K", [1, 2, 15, 16, 17, 33, 1000, 8192 + 21])
@pytest.mark.parametrize("T", [1.0, 2.0])
def test_every_logit_function_against_float64(dtype, K, T):
    x, y = _logits((5, K), dtype, 1), _logits((5, K), dtype, 2)
    labels = np.random.default_rng(3).integers(0, K, size=5)
    ours, want = _ours(x, y, labels, T), _oracles(x, y, labels, T)
    for name, got in ours.items():
        assert got.dtype == np.float32, name
        w = want[name].numpy()
        if name in ("softmax", "log_softmax"):
            if T == 1.0:     # float32 outputs: one float32 rounding
                _close(got, w, rtol=3e-7 * (1 + np.log(K)), atol=1e-37 if name == "softmax" else 1e-6)
            continue
        _close(got, w, atol=1e-12 if name != "softmax_js_divergence" else 1e-10)


@pytest.mark.parametrize("dtype", [BF16, F16], ids=["bfloat16", "float16"])
def test_same_results_as_the_float32_values(dtype):
    """2-byte logits widen exactly: the results equal those of the same values in float32 --
    bfloat16 logits of the functions whose exp sums take the even and the odd elements of a
    step in two vectors (all but the divergences) to the rounding of those sums."""
    x, y = _logits((7, 513), dtype, 4), _logits((7, 513), dtype, 5)
    labels = np.arange(7) * 11
    a, b = _ours(x, y, labels, 1.0), _ours(x.astype(np.float32), y.astype(np.float32), labels, 1.0)
    for name in a:
        if dtype == F16 or name in ("softmax_kl_divergence", "softmax_js_divergence"):
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        else:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-30, err_msg=name)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_long_bfloat16_rows_take_their_own_maxima(n_threads):
    """Long contiguous bfloat16 rows begin the next row's maximum in the previous row's pass 2:
    each row must still get its own. Each row's maximum is distinct and lies in the part that
    the previous row sees (the first block) or in the part left to the row's own pass 1 (the
    last block); some rows are all negative (the other branch of the 16-bit maximum), some
    carry -inf, and ignored labels skip rows whose maximum was begun. The results are the float64
    oracle's within 1e-6 and those of the same values in float32 to its rounding; a strided view
    of the same values gives the same bits."""
    rng = np.random.default_rng(7)
    N, K = 19, 3 * 8192 + 37
    x = (rng.standard_normal((N, K)) * 3).astype(BF16)
    for r in range(N):
        x[r, (r * 977) % 8192 if r % 2 else K - 1 - r] = 20.0 + r / 4      # distinct maxima
    # every logit far below the others' (a maximum taken from another row makes it -inf), after
    # an ignored row (row 2; and on two threads, taking rows in turn, row 4 after row 2)
    x[[3, 4]] = -np.abs(x[[3, 4]].astype(np.float32)) - 200
    x[5, ::3] = -np.inf
    labels = np.arange(N) * 101
    labels[[2, 8, 9]] = -100                                           # ignored rows
    x32, x64 = x.astype(np.float32), x.astype(np.float64)
    strided = np.repeat(x, 2, axis=1)[:, ::2]              # the same values, stride 2
    lse = special.logsumexp(x64, axis=-1)
    want = {"logsumexp": lse, "softmax_entropy": np.sum(special.entr(special.softmax(x64, axis=-1)), axis=-1),
            "softmax_cross_entropy": np.where(labels < 0, 0.0, lse - x64[np.arange(N), np.maximum(labels, 0)])}
    for f, args in ((fi.logsumexp, {"axis": -1}), (fi.softmax_entropy, {}),
                    (fi.softmax_cross_entropy, {"target": labels, "ignore_index": -100, "reduction": "none"})):
        got = f(x, n_threads=n_threads, **args)
        _close(got, want[f.__name__], rtol=1e-6, atol=1e-6)
        _close(got, f(x32, n_threads=n_threads, **args), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(got, f(strided, n_threads=n_threads, **args), err_msg=f.__name__)
    # the same rows one at a time (no next row)
    np.testing.assert_array_equal(fi.logsumexp(x, axis=-1, n_threads=n_threads),
                                  [fi.logsumexp(x[r]) for r in range(N)])


def test_float16_special_values_widen_exactly():
    bits = np.array([0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x8001, 0x8000, 0x0000, 0xfc00, 0xc000],
                    dtype=np.uint16)
    x = bits.view(np.float16)              # subnormals, normals, the largest, -0, +0, -inf, -2
    got = fi.logsumexp(x)
    want = mpmath.log(sum(mpmath.exp(mpmath.mpf(float(v))) for v in x.astype(np.float64)))
    assert abs(float(got) - float(want)) <= 1e-6 * abs(float(want))
    # the float32 path on the same values (NumPy's conversion) agrees bit for bit
    assert got == fi.logsumexp(x.astype(np.float32))


@pytest.mark.parametrize("dtype", [BF16, F16], ids=["bfloat16", "float16"])
def test_invalid_rows_named_and_masks_honoured(dtype):
    x = _logits((4, 40), dtype)
    x[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"batch index \(1,\)"):
        fi.softmax_entropy(x)
    assert np.isnan(fi.softmax_entropy(x, invalid="nan")[1])
    x = _logits((3, 40), dtype)
    x[:, ::2] = -np.inf
    want = _oracles(x, x, np.array([1, 3, 5]), 1.0)
    _close(fi.softmax_cross_entropy(x, np.array([1, 3, 5])), want["softmax_cross_entropy"].numpy())
    assert np.all(np.isinf(fi.softmax_cross_entropy(x, np.array([0, 2, 4]))))


@pytest.mark.parametrize("dtype", [BF16, F16], ids=["bfloat16", "float16"])
def test_strided_and_batched_two_byte_logits(dtype):
    x = _logits((3, 4, 200), dtype)
    got = fi.softmax_entropy(x[:, :, ::3])
    want = fi.softmax_entropy(np.ascontiguousarray(x[:, :, ::3]).astype(np.float64))
    _close(got, want)
    _close(fi.logsumexp(x, axis=1), fi.logsumexp(x.astype(np.float64), axis=1))


@pytest.mark.parametrize("dtype", [BF16, F16], ids=["bfloat16", "float16"])
def test_no_float32_copy_of_the_logits(dtype):
    x = _logits((512, 4096), dtype)             # 4 MB; a float32 copy would be 8 MB
    labels = np.zeros(512, dtype=np.int64)
    fi.softmax_cross_entropy(x, labels)         # warm up
    tracemalloc.start()
    try:
        fi.softmax_cross_entropy(x, labels)
        fi.softmax_entropy(x, temperature=2.0)
        fi.logsumexp(x, axis=0)                 # a non-contiguous class axis
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes // 2, peak


def test_torch_two_byte_tensors_in_float32_tensors_out():
    x = torch.from_numpy(_logits((6, 300), np.float32)).to(torch.bfloat16)
    labels = torch.arange(6)
    got = fi.softmax_cross_entropy(x, labels)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    want = F.cross_entropy(x.double(), labels, reduction="none")
    _close(got.numpy(), want.numpy())
    h = fi.softmax_entropy(x.half())
    assert isinstance(h, torch.Tensor) and h.dtype == torch.float32
    _close(h.numpy(), fi.softmax_entropy(x.half().double()).numpy())


@pytest.mark.parametrize("sign", ["mixed", "negative", "positive"])
@pytest.mark.parametrize("K", [1, 31, 32, 63, 64, 65, 127, 128, 129, 1000, 8192 + 65])
def test_bfloat16_max_of_any_signs(sign, K):
    # the max of a bfloat16 row is taken on its bits: signed zeros, rows that are all
    # negative (whose max has the smallest magnitude), subnormals, every tail length
    rng = np.random.default_rng(K)
    mag = np.exp(rng.uniform(-95, 4, size=(6, K)))           # 1e-41 .. 55: subnormals too
    s = {"mixed": rng.choice([-1.0, 1.0], size=(6, K)), "negative": -1.0, "positive": 1.0}[sign]
    x = (mag * s).astype(BF16)
    x[1, rng.integers(0, K)] = -0.0
    x[2, rng.integers(0, K)] = 0.0 if sign != "negative" else -0.0
    x[3, :] = x[3, :] if K < 3 else np.where(np.arange(K) % 3 == 0, -np.inf, x[3, :])
    if K > 1:
        x[4, rng.integers(0, K)] = -np.inf
    x64 = x.astype(np.float64)
    _close(fi.logsumexp(x), torch.logsumexp(_t(x), -1).numpy())
    _close(fi.softmax_entropy(x), fi.softmax_entropy(x64))
    labels = rng.integers(0, K, size=6)
    finite = np.isfinite(x64[np.arange(6), labels])
    got = fi.softmax_cross_entropy(x, labels, reduction="none")
    want = F.cross_entropy(_t(x), torch.from_numpy(labels), reduction="none").numpy()
    _close(got[finite], want[finite])


@pytest.mark.parametrize("K", [1, 40, 64, 1000])
def test_bfloat16_negative_nan_anywhere(K):
    # a NaN with its sign bit set sits among the negative numbers' bits
    neg_nan = np.array([0xFFC1], dtype=np.uint16).view(BF16)[0]
    rng = np.random.default_rng(1)
    for base in (-np.abs(_logits((K,), BF16, 2)).astype(BF16), _logits((K,), BF16, 3),
                 np.full(K, -np.inf, dtype=BF16)):
        for j in {0, K // 2, K - 1}:
            x = base.copy()
            x[j] = neg_nan
            assert np.isnan(fi.logsumexp(x, invalid="nan")), (j, base[:3])
            assert np.isnan(fi.softmax_entropy(x, invalid="nan"))
            assert np.isnan(fi.softmax_cross_entropy(x, int(rng.integers(0, K)), invalid="nan"))
